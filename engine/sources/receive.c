/*
 * engine/sources/receive.c: a request's source events applied, and what
 * the log and the counts say of them.
 *
 * eng_source_receive applies a request's events in order, each in its own
 * savepoint inside the caller's request: an event whose request fails (no
 * recipients at the path, a bad recipient, data a workflow requires) rolls
 * back alone and is logged as failed with the reason, the others keep
 * their work.  A store failure fails the whole request, so that the
 * sender retries it.  An event whose messageId the source sent in the
 * last 24 hours is a duplicate and does nothing.  Every event is logged
 * with its outcome (store_source_event_add) and counted by source and
 * outcome; the log is kept ENG_SRC_KEEP seconds (eng_sweep).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sources/src_int.h"
#include "engine/workflow/conditions.h"

/* How long a messageId deduplicates. */
#define SRC_DEDUPE_SECONDS 86400

/* The outcomes of an event, as logged and counted. */
enum src_outcome {
	SRC_TRIGGERED, SRC_CANCELLED, SRC_IDENTIFIED, SRC_GROUPED,
	SRC_DUPLICATE, SRC_UNMAPPED, SRC_FAILED, SRC_OUTCOMES
};
static const char *const src_outcomes[SRC_OUTCOMES] = {
	"triggered", "cancelled", "identified", "grouped", "duplicate",
	"unmapped", "failed"
};

/* Apply a group request: the tenant or object, and the subscription. */
static enum eng_status
src_group(struct eng *e, const struct eng_srcdef *d, struct eng_src_req *q,
    int64_t now, char **detail, char **cause)
{
	json_t *reply = NULL, *body;
	enum eng_status rc;

	if (d->group == ENG_SRC_GROUP_TENANT) {
		rc = eng_tenant_put(e, q->id, q->body, now, &reply, cause);
		*detail = xasprintf("tenant %s", q->id);
	} else {
		rc = eng_object_put(e, d->group_collection, q->id, q->body, now,
		    &reply, cause);
		*detail = xasprintf("object %s/%s", d->group_collection, q->id);
		if (rc == ENG_OK && q->user != NULL) {
			json_decref(reply);
			reply = NULL;
			body = json_pack("{s:[s]}", "recipients", q->user);
			rc = eng_subs_add(e, d->group_collection, q->id, body,
			    now, &reply, cause);
			json_decref(body);
		}
	}
	json_decref(reply);
	return rc;
}

/*
 * Apply one mapped request q of event ev (in its own savepoint): *run
 * gets a trigger's run, *detail what was done.
 */
static enum eng_status
src_apply(struct eng *e, const struct eng_srcdef *d, struct eng_src_req *q,
    struct store_source_event *ev, int64_t now, char **detail, char **cause)
{
	static const struct eng_source origin = { "source", 0, 0 };
	json_t *reply = NULL;
	enum eng_status rc;

	switch (q->kind) {
	case ENG_SRC_DO_TRIGGER:
		rc = eng_trigger_start(e, q->workflow, q->body, now, &origin,
		    &ev->run, cause);
		if (rc == ENG_OK && store_source_run_put(e->store, ev->run,
		    ev) != 0)
			rc = ENG_INTERNAL;
		*detail = xasprintf("workflow %s", q->workflow);
		return rc;
	case ENG_SRC_DO_CANCEL:
		rc = eng_cancel(e, q->workflow, q->body, now, cause);
		*detail = xasprintf("workflow %s, cancellation key %s",
		    q->workflow, json_string_value(json_object_get(q->body,
		    "cancellation_key")));
		return rc;
	case ENG_SRC_DO_IDENTIFY:
		rc = eng_user_put(e, q->id, q->body, now, &reply, cause);
		json_decref(reply);
		*detail = xasprintf("user %s", q->id);
		return rc;
	case ENG_SRC_DO_GROUP:
		return src_group(e, d, q, now, detail, cause);
	default:
		break;
	}
	return ENG_OK;
}

