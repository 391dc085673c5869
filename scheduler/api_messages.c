/*
 * Messages and workflow recipient runs: GET /v1/messages[/{id}],
 * PUT/DELETE /v1/messages/{id}/{status}, POST /v1/messages/batch/{status},
 * POST /v1/channels/{channel}/messages/bulk/{status},
 * GET /v1/messages/{id}/{content,activities,events,delivery_logs},
 * GET /v1/messages/batch/content,
 * GET /v1/workflow_recipient_runs[/{id}].  With a public key the
 * messages must be the request's user's (r->user; any user's when user
 * tokens are not configured, as the feed then is anyone's to read).
 */
#include <string.h>

#include "scheduler/scheduler.h"

/* GET /v1/messages: every recipient's messages, filtered. */
enum eng_status
api_messages_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_messages_list(r->s->eng, NULL, r->query, reply, cause);
}

/* GET /v1/messages/{id}. */
enum eng_status
api_messages_get(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_get(r->s->eng, r->param[0], reply, cause);
}

/* GET /v1/messages/{id}/content. */
enum eng_status
api_messages_content(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_content(r->s->eng, r->param[0], reply, cause);
}

/* GET /v1/messages/batch/content?message_ids[]=... */
enum eng_status
api_messages_batch_content(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_messages_batch_content(r->s->eng, r->query, reply, cause);
}

/* GET /v1/messages/{id}/activities. */
enum eng_status
api_messages_activities(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_activities(r->s->eng, r->param[0], r->query, reply,
	    cause);
}

/* GET /v1/messages/{id}/events. */
enum eng_status
api_messages_events(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_events(r->s->eng, r->param[0], r->query, reply,
	    cause);
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
	    r->user, r->body, r->now, reply, cause);
}

/* DELETE /v1/messages/{id}/{status}: clear it. */
enum eng_status
api_messages_unmark(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_message_mark(r->s->eng, r->param[0], r->route->arg, 0,
	    r->user, NULL, r->now, reply, cause);
}

/* POST /v1/messages/batch/{status} {message_ids}: the messages updated. */
enum eng_status
api_messages_batch(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_messages_batch(r->s->eng, r->param[0], r->body, r->user,
	    r->now, reply, cause);
}

/*
 * POST /v1/channels/{channel}/messages/bulk/{status}: "mark all" of a
 * feed; a public key only for one user, its token's when it has one.
 */
enum eng_status
api_messages_bulk(struct sch_req *r, json_t **reply, char **cause)
{
	json_t *users = json_object_get(r->body, "user_ids");
	const char *u = json_string_value(json_array_get(users, 0));

	if (r->pub && (json_array_size(users) != 1 || u == NULL ||
	    (r->user != NULL && strcmp(u, r->user) != 0))) {
		r->code = "user_token_mismatch";
		*cause = xstrdup("with a public API key, \"user_ids\" must "
		    "be the one user of the user token");
		return ENG_FORBIDDEN;
	}
	return eng_feed_bulk(r->s->eng, r->param[0], r->param[1], r->body,
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
