/*
 * Workflow recipient runs read back in Knock's shape, one by id or a list
 * newest first (filtered by workflow, status, recipient or the schedule
 * whose fires made them), with their events expanded.
 */
#include <string.h>

#include "engine/messages/msg_int.h"

/*
 * Run seq's trigger_source: its source, schedule fire and cancellation
 * key; a source event's run adds the source, the event, its message id
 * and its timestamp.
 */
static json_t *
runs_source(struct eng *e, const struct store_run *run, int64_t seq)
{
	struct store_source_event ev;
	json_t *o;
	char id[37], at[32];

	o = json_pack("{s:s, s:s?, s:n}", "type", run->source,
	    "cancellation_key", run->ckey, "schedule_id");
	if (strcmp(run->source, "source") == 0 &&
	    store_source_run_get(e->store, seq, &ev)) {
		json_object_update_new(o, json_pack("{s:s, s:s?, s:s?, s:s?}",
		    "source", ev.source, "event", ev.event, "message_id",
		    ev.message_id, "timestamp", ev.timestamp));
		store_source_event_clear(&ev);
	}
	if (run->sched != STORE_NONE) {
		eng_id_format(e, ENG_ID_SCHED, (uint64_t)run->sched, 0, id);
		eng_iso(run->fire_at, at, sizeof at);
		json_object_set_new(o, "schedule_id", json_string(id));
		json_object_set_new(o, "scheduled_at", json_string(at));
	}
	return o;
}

/*
 * A recipient run's events in Knock's shape (taking stored): events stored
 * compact (run/steps.c: "e", "s" unless ok, "r", "t", "d" unless {}, "at"; a
 * message_sent's data {"m": seq, "c": channel}) are expanded; events
 * stored in this shape already (before schema 7's runs) pass as they are.
 */
static json_t *
runs_events(struct eng *e, json_t *stored)
{
	json_t *out = json_array(), *ev, *o, *d, *data, *v;
	const char *event;
	char id[37], at[32];
	size_t i;

	json_array_foreach(stored, i, ev) {
		if ((event = json_string_value(json_object_get(ev, "e"))) ==
		    NULL) {
			json_array_append(out, ev);
			continue;
		}
		o = json_object();
		json_object_set_new(o, "event", json_string(event));
		v = json_object_get(ev, "s");
		json_object_set_new(o, "status", v ? json_incref(v) :
		    json_string("ok"));
		if ((v = json_object_get(ev, "r")) != NULL)
			json_object_set(o, "step_ref", v);
		if ((v = json_object_get(ev, "t")) != NULL)
			json_object_set(o, "step_type", v);
		d = json_object_get(ev, "d");
		if (strcmp(event, "message_sent") == 0 &&
		    json_is_integer(json_object_get(d, "m"))) {
			eng_id_format(e, ENG_ID_MSG, (uint64_t)
			    json_integer_value(json_object_get(d, "m")), 0, id);
			data = json_pack("{s:s, s:O?}", "message_id", id,
			    "channel", json_object_get(d, "c"));
		} else
			data = d ? json_incref(d) : json_object();
		json_object_set_new(o, "data", data);
		eng_iso(json_integer_value(json_object_get(ev, "at")), at,
		    sizeof at);
		json_object_set_new(o, "inserted_at", json_string(at));
		json_array_append_new(out, o);
	}
	json_decref(stored);
	return out;
}

