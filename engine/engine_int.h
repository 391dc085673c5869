/*
 * Private to engine/: the engine's state and the helpers the engine's
 * files share.
 */
#ifndef BELFRY_ENGINE_INT_H
#define BELFRY_ENGINE_INT_H

#include "engine/engine.h"
#include "engine/json.h"
#include "engine/store/store.h"

/* A run numbers its recipients below this (rruns keys, public ids). */
#define ENG_RUN_RCPTS_MAX ((int64_t)1 << 24)

/* How deeply requests may nest (a schedule's fire inside the due pass). */
#define ENG_DEPTH_MAX 8

struct eng {
	struct store *store;
	struct eng_config *cfg;
	const struct eng_rcpt_hooks *hooks; /* told of recipient changes */
	uint64_t idkey[4];      /* key of the id derivation (ids.c) */
	struct eng_stats stats;
	int has_prefs;          /* whether any recipient preference set exists */
	char *logs;             /* log channel lines, printed at commit */
	size_t logs_len;
	/* ... of the commits sent whose outcomes are not known, oldest first */
	char *logs_pending[ENG_PENDING_MAX];
	size_t npending;
	int64_t *fired;         /* due instants of fires, for eng_fired_take */
	size_t nfired;
	/* eng_sched_run_due's rows, ENG_SCHED_DUE_MAX, all zero between calls */
	struct store_sched *due_scheds;
	/* What each open request may take back: logs, fires and pushes. */
	struct {
		size_t logs_len, nfired, npushes;
	} mark[ENG_DEPTH_MAX];
	size_t depth;
	struct eng_rcache *rcache; /* parsed recurrences (schedules/) */
	int64_t next_sweep;     /* engine time of the next eng_sweep */
	struct eng_push *pushes; /* changes to feeds (messages/pushes.c) */
	size_t npushes, pushes_cap;
	int pushes_all;         /* more than ENG_PUSHES_MAX: every feed */
	int64_t retain_next;    /* engine time of the next eng_retain pass */
	struct eng_count *counts; /* counters by label (counts.c) */
	size_t ncounts;
	/* Bulk items run in engine second bulk_sec (engine/bulk/). */
	int64_t bulk_sec, bulk_rows;
};

/* engine/counts.c: count n of kind for (workflow, channel); free all. */
void eng_count(struct eng *e, enum eng_count_kind kind, const char *workflow,
    const char *channel, uint64_t n);
void eng_counts_free(struct eng *e);

/* engine/dispatch.c: delete expired rows (see there), by eng_run_due. */
void eng_sweep(struct eng *e, int64_t now);
#define ENG_SWEEP_EVERY 60
#define ENG_SWEEP_MAX 5000

/*
 * engine/dispatch.c: delete what is older than the retention windows (see
 * there), at most ENG_RETAIN_MAX rows of each kind a pass; 1 when it ran.
 */
int eng_retain(struct eng *e, int64_t now);
#define ENG_RETAIN_MAX 2000

/* How many fired instants are kept between eng_fired_take calls. */
#define ENG_FIRED_MAX 65536

/* Schedules fired by one eng_sched_run_due call, at most. */
#define ENG_SCHED_DUE_MAX 1000

/* engine/messages/pushes.c: what changed in feeds, until taken. */
#define ENG_PUSHES_MAX 65536
void eng_push_note(struct eng *e, const char *rcpt, const char *channel,
    const char *tenant, int mark);
void eng_pushes_truncate(struct eng *e, size_t keep);
int eng_pushes_announce(struct eng *e);

