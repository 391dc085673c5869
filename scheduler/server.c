/*
 * The admin API server: the Unix socket and the optional loopback TCP
 * listener, the central checks every request passes before its handler
 * (authentication, route, method, body size, JSON), and group commit.
 *
 * A request's life: server_request_cb() parses and checks it and, unless
 * its route runs inline, queues it on s->batch and activates the flush
 * event.  The flush event has the lowest priority, so it runs once no I/O
 * is pending: every request that arrived meanwhile runs in one transaction
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "scheduler/scheduler.h"

/* Which listener a request came in on. */
struct server_ctx {
	struct sch *s;
	int tcp;
};

static struct server_ctx server_ctx_unix, server_ctx_tcp;
static struct evhttp_bound_socket *server_bound_unix, *server_bound_tcp;

static void server_request_cb(struct evhttp_request *, void *);
static void server_flush_cb(evutil_socket_t, short, void *);
static void server_flush(struct sch *, int);

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

/* Send status with body (may be NULL) and count it. */
static void
server_send_raw(struct sch *s, struct evhttp_request *req, int status,
    const char *body, int replayed, const char *ctype)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL)
		fatalx("evbuffer_new failed");
	if (status >= 100 && status < 600)
		s->counters.http[status]++;
	if (body != NULL && status != 204) {
		evhttp_add_header(h, "Content-Type", ctype != NULL ? ctype :
		    "application/json");
		evbuffer_add(buf, body, strlen(body));
		if (ctype == NULL)
			evbuffer_add(buf, "\n", 1);
	}
	if (replayed)
		evhttp_add_header(h, "idempotent-replayed", "true");
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

