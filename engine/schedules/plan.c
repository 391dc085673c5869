/*
 * Schedule rows and their plan: the zone a row fires in, its parsed
 * recurrence (cached), and its next fire.
 *
 * Zone: the recipient's "timezone", else the schedule's "timezone", else
 * belfry.conf's default_timezone, else UTC.  DTSTART is the wall time of
 * scheduled_at (else of the row's creation) in that zone, recomputed with
 * the zone whenever the row is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schedules/sched_int.h"

/* Load row seq; 0, or -1 if there is none. */
int
sched_get(struct eng *e, int64_t seq, struct store_sched *s)
{
	memset(s, 0, sizeof *s);
	return store_sched_get(e->store, seq, s) ? 0 : -1;
}

/* Whether a row is a per-subscriber template (it fans out, never fires). */
int
sched_is_template(const struct store_sched *s)
{
	return s->parent == SCHED_NONE && s->per_sub;
}

/* The name of the zone a row fires in (see the top of the file). */
const char *
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
struct tz_zone *
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
struct tz_recur *
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
int
sched_next_with(const struct store_sched *s, struct tz_recur *r,
    struct tz_zone *z, int64_t after, int64_t *next,
    struct tz_recur_skips *skips)
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
void
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
int
sched_store(struct eng *e, struct store_sched *s)
{
	return store_sched_save(e->store, s);
}
