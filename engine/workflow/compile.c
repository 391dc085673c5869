/*
 * The workflow compiler: a workflows/NAME.json file checked and compiled
 * into a flat program of steps (branches become jumps, so a run's
 * position is an index into it), with its templates parsed and its
 * conditions checked.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/workflow/workflow_int.h"
#include "engine/workflow/conditions.h"
#include "engine/workflow/template.h"

/* The channel called name, or NULL. */
static struct eng_channel *
cfg_channel(struct eng_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_channels; i++)
		if (strcmp(c->channels[i].name, name) == 0)
			return &c->channels[i];
	return NULL;
}

#define CFG_MAX_BUTTONS 3

/*
 * A channel step's "buttons" (the feed's action buttons): 1 to 3 of
 * {"name", "label", "action"}, label and action templates, parsed into
 * s->buttons (label, action of each in turn).
 */
static int
cfg_buttons(const struct cfg_file *f, const char *path, json_t *v,
    struct eng_step *s, char **cause)
{
	static const char *const keys[] = { "name", "label", "action", NULL };
	static const char *const parts[] = { "label", "action" };
	char p[512], *tc = NULL;
	json_t *b, *t;
	size_t i, j;

	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CFG_MAX_BUTTONS)
		return cfg_error(f, path, cause, "step \"%s\": \"buttons\" "
		    "must be 1 to %d of {\"name\", \"label\", \"action\"}",
		    s->ref, CFG_MAX_BUTTONS);
	s->buttons = xcalloc(2 * json_array_size(v), sizeof *s->buttons);
	json_array_foreach(v, i, b) {
		cfg_fmt(p, sizeof p, "%s[%zu]", path, i);
		if (!json_is_object(b))
			return cfg_error(f, p, cause, "step \"%s\": a button "
			    "is {\"name\", \"label\", \"action\"}", s->ref);
		if (cfg_keys(f, p, b, keys, cause) != 0)
			return -1;
		if (!json_is_string(json_object_get(b, "name")))
			return cfg_error(f, p, cause, "step \"%s\": a button "
			    "needs \"name\"", s->ref);
		for (j = 0; j < 2; j++) {
			t = json_object_get(b, parts[j]);
			if (!json_is_string(t))
				return cfg_error(f, p, cause, "step \"%s\": a "
				    "button needs \"%s\"", s->ref, parts[j]);
			if ((s->buttons[s->nbuttons] = eng_template_parse(
			    json_string_value(t), &tc)) == NULL) {
				cfg_error(f, p, cause, "step \"%s\": %s",
				    s->ref, tc);
				free(tc);
				return -1;
			}
			s->nbuttons++;
		}
	}
	return 0;
}

/* One channel step of a workflow. */
static int
cfg_step_channel(const struct cfg_file *f, const char *path, json_t *o,
    struct eng_config *c, struct eng_step *s, char **cause)
{
	static const char *const keys[] = { "ref", "type", "channel",
		"template", "name", "description", "conditions", NULL };
	const char *name, *k;
	char p[512], *tc = NULL;
	json_t *t, *v;
	size_t n = 0;

