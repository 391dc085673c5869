/*
 * Baseline for the daemon benchmark: how many SQLite commits per second
 * this machine's disk allows with journal_mode=WAL and synchronous=FULL
 * (one small row and one fsync per commit), over about two seconds.
 *
 *   bench_sqlite DBFILE    prints the rate
 */
#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

/* Monotonic seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Commit single-row transactions for two seconds; print commits/s. */
int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	double t0;
	long n = 0;

	if (argc != 2 || sqlite3_open(argv[1], &db) != SQLITE_OK)
		return 2;
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)",
	    NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES('a small row')", -1,
	    &st, NULL);
	t0 = now();
	while (now() - t0 < 2.0) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		n++;
	}
	printf("%.0f\n", n / (now() - t0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}
