/*
 * The SQLite backend's workflow runs and recipient runs, the queue of a
 * run's subscriber fan-out, and cancel tombstones.
 *
 * Runs are keyed by an increasing integer (seq); recipient runs by one
 * integer, run << 24 | index, so that a trigger appends to a table
 * B-tree.  The fan-out queue holds, per run, the objects whose
 * subscribers remain to be reached (breadth first) and how far each got;
 * fanout_seen the recipients a run already reached while it is pending.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	RUNS_ADD, RUNS_GET, RUNS_BY_CKEY, RUNS_SET_NEXT,
	RUNS_RR_ADD, RUNS_RR_UPDATE, RUNS_RR_GET, RUNS_RR_PENDING,
	RUNS_FAN_PUSH, RUNS_FAN_HEAD, RUNS_FAN_ADVANCE, RUNS_FAN_POP,
	RUNS_FAN_END, RUNS_SEEN_ADD, RUNS_SEEN_END,
	RUNS_CANCEL_ADD, RUNS_CANCELS, RUNS_CANCEL_SWEEP,
	RUNS_LIST, RUNS_LIST_UP, RUNS_BY_SCHED, RUNS_BY_SCHED_UP,
	RUNS_COUNT
};

/* The recipient run lists' sources: all runs, or one schedule's. */
#define RUNS_ALL "FROM rruns r JOIN runs u ON u.seq = r.id >> 24 WHERE 1"
#define RUNS_SCHED "FROM runs u JOIN rruns r ON r.id BETWEEN u.seq << 24" \
	" AND (u.seq << 24 | 16777215) WHERE u.schedule_seq = ?11"
/* A recipient run list from src, keys cmp the cursor, in order dir. */
#define RUNS_LIST_SQL(src, cmp, dir) "SELECT r.id >> 24, r.id & 16777215," \
	" r.rcpt, r.status, r.events, r.error_count, r.inserted_at," \
	" r.updated_at, u.workflow, u.actor, u.tenant, u.cancellation_key," \
	" u.source, u.schedule_seq, u.fire_at " src " AND r.id " cmp \
	" ?1 << 24 | ?2 AND (?3 IS NULL OR u.workflow = ?3) AND (?4 IS NULL" \
	" OR r.status IN (SELECT value FROM json_each(?4))) AND (?5 IS NULL" \
	" OR r.rcpt = ?5) AND (?7 IS NULL OR u.tenant = ?7) AND (?8 IS NULL" \
	" OR (r.error_count > 0) = ?8) AND (?9 IS NULL OR r.inserted_at >=" \
	" ?9) AND (?10 IS NULL OR r.inserted_at <= ?10) ORDER BY r.id " dir \
	" LIMIT ?6"
