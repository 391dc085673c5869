/*
 * scheduler: belfryd, the daemon around the engine -- one libevent loop,
 * the admin API (HTTP/1.1 + JSON on a Unix socket and an optional loopback
 * TCP port), group commit, the clock and the timer, outgoing deliveries
 * (webhooks and email through libcurl), signals and systemd notification.
 * belfryctl's client lives here too.
 *
 * Clock model: sch_now() is the only clock the daemon reads.  It is the
 * wall clock, or, when belfryd was started with --virtual-clock, a virtual
 * instant that moves only through POST /admin/clock.  Everything handed to
 * the engine takes its `now` from sch_now().
 *
 * Group commit: API requests that need the store are queued as they are
 * parsed; a flush event at the lowest priority runs once no I/O is pending
 * and executes the whole queue inside one transaction, each request in its
 * own savepoint, then commits (one fsync) and only then sends the replies.
 * A 200 therefore means the work is durable.
 *
 * Single-threaded: nothing here takes a lock.
 */
#ifndef BELFRY_SCHEDULER_H
#define BELFRY_SCHEDULER_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "engine/engine.h"

/* BELFRY_VERSION: the VERSION file, given by the Makefile (-D). */

/* Request bodies larger than this get 413 request_too_large. */
#define SCH_MAX_BODY (10 * 1024 * 1024)

/*
 * After a request whose body was larger than this, the memory it took is
 * handed back to the system (malloc_trim).
 */
#define SCH_TRIM_BODY (1024 * 1024)

/*
 * A batch this large is flushed at once rather than when I/O goes quiet,
 * so that a steady stream of new connections cannot starve the commit.
 */
#define SCH_MAX_BATCH 4096

/* At most this many deliveries (all channels) are taken at once. */
#define SCH_MAX_INFLIGHT 256

/*
 * Descriptors kept out of the listeners' share of the open-file limit:
 * the connections libcurl may keep (CURLMOPT_MAXCONNECTS, outbound.c),
 * and the database, its log, DNS, the notify socket, config files being
 * read, stdio and the loop's own.
 */
#define SCH_FD_RESERVE (SCH_MAX_INFLIGHT + 64)

/* ---- the daemon's state (belfryd.c) ---- */

struct event_base;
struct event;
struct sch_req;
struct http_conn;
struct http_listener;
struct evp_pkey_st;              /* OpenSSL's EVP_PKEY */
struct ssl_ctx_st;               /* OpenSSL's SSL_CTX */
struct ws_hub;

/*
 * A delivery attempt's outcome waiting to be recorded by the next flush
 * (outbound_record); everything in it is its own.
 */
struct sch_outcome {
	int64_t id;                  /* the delivery's handle */
	char *channel, *message_id;
	int attempt;
	enum eng_attempt_result result;
	char *error;                 /* NULL when ok */
	int64_t at, duration_us;
	char *request, *response;    /* the log's JSON text, NULL for none */
	TAILQ_ENTRY(sch_outcome) entry;
};
TAILQ_HEAD(sch_outcomes, sch_outcome);
TAILQ_HEAD(sch_reqs, sch_req);

/* Buckets of the fire lateness histogram (upper bounds, seconds). */
#define SCH_LATE_BUCKETS 14
extern const double sch_late_bounds[SCH_LATE_BUCKETS]; /* last: +Inf */

/* Counters kept by the scheduler itself (the engine keeps the rest). */
struct sch_counters {
	uint64_t http[600];      /* replies by status code */
	uint64_t commits;        /* transactions committed (txn_run) */
	uint64_t checkpoints;    /* log checkpoints run by the timer */
	uint64_t batched;        /* API requests in those transactions */
	uint64_t pushes;         /* new-message pushes to websockets */
	uint64_t late[SCH_LATE_BUCKETS]; /* fire lateness, cumulative */
	double late_sum;
};

struct outbound;

