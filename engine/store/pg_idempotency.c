/*
 * The PostgreSQL backend's stored replies of idempotent requests.
 * (Skeleton: to be ported from sqlite_idempotency.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { IDEMPOTENCY_COUNT };
static const char *const idempotency_sql[1] = { NULL };
const struct pg_sql pg_idempotency_sql = { idempotency_sql, IDEMPOTENCY_COUNT };

/* Delete up to max replies made before `before` (store_sweep); 0 or -1. */
int
pg_idempotency_sweep(struct store *s, int64_t before, int max)
{
	(void)s; (void)before; (void)max;
	return 0;
}

/* This file's operations, into the backend's table. */
void
pg_idempotency_ops(struct store_ops *o)
{
	(void)o;
}