/* The outcome of a request q that applied. */
static enum src_outcome
src_done(const struct eng_src_req *q)
{
	switch (q->kind) {
	case ENG_SRC_DO_TRIGGER:
		return SRC_TRIGGERED;
	case ENG_SRC_DO_CANCEL:
		return SRC_CANCELLED;
	case ENG_SRC_DO_IDENTIFY:
		return SRC_IDENTIFIED;
	default:
		return SRC_GROUPED;
	}
}

/* A string member of o, or NULL. */
static const char *
src_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * Process one event v of source d: deduplicate, map, apply, log.  Its
 * outcome, or SRC_OUTCOMES when the store failed (the request must fail).
 */
static enum src_outcome
src_event(struct eng *e, const struct eng_srcdef *d, json_t *v, int64_t now)
{
	struct store_source_event ev;
	struct eng_src_req q;
	enum src_outcome o;
	enum eng_status rc;
	char *detail = NULL, *cause = NULL;
	int64_t t;
	int kept;

	memset(&ev, 0, sizeof ev);
	ev.source = d->key;
	ev.run = STORE_NONE;
	ev.received = now;
	ev.message_id = src_str(v, "messageId");
	ev.type = src_str(v, "type");
	ev.event = src_str(v, "event");
	/* RudderStack's libraries send the client's time as originalTimestamp. */
	if ((ev.timestamp = src_str(v, "timestamp")) == NULL)
		ev.timestamp = src_str(v, "originalTimestamp");
	if (ev.timestamp != NULL && eng_time_parse(ev.timestamp, &t) != 0)
		ev.timestamp = NULL;
	memset(&q, 0, sizeof q);
	if (ev.message_id != NULL && store_source_seen(e->store, d->key,
	    ev.message_id, now - SRC_DEDUPE_SECONDS)) {
		o = SRC_DUPLICATE;
		detail = xstrdup("messageId seen in the last 24 hours");
	} else if (eng_src_map(d, v, &q) != 0 || q.kind == ENG_SRC_UNMAPPED) {
		o = q.kind == ENG_SRC_FAIL ? SRC_FAILED : SRC_UNMAPPED;
		detail = q.why;
		q.why = NULL;
	} else {
		eng_request_begin(e);
		rc = src_apply(e, d, &q, &ev, now, &detail, &cause);
		kept = eng_request_end(e, rc == ENG_OK);
		if (rc == ENG_INTERNAL || (rc == ENG_OK && !kept)) {
			eng_src_req_clear(&q);
			free(detail);
			free(cause);
			return SRC_OUTCOMES;
		}
		o = src_done(&q);
		if (rc != ENG_OK) {
			/* Rolled back: the reason instead of what it did. */
			o = SRC_FAILED;
			free(detail);
			detail = cause;
			cause = NULL;
			ev.run = STORE_NONE;
		}
	}
	eng_src_req_clear(&q);
	ev.outcome = src_outcomes[o];
	ev.detail = detail;
	rc = store_source_event_add(e->store, &ev) == 0 ? ENG_OK :
	    ENG_INTERNAL;
	free(detail);
	free(cause);
	return rc == ENG_OK ? o : SRC_OUTCOMES;
}

/*
 * The events of a request to source d's endpoint call: a batch's "batch"
 * array, whose "context" fills in what each event's lacks, or the body as
 * one event of type call.  A new array, or NULL with *cause.
 */
static json_t *
src_events(const char *call, json_t *body, char **cause)
{
	json_t *list, *bctx, *ctx, *v, *x;
	const char *k;
	size_t i;

	if (strcmp(call, "batch") != 0) {
		v = json_deep_copy(body);
		json_object_set_new(v, "type", json_string(call));
		return json_pack("[o]", v);
	}
	list = json_object_get(body, "batch");
	if (!json_is_array(list)) {
		*cause = xstrdup("\"batch\" must be an array of events");
		return NULL;
	}
	bctx = json_object_get(body, "context");
	if (!json_is_object(bctx) || json_object_size(bctx) == 0)
		return json_incref(list);
	list = json_deep_copy(list);
	json_array_foreach(list, i, v) {
		if (!json_is_object(v))
			continue;
		if (!json_is_object(ctx = json_object_get(v, "context"))) {
			json_object_set(v, "context", bctx);
			continue;
		}
		json_object_foreach(bctx, k, x) {
			if (json_object_get(ctx, k) == NULL)
				json_object_set(ctx, k, x);
		}
	}
	return list;
}

