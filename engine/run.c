/*
 * The step machine: a recipient run executes its workflow's compiled
 * program from its position (pc) until it ends or must wait.  Waiting is a
 * row in `waits` (a delay's end or a batch window's close); eng_run_due()
 * resumes what is due, in time order.  Every change a step makes commits in
 * the caller's transaction together with the run's new position, so a
 * crash redoes or keeps a step whole.
 *
 * Batches: the first run to reach a batch step opens the batch and carries
 * it (status paused); runs that join add an activity and end as "batched".
 * When the window closes the carrier resumes with the batch's activities.
 * Cancelling the carrier hands the batch to the next activity's run;
 * cancelling the last activity drops the batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/conditions.h"
#include "engine/preferences.h"
#include "engine/template.h"

#define WAIT_RESUME ENG_WAIT_RESUME
#define WAIT_BATCH ENG_WAIT_BATCH
/* As many recipients as a trigger may name. */
#define RUN_MAX_CANCEL_RECIPIENTS 1000

/* A recipient run being advanced. */
struct rrun {
	int64_t idx;
	char *rcpt;
	json_t *recipient;       /* entity for templates (owned) */
	json_t *tdata;           /* $trigger_data or NULL (owned) */
	json_t *sub;             /* subscription properties or NULL (owned) */
	struct eng_text events;  /* the JSON array of its events (owned) */
	json_t *prefs;           /* merged preferences, lazily (owned) */
	json_t *batch;           /* batch variables or NULL (owned) */
	size_t pc;
	int64_t wait_at;         /* 0 when not waiting on a delay */
	int64_t batch_id;
	const char *status;
};

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
 * Start an event in a recipient run's list, stored compact (messages.c,
 * msg_events, gives Knock's shape back): {"e": event, "s": status unless
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
static void
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
		    0 ? ENG_TEMPLATE_JSON : ENG_TEMPLATE_TEXT);
		json_object_set_new(body, k, json_string(out));
		free(out);
	}
	return body;
}

