/*
 * The schedules API: create, update, delete, list, get and preview
 * (POST/PUT/DELETE/GET /v1/schedules, the per-recipient lists).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schedules/sched_int.h"

/* POST /v1/schedules. */
enum eng_status
eng_schedules_create(struct eng *e, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	json_t *out = json_array();
	enum eng_status rc;

	if (json_object_get(body, "id") != NULL) {
		json_decref(out);
		*cause = xstrdup("\"id\": ids are assigned by belfry (config "
		    "files name their schedules)");
		return ENG_INVALID;
	}
	if ((rc = sched_create(e, body, now, "api", NULL, NULL, NULL, out,
	    cause)) != ENG_OK) {
		json_decref(out);
		return rc;
	}
	*reply = out;
	return ENG_OK;
}

/* The row keys named by body's schedule_ids; NULL with *cause. */
static int64_t *
sched_ids(struct eng *e, json_t *body, size_t *n, char **cause)
{
	json_t *ids = json_object_get(body, "schedule_ids"), *v;
	int64_t *out;
	uint64_t a, b;
	size_t i;

	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > 1000) {
		*cause = xstrdup("\"schedule_ids\": expected an array of "
		    "1..1000 schedule ids");
		return NULL;
	}
	out = xcalloc(json_array_size(ids), sizeof *out);
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v) || eng_id_parse(e, ENG_ID_SCHED,
		    json_string_value(v), &a, &b) != 0) {
			*cause = xasprintf("\"schedule_ids[%zu]\": not a "
			    "schedule id", i);
			free(out);
			return NULL;
		}
		out[i] = (int64_t)a;
	}
	*n = json_array_size(ids);
	return out;
}

/* Apply PUT fields to one row (and a template's children). */
static enum eng_status
sched_update_one(struct eng *e, struct store_sched *s, json_t *body,
    int64_t now, char **cause)
{
	json_t *def = sched_def_json(s), *v;
	struct sched_def d;
	enum eng_status rc;
	const char *k, *field;
	char *actor = NULL, *tenant = NULL;
	int was;

	json_object_foreach(body, k, v) {
		if (strcmp(k, "schedule_ids") == 0 || strcmp(k, "recipients")
		    == 0)
			continue;
		if (strcmp(k, "repeats") == 0)
			json_object_del(def, "rrule");
		else if (strcmp(k, "rrule") == 0)
			json_object_del(def, "repeats");
		json_object_set(def, k, v);
	}
	if ((rc = sched_check(e->cfg, def, &d, &field, cause)) != ENG_OK)
		goto out;
	if (d.actor != NULL && (actor = sched_rcpt(e, d.actor, now, &rc,
	    cause)) == NULL)
		goto out;
	tenant = sched_tenant(e, d.tenant, now, &rc, cause);
	if (rc != ENG_OK)
		goto out;
	was = sched_is_template(s);
	sched_fill(s, &d, actor, tenant);
	s->updated = now;
	sched_plan(e, s, now);
	if (sched_write(e, s, was, now) != 0) {
		*cause = xstrdup("store failure");
		rc = ENG_INTERNAL;
	}
out:
	free(actor);
	free(tenant);
	sched_def_clear(&d);
	json_decref(def);
	return rc;
}

/* PUT /v1/schedules. */
enum eng_status
eng_schedules_update(struct eng *e, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	enum eng_status rc = ENG_OK;
	struct store_sched s;
	json_t *out;
	int64_t *ids;
	size_t n = 0, i;
	char id[37];

	if ((ids = sched_ids(e, body, &n, cause)) == NULL)
		return ENG_INVALID;
	out = json_array();
	for (i = 0; i < n && rc == ENG_OK; i++) {
		if (sched_get(e, ids[i], &s) != 0) {
			eng_id_format(e, ENG_ID_SCHED, (uint64_t)ids[i], 0, id);
			*cause = xasprintf("schedule \"%s\" not found", id);
			rc = ENG_NOT_FOUND;
			break;
		}
		if ((rc = sched_owned(e, &s, cause)) == ENG_OK &&
		    (rc = sched_update_one(e, &s, body, now, cause)) == ENG_OK)
			json_array_append_new(out, sched_json(e, &s));
		store_sched_clear(&s);
	}
	free(ids);
	if (rc != ENG_OK) {
		json_decref(out);
		return rc;
	}
	*reply = out;
	return ENG_OK;
}

