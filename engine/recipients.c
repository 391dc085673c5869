/*
 * Recipients: users, objects, tenants, subscriptions and preference sets,
 * in Knock's shapes.  Upserts deep-merge into what is stored.
 *
 * A recipient's key (the rcpt column) is the user id for a user and
 * "collection/id" for an object: ids never contain '/', so the two cannot
 * collide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/workflow/preferences.h"

#define RCPT_MAX_SUBS 100

/* Whether id is a usable Knock id: 1..256 chars, no '/' or '#'. */
int
eng_recipient_valid_id(const char *id)
{
	size_t n;

	if (id == NULL || (n = strlen(id)) == 0 || n > 256)
		return 0;
	return strpbrk(id, "/#") == NULL;
}

/* The rcpt key of a user (collection NULL) or an object. */
char *
eng_rcpt_key(const char *collection, const char *id)
{
	if (collection == NULL)
		return xstrdup(id);
	return xasprintf("%s/%s", collection, id);
}

/*
 * The rcpt key of a recipient reference (a user id, or {"id", and
 * optionally "collection"}), checked as a trigger checks it; NULL with
 * *cause when it is not one.
 */
char *
eng_rcpt_ref_key(json_t *r, char **cause)
{
	const char *id, *coll;

	if (json_is_string(r)) {
		id = json_string_value(r);
		if (!eng_recipient_valid_id(id)) {
			*cause = xasprintf("recipient \"%.64s\": an id must be "
			    "1..256 characters without '/' or '#'", id);
			return NULL;
		}
		return xstrdup(id);
	}
	if (!json_is_object(r) || (id = json_string_value(json_object_get(r,
	    "id"))) == NULL) {
		*cause = xstrdup("each recipient must be a user id or an object "
		    "with \"id\"");
		return NULL;
	}
	coll = json_string_value(json_object_get(r, "collection"));
	if ((json_object_get(r, "collection") != NULL && coll == NULL) ||
	    !eng_recipient_valid_id(id) || (coll != NULL &&
	    !eng_recipient_valid_id(coll))) {
		*cause = xstrdup("bad recipient id or collection");
		return NULL;
	}
	return eng_rcpt_key(coll, id);
}

/* A recipient reference in Knock's shape from an rcpt key. */
json_t *
eng_rcpt_ref(const char *key)
{
	const char *slash = strchr(key, '/');
	char *coll;
	json_t *o;

	if (slash == NULL)
		return json_string(key);
	coll = xstrdup(key);
	coll[slash - key] = '\0';
	o = json_pack("{s:s, s:s}", "id", slash + 1, "collection", coll);
	free(coll);
	return o;
}

/* Merge src into dst, recursing into objects present in both. */
static void
rcpt_merge(json_t *dst, json_t *src)
{
	const char *k;
	json_t *v, *d;

	json_object_foreach(src, k, v) {
		d = json_object_get(dst, k);
		if (json_is_object(d) && json_is_object(v))
			rcpt_merge(d, v);
		else
			json_object_set(dst, k, v);
	}
}

/* Add created_at/updated_at from a record's times. */
static void
rcpt_times(json_t *o, const struct store_times *t)
{
	char buf[32];

	eng_iso(t->created, buf, sizeof buf);
	json_object_set_new(o, "created_at", json_string(buf));
	eng_iso(t->updated, buf, sizeof buf);
	json_object_set_new(o, "updated_at", json_string(buf));
}

/* The stored props of a user or object (new reference) or NULL. */
static json_t *
rcpt_props(struct eng *e, const char *collection, const char *id,
    struct store_times *t)
{
	return store_recipient_get(e->store, collection, id, t);
}

/*
 * A recipient as templates and preferences see it: a user's properties
 * with its id, or an object's {id, collection, properties...}; NULL if
 * unknown.
 */
json_t *
eng_recipient_load(struct eng *e, const char *collection, const char *id)
{
	json_t *p = rcpt_props(e, collection, id, NULL);

	if (p == NULL)
		return NULL;
	json_object_set_new(p, "id", json_string(id));
	if (collection != NULL)
		json_object_set_new(p, "collection", json_string(collection));
	return p;
}

