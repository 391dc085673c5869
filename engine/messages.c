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

/*
 * Set (set) or clear engagement what ("seen", "read", "archived" or
 * "interacted") of message seq, of owner's (NULL: anyone's); interacted
 * also marks it read, as Knock does.  ENG_OK, ENG_NOT_FOUND when there
 * is no such message of owner's, or ENG_INTERNAL.
 */
static enum eng_status
msg_mark(struct eng *e, int64_t seq, const char *what, int set,
    const char *owner, int64_t now)
{
	sqlite3_stmt *st;
	char *rcpt = NULL, *channel = NULL;
	const char *who, *ch;
	enum eng_status rc = ENG_OK;

	st = eng_stmt(e, ST_MSG_GET);
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) == SQLITE_ROW && (who = (const char *)
	    sqlite3_column_text(st, MC_RCPT)) != NULL && (ch = (const char *)
	    sqlite3_column_text(st, MC_CHANNEL)) != NULL &&
	    (owner == NULL || strcmp(who, owner) == 0)) {
		rcpt = xstrdup(who);
		channel = xstrdup(ch);
	}
	sqlite3_reset(st);
	if (rcpt == NULL)
		return ENG_NOT_FOUND;
	st = eng_stmt(e, ST_MSG_MARK);
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, what, -1, SQLITE_STATIC);
	if (set)
		sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now);
	if (eng_step_done(e, st) != 0)
		rc = ENG_INTERNAL;
	else {
		/* The feed's counts moved: open sockets must count anew. */
		eng_push_note(e, rcpt, channel, NULL, 1);
		if (set && strcmp(what, "interacted") == 0)
			rc = msg_mark(e, seq, "read", 1, NULL, now);
	}
	free(rcpt);
	free(channel);
	return rc;
}

/*
 * A status of Knock's batch and bulk routes (seen, unseen, read, unread,
 * archived, unarchived, interacted) as an engagement and whether it is
 * set; -1 when it is none of them.
 */
static int
msg_status_of(const char *status, const char **what, int *set)
{
	static const struct {
		const char *status, *what;
		int set;
	} map[] = {
		{ "seen", "seen", 1 }, { "unseen", "seen", 0 },
		{ "read", "read", 1 }, { "unread", "read", 0 },
		{ "archived", "archived", 1 }, { "unarchived", "archived", 0 },
		{ "interacted", "interacted", 1 },
	};
	size_t i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(status, map[i].status) == 0) {
			*what = map[i].what;
			*set = map[i].set;
			return 0;
		}
	return -1;
}