/* POST /sources/{key}/v1/{call}: process the request's events. */
enum eng_status
eng_source_receive(struct eng *e, const char *key, const char *call,
    json_t *body, int64_t now, json_t **reply, char **cause)
{
	const struct eng_srcdef *d = eng_srcdef_find(e->cfg, key);
	int64_t counts[SRC_OUTCOMES] = { 0 };
	enum src_outcome o;
	json_t *list, *v;
	size_t i;

	if (d == NULL) {
		*cause = xasprintf("no source \"%.128s\"", key);
		return ENG_NOT_FOUND;
	}
	if ((list = src_events(call, body, cause)) == NULL)
		return ENG_INVALID;
	json_array_foreach(list, i, v) {
		if ((o = src_event(e, d, v, now)) == SRC_OUTCOMES) {
			json_decref(list);
			*cause = xstrdup("store failure");
			return ENG_INTERNAL;
		}
		counts[o]++;
	}
	json_decref(list);
	for (i = 0; i < SRC_OUTCOMES; i++)
		if (counts[i] > 0 && store_source_count_add(e->store, d->key,
		    src_outcomes[i], counts[i]) != 0) {
			*cause = xstrdup("store failure");
			return ENG_INTERNAL;
		}
	*reply = json_pack("{s:b}", "success", 1);
	return ENG_OK;
}

/* Whether write key wk is one of source key's (constant time per key). */
int
eng_source_authorized(const struct eng_config *c, const char *key,
    const char *wk)
{
	const struct eng_srcdef *d = eng_srcdef_find(c, key);
	size_t i, j, lw = strlen(wk), lk;
	unsigned char diff;
	int ok = 0;

	for (i = 0; d != NULL && i < d->n_write_keys; i++) {
		lk = strlen(d->write_keys[i]);
		diff = (unsigned char)(lk != lw);
		for (j = 0; j < lw; j++)
			diff |= (unsigned char)wk[j] ^
			    (unsigned char)d->write_keys[i][j % lk];
		ok |= diff == 0;
	}
	return ok;
}

/* The SourceEvent shape of a logged event. */
static json_t *
src_event_json(struct eng *e, const char *source,
    const struct store_source_event *ev)
{
	char id[37], run[37], at[32];

	eng_id_format(e, ENG_ID_SRCEVT, (uint64_t)ev->key, 0, id);
	eng_iso(ev->received, at, sizeof at);
	if (ev->run != STORE_NONE)
		eng_id_format(e, ENG_ID_RUN, (uint64_t)ev->run, 0, run);
	return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s?, s:s?,"
	    " s:s?, s:s}", "__typename", "SourceEvent", "id", id, "source",
	    source, "type", ev->type, "event", ev->event, "message_id",
	    ev->message_id, "outcome", ev->outcome, "workflow_run_id",
	    ev->run != STORE_NONE ? run : NULL, "detail", ev->detail,
	    "timestamp", ev->timestamp, "received_at", at);
}

/*
 * GET /v1/sources/{key}/events (query: after or before, page_size,
 * outcome).
 */
