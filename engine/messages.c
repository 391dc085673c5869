/*
 * Messages, feeds, workflow recipient runs and HTTP deliveries, read back
 * in Knock's JSON shapes.  Cursors are the public id of the last entry of
 * a page, decoded back to its integer key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define MSG_MAX_ATTEMPTS 8

/* Columns of ST_MSG_GET and ST_MSG_WALK (which adds the last two). */
enum {
	MC_SEQ, MC_RUN, MC_IDX, MC_REF, MC_CHANNEL, MC_RCPT, MC_TENANT,
	MC_STATUS, MC_BODY, MC_SEEN, MC_READ, MC_ARCHIVED, MC_INTERACTED,
	MC_INSERTED, MC_UPDATED, MC_WORKFLOW, MC_ACTOR, MC_DATA, MC_PREV,
	MC_PASSES
};

/* A nullable timestamp column as JSON. */
static json_t *
msg_time(sqlite3_stmt *st, int col)
{
	char buf[32];

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	eng_iso(sqlite3_column_int64(st, col), buf, sizeof buf);
	return json_string(buf);
}

/* A nullable text column as JSON. */
static json_t *
msg_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? json_string(s) : json_null();
}

/* The rendered content of the current row (without batch details). */
static json_t *
msg_content(sqlite3_stmt *st)
{
	json_t *c = eng_json_col(st, MC_BODY);

	if (c == NULL)
		return json_object();
	json_object_del(c, "$batch");
	return c;
}

/* The batch details stored with the current row's message, or NULL. */
static json_t *
msg_batch(sqlite3_stmt *st)
{
	json_t *c = eng_json_col(st, MC_BODY), *b;

	b = json_incref(json_object_get(c, "$batch"));
	json_decref(c);
	return b;
}

/* Knock's engagement_statuses of the current row. */
static json_t *
msg_engagement(sqlite3_stmt *st)
{
	json_t *a = json_array();

	if (sqlite3_column_type(st, MC_SEEN) != SQLITE_NULL)
		json_array_append_new(a, json_string("seen"));
	if (sqlite3_column_type(st, MC_READ) != SQLITE_NULL)
		json_array_append_new(a, json_string("read"));
	if (sqlite3_column_type(st, MC_INTERACTED) != SQLITE_NULL)
		json_array_append_new(a, json_string("interacted"));
	if (sqlite3_column_type(st, MC_ARCHIVED) != SQLITE_NULL)
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

/* The Message shape of the current row. */
static json_t *
msg_json(struct eng *e, sqlite3_stmt *st)
{
	const char *wf = (const char *)sqlite3_column_text(st, MC_WORKFLOW);
	const char *actor = (const char *)sqlite3_column_text(st, MC_ACTOR);
	char id[37], run[37], rrun[37];
	json_t *data = eng_json_col(st, MC_DATA);

	eng_id_format(e, ENG_ID_MSG, (uint64_t)sqlite3_column_int64(st,
	    MC_SEQ), 0, id);
	eng_id_format(e, ENG_ID_RUN, (uint64_t)sqlite3_column_int64(st,
	    MC_RUN), 0, run);
	eng_id_format(e, ENG_ID_RRUN, (uint64_t)sqlite3_column_int64(st,
	    MC_RUN), (uint64_t)sqlite3_column_int64(st, MC_IDX), rrun);
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o,"
	    " s:o, s:o, s:n, s:n, s:o, s:o, s:{s:s, s:s, s:s, s:o, s:s, s:s,"
	    " s:s}, s:o, s:o, s:o}",
	    "__typename", "Message", "id", id,
	    "channel_id", (const char *)sqlite3_column_text(st, MC_CHANNEL),
	    "recipient", eng_rcpt_ref((const char *)sqlite3_column_text(st,
	    MC_RCPT)),
	    "actors", actor ? json_pack("[o]", eng_rcpt_ref(actor)) :
	    json_array(),
	    "workflow", wf,
	    "tenant", msg_text(st, MC_TENANT),
	    "status", msg_text(st, MC_STATUS),
	    "seen_at", msg_time(st, MC_SEEN),
	    "read_at", msg_time(st, MC_READ),
	    "archived_at", msg_time(st, MC_ARCHIVED),
	    "interacted_at", msg_time(st, MC_INTERACTED),
	    "clicked_at", "link_clicked_at",
	    "inserted_at", msg_time(st, MC_INSERTED),
	    "updated_at", msg_time(st, MC_UPDATED),
	    "source", "__typename", "NotificationSource", "key", wf,
	    "version_id", "1", "categories", msg_categories(e, wf),
	    "workflow_run_id", run, "workflow_recipient_run_id", rrun,
	    "step_ref", (const char *)sqlite3_column_text(st, MC_REF),
	    "data", data ? data : json_object(),
	    "content", msg_content(st),
	    "engagement_statuses", msg_engagement(st));
}

