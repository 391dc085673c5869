/*
 * belfry.conf's channels: their types, and the keys of the channels that
 * deliver through the network (http and email): URLs, methods, templated
 * headers, signing secrets, SMTP servers, senders, credentials, STARTTLS,
 * CA files and per-channel limits.  Every error names file:line:column.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine/workflow/workflow_int.h"
#include "engine/workflow/template.h"

/*
 * Whether url is scheme://HOST[:PORT][/PATH][?QUERY], HOST a name, an
 * IPv4 address or a bracketed IPv6 one, PORT 1..65535, for one of the
 * NULL-terminated schemes; 0 with *loopback (a 127.x, [::1] or localhost
 * HOST), or -1 with *cause.
 */
static int
cfg_url(const char *url, const char *const *schemes, int *loopback,
    char **cause)
{
	const char *h = NULL, *end, *p;
	char host[256], *e;
	size_t i, n;
	long port;

	for (i = 0; url != NULL && schemes[i] != NULL && h == NULL; i++) {
		n = strlen(schemes[i]);
		if (strncmp(url, schemes[i], n) == 0 &&
		    strncmp(url + n, "://", 3) == 0)
			h = url + n + 3;
	}
	if (h == NULL || *h == '\0')
		goto bad;
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
	n = (size_t)(end - h) < sizeof host ? (size_t)(end - h) :
	    sizeof host - 1;
	memcpy(host, h, n);
	host[n] = '\0';
	*loopback = strcmp(host, "localhost") == 0 || strcmp(host,
	    "[::1]") == 0 || strncmp(host, "127.", 4) == 0;
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
	*cause = xasprintf("expected %s://HOST[:PORT]/PATH%s%s%s",
	    schemes[0], schemes[1] != NULL ? " or " : "",
	    schemes[1] != NULL ? schemes[1] : "", schemes[1] != NULL ?
	    "://..." : "");
	return -1;
}

/* Free what a channel holds. */
void
cfg_channel_clear(struct eng_channel *ch)
{
	size_t i;

	for (i = 0; ch->header_parts != NULL && i < json_object_size(
	    ch->headers); i++)
		eng_template_free(ch->header_parts[i]);
	free(ch->header_parts);
	json_decref(ch->headers);
	eng_template_free(ch->list_unsubscribe_part);
	free(ch->name);
	free(ch->type);
	free(ch->url);
	free(ch->method);
	free(ch->secret);
	free(ch->from);
	free(ch->from_addr);
	free(ch->username);
	free(ch->password);
	free(ch->list_unsubscribe);
	free(ch->ca_file);
	memset(ch, 0, sizeof *ch);
}

/* See engine.h. */
int
eng_channel_outgoing(const char *type)
{
	return strcmp(type, "http") == 0 || strcmp(type, "email") == 0;
}

/* Whether name is an HTTP header name (an RFC 9110 token). */
static int
cfg_header_name(const char *name)
{
	const char *p;

	if (*name == '\0' || strlen(name) > 128)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~",
		    *p) != NULL))
			return 0;
	return 1;
}

/*
 * An http channel's headers: {name: value}, values templates; the names
 * belfry sets itself are refused.
 */
static int
cfg_channel_headers(const struct cfg_file *f, const char *path, json_t *v,
    struct eng_channel *ch, char **cause)
{
	static const char *const own[] = { "host", "content-length",
		"transfer-encoding", "connection", "expect", "idempotency-key",
		"webhook-id", "webhook-timestamp", "webhook-signature", NULL };
	const char *name;
	char p[512], *tc = NULL;
	json_t *val;
	size_t n = 0, i;

