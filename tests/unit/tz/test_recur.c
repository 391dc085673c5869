/*
 * tz/recur.c and tz/repeats.c: rule validation, the collapse of instants
 * across DST, COUNT/UNTIL/EXDATE/RDATE, the year limit, and that asking
 * "next after T" from any T agrees with stepping through the sequence.
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

/* Ten, fifty and sixty copies of a JSON value, comma-separated. */
#define R10(v) v "," v "," v "," v "," v "," v "," v "," v "," v "," v
#define R50(v) R10(v) "," R10(v) "," R10(v) "," R10(v) "," R10(v)
#define R60(v) R10(v) "," R50(v)

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

/* A recurrence from text and a DTSTART string, or fail the test. */
static struct tz_recur *
recur(const char *rule, const char *dtstart)
{
	struct tz_wall w;
	char *cause = NULL;
	struct tz_recur *r;

	assert_int_equal(tz_wall_parse(dtstart, &w), 0);
	r = tz_recur_new(rule, &w, &cause);
	if (r == NULL)
		fail_msg("%s: %s", rule, cause);
	return r;
}

/* Collect up to n fire instants of r in zone name after `after`. */
static int
fires(struct tz_recur *r, const char *name, enum tz_gap gap,
    enum tz_overlap overlap, const char *after, int n, char out[][24])
{
	char *cause = NULL;
	struct tz_zone *z = tz_zone_get(name, &cause);
	int64_t t;
	int i;

	assert_non_null(z);
	assert_int_equal(tz_instant_parse(after, &t), 0);
	for (i = 0; i < n; i++) {
		if (tz_recur_next(r, z, gap, overlap, t, &t) != 0)
			break;
		tz_instant_format(t, out[i], 24);
	}
	return i;
}

/* Every bad rule is refused with a message naming the problem. */
static void
test_bad_rules(void **state)
{
	static const char *cases[][2] = {
		{ "", "no FREQ" },
		{ "FREQ=FORTNIGHTLY", "cannot parse" },
		{ "FREQ=DAILY;BYHOUR=25", "BYHOUR=25 is out of range (0..23)" },
		{ "FREQ=DAILY;BYHOUR=9,x", "BYHOUR=9,x: not a list" },
		{ "FREQ=DAILY;BYMINUTE=", "BYMINUTE has no value" },
		{ "FREQ=DAILY;BYSECOND=60", "BYSECOND=60 is out of range" },
		{ "FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY=32 is out of range" },
		{ "FREQ=YEARLY;BYWEEKNO=0", "BYWEEKNO=0 is out of range" },
		{ "FREQ=HOURLY;BYMINUTE=5;BYSETPOS=1", "BYSETPOS" },
		{ "FREQ=MONTHLY;BYSETPOS=1", "another BYxxx" },
		{ "FREQ=DAILY;BYSETPOS=1", "BYSETPOS" },
		{ "FREQ=DAILY;COUNT=3;UNTIL=20270101T000000", "COUNT and UNTIL" },
		{ "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30", "no occurrence" },
		{ "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31", "no occurrence" },
		{ "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence" },
		{ "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence" },
		{ "FREQ=HOURLY;INTERVAL=24;BYHOUR=5", "no occurrence" },
		{ "FREQ=SECONDLY;INTERVAL=2;BYSECOND=1", "no occurrence" },
		{ "FREQ=DAILY;INTERVAL=7;BYDAY=TU", "no occurrence" },
		{ "FREQ=DAILY;BYYEARDAY=1", "BYYEARDAY" },
		{ "FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY" },
		{ "FREQ=DAILY;BYDAY=1MO", "position" },
		{ "FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO" },
		{ "FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY=367 is out of range" },
		{ "FREQ=YEARLY;BYYEARDAY=-367", "BYYEARDAY=-367 is out of range" },
		{ "FREQ=YEARLY;BYYEARDAY=1,370", "BYYEARDAY=370" },
		{ "FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO=54 is out of range" },
		{ "FREQ=YEARLY;BYWEEKNO=-54", "BYWEEKNO=-54 is out of range" },
		{ "FREQ=MONTHLY;BYDAY=6MO", "BYDAY position 6" },
		{ "FREQ=YEARLY;BYDAY=54MO", "BYDAY position 54" },
		{ "FREQ=YEARLY;BYWEEKNO=3;BYDAY=1MO", "BYWEEKNO" },
		{ "FREQ=YEARLY;UNTIL=2027-01-01", "UNTIL=2027-01-01 is not" },
		{ "FREQ=YEARLY;UNTIL=20270101T0000", "UNTIL=20270101T0000 is" },
		{ "FREQ=YEARLY;UNTIL=20270101T000000+01", "UNTIL" },
		/* Values beyond a long are named as written (strtol clamps). */
		{ "FREQ=YEARLY;BYYEARDAY=-99999999999999999999",
		    "BYYEARDAY=-99999999999999999999 is out of range" },
		{ "FREQ=DAILY;BYHOUR=99999999999999999999",
		    "BYHOUR=99999999999999999999 is out of range" },
	};
	struct tz_wall w;
	char *cause;
	size_t i;

	(void)state;
	/* 2026-01-05 04:00 is a Monday. */
	assert_int_equal(tz_wall_parse("2026-01-05T04:00:00", &w), 0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cause = NULL;
		if (tz_recur_new(cases[i][0], &w, &cause) != NULL)
			fail_msg("\"%s\" was accepted", cases[i][0]);
		if (strstr(cause, cases[i][1]) == NULL)
			fail_msg("\"%s\": cause \"%s\" lacks \"%s\"",
			    cases[i][0], cause, cases[i][1]);
		free(cause);
	}
}

