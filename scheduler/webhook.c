/*
 * Webhook deliveries: an http channel's request on the libcurl multi
 * handle (outbound.c).  The channel's method (POST unless configured) to
 * its http:// or https:// URL, over HTTP/1.1 with keep-alive, verifying
 * TLS with the system's CAs or the channel's ca_file; headers:
 * Content-Type: application/json unless the channel sets its own, the
 * channel's rendered headers, the message id as Idempotency-Key, and
 * with a signing_secret the Standard Webhooks webhook-id (the message
 * id), webhook-timestamp (the attempt's time) and webhook-signature.
 *
 * A 2xx reply is delivered whatever its body, which is read and
 * discarded as it arrives (its first bytes kept for the log) up to
 * WEBHOOK_MAX_REPLY, after which the connection is dropped.  Redirects
 * are not followed: a 3xx is a failure naming where it pointed.  Any
 * other reply or failure is retried (eng_delivery_done).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scheduler/outbound_int.h"

#define WEBHOOK_TIMEOUT_MS 10000
#define WEBHOOK_MAX_REPLY (1024 * 1024)

/* Whether a header's value is a credential, kept out of the log. */
static int
webhook_secret_header(const char *name)
{
	return strcasecmp(name, "authorization") == 0 ||
	    strcasecmp(name, "proxy-authorization") == 0 ||
	    strcasestr(name, "token") != NULL || strcasestr(name, "secret") !=
	    NULL || strcasestr(name, "key") != NULL;
}

/*
 * Add "name: value" to the request's headers, and to the logged ones:
 * the members of a JSON object's text in t, its "{" written; a value is
 * logged "[redacted]" when the channel's header is a credential (ours,
 * belfry's own headers, never are).
 */
static void
webhook_header(struct outbound_xfer *x, struct eng_text *t,
    const char *name, const char *value, int ours)
{
	size_t n, v;
	char *line;

	if (value == NULL)
		value = "";
	n = strlen(name);
	v = strlen(value);
	line = xmalloc(n + v + 3);
	memcpy(line, name, n);
	memcpy(line + n, ": ", 2);
	memcpy(line + n + 2, value, v + 1);
	x->list = curl_slist_append(x->list, line);
	free(line);
	if (t->len > 1)
		eng_text_add(t, ",", 1);
	eng_text_bytes(t, name, n);
	eng_text_add(t, ":", 1);
	if (ours || strcasecmp(name, "idempotency-key") == 0 ||
	    !webhook_secret_header(name))
		eng_text_bytes(t, value, v);
	else
		eng_text_string(t, "[redacted]");
}

/* CURLOPT_WRITEFUNCTION: keep the reply's first bytes, drop the rest. */
static size_t
webhook_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct outbound_xfer *x = arg;
	size_t len = size * n, keep;

	if (x->reply_len < sizeof x->reply) {
		keep = sizeof x->reply - x->reply_len;
		if (keep > len)
			keep = len;
		memcpy(x->reply + x->reply_len, p, keep);
		x->reply_len += keep;
	}
	x->reply_total += len;
	/* Past the bound: stop reading (a 2xx was delivered all the same). */
	return x->reply_total > WEBHOOK_MAX_REPLY ? 0 : len;
}

/*
 * CURLOPT_HEADERFUNCTION (on the transfer thread): the reply's headers,
 * for the log, as records of the name's and the value's length (two
 * bytes each), the name, the value; at most OUTBOUND_HEADERS of them,
 * names of at most OUTBOUND_HEADER_NAME bytes, values cut to
 * OUTBOUND_HEADER_VALUE.
 */
static size_t
webhook_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct outbound_xfer *x = arg;
	size_t len = size * n, k, v;
	uint16_t lens[2];

	/* A status line starts a new reply (after a 100 Continue). */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->hdr_len = 0;
		x->nhdr = 0;
		return len;
	}
	for (k = 0; k < len && p[k] != ':'; k++)
		;
	if (k == 0 || k == len || k > OUTBOUND_HEADER_NAME ||
	    x->nhdr >= OUTBOUND_HEADERS)
		return len;
	for (v = k + 1; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (len - v > OUTBOUND_HEADER_VALUE)
		len = v + OUTBOUND_HEADER_VALUE;
	lens[0] = (uint16_t)k;
	lens[1] = (uint16_t)(len - v);
	if (x->hdr_cap - x->hdr_len < sizeof lens + k + lens[1]) {
		x->hdr_cap = x->hdr_cap * 2 + sizeof lens + k + lens[1];
		x->hdr = xreallocarray(x->hdr, x->hdr_cap, 1);
	}
	memcpy(x->hdr + x->hdr_len, lens, sizeof lens);
	memcpy(x->hdr + x->hdr_len + sizeof lens, p, k);
	memcpy(x->hdr + x->hdr_len + sizeof lens + k, p + v, lens[1]);
	x->hdr_len += sizeof lens + k + lens[1];
	x->nhdr++;
	return size * n;
}

