/*
 * Private to engine/: the engine's state, the store's statements, and the
 * helpers the engine's files share.
 */
#ifndef BELFRY_ENGINE_INT_H
#define BELFRY_ENGINE_INT_H

#include <sqlite3.h>

#include "engine/engine.h"

/* Prepared statements, prepared once at open (engine/store.c). */
enum eng_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_USER_GET, ST_USER_PUT, ST_USER_DEL,
	ST_OBJ_GET, ST_OBJ_PUT, ST_OBJ_DEL,
	ST_TENANT_GET, ST_TENANT_PUT, ST_TENANT_STUB,
	ST_SUB_PUT, ST_SUB_DEL, ST_SUB_LIST, ST_SUB_GET,
	ST_PREF_GET, ST_PREF_PUT,
	ST_RUN_INS, ST_RUN_GET, ST_RUN_BY_CK,
	ST_RRUN_INS, ST_RRUN_GET, ST_RRUN_LIST, ST_RRUN_BY_SCHED, ST_RRUN_UPD, ST_RRUN_LOAD,
	ST_RRUN_OPEN,
	ST_RUN_IDX, ST_RUN_NEXT_IDX,
	ST_FAN_INS, ST_FAN_HEAD, ST_FAN_AFTER, ST_FAN_DEL, ST_FAN_DROP, ST_SEEN_INS, ST_SEEN_DROP, ST_CANCEL_INS, ST_CANCEL_GET,
	ST_CANCEL_SWEEP,
	ST_WAIT_INS, ST_WAIT_DEL, ST_WAIT_DUE, ST_WAIT_NEXT,
	ST_BATCH_FIND, ST_BATCH_INS, ST_BATCH_GET, ST_BATCH_SET,
	ST_BATCH_CLOSE, ST_BATCH_DEL,
	ST_ITEM_INS, ST_ITEM_LIST, ST_ITEM_DEL, ST_ITEM_COUNT, ST_ITEM_DROP,
	ST_THR_COUNT, ST_THR_INS, ST_THR_GC, ST_THR_SWEEP,
	ST_MSG_INS, ST_MSG_GET, ST_MSG_MARK, ST_MSG_STATUS, ST_MSG_WALK,
	ST_MSG_COUNTS, ST_FEED_HEADS, ST_FEED_PUSH, ST_HEAD_GET, ST_HEAD_PUT, ST_HEADS_UPTO,
	ST_DLV_INS, ST_DLV_DUE, ST_DLV_TAKE, ST_DLV_DEL, ST_DLV_RETRY,
	ST_DLV_NEXT, ST_DLV_RESET, ST_DLV_GET,
	ST_IDEM_GET, ST_IDEM_PUT, ST_IDEM_GC,
	ST_SCHED_INS, ST_SCHED_GET, ST_SCHED_UPD, ST_SCHED_DEL, ST_SCHED_NEXT,
	ST_SCHED_DUE, ST_SCHED_FIRED, ST_SCHED_LIST, ST_SCHED_BY_WF,
	ST_SCHED_BY_RCPT, ST_SCHED_BY_PARENT, ST_SCHED_CHILD_DEL,
	ST_SCHED_CFG_LIST, ST_SCHED_CFG_ROWS, ST_SCHED_CFG_DEL,
	ST_SCHED_KIDS_DEL, ST_SCHED_RCPT_KIDS_DEL, ST_SCHED_RCPT_DEL, ST_SCHED_WORKFLOWS,
	ST_COUNT
};

/* A run numbers its recipients below this (rruns keys, public ids). */
#define ENG_RUN_RCPTS_MAX ((int64_t)1 << 24)

struct eng {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct eng_config *cfg;
	uint64_t idkey[4];      /* key of the id derivation (ids.c) */
	struct eng_stats stats;
	int in_txn;
	int has_prefs;          /* whether any recipient preference set exists */
	char *logs;             /* log channel lines, printed at commit */
	size_t logs_len, logs_mark;
	int64_t *fired;         /* due instants of fires, for eng_fired_take */
	size_t nfired;
	struct eng_rcache *rcache; /* parsed recurrences (schedules.c) */
	int wal_pages;          /* log pages since the last checkpoint */
	int64_t next_sweep;     /* engine time of the next eng_sweep */
	int64_t msg_seq;        /* the last message seq given (eng_feed_push) */
	struct eng_heads *heads; /* feed heads written behind (heads.c) */
	int64_t swapped;        /* what belfry_swap() last replaced */
	struct eng_push *pushes; /* feeds that got messages (pushes.c) */
	size_t npushes, pushes_cap, pushes_mark;
	int pushes_all;         /* more than ENG_PUSHES_MAX: every feed */
};

/* engine/jsonout.c: whether any string, key or value, inside v has s. */
int eng_json_mentions(json_t *v, const char *s);

/* engine/jsonout.c: compact JSON text of v into out (see there). */
size_t eng_json_write(json_t *v, char *out, size_t len);

/* engine/jsonout.c: JSON text built piece by piece, s[0..len) (no NUL). */
struct eng_text {
	char *s;
	size_t len, cap;
};
void eng_text_add(struct eng_text *t, const char *p, size_t n);
void eng_text_string(struct eng_text *t, const char *s);
void eng_text_value(struct eng_text *t, json_t *v);
void eng_text_int(struct eng_text *t, int64_t v);
size_t eng_decimal(int64_t v, char *out);

/* engine/walbuf.c: the VFS that gathers log writes (NULL: unavailable). */
const char *eng_walbuf_vfs(void);

/* engine/heads.c: the heads of the feed chains, written behind. */
void eng_heads_init(struct eng *e, int64_t upto);
int64_t eng_feed_push(struct eng *e, const char *rcpt, const char *channel,
    int64_t *seq);
