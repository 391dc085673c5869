/*
 * The engine's lifecycle: open and close over the store (with the hooks
 * and caches of its sub-modules), the configuration in force,
 * maintenance, idempotent replies and counters.  Nothing inside the
 * engine calls up into this file.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Open the database with no integrity check (tests, tools, benches). */
struct eng *
eng_open(const char *path, char **cause)
{
	return eng_open_checked(path, "off", cause);
}

/* Open the store (see engine.h) and the engine's state over it. */
struct eng *
eng_open_checked(const char *path, const char *check, char **cause)
{
	struct store *s;
	struct eng *e;

	if ((s = store_open(path, check, cause)) == NULL)
		return NULL;
	e = xcalloc(1, sizeof *e);
	e->store = s;
	e->hooks = &eng_sched_hooks;
	store_idkey(s, e->idkey);
	/* Other nodes may add preferences at any time: see eng_begin. */
	e->has_prefs = store_shared(s) || store_prefs_exist(s);
	return e;
}

/* Close the store and free the engine. */
void
eng_close(struct eng *e)
{
	if (e == NULL)
		return;
	while (e->npending > 0)
		eng_commit_poll(e, 1, NULL);
	store_close(e->store);
	eng_config_free(e->cfg);
	free(e->logs);
	eng_pushes_truncate(e, 0);
	free(e->pushes);
	free(e->fired);
	free(e->due_scheds);
	eng_sched_cache_free(e);
	eng_counts_free(e);
	free(e);
}

/* See engine.h. */
int
eng_ping(struct eng *e, char **cause)
{
	return store_ping(e->store, cause);
}

/* See engine.h. */
void
eng_figures(struct eng *e, struct eng_figures *out)
{
	struct store_figures f;

	store_figures(e->store, &f);
	out->schema_version = f.schema_version;
	out->bytes = f.bytes;
	out->schedules = f.schedules;
	out->messages_created = f.messages_created;
	out->backend = f.backend;
	memcpy(out->node, f.node, sizeof out->node);
	out->leases = f.leases;
}

/* Install a configuration (the engine owns it from now on). */
void
eng_set_config(struct eng *e, struct eng_config *c)
{
	eng_config_free(e->cfg);
	e->cfg = c;
	/* The windows may have changed: look again at the next pass. */
	e->retain_next = 0;
}

/* The configuration in force. */
const struct eng_config *
eng_config(const struct eng *e)
{
	return e->cfg;
}

/* How pressing the store's maintenance is. */
enum eng_maint
eng_maint_due(const struct eng *e)
{
	switch (store_maint_due(e->store)) {
	case STORE_MAINT_URGENT:
		return ENG_MAINT_URGENT;
	case STORE_MAINT_DUE:
		return ENG_MAINT_DUE;
	default:
		return ENG_MAINT_NONE;
	}
}

/* Run the store's maintenance (outside a transaction); 0 or -1. */
int
eng_maintain(struct eng *e, char **cause)
{
	return store_maintain(e->store, cause);
}

/* Start a hot backup to path (see engine.h). */
struct eng_backup *
eng_backup_begin(struct eng *e, const char *path, char **cause)
{
	return (struct eng_backup *)store_backup_begin(e->store, path, cause);
}

/* Copy up to pages more pages of a backup. */
int
eng_backup_step(struct eng_backup *b, int pages, char **cause)
{
	return store_backup_step((struct store_backup *)b, pages, cause);
}

/* A backup's pages copied and the database's pages. */
void
eng_backup_progress(const struct eng_backup *b, int64_t *done,
    int64_t *total)
{
	store_backup_progress((const struct store_backup *)b, done, total);
}

/* End a backup: renamed into place when complete, else removed. */
int
eng_backup_finish(struct eng_backup *b, char **cause)
{
	return store_backup_finish((struct store_backup *)b, cause);
}

/* The store's own gauges for /metrics; their count. */
size_t
eng_store_gauges(const struct eng *e, struct eng_gauge *out, size_t max)
{
	struct store_gauge g[8];
	size_t n, i;

	n = store_gauges(e->store, g, max < 8 ? max : 8);
	for (i = 0; i < n; i++) {
		out[i].name = g[i].name;
		out[i].help = g[i].help;
		out[i].value = g[i].value;
	}
	return n;
}

/* A stored idempotent reply younger than 24 h. */
int
eng_idem_get(struct eng *e, const char *key, int64_t now, int *status,
    char **body)
{
	int64_t created;

	if (!store_idem_get(e->store, key, status, body, &created))
		return 0;
	if (created > now - 86400)
		return 1;
	free(*body);
	*body = NULL;
	return 0;
}

/* Store an idempotent reply (eng_sweep drops it after 24 h). */
void
eng_idem_put(struct eng *e, const char *key, int status, const char *body,
    int64_t now)
{
	store_idem_put(e->store, key, status, body, now);
}

/* Counters for /metrics (the store's failures among the errors). */
void
eng_stats(struct eng *e, struct eng_stats *s)
{
	*s = e->stats;
	s->errors += store_errors(e->store);
}
