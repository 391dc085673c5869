/*
 * The PostgreSQL backend's recipients: users, objects and tenants (JSON
 * properties with their times), subscriptions (an object's subscribers,
 * keyed by the subscriber's recipient key and paged in its order),
 * preference sets and channel data.
 *
 * The keys that pages range over collate as "C" (pg.c), so every order
 * here is SQLite's, byte by byte, whatever the database's locale.  JSON
 * is bound and read as sqlite_bind_json and sqlite_json do: NULL and JSON
 * null bind SQL NULL (which a NOT NULL column refuses, as in SQLite), and
 * only an object or an array reads back as a value.
 *
 * Two nodes writing one recipient race as two API clients do (the last
 * write wins).  A merge is one statement, atomic on its own: each kind's
 * DELETE ... RETURNING feeds its INSERT ... ON CONFLICT DO NOTHING, so
 * what it removes from one recipient is exactly what it offers the other
 * (a row another node is changing: its committed version), and a key the
 * other gains meanwhile is waited for and kept.
 */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "engine/json.h"
#include "engine/store/pg_int.h"

/* The statements of this file. */
enum {
	RCPT_USER_GET, RCPT_USER_PUT, RCPT_USER_DEL,
	RCPT_OBJ_GET, RCPT_OBJ_PUT, RCPT_OBJ_DEL,
	RCPT_TENANT_GET, RCPT_TENANT_PUT, RCPT_TENANT_STUB,
	RCPT_SUB_PUT, RCPT_SUB_DEL, RCPT_SUB_LIST, RCPT_SUB_GET,
	RCPT_PREF_GET, RCPT_PREF_PUT, RCPT_PREF_ANY,
	RCPT_USER_FWD, RCPT_USER_BACK, RCPT_OBJ_FWD, RCPT_OBJ_BACK,
	RCPT_TENANT_FWD, RCPT_TENANT_BACK, RCPT_TENANT_DEL, RCPT_USER_CREATED,
	RCPT_OBJ_CREATED, RCPT_TENANT_CREATED,
	RCPT_SUB_OF, RCPT_CD_GET, RCPT_CD_PUT, RCPT_CD_DEL, RCPT_PREF_LIST,
	RCPT_PREF_DEL, RCPT_MERGE, RCPT_USERS_AHEAD,
	RECIPIENTS_COUNT
};
static const char *const recipients_sql[RECIPIENTS_COUNT] = {
	[RCPT_USER_GET] = "SELECT props, created_at, updated_at FROM users"
	    " WHERE id = $1::text",
	[RCPT_USERS_AHEAD] = "SELECT props, created_at, updated_at, id FROM"
	    " users WHERE id = ANY(ARRAY(SELECT json_array_elements_text("
	    "$1::json)))",
	[RCPT_USER_PUT] = "INSERT INTO users(id, props, created_at,"
	    " updated_at) VALUES($1::text, $2::text, $3::bigint, $3::bigint)"
	    " ON CONFLICT(id) DO UPDATE SET props = excluded.props,"
	    " updated_at = excluded.updated_at",
	[RCPT_USER_DEL] = "DELETE FROM users WHERE id = $1::text",
	[RCPT_OBJ_GET] = "SELECT props, created_at, updated_at FROM objects"
	    " WHERE collection = $1::text AND id = $2::text",
	[RCPT_OBJ_PUT] = "INSERT INTO objects(collection, id, props,"
	    " created_at, updated_at) VALUES($1::text, $2::text, $3::text,"
	    " $4::bigint, $4::bigint) ON CONFLICT(collection, id) DO UPDATE"
	    " SET props = excluded.props, updated_at = excluded.updated_at",
	[RCPT_OBJ_DEL] = "DELETE FROM objects WHERE collection = $1::text AND"
	    " id = $2::text",
	[RCPT_TENANT_GET] = "SELECT props, created_at, updated_at FROM tenants"
	    " WHERE id = $1::text",
	[RCPT_TENANT_PUT] = "INSERT INTO tenants(id, props, created_at,"
	    " updated_at) VALUES($1::text, $2::text, $3::bigint, $3::bigint)"
	    " ON CONFLICT(id) DO UPDATE SET props = excluded.props,"
	    " updated_at = excluded.updated_at",
	[RCPT_TENANT_STUB] = "INSERT INTO tenants(id, props, created_at,"
	    " updated_at) VALUES($1::text, '{}', $2::bigint, $2::bigint)"
	    " ON CONFLICT DO NOTHING",
	[RCPT_SUB_PUT] = "INSERT INTO subscriptions(collection, object_id,"
	    " rcpt, props, inserted_at, updated_at) VALUES($1::text, $2::text,"
	    " $3::text, $4::text, $5::bigint, $5::bigint) ON CONFLICT"
	    "(collection, object_id, rcpt) DO UPDATE SET props ="
	    " excluded.props, updated_at = excluded.updated_at",
	[RCPT_SUB_DEL] = "DELETE FROM subscriptions WHERE collection ="
	    " $1::text AND object_id = $2::text AND rcpt = $3::text",
	[RCPT_SUB_LIST] = "SELECT rcpt, props, inserted_at, updated_at FROM"
	    " subscriptions WHERE collection = $1::text AND object_id ="
	    " $2::text AND rcpt > $3::text ORDER BY rcpt LIMIT $4::bigint",
	[RCPT_SUB_GET] = "SELECT props, inserted_at, updated_at FROM"
	    " subscriptions WHERE collection = $1::text AND object_id ="
	    " $2::text AND rcpt = $3::text",
	[RCPT_PREF_GET] = "SELECT body FROM preferences WHERE rcpt = $1::text"
	    " AND set_id = $2::text",
	[RCPT_PREF_PUT] = "INSERT INTO preferences(rcpt, set_id, body,"
	    " updated_at) VALUES($1::text, $2::text, $3::text, $4::bigint)"
	    " ON CONFLICT(rcpt, set_id) DO UPDATE SET body = excluded.body,"
	    " updated_at = excluded.updated_at",
	[RCPT_PREF_ANY] = "SELECT EXISTS(SELECT 1 FROM preferences)",
	/* Pages: $1 the cursor ('' for the first), $2 the limit, $3 more. */
	[RCPT_USER_FWD] = "SELECT id, props, created_at, updated_at FROM users"
	    " WHERE id > $1::text ORDER BY id LIMIT $2::bigint",
	[RCPT_USER_BACK] = "SELECT id, props, created_at, updated_at FROM"
	    " users WHERE id < $1::text ORDER BY id DESC LIMIT $2::bigint",
	[RCPT_OBJ_FWD] = "SELECT id, props, created_at, updated_at FROM"
	    " objects WHERE collection = $3::text AND id > $1::text ORDER BY"
	    " id LIMIT $2::bigint",
	[RCPT_OBJ_BACK] = "SELECT id, props, created_at, updated_at FROM"
	    " objects WHERE collection = $3::text AND id < $1::text ORDER BY"
	    " id DESC LIMIT $2::bigint",
	/*
	 * A name matches as SQLite's json_extract(props, '$.name') = ?4
	 * does: a JSON string equal to it (a number never equals text).
	 */
	[RCPT_TENANT_FWD] = "SELECT id, props, created_at, updated_at FROM"
	    " tenants WHERE id > $1::text AND ($3::text IS NULL OR id ="
	    " $3::text) AND ($4::text IS NULL OR (json_typeof(props::json ->"
	    " 'name') = 'string' AND props::json ->> 'name' = $4::text))"
	    " ORDER BY id LIMIT $2::bigint",
	[RCPT_TENANT_BACK] = "SELECT id, props, created_at, updated_at FROM"
	    " tenants WHERE id < $1::text AND ($3::text IS NULL OR id ="
	    " $3::text) AND ($4::text IS NULL OR (json_typeof(props::json ->"
	    " 'name') = 'string' AND props::json ->> 'name' = $4::text))"
	    " ORDER BY id DESC LIMIT $2::bigint",
	[RCPT_TENANT_DEL] = "DELETE FROM tenants WHERE id = $1::text",
	[RCPT_USER_CREATED] = "UPDATE users SET created_at = $2::bigint WHERE"
	    " id = $1::text",
	[RCPT_OBJ_CREATED] = "UPDATE objects SET created_at = $2::bigint"
	    " WHERE id = $1::text AND collection = $3::text",
	[RCPT_TENANT_CREATED] = "UPDATE tenants SET created_at = $2::bigint"
	    " WHERE id = $1::text",
	[RCPT_SUB_OF] = "SELECT collection || '/' || object_id, props,"
	    " inserted_at, updated_at FROM subscriptions WHERE rcpt = $1::text"
	    " AND collection || '/' || object_id > $2::text ORDER BY 1 LIMIT"
	    " $3::bigint",
	[RCPT_CD_GET] = "SELECT data, updated_at FROM channel_data WHERE rcpt"
	    " = $1::text AND channel = $2::text",
	[RCPT_CD_PUT] = "INSERT INTO channel_data(rcpt, channel, data,"
	    " updated_at) VALUES($1::text, $2::text, $3::text, $4::bigint)"
	    " ON CONFLICT(rcpt, channel) DO UPDATE SET data = excluded.data,"
	    " updated_at = excluded.updated_at",
	[RCPT_CD_DEL] = "DELETE FROM channel_data WHERE rcpt = $1::text AND"
	    " channel = $2::text",
	[RCPT_PREF_LIST] = "SELECT set_id, body FROM preferences WHERE rcpt ="
	    " $1::text ORDER BY set_id",
	[RCPT_PREF_DEL] = "DELETE FROM preferences WHERE rcpt = $1::text AND"
	    " set_id = $2::text",
	/*
	 * A merge, in one statement (one snapshot, atomic even outside a
	 * transaction): $1's channel data, preference sets and
	 * subscriptions go, and each becomes $2's unless $2 has its key.
	 * A row another transaction changes meanwhile is deleted (and
	 * moved) as it is once that one commits; one it adds for $1 after
	 * the statement began stays $1's, as a write after the merge would.
	 */
	[RCPT_MERGE] = "WITH cd AS (DELETE FROM channel_data WHERE rcpt ="
	    " $1::text RETURNING channel, data, updated_at), cd_in AS (INSERT"
	    " INTO channel_data(rcpt, channel, data, updated_at) SELECT"
	    " $2::text, channel, data, updated_at FROM cd ON CONFLICT DO"
	    " NOTHING), pf AS (DELETE FROM preferences WHERE rcpt = $1::text"
	    " RETURNING set_id, body, updated_at), pf_in AS (INSERT INTO"
	    " preferences(rcpt, set_id, body, updated_at) SELECT $2::text,"
	    " set_id, body, updated_at FROM pf ON CONFLICT DO NOTHING), sb AS"
	    " (DELETE FROM subscriptions WHERE rcpt = $1::text RETURNING"
	    " collection, object_id, props, inserted_at, updated_at) INSERT"
	    " INTO subscriptions(collection, object_id, rcpt, props,"
	    " inserted_at, updated_at) SELECT collection, object_id, $2::text,"
	    " props, inserted_at, updated_at FROM sb ON CONFLICT DO NOTHING",
};
const struct pg_sql pg_recipients_sql = { recipients_sql, RECIPIENTS_COUNT };