/* A channel step: conditions, preferences, then the message. */
static int
run_channel(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx)
{
	const struct eng_channel *ch = s->channel;
	const char *status, *txt;
	sqlite3_stmt *st;
	char *rule = NULL, mid[37], *line;
	json_t *body;
	int64_t seq, prev;
	size_t failed;

	if (s->conditions != NULL && !eng_cond_eval(s->conditions, ctx,
	    &failed)) {
		run_event(&rr->events, "step_skipped", "skipped", s,
		    json_pack("{s:s, s:I}", "reason", "conditions",
		    "condition", (json_int_t)failed), r->now);
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
	status = strcmp(ch->type, "http") == 0 ? "queued" : "delivered";
	if ((prev = eng_feed_push(e, rr->rcpt, ch->name, &seq)) < 0) {
		json_decref(body);
		return -1;
	}
	st = eng_stmt(e, ST_MSG_INS);
	sqlite3_bind_int64(st, 1, r->seq);
	sqlite3_bind_int64(st, 2, rr->idx);
	sqlite3_bind_text(st, 3, s->ref, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ch->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rr->rcpt, -1, SQLITE_STATIC);
	if (r->tenant_id)
		sqlite3_bind_text(st, 6, r->tenant_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, status, -1, SQLITE_STATIC);
	eng_bind_json(st, 8, body);
	sqlite3_bind_int64(st, 9, r->now);
	if (prev != 0)
		sqlite3_bind_int64(st, 10, prev);
	sqlite3_bind_int64(st, 11, seq);
	if (eng_step_done(e, st) != 0) {
		json_decref(body);
		return -1;
	}
	if (strcmp(ch->type, "http") == 0) {
		st = eng_stmt(e, ST_DLV_INS);
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_int64(st, 2, r->now);
		sqlite3_bind_text(st, 3, ch->url, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, json_string_value(json_object_get(body,
		    "body")), -1, SQLITE_TRANSIENT);
		if (eng_step_done(e, st) != 0) {
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
		line = xasprintf("<6>belfry: log channel %s: message %s to "
		    "%s: %s", ch->name, mid, rr->rcpt, txt ? txt : "");
		eng_log_line(e, line);
		free(line);
	}
	json_decref(body);
	r->messages++;
	e->stats.messages++;
	/* The message's id is derived from its seq when read (msg_events). */
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
static json_t *
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
static int64_t
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

/* Bind a wait row's key to statement which and step it. */
static int
run_wait_row(struct eng *e, enum eng_stmt which, int64_t due, int kind,
    int64_t a, int64_t b)
{
	sqlite3_stmt *st = eng_stmt(e, which);

	sqlite3_bind_int64(st, 1, due);
	sqlite3_bind_int(st, 2, kind);
	sqlite3_bind_int64(st, 3, a);
	sqlite3_bind_int64(st, 4, b);
	return eng_step_done(e, st);
}

/* Add a wait row. */
int
eng_wait(struct eng *e, int64_t due, int kind, int64_t a, int64_t b)
{
	return run_wait_row(e, ST_WAIT_INS, due, kind, a, b);
}

/* Remove a wait row. */
static int
run_unwait(struct eng *e, int64_t due, int kind, int64_t a, int64_t b)
{
	return run_wait_row(e, ST_WAIT_DEL, due, kind, a, b);
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
	sqlite3_stmt *st;

	if (window <= 0)
		window = 1;
	tkey = xasprintf("%s\x1f%s\x1f%s\x1f%s", r->w->key, s->ref, rr->rcpt,
	    kt ? kt : "");
	free(kt);
	st = eng_stmt(e, ST_THR_GC);
	sqlite3_bind_text(st, 1, tkey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->now - window);
	eng_step_done(e, st);
	st = eng_stmt(e, ST_THR_COUNT);
	sqlite3_bind_text(st, 1, tkey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->now - window);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (n >= s->threshold) {
		free(tkey);
		run_event(&rr->events, "throttled", "ok", s, json_pack("{s:I,"
		    " s:I}", "threshold", (json_int_t)s->threshold, "window",
		    (json_int_t)window), r->now);
		return 0;
	}
	st = eng_stmt(e, ST_THR_INS);
	sqlite3_bind_text(st, 1, tkey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->now);
	sqlite3_bind_int64(st, 3, r->seq);
	sqlite3_bind_int64(st, 4, rr->idx);
	sqlite3_bind_int64(st, 5, r->now + window);
	eng_step_done(e, st);
	free(tkey);
	return 1;
}

/* The time zone of a recipient, else the configured default, else UTC. */
static struct tz_zone *
run_zone(struct eng *e, json_t *recipient)
{
	const char *name = json_string_value(json_object_get(recipient,
	    "timezone"));
	struct tz_zone *z;
	char *cause = NULL;

	if (name != NULL && (z = tz_zone_get(name, &cause)) != NULL)
		return z;
	free(cause);
	cause = NULL;
	name = e->cfg->default_timezone ? e->cfg->default_timezone : "UTC";
	z = tz_zone_get(name, &cause);
	free(cause);
	return z;
}

/*
 * When a batch opened now closes: the window rule's next occurrence in the
 * recipient's zone, or now plus the window.  -1 if it cannot be known.
 */
static int64_t
run_batch_close(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx)
{
	struct tz_zone *z;
	struct tz_recur *rec;
	struct tz_wall w;
	char *cause = NULL;
	int64_t d, t;

	if (s->window_rule == NULL) {
		d = run_duration(r, ctx, s);
		return d < 0 ? -1 : r->now + d;
	}
	if ((z = run_zone(e, rr->recipient)) == NULL ||
	    tz_to_wall(z, r->now, &w) != 0)
		return -1;
	w.hour = w.minute = w.second = 0;
	if ((rec = tz_recur_new(s->window_rule, &w, &cause)) == NULL) {
		free(cause);
		return -1;
	}
	if (tz_recur_next(rec, z, TZ_GAP_SHIFT, TZ_OVERLAP_FIRST, r->now,
	    &t) != 0)
		t = -1;
	tz_recur_free(rec);
	return t;
}

/* Add this run's activity to batch id. */
static int
run_batch_item(struct eng *e, struct eng_run *r, struct rrun *rr, int64_t id,
    json_t *ctx)
{
	sqlite3_stmt *st = eng_stmt(e, ST_ITEM_INS);

	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, r->seq);
	sqlite3_bind_int64(st, 3, rr->idx);
	if (r->actor_key)
		sqlite3_bind_text(st, 4, r->actor_key, -1, SQLITE_STATIC);
	eng_bind_json(st, 5, json_object_get(ctx, "data"));
	sqlite3_bind_int64(st, 6, r->now);
	return eng_step_done(e, st);
}

/* How many activities batch id holds. */
static int64_t
run_batch_count(struct eng *e, int64_t id)
{
	sqlite3_stmt *st = eng_stmt(e, ST_ITEM_COUNT);
	int64_t n = 0;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

/*
 * A batch step.  Returns 1 when the run goes on past it (a batch could not
 * be formed: the window is invalid), 0 when the run stops here (it opened
 * the batch and waits, or it joined one and ends as "batched").
 */
static int
run_batch(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx)
{
	json_t *kv = s->batch_key ? run_data_path(json_object_get(ctx,
	    "data"), s->batch_key) : NULL;
	char *kt = kv ? eng_json_dumps(kv, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	char *bkey = xasprintf("%s\x1f%s\x1f%s\x1f%s", r->w->key, s->ref,
	    rr->rcpt, kt ? kt : "");
	int64_t id = 0, closes = 0, hard = 0, t;
	sqlite3_stmt *st;
	int rc = 0;

	free(kt);
	st = eng_stmt(e, ST_BATCH_FIND);
	sqlite3_bind_text(st, 1, bkey, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		closes = sqlite3_column_int64(st, 1);
		hard = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	if (id != 0) {
		/* Join: add the activity, slide the window, end this run. */
		run_batch_item(e, r, rr, id, ctx);
		if (s->sliding && (t = run_duration(r, ctx, s)) > 0) {
			t = r->now + t < hard ? r->now + t : hard;
			if (t != closes) {
				run_unwait(e, closes, WAIT_BATCH, id, 0);
				eng_wait(e, t, WAIT_BATCH, id, 0);
				st = eng_stmt(e, ST_BATCH_GET);
				sqlite3_bind_int64(st, 1, id);
				sqlite3_step(st);
				int64_t crun = sqlite3_column_int64(st, 1);
				int64_t cidx = sqlite3_column_int64(st, 2);
				sqlite3_reset(st);
				st = eng_stmt(e, ST_BATCH_SET);
				sqlite3_bind_int64(st, 1, id);
				sqlite3_bind_int64(st, 2, t);
				sqlite3_bind_int64(st, 3, crun);
				sqlite3_bind_int64(st, 4, cidx);
				eng_step_done(e, st);
				closes = t;
			}
		}
		if (s->max_activities > 0 &&
		    run_batch_count(e, id) >= s->max_activities) {
			/* Full: close at once (the due loop runs it now). */
			run_unwait(e, closes, WAIT_BATCH, id, 0);
			eng_wait(e, r->now, WAIT_BATCH, id, 0);
			st = eng_stmt(e, ST_BATCH_CLOSE);
			sqlite3_bind_int64(st, 1, id);
			eng_step_done(e, st);
		}
		rr->status = "batched";
		rr->batch_id = id;
		run_event(&rr->events, "batched", "ok", s, NULL, r->now);
		goto out;
	}
	if ((closes = run_batch_close(e, r, rr, s, ctx)) < 0) {
		run_event(&rr->events, "step_skipped", "skipped", s, json_pack(
		    "{s:s}", "reason", "invalid batch window"), r->now);
		rc = 1;
		goto out;
	}
	hard = s->sliding ? r->now + s->max_window : closes;
	st = eng_stmt(e, ST_BATCH_INS);
	sqlite3_bind_text(st, 1, bkey, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->seq);
	sqlite3_bind_int64(st, 3, rr->idx);
	sqlite3_bind_int64(st, 4, (int64_t)rr->pc);
	sqlite3_bind_int64(st, 5, r->now);
	sqlite3_bind_int64(st, 6, closes);
	sqlite3_bind_int64(st, 7, hard);
	if (eng_step_done(e, st) != 0) {
		rc = -1;
		goto out;
	}
	id = sqlite3_last_insert_rowid(e->db);
	run_batch_item(e, r, rr, id, ctx);
	eng_wait(e, closes, WAIT_BATCH, id, 0);
	rr->status = "paused";
	rr->batch_id = id;
	run_event(&rr->events, "batch_opened", "ok", s, json_pack("{s:o}",
	    "closes_at", json_integer(closes)), r->now);
out:
	free(bkey);
	return rc;
}

/* A branch step: the pc of the first arm whose conditions hold. */
static size_t
run_branch(struct eng_run *r, struct rrun *rr, const struct eng_step *s,
    json_t *ctx)
{
	const struct eng_branch *def = NULL, *b;
	size_t i;

	for (i = 0; i < s->nbranches; i++) {
		b = &s->branches[i];
		if (b->conditions == NULL) {
			def = b;
			continue;
		}
		if (eng_cond_eval(b->conditions, ctx, NULL))
			break;
	}
	b = i < s->nbranches ? &s->branches[i] : def;
	run_event(&rr->events, "branch_taken", "ok", s, json_pack("{s:s}",
	    "branch", b->name), r->now);
	return b->target;
}

/* Write a recipient run's state (insert when new). */
static int
run_save(struct eng *e, struct eng_run *r, struct rrun *rr, int insert)
{
	sqlite3_stmt *st;

	if (insert) {
		st = eng_stmt(e, ST_RRUN_INS);
		sqlite3_bind_int64(st, 1, r->seq);
		sqlite3_bind_int64(st, 2, rr->idx);
		sqlite3_bind_text(st, 3, rr->rcpt, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, rr->status, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, rr->events.s, (int)rr->events.len,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, r->now);
		sqlite3_bind_int64(st, 7, (int64_t)rr->pc);
		eng_bind_json(st, 8, rr->tdata);
		eng_bind_json(st, 9, rr->sub);
		if (rr->wait_at)
			sqlite3_bind_int64(st, 10, rr->wait_at);
		if (rr->batch_id)
			sqlite3_bind_int64(st, 11, rr->batch_id);
		return eng_step_done(e, st);
	}
	st = eng_stmt(e, ST_RRUN_UPD);
	sqlite3_bind_int64(st, 1, r->seq);
	sqlite3_bind_int64(st, 2, rr->idx);
	sqlite3_bind_text(st, 3, rr->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, rr->events.s, (int)rr->events.len,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)rr->pc);
	if (rr->wait_at)
		sqlite3_bind_int64(st, 6, rr->wait_at);
	if (rr->batch_id)
		sqlite3_bind_int64(st, 7, rr->batch_id);
	sqlite3_bind_int64(st, 8, r->now);
	return eng_step_done(e, st);
}

/* Delete batch id and its activities (the messages keep what they showed). */
static void
run_batch_drop(struct eng *e, int64_t id)
{
	sqlite3_stmt *st = eng_stmt(e, ST_ITEM_DROP);

	sqlite3_bind_int64(st, 1, id);
	eng_step_done(e, st);
	st = eng_stmt(e, ST_BATCH_DEL);
	sqlite3_bind_int64(st, 1, id);
	eng_step_done(e, st);
}

/* Run rr's program from its pc until it ends or waits; then save it. */
static int
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
			rr->pc = run_branch(r, rr, s, ctx);
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
		run_batch_drop(e, rr->batch_id);
	return run_save(e, r, rr, insert);
}

/* Free a recipient run's owned values. */
static void
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
	sqlite3_stmt *st = eng_stmt(e, ST_RUN_GET);
	const char *actor, *tenant;
	json_t *settings;
	char *cause = NULL;

	memset(r, 0, sizeof *r);
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	r->w = eng_workflow_find(e->cfg, (const char *)sqlite3_column_text(st,
	    0));
	r->seq = seq;
	r->now = now;
	r->data = eng_json_col(st, 3);
	actor = (const char *)sqlite3_column_text(st, 1);
	tenant = (const char *)sqlite3_column_text(st, 2);
	r->actor_key = actor ? xstrdup(actor) : NULL;
	settings = eng_json_col(st, 7);
	r->settings = settings;
	r->skip_delay = json_is_true(json_object_get(settings, "skip_delay"));
	r->subscriber_filter = json_object_get(settings, "subscriber_filter");
	if (tenant != NULL)
		r->tenant = NULL, eng_tenant_get(e, tenant, &r->tenant, &cause);
	sqlite3_reset(st);
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
static int
run_rrun_load(struct eng *e, int64_t seq, int64_t idx, struct rrun *rr)
{
	sqlite3_stmt *st = eng_stmt(e, ST_RRUN_LOAD);
	const char *rcpt;

	memset(rr, 0, sizeof *rr);
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, idx);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	rcpt = (const char *)sqlite3_column_text(st, 0);
	rr->idx = idx;
	rr->rcpt = xstrdup(rcpt);
	rr->status = strcmp((const char *)sqlite3_column_text(st, 1),
	    "paused") == 0 ? "paused" : "other";
	run_events_init(&rr->events, eng_json_col(st, 2));
	rr->pc = (size_t)sqlite3_column_int64(st, 3);
	rr->tdata = eng_json_col(st, 4);
	rr->sub = eng_json_col(st, 5);
	rr->wait_at = sqlite3_column_int64(st, 6);
	rr->batch_id = sqlite3_column_int64(st, 7);
	sqlite3_reset(st);
	rr->recipient = run_recipient(e, NULL, rr->rcpt);
	return 0;
}

/*
 * The batch variables of batch id: activities (the first or last
 * render_limit), actors (distinct), total_activities, total_actors.
 */
static json_t *
run_batch_vars(struct eng *e, const struct eng_step *s, int64_t id)
{
	sqlite3_stmt *st = eng_stmt(e, ST_ITEM_LIST);
	json_t *all = json_array(), *acts, *actors = json_array();
	json_t *seen = json_object();
	const char *actor;
	size_t n, from, i;
	char ts[32];

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		actor = (const char *)sqlite3_column_text(st, 2);
		eng_iso(sqlite3_column_int64(st, 4), ts, sizeof ts);
		json_array_append_new(all, json_pack("{s:o, s:o, s:s}",
		    "data", eng_json_col(st, 3) ?: json_object(), "actor",
		    actor ? json_string(actor) : json_null(), "inserted_at",
		    ts));
		if (actor != NULL && json_object_get(seen, actor) == NULL) {
			json_object_set_new(seen, actor, json_true());
			json_array_append_new(actors, json_string(actor));
		}
	}
	sqlite3_reset(st);
	n = json_array_size(all);
	from = s->order_last && n > (size_t)s->render_limit ?
	    n - (size_t)s->render_limit : 0;
	acts = json_array();
	for (i = from; i < n && i - from < (size_t)s->render_limit; i++) {
		json_t *a = json_array_get(all, i);
		const char *k = json_string_value(json_object_get(a, "actor"));

		if (k != NULL)
			json_object_set_new(a, "actor", eng_rcpt_entity(e, k));
		json_array_append(acts, a);
	}
	for (i = 0; i < json_array_size(actors); i++)
		json_array_set_new(actors, i, eng_rcpt_entity(e,
		    json_string_value(json_array_get(actors, i))));
	json_decref(seen);
	json_decref(all);
	return json_pack("{s:o, s:I, s:I, s:o}", "activities", acts,
	    "total_activities", (json_int_t)n, "total_actors",
	    (json_int_t)json_array_size(actors), "actors", actors);
}

/*
 * The pc of batch id's step, or -1 when the batch is unknown; *open says
 * whether it still takes activities.
 */
static int64_t
run_batch_state(struct eng *e, int64_t id, int *open)
{
	sqlite3_stmt *st = eng_stmt(e, ST_BATCH_GET);
	int64_t pc = -1;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pc = sqlite3_column_int64(st, 3);
		*open = sqlite3_column_type(st, 0) != SQLITE_NULL;
	}
	sqlite3_reset(st);
	return pc;
}

