/*
 * engine/: ids, configuration errors with positions, a trigger through
 * to the feed on a real SQLite file (a temporary directory per run), and
 * hostile input: bad recipients, a FIFO config file, a foreign database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine_int.h"
#include "engine/store/sqlite_int.h"
#include "tests/unit/engine/fixture.h"

/* The SQLite backend's handle, for a white-box look (tests only). */
#define DB(e) ((e)->store->db)

static char tmpdir[] = "/tmp/belfry-engine-XXXXXX";

/* Write text to dir/name. */
static void
put_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *conf =
    "{\n"
    "  \"default_timezone\": \"Europe/Berlin\",\n"
    "  \"channels\": {\n"
    "    \"in-app\": {\"type\": \"in_app_feed\"},\n"
    "    \"hook\": {\"type\": \"http\", \"url\": \"http://127.0.0.1:9/x\"},\n"
    "    \"audit\": {\"type\": \"log\"}\n"
    "  }\n"
    "}\n";

static const char *workflow =
    "{\"key\": \"new-comment\", \"categories\": [\"comments\"],\n"
    " \"data_required\": [\"comment_id\"],\n"
    " \"steps\": [\n"
    "  {\"ref\": \"feed\", \"type\": \"channel\", \"channel\": \"in-app\",\n"
    "   \"template\": {\"markdown\": \"{{ actor.name }} said "
    "{{ data.comment_id }} to {{ recipient.id }}\"}},\n"
    "  {\"ref\": \"hook\", \"type\": \"channel\", \"channel\": \"hook\",\n"
    "   \"template\": {\"body\": \"{\\\"c\\\": \\\"{{ data.comment_id "
    "}}\\\"}\"}}\n"
    " ]}\n";

/* eng_json_write gives v exactly as jansson's compact dump does. */
static void
expect_same_json(json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), got[4096];
	size_t n;

	assert_non_null(want);
	n = eng_json_write(v, got, sizeof got);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(got, want, n);
	/* Too small a buffer: the full length, and a prefix only. */
	if (n > 1) {
		memset(got, 0, sizeof got);
		assert_int_equal(eng_json_write(v, got, n - 1), n);
	}
	free(want);
	json_decref(v);
}

/*
 * The JSON writer against jansson's dump: every ASCII byte in strings and
 * keys, multi-byte UTF-8, integers at their limits, reals, nesting.
 */
static void
test_json_write(void **state)
{
	char s[2];
	json_t *o, *a;
	json_int_t p;
	int c;

	(void)state;
	for (c = 1; c < 128; c++) {
		s[0] = (char)c;
		s[1] = '\0';
		o = json_object();
		json_object_set_new(o, s, json_string(s));
		expect_same_json(o);
	}
	expect_same_json(json_string("caf\xc3\xa9 \xf0\x9f\x98\x80 "
	    "\xe2\x80\xa8 a/b \"q\" back\\slash\ttab\x7f"));
	expect_same_json(json_stringn("nul\0inside", 11));
	expect_same_json(json_pack("[I, I, i, f, f, f, f, f, b, b, n, {}, []]",
	    (json_int_t)INT64_MAX, (json_int_t)INT64_MIN, 0, 1.5, 1e300,
	    0.1, -0.0, 3.0, 1, 0));
	a = json_pack("{s:{s:[{s:s}, [], {}]}, s:s, s:[i, [i, [i]]]}",
	    "outer", "inner", "deep", "v", "z", "last", "list", 1, 2, 3);
	json_object_set_new(a, "b-after-z", json_true());
	expect_same_json(a);
	assert_int_equal(eng_json_write(json_null(), s, 0), 4);
	/* Integers around every power of ten up to 10^18, both signs (the
	 * loop stops before 10^19, which does not fit). */
	for (p = 1, c = 0;; p *= 10) {
		expect_same_json(json_integer(p - 1));
		expect_same_json(json_integer(p));
		expect_same_json(json_integer(-p));
		expect_same_json(json_integer(-p + 1));
		if (++c == 19)
			break;
	}
}

/* Write system calls this process has made so far (/proc/self/io). */
static long
write_calls(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/self/io", "r");

	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "syscw: %ld", &n) == 1)
			break;
	fclose(f);
	assert_true(n >= 0);
	return n;
}

/*
 * The log's writes are gathered: a commit of ~100 pages (2 writes each
 * without it) takes a handful of writes and an fdatasync, and everything
 * reads back after a checkpoint and a reopen through the default VFS.
 */