static const char *const runs_sql[RUNS_COUNT] = {
	[RUNS_ADD] = "INSERT INTO runs(workflow, actor, tenant, data,"
	    " cancellation_key, source, inserted_at, settings, schedule_seq,"
	    " fire_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[RUNS_GET] = "SELECT workflow, actor, tenant, data, cancellation_key,"
	    " source, inserted_at, settings, schedule_seq, fire_at, next_idx"
	    " FROM runs WHERE seq = ?1",
	[RUNS_BY_CKEY] = "SELECT seq FROM runs WHERE workflow = ?1 AND"
	    " cancellation_key = ?2 ORDER BY seq",
	[RUNS_SET_NEXT] = "UPDATE runs SET next_idx = ?2 WHERE seq = ?1",
	[RUNS_RR_ADD] = "INSERT INTO rruns(id, rcpt, status, events,"
	    " error_count, inserted_at, updated_at, pc, tdata, sub, wait_at,"
	    " batch_id) VALUES(?1 << 24 | ?2, ?3, ?4, ?5, 0, ?6, ?6, ?7, ?8,"
	    " ?9, ?10, ?11)",
	[RUNS_RR_UPDATE] = "UPDATE rruns SET status = ?3, events = ?4, pc = ?5,"
	    " wait_at = ?6, batch_id = ?7, updated_at = ?8 WHERE"
	    " id = ?1 << 24 | ?2",
	[RUNS_RR_GET] = "SELECT rcpt, status, events, error_count, inserted_at,"
	    " updated_at, pc, tdata, sub, wait_at, batch_id FROM rruns WHERE"
	    " id = ?1 << 24 | ?2",
	[RUNS_RR_PENDING] = "SELECT id & 16777215, rcpt FROM rruns WHERE id"
	    " BETWEEN ?1 << 24 AND ?1 << 24 | 16777215 AND status IN"
	    " ('paused', 'batched')",
	[RUNS_FAN_PUSH] = "INSERT INTO fanout(run_seq, seq, obj, level, after,"
	    " tdata) VALUES(?1, (SELECT coalesce(max(seq), 0) + 1 FROM fanout"
	    " WHERE run_seq = ?1), ?2, ?3, '', ?4)",
	[RUNS_FAN_HEAD] = "SELECT seq, obj, level, after, tdata FROM fanout"
	    " WHERE run_seq = ?1 ORDER BY seq LIMIT 1",
	[RUNS_FAN_ADVANCE] = "UPDATE fanout SET after = ?3 WHERE run_seq = ?1"
	    " AND seq = ?2",
	[RUNS_FAN_POP] = "DELETE FROM fanout WHERE run_seq = ?1 AND seq = ?2",
	[RUNS_FAN_END] = "DELETE FROM fanout WHERE run_seq = ?1",
	[RUNS_SEEN_ADD] = "INSERT OR IGNORE INTO fanout_seen(run_seq, rcpt)"
	    " VALUES(?1, ?2)",
	[RUNS_SEEN_END] = "DELETE FROM fanout_seen WHERE run_seq = ?1",
	[RUNS_CANCEL_ADD] = "INSERT INTO cancels(workflow, ckey, upto,"
	    " recipients) VALUES(?1, ?2, ?3, ?4)",
	[RUNS_CANCELS] = "SELECT recipients FROM cancels WHERE workflow = ?1"
	    " AND ckey = ?2 AND upto >= ?3",
	[RUNS_CANCEL_SWEEP] = "DELETE FROM cancels WHERE NOT EXISTS(SELECT 1"
	    " FROM fanout WHERE fanout.run_seq <= cancels.upto)",
	/*
	 * The lists: ?1, ?2 the (run, index) cursor, ?3 workflow, ?4 a JSON
	 * array of statuses, ?5 recipient, ?6 limit, ?7 tenant, ?8 has errors
	 * (0/1), ?9, ?10 the first and last inserted_at, ?11 (BY_SCHED) the
	 * schedule; newest first below the cursor, or (_UP) oldest first
	 * above it; all give the columns runs_list_read reads.
	 */
	[RUNS_LIST] = RUNS_LIST_SQL(RUNS_ALL, "<", "DESC"),
	[RUNS_LIST_UP] = RUNS_LIST_SQL(RUNS_ALL, ">", "ASC"),
	[RUNS_BY_SCHED] = RUNS_LIST_SQL(RUNS_SCHED, "<", "DESC"),
	[RUNS_BY_SCHED_UP] = RUNS_LIST_SQL(RUNS_SCHED, ">", "ASC"),
};
const struct sqlite_sql sqlite_runs_sql = { runs_sql, RUNS_COUNT };

/* A statement of this file, reset. */
static sqlite3_stmt *
runs_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_RUNS, i);
}

/* Append workflow run r; its new key, or -1. */
static int64_t
sqlite_run_add(struct store *s, const struct store_run *r)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_ADD);

	sqlite_bind_text(st, 1, r->workflow);
	sqlite_bind_text(st, 2, r->actor);
	sqlite_bind_text(st, 3, r->tenant);
	sqlite_bind_json(st, 4, r->data);
	sqlite_bind_text(st, 5, r->ckey);
	sqlite_bind_text(st, 6, r->source);
	sqlite3_bind_int64(st, 7, r->inserted);
	sqlite_bind_json(st, 8, r->settings);
	sqlite_bind_int(st, 9, r->sched);
	sqlite_bind_int(st, 10, r->fire_at);
	if (sqlite_done(s, st) != 0)
		return -1;
	return sqlite3_last_insert_rowid(s->db);
}