/* See engine.h: one message's status, PUT or DELETE. */
enum eng_status
eng_message_mark(struct eng *e, const char *id, const char *status,
    int set, const char *owner, int64_t now, json_t **reply, char **cause)
{
	const char *what;
	enum eng_status rc;
	uint64_t seq, b;
	int on;

	if (msg_status_of(status, &what, &on) != 0) {
		*cause = xasprintf("unknown engagement status \"%.32s\"",
		    status);
		return ENG_NOT_FOUND;
	}
	if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0 ||
	    seq > INT64_MAX) {
		*cause = xasprintf("message \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	rc = msg_mark(e, (int64_t)seq, what, set ? on : !on, owner, now);
	if (rc == ENG_NOT_FOUND)
		*cause = xasprintf("message \"%.64s\" not found", id);
	if (rc != ENG_OK)
		return rc;
	return eng_message_get(e, id, reply, cause);
}

#define MSG_BATCH_MAX 1000

/*
 * See engine.h: POST /v1/messages/batch/{status} {message_ids}: the
 * messages updated, in the order given; ids that are not messages (of
 * owner's, when owner is set) are left out.
 */
enum eng_status
eng_messages_batch(struct eng *e, const char *status, json_t *body,
    const char *owner, int64_t now, json_t **reply, char **cause)
{
	json_t *ids = json_object_get(body, "message_ids"), *v, *m;
	const char *what, *id;
	enum eng_status rc;
	uint64_t seq, b;
	size_t i;
	int set;
	char *ignored;

	if (msg_status_of(status, &what, &set) != 0) {
		*cause = xasprintf("unknown status \"%.32s\": seen, unseen, "
		    "read, unread, archived, unarchived or interacted",
		    status);
		return ENG_NOT_FOUND;
	}
	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > MSG_BATCH_MAX) {
		*cause = xasprintf("\"message_ids\" must be an array of 1 to "
		    "%d message ids", MSG_BATCH_MAX);
		return ENG_INVALID;
	}
	json_array_foreach(ids, i, v)
		if (!json_is_string(v)) {
			*cause = xasprintf("\"message_ids\"[%zu] is not a "
			    "string", i);
			return ENG_INVALID;
		}
	*reply = json_array();
	json_array_foreach(ids, i, v) {
		id = json_string_value(v);
		if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0 ||
		    seq > INT64_MAX)
			continue;
		rc = msg_mark(e, (int64_t)seq, what, set, owner, now);
		if (rc == ENG_INTERNAL) {
			json_decref(*reply);
			*reply = NULL;
			*cause = xstrdup("the store failed");
			return rc;
		}
		ignored = NULL;
		if (rc == ENG_OK && eng_message_get(e, id, &m, &ignored) ==
		    ENG_OK)
			json_array_append_new(*reply, m);
		free(ignored);
	}
	return ENG_OK;
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
	sqlite3_stmt *st;

	st = eng_stmt(e, ST_FEED_HEADS);
	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_TRANSIENT);
	if (channel != NULL)
		sqlite3_bind_text(st, 2, channel, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW)
		msg_head(&cs, (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 0));
	sqlite3_reset(st);
	eng_heads_each(e, rcpt, channel, msg_head, &cs);
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

		if (strcmp(k, "buttons") == 0) {
			/* Knock's feed block of action buttons. */
			json_array_append_new(blocks, json_pack("{s:s, s:s, s:s,"
			    " s:O}", "__typename", "ButtonSetContentBlock",
			    "name", "actions", "type", "button_set", "buttons",
			    v));
			continue;
		}

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
	/* The page cursors are message ids. */
	json_object_set(it, "__cursor", json_object_get(m, "id"));
	return it;
}

/*
 * An ISO 8601 UTC instant as browsers write it (YYYY-MM-DDTHH:MM:SS,
 * optional fraction, Z) into *t; -1 when it is not one.
 */
static int
msg_instant(const char *v, int64_t *t)
{
	char buf[21];
	const char *p = v + 19;

	if (strlen(v) < 20)
		return -1;
	memcpy(buf, v, 19);
	memcpy(buf + 19, "Z", 2);
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (strcmp(p, "Z") != 0)
		return -1;
	return tz_instant_parse(buf, t);
}

/* Filters of a feed query checked on each row, beyond the walk's own. */
struct msg_extra {
	const char *source;      /* the workflow key, or NULL */
	json_t *categories;      /* any of these workflow categories */
	json_t *trigger;         /* data has each key = value */
	int64_t gte, lte, gt, lt; /* inserted_at bounds */
};

/* The extra filters of query q into *x; ENG_INVALID with *cause. */
static enum eng_status
msg_extra_parse(json_t *q, struct msg_extra *x, char **cause)
{
	static const char *const ops[] = { "inserted_at.gte",
		"inserted_at.lte", "inserted_at.gt", "inserted_at.lt" };
	int64_t *bound[4];
	const char *td = json_string_value(json_object_get(q,
	    "trigger_data")), *v;
	json_t *cat = json_object_get(q, "workflow_categories[]");
	size_t i;

	memset(x, 0, sizeof *x);
	bound[0] = &x->gte;
	bound[1] = &x->lte;
	bound[2] = &x->gt;
	bound[3] = &x->lt;
	x->gte = x->gt = INT64_MIN;
	x->lte = x->lt = INT64_MAX;
	x->source = json_string_value(json_object_get(q, "source"));
	if (json_array_size(cat) > 0)
		x->categories = cat;
	for (i = 0; i < 4; i++)
		if ((v = json_string_value(json_object_get(q, ops[i]))) !=
		    NULL && msg_instant(v, bound[i]) != 0) {
			*cause = xasprintf("\"%s\" must be an ISO 8601 UTC "
			    "instant (2026-12-02T10:00:00Z)", ops[i]);
			return ENG_INVALID;
		}
	if (td != NULL) {
		x->trigger = json_loads(td, 0, NULL);
		if (!json_is_object(x->trigger)) {
			json_decref(x->trigger);
			x->trigger = NULL;
			*cause = xstrdup("\"trigger_data\" must be a JSON "
			    "object of keys and values");
			return ENG_INVALID;
		}
	}
	return ENG_OK;
}

