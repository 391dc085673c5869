/*
 * The HTTP/1.1 server side of belfryd's listeners (the admin Unix socket
 * and the loopback TCP port): accepting connections, reading requests on
 * bufferevents with a bounded parser of its own, deadlines, and writing
 * replies.  What a request means -- the peer check, the API key, routes,
 * the group commit -- is server.c's; this file frames requests and replies.
 *
 * A connection's life, one request in flight at a time:
 *
 *   HEAD     reading a request head, or waiting for the next one: the
 *            request line (at most HTTP_MAX_LINE bytes, else 414) and the
 *            header block (at most HTTP_MAX_HEAD bytes and HTTP_MAX_FIELDS
 *            fields, else 431); bad syntax 400, a version other than 1.0
 *            and 1.1 505.  A complete head goes to server_head() before
 *            any of its body is read: a refusal there (401, 404...) is
 *            answered at once and the body is never read.
 *   BODY     reading the body: Content-Length, or chunked with the same
 *            bound; over SCH_MAX_BODY 413 (from Content-Length before
 *            reading).  Two different Content-Length values are 400,
 *            another transfer coding than chunked 501.
 *   BUSY     server.c has the request (server_request()); nothing more is
 *            read -- a pipelined next request waits in the input buffer --
 *            until its reply is written.  Batched requests are answered
 *            after their group commit.
 *   WRITING  the reply is being written (most go out at once from
 *            http_send()); then back to HEAD when the connection is kept
 *            (HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
 *            "Connection: keep-alive"), else LINGER.
 *   LINGER   the reply is out and the write side shut: input is read and
 *            thrown away (at most HTTP_LINGER_BYTES for HTTP_LINGER_SECS)
 *            until the client closes, so that unread input cannot make
 *            the close reset the connection under the client's reply.
 *
 * Deadlines, one timer per connection on the wall clock (network
 * deadlines, never the virtual clock): the whole head within
 * header_timeout of the accept, or of its first byte after an idle wait;
 * the body within body_timeout of the head; the reply taken by the client
 * within body_timeout; at most idle_timeout between requests.  A deadline
 * passed with part of a request in hand is answered 408.
 *
 * Listeners: each has at most max_connections connections open (lowered
 * by http_limits() to fit the open-file limit).  At the cap a listener
 * stops accepting until one of its connections closes; when accept fails
 * (EMFILE, ENFILE, ENOBUFS...) it stops for HTTP_BACKOFF_MS.  Either is
 * logged at most once a minute, with a count.  New connections wait in
 * the kernel's backlog meanwhile, and the other listener goes on.
 *
 * Where the browser feed's needs attach, on this same connection code:
 * TLS is a filter bufferevent over the socket's, made in http_accept();
 * everything reads and writes through c->bev except the write-through in
 * http_write(), which then leaves the writing to the bufferevent.  A CORS
 * preflight (OPTIONS with Origin) is answered by server_head() before the
 * API key is checked, with its Access-Control-* lines passed to
 * http_send() as headers.  A websocket Upgrade is recognized by
 * server_head() from the route and the Upgrade and Connection headers; it
 * then takes c->bev over (a 101 and the frames are its own) and this file
 * forgets the connection, as http_conn_close() does for a closed one.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>

#include <openssl/ssl.h>

#include "scheduler/notify.h"
#include "scheduler/scheduler.h"

#define HTTP_MAX_LINE 8192         /* request line: 414 above */
#define HTTP_MAX_HEAD 65536        /* header block (and trailers): 431 */
#define HTTP_MAX_FIELDS 100        /* header fields: 431 above */
#define HTTP_MAX_CHUNK_LINE 1024   /* a chunk's size line: 400 above */
#define HTTP_LINGER_SECS 2
#define HTTP_LINGER_BYTES (1024 * 1024)
#define HTTP_BACKOFF_MS 100
#define HTTP_LOG_SECS 60
#define HTTP_ACCEPTS 64            /* accepts per readiness of a listener */
#define HTTP_READ_MAX (256 * 1024) /* a single read or write */
#define HTTP_KEEP_BUF 4096         /* head buffer kept between requests */

enum http_state { HTTP_HEAD, HTTP_BODY, HTTP_BUSY, HTTP_WRITING,
	HTTP_LINGER };

/* What the connection's timer is armed for. */
enum http_deadline { HTTP_DL_NONE, HTTP_DL_IDLE, HTTP_DL_HEAD, HTTP_DL_BODY,
	HTTP_DL_SEND, HTTP_DL_LINGER };

/* Where a chunked body is. */
enum http_chunk { HTTP_CHUNK_SIZE, HTTP_CHUNK_DATA, HTTP_CHUNK_END,
	HTTP_CHUNK_TRAILER };

/* A header field: offsets of its name and value in the head buffer. */
struct http_field {
	uint32_t name, value;
};

/* A condition logged at most once a minute, with a count. */
struct http_ratelog {
	uint64_t last;           /* monotonic usec of the last line, 0: none */
	uint64_t count;          /* occurrences since then */
};

struct http_conn {
	struct http_listener *l;
	struct bufferevent *bev;  /* NULL once closed */
	struct event *timer;
	enum http_state state;
	enum http_deadline deadline;
	int started;              /* bytes of the current head have arrived */
	int keep;                 /* keep the connection after this reply */
	int head_only;            /* a HEAD request: replies without a body */
	int version;              /* 10 or 11 */
	int unread;               /* the request's body is not all read */
	int in_process, dying;    /* inside http_process; close after it */
	int tls;                  /* bev is a TLS filter over the socket */
	int cred;                 /* uid and gid are the Unix peer's */
	uid_t uid;
	gid_t gid;

