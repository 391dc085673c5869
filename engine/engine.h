/*
 * engine: belfry's workflow engine -- configuration (belfry.conf and
 * workflows/NAME.json), recipients (users, objects, tenants,
 * subscriptions, preferences), triggers, runs, steps and messages, kept
 * through the storage interface of engine/store/ (SQLite).
 *
 * Clock model: the engine never reads the clock.  Every operation that
 * needs the time takes `now` (seconds since the epoch, UTC) from the
 * caller; eng_next_due() says when the engine next needs to be called.
 *
 * Transactions: the caller brackets work with eng_begin()/eng_commit() so
 * that many API requests share one transaction and one fsync (group
 * commit).  Each request runs inside eng_request_begin()/_end(), a
 * savepoint, so a failing request rolls back alone; a request in which a
 * store operation failed rolls back whatever its handler returned.
 *
 * Replies are jansson values in Knock's JSON shapes; a returned json_t * is
 * a new reference the caller must json_decref().  Errors return an enum
 * eng_status and set *cause (caller frees) to a message for the human.
 *
 * The engine never includes libevent and does no network I/O: webhook
 * and email deliveries are queued (eng_delivery_*) for the caller to
 * perform, and their attempts recorded.
 */
#ifndef BELFRY_ENGINE_H
#define BELFRY_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tz/tz.h"

/* Outcome of an engine operation; the API maps these to HTTP statuses. */
enum eng_status {
	ENG_OK = 0,
	ENG_INVALID,     /* 422 invalid_params: the request is wrong */
	ENG_NOT_FOUND,   /* 404 */
	ENG_NO_WORKFLOW, /* 404 workflow_missing */
	ENG_INTERNAL,    /* 500: the store failed */
	ENG_CONFLICT,    /* 409: the resource belongs to a config file */
	ENG_FORBIDDEN    /* 403: not the caller's to touch */
};

struct eng;
struct eng_config;

/* ---- configuration (engine/config/, engine/workflow/) ---- */

/* How an email channel uses STARTTLS (belfry.conf's "starttls"). */
enum eng_starttls {
	ENG_STARTTLS_REQUIRED, /* refuse a server that does not offer it */
	ENG_STARTTLS_OPTIONAL, /* use it when offered */
	ENG_STARTTLS_NEVER
};

struct eng_template;

/* A channel from belfry.conf. */
struct eng_channel {
	char *name;
	char *type;      /* "in_app_feed", "http", "email" or "log" */
	char *url;       /* http: the URL; email: smtp_url */
	/* http */
	char *method;    /* POST (default), PUT, PATCH or DELETE */
	json_t *headers; /* {name: template text}, or NULL */
	struct eng_template **header_parts; /* headers' values, parsed */
	unsigned char *secret; /* signing_secret's key, or NULL */
	size_t secret_len;
	/* email */
	char *from;      /* "Name <addr>" or "addr", as configured */
	char *from_addr; /* its address */
	char *username, *password; /* NULL: no AUTH */
	enum eng_starttls starttls;
	char *list_unsubscribe; /* template text, or NULL */
	struct eng_template *list_unsubscribe_part;
	/* http and email */
	char *ca_file;   /* NULL: the system's CAs */
	int max_sessions; /* requests or SMTP sessions at once */
	double max_per_second; /* deliveries started per second; 0: any */
};

/* Whether channel type type delivers through the network (http, email). */
int eng_channel_outgoing(const char *type);

/*
 * Load CONFIG_DIR/belfry.conf and CONFIG_DIR/workflows/NAME.json.  NULL with
 * *cause "file:line:column: message" on the first error.
 */
struct eng_config *eng_config_load(const char *dir, char **cause);
void eng_config_free(struct eng_config *c);