struct sch {
	struct event_base *base;
	struct eng *eng;
	struct outbound *outbound; /* outgoing deliveries (outbound.c) */

	char *config_dir;
	char *opt_socket;        /* command-line overrides, or NULL */
	char *opt_database;
	char *opt_listen;
	char *socket_path;       /* the values in force */
	char *database;
	char *listen;            /* NULL: no TCP listener */
	int listen_port;         /* the TCP port actually bound */

	struct http_listener *http_unix;
	struct http_listener *http_tcp; /* NULL: no TCP listener */
	struct evp_pkey_st *token_key; /* verifies user tokens, or NULL */
	struct ssl_ctx_st *tls;  /* the TCP listener's TLS, or NULL */
	struct ws_hub *ws;       /* the open websockets (ws.c) */
	int nofile;              /* the open-file limit (soft) in force */

	gid_t socket_gid;        /* socket_group's, or (gid_t)-1 */
	/* The last reload (POST /admin/reload, SIGHUP), for status/metrics. */
	int64_t reload_at;       /* sch_now() of it; 0: none yet */
	char *reload_error;      /* why it failed, NULL when it worked */
	uint64_t reloads_ok, reloads_failed;

	int64_t started;         /* sch_now() at start-up */
	uint64_t started_mono;   /* monotonic microseconds at start-up */
	int virtual_clock;
	int64_t vnow;

	struct event *flush_ev;  /* lowest priority: group commit */
	struct event *due_ev;    /* the one timer, armed for eng_next_due() */
	struct event *watchdog_ev;
	struct event *sig_hup, *sig_term, *sig_int;
	struct event *advance_ev;
	struct event *housekeep_ev; /* housekeeping between bursts (clock.c) */
	int64_t stalled_due;     /* a due instant whose run did nothing */
	int64_t armed_due;       /* what due_ev is armed for, or INT64_MAX */
	struct event *listen_ev; /* other nodes' announcements (clock.c) */
	int listen_fd;           /* the descriptor listen_ev watches */
	struct eng_stats logged; /* the counters of the last fires log line */
	int catching_up;         /* clock_catch_up is running */

	struct sch_reqs batch;       /* parsed requests waiting for a flush */
	size_t nbatch;
	struct sch_outcomes outcomes; /* delivery results waiting for a flush */
	struct sch_reqs advances;    /* POST /admin/clock waiting to finish */
	size_t inflight;             /* deliveries taken, not yet recorded */
	int stopping;

	/*
	 * The batches whose commits were sent, their outcomes not known,
	 * oldest first, each with its feeds' changes, pushed after (txn.c).
	 */
	struct sch_pending {
		struct sch_reqs batch;
		struct eng_push *pushes;
		size_t npushes;
		int all;
	} pend[ENG_PENDING_MAX];
	size_t npend;
	struct event *pend_ev;        /* the oldest's outcome is arriving */

	struct sch_counters counters;
	struct sch_backup *backup;   /* the backup in progress, or NULL */
};

/* The clock: wall time, or the virtual instant. */
int64_t sch_now(const struct sch *s);

/* Re-read the configuration; -1 with *cause (the old one stays). */
int sch_reload(struct sch *s, char **cause);

/* ---- hot backups (backup.c) ---- */

struct sch_backup;

/*
 * Start copying the database to path for r, which is answered when the
 * copy is complete (ENG_OK: r is the backup's now); an error status with
 * *cause when it cannot start.
 */
enum eng_status backup_start(struct sch_req *r, const char *path,
    char **cause);

/* Abandon the backup in progress at shutdown, answering its request. */
void backup_stop(struct sch *s);

/* ---- the API server (server.c) ---- */

