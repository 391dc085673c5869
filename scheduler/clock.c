/*
 * The clock and the one timer.
 *
 * sch_now() is the wall clock, or with --virtual-clock an instant that
 * only POST /admin/clock moves.  One timer (s->due_ev) is armed for
 * eng_next_due(), the earliest due work of any kind, and re-armed after
 * every flush and every clock change.  When it fires the due work runs in
 * one transaction and the deliveries it made due start.
 *
 * A due instant whose run makes no progress (the engine still reports it
 * but runs nothing, e.g. every delivery slot is busy) is remembered in
 * s->stalled_due so that the timer does not spin on it: on the wall clock
 * it is retried a second later, on the virtual clock at the next change.
 *
 * POST /admin/clock advances the virtual clock in steps: while work is due
 * at or before the target, now moves to the earliest due instant, that
 * work runs, and the deliveries it produced are awaited (their outcomes
 * committed) before the next step; then now becomes the target and the
 * request is answered.  Concurrent advances are served in order.  The
 * steps run in slices of at most CLOCK_SLICE_MS: between two slices the
 * loop serves requests (at the virtual instant reached so far) and
 * signals, so a long advance neither blocks the API nor SIGTERM.  The
 * answer still means that everything due up to the target has run.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "scheduler/scheduler.h"

/* The longest slice of an advance's steps between two loop passes. */
#define CLOCK_SLICE_MS 20

/* The longest the timer sleeps on the wall clock before looking again. */
#define CLOCK_MAX_SLEEP 60

/*
 * With a store other nodes share, how long a node sleeps at most: work
 * another node added (or left behind when it died) is found this soon.
 */
#define CLOCK_SHARED_SLEEP 1

/*
 * Housekeeping between bursts: once the store has maintenance due (SQLite:
 * its log is long enough to copy into the database), run it when nothing
 * is due within CLOCK_MAINT_QUIET_MS (and, unless it is urgent, no
 * requests are waiting), looking again every CLOCK_MAINT_RETRY_MS; the
 * store's own limit bounds the wait.  So this work runs between bursts,
 * not on the commit that a second's fires wait for.
 */
#define CLOCK_MAINT_QUIET_MS 250
#define CLOCK_MAINT_RETRY_MS 50

const double sch_late_bounds[SCH_LATE_BUCKETS] = { 0.001, 0.005, 0.01,
	0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 5, 10, 60, 1e300 };

static void clock_due_cb(evutil_socket_t, short, void *);
static void clock_housekeep_cb(evutil_socket_t, short, void *);
static void clock_advance_cb(evutil_socket_t, short, void *);
static void clock_rearm_timer(struct sch *);

/* The daemon's notion of now, in seconds since the epoch. */
int64_t
sch_now(const struct sch *s)
{
	if (s->virtual_clock)
		return s->vnow;
	return (int64_t)time(NULL);
}

/*
 * The announcements of other nodes arrived: read them (clock_listen),
 * and the outcome of a pending commit too, which reading them may have
 * taken in from the same connection.
 */
static void
clock_listen_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;

	(void)fd;
	(void)events;
	clock_listen(s);
	if (s->npend > 0 && txn_pending(s, 0) == 0)
		clock_rearm(s);
}

/*
 * See scheduler.h: with a store other nodes share, apply what they
 * announced (feed changes to the websockets, ws_heard), wake early for
 * work they made due before this node's timer, and keep listen_ev on the
 * store's current descriptor (a reconnect changes it).  After every
 * transaction too: the store may have read announcements meanwhile.
 */
void
clock_listen(struct sch *s)
{
	int fd = eng_listen_fd(s->eng);
	int64_t due;

	if (s->listen_ev == NULL || fd != s->listen_fd) {
		if (s->listen_ev != NULL)
			event_free(s->listen_ev);
		s->listen_ev = NULL;
		if (fd >= 0 && !s->stopping &&
		    (s->listen_ev = event_new(s->base, fd, EV_READ |
		    EV_PERSIST, clock_listen_cb, s)) != NULL)
			event_add(s->listen_ev, NULL);
		s->listen_fd = fd;
	}
	if (s->listen_ev == NULL)
		return;
	due = ws_heard(s);
	if (due < s->armed_due && !s->virtual_clock)
		clock_rearm_timer(s);
}

