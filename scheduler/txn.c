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
 */
#include <stdlib.h>

#include "scheduler/scheduler.h"

/* How often a request another node's work conflicted with runs again. */
#define TXN_RETRIES 3

/*
 * Read ahead the users the batch's triggers name as recipients and
 * actors (eng_users_prefetch, up to 64 values): one wait for all of them
 * on a store whose reads wait.
 */
static void
txn_prefetch(struct sch *s, struct sch_reqs *batch)
{
	static const char *const keys[] = { "recipients", "actor" };
	json_t *vals[64], *v;
	struct sch_req *r;
	size_t n = 0, k;

	TAILQ_FOREACH(r, batch, entry)
		for (k = 0; k < 2 && r->route != NULL &&
		    (r->route->flags & SCH_ROUTE_RCPTS); k++)
			if (n < sizeof vals / sizeof vals[0] &&
			    (v = json_object_get(r->body, keys[k])) != NULL)
				vals[n++] = v;
	if (n > 0)
		eng_users_prefetch(s->eng, vals, n);
}

/*
 * Run one transaction over batch and outs (either may be empty) and,
 * unless the daemon is stopping, the work due now.  After a commit: the
 * lateness histogram is fed, the counters move and the deliveries start;
 * returns how many due items ran plus how many deliveries started.  After
 * a failure: every request of batch has a 500 naming the store's cause
 * and -1 is returned; outs is left to the caller, whose outcomes are not
 * recorded.
 */
int
txn_run(struct sch *s, struct sch_reqs *batch, struct sch_outcomes *outs)
{
	struct eng_delivery d[SCH_MAX_INFLIGHT];
	struct eng_stats before, after;
	struct sch_outcome *o;
	struct sch_req *r;
	enum eng_status st;
	char *cause = NULL, *why;
	size_t nd = 0, i;
	int64_t now;
	int ran, tries, rerun = 0;

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
	if (eng_commit(s->eng, &cause) != 0) {
		eng_rollback(s->eng);
		for (i = 0; i < nd; i++)
			eng_delivery_free(&d[i]);
		nd = 0;
		if (!rerun && eng_txn_retry(s->eng)) {
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
	for (i = 0; i < nd; i++) {
		outbound_start(s, &d[i]);
		eng_delivery_free(&d[i]);
	}
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
