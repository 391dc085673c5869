/*
 * What an operator watches besides the API's own counters: GET /healthz
 * (no key needed; 200 when the store answers a query, 503 otherwise), and
 * for /metrics and /admin/status the build, the process (read from
 * /proc, as Prometheus' client libraries do), the store's figures, the
 * reloads, the zone rules' age and the counters by workflow and channel.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scheduler/scheduler.h"

/* GET /healthz: {"status": "ok"} if the store answers, else 503. */
enum eng_status
api_metrics_healthz(struct sch_req *r, json_t **reply, char **cause)
{
	char *why = NULL;

	(void)cause;
	if (eng_ping(r->s->eng, &why) != 0) {
		log_warnx("healthz: the store does not answer: %s", why);
		r->status = 503;
		*reply = json_pack("{s:s, s:s}", "status", "unavailable",
		    "message", why);
		free(why);
		return ENG_OK;
	}
	*reply = json_pack("{s:s, s:s}", "status", "ok", "version",
	    BELFRY_VERSION);
	return ENG_OK;
}

/* Append a gauge or counter of a fractional value. */
static void
api_metrics_real(FILE *f, const char *name, const char *type,
    const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.3f\n", name, help, name,
	    type, name, v);
}

/* Open descriptors: the entries of /proc/self/fd but the one reading it. */
static uint64_t
api_metrics_fds(void)
{
	struct dirent *d;
	uint64_t n = 0;
	DIR *dp;

	if ((dp = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL)
		if (d->d_name[0] != '.')
			n++;
	closedir(dp);
	return n > 0 ? n - 1 : 0;
}

/* The boot time (/proc/stat's btime), 0 when unknown. */
static double
api_metrics_btime(void)
{
	char line[256];
	double bt = 0;
	FILE *f;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "btime %lf", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

/* The process_* families of Prometheus' client libraries. */
static void
api_metrics_process(struct sch *s, FILE *f)
{
	unsigned long long utime = 0, stime = 0, start = 0;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long vsize = 0, rss = 0;
	char buf[1024], *p;
	size_t n;
	FILE *in;

	if ((in = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(in, "%lu %lu", &vsize, &rss) != 2)
			rss = 0;
		fclose(in);
	}
	if ((in = fopen("/proc/self/stat", "r")) != NULL) {
		n = fread(buf, 1, sizeof buf - 1, in);
		buf[n] = '\0';
		fclose(in);
		/* After "pid (comm) ": fields 3 on; utime 14, stime 15, 22. */
		if ((p = strrchr(buf, ')')) != NULL && sscanf(p + 2,
		    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		    "%*d %*d %*d %*d %*d %*d %llu", &utime, &stime,
		    &start) != 3)
			utime = stime = start = 0;
	}
	if (tick <= 0)
		tick = 100;
	api_admin_metric(f, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.", (uint64_t)rss * (uint64_t)page);
	api_admin_metric(f, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.", (uint64_t)vsize * (uint64_t)page);
	api_admin_metric(f, "process_open_fds", "gauge",
	    "Number of open file descriptors.", api_metrics_fds());
	api_admin_metric(f, "process_max_fds", "gauge",
	    "Maximum number of open file descriptors.", (uint64_t)s->nofile);
	api_metrics_real(f, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.",
	    (double)(utime + stime) / (double)tick);
	api_metrics_real(f, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.",
	    api_metrics_btime() + (double)start / (double)tick);
}

/* Which family api_metrics_count prints. */
struct api_metrics_family {
	FILE *f;
	int kind;                    /* 0 runs, 1 messages, 2 deliveries */
};

/* One (workflow, channel) pair's samples of one family. */
static void
api_metrics_count(void *arg, const char *workflow, const char *channel,
    const uint64_t *n)
{
	static const char *const results[] = { "delivered", "undelivered",
	    "retried" };
	struct api_metrics_family *fam = arg;
	int k;

	if (fam->kind == 0 && *channel == '\0' && *workflow != '\0')
		fprintf(fam->f, "belfry_workflow_runs_total{workflow=\"%s\"} "
		    "%llu\n", workflow, (unsigned long long)n[ENG_COUNT_RUNS]);
	else if (fam->kind == 1 && *channel != '\0' && *workflow != '\0')
		fprintf(fam->f, "belfry_workflow_messages_total{workflow=\"%s\","
		    "channel=\"%s\"} %llu\n", workflow, channel,
		    (unsigned long long)n[ENG_COUNT_MESSAGES]);
	else if (fam->kind == 2 && *workflow == '\0' && *channel != '\0')
		for (k = 0; k < 3; k++)
			fprintf(fam->f, "belfry_channel_deliveries_total{"
			    "channel=\"%s\",result=\"%s\"} %llu\n", channel,
			    results[k], (unsigned long long)
			    n[ENG_COUNT_DELIVERED + k]);
}

/* See scheduler.h: the families /metrics adds for operators. */
void
api_metrics_ops(struct sch *s, FILE *f)
{
	static const char *const heads[][2] = {
		{ "belfry_workflow_runs_total", "Recipient runs created, by "
		    "workflow." },
		{ "belfry_workflow_messages_total", "Messages created, by "
		    "workflow and channel." },
		{ "belfry_channel_deliveries_total", "Webhook and email "
		    "delivery outcomes, by channel: delivered, undelivered "
		    "(given up), retried (an attempt failed)." },
	};
	struct api_metrics_family fam;
	struct eng_figures fig;
	int k;

	fprintf(f, "# HELP belfry_build_info The running belfryd: its version "
	    "and the zone rules it loaded.\n# TYPE belfry_build_info gauge\n"
	    "belfry_build_info{version=\"%s\",rules=\"%s\",icu=\"%s\"} 1\n",
	    BELFRY_VERSION, tz_rules_version(), tz_icu_version());
	api_metrics_process(s, f);
	for (k = 0; k < 3; k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", heads[k][0],
		    heads[k][1], heads[k][0]);
		fam.f = f;
		fam.kind = k;
		eng_counts(s->eng, api_metrics_count, &fam);
	}
	fprintf(f, "# HELP belfry_reloads_total Configuration reloads, by "
	    "result.\n# TYPE belfry_reloads_total counter\n"
	    "belfry_reloads_total{result=\"ok\"} %llu\n"
	    "belfry_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)s->reloads_ok,
	    (unsigned long long)s->reloads_failed);
	api_admin_metric(f, "belfry_last_reload_success", "gauge",
	    "Whether the last reload worked (1 before any).",
	    s->reload_error == NULL);
	eng_figures(s->eng, &fig);
	api_admin_metric(f, "belfry_schedules", "gauge", "Stored schedules.",
	    (uint64_t)fig.schedules);
	api_admin_metric(f, "belfry_database_bytes", "gauge", "The database's "
	    "size (SQLite: the file without its write-ahead log; PostgreSQL: "
	    "pg_database_size).",
	    (uint64_t)fig.bytes);
	api_admin_metric(f, "belfry_database_schema_version", "gauge",
	    "The database schema in use.", (uint64_t)fig.schema_version);
	fprintf(f, "# HELP belfry_node_info The node: its store's backend and "
	    "its name in leases.\n# TYPE belfry_node_info gauge\n"
	    "belfry_node_info{backend=\"%s\",node=\"%s\"} 1\n", fig.backend,
	    fig.node);
	api_admin_metric(f, "belfry_due_lag_seconds", "gauge", "How long the "
	    "earliest due work has been waiting (0 when none is late).",
	    (uint64_t)(eng_next_due(s->eng) < sch_now(s) ? sch_now(s) -
	    eng_next_due(s->eng) : 0));
	api_admin_metric(f, "belfry_deliveries_leased", "gauge", "Deliveries "
	    "this node holds leased (PostgreSQL; 0 with SQLite).",
	    (uint64_t)fig.leases);
	api_admin_metric(f, "belfry_zone_rules_stale", "gauge", "1 when the "
	    "zone rules in use are older than the system's tzdata (rebuild "
	    "them).", strcmp(tz_rules_version(), tz_system_version()) != 0);
}

/* See scheduler.h: what /admin/status adds for operators. */
json_t *
api_metrics_status(struct sch *s)
{
	struct eng_figures fig;
	json_t *j, *last = json_null();
	char at[32];

	eng_figures(s->eng, &fig);
	if (s->reload_at != 0) {
		tz_instant_format(s->reload_at, at, sizeof at);
		last = json_pack("{s:s, s:s}", "at", at, "result",
		    s->reload_error == NULL ? "ok" : "failed");
		if (s->reload_error != NULL)
			json_object_set_new(last, "error",
			    json_string(s->reload_error));
	}
	j = json_pack("{s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:o, s:{s:I, s:I},"
	    " s:b}", "backend", fig.backend, "node", fig.node,
	    "deliveries_leased", (json_int_t)fig.leases,
	    "schema_version", fig.schema_version,
	    "database_bytes", (json_int_t)fig.bytes,
	    "schedules", (json_int_t)fig.schedules,
	    "messages_created", (json_int_t)fig.messages_created,
	    "last_reload", last,
	    "reloads", "ok", (json_int_t)s->reloads_ok,
	    "failed", (json_int_t)s->reloads_failed,
	    "zone_rules_stale",
	    strcmp(tz_rules_version(), tz_system_version()) != 0);
	return j;
}
