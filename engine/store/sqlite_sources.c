/*
 * The SQLite backend's source events: the log of the events sources sent
 * (source_events, keyed by an increasing integer, paged per source through
 * an index on (source, seq), and asked whether a message id was seen
 * through a partial index on (source, message_id)); the counts of events
 * by source and outcome (source_counts); and, for each run a source event
 * made, where it came from (source_runs, kept as long as runs are).
 *
 * The log is deleted oldest first: its keys increase with the time of
 * arrival, so the sweep looks only at the oldest rows.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	SRC_SEEN, SRC_ADD, SRC_PAGE, SRC_PAGE_UP, SRC_COUNT_ADD, SRC_COUNTS,
	SRC_RUN_PUT,
	SRC_RUN_GET, SRC_SWEEP, SRC_NSTMT
};
/* A page of a source's log: keys cmp the cursor ?2, in order dir. */
#define SRC_PAGE_SQL(cmp, dir) "SELECT seq, message_id, type, event," \
	" outcome, detail, run_seq, timestamp, received_at FROM" \
	" source_events WHERE source = ?1 AND seq " cmp " ?2 AND (?3 IS NULL" \
	" OR outcome = ?3) ORDER BY seq " dir " LIMIT ?4"

static const char *const src_sql[SRC_NSTMT] = {
	[SRC_SEEN] = "SELECT EXISTS(SELECT 1 FROM source_events WHERE"
	    " source = ?1 AND message_id = ?2 AND received_at >= ?3)",
	[SRC_ADD] = "INSERT INTO source_events(source, message_id, type,"
	    " event, outcome, detail, run_seq, timestamp, received_at)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SRC_PAGE] = SRC_PAGE_SQL("<", "DESC"),
	[SRC_PAGE_UP] = SRC_PAGE_SQL(">", "ASC"),
	[SRC_COUNT_ADD] = "INSERT INTO source_counts(source, outcome, n)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(source, outcome) DO UPDATE SET"
	    " n = n + excluded.n",
	[SRC_COUNTS] = "SELECT source, outcome, n FROM source_counts"
	    " ORDER BY source, outcome",
	[SRC_RUN_PUT] = "INSERT OR REPLACE INTO source_runs(run_seq, source,"
	    " event, message_id, timestamp) VALUES(?1, ?2, ?3, ?4, ?5)",
	[SRC_RUN_GET] = "SELECT source, event, message_id, timestamp FROM"
	    " source_runs WHERE run_seq = ?1",
	[SRC_SWEEP] = "DELETE FROM source_events WHERE seq IN (SELECT seq FROM"
	    " source_events ORDER BY seq LIMIT ?2) AND received_at < ?1",
};
const struct sqlite_sql sqlite_sources_sql = { src_sql, SRC_NSTMT };

/* A statement of this file, reset. */
static sqlite3_stmt *
src_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_SOURCES, i);
}


/*
 * Copy the text columns cols[0..n) of st into one block that ev owns and
 * point *out[i] at each (NULL for SQL NULL).
 */
static void
src_hold(struct store_source_event *ev, sqlite3_stmt *st, const int *cols,
    const char **out[], size_t n)
{
	size_t len = 0, off = 0, i, k;
	const char *t;

	for (i = 0; i < n; i++)
		len += (size_t)sqlite3_column_bytes(st, cols[i]) + 1;
	ev->owned = xmalloc(len > 0 ? len : 1);
	for (i = 0; i < n; i++) {
		if ((t = (const char *)sqlite3_column_text(st, cols[i])) ==
		    NULL) {
			*out[i] = NULL;
			continue;
		}
		k = (size_t)sqlite3_column_bytes(st, cols[i]);
		memcpy(ev->owned + off, t, k + 1);
		*out[i] = ev->owned + off;
		off += k + 1;
	}
}

/* Whether source's log has msgid received at since or later (0 on error). */
static int
sqlite_source_seen(struct store *s, const char *source, const char *msgid,
    int64_t since)
{
	sqlite3_stmt *st = src_stmt(s, SRC_SEEN);

	sqlite_bind_text(st, 1, source);
	sqlite_bind_text(st, 2, msgid);
	sqlite3_bind_int64(st, 3, since);
	return sqlite_scalar(s, st, 0) != 0;
}

