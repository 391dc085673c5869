/*
 * Knock's real-time feed: /ws/v1/websocket on the TCP listener, speaking
 * the Phoenix v2 JSON protocol that @knocklabs/client's socket uses.
 *
 * The upgrade: server.c checks the request head like any other (the key
 * and the user token come as the query's api_key and user_token) and
 * calls ws_upgrade(), which checks the handshake (RFC 6455 4.2.1), takes
 * the connection's bufferevent from http.c (http_detach: it stays counted
 * against the listener's max_connections until it closes), writes the 101
 * and from then on owns the socket.  Framing is libwslay's: its recv and
 * send callbacks read the bufferevent's input and append to its output,
 * so the socket shares the loop like every other connection; wslay
 * answers pings and the closing handshake by itself.
 *
 * Phoenix v2 messages are arrays [join_ref, ref, topic, event, payload]:
 *   heartbeat on "phoenix"      -> phx_reply ok
 *   phx_join on feeds:CH:USER   -> phx_reply ok (or error), with the feed
 *                                  clients' filters as {ref: {...}}
 *   phx_leave                   -> phx_reply ok, the topic is left
 * and belfry pushes [join_ref, null, topic, "new-message", {event,
 * metadata, data: {ref: {metadata}}, attn: [ref...]}] when a committed
 * transaction gave that feed a message (ws_push(), after the commit's
 * replies): at once, or, within WS_PUSH_GAP of the join's last push, when
 * the gap has passed (a burst is one push a gap; the client fetches
 * everything newer than what it has).  The counts are each feed client's,
 * with its tenant filters, taken when it joins and kept between pushes.
 *
 * Who may join: a server key any feed; a public key the feed of its
 * user token's user when user tokens are configured, else any feed (as
 * it may read any user's feed then).
 *
 * Bounds: a client's message at most WS_MAX_MSG bytes; at most
 * WS_MAX_JOINS topics a socket and WS_MAX_REFS feed clients a topic; a
 * socket whose unsent output passes WS_MAX_OUT (a client that does not
 * read) is closed rather than buffered for, so a slow client costs
 * bounded memory and never blocks the loop; a socket that sends nothing
 * for WS_IDLE_SECS (Phoenix heartbeats every 30 s) is closed.  Sockets
 * are found for a push through a hash of their topics.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/evp.h>

#include <wslay/wslay.h>

#include "scheduler/notify.h"
#include "scheduler/scheduler.h"

#define WS_MAX_MSG (64 * 1024)
#define WS_MAX_OUT (1024 * 1024)
#define WS_MAX_JOINS 16
#define WS_MAX_REFS 16
#define WS_IDLE_SECS 60
#define WS_BUCKETS 4096
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_PUSH_GAP 500000         /* usec between two pushes to a join */
#define WS_PUSH_TICK 50000         /* usec between looks at waiting ones */

struct ws_conn;

/*
 * A feed client of a join (a reference of the join's payload): its
 * tenant filters and its counts, kept from the last count and moved by
 * each new message while no engagement change made them stale.
 */
struct ws_ref {
	char *ref;
	char *tenant;            /* NULL: any */
	int has_tenant;
	int valid;
	struct eng_feed_counts n;
};

/* A topic a socket has joined: one user's feed on one channel. */
struct ws_join {
	struct ws_conn *conn;
	char *topic, *channel, *user;
	json_t *join_ref;        /* as the client sent it */
	struct ws_ref *refs;     /* the feed clients of its payload */
	size_t nrefs;
	uint64_t gen;            /* the push pass that last listed it */
	uint64_t last;           /* monotonic usec of its last push */
	int pending;             /* a push waits for WS_PUSH_GAP to pass */
	TAILQ_ENTRY(ws_join) pending_entry;
	size_t bucket;
	TAILQ_ENTRY(ws_join) conn_entry;
	TAILQ_ENTRY(ws_join) hub_entry;
};
TAILQ_HEAD(ws_joins, ws_join);

/* An open websocket. */
struct ws_conn {
	struct ws_hub *hub;
	struct http_listener *l;
	struct bufferevent *bev;
	wslay_event_context_ptr ctx;
	struct event *timer;
	int server;              /* a server key: any feed */
	char *user;              /* public key: its only user, or NULL: any */
	struct ws_joins joins;
	size_t njoins;
	int tls;                 /* bev is a TLS bufferevent */
	int closing;             /* close once the output is out */
	int failed;              /* wslay refused to queue: close now */
	int dirty;               /* on the hub's list of sockets to flush */
	TAILQ_ENTRY(ws_conn) entry;
	TAILQ_ENTRY(ws_conn) dirty_entry;
};

