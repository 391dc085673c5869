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
	return ENG_OK;
}

/* The PreferenceSet reply for a stored body (or the empty set). */
static json_t *
rcpt_prefs_json(const char *set, json_t *body)
{
	json_t *o = json_object();
	static const char *keys[] = { "workflows", "categories",
		"channel_types", "channels", "commercial_subscribed" };
	size_t i;

	json_object_set_new(o, "__typename", json_string("PreferenceSet"));
	json_object_set_new(o, "id", json_string(set));
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_t *v = body ? json_object_get(body, keys[i]) : NULL;

		json_object_set(o, keys[i], v ? v : json_null());
	}
	return o;
}

/*
 * Store preference set `set` of recipient key from body, replacing the
 * stored one or, with "__persistence_strategy__": "merge", merged into
 * it; *reply (unless reply is NULL) gets the stored PreferenceSet.
 */
static enum eng_status
rcpt_prefs_store(struct eng *e, const char *key, const char *set,
    json_t *body, int64_t now, json_t **reply, char **cause)
{
	const char *strategy;
	json_t *copy, *old;

	if (!eng_recipient_valid_id(set)) {
		*cause = xstrdup("a preference set id must be 1..256 "
		    "characters without '/' or '#'");
		return ENG_INVALID;
	}
	copy = json_deep_copy(body);
	json_object_del(copy, "__typename");
	json_object_del(copy, "id");
	if (eng_pref_check(copy, cause) != 0) {
		json_decref(copy);
		return ENG_INVALID;
	}
	strategy = json_string_value(json_object_get(copy,
	    "__persistence_strategy__"));
	if (strategy != NULL && strcmp(strategy, "merge") == 0 &&
	    (old = store_prefs_get(e->store, key, set)) != NULL) {
		json_object_del(copy, "__persistence_strategy__");
		rcpt_merge(old, copy);
		json_decref(copy);
		copy = old;
	}
	json_object_del(copy, "__persistence_strategy__");
	if (store_prefs_put(e->store, key, set, copy, now) != 0) {
		json_decref(copy);
		return ENG_INTERNAL;
	}
	e->has_prefs = 1;
	if (reply != NULL)
		*reply = rcpt_prefs_json(set, copy);
	json_decref(copy);
	return ENG_OK;
}

/*
 * The data of a channel data request {"data": {...}} on channel, checked:
 * the channel must be configured (borrowed; NULL with *cause).
 */
static json_t *
rcpt_cd_check(struct eng *e, const char *channel, json_t *body,
    enum eng_status *rc, char **cause)
{
	json_t *data = json_object_get(body, "data");
	size_t i, n = eng_config_channel_count(e->cfg);

	for (i = 0; i < n; i++)
		if (strcmp(eng_config_channel(e->cfg, i)->name, channel) == 0)
			break;
	if (i == n) {
		*cause = xasprintf("no channel \"%.64s\" in belfry.conf",
		    channel);
		*rc = ENG_NOT_FOUND;
		return NULL;
	}
	if (!json_is_object(data)) {
		*cause = xasprintf("channel data for \"%.64s\": \"data\" must "
		    "be an object", channel);
		*rc = ENG_INVALID;
		return NULL;
	}
	return data;
}

/*
 * Check the inline "channel_data" (channel -> {"data"}) and
 * "preferences" (set id -> PreferenceSet) of an identify before anything
 * is stored.
 */
static enum eng_status
rcpt_inline_check(struct eng *e, json_t *cdata, json_t *prefs, char **cause)
{
	enum eng_status rc = ENG_INVALID;
	const char *k;
	json_t *v;

	if (cdata != NULL && !json_is_null(cdata) && !json_is_object(cdata)) {
		*cause = xstrdup("\"channel_data\" must be an object of "
		    "channel -> {\"data\": ...}");
		return ENG_INVALID;
	}
	json_object_foreach(cdata, k, v)
		if (rcpt_cd_check(e, k, v, &rc, cause) == NULL)
			return ENG_INVALID;
	if (prefs != NULL && !json_is_null(prefs) && !json_is_object(prefs)) {
		*cause = xstrdup("\"preferences\" must be an object of set "
		    "id -> PreferenceSet");
		return ENG_INVALID;
	}
	json_object_foreach(prefs, k, v)
		if (eng_pref_check(v, cause) != 0)
			return ENG_INVALID;
	return ENG_OK;
}

