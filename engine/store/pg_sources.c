/*
 * The PostgreSQL backend's source events: the log of the events sources
 * sent (source_events, keyed by an identity column, paged per source
 * through an index on (source, seq), and asked whether a message id was
 * seen through a partial index on (source, message_id)); the counts of
 * events by source and outcome (source_counts, an upsert adding to the
 * row, so that nodes adding at once all count); and, for each run a
 * source event made, where it came from (source_runs, kept as long as
 * runs are).
 *
 * The log is deleted oldest first: its keys increase with the time of
 * insertion, so the sweep looks only at the oldest rows.  Any node may
 * sweep: the deletes are idempotent.
 *
 * Several nodes may receive one message (a library retrying on another
 * node while the first still works).  In a transaction, whether a
 * message id was seen is asked under a transaction advisory lock on
 * (source, message id), taken by a statement of its own: a node asking
 * about an id another node's open transaction has just logged waits for
 * that transaction, then sees its entry, and logs a duplicate instead of
 * applying the message twice.  (The log keeps duplicates too, so a
 * unique index cannot say it.)
 */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/store/pg_int.h"

/* The statements of this file. */
/*
 * The class of the advisory locks on message ids ("BLFM"): the two-key
 * form's space, apart from the single keys of other locks.
 */
#define SRC_SEEN_CLASS "1112295757"

enum {
	SRC_SEEN_LOCK, SRC_SEEN, SRC_ADD, SRC_PAGE, SRC_PAGE_UP, SRC_COUNT_ADD, SRC_COUNTS,
	SRC_RUN_PUT, SRC_RUN_GET, SRC_SWEEP, SOURCES_COUNT
};
/* A page of a source's log: keys cmp the cursor $2, in order dir. */
#define SRC_PAGE_SQL(cmp, dir) ("SELECT seq, message_id, type, event," \
	" outcome, detail, run_seq, timestamp, received_at FROM" \
	" source_events WHERE source = $1::text AND seq " cmp " $2::bigint" \
	" AND ($3::text IS NULL OR outcome = $3::text) ORDER BY seq " dir \
	" LIMIT $4::bigint")

static const char *const sources_sql[SOURCES_COUNT] = {
	/* Held until the transaction ends. */
	[SRC_SEEN_LOCK] = "SELECT pg_advisory_xact_lock(" SRC_SEEN_CLASS ","
	    " hashtext($1::text || chr(10) || $2::text))",
	[SRC_SEEN] = "SELECT EXISTS(SELECT 1 FROM source_events WHERE"
	    " source = $1::text AND message_id = $2::text AND received_at >="
	    " $3::bigint)",
	[SRC_ADD] = "INSERT INTO source_events(source, message_id, type,"
	    " event, outcome, detail, run_seq, timestamp, received_at)"
	    " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	[SRC_PAGE] = SRC_PAGE_SQL("<", "DESC"),
	[SRC_PAGE_UP] = SRC_PAGE_SQL(">", "ASC"),
	/* One statement: two nodes adding to one count both count. */
	[SRC_COUNT_ADD] = "INSERT INTO source_counts AS c(source, outcome, n)"
	    " VALUES($1, $2, $3) ON CONFLICT (source, outcome) DO UPDATE SET"
	    " n = c.n + excluded.n",
	/* Byte order of the keys, as SQLite's primary key gives them. */
	[SRC_COUNTS] = "SELECT source, outcome, n FROM source_counts"
	    " ORDER BY source COLLATE \"C\", outcome COLLATE \"C\"",
	[SRC_RUN_PUT] = "INSERT INTO source_runs(run_seq, source, event,"
	    " message_id, timestamp) VALUES($1, $2, $3, $4, $5) ON CONFLICT"
	    " (run_seq) DO UPDATE SET source = excluded.source, event ="
	    " excluded.event, message_id = excluded.message_id, timestamp ="
	    " excluded.timestamp",
	[SRC_RUN_GET] = "SELECT source, event, message_id, timestamp FROM"
	    " source_runs WHERE run_seq = $1::bigint",
	[SRC_SWEEP] = "DELETE FROM source_events WHERE seq IN (SELECT seq"
	    " FROM source_events ORDER BY seq LIMIT $2::bigint) AND"
	    " received_at < $1::bigint",
};
const struct pg_sql pg_sources_sql = { sources_sql, SOURCES_COUNT };

/*
 * Copy the text cells cols[0..n) of row i of r into one block that ev
 * owns and point *out[k] at each (NULL for SQL NULL).
 */
static void
src_hold(struct store_source_event *ev, const PGresult *r, int i,
    const int *cols, const char **out[], size_t n)
{
	size_t len = 0, off = 0, k, m;
	const char *t;

	for (k = 0; k < n; k++)
		len += (size_t)PQgetlength(r, i, cols[k]) + 1;
	ev->owned = xmalloc(len > 0 ? len : 1);
	for (k = 0; k < n; k++) {
		if ((t = pg_cell(r, i, cols[k])) == NULL) {
			*out[k] = NULL;
			continue;
		}
		m = (size_t)PQgetlength(r, i, cols[k]);
		memcpy(ev->owned + off, t, m);
		ev->owned[off + m] = '\0';
		*out[k] = ev->owned + off;
		off += m + 1;
	}
}

/*
 * Whether source's log has msgid received at since or later (0 on
 * error); in a transaction, asked under the lock on (source, msgid).
 */
