/*
 * The PostgreSQL backend's schedules: one row per (schedule, recipient),
 * keyed by an identity column (a key is never given twice), with
 * next_fire_at, the UTC instant of its next fire (NULL when none), in the
 * partial index schedules_due on (next_fire_at, seq), so the due rows and
 * the earliest are found by index in the order SQLite gives them; a
 * per-subscriber template's children name it as parent; config-defined
 * rows keep their config id and the definition they were made from.
 *
 * Several nodes share the rows.  The due read claims what it returns
 * (FOR UPDATE SKIP LOCKED) until the transaction that records the fire
 * ends, so each due row is fired by one node; the unique index
 * runs_by_fire on (schedule_seq, fire_at) makes a second run of one
 * occurrence impossible even if two nodes fired it.  A row saved or
 * fired with a next fire has it announced to the other nodes at the
 * commit (pg_due_added), so that they wake for it.  A reload's sync of
 * config rows starts with store_sched_configs, which takes a transaction
 * advisory lock first, so two nodes reloading together run one after the
 * other and the second sees the first's rows.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/pg_int.h"

/* The columns of a schedule row, in the order sched_read reads them. */
#define SCHED_COLS "seq, parent, workflow, rcpt, actor, tenant, data," \
	" repeats, rule, exdates, dtstart, start_at, timezone, dst_gap," \
	" dst_overlap, catchup_window, paused, ending_at, next_fire_at," \
	" last_fire_at, skipped, last_skipped_at, source, config_id, def," \
	" inserted_at, updated_at, per_sub, skip_reason, last_error"

/* The list statements' filters by several recipients and by tenant. */
#define SCHED_FILTERS " ($7::text IS NULL OR rcpt IN (SELECT" \
	" json_array_elements_text($7::json))) AND ($8::text IS NULL OR" \
	" tenant = $8::text)"
/* A list led by the indexed term lead, keys cmp $3, in order dir. */
#define SCHED_LIST_SQL(lead, cmp, dir) ("SELECT " SCHED_COLS " FROM" \
	" schedules WHERE " lead " AND ($1::text IS NULL OR workflow =" \
	" $1::text) AND ($2::text IS NULL OR rcpt = $2::text) AND" \
	" ($6::bigint IS NULL OR parent = $6::bigint) AND ($4::bigint = 0" \
	" OR parent IS NULL) AND seq " cmp " $3::bigint AND" SCHED_FILTERS \
	" ORDER BY seq " dir " LIMIT $5::bigint")

/*
 * The key of the advisory lock a config sync holds ("BLFS"; the
 * migration lock is "BLFY", pg.c).
 */
#define SCHED_CFG_LOCK "1112294995"

