/*
 * Schedules: recurring (or one-off) triggers of a workflow for one
 * recipient each, fired in the recipient's local time.
 *
 * One row per (schedule, recipient): a POST with N recipients makes N rows,
 * each with its own id.  A schedule aimed at an object fires for the object
 * itself, as Knock's do (the trigger then fans out to its subscribers in
 * the object's zone).  With "per_subscriber": true it is instead a template
 * row that never fires by itself; it is materialised as one child row per
 * subscriber (parent = the template), created with the template, updated
 * with it, and added or removed when the object's subscriptions change, so
 * every member fires in their own zone.
 *
 * Config-defined rows (source "config") belong to their files: the API
 * refuses to change or delete them, and eng_schedules_sync makes the rows
 * match the files at every start and reload.
 *
 * Clock model: every row keeps next_fire_at, the UTC instant of its next
 * fire (NULL when paused, ended or a template); the timer's only question is
 * min(next_fire_at).  A fire creates the workflow run through the same path
 * as an API trigger and advances next_fire_at in the same transaction; a
 * unique index on runs(schedule_seq, fire_at) makes a second run for one
 * occurrence impossible.
 *
 * Zone: the recipient's "timezone", else the schedule's "timezone", else
 * belfry.conf's default_timezone, else UTC.  DTSTART is the wall time of
 * scheduled_at (else of the row's creation) in that zone, recomputed with
 * the zone whenever the row is written.
 *
 * Catch-up: occurrences missed while the daemon was down (or the clock
 * jumped) are walked through; only the latest one fires, and only if it is
 * within catchup_window of now.  The others are counted as skipped on the
 * row (skipped, last_skipped_at, skip_reason "catchup") and in the
 * metrics, as are the occurrences that dst_gap "skip" drops (skip_reason
 * "dst_gap").  A fire that fails (its workflow is gone, ...) keeps its
 * error in last_error until a fire succeeds.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define SCHED_NONE STORE_NONE
#define SCHED_MAX_RECIPIENTS 100
#define SCHED_CATCHUP_DEFAULT 3600
#define SCHED_BATCH 1000
#define SCHED_WALK_MAX 100000   /* missed occurrences counted one by one */

/* A checked schedule definition (json values borrowed from the def). */
struct sched_def {
	const char *workflow;
	json_t *actor, *tenant, *data, *repeats;
	char *rule, *exdates;
	int64_t start_at, ending_at, catchup;
	const char *timezone, *gap, *overlap;
	int paused, per_sub;
};

/* Load row seq; 0, or -1 if there is none. */
static int
sched_get(struct eng *e, int64_t seq, struct store_sched *s)
{
	memset(s, 0, sizeof *s);
	return store_sched_get(e->store, seq, s) ? 0 : -1;
}

/* Whether a row is a per-subscriber template (it fans out, never fires). */
static int
sched_is_template(const struct store_sched *s)
{
	return s->parent == SCHED_NONE && s->per_sub;
}

/* The name of the zone a row fires in (see the top of the file). */
static const char *
sched_zone_name(struct eng *e, const struct store_sched *s, char **owned)
{
	const char *slash = strchr(s->rcpt, '/'), *name;
	json_t *p;
	char *coll = NULL;

	*owned = NULL;
	if (slash != NULL) {
		coll = xstrdup(s->rcpt);
		coll[slash - s->rcpt] = '\0';
	}
	p = eng_recipient_load(e, coll, slash ? slash + 1 : s->rcpt);
	free(coll);
	name = json_string_value(json_object_get(p, "timezone"));
	if (name != NULL && tz_zone_valid(name))
		*owned = xstrdup(name);
	json_decref(p);
	if (*owned != NULL)
		return *owned;
	if (s->timezone != NULL)
		return s->timezone;
	if (e->cfg != NULL && e->cfg->default_timezone != NULL)
		return e->cfg->default_timezone;
	return "UTC";
}

/* The zone a row fires in (never NULL: falls back to UTC). */
static struct tz_zone *
sched_zone(struct eng *e, const struct store_sched *s)
{
	char *owned, *cause = NULL;
	struct tz_zone *z = tz_zone_get(sched_zone_name(e, s, &owned),
	    &cause);

	free(owned);
	free(cause);
	if (z == NULL) {
		cause = NULL;
		z = tz_zone_get("UTC", &cause);
		free(cause);
	}
	return z;
}

/* How many parsed recurrences the engine keeps (see sched_recur). */
#define SCHED_CACHE 64

/*
 * Parsed recurrences, keyed by rule, DTSTART and exdates, least recently
 * used replaced first.
 */
struct eng_rcache {
	struct {
		uint64_t hash, used;
		char *key;
		struct tz_recur *r;
	} slot[SCHED_CACHE];
	uint64_t tick;
};

/* Free the engine's recurrence cache. */
void
eng_sched_cache_free(struct eng *e)
{
	int i;

	if (e->rcache == NULL)
		return;
	for (i = 0; i < SCHED_CACHE; i++) {
		free(e->rcache->slot[i].key);
		tz_recur_free(e->rcache->slot[i].r);
	}
	free(e->rcache);
	e->rcache = NULL;
}

/* FNV-1a of a string. */
static uint64_t
sched_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Parse the row's recurrence (NULL for a one-off or a rule that fails). */
static struct tz_recur *
sched_recur_parse(const struct store_sched *s)
{
	struct tz_recur *r;
	struct tz_wall w;
	char *cause = NULL;

	if (s->rule == NULL || tz_wall_parse(s->dtstart, &w) != 0)
		return NULL;
	if ((r = tz_recur_new(s->rule, &w, &cause)) == NULL) {
		free(cause);
		return NULL;
	}
	if (s->exdates != NULL && tz_recur_add_dates(r, s->exdates, 1,
	    &cause) != 0) {
		free(cause);
		tz_recur_free(r);
		return NULL;
	}
	return r;
}

/*
 * The row's recurrence, borrowed from the engine's cache until the next
 * call (NULL for a one-off or a rule that fails).  Rows made by one
 * request share rule and DTSTART, so a fire rarely parses: parsing checks
 * that the rule has an occurrence, which costs more than the fire's own
 * search.
 */
