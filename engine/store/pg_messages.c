/*
 * The PostgreSQL backend's messages, feed pages and counts.
 * (Skeleton: to be ported from sqlite_messages.c.)
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { MESSAGES_COUNT };
static const char *const messages_sql[1] = { NULL };
const struct pg_sql pg_messages_sql = { messages_sql, MESSAGES_COUNT };

/* This file's operations, into the backend's table. */
void
pg_messages_ops(struct store_ops *o)
{
	(void)o;
}
