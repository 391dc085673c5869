/*
 * The SQLite backend's schedules: one row per (schedule, recipient), with
 * next_fire_at, the UTC instant of its next fire (NULL when none), in a
 * partial index, so the due ones and the earliest are found by index; a
 * per-subscriber template's children name it as parent; config-defined
 * rows keep their config id and the definition they were made from.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The columns of a schedule row, in the order sched_read reads them. */
#define SCHED_COLS "seq, parent, workflow, rcpt, actor, tenant, data," \
	" repeats, rule, exdates, dtstart, start_at, timezone, dst_gap," \
	" dst_overlap, catchup_window, paused, ending_at, next_fire_at," \
	" last_fire_at, skipped, last_skipped_at, source, config_id, def," \
	" inserted_at, updated_at, per_sub, skip_reason, last_error"

/* The list statements' filters by several recipients and by tenant. */
#define SCHED_FILTERS " (?7 IS NULL OR rcpt IN (SELECT value FROM" \
	" json_each(?7))) AND (?8 IS NULL OR tenant = ?8)"
/* A list led by the indexed term lead, keys cmp ?3, in order dir. */
#define SCHED_LIST_SQL(lead, cmp, dir) "SELECT " SCHED_COLS " FROM" \
	" schedules WHERE " lead " AND (?1 IS NULL OR workflow = ?1) AND" \
	" (?2 IS NULL OR rcpt = ?2) AND (?6 IS NULL OR parent = ?6) AND" \
	" (?4 = 0 OR parent IS NULL) AND seq " cmp " ?3 AND" SCHED_FILTERS \
	" ORDER BY seq " dir " LIMIT ?5"