/* The expansion of one rule from DTSTART in UTC, as RFC 3339 lines. */
static void
expect_utc(const char *rule, const char *dtstart, int n, const char *want)
{
	struct tz_recur *r = recur(rule, dtstart);
	char got[64][24], all[64 * 24] = "";
	int i, k;

	k = fires(r, "UTC", TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
	    "1900-01-01T00:00:00Z", n, got);
	for (i = 0; i < k; i++) {
		strcat(all, got[i]);
		strcat(all, "\n");
	}
	if (strcmp(all, want) != 0)
		fail_msg("%s from %s:\n%swant:\n%s", rule, dtstart, all, want);
	tz_recur_free(r);
}

/*
 * Rules once expanded wrong: WEEKLY INTERVAL counted from the wrong week
 * (DTSTART not an occurrence, BYMONTH), DAILY negative BYMONTHDAY, YEARLY
 * BYWEEKNO at the turn of the year and with WKST, BYSETPOS over times.
 */
static void
test_expansions(void **state)
{
	(void)state;
	/* RFC 5545: every other Sunday from Tue 1997-08-05. */
	expect_utc("FREQ=WEEKLY;INTERVAL=2;BYDAY=SU;COUNT=3",
	    "1997-08-05T09:00:00", 9, "1997-08-10T09:00:00Z\n"
	    "1997-08-24T09:00:00Z\n1997-09-07T09:00:00Z\n");
	/* Every other Sunday in November, weeks counted from DTSTART's. */
	expect_utc("FREQ=WEEKLY;INTERVAL=2;BYMONTH=11;BYDAY=SU;COUNT=4",
	    "2026-01-07T12:00:00", 9, "2026-11-01T12:00:00Z\n"
	    "2026-11-15T12:00:00Z\n2026-11-29T12:00:00Z\n"
	    "2027-11-14T12:00:00Z\n");
	expect_utc("FREQ=DAILY;BYMONTHDAY=-1;COUNT=3", "2028-01-05T09:00:00",
	    9, "2028-01-31T09:00:00Z\n2028-02-29T09:00:00Z\n"
	    "2028-03-31T09:00:00Z\n");
	/* ISO week 52 of 2027: Mon 12-27 .. Sun 2028-01-02. */
	expect_utc("FREQ=YEARLY;BYWEEKNO=52;COUNT=7", "2027-01-01T09:00:00", 9,
	    "2027-12-27T09:00:00Z\n2027-12-28T09:00:00Z\n"
	    "2027-12-29T09:00:00Z\n2027-12-30T09:00:00Z\n"
	    "2027-12-31T09:00:00Z\n2028-01-01T09:00:00Z\n"
	    "2028-01-02T09:00:00Z\n");
	/* Week 1 of 2025 starts Mon 2024-12-30; with WKST=SU week 1 of 2026
	 * is Sun 01-04 .. Sat 01-10. */
	expect_utc("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO;COUNT=2",
	    "2024-01-01T09:00:00", 9, "2024-01-01T09:00:00Z\n"
	    "2024-12-30T09:00:00Z\n");
	expect_utc("FREQ=YEARLY;BYWEEKNO=1;BYDAY=SU,SA;WKST=SU;COUNT=2",
	    "2026-01-01T09:00:00", 9, "2026-01-04T09:00:00Z\n"
	    "2026-01-10T09:00:00Z\n");
	expect_utc("FREQ=YEARLY;BYWEEKNO=-1;BYDAY=TH;COUNT=3",
	    "2026-01-01T09:00:00", 9, "2026-12-31T09:00:00Z\n"
	    "2027-12-30T09:00:00Z\n2028-12-28T09:00:00Z\n");
	expect_utc("FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=9,17;BYMINUTE=0;"
	    "BYSETPOS=2,-1;COUNT=3", "2026-03-01T09:00:00", 9,
	    "2026-03-01T17:00:00Z\n2026-03-15T17:00:00Z\n"
	    "2026-04-01T17:00:00Z\n");
	/* BYSETPOS in a week counts the whole week, before DTSTART too. */
	expect_utc("FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=9,17;BYSETPOS=1,-1;"
	    "WKST=SU;COUNT=3", "2026-03-04T09:00:00", 9,
	    "2026-03-06T17:00:00Z\n2026-03-09T09:00:00Z\n"
	    "2026-03-13T17:00:00Z\n");
}

