/*
 * The daemon's one transaction driver.  Every write the daemon makes to
 * the store after start-up goes through txn_run(): the group commit of
 * API requests (server.c) and the timer's and the virtual clock's passes
 * over due work (clock.c) are the same transaction with different
 * contents, so they cannot diverge in how a request is isolated, when
 * due work runs, or what a failed commit means.
 *
 * One transaction: each queued request in its own savepoint (a failing
 * request rolls back alone), the recorded delivery outcomes, the work due
 * now in a savepoint of its own, the deliveries that work made due; then
 * one durable commit.  A commit the store says may succeed if the work
 * runs again (eng_txn_retry: PostgreSQL's optimistic pipeline, where one
 * failing statement aborts the whole transaction) runs it once more,
 * answers reset, the store then isolating each request.  Only after the
 * commit are deliveries started and, by the caller, replies sent and
 * then new messages pushed to the feeds' open websockets (ws_push: after
 * the replies, so that clients waiting for an answer do not wait for the
 * pushes), so an answer, a delivery or a push never speaks for work that
 * was lost.
 *
 * A batch of API requests alone (no delivery outcomes, no due work, no
 * deliveries taken) commits without waiting where the store can
 * (eng_commit_send: PostgreSQL, on a second connection): the batch is
 * kept with its feeds' changes and answered when the outcome arrives
 * (txn_pending, from the connection's readable event), while the loop
 * goes on and the next batch runs.  At most one commit is pending: the
 * next batch's commit waits for the outcome first, and answers the
 * batch before it just after sending its own.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "scheduler/scheduler.h"

/* How often a request another node's work conflicted with runs again. */
#define TXN_RETRIES 3

/*
 * How often a pending commit's outcome is looked for even if its
 * descriptor does not stir (another reader of the connection, such as
 * the announcements', may have taken its input into libpq), in ms.
 */
#define TXN_PENDING_MS 20

static int txn_go(struct sch *, struct sch_reqs *, struct sch_outcomes *,
    int);

/*
 * Read ahead the users the batch's triggers name as recipients and
 * actors (eng_users_prefetch, up to 64 values), and the keys of the
 * runs they make: one wait for all of them on a store whose reads wait.
 */
static void
txn_prefetch(struct sch *s, struct sch_reqs *batch)
{
	static const char *const keys[] = { "recipients", "actor" };
	json_t *vals[64], *v;
	struct sch_req *r;
	size_t n = 0, runs = 0, k;

	TAILQ_FOREACH(r, batch, entry) {
		if (r->route == NULL || !(r->route->flags & SCH_ROUTE_RCPTS))
			continue;
		runs++;
		for (k = 0; k < 2; k++)
			if (n < sizeof vals / sizeof vals[0] &&
			    (v = json_object_get(r->body, keys[k])) != NULL)
				vals[n++] = v;
	}
	if (runs > 0)
		eng_users_prefetch(s->eng, vals, n, runs);
}

/* The oldest pending commit's descriptor stirred, or its interval passed. */
static void
txn_pending_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;

	(void)fd;
	(void)events;
	if (txn_pending(s, 0) == 0)
		clock_rearm(s);
}

/* Watch for the oldest pending commit's outcome (none: stop watching). */
static void
txn_pending_watch(struct sch *s)
{
	struct timeval tv = { 0, TXN_PENDING_MS * 1000 };
	int fd;

	if (s->pend_ev != NULL)
		event_free(s->pend_ev);
	s->pend_ev = NULL;
	if (s->npend == 0)
		return;
	/* Without a descriptor (a lost connection) the interval alone. */
	fd = eng_commit_fd(s->eng);
	s->pend_ev = event_new(s->base, fd, (fd >= 0 ? EV_READ : 0) |
	    EV_PERSIST, txn_pending_cb, s);
	if (s->pend_ev == NULL)
		fatalx("event_new failed");
	event_add(s->pend_ev, &tv);
}

/*
 * Keep batch (emptied) and the engine's feed changes as the newest
 * pending commit's.
 */
