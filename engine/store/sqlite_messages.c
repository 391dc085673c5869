/*
 * The SQLite backend's messages and feeds.
 *
 * A recipient's messages on a channel form a chain, newest first: each
 * message row names the one before it (prev), and the chain's head, its
 * newest, is in feed_heads or held in memory (sqlite_heads.c).  A feed is
 * read by walking its chains (all of a recipient's channels at once,
 * always taking the newest message next), so a new message updates one
 * small row instead of adding an entry to a large index, and a page costs
 * a step per message it passes over.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	MSGS_ADD, MSGS_GET, MSGS_MARK, MSGS_STATUS, MSGS_WALK, MSGS_COUNTS,
	MSGS_ALL_DOWN, MSGS_ALL_UP, MSGS_RUN_DOWN, MSGS_RUN_UP, MSGS_IDS_DOWN,
	MSGS_IDS_UP, MSGS_METADATA, MSGS_EVENT_ADD, MSGS_EVENTS, MSGS_COUNT
};

/* A message's columns (the enum MC_* below), from m and its run u. */
#define MSGS_COLS "SELECT m.seq, m.run_seq, m.idx, m.step_ref, m.channel," \
	" m.rcpt, m.tenant, m.status, m.body, m.seen_at, m.read_at," \
	" m.archived_at, m.interacted_at, m.inserted_at, m.updated_at," \
	" u.workflow, u.actor, u.data, m.metadata"

/*
 * Whether message m passes a store_feed_filter bound as ?2 the key it
 * must be below, ?3 a JSON array of the tenants it must have one of, ?4
 * whether it must have a tenant, ?5 archived (enum store_feed_archived),
 * ?6 status (enum store_feed_status), ?7 the key it must be above, ?8 its
 * channel, ?9 its run and ?10 a JSON array of the keys it must be one of.
 */
#define MSGS_PASSES "m.seq < ?2 AND m.seq > ?7" \
	" AND (?3 IS NULL OR m.tenant IN (SELECT value FROM json_each(?3)))" \
	" AND (?4 = 0 OR m.tenant IS NOT NULL)" \
	" AND (?5 = 0 OR (?5 = 1 AND m.archived_at IS NULL) OR" \
	" (?5 = 2 AND m.archived_at IS NOT NULL))" \
	" AND (?6 = 0 OR (?6 = 1 AND m.read_at IS NULL) OR" \
	" (?6 = 2 AND m.read_at IS NOT NULL) OR (?6 = 3 AND m.seen_at IS" \
	" NULL) OR (?6 = 4 AND m.seen_at IS NOT NULL))" \
	" AND (?8 IS NULL OR m.channel = ?8) AND (?9 = 0 OR m.run_seq = ?9)" \
	" AND (?10 IS NULL OR m.seq IN (SELECT value FROM json_each(?10)))"

/* Every message that passes, found by driver, ?11 at most, in order. */
#define MSGS_LIST(driver, order) MSGS_COLS " FROM messages m JOIN runs u" \
	" ON u.seq = m.run_seq WHERE " driver " AND " MSGS_PASSES \
	" ORDER BY m.seq " order " LIMIT ?11"

