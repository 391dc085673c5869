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
#include <stdlib.h>
#include <string.h>

#include "engine/run/run_int.h"
#include "engine/workflow/conditions.h"

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
		if (store_tenant_stub(e->store, id, t->now) != 0)
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

/* Check a trigger's settings: {"skip_delay", "sandbox_mode": bool}. */
static int
trig_check_settings(json_t *v, char **cause)
{
	const char *k;
	json_t *x;

	if (!json_is_object(v)) {
		*cause = xstrdup("\"settings\" must be an object");
		return -1;
	}
	json_object_foreach(v, k, x) {
		if (strcmp(k, "skip_delay") != 0 &&
		    strcmp(k, "sandbox_mode") != 0) {
			*cause = xasprintf("\"settings.%.64s\" is not "
			    "supported (only skip_delay and sandbox_mode)", k);
			return -1;
		}
		if (!json_is_boolean(x) && !json_is_null(x)) {
			*cause = xasprintf("\"settings.%s\" must be true or "
			    "false", k);
			return -1;
		}
	}
	return 0;
}

/* Check the trigger body's scalar fields against the workflow. */
static enum eng_status
trig_check(const struct eng_workflow *w, json_t *body, char **cause)
{
	json_t *rs = json_object_get(body, "recipients"), *data, *v;
	char *msg = NULL;
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
	if (v != NULL && !json_is_null(v) && trig_check_settings(v, cause))
		return ENG_INVALID;
	v = json_object_get(body, "subscriber_filter");
	if (v != NULL && !json_is_null(v) && eng_cond_check(v, &msg) != 0) {
		*cause = xasprintf("\"subscriber_filter\": %s", msg);
		free(msg);
		return ENG_INVALID;
	}
	return ENG_OK;
}

/* Insert the workflow run row, recording where it came from. */
static int
trig_insert_run(struct eng *e, struct eng_run *t, json_t *body,
    const struct eng_source *src)
{
	json_t *settings;
	struct store_run run;

	memset(&run, 0, sizeof run);
	run.workflow = t->w->key;
	run.actor = t->actor_key;
	run.tenant = t->tenant_id;
	run.data = t->data;
	run.ckey = json_string_value(json_object_get(body,
	    "cancellation_key"));
	run.source = src->type;
	run.sched = src->sched != 0 ? src->sched : STORE_NONE;
	run.fire_at = src->sched != 0 ? src->fire_at : STORE_NONE;
	run.inserted = t->now;
	settings = json_deep_copy(json_object_get(body, "settings"));
	if (json_object_get(body, "subscriber_filter") != NULL &&
	    !json_is_null(json_object_get(body, "subscriber_filter"))) {
		if (!json_is_object(settings)) {
			json_decref(settings);
			settings = json_object();
		}
		json_object_set(settings, "subscriber_filter",
		    json_object_get(body, "subscriber_filter"));
	}
	run.settings = settings;
	t->seq = store_run_add(e->store, &run);
	json_decref(settings);
	return t->seq < 0 ? -1 : 0;
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

/*
 * Whether key was seen before, remembering it if not: an open-addressed
 * set of the keys themselves (slots, nslots a power of two, at least
 * twice as many as the keys it will hold).
 */
static int
trig_seen(const char **slots, size_t nslots, const char *key)
{
	uint64_t h = 14695981039346656037ULL;
	const char *p;
	size_t i;

	for (p = key; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	for (i = (size_t)h & (nslots - 1); slots[i] != NULL;
	    i = (i + 1) & (nslots - 1))
		if (strcmp(slots[i], key) == 0)
			return 1;
	slots[i] = key;
	return 0;
}

/* Resolve and deduplicate the body's recipients (first occurrence wins). */
static enum eng_status
trig_rcpts(struct eng *e, json_t *list, int64_t now, struct trig_rcpt **out,
    size_t *n, char **cause)
{
	struct trig_rcpt *rs = xcalloc(json_array_size(list), sizeof *rs), *r;
	enum eng_status rc = ENG_OK;
	size_t i, nslots = 4;
	const char **seen;
	json_t *v;

	while (nslots < 2 * json_array_size(list))
		nslots *= 2;
	seen = xcalloc(nslots, sizeof *seen);
	*n = 0;
	json_array_foreach(list, i, v) {
		r = &rs[*n];
		if ((rc = trig_resolve(e, v, now, &r->coll, &r->id, &r->tdata,
		    cause)) != ENG_OK)
			break;
		r->key = eng_rcpt_key(r->coll, r->id);
		if (trig_seen(seen, nslots, r->key)) {
			free(r->coll);
			free(r->id);
			free(r->key);
			json_decref(r->tdata);
			memset(r, 0, sizeof *r);
			continue;
		}
		(*n)++;
	}
	free(seen);
	if (rc != ENG_OK) {
		/* Nothing is the caller's: no array, and no count of one. */
		trig_rcpts_free(rs, *n);
		*n = 0;
		return rc;
	}
	*out = rs;
	return ENG_OK;
}

/*
 * Start a run of workflow for body's recipients: the one path shared by API
 * triggers and schedule fires.  Sets *seq to the run's key.
 */
enum eng_status
eng_trigger_start(struct eng *e, const char *workflow, json_t *body,
    int64_t now, const struct eng_source *src, int64_t *seq, char **cause)
{
	struct eng_run t;
	struct trig_rcpt *rs = NULL;
	enum eng_status rc;
	int track = 0;
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
	t.sandbox = json_is_true(json_object_get(json_object_get(body,
	    "settings"), "sandbox_mode"));
	if ((rc = trig_actor(e, &t, json_object_get(body, "actor"),
	    cause)) != ENG_OK ||
	    (rc = trig_tenant(e, &t, json_object_get(body, "tenant"),
	    cause)) != ENG_OK ||
	    (rc = trig_rcpts(e, json_object_get(body, "recipients"), now, &rs,
	    &n, cause)) != ENG_OK)
		goto out;
	if (trig_insert_run(e, &t, body, src) != 0) {
		rc = ENG_INTERNAL;
		goto out;
	}
	eng_run_context(&t);
	/* Direct recipients now; subscribers of objects in later chunks. */
	for (i = 0; i < n; i++)
		track |= rs[i].coll != NULL;
	for (i = 0; i < n && rc == ENG_OK; i++)
		if (fanout_reach(e, &t, rs[i].key, rs[i].tdata, NULL, 0, track,
		    &idx) != 0)
			rc = ENG_INTERNAL;
	if (rc == ENG_OK && track) {
		if (store_run_set_next(e->store, t.seq, idx) != 0 ||
		    eng_wait(e, now, ENG_WAIT_FANOUT, t.seq, 0) != 0)
			rc = ENG_INTERNAL;
	}
	if (rc != ENG_OK) {
		*cause = xstrdup("store failure");
		goto out;
	}
	*seq = t.seq;
	e->stats.triggers++;
	e->stats.runs += (uint64_t)idx;
out:
	trig_rcpts_free(rs, n);
	eng_run_clear(&t);
	return rc;
}

/* POST /v1/workflows/{key}/trigger. */
enum eng_status
eng_trigger(struct eng *e, const char *workflow, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	static const struct eng_source api = { "api", 0, 0 };
	enum eng_status rc;
	int64_t seq;
	char id[37];

	if ((rc = eng_trigger_start(e, workflow, body, now, &api, &seq,
	    cause)) != ENG_OK)
		return rc;
	eng_id_format(e, ENG_ID_RUN, (uint64_t)seq, 0, id);
	*reply = json_pack("{s:s}", "workflow_run_id", id);
	return ENG_OK;
}
