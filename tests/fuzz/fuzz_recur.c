/*
 * Fuzz target: recurrence rules -- RRULE text and Knock "repeats" JSON
 * through tz/recur.c and tz/repeats.c, parsed and expanded in a zone as
 * `belfryctl preview` does, for a bounded number of fires.
 *
 * An input is lines "KEY VALUE":
 *
 *	rrule TEXT      one rule (repeatable: the rules are joined by '\n')
 *	repeats JSON    Knock's repeats, translated to RRULE text instead
 *	dtstart WALL    YYYY-MM-DDTHH:MM:SS (default 2026-03-01T09:00:00)
 *	tz ZONE         an IANA zone (default UTC)
 *	after INSTANT   RFC 3339 (default: from the first occurrence)
 *	gap POLICY      shift, next_valid or skip
 *	overlap POLICY  first or last
 *	exdate LIST     comma-separated wall times
 *	rdate LIST
 *	count N         fires to expand, at most 64 (default 16)
 *
 * Oracles besides the sanitizers: fires strictly increase and come after
 * `after`; skipped counts are not negative; every rule that repeats makes
 * ends in BYSECOND=0 (Knock's seconds are always 0) and the rule count is
 * the entry count; the next wall occurrence is not before its start.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz/tz.h"

#define FUZZ_MAX_COUNT 64
#define FUZZ_MAX_FIELD 4096

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop on a broken contract, saying which. */
static void __attribute__((noreturn))
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_recur: %s: %s\n", what, detail ? detail : "");
	abort();
}

/* The fields of one input; each a string the input owns, or NULL. */
struct fuzz_in {
	char *rrule, *repeats, *dtstart, *zone, *after, *gap, *overlap;
	char *exdate, *rdate, *count;
};

/* Set *field to a copy of v[0..n) (the last of repeated keys wins). */
static void
fuzz_set(char **field, const char *v, size_t n)
{
	free(*field);
	*field = xmalloc(n + 1);
	memcpy(*field, v, n);
	(*field)[n] = '\0';
}

/* Read the lines of an input into in. */
static void
fuzz_parse(const char *p, size_t len, struct fuzz_in *in)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "repeats", offsetof(struct fuzz_in, repeats) },
		{ "dtstart", offsetof(struct fuzz_in, dtstart) },
		{ "tz", offsetof(struct fuzz_in, zone) },
		{ "after", offsetof(struct fuzz_in, after) },
		{ "gap", offsetof(struct fuzz_in, gap) },
		{ "overlap", offsetof(struct fuzz_in, overlap) },
		{ "exdate", offsetof(struct fuzz_in, exdate) },
		{ "rdate", offsetof(struct fuzz_in, rdate) },
		{ "count", offsetof(struct fuzz_in, count) },
	};
	const char *end = p + len, *nl, *sp, *v;
	size_t i, n, klen;
	char *joined;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((sp = memchr(p, ' ', (size_t)(nl - p))) == NULL)
			continue;
		klen = (size_t)(sp - p);
		v = sp + 1;
		n = (size_t)(nl - v);
		if (n > FUZZ_MAX_FIELD)
			n = FUZZ_MAX_FIELD;
		if (klen == 5 && memcmp(p, "rrule", 5) == 0) {
			if (in->rrule == NULL) {
				fuzz_set(&in->rrule, v, n);
				continue;
			}
			joined = xasprintf("%s\n%.*s", in->rrule, (int)n, v);
			free(in->rrule);
			in->rrule = joined;
			continue;
		}
		for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if (strlen(keys[i].key) == klen &&
			    memcmp(keys[i].key, p, klen) == 0)
				fuzz_set((char **)((char *)in + keys[i].off), v,
				    n);
	}
}

/* Check the RRULE text that repeats JSON json was translated to. */
static void
fuzz_check_repeats(const char *json, const char *rule)
{
	const char *line, *nl;
	size_t lines = 0, len;

	for (line = rule;; line = nl + 1) {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		lines++;
		if (len < 10 || memcmp(line + len - 10, "BYSECOND=0", 10) != 0)
			fuzz_fail("repeats: a rule without BYSECOND=0 (cut?)",
			    rule);
		if (nl == NULL)
			break;
	}
	if (lines > 16)
		fuzz_fail("repeats: more than 16 rules", json);
}

