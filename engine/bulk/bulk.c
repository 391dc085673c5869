/*
 * Bulk operations: a bulk call checks its body, records a BulkOperation
 * and its input items in the request's transaction and answers it queued;
 * the items then run as due work (a wait of kind ENG_WAIT_BULK due at
 * once), ENG_BULK_CHUNK per pass, each through the same engine function
 * as the single call.  A pass deletes the items it ran and records their
 * progress in one transaction, and queues the next pass while items
 * remain, so a restart resumes after the last committed pass: no item is
 * lost, none is applied twice.  With bulk_rows_per_second, the items of
 * all operations run at most that many per second of engine time: a pass
 * that reaches the budget queues the next one a second later (on the
 * virtual clock, when the clock moves).  A failing item rolls back alone (its own
 * request) and is counted with an error item; only the first
 * ENG_BULK_ERRORS_MAX are listed.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Items per pass, per call and listed error items. */
#define ENG_BULK_CHUNK 500
#define ENG_BULK_MAX 1000
#define ENG_BULK_ERRORS_MAX 100

/* How an operation applies one item (args: the call's other members). */
typedef enum eng_status (*bulk_apply_fn)(struct eng *, const char *arg,
    json_t *args, json_t *item, int64_t now, char **cause);

/* A kind of bulk operation. */
struct bulk_kind {
	const char *name;        /* BulkOperation.name */
	const char *key;         /* the body member holding the items */
	int ids;                 /* items are id strings (else objects) */
	int need_id;             /* object items need a string "id" */
	const char *args;        /* another body member the items share */
	bulk_apply_fn apply;
};

/*
 * Drop the reply of a single call, keeping its status: st is the call's
 * result, reply the address it wrote its reply to (read only here, after
 * the call, whatever order the arguments were evaluated in).
 */
static enum eng_status
bulk_noreply(enum eng_status st, json_t **reply)
{
	json_decref(*reply);
	*reply = NULL;
	return st;
}

/* users.identify: PUT /v1/users/{id}. */
static enum eng_status
bulk_user_identify(struct eng *e, const char *arg, json_t *args,
    json_t *item, int64_t now, char **cause)
{
	json_t *reply = NULL;

	(void)arg;
	(void)args;
	return bulk_noreply(eng_user_put(e, json_string_value(json_object_get(
	    item, "id")), item, now, &reply, cause), &reply);
}

/* users.delete: DELETE /v1/users/{id}. */
static enum eng_status
bulk_user_delete(struct eng *e, const char *arg, json_t *args, json_t *item,
    int64_t now, char **cause)
{
	(void)arg;
	(void)args;
	(void)now;
	return eng_user_delete(e, json_string_value(item), cause);
}

/* users.set_preferences: PUT /v1/users/{id}/preferences/{set}. */
static enum eng_status
bulk_user_prefs(struct eng *e, const char *arg, json_t *args, json_t *item,
    int64_t now, char **cause)
{
	json_t *reply = NULL;

	return bulk_noreply(eng_prefs_put(e, json_string_value(item), arg,
	    args, now, &reply, cause), &reply);
}

/* objects.set: PUT /v1/objects/{collection}/{id}. */
static enum eng_status
bulk_object_set(struct eng *e, const char *arg, json_t *args, json_t *item,
    int64_t now, char **cause)
{
	json_t *reply = NULL;

	(void)args;
	return bulk_noreply(eng_object_put(e, arg, json_string_value(
	    json_object_get(item, "id")), item, now, &reply, cause), &reply);
}

/* objects.delete: DELETE /v1/objects/{collection}/{id}. */
static enum eng_status
bulk_object_delete(struct eng *e, const char *arg, json_t *args,
    json_t *item, int64_t now, char **cause)
{
	(void)args;
	(void)now;
	return eng_object_delete(e, arg, json_string_value(item), cause);
}

/* objects.add_subscriptions: POST .../{id}/subscriptions. */
static enum eng_status
bulk_subs_add(struct eng *e, const char *arg, json_t *args, json_t *item,
    int64_t now, char **cause)
{
	json_t *reply = NULL;

	(void)args;
	return bulk_noreply(eng_subs_add(e, arg, json_string_value(
	    json_object_get(item, "id")), item, now, &reply, cause), &reply);
}

