/*
 * Fuzz target: API requests through the route table and the handlers on
 * a real engine -- a temporary SQLite database made once per process,
 * with tests/fuzz/config's workflows, channels and schedules.
 *
 * An input is one or more requests.  A request line "METHOD PATH[?QUERY]"
 * (" tcp" after it: as seen from the TCP listener) starts a request; the
 * lines up to the next request line are its body.  A line "ADVANCE N"
 * moves the clock on by N seconds and runs the work due on the way, as
 * POST /admin/clock does, reporting every delivery it takes done (even
 * ids) or failed (odd ids).  The central checks are belfryd's: route and
 * method, the query string and its parameters, body size, a JSON object
 * body for the routes that take one.
 *
 * Transactions are the daemon's flush: one transaction for the input,
 * each batched request in its own savepoint (kept only if it succeeded),
 * then the work due in a savepoint of its own; inline routes run without
 * a savepoint.  The transaction is rolled back at the end of the input,
 * so every input starts from the same database.
 *
 * Oracles besides the sanitizers: an error carries a cause, a reply is
 * JSON that jansson reads back, and no input makes the store fail (an
 * ENG_INTERNAL answer is a finding: bad input must be refused as such).
 * Ids that replies hand out (schedule, message and run ids) cannot be
 * guessed, so "$0".."$9" in a request line or body stand for the first ten
 * ids ("id" and "*_id" members) that the input's replies have carried.
 *
 * With FUZZ_TRACE set in the environment each request's outcome is
 * printed, to check what a seed reaches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "scheduler/scheduler.h"

#ifndef FUZZ_CONFIG_DIR
#define FUZZ_CONFIG_DIR "tests/fuzz/config"
#endif

/* 2026-03-01T00:00:00Z: every input starts at this instant. */
#define FUZZ_START ((int64_t)1772323200)
#define FUZZ_MAX_ADVANCE ((int64_t)400 * 86400)
#define FUZZ_MAX_PASSES 32
#define FUZZ_MAX_REQUESTS 64
#define FUZZ_MAX_IDS 10

static struct sch fuzz_sch;
static char fuzz_dir[64];
static char *fuzz_db;
static char *fuzz_ids[FUZZ_MAX_IDS]; /* the ids "$0".."$9" stand for */
static size_t fuzz_nids;
static int fuzz_trace;   /* $FUZZ_TRACE: print each request's outcome */

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * belfryd.c, which holds main, is the one part of the daemon not linked;
 * the harness never routes POST /admin/reload, the one caller of its
 * sch_reload.  Reaching it is a harness bug.
 */
int
sch_reload(struct sch *s, char **cause)
{
	(void)s;
	(void)cause;
	abort();
}

/* Stop on a broken contract, saying which. */
static void __attribute__((noreturn))
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_api: %s: %s\n", what, detail ? detail : "");
	abort();
}

/* Remove the temporary database at exit. */
static void
fuzz_cleanup(void)
{
	char path[128];

	if (fuzz_sch.eng != NULL)
		eng_close(fuzz_sch.eng);
	fuzz_sch.eng = NULL;
	if (fuzz_db == NULL)
		return;
	unlink(fuzz_db);
	snprintf(path, sizeof path, "%s-wal", fuzz_db);
	unlink(path);
	snprintf(path, sizeof path, "%s-shm", fuzz_db);
	unlink(path);
	rmdir(fuzz_dir);
	free(fuzz_db);
	fuzz_db = NULL;
	free(fuzz_sch.config_dir);
	free(fuzz_sch.socket_path);
}

/* The method number the route table uses for name, or -1. */
static int
fuzz_method(const char *name, size_t len)
{
	const char *m;
	size_t i;

	for (i = 0; i < sch_nroutes; i++) {
		m = route_method_name(sch_routes[i].method);
		if (strlen(m) == len && memcmp(m, name, len) == 0)
			return sch_routes[i].method;
	}
	return -1;
}