	/* The head: NUL-terminated lines and strings in buf. */
	char *buf;
	size_t len, cap;
	size_t head_bytes;        /* header block bytes so far */
	int have_line;            /* the request line is in */
	uint64_t t0;              /* monotonic usec when it came (for -v) */
	uint32_t target_at, path_at, query_at; /* query_at 0: none */
	int method;
	struct http_field field[HTTP_MAX_FIELDS];
	size_t nfield;

	/* The body. */
	int chunked;
	enum http_chunk chunk;
	uint64_t want;            /* bytes still to come (of the chunk) */
	char *body;
	size_t blen, bcap;
	size_t lingered;
	struct sch_req *r;        /* server_head's request, until complete */

	TAILQ_ENTRY(http_conn) entry;
};

struct http_listener {
	struct sch *s;
	int fd;                   /* -1 once closed */
	int tcp;
	char *name;
	struct event *accept_ev, *backoff_ev;
	int paused;               /* 1: at the cap, 2: backing off */
	size_t nconn, max;
	TAILQ_HEAD(, http_conn) conns;
	struct http_ratelog full, failed;
};

static void http_process(struct http_conn *);
static void http_conn_close(struct http_conn *);
static void http_sent(struct http_conn *);
static int http_write_now(struct http_conn *);
static void http_log_request(const struct http_conn *, int);

/* The methods belfry knows (EVHTTP_REQ_* numbers, as route.c uses). */
static const struct {
	const char *name;
	int method;
} http_methods[] = {
	{ "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST },
	{ "PUT", EVHTTP_REQ_PUT }, { "DELETE", EVHTTP_REQ_DELETE },
	{ "PATCH", EVHTTP_REQ_PATCH }, { "HEAD", EVHTTP_REQ_HEAD },
	{ "OPTIONS", EVHTTP_REQ_OPTIONS }, { "TRACE", EVHTTP_REQ_TRACE },
	{ "CONNECT", EVHTTP_REQ_CONNECT },
};

/* Count an occurrence of rl's condition and log it unless done lately. */
static void __attribute__((format(printf, 2, 3)))
http_ratelog(struct http_ratelog *rl, const char *fmt, ...)
{
	uint64_t now = sch_notify_monotonic_usec();
	va_list ap;
	char *msg;

	rl->count++;
	if (rl->last != 0 && now - rl->last < HTTP_LOG_SECS * 1000000ULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	if (rl->last == 0)
		log_warnx("%s (reported at most once a minute from now on, "
		    "with a count)", msg);
	else
		log_warnx("%s (%" PRIu64 " times since the last report)", msg,
		    rl->count);
	free(msg);
	rl->last = now;
	rl->count = 0;
}

/* The reason phrase of status. */
static const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Status";
}

/* The Date header's value for now (formatted once a second). */
static const char *
http_date(void)
{
	static char buf[40];
	static time_t last = -1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last && gmtime_r(&now, &tm) != NULL) {
		strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		last = now;
	}
	return buf;
}

/* Whether ch may be part of a token (RFC 9110: methods, field names). */
static int
http_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Arm c's timer for kind (NONE: disarm), from the configuration. */
static void
http_arm(struct http_conn *c, enum http_deadline kind)
{
	const struct eng_config *cf = eng_config(c->l->s->eng);
	struct timeval tv = { 0, 0 };

	c->deadline = kind;
	switch (kind) {
	case HTTP_DL_NONE:
		evtimer_del(c->timer);
		return;
	case HTTP_DL_IDLE:
		tv.tv_sec = eng_config_idle_timeout(cf);
		break;
	case HTTP_DL_HEAD:
		tv.tv_sec = eng_config_header_timeout(cf);
		break;
	case HTTP_DL_BODY:
	case HTTP_DL_SEND:
		tv.tv_sec = eng_config_body_timeout(cf);
		break;
	case HTTP_DL_LINGER:
		tv.tv_sec = HTTP_LINGER_SECS;
		break;
	}
	evtimer_add(c->timer, &tv);
}

/* Make room for n more bytes in c's head buffer. */
static void
http_reserve(struct http_conn *c, size_t n)
{
	size_t cap = c->cap != 0 ? c->cap : 512;

	if (c->len + n <= c->cap)
		return;
	while (cap < c->len + n)
		cap *= 2;
	c->buf = xreallocarray(c->buf, 1, cap);
	c->cap = cap;
}

/* Append n bytes and a NUL to the head buffer; their offset. */
static uint32_t
http_store(struct http_conn *c, const char *p, size_t n)
{
	uint32_t at = (uint32_t)c->len;

	http_reserve(c, n + 1);
	memcpy(c->buf + c->len, p, n);
	c->buf[c->len + n] = '\0';
	c->len += n + 1;
	return at;
}

/*
 * Answer c with an error of http.c's own and close after it (the rest of
 * the request is not read).  Returns 1 (the connection moved on).
 */
static int __attribute__((format(printf, 4, 5)))
http_fail(struct http_conn *c, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (c->r != NULL) {
		server_drop(c->r);
		c->r = NULL;
	}
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatalx("out of memory");
	va_end(ap);
	server_reply_error(c, status, code, msg, HTTP_CLOSE);
	free(msg);
	return 1;
}

/*
 * Take the next line of c's input (LF-terminated, a CR before the LF
 * dropped) into the head buffer: its offset in *at and its length; -1
 * while it is incomplete, -2 when it is longer than max, -3 when it holds
 * a NUL or a bare CR.
 */