/* Check the reserved fields of a user body. */
static enum eng_status
rcpt_check_user(json_t *body, char **cause)
{
	static const char *strs[] = { "name", "email", "phone_number",
		"avatar", "locale", "timezone" };
	json_t *v;
	size_t i;

	for (i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		v = json_object_get(body, strs[i]);
		if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
			*cause = xasprintf("\"%s\" must be a string", strs[i]);
			return ENG_INVALID;
		}
	}
	v = json_object_get(body, "timezone");
	if (json_is_string(v) && !tz_zone_valid(json_string_value(v))) {
		*cause = xasprintf("\"timezone\": unknown time zone \"%.64s\"",
		    json_string_value(v));
		return ENG_INVALID;
	}
	v = json_object_get(body, "preferences");
	if (v != NULL && !json_is_object(v)) {
		*cause = xstrdup("\"preferences\" must be an object of set "
		    "id -> PreferenceSet");
		return ENG_INVALID;
	}
	return ENG_OK;
}

/* Store preference sets given inline with an identify. */
static enum eng_status
rcpt_inline_prefs(struct eng *e, const char *key, json_t *prefs, int64_t now,
    char **cause)
{
	const char *set;
	json_t *v;

	json_object_foreach(prefs, set, v) {
		if (eng_pref_check(v, cause) != 0)
			return ENG_INVALID;
		if (store_prefs_put(e->store, key, set, v, now) != 0)
			return ENG_INTERNAL;
		e->has_prefs = 1;
	}
	return ENG_OK;
}

/* Upsert (deep merge) a user or object; *out gets the stored props. */
static enum eng_status
rcpt_upsert(struct eng *e, const char *collection, const char *id,
    json_t *body, int64_t now, char **cause)
{
	json_t *props, *copy, *prefs;
	char *key;
	enum eng_status rc;
	int rezone;

	if (!eng_recipient_valid_id(id)) {
		*cause = xstrdup("\"id\" must be 1..256 characters without "
		    "'/' or '#'");
		return ENG_INVALID;
	}
	if (collection != NULL && !eng_recipient_valid_id(collection)) {
		*cause = xstrdup("\"collection\" must be 1..256 characters "
		    "without '/' or '#'");
		return ENG_INVALID;
	}
	if (!json_is_object(body)) {
		*cause = xstrdup("the body must be a JSON object");
		return ENG_INVALID;
	}
	if (collection == NULL && (rc = rcpt_check_user(body, cause)) != ENG_OK)
		return rc;
	copy = json_deep_copy(body);
	json_object_del(copy, "id");
	json_object_del(copy, "collection");
	json_object_del(copy, "__typename");
	json_object_del(copy, "created_at");
	json_object_del(copy, "updated_at");
	prefs = json_incref(json_object_get(copy, "preferences"));
	json_object_del(copy, "preferences");
	props = rcpt_props(e, collection, id, NULL);
	if (props == NULL)
		props = json_object();
	rezone = json_object_get(copy, "timezone") != NULL &&
	    !json_equal(json_object_get(copy, "timezone"),
	    json_object_get(props, "timezone"));
	rcpt_merge(props, copy);
	json_decref(copy);
	rc = store_recipient_put(e->store, collection, id, props, now) == 0 ?
	    ENG_OK : ENG_INTERNAL;
	json_decref(props);
	if (rc == ENG_OK && prefs != NULL) {
		key = eng_rcpt_key(collection, id);
		rc = rcpt_inline_prefs(e, key, prefs, now, cause);
		free(key);
	}
	json_decref(prefs);
	if (rc == ENG_OK && rezone) {
		/* Their pending schedule fires move with them, at once. */
		key = eng_rcpt_key(collection, id);
		e->hooks->rezoned(e, key, now);
		free(key);
	}
	return rc;
}

/* Identify an inline recipient ({id, collection?, ...props}). */
enum eng_status
eng_identify(struct eng *e, json_t *r, int64_t now, char **cause)
{
	return rcpt_upsert(e, json_string_value(json_object_get(r,
	    "collection")), json_string_value(json_object_get(r, "id")), r,
	    now, cause);
}

