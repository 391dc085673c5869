/*
 * Configuration: CONFIG_DIR/belfry.conf, CONFIG_DIR/workflows/NAME.json and
 * CONFIG_DIR/schedules/NAME.json,
 * read with jansson.  Every error names file:line:column -- jansson's for
 * syntax, eng_jsonpos() for a value that parses but is wrong.  Unknown keys
 * are errors: a misspelt key should not be silently ignored.
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "engine/conditions.h"
#include "engine/preferences.h"
#include "engine/template.h"

/* The largest config file read. */
#define CFG_MAX_FILE (16 * 1024 * 1024)

/* A file being checked: its name and text, for positions. */
struct cfg_file {
	const char *path;
	char *text;
};

/* Format a value's path into buf (a long path is cut, which is harmless). */
static void __attribute__((format(printf, 3, 4)))
cfg_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

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

/*
 * Read a whole config file; NULL with *cause.  It is opened non-blocking
 * and must be a regular file of at most CFG_MAX_FILE bytes: a FIFO or a
 * device named *.json is refused, never waited on.
 */
static char *
cfg_read(const char *path, char **cause)
{
	struct stat sb;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) ==
	    -1) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		*cause = xasprintf("%s: not a regular file (%s)", path,
		    S_ISFIFO(sb.st_mode) ? "a FIFO" : S_ISDIR(sb.st_mode) ?
		    "a directory" : S_ISSOCK(sb.st_mode) ? "a socket" :
		    "a device");
		close(fd);
		return NULL;
	}
	if (sb.st_size > CFG_MAX_FILE) {
		*cause = xasprintf("%s: larger than %d MiB", path,
		    CFG_MAX_FILE >> 20);
		close(fd);
		return NULL;
	}
	/* One byte more than it said, to see it grow past the bound. */
	buf = xmalloc((size_t)sb.st_size + 2);
	while (len < (size_t)sb.st_size + 1) {
		n = read(fd, buf + len, (size_t)sb.st_size + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*cause = xasprintf("%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > (size_t)sb.st_size) {
		*cause = xasprintf("%s: changed while it was read", path);
		free(buf);
		return NULL;
	}
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
 * Whether url is what webhook deliveries can send to: http://HOST[:PORT]
 * [/PATH], HOST a name, an IPv4 address or a bracketed IPv6 one, PORT
 * 1..65535; 0 or -1 with *cause.
 */
static int
cfg_http_url(const char *url, char **cause)
{
	const char *h, *end, *p;
	char *e;
	long port;

	if (url == NULL || strncmp(url, "http://", 7) != 0 || url[7] == '\0')
		goto bad;
	h = url + 7;
	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL || end == h + 1)
			goto bad;
		end++;
	} else {
		end = h + strcspn(h, ":/?#");
		if (end == h)
			goto bad;
		for (p = h; p < end; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
			    *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			    *p == '-' || *p == '.' || *p == '_'))
				goto bad;
	}
	if (*end == ':') {
		errno = 0;
		port = strtol(end + 1, &e, 10);
		if (end[1] < '0' || end[1] > '9' || errno != 0 || port < 1 ||
		    port > 65535 || (*e != '\0' && *e != '/' && *e != '?')) {
			*cause = xstrdup("the port must be 1..65535");
			return -1;
		}
		end = e;
	}
	if (*end != '\0' && *end != '/' && *end != '?')
		goto bad;
	return 0;
bad:
	*cause = xstrdup("an http channel needs \"url\": "
	    "\"http://HOST[:PORT]/PATH\"");
	return -1;
}

