/*
 * engine/store: the storage interface of the engine.
 *
 * The engine keeps its state through these operations, which speak the
 * domain's language (runs, recipient runs, feeds, waits, schedules,
 * deliveries) in domain types (structs, jansson values, 64-bit integer
 * keys), never in statements or columns.  A backend implements them over
 * its own data model: engine/store/sqlite*.c over one SQLite file, with
 * designs of its own (feed chains, held heads, a gathering VFS, an
 * exclusive lock) that nothing above sees.  docs/architecture.md ("The
 * store interface") maps every operation onto PostgreSQL too.
 *
 * Transactions: store_begin()/store_commit() bracket a group of requests
 * that share one durable commit; store_request_begin()/_end() bracket one
 * request inside it (a savepoint), so that a failing request rolls back
 * alone.  Requests nest (a schedule's fire inside the due pass); every
 * operation that writes runs inside a transaction.
 *
 * Failures: an operation that fails returns -1 (or its "nothing" answer,
 * as documented) and marks the innermost open request as failed; that
 * request then rolls back at its end whatever its caller says (sticky),
 * so an ignored return value never keeps half a request.
 *
 * Ownership: strings and jansson values an operation returns (in structs
 * or directly) are the caller's, freed with the matching *_clear or
 * free()/json_decref(); arguments are borrowed for the call.
 */
#ifndef BELFRY_STORE_H
#define BELFRY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* "No value": a nullable integer or instant that is absent. */
#define STORE_NONE INT64_MIN

struct store;

/* ---- lifecycle (engine/store/sqlite.c) ---- */

/*
 * Open the store at path, creating or migrating it.  check is "quick",
 * "full" or "off": how thoroughly an existing store is checked before
 * anything is written to it.  A store that belongs to another
 * application, is damaged, or is in use by another process is refused
 * untouched: NULL with *cause.
 */
struct store *store_open(const char *path, const char *check, char **cause);

/* Close the store (the held state is written out first). */
void store_close(struct store *s);

/* The store's random key of the public id derivation (ids.c). */
void store_idkey(const struct store *s, uint64_t key[4]);

/* How many operations have failed since the open. */
uint64_t store_errors(const struct store *s);

/* ---- transactions ---- */

/* Start the group transaction; -1 with *cause. */
int store_begin(struct store *s, char **cause);

/* Commit it durably; -1 with *cause (then it is rolled back). */
int store_commit(struct store *s, char **cause);

/* Abandon it. */
void store_rollback(struct store *s);

/* Whether a transaction is open. */
int store_in_txn(const struct store *s);

/* Open a request inside the transaction (requests nest). */
void store_request_begin(struct store *s);

/*
 * Close the innermost request, keeping its work if ok and none of its
 * operations failed; 1 when it was kept, 0 when it was rolled back.
 */
int store_request_end(struct store *s, int ok);

/* ---- maintenance ---- */

/*
 * How pressing the store's deferred maintenance is: none; due (run it
 * when nothing else is waiting); urgent (run it even with requests
 * waiting).  The owner runs it between bursts with store_maintain.
 */
enum store_maint {
	STORE_MAINT_NONE, STORE_MAINT_DUE, STORE_MAINT_URGENT
};
enum store_maint store_maint_due(const struct store *s);

/* Run the deferred maintenance now, outside a transaction; -1 with *cause. */
int store_maintain(struct store *s, char **cause);

/* A gauge of the backend's own, for /metrics. */
struct store_gauge {
	const char *name, *help;
	uint64_t value;
};

/* Fill out with up to max of the backend's gauges; their count. */
size_t store_gauges(const struct store *s, struct store_gauge *out,
    size_t max);

/*
 * Delete what no longer matters, at most max rows of each kind: replies
 * made before idem_before, throttle hits expired at now, and cancel
 * tombstones that no pending fan-out can meet; 0 or -1.
 */
int store_sweep(struct store *s, int64_t now, int64_t idem_before, int max);

/* ---- idempotency (engine/store/sqlite_idempotency.c) ---- */

/* The reply stored under key: 1 with *status, *body and *created, or 0. */
int store_idem_get(struct store *s, const char *key, int *status,
    char **body, int64_t *created);

/* Store (or replace) the reply under key, made at now; 0 or -1. */
int store_idem_put(struct store *s, const char *key, int status,
    const char *body, int64_t now);

/* ---- outgoing deliveries (engine/store/sqlite_deliveries.c) ---- */

/* A delivery taken to be performed (url and body: the caller's to free). */
struct store_delivery {
	int64_t msg;             /* the message's key */
	char *url, *body;
	int attempt;             /* 1 for the first */
};

/* Queue message msg's delivery of body to url, due at due; 0 or -1. */
int store_delivery_add(struct store *s, int64_t msg, int64_t due,
    const char *url, const char *body);

/*
 * Take up to max deliveries due at now, earliest first, into out: each is
 * in flight (no other take returns it) until it is dropped or retried,
 * or the store is opened again.  Their count.
 */
size_t store_deliveries_take(struct store *s, int64_t now, size_t max,
    struct store_delivery *out);

/* The attempts made at message msg's delivery, or -1 if it has none. */
int store_delivery_attempts(struct store *s, int64_t msg);

/* Forget message msg's delivery (done, or given up); 0 or -1. */
int store_delivery_drop(struct store *s, int64_t msg);

/* Make message msg's delivery due again at due, noting err; 0 or -1. */
int store_delivery_retry(struct store *s, int64_t msg, int64_t due,
    const char *err);