/* The WorkflowRecipientRun shape of rr (taking its events) and its run. */
static json_t *
runs_json(struct eng *e, struct store_rrun *rr,
    const struct store_run *run)
{
	char id[37], rid[37], a[32], b[32];
	json_t *events = rr->events;

	rr->events = NULL;
	eng_id_format(e, ENG_ID_RRUN, (uint64_t)rr->run, (uint64_t)rr->idx,
	    id);
	eng_id_format(e, ENG_ID_RUN, (uint64_t)rr->run, 0, rid);
	eng_iso(rr->inserted, a, sizeof a);
	eng_iso(rr->updated, b, sizeof b);
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s?, s:s,"
	    " s:o, s:i, s:o, s:s, s:s}",
	    "__typename", "WorkflowRecipientRun", "id", id,
	    "workflow_run_id", rid, "workflow", run->workflow, "recipient",
	    eng_rcpt_ref(rr->rcpt), "actor", run->actor ?
	    eng_rcpt_ref(run->actor) : json_null(), "tenant", run->tenant,
	    "status", rr->status, "trigger_source", runs_source(e, run, rr->run),
	    "error_count", rr->errors, "events", runs_events(e, events),
	    "inserted_at", a, "updated_at", b);
}

/* GET /v1/workflow_recipient_runs/{id}. */
enum eng_status
eng_run_get(struct eng *e, const char *id, json_t **reply, char **cause)
{
	struct store_rrun rr;
	struct store_run run;
	uint64_t seq, idx;

	if (eng_id_parse(e, ENG_ID_RRUN, id, &seq, &idx) != 0)
		goto missing;
	if (!store_rrun_get(e->store, (int64_t)seq, (int64_t)idx, &rr))
		goto missing;
	if (!store_run_get(e->store, (int64_t)seq, &run)) {
		store_rrun_clear(&rr);
		goto missing;
	}
	*reply = runs_json(e, &rr, &run);
	store_rrun_clear(&rr);
	store_run_clear(&run);
	return ENG_OK;
missing:
	*cause = xasprintf("workflow recipient run \"%.64s\" not found", id);
	return ENG_NOT_FOUND;
}

/*
 * GET /v1/workflow_recipient_runs (workflow, status, recipient, after, and
 * belfry's schedule_id: the runs a schedule's fires made).
 */
enum eng_status
eng_runs_list(struct eng *e, json_t *q, json_t **reply, char **cause)
{
	const char *sid = json_string_value(json_object_get(q,
	    "schedule_id"));
	const char *after = json_string_value(json_object_get(q, "after"));
	uint64_t run = INT64_MAX >> 24, idx = 0, sched = 0, b;
	int size = msg_page_size(q), n, i;
	json_t *entries = json_array(), *last;
	struct store_rrun_filter f;
	struct store_rrun_row rows[50];

	if (size < 0 || (after != NULL && eng_id_parse(e, ENG_ID_RRUN, after,
	    &run, &idx))) {
		json_decref(entries);
		*cause = xstrdup(size < 0 ? "\"page_size\" must be an integer "
		    "1..50" : "bad \"after\" cursor");
		return ENG_INVALID;
	}
	if (sid != NULL && eng_id_parse(e, ENG_ID_SCHED, sid, &sched, &b)) {
		json_decref(entries);
		*cause = xasprintf("\"schedule_id\": \"%.64s\" is not a "
		    "schedule id", sid);
		return ENG_INVALID;
	}
	f.before_run = (int64_t)run;
	f.before_idx = (int64_t)idx;
	f.workflow = json_string_value(json_object_get(q, "workflow"));
	f.status = json_string_value(json_object_get(q, "status"));
	f.rcpt = json_string_value(json_object_get(q, "recipient"));
	f.sched = sid != NULL ? (int64_t)sched : STORE_NONE;
	n = (int)store_rruns_list(e->store, &f, (size_t)size, rows);
	for (i = 0; i < n; i++) {
		json_array_append_new(entries, runs_json(e, &rows[i].rr,
		    &rows[i].run));
		store_rrun_clear(&rows[i].rr);
	}
	last = json_array_get(entries, json_array_size(entries) - 1);
	*reply = json_pack("{s:o, s:o}", "items", entries, "page_info",
	    msg_page_info(last ? json_string_value(json_object_get(last,
	    "id")) : NULL, n == size, size));
	return ENG_OK;
}
