/*
 * tz/tz.c: zone validation, wall <-> UTC with the gap and overlap policies,
 * transitions, and the current (system tzdata) rules.  Expected instants
 * are worked out by hand from the zones' published rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tz/tz.h"

/* Load the generated rules once for the whole file. */
static int
setup(void **state)
{
	char *cause = NULL;

	(void)state;
	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0) {
		fprintf(stderr, "tz_init: %s\n", cause);
		return -1;
	}
	return 0;
}

/* Drop the zone cache. */
static int
teardown(void **state)
{
	(void)state;
	tz_shutdown();
	return 0;
}

/* Parse an instant or fail the test. */
static int64_t
at(const char *s)
{
	int64_t t;

	assert_int_equal(tz_instant_parse(s, &t), 0);
	return t;
}

/* Open a zone or fail the test. */
static struct tz_zone *
zone(const char *name)
{
	char *cause = NULL;
	struct tz_zone *z = tz_zone_get(name, &cause);

	assert_non_null(z);
	return z;
}

/* The rules in use are the system's, not ICU's bundled 2022e. */
static void
test_rules_are_current(void **state)
{
	(void)state;
	assert_string_equal(tz_rules_version(), tz_system_version());
	assert_string_not_equal(tz_rules_version(), "2022e");
}

/* Mexico abolished DST in 2022: 09:00 in July is 15:00Z, not 14:00Z. */
static void
test_mexico_city_no_dst(void **state)
{
	struct tz_wall w = { 2026, 7, 1, 9, 0, 0 };
	int64_t t;

	(void)state;
	assert_int_equal(tz_from_wall(zone("America/Mexico_City"), &w,
	    TZ_GAP_SHIFT, TZ_OVERLAP_FIRST, &t), 0);
	assert_int_equal(t, at("2026-07-01T15:00:00Z"));
}

/* Unknown names are errors naming the zone, never GMT. */
static void
test_unknown_zone(void **state)
{
	static const char *bad[] = { "Mars/Olympus", "GMT+5", "",
		"america/new_york", "Europe/Berlin ", "Etc/Unknown" };
	char *cause;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		assert_null(tz_zone_get(bad[i], &cause));
		assert_non_null(cause);
		if (*bad[i] != '\0')
			assert_non_null(strstr(cause, bad[i]));
		free(cause);
		assert_false(tz_zone_valid(bad[i]));
	}
	assert_true(tz_zone_valid("Etc/GMT+5"));
	assert_true(tz_zone_valid("America/Ciudad_Juarez")); /* 2022g */
}

/* One row of the DST table: wall time, policies, expected result. */
struct dst_case {
	const char *zone;
	struct tz_wall w;
	enum tz_gap gap;
	enum tz_overlap overlap;
	int rc;
	const char *expect;
};

