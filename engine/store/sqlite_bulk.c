/*
 * The SQLite backend's bulk operations: bulk_ops holds one row per
 * operation (its progress and bounded error items), bulk_items the input
 * items not yet processed, keyed by (op, idx) with idx counting from 0 in
 * the order of the request.  Processed items are deleted in the
 * transaction that records their progress, so the remaining rows are
 * exactly the work left.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"

/* The statements of this file. */
enum {
	BULK_ADD, BULK_ITEM_ADD, BULK_GET, BULK_PUT, BULK_ITEMS, BULK_DROP,
	BULK_COUNT
};

static const char *const bulk_sql[BULK_COUNT] = {
	[BULK_ADD] = "INSERT INTO bulk_ops(name, arg, args, status, total,"
	    " processed, success, errors, error_items, inserted_at,"
	    " updated_at) VALUES(?1, ?2, ?3, 'queued', ?4, 0, 0, 0, '[]', ?5,"
	    " ?5)",
	[BULK_ITEM_ADD] = "INSERT INTO bulk_items(op, idx, item)"
	    " VALUES(?1, ?2, ?3)",
	[BULK_GET] = "SELECT name, arg, status, total, processed, success,"
	    " errors, error_items, inserted_at, updated_at, started_at,"
	    " completed_at, failed_at, args FROM bulk_ops WHERE seq = ?1",
	[BULK_PUT] = "UPDATE bulk_ops SET status = ?2, processed = ?3,"
	    " success = ?4, errors = ?5, error_items = ?6, updated_at = ?7,"
	    " started_at = ?8, completed_at = ?9, failed_at = ?10 WHERE"
	    " seq = ?1",
	[BULK_ITEMS] = "SELECT item FROM bulk_items WHERE op = ?1 ORDER BY"
	    " idx LIMIT ?2",
	[BULK_DROP] = "DELETE FROM bulk_items WHERE op = ?1 AND idx < ?2",
};
const struct sqlite_sql sqlite_bulk_sql = { bulk_sql, BULK_COUNT };

/* A statement of this file, reset. */
static sqlite3_stmt *
bulk_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_BULK, i);
}


/* Record an operation and its items (see store.h). */
static int64_t
sqlite_bulk_add(struct store *s, const char *name, const char *arg,
    json_t *args, json_t *items, int64_t now)
{
	sqlite3_stmt *st = bulk_stmt(s, BULK_ADD);
	json_t *it;
	int64_t seq;
	size_t i;

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite_bind_text(st, 2, arg);
	sqlite_bind_json(st, 3, args);
	sqlite3_bind_int64(st, 4, (int64_t)json_array_size(items));
	sqlite3_bind_int64(st, 5, now);
	if (sqlite_done(s, st) != 0)
		return -1;
	seq = sqlite3_last_insert_rowid(s->db);
	json_array_foreach(items, i, it) {
		st = bulk_stmt(s, BULK_ITEM_ADD);
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sqlite_bind_json(st, 3, it);
		if (sqlite_done(s, st) != 0)
			return -1;
	}
	return seq;
}

/* A nullable instant column. */
static int64_t
bulk_instant(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return STORE_NONE;
	return sqlite3_column_int64(st, col);
}

/* Operation seq (see store.h). */
static int
sqlite_bulk_get(struct store *s, int64_t seq, struct store_bulk *out,
    json_t **args)
{
	sqlite3_stmt *st = bulk_stmt(s, BULK_GET);
	int found;

	memset(out, 0, sizeof *out);
	sqlite3_bind_int64(st, 1, seq);
	if ((found = sqlite_row(s, st))) {
		out->seq = seq;
		out->name = sqlite_text(st, 0);
		out->arg = sqlite_text(st, 1);
		out->status = sqlite_text(st, 2);
		out->total = sqlite3_column_int64(st, 3);
		out->processed = sqlite3_column_int64(st, 4);
		out->success = sqlite3_column_int64(st, 5);
		out->errors = sqlite3_column_int64(st, 6);
		out->error_items = sqlite_json(st, 7);
		if (out->error_items == NULL)
			out->error_items = json_array();
		out->inserted = sqlite3_column_int64(st, 8);
		out->updated = sqlite3_column_int64(st, 9);
		out->started = bulk_instant(st, 10);
		out->completed = bulk_instant(st, 11);
		out->failed = bulk_instant(st, 12);
		if (args != NULL)
			*args = sqlite_json(st, 13);
	}
	sqlite3_reset(st);
	return found;
}

/* Write an operation's progress (see store.h). */
static int
sqlite_bulk_put(struct store *s, const struct store_bulk *b)
{
	sqlite3_stmt *st = bulk_stmt(s, BULK_PUT);

	sqlite3_bind_int64(st, 1, b->seq);
	sqlite3_bind_text(st, 2, b->status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, b->processed);
	sqlite3_bind_int64(st, 4, b->success);
	sqlite3_bind_int64(st, 5, b->errors);
	sqlite_bind_json(st, 6, b->error_items);
	sqlite3_bind_int64(st, 7, b->updated);
	sqlite_bind_int(st, 8, b->started);
	sqlite_bind_int(st, 9, b->completed);
	sqlite_bind_int(st, 10, b->failed);
	return sqlite_done(s, st);
}

/* The next items of an operation (see store.h). */
static size_t
sqlite_bulk_items(struct store *s, int64_t seq, size_t max, json_t **out)
{
	sqlite3_stmt *st = bulk_stmt(s, BULK_ITEMS);
	const char *text;
	size_t n = 0;
	json_t *v;

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && sqlite_row(s, st)) {
		/* An item may be any JSON value (a user id is a string). */
		text = (const char *)sqlite3_column_text(st, 0);
		v = text != NULL ? json_loads(text, JSON_DECODE_ANY, NULL) :
		    NULL;
		out[n++] = v != NULL ? v : json_null();
	}
	sqlite3_reset(st);
	return n;
}

/* Forget processed items (see store.h). */
static int
sqlite_bulk_items_drop(struct store *s, int64_t seq, int64_t upto)
{
	sqlite3_stmt *st = bulk_stmt(s, BULK_DROP);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, upto);
	return sqlite_done(s, st);
}

/* This file's operations, into the backend's table. */
void
sqlite_bulk_ops(struct store_ops *o)
{
	o->bulk_add = sqlite_bulk_add;
	o->bulk_get = sqlite_bulk_get;
	o->bulk_put = sqlite_bulk_put;
	o->bulk_items = sqlite_bulk_items;
	o->bulk_items_drop = sqlite_bulk_items_drop;
}
