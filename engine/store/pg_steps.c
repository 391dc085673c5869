/*
 * The PostgreSQL backend's state of the step machine: waits (a delay's
 * end, a batch window's close, a fan-out's next chunk), batches and their
 * activities, and throttle hits (the port of sqlite_steps.c, which is the
 * reference for every answer).
 *
 * A wait is a row keyed by (due_at, kind, a, b); the due ones come in
 * key order and are claimed: each row is locked (FOR UPDATE SKIP LOCKED)
 * until the claiming transaction ends, in which the engine deletes it,
 * so each node resumes different work.  A batch is open while it has its
 * key (bkey, unique), which a close clears; its activities are numbered
 * by an identity column, in arrival order.
 *
 * Races between nodes: looking for the open batch of a key first takes a
 * transaction lock on the key, so of two nodes reaching one batch key the
 * second waits for the first's transaction and then finds (and joins)
 * the batch it opened; the open's ON CONFLICT (bkey) DO NOTHING is the
 * backstop.  A throttle key is counted under a transaction lock on the
 * key, held until the hit that follows is committed, so two nodes cannot
 * both pass a threshold.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/store/pg_int.h"

/*
 * The class of the two-key advisory locks on batch keys ("BLFB"); the
 * two-key space is apart from the one-key space that the throttle keys
 * and the migration lock use.
 */
#define STEPS_BATCH_LOCK "1112295746"

/* The statements of this file. */
enum {
	STEPS_WAIT_PUT, STEPS_WAIT_DEL, STEPS_WAITS_DUE,
	STEPS_BATCH_LOCK_KEY, STEPS_BATCH_FIND, STEPS_BATCH_OPEN,
	STEPS_BATCH_GET, STEPS_BATCH_SET, STEPS_BATCH_CLOSE, STEPS_BATCH_DEL,
	STEPS_ITEM_ADD, STEPS_ITEMS, STEPS_ITEM_DEL, STEPS_ITEM_COUNT,
	STEPS_ITEM_DROP,
	STEPS_THR_LOCK, STEPS_THR_COUNT, STEPS_THR_ADD, STEPS_THR_SWEEP,
	STEPS_COUNT
};
static const char *const steps_sql[STEPS_COUNT] = {
	[STEPS_WAIT_PUT] = ("INSERT INTO waits(due_at, kind, a, b)"
	    " VALUES($1::bigint, $2::bigint, $3::bigint, $4::bigint) ON"
	    " CONFLICT DO NOTHING"),
	[STEPS_WAIT_DEL] = ("DELETE FROM waits WHERE due_at = $1::bigint AND"
	    " kind = $2::bigint AND a = $3::bigint AND b = $4::bigint"),
	[STEPS_WAITS_DUE] = ("SELECT due_at, kind, a, b FROM waits WHERE"
	    " due_at <= $1::bigint ORDER BY due_at, kind, a, b LIMIT"
	    " $2::bigint FOR UPDATE SKIP LOCKED"),
	[STEPS_BATCH_LOCK_KEY] = ("SELECT pg_advisory_xact_lock("
	    STEPS_BATCH_LOCK ", hashtext($1::text))"),
	[STEPS_BATCH_FIND] = ("SELECT id, closes_at, hard_close FROM batches"
	    " WHERE bkey = $1::text FOR UPDATE"),
	[STEPS_BATCH_OPEN] = ("INSERT INTO batches(bkey, run_seq, idx, pc,"
	    " opened_at, closes_at, hard_close) VALUES($1::text, $2::bigint,"
	    " $3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint) ON"
	    " CONFLICT (bkey) DO NOTHING RETURNING id"),
	[STEPS_BATCH_GET] = ("SELECT bkey IS NOT NULL, run_seq, idx, pc,"
	    " closes_at FROM batches WHERE id = $1::bigint"),
	[STEPS_BATCH_SET] = ("UPDATE batches SET closes_at = $2::bigint,"
	    " run_seq = $3::bigint, idx = $4::bigint WHERE id = $1::bigint"),
	[STEPS_BATCH_CLOSE] = ("UPDATE batches SET bkey = NULL WHERE id ="
	    " $1::bigint"),
	[STEPS_BATCH_DEL] = "DELETE FROM batches WHERE id = $1::bigint",
	[STEPS_ITEM_ADD] = ("INSERT INTO batch_items(batch_id, run_seq, idx,"
	    " actor, data, inserted_at) VALUES($1::bigint, $2::bigint,"
	    " $3::bigint, $4::text, $5::text, $6::bigint)"),
	[STEPS_ITEMS] = ("SELECT run_seq, idx, actor, data, inserted_at FROM"
	    " batch_items WHERE batch_id = $1::bigint ORDER BY item LIMIT"
	    " $2::bigint"),
	[STEPS_ITEM_DEL] = ("DELETE FROM batch_items WHERE batch_id ="
	    " $1::bigint AND run_seq = $2::bigint AND idx = $3::bigint"),
	[STEPS_ITEM_COUNT] = ("SELECT count(*) FROM batch_items WHERE"
	    " batch_id = $1::bigint"),
	[STEPS_ITEM_DROP] = ("DELETE FROM batch_items WHERE batch_id ="
	    " $1::bigint"),
	[STEPS_THR_LOCK] = ("SELECT pg_advisory_xact_lock(hashtextextended("
	    "$1::text, 0))"),
	/*
	 * The hits no window can count again go as the rest are counted
	 * (but those a sweep holds, which it deletes).
	 */
	[STEPS_THR_COUNT] = ("WITH gc AS (DELETE FROM throttle_hits WHERE"
	    " (tkey, at, run_seq, idx) IN (SELECT tkey, at, run_seq, idx FROM"
	    " throttle_hits WHERE tkey = $1::text AND at <= $2::bigint FOR"
	    " UPDATE SKIP LOCKED)) SELECT count(*) FROM throttle_hits WHERE"
	    " tkey = $1::text AND at > $2::bigint"),
	[STEPS_THR_ADD] = ("INSERT INTO throttle_hits(tkey, at, run_seq, idx,"
	    " expires_at) VALUES($1::text, $2::bigint, $3::bigint, $4::bigint,"
	    " $5::bigint) ON CONFLICT DO NOTHING"),
	/* Rows another node's sweep or count holds are left to it. */
	[STEPS_THR_SWEEP] = ("DELETE FROM throttle_hits WHERE (tkey, at,"
	    " run_seq, idx) IN (SELECT tkey, at, run_seq, idx FROM"
	    " throttle_hits WHERE expires_at <= $1::bigint LIMIT $2::bigint"
	    " FOR UPDATE SKIP LOCKED)"),
};
const struct pg_sql pg_steps_sql = { steps_sql, STEPS_COUNT };

