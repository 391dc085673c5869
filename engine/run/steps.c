/*
 * The step machine: a recipient run executes its workflow's compiled
 * program from its position (pc) until it ends or must wait.  Waiting is a
 * wait in the store (a delay's end or a batch window's close); the
 * dispatcher (engine/dispatch.c) resumes what is due, in time order.
 * Every change a step makes commits in the caller's transaction together
 * with the run's new position, so a crash redoes or keeps a step whole.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/run/run_int.h"
#include "engine/workflow/conditions.h"
#include "engine/workflow/preferences.h"
#include "engine/workflow/template.h"

/* Release what a run context owns. */
void
eng_run_clear(struct eng_run *r)
{
	json_decref(r->ctx);
	json_decref(r->settings);
	json_decref(r->data);
	json_decref(r->actor);
	json_decref(r->tenant);
	free(r->actor_key);
	memset(r, 0, sizeof *r);
}

/* Build the template context shared by the run's recipients. */
void
eng_run_context(struct eng_run *r)
{
	json_t *actor = r->actor ? r->actor : json_null();

	r->ctx = json_pack("{s:O, s:O, s:n, s:O, s:{s:s, s:O}, s:i, s:i}",
	    "data", r->data, "actor", actor, "recipient", "tenant",
	    r->tenant ? r->tenant : json_null(), "workflow", "key", r->w->key,
	    "categories", r->w->categories, "total_activities", 1,
	    "total_actors", r->actor ? 1 : 0);
	json_object_set_new(r->ctx, "activities", json_pack("[{s:O, s:O}]",
	    "data", r->data, "actor", actor));
	json_object_set_new(r->ctx, "actors", r->actor ?
	    json_pack("[O]", r->actor) : json_array());
}

/*
 * Start an event in a recipient run's list, stored compact (messages/runs.c,
 * runs_events, gives Knock's shape back): {"e": event, "s": status unless
 * "ok", "r": step ref, "t": step type, "d": data unless {}, "at": time}.
 * The caller may write ",\"d\":..." before run_event_end.  The list is
 * text, stored as it stands: this runs for every recipient.
 */
static void
run_event_start(struct eng_text *events, const char *event,
    const char *status, const struct eng_step *s)
{
	events->len--;          /* reopen the array: its ']' goes */
	if (events->len > 1)
		eng_text_add(events, ",", 1);
	eng_text_add(events, "{\"e\":", 5);
	eng_text_string(events, event);
	if (strcmp(status, "ok") != 0) {
		eng_text_add(events, ",\"s\":", 5);
		eng_text_string(events, status);
	}
	if (s != NULL) {
		eng_text_add(events, ",\"r\":", 5);
		eng_text_string(events, s->ref);
		eng_text_add(events, ",\"t\":", 5);
		eng_text_string(events, s->type);
	}
}

/* End an event started by run_event_start with its time. */
static void
run_event_end(struct eng_text *events, int64_t now)
{
	eng_text_add(events, ",\"at\":", 6);
	eng_text_int(events, now);
	eng_text_add(events, "}]", 2);
}

/* Append an event with data (taken; NULL: {}) to a recipient run's list. */
void
run_event(struct eng_text *events, const char *event, const char *status,
    const struct eng_step *s, json_t *data, int64_t now)
{
	run_event_start(events, event, status, s);
	if (data != NULL && json_object_size(data) > 0) {
		eng_text_add(events, ",\"d\":", 5);
		eng_text_value(events, data);
	}
	json_decref(data);
	run_event_end(events, now);
}

/* A recipient run's event list from its stored JSON (NULL: none yet). */
static void
run_events_init(struct eng_text *events, json_t *stored)
{
	memset(events, 0, sizeof *events);
	if (json_is_array(stored))
		eng_text_value(events, stored);
	else
		eng_text_add(events, "[]", 2);
	json_decref(stored);
}

/* A stored preference set of rcpt, or NULL. */
static json_t *
run_pref_set(struct eng *e, const char *rcpt, const char *set)
{
	return store_prefs_get(e->store, rcpt, set);
}

/*
 * The recipient's merged preferences, highest first: their set for the
 * tenant, their default set, the tenant's preference_set, the environment
 * default from belfry.conf.
 */
