/*
 * The fan-out: a recipient that is an object reaches its subscribers
 * (above the second level, in later chunks of up to 1000 subscribers
 * each, breadth first), deduplicated per run, the actor left out, and
 * filtered by the trigger's subscriber_filter and by cancels of the run's
 * key made after the trigger.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/run/run_int.h"
#include "engine/workflow/conditions.h"

/* Note, once per run and chunk, that run r reached no more recipients. */
static void
fanout_cap(struct eng *e, struct eng_run *r)
{
	char id[37];

	if (r->capped)
		return;
	r->capped = 1;
	eng_id_format(e, ENG_ID_RUN, (uint64_t)r->seq, 0, id);
	eng_log_line(e, LOG_PRI_WARNING, "workflow run %s reached %lld "
	    "recipients, the most a run has: the remaining subscribers get no "
	    "run", id, (long long)ENG_RUN_RCPTS_MAX);
	e->stats.errors++;
}

/*
 * Start a recipient run for rcpt unless this run reached it already (the
 * fanout_seen rows, kept while a fan-out is pending); an object reached
 * above the second level queues a fan-out job for its subscribers.
 */
int
fanout_reach(struct eng *e, struct eng_run *r, const char *rcpt, json_t *tdata,
    json_t *sub, int level, int track, int64_t *idx)
{
	int first;

	if (track) {
		if ((first = store_fanout_reached(e->store, r->seq, rcpt)) < 0)
			return -1;
		if (first == 0)
			return 0;
	}
	if (*idx >= ENG_RUN_RCPTS_MAX) {
		fanout_cap(e, r);
		return 0;
	}
	if (eng_run_recipient(e, r, (*idx)++, rcpt, tdata, sub) != 0)
		return -1;
	if (strchr(rcpt, '/') != NULL && level < 2) {
		return store_fanout_push(e->store, r->seq, rcpt, level, tdata);
	}
	return 0;
}

/*
 * Whether subscriber key passes the trigger's subscriber_filter: its
 * conditions see "recipient", the subscriber's entity with its
 * subscription at recipient.subscription.properties.
 */
static int
fanout_filter(struct eng *e, json_t *filter, const char *key, json_t *sub)
{
	json_t *rcpt, *ctx;
	int ok;

	if (filter == NULL)
		return 1;
	rcpt = eng_rcpt_entity(e, key);
	json_object_set_new(rcpt, "subscription", json_pack("{s:O}",
	    "properties", sub));
	ctx = json_pack("{s:o}", "recipient", rcpt);
	ok = eng_cond_eval(filter, ctx, NULL);
	json_decref(ctx);
	return ok;
}

/*
 * The recipients that cancels covering run seq have ruled out: NULL if
 * none, json_true() if all, else an object of recipient keys.  A cancel
 * covers the runs of its key that existed when it was made.
 */
static json_t *
fanout_tombstones(struct eng *e, const char *wf, const char *ck, int64_t seq)
{
	json_t *set = NULL, *all, *rs;
	size_t i;

	if (ck == NULL)
		return NULL;
	all = store_cancels(e->store, wf, ck, seq);
	json_array_foreach(all, i, rs) {
		if (!json_is_object(rs)) {
			json_decref(set);
			set = json_true();
			break;
		}
		if (set == NULL)
			set = json_object();
		json_object_update(set, rs);
	}
	json_decref(all);
	return set;
}

/*
 * One chunk of run seq's fan-out: up to 1000 subscribers of the object at
 * the head of its queue (breadth first: direct subscribers before theirs).
 * Another chunk is queued while work remains, so a fan-out to a million
 * subscribers runs in bounded memory between other requests.  A cancel of
 * the run's key made after the trigger stops the recipients it names.
 */
int
eng_fanout_chunk(struct eng *e, int64_t seq, int64_t now)
{
	char *coll = NULL, *obj;
	json_t *tdata, *sub, *stop = NULL;
	struct store_fanout job;
	struct store_run sr;
	int64_t jseq, idx;
	struct eng_run r;
	const char *key;
	int level, rc = 0, n = 0;

	memset(&job, 0, sizeof job);
	if (eng_run_load(e, seq, now, &r) != 0)
		return 0;
	if (!store_run_get(e->store, seq, &sr)) {
		eng_run_clear(&r);
		return 0;
	}
	idx = sr.next_idx;
	stop = fanout_tombstones(e, r.w->key, sr.ckey, seq);
	store_run_clear(&sr);
	if (json_is_true(stop) || !store_fanout_head(e->store, seq, &job))
		goto done;
	jseq = job.job;
	obj = job.obj;
	level = job.level;
	tdata = job.tdata;
	coll = xstrdup(obj);
	coll[strchr(obj, '/') - obj] = '\0';
	{
		struct store_sub subs[1000];
		int i;

		n = (int)store_subs_page(e->store, coll, strchr(obj, '/') + 1,
		    job.after, 1000, subs);
		for (i = 0; i < n; i++) {
			key = subs[i].rcpt;
			sub = subs[i].props ? subs[i].props : json_null();
			if (rc == 0 && (r.actor_key == NULL ||
			    strcmp(key, r.actor_key) != 0) && (stop == NULL ||
			    json_object_get(stop, key) == NULL) &&
			    fanout_filter(e, r.subscriber_filter, key, sub))
				rc = fanout_reach(e, &r, key, tdata, sub,
				    level + 1, 1, &idx);
			if (i == n - 1) {
				free(job.after);
				job.after = subs[i].rcpt;
				subs[i].rcpt = NULL;
			}
			store_sub_clear(&subs[i]);
		}
	}
	if (n < 1000)
		store_fanout_pop(e->store, seq, jseq);
	else
		store_fanout_advance(e->store, seq, jseq, job.after);
	store_run_set_next(e->store, seq, idx);
	e->stats.runs += (uint64_t)n;
	eng_count(e, ENG_COUNT_RUNS, r.w->key, NULL, (uint64_t)n);
done:
	/* More to do: come back at once; done: forget what was reached. */
	if (!json_is_true(stop) && rc == 0 && store_fanout_head(e->store, seq,
	    NULL))
		eng_wait(e, now, ENG_WAIT_FANOUT, seq, 0);
	else
		store_fanout_end(e->store, seq);
	json_decref(stop);
	store_fanout_clear(&job);
	free(coll);
	eng_run_clear(&r);
	return rc;
}
