/*
 * What users and objects share: channel data and preference sets under
 * /v1/users/{id}/... and /v1/objects/{collection}/{id}/..., and the
 * recipient lists and merges.  A route with the object's two path
 * parameters has one more than the user's: rcpt_of tells them apart.
 */
#include <string.h>

#include "scheduler/scheduler.h"

/*
 * The recipient of r's path, whose first `extra` parameters follow it:
 * *coll (NULL for a user) and the id.
 */
static const char *
rcpt_of(struct sch_req *r, size_t extra, const char **coll)
{
	size_t own = r->nparam - extra;

	*coll = own == 2 ? r->param[0] : NULL;
	return r->param[own - 1];
}

/* GET .../channel_data/{channel}. */
enum eng_status
api_rcpt_cd_get(struct sch_req *r, json_t **reply, char **cause)
{
	const char *coll, *id = rcpt_of(r, 1, &coll);

	return eng_channel_data_get(r->s->eng, coll, id,
	    r->param[r->nparam - 1], reply, cause);
}

/* PUT .../channel_data/{channel} {"data": {...}}. */
enum eng_status
api_rcpt_cd_put(struct sch_req *r, json_t **reply, char **cause)
{
	const char *coll, *id = rcpt_of(r, 1, &coll);

	return eng_channel_data_put(r->s->eng, coll, id,
	    r->param[r->nparam - 1], r->body, r->now, reply, cause);
}

/* DELETE .../channel_data/{channel}: 204. */
enum eng_status
api_rcpt_cd_delete(struct sch_req *r, json_t **reply, char **cause)
{
	const char *coll, *id = rcpt_of(r, 1, &coll);

	(void)reply;
	return eng_channel_data_delete(r->s->eng, coll, id,
	    r->param[r->nparam - 1], cause);
}

/* GET .../preferences: every set. */
enum eng_status
api_rcpt_prefs_list(struct sch_req *r, json_t **reply, char **cause)
{
	const char *coll, *id = rcpt_of(r, 0, &coll);

	return eng_prefs_list(r->s->eng, coll, id, reply, cause);
}

/* DELETE .../preferences/{set}: 204. */
enum eng_status
api_rcpt_prefs_delete(struct sch_req *r, json_t **reply, char **cause)
{
	const char *coll, *id = rcpt_of(r, 1, &coll);

	(void)reply;
	return eng_prefs_delete(r->s->eng, coll, id, r->param[r->nparam - 1],
	    cause);
}

/*
 * PUT .../preferences/{set}/{section}[/{key}] of a user or an object (the
 * route's arg names the section).
 */
enum eng_status
api_rcpt_prefs_key(struct sch_req *r, json_t **reply, char **cause)
{
	size_t set = strncmp(r->route->pattern, "/v1/objects/", 12) == 0 ?
	    2 : 1;
	const char *coll = set == 2 ? r->param[0] : NULL;

	return eng_prefs_put_key(r->s->eng, coll, r->param[set - 1],
	    r->param[set],
	    r->route->arg, r->nparam == set + 2 ? r->param[set + 1] : NULL,
	    r->body, r->now, reply, cause);
}

/* GET /v1/users. */
enum eng_status
api_users_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_users_list(r->s->eng, r->query, reply, cause);
}

/* POST /v1/users/{id}/merge {"from_user_id"}. */
enum eng_status
api_users_merge(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_user_merge(r->s->eng, r->param[0], r->body, r->now, reply,
	    cause);
}

/* GET /v1/users/{id}/subscriptions. */
enum eng_status
api_users_subs(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_user_subs(r->s->eng, r->param[0], r->query, reply, cause);
}

/* GET /v1/objects/{collection}. */
enum eng_status
api_objects_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_objects_list(r->s->eng, r->param[0], r->query, reply,
	    cause);
}

/* GET /v1/objects/{collection}/{id}/preferences/{set}. */
enum eng_status
api_objects_prefs_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_object_prefs(r->s->eng, r->param[0], r->param[1],
	    r->param[2], NULL, r->now, reply, cause);
}

/* PUT /v1/objects/{collection}/{id}/preferences/{set}. */
enum eng_status
api_objects_prefs_put(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_object_prefs(r->s->eng, r->param[0], r->param[1],
	    r->param[2], r->body, r->now, reply, cause);
}

/* GET /v1/objects/{collection}/{id}/messages. */
enum eng_status
api_objects_messages(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_object_messages(r->s->eng, r->param[0], r->param[1],
	    r->query, reply, cause);
}

/* GET /v1/tenants. */
enum eng_status
api_tenants_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_tenants_list(r->s->eng, r->query, reply, cause);
}
