/*
 * Configuration: CONFIG_DIR/belfry.conf and CONFIG_DIR/workflows/NAME.json,
 * read with jansson.  Every error names file:line:column -- jansson's for
 * syntax, eng_jsonpos() for a value that parses but is wrong.  Unknown keys
 * are errors: a misspelt key should not be silently ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/preferences.h"
#include "engine/template.h"

/* A file being checked: its name and text, for positions. */
struct cfg_file {
	const char *path;
	char *text;
};

/* Set *cause to "file:line:column: message" for the value at path. */
static int __attribute__((format(printf, 4, 5)))
cfg_error(const struct cfg_file *f, const char *path, char **cause,
    const char *fmt, ...)
{
	int line = 1, col = 1;
	va_list ap;
	char *msg;

	if (path != NULL && f->text != NULL)
		eng_jsonpos(f->text, path, &line, &col);
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		abort();
	va_end(ap);
	*cause = xasprintf("%s:%d:%d: %s", f->path, line, col, msg);
	free(msg);
	return -1;
}

/* Read a whole file; NULL with *cause. */
static char *
cfg_read(const char *path, char **cause)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[65536];

	if (fp == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		if (len + n > 16 * 1024 * 1024) {
			*cause = xasprintf("%s: larger than 16 MiB", path);
			free(buf);
			fclose(fp);
			return NULL;
		}
		buf = xreallocarray(buf, len + n + 1, 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	fclose(fp);
	if (buf == NULL)
		buf = xstrdup("");
	buf[len] = '\0';
	return buf;
}

/* Parse f's text as a JSON object; NULL with a positioned *cause. */
static json_t *
cfg_parse(struct cfg_file *f, char **cause)
{
	json_error_t err;
	json_t *root;

	root = json_loads(f->text, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL) {
		*cause = xasprintf("%s:%d:%d: %s", f->path, err.line,
		    err.column, err.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		cfg_error(f, NULL, cause, "expected a JSON object");
		return NULL;
	}
	return root;
}

/* Refuse keys of o not in the NULL-terminated list allowed. */
static int
cfg_keys(const struct cfg_file *f, const char *path, json_t *o,
    const char *const *allowed, char **cause)
{
	const char *key;
	json_t *v;
	char *p;
	int i, rc;

	json_object_foreach(o, key, v) {
		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key); i++)
			;
		if (allowed[i] != NULL)
			continue;
		p = xasprintf("%s%s%s", path, *path ? "." : "", key);
		rc = cfg_error(f, p, cause, "unknown key \"%s\"", key);
		free(p);
		return rc;
	}
	return 0;
}

/* An optional string member; -1 if present and not a string. */
static int
cfg_string(const struct cfg_file *f, json_t *o, const char *key, char **out,
    char **cause)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return cfg_error(f, key, cause, "\"%s\" must be a non-empty "
		    "string", key);
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* The channels of belfry.conf. */
static int
cfg_channels(const struct cfg_file *f, json_t *o, struct eng_config *c,
    char **cause)
{
	static const char *const keys[] = { "type", "url", NULL };
	const char *name, *type, *url;
	struct eng_channel *ch;
	char path[512];
	json_t *v;

	if (!json_is_object(o))
		return cfg_error(f, "channels", cause, "\"channels\" must be "
		    "an object of channel name -> {\"type\": ...}");
	c->channels = xcalloc(json_object_size(o), sizeof *c->channels);
	json_object_foreach(o, name, v) {
		snprintf(path, sizeof path, "channels.%s", name);
		if (!json_is_object(v))
			return cfg_error(f, path, cause, "channel \"%s\" must "
			    "be an object", name);
		if (cfg_keys(f, path, v, keys, cause) != 0)
			return -1;
		type = json_string_value(json_object_get(v, "type"));
		if (type == NULL || (strcmp(type, "in_app_feed") != 0 &&
		    strcmp(type, "http") != 0 && strcmp(type, "log") != 0))
			return cfg_error(f, path, cause, "channel \"%s\": "
			    "\"type\" must be in_app_feed, http or log", name);
		url = json_string_value(json_object_get(v, "url"));
		if (strcmp(type, "http") == 0 && (url == NULL ||
		    strncmp(url, "http://", 7) != 0 || url[7] == '\0')) {
			snprintf(path, sizeof path, "channels.%s.url", name);
			return cfg_error(f, path, cause, "channel \"%s\": an "
			    "http channel needs \"url\": \"http://...\"", name);
		}
		ch = &c->channels[c->n_channels++];
		ch->name = xstrdup(name);
		ch->type = xstrdup(type);
		ch->url = url ? xstrdup(url) : NULL;
	}
	return 0;
}

