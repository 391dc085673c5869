/*
 * Private to the PostgreSQL backend of the store (engine/store/pg*.c):
 * the backend's state and the helpers its files share.
 *
 * Each file owns a part: its statements' SQL, their parameters and their
 * columns appear in that file only.  Statements are prepared on the
 * connection at their first use (named "p<part>_<index>") and again after
 * a reconnect.  Parameters travel as text ($n, cast in the SQL where the
 * type is not evident); results are read as text by the pg_int, pg_text
 * and pg_json helpers, which take PostgreSQL's 't'/'f' for 1/0.
 */
#ifndef BELFRY_STORE_PG_INT_H
#define BELFRY_STORE_PG_INT_H

#include <libpq-fe.h>

#include "engine/store/backends.h"
#include "engine/store/store.h"

/* The backend's files that own statements. */
enum pg_part {
	PG_CORE,         /* pg.c */
	PG_RECIPIENTS,   /* pg_recipients.c */
	PG_IDEMPOTENCY,  /* pg_idempotency.c */
	PG_DELIVERIES,   /* pg_deliveries.c */
	PG_RUNS,         /* pg_runs.c */
	PG_STEPS,        /* pg_steps.c */
	PG_MESSAGES,     /* pg_messages.c */
	PG_SCHEDULES,    /* pg_schedules.c */
	PG_SOURCES,      /* pg_sources.c */
	PG_ATTEMPTS,     /* pg_attempts.c */
	PG_RETAIN,       /* pg_retain.c */
	PG_BULK,         /* pg_bulk.c */
	PG_AUDIENCES,    /* pg_audiences.c */
	PG_PARTS
};

/* One part's statements, indexed by the part's own enum. */
struct pg_sql {
	const char *const *sql;
	size_t n;
};
extern const struct pg_sql pg_core_sql, pg_recipients_sql;
extern const struct pg_sql pg_idempotency_sql, pg_deliveries_sql;
extern const struct pg_sql pg_runs_sql, pg_steps_sql, pg_messages_sql;
extern const struct pg_sql pg_schedules_sql, pg_sources_sql;
extern const struct pg_sql pg_attempts_sql, pg_retain_sql, pg_bulk_sql;
extern const struct pg_sql pg_audiences_sql;

/* How deeply requests may nest (savepoints), as in SQLite. */
#define PG_DEPTH_MAX 8

/* The most parameters a statement takes. */
#define PG_ARGS_MAX 24

/* The feed changes one announcement carries at most, in bytes. */
#define PG_NOTE_BYTES 7000

/* The most requests of one group transaction (store_group_max). */
#define PG_GROUP_MAX 48

/*
 * How long a delivery taken by a node stays its own (seconds), and how
 * often the node renews the leases of the deliveries it still performs:
 * a dead node's deliveries come back within PG_LEASE_SECONDS.
 */
#define PG_LEASE_SECONDS 30
#define PG_LEASE_RENEW 10

/*
 * A statement sent in pipeline mode whose result is not read yet: which
 * one, what it was (a preparation, a savepoint, a sync or a statement)
 * and the depth of requests when it was sent, whose innermost it fails.
 */
enum pg_kind { PG_SENT, PG_SENT_PREPARE, PG_SENT_SAVEPOINT, PG_SENT_SYNC,
	PG_SENT_KEYS };
struct pg_sent {
	unsigned char part, kind;
	unsigned short idx;
	unsigned depth;
	unsigned rows;                   /* of a pg_add statement, else 0 */
};

/* The statements a transaction may have in flight before it must wait. */
#define PG_SENT_MAX 512

/*
 * Rows of inserts held to be sent as one statement (pg_add): at most
 * PG_ADD_ROWS rows of one statement, of at most PG_ADD_KINDS statements
 * at once, each row's parameters kept in buf (for each, a byte 1 and the
 * text with its NUL, or a byte 0 for NULL).
 */
#define PG_ADD_ROWS 64
#define PG_ADD_KINDS 4
struct pg_adds {
	unsigned char part;
	unsigned short idx;
	int nargs;                       /* parameters a row */
	size_t rows;
	char *buf;
	size_t len, cap;
};

/*
 * The keys taken from an identity sequence at once (see pg_key): what a
 * transaction leaves of its block is never given, and a run's key must
 * stay below 2^39 (recipient runs are keyed run << 24 | index), so a
 * block of runs' keys is small (PG_KEY_BLOCK), or as large as the
 * transaction's requests that make runs (pg_keys_ahead, at most
 * PG_KEY_MAX); messages' keys come PG_KEY_MAX at a time.
 */
#define PG_KEY_BLOCK 16
#define PG_KEY_MAX 64

