/*
 * Schedule definitions (the API's and the schedules/ files' fields),
 * checked against a configuration: the workflow, the recurrence (RRULE or
 * Knock's repeats, EXDATE/RDATE), the instants, the zone and the DST
 * policies, the catch-up window.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schedules/sched_int.h"

/* Parse an RFC 3339 instant (any offset; none means UTC); 0 or -1. */
static int
sched_instant(json_t *v, int64_t *t)
{
	return json_is_string(v) ? tz_rfc3339_parse(json_string_value(v), t) :
	    -1;
}

/* Free what a checked definition owns. */
void
sched_def_clear(struct sched_def *d)
{
	free(d->rule);
	free(d->exdates);
	memset(d, 0, sizeof *d);
}

/* Set *cause and *field for a bad field; returns ENG_INVALID. */
static enum eng_status __attribute__((format(printf, 4, 5)))
sched_bad(const char *name, const char **field, char **cause,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		abort();
	va_end(ap);
	*field = name;
	*cause = xasprintf("\"%s\": %s", name, msg);
	free(msg);
	return ENG_INVALID;
}

/* The exdates of a definition as a comma-separated list, or NULL. */
static enum eng_status
sched_exdates(json_t *v, struct sched_def *d, const char **field,
    char **cause)
{
	struct tz_wall w;
	json_t *x;
	size_t i;
	char *list = NULL, *p, *copy, *save = NULL;

	if (v == NULL || json_is_null(v))
		return ENG_OK;
	if (json_is_string(v))
		list = xstrdup(json_string_value(v));
	else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (!json_is_string(x)) {
				free(list);
				return sched_bad("exdates", field, cause,
				    "expected local times");
			}
			p = xasprintf("%s%s%s", list ? list : "", list ? "," :
			    "", json_string_value(x));
			free(list);
			list = p;
		}
	} else
		return sched_bad("exdates", field, cause, "expected an array "
		    "of local times YYYY-MM-DDTHH:MM:SS");
	if (list == NULL || *list == '\0') {
		free(list);
		return ENG_OK;
	}
	copy = xstrdup(list);
	for (p = strtok_r(copy, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (tz_wall_parse(p, &w) != 0) {
			sched_bad("exdates", field, cause, "\"%.40s\" is not a "
			    "local time YYYY-MM-DDTHH:MM:SS", p);
			free(copy);
			free(list);
			return ENG_INVALID;
		}
	}
	free(copy);
	d->exdates = list;
	return ENG_OK;
}

/*
 * Check a schedule definition (the API's fields) against configuration c
 * and fill d.  On error *field names the bad field (NULL for the body).
 */
