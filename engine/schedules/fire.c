/*
 * Firing: every row keeps next_fire_at, the UTC instant of its next fire
 * (none when paused, ended or a template); the timer's only question is
 * the earliest of them.  A fire creates the workflow run through the same
 * path as an API trigger and advances next_fire_at in the same
 * transaction; the store makes a second run for one occurrence
 * impossible.
 *
 * Catch-up: occurrences missed while the daemon was down (or the clock
 * jumped) are walked through; only the latest one fires, and only if it is
 * within catchup_window of now.  The others are counted as skipped on the
 * row (skipped, last_skipped_at, skip_reason "catchup") and in the
 * metrics, as are the occurrences that dst_gap "skip" drops (skip_reason
 * "dst_gap").  A fire that fails (its workflow is gone, ...) keeps its
 * error in last_error until a fire succeeds.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schedules/sched_int.h"

/* The earliest next_fire_at of any schedule, or INT64_MAX. */
int64_t
eng_sched_next_due(struct eng *e)
{
	return store_sched_next(e->store);
}

/* Remember a fire's due instant for eng_fired_take. */
static void
sched_fired(struct eng *e, int64_t at)
{
	if (e->nfired >= ENG_FIRED_MAX)
		return;
	if (e->fired == NULL)
		e->fired = xcalloc(ENG_FIRED_MAX, sizeof *e->fired);
	e->fired[e->nfired++] = at;
}

/* Take the due instants of the fires made since the last take. */
size_t
eng_fired_take(struct eng *e, int64_t *out, size_t max)
{
	size_t n = e->nfired < max ? e->nfired : max;

	if (n == 0)
		return 0;
	memcpy(out, e->fired, n * sizeof *out);
	memmove(e->fired, e->fired + n, (e->nfired - n) * sizeof *out);
	e->nfired -= n;
	return n;
}

/*
 * Create the run of row s for occurrence at (in a savepoint); 0, or -1
 * with *err (the caller's to free) saying why.
 */
static int
sched_fire(struct eng *e, const struct store_sched *s, int64_t at, int64_t now,
    char **err)
{
	struct eng_source src = { "schedule", s->seq, at };
	json_t *body, *data = sched_json_text(s->data);
	enum eng_status rc;
	char *cause = NULL;
	int64_t seq;

	body = json_pack("{s:[o], s:o}", "recipients", eng_rcpt_ref(s->rcpt),
	    "data", data);
	if (s->actor != NULL)
		json_object_set_new(body, "actor", eng_rcpt_ref(s->actor));
	if (s->tenant != NULL)
		json_object_set_new(body, "tenant", json_string(s->tenant));
	eng_request_begin(e);
	rc = eng_trigger_start(e, s->workflow, body, now, &src, &seq, &cause);
	if (!eng_request_end(e, rc == ENG_OK) && rc == ENG_OK) {
		/* A store operation failed under the trigger's success. */
		rc = ENG_INTERNAL;
		cause = xstrdup("store failure");
	}
	json_decref(body);
	if (rc != ENG_OK) {
		char id[37];

		eng_id_format(e, ENG_ID_SCHED, (uint64_t)s->seq, 0, id);
		eng_log_line(e, LOG_PRI_WARNING, "schedule %s: fire failed: "
		    "%.120s", id, cause ? cause : "error");
		*err = cause != NULL ? cause : xstrdup("error");
		e->stats.fires_failed++;
		return -1;
	}
	e->stats.fires++;
	sched_fired(e, at);
	return 0;
}

/* Add the gap skips sk to *total when they happened by now. */
static void
sched_gap_add(struct tz_recur_skips *total, const struct tz_recur_skips *sk,
    int64_t now)
{
	if (sk->count == 0 || sk->last > now)
		return;
	total->count += sk->count;
	if (total->last == SCHED_NONE || sk->last > total->last)
		total->last = sk->last;
}

