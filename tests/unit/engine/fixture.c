/*
 * tests/unit/engine/fixture.c: see fixture.h.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/common.h"
#include "engine/engine_int.h"
#include "engine/store/pg_int.h"
#include "tests/unit/engine/fixture.h"

#ifndef FIXTURE_DIR
#define FIXTURE_DIR "tests/unit/engine/fixtures"
#endif

/* Write text to dir/name (NULL text: remove it); abort on failure. */
void
fixture_put(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (text == NULL) {
		unlink(path);
		return;
	}
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		fprintf(stderr, "fixture: cannot write %s\n", path);
		abort();
	}
}

/* The text of file in fixture name, to free; abort when unreadable. */
char *
fixture_read(const char *name, const char *file)
{
	char path[1024], *text;
	long len;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", FIXTURE_DIR, name, file);
	if ((f = fopen(path, "r")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "fixture: cannot read %s\n", path);
		abort();
	}
	text = malloc((size_t)len + 1);
	if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len)
		abort();
	text[len] = '\0';
	fclose(f);
	return text;
}

/* The PostgreSQL base URI the tests run on (BELFRY_TEST_PG), or NULL. */
static const char *
fixture_pg_base(void)
{
	const char *v = getenv("BELFRY_TEST_PG");

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Whether the tests run on PostgreSQL rather than on SQLite files. */
int
fixture_pg(void)
{
	return fixture_pg_base() != NULL;
}

/* The URI base names with database db in place of its own, to free. */
static char *
fixture_pg_uri(const char *base, const char *db)
{
	const char *auth, *end, *q, *slash;

	q = strchr(base, '?');
	end = q != NULL ? q : base + strlen(base);
	auth = strstr(base, "://");
	auth = auth != NULL && auth < end ? auth + 3 : base;
	if ((slash = memchr(auth, '/', (size_t)(end - auth))) != NULL)
		end = slash;
	return xasprintf("%.*s/%s%s", (int)(end - base), base, db,
	    q != NULL ? q : "");
}

/*
 * This binary's database name: belfry_, the binary's file name, and a
 * hash of its directory, so that builds sharing a cluster (build/,
 * build-asan/, other worktrees) never empty each other's database.
 */
static void
fixture_pg_name(char *out, size_t len)
{
	char exe[1024];
	const char *file;
	uint32_t h = 2166136261u;
	size_t i, o;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0)
		exe[n] = '\0';
	else
		snprintf(exe, sizeof exe, "%s", program_invocation_name);
	file = strrchr(exe, '/') != NULL ? strrchr(exe, '/') + 1 : exe;
	for (i = 0; exe + i < file; i++)
		h = (h ^ (unsigned char)exe[i]) * 16777619u;
	o = (size_t)snprintf(out, len, "belfry_");
	for (i = 0; file[i] != '\0' && i < 40 && o + 1 < len; i++, o++) {
		if (file[i] >= 'A' && file[i] <= 'Z')
			out[o] = (char)(file[i] - 'A' + 'a');
		else if ((file[i] >= 'a' && file[i] <= 'z') ||
		    (file[i] >= '0' && file[i] <= '9'))
			out[o] = file[i];
		else
			out[o] = '_';
	}
	snprintf(out + o, len - o, "_%08x", (unsigned)h);
}

/* A connection to uri; abort after printing why when there is none. */
static PGconn *
fixture_pg_connect(const char *uri)
{
	PGconn *conn = PQconnectdb(uri);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "fixture: cannot connect to %s: %s", uri,
		    PQerrorMessage(conn));
		abort();
	}
	return conn;
}

/* Run sql (one or more statements) on conn; abort after printing why. */
static PGresult *
fixture_pg_run(PGconn *conn, const char *sql)
{
	PGresult *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "fixture: %s: %s", sql, PQerrorMessage(conn));
		abort();
	}
	return r;
}

/* Create database name on the server of base unless it exists. */
static void
fixture_pg_create(const char *base, const char *name)
{
	char *uri = fixture_pg_uri(base, "postgres"), *sql;
	PGconn *conn = fixture_pg_connect(uri);
	PGresult *r;

	sql = xasprintf("SELECT 1 FROM pg_database WHERE datname = '%s'",
	    name);
	r = fixture_pg_run(conn, sql);
	free(sql);
	if (PQntuples(r) == 0) {
		sql = xasprintf("CREATE DATABASE \"%s\"", name);
		PQclear(fixture_pg_run(conn, sql));
		free(sql);
	}
	PQclear(r);
	PQfinish(conn);
	free(uri);
}

/*
 * Empty the database at uri as a new SQLite file is empty.  Connections
 * to it that a failed test left open (its engine never closed, perhaps
 * inside a transaction) are ended first, or their locks would hold the
 * drop; the name is this binary's own, so they are this binary's too.
 */
static void
fixture_pg_empty(const char *uri)
{
	PGconn *conn = fixture_pg_connect(uri);

	PQclear(fixture_pg_run(conn, "SET client_min_messages = warning;"
	    " SET lock_timeout = '10s';"
	    " SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE datname = current_database()"
	    " AND pid <> pg_backend_pid();"
	    " DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"));
	PQfinish(conn);
}

/*
 * The database to open where a test would open the SQLite file path:
 * path itself, or with BELFRY_TEST_PG this binary's PostgreSQL database
 * (created at the first call), emptied unless path is the one asked for
 * last (a reopen keeps what the file would keep).  Aborts when the
 * server cannot be reached.
 */