/* Route flags. */
#define SCH_ROUTE_BODY   0x01 /* takes a JSON object body ({} when empty) */
#define SCH_ROUTE_INLINE 0x02 /* runs at once, outside the batch */
#define SCH_ROUTE_LOCAL  0x04 /* Unix socket only (404 over TCP) */
#define SCH_ROUTE_ASYNC  0x08 /* the handler replies later (server_finish) */
/*
 * A source's tracking route: authenticated by the route's own check
 * (api_sources_admit: a source write key) instead of an API key, its body
 * read by api_sources_body instead of as a JSON object.
 */
#define SCH_ROUTE_SOURCE 0x10
#define SCH_ROUTE_PUBLIC 0x20 /* public API keys may use it too */
#define SCH_ROUTE_USER   0x40 /* {id}, the first parameter, is the user */
#define SCH_ROUTE_UPGRADE 0x80 /* a websocket (ws.c takes the connection) */
#define SCH_ROUTE_OPEN   0x100 /* no key needed on TCP (GET /healthz) */
#define SCH_ROUTE_METRICS 0x200 /* metrics_api_keys may use it too */
#define SCH_ROUTE_RCPTS  0x400 /* its body's "recipients" are read ahead */

#define SCH_MAX_PARAMS 4

/*
 * An API route: method (EVHTTP_REQ_*), a pattern of literal segments and
 * "{name}" parameters, and the handler, which returns ENG_OK and sets
 * *reply (NULL: 204), or an error status and *cause.  query lists, space
 * separated, the query parameters the handler honours (NULL: none); any
 * other is refused before the handler runs (route_query_check).
 */
struct sch_route {
	int method;
	const char *pattern;
	enum eng_status (*exec)(struct sch_req *, json_t **, char **);
	int flags;
	const char *arg;
	const char *query;
};

/* One API request, from parsing to the reply. */
struct sch_req {
	struct sch *s;
	struct http_conn *conn;      /* NULL: not from a connection */
	const struct sch_route *route;
	int tcp;                     /* arrived on the TCP listener */
	int pub;                     /* with a public API key */
	char *user;                  /* pub: the user it acts for, or NULL */
	char *param[SCH_MAX_PARAMS]; /* decoded path parameters */
	size_t nparam;
	json_t *body;                /* the JSON body, or NULL */
	json_t *query;               /* query string: object of strings */
	int64_t now;

	/* The answer, filled by the handler and the dispatcher. */
	int status;                  /* success status (0: 200 or 204) */
	const char *code;            /* error code instead of the default */
	json_t *reply;
	char *raw;                   /* a body as text instead of reply */
	const char *content_type;    /* of raw; NULL: application/json */
	int replayed;
	int64_t target;              /* POST /admin/clock: the target */
	size_t body_bytes;           /* the body's size on the wire */

	TAILQ_ENTRY(sch_req) entry;
};

extern const struct sch_route sch_routes[];
extern const size_t sch_nroutes;

int server_start(struct sch *s, char **cause);
void server_close_listeners(struct sch *s);
void server_stop(struct sch *s);
void server_flush_now(struct sch *s);
void server_kick(struct sch *s);
enum eng_status server_exec(struct sch_req *r);
void server_answer_500(struct sch_req *r, const char *why);
/* Send r's answer and free r. */
void server_send(struct sch_req *r);
void server_answer_reset(struct sch_req *r);
void server_finish(struct sch_req *r, enum eng_status st, json_t *reply,
    char *cause);
void server_reply_error(struct http_conn *c, int status, const char *code,
    const char *message, int flags);
json_t *server_error_body(int status, const char *code, const char *message);

/* What http.c hands server.c once a request's head is complete. */
struct http_head {
	int method;              /* EVHTTP_REQ_* (HEAD answered as GET) */
	const char *target;      /* as sent, for the log */
	const char *path;        /* the target's path, not yet decoded */
	const char *query;       /* after '?', or NULL */
	int body;                /* a body follows (Content-Length or chunked) */
};

/*
 * A request's head is complete (http.c calls this before reading any of
 * its body): the central checks that need no body -- shutdown, the Unix
 * peer, the API key, the route.  0 with *out, the request to complete
 * with server_request(); -1 after answering it.
 */