static const char *const msgs_sql[MSGS_COUNT] = {
	[MSGS_ADD] = "INSERT INTO messages(run_seq, idx, step_ref, channel,"
	    " rcpt, tenant, status, body, inserted_at, updated_at, prev, seq)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
	[MSGS_GET] = MSGS_COLS " FROM messages m JOIN runs u ON"
	    " u.seq = m.run_seq WHERE m.seq = ?1",
	[MSGS_MARK] = "UPDATE messages SET seen_at = CASE WHEN ?2 = 'seen'"
	    " THEN ?3 ELSE seen_at END, read_at = CASE WHEN ?2 = 'read' THEN ?3"
	    " ELSE read_at END, archived_at = CASE WHEN ?2 = 'archived' THEN ?3"
	    " ELSE archived_at END, interacted_at = CASE WHEN ?2 = 'interacted'"
	    " THEN ?3 ELSE interacted_at END, updated_at = ?4 WHERE seq = ?1",
	[MSGS_STATUS] = "UPDATE messages SET status = ?2, updated_at = ?3"
	    " WHERE seq = ?1",
	/*
	 * One step of a walk down a recipient's chain: the message
	 * (MSGS_GET's columns), the seq before it, and whether it passes the
	 * filters (MSGS_PASSES).
	 */
	[MSGS_WALK] = MSGS_COLS ", m.prev, " MSGS_PASSES
	    " FROM messages m JOIN runs u ON u.seq = m.run_seq WHERE"
	    " m.seq = ?1",
	/* A chain only goes back in time (m.prev < m.seq): it ends. */
	[MSGS_COUNTS] = "WITH RECURSIVE w(seq) AS (SELECT ?1 WHERE ?1 > 0"
	    " UNION ALL SELECT m.prev FROM w JOIN messages m ON m.seq = w.seq"
	    " WHERE m.prev < m.seq) SELECT count(*), count(*) FILTER (WHERE"
	    " m.read_at IS NULL), count(*) FILTER (WHERE m.seen_at IS NULL)"
	    " FROM w JOIN messages m ON m.seq = w.seq WHERE m.archived_at IS"
	    " NULL AND (?2 IS NULL OR m.tenant = ?2)"
	    " AND (?3 = 0 OR m.tenant IS NOT NULL)",
	/*
	 * Every recipient's messages: down or up the table by key, a run's
	 * through messages_by_run, given keys by key.
	 */
	[MSGS_ALL_DOWN] = MSGS_LIST("?1 = ?1", "DESC"),
	[MSGS_ALL_UP] = MSGS_LIST("?1 = ?1", "ASC"),
	[MSGS_RUN_DOWN] = MSGS_LIST("m.run_seq = ?1", "DESC"),
	[MSGS_RUN_UP] = MSGS_LIST("m.run_seq = ?1", "ASC"),
	[MSGS_IDS_DOWN] = MSGS_LIST("m.seq IN (SELECT value FROM"
	    " json_each(?1))", "DESC"),
	[MSGS_IDS_UP] = MSGS_LIST("m.seq IN (SELECT value FROM"
	    " json_each(?1))", "ASC"),
	[MSGS_METADATA] = "UPDATE messages SET metadata = ?2 WHERE seq = ?1",
	[MSGS_EVENT_ADD] = "INSERT INTO message_events(message_seq, type,"
	    " data, inserted_at) VALUES(?1, ?2, ?3, ?4)",
	[MSGS_EVENTS] = "SELECT id, type, data, inserted_at FROM"
	    " message_events WHERE message_seq = ?1 ORDER BY id",
};
const struct sqlite_sql sqlite_messages_sql = { msgs_sql, MSGS_COUNT };

/* The columns of MSGS_GET, and of MSGS_WALK, which adds the last two. */
enum {
	MC_SEQ, MC_RUN, MC_IDX, MC_REF, MC_CHANNEL, MC_RCPT, MC_TENANT,
	MC_STATUS, MC_BODY, MC_SEEN, MC_READ, MC_ARCHIVED, MC_INTERACTED,
	MC_INSERTED, MC_UPDATED, MC_WORKFLOW, MC_ACTOR, MC_DATA, MC_METADATA,
	MC_PREV, MC_PASSES
};

/* A statement of this file, reset. */
static sqlite3_stmt *
msgs_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_MESSAGES, i);
}

/*
 * Append message m to its recipient's chain on its channel, in one
 * statement with the chain's new head; its key, or -1.
 */