/* The statements of this file. */
enum {
	SCHED_ADD, SCHED_GET, SCHED_UPDATE, SCHED_KIDS_DEL, SCHED_WORKFLOWS,
	SCHED_RCPT_KIDS_DEL, SCHED_RCPT_DEL, SCHED_DEL,
	SCHED_DUE, SCHED_FIRED, SCHED_LIST, SCHED_BY_WF, SCHED_BY_RCPT,
	SCHED_BY_PARENT, SCHED_LIST_DOWN, SCHED_BY_WF_DOWN, SCHED_BY_RCPT_DOWN,
	SCHED_BY_PARENT_DOWN, SCHED_CHILD_DEL, SCHED_CFG_LOCK_TAKE,
	SCHED_CFG_LIST, SCHED_CFG_ROWS, SCHED_CFG_DEL, SCHEDULES_COUNT
};
static const char *const schedules_sql[SCHEDULES_COUNT] = {
	[SCHED_ADD] = "INSERT INTO schedules(parent, workflow, rcpt, actor,"
	    " tenant, data, repeats, rule, exdates, dtstart, start_at, timezone,"
	    " dst_gap, dst_overlap, catchup_window, paused, ending_at,"
	    " next_fire_at, source, config_id, def, inserted_at, updated_at,"
	    " per_sub) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
	    " $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, $23)"
	    " RETURNING seq",
	[SCHED_GET] = "SELECT " SCHED_COLS " FROM schedules WHERE seq ="
	    " $1::bigint",
	[SCHED_UPDATE] = "UPDATE schedules SET workflow = $2, actor = $3,"
	    " tenant = $4, data = $5, repeats = $6, rule = $7, exdates = $8,"
	    " dtstart = $9, start_at = $10, timezone = $11, dst_gap = $12,"
	    " dst_overlap = $13, catchup_window = $14, paused = $15,"
	    " ending_at = $16, next_fire_at = $17, updated_at = $18,"
	    " def = $19, per_sub = $20 WHERE seq = $1::bigint",
	[SCHED_KIDS_DEL] = "DELETE FROM schedules WHERE parent = $1::bigint",
	/* Byte order of the keys, as SQLite's GROUP BY gives them. */
	[SCHED_WORKFLOWS] = "SELECT workflow, count(*) FROM schedules"
	    " GROUP BY workflow ORDER BY workflow COLLATE \"C\"",
	/* A recipient's schedules: first their children, then the rows. */
	[SCHED_RCPT_KIDS_DEL] = "DELETE FROM schedules WHERE parent IN"
	    " (SELECT seq FROM schedules WHERE rcpt = $1::text AND parent IS"
	    " NULL AND config_id IS NULL)",
	[SCHED_RCPT_DEL] = "DELETE FROM schedules WHERE rcpt = $1::text AND"
	    " config_id IS NULL",
	[SCHED_DEL] = "DELETE FROM schedules WHERE seq = $1::bigint OR"
	    " parent = $1::bigint",
	/* Claimed until the transaction ends: no other node gets them. */
	[SCHED_DUE] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " next_fire_at <= $1::bigint ORDER BY next_fire_at, seq LIMIT"
	    " $2::bigint FOR UPDATE SKIP LOCKED",
	[SCHED_FIRED] = "UPDATE schedules SET next_fire_at = $2::bigint,"
	    " last_fire_at = coalesce($3::bigint, last_fire_at), skipped ="
	    " skipped + $4::bigint, last_skipped_at = coalesce($5::bigint,"
	    " last_skipped_at), skip_reason = coalesce($6::text, skip_reason),"
	    " last_error = CASE WHEN $7::text IS NOT NULL THEN $7::text WHEN"
	    " $3::bigint IS NOT NULL THEN NULL ELSE last_error END WHERE seq ="
	    " $1::bigint",
	/*
	 * Lists: one statement per indexed filter (a "$1 IS NULL OR" term
	 * cannot use an index); the same parameters in each: $1 workflow,
	 * $2 rcpt, $3 after seq, $4 top-level only, $5 limit, $6 parent,
	 * $7 a JSON array of rcpts (any of them), $8 tenant; _DOWN: keys
	 * below $3, newest first.
	 */
	[SCHED_LIST] = SCHED_LIST_SQL("true", ">", "ASC"),
	[SCHED_BY_WF] = SCHED_LIST_SQL("workflow = $1::text", ">", "ASC"),
	[SCHED_BY_RCPT] = SCHED_LIST_SQL("rcpt = $2::text", ">", "ASC"),
	[SCHED_BY_PARENT] = SCHED_LIST_SQL("parent = $6::bigint", ">", "ASC"),
	[SCHED_LIST_DOWN] = SCHED_LIST_SQL("true", "<", "DESC"),
	[SCHED_BY_WF_DOWN] = SCHED_LIST_SQL("workflow = $1::text", "<",
	    "DESC"),
	[SCHED_BY_RCPT_DOWN] = SCHED_LIST_SQL("rcpt = $2::text", "<", "DESC"),
	[SCHED_BY_PARENT_DOWN] = SCHED_LIST_SQL("parent = $6::bigint", "<",
	    "DESC"),
	[SCHED_CHILD_DEL] = "DELETE FROM schedules WHERE parent = $1::bigint"
	    " AND rcpt = $2::text",
	/* Held until the transaction ends: one node's sync at a time. */
	[SCHED_CFG_LOCK_TAKE] = "SELECT pg_advisory_xact_lock("
	    SCHED_CFG_LOCK ")",
	[SCHED_CFG_LIST] = "SELECT DISTINCT config_id, def FROM schedules"
	    " WHERE config_id IS NOT NULL AND parent IS NULL",
	[SCHED_CFG_ROWS] = "SELECT seq, rcpt FROM schedules WHERE"
	    " config_id = $1::text AND parent IS NULL",
	[SCHED_CFG_DEL] = "DELETE FROM schedules WHERE config_id = $1::text",
};
const struct pg_sql pg_schedules_sql = { schedules_sql, SCHEDULES_COUNT };