/* Whether the walk's current row passes x. */
static int
msg_extra_pass(struct eng *e, sqlite3_stmt *st, const struct msg_extra *x)
{
	const char *wf = (const char *)sqlite3_column_text(st, MC_WORKFLOW);
	int64_t at = sqlite3_column_int64(st, MC_INSERTED);
	const struct eng_workflow *w;
	json_t *data, *v, *c;
	const char *k;
	size_t i, j;
	int ok = 1;

	if (at < x->gte || at > x->lte || at <= x->gt || at >= x->lt)
		return 0;
	if (x->source != NULL && (wf == NULL || strcmp(wf, x->source) != 0))
		return 0;
	if (x->categories != NULL) {
		ok = 0;
		w = wf != NULL ? eng_workflow_find(e->cfg, wf) : NULL;
		json_array_foreach(x->categories, i, v)
			json_array_foreach(w != NULL ? w->categories : NULL,
			    j, c)
				ok |= json_equal(v, c);
		if (!ok)
			return 0;
	}
	if (x->trigger != NULL) {
		data = eng_json_col(st, MC_DATA);
		json_object_foreach(x->trigger, k, v)
			ok &= json_equal(json_object_get(data, k), v);
		json_decref(data);
	}
	return ok;
}

/*
 * A FeedItem cut down to Knock's compact mode: no activities, at most
 * one actor, data without nested arrays and objects.
 */
static void
msg_compact(json_t *it)
{
	json_t *actors = json_object_get(it, "actors"), *data, *v;
	const char *k;
	void *tmp;

	json_object_del(it, "activities");
	json_object_del(it, "total_activities");
	while (json_array_size(actors) > 1)
		json_array_remove(actors, json_array_size(actors) - 1);
	data = json_object_get(it, "data");
	if (json_is_object(data)) {
		data = json_deep_copy(data);
		json_object_foreach_safe(data, tmp, k, v)
			if (json_is_object(v) || json_is_array(v))
				json_object_del(data, k);
		json_object_set_new(it, "data", data);
	}
}

/*
 * Messages of rcpt (optionally on one channel) as entries + cursor: a walk
 * down its chains, always taking the newest message next (newest first
 * across channels), each message fetched with whether it passes the
 * filters, until a page is full or the chains end.  With a "before"
 * cursor the walk stops at the cursor and the page is the entries just
 * above it (kept in a ring of the page's size).
 */
