/*
 * Engine benchmarks on a real SQLite file (synchronous=FULL), beside a raw
 * baseline measured in the same run:
 *   - raw: SQLite inserts of message-sized rows into an append-only table
 *   - fan-out: one trigger to an object with N subscribers (default
 *     1,000,000), run to completion in 1000-subscriber chunks, one commit
 *     each; wall time and the process's peak resident memory
 *   - batch joins per second: triggers that join an open batch
 *
 *   bench_engine DIR [SUBSCRIBERS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "engine/engine_int.h"

/* Monotonic seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Peak resident memory of this process in MiB. */
static double
peak_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024.0;
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

/* Raw baseline: rows per second appended with one commit per 1000. */
static double
raw_rate(const char *dir)
{
	char path[600];
	sqlite3 *db;
	sqlite3_stmt *st;
	double t0;
	int i, j;

	snprintf(path, sizeof path, "%s/raw.db", dir);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "CREATE TABLE m(seq INTEGER PRIMARY KEY, run INTEGER, rcpt TEXT,"
	    " body TEXT)", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO m(run, rcpt, body) VALUES(?1, ?2,"
	    " '{\"markdown\":\"someone did something\"}')", -1, &st, NULL);
	t0 = now();
	for (i = 0; i < 200; i++) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (j = 0; j < 1000; j++) {
			sqlite3_bind_int(st, 1, i);
			sqlite3_bind_text(st, 2, "m0000001", -1, SQLITE_STATIC);
			sqlite3_step(st);
			sqlite3_reset(st);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	t0 = 200000 / (now() - t0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return t0;
}

/* Trigger wf with body text at t in its own transaction. */
static void
trigger(struct eng *e, const char *wf, const char *text, int64_t t)
{
	json_t *body = json_loads(text, 0, NULL), *reply = NULL;
	char *cause = NULL;

	eng_begin(e, &cause);
	if (eng_trigger(e, wf, body, t, &reply, &cause) != ENG_OK) {
		fprintf(stderr, "bench_engine: %s\n", cause);
		exit(1);
	}
	eng_commit(e, &cause);
	json_decref(reply);
	json_decref(body);
}

/* Run the three figures and print them. */
int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long nsubs = argc > 2 ? atol(argv[2]) : 1000000, i, j;
	char *cause = NULL, path[600], id[32];
	struct eng_config *c;
	struct eng *e;
	json_t *b, *rs, *reply;
	double t0, fan, raw, joins, setup;
	int64_t t = 1000;
	long chunks = 0;

	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0) {
		fprintf(stderr, "bench_engine: %s\n", cause);
		return 1;
	}
	snprintf(path, sizeof path, "%s/workflows", dir);
	mkdir(path, 0700);
	put(dir, "belfry.conf", "{\"channels\": {\"feed\": {\"type\":"
	    " \"in_app_feed\"}}}");
	put(dir, "workflows/fan.json", "{\"key\": \"fan\", \"steps\": [{\"ref\":"
	    " \"f\", \"type\": \"channel\", \"channel\": \"feed\", \"template\":"
	    " {\"markdown\": \"news for {{ recipient.id }}\"}}]}");
	put(dir, "workflows/batch.json", "{\"key\": \"batch\", \"steps\": ["
	    "{\"ref\": \"b\", \"type\": \"batch\", \"window\": {\"hours\": 1}},"
	    "{\"ref\": \"f\", \"type\": \"channel\", \"channel\": \"feed\","
	    " \"template\": {\"markdown\": \"{{ total_activities }}\"}}]}");
	if ((c = eng_config_load(dir, &cause)) == NULL) {
		fprintf(stderr, "bench_engine: %s\n", cause);
		return 1;
	}
	snprintf(path, sizeof path, "%s/bench.db", dir);
	if ((e = eng_open(path, &cause)) == NULL)
		return 1;
	eng_set_config(e, c);
	raw = raw_rate(dir);

	/* Set-up (not timed as fan-out): the object and its subscribers. */
	t0 = now();
	eng_begin(e, &cause);
	b = json_object();
	eng_object_put(e, "topics", "all", b, t, &reply, &cause);
	json_decref(reply);
	json_decref(b);
	for (i = 0; i < nsubs; i += 100) {
		rs = json_array();
		for (j = i; j < i + 100 && j < nsubs; j++) {
			snprintf(id, sizeof id, "s%07ld", j);
			json_array_append_new(rs, json_string(id));
		}
		b = json_pack("{s:o}", "recipients", rs);
		reply = NULL;
		eng_subs_add(e, "topics", "all", b, t, &reply, &cause);
		json_decref(reply);
		json_decref(b);
		if (i % 100000 == 99900) {
			eng_commit(e, &cause);
			eng_begin(e, &cause);
		}
	}
	eng_commit(e, &cause);
	setup = now() - t0;

	t0 = now();
	trigger(e, "fan", "{\"recipients\": [{\"id\": \"all\", \"collection\":"
	    " \"topics\"}]}", t);
	while (eng_next_due(e) <= t) {
		eng_begin(e, &cause);
		eng_run_due(e, t);
		eng_commit(e, &cause);
		chunks++;
	}
	fan = now() - t0;

	t0 = now();
	for (i = 0; i < 20000; i++)
		trigger(e, "batch", "{\"recipients\": [\"reader\"],"
		    " \"actor\": \"a\"}", t + 1);
	joins = 20000 / (now() - t0);

	printf("engine (this machine, synchronous=FULL)\n");
	printf("  baseline: raw SQLite appends, 1000/commit  %10.0f rows/s\n",
	    raw);
	printf("  fan-out to %ld subscribers             %10.2f s "
	    "(%ld chunks, %.0f runs/s, %.2fx raw)\n", nsubs, fan, chunks,
	    nsubs / fan, nsubs / fan / raw);
	printf("  peak resident memory                      %10.1f MiB\n",
	    peak_mib());
	printf("  batch joins, one commit each              %10.0f /s\n",
	    joins);
	printf("  (set-up: %ld subscriptions in %.1f s)\n", nsubs, setup);
	eng_close(e);
	tz_shutdown();
	return 0;
}