/* The reply headers webhook_header_cb kept, as a JSON object's text. */
static void
webhook_headers(const struct outbound_xfer *x, struct eng_text *t)
{
	uint16_t lens[2];
	size_t off = 0;

	eng_text_add(t, "{", 1);
	while (off < x->hdr_len) {
		memcpy(lens, x->hdr + off, sizeof lens);
		off += sizeof lens;
		if (t->len > 1)
			eng_text_add(t, ",", 1);
		eng_text_bytes(t, x->hdr + off, lens[0]);
		eng_text_add(t, ":", 1);
		eng_text_bytes(t, x->hdr + off + lens[0], lens[1]);
		off += (size_t)lens[0] + lens[1];
	}
	eng_text_add(t, "}", 1);
}

/* Judge the end of a webhook transfer into its outcome. */
static void
webhook_finish(struct outbound_xfer *x)
{
	struct sch_outcome *o = x->o;
	struct eng_text h = { NULL, 0, 0 };
	const char *where = x->redirect;
	CURLcode rc = x->rc;
	long code = x->code;

	if (code != 0) {
		webhook_headers(x, &h);
		outbound_log_response(x, code, &h);
		free(h.s);
	}
	if (code >= 200 && code < 300 && (rc == CURLE_OK ||
	    (rc == CURLE_WRITE_ERROR && x->reply_total > WEBHOOK_MAX_REPLY))) {
		o->result = ENG_ATTEMPT_OK;
		return;
	}
	o->result = ENG_ATTEMPT_RETRY;
	if (code >= 300 && code < 400) {
		o->error = xasprintf("HTTP %ld: redirect%s%s not followed", code,
		    where != NULL ? " to " : "", where != NULL ? where : "");
	} else if (code != 0)
		o->error = xasprintf("HTTP %ld", code);
	else
		o->error = xstrdup(x->errbuf[0] != '\0' ? x->errbuf :
		    curl_easy_strerror(rc));
}

/* See outbound_int.h. */
int
webhook_prepare(struct outbound_xfer *x, const struct eng_channel *ch,
    struct eng_delivery *d, char **cause)
{
	struct eng_text logged = { NULL, 0, 0 };
	const char *k;
	char ts[24], *sig;
	json_t *v;
	int typed = 0, agent = 0;

	if (strncmp(d->url, "http://", 7) != 0 && strncmp(d->url, "https://",
	    8) != 0) {
		*cause = xasprintf("channel \"%s\" is an http channel now; this "
		    "delivery is to %s", ch->name, d->url);
		return -1;
	}
	x->body = d->body != NULL ? d->body : xstrdup("");
	d->body = NULL;
	x->len = strlen(x->body);
	eng_text_add(&logged, "{", 1);
	json_object_foreach(d->headers, k, v) {
		typed |= strcasecmp(k, "content-type") == 0;
		agent |= strcasecmp(k, "user-agent") == 0;
		webhook_header(x, &logged, k, json_string_value(v), 0);
	}
	if (!typed)
		webhook_header(x, &logged, "Content-Type", "application/json", 1);
	webhook_header(x, &logged, "Idempotency-Key", d->message_id, 1);
	if (!agent)
		webhook_header(x, &logged, "User-Agent", "belfry/" BELFRY_VERSION,
		    1);
	if (ch->secret != NULL) {
		snprintf(ts, sizeof ts, "%lld", (long long)x->o->at);
		sig = eng_webhook_signature(ch->secret, ch->secret_len,
		    d->message_id, x->o->at, x->body, x->len);
		webhook_header(x, &logged, "webhook-id", d->message_id, 1);
		webhook_header(x, &logged, "webhook-timestamp", ts, 1);
		webhook_header(x, &logged, "webhook-signature", sig, 1);
		free(sig);
	}
	/* No "Expect: 100-continue" wait before a large body. */
	x->list = curl_slist_append(x->list, "Expect:");
	eng_text_add(&logged, "}", 1);
	outbound_log_request(x, ch->method, d->url, NULL, &logged);
	free(logged.s);
	x->finish = webhook_finish;

	outbound_common(x, ch, WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(x->easy, CURLOPT_URL, d->url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
	if (strcmp(ch->method, "POST") != 0)
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, ch->method);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
	curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)x->len);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->list);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, webhook_write_cb);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, webhook_header_cb);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	return 0;
}
