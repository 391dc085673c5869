/*
 * Audiences: POST/GET/DELETE /v1/audiences/{key}/members, Knock's static
 * audiences, handed to the engine.
 */
#include "scheduler/scheduler.h"

/* POST /v1/audiences/{key}/members: 204. */
enum eng_status
api_audiences_add(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	return eng_audience_add(r->s->eng, r->param[0], r->body, r->query,
	    r->now, cause);
}

/* DELETE /v1/audiences/{key}/members: 204. */
enum eng_status
api_audiences_remove(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	return eng_audience_remove(r->s->eng, r->param[0], r->body, cause);
}

/* GET /v1/audiences/{key}/members. */
enum eng_status
api_audiences_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_audience_list(r->s->eng, r->param[0], r->query, reply,
	    cause);
}
