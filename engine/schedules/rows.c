/*
 * Writing schedule rows from a definition: one row per recipient (an
 * object's schedule fires for the object itself), and, for a
 * per-subscriber template, one child row per subscriber, created with the
 * template, updated with it, and added or removed when the object's
 * subscriptions change, so every member fires in their own zone.
 * Config-defined rows belong to their files: the API may not change them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schedules/sched_int.h"

/*
 * The rcpt key of a recipient spec (a user id, or {id, collection?} with
 * optional properties, which identify it first).  NULL with *cause.
 */
char *
sched_rcpt(struct eng *e, json_t *r, int64_t now, enum eng_status *rc,
    char **cause)
{
	const char *id, *coll;

	*rc = ENG_INVALID;
	if (json_is_string(r)) {
		id = json_string_value(r);
		if (!eng_recipient_valid_id(id)) {
			*cause = xasprintf("recipient \"%.64s\": bad id", id);
			return NULL;
		}
		return xstrdup(id);
	}
	id = json_string_value(json_object_get(r, "id"));
	coll = json_string_value(json_object_get(r, "collection"));
	if (id == NULL || !eng_recipient_valid_id(id) || (coll != NULL &&
	    !eng_recipient_valid_id(coll)) || (json_object_get(r,
	    "collection") != NULL && coll == NULL)) {
		*cause = xstrdup("each recipient must be a user id or an "
		    "object with a good \"id\" (and \"collection\")");
		return NULL;
	}
	if (json_object_size(r) > (coll ? 2u : 1u) &&
	    (*rc = eng_identify(e, r, now, cause)) != ENG_OK)
		return NULL;
	*rc = ENG_OK;
	return eng_rcpt_key(coll, id);
}

/* The tenant id of a definition's tenant, stored as given; NULL if none. */
char *
sched_tenant(struct eng *e, json_t *v, int64_t now, enum eng_status *rc,
    char **cause)
{
	json_t *reply = NULL;

	*rc = ENG_OK;
	if (v == NULL)
		return NULL;
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_object_size(v) > 1) {
		if ((*rc = eng_tenant_put(e, json_string_value(
		    json_object_get(v, "id")), v, now, &reply, cause)) !=
		    ENG_OK)
			return NULL;
		json_decref(reply);
	}
	return xstrdup(json_string_value(json_object_get(v, "id")));
}

/* Copy a checked definition's fields into row s (resolved actor/tenant). */
void
sched_fill(struct store_sched *s, const struct sched_def *d, const char *actor,
    const char *tenant)
{
	free(s->workflow);
	s->workflow = xstrdup(d->workflow);
	free(s->actor);
	s->actor = actor ? xstrdup(actor) : NULL;
	free(s->tenant);
	s->tenant = tenant ? xstrdup(tenant) : NULL;
	free(s->data);
	s->data = d->data ? eng_json_dumps(d->data, JSON_COMPACT |
	    JSON_ENCODE_ANY) : NULL;
	free(s->repeats);
	s->repeats = d->repeats ? eng_json_dumps(d->repeats, JSON_COMPACT |
	    JSON_ENCODE_ANY) : NULL;
	free(s->rule);
	s->rule = d->rule ? xstrdup(d->rule) : NULL;
	free(s->exdates);
	s->exdates = d->exdates ? xstrdup(d->exdates) : NULL;
	s->start_at = d->start_at;
	s->ending_at = d->ending_at;
	free(s->timezone);
	s->timezone = d->timezone ? xstrdup(d->timezone) : NULL;
	free(s->gap);
	s->gap = xstrdup(d->gap);
	free(s->overlap);
	s->overlap = xstrdup(d->overlap);
	s->catchup = d->catchup;
	s->paused = d->paused;
	s->per_sub = d->per_sub && s->parent == SCHED_NONE &&
	    strchr(s->rcpt, '/') != NULL;
}

