/*
 * engine/workflow/preferences.c: Knock preference sets -- validation,
 * merging of the recipient's, tenant's and environment's sets, and the
 * send decision for one channel step.
 *
 * A set has optional workflows and categories (each key: a boolean or
 * {channel_types, conditions}), channel_types (email, sms, push, chat,
 * in_app_feed, http: a boolean or {conditions}) and channels (a channel
 * name: a boolean or {conditions}).
 *
 * Precedence.  Anything unset is opted in, and every setting that applies
 * must allow: the first that blocks decides (Knock: "if ANY preference
 * related to a given channel step evaluates to false, we will not send").
 * For a step on channel C of type T in workflow W with categories K1..Kn
 * the settings are consulted in this order:
 *   1. workflows.W: false blocks every channel; an object's conditions must
 *      hold, then its channel_types.T (a boolean or {conditions}).
 *   2. categories.K1 .. categories.Kn, in the order given, each like
 *      workflows.W: one false category blocks even when others are true.
 *      A category the workflow does not have is not consulted.
 *   3. The channel level: channels.C, when present, replaces
 *      channel_types.T whatever their values -- channels.C=true sends
 *      although channel_types.T is false, channels.C=false blocks although
 *      it is true -- else channel_types.T.  A channel entry replaces only
 *      the top-level channel_types: workflows.W.channel_types.T and the
 *      categories' channel_types, being scoped to W and K, still apply.
 * A setting is true, false or {conditions: [...]} (ANDed, evaluated in the
 * run's condition context, see conditions.c); an object without conditions
 * allows.  Evaluating never fails: in an unchecked set, a value of any
 * other type is ignored as unset, and so is a non-array conditions.
 *
 * Merging.  Sets are laid from the lowest priority up.  In channel_types
 * and channels a key of a higher set replaces the lower value.  In
 * workflows and categories a higher boolean replaces, and so does a higher
 * object over a lower boolean; a higher object over a lower object is
 * merged: its channel_types keys replace the lower ones one by one, and its
 * conditions replace the lower conditions (arrays are not concatenated).
 * A null section counts as absent.
 *
 * Checking.  The top level may hold workflows, categories, channel_types
 * and channels (objects, or null), commercial_subscribed (a boolean or
 * {conditions}, or null: kept and shown, not consulted, see docs/api.md); "id" and "__typename" (found in a GET's
 * reply) are ignored, and "__persistence_strategy__" must be "merge" or
 * "replace" (the API applies it).  Any other key, an unknown channel type,
 * an empty name, a value that is neither a boolean nor an object, an
 * unknown key inside an object, and bad conditions are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tz/tz.h"
#include "engine/workflow/conditions.h"
#include "engine/workflow/preferences.h"

#define PREF_NITEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const pref_channel_types[] = {
	"email", "sms", "push", "chat", "in_app_feed", "http"
};

/* The state of one decision. */
struct pref_eval {
	json_t *ctx;  /* condition context, may be NULL */
	char *allow;  /* the last rule that allowed, or NULL */
	char *block;  /* the rule that blocked, or NULL */
};

/* A new jansson value, or abort like xmalloc: only OOM makes it NULL. */
static json_t *
pref_need(json_t *v)
{
	if (v == NULL)
		fatalx("out of memory building JSON");
	return v;
}

/* Whether name is one of Knock's channel types. */
static int
pref_is_channel_type(const char *name)
{
	size_t i;

	for (i = 0; i < PREF_NITEMS(pref_channel_types); i++) {
		if (strcmp(pref_channel_types[i], name) == 0)
			return 1;
	}
	return 0;
}

/* Check a conditions array, the cause prefixed by path. */
static int
pref_check_conds(json_t *conds, const char *path, char **cause)
{
	char *why = NULL;

	if (eng_cond_check(conds, &why) == 0)
		return 0;
	*cause = xasprintf("%s.%s", path, why);
	free(why);
	return -1;
}

/* Check a channel type or channel setting: a boolean or {conditions}. */
static int
pref_check_setting(json_t *v, const char *path, char **cause)
{
	const char *key;
	json_t *val;

	if (json_is_boolean(v))
		return 0;
	if (!json_is_object(v)) {
		*cause = xasprintf("%s: must be a boolean or an object", path);
		return -1;
	}
	json_object_foreach(v, key, val) {
		if (strcmp(key, "conditions") != 0) {
			*cause = xasprintf("%s.%s: unknown key", path, key);
			return -1;
		}
		if (pref_check_conds(val, path, cause) != 0)
			return -1;
	}
	return 0;
}

