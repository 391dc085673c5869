/*
 * The dispatcher of due work: when the engine next needs to be called
 * (waits, deliveries, schedule fires), and running what is due, in time
 * order, in the caller's transaction, with the sweep of expired state.
 */
#include <assert.h>

#include "engine/engine_int.h"

/*
 * Delete what no longer matters, at most ENG_SWEEP_MAX rows of each kind
 * a call, once per ENG_SWEEP_EVERY seconds of engine time (in the
 * caller's transaction): idempotent replies older than 24 h, throttle hits
 * past the window they were counted for, cancel tombstones once no
 * fan-out they could stop is pending, and source events logged more than
 * ENG_SRC_KEEP seconds ago.
 */
void
eng_sweep(struct eng *e, int64_t now)
{
	assert(store_in_txn(e->store));
	if (now < e->next_sweep)
		return;
	e->next_sweep = now + ENG_SWEEP_EVERY;
	store_sweep(e->store, now, now - 86400, ENG_SWEEP_MAX);
	store_source_sweep(e->store, now - ENG_SRC_KEEP, ENG_SWEEP_MAX);
}

/* Whether retention is configured (a window for either kind). */
static int
eng_retain_on(const struct eng *e)
{
	return e->cfg != NULL && (e->cfg->retain_messages_days > 0 ||
	    e->cfg->retain_runs_days > 0);
}

/*
 * The next pass after one at now: when the oldest row left, inserted at
 * oldest (STORE_NONE: none), leaves a window of days; with none, a row
 * inserted from now on leaves it no earlier than now + days.
 */
static int64_t
eng_retain_when(int64_t now, int64_t oldest, int days)
{
	int64_t w = (int64_t)days * 86400;

	return (oldest == STORE_NONE ? now : oldest) + w + 1;
}

/*
 * Delete what is older than the retention windows, in the caller's
 * transaction, when a pass is due (e->retain_next): messages inserted more
 * than messages_days ago, and runs inserted and last changed more than
 * runs_days ago, never before their messages (a message shows its run's
 * workflow): a run goes after the longer of the two windows, and only
 * once messages are deleted too.  At most ENG_RETAIN_MAX of each kind a
 * pass; the next pass is due at once while more remain, else when the
 * oldest row left leaves its window (an hour from now at the latest
 * while expired runs still wait).  1 when a pass ran, 0 when none was due.
 */
int
eng_retain(struct eng *e, int64_t now)
{
	const struct eng_config *c = e->cfg;
	struct store_retained d = { 0 };
	int64_t mcut = STORE_NONE, rcut = STORE_NONE, mold, rold, next;
	int rc, rdays = 0;

	assert(store_in_txn(e->store));
	if (!eng_retain_on(e) || now < e->retain_next)
		return 0;
	if (c->retain_messages_days > 0)
		mcut = now - (int64_t)c->retain_messages_days * 86400;
	if (c->retain_runs_days > 0 && c->retain_messages_days > 0) {
		rdays = c->retain_runs_days > c->retain_messages_days ?
		    c->retain_runs_days : c->retain_messages_days;
		rcut = now - (int64_t)rdays * 86400;
	}
	rc = store_retain(e->store, mcut, rcut, ENG_RETAIN_MAX, &d, &mold,
	    &rold);
	e->stats.retained_messages += d.messages;
	e->stats.retained_deliveries += d.deliveries;
	e->stats.retained_attempts += d.attempts;
	e->stats.retained_runs += d.runs;
	e->stats.retained_rruns += d.rruns;
	if (rc != 0) {
		/* More to delete (next pass), or a failure (a minute). */
		e->retain_next = rc > 0 ? now : now + ENG_SWEEP_EVERY;
		return 1;
	}
	next = INT64_MAX;
	if (mcut != STORE_NONE)
		next = eng_retain_when(now, mold, c->retain_messages_days);
	if (rcut != STORE_NONE && eng_retain_when(now, rold, rdays) < next)
		next = eng_retain_when(now, rold, rdays);
	if (d.passed > 0 && now + 3600 < next)
		next = now + 3600;
	e->retain_next = next;
	return 1;
}

/*
 * The earliest due work: a wait, an HTTP delivery, a schedule fire or a
 * retention pass.
 */
int64_t
eng_next_due(struct eng *e)
{
	int64_t t = eng_sched_next_due(e), d;

	if (eng_retain_on(e) && e->retain_next < t)
		t = e->retain_next;

	if ((d = store_wait_next(e->store)) < t)
		t = d;
	d = store_delivery_next(e->store);
	return t < d ? t : d;
}

/*
 * Run the waits due at or before now, earliest first, at most 1000 per
 * call (the caller commits and calls again); each resumes at its own due
 * instant so that work is done in time order.  Then sweep (at most once a
 * minute), delete what retention no longer keeps (when due) and fire up to 1000 due schedules (schedules/fire.c), whose runs
 * start at now.
 */
int
eng_run_due(struct eng *e, int64_t now)
{
	struct store_wait w[1000];
	size_t n, i;

	assert(store_in_txn(e->store));
	n = store_waits_due(e->store, now, 1000, w);
	for (i = 0; i < n; i++) {
		store_wait_del(e->store, &w[i]);
		if (w[i].kind == ENG_WAIT_RESUME)
			eng_run_resume(e, w[i].a, w[i].b, w[i].due);
		else if (w[i].kind == ENG_WAIT_BATCH)
			eng_batch_close(e, w[i].a, w[i].due);
		else if (w[i].kind == ENG_WAIT_FANOUT)
			eng_fanout_chunk(e, w[i].a, w[i].due);
		else if (w[i].kind == ENG_WAIT_BULK)
			eng_bulk_chunk(e, w[i].a, now);
	}
	eng_sweep(e, now);
	n += (size_t)eng_retain(e, now);
	/* Each fire is a savepoint: at most what one transaction holds. */
	return (int)n + eng_sched_run_due(e, now, eng_group_max(e) <
	    ENG_SCHED_DUE_MAX ? (int)eng_group_max(e) : ENG_SCHED_DUE_MAX);
}
