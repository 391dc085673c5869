/*
 * Triggers: a workflow run and one recipient run per resolved recipient,
 * created in the caller's transaction, and the steps that need no waiting
 * (channel steps) executed at once in the same transaction, so that a
 * message and the step that produced it commit together.
 *
 * Ids: the run's UUID derives from its integer key; a recipient run's from
 * the run's key and the recipient's index in the deduplicated recipient
 * list, so redoing a trigger's work yields the same ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/preferences.h"
#include "engine/template.h"

#define TRIG_MAX_RECIPIENTS 1000

/* What a trigger resolved before its recipients run. */
struct trig {
	const struct eng_workflow *w;
	int64_t run_seq, now;
	json_t *data;            /* borrowed */
	json_t *actor;           /* recipient shape or NULL (owned) */
	char *actor_key;
	json_t *tenant;          /* tenant shape or NULL (owned) */
	const char *tenant_id;
	json_t *tenant_prefs;    /* the tenant's preference_set or NULL */
	json_t *ctx;             /* trig_base_context (owned) */
	size_t messages;
};

/* Resolve a recipient spec to (collection, id), identifying inline ones. */
static enum eng_status
trig_resolve(struct eng *e, json_t *r, int64_t now, char **coll, char **id,
    json_t **tdata, char **cause)
{
	const char *s;
	json_t *copy;
	enum eng_status rc;

	*tdata = NULL;
	if (json_is_string(r)) {
		s = json_string_value(r);
		if (!eng_recipient_valid_id(s)) {
			*cause = xasprintf("recipient \"%.64s\": an id must be "
			    "1..256 characters without '/' or '#'", s);
			return ENG_INVALID;
		}
		*coll = NULL;
		*id = xstrdup(s);
		return ENG_OK;
	}
	if (!json_is_object(r) || !json_is_string(json_object_get(r, "id"))) {
		*cause = xstrdup("each recipient must be a user id or an object "
		    "with \"id\"");
		return ENG_INVALID;
	}
	s = json_string_value(json_object_get(r, "collection"));
	if (json_object_get(r, "collection") != NULL && s == NULL) {
		*cause = xstrdup("recipient \"collection\" must be a string");
		return ENG_INVALID;
	}
	*tdata = json_incref(json_object_get(r, "$trigger_data"));
	if (*tdata != NULL && !json_is_object(*tdata)) {
		*cause = xstrdup("\"$trigger_data\" must be an object");
		json_decref(*tdata);
		*tdata = NULL;
		return ENG_INVALID;
	}
	copy = json_deep_copy(r);
	json_object_del(copy, "$trigger_data");
	rc = ENG_OK;
	if (json_object_size(copy) > (s ? 2u : 1u))
		rc = eng_identify(e, copy, now, cause);
	else if (!eng_recipient_valid_id(json_string_value(json_object_get(r,
	    "id"))) || (s != NULL && !eng_recipient_valid_id(s))) {
		*cause = xstrdup("bad recipient id or collection");
		rc = ENG_INVALID;
	}
	json_decref(copy);
	if (rc != ENG_OK) {
		json_decref(*tdata);
		*tdata = NULL;
		return rc;
	}
	*coll = s ? xstrdup(s) : NULL;
	*id = xstrdup(json_string_value(json_object_get(r, "id")));
	return ENG_OK;
}

/* Resolve the actor (id, reference or inline user). */
static enum eng_status
trig_actor(struct eng *e, struct trig *t, json_t *a, char **cause)
{
	char *coll = NULL, *id = NULL;
	json_t *td;
	enum eng_status rc;

	if (a == NULL || json_is_null(a))
		return ENG_OK;
	if ((rc = trig_resolve(e, a, t->now, &coll, &id, &td, cause)) !=
	    ENG_OK) {
		char *c2 = xasprintf("actor: %s", *cause);

		free(*cause);
		*cause = c2;
		return rc;
	}
	json_decref(td);
	t->actor_key = eng_rcpt_key(coll, id);
	t->actor = eng_recipient_load(e, coll, id);
	if (t->actor == NULL)
		t->actor = coll ? json_pack("{s:s, s:s}", "id", id,
		    "collection", coll) : json_pack("{s:s}", "id", id);
	free(coll);
	free(id);
	return ENG_OK;
}

