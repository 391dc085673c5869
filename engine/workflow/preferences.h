/*
 * engine/preferences.h: Knock preference sets -- validation, merging by
 * priority and the send decision for one channel step.  Private to
 * engine/; the precedence rules are documented at the top of
 * preferences.c.
 */
#ifndef BELFRY_ENGINE_PREFERENCES_H
#define BELFRY_ENGINE_PREFERENCES_H

#include <stddef.h>

#include <jansson.h>

/*
 * Validate a preference set (PUT /v1/users/{id}/preferences/{set}); 0 or -1
 * with *cause naming the bad key ("categories.marketing.channel_types.fax:
 * unknown channel type").
 */
int eng_pref_check(json_t *set, char **cause);

/*
 * Merge sets in priority order (sets[0] highest: the recipient's per-tenant
 * set, then the tenant's default set, then the environment default; NULL
 * entries are skipped); a key present in a higher set wins, deep for
 * categories/workflows objects.  Returns a new reference holding only
 * workflows, categories, channel_types and channels.
 */
json_t *eng_pref_merge(json_t *const sets[], size_t n);

/*
 * Decide whether a channel step may send: 1 send, 0 blocked.  *rule (caller
 * frees, may be NULL) names the deciding rule: the blocking one
 * ("categories.marketing=false", "channels.ops-hook.conditions[0]"), or
 * "opted in (default)" when nothing applied, or "opted in (R)" with R the
 * last rule that allowed.  merged, categories (an array of strings),
 * workflow_key, channel_type, channel_name and cond_ctx may each be NULL.
 */
int eng_pref_decide(json_t *merged, const char *workflow_key,
    json_t *categories, const char *channel_type, const char *channel_name,
    json_t *cond_ctx, char **rule);

#endif
