/*
 * Messages and feeds read back in Knock's shapes: a Message, a feed page
 * of FeedItems with its counts, a user's messages across channels, and a
 * message's engagement marks.  Cursors are the public id of the last
 * entry of a page, decoded back to its integer key.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/messages/msg_int.h"

/* A nullable instant as JSON. */
static json_t *
msg_time(int64_t t)
{
	char buf[32];

	if (t == STORE_NONE)
		return json_null();
	eng_iso(t, buf, sizeof buf);
	return json_string(buf);
}

/* Knock's engagement_statuses of message m. */
static json_t *
msg_engagement(const struct store_message *m)
{
	json_t *a = json_array();

	if (m->seen != STORE_NONE)
		json_array_append_new(a, json_string("seen"));
	if (m->read != STORE_NONE)
		json_array_append_new(a, json_string("read"));
	if (m->interacted != STORE_NONE)
		json_array_append_new(a, json_string("interacted"));
	if (m->archived != STORE_NONE)
		json_array_append_new(a, json_string("archived"));
	return a;
}

/* The categories of a workflow in the configuration in force. */
static json_t *
msg_categories(struct eng *e, const char *key)
{
	const struct eng_workflow *w = eng_workflow_find(e->cfg, key);

	return w ? json_incref(w->categories) : json_array();
}

/*
 * The Message shape of m, taking its body (the rendered content, without
 * the batch details stored with it) and its run's data.
 */
static json_t *
msg_json(struct eng *e, struct store_message *m)
{
	json_t *content = m->body, *data = m->data;
	char id[37], run[37], rrun[37];

	m->body = m->data = NULL;
	if (content == NULL)
		content = json_object();
	json_object_del(content, "$batch");
	eng_id_format(e, ENG_ID_MSG, (uint64_t)m->seq, 0, id);
	eng_id_format(e, ENG_ID_RUN, (uint64_t)m->run, 0, run);
	eng_id_format(e, ENG_ID_RRUN, (uint64_t)m->run, (uint64_t)m->idx,
	    rrun);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:n, s:n, s:o, s:o, s:{s:s, s:s, s:s, s:o, s:s, s:s,"
	    " s:s}, s:o, s:o, s:o}",
	    "__typename", "Message", "id", id,
	    "channel_id", m->channel,
	    "recipient", eng_rcpt_ref(m->rcpt),
	    "actors", m->actor ? json_pack("[o]", eng_rcpt_ref(m->actor)) :
	    json_array(),
	    "workflow", m->workflow,
	    "tenant", m->tenant ? json_string(m->tenant) : json_null(),
	    "status", m->status ? json_string(m->status) : json_null(),
	    "seen_at", msg_time(m->seen),
	    "read_at", msg_time(m->read),
	    "archived_at", msg_time(m->archived),
	    "interacted_at", msg_time(m->interacted),
	    "clicked_at", "link_clicked_at",
	    "inserted_at", msg_time(m->inserted),
	    "updated_at", msg_time(m->updated),
	    "source", "__typename", "NotificationSource", "key", m->workflow,
	    "version_id", "1", "categories", msg_categories(e, m->workflow),
	    "workflow_run_id", run, "workflow_recipient_run_id", rrun,
	    "step_ref", m->step_ref,
	    "data", data ? data : json_object(),
	    "content", content,
	    "engagement_statuses", msg_engagement(m));
}