/* The statements of this file. */
enum {
	SCHED_ADD, SCHED_GET, SCHED_UPDATE, SCHED_KIDS_DEL, SCHED_WORKFLOWS,
	SCHED_RCPT_KIDS_DEL, SCHED_RCPT_DEL, SCHED_DEL, SCHED_NEXT,
	SCHED_DUE, SCHED_FIRED, SCHED_LIST, SCHED_BY_WF, SCHED_BY_RCPT,
	SCHED_BY_PARENT, SCHED_LIST_DOWN, SCHED_BY_WF_DOWN, SCHED_BY_RCPT_DOWN,
	SCHED_BY_PARENT_DOWN, SCHED_CHILD_DEL, SCHED_CFG_LIST, SCHED_CFG_ROWS,
	SCHED_CFG_DEL, SCHED_COUNT
};
static const char *const sched_sql[SCHED_COUNT] = {
	[SCHED_ADD] = "INSERT INTO schedules(parent, workflow, rcpt, actor,"
	    " tenant, data, repeats, rule, exdates, dtstart, start_at, timezone,"
	    " dst_gap, dst_overlap, catchup_window, paused, ending_at,"
	    " next_fire_at, source, config_id, def, inserted_at, updated_at,"
	    " per_sub) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	    " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?22, ?23)",
	[SCHED_GET] = "SELECT " SCHED_COLS " FROM schedules WHERE seq = ?1",
	[SCHED_UPDATE] = "UPDATE schedules SET workflow = ?2, actor = ?3,"
	    " tenant = ?4, data = ?5, repeats = ?6, rule = ?7, exdates = ?8,"
	    " dtstart = ?9, start_at = ?10, timezone = ?11, dst_gap = ?12,"
	    " dst_overlap = ?13, catchup_window = ?14, paused = ?15,"
	    " ending_at = ?16, next_fire_at = ?17, updated_at = ?18,"
	    " def = ?19, per_sub = ?20 WHERE seq = ?1",
	[SCHED_KIDS_DEL] = "DELETE FROM schedules WHERE parent = ?1",
	/* An index-only scan of schedules_by_workflow. */
	[SCHED_WORKFLOWS] = "SELECT workflow, count(*) FROM schedules"
	    " GROUP BY workflow",
	/* A recipient's schedules: first their children, then the rows. */
	[SCHED_RCPT_KIDS_DEL] = "DELETE FROM schedules WHERE parent IN"
	    " (SELECT seq FROM schedules WHERE rcpt = ?1 AND parent IS NULL"
	    " AND config_id IS NULL)",
	[SCHED_RCPT_DEL] = "DELETE FROM schedules WHERE rcpt = ?1 AND"
	    " config_id IS NULL",
	[SCHED_DEL] = "DELETE FROM schedules WHERE seq = ?1 OR parent = ?1",
	/* The WHERE lets min() read the first entry of the partial index. */
	[SCHED_NEXT] = "SELECT min(next_fire_at) FROM schedules WHERE"
	    " next_fire_at IS NOT NULL",
	[SCHED_DUE] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " next_fire_at <= ?1 ORDER BY next_fire_at LIMIT ?2",
	[SCHED_FIRED] = "UPDATE schedules SET next_fire_at = ?2,"
	    " last_fire_at = coalesce(?3, last_fire_at), skipped = skipped +"
	    " ?4, last_skipped_at = coalesce(?5, last_skipped_at),"
	    " skip_reason = coalesce(?6, skip_reason), last_error = CASE"
	    " WHEN ?7 IS NOT NULL THEN ?7 WHEN ?3 IS NOT NULL THEN NULL ELSE"
	    " last_error END WHERE seq = ?1",
	/*
	 * Lists: one statement per indexed filter (an "?1 IS NULL OR" term
	 * cannot use an index); the same parameters in each: ?1 workflow,
	 * ?2 rcpt, ?3 after seq, ?4 top-level only, ?5 limit, ?6 parent,
	 * ?7 a JSON array of rcpts (any of them), ?8 tenant; _DOWN: keys
	 * below ?3, newest first.
	 */
	[SCHED_LIST] = SCHED_LIST_SQL("1", ">", "ASC"),
	[SCHED_BY_WF] = SCHED_LIST_SQL("workflow = ?1", ">", "ASC"),
	[SCHED_BY_RCPT] = SCHED_LIST_SQL("rcpt = ?2", ">", "ASC"),
	[SCHED_BY_PARENT] = SCHED_LIST_SQL("parent = ?6", ">", "ASC"),
	[SCHED_LIST_DOWN] = SCHED_LIST_SQL("1", "<", "DESC"),
	[SCHED_BY_WF_DOWN] = SCHED_LIST_SQL("workflow = ?1", "<", "DESC"),
	[SCHED_BY_RCPT_DOWN] = SCHED_LIST_SQL("rcpt = ?2", "<", "DESC"),
	[SCHED_BY_PARENT_DOWN] = SCHED_LIST_SQL("parent = ?6", "<", "DESC"),
	[SCHED_CHILD_DEL] = "DELETE FROM schedules WHERE parent = ?1 AND"
	    " rcpt = ?2",
	[SCHED_CFG_LIST] = "SELECT DISTINCT config_id, def FROM schedules"
	    " WHERE config_id IS NOT NULL AND parent IS NULL",
	[SCHED_CFG_ROWS] = "SELECT seq, rcpt FROM schedules WHERE"
	    " config_id = ?1 AND parent IS NULL",
	[SCHED_CFG_DEL] = "DELETE FROM schedules WHERE config_id = ?1",
};
const struct sqlite_sql sqlite_schedules_sql = { sched_sql, SCHED_COUNT };

/* A statement of this file, reset. */
static sqlite3_stmt *
sched_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_SCHEDULES, i);
}