enum eng_status
eng_source_events(struct eng *e, const char *key, json_t *q, json_t **reply,
    char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *before = json_string_value(json_object_get(q, "before"));
	const char *outcome = json_string_value(json_object_get(q, "outcome"));
	struct store_source_event evs[51];
	uint64_t cur = INT64_MAX, b;
	json_t *items;
	char first[37], last[37];
	size_t n, i, k;
	int size, more;

	if (eng_srcdef_find(e->cfg, key) == NULL) {
		*cause = xasprintf("no source \"%.128s\"", key);
		return ENG_NOT_FOUND;
	}
	if (eng_query_page_size(q, 50, 50, &size, cause) != 0)
		return ENG_INVALID;
	if (after != NULL && before != NULL) {
		*cause = xstrdup("give \"after\" or \"before\", not both");
		return ENG_INVALID;
	}
	if ((after != NULL || before != NULL) && eng_id_parse(e,
	    ENG_ID_SRCEVT, after ? after : before, &cur, &b) != 0) {
		*cause = xstrdup(after ? "bad \"after\" cursor" :
		    "bad \"before\" cursor");
		return ENG_INVALID;
	}
	for (i = 0; outcome != NULL && i < SRC_OUTCOMES &&
	    strcmp(outcome, src_outcomes[i]) != 0; i++)
		;
	if (i == SRC_OUTCOMES) {
		*cause = xasprintf("\"outcome\" must be one of triggered, "
		    "cancelled, identified, grouped, duplicate, unmapped, "
		    "failed");
		return ENG_INVALID;
	}
	/* One more than a page says whether there is more beyond it. */
	n = store_source_events_page(e->store, key, (int64_t)cur,
	    before != NULL, outcome, (size_t)size + 1, evs);
	if ((more = n > (size_t)size)) {
		n = (size_t)size;
		store_source_event_clear(&evs[before != NULL ? 0 : n]);
	}
	items = json_array();
	for (i = 0; i < n; i++) {
		k = before != NULL && more ? i + 1 : i;
		json_array_append_new(items, src_event_json(e, key, &evs[k]));
		eng_id_format(e, ENG_ID_SRCEVT, (uint64_t)evs[k].key, 0, last);
		if (i == 0)
			memcpy(first, last, sizeof first);
		store_source_event_clear(&evs[k]);
	}
	*reply = json_pack("{s:o, s:o}", "items", items, "page_info",
	    eng_page_info(n > 0 ? first : NULL, n > 0 ? last : NULL,
	    after != NULL, before != NULL, more, size));
	return ENG_OK;
}

/* Add count n of outcome to the source's entry of out ({key: {...}}). */
static void
src_count_cb(void *arg, const char *source, const char *outcome, int64_t n)
{
	json_t *out = arg, *s = json_object_get(out, source);

	if (s != NULL)
		json_object_set_new(json_object_get(s, "counts"), outcome,
		    json_integer(n));
}

/* GET /v1/sources: the sources in force with their counts by outcome. */
enum eng_status
eng_sources_list(struct eng *e, json_t **reply, char **cause)
{
	json_t *by = json_object(), *items = json_array(), *o, *counts;
	const struct eng_srcdef *d;
	static const char *const groups[] = { NULL, "tenant", "object" };
	size_t i, k;

	(void)cause;
	for (i = 0; e->cfg != NULL && i < e->cfg->n_sources; i++) {
		d = &e->cfg->sources[i];
		counts = json_object();
		for (k = 0; k < SRC_OUTCOMES; k++)
			json_object_set_new(counts, src_outcomes[k],
			    json_integer(0));
		o = json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s?, s:I, s:o}",
		    "__typename", "Source", "key", d->key, "type", d->type,
		    "identify", d->identify, "group", groups[d->group],
		    "group_collection", d->group_collection, "events",
		    (json_int_t)d->nmaps, "counts", counts);
		json_array_append_new(items, o);
		json_object_set(by, d->key, o);
	}
	store_source_counts(e->store, src_count_cb, by);
	json_decref(by);
	*reply = json_pack("{s:o}", "items", items);
	return ENG_OK;
}

/* Call f for every stored count (see engine.h). */
void
eng_source_counts(struct eng *e,
    void (*f)(void *, const char *, const char *, int64_t), void *arg)
{
	store_source_counts(e->store, f, arg);
}