/*
 * Append JSON v as sqlite_bind_json binds it (NULL, null: SQL NULL), its
 * text from the engine's writer: malloc'd, so pg_args_free may free it
 * (json_dumps' text comes from jansson's allocator, which the daemon
 * points at its pool).
 */
static void
rcpt_arg_json(struct pg_args *a, json_t *v)
{
	char *text = NULL;

	if (v != NULL && !json_is_null(v))
		text = eng_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	pg_arg_text(a, text);
	a->own[a->n - 1] = text;
}

/* A cell of JSON text as sqlite_json reads it: an object or array, or NULL. */
static json_t *
rcpt_json(const PGresult *r, int row, int col)
{
	const char *v = pg_cell(r, row, col);

	return v != NULL ? json_loads(v, 0, NULL) : NULL;
}

/* Run statement i of a key lookup: its result with a row, or NULL. */
static PGresult *
rcpt_row(struct store *s, int i, struct pg_args *a)
{
	PGresult *r = pg_run(s, PG_RECIPIENTS, i, a);

	if (r != NULL && PQntuples(r) == 0) {
		PQclear(r);
		r = NULL;
	}
	return r;
}

/* Run statement i for the rows it changed: 1 if any, 0, or -1. */
static int
rcpt_changed(struct store *s, int i, struct pg_args *a)
{
	int64_t n = pg_changed(s, PG_RECIPIENTS, i, a);

	return n < 0 ? -1 : n > 0;
}

