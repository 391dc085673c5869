/*
 * The PostgreSQL backend's messages, feed pages and counts.
 *
 * There are no feed chains here (sqlite_messages.c walks those): a
 * message is one INSERT ... RETURNING seq, and a feed is a keyset query
 * on the index messages_by_feed(rcpt, channel, seq) for one channel or
 * messages_by_rcpt(rcpt, seq) for every channel, newest first, with the
 * same filters the SQLite walk applies (MSGS_PASSES), so that pages, their
 * order and their cursors are the same on both backends.  Retention
 * deletes the oldest messages as one key range, as a chain walk that
 * stops at a missing message sees it: the queries need nothing for it.
 * One difference remains: a message whose run is gone (retention deletes
 * runs only after their messages' window, but a bounded pass can take a
 * run before the last of its messages) ends its chain's walk in SQLite,
 * hiding the older messages of that feed until they go too; here only
 * that message is left out.
 */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum {
	MSGS_ADD, MSGS_GET, MSGS_MARK, MSGS_STATUS, MSGS_FEED_ALL,
	MSGS_FEED_CH, MSGS_COUNTS, MSGS_ALL_DOWN, MSGS_ALL_UP, MSGS_RUN_DOWN,
	MSGS_RUN_UP, MSGS_IDS_DOWN, MSGS_IDS_UP, MSGS_METADATA, MSGS_EVENT_ADD,
	MSGS_EVENTS, MSGS_ADD_KEYED, MSGS_COUNT
};

/* A message's columns (the enum MC_* below), from m and its run u. */
#define MSGS_COLS "SELECT m.seq, m.run_seq, m.idx, m.step_ref, m.channel," \
	" m.rcpt, m.tenant, m.status, m.body, m.seen_at, m.read_at," \
	" m.archived_at, m.interacted_at, m.inserted_at, m.updated_at," \
	" u.workflow, u.actor, u.data, m.metadata"

/*
 * Whether message m passes a store_feed_filter bound as $1 the key it
 * must be below, $2 the key it must be above, $3 a JSON array of the
 * tenants it must have one of, $4 whether it must have a tenant, $5
 * archived (enum store_feed_archived), $6 status (enum
 * store_feed_status), $7 its channel, $8 its run and $9 a JSON array of
 * the keys it must be one of (msgs_args); as MSGS_PASSES of
 * sqlite_messages.c.
 */
#define MSGS_PASSES "m.seq < $1::bigint AND m.seq > $2::bigint" \
	" AND ($3::json IS NULL OR m.tenant IN (SELECT" \
	" json_array_elements_text($3::json)))" \
	" AND ($4::int = 0 OR m.tenant IS NOT NULL)" \
	" AND ($5::int = 0 OR ($5::int = 1 AND m.archived_at IS NULL) OR" \
	" ($5::int = 2 AND m.archived_at IS NOT NULL))" \
	" AND ($6::int = 0 OR ($6::int = 1 AND m.read_at IS NULL) OR" \
	" ($6::int = 2 AND m.read_at IS NOT NULL) OR ($6::int = 3 AND" \
	" m.seen_at IS NULL) OR ($6::int = 4 AND m.seen_at IS NOT NULL))" \
	" AND ($7::text IS NULL OR m.channel = $7::text)" \
	" AND ($8::bigint = 0 OR m.run_seq = $8::bigint)" \
	" AND ($9::json IS NULL OR m.seq IN (SELECT" \
	" json_array_elements_text($9::json)::bigint))"

/*
 * Every message that passes, found by driver (its parameters from $11),
 * $10 at most, in order.
 */
#define MSGS_LIST(driver, order) MSGS_COLS " FROM messages m JOIN runs u" \
	" ON u.seq = m.run_seq WHERE " driver " AND " MSGS_PASSES \
	" ORDER BY m.seq " order " LIMIT $10::bigint"

/*
 * The keys of $11, a JSON array, as an array: a lookup of each in the
 * primary key (IN (SELECT ...) lets a generic plan walk the whole key in
 * order instead).
 */
#define MSGS_IDS "m.seq = ANY(ARRAY(SELECT" \
	" json_array_elements_text($11::json)::bigint))"

