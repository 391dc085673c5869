/*
 * Private to engine/schedules/: recurring (or one-off) triggers of a
 * workflow for one recipient each, fired in the recipient's local time.
 *
 * One row per (schedule, recipient): a POST with N recipients makes N rows,
 * each with its own id.  A schedule aimed at an object fires for the object
 * itself, as Knock's do (the trigger then fans out to its subscribers in
 * the object's zone).  With "per_subscriber": true it is instead a template
 * row that never fires by itself; it is materialised as one child row per
 * subscriber (rows.c).  Config-defined rows (source "config") belong to
 * their files (sync.c).  The files: plan.c (zone, recurrence, next fire),
 * def.c (checked definitions), rows.c (writing rows and children),
 * json.c (Knock's shapes), api.c (the API), hooks.c (recipient changes),
 * fire.c (due rows, catch-up), sync.c (config files).
 */
#ifndef BELFRY_SCHED_INT_H
#define BELFRY_SCHED_INT_H

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

/* plan.c: rows, their zone, recurrence and next fire. */
int sched_get(struct eng *e, int64_t seq, struct store_sched *s);
int sched_is_template(const struct store_sched *s);
const char *sched_zone_name(struct eng *e, const struct store_sched *s,
    char **owned);
struct tz_zone *sched_zone(struct eng *e, const struct store_sched *s);
struct tz_recur *sched_recur(struct eng *e, const struct store_sched *s);
int sched_next_with(const struct store_sched *s, struct tz_recur *r,
    struct tz_zone *z, int64_t after, int64_t *next,
    struct tz_recur_skips *skips);
void sched_plan(struct eng *e, struct store_sched *s, int64_t now);
int sched_store(struct eng *e, struct store_sched *s);

/* def.c: checked definitions. */
void sched_def_clear(struct sched_def *d);
enum eng_status sched_check(const struct eng_config *c, json_t *def,
    struct sched_def *d, const char **field, char **cause);
enum eng_status sched_check_rcpts(json_t *def, char **cause);

/* rows.c: writing rows from definitions, and their children. */
char *sched_rcpt(struct eng *e, json_t *r, int64_t now, enum eng_status *rc,
    char **cause);
char *sched_tenant(struct eng *e, json_t *v, int64_t now,
    enum eng_status *rc, char **cause);
void sched_fill(struct store_sched *s, const struct sched_def *d,
    const char *actor, const char *tenant);
int sched_child_add(struct eng *e, const struct store_sched *t,
    const char *rcpt, int64_t now);
int sched_each(struct eng *e, const char *wf, const char *rcpt,
    int64_t parent, int (*fn)(struct eng *, struct store_sched *, void *),
    void *arg);
int sched_replan_cb(struct eng *e, struct store_sched *s, void *arg);
int sched_write(struct eng *e, struct store_sched *s, int was_template,
    int64_t now);
enum eng_status sched_owned(struct eng *e, const struct store_sched *s,
    char **cause);
enum eng_status sched_create(struct eng *e, json_t *def, int64_t now,
    const char *source, const char *config_id, const char *deftext,
    json_t *existing, json_t *out, char **cause);

/* json.c: Knock's shapes. */
json_t *sched_iso(int64_t t);
json_t *sched_json_text(const char *s);
json_t *sched_json(struct eng *e, const struct store_sched *s);
json_t *sched_def_json(const struct store_sched *s);

#endif