/*
 * Run statement i for properties (column 0) and times (1, 2), those into
 * *t (when not NULL); the properties or NULL.
 */
static json_t *
rcpt_props_row(struct store *s, int i, struct pg_args *a,
    struct store_times *t)
{
	PGresult *r = rcpt_row(s, i, a);
	json_t *props;

	if (r == NULL)
		return NULL;
	props = rcpt_json(r, 0, 0);
	if (t != NULL) {
		t->created = pg_int(r, 0, 1);
		t->updated = pg_int(r, 0, 2);
	}
	PQclear(r);
	return props;
}

/* Whether entry c holds collection's id in this generation. */
static int
rcache_hit(const struct store *s, const struct pg_rcache *c,
    const char *collection, const char *id)
{
	return c->id != NULL && c->gen == s->rcache_gen &&
	    strcmp(c->id, id) == 0 && (collection == NULL ? c->coll == NULL :
	    c->coll != NULL && strcmp(c->coll, collection) == 0);
}

/* Keep what was read of collection's id (props NULL: none) in the cache. */
static void
rcache_put(struct store *s, const char *collection, const char *id,
    json_t *props, int64_t created, int64_t updated)
{
	struct pg_rcache *c = &s->rcache[s->rcache_next];

	s->rcache_next = (s->rcache_next + 1) % PG_RCACHE;
	free(c->coll);
	free(c->id);
	json_decref(c->props);
	c->coll = collection != NULL ? xstrdup(collection) : NULL;
	c->id = xstrdup(id);
	c->props = props != NULL ? json_deep_copy(props) : NULL;
	c->created = created;
	c->updated = updated;
	c->gen = s->rcache_gen;
}