	if (cfg_keys(f, path, o, keys, cause) != 0)
		return -1;
	cfg_fmt(p, sizeof p, "%s.channel", path);
	name = json_string_value(json_object_get(o, "channel"));
	if (name == NULL)
		return cfg_error(f, path, cause, "step \"%s\": a channel step "
		    "needs \"channel\"", s->ref);
	if ((s->channel = cfg_channel(c, name)) == NULL)
		return cfg_error(f, p, cause, "step \"%s\": no channel \"%s\" "
		    "in belfry.conf", s->ref, name);
	t = json_object_get(o, "template");
	cfg_fmt(p, sizeof p, "%s.template", path);
	if (t == NULL || !json_is_object(t) || json_object_size(t) == 0)
		return cfg_error(f, t ? p : path, cause, "step \"%s\": needs "
		    "\"template\": {\"markdown\"|\"text\"|\"html\"|"
		    "\"body\"|\"subject\": \"...\"}", s->ref);
	json_object_foreach(t, k, v) {
		cfg_fmt(p, sizeof p, "%s.template.%s", path, k);
		if (strcmp(k, "buttons") == 0) {
			if (cfg_buttons(f, p, v, s, cause) != 0)
				return -1;
			continue;
		}
		if (strcmp(k, "markdown") != 0 && strcmp(k, "text") != 0 &&
		    strcmp(k, "html") != 0 && strcmp(k, "body") != 0 &&
		    strcmp(k, "subject") != 0 && strcmp(k, "action_url") != 0)
			return cfg_error(f, p, cause, "step \"%s\": unknown "
			    "template part \"%s\"", s->ref, k);
		if (!json_is_string(v))
			return cfg_error(f, p, cause, "step \"%s\": template "
			    "part \"%s\" must be a string", s->ref, k);
		if ((s->parts[n] = eng_template_parse(json_string_value(v),
		    &tc)) == NULL) {
			cfg_error(f, p, cause, "step \"%s\": %s", s->ref, tc);
			free(tc);
			return -1;
		}
		n++;
	}
	if (strcmp(s->channel->type, "http") == 0 &&
	    json_object_get(t, "body") == NULL)
		return cfg_error(f, path, cause, "step \"%s\": an http channel "
		    "step needs \"template\": {\"body\": \"...\"}", s->ref);
	if (strcmp(s->channel->type, "email") == 0 &&
	    (json_object_get(t, "subject") == NULL || (json_object_get(t,
	    "html") == NULL && json_object_get(t, "text") == NULL)))
		return cfg_error(f, path, cause, "step \"%s\": an email channel "
		    "step needs \"template\": {\"subject\": \"...\", "
		    "\"html\" and/or \"text\": \"...\"}", s->ref);
	s->template = json_incref(t);
	return 0;
}

/*
 * A duration: a number of seconds, {"weeks"|"days"|"hours"|"minutes"|
 * "seconds": n, ...} or Knock's {"unit": "minutes", "value": n}; -1 if v
 * is none of those or over 365 days.
 */
int64_t
eng_duration(json_t *v)
{
	static const struct { const char *k; int64_t s; } units[] = {
		{ "weeks", 604800 }, { "days", 86400 }, { "hours", 3600 },
		{ "minutes", 60 }, { "seconds", 1 } };
	int64_t total = 0;
	const char *k;
	json_t *n;
	size_t i;

	if (json_is_integer(v))
		total = json_integer_value(v);
	else if (json_is_object(v) && json_object_size(v) == 2 &&
	    json_is_string(json_object_get(v, "unit"))) {
		/* Knock's form: {"unit": "minutes", "value": 5}. */
		n = json_object_get(v, "value");
		k = json_string_value(json_object_get(v, "unit"));
		for (i = 0; i < 5 && strcmp(units[i].k, k) != 0; i++)
			;
		if (i == 5 || !json_is_integer(n) ||
		    json_integer_value(n) < 0 ||
		    json_integer_value(n) > 366 * 86400)
			return -1;
		total = json_integer_value(n) * units[i].s;
	} else if (json_is_object(v) && json_object_size(v) > 0) {
		json_object_foreach(v, k, n) {
			for (i = 0; i < 5 && strcmp(units[i].k, k) != 0; i++)
				;
			if (i == 5 || !json_is_integer(n) ||
			    json_integer_value(n) < 0 ||
			    json_integer_value(n) > 366 * 86400)
				return -1;
			total += json_integer_value(n) * units[i].s;
		}
	} else
		return -1;
	return total < 0 || total > 365 * 86400 ? -1 : total;
}

/* A data path ("data.x.y" or "x.y") as the path below data. */
static char *
cfg_data_path(const char *s)
{
	return xstrdup(strncmp(s, "data.", 5) == 0 ? s + 5 : s);
}

