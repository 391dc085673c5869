/*
 * Private to the SQLite backend of the store (engine/store/sqlite*.c):
 * the backend's state and the helpers its files share.
 *
 * Each file owns a part: its statements' SQL, their parameters and their
 * columns appear in that file only.  sqlite.c prepares every part's
 * statements once at open (SQLITE_PREPARE_PERSISTENT) and keeps them
 * until close.
 */
#ifndef BELFRY_STORE_SQLITE_INT_H
#define BELFRY_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "engine/store/backends.h"
#include "engine/store/store.h"

/* The backend's files that own statements. */
enum sqlite_part {
	PART_CORE,       /* sqlite.c */
	PART_HEADS,      /* sqlite_heads.c */
	PART_RECIPIENTS, /* sqlite_recipients.c */
	PART_IDEMPOTENCY, /* sqlite_idempotency.c */
	PART_DELIVERIES, /* sqlite_deliveries.c */
	PART_RUNS,       /* sqlite_runs.c */
	PART_STEPS,      /* sqlite_steps.c */
	PART_MESSAGES,   /* sqlite_messages.c */
	PART_SCHEDULES,  /* sqlite_schedules.c */
	PART_SOURCES,    /* sqlite_sources.c */
	PART_ATTEMPTS,   /* sqlite_attempts.c */
	PART_RETAIN,     /* sqlite_retain.c */
	PART_RETAIN_MSG, /* sqlite_retain.c: what goes with a message */
	PART_BULK,       /* sqlite_bulk.c */
	PART_AUDIENCES,  /* sqlite_audiences.c */
	PARTS
};

/* One part's statements, indexed by the part's own enum. */
struct sqlite_sql {
	const char *const *sql;
	size_t n;
};
extern const struct sqlite_sql sqlite_core_sql, sqlite_heads_sql;
extern const struct sqlite_sql sqlite_recipients_sql;
extern const struct sqlite_sql sqlite_idempotency_sql, sqlite_deliveries_sql;
extern const struct sqlite_sql sqlite_runs_sql, sqlite_steps_sql;
extern const struct sqlite_sql sqlite_messages_sql, sqlite_schedules_sql;
extern const struct sqlite_sql sqlite_sources_sql;
extern const struct sqlite_sql sqlite_attempts_sql;
extern const struct sqlite_sql sqlite_retain_sql, sqlite_retain_msg_sql;
extern const struct sqlite_sql sqlite_bulk_sql;
extern const struct sqlite_sql sqlite_audiences_sql;

/* How deeply requests may nest (savepoints). */
#define STORE_DEPTH_MAX 8

struct sqlite_heads;

struct store {
	const struct store_ops *ops;     /* first: see store.h */
	sqlite3 *db;
	sqlite3_stmt **st[PARTS];
	int in_txn;
	size_t depth;                    /* requests open */
	int failed[STORE_DEPTH_MAX];    /* an operation of request i failed */
	int wal_pages;                   /* log pages since a checkpoint */
	uint64_t errors;
	uint64_t idkey[4];
	int64_t msg_seq;                 /* the last message seq given */
	struct sqlite_heads *heads;      /* feed heads written behind */
	int64_t swapped;                 /* what belfry_swap() last replaced */
};

/* Log size at which a commit checkpoints by itself (4 KiB pages). */
#define STORE_WAL_HARD 8192

/* sqlite.c: statements and their results. */
sqlite3_stmt *sqlite_stmt(struct store *s, enum sqlite_part p, int i);
int sqlite_done(struct store *s, sqlite3_stmt *st);
int sqlite_row(struct store *s, sqlite3_stmt *st);
int sqlite_changed(struct store *s, sqlite3_stmt *st);
int64_t sqlite_scalar(struct store *s, sqlite3_stmt *st, int64_t none);
int sqlite_done_key(struct store *s, enum sqlite_part p, int i, int64_t key);
void sqlite_failed(struct store *s, const char *what);
char *sqlite_cause(struct store *s);
int sqlite_exec(struct store *s, const char *sql, char **cause);
int64_t sqlite_count(struct store *s, const char *sql);
json_t *sqlite_json(sqlite3_stmt *st, int col);
char *sqlite_text(sqlite3_stmt *st, int col);
char *sqlite_texts(sqlite3_stmt *st, size_t n, const int *cols,
    const char **const *out);
int64_t sqlite_int(sqlite3_stmt *st, int col);
void sqlite_bind_json(sqlite3_stmt *st, int col, json_t *v);
void sqlite_bind_text(sqlite3_stmt *st, int col, const char *v);
void sqlite_bind_int(sqlite3_stmt *st, int col, int64_t v);


/* Each file's operations, into the backend's table (sqlite.c). */
void sqlite_core_ops(struct store_ops *o);
void sqlite_attempts_ops(struct store_ops *o);
void sqlite_audiences_ops(struct store_ops *o);
void sqlite_backup_ops(struct store_ops *o);
void sqlite_bulk_ops(struct store_ops *o);
void sqlite_deliveries_ops(struct store_ops *o);
void sqlite_idempotency_ops(struct store_ops *o);
void sqlite_messages_ops(struct store_ops *o);
void sqlite_recipients_ops(struct store_ops *o);
void sqlite_retain_ops(struct store_ops *o);
void sqlite_runs_ops(struct store_ops *o);
void sqlite_schedules_ops(struct store_ops *o);
void sqlite_sources_ops(struct store_ops *o);
void sqlite_steps_ops(struct store_ops *o);

/* sqlite.c: the SQL that recovers the feed heads (see sqlite_heads.c). */
extern const char *const sqlite_heads_recover;

/* sqlite_idempotency.c: delete old replies (store_sweep). */
int sqlite_idempotency_sweep(struct store *s, int64_t before, int max);

/* sqlite_deliveries.c: the deliveries in flight are due again (open). */
int sqlite_deliveries_reset(struct store *s);

/* sqlite_runs.c, sqlite_steps.c: delete spent cancels, old throttle hits. */
int sqlite_runs_sweep(struct store *s);
int sqlite_steps_sweep(struct store *s, int64_t now, int max);

/* sqlite_backup.c: copy the store whole to path (before a migration). */
int sqlite_backup_whole(struct store *s, const char *path, char **cause);

/* sqlite_walbuf.c: the VFS that gathers log writes (NULL: unavailable). */
const char *sqlite_walbuf_vfs(void);

/*
 * sqlite_pcache.c: the page cache over SQLite's own, installed by the
 * first call (before SQLite initializes); its methods, or NULL when
 * SQLite had initialized already without it.
 */
const sqlite3_pcache_methods2 *sqlite_pcache(void);

/* sqlite_heads.c: the heads of the feed chains, written behind. */
void sqlite_heads_init(struct store *s, int64_t upto);
int64_t sqlite_heads_push(struct store *s, const char *rcpt,
    const char *channel, int64_t *seq);
int64_t sqlite_heads_get(struct store *s, const char *rcpt,
    const char *channel);
void sqlite_heads_of(struct store *s, const char *rcpt, const char *channel,
    void (*f)(void *, const char *, int64_t), void *arg);
void sqlite_heads_swap(sqlite3_context *ctx, int argc, sqlite3_value **argv);
int sqlite_heads_flush(struct store *s, int force);
void sqlite_heads_mark(struct store *s);
void sqlite_heads_release(struct store *s);
void sqlite_heads_rollback(struct store *s, int all);
int sqlite_heads_stale(struct store *s);
void sqlite_heads_recovered(struct store *s, int64_t upto);
void sqlite_heads_committed(struct store *s);
void sqlite_heads_free(struct store *s);

#endif
