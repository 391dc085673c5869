/*
 * Schedule benchmarks on a real SQLite file (synchronous=FULL):
 *   - create N recipient-schedules (default 1,000,000) through
 *     eng_schedules_create, 100 recipients a call, one commit per 10 calls
 *   - start: eng_open + configuration + the first eng_next_due, as belfryd
 *     does at start-up, and the resident memory that adds
 *   - fires: DUE of them (default 100,000) fall in one minute (one per
 *     second of it, evenly); the minute is replayed in real time, firing in
 *     1000-row transactions, merging feed entries and checkpointing
 *     between seconds as the daemon's timers do; fires per second of
 *     firing work and the p50/p99/max lateness of each fire (commit time
 *     minus its due second)
 *
 *   bench_schedules DIR [N [DUE]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine_int.h"

/* Monotonic seconds. */
static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Current resident memory of this process in KiB (from /proc). */
static long
rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Write text to dir/name. */
static void
put(const char *dir, const char *name, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		exit(1);
	fputs(text, f);
	fclose(f);
}

/* Open the engine on DIR/bench.db with DIR's configuration. */
static struct eng *
open_engine(const char *dir)
{
	struct eng_config *c;
	struct eng *e;
	char *cause = NULL, path[600];

	if ((c = eng_config_load(dir, &cause)) == NULL) {
		fprintf(stderr, "config: %s\n", cause);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/bench.db", dir);
	if ((e = eng_open(path, &cause)) == NULL) {
		fprintf(stderr, "open: %s\n", cause);
		exit(1);
	}
	eng_set_config(e, c);
	return e;
}

/* Commit or die. */
static void
commit(struct eng *e)
{
	char *cause = NULL;

	if (eng_commit(e, &cause) != 0) {
		fprintf(stderr, "commit: %s\n", cause);
		exit(1);
	}
}

/* Begin or die. */
static void
begin(struct eng *e)
{
	char *cause = NULL;

	if (eng_begin(e, &cause) != 0) {
		fprintf(stderr, "begin: %s\n", cause);
		exit(1);
	}
}

/*
 * Create n schedules at now, 100 recipients a call: the first due of them
 * daily at 09:00:SS UTC (SS = call number mod 60), the rest daily at other
 * minutes of the day (10:00 to 21:59).
 */
static void
create(struct eng *e, long n, long due, int64_t now)
{
	json_t *body, *rs, *reply;
	char *cause = NULL, rule[96], id[32];
	long i = 0, k;
	int calls = 0;

	begin(e);
	while (i < n) {
		rs = json_array();
		if (i < due)
			snprintf(rule, sizeof rule, "FREQ=DAILY;BYHOUR=9;"
			    "BYMINUTE=0;BYSECOND=%ld", i / 100 % 60);
		else
			snprintf(rule, sizeof rule, "FREQ=DAILY;BYHOUR=%ld;"
			    "BYMINUTE=%ld;BYSECOND=0", 10 + i / 100 % 12,
			    i / 1200 % 60);
		for (k = 0; k < 100 && i < n; k++, i++) {
			snprintf(id, sizeof id, "u%ld", i);
			json_array_append_new(rs, json_string(id));
		}
		body = json_pack("{s:s, s:o, s:s}", "workflow", "bench",
		    "recipients", rs, "rrule", rule);
		reply = NULL;
		if (eng_schedules_create(e, body, now, &reply, &cause) !=
		    ENG_OK) {
			fprintf(stderr, "create: %s\n", cause);
			exit(1);
		}
		json_decref(reply);
		json_decref(body);
		if (++calls % 10 == 0) {
			commit(e);
			begin(e);
		}
	}
	commit(e);
}

/* qsort comparator for doubles. */
static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Runs the benchmark. */
int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	long due = argc > 3 ? atol(argv[3]) : 100000, fires = 0, nl = 0, k;
	int64_t t0, day, s;
	double t, start, open_s, work = 0, *late, w0;
	long rss0, rss1;
	struct eng *e;
	char *cause = NULL, path[600];
	int ran;

	if (due > n)
		due = n;
	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0) {
		fprintf(stderr, "tz: %s\n", cause);
		return 1;
	}
	put(dir, "belfry.conf", "{\"default_timezone\": \"UTC\", "
	    "\"channels\": {\"feed\": {\"type\": \"in_app_feed\"}}}");
	snprintf(path, sizeof path, "%s/workflows", dir);
	mkdir(path, 0700);
	put(dir, "workflows/bench.json", "{\"key\": \"bench\", \"steps\": "
	    "[{\"ref\": \"f\", \"type\": \"channel\", \"channel\": \"feed\","
	    " \"template\": {\"markdown\": \"tick\"}}]}");
	tz_instant_parse("2026-03-02T00:00:00Z", &t0);
	day = t0 + 9 * 3600;

	e = open_engine(dir);
	t = mono();
	create(e, n, due, t0);
	t = mono() - t;
	printf("schedules: create %ld recipient-schedules: %.1f s (%.0f/s)\n",
	    n, t, n / t);
	eng_close(e);

	rss0 = rss_kib();
	start = mono();
	e = open_engine(dir);
	(void)eng_next_due(e);
	open_s = mono() - start;
	rss1 = rss_kib();
	printf("schedules: start (open + config + next due): %.3f s; "
	    "resident memory %.1f MiB (+%.1f MiB, %.1f bytes/schedule)\n",
	    open_s, rss1 / 1024.0, (rss1 - rss0) / 1024.0,
	    (rss1 - rss0) * 1024.0 / n);

	/* Replay the minute 09:00:00..09:00:59 in real time. */
	late = calloc((size_t)due + 1000, sizeof *late);
	w0 = mono();
	for (s = 0; s < 60; s++) {
		while (mono() - w0 < (double)s)
			usleep(1000);
		while (eng_next_due(e) <= day + s) {
			start = mono();
			begin(e);
			ran = eng_run_due(e, day + s);
			commit(e);
			work += mono() - start;
			if (ran <= 0)
				break;
			for (k = 0; k < ran && nl < due + 1000; k++)
				late[nl++] = mono() - w0 - (double)s;
			fires += ran;
		}
		/* Between bursts, as belfryd's housekeeping timer does. */
		if (eng_maint_due(e) != ENG_MAINT_NONE &&
		    eng_maintain(e, &cause) != 0)
			fprintf(stderr, "%s\n", cause);
	}
	printf("schedules: resident memory after the minute: %.1f MiB "
	    "(%.1f bytes/schedule; SQLite's page cache is capped at 64 MiB)\n",
	    rss_kib() / 1024.0, rss_kib() * 1024.0 / n);
	qsort(late, (size_t)nl, sizeof *late, cmp_double);
	printf("schedules: %ld fires due in one minute: %.0f fires/s of "
	    "firing work; lateness p50 %.3f s, p99 %.3f s, max %.3f s\n",
	    fires, work > 0 ? fires / work : 0.0, nl ? late[nl / 2] : 0.0,
	    nl ? late[nl * 99 / 100] : 0.0, nl ? late[nl - 1] : 0.0);
	free(late);
	eng_close(e);
	tz_shutdown();
	return 0;
}