/* Gaps and overlaps in both hemispheres, whole- and half-hour shifts. */
static void
test_dst_table(void **state)
{
	static const struct dst_case cases[] = {
		/* US spring forward 2026-03-08 02:00 EST -> 03:00 EDT. */
		{ "America/New_York", { 2026, 3, 8, 2, 30, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_FIRST, 0, "2026-03-08T07:30:00Z" },
		{ "America/New_York", { 2026, 3, 8, 2, 30, 0 },
		    TZ_GAP_NEXT_VALID, TZ_OVERLAP_FIRST, 0,
		    "2026-03-08T07:00:00Z" },
		{ "America/New_York", { 2026, 3, 8, 2, 30, 0 }, TZ_GAP_SKIP,
		    TZ_OVERLAP_FIRST, 1, NULL },
		{ "America/New_York", { 2026, 3, 8, 3, 0, 0 }, TZ_GAP_SKIP,
		    TZ_OVERLAP_FIRST, 0, "2026-03-08T07:00:00Z" },
		{ "America/New_York", { 2026, 3, 8, 1, 59, 59 }, TZ_GAP_SKIP,
		    TZ_OVERLAP_FIRST, 0, "2026-03-08T06:59:59Z" },
		/* US fall back 2026-11-01 02:00 EDT -> 01:00 EST. */
		{ "America/New_York", { 2026, 11, 1, 1, 30, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_FIRST, 0, "2026-11-01T05:30:00Z" },
		{ "America/New_York", { 2026, 11, 1, 1, 30, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_LAST, 0, "2026-11-01T06:30:00Z" },
		{ "America/New_York", { 2026, 11, 1, 2, 0, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_LAST, 0, "2026-11-01T07:00:00Z" },
		/* Sydney: DST ends 2026-04-05 03:00 -> 02:00, starts 10-04. */
		{ "Australia/Sydney", { 2026, 4, 5, 2, 30, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_FIRST, 0, "2026-04-04T15:30:00Z" },
		{ "Australia/Sydney", { 2026, 4, 5, 2, 30, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_LAST, 0, "2026-04-04T16:30:00Z" },
		{ "Australia/Sydney", { 2026, 10, 4, 2, 30, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_FIRST, 0, "2026-10-03T16:30:00Z" },
		{ "Australia/Sydney", { 2026, 10, 4, 2, 30, 0 },
		    TZ_GAP_NEXT_VALID, TZ_OVERLAP_FIRST, 0,
		    "2026-10-03T16:00:00Z" },
		/* Lord Howe: a 30-minute shift, 02:00 +10:30 -> 02:30 +11. */
		{ "Australia/Lord_Howe", { 2026, 10, 4, 2, 15, 0 },
		    TZ_GAP_SHIFT, TZ_OVERLAP_FIRST, 0, "2026-10-03T15:45:00Z" },
		{ "Australia/Lord_Howe", { 2026, 10, 4, 2, 15, 0 },
		    TZ_GAP_NEXT_VALID, TZ_OVERLAP_FIRST, 0,
		    "2026-10-03T15:30:00Z" },
		/* Berlin 2026-03-29 02:00 CET -> 03:00 CEST. */
		{ "Europe/Berlin", { 2026, 3, 29, 2, 0, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_FIRST, 0, "2026-03-29T01:00:00Z" },
		{ "Europe/Berlin", { 2026, 10, 25, 2, 30, 0 }, TZ_GAP_SHIFT,
		    TZ_OVERLAP_LAST, 0, "2026-10-25T01:30:00Z" },
		/* Samoa skipped 2011-12-30 whole. */
		{ "Pacific/Apia", { 2011, 12, 30, 9, 0, 0 }, TZ_GAP_SKIP,
		    TZ_OVERLAP_FIRST, 1, NULL },
		{ "Pacific/Apia", { 2011, 12, 30, 9, 0, 0 },
		    TZ_GAP_NEXT_VALID, TZ_OVERLAP_FIRST, 0,
		    "2011-12-30T10:00:00Z" },
		/* Kolkata: no DST, +05:30. */
		{ "Asia/Kolkata", { 2026, 1, 1, 9, 0, 0 }, TZ_GAP_SKIP,
		    TZ_OVERLAP_LAST, 0, "2026-01-01T03:30:00Z" },
	};
	const struct dst_case *c;
	int64_t t;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		c = &cases[i];
		t = 0;
		rc = tz_from_wall(zone(c->zone), &c->w, c->gap, c->overlap, &t);
		if (rc != c->rc || (c->expect != NULL && t != at(c->expect)))
			fail_msg("case %zu (%s %02d:%02d): rc %d t %lld", i,
			    c->zone, c->w.hour, c->w.minute, rc, (long long)t);
	}
}

/* Wall times that do not exist on any calendar are refused. */
static void
test_bad_wall(void **state)
{
	static const struct tz_wall bad[] = { { 2026, 2, 29, 9, 0, 0 },
		{ 2026, 13, 1, 0, 0, 0 }, { 2026, 4, 31, 0, 0, 0 },
		{ 2026, 1, 1, 24, 0, 0 }, { 2026, 1, 1, 0, 60, 0 } };
	int64_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(tz_from_wall(zone("UTC"), &bad[i],
		    TZ_GAP_SHIFT, TZ_OVERLAP_FIRST, &t), -1);
}

/* The wall time of an instant, and back, across a transition. */
static void
test_to_wall(void **state)
{
	struct tz_wall w;
	int off;

	(void)state;
	assert_int_equal(tz_to_wall(zone("America/New_York"),
	    at("2026-11-01T06:30:00Z"), &w), 0);
	assert_int_equal(w.hour, 1);
	assert_int_equal(w.minute, 30);
	assert_int_equal(tz_offset_at(zone("America/New_York"),
	    at("2026-11-01T06:30:00Z"), &off), 0);
	assert_int_equal(off, -5 * 3600);
	assert_int_equal(tz_offset_at(zone("Asia/Kathmandu"),
	    at("2026-01-01T00:00:00Z"), &off), 0);
	assert_int_equal(off, 5 * 3600 + 45 * 60);
}

/* Transitions: New York's next two, and none for a fixed zone. */
static void
test_transitions(void **state)
{
	int64_t when;
	int before, after;

	(void)state;
	assert_int_equal(tz_next_transition(zone("America/New_York"),
	    at("2026-01-01T00:00:00Z"), &when, &before, &after), 0);
	assert_int_equal(when, at("2026-03-08T07:00:00Z"));
	assert_int_equal(before, -5 * 3600);
	assert_int_equal(after, -4 * 3600);
	assert_int_equal(tz_next_transition(zone("America/New_York"), when,
	    &when, &before, &after), 0);
	assert_int_equal(when, at("2026-11-01T06:00:00Z"));
	assert_int_equal(tz_next_transition(zone("Asia/Kolkata"),
	    at("2026-01-01T00:00:00Z"), &when, &before, &after), 1);
}

/* Instants parse strictly and format as RFC 3339 UTC. */
static void
test_instant_text(void **state)
{
	static const char *bad[] = { "2026-03-08T07:30:00", "2026-3-8T07:30:00Z",
		"2026-03-08 07:30:00Z", "2026-02-30T00:00:00Z",
		"2026-03-08T07:30:00Zjunk", "", "x" };
	char buf[32];
	int64_t t;
	size_t i;

	(void)state;
	assert_int_equal(at("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(at("2026-03-08T07:30:00Z"), 1772955000);
	tz_instant_format(1772955000, buf, sizeof buf);
	assert_string_equal(buf, "2026-03-08T07:30:00Z");
	tz_instant_format(-1, buf, sizeof buf);
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(tz_instant_parse(bad[i], &t), -1);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_are_current),
		cmocka_unit_test(test_mexico_city_no_dst),
		cmocka_unit_test(test_unknown_zone),
		cmocka_unit_test(test_dst_table),
		cmocka_unit_test(test_bad_wall),
		cmocka_unit_test(test_to_wall),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_instant_text),
	};

	return cmocka_run_group_tests_name("tz", tests, setup, teardown);
}