/* GET /v1/messages/{id}. */
enum eng_status
eng_message_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	struct store_message m;
	uint64_t seq, b;

	if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0 ||
	    !store_message_get(e->store, (int64_t)seq, &m)) {
		*cause = xasprintf("message \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	*reply = msg_json(e, &m);
	store_message_clear(&m);
	return ENG_OK;
}

/* PUT/DELETE /v1/messages/{id}/{seen|read|archived|interacted}. */
enum eng_status
eng_message_mark(struct eng *e, const char *id, const char *what, int set,
    int64_t now, json_t **reply, char **cause)
{
	uint64_t seq, b;
	int rc;

	if (strcmp(what, "seen") != 0 && strcmp(what, "read") != 0 &&
	    strcmp(what, "archived") != 0 && strcmp(what, "interacted") != 0) {
		*cause = xasprintf("unknown engagement status \"%.32s\"", what);
		return ENG_NOT_FOUND;
	}
	if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0) {
		*cause = xasprintf("message \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	if ((rc = store_message_mark(e->store, (int64_t)seq, what, set,
	    now)) < 0)
		return ENG_INTERNAL;
	if (rc == 0) {
		*cause = xasprintf("message \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	return eng_message_get(e, id, reply, cause);
}

/* Page size from a query: 1..50, default 50, -1 when it is not that. */
int
msg_page_size(json_t *query)
{
	const char *s = json_string_value(json_object_get(query, "page_size"));
	char *end;
	long n;

	if (s == NULL)
		return 50;
	n = strtol(s, &end, 10);
	return *s == '\0' || *end != '\0' || n < 1 || n > 50 ? -1 : (int)n;
}

/* The filters of a query, with the "after" cursor's key in f->before. */
static enum eng_status
msg_filters(struct eng *e, json_t *q, struct store_feed_filter *f,
    char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *ht = json_string_value(json_object_get(q, "has_tenant"));
	const char *ar = json_string_value(json_object_get(q, "archived"));
	const char *status = json_string_value(json_object_get(q, "status"));
	/* In enum store_feed_status's order. */
	static const char *statuses[] = { "all", "unread", "read", "unseen",
		"seen" };
	uint64_t seq = INT64_MAX, b;
	int i = 0;

	if (after != NULL && (eng_id_parse(e, ENG_ID_MSG, after, &seq, &b) ||
	    seq > INT64_MAX)) {
		*cause = xstrdup("bad \"after\" cursor");
		return ENG_INVALID;
	}
	f->archived = STORE_ARCHIVED_EXCLUDE;
	if (ar != NULL) {
		if (strcmp(ar, "include") == 0)
			f->archived = STORE_ARCHIVED_INCLUDE;
		else if (strcmp(ar, "only") == 0)
			f->archived = STORE_ARCHIVED_ONLY;
		else if (strcmp(ar, "exclude") != 0) {
			*cause = xstrdup("\"archived\" must be exclude, include "
			    "or only");
			return ENG_INVALID;
		}
	}
	if (status != NULL) {
		for (i = 0; i < 5 && strcmp(status, statuses[i]) != 0; i++)
			;
		if (i == 5) {
			*cause = xstrdup("\"status\" must be unread, read, "
			    "unseen, seen or all");
			return ENG_INVALID;
		}
	}
	f->status = (enum store_feed_status)i;
	f->before = (int64_t)seq;
	f->tenant = json_string_value(json_object_get(q, "tenant"));
	f->has_tenant = ht && strcmp(ht, "true") == 0;
	return ENG_OK;
}

/* Page info with the last entry's id as the after cursor. */
json_t *
msg_page_info(const char *last, int full, int size)
{
	return json_pack("{s:s, s:o, s:n, s:i}", "__typename", "PageInfo",
	    "after", full && last ? json_string(last) : json_null(), "before",
	    "page_size", size);
}

/*
 * A FeedItem from a Message: entities for actors, a "body" block, and for
 * a message sent after a batch, the batch's activities, actors and totals.
 */
static json_t *
msg_feed_item(struct eng *e, json_t *m, json_t *batch)
{
	json_t *it = json_object(), *blocks = json_array(), *c, *v;
	json_t *actors = json_array(), *a, *rcpt;
	const char *k;
	char *html;
	size_t i;

	c = json_object_get(m, "content");
	json_object_foreach(c, k, v) {
		int md = strcmp(k, "markdown") == 0;

		html = md ? eng_markdown_html(json_string_value(v)) : NULL;
		json_array_append_new(blocks, json_pack("{s:s, s:s, s:O, s:s,"
		    " s:s}", "__typename", "ContentBlock", "name",
		    md || strcmp(k, "text") == 0 ? "body" : k, "content", v,
		    "rendered", html ? html : json_string_value(v), "type",
		    md ? "markdown" : "text"));
		free(html);
	}
	json_array_foreach(json_object_get(m, "actors"), i, a)
		json_array_append_new(actors, eng_rcpt_entity(e,
		    json_is_string(a) ? json_string_value(a) : ""));
	v = json_object_get(m, "recipient");
	if (json_is_string(v))
		rcpt = eng_rcpt_entity(e, json_string_value(v));
	else
		rcpt = json_incref(v);
	json_object_set_new(it, "blocks", blocks);
	if (batch != NULL) {
		json_t *acts = json_array(), *x;

		json_array_foreach(json_object_get(batch, "activities"), i, x)
			json_array_append_new(acts, json_pack("{s:s, s:O, s:O,"
			    " s:O, s:O, s:O}", "__typename", "Activity", "id",
			    json_object_get(m, "id"), "actor",
			    json_object_get(x, "actor"), "data",
			    json_object_get(x, "data"), "inserted_at",
			    json_object_get(x, "inserted_at"), "recipient",
			    rcpt));
		json_decref(rcpt);
		json_decref(actors);
		json_object_set_new(it, "activities", acts);
		json_object_set(it, "actors", json_object_get(batch,
		    "actors"));
		json_object_set(it, "total_activities", json_object_get(batch,
		    "total_activities"));
		json_object_set(it, "total_actors", json_object_get(batch,
		    "total_actors"));
	} else {
		json_object_set_new(it, "activities", json_pack("[{s:s, s:O,"
		    " s:O, s:O, s:O, s:o}]", "__typename", "Activity", "id",
		    json_object_get(m, "id"), "actor",
		    json_array_size(actors) ? json_array_get(actors, 0) :
		    json_null(), "data", json_object_get(m, "data"),
		    "inserted_at", json_object_get(m, "inserted_at"),
		    "recipient", rcpt));
		json_object_set_new(it, "total_activities", json_integer(1));
		json_object_set_new(it, "total_actors", json_integer(
		    (json_int_t)json_array_size(actors)));
		json_object_set_new(it, "actors", actors);
	}
	json_object_update_missing(it, m);
	json_object_del(it, "content");
	json_object_set_new(it, "__typename", json_string("FeedItem"));
	return it;
}

/* The in-app channel called name, or NULL. */
static const struct eng_channel *
msg_feed_channel(struct eng *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->cfg->n_channels; i++)
		if (strcmp(e->cfg->channels[i].name, name) == 0 &&
		    strcmp(e->cfg->channels[i].type, "in_app_feed") == 0)
			return &e->cfg->channels[i];
	return NULL;
}