/* Half-hourly across US spring forward: 02:xx shifts, duplicates collapse. */
static void
test_collapse_spring(void **state)
{
	static const char *want[] = { "2026-03-08T06:00:00Z",
		"2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z",
		"2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z" };
	struct tz_recur *r = recur("FREQ=MINUTELY;INTERVAL=30",
	    "2026-03-08T01:00:00");
	char got[5][24];
	int i;

	(void)state;
	assert_int_equal(fires(r, "America/New_York", TZ_GAP_SHIFT,
	    TZ_OVERLAP_FIRST, "2026-03-08T05:00:00Z", 5, got), 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(got[i], want[i]);
	tz_recur_free(r);
}

/* Hourly across US fall back: the repeated 01:00 fires once (first/last). */
static void
test_overlap_hourly(void **state)
{
	struct tz_recur *r = recur("FREQ=HOURLY", "2026-11-01T00:00:00");
	char got[3][24];

	(void)state;
	assert_int_equal(fires(r, "America/New_York", TZ_GAP_SHIFT,
	    TZ_OVERLAP_FIRST, "2026-11-01T04:00:00Z", 3, got), 3);
	assert_string_equal(got[0], "2026-11-01T05:00:00Z"); /* 01:00 EDT */
	assert_string_equal(got[1], "2026-11-01T07:00:00Z"); /* 02:00 EST */
	assert_int_equal(fires(r, "America/New_York", TZ_GAP_SHIFT,
	    TZ_OVERLAP_LAST, "2026-11-01T04:00:00Z", 3, got), 3);
	assert_string_equal(got[0], "2026-11-01T06:00:00Z"); /* 01:00 EST */
	assert_string_equal(got[1], "2026-11-01T07:00:00Z");
	tz_recur_free(r);
}

/* A daily 02:30 with gap=skip misses the spring-forward day only. */
static void
test_gap_skip_daily(void **state)
{
	struct tz_recur *r = recur("FREQ=DAILY", "2026-03-07T02:30:00");
	char got[3][24];

	(void)state;
	assert_int_equal(fires(r, "America/New_York", TZ_GAP_SKIP,
	    TZ_OVERLAP_FIRST, "2026-03-07T00:00:00Z", 3, got), 3);
	assert_string_equal(got[0], "2026-03-07T07:30:00Z");
	assert_string_equal(got[1], "2026-03-09T06:30:00Z");
	tz_recur_free(r);
}

/* COUNT ends the set after COUNT occurrences; EXDATE does not extend it. */
static void
test_count_exdate(void **state)
{
	struct tz_recur *r = recur("FREQ=DAILY;COUNT=3", "2026-01-01T09:00:00");
	char got[5][24], *cause = NULL;

	(void)state;
	assert_int_equal(fires(r, "UTC", TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
	    "2025-12-31T00:00:00Z", 5, got), 3);
	assert_string_equal(got[2], "2026-01-03T09:00:00Z");
	assert_int_equal(tz_recur_add_dates(r, "2026-01-02T09:00:00", 1,
	    &cause), 0);
	assert_int_equal(tz_recur_add_dates(r,
	    "2026-02-01T12:00:00,2026-01-01T09:00:00", 0, &cause), 0);
	assert_int_equal(fires(r, "UTC", TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
	    "2025-12-31T00:00:00Z", 5, got), 3);
	assert_string_equal(got[0], "2026-01-01T09:00:00Z");
	assert_string_equal(got[1], "2026-01-03T09:00:00Z");
	assert_string_equal(got[2], "2026-02-01T12:00:00Z");
	assert_int_equal(tz_recur_add_dates(r, "2026-02-30T00:00:00", 1,
	    &cause), -1);
	assert_non_null(strstr(cause, "2026-02-30"));
	free(cause);
	tz_recur_free(r);
}

/* UNTIL as a floating time is inclusive; as UTC it bounds the instant. */
static void
test_until(void **state)
{
	struct tz_recur *r = recur("FREQ=DAILY;UNTIL=20260103T090000",
	    "2026-01-01T09:00:00");
	char got[5][24];

	(void)state;
	assert_int_equal(fires(r, "Europe/Berlin", TZ_GAP_SHIFT,
	    TZ_OVERLAP_FIRST, "2025-12-31T00:00:00Z", 5, got), 3);
	tz_recur_free(r);
	r = recur("FREQ=DAILY;UNTIL=20260103T075959Z", "2026-01-01T09:00:00");
	assert_int_equal(fires(r, "Europe/Berlin", TZ_GAP_SHIFT,
	    TZ_OVERLAP_FIRST, "2025-12-31T00:00:00Z", 5, got), 2);
	tz_recur_free(r);
}

/* The sequence ends cleanly at libical's last year. */
static void
test_year_limit(void **state)
{
	struct tz_recur *r = recur("FREQ=YEARLY", "2580-06-01T12:00:00");
	char got[5][24];

	(void)state;
	assert_int_equal(fires(r, "UTC", TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
	    "2580-01-01T00:00:00Z", 5, got), 3);
	assert_string_equal(got[2], "2582-06-01T12:00:00Z");
	tz_recur_free(r);
}

/* A sparse sub-daily rule: leap-day noons, found without a long walk. */
static void
test_sparse_subdaily(void **state)
{
	struct tz_recur *r = recur(
	    "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=12;BYMINUTE=0",
	    "2026-01-01T00:00:00");
	char got[3][24];

	(void)state;
	assert_int_equal(fires(r, "UTC", TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
	    "2026-01-01T00:00:00Z", 3, got), 3);
	assert_string_equal(got[0], "2028-02-29T12:00:00Z");
	assert_string_equal(got[1], "2032-02-29T12:00:00Z");
	assert_string_equal(got[2], "2036-02-29T12:00:00Z");
	tz_recur_free(r);
}

/*
 * Asking for the next fire after an arbitrary instant agrees with walking
 * the sequence from the start, for rules of every frequency.
 */
static void
test_random_access(void **state)
{
	static const char *rules[] = { "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
		"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0",
		"FREQ=MONTHLY;BYDAY=-1SU;BYHOUR=1;BYMINUTE=30",
		"FREQ=HOURLY;INTERVAL=5;BYMINUTE=15,45",
		"FREQ=MINUTELY;INTERVAL=45",
		"FREQ=DAILY;INTERVAL=3;BYHOUR=9,21",
		"FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=1,15,-1;BYHOUR=2",
		"FREQ=SECONDLY;INTERVAL=7777",
		"FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU;BYHOUR=2",
		"FREQ=YEARLY;BYWEEKNO=1,13,-1;BYDAY=MO,SU;WKST=SU;BYHOUR=2,14",
		"FREQ=MONTHLY;BYDAY=MO,TU,WE;BYHOUR=1,2;BYMINUTE=30;"
		    "BYSETPOS=2,-1",
		"FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,WE;BYMONTH=3,4,10,11;BYHOUR=2",
		"FREQ=DAILY;BYMONTHDAY=-1,1;BYHOUR=0,23;BYMINUTE=30\n"
		    "FREQ=HOURLY;INTERVAL=7;BYMINUTE=30" };
	static const char *zones[] = { "Europe/Berlin", "Australia/Sydney",
		"America/Santiago", "Australia/Lord_Howe" };
	char *cause = NULL;
	struct tz_recur *r;
	struct tz_zone *z;
	int64_t seq[400], t, start, got, pq = 0, pgot = 0;
	size_t i, j, k, n;

	(void)state;
	assert_int_equal(tz_instant_parse("2025-12-01T00:00:00Z", &start), 0);
	srandom(42);
	for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		for (j = 0; j < sizeof zones / sizeof zones[0]; j++) {
			z = tz_zone_get(zones[j], &cause);
			r = recur(rules[i], "2025-12-01T00:00:00");
			for (n = 0, t = start; n < 400; n++) {
				if (tz_recur_next(r, z, TZ_GAP_SHIFT,
				    TZ_OVERLAP_FIRST, t, &t) != 0)
					break;
				if (n > 0)
					assert_true(t > seq[n - 1]);
				seq[n] = t;
			}
			assert_true(n > 10);
			for (k = 0; k < 200; k++) {
				size_t m = (size_t)random() % (n - 1);
				int64_t q = seq[m] + random() %
				    (seq[m + 1] - seq[m]);

				assert_int_equal(tz_recur_next(r, z,
				    TZ_GAP_SHIFT, TZ_OVERLAP_FIRST, q, &got), 0);
				if (got != seq[m + 1])
					fail_msg("%s in %s after %lld: %lld, "
					    "walk says %lld", rules[i],
					    zones[j], (long long)q,
					    (long long)got,
					    (long long)seq[m + 1]);
				/* Asked again after other questions (rows
				 * sharing a recurrence take turns), the
				 * remembered answer is still this one. */
				if (k > 0) {
					assert_int_equal(tz_recur_next(r, z,
					    TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
					    pq, &got), 0);
					assert_int_equal(got, pgot);
				}
				pq = q;
				pgot = seq[m + 1];
			}
			tz_recur_free(r);
		}
	}
}