/* Create the timer and the advance event. */
int
clock_init(struct sch *s)
{
	s->stalled_due = INT64_MIN;
	s->armed_due = INT64_MAX;
	s->due_ev = evtimer_new(s->base, clock_due_cb, s);
	s->advance_ev = event_new(s->base, -1, 0, clock_advance_cb, s);
	s->housekeep_ev = evtimer_new(s->base, clock_housekeep_cb, s);
	if (s->due_ev == NULL || s->advance_ev == NULL ||
	    s->housekeep_ev == NULL)
		return -1;
	event_priority_set(s->due_ev, 2);
	event_priority_set(s->advance_ev, 2);
	event_priority_set(s->housekeep_ev, 2);
	return 0;
}

/* Look again CLOCK_MAINT_RETRY_MS from now (unless already armed). */
static void
clock_housekeep_arm(struct sch *s)
{
	struct timeval tv = { 0, CLOCK_MAINT_RETRY_MS * 1000 };

	if (!s->stopping && !evtimer_pending(s->housekeep_ev, NULL))
		evtimer_add(s->housekeep_ev, &tv);
}

/* Whether work is due within CLOCK_MAINT_QUIET_MS. */
static int
clock_due_soon(struct sch *s)
{
	struct timespec ts;
	int64_t due = eng_next_due(s->eng);

	if (s->virtual_clock)
		return due <= s->vnow;
	clock_gettime(CLOCK_REALTIME, &ts);
	return due < INT64_MAX && (due - (int64_t)ts.tv_sec) * 1000 -
	    ts.tv_nsec / 1000000 < CLOCK_MAINT_QUIET_MS;
}

/* Whether housekeeping has work (see the top of the file). */
static int
clock_housekeep_due(struct sch *s)
{
	return eng_maint_due(s->eng) != ENG_MAINT_NONE;
}

/* Run the store's maintenance if due. */
static void
clock_housekeep(struct sch *s)
{
	char *cause = NULL;

	if (eng_maint_due(s->eng) == ENG_MAINT_NONE)
		return;
	if (eng_maintain(s->eng, &cause) != 0) {
		log_warnx("%s", cause);
		free(cause);
		return;
	}
	s->counters.checkpoints++;
}

/* The housekeeping timer: do what is due if it is quiet. */
static void
clock_housekeep_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;

	(void)fd;
	(void)events;
	if (s->stopping)
		return;
	if (clock_due_soon(s) || (!TAILQ_EMPTY(&s->batch) &&
	    eng_maint_due(s->eng) != ENG_MAINT_URGENT)) {
		clock_housekeep_arm(s);
		return;
	}
	clock_housekeep(s);
}

/*
 * Arm the timer for the engine's next due work, then read what other
 * nodes announced meanwhile: the store's queries may have taken their
 * announcements off the descriptor (clock_listen).
 */
void
clock_rearm(struct sch *s)
{
	clock_rearm_timer(s);
	clock_listen(s);
}

/* Arm the timer for the engine's next due work. */
static void
clock_rearm_timer(struct sch *s)
{
	struct timeval tv = { 0, 0 };
	struct timespec ts;
	int64_t due, now, delay;

	if (s->stopping || s->due_ev == NULL)
		return;
	if (clock_housekeep_due(s))
		clock_housekeep_arm(s);
	evtimer_del(s->due_ev);
	s->armed_due = INT64_MAX;
	due = eng_next_due(s->eng);
	now = sch_now(s);
	if (eng_shared(s->eng) && !s->virtual_clock &&
	    due > now + CLOCK_SHARED_SLEEP)
		due = now + CLOCK_SHARED_SLEEP;
	if (due == INT64_MAX)
		return;
	s->armed_due = due;
	if (s->virtual_clock) {
		/* Only due work runs by itself; the future waits for
		 * POST /admin/clock, which also runs it. */
		if (due > now || due == s->stalled_due ||
		    !TAILQ_EMPTY(&s->advances))
			return;
		evtimer_add(s->due_ev, &tv);
		return;
	}
	if (due <= now && due == s->stalled_due) {
		tv.tv_sec = 1;
		evtimer_add(s->due_ev, &tv);
		return;
	}
	/* Wake at the due second itself, not up to a second after it. */
	clock_gettime(CLOCK_REALTIME, &ts);
	delay = (due - (int64_t)ts.tv_sec) * 1000000 - ts.tv_nsec / 1000;
	if (delay < 0)
		delay = 0;
	if (delay > (int64_t)CLOCK_MAX_SLEEP * 1000000)
		delay = (int64_t)CLOCK_MAX_SLEEP * 1000000;
	tv.tv_sec = (time_t)(delay / 1000000);
	tv.tv_usec = (suseconds_t)(delay % 1000000);
	evtimer_add(s->due_ev, &tv);
}