/* GET /v1/messages/{id}. */
enum eng_status
eng_message_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	sqlite3_stmt *st;
	uint64_t seq, b;

	if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0)
		goto missing;
	st = eng_stmt(e, ST_MSG_GET);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		goto missing;
	}
	*reply = msg_json(e, st);
	sqlite3_reset(st);
	return ENG_OK;
missing:
	*cause = xasprintf("message \"%.64s\" not found", id);
	return ENG_NOT_FOUND;
}

/* PUT/DELETE /v1/messages/{id}/{seen|read|archived|interacted}. */
enum eng_status
eng_message_mark(struct eng *e, const char *id, const char *what, int set,
    int64_t now, json_t **reply, char **cause)
{
	sqlite3_stmt *st;
	uint64_t seq, b;

	if (strcmp(what, "seen") != 0 && strcmp(what, "read") != 0 &&
	    strcmp(what, "archived") != 0 && strcmp(what, "interacted") != 0) {
		*cause = xasprintf("unknown engagement status \"%.32s\"", what);
		return ENG_NOT_FOUND;
	}
	if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0) {
		*cause = xasprintf("message \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	st = eng_stmt(e, ST_MSG_MARK);
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_text(st, 2, what, -1, SQLITE_STATIC);
	if (set)
		sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now);
	if (eng_step_done(e, st) != 0)
		return ENG_INTERNAL;
	if (sqlite3_changes(eng_db(e)) == 0) {
		*cause = xasprintf("message \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	return eng_message_get(e, id, reply, cause);
}

/* Page size from a query: 1..50, default 50, -1 when it is not that. */
static int
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

/*
 * The filters of a query, bound onto ST_MSG_WALK from ?2 on; *cursor is
 * the seq of the "after" cursor (INT64_MAX without one).
 */
static enum eng_status
msg_bind_filters(struct eng *e, sqlite3_stmt *st, json_t *q, int64_t *cursor,
    char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *tenant = json_string_value(json_object_get(q, "tenant"));
	const char *ht = json_string_value(json_object_get(q, "has_tenant"));
	const char *ar = json_string_value(json_object_get(q, "archived"));
	const char *status = json_string_value(json_object_get(q, "status"));
	static const char *statuses[] = { "all", "unread", "read", "unseen",
		"seen" };
	int archived = 1, s = 0, has = ht && strcmp(ht, "true") == 0;
	uint64_t seq = INT64_MAX, b;

	if (after != NULL && (eng_id_parse(e, ENG_ID_MSG, after, &seq, &b) ||
	    seq > INT64_MAX)) {
		*cause = xstrdup("bad \"after\" cursor");
		return ENG_INVALID;
	}
	if (ar != NULL) {
		if (strcmp(ar, "include") == 0)
			archived = 0;
		else if (strcmp(ar, "only") == 0)
			archived = 2;
		else if (strcmp(ar, "exclude") != 0) {
			*cause = xstrdup("\"archived\" must be exclude, include "
			    "or only");
			return ENG_INVALID;
		}
	}
	if (status != NULL) {
		for (s = 0; s < 5 && strcmp(status, statuses[s]) != 0; s++)
			;
		if (s == 5) {
			*cause = xstrdup("\"status\" must be unread, read, "
			    "unseen, seen or all");
			return ENG_INVALID;
		}
	}
	*cursor = (int64_t)seq;
	sqlite3_bind_int64(st, 2, *cursor);
	if (tenant)
		sqlite3_bind_text(st, 3, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, has);
	sqlite3_bind_int(st, 5, archived);
	sqlite3_bind_int(st, 6, s);
	return ENG_OK;
}

/* A chain being walked: the seq of its next message (0: done). */
struct msg_chain {
	int64_t at;
	char *channel;
};

/* The chains being gathered by msg_heads. */
struct msg_chains {
	struct msg_chain *c;
	size_t n, cap;
};

/* Set the head of the chain on channel, adding the chain if new. */
static void
msg_head(void *arg, const char *channel, int64_t head)
{
	struct msg_chains *cs = arg;
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (strcmp(cs->c[i].channel, channel) == 0) {
			cs->c[i].at = head;
			return;
		}
	if (cs->n == cs->cap)
		cs->c = xreallocarray(cs->c, cs->cap = cs->cap ? cs->cap * 2 :
		    4, sizeof *cs->c);
	cs->c[cs->n].at = head;
	cs->c[cs->n++].channel = xstrdup(channel);
}

/*
 * rcpt's chains (on channel, or on every channel), from their newest:
 * feed_heads, then the heads held in memory, which are newer.
 */
static struct msg_chain *
msg_heads(struct eng *e, const char *rcpt, const char *channel, size_t *n)
{
	struct msg_chains cs = { NULL, 0, 0 };

	store_feed_heads(e->store, rcpt, channel, msg_head, &cs);
	*n = cs.n;
	return cs.c;
}

/*
 * Start the chain that holds the cursor message (one of rcpt's) right
 * below it; the other chains of a list over every channel step down past
 * the cursor one message at a time.
 */
static void
msg_seek(sqlite3_stmt *st, const char *rcpt, int64_t cursor,
    struct msg_chain *c, size_t n)
{
	const char *who, *ch;
	size_t i;

	if (cursor == INT64_MAX)
		return;
	sqlite3_bind_int64(st, 1, cursor);
	if (sqlite3_step(st) == SQLITE_ROW && (who = (const char *)
	    sqlite3_column_text(st, MC_RCPT)) != NULL &&
	    strcmp(who, rcpt) == 0 && (ch = (const char *)
	    sqlite3_column_text(st, MC_CHANNEL)) != NULL)
		for (i = 0; i < n; i++)
			if (strcmp(c[i].channel, ch) == 0 && c[i].at >= cursor)
				c[i].at = sqlite3_column_int64(st, MC_PREV);
	sqlite3_reset(st);
}

/* Page info with the last entry's id as the after cursor. */
static json_t *
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
 * Messages of rcpt (optionally on one channel) as entries + cursor: a walk
 * down its chains, always taking the newest message next (newest first
 * across channels), each message fetched with whether it passes the
 * filters, until a page is full or the chains end.
 */
static enum eng_status
msg_list(struct eng *e, const char *rcpt, const char *channel, json_t *q,
    int feed, json_t **entries, json_t **page, char **cause)
{
	int size = msg_page_size(q), n = 0, passes;
	sqlite3_stmt *st = eng_stmt(e, ST_MSG_WALK);
	enum eng_status rc;
	json_t *m, *last, *batch;
	struct msg_chain *c;
	int64_t cursor, prev;
	size_t nc, i, top;

	if (size < 0) {
		*cause = xstrdup("\"page_size\" must be an integer 1..50");
		return ENG_INVALID;
	}
	if ((rc = msg_bind_filters(e, st, q, &cursor, cause)) != ENG_OK)
		return rc;
	c = msg_heads(e, rcpt, channel, &nc);
	msg_seek(st, rcpt, cursor, c, nc);
	*entries = json_array();
	while (n < size) {
		for (top = nc, i = 0; i < nc; i++)
			if (c[i].at > 0 && (top == nc || c[i].at > c[top].at))
				top = i;
		if (top == nc)
			break;
		sqlite3_bind_int64(st, 1, c[top].at);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_reset(st);
			c[top].at = 0;
			continue;
		}
		prev = sqlite3_column_int64(st, MC_PREV);
		passes = sqlite3_column_int(st, MC_PASSES);
		if (passes) {
			m = msg_json(e, st);
			batch = feed ? msg_batch(st) : NULL;
			json_array_append_new(*entries, feed ?
			    msg_feed_item(e, m, batch) : json_incref(m));
			json_decref(batch);
			json_decref(m);
			n++;
		}
		sqlite3_reset(st);
		/* A chain only goes back in time. */
		c[top].at = prev < c[top].at ? prev : 0;
	}
	for (i = 0; i < nc; i++)
		free(c[i].channel);
	free(c);
	last = json_array_get(*entries, json_array_size(*entries) - 1);
	*page = msg_page_info(last ? json_string_value(json_object_get(last,
	    "id")) : NULL, n == size, size);
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
	json_t *entries, *page;
	sqlite3_stmt *st;
	enum eng_status rc;
	int64_t total = 0, unread = 0, unseen = 0;

	if (msg_feed_channel(e, channel) == NULL) {
		*cause = xasprintf("no in-app feed channel \"%.64s\"", channel);
		return ENG_NOT_FOUND;
	}
	if ((rc = msg_list(e, user, channel, query, 1, &entries, &page,
	    cause)) != ENG_OK)
		return rc;
	st = eng_stmt(e, ST_MSG_COUNTS);
	sqlite3_bind_int64(st, 1, store_feed_head(e->store, user, channel));
	if (tenant)
		sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, ht && strcmp(ht, "true") == 0);
	if (sqlite3_step(st) == SQLITE_ROW) {
		total = sqlite3_column_int64(st, 0);
		unread = sqlite3_column_int64(st, 1);
		unseen = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	*reply = json_pack("{s:o, s:{s:s, s:I, s:I, s:I}, s:o, s:o}",
	    "entries", entries, "meta", "__typename", "FeedMetadata",
	    "total_count", (json_int_t)total, "unread_count",
	    (json_int_t)unread, "unseen_count", (json_int_t)unseen,
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

/*
 * Run run's trigger_source from the statement's source, schedule_seq and
 * fire_at columns (at col, col + 1, col + 2) and its cancellation key; a
 * source event's run adds the source, the event, its message id and its
 * timestamp.
 */
static json_t *
msg_source(struct eng *e, int64_t run, sqlite3_stmt *st, int col,
    const char *ck)
{
	const char *type = (const char *)sqlite3_column_text(st, col);
	struct store_source_event ev;
	json_t *o;
	char id[37], at[32];

	o = json_pack("{s:s, s:s?, s:n}", "type", type, "cancellation_key",
	    ck, "schedule_id");
	if (strcmp(type, "source") == 0 &&
	    store_source_run_get(e->store, run, &ev)) {
		json_object_update_new(o, json_pack("{s:s, s:s?, s:s?, s:s?}",
		    "source", ev.source, "event", ev.event, "message_id",
		    ev.message_id, "timestamp", ev.timestamp));
		store_source_event_clear(&ev);
	}
	if (sqlite3_column_type(st, col + 1) != SQLITE_NULL) {
		eng_id_format(e, ENG_ID_SCHED,
		    (uint64_t)sqlite3_column_int64(st, col + 1), 0, id);
		eng_iso(sqlite3_column_int64(st, col + 2), at, sizeof at);
		json_object_set_new(o, "schedule_id", json_string(id));
		json_object_set_new(o, "scheduled_at", json_string(at));
	}
	return o;
}

/*
 * A recipient run's events in Knock's shape (taking stored): events stored
 * compact (run.c: "e", "s" unless ok, "r", "t", "d" unless {}, "at"; a
 * message_sent's data {"m": seq, "c": channel}) are expanded; events
 * stored in this shape already (before schema 7's runs) pass as they are.
 */
static json_t *
msg_events(struct eng *e, json_t *stored)
{
	json_t *out = json_array(), *ev, *o, *d, *data, *v;
	const char *event;
	char id[37], at[32];
	size_t i;

	json_array_foreach(stored, i, ev) {
		if ((event = json_string_value(json_object_get(ev, "e"))) ==
		    NULL) {
			json_array_append(out, ev);
			continue;
		}
		o = json_object();
		json_object_set_new(o, "event", json_string(event));
		v = json_object_get(ev, "s");
		json_object_set_new(o, "status", v ? json_incref(v) :
		    json_string("ok"));
		if ((v = json_object_get(ev, "r")) != NULL)
			json_object_set(o, "step_ref", v);
		if ((v = json_object_get(ev, "t")) != NULL)
			json_object_set(o, "step_type", v);
		d = json_object_get(ev, "d");
		if (strcmp(event, "message_sent") == 0 &&
		    json_is_integer(json_object_get(d, "m"))) {
			eng_id_format(e, ENG_ID_MSG, (uint64_t)
			    json_integer_value(json_object_get(d, "m")), 0, id);
			data = json_pack("{s:s, s:O?}", "message_id", id,
			    "channel", json_object_get(d, "c"));
		} else
			data = d ? json_incref(d) : json_object();
		json_object_set_new(o, "data", data);
		eng_iso(json_integer_value(json_object_get(ev, "at")), at,
		    sizeof at);
		json_object_set_new(o, "inserted_at", json_string(at));
		json_array_append_new(out, o);
	}
	json_decref(stored);
	return out;
}

/* The WorkflowRecipientRun shape (run columns from ST_RRUN_LIST layout). */
static json_t *
msg_rrun_json(struct eng *e, int64_t run, int64_t idx, const char *rcpt,
    const char *status, json_t *events, int errors, int64_t ins, int64_t upd,
    const char *wf, const char *actor, const char *tenant, json_t *source)
{
	char id[37], rid[37], a[32], b[32];

	eng_id_format(e, ENG_ID_RRUN, (uint64_t)run, (uint64_t)idx, id);
	eng_id_format(e, ENG_ID_RUN, (uint64_t)run, 0, rid);
	eng_iso(ins, a, sizeof a);
	eng_iso(upd, b, sizeof b);
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s?, s:s,"
	    " s:o, s:i, s:o, s:s, s:s}",
	    "__typename", "WorkflowRecipientRun", "id", id,
	    "workflow_run_id", rid, "workflow", wf, "recipient",
	    eng_rcpt_ref(rcpt), "actor", actor ? eng_rcpt_ref(actor) :
	    json_null(), "tenant", tenant, "status", status, "trigger_source",
	    source, "error_count", errors, "events", msg_events(e, events),
	    "inserted_at", a, "updated_at", b);
}

/* Text column or NULL. */
#define COL(st, i) ((const char *)sqlite3_column_text((st), (i)))

/* GET /v1/workflow_recipient_runs/{id}. */
enum eng_status
eng_run_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	sqlite3_stmt *st, *ru;
	uint64_t run, idx;

	if (eng_id_parse(e, ENG_ID_RRUN, id, &run, &idx) != 0)
		goto missing;
	st = eng_stmt(e, ST_RRUN_GET);
	sqlite3_bind_int64(st, 1, (int64_t)run);
	sqlite3_bind_int64(st, 2, (int64_t)idx);
	ru = eng_stmt(e, ST_RUN_GET);
	sqlite3_bind_int64(ru, 1, (int64_t)run);
	if (sqlite3_step(st) != SQLITE_ROW || sqlite3_step(ru) != SQLITE_ROW) {
		sqlite3_reset(st);
		sqlite3_reset(ru);
		goto missing;
	}
	*reply = msg_rrun_json(e, (int64_t)run, (int64_t)idx, COL(st, 0),
	    COL(st, 1), eng_json_col(st, 2), sqlite3_column_int(st, 3),
	    sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5),
	    COL(ru, 0), COL(ru, 1), COL(ru, 2), msg_source(e, (int64_t)run, ru, 5,
	    COL(ru, 4)));
	sqlite3_reset(st);
	sqlite3_reset(ru);
	return ENG_OK;
missing:
	*cause = xasprintf("workflow recipient run \"%.64s\" not found", id);
	return ENG_NOT_FOUND;
}

