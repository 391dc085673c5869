/*
 * The SQLite backend's recipients: users, objects and tenants (JSON
 * properties with their times), subscriptions (an object's subscribers,
 * keyed by the subscriber's recipient key and paged in its order), and
 * preference sets.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	RCPT_USER_GET, RCPT_USER_PUT, RCPT_USER_DEL,
	RCPT_OBJ_GET, RCPT_OBJ_PUT, RCPT_OBJ_DEL,
	RCPT_TENANT_GET, RCPT_TENANT_PUT, RCPT_TENANT_STUB,
	RCPT_SUB_PUT, RCPT_SUB_DEL, RCPT_SUB_LIST, RCPT_SUB_GET,
	RCPT_PREF_GET, RCPT_PREF_PUT, RCPT_PREF_ANY,
	RCPT_USER_FWD, RCPT_USER_BACK, RCPT_OBJ_FWD, RCPT_OBJ_BACK,
	RCPT_TENANT_FWD, RCPT_TENANT_BACK, RCPT_TENANT_DEL, RCPT_USER_CREATED, RCPT_OBJ_CREATED,
	RCPT_TENANT_CREATED,
	RCPT_SUB_OF, RCPT_CD_GET, RCPT_CD_PUT, RCPT_CD_DEL, RCPT_PREF_LIST,
	RCPT_PREF_DEL, RCPT_MERGE_CD, RCPT_MERGE_PREF, RCPT_MERGE_SUB,
	RCPT_DROP_CD, RCPT_DROP_PREF, RCPT_DROP_SUB,
	RCPT_COUNT
};
static const char *const rcpt_sql[RCPT_COUNT] = {
	[RCPT_USER_GET] = "SELECT props, created_at, updated_at FROM users"
	    " WHERE id = ?1",
	[RCPT_USER_PUT] = "INSERT INTO users(id, props, created_at, updated_at)"
	    " VALUES(?1, ?2, ?3, ?3) ON CONFLICT(id) DO UPDATE SET"
	    " props = excluded.props, updated_at = excluded.updated_at",
	[RCPT_USER_DEL] = "DELETE FROM users WHERE id = ?1",
	[RCPT_OBJ_GET] = "SELECT props, created_at, updated_at FROM objects"
	    " WHERE collection = ?1 AND id = ?2",
	[RCPT_OBJ_PUT] = "INSERT INTO objects(collection, id, props,"
	    " created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?4) ON"
	    " CONFLICT(collection, id) DO UPDATE SET props = excluded.props,"
	    " updated_at = excluded.updated_at",
	[RCPT_OBJ_DEL] = "DELETE FROM objects WHERE collection = ?1 AND id ="
	    " ?2",
	[RCPT_TENANT_GET] = "SELECT props, created_at, updated_at FROM tenants"
	    " WHERE id = ?1",
	[RCPT_TENANT_PUT] = "INSERT INTO tenants(id, props, created_at,"
	    " updated_at) VALUES(?1, ?2, ?3, ?3) ON CONFLICT(id) DO UPDATE SET"
	    " props = excluded.props, updated_at = excluded.updated_at",
	[RCPT_TENANT_STUB] = "INSERT OR IGNORE INTO tenants(id, props,"
	    " created_at, updated_at) VALUES(?1, '{}', ?2, ?2)",
	[RCPT_SUB_PUT] = "INSERT INTO subscriptions(collection, object_id,"
	    " rcpt, props, inserted_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5,"
	    " ?5) ON CONFLICT(collection, object_id, rcpt) DO UPDATE SET props"
	    " = excluded.props, updated_at = excluded.updated_at",
	[RCPT_SUB_DEL] = "DELETE FROM subscriptions WHERE collection = ?1 AND"
	    " object_id = ?2 AND rcpt = ?3",
	[RCPT_SUB_LIST] = "SELECT rcpt, props, inserted_at, updated_at FROM"
	    " subscriptions WHERE collection = ?1 AND object_id = ?2 AND"
	    " rcpt > ?3 ORDER BY rcpt LIMIT ?4",
	[RCPT_SUB_GET] = "SELECT props, inserted_at, updated_at FROM"
	    " subscriptions WHERE collection = ?1 AND object_id = ?2 AND"
	    " rcpt = ?3",
	[RCPT_PREF_GET] = "SELECT body FROM preferences WHERE rcpt = ?1 AND"
	    " set_id = ?2",
	[RCPT_PREF_PUT] = "INSERT INTO preferences(rcpt, set_id, body,"
	    " updated_at) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(rcpt, set_id) DO"
	    " UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
	[RCPT_PREF_ANY] = "SELECT EXISTS(SELECT 1 FROM preferences)",
	/* Pages: ?1 the cursor ('' for the first), ?2 the limit, ?3 more. */
	[RCPT_USER_FWD] = "SELECT id, props, created_at, updated_at FROM users"
	    " WHERE id > ?1 ORDER BY id LIMIT ?2",
	[RCPT_USER_BACK] = "SELECT id, props, created_at, updated_at FROM"
	    " users WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
	[RCPT_OBJ_FWD] = "SELECT id, props, created_at, updated_at FROM"
	    " objects WHERE collection = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
	[RCPT_OBJ_BACK] = "SELECT id, props, created_at, updated_at FROM"
	    " objects WHERE collection = ?3 AND id < ?1 ORDER BY id DESC"
	    " LIMIT ?2",
	[RCPT_TENANT_FWD] = "SELECT id, props, created_at, updated_at FROM"
	    " tenants WHERE id > ?1 AND (?3 IS NULL OR id = ?3) AND (?4 IS NULL"
	    " OR json_extract(props, '$.name') = ?4) ORDER BY id LIMIT ?2",
	[RCPT_TENANT_BACK] = "SELECT id, props, created_at, updated_at FROM"
	    " tenants WHERE id < ?1 AND (?3 IS NULL OR id = ?3) AND (?4 IS NULL"
	    " OR json_extract(props, '$.name') = ?4) ORDER BY id DESC LIMIT ?2",
	[RCPT_TENANT_DEL] = "DELETE FROM tenants WHERE id = ?1",
	[RCPT_USER_CREATED] = "UPDATE users SET created_at = ?2 WHERE id ="
	    " ?1",
	[RCPT_OBJ_CREATED] = "UPDATE objects SET created_at = ?2 WHERE id ="
	    " ?1 AND collection = ?3",
	[RCPT_TENANT_CREATED] = "UPDATE tenants SET created_at = ?2 WHERE id"
	    " = ?1",
	[RCPT_SUB_OF] = "SELECT collection || '/' || object_id AS k, props,"
	    " inserted_at, updated_at FROM subscriptions WHERE rcpt = ?1 AND"
	    " k > ?2 ORDER BY k LIMIT ?3",
	[RCPT_CD_GET] = "SELECT data, updated_at FROM channel_data WHERE rcpt"
	    " = ?1 AND channel = ?2",
	[RCPT_CD_PUT] = "INSERT INTO channel_data(rcpt, channel, data,"
	    " updated_at) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(rcpt, channel) DO"
	    " UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
	[RCPT_CD_DEL] = "DELETE FROM channel_data WHERE rcpt = ?1 AND channel"
	    " = ?2",
	[RCPT_PREF_LIST] = "SELECT set_id, body FROM preferences WHERE rcpt ="
	    " ?1 ORDER BY set_id",
	[RCPT_PREF_DEL] = "DELETE FROM preferences WHERE rcpt = ?1 AND set_id"
	    " = ?2",
	/* A merge: what the first recipient has and the second lacks. */
	[RCPT_MERGE_CD] = "INSERT OR IGNORE INTO channel_data(rcpt, channel,"
	    " data, updated_at) SELECT ?2, channel, data, updated_at FROM"
	    " channel_data WHERE rcpt = ?1",
	[RCPT_MERGE_PREF] = "INSERT OR IGNORE INTO preferences(rcpt, set_id,"
	    " body, updated_at) SELECT ?2, set_id, body, updated_at FROM"
	    " preferences WHERE rcpt = ?1",
	[RCPT_MERGE_SUB] = "INSERT OR IGNORE INTO subscriptions(collection,"
	    " object_id, rcpt, props, inserted_at, updated_at) SELECT"
	    " collection, object_id, ?2, props, inserted_at, updated_at FROM"
	    " subscriptions WHERE rcpt = ?1",
	[RCPT_DROP_CD] = "DELETE FROM channel_data WHERE rcpt = ?1",
	[RCPT_DROP_PREF] = "DELETE FROM preferences WHERE rcpt = ?1",
	[RCPT_DROP_SUB] = "DELETE FROM subscriptions WHERE rcpt = ?1",
};
const struct sqlite_sql sqlite_recipients_sql = { rcpt_sql, RCPT_COUNT };