/* The channels of belfry.conf. */
static int
cfg_channels(const struct cfg_file *f, json_t *o, struct eng_config *c,
    char **cause)
{
	static const char *const keys[] = { "type", "url", NULL };
	const char *name, *type, *url;
	struct eng_channel *ch;
	char path[512], *msg;
	json_t *v;

	if (!json_is_object(o))
		return cfg_error(f, "channels", cause, "\"channels\" must be "
		    "an object of channel name -> {\"type\": ...}");
	c->channels = xcalloc(json_object_size(o), sizeof *c->channels);
	json_object_foreach(o, name, v) {
		cfg_fmt(path, sizeof path, "channels.%s", name);
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
		if (strcmp(type, "http") == 0 && cfg_http_url(url, &msg) != 0) {
			cfg_fmt(path, sizeof path, "channels.%s%s", name,
			    json_object_get(v, "url") ? ".url" : "");
			cfg_error(f, path, cause, "channel \"%s\": %s", name,
			    msg);
			free(msg);
			return -1;
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
		"database_integrity_check", "header_timeout", "body_timeout",
		"idle_timeout", "max_connections", "public_api_keys",
		"user_token_public_key", "allowed_origins", "tls", NULL };
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
		    "\"template\": {\"markdown\"|\"text\"|\"body\"|"
		    "\"subject\": \"...\"}", s->ref);
	json_object_foreach(t, k, v) {
		cfg_fmt(p, sizeof p, "%s.template.%s", path, k);
		if (strcmp(k, "buttons") == 0) {
			if (cfg_buttons(f, p, v, s, cause) != 0)
				return -1;
			continue;
		}
		if (strcmp(k, "markdown") != 0 && strcmp(k, "text") != 0 &&
		    strcmp(k, "body") != 0 && strcmp(k, "subject") != 0 &&
		    strcmp(k, "action_url") != 0)
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
static int
cfg_workflow(struct cfg_file *f, struct eng_config *c, char **cause)
{
	static const char *const keys[] = { "key", "name", "categories",
		"data_required", "steps", "description", "override_preferences",
		NULL };
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
		w->needs_recipient |= w->steps[i].window_rule != NULL;
out:
	json_decref(root);
	return rc;
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
	json_error_t err;
	json_t *root, *v, *old;
	const char *id, *field;
	char path[64], *msg = NULL;
	size_t i, j;
	int rc = -1;

	if ((root = json_loads(f->text, JSON_REJECT_DUPLICATES, &err)) ==
	    NULL) {
		*cause = xasprintf("%s:%d:%d: %s", f->path, err.line,
		    err.column, err.text);
		return -1;
	}
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
	c->schedules = json_array();
	c->schedule_files = json_object();
	files = cfg_list(dir, "schedules", &n);
	for (i = 0; i < n; i++) {
		f.path = files[i];
		if (rc == 0 && (f.text = cfg_read(f.path, cause)) == NULL)
			rc = -1;
		if (rc == 0) {
			rc = cfg_schedules(&f, c, cause);
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
			struct eng_step *st = &w->steps[j];
			size_t k;

			free(st->ref);
			free(st->type);
			json_decref(st->template);
			for (k = 0; k < sizeof st->parts / sizeof st->parts[0];
			    k++)
				eng_template_free(st->parts[k]);
			for (k = 0; k < st->nbuttons; k++)
				eng_template_free(st->buttons[k]);
			free(st->buttons);
			json_decref(st->conditions);
			json_decref(st->def);
			free(st->duration_key);
			free(st->window_rule);
			free(st->batch_key);
			free(st->throttle_key);
			for (k = 0; k < st->nbranches; k++) {
				free(st->branches[k].name);
				json_decref(st->branches[k].conditions);
			}
			free(st->branches);
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
	for (i = 0; i < c->n_public_keys; i++)
		free(c->public_keys[i]);
	free(c->public_keys);
	for (i = 0; i < c->n_origins; i++)
		free(c->origins[i]);
	free(c->origins);
	free(c->user_token_key);
	free(c->tls_cert);
	free(c->tls_key);
	json_decref(c->default_prefs);
	json_decref(c->schedules);
	json_decref(c->schedule_files);
	free(c->dir);
	free(c->socket);
	free(c->database);
	free(c->listen);
	free(c->db_check);
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

/* belfry.conf's database_integrity_check: quick (default), full or off. */
const char *
eng_config_database_check(const struct eng_config *c)
{
	return c->db_check != NULL ? c->db_check : "quick";
}

/* belfry.conf's listen address. */
const char *
eng_config_listen(const struct eng_config *c)
{
	return c->listen;
}

/* belfry.conf's header_timeout: seconds for a whole request head. */
int
eng_config_header_timeout(const struct eng_config *c)
{
	return c->header_timeout;
}

/* belfry.conf's body_timeout: seconds for a request body (and a reply). */
int
eng_config_body_timeout(const struct eng_config *c)
{
	return c->body_timeout;
}

/* belfry.conf's idle_timeout: seconds a kept-alive connection may idle. */
int
eng_config_idle_timeout(const struct eng_config *c)
{
	return c->idle_timeout;
}

/* belfry.conf's max_connections: open connections per listener. */
int
eng_config_max_connections(const struct eng_config *c)
{
	return c->max_connections;
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

/* How many public API keys belfry.conf lists. */
size_t
eng_config_public_key_count(const struct eng_config *c)
{
	return c->n_public_keys;
}

/* Public API key i. */
const char *
eng_config_public_key(const struct eng_config *c, size_t i)
{
	return i < c->n_public_keys ? c->public_keys[i] : NULL;
}

/* belfry.conf's user_token_public_key (a PEM file's path), or NULL. */
const char *
eng_config_user_token_key(const struct eng_config *c)
{
	return c->user_token_key;
}

/* How many allowed origins belfry.conf lists. */
size_t
eng_config_origin_count(const struct eng_config *c)
{
	return c->n_origins;
}

/* Allowed origin i. */
const char *
eng_config_origin(const struct eng_config *c, size_t i)
{
	return i < c->n_origins ? c->origins[i] : NULL;
}

/* The tls section's certificate file, or NULL. */
const char *
eng_config_tls_certificate(const struct eng_config *c)
{
	return c->tls_cert;
}

/* The tls section's key file, or NULL. */
const char *
eng_config_tls_key(const struct eng_config *c)
{
	return c->tls_key;
}

/* How many workflows are loaded. */
size_t
eng_config_workflow_count(const struct eng_config *c)
{
	return c->n_workflows;
}

/* Whether configuration c has workflow key. */
int
eng_config_has_workflow(const struct eng_config *c, const char *key)
{
	return eng_workflow_find(c, key) != NULL;
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