/* Workflow run seq into *r: 1, or 0 if there is none. */
static int
sqlite_run_get(struct store *s, int64_t seq, struct store_run *r)
{
	static const int cols[] = { 0, 1, 2, 4, 5 };
	sqlite3_stmt *st = runs_stmt(s, RUNS_GET);
	int found;

	memset(r, 0, sizeof *r);
	sqlite3_bind_int64(st, 1, seq);
	if ((found = sqlite_row(s, st))) {
		r->owned = sqlite_texts(st, 5, cols, (const char **const[]){
		    &r->workflow, &r->actor, &r->tenant, &r->ckey,
		    &r->source });
		r->data = sqlite_json(st, 3);
		r->inserted = sqlite3_column_int64(st, 6);
		r->settings = sqlite_json(st, 7);
		r->sched = sqlite_int(st, 8);
		r->fire_at = sqlite_int(st, 9);
		r->next_idx = sqlite3_column_int64(st, 10);
	}
	sqlite3_reset(st);
	return found;
}


/* The keys of workflow's runs with cancellation key ck, oldest first. */
static size_t
sqlite_runs_by_ckey(struct store *s, const char *workflow, const char *ck,
    int64_t **out)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_BY_CKEY);
	size_t n = 0;

	*out = NULL;
	sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ck, -1, SQLITE_STATIC);
	while (sqlite_row(s, st)) {
		*out = xreallocarray(*out, n + 1, sizeof **out);
		(*out)[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return n;
}

/* Set the index run seq's next recipient run gets; 0 or -1. */
static int
sqlite_run_set_next(struct store *s, int64_t seq, int64_t idx)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_SET_NEXT);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, idx);
	return sqlite_done(s, st);
}

/* Add recipient run rr at now (its events from events_text); 0 or -1. */
static int
sqlite_rrun_add(struct store *s, const struct store_rrun *rr, int64_t now)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_RR_ADD);

	sqlite3_bind_int64(st, 1, rr->run);
	sqlite3_bind_int64(st, 2, rr->idx);
	sqlite3_bind_text(st, 3, rr->rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, rr->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rr->events_text, (int)rr->events_len,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, rr->pc);
	sqlite_bind_json(st, 8, rr->tdata);
	sqlite_bind_json(st, 9, rr->sub);
	if (rr->wait_at != 0)
		sqlite3_bind_int64(st, 10, rr->wait_at);
	if (rr->batch != 0)
		sqlite3_bind_int64(st, 11, rr->batch);
	return sqlite_done(s, st);
}

/*
 * Write recipient run rr's state at now: status, events (events_text),
 * pc, wait_at and batch; 0 or -1.
 */
static int
sqlite_rrun_update(struct store *s, const struct store_rrun *rr, int64_t now)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_RR_UPDATE);

	sqlite3_bind_int64(st, 1, rr->run);
	sqlite3_bind_int64(st, 2, rr->idx);
	sqlite3_bind_text(st, 3, rr->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, rr->events_text, (int)rr->events_len,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, rr->pc);
	if (rr->wait_at != 0)
		sqlite3_bind_int64(st, 6, rr->wait_at);
	if (rr->batch != 0)
		sqlite3_bind_int64(st, 7, rr->batch);
	sqlite3_bind_int64(st, 8, now);
	return sqlite_done(s, st);
}

/* Recipient run (run, idx) into *rr (events parsed): 1, or 0 if none. */
static int
sqlite_rrun_get(struct store *s, int64_t run, int64_t idx,
    struct store_rrun *rr)
{
	static const int cols[] = { 0, 1 };
	sqlite3_stmt *st = runs_stmt(s, RUNS_RR_GET);
	int found;