/* Run statement i with $1 = key for its effect; 0 or -1. */
static int
steps_done_key(struct store *s, int i, int64_t key)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, key);
	return pg_done(s, PG_STEPS, i, &a);
}

/* A size as a LIMIT (NULL: none, for sizes past int64's). */
static void
steps_arg_max(struct pg_args *a, size_t max)
{
	pg_arg_int(a, max > (size_t)INT64_MAX ? STORE_NONE : (int64_t)max);
}

/* Run statement i with wait w's key; 0 or -1. */
static int
steps_wait_row(struct store *s, int i, const struct store_wait *w)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, w->due);
	pg_arg_int(&a, w->kind);
	pg_arg_int(&a, w->a);
	pg_arg_int(&a, w->b);
	return pg_done(s, PG_STEPS, i, &a);
}

/* Add wait w (a wait already there stays one); 0 or -1. */
static int
pg_wait_put(struct store *s, const struct store_wait *w)
{
	pg_due_added(s, w->due);
	return steps_wait_row(s, STEPS_WAIT_PUT, w);
}

/* Remove wait w (none there: nothing happens); 0 or -1. */
static int
pg_wait_del(struct store *s, const struct store_wait *w)
{
	return steps_wait_row(s, STEPS_WAIT_DEL, w);
}

/*
 * Up to max waits due at or before now, in key order, into out: claimed
 * (locked until the transaction ends; rows another node holds are
 * skipped).
 */
