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

#define TRIG_MAX_RECIPIENTS 1000

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
trig_actor(struct eng *e, struct eng_run *t, json_t *a, char **cause)
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
trig_tenant(struct eng *e, struct eng_run *t, json_t *v, char **cause)
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
trig_insert_run(struct eng *e, struct eng_run *t, json_t *body)
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
	eng_bind_json(st, 8, json_object_get(body, "settings"));
	if (eng_step_done(e, st) != 0)
		return -1;
	t->seq = sqlite3_last_insert_rowid(e->db);
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

/* The objects whose subscribers are still to be reached, level by level. */
struct trig_queue {
	char **keys;
	json_t **tdata;
	int *level;
	size_t n, head;
};

/* Start a recipient run for rcpt unless reached already; queue objects. */
static int
trig_reach(struct eng *e, struct eng_run *r, const char *rcpt, json_t *tdata,
    json_t *sub, int level, json_t *seen, int64_t *idx, struct trig_queue *q)
{
	if (json_object_get(seen, rcpt) != NULL)
		return 0;
	json_object_set_new(seen, rcpt, json_true());
	if (eng_run_recipient(e, r, (*idx)++, rcpt, tdata, sub) != 0)
		return -1;
	if (strchr(rcpt, '/') != NULL && level < 2) {
		q->keys = xreallocarray(q->keys, q->n + 1, sizeof *q->keys);
		q->tdata = xreallocarray(q->tdata, q->n + 1, sizeof *q->tdata);
		q->level = xreallocarray(q->level, q->n + 1, sizeof *q->level);
		q->keys[q->n] = xstrdup(rcpt);
		q->tdata[q->n] = json_incref(tdata);
		q->level[q->n++] = level;
	}
	return 0;
}

/*
 * Reach the subscribers of queued objects breadth first (direct
 * subscribers before theirs; two levels), paging through each object's
 * subscriptions in key order.  The actor is never reached this way.
 */
static int
trig_fanout(struct eng *e, struct eng_run *r, json_t *seen, int64_t *idx,
    struct trig_queue *q)
{
	char *coll, *after, **keys = NULL;
	const char *obj, *slash;
	json_t **props = NULL;
	sqlite3_stmt *st;
	size_t n, i;
	int rc = 0;

	for (; rc == 0 && q->head < q->n; q->head++) {
		obj = q->keys[q->head];
		slash = strchr(obj, '/');
		coll = xstrdup(obj);
		coll[slash - obj] = '\0';
		after = xstrdup("");
		do {
			st = eng_stmt(e, ST_SUB_LIST);
			sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, slash + 1, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, after, -1, SQLITE_STATIC);
			sqlite3_bind_int(st, 4, 1000);
			for (n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
				keys = xreallocarray(keys, n + 1, sizeof *keys);
				props = xreallocarray(props, n + 1,
				    sizeof *props);
				keys[n] = xstrdup((const char *)
				    sqlite3_column_text(st, 0));
				props[n] = eng_json_col(st, 1);
			}
			sqlite3_reset(st);
			for (i = 0; i < n; i++) {
				if (rc == 0 && (r->actor_key == NULL ||
				    strcmp(keys[i], r->actor_key) != 0))
					rc = trig_reach(e, r, keys[i],
					    q->tdata[q->head], props[i] ?
					    props[i] : json_null(),
					    q->level[q->head] + 1, seen, idx, q);
				json_decref(props[i]);
				if (i + 1 < n)
					free(keys[i]);
			}
			if (n > 0) {
				free(after);
				after = keys[n - 1];
			}
		} while (rc == 0 && n == 1000);
		free(after);
		free(coll);
	}
	free(keys);
	free(props);
	return rc;
}

/* Free a fan-out queue. */
static void
trig_queue_free(struct trig_queue *q)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		free(q->keys[i]);
		json_decref(q->tdata[i]);
	}
	free(q->keys);
	free(q->tdata);
	free(q->level);
}

/* POST /v1/workflows/{key}/trigger. */
enum eng_status
eng_trigger(struct eng *e, const char *workflow, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	struct eng_run t;
	struct trig_queue q;
	struct trig_rcpt *rs = NULL;
	enum eng_status rc;
	json_t *seen;
	char id[37];
	size_t n = 0, i;
	int64_t idx = 0;

	memset(&t, 0, sizeof t);
	t.now = now;
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
	t.skip_delay = json_is_true(json_object_get(json_object_get(body,
	    "settings"), "skip_delay"));
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
	eng_run_context(&t);
	seen = json_object();
	memset(&q, 0, sizeof q);
	for (i = 0; i < n && rc == ENG_OK; i++)
		if (trig_reach(e, &t, rs[i].key, rs[i].tdata, NULL, 0, seen,
		    &idx, &q) != 0)
			rc = ENG_INTERNAL;
	if (rc == ENG_OK && trig_fanout(e, &t, seen, &idx, &q) != 0)
		rc = ENG_INTERNAL;
	if (rc == ENG_INTERNAL)
		*cause = xstrdup("store failure");
	trig_queue_free(&q);
	json_decref(seen);
	if (rc != ENG_OK)
		goto out;
	eng_id_format(e, ENG_ID_RUN, (uint64_t)t.seq, 0, id);
	*reply = json_pack("{s:s}", "workflow_run_id", id);
	e->stats.triggers++;
	e->stats.runs += (uint64_t)idx;
out:
	trig_rcpts_free(rs, n);
	eng_run_clear(&t);
	return rc;
}