/* Resolve the tenant (id, creating a stub, or inline object). */
static enum eng_status
trig_tenant(struct eng *e, struct trig *t, json_t *v, char **cause)
{
	sqlite3_stmt *st;
	json_t *reply = NULL;
	const char *id;
	enum eng_status rc;

	if (v == NULL || json_is_null(v))
		return ENG_OK;
	if (json_is_object(v)) {
		id = json_string_value(json_object_get(v, "id"));
		if (id == NULL) {
			*cause = xstrdup("tenant: an inline tenant needs \"id\"");
			return ENG_INVALID;
		}
		if ((rc = eng_tenant_put(e, id, v, t->now, &reply, cause)) !=
		    ENG_OK)
			return rc;
	} else if (json_is_string(v)) {
		id = json_string_value(v);
		if (!eng_recipient_valid_id(id)) {
			*cause = xstrdup("tenant: bad tenant id");
			return ENG_INVALID;
		}
		st = eng_stmt(e, ST_TENANT_STUB);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, t->now);
		if (eng_step_done(e, st) != 0)
			return ENG_INTERNAL;
		if ((rc = eng_tenant_get(e, id, &reply, cause)) != ENG_OK)
			return rc;
	} else {
		*cause = xstrdup("\"tenant\" must be a tenant id or object");
		return ENG_INVALID;
	}
	t->tenant = reply;
	t->tenant_id = json_string_value(json_object_get(reply, "id"));
	t->tenant_prefs = json_object_get(json_object_get(reply, "settings"),
	    "preference_set");
	if (json_is_null(t->tenant_prefs))
		t->tenant_prefs = NULL;
	return ENG_OK;
}

/* A stored preference set of rcpt, or NULL. */
static json_t *
trig_pref_set(struct eng *e, const char *rcpt, const char *set)
{
	sqlite3_stmt *st = eng_stmt(e, ST_PREF_GET);
	json_t *v = NULL;

	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, set, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = eng_json_col(st, 0);
	sqlite3_reset(st);
	return v;
}

/*
 * The recipient's merged preferences: their set for the tenant, their
 * default set, the tenant's preference_set, the environment default.
 */
static json_t *
trig_prefs(struct eng *e, struct trig *t, const char *rcpt)
{
	json_t *sets[4], *m;
	size_t n = 0, i;

	if (e->has_prefs && t->tenant_id != NULL &&
	    (sets[n] = trig_pref_set(e, rcpt, t->tenant_id)) != NULL)
		n++;
	if (e->has_prefs && (sets[n] = trig_pref_set(e, rcpt, "default")) !=
	    NULL)
		n++;
	if (t->tenant_prefs != NULL)
		sets[n++] = json_incref(t->tenant_prefs);
	if (e->cfg->default_prefs != NULL)
		sets[n++] = json_incref(e->cfg->default_prefs);
	if (n == 0)
		return json_object();
	m = eng_pref_merge(sets, n);
	for (i = 0; i < n; i++)
		json_decref(sets[i]);
	return m;
}

/* Append an event to a recipient run's list. */
static void
trig_event(json_t *events, const char *event, const char *status,
    const struct eng_step *s, json_t *data, int64_t now)
{
	char ts[32];

	eng_iso(now, ts, sizeof ts);
	json_array_append_new(events, json_pack("{s:s, s:s, s:s*, s:s*, s:o,"
	    " s:s}", "event", event, "status", status, "step_ref",
	    s ? s->ref : NULL, "step_type", s ? s->type : NULL, "data",
	    data ? data : json_object(), "inserted_at", ts));
}

/* Render every part of a step's template into a message body object. */
static json_t *
trig_render(const struct eng_step *s, json_t *ctx)
{
	json_t *body = json_object(), *v;
	const char *k;
	char *out, *cause = NULL;

	json_object_foreach(s->template, k, v) {
		out = eng_template_render(json_string_value(v), ctx,
		    strcmp(k, "body") == 0 ? ENG_TEMPLATE_JSON :
		    ENG_TEMPLATE_TEXT, &cause);
		json_object_set_new(body, k, json_string(out ? out : ""));
		free(out);
		free(cause);
		cause = NULL;
	}
	return body;
}