/* Read a row laid out as SCHED_COLS into *sc. */
static void
sched_read(sqlite3_stmt *st, struct store_sched *sc)
{
	sc->seq = sqlite3_column_int64(st, 0);
	sc->parent = sqlite_int(st, 1);
	sc->workflow = sqlite_text(st, 2);
	sc->rcpt = sqlite_text(st, 3);
	sc->actor = sqlite_text(st, 4);
	sc->tenant = sqlite_text(st, 5);
	sc->data = sqlite_text(st, 6);
	sc->repeats = sqlite_text(st, 7);
	sc->rule = sqlite_text(st, 8);
	sc->exdates = sqlite_text(st, 9);
	sc->dtstart = sqlite_text(st, 10);
	sc->start_at = sqlite_int(st, 11);
	sc->timezone = sqlite_text(st, 12);
	sc->gap = sqlite_text(st, 13);
	sc->overlap = sqlite_text(st, 14);
	sc->catchup = sqlite3_column_int64(st, 15);
	sc->paused = sqlite3_column_int(st, 16);
	sc->ending_at = sqlite_int(st, 17);
	sc->next = sqlite_int(st, 18);
	sc->last = sqlite_int(st, 19);
	sc->skipped = sqlite3_column_int64(st, 20);
	sc->last_skipped = sqlite_int(st, 21);
	sc->source = sqlite_text(st, 22);
	sc->config_id = sqlite_text(st, 23);
	sc->def = sqlite_text(st, 24);
	sc->inserted = sqlite3_column_int64(st, 25);
	sc->updated = sqlite3_column_int64(st, 26);
	sc->per_sub = sqlite3_column_int(st, 27);
	sc->skip_reason = sqlite_text(st, 28);
	sc->last_error = sqlite_text(st, 29);
}


/* Schedule row seq into *sc: 1, or 0 if there is none. */
static int
sqlite_sched_get(struct store *s, int64_t seq, struct store_sched *sc)
{
	sqlite3_stmt *st = sched_stmt(s, SCHED_GET);
	int found;

	sqlite3_bind_int64(st, 1, seq);
	if ((found = sqlite_row(s, st)))
		sched_read(st, sc);
	sqlite3_reset(st);
	return found;
}

/*
 * Insert row sc (seq 0: it gets its key, never one given before) or
 * update its definition and plan (not its fire history); 0 or -1.
 */
static int
sqlite_sched_save(struct store *s, struct store_sched *sc)
{
	sqlite3_stmt *st;

	if (sc->seq == 0) {
		st = sched_stmt(s, SCHED_ADD);
		sqlite_bind_int(st, 1, sc->parent);
		sqlite_bind_text(st, 2, sc->workflow);
		sqlite_bind_text(st, 3, sc->rcpt);
		sqlite_bind_text(st, 4, sc->actor);
		sqlite_bind_text(st, 5, sc->tenant);
		sqlite_bind_text(st, 6, sc->data);
		sqlite_bind_text(st, 7, sc->repeats);
		sqlite_bind_text(st, 8, sc->rule);
		sqlite_bind_text(st, 9, sc->exdates);
		sqlite_bind_text(st, 10, sc->dtstart);
		sqlite_bind_int(st, 11, sc->start_at);
		sqlite_bind_text(st, 12, sc->timezone);
		sqlite_bind_text(st, 13, sc->gap);
		sqlite_bind_text(st, 14, sc->overlap);
		sqlite3_bind_int64(st, 15, sc->catchup);
		sqlite3_bind_int(st, 16, sc->paused);
		sqlite_bind_int(st, 17, sc->ending_at);
		sqlite_bind_int(st, 18, sc->next);
		sqlite_bind_text(st, 19, sc->source);
		sqlite_bind_text(st, 20, sc->config_id);
		sqlite_bind_text(st, 21, sc->def);
		sqlite3_bind_int64(st, 22, sc->inserted);
		sqlite3_bind_int(st, 23, sc->per_sub);
		if (sqlite_done(s, st) != 0)
			return -1;
		sc->seq = sqlite3_last_insert_rowid(s->db);
		return 0;
	}
	st = sched_stmt(s, SCHED_UPDATE);
	sqlite3_bind_int64(st, 1, sc->seq);
	sqlite_bind_text(st, 2, sc->workflow);
	sqlite_bind_text(st, 3, sc->actor);
	sqlite_bind_text(st, 4, sc->tenant);
	sqlite_bind_text(st, 5, sc->data);
	sqlite_bind_text(st, 6, sc->repeats);
	sqlite_bind_text(st, 7, sc->rule);
	sqlite_bind_text(st, 8, sc->exdates);
	sqlite_bind_text(st, 9, sc->dtstart);
	sqlite_bind_int(st, 10, sc->start_at);
	sqlite_bind_text(st, 11, sc->timezone);
	sqlite_bind_text(st, 12, sc->gap);
	sqlite_bind_text(st, 13, sc->overlap);
	sqlite3_bind_int64(st, 14, sc->catchup);
	sqlite3_bind_int(st, 15, sc->paused);
	sqlite_bind_int(st, 16, sc->ending_at);
	sqlite_bind_int(st, 17, sc->next);
	sqlite3_bind_int64(st, 18, sc->updated);
	sqlite_bind_text(st, 19, sc->def);
	sqlite3_bind_int(st, 20, sc->per_sub);
	return sqlite_done(s, st);
}

