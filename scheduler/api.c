/*
 * The route table: every API route with its method, path pattern, handler
 * and flags.  server.c checks each request against it centrally (route,
 * method, listener, body size, JSON) before the handler runs; the handlers
 * live in one file per resource family (api_users.c, api_objects.c, ...).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "scheduler/scheduler.h"

#define GET EVHTTP_REQ_GET
#define POST EVHTTP_REQ_POST
#define PUT EVHTTP_REQ_PUT
#define DELETE EVHTTP_REQ_DELETE
#define BODY SCH_ROUTE_BODY
#define INLINE SCH_ROUTE_INLINE
#define LOCAL SCH_ROUTE_LOCAL
#define ASYNC SCH_ROUTE_ASYNC
#define PUBLIC SCH_ROUTE_PUBLIC
#define USER (SCH_ROUTE_PUBLIC | SCH_ROUTE_USER)
#define UPGRADE SCH_ROUTE_UPGRADE
#define OPEN SCH_ROUTE_OPEN
#define METRICS SCH_ROUTE_METRICS

/* What Knock's browser client sends on feed requests. */
#define FEED_QUERY "after before page_size tenant has_tenant archived " \
	"status source workflow_categories[] trigger_data mode inserted_at " \
	"exclude"
/* Knock's filters of a messages list. */
#define MESSAGES_QUERY "after before page_size tenant has_tenant " \
	"archived channel_id status[] engagement_status[] message_ids[] " \
	"source workflow_categories[] workflow_run_id " \
	"workflow_recipient_run_id trigger_data inserted_at"
#define SOURCE SCH_ROUTE_SOURCE

