/* Tenants: PUT/GET/DELETE /v1/tenants/{id}. */
#include "scheduler/scheduler.h"

/* PUT /v1/tenants/{id}. */
enum eng_status
api_tenants_put(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_tenant_put(r->s->eng, r->param[0], r->body, r->now, reply,
	    cause);
}

/* GET /v1/tenants/{id}. */
enum eng_status
api_tenants_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_tenant_get(r->s->eng, r->param[0], reply, cause);
}

/* DELETE /v1/tenants/{id}: 204. */
enum eng_status
api_tenants_delete(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	return eng_tenant_delete(r->s->eng, r->param[0], cause);
}