static void
txn_pending_put(struct sch *s, struct sch_reqs *batch)
{
	struct sch_pending *p = &s->pend[s->npend++];

	TAILQ_INIT(&p->batch);
	TAILQ_CONCAT(&p->batch, batch, entry);
	p->npushes = eng_pushes_take(s->eng, &p->pushes, &p->all);
	txn_pending_watch(s);
}

/*
 * The outcome of the commit that held p's batch is rc, with cause: count
 * it, or run the batch again when the store asks (the rerun answers for
 * itself), or answer each request 500; then send the answers and push
 * the feeds' changes (freed).
 */
static void
txn_pending_done(struct sch *s, struct sch_pending *p, int rc,
    const char *cause)
{
	struct sch_outcomes none;
	struct sch_req *r;
	char *why;
	int rerun = rc != 0 && eng_txn_retry(s->eng);

	TAILQ_INIT(&none);
	if (rc == 0) {
		s->counters.commits++;
		TAILQ_FOREACH(r, &p->batch, entry)
			s->counters.batched++;
	} else if (rerun) {
		log_debug("commit: %s: running the transaction again",
		    cause != NULL ? cause : "failed");
		TAILQ_FOREACH(r, &p->batch, entry)
			server_answer_reset(r);
		txn_go(s, &p->batch, &none, 1);
	} else {
		log_warnx("commit: %s", cause != NULL ? cause : "failed");
		why = xasprintf("the transaction did not commit: %s",
		    cause != NULL ? cause : "failed");
		TAILQ_FOREACH(r, &p->batch, entry)
			server_answer_500(r, why);
		free(why);
	}
	while ((r = TAILQ_FIRST(&p->batch)) != NULL) {
		TAILQ_REMOVE(&p->batch, r, entry);
		server_send(r);
	}
	if (rc == 0)
		ws_push_taken(s, p->pushes, p->npushes, p->all);
	else
		eng_pushes_free(p->pushes, p->npushes);
	/* The rerun's own changes, if it committed. */
	if (rerun)
		ws_push(s);
}

/* Move pending batch from into to (a list head cannot be copied). */
static void
txn_pending_move(struct sch_pending *to, struct sch_pending *from)
{
	TAILQ_INIT(&to->batch);
	TAILQ_CONCAT(&to->batch, &from->batch, entry);
	to->pushes = from->pushes;
	to->npushes = from->npushes;
	to->all = from->all;
}

/* See scheduler.h: answer the oldest pending batch once it is known. */
int
txn_pending(struct sch *s, int wait)
{
	struct sch_pending p;
	char *cause = NULL;
	int rc;

	if (s->npend == 0)
		return 0;
	if ((rc = eng_commit_poll(s->eng, wait, &cause)) == 1)
		return 1;
	txn_pending_move(&p, &s->pend[0]);
	if (--s->npend > 0)
		txn_pending_move(&s->pend[0], &s->pend[1]);
	txn_pending_watch(s);
	txn_pending_done(s, &p, rc, cause);
	free(cause);
	return 0;
}

/*
 * Commit batch's transaction without waiting when it holds API requests
 * alone (see the top of this file): 1 when sent and kept pending (batch
 * emptied), 0 committed, -1 with *cause and *retry (eng_txn_retry, read
 * at once).  The batch pending before is answered after: its outcome was
 * read as this commit was sent, or is waited for when this one committed
 * at once.
 */
static int
txn_commit_send(struct sch *s, struct sch_reqs *batch, char **cause,
    int *retry)
{
	int rc, had = s->npend > 0;

	if ((rc = eng_commit_send(s->eng, cause)) == 1)
		txn_pending_put(s, batch);
	*retry = rc < 0 && eng_txn_retry(s->eng);
	if (had)
		txn_pending(s, 1);
	return rc;
}

/*
 * Run one transaction over batch and outs (either may be empty) and,
 * unless the daemon is stopping, the work due now.  After a commit: the
 * lateness histogram is fed, the counters move and the deliveries start;
 * returns how many due items ran plus how many deliveries started.  A
 * batch whose commit is left pending is moved out of batch (0 is
 * returned), to be answered by txn_pending.  After a failure: every
 * request of batch has a 500 naming the store's cause and -1 is
 * returned; outs is left to the caller, whose outcomes are not recorded.
 */