/* Values from belfry.conf (NULL when unset). */
const char *eng_config_socket(const struct eng_config *c);
const char *eng_config_database(const struct eng_config *c);
const char *eng_config_listen(const struct eng_config *c);
const char *eng_config_database_check(const struct eng_config *c);
const char *eng_config_default_timezone(const struct eng_config *c);
/* The HTTP listeners' limits (defaults 10, 60, 60 s and 1024). */
int eng_config_header_timeout(const struct eng_config *c);
int eng_config_body_timeout(const struct eng_config *c);
int eng_config_idle_timeout(const struct eng_config *c);
int eng_config_max_connections(const struct eng_config *c);
size_t eng_config_api_key_count(const struct eng_config *c);
const char *eng_config_api_key(const struct eng_config *c, size_t i);
/* public_api_keys: keys a browser may hold (user-scoped routes only). */
size_t eng_config_public_key_count(const struct eng_config *c);
const char *eng_config_public_key(const struct eng_config *c, size_t i);
/* user_token_public_key: the PEM file that verifies user tokens, or NULL. */
const char *eng_config_user_token_key(const struct eng_config *c);
/*
 * metrics_api_keys (and the metrics_api_keys credential): keys that reach
 * only GET /metrics and GET /healthz.
 */
size_t eng_config_metrics_key_count(const struct eng_config *c);
const char *eng_config_metrics_key(const struct eng_config *c, size_t i);
/* socket_group: the admin socket's group (NULL: the daemon's own). */
const char *eng_config_socket_group(const struct eng_config *c);
/* log_format "json": one JSON object a log line. */
int eng_config_log_json(const struct eng_config *c);
/* allowed_origins: the browser origins CORS lets in. */
size_t eng_config_origin_count(const struct eng_config *c);
const char *eng_config_origin(const struct eng_config *c, size_t i);
/* tls: the TCP listener's certificate and key files (NULL: no TLS). */
const char *eng_config_tls_certificate(const struct eng_config *c);
const char *eng_config_tls_key(const struct eng_config *c);
size_t eng_config_workflow_count(const struct eng_config *c);
size_t eng_config_source_count(const struct eng_config *c);
int eng_config_has_workflow(const struct eng_config *c, const char *key);

/* The configuration's channels: their count, and the i-th of them. */
size_t eng_config_channel_count(const struct eng_config *c);
const struct eng_channel *eng_config_channel(const struct eng_config *c,
    size_t i);

/*
 * Parse a TCP listener's "HOST:PORT" (HOST an IPv4 address, a bracketed
 * IPv6 one or localhost; PORT 0..65535) into host (an address without
 * brackets) and *port; -1 with *cause.  Without tls only loopback
 * addresses are allowed.  The one check of belfry.conf's listen and
 * --listen.
 */
int eng_listen_parse(const char *listen, int tls, char *host,
    size_t hostlen, int *port, char **cause);

/* ---- JSON (engine/jsonpool.c, engine/jsonout.c) ---- */

/*
 * Route jansson's allocations through a pool of reused blocks; call it
 * first in main, before any JSON value exists (a no-op under ASan).
 */
void eng_json_pool(void);
size_t eng_json_pool_bytes(void);

/* JSON text of v with json_dumps' flags, in memory from malloc (free it). */
char *eng_json_dumps(json_t *v, size_t flags);

/* ---- the engine ---- */

/* Open (creating or migrating) the database at path. */
struct eng *eng_open(const char *path, char **cause);
/*
 * eng_open with a check of an existing database first: check is "quick",
 * "full" or "off" (belfry.conf's database_integrity_check).  A database
 * that is another application's, or damaged, is refused untouched.
 */
struct eng *eng_open_checked(const char *path, const char *check,
    char **cause);

/* Close the database. */
void eng_close(struct eng *e);

/*
 * Install a configuration; the engine takes ownership of c.  Follow it with
 * eng_schedules_sync (which needs `now` and a transaction) to bring the
 * configuration's schedules into the store.
 */
void eng_set_config(struct eng *e, struct eng_config *c);

/* The configuration in force. */
const struct eng_config *eng_config(const struct eng *e);

int eng_begin(struct eng *e, char **cause);
int eng_commit(struct eng *e, char **cause);

/*
 * Commit without waiting where the store can (store_commit_send): 1 when
 * the commit is sent, its outcome to be had from eng_commit_poll (the
 * next transaction may begin meanwhile; its log lines wait for it), 0
 * when committed, -1 with *cause.  A commit sent while one is pending
 * reads that one's outcome once it is itself on its way: the caller then
 * polls that outcome at once, so that a transaction begins with at most
 * one commit pending and at most ENG_PENDING_MAX are ever unread.
 */
