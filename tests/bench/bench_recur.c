/*
 * Benchmark: next-occurrence computations per second for a mix of rules
 * and zones, beside the raw rate of libical stepping plus one ICU wall ->
 * UTC conversion per occurrence, measured in the same run.  Each figure is
 * the median of several rounds; the ratio is what to watch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libical/ical.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "tz/tz.h"

#define ROUNDS 7
#define STEPS 2000

static const char *rules[] = {
	"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
	"FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=9;BYMINUTE=30;BYSECOND=0",
	"FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17;BYMINUTE=0;BYSECOND=0",
	"FREQ=HOURLY;INTERVAL=3;BYMINUTE=15;BYSECOND=0",
	"FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0",
	"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=8;BYMINUTE=0;BYSECOND=0",
};
static const char *zones[] = { "Australia/Sydney", "Europe/Berlin",
	"America/Mexico_City", "America/New_York", "Asia/Kolkata",
	"Australia/Lord_Howe" };

#define NRULES (sizeof rules / sizeof rules[0])
#define NZONES (sizeof zones / sizeof zones[0])

/* Monotonic seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Raw: libical steps, each occurrence converted by a bare ICU calendar. */
static double
raw_round(UCalendar **cals, long *n)
{
	struct icaltimetype dt = icaltime_from_string("20260101T000000"), t;
	struct icalrecurrencetype r;
	icalrecur_iterator *it;
	UErrorCode st = U_ZERO_ERROR;
	volatile double sink = 0;
	double t0 = now();
	size_t i, j;
	int k;

	for (i = 0; i < NRULES; i++) {
		r = icalrecurrencetype_from_string(rules[i]);
		for (j = 0; j < NZONES; j++) {
			it = icalrecur_iterator_new(r, dt);
			for (k = 0; k < STEPS; k++) {
				t = icalrecur_iterator_next(it);
				ucal_clear(cals[j]);
				ucal_setDateTime(cals[j], t.year, t.month - 1,
				    t.day, t.hour, t.minute, t.second, &st);
				sink += ucal_getMillis(cals[j], &st);
				(*n)++;
			}
			icalrecur_iterator_free(it);
		}
	}
	(void)sink;
	return now() - t0;
}

/* belfry: tz_recur_next after the previous fire, as the scheduler asks. */
static double
belfry_round(int random_access, long *n)
{
	struct tz_wall ds = { 2026, 1, 1, 0, 0, 0 };
	int64_t t, start = 1767225600 - 86400; /* 2025-12-31 */
	int64_t seq[STEPS];
	char *cause = NULL;
	struct tz_recur *r;
	struct tz_zone *z;
	double t0, el = 0;
	size_t i, j;
	int k;

	for (i = 0; i < NRULES; i++) {
		for (j = 0; j < NZONES; j++) {
			z = tz_zone_get(zones[j], &cause);
			r = tz_recur_new(rules[i], &ds, &cause);
			if (random_access) {
				/* The sequence first (untimed), then random asks. */
				for (k = 0, t = start; k < STEPS; k++) {
					tz_recur_next(r, z, TZ_GAP_SHIFT,
					    TZ_OVERLAP_FIRST, t, &t);
					seq[k] = t;
				}
			}
			t0 = now();
			for (k = 0, t = start; k < STEPS; k++) {
				if (random_access)
					t = seq[random() % (STEPS - 1)] + 1;
				tz_recur_next(r, z, TZ_GAP_SHIFT,
				    TZ_OVERLAP_FIRST, t, &t);
				(*n)++;
			}
			el += now() - t0;
			tz_recur_free(r);
		}
	}
	return el;
}

/* qsort comparator for doubles. */
static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Run and print the three rates and their ratios. */
int
main(void)
{
	double raw[ROUNDS], seq[ROUNDS], rnd[ROUNDS], el;
	UCalendar *cals[NZONES];
	UErrorCode st = U_ZERO_ERROR;
	char *cause = NULL;
	UChar uid[64];
	long n;
	size_t j;
	int i;

	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0) {
		fprintf(stderr, "bench_recur: %s\n", cause);
		return 1;
	}
	for (j = 0; j < NZONES; j++) {
		u_uastrcpy(uid, zones[j]);
		cals[j] = ucal_open(uid, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	}
	for (i = 0; i < ROUNDS; i++) {
		n = 0;
		el = raw_round(cals, &n);
		raw[i] = n / el;
		n = 0;
		el = belfry_round(0, &n);
		seq[i] = n / el;
		n = 0;
		el = belfry_round(1, &n);
		rnd[i] = n / el;
	}
	qsort(raw, ROUNDS, sizeof raw[0], cmp);
	qsort(seq, ROUNDS, sizeof seq[0], cmp);
	qsort(rnd, ROUNDS, sizeof rnd[0], cmp);
	printf("recurrence: %zu rules x %zu zones x %d occurrences, median of "
	    "%d rounds\n", NRULES, NZONES, STEPS, ROUNDS);
	printf("  raw libical next + ICU convert   %10.0f /s\n",
	    raw[ROUNDS / 2]);
	printf("  belfry next-after (sequential)   %10.0f /s  %5.1f%% of raw\n",
	    seq[ROUNDS / 2], 100 * seq[ROUNDS / 2] / raw[ROUNDS / 2]);
	printf("  belfry next-after (random T)     %10.0f /s  %5.1f%% of raw\n",
	    rnd[ROUNDS / 2], 100 * rnd[ROUNDS / 2] / raw[ROUNDS / 2]);
	for (j = 0; j < NZONES; j++)
		ucal_close(cals[j]);
	tz_shutdown();
	return 0;
}