int server_head(struct sch *s, struct http_conn *c, int tcp,
    const struct http_head *h, struct sch_req **out);
/* Its body has arrived: len bytes (at most SCH_MAX_BODY), taken. */
void server_request(struct sch_req *r, char *body, size_t len);
/* Its connection ended before the body arrived: forget it. */
void server_drop(struct sch_req *r);

/* ---- keys, user tokens and origins (auth.c) ---- */

enum auth_kind { AUTH_NONE, AUTH_SERVER, AUTH_PUBLIC, AUTH_METRICS };

enum auth_kind auth_key(struct sch *s, const char *key);
const char *auth_bearer(struct http_conn *c);
int auth_origin(struct sch *s, const char *origin);
int auth_load(const struct eng_config *c, struct evp_pkey_st **out,
    char **cause);
int auth_token(struct sch *s, const char *tok, int64_t now, char **user,
    const char **code, char **cause);

/* ---- the HTTP/1.1 server side (http.c) ---- */

/* Reply flags. */
#define HTTP_CLOSE 0x01          /* close the connection after this reply */

struct http_listener *http_listen(struct sch *s, int fd, int tcp,
    const char *name);
int http_listener_close(struct http_listener *l);
void http_listener_free(struct http_listener *l);
void http_limits(struct sch *s);
const char *http_header(const struct http_conn *c, const char *name);
int http_peer(const struct http_conn *c, uid_t *uid, gid_t *gid);
int http_peer_in_group(const struct http_conn *c, gid_t g);
void http_send(struct http_conn *c, int status, const char *ctype,
    const char *body, size_t len, const char *headers, int flags);
struct bufferevent *http_detach(struct http_conn *c,
    struct http_listener **l);
void http_release(struct http_listener *l);

/* ---- TLS on the TCP listener (tls.c) ---- */

int tls_load(const struct eng_config *c, struct ssl_ctx_st **out,
    char **cause);
void tls_free(struct ssl_ctx_st *ctx);

/* ---- websockets: Knock's real-time feed (ws.c) ---- */

void ws_init(struct sch *s);
void ws_upgrade(struct sch_req *r, int body);
void ws_push(struct sch *s);
/* ws_push for changes taken from the engine before (freed). */
void ws_push_taken(struct sch *s, struct eng_push *p, size_t n, int all);
int64_t ws_heard(struct sch *s);
void ws_stop(struct sch *s);
size_t ws_count(const struct sch *s);

/* ---- routing without a transport (route.c) ---- */

char *route_decode(const char *p, size_t len, int plus);
json_t *route_query(const char *q);
const char *route_method_name(int m);
int route_query_check(const struct sch_route *rt, json_t *query,
    char **cause);
const struct sch_route *route_find(struct sch_req *r, int method,
    const char *path, int tcp, int *status, char *allow, size_t allowlen);
void route_req_free(struct sch_req *r);

/* ---- route handlers (api_*.c) ---- */

const char *api_header(struct sch_req *r, const char *name);
enum eng_status api_idempotent(struct sch_req *r, json_t **reply,
    char **cause, enum eng_status (*h)(struct sch_req *, json_t **,
    char **));

enum eng_status api_users_put(struct sch_req *, json_t **, char **);
enum eng_status api_users_get(struct sch_req *, json_t **, char **);
enum eng_status api_users_delete(struct sch_req *, json_t **, char **);
enum eng_status api_users_prefs_put(struct sch_req *, json_t **, char **);
enum eng_status api_users_prefs_get(struct sch_req *, json_t **, char **);
enum eng_status api_users_messages(struct sch_req *, json_t **, char **);
enum eng_status api_users_feed(struct sch_req *, json_t **, char **);
enum eng_status api_users_feed_settings(struct sch_req *, json_t **,
    char **);

