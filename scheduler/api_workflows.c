/*
 * Workflows: POST /v1/workflows/{key}/trigger (with Knock's
 * Idempotency-Key, api_idempotent) and .../cancel, and Knock's legacy
 * aliases POST /v1/notify and /v1/notify/cancel (the key in the body's
 * "name").
 */

#include <stdlib.h>

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

/*
 * The workflow key of a legacy notify body (its "name", which is then
 * dropped from the body), or NULL with *cause.
 */
static char *
api_notify_key(struct sch_req *r, char **cause)
{
	const char *name = json_string_value(json_object_get(r->body, "name"));
	char *key;

	if (name == NULL || *name == '\0') {
		*cause = xstrdup("\"name\": the workflow key is required");
		return NULL;
	}
	key = xstrdup(name);
	json_object_del(r->body, "name");
	return key;
}

/* POST /v1/notify, once the idempotency key is checked: {"result_id"}. */
static enum eng_status
api_notify_run(struct sch_req *r, json_t **reply, char **cause)
{
	enum eng_status st;
	json_t *run;
	char *key;

	if ((key = api_notify_key(r, cause)) == NULL)
		return ENG_INVALID;
	if (json_object_get(r->body, "actor") == NULL) {
		free(key);
		*cause = xstrdup("\"actor\" is required");
		return ENG_INVALID;
	}
	st = eng_trigger(r->s->eng, key, r->body, r->now, reply, cause);
	free(key);
	if (st == ENG_OK) {
		run = *reply;
		*reply = json_pack("{s:O?}", "result_id", json_object_get(run,
		    "workflow_run_id"));
		json_decref(run);
	}
	return st;
}

/* POST /v1/notify: a trigger of the workflow named in the body. */
enum eng_status
api_notify(struct sch_req *r, json_t **reply, char **cause)
{
	return api_idempotent(r, reply, cause, api_notify_run);
}

/* POST /v1/notify/cancel: a cancel of the workflow named in the body. */
enum eng_status
api_notify_cancel(struct sch_req *r, json_t **reply, char **cause)
{
	enum eng_status st;
	char *key;

	(void)reply;
	if ((key = api_notify_key(r, cause)) == NULL)
		return ENG_INVALID;
	st = eng_cancel(r->s->eng, key, r->body, r->now, cause);
	free(key);
	return st;
}
