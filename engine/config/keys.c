/*
 * API keys kept outside belfry.conf: api_keys_file (one key a line, #
 * comments, refused when its group or others may read it), and systemd
 * credentials ($CREDENTIALS_DIRECTORY/api_keys and .../metrics_api_keys,
 * from LoadCredential= in the unit), whose directory systemd makes
 * readable by the service alone.  The keys they hold join belfry.conf's
 * api_keys and metrics_api_keys; a file that cannot be read, or holds a
 * bad key, fails the load (start or reload) with an error naming it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/workflow/workflow_int.h"

/* Keys shorter than this are refused, as in belfry.conf's lists. */
#define CFG_KEY_MIN 8

/* The credentials belfryd reads from $CREDENTIALS_DIRECTORY. */
#define CFG_CRED_API "api_keys"
#define CFG_CRED_METRICS "metrics_api_keys"

/*
 * Append the keys of the file at path (what names it in errors) to *keys
 * and *n; private: refuse it when its group or others may read or write
 * it.  0, or -1 with *cause.
 */
static int
cfg_key_file(const char *path, const char *what, int private, char ***keys,
    size_t *n, char **cause)
{
	struct stat sb;
	char *text, *line, *save = NULL, *end;
	size_t lineno = 0;
	int rc = 0;

	if (stat(path, &sb) != 0) {
		*cause = xasprintf("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (private && (sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		*cause = xasprintf("%s %s: mode %04o lets its group or others "
		    "read it: chmod 600 %s (or 400)", what, path,
		    (unsigned)(sb.st_mode & 07777), path);
		return -1;
	}
	if ((text = cfg_read(path, cause)) == NULL)
		return -1;
	/* strtok_r skips empty lines; count them by position instead. */
	for (line = text; rc == 0 && line != NULL; line = save) {
		save = strchr(line, '\n');
		if (save != NULL)
			*save++ = '\0';
		lineno++;
		line += strspn(line, " \t\r");
		end = line + strlen(line);
		while (end > line && strchr(" \t\r", end[-1]) != NULL)
			*--end = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if (strlen(line) < CFG_KEY_MIN || strpbrk(line, " \t") != NULL) {
			*cause = xasprintf("%s %s:%zu: a key must be %d or more "
			    "characters without spaces", what, path, lineno,
			    CFG_KEY_MIN);
			rc = -1;
			break;
		}
		*keys = xreallocarray(*keys, *n + 2, sizeof **keys);
		(*keys)[(*n)++] = xstrdup(line);
		(*keys)[*n] = NULL;
	}
	free(text);
	return rc;
}

/*
 * Append the keys of systemd credential name to *keys and *n when the
 * service has it; 0, or -1 with *cause.
 */
static int
cfg_key_credential(const char *name, char ***keys, size_t *n, char **cause)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	struct stat sb;
	char *path;
	int rc;

	if (dir == NULL || *dir == '\0')
		return 0;
	path = xasprintf("%s/%s", dir, name);
	if (stat(path, &sb) != 0 && errno == ENOENT) {
		free(path);
		return 0;
	}
	rc = cfg_key_file(path, "credential", 0, keys, n, cause);
	free(path);
	return rc;
}

/* Whether key is in the n keys of list. */
static int
cfg_key_in(const char *key, char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return 1;
	return 0;
}

/* See workflow_int.h. */
int
cfg_key_sources(const struct cfg_file *f, json_t *root, struct eng_config *c,
    char **cause)
{
	char *file = NULL, *msg = NULL;
	size_t i;

	if (cfg_string(f, root, "api_keys_file", &file, cause) != 0)
		return -1;
	if (file != NULL && cfg_key_file(file, "api_keys_file", 1,
	    &c->api_keys, &c->n_api_keys, &msg) != 0) {
		cfg_error(f, "api_keys_file", cause, "%s", msg);
		free(msg);
		free(file);
		return -1;
	}
	free(file);
	if (cfg_key_credential(CFG_CRED_API, &c->api_keys, &c->n_api_keys,
	    cause) != 0 || cfg_key_credential(CFG_CRED_METRICS,
	    &c->metrics_keys, &c->n_metrics_keys, cause) != 0)
		return -1;
	for (i = 0; i < c->n_metrics_keys; i++)
		if (cfg_key_in(c->metrics_keys[i], c->api_keys,
		    c->n_api_keys) || cfg_key_in(c->metrics_keys[i],
		    c->public_keys, c->n_public_keys))
			return cfg_error(f, "metrics_api_keys", cause, "a "
			    "metrics key cannot also be a server or public "
			    "key");
	return 0;
}