static struct tz_recur *
sched_recur(struct eng *e, const struct store_sched *s)
{
	struct eng_rcache *c;
	uint64_t h;
	char *key;
	int i, old = 0;

	if (s->rule == NULL || s->dtstart == NULL)
		return NULL;
	if ((c = e->rcache) == NULL)
		c = e->rcache = xcalloc(1, sizeof *c);
	key = xasprintf("%s\n%s\n%s", s->rule, s->dtstart,
	    s->exdates != NULL ? s->exdates : "");
	h = sched_hash(key);
	for (i = 0; i < SCHED_CACHE; i++) {
		if (c->slot[i].key != NULL && c->slot[i].hash == h &&
		    strcmp(c->slot[i].key, key) == 0) {
			free(key);
			c->slot[i].used = ++c->tick;
			return c->slot[i].r;
		}
		if (c->slot[i].used < c->slot[old].used)
			old = i;
	}
	free(c->slot[old].key);
	tz_recur_free(c->slot[old].r);
	c->slot[old].key = key;
	c->slot[old].hash = h;
	c->slot[old].used = ++c->tick;
	c->slot[old].r = sched_recur_parse(s);
	return c->slot[old].r;
}

/*
 * The row's first fire strictly after `after` with recurrence r (NULL for
 * a one-off) in zone z: 0 and *next, or 1 when there is none.  skips (may
 * be NULL) counts the occurrences dst_gap "skip" dropped on the way.
 */
static int
sched_next_with(const struct store_sched *s, struct tz_recur *r, struct tz_zone *z,
    int64_t after, int64_t *next, struct tz_recur_skips *skips)
{
	enum tz_gap gap = TZ_GAP_SHIFT;
	enum tz_overlap ov = TZ_OVERLAP_FIRST;

	if (s->rule == NULL) {
		if (s->start_at == SCHED_NONE || s->start_at <= after)
			return 1;
		*next = s->start_at;
		return 0;
	}
	if (r == NULL)
		return 1;
	tz_gap_parse(s->gap, &gap);
	tz_overlap_parse(s->overlap, &ov);
	if (s->start_at != SCHED_NONE && after < s->start_at - 1)
		after = s->start_at - 1;
	if (skips != NULL)
		memset(skips, 0, sizeof *skips);
	if (tz_recur_next_skips(r, z, gap, ov, after, next, skips) != 0)
		return 1;
	if (s->ending_at != SCHED_NONE && *next > s->ending_at)
		return 1;
	return 0;
}

/*
 * Recompute a row's DTSTART (in its zone) and next fire as of now: paused
 * rows and templates have none; a one-off that never fired keeps its
 * instant even if past (the fire decides by catchup_window).
 */
static void
sched_plan(struct eng *e, struct store_sched *s, int64_t now)
{
	struct tz_zone *z = sched_zone(e, s);
	struct tz_recur *r;
	struct tz_wall w;
	char buf[32];
	int64_t after;

	tz_to_wall(z, s->start_at != SCHED_NONE ? s->start_at : s->inserted,
	    &w);
	snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", w.year,
	    w.month, w.day, w.hour, w.minute, w.second);
	free(s->dtstart);
	s->dtstart = xstrdup(buf);
	s->next = SCHED_NONE;
	if (s->paused || sched_is_template(s))
		return;
	if (s->rule == NULL) {
		/* Not yet fired at this instant, and not after the end. */
		if (s->start_at != s->last && (s->ending_at == SCHED_NONE ||
		    s->start_at <= s->ending_at))
			s->next = s->start_at;
		return;
	}
	after = now - 1;
	if (s->last != SCHED_NONE && s->last > after)
		after = s->last;
	r = sched_recur(e, s);
	if (sched_next_with(s, r, z, after, &s->next, NULL) != 0)
		s->next = SCHED_NONE;
}

/* Insert (seq 0) or update a row; 0 or -1. */
static int
sched_store(struct eng *e, struct store_sched *s)
{
	return store_sched_save(e->store, s);
}

/* ---- definitions ---- */

/* Parse an RFC 3339 instant (any offset; none means UTC); 0 or -1. */
static int
sched_instant(json_t *v, int64_t *t)
{
	return json_is_string(v) ? tz_rfc3339_parse(json_string_value(v), t) :
	    -1;
}

/* Free what a checked definition owns. */
static void
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
static enum eng_status
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
static enum eng_status
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
 * Check a config file's schedule (engine/config.c) as the API checks a
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

/*
 * The rcpt key of a recipient spec (a user id, or {id, collection?} with
 * optional properties, which identify it first).  NULL with *cause.
 */
static char *
sched_rcpt(struct eng *e, json_t *r, int64_t now, enum eng_status *rc,
    char **cause)
{
	const char *id, *coll;

	*rc = ENG_INVALID;
	if (json_is_string(r)) {
		id = json_string_value(r);
		if (!eng_recipient_valid_id(id)) {
			*cause = xasprintf("recipient \"%.64s\": bad id", id);
			return NULL;
		}
		return xstrdup(id);
	}
	id = json_string_value(json_object_get(r, "id"));
	coll = json_string_value(json_object_get(r, "collection"));
	if (id == NULL || !eng_recipient_valid_id(id) || (coll != NULL &&
	    !eng_recipient_valid_id(coll)) || (json_object_get(r,
	    "collection") != NULL && coll == NULL)) {
		*cause = xstrdup("each recipient must be a user id or an "
		    "object with a good \"id\" (and \"collection\")");
		return NULL;
	}
	if (json_object_size(r) > (coll ? 2u : 1u) &&
	    (*rc = eng_identify(e, r, now, cause)) != ENG_OK)
		return NULL;
	*rc = ENG_OK;
	return eng_rcpt_key(coll, id);
}

