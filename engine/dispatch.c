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

/* The earliest due work: a wait, an HTTP delivery or a schedule fire. */
int64_t
eng_next_due(struct eng *e)
{
	int64_t t = eng_sched_next_due(e), d;

	if ((d = store_wait_next(e->store)) < t)
		t = d;
	d = store_delivery_next(e->store);
	return t < d ? t : d;
}

/*
 * Run the waits due at or before now, earliest first, at most 1000 per
 * call (the caller commits and calls again); each resumes at its own due
 * instant so that work is done in time order.  Then sweep (at most once a
 * minute) and fire up to 1000 due schedules (schedules/fire.c), whose runs
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
	return (int)n + eng_sched_run_due(e, now, 1000);
}
