/*
 * Workflows: POST /v1/workflows/{key}/trigger (with Knock's
 * Idempotency-Key, api_idempotent) and .../cancel.
 */

#include "scheduler/scheduler.h"

/* POST /v1/workflows/{key}/trigger, once the idempotency key is checked. */
static enum eng_status
api_workflows_trigger_run(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_trigger(r->s->eng, r->param[0], r->body, r->now, reply,
	    cause);
}

/* POST /v1/workflows/{key}/trigger: {"workflow_run_id": uuid}. */
enum eng_status
api_workflows_trigger(struct sch_req *r, json_t **reply, char **cause)
{
	return api_idempotent(r, reply, cause, api_workflows_trigger_run);
}

/* POST /v1/workflows/{key}/cancel: 204 once every match is cancelled. */
enum eng_status
api_workflows_cancel(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	return eng_cancel(r->s->eng, r->param[0], r->body, r->now, cause);
}
