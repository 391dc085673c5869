/*
 * The SQLite backend's state of the step machine: waits (a delay's end, a
 * batch window's close, a fan-out's next chunk), batches and their
 * activities, and throttle hits.
 *
 * A wait is a row keyed by (due_at, kind, a, b), so the due ones come in
 * time order from the primary key.  A batch is open while it has its key
 * (bkey), which a close clears; its activities are numbered in arrival
 * order.  A throttle hit names its window's end, so the sweep finds the
 * expired ones by index.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	STEPS_WAIT_PUT, STEPS_WAIT_DEL, STEPS_WAITS_DUE, STEPS_WAIT_NEXT,
	STEPS_BATCH_FIND, STEPS_BATCH_OPEN, STEPS_BATCH_GET, STEPS_BATCH_SET,
	STEPS_BATCH_CLOSE, STEPS_BATCH_DEL,
	STEPS_ITEM_ADD, STEPS_ITEMS, STEPS_ITEM_DEL, STEPS_ITEM_COUNT,
	STEPS_ITEM_DROP,
	STEPS_THR_COUNT, STEPS_THR_ADD, STEPS_THR_GC, STEPS_THR_SWEEP,
	STEPS_COUNT
};
static const char *const steps_sql[STEPS_COUNT] = {
	[STEPS_WAIT_PUT] = "INSERT OR IGNORE INTO waits(due_at, kind, a, b)"
	    " VALUES(?1, ?2, ?3, ?4)",
	[STEPS_WAIT_DEL] = "DELETE FROM waits WHERE due_at = ?1 AND kind = ?2"
	    " AND a = ?3 AND b = ?4",
	[STEPS_WAITS_DUE] = "SELECT due_at, kind, a, b FROM waits WHERE due_at"
	    " <= ?1 ORDER BY due_at, kind, a, b LIMIT ?2",
	[STEPS_WAIT_NEXT] = "SELECT min(due_at) FROM waits",
	[STEPS_BATCH_FIND] = "SELECT id, closes_at, hard_close FROM batches"
	    " WHERE bkey = ?1",
	[STEPS_BATCH_OPEN] = "INSERT INTO batches(bkey, run_seq, idx, pc,"
	    " opened_at, closes_at, hard_close) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7)",
	[STEPS_BATCH_GET] = "SELECT bkey, run_seq, idx, pc, closes_at FROM"
	    " batches WHERE id = ?1",
	[STEPS_BATCH_SET] = "UPDATE batches SET closes_at = ?2, run_seq = ?3,"
	    " idx = ?4 WHERE id = ?1",
	[STEPS_BATCH_CLOSE] = "UPDATE batches SET bkey = NULL WHERE id = ?1",
	[STEPS_BATCH_DEL] = "DELETE FROM batches WHERE id = ?1",
	[STEPS_ITEM_ADD] = "INSERT INTO batch_items(batch_id, item, run_seq,"
	    " idx, actor, data, inserted_at) VALUES(?1, (SELECT"
	    " coalesce(max(item), 0) + 1 FROM batch_items WHERE batch_id ="
	    " ?1), ?2, ?3, ?4, ?5, ?6)",
	[STEPS_ITEMS] = "SELECT run_seq, idx, actor, data, inserted_at FROM"
	    " batch_items WHERE batch_id = ?1 ORDER BY item",
	[STEPS_ITEM_DEL] = "DELETE FROM batch_items WHERE batch_id = ?1 AND"
	    " run_seq = ?2 AND idx = ?3",
	[STEPS_ITEM_COUNT] = "SELECT count(*) FROM batch_items WHERE batch_id"
	    " = ?1",
	[STEPS_ITEM_DROP] = "DELETE FROM batch_items WHERE batch_id = ?1",
	[STEPS_THR_COUNT] = "SELECT count(*) FROM throttle_hits WHERE tkey = ?1"
	    " AND at > ?2",
	[STEPS_THR_ADD] = "INSERT OR IGNORE INTO throttle_hits(tkey, at,"
	    " run_seq, idx, expires_at) VALUES(?1, ?2, ?3, ?4, ?5)",
	[STEPS_THR_GC] = "DELETE FROM throttle_hits WHERE tkey = ?1 AND at <="
	    " ?2",
	[STEPS_THR_SWEEP] = "DELETE FROM throttle_hits WHERE (tkey, at,"
	    " run_seq, idx) IN (SELECT tkey, at, run_seq, idx FROM"
	    " throttle_hits WHERE expires_at <= ?1 LIMIT ?2)",
};
const struct sqlite_sql sqlite_steps_sql = { steps_sql, STEPS_COUNT };

/* A statement of this file, reset. */
static sqlite3_stmt *
steps_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_STEPS, i);
}