/* A statement of this file, reset. */
static sqlite3_stmt *
rcpt_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_RECIPIENTS, i);
}

/*
 * Read the current row's properties (column 0) and times (1, 2) into *t
 * (when not NULL), then reset st; the properties or NULL.
 */
static json_t *
rcpt_props_row(struct store *s, sqlite3_stmt *st, struct store_times *t)
{
	json_t *props = NULL;

	if (sqlite_row(s, st)) {
		props = sqlite_json(st, 0);
		if (t != NULL) {
			t->created = sqlite3_column_int64(st, 1);
			t->updated = sqlite3_column_int64(st, 2);
		}
	}
	sqlite3_reset(st);
	return props;
}

/* See store.h: SQLite's reads cost no wait, so nothing is read ahead. */
static void
sqlite_users_prefetch(struct store *s, const char *const *ids, size_t n,
    size_t runs)
{
	(void)s;
	(void)ids;
	(void)n;
	(void)runs;
}

/* A user's (collection NULL) or an object's properties, or NULL. */
static json_t *
sqlite_recipient_get(struct store *s, const char *collection, const char *id,
    struct store_times *t)
{
	sqlite3_stmt *st;

	if (collection == NULL) {
		st = rcpt_stmt(s, RCPT_USER_GET);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	} else {
		st = rcpt_stmt(s, RCPT_OBJ_GET);
		sqlite3_bind_text(st, 1, collection, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	}
	return rcpt_props_row(s, st, t);
}

/* Store a user's or an object's properties (created_at kept); 0 or -1. */
static int
sqlite_recipient_put(struct store *s, const char *collection, const char *id,
    json_t *props, int64_t now)
{
	sqlite3_stmt *st;

	if (collection == NULL) {
		st = rcpt_stmt(s, RCPT_USER_PUT);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite_bind_json(st, 2, props);
		sqlite3_bind_int64(st, 3, now);
	} else {
		st = rcpt_stmt(s, RCPT_OBJ_PUT);
		sqlite3_bind_text(st, 1, collection, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
		sqlite_bind_json(st, 3, props);
		sqlite3_bind_int64(st, 4, now);
	}
	return sqlite_done(s, st);
}

/* Delete a user or an object: 1, 0 if there was none, or -1. */
static int
sqlite_recipient_delete(struct store *s, const char *collection,
    const char *id)
{
	sqlite3_stmt *st;

	if (collection == NULL) {
		st = rcpt_stmt(s, RCPT_USER_DEL);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	} else {
		st = rcpt_stmt(s, RCPT_OBJ_DEL);
		sqlite3_bind_text(st, 1, collection, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	}
	return sqlite_changed(s, st);
}

/* A tenant's properties, or NULL. */
static json_t *
sqlite_tenant_get(struct store *s, const char *id, struct store_times *t)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_TENANT_GET);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return rcpt_props_row(s, st, t);
}

/* Store a tenant's properties (created_at kept); 0 or -1. */
static int
sqlite_tenant_put(struct store *s, const char *id, json_t *props, int64_t now)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_TENANT_PUT);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite_bind_json(st, 2, props);
	sqlite3_bind_int64(st, 3, now);
	return sqlite_done(s, st);
}