static ssize_t
http_line(struct http_conn *c, size_t max, uint32_t *at)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr p;
	size_t n;
	char *line;

	p = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (p.pos == -1)
		return evbuffer_get_length(in) > max + 1 ? -2 : -1;
	n = (size_t)p.pos;
	if (n > max + 1)
		return -2;
	http_reserve(c, n + 1);
	*at = (uint32_t)c->len;
	line = c->buf + c->len;
	evbuffer_remove(in, line, n + 1);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n > max)
		return -2;
	if (memchr(line, '\0', n) != NULL || memchr(line, '\r', n) != NULL)
		return -3;
	line[n] = '\0';
	c->len += n + 1;
	return (ssize_t)n;
}

/*
 * The request line at offset at: method, target, version.  0, or 1
 * after answering it.
 */
static int
http_request_line(struct http_conn *c, uint32_t at)
{
	char *line = c->buf + at, *sp1, *sp2, *target, *q, *p;
	const char *path = NULL;
	size_t i, plen, qlen, poff, qoff;

	if ((sp1 = strchr(line, ' ')) == NULL || sp1 == line ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || sp2 == sp1 + 1 ||
	    strchr(sp2 + 1, ' ') != NULL)
		return http_fail(c, 400, "invalid_request", "the request "
		    "line is not METHOD SP TARGET SP HTTP-VERSION");
	*sp1 = *sp2 = '\0';
	for (p = line; *p != '\0'; p++)
		if (!http_tchar((unsigned char)*p))
			return http_fail(c, 400, "invalid_request", "the "
			    "method is not a token");
	p = sp2 + 1;
	if (strlen(p) != 8 || strncmp(p, "HTTP/", 5) != 0 || p[6] != '.' ||
	    p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return http_fail(c, 400, "invalid_request", "the request "
		    "line does not end in HTTP/x.y");
	if (strcmp(p, "HTTP/1.1") == 0)
		c->version = 11;
	else if (strcmp(p, "HTTP/1.0") == 0)
		c->version = 10;
	else
		return http_fail(c, 505, "http_version_not_supported",
		    "%s is not supported: belfry speaks HTTP/1.1 and 1.0", p);
	c->method = 0;
	for (i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++)
		if (strcmp(line, http_methods[i].name) == 0)
			c->method = http_methods[i].method;
	if (c->method == 0)
		return http_fail(c, 501, "not_implemented", "the method %.40s "
		    "is not implemented", line);

	target = sp1 + 1;
	for (p = target; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    *p == '#')
			return http_fail(c, 400, "invalid_request", "the "
			    "request target holds a character that must be "
			    "percent-encoded");
	/* origin-form "/p?q", absolute-form "http://host/p?q", or "*". */
	if (*target == '/' || strcmp(target, "*") == 0)
		path = target;
	else if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		path = strchr(target, ':') + 3;
		path += strcspn(path, "/?");
	} else
		return http_fail(c, 400, "invalid_request", "the request "
		    "target must be a path (or an absolute URL)");
	q = strchr(path, '?');
	plen = q != NULL ? (size_t)(q - path) : strlen(path);
	qlen = q != NULL ? strlen(q + 1) : 0;
	c->target_at = (uint32_t)(target - c->buf);
	poff = (size_t)(path - c->buf);
	qoff = q != NULL ? (size_t)(q + 1 - c->buf) : 0;
	/* Room first: the copies come from the buffer itself. */
	http_reserve(c, plen + qlen + 3);
	/* An absolute URL without a path asks for "/". */
	c->path_at = plen > 0 ? http_store(c, c->buf + poff, plen) :
	    http_store(c, "/", 1);
	c->query_at = q != NULL ? http_store(c, c->buf + qoff, qlen) : 0;
	return 0;
}

/* A header line at offset at: stored as a field; 0, or 1 if answered. */
static int
http_field(struct http_conn *c, uint32_t at)
{
	char *line = c->buf + at, *colon, *v, *e, *p;

	if (*line == ' ' || *line == '\t')
		return http_fail(c, 400, "invalid_request", "a header line "
		    "starts with white space (obsolete line folding)");
	if ((colon = strchr(line, ':')) == NULL || colon == line)
		return http_fail(c, 400, "invalid_request", "a header line "
		    "is not NAME: VALUE");
	for (p = line; p < colon; p++)
		if (!http_tchar((unsigned char)*p))
			return http_fail(c, 400, "invalid_request", "the "
			    "header name \"%.*s\" is not a token",
			    (int)(colon - line > 40 ? 40 : colon - line),
			    line);
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	for (p = v; *p != '\0'; p++)
		if (((unsigned char)*p < ' ' && *p != '\t') ||
		    (unsigned char)*p == 0x7f)
			return http_fail(c, 400, "invalid_request", "the "
			    "header %.40s holds a control character", line);
	if (c->nfield == HTTP_MAX_FIELDS)
		return http_fail(c, 431, "request_header_fields_too_large",
		    "more than %d header fields", HTTP_MAX_FIELDS);
	c->field[c->nfield].name = at;
	c->field[c->nfield].value = (uint32_t)(v - c->buf);
	c->nfield++;
	return 0;
}

