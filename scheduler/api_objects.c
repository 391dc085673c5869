/*
 * Objects and their subscriptions: PUT/GET/DELETE
 * /v1/objects/{collection}/{id} and POST/DELETE/GET .../subscriptions.
 */
#include "scheduler/scheduler.h"

/* PUT /v1/objects/{collection}/{id}. */
enum eng_status
api_objects_put(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_object_put(r->s->eng, r->param[0], r->param[1], r->body,
	    r->now, reply, cause);
}

/* GET /v1/objects/{collection}/{id}. */
enum eng_status
api_objects_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_object_get(r->s->eng, r->param[0], r->param[1], reply,
	    cause);
}

/* DELETE /v1/objects/{collection}/{id}: 204. */
enum eng_status
api_objects_delete(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	return eng_object_delete(r->s->eng, r->param[0], r->param[1], cause);
}

/* POST /v1/objects/{collection}/{id}/subscriptions: add or update. */
enum eng_status
api_objects_subs_add(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_subs_add(r->s->eng, r->param[0], r->param[1], r->body,
	    r->now, reply, cause);
}

/* DELETE /v1/objects/{collection}/{id}/subscriptions: remove. */
enum eng_status
api_objects_subs_remove(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_subs_remove(r->s->eng, r->param[0], r->param[1], r->body,
	    reply, cause);
}

/* GET /v1/objects/{collection}/{id}/subscriptions. */
enum eng_status
api_objects_subs_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_subs_list(r->s->eng, r->param[0], r->param[1], r->query,
	    reply, cause);
}
