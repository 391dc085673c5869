/*
 * The PostgreSQL backend's bulk operations: bulk_ops holds one row per
 * operation (its progress and bounded error items), keyed by an identity
 * column, bulk_items the input items not yet processed, keyed by (op,
 * idx) with idx counting from 0 in the order of the request.  Processed
 * items are deleted in the transaction that records their progress, so
 * the remaining rows are exactly the work left.
 *
 * A pass (the one reader that asks for the operation's args) reads the
 * operation's row FOR UPDATE and holds it until its transaction ends, so
 * two nodes never run passes of one operation at once (the wait that
 * schedules a pass is claimed by one node already; the lock keeps the
 * progress consistent whatever schedules it).  Other readers read the
 * row as committed, without waiting for a pass.
 */
#include <stdint.h>
#include <string.h>

#include "engine/store/pg_int.h"

/* The statements of this file. */
enum {
	BULK_ADD, BULK_ITEM_ADD, BULK_GET, BULK_GET_LOCK, BULK_PUT, BULK_ITEMS,
	BULK_DROP, BULK_COUNT
};

#define BULK_COLUMNS "name, arg, status, total, processed, success," \
	" errors, error_items, inserted_at, updated_at, started_at," \
	" completed_at, failed_at, args"

static const char *const bulk_sql[BULK_COUNT] = {
	[BULK_ADD] = "INSERT INTO bulk_ops(name, arg, args, status, total,"
	    " processed, success, errors, error_items, inserted_at,"
	    " updated_at) VALUES($1::text, $2::text, $3::text, 'queued',"
	    " $4::bigint, 0, 0, 0, '[]', $5::bigint, $5::bigint) RETURNING"
	    " seq",
	/*
	 * Every item in one statement, numbered from 0 in the array's
	 * order; a JSON null item is SQL NULL, refused as SQLite refuses
	 * it (item is NOT NULL).
	 */
	[BULK_ITEM_ADD] = "INSERT INTO bulk_items(op, idx, item) SELECT"
	    " $1::bigint, t.i - 1, CASE WHEN json_typeof(t.v) = 'null' THEN"
	    " NULL ELSE t.v::text END FROM json_array_elements($2::json) WITH"
	    " ORDINALITY AS t(v, i)",
	[BULK_GET] = ("SELECT " BULK_COLUMNS " FROM bulk_ops WHERE seq ="
	    " $1::bigint"),
	[BULK_GET_LOCK] = ("SELECT " BULK_COLUMNS " FROM bulk_ops WHERE seq ="
	    " $1::bigint FOR UPDATE"),
	[BULK_PUT] = "UPDATE bulk_ops SET status = $2::text, processed ="
	    " $3::bigint, success = $4::bigint, errors = $5::bigint,"
	    " error_items = $6::text, updated_at = $7::bigint, started_at ="
	    " $8::bigint, completed_at = $9::bigint, failed_at = $10::bigint"
	    " WHERE seq = $1::bigint",
	[BULK_ITEMS] = "SELECT item FROM bulk_items WHERE op = $1::bigint"
	    " ORDER BY idx LIMIT $2::bigint",
	[BULK_DROP] = "DELETE FROM bulk_items WHERE op = $1::bigint AND idx <"
	    " $2::bigint",
};
const struct pg_sql pg_bulk_sql = { bulk_sql, BULK_COUNT };

/* Record an operation and its items (see store.h). */
static int64_t
pg_bulk_add(struct store *s, const char *name, const char *arg,
    json_t *args, json_t *items, int64_t now)
{
	struct pg_args a = {0}, b = {0};
	int64_t seq;

	pg_arg_text(&a, name);
	pg_arg_text(&a, arg);
	pg_arg_json(&a, args);
	pg_arg_int(&a, (int64_t)json_array_size(items));
	pg_arg_int(&a, now);
	if ((seq = pg_scalar(s, PG_BULK, BULK_ADD, &a, -1)) < 0)
		return -1;
	if (json_array_size(items) == 0)
		return seq;
	pg_arg_int(&b, seq);
	pg_arg_json(&b, items);
	if (pg_done(s, PG_BULK, BULK_ITEM_ADD, &b) != 0)
		return -1;
	return seq;
}