	if (!json_is_object(v))
		return cfg_error(f, path, cause, "channel \"%s\": \"headers\" "
		    "must be an object of header name -> value", ch->name);
	ch->headers = json_incref(v);
	ch->header_parts = xcalloc(json_object_size(v) + 1,
	    sizeof *ch->header_parts);
	json_object_foreach(v, name, val) {
		cfg_fmt(p, sizeof p, "%s.%s", path, name);
		if (!cfg_header_name(name))
			return cfg_error(f, p, cause, "channel \"%s\": \"%s\" "
			    "is not a header name", ch->name, name);
		for (i = 0; own[i] != NULL && strcasecmp(own[i], name) != 0;
		    i++)
			;
		if (own[i] != NULL)
			return cfg_error(f, p, cause, "channel \"%s\": belfry "
			    "sets the %s header itself", ch->name, name);
		if (!json_is_string(val))
			return cfg_error(f, p, cause, "channel \"%s\": header "
			    "\"%s\" must be a string", ch->name, name);
		if ((ch->header_parts[n] = eng_template_parse(
		    json_string_value(val), &tc)) == NULL) {
			cfg_error(f, p, cause, "channel \"%s\": header \"%s\": "
			    "%s", ch->name, name, tc);
			free(tc);
			return -1;
		}
		n++;
	}
	return 0;
}

/*
 * A channel's max_sessions (1..64) and max_per_second (a positive
 * number up to 100000), with the type's default sessions.
 */
static int
cfg_channel_limits(const struct cfg_file *f, const char *path, json_t *v,
    struct eng_channel *ch, char **cause)
{
	json_t *x;
	char p[512];

	ch->max_sessions = strcmp(ch->type, "email") == 0 ? 4 : 16;
	cfg_fmt(p, sizeof p, "%s.max_sessions", path);
	if ((x = json_object_get(v, "max_sessions")) != NULL) {
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > 64)
			return cfg_error(f, p, cause, "channel \"%s\": "
			    "\"max_sessions\" must be an integer 1..64",
			    ch->name);
		ch->max_sessions = (int)json_integer_value(x);
	}
	cfg_fmt(p, sizeof p, "%s.max_per_second", path);
	if ((x = json_object_get(v, "max_per_second")) != NULL) {
		if (!json_is_number(x) || json_number_value(x) <= 0 ||
		    json_number_value(x) > 100000)
			return cfg_error(f, p, cause, "channel \"%s\": "
			    "\"max_per_second\" must be a number above 0, at "
			    "most 100000", ch->name);
		ch->max_per_second = json_number_value(x);
	}
	return 0;
}

/*
 * A file's contents without the line break that ends them, for a secret
 * read from a file (a path relative to the config directory); NULL with
 * *cause.
 */
static char *
cfg_secret_file(const char *dir, const char *path, char **cause)
{
	char *full = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", dir,
	    path), *text, *msg = NULL;
	size_t n;

	text = cfg_read(full, &msg);
	free(full);
	if (text == NULL) {
		*cause = msg;
		return NULL;
	}
	n = strlen(text);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	if (n == 0 || strchr(text, '\n') != NULL) {
		free(text);
		*cause = xasprintf("%s must hold the password on one line",
		    path);
		return NULL;
	}
	return text;
}

/* An http channel's keys past type and url. */
static int
cfg_channel_http(const struct cfg_file *f, const char *path, json_t *v,
    struct eng_channel *ch, char **cause)
{
	static const char *const methods[] = { "POST", "PUT", "PATCH",
		"DELETE", NULL };
	const char *m = json_string_value(json_object_get(v, "method"));
	const char *secret;
	char p[512], *msg = NULL;
	json_t *x;
	size_t i;

	if ((x = json_object_get(v, "method")) != NULL) {
		for (i = 0; m != NULL && methods[i] != NULL &&
		    strcmp(methods[i], m) != 0; i++)
			;
		cfg_fmt(p, sizeof p, "%s.method", path);
		if (m == NULL || methods[i] == NULL)
			return cfg_error(f, p, cause, "channel \"%s\": "
			    "\"method\" must be POST, PUT, PATCH or DELETE",
			    ch->name);
	}
	ch->method = xstrdup(m != NULL ? m : "POST");
	cfg_fmt(p, sizeof p, "%s.headers", path);
	if ((x = json_object_get(v, "headers")) != NULL &&
	    cfg_channel_headers(f, p, x, ch, cause) != 0)
		return -1;
	cfg_fmt(p, sizeof p, "%s.signing_secret", path);
	if ((x = json_object_get(v, "signing_secret")) != NULL) {
		secret = json_string_value(x);
		if (secret == NULL || eng_webhook_secret(secret, &ch->secret,
		    &ch->secret_len, &msg) != 0) {
			cfg_error(f, p, cause, "channel \"%s\": %s", ch->name,
			    msg != NULL ? msg : "\"signing_secret\" must be a "
			    "string");
			free(msg);
			return -1;
		}
	}
	return 0;
}