/*
 * Log, at info level, what the schedules did since the last line: fires,
 * skipped occurrences and failed fires (not during the catch-up at start,
 * which clock_catch_up sums up in one line).
 */
static void
clock_log_fires(struct sch *s)
{
	struct eng_stats st;

	if (s->catching_up)
		return;
	eng_stats(s->eng, &st);
	if (st.fires != s->logged.fires || st.fires_skipped !=
	    s->logged.fires_skipped || st.fires_failed !=
	    s->logged.fires_failed)
		log_info("schedules: %llu fired, %llu skipped, %llu failed",
		    (unsigned long long)(st.fires - s->logged.fires),
		    (unsigned long long)(st.fires_skipped -
		    s->logged.fires_skipped),
		    (unsigned long long)(st.fires_failed -
		    s->logged.fires_failed));
	s->logged = st;
}

/*
 * Count the lateness of the schedule fires just committed: the time now
 * (the wall clock to the nanosecond, or the virtual instant) minus each
 * fire's due instant.
 */
void
clock_fired(struct sch *s)
{
	int64_t due[1024];
	struct timespec ts;
	double now, late;
	size_t n, i;
	int b;

	clock_log_fires(s);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = s->virtual_clock ? (double)s->vnow : (double)ts.tv_sec +
	    ts.tv_nsec / 1e9;
	while ((n = eng_fired_take(s->eng, due, 1024)) > 0) {
		for (i = 0; i < n; i++) {
			late = now - (double)due[i];
			if (late < 0)
				late = 0;
			for (b = 0; b < SCH_LATE_BUCKETS; b++)
				if (late <= sch_late_bounds[b])
					s->counters.late[b]++;
			s->counters.late_sum += late;
		}
	}
}

/*
 * Run the work due now in one transaction (txn_run), start the
 * deliveries it made due and push its new messages.  Returns how many
 * items ran plus how many deliveries started; 0 when the transaction
 * failed.
 */
static size_t
clock_run_due(struct sch *s)
{
	struct sch_reqs none = TAILQ_HEAD_INITIALIZER(none);
	struct sch_outcomes no = TAILQ_HEAD_INITIALIZER(no);
	int n = txn_run(s, &none, &no);

	ws_push(s);
	return n > 0 ? (size_t)n : 0;
}

/*
 * At start, before serving: run the work the downtime left due, pass by
 * pass, and log the catch-up in one line.
 */
void
clock_catch_up(struct sch *s)
{
	int64_t now = sch_now(s);
	struct eng_stats st;

	eng_stats(s->eng, &s->logged);
	s->catching_up = 1;
	while (eng_next_due(s->eng) <= now && clock_run_due(s) > 0)
		;
	s->catching_up = 0;
	eng_stats(s->eng, &st);
	log_info("catch-up at start: %llu schedule fires late, %llu "
	    "occurrences skipped, %llu failed",
	    (unsigned long long)(st.fires - s->logged.fires),
	    (unsigned long long)(st.fires_skipped - s->logged.fires_skipped),
	    (unsigned long long)(st.fires_failed - s->logged.fires_failed));
	s->logged = st;
}

/* The timer fired: run what is due. */
static void
clock_due_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;
	int64_t due;

	(void)fd;
	(void)events;
	if (s->stopping)
		return;
	if (!TAILQ_EMPTY(&s->batch) || !TAILQ_EMPTY(&s->outcomes)) {
		/* The flush runs due work too, in its transaction. */
		server_kick(s);
		return;
	}
	due = eng_next_due(s->eng);
	if (due <= sch_now(s)) {
		if (clock_run_due(s) == 0)
			s->stalled_due = due;
		else
			s->stalled_due = INT64_MIN;
	}
	clock_rearm(s);
}

