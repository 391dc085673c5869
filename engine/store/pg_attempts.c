/*
 * The PostgreSQL backend's every delivery attempt.
 * (Skeleton: to be ported from sqlite_attempts.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { ATTEMPTS_COUNT };
static const char *const attempts_sql[1] = { NULL };
const struct pg_sql pg_attempts_sql = { attempts_sql, ATTEMPTS_COUNT };

/* This file's operations, into the backend's table. */
void
pg_attempts_ops(struct store_ops *o)
{
	(void)o;
}
