/*
 * Outgoing deliveries (http and email channels): what a channel step
 * queues, what the caller takes to perform, and the attempts it reports,
 * kept as Knock's delivery logs.
 *
 * Everything a delivery sends is fixed when its step runs, in the step's
 * transaction: an http delivery's URL, rendered headers and body; an
 * email's recipient and whole MIME text (Date is the step's time,
 * Message-ID derived from the message id), so a retry sends the same
 * bytes.  Only what belongs to the channel -- method, signing secret,
 * SMTP server and credentials, limits -- is read from the configuration
 * in force when an attempt starts.
 *
 * Status: a message is "queued" until an attempt succeeds ("delivered";
 * an email the server accepted is "sent", as Knock says of a message
 * handed to its provider), or until it is given up ("undelivered": 8
 * failed attempts, about 30 minutes, or a refusal such as an SMTP 5xx).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/messages/msg_int.h"
#include "engine/workflow/template.h"

#define DLV_MAX_ATTEMPTS 8

/* See engine_int.h. */
const char *
eng_delivery_unreachable(const struct eng_step *s, json_t *recipient)
{
	const char *email;

	if (strcmp(s->channel->type, "email") != 0)
		return NULL;
	email = json_string_value(json_object_get(recipient, "email"));
	if (email == NULL || *email == '\0')
		return "the recipient has no email";
	if (!eng_mail_valid(email))
		return "the recipient's email is not a valid address";
	return NULL;
}

/* A template's text for a header value: control characters as spaces. */
static char *
dlv_header_value(const struct eng_template *t, json_t *ctx)
{
	char *v = eng_template_run(t, ctx, ENG_TEMPLATE_TEXT), *p;

	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return v;
}

/* An http channel's headers rendered for one message (NULL: none). */
static json_t *
dlv_headers(const struct eng_channel *ch, json_t *ctx)
{
	json_t *out, *v;
	const char *k;
	size_t i = 0;
	char *val;

	if (ch->headers == NULL)
		return NULL;
	out = json_object();
	json_object_foreach(ch->headers, k, v) {
		val = dlv_header_value(ch->header_parts[i++], ctx);
		json_object_set_new(out, k, json_string(val));
		free(val);
	}
	return out;
}

/* An email's MIME text for one message (NULL: the channel's from is bad). */
static char *
dlv_mime(struct eng *e, const struct eng_channel *ch, int64_t seq,
    json_t *content, json_t *ctx, json_t *recipient, int64_t now)
{
	struct eng_mail m;
	char id[37], *lu = NULL, *mime;

	eng_id_format(e, ENG_ID_MSG, (uint64_t)seq, 0, id);
	memset(&m, 0, sizeof m);
	m.from = ch->from;
	m.to = json_string_value(json_object_get(recipient, "email"));
	m.to_name = json_string_value(json_object_get(recipient, "name"));
	m.subject = json_string_value(json_object_get(content, "subject"));
	m.html = json_string_value(json_object_get(content, "html"));
	m.text = json_string_value(json_object_get(content, "text"));
	m.message_id = id;
	m.date = now;
	if (ch->list_unsubscribe_part != NULL)
		m.list_unsubscribe = lu = dlv_header_value(
		    ch->list_unsubscribe_part, ctx);
	mime = eng_mime_build(&m);
	free(lu);
	return mime;
}

/* See engine_int.h. */
int
eng_delivery_queue(struct eng *e, const struct eng_step *s, int64_t seq,
    json_t *content, json_t *ctx, json_t *recipient, int64_t now)
{
	const struct eng_channel *ch = s->channel;
	json_t *headers;
	char *mime, *url;
	int rc;

	if (strcmp(ch->type, "http") == 0) {
		headers = dlv_headers(ch, ctx);
		rc = store_delivery_add(e->store, seq, now, ch->name, ch->url,
		    headers, json_string_value(json_object_get(content,
		    "body")));
		json_decref(headers);
	} else {
		if ((mime = dlv_mime(e, ch, seq, content, ctx, recipient,
		    now)) == NULL)
			return -1;
		url = xasprintf("mailto:%s", json_string_value(
		    json_object_get(recipient, "email")));
		rc = store_delivery_add(e->store, seq, now, ch->name, url, NULL,
		    mime);
		free(url);
		free(mime);
	}
	if (rc == 0)
		e->stats.queue_depth++;
	return rc;
}

/* Take deliveries on channel due at now, marking them in flight. */
size_t
eng_delivery_take(struct eng *e, const char *channel, int64_t now,
    struct eng_delivery *out, size_t max)
{
	struct store_delivery *d = xcalloc(max ? max : 1, sizeof *d);
	size_t n, i;
	char id[37];