/*
 * GET /v1/workflow_recipient_runs (workflow, status, recipient, after, and
 * belfry's schedule_id: the runs a schedule's fires made).
 */
enum eng_status
eng_runs_list(struct eng *e, json_t *q, json_t **reply, char **cause)
{
	const char *sid = json_string_value(json_object_get(q,
	    "schedule_id"));
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *wf = json_string_value(json_object_get(q, "workflow"));
	const char *status = json_string_value(json_object_get(q, "status"));
	const char *rcpt = json_string_value(json_object_get(q, "recipient"));
	uint64_t run = INT64_MAX >> 24, idx = 0, sched = 0, b;
	int size = msg_page_size(q), n = 0;
	json_t *entries = json_array(), *last;
	sqlite3_stmt *st;

	if (size < 0 || (after != NULL && eng_id_parse(e, ENG_ID_RRUN, after,
	    &run, &idx))) {
		json_decref(entries);
		*cause = xstrdup(size < 0 ? "\"page_size\" must be an integer "
		    "1..50" : "bad \"after\" cursor");
		return ENG_INVALID;
	}
	if (sid != NULL && eng_id_parse(e, ENG_ID_SCHED, sid, &sched, &b)) {
		json_decref(entries);
		*cause = xasprintf("\"schedule_id\": \"%.64s\" is not a "
		    "schedule id", sid);
		return ENG_INVALID;
	}
	st = eng_stmt(e, sid != NULL ? ST_RRUN_BY_SCHED : ST_RRUN_LIST);
	if (sid != NULL)
		sqlite3_bind_int64(st, 7, (int64_t)sched);
	sqlite3_bind_int64(st, 1, (int64_t)run);
	sqlite3_bind_int64(st, 2, (int64_t)idx);
	if (wf)
		sqlite3_bind_text(st, 3, wf, -1, SQLITE_TRANSIENT);
	if (status)
		sqlite3_bind_text(st, 4, status, -1, SQLITE_TRANSIENT);
	if (rcpt)
		sqlite3_bind_text(st, 5, rcpt, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 6, size);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_array_append_new(entries, msg_rrun_json(e,
		    sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
		    COL(st, 2), COL(st, 3), eng_json_col(st, 4),
		    sqlite3_column_int(st, 5), sqlite3_column_int64(st, 6),
		    sqlite3_column_int64(st, 7), COL(st, 8), COL(st, 9),
		    COL(st, 10), msg_source(e,
		    sqlite3_column_int64(st, 0), st, 12, COL(st, 11))));
		n++;
	}
	sqlite3_reset(st);
	last = json_array_get(entries, json_array_size(entries) - 1);
	*reply = json_pack("{s:o, s:o}", "items", entries, "page_info",
	    msg_page_info(last ? json_string_value(json_object_get(last,
	    "id")) : NULL, n == size, size));
	return ENG_OK;
}

