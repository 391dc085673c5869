/*
 * Cancellation (POST /v1/workflows/{key}/cancel), synchronous and
 * complete for everything stored: delays, batch activities, and, through
 * a tombstone, the recipient runs a pending fan-out creates later.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/run/run_int.h"

/* As many recipients as a trigger may name. */
#define RUN_MAX_CANCEL_RECIPIENTS 1000

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
	struct store_pending *pend;
	size_t nseq, np, n, i, j;
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
	nseq = store_runs_by_ckey(e->store, workflow, key, &seqs);
	/* A tombstone covers recipient runs that pending fan-outs create. */
	for (i = 0; i < nseq; i++) {
		if (store_fanout_head(e->store, seqs[i], NULL)) {
			store_cancel_add(e->store, workflow, key,
			    seqs[nseq - 1], only);
			break;
		}
	}
	for (i = 0; i < nseq; i++) {
		np = store_rruns_pending(e->store, seqs[i], &pend);
		n = 0;
		for (j = 0; j < np; j++) {
			if (only != NULL && json_object_get(only,
			    pend[j].rcpt) == NULL)
				continue;
			idxs = xreallocarray(idxs, n + 1, sizeof *idxs);
			idxs[n++] = pend[j].idx;
		}
		store_pending_free(pend, np);
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
