/*
 * Batches: the first run to reach a batch step opens the batch and carries
 * it (status paused); runs that join add an activity and end as "batched".
 * When the window closes the carrier resumes with the batch's activities.
 * Cancelling the carrier hands the batch to the next activity's run;
 * cancelling the last activity drops the batch.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/run/run_int.h"

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
	struct store_item it;

	memset(&it, 0, sizeof it);
	it.run = r->seq;
	it.idx = rr->idx;
	it.actor = r->actor_key;
	it.data = json_object_get(ctx, "data");
	it.inserted = r->now;
	return store_batch_add(e->store, id, &it);
}

/*
 * A batch step.  Returns 1 when the run goes on past it (a batch could not
 * be formed: the window is invalid), 0 when the run stops here (it opened
 * the batch and waits, or it joined one and ends as "batched").
 */
int
run_batch(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx)
{
	json_t *kv = s->batch_key ? run_data_path(json_object_get(ctx,
	    "data"), s->batch_key) : NULL;
	char *kt = kv ? eng_json_dumps(kv, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	char *bkey = xasprintf("%s\x1f%s\x1f%s\x1f%s", r->w->key, s->ref,
	    rr->rcpt, kt ? kt : "");
	int64_t id = 0, closes = 0, hard = 0, t;
	struct store_batch b;
	int rc = 0;

	free(kt);
	if (store_batch_find(e->store, bkey, &b)) {
		id = b.id;
		closes = b.closes;
		hard = b.hard;
	}
	if (id != 0) {
		/* Join: add the activity, slide the window, end this run. */
		run_batch_item(e, r, rr, id, ctx);
		if (s->sliding && (t = run_duration(r, ctx, s)) > 0) {
			t = r->now + t < hard ? r->now + t : hard;
			if (t != closes) {
				run_unwait(e, closes, WAIT_BATCH, id, 0);
				eng_wait(e, t, WAIT_BATCH, id, 0);
				store_batch_get(e->store, id, &b);
				store_batch_set(e->store, id, t, b.run, b.idx);
				closes = t;
			}
		}
		if (s->max_activities > 0 &&
		    store_batch_count(e->store, id) >= s->max_activities) {
			/* Full: close at once (the due loop runs it now). */
			run_unwait(e, closes, WAIT_BATCH, id, 0);
			eng_wait(e, r->now, WAIT_BATCH, id, 0);
			store_batch_close(e->store, id);
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
	memset(&b, 0, sizeof b);
	b.run = r->seq;
	b.idx = rr->idx;
	b.pc = (int64_t)rr->pc;
	b.closes = closes;
	b.hard = hard;
	if ((id = store_batch_open(e->store, bkey, &b, r->now)) < 0) {
		rc = -1;
		goto out;
	}
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

/*
 * The batch variables of batch id: activities (the first or last
 * render_limit), actors (distinct), total_activities, total_actors.
 */
json_t *
run_batch_vars(struct eng *e, const struct eng_step *s, int64_t id)
{
	json_t *all = json_array(), *acts, *actors = json_array();
	json_t *seen = json_object();
	struct store_item *items;
	const char *actor;
	size_t n, from, i;
	char ts[32];

	n = store_batch_items(e->store, id, SIZE_MAX, &items);
	for (i = 0; i < n; i++) {
		actor = items[i].actor;
		eng_iso(items[i].inserted, ts, sizeof ts);
		json_array_append_new(all, json_pack("{s:o, s:o, s:s}",
		    "data", items[i].data ?: json_object(), "actor",
		    actor ? json_string(actor) : json_null(), "inserted_at",
		    ts));
		items[i].data = NULL;
		if (actor != NULL && json_object_get(seen, actor) == NULL) {
			json_object_set_new(seen, actor, json_true());
			json_array_append_new(actors, json_string(actor));
		}
		store_item_clear(&items[i]);
	}
	free(items);
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
int64_t
run_batch_state(struct eng *e, int64_t id, int *open)
{
	struct store_batch b;

	if (!store_batch_get(e->store, id, &b))
		return -1;
	*open = b.open;
	return b.pc;
}

/* The pc of batch id's step, or -1. */
int64_t
run_batch_pc(struct eng *e, int64_t id)
{
	int open;

	return run_batch_state(e, id, &open);
}

/* Close batch id: its carrier resumes past the batch step. */
int
eng_batch_close(struct eng *e, int64_t id, int64_t now)
{
	struct store_batch b;
	int64_t seq, idx, pc;
	struct eng_run r;
	struct rrun rr;
	int rc;

	if (!store_batch_get(e->store, id, &b))
		return 0;
	seq = b.run;
	idx = b.idx;
	pc = b.pc;
	store_batch_close(e->store, id);
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

/* Take a cancelled run's activity out of its batch, handing it on. */
void
run_cancel_batched(struct eng *e, int64_t seq, struct rrun *rr, int carrier)
{
	int64_t closes = 0, nseq = 0, nidx = 0, pc = 0;
	struct store_item *first;
	struct store_batch b;
	struct rrun nr;
	struct eng_run r;

	store_batch_remove(e->store, rr->batch_id, seq, rr->idx);
	if (!carrier)
		return;
	if (store_batch_get(e->store, rr->batch_id, &b)) {
		pc = b.pc;
		closes = b.closes;
	}
	if (store_batch_items(e->store, rr->batch_id, 1, &first) == 1) {
		nseq = first->run;
		nidx = first->idx;
		store_item_clear(first);
	}
	free(first);
	if (nseq == 0) {
		/* Nothing left: the batch sends nothing. */
		run_unwait(e, closes, WAIT_BATCH, rr->batch_id, 0);
		store_batch_drop(e->store, rr->batch_id);
		return;
	}
	/* The next activity's run carries the batch from now on. */
	store_batch_set(e->store, rr->batch_id, closes, nseq, nidx);
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
