/*
 * A config file being checked: read (a regular file of bounded size,
 * never waited on), parsed as a JSON object, and its errors positioned:
 * every error names file:line:column -- jansson's for syntax,
 * eng_jsonpos() for a value that parses but is wrong.  Unknown keys are
 * errors: a misspelt key should not be silently ignored.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "engine/workflow/workflow_int.h"

/* The largest config file read. */
#define CFG_MAX_FILE (16 * 1024 * 1024)

/* Format a value's path into buf (a long path is cut, which is harmless). */
void
cfg_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Set *cause to "file:line:column: message" for the value at path. */
int
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
char *
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

/*
 * Parse f's text as JSON; NULL with *cause positioned where jansson
 * stopped.  Columns count from 1: jansson says 0 for an error before the
 * first character of a line (an empty file, a file cut after a newline).
 */
json_t *
cfg_load(const struct cfg_file *f, char **cause)
{
	json_error_t err;
	json_t *root;

	root = json_loads(f->text, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		*cause = xasprintf("%s:%d:%d: %s", f->path, err.line > 0 ?
		    err.line : 1, err.column > 0 ? err.column : 1, err.text);
	return root;
}

/* Parse f's text as a JSON object; NULL with a positioned *cause. */
json_t *
cfg_parse(struct cfg_file *f, char **cause)
{
	json_t *root;

	if ((root = cfg_load(f, cause)) == NULL)
		return NULL;
	if (!json_is_object(root)) {
		json_decref(root);
		cfg_error(f, NULL, cause, "expected a JSON object");
		return NULL;
	}
	return root;
}

/* Refuse keys of o not in the NULL-terminated list allowed. */
int
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
int
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

/* Whether s is a usable key: letters, digits, '-', '_' and '.'. */
int
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

/*
 * Parse f as an object of the allowed keys whose "key" is usable as a
 * name (what: "workflow", "source"): the root, the caller's, with *key
 * inside it; NULL with a positioned *cause.
 */
json_t *
cfg_keyed(struct cfg_file *f, const char *const *allowed, const char *what,
    const char **key, char **cause)
{
	json_t *root;

	if ((root = cfg_parse(f, cause)) == NULL)
		return NULL;
	if (cfg_keys(f, "", root, allowed, cause) != 0) {
		json_decref(root);
		return NULL;
	}
	*key = json_string_value(json_object_get(root, "key"));
	if (*key == NULL || !cfg_key_ok(*key)) {
		cfg_error(f, json_object_get(root, "key") ? "key" : NULL,
		    cause, "a %s needs a \"key\" of letters, digits, '-', '_', "
		    "'.'", what);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Check that v is an array of strings. */
int
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