/* The pc of batch id's step, or -1. */
static int64_t
run_batch_pc(struct eng *e, int64_t id)
{
	int open;

	return run_batch_state(e, id, &open);
}

/* Resume recipient run (seq, idx) at its pc. */
static int
run_resume(struct eng *e, int64_t seq, int64_t idx, int64_t now)
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

/* Close batch id: its carrier resumes past the batch step. */
static int
run_close_batch(struct eng *e, int64_t id, int64_t now)
{
	sqlite3_stmt *st = eng_stmt(e, ST_BATCH_GET);
	int64_t seq, idx, pc;
	struct eng_run r;
	struct rrun rr;
	int rc;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	seq = sqlite3_column_int64(st, 1);
	idx = sqlite3_column_int64(st, 2);
	pc = sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	st = eng_stmt(e, ST_BATCH_CLOSE);
	sqlite3_bind_int64(st, 1, id);
	eng_step_done(e, st);
	if (run_rrun_load(e, seq, idx, &rr) != 0)
		return 0;
	if (eng_run_load(e, seq, now, &r) != 0) {
		run_rrun_free(&rr);
		return 0;
	}
	rr.pc = (size_t)pc + 1;
	rr.batch_id = id;
	rr.batch = run_batch_vars(e, &r.w->steps[pc], id);
	run_event(&rr.events, "batch_closed", "ok", &r.w->steps[pc],
	    json_pack("{s:O}", "total_activities", json_object_get(rr.batch,
	    "total_activities")), now);
	rc = run_advance(e, &r, &rr, 0);
	run_rrun_free(&rr);
	eng_run_clear(&r);
	return rc;
}

