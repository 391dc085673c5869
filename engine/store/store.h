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
 * alone.  Requests nest (a schedule's fire inside the due pass) and
 * open only inside a transaction.
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
typedef void store_close_fn(struct store *s);

/* The store's random key of the public id derivation (ids.c). */
typedef void store_idkey_fn(const struct store *s, uint64_t key[4]);

/* How many operations have failed since the open. */
typedef uint64_t store_errors_fn(const struct store *s);

/* ---- transactions ---- */

/* Start the group transaction; -1 with *cause. */
typedef int store_begin_fn(struct store *s, char **cause);

/* Commit it durably; -1 with *cause (then it is rolled back). */
typedef int store_commit_fn(struct store *s, char **cause);

/*
 * Commit it without waiting where the backend can: 1 when the commit is
 * sent and its outcome is to be read with store_commit_poll (the next
 * transaction may begin meanwhile: PostgreSQL runs it on a second
 * connection), 0 when it committed, -1 with *cause (rolled back).  At
 * most one commit is pending: the owner reads its outcome before it
 * sends the next.  SQLite: store_commit.
 */
typedef int store_commit_send_fn(struct store *s, char **cause);

/*
 * The outcome of the pending commit, waiting for it if wait: 1 while it
 * is not known (only when !wait), 0 committed, -1 with *cause (rolled
 * back; store_txn_retry then says whether the same work may commit if
 * it runs again).  Without a pending commit: 0.  Called outside any
 * transaction or at one's commit, never inside a request.
 */
typedef int store_commit_poll_fn(struct store *s, int wait, char **cause);

/*
 * The descriptor that turns readable as the pending commit's outcome
 * arrives, or -1 when none is pending.
 */
typedef int store_commit_fd_fn(const struct store *s);

/* Abandon it. */
typedef void store_rollback_fn(struct store *s);

/*
 * The most requests one group transaction should hold: SQLite has no
 * bound (SIZE_MAX); PostgreSQL keeps a transaction's savepoints in its
 * shared subtransaction cache only up to 64, and degrades for every
 * session past that, so it asks for fewer.
 */
typedef size_t store_group_max_fn(const struct store *s);

/*
 * Whether other processes add work to this store (PostgreSQL: other
 * nodes), so that its owner must look for due work now and then even
 * when it knows of none.
 */
typedef int store_shared_fn(const struct store *s);

/* Whether a transaction is open. */
typedef int store_in_txn_fn(const struct store *s);

/* Open a request inside the transaction (requests nest). */
typedef void store_request_begin_fn(struct store *s);

/*
 * Close the innermost request, keeping its work if ok and none of its
 * operations failed; 1 when it was kept, 0 when it was rolled back.
 */
typedef int store_request_end_fn(struct store *s, int ok);

/*
 * Whether the request that last ended rolled back for a reason that
 * running it again may cure: PostgreSQL chose it as a deadlock's victim
 * or could not serialize it (another node wrote the same rows at once).
 * SQLite: never.
 */
typedef int store_request_retry_fn(const struct store *s);

/*
 * Whether the transaction whose commit failed last may commit if the
 * same work runs again: PostgreSQL pipelines a transaction's requests
 * without waiting for each one's results, so one failing statement
 * aborts them all; run again, each request waits for its own, and only
 * the failing one is rolled back (the rerun is never optimistic).
 * SQLite: never.
 */
typedef int store_txn_retry_fn(const struct store *s);

/*
 * Whether the store may run transactions optimistically from now on
 * (on: the owner runs a transaction again when store_txn_retry says so);
 * off, the default, every request's failure is known at its end.
 * SQLite: its requests never wait, nothing changes.
 */
typedef void store_optimistic_fn(struct store *s, int on);

/* ---- maintenance ---- */

/*
 * How pressing the store's deferred maintenance is: none; due (run it
 * when nothing else is waiting); urgent (run it even with requests
 * waiting).  The owner runs it between bursts with store_maintain.
 */
enum store_maint {
	STORE_MAINT_NONE, STORE_MAINT_DUE, STORE_MAINT_URGENT
};
typedef enum store_maint store_maint_due_fn(const struct store *s);

/* Run the deferred maintenance now, outside a transaction; -1 with *cause. */
typedef int store_maintain_fn(struct store *s, char **cause);

/* A gauge of the backend's own, for /metrics. */
struct store_gauge {
	const char *name, *help;
	uint64_t value;
};

/* Fill out with up to max of the backend's gauges; their count. */
typedef size_t store_gauges_fn(const struct store *s, struct store_gauge *out,
    size_t max);

/* Whether the store answers a cheap query now: 0, or -1 with *cause. */
typedef int store_ping_fn(struct store *s, char **cause);

/* What the store holds, for status pages and metrics. */
struct store_figures {
	int schema_version;      /* the schema in use */
	int64_t bytes;           /* the database's size */
	int64_t schedules;       /* stored schedules */
	int64_t messages_created; /* the newest message's number */
	const char *backend;     /* "sqlite" or "postgresql" */
	char node[64];           /* this node's name in leases, or "" */
	int64_t leases;          /* deliveries this node holds leased */
};

/* Fill out, without reading every message (a count of them would). */
typedef void store_figures_fn(struct store *s, struct store_figures *out);

/*
 * Delete what no longer matters, at most max rows of each kind: replies
 * made before idem_before, throttle hits expired at now, and cancel
 * tombstones that no pending fan-out can meet; 0 or -1.
 */
typedef int store_sweep_fn(struct store *s, int64_t now, int64_t idem_before,
    int max);

/* ---- announcements between nodes ---- */

/*
 * A change to a feed (a new message, mark 0, or an engagement change,
 * mark 1) by recipient and channel, as nodes tell each other.
 */
struct store_note {
	const char *rcpt, *channel;
	const char *tenant;      /* a new message's tenant, or NULL */
	int mark;
};

/*
 * Tell the other nodes sharing the store, once the open transaction
 * commits, of n changes to feeds (all: too many to list, any feed may
 * have changed) and of the earliest work the transaction made due; 0 or
 * -1.  SQLite: nobody to tell.
 */
typedef int store_announce_fn(struct store *s, const struct store_note *n,
    size_t count, int all);

/*
 * The descriptor that becomes readable when other nodes announce
 * something, or -1 (none: SQLite, or not connected).  It changes when the
 * store connects again.
 */
typedef int store_listen_fd_fn(struct store *s);

/*
 * Read what other nodes announced since the last call: f(arg, note) for
 * each change to a feed (note NULL: any feed may have changed), and *due
 * lowered to the earliest work announced due; their count.
 */
typedef size_t store_heard_fn(struct store *s,
    void (*f)(void *, const struct store_note *), void *arg, int64_t *due);

/* ---- idempotency (engine/store/sqlite_idempotency.c) ---- */

/* The reply stored under key: 1 with *status, *body and *created, or 0. */
typedef int store_idem_get_fn(struct store *s, const char *key, int *status,
    char **body, int64_t *created);

/* Store (or replace) the reply under key, made at now; 0 or -1. */
typedef int store_idem_put_fn(struct store *s, const char *key, int status,
    const char *body, int64_t now);

/* ---- outgoing deliveries (engine/store/sqlite_deliveries.c) ---- */

/* A delivery taken to be performed (cleared with store_delivery_clear). */
struct store_delivery {
	int64_t msg;             /* the message's key */
	char *url, *body;
	json_t *headers;         /* NULL when none */
	int attempt;             /* 1 for the first */
};
void store_delivery_clear(struct store_delivery *d);

/*
 * Queue message msg's delivery on channel of body to url with headers
 * (may be NULL), due at due; 0 or -1.
 */
typedef int store_delivery_add_fn(struct store *s, int64_t msg, int64_t due,
    const char *channel, const char *url, json_t *headers, const char *body);

/*
 * Take up to max deliveries on channel due at now, earliest first, into
 * out: each is in flight (no other take returns it) until it is dropped
 * or retried, or the store is opened again.  Their count.
 */
typedef size_t store_deliveries_take_fn(struct store *s, const char *channel,
    int64_t now, size_t max, struct store_delivery *out);

/* The attempts made at message msg's delivery, or -1 if it has none. */
typedef int store_delivery_attempts_fn(struct store *s, int64_t msg);

/* Forget message msg's delivery (done, or given up); 0 or -1. */
typedef int store_delivery_drop_fn(struct store *s, int64_t msg);

/* Make message msg's delivery due again at due, noting err; 0 or -1. */
typedef int store_delivery_retry_fn(struct store *s, int64_t msg, int64_t due,
    const char *err);

/* When the earliest delivery not in flight is due, or INT64_MAX. */
typedef int64_t store_delivery_next_fn(struct store *s);

/* The channels that have deliveries queued: a new array of names. */
typedef json_t *store_delivery_channels_fn(struct store *s);

/*
 * Whether message msg has a delivery queued: 1 with *due (when it is next
 * due) and *inflight, or 0.
 */
typedef int store_delivery_get_fn(struct store *s, int64_t msg, int64_t *due,
    int *inflight);

/* ---- delivery attempts (engine/store/sqlite_attempts.c) ---- */

/* One recorded attempt at a delivery (cleared with store_attempt_clear). */
struct store_attempt {
	int64_t id;              /* given by store_attempt_add */
	int64_t msg;             /* the message's key */
	int attempt;             /* 1 for the first */
	char *channel;
	int64_t at, duration_us;
	int result;              /* 0 ok, 1 to be retried, 2 refused */
	json_t *request;         /* as read back */
	json_t *response;        /* NULL when none came */
	char *error;             /* NULL when ok */
	/* For store_attempt_add: request and response as JSON text. */
	const char *request_text, *response_text;
};
void store_attempt_clear(struct store_attempt *a);

/* Record attempt a (its id is given); 0 or -1. */
typedef int store_attempt_add_fn(struct store *s,
    const struct store_attempt *a);

/*
 * Up to max attempts with ids below before (INT64_MAX: from the newest),
 * newest first, into out: message msg's, or every message's when msg is
 * STORE_NONE; only the failed ones if failed.  Their count.
 */
typedef size_t store_attempts_page_fn(struct store *s, int64_t msg, int failed,
    int64_t before, size_t max, struct store_attempt *out);

/*
 * How many attempts message msg has had, and the error of its newest
 * failed one into *last_error (NULL when none; the caller frees it).
 */
typedef int store_attempts_summary_fn(struct store *s, int64_t msg,
    char **last_error);

/* ---- workflow runs and recipient runs (engine/store/sqlite_runs.c) ---- */

/*
 * A workflow run.  Written: the strings and values are the caller's,
 * borrowed.  Read: they are held by the struct (owned), freed with
 * store_run_clear.
 */
struct store_run {
	const char *workflow, *actor, *tenant, *ckey, *source;
	json_t *data, *settings;   /* settings: NULL for none */
	int64_t inserted;
	int64_t sched, fire_at;    /* the schedule fire, or STORE_NONE */
	int64_t next_idx;          /* read: the fan-out's next index */
	char *owned;
};
void store_run_clear(struct store_run *r);

/* Append workflow run r; its new key (keys increase), or -1. */
typedef int64_t store_run_add_fn(struct store *s, const struct store_run *r);

/* Workflow run seq into *r: 1, or 0 if there is none. */
typedef int store_run_get_fn(struct store *s, int64_t seq,
    struct store_run *r);

/* The keys of workflow's runs with cancellation key ck (oldest first). */
typedef size_t store_runs_by_ckey_fn(struct store *s, const char *workflow,
    const char *ck, int64_t **out);

/* Set the index that run seq's next recipient run gets; 0 or -1. */
typedef int store_run_set_next_fn(struct store *s, int64_t seq, int64_t idx);

/*
 * A recipient run, keyed by (run, idx).  Written: events_text and
 * events_len give its events (a JSON array's text), the rest is the
 * caller's, borrowed.  Read: events is parsed, and everything is held by
 * the struct (store_rrun_clear frees it).  wait_at and batch are 0 when
 * the run waits for no delay and is in no batch.
 */
struct store_rrun {
	int64_t run, idx;
	const char *rcpt, *status;
	const char *events_text;
	size_t events_len;
	json_t *events;
	int64_t pc;
	json_t *tdata, *sub;       /* NULL for none */
	int64_t wait_at, batch;
	int errors;
	int64_t inserted, updated;
	char *owned;
};
void store_rrun_clear(struct store_rrun *rr);

/* Add recipient run rr at now; 0 or -1. */
typedef int store_rrun_add_fn(struct store *s, const struct store_rrun *rr,
    int64_t now);

/* Write rr's status, events, pc, wait_at and batch at now; 0 or -1. */
typedef int store_rrun_update_fn(struct store *s, const struct store_rrun *rr,
    int64_t now);

/* Recipient run (run, idx) into *rr: 1, or 0 if there is none. */
typedef int store_rrun_get_fn(struct store *s, int64_t run, int64_t idx,
    struct store_rrun *rr);

/* A recipient run of a run that may still be cancelled. */
struct store_pending {
	int64_t idx;
	char *rcpt;
};
void store_pending_free(struct store_pending *p, size_t n);

/* Run seq's recipient runs that are paused or batched, into *out. */
typedef size_t store_rruns_pending_fn(struct store *s, int64_t seq,
    struct store_pending **out);

/*
 * Which recipient runs a list shows (NULL and STORE_NONE: any): keys
 * below the cursor (run, idx), or above it when backward.
 */
struct store_rrun_filter {
	int64_t cur_run, cur_idx;
	int backward;
	const char *workflow, *rcpt, *tenant;
	json_t *statuses;                /* an array of statuses, or NULL */
	int64_t has_errors;              /* 0, 1, or STORE_NONE */
	int64_t start, end;              /* inserted_at bounds (inclusive) */
	int64_t sched;                   /* a schedule's fires, or STORE_NONE */
};

/* A listed recipient run with its workflow run's fields (not data). */
struct store_rrun_row {
	struct store_rrun rr;            /* holds both: store_rrun_clear */
	struct store_run run;
};

/* Up to max recipient runs matching f, newest first, into out. */
typedef size_t store_rruns_list_fn(struct store *s,
    const struct store_rrun_filter *f, size_t max, struct store_rrun_row *out);

/* ---- fan-out and cancels (engine/store/sqlite_runs.c) ---- */

/* A queued fan-out job: an object whose subscribers remain to reach. */
struct store_fanout {
	int64_t job;
	char *obj;                       /* "collection/id" */
	int level;
	char *after;                     /* the last subscriber key reached */
	json_t *tdata;
};
void store_fanout_clear(struct store_fanout *f);

/* Queue object obj's subscribers (at level) for run seq; 0 or -1. */
typedef int store_fanout_push_fn(struct store *s, int64_t seq, const char *obj,
    int level, json_t *tdata);

/* Run seq's first job into *out (unless NULL): 1, or 0 when none remain. */
typedef int store_fanout_head_fn(struct store *s, int64_t seq,
    struct store_fanout *out);

/* Note that a job reached subscriber key after; 0 or -1. */
typedef int store_fanout_advance_fn(struct store *s, int64_t seq, int64_t job,
    const char *after);

/* Remove a finished job; 0 or -1. */
typedef int store_fanout_pop_fn(struct store *s, int64_t seq, int64_t job);

/* End run seq's fan-out: its jobs and whom it reached go; 0 or -1. */
typedef int store_fanout_end_fn(struct store *s, int64_t seq);

/* Run seq reaches rcpt: 1 the first time, 0 when it did before, or -1. */
typedef int store_fanout_reached_fn(struct store *s, int64_t seq,
    const char *rcpt);

/*
 * A cancel tombstone: workflow's key ck, covering its runs up to upto,
 * for the recipient keys of rcpts (an object of keys; NULL: all).
 */
typedef int store_cancel_add_fn(struct store *s, const char *workflow,
    const char *ck, int64_t upto, json_t *rcpts);

/* The tombstones covering run seq: an array of their sets (null: all). */
typedef json_t *store_cancels_fn(struct store *s, const char *workflow,
    const char *ck, int64_t seq);

/* ---- the step machine's state (engine/store/sqlite_steps.c) ---- */

/* A wait: work of kind on (a, b) due at due. */
struct store_wait {
	int64_t due;
	int kind;
	int64_t a, b;
};

/* Add a wait (one already there stays one); 0 or -1. */
typedef int store_wait_put_fn(struct store *s, const struct store_wait *w);

/* Remove a wait (none there: nothing happens); 0 or -1. */
typedef int store_wait_del_fn(struct store *s, const struct store_wait *w);

/* Up to max waits due at or before now, earliest first, into out. */
typedef size_t store_waits_due_fn(struct store *s, int64_t now, size_t max,
    struct store_wait *out);

/* When the earliest wait is due, or INT64_MAX. */
typedef int64_t store_wait_next_fn(struct store *s);

/* A batch: its carrier (a recipient run at step pc) and its window. */
struct store_batch {
	int64_t id;
	int open;                        /* still takes activities */
	int64_t run, idx, pc;
	int64_t closes, hard;            /* hard: the latest it may close */
};

/* The open batch of key bkey into *b (id, closes, hard): 1, or 0. */
typedef int store_batch_find_fn(struct store *s, const char *bkey,
    struct store_batch *b);

/* Open a batch of key bkey as *b describes, at now; its id, or -1. */
typedef int64_t store_batch_open_fn(struct store *s, const char *bkey,
    const struct store_batch *b, int64_t now);

/* Batch id into *b (all but hard): 1, or 0 if there is none. */
typedef int store_batch_get_fn(struct store *s, int64_t id,
    struct store_batch *b);

/* Set batch id's close and its carrier; 0 or -1. */
typedef int store_batch_set_fn(struct store *s, int64_t id, int64_t closes,
    int64_t run, int64_t idx);

/* Close batch id to new activities; 0 or -1. */
typedef int store_batch_close_fn(struct store *s, int64_t id);

/* Delete batch id and its activities; 0 or -1. */
typedef int store_batch_drop_fn(struct store *s, int64_t id);

/* An activity of a batch (read: held by the struct, store_item_clear). */
struct store_item {
	int64_t run, idx;
	const char *actor;               /* recipient key or NULL */
	json_t *data;
	int64_t inserted;
	char *owned;
};
void store_item_clear(struct store_item *it);

/* Add an activity to batch id; 0 or -1. */
typedef int store_batch_add_fn(struct store *s, int64_t id,
    const struct store_item *it);

/*
 * Up to max of batch id's activities, in arrival order, into *out (an
 * array from malloc, each item to clear); their count.
 */
typedef size_t store_batch_items_fn(struct store *s, int64_t id, size_t max,
    struct store_item **out);

/* How many activities batch id holds. */
typedef int64_t store_batch_count_fn(struct store *s, int64_t id);

/* Take recipient run (run, idx)'s activity out of batch id; 0 or -1. */
typedef int store_batch_remove_fn(struct store *s, int64_t id, int64_t run,
    int64_t idx);

/* How many hits throttle key has after since (older ones are forgotten). */
typedef int64_t store_throttle_count_fn(struct store *s, const char *key,
    int64_t since);

/* A hit on throttle key at `at` by (run, idx), counted until expires. */
typedef int store_throttle_hit_fn(struct store *s, const char *key, int64_t at,
    int64_t run, int64_t idx, int64_t expires);

/* ---- schedules (engine/store/sqlite_schedules.c) ---- */

/*
 * A schedule row: one recipient's (or a per-subscriber template's, which
 * never fires, or one of its children, which name it as parent).  Strings
 * are malloc'd and owned (NULL for none), freed with store_sched_clear;
 * integers are STORE_NONE when unset.
 */
struct store_sched {
	int64_t seq, parent;
	char *workflow, *rcpt, *actor, *tenant, *data, *repeats, *rule;
	char *exdates, *dtstart, *timezone, *gap, *overlap, *source;
	char *config_id, *def;
	int64_t start_at, catchup, ending_at, next, last, skipped;
	int64_t last_skipped, inserted, updated;
	int paused, per_sub;
	char *skip_reason, *last_error;
};
void store_sched_clear(struct store_sched *sc);

/* Row seq into *sc: 1, or 0 if there is none. */
typedef int store_sched_get_fn(struct store *s, int64_t seq,
    struct store_sched *sc);

/*
 * Insert sc (seq 0: it gets a key never given before) or update its
 * definition and its next fire (not its fire history); 0 or -1.
 */
typedef int store_sched_save_fn(struct store *s, struct store_sched *sc);

/* Delete row seq and its children; 0 or -1. */
typedef int store_sched_delete_fn(struct store *s, int64_t seq);

/* Delete template parent's children, or its child for rcpt; 0 or -1. */
typedef int store_sched_delete_children_fn(struct store *s, int64_t parent);
typedef int store_sched_delete_child_fn(struct store *s, int64_t parent,
    const char *rcpt);

/* Delete rcpt's rows that no config file defines, and their children. */
typedef int store_sched_delete_rcpt_fn(struct store *s, const char *rcpt);

/* Delete the rows of config schedule config_id; 0 or -1. */
typedef int store_sched_delete_config_fn(struct store *s,
    const char *config_id);

/* The earliest next fire of any row, or INT64_MAX. */
typedef int64_t store_sched_next_fn(struct store *s);

/* Up to max rows due at or before now, earliest first, into out. */
typedef size_t store_sched_due_fn(struct store *s, int64_t now, size_t max,
    struct store_sched *out);

/* What handling a row's due occurrences did. */
struct store_fire {
	int64_t next;            /* the next fire, or STORE_NONE */
	int64_t fired;           /* the occurrence fired, or STORE_NONE */
	int64_t skipped;         /* occurrences skipped (added to the count) */
	int64_t last_skipped;    /* the latest skipped, or STORE_NONE */
	const char *reason;      /* why they were skipped, or NULL */
	const char *error;       /* why the fire failed, or NULL */
};

/*
 * Record f on row seq: its next fire; its last fire unless none fired;
 * its skips; its error (set when the fire failed, cleared when one
 * succeeded); 0 or -1.
 */
typedef int store_sched_fired_fn(struct store *s, int64_t seq,
    const struct store_fire *f);

/* Which rows a list shows (NULL and STORE_NONE: any). */
struct store_sched_filter {
	const char *workflow, *rcpt;
	int64_t parent;          /* a template's children */
	int64_t after;           /* keys above it (backward: below) */
	int backward;
	int top;                 /* only rows that are no template's child */
	json_t *rcpts;           /* an array of recipient keys (any of them) */
	const char *tenant;
};

/* Up to max rows matching f, by key, into out; their count. */
typedef size_t store_sched_list_fn(struct store *s,
    const struct store_sched_filter *f, size_t max, struct store_sched *out);

/* The workflows the rows name, with their row counts: {key: rows}. */
typedef json_t *store_sched_workflows_fn(struct store *s);

/* The config schedules stored, with their definitions: {id: text}. */
typedef json_t *store_sched_configs_fn(struct store *s);

/* Config schedule config_id's top-level rows: {rcpt: seq}. */
typedef json_t *store_sched_config_rows_fn(struct store *s,
    const char *config_id);

/* ---- messages and feeds (engine/store/sqlite_messages.c) ---- */

/*
 * A message.  Written: the caller's strings and values, borrowed (seq,
 * the engagement times, workflow, actor and data are not read).  Read:
 * held by the struct, freed with store_message_clear; the workflow run's
 * workflow, actor and data come with it.  Engagement times are
 * STORE_NONE when unset.
 */
struct store_message {
	int64_t seq, run, idx;
	const char *step_ref, *channel, *rcpt, *tenant, *status;
	json_t *body;
	int64_t seen, read, archived, interacted;
	int64_t inserted, updated;
	const char *workflow, *actor;
	json_t *data;
	json_t *metadata;        /* kept by interacted, or NULL */
	char *owned;
};
void store_message_clear(struct store_message *m);

/*
 * Append message m (inserted at m->inserted) to its recipient's feed on
 * its channel; its key (keys increase), or -1.
 */
typedef int64_t store_message_add_fn(struct store *s,
    const struct store_message *m);

/* Message seq into *m: 1, or 0 if there is none. */
typedef int store_message_get_fn(struct store *s, int64_t seq,
    struct store_message *m);

/*
 * Set (at now) or clear message seq's engagement what ("seen", "read",
 * "archived" or "interacted"): 1, 0 if there is no such message, or -1.
 */
typedef int store_message_mark_fn(struct store *s, int64_t seq,
    const char *what, int set, int64_t now);

/* Set message seq's delivery status at now; 0 or -1. */
typedef int store_message_status_fn(struct store *s, int64_t seq,
    const char *status, int64_t now);

/* Which messages of a feed a page shows. */
enum store_feed_archived {
	STORE_ARCHIVED_INCLUDE, STORE_ARCHIVED_EXCLUDE, STORE_ARCHIVED_ONLY
};
enum store_feed_status {
	STORE_STATUS_ALL, STORE_STATUS_UNREAD, STORE_STATUS_READ,
	STORE_STATUS_UNSEEN, STORE_STATUS_SEEN
};
struct store_feed_filter {
	int64_t before;          /* keys below it (INT64_MAX: all) */
	int64_t above;           /* keys above it (0: all) */
	int up;                  /* oldest first (store_messages_page) */
	json_t *tenants;         /* one of these tenants (strings), or NULL */
	int has_tenant;          /* only messages with a tenant */
	const char *channel;     /* that channel's messages only, or NULL */
	int64_t run;             /* that workflow run's only, or 0 */
	json_t *seqs;            /* one of these keys (integers), or NULL */
	enum store_feed_archived archived;
	enum store_feed_status status;
};

/*
 * Up to max of rcpt's messages on channel (NULL: on every channel) that
 * pass f, newest first, into out; their count.
 */
typedef size_t store_feed_page_fn(struct store *s, const char *rcpt,
    const char *channel, const struct store_feed_filter *f, size_t max,
    struct store_message *out);

/*
 * Up to max messages of every recipient that pass f, newest first (with
 * f->up oldest first), into out; their count.  Index-backed: by key, by
 * f->run through the run's index, or by f->seqs.
 */
typedef size_t store_messages_page_fn(struct store *s,
    const struct store_feed_filter *f, size_t max, struct store_message *out);

/* Keep metadata (NULL: none) on message seq; 0 or -1. */
typedef int store_message_metadata_fn(struct store *s, int64_t seq,
    json_t *metadata);

/* A recorded message event (type "message.read", ...), read back. */
struct store_message_event {
	int64_t id, at;
	char *type;
	json_t *data;            /* or NULL */
};

/* Record event type (with data, or NULL) of message seq at now; 0 or -1. */
typedef int store_message_event_add_fn(struct store *s, int64_t seq,
    const char *type, json_t *data, int64_t now);

/*
 * The recorded events of message seq, oldest first, into *out (free with
 * store_message_events_free); their count.
 */
typedef size_t store_message_events_fn(struct store *s, int64_t seq,
    struct store_message_event **out);
void store_message_events_free(struct store_message_event *ev, size_t n);

/* A feed's counts, archived messages left out. */
struct store_feed_counts {
	int64_t total, unread, unseen;
};

/* The counts of rcpt's feed on channel, tenant filtered as in a page. */
typedef void store_feed_count_fn(struct store *s, const char *rcpt,
    const char *channel, const char *tenant, int has_tenant,
    struct store_feed_counts *out);

/* ---- recipients (engine/store/sqlite_recipients.c) ---- */

/* When a stored record was created and last updated. */
struct store_times {
	int64_t created, updated;
};

/*
 * A user's (collection NULL) or an object's properties, or NULL when it
 * is unknown; *t (unless NULL) gets its times.
 */
typedef json_t *store_recipient_get_fn(struct store *s, const char *collection,
    const char *id, struct store_times *t);

/*
 * Read the n users ids ahead, in one statement, for the transaction's
 * later store_recipient_get calls (which a store may answer from what it
 * read here, until a write of recipients), and the keys of about runs
 * runs the transaction is about to make (PostgreSQL: its blocks of keys
 * sized to them); a hint: SQLite does nothing.
 */
typedef void store_users_prefetch_fn(struct store *s, const char *const *ids,
    size_t n, size_t runs);

/* Store a user's or an object's properties at now; 0 or -1. */
typedef int store_recipient_put_fn(struct store *s, const char *collection,
    const char *id, json_t *props, int64_t now);

/* Delete a user or an object: 1, 0 if there was none, or -1. */
typedef int store_recipient_delete_fn(struct store *s, const char *collection,
    const char *id);

/* A tenant's properties, or NULL; *t (unless NULL) gets its times. */
typedef json_t *store_tenant_get_fn(struct store *s, const char *id,
    struct store_times *t);
typedef int store_tenant_put_fn(struct store *s, const char *id, json_t *props,
    int64_t now);


/* Create tenant id with no properties unless it exists; 0 or -1. */
typedef int store_tenant_stub_fn(struct store *s, const char *id, int64_t now);

/* A subscription to an object: its subscriber's recipient key and more. */
struct store_sub {
	char *rcpt;
	json_t *props;           /* NULL for null */
	int64_t inserted, updated;
};
void store_sub_clear(struct store_sub *sub);

/* Subscribe rcpt to object coll/obj with props (may be NULL); 0 or -1. */
typedef int store_sub_put_fn(struct store *s, const char *coll,
    const char *obj, const char *rcpt, json_t *props, int64_t now);
typedef int store_sub_delete_fn(struct store *s, const char *coll,
    const char *obj, const char *rcpt);

/* rcpt's subscription to coll/obj into *out (its rcpt unset): 1, or 0. */
typedef int store_sub_get_fn(struct store *s, const char *coll,
    const char *obj, const char *rcpt, struct store_sub *out);

/*
 * Up to max subscriptions to coll/obj whose recipient keys sort after
 * `after` ("" for the first page), in that order, into out; their count.
 */
typedef size_t store_subs_page_fn(struct store *s, const char *coll,
    const char *obj, const char *after, size_t max, struct store_sub *out);

/* rcpt's preference set called set, or NULL. */
typedef json_t *store_prefs_get_fn(struct store *s, const char *rcpt,
    const char *set);
typedef int store_prefs_put_fn(struct store *s, const char *rcpt,
    const char *set, json_t *body, int64_t now);

/* Whether any recipient preference set is stored. */
typedef int store_prefs_exist_fn(struct store *s);

/* Delete tenant id: 1, 0 if there was none, or -1. */
typedef int store_tenant_delete_fn(struct store *s, const char *id);

/* Which recipients a page lists. */
enum store_rcpt_kind { STORE_RCPT_USERS, STORE_RCPT_OBJECTS,
	STORE_RCPT_TENANTS };
struct store_rcpt_filter {
	enum store_rcpt_kind kind;
	const char *collection;  /* objects: their collection */
	const char *after;       /* ids above (NULL: from the first) */
	const char *before;      /* or ids below, nearest first */
	const char *id, *name;   /* tenants: only this id / name (or NULL) */
};
/* A listed recipient, freed with store_rcpt_row_clear. */
struct store_rcpt_row {
	char *id;
	json_t *props;
	struct store_times t;
};
void store_rcpt_row_clear(struct store_rcpt_row *row);

/* Set a user's, an object's or a tenant's creation time; 0 or -1. */
typedef int store_recipient_created_fn(struct store *s,
    enum store_rcpt_kind kind, const char *collection, const char *id,
    int64_t at);

/*
 * Up to max recipients matching f, in id order (a before page: the ones
 * just below it), into out; their count.
 */
typedef size_t store_recipients_page_fn(struct store *s,
    const struct store_rcpt_filter *f, size_t max, struct store_rcpt_row *out);

/*
 * Up to max of rcpt's own subscriptions, with the objects' keys in
 * out[].rcpt, sorting after `after` ("" first), in that order; the count.
 */
typedef size_t store_subs_of_fn(struct store *s, const char *rcpt,
    const char *after, size_t max, struct store_sub *out);

/* rcpt's channel data on channel (*updated: its time), or NULL. */
typedef json_t *store_channel_data_get_fn(struct store *s, const char *rcpt,
    const char *channel, int64_t *updated);
typedef int store_channel_data_put_fn(struct store *s, const char *rcpt,
    const char *channel, json_t *data, int64_t now);
/* Delete rcpt's channel data on channel: 1, 0 if there was none, or -1. */
typedef int store_channel_data_delete_fn(struct store *s, const char *rcpt,
    const char *channel);

/* rcpt's preference sets: a new object of set id -> body. */
typedef json_t *store_prefs_list_fn(struct store *s, const char *rcpt);
/* Delete rcpt's preference set: 1, 0 if there was none, or -1. */
typedef int store_prefs_delete_fn(struct store *s, const char *rcpt,
    const char *set);

/*
 * A user merge: channel data, preference sets and subscriptions of
 * recipient from that into lacks become into's; from's go.  0 or -1.
 */
typedef int store_recipient_merge_fn(struct store *s, const char *from,
    const char *into);

/* ---- audiences (engine/store/sqlite_audiences.c) ---- */

/* A member of an audience: a user, in a tenant or not (NULL). */
struct store_member {
	char *user, *tenant;
	int64_t added;
};
void store_member_clear(struct store_member *m);

/* Add user (in tenant, or NULL) to audience at now unless it is; 0/-1. */
typedef int store_audience_add_fn(struct store *s, const char *audience,
    const char *user, const char *tenant, int64_t now);

/* Remove user (in tenant, or NULL) from audience; 0 or -1. */
typedef int store_audience_remove_fn(struct store *s, const char *audience,
    const char *user, const char *tenant);

/* Remove user from every audience (the user is deleted); 0 or -1. */
typedef int store_audience_remove_user_fn(struct store *s, const char *user);

/*
 * Whether user is a member of audience without a tenant or in tenant
 * (NULL: only a member without one): 1 or 0.
 */
typedef int store_audience_has_fn(struct store *s, const char *audience,
    const char *user, const char *tenant);

/* Whether audience has any member: 1 or 0. */
typedef int store_audience_exists_fn(struct store *s, const char *audience);

/*
 * Up to max members of audience whose (user, tenant or "") sort after
 * (user, tenant) -- ("", "") for the first page -- or, when backward,
 * before it, nearest first, into out; their count.
 */
typedef size_t store_audience_page_fn(struct store *s, const char *audience,
    const char *user, const char *tenant, int backward, size_t max,
    struct store_member *out);

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
typedef int store_source_seen_fn(struct store *s, const char *source,
    const char *msgid, int64_t since);

/* Append ev to the log; 0 or -1. */
typedef int store_source_event_add_fn(struct store *s,
    const struct store_source_event *ev);

/*
 * Up to max of source's logged events with keys below cur (backward: the
 * ones just above it), newest first, of outcome (NULL: any), into out;
 * their count.
 */
typedef size_t store_source_events_page_fn(struct store *s, const char *source,
    int64_t cur, int backward, const char *outcome, size_t max,
    struct store_source_event *out);

/* Add n to source's count of events with outcome; 0 or -1. */
typedef int store_source_count_add_fn(struct store *s, const char *source,
    const char *outcome, int64_t n);

/* Call f(arg, source, outcome, n) for every count, by source and outcome. */
typedef void store_source_counts_fn(struct store *s, void (*f)(void *,
    const char *, const char *, int64_t), void *arg);

/*
 * Remember that run came from ev (its source, event, message_id and
 * timestamp; kept as long as the run); 0 or -1.
 */
typedef int store_source_run_put_fn(struct store *s, int64_t run,
    const struct store_source_event *ev);

/* The source event run came from into *ev (those four fields): 1, or 0. */
typedef int store_source_run_get_fn(struct store *s, int64_t run,
    struct store_source_event *ev);

/* Delete up to max of the oldest log entries received before `before`. */
typedef int store_source_sweep_fn(struct store *s, int64_t before, int max);

/* ---- backups (engine/store/sqlite_backup.c) ---- */

/*
 * A copy of the store being taken in steps, between transactions: the
 * copy is complete and consistent on its own (with the id key), written
 * to PATH.tmp and renamed to PATH once complete.
 */
struct store_backup;

/* Start copying the store to path; NULL with *cause. */
typedef struct store_backup *store_backup_begin_fn(struct store *s,
    const char *path, char **cause);

/*
 * Copy up to pages more pages (-1: all), outside a transaction: 1 when
 * the copy is complete, 0 when pages remain, -1 with *cause.
 */
int store_backup_step(struct store_backup *b, int pages, char **cause);

/* The pages copied so far and the pages the database has. */
void store_backup_progress(const struct store_backup *b, int64_t *done,
    int64_t *total);

/*
 * End the copy and free b: a complete one is renamed to its path, any
 * other removed; 0, or -1 with *cause (when cause is not NULL).
 */
int store_backup_finish(struct store_backup *b, char **cause);

/* ---- retention (engine/store/sqlite_retain.c) ---- */

/* What retention deleted (added to by store_retain). */
struct store_retained {
	uint64_t messages, deliveries, attempts, runs, rruns;
	uint64_t passed;                 /* expired runs that still wait */
};

/*
 * Delete, oldest first and at most max of each, the messages inserted
 * before msg_cut (with their deliveries and attempts) and the runs
 * inserted and last changed before run_cut with nothing of them still
 * waiting (with their recipient runs); STORE_NONE keeps that kind.  The
 * newest message and the newest run always stay.  *msg_oldest and
 * *run_oldest: when the oldest row that a later pass may delete was
 * inserted, or STORE_NONE.  1 when max of a kind went (more may be due),
 * 0, or -1.
 */
typedef int store_retain_fn(struct store *s, int64_t msg_cut, int64_t run_cut,
    int max, struct store_retained *out, int64_t *msg_oldest,
    int64_t *run_oldest);

/* ---- bulk operations (engine/store/sqlite_bulk.c) ---- */

/*
 * A bulk operation's row.  Read: the strings and JSON are the struct's
 * (store_bulk_clear frees them).  Instants are STORE_NONE when unset.
 */
struct store_bulk {
	int64_t seq;
	char *name, *arg, *status;
	int64_t total, processed, success, errors;
	json_t *error_items;     /* array */
	int64_t inserted, updated, started, completed, failed;
};
void store_bulk_clear(struct store_bulk *b);

/*
 * Record operation name (arg: its collection, preference set... or NULL)
 * queued at now with items (an array, each element kept as an item, in
 * order); its seq, or -1.
 */
typedef int64_t store_bulk_add_fn(struct store *s, const char *name,
    const char *arg, json_t *args, json_t *items, int64_t now);

/* Operation seq into *out (and its args, unless NULL): 1, or 0. */
typedef int store_bulk_get_fn(struct store *s, int64_t seq,
    struct store_bulk *out, json_t **args);

/* Write b's status, counts, error items and instants; 0 or -1. */
typedef int store_bulk_put_fn(struct store *s, const struct store_bulk *b);

/*
 * Up to max of operation seq's items not yet taken, in order, into out
 * (the caller's to json_decref); their count.
 */
typedef size_t store_bulk_items_fn(struct store *s, int64_t seq, size_t max,
    json_t **out);

/* Forget operation seq's items before index upto (from 0); 0 or -1. */
typedef int store_bulk_items_drop_fn(struct store *s, int64_t seq,
    int64_t upto);

/* ---- the backends ---- */

/*
 * Every operation above but store_open, the *_clear and *_free functions
 * and the steps of a backup is its backend's: a backend's struct store
 * begins with a pointer to its table of operations, and the names above
 * call through it.
 */
struct store_ops {
	store_close_fn *close;
	store_idkey_fn *idkey;
	store_errors_fn *errors;
	store_begin_fn *begin;
	store_commit_fn *commit;
	store_commit_send_fn *commit_send;
	store_commit_poll_fn *commit_poll;
	store_commit_fd_fn *commit_fd;
	store_rollback_fn *rollback;
	store_group_max_fn *group_max;
	store_shared_fn *shared;
	store_request_retry_fn *request_retry;
	store_txn_retry_fn *txn_retry;
	store_optimistic_fn *optimistic;
	store_announce_fn *announce;
	store_listen_fd_fn *listen_fd;
	store_heard_fn *heard;
	store_in_txn_fn *in_txn;
	store_request_begin_fn *request_begin;
	store_request_end_fn *request_end;
	store_maint_due_fn *maint_due;
	store_maintain_fn *maintain;
	store_gauges_fn *gauges;
	store_ping_fn *ping;
	store_figures_fn *figures;
	store_sweep_fn *sweep;
	store_idem_get_fn *idem_get;
	store_idem_put_fn *idem_put;
	store_delivery_add_fn *delivery_add;
	store_deliveries_take_fn *deliveries_take;
	store_delivery_attempts_fn *delivery_attempts;
	store_delivery_drop_fn *delivery_drop;
	store_delivery_retry_fn *delivery_retry;
	store_delivery_next_fn *delivery_next;
	store_delivery_channels_fn *delivery_channels;
	store_delivery_get_fn *delivery_get;
	store_attempt_add_fn *attempt_add;
	store_attempts_page_fn *attempts_page;
	store_attempts_summary_fn *attempts_summary;
	store_run_add_fn *run_add;
	store_run_get_fn *run_get;
	store_runs_by_ckey_fn *runs_by_ckey;
	store_run_set_next_fn *run_set_next;
	store_rrun_add_fn *rrun_add;
	store_rrun_update_fn *rrun_update;
	store_rrun_get_fn *rrun_get;
	store_rruns_pending_fn *rruns_pending;
	store_rruns_list_fn *rruns_list;
	store_fanout_push_fn *fanout_push;
	store_fanout_head_fn *fanout_head;
	store_fanout_advance_fn *fanout_advance;
	store_fanout_pop_fn *fanout_pop;
	store_fanout_end_fn *fanout_end;
	store_fanout_reached_fn *fanout_reached;
	store_cancel_add_fn *cancel_add;
	store_cancels_fn *cancels;
	store_wait_put_fn *wait_put;
	store_wait_del_fn *wait_del;
	store_waits_due_fn *waits_due;
	store_wait_next_fn *wait_next;
	store_batch_find_fn *batch_find;
	store_batch_open_fn *batch_open;
	store_batch_get_fn *batch_get;
	store_batch_set_fn *batch_set;
	store_batch_close_fn *batch_close;
	store_batch_drop_fn *batch_drop;
	store_batch_add_fn *batch_add;
	store_batch_items_fn *batch_items;
	store_batch_count_fn *batch_count;
	store_batch_remove_fn *batch_remove;
	store_throttle_count_fn *throttle_count;
	store_throttle_hit_fn *throttle_hit;
	store_sched_get_fn *sched_get;
	store_sched_save_fn *sched_save;
	store_sched_delete_fn *sched_delete;
	store_sched_delete_children_fn *sched_delete_children;
	store_sched_delete_child_fn *sched_delete_child;
	store_sched_delete_rcpt_fn *sched_delete_rcpt;
	store_sched_delete_config_fn *sched_delete_config;
	store_sched_next_fn *sched_next;
	store_sched_due_fn *sched_due;
	store_sched_fired_fn *sched_fired;
	store_sched_list_fn *sched_list;
	store_sched_workflows_fn *sched_workflows;
	store_sched_configs_fn *sched_configs;
	store_sched_config_rows_fn *sched_config_rows;
	store_message_add_fn *message_add;
	store_message_get_fn *message_get;
	store_message_mark_fn *message_mark;
	store_message_status_fn *message_status;
	store_feed_page_fn *feed_page;
	store_messages_page_fn *messages_page;
	store_message_metadata_fn *message_metadata;
	store_message_event_add_fn *message_event_add;
	store_message_events_fn *message_events;
	store_feed_count_fn *feed_count;
	store_recipient_get_fn *recipient_get;
	store_users_prefetch_fn *users_prefetch;
	store_recipient_put_fn *recipient_put;
	store_recipient_delete_fn *recipient_delete;
	store_tenant_get_fn *tenant_get;
	store_tenant_put_fn *tenant_put;
	store_tenant_stub_fn *tenant_stub;
	store_sub_put_fn *sub_put;
	store_sub_delete_fn *sub_delete;
	store_sub_get_fn *sub_get;
	store_subs_page_fn *subs_page;
	store_prefs_get_fn *prefs_get;
	store_prefs_put_fn *prefs_put;
	store_prefs_exist_fn *prefs_exist;
	store_tenant_delete_fn *tenant_delete;
	store_recipient_created_fn *recipient_created;
	store_recipients_page_fn *recipients_page;
	store_subs_of_fn *subs_of;
	store_channel_data_get_fn *channel_data_get;
	store_channel_data_put_fn *channel_data_put;
	store_channel_data_delete_fn *channel_data_delete;
	store_prefs_list_fn *prefs_list;
	store_prefs_delete_fn *prefs_delete;
	store_recipient_merge_fn *recipient_merge;
	store_audience_add_fn *audience_add;
	store_audience_remove_fn *audience_remove;
	store_audience_remove_user_fn *audience_remove_user;
	store_audience_has_fn *audience_has;
	store_audience_exists_fn *audience_exists;
	store_audience_page_fn *audience_page;
	store_source_seen_fn *source_seen;
	store_source_event_add_fn *source_event_add;
	store_source_events_page_fn *source_events_page;
	store_source_count_add_fn *source_count_add;
	store_source_counts_fn *source_counts;
	store_source_run_put_fn *source_run_put;
	store_source_run_get_fn *source_run_get;
	store_source_sweep_fn *source_sweep;
	store_backup_begin_fn *backup_begin;
	store_retain_fn *retain;
	store_bulk_add_fn *bulk_add;
	store_bulk_get_fn *bulk_get;
	store_bulk_put_fn *bulk_put;
	store_bulk_items_fn *bulk_items;
	store_bulk_items_drop_fn *bulk_items_drop;
};

/* The operation op of store s's backend. */
#define STORE_OP(s, op) \
	((*(const struct store_ops *const *)(const void *)(s))->op)
#define STORE_CALL(s, op, ...) (STORE_OP(s, op)((s), __VA_ARGS__))
#define STORE_CALL0(s, op) (STORE_OP(s, op)(s))

#define store_close(s) STORE_CALL0(s, close)
#define store_idkey(s, ...) STORE_CALL(s, idkey, __VA_ARGS__)
#define store_errors(s) STORE_CALL0(s, errors)
#define store_begin(s, ...) STORE_CALL(s, begin, __VA_ARGS__)
#define store_commit(s, ...) STORE_CALL(s, commit, __VA_ARGS__)
#define store_commit_send(s, ...) STORE_CALL(s, commit_send, __VA_ARGS__)
#define store_commit_poll(s, ...) STORE_CALL(s, commit_poll, __VA_ARGS__)
#define store_commit_fd(s) STORE_CALL0(s, commit_fd)
#define store_rollback(s) STORE_CALL0(s, rollback)
#define store_group_max(s) STORE_CALL0(s, group_max)
#define store_shared(s) STORE_CALL0(s, shared)
#define store_request_retry(s) STORE_CALL0(s, request_retry)
#define store_txn_retry(s) STORE_CALL0(s, txn_retry)
#define store_optimistic(s, ...) STORE_CALL(s, optimistic, __VA_ARGS__)
#define store_announce(s, ...) STORE_CALL(s, announce, __VA_ARGS__)
#define store_listen_fd(s) STORE_CALL0(s, listen_fd)
#define store_heard(s, ...) STORE_CALL(s, heard, __VA_ARGS__)
#define store_in_txn(s) STORE_CALL0(s, in_txn)
#define store_request_begin(s) STORE_CALL0(s, request_begin)
#define store_request_end(s, ...) STORE_CALL(s, request_end, __VA_ARGS__)
#define store_maint_due(s) STORE_CALL0(s, maint_due)
#define store_maintain(s, ...) STORE_CALL(s, maintain, __VA_ARGS__)
#define store_gauges(s, ...) STORE_CALL(s, gauges, __VA_ARGS__)
#define store_ping(s, ...) STORE_CALL(s, ping, __VA_ARGS__)
#define store_figures(s, ...) STORE_CALL(s, figures, __VA_ARGS__)
#define store_sweep(s, ...) STORE_CALL(s, sweep, __VA_ARGS__)
#define store_idem_get(s, ...) STORE_CALL(s, idem_get, __VA_ARGS__)
#define store_idem_put(s, ...) STORE_CALL(s, idem_put, __VA_ARGS__)
#define store_delivery_add(s, ...) STORE_CALL(s, delivery_add, __VA_ARGS__)
#define store_deliveries_take(s, ...) \
	STORE_CALL(s, deliveries_take, __VA_ARGS__)
#define store_delivery_attempts(s, ...) \
	STORE_CALL(s, delivery_attempts, __VA_ARGS__)
#define store_delivery_drop(s, ...) STORE_CALL(s, delivery_drop, __VA_ARGS__)
#define store_delivery_retry(s, ...) STORE_CALL(s, delivery_retry, __VA_ARGS__)
#define store_delivery_next(s) STORE_CALL0(s, delivery_next)
#define store_delivery_channels(s) STORE_CALL0(s, delivery_channels)
#define store_delivery_get(s, ...) STORE_CALL(s, delivery_get, __VA_ARGS__)
#define store_attempt_add(s, ...) STORE_CALL(s, attempt_add, __VA_ARGS__)
#define store_attempts_page(s, ...) STORE_CALL(s, attempts_page, __VA_ARGS__)
#define store_attempts_summary(s, ...) \
	STORE_CALL(s, attempts_summary, __VA_ARGS__)
#define store_run_add(s, ...) STORE_CALL(s, run_add, __VA_ARGS__)
#define store_run_get(s, ...) STORE_CALL(s, run_get, __VA_ARGS__)
#define store_runs_by_ckey(s, ...) STORE_CALL(s, runs_by_ckey, __VA_ARGS__)
#define store_run_set_next(s, ...) STORE_CALL(s, run_set_next, __VA_ARGS__)
#define store_rrun_add(s, ...) STORE_CALL(s, rrun_add, __VA_ARGS__)
#define store_rrun_update(s, ...) STORE_CALL(s, rrun_update, __VA_ARGS__)
#define store_rrun_get(s, ...) STORE_CALL(s, rrun_get, __VA_ARGS__)
#define store_rruns_pending(s, ...) STORE_CALL(s, rruns_pending, __VA_ARGS__)
#define store_rruns_list(s, ...) STORE_CALL(s, rruns_list, __VA_ARGS__)
#define store_fanout_push(s, ...) STORE_CALL(s, fanout_push, __VA_ARGS__)
#define store_fanout_head(s, ...) STORE_CALL(s, fanout_head, __VA_ARGS__)
#define store_fanout_advance(s, ...) STORE_CALL(s, fanout_advance, __VA_ARGS__)
#define store_fanout_pop(s, ...) STORE_CALL(s, fanout_pop, __VA_ARGS__)
#define store_fanout_end(s, ...) STORE_CALL(s, fanout_end, __VA_ARGS__)
#define store_fanout_reached(s, ...) STORE_CALL(s, fanout_reached, __VA_ARGS__)
#define store_cancel_add(s, ...) STORE_CALL(s, cancel_add, __VA_ARGS__)
#define store_cancels(s, ...) STORE_CALL(s, cancels, __VA_ARGS__)
#define store_wait_put(s, ...) STORE_CALL(s, wait_put, __VA_ARGS__)
#define store_wait_del(s, ...) STORE_CALL(s, wait_del, __VA_ARGS__)
#define store_waits_due(s, ...) STORE_CALL(s, waits_due, __VA_ARGS__)
#define store_wait_next(s) STORE_CALL0(s, wait_next)
#define store_batch_find(s, ...) STORE_CALL(s, batch_find, __VA_ARGS__)
#define store_batch_open(s, ...) STORE_CALL(s, batch_open, __VA_ARGS__)
#define store_batch_get(s, ...) STORE_CALL(s, batch_get, __VA_ARGS__)
#define store_batch_set(s, ...) STORE_CALL(s, batch_set, __VA_ARGS__)
#define store_batch_close(s, ...) STORE_CALL(s, batch_close, __VA_ARGS__)
#define store_batch_drop(s, ...) STORE_CALL(s, batch_drop, __VA_ARGS__)
#define store_batch_add(s, ...) STORE_CALL(s, batch_add, __VA_ARGS__)
#define store_batch_items(s, ...) STORE_CALL(s, batch_items, __VA_ARGS__)
#define store_batch_count(s, ...) STORE_CALL(s, batch_count, __VA_ARGS__)
#define store_batch_remove(s, ...) STORE_CALL(s, batch_remove, __VA_ARGS__)
#define store_throttle_count(s, ...) STORE_CALL(s, throttle_count, __VA_ARGS__)
#define store_throttle_hit(s, ...) STORE_CALL(s, throttle_hit, __VA_ARGS__)
#define store_sched_get(s, ...) STORE_CALL(s, sched_get, __VA_ARGS__)
#define store_sched_save(s, ...) STORE_CALL(s, sched_save, __VA_ARGS__)
#define store_sched_delete(s, ...) STORE_CALL(s, sched_delete, __VA_ARGS__)
#define store_sched_delete_children(s, ...) \
	STORE_CALL(s, sched_delete_children, __VA_ARGS__)
#define store_sched_delete_child(s, ...) \
	STORE_CALL(s, sched_delete_child, __VA_ARGS__)
#define store_sched_delete_rcpt(s, ...) \
	STORE_CALL(s, sched_delete_rcpt, __VA_ARGS__)
#define store_sched_delete_config(s, ...) \
	STORE_CALL(s, sched_delete_config, __VA_ARGS__)
#define store_sched_next(s) STORE_CALL0(s, sched_next)
#define store_sched_due(s, ...) STORE_CALL(s, sched_due, __VA_ARGS__)
#define store_sched_fired(s, ...) STORE_CALL(s, sched_fired, __VA_ARGS__)
#define store_sched_list(s, ...) STORE_CALL(s, sched_list, __VA_ARGS__)
#define store_sched_workflows(s) STORE_CALL0(s, sched_workflows)
#define store_sched_configs(s) STORE_CALL0(s, sched_configs)
#define store_sched_config_rows(s, ...) \
	STORE_CALL(s, sched_config_rows, __VA_ARGS__)
#define store_message_add(s, ...) STORE_CALL(s, message_add, __VA_ARGS__)
#define store_message_get(s, ...) STORE_CALL(s, message_get, __VA_ARGS__)
#define store_message_mark(s, ...) STORE_CALL(s, message_mark, __VA_ARGS__)
#define store_message_status(s, ...) STORE_CALL(s, message_status, __VA_ARGS__)
#define store_feed_page(s, ...) STORE_CALL(s, feed_page, __VA_ARGS__)
#define store_messages_page(s, ...) STORE_CALL(s, messages_page, __VA_ARGS__)
#define store_message_metadata(s, ...) \
	STORE_CALL(s, message_metadata, __VA_ARGS__)
#define store_message_event_add(s, ...) \
	STORE_CALL(s, message_event_add, __VA_ARGS__)
#define store_message_events(s, ...) STORE_CALL(s, message_events, __VA_ARGS__)
#define store_feed_count(s, ...) STORE_CALL(s, feed_count, __VA_ARGS__)
#define store_recipient_get(s, ...) STORE_CALL(s, recipient_get, __VA_ARGS__)
#define store_users_prefetch(s, ...) STORE_CALL(s, users_prefetch, __VA_ARGS__)
#define store_recipient_put(s, ...) STORE_CALL(s, recipient_put, __VA_ARGS__)
#define store_recipient_delete(s, ...) \
	STORE_CALL(s, recipient_delete, __VA_ARGS__)
#define store_tenant_get(s, ...) STORE_CALL(s, tenant_get, __VA_ARGS__)
#define store_tenant_put(s, ...) STORE_CALL(s, tenant_put, __VA_ARGS__)
#define store_tenant_stub(s, ...) STORE_CALL(s, tenant_stub, __VA_ARGS__)
#define store_sub_put(s, ...) STORE_CALL(s, sub_put, __VA_ARGS__)
#define store_sub_delete(s, ...) STORE_CALL(s, sub_delete, __VA_ARGS__)
#define store_sub_get(s, ...) STORE_CALL(s, sub_get, __VA_ARGS__)
#define store_subs_page(s, ...) STORE_CALL(s, subs_page, __VA_ARGS__)
#define store_prefs_get(s, ...) STORE_CALL(s, prefs_get, __VA_ARGS__)
#define store_prefs_put(s, ...) STORE_CALL(s, prefs_put, __VA_ARGS__)
#define store_prefs_exist(s) STORE_CALL0(s, prefs_exist)
#define store_tenant_delete(s, ...) STORE_CALL(s, tenant_delete, __VA_ARGS__)
#define store_recipient_created(s, ...) \
	STORE_CALL(s, recipient_created, __VA_ARGS__)
#define store_recipients_page(s, ...) \
	STORE_CALL(s, recipients_page, __VA_ARGS__)
#define store_subs_of(s, ...) STORE_CALL(s, subs_of, __VA_ARGS__)
#define store_channel_data_get(s, ...) \
	STORE_CALL(s, channel_data_get, __VA_ARGS__)
#define store_channel_data_put(s, ...) \
	STORE_CALL(s, channel_data_put, __VA_ARGS__)
#define store_channel_data_delete(s, ...) \
	STORE_CALL(s, channel_data_delete, __VA_ARGS__)
#define store_prefs_list(s, ...) STORE_CALL(s, prefs_list, __VA_ARGS__)
#define store_prefs_delete(s, ...) STORE_CALL(s, prefs_delete, __VA_ARGS__)
#define store_recipient_merge(s, ...) \
	STORE_CALL(s, recipient_merge, __VA_ARGS__)
#define store_audience_add(s, ...) STORE_CALL(s, audience_add, __VA_ARGS__)
#define store_audience_remove(s, ...) \
	STORE_CALL(s, audience_remove, __VA_ARGS__)
#define store_audience_remove_user(s, ...) \
	STORE_CALL(s, audience_remove_user, __VA_ARGS__)
#define store_audience_has(s, ...) STORE_CALL(s, audience_has, __VA_ARGS__)
#define store_audience_exists(s, ...) \
	STORE_CALL(s, audience_exists, __VA_ARGS__)
#define store_audience_page(s, ...) STORE_CALL(s, audience_page, __VA_ARGS__)
#define store_source_seen(s, ...) STORE_CALL(s, source_seen, __VA_ARGS__)
#define store_source_event_add(s, ...) \
	STORE_CALL(s, source_event_add, __VA_ARGS__)
#define store_source_events_page(s, ...) \
	STORE_CALL(s, source_events_page, __VA_ARGS__)
#define store_source_count_add(s, ...) \
	STORE_CALL(s, source_count_add, __VA_ARGS__)
#define store_source_counts(s, ...) STORE_CALL(s, source_counts, __VA_ARGS__)
#define store_source_run_put(s, ...) STORE_CALL(s, source_run_put, __VA_ARGS__)
#define store_source_run_get(s, ...) STORE_CALL(s, source_run_get, __VA_ARGS__)
#define store_source_sweep(s, ...) STORE_CALL(s, source_sweep, __VA_ARGS__)
#define store_backup_begin(s, ...) STORE_CALL(s, backup_begin, __VA_ARGS__)
#define store_retain(s, ...) STORE_CALL(s, retain, __VA_ARGS__)
#define store_bulk_add(s, ...) STORE_CALL(s, bulk_add, __VA_ARGS__)
#define store_bulk_get(s, ...) STORE_CALL(s, bulk_get, __VA_ARGS__)
#define store_bulk_put(s, ...) STORE_CALL(s, bulk_put, __VA_ARGS__)
#define store_bulk_items(s, ...) STORE_CALL(s, bulk_items, __VA_ARGS__)
#define store_bulk_items_drop(s, ...) \
	STORE_CALL(s, bulk_items_drop, __VA_ARGS__)

#endif
