/*
 * The PostgreSQL backend's bulk operations and their items.
 * (Skeleton: to be ported from sqlite_bulk.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { BULK_COUNT };
static const char *const bulk_sql[1] = { NULL };
const struct pg_sql pg_bulk_sql = { bulk_sql, BULK_COUNT };

/* This file's operations, into the backend's table. */
void
pg_bulk_ops(struct store_ops *o)
{
	(void)o;
}