/* Read row i of r, laid out as SCHED_COLS, into *sc. */
static void
sched_read(const PGresult *r, int i, struct store_sched *sc)
{
	sc->seq = pg_int(r, i, 0);
	sc->parent = pg_int(r, i, 1);
	sc->workflow = pg_text(r, i, 2);
	sc->rcpt = pg_text(r, i, 3);
	sc->actor = pg_text(r, i, 4);
	sc->tenant = pg_text(r, i, 5);
	sc->data = pg_text(r, i, 6);
	sc->repeats = pg_text(r, i, 7);
	sc->rule = pg_text(r, i, 8);
	sc->exdates = pg_text(r, i, 9);
	sc->dtstart = pg_text(r, i, 10);
	sc->start_at = pg_int(r, i, 11);
	sc->timezone = pg_text(r, i, 12);
	sc->gap = pg_text(r, i, 13);
	sc->overlap = pg_text(r, i, 14);
	sc->catchup = pg_int(r, i, 15);
	sc->paused = (int)pg_int(r, i, 16);
	sc->ending_at = pg_int(r, i, 17);
	sc->next = pg_int(r, i, 18);
	sc->last = pg_int(r, i, 19);
	sc->skipped = pg_int(r, i, 20);
	sc->last_skipped = pg_int(r, i, 21);
	sc->source = pg_text(r, i, 22);
	sc->config_id = pg_text(r, i, 23);
	sc->def = pg_text(r, i, 24);
	sc->inserted = pg_int(r, i, 25);
	sc->updated = pg_int(r, i, 26);
	sc->per_sub = (int)pg_int(r, i, 27);
	sc->skip_reason = pg_text(r, i, 28);
	sc->last_error = pg_text(r, i, 29);
}

/* Read up to max rows of r (NULL: none) into out and clear r; the count. */
static size_t
sched_rows(PGresult *r, size_t max, struct store_sched *out)
{
	size_t n = 0;

	if (r == NULL)
		return 0;
	while (n < max && (int)n < PQntuples(r)) {
		sched_read(r, (int)n, &out[n]);
		n++;
	}
	PQclear(r);
	return n;
}

/* Announce at the commit that a row's next fire is at next (if any). */
static void
sched_due_added(struct store *s, int64_t next)
{
	if (next != STORE_NONE)
		pg_due_added(s, next);
}

/* Schedule row seq into *sc: 1, or 0 if there is none (or on error). */
static int
pg_sched_get(struct store *s, int64_t seq, struct store_sched *sc)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	return (int)sched_rows(pg_run(s, PG_SCHEDULES, SCHED_GET, &a), 1, sc);
}

/*
 * Append row sc's definition and plan, from its actor to its next fire,
 * as the insert and the update both take them.
 */
static void
sched_args_plan(struct pg_args *a, const struct store_sched *sc)
{
	pg_arg_text(a, sc->actor);
	pg_arg_text(a, sc->tenant);
	pg_arg_text(a, sc->data);
	pg_arg_text(a, sc->repeats);
	pg_arg_text(a, sc->rule);
	pg_arg_text(a, sc->exdates);
	pg_arg_text(a, sc->dtstart);
	pg_arg_int(a, sc->start_at);
	pg_arg_text(a, sc->timezone);
	pg_arg_text(a, sc->gap);
	pg_arg_text(a, sc->overlap);
	pg_arg_int(a, sc->catchup);
	pg_arg_int(a, sc->paused);
	pg_arg_int(a, sc->ending_at);
	pg_arg_int(a, sc->next);
}

/*
 * Insert row sc (seq 0: it gets its key from the identity column, never
 * one given before) or update its definition and plan (not its fire
 * history); 0 or -1.
 */