/* The earliest due work: a wait, an HTTP delivery or a schedule fire. */
int64_t
eng_next_due(struct eng *e)
{
	sqlite3_stmt *st;
	int64_t t = eng_sched_next_due(e), d = INT64_MAX;

	st = eng_stmt(e, ST_WAIT_NEXT);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 0) < t)
		t = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = eng_stmt(e, ST_DLV_NEXT);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		d = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return t < d ? t : d;
}

/*
 * Run the waits due at or before now, earliest first, at most 1000 per
 * call (the caller commits and calls again); each resumes at its own due
 * instant so that work is done in time order.  Then sweep (at most once a
 * minute) and fire up to 1000 due schedules (schedules.c), whose runs
 * start at now.
 */
int
eng_run_due(struct eng *e, int64_t now)
{
	int64_t due[1000], a[1000], b[1000];
	int kind[1000], n = 0, i;
	sqlite3_stmt *st = eng_stmt(e, ST_WAIT_DUE);

	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, 1000);
	while (n < 1000 && sqlite3_step(st) == SQLITE_ROW) {
		due[n] = sqlite3_column_int64(st, 0);
		kind[n] = sqlite3_column_int(st, 1);
		a[n] = sqlite3_column_int64(st, 2);
		b[n] = sqlite3_column_int64(st, 3);
		n++;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		run_unwait(e, due[i], kind[i], a[i], b[i]);
		if (kind[i] == WAIT_RESUME)
			run_resume(e, a[i], b[i], due[i]);
		else if (kind[i] == WAIT_BATCH)
			run_close_batch(e, a[i], due[i]);
		else
			eng_fanout_chunk(e, a[i], due[i]);
	}
	eng_sweep(e, now);
	return n + eng_sched_run_due(e, now, 1000);
}

