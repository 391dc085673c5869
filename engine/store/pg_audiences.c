/*
 * The PostgreSQL backend's audience members.
 * (Skeleton: to be ported from sqlite_audiences.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { AUDIENCES_COUNT };
static const char *const audiences_sql[1] = { NULL };
const struct pg_sql pg_audiences_sql = { audiences_sql, AUDIENCES_COUNT };

/* This file's operations, into the backend's table. */
void
pg_audiences_ops(struct store_ops *o)
{
	(void)o;
}