/*
 * Messages of rcpt (optionally on one channel) as entries + cursor,
 * newest first across channels, as Messages or (feed) FeedItems.
 */
static enum eng_status
msg_list(struct eng *e, const char *rcpt, const char *channel, json_t *q,
    int feed, json_t **entries, json_t **page, char **cause)
{
	int size = msg_page_size(q);
	struct store_message page_of[50];
	struct store_feed_filter f;
	enum eng_status rc;
	json_t *m, *last, *batch;
	size_t n, i;

	if (size < 0) {
		*cause = xstrdup("\"page_size\" must be an integer 1..50");
		return ENG_INVALID;
	}
	if ((rc = msg_filters(e, q, &f, cause)) != ENG_OK)
		return rc;
	n = store_feed_page(e->store, rcpt, channel, &f, (size_t)size,
	    page_of);
	*entries = json_array();
	for (i = 0; i < n; i++) {
		batch = feed ? json_incref(json_object_get(page_of[i].body,
		    "$batch")) : NULL;
		m = msg_json(e, &page_of[i]);
		json_array_append_new(*entries, feed ?
		    msg_feed_item(e, m, batch) : json_incref(m));
		json_decref(batch);
		json_decref(m);
		store_message_clear(&page_of[i]);
	}
	last = json_array_get(*entries, json_array_size(*entries) - 1);
	*page = msg_page_info(last ? json_string_value(json_object_get(last,
	    "id")) : NULL, (int)n == size, size);
	return ENG_OK;
}

/* GET /v1/users/{id}/feeds/{channel}. */
enum eng_status
eng_feed_get(struct eng *e, const char *user, const char *channel,
    json_t *query, json_t **reply, char **cause)
{
	const char *tenant = json_string_value(json_object_get(query,
	    "tenant"));
	const char *ht = json_string_value(json_object_get(query,
	    "has_tenant"));
	struct store_feed_counts c;
	json_t *entries, *page;
	enum eng_status rc;

	if (msg_feed_channel(e, channel) == NULL) {
		*cause = xasprintf("no in-app feed channel \"%.64s\"", channel);
		return ENG_NOT_FOUND;
	}
	if ((rc = msg_list(e, user, channel, query, 1, &entries, &page,
	    cause)) != ENG_OK)
		return rc;
	store_feed_count(e->store, user, channel, tenant, ht && strcmp(ht,
	    "true") == 0, &c);
	*reply = json_pack("{s:o, s:{s:s, s:I, s:I, s:I}, s:o, s:o}",
	    "entries", entries, "meta", "__typename", "FeedMetadata",
	    "total_count", (json_int_t)c.total, "unread_count",
	    (json_int_t)c.unread, "unseen_count", (json_int_t)c.unseen,
	    "page_info", page, "vars", json_object());
	return ENG_OK;
}

/* GET /v1/users/{id}/messages (query: channel_id, page_size, after...). */
enum eng_status
eng_user_messages(struct eng *e, const char *user, json_t *query,
    json_t **reply, char **cause)
{
	json_t *entries, *page;
	enum eng_status rc;

	if ((rc = msg_list(e, user, json_string_value(json_object_get(query,
	    "channel_id")), query, 0, &entries, &page, cause)) != ENG_OK)
		return rc;
	*reply = json_pack("{s:o, s:o}", "items", entries, "page_info",
	    page);
	return ENG_OK;
}