static int
pg_sched_save(struct store *s, struct store_sched *sc)
{
	struct pg_args a = { 0 };
	PGresult *r;

	if (sc->seq == 0) {
		pg_arg_int(&a, sc->parent);
		pg_arg_text(&a, sc->workflow);
		pg_arg_text(&a, sc->rcpt);
		sched_args_plan(&a, sc);
		pg_arg_text(&a, sc->source);
		pg_arg_text(&a, sc->config_id);
		pg_arg_text(&a, sc->def);
		pg_arg_int(&a, sc->inserted);
		pg_arg_int(&a, sc->per_sub);
		if ((r = pg_run(s, PG_SCHEDULES, SCHED_ADD, &a)) == NULL)
			return -1;
		sc->seq = PQntuples(r) == 1 ? pg_int(r, 0, 0) : 0;
		PQclear(r);
		if (sc->seq == 0 || sc->seq == STORE_NONE) {
			sc->seq = 0;
			pg_failed(s, "postgresql: schedule insert gave no key");
			return -1;
		}
		sched_due_added(s, sc->next);
		return 0;
	}
	pg_arg_int(&a, sc->seq);
	pg_arg_text(&a, sc->workflow);
	sched_args_plan(&a, sc);
	pg_arg_int(&a, sc->updated);
	pg_arg_text(&a, sc->def);
	pg_arg_int(&a, sc->per_sub);
	if (pg_done(s, PG_SCHEDULES, SCHED_UPDATE, &a) != 0)
		return -1;
	sched_due_added(s, sc->next);
	return 0;
}

/* Run deletion i with $1 = text; 0 or -1. */
static int
sched_delete_by(struct store *s, int i, const char *text)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, text);
	return pg_done(s, PG_SCHEDULES, i, &a);
}

/* Run deletion i with $1 = key; 0 or -1. */
static int
sched_delete_key(struct store *s, int i, int64_t key)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, key);
	return pg_done(s, PG_SCHEDULES, i, &a);
}

/* Delete row seq and its children; 0 or -1. */
static int
pg_sched_delete(struct store *s, int64_t seq)
{
	return sched_delete_key(s, SCHED_DEL, seq);
}

/* Delete template parent's children; 0 or -1. */
static int
pg_sched_delete_children(struct store *s, int64_t parent)
{
	return sched_delete_key(s, SCHED_KIDS_DEL, parent);
}

/* Delete template parent's child for rcpt; 0 or -1. */
static int
pg_sched_delete_child(struct store *s, int64_t parent, const char *rcpt)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, parent);
	pg_arg_text(&a, rcpt);
	return pg_done(s, PG_SCHEDULES, SCHED_CHILD_DEL, &a);
}

/* Delete rcpt's rows not defined by config files, children first. */
static int
pg_sched_delete_rcpt(struct store *s, const char *rcpt)
{
	if (sched_delete_by(s, SCHED_RCPT_KIDS_DEL, rcpt) != 0)
		return -1;
	return sched_delete_by(s, SCHED_RCPT_DEL, rcpt);
}

/* Delete every row of config schedule config_id; 0 or -1. */
static int
pg_sched_delete_config(struct store *s, const char *config_id)
{
	return sched_delete_by(s, SCHED_CFG_DEL, config_id);
}

/* The earliest next fire of any row, or INT64_MAX. */
static int64_t
pg_sched_next(struct store *s)
{
	return pg_next(s, PG_NEXT_FIRES);
}

/*
 * Up to max rows due at or before now, earliest first, into out, each
 * locked until the transaction ends (rows another node holds are
 * skipped).
 */
static size_t
pg_sched_due(struct store *s, int64_t now, size_t max,
    struct store_sched *out)
{
	struct pg_args a = { 0 };

	if (max == 0)
		return 0;
	pg_arg_int(&a, now);
	pg_arg_int(&a, (int64_t)max);
	return sched_rows(pg_run(s, PG_SCHEDULES, SCHED_DUE, &a), max, out);
}

/* Record what handling row seq's due occurrences did (see store.h). */
static int
pg_sched_fired(struct store *s, int64_t seq, const struct store_fire *f)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_int(&a, f->next);
	pg_arg_int(&a, f->fired);
	pg_arg_int(&a, f->skipped);
	pg_arg_int(&a, f->last_skipped);
	pg_arg_text(&a, f->reason);
	pg_arg_text(&a, f->error);
	if (pg_done(s, PG_SCHEDULES, SCHED_FIRED, &a) != 0)
		return -1;
	sched_due_added(s, f->next);
	return 0;
}

