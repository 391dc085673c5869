/*
 * engine/sources/file.c: one CONFIG_DIR/sources/NAME.json file checked
 * into the configuration's sources (called by engine/config/load.c after
 * the workflows are loaded, which mappings must name).  Errors name
 * file:line:column like every config file's.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/sources/src_int.h"
#include "engine/workflow/conditions.h"

/*
 * A dotted path into a source's event at key of o (where: its position)
 * into *out: 1..256 characters of non-empty segments; absent is NULL.
 */
static int
cfg_src_path(const struct cfg_file *f, const char *where, json_t *o,
    const char *key, char **out, char **cause)
{
	json_t *v = json_object_get(o, key);
	const char *p;
	char path[512];

	*out = NULL;
	if (v == NULL)
		return 0;
	cfg_fmt(path, sizeof path, "%s.%s", where, key);
	p = json_string_value(v);
	if (p == NULL || *p == '\0' || strlen(p) > 256 || *p == '.' ||
	    p[strlen(p) - 1] == '.' || strstr(p, "..") != NULL)
		return cfg_error(f, path, cause, "\"%s\" must be a dotted path "
		    "into the event, such as \"properties.recipient_ids\"", key);
	*out = xstrdup(p);
	return 0;
}

/* One entry of a source's "events" at where into m. */
static int
cfg_src_map(const struct cfg_file *f, const char *where, json_t *o,
    const struct eng_config *c, struct eng_srcmap *m, char **cause)
{
	static const char *const tkeys[] = { "event", "action", "workflow",
		"recipients", "actor", "data", "tenant", "cancellation_key",
		"conditions", NULL };
	static const char *const ckeys[] = { "event", "action", "workflow",
		"recipients", "cancellation_key", "conditions", NULL };
	const char *action, *ev, *wf;
	char path[512], *cc = NULL;
	json_t *v;

	if (!json_is_object(o))
		return cfg_error(f, where, cause, "an event mapping must be an "
		    "object");
	action = json_string_value(json_object_get(o, "action"));
	cfg_fmt(path, sizeof path, "%s%s", where, json_object_get(o,
	    "action") ? ".action" : "");
	if (action == NULL || (strcmp(action, "trigger") != 0 &&
	    strcmp(action, "cancel") != 0))
		return cfg_error(f, path, cause, "\"action\" must be "
		    "\"trigger\" or \"cancel\"");
	m->action = strcmp(action, "trigger") == 0 ? ENG_SRC_TRIGGER :
	    ENG_SRC_CANCEL;
	if (cfg_keys(f, where, o, m->action == ENG_SRC_TRIGGER ? tkeys : ckeys,
	    cause) != 0)
		return -1;
	ev = json_string_value(json_object_get(o, "event"));
	cfg_fmt(path, sizeof path, "%s%s", where, json_object_get(o, "event") ?
	    ".event" : "");
	if (ev == NULL || *ev == '\0')
		return cfg_error(f, path, cause, "an event mapping needs "
		    "\"event\": the name of the track event");
	m->event = xstrdup(ev);
	wf = json_string_value(json_object_get(o, "workflow"));
	cfg_fmt(path, sizeof path, "%s%s", where, json_object_get(o,
	    "workflow") ? ".workflow" : "");
	if (wf == NULL)
		return cfg_error(f, path, cause, "event \"%s\": needs "
		    "\"workflow\"", ev);
	if (eng_workflow_find(c, wf) == NULL)
		return cfg_error(f, path, cause, "event \"%s\": no workflow "
		    "\"%s\" is loaded", ev, wf);
	m->workflow = xstrdup(wf);
	if (cfg_src_path(f, where, o, "recipients", &m->recipients,
	    cause) != 0 || cfg_src_path(f, where, o, "actor", &m->actor,
	    cause) != 0 || cfg_src_path(f, where, o, "data", &m->data,
	    cause) != 0 || cfg_src_path(f, where, o, "tenant", &m->tenant,
	    cause) != 0 || cfg_src_path(f, where, o, "cancellation_key",
	    &m->ckey, cause) != 0)
		return -1;
	if (m->action == ENG_SRC_TRIGGER && m->recipients == NULL)
		return cfg_error(f, where, cause, "event \"%s\": a trigger "
		    "needs \"recipients\": the path of its recipients", ev);
	if (m->action == ENG_SRC_CANCEL && m->ckey == NULL)
		return cfg_error(f, where, cause, "event \"%s\": a cancel needs "
		    "\"cancellation_key\": the path of the key", ev);
	if ((v = json_object_get(o, "conditions")) != NULL) {
		cfg_fmt(path, sizeof path, "%s.conditions", where);
		if (eng_cond_check_event(v, &cc) != 0) {
			cfg_error(f, path, cause, "event \"%s\": %s", ev, cc);
			free(cc);
			return -1;
		}
		m->conditions = json_incref(v);
	}
	return 0;
}

/*
 * A source's "group": {"as": "tenant"} or {"as": "object", "collection":
 * NAME, "subscribe": BOOL}.
 */