/* Knock repeats become the RRULEs RFC 5545 readers expect. */
static void
test_repeats(void **state)
{
	static const char *ok[][2] = {
		{ "[{\"frequency\":\"daily\",\"hours\":9}]",
		    "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0" },
		{ "[{\"frequency\":\"weekly\",\"days\":[\"mon\",\"wed\"],"
		    "\"hours\":9,\"minutes\":30}]",
		    "FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=30;BYSECOND=0" },
		{ "{\"frequency\":\"weekly\",\"days\":\"weekends\"}",
		    "FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=0;BYMINUTE=0;BYSECOND=0" },
		{ "[{\"frequency\":\"daily\",\"days\":[\"weekdays\"],"
		    "\"interval\":2}]",
		    "FREQ=DAILY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYHOUR=0;"
		    "BYMINUTE=0;BYSECOND=0" },
		{ "[{\"frequency\":\"monthly\",\"day_of_month\":15,"
		    "\"hours\":[8,20]}]",
		    "FREQ=MONTHLY;BYMONTHDAY=15;BYHOUR=8,20;BYMINUTE=0;"
		    "BYSECOND=0" },
		{ "[{\"frequency\":\"hourly\",\"minutes\":5}]",
		    "FREQ=HOURLY;BYMINUTE=5;BYSECOND=0" },
		{ "[{\"frequency\":\"hourly\"}]",
		    "FREQ=HOURLY;BYMINUTE=0;BYSECOND=0" },
		{ "[{\"frequency\":\"daily\",\"minutes\":45}]",
		    "FREQ=DAILY;BYHOUR=0;BYMINUTE=45;BYSECOND=0" },
		/* A value listed again is listed once: 60 of each fit. */
		{ "[{\"frequency\":\"monthly\",\"day_of_month\":[" R60("31")
		    "],\"hours\":[" R60("23") "],\"minutes\":[" R10("8") "," R50("59")
		    "]}]", "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=23;"
		    "BYMINUTE=8,59;BYSECOND=0" },
	};
	static const char *bad[][2] = {
		{ "not json", "invalid JSON" },
		{ "[{\"frequency\":\"yearly\"}]", "frequency" },
		{ "[{\"frequency\":\"weekly\",\"days\":[\"funday\"]}]",
		    "funday" },
		{ "[{\"frequency\":\"daily\",\"hours\":24}]", "hours" },
		{ "[{\"frequency\":\"daily\",\"interval\":0}]", "interval" },
		{ "[{\"frequency\":\"daily\",\"hour\":9}]", "hour" },
		{ "[]", "1..16" },
		{ "[{\"frequency\":\"daily\"},{\"frequency\":\"daily\","
		    "\"hours\":24}]", "repeats[1]: \"hours\"" },
	};
	char *s, *cause;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		cause = NULL;
		s = tz_repeats_to_rrule(ok[i][0], &cause);
		if (s == NULL)
			fail_msg("%s: %s", ok[i][0], cause);
		assert_string_equal(s, ok[i][1]);
		free(s);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = NULL;
		assert_null(tz_repeats_to_rrule(bad[i][0], &cause));
		if (strstr(cause, bad[i][1]) == NULL)
			fail_msg("%s: cause \"%s\" lacks \"%s\"", bad[i][0],
			    cause, bad[i][1]);
		free(cause);
	}
}