/* Check a handler's outcome against the engine's contracts. */
static void
fuzz_check(struct sch_req *r, enum eng_status st, json_t *reply,
    const char *cause)
{
	json_error_t jerr;
	json_t *back;
	char *text;

	if (st == ENG_INTERNAL)
		fuzz_fail(r->route->pattern, cause != NULL ? cause :
		    "internal error without a cause");
	if (st != ENG_OK) {
		if (cause == NULL || *cause == '\0')
			fuzz_fail(r->route->pattern, "an error without a cause");
		return;
	}
	if (reply == NULL)
		return;
	text = eng_json_dumps(reply, JSON_COMPACT);
	if ((back = json_loads(text, JSON_DECODE_ANY, &jerr)) == NULL)
		fuzz_fail(r->route->pattern, jerr.text);
	json_decref(back);
	free(text);
}

/* Remember the ids in reply ("id" and "*_id" string members), in order. */
static void
fuzz_collect(json_t *v)
{
	const char *k;
	size_t i, n;
	json_t *c;

	if (json_is_object(v)) {
		json_object_foreach(v, k, c) {
			n = strlen(k);
			if (json_is_string(c) && fuzz_nids < FUZZ_MAX_IDS &&
			    (strcmp(k, "id") == 0 || (n > 3 &&
			    strcmp(k + n - 3, "_id") == 0)))
				fuzz_ids[fuzz_nids++] =
				    xstrdup(json_string_value(c));
			else
				fuzz_collect(c);
		}
	} else if (json_is_array(v))
		json_array_foreach(v, i, c)
			fuzz_collect(c);
}

