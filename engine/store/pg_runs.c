/*
 * The PostgreSQL backend's workflow runs and recipient runs, the queue of
 * a run's subscriber fan-out, and cancel tombstones (the port of
 * sqlite_runs.c, which is the reference for every answer).
 *
 * Runs are keyed by an identity column (seq); recipient runs by one
 * integer, run << 24 | index, as in SQLite.  The fan-out queue holds, per
 * run, the objects whose subscribers remain to be reached (breadth first,
 * jobs numbered by an identity column) and how far each got;
 * fanout_seen the recipients a run already reached while it is pending.
 *
 * Several nodes: a run whose fan-out is pending is read with its row
 * locked (FOR UPDATE) until the reader's transaction ends, so the one
 * node running a chunk reads next_idx, numbers recipients from it and
 * writes it back before any other node may read it: no index is given
 * twice.  Other runs are read without a lock, so the recipient runs of
 * one run resume on every node at once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum {
	RUNS_ADD, RUNS_ADD_KEYED, RUNS_GET, RUNS_GET_LOCK, RUNS_BY_CKEY, RUNS_SET_NEXT,
	RUNS_RR_ADD, RUNS_RR_UPDATE, RUNS_RR_GET, RUNS_RR_PENDING,
	RUNS_FAN_PUSH, RUNS_FAN_HEAD, RUNS_FAN_ANY, RUNS_FAN_ADVANCE,
	RUNS_FAN_POP, RUNS_FAN_END, RUNS_SEEN_ADD, RUNS_SEEN_END,
	RUNS_CANCEL_ADD, RUNS_CANCELS, RUNS_CANCEL_SWEEP,
	RUNS_LIST, RUNS_LIST_UP, RUNS_BY_SCHED, RUNS_BY_SCHED_UP,
	RUNS_BY_RCPT, RUNS_BY_RCPT_UP,
	RUNS_COUNT
};

/* A run's columns as RUNS_GET and RUNS_GET_LOCK give them. */
#define RUNS_COLS "SELECT workflow, actor, tenant, data, cancellation_key," \
	" source, inserted_at, settings, schedule_seq, fire_at, next_idx"

/*
 * The recipient run lists' sources: all runs, one recipient's (on
 * rruns_by_rcpt), or one schedule's: its runs (runs_by_fire), each one's
 * range of keys (OFFSET 0 keeps that order of the join, which the
 * planner would otherwise turn into a walk down every key).
 */
#define RUNS_ALL "FROM rruns r JOIN runs u ON u.seq = r.id >> 24 WHERE true"
#define RUNS_RCPT "FROM rruns r JOIN runs u ON u.seq = r.id >> 24 WHERE" \
	" r.rcpt = $5::text"
#define RUNS_SCHED "FROM runs u CROSS JOIN LATERAL (SELECT * FROM rruns" \
	" x WHERE x.id BETWEEN u.seq << 24 AND ((u.seq << 24) | 16777215)" \
	" OFFSET 0) r WHERE u.schedule_seq = $11::bigint"
/* A recipient run list from src, keys cmp the cursor, in order dir. */
#define RUNS_LIST_SQL(src, cmp, dir) ("SELECT r.id >> 24, r.id & 16777215," \
	" r.rcpt, r.status, r.events, r.error_count, r.inserted_at," \
	" r.updated_at, u.workflow, u.actor, u.tenant, u.cancellation_key," \
	" u.source, u.schedule_seq, u.fire_at " src " AND r.id " cmp \
	" (($1::bigint << 24) | $2::bigint) AND ($3::text IS NULL OR" \
	" u.workflow = $3::text) AND ($4::text IS NULL OR r.status IN" \
	" (SELECT json_array_elements_text($4::text::json))) AND ($5::text" \
	" IS NULL OR r.rcpt = $5::text) AND ($7::text IS NULL OR u.tenant =" \
	" $7::text) AND ($8::bigint IS NULL OR (r.error_count > 0)::int =" \
	" $8::bigint) AND ($9::bigint IS NULL OR r.inserted_at >=" \
	" $9::bigint) AND ($10::bigint IS NULL OR r.inserted_at <=" \
	" $10::bigint) ORDER BY r.id " dir " LIMIT $6::bigint")