static void
test_log_writes(void **state)
{
	char path[512], *cause = NULL;
	struct eng *e;
	sqlite3 *db;
	sqlite3_stmt *st;
	long before, writes;
	sqlite3_int64 cur, hi;
	int i;

	(void)state;
	/* SQLite only: its log's gathered writes, through its handle. */
	if (fixture_pg())
		skip();
	snprintf(path, sizeof path, "%s/log.db", tmpdir);
	e = eng_open(path, &cause);
	assert_non_null(e);
	/* eng_open turned SQLite's memory statistics off: none are kept. */
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MALLOC_COUNT, &cur,
	    &hi, 0), SQLITE_OK);
	assert_int_equal(cur, 0);
	assert_int_equal(sqlite3_exec(DB(e), "CREATE TABLE t(k INTEGER"
	    " PRIMARY KEY, v BLOB)", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(eng_begin(e, &cause), 0);
	before = write_calls();
	for (i = 0; i < 100; i++) {
		assert_int_equal(sqlite3_prepare_v2(DB(e), "INSERT INTO t"
		    " VALUES(?1, randomblob(3000))", -1, &st, NULL),
		    SQLITE_OK);
		sqlite3_bind_int(st, 1, i);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	assert_int_equal(eng_commit(e, &cause), 0);
	writes = write_calls() - before;
	/* 100+ frames of 4 KiB + 24 bytes: 4 gathered writes of 124 KiB. */
	assert_true(writes >= 3 && writes <= 8);
	assert_int_equal(eng_maintain(e, &cause), 0);
	assert_int_equal(sqlite3_exec(DB(e), "UPDATE t SET v = 'x' WHERE"
	    " k = 7", NULL, NULL, NULL), SQLITE_OK);
	eng_close(e);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, "SELECT count(*),"
	    " sum(length(v)), (SELECT v FROM t WHERE k = 7), (SELECT"
	    " integrity_check FROM pragma_integrity_check) FROM t", -1, &st,
	    NULL) != SQLITE_OK)
		fail_msg("%s", sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 100);
	assert_int_equal(sqlite3_column_int(st, 1), 99 * 3000 + 1);
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "x");
	assert_string_equal((const char *)sqlite3_column_text(st, 3), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A second opener of a database in use is refused, naming why. */
static void
test_database_in_use(void **state)
{
	char path[512], *cause = NULL;
	struct eng *e, *e2;

	(void)state;
	/* SQLite only: its exclusive lock (PostgreSQL is shared by nodes). */
	if (fixture_pg())
		skip();
	snprintf(path, sizeof path, "%s/busy.db", tmpdir);
	e = eng_open(path, &cause);
	assert_non_null(e);
	e2 = eng_open(path, &cause);
	assert_null(e2);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "is in use by another process"));
	free(cause);
	eng_close(e);
	cause = NULL;
	e2 = eng_open(path, &cause);
	assert_non_null(e2);
	eng_close(e2);
}

/*
 * A bad recipient after a good one is refused (422) and leaves nothing to
 * free twice; cancel refuses the same recipients trigger refuses.
 */
static void
test_bad_second_recipient(void **state)
{
	static const char *bad[] = { "[\"u1\", \"a/b\"]", "[\"u1\", 5]",
		"[\"u1\", {\"collection\": \"c\"}]",
		"[\"u1\", {\"id\": \"u2\", \"timezone\": \"No/Zone\"}]" };
	char *cause = NULL, path[512];
	struct eng_config *c;
	json_t *body, *reply = NULL;
	struct eng *e;
	size_t i;

	(void)state;
	put_file("belfry.conf", conf);
	put_file("workflows/new-comment.json", workflow);
	if ((c = eng_config_load(tmpdir, &cause)) == NULL)
		fail_msg("%s", cause);
	snprintf(path, sizeof path, "%s/rcpt.db", tmpdir);
	assert_non_null(e = eng_open(fixture_db(path), &cause));
	eng_set_config(e, c);
	assert_int_equal(eng_begin(e, &cause), 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		body = json_pack("{s:o, s:{s:s}, s:s}", "recipients",
		    json_loads(bad[i], 0, NULL), "data", "comment_id", "c1",
		    "cancellation_key", "k");
		assert_int_equal(eng_trigger(e, "new-comment", body, 1000,
		    &reply, &cause), ENG_INVALID);
		free(cause);
		cause = NULL;
		if (i < 3) {
			assert_int_equal(eng_cancel(e, "new-comment", body,
			    1000, &cause), ENG_INVALID);
			free(cause);
			cause = NULL;
		}
		json_decref(body);
	}
	assert_int_equal(eng_commit(e, &cause), 0);
	eng_close(e);
}