enum eng_status
sched_check(const struct eng_config *c, json_t *def, struct sched_def *d,
    const char **field, char **cause)
{
	struct tz_recur *r;
	struct tz_wall w = { 2026, 1, 1, 0, 0, 0 };
	enum tz_gap gap;
	enum tz_overlap ov;
	json_t *v, *rrule;
	char *text;

	memset(d, 0, sizeof *d);
	d->start_at = d->ending_at = SCHED_NONE;
	d->catchup = SCHED_CATCHUP_DEFAULT;
	*field = NULL;
	if (!json_is_object(def)) {
		*cause = xstrdup("a schedule must be a JSON object");
		return ENG_INVALID;
	}
	v = json_object_get(def, "workflow");
	if (!json_is_string(v))
		return sched_bad("workflow", field, cause, "a workflow key is "
		    "required");
	d->workflow = json_string_value(v);
	if (eng_workflow_find(c, d->workflow) == NULL) {
		*field = "workflow";
		*cause = xasprintf("workflow \"%.128s\" not found",
		    d->workflow);
		return ENG_NO_WORKFLOW;
	}
	v = json_object_get(def, "data");
	if (v != NULL && !json_is_null(v) && !json_is_object(v))
		return sched_bad("data", field, cause, "must be an object");
	d->data = json_is_null(v) ? NULL : v;
	v = json_object_get(def, "actor");
	if (v != NULL && !json_is_null(v) && !json_is_string(v) &&
	    !json_is_string(json_object_get(v, "id")))
		return sched_bad("actor", field, cause, "must be a recipient "
		    "id or an object with \"id\"");
	d->actor = json_is_null(v) ? NULL : v;
	v = json_object_get(def, "tenant");
	if (v != NULL && !json_is_null(v) && !json_is_string(v) &&
	    !json_is_string(json_object_get(v, "id")))
		return sched_bad("tenant", field, cause, "must be a tenant id "
		    "or an object with \"id\"");
	d->tenant = json_is_null(v) ? NULL : v;
	v = json_object_get(def, "scheduled_at");
	if (v != NULL && !json_is_null(v) && sched_instant(v, &d->start_at))
		return sched_bad("scheduled_at", field, cause, "expected an "
		    "RFC 3339 instant such as 2026-12-02T09:00:00Z or "
		    "2026-12-02T09:00:00-05:00");
	v = json_object_get(def, "ending_at");
	if (v != NULL && !json_is_null(v) && sched_instant(v, &d->ending_at))
		return sched_bad("ending_at", field, cause, "expected an "
		    "RFC 3339 instant such as 2026-12-02T09:00:00Z or "
		    "2026-12-02T09:00:00-05:00");
	v = json_object_get(def, "timezone");
	if (v != NULL && !json_is_null(v) && (!json_is_string(v) ||
	    !tz_zone_valid(json_string_value(v))))
		return sched_bad("timezone", field, cause, "unknown time zone "
		    "\"%.64s\"", json_is_string(v) ? json_string_value(v) :
		    "?");
	d->timezone = json_string_value(v);
	v = json_object_get(def, "dst_gap");
	d->gap = v == NULL || json_is_null(v) ? "shift" :
	    json_string_value(v);
	if (d->gap == NULL || tz_gap_parse(d->gap, &gap) != 0)
		return sched_bad("dst_gap", field, cause, "expected shift, "
		    "next_valid or skip");
	v = json_object_get(def, "dst_overlap");
	d->overlap = v == NULL || json_is_null(v) ? "first" :
	    json_string_value(v);
	if (d->overlap == NULL || tz_overlap_parse(d->overlap, &ov) != 0)
		return sched_bad("dst_overlap", field, cause, "expected first "
		    "or last");
	v = json_object_get(def, "catchup_window");
	if (v != NULL && !json_is_null(v) &&
	    (d->catchup = eng_duration(v)) < 0)
		return sched_bad("catchup_window", field, cause, "expected "
		    "seconds or a duration such as {\"hours\": 2}, up to a "
		    "year");
	v = json_object_get(def, "paused");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return sched_bad("paused", field, cause, "expected true or "
		    "false");
	d->paused = json_is_true(v);
	v = json_object_get(def, "per_subscriber");
	if (v != NULL && !json_is_null(v) && !json_is_boolean(v))
		return sched_bad("per_subscriber", field, cause, "expected true "
		    "or false");
	d->per_sub = json_is_true(v);
	v = json_object_get(def, "repeats");
	rrule = json_object_get(def, "rrule");
	if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
		v = NULL;
	if (json_is_null(rrule))
		rrule = NULL;
	if (v != NULL && rrule != NULL)
		return sched_bad("rrule", field, cause, "give either repeats "
		    "or rrule, not both");
	if (v != NULL) {
		if (!json_is_array(v))
			return sched_bad("repeats", field, cause, "expected an "
			    "array of repeat rules");
		text = eng_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		d->rule = tz_repeats_to_rrule(text, cause);
		free(text);
		if (d->rule == NULL) {
			text = *cause;
			sched_bad("repeats", field, cause, "%s", text);
			free(text);
			return ENG_INVALID;
		}
		d->repeats = v;
	} else if (rrule != NULL) {
		if (!json_is_string(rrule))
			return sched_bad("rrule", field, cause, "expected "
			    "RRULE text");
		d->rule = xstrdup(json_string_value(rrule));
	} else if (d->start_at == SCHED_NONE)
		return sched_bad("repeats", field, cause, "give repeats, rrule "
		    "or scheduled_at");
	if (d->rule != NULL) {
		if ((r = tz_recur_new(d->rule, &w, cause)) == NULL) {
			text = *cause;
			sched_bad(d->repeats ? "repeats" : "rrule", field,
			    cause, "%s", text);
			free(text);
			return ENG_INVALID;
		}
		tz_recur_free(r);
	}
	return sched_exdates(json_object_get(def, "exdates"), d, field, cause);
}

/* Check a definition's recipients list: 1..SCHED_MAX_RECIPIENTS. */
enum eng_status
sched_check_rcpts(json_t *def, char **cause)
{
	json_t *rs = json_object_get(def, "recipients");

	if (!json_is_array(rs) || json_array_size(rs) == 0 ||
	    json_array_size(rs) > SCHED_MAX_RECIPIENTS) {
		*cause = xasprintf("\"recipients\": expected an array of 1..%d "
		    "recipients", SCHED_MAX_RECIPIENTS);
		return ENG_INVALID;
	}
	return ENG_OK;
}

/*
 * Check a config file's schedule (engine/config/load.c) as the API checks a
 * new one; 0 or -1.
 */
int
eng_sched_def_check(const struct eng_config *c, json_t *def,
    const char **field, char **cause)
{
	struct sched_def d;
	enum eng_status rc;

	if (sched_check_rcpts(def, cause) != ENG_OK) {
		*field = "recipients";
		return -1;
	}
	rc = sched_check(c, def, &d, field, cause);

	sched_def_clear(&d);
	return rc == ENG_OK ? 0 : -1;
}