#define ENG_PENDING_MAX 2
int eng_commit_send(struct eng *e, char **cause);

/*
 * The outcome of the oldest commit sent and not yet told, waiting for it
 * if wait: 1 not yet known (only when !wait), 0 committed (its log lines
 * written), -1 with *cause (eng_txn_retry says whether its work may
 * commit if run again).  Without one pending: 0.
 */
int eng_commit_poll(struct eng *e, int wait, char **cause);

/* The descriptor readable as a pending commit's outcome comes, or -1. */
int eng_commit_fd(const struct eng *e);
void eng_rollback(struct eng *e);
void eng_request_begin(struct eng *e);
/* 1 when the request's work was kept, 0 when it was rolled back. */
int eng_request_end(struct eng *e, int ok);
/*
 * Whether the request that last ended rolled back as the victim of a
 * conflict with another node, so that running it again may succeed.
 */
int eng_request_retry(const struct eng *e);
/*
 * Whether the transaction whose commit failed last may commit if the
 * same work runs again (store_txn_retry): the rerun isolates a failing
 * request instead of losing the whole group.
 */
int eng_txn_retry(const struct eng *e);
/*
 * The caller runs every failed transaction again when eng_txn_retry says
 * so (txn_run does): a store whose reads wait may then end requests
 * without waiting, learning of a failure at the commit.
 */
void eng_optimistic(struct eng *e);
/*
 * Read ahead, in the open transaction, the users that n values name
 * (each a recipient or an array of them: a trigger's actor and
 * recipients), and the keys of the runs requests will make (about one
 * each of runs requests), a hint to a store whose reads wait.
 */
void eng_users_prefetch(struct eng *e, json_t *const *vals, size_t n,
    size_t runs);
/* Whether other nodes share the store (store_shared). */
int eng_shared(const struct eng *e);
/* The most requests one group transaction should hold (store_group_max). */
size_t eng_group_max(const struct eng *e);

/*
 * The store's deferred maintenance (SQLite: copying its log into the
 * database), run by the owner between bursts: none is due, it is due
 * (run it when nothing waits), or urgent (run it even with requests
 * waiting).  eng_maintain runs it, outside a transaction.
 */
enum eng_maint { ENG_MAINT_NONE, ENG_MAINT_DUE, ENG_MAINT_URGENT };
enum eng_maint eng_maint_due(const struct eng *e);
int eng_maintain(struct eng *e, char **cause);

/*
 * A hot backup (engine/lifecycle.c over the store's): begun, stepped
 * between transactions in bounded steps, finished.  The copy is complete
 * and consistent on its own, written to PATH.tmp and renamed to PATH
 * once complete.  step: 1 when complete, 0 when pages remain, -1 with
 * *cause; finish: 0, or -1 with *cause (when not NULL), freeing b.
 */
struct eng_backup;
struct eng_backup *eng_backup_begin(struct eng *e, const char *path,
    char **cause);
int eng_backup_step(struct eng_backup *b, int pages, char **cause);
void eng_backup_progress(const struct eng_backup *b, int64_t *done,
    int64_t *total);
int eng_backup_finish(struct eng_backup *b, char **cause);

/* A gauge the store reports of itself, for /metrics. */
struct eng_gauge {
	const char *name, *help;
	uint64_t value;
};
size_t eng_store_gauges(const struct eng *e, struct eng_gauge *out,
    size_t max);

/* ---- recipients (engine/recipients.c) ---- */

enum eng_status eng_user_put(struct eng *e, const char *id, json_t *body,
    int64_t now, json_t **reply, char **cause);
enum eng_status eng_user_get(struct eng *e, const char *id, json_t **reply,
    char **cause);
enum eng_status eng_user_delete(struct eng *e, const char *id, char **cause);

enum eng_status eng_object_put(struct eng *e, const char *collection,
    const char *id, json_t *body, int64_t now, json_t **reply, char **cause);