/* DELETE /v1/schedules. */
enum eng_status
eng_schedules_delete(struct eng *e, json_t *body, json_t **reply,
    char **cause)
{
	enum eng_status rc = ENG_OK;
	struct store_sched s;
	json_t *out;
	int64_t *ids;
	size_t n = 0, i;

	if ((ids = sched_ids(e, body, &n, cause)) == NULL)
		return ENG_INVALID;
	out = json_array();
	for (i = 0; i < n && rc == ENG_OK; i++) {
		if (sched_get(e, ids[i], &s) != 0)
			continue;
		if ((rc = sched_owned(e, &s, cause)) != ENG_OK) {
			store_sched_clear(&s);
			break;
		}
		json_array_append_new(out, sched_json(e, &s));
		store_sched_clear(&s);
		if (store_sched_delete(e->store, ids[i]) != 0) {
			*cause = xstrdup("store failure");
			rc = ENG_INTERNAL;
		}
	}
	free(ids);
	if (rc != ENG_OK) {
		json_decref(out);
		return rc;
	}
	*reply = out;
	return ENG_OK;
}

/*
 * The recipient keys of a list query's "recipients" filter, as a JSON
 * array (NULL when there is none, with *rc ENG_OK): user ids and
 * {id, collection} object references, as route.c normalises
 * recipients[]=u1, recipients[][id]=..&recipients[][collection]=.. and
 * recipients[0][id]=...
 */
static json_t *
sched_filter_rcpts(json_t *q, enum eng_status *rc, char **cause)
{
	json_t *keys = json_array(), *v = eng_query_list(q, "recipients"), *x;
	const char *id;
	char *text;
	size_t i;

	*rc = ENG_OK;
	json_array_foreach(v, i, x) {
		id = json_is_object(x) ? json_string_value(json_object_get(x,
		    "id")) : json_string_value(x);
		if (id == NULL || *id == '\0') {
			json_decref(keys);
			*cause = xstrdup("\"recipients\": expected recipient ids "
			    "or {id, collection} references");
			*rc = ENG_INVALID;
			return NULL;
		}
		text = eng_rcpt_key(json_string_value(json_object_get(x,
		    "collection")), id);
		json_array_append_new(keys, json_string(text));
		free(text);
	}
	if (json_array_size(keys) == 0) {
		json_decref(keys);
		return NULL;
	}
	return keys;
}

/* A page of rows by workflow and/or recipient key; Knock's list shape. */
static enum eng_status
sched_list(struct eng *e, const char *wf, const char *rcpt, int top,
    json_t *q, json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *before = json_string_value(json_object_get(q, "before"));
	const char *ps = json_string_value(json_object_get(q, "page_size"));
	json_t *entries = json_array();
	struct store_sched_filter f;
	enum eng_status rc;
	uint64_t a = 0, b;
	int size = 50, n, i, k, more;
	char first[37] = "", last[37] = "";
	struct store_sched *rows;

	if (ps != NULL && ((size = atoi(ps)) < 1 || size > 1000)) {
		json_decref(entries);
		*cause = xstrdup("\"page_size\" must be an integer 1..1000");
		return ENG_INVALID;
	}
	if (after != NULL && before != NULL) {
		json_decref(entries);
		*cause = xstrdup("give \"after\" or \"before\", not both");
		return ENG_INVALID;
	}
	if ((after != NULL && eng_id_parse(e, ENG_ID_SCHED, after, &a, &b)) ||
	    (before != NULL && eng_id_parse(e, ENG_ID_SCHED, before, &a,
	    &b))) {
		json_decref(entries);
		*cause = xstrdup(after ? "bad \"after\" cursor" :
		    "bad \"before\" cursor");
		return ENG_INVALID;
	}
	memset(&f, 0, sizeof f);
	f.workflow = wf;
	f.rcpt = rcpt;
	f.parent = SCHED_NONE;
	f.after = (int64_t)a;
	f.backward = before != NULL;
	f.top = top;
	f.tenant = json_string_value(json_object_get(q, "tenant"));
	if ((f.rcpts = sched_filter_rcpts(q, &rc, cause)) == NULL &&
	    rc != ENG_OK) {
		json_decref(entries);
		return rc;
	}
	/* One more than a page says whether there is more beyond it. */
	rows = xcalloc((size_t)size + 1, sizeof *rows);
	n = (int)store_sched_list(e->store, &f, (size_t)size + 1, rows);
	if ((more = n > size)) {
		n = size;
		store_sched_clear(&rows[f.backward ? 0 : n]);
	}
	for (i = 0; i < n; i++) {
		k = f.backward && more ? i + 1 : i;
		json_array_append_new(entries, sched_json(e, &rows[k]));
		eng_id_format(e, ENG_ID_SCHED, (uint64_t)rows[k].seq, 0, last);
		if (i == 0)
			memcpy(first, last, sizeof first);
		store_sched_clear(&rows[k]);
	}
	free(rows);
	json_decref(f.rcpts);
	*reply = json_pack("{s:o, s:o}", "entries", entries, "page_info",
	    eng_page_info(n > 0 ? first : NULL, n > 0 ? last : NULL,
	    after != NULL, f.backward, more, size));
	return ENG_OK;
}