/* The tenant id of a definition's tenant, stored as given; NULL if none. */
static char *
sched_tenant(struct eng *e, json_t *v, int64_t now, enum eng_status *rc,
    char **cause)
{
	json_t *reply = NULL;

	*rc = ENG_OK;
	if (v == NULL)
		return NULL;
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_object_size(v) > 1) {
		if ((*rc = eng_tenant_put(e, json_string_value(
		    json_object_get(v, "id")), v, now, &reply, cause)) !=
		    ENG_OK)
			return NULL;
		json_decref(reply);
	}
	return xstrdup(json_string_value(json_object_get(v, "id")));
}

/* Copy a checked definition's fields into row s (resolved actor/tenant). */
static void
sched_fill(struct store_sched *s, const struct sched_def *d, const char *actor,
    const char *tenant)
{
	free(s->workflow);
	s->workflow = xstrdup(d->workflow);
	free(s->actor);
	s->actor = actor ? xstrdup(actor) : NULL;
	free(s->tenant);
	s->tenant = tenant ? xstrdup(tenant) : NULL;
	free(s->data);
	s->data = d->data ? eng_json_dumps(d->data, JSON_COMPACT |
	    JSON_ENCODE_ANY) : NULL;
	free(s->repeats);
	s->repeats = d->repeats ? eng_json_dumps(d->repeats, JSON_COMPACT |
	    JSON_ENCODE_ANY) : NULL;
	free(s->rule);
	s->rule = d->rule ? xstrdup(d->rule) : NULL;
	free(s->exdates);
	s->exdates = d->exdates ? xstrdup(d->exdates) : NULL;
	s->start_at = d->start_at;
	s->ending_at = d->ending_at;
	free(s->timezone);
	s->timezone = d->timezone ? xstrdup(d->timezone) : NULL;
	free(s->gap);
	s->gap = xstrdup(d->gap);
	free(s->overlap);
	s->overlap = xstrdup(d->overlap);
	s->catchup = d->catchup;
	s->paused = d->paused;
	s->per_sub = d->per_sub && s->parent == SCHED_NONE &&
	    strchr(s->rcpt, '/') != NULL;
}

/* Copy a template's definition into a child row for subscriber rcpt. */
static void
sched_copy(struct store_sched *c, const struct store_sched *t)
{
	free(c->workflow);
	c->workflow = xstrdup(t->workflow);
#define SCHED_DUP(f) do { free(c->f); c->f = t->f ? xstrdup(t->f) : NULL; } \
	while (0)
	SCHED_DUP(actor);
	SCHED_DUP(tenant);
	SCHED_DUP(data);
	SCHED_DUP(repeats);
	SCHED_DUP(rule);
	SCHED_DUP(exdates);
	SCHED_DUP(timezone);
	SCHED_DUP(gap);
	SCHED_DUP(overlap);
	SCHED_DUP(source);
	SCHED_DUP(config_id);
#undef SCHED_DUP
	c->start_at = t->start_at;
	c->ending_at = t->ending_at;
	c->catchup = t->catchup;
	c->paused = t->paused;
}

/* Insert the child row of template t for subscriber rcpt (not its actor). */
static int
sched_child_add(struct eng *e, const struct store_sched *t, const char *rcpt,
    int64_t now)
{
	struct store_sched c;
	int rc;

	if (t->actor != NULL && strcmp(t->actor, rcpt) == 0)
		return 0;
	memset(&c, 0, sizeof c);
	sched_copy(&c, t);
	c.parent = t->seq;
	c.rcpt = xstrdup(rcpt);
	c.inserted = c.updated = now;
	c.last = c.last_skipped = SCHED_NONE;
	sched_plan(e, &c, now);
	rc = sched_store(e, &c);
	store_sched_clear(&c);
	return rc;
}

/*
 * Call fn for every row matching the list filters, in pages (rows are
 * copied out first, so fn may use other statements and write rows).
 */
static int
sched_each(struct eng *e, const char *wf, const char *rcpt, int64_t parent,
    int (*fn)(struct eng *, struct store_sched *, void *), void *arg)
{
	struct store_sched *rows = xcalloc(SCHED_BATCH, sizeof *rows);
	struct store_sched_filter f;
	int n, i, rc = 0;

	memset(&f, 0, sizeof f);
	f.workflow = wf;
	f.rcpt = rcpt;
	f.parent = parent;
	do {
		n = (int)store_sched_list(e->store, &f, SCHED_BATCH, rows);
		for (i = 0; i < n; i++) {
			if (rc == 0)
				rc = fn(e, &rows[i], arg);
			f.after = rows[i].seq;
			store_sched_clear(&rows[i]);
		}
	} while (n == SCHED_BATCH && rc == 0);
	free(rows);
	return rc;
}

/* sched_each callback: re-plan a row as of *(int64_t *)arg and store it. */
static int
sched_replan_cb(struct eng *e, struct store_sched *s, void *arg)
{
	int64_t now = *(int64_t *)arg;

	if (s->next != SCHED_NONE && s->next <= now && !s->paused)
		return 0; /* due already: the fire decides */
	sched_plan(e, s, now);
	return sched_store(e, s);
}

/* sched_each callback: make a template's child match it again. */
static int
sched_child_sync_cb(struct eng *e, struct store_sched *c, void *arg)
{
	const struct store_sched *t = arg;

	sched_copy(c, t);
	c->updated = t->updated;
	sched_plan(e, c, t->updated);
	return sched_store(e, c);
}

/* Add a child row to template t for every current subscriber. */
static int
sched_children_create(struct eng *e, const struct store_sched *t, int64_t now)
{
	char coll[257], after[600] = "";
	const char *slash = strchr(t->rcpt, '/');
	struct store_sub *subs = xcalloc(SCHED_BATCH, sizeof *subs);
	int n, i, rc = 0;

	snprintf(coll, sizeof coll, "%.*s", (int)(slash - t->rcpt), t->rcpt);
	do {
		n = (int)store_subs_page(e->store, coll, slash + 1, after,
		    SCHED_BATCH, subs);
		for (i = 0; i < n; i++) {
			if (rc == 0)
				rc = sched_child_add(e, t, subs[i].rcpt, now);
			snprintf(after, sizeof after, "%s", subs[i].rcpt);
			store_sub_clear(&subs[i]);
		}
	} while (n == SCHED_BATCH && rc == 0);
	free(subs);
	return rc;
}