/* Whether the comma-separated list v holds token (any case). */
static int
http_has_token(const char *v, const char *token)
{
	size_t n = strlen(token), k;

	while (*v != '\0') {
		v += strspn(v, " \t,");
		k = strcspn(v, ",");
		while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t'))
			k--;
		if (k == n && strncasecmp(v, token, n) == 0)
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

/*
 * Fold a Content-Length value (a list of equal numbers is allowed) into
 * *len: 0, -1 if malformed, -2 if it differs from an earlier value.
 */
static int
http_content_length(const char *v, uint64_t *len, int *seen)
{
	uint64_t n;
	size_t k, i;

	do {
		v += strspn(v, " \t");
		k = strcspn(v, ",");
		while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t'))
			k--;
		if (k == 0)
			return -1;
		for (i = 0, n = 0; i < k; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -1;
			/* Far past the body limit the exact value is moot. */
			n = n < UINT64_MAX / 100 ? n * 10 +
			    (uint64_t)(v[i] - '0') : UINT64_MAX;
		}
		if (*seen && n != *len)
			return -2;
		*len = n;
		*seen = 1;
		v += strcspn(v, ",");
	} while (*v++ == ',');
	return 0;
}

/*
 * Check a Transfer-Encoding value: 0 for "chunked", else 1 after
 * answering (501 naming another coding, 400 for chunked twice).
 */
static int
http_transfer_encoding(struct http_conn *c, const char *v)
{
	size_t k;
	int chunked = 0;

	while (*v != '\0') {
		v += strspn(v, " \t,");
		if (*v == '\0')
			break;
		k = strcspn(v, ",; \t");
		if (k == 7 && strncasecmp(v, "chunked", 7) == 0 && !chunked &&
		    !c->chunked)
			chunked = 1;
		else if (k == 7 && strncasecmp(v, "chunked", 7) == 0)
			return http_fail(c, 400, "invalid_request", "chunked "
			    "is applied twice");
		else
			return http_fail(c, 501, "not_implemented",
			    "Transfer-Encoding %.*s is not supported (only "
			    "chunked is)", (int)(k > 40 ? 40 : k), v);
		v += strcspn(v, ",");
	}
	c->chunked = chunked;
	return 0;
}

/* The body's room: len bytes at least, never more than the limit. */
static void
http_body_room(struct http_conn *c, size_t len)
{
	size_t cap = c->bcap != 0 ? c->bcap : 4096;

	if (len <= c->bcap)
		return;
	while (cap < len)
		cap *= 2;
	if (cap > SCH_MAX_BODY)
		cap = SCH_MAX_BODY;
	c->body = xreallocarray(c->body, 1, cap);
	c->bcap = cap;
}

/* The request is whole: hand it to server.c and stop reading. */
static int
http_complete(struct http_conn *c)
{
	struct sch_req *r = c->r;
	char *body = c->body;

	c->state = HTTP_BUSY;
	c->unread = 0;
	c->r = NULL;
	c->body = NULL;
	c->bcap = 0;
	http_arm(c, HTTP_DL_NONE);
	bufferevent_disable(c->bev, EV_READ);
	/* Takes body (and may answer at once). */
	server_request(r, body, c->blen);
	c->blen = 0;
	return 1;
}

/*
 * The head is complete: framing from its fields, then server_head().
 * 1 (the connection moved on).
 */
static int
http_head_done(struct http_conn *c)
{
	struct http_head h;
	const char *name, *v, *expect = NULL;
	uint64_t len = 0;
	size_t i;
	int hosts = 0, seen = 0, te = 0, closing = 0, keep = 0, rc;

	for (i = 0; i < c->nfield; i++) {
		name = c->buf + c->field[i].name;
		v = c->buf + c->field[i].value;
		if (strcasecmp(name, "Host") == 0)
			hosts++;
		else if (strcasecmp(name, "Content-Length") == 0) {
			rc = http_content_length(v, &len, &seen);
			if (rc == -2)
				return http_fail(c, 400, "invalid_request",
				    "two different Content-Length values");
			if (rc != 0)
				return http_fail(c, 400, "invalid_request",
				    "Content-Length \"%.40s\" is not a "
				    "number", v);
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			te = 1;
			if (http_transfer_encoding(c, v) != 0)
				return 1;
		} else if (strcasecmp(name, "Connection") == 0) {
			closing |= http_has_token(v, "close");
			keep |= http_has_token(v, "keep-alive");
		} else if (strcasecmp(name, "Expect") == 0)
			expect = v;
	}
	if (hosts > 1 || (hosts == 0 && c->version == 11))
		return http_fail(c, 400, "invalid_request", "%s", hosts ?
		    "more than one Host header" : "an HTTP/1.1 request "
		    "needs a Host header");
	if (te && c->version == 10)
		return http_fail(c, 400, "invalid_request", "Transfer-Encoding "
		    "in an HTTP/1.0 request");
	if (te && seen)
		return http_fail(c, 400, "invalid_request", "both "
		    "Content-Length and Transfer-Encoding");
	if (expect != NULL && c->version == 11 &&
	    strcasecmp(expect, "100-continue") != 0)
		return http_fail(c, 417, "expectation_failed", "Expect "
		    "\"%.40s\" is not supported (only 100-continue is)",
		    expect);
	c->keep = !closing && (c->version == 11 || keep);
	c->head_only = c->method == EVHTTP_REQ_HEAD;
	c->unread = c->chunked || len > 0;

	h.method = c->head_only ? EVHTTP_REQ_GET : c->method;
	h.target = c->buf + c->target_at;
	h.path = c->buf + c->path_at;
	h.query = c->query_at != 0 ? c->buf + c->query_at : NULL;
	h.body = c->unread;
	if (server_head(c->l->s, c, c->l->tcp, &h, &c->r) != 0)
		return 1;
	if (!c->unread)
		return http_complete(c);
	if (!c->chunked && len == UINT64_MAX)
		return http_fail(c, 413, "request_too_large", "the request "
		    "body is over %" PRIu64 " bytes; the limit is %d bytes",
		    UINT64_MAX / 100, SCH_MAX_BODY);
	if (!c->chunked && len > SCH_MAX_BODY)
		return http_fail(c, 413, "request_too_large", "the request "
		    "body is %" PRIu64 " bytes; the limit is %d bytes", len,
		    SCH_MAX_BODY);
	if (expect != NULL && c->version == 11) {
		bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
		/* What does not go out now leaves with the reply. */
		http_write_now(c);
	}
	c->state = HTTP_BODY;
	c->want = c->chunked ? 0 : len;
	c->chunk = HTTP_CHUNK_SIZE;
	c->head_bytes = 0;
	if (!c->chunked)
		http_body_room(c, (size_t)len);
	http_arm(c, HTTP_DL_BODY);
	return 1;
}

/* The bytes a header (or trailer) line may still have. */
static size_t
http_head_room(const struct http_conn *c)
{
	return c->head_bytes < HTTP_MAX_HEAD ? HTTP_MAX_HEAD - c->head_bytes :
	    0;
}

/* Read what there is of a head; 1 if the connection moved on. */
static int
http_read_head(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint32_t at;
	ssize_t n;

	while (evbuffer_get_length(in) > 0) {
		if (!c->started) {
			c->started = 1;
			if (c->deadline == HTTP_DL_IDLE)
				http_arm(c, HTTP_DL_HEAD);
		}
		n = http_line(c, c->have_line ? http_head_room(c) :
		    HTTP_MAX_LINE, &at);
		if (n == -1)
			return 0;
		if (n == -2 && !c->have_line)
			return http_fail(c, 414, "uri_too_long", "the request "
			    "line is longer than %d bytes", HTTP_MAX_LINE);
		if (n == -2)
			return http_fail(c, 431,
			    "request_header_fields_too_large", "the request "
			    "header block is larger than %d bytes",
			    HTTP_MAX_HEAD);
		if (n == -3)
			return http_fail(c, 400, "invalid_request", "a NUL or "
			    "a bare CR in the request head");
		c->head_bytes += (size_t)n + 2;
		if (c->have_line && n == 0)
			return http_head_done(c);
		if (c->have_line) {
			if (http_field(c, at) != 0)
				return 1;
			continue;
		}
		if (n > 0) {
			c->have_line = 1;
			c->t0 = sch_notify_monotonic_usec();
			c->head_bytes = 0;
			if (http_request_line(c, at) != 0)
				return 1;
			continue;
		}
		/* Empty lines before a request line are allowed, a few. */
		c->len = at;
		if (c->head_bytes > HTTP_MAX_LINE)
			return http_fail(c, 400, "invalid_request", "only "
			    "empty lines where a request line was expected");
	}
	return 0;
}

/* Move up to c->want bytes of input into the body; the count moved. */
static size_t
http_take_body(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);

	if (n > c->want)
		n = (size_t)c->want;
	if (n == 0)
		return 0;
	evbuffer_remove(in, c->body + c->blen, n);
	c->blen += n;
	c->want -= n;
	return n;
}

/* One step of a chunked body; 1 if progress was made. */
static int
http_read_chunked(struct http_conn *c)
{
	uint32_t at;
	uint64_t size = 0;
	ssize_t n;
	char *p;
	size_t mark = c->len;

	switch (c->chunk) {
	case HTTP_CHUNK_DATA:
		if (http_take_body(c) == 0)
			return 0;
		if (c->want == 0)
			c->chunk = HTTP_CHUNK_END;
		return 1;
	case HTTP_CHUNK_SIZE:
	case HTTP_CHUNK_END:
	case HTTP_CHUNK_TRAILER:
		break;
	}
	n = http_line(c, c->chunk == HTTP_CHUNK_TRAILER ? http_head_room(c) :
	    HTTP_MAX_CHUNK_LINE, &at);
	if (n == -1)
		return 0;
	c->len = mark;
	if (n == -2 && c->chunk == HTTP_CHUNK_TRAILER)
		return http_fail(c, 431, "request_header_fields_too_large",
		    "the trailer is larger than %d bytes", HTTP_MAX_HEAD);
	if (n == -2)
		return http_fail(c, 400, "invalid_request", "a chunk's size "
		    "line is longer than %d bytes", HTTP_MAX_CHUNK_LINE);
	if (n == -3)
		return http_fail(c, 400, "invalid_request", "a NUL or a bare "
		    "CR in the chunked body's framing");
	p = c->buf + at;
	switch (c->chunk) {
	case HTTP_CHUNK_END:
		if (n != 0)
			return http_fail(c, 400, "invalid_request", "a chunk "
			    "is longer than its size");
		c->chunk = HTTP_CHUNK_SIZE;
		return 1;
	case HTTP_CHUNK_TRAILER:
		c->head_bytes += (size_t)n + 2;
		if (n == 0)
			return http_complete(c);
		return 1;
	case HTTP_CHUNK_SIZE:
	case HTTP_CHUNK_DATA:
		break;
	}
	if (!isxdigit((unsigned char)*p))
		return http_fail(c, 400, "invalid_request", "a chunk's size "
		    "is not a hexadecimal number");
	for (; isxdigit((unsigned char)*p); p++) {
		size = size * 16 + (uint64_t)(*p <= '9' ? *p - '0' :
		    (*p | 0x20) - 'a' + 10);
		if (c->blen + size > SCH_MAX_BODY)
			return http_fail(c, 413, "request_too_large", "the "
			    "request body is over %d bytes, the limit",
			    SCH_MAX_BODY);
	}
	if (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t')
		return http_fail(c, 400, "invalid_request", "a chunk's size "
		    "is not a hexadecimal number");
	if (size == 0) {
		c->chunk = HTTP_CHUNK_TRAILER;
		return 1;
	}
	http_body_room(c, c->blen + (size_t)size);
	c->want = size;
	c->chunk = HTTP_CHUNK_DATA;
	return 1;
}

/* Read what there is of a body; 1 if the connection moved on. */
static int
http_read_body(struct http_conn *c)
{
	if (c->chunked)
		return http_read_chunked(c);
	http_take_body(c);
	return c->want == 0 ? http_complete(c) : 0;
}

/* Throw away c's input while lingering; close past the bound. */
static void
http_linger(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);

	evbuffer_drain(in, n);
	c->lingered += n;
	if (c->lingered > HTTP_LINGER_BYTES)
		http_conn_close(c);
}

/* Run c's state machine over the input it has. */
static void
http_process(struct http_conn *c)
{
	int moved = 1;

	c->in_process = 1;
	while (moved && !c->dying) {
		switch (c->state) {
		case HTTP_HEAD:
			moved = http_read_head(c);
			break;
		case HTTP_BODY:
			moved = http_read_body(c);
			break;
		case HTTP_LINGER:
			http_linger(c);
			moved = 0;
			break;
		case HTTP_BUSY:
		case HTTP_WRITING:
			moved = 0;
			break;
		}
	}
	c->in_process = 0;
	if (c->dying)
		http_conn_close(c);
}

/* The bufferevent's read callback. */
static void
http_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	http_process(arg);
}

