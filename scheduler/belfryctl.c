/*
 * belfryctl: the client.  Offline commands (preview, tzinfo) work without a
 * daemon; each command is an entry in ctl_cmds.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tz/tz.h"

struct ctl_cmd {
	const char *name;
	const char *usage;
	int (*exec)(int argc, char **argv, char **cause);
};

static int ctl_preview(int, char **, char **);
static int ctl_tzinfo(int, char **, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "preview", "preview (--rrule RULE | --repeats JSON) --dtstart "
	    "YYYY-MM-DDTHH:MM:SS --tz ZONE [--count N] [--after "
	    "YYYY-MM-DDTHH:MM:SSZ] [--dst-gap shift|next_valid|skip] "
	    "[--dst-overlap first|last] [--exdate LIST] [--rdate LIST]",
	    ctl_preview },
	{ "tzinfo", "tzinfo [--at YYYY-MM-DDTHH:MM:SSZ] [ZONE]", ctl_tzinfo },
};

/* Print the usage of every command. */
static void
ctl_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: belfryctl COMMAND [ARGS]\n");
	for (i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++)
		fprintf(f, "  belfryctl %s\n", ctl_cmds[i].usage);
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
	const char *exdate, *rdate;
	int count;
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

/* belfryctl preview: print the next occurrences of a rule, one per line. */
static int
ctl_preview(int argc, char **argv, char **cause)
{
	struct ctl_preview_opts o;
	struct tz_recur *r = NULL;
	struct tz_zone *z;
	struct tz_wall ds;
	char *rule = NULL, buf[32];
	int64_t after, t;
	int i, rc = -1;

	if (ctl_preview_args(argc, argv, &o, cause) != 0)
		return -1;
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
		/* From DTSTART on: any instant before DTSTART's wall time. */
		if (tz_from_wall(z, &ds, TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
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

/* Run the command named by argv[1]. */
int
main(int argc, char **argv)
{
	char *cause = NULL;
	size_t i;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		ctl_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof ctl_cmds / sizeof ctl_cmds[0]; i++) {
		if (strcmp(argv[1], ctl_cmds[i].name) != 0)
			continue;
		if (tz_init(NULL, &cause) != 0 ||
		    ctl_cmds[i].exec(argc - 1, argv + 1, &cause) != 0) {
			fprintf(stderr, "belfryctl: %s\n",
			    cause ? cause : "failed");
			free(cause);
			tz_shutdown();
			return 1;
		}
		tz_shutdown();
		return 0;
	}
	fprintf(stderr, "belfryctl: unknown command \"%s\" (try --help)\n",
	    argv[1]);
	return 2;
}