/* ---- replies ---- */

/* An instant as RFC 3339 text, or JSON null for SCHED_NONE. */
static json_t *
sched_iso(int64_t t)
{
	char buf[32];

	if (t == SCHED_NONE)
		return json_null();
	eng_iso(t, buf, sizeof buf);
	return json_string(buf);
}

/* A JSON text column's value, or JSON null. */
static json_t *
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
static json_t *
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
static json_t *
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

/* ---- create, update, delete, list ---- */

/*
 * Store row s and keep its children in step: a template's children follow
 * it, a row that became a template gets one per subscriber, and one that
 * stopped being a template loses them.  was_template: what s was before.
 */
static int
sched_write(struct eng *e, struct store_sched *s, int was_template, int64_t now)
{
	int fresh = s->seq == 0;

	if (sched_store(e, s) != 0)
		return -1;
	if (sched_is_template(s))
		return !fresh && was_template ? sched_each(e, NULL, NULL, s->seq,
		    sched_child_sync_cb, s) : sched_children_create(e, s, now);
	if (!was_template)
		return 0;
	return store_sched_delete_children(e->store, s->seq);
}

/*
 * ENG_CONFLICT with *cause when row s belongs to a config file (the API
 * may not change it), else ENG_OK.
 */
static enum eng_status
sched_owned(struct eng *e, const struct store_sched *s, char **cause)
{
	const char *file;
	char id[37];

	if (s->config_id == NULL)
		return ENG_OK;
	eng_id_format(e, ENG_ID_SCHED, (uint64_t)s->seq, 0, id);
	file = e->cfg != NULL ? json_string_value(json_object_get(
	    e->cfg->schedule_files, s->config_id)) : NULL;
	*cause = xasprintf("schedule %s is defined by %s (id \"%s\"): change "
	    "it there and reload", id, file ? file : "a config file",
	    s->config_id);
	return ENG_CONFLICT;
}

/*
 * Create one row per recipient of def (and the children of objects'
 * rows), from source "api" or "config" (with config_id and its def text).
 * existing (config only, may be NULL) maps the recipient keys of rows the
 * config schedule already has to their keys: those rows are updated in
 * place (keeping their ids and fire history), the ones def no longer names
 * are deleted.  Appends each top-level row's Schedule to out when out is
 * not NULL.
 */
static enum eng_status
sched_create(struct eng *e, json_t *def, int64_t now, const char *source,
    const char *config_id, const char *deftext, json_t *existing,
    json_t *out, char **cause)
{
	json_t *rs = json_object_get(def, "recipients"), *r, *old;
	struct sched_def d;
	struct store_sched s;
	enum eng_status rc;
	const char *field, *k;
	char *actor = NULL, *tenant = NULL, *key, *msg;
	size_t i;
	int was;

	if ((rc = sched_check_rcpts(def, cause)) != ENG_OK)
		return rc;
	if ((rc = sched_check(e->cfg, def, &d, &field, cause)) != ENG_OK) {
		sched_def_clear(&d);
		return rc;
	}
	if (d.actor != NULL && (actor = sched_rcpt(e, d.actor, now, &rc,
	    cause)) == NULL) {
		msg = *cause;
		*cause = xasprintf("\"actor\": %s", msg);
		free(msg);
		goto out;
	}
	tenant = sched_tenant(e, d.tenant, now, &rc, cause);
	if (rc != ENG_OK)
		goto out;
	json_array_foreach(rs, i, r) {
		if ((key = sched_rcpt(e, r, now, &rc, cause)) == NULL) {
			msg = *cause;
			*cause = xasprintf("\"recipients[%zu]\": %s", i, msg);
			free(msg);
			goto out;
		}
		memset(&s, 0, sizeof s);
		old = json_object_get(existing, key);
		if (old != NULL && sched_get(e, json_integer_value(old), &s) ==
		    0) {
			json_object_del(existing, key);
			free(key);
		} else {
			s.parent = s.last = s.last_skipped = SCHED_NONE;
			s.rcpt = key;
			s.source = xstrdup(source);
			s.config_id = config_id ? xstrdup(config_id) : NULL;
			s.inserted = now;
		}
		free(s.def);
		s.def = deftext ? xstrdup(deftext) : NULL;
		s.updated = now;
		was = s.seq != 0 && sched_is_template(&s);
		sched_fill(&s, &d, actor, tenant);
		sched_plan(e, &s, now);
		if (sched_write(e, &s, was, now) != 0) {
			store_sched_clear(&s);
			*cause = xstrdup("store failure");
			rc = ENG_INTERNAL;
			goto out;
		}
		if (out != NULL)
			json_array_append_new(out, sched_json(e, &s));
		store_sched_clear(&s);
	}
	/* Rows for recipients the definition no longer names. */
	json_object_foreach(existing, k, old) {
		if (store_sched_delete(e->store, json_integer_value(old)) != 0) {
			*cause = xstrdup("store failure");
			rc = ENG_INTERNAL;
			goto out;
		}
	}
	rc = ENG_OK;
out:
	free(actor);
	free(tenant);
	sched_def_clear(&d);
	return rc;
}

/* POST /v1/schedules. */
enum eng_status
eng_schedules_create(struct eng *e, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	json_t *out = json_array();
	enum eng_status rc;

	if (json_object_get(body, "id") != NULL) {
		json_decref(out);
		*cause = xstrdup("\"id\": ids are assigned by belfry (config "
		    "files name their schedules)");
		return ENG_INVALID;
	}
	if ((rc = sched_create(e, body, now, "api", NULL, NULL, NULL, out,
	    cause)) != ENG_OK) {
		json_decref(out);
		return rc;
	}
	*reply = out;
	return ENG_OK;
}

