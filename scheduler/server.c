/*
 * The admin API server: the Unix socket and the optional loopback TCP
 * listener (their connections and HTTP framing are http.c's), the central
 * checks every request passes before its handler (shutdown, the Unix
 * peer, the API key or a source's write key, route, method, body size,
 * JSON), and group commit.
 *
 * A request's life: server_head() checks its head before any of its body
 * is read; server_request() parses the body and, unless its route runs
 * inline, queues the request on s->batch and activates the flush event.
 * The flush event has the lowest priority, so it runs once no I/O is
 * pending: every request that arrived meanwhile runs in one transaction
 * (each in its own savepoint), the transaction commits with one fsync, and
 * only then are the replies sent.  If the commit fails every request of
 * the batch gets 500.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "scheduler/scheduler.h"

static void server_flush_cb(evutil_socket_t, short, void *);
static void server_flush(struct sch *);

/* The error body {"code","message","status","type"} for status. */
json_t *
server_error_body(int status, const char *code, const char *message)
{
	const char *type;

	if (status == 401)
		type = "authentication_error";
	else if (status >= 500)
		type = "api_error";
	else
		type = "invalid_request_error";
	return json_pack("{s:s, s:s, s:i, s:s}", "code", code, "message",
	    message != NULL ? message : "", "status", status, "type", type);
}

/* j as compact JSON text ending in a newline, and its length. */
static char *
server_json_text(json_t *j, size_t *len)
{
	char *body = eng_json_dumps(j, JSON_COMPACT);

	*len = strlen(body);
	body = xreallocarray(body, 1, *len + 2);
	memcpy(body + (*len)++, "\n", 2);
	return body;
}

/* Reply with an error body and extra header lines (may be NULL). */
static void
server_error_send(struct http_conn *c, int status, const char *code,
    const char *message, const char *headers, int flags)
{
	json_t *j = server_error_body(status, code, message);
	size_t len;
	char *body = server_json_text(j, &len);

	http_send(c, status, NULL, body, len, headers, flags);
	free(body);
	json_decref(j);
}

/* Reply with an error body built from status, code and message. */
void
server_reply_error(struct http_conn *c, int status, const char *code,
    const char *message, int flags)
{
	server_error_send(c, status, code, message, NULL, flags);
}

/* The default error code and HTTP status for an engine status. */
static int
server_status_of(enum eng_status st, const char **code)
{
	switch (st) {
	case ENG_OK:
		*code = NULL;
		return 200;
	case ENG_INVALID:
		*code = "invalid_params";
		return 422;
	case ENG_NOT_FOUND:
		*code = "resource_missing";
		return 404;
	case ENG_NO_WORKFLOW:
		*code = "workflow_missing";
		return 404;
	case ENG_CONFLICT:
		*code = "conflict";
		return 409;
	case ENG_FORBIDDEN:
		*code = "forbidden";
		return 403;
	case ENG_INTERNAL:
		break;
	}
	*code = "internal_error";
	return 500;
}

/*
 * Turn a handler's outcome into r's answer: status and reply on success,
 * an error body otherwise.  Takes ownership of reply and cause.
 */
static void
server_answer(struct sch_req *r, enum eng_status st, json_t *reply,
    char *cause)
{
	const char *code;
	int status;

	if (st == ENG_OK) {
		if (r->status == 0)
			r->status = (reply != NULL || r->raw != NULL) ? 200 :
			    204;
		r->reply = reply;
		free(cause);
		return;
	}
	json_decref(reply);
	free(r->raw);
	r->raw = NULL;
	r->replayed = 0;
	r->content_type = NULL;
	status = server_status_of(st, &code);
	if (r->code != NULL)
		code = r->code;
	if (st == ENG_INTERNAL)
		log_warnx("%s: %s", r->route->pattern,
		    cause != NULL ? cause : "internal error");
	r->status = status;
	r->reply = server_error_body(status, code,
	    cause != NULL ? cause : "internal error");
	free(cause);
}