/* The rest of belfry.conf after its syntax is known good. */
static int
cfg_conf(struct cfg_file *f, json_t *root, struct eng_config *c, char **cause)
{
	static const char *const keys[] = { "socket", "database", "listen",
		"api_keys", "default_timezone", "channels", "preferences",
		NULL };
	char *tzcause = NULL, path[64];
	json_t *v, *k;
	size_t i;

	if (cfg_keys(f, "", root, keys, cause) != 0 ||
	    cfg_string(f, root, "socket", &c->socket, cause) != 0 ||
	    cfg_string(f, root, "database", &c->database, cause) != 0 ||
	    cfg_string(f, root, "listen", &c->listen, cause) != 0 ||
	    cfg_string(f, root, "default_timezone", &c->default_timezone,
	    cause) != 0)
		return -1;
	if (c->default_timezone != NULL &&
	    tz_zone_get(c->default_timezone, &tzcause) == NULL) {
		cfg_error(f, "default_timezone", cause, "%s", tzcause);
		free(tzcause);
		return -1;
	}
	if ((v = json_object_get(root, "api_keys")) != NULL) {
		if (!json_is_array(v))
			return cfg_error(f, "api_keys", cause, "\"api_keys\" "
			    "must be an array of strings");
		c->api_keys = xcalloc(json_array_size(v), sizeof *c->api_keys);
		json_array_foreach(v, i, k) {
			snprintf(path, sizeof path, "api_keys[%zu]", i);
			if (!json_is_string(k) || json_string_length(k) < 8)
				return cfg_error(f, path, cause, "an API key "
				    "must be a string of 8 or more characters");
			c->api_keys[c->n_api_keys++] =
			    xstrdup(json_string_value(k));
		}
	}
	if ((v = json_object_get(root, "channels")) != NULL &&
	    cfg_channels(f, v, c, cause) != 0)
		return -1;
	if ((v = json_object_get(root, "preferences")) != NULL) {
		static const char *const pkeys[] = { "default", NULL };

		if (!json_is_object(v))
			return cfg_error(f, "preferences", cause,
			    "\"preferences\" must be {\"default\": {...}}");
		if (cfg_keys(f, "preferences", v, pkeys, cause) != 0)
			return -1;
		if ((k = json_object_get(v, "default")) != NULL) {
			if (eng_pref_check(k, &tzcause) != 0) {
				cfg_error(f, "preferences.default", cause,
				    "%s", tzcause);
				free(tzcause);
				return -1;
			}
			c->default_prefs = json_incref(k);
		}
	}
	return 0;
}

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

/* Whether s is a usable key: letters, digits, '-', '_' and '.'. */
static int
cfg_key_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 128)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.'))
			return 0;
	return 1;
}

/* Check that v is an array of strings. */
static int
cfg_strings(const struct cfg_file *f, json_t *v, const char *key,
    char **cause)
{
	json_t *e;
	size_t i;

	if (!json_is_array(v))
		return cfg_error(f, key, cause, "\"%s\" must be an array of "
		    "strings", key);
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return cfg_error(f, key, cause, "\"%s\" must be an "
			    "array of strings", key);
	return 0;
}

/* One channel step of a workflow. */
static int
cfg_step_channel(const struct cfg_file *f, const char *path, json_t *o,
    struct eng_config *c, struct eng_step *s, char **cause)
{
	static const char *const keys[] = { "ref", "type", "channel",
		"template", "name", "description", NULL };
	const char *name, *k;
	char p[256], *tc = NULL;
	json_t *t, *v;

