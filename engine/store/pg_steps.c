/*
 * The PostgreSQL backend's waits, batches and their items, throttle hits.
 * (Skeleton: to be ported from sqlite_steps.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { STEPS_COUNT };
static const char *const steps_sql[1] = { NULL };
const struct pg_sql pg_steps_sql = { steps_sql, STEPS_COUNT };

/* Delete throttle hits expired at now, at most max (store_sweep). */
int
pg_steps_sweep(struct store *s, int64_t now, int max)
{
	(void)s; (void)now; (void)max;
	return 0;
}

/* This file's operations, into the backend's table. */
void
pg_steps_ops(struct store_ops *o)
{
	(void)o;
}