static json_t *
run_prefs(struct eng *e, struct eng_run *r, const char *rcpt)
{
	json_t *sets[4], *m;
	size_t n = 0, i;

	if (e->has_prefs && r->tenant_id != NULL &&
	    (sets[n] = run_pref_set(e, rcpt, r->tenant_id)) != NULL)
		n++;
	if (e->has_prefs && (sets[n] = run_pref_set(e, rcpt, "default")) !=
	    NULL)
		n++;
	if (r->tenant_prefs != NULL)
		sets[n++] = json_incref(r->tenant_prefs);
	if (e->cfg->default_prefs != NULL)
		sets[n++] = json_incref(e->cfg->default_prefs);
	if (n == 0)
		return json_object();
	m = eng_pref_merge(sets, n);
	for (i = 0; i < n; i++)
		json_decref(sets[i]);
	return m;
}

/* The template and condition context of one recipient run (new ref). */
static json_t *
run_ctx(struct eng_run *r, struct rrun *rr)
{
	json_t *ctx = r->ctx, *rcpt = rr->recipient;

	if (rr->tdata != NULL || rr->sub != NULL || rr->batch != NULL) {
		ctx = json_copy(r->ctx);
		if (rr->tdata != NULL) {
			json_object_set_new(ctx, "data",
			    json_deep_copy(r->data));
			json_object_update(json_object_get(ctx, "data"),
			    rr->tdata);
		}
		if (rr->sub != NULL) {
			rcpt = json_copy(rr->recipient);
			json_object_set_new(rcpt, "subscription", json_pack(
			    "{s:O}", "properties", rr->sub));
			json_object_set_new(ctx, "recipient", rcpt);
		}
		if (rr->batch != NULL)
			json_object_update(ctx, rr->batch);
		if (rr->sub == NULL)
			json_object_set(ctx, "recipient", rcpt);
		return ctx;
	}
	json_object_set(ctx, "recipient", rcpt);
	return json_incref(ctx);
}

/* A template's buttons (defs, their JSON) rendered: [{name, label, action}]. */
static json_t *
run_buttons(const struct eng_step *s, json_t *defs, json_t *ctx)
{
	json_t *out = json_array(), *b;
	char *label, *action;
	size_t i;

	json_array_foreach(defs, i, b) {
		label = eng_template_run(s->buttons[2 * i], ctx,
		    ENG_TEMPLATE_TEXT);
		action = eng_template_run(s->buttons[2 * i + 1], ctx,
		    ENG_TEMPLATE_TEXT);
		json_array_append_new(out, json_pack("{s:O, s:s, s:s}", "name",
		    json_object_get(b, "name"), "label", label, "action",
		    action));
		free(label);
		free(action);
	}
	return out;
}

/* Render every part of a step's template into a message body object. */
static json_t *
run_render(const struct eng_step *s, json_t *ctx)
{
	json_t *body = json_object(), *v;
	const char *k;
	size_t i = 0;
	char *out;

	json_object_foreach(s->template, k, v) {
		if (strcmp(k, "buttons") == 0) {
			json_object_set_new(body, k, run_buttons(s, v, ctx));
			continue;
		}
		out = eng_template_run(s->parts[i++], ctx, strcmp(k, "body") ==
		    0 ? ENG_TEMPLATE_JSON : strcmp(k, "html") == 0 ?
		    ENG_TEMPLATE_HTML : ENG_TEMPLATE_TEXT);
		json_object_set_new(body, k, json_string(out));
		free(out);
	}
	return body;
}

/*
 * Whether channel step s cannot reach the recipient (an email step and a
 * recipient without an email): then the step is skipped with the reason
 * in the run's events.
 */
static int
run_unreachable(struct rrun *rr, const struct eng_step *s, int64_t now)
{
	const char *why = eng_delivery_unreachable(s, rr->recipient);

	if (why == NULL)
		return 0;
	run_event(&rr->events, "step_skipped", "skipped", s, json_pack(
	    "{s:s, s:s}", "reason", "channel_data", "message", why), now);
	return 1;
}

/* What run_cond_eval's audience operators ask about: rr in run r. */
struct run_aud {
	struct eng *e;
	const struct eng_run *r;
	const struct rrun *rr;
};

/* Whether the recipient of a run_aud is a member of audience: 1 or 0. */
static int
run_member(void *arg, const char *audience)
{
	const struct run_aud *a = arg;

	return eng_audience_member(a->e, audience, a->rr->rcpt,
	    a->r->tenant_id);
}