/* Several Knock repeats entries become several RRULE lines. */
static void
test_repeats_several(void **state)
{
	char *cause = NULL, *s;

	(void)state;
	s = tz_repeats_to_rrule("[{\"frequency\":\"weekly\",\"days\":[\"mon\"],"
	    "\"hours\":9},{\"frequency\":\"daily\",\"hours\":18}]", &cause);
	if (s == NULL)
		fail_msg("%s", cause);
	assert_string_equal(s, "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0;"
	    "BYSECOND=0\nFREQ=DAILY;BYHOUR=18;BYMINUTE=0;BYSECOND=0");
	free(s);
}

/*
 * Several rules: the occurrences are the union in order, a wall time two
 * rules share occurs once, and each rule's COUNT limits that rule only.
 */
static void
test_several_rules(void **state)
{
	static const char *want[] = { "2026-03-01T09:00:00Z",
		"2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z",
		"2026-03-03T09:00:00Z", "2026-03-09T09:00:00Z",
		"2026-03-09T10:00:00Z", "2026-03-16T09:00:00Z" };
	struct tz_recur *r;
	struct tz_wall w;
	char got[8][24], *cause = NULL;
	size_t i;

	(void)state;
	/* The weekly rule comes first although the daily one starts first. */
	r = recur("RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=9,10;BYMINUTE=0;"
	    "BYSECOND=0\r\nRRULE:FREQ=DAILY;COUNT=3;BYHOUR=9;BYMINUTE=0;"
	    "BYSECOND=0", "2026-03-01T00:00:00");
	assert_int_equal(fires(r, "UTC", TZ_GAP_SHIFT, TZ_OVERLAP_FIRST,
	    "2026-02-28T00:00:00Z", 7, got), 7);
	for (i = 0; i < 7; i++)
		assert_string_equal(got[i], want[i]);
	tz_recur_free(r);

	/* A UTC UNTIL ends its own rule only. */
	r = recur("FREQ=DAILY;BYHOUR=12;UNTIL=20260302T120000Z\n"
	    "FREQ=WEEKLY;BYDAY=FR;BYHOUR=8", "2026-03-01T00:00:00");
	assert_int_equal(fires(r, "Europe/Berlin", TZ_GAP_SHIFT,
	    TZ_OVERLAP_FIRST, "2026-02-28T00:00:00Z", 4, got), 4);
	assert_string_equal(got[0], "2026-03-01T11:00:00Z");
	assert_string_equal(got[1], "2026-03-02T11:00:00Z");
	assert_string_equal(got[2], "2026-03-06T07:00:00Z");
	assert_string_equal(got[3], "2026-03-13T07:00:00Z");
	tz_recur_free(r);

	/* An error names the rule. */
	assert_int_equal(tz_wall_parse("2026-03-01T00:00:00", &w), 0);
	assert_null(tz_recur_new("FREQ=DAILY\nFREQ=WEEKLY;INTERVAL=0", &w,
	    &cause));
	if (strstr(cause, "rule 2 of 2: ") == NULL ||
	    strstr(cause, "INTERVAL") == NULL)
		fail_msg("cause: %s", cause);
	free(cause);
	assert_null(tz_recur_new("FREQ=DAILY\n", &w, &cause));
	if (strstr(cause, "rule 2 of 2: ") == NULL)
		fail_msg("cause: %s", cause);
	free(cause);
}