/* Free the cache of users and objects read. */
void
pg_recipients_cache_free(struct store *s)
{
	size_t k;

	for (k = 0; k < PG_RCACHE; k++) {
		free(s->rcache[k].coll);
		free(s->rcache[k].id);
		json_decref(s->rcache[k].props);
		memset(&s->rcache[k], 0, sizeof s->rcache[k]);
	}
}

/*
 * A user's (collection NULL) or an object's properties, or NULL.  In a
 * transaction an answer read earlier in it is given again (until the
 * generation moves on, see pg_int.h): every request of the transaction
 * arrived before its first read, so a change another node committed
 * before a request was sent is seen.
 */
static json_t *
pg_recipient_get(struct store *s, const char *collection, const char *id,
    struct store_times *t)
{
	struct pg_args a = { 0 };
	struct pg_rcache *c;
	PGresult *r;
	json_t *props;
	size_t k;

	for (k = 0; s->in_txn && k < PG_RCACHE; k++) {
		c = &s->rcache[k];
		if (!rcache_hit(s, c, collection, id))
			continue;
		if (t != NULL && c->props != NULL) {
			t->created = c->created;
			t->updated = c->updated;
		}
		return c->props != NULL ? json_deep_copy(c->props) : NULL;
	}
	if (collection != NULL)
		pg_arg_text(&a, collection);
	pg_arg_text(&a, id);
	r = pg_run(s, PG_RECIPIENTS, collection == NULL ? RCPT_USER_GET :
	    RCPT_OBJ_GET, &a);
	if (r == NULL)
		return NULL;
	props = PQntuples(r) > 0 ? rcpt_json(r, 0, 0) : NULL;
	if (PQntuples(r) > 0 && t != NULL) {
		t->created = pg_int(r, 0, 1);
		t->updated = pg_int(r, 0, 2);
	}
	if (s->in_txn && (props != NULL || PQntuples(r) == 0))
		rcache_put(s, collection, id, props, props != NULL ?
		    pg_int(r, 0, 1) : 0, props != NULL ? pg_int(r, 0, 2) : 0);
	PQclear(r);
	return props;
}