/* Evaluate conditions for rr, audience operators asking the store. */
static int
run_cond_eval(struct eng *e, const struct eng_run *r, const struct rrun *rr,
    json_t *conditions, json_t *ctx, size_t *failed)
{
	struct run_aud a = { e, r, rr };
	struct eng_cond_env env = { run_member, &a };

	return eng_cond_eval_env(conditions, ctx, &env, failed);
}

/*
 * Whether the recipient's default set says commercial_subscribed false
 * (Knock's commercial unsubscribe; a conditions object is not evaluated).
 */
static int
run_unsubscribed(struct eng *e, struct rrun *rr)
{
	json_t *set;
	int out;

	if (!e->has_prefs || (set = run_pref_set(e, rr->rcpt,
	    "default")) == NULL)
		return 0;
	out = json_is_false(json_object_get(set, "commercial_subscribed"));
	json_decref(set);
	return out;
}

/*
 * A channel step: conditions, the recipient's channel data, preferences,
 * then the message; in sandbox mode a message outside the feed is kept
 * as not_sent and the step is skipped with the reason sandbox_mode.
 */
static int
run_channel(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx)
{
	const struct eng_channel *ch = s->channel;
	const char *status, *txt;
	struct store_message m;
	char *rule = NULL, mid[37];
	json_t *body;
	int64_t seq;
	size_t failed;
	int sandbox;

	if (s->conditions != NULL && !run_cond_eval(e, r, rr, s->conditions,
	    ctx, &failed)) {
		run_event(&rr->events, "step_skipped", "skipped", s,
		    json_pack("{s:s, s:I}", "reason", "conditions",
		    "condition", (json_int_t)failed), r->now);
		return 0;
	}
	if (run_unreachable(rr, s, r->now))
		return 0;
	if (r->w->commercial && run_unsubscribed(e, rr)) {
		run_event(&rr->events, "step_skipped", "skipped", s,
		    json_pack("{s:s, s:s}", "reason", "preferences", "rule",
		    "commercial_subscribed=false"), r->now);
		return 0;
	}
	if (rr->prefs == NULL && !r->w->override_preferences)
		rr->prefs = run_prefs(e, r, rr->rcpt);
	if (!r->w->override_preferences && json_object_size(rr->prefs) > 0 &&
	    !eng_pref_decide(rr->prefs,
	    r->w->key, r->w->categories, ch->type, ch->name, ctx, &rule)) {
		run_event(&rr->events, "step_skipped", "skipped", s,
		    json_pack("{s:s, s:s}", "reason", "preferences", "rule",
		    rule ? rule : ""), r->now);
		free(rule);
		return 0;
	}
	free(rule);
	body = run_render(s, ctx);
	/* A message sent after a batch keeps what the feed shows of it. */
	if (rr->batch != NULL)
		json_object_set(body, "$batch", rr->batch);
	sandbox = r->sandbox && strcmp(ch->type, "in_app_feed") != 0;
	status = sandbox ? "not_sent" : eng_channel_outgoing(ch->type) ?
	    "queued" : "delivered";
	memset(&m, 0, sizeof m);
	m.run = r->seq;
	m.idx = rr->idx;
	m.step_ref = s->ref;
	m.channel = ch->name;
	m.rcpt = rr->rcpt;
	m.tenant = r->tenant_id;
	m.status = status;
	m.body = body;
	m.inserted = r->now;
	if ((seq = store_message_add(e->store, &m)) < 0) {
		json_decref(body);
		return -1;
	}
	if (sandbox) {
		/* Sandbox mode: the message is kept, never sent. */
		eng_id_format(e, ENG_ID_MSG, (uint64_t)seq, 0, mid);
		run_event(&rr->events, "step_skipped", "skipped", s, json_pack(
		    "{s:s, s:s, s:s}", "reason", "sandbox_mode", "message_id",
		    mid, "channel", ch->name), r->now);
		json_decref(body);
		r->messages++;
		e->stats.messages++;
		return 0;
	}
	if (eng_channel_outgoing(ch->type)) {
		if (eng_delivery_queue(e, s, seq, body, ctx, rr->recipient,
		    r->now) != 0) {
			json_decref(body);
			return -1;
		}
		e->stats.queue_depth++;
	} else if (strcmp(ch->type, "in_app_feed") == 0)
		eng_push_note(e, rr->rcpt, ch->name, r->tenant_id, 0);
	else if (strcmp(ch->type, "log") == 0) {
		txt = json_string_value(json_object_get(body, "text"));
		if (txt == NULL)
			txt = json_string_value(json_object_get(body,
			    "markdown"));
		eng_id_format(e, ENG_ID_MSG, (uint64_t)seq, 0, mid);
		eng_log_line(e, LOG_PRI_INFO, "log channel %s: message %s to "
		    "%s: %s", ch->name, mid, rr->rcpt, txt ? txt : "");
	}
	json_decref(body);
	r->messages++;
	e->stats.messages++;
	eng_count(e, ENG_COUNT_MESSAGES, r->w->key, ch->name, 1);
	/* The message's id is derived from its seq when read (runs_events). */
	run_event_start(&rr->events, "message_sent", "ok", s);
	eng_text_add(&rr->events, ",\"d\":{\"m\":", 10);
	eng_text_int(&rr->events, seq);
	eng_text_add(&rr->events, ",\"c\":", 5);
	eng_text_string(&rr->events, ch->name);
	eng_text_add(&rr->events, "}", 1);
	run_event_end(&rr->events, r->now);
	return 0;
}