enum eng_status api_objects_put(struct sch_req *, json_t **, char **);
enum eng_status api_objects_get(struct sch_req *, json_t **, char **);
enum eng_status api_objects_delete(struct sch_req *, json_t **, char **);
enum eng_status api_objects_subs_add(struct sch_req *, json_t **, char **);
enum eng_status api_objects_subs_remove(struct sch_req *, json_t **, char **);
enum eng_status api_objects_subs_list(struct sch_req *, json_t **, char **);
enum eng_status api_audiences_add(struct sch_req *, json_t **, char **);
enum eng_status api_audiences_remove(struct sch_req *, json_t **, char **);
enum eng_status api_audiences_list(struct sch_req *, json_t **, char **);

/* api_bulk.c */
enum eng_status api_bulk_start(struct sch_req *, json_t **, char **);
enum eng_status api_bulk_get(struct sch_req *, json_t **, char **);
enum eng_status api_bulk_tenants_delete(struct sch_req *, json_t **,
    char **);

/* api_schedules.c */
enum eng_status api_schedules_create(struct sch_req *, json_t **, char **);
enum eng_status api_schedules_update(struct sch_req *, json_t **, char **);
enum eng_status api_schedules_delete(struct sch_req *, json_t **, char **);
enum eng_status api_schedules_list(struct sch_req *, json_t **, char **);
enum eng_status api_schedules_user(struct sch_req *, json_t **, char **);
enum eng_status api_schedules_object(struct sch_req *, json_t **, char **);
enum eng_status api_schedules_preview(struct sch_req *, json_t **, char **);
enum eng_status api_schedules_get(struct sch_req *, json_t **, char **);
enum eng_status api_admin_sched_workflows(struct sch_req *, json_t **,
    char **);

/* api_recipients.c: what users and objects share, lists and merges. */
enum eng_status api_rcpt_cd_get(struct sch_req *, json_t **, char **);
enum eng_status api_rcpt_cd_put(struct sch_req *, json_t **, char **);
enum eng_status api_rcpt_cd_delete(struct sch_req *, json_t **, char **);
enum eng_status api_rcpt_prefs_list(struct sch_req *, json_t **, char **);
enum eng_status api_rcpt_prefs_delete(struct sch_req *, json_t **, char **);
enum eng_status api_rcpt_prefs_key(struct sch_req *, json_t **, char **);
enum eng_status api_users_list(struct sch_req *, json_t **, char **);
enum eng_status api_users_merge(struct sch_req *, json_t **, char **);
enum eng_status api_users_subs(struct sch_req *, json_t **, char **);
enum eng_status api_objects_list(struct sch_req *, json_t **, char **);
enum eng_status api_objects_prefs_get(struct sch_req *, json_t **, char **);
enum eng_status api_objects_prefs_put(struct sch_req *, json_t **, char **);
enum eng_status api_objects_messages(struct sch_req *, json_t **, char **);
enum eng_status api_tenants_list(struct sch_req *, json_t **, char **);

enum eng_status api_tenants_put(struct sch_req *, json_t **, char **);
enum eng_status api_tenants_get(struct sch_req *, json_t **, char **);
enum eng_status api_tenants_delete(struct sch_req *, json_t **, char **);

enum eng_status api_workflows_trigger(struct sch_req *, json_t **, char **);
enum eng_status api_workflows_cancel(struct sch_req *, json_t **, char **);
enum eng_status api_notify(struct sch_req *, json_t **, char **);
enum eng_status api_notify_cancel(struct sch_req *, json_t **, char **);

enum eng_status api_messages_get(struct sch_req *, json_t **, char **);
enum eng_status api_messages_list(struct sch_req *, json_t **, char **);
enum eng_status api_messages_content(struct sch_req *, json_t **, char **);
enum eng_status api_messages_batch_content(struct sch_req *, json_t **,
    char **);
enum eng_status api_messages_activities(struct sch_req *, json_t **,
    char **);
