/*
 * Messages and feeds read back in Knock's shapes: a Message, a feed page
 * of FeedItems with its counts, a user's messages across channels, and a
 * message's engagement marks.  Cursors are the public id of the last
 * entry of a page, decoded back to its integer key.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/messages/msg_int.h"

/* A nullable instant as JSON (null for STORE_NONE). */
json_t *
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
 * the batch details stored with it) and its run's data; a message that
 * goes out by http or email with its delivery's state.
 */
static json_t *
msg_json(struct eng *e, struct store_message *m)
{
	json_t *content = m->body, *data = m->data, *j, *d;
	char id[37], run[37], rrun[37];

	m->body = m->data = NULL;
	if (content == NULL)
		content = json_object();
	json_object_del(content, "$batch");
	eng_id_format(e, ENG_ID_MSG, (uint64_t)m->seq, 0, id);
	eng_id_format(e, ENG_ID_RUN, (uint64_t)m->run, 0, run);
	eng_id_format(e, ENG_ID_RRUN, (uint64_t)m->run, (uint64_t)m->idx,
	    rrun);
	j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o,"
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
	json_object_set_new(j, "metadata", m->metadata ? m->metadata :
	    json_null());
	m->metadata = NULL;
	if ((d = eng_delivery_state(e, m->seq, m->channel)) != NULL)
		json_object_set_new(j, "delivery", d);
	return j;
}

/* GET /v1/messages/{id}. */
enum eng_status
eng_message_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	return msg_reply(e, id, msg_json, reply, cause);
}

/* When message m's engagement what was set, or STORE_NONE. */
static int64_t
msg_marked_at(const struct store_message *m, const char *what)
{
	if (strcmp(what, "seen") == 0)
		return m->seen;
	if (strcmp(what, "read") == 0)
		return m->read;
	if (strcmp(what, "archived") == 0)
		return m->archived;
	return m->interacted;
}

/*
 * Set (set) or clear engagement what ("seen", "read", "archived" or
 * "interacted") of message seq, of owner's (NULL: anyone's), record the
 * change as a message event and note it for the live push; interacted
 * keeps metadata (when not NULL) and also marks it read, as Knock does.
 * ENG_OK, ENG_NOT_FOUND when there is no such message of owner's, or
 * ENG_INTERNAL.
 */
static enum eng_status
msg_mark(struct eng *e, int64_t seq, const char *what, int set,
    const char *owner, json_t *metadata, int64_t now)
{
	struct store_message m;
	enum eng_status rc = ENG_OK;
	int changed, interacted = set && strcmp(what, "interacted") == 0;
	char type[32];

	if (!store_message_get(e->store, seq, &m))
		return ENG_NOT_FOUND;
	changed = (msg_marked_at(&m, what) != STORE_NONE) != (set != 0);
	snprintf(type, sizeof type, "message.%s%s", set ? "" : "un", what);
	if (owner != NULL && strcmp(m.rcpt, owner) != 0)
		rc = ENG_NOT_FOUND;
	else if (store_message_mark(e->store, seq, what, set, now) < 0 ||
	    (interacted && metadata != NULL && store_message_metadata(
	    e->store, seq, metadata) != 0) || ((changed || interacted) &&
	    msg_event(e, seq, type, interacted ? metadata : NULL, now) != 0))
		rc = ENG_INTERNAL;
	else {
		/* The feed's counts moved: open sockets must count anew. */
		eng_push_note(e, m.rcpt, m.channel, NULL, 1);
		if (interacted)
			rc = msg_mark(e, seq, "read", 1, NULL, NULL, now);
	}
	store_message_clear(&m);
	return rc;
}

#define MSG_METADATA_MAX 5

/*
 * The "metadata" of an interacted body (borrowed; NULL when absent):
 * an object of at most 5 keys with scalar values, as Knock allows; -1
 * with *cause when it is not one.
 */
static int
msg_metadata(json_t *body, json_t **out, char **cause)
{
	json_t *md = json_object_get(body, "metadata"), *v;
	const char *k;

	*out = NULL;
	if (md == NULL || json_is_null(md))
		return 0;
	if (!json_is_object(md) || json_object_size(md) > MSG_METADATA_MAX) {
		*cause = xasprintf("\"metadata\" must be an object of at most "
		    "%d keys", MSG_METADATA_MAX);
		return -1;
	}
	json_object_foreach(md, k, v)
		if (json_is_object(v) || json_is_array(v)) {
			*cause = xasprintf("\"metadata\".%.64s: nested data is "
			    "not allowed", k);
			return -1;
		}
	*out = json_object_size(md) > 0 ? md : NULL;
	return 0;
}