/* Create tenant id with no properties unless it exists; 0 or -1. */
static int
sqlite_tenant_stub(struct store *s, const char *id, int64_t now)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_TENANT_STUB);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	return sqlite_done(s, st);
}

/* Bind a subscription's (collection, object, rcpt) as ?1..?3. */
static void
rcpt_bind_sub(sqlite3_stmt *st, const char *coll, const char *obj,
    const char *rcpt)
{
	sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, obj, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
}

/* Subscribe rcpt to object coll/obj with props (NULL: null); 0 or -1. */
static int
sqlite_sub_put(struct store *s, const char *coll, const char *obj,
    const char *rcpt, json_t *props, int64_t now)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_SUB_PUT);

	rcpt_bind_sub(st, coll, obj, rcpt);
	if (props == NULL || json_is_null(props))
		sqlite3_bind_text(st, 4, "null", 4, SQLITE_STATIC);
	else
		sqlite_bind_json(st, 4, props);
	sqlite3_bind_int64(st, 5, now);
	return sqlite_done(s, st);
}

/* Unsubscribe rcpt from object coll/obj; 0 or -1. */
static int
sqlite_sub_delete(struct store *s, const char *coll, const char *obj,
    const char *rcpt)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_SUB_DEL);

	rcpt_bind_sub(st, coll, obj, rcpt);
	return sqlite_done(s, st);
}