/* Check a channel_types object found at path. */
static int
pref_check_types(json_t *types, const char *path, char **cause)
{
	const char *key;
	json_t *val;
	char *sub;
	int rc;

	if (!json_is_object(types)) {
		*cause = xasprintf("%s: must be an object", path);
		return -1;
	}
	json_object_foreach(types, key, val) {
		sub = xasprintf("%s.%s", path, key);
		if (!pref_is_channel_type(key)) {
			*cause = xasprintf("%s: unknown channel type", sub);
			rc = -1;
		} else
			rc = pref_check_setting(val, sub, cause);
		free(sub);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Check a workflow or category entry: a boolean or an object. */
static int
pref_check_entry(json_t *v, const char *path, char **cause)
{
	const char *key;
	json_t *val;
	char *sub;
	int rc;

	if (json_is_boolean(v))
		return 0;
	if (!json_is_object(v)) {
		*cause = xasprintf("%s: must be a boolean or an object", path);
		return -1;
	}
	json_object_foreach(v, key, val) {
		if (strcmp(key, "conditions") == 0)
			rc = pref_check_conds(val, path, cause);
		else if (strcmp(key, "channel_types") == 0) {
			sub = xasprintf("%s.channel_types", path);
			rc = pref_check_types(val, sub, cause);
			free(sub);
		} else {
			*cause = xasprintf("%s.%s: unknown key", path, key);
			rc = -1;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Check a section (workflows, categories, channels) whose values fn checks. */
static int
pref_check_section(json_t *sec, const char *name,
    int (*fn)(json_t *, const char *, char **), char **cause)
{
	const char *key;
	json_t *val;
	char *sub;
	int rc;

	if (json_is_null(sec))
		return 0;
	if (!json_is_object(sec)) {
		*cause = xasprintf("%s: must be an object", name);
		return -1;
	}
	json_object_foreach(sec, key, val) {
		if (*key == '\0') {
			*cause = xasprintf("%s: empty name", name);
			return -1;
		}
		sub = xasprintf("%s.%s", name, key);
		rc = fn(val, sub, cause);
		free(sub);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Validate a preference set; 0 or -1 with *cause naming the bad key. */
int
eng_pref_check(json_t *set, char **cause)
{
	const char *key, *s;
	json_t *v;

	if (!json_is_object(set)) {
		*cause = xstrdup("preference set: must be an object");
		return -1;
	}
	json_object_foreach(set, key, v) {
		if (strcmp(key, "workflows") == 0 ||
		    strcmp(key, "categories") == 0) {
			if (pref_check_section(v, key, pref_check_entry,
			    cause) != 0)
				return -1;
		} else if (strcmp(key, "channels") == 0) {
			if (pref_check_section(v, key, pref_check_setting,
			    cause) != 0)
				return -1;
		} else if (strcmp(key, "channel_types") == 0) {
			if (!json_is_null(v) &&
			    pref_check_types(v, key, cause) != 0)
				return -1;
		} else if (strcmp(key, "commercial_subscribed") == 0) {
			if (!json_is_null(v) &&
			    pref_check_setting(v, key, cause) != 0)
				return -1;
		} else if (strcmp(key, "__persistence_strategy__") == 0) {
			s = json_string_value(v);
			if (s == NULL || (strcmp(s, "merge") != 0 &&
			    strcmp(s, "replace") != 0)) {
				*cause = xasprintf("%s: must be \"merge\" or "
				    "\"replace\"", key);
				return -1;
			}
		} else if (strcmp(key, "id") != 0 &&
		    strcmp(key, "__typename") != 0) {
			*cause = xasprintf("%s: unknown key", key);
			return -1;
		}
	}
	return 0;
}

/* The object out[name], created empty when absent. */
static json_t *
pref_section(json_t *out, const char *name)
{
	json_t *sec;

	if ((sec = json_object_get(out, name)) == NULL) {
		sec = pref_need(json_object());
		json_object_set_new(out, name, sec);
	}
	return sec;
}

/* Lay src's keys over dst's, each replacing the lower value. */
static void
pref_overlay(json_t *dst, json_t *src)
{
	const char *key;
	json_t *val;

	json_object_foreach(src, key, val)
		json_object_set_new(dst, key, pref_need(json_deep_copy(val)));
}

/* A workflow or category entry hi laid over lo: a new reference. */
static json_t *
pref_merge_entry(json_t *lo, json_t *hi)
{
	json_t *out, *val, *cur;
	const char *key;

	if (!json_is_object(lo) || !json_is_object(hi))
		return pref_need(json_deep_copy(hi));
	out = pref_need(json_deep_copy(lo));
	json_object_foreach(hi, key, val) {
		cur = json_object_get(out, key);
		if (strcmp(key, "channel_types") == 0 && json_is_object(cur) &&
		    json_is_object(val))
			pref_overlay(cur, val);
		else
			json_object_set_new(out, key,
			    pref_need(json_deep_copy(val)));
	}
	return out;
}

/* Lay set's workflows or categories over out's, merging objects. */
static void
pref_merge_deep(json_t *out, json_t *set, const char *name)
{
	json_t *src, *dst, *val;
	const char *key;

	if (!json_is_object(src = json_object_get(set, name)))
		return;
	dst = pref_section(out, name);
	json_object_foreach(src, key, val) {
		json_object_set_new(dst, key,
		    pref_merge_entry(json_object_get(dst, key), val));
	}
}

/* Lay set's channel_types or channels over out's, key by key. */
static void
pref_merge_flat(json_t *out, json_t *set, const char *name)
{
	json_t *src;

	if (!json_is_object(src = json_object_get(set, name)))
		return;
	pref_overlay(pref_section(out, name), src);
}

/* Merge sets, sets[0] highest; a new reference. */
json_t *
eng_pref_merge(json_t *const sets[], size_t n)
{
	json_t *out = pref_need(json_object());
	size_t i = n;

	while (i-- > 0) {
		if (!json_is_object(sets[i]))
			continue;
		pref_merge_deep(out, sets[i], "workflows");
		pref_merge_deep(out, sets[i], "categories");
		pref_merge_flat(out, sets[i], "channel_types");
		pref_merge_flat(out, sets[i], "channels");
	}
	return out;
}

/* Whether v is a setting at all: a boolean or an object. */
static int
pref_is_set(json_t *v)
{
	return json_is_boolean(v) || json_is_object(v);
}

/* Remember rule (taking it) as the last one that allowed. */
static void
pref_allow(struct pref_eval *pe, char *rule)
{
	free(pe->allow);
	pe->allow = rule;
}

/*
 * Apply setting v found at path: 1 allows (or is unset), 0 blocks and sets
 * pe->block.  An object without conditions records no allowing rule when it
 * is only a container (a workflow or category entry).
 */
static int
pref_apply(struct pref_eval *pe, json_t *v, const char *path, int container)
{
	json_t *conds;
	size_t failed = 0;

	if (json_is_boolean(v)) {
		if (json_is_true(v)) {
			pref_allow(pe, xasprintf("%s=true", path));
			return 1;
		}
		pe->block = xasprintf("%s=false", path);
		return 0;
	}
	if (!json_is_object(v))
		return 1;
	conds = json_object_get(v, "conditions");
	if (!json_is_array(conds) || json_array_size(conds) == 0) {
		if (!container)
			pref_allow(pe, xstrdup(path));
		return 1;
	}
	if (!eng_cond_eval(conds, pe->ctx, &failed)) {
		pe->block = xasprintf("%s.conditions[%zu]", path, failed);
		return 0;
	}
	pref_allow(pe, xasprintf("%s.conditions", path));
	return 1;
}

/* Apply a workflow or category entry, then its channel_types.type. */
static int
pref_entry(struct pref_eval *pe, json_t *v, const char *path,
    const char *type)
{
	json_t *s;
	char *sub;
	int ok;

	if (!pref_apply(pe, v, path, 1))
		return 0;
	if (type == NULL || !json_is_object(v))
		return 1;
	s = json_object_get(json_object_get(v, "channel_types"), type);
	if (!pref_is_set(s))
		return 1;
	sub = xasprintf("%s.channel_types.%s", path, type);
	ok = pref_apply(pe, s, sub, 0);
	free(sub);
	return ok;
}

/* Decide whether a channel step may send: 1 send, 0 blocked, *rule why. */
int
eng_pref_decide(json_t *merged, const char *workflow_key,
    json_t *categories, const char *channel_type, const char *channel_name,
    json_t *cond_ctx, char **rule)
{
	struct pref_eval pe = { cond_ctx, NULL, NULL };
	json_t *v, *cats, *cat;
	char *path;
	size_t i;
	int ok = 1;

	if (workflow_key != NULL) {
		v = json_object_get(json_object_get(merged, "workflows"),
		    workflow_key);
		if (pref_is_set(v)) {
			path = xasprintf("workflows.%s", workflow_key);
			ok = pref_entry(&pe, v, path, channel_type);
			free(path);
		}
	}
	if (ok && json_is_array(categories)) {
		cats = json_object_get(merged, "categories");
		json_array_foreach(categories, i, cat) {
			if (!json_is_string(cat))
				continue;
			v = json_object_get(cats, json_string_value(cat));
			if (!pref_is_set(v))
				continue;
			path = xasprintf("categories.%s",
			    json_string_value(cat));
			ok = pref_entry(&pe, v, path, channel_type);
			free(path);
			if (!ok)
				break;
		}
	}
	if (ok) {
		v = NULL;
		if (channel_name != NULL) {
			v = json_object_get(json_object_get(merged, "channels"),
			    channel_name);
		}
		if (pref_is_set(v))
			path = xasprintf("channels.%s", channel_name);
		else if (channel_type != NULL && pref_is_set(v = json_object_get(
		    json_object_get(merged, "channel_types"), channel_type)))
			path = xasprintf("channel_types.%s", channel_type);
		else
			path = NULL;
		if (path != NULL) {
			ok = pref_apply(&pe, v, path, 0);
			free(path);
		}
	}

	if (rule != NULL) {
		if (!ok) {
			*rule = pe.block;
			pe.block = NULL;
		} else if (pe.allow != NULL)
			*rule = xasprintf("opted in (%s)", pe.allow);
		else
			*rule = xstrdup("opted in (default)");
	}
	free(pe.allow);
	free(pe.block);
	return ok;
}