struct ws_hub {
	struct sch *s;
	TAILQ_HEAD(, ws_conn) conns;
	TAILQ_HEAD(, ws_conn) dirty; /* given pushes in this pass */
	size_t nconns;
	uint64_t gen;
	struct ws_joins pending;     /* joins whose push waits */
	struct event *timer;         /* armed while pending is not empty */
	struct ws_joins buckets[WS_BUCKETS];
};

static void ws_close(struct ws_conn *);
static void ws_flush(struct ws_conn *);
static void ws_pending_cb(evutil_socket_t, short, void *);

/* See scheduler.h: the hub of s's websockets, empty. */
void
ws_init(struct sch *s)
{
	struct ws_hub *h = xcalloc(1, sizeof *h);
	size_t i;

	h->s = s;
	TAILQ_INIT(&h->conns);
	TAILQ_INIT(&h->pending);
	if ((h->timer = evtimer_new(s->base, ws_pending_cb, s)) == NULL)
		fatalx("cannot create the push timer");
	TAILQ_INIT(&h->dirty);
	for (i = 0; i < WS_BUCKETS; i++)
		TAILQ_INIT(&h->buckets[i]);
	s->ws = h;
}

/* See scheduler.h: how many websockets are open. */
size_t
ws_count(const struct sch *s)
{
	return s->ws != NULL ? s->ws->nconns : 0;
}

/* The bucket of the feed of user on channel (FNV-1a). */
static size_t
ws_bucket(const char *channel, const char *user)
{
	uint64_t h = 14695981039346656037ULL;
	const char *p;

	for (p = channel; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0) * 1099511628211ULL;
	for (p = user; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)(h % WS_BUCKETS);
}

/* Queue the text of the Phoenix message j (taken) on w. */
static void
ws_send(struct ws_conn *w, json_t *j)
{
	struct wslay_event_msg m;
	char *text = eng_json_dumps(j, JSON_COMPACT);

	json_decref(j);
	m.opcode = WSLAY_TEXT_FRAME;
	m.msg = (const uint8_t *)text;
	m.msg_length = strlen(text);
	/* wslay copies the message. */
	if (wslay_event_queue_msg(w->ctx, &m) != 0)
		w->failed = 1;
	free(text);
}

/* Reply to the message (join_ref, ref, topic) with status and response. */
static void
ws_reply(struct ws_conn *w, json_t *join_ref, json_t *ref, const char *topic,
    const char *status, json_t *response)
{
	ws_send(w, json_pack("[O, O, s, s, {s:s, s:o}]", join_ref, ref, topic,
	    "phx_reply", "status", status, "response", response));
}

/* An error reply naming reason. */
static void
ws_refuse(struct ws_conn *w, json_t *join_ref, json_t *ref, const char *topic,
    const char *reason)
{
	ws_reply(w, join_ref, ref, topic, "error", json_pack("{s:s}",
	    "reason", reason));
}

/* The join of w on topic, or NULL. */
static struct ws_join *
ws_find(struct ws_conn *w, const char *topic)
{
	struct ws_join *j;

	TAILQ_FOREACH(j, &w->joins, conn_entry)
		if (strcmp(j->topic, topic) == 0)
			return j;
	return NULL;
}

/* Leave join j and free it. */
static void
ws_leave(struct ws_join *j)
{
	struct ws_conn *w = j->conn;
	size_t i;

	TAILQ_REMOVE(&w->joins, j, conn_entry);
	TAILQ_REMOVE(&w->hub->buckets[j->bucket], j, hub_entry);
	if (j->pending)
		TAILQ_REMOVE(&w->hub->pending, j, pending_entry);
	w->njoins--;
	json_decref(j->join_ref);
	for (i = 0; i < j->nrefs; i++) {
		free(j->refs[i].ref);
		free(j->refs[i].tenant);
	}
	free(j->refs);
	free(j->topic);
	free(j->channel);
	free(j->user);
	free(j);
}