/* The row keys named by body's schedule_ids; NULL with *cause. */
static int64_t *
sched_ids(struct eng *e, json_t *body, size_t *n, char **cause)
{
	json_t *ids = json_object_get(body, "schedule_ids"), *v;
	int64_t *out;
	uint64_t a, b;
	size_t i;

	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > 1000) {
		*cause = xstrdup("\"schedule_ids\": expected an array of "
		    "1..1000 schedule ids");
		return NULL;
	}
	out = xcalloc(json_array_size(ids), sizeof *out);
	json_array_foreach(ids, i, v) {
		if (!json_is_string(v) || eng_id_parse(e, ENG_ID_SCHED,
		    json_string_value(v), &a, &b) != 0) {
			*cause = xasprintf("\"schedule_ids[%zu]\": not a "
			    "schedule id", i);
			free(out);
			return NULL;
		}
		out[i] = (int64_t)a;
	}
	*n = json_array_size(ids);
	return out;
}

/* Apply PUT fields to one row (and a template's children). */
static enum eng_status
sched_update_one(struct eng *e, struct store_sched *s, json_t *body, int64_t now,
    char **cause)
{
	json_t *def = sched_def_json(s), *v;
	struct sched_def d;
	enum eng_status rc;
	const char *k, *field;
	char *actor = NULL, *tenant = NULL;
	int was;

	json_object_foreach(body, k, v) {
		if (strcmp(k, "schedule_ids") == 0 || strcmp(k, "recipients")
		    == 0)
			continue;
		if (strcmp(k, "repeats") == 0)
			json_object_del(def, "rrule");
		else if (strcmp(k, "rrule") == 0)
			json_object_del(def, "repeats");
		json_object_set(def, k, v);
	}
	if ((rc = sched_check(e->cfg, def, &d, &field, cause)) != ENG_OK)
		goto out;
	if (d.actor != NULL && (actor = sched_rcpt(e, d.actor, now, &rc,
	    cause)) == NULL)
		goto out;
	tenant = sched_tenant(e, d.tenant, now, &rc, cause);
	if (rc != ENG_OK)
		goto out;
	was = sched_is_template(s);
	sched_fill(s, &d, actor, tenant);
	s->updated = now;
	sched_plan(e, s, now);
	if (sched_write(e, s, was, now) != 0) {
		*cause = xstrdup("store failure");
		rc = ENG_INTERNAL;
	}
out:
	free(actor);
	free(tenant);
	sched_def_clear(&d);
	json_decref(def);
	return rc;
}

/* PUT /v1/schedules. */
enum eng_status
eng_schedules_update(struct eng *e, json_t *body, int64_t now,
    json_t **reply, char **cause)
{
	enum eng_status rc = ENG_OK;
	struct store_sched s;
	json_t *out;
	int64_t *ids;
	size_t n = 0, i;
	char id[37];

	if ((ids = sched_ids(e, body, &n, cause)) == NULL)
		return ENG_INVALID;
	out = json_array();
	for (i = 0; i < n && rc == ENG_OK; i++) {
		if (sched_get(e, ids[i], &s) != 0) {
			eng_id_format(e, ENG_ID_SCHED, (uint64_t)ids[i], 0, id);
			*cause = xasprintf("schedule \"%s\" not found", id);
			rc = ENG_NOT_FOUND;
			break;
		}
		if ((rc = sched_owned(e, &s, cause)) == ENG_OK &&
		    (rc = sched_update_one(e, &s, body, now, cause)) == ENG_OK)
			json_array_append_new(out, sched_json(e, &s));
		store_sched_clear(&s);
	}
	free(ids);
	if (rc != ENG_OK) {
		json_decref(out);
		return rc;
	}
	*reply = out;
	return ENG_OK;
}

/* DELETE /v1/schedules. */
enum eng_status
eng_schedules_delete(struct eng *e, json_t *body, json_t **reply,
    char **cause)
{
	enum eng_status rc = ENG_OK;
	struct store_sched s;
	json_t *out;
	int64_t *ids;
	size_t n = 0, i;

	if ((ids = sched_ids(e, body, &n, cause)) == NULL)
		return ENG_INVALID;
	out = json_array();
	for (i = 0; i < n && rc == ENG_OK; i++) {
		if (sched_get(e, ids[i], &s) != 0)
			continue;
		if ((rc = sched_owned(e, &s, cause)) != ENG_OK) {
			store_sched_clear(&s);
			break;
		}
		json_array_append_new(out, sched_json(e, &s));
		store_sched_clear(&s);
		if (store_sched_delete(e->store, ids[i]) != 0) {
			*cause = xstrdup("store failure");
			rc = ENG_INTERNAL;
		}
	}
	free(ids);
	if (rc != ENG_OK) {
		json_decref(out);
		return rc;
	}
	*reply = out;
	return ENG_OK;
}

/*
 * The recipient keys of a list query's "recipients" filter, as a JSON
 * array (NULL when there is none, with *rc ENG_OK): Knock's SDK sends
 * user ids as recipients[]=u1&recipients[]=u2 and object references as
 * recipients[0][id]=..&recipients[0][collection]=.. (and ids among them as
 * recipients[1]=u1).
 */
static json_t *
sched_filter_rcpts(json_t *q, enum eng_status *rc, char **cause)
{
	json_t *keys = json_array(), *v, *x;
	const char *k, *id, *coll;
	char name[48], *text;
	size_t i;
	int n;

	*rc = ENG_OK;
	v = json_object_get(q, "recipients[]");
	if (v == NULL)
		v = json_object_get(q, "recipients");
	if (json_is_string(v))
		json_array_append_new(keys, json_string(json_string_value(v)));
	else
		json_array_foreach(v, i, x)
			json_array_append(keys, x);
	for (n = 0; n < 1000; n++) {
		snprintf(name, sizeof name, "recipients[%d]", n);
		id = json_string_value(json_object_get(q, name));
		if (id != NULL) {
			json_array_append_new(keys, json_string(id));
			continue;
		}
		snprintf(name, sizeof name, "recipients[%d][id]", n);
		id = json_string_value(json_object_get(q, name));
		snprintf(name, sizeof name, "recipients[%d][collection]", n);
		coll = json_string_value(json_object_get(q, name));
		if (id == NULL)
			break;
		text = eng_rcpt_key(coll, id);
		json_array_append_new(keys, json_string(text));
		free(text);
	}
	json_array_foreach(keys, i, x) {
		k = json_string_value(x);
		if (k == NULL || *k == '\0') {
			json_decref(keys);
			*cause = xstrdup("\"recipients\": expected recipient ids "
			    "or {id, collection} references");
			*rc = ENG_INVALID;
			return NULL;
		}
	}
	if (json_array_size(keys) == 0) {
		json_decref(keys);
		return NULL;
	}
	return keys;
}