/*
 * Users and objects read in the open transaction (pg_recipients.c), each
 * valid while its generation is the store's: a write of the recipients'
 * part, a request's rollback and the transaction's end move it on.
 */
#define PG_RCACHE 64
struct pg_rcache {
	char *coll, *id;                 /* coll NULL: a user */
	json_t *props;                   /* NULL: there is none */
	int64_t created, updated;
	uint64_t gen;
};

/*
 * The kinds of due work whose earliest instant pg_next gives: one
 * statement reads all three, and what it read is given again for
 * PG_NEXT_MS while nothing was written to those kinds' tables (a node
 * still looks again at least that often, and other nodes' work comes
 * with their announcements).
 */
enum pg_next { PG_NEXT_FIRES, PG_NEXT_WAITS, PG_NEXT_DELIVERIES, PG_NEXTS };
#define PG_NEXT_MS 100

/* The sequences pg_key takes keys from. */
enum pg_keyseq { PG_KEY_RUNS, PG_KEY_MESSAGES, PG_KEYSEQS };

/*
 * One connection's own state.  The store has two connections: the active
 * one, whose state is the store's own fields of the same names, and the
 * parked one, here, which holds a commit in flight (pg_commit_send) or
 * is idle.  Sending a commit without waiting parks its connection and
 * activates the other (pg_link_swap), so that the next transaction runs
 * while the server makes the first one durable.  Connection 0 is the one
 * that listens for other nodes' announcements.
 */
struct pg_link {
	PGconn *conn;
	unsigned char *prepared[PG_PARTS];
	uint64_t *prepared_rows[PG_PARTS];
	struct pg_sent sent[PG_SENT_MAX];
	size_t nsent;
	int pipe, unsynced, optimistic, doomed, id;
	int commit_st;                   /* the sent commit's status, or -1 */
};

struct store {
	const struct store_ops *ops;     /* first: see store.h */
	PGconn *conn;
	char *conninfo;
	unsigned char *prepared[PG_PARTS]; /* statement i is prepared */
	uint64_t *prepared_rows[PG_PARTS]; /* bit r-1: with r rows (pg_add) */
	struct pg_adds adds[PG_ADD_KINDS]; /* rows held, by first arrival */
	size_t nadds;
	int in_txn;
	size_t depth;                    /* requests open */
	int failed[PG_DEPTH_MAX];       /* an operation of request i failed */
	int retry[PG_DEPTH_MAX];        /* ... as a deadlock's victim */
	int nosave[PG_DEPTH_MAX];       /* request i opened no savepoint */
	int pipe;                        /* the transaction is pipelined */
	int unsynced;                    /* a failure since the last sync */
	int may_hope;                    /* the owner reruns (store_optimistic) */
	int optimistic;                  /* requests end without a wait */
	int doomed;                      /* ... and a statement failed */
	int commit_st;                   /* see struct pg_link */
	int wrote;                       /* the outermost request wrote */
	int64_t next[PG_NEXTS];          /* see pg_next */
	uint64_t next_gen, due_gen;      /* next is valid while they agree */
	int64_t next_at;                 /* monotonic ms of its read */
	int redo;                        /* run the failed one again, careful */
	uint64_t redone;                 /* transactions run again so */
	struct pg_sent sent[PG_SENT_MAX]; /* results not read yet, in order */
	size_t nsent;
	struct pg_rcache rcache[PG_RCACHE]; /* see struct pg_rcache */
	size_t rcache_next;              /* the entry replaced next */
	uint64_t rcache_gen;
	int64_t keys[PG_KEYSEQS][PG_KEY_MAX]; /* this transaction's keys */
	uint64_t txn_gen;                /* transactions begun */
	uint64_t keys_gen;               /* ... the one whose keys are sent */
	size_t key_pos[PG_KEYSEQS], key_n[PG_KEYSEQS]; /* next, how many */
	int retry_last;                  /* the request that ended last did */
	uint64_t errors;
	uint64_t idkey[4];
	char node[64];                   /* this node's name, for leases */
	char *cause;                     /* the last failure's text */
	int64_t due_min;                 /* earliest work made due, to announce */
	int64_t lease_renew_at;          /* engine time of the next renewal */
	int64_t reconnect_at;            /* monotonic ms of the next try */
	int reconnect_wait;              /* ms, doubled up to a bound */
	int link;                        /* the active connection's id */
	int pending;                     /* the parked one holds a commit */
	struct pg_link parked;           /* the other connection */
	/* The outcome of the commit before, read as the next one was sent. */
	int stashed, stash_rc, stash_redo;
	char *stash_cause;
};

/* One statement's parameters, as text (each NULL for SQL NULL). */
struct pg_args {
	int n;
	const char *v[PG_ARGS_MAX];
	char num[PG_ARGS_MAX][24];
	char *own[PG_ARGS_MAX];
};