/* Whether params is {ref: {filters}} within the bounds. */
static int
ws_params_ok(json_t *params)
{
	const char *ref;
	json_t *v;

	if (!json_is_object(params) || json_object_size(params) > WS_MAX_REFS)
		return 0;
	json_object_foreach(params, ref, v)
		if (!json_is_object(v))
			return 0;
	return 1;
}

/*
 * The feed clients of a join's params (checked by ws_params_ok), each
 * with its counts taken now: from here on new messages move them, so a
 * push costs no walk of the feed unless an engagement change made them
 * stale.
 */
static void
ws_refs(struct sch *s, struct ws_join *j, json_t *params)
{
	const char *ref, *t;
	json_t *f, *ht;
	struct ws_ref *r;

	j->refs = xcalloc(json_object_size(params) + 1, sizeof *j->refs);
	json_object_foreach(params, ref, f) {
		r = &j->refs[j->nrefs++];
		r->ref = xstrdup(ref);
		t = json_string_value(json_object_get(f, "tenant"));
		r->tenant = t != NULL ? xstrdup(t) : NULL;
		ht = json_object_get(f, "has_tenant");
		r->has_tenant = json_is_true(ht) || (json_is_string(ht) &&
		    strcmp(json_string_value(ht), "true") == 0);
		eng_feed_counts(s->eng, j->user, j->channel, r->tenant,
		    r->has_tenant, &r->n);
		r->valid = 1;
	}
}