void eng_heads_swap(sqlite3_context *ctx, int argc, sqlite3_value **argv);
int64_t eng_feed_head(struct eng *e, const char *rcpt, const char *channel);
void eng_heads_each(struct eng *e, const char *rcpt, const char *channel,
    void (*f)(void *, const char *, int64_t), void *arg);
int eng_heads_flush(struct eng *e, int force);
void eng_heads_mark(struct eng *e);
void eng_heads_rollback(struct eng *e, int all);
int eng_heads_stale(struct eng *e);
void eng_heads_recovered(struct eng *e, int64_t upto);
void eng_heads_committed(struct eng *e);
void eng_heads_free(struct eng *e);

/* engine/store.c: delete expired rows (see there), called by eng_run_due. */
void eng_sweep(struct eng *e, int64_t now);
#define ENG_SWEEP_EVERY 60
#define ENG_SWEEP_MAX 5000

/* Log size at which a commit checkpoints by itself (4 KiB pages). */
#define ENG_WAL_HARD 8192

/* How many fired instants are kept between eng_fired_take calls. */
#define ENG_FIRED_MAX 65536

/* engine/pushes.c: what changed in feeds, until taken. */
#define ENG_PUSHES_MAX 65536
void eng_push_note(struct eng *e, const char *rcpt, const char *channel,
    const char *tenant, int mark);
void eng_pushes_truncate(struct eng *e, size_t keep);

/* engine/store.c: queue a log channel line until the commit. */
void eng_log_line(struct eng *e, const char *line);

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
 * A workflow step (engine/config.c).  Branches are compiled to jumps, so
 * a workflow is a flat program and a run's position is an index into it.
 */
struct eng_template;

struct eng_step {
	char *ref;
	char *type;
	enum eng_step_kind kind;
	json_t *conditions;      /* step conditions (channel steps) */
	/* channel */
	struct eng_channel *channel;
	json_t *template;        /* {"markdown"|"text"|"body"|"subject"|
				    "action_url": ..., "buttons": [...]} */
	struct eng_template *parts[5]; /* its strings parsed, in key order */
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

/* A workflow (engine/config.c). */
struct eng_workflow {
	char *key;
	char *name;
	json_t *categories;      /* array of strings */
	json_t *data_required;   /* array of strings */
	struct eng_step *steps;
	size_t nsteps;
	int override_preferences; /* send whatever the recipient's preferences */
	int needs_recipient;     /* mentions "recipient" or batches in its zone */
};

struct eng_config {
	char *dir;
	char *socket, *database, *listen, *default_timezone;
	char *db_check;          /* database_integrity_check, or NULL */
	int header_timeout, body_timeout, idle_timeout; /* seconds */
	int max_connections;     /* per listener */
	char **api_keys;
	size_t n_api_keys;
	char **public_keys;      /* public_api_keys: browser keys */
	size_t n_public_keys;
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
};

/* engine/config.c */
const struct eng_workflow *eng_workflow_find(const struct eng_config *c,
    const char *key);
int64_t eng_duration(json_t *v);

/* engine/jsonpos.c: line and column of the value at a path in JSON text. */
int eng_jsonpos(const char *text, const char *path, int *line, int *col);

/* engine/store.c */
sqlite3_stmt *eng_stmt(struct eng *e, enum eng_stmt s);
int eng_step_done(struct eng *e, sqlite3_stmt *st);
json_t *eng_json_col(sqlite3_stmt *st, int col);
void eng_iso(int64_t t, char *buf, size_t len);
void eng_bind_json(sqlite3_stmt *st, int col, json_t *v);

/* engine/ids.c: UUID-shaped ids derived from integer keys. */
enum eng_id_kind { ENG_ID_RUN = 1, ENG_ID_RRUN = 2, ENG_ID_MSG = 3,
	ENG_ID_SCHED = 4 };
void eng_id_format(const struct eng *e, enum eng_id_kind kind, uint64_t a,
    uint64_t b, char out[37]);
int eng_id_parse(const struct eng *e, enum eng_id_kind kind, const char *s,
    uint64_t *a, uint64_t *b);

/* A workflow run's context while its recipient runs advance (run.c). */
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

/* Kinds of waits (run.c). */
enum { ENG_WAIT_RESUME = 1, ENG_WAIT_BATCH = 2, ENG_WAIT_FANOUT = 3 };

/* engine/trigger.c: one chunk of a run's subscriber fan-out. */
int eng_fanout_chunk(struct eng *e, int64_t seq, int64_t now);

/* Where a run came from: "api", or "schedule" with the fire it is. */
struct eng_source {
	const char *type;
	int64_t sched;           /* the schedule's key, 0 for none */
	int64_t fire_at;         /* the occurrence fired */
};
enum eng_status eng_trigger_start(struct eng *e, const char *workflow,
    json_t *body, int64_t now, const struct eng_source *src, int64_t *seq,
    char **cause);

/* engine/schedules.c */
int64_t eng_sched_next_due(struct eng *e);
void eng_sched_cache_free(struct eng *e);
int eng_sched_run_due(struct eng *e, int64_t now, int max);
void eng_sched_rezone(struct eng *e, const char *rcpt, int64_t now);
int eng_sched_rcpt_deleted(struct eng *e, const char *rcpt);
void eng_sched_sub_added(struct eng *e, const char *obj, const char *rcpt,
    int64_t now);
void eng_sched_sub_removed(struct eng *e, const char *obj, const char *rcpt);
int eng_sched_def_check(const struct eng_config *c, json_t *def,
    const char **field, char **cause);

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

/* engine/markdown.c: Markdown to escaped HTML for feed blocks. */
char *eng_markdown_html(const char *md);

#endif
