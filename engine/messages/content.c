/*
 * What a message holds beyond its Message shape: its rendered content in
 * Knock's MessageContent shapes (per channel type), the trigger
 * activities it was made from, and its events (MessageEvent): the first
 * ones read off the message itself, the later ones as recorded when its
 * delivery status or engagement changed.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/messages/msg_int.h"

/* See msg_int.h: the channel called name in force, or NULL. */
const struct eng_channel *
msg_channel(struct eng *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->cfg->n_channels; i++)
		if (strcmp(e->cfg->channels[i].name, name) == 0)
			return &e->cfg->channels[i];
	return NULL;
}

/* See msg_int.h: read message id into *m. */
enum eng_status
msg_load(struct eng *e, const char *id, struct store_message *m,
    char **cause)
{
	uint64_t seq, b;

	if (id == NULL || eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0 ||
	    seq > INT64_MAX || !store_message_get(e->store, (int64_t)seq, m)) {
		*cause = xasprintf("message \"%.64s\" not found", id ? id : "");
		return ENG_NOT_FOUND;
	}
	return ENG_OK;
}

/* See msg_int.h: record event type of message seq. */
int
msg_event(struct eng *e, int64_t seq, const char *type, json_t *data,
    int64_t now)
{
	return store_message_event_add(e->store, seq, type, data, now);
}

/* See msg_int.h: a message body's parts as Knock's feed blocks. */
json_t *
msg_blocks(json_t *content)
{
	json_t *blocks = json_array(), *v;
	const char *k;
	char *html;
	int md;

	json_object_foreach(content, k, v) {
		if (strcmp(k, "$batch") == 0)
			continue;
		if (strcmp(k, "buttons") == 0) {
			/* Knock's feed block of action buttons. */
			json_array_append_new(blocks, json_pack("{s:s, s:s, s:s,"
			    " s:O}", "__typename", "ButtonSetContentBlock",
			    "name", "actions", "type", "button_set", "buttons",
			    v));
			continue;
		}
		md = strcmp(k, "markdown") == 0;
		html = md ? eng_markdown_html(json_string_value(v)) : NULL;
		json_array_append_new(blocks, json_pack("{s:s, s:s, s:O, s:s,"
		    " s:s}", "__typename", "ContentBlock", "name",
		    md || strcmp(k, "text") == 0 ? "body" : k, "content", v,
		    "rendered", html ? html : json_string_value(v), "type",
		    md ? "markdown" : "text"));
		free(html);
	}
	return blocks;
}

/* A string member of o, or "" (the content shapes' strings are set). */
static const char *
msg_str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "";
}

/* An email message's MessageEmailContent. */
static json_t *
msg_email_content(struct eng *e, const struct eng_channel *ch,
    const struct store_message *m)
{
	json_t *rcpt = eng_rcpt_entity(e, m->rcpt), *j;
	const char *html = json_string_value(json_object_get(m->body,
	    "html"));
	const char *text = json_string_value(json_object_get(m->body,
	    "text"));
	char *derived = text == NULL && html != NULL ? eng_html_text(html) :
	    NULL;

	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n}",
	    "__typename", "MessageEmailContent",
	    "from", ch != NULL && ch->from != NULL ? ch->from : "",
	    "to", msg_str(rcpt, "email"),
	    "subject_line", msg_str(m->body, "subject"),
	    "html_body", html != NULL ? html : "",
	    "text_body", text != NULL ? text : derived ? derived : "",
	    "cc", "bcc", "reply_to");
	free(derived);
	json_decref(rcpt);
	return j;
}

/*
 * An http message's content (belfry's MessageHttpContent): the request
 * of its newest attempt, or the one it is queued to make.
 */
static json_t *
msg_http_content(struct eng *e, const struct eng_channel *ch,
    const struct store_message *m)
{
	struct store_attempt a;
	json_t *j;

	if (store_attempts_page(e->store, m->seq, 0, INT64_MAX, 1, &a) == 1) {
		j = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?}", "__typename",
		    "MessageHttpContent", "method", json_object_get(a.request,
		    "method"), "url", json_object_get(a.request, "url"),
		    "headers", json_object_get(a.request, "headers"), "body",
		    json_object_get(a.request, "body"));
		store_attempt_clear(&a);
		return j;
	}
	return json_pack("{s:s, s:s, s:s, s:n, s:s}", "__typename",
	    "MessageHttpContent", "method", ch != NULL && ch->method ?
	    ch->method : "POST", "url", ch != NULL && ch->url ? ch->url : "",
	    "headers", "body", msg_str(m->body, "body"));
}