/* phx_join of topic with params, as (join_ref, ref). */
static void
ws_join(struct ws_conn *w, json_t *join_ref, json_t *ref, const char *topic,
    json_t *params)
{
	const struct eng_config *c = eng_config(w->hub->s->eng);
	const char *rest, *colon;
	struct ws_join *j;
	char *channel;

	if (strncmp(topic, "feeds:", 6) != 0 ||
	    (colon = strchr(rest = topic + 6, ':')) == NULL ||
	    colon == rest || colon[1] == '\0') {
		ws_refuse(w, join_ref, ref, topic, "unmatched topic: belfry "
		    "serves feeds:CHANNEL:USER");
		return;
	}
	channel = xasprintf("%.*s", (int)(colon - rest), rest);
	if (!eng_config_is_feed(c, channel)) {
		free(channel);
		ws_refuse(w, join_ref, ref, topic, "no such in-app feed "
		    "channel");
		return;
	}
	if (!w->server && w->user != NULL && strcmp(w->user, colon + 1)) {
		free(channel);
		ws_refuse(w, join_ref, ref, topic, "unauthorized: the user "
		    "token is for another user");
		return;
	}
	if (!ws_params_ok(params)) {
		free(channel);
		ws_refuse(w, join_ref, ref, topic, "the join's payload must "
		    "be {reference: {filters}} with at most 16 references");
		return;
	}
	if ((j = ws_find(w, topic)) != NULL) {
		/* Phoenix: a second join replaces the first, closing it. */
		ws_send(w, json_pack("[O, O, s, s, {}]", j->join_ref,
		    j->join_ref, topic, "phx_close"));
		ws_leave(j);
	}
	if (w->njoins >= WS_MAX_JOINS) {
		free(channel);
		ws_refuse(w, join_ref, ref, topic, "too many topics on one "
		    "socket (16)");
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->conn = w;
	j->topic = xstrdup(topic);
	j->channel = channel;
	j->user = xstrdup(colon + 1);
	j->join_ref = json_incref(join_ref);
	ws_refs(w->hub->s, j, params);
	j->bucket = ws_bucket(j->channel, j->user);
	TAILQ_INSERT_TAIL(&w->joins, j, conn_entry);
	TAILQ_INSERT_TAIL(&w->hub->buckets[j->bucket], j, hub_entry);
	w->njoins++;
	ws_reply(w, join_ref, ref, topic, "ok", json_object());
}

/* One Phoenix message, text of len bytes. */
static void
ws_message(struct ws_conn *w, const char *text, size_t len)
{
	json_t *m = json_loadb(text, len, 0, NULL), *join_ref, *ref, *payload;
	const char *topic, *event;
	struct ws_join *j;

	if (!json_is_array(m) || json_array_size(m) != 5 ||
	    (topic = json_string_value(json_array_get(m, 2))) == NULL ||
	    (event = json_string_value(json_array_get(m, 3))) == NULL) {
		/* Not Phoenix v2: nothing sensible can follow. */
		json_decref(m);
		wslay_event_queue_close(w->ctx,
		    WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA,
		    (const uint8_t *)"not a Phoenix v2 message", 24);
		return;
	}
	join_ref = json_array_get(m, 0);
	ref = json_array_get(m, 1);
	payload = json_array_get(m, 4);
	if (strcmp(topic, "phoenix") == 0 && strcmp(event, "heartbeat") == 0)
		ws_reply(w, join_ref, ref, topic, "ok", json_object());
	else if (strcmp(event, "phx_join") == 0)
		ws_join(w, join_ref, ref, topic, payload);
	else if ((j = ws_find(w, topic)) == NULL)
		ws_refuse(w, join_ref, ref, topic, "unmatched topic");
	else if (strcmp(event, "phx_leave") == 0) {
		ws_leave(j);
		ws_reply(w, join_ref, ref, topic, "ok", json_object());
	} else
		ws_refuse(w, join_ref, ref, topic, "unknown event");
	json_decref(m);
}

/* wslay's recv callback: what the bufferevent has read. */
static ssize_t
ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct ws_conn *w = arg;
	int n;

	(void)flags;
	n = evbuffer_remove(bufferevent_get_input(w->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

/*
 * wslay's send callback: onto the bufferevent's output, unless the
 * client has left WS_MAX_OUT bytes unread (then the socket is closed).
 */
static ssize_t
ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct ws_conn *w = arg;
	struct evbuffer *out = bufferevent_get_output(w->bev);

	(void)flags;
	if (evbuffer_get_length(out) + len > WS_MAX_OUT) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	if (evbuffer_add(out, data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* wslay's message callback: text frames are Phoenix messages. */
static void
ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg
    *arg, void *data)
{
	struct ws_conn *w = data;

	if (arg->opcode == WSLAY_TEXT_FRAME)
		ws_message(w, (const char *)arg->msg, arg->msg_length);
	else if (arg->opcode == WSLAY_BINARY_FRAME)
		wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA,
		    (const uint8_t *)"text frames only", 16);
}

/*
 * Write what w's output holds now, without waiting for the socket to
 * report writable (a push costs one write instead of arming the write
 * event, a loop pass and disarming it): 0 when all is out, 1 when the
 * rest waits for the write event, -1 on an error.  Under TLS the bytes
 * go through the bufferevent, which writes them from the loop.
 */
static int
ws_write_now(struct ws_conn *w)
{
	struct evbuffer *out = bufferevent_get_output(w->bev);
	int n;

	if (w->tls || evbuffer_get_length(out) == 0)
		return 0;
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0) {
		n = evbuffer_write(out, bufferevent_getfd(w->bev));
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		evbuffer_freeze(out, 1);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		bufferevent_enable(w->bev, EV_WRITE);
		return 1;
	}
	evbuffer_freeze(out, 1);
	return 0;
}

/* Send what wslay has queued; close when both sides are done. */
static void
ws_flush(struct ws_conn *w)
{
	if (w->failed || wslay_event_send(w->ctx) != 0 ||
	    ws_write_now(w) < 0) {
		ws_close(w);
		return;
	}
	if (!wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx)) {
		/* The closing handshake is done: close once it is out. */
		if (evbuffer_get_length(bufferevent_get_output(w->bev)) == 0)
			ws_close(w);
		else
			w->closing = 1;
	}
}

/* The bufferevent's read callback: frames in, replies out. */
static void
ws_read_cb(struct bufferevent *bev, void *arg)
{
	struct ws_conn *w = arg;
	struct timeval tv = { WS_IDLE_SECS, 0 };

	(void)bev;
	evtimer_add(w->timer, &tv);
	if (wslay_event_recv(w->ctx) != 0) {
		ws_close(w);
		return;
	}
	ws_flush(w);
}

/*
 * The bufferevent's write callback: the output is out (without TLS the
 * write event is armed only while ws_write_now left some behind).
 */
static void
ws_write_cb(struct bufferevent *bev, void *arg)
{
	struct ws_conn *w = arg;

	if (w->closing)
		ws_close(w);
	else if (!w->tls)
		bufferevent_disable(bev, EV_WRITE);
}

/* End of file or an error: close. */
static void
ws_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	ws_close(arg);
}

/* Nothing came for WS_IDLE_SECS: close. */
static void
ws_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	ws_close(arg);
}