/* A copy of p[0..len) with "$0".."$9" replaced by the ids seen so far. */
static char *
fuzz_subst(const char *p, size_t len, size_t *outlen)
{
	size_t cap = len + 1, n = 0, i, k, idlen;
	char *out = xmalloc(cap);

	for (i = 0; i < len; i++) {
		k = i + 1 < len && p[i] == '$' && p[i + 1] >= '0' &&
		    p[i + 1] <= '9' ? (size_t)(p[i + 1] - '0') : FUZZ_MAX_IDS;
		if (k >= fuzz_nids) {
			out[n++] = p[i];
			continue;
		}
		idlen = strlen(fuzz_ids[k]);
		cap += idlen;
		out = xreallocarray(out, cap, 1);
		memcpy(out + n, fuzz_ids[k], idlen);
		n += idlen;
		i++;
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

/*
 * One request: the central checks, then the handler (in a savepoint
 * unless the route is inline), then the contract checks.
 */
static void
fuzz_request(const char *line, size_t linelen, const char *rawbody,
    size_t rawlen, int64_t now)
{
	struct sch_req *r;
	json_error_t jerr;
	json_t *reply = NULL;
	char *cause = NULL, *path, *query, *body, allow[64];
	const char *sp;
	enum eng_status st;
	size_t bodylen, pathlen;
	int method, status, tcp = 0;

	if ((sp = memchr(line, ' ', linelen)) == NULL)
		return;
	method = fuzz_method(line, (size_t)(sp - line));
	path = fuzz_subst(sp + 1, linelen - (size_t)(sp - line) - 1, &pathlen);
	body = fuzz_subst(rawbody, rawlen, &bodylen);
	if (pathlen > 4 && memcmp(path + pathlen - 4, " tcp", 4) == 0) {
		path[pathlen - 4] = '\0';
		tcp = 1;
	}
	if ((query = strchr(path, '?')) != NULL)
		*query++ = '\0';

	r = xcalloc(1, sizeof *r);
	r->s = &fuzz_sch;
	r->tcp = tcp;
	r->now = now;
	r->route = route_find(r, method, *path != '\0' ? path : "/", tcp,
	    &status, allow, sizeof allow);
	if (r->route == NULL || r->route->exec == api_admin_reload ||
	    bodylen > SCH_MAX_BODY)
		goto out;
	if ((r->query = route_query(query)) == NULL)
		goto out;
	if (route_query_check(r->route, r->query, &cause) != 0)
		goto out;
	if (r->route->flags & SCH_ROUTE_BODY) {
		if (bodylen == 0)
			r->body = json_object();
		else if ((r->body = json_loadb(body, bodylen, 0, &jerr)) ==
		    NULL || !json_is_object(r->body))
			goto out;
	}

	if (r->route->flags & SCH_ROUTE_INLINE) {
		st = r->route->exec(r, &reply, &cause);
	} else {
		eng_request_begin(fuzz_sch.eng);
		st = r->route->exec(r, &reply, &cause);
		eng_request_end(fuzz_sch.eng, st == ENG_OK);
	}
	fuzz_check(r, st, reply, cause);
	if (st == ENG_OK)
		fuzz_collect(reply);
	if (fuzz_trace)
		fprintf(stderr, "%s %s -> %d %s\n", route_method_name(method),
		    r->route->pattern, (int)st, cause != NULL ? cause : "");
	r->reply = reply;
	free(cause);
	cause = NULL;
	path[0] = '\0';
out:
	if (fuzz_trace && path[0] != '\0')
		fprintf(stderr, "%s %s -> refused by the central checks%s%s\n",
		    route_method_name(method), path, cause ? ": " : "",
		    cause ? cause : "");
	free(cause);
	free(path);
	free(body);
	route_req_free(r);
}

/*
 * Take the deliveries due at now on each outgoing channel and record an
 * attempt at each: delivered, to be retried or refused for good, by its
 * handle.
 */
static void
fuzz_deliveries(int64_t now)
{
	static const enum eng_attempt_result results[] = { ENG_ATTEMPT_OK,
		ENG_ATTEMPT_RETRY, ENG_ATTEMPT_FAILED };
	const struct eng_config *c = eng_config(fuzz_sch.eng);
	const struct eng_channel *ch;
	struct eng_delivery d[SCH_MAX_INFLIGHT];
	struct eng_attempt a;
	json_t *req;
	char *text;
	size_t n, i, k;

	for (k = 0; k < eng_config_channel_count(c); k++) {
		ch = eng_config_channel(c, k);
		if (!eng_channel_outgoing(ch->type))
			continue;
		n = eng_delivery_take(fuzz_sch.eng, ch->name, now, d,
		    SCH_MAX_INFLIGHT);
		for (i = 0; i < n; i++) {
			memset(&a, 0, sizeof a);
			a.id = d[i].id;
			a.channel = ch->name;
			a.result = results[(uint64_t)d[i].id % 3];
			a.error = a.result == ENG_ATTEMPT_OK ? NULL :
			    "fuzz: refused";
			a.at = now;
			req = json_pack("{s:s, s:s, s:s}", "method", "POST",
			    "url", d[i].url != NULL ? d[i].url : "", "body",
			    d[i].body != NULL ? d[i].body : "");
			a.request = text = req != NULL ? json_dumps(req,
			    JSON_COMPACT) : NULL;
			eng_delivery_done(fuzz_sch.eng, &a, now, NULL);
			free(text);
			json_decref(req);
			eng_delivery_free(&d[i]);
		}
	}
}

/* Run the work due up to target, pass by pass as the clock does. */
static int64_t
fuzz_advance(int64_t now, int64_t target)
{
	int64_t due;
	int pass, ran;

	for (pass = 0; pass < FUZZ_MAX_PASSES; pass++) {
		if ((due = eng_next_due(fuzz_sch.eng)) > target)
			break;
		if (due > now)
			now = due;
		eng_request_begin(fuzz_sch.eng);
		ran = eng_run_due(fuzz_sch.eng, now);
		eng_request_end(fuzz_sch.eng, 1);
		fuzz_deliveries(now);
		if (ran == 0)
			break;
	}
	return target > now ? target : now;
}

/* Whether line (not NUL-terminated) starts a request or an ADVANCE. */
static int
fuzz_is_command(const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);

	if (sp == NULL || sp + 1 >= line + len)
		return 0;
	if ((size_t)(sp - line) == 7 && memcmp(line, "ADVANCE", 7) == 0)
		return 1;
	return sp[1] == '/' && fuzz_method(line, (size_t)(sp - line)) != -1;
}

/* The first line at or after p that is a command, or end. */
static const char *
fuzz_next_command(const char *p, const char *end)
{
	const char *nl;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (fuzz_is_command(p, (size_t)(nl - p)))
			return p;
	}
	return end;
}