	n = store_deliveries_take(e->store, channel, now, max, d);
	for (i = 0; i < n; i++) {
		out[i].id = d[i].msg;
		out[i].channel = xstrdup(channel);
		out[i].url = d[i].url;
		out[i].body = d[i].body;
		out[i].headers = d[i].headers;
		out[i].attempt = d[i].attempt;
		eng_id_format(e, ENG_ID_MSG, (uint64_t)d[i].msg, 0, id);
		out[i].message_id = xstrdup(id);
	}
	free(d);
	return n;
}

/* Free a delivery's strings. */
void
eng_delivery_free(struct eng_delivery *d)
{
	free(d->channel);
	free(d->url);
	free(d->body);
	free(d->message_id);
	json_decref(d->headers);
	memset(d, 0, sizeof *d);
}

/*
 * Record an attempt.  Failures retry after 15 s, 30 s, 1 min...
 * (doubling, +-20% jitter: about 30 minutes over 8 attempts), then the
 * message is undelivered; a refusal is undelivered at once.
 */
enum eng_delivery_state
eng_delivery_done(struct eng *e, const struct eng_attempt *a, int64_t now,
    int64_t *next)
{
	const struct eng_channel *ch = msg_channel(e, a->channel);
	int attempts = store_delivery_attempts(e->store, a->id);
	struct store_attempt sa;
	const char *status;
	char type[32];
	int64_t delay;
	int ok = a->result == ENG_ATTEMPT_OK;

	memset(&sa, 0, sizeof sa);
	sa.msg = a->id;
	sa.attempt = attempts > 0 ? attempts : 1;
	sa.channel = xstrdup(a->channel);
	sa.at = a->at;
	sa.duration_us = a->duration_us;
	sa.result = (int)a->result;
	sa.request_text = a->request != NULL ? a->request : "{}";
	sa.response_text = a->response;
	sa.error = a->error != NULL ? xstrdup(a->error) : NULL;
	store_attempt_add(e->store, &sa);
	store_attempt_clear(&sa);
	if (next != NULL)
		*next = INT64_MAX;
	if (attempts < 0)
		attempts = DLV_MAX_ATTEMPTS;
	if (ok || a->result == ENG_ATTEMPT_FAILED ||
	    attempts >= DLV_MAX_ATTEMPTS) {
		store_delivery_drop(e->store, a->id);
		status = !ok ? "undelivered" : ch != NULL &&
		    strcmp(ch->type, "email") == 0 ? "sent" : "delivered";
		snprintf(type, sizeof type, "message.%s", status);
		store_message_status(e->store, a->id, status, now);
		msg_event(e, a->id, type, NULL, now);
		if (e->stats.queue_depth > 0)
			e->stats.queue_depth--;
		if (!ok)
			e->stats.deliveries_failed++;
		eng_count(e, ok ? ENG_COUNT_DELIVERED : ENG_COUNT_UNDELIVERED,
		    NULL, a->channel, 1);
		return ok ? ENG_DELIVERY_DONE : ENG_DELIVERY_UNDELIVERED;
	}
	delay = 15LL << (attempts - 1);
	delay += (delay * ((int64_t)(random() % 41) - 20)) / 100;
	store_delivery_retry(e->store, a->id, now + delay, a->error);
	eng_count(e, ENG_COUNT_RETRIED, NULL, a->channel, 1);
	if (next != NULL)
		*next = now + delay;
	return ENG_DELIVERY_RETRYING;
}

/* Give up the queued deliveries of one channel, with the reason. */
static void
dlv_give_up(struct eng *e, const char *channel, const char *why,
    int64_t now)
{
	struct eng_delivery d[64];
	struct eng_attempt a;
	size_t n, i;

	while ((n = eng_delivery_take(e, channel, INT64_MAX, d, 64)) > 0)
		for (i = 0; i < n; i++) {
			memset(&a, 0, sizeof a);
			a.id = d[i].id;
			a.channel = channel;
			a.result = ENG_ATTEMPT_FAILED;
			a.error = why;
			a.at = now;
			eng_delivery_done(e, &a, now, NULL);
			eng_delivery_free(&d[i]);
		}
}

/* See engine.h. */
void
eng_deliveries_sync(struct eng *e, int64_t now)
{
	json_t *names = store_delivery_channels(e->store), *v;
	const struct eng_channel *ch;
	const char *name;
	char *why;
	size_t i;

	json_array_foreach(names, i, v) {
		name = json_string_value(v);
		ch = msg_channel(e, name);
		if (ch != NULL && eng_channel_outgoing(ch->type))
			continue;
		why = xasprintf("channel \"%s\" is %s", name, ch == NULL ?
		    "not in the configuration" : "no longer an http or email "
		    "channel");
		dlv_give_up(e, name, why, now);
		free(why);
	}
	json_decref(names);
}

