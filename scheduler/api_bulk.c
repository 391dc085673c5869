/*
 * Bulk operations: the bulk routes of users, objects, tenants and
 * schedules (each route's arg names its operation) and
 * GET /v1/bulk_operations/{id}.  The engine records the operation and
 * answers it queued; its items run as due work.
 */
#include "scheduler/scheduler.h"

/*
 * POST .../bulk/...: start operation r->route->arg, an objects.* one on
 * the path's collection.
 */
enum eng_status
api_bulk_start(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_bulk_start(r->s->eng, r->route->arg, r->nparam > 0 ?
	    r->param[0] : NULL, r->body, r->now, reply, cause);
}

/* POST /v1/tenants/bulk/delete: the ids come in the query. */
enum eng_status
api_bulk_tenants_delete(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_bulk_tenants_delete(r->s->eng, r->query, r->now, reply,
	    cause);
}

/* GET /v1/bulk_operations/{id}. */
enum eng_status
api_bulk_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_bulk_get(r->s->eng, r->param[0], reply, cause);
}
