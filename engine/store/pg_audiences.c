/*
 * The PostgreSQL backend's audiences: the members of static audiences, each
 * a user with an optional tenant (stored as '' when there is none), paged
 * in (user, tenant) order either way from a cursor.  The key columns
 * collate as "C" (pg.c), so the order is SQLite's, byte by byte, whatever
 * the database's locale.  An add racing another node's add of the same
 * member keeps the first added_at, as SQLite's INSERT OR IGNORE does.
 */
#include <stdlib.h>

#include "engine/store/pg_int.h"

/* The statements of this file. */
enum {
	AUD_ADD, AUD_DEL, AUD_DEL_USER, AUD_HAS, AUD_ANY, AUD_UP, AUD_DOWN,
	AUDIENCES_COUNT
};
static const char *const audiences_sql[AUDIENCES_COUNT] = {
	[AUD_ADD] = "INSERT INTO audience_members(audience, user_id, tenant,"
	    " added_at) VALUES($1::text, $2::text, $3::text, $4::bigint)"
	    " ON CONFLICT DO NOTHING",
	[AUD_DEL] = "DELETE FROM audience_members WHERE audience = $1::text"
	    " AND user_id = $2::text AND tenant = $3::text",
	[AUD_DEL_USER] = "DELETE FROM audience_members WHERE user_id ="
	    " $1::text",
	[AUD_HAS] = "SELECT EXISTS(SELECT 1 FROM audience_members WHERE"
	    " audience = $1::text AND user_id = $2::text AND tenant IN ('',"
	    " $3::text))",
	[AUD_ANY] = "SELECT EXISTS(SELECT 1 FROM audience_members WHERE"
	    " audience = $1::text)",
	[AUD_UP] = "SELECT user_id, tenant, added_at FROM audience_members"
	    " WHERE audience = $1::text AND (user_id, tenant) > ($2::text,"
	    " $3::text) ORDER BY user_id, tenant LIMIT $4::bigint",
	[AUD_DOWN] = "SELECT user_id, tenant, added_at FROM audience_members"
	    " WHERE audience = $1::text AND (user_id, tenant) < ($2::text,"
	    " $3::text) ORDER BY user_id DESC, tenant DESC LIMIT $4::bigint",
};
const struct pg_sql pg_audiences_sql = { audiences_sql, AUDIENCES_COUNT };

/* Append (audience, user, tenant or '') to a as $1..$3. */
static void
aud_args(struct pg_args *a, const char *audience, const char *user,
    const char *tenant)
{
	pg_arg_text(a, audience);
	pg_arg_text(a, user);
	pg_arg_text(a, tenant != NULL ? tenant : "");
}

/* Add user (in tenant, or NULL) to audience at now, unless there; 0/-1. */
static int
pg_audience_add(struct store *s, const char *audience, const char *user,
    const char *tenant, int64_t now)
{
	struct pg_args a = { 0 };

	aud_args(&a, audience, user, tenant);
	pg_arg_int(&a, now);
	return pg_done(s, PG_AUDIENCES, AUD_ADD, &a);
}

/* Remove user (in tenant, or NULL) from audience; 0 or -1. */
static int
pg_audience_remove(struct store *s, const char *audience, const char *user,
    const char *tenant)
{
	struct pg_args a = { 0 };

	aud_args(&a, audience, user, tenant);
	return pg_done(s, PG_AUDIENCES, AUD_DEL, &a);
}

/* Remove user from every audience; 0 or -1. */
static int
pg_audience_remove_user(struct store *s, const char *user)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, user);
	return pg_done(s, PG_AUDIENCES, AUD_DEL_USER, &a);
}

/* Whether user is in audience without a tenant or in tenant: 1 or 0. */
static int
pg_audience_has(struct store *s, const char *audience, const char *user,
    const char *tenant)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, audience);
	pg_arg_text(&a, user);
	pg_arg_text(&a, tenant);
	return pg_scalar(s, PG_AUDIENCES, AUD_HAS, &a, 0) != 0;
}

/* Whether audience has any member: 1 or 0. */
static int
pg_audience_exists(struct store *s, const char *audience)
{
	struct pg_args a = { 0 };

	pg_arg_text(&a, audience);
	return pg_scalar(s, PG_AUDIENCES, AUD_ANY, &a, 0) != 0;
}

/*
 * Up to max members of audience after (user, tenant) in their order, or
 * before it when backward (nearest first), into out; their count.
 */
static size_t
pg_audience_page(struct store *s, const char *audience, const char *user,
    const char *tenant, int backward, size_t max, struct store_member *out)
{
	struct pg_args a = { 0 };
	PGresult *r;
	size_t n, i;

	aud_args(&a, audience, user, tenant);
	pg_arg_int(&a, (int64_t)max);
	if ((r = pg_run(s, PG_AUDIENCES, backward ? AUD_DOWN : AUD_UP,
	    &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		out[i].user = pg_text(r, (int)i, 0);
		out[i].tenant = pg_text(r, (int)i, 1);
		if (out[i].tenant[0] == '\0') {
			free(out[i].tenant);
			out[i].tenant = NULL;
		}
		out[i].added = pg_int(r, (int)i, 2);
	}
	PQclear(r);
	return n;
}

/* This file's operations, into the backend's table. */
void
pg_audiences_ops(struct store_ops *o)
{
	o->audience_add = pg_audience_add;
	o->audience_remove = pg_audience_remove;
	o->audience_remove_user = pg_audience_remove_user;
	o->audience_has = pg_audience_has;
	o->audience_exists = pg_audience_exists;
	o->audience_page = pg_audience_page;
}