	if (cfg_keys(f, path, o, keys, cause) != 0)
		return -1;
	snprintf(p, sizeof p, "%s.channel", path);
	name = json_string_value(json_object_get(o, "channel"));
	if (name == NULL)
		return cfg_error(f, path, cause, "step \"%s\": a channel step "
		    "needs \"channel\"", s->ref);
	if ((s->channel = cfg_channel(c, name)) == NULL)
		return cfg_error(f, p, cause, "step \"%s\": no channel \"%s\" "
		    "in belfry.conf", s->ref, name);
	t = json_object_get(o, "template");
	snprintf(p, sizeof p, "%s.template", path);
	if (t == NULL || !json_is_object(t) || json_object_size(t) == 0)
		return cfg_error(f, t ? p : path, cause, "step \"%s\": needs "
		    "\"template\": {\"markdown\"|\"text\"|\"body\"|"
		    "\"subject\": \"...\"}", s->ref);
	json_object_foreach(t, k, v) {
		snprintf(p, sizeof p, "%s.template.%s", path, k);
		if (strcmp(k, "markdown") != 0 && strcmp(k, "text") != 0 &&
		    strcmp(k, "body") != 0 && strcmp(k, "subject") != 0)
			return cfg_error(f, p, cause, "step \"%s\": unknown "
			    "template part \"%s\"", s->ref, k);
		if (!json_is_string(v))
			return cfg_error(f, p, cause, "step \"%s\": template "
			    "part \"%s\" must be a string", s->ref, k);
		if (eng_template_check(json_string_value(v), &tc) != 0) {
			cfg_error(f, p, cause, "step \"%s\": %s", s->ref, tc);
			free(tc);
			return -1;
		}
	}
	if (strcmp(s->channel->type, "http") == 0 &&
	    json_object_get(t, "body") == NULL)
		return cfg_error(f, path, cause, "step \"%s\": an http channel "
		    "step needs \"template\": {\"body\": \"...\"}", s->ref);
	s->template = json_incref(t);
	return 0;
}

/* The steps of a workflow. */
static int
cfg_steps(const struct cfg_file *f, json_t *steps, struct eng_config *c,
    struct eng_workflow *w, char **cause)
{
	const char *ref, *type;
	char path[64];
	struct eng_step *s;
	json_t *o;
	size_t i, j;

	if (!json_is_array(steps) || json_array_size(steps) == 0)
		return cfg_error(f, "steps", cause, "\"steps\" must be a "
		    "non-empty array");
	w->steps = xcalloc(json_array_size(steps), sizeof *w->steps);
	json_array_foreach(steps, i, o) {
		snprintf(path, sizeof path, "steps[%zu]", i);
		if (!json_is_object(o))
			return cfg_error(f, path, cause, "each step must be "
			    "an object");
		ref = json_string_value(json_object_get(o, "ref"));
		if (ref == NULL || !cfg_key_ok(ref))
			return cfg_error(f, path, cause, "steps[%zu] needs a "
			    "\"ref\" of letters, digits, '-', '_', '.'", i);
		for (j = 0; j < w->nsteps; j++)
			if (strcmp(w->steps[j].ref, ref) == 0)
				return cfg_error(f, path, cause, "duplicate "
				    "step ref \"%s\"", ref);
		s = &w->steps[w->nsteps++];
		s->ref = xstrdup(ref);
		s->def = json_incref(o);
		type = json_string_value(json_object_get(o, "type"));
		s->type = xstrdup(type ? type : "");
		snprintf(path, sizeof path, "steps[%zu].type", i);
		if (type == NULL || strcmp(type, "channel") != 0)
			return cfg_error(f, path, cause, "step \"%s\": unknown "
			    "step type \"%s\" (supported: channel)", ref,
			    type ? type : "");
		snprintf(path, sizeof path, "steps[%zu]", i);
		if (cfg_step_channel(f, path, o, c, s, cause) != 0)
			return -1;
	}
	return 0;
}

/* One workflows/NAME.json file. */
static int
cfg_workflow(struct cfg_file *f, struct eng_config *c, char **cause)
{
	static const char *const keys[] = { "key", "name", "categories",
		"data_required", "steps", "description", NULL };
	struct eng_workflow *w;
	json_t *root, *v;
	const char *key;
	size_t i;
	int rc = -1;

	if ((root = cfg_parse(f, cause)) == NULL)
		return -1;
	if (cfg_keys(f, "", root, keys, cause) != 0)
		goto out;
	key = json_string_value(json_object_get(root, "key"));
	if (key == NULL || !cfg_key_ok(key)) {
		cfg_error(f, json_object_get(root, "key") ? "key" : NULL,
		    cause, "a workflow needs a \"key\" of letters, digits, "
		    "'-', '_', '.'");
		goto out;
	}
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
	rc = cfg_steps(f, json_object_get(root, "steps"), c, w, cause);
out:
	json_decref(root);
	return rc;
}