/* Forget r's answer, to run its handler again. */
void
server_answer_reset(struct sch_req *r)
{
	json_decref(r->reply);
	r->reply = NULL;
	free(r->raw);
	r->raw = NULL;
	r->replayed = 0;
	r->content_type = NULL;
	r->status = 0;
	r->code = NULL;
}

/* Replace r's answer with a 500 (the batch did not commit). */
void
server_answer_500(struct sch_req *r, const char *why)
{
	json_decref(r->reply);
	free(r->raw);
	r->raw = NULL;
	r->replayed = 0;
	r->content_type = NULL;
	r->status = 500;
	r->reply = server_error_body(500, "internal_error", why);
}

/*
 * Free a request record (not its connection); after a large body, hand
 * the memory it took back to the system.
 */
static void
server_req_free(struct sch_req *r)
{
	int big = r->body_bytes > SCH_TRIM_BODY;

	route_req_free(r);
	if (big)
		malloc_trim(0);
}

/* Send r's answer and free r. */
void
server_send(struct sch_req *r)
{
	char *body = NULL;
	size_t len = 0;

	/* JSON bodies end with a newline (for curl users), others as made. */
	if (r->raw != NULL && r->content_type == NULL) {
		len = strlen(r->raw);
		body = xmalloc(len + 2);
		memcpy(body, r->raw, len);
		memcpy(body + len++, "\n", 2);
	} else if (r->raw != NULL) {
		body = xstrdup(r->raw);
		len = strlen(body);
	} else if (r->reply != NULL)
		body = server_json_text(r->reply, &len);
	http_send(r->conn, r->status, r->content_type, body, len,
	    r->replayed ? "idempotent-replayed: true\r\n" : NULL, 0);
	free(body);
	server_req_free(r);
}

/* Run r's handler now (inside a savepoint when batched). */
enum eng_status
server_exec(struct sch_req *r)
{
	json_t *reply = NULL;
	char *cause = NULL;
	enum eng_status st;

	r->now = sch_now(r->s);
	st = r->route->exec(r, &reply, &cause);
	server_answer(r, st, reply, cause);
	return st;
}

/* Finish an asynchronous request: record its outcome and reply. */
void
server_finish(struct sch_req *r, enum eng_status st, json_t *reply,
    char *cause)
{
	server_answer(r, st, reply, cause);
	server_send(r);
}

/*
 * Parse r's body (len bytes; freed here) if its route takes one; 0, or
 * -1 after replying with the error.
 */
static int
server_body(struct sch_req *r, char *body, size_t len)
{
	json_error_t jerr;
	char msg[300], *cause;
	const char *code;
	int status, rc;

	if (r->route->flags & SCH_ROUTE_SOURCE) {
		rc = api_sources_body(r, body, len, &status, &code, &cause);
		free(body);
		if (rc == 0)
			return 0;
		server_reply_error(r->conn, status, code, cause, 0);
		free(cause);
		return -1;
	}
	if (!(r->route->flags & SCH_ROUTE_BODY) || len == 0) {
		free(body);
		if (r->route->flags & SCH_ROUTE_BODY)
			r->body = json_object();
		return 0;
	}
	r->body = json_loadb(body, len, 0, &jerr);
	free(body);
	if (r->body == NULL) {
		snprintf(msg, sizeof msg, "invalid JSON at line %d, column "
		    "%d: %s", jerr.line, jerr.column, jerr.text);
		server_reply_error(r->conn, 400, "invalid_json", msg, 0);
		return -1;
	}
	if (!json_is_object(r->body)) {
		server_reply_error(r->conn, 422, "invalid_params",
		    "the request body must be a JSON object", 0);
		return -1;
	}
	return 0;
}

/*
 * Whether the peer of a Unix-socket connection may use the admin API:
 * root, the daemon's own user, or a process that has the daemon's group
 * or socket_group as its primary or a supplementary group (the socket is
 * mode 0660; this re-checks what the file mode granted).
 */
static int
server_peer_ok(struct sch *s, struct http_conn *c)
{
	gid_t sg = s->socket_gid;
	uid_t uid;
	gid_t gid;

	if (http_peer(c, &uid, &gid) != 0)
		return 0;
	return uid == 0 || uid == geteuid() || gid == getegid() ||
	    http_peer_in_group(c, getegid()) || (sg != (gid_t)-1 &&
	    (gid == sg || http_peer_in_group(c, sg)));
}

