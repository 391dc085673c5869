/*
 * The PostgreSQL backend's idempotency keys: the stored reply of a request
 * made with an Idempotency-Key, by key, with its creation time (the
 * engine decides how long it counts; the sweep deletes by age through the
 * index on created_at).  Two nodes storing one key race harmlessly: the
 * upsert replaces the row as SQLite's INSERT OR REPLACE does, and a sweep
 * skips the rows another transaction holds (a node replacing the reply,
 * or sweeping too).
 */
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum { IDEM_GET, IDEM_PUT, IDEM_GC, IDEMPOTENCY_COUNT };
static const char *const idempotency_sql[IDEMPOTENCY_COUNT] = {
	[IDEM_GET] = "SELECT status, body, created_at FROM idempotency"
	    " WHERE k = $1::text",
	[IDEM_PUT] = "INSERT INTO idempotency(k, status, body, created_at)"
	    " VALUES($1::text, $2::bigint, $3::text, $4::bigint)"
	    " ON CONFLICT(k) DO UPDATE SET status = excluded.status,"
	    " body = excluded.body, created_at = excluded.created_at",
	/* The oldest first; a row another node holds is left to it. */
	[IDEM_GC] = "DELETE FROM idempotency WHERE k IN (SELECT k FROM"
	    " idempotency WHERE created_at < $1::bigint ORDER BY created_at"
	    " LIMIT $2::bigint FOR UPDATE SKIP LOCKED)",
};
const struct pg_sql pg_idempotency_sql = { idempotency_sql, IDEMPOTENCY_COUNT };

/* The reply stored under key: 1 with *status, *body and *created, or 0. */
static int
pg_idem_get(struct store *s, const char *key, int *status, char **body,
    int64_t *created)
{
	struct pg_args a = { 0 };
	PGresult *r;
	int found;

	pg_arg_text(&a, key);
	if ((r = pg_run(s, PG_IDEMPOTENCY, IDEM_GET, &a)) == NULL)
		return 0;
	if ((found = PQntuples(r) > 0)) {
		*status = (int)pg_int(r, 0, 0);
		*body = pg_text(r, 0, 1);
		*created = pg_int(r, 0, 2);
	}
	PQclear(r);
	return found;
}

/* Store (or replace) the reply under key, made at now; 0 or -1. */
static int
pg_idem_put(struct store *s, const char *key, int status, const char *body,
    int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, key);
	pg_arg_int(&a, status);
	pg_arg_text(&a, body);
	pg_arg_int(&a, now);
	return pg_done(s, PG_IDEMPOTENCY, IDEM_PUT, &a);
}

/* Delete up to max replies made before `before` (store_sweep); 0 or -1. */
int
pg_idempotency_sweep(struct store *s, int64_t before, int max)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, before);
	pg_arg_int(&a, max);
	return pg_done(s, PG_IDEMPOTENCY, IDEM_GC, &a);
}

/* This file's operations, into the backend's table. */
void
pg_idempotency_ops(struct store_ops *o)
{
	o->idem_get = pg_idem_get;
	o->idem_put = pg_idem_put;
}