/* objects.delete_subscriptions: DELETE .../{id}/subscriptions. */
static enum eng_status
bulk_subs_delete(struct eng *e, const char *arg, json_t *args, json_t *item,
    int64_t now, char **cause)
{
	json_t *reply = NULL;

	(void)args;
	(void)now;
	return bulk_noreply(eng_subs_remove(e, arg, json_string_value(
	    json_object_get(item, "id")), item, &reply, cause), &reply);
}

/* tenants.set: PUT /v1/tenants/{id}. */
static enum eng_status
bulk_tenant_set(struct eng *e, const char *arg, json_t *args, json_t *item,
    int64_t now, char **cause)
{
	json_t *reply = NULL;

	(void)arg;
	(void)args;
	return bulk_noreply(eng_tenant_put(e, json_string_value(
	    json_object_get(item, "id")), item, now, &reply, cause), &reply);
}

/* tenants.delete: DELETE /v1/tenants/{id}. */
static enum eng_status
bulk_tenant_delete(struct eng *e, const char *arg, json_t *args,
    json_t *item, int64_t now, char **cause)
{
	(void)arg;
	(void)args;
	(void)now;
	return eng_tenant_delete(e, json_string_value(item), cause);
}

/*
 * schedules.create: POST /v1/schedules with the item's one "recipient"
 * as its recipients.
 */
static enum eng_status
bulk_schedule_create(struct eng *e, const char *arg, json_t *args,
    json_t *item, int64_t now, char **cause)
{
	json_t *body, *reply = NULL, *rc = json_object_get(item, "recipient");
	enum eng_status st;

	(void)arg;
	(void)args;
	if (rc == NULL) {
		*cause = xstrdup("\"recipient\" is required");
		return ENG_INVALID;
	}
	body = json_deep_copy(item);
	json_object_del(body, "recipient");
	json_object_set_new(body, "recipients", json_pack("[O]", rc));
	st = eng_schedules_create(e, body, now, &reply, cause);
	json_decref(body);
	return bulk_noreply(st, &reply);
}

/*
 * channels.update_message_status: one user's messages of a feed's "mark
 * all", args its body with the status as "action".
 */
static enum eng_status
bulk_feed_user(struct eng *e, const char *arg, json_t *args, json_t *item,
    int64_t now, char **cause)
{
	return eng_feed_bulk_user(e, arg, json_string_value(json_object_get(
	    args, "action")), args, json_string_value(item), now, cause);
}

static const struct bulk_kind bulk_kinds[] = {
	{ "users.identify", "users", 0, 1, NULL, bulk_user_identify },
	{ "users.delete", "user_ids", 1, 0, NULL, bulk_user_delete },
	{ "users.set_preferences", "user_ids", 1, 0, "preferences",
	    bulk_user_prefs },
	{ "objects.set", "objects", 0, 1, NULL, bulk_object_set },
	{ "objects.delete", "object_ids", 1, 0, NULL, bulk_object_delete },
	{ "objects.add_subscriptions", "subscriptions", 0, 1, NULL,
	    bulk_subs_add },
	{ "objects.delete_subscriptions", "subscriptions", 0, 1, NULL,
	    bulk_subs_delete },
	{ "tenants.set", "tenants", 0, 1, NULL, bulk_tenant_set },
	{ "tenants.delete", "tenant_ids", 1, 0, NULL, bulk_tenant_delete },
	{ "schedules.create", "schedules", 0, 0, NULL, bulk_schedule_create },
	{ "channels.update_message_status", "user_ids", 1, 0, NULL,
	    bulk_feed_user },
};

/* The kind called name, or NULL. */
static const struct bulk_kind *
bulk_kind(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof bulk_kinds / sizeof bulk_kinds[0]; i++)
		if (strcmp(bulk_kinds[i].name, name) == 0)
			return &bulk_kinds[i];
	return NULL;
}

/* The BulkOperation shape of row b. */
static json_t *
bulk_json(struct eng *e, const struct store_bulk *b)
{
	char id[37], path[64];

	eng_id_format(e, ENG_ID_BULK, (uint64_t)b->seq, 0, id);
	snprintf(path, sizeof path, "/v1/bulk_operations/%s", id);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:O, s:o,"
	    " s:o, s:o, s:o, s:o, s:s}", "__typename", "BulkOperation", "id",
	    id, "name", b->name, "status", b->status, "estimated_total_rows",
	    (json_int_t)b->total, "processed_rows", (json_int_t)b->processed,
	    "success_count", (json_int_t)b->success, "error_count",
	    (json_int_t)b->errors, "error_items", b->error_items,
	    "inserted_at", eng_iso_json(b->inserted), "updated_at",
	    eng_iso_json(b->updated), "started_at", eng_iso_json(b->started),
	    "completed_at", eng_iso_json(b->completed), "failed_at",
	    eng_iso_json(b->failed), "progress_path", path);
}

