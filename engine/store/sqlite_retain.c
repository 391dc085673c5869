/*
 * The SQLite backend's retention: deleting messages and runs older than
 * their windows, in bounded chunks, oldest first.
 *
 * Messages go in seq order, which is the order they were made in: a pass
 * deletes the run of oldest messages inserted before the cutoff (with
 * their deliveries and delivery attempts) as one key range.  A feed chain
 * then ends where its next message would be a deleted one (the walk and
 * the counts stop at a missing message, sqlite_messages.c), so the chains
 * stay consistent without touching the newer rows; a chain left with no
 * message keeps its feed_heads row, which points at nothing.
 *
 * Runs go in seq order too, each with its recipient runs (and their
 * events) and where a source made it; a run that still waits (a paused
 * or batched recipient run, a fan-out under way) or changed after the
 * cutoff is passed over and looked at again by a later pass.
 *
 * The newest message and the newest run are never deleted: the next keys
 * are given after them (store_open, INTEGER PRIMARY KEY), so a key and the
 * public id derived from it are never given twice.
 */
#include <stdlib.h>

#include "common/common.h"
#include "engine/store/sqlite_int.h"

/* The statements of this file. */
enum {
	RET_MSG_SCAN, RET_MSG_DEL,
	RET_RUN_SCAN, RET_RUN_STATE, RET_RUN_DEL_RR, RET_RUN_DEL,
	RET_RUN_DEL_SRC, RET_RUN_DEL_SEEN,
	RET_COUNT
};
static const char *const ret_sql[RET_COUNT] = {
	[RET_MSG_SCAN] = "SELECT seq, inserted_at FROM messages WHERE seq <"
	    " (SELECT max(seq) FROM messages) ORDER BY seq LIMIT ?1",
	[RET_MSG_DEL] = "DELETE FROM messages WHERE seq <= ?1",
	[RET_RUN_SCAN] = "SELECT seq, inserted_at FROM runs WHERE seq > ?1"
	    " AND seq < (SELECT max(seq) FROM runs) ORDER BY seq LIMIT ?2",
	/* The run's last change and whether anything of it still waits. */
	[RET_RUN_STATE] = "SELECT coalesce(max(updated_at), 0),"
	    " count(*) FILTER (WHERE status IN ('paused', 'batched')) +"
	    " EXISTS(SELECT 1 FROM fanout WHERE run_seq = ?1) FROM rruns"
	    " WHERE id BETWEEN ?1 << 24 AND ?1 << 24 | 16777215",
	[RET_RUN_DEL_RR] = "DELETE FROM rruns WHERE id BETWEEN ?1 << 24 AND"
	    " ?1 << 24 | 16777215",
	[RET_RUN_DEL] = "DELETE FROM runs WHERE seq = ?1",
	[RET_RUN_DEL_SRC] = "DELETE FROM source_runs WHERE run_seq = ?1",
	[RET_RUN_DEL_SEEN] = "DELETE FROM fanout_seen WHERE run_seq = ?1",
};
const struct sqlite_sql sqlite_retain_sql = { ret_sql, RET_COUNT };

/*
 * What goes with a message, by its seq (?1: the highest seq deleted),
 * and the count each adds to.  Every table keyed by a message's seq
 * belongs here.
 */
enum { RET_MSG_DELIVERY, RET_MSG_ATTEMPTS, RET_MSG_EVENTS, RET_MSG_PARTS };
static const char *const ret_msg_parts_sql[RET_MSG_PARTS] = {
	[RET_MSG_DELIVERY] = "DELETE FROM deliveries WHERE message_seq <= ?1",
	[RET_MSG_ATTEMPTS] = ("DELETE FROM delivery_attempts WHERE"
	    " message_seq <= ?1"),
	/* Counted with their messages. */
	[RET_MSG_EVENTS] = "DELETE FROM message_events WHERE message_seq <= ?1",
};
const struct sqlite_sql sqlite_retain_msg_sql = { ret_msg_parts_sql,
	RET_MSG_PARTS };

/* Step statement i of part p with ?1 = key; the rows it deleted, or -1. */
static int64_t
ret_delete(struct store *s, enum sqlite_part p, int i, int64_t key)
{
	if (sqlite_done_key(s, p, i, key) != 0)
		return -1;
	return sqlite3_changes64(s->db);
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
	sqlite3_stmt *st = sqlite_stmt(s, PART_RETAIN, RET_MSG_SCAN);
	int64_t hi = 0, n = 0, k;

	*oldest = STORE_NONE;
	sqlite3_bind_int(st, 1, max + 1);
	while (sqlite_row(s, st)) {
		if (sqlite3_column_int64(st, 1) >= cut || n == max) {
			*oldest = sqlite3_column_int64(st, 1);
			break;
		}
		hi = sqlite3_column_int64(st, 0);
		n++;
	}
	sqlite3_reset(st);
	if (n == 0)
		return 0;
	if ((k = ret_delete(s, PART_RETAIN, RET_MSG_DEL, hi)) < 0)
		return -1;
	out->messages += (uint64_t)k;
	if ((k = ret_delete(s, PART_RETAIN_MSG, RET_MSG_DELIVERY, hi)) < 0)
		return -1;
	out->deliveries += (uint64_t)k;
	if ((k = ret_delete(s, PART_RETAIN_MSG, RET_MSG_ATTEMPTS, hi)) < 0)
		return -1;
	out->attempts += (uint64_t)k;
	if (ret_delete(s, PART_RETAIN_MSG, RET_MSG_EVENTS, hi) < 0)
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
	sqlite3_stmt *st = sqlite_stmt(s, PART_RETAIN, RET_RUN_STATE);
	int64_t last = 0, waits = 1, k;

	sqlite3_bind_int64(st, 1, seq);
	if (sqlite_row(s, st)) {
		last = sqlite3_column_int64(st, 0);
		waits = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (waits > 0 || last >= cut)
		return 0;
	if ((k = ret_delete(s, PART_RETAIN, RET_RUN_DEL_RR, seq)) < 0)
		return -1;
	out->rruns += (uint64_t)k;
	if ((k = ret_delete(s, PART_RETAIN, RET_RUN_DEL, seq)) < 0 ||
	    ret_delete(s, PART_RETAIN, RET_RUN_DEL_SRC, seq) < 0 ||
	    ret_delete(s, PART_RETAIN, RET_RUN_DEL_SEEN, seq) < 0)
		return -1;
	out->runs += (uint64_t)k;
	return 1;
}

/* How many runs one scan of ret_runs reads. */
#define RET_SCAN 256

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
	sqlite3_stmt *st;
	int n, i, deleted = 0, rc;

	*oldest = STORE_NONE;
	for (;;) {
		st = sqlite_stmt(s, PART_RETAIN, RET_RUN_SCAN);
		sqlite3_bind_int64(st, 1, from);
		sqlite3_bind_int(st, 2, RET_SCAN);
		n = 0;
		while (*oldest == STORE_NONE && sqlite_row(s, st)) {
			if (sqlite3_column_int64(st, 1) >= cut)
				*oldest = sqlite3_column_int64(st, 1);
			else
				seqs[n++] = sqlite3_column_int64(st, 0);
		}
		sqlite3_reset(st);
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

/* See store.h. */
static int
sqlite_retain(struct store *s, int64_t msg_cut, int64_t run_cut, int max,
    struct store_retained *out, int64_t *msg_oldest, int64_t *run_oldest)
{
	int more = 0, rc;

	*msg_oldest = *run_oldest = STORE_NONE;
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
sqlite_retain_ops(struct store_ops *o)
{
	o->retain = sqlite_retain;
}