/* engine/txn.c: queue a log channel line until the commit. */
void eng_log_line(struct eng *e, int pri, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a compiled step does. */
enum eng_step_kind {
	STEP_CHANNEL, STEP_DELAY, STEP_BATCH, STEP_THROTTLE, STEP_BRANCH,
	STEP_JUMP
};

/* One arm of a branch step: its conditions and where its steps start. */
struct eng_branch {
	char *name;
	json_t *conditions;      /* NULL for the default arm */
	size_t target;
};

/*
 * A workflow step (engine/workflow/compile.c).  Branches are compiled to
 * jumps, so a workflow is a flat program and a run's position is an index
 * into it.
 */
struct eng_template;

struct eng_step {
	char *ref;
	char *type;
	enum eng_step_kind kind;
	json_t *conditions;      /* step conditions (channel steps) */
	/* channel */
	struct eng_channel *channel;
	json_t *template;        /* {"markdown"|"text"|"html"|"body"|"subject"|
				    "action_url": ..., "buttons": [...]} */
	struct eng_template *parts[6]; /* its strings parsed, in key order */
	struct eng_template **buttons; /* each button's label and action */
	size_t nbuttons;
	/* delay, batch, throttle: a fixed duration or a data path */
	int64_t duration;
	char *duration_key;      /* data path: seconds, {unit: n} or ISO time */
	/* batch */
	int sliding;
	int64_t max_window;
	char *window_rule;       /* RRULE text, in the recipient's zone */
	char *batch_key;
	int max_activities;
	int render_limit;
	int order_last;          /* render the last N activities */
	/* throttle */
	int threshold;
	char *throttle_key;
	/* branch and jump */
	struct eng_branch *branches;
	size_t nbranches;
	size_t target;
	json_t *def;             /* the step's JSON */
};

/* A workflow (engine/workflow/). */
struct eng_workflow {
	char *key;
	char *name;
	json_t *categories;      /* array of strings */
	json_t *data_required;   /* array of strings */
	struct eng_step *steps;
	size_t nsteps;
	int override_preferences; /* send whatever the recipient's preferences */
	int commercial;           /* commercial_subscribed false opts out */
	int needs_recipient;     /* mentions "recipient" or batches in its zone */
};

/* What a source's event mapping does (engine/sources/). */
enum eng_src_action { ENG_SRC_TRIGGER, ENG_SRC_CANCEL };

/*
 * One entry of a source's "events": the track events it applies to (by
 * name, when its conditions on event.* hold) and the trigger or cancel it
 * makes, its fields taken from dotted paths into the event (NULL: unset).
 */
struct eng_srcmap {
	char *event;
	enum eng_src_action action;
	char *workflow;
	char *recipients, *actor, *data, *tenant, *ckey;
	json_t *conditions;      /* NULL for none */
};

/* What a source's group calls upsert. */
enum eng_src_group { ENG_SRC_GROUP_NONE, ENG_SRC_GROUP_TENANT,
	ENG_SRC_GROUP_OBJECT };

/* A source: CONFIG_DIR/sources/NAME.json (engine/sources/file.c). */
struct eng_srcdef {
	char *key;
	char *type;              /* "segment" or "rudderstack" */
	char **write_keys;
	size_t n_write_keys;
	int identify;            /* identify calls upsert users */
	enum eng_src_group group;
	char *group_collection;  /* ENG_SRC_GROUP_OBJECT's collection */
	int group_subscribe;     /* and the user subscribes to the object */
	struct eng_srcmap *maps;
	size_t nmaps;
};

struct eng_config {
	char *dir;
	char *socket, *database, *listen, *default_timezone;
	char *db_check;          /* database_integrity_check, or NULL */
	int header_timeout, body_timeout, idle_timeout; /* seconds */
	int max_connections;     /* per listener */
	int bulk_rate;           /* bulk_rows_per_second; 0: unpaced */
	char **api_keys;
	size_t n_api_keys;
	char **public_keys;      /* public_api_keys: browser keys */
	size_t n_public_keys;
	char **metrics_keys;     /* metrics_api_keys: /metrics, /healthz */
	size_t n_metrics_keys;
	char *socket_group;      /* the admin socket's group, or NULL */
	int log_json;            /* log_format "json" */
	char *user_token_key;    /* user_token_public_key: a PEM file, or NULL */
	char **origins;          /* allowed_origins */
	size_t n_origins;
	char *tls_cert, *tls_key; /* tls: certificate and key files, or NULL */
	struct eng_channel *channels;
	size_t n_channels;
	json_t *default_prefs;   /* PreferenceSet or NULL */
	int prefs_need_recipient; /* default_prefs mentions "recipient" */
	struct eng_workflow *workflows;
	size_t n_workflows;
	json_t *schedules;       /* schedules/ files: checked defs with "id" */
	json_t *schedule_files;  /* schedule id -> the file defining it */
	struct eng_srcdef *sources;
	size_t n_sources;
	int retain_messages_days, retain_runs_days; /* retention; 0: for ever */
};

/* engine/workflow/: a workflow (a source) by key, a duration's seconds. */
const struct eng_workflow *eng_workflow_find(const struct eng_config *c,
    const char *key);
const struct eng_srcdef *eng_srcdef_find(const struct eng_config *c,
    const char *key);
int64_t eng_duration(json_t *v);

/* engine/workflow/jsonpos.c: line and column of a path's value in JSON. */
int eng_jsonpos(const char *text, const char *path, int *line, int *col);

/* engine/jsonout.c: RFC 3339 UTC text of an instant. */
void eng_iso(int64_t t, char *buf, size_t len);
json_t *eng_iso_json(int64_t t);

/* engine/ids.c: UUID-shaped ids derived from integer keys. */
enum eng_id_kind { ENG_ID_RUN = 1, ENG_ID_RRUN = 2, ENG_ID_MSG = 3,
	ENG_ID_SCHED = 4, ENG_ID_SRCEVT = 5, ENG_ID_LOG = 6, ENG_ID_ENV = 7,
	ENG_ID_EVENT = 8, ENG_ID_BULK = 9, ENG_ID_MSGEVT = 10, ENG_ID_ACT = 11 };
void eng_id_format(const struct eng *e, enum eng_id_kind kind, uint64_t a,
    uint64_t b, char out[37]);
int eng_id_parse(const struct eng *e, enum eng_id_kind kind, const char *s,
    uint64_t *a, uint64_t *b);

/* A workflow run's context while its recipient runs advance (engine/run/). */
struct eng_run {
	const struct eng_workflow *w;
	int64_t seq, now;
	json_t *data;            /* owned */
	json_t *actor;           /* entity or NULL (owned) */
	char *actor_key;
	json_t *tenant;          /* Tenant shape or NULL (owned) */
	const char *tenant_id;   /* inside tenant */
	json_t *tenant_prefs;    /* inside tenant, or NULL */
	int skip_delay;
	int sandbox;             /* settings.sandbox_mode: only feeds deliver */
	json_t *subscriber_filter; /* inside settings, or NULL */
	json_t *settings;        /* owned */
	json_t *ctx;             /* template context shared by recipients */
	size_t messages;
	int capped;               /* reached ENG_RUN_RCPTS_MAX (logged) */
};
void eng_run_context(struct eng_run *r);
void eng_run_clear(struct eng_run *r);
int eng_run_recipient(struct eng *e, struct eng_run *r, int64_t idx,
    const char *rcpt, json_t *tdata, json_t *sub);
int eng_run_load(struct eng *e, int64_t seq, int64_t now, struct eng_run *r);
int eng_wait(struct eng *e, int64_t due, int kind, int64_t a, int64_t b);

/* engine/run/: resume a recipient run, close a batch (the dispatcher's). */
int eng_run_resume(struct eng *e, int64_t seq, int64_t idx, int64_t now);
int eng_batch_close(struct eng *e, int64_t id, int64_t now);

/* Kinds of waits (engine/run/). */
enum { ENG_WAIT_RESUME = 1, ENG_WAIT_BATCH = 2, ENG_WAIT_FANOUT = 3,
	ENG_WAIT_BULK = 4 };

/* engine/run/fanout.c: one chunk of a run's subscriber fan-out. */
int eng_fanout_chunk(struct eng *e, int64_t seq, int64_t now);

/*
 * engine/bulk/bulk.c: one pass over bulk operation seq's next items
 * (queueing the next pass while items remain); 0.
 */
int eng_bulk_chunk(struct eng *e, int64_t seq, int64_t now);

/* Where a run came from: "api", or "schedule" with the fire it is. */
struct eng_source {
	const char *type;
	int64_t sched;           /* the schedule's key, 0 for none */
	int64_t fire_at;         /* the occurrence fired */
};
enum eng_status eng_trigger_start(struct eng *e, const char *workflow,
    json_t *body, int64_t now, const struct eng_source *src, int64_t *seq,
    char **cause);

/* engine/schedules/: due fires, the parse cache, definitions' checks. */
int64_t eng_sched_next_due(struct eng *e);
void eng_sched_cache_free(struct eng *e);
int eng_sched_run_due(struct eng *e, int64_t now, int max);
int eng_sched_def_check(const struct eng_config *c, json_t *def,
    const char **field, char **cause);

/*
 * What recipients.c tells of changes to recipients, to whoever registered
 * (engine/schedules/hooks.c, at open): a recipient's zone changed, a
 * recipient was deleted (0 or -1), a subscription came or went.
 */
struct eng_rcpt_hooks {
	void (*rezoned)(struct eng *e, const char *rcpt, int64_t now);
	int (*deleted)(struct eng *e, const char *rcpt);
	void (*subscribed)(struct eng *e, const char *obj, const char *rcpt,
	    int64_t now);
	void (*unsubscribed)(struct eng *e, const char *obj,
	    const char *rcpt);
};
extern const struct eng_rcpt_hooks eng_sched_hooks;

/* engine/recipients.c */
int eng_recipient_valid_id(const char *id);
char *eng_rcpt_key(const char *collection, const char *id);
char *eng_rcpt_ref_key(json_t *r, char **cause);
json_t *eng_recipient_load(struct eng *e, const char *collection,
    const char *id);
enum eng_status eng_identify(struct eng *e, json_t *inline_rcpt, int64_t now,
    char **cause);
json_t *eng_rcpt_ref(const char *key);
json_t *eng_rcpt_entity(struct eng *e, const char *key);

/* engine/audiences.c: whether rcpt (of a run in tenant or NULL) is in key. */
int eng_audience_member(struct eng *e, const char *key, const char *rcpt,
    const char *tenant);

/* engine/query.c: list queries as scheduler/route.c normalises them. */
json_t *eng_query_list(json_t *q, const char *name);
const char *eng_query_sub(json_t *q, const char *name, const char *field);
int eng_query_page_size(json_t *q, int def, int max, int *out,
    char **cause);
json_t *eng_page_info(const char *first, const char *last, int from_after,
    int backward, int more, int size);

/* engine/sources/: how long the source event log keeps an event. */
#define ENG_SRC_KEEP (7 * 86400)

/* engine/messages/markdown.c: Markdown to escaped HTML for feed blocks. */
char *eng_markdown_html(const char *md);

/* engine/base64.c: RFC 4648 base64 with padding. */
char *eng_base64_encode(const unsigned char *in, size_t len);
int eng_base64_decode(const char *in, unsigned char **out, size_t *len);

/* engine/messages/mime.c: an email to build from a step's rendered parts. */
struct eng_mail {
	const char *from;        /* "Name <addr>" or "addr" */
	const char *to;          /* the recipient's address */
	const char *to_name;     /* their name, or NULL */
	const char *subject;
	const char *html, *text; /* either may be NULL */
	const char *message_id;  /* the message's public id */
	const char *list_unsubscribe; /* the header's value, or NULL */
	int64_t date;
};

/* Whether addr is an address SMTP takes (local@domain, ASCII). */
int eng_mail_valid(const char *addr);

/*
 * Split "Name <addr>" or "addr" into *name (NULL when none) and *addr,
 * the caller's to free; -1 unless the address is valid.
 */
int eng_mail_parse(const char *spec, char **name, char **addr);

/* The message's RFC 5322 text, CRLF lines (free it); NULL: bad from. */
char *eng_mime_build(const struct eng_mail *m);

/* engine/messages/htmltext.c: plain text from HTML (free it). */
char *eng_html_text(const char *html);

/* engine/messages/deliveries.c: queue message seq's delivery (a step's). */
int eng_delivery_queue(struct eng *e, const struct eng_step *s,
    int64_t seq, json_t *content, json_t *ctx, json_t *recipient,
    int64_t now);

/*
 * engine/messages/deliveries.c: why channel step s cannot reach
 * recipient (no email, ...), or NULL when it can.
 */
const char *eng_delivery_unreachable(const struct eng_step *s,
    json_t *recipient);

/*
 * engine/messages/feeds.c: the parts of a feed's "mark all" (POST
 * /v1/channels/{channel}/messages/bulk/{status}): its body's check, and
 * one of its users' messages marked (a bulk operation's item).
 */
enum eng_status eng_feed_bulk_check(struct eng *e, const char *channel,
    const char *status, json_t *body, char **cause);
enum eng_status eng_feed_bulk_user(struct eng *e, const char *channel,
    const char *status, json_t *body, const char *user, int64_t now,
    char **cause);

/* engine/messages/deliveries.c: a Message's delivery state, or NULL. */
json_t *eng_delivery_state(struct eng *e, int64_t seq, const char *channel);

#endif
