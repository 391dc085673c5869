/*
 * The configuration loader: CONFIG_DIR/belfry.conf (its channels in
 * channels.c), CONFIG_DIR/workflows/NAME.json (compiled by
 * engine/workflow/), CONFIG_DIR/schedules/NAME.json (checked by
 * engine/schedules/) and CONFIG_DIR/sources/NAME.json (checked by
 * engine/sources/), read with jansson into the model of
 * engine/workflow/model.c.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sources/src_int.h"
#include "engine/workflow/preferences.h"

/*
 * An optional integer member from min to max (unit names it in the
 * error); *out keeps its value when the member is absent.
 */
static int
cfg_int(const struct cfg_file *f, json_t *o, const char *key, int min,
    int max, int *out, const char *unit, char **cause)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max)
		return cfg_error(f, key, cause, "\"%s\" must be an integer "
		    "from %d to %d (%s)", key, min, max, unit);
	*out = (int)json_integer_value(v);
	return 0;
}

/* See engine.h. */
int
eng_listen_parse(const char *listen, int tls, char *host, size_t hostlen,
    int *port, char **cause)
{
	unsigned char addr[16];
	char buf[64], *end;
	const char *colon = strrchr(listen, ':');
	size_t n;
	long p;
	int loop;

	if (colon == NULL || (n = (size_t)(colon - listen)) >= sizeof buf)
		goto bad;
	memcpy(buf, listen, n);
	buf[n] = '\0';
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    p > 65535) {
		*cause = xasprintf("listen \"%s\": the port must be 0..65535",
		    listen);
		return -1;
	}
	if (strcmp(buf, "localhost") == 0)
		snprintf(buf, sizeof buf, "127.0.0.1");
	if (inet_pton(AF_INET, buf, addr) == 1)
		loop = addr[0] == 127;
	else if (n > 2 && buf[0] == '[' && buf[n - 1] == ']') {
		buf[n - 1] = '\0';
		memmove(buf, buf + 1, n - 1);
		if (inet_pton(AF_INET6, buf, addr) != 1)
			goto bad;
		loop = IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr);
	} else
		goto bad;
	if (!loop && !tls) {
		*cause = xasprintf("listen \"%s\": only loopback addresses "
		    "are allowed without a \"tls\" section", listen);
		return -1;
	}
	if (strlen(buf) >= hostlen)
		goto bad;
	snprintf(host, hostlen, "%s", buf);
	*port = (int)p;
	return 0;
bad:
	*cause = xasprintf("listen \"%s\": expected HOST:PORT with an "
	    "address HOST (127.0.0.1, [::1], localhost; others need "
	    "\"tls\")", listen);
	return -1;
}

/*
 * Whether origin is what a browser sends as Origin: http:// or https://,
 * a host, an optional port, nothing after; 0 or -1.
 */
static int
cfg_origin_ok(const char *origin)
{
	const char *h, *p;

	if (strncmp(origin, "http://", 7) == 0)
		h = origin + 7;
	else if (strncmp(origin, "https://", 8) == 0)
		h = origin + 8;
	else
		return -1;
	if (*h == '\0' || *h == ':')
		return -1;
	for (p = h; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == ':' || *p == '[' ||
		    *p == ']'))
			return -1;
	return 0;
}

/*
 * An optional array of strings at key into *out and *n: each at least
 * min characters long and, when ok is given, accepted by it (what names
 * the expected form in the error).
 */
static int
cfg_string_list(const struct cfg_file *f, json_t *root, const char *key,
    size_t min, int (*ok)(const char *), const char *what, char ***out,
    size_t *n, char **cause)
{
	json_t *v = json_object_get(root, key), *k;
	char path[64];
	size_t i;

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return cfg_error(f, key, cause, "\"%s\" must be an array of "
		    "strings", key);
	*out = xcalloc(json_array_size(v) + 1, sizeof **out);
	json_array_foreach(v, i, k) {
		cfg_fmt(path, sizeof path, "%s[%zu]", key, i);
		if (!json_is_string(k) || json_string_length(k) < min ||
		    (ok != NULL && ok(json_string_value(k)) != 0))
			return cfg_error(f, path, cause, "%s", what);
		(*out)[(*n)++] = xstrdup(json_string_value(k));
	}
	return 0;
}

/* Whether a public key is not a server key's form (Knock's sk_). */
static int
cfg_public_key_ok(const char *key)
{
	return strncmp(key, "sk_", 3) == 0 ? -1 : 0;
}

/* The optional "tls" section: {"certificate": FILE, "key": FILE}. */
static int
cfg_tls(const struct cfg_file *f, json_t *root, struct eng_config *c,
    char **cause)
{
	static const char *const keys[] = { "certificate", "key", NULL };
	json_t *v = json_object_get(root, "tls");
	const char *cert, *key;

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return cfg_error(f, "tls", cause, "\"tls\" must be "
		    "{\"certificate\": FILE, \"key\": FILE}");
	if (cfg_keys(f, "tls", v, keys, cause) != 0)
		return -1;
	cert = json_string_value(json_object_get(v, "certificate"));
	key = json_string_value(json_object_get(v, "key"));
	if (cert == NULL || *cert == '\0')
		return cfg_error(f, "tls", cause, "\"tls\" needs "
		    "\"certificate\": the PEM file of the certificate chain");
	if (key == NULL || *key == '\0')
		return cfg_error(f, "tls", cause, "\"tls\" needs \"key\": "
		    "the PEM file of the private key");
	c->tls_cert = xstrdup(cert);
	c->tls_key = xstrdup(key);
	return 0;
}