/* Copy a template's definition into a child row for subscriber rcpt. */
static void
sched_copy(struct store_sched *c, const struct store_sched *t)
{
	free(c->workflow);
	c->workflow = xstrdup(t->workflow);
#define SCHED_DUP(f) do { free(c->f); c->f = t->f ? xstrdup(t->f) : NULL; } \
	while (0)
	SCHED_DUP(actor);
	SCHED_DUP(tenant);
	SCHED_DUP(data);
	SCHED_DUP(repeats);
	SCHED_DUP(rule);
	SCHED_DUP(exdates);
	SCHED_DUP(timezone);
	SCHED_DUP(gap);
	SCHED_DUP(overlap);
	SCHED_DUP(source);
	SCHED_DUP(config_id);
#undef SCHED_DUP
	c->start_at = t->start_at;
	c->ending_at = t->ending_at;
	c->catchup = t->catchup;
	c->paused = t->paused;
}

/* Insert the child row of template t for subscriber rcpt (not its actor). */
int
sched_child_add(struct eng *e, const struct store_sched *t, const char *rcpt,
    int64_t now)
{
	struct store_sched c;
	int rc;

	if (t->actor != NULL && strcmp(t->actor, rcpt) == 0)
		return 0;
	memset(&c, 0, sizeof c);
	sched_copy(&c, t);
	c.parent = t->seq;
	c.rcpt = xstrdup(rcpt);
	c.inserted = c.updated = now;
	c.last = c.last_skipped = SCHED_NONE;
	sched_plan(e, &c, now);
	rc = sched_store(e, &c);
	store_sched_clear(&c);
	return rc;
}

/*
 * Call fn for every row matching the list filters, in pages (rows are
 * copied out first, so fn may use other statements and write rows).
 */
int
sched_each(struct eng *e, const char *wf, const char *rcpt, int64_t parent,
    int (*fn)(struct eng *, struct store_sched *, void *), void *arg)
{
	struct store_sched *rows = xcalloc(SCHED_BATCH, sizeof *rows);
	struct store_sched_filter f;
	int n, i, rc = 0;

	memset(&f, 0, sizeof f);
	f.workflow = wf;
	f.rcpt = rcpt;
	f.parent = parent;
	do {
		n = (int)store_sched_list(e->store, &f, SCHED_BATCH, rows);
		for (i = 0; i < n; i++) {
			if (rc == 0)
				rc = fn(e, &rows[i], arg);
			f.after = rows[i].seq;
			store_sched_clear(&rows[i]);
		}
	} while (n == SCHED_BATCH && rc == 0);
	free(rows);
	return rc;
}

/* sched_each callback: re-plan a row as of *(int64_t *)arg and store it. */
int
sched_replan_cb(struct eng *e, struct store_sched *s, void *arg)
{
	int64_t now = *(int64_t *)arg;

	if (s->next != SCHED_NONE && s->next <= now && !s->paused)
		return 0; /* due already: the fire decides */
	sched_plan(e, s, now);
	return sched_store(e, s);
}

/* sched_each callback: make a template's child match it again. */
static int
sched_child_sync_cb(struct eng *e, struct store_sched *c, void *arg)
{
	const struct store_sched *t = arg;

	sched_copy(c, t);
	c->updated = t->updated;
	sched_plan(e, c, t->updated);
	return sched_store(e, c);
}

/* Add a child row to template t for every current subscriber. */
static int
sched_children_create(struct eng *e, const struct store_sched *t, int64_t now)
{
	char coll[257], after[600] = "";
	const char *slash = strchr(t->rcpt, '/');
	struct store_sub *subs = xcalloc(SCHED_BATCH, sizeof *subs);
	int n, i, rc = 0;

	snprintf(coll, sizeof coll, "%.*s", (int)(slash - t->rcpt), t->rcpt);
	do {
		n = (int)store_subs_page(e->store, coll, slash + 1, after,
		    SCHED_BATCH, subs);
		for (i = 0; i < n; i++) {
			if (rc == 0)
				rc = sched_child_add(e, t, subs[i].rcpt, now);
			snprintf(after, sizeof after, "%s", subs[i].rcpt);
			store_sub_clear(&subs[i]);
		}
	} while (n == SCHED_BATCH && rc == 0);
	free(subs);
	return rc;
}

/*
 * Store row s and keep its children in step: a template's children follow
 * it, a row that became a template gets one per subscriber, and one that
 * stopped being a template loses them.  was_template: what s was before.
 */
