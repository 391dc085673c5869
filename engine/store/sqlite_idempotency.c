/*
 * The SQLite backend's idempotency keys: the stored reply of a request
 * made with an Idempotency-Key, by key, with its creation time (the
 * engine decides how long it counts; the sweep deletes by age through an
 * index on created_at).
 */
#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum { IDEM_GET, IDEM_PUT, IDEM_GC, IDEM_COUNT };
static const char *const idem_sql[IDEM_COUNT] = {
	[IDEM_GET] = "SELECT status, body, created_at FROM idempotency"
	    " WHERE k = ?1",
	[IDEM_PUT] = "INSERT OR REPLACE INTO idempotency(k, status, body,"
	    " created_at) VALUES(?1, ?2, ?3, ?4)",
	[IDEM_GC] = "DELETE FROM idempotency WHERE k IN (SELECT k FROM"
	    " idempotency WHERE created_at < ?1 LIMIT ?2)",
};
const struct sqlite_sql sqlite_idempotency_sql = { idem_sql, IDEM_COUNT };

/* The reply stored under key: 1 with *status, *body and *created, or 0. */
static int
sqlite_idem_get(struct store *s, const char *key, int *status, char **body,
    int64_t *created)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_IDEMPOTENCY, IDEM_GET);
	int found;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((found = sqlite_row(s, st))) {
		*status = sqlite3_column_int(st, 0);
		*body = sqlite_text(st, 1);
		*created = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return found;
}

/* Store (or replace) the reply under key, made at now; 0 or -1. */
static int
sqlite_idem_put(struct store *s, const char *key, int status,
    const char *body, int64_t now)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_IDEMPOTENCY, IDEM_PUT);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, status);
	sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	return sqlite_done(s, st);
}

/* Delete up to max replies made before `before` (store_sweep); 0 or -1. */
int
sqlite_idempotency_sweep(struct store *s, int64_t before, int max)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_IDEMPOTENCY, IDEM_GC);

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, max);
	return sqlite_done(s, st);
}

/* This file's operations, into the backend's table. */
void
sqlite_idempotency_ops(struct store_ops *o)
{
	o->idem_get = sqlite_idem_get;
	o->idem_put = sqlite_idem_put;
}
