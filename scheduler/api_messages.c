/*
 * Messages and workflow recipient runs: GET /v1/messages/{id},
 * PUT/DELETE /v1/messages/{id}/{seen|read|archived|interacted},
 * GET /v1/messages/{id}/delivery_logs,
 * GET /v1/workflow_recipient_runs[/{id}].
 */
#include "scheduler/scheduler.h"

/* GET /v1/messages/{id}. */
enum eng_status
api_messages_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_get(r->s->eng, r->param[0], reply, cause);
}

/* GET /v1/messages/{id}/delivery_logs: its delivery attempts. */
enum eng_status
api_messages_delivery_logs(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_delivery_logs(r->s->eng, r->param[0], r->query,
	    reply, cause);
}

/* PUT /v1/messages/{id}/{status}: set the engagement timestamp. */
enum eng_status
api_messages_mark(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_mark(r->s->eng, r->param[0], r->route->arg, 1,
	    r->now, reply, cause);
}

/* DELETE /v1/messages/{id}/{status}: clear it. */
enum eng_status
api_messages_unmark(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_mark(r->s->eng, r->param[0], r->route->arg, 0,
	    r->now, reply, cause);
}

/* GET /v1/workflow_recipient_runs (filters in the query). */
enum eng_status
api_messages_runs_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_runs_list(r->s->eng, r->query, reply, cause);
}

/* GET /v1/workflow_recipient_runs/{id}: status and events. */
enum eng_status
api_messages_run_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_run_get(r->s->eng, r->param[0], reply, cause);
}
