/*
 * Webhook deliveries: the engine queues HTTP deliveries (eng_delivery_*);
 * this file performs them with libevent's HTTP client.  Each is a POST of
 * the rendered body to an http:// URL with Content-Type: application/json,
 * the message id as Idempotency-Key and a 10 s timeout.  The outcome (2xx
 * or not, and why) is queued on s->outcomes and recorded by the next flush
 * with eng_delivery_done(), which retries failures with backoff.
 * Delivery is at least once: a delivery in flight when belfryd stops is
 * the engine's to retry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>

#include "scheduler/scheduler.h"

#define WEBHOOK_TIMEOUT 10
/*
 * A reply's body is read and discarded as it arrives, up to this many
 * bytes; a longer one ends the connection.  The status line decides:
 * a 2xx was delivered whatever its body does afterwards.
 */
#define WEBHOOK_MAX_REPLY (1024 * 1024)

/* One delivery in flight. */
struct webhook {
	struct sch *s;
	int64_t id;
	char *message_id;
	struct evhttp_connection *conn;
	enum evhttp_request_error error;
	int failed;
	int code;               /* the reply's status, once its head is in */
};

/* Record an outcome for the next flush. */
static void
webhook_outcome(struct sch *s, int64_t id, int ok, char *err)
{
	struct sch_outcome *o = xcalloc(1, sizeof *o);

	o->id = id;
	o->ok = ok;
	o->err = err;
	TAILQ_INSERT_TAIL(&s->outcomes, o, entry);
	server_kick(s);
}

/* Free a finished connection from a fresh stack (never inside its cb). */
static void
webhook_free_conn(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	evhttp_connection_free(arg);
}

/* What an evhttp request error means, for the message's record. */
static const char *
webhook_error_text(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid reply";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection failed";
	case EVREQ_HTTP_REQUEST_CANCEL:
		return "cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "reply too long";
	}
	return "failed";
}

/* evhttp's error callback: remember why, the done callback follows. */
static void
webhook_error_cb(enum evhttp_request_error e, void *arg)
{
	struct webhook *w = arg;

	w->error = e;
	w->failed = 1;
}

/* The reply's head is in: remember its status before any body. */
static int
webhook_header_cb(struct evhttp_request *req, void *arg)
{
	struct webhook *w = arg;

	w->code = evhttp_request_get_response_code(req);
	return 0;
}

/* A piece of the reply's body: not kept. */
static void
webhook_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* The reply (or the failure) of a delivery. */
static void
webhook_done_cb(struct evhttp_request *req, void *arg)
{
	struct webhook *w = arg;
	struct sch *s = w->s;
	struct timeval tv = { 0, 0 };
	char *err = NULL;
	int code = req != NULL ? evhttp_request_get_response_code(req) :
	    w->code;
	int ok = code >= 200 && code < 300;

	if (!ok) {
		if (code != 0)
			err = xasprintf("HTTP %d", code);
		else
			err = xstrdup(w->failed ? webhook_error_text(w->error) :
			    "connection failed");
	}
	log_debug("webhook %s: %s", w->message_id, ok ? "delivered" : err);
	webhook_outcome(s, w->id, ok, err);
	s->inflight--;
	event_base_once(s->base, -1, EV_TIMEOUT, webhook_free_conn, w->conn,
	    &tv);
	free(w->message_id);
	free(w);
}

/*
 * Take up to max deliveries due at now (inside the caller's transaction),
 * leaving room for no more than SCH_MAX_INFLIGHT in flight.
 */
size_t
webhook_take(struct sch *s, int64_t now, struct eng_delivery *out,
    size_t max)
{
	if (s->inflight >= SCH_MAX_INFLIGHT)
		return 0;
	if (max > SCH_MAX_INFLIGHT - s->inflight)
		max = SCH_MAX_INFLIGHT - s->inflight;
	return eng_delivery_take(s->eng, now, out, max);
}

/* Start delivering d (the caller frees d). */
void
webhook_start(struct sch *s, struct eng_delivery *d)
{
	struct evhttp_uri *uri = NULL;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	struct webhook *w;
	const char *scheme, *host, *path, *query;
	char *target = NULL, *hosthdr = NULL, *addr = NULL;
	int port;

	s->counters.deliveries++;
	uri = evhttp_uri_parse(d->url);
	scheme = uri != NULL ? evhttp_uri_get_scheme(uri) : NULL;
	host = uri != NULL ? evhttp_uri_get_host(uri) : NULL;
	if (scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL ||
	    *host == '\0') {
		webhook_outcome(s, d->id, 0, xasprintf("unsupported URL %s "
		    "(only http://HOST[:PORT]/PATH)", d->url));
		goto out;
	}
	port = evhttp_uri_get_port(uri);
	if (port == -1)
		port = 80;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	target = xasprintf("%s%s%s", path != NULL && *path != '\0' ? path :
	    "/", query != NULL ? "?" : "", query != NULL ? query : "");
	hosthdr = port == 80 ? xstrdup(host) : xasprintf("%s:%d", host, port);
	/* An IPv6 literal keeps its brackets in Host: only. */
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		addr = xstrdup(host + 1);
		addr[strlen(addr) - 1] = '\0';
	} else
		addr = xstrdup(host);

	w = xcalloc(1, sizeof *w);
	w->s = s;
	w->id = d->id;
	w->message_id = xstrdup(d->message_id != NULL ? d->message_id : "");
	w->conn = evhttp_connection_base_new(s->base, s->dns, addr,
	    (unsigned short)port);
	if (w->conn == NULL) {
		webhook_outcome(s, d->id, 0, xstrdup("cannot create a "
		    "connection"));
		free(w->message_id);
		free(w);
		goto out;
	}
	evhttp_connection_set_timeout(w->conn, WEBHOOK_TIMEOUT);
	evhttp_connection_set_retries(w->conn, 0);
	evhttp_connection_set_max_body_size(w->conn, WEBHOOK_MAX_REPLY);

	req = evhttp_request_new(webhook_done_cb, w);
	evhttp_request_set_error_cb(req, webhook_error_cb);
	evhttp_request_set_header_cb(req, webhook_header_cb);
	evhttp_request_set_chunked_cb(req, webhook_chunk_cb);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", hosthdr);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Idempotency-Key", w->message_id);
	evhttp_add_header(h, "User-Agent", "belfry/" BELFRY_VERSION);
	evhttp_add_header(h, "Connection", "close");
	if (d->body != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(req), d->body,
		    strlen(d->body));
	if (evhttp_make_request(w->conn, req, EVHTTP_REQ_POST, target) != 0) {
		/* evhttp took the request off the connection: ours to free. */
		evhttp_request_free(req);
		webhook_outcome(s, d->id, 0, xstrdup("cannot send the "
		    "request"));
		evhttp_connection_free(w->conn);
		free(w->message_id);
		free(w);
		goto out;
	}
	s->inflight++;
	log_debug("webhook %s: POST %s (attempt %d)", w->message_id, d->url,
	    d->attempt);
out:
	free(target);
	free(hosthdr);
	free(addr);
	if (uri != NULL)
		evhttp_uri_free(uri);
}