static int64_t
sqlite_message_add(struct store *s, const struct store_message *m)
{
	sqlite3_stmt *st;
	int64_t seq, prev;

	if ((prev = sqlite_heads_push(s, m->rcpt, m->channel, &seq)) < 0)
		return -1;
	st = msgs_stmt(s, MSGS_ADD);
	sqlite3_bind_int64(st, 1, m->run);
	sqlite3_bind_int64(st, 2, m->idx);
	sqlite3_bind_text(st, 3, m->step_ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, m->rcpt, -1, SQLITE_STATIC);
	sqlite_bind_text(st, 6, m->tenant);
	sqlite3_bind_text(st, 7, m->status, -1, SQLITE_STATIC);
	sqlite_bind_json(st, 8, m->body);
	sqlite3_bind_int64(st, 9, m->inserted);
	if (prev != 0)
		sqlite3_bind_int64(st, 10, prev);
	sqlite3_bind_int64(st, 11, seq);
	return sqlite_done(s, st) == 0 ? seq : -1;
}

/* Read the current row (MSGS_GET's columns) into *m. */
static void
msgs_read(sqlite3_stmt *st, struct store_message *m)
{
	static const int cols[] = { MC_REF, MC_CHANNEL, MC_RCPT, MC_TENANT,
		MC_STATUS, MC_WORKFLOW, MC_ACTOR };

	m->seq = sqlite3_column_int64(st, MC_SEQ);
	m->run = sqlite3_column_int64(st, MC_RUN);
	m->idx = sqlite3_column_int64(st, MC_IDX);
	m->owned = sqlite_texts(st, 7, cols, (const char **const[]){
	    &m->step_ref, &m->channel, &m->rcpt, &m->tenant, &m->status,
	    &m->workflow, &m->actor });
	m->body = sqlite_json(st, MC_BODY);
	m->seen = sqlite_int(st, MC_SEEN);
	m->read = sqlite_int(st, MC_READ);
	m->archived = sqlite_int(st, MC_ARCHIVED);
	m->interacted = sqlite_int(st, MC_INTERACTED);
	m->inserted = sqlite3_column_int64(st, MC_INSERTED);
	m->updated = sqlite3_column_int64(st, MC_UPDATED);
	m->data = sqlite_json(st, MC_DATA);
	m->metadata = sqlite_json(st, MC_METADATA);
}

/* Message seq into *m: 1, or 0 if there is none. */
static int
sqlite_message_get(struct store *s, int64_t seq, struct store_message *m)
{
	sqlite3_stmt *st = msgs_stmt(s, MSGS_GET);
	int found;

	memset(m, 0, sizeof *m);
	sqlite3_bind_int64(st, 1, seq);
	if ((found = sqlite_row(s, st)))
		msgs_read(st, m);
	sqlite3_reset(st);
	return found;
}


/*
 * Set (at now) or clear message seq's engagement what ("seen", "read",
 * "archived" or "interacted"): 1, 0 if there is no such message, or -1.
 */
static int
sqlite_message_mark(struct store *s, int64_t seq, const char *what, int set,
    int64_t now)
{
	sqlite3_stmt *st = msgs_stmt(s, MSGS_MARK);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, what, -1, SQLITE_STATIC);
	if (set)
		sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now);
	return sqlite_changed(s, st);
}

/* Set message seq's delivery status at now; 0 or -1. */
static int
sqlite_message_status(struct store *s, int64_t seq, const char *status,
    int64_t now)
{
	sqlite3_stmt *st = msgs_stmt(s, MSGS_STATUS);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	return sqlite_done(s, st);
}

/* Bind filter f as MSGS_PASSES reads it (?2 to ?10). */
static void
msgs_bind_filter(sqlite3_stmt *st, const struct store_feed_filter *f)
{
	sqlite3_bind_int64(st, 2, f->before);
	sqlite_bind_json(st, 3, f->tenants);
	sqlite3_bind_int(st, 4, f->has_tenant);
	sqlite3_bind_int(st, 5, (int)f->archived);
	sqlite3_bind_int(st, 6, (int)f->status);
	sqlite3_bind_int64(st, 7, f->above);
	sqlite_bind_text(st, 8, f->channel);
	sqlite3_bind_int64(st, 9, f->run);
	sqlite_bind_json(st, 10, f->seqs);
}