/* Store the checked inline channel data and preference sets of key. */
static enum eng_status
rcpt_inline_apply(struct eng *e, const char *key, json_t *cdata,
    json_t *prefs, int64_t now, char **cause)
{
	enum eng_status rc = ENG_OK;
	const char *k;
	json_t *v;

	json_object_foreach(cdata, k, v)
		if (store_channel_data_put(e->store, key, k, json_object_get(v,
		    "data"), now) != 0)
			return ENG_INTERNAL;
	json_object_foreach(prefs, k, v)
		if ((rc = rcpt_prefs_store(e, key, k, v, now, NULL,
		    cause)) != ENG_OK)
			return rc;
	return rc;
}

/*
 * Take an identify's "created_at" (an RFC 3339 time, or null) into *at
 * (-1 when there is none); 0, or -1 with *cause.
 */
static int
rcpt_created_at(json_t *body, int64_t *at, char **cause)
{
	json_t *v = json_object_get(body, "created_at");

	*at = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || tz_rfc3339_parse(json_string_value(v),
	    at) != 0) {
		*cause = xstrdup("\"created_at\" must be an RFC 3339 "
		    "date-time");
		return -1;
	}
	return 0;
}

/*
 * Split an identify's body into the properties to merge (a new copy,
 * *cdata and *prefs taken out of it as new references or NULL), checking
 * created_at (*at), channel data and preferences.
 */
static json_t *
rcpt_split(struct eng *e, json_t *body, json_t **cdata, json_t **prefs,
    int64_t *at, enum eng_status *rc, char **cause)
{
	json_t *copy;

	*rc = ENG_INVALID;
	if (rcpt_created_at(body, at, cause) != 0 || (*rc =
	    rcpt_inline_check(e, json_object_get(body, "channel_data"),
	    json_object_get(body, "preferences"), cause)) != ENG_OK)
		return NULL;
	copy = json_deep_copy(body);
	json_object_del(copy, "id");
	json_object_del(copy, "collection");
	json_object_del(copy, "__typename");
	json_object_del(copy, "created_at");
	json_object_del(copy, "updated_at");
	*cdata = json_incref(json_object_get(copy, "channel_data"));
	json_object_del(copy, "channel_data");
	*prefs = json_incref(json_object_get(copy, "preferences"));
	json_object_del(copy, "preferences");
	return copy;
}