/* qsort comparator for C strings. */
static int
cfg_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every .json file of dir/sub in name order; NULL-terminated. */
static char **
cfg_list(const char *dir, const char *sub, size_t *n)
{
	char *path = xasprintf("%s/%s", dir, sub), **names = NULL;
	struct dirent *d;
	size_t len;
	DIR *dp;

	*n = 0;
	if ((dp = opendir(path)) != NULL) {
		while ((d = readdir(dp)) != NULL) {
			len = strlen(d->d_name);
			if (d->d_name[0] == '.' || len < 6 ||
			    strcmp(d->d_name + len - 5, ".json") != 0)
				continue;
			names = xreallocarray(names, *n + 1, sizeof *names);
			names[(*n)++] = xasprintf("%s/%s", path, d->d_name);
		}
		closedir(dp);
	}
	free(path);
	if (*n > 0)
		qsort(names, *n, sizeof *names, cfg_strcmp);
	return names;
}

/* Load and check the whole configuration directory. */
struct eng_config *
eng_config_load(const char *dir, char **cause)
{
	struct eng_config *c = xcalloc(1, sizeof *c);
	struct cfg_file f;
	char **files, *conf;
	json_t *root;
	size_t n, i;
	int rc = 0;

	c->dir = xstrdup(dir);
	f.path = conf = xasprintf("%s/belfry.conf", dir);
	if ((f.text = cfg_read(f.path, cause)) == NULL) {
		free(conf);
		eng_config_free(c);
		return NULL;
	}
	if ((root = cfg_parse(&f, cause)) == NULL)
		rc = -1;
	else {
		rc = cfg_conf(&f, root, c, cause);
		json_decref(root);
	}
	free(f.text);
	free(conf);
	files = cfg_list(dir, "workflows", &n);
	c->workflows = xcalloc(n, sizeof *c->workflows);
	for (i = 0; i < n; i++) {
		f.path = files[i];
		if (rc == 0 && (f.text = cfg_read(f.path, cause)) == NULL)
			rc = -1;
		if (rc == 0) {
			rc = cfg_workflow(&f, c, cause);
			free(f.text);
		}
		free(files[i]);
	}
	free(files);
	if (rc != 0) {
		eng_config_free(c);
		return NULL;
	}
	return c;
}

/* Free a configuration. */
void
eng_config_free(struct eng_config *c)
{
	size_t i, j;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_workflows; i++) {
		struct eng_workflow *w = &c->workflows[i];

		for (j = 0; j < w->nsteps; j++) {
			free(w->steps[j].ref);
			free(w->steps[j].type);
			json_decref(w->steps[j].template);
			json_decref(w->steps[j].def);
		}
		free(w->steps);
		free(w->key);
		free(w->name);
		json_decref(w->categories);
		json_decref(w->data_required);
	}
	free(c->workflows);
	for (i = 0; i < c->n_channels; i++) {
		free(c->channels[i].name);
		free(c->channels[i].type);
		free(c->channels[i].url);
	}
	free(c->channels);
	for (i = 0; i < c->n_api_keys; i++)
		free(c->api_keys[i]);
	free(c->api_keys);
	json_decref(c->default_prefs);
	free(c->dir);
	free(c->socket);
	free(c->database);
	free(c->listen);
	free(c->default_timezone);
	free(c);
}

/* The workflow called key, or NULL. */
const struct eng_workflow *
eng_workflow_find(const struct eng_config *c, const char *key)
{
	size_t i;

	for (i = 0; c != NULL && i < c->n_workflows; i++)
		if (strcmp(c->workflows[i].key, key) == 0)
			return &c->workflows[i];
	return NULL;
}

/* belfry.conf's socket. */
const char *
eng_config_socket(const struct eng_config *c)
{
	return c->socket;
}

/* belfry.conf's database. */
const char *
eng_config_database(const struct eng_config *c)
{
	return c->database;
}

/* belfry.conf's listen address. */
const char *
eng_config_listen(const struct eng_config *c)
{
	return c->listen;
}

/* belfry.conf's default time zone. */
const char *
eng_config_default_timezone(const struct eng_config *c)
{
	return c->default_timezone;
}

/* How many API keys belfry.conf lists. */
size_t
eng_config_api_key_count(const struct eng_config *c)
{
	return c->n_api_keys;
}

/* API key i. */
const char *
eng_config_api_key(const struct eng_config *c, size_t i)
{
	return i < c->n_api_keys ? c->api_keys[i] : NULL;
}

/* How many workflows are loaded. */
size_t
eng_config_workflow_count(const struct eng_config *c)
{
	return c->n_workflows;
}

/* Install a configuration (the engine owns it from now on). */
void
eng_set_config(struct eng *e, struct eng_config *c)
{
	eng_config_free(e->cfg);
	e->cfg = c;
}

/* The configuration in force. */
const struct eng_config *
eng_config(const struct eng *e)
{
	return e->cfg;
}