/* Mark a stored recipient run cancelled, appending an event. */
static void
run_mark_cancelled(struct eng *e, int64_t seq, struct rrun *rr, int64_t now)
{
	struct eng_run r;

	memset(&r, 0, sizeof r);
	r.seq = seq;
	r.now = now;
	run_event(&rr->events, "cancelled", "ok", NULL, NULL, now);
	rr->status = "cancelled";
	rr->wait_at = 0;
	run_save(e, &r, rr, 0);
}

/* Take a cancelled run's activity out of its batch, handing it on. */
static void
run_cancel_batched(struct eng *e, int64_t seq, struct rrun *rr, int carrier)
{
	sqlite3_stmt *st = eng_stmt(e, ST_ITEM_DEL);
	int64_t closes = 0, nseq = 0, nidx = 0, pc = 0;
	struct rrun nr;
	struct eng_run r;

	sqlite3_bind_int64(st, 1, rr->batch_id);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_int64(st, 3, rr->idx);
	eng_step_done(e, st);
	if (!carrier)
		return;
	st = eng_stmt(e, ST_BATCH_GET);
	sqlite3_bind_int64(st, 1, rr->batch_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		pc = sqlite3_column_int64(st, 3);
		closes = sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	st = eng_stmt(e, ST_ITEM_LIST);
	sqlite3_bind_int64(st, 1, rr->batch_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		nseq = sqlite3_column_int64(st, 0);
		nidx = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (nseq == 0) {
		/* Nothing left: the batch sends nothing. */
		run_unwait(e, closes, WAIT_BATCH, rr->batch_id, 0);
		st = eng_stmt(e, ST_BATCH_DEL);
		sqlite3_bind_int64(st, 1, rr->batch_id);
		eng_step_done(e, st);
		return;
	}
	/* The next activity's run carries the batch from now on. */
	st = eng_stmt(e, ST_BATCH_SET);
	sqlite3_bind_int64(st, 1, rr->batch_id);
	sqlite3_bind_int64(st, 2, closes);
	sqlite3_bind_int64(st, 3, nseq);
	sqlite3_bind_int64(st, 4, nidx);
	eng_step_done(e, st);
	if (run_rrun_load(e, nseq, nidx, &nr) == 0) {
		memset(&r, 0, sizeof r);
		r.seq = nseq;
		nr.status = "paused";
		nr.pc = (size_t)pc;
		nr.batch_id = rr->batch_id;
		run_save(e, &r, &nr, 0);
		run_rrun_free(&nr);
	}
}

/*
 * POST /v1/workflows/{key}/cancel: synchronous and complete.  Every
 * paused or batched recipient run of the key (optionally only the given
 * recipients) is cancelled in this transaction: its delay is removed, its
 * activity leaves its batch, and a batch left empty is dropped.
 */
enum eng_status
eng_cancel(struct eng *e, const char *workflow, json_t *body, int64_t now,
    char **cause)
{
	const char *key = json_string_value(json_object_get(body,
	    "cancellation_key"));
	json_t *rs = json_object_get(body, "recipients"), *only = NULL, *v;
	int64_t *seqs = NULL, *idxs = NULL;
	sqlite3_stmt *st;
	size_t nseq = 0, n, i, j;
	struct rrun rr;
	char *rk;
	int open;

	if (!json_is_object(body) || key == NULL || *key == '\0') {
		*cause = xstrdup("\"cancellation_key\" is required");
		return ENG_INVALID;
	}
	if (eng_workflow_find(e->cfg, workflow) == NULL) {
		*cause = xasprintf("workflow \"%.128s\" not found", workflow);
		return ENG_NO_WORKFLOW;
	}
	if (rs != NULL && !json_is_null(rs)) {
		if (!json_is_array(rs) || json_array_size(rs) >
		    RUN_MAX_CANCEL_RECIPIENTS) {
			*cause = xasprintf("\"recipients\" must be an array of "
			    "at most %d recipients", RUN_MAX_CANCEL_RECIPIENTS);
			return ENG_INVALID;
		}
		only = json_object();
		json_array_foreach(rs, i, v) {
			if ((rk = eng_rcpt_ref_key(v, cause)) == NULL) {
				json_decref(only);
				return ENG_INVALID;
			}
			json_object_set_new(only, rk, json_true());
			free(rk);
		}
	}
	st = eng_stmt(e, ST_RUN_BY_CK);
	sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		seqs = xreallocarray(seqs, nseq + 1, sizeof *seqs);
		seqs[nseq++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	/* A tombstone covers recipient runs that pending fan-outs create. */
	for (i = 0; i < nseq; i++) {
		st = eng_stmt(e, ST_FAN_HEAD);
		sqlite3_bind_int64(st, 1, seqs[i]);
		j = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
		if (j) {
			st = eng_stmt(e, ST_CANCEL_INS);
			sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, seqs[nseq - 1]);
			eng_bind_json(st, 4, only);
			eng_step_done(e, st);
			break;
		}
	}
	for (i = 0; i < nseq; i++) {
		st = eng_stmt(e, ST_RRUN_OPEN);
		sqlite3_bind_int64(st, 1, seqs[i]);
		n = 0;
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (only != NULL && json_object_get(only,
			    (const char *)sqlite3_column_text(st, 1)) == NULL)
				continue;
			idxs = xreallocarray(idxs, n + 1, sizeof *idxs);
			idxs[n++] = sqlite3_column_int64(st, 0);
		}
		sqlite3_reset(st);
		for (j = 0; j < n; j++) {
			if (run_rrun_load(e, seqs[i], idxs[j], &rr) != 0)
				continue;
			open = 0;
			if (rr.batch_id != 0)
				run_batch_state(e, rr.batch_id, &open);
			/* A batched run whose batch has gone out is done. */
			if (!open && strcmp(rr.status, "paused") != 0) {
				run_rrun_free(&rr);
				continue;
			}
			if (rr.wait_at != 0)
				run_unwait(e, rr.wait_at, WAIT_RESUME, seqs[i],
				    idxs[j]);
			if (open)
				run_cancel_batched(e, seqs[i], &rr,
				    strcmp(rr.status, "paused") == 0);
			run_mark_cancelled(e, seqs[i], &rr, now);
			run_rrun_free(&rr);
		}
	}
	free(idxs);
	free(seqs);
	json_decref(only);
	return ENG_OK;
}