static enum eng_status
msg_list(struct eng *e, const char *rcpt, const char *channel, json_t *q,
    int feed, json_t **entries, json_t **page, char **cause)
{
	int size = msg_page_size(q), n = 0, passes;
	const char *before = json_string_value(json_object_get(q, "before"));
	const char *mode = json_string_value(json_object_get(q, "mode"));
	sqlite3_stmt *st = eng_stmt(e, ST_MSG_WALK);
	json_t *m, *it, *batch, **ring = NULL, *first, *last;
	int64_t cursor, prev, stop = 0;
	struct msg_extra x;
	enum eng_status rc;
	struct msg_chain *c;
	size_t nc, i, top, seen = 0;
	uint64_t bseq, b;

	if (size < 0) {
		*cause = xstrdup("\"page_size\" must be an integer 1..50");
		return ENG_INVALID;
	}
	if (mode != NULL && strcmp(mode, "compact") != 0 &&
	    strcmp(mode, "rich") != 0) {
		*cause = xstrdup("\"mode\" must be compact or rich");
		return ENG_INVALID;
	}
	if (before != NULL) {
		if (json_object_get(q, "after") != NULL) {
			*cause = xstrdup("\"before\" and \"after\" cannot both "
			    "be given");
			return ENG_INVALID;
		}
		if (eng_id_parse(e, ENG_ID_MSG, before, &bseq, &b) != 0 ||
		    bseq > INT64_MAX) {
			*cause = xstrdup("bad \"before\" cursor");
			return ENG_INVALID;
		}
		stop = (int64_t)bseq;
		ring = xcalloc((size_t)size, sizeof *ring);
	}
	if ((rc = msg_extra_parse(q, &x, cause)) != ENG_OK ||
	    (rc = msg_bind_filters(e, st, q, &cursor, cause)) != ENG_OK) {
		json_decref(x.trigger);
		free(ring);
		return rc;
	}
	c = msg_heads(e, rcpt, channel, &nc);
	msg_seek(st, rcpt, cursor, c, nc);
	*entries = json_array();
	while (ring != NULL || n < size) {
		for (top = nc, i = 0; i < nc; i++)
			if (c[i].at > stop && (top == nc ||
			    c[i].at > c[top].at))
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
		passes = sqlite3_column_int(st, MC_PASSES) &&
		    msg_extra_pass(e, st, &x);
		if (passes) {
			m = msg_json(e, st);
			batch = feed ? msg_batch(st) : NULL;
			it = feed ? msg_feed_item(e, m, batch) : json_incref(m);
			if (feed && mode != NULL && strcmp(mode, "compact") == 0)
				msg_compact(it);
			json_decref(batch);
			json_decref(m);
			if (ring != NULL) {
				json_decref(ring[seen % (size_t)size]);
				ring[seen++ % (size_t)size] = it;
			} else {
				json_array_append_new(*entries, it);
				n++;
			}
		}
		sqlite3_reset(st);
		/* A chain only goes back in time. */
		c[top].at = prev < c[top].at ? prev : 0;
	}
	for (i = 0; i < nc; i++)
		free(c[i].channel);
	free(c);
	json_decref(x.trigger);
	if (ring != NULL) {
		/* The last size entries seen, newest first. */
		for (i = seen > (size_t)size ? seen - (size_t)size : 0;
		    i < seen; i++)
			json_array_append_new(*entries,
			    ring[i % (size_t)size]);
		free(ring);
		first = json_array_get(*entries, 0);
		last = json_array_get(*entries, json_array_size(*entries) - 1);
		*page = msg_page_info(last ? json_string_value(
		    json_object_get(last, "id")) : NULL, 1, size);
		if (seen > (size_t)size)
			json_object_set(*page, "before", json_object_get(first,
			    "id"));
		return ENG_OK;
	}
	last = json_array_get(*entries, json_array_size(*entries) - 1);
	*page = msg_page_info(last ? json_string_value(json_object_get(last,
	    "id")) : NULL, n == size, size);
	if (cursor != INT64_MAX && (first = json_array_get(*entries, 0)))
		json_object_set(*page, "before", json_object_get(first, "id"));
	return ENG_OK;
}

/* See engine.h: the counts of rcpt's feed on channel. */
void
eng_feed_counts(struct eng *e, const char *rcpt, const char *channel,
    const char *tenant, int has_tenant, struct eng_feed_counts *out)
{
	sqlite3_stmt *st = eng_stmt(e, ST_MSG_COUNTS);

	out->total = out->unread = out->unseen = 0;
	sqlite3_bind_int64(st, 1, eng_feed_head(e, rcpt, channel));
	if (tenant)
		sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, has_tenant);
	if (sqlite3_step(st) == SQLITE_ROW) {
		out->total = sqlite3_column_int64(st, 0);
		out->unread = sqlite3_column_int64(st, 1);
		out->unseen = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
}

/* See engine.h: whether channel is an in-app feed channel of c. */
int
eng_config_is_feed(const struct eng_config *c, const char *channel)
{
	size_t i;

	for (i = 0; i < c->n_channels; i++)
		if (strcmp(c->channels[i].name, channel) == 0 &&
		    strcmp(c->channels[i].type, "in_app_feed") == 0)
			return 1;
	return 0;
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
	struct eng_feed_counts n;
	json_t *entries, *page;
	enum eng_status rc;

	if (!eng_config_is_feed(e->cfg, channel)) {
		*cause = xasprintf("no in-app feed channel \"%.64s\"", channel);
		return ENG_NOT_FOUND;
	}
	if ((rc = msg_list(e, user, channel, query, 1, &entries, &page,
	    cause)) != ENG_OK)
		return rc;
	eng_feed_counts(e, user, channel, tenant, ht && strcmp(ht, "true") == 0,
	    &n);
	*reply = json_pack("{s:o, s:{s:s, s:I, s:I, s:I}, s:o, s:o}",
	    "entries", entries, "meta", "__typename", "FeedMetadata",
	    "total_count", (json_int_t)n.total, "unread_count",
	    (json_int_t)n.unread, "unseen_count", (json_int_t)n.unseen,
	    "page_info", page, "vars", json_object());
	return ENG_OK;
}

