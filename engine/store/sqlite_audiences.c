/*
 * The SQLite backend's audiences: the members of static audiences, each a
 * user with an optional tenant (stored as '' when there is none), paged
 * in (user, tenant) order either way from a cursor.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	AUD_ADD, AUD_DEL, AUD_DEL_USER, AUD_HAS, AUD_ANY, AUD_UP, AUD_DOWN,
	AUD_COUNT
};
static const char *const aud_sql[AUD_COUNT] = {
	[AUD_ADD] = "INSERT OR IGNORE INTO audience_members(audience, user_id,"
	    " tenant, added_at) VALUES(?1, ?2, ?3, ?4)",
	[AUD_DEL] = "DELETE FROM audience_members WHERE audience = ?1 AND"
	    " user_id = ?2 AND tenant = ?3",
	[AUD_DEL_USER] = "DELETE FROM audience_members WHERE user_id = ?1",
	[AUD_HAS] = "SELECT EXISTS(SELECT 1 FROM audience_members WHERE"
	    " audience = ?1 AND user_id = ?2 AND tenant IN ('', ?3))",
	[AUD_ANY] = "SELECT EXISTS(SELECT 1 FROM audience_members WHERE"
	    " audience = ?1)",
	[AUD_UP] = "SELECT user_id, tenant, added_at FROM audience_members"
	    " WHERE audience = ?1 AND (user_id, tenant) > (?2, ?3) ORDER BY"
	    " user_id, tenant LIMIT ?4",
	[AUD_DOWN] = "SELECT user_id, tenant, added_at FROM audience_members"
	    " WHERE audience = ?1 AND (user_id, tenant) < (?2, ?3) ORDER BY"
	    " user_id DESC, tenant DESC LIMIT ?4",
};
const struct sqlite_sql sqlite_audiences_sql = { aud_sql, AUD_COUNT };

/* Bind (audience, user, tenant or '') as ?1..?3 of statement i. */
static sqlite3_stmt *
aud_bind(struct store *s, int i, const char *audience, const char *user,
    const char *tenant)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_AUDIENCES, i);

	sqlite3_bind_text(st, 1, audience, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, tenant ? tenant : "", -1, SQLITE_STATIC);
	return st;
}

/* Add user (in tenant, or NULL) to audience at now, unless there; 0/-1. */
static int
sqlite_audience_add(struct store *s, const char *audience, const char *user,
    const char *tenant, int64_t now)
{
	sqlite3_stmt *st = aud_bind(s, AUD_ADD, audience, user, tenant);

	sqlite3_bind_int64(st, 4, now);
	return sqlite_done(s, st);
}

/* Remove user (in tenant, or NULL) from audience; 0 or -1. */
static int
sqlite_audience_remove(struct store *s, const char *audience,
    const char *user, const char *tenant)
{
	return sqlite_done(s, aud_bind(s, AUD_DEL, audience, user, tenant));
}

/* Remove user from every audience; 0 or -1. */
static int
sqlite_audience_remove_user(struct store *s, const char *user)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_AUDIENCES, AUD_DEL_USER);

	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	return sqlite_done(s, st);
}

/* Whether user is in audience without a tenant or in tenant: 1 or 0. */
static int
sqlite_audience_has(struct store *s, const char *audience, const char *user,
    const char *tenant)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_AUDIENCES, AUD_HAS);

	sqlite3_bind_text(st, 1, audience, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	if (tenant != NULL)
		sqlite3_bind_text(st, 3, tenant, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	return sqlite_scalar(s, st, 0) != 0;
}

/* Whether audience has any member: 1 or 0. */
static int
sqlite_audience_exists(struct store *s, const char *audience)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_AUDIENCES, AUD_ANY);

	sqlite3_bind_text(st, 1, audience, -1, SQLITE_STATIC);
	return sqlite_scalar(s, st, 0) != 0;
}

/*
 * Up to max members of audience after (user, tenant) in their order, or
 * before it when backward (nearest first), into out; their count.
 */
static size_t
sqlite_audience_page(struct store *s, const char *audience, const char *user,
    const char *tenant, int backward, size_t max, struct store_member *out)
{
	sqlite3_stmt *st = aud_bind(s, backward ? AUD_DOWN : AUD_UP, audience,
	    user, tenant);
	size_t n = 0;

	sqlite3_bind_int64(st, 4, (int64_t)max);
	while (n < max && sqlite_row(s, st)) {
		out[n].user = sqlite_text(st, 0);
		out[n].tenant = sqlite_text(st, 1);
		if (out[n].tenant[0] == '\0') {
			free(out[n].tenant);
			out[n].tenant = NULL;
		}
		out[n].added = sqlite3_column_int64(st, 2);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

/* This file's operations, into the backend's table. */
void
sqlite_audiences_ops(struct store_ops *o)
{
	o->audience_add = sqlite_audience_add;
	o->audience_remove = sqlite_audience_remove;
	o->audience_remove_user = sqlite_audience_remove_user;
	o->audience_has = sqlite_audience_has;
	o->audience_exists = sqlite_audience_exists;
	o->audience_page = sqlite_audience_page;
}
