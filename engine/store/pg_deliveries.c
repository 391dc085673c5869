/*
 * The PostgreSQL backend's outgoing deliveries: one row per message to
 * deliver, keyed by the message, with its channel, when it is next due,
 * how many attempts were made, what it sends, and a lease: the node that
 * took it (lease_owner) and until when it stays that node's
 * (lease_until).
 *
 * A lease stands for SQLite's inflight flag.  A take claims the due rows
 * of a channel with FOR UPDATE SKIP LOCKED (two nodes never take one row
 * in one instant) and leases them for PG_LEASE_SECONDS; retry and drop
 * end the lease.  A row is in flight, for a caller at now, while
 * lease_owner IS NOT NULL AND lease_until >= now; once the lease has run
 * out (its node died, or its request outlived the lease) any node may
 * take the row again: delivery stays at least once, with the message id
 * as the receiver's idempotency key.  The operations that have no now
 * (next, get) read a lease as held until it is retried, dropped or taken
 * again: next answers the instant the lease runs out (lease_until + 1,
 * the first now at which a take sees it), get says "in flight".
 *
 * Indexes (pg.c): deliveries_due (channel, due_at) serves the take,
 * deliveries_next the instant next answers (its expression is next's),
 * and the partial deliveries_leased (lease_owner) the leases of one node
 * (the open's reset, the leases gauge).
 */
#include <stdint.h>

#include "engine/store/pg_int.h"

/* The statements of this file. */
enum {
	DLV_ADD, DLV_TAKE, DLV_DROP, DLV_RETRY, DLV_ATTEMPTS,
	DLV_RESET, DLV_RENEW, DLV_CHANNELS, DLV_GET, DLV_COUNT
};
static const char *const deliveries_sql[DLV_COUNT] = {
	[DLV_ADD] = "INSERT INTO deliveries(message_seq, due_at, attempts,"
	    " url, body, channel, headers) VALUES($1::bigint, $2::bigint, 0,"
	    " $3::text, $4::text, $5::text, $6::text)",
	/*
	 * The claim: the channel's due rows that no live lease holds,
	 * earliest first, locked (skipping rows another transaction holds)
	 * and leased to this node; RETURNING has no order of its own, so
	 * the rows are put in the claim's order again.  The keys go through
	 * an array (= ANY(ARRAY(...)), not IN (...)): the statement's
	 * generic plan, which cannot know the LIMIT, then still updates
	 * them by the primary key instead of joining the whole table.
	 */
	[DLV_TAKE] = "WITH taken AS (UPDATE deliveries SET lease_owner ="
	    " $4::text, lease_until = $5::bigint, attempts = attempts + 1"
	    " WHERE message_seq = ANY(ARRAY(SELECT message_seq FROM deliveries"
	    " WHERE channel = $1::text AND due_at <= $2::bigint AND"
	    " (lease_owner IS NULL OR lease_until < $2::bigint) ORDER BY"
	    " due_at, message_seq LIMIT $3::bigint FOR UPDATE SKIP LOCKED))"
	    " RETURNING message_seq, url, body, attempts, headers, due_at)"
	    " SELECT message_seq, url, body, attempts, headers FROM taken"
	    " ORDER BY due_at, message_seq",
	[DLV_DROP] = "DELETE FROM deliveries WHERE message_seq = $1::bigint",
	[DLV_RETRY] = "UPDATE deliveries SET lease_owner = NULL, lease_until"
	    " = NULL, due_at = $2::bigint, last_error = $3::text WHERE"
	    " message_seq = $1::bigint",
	[DLV_ATTEMPTS] = "SELECT attempts FROM deliveries WHERE message_seq ="
	    " $1::bigint",
	[DLV_RESET] = "UPDATE deliveries SET lease_owner = NULL, lease_until"
	    " = NULL WHERE lease_owner = $1::text",
	[DLV_RENEW] = "UPDATE deliveries SET lease_until = $2::bigint WHERE"
	    " lease_owner = $1::text",
	[DLV_CHANNELS] = "SELECT DISTINCT channel FROM deliveries ORDER BY"
	    " channel",
	[DLV_GET] = "SELECT due_at, lease_owner IS NOT NULL FROM deliveries"
	    " WHERE message_seq = $1::bigint",
};
const struct pg_sql pg_deliveries_sql = { deliveries_sql, DLV_COUNT };

/* Queue message msg's delivery on channel; 0 or -1. */
static int
pg_delivery_add(struct store *s, int64_t msg, int64_t due,
    const char *channel, const char *url, json_t *headers, const char *body)
{
	struct pg_args a = {0};

	pg_arg_int(&a, msg);
	pg_arg_int(&a, due);
	pg_arg_text(&a, url);
	pg_arg_text(&a, body);
	pg_arg_text(&a, channel);
	pg_arg_json(&a, headers);
	return pg_done(s, PG_DELIVERIES, DLV_ADD, &a);
}

/*
 * Take up to max deliveries on channel due at now, earliest first,
 * leasing them to this node and counting their attempt; their count.
 */