enum eng_status eng_object_get(struct eng *e, const char *collection,
    const char *id, json_t **reply, char **cause);
enum eng_status eng_object_delete(struct eng *e, const char *collection,
    const char *id, char **cause);

enum eng_status eng_tenant_put(struct eng *e, const char *id, json_t *body,
    int64_t now, json_t **reply, char **cause);
enum eng_status eng_tenant_get(struct eng *e, const char *id, json_t **reply,
    char **cause);
/* DELETE /v1/tenants/{id}: the tenant's record (messages keep its id). */
enum eng_status eng_tenant_delete(struct eng *e, const char *id,
    char **cause);

/* POST (add or update), DELETE (remove) and GET an object's subscriptions. */
enum eng_status eng_subs_add(struct eng *e, const char *collection,
    const char *id, json_t *body, int64_t now, json_t **reply, char **cause);
enum eng_status eng_subs_remove(struct eng *e, const char *collection,
    const char *id, json_t *body, json_t **reply, char **cause);
enum eng_status eng_subs_list(struct eng *e, const char *collection,
    const char *id, json_t *query, json_t **reply, char **cause);

/* ---- audiences (engine/audiences.c) ---- */

/* POST (add, 204), DELETE (remove, 204) and GET an audience's members. */
enum eng_status eng_audience_add(struct eng *e, const char *key,
    json_t *body, json_t *query, int64_t now, char **cause);
enum eng_status eng_audience_remove(struct eng *e, const char *key,
    json_t *body, char **cause);
enum eng_status eng_audience_list(struct eng *e, const char *key,
    json_t *query, json_t **reply, char **cause);

/* PUT/GET /v1/users/{id}/preferences/{set}. */
enum eng_status eng_prefs_put(struct eng *e, const char *user,
    const char *set, json_t *body, int64_t now, json_t **reply, char **cause);
enum eng_status eng_prefs_get(struct eng *e, const char *user,
    const char *set, json_t **reply, char **cause);

/*
 * Recipients' lists, channel data, preference sets and merges
 * (engine/recipients.c).  collection NULL names a user.
 */
enum eng_status eng_users_list(struct eng *e, json_t *query, json_t **reply,
    char **cause);
enum eng_status eng_objects_list(struct eng *e, const char *collection,
    json_t *query, json_t **reply, char **cause);
enum eng_status eng_tenants_list(struct eng *e, json_t *query,
    json_t **reply, char **cause);
enum eng_status eng_channel_data_get(struct eng *e, const char *collection,
    const char *id, const char *channel, json_t **reply, char **cause);
enum eng_status eng_channel_data_put(struct eng *e, const char *collection,
    const char *id, const char *channel, json_t *body, int64_t now,
    json_t **reply, char **cause);
enum eng_status eng_channel_data_delete(struct eng *e,
    const char *collection, const char *id, const char *channel,
    char **cause);
enum eng_status eng_prefs_list(struct eng *e, const char *collection,
    const char *id, json_t **reply, char **cause);
enum eng_status eng_prefs_delete(struct eng *e, const char *collection,
    const char *id, const char *set, char **cause);
/* An object's set: GET with body NULL, else PUT. */
enum eng_status eng_object_prefs(struct eng *e, const char *collection,
    const char *id, const char *set, json_t *body, int64_t now,
    json_t **reply, char **cause);
/*
 * PUT .../preferences/{set}/{section}[/{key}] (key NULL: the section) of a
 * user (collection NULL) or an object.
 */
enum eng_status eng_prefs_put_key(struct eng *e, const char *collection,
    const char *id, const char *set, const char *section, const char *key,
    json_t *body, int64_t now, json_t **reply, char **cause);
enum eng_status eng_user_subs(struct eng *e, const char *id, json_t *query,
    json_t **reply, char **cause);
enum eng_status eng_object_messages(struct eng *e, const char *collection,
    const char *id, json_t *query, json_t **reply, char **cause);
enum eng_status eng_user_merge(struct eng *e, const char *id, json_t *body,
    int64_t now, json_t **reply, char **cause);

/* ---- triggers and runs (engine/run/, engine/messages/runs.c) ---- */

