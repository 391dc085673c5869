/*
 * The PostgreSQL backend's users, objects, tenants, subscriptions, preference sets, channel data.
 * (Skeleton: to be ported from sqlite_recipients.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { RECIPIENTS_COUNT };
static const char *const recipients_sql[1] = { NULL };
const struct pg_sql pg_recipients_sql = { recipients_sql, RECIPIENTS_COUNT };

/* This file's operations, into the backend's table. */
void
pg_recipients_ops(struct store_ops *o)
{
	(void)o;
}