/* Bind wait w's key to statement i and step it; 0 or -1. */
static int
steps_wait_row(struct store *s, int i, const struct store_wait *w)
{
	sqlite3_stmt *st = steps_stmt(s, i);

	sqlite3_bind_int64(st, 1, w->due);
	sqlite3_bind_int(st, 2, w->kind);
	sqlite3_bind_int64(st, 3, w->a);
	sqlite3_bind_int64(st, 4, w->b);
	return sqlite_done(s, st);
}

/* Add wait w (a wait already there stays one); 0 or -1. */
static int
sqlite_wait_put(struct store *s, const struct store_wait *w)
{
	return steps_wait_row(s, STEPS_WAIT_PUT, w);
}

/* Remove wait w (none there: nothing happens); 0 or -1. */
static int
sqlite_wait_del(struct store *s, const struct store_wait *w)
{
	return steps_wait_row(s, STEPS_WAIT_DEL, w);
}

/* Up to max waits due at or before now, in key order, into out. */
static size_t
sqlite_waits_due(struct store *s, int64_t now, size_t max,
    struct store_wait *out)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_WAITS_DUE);
	size_t n = 0;

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && sqlite_row(s, st)) {
		out[n].due = sqlite3_column_int64(st, 0);
		out[n].kind = sqlite3_column_int(st, 1);
		out[n].a = sqlite3_column_int64(st, 2);
		out[n].b = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

/* When the earliest wait is due, or INT64_MAX. */
static int64_t
sqlite_wait_next(struct store *s)
{
	return sqlite_scalar(s, steps_stmt(s, STEPS_WAIT_NEXT), INT64_MAX);
}

/* The open batch of key bkey into *b (id, closes, hard): 1, or 0. */
static int
sqlite_batch_find(struct store *s, const char *bkey, struct store_batch *b)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_BATCH_FIND);
	int found;

	memset(b, 0, sizeof *b);
	sqlite3_bind_text(st, 1, bkey, -1, SQLITE_STATIC);
	if ((found = sqlite_row(s, st))) {
		b->id = sqlite3_column_int64(st, 0);
		b->open = 1;
		b->closes = sqlite3_column_int64(st, 1);
		b->hard = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return found;
}

/*
 * Open a batch of key bkey carried by recipient run (b->run, b->idx) at
 * step b->pc, opened at now, closing at b->closes and at the latest
 * b->hard; its id, or -1.
 */
static int64_t
sqlite_batch_open(struct store *s, const char *bkey,
    const struct store_batch *b, int64_t now)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_BATCH_OPEN);

	sqlite3_bind_text(st, 1, bkey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, b->run);
	sqlite3_bind_int64(st, 3, b->idx);
	sqlite3_bind_int64(st, 4, b->pc);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int64(st, 6, b->closes);
	sqlite3_bind_int64(st, 7, b->hard);
	if (sqlite_done(s, st) != 0)
		return -1;
	return sqlite3_last_insert_rowid(s->db);
}

/*
 * Batch id into *b (open, run, idx, pc, closes; not hard): 1, or 0 if
 * there is none.
 */
static int
sqlite_batch_get(struct store *s, int64_t id, struct store_batch *b)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_BATCH_GET);
	int found;

	memset(b, 0, sizeof *b);
	sqlite3_bind_int64(st, 1, id);
	if ((found = sqlite_row(s, st))) {
		b->id = id;
		b->open = sqlite3_column_type(st, 0) != SQLITE_NULL;
		b->run = sqlite3_column_int64(st, 1);
		b->idx = sqlite3_column_int64(st, 2);
		b->pc = sqlite3_column_int64(st, 3);
		b->closes = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	return found;
}

/* Set batch id's close and its carrier; 0 or -1. */
static int
sqlite_batch_set(struct store *s, int64_t id, int64_t closes, int64_t run,
    int64_t idx)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_BATCH_SET);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, closes);
	sqlite3_bind_int64(st, 3, run);
	sqlite3_bind_int64(st, 4, idx);
	return sqlite_done(s, st);
}

/* Close batch id to new activities (its key is free again); 0 or -1. */
static int
sqlite_batch_close(struct store *s, int64_t id)
{
	return sqlite_done_key(s, PART_STEPS, STEPS_BATCH_CLOSE, id);
}