/* POST /v1/workflows/{key}/trigger: reply {"workflow_run_id": uuid}. */
enum eng_status eng_trigger(struct eng *e, const char *workflow,
    json_t *body, int64_t now, json_t **reply, char **cause);

/* POST /v1/workflows/{key}/cancel: synchronous and complete. */
enum eng_status eng_cancel(struct eng *e, const char *workflow,
    json_t *body, int64_t now, char **cause);

/* GET /v1/workflow_recipient_runs (query: workflow, status, recipient...). */
enum eng_status eng_runs_list(struct eng *e, json_t *query, json_t **reply,
    char **cause);
enum eng_status eng_run_get(struct eng *e, const char *id, json_t **reply,
    char **cause);

/* ---- messages and feeds (engine/messages/) ---- */

enum eng_status eng_feed_get(struct eng *e, const char *user,
    const char *channel, json_t *query, json_t **reply, char **cause);
/*
 * GET /v1/messages (rcpt NULL: every recipient's) or one recipient's
 * messages, filtered and paged by Knock's list parameters in query.
 */
enum eng_status eng_messages_list(struct eng *e, const char *rcpt,
    json_t *query, json_t **reply, char **cause);
enum eng_status eng_message_get(struct eng *e, const char *id,
    json_t **reply, char **cause);

/* GET /v1/messages/{id}/content: Knock's MessageContent. */
enum eng_status eng_message_content(struct eng *e, const char *id,
    json_t **reply, char **cause);

/* GET /v1/messages/batch/content?message_ids[]=...: MessageContents. */
enum eng_status eng_messages_batch_content(struct eng *e, json_t *query,
    json_t **reply, char **cause);

/* GET /v1/messages/{id}/activities: the trigger activities, paged. */
enum eng_status eng_message_activities(struct eng *e, const char *id,
    json_t *query, json_t **reply, char **cause);

/* GET /v1/messages/{id}/events: its MessageEvents, newest first, paged. */
enum eng_status eng_message_events(struct eng *e, const char *id,
    json_t *query, json_t **reply, char **cause);

/* A feed's counts, archived messages left out. */
struct eng_feed_counts {
	int64_t total, unread, unseen;
};

/*
 * The counts of rcpt's feed on channel, filtered by tenant (NULL: any)
 * and has_tenant as a page is.
 */
void eng_feed_counts(struct eng *e, const char *rcpt, const char *channel,
    const char *tenant, int has_tenant, struct eng_feed_counts *out);

/* Whether channel is one of configuration c's in-app feed channels. */
int eng_config_is_feed(const struct eng_config *c, const char *channel);

/*
 * PUT (set=1) or DELETE (set=0) /v1/messages/{id}/{status}, status one
 * of seen, unseen, read, unread, archived, unarchived, interacted (PUT
 * unread is DELETE read); owner (NULL: anyone) must be its recipient.
 * Interacted marks it read too.
 */
enum eng_status eng_message_mark(struct eng *e, const char *id,
    const char *status, int set, const char *owner, json_t *body,
    int64_t now, json_t **reply, char **cause);

/*
 * POST /v1/messages/batch/{status} {message_ids}: the messages updated
 * (those of owner's, when owner is not NULL).
 */
enum eng_status eng_messages_batch(struct eng *e, const char *status,
    json_t *body, const char *owner, int64_t now, json_t **reply,
    char **cause);

/*
 * POST /v1/channels/{channel}/messages/bulk/{status}: the feed messages
 * of body's user_ids (at most 100) that pass its filters
 * (engagement_status, archived, has_tenant, tenants, trigger_data) get
 * status; a BulkOperation (engine/bulk/), queued, one item per user.
 */
enum eng_status eng_feed_bulk(struct eng *e, const char *channel,
    const char *status, json_t *body, int64_t now, json_t **reply,
    char **cause);

/* ---- bulk operations (engine/bulk/) ---- */

/*
 * Start bulk operation name ("users.identify", "users.delete",
 * "users.set_preferences", "objects.set", "objects.delete",
 * "objects.add_subscriptions", "objects.delete_subscriptions",
 * "tenants.set", "tenants.delete", "schedules.create") over body's items (at most 1000);
 * arg is the collection of an objects.* operation, else NULL.  Reply the
 * BulkOperation, queued; its items run as due work (eng_run_due).
 */