/* See engine_int.h. */
json_t *
eng_delivery_state(struct eng *e, int64_t seq, const char *channel)
{
	const struct eng_channel *ch = msg_channel(e, channel);
	char *last = NULL;
	int64_t due = STORE_NONE;
	int inflight = 0, n;
	json_t *o;

	if (ch != NULL && !eng_channel_outgoing(ch->type))
		return NULL;
	n = store_attempts_summary(e->store, seq, &last);
	if (!store_delivery_get(e->store, seq, &due, &inflight) || inflight)
		due = STORE_NONE;
	o = json_pack("{s:i, s:s?, s:o, s:b}", "attempts", n, "last_error",
	    last, "next_attempt_at", msg_time(due), "in_flight", inflight);
	free(last);
	return o;
}

/* The service a logged request went to, from its URL. */
static const char *
dlv_service(json_t *request)
{
	const char *url = json_string_value(json_object_get(request, "url"));

	return url != NULL && strncmp(url, "smtp", 4) == 0 ? "smtp" :
	    "webhook";
}

/* One attempt as Knock's MessageDeliveryLog (with belfry's additions). */
static json_t *
dlv_log_json(struct eng *e, const struct store_attempt *a)
{
	static const char *const results[] = { "ok", "retry", "failed" };
	char id[37], env[37], msg[37];

	eng_id_format(e, ENG_ID_LOG, (uint64_t)a->id, 0, id);
	eng_id_format(e, ENG_ID_ENV, 0, 0, env);
	eng_id_format(e, ENG_ID_MSG, (uint64_t)a->msg, 0, msg);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o, s:I, s:s,"
	    " s:s?, s:O, s:O?}",
	    "__typename", "MessageDeliveryLog", "id", id,
	    "environment_id", env, "message_id", msg,
	    "channel_id", a->channel != NULL ? a->channel : "",
	    "service_name", dlv_service(a->request),
	    "attempt", a->attempt, "inserted_at", msg_time(a->at),
	    "duration_ms", (json_int_t)(a->duration_us / 1000),
	    "result", results[a->result >= 0 && a->result <= 2 ? a->result :
	    2], "error", a->error,
	    "request", a->request != NULL ? a->request : json_null(),
	    "response", a->response);
}

/*
 * GET /admin/deliveries: a page of every message's attempts for query q
 * (after, page_size, failed): {"items", "page_info"}.
 */
enum eng_status
eng_deliveries_list(struct eng *e, json_t *q, json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *failed = json_string_value(json_object_get(q, "failed"));
	int size = msg_page_size(q), only_failed = 0;
	struct store_attempt a[50];
	uint64_t before = INT64_MAX, b;
	json_t *items, *last;
	size_t n, i;

	if (size < 0) {
		*cause = xstrdup("\"page_size\" must be an integer 1..50");
		return ENG_INVALID;
	}
	if (after != NULL && (eng_id_parse(e, ENG_ID_LOG, after, &before,
	    &b) != 0 || before > INT64_MAX)) {
		*cause = xstrdup("bad \"after\" cursor");
		return ENG_INVALID;
	}
	if (failed != NULL) {
		if (strcmp(failed, "true") != 0 && strcmp(failed, "false") != 0) {
			*cause = xstrdup("\"failed\" must be true or false");
			return ENG_INVALID;
		}
		only_failed = strcmp(failed, "true") == 0;
	}
	n = store_attempts_page(e->store, STORE_NONE, only_failed,
	    (int64_t)before, (size_t)size, a);
	items = json_array();
	for (i = 0; i < n; i++) {
		json_array_append_new(items, dlv_log_json(e, &a[i]));
		store_attempt_clear(&a[i]);
	}
	last = json_array_get(items, json_array_size(items) - 1);
	*reply = json_pack("{s:o, s:o}", "items", items, "page_info",
	    msg_page_info(last ? json_string_value(json_object_get(last,
	    "id")) : NULL, (int)n == size, size));
	return ENG_OK;
}

/*
 * GET /v1/messages/{id}/delivery_logs: its attempts (a few: deliveries
 * give up after DLV_MAX_ATTEMPTS), newest first, paged either way.
 */
enum eng_status
eng_message_delivery_logs(struct eng *e, const char *id, json_t *query,
    json_t **reply, char **cause)
{
	struct store_message m;
	struct store_attempt a[50];
	enum eng_status st;
	int64_t before = INT64_MAX;
	json_t *items;
	size_t n, i;

	if ((st = msg_load(e, id, &m, cause)) != ENG_OK)
		return st;
	items = json_array();
	do {
		n = store_attempts_page(e->store, m.seq, 0, before, 50, a);
		for (i = 0; i < n; i++) {
			json_array_append_new(items, dlv_log_json(e, &a[i]));
			before = a[i].id;
			store_attempt_clear(&a[i]);
		}
	} while (n == 50);
	store_message_clear(&m);
	return msg_items_page(items, query, reply, cause);
}