/* What a CORS preflight allows: methods, request headers, seconds. */
#define SERVER_CORS_METHODS "GET, POST, PUT, DELETE, OPTIONS"
#define SERVER_CORS_HEADERS "authorization, content-type, accept, " \
	"x-knock-client, x-knock-user-token, x-knock-branch, idempotency-key"
#define SERVER_CORS_MAX_AGE 7200

/*
 * Answer a CORS preflight from origin, before any key is asked for:
 * 204 with what may be sent (http_send adds the Allow-Origin line), or
 * 403 for an origin that allowed_origins does not list.
 */
static void
server_preflight(struct sch *s, struct http_conn *c, const char *origin)
{
	char hdr[512];

	if (!auth_origin(s, origin)) {
		server_reply_error(c, 403, "origin_not_allowed", "this origin "
		    "is not one of allowed_origins", 0);
		return;
	}
	snprintf(hdr, sizeof hdr, "Access-Control-Allow-Methods: %s\r\n"
	    "Access-Control-Allow-Headers: %s\r\n"
	    "Access-Control-Max-Age: %d\r\n", SERVER_CORS_METHODS,
	    SERVER_CORS_HEADERS, SERVER_CORS_MAX_AGE);
	http_send(c, 204, NULL, NULL, 0, hdr, 0);
}

/*
 * The TCP listener's key check of r (its route may be NULL: not found):
 * a server key may do everything; a public key only what its route
 * allows public keys, for one user -- the user token's (which must be
 * there and verify when user_token_public_key is set, and must name the
 * user in the path), else the user in the path.  A websocket brings its
 * key and token as the query's api_key and user_token.  0, or -1 after
 * answering.
 */
static int
server_auth(struct sch *s, struct http_conn *c, struct sch_req *r)
{
	const struct sch_route *rt = r->route;
	int upgrade = rt != NULL && (rt->flags & SCH_ROUTE_UPGRADE);
	const char *key = auth_bearer(c), *tok, *who, *code;
	char msg[300], *cause = NULL, *user = NULL;
	int status;

	if (upgrade && key == NULL)
		key = json_string_value(json_object_get(r->query, "api_key"));
	if (rt != NULL && (rt->flags & SCH_ROUTE_OPEN))
		return 0;
	switch (auth_key(s, key)) {
	case AUTH_NONE:
		/* Closed without reading a byte of its body. */
		server_reply_error(c, 401, "authentication_required", "a valid "
		    "API key is required: Authorization: Bearer <key>",
		    HTTP_CLOSE);
		return -1;
	case AUTH_SERVER:
		return 0;
	case AUTH_METRICS:
		if (rt != NULL && (rt->flags & SCH_ROUTE_METRICS))
			return 0;
		server_reply_error(c, 403, "metrics_key_not_allowed", "a "
		    "metrics API key reaches only GET /metrics and GET "
		    "/healthz", 0);
		return -1;
	case AUTH_PUBLIC:
		break;
	}
	r->pub = 1;
	if (rt == NULL)
		return 0;
	if (!(rt->flags & SCH_ROUTE_PUBLIC)) {
		snprintf(msg, sizeof msg, "a public API key may not use %s "
		    "%s: it reaches only the feed's user-scoped routes",
		    route_method_name(rt->method), rt->pattern);
		server_reply_error(c, 403, "public_key_not_allowed", msg, 0);
		return -1;
	}
	who = (rt->flags & SCH_ROUTE_USER) ? r->param[0] : NULL;
	if (s->token_key == NULL) {
		r->user = who != NULL ? xstrdup(who) : NULL;
		return 0;
	}
	tok = upgrade ? json_string_value(json_object_get(r->query,
	    "user_token")) : http_header(c, "X-Knock-User-Token");
	if (tok == NULL) {
		server_reply_error(c, 401, "user_token_required", "a public "
		    "API key needs a user token here (X-Knock-User-Token: a "
		    "JWT signed for the user)", 0);
		return -1;
	}
	if ((status = auth_token(s, tok, sch_now(s), &user, &code,
	    &cause)) != 0) {
		server_reply_error(c, status, code, cause, 0);
		free(cause);
		return -1;
	}
	if (who != NULL && strcmp(who, user) != 0) {
		free(user);
		server_reply_error(c, 403, "user_token_mismatch", "the user "
		    "token is for another user", 0);
		return -1;
	}
	r->user = user;
	return 0;
}

