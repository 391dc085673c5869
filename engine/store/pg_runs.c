/*
 * The PostgreSQL backend's workflow runs, recipient runs, run lists, the fan-out queue, cancel tombstones.
 * (Skeleton: to be ported from sqlite_runs.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { RUNS_COUNT };
static const char *const runs_sql[1] = { NULL };
const struct pg_sql pg_runs_sql = { runs_sql, RUNS_COUNT };

/* Delete the cancels no pending fan-out can meet (store_sweep). */
int
pg_runs_sweep(struct store *s)
{
	(void)s;
	return 0;
}

/* This file's operations, into the backend's table. */
void
pg_runs_ops(struct store_ops *o)
{
	(void)o;
}
