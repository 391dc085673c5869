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
 * Recipient run (run, idx)'s events in Knock's shape (taking stored), each
 * with an id derived from the run's key and the event's place (stable,
 * unique while runs number below 2^24): events stored compact
 * (run/steps.c: "e", "s" unless ok, "r", "t", "d" unless {}, "at"; a
 * message_sent's data {"m": seq, "c": channel}) are expanded; events
 * stored in this shape already (before schema 7's runs) gain the id and
 * __typename.
 */
static json_t *
runs_events(struct eng *e, int64_t run, int64_t idx, json_t *stored)
{
	json_t *out = json_array(), *ev, *o, *d, *data, *v;
	const char *event;
	char id[37], at[32];
	size_t i;

	json_array_foreach(stored, i, ev) {
		eng_id_format(e, ENG_ID_EVENT, (uint64_t)(run << 24 | idx),
		    (uint64_t)i, id);
		if ((event = json_string_value(json_object_get(ev, "e"))) ==
		    NULL) {
			o = json_pack("{s:s, s:s}", "__typename",
			    "WorkflowRecipientRunEvent", "id", id);
			json_object_update(o, ev);
			json_array_append_new(out, o);
			continue;
		}
		o = json_pack("{s:s, s:s, s:s}", "__typename",
		    "WorkflowRecipientRunEvent", "id", id, "event", event);
		/* Knock's statuses are ok and error: a skip is an ok event. */
		v = json_object_get(ev, "s");
		json_object_set_new(o, "status", json_string(json_is_string(v) &&
		    strcmp(json_string_value(v), "error") == 0 ? "error" :
		    "ok"));
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
	    "error_count", rr->errors, "events", runs_events(e, rr->run,
	    rr->idx, events),
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

/* Statuses a recipient run may have, as Knock names them. */
static const char *const runs_statuses[] = { "queued", "processing",
	"paused", "completed", "cancelled", NULL };

/*
 * Read list query q's filters into *f (the cursor left to the caller),
 * with *keep holding the recipient key f->rcpt points into; ENG_OK, or
 * ENG_INVALID with *cause naming the parameter.
 */
static enum eng_status
runs_filter(struct eng *e, json_t *q, struct store_rrun_filter *f,
    char **keep, char **cause)
{
	const char *sid = json_string_value(json_object_get(q, "schedule_id"));
	const char *he = json_string_value(json_object_get(q, "has_errors"));
	const char *bounds[2] = { "starting_at", "ending_at" }, *t, *cid;
	int64_t *at[2] = { &f->start, &f->end };
	json_t *rcpt = json_object_get(q, "recipient"), *v;
	uint64_t sched, b;
	size_t i, k;

	f->workflow = json_string_value(json_object_get(q, "workflow"));
	f->tenant = json_string_value(json_object_get(q, "tenant"));
	f->statuses = eng_query_list(q, "status");
	f->sched = f->has_errors = f->start = f->end = STORE_NONE;
	json_array_foreach(f->statuses, i, v) {
		for (k = 0; runs_statuses[k] != NULL &&
		    (!json_is_string(v) || strcmp(json_string_value(v),
		    runs_statuses[k]) != 0); k++)
			;
		if (runs_statuses[k] == NULL) {
			*cause = xstrdup("\"status\": expected queued, "
			    "processing, paused, completed or cancelled");
			return ENG_INVALID;
		}
	}
	if (he != NULL) {
		if (strcmp(he, "true") != 0 && strcmp(he, "false") != 0) {
			*cause = xstrdup("\"has_errors\" must be true or false");
			return ENG_INVALID;
		}
		f->has_errors = strcmp(he, "true") == 0;
	}
	for (i = 0; i < 2; i++)
		if ((t = json_string_value(json_object_get(q, bounds[i]))) !=
		    NULL && tz_rfc3339_parse(t, at[i]) != 0) {
			*cause = xasprintf("\"%s\" must be an RFC 3339 time",
			    bounds[i]);
			return ENG_INVALID;
		}
	if (json_is_object(rcpt)) {
		cid = eng_query_sub(q, "recipient", "id");
		if (cid == NULL || *cid == '\0') {
			*cause = xstrdup("\"recipient\": expected a user id or "
			    "an {id, collection} reference");
			return ENG_INVALID;
		}
		*keep = eng_rcpt_key(eng_query_sub(q, "recipient",
		    "collection"), cid);
		f->rcpt = *keep;
	} else
		f->rcpt = json_string_value(rcpt);
	if (sid != NULL) {
		if (eng_id_parse(e, ENG_ID_SCHED, sid, &sched, &b) != 0) {
			*cause = xasprintf("\"schedule_id\": \"%.64s\" is not "
			    "a schedule id", sid);
			return ENG_INVALID;
		}
		f->sched = (int64_t)sched;
	}
	return ENG_OK;
}

/*
 * GET /v1/workflow_recipient_runs: Knock's filters (workflow, status[],
 * tenant, has_errors, starting_at, ending_at, recipient), after and
 * before cursors, and belfry's schedule_id (the runs a schedule's fires
 * made).
 */
enum eng_status
eng_runs_list(struct eng *e, json_t *q, json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *before = json_string_value(json_object_get(q, "before"));
	uint64_t run = INT64_MAX >> 24, idx = 0;
	json_t *entries, *first, *last;
	struct store_rrun_filter f;
	struct store_rrun_row rows[51];
	char *keep = NULL;
	int size, n, i, k, more;

	memset(&f, 0, sizeof f);
	if (eng_query_page_size(q, 50, 50, &size, cause) != 0)
		return ENG_INVALID;
	if (after != NULL && before != NULL) {
		*cause = xstrdup("give \"after\" or \"before\", not both");
		return ENG_INVALID;
	}
	if ((after != NULL && eng_id_parse(e, ENG_ID_RRUN, after, &run,
	    &idx)) || (before != NULL && eng_id_parse(e, ENG_ID_RRUN, before,
	    &run, &idx))) {
		*cause = xstrdup(after ? "bad \"after\" cursor" :
		    "bad \"before\" cursor");
		return ENG_INVALID;
	}
	if (runs_filter(e, q, &f, &keep, cause) != ENG_OK) {
		free(keep);
		return ENG_INVALID;
	}
	f.cur_run = (int64_t)run;
	f.cur_idx = (int64_t)idx;
	f.backward = before != NULL;
	/* One more than a page says whether there is more beyond it. */
	n = (int)store_rruns_list(e->store, &f, (size_t)size + 1, rows);
	free(keep);
	if ((more = n > size)) {
		n = size;
		store_rrun_clear(&rows[f.backward ? 0 : n].rr);
	}
	entries = json_array();
	for (i = 0; i < n; i++) {
		k = f.backward && more ? i + 1 : i;
		json_array_append_new(entries, runs_json(e, &rows[k].rr,
		    &rows[k].run));
		store_rrun_clear(&rows[k].rr);
	}
	first = json_array_get(entries, 0);
	last = json_array_get(entries, json_array_size(entries) - 1);
	*reply = json_pack("{s:o, s:o}", "items", entries, "page_info",
	    eng_page_info(json_string_value(json_object_get(first, "id")),
	    json_string_value(json_object_get(last, "id")), after != NULL,
	    f.backward, more, size));
	return ENG_OK;
}