/* The value at a dotted path below data. */
json_t *
run_data_path(json_t *data, const char *path)
{
	char *copy = xstrdup(path), *p, *tok, *save = NULL;
	json_t *v = data;

	for (p = copy; v != NULL && (tok = strtok_r(p, ".", &save)) != NULL;
	    p = NULL)
		v = json_object_get(v, tok);
	free(copy);
	return v;
}

/*
 * How long a delay, batch window or throttle window lasts for this run:
 * the fixed duration or the data value (seconds, {unit: n}, Knock's
 * {"unit": u, "value": n}, or an RFC 3339 time with any offset to wait
 * until).  -1 when the value is missing or invalid.
 */
int64_t
run_duration(struct eng_run *r, json_t *ctx, const struct eng_step *s)
{
	json_t *v;
	int64_t t;

	if (s->duration_key == NULL)
		return s->duration;
	v = run_data_path(json_object_get(ctx, "data"), s->duration_key);
	if (json_is_string(v)) {
		if (eng_time_parse(json_string_value(v), &t) != 0 || t < r->now ||
		    t - r->now > 365 * 86400)
			return -1;
		return t - r->now;
	}
	return eng_duration(v);
}

/* Add a wait. */
int
eng_wait(struct eng *e, int64_t due, int kind, int64_t a, int64_t b)
{
	struct store_wait w = { due, kind, a, b };

	return store_wait_put(e->store, &w);
}

/* Remove a wait. */
int
run_unwait(struct eng *e, int64_t due, int kind, int64_t a, int64_t b)
{
	struct store_wait w = { due, kind, a, b };

	return store_wait_del(e->store, &w);
}

/* A throttle step: 1 when the run may go on, 0 when it is throttled. */
static int
run_throttle(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx)
{
	int64_t window = run_duration(r, ctx, s), n = 0;
	json_t *kv = s->throttle_key ? run_data_path(json_object_get(ctx,
	    "data"), s->throttle_key) : NULL;
	char *tkey, *kt = kv ? eng_json_dumps(kv, JSON_ENCODE_ANY |
	    JSON_COMPACT) : NULL;

	if (window <= 0)
		window = 1;
	tkey = xasprintf("%s\x1f%s\x1f%s\x1f%s", r->w->key, s->ref, rr->rcpt,
	    kt ? kt : "");
	free(kt);
	n = store_throttle_count(e->store, tkey, r->now - window);
	if (n >= s->threshold) {
		free(tkey);
		run_event(&rr->events, "throttled", "ok", s, json_pack("{s:I,"
		    " s:I}", "threshold", (json_int_t)s->threshold, "window",
		    (json_int_t)window), r->now);
		return 0;
	}
	store_throttle_hit(e->store, tkey, r->now, r->seq, rr->idx,
	    r->now + window);
	free(tkey);
	return 1;
}

/* A branch step: the pc of the first arm whose conditions hold. */
static size_t
run_branch(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx)
{
	const struct eng_branch *def = NULL, *b;
	size_t i;

	for (i = 0; i < s->nbranches; i++) {
		b = &s->branches[i];
		if (b->conditions == NULL) {
			def = b;
			continue;
		}
		if (run_cond_eval(e, r, rr, b->conditions, ctx, NULL))
			break;
	}
	b = i < s->nbranches ? &s->branches[i] : def;
	run_event(&rr->events, "branch_taken", "ok", s, json_pack("{s:s}",
	    "branch", b->name), r->now);
	return b->target;
}

