/*
 * The PostgreSQL backend's retention: deleting messages and runs older
 * than their windows, in bounded chunks, oldest first, as
 * sqlite_retain.c does.
 *
 * Messages go in seq order: a pass deletes the run of oldest messages
 * inserted before the cutoff (with their deliveries, delivery attempts
 * and events) as one key range.  Runs go in seq order too, each with its
 * recipient runs and where a source made it; a run that still waits (a
 * paused or batched recipient run, a fan-out under way) or changed after
 * the cutoff is passed over and looked at again by a later pass.
 *
 * The newest message and the newest run are never deleted, as in SQLite
 * (identity columns would not give their keys again anyway), so that both
 * backends delete the same rows.
 *
 * Several nodes may run a pass at once: each takes a transaction-scoped
 * advisory lock first, so passes follow one another (the second finds
 * what the first left) instead of deleting the same ranges concurrently.
 */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/store/pg_int.h"

/* How many runs one scan of ret_runs reads. */
#define RET_SCAN 256

/* The statements of this file. */
enum {
	RET_LOCK, RET_MSG_SCAN, RET_MSG_DEL, RET_MSG_DELIVERY,
	RET_MSG_ATTEMPTS, RET_MSG_EVENTS, RET_RUN_SCAN, RET_RUN_STATE,
	RET_RUN_DEL_RR, RET_RUN_DEL, RET_RUN_DEL_SRC, RET_RUN_DEL_SEEN,
	RET_COUNT
};
static const char *const retain_sql[RET_COUNT] = {
	[RET_LOCK] = "SELECT pg_advisory_xact_lock(hashtextextended("
	    "'belfry_retain', 0))",
	[RET_MSG_SCAN] = "SELECT seq, inserted_at FROM messages WHERE seq <"
	    " (SELECT max(seq) FROM messages) ORDER BY seq LIMIT $1::bigint",
	[RET_MSG_DEL] = "DELETE FROM messages WHERE seq <= $1::bigint",
	/*
	 * What goes with a message, by its seq ($1: the highest seq
	 * deleted).  Every table keyed by a message's seq belongs here.
	 */
	[RET_MSG_DELIVERY] = ("DELETE FROM deliveries WHERE message_seq <="
	    " $1::bigint"),
	[RET_MSG_ATTEMPTS] = ("DELETE FROM delivery_attempts WHERE"
	    " message_seq <= $1::bigint"),
	[RET_MSG_EVENTS] = ("DELETE FROM message_events WHERE message_seq"
	    " <= $1::bigint"),
	[RET_RUN_SCAN] = "SELECT seq, inserted_at FROM runs WHERE seq >"
	    " $1::bigint AND seq < (SELECT max(seq) FROM runs) ORDER BY seq"
	    " LIMIT $2::bigint",
	/* The run's last change and whether anything of it still waits. */
	[RET_RUN_STATE] = "SELECT coalesce(max(updated_at), 0),"
	    " count(*) FILTER (WHERE status IN ('paused', 'batched')) +"
	    " CAST(EXISTS(SELECT 1 FROM fanout WHERE run_seq = $1::bigint) AS"
	    " int) FROM rruns WHERE id BETWEEN ($1::bigint << 24) AND"
	    " (($1::bigint << 24) | 16777215)",
	[RET_RUN_DEL_RR] = "DELETE FROM rruns WHERE id BETWEEN ($1::bigint"
	    " << 24) AND (($1::bigint << 24) | 16777215)",
	[RET_RUN_DEL] = "DELETE FROM runs WHERE seq = $1::bigint",
	[RET_RUN_DEL_SRC] = "DELETE FROM source_runs WHERE run_seq ="
	    " $1::bigint",
	[RET_RUN_DEL_SEEN] = "DELETE FROM fanout_seen WHERE run_seq ="
	    " $1::bigint",
};
const struct pg_sql pg_retain_sql = { retain_sql, RET_COUNT };

/* Run statement i with $1 = key; the rows it deleted, or -1. */
static int64_t
ret_delete(struct store *s, int i, int64_t key)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, key);
	return pg_changed(s, PG_RETAIN, i, &a);
}

/*
 * Delete up to max messages inserted before cut; *oldest: when the oldest
 * message left that a later pass may delete was inserted (STORE_NONE:
 * none).  1 when max were deleted (more may be due), 0, or -1.
 */