/* A page of rows by workflow and/or recipient key; Knock's list shape. */
static enum eng_status
sched_list(struct eng *e, const char *wf, const char *rcpt, int top,
    json_t *q, json_t **reply, char **cause)
{
	const char *after = json_string_value(json_object_get(q, "after"));
	const char *ps = json_string_value(json_object_get(q, "page_size"));
	json_t *entries = json_array();
	struct store_sched_filter f;
	enum eng_status rc;
	uint64_t a = 0, b;
	int size = 50, n, i;
	char last[37] = "";
	struct store_sched *rows;

	if (ps != NULL && ((size = atoi(ps)) < 1 || size > 1000)) {
		json_decref(entries);
		*cause = xstrdup("\"page_size\" must be an integer 1..1000");
		return ENG_INVALID;
	}
	if (after != NULL && eng_id_parse(e, ENG_ID_SCHED, after, &a, &b)) {
		json_decref(entries);
		*cause = xstrdup("bad \"after\" cursor");
		return ENG_INVALID;
	}
	memset(&f, 0, sizeof f);
	f.workflow = wf;
	f.rcpt = rcpt;
	f.parent = SCHED_NONE;
	f.after = (int64_t)a;
	f.top = top;
	f.tenant = json_string_value(json_object_get(q, "tenant"));
	if ((f.rcpts = sched_filter_rcpts(q, &rc, cause)) == NULL &&
	    rc != ENG_OK) {
		json_decref(entries);
		return rc;
	}
	rows = xcalloc((size_t)size, sizeof *rows);
	n = (int)store_sched_list(e->store, &f, (size_t)size, rows);
	for (i = 0; i < n; i++) {
		json_array_append_new(entries, sched_json(e, &rows[i]));
		eng_id_format(e, ENG_ID_SCHED, (uint64_t)rows[i].seq, 0, last);
		store_sched_clear(&rows[i]);
	}
	free(rows);
	json_decref(f.rcpts);
	*reply = json_pack("{s:o, s:{s:s, s:o, s:n, s:i}}", "entries",
	    entries, "page_info", "__typename", "PageInfo", "after", n == size ?
	    json_string(last) : json_null(), "before", "page_size", size);
	return ENG_OK;
}

/* GET /v1/schedules (workflow, recipient, after, page_size). */
enum eng_status
eng_schedules_list(struct eng *e, json_t *q, json_t **reply, char **cause)
{
	return sched_list(e, json_string_value(json_object_get(q,
	    "workflow")), json_string_value(json_object_get(q, "recipient")),
	    1, q, reply, cause);
}

/* The workflows stored schedules name, with their row counts. */
json_t *
eng_schedules_workflows(struct eng *e)
{
	return store_sched_workflows(e->store);
}