/* The reply shape of a user. */
static enum eng_status
rcpt_user_reply(struct eng *e, const char *id, json_t **reply, char **cause)
{
	struct store_times t;
	json_t *p = rcpt_props(e, NULL, id, &t);

	if (p == NULL) {
		*cause = xasprintf("user \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	json_object_set_new(p, "__typename", json_string("User"));
	json_object_set_new(p, "id", json_string(id));
	rcpt_times(p, &t);
	*reply = p;
	return ENG_OK;
}

/* PUT /v1/users/{id}. */
enum eng_status
eng_user_put(struct eng *e, const char *id, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	enum eng_status rc = rcpt_upsert(e, NULL, id, body, now, cause);

	return rc != ENG_OK ? rc : rcpt_user_reply(e, id, reply, cause);
}

/* GET /v1/users/{id}. */
enum eng_status
eng_user_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	return rcpt_user_reply(e, id, reply, cause);
}

/* DELETE /v1/users/{id}. */
enum eng_status
eng_user_delete(struct eng *e, const char *id, char **cause)
{
	int rc = store_recipient_delete(e->store, NULL, id);

	if (rc < 0)
		return ENG_INTERNAL;
	if (rc == 0) {
		*cause = xasprintf("user \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	if (store_audience_remove_user(e->store, id) != 0)
		return ENG_INTERNAL;
	return e->hooks->deleted(e, id) != 0 ? ENG_INTERNAL : ENG_OK;
}

/* The reply shape of an object. */
static enum eng_status
rcpt_object_reply(struct eng *e, const char *coll, const char *id,
    json_t **reply, char **cause)
{
	struct store_times t;
	json_t *p = rcpt_props(e, coll, id, &t), *o;

	if (p == NULL) {
		*cause = xasprintf("object %.64s/%.64s not found", coll, id);
		return ENG_NOT_FOUND;
	}
	o = json_pack("{s:s, s:s, s:s, s:o}", "__typename", "Object", "id", id,
	    "collection", coll, "properties", p);
	rcpt_times(o, &t);
	*reply = o;
	return ENG_OK;
}

/*
 * The full entity of a recipient key, as Knock embeds it: a User with its
 * properties or an Object; a bare one when nothing is stored.
 */
json_t *
eng_rcpt_entity(struct eng *e, const char *key)
{
	const char *slash = strchr(key, '/');
	json_t *o = NULL;
	char *coll, *cause = NULL;

	if (slash == NULL) {
		if (rcpt_user_reply(e, key, &o, &cause) != ENG_OK)
			o = json_pack("{s:s, s:s}", "__typename", "User", "id",
			    key);
	} else {
		coll = xstrdup(key);
		coll[slash - key] = '\0';
		if (rcpt_object_reply(e, coll, slash + 1, &o, &cause) != ENG_OK)
			o = json_pack("{s:s, s:s, s:s, s:{}}", "__typename",
			    "Object", "id", slash + 1, "collection", coll,
			    "properties");
		free(coll);
	}
	free(cause);
	return o;
}

/* PUT /v1/objects/{collection}/{id}. */
enum eng_status
eng_object_put(struct eng *e, const char *collection, const char *id,
    json_t *body, int64_t now, json_t **reply, char **cause)
{
	enum eng_status rc = rcpt_upsert(e, collection, id, body, now, cause);

	return rc != ENG_OK ? rc :
	    rcpt_object_reply(e, collection, id, reply, cause);
}

/* GET /v1/objects/{collection}/{id}. */
enum eng_status
eng_object_get(struct eng *e, const char *collection, const char *id,
    json_t **reply, char **cause)
{
	return rcpt_object_reply(e, collection, id, reply, cause);
}

/* DELETE /v1/objects/{collection}/{id}. */
enum eng_status
eng_object_delete(struct eng *e, const char *collection, const char *id,
    char **cause)
{
	char *key;
	int rc = store_recipient_delete(e->store, collection, id);

	if (rc < 0)
		return ENG_INTERNAL;
	if (rc == 0) {
		*cause = xasprintf("object %.64s/%.64s not found", collection,
		    id);
		return ENG_NOT_FOUND;
	}
	key = eng_rcpt_key(collection, id);
	rc = e->hooks->deleted(e, key);
	free(key);
	return rc != 0 ? ENG_INTERNAL : ENG_OK;
}

/* The reply shape of a tenant. */
static enum eng_status
rcpt_tenant_reply(struct eng *e, const char *id, json_t **reply, char **cause)
{
	struct store_times t;
	json_t *p = store_tenant_get(e->store, id, &t);

	if (p == NULL) {
		*cause = xasprintf("tenant \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	json_object_set_new(p, "__typename", json_string("Tenant"));
	json_object_set_new(p, "id", json_string(id));
	rcpt_times(p, &t);
	*reply = p;
	return ENG_OK;
}

/* PUT /v1/tenants/{id}. */
enum eng_status
eng_tenant_put(struct eng *e, const char *id, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	json_t *props, *copy, *ps;

	if (!eng_recipient_valid_id(id) || !json_is_object(body)) {
		*cause = xstrdup(json_is_object(body) ? "bad tenant id" :
		    "the body must be a JSON object");
		return ENG_INVALID;
	}
	ps = json_object_get(json_object_get(body, "settings"),
	    "preference_set");
	if (ps != NULL && !json_is_null(ps) && eng_pref_check(ps, cause) != 0)
		return ENG_INVALID;
	if ((props = store_tenant_get(e->store, id, NULL)) == NULL)
		props = json_object();
	copy = json_deep_copy(body);
	json_object_del(copy, "id");
	json_object_del(copy, "__typename");
	rcpt_merge(props, copy);
	json_decref(copy);
	if (store_tenant_put(e->store, id, props, now) != 0) {
		json_decref(props);
		return ENG_INTERNAL;
	}
	json_decref(props);
	return rcpt_tenant_reply(e, id, reply, cause);
}

/* GET /v1/tenants/{id}. */
enum eng_status
eng_tenant_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	return rcpt_tenant_reply(e, id, reply, cause);
}

/*
 * The rcpt key of a subscription recipient (a user id string, an {id,
 * collection} reference or an inline recipient, which is identified).
 */
static char *
rcpt_from_spec(struct eng *e, json_t *r, int64_t now, char **cause)
{
	const char *id, *coll;

	if (json_is_string(r)) {
		if (!eng_recipient_valid_id(json_string_value(r))) {
			*cause = xstrdup("a recipient id must be 1..256 "
			    "characters without '/' or '#'");
			return NULL;
		}
		return xstrdup(json_string_value(r));
	}
	if (!json_is_object(r) || (id = json_string_value(json_object_get(r,
	    "id"))) == NULL) {
		*cause = xstrdup("each recipient must be a user id or an "
		    "object with \"id\"");
		return NULL;
	}
	coll = json_string_value(json_object_get(r, "collection"));
	if (json_object_size(r) > (coll ? 2u : 1u) &&
	    eng_identify(e, r, now, cause) != ENG_OK)
		return NULL;
	if (!eng_recipient_valid_id(id) || (coll != NULL &&
	    !eng_recipient_valid_id(coll))) {
		*cause = xstrdup("bad recipient id or collection");
		return NULL;
	}
	return eng_rcpt_key(coll, id);
}

/* The Subscription shape, with the object and recipient as entities. */
static json_t *
rcpt_sub_json(struct eng *e, const char *coll, const char *id,
    const char *rcpt, json_t *props, int64_t ins, int64_t upd)
{
	char a[32], b[32], *okey = eng_rcpt_key(coll, id);
	json_t *o;

	eng_iso(ins, a, sizeof a);
	eng_iso(upd, b, sizeof b);
	o = json_pack("{s:s, s:o, s:o, s:o, s:s, s:s}", "__typename",
	    "Subscription", "object", eng_rcpt_entity(e, okey), "recipient",
	    eng_rcpt_entity(e, rcpt), "properties", props ? props :
	    json_null(), "inserted_at", a, "updated_at", b);
	free(okey);
	return o;
}

/* Check a subscriptions body's recipients list. */
static json_t *
rcpt_sub_list(json_t *body, char **cause)
{
	json_t *rs = json_object_get(body, "recipients");

	if (!json_is_array(rs) || json_array_size(rs) == 0 ||
	    json_array_size(rs) > RCPT_MAX_SUBS) {
		*cause = xasprintf("\"recipients\" must be an array of 1..%d "
		    "recipients", RCPT_MAX_SUBS);
		return NULL;
	}
	return rs;
}

/* POST /v1/objects/{c}/{id}/subscriptions: add or update. */
enum eng_status
eng_subs_add(struct eng *e, const char *collection, const char *id,
    json_t *body, int64_t now, json_t **reply, char **cause)
{
	json_t *rs, *r, *props, *out;
	char *key, *obj;
	size_t i;

	if ((rs = rcpt_sub_list(body, cause)) == NULL)
		return ENG_INVALID;
	props = json_object_get(body, "properties");
	if (props != NULL && !json_is_object(props) && !json_is_null(props)) {
		*cause = xstrdup("\"properties\" must be an object");
		return ENG_INVALID;
	}
	if ((out = rcpt_props(e, collection, id, NULL)) == NULL) {
		*cause = xasprintf("object %.64s/%.64s not found", collection,
		    id);
		return ENG_NOT_FOUND;
	}
	json_decref(out);
	out = json_array();
	json_array_foreach(rs, i, r) {
		if ((key = rcpt_from_spec(e, r, now, cause)) == NULL) {
			json_decref(out);
			return ENG_INVALID;
		}
		if (store_sub_put(e->store, collection, id, key, props,
		    now) != 0) {
			free(key);
			json_decref(out);
			return ENG_INTERNAL;
		}
		obj = eng_rcpt_key(collection, id);
		e->hooks->subscribed(e, obj, key, now);
		free(obj);
		json_array_append_new(out, rcpt_sub_json(e, collection, id,
		    key, json_incref(props), now, now));
		free(key);
	}
	*reply = out;
	return ENG_OK;
}

/* DELETE /v1/objects/{c}/{id}/subscriptions. */
enum eng_status
eng_subs_remove(struct eng *e, const char *collection, const char *id,
    json_t *body, json_t **reply, char **cause)
{
	json_t *rs, *r, *out;
	struct store_sub sub;
	char *key, *obj;
	size_t i;
	int rc;

	if ((rs = rcpt_sub_list(body, cause)) == NULL)
		return ENG_INVALID;
	out = json_array();
	json_array_foreach(rs, i, r) {
		if ((key = rcpt_from_spec(e, r, 0, cause)) == NULL) {
			json_decref(out);
			return ENG_INVALID;
		}
		if (store_sub_get(e->store, collection, id, key, &sub))
			json_array_append_new(out, rcpt_sub_json(e,
			    collection, id, key, sub.props, sub.inserted,
			    sub.updated));
		rc = store_sub_delete(e->store, collection, id, key);
		obj = eng_rcpt_key(collection, id);
		e->hooks->unsubscribed(e, obj, key);
		free(obj);
		free(key);
		if (rc != 0) {
			json_decref(out);
			return ENG_INTERNAL;
		}
	}
	*reply = out;
	return ENG_OK;
}

/* GET /v1/objects/{c}/{id}/subscriptions (query: after, page_size). */
enum eng_status
eng_subs_list(struct eng *e, const char *collection, const char *id,
    json_t *query, json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(query, "after"));
	const char *ps = json_string_value(json_object_get(query, "page_size"));
	int size = ps ? atoi(ps) : 50, n, i;
	json_t *entries = json_array();
	struct store_sub subs[50];

	(void)cause;
	if (size < 1 || size > 50)
		size = 50;
	n = (int)store_subs_page(e->store, collection, id, after ? after : "",
	    (size_t)size, subs);
	for (i = 0; i < n; i++) {
		json_array_append_new(entries, rcpt_sub_json(e, collection,
		    id, subs[i].rcpt, subs[i].props, subs[i].inserted,
		    subs[i].updated));
		subs[i].props = NULL;   /* taken by rcpt_sub_json */
	}
	*reply = json_pack("{s:o, s:{s:s, s:o, s:n, s:i}}", "entries",
	    entries, "page_info", "__typename", "PageInfo", "after",
	    n == size && n > 0 ? json_string(subs[n - 1].rcpt) : json_null(),
	    "before", "page_size", size);
	for (i = 0; i < n; i++)
		store_sub_clear(&subs[i]);
	return ENG_OK;
}

/* The PreferenceSet reply for a stored body (or the empty set). */
static json_t *
rcpt_prefs_json(const char *set, json_t *body)
{
	json_t *o = json_object();
	static const char *keys[] = { "workflows", "categories",
		"channel_types", "channels" };
	size_t i;

	json_object_set_new(o, "__typename", json_string("PreferenceSet"));
	json_object_set_new(o, "id", json_string(set));
	for (i = 0; i < 4; i++) {
		json_t *v = body ? json_object_get(body, keys[i]) : NULL;

		json_object_set(o, keys[i], v ? v : json_null());
	}
	return o;
}

/* PUT /v1/users/{id}/preferences/{set}. */
enum eng_status
eng_prefs_put(struct eng *e, const char *user, const char *set, json_t *body,
    int64_t now, json_t **reply, char **cause)
{
	json_t *copy;

	if (!eng_recipient_valid_id(user) || !eng_recipient_valid_id(set)) {
		*cause = xstrdup("bad user or preference set id");
		return ENG_INVALID;
	}
	copy = json_deep_copy(body);
	json_object_del(copy, "__typename");
	json_object_del(copy, "id");
	if (eng_pref_check(copy, cause) != 0) {
		json_decref(copy);
		return ENG_INVALID;
	}
	if (store_prefs_put(e->store, user, set, copy, now) != 0) {
		json_decref(copy);
		return ENG_INTERNAL;
	}
	e->has_prefs = 1;
	*reply = rcpt_prefs_json(set, copy);
	json_decref(copy);
	return ENG_OK;
}

/* GET /v1/users/{id}/preferences/{set}. */
enum eng_status
eng_prefs_get(struct eng *e, const char *user, const char *set,
    json_t **reply, char **cause)
{
	json_t *body = store_prefs_get(e->store, user, set);

	(void)cause;
	*reply = rcpt_prefs_json(set, body);
	json_decref(body);
	return ENG_OK;
}