static size_t
pg_deliveries_take(struct store *s, const char *channel, int64_t now,
    size_t max, struct store_delivery *out)
{
	struct pg_args a = {0}, k = {0};
	/* A drain at the end of time (now INT64_MAX) leases to just before
	 * it, so that lease_until + 1 stays a number. */
	int64_t lease = now < INT64_MAX - PG_LEASE_SECONDS - 1 ?
	    now + PG_LEASE_SECONDS : INT64_MAX - 1;
	PGresult *r;
	size_t n, i;

	if (max == 0)
		return 0;
	/* The leases of deliveries still running are kept alive. */
	if (now >= s->lease_renew_at) {
		pg_arg_text(&k, s->node);
		pg_arg_int(&k, lease);
		if (pg_done(s, PG_DELIVERIES, DLV_RENEW, &k) != 0)
			return 0;
		s->lease_renew_at = now < INT64_MAX - PG_LEASE_RENEW ?
		    now + PG_LEASE_RENEW : INT64_MAX;
	}
	pg_arg_text(&a, channel);
	pg_arg_int(&a, now);
	pg_arg_int(&a, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	pg_arg_text(&a, s->node);
	pg_arg_int(&a, lease);
	if ((r = pg_run(s, PG_DELIVERIES, DLV_TAKE, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		out[i].msg = pg_int(r, (int)i, 0);
		out[i].url = pg_text(r, (int)i, 1);
		out[i].body = pg_text(r, (int)i, 2);
		out[i].attempt = (int)pg_int(r, (int)i, 3);
		out[i].headers = pg_json(r, (int)i, 4);
	}
	PQclear(r);
	return n;
}

/* The channels that have deliveries queued, as an array of names. */
static json_t *
pg_delivery_channels(struct store *s)
{
	json_t *names = json_array();
	PGresult *r;
	int i, n;

	if ((r = pg_run(s, PG_DELIVERIES, DLV_CHANNELS, NULL)) == NULL)
		return names;
	for (i = 0, n = PQntuples(r); i < n; i++)
		json_array_append_new(names, json_string(pg_cell(r, i, 0)));
	PQclear(r);
	return names;
}

/*
 * Whether message msg has a delivery queued: 1 with *due (when it is next
 * due) and *inflight (a node took it and has neither retried nor dropped
 * it since), or 0.
 */
static int
pg_delivery_get(struct store *s, int64_t msg, int64_t *due, int *inflight)
{
	struct pg_args a = {0};
	PGresult *r;
	int found = 0;

	pg_arg_int(&a, msg);
	if ((r = pg_run(s, PG_DELIVERIES, DLV_GET, &a)) == NULL)
		return 0;
	if (PQntuples(r) > 0) {
		*due = pg_int(r, 0, 0);
		*inflight = (int)pg_int(r, 0, 1);
		found = 1;
	}
	PQclear(r);
	return found;
}

/* The attempts made at message msg's delivery, or -1 if it has none. */
static int
pg_delivery_attempts(struct store *s, int64_t msg)
{
	struct pg_args a = {0};

	pg_arg_int(&a, msg);
	return (int)pg_scalar(s, PG_DELIVERIES, DLV_ATTEMPTS, &a, -1);
}

/* Forget message msg's delivery (done, or given up); 0 or -1. */
static int
pg_delivery_drop(struct store *s, int64_t msg)
{
	struct pg_args a = {0};

	pg_arg_int(&a, msg);
	return pg_done(s, PG_DELIVERIES, DLV_DROP, &a);
}

/*
 * Make message msg's delivery due again at due, noting err, and end its
 * lease; 0 or -1.
 */
static int
pg_delivery_retry(struct store *s, int64_t msg, int64_t due,
    const char *err)
{
	struct pg_args a = {0};

	pg_arg_int(&a, msg);
	pg_arg_int(&a, due);
	pg_arg_text(&a, err);
	return pg_done(s, PG_DELIVERIES, DLV_RETRY, &a);
}

/*
 * When the earliest delivery is due: a row no lease holds at its due_at,
 * a leased one when its lease runs out; INT64_MAX when there is none.
 */
static int64_t
pg_delivery_next(struct store *s)
{
	return pg_next(s, PG_NEXT_DELIVERIES);
}

/*
 * At open and at a clean close: end the leases held in this node's name
 * (pg_int.h), so that what it had taken is due again at once.  The name
 * carries the process id, so a node that died does not find its old
 * leases when it restarts: those come back when they run out.
 */
int
pg_deliveries_reset(struct store *s)
{
	struct pg_args a = {0};

	pg_arg_text(&a, s->node);
	return pg_done(s, PG_DELIVERIES, DLV_RESET, &a);
}

/* This file's operations, into the backend's table. */
void
pg_deliveries_ops(struct store_ops *o)
{
	o->delivery_add = pg_delivery_add;
	o->deliveries_take = pg_deliveries_take;
	o->delivery_channels = pg_delivery_channels;
	o->delivery_get = pg_delivery_get;
	o->delivery_attempts = pg_delivery_attempts;
	o->delivery_drop = pg_delivery_drop;
	o->delivery_retry = pg_delivery_retry;
	o->delivery_next = pg_delivery_next;
}
