/*
 * The engine's lifecycle: open and close over the store, the group
 * transaction and its requests, the log channel lines that wait for the
 * commit, the sweep of expired state, maintenance and counters.
 *
 * Requests nest (a schedule's fire runs in its own request inside the due
 * pass): each open request keeps a mark of what it may take back (the
 * queued log lines and the fires it recorded), so the marks form a stack
 * as the store's savepoints do.
 */
#include <assert.h>
#include <stdio.h>
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
	store_idkey(s, e->idkey);
	e->has_prefs = store_prefs_exist(s);
	return e;
}

/* Close the store and free the engine. */
void
eng_close(struct eng *e)
{
	if (e == NULL)
		return;
	store_close(e->store);
	eng_config_free(e->cfg);
	free(e->logs);
	free(e->fired);
	eng_sched_cache_free(e);
	free(e);
}

/* RFC 3339 UTC text of an instant. */
void
eng_iso(int64_t t, char *buf, size_t len)
{
	tz_instant_format(t, buf, len);
}

/* Start the group transaction. */
int
eng_begin(struct eng *e, char **cause)
{
	assert(e->depth == 0);
	return store_begin(e->store, cause);
}

/*
 * Queue a log channel line: it is written when the transaction that sent
 * the message commits, and dropped if the work rolls back.
 */
void
eng_log_line(struct eng *e, const char *line)
{
	size_t n = strlen(line);

	e->logs = xreallocarray(e->logs, e->logs_len + n + 2, 1);
	memcpy(e->logs + e->logs_len, line, n);
	e->logs_len += n;
	e->logs[e->logs_len++] = '\n';
	e->logs[e->logs_len] = '\0';
}

/* Forget queued log lines after position len. */
static void
eng_logs_truncate(struct eng *e, size_t len)
{
	e->logs_len = len;
	if (e->logs != NULL)
		e->logs[len] = '\0';
}

/* Commit the group transaction (durably), then write its log lines. */
int
eng_commit(struct eng *e, char **cause)
{
	assert(e->depth == 0);
	if (store_commit(e->store, cause) != 0) {
		eng_rollback(e);
		return -1;
	}
	if (e->logs_len > 0)
		fputs(e->logs, stderr);
	eng_logs_truncate(e, 0);
	return 0;
}

/* Abandon the group transaction (and any request open in it). */
void
eng_rollback(struct eng *e)
{
	e->depth = 0;
	eng_logs_truncate(e, 0);
	e->nfired = 0;
	store_rollback(e->store);
}

/* Open a request: a savepoint, and a mark of what it may take back. */
void
eng_request_begin(struct eng *e)
{
	assert(e->depth < ENG_DEPTH_MAX);
	e->mark[e->depth].logs_len = e->logs_len;
	e->mark[e->depth].nfired = e->nfired;
	e->depth++;
	store_request_begin(e->store);
}

/*
 * Close the innermost request, keeping its work only if ok and none of
 * its store operations failed (the store's mark is sticky); 1 if kept.
 */
int
eng_request_end(struct eng *e, int ok)
{
	assert(e->depth > 0);
	e->depth--;
	if (store_request_end(e->store, ok))
		return 1;
	eng_logs_truncate(e, e->mark[e->depth].logs_len);
	e->nfired = e->mark[e->depth].nfired;
	return 0;
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

/*
 * Delete what no longer matters, at most ENG_SWEEP_MAX rows of each kind
 * a call, once per ENG_SWEEP_EVERY seconds of engine time (in the
 * caller's transaction): idempotent replies older than 24 h, throttle hits
 * past the window they were counted for, cancel tombstones once no
 * fan-out they could stop is pending, and source events logged more than
 * ENG_SRC_KEEP seconds ago.
 */
void
eng_sweep(struct eng *e, int64_t now)
{
	assert(store_in_txn(e->store));
	if (now < e->next_sweep)
		return;
	e->next_sweep = now + ENG_SWEEP_EVERY;
	store_sweep(e->store, now, now - 86400, ENG_SWEEP_MAX);
	store_source_sweep(e->store, now - ENG_SRC_KEEP, ENG_SWEEP_MAX);
}

/* Counters for /metrics (the store's failures among the errors). */
void
eng_stats(struct eng *e, struct eng_stats *s)
{
	*s = e->stats;
	s->errors += store_errors(e->store);
}