/* Take deliveries due at now, marking them in flight. */
size_t
eng_delivery_take(struct eng *e, int64_t now, struct eng_delivery *out,
    size_t max)
{
	struct store_delivery *d = xcalloc(max ? max : 1, sizeof *d);
	size_t n, i;
	char id[37];

	n = store_deliveries_take(e->store, now, max, d);
	for (i = 0; i < n; i++) {
		out[i].id = d[i].msg;
		out[i].url = d[i].url;
		out[i].body = d[i].body;
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
	free(d->url);
	free(d->body);
	free(d->message_id);
}

/* Set a message's status. */
static void
msg_set_status(struct eng *e, int64_t seq, const char *status, int64_t now)
{
	sqlite3_stmt *st = eng_stmt(e, ST_MSG_STATUS);

	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	eng_step_done(e, st);
}

/*
 * Record a delivery's outcome.  Failures retry after 15 s, 30 s, 1 min...
 * (doubling, +-20% jitter: about 30 minutes over 8 attempts), then the
 * message is undelivered.
 */
void
eng_delivery_done(struct eng *e, int64_t id, int ok, const char *err,
    int64_t now)
{
	int attempts = store_delivery_attempts(e->store, id);
	int64_t delay;

	if (attempts < 0)
		attempts = MSG_MAX_ATTEMPTS;
	if (ok || attempts >= MSG_MAX_ATTEMPTS) {
		store_delivery_drop(e->store, id);
		msg_set_status(e, id, ok ? "delivered" : "undelivered", now);
		if (e->stats.queue_depth > 0)
			e->stats.queue_depth--;
		if (!ok)
			e->stats.deliveries_failed++;
		return;
	}
	delay = 15LL << (attempts - 1);
	delay += (delay * ((int64_t)(random() % 41) - 20)) / 100;
	store_delivery_retry(e->store, id, now + delay, err);
}