int
txn_run(struct sch *s, struct sch_reqs *batch, struct sch_outcomes *outs)
{
	return txn_go(s, batch, outs, 0);
}

/* txn_run, rerun when the work runs again after a failed commit. */
static int
txn_go(struct sch *s, struct sch_reqs *batch, struct sch_outcomes *outs,
    int rerun)
{
	struct eng_delivery d[SCH_MAX_INFLIGHT];
	struct eng_stats before, after;
	struct sch_outcome *o;
	struct sch_req *r;
	enum eng_status st;
	char *cause = NULL, *why;
	size_t nd = 0, i;
	int64_t now;
	int ran, tries, rc, retry;

again:
	ran = 0;
	if (eng_begin(s->eng, &cause) != 0) {
		log_warnx("begin: %s", cause != NULL ? cause : "failed");
		goto failed;
	}
	txn_prefetch(s, batch);
	TAILQ_FOREACH(r, batch, entry)
		for (tries = 0;; tries++) {
			eng_stats(s->eng, &before);
			eng_request_begin(s->eng);
			st = server_exec(r);
			if (eng_request_end(s->eng, st == ENG_OK))
				break;
			if (tries < TXN_RETRIES && eng_request_retry(s->eng)) {
				/* Another node's conflicting work won: again. */
				server_answer_reset(r);
				continue;
			}
			/*
			 * A failed store operation undid the request: a 500,
			 * whatever its handler made of the failure (an answer
			 * of success, or a "not found" from a read after it).
			 */
			eng_stats(s->eng, &after);
			if (st == ENG_OK || after.errors > before.errors) {
				log_warnx("%s: a store operation failed: "
				    "nothing of the request was kept",
				    r->route != NULL ? r->route->pattern :
				    "request");
				server_answer_500(r, "a store operation of the "
				    "request failed: nothing of it was kept");
			}
			break;
		}
	now = sch_now(s);
	TAILQ_FOREACH(o, outs, entry)
		outbound_record(s, o, now);
	if (!s->stopping && eng_next_due(s->eng) <= now) {
		eng_request_begin(s->eng);
		ran = eng_run_due(s->eng, now);
		eng_request_end(s->eng, 1);
	}
	if (!s->stopping)
		nd = outbound_take(s, now, d, SCH_MAX_INFLIGHT);
	if (!rerun && !s->stopping && ran <= 0 && nd == 0 &&
	    TAILQ_EMPTY(outs) && !TAILQ_EMPTY(batch)) {
		rc = txn_commit_send(s, batch, &cause, &retry);
		if (rc == 1) {
			clock_listen(s);
			return 0;
		}
	} else {
		rc = eng_commit(s->eng, &cause);
		retry = rc < 0 && eng_txn_retry(s->eng);
	}
	if (rc != 0) {
		eng_rollback(s->eng);
		for (i = 0; i < nd; i++)
			eng_delivery_free(&d[i]);
		nd = 0;
		if (!rerun && retry) {
			/* One request's statement failed: all again, each alone. */
			log_debug("commit: %s: running the transaction again",
			    cause != NULL ? cause : "failed");
			free(cause);
			cause = NULL;
			TAILQ_FOREACH(r, batch, entry)
				server_answer_reset(r);
			rerun = 1;
			goto again;
		}
		log_warnx("commit: %s", cause != NULL ? cause : "failed");
		goto failed;
	}
	clock_fired(s);
	clock_listen(s);
	s->counters.commits++;
	TAILQ_FOREACH(r, batch, entry)
		s->counters.batched++;
	outbound_start(s, d, nd);
	for (i = 0; i < nd; i++)
		eng_delivery_free(&d[i]);
	return (ran > 0 ? ran : 0) + (int)nd;

failed:
	/* The store's cause, e.g. "disk full", for the clients too. */
	why = xasprintf("the transaction did not commit: %s", cause != NULL ?
	    cause : "failed");
	TAILQ_FOREACH(r, batch, entry)
		server_answer_500(r, why);
	free(why);
	free(cause);
	return -1;
}