static int
pg_source_seen(struct store *s, const char *source, const char *msgid,
    int64_t since)
{
	struct pg_args a = { 0 };

	if (s->in_txn && msgid != NULL) {
		pg_arg_text(&a, source);
		pg_arg_text(&a, msgid);
		if (pg_done(s, PG_SOURCES, SRC_SEEN_LOCK, &a) != 0)
			return 0;
		memset(&a, 0, sizeof a);
	}
	pg_arg_text(&a, source);
	pg_arg_text(&a, msgid);
	pg_arg_int(&a, since);
	return pg_scalar(s, PG_SOURCES, SRC_SEEN, &a, 0) != 0;
}

/* Append ev to the log (its key from the identity column); 0 or -1. */
static int
pg_source_event_add(struct store *s, const struct store_source_event *ev)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, ev->source);
	pg_arg_text(&a, ev->message_id);
	pg_arg_text(&a, ev->type);
	pg_arg_text(&a, ev->event);
	pg_arg_text(&a, ev->outcome);
	pg_arg_text(&a, ev->detail);
	pg_arg_int(&a, ev->run);
	pg_arg_text(&a, ev->timestamp);
	pg_arg_int(&a, ev->received);
	return pg_done(s, PG_SOURCES, SRC_ADD, &a);
}

/* A page of source's log, newest first (see store.h). */
static size_t
pg_source_events_page(struct store *s, const char *source, int64_t cur,
    int backward, const char *outcome, size_t max,
    struct store_source_event *out)
{
	static const int cols[] = { 1, 2, 3, 4, 5, 7 };
	struct store_source_event *ev, tmp;
	struct pg_args a = { 0 };
	PGresult *r;
	size_t n = 0, i;

	pg_arg_text(&a, source);
	pg_arg_int(&a, cur);
	pg_arg_text(&a, outcome);
	pg_arg_int(&a, (int64_t)max);
	r = pg_run(s, PG_SOURCES, backward ? SRC_PAGE_UP : SRC_PAGE, &a);
	if (r == NULL)
		return 0;
	while (n < max && (int)n < PQntuples(r)) {
		ev = &out[n];
		memset(ev, 0, sizeof *ev);
		const char **fields[] = { &ev->message_id, &ev->type,
		    &ev->event, &ev->outcome, &ev->detail, &ev->timestamp };

		src_hold(ev, r, (int)n, cols, fields, 6);
		ev->key = pg_int(r, (int)n, 0);
		ev->run = pg_int(r, (int)n, 6);
		ev->received = pg_int(r, (int)n, 8);
		n++;
	}
	PQclear(r);
	for (i = 0; backward && i < n / 2; i++) {
		tmp = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

/* Add n to source's count of outcome (an upsert); 0 or -1. */
static int
pg_source_count_add(struct store *s, const char *source,
    const char *outcome, int64_t n)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, source);
	pg_arg_text(&a, outcome);
	pg_arg_int(&a, n);
	return pg_done(s, PG_SOURCES, SRC_COUNT_ADD, &a);
}

/* Call f for every count, by source and outcome. */
static void
pg_source_counts(struct store *s,
    void (*f)(void *, const char *, const char *, int64_t), void *arg)
{
	PGresult *r = pg_run(s, PG_SOURCES, SRC_COUNTS, NULL);
	int i, n;

	for (i = 0, n = r != NULL ? PQntuples(r) : 0; i < n; i++)
		f(arg, pg_cell(r, i, 0), pg_cell(r, i, 1), pg_int(r, i, 2));
	PQclear(r);
}

/* Remember where run came from (replacing what was); 0 or -1. */
static int
pg_source_run_put(struct store *s, int64_t run,
    const struct store_source_event *ev)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, run);
	pg_arg_text(&a, ev->source);
	pg_arg_text(&a, ev->event);
	pg_arg_text(&a, ev->message_id);
	pg_arg_text(&a, ev->timestamp);
	return pg_done(s, PG_SOURCES, SRC_RUN_PUT, &a);
}

/* Where run came from: 1 with ev's source, event, message_id, timestamp. */
static int
pg_source_run_get(struct store *s, int64_t run,
    struct store_source_event *ev)
{
	static const int cols[] = { 0, 1, 2, 3 };
	struct pg_args a = { 0 };
	PGresult *r;
	int found;

	memset(ev, 0, sizeof *ev);
	pg_arg_int(&a, run);
	if ((r = pg_run(s, PG_SOURCES, SRC_RUN_GET, &a)) == NULL)
		return 0;
	const char **fields[] = { &ev->source, &ev->event, &ev->message_id,
	    &ev->timestamp };

	if ((found = PQntuples(r) > 0)) {
		src_hold(ev, r, 0, cols, fields, 4);
		ev->run = run;
	}
	PQclear(r);
	return found;
}

/* Delete up to max of the oldest log entries received before `before`. */
static int
pg_source_sweep(struct store *s, int64_t before, int max)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, before);
	pg_arg_int(&a, max);
	return pg_done(s, PG_SOURCES, SRC_SWEEP, &a);
}

/* This file's operations, into the backend's table. */
void
pg_sources_ops(struct store_ops *o)
{
	o->source_seen = pg_source_seen;
	o->source_event_add = pg_source_event_add;
	o->source_events_page = pg_source_events_page;
	o->source_count_add = pg_source_count_add;
	o->source_counts = pg_source_counts;
	o->source_run_put = pg_source_run_put;
	o->source_run_get = pg_source_run_get;
	o->source_sweep = pg_source_sweep;
}