/* GET /v1/schedules (workflow, recipient, after, page_size). */
enum eng_status
eng_schedules_list(struct eng *e, json_t *q, json_t **reply, char **cause)
{
	return sched_list(e, json_string_value(json_object_get(q,
	    "workflow")), json_string_value(json_object_get(q, "recipient")),
	    1, q, reply, cause);
}

/* The workflows stored schedules name, with their row counts. */
json_t *
eng_schedules_workflows(struct eng *e)
{
	return store_sched_workflows(e->store);
}

/* GET /v1/schedules/{id}. */
enum eng_status
eng_schedule_get(struct eng *e, const char *id, json_t **reply,
    char **cause)
{
	struct store_sched s;
	uint64_t a, b;

	if (eng_id_parse(e, ENG_ID_SCHED, id, &a, &b) != 0 ||
	    sched_get(e, (int64_t)a, &s) != 0) {
		*cause = xasprintf("schedule \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	*reply = sched_json(e, &s);
	store_sched_clear(&s);
	return ENG_OK;
}

/* GET /v1/users/{id}/schedules and /v1/objects/{c}/{id}/schedules. */
enum eng_status
eng_schedules_of(struct eng *e, const char *collection, const char *id,
    json_t *q, json_t **reply, char **cause)
{
	char *key = eng_rcpt_key(collection, id);
	enum eng_status rc;

	rc = sched_list(e, json_string_value(json_object_get(q, "workflow")),
	    key, 0, q, reply, cause);
	free(key);
	return rc;
}

/* The next count fires of one (non-template) row after now, as JSON. */
static json_t *
sched_preview_row(struct eng *e, const struct store_sched *s, int count,
    int64_t now)
{
	struct tz_zone *z = sched_zone(e, s);
	struct tz_recur *r = sched_recur(e, s);
	json_t *fires = json_array(), *o;
	int64_t after, t;
	char *owned;
	int i;

	after = s->next != SCHED_NONE ? s->next - 1 : now - 1;
	if (s->last != SCHED_NONE && s->last > after)
		after = s->last;
	for (i = 0; i < count && !s->paused; i++) {
		if (sched_next_with(s, r, z, after, &t, NULL) != 0)
			break;
		json_array_append_new(fires, sched_iso(t));
		after = t;
	}
	o = json_pack("{s:o, s:s, s:s, s:o}", "recipient",
	    eng_rcpt_ref(s->rcpt), "timezone", sched_zone_name(e, s, &owned),
	    "dtstart", s->dtstart, "fires", fires);
	free(owned);
	return o;
}

/* sched_each callback: append a child's preview to the array in arg. */
static int
sched_preview_cb(struct eng *e, struct store_sched *s, void *arg)
{
	json_t *a = arg;
	int count = (int)json_integer_value(json_object_get(a, "count"));
	int64_t now = json_integer_value(json_object_get(a, "now"));

	json_array_append_new(json_object_get(a, "out"),
	    sched_preview_row(e, s, count, now));
	return 0;
}

/* The next count fires of schedule id per recipient. */
enum eng_status
eng_schedule_preview(struct eng *e, const char *id, int count, int64_t now,
    json_t **reply, char **cause)
{
	struct store_sched s;
	uint64_t a, b;
	json_t *out, *arg;

	if (eng_id_parse(e, ENG_ID_SCHED, id, &a, &b) != 0 ||
	    sched_get(e, (int64_t)a, &s) != 0) {
		*cause = xasprintf("schedule \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	if (count < 1 || count > 10000) {
		store_sched_clear(&s);
		*cause = xstrdup("\"count\" must be 1..10000");
		return ENG_INVALID;
	}
	out = json_array();
	if (sched_is_template(&s)) {
		arg = json_pack("{s:i, s:I, s:O}", "count", count, "now",
		    (json_int_t)now, "out", out);
		sched_each(e, NULL, NULL, s.seq, sched_preview_cb, arg);
		json_decref(arg);
	} else
		json_array_append_new(out, sched_preview_row(e, &s, count,
		    now));
	*reply = json_pack("{s:s, s:s, s:o}", "schedule_id", id, "workflow",
	    s.workflow, "recipients", out);
	store_sched_clear(&s);
	return ENG_OK;
}