/* Close w's socket and free it. */
static void
ws_close(struct ws_conn *w)
{
	struct ws_join *j;

	while ((j = TAILQ_FIRST(&w->joins)) != NULL)
		ws_leave(j);
	TAILQ_REMOVE(&w->hub->conns, w, entry);
	if (w->dirty)
		TAILQ_REMOVE(&w->hub->dirty, w, dirty_entry);
	w->hub->nconns--;
	wslay_event_context_free(w->ctx);
	bufferevent_free(w->bev);
	event_free(w->timer);
	http_release(w->l);
	free(w->user);
	free(w);
}

/* The Sec-WebSocket-Accept value for key (RFC 6455 4.2.2) into out. */
static void
ws_accept_key(const char *key, char out[32])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char *text = xasprintf("%s%s", key, WS_GUID);

	EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL);
	free(text);
	EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

/* Whether the comma-separated header value v has token (any case). */
static int
ws_has_token(const char *v, const char *token)
{
	size_t n = strlen(token), k;

	while (v != NULL && *v != '\0') {
		v += strspn(v, " \t,");
		k = strcspn(v, ", \t");
		if (k == n && strncasecmp(v, token, n) == 0)
			return 1;
		v += k;
	}
	return 0;
}

/*
 * See scheduler.h: r (checked by server_head, taken) asks to become a
 * websocket; answer 101 and take the connection, or answer an error.
 */