/* The next fire after `after` (a string) with the skips counted. */
static int
next_skips(struct tz_recur *r, const char *zone, enum tz_gap gap,
    const char *after, char *next, struct tz_recur_skips *sk)
{
	char *cause = NULL;
	struct tz_zone *z = tz_zone_get(zone, &cause);
	int64_t t, n;
	int rc;

	assert_non_null(z);
	assert_int_equal(tz_instant_parse(after, &t), 0);
	rc = tz_recur_next_skips(r, z, gap, TZ_OVERLAP_FIRST, t, &n, sk);
	if (rc == 0)
		tz_instant_format(n, next, 24);
	return rc;
}

/*
 * Occurrences dropped by the skip gap policy are counted once each, between
 * `after` and the next fire, at the instant their gap ends.
 */
static void
test_skips(void **state)
{
	struct tz_recur_skips sk;
	struct tz_recur *r;
	char next[24], last[24];

	(void)state;
	/* Berlin skips 02:00-03:00 on 2026-03-29 (the gap ends at 01:00Z). */
	r = recur("FREQ=DAILY;BYHOUR=2;BYMINUTE=30", "2026-03-27T00:00:00");
	assert_int_equal(next_skips(r, "Europe/Berlin", TZ_GAP_SKIP,
	    "2026-03-28T01:30:00Z", next, &sk), 0);
	assert_string_equal(next, "2026-03-30T00:30:00Z");
	assert_int_equal(sk.count, 1);
	tz_instant_format(sk.last, last, sizeof last);
	assert_string_equal(last, "2026-03-29T01:00:00Z");
	/* Asked again from the fire, or from the gap's end: not again. */
	assert_int_equal(next_skips(r, "Europe/Berlin", TZ_GAP_SKIP,
	    "2026-03-30T00:30:00Z", next, &sk), 0);
	assert_int_equal(sk.count, 0);
	assert_int_equal(next_skips(r, "Europe/Berlin", TZ_GAP_SKIP,
	    "2026-03-29T01:00:00Z", next, &sk), 0);
	assert_int_equal(sk.count, 0);
	assert_int_equal(next_skips(r, "Europe/Berlin", TZ_GAP_SKIP,
	    "2026-03-29T00:59:59Z", next, &sk), 0);
	assert_int_equal(sk.count, 1);
	/* Other policies skip nothing. */
	assert_int_equal(next_skips(r, "Europe/Berlin", TZ_GAP_SHIFT,
	    "2026-03-28T01:30:00Z", next, &sk), 0);
	assert_string_equal(next, "2026-03-29T01:30:00Z");
	assert_int_equal(sk.count, 0);
	tz_recur_free(r);

	/* Two occurrences in one gap; and skips up to the end of a rule. */
	r = recur("FREQ=HOURLY;BYMINUTE=0,30;UNTIL=20260329T023000",
	    "2026-03-29T00:00:00");
	assert_int_equal(next_skips(r, "Europe/Berlin", TZ_GAP_SKIP,
	    "2026-03-29T00:30:00Z", next, &sk), 1);
	assert_int_equal(sk.count, 2);
	tz_instant_format(sk.last, last, sizeof last);
	assert_string_equal(last, "2026-03-29T01:00:00Z");
	tz_recur_free(r);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_collapse_spring),
		cmocka_unit_test(test_overlap_hourly),
		cmocka_unit_test(test_gap_skip_daily),
		cmocka_unit_test(test_count_exdate),
		cmocka_unit_test(test_until),
		cmocka_unit_test(test_year_limit),
		cmocka_unit_test(test_sparse_subdaily),
		cmocka_unit_test(test_random_access),
		cmocka_unit_test(test_repeats),
		cmocka_unit_test(test_repeats_several),
		cmocka_unit_test(test_several_rules),
		cmocka_unit_test(test_skips),
		cmocka_unit_test(test_expansions),
	};

	return cmocka_run_group_tests_name("recur", tests, setup, teardown);
}