/* The bufferevent's write callback: the output is drained. */
static void
http_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	bufferevent_disable(bev, EV_WRITE);
	if (c->state == HTTP_WRITING)
		http_sent(c);
}

/* End of file or an error on c: close it (a TLS handshake done: go on). */
static void
http_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what == BEV_EVENT_CONNECTED)
		return;
	http_conn_close(arg);
}

/* c's deadline passed. */
static void
http_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct http_conn *c = arg;
	const struct eng_config *cf = eng_config(c->l->s->eng);

	(void)fd;
	(void)events;
	switch (c->deadline) {
	case HTTP_DL_HEAD:
		if (c->started) {
			http_fail(c, 408, "request_timeout", "the request head "
			    "did not arrive within %d seconds",
			    eng_config_header_timeout(cf));
			return;
		}
		break;
	case HTTP_DL_BODY:
		http_fail(c, 408, "request_timeout", "the request body did "
		    "not arrive within %d seconds",
		    eng_config_body_timeout(cf));
		return;
	case HTTP_DL_NONE:
	case HTTP_DL_IDLE:
	case HTTP_DL_SEND:
	case HTTP_DL_LINGER:
		break;
	}
	http_conn_close(c);
}

/* Forget the request just answered; back to HEAD, or linger. */
static void
http_sent(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (!c->keep) {
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
		c->state = HTTP_LINGER;
		http_arm(c, HTTP_DL_LINGER);
		bufferevent_enable(c->bev, EV_READ);
		http_linger(c);
		return;
	}
	c->state = HTTP_HEAD;
	c->len = c->nfield = c->head_bytes = 0;
	c->have_line = c->started = c->chunked = c->unread = 0;
	if (c->cap > HTTP_KEEP_BUF) {
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(in) == 0) {
		http_arm(c, HTTP_DL_IDLE);
		return;
	}
	/* A pipelined request: read it from the loop, not from here. */
	c->started = 1;
	http_arm(c, HTTP_DL_HEAD);
	if (!c->in_process)
		bufferevent_trigger(c->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * Write what c's output holds now: 0 when it is all out, 1 when the
 * socket is full, -1 on an error.  A bufferevent keeps the start of its
 * output frozen (only it drains the buffer), so it is thawed for this.
 */
static int
http_write_now(struct http_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int n, rc = 0;

	/* Under TLS the bytes must go through the filter. */
	if (c->tls)
		return evbuffer_get_length(out) > 0 ? 1 : 0;
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0) {
		n = evbuffer_write(out, bufferevent_getfd(c->bev));
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		rc = n < 0 && errno != EAGAIN && errno != EWOULDBLOCK ? -1 : 1;
		break;
	}
	evbuffer_freeze(out, 1);
	return rc;
}

/*
 * Write c's reply now, without waiting for the socket to report
 * writable (one poll pass and event less per reply); what does not go
 * out at once is left to the bufferevent.
 */
static void
http_write(struct http_conn *c)
{
	switch (http_write_now(c)) {
	case 0:
		http_sent(c);
		break;
	case 1:
		http_arm(c, HTTP_DL_SEND);
		bufferevent_enable(c->bev, EV_WRITE);
		break;
	default:
		http_conn_close(c);
		break;
	}
}

/* See scheduler.h: a reply on c (headers: extra "Name: value\r\n" lines). */
void
http_send(struct http_conn *c, int status, const char *ctype,
    const char *body, size_t len, const char *headers, int flags)
{
	struct evbuffer *out;
	struct sch *s = c->l->s;
	const char *origin;

	if (status >= 100 && status < 600)
		s->counters.http[status]++;
	if (log_debug_on() && c->have_line)
		http_log_request(c, status);
	if (c->bev == NULL) {
		/* Closed while server.c had its request. */
		http_conn_close(c);
		return;
	}
	if ((flags & HTTP_CLOSE) || c->unread || s->stopping)
		c->keep = 0;
	out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
	    http_reason(status), http_date());
	if (status == 204)
		body = NULL;
	else {
		if (body != NULL)
			evbuffer_add_printf(out, "Content-Type: %s\r\n",
			    ctype != NULL ? ctype : "application/json");
		evbuffer_add_printf(out, "Content-Length: %zu\r\n",
		    body != NULL ? len : 0);
	}
	if (headers != NULL)
		evbuffer_add(out, headers, strlen(headers));
	if (c->l->tcp && c->nfield > 0 &&
	    (origin = http_header(c, "Origin")) != NULL &&
	    auth_origin(s, origin))
		evbuffer_add_printf(out, "Access-Control-Allow-Origin: %s\r\n"
		    "Vary: Origin\r\n", origin);
	if (!c->keep)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (c->version == 10)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(out, "\r\n", 2);
	if (body != NULL && !c->head_only)
		evbuffer_add(out, body, len);
	c->state = HTTP_WRITING;
	bufferevent_disable(c->bev, EV_READ);
	http_write(c);
}