/* Run one input's commands (see the top of the file); now moves on. */
static void
fuzz_run(const char *p, size_t len, int64_t now)
{
	const char *end = p + len, *line, *nl, *body, *next;
	size_t linelen, i;
	long long n;
	int count = 0;

	/* Anything before the first command is ignored. */
	for (line = fuzz_next_command(p, end);
	    line < end && count++ < FUZZ_MAX_REQUESTS; line = next) {
		nl = memchr(line, '\n', (size_t)(end - line));
		linelen = (size_t)((nl != NULL ? nl : end) - line);
		body = nl != NULL ? nl + 1 : end;
		next = fuzz_next_command(body, end);
		if (linelen > 8 && memcmp(line, "ADVANCE ", 8) == 0) {
			/* The line is not NUL-terminated: digits by hand. */
			for (n = 0, i = 8; i < linelen && line[i] >= '0' &&
			    line[i] <= '9' && n < FUZZ_MAX_ADVANCE; i++)
				n = n * 10 + (line[i] - '0');
			if (n > 0)
				now = fuzz_advance(now, now + (n <
				    FUZZ_MAX_ADVANCE ? n : FUZZ_MAX_ADVANCE));
		} else
			fuzz_request(line, linelen, body, (size_t)(next - body),
			    now);
	}
	/* The flush runs the work due now after its requests. */
	fuzz_advance(now, now);
	for (i = 0; i < fuzz_nids; i++)
		free(fuzz_ids[i]);
	fuzz_nids = 0;
}

/*
 * Once per process: zone rules, the configuration, a database with the
 * configuration's schedules and a few users, objects, subscriptions and
 * preferences committed, so that inputs meet existing state.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char setup[] =
	    "PUT /v1/users/u1\n{\"name\": \"Ada\", \"timezone\": "
	    "\"Europe/Berlin\", \"plan\": \"pro\"}\n"
	    "PUT /v1/users/u2\n{\"name\": \"Bob\", \"email\": \"b@x\"}\n"
	    "PUT /v1/tenants/t1\n{\"name\": \"T\"}\n"
	    "PUT /v1/objects/c/o1\n{\"title\": \"O\"}\n"
	    "POST /v1/objects/c/o1/subscriptions\n{\"recipients\": "
	    "[\"u1\", \"u2\"], \"properties\": {\"role\": \"owner\"}}\n"
	    "PUT /v1/users/u2/preferences/default\n{\"categories\": "
	    "{\"news\": true}}\n";
	const char *tmp = getenv("TMPDIR"), *cdir;
	struct eng_config *c;
	char *cause = NULL;

	(void)argc;
	(void)argv;
	log_init(0);
	fuzz_trace = getenv("FUZZ_TRACE") != NULL;
	if (tz_init(NULL, &cause) != 0)
		fuzz_fail("zone rules", cause);
	cdir = getenv("BELFRY_FUZZ_CONFIG");
	if (cdir == NULL || *cdir == '\0')
		cdir = FUZZ_CONFIG_DIR;
	if ((c = eng_config_load(cdir, &cause)) == NULL)
		fuzz_fail("config", cause);
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/belfry-fuzz-api.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL)
		fuzz_fail("mkdtemp", fuzz_dir);
	fuzz_db = xasprintf("%s/belfry.db", fuzz_dir);
	atexit(fuzz_cleanup);
	if ((fuzz_sch.eng = eng_open(fuzz_db, &cause)) == NULL)
		fuzz_fail("database", cause);
	eng_set_config(fuzz_sch.eng, c);
	/* A loop that never runs: /metrics reads the outgoing channels. */
	if ((fuzz_sch.base = event_base_new()) == NULL)
		fuzz_fail("event loop", "cannot create it");
	if (outbound_init(&fuzz_sch, &cause) != 0)
		fuzz_fail("outbound", cause);
	fuzz_sch.config_dir = xstrdup(cdir);
	fuzz_sch.socket_path = xstrdup("belfry.sock");
	fuzz_sch.database = fuzz_db;
	fuzz_sch.started = FUZZ_START;
	if (eng_begin(fuzz_sch.eng, &cause) != 0 ||
	    eng_schedules_sync(fuzz_sch.eng, FUZZ_START, &cause) != 0)
		fuzz_fail("schedules", cause);
	fuzz_run(setup, sizeof setup - 1, FUZZ_START);
	if (eng_commit(fuzz_sch.eng, &cause) != 0)
		fuzz_fail("commit", cause);
	return 0;
}

/* One input: its requests in one transaction, rolled back. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cause = NULL;

	if (eng_begin(fuzz_sch.eng, &cause) != 0)
		fuzz_fail("begin", cause);
	fuzz_run((const char *)data, size, FUZZ_START);
	eng_rollback(fuzz_sch.eng);
	return 0;
}