const struct sch_route sch_routes[] = {
	/* api_users.c */
	{ PUT, "/v1/users/{id}", api_users_put, BODY | USER, NULL, NULL },
	{ GET, "/v1/users/{id}", api_users_get, USER, NULL, NULL },
	{ DELETE, "/v1/users/{id}", api_users_delete, 0, NULL, NULL },
	{ PUT, "/v1/users/{id}/preferences/{set}", api_users_prefs_put,
	    BODY | USER, NULL, NULL },
	{ GET, "/v1/users/{id}/preferences/{set}", api_users_prefs_get, USER,
	    NULL, NULL },
	{ GET, "/v1/users/{id}/messages", api_users_messages, 0, NULL,
	    MESSAGES_QUERY },
	{ GET, "/v1/users/{id}/feeds/{channel}", api_users_feed, USER, NULL,
	    FEED_QUERY },
	{ GET, "/v1/users/{id}/feeds/{channel}/settings",
	    api_users_feed_settings, USER, NULL, NULL },

	/* api_objects.c */
	{ PUT, "/v1/objects/{collection}/{id}", api_objects_put, BODY, NULL, NULL },
	{ GET, "/v1/objects/{collection}/{id}", api_objects_get, 0, NULL, NULL },
	{ DELETE, "/v1/objects/{collection}/{id}", api_objects_delete, 0,
	    NULL, NULL },
	{ POST, "/v1/objects/{collection}/{id}/subscriptions",
	    api_objects_subs_add, BODY, NULL, NULL },
	{ DELETE, "/v1/objects/{collection}/{id}/subscriptions",
	    api_objects_subs_remove, BODY, NULL, NULL },
	{ GET, "/v1/objects/{collection}/{id}/subscriptions",
	    api_objects_subs_list, 0, NULL,
	    "after page_size mode include[] recipients[] objects[]" },

	/* api_audiences.c */
	{ POST, "/v1/audiences/{key}/members", api_audiences_add, BODY, NULL,
	    "create_audience" },
	{ DELETE, "/v1/audiences/{key}/members", api_audiences_remove, BODY,
	    NULL, NULL },
	{ GET, "/v1/audiences/{key}/members", api_audiences_list, 0, NULL,
	    "after before page_size" },

	/* api_tenants.c */
	{ PUT, "/v1/tenants/{id}", api_tenants_put, BODY, NULL, NULL },
	{ GET, "/v1/tenants/{id}", api_tenants_get, 0, NULL, NULL },

	/* api_recipients.c: lists, merges, channel data, preference sets */
	{ GET, "/v1/users", api_users_list, 0, NULL,
	    "after before page_size include[]" },
	{ POST, "/v1/users/{id}/merge", api_users_merge, BODY, NULL, NULL },
	{ GET, "/v1/users/{id}/subscriptions", api_users_subs, 0, NULL,
	    "after page_size include[] objects[]" },
	{ GET, "/v1/users/{id}/channel_data/{channel}", api_rcpt_cd_get, USER,
	    NULL, NULL },
	{ PUT, "/v1/users/{id}/channel_data/{channel}", api_rcpt_cd_put,
	    BODY | USER, NULL, NULL },
	{ DELETE, "/v1/users/{id}/channel_data/{channel}", api_rcpt_cd_delete,
	    USER, NULL, NULL },
	{ GET, "/v1/users/{id}/preferences", api_rcpt_prefs_list, USER, NULL,
	    NULL },
	{ DELETE, "/v1/users/{id}/preferences/{set}", api_rcpt_prefs_delete,
	    USER, NULL, NULL },
	{ PUT, "/v1/users/{id}/preferences/{set}/categories/{key}",
	    api_rcpt_prefs_key, BODY | USER, "categories", NULL },
	{ PUT, "/v1/users/{id}/preferences/{set}/channel_types/{key}",
	    api_rcpt_prefs_key, BODY | USER, "channel_types", NULL },
	{ PUT, "/v1/users/{id}/preferences/{set}/workflows/{key}",
	    api_rcpt_prefs_key, BODY | USER, "workflows", NULL },
	{ PUT, "/v1/users/{id}/preferences/{set}/categories",
	    api_rcpt_prefs_key, BODY | USER, "categories", NULL },
	{ PUT, "/v1/users/{id}/preferences/{set}/channel_types",
	    api_rcpt_prefs_key, BODY | USER, "channel_types", NULL },
	{ PUT, "/v1/users/{id}/preferences/{set}/workflows",
	    api_rcpt_prefs_key, BODY | USER, "workflows", NULL },
	{ GET, "/v1/objects/{collection}", api_objects_list, 0, NULL,
	    "after before page_size include[]" },
	{ GET, "/v1/objects/{collection}/{id}/channel_data/{channel}",
	    api_rcpt_cd_get, 0, NULL, NULL },
	{ PUT, "/v1/objects/{collection}/{id}/channel_data/{channel}",
	    api_rcpt_cd_put, BODY, NULL, NULL },
	{ DELETE, "/v1/objects/{collection}/{id}/channel_data/{channel}",
	    api_rcpt_cd_delete, 0, NULL, NULL },
	{ GET, "/v1/objects/{collection}/{id}/preferences",
	    api_rcpt_prefs_list, 0, NULL, NULL },
	{ GET, "/v1/objects/{collection}/{id}/preferences/{set}",
	    api_objects_prefs_get, 0, NULL, NULL },
	{ PUT, "/v1/objects/{collection}/{id}/preferences/{set}",
	    api_objects_prefs_put, BODY, NULL, NULL },
	{ DELETE, "/v1/objects/{collection}/{id}/preferences/{set}",
	    api_rcpt_prefs_delete, 0, NULL, NULL },
	{ PUT, "/v1/objects/{collection}/{id}/preferences/{set}/categories/{key}",
	    api_rcpt_prefs_key, BODY, "categories", NULL },
	{ PUT, "/v1/objects/{collection}/{id}/preferences/{set}/categories",
	    api_rcpt_prefs_key, BODY, "categories", NULL },
	{ PUT, "/v1/objects/{collection}/{id}/preferences/{set}/channel_types/{type}",
	    api_rcpt_prefs_key, BODY, "channel_types", NULL },
	{ PUT, "/v1/objects/{collection}/{id}/preferences/{set}/channel_types",
	    api_rcpt_prefs_key, BODY, "channel_types", NULL },
	{ PUT, "/v1/objects/{collection}/{id}/preferences/{set}/workflows/{key}",
	    api_rcpt_prefs_key, BODY, "workflows", NULL },
	{ PUT, "/v1/objects/{collection}/{id}/preferences/{set}/workflows",
	    api_rcpt_prefs_key, BODY, "workflows", NULL },
	{ GET, "/v1/objects/{collection}/{id}/messages", api_objects_messages,
	    0, NULL, MESSAGES_QUERY },
	{ GET, "/v1/tenants", api_tenants_list, 0, NULL,
	    "after before page_size tenant_id name" },
	{ DELETE, "/v1/tenants/{id}", api_tenants_delete, 0, NULL, NULL },

	/* api_workflows.c */
	{ POST, "/v1/workflows/{key}/trigger", api_workflows_trigger,
	    BODY | SCH_ROUTE_RCPTS, NULL, NULL },
	{ POST, "/v1/workflows/{key}/cancel", api_workflows_cancel, BODY,
	    NULL, NULL },
	{ POST, "/v1/notify", api_notify, BODY | SCH_ROUTE_RCPTS, NULL, NULL },
	{ POST, "/v1/notify/cancel", api_notify_cancel, BODY, NULL, NULL },

	/* api_schedules.c */
	{ POST, "/v1/schedules", api_schedules_create, BODY, NULL, NULL },
	{ PUT, "/v1/schedules", api_schedules_update, BODY, NULL, NULL },
	{ DELETE, "/v1/schedules", api_schedules_delete, BODY, NULL, NULL },
	{ GET, "/v1/schedules", api_schedules_list, 0, NULL,
	    "workflow recipient recipients* tenant after before page_size" },
	{ GET, "/v1/schedules/{id}", api_schedules_get, 0, NULL, NULL },
	{ GET, "/v1/schedules/{id}/preview", api_schedules_preview, 0, NULL,
	    "count" },
	{ GET, "/v1/users/{id}/schedules", api_schedules_user, 0, NULL,
	    "workflow recipients* tenant after before page_size" },
	{ GET, "/v1/objects/{collection}/{id}/schedules",
	    api_schedules_object, 0, NULL,
	    "workflow recipients* tenant after before page_size" },

	/* api_bulk.c: each route's arg is its operation's name */
	{ POST, "/v1/users/bulk/identify", api_bulk_start, BODY,
	    "users.identify", NULL },
	{ POST, "/v1/users/bulk/delete", api_bulk_start, BODY,
	    "users.delete", NULL },
	{ POST, "/v1/users/bulk/preferences", api_bulk_start, BODY,
	    "users.set_preferences", NULL },
	{ POST, "/v1/objects/{collection}/bulk/set", api_bulk_start, BODY,
	    "objects.set", NULL },
	{ POST, "/v1/objects/{collection}/bulk/delete", api_bulk_start, BODY,
	    "objects.delete", NULL },
	{ POST, "/v1/objects/{collection}/bulk/subscriptions/add",
	    api_bulk_start, BODY, "objects.add_subscriptions", NULL },
	{ POST, "/v1/objects/{collection}/bulk/subscriptions/delete",
	    api_bulk_start, BODY, "objects.delete_subscriptions", NULL },
	{ POST, "/v1/tenants/bulk/set", api_bulk_start, BODY, "tenants.set",
	    NULL },
	{ POST, "/v1/tenants/bulk/delete", api_bulk_tenants_delete, 0, NULL,
	    "tenant_ids[]" },
	{ POST, "/v1/schedules/bulk/create", api_bulk_start, BODY,
	    "schedules.create", NULL },
	{ GET, "/v1/bulk_operations/{id}", api_bulk_get, 0, NULL, NULL },

	/* api_messages.c */
	{ GET, "/v1/messages", api_messages_list, 0, NULL, MESSAGES_QUERY },
	{ GET, "/v1/messages/batch/content", api_messages_batch_content, 0,
	    NULL, "message_ids[]" },
	{ GET, "/v1/messages/{id}", api_messages_get, 0, NULL, NULL },
	{ GET, "/v1/messages/{id}/content", api_messages_content, 0, NULL,
	    NULL },
	{ GET, "/v1/messages/{id}/activities", api_messages_activities, 0,
	    NULL, "after before page_size trigger_data" },
	{ GET, "/v1/messages/{id}/events", api_messages_events, 0, NULL,
	    "after before page_size" },
	{ POST, "/v1/messages/batch/{status}", api_messages_batch,
	    BODY | PUBLIC, NULL, NULL },
	{ POST, "/v1/channels/{channel}/messages/bulk/{status}",
	    api_messages_bulk, BODY | PUBLIC, NULL, NULL },
	{ GET, "/v1/messages/{id}/delivery_logs", api_messages_delivery_logs,
	    0, NULL, "after before page_size" },
	{ PUT, "/v1/messages/{id}/seen", api_messages_mark, BODY | PUBLIC,
	    "seen", NULL },
	{ PUT, "/v1/messages/{id}/read", api_messages_mark, BODY | PUBLIC,
	    "read", NULL },
	{ PUT, "/v1/messages/{id}/archived", api_messages_mark, BODY | PUBLIC,
	    "archived", NULL },
	{ PUT, "/v1/messages/{id}/interacted", api_messages_mark,
	    BODY | PUBLIC, "interacted", NULL },
	{ PUT, "/v1/messages/{id}/unseen", api_messages_mark, BODY | PUBLIC,
	    "unseen", NULL },
	{ PUT, "/v1/messages/{id}/unread", api_messages_mark, BODY | PUBLIC,
	    "unread", NULL },
	{ PUT, "/v1/messages/{id}/unarchived", api_messages_mark,
	    BODY | PUBLIC, "unarchived", NULL },
	{ DELETE, "/v1/messages/{id}/seen", api_messages_unmark, PUBLIC,
	    "seen", NULL },
	{ DELETE, "/v1/messages/{id}/read", api_messages_unmark, PUBLIC,
	    "read", NULL },
	{ DELETE, "/v1/messages/{id}/archived", api_messages_unmark, PUBLIC,
	    "archived", NULL },
	/* Knock's DELETE spellings of unseen, unread and unarchived */
	{ DELETE, "/v1/messages/{id}/unseen", api_messages_mark, PUBLIC,
	    "unseen", NULL },
	{ DELETE, "/v1/messages/{id}/unread", api_messages_mark, PUBLIC,
	    "unread", NULL },
	{ DELETE, "/v1/messages/{id}/unarchived", api_messages_mark, PUBLIC,
	    "unarchived", NULL },

	/* ws.c takes it over (no handler): Phoenix's socket parameters */
	{ GET, "/ws/v1/websocket", NULL, UPGRADE | PUBLIC, NULL,
	    "api_key user_token vsn branch_slug" },
	{ GET, "/v1/workflow_recipient_runs", api_messages_runs_list, 0,
	    NULL, "workflow status[] tenant has_errors starting_at ending_at recipient"
	    " schedule_id after before page_size" },
	{ GET, "/v1/workflow_recipient_runs/{id}", api_messages_run_get, 0,
	    NULL, NULL },

	/* api_sources.c: Segment's tracking API, then the views */
	{ POST, "/sources/{key}/v1/batch", api_sources_receive, SOURCE,
	    "batch", NULL },
	{ POST, "/sources/{key}/v1/track", api_sources_receive, SOURCE,
	    "track", NULL },
	{ POST, "/sources/{key}/v1/identify", api_sources_receive, SOURCE,
	    "identify", NULL },
	{ POST, "/sources/{key}/v1/group", api_sources_receive, SOURCE,
	    "group", NULL },
	{ POST, "/sources/{key}/v1/page", api_sources_receive, SOURCE,
	    "page", NULL },
	{ POST, "/sources/{key}/v1/screen", api_sources_receive, SOURCE,
	    "screen", NULL },
	{ POST, "/sources/{key}/v1/alias", api_sources_receive, SOURCE,
	    "alias", NULL },
	{ GET, "/v1/sources", api_sources_list, 0, NULL, NULL },
	{ GET, "/v1/sources/{key}/events", api_sources_events, 0, NULL,
	    "after before page_size outcome" },

	/* api_admin.c */
	{ GET, "/admin/status", api_admin_status, INLINE, NULL, NULL },
	{ POST, "/admin/reload", api_admin_reload, INLINE | LOCAL | BODY,
	    NULL, NULL },
	{ GET, "/metrics", api_admin_metrics, INLINE | METRICS, NULL, NULL },
	/* api_metrics.c */
	{ GET, "/healthz", api_metrics_healthz, INLINE | OPEN | METRICS, NULL,
	    NULL },
	{ GET, "/admin/schedules/workflows", api_admin_sched_workflows, LOCAL,
	    NULL, NULL },
	{ POST, "/admin/clock", api_admin_clock, ASYNC | LOCAL | BODY, NULL, NULL },
	{ POST, "/admin/backup", api_admin_backup, ASYNC | LOCAL | BODY, NULL,
	    NULL },
	{ GET, "/admin/deliveries", api_admin_deliveries, 0, NULL,
	    "failed after page_size" },
};

