/*
 * A thin VFS over the default one that gathers the writes to the log
 * (the -wal file) into one buffer and hands them to the file in a single
 * write when SQLite syncs the log, reads it, or asks its size.
 *
 * SQLite writes each log frame as two writes (a 24-byte header, then the
 * page), so a commit of n pages costs 2n system calls; here one per
 * WALBUF_MAX bytes (30 pages of 4 KiB).  Nothing reaches the file later than
 * before in a way anyone can see: every read, size, truncate, sync, file
 * control and close of the log first writes the buffer out, and a commit
 * with synchronous=FULL syncs the log before it returns, so what a commit
 * made durable is unchanged.  A failed write is reported by the call that
 * flushed (a sync fails, so the commit fails).
 *
 * It relies on synchronous=FULL, which the store always sets: with it a
 * commit's frames are in the file before the log's index says they are
 * committed, so another process reading the database sees them too.
 *
 * The database file and everything else go straight to the default VFS.
 * The log's own methods are the default's, with the calls above wrapped;
 * the buffer lives after the default VFS's file object.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"

#define WALBUF_NAME "belfry-walbuf"
/* The default VFS writes at most 128 KiB - 1 bytes in one call. */
#define WALBUF_MAX (124 * 1024)

/* What follows the default VFS's file object for a log. */
struct walbuf {
	const sqlite3_io_methods *base; /* the default VFS's methods */
	char *buf;
	int len;                        /* bytes waiting */
	sqlite3_int64 off;              /* where they go in the file */
};

static sqlite3_vfs walbuf_vfs;
static sqlite3_io_methods walbuf_methods;
static const sqlite3_io_methods *walbuf_base_methods;
static int walbuf_base_size;

/* The buffer record of a log file opened through this VFS. */
static struct walbuf *
walbuf_of(sqlite3_file *f)
{
	return (struct walbuf *)((char *)f + walbuf_base_size);
}

/* Write out what waits; SQLITE_OK or the write's error. */
static int
walbuf_flush(sqlite3_file *f)
{
	struct walbuf *w = walbuf_of(f);
	int rc;

	if (w->len == 0)
		return SQLITE_OK;
	rc = w->base->xWrite(f, w->buf, w->len, w->off);
	w->len = 0;
	return rc;
}

/* Gather a write that continues the waiting bytes; flush otherwise. */
static int
walbuf_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct walbuf *w = walbuf_of(f);
	int rc;

	if (w->len > 0 && (off != w->off + w->len ||
	    w->len + n > WALBUF_MAX)) {
		if ((rc = walbuf_flush(f)) != SQLITE_OK)
			return rc;
	}
	if (n > WALBUF_MAX)
		return w->base->xWrite(f, p, n, off);
	if (w->buf == NULL && (w->buf = malloc(WALBUF_MAX)) == NULL)
		return w->base->xWrite(f, p, n, off);
	if (w->len == 0)
		w->off = off;
	memcpy(w->buf + w->len, p, (size_t)n);
	w->len += n;
	return SQLITE_OK;
}

/* Read, after the waiting bytes are in the file. */
static int
walbuf_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	int rc = walbuf_flush(f);

	return rc != SQLITE_OK ? rc : walbuf_of(f)->base->xRead(f, p, n, off);
}

/* Sync, after writing out the waiting bytes. */
static int
walbuf_sync(sqlite3_file *f, int flags)
{
	int rc = walbuf_flush(f);

	return rc != SQLITE_OK ? rc : walbuf_of(f)->base->xSync(f, flags);
}

/* Truncate, after writing out the waiting bytes. */
static int
walbuf_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = walbuf_flush(f);

	return rc != SQLITE_OK ? rc : walbuf_of(f)->base->xTruncate(f, size);
}

/* The size, counting the waiting bytes (written out first). */
static int
walbuf_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = walbuf_flush(f);

	return rc != SQLITE_OK ? rc : walbuf_of(f)->base->xFileSize(f, size);
}

/* A file control, after writing out the waiting bytes. */
static int
walbuf_control(sqlite3_file *f, int op, void *arg)
{
	int rc = walbuf_flush(f);

	return rc != SQLITE_OK ? rc :
	    walbuf_of(f)->base->xFileControl(f, op, arg);
}

/* Close, writing out the waiting bytes first; the buffer is freed. */
static int
walbuf_close(sqlite3_file *f)
{
	struct walbuf *w = walbuf_of(f);
	int rc = walbuf_flush(f), rc2;

	free(w->buf);
	w->buf = NULL;
	rc2 = w->base->xClose(f);
	return rc != SQLITE_OK ? rc : rc2;
}

/*
 * Open through the default VFS; a log whose methods are the ones this
 * VFS has wrapped gets the wrapped methods and an empty buffer.
 */
static int
walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
    int flags, int *out)
{
	sqlite3_vfs *base = vfs->pAppData;
	struct walbuf *w = walbuf_of(f);
	int rc;

	memset(w, 0, sizeof *w);
	rc = base->xOpen(base, name, f, flags, out);
	if (rc != SQLITE_OK || !(flags & SQLITE_OPEN_WAL) ||
	    f->pMethods == NULL)
		return rc;
	if (walbuf_base_methods == NULL) {
		walbuf_base_methods = f->pMethods;
		walbuf_methods = *f->pMethods;
		walbuf_methods.xClose = walbuf_close;
		walbuf_methods.xRead = walbuf_read;
		walbuf_methods.xWrite = walbuf_write;
		walbuf_methods.xTruncate = walbuf_truncate;
		walbuf_methods.xSync = walbuf_sync;
		walbuf_methods.xFileSize = walbuf_size;
		walbuf_methods.xFileControl = walbuf_control;
	}
	if (f->pMethods != walbuf_base_methods)
		return rc;
	w->base = f->pMethods;
	f->pMethods = &walbuf_methods;
	return rc;
}

/* The VFS's name for sqlite3_open_v2, registered on the first call. */
const char *
sqlite_walbuf_vfs(void)
{
	sqlite3_vfs *base;

	if (walbuf_vfs.zName != NULL)
		return WALBUF_NAME;
	if ((base = sqlite3_vfs_find(NULL)) == NULL)
		return NULL;
	walbuf_vfs = *base;
	walbuf_vfs.pNext = NULL;
	walbuf_vfs.zName = WALBUF_NAME;
	walbuf_vfs.pAppData = base;
	walbuf_base_size = (base->szOsFile + 15) & ~15;
	walbuf_vfs.szOsFile = walbuf_base_size + (int)sizeof(struct walbuf);
	walbuf_vfs.xOpen = walbuf_open;
	if (sqlite3_vfs_register(&walbuf_vfs, 0) != SQLITE_OK) {
		walbuf_vfs.zName = NULL;
		return NULL;
	}
	return WALBUF_NAME;
}