/*
 * Up to max rows matching f, by key after f->after (or, backward, the
 * ones just below it, still in key order), into out: the statement of
 * the most selective indexed filter given.  Their count.
 */
static size_t
pg_sched_list(struct store *s, const struct store_sched_filter *f,
    size_t max, struct store_sched *out)
{
	int down = f->backward ? SCHED_LIST_DOWN - SCHED_LIST : 0, i;
	struct store_sched tmp;
	struct pg_args a = { 0 };
	size_t n, k;

	if (f->parent != STORE_NONE)
		i = SCHED_BY_PARENT + down;
	else if (f->rcpt != NULL)
		i = SCHED_BY_RCPT + down;
	else if (f->workflow != NULL)
		i = SCHED_BY_WF + down;
	else
		i = SCHED_LIST + down;
	pg_arg_text(&a, f->workflow);
	pg_arg_text(&a, f->rcpt);
	pg_arg_int(&a, f->after);
	pg_arg_int(&a, f->top);
	pg_arg_int(&a, (int64_t)max);
	pg_arg_int(&a, f->parent);
	/* NULL or JSON null binds as SQL NULL, as in SQLite. */
	pg_arg_json(&a, f->rcpts);
	pg_arg_text(&a, f->tenant);
	n = sched_rows(pg_run(s, PG_SCHEDULES, i, &a), max, out);
	for (k = 0; f->backward && k < n / 2; k++) {
		tmp = out[k];
		out[k] = out[n - 1 - k];
		out[n - 1 - k] = tmp;
	}
	return n;
}

/*
 * The pairs of a two-column result (key text in column key, the other
 * text or integer by text) as an object; r is cleared.
 */
static json_t *
sched_pairs(PGresult *r, int key, int text)
{
	json_t *o = json_object();
	const char *k, *v;
	int i, n;

	for (i = 0, n = r != NULL ? PQntuples(r) : 0; i < n; i++) {
		if ((k = pg_cell(r, i, key)) == NULL)
			continue;
		if (text) {
			v = pg_cell(r, i, 1 - key);
			json_object_set_new(o, k, json_string(v ? v : ""));
		} else
			json_object_set_new(o, k, json_integer(pg_null(r, i,
			    1 - key) ? 0 : pg_int(r, i, 1 - key)));
	}
	PQclear(r);
	return o;
}

/* The workflows the rows name, with their row counts: {key: rows}. */
static json_t *
pg_sched_workflows(struct store *s)
{
	return sched_pairs(pg_run(s, PG_SCHEDULES, SCHED_WORKFLOWS, NULL), 0,
	    0);
}

/*
 * The config schedules stored, with their definitions: {id: def text}.
 * In a transaction, a sync of config rows begins here: the advisory lock
 * taken first (a statement of its own, so the read after it sees what
 * the node that held it committed) lasts until the transaction ends.
 */
static json_t *
pg_sched_configs(struct store *s)
{
	if (s->in_txn && pg_done(s, PG_SCHEDULES, SCHED_CFG_LOCK_TAKE,
	    NULL) != 0)
		return json_object();
	return sched_pairs(pg_run(s, PG_SCHEDULES, SCHED_CFG_LIST, NULL), 0,
	    1);
}

/* Config schedule config_id's top-level rows: {rcpt: seq}. */
static json_t *
pg_sched_config_rows(struct store *s, const char *config_id)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, config_id);
	return sched_pairs(pg_run(s, PG_SCHEDULES, SCHED_CFG_ROWS, &a), 1, 0);
}

/* This file's operations, into the backend's table. */
void
pg_schedules_ops(struct store_ops *o)
{
	o->sched_get = pg_sched_get;
	o->sched_save = pg_sched_save;
	o->sched_delete = pg_sched_delete;
	o->sched_delete_children = pg_sched_delete_children;
	o->sched_delete_child = pg_sched_delete_child;
	o->sched_delete_rcpt = pg_sched_delete_rcpt;
	o->sched_delete_config = pg_sched_delete_config;
	o->sched_next = pg_sched_next;
	o->sched_due = pg_sched_due;
	o->sched_fired = pg_sched_fired;
	o->sched_list = pg_sched_list;
	o->sched_workflows = pg_sched_workflows;
	o->sched_configs = pg_sched_configs;
	o->sched_config_rows = pg_sched_config_rows;
}