/*
 * See store.h: read up to PG_RCACHE users ahead in one statement, each
 * into the cache, found or not (one wait for a transaction's recipients
 * instead of one for each).
 */
static void
pg_users_prefetch(struct store *s, const char *const *ids, size_t n,
    size_t runs)
{
	struct pg_args a = { 0 };
	json_t *arr, *props;
	PGresult *r;
	size_t i, k;
	int row;

	if (!s->in_txn)
		return;
	/* Its result is read with the users'. */
	pg_keys_ahead(s, runs);
	if (n == 0)
		return;
	arr = json_array();
	if (n > PG_RCACHE)
		n = PG_RCACHE;
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(ids[i]));
	pg_arg_json(&a, arr);
	json_decref(arr);
	r = pg_run(s, PG_RECIPIENTS, RCPT_USERS_AHEAD, &a);
	if (r == NULL)
		return;
	for (i = 0; i < n; i++) {
		for (k = 0; k < i && strcmp(ids[k], ids[i]) != 0; k++)
			;
		if (k < i)
			continue;
		for (row = 0; row < PQntuples(r); row++)
			if (strcmp(PQgetvalue(r, row, 3), ids[i]) == 0)
				break;
		props = row < PQntuples(r) ? rcpt_json(r, row, 0) : NULL;
		rcache_put(s, NULL, ids[i], props, props != NULL ?
		    pg_int(r, row, 1) : 0, props != NULL ? pg_int(r, row, 2) :
		    0);
		json_decref(props);
	}
	PQclear(r);
}

/* Store a user's or an object's properties (created_at kept); 0 or -1. */
static int
pg_recipient_put(struct store *s, const char *collection, const char *id,
    json_t *props, int64_t now)
{
	struct pg_args a = { 0 };

	if (collection != NULL)
		pg_arg_text(&a, collection);
	pg_arg_text(&a, id);
	rcpt_arg_json(&a, props);
	pg_arg_int(&a, now);
	return pg_done(s, PG_RECIPIENTS, collection == NULL ? RCPT_USER_PUT :
	    RCPT_OBJ_PUT, &a);
}

/* Delete a user or an object: 1, 0 if there was none, or -1. */
static int
pg_recipient_delete(struct store *s, const char *collection, const char *id)
{
	struct pg_args a = { 0 };

	if (collection != NULL)
		pg_arg_text(&a, collection);
	pg_arg_text(&a, id);
	return rcpt_changed(s, collection == NULL ? RCPT_USER_DEL :
	    RCPT_OBJ_DEL, &a);
}

/* A tenant's properties, or NULL. */
static json_t *
pg_tenant_get(struct store *s, const char *id, struct store_times *t)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, id);
	return rcpt_props_row(s, RCPT_TENANT_GET, &a, t);
}

