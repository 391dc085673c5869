/*
 * Hot backups: POST /admin/backup {"path": FILE} copies the live database
 * to FILE while the daemon goes on serving.
 *
 * The copy runs as due work of the loop: a timer of the clock's priority
 * copies BACKUP_STEP_PAGES pages at a time and re-arms itself with no
 * delay, so the loop polls (serves requests, runs flushes and fires)
 * between two steps, and a step never runs inside a transaction.  The
 * request is answered when the copy is complete and renamed into place
 * (an async route, as POST /admin/clock); one backup runs at a time.
 */
#include <sys/stat.h>

#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "scheduler/notify.h"
#include "scheduler/scheduler.h"

/* Pages copied by one step between two loop passes (4 KiB pages). */
#define BACKUP_STEP_PAGES 256

struct sch_backup {
	struct sch_req *r;           /* answered when done */
	struct eng_backup *b;
	struct event *ev;
	char *path;
	uint64_t started;            /* monotonic microseconds */
	int64_t steps;
};

/* Free the backup in progress, abandoning its copy unless finished. */
static void
backup_free(struct sch *s)
{
	struct sch_backup *k = s->backup;

	if (k->b != NULL)
		eng_backup_finish(k->b, NULL);
	event_free(k->ev);
	free(k->path);
	free(k);
	s->backup = NULL;
}

/*
 * Finish a complete copy (renamed into place): its reply, with its path,
 * size and how long it took, or NULL with *cause.
 */
static json_t *
backup_done(struct sch_backup *k, char **cause)
{
	struct stat st;
	int64_t done, total;
	int rc;

	eng_backup_progress(k->b, &done, &total);
	rc = eng_backup_finish(k->b, cause);
	k->b = NULL;
	if (rc != 0)
		return NULL;
	if (stat(k->path, &st) != 0)
		st.st_size = 0;
	log_info("backup: %s complete (%lld bytes in %lld steps)", k->path,
	    (long long)st.st_size, (long long)k->steps);
	return json_pack("{s:s, s:I, s:I, s:I, s:f}", "path", k->path,
	    "pages", (json_int_t)total, "bytes", (json_int_t)st.st_size,
	    "steps", (json_int_t)k->steps, "seconds",
	    (double)(sch_notify_monotonic_usec() - k->started) / 1e6);
}

/* One step of the copy; the answer once it is complete or failed. */
static void
backup_step_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;
	struct sch_backup *k = s->backup;
	struct timeval zero = { 0, 0 };
	struct sch_req *r = k->r;
	json_t *reply = NULL;
	char *cause = NULL;
	int rc;

	(void)fd;
	(void)events;
	k->steps++;
	if ((rc = eng_backup_step(k->b, BACKUP_STEP_PAGES, &cause)) == 0) {
		evtimer_add(k->ev, &zero);
		return;
	}
	if (rc > 0)
		reply = backup_done(k, &cause);
	backup_free(s);
	if (reply == NULL) {
		log_warnx("%s", cause);
		server_finish(r, ENG_INTERNAL, NULL, cause);
		return;
	}
	server_finish(r, ENG_OK, reply, NULL);
}

/*
 * Whether path names the database or one of its companion files (its
 * directory resolved): a copy must go elsewhere.
 */
static int
backup_is_database(struct sch *s, const char *path)
{
	char *dcopy = xstrdup(path), *bcopy = xstrdup(path);
	char dir[PATH_MAX], db[PATH_MAX], *full;
	size_t n;
	int same = 0;

	if (realpath(dirname(dcopy), dir) != NULL &&
	    realpath(s->database, db) != NULL) {
		full = xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir,
		    basename(bcopy));
		n = strlen(db);
		same = strncmp(full, db, n) == 0 && (full[n] == '\0' ||
		    full[n] == '-');
		free(full);
	}
	free(dcopy);
	free(bcopy);
	return same;
}

/* See scheduler.h: start a backup for r (which it answers later). */
enum eng_status
backup_start(struct sch_req *r, const char *path, char **cause)
{
	struct sch *s = r->s;
	struct timeval zero = { 0, 0 };
	struct sch_backup *k;
	struct eng_backup *b;

	if (s->backup != NULL) {
		*cause = xasprintf("a backup to %s is in progress; one runs "
		    "at a time", s->backup->path);
		return ENG_CONFLICT;
	}
	if (path[0] != '/') {
		*cause = xasprintf("path: %s is not absolute", path);
		return ENG_INVALID;
	}
	if (backup_is_database(s, path)) {
		*cause = xasprintf("path: %s is the database itself; the "
		    "copy must go elsewhere", path);
		return ENG_INVALID;
	}
	if ((b = eng_backup_begin(s->eng, path, cause)) == NULL)
		return ENG_INVALID;
	k = xcalloc(1, sizeof *k);
	k->r = r;
	k->b = b;
	k->path = xstrdup(path);
	k->started = sch_notify_monotonic_usec();
	if ((k->ev = evtimer_new(s->base, backup_step_cb, s)) == NULL)
		fatalx("cannot create the backup timer");
	event_priority_set(k->ev, 2);
	s->backup = k;
	log_info("backup: copying %s to %s", s->database, path);
	evtimer_add(k->ev, &zero);
	return ENG_OK;
}

/* See scheduler.h: abandon a backup at shutdown (its partial copy goes). */
void
backup_stop(struct sch *s)
{
	struct sch_req *r;

	if (s->backup == NULL)
		return;
	r = s->backup->r;
	backup_free(s);
	r->code = "unavailable";
	server_finish(r, ENG_INTERNAL, NULL, xstrdup("belfryd is shutting "
	    "down; the backup was abandoned"));
}