#define MSG_BULK_USERS 100

/*
 * The seqs of rcpt's messages on channel that pass q's filters, all of
 * them (newest first), into *out (from malloc); their count, or -1 with
 * *cause.
 */
static ssize_t
msg_select(struct eng *e, const char *rcpt, const char *channel, json_t *q,
    int64_t **out, char **cause)
{
	sqlite3_stmt *st = eng_stmt(e, ST_MSG_WALK);
	struct msg_extra x;
	struct msg_chain *c;
	int64_t cursor, prev;
	size_t nc, i, top, n = 0, cap = 0;

	*out = NULL;
	if (msg_extra_parse(q, &x, cause) != ENG_OK ||
	    msg_bind_filters(e, st, q, &cursor, cause) != ENG_OK) {
		json_decref(x.trigger);
		return -1;
	}
	c = msg_heads(e, rcpt, channel, &nc);
	for (;;) {
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
		if (sqlite3_column_int(st, MC_PASSES) &&
		    msg_extra_pass(e, st, &x)) {
			if (n == cap)
				*out = xreallocarray(*out, cap = cap ? cap * 2 :
				    64, sizeof **out);
			(*out)[n++] = c[top].at;
		}
		sqlite3_reset(st);
		c[top].at = prev < c[top].at ? prev : 0;
	}
	for (i = 0; i < nc; i++)
		free(c[i].channel);
	free(c);
	json_decref(x.trigger);
	return (ssize_t)n;
}

/*
 * The bulk body's filters as a feed query: engagement_status as status,
 * archived, has_tenant, tenants (at most one) as tenant, trigger_data.
 * NULL with *cause.
 */
static json_t *
msg_bulk_query(json_t *body, char **cause)
{
	json_t *q = json_object(), *v;
	const char *es, *ar;

	es = json_string_value(json_object_get(body, "engagement_status"));
	ar = json_string_value(json_object_get(body, "archived"));
	if (es != NULL)
		json_object_set_new(q, "status", json_string(es));
	if (ar != NULL)
		json_object_set_new(q, "archived", json_string(ar));
	if (json_is_true(json_object_get(body, "has_tenant")))
		json_object_set_new(q, "has_tenant", json_string("true"));
	v = json_object_get(body, "tenants");
	if (json_array_size(v) > 1 || (v != NULL && !json_is_null(v) &&
	    !json_is_array(v)) || (json_array_size(v) == 1 &&
	    !json_is_string(json_array_get(v, 0)))) {
		json_decref(q);
		*cause = xstrdup("\"tenants\" must be an array of at most one "
		    "tenant id");
		return NULL;
	}
	if (json_array_size(v) == 1)
		json_object_set(q, "tenant", json_array_get(v, 0));
	if ((v = json_object_get(body, "trigger_data")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_string(v)) {
			json_decref(q);
			*cause = xstrdup("\"trigger_data\" must be a JSON "
			    "object as a string");
			return NULL;
		}
		json_object_set(q, "trigger_data", v);
	}
	return q;
}

