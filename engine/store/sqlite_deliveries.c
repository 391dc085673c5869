/*
 * The SQLite backend's outgoing deliveries: one row per message to
 * deliver, keyed by the message, with its channel, when it is next due,
 * how many attempts were made and whether one is in flight.  The due
 * ones of a channel are found through an index on (channel, inflight,
 * due_at), the earliest of all through one on (inflight, due_at); the
 * ones in flight when the process died are due again at the next open.
 */
#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	DLV_ADD, DLV_DUE, DLV_TAKE, DLV_DROP, DLV_RETRY, DLV_NEXT,
	DLV_ATTEMPTS, DLV_RESET, DLV_CHANNELS, DLV_GET, DLV_COUNT
};
static const char *const dlv_sql[DLV_COUNT] = {
	[DLV_ADD] = "INSERT INTO deliveries(message_seq, due_at, attempts,"
	    " inflight, url, body, channel, headers) VALUES(?1, ?2, 0, 0, ?3,"
	    " ?4, ?5, ?6)",
	[DLV_DUE] = "SELECT message_seq, url, body, attempts, headers FROM"
	    " deliveries WHERE channel = ?3 AND inflight = 0 AND due_at <= ?1"
	    " ORDER BY due_at LIMIT ?2",
	[DLV_TAKE] = "UPDATE deliveries SET inflight = 1, attempts ="
	    " attempts + 1 WHERE message_seq = ?1",
	[DLV_DROP] = "DELETE FROM deliveries WHERE message_seq = ?1",
	[DLV_RETRY] = "UPDATE deliveries SET inflight = 0, due_at = ?2,"
	    " last_error = ?3 WHERE message_seq = ?1",
	[DLV_NEXT] = "SELECT min(due_at) FROM deliveries WHERE inflight = 0",
	[DLV_ATTEMPTS] = "SELECT attempts FROM deliveries WHERE message_seq ="
	    " ?1",
	[DLV_RESET] = "UPDATE deliveries SET inflight = 0 WHERE inflight = 1",
	[DLV_CHANNELS] = "SELECT DISTINCT channel FROM deliveries",
	[DLV_GET] = "SELECT due_at, inflight FROM deliveries WHERE"
	    " message_seq = ?1",
};
const struct sqlite_sql sqlite_deliveries_sql = { dlv_sql, DLV_COUNT };

/* A statement of this file, reset. */
static sqlite3_stmt *
dlv_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_DELIVERIES, i);
}

/* Queue message msg's delivery on channel; 0 or -1. */
static int
sqlite_delivery_add(struct store *s, int64_t msg, int64_t due,
    const char *channel, const char *url, json_t *headers, const char *body)
{
	sqlite3_stmt *st = dlv_stmt(s, DLV_ADD);

	sqlite3_bind_int64(st, 1, msg);
	sqlite3_bind_int64(st, 2, due);
	sqlite3_bind_text(st, 3, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, body, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, channel, -1, SQLITE_STATIC);
	sqlite_bind_json(st, 6, headers);
	return sqlite_done(s, st);
}

/*
 * Take up to max deliveries on channel due at now, earliest first,
 * marking them in flight and counting their attempt; their count.
 */
static size_t
sqlite_deliveries_take(struct store *s, const char *channel, int64_t now,
    size_t max, struct store_delivery *out)
{
	sqlite3_stmt *st = dlv_stmt(s, DLV_DUE);
	size_t n = 0, i;

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	sqlite3_bind_text(st, 3, channel, -1, SQLITE_STATIC);
	while (n < max && sqlite_row(s, st)) {
		out[n].msg = sqlite3_column_int64(st, 0);
		out[n].url = sqlite_text(st, 1);
		out[n].body = sqlite_text(st, 2);
		out[n].attempt = sqlite3_column_int(st, 3) + 1;
		out[n].headers = sqlite_json(st, 4);
		n++;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++)
		sqlite_done_key(s, PART_DELIVERIES, DLV_TAKE, out[i].msg);
	return n;
}


/* The channels that have deliveries queued, as an array of names. */
static json_t *
sqlite_delivery_channels(struct store *s)
{
	sqlite3_stmt *st = dlv_stmt(s, DLV_CHANNELS);
	json_t *a = json_array();

	while (sqlite_row(s, st))
		json_array_append_new(a, json_string((const char *)
		    sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return a;
}

/*
 * Whether message msg has a delivery queued: 1 with *due (when it is next
 * due) and *inflight, or 0.
 */
static int
sqlite_delivery_get(struct store *s, int64_t msg, int64_t *due,
    int *inflight)
{
	sqlite3_stmt *st = dlv_stmt(s, DLV_GET);
	int found = 0;

	sqlite3_bind_int64(st, 1, msg);
	if (sqlite_row(s, st)) {
		*due = sqlite3_column_int64(st, 0);
		*inflight = sqlite3_column_int(st, 1);
		found = 1;
	}
	sqlite3_reset(st);
	return found;
}

/* The attempts made at message msg's delivery, or -1 if it has none. */
static int
sqlite_delivery_attempts(struct store *s, int64_t msg)
{
	sqlite3_stmt *st = dlv_stmt(s, DLV_ATTEMPTS);

	sqlite3_bind_int64(st, 1, msg);
	return (int)sqlite_scalar(s, st, -1);
}

/* Forget message msg's delivery (done, or given up); 0 or -1. */
static int
sqlite_delivery_drop(struct store *s, int64_t msg)
{
	return sqlite_done_key(s, PART_DELIVERIES, DLV_DROP, msg);
}

/* Make message msg's delivery due again at due, noting err; 0 or -1. */
static int
sqlite_delivery_retry(struct store *s, int64_t msg, int64_t due,
    const char *err)
{
	sqlite3_stmt *st = dlv_stmt(s, DLV_RETRY);

	sqlite3_bind_int64(st, 1, msg);
	sqlite3_bind_int64(st, 2, due);
	sqlite_bind_text(st, 3, err);
	return sqlite_done(s, st);
}

/* When the earliest delivery not in flight is due, or INT64_MAX. */
static int64_t
sqlite_delivery_next(struct store *s)
{
	return sqlite_scalar(s, dlv_stmt(s, DLV_NEXT), INT64_MAX);
}

/* At open: the deliveries in flight when the process died are due again. */
int
sqlite_deliveries_reset(struct store *s)
{
	return sqlite_done(s, dlv_stmt(s, DLV_RESET));
}

/* This file's operations, into the backend's table. */
void
sqlite_deliveries_ops(struct store_ops *o)
{
	o->delivery_add = sqlite_delivery_add;
	o->deliveries_take = sqlite_deliveries_take;
	o->delivery_channels = sqlite_delivery_channels;
	o->delivery_get = sqlite_delivery_get;
	o->delivery_attempts = sqlite_delivery_attempts;
	o->delivery_drop = sqlite_delivery_drop;
	o->delivery_retry = sqlite_delivery_retry;
	o->delivery_next = sqlite_delivery_next;
}