/*
 * The -v line of a reply: method, path (never the query, which may hold
 * a websocket's api_key), status and the time since the request line.
 */
static void
http_log_request(const struct http_conn *c, int status)
{
	char code[8], ms[32];

	snprintf(code, sizeof code, "%d", status);
	snprintf(ms, sizeof ms, "%.3f", (double)(sch_notify_monotonic_usec() -
	    c->t0) / 1000.0);
	log_fields(LOG_PRI_DEBUG, "request", "method",
	    route_method_name(c->method), "path", c->buf + c->path_at,
	    "status", code, "ms", ms, "listener", c->l->tcp ? "tcp" : "unix",
	    (const char *)NULL);
}

/* See scheduler.h: the value of request header name, or NULL. */
const char *
http_header(const struct http_conn *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nfield; i++)
		if (strcasecmp(c->buf + c->field[i].name, name) == 0)
			return c->buf + c->field[i].value;
	return NULL;
}

/* See scheduler.h: the Unix peer's uid and gid; -1 when unknown. */
int
http_peer(const struct http_conn *c, uid_t *uid, gid_t *gid)
{
	if (!c->cred)
		return -1;
	*uid = c->uid;
	*gid = c->gid;
	return 0;
}

/*
 * See scheduler.h: whether the Unix peer holds group g as one of its
 * supplementary groups (SO_PEERGROUPS: the groups it had at connect).
 */