/* The shared timing keys of delay, batch and throttle steps. */
static int
cfg_step_timing(const struct cfg_file *f, const char *path, json_t *o,
    const char *fixed, struct eng_step *s, int required, char **cause)
{
	json_t *v = json_object_get(o, fixed);
	const char *k = json_string_value(json_object_get(o,
	    "duration_key"));
	char p[512];

	cfg_fmt(p, sizeof p, "%s.%s", path, fixed);
	s->duration = -1;
	if (v != NULL && (s->duration = eng_duration(v)) <= 0)
		return cfg_error(f, p, cause, "step \"%s\": \"%s\" must be a "
		    "positive number of seconds or {\"days\"|\"hours\"|"
		    "\"minutes\"|\"seconds\": n} of at most 365 days", s->ref,
		    fixed);
	if (k != NULL)
		s->duration_key = cfg_data_path(k);
	if (required && v == NULL && k == NULL)
		return cfg_error(f, path, cause, "step \"%s\": needs \"%s\" or "
		    "\"duration_key\"", s->ref, fixed);
	return 0;
}

/* One delay, batch or throttle step. */
static int
cfg_step_wait(const struct cfg_file *f, const char *path, json_t *o,
    struct eng_step *s, char **cause)
{
	static const char *const dkeys[] = { "ref", "type", "name",
		"description", "duration", "duration_key", NULL };
	static const char *const bkeys[] = { "ref", "type", "name",
		"description", "window", "duration_key", "window_type",
		"max_window", "window_rule", "batch_key", "max_activities",
		"render_limit", "order", NULL };
	static const char *const tkeys[] = { "ref", "type", "name",
		"description", "window", "duration_key", "threshold",
		"throttle_key", NULL };
	const char *wt, *ord;
	char p[512], *rc = NULL;
	json_t *v;

	if (s->kind == STEP_DELAY)
		return cfg_keys(f, path, o, dkeys, cause) != 0 ? -1 :
		    cfg_step_timing(f, path, o, "duration", s, 1, cause);
	if (s->kind == STEP_THROTTLE) {
		if (cfg_keys(f, path, o, tkeys, cause) != 0 ||
		    cfg_step_timing(f, path, o, "window", s, 1, cause) != 0)
			return -1;
		v = json_object_get(o, "threshold");
		s->threshold = v ? (int)json_integer_value(v) : 1;
		if (v != NULL && (!json_is_integer(v) || s->threshold < 1 ||
		    s->threshold > 1000000)) {
			cfg_fmt(p, sizeof p, "%s.threshold", path);
			return cfg_error(f, p, cause, "step \"%s\": "
			    "\"threshold\" must be an integer >= 1", s->ref);
		}
		if ((wt = json_string_value(json_object_get(o,
		    "throttle_key"))) != NULL)
			s->throttle_key = cfg_data_path(wt);
		return 0;
	}
	if (cfg_keys(f, path, o, bkeys, cause) != 0)
		return -1;
	v = json_object_get(o, "window_rule");
	if (v != NULL) {
		char *js = eng_json_dumps(v, JSON_COMPACT);

		s->window_rule = tz_repeats_to_rrule(js, &rc);
		free(js);
		if (s->window_rule == NULL) {
			cfg_fmt(p, sizeof p, "%s.window_rule", path);
			cfg_error(f, p, cause, "step \"%s\": %s", s->ref, rc);
			free(rc);
			return -1;
		}
	}
	if (cfg_step_timing(f, path, o, "window", s, v == NULL, cause) != 0)
		return -1;
	wt = json_string_value(json_object_get(o, "window_type"));
	if (wt != NULL && strcmp(wt, "fixed") != 0 &&
	    strcmp(wt, "sliding") != 0) {
		cfg_fmt(p, sizeof p, "%s.window_type", path);
		return cfg_error(f, p, cause, "step \"%s\": \"window_type\" "
		    "must be fixed or sliding", s->ref);
	}
	s->sliding = wt != NULL && strcmp(wt, "sliding") == 0;
	if (s->sliding) {
		cfg_fmt(p, sizeof p, "%s.max_window", path);
		s->max_window = eng_duration(json_object_get(o, "max_window"));
		if (s->max_window <= 0)
			return cfg_error(f, json_object_get(o, "max_window") ?
			    p : path, cause, "step \"%s\": a sliding window "
			    "needs \"max_window\"", s->ref);
	}
	if ((wt = json_string_value(json_object_get(o, "batch_key"))) != NULL)
		s->batch_key = cfg_data_path(wt);
	v = json_object_get(o, "max_activities");
	s->max_activities = v ? (int)json_integer_value(v) : 0;
	if (v != NULL && (!json_is_integer(v) || s->max_activities < 2 ||
	    s->max_activities > 1000)) {
		cfg_fmt(p, sizeof p, "%s.max_activities", path);
		return cfg_error(f, p, cause, "step \"%s\": "
		    "\"max_activities\" must be 2..1000", s->ref);
	}
	v = json_object_get(o, "render_limit");
	s->render_limit = v ? (int)json_integer_value(v) : 10;
	if (v != NULL && (!json_is_integer(v) || s->render_limit < 1 ||
	    s->render_limit > 100)) {
		cfg_fmt(p, sizeof p, "%s.render_limit", path);
		return cfg_error(f, p, cause, "step \"%s\": \"render_limit\" "
		    "must be 1..100", s->ref);
	}
	ord = json_string_value(json_object_get(o, "order"));
	if (ord != NULL && strcmp(ord, "first") != 0 &&
	    strcmp(ord, "last") != 0) {
		cfg_fmt(p, sizeof p, "%s.order", path);
		return cfg_error(f, p, cause, "step \"%s\": \"order\" must be "
		    "first or last", s->ref);
	}
	s->order_last = ord != NULL && strcmp(ord, "last") == 0;
	return 0;
}