/* Step deletion i with ?1 = text; 0 or -1. */
static int
sched_delete_by(struct store *s, int i, const char *text)
{
	sqlite3_stmt *st = sched_stmt(s, i);

	sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	return sqlite_done(s, st);
}

/* Delete row seq and its children; 0 or -1. */
static int
sqlite_sched_delete(struct store *s, int64_t seq)
{
	return sqlite_done_key(s, PART_SCHEDULES, SCHED_DEL, seq);
}

/* Delete template parent's children; 0 or -1. */
static int
sqlite_sched_delete_children(struct store *s, int64_t parent)
{
	return sqlite_done_key(s, PART_SCHEDULES, SCHED_KIDS_DEL, parent);
}

/* Delete template parent's child for rcpt; 0 or -1. */
static int
sqlite_sched_delete_child(struct store *s, int64_t parent, const char *rcpt)
{
	sqlite3_stmt *st = sched_stmt(s, SCHED_CHILD_DEL);

	sqlite3_bind_int64(st, 1, parent);
	sqlite3_bind_text(st, 2, rcpt, -1, SQLITE_STATIC);
	return sqlite_done(s, st);
}

/* Delete rcpt's rows not defined by config files, children first. */
static int
sqlite_sched_delete_rcpt(struct store *s, const char *rcpt)
{
	if (sched_delete_by(s, SCHED_RCPT_KIDS_DEL, rcpt) != 0)
		return -1;
	return sched_delete_by(s, SCHED_RCPT_DEL, rcpt);
}

/* Delete every row of config schedule config_id; 0 or -1. */
static int
sqlite_sched_delete_config(struct store *s, const char *config_id)
{
	return sched_delete_by(s, SCHED_CFG_DEL, config_id);
}

/* The earliest next fire of any row, or INT64_MAX. */
static int64_t
sqlite_sched_next(struct store *s)
{
	return sqlite_scalar(s, sched_stmt(s, SCHED_NEXT), INT64_MAX);
}

/* Up to max rows due at or before now, earliest first, into out. */
static size_t
sqlite_sched_due(struct store *s, int64_t now, size_t max,
    struct store_sched *out)
{
	sqlite3_stmt *st = sched_stmt(s, SCHED_DUE);
	size_t n = 0;

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && sqlite_row(s, st))
		sched_read(st, &out[n++]);
	sqlite3_reset(st);
	return n;
}

/* Record what handling row seq's due occurrences did (see store.h). */
static int
sqlite_sched_fired(struct store *s, int64_t seq, const struct store_fire *f)
{
	sqlite3_stmt *st = sched_stmt(s, SCHED_FIRED);

	sqlite3_bind_int64(st, 1, seq);
	sqlite_bind_int(st, 2, f->next);
	sqlite_bind_int(st, 3, f->fired);
	sqlite3_bind_int64(st, 4, f->skipped);
	sqlite_bind_int(st, 5, f->last_skipped);
	sqlite_bind_text(st, 6, f->reason);
	sqlite_bind_text(st, 7, f->error);
	return sqlite_done(s, st);
}