/* Run one channel step for a recipient; the message id lands in events. */
static int
trig_channel(struct eng *e, struct trig *t, const struct eng_step *s,
    size_t idx, const char *rcpt, json_t *ctx, json_t **prefs,
    json_t *events)
{
	const struct eng_channel *ch = s->channel;
	json_t *body;
	sqlite3_stmt *st;
	char *rule = NULL, mid[37];
	const char *status;
	int64_t seq;

	if (*prefs == NULL)
		*prefs = trig_prefs(e, t, rcpt);
	if (json_object_size(*prefs) > 0 && !eng_pref_decide(*prefs, t->w->key, t->w->categories, ch->type,
	    ch->name, ctx, &rule)) {
		trig_event(events, "step_skipped", "skipped", s,
		    json_pack("{s:s, s:s}", "reason", "preferences", "rule",
		    rule ? rule : ""), t->now);
		free(rule);
		return 0;
	}
	free(rule);
	body = trig_render(s, ctx);
	status = strcmp(ch->type, "http") == 0 ? "queued" : "delivered";
	st = eng_stmt(e, ST_MSG_INS);
	sqlite3_bind_int64(st, 1, t->run_seq);
	sqlite3_bind_int64(st, 2, (int64_t)idx);
	sqlite3_bind_text(st, 3, s->ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ch->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rcpt, -1, SQLITE_STATIC);
	if (t->tenant_id)
		sqlite3_bind_text(st, 6, t->tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, status, -1, SQLITE_STATIC);
	eng_bind_json(st, 8, body);
	sqlite3_bind_int64(st, 9, t->now);
	if (eng_step_done(e, st) != 0) {
		json_decref(body);
		return -1;
	}
	seq = sqlite3_last_insert_rowid(e->db);
	eng_id_format(e, ENG_ID_MSG, (uint64_t)seq, 0, mid);
	if (strcmp(ch->type, "http") == 0) {
		st = eng_stmt(e, ST_DLV_INS);
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_int64(st, 2, t->now);
		sqlite3_bind_text(st, 3, ch->url, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, json_string_value(json_object_get(body,
		    "body")), -1, SQLITE_TRANSIENT);
		if (eng_step_done(e, st) != 0) {
			json_decref(body);
			return -1;
		}
		e->stats.queue_depth++;
	} else if (strcmp(ch->type, "log") == 0) {
		const char *txt = json_string_value(json_object_get(body,
		    "text"));

		if (txt == NULL)
			txt = json_string_value(json_object_get(body,
			    "markdown"));
		fprintf(stderr, "<6>belfry: log channel %s: message %s to %s: "
		    "%s\n", ch->name, mid, rcpt, txt ? txt : "");
	}
	json_decref(body);
	t->messages++;
	trig_event(events, "message_sent", "ok", s, json_pack("{s:s, s:s}",
	    "message_id", mid, "channel", ch->name), t->now);
	return 0;
}

/*
 * The template and condition context shared by every recipient of the
 * trigger; each recipient's "recipient" (and data, with $trigger_data) is
 * set on it in turn.
 */
static json_t *
trig_base_context(struct trig *t)
{
	json_t *ctx;

	ctx = json_pack("{s:O, s:O, s:n, s:O, s:{s:s, s:O}, s:i, s:i}",
	    "data", t->data, "actor", t->actor ? t->actor : json_null(),
	    "recipient", "tenant", t->tenant ? t->tenant : json_null(),
	    "workflow", "key", t->w->key, "categories", t->w->categories,
	    "total_activities", 1, "total_actors", t->actor ? 1 : 0);
	json_object_set_new(ctx, "activities", json_pack("[{s:O, s:O}]",
	    "data", t->data, "actor", t->actor ? t->actor : json_null()));
	json_object_set_new(ctx, "actors", t->actor ?
	    json_pack("[O]", t->actor) : json_array());
	return ctx;
}