/*
 * Whether items, body member k->key, holds 1 to ENG_BULK_MAX items of
 * kind k's type; ENG_INVALID with *cause naming the first wrong one.
 */
static enum eng_status
bulk_check(const struct bulk_kind *k, json_t *items, char **cause)
{
	json_t *it;
	size_t i;

	if (!json_is_array(items) || json_array_size(items) == 0 ||
	    json_array_size(items) > ENG_BULK_MAX) {
		*cause = xasprintf("\"%s\" must be an array of 1 to %d %s",
		    k->key, ENG_BULK_MAX, k->ids ? "ids" : "objects");
		return ENG_INVALID;
	}
	json_array_foreach(items, i, it) {
		if (k->ids ? !json_is_string(it) : !json_is_object(it)) {
			*cause = xasprintf("\"%s\"[%zu] must be %s", k->key, i,
			    k->ids ? "a string" : "an object");
			return ENG_INVALID;
		}
		if (k->need_id && !json_is_string(json_object_get(it, "id"))) {
			*cause = xasprintf("\"%s\"[%zu].id must be a string",
			    k->key, i);
			return ENG_INVALID;
		}
	}
	return ENG_OK;
}

/*
 * Record operation k on arg with args and body's items, due at once, and
 * reply it queued.
 */
static enum eng_status
bulk_record(struct eng *e, const struct bulk_kind *k, const char *arg,
    json_t *args, json_t *body, int64_t now, json_t **reply, char **cause)
{
	struct store_bulk b;
	int64_t seq;

	seq = store_bulk_add(e->store, k->name, arg, args, json_object_get(body,
	    k->key), now);
	if (seq < 0 || eng_wait(e, now, ENG_WAIT_BULK, seq, 0) != 0 ||
	    !store_bulk_get(e->store, seq, &b, NULL)) {
		*cause = xstrdup("the store failed");
		return ENG_INTERNAL;
	}
	*reply = bulk_json(e, &b);
	store_bulk_clear(&b);
	return ENG_OK;
}

/* See engine.h: start bulk operation name. */
enum eng_status
eng_bulk_start(struct eng *e, const char *name, const char *arg,
    json_t *body, int64_t now, json_t **reply, char **cause)
{
	const struct bulk_kind *k = bulk_kind(name);
	json_t *args = NULL;
	enum eng_status st;

	assert(k != NULL);
	if (!json_is_object(body)) {
		*cause = xstrdup("the body must be a JSON object");
		return ENG_INVALID;
	}
	if ((st = bulk_check(k, json_object_get(body, k->key), cause)) !=
	    ENG_OK)
		return st;
	if (k->args != NULL && !json_is_object(args = json_object_get(body,
	    k->args))) {
		*cause = xasprintf("\"%s\" must be an object", k->args);
		return ENG_INVALID;
	}
	if (k->args != NULL && arg == NULL) {
		/* A preference set names itself, "default" by default. */
		arg = json_string_value(json_object_get(args, "id"));
		if (arg == NULL)
			arg = "default";
	}
	return bulk_record(e, k, arg, args, body, now, reply, cause);
}

/* See engine.h: POST /v1/channels/{channel}/messages/bulk/{status}. */
enum eng_status
eng_feed_bulk(struct eng *e, const char *channel, const char *status,
    json_t *body, int64_t now, json_t **reply, char **cause)
{
	enum eng_status st;
	json_t *args;

	if ((st = eng_feed_bulk_check(e, channel, status, body, cause)) !=
	    ENG_OK)
		return st;
	args = json_deep_copy(body);
	json_object_set_new(args, "action", json_string(status));
	st = bulk_record(e, bulk_kind("channels.update_message_status"),
	    channel, args, body, now, reply, cause);
	json_decref(args);
	return st;
}