/* Reply with an error body built from status, code and message. */
void
server_reply_error(struct sch *s, struct evhttp_request *req, int status,
    const char *code, const char *message)
{
	json_t *j = server_error_body(status, code, message);
	char *body = eng_json_dumps(j, JSON_COMPACT);

	server_send_raw(s, req, status, body, 0, NULL);
	free(body);
	json_decref(j);
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

/* Replace r's answer with a 500 (the batch did not commit). */
static void
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

/* Free a request record (not the evhttp request). */
static void
server_req_free(struct sch_req *r)
{
	size_t i;

	for (i = 0; i < r->nparam; i++)
		free(r->param[i]);
	json_decref(r->body);
	json_decref(r->query);
	json_decref(r->reply);
	free(r->raw);
	free(r);
}

/* Send r's answer and free r. */
static void
server_send(struct sch_req *r)
{
	char *body = NULL;
	const char *m;

	if (r->raw != NULL)
		body = xstrdup(r->raw);
	else if (r->reply != NULL)
		body = eng_json_dumps(r->reply, JSON_COMPACT);
	m = evhttp_request_get_uri(r->req);
	log_debug("%s %s -> %d", r->route != NULL ? r->route->pattern : "?",
	    m != NULL ? m : "", r->status);
	server_send_raw(r->s, r->req, r->status, body, r->replayed,
	    r->content_type);
	free(body);
	server_req_free(r);
}

/* Run r's handler now (inside a savepoint when batched). */
static enum eng_status
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

/* Compare a presented key with a configured one in constant time. */
static int
server_key_equal(const char *given, const char *key)
{
	size_t lg = strlen(given), lk = strlen(key), i;
	unsigned char diff = 0;

	/* Time depends only on the length of what the client sent. */
	diff |= (unsigned char)(lg != lk);
	for (i = 0; i < lg; i++)
		diff |= (unsigned char)given[i] ^
		    (unsigned char)(lk ? key[i % lk] : 0);
	if (lk == 0)
		diff |= 1;
	return diff == 0;
}

/* Whether the request carries "Authorization: Bearer KEY" of a known key. */
static int
server_authorized(struct sch *s, struct evhttp_request *req)
{
	const struct eng_config *c = eng_config(s->eng);
	const char *h;
	size_t i, n;
	int ok = 0;

	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	n = c != NULL ? eng_config_api_key_count(c) : 0;
	for (i = 0; i < n; i++)
		ok |= server_key_equal(h, eng_config_api_key(c, i));
	return ok;
}

/* Parse the body of r; 0, or -1 after replying with the error. */
static int
server_body(struct sch_req *r)
{
	struct evbuffer *buf = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(buf);
	json_error_t jerr;
	char msg[300], *cause;
	const char *code;
	unsigned char *p;
	int status;

	if (len > SCH_MAX_BODY) {
		snprintf(msg, sizeof msg, "the request body is %zu bytes; "
		    "the limit is %d bytes", len, SCH_MAX_BODY);
		server_reply_error(r->s, r->req, 413, "request_too_large",
		    msg);
		return -1;
	}
	if (r->route->flags & SCH_ROUTE_SOURCE) {
		p = evbuffer_pullup(buf, -1);
		if (api_sources_body(r, (const char *)p, len, &status, &code,
		    &cause) == 0)
			return 0;
		server_reply_error(r->s, r->req, status, code, cause);
		free(cause);
		return -1;
	}
	if (!(r->route->flags & SCH_ROUTE_BODY))
		return 0;
	if (len == 0) {
		r->body = json_object();
		return 0;
	}
	p = evbuffer_pullup(buf, -1);
	r->body = json_loadb((const char *)p, len, 0, &jerr);
	if (r->body == NULL) {
		snprintf(msg, sizeof msg, "invalid JSON at line %d, column "
		    "%d: %s", jerr.line, jerr.column, jerr.text);
		server_reply_error(r->s, r->req, 400, "invalid_json", msg);
		return -1;
	}
	if (!json_is_object(r->body)) {
		server_reply_error(r->s, r->req, 422, "invalid_params",
		    "the request body must be a JSON object");
		return -1;
	}
	return 0;
}

/*
 * The peer check's verdicts, one per Unix-socket connection, found by
 * the connection's bufferevent.  A peer's credentials are fixed when it
 * connects, so one check per connection is enough.  Every such
 * bufferevent is made by server_bevcb(), which clears the slot of its
 * address first: a verdict can only be read back by the connection it
 * was made for, never by a later one that got the same address.  Slots
 * are shared by hash; a collision only costs another check.
 */
#define SERVER_PEER_SLOTS 1024
static struct {
	struct bufferevent *bev;
	int ok;
} server_peers[SERVER_PEER_SLOTS];

/* The slot of bev's verdict. */
static size_t
server_peer_slot(const struct bufferevent *bev)
{
	/* Fibonacci hashing: the address's high bits after a multiply. */
	return (size_t)(((uint64_t)(uintptr_t)bev * 0x9E3779B97F4A7C15ULL) >>
	    32) % SERVER_PEER_SLOTS;
}

/* A new Unix-socket connection's bufferevent (as evhttp makes them). */
static struct bufferevent *
server_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	size_t i;

	(void)arg;
	if (bev != NULL && server_peers[i = server_peer_slot(bev)].bev == bev)
		server_peers[i].bev = NULL;
	return bev;
}

/*
 * Whether the peer of a Unix-socket request may use the admin API: root,
 * the daemon's own user, or a process whose group is the daemon's (the
 * socket is mode 0660; this re-checks what the file mode granted).
 */
static int
server_peer_ok(struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct ucred cred;
	socklen_t len = sizeof cred;
	evutil_socket_t fd;
	size_t i;

	if (conn == NULL)
		return 0;
	bev = evhttp_connection_get_bufferevent(conn);
	i = server_peer_slot(bev);
	if (server_peers[i].bev == bev)
		return server_peers[i].ok;
	fd = bufferevent_getfd(bev);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
	    &len) != 0)
		return 0;
	server_peers[i].bev = bev;
	server_peers[i].ok = cred.uid == 0 || cred.uid == geteuid() ||
	    cred.gid == getegid();
	return server_peers[i].ok;
}