/* Store a tenant's properties (created_at kept); 0 or -1. */
static int
pg_tenant_put(struct store *s, const char *id, json_t *props, int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, id);
	rcpt_arg_json(&a, props);
	pg_arg_int(&a, now);
	return pg_done(s, PG_RECIPIENTS, RCPT_TENANT_PUT, &a);
}

/* Create tenant id with no properties unless it exists; 0 or -1. */
static int
pg_tenant_stub(struct store *s, const char *id, int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_int(&a, now);
	return pg_done(s, PG_RECIPIENTS, RCPT_TENANT_STUB, &a);
}

/* Append a subscription's (collection, object, rcpt) to a as $1..$3. */
static void
rcpt_sub_args(struct pg_args *a, const char *coll, const char *obj,
    const char *rcpt)
{
	pg_arg_text(a, coll);
	pg_arg_text(a, obj);
	pg_arg_text(a, rcpt);
}

/* Subscribe rcpt to object coll/obj with props (NULL: null); 0 or -1. */
static int
pg_sub_put(struct store *s, const char *coll, const char *obj,
    const char *rcpt, json_t *props, int64_t now)
{
	struct pg_args a = { 0 };

	rcpt_sub_args(&a, coll, obj, rcpt);
	if (props == NULL || json_is_null(props))
		pg_arg_text(&a, "null");
	else
		rcpt_arg_json(&a, props);
	pg_arg_int(&a, now);
	return pg_done(s, PG_RECIPIENTS, RCPT_SUB_PUT, &a);
}

/* Unsubscribe rcpt from object coll/obj; 0 or -1. */
static int
pg_sub_delete(struct store *s, const char *coll, const char *obj,
    const char *rcpt)
{
	struct pg_args a = { 0 };

	rcpt_sub_args(&a, coll, obj, rcpt);
	return pg_done(s, PG_RECIPIENTS, RCPT_SUB_DEL, &a);
}

/* rcpt's subscription to coll/obj into *out (rcpt not set): 1, or 0. */
static int
pg_sub_get(struct store *s, const char *coll, const char *obj,
    const char *rcpt, struct store_sub *out)
{
	struct pg_args a = { 0 };
	PGresult *r;

	memset(out, 0, sizeof *out);
	rcpt_sub_args(&a, coll, obj, rcpt);
	if ((r = rcpt_row(s, RCPT_SUB_GET, &a)) == NULL)
		return 0;
	out->props = rcpt_json(r, 0, 0);
	out->inserted = pg_int(r, 0, 1);
	out->updated = pg_int(r, 0, 2);
	PQclear(r);
	return 1;
}

/*
 * Run statement i for up to max subscription rows (key, props, inserted,
 * updated) into out; their count.
 */
static size_t
rcpt_sub_rows(struct store *s, int i, struct pg_args *a, size_t max,
    struct store_sub *out)
{
	PGresult *r = pg_run(s, PG_RECIPIENTS, i, a);
	size_t n, k;

	if (r == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	for (k = 0; k < n; k++) {
		out[k].rcpt = pg_text(r, (int)k, 0);
		out[k].props = rcpt_json(r, (int)k, 1);
		out[k].inserted = pg_int(r, (int)k, 2);
		out[k].updated = pg_int(r, (int)k, 3);
	}
	PQclear(r);
	return n;
}

/* Up to max subscriptions to coll/obj after recipient key after. */
static size_t
pg_subs_page(struct store *s, const char *coll, const char *obj,
    const char *after, size_t max, struct store_sub *out)
{
	struct pg_args a = { 0 };

	rcpt_sub_args(&a, coll, obj, after);
	pg_arg_int(&a, (int64_t)max);
	return rcpt_sub_rows(s, RCPT_SUB_LIST, &a, max, out);
}

/* rcpt's preference set called set, or NULL. */
static json_t *
pg_prefs_get(struct store *s, const char *rcpt, const char *set)
{
	struct pg_args a = { 0 };
	PGresult *r;
	json_t *v;

	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, set);
	if ((r = rcpt_row(s, RCPT_PREF_GET, &a)) == NULL)
		return NULL;
	v = rcpt_json(r, 0, 0);
	PQclear(r);
	return v;
}