/* An email channel's keys past type. */
static int
cfg_channel_email(const struct cfg_file *f, const char *path, json_t *v,
    const char *dir, struct eng_channel *ch, char **cause)
{
	static const char *const schemes[] = { "smtp", "smtps", NULL };
	const char *url = json_string_value(json_object_get(v, "smtp_url"));
	const char *tls = json_string_value(json_object_get(v, "starttls"));
	const char *from = json_string_value(json_object_get(v, "from"));
	const char *user = json_string_value(json_object_get(v, "username"));
	const char *pw = json_string_value(json_object_get(v,
	    "password_file"));
	const char *lu = json_string_value(json_object_get(v,
	    "list_unsubscribe"));
	char p[512], *msg = NULL, *name = NULL;
	int loopback = 0;

	cfg_fmt(p, sizeof p, "%s%s", path, json_object_get(v, "smtp_url") ?
	    ".smtp_url" : "");
	if (cfg_url(url, schemes, &loopback, &msg) != 0) {
		cfg_error(f, p, cause, "channel \"%s\": \"smtp_url\": %s",
		    ch->name, msg);
		free(msg);
		return -1;
	}
	ch->url = xstrdup(url);
	cfg_fmt(p, sizeof p, "%s%s", path, json_object_get(v, "from") ?
	    ".from" : "");
	if (from == NULL || eng_mail_parse(from, &name, &ch->from_addr) != 0)
		return cfg_error(f, p, cause, "channel \"%s\": \"from\" must "
		    "be an address, \"noreply@example.com\" or \"Example "
		    "<noreply@example.com>\"", ch->name);
	free(name);
	ch->from = xstrdup(from);
	cfg_fmt(p, sizeof p, "%s.starttls", path);
	if (json_object_get(v, "starttls") == NULL)
		ch->starttls = loopback ? ENG_STARTTLS_OPTIONAL :
		    ENG_STARTTLS_REQUIRED;
	else if (tls != NULL && strcmp(tls, "required") == 0)
		ch->starttls = ENG_STARTTLS_REQUIRED;
	else if (tls != NULL && strcmp(tls, "optional") == 0)
		ch->starttls = ENG_STARTTLS_OPTIONAL;
	else if (tls != NULL && strcmp(tls, "never") == 0)
		ch->starttls = ENG_STARTTLS_NEVER;
	else
		return cfg_error(f, p, cause, "channel \"%s\": \"starttls\" "
		    "must be \"required\", \"optional\" or \"never\"",
		    ch->name);
	if ((user == NULL) != (pw == NULL) || (json_object_get(v,
	    "username") != NULL && user == NULL) || (json_object_get(v,
	    "password_file") != NULL && pw == NULL)) {
		cfg_fmt(p, sizeof p, "%s.%s", path, user == NULL ? "username" :
		    "password_file");
		return cfg_error(f, json_object_get(v, user == NULL ?
		    "username" : "password_file") ? p : path, cause,
		    "channel \"%s\": \"username\" and \"password_file\" are "
		    "strings given together", ch->name);
	}
	if (pw != NULL) {
		cfg_fmt(p, sizeof p, "%s.password_file", path);
		if ((ch->password = cfg_secret_file(dir, pw, &msg)) == NULL) {
			cfg_error(f, p, cause, "channel \"%s\": %s", ch->name,
			    msg);
			free(msg);
			return -1;
		}
		ch->username = xstrdup(user);
	}
	cfg_fmt(p, sizeof p, "%s.list_unsubscribe", path);
	if (json_object_get(v, "list_unsubscribe") != NULL) {
		if (lu == NULL)
			return cfg_error(f, p, cause, "channel \"%s\": "
			    "\"list_unsubscribe\" must be a string", ch->name);
		ch->list_unsubscribe = xstrdup(lu);
		if ((ch->list_unsubscribe_part = eng_template_parse(
		    ch->list_unsubscribe, &msg)) == NULL) {
			cfg_error(f, p, cause, "channel \"%s\": "
			    "\"list_unsubscribe\": %s", ch->name, msg);
			free(msg);
			return -1;
		}
	}
	return 0;
}

