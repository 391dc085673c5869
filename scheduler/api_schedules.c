/*
 * Schedules: POST/PUT/DELETE/GET /v1/schedules (the writes with Knock's
 * Idempotency-Key), GET /v1/schedules/{id}, the per-recipient lists
 * GET /v1/users/{id}/schedules and /v1/objects/{c}/{id}/schedules, and
 * belfry's GET /v1/schedules/{id}/preview (belfryctl preview --schedule).
 */
#include <stdlib.h>

#include "scheduler/scheduler.h"

/* POST /v1/schedules, once the idempotency key is checked. */
static enum eng_status
api_schedules_create_run(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_schedules_create(r->s->eng, r->body, r->now, reply, cause);
}

/* POST /v1/schedules: an array of Schedules, one per recipient. */
enum eng_status
api_schedules_create(struct sch_req *r, json_t **reply, char **cause)
{
	return api_idempotent(r, reply, cause, api_schedules_create_run);
}

/* PUT /v1/schedules, once the idempotency key is checked. */
static enum eng_status
api_schedules_update_run(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_schedules_update(r->s->eng, r->body, r->now, reply, cause);
}

/* PUT /v1/schedules {schedule_ids, ...fields}. */
enum eng_status
api_schedules_update(struct sch_req *r, json_t **reply, char **cause)
{
	return api_idempotent(r, reply, cause, api_schedules_update_run);
}

/* DELETE /v1/schedules, once the idempotency key is checked. */
static enum eng_status
api_schedules_delete_run(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_schedules_delete(r->s->eng, r->body, reply, cause);
}

/* DELETE /v1/schedules {schedule_ids}. */
enum eng_status
api_schedules_delete(struct sch_req *r, json_t **reply, char **cause)
{
	return api_idempotent(r, reply, cause, api_schedules_delete_run);
}

/* GET /v1/schedules?workflow=...&after=...&page_size=... */
enum eng_status
api_schedules_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_schedules_list(r->s->eng, r->query, reply, cause);
}

/* GET /v1/schedules/{id}. */
enum eng_status
api_schedules_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_schedule_get(r->s->eng, r->param[0], reply, cause);
}

/* GET /v1/users/{id}/schedules. */
enum eng_status
api_schedules_user(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_schedules_of(r->s->eng, NULL, r->param[0], r->query,
	    reply, cause);
}

/* GET /v1/objects/{collection}/{id}/schedules. */
enum eng_status
api_schedules_object(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_schedules_of(r->s->eng, r->param[0], r->param[1],
	    r->query, reply, cause);
}

/* GET /v1/schedules/{id}/preview?count=N: next fires per recipient. */
enum eng_status
api_schedules_preview(struct sch_req *r, json_t **reply, char **cause)
{
	const char *c = json_string_value(json_object_get(r->query, "count"));

	return eng_schedule_preview(r->s->eng, r->param[0], c ? atoi(c) : 10,
	    r->now, reply, cause);
}