/* Write a recipient run's state (insert when new). */
int
run_save(struct eng *e, struct eng_run *r, struct rrun *rr, int insert)
{
	struct store_rrun sr;

	memset(&sr, 0, sizeof sr);
	sr.run = r->seq;
	sr.idx = rr->idx;
	sr.rcpt = rr->rcpt;
	sr.status = rr->status;
	sr.events_text = rr->events.s;
	sr.events_len = rr->events.len;
	sr.pc = (int64_t)rr->pc;
	sr.tdata = rr->tdata;
	sr.sub = rr->sub;
	sr.wait_at = rr->wait_at;
	sr.batch = rr->batch_id;
	return insert ? store_rrun_add(e->store, &sr, r->now) :
	    store_rrun_update(e->store, &sr, r->now);
}

/* Run rr's program from its pc until it ends or waits; then save it. */
int
run_advance(struct eng *e, struct eng_run *r, struct rrun *rr, int insert)
{
	const struct eng_step *s;
	json_t *ctx;
	int64_t d;
	int rc = 0, stop = 0;

	rr->status = "completed";
	rr->wait_at = 0;
	while (rc == 0 && !stop && rr->pc < r->w->nsteps) {
		s = &r->w->steps[rr->pc];
		ctx = run_ctx(r, rr);
		switch (s->kind) {
		case STEP_CHANNEL:
			rc = run_channel(e, r, rr, s, ctx);
			rr->pc++;
			break;
		case STEP_DELAY:
			rr->pc++;
			d = r->skip_delay ? 0 : run_duration(r, ctx, s);
			if (d <= 0) {
				run_event(&rr->events, "step_skipped", "skipped",
				    s, json_pack("{s:s}", "reason", d < 0 ?
				    "invalid or missing duration" :
				    "skip_delay"), r->now);
				break;
			}
			rr->wait_at = r->now + d;
			rc = eng_wait(e, rr->wait_at, WAIT_RESUME, r->seq,
			    rr->idx);
			rr->status = "paused";
			run_event(&rr->events, "delayed", "ok", s, json_pack(
			    "{s:I}", "until", (json_int_t)rr->wait_at), r->now);
			stop = 1;
			break;
		case STEP_THROTTLE:
			rr->pc++;
			if (!run_throttle(e, r, rr, s, ctx))
				stop = 1;
			break;
		case STEP_BATCH:
			if ((rc = run_batch(e, r, rr, s, ctx)) == 1) {
				rc = 0;
				rr->pc++;
			} else
				stop = 1;
			break;
		case STEP_BRANCH:
			rr->pc = run_branch(e, r, rr, s, ctx);
			break;
		case STEP_JUMP:
			rr->pc = s->target;
			break;
		}
		json_decref(ctx);
	}
	if (rc != 0)
		return -1;
	/* The run that carried a batch is done with it: drop its rows. */
	if (rr->batch_id != 0 && strcmp(rr->status, "completed") == 0)
		store_batch_drop(e->store, rr->batch_id);
	return run_save(e, r, rr, insert);
}

/* Free a recipient run's owned values. */
void
run_rrun_free(struct rrun *rr)
{
	free(rr->rcpt);
	json_decref(rr->recipient);
	json_decref(rr->tdata);
	json_decref(rr->sub);
	free(rr->events.s);
	json_decref(rr->prefs);
	json_decref(rr->batch);
}

/*
 * The recipient entity of key rcpt ("id" or "collection/id") for run r:
 * its stored record, or just its id when it has none or when nothing in
 * r can read it (the workflow does not mention "recipient" nor batches in
 * the recipient's zone, and no preference set could test it).  With r
 * NULL, always the record.
 */
static json_t *
run_recipient(struct eng *e, const struct eng_run *r, const char *rcpt)
{
	const char *slash = strchr(rcpt, '/');
	int load = r == NULL || r->w->needs_recipient || e->has_prefs ||
	    r->tenant_prefs != NULL || e->cfg->prefs_need_recipient;
	json_t *v = NULL;
	char *coll;

	if (slash == NULL)
		v = load ? eng_recipient_load(e, NULL, rcpt) : NULL;
	else {
		coll = xstrdup(rcpt);
		coll[slash - rcpt] = '\0';
		v = load ? eng_recipient_load(e, coll, slash + 1) : NULL;
		if (v == NULL)
			v = json_pack("{s:s, s:s}", "id", slash + 1,
			    "collection", coll);
		free(coll);
	}
	if (v == NULL) {
		v = json_object();
		json_object_set_new_nocheck(v, "id", json_string(rcpt));
	}
	return v;
}