/* See scheduler.h: the checks of a request's head. */
int
server_head(struct sch *s, struct http_conn *c, int tcp,
    const struct http_head *h, struct sch_req **out)
{
	struct sch_req *r;
	char allow[64], hdr[80], msg[300], *cause;
	const char *origin, *code;
	int status;

	if (s->stopping) {
		server_reply_error(c, 503, "unavailable", "belfryd is shutting "
		    "down", HTTP_CLOSE);
		return -1;
	}
	if (!tcp && !server_peer_ok(s, c)) {
		log_warnx("refused an admin socket peer without credentials");
		server_reply_error(c, 403, "forbidden", "this user may not use "
		    "the admin socket", HTTP_CLOSE);
		return -1;
	}
	if (tcp && h->method == EVHTTP_REQ_OPTIONS &&
	    (origin = http_header(c, "Origin")) != NULL &&
	    http_header(c, "Access-Control-Request-Method") != NULL) {
		server_preflight(s, c, origin);
		return -1;
	}
	r = xcalloc(1, sizeof *r);
	r->s = s;
	r->conn = c;
	r->tcp = tcp;
	r->route = route_find(r, h->method, h->path, tcp, &status, allow,
	    sizeof allow);
	r->query = route_query(h->query);
	if (r->route != NULL && (r->route->flags & SCH_ROUTE_SOURCE)) {
		/* A source's route: its own write keys, not an API key. */
		if (api_sources_admit(r, &status, &code, &cause) != 0) {
			server_reply_error(c, status, code, cause, HTTP_CLOSE);
			free(cause);
			server_req_free(r);
			return -1;
		}
	} else if (tcp && server_auth(s, c, r) != 0) {
		server_req_free(r);
		return -1;
	}
	if (r->route == NULL) {
		if (status == 405) {
			snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
			snprintf(msg, sizeof msg, "%s is not allowed on %.200s "
			    "(allowed: %s)", route_method_name(h->method),
			    h->path, allow);
			server_error_send(c, 405, "method_not_allowed", msg,
			    hdr, 0);
		} else {
			snprintf(msg, sizeof msg, "no route for %s %.200s",
			    route_method_name(h->method), h->path);
			server_reply_error(c, 404, "not_found", msg, 0);
		}
		server_req_free(r);
		return -1;
	}
	if (r->query == NULL) {
		server_reply_error(c, 400, "invalid_request", "the query "
		    "string does not decode to UTF-8 text", 0);
		server_req_free(r);
		return -1;
	}
	if (route_query_check(r->route, r->query, &cause) != 0) {
		server_reply_error(c, 422, "invalid_params", cause, 0);
		free(cause);
		server_req_free(r);
		return -1;
	}
	if (r->route->flags & SCH_ROUTE_UPGRADE) {
		/* Answered, and the connection taken, by ws.c. */
		ws_upgrade(r, h->body);
		return -1;
	}
	*out = r;
	return 0;
}

/* See scheduler.h: forget a request whose body never came. */
void
server_drop(struct sch_req *r)
{
	server_req_free(r);
}

/* See scheduler.h: r's body is in; run r inline, async or batched. */
void
server_request(struct sch_req *r, char *body, size_t len)
{
	struct sch *s = r->s;
	enum eng_status st;

	r->body_bytes = len;
	if (server_body(r, body, len) != 0) {
		server_req_free(r);
		return;
	}
	if (r->route->flags & SCH_ROUTE_ASYNC) {
		/* The handler keeps r and calls server_finish() later. */
		json_t *reply = NULL;
		char *cause = NULL;

		r->now = sch_now(s);
		st = r->route->exec(r, &reply, &cause);
		if (st != ENG_OK)
			server_finish(r, st, reply, cause);
		return;
	}
	if (r->route->flags & SCH_ROUTE_INLINE) {
		server_exec(r);
		server_send(r);
		return;
	}
	TAILQ_INSERT_TAIL(&s->batch, r, entry);
	if (++s->nbatch >= SCH_MAX_BATCH ||
	    s->nbatch >= eng_group_max(s->eng))
		server_flush(s);
	else
		server_kick(s);
}

