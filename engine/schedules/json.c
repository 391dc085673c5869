/*
 * Schedules in Knock's shapes: the Schedule of a row, its repeats, and the
 * definition a config row came from.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/schedules/sched_int.h"

/* An instant as RFC 3339 text, or JSON null for SCHED_NONE. */
json_t *
sched_iso(int64_t t)
{
	char buf[32];

	if (t == SCHED_NONE)
		return json_null();
	eng_iso(t, buf, sizeof buf);
	return json_string(buf);
}

/* A JSON text column's value, or JSON null. */
json_t *
sched_json_text(const char *s)
{
	json_t *v = s ? json_loads(s, 0, NULL) : NULL;

	return v ? v : json_null();
}

/* Knock's day names for "weekdays"/"weekends" and single names. */
static void
sched_days_add(json_t *out, json_t *v)
{
	static const char *week[] = { "mon", "tue", "wed", "thu", "fri",
		"sat", "sun" };
	const char *d = json_string_value(v);
	int i, lo = -1, hi = -1;

	if (d != NULL && strcmp(d, "weekdays") == 0)
		lo = 0, hi = 4;
	else if (d != NULL && strcmp(d, "weekends") == 0)
		lo = 5, hi = 6;
	if (lo < 0) {
		json_array_append(out, v);
		return;
	}
	for (i = lo; i <= hi; i++)
		json_array_append_new(out, json_string(week[i]));
}

/*
 * A stored repeats array in Knock's response shape: each entry a
 * ScheduleRepeat with every field, interval 1 and null where not given,
 * days as an array of day names.
 */
static json_t *
sched_repeats_json(const char *text)
{
	static const char *fields[] = { "frequency", "day_of_month", "hours",
		"minutes", NULL };
	json_t *in = sched_json_text(text), *out = json_array(), *r, *o, *v;
	json_t *days, *x;
	size_t i, j;
	int k;

	if (json_is_object(in)) {
		r = json_array();
		json_array_append(r, in);
		json_decref(in);
		in = r;
	}
	json_array_foreach(in, i, r) {
		o = json_pack("{s:s}", "__typename", "ScheduleRepeat");
		for (k = 0; fields[k] != NULL; k++) {
			v = json_object_get(r, fields[k]);
			json_object_set(o, fields[k], v ? v : json_null());
		}
		v = json_object_get(r, "interval");
		json_object_set_new(o, "interval", json_is_integer(v) ?
		    json_incref(v) : json_integer(1));
		v = json_object_get(r, "days");
		if (v == NULL || json_is_null(v))
			days = json_null();
		else {
			days = json_array();
			if (json_is_array(v))
				json_array_foreach(v, j, x)
					sched_days_add(days, x);
			else
				sched_days_add(days, v);
		}
		json_object_set_new(o, "days", days);
		json_array_append_new(out, o);
	}
	json_decref(in);
	return out;
}

/* The Schedule shape of a row, with belfry's extra fields. */
json_t *
sched_json(struct eng *e, const struct store_sched *s)
{
	char id[37], pid[37], *owned;
	json_t *o;
	const char *zone = sched_zone_name(e, s, &owned);

	eng_id_format(e, ENG_ID_SCHED, (uint64_t)s->seq, 0, id);
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
	    " s:o, s:o}",
	    "__typename", "Schedule", "id", id, "workflow", s->workflow,
	    "recipient", eng_rcpt_entity(e, s->rcpt), "actor", s->actor ?
	    eng_rcpt_entity(e, s->actor) : json_null(), "repeats", s->repeats ?
	    sched_repeats_json(s->repeats) : json_array(), "data",
	    sched_json_text(s->data), "tenant", s->tenant ?
	    json_string(s->tenant) : json_null(), "inserted_at",
	    sched_iso(s->inserted), "updated_at", sched_iso(s->updated),
	    "next_occurrence_at", sched_iso(s->next), "last_occurrence_at",
	    sched_iso(s->last));
	json_object_set_new(o, "rrule", s->rule && !s->repeats ?
	    json_string(s->rule) : json_null());
	json_object_set_new(o, "exdates", s->exdates ?
	    json_string(s->exdates) : json_null());
	json_object_set_new(o, "scheduled_at", sched_iso(s->start_at));
	json_object_set_new(o, "ending_at", sched_iso(s->ending_at));
	json_object_set_new(o, "timezone", s->timezone ?
	    json_string(s->timezone) : json_null());
	json_object_set_new(o, "effective_timezone", json_string(zone));
	json_object_set_new(o, "dtstart", json_string(s->dtstart));
	json_object_set_new(o, "dst_gap", json_string(s->gap));
	json_object_set_new(o, "dst_overlap", json_string(s->overlap));
	json_object_set_new(o, "catchup_window", json_integer(s->catchup));
	json_object_set_new(o, "paused", json_boolean(s->paused));
	json_object_set_new(o, "skipped_count", json_integer(s->skipped));
	json_object_set_new(o, "last_skipped_at", sched_iso(s->last_skipped));
	json_object_set_new(o, "last_skip_reason", s->skip_reason ?
	    json_string(s->skip_reason) : json_null());
	json_object_set_new(o, "last_error", s->last_error ?
	    json_string(s->last_error) : json_null());
	json_object_set_new(o, "per_subscriber", json_boolean(s->per_sub));
	json_object_set_new(o, "source", json_string(s->source));
	json_object_set_new(o, "config_id", s->config_id ?
	    json_string(s->config_id) : json_null());
	if (s->parent != SCHED_NONE) {
		eng_id_format(e, ENG_ID_SCHED, (uint64_t)s->parent, 0, pid);
		json_object_set_new(o, "parent_id", json_string(pid));
	} else
		json_object_set_new(o, "parent_id", json_null());
	free(owned);
	return o;
}

/* The definition of a row as API fields (for a PUT's merge). */
json_t *
sched_def_json(const struct store_sched *s)
{
	json_t *d = json_pack("{s:s, s:s, s:s, s:I, s:b}", "workflow",
	    s->workflow, "dst_gap", s->gap, "dst_overlap", s->overlap,
	    "catchup_window", (json_int_t)s->catchup, "paused", s->paused);

	if (s->actor)
		json_object_set_new(d, "actor", eng_rcpt_ref(s->actor));
	if (s->tenant)
		json_object_set_new(d, "tenant", json_string(s->tenant));
	if (s->data)
		json_object_set_new(d, "data", sched_json_text(s->data));
	if (s->repeats)
		json_object_set_new(d, "repeats", sched_json_text(s->repeats));
	else if (s->rule)
		json_object_set_new(d, "rrule", json_string(s->rule));
	if (s->exdates)
		json_object_set_new(d, "exdates", json_string(s->exdates));
	if (s->start_at != SCHED_NONE)
		json_object_set_new(d, "scheduled_at", sched_iso(s->start_at));
	if (s->ending_at != SCHED_NONE)
		json_object_set_new(d, "ending_at", sched_iso(s->ending_at));
	if (s->timezone)
		json_object_set_new(d, "timezone", json_string(s->timezone));
	if (s->per_sub)
		json_object_set_new(d, "per_subscriber", json_true());
	return d;
}