/* Every request: the central checks, then inline, async or batched. */
static void
server_request_cb(struct evhttp_request *req, void *arg)
{
	struct server_ctx *ctx = arg;
	struct sch *s = ctx->s;
	const struct evhttp_uri *uri;
	struct sch_req *r;
	const char *path;
	char allow[64], msg[300], *cause;
	const char *code;
	int method, status;
	enum eng_status st;

	if (s->stopping) {
		server_reply_error(s, req, 503, "unavailable",
		    "belfryd is shutting down");
		return;
	}
	if (!ctx->tcp && !server_peer_ok(req)) {
		log_warnx("refused an admin socket peer without credentials");
		server_reply_error(s, req, 403, "forbidden", "this user may not "
		    "use the admin socket");
		return;
	}
	method = (int)evhttp_request_get_command(req);
	uri = evhttp_request_get_evhttp_uri(req);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0')
		path = "/";

	r = xcalloc(1, sizeof *r);
	r->s = s;
	r->req = req;
	r->tcp = ctx->tcp;
	r->route = route_find(r, method, path, ctx->tcp, &status, allow,
	    sizeof allow);
	if (r->route != NULL && (r->route->flags & SCH_ROUTE_SOURCE)) {
		/* A source's route: its own write keys, not an API key. */
		if (api_sources_admit(r, &status, &code, &cause) != 0) {
			server_reply_error(s, req, status, code, cause);
			free(cause);
			server_req_free(r);
			return;
		}
	} else if (ctx->tcp && !server_authorized(s, req)) {
		server_reply_error(s, req, 401, "authentication_required",
		    "a valid API key is required: Authorization: Bearer "
		    "<key>");
		server_req_free(r);
		return;
	}
	if (r->route == NULL) {
		if (status == 405) {
			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "Allow", allow);
			snprintf(msg, sizeof msg, "%s is not allowed on %s "
			    "(allowed: %s)", route_method_name(method),
			    path, allow);
			server_reply_error(s, req, 405, "method_not_allowed",
			    msg);
		} else {
			snprintf(msg, sizeof msg, "no route for %s %.200s",
			    route_method_name(method), path);
			server_reply_error(s, req, 404, "not_found", msg);
		}
		server_req_free(r);
		return;
	}
	if (server_body(r) != 0) {
		server_req_free(r);
		return;
	}
	r->query = route_query(uri != NULL ? evhttp_uri_get_query(uri) :
	    NULL);
	if (r->query == NULL) {
		server_reply_error(s, req, 400, "invalid_request",
		    "the query string does not decode to UTF-8 text");
		server_req_free(r);
		return;
	}
	if (route_query_check(r->route, r->query, &cause) != 0) {
		server_reply_error(s, req, 422, "invalid_params", cause);
		free(cause);
		server_req_free(r);
		return;
	}

	if (r->route->flags & SCH_ROUTE_ASYNC) {
		/* The handler keeps r and calls server_finish() later. */
		json_t *reply = NULL;

		cause = NULL;
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
	if (++s->nbatch >= SCH_MAX_BATCH)
		server_flush(s, 0);
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
 * Write the reply in bev's output now and finish the exchange as evhttp
 * does when the socket next reports writable (its write callback frees
 * the request and reads the next one, or closes): a write-readiness
 * event and its epoll_ctl calls less per request.  A reply that does not
 * go out whole, or a write error, is left to the bufferevent.  Only from
 * the flush event, never inside evhttp's callbacks, since finishing may
 * free the connection they work on.
 */
static void
server_write_through(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	bufferevent_data_cb done;
	void *arg;

	while (evbuffer_get_length(out) > 0)
		if (evbuffer_write(out, bufferevent_getfd(bev)) <= 0)
			return;
	bufferevent_getcb(bev, NULL, &done, NULL, &arg);
	if (done == NULL)
		return;
	bufferevent_disable(bev, EV_WRITE);
	done(bev, arg);
}

/*
 * The flush: every queued request, webhook outcome and the work due now
 * in one transaction, then the replies (written through when called from
 * the flush event: through), then new deliveries.
 */
static void
server_flush(struct sch *s, int through)
{
	struct evhttp_connection *conn;
	struct bufferevent *bev;
	struct eng_delivery d[SCH_MAX_INFLIGHT];
	struct sch_reqs batch;
	struct sch_outcomes outs;
	struct sch_req *r;
	struct sch_outcome *o;
	enum eng_status st;
	char *cause = NULL, *why;
	size_t nd = 0, i;
	int64_t now;
	int failed = 0;

	TAILQ_INIT(&batch);
	TAILQ_CONCAT(&batch, &s->batch, entry);
	s->nbatch = 0;
	TAILQ_INIT(&outs);
	TAILQ_CONCAT(&outs, &s->outcomes, entry);
	if (TAILQ_EMPTY(&batch) && TAILQ_EMPTY(&outs))
		goto rearm;

	if (eng_begin(s->eng, &cause) != 0) {
		log_warnx("begin: %s", cause != NULL ? cause : "failed");
		failed = 1;
	} else {
		TAILQ_FOREACH(r, &batch, entry) {
			eng_request_begin(s->eng);
			st = server_exec(r);
			eng_request_end(s->eng, st == ENG_OK);
		}
		now = sch_now(s);
		TAILQ_FOREACH(o, &outs, entry)
			eng_delivery_done(s->eng, o->id, o->ok, o->err, now);
		if (!s->stopping && eng_next_due(s->eng) <= now) {
			eng_request_begin(s->eng);
			eng_run_due(s->eng, now);
			eng_request_end(s->eng, 1);
		}
		if (!s->stopping)
			nd = webhook_take(s, now, d, SCH_MAX_INFLIGHT);
		if (eng_commit(s->eng, &cause) != 0) {
			log_warnx("commit: %s", cause != NULL ? cause :
			    "failed");
			eng_rollback(s->eng);
			failed = 1;
		}
	}
	if (!failed) {
		clock_fired(s);
		s->counters.commits++;
		TAILQ_FOREACH(r, &batch, entry)
			s->counters.batched++;
	} else {
		for (i = 0; i < nd; i++)
			eng_delivery_free(&d[i]);
		nd = 0;
		/* The store's cause, e.g. "disk full", for the client too. */
		why = xasprintf("the transaction did not commit: %s",
		    cause != NULL ? cause : "failed");
		TAILQ_FOREACH(r, &batch, entry)
			server_answer_500(r, why);
		free(why);
		free(cause);
		cause = NULL;
		/* Keep the outcomes for the next flush. */
		TAILQ_CONCAT(&outs, &s->outcomes, entry);
		TAILQ_CONCAT(&s->outcomes, &outs, entry);
	}
	while ((r = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, r, entry);
		conn = through ? evhttp_request_get_connection(r->req) : NULL;
		bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
		server_send(r);
		if (bev != NULL)
			server_write_through(bev);
	}
	while ((o = TAILQ_FIRST(&outs)) != NULL) {
		TAILQ_REMOVE(&outs, o, entry);
		free(o->err);
		free(o);
	}
	for (i = 0; i < nd; i++) {
		webhook_start(s, &d[i]);
		eng_delivery_free(&d[i]);
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
	server_flush(arg, 1);
}

/* Flush at once (at shutdown). */
void
server_flush_now(struct sch *s)
{
	server_flush(s, 0);
}

/*
 * Create the Unix socket at path safely: refuse a path that exists and is
 * not a socket, or a socket that something answers on; remove a stale
 * socket; bind under a umask that makes it mode 0660.  The listening fd,
 * or -1 with *cause.
 */
static int
server_unix_socket(const char *path, char **cause)
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
	if (chmod(path, 0660) != 0 || listen(fd, SOMAXCONN) != 0) {
		*cause = xasprintf("%s: %s", sun.sun_path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/*
 * The TCP listener's "HOST:PORT", checked by eng_listen_parse (as
 * belfry.conf's listen is), into ss and *sslen; -1 with *cause.
 */
static int
server_tcp_addr(const char *listen_at, struct sockaddr_storage *ss,
    socklen_t *sslen, char **cause)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[64];
	int port;

	if (eng_listen_parse(listen_at, host, sizeof host, &port, cause) != 0)
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

/* A new evhttp with belfry's limits, answering through ctx. */
static struct evhttp *
server_evhttp(struct sch *s, struct server_ctx *ctx)
{
	struct evhttp *h = evhttp_new(s->base);

	if (h == NULL)
		fatalx("evhttp_new failed");
	evhttp_set_max_body_size(h, SCH_EVHTTP_MAX_BODY);
	evhttp_set_max_headers_size(h, 64 * 1024);
	evhttp_set_timeout(h, 120);
	/* Every method reaches the route table, which answers 405. */
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT);
	evhttp_set_default_content_type(h, "application/json");
	evhttp_set_flags(h, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_gencb(h, server_request_cb, ctx);
	if (!ctx->tcp)
		evhttp_set_bevcb(h, server_bevcb, NULL);
	return h;
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

	if (s->listen != NULL) {
		if (eng_config_api_key_count(eng_config(s->eng)) == 0 &&
		    eng_config_source_count(eng_config(s->eng)) == 0)
			log_warnx("listen %s: no api_keys or sources configured, "
			    "so no TCP listener", s->listen);
		else if (server_tcp_addr(s->listen, &ss, &sslen, cause) != 0)
			return -1;
		else
			tcp = 1;
	}

	server_ctx_unix.s = s;
	server_ctx_unix.tcp = 0;
	if ((fd = server_unix_socket(s->socket_path, cause)) == -1)
		return -1;
	s->http_unix = server_evhttp(s, &server_ctx_unix);
	server_bound_unix = evhttp_accept_socket_with_handle(s->http_unix, fd);
	if (server_bound_unix == NULL) {
		*cause = xasprintf("evhttp_accept_socket %s failed",
		    s->socket_path);
		unlink(s->socket_path);
		return -1;
	}
	log_info("listening on %s", s->socket_path);
	if (!tcp)
		return 0;

	server_ctx_tcp.s = s;
	server_ctx_tcp.tcp = 1;
	fd = server_tcp_socket(s->listen, &ss, sslen, &s->listen_port, cause);
	if (fd == -1) {
		unlink(s->socket_path);
		return -1;
	}
	s->http_tcp = server_evhttp(s, &server_ctx_tcp);
	server_bound_tcp = evhttp_accept_socket_with_handle(s->http_tcp, fd);
	if (server_bound_tcp == NULL) {
		*cause = xasprintf("evhttp_accept_socket %s failed",
		    s->listen);
		unlink(s->socket_path);
		return -1;
	}
	log_info("listening on %s (port %d)", s->listen, s->listen_port);
	return 0;
}

/* Stop accepting connections (the open ones stay); remove the socket. */
void
server_close_listeners(struct sch *s)
{
	if (server_bound_tcp != NULL)
		evhttp_del_accept_socket(s->http_tcp, server_bound_tcp);
	if (server_bound_unix != NULL) {
		evhttp_del_accept_socket(s->http_unix, server_bound_unix);
		unlink(s->socket_path);
	}
	server_bound_tcp = server_bound_unix = NULL;
}

/* Close every connection and free the servers. */
void
server_stop(struct sch *s)
{
	server_close_listeners(s);
	if (s->http_tcp != NULL)
		evhttp_free(s->http_tcp);
	if (s->http_unix != NULL)
		evhttp_free(s->http_unix);
	s->http_tcp = s->http_unix = NULL;
	if (s->flush_ev != NULL)
		event_free(s->flush_ev);
	s->flush_ev = NULL;
}