/* Make sure a flush runs soon (once pending I/O is handled). */
void
server_kick(struct sch *s)
{
	/* Activating an active event again does nothing. */
	event_active(s->flush_ev, EV_TIMEOUT, 0);
}

/*
 * The flush: every queued request, delivery outcome and the work due now
 * in one transaction (txn_run), then the replies, then the pushes to the
 * feeds' websockets.
 */
static void
server_flush(struct sch *s)
{
	struct sch_reqs batch;
	struct sch_outcomes outs;
	struct sch_req *r;
	struct sch_outcome *o;
	int failed = 0;

	TAILQ_INIT(&batch);
	TAILQ_CONCAT(&batch, &s->batch, entry);
	s->nbatch = 0;
	TAILQ_INIT(&outs);
	TAILQ_CONCAT(&outs, &s->outcomes, entry);
	if (TAILQ_EMPTY(&batch) && TAILQ_EMPTY(&outs))
		goto rearm;
	if (txn_run(s, &batch, &outs) < 0) {
		failed = 1;
		/* Keep the outcomes for the next flush. */
		TAILQ_CONCAT(&outs, &s->outcomes, entry);
		TAILQ_CONCAT(&s->outcomes, &outs, entry);
	}
	while ((r = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, r, entry);
		server_send(r);
	}
	ws_push(s);
	while ((o = TAILQ_FIRST(&outs)) != NULL) {
		TAILQ_REMOVE(&outs, o, entry);
		outbound_outcome_free(o);
	}
rearm:
	if (s->stopping)
		return;
	if (failed) {
		/* The store is failing: retry in a second, not in a loop. */
		struct timeval tv = { 1, 0 };

		evtimer_add(s->due_ev, &tv);
		return;
	}
	clock_rearm(s);
	clock_advance_kick(s);
}

/* The flush event's callback. */
static void
server_flush_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	server_flush(arg);
}

/* Flush at once (at shutdown). */
void
server_flush_now(struct sch *s)
{
	while (s->npend > 0)
		txn_pending(s, 1);
	server_flush(s);
}

/*
 * Create the Unix socket at path safely: refuse a path that exists and is
 * not a socket, or a socket that something answers on; remove a stale
 * socket; bind under a umask that makes it mode 0660, owned by group
 * (socket_group; (gid_t)-1: the daemon's).  The listening fd, or -1 with
 * *cause.
 */
static int
server_unix_socket(const char *path, gid_t group, char **cause)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, probe;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("socket path %s is too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*cause = xasprintf("%s exists and is not a socket: "
			    "refusing to replace it", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe == -1) {
			*cause = xasprintf("socket: %s", strerror(errno));
			return -1;
		}
		if (connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0) {
			close(probe);
			*cause = xasprintf("%s: another belfryd is listening "
			    "there", path);
			return -1;
		}
		if (errno != ECONNREFUSED && errno != ENOENT) {
			*cause = xasprintf("%s: %s", path, strerror(errno));
			close(probe);
			return -1;
		}
		close(probe);
		if (unlink(path) != 0 && errno != ENOENT) {
			*cause = xasprintf("unlink %s: %s", path,
			    strerror(errno));
			return -1;
		}
		log_info("removed the stale socket %s", path);
	} else if (errno != ENOENT) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		umask(old);
		*cause = xasprintf("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if ((group != (gid_t)-1 && chown(path, (uid_t)-1, group) != 0) ||
	    chmod(path, 0660) != 0 || listen(fd, SOMAXCONN) != 0) {
		*cause = xasprintf("%s: %s", sun.sun_path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/*
 * The TCP listener's "HOST:PORT", checked by eng_listen_parse (as
 * belfry.conf's listen is; tls: with TLS), into ss and *sslen; -1 with
 * *cause.
 */
static int
server_tcp_addr(const char *listen_at, int tls, struct sockaddr_storage *ss,
    socklen_t *sslen, char **cause)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[64];
	int port;

	if (eng_listen_parse(listen_at, tls, host, sizeof host, &port,
	    cause) != 0)
		return -1;
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*sslen = sizeof *sin;
	} else {
		inet_pton(AF_INET6, host, &sin6->sin6_addr);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof *sin6;
	}
	return 0;
}