/* GET /v1/schedules/{id}. */
enum eng_status
eng_schedule_get(struct eng *e, const char *id, json_t **reply,
    char **cause)
{
	struct store_sched s;
	uint64_t a, b;

	if (eng_id_parse(e, ENG_ID_SCHED, id, &a, &b) != 0 ||
	    sched_get(e, (int64_t)a, &s) != 0) {
		*cause = xasprintf("schedule \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	*reply = sched_json(e, &s);
	store_sched_clear(&s);
	return ENG_OK;
}

/* GET /v1/users/{id}/schedules and /v1/objects/{c}/{id}/schedules. */
enum eng_status
eng_schedules_of(struct eng *e, const char *collection, const char *id,
    json_t *q, json_t **reply, char **cause)
{
	char *key = eng_rcpt_key(collection, id);
	enum eng_status rc;

	rc = sched_list(e, json_string_value(json_object_get(q, "workflow")),
	    key, 0, q, reply, cause);
	free(key);
	return rc;
}

/* The next count fires of one (non-template) row after now, as JSON. */
static json_t *
sched_preview_row(struct eng *e, const struct store_sched *s, int count,
    int64_t now)
{
	struct tz_zone *z = sched_zone(e, s);
	struct tz_recur *r = sched_recur(e, s);
	json_t *fires = json_array(), *o;
	int64_t after, t;
	char *owned;
	int i;

	after = s->next != SCHED_NONE ? s->next - 1 : now - 1;
	if (s->last != SCHED_NONE && s->last > after)
		after = s->last;
	for (i = 0; i < count && !s->paused; i++) {
		if (sched_next_with(s, r, z, after, &t, NULL) != 0)
			break;
		json_array_append_new(fires, sched_iso(t));
		after = t;
	}
	o = json_pack("{s:o, s:s, s:s, s:o}", "recipient",
	    eng_rcpt_ref(s->rcpt), "timezone", sched_zone_name(e, s, &owned),
	    "dtstart", s->dtstart, "fires", fires);
	free(owned);
	return o;
}

/* sched_each callback: append a child's preview to the array in arg. */
static int
sched_preview_cb(struct eng *e, struct store_sched *s, void *arg)
{
	json_t *a = arg;
	int count = (int)json_integer_value(json_object_get(a, "count"));
	int64_t now = json_integer_value(json_object_get(a, "now"));

	json_array_append_new(json_object_get(a, "out"),
	    sched_preview_row(e, s, count, now));
	return 0;
}

/* The next count fires of schedule id per recipient. */
enum eng_status
eng_schedule_preview(struct eng *e, const char *id, int count, int64_t now,
    json_t **reply, char **cause)
{
	struct store_sched s;
	uint64_t a, b;
	json_t *out, *arg;

	if (eng_id_parse(e, ENG_ID_SCHED, id, &a, &b) != 0 ||
	    sched_get(e, (int64_t)a, &s) != 0) {
		*cause = xasprintf("schedule \"%.64s\" not found", id);
		return ENG_NOT_FOUND;
	}
	if (count < 1 || count > 10000) {
		store_sched_clear(&s);
		*cause = xstrdup("\"count\" must be 1..10000");
		return ENG_INVALID;
	}
	out = json_array();
	if (sched_is_template(&s)) {
		arg = json_pack("{s:i, s:I, s:O}", "count", count, "now",
		    (json_int_t)now, "out", out);
		sched_each(e, NULL, NULL, s.seq, sched_preview_cb, arg);
		json_decref(arg);
	} else
		json_array_append_new(out, sched_preview_row(e, &s, count,
		    now));
	*reply = json_pack("{s:s, s:s, s:o}", "schedule_id", id, "workflow",
	    s.workflow, "recipients", out);
	store_sched_clear(&s);
	return ENG_OK;
}

/* ---- hooks from recipients.c ---- */

/*
 * A user or object was deleted: their schedules go too (and, for an
 * object, its per-subscriber children).  Config-defined rows stay: they
 * are their files'.
 */
int
eng_sched_rcpt_deleted(struct eng *e, const char *rcpt)
{
	return store_sched_delete_rcpt(e->store, rcpt);
}

/* A recipient's time zone changed: re-plan their pending fires at once. */
void
eng_sched_rezone(struct eng *e, const char *rcpt, int64_t now)
{
	sched_each(e, NULL, rcpt, SCHED_NONE, sched_replan_cb, &now);
}

/* sched_each callback: give template s a child for the rcpt in arg. */
static int
sched_sub_added_cb(struct eng *e, struct store_sched *s, void *arg)
{
	const char *rcpt = json_string_value(json_object_get(arg, "rcpt"));
	int64_t now = json_integer_value(json_object_get(arg, "now"));

	if (!sched_is_template(s))
		return 0;
	/* Re-subscribing must not make a second child. */
	if (store_sched_delete_child(e->store, s->seq, rcpt) != 0)
		return -1;
	return sched_child_add(e, s, rcpt, now);
}

/* rcpt subscribed to object obj: it joins obj's schedules. */
void
eng_sched_sub_added(struct eng *e, const char *obj, const char *rcpt,
    int64_t now)
{
	json_t *arg = json_pack("{s:s, s:I}", "rcpt", rcpt, "now",
	    (json_int_t)now);

	sched_each(e, NULL, obj, SCHED_NONE, sched_sub_added_cb, arg);
	json_decref(arg);
}

/* sched_each callback: drop template s's child for the rcpt in arg. */
static int
sched_sub_removed_cb(struct eng *e, struct store_sched *s, void *arg)
{
	if (!sched_is_template(s))
		return 0;
	return store_sched_delete_child(e->store, s->seq, arg);
}

/* rcpt unsubscribed from object obj: it leaves obj's schedules. */
void
eng_sched_sub_removed(struct eng *e, const char *obj, const char *rcpt)
{
	sched_each(e, NULL, obj, SCHED_NONE, sched_sub_removed_cb,
	    (void *)(uintptr_t)rcpt);
}

/* ---- firing ---- */

/* The earliest next_fire_at of any schedule, or INT64_MAX. */
int64_t
eng_sched_next_due(struct eng *e)
{
	return store_sched_next(e->store);
}

/* Remember a fire's due instant for eng_fired_take. */
static void
sched_fired(struct eng *e, int64_t at)
{
	if (e->nfired >= ENG_FIRED_MAX)
		return;
	if (e->fired == NULL)
		e->fired = xcalloc(ENG_FIRED_MAX, sizeof *e->fired);
	e->fired[e->nfired++] = at;
}

/* Take the due instants of the fires made since the last take. */
size_t
eng_fired_take(struct eng *e, int64_t *out, size_t max)
{
	size_t n = e->nfired < max ? e->nfired : max;

	if (n == 0)
		return 0;
	memcpy(out, e->fired, n * sizeof *out);
	memmove(e->fired, e->fired + n, (e->nfired - n) * sizeof *out);
	e->nfired -= n;
	return n;
}

/*
 * Create the run of row s for occurrence at (in a savepoint); 0, or -1
 * with *err (the caller's to free) saying why.
 */
static int
sched_fire(struct eng *e, const struct store_sched *s, int64_t at, int64_t now,
    char **err)
{
	struct eng_source src = { "schedule", s->seq, at };
	json_t *body, *data = sched_json_text(s->data);
	enum eng_status rc;
	char *cause = NULL;
	int64_t seq;

	body = json_pack("{s:[o], s:o}", "recipients", eng_rcpt_ref(s->rcpt),
	    "data", data);
	if (s->actor != NULL)
		json_object_set_new(body, "actor", eng_rcpt_ref(s->actor));
	if (s->tenant != NULL)
		json_object_set_new(body, "tenant", json_string(s->tenant));
	eng_request_begin(e);
	rc = eng_trigger_start(e, s->workflow, body, now, &src, &seq, &cause);
	eng_request_end(e, rc == ENG_OK);
	json_decref(body);
	if (rc != ENG_OK) {
		char id[37], buf[200];

		eng_id_format(e, ENG_ID_SCHED, (uint64_t)s->seq, 0, id);
		snprintf(buf, sizeof buf, "<4>belfry: schedule %s: fire "
		    "failed: %.120s", id, cause ? cause : "error");
		eng_log_line(e, buf);
		*err = cause != NULL ? cause : xstrdup("error");
		e->stats.fires_failed++;
		return -1;
	}
	e->stats.fires++;
	sched_fired(e, at);
	return 0;
}

/* Add the gap skips sk to *total when they happened by now. */
static void
sched_gap_add(struct tz_recur_skips *total, const struct tz_recur_skips *sk,
    int64_t now)
{
	if (sk->count == 0 || sk->last > now)
		return;
	total->count += sk->count;
	if (total->last == SCHED_NONE || sk->last > total->last)
		total->last = sk->last;
}

/*
 * Handle one due row at now: walk the occurrences due at or before now,
 * fire the latest if within catchup_window, count the others as skipped,
 * and advance next_fire_at, all in the caller's transaction.  Occurrences
 * that dst_gap "skip" dropped before now are counted too: those before
 * next_fire_at since the row's last fire or skip (or its last change),
 * then those the walk passes.
 */
static void
sched_due(struct eng *e, struct store_sched *s, int64_t now)
{
	struct tz_zone *z = sched_zone(e, s);
	struct tz_recur *r = sched_recur(e, s);
	struct tz_recur_skips gaps = { 0, SCHED_NONE }, sk = { 0, 0 }, *skp;
	int64_t latest = s->next, n, skipped = 0, last_skipped = SCHED_NONE;
	int64_t next = SCHED_NONE, fired = SCHED_NONE, a;
	const char *reason = NULL;
	struct store_fire f;
	char *err = NULL;
	int walked = 0;

	/* Only dst_gap "skip" drops occurrences: the others pay nothing. */
	skp = r != NULL && s->gap != NULL && strcmp(s->gap, "skip") == 0 ?
	    &sk : NULL;
	if (skp != NULL) {
		a = s->updated - 1;
		if (s->last != SCHED_NONE && s->last > a)
			a = s->last;
		if (s->last_skipped != SCHED_NONE && s->last_skipped > a)
			a = s->last_skipped;
		if (a < s->next && sched_next_with(s, r, z, a, &n, skp) == 0 &&
		    n <= s->next)
			sched_gap_add(&gaps, &sk, now);
	}
	for (;;) {
		if (sched_next_with(s, r, z, latest, &n, skp) != 0) {
			sched_gap_add(&gaps, &sk, now);
			n = SCHED_NONE;
			break;
		}
		if (n > now)
			break;
		sched_gap_add(&gaps, &sk, now);
		skipped++;
		last_skipped = latest;
		if (++walked == SCHED_WALK_MAX && n < now - s->catchup) {
			/* Far behind: jump to the window, counted as one. */
			if (sched_next_with(s, r, z, now - s->catchup - 1, &n,
			    NULL) != 0) {
				n = SCHED_NONE;
				break;
			}
			if (n > now) {
				last_skipped = latest;
				latest = SCHED_NONE;
				break;
			}
		}
		latest = n;
	}
	next = n;
	if (latest != SCHED_NONE && latest >= now - s->catchup) {
		if (sched_fire(e, s, latest, now, &err) == 0)
			fired = latest;
	} else if (latest != SCHED_NONE) {
		skipped++;
		last_skipped = latest;
	}
	if (skipped > 0)
		reason = "catchup";
	if (gaps.count > 0 && (last_skipped == SCHED_NONE ||
	    gaps.last > last_skipped)) {
		last_skipped = gaps.last;
		reason = "dst_gap";
	}
	skipped += gaps.count;
	e->stats.fires_skipped += (uint64_t)skipped;
	f.next = next;
	f.fired = fired;
	f.skipped = skipped;
	f.last_skipped = last_skipped;
	f.reason = reason;
	f.error = err;
	store_sched_fired(e->store, s->seq, &f);
	free(err);
}

/* Fire up to max rows due at or before now, in time order; the count. */
int
eng_sched_run_due(struct eng *e, int64_t now, int max)
{
	struct store_sched *rows;
	int n, i;

	rows = xcalloc((size_t)max, sizeof *rows);
	n = (int)store_sched_due(e->store, now, (size_t)max, rows);
	for (i = 0; i < n; i++) {
		sched_due(e, &rows[i], now);
		store_sched_clear(&rows[i]);
	}
	free(rows);
	return n;
}

/* ---- config-defined schedules ---- */

/* Sync: drop the stored config schedules that the config no longer has. */
static int
sched_sync_drop(struct eng *e, json_t *want, json_t *have)
{
	const char *id;
	json_t *v;

	json_object_foreach(have, id, v) {
		if (json_object_get(want, id) != NULL)
			continue;
		if (store_sched_delete_config(e->store, id) != 0)
			return -1;
	}
	return 0;
}

/* Bring config-defined schedules into the store (see engine.h). */
int
eng_schedules_sync(struct eng *e, int64_t now, char **cause)
{
	json_t *have, *want = json_object(), *def, *copy;
	json_t *rows;
	const char *id, *old;
	enum eng_status rc;
	char *text, *err = NULL;
	size_t i;
	int ret = 0;

	assert(store_in_txn(e->store));
	have = store_sched_configs(e->store);
	json_array_foreach(e->cfg ? e->cfg->schedules : NULL, i, def) {
		id = json_string_value(json_object_get(def, "id"));
		json_object_set_new(want, id, json_true());
		text = eng_json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
		old = json_string_value(json_object_get(have, id));
		rows = store_sched_config_rows(e->store, id);
		/* Unchanged, with a row for each recipient: nothing to do. */
		if (old != NULL && strcmp(old, text) == 0 &&
		    json_object_size(rows) == json_array_size(
		    json_object_get(def, "recipients"))) {
			json_decref(rows);
			free(text);
			continue;
		}
		copy = json_deep_copy(def);
		json_object_del(copy, "id");
		eng_request_begin(e);
		rc = sched_create(e, copy, now, "config", id, text, rows, NULL,
		    &err);
		eng_request_end(e, rc == ENG_OK);
		json_decref(rows);
		if (rc != ENG_OK && ret == 0) {
			*cause = xasprintf("schedule \"%s\": %s", id,
			    err ? err : "store failure");
			ret = -1;
		}
		free(err);
		err = NULL;
		json_decref(copy);
		free(text);
	}
	if (sched_sync_drop(e, want, have) != 0 && ret == 0) {
		*cause = xstrdup("store failure");
		ret = -1;
	}
	json_decref(have);
	json_decref(want);
	return ret;
}