/* A FIFO named *.json is refused at once, not read. */
static void
test_config_fifo(void **state)
{
	char *cause = NULL, path[512];

	(void)state;
	put_file("belfry.conf", conf);
	snprintf(path, sizeof path, "%s/workflows/fifo.json", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(eng_config_load(tmpdir, &cause));
	assert_non_null(strstr(cause, "not a regular file (a FIFO)"));
	free(cause);
	unlink(path);
}

/* Another application's database is refused and not written. */
static void
test_foreign_database(void **state)
{
	char path[512], *cause = NULL;
	struct stat before, after;
	struct eng *e;
	sqlite3 *db;

	(void)state;
	/* SQLite only: a foreign SQLite file, its size and mtime. */
	if (fixture_pg())
		skip();
	snprintf(path, sizeof path, "%s/foreign.db", tmpdir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE users(a, b);"
	    "INSERT INTO users VALUES(1, 2);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(stat(path, &before), 0);
	e = eng_open_checked(path, "quick", &cause);
	assert_null(e);
	assert_non_null(strstr(cause, "belongs to another application"));
	free(cause);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

/* Make the temporary config directory and database path. */
static int
setup(void **state)
{
	char *cause = NULL, path[512];

	(void)state;
	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0)
		return -1;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/workflows", tmpdir);
	return mkdir(path, 0700);
}

/* Remove the temporary directory. */
static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	tz_shutdown();
	return system(cmd) == 0 ? 0 : -1;
}

/* Ids round-trip, differ by kind, and refuse tampering. */
static void
test_ids(void **state)
{
	struct eng e;
	uint64_t a, b, i;
	char id[37];
	int j;

	(void)state;
	memset(&e, 0, sizeof e);
	e.idkey[0] = 1;
	e.idkey[2] = 99;
	for (i = 0; i < 20000; i++) {
		eng_id_format(&e, ENG_ID_RRUN, i * 104729, i % 999983, id);
		assert_int_equal(strlen(id), 36);
		for (j = 0; j < 36; j++)
			assert_true(j == 8 || j == 13 || j == 18 || j == 23 ?
			    id[j] == '-' : strchr("0123456789abcdef", id[j]) !=
			    NULL && id[j] != '\0');
		assert_int_equal(id[14], '4');
		assert_true(strchr("89ab", id[19]) != NULL);
		assert_int_equal(eng_id_parse(&e, ENG_ID_RRUN, id, &a, &b), 0);
		assert_int_equal(a, i * 104729);
		assert_int_equal(b, i % 999983);
		assert_int_equal(eng_id_parse(&e, ENG_ID_MSG, id, &a, &b), -1);
	}
	id[0] = id[0] == '0' ? '1' : '0';
	assert_int_equal(eng_id_parse(&e, ENG_ID_RRUN, id, &a, &b), -1);
	assert_int_equal(eng_id_parse(&e, ENG_ID_RRUN, "not-a-uuid", &a, &b),
	    -1);
}

/* Load the config dir expecting an error that contains want. */
static void
expect_config_error(const char *want)
{
	char *cause = NULL;
	struct eng_config *c = eng_config_load(tmpdir, &cause);

	if (c != NULL)
		fail_msg("config accepted; wanted \"%s\"", want);
	if (strstr(cause, want) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", cause, want);
	free(cause);
}

/* Errors name file:line:column of the offending value. */
static void
test_config_errors(void **state)
{
	(void)state;
	put_file("belfry.conf", "{\n  \"socket\": \"/tmp/x\",\n  \"chanels\": {}\n}\n");
	expect_config_error("belfry.conf:3:14: unknown key \"chanels\"");
	put_file("belfry.conf", "{\n  \"default_timezone\": \"Mars/Base\"\n}\n");
	expect_config_error("belfry.conf:2:23: unknown time zone \"Mars/Base\"");
	put_file("belfry.conf", "{\"socket\": }");
	expect_config_error("belfry.conf:1:");
	/* Columns count from 1, also before a line's first character. */
	put_file("belfry.conf", "");
	expect_config_error("belfry.conf:1:1: ");
	put_file("belfry.conf", "{\n");
	expect_config_error("belfry.conf:2:1: ");
	put_file("belfry.conf", conf);
	put_file("workflows/bad.json", "{\"key\": \"w\", \"steps\": [\n"
	    "  {\"ref\": \"a\", \"type\": \"channel\", \"channel\": \"in-app\","
	    " \"template\": {\"markdown\": \"x\"}},\n"
	    "  {\"ref\": \"b\", \"type\": \"bacth\"}\n]}\n");
	expect_config_error("bad.json:3:24: step \"b\": unknown step type "
	    "\"bacth\"");
	put_file("workflows/bad.json", "{\"key\": \"w\", \"steps\": [\n"
	    "  {\"ref\": \"a\", \"type\": \"channel\", \"channel\": \"nope\","
	    " \"template\": {\"markdown\": \"x\"}}]}\n");
	expect_config_error("bad.json:2:46: step \"a\": no channel \"nope\"");
	{
		char p[512];

		snprintf(p, sizeof p, "%s/workflows/bad.json", tmpdir);
		unlink(p);
	}
}

/* Trigger: dedupe, required data, the feed, preferences, deliveries. */
static void
test_trigger_feed(void **state)
{
	char *cause = NULL, path[512];
	struct eng_config *c;
	struct eng_delivery d[4];
	struct eng_attempt a;
	json_t *body, *reply = NULL, *q, *blk;
	struct eng *e;
	int64_t next;
	size_t n;

	(void)state;
	put_file("belfry.conf", conf);
	put_file("workflows/new-comment.json", workflow);
	c = eng_config_load(tmpdir, &cause);
	if (c == NULL)
		fail_msg("%s", cause);
	snprintf(path, sizeof path, "%s/belfry.db", tmpdir);
	e = eng_open(fixture_db(path), &cause);
	assert_non_null(e);
	eng_set_config(e, c);
	assert_int_equal(eng_begin(e, &cause), 0);

	body = json_pack("{s:[s,s,s], s:{s:s}, s:{s:s}}", "recipients", "u1",
	    "u2", "u1", "actor", "id", "bob", "data", "x", "y");
	assert_int_equal(eng_trigger(e, "new-comment", body, 1000, &reply,
	    &cause), ENG_INVALID);
	assert_non_null(strstr(cause, "data.comment_id"));
	free(cause);
	cause = NULL;
	json_decref(body);
	body = json_object();
	assert_int_equal(eng_trigger(e, "nope", body, 1000, &reply, &cause),
	    ENG_NO_WORKFLOW);
	json_decref(body);
	free(cause);
	cause = NULL;

	/* u2 opts out of the comments category. */
	body = json_pack("{s:{s:b}}", "categories", "comments", 0);
	assert_int_equal(eng_prefs_put(e, "u2", "default", body, 1000, &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	json_decref(body);

	body = json_pack("{s:[s,s,s], s:{s:s, s:s}, s:{s:s}}", "recipients",
	    "u1", "u2", "u1", "actor", "id", "bob", "name", "Bob", "data",
	    "comment_id", "c\"1");
	assert_int_equal(eng_trigger(e, "new-comment", body, 1000, &reply,
	    &cause), ENG_OK);
	assert_non_null(json_string_value(json_object_get(reply,
	    "workflow_run_id")));
	json_decref(reply);
	json_decref(body);

	q = json_object();
	assert_int_equal(eng_feed_get(e, "u1", "in-app", q, &reply, &cause),
	    ENG_OK);
	assert_int_equal(json_array_size(json_object_get(reply, "entries")), 1);
	blk = json_array_get(json_object_get(json_array_get(json_object_get(
	    reply, "entries"), 0), "blocks"), 0);
	assert_string_equal(json_string_value(json_object_get(blk, "name")),
	    "body");
	assert_string_equal(json_string_value(json_object_get(blk, "content")),
	    "Bob said c\"1 to u1");
	assert_string_equal(json_string_value(json_object_get(blk,
	    "rendered")), "<p>Bob said c&quot;1 to u1</p>\n");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_array_get(json_object_get(reply, "entries"),
	    0), "actors"), 0), "name")), "Bob");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    reply, "meta"), "unread_count")), 1);
	json_decref(reply);
	assert_int_equal(eng_feed_get(e, "u2", "in-app", q, &reply, &cause),
	    ENG_OK);
	assert_int_equal(json_array_size(json_object_get(reply, "entries")), 0);
	json_decref(reply);
	json_decref(q);

	/* One webhook for u1 (u2 opted out), with the JSON-escaped body. */
	assert_int_equal(eng_next_due(e), 1000);
	n = eng_delivery_take(e, "hook", 1000, d, 4);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].body, "{\"c\": \"c\\\"1\"}");
	memset(&a, 0, sizeof a);
	a.id = d[0].id;
	a.channel = "hook";
	a.result = ENG_ATTEMPT_RETRY;
	a.error = "refused";
	a.at = 1000;
	assert_int_equal(eng_delivery_done(e, &a, 1000, &next),
	    ENG_DELIVERY_RETRYING);
	assert_true(next > 1000 && next <= 1018);
	assert_int_equal(eng_next_due(e), next);
	eng_delivery_free(&d[0]);
	assert_int_equal(eng_commit(e, &cause), 0);
	eng_close(e);
}