/*
 * The optional "retention" section: {"messages_days": N, "runs_days": N},
 * each from 1 day to 100 years; a kind left out is kept for ever.
 */
static int
cfg_retention(const struct cfg_file *f, json_t *root, struct eng_config *c,
    char **cause)
{
	static const char *const keys[] = { "messages_days", "runs_days",
		NULL };
	json_t *v = json_object_get(root, "retention");

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return cfg_error(f, "retention", cause, "\"retention\" must be "
		    "{\"messages_days\": N, \"runs_days\": N}");
	if (cfg_keys(f, "retention", v, keys, cause) != 0 ||
	    cfg_int(f, v, "messages_days", 1, 36500, &c->retain_messages_days,
	    "days", cause) != 0 ||
	    cfg_int(f, v, "runs_days", 1, 36500, &c->retain_runs_days, "days",
	    cause) != 0)
		return -1;
	return 0;
}

/* The rest of belfry.conf after its syntax is known good. */
static int
cfg_conf(struct cfg_file *f, json_t *root, struct eng_config *c, char **cause)
{
	static const char *const keys[] = { "socket", "database", "listen",
		"api_keys", "default_timezone", "channels", "preferences",
		"database_integrity_check", "header_timeout", "body_timeout",
		"idle_timeout", "max_connections", "public_api_keys",
		"user_token_public_key", "allowed_origins", "tls", "retention",
		NULL };
	char *tzcause = NULL, path[64], host[64];
	json_t *v, *k;
	size_t i, j;
	int port;

	if (cfg_keys(f, "", root, keys, cause) != 0 ||
	    cfg_string(f, root, "socket", &c->socket, cause) != 0 ||
	    cfg_string(f, root, "database", &c->database, cause) != 0 ||
	    cfg_string(f, root, "listen", &c->listen, cause) != 0 ||
	    cfg_string(f, root, "default_timezone", &c->default_timezone,
	    cause) != 0 ||
	    cfg_string(f, root, "user_token_public_key", &c->user_token_key,
	    cause) != 0 || cfg_tls(f, root, c, cause) != 0)
		return -1;
	if ((v = json_object_get(root, "database_integrity_check")) != NULL) {
		if (!json_is_string(v) || (strcmp(json_string_value(v),
		    "quick") != 0 && strcmp(json_string_value(v), "full") != 0 &&
		    strcmp(json_string_value(v), "off") != 0))
			return cfg_error(f, "database_integrity_check", cause,
			    "\"database_integrity_check\" must be \"quick\", "
			    "\"full\" or \"off\"");
		c->db_check = xstrdup(json_string_value(v));
	}
	if (cfg_int(f, root, "header_timeout", 1, 3600, &c->header_timeout,
	    "seconds", cause) != 0 ||
	    cfg_int(f, root, "body_timeout", 1, 3600, &c->body_timeout,
	    "seconds", cause) != 0 ||
	    cfg_int(f, root, "idle_timeout", 1, 3600, &c->idle_timeout,
	    "seconds", cause) != 0 ||
	    cfg_int(f, root, "max_connections", 1, 1000000,
	    &c->max_connections, "connections per listener", cause) != 0)
		return -1;
	if (cfg_retention(f, root, c, cause) != 0)
		return -1;
	if (c->listen != NULL &&
	    eng_listen_parse(c->listen, c->tls_cert != NULL, host,
	    sizeof host, &port, &tzcause)) {
		cfg_error(f, "listen", cause, "%s", tzcause);
		free(tzcause);
		return -1;
	}
	if (c->default_timezone != NULL &&
	    tz_zone_get(c->default_timezone, &tzcause) == NULL) {
		cfg_error(f, "default_timezone", cause, "%s", tzcause);
		free(tzcause);
		return -1;
	}
	if (cfg_string_list(f, root, "api_keys", 8, NULL, "an API key must be "
	    "a string of 8 or more characters", &c->api_keys, &c->n_api_keys,
	    cause) != 0 ||
	    cfg_string_list(f, root, "public_api_keys", 8, cfg_public_key_ok,
	    "a public API key must be a string of 8 or more characters, "
	    "not an sk_ key", &c->public_keys, &c->n_public_keys,
	    cause) != 0 ||
	    cfg_string_list(f, root, "allowed_origins", 1, cfg_origin_ok,
	    "an allowed origin must be http:// or https:// and a host with "
	    "an optional port, in lower case, without a path",
	    &c->origins, &c->n_origins, cause) != 0)
		return -1;
	for (i = 0; i < c->n_public_keys; i++)
		for (j = 0; j < c->n_api_keys; j++)
			if (strcmp(c->public_keys[i], c->api_keys[j]) == 0) {
				cfg_fmt(path, sizeof path,
				    "public_api_keys[%zu]", i);
				return cfg_error(f, path, cause, "a key "
				    "cannot be both a public and a server "
				    "key");
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
			c->prefs_need_recipient = eng_json_mentions(k,
			    "recipient");
		}
	}
	return 0;
}

