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

/* At most this many reply headers are kept for the log. */
#define WEBHOOK_MAX_HEADERS 64

/* Whether a header's value is a credential, kept out of the log. */
static int
webhook_secret_header(const char *name)
{
	return strcasecmp(name, "authorization") == 0 ||
	    strcasecmp(name, "proxy-authorization") == 0 ||
	    strcasestr(name, "token") != NULL || strcasestr(name, "secret") !=
	    NULL || strcasestr(name, "key") != NULL;
}

/* Add "name: value" to the request's headers and to the logged ones. */
static void
webhook_header(struct outbound_xfer *x, json_t *logged, const char *name,
    const char *value)
{
	char *line = xasprintf("%s: %s", name, value);

	x->list = curl_slist_append(x->list, line);
	free(line);
	if (strcasecmp(name, "idempotency-key") == 0 || !webhook_secret_header(
	    name))
		json_object_set_new(logged, name, json_string(value));
	else
		json_object_set_new(logged, name, json_string("[redacted]"));
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

/* CURLOPT_HEADERFUNCTION: the reply's headers, for the log. */
static size_t
webhook_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct outbound_xfer *x = arg;
	size_t len = size * n, k, v;

	/* A status line starts a new reply (after a 100 Continue). */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		json_object_clear(x->resp_headers);
		return len;
	}
	for (k = 0; k < len && p[k] != ':'; k++)
		;
	if (k == 0 || k == len || k > 128 || json_object_size(
	    x->resp_headers) >= WEBHOOK_MAX_HEADERS)
		return len;
	for (v = k + 1; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
		;
	while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	if (len - v > 1024)
		len = v + 1024;
	json_object_setn_new(x->resp_headers, p, k, outbound_text(p + v,
	    len - v));
	return size * n;
}

/* Judge the end of a webhook transfer into its outcome. */
static void
webhook_finish(struct outbound_xfer *x, CURLcode rc)
{
	struct sch_outcome *o = x->o;
	char *where = NULL;
	long code = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code != 0)
		o->response = json_pack("{s:i, s:O, s:o}", "status", (int)code,
		    "headers", x->resp_headers, "body", outbound_text(x->reply,
		    x->reply_len));
	if (code >= 200 && code < 300 && (rc == CURLE_OK ||
	    (rc == CURLE_WRITE_ERROR && x->reply_total > WEBHOOK_MAX_REPLY))) {
		o->result = ENG_ATTEMPT_OK;
		return;
	}
	o->result = ENG_ATTEMPT_RETRY;
	if (code >= 300 && code < 400) {
		curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &where);
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
	json_t *req, *logged = json_object(), *v;
	const char *k;
	char ts[24], *sig;
	int typed = 0;

	if (strncmp(d->url, "http://", 7) != 0 && strncmp(d->url, "https://",
	    8) != 0) {
		json_decref(logged);
		*cause = xasprintf("channel \"%s\" is an http channel now; this "
		    "delivery is to %s", ch->name, d->url);
		return -1;
	}
	x->body = d->body != NULL ? d->body : xstrdup("");
	d->body = NULL;
	x->len = strlen(x->body);
	json_object_foreach(d->headers, k, v) {
		typed |= strcasecmp(k, "content-type") == 0;
		webhook_header(x, logged, k, json_string_value(v));
	}
	if (!typed)
		webhook_header(x, logged, "Content-Type", "application/json");
	webhook_header(x, logged, "Idempotency-Key", d->message_id);
	webhook_header(x, logged, "User-Agent", "belfry/" BELFRY_VERSION);
	if (ch->secret != NULL) {
		snprintf(ts, sizeof ts, "%lld", (long long)x->o->at);
		sig = eng_webhook_signature(ch->secret, ch->secret_len,
		    d->message_id, x->o->at, x->body, x->len);
		webhook_header(x, logged, "webhook-id", d->message_id);
		webhook_header(x, logged, "webhook-timestamp", ts);
		webhook_header(x, logged, "webhook-signature", sig);
		free(sig);
	}
	/* No "Expect: 100-continue" wait before a large body. */
	x->list = curl_slist_append(x->list, "Expect:");
	req = json_pack("{s:s, s:s, s:o, s:s}", "method", ch->method, "url",
	    d->url, "headers", logged, "body", x->body);
	outbound_url_parts(req, d->url);
	x->o->request = req;
	x->resp_headers = json_object();
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