/* Markdown renders a safe subset and escapes everything else. */
static void
test_markdown(void **state)
{
	static const char *cases[][2] = {
		{ "**hi** there", "<p><strong>hi</strong> there</p>\n" },
		{ "a *b* _c_ `<x>`", "<p>a <em>b</em> <em>c</em> "
		    "<code>&lt;x&gt;</code></p>\n" },
		{ "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)"
		    "&lt;/script&gt;</p>\n" },
		{ "[go](https://x.org/?a=1&b=2)", "<p><a href=\"https://x.org/"
		    "?a=1&amp;b=2\">go</a></p>\n" },
		{ "[bad](javascript:alert(1))", "<p>bad)</p>\n" },
		{ "one\n\ntwo", "<p>one</p>\n<p>two</p>\n" },
		{ "", "" },
	};
	char *html, deep[4000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		html = eng_markdown_html(cases[i][0]);
		assert_string_equal(html, cases[i][1]);
		free(html);
	}
	memset(deep, '[', sizeof deep - 1);
	deep[sizeof deep - 1] = '\0';
	html = eng_markdown_html(deep);
	assert_non_null(html);
	free(html);
}

/* Whether cache c holds page key (looked up, then let go). */
static int
pcache_has(const sqlite3_pcache_methods2 *m, sqlite3_pcache *c,
    unsigned key)
{
	sqlite3_pcache_page *pg = m->xFetch(c, key, 0);

	if (pg == NULL)
		return 0;
	m->xUnpin(c, pg, 0);
	return 1;
}