/*
 * Listen on the TCP address ss (from server_tcp_addr): the listening fd
 * and the bound port, or -1 with *cause.
 */
static int
server_tcp_socket(const char *listen_at, struct sockaddr_storage *ss,
    socklen_t sslen, int *port, char **cause)
{
	int fd, on = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (bind(fd, (struct sockaddr *)ss, sslen) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		*cause = xasprintf("listen on %s: %s", listen_at,
		    strerror(errno));
		close(fd);
		return -1;
	}
	sslen = sizeof *ss;
	if (getsockname(fd, (struct sockaddr *)ss, &sslen) == 0)
		*port = ntohs(ss->ss_family == AF_INET ?
		    ((struct sockaddr_in *)ss)->sin_port :
		    ((struct sockaddr_in6 *)ss)->sin6_port);
	return fd;
}

/*
 * Open the listeners and the flush event.  The TCP address is checked
 * before the Unix socket is created, and a TCP listener that cannot bind
 * removes the Unix socket again, so a refused start leaves nothing behind.
 */
int
server_start(struct sch *s, char **cause)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	int fd, tcp = 0;

	TAILQ_INIT(&s->batch);
	TAILQ_INIT(&s->outcomes);
	TAILQ_INIT(&s->advances);
	s->flush_ev = event_new(s->base, -1, 0, server_flush_cb, s);
	if (s->flush_ev == NULL)
		fatalx("event_new failed");
	event_priority_set(s->flush_ev, 2);

	ws_init(s);
	if (s->listen != NULL) {
		if (eng_config_api_key_count(eng_config(s->eng)) == 0 &&
		    eng_config_public_key_count(eng_config(s->eng)) == 0 &&
		    eng_config_metrics_key_count(eng_config(s->eng)) == 0 &&
		    eng_config_source_count(eng_config(s->eng)) == 0)
			log_warnx("listen %s: no api_keys, public_api_keys or "
			    "sources configured, so no TCP listener", s->listen);
		else if (server_tcp_addr(s->listen, s->tls != NULL, &ss,
		    &sslen, cause) != 0)
			return -1;
		else
			tcp = 1;
	}

	if ((fd = server_unix_socket(s->socket_path, s->socket_gid, cause)) ==
	    -1)
		return -1;
	s->http_unix = http_listen(s, fd, 0, s->socket_path);
	log_info("listening on %s", s->socket_path);
	if (tcp) {
		fd = server_tcp_socket(s->listen, &ss, sslen, &s->listen_port,
		    cause);
		if (fd == -1) {
			unlink(s->socket_path);
			return -1;
		}
		s->http_tcp = http_listen(s, fd, 1, s->listen);
		log_info("listening on %s (port %d%s)", s->listen,
		    s->listen_port, s->tls != NULL ? ", TLS" : "");
	}
	http_limits(s);
	return 0;
}

/* Stop accepting connections (the open ones stay); remove the socket. */
void
server_close_listeners(struct sch *s)
{
	http_listener_close(s->http_tcp);
	if (http_listener_close(s->http_unix))
		unlink(s->socket_path);
}

/* Close every connection and free the listeners. */
void
server_stop(struct sch *s)
{
	server_close_listeners(s);
	ws_stop(s);
	http_listener_free(s->http_tcp);
	http_listener_free(s->http_unix);
	s->http_tcp = s->http_unix = NULL;
	if (s->flush_ev != NULL)
		event_free(s->flush_ev);
	s->flush_ev = NULL;
}