const size_t sch_nroutes = sizeof sch_routes / sizeof sch_routes[0];

/* The value of request header name, or NULL (also without a request). */
const char *
api_header(struct sch_req *r, const char *name)
{
	if (r->conn == NULL)
		return NULL;
	return http_header(r->conn, name);
}

#define API_IDEM_MAX 255

/*
 * Run handler h under r's Idempotency-Key header, as Knock does: a key
 * (at most 255 characters) seen within 24 h replays the stored reply with
 * "idempotent-replayed: true" instead of running h again.  The stored
 * reply commits in the same transaction as h's work, so a replay never
 * answers for work that did not commit.
 */
enum eng_status
api_idempotent(struct sch_req *r, json_t **reply, char **cause,
    enum eng_status (*h)(struct sch_req *, json_t **, char **))
{
	const char *key = api_header(r, "Idempotency-Key");
	enum eng_status st;
	char *body = NULL;
	int status;

	if (key != NULL) {
		if (strlen(key) > API_IDEM_MAX) {
			*cause = xasprintf("Idempotency-Key is %zu characters; "
			    "the limit is %d", strlen(key), API_IDEM_MAX);
			return ENG_INVALID;
		}
		if (*key == '\0') {
			*cause = xstrdup("Idempotency-Key is empty");
			return ENG_INVALID;
		}
		if (eng_idem_get(r->s->eng, key, r->now, &status, &body)) {
			r->raw = body;
			r->status = status;
			r->replayed = 1;
			return ENG_OK;
		}
	}
	st = h(r, reply, cause);
	if (st == ENG_OK && key != NULL && *reply != NULL) {
		body = eng_json_dumps(*reply, JSON_COMPACT);
		eng_idem_put(r->s->eng, key, 200, body, r->now);
		free(body);
	}
	return st;
}