/* Append ev to the log; 0 or -1. */
static int
sqlite_source_event_add(struct store *s, const struct store_source_event *ev)
{
	sqlite3_stmt *st = src_stmt(s, SRC_ADD);

	sqlite_bind_text(st, 1, ev->source);
	sqlite_bind_text(st, 2, ev->message_id);
	sqlite_bind_text(st, 3, ev->type);
	sqlite_bind_text(st, 4, ev->event);
	sqlite_bind_text(st, 5, ev->outcome);
	sqlite_bind_text(st, 6, ev->detail);
	sqlite_bind_int(st, 7, ev->run);
	sqlite_bind_text(st, 8, ev->timestamp);
	sqlite3_bind_int64(st, 9, ev->received);
	return sqlite_done(s, st);
}

/* A page of source's log, newest first (see store.h). */
static size_t
sqlite_source_events_page(struct store *s, const char *source, int64_t cur,
    int backward, const char *outcome, size_t max,
    struct store_source_event *out)
{
	static const int cols[] = { 1, 2, 3, 4, 5, 7 };
	sqlite3_stmt *st = src_stmt(s, backward ? SRC_PAGE_UP : SRC_PAGE);
	struct store_source_event *ev, tmp;
	size_t n = 0, i;

	sqlite_bind_text(st, 1, source);
	sqlite3_bind_int64(st, 2, cur);
	sqlite_bind_text(st, 3, outcome);
	sqlite3_bind_int64(st, 4, (int64_t)max);
	while (n < max && sqlite_row(s, st)) {
		ev = &out[n++];
		memset(ev, 0, sizeof *ev);
		const char **fields[] = { &ev->message_id, &ev->type,
		    &ev->event, &ev->outcome, &ev->detail, &ev->timestamp };

		src_hold(ev, st, cols, fields, 6);
		ev->key = sqlite3_column_int64(st, 0);
		ev->run = sqlite_int(st, 6);
		ev->received = sqlite3_column_int64(st, 8);
	}
	sqlite3_reset(st);
	for (i = 0; backward && i < n / 2; i++) {
		tmp = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

/* Add n to source's count of outcome; 0 or -1. */
static int
sqlite_source_count_add(struct store *s, const char *source,
    const char *outcome, int64_t n)
{
	sqlite3_stmt *st = src_stmt(s, SRC_COUNT_ADD);

	sqlite_bind_text(st, 1, source);
	sqlite_bind_text(st, 2, outcome);
	sqlite3_bind_int64(st, 3, n);
	return sqlite_done(s, st);
}

/* Call f for every count, by source and outcome. */
static void
sqlite_source_counts(struct store *s,
    void (*f)(void *, const char *, const char *, int64_t), void *arg)
{
	sqlite3_stmt *st = src_stmt(s, SRC_COUNTS);

	while (sqlite_row(s, st))
		f(arg, (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
}

/* Remember where run came from; 0 or -1. */
static int
sqlite_source_run_put(struct store *s, int64_t run,
    const struct store_source_event *ev)
{
	sqlite3_stmt *st = src_stmt(s, SRC_RUN_PUT);

	sqlite3_bind_int64(st, 1, run);
	sqlite_bind_text(st, 2, ev->source);
	sqlite_bind_text(st, 3, ev->event);
	sqlite_bind_text(st, 4, ev->message_id);
	sqlite_bind_text(st, 5, ev->timestamp);
	return sqlite_done(s, st);
}

/* Where run came from: 1 with ev's source, event, message_id, timestamp. */
static int
sqlite_source_run_get(struct store *s, int64_t run,
    struct store_source_event *ev)
{
	static const int cols[] = { 0, 1, 2, 3 };
	sqlite3_stmt *st = src_stmt(s, SRC_RUN_GET);
	int found;

	memset(ev, 0, sizeof *ev);
	sqlite3_bind_int64(st, 1, run);
	const char **fields[] = { &ev->source, &ev->event, &ev->message_id,
	    &ev->timestamp };

	if ((found = sqlite_row(s, st))) {
		src_hold(ev, st, cols, fields, 4);
		ev->run = run;
	}
	sqlite3_reset(st);
	return found;
}

/* Delete up to max of the oldest log entries received before `before`. */
static int
sqlite_source_sweep(struct store *s, int64_t before, int max)
{
	sqlite3_stmt *st = src_stmt(s, SRC_SWEEP);

	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, max);
	return sqlite_done(s, st);
}

/* This file's operations, into the backend's table. */
void
sqlite_sources_ops(struct store_ops *o)
{
	o->source_seen = sqlite_source_seen;
	o->source_event_add = sqlite_source_event_add;
	o->source_events_page = sqlite_source_events_page;
	o->source_count_add = sqlite_source_count_add;
	o->source_counts = sqlite_source_counts;
	o->source_run_put = sqlite_source_run_put;
	o->source_run_get = sqlite_source_run_get;
	o->source_sweep = sqlite_source_sweep;
}
