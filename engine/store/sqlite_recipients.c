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
	RCPT_TENANT_DEL,
	RCPT_COUNT
};
static const char *const rcpt_sql[RCPT_COUNT] = {
	[RCPT_TENANT_DEL] = "DELETE FROM tenants WHERE id = ?1",
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

/* A user's (collection NULL) or an object's properties, or NULL. */
json_t *
store_recipient_get(struct store *s, const char *collection, const char *id,
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
int
store_recipient_put(struct store *s, const char *collection, const char *id,
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
int
store_recipient_delete(struct store *s, const char *collection,
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
json_t *
store_tenant_get(struct store *s, const char *id, struct store_times *t)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_TENANT_GET);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return rcpt_props_row(s, st, t);
}

/* Store a tenant's properties (created_at kept); 0 or -1. */
int
store_tenant_put(struct store *s, const char *id, json_t *props, int64_t now)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_TENANT_PUT);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite_bind_json(st, 2, props);
	sqlite3_bind_int64(st, 3, now);
	return sqlite_done(s, st);
}

/* Delete tenant id: 1, 0 if there was none, or -1. */
int
store_tenant_delete(struct store *s, const char *id)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_TENANT_DEL);

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return sqlite_changed(s, st);
}

/* Create tenant id with no properties unless it exists; 0 or -1. */
int
store_tenant_stub(struct store *s, const char *id, int64_t now)
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
int
store_sub_put(struct store *s, const char *coll, const char *obj,
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
int
store_sub_delete(struct store *s, const char *coll, const char *obj,
    const char *rcpt)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_SUB_DEL);

	rcpt_bind_sub(st, coll, obj, rcpt);
	return sqlite_done(s, st);
}

/* rcpt's subscription to coll/obj into *out (rcpt not set): 1, or 0. */
int
store_sub_get(struct store *s, const char *coll, const char *obj,
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

/* Up to max subscriptions to coll/obj after recipient key after. */
size_t
store_subs_page(struct store *s, const char *coll, const char *obj,
    const char *after, size_t max, struct store_sub *out)
{
	sqlite3_stmt *st = rcpt_stmt(s, RCPT_SUB_LIST);
	size_t n = 0;

	sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, obj, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)max);
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

/* Free what a subscription holds. */
void
store_sub_clear(struct store_sub *sub)
{
	free(sub->rcpt);
	json_decref(sub->props);
	memset(sub, 0, sizeof *sub);
}

/* rcpt's preference set called set, or NULL. */
json_t *
store_prefs_get(struct store *s, const char *rcpt, const char *set)
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
int
store_prefs_put(struct store *s, const char *rcpt, const char *set,
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
int
store_prefs_exist(struct store *s)
{
	return sqlite_scalar(s, rcpt_stmt(s, RCPT_PREF_ANY), 0) != 0;
}