/*
 * One schedules/NAME.json file: an array of schedules, each with a stable
 * "id" unique across the files and the API's fields, checked as the API
 * checks them (the workflows are loaded first).
 */
static int
cfg_schedules(struct cfg_file *f, struct eng_config *c, char **cause)
{
	static const char *const keys[] = { "id", "workflow", "recipients",
		"repeats", "rrule", "exdates", "scheduled_at", "ending_at",
		"timezone", "data", "tenant", "actor", "dst_gap", "dst_overlap",
		"catchup_window", "paused", "per_subscriber", NULL };
	json_t *root, *v, *old;
	const char *id, *field;
	char path[64], *msg = NULL;
	size_t i, j;
	int rc = -1;

	if ((root = cfg_load(f, cause)) == NULL)
		return -1;
	if (!json_is_array(root)) {
		cfg_error(f, NULL, cause, "expected a JSON array of schedules");
		goto out;
	}
	json_array_foreach(root, i, v) {
		cfg_fmt(path, sizeof path, "[%zu]", i);
		if (!json_is_object(v)) {
			cfg_error(f, path, cause, "a schedule must be an object");
			goto out;
		}
		if (cfg_keys(f, path, v, keys, cause) != 0)
			goto out;
		id = json_string_value(json_object_get(v, "id"));
		if (id == NULL || !cfg_key_ok(id)) {
			cfg_fmt(path, sizeof path, "[%zu]%s", i,
			    json_object_get(v, "id") ? ".id" : "");
			cfg_error(f, path, cause, "a schedule needs an \"id\" of "
			    "letters, digits, '-', '_', '.'");
			goto out;
		}
		json_array_foreach(c->schedules, j, old) {
			if (strcmp(json_string_value(json_object_get(old, "id")),
			    id) == 0) {
				cfg_fmt(path, sizeof path, "[%zu].id", i);
				cfg_error(f, path, cause, "schedule \"%s\" is "
				    "defined twice", id);
				goto out;
			}
		}
		v = json_object_get(v, "recipients");
		if (!json_is_array(v) || json_array_size(v) == 0) {
			cfg_fmt(path, sizeof path, "[%zu]%s", i, v ?
			    ".recipients" : "");
			cfg_error(f, path, cause, "\"recipients\" must be a "
			    "non-empty array");
			goto out;
		}
		v = json_array_get(root, i);
		if (eng_sched_def_check(c, v, &field, &msg) != 0) {
			cfg_fmt(path, sizeof path, "[%zu]%s%s", i, field ? "." :
			    "", field ? field : "");
			cfg_error(f, path, cause, "%s", msg);
			free(msg);
			goto out;
		}
		json_array_append(c->schedules, v);
		json_object_set_new(c->schedule_files, id, json_string(f->path));
	}
	rc = 0;
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

/*
 * Read and check the n files (from cfg_list, freed here) with one, in
 * order, unless rc already failed; 0, or -1 at the first error.
 */
static int
cfg_each(char **files, size_t n, int rc, struct eng_config *c,
    int (*one)(struct cfg_file *, struct eng_config *, char **),
    char **cause)
{
	struct cfg_file f;
	size_t i;

	for (i = 0; i < n; i++) {
		f.path = files[i];
		if (rc == 0 && (f.text = cfg_read(f.path, cause)) == NULL)
			rc = -1;
		if (rc == 0) {
			rc = one(&f, c, cause);
			free(f.text);
		}
		free(files[i]);
	}
	free(files);
	return rc;
}

/* Load and check the whole configuration directory. */
struct eng_config *
eng_config_load(const char *dir, char **cause)
{
	struct eng_config *c = xcalloc(1, sizeof *c);
	struct cfg_file f;
	char **files, *conf;
	json_t *root;
	size_t n;
	int rc = 0;

	c->dir = xstrdup(dir);
	c->header_timeout = 10;
	c->body_timeout = 60;
	c->idle_timeout = 60;
	c->max_connections = 1024;
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
	rc = cfg_each(files, n, rc, c, cfg_workflow, cause);
	c->schedules = json_array();
	c->schedule_files = json_object();
	files = cfg_list(dir, "schedules", &n);
	rc = cfg_each(files, n, rc, c, cfg_schedules, cause);
	files = cfg_list(dir, "sources", &n);
	c->sources = xcalloc(n, sizeof *c->sources);
	rc = cfg_each(files, n, rc, c, cfg_source, cause);
	if (rc != 0) {
		eng_config_free(c);
		return NULL;
	}
	return c;
}