static int
cfg_src_group(const struct cfg_file *f, json_t *o, struct eng_srcdef *d,
    char **cause)
{
	static const char *const keys[] = { "as", "collection", "subscribe",
		NULL };
	const char *as, *coll;
	json_t *v;

	if (!json_is_object(o))
		return cfg_error(f, "group", cause, "\"group\" must be "
		    "{\"as\": \"tenant\"} or {\"as\": \"object\", "
		    "\"collection\": ...}");
	if (cfg_keys(f, "group", o, keys, cause) != 0)
		return -1;
	as = json_string_value(json_object_get(o, "as"));
	if (as == NULL || (strcmp(as, "tenant") != 0 &&
	    strcmp(as, "object") != 0))
		return cfg_error(f, json_object_get(o, "as") ? "group.as" :
		    "group", cause, "\"group.as\" must be \"tenant\" or "
		    "\"object\"");
	coll = json_string_value(json_object_get(o, "collection"));
	v = json_object_get(o, "subscribe");
	if (strcmp(as, "tenant") == 0) {
		if (json_object_get(o, "collection") != NULL || v != NULL)
			return cfg_error(f, v != NULL && json_object_get(o,
			    "collection") == NULL ? "group.subscribe" :
			    "group.collection", cause, "a group as a tenant "
			    "takes no \"collection\" or \"subscribe\"");
		d->group = ENG_SRC_GROUP_TENANT;
		return 0;
	}
	if (coll == NULL || !eng_recipient_valid_id(coll))
		return cfg_error(f, json_object_get(o, "collection") ?
		    "group.collection" : "group", cause, "a group as an object "
		    "needs \"collection\": 1..256 characters without '/' or "
		    "'#'");
	if (v != NULL && !json_is_boolean(v))
		return cfg_error(f, "group.subscribe", cause,
		    "\"group.subscribe\" must be true or false");
	d->group = ENG_SRC_GROUP_OBJECT;
	d->group_collection = xstrdup(coll);
	d->group_subscribe = json_is_true(v);
	return 0;
}

/* One sources/NAME.json file (the workflows are loaded first). */
int
cfg_source(struct cfg_file *f, struct eng_config *c, char **cause)
{
	static const char *const keys[] = { "key", "type", "write_keys",
		"identify", "group", "events", NULL };
	struct eng_srcdef *d;
	const char *key, *type;
	char path[64];
	json_t *root, *v, *k;
	size_t i;
	int rc = -1;

	if ((root = cfg_keyed(f, keys, "source", &key, cause)) == NULL)
		return -1;
	if (eng_srcdef_find(c, key) != NULL) {
		cfg_error(f, "key", cause, "source \"%s\" is defined twice",
		    key);
		goto out;
	}
	type = json_string_value(json_object_get(root, "type"));
	if (type == NULL || (strcmp(type, "segment") != 0 &&
	    strcmp(type, "rudderstack") != 0)) {
		cfg_error(f, json_object_get(root, "type") ? "type" : NULL,
		    cause, "source \"%s\": \"type\" must be \"segment\" or "
		    "\"rudderstack\"", key);
		goto out;
	}
	v = json_object_get(root, "write_keys");
	if (!json_is_array(v) || json_array_size(v) == 0) {
		cfg_error(f, v ? "write_keys" : NULL, cause, "source \"%s\": "
		    "\"write_keys\" must be a non-empty array of strings", key);
		goto out;
	}
	d = &c->sources[c->n_sources++];
	d->key = xstrdup(key);
	d->type = xstrdup(type);
	d->write_keys = xcalloc(json_array_size(v), sizeof *d->write_keys);
	json_array_foreach(v, i, k) {
		cfg_fmt(path, sizeof path, "write_keys[%zu]", i);
		if (!json_is_string(k) || json_string_length(k) < 8 ||
		    strchr(json_string_value(k), ':') != NULL) {
			cfg_error(f, path, cause, "a write key must be a string "
			    "of 8 or more characters without ':'");
			goto out;
		}
		d->write_keys[d->n_write_keys++] =
		    xstrdup(json_string_value(k));
	}
	v = json_object_get(root, "identify");
	if (v != NULL && !json_is_boolean(v)) {
		cfg_error(f, "identify", cause, "\"identify\" must be true or "
		    "false");
		goto out;
	}
	d->identify = json_is_true(v);
	if ((v = json_object_get(root, "group")) != NULL &&
	    cfg_src_group(f, v, d, cause) != 0)
		goto out;
	v = json_object_get(root, "events");
	if (v != NULL && !json_is_array(v)) {
		cfg_error(f, "events", cause, "\"events\" must be an array of "
		    "event mappings");
		goto out;
	}
	d->maps = xcalloc(json_array_size(v), sizeof *d->maps);
	json_array_foreach(v, i, k) {
		cfg_fmt(path, sizeof path, "events[%zu]", i);
		if (cfg_src_map(f, path, k, c, &d->maps[d->nmaps++],
		    cause) != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