static size_t
pg_waits_due(struct store *s, int64_t now, size_t max, struct store_wait *out)
{
	struct pg_args a = { 0 };
	PGresult *r;
	size_t n, i;

	pg_arg_int(&a, now);
	steps_arg_max(&a, max);
	if ((r = pg_run(s, PG_STEPS, STEPS_WAITS_DUE, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		out[i].due = pg_int(r, (int)i, 0);
		out[i].kind = (int)pg_int(r, (int)i, 1);
		out[i].a = pg_int(r, (int)i, 2);
		out[i].b = pg_int(r, (int)i, 3);
	}
	PQclear(r);
	return n;
}

/* When the earliest wait is due, or INT64_MAX. */
static int64_t
pg_wait_next(struct store *s)
{
	return pg_next(s, PG_NEXT_WAITS);
}

/*
 * The open batch of key bkey into *b (id, closes, hard): 1, or 0.  The
 * key stays locked until the transaction ends (see the top of this
 * file), and so does the batch's row.
 */
static int
pg_batch_find(struct store *s, const char *bkey, struct store_batch *b)
{
	struct pg_args a = { 0 };
	PGresult *r;
	int found;

	memset(b, 0, sizeof *b);
	pg_arg_text(&a, bkey);
	if (pg_done(s, PG_STEPS, STEPS_BATCH_LOCK_KEY, &a) != 0)
		return 0;
	memset(&a, 0, sizeof a);
	pg_arg_text(&a, bkey);
	if ((r = pg_run(s, PG_STEPS, STEPS_BATCH_FIND, &a)) == NULL)
		return 0;
	if ((found = PQntuples(r) > 0)) {
		b->id = pg_int(r, 0, 0);
		b->open = 1;
		b->closes = pg_int(r, 0, 1);
		b->hard = pg_int(r, 0, 2);
	}
	PQclear(r);
	return found;
}

/*
 * Open a batch of key bkey carried by recipient run (b->run, b->idx) at
 * step b->pc, opened at now, closing at b->closes and at the latest
 * b->hard; its id, or -1 (also when another transaction holds the key
 * open: batch_find, which locks the key, comes first).
 */
static int64_t
pg_batch_open(struct store *s, const char *bkey, const struct store_batch *b,
    int64_t now)
{
	struct pg_args a = { 0 };
	int64_t id = -1;
	PGresult *r;

	pg_arg_text(&a, bkey);
	pg_arg_int(&a, b->run);
	pg_arg_int(&a, b->idx);
	pg_arg_int(&a, b->pc);
	pg_arg_int(&a, now);
	pg_arg_int(&a, b->closes);
	pg_arg_int(&a, b->hard);
	if ((r = pg_run(s, PG_STEPS, STEPS_BATCH_OPEN, &a)) == NULL)
		return -1;
	if (PQntuples(r) > 0)
		id = pg_int(r, 0, 0);
	else
		pg_failed(s, "postgresql: a batch of this key is already open");
	PQclear(r);
	return id;
}

/*
 * Batch id into *b (open, run, idx, pc, closes; not hard): 1, or 0 if
 * there is none.
 */
static int
pg_batch_get(struct store *s, int64_t id, struct store_batch *b)
{
	struct pg_args a = { 0 };
	PGresult *r;
	int found;

	memset(b, 0, sizeof *b);
	pg_arg_int(&a, id);
	if ((r = pg_run(s, PG_STEPS, STEPS_BATCH_GET, &a)) == NULL)
		return 0;
	if ((found = PQntuples(r) > 0)) {
		b->id = id;
		b->open = pg_int(r, 0, 0) == 1;
		b->run = pg_int(r, 0, 1);
		b->idx = pg_int(r, 0, 2);
		b->pc = pg_int(r, 0, 3);
		b->closes = pg_int(r, 0, 4);
	}
	PQclear(r);
	return found;
}

/* Set batch id's close and its carrier; 0 or -1. */
static int
pg_batch_set(struct store *s, int64_t id, int64_t closes, int64_t run,
    int64_t idx)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, id);
	pg_arg_int(&a, closes);
	pg_arg_int(&a, run);
	pg_arg_int(&a, idx);
	return pg_done(s, PG_STEPS, STEPS_BATCH_SET, &a);
}

/* Close batch id to new activities (its key is free again); 0 or -1. */
static int
pg_batch_close(struct store *s, int64_t id)
{
	return steps_done_key(s, STEPS_BATCH_CLOSE, id);
}

/* Delete batch id and its activities; 0 or -1. */
static int
pg_batch_drop(struct store *s, int64_t id)
{
	int rc = steps_done_key(s, STEPS_ITEM_DROP, id);

	if (steps_done_key(s, STEPS_BATCH_DEL, id) != 0)
		rc = -1;
	return rc;
}

