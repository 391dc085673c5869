/*
 * The statements of the engine that do not yet sit behind store.h's
 * operations, with the helpers the engine binds and reads them with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/store/sqlite_int.h"

/* The columns of a schedule row, in the order schedules.c reads them. */
#define SCHED_COLS "seq, parent, workflow, rcpt, actor, tenant, data," \
	" repeats, rule, exdates, dtstart, start_at, timezone, dst_gap," \
	" dst_overlap, catchup_window, paused, ending_at, next_fire_at," \
	" last_fire_at, skipped, last_skipped_at, source, config_id, def," \
	" inserted_at, updated_at, per_sub, skip_reason, last_error"

/* The list statements' filters by several recipients and by tenant. */
#define SCHED_FILTERS " (?7 IS NULL OR rcpt IN (SELECT value FROM" \
	" json_each(?7))) AND (?8 IS NULL OR tenant = ?8)"

static const char *const legacy_sql[ST_COUNT] = {
	[ST_SCHED_INS] = "INSERT INTO schedules(parent, workflow, rcpt, actor,"
	    " tenant, data, repeats, rule, exdates, dtstart, start_at, timezone,"
	    " dst_gap, dst_overlap, catchup_window, paused, ending_at,"
	    " next_fire_at, source, config_id, def, inserted_at, updated_at,"
	    " per_sub) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	    " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?22, ?23)",
	[ST_SCHED_GET] = "SELECT " SCHED_COLS " FROM schedules WHERE seq = ?1",
	[ST_SCHED_UPD] = "UPDATE schedules SET workflow = ?2, actor = ?3,"
	    " tenant = ?4, data = ?5, repeats = ?6, rule = ?7, exdates = ?8,"
	    " dtstart = ?9, start_at = ?10, timezone = ?11, dst_gap = ?12,"
	    " dst_overlap = ?13, catchup_window = ?14, paused = ?15,"
	    " ending_at = ?16, next_fire_at = ?17, updated_at = ?18,"
	    " def = ?19, per_sub = ?20 WHERE seq = ?1",
	[ST_SCHED_KIDS_DEL] = "DELETE FROM schedules WHERE parent = ?1",
	/* An index-only scan of schedules_by_workflow. */
	[ST_SCHED_WORKFLOWS] = "SELECT workflow, count(*) FROM schedules"
	    " GROUP BY workflow",
	/* A recipient's schedules: first their children, then the rows. */
	[ST_SCHED_RCPT_KIDS_DEL] = "DELETE FROM schedules WHERE parent IN"
	    " (SELECT seq FROM schedules WHERE rcpt = ?1 AND parent IS NULL"
	    " AND config_id IS NULL)",
	[ST_SCHED_RCPT_DEL] = "DELETE FROM schedules WHERE rcpt = ?1 AND"
	    " config_id IS NULL",
	[ST_SCHED_DEL] = "DELETE FROM schedules WHERE seq = ?1 OR parent = ?1",
	/* The WHERE lets min() read the first entry of the partial index. */
	[ST_SCHED_NEXT] = "SELECT min(next_fire_at) FROM schedules WHERE"
	    " next_fire_at IS NOT NULL",
	[ST_SCHED_DUE] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " next_fire_at <= ?1 ORDER BY next_fire_at LIMIT ?2",
	[ST_SCHED_FIRED] = "UPDATE schedules SET next_fire_at = ?2,"
	    " last_fire_at = coalesce(?3, last_fire_at), skipped = skipped +"
	    " ?4, last_skipped_at = coalesce(?5, last_skipped_at),"
	    " skip_reason = coalesce(?6, skip_reason), last_error = CASE"
	    " WHEN ?7 IS NOT NULL THEN ?7 WHEN ?3 IS NOT NULL THEN NULL ELSE"
	    " last_error END WHERE seq = ?1",
	/*
	 * Lists: one statement per indexed filter (an "?1 IS NULL OR" term
	 * cannot use an index); the same parameters in each: ?1 workflow,
	 * ?2 rcpt, ?3 after seq, ?4 top-level only, ?5 limit, ?6 parent,
	 * ?7 a JSON array of rcpts (any of them), ?8 tenant.
	 */
	[ST_SCHED_LIST] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR rcpt = ?2) AND"
	    " seq > ?3 AND (?4 = 0 OR parent IS NULL) AND (?6 IS NULL OR"
	    " parent = ?6) AND" SCHED_FILTERS " ORDER BY seq LIMIT ?5",
	[ST_SCHED_BY_WF] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " workflow = ?1 AND (?2 IS NULL OR rcpt = ?2) AND seq > ?3 AND"
	    " (?4 = 0 OR parent IS NULL) AND (?6 IS NULL OR parent = ?6)"
	    " AND" SCHED_FILTERS " ORDER BY seq LIMIT ?5",
	[ST_SCHED_BY_RCPT] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " rcpt = ?2 AND (?1 IS NULL OR workflow = ?1) AND seq > ?3 AND"
	    " (?4 = 0 OR parent IS NULL) AND (?6 IS NULL OR parent = ?6)"
	    " AND" SCHED_FILTERS " ORDER BY seq LIMIT ?5",
	[ST_SCHED_BY_PARENT] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " parent = ?6 AND (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR"
	    " rcpt = ?2) AND seq > ?3 AND ?4 = 0 AND" SCHED_FILTERS
	    " ORDER BY seq LIMIT ?5",
	[ST_SCHED_CHILD_DEL] = "DELETE FROM schedules WHERE parent = ?1 AND"
	    " rcpt = ?2",
	[ST_SCHED_CFG_LIST] = "SELECT DISTINCT config_id, def FROM schedules"
	    " WHERE config_id IS NOT NULL AND parent IS NULL",
	[ST_SCHED_CFG_ROWS] = "SELECT seq, rcpt FROM schedules WHERE"
	    " config_id = ?1 AND parent IS NULL",
	[ST_SCHED_CFG_DEL] = "DELETE FROM schedules WHERE config_id = ?1",
};

const struct sqlite_sql sqlite_legacy_sql = { legacy_sql, ST_COUNT };

/* A prepared statement, reset and with its bindings cleared. */
sqlite3_stmt *
eng_stmt(struct eng *e, enum eng_stmt s)
{
	return sqlite_stmt(e->store, PART_LEGACY, (int)s);
}

/* Step a statement that returns no rows; 0 or -1. */
int
eng_step_done(struct eng *e, sqlite3_stmt *st)
{
	return sqlite_done(e->store, st);
}

/* A column holding JSON text, parsed (NULL for SQL NULL or bad text). */
json_t *
eng_json_col(sqlite3_stmt *st, int col)
{
	return sqlite_json(st, col);
}

/* Bind v as JSON text (or NULL). */
void
eng_bind_json(sqlite3_stmt *st, int col, json_t *v)
{
	sqlite_bind_json(st, col, v);
}

/* The database handle. */
sqlite3 *
eng_db(struct eng *e)
{
	return e->store->db;
}
