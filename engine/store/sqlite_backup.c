/*
 * The SQLite backend's copies of itself: a hot backup taken in steps with
 * SQLite's online backup API, and the copy written before a migration.
 *
 * A copy is read through the store's own connection, so it includes what
 * the write-ahead log holds, and a commit made on that connection between
 * two steps is carried into the pages already copied (SQLite updates the
 * destination as it goes): the copy, once complete, is the database at the
 * instant of its last step, with its id key, and opens on its own.  It is
 * written to PATH.tmp and renamed to PATH only when complete and synced,
 * so PATH is either a whole copy or untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "engine/store/sqlite_int.h"

struct store_backup {
	struct store *s;
	sqlite3 *dst;
	sqlite3_backup *b;
	char *path, *tmp;
	int done;
};

/* See store.h: open PATH.tmp and start the copy. */
static struct store_backup *
sqlite_backup_begin(struct store *s, const char *path, char **cause)
{
	struct store_backup *k = xcalloc(1, sizeof *k);

	k->s = s;
	k->path = xstrdup(path);
	k->tmp = xasprintf("%s.tmp", path);
	unlink(k->tmp);
	if (sqlite3_open_v2(k->tmp, &k->dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("backup: cannot create %s: %s", k->tmp,
		    k->dst != NULL ? sqlite3_errmsg(k->dst) : "out of memory");
		goto fail;
	}
	if ((k->b = sqlite3_backup_init(k->dst, "main", s->db, "main")) ==
	    NULL) {
		*cause = xasprintf("backup: %s", sqlite3_errmsg(k->dst));
		goto fail;
	}
	return k;
fail:
	store_backup_finish(k, NULL);
	return NULL;
}

/* See store.h: copy up to pages more pages (-1: all of them). */
int
store_backup_step(struct store_backup *k, int pages, char **cause)
{
	int rc;

	if (k->s->in_txn) {
		*cause = xstrdup("backup: a step inside a transaction");
		return -1;
	}
	rc = sqlite3_backup_step(k->b, pages);
	if (rc == SQLITE_DONE) {
		k->done = 1;
		return 1;
	}
	if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return 0;
	*cause = xasprintf("backup to %s: %s", k->path,
	    sqlite3_errstr(rc));
	return -1;
}

/* See store.h: pages copied so far and the database's pages. */
void
store_backup_progress(const struct store_backup *k, int64_t *done,
    int64_t *total)
{
	int n = sqlite3_backup_pagecount(k->b);

	*total = n;
	*done = n - sqlite3_backup_remaining(k->b);
}

/* Make the copy's directory entry durable; 0 or -1. */
static int
backup_sync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rc = -1;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY)) >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

/*
 * See store.h: a complete copy is closed (SQLite syncs it at its commit)
 * and renamed into place; anything else is removed.
 */
int
store_backup_finish(struct store_backup *k, char **cause)
{
	int rc = 0, done = k->done;

	if (k->b != NULL && sqlite3_backup_finish(k->b) != SQLITE_OK && done) {
		if (cause != NULL)
			*cause = xasprintf("backup to %s: %s", k->path,
			    sqlite3_errmsg(k->dst));
		done = 0;
		rc = -1;
	}
	if (k->dst != NULL && sqlite3_close(k->dst) != SQLITE_OK && done) {
		if (cause != NULL)
			*cause = xasprintf("backup to %s: close failed",
			    k->path);
		done = 0;
		rc = -1;
	}
	if (done && (rename(k->tmp, k->path) != 0 ||
	    backup_sync_dir(k->path) != 0)) {
		if (cause != NULL)
			*cause = xasprintf("backup: cannot rename %s to %s: %s",
			    k->tmp, k->path, strerror(errno));
		rc = -1;
	}
	if (!done || rc != 0)
		unlink(k->tmp);
	free(k->path);
	free(k->tmp);
	free(k);
	return rc;
}

/*
 * Copy the store whole to path in one go (before a migration, with
 * nothing else running); 0 or -1 with *cause.
 */
int
sqlite_backup_whole(struct store *s, const char *path, char **cause)
{
	struct store_backup *k;

	if ((k = store_backup_begin(s, path, cause)) == NULL)
		return -1;
	if (store_backup_step(k, -1, cause) != 1) {
		store_backup_finish(k, NULL);
		return -1;
	}
	return store_backup_finish(k, cause);
}

/* This file's operations, into the backend's table. */
void
sqlite_backup_ops(struct store_ops *o)
{
	o->backup_begin = sqlite_backup_begin;
}