enum eng_status eng_bulk_start(struct eng *e, const char *name,
    const char *arg, json_t *body, int64_t now, json_t **reply,
    char **cause);

/*
 * POST /v1/tenants/bulk/delete: tenants.delete over the query's
 * tenant_ids (as scheduler/route.c normalises them).
 */
enum eng_status eng_bulk_tenants_delete(struct eng *e, json_t *query,
    int64_t now, json_t **reply, char **cause);

/* GET /v1/bulk_operations/{id}: the BulkOperation and its progress. */
enum eng_status eng_bulk_get(struct eng *e, const char *id, json_t **reply,
    char **cause);

/* ---- schedules (engine/schedules/) ---- */

/*
 * POST /v1/schedules: one schedule per recipient (an object's schedule is
 * also materialised per subscriber); reply an array of Schedules.
 */
enum eng_status eng_schedules_create(struct eng *e, json_t *body,
    int64_t now, json_t **reply, char **cause);

/* PUT /v1/schedules {schedule_ids, ...fields}: the updated Schedules. */
enum eng_status eng_schedules_update(struct eng *e, json_t *body,
    int64_t now, json_t **reply, char **cause);

/* DELETE /v1/schedules {schedule_ids}: the deleted Schedules. */
enum eng_status eng_schedules_delete(struct eng *e, json_t *body,
    json_t **reply, char **cause);

/*
 * GET /v1/schedules (query: workflow, recipient, after, page_size) and the
 * per-recipient lists (collection NULL for a user).
 */
enum eng_status eng_schedules_list(struct eng *e, json_t *query,
    json_t **reply, char **cause);
enum eng_status eng_schedules_of(struct eng *e, const char *collection,
    const char *id, json_t *query, json_t **reply, char **cause);

/*
 * The next count fires after now of schedule id, per recipient (an
 * object's schedule: per subscriber): {"schedule_id", "recipients": [{
 * "recipient", "timezone", "fires": [...]}]}.
 */
/*
 * The workflows that stored schedules name, as {key: rows}, so that
 * reload and belfryctl check can warn of schedules whose workflow is gone.
 */
json_t *eng_schedules_workflows(struct eng *e);
enum eng_status eng_schedule_get(struct eng *e, const char *id,
    json_t **reply, char **cause);
enum eng_status eng_schedule_preview(struct eng *e, const char *id,
    int count, int64_t now, json_t **reply, char **cause);

/*
 * Bring config-defined schedules (the schedules/ files of the configuration in
 * force) into the store: add, change and remove them by id; API-defined
 * schedules are never touched.  Run inside a transaction.
 */
int eng_schedules_sync(struct eng *e, int64_t now, char **cause);

/* ---- sources (engine/sources.c) ---- */

/*
 * POST /sources/{key}/v1/{call} (call: batch, track, identify, group,
 * page, screen, alias): the events of body, each deduplicated by its
 * messageId, mapped as the source's file says, applied and logged, in
 * the caller's request.  Reply {"success": true}.  An event that cannot
 * be applied is logged as failed, never an error of the request; only a
 * store failure (ENG_INTERNAL), an unknown source or a batch without a
 * "batch" array is.
 */
enum eng_status eng_source_receive(struct eng *e, const char *key,
    const char *call, json_t *body, int64_t now, json_t **reply,
    char **cause);

/* Whether wk is one of the write keys of source key in c. */
int eng_source_authorized(const struct eng_config *c, const char *key,
    const char *wk);

/* GET /v1/sources: the sources in force with their counts by outcome. */
enum eng_status eng_sources_list(struct eng *e, json_t **reply,
    char **cause);

/* GET /v1/sources/{key}/events (query: after, page_size, outcome). */
enum eng_status eng_source_events(struct eng *e, const char *key,
    json_t *query, json_t **reply, char **cause);

/* Call f(arg, source, outcome, n) for every source's count of events. */
void eng_source_counts(struct eng *e,
    void (*f)(void *, const char *, const char *, int64_t), void *arg);