static const char *const runs_sql[RUNS_COUNT] = {
	[RUNS_ADD] = ("INSERT INTO runs(workflow, actor, tenant, data,"
	    " cancellation_key, source, inserted_at, settings, schedule_seq,"
	    " fire_at) VALUES($1::text, $2::text, $3::text, $4::text,"
	    " $5::text, $6::text, $7::bigint, $8::text, $9::bigint,"
	    " $10::bigint) RETURNING seq"),
	[RUNS_ADD_KEYED] = ("INSERT INTO runs(seq, workflow, actor, tenant,"
	    " data, cancellation_key, source, inserted_at, settings,"
	    " schedule_seq, fire_at) VALUES($11::bigint, $1::text, $2::text,"
	    " $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::text,"
	    " $9::bigint, $10::bigint)"),
	/* With whether the run's fan-out is pending (then read it locked). */
	[RUNS_GET] = (RUNS_COLS ", EXISTS(SELECT 1 FROM fanout WHERE run_seq"
	    " = $1::bigint) FROM runs WHERE seq = $1::bigint"),
	[RUNS_GET_LOCK] = (RUNS_COLS " FROM runs WHERE seq = $1::bigint FOR"
	    " UPDATE"),
	[RUNS_BY_CKEY] = ("SELECT seq FROM runs WHERE workflow = $1::text AND"
	    " cancellation_key = $2::text ORDER BY seq"),
	[RUNS_SET_NEXT] = ("UPDATE runs SET next_idx = $2::bigint WHERE seq ="
	    " $1::bigint"),
	[RUNS_RR_ADD] = ("INSERT INTO rruns(id, rcpt, status, events,"
	    " error_count, inserted_at, updated_at, pc, tdata, sub, wait_at,"
	    " batch_id) VALUES(($1::bigint << 24) | $2::bigint, $3::text,"
	    " $4::text, $5::text, 0, $6::bigint, $6::bigint, $7::bigint,"
	    " $8::text, $9::text, $10::bigint, $11::bigint)"),
	[RUNS_RR_UPDATE] = ("UPDATE rruns SET status = $3::text, events ="
	    " $4::text, pc = $5::bigint, wait_at = $6::bigint, batch_id ="
	    " $7::bigint, updated_at = $8::bigint WHERE id = ($1::bigint <<"
	    " 24) | $2::bigint"),
	[RUNS_RR_GET] = ("SELECT rcpt, status, events, error_count,"
	    " inserted_at, updated_at, pc, tdata, sub, wait_at, batch_id FROM"
	    " rruns WHERE id = ($1::bigint << 24) | $2::bigint"),
	[RUNS_RR_PENDING] = ("SELECT id & 16777215, rcpt FROM rruns WHERE id"
	    " BETWEEN $1::bigint << 24 AND (($1::bigint << 24) | 16777215)"
	    " AND status IN ('paused', 'batched') ORDER BY id"),
	[RUNS_FAN_PUSH] = ("INSERT INTO fanout(run_seq, obj, level, after,"
	    " tdata) VALUES($1::bigint, $2::text, $3::bigint, '', $4::text)"),
	[RUNS_FAN_HEAD] = ("SELECT seq, obj, level, after, tdata FROM fanout"
	    " WHERE run_seq = $1::bigint ORDER BY seq LIMIT 1 FOR UPDATE"),
	[RUNS_FAN_ANY] = ("SELECT 1 FROM fanout WHERE run_seq = $1::bigint"
	    " LIMIT 1"),
	[RUNS_FAN_ADVANCE] = ("UPDATE fanout SET after = $3::text WHERE"
	    " run_seq = $1::bigint AND seq = $2::bigint"),
	[RUNS_FAN_POP] = ("DELETE FROM fanout WHERE run_seq = $1::bigint AND"
	    " seq = $2::bigint"),
	[RUNS_FAN_END] = "DELETE FROM fanout WHERE run_seq = $1::bigint",
	[RUNS_SEEN_ADD] = ("INSERT INTO fanout_seen(run_seq, rcpt)"
	    " VALUES($1::bigint, $2::text) ON CONFLICT DO NOTHING"),
	[RUNS_SEEN_END] = "DELETE FROM fanout_seen WHERE run_seq = $1::bigint",
	[RUNS_CANCEL_ADD] = ("INSERT INTO cancels(workflow, ckey, upto,"
	    " recipients) VALUES($1::text, $2::text, $3::bigint, $4::text)"),
	[RUNS_CANCELS] = ("SELECT recipients FROM cancels WHERE workflow ="
	    " $1::text AND ckey = $2::text AND upto >= $3::bigint"),
	/* Rows another node's sweep holds are left to it. */
	[RUNS_CANCEL_SWEEP] = ("DELETE FROM cancels WHERE ctid = ANY(ARRAY("
	    "SELECT c.ctid FROM cancels c WHERE NOT EXISTS(SELECT 1 FROM"
	    " fanout WHERE fanout.run_seq <= c.upto) FOR UPDATE OF c SKIP"
	    " LOCKED))"),
	/*
	 * The lists: $1, $2 the (run, index) cursor, $3 workflow, $4 a JSON
	 * array of statuses, $5 recipient, $6 limit (NULL: none), $7
	 * tenant, $8 has errors (0/1), $9, $10 the first and last
	 * inserted_at, $11 (BY_SCHED) the schedule; newest first below the
	 * cursor, or (_UP) oldest first above it; all give the columns
	 * runs_list_read reads.
	 */
	[RUNS_LIST] = RUNS_LIST_SQL(RUNS_ALL, "<", "DESC"),
	[RUNS_LIST_UP] = RUNS_LIST_SQL(RUNS_ALL, ">", "ASC"),
	[RUNS_BY_SCHED] = RUNS_LIST_SQL(RUNS_SCHED, "<", "DESC"),
	[RUNS_BY_SCHED_UP] = RUNS_LIST_SQL(RUNS_SCHED, ">", "ASC"),
	[RUNS_BY_RCPT] = RUNS_LIST_SQL(RUNS_RCPT, "<", "DESC"),
	[RUNS_BY_RCPT_UP] = RUNS_LIST_SQL(RUNS_RCPT, ">", "ASC"),
};
const struct pg_sql pg_runs_sql = { runs_sql, RUNS_COUNT };

