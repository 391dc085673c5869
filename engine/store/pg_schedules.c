/*
 * The PostgreSQL backend's schedule rows, due rows, fire records, lists, config rows.
 * (Skeleton: to be ported from sqlite_schedules.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { SCHEDULES_COUNT };
static const char *const schedules_sql[1] = { NULL };
const struct pg_sql pg_schedules_sql = { schedules_sql, SCHEDULES_COUNT };

/* This file's operations, into the backend's table. */
void
pg_schedules_ops(struct store_ops *o)
{
	(void)o;
}
