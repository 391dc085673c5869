/*
 * engine/conditions.h: Knock conditions ({variable, operator, argument},
 * ANDed) for step, channel and preference conditions.  Private to engine/;
 * the semantics are documented at the top of conditions.c.
 */
#ifndef BELFRY_ENGINE_CONDITIONS_H
#define BELFRY_ENGINE_CONDITIONS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Validate a conditions array [{variable, operator, argument}] at load/API
 * time; 0 or -1 with *cause naming the bad entry ("conditions[1]: ...").
 */
int eng_cond_check(json_t *conditions, char **cause);

/*
 * eng_cond_check for a source's event mapping: every variable is a path
 * under "event", the event as the source sent it.
 */
int eng_cond_check_event(json_t *conditions, char **cause);

/*
 * Evaluate an array of conditions, ANDed, against ctx (a JSON object whose
 * keys are the path roots: "data", "recipient", "actor", "tenant", "refs",
 * or "event" for a source's);
 * returns 1 if all hold, 0 otherwise, with *failed (may be NULL) set to the
 * index of the first failing condition.  NULL conditions hold; a NULL ctx
 * is an empty one.  Never fails on unchecked input: a malformed condition
 * does not hold.
 */
int eng_cond_eval(json_t *conditions, json_t *ctx, size_t *failed);

/*
 * What an evaluation may ask beyond its context: member(arg, audience)
 * answers 1 when the recipient evaluated for is a member of audience.
 */
struct eng_cond_env {
	int (*member)(void *arg, const char *audience);
	void *arg;
};

/* eng_cond_eval with env (NULL: no one is an audience member). */
int eng_cond_eval_env(json_t *conditions, json_t *ctx,
    const struct eng_cond_env *env, size_t *failed);

/* An RFC 3339 date-time (any offset) as seconds since the epoch; 0 or -1. */
int eng_time_parse(const char *s, int64_t *t);

#endif