/* Check a conditions array at path; 0 or -1 with a positioned cause. */
static int
cfg_conditions(const struct cfg_file *f, const char *path, json_t *v,
    const char *ref, char **cause)
{
	char *cc = NULL;

	if (eng_cond_check(v, &cc) == 0)
		return 0;
	cfg_error(f, path, cause, "step \"%s\": %s", ref, cc);
	free(cc);
	return -1;
}

/* Append a blank step to w's program; its index. */
static size_t
cfg_emit(struct eng_workflow *w, const char *ref, const char *type,
    enum eng_step_kind kind, json_t *def)
{
	struct eng_step *s;

	w->steps = xreallocarray(w->steps, w->nsteps + 1, sizeof *w->steps);
	s = &w->steps[w->nsteps];
	memset(s, 0, sizeof *s);
	s->ref = xstrdup(ref);
	s->type = xstrdup(type);
	s->kind = kind;
	s->def = json_incref(def);
	return w->nsteps++;
}

/* Whether ref is already used by a step of w. */
static int
cfg_ref_used(const struct eng_workflow *w, const char *ref)
{
	size_t i;

	for (i = 0; i < w->nsteps; i++)
		if (w->steps[i].kind != STEP_JUMP &&
		    strcmp(w->steps[i].ref, ref) == 0)
			return 1;
	return 0;
}

static int cfg_steps_at(const struct cfg_file *, json_t *, const char *,
    int, struct eng_config *, struct eng_workflow *, char **);