/* Store rcpt's preference set called set; 0 or -1. */
static int
pg_prefs_put(struct store *s, const char *rcpt, const char *set,
    json_t *body, int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, set);
	rcpt_arg_json(&a, body);
	pg_arg_int(&a, now);
	return pg_done(s, PG_RECIPIENTS, RCPT_PREF_PUT, &a);
}

/* Whether any preference set is stored (1 when it cannot be read). */
static int
pg_prefs_exist(struct store *s)
{
	return pg_scalar(s, PG_RECIPIENTS, RCPT_PREF_ANY, NULL, 1) != 0;
}

/* Delete tenant id: 1, 0 if there was none, or -1. */
static int
pg_tenant_delete(struct store *s, const char *id)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, id);
	return rcpt_changed(s, RCPT_TENANT_DEL, &a);
}

/* Set a recipient's creation time (an identify's created_at); 0 or -1. */
static int
pg_recipient_created(struct store *s, enum store_rcpt_kind kind,
    const char *collection, const char *id, int64_t at)
{
	static const int stmts[] = { RCPT_USER_CREATED, RCPT_OBJ_CREATED,
		RCPT_TENANT_CREATED };
	struct pg_args a = { 0 };

	pg_arg_text(&a, id);
	pg_arg_int(&a, at);
	if (kind == STORE_RCPT_OBJECTS)
		pg_arg_text(&a, collection);
	return pg_done(s, PG_RECIPIENTS, stmts[kind], &a);
}

/*
 * Up to max users, objects of a collection or tenants (by f->kind) after
 * f->after or, going back, before f->before, in id order either way, into
 * out; their count.
 */
static size_t
pg_recipients_page(struct store *s, const struct store_rcpt_filter *f,
    size_t max, struct store_rcpt_row *out)
{
	static const int fwd[] = { RCPT_USER_FWD, RCPT_OBJ_FWD,
		RCPT_TENANT_FWD };
	static const int back[] = { RCPT_USER_BACK, RCPT_OBJ_BACK,
		RCPT_TENANT_BACK };
	int rev = f->before != NULL;
	struct store_rcpt_row tmp;
	struct pg_args a = { 0 };
	PGresult *r;
	size_t n, i;

	pg_arg_text(&a, rev ? f->before : f->after ? f->after : "");
	pg_arg_int(&a, (int64_t)max);
	if (f->kind == STORE_RCPT_OBJECTS)
		pg_arg_text(&a, f->collection);
	if (f->kind == STORE_RCPT_TENANTS) {
		pg_arg_text(&a, f->id);
		pg_arg_text(&a, f->name);
	}
	if ((r = pg_run(s, PG_RECIPIENTS, rev ? back[f->kind] : fwd[f->kind],
	    &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		out[i].id = pg_text(r, (int)i, 0);
		out[i].props = rcpt_json(r, (int)i, 1);
		out[i].t.created = pg_int(r, (int)i, 2);
		out[i].t.updated = pg_int(r, (int)i, 3);
	}
	PQclear(r);
	for (i = 0; rev && i < n / 2; i++) {
		tmp = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = tmp;
	}
	return n;
}

/*
 * Up to max of rcpt's subscriptions, the objects' keys (in out[].rcpt)
 * sorting after `after`, in that order; their count.
 */
static size_t
pg_subs_of(struct store *s, const char *rcpt, const char *after, size_t max,
    struct store_sub *out)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, after);
	pg_arg_int(&a, (int64_t)max);
	return rcpt_sub_rows(s, RCPT_SUB_OF, &a, max, out);
}