/*
 * Handle one due row at now: walk the occurrences due at or before now,
 * fire the latest if within catchup_window, count the others as skipped,
 * and advance next_fire_at, all in the caller's transaction.  Occurrences
 * that dst_gap "skip" dropped before now are counted too: those before
 * next_fire_at since the row's last fire or skip (or its last change),
 * then those the walk passes.
 */
static void
sched_due(struct eng *e, struct store_sched *s, int64_t now)
{
	struct tz_zone *z = sched_zone(e, s);
	struct tz_recur *r = sched_recur(e, s);
	struct tz_recur_skips gaps = { 0, SCHED_NONE }, sk = { 0, 0 }, *skp;
	int64_t latest = s->next, n, skipped = 0, last_skipped = SCHED_NONE;
	int64_t next = SCHED_NONE, fired = SCHED_NONE, a;
	const char *reason = NULL;
	struct store_fire f;
	char *err = NULL;
	int walked = 0;

	/* Only dst_gap "skip" drops occurrences: the others pay nothing. */
	skp = r != NULL && s->gap != NULL && strcmp(s->gap, "skip") == 0 ?
	    &sk : NULL;
	if (skp != NULL) {
		a = s->updated - 1;
		if (s->last != SCHED_NONE && s->last > a)
			a = s->last;
		if (s->last_skipped != SCHED_NONE && s->last_skipped > a)
			a = s->last_skipped;
		if (a < s->next && sched_next_with(s, r, z, a, &n, skp) == 0 &&
		    n <= s->next)
			sched_gap_add(&gaps, &sk, now);
	}
	for (;;) {
		if (sched_next_with(s, r, z, latest, &n, skp) != 0) {
			sched_gap_add(&gaps, &sk, now);
			n = SCHED_NONE;
			break;
		}
		if (n > now)
			break;
		sched_gap_add(&gaps, &sk, now);
		skipped++;
		last_skipped = latest;
		if (++walked == SCHED_WALK_MAX && n < now - s->catchup) {
			/* Far behind: jump to the window, counted as one. */
			if (sched_next_with(s, r, z, now - s->catchup - 1, &n,
			    NULL) != 0) {
				n = SCHED_NONE;
				break;
			}
			if (n > now) {
				last_skipped = latest;
				latest = SCHED_NONE;
				break;
			}
		}
		latest = n;
	}
	next = n;
	if (latest != SCHED_NONE && latest >= now - s->catchup) {
		if (sched_fire(e, s, latest, now, &err) == 0)
			fired = latest;
	} else if (latest != SCHED_NONE) {
		skipped++;
		last_skipped = latest;
	}
	if (skipped > 0)
		reason = "catchup";
	if (gaps.count > 0 && (last_skipped == SCHED_NONE ||
	    gaps.last > last_skipped)) {
		last_skipped = gaps.last;
		reason = "dst_gap";
	}
	skipped += gaps.count;
	e->stats.fires_skipped += (uint64_t)skipped;
	f.next = next;
	f.fired = fired;
	f.skipped = skipped;
	f.last_skipped = last_skipped;
	f.reason = reason;
	f.error = err;
	store_sched_fired(e->store, s->seq, &f);
	free(err);
}

/*
 * Fire up to max (at most ENG_SCHED_DUE_MAX) rows due at or before now,
 * in time order; the count.  The rows' array is the engine's, kept from
 * call to call: this runs at every pass of the loop, mostly to find none.
 */
int
eng_sched_run_due(struct eng *e, int64_t now, int max)
{
	int n, i;

	assert(max <= ENG_SCHED_DUE_MAX);
	if (e->due_scheds == NULL)
		e->due_scheds = xcalloc(ENG_SCHED_DUE_MAX,
		    sizeof *e->due_scheds);
	n = (int)store_sched_due(e->store, now, (size_t)max, e->due_scheds);
	for (i = 0; i < n; i++) {
		sched_due(e, &e->due_scheds[i], now);
		store_sched_clear(&e->due_scheds[i]);
	}
	return n;
}