/* Append text[0..len) (no NUL needed) as a parameter, copied. */
static void
runs_arg_len(struct pg_args *a, const char *text, size_t len)
{
	char *t = NULL;

	if (text != NULL) {
		t = xmalloc(len + 1);
		memcpy(t, text, len);
		t[len] = '\0';
	}
	pg_arg_text(a, t);
	a->own[a->n - 1] = t;
}

/* A size as a LIMIT (NULL: none, for sizes past int64's). */
static void
runs_arg_max(struct pg_args *a, size_t max)
{
	pg_arg_int(a, max > (size_t)INT64_MAX ? STORE_NONE : (int64_t)max);
}

/* An integer cell, 0 for NULL (as sqlite3_column_int64 reads it). */
static int64_t
runs_int0(const PGresult *r, int row, int col)
{
	return pg_null(r, row, col) ? 0 : pg_int(r, row, col);
}

/*
 * Copy the text cells cols[0..n) of row into one allocation, pointing
 * *out[i] at each copy (NULL for SQL NULL); the allocation, the caller's
 * to free once done with every pointer.
 */
static char *
runs_texts(const PGresult *r, int row, size_t n, const int *cols,
    const char **const *out)
{
	const char *t;
	size_t len = 0, i, k;
	char *buf, *p;

	for (i = 0; i < n; i++)
		if (!pg_null(r, row, cols[i]))
			len += (size_t)PQgetlength(r, row, cols[i]) + 1;
	p = buf = xmalloc(len > 0 ? len : 1);
	for (i = 0; i < n; i++) {
		if ((t = pg_cell(r, row, cols[i])) == NULL) {
			*out[i] = NULL;
			continue;
		}
		k = (size_t)PQgetlength(r, row, cols[i]);
		memcpy(p, t, k);
		p[k] = '\0';
		*out[i] = p;
		p += k + 1;
	}
	return buf;
}