/*
 * Up to max messages of every recipient that pass f into out, newest
 * first (oldest first with f->up): down the table from f->before, up it
 * from f->above, through the run's index for f->run, or by key for
 * f->seqs.  Their count.
 */
static size_t
sqlite_messages_page(struct store *s, const struct store_feed_filter *f,
    size_t max, struct store_message *out)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int i = f->seqs != NULL ? MSGS_IDS_DOWN : f->run != 0 ?
	    MSGS_RUN_DOWN : MSGS_ALL_DOWN;

	/* Each _UP statement follows its _DOWN. */
	st = msgs_stmt(s, i + (f->up != 0));
	msgs_bind_filter(st, f);
	if (f->seqs != NULL)
		sqlite_bind_json(st, 1, f->seqs);
	else
		sqlite3_bind_int64(st, 1, f->run);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)max);
	while (n < max && sqlite_row(s, st)) {
		memset(&out[n], 0, sizeof out[n]);
		msgs_read(st, &out[n++]);
	}
	sqlite3_reset(st);
	return n;
}

/* Keep metadata (NULL: none) on message seq; 0 or -1. */
static int
sqlite_message_metadata(struct store *s, int64_t seq, json_t *metadata)
{
	sqlite3_stmt *st = msgs_stmt(s, MSGS_METADATA);

	sqlite3_bind_int64(st, 1, seq);
	sqlite_bind_json(st, 2, metadata);
	return sqlite_done(s, st);
}

/* Record event type (with data, or NULL) of message seq at now; 0 or -1. */
static int
sqlite_message_event_add(struct store *s, int64_t seq, const char *type,
    json_t *data, int64_t now)
{
	sqlite3_stmt *st = msgs_stmt(s, MSGS_EVENT_ADD);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite_bind_json(st, 3, data);
	sqlite3_bind_int64(st, 4, now);
	return sqlite_done(s, st);
}

/*
 * The recorded events of message seq, oldest first, into *out (the
 * caller's to free with store_message_events_free); their count.
 */
static size_t
sqlite_message_events(struct store *s, int64_t seq,
    struct store_message_event **out)
{
	sqlite3_stmt *st = msgs_stmt(s, MSGS_EVENTS);
	size_t n = 0, cap = 0;

	*out = NULL;
	sqlite3_bind_int64(st, 1, seq);
	while (sqlite_row(s, st)) {
		if (n == cap)
			*out = xreallocarray(*out, cap = cap ? cap * 2 : 8,
			    sizeof **out);
		(*out)[n].id = sqlite3_column_int64(st, 0);
		(*out)[n].type = sqlite_text(st, 1);
		(*out)[n].data = sqlite_json(st, 2);
		(*out)[n++].at = sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return n;
}


/* A chain being walked: the seq of its next message (0: done). */
struct msgs_chain {
	int64_t at;
	char *channel;
};

/* The chains being gathered by msgs_head. */
struct msgs_chains {
	struct msgs_chain *c;
	size_t n, cap;
};

/* Set the head of the chain on channel, adding the chain if new. */
static void
msgs_head(void *arg, const char *channel, int64_t head)
{
	struct msgs_chains *cs = arg;
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->c[i].channel, channel) == 0) {
			cs->c[i].at = head;
			return;
		}
	if (cs->n == cs->cap)
		cs->c = xreallocarray(cs->c, cs->cap = cs->cap ? cs->cap * 2 :
		    4, sizeof *cs->c);
	cs->c[cs->n].at = head;
	cs->c[cs->n++].channel = xstrdup(channel);
}

/*
 * Start the chain that holds the cursor message (one of rcpt's) right
 * below it; the other chains of a walk over every channel step down past
 * the cursor one message at a time.
 */