/* Message m's MessageContent, by its channel's type. */
static json_t *
msg_content_json(struct eng *e, struct store_message *m)
{
	const struct eng_channel *ch = msg_channel(e, m->channel);
	const char *type = ch != NULL ? ch->type : "in_app_feed";
	char id[37];
	json_t *data;

	if (strcmp(type, "email") == 0)
		data = msg_email_content(e, ch, m);
	else if (strcmp(type, "http") == 0)
		data = msg_http_content(e, ch, m);
	else
		data = json_pack("{s:s, s:o}", "__typename", strcmp(type,
		    "log") == 0 ? "MessageLogContent" :
		    "MessageInAppFeedContent", "blocks", msg_blocks(m->body));
	eng_id_format(e, ENG_ID_MSG, (uint64_t)m->seq, 0, id);
	return json_pack("{s:s, s:s, s:o, s:o}", "__typename",
	    "MessageContent", "message_id", id, "inserted_at",
	    msg_time(m->inserted), "data", data);
}

/* See msg_int.h: message id in the shape shape makes of it. */
enum eng_status
msg_reply(struct eng *e, const char *id,
    json_t *(*shape)(struct eng *, struct store_message *), json_t **reply,
    char **cause)
{
	struct store_message m;
	enum eng_status rc;

	if ((rc = msg_load(e, id, &m, cause)) != ENG_OK)
		return rc;
	*reply = shape(e, &m);
	store_message_clear(&m);
	return ENG_OK;
}

/* See engine.h. */
enum eng_status
eng_message_content(struct eng *e, const char *id, json_t **reply,
    char **cause)
{
	return msg_reply(e, id, msg_content_json, reply, cause);
}

/* See engine.h: the ids that are no message's are left out. */
enum eng_status
eng_messages_batch_content(struct eng *e, json_t *query, json_t **reply,
    char **cause)
{
	json_t *ids = eng_query_list(query, "message_ids"), *v;
	struct store_message m;
	char *ignored;
	size_t i;

	if (json_array_size(ids) == 0 || json_array_size(ids) > 50) {
		*cause = xstrdup("\"message_ids\" takes 1 to 50 message ids "
		    "(message_ids[]=...)");
		return ENG_INVALID;
	}
	*reply = json_array();
	json_array_foreach(ids, i, v) {
		ignored = NULL;
		if (msg_load(e, json_string_value(v), &m, &ignored) ==
		    ENG_OK) {
			json_array_append_new(*reply, msg_content_json(e, &m));
			store_message_clear(&m);
		}
		free(ignored);
	}
	return ENG_OK;
}

/* See msg_int.h: a page of items, in memory. */
enum eng_status
msg_items_page(json_t *items, json_t *q, json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *before = json_string_value(json_object_get(q, "before"));
	const char *cur = after != NULL ? after : before;
	size_t n = json_array_size(items), at = 0, from, to, i;
	json_t *page, *out;
	int size = msg_page_size(q);

	if (size < 0 || (after != NULL && before != NULL)) {
		json_decref(items);
		*cause = xstrdup(size < 0 ? "\"page_size\" must be an integer "
		    "1..50" : "\"before\" and \"after\" cannot both be given");
		return ENG_INVALID;
	}
	if (cur != NULL) {
		for (at = 0; at < n && strcmp(msg_str(json_array_get(items, at),
		    "id"), cur) != 0; at++)
			;
		if (at == n) {
			json_decref(items);
			*cause = xasprintf("bad \"%s\" cursor", after ? "after" :
			    "before");
			return ENG_INVALID;
		}
	}
	from = after != NULL ? at + 1 : before != NULL ? (at > (size_t)size ?
	    at - (size_t)size : 0) : 0;
	to = before != NULL ? at : from + (size_t)size < n ? from +
	    (size_t)size : n;
	out = json_array();
	for (i = from; i < to; i++)
		json_array_append(out, json_array_get(items, i));
	page = msg_page_info(to < n && to > from ? msg_str(json_array_get(
	    items, to - 1), "id") : NULL, 1, size);
	if (from > 0 && to > from)
		json_object_set(page, "before", json_object_get(
		    json_array_get(items, from), "id"));
	json_decref(items);
	*reply = json_pack("{s:o, s:o}", "items", out, "page_info", page);
	return ENG_OK;
}