/* A branch step: arms with conditions, a required default, nested steps. */
static int
cfg_step_branch(const struct cfg_file *f, const char *path, json_t *o,
    int depth, struct eng_config *c, struct eng_workflow *w, size_t at,
    char **cause)
{
	static const char *const keys[] = { "ref", "type", "name",
		"description", "branches", NULL };
	static const char *const akeys[] = { "name", "conditions", "steps",
		"default", NULL };
	json_t *arms = json_object_get(o, "branches"), *arm, *cond;
	struct eng_branch *br;
	size_t i, n, *ends, ndef = 0;
	char p[512];
	const char *ref = w->steps[at].ref;

	if (cfg_keys(f, path, o, keys, cause) != 0)
		return -1;
	if (depth >= 5)
		return cfg_error(f, path, cause, "step \"%s\": branches nest "
		    "at most 5 deep", ref);
	if (!json_is_array(arms) || (n = json_array_size(arms)) == 0)
		return cfg_error(f, path, cause, "step \"%s\": needs "
		    "\"branches\": [...]", ref);
	br = xcalloc(n, sizeof *br);
	w->steps[at].branches = br;
	w->steps[at].nbranches = n;
	ends = xcalloc(n, sizeof *ends);
	json_array_foreach(arms, i, arm) {
		cfg_fmt(p, sizeof p, "%s.branches[%zu]", path, i);
		if (!json_is_object(arm) ||
		    cfg_keys(f, p, arm, akeys, cause) != 0) {
			free(ends);
			return *cause ? -1 : cfg_error(f, p, cause, "step "
			    "\"%s\": each branch must be an object", ref);
		}
		br = &w->steps[at].branches[i];
		br->name = xstrdup(json_string_value(json_object_get(arm,
		    "name")) ? json_string_value(json_object_get(arm,
		    "name")) : "");
		cond = json_object_get(arm, "conditions");
		if (json_is_true(json_object_get(arm, "default")))
			ndef++;
		else {
			cfg_fmt(p, sizeof p, "%s.branches[%zu].conditions",
			    path, i);
			if (cond == NULL || cfg_conditions(f, p, cond, ref,
			    cause) != 0) {
				free(ends);
				return *cause ? -1 : cfg_error(f, p, cause,
				    "step \"%s\": a branch needs "
				    "\"conditions\" or \"default\": true", ref);
			}
			br->conditions = json_incref(cond);
		}
		br->target = w->nsteps;
		cfg_fmt(p, sizeof p, "%s.branches[%zu].steps", path, i);
		if (json_object_get(arm, "steps") != NULL &&
		    cfg_steps_at(f, json_object_get(arm, "steps"), p,
		    depth + 1, c, w, cause) != 0) {
			free(ends);
			return -1;
		}
		ends[i] = cfg_emit(w, ref, "jump", STEP_JUMP, NULL);
	}
	for (i = 0; i < n; i++)
		w->steps[ends[i]].target = w->nsteps;
	free(ends);
	if (ndef != 1)
		return cfg_error(f, path, cause, "step \"%s\": exactly one "
		    "branch must be the default (\"default\": true)", ref);
	return 0;
}

/* Compile the steps array at path into w's program. */
static int
cfg_steps_at(const struct cfg_file *f, json_t *steps, const char *base,
    int depth, struct eng_config *c, struct eng_workflow *w, char **cause)
{
	static const struct { const char *name; enum eng_step_kind kind; }
	    kinds[] = { { "channel", STEP_CHANNEL }, { "delay", STEP_DELAY },
	    { "batch", STEP_BATCH }, { "throttle", STEP_THROTTLE },
	    { "branch", STEP_BRANCH } };
	const char *ref, *type;
	char path[512], tp[560];
	size_t i, k, at;
	json_t *o, *cond;

	if (!json_is_array(steps))
		return cfg_error(f, base, cause, "\"steps\" must be an array");
	json_array_foreach(steps, i, o) {
		cfg_fmt(path, sizeof path, "%s[%zu]", base, i);
		if (!json_is_object(o))
			return cfg_error(f, path, cause, "each step must be "
			    "an object");
		ref = json_string_value(json_object_get(o, "ref"));
		if (ref == NULL || !cfg_key_ok(ref))
			return cfg_error(f, path, cause, "%s needs a \"ref\" "
			    "of letters, digits, '-', '_', '.'", path);
		if (cfg_ref_used(w, ref))
			return cfg_error(f, path, cause, "duplicate step ref "
			    "\"%s\"", ref);
		type = json_string_value(json_object_get(o, "type"));
		for (k = 0; type != NULL && k < 5 &&
		    strcmp(kinds[k].name, type) != 0; k++)
			;
		cfg_fmt(tp, sizeof tp, "%s.type", path);
		if (type == NULL || k == 5)
			return cfg_error(f, tp, cause, "step \"%s\": unknown "
			    "step type \"%s\" (channel, delay, batch, "
			    "throttle, branch)", ref, type ? type : "");
		at = cfg_emit(w, ref, type, kinds[k].kind, o);
		if ((cond = json_object_get(o, "conditions")) != NULL &&
		    kinds[k].kind == STEP_CHANNEL) {
			cfg_fmt(tp, sizeof tp, "%s.conditions", path);
			if (cfg_conditions(f, tp, cond, ref, cause) != 0)
				return -1;
			w->steps[at].conditions = json_incref(cond);
		}
		switch (kinds[k].kind) {
		case STEP_CHANNEL:
			if (cfg_step_channel(f, path, o, c, &w->steps[at],
			    cause) != 0)
				return -1;
			break;
		case STEP_BRANCH:
			if (cfg_step_branch(f, path, o, depth, c, w, at,
			    cause) != 0)
				return -1;
			break;
		default:
			if (cfg_step_wait(f, path, o, &w->steps[at], cause))
				return -1;
		}
	}
	return 0;
}