/* rcpt's subscription to coll/obj into *out (rcpt not set): 1, or 0. */
static int
sqlite_sub_get(struct store *s, const char *coll, const char *obj,
    const char *rcpt, struct store_sub *out)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_SUB_GET);
	int found;

	memset(out, 0, sizeof *out);
	rcpt_bind_sub(st, coll, obj, rcpt);
	if ((found = sqlite_row(s, st))) {
		out->props = sqlite_json(st, 0);
		out->inserted = sqlite3_column_int64(st, 1);
		out->updated = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return found;
}

/*
 * Read up to max subscription rows of st (key, props, inserted, updated)
 * into out, then reset st; their count.
 */
static size_t
rcpt_sub_rows(struct store *s, sqlite3_stmt *st, size_t max,
    struct store_sub *out)
{
	size_t n = 0;

	while (n < max && sqlite_row(s, st)) {
		out[n].rcpt = sqlite_text(st, 0);
		out[n].props = sqlite_json(st, 1);
		out[n].inserted = sqlite3_column_int64(st, 2);
		out[n].updated = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

/* Up to max subscriptions to coll/obj after recipient key after. */
static size_t
sqlite_subs_page(struct store *s, const char *coll, const char *obj,
    const char *after, size_t max, struct store_sub *out)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_SUB_LIST);

	sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, obj, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)max);
	return rcpt_sub_rows(s, st, max, out);
}


/* rcpt's preference set called set, or NULL. */
static json_t *
sqlite_prefs_get(struct store *s, const char *rcpt, const char *set)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_PREF_GET);
	json_t *v = NULL;

	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, set, -1, SQLITE_STATIC);
	if (sqlite_row(s, st))
		v = sqlite_json(st, 0);
	sqlite3_reset(st);
	return v;
}

/* Store rcpt's preference set called set; 0 or -1. */
static int
sqlite_prefs_put(struct store *s, const char *rcpt, const char *set,
    json_t *body, int64_t now)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_PREF_PUT);

	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, set, -1, SQLITE_STATIC);
	sqlite_bind_json(st, 3, body);
	sqlite3_bind_int64(st, 4, now);
	return sqlite_done(s, st);
}

/* Whether any preference set is stored. */
static int
sqlite_prefs_exist(struct store *s)
{
	return sqlite_scalar(s, rcpt_stmt(s, RCPT_PREF_ANY), 0) != 0;
}

/* Delete tenant id: 1, 0 if there was none, or -1. */
static int
sqlite_tenant_delete(struct store *s, const char *id)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_TENANT_DEL);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return sqlite_changed(s, st);
}

/* Set a recipient's creation time (an identify's created_at); 0 or -1. */
static int
sqlite_recipient_created(struct store *s, enum store_rcpt_kind kind,
    const char *collection, const char *id, int64_t at)
{
	static const int stmts[] = { RCPT_USER_CREATED, RCPT_OBJ_CREATED,
		RCPT_TENANT_CREATED };
	sqlite3_stmt *st = rcpt_stmt(s, stmts[kind]);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, at);
	if (kind == STORE_RCPT_OBJECTS)
		sqlite3_bind_text(st, 3, collection, -1, SQLITE_STATIC);
	return sqlite_done(s, st);
}

/*
 * Up to max users, objects of a collection or tenants (by f->kind) after
 * f->after or, going back, before f->before, in id order either way, into
 * out; their count.
 */
static size_t
sqlite_recipients_page(struct store *s, const struct store_rcpt_filter *f,
    size_t max, struct store_rcpt_row *out)
{
	static const int fwd[] = { RCPT_USER_FWD, RCPT_OBJ_FWD,
		RCPT_TENANT_FWD };
	static const int back[] = { RCPT_USER_BACK, RCPT_OBJ_BACK,
		RCPT_TENANT_BACK };
	int rev = f->before != NULL;
	sqlite3_stmt *st = rcpt_stmt(s, rev ? back[f->kind] : fwd[f->kind]);
	struct store_rcpt_row tmp;
	size_t n = 0, i;

	sqlite3_bind_text(st, 1, rev ? f->before : f->after ? f->after : "",
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	if (f->kind == STORE_RCPT_OBJECTS)
		sqlite3_bind_text(st, 3, f->collection, -1, SQLITE_STATIC);
	if (f->kind == STORE_RCPT_TENANTS) {
		sqlite3_bind_text(st, 3, f->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, f->name, -1, SQLITE_STATIC);
	}
	while (n < max && sqlite_row(s, st)) {
		out[n].id = sqlite_text(st, 0);
		out[n].props = sqlite_json(st, 1);
		out[n].t.created = sqlite3_column_int64(st, 2);
		out[n].t.updated = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
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
sqlite_subs_of(struct store *s, const char *rcpt, const char *after,
    size_t max, struct store_sub *out)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_SUB_OF);

	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, after, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)max);
	return rcpt_sub_rows(s, st, max, out);
}