int
http_peer_in_group(const struct http_conn *c, gid_t g)
{
	gid_t groups[64], *gs = groups;
	socklen_t len = sizeof groups;
	size_t i;
	int fd, found = 0;

	if (!c->cred || c->bev == NULL)
		return 0;
	fd = bufferevent_getfd(c->bev);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gs, &len) != 0) {
		if (errno != ERANGE || len == 0)
			return 0;
		gs = xmalloc(len);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gs, &len) != 0)
			len = 0;
	}
	for (i = 0; i < len / sizeof *gs; i++)
		if (gs[i] == g)
			found = 1;
	if (gs != groups)
		free(gs);
	return found;
}

/* Accept again (after the cap or a backoff). */
static void
http_resume(struct http_listener *l)
{
	if (l->fd == -1 || !l->paused)
		return;
	l->paused = 0;
	event_add(l->accept_ev, NULL);
}

/* Free what is left of a closed connection. */
static void
http_conn_free(struct http_conn *c)
{
	TAILQ_REMOVE(&c->l->conns, c, entry);
	free(c->buf);
	free(c->body);
	free(c);
}

/*
 * Close c's socket.  Inside http_process() only marked (it closes on the
 * way out); while server.c has c's request the rest stays until its
 * http_send().
 */
static void
http_conn_close(struct http_conn *c)
{
	struct http_listener *l = c->l;

	if (c->in_process) {
		c->dying = 1;
		return;
	}
	if (c->bev != NULL) {
		if (c->r != NULL) {
			server_drop(c->r);
			c->r = NULL;
		}
		bufferevent_free(c->bev);
		event_free(c->timer);
		c->bev = NULL;
		c->timer = NULL;
		http_release(l);
		if (c->state == HTTP_BUSY)
			return;
	}
	http_conn_free(c);
}

/*
 * See scheduler.h: hand c's bufferevent (with the input it holds) to its
 * new owner, who calls http_release(*l) when it closes it; c is forgotten
 * (at once, or on the way out of http_process) but stays counted against
 * its listener's max_connections until then.
 */
struct bufferevent *
http_detach(struct http_conn *c, struct http_listener **l)
{
	struct bufferevent *bev = c->bev;

	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	event_free(c->timer);
	c->timer = NULL;
	c->bev = NULL;
	*l = c->l;
	if (c->in_process)
		c->dying = 1;
	else
		http_conn_free(c);
	return bev;
}

/* See scheduler.h: a connection taken with http_detach() has closed. */
void
http_release(struct http_listener *l)
{
	l->nconn--;
	if (l->paused == 1 && l->nconn < l->max)
		http_resume(l);
}

