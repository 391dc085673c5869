/*
 * Admin routes: GET /admin/status, POST /admin/reload, GET /metrics
 * (Prometheus text format, with the source events by source and outcome),
 * GET /admin/deliveries, POST /admin/clock (only with --virtual-clock) and
 * POST /admin/backup.  Reload, clock and backup are served on the Unix
 * socket only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/notify.h"
#include "scheduler/scheduler.h"

/* An instant as RFC 3339 UTC, or JSON null for INT64_MAX. */
static json_t *
api_admin_instant(int64_t t)
{
	char buf[32];

	if (t == INT64_MAX)
		return json_null();
	tz_instant_format(t, buf, sizeof buf);
	return json_string(buf);
}

/* GET /admin/status: what is running, since when, on which rules. */
enum eng_status
api_admin_status(struct sch_req *r, json_t **reply, char **cause)
{
	struct sch *s = r->s;
	struct eng_stats st;
	uint64_t up;

	(void)cause;
	eng_stats(s->eng, &st);
	up = (sch_notify_monotonic_usec() - s->started_mono) / 1000000;
	*reply = json_pack("{s:s, s:I, s:o, s:o, s:b, s:s, s:s, s:s, s:s, s:I, "
	    "s:s, s:s, s:o, s:I, s:I, s:o}",
	    "version", BELFRY_VERSION,
	    "uptime_seconds", (json_int_t)up,
	    "started_at", api_admin_instant(s->started),
	    "now", api_admin_instant(sch_now(s)),
	    "virtual_clock", s->virtual_clock,
	    "rules_version", tz_rules_version(),
	    "system_tzdata_version", tz_system_version(),
	    "icu_version", tz_icu_version(),
	    "config_dir", s->config_dir,
	    "workflows", (json_int_t)eng_config_workflow_count(
		eng_config(s->eng)),
	    "socket", s->socket_path,
	    "database", s->database,
	    "listen", s->http_tcp != NULL ? json_string(s->listen) :
		json_null(),
	    "queue_depth", (json_int_t)st.queue_depth,
	    "deliveries_in_flight", (json_int_t)s->inflight,
	    "next_due", api_admin_instant(eng_next_due(s->eng)));
	if (s->http_tcp != NULL)
		json_object_set_new(*reply, "listen_port",
		    json_integer(s->listen_port));
	json_object_set_new(*reply, "sources", json_integer((json_int_t)
	    eng_config_source_count(eng_config(s->eng))));
	return ENG_OK;
}

/* POST /admin/reload: re-read the config; 422 naming the error. */
enum eng_status
api_admin_reload(struct sch_req *r, json_t **reply, char **cause)
{
	if (sch_reload(r->s, cause) != 0) {
		r->code = "invalid_config";
		return ENG_INVALID;
	}
	*reply = json_pack("{s:b, s:I}", "reloaded", 1, "workflows",
	    (json_int_t)eng_config_workflow_count(eng_config(r->s->eng)));
	return ENG_OK;
}

/*
 * GET /admin/schedules/workflows: {"workflows": {key: rows}}, the
 * workflows stored schedules name (belfryctl check warns of those a new
 * configuration lacks).
 */
enum eng_status
api_admin_sched_workflows(struct sch_req *r, json_t **reply, char **cause)
{
	(void)cause;
	*reply = json_pack("{s:o}", "workflows",
	    eng_schedules_workflows(r->s->eng));
	return ENG_OK;
}

/* Append a counter or gauge with its HELP and TYPE lines. */
static void
api_admin_metric(FILE *f, const char *name, const char *type,
    const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
	    type, name, (unsigned long long)v);
}

/* One source's count of events with an outcome, as a sample line. */
static void
api_admin_source_count(void *arg, const char *source, const char *outcome,
    int64_t n)
{
	fprintf(arg, "belfry_source_events_total{source=\"%s\",outcome=\"%s\"}"
	    " %lld\n", source, outcome, (long long)n);
}