/* Create one recipient run and run its steps. */
static int
trig_recipient(struct eng *e, struct trig *t, size_t idx, const char *coll,
    const char *id, json_t *tdata)
{
	char *rcpt = eng_rcpt_key(coll, id);
	json_t *r, *ctx, *events = json_array(), *prefs = NULL;
	sqlite3_stmt *st;
	size_t i;
	int rc = 0;

	r = eng_recipient_load(e, coll, id);
	if (r == NULL)
		r = coll ? json_pack("{s:s, s:s}", "id", id, "collection",
		    coll) : json_pack("{s:s}", "id", id);
	ctx = t->ctx;
	if (tdata != NULL) {
		ctx = json_copy(t->ctx);
		json_object_set_new(ctx, "data", json_deep_copy(t->data));
		json_object_update(json_object_get(ctx, "data"), tdata);
	}
	json_object_set(ctx, "recipient", r);
	for (i = 0; i < t->w->nsteps && rc == 0; i++)
		rc = trig_channel(e, t, &t->w->steps[i], idx, rcpt, ctx,
		    &prefs, events);
	if (ctx != t->ctx)
		json_decref(ctx);
	st = eng_stmt(e, ST_RRUN_INS);
	sqlite3_bind_int64(st, 1, t->run_seq);
	sqlite3_bind_int64(st, 2, (int64_t)idx);
	sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, "completed", -1, SQLITE_STATIC);
	eng_bind_json(st, 5, events);
	sqlite3_bind_int(st, 6, 0);
	sqlite3_bind_int64(st, 7, t->now);
	if (rc == 0)
		rc = eng_step_done(e, st);
	json_decref(events);
	json_decref(prefs);
	json_decref(r);
	free(rcpt);
	return rc;
}

/* Check the trigger body's scalar fields against the workflow. */
static enum eng_status
trig_check(const struct eng_workflow *w, json_t *body, char **cause)
{
	json_t *rs = json_object_get(body, "recipients"), *data, *v;
	size_t i;

	if (!json_is_object(body)) {
		*cause = xstrdup("the body must be a JSON object");
		return ENG_INVALID;
	}
	if (!json_is_array(rs) || json_array_size(rs) == 0 ||
	    json_array_size(rs) > TRIG_MAX_RECIPIENTS) {
		*cause = xasprintf("\"recipients\" must be an array of 1..%d "
		    "recipients", TRIG_MAX_RECIPIENTS);
		return ENG_INVALID;
	}
	data = json_object_get(body, "data");
	if (data != NULL && !json_is_object(data) && !json_is_null(data)) {
		*cause = xstrdup("\"data\" must be a JSON object");
		return ENG_INVALID;
	}
	json_array_foreach(w->data_required, i, v) {
		if (json_object_get(data, json_string_value(v)) == NULL) {
			*cause = xasprintf("\"data.%s\" is required by "
			    "workflow \"%s\"", json_string_value(v), w->key);
			return ENG_INVALID;
		}
	}
	v = json_object_get(body, "cancellation_key");
	if (v != NULL && !json_is_null(v) && (!json_is_string(v) ||
	    json_string_length(v) == 0 || json_string_length(v) > 255)) {
		*cause = xstrdup("\"cancellation_key\" must be a string of "
		    "1..255 characters");
		return ENG_INVALID;
	}
	v = json_object_get(body, "settings");
	if (v != NULL && !json_is_null(v) && !json_is_object(v)) {
		*cause = xstrdup("\"settings\" must be an object");
		return ENG_INVALID;
	}
	return ENG_OK;
}

/* Insert the workflow run row. */
static int
trig_insert_run(struct eng *e, struct trig *t, json_t *body)
{
	sqlite3_stmt *st = eng_stmt(e, ST_RUN_INS);
	json_t *ck = json_object_get(body, "cancellation_key");

	sqlite3_bind_text(st, 1, t->w->key, -1, SQLITE_STATIC);
	if (t->actor_key)
		sqlite3_bind_text(st, 2, t->actor_key, -1, SQLITE_STATIC);
	if (t->tenant_id)
		sqlite3_bind_text(st, 3, t->tenant_id, -1, SQLITE_STATIC);
	eng_bind_json(st, 4, t->data);
	if (json_is_string(ck))
		sqlite3_bind_text(st, 5, json_string_value(ck), -1,
		    SQLITE_STATIC);
	sqlite3_bind_text(st, 6, "api", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, t->now);
	if (eng_step_done(e, st) != 0)
		return -1;
	t->run_seq = sqlite3_last_insert_rowid(e->db);
	return 0;
}