static int
ret_messages(struct store *s, int64_t cut, int max, struct store_retained *out,
    int64_t *oldest)
{
	struct pg_args a = { 0 };
	PGresult *r;
	int64_t hi = 0, n = 0, k;
	int i, rows;

	*oldest = STORE_NONE;
	pg_arg_int(&a, (int64_t)max + 1);
	if ((r = pg_run(s, PG_RETAIN, RET_MSG_SCAN, &a)) == NULL)
		return -1;
	for (i = 0, rows = PQntuples(r); i < rows; i++) {
		if (pg_int(r, i, 1) >= cut || n == max) {
			*oldest = pg_int(r, i, 1);
			break;
		}
		hi = pg_int(r, i, 0);
		n++;
	}
	PQclear(r);
	if (n == 0)
		return 0;
	if ((k = ret_delete(s, RET_MSG_DEL, hi)) < 0)
		return -1;
	out->messages += (uint64_t)k;
	if ((k = ret_delete(s, RET_MSG_DELIVERY, hi)) < 0)
		return -1;
	out->deliveries += (uint64_t)k;
	if ((k = ret_delete(s, RET_MSG_ATTEMPTS, hi)) < 0)
		return -1;
	out->attempts += (uint64_t)k;
	/* Counted with their messages. */
	if (ret_delete(s, RET_MSG_EVENTS, hi) < 0)
		return -1;
	return n == max;
}

/*
 * Delete run seq if nothing of it waits and it last changed before cut:
 * 1 when deleted, 0 when passed over, or -1.
 */
static int
ret_run(struct store *s, int64_t seq, int64_t cut, struct store_retained *out)
{
	struct pg_args a = { 0 };
	PGresult *r;
	int64_t last = 0, waits = 1, k;

	pg_arg_int(&a, seq);
	if ((r = pg_run(s, PG_RETAIN, RET_RUN_STATE, &a)) == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		last = pg_int(r, 0, 0);
		waits = pg_int(r, 0, 1);
	}
	PQclear(r);
	if (waits > 0 || last >= cut)
		return 0;
	if ((k = ret_delete(s, RET_RUN_DEL_RR, seq)) < 0)
		return -1;
	out->rruns += (uint64_t)k;
	if ((k = ret_delete(s, RET_RUN_DEL, seq)) < 0 ||
	    ret_delete(s, RET_RUN_DEL_SRC, seq) < 0 ||
	    ret_delete(s, RET_RUN_DEL_SEEN, seq) < 0)
		return -1;
	out->runs += (uint64_t)k;
	return 1;
}

/*
 * Delete up to max runs inserted and last changed before cut, as
 * store_retain says; *oldest as ret_messages.  1 when max were deleted,
 * 0, or -1.
 */
static int
ret_runs(struct store *s, int64_t cut, int max, struct store_retained *out,
    int64_t *oldest)
{
	int64_t seqs[RET_SCAN], from = 0;
	struct pg_args a;
	PGresult *r;
	int n, i, rows, deleted = 0, rc;

	*oldest = STORE_NONE;
	for (;;) {
		memset(&a, 0, sizeof a);
		pg_arg_int(&a, from);
		pg_arg_int(&a, RET_SCAN);
		if ((r = pg_run(s, PG_RETAIN, RET_RUN_SCAN, &a)) == NULL)
			return -1;
		n = 0;
		for (i = 0, rows = PQntuples(r); i < rows &&
		    *oldest == STORE_NONE; i++) {
			if (pg_int(r, i, 1) >= cut)
				*oldest = pg_int(r, i, 1);
			else
				seqs[n++] = pg_int(r, i, 0);
		}
		PQclear(r);
		for (i = 0; i < n; i++) {
			if (deleted == max) {
				*oldest = cut - 1;
				return 1;
			}
			if ((rc = ret_run(s, seqs[i], cut, out)) < 0)
				return -1;
			if (rc == 1)
				deleted++;
			else
				out->passed++;
		}
		if (n < RET_SCAN || *oldest != STORE_NONE)
			return 0;
		from = seqs[n - 1];
	}
}

/* See store.h: one pass, after any other node's pass has ended. */
static int
pg_retain(struct store *s, int64_t msg_cut, int64_t run_cut, int max,
    struct store_retained *out, int64_t *msg_oldest, int64_t *run_oldest)
{
	int more = 0, rc;

	*msg_oldest = *run_oldest = STORE_NONE;
	if (msg_cut == STORE_NONE && run_cut == STORE_NONE)
		return 0;
	if (pg_done(s, PG_RETAIN, RET_LOCK, NULL) != 0)
		return -1;
	if (msg_cut != STORE_NONE) {
		if ((rc = ret_messages(s, msg_cut, max, out, msg_oldest)) < 0)
			return -1;
		more |= rc;
	}
	if (run_cut != STORE_NONE) {
		if ((rc = ret_runs(s, run_cut, max, out, run_oldest)) < 0)
			return -1;
		more |= rc;
	}
	return more;
}

/* This file's operations, into the backend's table. */
void
pg_retain_ops(struct store_ops *o)
{
	o->retain = pg_retain;
}