/* See engine.h: a batched message's activities, else its trigger's. */
enum eng_status
eng_message_activities(struct eng *e, const char *id, json_t *query,
    json_t **reply, char **cause)
{
	json_t *td = json_object_get(query, "trigger_data"), *want = NULL;
	json_t *acts, *items = json_array(), *a, *rcpt, *actor, *v;
	struct store_message m;
	enum eng_status rc;
	const char *k;
	char aid[37];
	size_t n;
	int ok;

	if ((rc = msg_load(e, id, &m, cause)) != ENG_OK) {
		json_decref(items);
		return rc;
	}
	/* json_is_object evaluates its argument twice: load first */
	if (td != NULL)
		want = json_is_string(td) ? json_loads(json_string_value(td), 0,
		    NULL) : json_incref(td);
	if (td != NULL && !json_is_object(want)) {
		json_decref(want);
		json_decref(items);
		store_message_clear(&m);
		*cause = xstrdup("\"trigger_data\" must be a JSON object of "
		    "keys and values");
		return ENG_INVALID;
	}
	acts = json_object_get(json_object_get(m.body, "$batch"),
	    "activities");
	if (acts != NULL)
		json_incref(acts);
	else
		acts = json_pack("[{s:o, s:O, s:o}]", "actor", m.actor ?
		    json_string(m.actor) : json_null(), "data", m.data ?
		    m.data : json_null(), "inserted_at", msg_time(m.inserted));
	rcpt = eng_rcpt_entity(e, m.rcpt);
	/* Newest first, as every list. */
	for (n = json_array_size(acts); n > 0; n--) {
		a = json_array_get(acts, n - 1);
		ok = 1;
		json_object_foreach(want, k, v)
			ok &= msg_data_match(v, json_object_get(
			    json_object_get(a, "data"), k));
		if (!ok)
			continue;
		actor = json_object_get(a, "actor");
		eng_id_format(e, ENG_ID_ACT, (uint64_t)m.seq, n - 1, aid);
		json_array_append_new(items, json_pack("{s:s, s:s, s:o, s:O?,"
		    " s:O, s:O, s:O}", "__typename", "Activity", "id", aid,
		    "actor", json_is_string(actor) ? eng_rcpt_entity(e,
		    json_string_value(actor)) : json_incref(actor ? actor :
		    json_null()), "data", json_object_get(a, "data"),
		    "inserted_at", json_object_get(a, "inserted_at"),
		    "updated_at", json_object_get(a, "inserted_at"),
		    "recipient", rcpt));
	}
	json_decref(rcpt);
	json_decref(acts);
	json_decref(want);
	store_message_clear(&m);
	return msg_items_page(items, query, reply, cause);
}

/* A MessageEvent of message m, id from (a, b). */
static json_t *
msg_event_json(struct eng *e, const struct store_message *m, uint64_t a,
    uint64_t b, const char *type, json_t *data, int64_t at)
{
	char id[37];

	eng_id_format(e, ENG_ID_MSGEVT, a, b, id);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:O?}", "__typename",
	    "MessageEvent", "id", id, "type", type, "inserted_at",
	    msg_time(at), "recipient", eng_rcpt_ref(m->rcpt), "data", data);
}

/*
 * See engine.h.  A message's first events are read off it: queued for
 * one that goes out (email, http), else sent and delivered, at its
 * insertion; every later change was recorded (message_events).
 */
enum eng_status
eng_message_events(struct eng *e, const char *id, json_t *query,
    json_t **reply, char **cause)
{
	struct store_message_event *ev;
	const struct eng_channel *ch;
	struct store_message m;
	enum eng_status rc;
	json_t *items;
	size_t n, i;
	int out;

	if ((rc = msg_load(e, id, &m, cause)) != ENG_OK)
		return rc;
	ch = msg_channel(e, m.channel);
	n = store_message_events(e->store, m.seq, &ev);
	out = ch != NULL ? eng_channel_outgoing(ch->type) : n > 0 ||
	    strcmp(m.status, "queued") == 0;
	items = json_array();
	for (i = n; i > 0; i--)
		json_array_append_new(items, msg_event_json(e, &m,
		    (uint64_t)ev[i - 1].id, 0, ev[i - 1].type, ev[i - 1].data,
		    ev[i - 1].at));
	store_message_events_free(ev, n);
	if (!out)
		json_array_append_new(items, msg_event_json(e, &m,
		    (uint64_t)m.seq, 2, "message.delivered", NULL, m.inserted));
	json_array_append_new(items, msg_event_json(e, &m, (uint64_t)m.seq, 1,
	    out ? "message.queued" : "message.sent", NULL, m.inserted));
	store_message_clear(&m);
	return msg_items_page(items, query, reply, cause);
}
