/*
 * belfryctl: the client.  Admin commands (status, reload, get, post, put,
 * delete, trigger, schedules, runs, deliveries, sources, backup) talk to belfryd
 * over its admin socket; offline commands (check, preview, tzinfo) work
 * without a daemon.  Each command is an
 * entry in ctl_cmds.
 *
 * Exit status: 0 on success (a 2xx answer), 1 on failure (an error answer,
 * whose body goes to stderr, or no daemon), 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scheduler/scheduler.h"
#include "tz/tz.h"

#define CTL_SOCKET "/run/belfry/admin.sock"

/* Command flags. */
#define CTL_TZ 0x1     /* needs the zone rules (tz_init) */

struct ctl_cmd {
	const char *name;
	const char *usage;
	int (*exec)(int argc, char **argv, char **cause);
	int flags;
};

static int ctl_preview(int, char **, char **);
static int ctl_tzinfo(int, char **, char **);
static int ctl_check(int, char **, char **);
static int ctl_status(int, char **, char **);
static int ctl_reload(int, char **, char **);
static int ctl_method(int, char **, char **);
static int ctl_trigger(int, char **, char **);
static int ctl_schedules(int, char **, char **);
static int ctl_runs(int, char **, char **);
static int ctl_deliveries(int, char **, char **);
static int ctl_sources(int, char **, char **);
static int ctl_backup(int, char **, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", "[-s SOCKET] status", ctl_status, 0 },
	{ "reload", "[-s SOCKET] reload", ctl_reload, 0 },
	{ "get", "[-s SOCKET] get PATH", ctl_method, 0 },
	{ "post", "[-s SOCKET] post PATH [JSON|-]", ctl_method, 0 },
	{ "put", "[-s SOCKET] put PATH [JSON|-]", ctl_method, 0 },
	{ "delete", "[-s SOCKET] delete PATH [JSON|-]", ctl_method, 0 },
	{ "trigger", "[-s SOCKET] trigger KEY --recipients ID[,ID...] "
	    "[--data JSON] [--actor ID] [--tenant ID] "
	    "[--cancellation-key KEY]", ctl_trigger, 0 },
	{ "schedules", "[-s SOCKET] schedules [--workflow KEY]",
	    ctl_schedules, CTL_TZ },
	{ "runs", "[-s SOCKET] runs [--schedule ID] [--workflow KEY] "
	    "[--recipient ID]", ctl_runs, 0 },
	{ "deliveries", "[-s SOCKET] deliveries [--failed] [--message ID]",
	    ctl_deliveries, 0 },
	{ "sources", "[-s SOCKET] sources [KEY [--outcome OUTCOME]]",
	    ctl_sources, 0 },
	{ "backup", "[-s SOCKET] backup FILE", ctl_backup, 0 },
	{ "check", "check -c CONFIG_DIR", ctl_check, CTL_TZ },
	{ "preview", "preview (--rrule RULE | --repeats JSON) --dtstart "
	    "YYYY-MM-DDTHH:MM:SS --tz ZONE [--count N] [--after "
	    "YYYY-MM-DDTHH:MM:SSZ] [--dst-gap shift|next_valid|skip] "
	    "[--dst-overlap first|last] [--exdate LIST] [--rdate LIST] "
	    "[--local] | [-s SOCKET] preview --schedule ID [--count N] "
	    "[--local]",
	    ctl_preview, CTL_TZ },
	{ "tzinfo", "tzinfo [--at YYYY-MM-DDTHH:MM:SSZ] [ZONE]", ctl_tzinfo,
	    CTL_TZ },
};

/* The admin socket: -s, else $BELFRY_SOCKET, else the default. */
static const char *ctl_socket;

/* Set when a command fails by the daemon's answer (exit 1, message out). */
static int ctl_answered;

/* Print the usage of every command. */
static void
ctl_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: belfryctl COMMAND [ARGS]\n");
	for (i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++)
		fprintf(f, "  belfryctl %s\n", ctl_cmds[i].usage);
}

/* Print a body with exactly one trailing newline (nothing if empty). */
static void
ctl_print(FILE *f, const char *body)
{
	size_t len = strlen(body);

	if (len == 0)
		return;
	fputs(body, f);
	if (body[len - 1] != '\n')
		fputc('\n', f);
}

/*
 * Send one request and print the answer: the body on stdout for a 2xx,
 * on stderr otherwise (then -1 with ctl_answered set).
 */
static int
ctl_send(const char *method, const char *path, const char *body,
    char **cause)
{
	char *reply = NULL;
	int status;

	if (client_request(ctl_socket, method, path, body, &status, &reply,
	    cause) != 0)
		return -1;
	if (status >= 200 && status < 300) {
		ctl_print(stdout, reply);
		free(reply);
		return 0;
	}
	if (reply[0] == '\0')
		fprintf(stderr, "belfryctl: HTTP %d\n", status);
	else
		ctl_print(stderr, reply);
	free(reply);
	ctl_answered = 1;
	return -1;
}