	memset(rr, 0, sizeof *rr);
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, idx);
	if ((found = sqlite_row(s, st))) {
		rr->run = run;
		rr->idx = idx;
		rr->owned = sqlite_texts(st, 2, cols, (const char **const[]){
		    &rr->rcpt, &rr->status });
		rr->events = sqlite_json(st, 2);
		rr->errors = sqlite3_column_int(st, 3);
		rr->inserted = sqlite3_column_int64(st, 4);
		rr->updated = sqlite3_column_int64(st, 5);
		rr->pc = sqlite3_column_int64(st, 6);
		rr->tdata = sqlite_json(st, 7);
		rr->sub = sqlite_json(st, 8);
		rr->wait_at = sqlite3_column_int64(st, 9);
		rr->batch = sqlite3_column_int64(st, 10);
	}
	sqlite3_reset(st);
	return found;
}


/* Run seq's recipient runs that are paused or batched, into *out. */
static size_t
sqlite_rruns_pending(struct store *s, int64_t seq, struct store_pending **out)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_RR_PENDING);
	size_t n = 0;

	*out = NULL;
	sqlite3_bind_int64(st, 1, seq);
	while (sqlite_row(s, st)) {
		*out = xreallocarray(*out, n + 1, sizeof **out);
		(*out)[n].idx = sqlite3_column_int64(st, 0);
		(*out)[n++].rcpt = sqlite_text(st, 1);
	}
	sqlite3_reset(st);
	return n;
}


/* Read a list row (RUNS_LIST's columns) into *row. */
static void
runs_list_read(sqlite3_stmt *st, struct store_rrun_row *row)
{
	static const int cols[] = { 2, 3, 8, 9, 10, 11, 12 };

	memset(row, 0, sizeof *row);
	row->rr.run = sqlite3_column_int64(st, 0);
	row->rr.idx = sqlite3_column_int64(st, 1);
	row->rr.owned = sqlite_texts(st, 7, cols, (const char **const[]){
	    &row->rr.rcpt, &row->rr.status, &row->run.workflow,
	    &row->run.actor, &row->run.tenant, &row->run.ckey,
	    &row->run.source });
	row->rr.events = sqlite_json(st, 4);
	row->rr.errors = sqlite3_column_int(st, 5);
	row->rr.inserted = sqlite3_column_int64(st, 6);
	row->rr.updated = sqlite3_column_int64(st, 7);
	row->run.sched = sqlite_int(st, 13);
	row->run.fire_at = sqlite_int(st, 14);
}

/*
 * Up to max recipient runs matching f, newest first (by key), into out
 * (each freed with store_rrun_clear(&out[i].rr)); their count.  Going
 * backwards, the ones just above the cursor are taken, still given newest
 * first.
 */
static size_t
sqlite_rruns_list(struct store *s, const struct store_rrun_filter *f,
    size_t max, struct store_rrun_row *out)
{
	struct store_rrun_row tmp;
	sqlite3_stmt *st;
	size_t n = 0, i;

	st = runs_stmt(s, (f->sched != STORE_NONE ? RUNS_BY_SCHED :
	    RUNS_LIST) + (f->backward ? 1 : 0));
	if (f->sched != STORE_NONE)
		sqlite3_bind_int64(st, 11, f->sched);
	sqlite3_bind_int64(st, 1, f->cur_run);
	sqlite3_bind_int64(st, 2, f->cur_idx);
	sqlite_bind_text(st, 3, f->workflow);
	sqlite_bind_json(st, 4, f->statuses);
	sqlite_bind_text(st, 5, f->rcpt);
	sqlite3_bind_int64(st, 6, (int64_t)max);
	sqlite_bind_text(st, 7, f->tenant);
	sqlite_bind_int(st, 8, f->has_errors);
	sqlite_bind_int(st, 9, f->start);
	sqlite_bind_int(st, 10, f->end);
	while (n < max && sqlite_row(s, st))
		runs_list_read(st, &out[n++]);
	sqlite3_reset(st);
	for (i = 0; f->backward && i < n / 2; i++) {
		tmp = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

/* Queue the subscribers of object obj (at level) for run seq's fan-out. */
static int
sqlite_fanout_push(struct store *s, int64_t seq, const char *obj, int level,
    json_t *tdata)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_FAN_PUSH);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, obj, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, level);
	sqlite_bind_json(st, 4, tdata);
	return sqlite_done(s, st);
}

/*
 * The first queued job of run seq's fan-out into *out (unless out is
 * NULL): 1, or 0 if none remains.
 */
