/*
 * Audiences: Knock's static audiences, sets of users (each in a tenant or
 * not) that exist while they have members.  Members are added, listed
 * and removed through /v1/audiences/{key}/members, and workflow
 * conditions ask whether a run's recipient is one (eng_audience_member).
 *
 * A page cursor is the member's user id, followed by '#' and its tenant
 * when it has one: user ids never contain '#'.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define AUD_MAX_MEMBERS 1000
#define AUD_PAGE_MAX 100

/* A checked member of a request: its user and tenant (NULL: none). */
struct aud_req {
	json_t *user;
	const char *id, *tenant;
};

/* Check members[i] of a body into *m; 0 or -1 with *cause. */
static int
aud_member(json_t *v, size_t i, struct aud_req *m, char **cause)
{
	json_t *t = json_object_get(v, "tenant");

	m->user = json_object_get(v, "user");
	m->id = json_string_value(json_object_get(m->user, "id"));
	if (!json_is_object(v) || !json_is_object(m->user) ||
	    !eng_recipient_valid_id(m->id)) {
		*cause = xasprintf("members[%zu]: \"user\" must be an object "
		    "with a valid \"id\"", i);
		return -1;
	}
	if (t != NULL && !json_is_null(t) &&
	    (!json_is_string(t) || !eng_recipient_valid_id(
	    json_string_value(t)))) {
		*cause = xasprintf("members[%zu]: \"tenant\" must be a tenant "
		    "id or null", i);
		return -1;
	}
	m->tenant = json_string_value(t);
	return 0;
}

/* Check an audience key; 0 or -1 with *cause. */
static int
aud_key(const char *key, char **cause)
{
	if (!eng_recipient_valid_id(key)) {
		*cause = xstrdup("an audience key must be 1..256 characters "
		    "without '/' or '#'");
		return -1;
	}
	return 0;
}

/*
 * The checked key and "members" of a request as *n members (the array
 * the caller's to free, its strings borrowed from body), or NULL with
 * *cause.
 */
static struct aud_req *
aud_request(const char *key, json_t *body, size_t *n, char **cause)
{
	json_t *ms = json_object_get(body, "members"), *v;
	struct aud_req *m;
	size_t i;

	if (aud_key(key, cause) != 0)
		return NULL;
	if (!json_is_array(ms) || json_array_size(ms) == 0 ||
	    json_array_size(ms) > AUD_MAX_MEMBERS) {
		*cause = xasprintf("\"members\" must be an array of 1..%d "
		    "members", AUD_MAX_MEMBERS);
		return NULL;
	}
	m = xcalloc(json_array_size(ms), sizeof *m);
	json_array_foreach(ms, i, v) {
		if (aud_member(v, i, &m[i], cause) != 0) {
			free(m);
			return NULL;
		}
	}
	*n = json_array_size(ms);
	return m;
}

/*
 * POST /v1/audiences/{key}/members: identify each inline user and add it
 * (query create_audience=false: only to an audience that has members).
 */
enum eng_status
eng_audience_add(struct eng *e, const char *key, json_t *body,
    json_t *query, int64_t now, char **cause)
{
	const char *create = json_string_value(json_object_get(query,
	    "create_audience"));
	enum eng_status rc = ENG_OK;
	struct aud_req *m;
	size_t i, n;

	if ((m = aud_request(key, body, &n, cause)) == NULL)
		return ENG_INVALID;
	if (create != NULL && strcmp(create, "false") == 0 &&
	    !store_audience_exists(e->store, key)) {
		*cause = xasprintf("audience \"%.64s\" not found", key);
		rc = ENG_NOT_FOUND;
	}
	for (i = 0; rc == ENG_OK && i < n; i++) {
		if (json_object_size(m[i].user) > 1)
			rc = eng_identify(e, m[i].user, now, cause);
		if (rc == ENG_OK && store_audience_add(e->store, key, m[i].id,
		    m[i].tenant, now) != 0)
			rc = ENG_INTERNAL;
	}
	free(m);
	return rc;
}

/* DELETE /v1/audiences/{key}/members: remove each (user, tenant). */
enum eng_status
eng_audience_remove(struct eng *e, const char *key, json_t *body,
    char **cause)
{
	enum eng_status rc = ENG_OK;
	struct aud_req *m;
	size_t i, n;

	if ((m = aud_request(key, body, &n, cause)) == NULL)
		return ENG_INVALID;
	for (i = 0; rc == ENG_OK && i < n; i++)
		if (store_audience_remove(e->store, key, m[i].id,
		    m[i].tenant) != 0)
			rc = ENG_INTERNAL;
	free(m);
	return rc;
}

/* The cursor of member m. */
static char *
aud_cursor(const struct store_member *m)
{
	return m->tenant ? xasprintf("%s#%s", m->user, m->tenant) :
	    xstrdup(m->user);
}

/* Knock's AudienceMember shape of m, whose user it takes. */
static json_t *
aud_member_json(struct eng *e, struct store_member *m)
{
	char at[32];

	eng_iso(m->added, at, sizeof at);
	return json_pack("{s:s, s:s, s:o, s:s, s:s?}", "__typename",
	    "AudienceMember", "added_at", at, "user", eng_rcpt_entity(e,
	    m->user), "user_id", m->user, "tenant", m->tenant);
}

/* GET /v1/audiences/{key}/members (query: after, before, page_size). */
enum eng_status
eng_audience_list(struct eng *e, const char *key, json_t *query,
    json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(query, "after"));
	const char *before = json_string_value(json_object_get(query,
	    "before"));
	struct store_member ms[AUD_PAGE_MAX + 1], t;
	char *cur, *hash, *first = NULL, *last = NULL;
	int size, backward = before != NULL && after == NULL;
	size_t n, i, lo;
	json_t *entries;

	if (aud_key(key, cause) != 0 || eng_query_page_size(query, 50,
	    AUD_PAGE_MAX, &size, cause) != 0)
		return ENG_INVALID;
	cur = xstrdup(backward ? before : after ? after : "");
	if ((hash = strchr(cur, '#')) != NULL)
		*hash++ = '\0';
	n = store_audience_page(e->store, key, cur, hash ? hash : "",
	    backward, (size_t)size + 1, ms);
	free(cur);
	lo = n > (size_t)size ? n - (size_t)size : 0;
	if (backward) {
		/* nearest first: the page is the first size rows, reversed */
		for (i = 0; i < n / 2; i++) {
			t = ms[i];
			ms[i] = ms[n - 1 - i];
			ms[n - 1 - i] = t;
		}
	} else
		lo = 0;
	entries = json_array();
	for (i = lo; i < lo + (n > (size_t)size ? (size_t)size : n); i++)
		json_array_append_new(entries, aud_member_json(e, &ms[i]));
	if (json_array_size(entries) > 0) {
		first = aud_cursor(&ms[lo]);
		last = aud_cursor(&ms[lo + json_array_size(entries) - 1]);
	}
	*reply = json_pack("{s:o, s:o}", "entries", entries, "page_info",
	    eng_page_info(first, last, after != NULL, backward,
	    n > (size_t)size, size));
	free(first);
	free(last);
	for (i = 0; i < n; i++)
		store_member_clear(&ms[i]);
	return ENG_OK;
}

/* Whether recipient key rcpt of a run in tenant (or NULL) is a member. */
int
eng_audience_member(struct eng *e, const char *key, const char *rcpt,
    const char *tenant)
{
	return store_audience_has(e->store, key, rcpt, tenant);
}
