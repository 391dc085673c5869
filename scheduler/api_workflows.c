/*
 * Workflows: POST /v1/workflows/{key}/trigger and .../cancel.  Triggers
 * take Knock's
 * Idempotency-Key header: a key seen within 24 h replays the stored
 * response with "idempotent-replayed: true" instead of triggering again.
 * The stored response commits in the same transaction as the trigger, so
 * a replay never answers for work that did not commit.
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler/scheduler.h"

#define API_IDEM_MAX 255

/* POST /v1/workflows/{key}/trigger: {"workflow_run_id": uuid}. */
enum eng_status
api_workflows_trigger(struct sch_req *r, json_t **reply, char **cause)
{
	const char *key = api_header(r, "Idempotency-Key");
	enum eng_status st;
	char *body = NULL;
	int status;

	if (key != NULL) {
		if (strlen(key) > API_IDEM_MAX) {
			*cause = xasprintf("Idempotency-Key is %zu characters; "
			    "the limit is %d", strlen(key), API_IDEM_MAX);
			return ENG_INVALID;
		}
		if (*key == '\0') {
			*cause = xstrdup("Idempotency-Key is empty");
			return ENG_INVALID;
		}
		if (eng_idem_get(r->s->eng, key, r->now, &status, &body)) {
			r->raw = body;
			r->status = status;
			r->replayed = 1;
			return ENG_OK;
		}
	}
	st = eng_trigger(r->s->eng, r->param[0], r->body, r->now, reply,
	    cause);
	if (st == ENG_OK && key != NULL && *reply != NULL) {
		body = eng_json_dumps(*reply, JSON_COMPACT);
		eng_idem_put(r->s->eng, key, 200, body, r->now);
		free(body);
	}
	return st;
}

/* POST /v1/workflows/{key}/cancel: 204 once every match is cancelled. */
enum eng_status
api_workflows_cancel(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	return eng_cancel(r->s->eng, r->param[0], r->body, r->now, cause);
}