/* pg.c: parameters, in order ($1, $2, ...). */
void pg_arg_int(struct pg_args *a, int64_t v);   /* STORE_NONE: NULL */
void pg_arg_text(struct pg_args *a, const char *v); /* borrowed; NULL */
void pg_arg_json(struct pg_args *a, json_t *v);  /* dumped; NULL: NULL */
void pg_arg_free(struct pg_args *a);             /* when not run */

/*
 * pg.c: run statement i of part p with a's parameters (freed), returning
 * its result (PQclear it), or NULL after marking the request failed.
 */
PGresult *pg_run(struct store *s, enum pg_part p, int i, struct pg_args *a);

/*
 * pg.c: run it for its effect: 0 or -1.  Inside a transaction it is only
 * sent (pipeline mode): its result is read at the next statement whose
 * result is needed or at the request's end, and a failure found there
 * marks the request that was innermost when it was sent.
 */
int pg_done(struct store *s, enum pg_part p, int i, struct pg_args *a);

/*
 * pg.c: run an INSERT ... VALUES(...) statement for its effect, as
 * pg_done; in an optimistic transaction's outermost request its row is
 * held and sent with the others of its statement as one multi-row
 * INSERT before any other statement is sent (so the inserts of one
 * batch of requests cost one statement each).  Only for statements whose
 * rows depend on nothing else held: the held statements are sent in the
 * order of their first rows.
 */
int pg_add(struct store *s, enum pg_part p, int i, struct pg_args *a);

/* pg.c: run it for its effect: the rows it changed, or -1. */
int64_t pg_changed(struct store *s, enum pg_part p, int i,
    struct pg_args *a);

/*
 * pg.c: when the earliest work of kind k is due (INT64_MAX: none), see
 * enum pg_next.
 */
int64_t pg_next(struct store *s, enum pg_next k);

/* pg.c: run it for the integer in its first row and column, or none. */
int64_t pg_scalar(struct store *s, enum pg_part p, int i, struct pg_args *a,
    int64_t none);

/* pg.c: a result's cells. */
int pg_null(const PGresult *r, int row, int col);
int64_t pg_int(const PGresult *r, int row, int col); /* NULL: STORE_NONE */
char *pg_text(const PGresult *r, int row, int col);  /* new; NULL: NULL */
json_t *pg_json(const PGresult *r, int row, int col); /* new; NULL: NULL */
const char *pg_cell(const PGresult *r, int row, int col); /* or NULL */

/*
 * pg.c: the next key of a sequence for an INSERT that names it, from a
 * block taken in this transaction (none is kept past its end), or -1.
 */
int64_t pg_key(struct store *s, enum pg_keyseq k);

/*
 * pg.c: send, without waiting, a statement that fills the transaction's
 * empty blocks of keys, the runs' one with about runs keys; its result
 * is read with the next statement's (pg_key waits for it if need be).
 */
void pg_keys_ahead(struct store *s, size_t runs);

/* pg.c: note that the transaction made work due at due (announced). */
void pg_due_added(struct store *s, int64_t due);

/* pg.c: mark the innermost request failed, noting what. */
void pg_failed(struct store *s, const char *what);

/*
 * pg.c: leave pipeline mode for a synchronous libpq call, reading what is
 * in flight first (1 if it was on), and enter it again after.
 */
int pg_pipe_pause(struct store *s);
void pg_pipe_resume(struct store *s, int was);

/* pg.c: run sql (no parameters, several statements) now; -1 with *cause. */
int pg_exec(struct store *s, const char *sql, char **cause);

/* Each file's part in store_sweep. */
int pg_idempotency_sweep(struct store *s, int64_t before, int max);
int pg_steps_sweep(struct store *s, int64_t now, int max);
int pg_runs_sweep(struct store *s);

/* pg_recipients.c: free the cache of users and objects read. */
void pg_recipients_cache_free(struct store *s);

/* pg_deliveries.c: at open, end the leases held in this node's name. */
int pg_deliveries_reset(struct store *s);


/* Each file's operations, into the backend's table (pg.c). */
void pg_core_ops(struct store_ops *o);
void pg_attempts_ops(struct store_ops *o);
void pg_audiences_ops(struct store_ops *o);
void pg_bulk_ops(struct store_ops *o);
void pg_deliveries_ops(struct store_ops *o);
void pg_idempotency_ops(struct store_ops *o);
void pg_messages_ops(struct store_ops *o);
void pg_recipients_ops(struct store_ops *o);
void pg_retain_ops(struct store_ops *o);
void pg_runs_ops(struct store_ops *o);
void pg_schedules_ops(struct store_ops *o);
void pg_sources_ops(struct store_ops *o);
void pg_steps_ops(struct store_ops *o);

#endif
