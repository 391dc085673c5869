/*
 * Users: PUT/GET/DELETE /v1/users/{id}, their preference sets, their
 * messages and their feeds.  Each handler hands its decoded parameters,
 * body and query to the engine, which answers in Knock's shapes.
 */
#include "scheduler/scheduler.h"

/* PUT /v1/users/{id}: upsert (deep merge). */
enum eng_status
api_users_put(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_user_put(r->s->eng, r->param[0], r->body, r->now, reply,
	    cause);
}

/* GET /v1/users/{id}. */
enum eng_status
api_users_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_user_get(r->s->eng, r->param[0], reply, cause);
}

/* DELETE /v1/users/{id}: 204. */
enum eng_status
api_users_delete(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	return eng_user_delete(r->s->eng, r->param[0], cause);
}

/* PUT /v1/users/{id}/preferences/{set}. */
enum eng_status
api_users_prefs_put(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_prefs_put(r->s->eng, r->param[0], r->param[1], r->body,
	    r->now, reply, cause);
}

/* GET /v1/users/{id}/preferences/{set}. */
enum eng_status
api_users_prefs_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_prefs_get(r->s->eng, r->param[0], r->param[1], reply,
	    cause);
}

/* GET /v1/users/{id}/messages. */
enum eng_status
api_users_messages(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_messages_list(r->s->eng, r->param[0], r->query, reply,
	    cause);
}

/*
 * GET /v1/users/{id}/feeds/{channel}/settings: what the feed's UI must
 * show (Knock's branding flag; belfry asks for none).
 */
enum eng_status
api_users_feed_settings(struct sch_req *r, json_t **reply, char **cause)
{
	if (!eng_config_is_feed(eng_config(r->s->eng), r->param[1])) {
		*cause = xasprintf("no in-app feed channel \"%.64s\"",
		    r->param[1]);
		return ENG_NOT_FOUND;
	}
	*reply = json_pack("{s:{s:b}}", "features", "branding_required", 0);
	return ENG_OK;
}

/* GET /v1/users/{id}/feeds/{channel}: entries and meta counts. */
enum eng_status
api_users_feed(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_feed_get(r->s->eng, r->param[0], r->param[1], r->query,
	    reply, cause);
}
