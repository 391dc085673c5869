/*
 * The PostgreSQL backend's retention: deleting old messages and runs in bounded chunks.
 * (Skeleton: to be ported from sqlite_retain.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { RETAIN_COUNT };
static const char *const retain_sql[1] = { NULL };
const struct pg_sql pg_retain_sql = { retain_sql, RETAIN_COUNT };

/* This file's operations, into the backend's table. */
void
pg_retain_ops(struct store_ops *o)
{
	(void)o;
}