/* Parse and expand one input's recurrence, checking its contracts. */
static void
fuzz_one(struct fuzz_in *in)
{
	struct tz_recur *r = NULL;
	struct tz_recur_skips sk;
	struct tz_zone *z;
	struct tz_wall ds = { 2026, 3, 1, 9, 0, 0 }, first, w;
	enum tz_gap gap = TZ_GAP_SHIFT;
	enum tz_overlap ov = TZ_OVERLAP_FIRST;
	char *cause = NULL, *rule = NULL, buf[32];
	int64_t after, t, prev;
	int count = 16, i, rc;

	if (in->dtstart != NULL && tz_wall_parse(in->dtstart, &ds) != 0)
		return;
	if ((z = tz_zone_get(in->zone != NULL ? in->zone : "UTC", &cause)) ==
	    NULL)
		goto out;
	if (in->gap != NULL && tz_gap_parse(in->gap, &gap) != 0)
		goto out;
	if (in->overlap != NULL && tz_overlap_parse(in->overlap, &ov) != 0)
		goto out;
	if (in->count != NULL)
		count = atoi(in->count);
	if (count < 0 || count > FUZZ_MAX_COUNT)
		count = FUZZ_MAX_COUNT;
	if (in->repeats != NULL) {
		if ((rule = tz_repeats_to_rrule(in->repeats, &cause)) == NULL)
			goto out;
		fuzz_check_repeats(in->repeats, rule);
	}
	if (rule == NULL && in->rrule == NULL)
		goto out;
	if ((r = tz_recur_new(rule != NULL ? rule : in->rrule, &ds, &cause)) ==
	    NULL)
		goto out;
	if (in->exdate != NULL && tz_recur_add_dates(r, in->exdate, 1,
	    &cause) != 0)
		goto out;
	if (in->rdate != NULL && tz_recur_add_dates(r, in->rdate, 0,
	    &cause) != 0)
		goto out;

	first = (struct tz_wall){ 1900, 1, 1, 0, 0, 0 };
	if (tz_recur_next_wall(r, &first, &w) == 0) {
		if (w.year < 1900)
			fuzz_fail("next_wall before its start", in->rrule);
		first = w;
	} else
		first = ds;
	if (in->after != NULL) {
		if (tz_rfc3339_parse(in->after, &after) != 0)
			goto out;
	} else {
		if (tz_from_wall(z, &first, TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
		    &after) != 0)
			goto out;
		after -= 3 * 86400;
	}
	prev = after;
	for (i = 0; i < count; i++) {
		sk.count = 0;
		rc = i % 2 == 0 ? tz_recur_next(r, z, gap, ov, prev, &t) :
		    tz_recur_next_skips(r, z, gap, ov, prev, &t, &sk);
		if (rc != 0)
			break;
		if (t <= prev) {
			tz_instant_format(t, buf, sizeof buf);
			fuzz_fail("fires do not strictly increase", buf);
		}
		if (sk.count < 0)
			fuzz_fail("a negative skip count", buf);
		if (tz_to_wall(z, t, &w) != 0)
			fuzz_fail("a fire without a wall time", in->rrule);
		prev = t;
	}
out:
	tz_recur_free(r);
	free(rule);
	free(cause);
}

/* Once per process: the zone rules. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *cause = NULL;

	(void)argc;
	(void)argv;
	if (tz_init(NULL, &cause) != 0)
		fuzz_fail("zone rules", cause);
	return 0;
}

/* One input: its recurrence parsed and expanded. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;

	memset(&in, 0, sizeof in);
	fuzz_parse((const char *)data, size, &in);
	fuzz_one(&in);
	free(in.rrule);
	free(in.repeats);
	free(in.dtstart);
	free(in.zone);
	free(in.after);
	free(in.gap);
	free(in.overlap);
	free(in.exdate);
	free(in.rdate);
	free(in.count);
	return 0;
}