static void
msgs_seek(struct store *s, sqlite3_stmt *st, const char *rcpt,
    int64_t cursor, struct msgs_chain *c, size_t n)
{
	const char *who, *ch;
	size_t i;

	if (cursor == INT64_MAX)
		return;
	sqlite3_bind_int64(st, 1, cursor);
	if (sqlite_row(s, st) && (who = (const char *)
	    sqlite3_column_text(st, MC_RCPT)) != NULL &&
	    strcmp(who, rcpt) == 0 && (ch = (const char *)
	    sqlite3_column_text(st, MC_CHANNEL)) != NULL)
		for (i = 0; i < n; i++)
			if (strcmp(c[i].channel, ch) == 0 && c[i].at >= cursor)
				c[i].at = sqlite3_column_int64(st, MC_PREV);
	sqlite3_reset(st);
}

/*
 * Up to max of rcpt's messages on channel (NULL: on every channel) that
 * pass f, newest first, into out: a walk down its chains, always taking
 * the newest message next, each message fetched with whether it passes
 * the filters, until the page is full or the chains end.  Their count.
 */
static size_t
sqlite_feed_page(struct store *s, const char *rcpt, const char *channel,
    const struct store_feed_filter *f, size_t max, struct store_message *out)
{
	sqlite3_stmt *st = msgs_stmt(s, MSGS_WALK);
	struct msgs_chains cs = { NULL, 0, 0 };
	struct msgs_chain *c;
	size_t n = 0, i, top;
	int64_t prev;

	msgs_bind_filter(st, f);
	sqlite_heads_of(s, rcpt, channel, msgs_head, &cs);
	c = cs.c;
	msgs_seek(s, st, rcpt, f->before, c, cs.n);
	while (n < max) {
		for (top = cs.n, i = 0; i < cs.n; i++)
			if (c[i].at > 0 && (top == cs.n || c[i].at > c[top].at))
				top = i;
		if (top == cs.n)
			break;
		sqlite3_bind_int64(st, 1, c[top].at);
		if (!sqlite_row(s, st)) {
			sqlite3_reset(st);
			c[top].at = 0;
			continue;
		}
		prev = sqlite3_column_int64(st, MC_PREV);
		if (sqlite3_column_int(st, MC_PASSES)) {
			memset(&out[n], 0, sizeof out[n]);
			msgs_read(st, &out[n++]);
		}
		sqlite3_reset(st);
		/* A chain only goes back in time. */
		c[top].at = prev < c[top].at ? prev : 0;
	}
	for (i = 0; i < cs.n; i++)
		free(c[i].channel);
	free(c);
	return n;
}

/*
 * The counts of rcpt's messages on channel that are not archived and
 * pass the tenant filter: all, unread and unseen (0s if the read fails).
 */
static void
sqlite_feed_count(struct store *s, const char *rcpt, const char *channel,
    const char *tenant, int has_tenant, struct store_feed_counts *out)
{
	sqlite3_stmt *st;
	int64_t head = sqlite_heads_get(s, rcpt, channel);

	memset(out, 0, sizeof *out);
	st = msgs_stmt(s, MSGS_COUNTS);
	sqlite3_bind_int64(st, 1, head);
	sqlite_bind_text(st, 2, tenant);
	sqlite3_bind_int(st, 3, has_tenant);
	if (sqlite_row(s, st)) {
		out->total = sqlite3_column_int64(st, 0);
		out->unread = sqlite3_column_int64(st, 1);
		out->unseen = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
}

/* This file's operations, into the backend's table. */
void
sqlite_messages_ops(struct store_ops *o)
{
	o->message_add = sqlite_message_add;
	o->message_get = sqlite_message_get;
	o->message_mark = sqlite_message_mark;
	o->message_status = sqlite_message_status;
	o->messages_page = sqlite_messages_page;
	o->message_metadata = sqlite_message_metadata;
	o->message_event_add = sqlite_message_event_add;
	o->message_events = sqlite_message_events;
	o->feed_page = sqlite_feed_page;
	o->feed_count = sqlite_feed_count;
}