enum eng_status api_messages_events(struct sch_req *, json_t **, char **);
enum eng_status api_messages_mark(struct sch_req *, json_t **, char **);
enum eng_status api_messages_unmark(struct sch_req *, json_t **, char **);
enum eng_status api_messages_batch(struct sch_req *, json_t **, char **);
enum eng_status api_messages_bulk(struct sch_req *, json_t **, char **);
enum eng_status api_messages_runs_list(struct sch_req *, json_t **, char **);
enum eng_status api_messages_run_get(struct sch_req *, json_t **, char **);
enum eng_status api_messages_delivery_logs(struct sch_req *, json_t **,
    char **);

/*
 * api_sources.c.  admit: whether r's head carries a write key of the
 * source in its path; body: r's body (len bytes of data) decoded, within
 * Segment's limits, parsed into r->body.  Both: 0, or -1 with the error's
 * *status, *code and *cause for the reply.
 */
int api_sources_admit(struct sch_req *r, int *status, const char **code,
    char **cause);
int api_sources_body(struct sch_req *r, const char *data, size_t len,
    int *status, const char **code, char **cause);
enum eng_status api_sources_receive(struct sch_req *, json_t **, char **);
enum eng_status api_sources_list(struct sch_req *, json_t **, char **);
enum eng_status api_sources_events(struct sch_req *, json_t **, char **);

enum eng_status api_admin_status(struct sch_req *, json_t **, char **);
enum eng_status api_admin_reload(struct sch_req *, json_t **, char **);
enum eng_status api_admin_metrics(struct sch_req *, json_t **, char **);
enum eng_status api_admin_clock(struct sch_req *, json_t **, char **);
enum eng_status api_admin_backup(struct sch_req *, json_t **, char **);
enum eng_status api_admin_deliveries(struct sch_req *, json_t **, char **);

void api_admin_metric(FILE *f, const char *name, const char *type,
    const char *help, uint64_t v);

/* api_metrics.c: GET /healthz; /metrics' process and store families. */
enum eng_status api_metrics_healthz(struct sch_req *, json_t **, char **);
void api_metrics_ops(struct sch *s, FILE *f);
json_t *api_metrics_status(struct sch *s);

/* ---- the one transaction driver (txn.c) ---- */

int txn_run(struct sch *s, struct sch_reqs *batch,
    struct sch_outcomes *outs);
/*
 * Answer the oldest batch whose commit was sent (txn_run may leave one),
 * once its outcome is known, waiting for it if wait; 1 if it is still
 * not, 0 when it was answered or there was none.
 */
int txn_pending(struct sch *s, int wait);

/* ---- the timer and the virtual clock (clock.c) ---- */

int clock_init(struct sch *s);
void clock_rearm(struct sch *s);
void clock_listen(struct sch *s);
void clock_fired(struct sch *s);
void clock_catch_up(struct sch *s);
void clock_advance_start(struct sch_req *r);
void clock_advance_kick(struct sch *s);
void clock_wake(struct sch *s);
int clock_parse_target(struct sch *s, json_t *body, int64_t *target,
    char **cause);

/* ---- outgoing deliveries (outbound.c, webhook.c, email.c) ---- */

int outbound_init(struct sch *s, char **cause);
void outbound_free(struct sch *s);
size_t outbound_take(struct sch *s, int64_t now, struct eng_delivery *out,
    size_t max);
void outbound_start(struct sch *s, struct eng_delivery *d, size_t n);
void outbound_record(struct sch *s, struct sch_outcome *o, int64_t now);
void outbound_outcome_free(struct sch_outcome *o);
void outbound_metrics(struct sch *s, FILE *f);

/* ---- belfryctl's HTTP client over the Unix socket (client.c) ---- */

int client_request(const char *sock, const char *method, const char *path,
    const char *body, int *status, char **reply, char **cause);
char *client_path_escape(const char *s);

#endif /* BELFRY_SCHEDULER_H */