int
sched_write(struct eng *e, struct store_sched *s, int was_template, int64_t now)
{
	int fresh = s->seq == 0;

	if (sched_store(e, s) != 0)
		return -1;
	if (sched_is_template(s))
		return !fresh && was_template ? sched_each(e, NULL, NULL, s->seq,
		    sched_child_sync_cb, s) : sched_children_create(e, s, now);
	if (!was_template)
		return 0;
	return store_sched_delete_children(e->store, s->seq);
}

/*
 * ENG_CONFLICT with *cause when row s belongs to a config file (the API
 * may not change it), else ENG_OK.
 */
enum eng_status
sched_owned(struct eng *e, const struct store_sched *s, char **cause)
{
	const char *file;
	char id[37];

	if (s->config_id == NULL)
		return ENG_OK;
	eng_id_format(e, ENG_ID_SCHED, (uint64_t)s->seq, 0, id);
	file = e->cfg != NULL ? json_string_value(json_object_get(
	    e->cfg->schedule_files, s->config_id)) : NULL;
	*cause = xasprintf("schedule %s is defined by %s (id \"%s\"): change "
	    "it there and reload", id, file ? file : "a config file",
	    s->config_id);
	return ENG_CONFLICT;
}

/*
 * Create one row per recipient of def (and the children of objects'
 * rows), from source "api" or "config" (with config_id and its def text).
 * existing (config only, may be NULL) maps the recipient keys of rows the
 * config schedule already has to their keys: those rows are updated in
 * place (keeping their ids and fire history), the ones def no longer names
 * are deleted.  Appends each top-level row's Schedule to out when out is
 * not NULL.
 */
enum eng_status
sched_create(struct eng *e, json_t *def, int64_t now, const char *source,
    const char *config_id, const char *deftext, json_t *existing,
    json_t *out, char **cause)
{
	json_t *rs = json_object_get(def, "recipients"), *r, *old;
	struct sched_def d;
	struct store_sched s;
	enum eng_status rc;
	const char *field, *k;
	char *actor = NULL, *tenant = NULL, *key, *msg;
	size_t i;
	int was;

	if ((rc = sched_check_rcpts(def, cause)) != ENG_OK)
		return rc;
	if ((rc = sched_check(e->cfg, def, &d, &field, cause)) != ENG_OK) {
		sched_def_clear(&d);
		return rc;
	}
	if (d.actor != NULL && (actor = sched_rcpt(e, d.actor, now, &rc,
	    cause)) == NULL) {
		msg = *cause;
		*cause = xasprintf("\"actor\": %s", msg);
		free(msg);
		goto out;
	}
	tenant = sched_tenant(e, d.tenant, now, &rc, cause);
	if (rc != ENG_OK)
		goto out;
	json_array_foreach(rs, i, r) {
		if ((key = sched_rcpt(e, r, now, &rc, cause)) == NULL) {
			msg = *cause;
			*cause = xasprintf("\"recipients[%zu]\": %s", i, msg);
			free(msg);
			goto out;
		}
		memset(&s, 0, sizeof s);
		old = json_object_get(existing, key);
		if (old != NULL && sched_get(e, json_integer_value(old), &s) ==
		    0) {
			json_object_del(existing, key);
			free(key);
		} else {
			s.parent = s.last = s.last_skipped = SCHED_NONE;
			s.rcpt = key;
			s.source = xstrdup(source);
			s.config_id = config_id ? xstrdup(config_id) : NULL;
			s.inserted = now;
		}
		free(s.def);
		s.def = deftext ? xstrdup(deftext) : NULL;
		s.updated = now;
		was = s.seq != 0 && sched_is_template(&s);
		sched_fill(&s, &d, actor, tenant);
		sched_plan(e, &s, now);
		if (sched_write(e, &s, was, now) != 0) {
			store_sched_clear(&s);
			*cause = xstrdup("store failure");
			rc = ENG_INTERNAL;
			goto out;
		}
		if (out != NULL)
			json_array_append_new(out, sched_json(e, &s));
		store_sched_clear(&s);
	}
	/* Rows for recipients the definition no longer names. */
	json_object_foreach(existing, k, old) {
		if (store_sched_delete(e->store, json_integer_value(old)) !=
		    0) {
			*cause = xstrdup("store failure");
			rc = ENG_INTERNAL;
			goto out;
		}
	}
	rc = ENG_OK;
out:
	free(actor);
	free(tenant);
	sched_def_clear(&d);
	return rc;
}
