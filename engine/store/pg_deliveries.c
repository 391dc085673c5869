/*
 * The PostgreSQL backend's outgoing deliveries, claimed with leases.
 * (Skeleton: to be ported from sqlite_deliveries.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { DELIVERIES_COUNT };
static const char *const deliveries_sql[1] = { NULL };
const struct pg_sql pg_deliveries_sql = { deliveries_sql, DELIVERIES_COUNT };

/* This file's operations, into the backend's table. */
void
pg_deliveries_ops(struct store_ops *o)
{
	(void)o;
}