static int
sqlite_fanout_head(struct store *s, int64_t seq, struct store_fanout *out)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_FAN_HEAD);
	int found;

	sqlite3_bind_int64(st, 1, seq);
	if ((found = sqlite_row(s, st)) && out != NULL) {
		out->job = sqlite3_column_int64(st, 0);
		out->obj = sqlite_text(st, 1);
		out->level = sqlite3_column_int(st, 2);
		out->after = sqlite_text(st, 3);
		out->tdata = sqlite_json(st, 4);
	}
	sqlite3_reset(st);
	return found;
}


/* Note that job went as far as subscriber key after; 0 or -1. */
static int
sqlite_fanout_advance(struct store *s, int64_t seq, int64_t job,
    const char *after)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_FAN_ADVANCE);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, job);
	sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
	return sqlite_done(s, st);
}

/* Remove a finished job from run seq's fan-out; 0 or -1. */
static int
sqlite_fanout_pop(struct store *s, int64_t seq, int64_t job)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_FAN_POP);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, job);
	return sqlite_done(s, st);
}

/* End run seq's fan-out: its jobs and what it reached go; 0 or -1. */
static int
sqlite_fanout_end(struct store *s, int64_t seq)
{
	int rc = sqlite_done_key(s, PART_RUNS, RUNS_FAN_END, seq);

	if (sqlite_done_key(s, PART_RUNS, RUNS_SEEN_END, seq) != 0)
		rc = -1;
	return rc;
}

/* Run seq reaches rcpt: 1 the first time, 0 if it did before, or -1. */
static int
sqlite_fanout_reached(struct store *s, int64_t seq, const char *rcpt)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_SEEN_ADD);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, rcpt, -1, SQLITE_STATIC);
	return sqlite_changed(s, st);
}

/*
 * A cancel of workflow's key ck covering its runs up to upto, for the
 * recipient keys of rcpts (an object of keys; NULL: all); 0 or -1.
 */
static int
sqlite_cancel_add(struct store *s, const char *workflow, const char *ck,
    int64_t upto, json_t *rcpts)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_CANCEL_ADD);

	sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ck, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, upto);
	sqlite_bind_json(st, 4, rcpts);
	return sqlite_done(s, st);
}

/*
 * The cancels of workflow's key ck that cover run seq: an array of their
 * recipient sets (null for a cancel of all).
 */
static json_t *
sqlite_cancels(struct store *s, const char *workflow, const char *ck,
    int64_t seq)
{
	sqlite3_stmt *st = runs_stmt(s, RUNS_CANCELS);
	json_t *out = json_array(), *v;

	sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ck, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, seq);
	while (sqlite_row(s, st)) {
		v = sqlite_json(st, 0);
		json_array_append_new(out, v != NULL ? v : json_null());
	}
	sqlite3_reset(st);
	return out;
}

/* Delete the cancels no pending fan-out can meet (store_sweep). */
int
sqlite_runs_sweep(struct store *s)
{
	return sqlite_done(s, runs_stmt(s, RUNS_CANCEL_SWEEP));
}

/* This file's operations, into the backend's table. */
void
sqlite_runs_ops(struct store_ops *o)
{
	o->run_add = sqlite_run_add;
	o->run_get = sqlite_run_get;
	o->runs_by_ckey = sqlite_runs_by_ckey;
	o->run_set_next = sqlite_run_set_next;
	o->rrun_add = sqlite_rrun_add;
	o->rrun_update = sqlite_rrun_update;
	o->rrun_get = sqlite_rrun_get;
	o->rruns_pending = sqlite_rruns_pending;
	o->rruns_list = sqlite_rruns_list;
	o->fanout_push = sqlite_fanout_push;
	o->fanout_head = sqlite_fanout_head;
	o->fanout_advance = sqlite_fanout_advance;
	o->fanout_pop = sqlite_fanout_pop;
	o->fanout_end = sqlite_fanout_end;
	o->fanout_reached = sqlite_fanout_reached;
	o->cancel_add = sqlite_cancel_add;
	o->cancels = sqlite_cancels;
}