/* ---- idempotency (engine/lifecycle.c) ---- */

/* A stored reply for key within 24 h: 1 with *status and *body set, 0 if none. */
int eng_idem_get(struct eng *e, const char *key, int64_t now, int *status,
    char **body);
void eng_idem_put(struct eng *e, const char *key, int status,
    const char *body, int64_t now);

/* ---- due work and deliveries ---- */

/*
 * The earliest instant at which eng_run_due has work (waits, deliveries,
 * schedule fires), or INT64_MAX.
 */
int64_t eng_next_due(struct eng *e);

/*
 * Run the work due at or before now, at most about 1000 items of each kind
 * per call (the caller commits and calls again); returns how many ran.
 */
int eng_run_due(struct eng *e, int64_t now);

/*
 * A delivery the caller must perform: an HTTP request (url http:// or
 * https://) or an email (url "mailto:ADDRESS", body the whole message),
 * on the channel of that name in the configuration in force.
 */
struct eng_delivery {
	int64_t id;          /* the delivery's handle */
	char *channel;
	char *url;
	json_t *headers;     /* http: the rendered headers {name: value} */
	char *body;          /* rendered JSON, or the email's MIME text */
	char *message_id;    /* also the Idempotency-Key and webhook-id */
	int attempt;         /* 1 for the first try */
};

/*
 * Take up to max deliveries on channel due at now (marking them in
 * flight); fills out and returns the count.  Free each with
 * eng_delivery_free.
 */
size_t eng_delivery_take(struct eng *e, const char *channel, int64_t now,
    struct eng_delivery *out, size_t max);
void eng_delivery_free(struct eng_delivery *d);

/* What an attempt came to. */
enum eng_attempt_result {
	ENG_ATTEMPT_OK,      /* delivered (http) or accepted (email) */
	ENG_ATTEMPT_RETRY,   /* failed: try again later */
	ENG_ATTEMPT_FAILED   /* refused for good (an SMTP 5xx) */
};

/* A logged request body is kept up to this many bytes. */
#define ENG_LOG_BODY (16 * 1024)

/*
 * One attempt at a delivery, as the caller saw it: request and response
 * as the log keeps them, JSON text in Knock's delivery log shapes
 * ({method, url, host, path, query, headers, body} and {status, headers,
 * body}; request NULL for {}, response NULL when none came), the
 * request's body cut to ENG_LOG_BODY bytes at a character boundary with
 * "body_truncated": true; borrowed for the call.
 */
struct eng_attempt {
	int64_t id;          /* the delivery's handle */
	const char *channel; /* the delivery's channel */
	enum eng_attempt_result result;
	const char *error;   /* what failed, NULL when ok */
	int64_t at;          /* when it started */
	int64_t duration_us;
	const char *request, *response;
};

/* What a delivery came to after an attempt was recorded. */
enum eng_delivery_state {
	ENG_DELIVERY_DONE,       /* delivered or sent */
	ENG_DELIVERY_RETRYING,   /* due again at *next */
	ENG_DELIVERY_UNDELIVERED /* given up, or refused for good */
};

/*
 * Record an attempt (a delivery log) and its outcome: ok marks the
 * message delivered (an email sent); a retry is due again with
 * exponential backoff and jitter, up to 8 attempts, then the message is
 * undelivered; a refusal makes it undelivered at once.  *next (unless
 * NULL) gets when it is next due.
 */
enum eng_delivery_state eng_delivery_done(struct eng *e,
    const struct eng_attempt *a, int64_t now, int64_t *next);

/*
 * Give up the deliveries queued on channels the configuration in force
 * does not have (or no longer sends on): their messages are undelivered,
 * with the reason.  Run inside a transaction after eng_set_config.
 */
void eng_deliveries_sync(struct eng *e, int64_t now);

/*
 * GET /v1/messages/{id}/delivery_logs (after, page_size): the message's
 * attempts, newest first, as Knock's MessageDeliveryLog.
 */
enum eng_status eng_message_delivery_logs(struct eng *e, const char *id,
    json_t *query, json_t **reply, char **cause);