/* Start a new recipient run at the first step. */
int
eng_run_recipient(struct eng *e, struct eng_run *r, int64_t idx,
    const char *rcpt, json_t *tdata, json_t *sub)
{
	struct rrun rr;
	int rc;

	memset(&rr, 0, sizeof rr);
	rr.idx = idx;
	rr.rcpt = xstrdup(rcpt);
	rr.recipient = run_recipient(e, r, rcpt);
	rr.tdata = json_incref(tdata);
	rr.sub = json_incref(sub);
	run_events_init(&rr.events, NULL);
	rc = run_advance(e, r, &rr, 1);
	run_rrun_free(&rr);
	return rc;
}

/* Load run seq's context (workflow in force, data, actor, tenant). */
int
eng_run_load(struct eng *e, int64_t seq, int64_t now, struct eng_run *r)
{
	struct store_run sr;
	char *cause = NULL;

	memset(r, 0, sizeof *r);
	if (!store_run_get(e->store, seq, &sr))
		return -1;
	r->w = eng_workflow_find(e->cfg, sr.workflow);
	r->seq = seq;
	r->now = now;
	r->data = sr.data;
	sr.data = NULL;
	r->actor_key = sr.actor ? xstrdup(sr.actor) : NULL;
	r->settings = sr.settings;
	sr.settings = NULL;
	r->skip_delay = json_is_true(json_object_get(r->settings,
	    "skip_delay"));
	r->sandbox = json_is_true(json_object_get(r->settings,
	    "sandbox_mode"));
	r->subscriber_filter = json_object_get(r->settings,
	    "subscriber_filter");
	if (sr.tenant != NULL)
		eng_tenant_get(e, sr.tenant, &r->tenant, &cause);
	store_run_clear(&sr);
	free(cause);
	if (r->w == NULL || r->data == NULL) {
		eng_run_clear(r);
		return -1;
	}
	if (r->actor_key != NULL)
		r->actor = eng_rcpt_entity(e, r->actor_key);
	if (r->tenant != NULL) {
		r->tenant_id = json_string_value(json_object_get(r->tenant,
		    "id"));
		r->tenant_prefs = json_object_get(json_object_get(r->tenant,
		    "settings"), "preference_set");
		if (json_is_null(r->tenant_prefs))
			r->tenant_prefs = NULL;
	}
	eng_run_context(r);
	return 0;
}

/* Load a stored recipient run; 0 or -1. */
int
run_rrun_load(struct eng *e, int64_t seq, int64_t idx, struct rrun *rr)
{
	struct store_rrun sr;

	memset(rr, 0, sizeof *rr);
	if (!store_rrun_get(e->store, seq, idx, &sr))
		return -1;
	rr->idx = idx;
	rr->rcpt = xstrdup(sr.rcpt);
	rr->status = strcmp(sr.status, "paused") == 0 ? "paused" : "other";
	run_events_init(&rr->events, sr.events);
	rr->pc = (size_t)sr.pc;
	rr->tdata = sr.tdata;
	rr->sub = sr.sub;
	rr->wait_at = sr.wait_at;
	rr->batch_id = sr.batch;
	sr.events = sr.tdata = sr.sub = NULL;
	store_rrun_clear(&sr);
	rr->recipient = run_recipient(e, NULL, rr->rcpt);
	return 0;
}

/* Resume recipient run (seq, idx) at its pc. */
int
eng_run_resume(struct eng *e, int64_t seq, int64_t idx, int64_t now)
{
	struct eng_run r;
	struct rrun rr;
	int64_t pc;
	int rc;

	if (run_rrun_load(e, seq, idx, &rr) != 0)
		return 0;
	if (strcmp(rr.status, "paused") != 0 || eng_run_load(e, seq, now, &r)) {
		run_rrun_free(&rr);
		return 0;
	}
	if (rr.batch_id != 0 && (pc = run_batch_pc(e, rr.batch_id)) >= 0 &&
	    (size_t)pc < r.w->nsteps)
		rr.batch = run_batch_vars(e, &r.w->steps[pc], rr.batch_id);
	rc = run_advance(e, &r, &rr, 0);
	run_rrun_free(&rr);
	eng_run_clear(&r);
	return rc;
}
