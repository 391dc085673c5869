/*
 * The PostgreSQL backend's the source event log, counts by outcome, source runs.
 * (Skeleton: to be ported from sqlite_sources.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { SOURCES_COUNT };
static const char *const sources_sql[1] = { NULL };
const struct pg_sql pg_sources_sql = { sources_sql, SOURCES_COUNT };

/* This file's operations, into the backend's table. */
void
pg_sources_ops(struct store_ops *o)
{
	(void)o;
}