/* A recipient resolved from the trigger body. */
struct trig_rcpt {
	char *coll, *id, *key;
	json_t *tdata;
};

/* Free resolved recipients. */
static void
trig_rcpts_free(struct trig_rcpt *rs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rs[i].coll);
		free(rs[i].id);
		free(rs[i].key);
		json_decref(rs[i].tdata);
	}
	free(rs);
}

/* Resolve and deduplicate the body's recipients (first occurrence wins). */
static enum eng_status
trig_rcpts(struct eng *e, json_t *list, int64_t now, struct trig_rcpt **out,
    size_t *n, char **cause)
{
	struct trig_rcpt *rs = xcalloc(json_array_size(list), sizeof *rs), *r;
	json_t *seen = json_object(), *v;
	enum eng_status rc = ENG_OK;
	size_t i;

	*n = 0;
	json_array_foreach(list, i, v) {
		r = &rs[*n];
		if ((rc = trig_resolve(e, v, now, &r->coll, &r->id, &r->tdata,
		    cause)) != ENG_OK)
			break;
		r->key = eng_rcpt_key(r->coll, r->id);
		if (json_object_get(seen, r->key) != NULL) {
			free(r->coll);
			free(r->id);
			free(r->key);
			json_decref(r->tdata);
			memset(r, 0, sizeof *r);
			continue;
		}
		json_object_set_new(seen, r->key, json_true());
		(*n)++;
	}
	json_decref(seen);
	if (rc != ENG_OK) {
		trig_rcpts_free(rs, *n);
		return rc;
	}
	*out = rs;
	return ENG_OK;
}

/* POST /v1/workflows/{key}/trigger. */
enum eng_status
eng_trigger(struct eng *e, const char *workflow, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	struct trig t = { .now = now };
	struct trig_rcpt *rs = NULL;
	enum eng_status rc;
	char id[37];
	size_t n = 0, i;

	if ((t.w = eng_workflow_find(e->cfg, workflow)) == NULL) {
		*cause = xasprintf("workflow \"%.128s\" not found", workflow);
		return ENG_NO_WORKFLOW;
	}
	if ((rc = trig_check(t.w, body, cause)) != ENG_OK)
		return rc;
	t.data = json_object_get(body, "data");
	if (t.data == NULL || json_is_null(t.data))
		t.data = json_object();
	else
		json_incref(t.data);
	if ((rc = trig_actor(e, &t, json_object_get(body, "actor"),
	    cause)) != ENG_OK ||
	    (rc = trig_tenant(e, &t, json_object_get(body, "tenant"),
	    cause)) != ENG_OK ||
	    (rc = trig_rcpts(e, json_object_get(body, "recipients"), now, &rs,
	    &n, cause)) != ENG_OK)
		goto out;
	if (trig_insert_run(e, &t, body) != 0) {
		rc = ENG_INTERNAL;
		goto out;
	}
	t.ctx = trig_base_context(&t);
	for (i = 0; i < n; i++) {
		if (trig_recipient(e, &t, i, rs[i].coll, rs[i].id,
		    rs[i].tdata) != 0) {
			*cause = xstrdup("store failure");
			rc = ENG_INTERNAL;
			goto out;
		}
	}
	eng_id_format(e, ENG_ID_RUN, (uint64_t)t.run_seq, 0, id);
	*reply = json_pack("{s:s}", "workflow_run_id", id);
	e->stats.triggers++;
	e->stats.runs += n;
	e->stats.messages += t.messages;
out:
	trig_rcpts_free(rs, n);
	json_decref(t.ctx);
	json_decref(t.data);
	json_decref(t.actor);
	json_decref(t.tenant);
	free(t.actor_key);
	return rc;
}