/* See engine.h: POST /v1/channels/{channel}/messages/bulk/{status}. */
enum eng_status
eng_feed_bulk(struct eng *e, const char *channel, const char *status,
    json_t *body, int64_t now, json_t **reply, char **cause)
{
	json_t *users = json_object_get(body, "user_ids"), *u, *q;
	const char *what;
	int64_t *seqs, done = 0;
	enum eng_status rc;
	char at[32];
	ssize_t n, k;
	size_t i;
	int set;

	if (!eng_config_is_feed(e->cfg, channel)) {
		*cause = xasprintf("no in-app feed channel \"%.64s\"", channel);
		return ENG_NOT_FOUND;
	}
	if (msg_status_of(status, &what, &set) != 0) {
		*cause = xasprintf("unknown status \"%.32s\": seen, unseen, "
		    "read, unread, archived, unarchived or interacted",
		    status);
		return ENG_NOT_FOUND;
	}
	if (!json_is_array(users) || json_array_size(users) == 0 ||
	    json_array_size(users) > MSG_BULK_USERS) {
		*cause = xasprintf("\"user_ids\" must be an array of 1 to %d "
		    "user ids", MSG_BULK_USERS);
		return ENG_INVALID;
	}
	json_array_foreach(users, i, u)
		if (!json_is_string(u)) {
			*cause = xasprintf("\"user_ids\"[%zu] is not a string",
			    i);
			return ENG_INVALID;
		}
	if ((q = msg_bulk_query(body, cause)) == NULL)
		return ENG_INVALID;
	json_array_foreach(users, i, u) {
		n = msg_select(e, json_string_value(u), channel, q, &seqs,
		    cause);
		if (n < 0) {
			json_decref(q);
			return ENG_INVALID;
		}
		for (k = 0; k < n; k++) {
			rc = msg_mark(e, seqs[k], what, set, NULL, now);
			if (rc == ENG_INTERNAL) {
				free(seqs);
				json_decref(q);
				*cause = xstrdup("the store failed");
				return rc;
			}
			done += rc == ENG_OK;
		}
		free(seqs);
	}
	json_decref(q);
	eng_iso(now, at, sizeof at);
	*reply = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:s, s:s,"
	    " s:s, s:s}", "__typename", "BulkOperation", "name",
	    status, "status", "completed", "estimated_total_rows",
	    (json_int_t)done, "processed_rows", (json_int_t)done,
	    "success_count", (json_int_t)done, "error_count", 0,
	    "inserted_at", at, "started_at", at, "completed_at", at,
	    "updated_at", at);
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
 * A run's trigger_source from the statement's source, schedule_seq and
 * fire_at columns (at col, col + 1, col + 2) and its cancellation key.
 */
static json_t *
msg_source(struct eng *e, sqlite3_stmt *st, int col, const char *ck)
{
	const char *type = (const char *)sqlite3_column_text(st, col);
	json_t *o;
	char id[37], at[32];

	o = json_pack("{s:s, s:s?, s:n}", "type", type, "cancellation_key",
	    ck, "schedule_id");
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
	    COL(ru, 0), COL(ru, 1), COL(ru, 2), msg_source(e, ru, 5,
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
		    COL(st, 10), msg_source(e, st, 12, COL(st, 11))));
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
	sqlite3_stmt *st = eng_stmt(e, ST_DLV_DUE), *tk;
	size_t n = 0, i;
	char id[37];

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		out[n].id = sqlite3_column_int64(st, 0);
		out[n].url = xstrdup(COL(st, 1));
		out[n].body = xstrdup(COL(st, 2));
		out[n].attempt = sqlite3_column_int(st, 3) + 1;
		eng_id_format(e, ENG_ID_MSG, (uint64_t)out[n].id, 0, id);
		out[n].message_id = xstrdup(id);
		n++;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		tk = eng_stmt(e, ST_DLV_TAKE);
		sqlite3_bind_int64(tk, 1, out[i].id);
		eng_step_done(e, tk);
	}
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
	sqlite3_stmt *st = eng_stmt(e, ST_DLV_GET);
	int attempts = MSG_MAX_ATTEMPTS;
	int64_t delay;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		attempts = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (ok || attempts >= MSG_MAX_ATTEMPTS) {
		st = eng_stmt(e, ST_DLV_DEL);
		sqlite3_bind_int64(st, 1, id);
		eng_step_done(e, st);
		msg_set_status(e, id, ok ? "delivered" : "undelivered", now);
		if (e->stats.queue_depth > 0)
			e->stats.queue_depth--;
		if (!ok)
			e->stats.deliveries_failed++;
		return;
	}
	delay = 15LL << (attempts - 1);
	delay += (delay * ((int64_t)(random() % 41) - 20)) / 100;
	st = eng_stmt(e, ST_DLV_RETRY);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now + delay);
	if (err)
		sqlite3_bind_text(st, 3, err, -1, SQLITE_TRANSIENT);
	eng_step_done(e, st);
}