/*
 * A status of Knock's status routes (seen, unseen, read, unread,
 * archived, unarchived, interacted) as an engagement and whether it is
 * set; -1 with *cause when it is none of them.
 */
static int
msg_status_of(const char *status, const char **what, int *set,
    char **cause)
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
	*cause = xasprintf("unknown status \"%.32s\": seen, unseen, read, "
	    "unread, archived, unarchived or interacted", status);
	return -1;
}

/*
 * Whether v, body member key, is an array of 1 to max strings; -1 with
 * *cause naming what it should hold.
 */
static int
msg_strings(json_t *v, const char *key, size_t max, const char *what,
    char **cause)
{
	json_t *x;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > max) {
		*cause = xasprintf("\"%s\" must be an array of 1 to %zu %s",
		    key, max, what);
		return -1;
	}
	json_array_foreach(v, i, x)
		if (!json_is_string(x)) {
			*cause = xasprintf("\"%s\"[%zu] is not a string", key,
			    i);
			return -1;
		}
	return 0;
}

/* See engine.h: one message's status, PUT or DELETE. */
enum eng_status
eng_message_mark(struct eng *e, const char *id, const char *status,
    int set, const char *owner, json_t *body, int64_t now, json_t **reply,
    char **cause)
{
	const char *what;
	enum eng_status rc;
	json_t *md;
	uint64_t seq, b;
	int on;

	if (msg_status_of(status, &what, &on, cause) != 0)
		return ENG_NOT_FOUND;
	if (msg_metadata(body, &md, cause) != 0)
		return ENG_INVALID;
	if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0 ||
	    seq > INT64_MAX) {
		*cause = xasprintf("message \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	rc = msg_mark(e, (int64_t)seq, what, set ? on : !on, owner, md, now);
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
	json_t *ids = json_object_get(body, "message_ids"), *v, *m, *md;
	const char *what, *id;
	enum eng_status rc;
	uint64_t seq, b;
	size_t i;
	int set;
	char *ignored;

	if (msg_status_of(status, &what, &set, cause) != 0)
		return ENG_NOT_FOUND;
	if (msg_strings(ids, "message_ids", MSG_BATCH_MAX, "message ids",
	    cause) != 0 || msg_metadata(body, &md, cause) != 0)
		return ENG_INVALID;
	*reply = json_array();
	json_array_foreach(ids, i, v) {
		id = json_string_value(v);
		if (eng_id_parse(e, ENG_ID_MSG, id, &seq, &b) != 0 ||
		    seq > INT64_MAX)
			continue;
		rc = msg_mark(e, (int64_t)seq, what, set, owner, md, now);
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

/*
 * The keys of the message ids of list parameter message_ids[] of q as a
 * JSON array into f->seqs (ids that are no message's are left out); 0,
 * or -1 with *cause when there are more than 50.
 */
static int
msg_filter_ids(struct eng *e, json_t *q, struct store_feed_filter *f,
    char **cause)
{
	json_t *ids = eng_query_list(q, "message_ids"), *v;
	uint64_t seq, b;
	size_t i;

	if (ids == NULL)
		return 0;
	if (json_array_size(ids) > 50) {
		*cause = xstrdup("\"message_ids\" takes at most 50 ids");
		return -1;
	}
	f->seqs = json_array();
	json_array_foreach(ids, i, v)
		if (eng_id_parse(e, ENG_ID_MSG, json_string_value(v), &seq,
		    &b) == 0 && seq <= INT64_MAX)
			json_array_append_new(f->seqs, json_integer(
			    (json_int_t)seq));
	return 0;
}

/*
 * The filters of a query into *f (f->seqs and f->tenants the caller's to
 * decref), with the "after" cursor's key in f->before: "tenant" (one) or
 * "tenants" (an array of strings, a bulk's), and a feed's (feed: archived
 * excluded unless asked, "status" an engagement) or a messages list's
 * (archived included, channel_id, workflow_run_id,
 * workflow_recipient_run_id, message_ids[]); the recipient run's index
 * into *idx (-1: any).
 */
static enum eng_status
msg_filters(struct eng *e, json_t *q, int feed, struct store_feed_filter *f,
    int64_t *idx, char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *ht = json_string_value(json_object_get(q, "has_tenant"));
	const char *tenant = json_string_value(json_object_get(q, "tenant"));
	json_t *tenants = json_object_get(q, "tenants");
	const char *ar = json_string_value(json_object_get(q, "archived"));
	const char *status = json_string_value(json_object_get(q, "status"));
	const char *run = json_string_value(json_object_get(q,
	    "workflow_run_id"));
	const char *rrun = json_string_value(json_object_get(q,
	    "workflow_recipient_run_id"));
	/* In enum store_feed_status's order. */
	static const char *statuses[] = { "all", "unread", "read", "unseen",
		"seen" };
	uint64_t seq = INT64_MAX, b, rs = 0, ri = 0;
	int i = 0;

	memset(f, 0, sizeof *f);
	*idx = -1;
	if (after != NULL && (eng_id_parse(e, ENG_ID_MSG, after, &seq, &b) ||
	    seq > INT64_MAX)) {
		*cause = xstrdup("bad \"after\" cursor");
		return ENG_INVALID;
	}
	f->archived = feed ? STORE_ARCHIVED_EXCLUDE : STORE_ARCHIVED_INCLUDE;
	if (ar != NULL) {
		if (strcmp(ar, "include") == 0)
			f->archived = STORE_ARCHIVED_INCLUDE;
		else if (strcmp(ar, "only") == 0)
			f->archived = STORE_ARCHIVED_ONLY;
		else if (strcmp(ar, "exclude") == 0)
			f->archived = STORE_ARCHIVED_EXCLUDE;
		else {
			*cause = xstrdup("\"archived\" must be exclude, include "
			    "or only");
			return ENG_INVALID;
		}
	}
	if (feed && status != NULL) {
		for (i = 0; i < 5 && strcmp(status, statuses[i]) != 0; i++)
			;
		if (i == 5) {
			*cause = xstrdup("\"status\" must be unread, read, "
			    "unseen, seen or all");
			return ENG_INVALID;
		}
	}
	if (ht != NULL && strcmp(ht, "true") != 0 && strcmp(ht, "false") != 0) {
		*cause = xstrdup("\"has_tenant\" must be true or false");
		return ENG_INVALID;
	}
	if (!feed && ((run != NULL && (eng_id_parse(e, ENG_ID_RUN, run, &rs,
	    &b) != 0 || rs == 0)) || (rrun != NULL && (eng_id_parse(e,
	    ENG_ID_RRUN, rrun, &rs, &ri) != 0 || rs == 0)))) {
		/* No run has that id: a filter that nothing passes. */
		rs = INT64_MAX;
	}
	f->status = (enum store_feed_status)i;
	f->before = (int64_t)seq;
	if (tenant != NULL)
		f->tenants = json_pack("[s]", tenant);
	else if (json_is_array(tenants))
		f->tenants = json_incref(tenants);
	f->has_tenant = ht && strcmp(ht, "true") == 0;
	if (!feed) {
		f->channel = json_string_value(json_object_get(q,
		    "channel_id"));
		f->run = (int64_t)rs;
		if (rrun != NULL && rs != INT64_MAX)
			*idx = (int64_t)ri;
		if (msg_filter_ids(e, q, f, cause) != 0)
			return ENG_INVALID;
	}
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
	json_t *it = json_object(), *blocks, *v;
	json_t *actors = json_array(), *a, *rcpt;
	size_t i;

	blocks = msg_blocks(json_object_get(m, "content"));
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
	const char *p;

	if (v == NULL || strlen(v) < 20)
		return -1;
	p = v + 19;
	memcpy(buf, v, 19);
	memcpy(buf + 19, "Z", 2);
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (strcmp(p, "Z") != 0)
		return -1;
	return tz_instant_parse(buf, t);
}

/* Knock's delivery and engagement statuses, as list filters take them. */
static const char *const msg_delivery_words[] = { "queued", "sent",
	"delivered", "delivery_attempted", "undelivered", "not_sent",
	"bounced", NULL };
static const char *const msg_engagement_words[] = { "seen", "unseen",
	"read", "unread", "archived", "unarchived", "link_clicked",
	"interacted", NULL };

/* Filters of a query checked on each row, beyond the store's own. */
struct msg_extra {
	const char *source;      /* the workflow key, or NULL */
	json_t *categories;      /* any of these workflow categories */
	json_t *trigger;         /* data has each key = value */
	json_t *statuses;        /* any of these delivery statuses */
	json_t *engagement;      /* any of these engagement statuses */
	int64_t idx;             /* the recipient run's index, or -1 */
	int64_t gte, lte, gt, lt; /* inserted_at bounds */
};

/*
 * Whether each value of list parameter name of q is one of the strings
 * of words (a NULL-terminated list); -1 with *cause when one is not.
 */
static int
msg_enum_list(json_t *q, const char *name, const char *const *words,
    json_t **out, char **cause)
{
	json_t *v;
	size_t i, j;

	*out = eng_query_list(q, name);
	json_array_foreach(*out, i, v) {
		for (j = 0; words[j] != NULL && (!json_is_string(v) || strcmp(
		    json_string_value(v), words[j]) != 0); j++)
			;
		if (words[j] == NULL) {
			*cause = xasprintf("\"%s\" takes %s", name,
			    words == msg_delivery_words ? "queued, sent, "
			    "delivered, delivery_attempted, undelivered, "
			    "not_sent or bounced" : "seen, unseen, read, "
			    "unread, archived, unarchived, link_clicked or "
			    "interacted");
			return -1;
		}
	}
	return 0;
}

/*
 * The extra filters of query q into *x (x->trigger the caller's to
 * decref); with list, also status[] and engagement_status[].
 * ENG_INVALID with *cause.  inserted_at comes as inserted_at[gte]=... or
 * inserted_at.gte=..., trigger_data as a JSON object in a string or as
 * trigger_data[key]=value (route.c makes both an object).
 */
static enum eng_status
msg_extra_parse(json_t *q, int list, struct msg_extra *x, char **cause)
{
	static const char *const ops[] = { "gte", "lte", "gt", "lt" };
	int64_t *bound[4];
	json_t *td = json_object_get(q, "trigger_data"), *ins, *v;
	json_t *cat = eng_query_list(q, "workflow_categories");
	const char *k;
	size_t i;

	memset(x, 0, sizeof *x);
	x->idx = -1;
	bound[0] = &x->gte;
	bound[1] = &x->lte;
	bound[2] = &x->gt;
	bound[3] = &x->lt;
	x->gte = x->gt = INT64_MIN;
	x->lte = x->lt = INT64_MAX;
	x->source = json_string_value(json_object_get(q, "source"));
	if (json_array_size(cat) > 0)
		x->categories = cat;
	if (list && (msg_enum_list(q, "status", msg_delivery_words,
	    &x->statuses, cause) != 0 || msg_enum_list(q, "engagement_status",
	    msg_engagement_words, &x->engagement, cause) != 0))
		return ENG_INVALID;
	if ((ins = json_object_get(q, "inserted_at")) != NULL &&
	    !json_is_object(ins)) {
		*cause = xstrdup("\"inserted_at\" takes gte, lte, gt or lt "
		    "(inserted_at.gte=... or inserted_at[gte]=...)");
		return ENG_INVALID;
	}
	json_object_foreach(ins, k, v) {
		for (i = 0; i < 4 && strcmp(k, ops[i]) != 0; i++)
			;
		if (i == 4) {
			*cause = xasprintf("unknown query parameter "
			    "\"inserted_at.%s\": it takes gte, lte, gt or lt",
			    k);
			return ENG_INVALID;
		}
		if (msg_instant(json_string_value(v), bound[i]) != 0) {
			*cause = xasprintf("\"inserted_at.%s\" must be an "
			    "ISO 8601 UTC instant (2026-12-02T10:00:00Z)", k);
			return ENG_INVALID;
		}
	}
	if (td != NULL) {
		if (json_is_string(td))
			x->trigger = json_loads(json_string_value(td), 0,
			    NULL);
		else
			x->trigger = json_incref(td);
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

/*
 * Whether data value have is want: equal JSON, or, for want a string
 * (trigger_data[key]=value in a query), have's scalar written out.
 */
int
msg_data_match(json_t *want, json_t *have)
{
	char buf[64];
	size_t n;

	if (json_equal(want, have))
		return 1;
	if (!json_is_string(want) || have == NULL || json_is_object(have) ||
	    json_is_array(have) || json_is_string(have))
		return 0;
	if ((n = eng_json_write(have, buf, sizeof buf - 1)) >= sizeof buf - 1)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, json_string_value(want)) == 0;
}

/* Whether message m has any of the engagement statuses in list. */
static int
msg_engaged(const struct store_message *m, json_t *list)
{
	json_t *v;
	const char *w;
	size_t i;

	json_array_foreach(list, i, v) {
		w = json_string_value(v);
		if ((strcmp(w, "seen") == 0 && m->seen != STORE_NONE) ||
		    (strcmp(w, "unseen") == 0 && m->seen == STORE_NONE) ||
		    (strcmp(w, "read") == 0 && m->read != STORE_NONE) ||
		    (strcmp(w, "unread") == 0 && m->read == STORE_NONE) ||
		    (strcmp(w, "archived") == 0 && m->archived != STORE_NONE) ||
		    (strcmp(w, "unarchived") == 0 &&
		    m->archived == STORE_NONE) ||
		    (strcmp(w, "interacted") == 0 &&
		    m->interacted != STORE_NONE))
			return 1;
	}
	return 0;
}

/* Whether message m passes x. */
static int
msg_extra_pass(struct eng *e, const struct store_message *m,
    const struct msg_extra *x)
{
	const char *wf = m->workflow;
	int64_t at = m->inserted;
	const struct eng_workflow *w;
	json_t *v, *c;
	const char *k;
	size_t i, j;
	int ok = 1;

	if (at < x->gte || at > x->lte || at <= x->gt || at >= x->lt)
		return 0;
	if (x->idx >= 0 && m->idx != x->idx)
		return 0;
	if (x->source != NULL && (wf == NULL || strcmp(wf, x->source) != 0))
		return 0;
	if (x->engagement != NULL && !msg_engaged(m, x->engagement))
		return 0;
	if (x->statuses != NULL) {
		ok = 0;
		json_array_foreach(x->statuses, i, v)
			ok |= m->status != NULL && strcmp(m->status,
			    json_string_value(v)) == 0;
		if (!ok)
			return 0;
	}
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
	if (x->trigger != NULL)
		json_object_foreach(x->trigger, k, v)
			ok &= msg_data_match(v, json_object_get(m->data, k));
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

/* How many messages a walk reads from the store at a time. */
#define MSG_CHUNK 50

/*
 * A walk down rcpt's messages (on channel, or every channel; rcpt NULL:
 * every recipient's) that pass the store filter f and the extra filters
 * x, newest first, from below f->before down to (not including) stop:
 * each passing message is handed to visit (which takes it, to clear)
 * until visit returns nonzero.  With f->up (every recipient's only) the
 * walk goes up from f->above instead, oldest first.
 */
static void
msg_walk(struct eng *e, const char *rcpt, const char *channel,
    struct store_feed_filter *f, const struct msg_extra *x, int64_t stop,
    int (*visit)(struct eng *, struct store_message *, void *), void *arg)
{
	struct store_message chunk[MSG_CHUNK];
	size_t n, i;
	int done = 0;

	while (!done) {
		n = rcpt == NULL ? store_messages_page(e->store, f, MSG_CHUNK,
		    chunk) : store_feed_page(e->store, rcpt, channel, f,
		    MSG_CHUNK, chunk);
		for (i = 0; i < n; i++) {
			if (done || chunk[i].seq <= stop) {
				done = 1;
				store_message_clear(&chunk[i]);
				continue;
			}
			if (f->up)
				f->above = chunk[i].seq;
			else
				f->before = chunk[i].seq;
			if (!msg_extra_pass(e, &chunk[i], x))
				store_message_clear(&chunk[i]);
			else
				done = visit(e, &chunk[i], arg);
		}
		if (n < MSG_CHUNK)
			break;
	}
}

/* What msg_list's visits gather: entries, or a ring of the last ones. */
struct msg_gather {
	json_t *entries;
	json_t **ring;          /* with a before cursor */
	size_t size, seen;
	int feed, compact;
};

/* Make message m (taken) an entry of g; 1 once a page is full. */
static int
msg_gather(struct eng *e, struct store_message *m, void *arg)
{
	struct msg_gather *g = arg;
	json_t *batch = NULL, *j, *it;

	if (g->feed)
		batch = json_incref(json_object_get(m->body, "$batch"));
	j = msg_json(e, m);
	store_message_clear(m);
	it = g->feed ? msg_feed_item(e, j, batch) : json_incref(j);
	if (g->compact)
		msg_compact(it);
	json_decref(batch);
	json_decref(j);
	if (g->ring != NULL) {
		json_decref(g->ring[g->seen % g->size]);
		g->ring[g->seen++ % g->size] = it;
		return 0;
	}
	json_array_append_new(g->entries, it);
	return json_array_size(g->entries) == g->size;
}

/* The id of entry i of entries (borrowed), or NULL. */
static const char *
msg_entry_id(json_t *entries, size_t i)
{
	return json_string_value(json_object_get(json_array_get(entries, i),
	    "id"));
}

/*
 * The page of a walk up from a before cursor (every recipient's): g
 * gathered one more than a page, oldest first; keep a page, newest
 * first, with a before cursor when there are newer ones.
 */
static json_t *
msg_page_up(struct msg_gather *g, size_t size, json_t **entries)
{
	json_t *out = json_array(), *page;
	size_t n = json_array_size(g->entries), i, keep = n > size ? size : n;

	for (i = keep; i > 0; i--)
		json_array_append(out, json_array_get(g->entries, i - 1));
	json_decref(g->entries);
	*entries = out;
	page = msg_page_info(msg_entry_id(out, keep ? keep - 1 : 0), 1,
	    (int)size);
	if (n > size)
		json_object_set(page, "before", json_object_get(
		    json_array_get(out, 0), "id"));
	return page;
}

/*
 * Messages of rcpt (optionally on one channel; rcpt NULL: every
 * recipient's) as entries + cursor, newest first across channels, as
 * Messages or (feed) FeedItems, filtered by q as a feed or a messages
 * list.  With a "before" cursor the page is the entries just above it:
 * every recipient's walk up the table from it; a recipient's walk stops
 * at the cursor, keeping a ring of the page's size.
 */
static enum eng_status
msg_list(struct eng *e, const char *rcpt, const char *channel, json_t *q,
    int feed, json_t **entries, json_t **page, char **cause)
{
	const char *before = json_string_value(json_object_get(q, "before"));
	const char *mode = json_string_value(json_object_get(q, "mode"));
	struct msg_gather g;
	struct store_feed_filter f;
	struct msg_extra x;
	enum eng_status rc;
	json_t *first, *last;
	int size = msg_page_size(q);
	int64_t stop = 0, after, idx;
	uint64_t bseq = 0, b;
	size_t i;

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
	}
	memset(&x, 0, sizeof x);
	if ((rc = msg_filters(e, q, feed, &f, &idx, cause)) != ENG_OK ||
	    (rc = msg_extra_parse(q, !feed, &x, cause)) != ENG_OK) {
		json_decref(f.seqs);
		json_decref(f.tenants);
		json_decref(x.trigger);
		return rc;
	}
	x.idx = idx;
	memset(&g, 0, sizeof g);
	g.entries = json_array();
	g.size = (size_t)size;
	g.feed = feed;
	g.compact = feed && mode != NULL && strcmp(mode, "compact") == 0;
	after = f.before;
	if (before != NULL && rcpt == NULL) {
		f.up = 1;
		f.above = (int64_t)bseq;
		g.size++;
	} else if (before != NULL) {
		stop = (int64_t)bseq;
		g.ring = xcalloc(g.size, sizeof *g.ring);
	}
	msg_walk(e, rcpt, channel, &f, &x, stop, msg_gather, &g);
	json_decref(f.seqs);
	json_decref(f.tenants);
	json_decref(x.trigger);
	if (f.up) {
		*page = msg_page_up(&g, (size_t)size, entries);
		return ENG_OK;
	}
	*entries = g.entries;
	if (g.ring != NULL) {
		/* The last size entries seen, newest first. */
		for (i = g.seen > g.size ? g.seen - g.size : 0; i < g.seen;
		    i++)
			json_array_append_new(*entries, g.ring[i % g.size]);
		free(g.ring);
		first = json_array_get(*entries, 0);
		*page = msg_page_info(msg_entry_id(*entries,
		    json_array_size(*entries) - 1), 1, size);
		if (g.seen > g.size)
			json_object_set(*page, "before", json_object_get(first,
			    "id"));
		return ENG_OK;
	}
	last = json_array_get(*entries, json_array_size(*entries) - 1);
	*page = msg_page_info(last ? json_string_value(json_object_get(last,
	    "id")) : NULL, json_array_size(*entries) == g.size, size);
	if (after != INT64_MAX && (first = json_array_get(*entries, 0)))
		json_object_set(*page, "before", json_object_get(first, "id"));
	return ENG_OK;
}

/* See engine.h: the counts of rcpt's feed on channel. */
void
eng_feed_counts(struct eng *e, const char *rcpt, const char *channel,
    const char *tenant, int has_tenant, struct eng_feed_counts *out)
{
	struct store_feed_counts c;

	store_feed_count(e->store, rcpt, channel, tenant, has_tenant, &c);
	out->total = c.total;
	out->unread = c.unread;
	out->unseen = c.unseen;
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

/*
 * Delete dotted path p (levels left of it at most) from v; arrays on the
 * way apply it to each element.
 */
static void
msg_exclude_path(json_t *v, const char *p, int levels)
{
	const char *dot = strchr(p, '.');
	char key[128];
	json_t *x;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			msg_exclude_path(x, p, levels);
		return;
	}
	if (!json_is_object(v) || levels == 0)
		return;
	if (dot == NULL) {
		json_object_del(v, p);
		return;
	}
	snprintf(key, sizeof key, "%.*s", (int)(dot - p), p);
	msg_exclude_path(json_object_get(v, key), dot + 1, levels - 1);
}

/*
 * Apply a feed query's "exclude" (comma-separated dotted field paths,
 * at most 3 levels: "entries.archived_at,entries.data.secret") to reply;
 * -1 with *cause when a path is malformed.
 */
static int
msg_exclude(json_t *reply, const char *spec, char **cause)
{
	char *copy, *p, *save = NULL, *q;
	int dots, rc = 0;

	if (spec == NULL)
		return 0;
	copy = xstrdup(spec);
	for (p = strtok_r(copy, ",", &save); p != NULL && rc == 0;
	    p = strtok_r(NULL, ",", &save)) {
		for (dots = 0, q = p; *q != '\0'; q++)
			dots += *q == '.';
		if (*p == '\0' || *p == '.' || q[-1] == '.' || dots > 2 ||
		    strstr(p, "..") != NULL || strlen(p) > 127) {
			*cause = xasprintf("\"exclude\": bad field path "
			    "\"%.64s\" (dotted, at most 3 levels)", p);
			rc = -1;
		} else
			msg_exclude_path(reply, p, 3);
	}
	free(copy);
	return rc;
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
	struct eng_feed_counts c;
	json_t *entries, *page;
	enum eng_status rc;

	if (!eng_config_is_feed(e->cfg, channel)) {
		*cause = xasprintf("no in-app feed channel \"%.64s\"", channel);
		return ENG_NOT_FOUND;
	}
	if ((rc = msg_list(e, user, channel, query, 1, &entries, &page,
	    cause)) != ENG_OK)
		return rc;
	eng_feed_counts(e, user, channel, tenant, ht && strcmp(ht, "true") ==
	    0, &c);
	*reply = json_pack("{s:o, s:{s:s, s:I, s:I, s:I}, s:o, s:o}",
	    "entries", entries, "meta", "__typename", "FeedMetadata",
	    "total_count", (json_int_t)c.total, "unread_count",
	    (json_int_t)c.unread, "unseen_count", (json_int_t)c.unseen,
	    "page_info", page, "vars", json_object());
	if (msg_exclude(*reply, json_string_value(json_object_get(query,
	    "exclude")), cause) != 0) {
		json_decref(*reply);
		*reply = NULL;
		return ENG_INVALID;
	}
	return ENG_OK;
}

#define MSG_BULK_USERS 100
#define MSG_BULK_TENANTS 100

/* The seqs a bulk walk collects. */
struct msg_seqs {
	int64_t *seq;
	size_t n, cap;
};

/* Collect message m's seq (m taken); never stops the walk. */
static int
msg_collect(struct eng *e, struct store_message *m, void *arg)
{
	struct msg_seqs *ss = arg;

	(void)e;
	if (ss->n == ss->cap)
		ss->seq = xreallocarray(ss->seq, ss->cap = ss->cap ?
		    ss->cap * 2 : 64, sizeof *ss->seq);
	ss->seq[ss->n++] = m->seq;
	store_message_clear(m);
	return 0;
}

/*
 * The bulk body's filters as a feed query: engagement_status as status,
 * archived, has_tenant, tenants (up to MSG_BULK_TENANTS; none or null: any
 * tenant), trigger_data.  NULL with *cause.
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
	if (v != NULL && !json_is_null(v) &&
	    !(json_is_array(v) && json_array_size(v) == 0)) {
		if (msg_strings(v, "tenants", MSG_BULK_TENANTS, "tenant ids",
		    cause) != 0) {
			json_decref(q);
			return NULL;
		}
		json_object_set(q, "tenants", v);
	}
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

/*
 * See engine_int.h: whether body is a good "mark all" of status on feed
 * channel (ENG_NOT_FOUND: no such channel or status).
 */
enum eng_status
eng_feed_bulk_check(struct eng *e, const char *channel, const char *status,
    json_t *body, char **cause)
{
	json_t *users = json_object_get(body, "user_ids"), *q;
	enum eng_status rc;
	struct msg_extra x;
	const char *what;
	int set;

	if (!eng_config_is_feed(e->cfg, channel)) {
		*cause = xasprintf("no in-app feed channel \"%.64s\"", channel);
		return ENG_NOT_FOUND;
	}
	if (msg_status_of(status, &what, &set, cause) != 0)
		return ENG_NOT_FOUND;
	if (msg_strings(users, "user_ids", MSG_BULK_USERS, "user ids",
	    cause) != 0)
		return ENG_INVALID;
	if ((q = msg_bulk_query(body, cause)) == NULL)
		return ENG_INVALID;
	rc = msg_extra_parse(q, 0, &x, cause);
	json_decref(x.trigger);
	json_decref(q);
	return rc;
}

/*
 * See engine_int.h: give status to the feed messages of user on channel
 * that pass body's filters (checked by eng_feed_bulk_check).
 */
enum eng_status
eng_feed_bulk_user(struct eng *e, const char *channel, const char *status,
    json_t *body, const char *user, int64_t now, char **cause)
{
	struct store_feed_filter f;
	enum eng_status rc;
	struct msg_seqs ss;
	struct msg_extra x;
	const char *what;
	int64_t idx;
	json_t *q;
	size_t k;
	int set;

	if (msg_status_of(status, &what, &set, cause) != 0)
		return ENG_NOT_FOUND;
	if ((q = msg_bulk_query(body, cause)) == NULL)
		return ENG_INVALID;
	memset(&f, 0, sizeof f);
	if ((rc = msg_extra_parse(q, 0, &x, cause)) == ENG_OK &&
	    (rc = msg_filters(e, q, 1, &f, &idx, cause)) == ENG_OK) {
		memset(&ss, 0, sizeof ss);
		msg_walk(e, user, channel, &f, &x, 0, msg_collect, &ss);
		for (k = 0; k < ss.n && rc == ENG_OK; k++) {
			rc = msg_mark(e, ss.seq[k], what, set, NULL, NULL,
			    now);
			if (rc == ENG_NOT_FOUND)
				rc = ENG_OK;
		}
		free(ss.seq);
		if (rc != ENG_OK)
			*cause = xstrdup("the store failed");
	}
	json_decref(f.tenants);
	json_decref(x.trigger);
	json_decref(q);
	return rc;
}

/*
 * See engine.h: GET /v1/messages (rcpt NULL) and a recipient's messages
 * (GET /v1/users/{id}/messages), Knock's filters in the query.
 */
enum eng_status
eng_messages_list(struct eng *e, const char *rcpt, json_t *query,
    json_t **reply, char **cause)
{
	json_t *entries, *page;
	enum eng_status rc;

	if ((rc = msg_list(e, rcpt, json_string_value(json_object_get(query,
	    "channel_id")), query, 0, &entries, &page, cause)) != ENG_OK)
		return rc;
	*reply = json_pack("{s:o, s:o}", "items", entries, "page_info",
	    page);
	return ENG_OK;
}