/* rcpt's channel data on channel (*updated its time), or NULL. */
static json_t *
pg_channel_data_get(struct store *s, const char *rcpt, const char *channel,
    int64_t *updated)
{
	struct pg_args a = { 0 };
	PGresult *r;
	json_t *v;

	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, channel);
	if ((r = rcpt_row(s, RCPT_CD_GET, &a)) == NULL)
		return NULL;
	v = rcpt_json(r, 0, 0);
	*updated = pg_int(r, 0, 1);
	PQclear(r);
	return v;
}

/* Store rcpt's channel data on channel; 0 or -1. */
static int
pg_channel_data_put(struct store *s, const char *rcpt, const char *channel,
    json_t *data, int64_t now)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, channel);
	rcpt_arg_json(&a, data);
	pg_arg_int(&a, now);
	return pg_done(s, PG_RECIPIENTS, RCPT_CD_PUT, &a);
}

/* Delete rcpt's channel data on channel: 1, 0 if there was none, or -1. */
static int
pg_channel_data_delete(struct store *s, const char *rcpt,
    const char *channel)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, channel);
	return rcpt_changed(s, RCPT_CD_DEL, &a);
}

/* rcpt's preference sets: a new object of set id -> body. */
static json_t *
pg_prefs_list(struct store *s, const char *rcpt)
{
	struct pg_args a = { 0 };
	json_t *out = json_object();
	PGresult *r;
	int i, n;

	pg_arg_text(&a, rcpt);
	if ((r = pg_run(s, PG_RECIPIENTS, RCPT_PREF_LIST, &a)) == NULL)
		return out;
	for (i = 0, n = PQntuples(r); i < n; i++)
		json_object_set_new(out, PQgetvalue(r, i, 0), rcpt_json(r, i,
		    1));
	PQclear(r);
	return out;
}

/* Delete rcpt's preference set: 1, 0 if there was none, or -1. */
static int
pg_prefs_delete(struct store *s, const char *rcpt, const char *set)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, rcpt);
	pg_arg_text(&a, set);
	return rcpt_changed(s, RCPT_PREF_DEL, &a);
}

/*
 * Move what recipient from has and into lacks (channel data by channel,
 * preference sets by id, subscriptions by object) to into, then drop
 * from's, in one statement; 0 or -1.
 */
static int
pg_recipient_merge(struct store *s, const char *from, const char *into)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, from);
	pg_arg_text(&a, into);
	return pg_done(s, PG_RECIPIENTS, RCPT_MERGE, &a);
}

/* This file's operations, into the backend's table. */
void
pg_recipients_ops(struct store_ops *o)
{
	o->recipient_get = pg_recipient_get;
	o->users_prefetch = pg_users_prefetch;
	o->recipient_put = pg_recipient_put;
	o->recipient_delete = pg_recipient_delete;
	o->tenant_get = pg_tenant_get;
	o->tenant_put = pg_tenant_put;
	o->tenant_stub = pg_tenant_stub;
	o->sub_put = pg_sub_put;
	o->sub_delete = pg_sub_delete;
	o->sub_get = pg_sub_get;
	o->subs_page = pg_subs_page;
	o->prefs_get = pg_prefs_get;
	o->prefs_put = pg_prefs_put;
	o->prefs_exist = pg_prefs_exist;
	o->tenant_delete = pg_tenant_delete;
	o->recipient_created = pg_recipient_created;
	o->recipients_page = pg_recipients_page;
	o->subs_of = pg_subs_of;
	o->channel_data_get = pg_channel_data_get;
	o->channel_data_put = pg_channel_data_put;
	o->channel_data_delete = pg_channel_data_delete;
	o->prefs_list = pg_prefs_list;
	o->prefs_delete = pg_prefs_delete;
	o->recipient_merge = pg_recipient_merge;
}