/* Append workflow run r; its new key, or -1. */
static int64_t
pg_run_add(struct store *s, const struct store_run *r)
{
	struct pg_args a = { 0 };
	int64_t seq;

	pg_arg_text(&a, r->workflow);
	pg_arg_text(&a, r->actor);
	pg_arg_text(&a, r->tenant);
	pg_arg_json(&a, r->data);
	pg_arg_text(&a, r->ckey);
	pg_arg_text(&a, r->source);
	pg_arg_int(&a, r->inserted);
	pg_arg_json(&a, r->settings);
	pg_arg_int(&a, r->sched);
	pg_arg_int(&a, r->fire_at);
	/*
	 * A trigger's run in a transaction takes its key at once and its
	 * INSERT is sent; a schedule's fire waits for its INSERT, which the
	 * unique (schedule_seq, fire_at) may refuse.
	 */
	if (!s->in_txn || r->sched != STORE_NONE)
		return pg_scalar(s, PG_RUNS, RUNS_ADD, &a, -1);
	if ((seq = pg_key(s, PG_KEY_RUNS)) < 0) {
		pg_arg_free(&a);
		return -1;
	}
	pg_arg_int(&a, seq);
	return pg_add(s, PG_RUNS, RUNS_ADD_KEYED, &a) == 0 ? seq : -1;
}

/* Read run row `row` of res (RUNS_COLS) into *r. */
static void
runs_read(const PGresult *res, int row, struct store_run *r)
{
	static const int cols[] = { 0, 1, 2, 4, 5 };

	r->owned = runs_texts(res, row, 5, cols, (const char **const[]){
	    &r->workflow, &r->actor, &r->tenant, &r->ckey, &r->source });
	r->data = pg_json(res, row, 3);
	r->inserted = runs_int0(res, row, 6);
	r->settings = pg_json(res, row, 7);
	r->sched = pg_int(res, row, 8);
	r->fire_at = pg_int(res, row, 9);
	r->next_idx = runs_int0(res, row, 10);
}

/*
 * Workflow run seq into *r: 1, or 0 if there is none.  A run whose
 * fan-out is pending is read again with its row locked, so next_idx is
 * this transaction's until it ends (see the top of this file).
 */
static int
pg_run_get(struct store *s, int64_t seq, struct store_run *r)
{
	struct pg_args a = { 0 };
	PGresult *res;
	int found, pending;

	memset(r, 0, sizeof *r);
	pg_arg_int(&a, seq);
	if ((res = pg_run(s, PG_RUNS, RUNS_GET, &a)) == NULL)
		return 0;
	found = PQntuples(res) > 0;
	pending = found && pg_int(res, 0, 11) == 1;
	if (pending) {
		PQclear(res);
		memset(&a, 0, sizeof a);
		pg_arg_int(&a, seq);
		if ((res = pg_run(s, PG_RUNS, RUNS_GET_LOCK, &a)) == NULL)
			return 0;
		found = PQntuples(res) > 0;
	}
	if (found)
		runs_read(res, 0, r);
	PQclear(res);
	return found;
}