/* Bind (rcpt, channel) as ?1, ?2 of statement i and return it. */
static sqlite3_stmt *
rcpt_cd_stmt(struct store *s, int i, const char *rcpt, const char *channel)
{
	sqlite3_stmt *st = rcpt_stmt(s, i);

	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
	return st;
}

/* rcpt's channel data on channel (*updated its time), or NULL. */
static json_t *
sqlite_channel_data_get(struct store *s, const char *rcpt,
    const char *channel, int64_t *updated)
{
	sqlite3_stmt *st = rcpt_cd_stmt(s, RCPT_CD_GET, rcpt, channel);
	json_t *v = NULL;

	if (sqlite_row(s, st)) {
		v = sqlite_json(st, 0);
		*updated = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return v;
}

/* Store rcpt's channel data on channel; 0 or -1. */
static int
sqlite_channel_data_put(struct store *s, const char *rcpt,
    const char *channel, json_t *data, int64_t now)
{
	sqlite3_stmt *st = rcpt_cd_stmt(s, RCPT_CD_PUT, rcpt, channel);

	sqlite_bind_json(st, 3, data);
	sqlite3_bind_int64(st, 4, now);
	return sqlite_done(s, st);
}

/* Delete rcpt's channel data on channel: 1, 0 if there was none, or -1. */
static int
sqlite_channel_data_delete(struct store *s, const char *rcpt,
    const char *channel)
{
	return sqlite_changed(s, rcpt_cd_stmt(s, RCPT_CD_DEL, rcpt, channel));
}

/* rcpt's preference sets: a new object of set id -> body. */
static json_t *
sqlite_prefs_list(struct store *s, const char *rcpt)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_PREF_LIST);
	json_t *out = json_object();

	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	while (sqlite_row(s, st))
		json_object_set_new(out, (const char *)sqlite3_column_text(st,
		    0), sqlite_json(st, 1));
	sqlite3_reset(st);
	return out;
}

/* Delete rcpt's preference set: 1, 0 if there was none, or -1. */
static int
sqlite_prefs_delete(struct store *s, const char *rcpt, const char *set)
{
	return sqlite_changed(s, rcpt_cd_stmt(s, RCPT_PREF_DEL, rcpt, set));
}

/*
 * Move what recipient from has and into lacks (channel data by channel,
 * preference sets by id, subscriptions by object) to into, then drop
 * from's; 0 or -1.
 */
static int
sqlite_recipient_merge(struct store *s, const char *from, const char *into)
{
	static const int moves[] = { RCPT_MERGE_CD, RCPT_MERGE_PREF,
		RCPT_MERGE_SUB };
	static const int drops[] = { RCPT_DROP_CD, RCPT_DROP_PREF,
		RCPT_DROP_SUB };
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < 3; i++) {
		st = rcpt_cd_stmt(s, moves[i], from, into);
		if (sqlite_done(s, st) != 0)
			return -1;
		st = rcpt_stmt(s, drops[i]);
		sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
		if (sqlite_done(s, st) != 0)
			return -1;
	}
	return 0;
}

/* This file's operations, into the backend's table. */
void
sqlite_recipients_ops(struct store_ops *o)
{
	o->recipient_get = sqlite_recipient_get;
	o->users_prefetch = sqlite_users_prefetch;
	o->recipient_put = sqlite_recipient_put;
	o->recipient_delete = sqlite_recipient_delete;
	o->tenant_get = sqlite_tenant_get;
	o->tenant_put = sqlite_tenant_put;
	o->tenant_stub = sqlite_tenant_stub;
	o->sub_put = sqlite_sub_put;
	o->sub_delete = sqlite_sub_delete;
	o->sub_get = sqlite_sub_get;
	o->subs_page = sqlite_subs_page;
	o->prefs_get = sqlite_prefs_get;
	o->prefs_put = sqlite_prefs_put;
	o->prefs_exist = sqlite_prefs_exist;
	o->tenant_delete = sqlite_tenant_delete;
	o->recipient_created = sqlite_recipient_created;
	o->recipients_page = sqlite_recipients_page;
	o->subs_of = sqlite_subs_of;
	o->channel_data_get = sqlite_channel_data_get;
	o->channel_data_put = sqlite_channel_data_put;
	o->channel_data_delete = sqlite_channel_data_delete;
	o->prefs_list = sqlite_prefs_list;
	o->prefs_delete = sqlite_prefs_delete;
	o->recipient_merge = sqlite_recipient_merge;
}