/* When the earliest delivery not in flight is due, or INT64_MAX. */
int64_t store_delivery_next(struct store *s);

/* ---- feeds (engine/store/sqlite_heads.c) ---- */

/*
 * A new message on rcpt's feed on channel: *seq gets its key; returns the
 * key of the message before it on that feed (0: none), or -1.
 */
int64_t store_feed_push(struct store *s, const char *rcpt,
    const char *channel, int64_t *seq);

/* The key of the newest message on rcpt's feed on channel (0: none). */
int64_t store_feed_head(struct store *s, const char *rcpt,
    const char *channel);

/*
 * Call f(arg, channel, newest) for rcpt's feed on channel, or on every
 * channel when it is NULL; a channel may be reported more than once, the
 * last report being the newest.
 */
void store_feed_heads(struct store *s, const char *rcpt, const char *channel,
    void (*f)(void *, const char *, int64_t), void *arg);

/* ---- recipients (engine/store/sqlite_recipients.c) ---- */

/* When a stored record was created and last updated. */
struct store_times {
	int64_t created, updated;
};

/*
 * A user's (collection NULL) or an object's properties, or NULL when it
 * is unknown; *t (unless NULL) gets its times.
 */
json_t *store_recipient_get(struct store *s, const char *collection,
    const char *id, struct store_times *t);

/* Store a user's or an object's properties at now; 0 or -1. */
int store_recipient_put(struct store *s, const char *collection,
    const char *id, json_t *props, int64_t now);

/* Delete a user or an object: 1, 0 if there was none, or -1. */
int store_recipient_delete(struct store *s, const char *collection,
    const char *id);

/* A tenant's properties, or NULL; *t (unless NULL) gets its times. */
json_t *store_tenant_get(struct store *s, const char *id,
    struct store_times *t);
int store_tenant_put(struct store *s, const char *id, json_t *props,
    int64_t now);

/* Create tenant id with no properties unless it exists; 0 or -1. */
int store_tenant_stub(struct store *s, const char *id, int64_t now);

/* A subscription to an object: its subscriber's recipient key and more. */
struct store_sub {
	char *rcpt;
	json_t *props;           /* NULL for null */
	int64_t inserted, updated;
};
void store_sub_clear(struct store_sub *sub);

/* Subscribe rcpt to object coll/obj with props (may be NULL); 0 or -1. */
int store_sub_put(struct store *s, const char *coll, const char *obj,
    const char *rcpt, json_t *props, int64_t now);
int store_sub_delete(struct store *s, const char *coll, const char *obj,
    const char *rcpt);

/* rcpt's subscription to coll/obj into *out (its rcpt unset): 1, or 0. */
int store_sub_get(struct store *s, const char *coll, const char *obj,
    const char *rcpt, struct store_sub *out);

/*
 * Up to max subscriptions to coll/obj whose recipient keys sort after
 * `after` ("" for the first page), in that order, into out; their count.
 */
size_t store_subs_page(struct store *s, const char *coll, const char *obj,
    const char *after, size_t max, struct store_sub *out);

/* rcpt's preference set called set, or NULL. */
json_t *store_prefs_get(struct store *s, const char *rcpt, const char *set);
int store_prefs_put(struct store *s, const char *rcpt, const char *set,
    json_t *body, int64_t now);

/* Whether any recipient preference set is stored. */
int store_prefs_exist(struct store *s);

/* ---- source events (engine/store/sqlite_sources.c) ---- */

/*
 * An event a source sent, as the log keeps it.  Written: the strings are
 * the caller's, borrowed (NULL: none) and key is ignored.  Read: they are
 * held by the struct (store_source_event_clear frees them).
 */
struct store_source_event {
	int64_t key;               /* read: the log's key (keys increase) */
	const char *source, *message_id, *type, *event;
	const char *outcome, *detail;
	int64_t run;               /* the run it triggered, or STORE_NONE */
	const char *timestamp;     /* the event's own, as it was sent */
	int64_t received;
	char *owned;
};
void store_source_event_clear(struct store_source_event *ev);

/* Whether source's log has message id msgid received at since or later. */
int store_source_seen(struct store *s, const char *source, const char *msgid,
    int64_t since);

/* Append ev to the log; 0 or -1. */
int store_source_event_add(struct store *s,
    const struct store_source_event *ev);

/*
 * Up to max of source's logged events with keys below `before`, newest
 * first, of outcome (NULL: any), into out; their count.
 */
size_t store_source_events_page(struct store *s, const char *source,
    int64_t before, const char *outcome, size_t max,
    struct store_source_event *out);

/* Add n to source's count of events with outcome; 0 or -1. */
int store_source_count_add(struct store *s, const char *source,
    const char *outcome, int64_t n);

/* Call f(arg, source, outcome, n) for every count, by source and outcome. */
void store_source_counts(struct store *s,
    void (*f)(void *, const char *, const char *, int64_t), void *arg);

/*
 * Remember that run came from ev (its source, event, message_id and
 * timestamp; kept as long as the run); 0 or -1.
 */
int store_source_run_put(struct store *s, int64_t run,
    const struct store_source_event *ev);

/* The source event run came from into *ev (those four fields): 1, or 0. */
int store_source_run_get(struct store *s, int64_t run,
    struct store_source_event *ev);

/* Delete up to max of the oldest log entries received before `before`. */
int store_source_sweep(struct store *s, int64_t before, int max);

#endif