static const char *const messages_sql[MSGS_COUNT] = {
	[MSGS_ADD] = "INSERT INTO messages(run_seq, idx, step_ref, channel,"
	    " rcpt, tenant, status, body, inserted_at, updated_at)"
	    " VALUES($1::bigint, $2::bigint, $3::text, $4::text, $5::text,"
	    " $6::text, $7::text, $8::text, $9::bigint, $9::bigint)"
	    " RETURNING seq",
	[MSGS_ADD_KEYED] = "INSERT INTO messages(seq, run_seq, idx, step_ref,"
	    " channel, rcpt, tenant, status, body, inserted_at, updated_at)"
	    " VALUES($10::bigint, $1::bigint, $2::bigint, $3::text, $4::text,"
	    " $5::text, $6::text, $7::text, $8::text, $9::bigint, $9::bigint)",
	[MSGS_GET] = MSGS_COLS " FROM messages m JOIN runs u ON"
	    " u.seq = m.run_seq WHERE m.seq = $1::bigint",
	[MSGS_MARK] = "UPDATE messages SET seen_at = CASE WHEN $2::text ="
	    " 'seen' THEN $3::bigint ELSE seen_at END, read_at = CASE WHEN"
	    " $2::text = 'read' THEN $3::bigint ELSE read_at END, archived_at"
	    " = CASE WHEN $2::text = 'archived' THEN $3::bigint ELSE"
	    " archived_at END, interacted_at = CASE WHEN $2::text ="
	    " 'interacted' THEN $3::bigint ELSE interacted_at END, updated_at"
	    " = $4::bigint WHERE seq = $1::bigint",
	[MSGS_STATUS] = "UPDATE messages SET status = $2::text, updated_at ="
	    " $3::bigint WHERE seq = $1::bigint",
	/* A recipient's feed: every channel, or one, by index. */
	[MSGS_FEED_ALL] = MSGS_LIST("m.rcpt = $11::text", "DESC"),
	[MSGS_FEED_CH] = MSGS_LIST("m.rcpt = $11::text AND m.channel ="
	    " $12::text", "DESC"),
	/* On messages_unarchived, as the chain's count in SQLite. */
	[MSGS_COUNTS] = "SELECT count(*), count(*) FILTER (WHERE m.read_at"
	    " IS NULL), count(*) FILTER (WHERE m.seen_at IS NULL) FROM"
	    " messages m WHERE m.rcpt = $1::text AND m.channel = $2::text AND"
	    " m.archived_at IS NULL AND ($3::text IS NULL OR m.tenant ="
	    " $3::text) AND ($4::int = 0 OR m.tenant IS NOT NULL)",
	/*
	 * Every recipient's messages: down or up the table by key, a run's
	 * through messages_by_run, given keys by key.
	 */
	[MSGS_ALL_DOWN] = MSGS_LIST("TRUE", "DESC"),
	[MSGS_ALL_UP] = MSGS_LIST("TRUE", "ASC"),
	[MSGS_RUN_DOWN] = MSGS_LIST("m.run_seq = $11::bigint", "DESC"),
	[MSGS_RUN_UP] = MSGS_LIST("m.run_seq = $11::bigint", "ASC"),
	[MSGS_IDS_DOWN] = MSGS_LIST(MSGS_IDS, "DESC"),
	[MSGS_IDS_UP] = MSGS_LIST(MSGS_IDS, "ASC"),
	[MSGS_METADATA] = "UPDATE messages SET metadata = $2::text WHERE"
	    " seq = $1::bigint",
	[MSGS_EVENT_ADD] = "INSERT INTO message_events(message_seq, type,"
	    " data, inserted_at) VALUES($1::bigint, $2::text, $3::text,"
	    " $4::bigint)",
	[MSGS_EVENTS] = "SELECT id, type, data, inserted_at FROM"
	    " message_events WHERE message_seq = $1::bigint ORDER BY id",
};
const struct pg_sql pg_messages_sql = { messages_sql, MSGS_COUNT };

/* The columns of MSGS_GET and of the pages. */
enum {
	MC_SEQ, MC_RUN, MC_IDX, MC_REF, MC_CHANNEL, MC_RCPT, MC_TENANT,
	MC_STATUS, MC_BODY, MC_SEEN, MC_READ, MC_ARCHIVED, MC_INTERACTED,
	MC_INSERTED, MC_UPDATED, MC_WORKFLOW, MC_ACTOR, MC_DATA, MC_METADATA
};

/* Append message m (inserted at m->inserted) to its feed; its key, or -1. */
static int64_t
pg_message_add(struct store *s, const struct store_message *m)
{
	struct pg_args a = { 0 };
	int64_t seq;

	pg_arg_int(&a, m->run);
	pg_arg_int(&a, m->idx);
	pg_arg_text(&a, m->step_ref);
	pg_arg_text(&a, m->channel);
	pg_arg_text(&a, m->rcpt);
	pg_arg_text(&a, m->tenant);
	pg_arg_text(&a, m->status);
	pg_arg_json(&a, m->body);
	pg_arg_int(&a, m->inserted);
	if (!s->in_txn)
		return pg_scalar(s, PG_MESSAGES, MSGS_ADD, &a, -1);
	/* In a transaction the key is known at once and the INSERT sent. */
	if ((seq = pg_key(s, PG_KEY_MESSAGES)) < 0) {
		pg_arg_free(&a);
		return -1;
	}
	pg_arg_int(&a, seq);
	return pg_add(s, PG_MESSAGES, MSGS_ADD_KEYED, &a) == 0 ? seq : -1;
}