/* The channels of belfry.conf. */
int
cfg_channels(const struct cfg_file *f, json_t *o, struct eng_config *c,
    char **cause)
{
	static const char *const plain[] = { "type", NULL };
	static const char *const http[] = { "type", "url", "method",
		"headers", "signing_secret", "ca_file", "max_sessions",
		"max_per_second", NULL };
	static const char *const email[] = { "type", "smtp_url", "from",
		"username", "password_file", "starttls", "ca_file",
		"max_sessions", "max_per_second", "list_unsubscribe", NULL };
	static const char *const http_schemes[] = { "http", "https", NULL };
	const char *name, *type, *url, *ca;
	struct eng_channel *ch;
	char path[512], p[600], *msg;
	json_t *v;
	int loopback;

	if (!json_is_object(o))
		return cfg_error(f, "channels", cause, "\"channels\" must be "
		    "an object of channel name -> {\"type\": ...}");
	c->channels = xcalloc(json_object_size(o), sizeof *c->channels);
	json_object_foreach(o, name, v) {
		cfg_fmt(path, sizeof path, "channels.%s", name);
		if (!json_is_object(v))
			return cfg_error(f, path, cause, "channel \"%s\" must "
			    "be an object", name);
		type = json_string_value(json_object_get(v, "type"));
		if (type == NULL || (strcmp(type, "in_app_feed") != 0 &&
		    strcmp(type, "http") != 0 && strcmp(type, "email") != 0 &&
		    strcmp(type, "log") != 0))
			return cfg_error(f, path, cause, "channel \"%s\": "
			    "\"type\" must be in_app_feed, http, email or log",
			    name);
		if (cfg_keys(f, path, v, strcmp(type, "http") == 0 ? http :
		    strcmp(type, "email") == 0 ? email : plain, cause) != 0)
			return -1;
		ch = &c->channels[c->n_channels++];
		ch->name = xstrdup(name);
		ch->type = xstrdup(type);
		if (!eng_channel_outgoing(type))
			continue;
		if (strcmp(type, "http") == 0) {
			url = json_string_value(json_object_get(v, "url"));
			if (cfg_url(url, http_schemes, &loopback, &msg) != 0) {
				cfg_fmt(p, sizeof p, "%s%s", path,
				    json_object_get(v, "url") ? ".url" : "");
				cfg_error(f, p, cause, "channel \"%s\": an http "
				    "channel needs \"url\": %s", name, msg);
				free(msg);
				return -1;
			}
			ch->url = xstrdup(url);
			if (cfg_channel_http(f, path, v, ch, cause) != 0)
				return -1;
		} else if (cfg_channel_email(f, path, v, c->dir, ch,
		    cause) != 0)
			return -1;
		if (json_object_get(v, "ca_file") != NULL) {
			cfg_fmt(p, sizeof p, "%s.ca_file", path);
			ca = json_string_value(json_object_get(v, "ca_file"));
			if (ca == NULL || *ca == '\0')
				return cfg_error(f, p, cause, "channel \"%s\": "
				    "\"ca_file\" must be a file name", name);
			ch->ca_file = ca[0] == '/' ? xstrdup(ca) :
			    xasprintf("%s/%s", c->dir, ca);
			if (access(ch->ca_file, R_OK) != 0)
				return cfg_error(f, p, cause, "channel \"%s\": "
				    "\"ca_file\" %s: %s", name, ch->ca_file,
				    strerror(errno));
		}
		if (cfg_channel_limits(f, path, v, ch, cause) != 0)
			return -1;
	}
	return 0;
}
