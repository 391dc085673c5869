/*
 * The group transaction and its requests, and the log channel lines that
 * wait for the commit.
 *
 * Requests nest (a schedule's fire runs in its own request inside the due
 * pass): each open request keeps a mark of what it may take back (the
 * queued log lines, the fires it recorded and the changes to feeds it
 * noted for the live push), so the marks form a stack
 * as the store's savepoints do.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Whether the request that ended last may succeed if run again. */
int
eng_request_retry(const struct eng *e)
{
	return store_request_retry(e->store);
}

/*
 * From now on the caller runs a transaction again when eng_txn_retry says
 * so: the store may end requests without waiting for their results.
 */
void
eng_optimistic(struct eng *e)
{
	store_optimistic(e->store, 1);
}

/* Whether the transaction whose commit failed last may commit if rerun. */
int
eng_txn_retry(const struct eng *e)
{
	return store_txn_retry(e->store);
}

/* Add the user v names (an id, or a reference without a collection). */
static void
eng_prefetch_add(json_t *v, const char **ids, size_t *k, size_t max)
{
	if (json_is_object(v) && json_object_get(v, "collection") == NULL)
		v = json_object_get(v, "id");
	if (json_is_string(v) && *k < max)
		ids[(*k)++] = json_string_value(v);
}

/*
 * Read ahead the users that n values name (each a recipient, such as a
 * trigger's actor, or an array of them, such as its "recipients"), so
 * that a store that waits for each read waits once for them all.
 */
void
eng_users_prefetch(struct eng *e, json_t *const *vals, size_t n,
    size_t runs)
{
	const char *ids[64];
	json_t *v;
	size_t i, j, k = 0, max = sizeof ids / sizeof ids[0];

	for (i = 0; i < n; i++)
		if (json_is_array(vals[i]))
			json_array_foreach(vals[i], j, v)
				eng_prefetch_add(v, ids, &k, max);
		else
			eng_prefetch_add(vals[i], ids, &k, max);
	store_users_prefetch(e->store, ids, k, runs);
}

/* Whether other nodes share the store. */
int
eng_shared(const struct eng *e)
{
	return store_shared(e->store);
}

/* The most requests one group transaction should hold. */
size_t
eng_group_max(const struct eng *e)
{
	return store_group_max(e->store);
}

/* Start the group transaction. */
int
eng_begin(struct eng *e, char **cause)
{
	assert(e->depth == 0);
	if (store_begin(e->store, cause) != 0)
		return -1;
	/*
	 * Other nodes may add preference sets at any time: whether any
	 * exists is read again in each transaction.  Every request of the
	 * transaction arrived before this read, so a set that another node
	 * committed before a request was sent is seen; a set this node adds
	 * meanwhile sets has_prefs at once (recipients.c).
	 */
	if (store_shared(e->store))
		e->has_prefs = store_prefs_exist(e->store);
	return 0;
}

/*
 * Queue a log line at priority pri (LOG_PRI_*): it is logged when the
 * transaction that made it commits, and dropped if the work rolls back.
 * The queue holds each line as its priority digit, the text and '\n'.
 */
void
eng_log_line(struct eng *e, int pri, const char *fmt, ...)
{
	va_list ap;
	char *line;
	size_t n;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (line == NULL)
		return;
	for (n = 0; line[n] != '\0'; n++)
		if (line[n] == '\n')
			line[n] = ' ';
	e->logs = xreallocarray(e->logs, e->logs_len + n + 3, 1);
	e->logs[e->logs_len++] = (char)('0' + pri % 10);
	memcpy(e->logs + e->logs_len, line, n);
	e->logs_len += n;
	e->logs[e->logs_len++] = '\n';
	e->logs[e->logs_len] = '\0';
	free(line);
}

/* Log queued lines (eng_log_line's form) through the log facility. */
static void
eng_logs_write(char *p)
{
	char *nl;

	for (; p != NULL && *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		*nl = '\0';
		log_emit(p[0] - '0', p + 1);
	}
}

/* Forget queued log lines after position len. */
static void
eng_logs_truncate(struct eng *e, size_t len)
{
	e->logs_len = len;
	if (e->logs != NULL)
		e->logs[len] = '\0';
}

/* After a commit: write its log lines and forget them. */
static void
eng_committed(struct eng *e)
{
	if (e->logs_len > 0)
		eng_logs_write(e->logs);
	eng_logs_truncate(e, 0);
}

/* Commit the group transaction (durably), then write its log lines. */
int
eng_commit(struct eng *e, char **cause)
{
	assert(e->depth == 0);
	/* A failed announcement fails the commit below (sticky). */
	eng_pushes_announce(e);
	if (store_commit(e->store, cause) != 0) {
		eng_rollback(e);
		return -1;
	}
	eng_committed(e);
	return 0;
}

/* See engine.h: commit without waiting where the store can. */
int
eng_commit_send(struct eng *e, char **cause)
{
	int rc;

	assert(e->depth == 0 && e->npending < ENG_PENDING_MAX);
	eng_pushes_announce(e);
	if ((rc = store_commit_send(e->store, cause)) < 0) {
		eng_rollback(e);
		return -1;
	}
	if (rc == 0) {
		eng_committed(e);
		return 0;
	}
	/* Its lines wait for its outcome. */
	e->logs_pending[e->npending++] = e->logs;
	e->logs = NULL;
	e->logs_len = 0;
	return 1;
}

/* See engine.h: the oldest pending commit's outcome. */
int
eng_commit_poll(struct eng *e, int wait, char **cause)
{
	char *logs;
	int rc;

	if (e->npending == 0)
		return 0;
	if ((rc = store_commit_poll(e->store, wait, cause)) == 1)
		return 1;
	logs = e->logs_pending[0];
	memmove(e->logs_pending, e->logs_pending + 1, --e->npending *
	    sizeof e->logs_pending[0]);
	if (rc == 0 && logs != NULL)
		eng_logs_write(logs);
	free(logs);
	return rc;
}

/* See engine.h: the descriptor of the pending commit's outcome. */
int
eng_commit_fd(const struct eng *e)
{
	return store_commit_fd(e->store);
}

/* Abandon the group transaction (and any request open in it). */
void
eng_rollback(struct eng *e)
{
	e->depth = 0;
	eng_logs_truncate(e, 0);
	e->nfired = 0;
	eng_pushes_truncate(e, 0);
	store_rollback(e->store);
}

/* Open a request: a savepoint, and a mark of what it may take back. */
void
eng_request_begin(struct eng *e)
{
	assert(e->depth < ENG_DEPTH_MAX);
	e->mark[e->depth].logs_len = e->logs_len;
	e->mark[e->depth].nfired = e->nfired;
	e->mark[e->depth].npushes = e->npushes;
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
	eng_pushes_truncate(e, e->mark[e->depth].npushes);
	return 0;
}