/* Row i of r (MSGS_GET's columns) into *m, its texts in one allocation. */
static void
msgs_read(const PGresult *r, int i, struct store_message *m)
{
	static const int cols[] = { MC_REF, MC_CHANNEL, MC_RCPT, MC_TENANT,
		MC_STATUS, MC_WORKFLOW, MC_ACTOR };
	const char **const out[] = { &m->step_ref, &m->channel, &m->rcpt,
		&m->tenant, &m->status, &m->workflow, &m->actor };
	size_t len = 0, k, j;
	char *p;

	for (j = 0; j < sizeof cols / sizeof cols[0]; j++)
		if (!pg_null(r, i, cols[j]))
			len += (size_t)PQgetlength(r, i, cols[j]) + 1;
	p = m->owned = xmalloc(len > 0 ? len : 1);
	for (j = 0; j < sizeof cols / sizeof cols[0]; j++) {
		if (pg_null(r, i, cols[j])) {
			*out[j] = NULL;
			continue;
		}
		k = (size_t)PQgetlength(r, i, cols[j]);
		memcpy(p, PQgetvalue(r, i, cols[j]), k);
		p[k] = '\0';
		*out[j] = p;
		p += k + 1;
	}
	m->seq = pg_int(r, i, MC_SEQ);
	m->run = pg_int(r, i, MC_RUN);
	m->idx = pg_int(r, i, MC_IDX);
	m->body = pg_json(r, i, MC_BODY);
	m->seen = pg_int(r, i, MC_SEEN);
	m->read = pg_int(r, i, MC_READ);
	m->archived = pg_int(r, i, MC_ARCHIVED);
	m->interacted = pg_int(r, i, MC_INTERACTED);
	m->inserted = pg_int(r, i, MC_INSERTED);
	m->updated = pg_int(r, i, MC_UPDATED);
	m->data = pg_json(r, i, MC_DATA);
	m->metadata = pg_json(r, i, MC_METADATA);
}

/* Message seq into *m: 1, or 0 if there is none. */
static int
pg_message_get(struct store *s, int64_t seq, struct store_message *m)
{
	struct pg_args a = { 0 };
	PGresult *r;
	int found;

	memset(m, 0, sizeof *m);
	pg_arg_int(&a, seq);
	if ((r = pg_run(s, PG_MESSAGES, MSGS_GET, &a)) == NULL)
		return 0;
	if ((found = PQntuples(r) > 0))
		msgs_read(r, 0, m);
	PQclear(r);
	return found;
}

/*
 * Set (at now) or clear message seq's engagement what ("seen", "read",
 * "archived" or "interacted"): 1, 0 if there is no such message, or -1.
 */
static int
pg_message_mark(struct store *s, int64_t seq, const char *what, int set,
    int64_t now)
{
	struct pg_args a = { 0 };
	int64_t n;

	pg_arg_int(&a, seq);
	pg_arg_text(&a, what);
	pg_arg_int(&a, set ? now : STORE_NONE);
	pg_arg_int(&a, now);
	if ((n = pg_changed(s, PG_MESSAGES, MSGS_MARK, &a)) < 0)
		return -1;
	return n > 0;
}

/* Set message seq's delivery status at now; 0 or -1. */
static int
pg_message_status(struct store *s, int64_t seq, const char *status,
    int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_text(&a, status);
	pg_arg_int(&a, now);
	return pg_done(s, PG_MESSAGES, MSGS_STATUS, &a);
}

/* Filter f and max as MSGS_PASSES and MSGS_LIST read them ($1 to $10). */
static void
msgs_args(struct pg_args *a, const struct store_feed_filter *f, size_t max)
{
	pg_arg_int(a, f->before);
	pg_arg_int(a, f->above);
	pg_arg_json(a, f->tenants);
	pg_arg_int(a, f->has_tenant != 0);
	pg_arg_int(a, (int64_t)f->archived);
	pg_arg_int(a, (int64_t)f->status);
	pg_arg_text(a, f->channel);
	pg_arg_int(a, f->run);
	pg_arg_json(a, f->seqs);
	pg_arg_int(a, (int64_t)max);
}

/* Run page statement i with a, up to max rows into out; their count. */
static size_t
msgs_page(struct store *s, int i, struct pg_args *a, size_t max,
    struct store_message *out)
{
	PGresult *r;
	size_t n = 0, rows;

	if ((r = pg_run(s, PG_MESSAGES, i, a)) == NULL)
		return 0;
	rows = (size_t)PQntuples(r);
	for (; n < rows && n < max; n++) {
		memset(&out[n], 0, sizeof out[n]);
		msgs_read(r, (int)n, &out[n]);
	}
	PQclear(r);
	return n;
}