const char *
fixture_db(const char *path)
{
	static char *last, *uri;
	const char *base = fixture_pg_base();
	char name[64];

	if (base == NULL)
		return path;
	if (uri == NULL) {
		fixture_pg_name(name, sizeof name);
		fixture_pg_create(base, name);
		uri = fixture_pg_uri(base, name);
	}
	if (last == NULL || strcmp(last, path) != 0) {
		fixture_pg_empty(uri);
		free(last);
		last = xstrdup(path);
	}
	return uri;
}

/*
 * Run sql on the PostgreSQL store of e (opened on what fixture_db gave),
 * on the store's own connection and so inside its open transaction, as
 * the tests' looks into SQLite are; the result (PQclear it), or NULL
 * after printing why.
 */
static PGresult *
fixture_pg_look(struct eng *e, const char *sql)
{
	PGresult *r;
	int was;

	if (!fixture_pg()) {
		fprintf(stderr, "fixture: %s: not on PostgreSQL\n", sql);
		abort();
	}
	/* A transaction runs in pipeline mode: PQexec runs outside it. */
	was = pg_pipe_pause(e->store);
	r = PQexec(e->store->conn, sql);
	pg_pipe_resume(e->store, was);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "fixture: %s: %s", sql,
		    PQerrorMessage(e->store->conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* White-box, PostgreSQL only: run sql on e's store; 0, or -1. */
int
fixture_pg_exec(struct eng *e, const char *sql)
{
	PGresult *r = fixture_pg_look(e, sql);
	int rc = r != NULL ? 0 : -1;

	PQclear(r);
	return rc;
}

/*
 * White-box, PostgreSQL only: the integer in the first row and column of
 * sql's result on e's store (0 for NULL), or -1 when there is no row.
 */
int64_t
fixture_pg_int(struct eng *e, const char *sql)
{
	PGresult *r = fixture_pg_look(e, sql);
	int64_t n = -1;

	if (r != NULL && PQntuples(r) > 0 && PQnfields(r) > 0)
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

/*
 * White-box, PostgreSQL only: the text in the first row and column of
 * sql's result on e's store, to free, or NULL (no row, or NULL).
 */
char *
fixture_pg_text(struct eng *e, const char *sql)
{
	PGresult *r = fixture_pg_look(e, sql);
	char *t = NULL;

	if (r != NULL && PQntuples(r) > 0 && PQnfields(r) > 0 &&
	    !PQgetisnull(r, 0, 0))
		t = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return t;
}

/*
 * White-box, PostgreSQL only: every cell of sql's result on e's store as
 * an integer, row by row (0 for NULL), to free; *n their count.
 */
int64_t *
fixture_pg_cells(struct eng *e, const char *sql, size_t *n)
{
	PGresult *r = fixture_pg_look(e, sql);
	int64_t *v = NULL;
	int i, j, rows, cols;

	*n = 0;
	if (r == NULL)
		return NULL;
	rows = PQntuples(r);
	cols = PQnfields(r);
	if (rows > 0 && cols > 0)
		v = xreallocarray(NULL, (size_t)rows * (size_t)cols, sizeof *v);
	for (i = 0; i < rows; i++)
		for (j = 0; j < cols; j++)
			v[(*n)++] = strtoll(PQgetvalue(r, i, j), NULL, 10);
	PQclear(r);
	return v;
}

/* Copy the regular files of from into to (created if missing). */
static void
fixture_copy_dir(const char *from, const char *to)
{
	char src[1024], dst[1024], buf[8192];
	struct dirent *de;
	size_t n;
	FILE *in, *out;
	DIR *d;

	mkdir(to, 0700);
	if ((d = opendir(from)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof src, "%s/%s", from, de->d_name);
		snprintf(dst, sizeof dst, "%s/%s", to, de->d_name);
		if (de->d_type == DT_DIR) {
			fixture_copy_dir(src, dst);
			continue;
		}
		if ((in = fopen(src, "r")) == NULL ||
		    (out = fopen(dst, "w")) == NULL) {
			fprintf(stderr, "fixture: cannot copy %s\n", src);
			abort();
		}
		while ((n = fread(buf, 1, sizeof buf, in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
		if (fclose(out) != 0)
			abort();
	}
	closedir(d);
}

/*
 * Copy fixture name into dir, load it, and open a new database
 * dir/dbN (see fixture_db) in a begun transaction; NULL (after printing
 * why) on failure.
 */
struct eng *
fixture_open(const char *name, const char *dir)
{
	static int n;
	char from[1024], path[1024], *cause = NULL;
	struct eng_config *c;
	struct eng *e;

	snprintf(from, sizeof from, "%s/%s", FIXTURE_DIR, name);
	fixture_copy_dir(from, dir);
	if ((c = eng_config_load(dir, &cause)) == NULL) {
		fprintf(stderr, "fixture %s: %s\n", name, cause);
		free(cause);
		return NULL;
	}
	snprintf(path, sizeof path, "%s/db%d", dir, n++);
	if ((e = eng_open(fixture_db(path), &cause)) == NULL) {
		fprintf(stderr, "fixture %s: %s\n", name, cause);
		free(cause);
		eng_config_free(c);
		return NULL;
	}
	eng_set_config(e, c);
	if (eng_begin(e, &cause) != 0) {
		fprintf(stderr, "fixture %s: %s\n", name, cause);
		free(cause);
		eng_close(e);
		return NULL;
	}
	return e;
}

/* Commit what the test left and close the engine. */
void
fixture_close(struct eng *e)
{
	char *cause = NULL;

	if (eng_commit(e, &cause) != 0)
		free(cause);
	eng_close(e);
}