/*
 * GET /admin/deliveries (failed, after, page_size): every message's
 * attempts, newest first, each with its message_id.
 */
enum eng_status eng_deliveries_list(struct eng *e, json_t *query,
    json_t **reply, char **cause);

/* ---- webhook signatures (engine/messages/sign.c) ---- */

/*
 * Parse a Standard Webhooks secret, "whsec_" and the base64 of 24 to 64
 * bytes, into *key (the caller's to free) and *len; -1 with *cause.
 */
int eng_webhook_secret(const char *text, unsigned char **key, size_t *len,
    char **cause);

/*
 * The webhook-signature header of a delivery: "v1," and the base64 of
 * HMAC-SHA256(key, "ID.TS.BODY"); the caller frees it.
 */
char *eng_webhook_signature(const unsigned char *key, size_t keylen,
    const char *id, int64_t ts, const char *body, size_t bodylen);

/*
 * Take up to max due instants of the schedule fires made since the last
 * take (oldest first) into out; returns the count.  The caller measures
 * their lateness once its transaction has committed (a rollback forgets
 * them).  At most 65536 are kept between takes.
 */
size_t eng_fired_take(struct eng *e, int64_t *out, size_t max);

/*
 * A change to a feed: a new message (mark 0; tenant: its tenant or NULL)
 * or an engagement change of one of its messages (mark 1: its counts
 * moved), by recipient and channel.
 */
struct eng_push {
	char *rcpt;
	char *channel;
	char *tenant;
	int mark;
};

/*
 * Take the changes to feeds in committed work since the last take (one
 * entry per message or change, oldest first) into *out, to free with
 * eng_pushes_free; their count.  *all is set when there were too many to
 * list: then any feed may have changed in any way.
 */
size_t eng_pushes_take(struct eng *e, struct eng_push **out, int *all);
void eng_pushes_free(struct eng_push *p, size_t n);

/*
 * With a store other nodes share: the changes to feeds their commits
 * announced since the last call, as eng_pushes_take hands out this
 * node's own (to free with eng_pushes_free), with *due lowered to the
 * earliest work they made due; and the descriptor that becomes readable
 * when they announce (-1: none; it changes when the store reconnects).
 */
size_t eng_heard(struct eng *e, struct eng_push **out, int *all,
    int64_t *due);
int eng_listen_fd(struct eng *e);

/* Whether the store answers a cheap query (GET /healthz): 0, or -1. */
int eng_ping(struct eng *e, char **cause);

/* What the store holds (GET /admin/status, /metrics). */
struct eng_figures {
	int schema_version;      /* the database schema in use */
	int64_t bytes;           /* the database's size */
	int64_t schedules;       /* stored schedules */
	int64_t messages_created; /* messages made (the newest one's number) */
	const char *backend;     /* "sqlite" or "postgresql" */
	char node[64];           /* this node's name in leases, or "" */
	int64_t leases;          /* deliveries this node holds leased */
};
void eng_figures(struct eng *e, struct eng_figures *out);

/*
 * Counters by label (engine/counts.c): recipient runs by workflow
 * (channel ""), messages by workflow and channel, delivery outcomes by
 * channel (workflow "").  eng_counts calls f(arg, workflow, channel, n)
 * for each pair, n indexed by enum eng_count_kind.
 */
enum eng_count_kind { ENG_COUNT_RUNS, ENG_COUNT_MESSAGES,
	ENG_COUNT_DELIVERED, ENG_COUNT_UNDELIVERED, ENG_COUNT_RETRIED,
	ENG_COUNT_KINDS };
void eng_counts(struct eng *e, void (*f)(void *, const char *, const char *,
    const uint64_t *), void *arg);

/* Counters for /metrics. */
struct eng_stats {
	uint64_t triggers, runs, messages, errors, deliveries_failed;
	uint64_t queue_depth;
	uint64_t fires, fires_skipped, fires_failed;
	/* Deleted by retention (eng_retain), by kind. */
	uint64_t retained_messages, retained_deliveries, retained_attempts;
	uint64_t retained_runs, retained_rruns;
};
void eng_stats(struct eng *e, struct eng_stats *s);

#endif
