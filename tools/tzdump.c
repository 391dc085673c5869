/*
 * tzdump: zones' UTC offset transitions from 1970 to 2101 as tz/ computes
 * them, and how wall times around each resolve, for
 * tests/integration/test_zones.py to hold against Python's zoneinfo.
 *
 *	tzdump [ZONE[@YYYY-MM-DDTHH:MM:SS]...]
 *
 * With no argument, every zone tz_zone_foreach() lists.  The rules come from
 * tz_init(NULL, ...), so $BELFRY_TZDATA_DIR picks them.  One record a line,
 * instants and offsets in seconds:
 *
 *	V RULES SYSTEM ICU		versions, first line
 *	Z ZONE OFFSET			offset at 1970-01-01T00:00:00Z
 *	T WHEN BEFORE AFTER AT-1 AT	a transition
 *	W WALL R1 R2 R3 R4 R5 R6	a wall time resolved six ways
 *	E ZONE CAUSE			tz/ failed on the zone
 *	.				end of output
 *
 * T is what tz_next_transition() reports, from the zone's offset at
 * 1970-01-01T00:00:00Z up to 2101-01-01T00:00:00Z (exclusive), with
 * tz_offset_at() a second before and at WHEN.  The W lines after a T are
 * the wall times around its gap or overlap: the second before it, its
 * first, middle and last second, and the first second after it.  R1..R6 are
 * tz_from_wall() under (gap, overlap) = (shift, first), (shift, last),
 * (next_valid, first), (next_valid, last), (skip, first), (skip, last): an
 * instant, "-" for skipped, "!" for an error.  ZONE@WALL prints the Z line
 * and the W line of that one wall time instead of the transitions.
 *
 * Exit status 0, 1 if tz/ failed on anything (E lines, "!"), 2 on a usage
 * or start-up error.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz/tz.h"

#define TZDUMP_START 0		 /* 1970-01-01T00:00:00Z */
#define TZDUMP_END 4133980800LL	 /* 2101-01-01T00:00:00Z */
#define TZDUMP_WALLS 5

static int tzdump_status;

/* The wall time a count of local seconds since 1970-01-01T00:00:00 names. */
static void
tzdump_wall(int64_t secs, struct tz_wall *w)
{
	int64_t days = secs / 86400, rem = secs % 86400;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	tz_civil_from_days(days, &w->year, &w->month, &w->day);
	w->hour = (int)(rem / 3600);
	w->minute = (int)(rem / 60 % 60);
	w->second = (int)(rem % 60);
}

/* Print a W line: wall time w resolved under each gap and overlap policy. */
static void
tzdump_resolve(struct tz_zone *z, const struct tz_wall *w)
{
	static const enum tz_gap gaps[] = { TZ_GAP_SHIFT, TZ_GAP_NEXT_VALID,
		TZ_GAP_SKIP };
	static const enum tz_overlap overlaps[] = { TZ_OVERLAP_FIRST,
		TZ_OVERLAP_LAST };
	int64_t t;
	size_t g, o;
	int rc;

	printf("W %04d-%02d-%02dT%02d:%02d:%02d", w->year, w->month, w->day,
	    w->hour, w->minute, w->second);
	for (g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
		for (o = 0; o < sizeof overlaps / sizeof overlaps[0]; o++) {
			rc = tz_from_wall(z, w, gaps[g], overlaps[o], &t);
			if (rc == 0)
				printf(" %" PRId64, t);
			else if (rc == 1)
				printf(" -");
			else {
				printf(" !");
				tzdump_status = 1;
			}
		}
	}
	printf("\n");
}

/* Print an E line for zone name and note the failure. */
static void
tzdump_error(const char *name, const char *cause)
{
	printf("E %s %s\n", name, cause);
	tzdump_status = 1;
}

/* Print the W lines for the wall times around a transition at when. */
static void
tzdump_around(struct tz_zone *z, int64_t when, int before, int after)
{
	int64_t lo, hi, walls[TZDUMP_WALLS];
	struct tz_wall w;
	size_t i;

	lo = when + (before < after ? before : after);
	hi = when + (before < after ? after : before);
	walls[0] = lo - 1;
	walls[1] = lo;
	walls[2] = lo + (hi - lo) / 2;
	walls[3] = hi - 1;
	walls[4] = hi;
	for (i = 0; i < TZDUMP_WALLS; i++) {
		/* A short gap or overlap repeats wall times: once will do. */
		if (i > 0 && walls[i] <= walls[i - 1])
			continue;
		tzdump_wall(walls[i], &w);
		tzdump_resolve(z, &w);
	}
}

/* Print zone name's records: its transitions, or the one wall time given. */
static void
tzdump_zone(const char *name, const char *wall)
{
	struct tz_zone *z;
	struct tz_wall w;
	char *cause = NULL;
	int64_t t, when;
	int off, before, after, at_prev, at, rc;

	if ((z = tz_zone_get(name, &cause)) == NULL) {
		tzdump_error(name, cause);
		free(cause);
		return;
	}
	if (tz_offset_at(z, TZDUMP_START, &off) != 0) {
		tzdump_error(name, "tz_offset_at failed");
		return;
	}
	printf("Z %s %d\n", name, off);
	if (wall != NULL) {
		if (tz_wall_parse(wall, &w) != 0)
			tzdump_error(name, "bad wall time");
		else
			tzdump_resolve(z, &w);
		return;
	}
	for (t = TZDUMP_START;; t = when) {
		rc = tz_next_transition(z, t, &when, &before, &after);
		if (rc == 1)
			break;
		if (rc != 0 || when <= t) {
			tzdump_error(name, rc != 0 ? "tz_next_transition "
			    "failed" : "tz_next_transition went backwards");
			return;
		}
		if (when >= TZDUMP_END)
			break;
		if (tz_offset_at(z, when - 1, &at_prev) != 0 ||
		    tz_offset_at(z, when, &at) != 0) {
			tzdump_error(name, "tz_offset_at failed");
			return;
		}
		printf("T %" PRId64 " %d %d %d %d\n", when, before, after,
		    at_prev, at);
		tzdump_around(z, when, before, after);
	}
}

/* tz_zone_foreach callback: dump one zone. */
static void
tzdump_each(const char *name, void *arg)
{
	(void)arg;
	tzdump_zone(name, NULL);
}

/* Dump the zones named on the command line, or every zone. */
int
main(int argc, char **argv)
{
	char *cause = NULL, *at;
	int i;

	if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "usage: tzdump [ZONE[@YYYY-MM-DDTHH:MM:SS]...]"
		    "\n");
		return 2;
	}
	if (tz_init(NULL, &cause) != 0) {
		fprintf(stderr, "tzdump: %s\n", cause);
		free(cause);
		return 2;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	printf("V %s %s %s\n", tz_rules_version(), tz_system_version(),
	    tz_icu_version());
	if (argc == 1)
		tz_zone_foreach(tzdump_each, NULL);
	for (i = 1; i < argc; i++) {
		if ((at = strchr(argv[i], '@')) != NULL)
			*at++ = '\0';
		tzdump_zone(argv[i], at);
	}
	printf(".\n");
	tz_shutdown();
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tzdump: write error\n");
		return 2;
	}
	return tzdump_status;
}