/* Add recipient run (run, idx)'s activity to batch id; 0 or -1. */
static int
pg_batch_add(struct store *s, int64_t id, const struct store_item *it)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, id);
	pg_arg_int(&a, it->run);
	pg_arg_int(&a, it->idx);
	pg_arg_text(&a, it->actor);
	pg_arg_json(&a, it->data);
	pg_arg_int(&a, it->inserted);
	return pg_done(s, PG_STEPS, STEPS_ITEM_ADD, &a);
}

/*
 * Up to max of batch id's activities, in arrival order, into *out (an
 * array from malloc; each item freed with store_item_clear); their count.
 */
static size_t
pg_batch_items(struct store *s, int64_t id, size_t max,
    struct store_item **out)
{
	struct pg_args a = { 0 };
	struct store_item *it;
	PGresult *r;
	size_t n, i;

	*out = NULL;
	pg_arg_int(&a, id);
	steps_arg_max(&a, max);
	if ((r = pg_run(s, PG_STEPS, STEPS_ITEMS, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	if (n > 0)
		*out = xreallocarray(NULL, n, sizeof **out);
	for (i = 0; i < n; i++) {
		it = &(*out)[i];
		it->run = pg_int(r, (int)i, 0);
		it->idx = pg_int(r, (int)i, 1);
		it->owned = pg_text(r, (int)i, 2);
		it->actor = it->owned;
		it->data = pg_json(r, (int)i, 3);
		it->inserted = pg_int(r, (int)i, 4);
	}
	PQclear(r);
	return n;
}

/* Take recipient run (run, idx)'s activity out of batch id; 0 or -1. */
static int
pg_batch_remove(struct store *s, int64_t id, int64_t run, int64_t idx)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, id);
	pg_arg_int(&a, run);
	pg_arg_int(&a, idx);
	return pg_done(s, PG_STEPS, STEPS_ITEM_DEL, &a);
}

/* How many activities batch id holds. */
static int64_t
pg_batch_count(struct store *s, int64_t id)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, id);
	return pg_scalar(s, PG_STEPS, STEPS_ITEM_COUNT, &a, 0);
}

/*
 * How many hits throttle key has after since; the older ones, which no
 * window can count again, are deleted.  The key stays locked until the
 * transaction ends, so the hit that follows a count under the threshold
 * is in before another node counts.
 */
static int64_t
pg_throttle_count(struct store *s, const char *key, int64_t since)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, key);
	if (pg_done(s, PG_STEPS, STEPS_THR_LOCK, &a) != 0)
		return 0;
	memset(&a, 0, sizeof a);
	pg_arg_text(&a, key);
	pg_arg_int(&a, since);
	return pg_scalar(s, PG_STEPS, STEPS_THR_COUNT, &a, 0);
}

/*
 * A hit on throttle key at `at` by recipient run (run, idx), counted
 * until expires; 0 or -1.
 */
static int
pg_throttle_hit(struct store *s, const char *key, int64_t at, int64_t run,
    int64_t idx, int64_t expires)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, key);
	pg_arg_int(&a, at);
	pg_arg_int(&a, run);
	pg_arg_int(&a, idx);
	pg_arg_int(&a, expires);
	return pg_done(s, PG_STEPS, STEPS_THR_ADD, &a);
}

/*
 * Delete up to max throttle hits expired at now (store_sweep), but those
 * another transaction holds (any node may sweep); 0 or -1.
 */
int
pg_steps_sweep(struct store *s, int64_t now, int max)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, now);
	pg_arg_int(&a, max);
	return pg_done(s, PG_STEPS, STEPS_THR_SWEEP, &a);
}

/* This file's operations, into the backend's table. */
void
pg_steps_ops(struct store_ops *o)
{
	o->wait_put = pg_wait_put;
	o->wait_del = pg_wait_del;
	o->waits_due = pg_waits_due;
	o->wait_next = pg_wait_next;
	o->batch_find = pg_batch_find;
	o->batch_open = pg_batch_open;
	o->batch_get = pg_batch_get;
	o->batch_set = pg_batch_set;
	o->batch_close = pg_batch_close;
	o->batch_drop = pg_batch_drop;
	o->batch_add = pg_batch_add;
	o->batch_items = pg_batch_items;
	o->batch_remove = pg_batch_remove;
	o->batch_count = pg_batch_count;
	o->throttle_count = pg_throttle_count;
	o->throttle_hit = pg_throttle_hit;
}