/* One kind's count of rows deleted by retention, as a sample line. */
static void
api_admin_retained(FILE *f, const char *kind, uint64_t n)
{
	fprintf(f, "belfry_retention_deleted_total{kind=\"%s\"} %llu\n", kind,
	    (unsigned long long)n);
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
enum eng_status
api_admin_metrics(struct sch_req *r, json_t **reply, char **cause)
{
	static const char *const buckets[] = { "0.001", "0.005", "0.01",
	    "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "1", "5", "10",
	    "60", "+Inf" };
	struct sch *s = r->s;
	struct eng_stats st;
	struct eng_gauge g[8];
	char *buf = NULL;
	size_t len = 0, i, ng;
	FILE *f;

	_Static_assert(sizeof buckets / sizeof buckets[0] == SCH_LATE_BUCKETS,
	    "one label per lateness bucket");
	(void)reply;
	memset(&st, 0, sizeof st);
	eng_stats(s->eng, &st);
	if ((f = open_memstream(&buf, &len)) == NULL) {
		*cause = xstrdup("open_memstream failed");
		return ENG_INTERNAL;
	}
	api_admin_metric(f, "belfry_triggers_total", "counter",
	    "Workflow triggers accepted.", st.triggers);
	api_admin_metric(f, "belfry_runs_total", "counter",
	    "Workflow recipient runs created.", st.runs);
	api_admin_metric(f, "belfry_messages_total", "counter",
	    "Messages created.", st.messages);
	api_admin_metric(f, "belfry_errors_total", "counter",
	    "Errors recorded by the engine.", st.errors);
	api_admin_metric(f, "belfry_deliveries_failed_total",
	    "counter", "Webhook and email deliveries that ended undelivered.",
	    st.deliveries_failed);
	outbound_metrics(s, f);
	api_admin_metric(f, "belfry_checkpoints_total", "counter",
	    "Log checkpoints run between bursts of work.",
	    s->counters.checkpoints);
	ng = eng_store_gauges(s->eng, g, sizeof g / sizeof g[0]);
	for (i = 0; i < ng; i++)
		api_admin_metric(f, g[i].name, "gauge", g[i].help, g[i].value);
	api_admin_metric(f, "belfry_commits_total", "counter",
	    "Transactions committed by this process (request flushes and "
	    "clock passes).",
	    s->counters.commits);
	api_admin_metric(f, "belfry_websockets", "gauge",
	    "Open websockets of the real-time feed.", (uint64_t)ws_count(s));
	api_admin_metric(f, "belfry_feed_pushes_total", "counter",
	    "new-message pushes sent to websockets.", s->counters.pushes);
	api_admin_metric(f, "belfry_batched_requests_total", "counter",
	    "API requests committed in those transactions.",
	    s->counters.batched);
	api_admin_metric(f, "belfry_json_pool_bytes", "gauge",
	    "Memory held for JSON values, in use or kept for reuse.",
	    (uint64_t)eng_json_pool_bytes());
	api_admin_metric(f, "belfry_queue_depth", "gauge",
	    "Pending due work items.", st.queue_depth);
	api_admin_metric(f, "belfry_deliveries_in_flight",
	    "gauge", "Webhook requests and email sessions in flight.",
	    s->inflight);
	fprintf(f, "# HELP belfry_http_requests_total API replies by status "
	    "code.\n# TYPE belfry_http_requests_total counter\n");
	for (i = 100; i < 600; i++) {
		/* This reply is not counted yet: count it as a 200. */
		uint64_t n = s->counters.http[i] + (i == 200);

		if (n != 0)
			fprintf(f, "belfry_http_requests_total{code=\"%zu\"} "
			    "%llu\n", i, (unsigned long long)n);
	}
	fprintf(f, "# HELP belfry_retention_deleted_total Rows deleted by "
	    "retention, by kind.\n# TYPE belfry_retention_deleted_total "
	    "counter\n");
	api_admin_retained(f, "messages", st.retained_messages);
	api_admin_retained(f, "deliveries", st.retained_deliveries);
	api_admin_retained(f, "delivery_attempts", st.retained_attempts);
	api_admin_retained(f, "runs", st.retained_runs);
	api_admin_retained(f, "recipient_runs", st.retained_rruns);
	api_admin_metric(f, "belfry_schedule_fires_total", "counter",
	    "Schedule occurrences fired.", st.fires);
	api_admin_metric(f, "belfry_schedule_fires_skipped_total", "counter",
	    "Missed schedule occurrences skipped by catch-up.",
	    st.fires_skipped);
	api_admin_metric(f, "belfry_schedule_fires_failed_total", "counter",
	    "Schedule fires whose trigger failed.", st.fires_failed);
	fprintf(f, "# HELP belfry_source_events_total Events received from "
	    "sources, by source and outcome.\n# TYPE belfry_source_events_total"
	    " counter\n");
	eng_source_counts(s->eng, api_admin_source_count, f);
	fprintf(f, "# HELP belfry_fire_lateness_seconds How late schedule "
	    "fires ran after their due instant (at their commit).\n# TYPE "
	    "belfry_fire_lateness_seconds histogram\n");
	for (i = 0; i < sizeof buckets / sizeof buckets[0]; i++)
		fprintf(f, "belfry_fire_lateness_seconds_bucket{le=\"%s\"} "
		    "%llu\n", buckets[i],
		    (unsigned long long)s->counters.late[i]);
	fprintf(f, "belfry_fire_lateness_seconds_sum %.6f\n"
	    "belfry_fire_lateness_seconds_count %llu\n", s->counters.late_sum,
	    (unsigned long long)s->counters.late[SCH_LATE_BUCKETS - 1]);
	fclose(f);
	r->raw = buf;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	return ENG_OK;
}

/*
 * GET /admin/deliveries (failed, after, page_size): the delivery attempts
 * of every message, newest first.
 */
enum eng_status
api_admin_deliveries(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_deliveries_list(r->s->eng, r->query, reply, cause);
}

/*
 * POST /admin/clock {"advance_to": RFC3339} or {"advance_by_seconds": N}:
 * runs all due work up to the target and replies {"now": ...} when done.
 */
enum eng_status
api_admin_clock(struct sch_req *r, json_t **reply, char **cause)
{
	(void)reply;
	if (!r->s->virtual_clock) {
		r->code = "not_found";
		*cause = xstrdup("no route for POST /admin/clock: belfryd "
		    "runs on the wall clock (start it with --virtual-clock)");
		return ENG_NOT_FOUND;
	}
	if (clock_parse_target(r->s, r->body, &r->target, cause) != 0)
		return ENG_INVALID;
	clock_advance_start(r);
	return ENG_OK;
}

/*
 * POST /admin/backup {"path": FILE}: a hot copy of the database to FILE
 * (absolute), answered with its size once complete (backup.c).
 */
enum eng_status
api_admin_backup(struct sch_req *r, json_t **reply, char **cause)
{
	json_t *path = json_object_get(r->body, "path");

	(void)reply;
	if (!json_is_string(path) || json_string_length(path) == 0) {
		*cause = xstrdup("path: expected the backup file's absolute "
		    "path");
		return ENG_INVALID;
	}
	return backup_start(r, json_string_value(path), cause);
}