/* Read all of standard input (for a JSON argument of "-"). */
static char *
ctl_stdin(void)
{
	size_t cap = 65536, n = 0, r;
	char *buf = xmalloc(cap);

	while ((r = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
		n += r;
		if (cap - n < 4096) {
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	buf[n] = '\0';
	return buf;
}

/* belfryctl status: GET /admin/status. */
static int
ctl_status(int argc, char **argv, char **cause)
{
	(void)argv;
	if (argc != 1) {
		*cause = xstrdup("usage: belfryctl status");
		return -1;
	}
	return ctl_send("GET", "/admin/status", NULL, cause);
}

/* belfryctl reload: POST /admin/reload; the config errors, one a line. */
static int
ctl_reload(int argc, char **argv, char **cause)
{
	char *reply = NULL;
	json_t *j, *m;
	int status;

	(void)argv;
	if (argc != 1) {
		*cause = xstrdup("usage: belfryctl reload");
		return -1;
	}
	if (client_request(ctl_socket, "POST", "/admin/reload", NULL, &status,
	    &reply, cause) != 0)
		return -1;
	if (status >= 200 && status < 300) {
		ctl_print(stdout, reply);
		free(reply);
		return 0;
	}
	j = json_loads(reply, 0, NULL);
	m = json_object_get(j, "message");
	if (json_is_string(m))
		ctl_print(stderr, json_string_value(m));
	else
		ctl_print(stderr, reply);
	json_decref(j);
	free(reply);
	ctl_answered = 1;
	return -1;
}

/*
 * belfryctl backup FILE: POST /admin/backup with FILE made absolute; the
 * answer comes once the copy is complete.
 */
static int
ctl_backup(int argc, char **argv, char **cause)
{
	char cwd[4096], *path, *body;
	json_t *j;
	int rc;

	if (argc != 2 || argv[1][0] == '\0') {
		*cause = xstrdup("usage: belfryctl backup FILE");
		return -1;
	}
	if (argv[1][0] == '/')
		path = xstrdup(argv[1]);
	else if (getcwd(cwd, sizeof cwd) != NULL)
		path = xasprintf("%s/%s", cwd, argv[1]);
	else {
		*cause = xstrdup("backup: cannot tell the current directory; "
		    "give FILE as an absolute path");
		return -1;
	}
	j = json_pack("{s:s}", "path", path);
	body = eng_json_dumps(j, JSON_COMPACT);
	json_decref(j);
	rc = ctl_send("POST", "/admin/backup", body, cause);
	free(body);
	free(path);
	return rc;
}

/* belfryctl get|post|put|delete PATH [JSON]: one request. */
static int
ctl_method(int argc, char **argv, char **cause)
{
	const char *method;
	char *body = NULL;
	int rc;

	if (strcmp(argv[0], "get") == 0)
		method = "GET";
	else if (strcmp(argv[0], "post") == 0)
		method = "POST";
	else if (strcmp(argv[0], "put") == 0)
		method = "PUT";
	else
		method = "DELETE";
	if (argc < 2 || argc > 3 || (argc == 3 && *method == 'G') ||
	    argv[1][0] != '/') {
		*cause = xasprintf("usage: belfryctl %s PATH%s", argv[0],
		    *method == 'G' ? "" : " [JSON|-]");
		return -1;
	}
	if (argc == 3)
		body = strcmp(argv[2], "-") == 0 ? ctl_stdin() :
		    xstrdup(argv[2]);
	rc = ctl_send(method, argv[1], body, cause);
	free(body);
	return rc;
}

/* belfryctl trigger KEY --recipients ...: POST .../trigger. */
static int
ctl_trigger(int argc, char **argv, char **cause)
{
	static const struct option longopts[] = {
		{ "recipients", required_argument, NULL, 'r' },
		{ "data", required_argument, NULL, 'd' },
		{ "actor", required_argument, NULL, 'a' },
		{ "tenant", required_argument, NULL, 't' },
		{ "cancellation-key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	const char *recipients = NULL, *key;
	json_t *body = json_object(), *list, *data;
	json_error_t jerr;
	char *copy, *id, *save = NULL, *path, *text, *esc;
	int ch, rc = -1;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			recipients = optarg;
			break;
		case 'd':
			data = json_loads(optarg, 0, &jerr);
			if (data == NULL || !json_is_object(data)) {
				*cause = data == NULL ? xasprintf("--data: "
				    "invalid JSON at column %d: %s",
				    jerr.column, jerr.text) :
				    xstrdup("--data: expected a JSON object");
				json_decref(data);
				goto out;
			}
			json_object_set_new(body, "data", data);
			break;
		case 'a':
			json_object_set_new(body, "actor", json_string(optarg));
			break;
		case 't':
			json_object_set_new(body, "tenant",
			    json_string(optarg));
			break;
		case 'k':
			json_object_set_new(body, "cancellation_key",
			    json_string(optarg));
			break;
		default:
			*cause = xasprintf("trigger: unknown or incomplete "
			    "option \"%s\"", argv[optind - 1]);
			goto out;
		}
	}
	if (optind != argc - 1 || recipients == NULL) {
		*cause = xstrdup("usage: belfryctl trigger KEY --recipients "
		    "ID[,ID...] [--data JSON] [--actor ID] [--tenant ID] "
		    "[--cancellation-key KEY]");
		goto out;
	}
	key = argv[optind];
	list = json_array();
	copy = xstrdup(recipients);
	for (id = strtok_r(copy, ",", &save); id != NULL;
	    id = strtok_r(NULL, ",", &save))
		json_array_append_new(list, json_string(id));
	free(copy);
	json_object_set_new(body, "recipients", list);
	esc = client_path_escape(key);
	path = xasprintf("/v1/workflows/%s/trigger", esc);
	text = eng_json_dumps(body, JSON_COMPACT);
	rc = ctl_send("POST", path, text, cause);
	free(text);
	free(path);
	free(esc);
out:
	json_decref(body);
	return rc;
}

/*
 * Warn, on stderr, of the schedules a running belfryd keeps for workflows
 * configuration c lacks: they would fail once c is loaded.  Silent when no
 * daemon answers on the socket.
 */
static void
ctl_check_orphans(const struct eng_config *c)
{
	char *reply = NULL, *cause = NULL;
	json_t *j, *n;
	const char *key;
	int status;

	if (client_request(ctl_socket, "GET", "/admin/schedules/workflows",
	    NULL, &status, &reply, &cause) != 0 || status != 200) {
		free(cause);
		free(reply);
		return;
	}
	j = json_loads(reply, 0, NULL);
	json_object_foreach(json_object_get(j, "workflows"), key, n) {
		if (!eng_config_has_workflow(c, key))
			fprintf(stderr, "warning: workflow \"%s\" is not in this "
			    "configuration: %lld stored schedules of %s use it "
			    "and would fail\n", key,
			    (long long)json_integer_value(n), ctl_socket);
	}
	json_decref(j);
	free(reply);
}

/* belfryctl check -c DIR: load the configuration as belfryd would. */
static int
ctl_check(int argc, char **argv, char **cause)
{
	struct eng_config *c;

	if (argc != 3 || strcmp(argv[1], "-c") != 0) {
		*cause = xstrdup("usage: belfryctl check -c CONFIG_DIR");
		return -1;
	}
	if ((c = eng_config_load(argv[2], cause)) == NULL) {
		/* The error alone, as file:line:column: message. */
		fprintf(stderr, "%s\n", *cause);
		ctl_answered = 1;
		return -1;
	}
	ctl_check_orphans(c);
	eng_config_free(c);
	puts("ok");
	return 0;
}

/* Parse a positive count of at most 100000. */
static int
ctl_parse_count(const char *s, int *n)
{
	char *end;
	long v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 100000)
		return -1;
	*n = (int)v;
	return 0;
}

/* The options of preview, gathered before any work starts. */
struct ctl_preview_opts {
	const char *rrule, *repeats, *dtstart, *zone, *after;
	const char *exdate, *rdate, *schedule;
	int count, local;
	enum tz_gap gap;
	enum tz_overlap overlap;
};

/* Read preview's options into o; -1 with *cause on a bad one. */
static int
ctl_preview_args(int argc, char **argv, struct ctl_preview_opts *o,
    char **cause)
{
	static const struct option longopts[] = {
		{ "rrule", required_argument, NULL, 'r' },
		{ "repeats", required_argument, NULL, 'R' },
		{ "dtstart", required_argument, NULL, 's' },
		{ "tz", required_argument, NULL, 'z' },
		{ "count", required_argument, NULL, 'n' },
		{ "after", required_argument, NULL, 'a' },
		{ "dst-gap", required_argument, NULL, 'g' },
		{ "dst-overlap", required_argument, NULL, 'o' },
		{ "exdate", required_argument, NULL, 'x' },
		{ "rdate", required_argument, NULL, 'd' },
		{ "schedule", required_argument, NULL, 'S' },
		{ "local", no_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof *o);
	o->count = 10;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o->rrule = optarg; break;
		case 'R': o->repeats = optarg; break;
		case 's': o->dtstart = optarg; break;
		case 'z': o->zone = optarg; break;
		case 'a': o->after = optarg; break;
		case 'x': o->exdate = optarg; break;
		case 'd': o->rdate = optarg; break;
		case 'S': o->schedule = optarg; break;
		case 'l': o->local = 1; break;
		case 'n':
			if (ctl_parse_count(optarg, &o->count) != 0) {
				*cause = xasprintf("bad --count \"%s\" (expected "
				    "1..100000)", optarg);
				return -1;
			}
			break;
		case 'g':
			if (tz_gap_parse(optarg, &o->gap) != 0) {
				*cause = xasprintf("bad --dst-gap \"%s\" "
				    "(expected shift, next_valid or skip)",
				    optarg);
				return -1;
			}
			break;
		case 'o':
			if (tz_overlap_parse(optarg, &o->overlap) != 0) {
				*cause = xasprintf("bad --dst-overlap \"%s\" "
				    "(expected first or last)", optarg);
				return -1;
			}
			break;
		default:
			*cause = xasprintf("preview: unknown or incomplete "
			    "option \"%s\"", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc) {
		*cause = xasprintf("preview: unexpected argument \"%s\"",
		    argv[optind]);
		return -1;
	}
	if (o->schedule != NULL) {
		if (o->rrule || o->repeats || o->dtstart || o->zone ||
		    o->after || o->exdate || o->rdate) {
			*cause = xstrdup("preview: --schedule takes only "
			    "--count");
			return -1;
		}
		return 0;
	}
	if ((o->rrule == NULL) == (o->repeats == NULL)) {
		*cause = xstrdup("preview: give one of --rrule or --repeats");
		return -1;
	}
	if (o->dtstart == NULL || o->zone == NULL) {
		*cause = xstrdup("preview: --dtstart and --tz are required");
		return -1;
	}
	return 0;
}

/* GET path from the daemon as JSON; NULL with *cause (or the answer out). */
static json_t *
ctl_get_json(const char *path, char **cause)
{
	char *reply = NULL;
	json_t *j;
	int status;

	if (client_request(ctl_socket, "GET", path, NULL, &status, &reply,
	    cause) != 0)
		return NULL;
	if (status != 200) {
		ctl_print(stderr, reply);
		free(reply);
		ctl_answered = 1;
		return NULL;
	}
	j = json_loads(reply, 0, NULL);
	free(reply);
	if (j == NULL)
		*cause = xstrdup("the daemon's answer is not JSON");
	return j;
}

/*
 * Instant t as a local time in zone z with its weekday and offset, as
 * "Mon 2026-03-02 09:00:00 +01:00".
 */
static void
ctl_local(struct tz_zone *z, int64_t t, char *buf, size_t len)
{
	static const char *days[] = { "Mon", "Tue", "Wed", "Thu", "Fri",
		"Sat", "Sun" };
	struct tz_wall w;
	int64_t d;
	int off = 0;

	if (tz_to_wall(z, t, &w) != 0 || tz_offset_at(z, t, &off) != 0) {
		tz_instant_format(t, buf, len);
		return;
	}
	d = tz_days_from_civil(w.year, w.month, w.day);
	snprintf(buf, len, "%s %04d-%02d-%02d %02d:%02d:%02d %c%02d:%02d",
	    days[((d + 3) % 7 + 7) % 7], w.year, w.month, w.day, w.hour,
	    w.minute, w.second, off < 0 ? '-' : '+', abs(off) / 3600,
	    abs(off) / 60 % 60);
}

/*
 * belfryctl preview --schedule ID: a stored schedule's next fires, from the
 * daemon, as "# RECIPIENT ZONE" and then one instant a line per recipient.
 */
static int
ctl_preview_schedule(const struct ctl_preview_opts *o, char **cause)
{
	char *id = client_path_escape(o->schedule), *path, local[48];
	struct tz_zone *z;
	json_t *j, *r, *t;
	int64_t at;
	size_t i, k;

	path = xasprintf("/v1/schedules/%s/preview?count=%d", id, o->count);
	free(id);
	j = ctl_get_json(path, cause);
	free(path);
	if (j == NULL)
		return -1;
	json_array_foreach(json_object_get(j, "recipients"), i, r) {
		t = json_object_get(r, "recipient");
		if (json_is_string(t))
			printf("# %s", json_string_value(t));
		else
			printf("# %s/%s", json_string_value(json_object_get(t,
			    "collection")), json_string_value(
			    json_object_get(t, "id")));
		printf(" %s\n", json_string_value(json_object_get(r,
		    "timezone")));
		z = o->local ? tz_zone_get(json_string_value(json_object_get(r,
		    "timezone")), cause) : NULL;
		if (o->local && z == NULL) {
			json_decref(j);
			return -1;
		}
		json_array_foreach(json_object_get(r, "fires"), k, t) {
			if (z == NULL || tz_instant_parse(json_string_value(t),
			    &at) != 0) {
				puts(json_string_value(t));
				continue;
			}
			ctl_local(z, at, local, sizeof local);
			printf("%s  %s\n", json_string_value(t), local);
		}
	}
	json_decref(j);
	return 0;
}

/* A recipient (an id, or an entity) as "id" or "collection/id". */
static void
ctl_rcpt(json_t *r, char *buf, size_t len)
{
	const char *coll = json_string_value(json_object_get(r,
	    "collection"));

	if (json_is_string(r)) {
		snprintf(buf, len, "%s", json_string_value(r));
		return;
	}
	snprintf(buf, len, "%s%s%s", coll ? coll : "", coll ? "/" : "",
	    json_string_value(json_object_get(r, "id")));
}

/* Time from now to t as systemctl list-timers says it ("1 day 3h"). */
static void
ctl_left(int64_t now, int64_t t, char *buf, size_t len)
{
	int64_t d = t - now;

	if (d < 0)
		snprintf(buf, len, "due");
	else if (d >= 86400)
		snprintf(buf, len, "%lld day%s %lldh", (long long)(d / 86400),
		    d >= 2 * 86400 ? "s" : "", (long long)(d % 86400 / 3600));
	else if (d >= 3600)
		snprintf(buf, len, "%lldh %lldmin", (long long)(d / 3600),
		    (long long)(d % 3600 / 60));
	else if (d >= 60)
		snprintf(buf, len, "%lldmin %llds", (long long)(d / 60),
		    (long long)(d % 60));
	else
		snprintf(buf, len, "%llds", (long long)d);
}

/* The daemon's clock (the virtual one under --virtual-clock); -1 on error. */
static int
ctl_daemon_now(int64_t *now, char **cause)
{
	json_t *j = ctl_get_json("/admin/status", cause);
	int rc;

	if (j == NULL)
		return -1;
	rc = tz_instant_parse(json_string_value(json_object_get(j, "now")) ?
	    json_string_value(json_object_get(j, "now")) : "", now);
	json_decref(j);
	if (rc != 0)
		*cause = xstrdup("the daemon's status has no \"now\"");
	return rc;
}

/* One line of belfryctl schedules for Schedule sc, at the daemon's now. */
static void
ctl_schedule_line(json_t *sc, int64_t now)
{
	const char *zone = json_string_value(json_object_get(sc,
	    "effective_timezone"));
	json_t *next = json_object_get(sc, "next_occurrence_at");
	json_t *last = json_object_get(sc, "last_occurrence_at");
	char rc_buf[300], local[48] = "-", left[32] = "-", *cause = NULL;
	struct tz_zone *z = zone ? tz_zone_get(zone, &cause) : NULL;
	int64_t t;

	free(cause);
	if (json_is_string(next) && tz_instant_parse(json_string_value(next),
	    &t) == 0 && z != NULL) {
		ctl_local(z, t, local, sizeof local);
		ctl_left(now, t, left, sizeof left);
	} else if (json_is_true(json_object_get(sc, "paused")))
		snprintf(local, sizeof local, "paused");
	ctl_rcpt(json_object_get(sc, "recipient"), rc_buf, sizeof rc_buf);
	printf("%-30s %-12s %-20s %7lld %-20s %-36s %-20s %s\n", local, left,
	    json_is_string(last) ? json_string_value(last) : "-",
	    (long long)json_integer_value(json_object_get(sc,
	    "skipped_count")), zone ? zone : "-", json_string_value(
	    json_object_get(sc, "id")), json_string_value(json_object_get(sc,
	    "workflow")), rc_buf);
}

/*
 * belfryctl schedules: every schedule, as systemctl list-timers shows
 * timers: the next fire in the recipient's local time with its weekday,
 * the time left, the last fire, the skipped occurrences.
 */
static int
ctl_schedules(int argc, char **argv, char **cause)
{
	char *after = NULL, *path, *wf = NULL;
	json_t *j, *e, *v;
	int64_t now;
	size_t i;

	if (argc == 3 && strcmp(argv[1], "--workflow") == 0)
		wf = client_path_escape(argv[2]);
	else if (argc != 1) {
		*cause = xstrdup("usage: belfryctl schedules [--workflow KEY]");
		return -1;
	}
	if (ctl_daemon_now(&now, cause) != 0) {
		free(wf);
		return -1;
	}
	printf("%-30s %-12s %-20s %7s %-20s %-36s %-20s %s\n", "NEXT", "LEFT",
	    "LAST", "SKIPPED", "ZONE", "ID", "WORKFLOW", "RECIPIENT");
	do {
		path = xasprintf("/v1/schedules?page_size=1000%s%s%s%s",
		    wf ? "&workflow=" : "", wf ? wf : "", after ? "&after=" :
		    "", after ? after : "");
		free(after);
		after = NULL;
		j = ctl_get_json(path, cause);
		free(path);
		if (j == NULL) {
			free(wf);
			return -1;
		}
		json_array_foreach(json_object_get(j, "entries"), i, e)
			ctl_schedule_line(e, now);
		v = json_object_get(json_object_get(j, "page_info"), "after");
		if (json_is_string(v))
			after = xstrdup(json_string_value(v));
		json_decref(j);
	} while (after != NULL);
	free(wf);
	return 0;
}

/*
 * belfryctl runs [--schedule ID] [--workflow KEY] [--recipient ID]: the
 * workflow recipient runs, newest first.
 */
static int
ctl_runs(int argc, char **argv, char **cause)
{
	static const char *const opts[][2] = { { "--schedule", "schedule_id" },
		{ "--workflow", "workflow" }, { "--recipient", "recipient" } };
	char *q = xstrdup(""), *after = NULL, *path, *x, *esc, rc_buf[300];
	json_t *j, *e, *src, *at;
	size_t i, k;
	int a;

	for (a = 1; a < argc; a += 2) {
		for (k = 0; k < 3 && strcmp(argv[a], opts[k][0]) != 0; k++)
			;
		if (k == 3 || a + 1 >= argc) {
			free(q);
			*cause = xstrdup("usage: belfryctl runs [--schedule ID] "
			    "[--workflow KEY] [--recipient ID]");
			return -1;
		}
		esc = client_path_escape(argv[a + 1]);
		x = xasprintf("%s&%s=%s", q, opts[k][1], esc);
		free(esc);
		free(q);
		q = x;
	}
	printf("%-36s %-20s %-24s %-10s %-20s %s\n", "ID", "WORKFLOW",
	    "RECIPIENT", "STATUS", "SCHEDULED", "INSERTED");
	do {
		path = xasprintf("/v1/workflow_recipient_runs?page_size=50%s%s%s",
		    q, after ? "&after=" : "", after ? after : "");
		free(after);
		after = NULL;
		j = ctl_get_json(path, cause);
		free(path);
		if (j == NULL) {
			free(q);
			return -1;
		}
		json_array_foreach(json_object_get(j, "items"), i, e) {
			src = json_object_get(e, "trigger_source");
			at = json_object_get(src, "scheduled_at");
			ctl_rcpt(json_object_get(e, "recipient"), rc_buf,
			    sizeof rc_buf);
			printf("%-36s %-20s %-24s %-10s %-20s %s\n",
			    json_string_value(json_object_get(e, "id")),
			    json_string_value(json_object_get(e, "workflow")),
			    rc_buf, json_string_value(json_object_get(e,
			    "status")),
			    json_is_string(at) ? json_string_value(at) : "-",
			    json_string_value(json_object_get(e,
			    "inserted_at")));
		}
		e = json_object_get(json_object_get(j, "page_info"), "after");
		if (json_is_string(e))
			after = xstrdup(json_string_value(e));
		json_decref(j);
	} while (after != NULL);
	free(q);
	return 0;
}

/*
 * belfryctl deliveries [--failed] [--message ID]: delivery attempts,
 * newest first: every message's (only the failed ones with --failed),
 * or one message's.
 */
static int
ctl_deliveries(int argc, char **argv, char **cause)
{
	char *base = NULL, *after = NULL, *path, *esc;
	const char *err;
	json_t *j, *e, *v;
	int failed = 0, all, a;
	size_t i;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--failed") == 0 && !failed)
			failed = 1;
		else if (strcmp(argv[a], "--message") == 0 && a + 1 < argc &&
		    base == NULL) {
			esc = client_path_escape(argv[++a]);
			base = xasprintf("/v1/messages/%s/delivery_logs?", esc);
			free(esc);
		} else {
			free(base);
			*cause = xstrdup("usage: belfryctl deliveries [--failed] "
			    "[--message ID]");
			return -1;
		}
	}
	if ((all = base == NULL))
		base = xstrdup("/admin/deliveries?");
	printf("%-20s %-36s %-16s %7s %-6s %6s %s\n", "TIME", "MESSAGE",
	    "CHANNEL", "ATTEMPT", "RESULT", "MS", "ERROR");
	do {
		path = xasprintf("%spage_size=50%s%s%s", base, failed && all ?
		    "&failed=true" : "", after ? "&after=" : "", after ? after :
		    "");
		free(after);
		after = NULL;
		j = ctl_get_json(path, cause);
		free(path);
		if (j == NULL) {
			free(base);
			return -1;
		}
		json_array_foreach(json_object_get(j, "items"), i, e) {
			err = json_string_value(json_object_get(e, "error"));
			if (failed && err == NULL)
				continue;
			printf("%-20s %-36s %-16s %7lld %-6s %6lld %s\n",
			    json_string_value(json_object_get(e,
			    "inserted_at")), json_string_value(
			    json_object_get(e, "message_id")),
			    json_string_value(json_object_get(e, "channel_id")),
			    (long long)json_integer_value(json_object_get(e,
			    "attempt")), json_string_value(json_object_get(e,
			    "result")), (long long)json_integer_value(
			    json_object_get(e, "duration_ms")), err ? err : "-");
		}
		v = json_object_get(json_object_get(j, "page_info"), "after");
		if (json_is_string(v))
			after = xstrdup(json_string_value(v));
		json_decref(j);
	} while (after != NULL);
	free(base);
	return 0;
}

/* A string member of o for a table cell ("-" when absent). */
static const char *
ctl_cell(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "-";
}

/*
 * belfryctl sources: each source with its events counted by outcome;
 * belfryctl sources KEY [--outcome O]: the source's newest events (one
 * page of 50) with their outcome and the run or the reason.
 */
static int
ctl_sources(int argc, char **argv, char **cause)
{
	static const char *const outs[] = { "triggered", "cancelled",
		"identified", "grouped", "duplicate", "unmapped", "failed" };
	char *path, *key, *o = NULL;
	json_t *j, *e, *c;
	size_t i, k;

	if (argc == 1) {
		if ((j = ctl_get_json("/v1/sources", cause)) == NULL)
			return -1;
		printf("%-20s %-12s", "KEY", "TYPE");
		for (k = 0; k < 7; k++)
			printf(" %10s", outs[k]);
		printf("\n");
		json_array_foreach(json_object_get(j, "items"), i, e) {
			printf("%-20s %-12s", ctl_cell(e, "key"),
			    ctl_cell(e, "type"));
			c = json_object_get(e, "counts");
			for (k = 0; k < 7; k++)
				printf(" %10lld", (long long)json_integer_value(
				    json_object_get(c, outs[k])));
			printf("\n");
		}
		json_decref(j);
		return 0;
	}
	if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--outcome") == 0)) {
		*cause = xstrdup("usage: belfryctl sources [KEY [--outcome "
		    "OUTCOME]]");
		return -1;
	}
	key = client_path_escape(argv[1]);
	if (argc == 4)
		o = client_path_escape(argv[3]);
	path = xasprintf("/v1/sources/%s/events%s%s", key, o ? "?outcome=" :
	    "", o ? o : "");
	free(key);
	free(o);
	j = ctl_get_json(path, cause);
	free(path);
	if (j == NULL)
		return -1;
	printf("%-20s %-9s %-24s %-10s %-36s %s\n", "RECEIVED", "TYPE",
	    "EVENT", "OUTCOME", "MESSAGE_ID", "RUN / DETAIL");
	json_array_foreach(json_object_get(j, "items"), i, e) {
		printf("%-20s %-9s %-24s %-10s %-36s %s\n",
		    ctl_cell(e, "received_at"), ctl_cell(e, "type"),
		    ctl_cell(e, "event"), ctl_cell(e, "outcome"),
		    ctl_cell(e, "message_id"), json_is_string(json_object_get(e,
		    "workflow_run_id")) ? ctl_cell(e, "workflow_run_id") :
		    ctl_cell(e, "detail"));
	}
	json_decref(j);
	return 0;
}

/* belfryctl preview: print the next occurrences of a rule, one per line. */
static int
ctl_preview(int argc, char **argv, char **cause)
{
	struct ctl_preview_opts o;
	struct tz_recur *r = NULL;
	struct tz_zone *z;
	struct tz_wall ds, first;
	char *rule = NULL, buf[32], local[48];
	int64_t after, t;
	int i, rc = -1;

	if (ctl_preview_args(argc, argv, &o, cause) != 0)
		return -1;
	if (o.schedule != NULL)
		return ctl_preview_schedule(&o, cause);
	if (tz_wall_parse(o.dtstart, &ds) != 0) {
		*cause = xasprintf("bad --dtstart \"%s\" (expected a local "
		    "time YYYY-MM-DDTHH:MM:SS)", o.dtstart);
		return -1;
	}
	if (o.after != NULL && tz_instant_parse(o.after, &after) != 0) {
		*cause = xasprintf("bad --after \"%s\" (expected "
		    "YYYY-MM-DDTHH:MM:SSZ)", o.after);
		return -1;
	}
	if ((z = tz_zone_get(o.zone, cause)) == NULL)
		return -1;
	if (o.repeats != NULL &&
	    (rule = tz_repeats_to_rrule(o.repeats, cause)) == NULL)
		return -1;
	if ((r = tz_recur_new(rule ? rule : o.rrule, &ds, cause)) == NULL)
		goto out;
	if (o.exdate != NULL && tz_recur_add_dates(r, o.exdate, 1, cause) != 0)
		goto out;
	if (o.rdate != NULL && tz_recur_add_dates(r, o.rdate, 0, cause) != 0)
		goto out;
	if (o.after == NULL) {
		/* From the first occurrence on (an RDATE may precede DTSTART):
		 * any instant before its wall time. */
		first = (struct tz_wall){ 1900, 1, 1, 0, 0, 0 };
		if (tz_recur_next_wall(r, &first, &first) != 0)
			first = ds;
		if (tz_from_wall(z, &first, TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
		    &after) != 0)
			goto out;
		after -= 3 * 86400;
	}
	for (i = 0; i < o.count; i++) {
		rc = tz_recur_next(r, z, o.gap, o.overlap, after, &t);
		if (rc < 0) {
			*cause = xstrdup("preview: time conversion failed");
			goto out;
		}
		if (rc == 1)
			break;
		tz_instant_format(t, buf, sizeof buf);
		if (o.local) {
			ctl_local(z, t, local, sizeof local);
			printf("%s  %s\n", buf, local);
		} else
			puts(buf);
		after = t;
	}
	rc = 0;
out:
	tz_recur_free(r);
	free(rule);
	return rc;
}

/* Format a UTC offset in seconds as +HH:MM (or +HH:MM:SS). */
static void
ctl_offset(int off, char *buf, size_t len)
{
	int a = off < 0 ? -off : off;

	if (a % 60)
		snprintf(buf, len, "%c%02d:%02d:%02d", off < 0 ? '-' : '+',
		    a / 3600, a / 60 % 60, a % 60);
	else
		snprintf(buf, len, "%c%02d:%02d", off < 0 ? '-' : '+',
		    a / 3600, a / 60 % 60);
}

/* belfryctl tzinfo: versions of ICU and the rules; a zone's offsets. */
static int
ctl_tzinfo(int argc, char **argv, char **cause)
{
	char ob[16], oa[16], when[32];
	int64_t now = (int64_t)time(NULL), t;
	struct tz_zone *z;
	int off, before, after, i;

	if (argc >= 3 && strcmp(argv[1], "--at") == 0) {
		if (tz_instant_parse(argv[2], &now) != 0) {
			*cause = xasprintf("bad --at \"%s\" (expected "
			    "YYYY-MM-DDTHH:MM:SSZ)", argv[2]);
			return -1;
		}
		argc -= 2;
		argv += 2;
	}
	if (argc > 2) {
		*cause = xstrdup("usage: belfryctl tzinfo [--at INSTANT] [ZONE]");
		return -1;
	}
	printf("icu: %s\n", tz_icu_version());
	printf("rules: %s (%s)\n", tz_rules_version(), tz_data_dir());
	printf("system tzdata: %s%s\n", tz_system_version(),
	    strcmp(tz_system_version(), tz_rules_version()) != 0 ?
	    " (differs from the rules in use: rebuild them)" : "");
	if (argc < 2)
		return 0;
	if ((z = tz_zone_get(argv[1], cause)) == NULL ||
	    tz_offset_at(z, now, &off) != 0)
		return -1;
	ctl_offset(off, oa, sizeof oa);
	tz_instant_format(now, when, sizeof when);
	printf("zone: %s\n", tz_zone_name(z));
	printf("offset at %s: %s\n", when, oa);
	for (i = 0, t = now; i < 4; i++) {
		if (tz_next_transition(z, t, &t, &before, &after) != 0)
			break;
		ctl_offset(before, ob, sizeof ob);
		ctl_offset(after, oa, sizeof oa);
		tz_instant_format(t, when, sizeof when);
		printf("transition: %s %s -> %s\n", when, ob, oa);
	}
	if (i == 0)
		printf("transition: none\n");
	return 0;
}

/* Run the command named by argv[1] (after an optional -s SOCKET). */
int
main(int argc, char **argv)
{
	const struct ctl_cmd *cmd;
	char *cause = NULL;
	size_t i;
	int rc;

	ctl_socket = getenv("BELFRY_SOCKET");
	if (ctl_socket == NULL || *ctl_socket == '\0')
		ctl_socket = CTL_SOCKET;
	while (argc >= 2 && (strcmp(argv[1], "-s") == 0 ||
	    strcmp(argv[1], "--socket") == 0)) {
		if (argc < 3) {
			ctl_usage(stderr);
			return 2;
		}
		ctl_socket = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		ctl_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++) {
		cmd = &ctl_cmds[i];
		if (strcmp(argv[1], cmd->name) != 0)
			continue;
		rc = 0;
		if ((cmd->flags & CTL_TZ) && tz_init(NULL, &cause) != 0)
			rc = -1;
		if (rc == 0)
			rc = cmd->exec(argc - 1, argv + 1, &cause);
		if (rc != 0 && !ctl_answered)
			fprintf(stderr, "belfryctl: %s\n",
			    cause ? cause : "failed");
		/* A usage error exits 2, any other failure 1. */
		if (rc != 0 && cause != NULL &&
		    (strncmp(cause, "usage:", 6) == 0 ||
		    strstr(cause, "unknown or incomplete option") != NULL))
			rc = 2;
		free(cause);
		if (cmd->flags & CTL_TZ)
			tz_shutdown();
		return rc == 0 ? 0 : rc == 2 ? 2 : 1;
	}
	fprintf(stderr, "belfryctl: unknown command \"%s\" (try --help)\n",
	    argv[1]);
	return 2;
}