void
ws_upgrade(struct sch_req *r, int body)
{
	static const struct wslay_event_callbacks cbs = { ws_recv_cb,
	    ws_send_cb, NULL, NULL, NULL, NULL, ws_msg_cb };
	struct http_conn *c = r->conn;
	struct sch *s = r->s;
	const char *key = http_header(c, "Sec-WebSocket-Key");
	const char *ver = http_header(c, "Sec-WebSocket-Version");
	const char *origin = http_header(c, "Origin");
	const char *vsn = json_string_value(json_object_get(r->query, "vsn"));
	struct timeval tv = { WS_IDLE_SECS, 0 };
	struct ws_conn *w;
	char accept[32];

	if (!ws_has_token(http_header(c, "Upgrade"), "websocket") ||
	    !ws_has_token(http_header(c, "Connection"), "upgrade") || body) {
		server_reply_error(c, 400, "invalid_request", "this is a "
		    "websocket: GET with Upgrade: websocket and Connection: "
		    "Upgrade, and no body", HTTP_CLOSE);
		goto done;
	}
	if (ver == NULL || strcmp(ver, "13") != 0) {
		http_send(c, 426, "application/json", NULL, 0,
		    "Sec-WebSocket-Version: 13\r\n", HTTP_CLOSE);
		goto done;
	}
	if (key == NULL || strlen(key) != 24) {
		server_reply_error(c, 400, "invalid_request", "Sec-WebSocket-"
		    "Key must be 16 bytes in base64", HTTP_CLOSE);
		goto done;
	}
	if (vsn != NULL && strcmp(vsn, "2.0.0") != 0) {
		server_reply_error(c, 400, "invalid_request", "belfry speaks "
		    "the Phoenix protocol vsn=2.0.0", HTTP_CLOSE);
		goto done;
	}
	if (origin != NULL && !auth_origin(s, origin)) {
		server_reply_error(c, 403, "origin_not_allowed", "this origin "
		    "is not one of allowed_origins", HTTP_CLOSE);
		goto done;
	}

	w = xcalloc(1, sizeof *w);
	w->hub = s->ws;
	w->server = !r->pub;
	w->user = r->user;
	r->user = NULL;
	TAILQ_INIT(&w->joins);
	if (wslay_event_context_server_init(&w->ctx, &cbs, w) != 0)
		fatalx("out of memory");
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MAX_MSG);
	w->bev = http_detach(c, &w->l);
	w->timer = evtimer_new(s->base, ws_timer_cb, w);
	if (w->timer == NULL)
		fatalx("cannot set up a websocket");
	TAILQ_INSERT_TAIL(&w->hub->conns, w, entry);
	w->hub->nconns++;
	s->counters.http[101]++;
	ws_accept_key(key, accept);
	evbuffer_add_printf(bufferevent_get_output(w->bev), "HTTP/1.1 101 "
	    "Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
	    "Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	bufferevent_setcb(w->bev, ws_read_cb, ws_write_cb, ws_event_cb, w);
	w->tls = bufferevent_openssl_get_ssl(w->bev) != NULL;
	bufferevent_enable(w->bev, w->tls ? EV_READ | EV_WRITE : EV_READ);
	evtimer_add(w->timer, &tv);
	if (ws_write_now(w) < 0) {
		ws_close(w);
		goto done;
	}
	/* Frames sent right behind the request are read from the loop. */
	if (evbuffer_get_length(bufferevent_get_input(w->bev)) > 0)
		bufferevent_trigger(w->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
done:
	server_drop(r);
}

/* Whether a new message of tenant (NULL: none) counts in r's feed. */
static int
ws_ref_counts(const struct ws_ref *r, const char *tenant)
{
	if (r->has_tenant && tenant == NULL)
		return 0;
	if (r->tenant == NULL)
		return 1;
	return tenant != NULL ? strcmp(tenant, r->tenant) == 0 :
	    !r->has_tenant;
}

/* r's counts as FeedMetadata, counted anew when stale. */
static json_t *
ws_counts(struct sch *s, struct ws_join *j, struct ws_ref *r)
{
	if (!r->valid) {
		eng_feed_counts(s->eng, j->user, j->channel, r->tenant,
		    r->has_tenant, &r->n);
		r->valid = 1;
	}
	return json_pack("{s:s, s:I, s:I, s:I}", "__typename", "FeedMetadata",
	    "total_count", (json_int_t)r->n.total, "unread_count",
	    (json_int_t)r->n.unread, "unseen_count", (json_int_t)r->n.unseen);
}

/* Push new-message to join j with each feed client's counts. */
static void
ws_notify(struct sch *s, struct ws_join *j)
{
	json_t *data = json_object(), *attn = json_array(), *meta = NULL, *m;
	struct ws_ref all = { NULL, NULL, 0, 0, { 0, 0, 0 } };
	size_t i;

	for (i = 0; i < j->nrefs; i++) {
		m = ws_counts(s, j, &j->refs[i]);
		if (meta == NULL)
			meta = json_incref(m);
		json_object_set_new(data, j->refs[i].ref, json_pack("{s:o}",
		    "metadata", m));
		json_array_append_new(attn, json_string(j->refs[i].ref));
	}
	if (meta == NULL)
		meta = ws_counts(s, j, &all);
	ws_send(j->conn, json_pack("[O, n, s, s, {s:s, s:o, s:o, s:o}]",
	    j->join_ref, j->topic, "new-message", "event", "new-message",
	    "metadata", meta, "data", data, "attn", attn));
	s->counters.pushes++;
	j->last = sch_notify_monotonic_usec();
	if (!j->conn->dirty) {
		j->conn->dirty = 1;
		TAILQ_INSERT_TAIL(&s->ws->dirty, j->conn, dirty_entry);
	}
}

/*
 * Apply change p to join j: an engagement change makes its counts stale;
 * a new message moves the counts still valid and lists j (once a pass)
 * in *list for a push.
 */
static void
ws_change(struct sch *s, struct ws_join *j, const struct eng_push *p,
    struct ws_join ***list, size_t *n, size_t *cap)
{
	size_t i;

	for (i = 0; i < j->nrefs; i++) {
		if (p != NULL && !p->mark && j->refs[i].valid &&
		    ws_ref_counts(&j->refs[i], p->tenant)) {
			j->refs[i].n.total++;
			j->refs[i].n.unread++;
			j->refs[i].n.unseen++;
		} else if (p == NULL || p->mark)
			j->refs[i].valid = 0;
	}
	if ((p != NULL && p->mark) || j->gen == s->ws->gen)
		return;
	j->gen = s->ws->gen;
	if (*n == *cap)
		*list = xreallocarray(*list, *cap = *cap ? *cap * 2 : 64,
		    sizeof **list);
	(*list)[(*n)++] = j;
}

/* Send what the sockets given pushes have queued. */
static void
ws_flush_dirty(struct ws_hub *h)
{
	struct ws_conn *w;

	while ((w = TAILQ_FIRST(&h->dirty)) != NULL) {
		TAILQ_REMOVE(&h->dirty, w, dirty_entry);
		w->dirty = 0;
		ws_flush(w);
	}
}

/*
 * Push to join j now, or, within WS_PUSH_GAP of its last push, once the
 * gap has passed (a burst of messages to one feed is one push a gap,
 * with the counts of when it leaves; the client fetches all that is new).
 */
static void
ws_push_join(struct sch *s, struct ws_join *j, uint64_t now)
{
	struct ws_hub *h = s->ws;
	struct timeval tick = { 0, WS_PUSH_TICK };

	if (j->pending)
		return;
	if (now - j->last >= WS_PUSH_GAP) {
		ws_notify(s, j);
		return;
	}
	j->pending = 1;
	TAILQ_INSERT_TAIL(&h->pending, j, pending_entry);
	if (!evtimer_pending(h->timer, NULL))
		evtimer_add(h->timer, &tick);
}

/*
 * The waiting pushes' timer, every WS_PUSH_TICK while some wait: send
 * those whose gap has passed (a push waits at most a tick longer than
 * its gap; the list is looked at a bounded number of times a second).
 */
static void
ws_pending_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;
	struct ws_hub *h = s->ws;
	struct ws_join *j, *next;
	uint64_t now = sch_notify_monotonic_usec();
	struct timeval tick = { 0, WS_PUSH_TICK };

	(void)fd;
	(void)events;
	for (j = TAILQ_FIRST(&h->pending); j != NULL; j = next) {
		next = TAILQ_NEXT(j, pending_entry);
		if (now - j->last < WS_PUSH_GAP)
			continue;
		TAILQ_REMOVE(&h->pending, j, pending_entry);
		j->pending = 0;
		ws_notify(s, j);
	}
	ws_flush_dirty(h);
	if (!TAILQ_EMPTY(&h->pending))
		evtimer_add(h->timer, &tick);
}