/*
 * The page cache over SQLite's: a truncation drops every page at its
 * limit or above, also a page a rekey parked far above the rest (as a
 * B-tree balance does) and the one moved there after; the cache's own
 * pages keep their keys.
 */
static void
test_page_cache(void **state)
{
	const sqlite3_pcache_methods2 *m;
	sqlite3_pcache *c;
	sqlite3_pcache_page *pg[11], *p;
	char path[512], *cause = NULL;
	struct eng *e;
	unsigned k;

	(void)state;
	if (fixture_pg())
		skip();
	snprintf(path, sizeof path, "%s/pcache.db", tmpdir);
	/* The first SQLite store of the process installs the cache. */
	e = eng_open(path, &cause);
	assert_non_null(e);
	m = sqlite_pcache();
	assert_non_null(m);
	c = m->xCreate(4096, 64, 1);
	assert_non_null(c);
	m->xCachesize(c, 100);
	for (k = 1; k <= 10; k++) {
		pg[k] = m->xFetch(c, k, 2);
		assert_non_null(pg[k]);
	}
	/* Swap 3 and 5 by way of a parked number, as a balance does. */
	m->xRekey(c, pg[3], 3, 262145);
	m->xRekey(c, pg[5], 5, 3);
	m->xRekey(c, pg[3], 262145, 5);
	for (k = 1; k <= 10; k++)
		m->xUnpin(c, pg[k], 0);
	assert_int_equal(m->xPagecount(c), 10);
	m->xTruncate(c, 6);
	for (k = 6; k <= 10; k++)
		assert_false(pcache_has(m, c, k));
	assert_true(pcache_has(m, c, 5));
	assert_true(pcache_has(m, c, 3));
	assert_false(pcache_has(m, c, 262145));
	/* A truncation below a page moved there drops it. */
	m->xTruncate(c, 5);
	assert_false(pcache_has(m, c, 5));
	assert_true(pcache_has(m, c, 4));
	/* A page left parked above everything is dropped by the next one. */
	p = m->xFetch(c, 4, 0);
	assert_non_null(p);
	m->xRekey(c, p, 4, 1000);
	m->xUnpin(c, p, 0);
	m->xTruncate(c, 900);
	assert_false(pcache_has(m, c, 1000));
	assert_true(pcache_has(m, c, 3));
	/* Two pages parked high at once: both are dropped. */
	p = m->xFetch(c, 3, 0);
	m->xRekey(c, p, 3, 2000);
	m->xUnpin(c, p, 0);
	p = m->xFetch(c, 2, 0);
	m->xRekey(c, p, 2, 3000);
	m->xUnpin(c, p, 0);
	m->xTruncate(c, 1500);
	assert_false(pcache_has(m, c, 2000));
	assert_false(pcache_has(m, c, 3000));
	assert_true(pcache_has(m, c, 1));
	/* A truncation to nothing empties it. */
	m->xTruncate(c, 1);
	assert_false(pcache_has(m, c, 1));
	assert_int_equal(m->xPagecount(c), 0);
	m->xDestroy(c);
	eng_close(e);
}