/*
 * Operation seq (see store.h); with args (a pass), its row is held FOR
 * UPDATE until the transaction ends.
 */
static int
pg_bulk_get(struct store *s, int64_t seq, struct store_bulk *out,
    json_t **args)
{
	struct pg_args a = {0};
	PGresult *r;
	int found = 0;

	memset(out, 0, sizeof *out);
	pg_arg_int(&a, seq);
	if ((r = pg_run(s, PG_BULK, args != NULL ? BULK_GET_LOCK : BULK_GET,
	    &a)) == NULL)
		return 0;
	if (PQntuples(r) > 0) {
		found = 1;
		out->seq = seq;
		out->name = pg_text(r, 0, 0);
		out->arg = pg_text(r, 0, 1);
		out->status = pg_text(r, 0, 2);
		out->total = pg_int(r, 0, 3);
		out->processed = pg_int(r, 0, 4);
		out->success = pg_int(r, 0, 5);
		out->errors = pg_int(r, 0, 6);
		out->error_items = pg_json(r, 0, 7);
		if (out->error_items == NULL)
			out->error_items = json_array();
		out->inserted = pg_int(r, 0, 8);
		out->updated = pg_int(r, 0, 9);
		out->started = pg_int(r, 0, 10);
		out->completed = pg_int(r, 0, 11);
		out->failed = pg_int(r, 0, 12);
		if (args != NULL)
			*args = pg_json(r, 0, 13);
	}
	PQclear(r);
	return found;
}

/* Write an operation's progress (see store.h). */
static int
pg_bulk_put(struct store *s, const struct store_bulk *b)
{
	struct pg_args a = {0};

	pg_arg_int(&a, b->seq);
	pg_arg_text(&a, b->status);
	pg_arg_int(&a, b->processed);
	pg_arg_int(&a, b->success);
	pg_arg_int(&a, b->errors);
	pg_arg_json(&a, b->error_items);
	pg_arg_int(&a, b->updated);
	pg_arg_int(&a, b->started);
	pg_arg_int(&a, b->completed);
	pg_arg_int(&a, b->failed);
	return pg_done(s, PG_BULK, BULK_PUT, &a);
}

/* The next items of an operation (see store.h). */
static size_t
pg_bulk_items(struct store *s, int64_t seq, size_t max, json_t **out)
{
	struct pg_args a = {0};
	const char *text;
	PGresult *r;
	size_t n, i;
	json_t *v;

	if (max == 0)
		return 0;
	pg_arg_int(&a, seq);
	pg_arg_int(&a, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	if ((r = pg_run(s, PG_BULK, BULK_ITEMS, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		/*
		 * An item may be any JSON value (a user id is a string), so
		 * not pg_json, which reads objects and arrays only.
		 */
		text = pg_cell(r, (int)i, 0);
		v = text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) :
		    NULL;
		out[i] = v != NULL ? v : json_null();
	}
	PQclear(r);
	return n;
}

/* Forget processed items (see store.h). */
static int
pg_bulk_items_drop(struct store *s, int64_t seq, int64_t upto)
{
	struct pg_args a = {0};

	pg_arg_int(&a, seq);
	pg_arg_int(&a, upto);
	return pg_done(s, PG_BULK, BULK_DROP, &a);
}

/* This file's operations, into the backend's table. */
void
pg_bulk_ops(struct store_ops *o)
{
	o->bulk_add = pg_bulk_add;
	o->bulk_get = pg_bulk_get;
	o->bulk_put = pg_bulk_put;
	o->bulk_items = pg_bulk_items;
	o->bulk_items_drop = pg_bulk_items_drop;
}