/* The keys of workflow's runs with cancellation key ck, oldest first. */
static size_t
pg_runs_by_ckey(struct store *s, const char *workflow, const char *ck,
    int64_t **out)
{
	struct pg_args a = { 0 };
	PGresult *res;
	size_t n = 0, i;

	*out = NULL;
	pg_arg_text(&a, workflow);
	pg_arg_text(&a, ck);
	if ((res = pg_run(s, PG_RUNS, RUNS_BY_CKEY, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(res);
	if (n > 0)
		*out = xreallocarray(NULL, n, sizeof **out);
	for (i = 0; i < n; i++)
		(*out)[i] = pg_int(res, (int)i, 0);
	PQclear(res);
	return n;
}

/* Set the index run seq's next recipient run gets; 0 or -1. */
static int
pg_run_set_next(struct store *s, int64_t seq, int64_t idx)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_int(&a, idx);
	return pg_done(s, PG_RUNS, RUNS_SET_NEXT, &a);
}

/* Add recipient run rr at now (its events from events_text); 0 or -1. */
static int
pg_rrun_add(struct store *s, const struct store_rrun *rr, int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, rr->run);
	pg_arg_int(&a, rr->idx);
	pg_arg_text(&a, rr->rcpt);
	pg_arg_text(&a, rr->status);
	runs_arg_len(&a, rr->events_text, rr->events_len);
	pg_arg_int(&a, now);
	pg_arg_int(&a, rr->pc);
	pg_arg_json(&a, rr->tdata);
	pg_arg_json(&a, rr->sub);
	pg_arg_int(&a, rr->wait_at != 0 ? rr->wait_at : STORE_NONE);
	pg_arg_int(&a, rr->batch != 0 ? rr->batch : STORE_NONE);
	return pg_add(s, PG_RUNS, RUNS_RR_ADD, &a);
}

/*
 * Write recipient run rr's state at now: status, events (events_text),
 * pc, wait_at and batch; 0 or -1.
 */
static int
pg_rrun_update(struct store *s, const struct store_rrun *rr, int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, rr->run);
	pg_arg_int(&a, rr->idx);
	pg_arg_text(&a, rr->status);
	runs_arg_len(&a, rr->events_text, rr->events_len);
	pg_arg_int(&a, rr->pc);
	pg_arg_int(&a, rr->wait_at != 0 ? rr->wait_at : STORE_NONE);
	pg_arg_int(&a, rr->batch != 0 ? rr->batch : STORE_NONE);
	pg_arg_int(&a, now);
	return pg_done(s, PG_RUNS, RUNS_RR_UPDATE, &a);
}

/* Recipient run (run, idx) into *rr (events parsed): 1, or 0 if none. */
static int
pg_rrun_get(struct store *s, int64_t run, int64_t idx, struct store_rrun *rr)
{
	static const int cols[] = { 0, 1 };
	struct pg_args a = { 0 };
	PGresult *res;
	int found;

	memset(rr, 0, sizeof *rr);
	pg_arg_int(&a, run);
	pg_arg_int(&a, idx);
	if ((res = pg_run(s, PG_RUNS, RUNS_RR_GET, &a)) == NULL)
		return 0;
	if ((found = PQntuples(res) > 0)) {
		rr->run = run;
		rr->idx = idx;
		rr->owned = runs_texts(res, 0, 2, cols, (const char **const[]){
		    &rr->rcpt, &rr->status });
		rr->events = pg_json(res, 0, 2);
		rr->errors = (int)runs_int0(res, 0, 3);
		rr->inserted = runs_int0(res, 0, 4);
		rr->updated = runs_int0(res, 0, 5);
		rr->pc = runs_int0(res, 0, 6);
		rr->tdata = pg_json(res, 0, 7);
		rr->sub = pg_json(res, 0, 8);
		rr->wait_at = runs_int0(res, 0, 9);
		rr->batch = runs_int0(res, 0, 10);
	}
	PQclear(res);
	return found;
}