/*
 * Up to max rows matching f, by key after f->after (or, backward, the
 * ones just below it, still in key order), into out: the statement of
 * the most selective indexed filter given.  Their count.
 */
static size_t
sqlite_sched_list(struct store *s, const struct store_sched_filter *f,
    size_t max, struct store_sched *out)
{
	int down = f->backward ? SCHED_LIST_DOWN - SCHED_LIST : 0;
	struct store_sched tmp;
	sqlite3_stmt *st;
	size_t n = 0, i;

	if (f->parent != STORE_NONE)
		st = sched_stmt(s, SCHED_BY_PARENT + down);
	else if (f->rcpt != NULL)
		st = sched_stmt(s, SCHED_BY_RCPT + down);
	else if (f->workflow != NULL)
		st = sched_stmt(s, SCHED_BY_WF + down);
	else
		st = sched_stmt(s, SCHED_LIST + down);
	sqlite_bind_text(st, 1, f->workflow);
	sqlite_bind_text(st, 2, f->rcpt);
	sqlite3_bind_int64(st, 3, f->after);
	sqlite3_bind_int(st, 4, f->top);
	sqlite3_bind_int64(st, 5, (int64_t)max);
	sqlite_bind_int(st, 6, f->parent);
	sqlite_bind_json(st, 7, f->rcpts);
	sqlite_bind_text(st, 8, f->tenant);
	while (n < max && sqlite_row(s, st))
		sched_read(st, &out[n++]);
	sqlite3_reset(st);
	for (i = 0; f->backward && i < n / 2; i++) {
		tmp = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

/* Pairs of a two-column query (key text, value by kind) as an object. */
static json_t *
sched_pairs(struct store *s, sqlite3_stmt *st, int key, int text)
{
	json_t *o = json_object();
	const char *k, *v;

	while (sqlite_row(s, st)) {
		if ((k = (const char *)sqlite3_column_text(st, key)) == NULL)
			continue;
		if (text) {
			v = (const char *)sqlite3_column_text(st, 1 - key);
			json_object_set_new(o, k, json_string(v ? v : ""));
		} else
			json_object_set_new(o, k, json_integer(
			    sqlite3_column_int64(st, 1 - key)));
	}
	sqlite3_reset(st);
	return o;
}

/* The workflows the rows name, with their row counts: {key: rows}. */
static json_t *
sqlite_sched_workflows(struct store *s)
{
	return sched_pairs(s, sched_stmt(s, SCHED_WORKFLOWS), 0, 0);
}

/* The config schedules stored, with their definitions: {id: def text}. */
static json_t *
sqlite_sched_configs(struct store *s)
{
	return sched_pairs(s, sched_stmt(s, SCHED_CFG_LIST), 0, 1);
}

/* Config schedule config_id's top-level rows: {rcpt: seq}. */
static json_t *
sqlite_sched_config_rows(struct store *s, const char *config_id)
{
	sqlite3_stmt *st = sched_stmt(s, SCHED_CFG_ROWS);

	sqlite3_bind_text(st, 1, config_id, -1, SQLITE_STATIC);
	return sched_pairs(s, st, 1, 0);
}

/* This file's operations, into the backend's table. */
void
sqlite_schedules_ops(struct store_ops *o)
{
	o->sched_get = sqlite_sched_get;
	o->sched_save = sqlite_sched_save;
	o->sched_delete = sqlite_sched_delete;
	o->sched_delete_children = sqlite_sched_delete_children;
	o->sched_delete_child = sqlite_sched_delete_child;
	o->sched_delete_rcpt = sqlite_sched_delete_rcpt;
	o->sched_delete_config = sqlite_sched_delete_config;
	o->sched_next = sqlite_sched_next;
	o->sched_due = sqlite_sched_due;
	o->sched_fired = sqlite_sched_fired;
	o->sched_list = sqlite_sched_list;
	o->sched_workflows = sqlite_sched_workflows;
	o->sched_configs = sqlite_sched_configs;
	o->sched_config_rows = sqlite_sched_config_rows;
}