/* Upsert (deep merge) a user or object with its inline data. */
static enum eng_status
rcpt_upsert(struct eng *e, const char *collection, const char *id,
    json_t *body, int64_t now, char **cause)
{
	json_t *props, *copy, *prefs, *cdata;
	char *key;
	enum eng_status rc;
	int64_t at;
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
	if ((copy = rcpt_split(e, body, &cdata, &prefs, &at, &rc,
	    cause)) == NULL)
		return rc;
	props = rcpt_props(e, collection, id, NULL);
	if (props == NULL)
		props = json_object();
	rezone = json_object_get(copy, "timezone") != NULL &&
	    !json_equal(json_object_get(copy, "timezone"),
	    json_object_get(props, "timezone"));
	rcpt_merge(props, copy);
	json_decref(copy);
	rc = store_recipient_put(e->store, collection, id, props, now) == 0 &&
	    (at < 0 || store_recipient_created(e->store, collection ?
	    STORE_RCPT_OBJECTS : STORE_RCPT_USERS, collection, id, at) == 0) ?
	    ENG_OK : ENG_INTERNAL;
	json_decref(props);
	key = eng_rcpt_key(collection, id);
	if (rc == ENG_OK)
		rc = rcpt_inline_apply(e, key, cdata, prefs, now, cause);
	json_decref(prefs);
	json_decref(cdata);
	/* Their pending schedule fires move with them, at once. */
	if (rc == ENG_OK && rezone)
		e->hooks->rezoned(e, key, now);
	free(key);
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
	json_t *props, *copy, *ps, *cdata, *prefs;
	enum eng_status rc;
	int64_t at;
	char *key;

	if (!eng_recipient_valid_id(id) || !json_is_object(body)) {
		*cause = xstrdup(json_is_object(body) ? "bad tenant id" :
		    "the body must be a JSON object");
		return ENG_INVALID;
	}
	ps = json_object_get(json_object_get(body, "settings"),
	    "preference_set");
	if (ps != NULL && !json_is_null(ps) && eng_pref_check(ps, cause) != 0)
		return ENG_INVALID;
	if ((copy = rcpt_split(e, body, &cdata, &prefs, &at, &rc,
	    cause)) == NULL)
		return rc;
	if ((props = store_tenant_get(e->store, id, NULL)) == NULL)
		props = json_object();
	rcpt_merge(props, copy);
	json_decref(copy);
	rc = store_tenant_put(e->store, id, props, now) == 0 && (at < 0 ||
	    store_recipient_created(e->store, STORE_RCPT_TENANTS, NULL, id,
	    at) == 0) ? ENG_OK : ENG_INTERNAL;
	json_decref(props);
	/* A tenant's channel data and sets are kept as Knock's: $tenants/id. */
	key = eng_rcpt_key("$tenants", id);
	if (rc == ENG_OK)
		rc = rcpt_inline_apply(e, key, cdata, prefs, now, cause);
	free(key);
	json_decref(cdata);
	json_decref(prefs);
	return rc != ENG_OK ? rc : rcpt_tenant_reply(e, id, reply, cause);
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

/* PUT /v1/users/{id}/preferences/{set}. */
enum eng_status
eng_prefs_put(struct eng *e, const char *user, const char *set, json_t *body,
    int64_t now, json_t **reply, char **cause)
{
	if (!eng_recipient_valid_id(user)) {
		*cause = xstrdup("bad user id");
		return ENG_INVALID;
	}
	return rcpt_prefs_store(e, user, set, body, now, reply, cause);
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

/* A listed recipient's reply shape, by kind (takes row's props). */
static json_t *
rcpt_row_json(enum store_rcpt_kind kind, const char *coll,
    struct store_rcpt_row *row)
{
	static const char *const types[] = { "User", "Object", "Tenant" };
	json_t *o;

	if (kind == STORE_RCPT_OBJECTS) {
		o = json_pack("{s:s, s:s, s:s, s:o}", "__typename", "Object",
		    "id", row->id, "collection", coll, "properties",
		    row->props);
	} else {
		o = row->props;
		json_object_set_new(o, "__typename", json_string(types[kind]));
		json_object_set_new(o, "id", json_string(row->id));
	}
	row->props = NULL;
	rcpt_times(o, &row->t);
	return o;
}

/* Whether query q's include[] names preferences. */
static int
rcpt_include_prefs(json_t *q)
{
	json_t *inc = eng_query_list(q, "include"), *v;
	size_t i;

	json_array_foreach(inc, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    "preferences") == 0)
			return 1;
	return 0;
}

/* Add "preferences" (set id -> PreferenceSet) of key to entity o. */
static void
rcpt_add_prefs(struct eng *e, json_t *o, const char *key)
{
	json_t *sets = store_prefs_list(e->store, key), *out = json_object();
	const char *set;
	json_t *v;

	json_object_foreach(sets, set, v)
		json_object_set_new(out, set, rcpt_prefs_json(set, v));
	json_decref(sets);
	json_object_set_new(o, "preferences", out);
}

/*
 * A page of f's recipients in Knock's list shape (entries, page_info)
 * from query q's after, before and page_size.
 */
static enum eng_status
rcpt_list(struct eng *e, struct store_rcpt_filter *f, json_t *q,
    json_t **reply, char **cause)
{
	struct store_rcpt_row rows[51];
	json_t *entries = json_array(), *o;
	int size, more, i, first;
	size_t n;
	char *key;

	if (eng_query_page_size(q, 50, 50, &size, cause) != 0) {
		json_decref(entries);
		return ENG_INVALID;
	}
	f->after = json_string_value(json_object_get(q, "after"));
	f->before = json_string_value(json_object_get(q, "before"));
	if (f->after != NULL && f->before != NULL) {
		*cause = xstrdup("\"before\" and \"after\" cannot both be "
		    "given");
		json_decref(entries);
		return ENG_INVALID;
	}
	n = store_recipients_page(e->store, f, (size_t)size + 1, rows);
	more = n > (size_t)size;
	/* The extra row is beyond the page: the last, or going back the first. */
	first = more && f->before != NULL ? 1 : 0;
	for (i = first; i < (int)n - (more && f->before == NULL); i++) {
		key = f->kind == STORE_RCPT_TENANTS ? eng_rcpt_key("$tenants",
		    rows[i].id) : eng_rcpt_key(f->collection, rows[i].id);
		o = rcpt_row_json(f->kind, f->collection, &rows[i]);
		if (rcpt_include_prefs(q))
			rcpt_add_prefs(e, o, key);
		free(key);
		json_array_append_new(entries, o);
	}
	o = json_pack("{s:s, s:n, s:n, s:i}", "__typename", "PageInfo",
	    "after", "before", "page_size", size);
	if (json_array_size(entries) > 0) {
		if (f->before != NULL || more)
			json_object_set(o, "after", json_object_get(
			    json_array_get(entries, json_array_size(entries) -
			    1), "id"));
		if (f->after != NULL || (f->before != NULL && more))
			json_object_set(o, "before", json_object_get(
			    json_array_get(entries, 0), "id"));
	}
	for (i = 0; i < (int)n; i++)
		store_rcpt_row_clear(&rows[i]);
	*reply = json_pack("{s:o, s:o}", "entries", entries, "page_info", o);
	return ENG_OK;
}

/* GET /v1/users. */
enum eng_status
eng_users_list(struct eng *e, json_t *query, json_t **reply, char **cause)
{
	struct store_rcpt_filter f = { .kind = STORE_RCPT_USERS };

	return rcpt_list(e, &f, query, reply, cause);
}

/* GET /v1/objects/{collection}. */
enum eng_status
eng_objects_list(struct eng *e, const char *collection, json_t *query,
    json_t **reply, char **cause)
{
	struct store_rcpt_filter f = { .kind = STORE_RCPT_OBJECTS };

	f.collection = collection;
	return rcpt_list(e, &f, query, reply, cause);
}

/* GET /v1/tenants (query: tenant_id, name, paging). */
enum eng_status
eng_tenants_list(struct eng *e, json_t *query, json_t **reply, char **cause)
{
	struct store_rcpt_filter f = { .kind = STORE_RCPT_TENANTS };

	f.id = json_string_value(json_object_get(query, "tenant_id"));
	f.name = json_string_value(json_object_get(query, "name"));
	return rcpt_list(e, &f, query, reply, cause);
}

/* DELETE /v1/tenants/{id}. */
enum eng_status
eng_tenant_delete(struct eng *e, const char *id, char **cause)
{
	int rc = store_tenant_delete(e->store, id);

	if (rc < 0)
		return ENG_INTERNAL;
	if (rc == 0) {
		*cause = xasprintf("tenant \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	return ENG_OK;
}

/*
 * The rcpt key of user id (collection NULL) or object collection/id that
 * must exist; NULL with *rc and *cause otherwise.
 */
static char *
rcpt_existing(struct eng *e, const char *collection, const char *id,
    enum eng_status *rc, char **cause)
{
	json_t *p = rcpt_props(e, collection, id, NULL);

	if (p == NULL) {
		*cause = collection == NULL ? xasprintf("user \"%.64s\" not "
		    "found", id) : xasprintf("object %.64s/%.64s not found",
		    collection, id);
		*rc = ENG_NOT_FOUND;
		return NULL;
	}
	json_decref(p);
	return eng_rcpt_key(collection, id);
}

/* The ChannelData shape. */
static json_t *
rcpt_cd_json(const char *channel, json_t *data)
{
	return json_pack("{s:s, s:s, s:O}", "__typename", "ChannelData",
	    "channel_id", channel, "data", data);
}

/* GET .../channel_data/{channel} of a user (collection NULL) or object. */
enum eng_status
eng_channel_data_get(struct eng *e, const char *collection, const char *id,
    const char *channel, json_t **reply, char **cause)
{
	enum eng_status rc = ENG_OK;
	char *key = rcpt_existing(e, collection, id, &rc, cause);
	int64_t upd;
	json_t *data;

	if (key == NULL)
		return rc;
	data = store_channel_data_get(e->store, key, channel, &upd);
	free(key);
	if (data == NULL) {
		*cause = xasprintf("no channel data for channel \"%.64s\"",
		    channel);
		return ENG_NOT_FOUND;
	}
	*reply = rcpt_cd_json(channel, data);
	json_decref(data);
	return ENG_OK;
}

/* PUT .../channel_data/{channel} ({"data": {...}}). */
enum eng_status
eng_channel_data_put(struct eng *e, const char *collection, const char *id,
    const char *channel, json_t *body, int64_t now, json_t **reply,
    char **cause)
{
	enum eng_status rc = ENG_OK;
	char *key = rcpt_existing(e, collection, id, &rc, cause);
	json_t *data;

	if (key == NULL)
		return rc;
	if ((data = rcpt_cd_check(e, channel, body, &rc, cause)) == NULL) {
		free(key);
		return rc;
	}
	rc = store_channel_data_put(e->store, key, channel, data, now) == 0 ?
	    ENG_OK : ENG_INTERNAL;
	free(key);
	if (rc == ENG_OK)
		*reply = rcpt_cd_json(channel, data);
	return rc;
}

/* DELETE .../channel_data/{channel}: 204. */
enum eng_status
eng_channel_data_delete(struct eng *e, const char *collection,
    const char *id, const char *channel, char **cause)
{
	enum eng_status rc = ENG_OK;
	char *key = rcpt_existing(e, collection, id, &rc, cause);
	int n;

	if (key == NULL)
		return rc;
	n = store_channel_data_delete(e->store, key, channel);
	free(key);
	if (n < 0)
		return ENG_INTERNAL;
	if (n == 0) {
		*cause = xasprintf("no channel data for channel \"%.64s\"",
		    channel);
		return ENG_NOT_FOUND;
	}
	return ENG_OK;
}

/* GET .../preferences: every set of the recipient, an array. */
enum eng_status
eng_prefs_list(struct eng *e, const char *collection, const char *id,
    json_t **reply, char **cause)
{
	enum eng_status rc = ENG_OK;
	char *key = rcpt_existing(e, collection, id, &rc, cause);
	json_t *sets, *v, *out;
	const char *set;

	if (key == NULL)
		return rc;
	sets = store_prefs_list(e->store, key);
	free(key);
	out = json_array();
	json_object_foreach(sets, set, v)
		json_array_append_new(out, rcpt_prefs_json(set, v));
	json_decref(sets);
	*reply = out;
	return ENG_OK;
}

/* DELETE .../preferences/{set}: 204. */
enum eng_status
eng_prefs_delete(struct eng *e, const char *collection, const char *id,
    const char *set, char **cause)
{
	enum eng_status rc = ENG_OK;
	char *key = rcpt_existing(e, collection, id, &rc, cause);
	int n;

	if (key == NULL)
		return rc;
	n = store_prefs_delete(e->store, key, set);
	free(key);
	if (n < 0)
		return ENG_INTERNAL;
	if (n == 0) {
		*cause = xasprintf("no preference set \"%.64s\"", set);
		return ENG_NOT_FOUND;
	}
	return ENG_OK;
}

/* GET/PUT an object's preference set. */
enum eng_status
eng_object_prefs(struct eng *e, const char *collection, const char *id,
    const char *set, json_t *body, int64_t now, json_t **reply, char **cause)
{
	enum eng_status rc = ENG_OK;
	char *key = rcpt_existing(e, collection, id, &rc, cause);
	json_t *stored;

	if (key == NULL)
		return rc;
	if (body != NULL) {
		rc = rcpt_prefs_store(e, key, set, body, now, reply, cause);
	} else {
		stored = store_prefs_get(e->store, key, set);
		*reply = rcpt_prefs_json(set, stored);
		json_decref(stored);
	}
	free(key);
	return rc;
}

/*
 * PUT .../preferences/{set}/{section}[/{key}] of a user (collection
 * NULL; created when new) or an existing object: with a key, one setting
 * ({"subscribed": bool} or a setting object) of section (categories,
 * channel_types, workflows) merged into the stored set; with none, the
 * whole section replaced by the body.
 */
enum eng_status
eng_prefs_put_key(struct eng *e, const char *collection, const char *id,
    const char *set, const char *section, const char *key, json_t *body,
    int64_t now, json_t **reply, char **cause)
{
	json_t *stored, *sec, *v = json_object_get(body, "subscribed");
	enum eng_status rc = ENG_OK;
	char *rk;

	if (collection == NULL && !eng_recipient_valid_id(id)) {
		*cause = xstrdup("bad user id");
		return ENG_INVALID;
	}
	rk = collection == NULL ? xstrdup(id) : rcpt_existing(e, collection,
	    id, &rc, cause);
	if (rk == NULL)
		return rc;
	if ((stored = store_prefs_get(e->store, rk, set)) == NULL)
		stored = json_object();
	if (key == NULL) {
		json_object_set(stored, section, body);
	} else {
		if (!json_is_object(sec = json_object_get(stored, section))) {
			sec = json_object();
			json_object_set_new(stored, section, sec);
		}
		json_object_set(sec, key, json_is_boolean(v) &&
		    json_object_size(body) == 1 ? v : body);
	}
	rc = rcpt_prefs_store(e, rk, set, stored, now, reply, cause);
	json_decref(stored);
	free(rk);
	return rc;
}

/*
 * Subscriptions of recipient key to objects (Knock's mode=recipient and a
 * user's list): those to the objects[] of q, or a page after q's after.
 */
static enum eng_status
rcpt_subs_of(struct eng *e, const char *key, json_t *q, json_t **reply,
    char **cause)
{
	json_t *objs = eng_query_list(q, "objects"), *entries = json_array(),
	    *r, *o;
	const char *after = json_string_value(json_object_get(q, "after"));
	struct store_sub subs[51];
	char *okey, *slash;
	int size, inc = rcpt_include_prefs(q);
	size_t i, n = 0;

	if (eng_query_page_size(q, 50, 50, &size, cause) != 0) {
		json_decref(entries);
		return ENG_INVALID;
	}
	if (objs != NULL) {
		json_array_foreach(objs, i, r) {
			if ((okey = eng_rcpt_ref_key(r, cause)) == NULL ||
			    strchr(okey, '/') == NULL) {
				free(okey);
				if (*cause == NULL)
					*cause = xstrdup("\"objects\" must be "
					    "{id, collection} references");
				json_decref(entries);
				return ENG_INVALID;
			}
			slash = strchr(okey, '/');
			*slash = '\0';
			if (n < 50 && store_sub_get(e->store, okey, slash + 1,
			    key, &subs[n])) {
				*slash = '/';
				subs[n++].rcpt = okey;
			} else
				free(okey);
		}
	} else
		n = store_subs_of(e->store, key, after ? after : "",
		    (size_t)size + 1, subs);
	for (i = 0; i < n && i < (size_t)size; i++) {
		slash = strchr(subs[i].rcpt, '/');
		*slash = '\0';
		o = rcpt_sub_json(e, subs[i].rcpt, slash + 1, key,
		    subs[i].props, subs[i].inserted, subs[i].updated);
		subs[i].props = NULL;   /* taken by rcpt_sub_json */
		*slash = '/';
		if (inc)
			rcpt_add_prefs(e, json_object_get(o, "recipient"), key);
		json_array_append_new(entries, o);
	}
	*reply = json_pack("{s:o, s:{s:s, s:o, s:n, s:i}}", "entries",
	    entries, "page_info", "__typename", "PageInfo", "after",
	    n > (size_t)size ? json_string(subs[size - 1].rcpt) : json_null(),
	    "before", "page_size", size);
	for (i = 0; i < n; i++)
		store_sub_clear(&subs[i]);
	return ENG_OK;
}

/* GET /v1/users/{id}/subscriptions. */
enum eng_status
eng_user_subs(struct eng *e, const char *id, json_t *query, json_t **reply,
    char **cause)
{
	enum eng_status rc = ENG_OK;
	char *key = rcpt_existing(e, NULL, id, &rc, cause);

	if (key == NULL)
		return rc;
	rc = rcpt_subs_of(e, key, query, reply, cause);
	free(key);
	return rc;
}

/* GET /v1/objects/{collection}/{id}/messages: as a user's. */
enum eng_status
eng_object_messages(struct eng *e, const char *collection, const char *id,
    json_t *query, json_t **reply, char **cause)
{
	char *key = eng_rcpt_key(collection, id);
	enum eng_status rc = eng_messages_list(e, key, query, reply, cause);

	free(key);
	return rc;
}

/*
 * POST /v1/users/{id}/merge {"from_user_id"}: the from-user's properties
 * (the user's win), channel data and preference sets it lacks, and its
 * subscriptions become the user's; then the from-user is deleted.
 */
enum eng_status
eng_user_merge(struct eng *e, const char *id, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	const char *from = json_string_value(json_object_get(body,
	    "from_user_id"));
	json_t *fp, *ip;
	struct store_sub subs[50], had;
	char *after = xstrdup("");
	enum eng_status rc;
	size_t n, i;

	if (from == NULL || !eng_recipient_valid_id(from) || strcmp(from,
	    id) == 0) {
		free(after);
		*cause = xstrdup("\"from_user_id\" must name another user");
		return ENG_INVALID;
	}
	if ((ip = rcpt_props(e, NULL, id, NULL)) == NULL ||
	    (fp = rcpt_props(e, NULL, from, NULL)) == NULL) {
		*cause = xasprintf("user \"%.64s\" not found", ip ? from : id);
		json_decref(ip);
		free(after);
		return ENG_NOT_FOUND;
	}
	rcpt_merge(fp, ip);
	json_decref(ip);
	rc = store_recipient_put(e->store, NULL, id, fp, now) == 0 ? ENG_OK :
	    ENG_INTERNAL;
	json_decref(fp);
	/* Object schedules follow the subscriptions that move. */
	while (rc == ENG_OK && (n = store_subs_of(e->store, from, after, 50,
	    subs)) > 0) {
		for (i = 0; i < n; i++) {
			char *slash = strchr(subs[i].rcpt, '/');

			*slash = '\0';
			if (!store_sub_get(e->store, subs[i].rcpt, slash + 1,
			    id, &had)) {
				*slash = '/';
				e->hooks->subscribed(e, subs[i].rcpt, id, now);
			}
			*slash = '/';
			store_sub_clear(&had);
			e->hooks->unsubscribed(e, subs[i].rcpt, from);
		}
		free(after);
		after = xstrdup(subs[n - 1].rcpt);
		for (i = 0; i < n; i++)
			store_sub_clear(&subs[i]);
	}
	free(after);
	if (rc == ENG_OK && store_recipient_merge(e->store, from, id) != 0)
		rc = ENG_INTERNAL;
	if (rc == ENG_OK)
		rc = eng_user_delete(e, from, cause);
	return rc != ENG_OK ? rc : rcpt_user_reply(e, id, reply, cause);
}

/* An object's subscriptions from the recipients[] of q (at most 50). */
static enum eng_status
rcpt_subs_to(struct eng *e, const char *collection, const char *id,
    json_t *rs, int inc, json_t **reply, char **cause)
{
	json_t *entries = json_array(), *r, *o;
	struct store_sub sub;
	char *key;
	size_t i;

	json_array_foreach(rs, i, r) {
		if ((key = eng_rcpt_ref_key(r, cause)) == NULL) {
			json_decref(entries);
			return ENG_INVALID;
		}
		if (i < 50 && store_sub_get(e->store, collection, id, key,
		    &sub)) {
			o = rcpt_sub_json(e, collection, id, key, sub.props,
			    sub.inserted, sub.updated);
			if (inc)
				rcpt_add_prefs(e, json_object_get(o,
				    "recipient"), key);
			json_array_append_new(entries, o);
		}
		free(key);
	}
	*reply = json_pack("{s:o, s:{s:s, s:n, s:n, s:i}}", "entries",
	    entries, "page_info", "__typename", "PageInfo", "after",
	    "before", "page_size", 50);
	return ENG_OK;
}

/*
 * GET /v1/objects/{c}/{id}/subscriptions: mode=object (the default) its
 * subscribers (those of recipients[], or a page after "after"),
 * mode=recipient the objects it subscribes to; include[]=preferences.
 */
enum eng_status
eng_subs_list(struct eng *e, const char *collection, const char *id,
    json_t *query, json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(query, "after"));
	const char *mode = json_string_value(json_object_get(query, "mode"));
	json_t *entries, *rs = eng_query_list(query, "recipients"), *o;
	int size, n, i, inc = rcpt_include_prefs(query);
	struct store_sub subs[50];
	enum eng_status rc;
	char *key;

	if (mode != NULL && strcmp(mode, "recipient") == 0) {
		key = eng_rcpt_key(collection, id);
		rc = rcpt_subs_of(e, key, query, reply, cause);
		free(key);
		return rc;
	}
	if (mode != NULL && strcmp(mode, "object") != 0) {
		*cause = xstrdup("\"mode\" must be object or recipient");
		return ENG_INVALID;
	}
	if (rs != NULL)
		return rcpt_subs_to(e, collection, id, rs, inc, reply, cause);
	if (eng_query_page_size(query, 50, 50, &size, cause) != 0)
		return ENG_INVALID;
	entries = json_array();
	n = (int)store_subs_page(e->store, collection, id, after ? after : "",
	    (size_t)size, subs);
	for (i = 0; i < n; i++) {
		o = rcpt_sub_json(e, collection, id, subs[i].rcpt,
		    subs[i].props, subs[i].inserted, subs[i].updated);
		subs[i].props = NULL;   /* taken by rcpt_sub_json */
		if (inc)
			rcpt_add_prefs(e, json_object_get(o, "recipient"),
			    subs[i].rcpt);
		json_array_append_new(entries, o);
	}
	*reply = json_pack("{s:o, s:{s:s, s:o, s:n, s:i}}", "entries",
	    entries, "page_info", "__typename", "PageInfo", "after",
	    n == size && n > 0 ? json_string(subs[n - 1].rcpt) : json_null(),
	    "before", "page_size", size);
	for (i = 0; i < n; i++)
		store_sub_clear(&subs[i]);
	return ENG_OK;
}