/* See engine.h: POST /v1/tenants/bulk/delete?tenant_ids[]=... */
enum eng_status
eng_bulk_tenants_delete(struct eng *e, json_t *query, int64_t now,
    json_t **reply, char **cause)
{
	json_t *ids = eng_query_list(query, "tenant_ids"), *body;
	enum eng_status st;

	body = json_pack("{s:O}", "tenant_ids", ids != NULL ? ids :
	    json_null());
	st = eng_bulk_start(e, "tenants.delete", NULL, body, now, reply,
	    cause);
	json_decref(body);
	return st;
}

/* See engine.h: GET /v1/bulk_operations/{id}. */
enum eng_status
eng_bulk_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	struct store_bulk b;
	uint64_t seq, zero;

	if (eng_id_parse(e, ENG_ID_BULK, id, &seq, &zero) != 0 ||
	    !store_bulk_get(e->store, (int64_t)seq, &b, NULL)) {
		*cause = xasprintf("bulk operation \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	*reply = bulk_json(e, &b);
	store_bulk_clear(&b);
	return ENG_OK;
}

/* Count a failed item of b, listing it while the list has room. */
static void
bulk_error(struct store_bulk *b, const struct bulk_kind *k, json_t *item,
    const char *cause)
{
	json_t *ei;

	b->errors++;
	if (json_array_size(b->error_items) >= ENG_BULK_ERRORS_MAX)
		return;
	ei = json_pack("{s:O, s:s}", "id", k->ids ? item :
	    json_object_get(item, "id") ? json_object_get(item, "id") :
	    json_object_get(item, "recipient") ? json_object_get(item,
	    "recipient") : json_null(), "error", cause != NULL ? cause :
	    "failed");
	if (strncmp(k->name, "objects.", 8) == 0)
		json_object_set_new(ei, "collection", json_string(b->arg));
	json_array_append_new(b->error_items, ei);
}

/* See engine_int.h: one pass of bulk operation seq. */
int
eng_bulk_chunk(struct eng *e, int64_t seq, int64_t now)
{
	json_t *items[ENG_BULK_CHUNK], *args = NULL;
	int64_t rate = e->cfg != NULL ? e->cfg->bulk_rate : 0;
	const struct bulk_kind *k;
	struct store_bulk b;
	enum eng_status st;
	size_t n, i, max;
	char *cause;
	int kept;

	if (!store_bulk_get(e->store, seq, &b, &args))
		return 0;
	if ((k = bulk_kind(b.name)) == NULL || strcmp(b.status, "completed") ==
	    0 || strcmp(b.status, "failed") == 0) {
		json_decref(args);
		store_bulk_clear(&b);
		return 0;
	}
	max = ENG_BULK_CHUNK;
	if (rate > 0) {
		if (e->bulk_sec != now) {
			e->bulk_sec = now;
			e->bulk_rows = 0;
		}
		if (e->bulk_rows >= rate) {
			eng_wait(e, now + 1, ENG_WAIT_BULK, seq, 0);
			json_decref(args);
			store_bulk_clear(&b);
			return 0;
		}
		if (rate - e->bulk_rows < (int64_t)max)
			max = (size_t)(rate - e->bulk_rows);
	}
	if (b.started == STORE_NONE)
		b.started = now;
	n = store_bulk_items(e->store, seq, max, items);
	e->bulk_rows += (int64_t)n;
	for (i = 0; i < n; i++) {
		cause = NULL;
		eng_request_begin(e);
		st = k->apply(e, b.arg, args, items[i], now, &cause);
		kept = eng_request_end(e, st == ENG_OK);
		if (st == ENG_OK && kept)
			b.success++;
		else
			bulk_error(&b, k, items[i], st == ENG_OK ?
			    "the store failed" : cause);
		free(cause);
		json_decref(items[i]);
	}
	b.processed += (int64_t)n;
	b.updated = now;
	free(b.status);
	if (n < max || b.processed >= b.total) {
		b.status = xstrdup("completed");
		b.completed = now;
	} else {
		b.status = xstrdup("processing");
		eng_wait(e, rate > 0 && e->bulk_rows >= rate ? now + 1 : now,
		    ENG_WAIT_BULK, seq, 0);
	}
	store_bulk_items_drop(e->store, seq, b.processed);
	store_bulk_put(e->store, &b);
	json_decref(args);
	store_bulk_clear(&b);
	return 0;
}