/* The steps of a workflow. */
static int
cfg_steps(const struct cfg_file *f, json_t *steps, struct eng_config *c,
    struct eng_workflow *w, char **cause)
{
	if (!json_is_array(steps) || json_array_size(steps) == 0)
		return cfg_error(f, "steps", cause, "\"steps\" must be a "
		    "non-empty array");
	return cfg_steps_at(f, steps, "steps", 0, c, w, cause);
}

/* One workflows/NAME.json file. */
int
cfg_workflow(struct cfg_file *f, struct eng_config *c, char **cause)
{
	static const char *const keys[] = { "key", "name", "categories",
		"data_required", "steps", "description", "override_preferences",
		"commercial", NULL };
	struct eng_workflow *w;
	json_t *root, *v;
	const char *key;
	size_t i;
	int rc = -1;

	if ((root = cfg_keyed(f, keys, "workflow", &key, cause)) == NULL)
		return -1;
	for (i = 0; i < c->n_workflows; i++) {
		if (strcmp(c->workflows[i].key, key) == 0) {
			cfg_error(f, "key", cause, "workflow \"%s\" is defined "
			    "twice", key);
			goto out;
		}
	}
	w = &c->workflows[c->n_workflows++];
	w->key = xstrdup(key);
	w->name = xstrdup(json_string_value(json_object_get(root, "name")) ?
	    json_string_value(json_object_get(root, "name")) : key);
	w->categories = json_array();
	w->data_required = json_array();
	if ((v = json_object_get(root, "categories")) != NULL) {
		if (cfg_strings(f, v, "categories", cause) != 0)
			goto out;
		json_decref(w->categories);
		w->categories = json_incref(v);
	}
	if ((v = json_object_get(root, "data_required")) != NULL) {
		if (cfg_strings(f, v, "data_required", cause) != 0)
			goto out;
		json_decref(w->data_required);
		w->data_required = json_incref(v);
	}
	v = json_object_get(root, "commercial");
	if (v != NULL && !json_is_boolean(v)) {
		cfg_error(f, "commercial", cause,
		    "\"commercial\" must be true or false");
		goto out;
	}
	w->commercial = json_is_true(v);
	v = json_object_get(root, "override_preferences");
	if (v != NULL && !json_is_boolean(v)) {
		cfg_error(f, "override_preferences", cause,
		    "\"override_preferences\" must be true or false");
		goto out;
	}
	w->override_preferences = json_is_true(v);
	rc = cfg_steps(f, json_object_get(root, "steps"), c, w, cause);
	/* Without either, a run never reads its recipient's record. */
	w->needs_recipient = eng_json_mentions(root, "recipient");
	for (i = 0; rc == 0 && i < w->nsteps; i++)
		w->needs_recipient |= w->steps[i].window_rule != NULL ||
		    (w->steps[i].kind == STEP_CHANNEL &&
		    strcmp(w->steps[i].channel->type, "email") == 0);
out:
	json_decref(root);
	return rc;
}