/* Run seq's recipient runs that are paused or batched, into *out. */
static size_t
pg_rruns_pending(struct store *s, int64_t seq, struct store_pending **out)
{
	struct pg_args a = { 0 };
	PGresult *res;
	size_t n, i;

	*out = NULL;
	pg_arg_int(&a, seq);
	if ((res = pg_run(s, PG_RUNS, RUNS_RR_PENDING, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(res);
	if (n > 0)
		*out = xreallocarray(NULL, n, sizeof **out);
	for (i = 0; i < n; i++) {
		(*out)[i].idx = pg_int(res, (int)i, 0);
		(*out)[i].rcpt = pg_text(res, (int)i, 1);
	}
	PQclear(res);
	return n;
}

/* Read list row `row` of res (RUNS_LIST's columns) into *out. */
static void
runs_list_read(const PGresult *res, int row, struct store_rrun_row *out)
{
	static const int cols[] = { 2, 3, 8, 9, 10, 11, 12 };

	memset(out, 0, sizeof *out);
	out->rr.run = runs_int0(res, row, 0);
	out->rr.idx = runs_int0(res, row, 1);
	out->rr.owned = runs_texts(res, row, 7, cols, (const char **const[]){
	    &out->rr.rcpt, &out->rr.status, &out->run.workflow,
	    &out->run.actor, &out->run.tenant, &out->run.ckey,
	    &out->run.source });
	out->rr.events = pg_json(res, row, 4);
	out->rr.errors = (int)runs_int0(res, row, 5);
	out->rr.inserted = runs_int0(res, row, 6);
	out->rr.updated = runs_int0(res, row, 7);
	out->run.sched = pg_int(res, row, 13);
	out->run.fire_at = pg_int(res, row, 14);
}

/*
 * Up to max recipient runs matching f, newest first (by key), into out
 * (each freed with store_rrun_clear(&out[i].rr)); their count.  Going
 * backwards, the ones just above the cursor are taken, still given newest
 * first.  A schedule's list starts from its runs, a recipient's from the
 * recipient's index; the rest walk the key down (or up).
 */
static size_t
pg_rruns_list(struct store *s, const struct store_rrun_filter *f, size_t max,
    struct store_rrun_row *out)
{
	struct store_rrun_row tmp;
	struct pg_args a = { 0 };
	PGresult *res;
	size_t n, i;
	int st;

	if (f->sched != STORE_NONE)
		st = RUNS_BY_SCHED;
	else if (f->rcpt != NULL)
		st = RUNS_BY_RCPT;
	else
		st = RUNS_LIST;
	st += f->backward ? 1 : 0;
	pg_arg_int(&a, f->cur_run);
	pg_arg_int(&a, f->cur_idx);
	pg_arg_text(&a, f->workflow);
	pg_arg_json(&a, f->statuses);
	pg_arg_text(&a, f->rcpt);
	runs_arg_max(&a, max);
	pg_arg_text(&a, f->tenant);
	pg_arg_int(&a, f->has_errors);
	pg_arg_int(&a, f->start);
	pg_arg_int(&a, f->end);
	if (f->sched != STORE_NONE)
		pg_arg_int(&a, f->sched);
	if ((res = pg_run(s, PG_RUNS, st, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(res);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		runs_list_read(res, (int)i, &out[i]);
	PQclear(res);
	for (i = 0; f->backward && i < n / 2; i++) {
		tmp = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

/* Queue the subscribers of object obj (at level) for run seq's fan-out. */
static int
pg_fanout_push(struct store *s, int64_t seq, const char *obj, int level,
    json_t *tdata)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_text(&a, obj);
	pg_arg_int(&a, level);
	pg_arg_json(&a, tdata);
	return pg_done(s, PG_RUNS, RUNS_FAN_PUSH, &a);
}

/*
 * The first queued job of run seq's fan-out into *out (unless out is
 * NULL): 1, or 0 if none remains.  The chunk that reads it (out given)
 * holds its row until its transaction ends.
 */
static int
pg_fanout_head(struct store *s, int64_t seq, struct store_fanout *out)
{
	struct pg_args a = { 0 };
	PGresult *res;
	int found;

	pg_arg_int(&a, seq);
	res = pg_run(s, PG_RUNS, out != NULL ? RUNS_FAN_HEAD : RUNS_FAN_ANY,
	    &a);
	if (res == NULL)
		return 0;
	if ((found = PQntuples(res) > 0) && out != NULL) {
		out->job = pg_int(res, 0, 0);
		out->obj = pg_text(res, 0, 1);
		out->level = (int)runs_int0(res, 0, 2);
		out->after = pg_text(res, 0, 3);
		out->tdata = pg_json(res, 0, 4);
	}
	PQclear(res);
	return found;
}

/* Note that job went as far as subscriber key after; 0 or -1. */
static int
pg_fanout_advance(struct store *s, int64_t seq, int64_t job,
    const char *after)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_int(&a, job);
	pg_arg_text(&a, after);
	return pg_done(s, PG_RUNS, RUNS_FAN_ADVANCE, &a);
}

/* Remove a finished job from run seq's fan-out; 0 or -1. */
static int
pg_fanout_pop(struct store *s, int64_t seq, int64_t job)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_int(&a, job);
	return pg_done(s, PG_RUNS, RUNS_FAN_POP, &a);
}

/* End run seq's fan-out: its jobs and what it reached go; 0 or -1. */
static int
pg_fanout_end(struct store *s, int64_t seq)
{
	struct pg_args a = { 0 }, b = { 0 };
	int rc;

	pg_arg_int(&a, seq);
	rc = pg_done(s, PG_RUNS, RUNS_FAN_END, &a);
	pg_arg_int(&b, seq);
	if (pg_done(s, PG_RUNS, RUNS_SEEN_END, &b) != 0)
		rc = -1;
	return rc;
}

/* Run seq reaches rcpt: 1 the first time, 0 if it did before, or -1. */
static int
pg_fanout_reached(struct store *s, int64_t seq, const char *rcpt)
{
	struct pg_args a = { 0 };
	int64_t n;

	pg_arg_int(&a, seq);
	pg_arg_text(&a, rcpt);
	if ((n = pg_changed(s, PG_RUNS, RUNS_SEEN_ADD, &a)) < 0)
		return -1;
	return n > 0;
}

/*
 * A cancel of workflow's key ck covering its runs up to upto, for the
 * recipient keys of rcpts (an object of keys; NULL: all); 0 or -1.
 */
static int
pg_cancel_add(struct store *s, const char *workflow, const char *ck,
    int64_t upto, json_t *rcpts)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, workflow);
	pg_arg_text(&a, ck);
	pg_arg_int(&a, upto);
	pg_arg_json(&a, rcpts);
	return pg_done(s, PG_RUNS, RUNS_CANCEL_ADD, &a);
}

/*
 * The cancels of workflow's key ck that cover run seq: an array of their
 * recipient sets (null for a cancel of all), in no particular order (the
 * engine takes their union).
 */
static json_t *
pg_cancels(struct store *s, const char *workflow, const char *ck,
    int64_t seq)
{
	struct pg_args a = { 0 };
	json_t *out = json_array(), *v;
	PGresult *res;
	int i, n;

	pg_arg_text(&a, workflow);
	pg_arg_text(&a, ck);
	pg_arg_int(&a, seq);
	if ((res = pg_run(s, PG_RUNS, RUNS_CANCELS, &a)) == NULL)
		return out;
	for (i = 0, n = PQntuples(res); i < n; i++) {
		v = pg_json(res, i, 0);
		json_array_append_new(out, v != NULL ? v : json_null());
	}
	PQclear(res);
	return out;
}

/*
 * Delete the cancels no pending fan-out can meet (store_sweep), but those
 * another node's sweep holds; 0 or -1.
 */
int
pg_runs_sweep(struct store *s)
{
	return pg_done(s, PG_RUNS, RUNS_CANCEL_SWEEP, NULL);
}

/* This file's operations, into the backend's table. */
void
pg_runs_ops(struct store_ops *o)
{
	o->run_add = pg_run_add;
	o->run_get = pg_run_get;
	o->runs_by_ckey = pg_runs_by_ckey;
	o->run_set_next = pg_run_set_next;
	o->rrun_add = pg_rrun_add;
	o->rrun_update = pg_rrun_update;
	o->rrun_get = pg_rrun_get;
	o->rruns_pending = pg_rruns_pending;
	o->rruns_list = pg_rruns_list;
	o->fanout_push = pg_fanout_push;
	o->fanout_head = pg_fanout_head;
	o->fanout_advance = pg_fanout_advance;
	o->fanout_pop = pg_fanout_pop;
	o->fanout_end = pg_fanout_end;
	o->fanout_reached = pg_fanout_reached;
	o->cancel_add = pg_cancel_add;
	o->cancels = pg_cancels;
}