/* Read POST /admin/clock's body into the target instant. */
int
clock_parse_target(struct sch *s, json_t *body, int64_t *target,
    char **cause)
{
	json_t *to = json_object_get(body, "advance_to");
	json_t *by = json_object_get(body, "advance_by_seconds");
	char buf[32];
	json_int_t n;

	if ((to == NULL) == (by == NULL)) {
		*cause = xstrdup("give exactly one of advance_to (RFC 3339 "
		    "UTC) or advance_by_seconds");
		return -1;
	}
	if (to != NULL) {
		if (!json_is_string(to) ||
		    tz_instant_parse(json_string_value(to), target) != 0) {
			*cause = xstrdup("advance_to: expected "
			    "YYYY-MM-DDTHH:MM:SSZ");
			return -1;
		}
	} else {
		if (!json_is_integer(by)) {
			*cause = xstrdup("advance_by_seconds: expected an "
			    "integer");
			return -1;
		}
		n = json_integer_value(by);
		if (n < 0) {
			*cause = xstrdup("advance_by_seconds: the clock "
			    "cannot go backwards");
			return -1;
		}
		if (n > (json_int_t)100 * 366 * 86400) {
			*cause = xstrdup("advance_by_seconds: at most 100 "
			    "years");
			return -1;
		}
		*target = s->vnow + (int64_t)n;
	}
	if (*target < s->vnow) {
		tz_instant_format(s->vnow, buf, sizeof buf);
		*cause = xasprintf("advance_to is before now (%s): the clock "
		    "cannot go backwards", buf);
		return -1;
	}
	return 0;
}

/* Queue an advance; it replies when done (see the top of the file). */
void
clock_advance_start(struct sch_req *r)
{
	struct sch *s = r->s;

	TAILQ_INSERT_TAIL(&s->advances, r, entry);
	evtimer_del(s->due_ev);
	event_active(s->advance_ev, EV_TIMEOUT, 0);
}

/*
 * Look for due work again at once, as after a change: a delivery channel
 * may start more (outbound.c), so a stalled instant is not stalled now.
 */
void
clock_wake(struct sch *s)
{
	s->stalled_due = INT64_MIN;
	clock_rearm(s);
	clock_advance_kick(s);
}

/* Let a waiting advance go on (after a flush). */
void
clock_advance_kick(struct sch *s)
{
	if (!TAILQ_EMPTY(&s->advances))
		event_active(s->advance_ev, EV_TIMEOUT, 0);
}

/* The monotonic clock in milliseconds. */
static int64_t
clock_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Step the first queued advance as far as it can go without waiting, for
 * at most CLOCK_SLICE_MS.
 */
static void
clock_advance_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;
	struct timeval zero = { 0, 0 };
	struct sch_req *r;
	char buf[32];
	int64_t due, until;

	(void)fd;
	(void)events;
	if (s->stopping || (r = TAILQ_FIRST(&s->advances)) == NULL)
		return;
	until = clock_monotonic_ms() + CLOCK_SLICE_MS;
	for (;;) {
		/* Wait for the deliveries in flight and their commits. */
		if (s->inflight > 0 || !TAILQ_EMPTY(&s->outcomes) ||
		    !TAILQ_EMPTY(&s->batch))
			return;
		due = eng_next_due(s->eng);
		if (due > r->target)
			break;
		if (clock_monotonic_ms() >= until) {
			/* A timer, not event_active: the loop polls first. */
			evtimer_add(s->advance_ev, &zero);
			return;
		}
		if (due > s->vnow)
			s->vnow = due;
		if (clock_run_due(s) == 0) {
			tz_instant_format(due, buf, sizeof buf);
			log_warnx("clock: work due at %s ran nothing; "
			    "moving on", buf);
			break;
		}
	}
	if (r->target > s->vnow)
		s->vnow = r->target;
	s->stalled_due = INT64_MIN;
	/* Nothing is due and nothing waits: a quiet moment to checkpoint. */
	clock_housekeep(s);
	TAILQ_REMOVE(&s->advances, r, entry);
	tz_instant_format(s->vnow, buf, sizeof buf);
	log_debug("clock: now %s", buf);
	server_finish(r, ENG_OK, json_pack("{s:s}", "now", buf), NULL);
	clock_rearm(s);
	clock_advance_kick(s);
}