/* Delete batch id and its activities; 0 or -1. */
static int
sqlite_batch_drop(struct store *s, int64_t id)
{
	int rc = sqlite_done_key(s, PART_STEPS, STEPS_ITEM_DROP, id);

	if (sqlite_done_key(s, PART_STEPS, STEPS_BATCH_DEL, id) != 0)
		rc = -1;
	return rc;
}

/* Add recipient run (run, idx)'s activity to batch id; 0 or -1. */
static int
sqlite_batch_add(struct store *s, int64_t id, const struct store_item *it)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_ITEM_ADD);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, it->run);
	sqlite3_bind_int64(st, 3, it->idx);
	sqlite_bind_text(st, 4, it->actor);
	sqlite_bind_json(st, 5, it->data);
	sqlite3_bind_int64(st, 6, it->inserted);
	return sqlite_done(s, st);
}

/*
 * Up to max of batch id's activities, in arrival order, into *out (an
 * array from malloc; each item freed with store_item_clear); their count.
 */
static size_t
sqlite_batch_items(struct store *s, int64_t id, size_t max,
    struct store_item **out)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_ITEMS);
	struct store_item *it;
	size_t n = 0, cap = 0;

	*out = NULL;
	sqlite3_bind_int64(st, 1, id);
	while (n < max && sqlite_row(s, st)) {
		if (n == cap)
			*out = xreallocarray(*out, cap = cap ? cap * 2 : 16,
			    sizeof **out);
		it = &(*out)[n++];
		it->run = sqlite3_column_int64(st, 0);
		it->idx = sqlite3_column_int64(st, 1);
		it->owned = sqlite_text(st, 2);
		it->actor = it->owned;
		it->data = sqlite_json(st, 3);
		it->inserted = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	return n;
}


/* Take recipient run (run, idx)'s activity out of batch id; 0 or -1. */
static int
sqlite_batch_remove(struct store *s, int64_t id, int64_t run, int64_t idx)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_ITEM_DEL);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, run);
	sqlite3_bind_int64(st, 3, idx);
	return sqlite_done(s, st);
}

/* How many activities batch id holds. */
static int64_t
sqlite_batch_count(struct store *s, int64_t id)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_ITEM_COUNT);

	sqlite3_bind_int64(st, 1, id);
	return sqlite_scalar(s, st, 0);
}

/*
 * How many hits throttle key has after since; the older ones, which no
 * window can count again, are deleted first.
 */
static int64_t
sqlite_throttle_count(struct store *s, const char *key, int64_t since)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_THR_GC);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	sqlite_done(s, st);
	st = steps_stmt(s, STEPS_THR_COUNT);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, since);
	return sqlite_scalar(s, st, 0);
}

/*
 * A hit on throttle key at `at` by recipient run (run, idx), counted
 * until expires; 0 or -1.
 */
static int
sqlite_throttle_hit(struct store *s, const char *key, int64_t at,
    int64_t run, int64_t idx, int64_t expires)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_THR_ADD);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_int64(st, 3, run);
	sqlite3_bind_int64(st, 4, idx);
	sqlite3_bind_int64(st, 5, expires);
	return sqlite_done(s, st);
}

/* Delete up to max throttle hits expired at now (store_sweep). */
int
sqlite_steps_sweep(struct store *s, int64_t now, int max)
{
	sqlite3_stmt *st = steps_stmt(s, STEPS_THR_SWEEP);

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, max);
	return sqlite_done(s, st);
}

/* This file's operations, into the backend's table. */
void
sqlite_steps_ops(struct store_ops *o)
{
	o->wait_put = sqlite_wait_put;
	o->wait_del = sqlite_wait_del;
	o->waits_due = sqlite_waits_due;
	o->wait_next = sqlite_wait_next;
	o->batch_find = sqlite_batch_find;
	o->batch_open = sqlite_batch_open;
	o->batch_get = sqlite_batch_get;
	o->batch_set = sqlite_batch_set;
	o->batch_close = sqlite_batch_close;
	o->batch_drop = sqlite_batch_drop;
	o->batch_add = sqlite_batch_add;
	o->batch_items = sqlite_batch_items;
	o->batch_remove = sqlite_batch_remove;
	o->batch_count = sqlite_batch_count;
	o->throttle_count = sqlite_throttle_count;
	o->throttle_hit = sqlite_throttle_hit;
}