/*
 * Apply n changes to feeds p (all: too many to list) to the sockets that
 * joined them, and push new-message to those that got a message (to
 * every join, counted anew, when all).
 */
static void
ws_apply(struct sch *s, const struct eng_push *p, size_t n, int all)
{
	struct ws_hub *h = s->ws;
	struct ws_join *j, **list = NULL;
	struct ws_conn *w;
	size_t i, nl = 0, cap = 0;
	uint64_t now;

	if (h == NULL || h->nconns == 0)
		return;
	h->gen++;
	if (all) {
		TAILQ_FOREACH(w, &h->conns, entry)
			TAILQ_FOREACH(j, &w->joins, conn_entry)
				ws_change(s, j, NULL, &list, &nl, &cap);
	} else
		for (i = 0; i < n; i++)
			TAILQ_FOREACH(j, &h->buckets[ws_bucket(p[i].channel,
			    p[i].rcpt)], hub_entry)
				if (strcmp(j->user, p[i].rcpt) == 0 &&
				    strcmp(j->channel, p[i].channel) == 0)
					ws_change(s, j, &p[i], &list, &nl,
					    &cap);
	now = sch_notify_monotonic_usec();
	for (i = 0; i < nl; i++)
		ws_push_join(s, list[i], now);
	free(list);
	ws_flush_dirty(h);
}

/*
 * See scheduler.h: after a commit, apply the engine's changes to feeds
 * to the sockets that joined them (ws_apply).
 */
void
ws_push(struct sch *s)
{
	struct eng_push *p;
	size_t n;
	int all;

	n = eng_pushes_take(s->eng, &p, &all);
	ws_push_taken(s, p, n, all);
}

/* See scheduler.h: push changes taken from the engine earlier. */
void
ws_push_taken(struct sch *s, struct eng_push *p, size_t n, int all)
{
	ws_apply(s, p, n, all);
	eng_pushes_free(p, n);
}

/*
 * See scheduler.h: apply what other nodes sharing the store announced,
 * as ws_push applies this node's own; the earliest work they made due,
 * or INT64_MAX.
 */
int64_t
ws_heard(struct sch *s)
{
	struct eng_push *p;
	int64_t due = INT64_MAX;
	size_t n;
	int all;

	n = eng_heard(s->eng, &p, &all, &due);
	if (n > 0 || all)
		ws_apply(s, p, n, all);
	eng_pushes_free(p, n);
	return due;
}

/* See scheduler.h: close every websocket (at shutdown). */
void
ws_stop(struct sch *s)
{
	struct ws_conn *w;

	if (s->ws == NULL)
		return;
	while ((w = TAILQ_FIRST(&s->ws->conns)) != NULL)
		ws_close(w);
	event_free(s->ws->timer);
	free(s->ws);
	s->ws = NULL;
}