/* Set up a connection on the accepted socket fd. */
static void
http_accept(struct http_listener *l, int fd)
{
	struct http_conn *c = xcalloc(1, sizeof *c);
	struct ucred cred;
	socklen_t len = sizeof cred;
	SSL *ssl;
	int on = 1;

	c->l = l;
	if (!l->tcp && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
	    &len) == 0) {
		c->cred = 1;
		c->uid = cred.uid;
		c->gid = cred.gid;
	}
	if (l->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	if (l->tcp && l->s->tls != NULL) {
		if ((ssl = SSL_new(l->s->tls)) == NULL)
			fatalx("SSL_new failed");
		c->bev = bufferevent_openssl_socket_new(l->s->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		c->tls = 1;
	} else
		c->bev = bufferevent_socket_new(l->s->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(l->s->base, http_timer_cb, c);
	if (c->bev == NULL || c->timer == NULL)
		fatalx("cannot set up a connection");
	bufferevent_set_max_single_read(c->bev, HTTP_READ_MAX);
	bufferevent_set_max_single_write(c->bev, HTTP_READ_MAX);
	bufferevent_setcb(c->bev, http_read_cb, http_write_cb, http_event_cb,
	    c);
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_enable(c->bev, EV_READ);
	c->state = HTTP_HEAD;
	http_arm(c, HTTP_DL_HEAD);
	TAILQ_INSERT_TAIL(&l->conns, c, entry);
	l->nconn++;
}

/* Stop accepting: until a connection closes, or for a backoff. */
static void
http_pause(struct http_listener *l, int backoff)
{
	struct timeval tv = { 0, HTTP_BACKOFF_MS * 1000 };

	event_del(l->accept_ev);
	l->paused = backoff ? 2 : 1;
	if (backoff)
		evtimer_add(l->backoff_ev, &tv);
}

/* The listening socket is readable: accept what is waiting. */
static void
http_accept_cb(evutil_socket_t lfd, short events, void *arg)
{
	struct http_listener *l = arg;
	int i, fd;

	(void)events;
	for (i = 0; i < HTTP_ACCEPTS; i++) {
		if (l->nconn >= l->max) {
			http_pause(l, 0);
			http_ratelog(&l->full, "%s: %zu connections open, "
			    "max_connections: new ones wait", l->name,
			    l->nconn);
			return;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd != -1) {
			http_accept(l, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		http_ratelog(&l->failed, "%s: accept: %s: not accepting for "
		    "%d ms", l->name, strerror(errno), HTTP_BACKOFF_MS);
		http_pause(l, 1);
		return;
	}
}

/* The backoff after a failed accept is over. */
static void
http_backoff_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	http_resume(arg);
}

/*
 * Serve HTTP on the listening socket fd (non-blocking; tcp: the API-key
 * listener), named name in the log.  The listener owns fd.
 */
struct http_listener *
http_listen(struct sch *s, int fd, int tcp, const char *name)
{
	struct http_listener *l = xcalloc(1, sizeof *l);

	l->s = s;
	l->fd = fd;
	l->tcp = tcp;
	l->name = xstrdup(name);
	l->max = (size_t)eng_config_max_connections(eng_config(s->eng));
	TAILQ_INIT(&l->conns);
	l->accept_ev = event_new(s->base, fd, EV_READ | EV_PERSIST,
	    http_accept_cb, l);
	l->backoff_ev = evtimer_new(s->base, http_backoff_cb, l);
	if (l->accept_ev == NULL || l->backoff_ev == NULL ||
	    event_add(l->accept_ev, NULL) != 0)
		fatalx("cannot listen on %s", name);
	return l;
}

/*
 * Stop accepting on l and close its socket (its connections stay); 1 if
 * it was open until now.
 */
int
http_listener_close(struct http_listener *l)
{
	if (l == NULL || l->fd == -1)
		return 0;
	event_del(l->accept_ev);
	event_del(l->backoff_ev);
	close(l->fd);
	l->fd = -1;
	return 1;
}

/* Close l and every connection it has; free it. */
void
http_listener_free(struct http_listener *l)
{
	struct http_conn *c;

	if (l == NULL)
		return;
	http_listener_close(l);
	while ((c = TAILQ_FIRST(&l->conns)) != NULL) {
		if (c->bev != NULL) {
			bufferevent_free(c->bev);
			event_free(c->timer);
		}
		if (c->r != NULL)
			server_drop(c->r);
		http_conn_free(c);
	}
	event_free(l->accept_ev);
	event_free(l->backoff_ev);
	free(l->name);
	free(l);
}

/*
 * Each listener's connection cap: max_connections, lowered so that all
 * listeners together stay SCH_FD_RESERVE descriptors below the open-file
 * limit (logged when lowered).  At start and after a reload.
 */
void
http_limits(struct sch *s)
{
	struct http_listener *ls[2] = { s->http_unix, s->http_tcp };
	int want = eng_config_max_connections(eng_config(s->eng));
	int n = (ls[0] != NULL) + (ls[1] != NULL), cap = want, room, i;

	if (n == 0)
		return;
	room = (s->nofile - SCH_FD_RESERVE) / n;
	if (room < cap) {
		cap = room > 1 ? room : 1;
		log_warnx("max_connections %d lowered to %d per listener: the "
		    "open-file limit is %d, %d of them kept for the "
		    "database, outgoing deliveries and the rest (raise "
		    "LimitNOFILE= or ulimit -n)", want, cap, s->nofile, SCH_FD_RESERVE);
	}
	for (i = 0; i < 2; i++) {
		if (ls[i] == NULL)
			continue;
		ls[i]->max = (size_t)cap;
		if (ls[i]->paused == 1 && ls[i]->nconn < ls[i]->max)
			http_resume(ls[i]);
	}
}