/*
 * Strings of every length to 24 with one byte to escape (or not) at each
 * place, through the writer's eight-at-a-time scan, against jansson.
 */
static void
test_json_strings(void **state)
{
	static const char special[] = { 0x01, 0x1f, '"', '\\', 0x20, 0x7f,
	    '!', '#', '[', ']', 'a' };
	char s[25];
	size_t len, at, k;

	(void)state;
	for (len = 1; len <= 24; len++)
		for (at = 0; at < len; at++)
			for (k = 0; k < sizeof special; k++) {
				memset(s, 'x', len);
				s[at] = special[k];
				expect_same_json(json_stringn(s, len));
			}
}

/* eng_text_bytes' literal of the n bytes at p, NUL-terminated. */
static char *
text_bytes(const char *p, size_t n)
{
	struct eng_text t = { NULL, 0, 0 };

	eng_text_bytes(&t, p, n);
	eng_text_add(&t, "", 1);
	return t.s;
}

/*
 * eng_text_bytes: what jansson takes as UTF-8 is written as jansson
 * writes it; anything else with every byte above 0x7f a '?'.
 */
static void
test_json_bytes(void **state)
{
	static const struct { const char *s; size_t n; } in[] = {
		{ "plain", 5 }, { "caf\xc3\xa9", 5 }, { "\xf0\x9f\x98\x80", 4 },
		{ "\xf4\x8f\xbf\xbf", 4 }, { "\xef\xbf\xbf", 3 },
		{ "nul\0in", 6 }, { "ab\xff", 3 }, { "\xc0\x80", 2 },
		{ "\xed\xa0\x80", 3 }, { "\xf4\x90\x80\x80", 4 },
		{ "\xe0\x9f\xbf", 3 }, { "\xc3", 1 }, { "\xc3\xa9\x80", 3 },
		{ "\xf5\x80\x80\x80", 4 }, { "x\xe2\x82", 3 },
	};
	char *got, *want, c[8];
	json_t *v;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		v = json_stringn(in[i].s, in[i].n);
		if (v == NULL) {
			for (k = 0; k < in[i].n; k++)
				c[k] = (unsigned char)in[i].s[k] < 0x80 ?
				    in[i].s[k] : '?';
			v = json_stringn(c, in[i].n);
		}
		assert_non_null(v);
		want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		got = text_bytes(in[i].s, in[i].n);
		assert_string_equal(got, want);
		free(got);
		free(want);
		json_decref(v);
	}
	/* One character's length, or 0. */
	assert_int_equal(eng_utf8_char("a", 1), 1);
	assert_int_equal(eng_utf8_char("\xc3\xa9", 2), 2);
	assert_int_equal(eng_utf8_char("\xe2\x82\xac!", 4), 3);
	assert_int_equal(eng_utf8_char("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(eng_utf8_char("\xe2\x82", 2), 0);
	assert_int_equal(eng_utf8_char("\x80", 1), 0);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_trigger_feed),
		cmocka_unit_test(test_markdown),
		cmocka_unit_test(test_json_write),
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_json_bytes),
		cmocka_unit_test(test_log_writes),
		cmocka_unit_test(test_database_in_use),
		cmocka_unit_test(test_bad_second_recipient),
		cmocka_unit_test(test_config_fifo),
		cmocka_unit_test(test_foreign_database),
		cmocka_unit_test(test_page_cache),
	};

	return cmocka_run_group_tests_name("engine", tests, setup, teardown);
}