/*
 * Up to max messages of every recipient that pass f into out, newest
 * first (oldest first with f->up): down the table from f->before, up it
 * from f->above, through the run's index for f->run, or by key for
 * f->seqs.  Their count.
 */
static size_t
pg_messages_page(struct store *s, const struct store_feed_filter *f,
    size_t max, struct store_message *out)
{
	struct pg_args a = { 0 };
	int i = f->seqs != NULL ? MSGS_IDS_DOWN : f->run != 0 ?
	    MSGS_RUN_DOWN : MSGS_ALL_DOWN;

	if (max == 0)
		return 0;
	msgs_args(&a, f, max);
	if (f->seqs != NULL)
		pg_arg_json(&a, f->seqs);
	else if (f->run != 0)
		pg_arg_int(&a, f->run);
	/* Each _UP statement follows its _DOWN. */
	return msgs_page(s, i + (f->up != 0), &a, max, out);
}

/*
 * Up to max of rcpt's messages on channel (NULL: on every channel) that
 * pass f, newest first, into out: a keyset query on the feed's index (the
 * one channel's when channel or f->channel names one).  Their count.
 */
static size_t
pg_feed_page(struct store *s, const char *rcpt, const char *channel,
    const struct store_feed_filter *f, size_t max, struct store_message *out)
{
	struct pg_args a = { 0 };
	const char *ch = channel != NULL ? channel : f->channel;

	if (max == 0)
		return 0;
	msgs_args(&a, f, max);
	pg_arg_text(&a, rcpt);
	if (ch == NULL)
		return msgs_page(s, MSGS_FEED_ALL, &a, max, out);
	pg_arg_text(&a, ch);
	return msgs_page(s, MSGS_FEED_CH, &a, max, out);
}

/*
 * The counts of rcpt's messages on channel that are not archived and
 * pass the tenant filter: all, unread and unseen (0s if the read fails).
 */
static void
pg_feed_count(struct store *s, const char *rcpt, const char *channel,
    const char *tenant, int has_tenant, struct store_feed_counts *out)
{
	struct pg_args a = { 0 };
	PGresult *r;

	memset(out, 0, sizeof *out);
	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, channel);
	pg_arg_text(&a, tenant);
	pg_arg_int(&a, has_tenant != 0);
	if ((r = pg_run(s, PG_MESSAGES, MSGS_COUNTS, &a)) == NULL)
		return;
	if (PQntuples(r) > 0) {
		out->total = pg_int(r, 0, 0);
		out->unread = pg_int(r, 0, 1);
		out->unseen = pg_int(r, 0, 2);
	}
	PQclear(r);
}

/* Keep metadata (NULL: none) on message seq; 0 or -1. */
static int
pg_message_metadata(struct store *s, int64_t seq, json_t *metadata)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_json(&a, metadata);
	return pg_done(s, PG_MESSAGES, MSGS_METADATA, &a);
}

/* Record event type (with data, or NULL) of message seq at now; 0 or -1. */
static int
pg_message_event_add(struct store *s, int64_t seq, const char *type,
    json_t *data, int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_int(&a, seq);
	pg_arg_text(&a, type);
	pg_arg_json(&a, data);
	pg_arg_int(&a, now);
	return pg_done(s, PG_MESSAGES, MSGS_EVENT_ADD, &a);
}

/*
 * The recorded events of message seq, oldest first, into *out (the
 * caller's to free with store_message_events_free); their count.
 */
static size_t
pg_message_events(struct store *s, int64_t seq,
    struct store_message_event **out)
{
	struct pg_args a = { 0 };
	PGresult *r;
	size_t n, i;

	*out = NULL;
	pg_arg_int(&a, seq);
	if ((r = pg_run(s, PG_MESSAGES, MSGS_EVENTS, &a)) == NULL)
		return 0;
	if ((n = (size_t)PQntuples(r)) > 0)
		*out = xreallocarray(NULL, n, sizeof **out);
	for (i = 0; i < n; i++) {
		(*out)[i].id = pg_int(r, (int)i, 0);
		(*out)[i].type = pg_text(r, (int)i, 1);
		(*out)[i].data = pg_json(r, (int)i, 2);
		(*out)[i].at = pg_int(r, (int)i, 3);
	}
	PQclear(r);
	return n;
}

/* This file's operations, into the backend's table. */
void
pg_messages_ops(struct store_ops *o)
{
	o->message_add = pg_message_add;
	o->message_get = pg_message_get;
	o->message_mark = pg_message_mark;
	o->message_status = pg_message_status;
	o->messages_page = pg_messages_page;
	o->message_metadata = pg_message_metadata;
	o->message_event_add = pg_message_event_add;
	o->message_events = pg_message_events;
	o->feed_page = pg_feed_page;
	o->feed_count = pg_feed_count;
}
