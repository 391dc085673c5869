/*
 * engine/run/: delay, batch, throttle, branch, cancellation and
 * subscriber fan-out, driven with explicit instants (the engine never
 * reads the clock), on a real SQLite file.
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

static char dir[] = "/tmp/belfry-steps-XXXXXX";
static struct eng *e;

/* Write text to dir/name. */
static void
put(const char *name, const char *text)
{
	fixture_put(dir, name, text);
}

/* A fresh engine on a fresh database for each test (fixture "steps"). */
static int
setup(void **state)
{
	(void)state;
	return (e = fixture_open("steps", dir)) != NULL ? 0 : -1;
}

/* Close the engine. */
static int
teardown(void **state)
{
	(void)state;
	fixture_close(e);
	return 0;
}

/* Trigger workflow with a JSON body; fail the test on error. */
static void
trigger(const char *wf, int64_t now, const char *fmt, ...)
{
	json_t *body, *reply = NULL;
	char *cause = NULL, *text;
	json_error_t err;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	body = json_loads(text, 0, &err);
	if (body == NULL)
		fail_msg("bad test JSON %s: %s", text, err.text);
	if (eng_trigger(e, wf, body, now, &reply, &cause) != ENG_OK)
		fail_msg("trigger %s: %s", wf, cause);
	json_decref(reply);
	json_decref(body);
	free(text);
}

/* Append v to *out, after sep unless *out is empty. */
static void
join(char **out, const char *sep, const char *v)
{
	char *t = xasprintf("%s%s%s", *out, **out ? sep : "", v);

	free(*out);
	*out = t;
}

/*
 * Walk rcpt's messages page by page, newest first, following each page's
 * after cursor: on channel (a feed) or on every channel (NULL: the
 * messages list), with query q's filters (page_size n, unless 0).  Each
 * entry gives its text (ids 0: "text|text/next page|...") or its id (ids
 * 1: "id|id|..." across pages).
 */
static char *
walk(const char *rcpt, const char *channel, const char *q, int n, int ids)
{
	json_t *query, *reply, *items, *it, *after;
	char *cause = NULL, *out = xstrdup(""), size[16];
	const char *v;
	size_t i;
	int pages;

	query = json_loads(q, 0, NULL);
	assert_non_null(query);
	if (n > 0) {
		snprintf(size, sizeof size, "%d", n);
		json_object_set_new(query, "page_size", json_string(size));
	}
	for (pages = 0; pages < 1000; pages++) {
		reply = NULL;
		assert_int_equal(channel != NULL ? eng_feed_get(e, rcpt,
		    channel, query, &reply, &cause) : eng_messages_list(e,
		    rcpt, query, &reply, &cause), ENG_OK);
		items = json_object_get(reply, channel ? "entries" : "items");
		json_array_foreach(items, i, it) {
			if (ids)
				v = json_string_value(json_object_get(it, "id"));
			else if ((v = json_string_value(json_object_get(
			    json_object_get(it, "content"), "markdown"))) ==
			    NULL)
				v = json_string_value(json_object_get(
				    json_array_get(json_object_get(it, "blocks"),
				    0), "content"));
			join(&out, i || ids ? "|" : "/", v);
		}
		after = json_object_get(json_object_get(reply, "page_info"),
		    "after");
		if (!json_is_string(after)) {
			json_decref(reply);
			break;
		}
		json_object_set(query, "after", after);
		json_decref(reply);
	}
	json_decref(query);
	return out;
}

/* The texts of rcpt's messages in pages (see walk), page_size from q. */
static char *
pages(const char *rcpt, const char *channel, const char *q)
{
	return walk(rcpt, channel, q, 0, 0);
}

/* The rendered texts of a user's feed, newest first, joined by '|'. */
static char *
feed(const char *user)
{
	return walk(user, "feed", "{}", 0, 0);
}

/* Assert a user's feed, freeing the text. */
static void
expect_feed(const char *user, const char *want)
{
	char *got = feed(user);

	if (strcmp(got, want) != 0)
		fail_msg("feed of %s: \"%s\", want \"%s\"", user, got, want);
	free(got);
}

/* How many rows table has (a white-box look at what the engine keeps). */
static int64_t
count_rows(const char *table)
{
	char sql[128];
	sqlite3_stmt *st;
	int64_t n = -1;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	if (fixture_pg())
		return fixture_pg_int(e, sql);
	if (sqlite3_prepare_v2(DB(e), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Run SQL on the engine's database, failing the test on error. */
static void
exec_sql(const char *sql)
{
	if (fixture_pg())
		assert_int_equal(fixture_pg_exec(e, sql), 0);
	else
		assert_int_equal(sqlite3_exec(DB(e), sql, NULL, NULL, NULL),
		    SQLITE_OK);
}

/*
 * Every cell of sql's result as an integer, row by row, to free; *n
 * their count (a white-box look through either backend).
 */
static int64_t *
cells(const char *sql, size_t *n)
{
	sqlite3_stmt *st;
	int64_t *v = NULL;
	size_t cap = 0;
	int j;

	if (fixture_pg())
		return fixture_pg_cells(e, sql, n);
	assert_int_equal(sqlite3_prepare_v2(DB(e), sql, -1, &st, NULL),
	    SQLITE_OK);
	for (*n = 0; sqlite3_step(st) == SQLITE_ROW;)
		for (j = 0; j < sqlite3_column_count(st); j++) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				v = xreallocarray(v, cap, sizeof *v);
			}
			v[(*n)++] = sqlite3_column_int64(st, j);
		}
	sqlite3_finalize(st);
	return v;
}

/* Run every due item up to `to`, in time order, as the scheduler does. */
static void
advance(int64_t to)
{
	int64_t t;

	while ((t = eng_next_due(e)) <= to)
		eng_run_due(e, t);
}

/* A delay holds the message until its end; skip_delay bypasses it. */
static void
test_delay(void **state)
{
	(void)state;
	trigger("delay", 1000, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 1}}");
	expect_feed("u1", "");
	assert_int_equal(eng_next_due(e), 1300);
	advance(1299);
	expect_feed("u1", "");
	advance(1300);
	expect_feed("u1", "later 1");
	trigger("delay", 2000, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 2},"
	    " \"settings\": {\"skip_delay\": true}}");
	expect_feed("u1", "later 2|later 1");
}

/* The stored events of recipient run (run, idx), parsed; fails if none. */
static json_t *
stored_events(int64_t run, int64_t idx, char **text)
{
	sqlite3_stmt *st;
	json_error_t err;
	json_t *v;
	char *sql;

	if (fixture_pg()) {
		sql = xasprintf("SELECT events FROM rruns WHERE id = %lld",
		    (long long)(run << 24 | idx));
		*text = fixture_pg_text(e, sql);
		free(sql);
		assert_non_null(*text);
	} else {
		assert_int_equal(sqlite3_prepare_v2(DB(e), "SELECT events"
		    " FROM rruns WHERE id = ?1 << 24 | ?2", -1, &st, NULL),
		    SQLITE_OK);
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, idx);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		*text = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	v = json_loads(*text, 0, &err);
	if (v == NULL)
		fail_msg("stored events are not JSON (%s): %s", err.text, *text);
	return v;
}

/*
 * A trigger's recipients are deduplicated, the first occurrence kept in
 * its place: 600 users, 399 of them again, and an object whose id is one
 * of theirs (another recipient) give 601 recipient runs in that order.
 */
static void
test_trigger_dedupe(void **state)
{
	char *list = xstrdup(""), *t;
	int64_t *idx;
	size_t n;
	int i;

	(void)state;
	for (i = 0; i < 999; i++) {
		t = xasprintf("%s\"a%d\", ", list, i < 600 ? i : i - 600);
		free(list);
		list = t;
	}
	trigger("odd", 1000, "{\"recipients\": [%s{\"id\": \"a1\","
	    " \"collection\": \"teams\"}]}", list);
	free(list);
	assert_int_equal(count_rows("rruns"), 601);
	/* The nth by id has index n and recipient an, then teams/a1. */
	idx = cells("SELECT id & 16777215 FROM rruns ORDER BY id", &n);
	assert_int_equal(n, 601);
	for (i = 0; i < 601; i++)
		assert_int_equal(idx[i], i);
	free(idx);
	assert_int_equal(count_rows("rruns WHERE id & 16777215 < 600 AND"
	    " rcpt = 'a' || CAST(id & 16777215 AS TEXT)"), 600);
	assert_int_equal(count_rows("rruns WHERE id & 16777215 = 600 AND"
	    " rcpt = 'teams/a1'"), 1);
}

/* Events of recipient run (1, 0) as GET /v1/workflow_recipient_runs/{id}. */
static json_t *
api_events(void)
{
	json_t *reply = NULL, *ev;
	char *cause = NULL, id[37];

	eng_id_format(e, ENG_ID_RRUN, 1, 0, id);
	assert_int_equal(eng_run_get(e, id, &reply, &cause), ENG_OK);
	ev = json_incref(json_object_get(reply, "events"));
	json_decref(reply);
	return ev;
}

/* Assert that object o's key is the string want. */
static void
expect_text(json_t *o, const char *key, const char *want)
{
	const char *got = json_string_value(json_object_get(o, key));

	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("\"%s\" is \"%s\", want \"%s\"", key,
		    got ? got : "(none)", want);
}

/*
 * Check the events of a run of "odd" (a delay, then a message) in Knock's
 * shape: keys in order, ids of their own, times as RFC 3339, the
 * message's id as the feed shows it.
 */
static void
expect_odd_events(json_t *ev)
{
	static const char *keys[] = { "__typename", "id", "event", "status",
	    "step_ref", "step_type", "data", "inserted_at" };
	json_t *x, *v, *q = json_object(), *reply = NULL;
	char *cause = NULL;
	const char *k;
	size_t i, j;

	assert_int_equal(json_array_size(ev), 2);
	json_array_foreach(ev, i, x) {
		j = 0;
		json_object_foreach(x, k, v)
			assert_string_equal(k, keys[j++]);
		assert_int_equal(j, 8);
		expect_text(x, "status", "ok");
		expect_text(x, "__typename", "WorkflowRecipientRunEvent");
		assert_int_equal(strlen(json_string_value(json_object_get(x,
		    "id"))), 36);
	}
	assert_string_not_equal(json_string_value(json_object_get(
	    json_array_get(ev, 0), "id")), json_string_value(json_object_get(
	    json_array_get(ev, 1), "id")));
	x = json_array_get(ev, 0);
	expect_text(x, "event", "delayed");
	expect_text(x, "step_type", "delay");
	expect_text(x, "inserted_at", "1970-01-01T00:16:40Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(x,
	    "data"), "until")), 1060);
	x = json_array_get(ev, 1);
	expect_text(x, "event", "message_sent");
	expect_text(x, "step_ref", "f-1.x_");
	expect_text(x, "inserted_at", "1970-01-01T00:17:40Z");
	expect_text(json_object_get(x, "data"), "channel", "feed");
	assert_int_equal(eng_feed_get(e, "u1", "feed", q, &reply, &cause),
	    ENG_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    x, "data"), "message_id")), json_string_value(json_object_get(
	    json_array_get(json_object_get(reply, "entries"), 0), "id")));
	json_decref(reply);
	json_decref(q);
}

/*
 * A recipient run's events are stored compact, as JSON text appended to
 * when the run goes on after a wait, and read back in Knock's shape.
 */
static void
test_events(void **state)
{
	json_t *ev;
	char *text, *canon;

	(void)state;
	trigger("odd", 1000, "{\"recipients\": [\"u1\"]}");
	ev = stored_events(1, 0, &text);
	assert_string_equal(text, "[{\"e\":\"delayed\",\"r\":\"d\",\"t\":"
	    "\"delay\",\"d\":{\"until\":1060},\"at\":1000}]");
	json_decref(ev);
	free(text);
	advance(1060);
	ev = stored_events(1, 0, &text);
	canon = json_dumps(ev, JSON_COMPACT);
	assert_string_equal(text, canon);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_array_get(ev, 1), "d"), "m")), 1);
	free(canon);
	free(text);
	json_decref(ev);
	ev = api_events();
	expect_odd_events(ev);
	json_decref(ev);
}

/*
 * Events stored in Knock's shape (before the compact form) read back as
 * they are, and a run resumed after the upgrade appends compact ones:
 * the list reads the same as if all were new.
 */
static void
test_events_upgrade(void **state)
{
	json_t *ev;

	(void)state;
	trigger("odd", 1000, "{\"recipients\": [\"u1\"]}");
	exec_sql("UPDATE rruns SET events = '[{\"event\":\"delayed\","
	    "\"status\":\"ok\",\"step_ref\":\"d\",\"step_type\":\"delay\","
	    "\"data\":{\"until\":1060},\"inserted_at\":"
	    "\"1970-01-01T00:16:40Z\"}]'");
	advance(1060);
	ev = api_events();
	expect_odd_events(ev);
	json_decref(ev);
}

/* Store props for user id. */
static void
user_put(const char *id, const char *props)
{
	json_t *b = json_loads(props, 0, NULL), *reply = NULL;
	char *cause = NULL;

	assert_int_equal(eng_user_put(e, id, b, 1, &reply, &cause), ENG_OK);
	json_decref(reply);
	json_decref(b);
}

/*
 * A workflow that never mentions the recipient still reads its record
 * when a preference set's conditions do: "two" sends to a pro user only.
 */
static void
test_recipient_for_prefs(void **state)
{
	json_t *b, *reply = NULL;
	char *cause = NULL;

	(void)state;
	user_put("u1", "{\"plan\": \"free\"}");
	b = json_loads("{\"channel_types\": {\"in_app_feed\": {\"conditions\":"
	    " [{\"variable\": \"recipient.plan\", \"operator\": \"equal_to\","
	    " \"argument\": \"pro\"}]}}}", 0, NULL);
	assert_int_equal(eng_prefs_put(e, "u1", "default", b, 1, &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	json_decref(b);
	trigger("two", 1000, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 1}}");
	expect_feed("u1", "");
	user_put("u1", "{\"plan\": \"pro\"}");
	trigger("two", 1001, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 2}}");
	expect_feed("u1", "one 2");
}

/* The same through the config's default preference set. */
static void
test_recipient_for_default_prefs(void **state)
{
	char *cause = NULL;

	(void)state;
	put("belfry.conf", "{\"default_timezone\": \"UTC\", \"channels\": {"
	    "\"feed\": {\"type\": \"in_app_feed\"}, \"feed2\": {\"type\":"
	    " \"in_app_feed\"}}, \"preferences\": {\"default\": {"
	    "\"channel_types\": {\"in_app_feed\": {\"conditions\": [{"
	    "\"variable\": \"recipient.plan\", \"operator\": \"equal_to\","
	    " \"argument\": \"pro\"}]}}}}}");
	eng_set_config(e, eng_config_load(dir, &cause));
	assert_null(cause);
	user_put("u2", "{\"plan\": \"free\"}");
	trigger("two", 1000, "{\"recipients\": [\"u2\"], \"data\": {\"n\": 1}}");
	expect_feed("u2", "");
	user_put("u2", "{\"plan\": \"pro\"}");
	trigger("two", 1001, "{\"recipients\": [\"u2\"], \"data\": {\"n\": 2}}");
	expect_feed("u2", "one 2");
}

/* A dynamic delay: seconds, a unit object, a time; invalid skips it. */
static void
test_delay_dynamic(void **state)
{
	(void)state;
	trigger("dyn", 1000, "{\"recipients\": [\"a\"], \"data\": {\"wait\": 30}}");
	trigger("dyn", 1000, "{\"recipients\": [\"b\"], \"data\": {\"wait\":"
	    " \"1970-01-01T00:20:00Z\"}}");
	trigger("dyn", 1000, "{\"recipients\": [\"c\"], \"data\": {\"wait\":"
	    " \"soon\"}}");
	/* 01:20+01:00 is 00:20Z; Knock's {unit, value} form. */
	trigger("dyn", 1000, "{\"recipients\": [\"d\"], \"data\": {\"wait\":"
	    " \"1970-01-01T01:20:00+01:00\"}}");
	trigger("dyn", 1000, "{\"recipients\": [\"f\"], \"data\": {\"wait\":"
	    " {\"unit\": \"minutes\", \"value\": 2}}}");
	expect_feed("c", "dyn");
	expect_feed("d", "");
	advance(1029);
	expect_feed("a", "");
	advance(1030);
	expect_feed("a", "dyn");
	advance(1119);
	expect_feed("f", "");
	advance(1120);
	expect_feed("f", "dyn");
	expect_feed("b", "");
	advance(1200);
	expect_feed("b", "dyn");
	expect_feed("d", "dyn");
}

/* A workflow that overrides preferences sends to an opted-out user. */
static void
test_override_preferences(void **state)
{
	json_t *b, *reply = NULL;
	char *cause = NULL;

	(void)state;
	b = json_pack("{s:{s:b}}", "channel_types", "in_app_feed", 0);
	assert_int_equal(eng_prefs_put(e, "u1", "default", b, 1, &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	json_decref(b);
	trigger("override", 1000, "{\"recipients\": [\"u1\"]}");
	trigger("branch", 1000, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 1}}");
	expect_feed("u1", "must");
	/* Settings are checked: only a boolean skip_delay. */
	b = json_pack("{s:[s], s:{s:s}}", "recipients", "u1", "settings",
	    "skip_delay", "yes");
	assert_int_equal(eng_trigger(e, "delay", b, 1000, &reply, &cause),
	    ENG_INVALID);
	assert_non_null(strstr(cause, "settings.skip_delay"));
	free(cause);
	json_decref(b);
}

/* Batches: per key, closing at the window or at max_activities. */
static void
test_batch(void **state)
{
	(void)state;
	trigger("batch", 1000, "{\"recipients\": [\"u1\"], \"actor\": \"a\","
	    " \"data\": {\"post\": \"p1\"}}");
	trigger("batch", 1010, "{\"recipients\": [\"u1\"], \"actor\": \"b\","
	    " \"data\": {\"post\": \"p1\"}}");
	trigger("batch", 1020, "{\"recipients\": [\"u1\"], \"actor\": \"a\","
	    " \"data\": {\"post\": \"p2\"}}");
	expect_feed("u1", "");
	advance(1299);
	expect_feed("u1", "");
	advance(1300);
	expect_feed("u1", "2 by 2 on p1");
	/* The feed entry carries the batch's activities and actors. */
	{
		json_t *q = json_object(), *reply = NULL, *it;
		char *cause = NULL;

		assert_int_equal(eng_feed_get(e, "u1", "feed", q, &reply,
		    &cause), ENG_OK);
		it = json_array_get(json_object_get(reply, "entries"), 0);
		assert_int_equal(json_integer_value(json_object_get(it,
		    "total_activities")), 2);
		assert_int_equal(json_array_size(json_object_get(it,
		    "activities")), 2);
		assert_int_equal(json_array_size(json_object_get(it,
		    "actors")), 2);
		assert_null(json_object_get(json_object_get(it, "content"),
		    "$batch"));
		json_decref(reply);
		json_object_set_new(q, "page_size", json_string("abc"));
		assert_int_equal(eng_feed_get(e, "u1", "feed", q, &reply,
		    &cause), ENG_INVALID);
		free(cause);
		json_decref(q);
	}
	advance(1320);
	expect_feed("u1", "1 by 1 on p2|2 by 2 on p1");
	/* The third activity closes the batch at once. */
	trigger("batch", 2000, "{\"recipients\": [\"u2\"], \"actor\": \"a\","
	    " \"data\": {\"post\": \"p\"}}");
	trigger("batch", 2001, "{\"recipients\": [\"u2\"], \"actor\": \"a\","
	    " \"data\": {\"post\": \"p\"}}");
	trigger("batch", 2002, "{\"recipients\": [\"u2\"], \"actor\": \"c\","
	    " \"data\": {\"post\": \"p\"}}");
	advance(2002);
	expect_feed("u2", "3 by 2 on p");
	/* Batches that went out leave no rows behind. */
	assert_int_equal(count_rows("batches"), 0);
	assert_int_equal(count_rows("batch_items"), 0);
}

/* A window rule closes at 09:00 in the recipient's zone, across DST. */
static void
test_batch_rule_dst(void **state)
{
	int64_t t0, due;

	(void)state;
	user_put("ny", "{\"timezone\": \"America/New_York\"}");
	/* Saturday 2026-03-07 20:00 EST; DST starts Sunday 02:00. */
	assert_int_equal(tz_instant_parse("2026-03-08T01:00:00Z", &t0), 0);
	trigger("rule", t0, "{\"recipients\": [\"ny\"]}");
	trigger("rule", t0 + 3600 * 10, "{\"recipients\": [\"ny\"]}");
	/* 09:00 EDT on Sunday is 13:00Z, not 14:00Z. */
	assert_int_equal(tz_instant_parse("2026-03-08T13:00:00Z", &due), 0);
	assert_int_equal(eng_next_due(e), due);
	advance(due);
	expect_feed("ny", "digest 2");
}

/* A throttle lets threshold runs through per window. */
static void
test_throttle(void **state)
{
	(void)state;
	trigger("throttle", 1000, "{\"recipients\": [\"u1\"]}");
	trigger("throttle", 1030, "{\"recipients\": [\"u1\"]}");
	trigger("throttle", 1030, "{\"recipients\": [\"u2\"]}");
	trigger("throttle", 1061, "{\"recipients\": [\"u1\"]}");
	expect_feed("u1", "t|t");
	expect_feed("u2", "t");
}

/*
 * The sweep deletes throttle hits past their window, idempotent replies
 * older than 24 h and tombstones no pending fan-out can need, and keeps
 * everything else.
 */
static void
test_sweep(void **state)
{
	(void)state;
	trigger("throttle", 1000, "{\"recipients\": [\"u1\"]}");
	eng_idem_put(e, "idem", 200, "{}", 1000);
	exec_sql("INSERT INTO cancels(workflow, ckey, upto) VALUES"
	    " ('fan', 'k', 5), ('fan', 'k2', 2);"
	    "INSERT INTO fanout(run_seq, seq, obj, level, after) VALUES"
	    " (3, 1, 'teams/a', 1, '')");
	eng_run_due(e, 1059);
	assert_int_equal(count_rows("throttle_hits"), 1);
	assert_int_equal(count_rows("idempotency"), 1);
	/* A fan-out of run 3 is pending: the tombstone up to run 5 stays. */
	assert_int_equal(count_rows("cancels"), 1);
	eng_run_due(e, 1100);   /* within a minute of the last sweep */
	assert_int_equal(count_rows("throttle_hits"), 1);
	eng_run_due(e, 1120);
	assert_int_equal(count_rows("throttle_hits"), 0);
	assert_int_equal(count_rows("idempotency"), 1);
	exec_sql("DELETE FROM fanout");
	eng_run_due(e, 1000 + 86401);
	assert_int_equal(count_rows("idempotency"), 0);
	assert_int_equal(count_rows("cancels"), 0);
}

/* The unread count of a user's feed, from its meta. */
static json_int_t
unread(const char *user)
{
	json_t *q = json_object(), *reply = NULL;
	char *cause = NULL;
	json_int_t n;

	assert_int_equal(eng_feed_get(e, user, "feed", q, &reply, &cause),
	    ENG_OK);
	n = json_integer_value(json_object_get(json_object_get(reply, "meta"),
	    "unread_count"));
	json_decref(reply);
	json_decref(q);
	return n;
}

/* Send "later n" at once (skip_delay) to the JSON-listed recipients. */
static void
later_now(int64_t at, const char *recipients, int n)
{
	trigger("delay", at, "{\"recipients\": [%s], \"data\": {\"n\": %d},"
	    " \"settings\": {\"skip_delay\": true}}", recipients, n);
}

/* Assert pages(rcpt, channel, q), freeing the text. */
static void
expect_pages(const char *rcpt, const char *channel, const char *q,
    const char *want)
{
	char *got = pages(rcpt, channel, q);

	if (strcmp(got, want) != 0)
		fail_msg("%s on %s with %s: \"%s\", want \"%s\"", rcpt,
		    channel ? channel : "every channel", q, got, want);
	free(got);
}

/*
 * A recipient's messages on a channel form a chain: feeds and message
 * lists read it newest first, across channels in one order, in pages
 * whose cursors resume right below the last entry, with filters; other
 * recipients' messages interleaved in between are not in it; feed_heads
 * keeps one row per recipient and channel.
 */
static void
test_feed_chains(void **state)
{
	json_t *reply = NULL, *q;
	char *cause = NULL, *id;

	(void)state;
	later_now(1000, "\"u1\", \"u2\"", 1);
	trigger("two", 1001, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 1}}");
	later_now(1002, "\"u2\", \"u1\"", 2);
	trigger("two", 1003, "{\"recipients\": [\"u3\", \"u1\"], \"data\":"
	    " {\"n\": 2}}");
	expect_feed("u1", "one 2|later 2|one 1|later 1");
	expect_feed("u2", "later 2|later 1");
	expect_pages("u1", "feed2", "{}", "two 2|two 1");
	expect_pages("u3", "feed2", "{}", "two 2");
	expect_pages("u1", NULL, "{}",
	    "two 2|one 2|later 2|two 1|one 1|later 1");
	expect_pages("u1", NULL, "{\"page_size\": \"2\"}",
	    "two 2|one 2/later 2|two 1/one 1|later 1");
	expect_pages("u1", "feed", "{\"page_size\": \"1\"}",
	    "one 2/later 2/one 1/later 1");
	expect_pages("u1", NULL, "{\"channel_id\": \"feed2\","
	    " \"page_size\": \"1\"}", "two 2/two 1");
	expect_pages("nobody", NULL, "{}", "");
	expect_pages("nobody", "feed", "{}", "");
	if (!fixture_pg())      /* PostgreSQL keeps no feed_heads */
		assert_int_equal(count_rows("feed_heads"), 5);

	/* Read "later 2" of u1: filters and counts see it. */
	q = json_pack("{s:s}", "page_size", "3");
	assert_int_equal(eng_feed_get(e, "u1", "feed", q, &reply, &cause),
	    ENG_OK);
	id = xstrdup(json_string_value(json_object_get(json_array_get(
	    json_object_get(reply, "entries"), 1), "id")));
	json_decref(reply);
	json_decref(q);
	assert_int_equal(eng_message_mark(e, id, "read", 1, NULL, NULL, 1100,
	    &reply, &cause), ENG_OK);
	json_decref(reply);
	free(id);
	assert_int_equal(unread("u1"), 3);
	assert_int_equal(unread("u2"), 2);
	expect_pages("u1", "feed", "{\"status\": \"unread\", \"page_size\":"
	    " \"2\"}", "one 2|one 1/later 1");
	expect_pages("u1", "feed", "{\"status\": \"read\"}", "later 2");
	expect_pages("u1", NULL, "{\"engagement_status[]\": [\"unread\"],"
	    " \"page_size\": \"4\"}", "two 2|one 2|two 1|one 1/later 1");
}

/* The filter sets the chain walk is checked with, and their SQL. */
static const char *const walk_queries[][2] = {
	{ "{}", "m.archived_at IS NULL" },
	{ "{\"status\": \"unread\"}", "m.archived_at IS NULL AND"
	    " m.read_at IS NULL" },
	{ "{\"status\": \"seen\", \"archived\": \"include\"}",
	    "m.seen_at IS NOT NULL" },
	{ "{\"archived\": \"only\"}", "m.archived_at IS NOT NULL" },
	{ "{\"tenant\": \"t1\"}", "m.archived_at IS NULL AND"
	    " m.tenant = 't1'" },
	{ "{\"has_tenant\": \"true\"}",
	    "m.archived_at IS NULL AND m.tenant IS NOT NULL" },
};

/* The same for a messages list (archived included unless asked). */
static const char *const walk_list_queries[][2] = {
	{ "{}", "TRUE" },
	{ "{\"engagement_status[]\": [\"unread\"]}", "m.read_at IS NULL" },
	{ "{\"engagement_status[]\": [\"seen\", \"archived\"],"
	    " \"archived\": \"exclude\"}", "m.seen_at IS NOT NULL AND"
	    " m.archived_at IS NULL" },
	{ "{\"archived\": \"only\"}", "m.archived_at IS NOT NULL" },
	{ "{\"tenant\": \"t1\"}", "m.tenant = 't1'" },
	{ "{\"has_tenant\": \"true\", \"engagement_status[]\":"
	    " [\"unarchived\"]}", "m.tenant IS NOT NULL AND"
	    " m.archived_at IS NULL" },
};

/*
 * The ids of rcpt's messages (on channel, or all) passing where, newest
 * first, read straight off the messages table, joined by '|'.
 */
static char *
walk_reference(const char *rcpt, const char *channel, const char *where)
{
	char *sql, *out = xstrdup(""), id[37];
	int64_t *seq;
	size_t i, n;

	/* rcpt and channel are the test's own names: no quotes in them. */
	sql = xasprintf("SELECT m.seq FROM messages m WHERE m.rcpt = '%s'"
	    " AND %s%s%s AND %s ORDER BY m.seq DESC", rcpt,
	    channel != NULL ? "m.channel = '" : "TRUE",
	    channel != NULL ? channel : "", channel != NULL ? "'" : "",
	    where);
	seq = cells(sql, &n);
	for (i = 0; i < n; i++) {
		eng_id_format(e, ENG_ID_MSG, (uint64_t)seq[i], 0, id);
		join(&out, "|", id);
	}
	free(seq);
	free(sql);
	return out;
}

/*
 * Random traffic on two feed channels (ten recipients, tenants or none,
 * messages read, seen and archived at random), then every recipient's
 * feeds and message list, with each filter set and page sizes 1..7,
 * walked page by page, give exactly what a query of the messages table
 * gives, newest first; and each feed's counts agree with it.
 */
static void
test_feed_walk(void **state)
{
	static const char *channels[] = { "feed", "feed2", NULL };
	static const char *marks[] = { "read", "seen", "archived" };
	const char *const (*qs)[2];
	char rcpt[16], *want, *got, *sql, *id;
	json_t *reply, *q;
	char *cause = NULL;
	unsigned seed = 12345;
	int64_t *seq, *count;
	size_t k, n;
	int i, c, f;

	(void)state;
	for (i = 0; i < 300; i++) {
		seed = seed * 1103515245u + 12345u;
		trigger((seed >> 8) % 3 ? "two" : "override", 1000 + i,
		    "{\"recipients\": [\"u%u\", \"u%u\"], \"data\": {\"n\": %d}"
		    "%s}", (seed >> 12) % 10, (seed >> 16) % 10, i,
		    (seed >> 20) % 3 == 0 ? ", \"tenant\": \"t1\"" :
		    (seed >> 20) % 3 == 1 ? ", \"tenant\": \"t2\"" : "");
	}
	seq = cells("SELECT seq FROM messages ORDER BY seq", &n);
	for (k = 0; k < n; k++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 8) % 4 != 0)
			continue;
		id = xmalloc(37);
		eng_id_format(e, ENG_ID_MSG, (uint64_t)seq[k], 0, id);
		reply = NULL;
		assert_int_equal(eng_message_mark(e, id, marks[(seed >> 12) %
		    3], 1, NULL, NULL, 2000, &reply, &cause), ENG_OK);
		json_decref(reply);
		free(id);
	}
	free(seq);
	assert_true(n > 500);
	for (i = 0; i < 10; i++) {
		snprintf(rcpt, sizeof rcpt, "u%d", i);
		for (c = 0; c < 3; c++)
			for (f = 0; f < 6; f++) {
				qs = channels[c] ? walk_queries :
				    walk_list_queries;
				want = walk_reference(rcpt, channels[c],
				    qs[f][1]);
				got = walk(rcpt, channels[c], qs[f][0],
				    1 + (i + c + f) % 7, 1);
				if (strcmp(want, got) != 0)
					fail_msg("%s on %s with %s:\n got %s\n"
					    "want %s", rcpt, channels[c] ?
					    channels[c] : "every channel",
					    qs[f][0], got, want);
				free(want);
				free(got);
			}
		/* The feed's counts against the table. */
		for (c = 0; c < 2; c++) {
			q = json_object();
			reply = NULL;
			assert_int_equal(eng_feed_get(e, rcpt, channels[c], q,
			    &reply, &cause), ENG_OK);
			sql = xasprintf("SELECT count(*), count(*) FILTER (WHERE"
			    " read_at IS NULL), count(*) FILTER (WHERE seen_at"
			    " IS NULL) FROM messages WHERE rcpt = '%s' AND"
			    " channel = '%s' AND archived_at IS NULL", rcpt,
			    channels[c]);
			count = cells(sql, &k);
			assert_int_equal(k, 3);
			assert_int_equal(json_integer_value(json_object_get(
			    json_object_get(reply, "meta"), "total_count")),
			    count[0]);
			assert_int_equal(json_integer_value(json_object_get(
			    json_object_get(reply, "meta"), "unread_count")),
			    count[1]);
			assert_int_equal(json_integer_value(json_object_get(
			    json_object_get(reply, "meta"), "unseen_count")),
			    count[2]);
			free(count);
			free(sql);
			json_decref(reply);
			json_decref(q);
		}
	}
}

/*
 * A request rolled back after its messages joined their chains leaves
 * the chains as they were; the next messages link to the ones before,
 * under seqs not given before (the rolled-back ones are skipped).
 */
static void
test_feed_rollback(void **state)
{
	json_t *q = json_object(), *reply = NULL;
	char *cause = NULL, *first;

	(void)state;
	later_now(1000, "\"u1\"", 1);
	eng_request_begin(e);
	trigger("two", 1001, "{\"recipients\": [\"u1\", \"u2\"], \"data\":"
	    " {\"n\": 9}}");
	expect_pages("u1", NULL, "{}", "two 9|one 9|later 1");
	eng_request_end(e, 0);
	expect_pages("u1", NULL, "{}", "later 1");
	expect_pages("u2", NULL, "{}", "");
	if (!fixture_pg()) {    /* SQLite's held heads, written out */
		assert_int_equal(sqlite_heads_flush(e->store, 1), 0);
		assert_int_equal(count_rows("feed_heads"), 1);
	}
	trigger("two", 1002, "{\"recipients\": [\"u1\"], \"data\": {\"n\":"
	    " 2}}");
	later_now(1003, "\"u1\"", 3);
	expect_feed("u1", "later 3|one 2|later 1");
	expect_pages("u1", NULL, "{\"page_size\": \"1\"}",
	    "later 3/two 2/one 2/later 1");
	assert_int_equal(count_rows("messages WHERE seq BETWEEN 2 AND 5"), 0);
	assert_int_equal(eng_messages_list(e, "u1", q, &reply, &cause), ENG_OK);
	first = xstrdup(json_string_value(json_object_get(json_array_get(
	    json_object_get(reply, "items"), 0), "id")));
	json_decref(reply);
	assert_int_equal(eng_message_get(e, first, &reply, &cause), ENG_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    reply, "content"), "markdown")), "later 3");
	json_decref(reply);
	free(first);
	json_decref(q);
}

/*
 * Requests nest: a request rolled back after a nested one was kept takes
 * the nested one's messages back too, and the held heads with them, so
 * the feed goes on from the messages that stayed.
 */
static void
test_feed_nested_rollback(void **state)
{
	(void)state;
	later_now(1000, "\"u1\"", 1);
	later_now(1001, "\"u1\"", 2);     /* the chain is held from here */
	eng_request_begin(e);
	later_now(1002, "\"u1\"", 3);
	eng_request_begin(e);
	later_now(1003, "\"u1\"", 4);
	eng_request_end(e, 1);
	expect_pages("u1", NULL, "{}", "later 4|later 3|later 2|later 1");
	eng_request_end(e, 0);
	expect_pages("u1", NULL, "{}", "later 2|later 1");
	later_now(1004, "\"u1\"", 5);
	expect_pages("u1", NULL, "{}", "later 5|later 2|later 1");
	if (!fixture_pg())      /* SQLite's held heads, written out */
		assert_int_equal(sqlite_heads_flush(e->store, 1), 0);
	expect_feed("u1", "later 5|later 2|later 1");
}

/*
 * A store operation that fails inside a request marks it: the request
 * rolls back at its end even though its handler ignored the failure and
 * asked to keep its work.
 */
static void
test_sticky_failure(void **state)
{
	json_t *body = json_pack("{s:s}", "name", "Nine"), *reply = NULL;
	char *cause = NULL;
	uint64_t errors;
	struct eng_stats st;

	(void)state;
	/* Each backend's trigger that fails every insert. */
	if (fixture_pg())
		exec_sql("CREATE FUNCTION idem_fails() RETURNS trigger"
		    " LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION"
		    " 'the disk is full'; END$$;"
		    " CREATE TRIGGER idem_fails BEFORE INSERT ON idempotency"
		    " FOR EACH ROW EXECUTE FUNCTION idem_fails()");
	else
		exec_sql("CREATE TEMP TRIGGER idem_fails BEFORE INSERT ON"
		    " idempotency BEGIN SELECT RAISE(ABORT, 'the disk is"
		    " full'); END");
	eng_stats(e, &st);
	errors = st.errors;
	eng_request_begin(e);
	assert_int_equal(eng_user_put(e, "u9", body, 1000, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	json_decref(body);
	eng_idem_put(e, "k1", 200, "{}", 1000);   /* fails; ignored */
	eng_request_end(e, 1);
	eng_stats(e, &st);
	assert_int_equal(st.errors, errors + 1);
	assert_int_equal(eng_user_get(e, "u9", &reply, &cause), ENG_NOT_FOUND);
	free(cause);
	cause = NULL;
	/* The next request is not marked by the last one's failure. */
	exec_sql(fixture_pg() ? "DROP TRIGGER idem_fails ON idempotency" :
	    "DROP TRIGGER idem_fails");
	eng_request_begin(e);
	eng_idem_put(e, "k1", 200, "{}", 1000);
	eng_request_end(e, 1);
	assert_int_equal(count_rows("idempotency"), 1);
}

/* Two requests, the second's statement failing: whether each was kept. */
static void
two_requests(int *kept1, int *kept2)
{
	json_t *body, *reply = NULL;
	char *cause = NULL;

	eng_request_begin(e);
	body = json_pack("{s:s}", "name", "Eight");
	assert_int_equal(eng_user_put(e, "u8", body, 1000, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	json_decref(body);
	*kept1 = eng_request_end(e, 1);
	eng_request_begin(e);
	eng_idem_put(e, "k1", 200, "{}", 1000);   /* fails */
	*kept2 = eng_request_end(e, 1);
}

/*
 * An optimistic transaction (PostgreSQL: requests end without waiting
 * for their results) learns of a request's failure at the commit, which
 * fails as a whole and says to run again; run again, carefully, only the
 * failing request is lost.
 */
static void
test_optimistic_rerun(void **state)
{
	char *cause = NULL;
	int kept1, kept2;

	(void)state;
	if (!fixture_pg())
		skip();
	exec_sql("CREATE FUNCTION idem_fails() RETURNS trigger LANGUAGE"
	    " plpgsql AS $$BEGIN RAISE EXCEPTION 'the disk is full'; END$$;"
	    " CREATE TRIGGER idem_fails BEFORE INSERT ON idempotency FOR"
	    " EACH ROW EXECUTE FUNCTION idem_fails()");
	assert_int_equal(eng_commit(e, &cause), 0);
	eng_optimistic(e);
	assert_int_equal(eng_begin(e, &cause), 0);
	two_requests(&kept1, &kept2);
	/* Not known yet: both look kept. */
	assert_int_equal(kept1, 1);
	assert_int_equal(kept2, 1);
	assert_int_not_equal(eng_commit(e, &cause), 0);
	free(cause);
	cause = NULL;
	assert_true(eng_txn_retry(e));
	/* The rerun waits for each request's results. */
	assert_int_equal(eng_begin(e, &cause), 0);
	two_requests(&kept1, &kept2);
	assert_int_equal(kept1, 1);
	assert_int_equal(kept2, 0);
	assert_int_equal(eng_commit(e, &cause), 0);
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(count_rows("users"), 1);
	assert_int_equal(count_rows("idempotency"), 0);
	/* The next transaction is optimistic again, and commits. */
	exec_sql("DROP TRIGGER idem_fails ON idempotency");
	assert_int_equal(eng_commit(e, &cause), 0);
	assert_int_equal(eng_begin(e, &cause), 0);
	two_requests(&kept1, &kept2);
	assert_int_equal(kept2, 1);
	assert_int_equal(eng_commit(e, &cause), 0);
	assert_false(eng_txn_retry(e));
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(count_rows("idempotency"), 1);
}

/* One request of the transaction that triggers "fan" for rcpt. */
static int
fan_request(const char *rcpt)
{
	eng_request_begin(e);
	trigger("fan", 1000, "{\"recipients\": [\"%s\"]}", rcpt);
	return eng_request_end(e, 1);
}

/* A transaction of one empty request whose commit is sent, then known. */
static void
empty_sent(void)
{
	char *cause = NULL;

	assert_int_equal(eng_begin(e, &cause), 0);
	eng_request_begin(e);
	assert_int_equal(eng_request_end(e, 1), 1);
	assert_int_equal(eng_commit_send(e, &cause), 1);
	assert_int_equal(eng_commit_poll(e, 1, &cause), 0);
}

/*
 * PostgreSQL: an optimistic transaction's commit is sent without waiting
 * (eng_commit_send), and until its outcome is read the next transaction
 * runs on the other connection, where the first one's rows are not seen.
 * The commit is held at the server here by a deferred trigger waiting
 * for a lock the other connection holds.  The 70 triggers' runs and
 * messages, sent as multi-row inserts (64 rows, then 6), all land, and
 * none of the rows the next transaction holds to send go with them.
 */
static void
test_commit_pending(void **state)
{
	char name[16], *cause = NULL;
	int i;

	(void)state;
	if (!fixture_pg())
		skip();
	exec_sql("CREATE FUNCTION held() RETURNS trigger LANGUAGE plpgsql AS"
	    " $$BEGIN PERFORM pg_advisory_xact_lock_shared(42); RETURN NULL;"
	    " END$$; CREATE CONSTRAINT TRIGGER held AFTER INSERT ON runs"
	    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION"
	    " held()");
	assert_int_equal(eng_commit(e, &cause), 0);
	eng_optimistic(e);
	/* To the second connection, which takes the lock, and back. */
	empty_sent();
	assert_int_equal(eng_begin(e, &cause), 0);
	exec_sql("SELECT pg_advisory_lock(42)");
	assert_int_equal(eng_commit_send(e, &cause), 1);
	assert_int_equal(eng_commit_poll(e, 1, &cause), 0);
	assert_int_equal(eng_commit_fd(e), -1);

	assert_int_equal(eng_begin(e, &cause), 0);
	for (i = 0; i < 70; i++) {
		snprintf(name, sizeof name, "u%d", i);
		assert_int_equal(fan_request(name), 1);
	}
	assert_int_equal(eng_commit_send(e, &cause), 1);
	assert_true(eng_commit_fd(e) >= 0);
	assert_int_equal(eng_commit_poll(e, 0, &cause), 1);
	/* The next transaction, on the other connection, meanwhile. */
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(count_rows("runs"), 0);
	assert_int_equal(eng_commit_poll(e, 0, &cause), 1);
	exec_sql("SELECT pg_advisory_unlock(42)");
	assert_int_equal(fan_request("u70"), 1);
	assert_int_equal(eng_commit_poll(e, 1, &cause), 0);
	assert_int_equal(eng_commit_fd(e), -1);
	/* Abandoned: what it held to send went nowhere. */
	eng_rollback(e);
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(count_rows("runs"), 70);
	assert_int_equal(count_rows("messages"), 70);
	assert_int_equal(count_rows("rruns"), 70);
}

/*
 * PostgreSQL: a commit sent while the one before is pending goes out
 * before that one's outcome is waited for, so a pending commit that
 * waits for a lock the next transaction holds (here, at the server, a
 * deferred trigger's) does not wait for it in vain: both commit.
 */
static void
test_commit_send_order(void **state)
{
	char *cause = NULL;

	(void)state;
	if (!fixture_pg())
		skip();
	exec_sql("CREATE FUNCTION held() RETURNS trigger LANGUAGE plpgsql AS"
	    " $$BEGIN PERFORM pg_advisory_xact_lock_shared(42); PERFORM"
	    " pg_advisory_xact_lock_shared(43); RETURN NULL; END$$; CREATE"
	    " CONSTRAINT TRIGGER held AFTER INSERT ON runs DEFERRABLE"
	    " INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION held()");
	exec_sql("SELECT pg_advisory_lock(42)");
	assert_int_equal(eng_commit(e, &cause), 0);
	eng_optimistic(e);
	/* The first connection holds 42; to the second one. */
	empty_sent();
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(fan_request("u1"), 1);
	assert_int_equal(eng_commit_send(e, &cause), 1);
	assert_int_equal(eng_commit_poll(e, 0, &cause), 1);
	/* The next one takes 43 and lets go of 42: the first waits for 43. */
	assert_int_equal(eng_begin(e, &cause), 0);
	exec_sql("SELECT pg_advisory_xact_lock(43)");
	exec_sql("SELECT pg_advisory_unlock(42)");
	assert_int_equal(fan_request("u2"), 1);
	assert_int_equal(eng_commit_send(e, &cause), 1);
	assert_int_equal(eng_commit_poll(e, 1, &cause), 0);
	assert_int_equal(eng_commit_poll(e, 1, &cause), 0);
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(count_rows("runs"), 2);
}

/*
 * PostgreSQL: a statement failing in a commit sent without waiting (one
 * row of a multi-row insert) fails the transaction as a whole, known at
 * its outcome, which asks for the rerun; run again carefully, only the
 * failing request is lost.
 */
static void
test_commit_pending_fails(void **state)
{
	char name[16], *cause = NULL;
	int i;

	(void)state;
	if (!fixture_pg())
		skip();
	exec_sql("CREATE FUNCTION u5_fails() RETURNS trigger LANGUAGE plpgsql"
	    " AS $$BEGIN IF NEW.rcpt = 'u5' THEN RAISE EXCEPTION 'no u5';"
	    " END IF; RETURN NEW; END$$; CREATE TRIGGER u5_fails BEFORE"
	    " INSERT ON messages FOR EACH ROW EXECUTE FUNCTION u5_fails()");
	assert_int_equal(eng_commit(e, &cause), 0);
	eng_optimistic(e);
	assert_int_equal(eng_begin(e, &cause), 0);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "u%d", i);
		assert_int_equal(fan_request(name), 1);
	}
	assert_int_equal(eng_commit_send(e, &cause), 1);
	assert_int_equal(eng_commit_poll(e, 1, &cause), -1);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_true(eng_txn_retry(e));
	assert_int_equal(eng_begin(e, &cause), 0);
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof name, "u%d", i);
		assert_int_equal(fan_request(name), i != 5);
	}
	assert_int_equal(eng_commit(e, &cause), 0);
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(count_rows("messages"), 9);
	assert_int_equal(count_rows("runs"), 9);
}

/*
 * Back to schema 12: no channel data, no subscriptions by subscriber, no
 * bulk operations, messages without metadata, events or the run index, no
 * audience members.
 */
static void
to_schema_12(sqlite3 *db)
{
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE messages DROP COLUMN"
	    " metadata; DROP TABLE message_events; DROP INDEX messages_by_run;"
	    " DROP TABLE channel_data; DROP INDEX subscriptions_by_rcpt;"
	    " DROP TABLE bulk_items; DROP TABLE bulk_ops;"
	    " DROP TABLE audience_members;"
	    " UPDATE meta SET v = '12' WHERE k = 'version'", NULL, NULL, NULL),
	    SQLITE_OK);
}

/* Back to schema 11: deliveries without channel and headers, no attempts. */
static void
to_schema_11(sqlite3 *db, int unused)
{
	(void)unused;
	to_schema_12(db);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX deliveries_by_channel;"
	    " ALTER TABLE deliveries DROP COLUMN channel;"
	    " ALTER TABLE deliveries DROP COLUMN headers;"
	    " DROP TABLE delivery_attempts;"
	    " UPDATE meta SET v = '11' WHERE k = 'version'", NULL, NULL, NULL),
	    SQLITE_OK);
}

/* Back to schema 10: no source tables. */
static void
to_schema_10(sqlite3 *db)
{
	to_schema_11(db, 0);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE source_events;"
	    " DROP TABLE source_counts; DROP TABLE source_runs;"
	    " UPDATE meta SET v = '10' WHERE k = 'version'", NULL, NULL, NULL),
	    SQLITE_OK);
}

/* Back to schema 9: schedules without per_sub, skip_reason, last_error. */
static void
to_schema_9(sqlite3 *db, int unused)
{
	(void)unused;
	to_schema_10(db);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE schedules DROP COLUMN"
	    " per_sub; ALTER TABLE schedules DROP COLUMN skip_reason;"
	    " ALTER TABLE schedules DROP COLUMN last_error;"
	    " UPDATE meta SET v = '9' WHERE k = 'version'", NULL, NULL, NULL),
	    SQLITE_OK);
}

/* Back to schema 8: feed_heads exact (as a clean stop leaves it). */
static void
to_schema_8(sqlite3 *db)
{
	to_schema_9(db, 0);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM meta WHERE k ="
	    " 'heads_upto'; UPDATE meta SET v = '8' WHERE k = 'version'",
	    NULL, NULL, NULL), SQLITE_OK);
}

/* Back to schema 7's recipient runs: a WITHOUT ROWID table on (run, idx). */
static void
to_schema_7(sqlite3 *db, int unused)
{
	(void)unused;
	to_schema_8(db);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE old(run_seq INTEGER"
	    " NOT NULL, idx INTEGER NOT NULL, rcpt TEXT NOT NULL, status TEXT"
	    " NOT NULL, events TEXT NOT NULL, error_count INTEGER NOT NULL,"
	    " inserted_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
	    " pc INTEGER NOT NULL DEFAULT 0, tdata TEXT, sub TEXT, wait_at"
	    " INTEGER, batch_id INTEGER, PRIMARY KEY(run_seq, idx))"
	    " WITHOUT ROWID;"
	    "INSERT INTO old SELECT id >> 24, id & 16777215, rcpt, status,"
	    " events, error_count, inserted_at, updated_at, pc, tdata, sub,"
	    " wait_at, batch_id FROM rruns;"
	    "DROP TABLE rruns; ALTER TABLE old RENAME TO rruns;"
	    "UPDATE meta SET v = '7' WHERE k = 'version'", NULL, NULL, NULL),
	    SQLITE_OK);
}

/*
 * Builds the feed tables of schema 6 from the chains, as that schema kept
 * them: entries below split in feed_main, the rest in feed_recent.
 */
static void
to_schema_6(sqlite3 *db, int split)
{
	char *sql;

	to_schema_7(db, 0);
	sql = xasprintf("DROP TABLE feed_heads;"
	    "ALTER TABLE messages DROP COLUMN prev;"
	    "CREATE TABLE feed_main(rcpt TEXT NOT NULL, channel TEXT NOT NULL,"
	    " seq INTEGER NOT NULL, PRIMARY KEY(rcpt, channel, seq))"
	    " WITHOUT ROWID;"
	    "CREATE TABLE feed_recent(rcpt TEXT NOT NULL, channel TEXT NOT"
	    " NULL, seq INTEGER NOT NULL, PRIMARY KEY(rcpt, channel, seq))"
	    " WITHOUT ROWID;"
	    "INSERT INTO feed_main SELECT rcpt, channel, seq FROM messages"
	    " WHERE seq <= %d;"
	    "INSERT INTO feed_recent SELECT rcpt, channel, seq FROM messages"
	    " WHERE seq > %d;"
	    "UPDATE meta SET v = '6' WHERE k = 'version'", split, split);

	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
}

/* Close the engine, let f take the file back to an old schema, reopen. */
static void
reopen_from(void (*f)(sqlite3 *, int), int arg)
{
	char *cause = NULL, *path;
	sqlite3 *db;

	assert_int_equal(eng_commit(e, &cause), 0);
	path = xstrdup(sqlite3_db_filename(DB(e), "main"));
	eng_close(e);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	f(db, arg);
	sqlite3_close(db);
	e = eng_open(path, &cause);
	free(path);
	assert_non_null(e);
	eng_set_config(e, eng_config_load(dir, &cause));
	assert_int_equal(eng_begin(e, &cause), 0);
}

/* Messages as in test_feed_chains, for the migrations to carry over. */
static void
feed_history(void)
{
	later_now(1000, "\"u1\", \"u2\"", 1);
	trigger("two", 1001, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 1}}");
	later_now(1002, "\"u2\", \"u1\"", 2);
}

/* What feed_history leaves, read back, and the chains going on from it. */
static void
expect_history(void)
{
	expect_feed("u1", "later 2|one 1|later 1");
	expect_feed("u2", "later 2|later 1");
	expect_pages("u1", NULL, "{\"page_size\": \"2\"}",
	    "later 2|two 1/one 1|later 1");
	assert_int_equal(count_rows("sqlite_master WHERE name IN"
	    " ('feed_main', 'feed_recent', 'messages_by_rcpt')"), 0);
	trigger("two", 1003, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 2}}");
	expect_pages("u1", NULL, "{}", "two 2|one 2|later 2|two 1|one 1|later 1");
}

/*
 * Schema 7 turns the feed tables into chains: a database of schema 6
 * keeps its feeds, entries merged into feed_main or still in
 * feed_recent alike.
 */
static void
test_feed_migration(void **state)
{
	(void)state;
	/* SQLite only: edits the file back to schema 6 and reopens it. */
	if (fixture_pg())
		skip();
	feed_history();
	reopen_from(to_schema_6, 3);
	expect_history();
}

/* Back to schema 5 (an index on messages, no feed tables) from 6. */
static void
to_schema_5(sqlite3 *db, int split)
{
	to_schema_6(db, split);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE feed_main;"
	    "DROP TABLE feed_recent; CREATE INDEX messages_by_rcpt ON"
	    " messages(rcpt, channel, seq); UPDATE meta SET v = '5' WHERE"
	    " k = 'version'", NULL, NULL, NULL), SQLITE_OK);
}

/* A database of schema 5 keeps its feeds through schemas 6 and 7. */
static void
test_feed_migration_5(void **state)
{
	(void)state;
	/* SQLite only: edits the file back to schema 5 and reopens it. */
	if (fixture_pg())
		skip();
	feed_history();
	reopen_from(to_schema_5, 0);
	expect_history();
}

/* "r<first>", ... "r<first + n - 1>", as a JSON list's items. */
static char *
rcpt_list(int first, int n)
{
	char *out = xstrdup(""), id[32];
	int i;

	for (i = first; i < first + n; i++) {
		snprintf(id, sizeof id, "\"r%d\"", i);
		join(&out, ", ", id);
	}
	return out;
}

/* Commit the test's transaction and start the next. */
static void
commit(void)
{
	char *cause = NULL;

	assert_int_equal(eng_commit(e, &cause), 0);
	assert_int_equal(eng_begin(e, &cause), 0);
}

/* meta('heads_upto'): feed_heads is exact up to this message seq. */
static int64_t
heads_upto(void)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(DB(e), "SELECT CAST(v AS"
	    " INTEGER) FROM meta WHERE k = 'heads_upto'", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* How many of feed_heads' rows for recipients like pattern are exact. */
static int64_t
exact_heads(const char *pattern)
{
	sqlite3_stmt *st;
	int64_t n;

	assert_int_equal(sqlite3_prepare_v2(DB(e), "SELECT count(*) FROM"
	    " feed_heads f JOIN (SELECT rcpt, channel, max(seq) AS top FROM"
	    " messages GROUP BY rcpt, channel) m ON m.rcpt = f.rcpt AND"
	    " m.channel = f.channel WHERE f.rcpt LIKE ?1 AND f.head = m.top",
	    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, pattern, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Trigger "fan" to r<first>... in chunks of 1000, committing each. */
static void
fan_to(int first, int n, int64_t at)
{
	char *list;
	int i;

	for (i = first; i < first + n; i += 1000) {
		list = rcpt_list(i, 1000);
		trigger("fan", at, "{\"recipients\": [%s]}", list);
		free(list);
		commit();
	}
}

/*
 * Feed heads are written behind: a chain's first two messages write its
 * head at once, later ones are held in memory, and a commit writes the held
 * heads once 4096 are held or 65,536 messages were sent since they were
 * last written (heads_upto alone if none is held); feeds read the heads
 * held.
 */
static void
test_heads_written_behind(void **state)
{
	int t;

	(void)state;
	/* SQLite only: the feed heads written behind. */
	if (fixture_pg())
		skip();
	/* Two messages each: written at once, the chains held from then. */
	fan_to(0, 5000, 1000);
	fan_to(0, 5000, 1500);
	assert_int_equal(exact_heads("r%"), 5000);
	assert_int_equal(heads_upto(), 0);
	/* 4000 held chains move on: stale in the table, not in the feeds. */
	fan_to(0, 4000, 2000);
	assert_int_equal(exact_heads("r%"), 1000);
	expect_feed("r0", "to r0 as |to r0 as |to r0 as ");
	/* The 5000th dirty head makes the commit write them all. */
	fan_to(4000, 1000, 3000);
	assert_int_equal(exact_heads("r%"), 5000);
	assert_int_equal(heads_upto(), 15000);
	/* The same 1000 again: written once 65,536 messages went out. */
	for (t = 0; t < 66; t++) {
		fan_to(0, 1000, 4000 + t);
		assert_int_equal(heads_upto(), t < 65 ? 15000 : 81000);
	}
	assert_int_equal(exact_heads("r%"), 5000);
	assert_int_equal(count_rows("feed_heads"), 5000);
	/* New chains only (none held): heads_upto still moves on. */
	fan_to(10000, 65000, 5000);
	assert_int_equal(heads_upto(), 81000);
	fan_to(75000, 1000, 5001);
	assert_int_equal(heads_upto(), 147000);
	assert_int_equal(count_rows("feed_heads"), 71000);
}

/*
 * A transaction that SQLite ends by itself (a full disk, an I/O error)
 * sends nothing more; its failed commit drops the heads held, and the next
 * transaction recovers them: the feeds hold what committed, in order.
 */
static void
test_heads_lost_transaction(void **state)
{
	json_t *body, *reply = NULL;
	char *cause = NULL;

	(void)state;
	/* SQLite only: the feed heads and a ROLLBACK under SQLite. */
	if (fixture_pg())
		skip();
	later_now(1000, "\"u1\"", 1);
	later_now(1001, "\"u1\"", 2);       /* held */
	commit();
	later_now(1002, "\"u1\"", 3);       /* held, in the lost transaction */
	exec_sql("ROLLBACK");                /* as SQLite does on SQLITE_FULL */
	body = json_loads("{\"recipients\": [\"u1\"], \"data\": {\"n\": 4},"
	    " \"settings\": {\"skip_delay\": true}}", 0, NULL);
	assert_int_not_equal(eng_trigger(e, "delay", body, 1003, &reply,
	    &cause), ENG_OK);
	free(cause);
	cause = NULL;
	json_decref(body);
	assert_int_not_equal(eng_commit(e, &cause), 0);
	free(cause);
	cause = NULL;
	assert_int_equal(eng_begin(e, &cause), 0);
	expect_feed("u1", "later 2|later 1");
	later_now(1004, "\"u1\"", 5);
	commit();
	expect_feed("u1", "later 5|later 2|later 1");
}

/* Copy the engine's database files (a crash's image after a commit). */
static char *
crash_image(void)
{
	char *path = xstrdup(sqlite3_db_filename(DB(e), "main")), *cmd, *img;

	img = xasprintf("%s.crash", path);
	cmd = xasprintf("cp %s %s && cp %s-wal %s-wal", path, img, path, img);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(path);
	return img;
}

/*
 * A crash loses the heads held in memory, not the feeds: the next open
 * finds the newest message of each chain above heads_upto, and new
 * messages chain on from there.
 */
static void
test_heads_crash(void **state)
{
	struct eng *live;
	char *cause = NULL, *img;

	(void)state;
	/* SQLite only: a copy of the file and its log, the feed heads. */
	if (fixture_pg())
		skip();
	trigger("two", 1000, "{\"recipients\": [\"u1\", \"u2\"], \"data\":"
	    " {\"n\": 1}}");
	later_now(1001, "\"u1\"", 2);
	trigger("two", 1002, "{\"recipients\": [\"u1\"], \"data\": {\"n\":"
	    " 3}}");
	commit();
	assert_int_equal(exact_heads("u%"), 3);   /* u1's feed one is held */
	img = crash_image();
	live = e;
	assert_non_null(e = eng_open(img, &cause));
	eng_set_config(e, eng_config_load(dir, &cause));
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(exact_heads("u%"), 4);
	assert_int_equal(count_rows("feed_heads"), 4);
	assert_int_equal(heads_upto(), 7);
	expect_pages("u1", NULL, "{\"page_size\": \"2\"}",
	    "two 3|one 3/later 2|two 1/one 1");
	expect_pages("u2", NULL, "{}", "two 1|one 1");
	later_now(1003, "\"u1\"", 4);
	expect_feed("u1", "later 4|one 3|later 2|one 1");
	eng_commit(e, &cause);
	eng_close(e);
	e = live;
	free(img);
}

/* GET /v1/workflow_recipient_runs, page by page, as "id status|...". */
static char *
runs_pages(void)
{
	json_t *q = json_pack("{s:s}", "page_size", "2"), *reply, *it;
	char *cause = NULL, *out = xstrdup(""), *item;
	const char *after;
	size_t i;

	for (;;) {
		reply = NULL;
		assert_int_equal(eng_runs_list(e, q, &reply, &cause), ENG_OK);
		json_array_foreach(json_object_get(reply, "items"), i, it) {
			item = xasprintf("%s %s %s", json_string_value(
			    json_object_get(it, "id")), json_string_value(
			    json_object_get(it, "recipient")),
			    json_string_value(json_object_get(it, "status")));
			join(&out, "|", item);
			free(item);
		}
		after = json_string_value(json_object_get(json_object_get(
		    reply, "page_info"), "after"));
		if (after == NULL) {
			json_decref(reply);
			break;
		}
		json_object_set_new(q, "after", json_string(after));
		json_decref(reply);
	}
	json_decref(q);
	return out;
}

/*
 * Schema 8 keys recipient runs by one integer: runs of schema 7, paused
 * or done, list the same page by page under the same ids, and a paused
 * one resumes on time.
 */
static void
test_rruns_migration(void **state)
{
	char *before, *after;

	(void)state;
	/* SQLite only: edits the file back to schema 7 and reopens it. */
	if (fixture_pg())
		skip();
	trigger("delay", 1000, "{\"recipients\": [\"u1\", \"u2\", \"u3\"],"
	    " \"data\": {\"n\": 1}}");
	trigger("two", 1001, "{\"recipients\": [\"u2\"], \"data\": {\"n\": 2}}");
	trigger("delay", 1002, "{\"recipients\": [\"u3\"], \"data\": {\"n\":"
	    " 3}}");
	advance(1300);
	before = runs_pages();
	assert_int_equal(count_rows("rruns WHERE status = 'paused'"), 1);
	reopen_from(to_schema_7, 0);
	after = runs_pages();
	assert_string_equal(after, before);
	assert_non_null(strstr(after, " u3 paused|"));
	advance(1302);
	expect_feed("u3", "later 3|later 1");
	assert_int_equal(count_rows("rruns WHERE status = 'paused'"), 0);
	free(before);
	free(after);
}

/*
 * From schema 9 on, an object's schedule made before fans out per
 * subscriber as it did (per_sub), a user's stays as it was.
 */
static void
test_schedules_migration(void **state)
{
	json_t *body, *reply = NULL;
	char *cause = NULL;

	(void)state;
	/* SQLite only: edits the file back to schema 9 and reopens it. */
	if (fixture_pg())
		skip();
	body = json_loads("{\"workflow\": \"delay\", \"recipients\": "
	    "[\"u1\", {\"id\": \"o\", \"collection\": \"teams\"}], "
	    "\"rrule\": \"FREQ=DAILY;BYHOUR=9\"}", 0, NULL);
	assert_int_equal(eng_schedules_create(e, body, 1000, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	json_decref(body);
	assert_int_equal(count_rows("schedules WHERE per_sub = 0"), 2);
	reopen_from(to_schema_9, 0);
	assert_int_equal(count_rows("schedules WHERE per_sub = 1 AND rcpt ="
	    " 'teams/o'"), 1);
	assert_int_equal(count_rows("schedules WHERE per_sub = 0 AND rcpt ="
	    " 'u1' AND skip_reason IS NULL AND last_error IS NULL"), 1);
}

/* A branch takes the first arm whose conditions hold, then goes on. */
static void
test_branch(void **state)
{
	(void)state;
	trigger("branch", 1000, "{\"recipients\": [\"u1\"], \"data\": {\"n\": 20}}");
	trigger("branch", 1001, "{\"recipients\": [\"u2\"], \"data\": {\"n\": 2}}");
	expect_feed("u1", "after|big");
	expect_feed("u2", "after|small");
}

/* Cancelling: delays and batches of the key, not other keys or later runs. */
static void
test_cancel(void **state)
{
	json_t *body;
	char *cause = NULL;

	(void)state;
	trigger("delay", 1000, "{\"recipients\": [\"u1\", \"u2\"],"
	    " \"cancellation_key\": \"k\", \"data\": {\"n\": 1}}");
	trigger("delay", 1000, "{\"recipients\": [\"u3\"],"
	    " \"cancellation_key\": \"other\", \"data\": {\"n\": 3}}");
	body = json_pack("{s:s, s:[s]}", "cancellation_key", "k",
	    "recipients", "u1");
	assert_int_equal(eng_cancel(e, "delay", body, 1100, &cause), ENG_OK);
	json_decref(body);
	advance(2000);
	expect_feed("u1", "");
	expect_feed("u2", "later 1");
	expect_feed("u3", "later 3");
	/* A cancel before a trigger does not cancel it. */
	body = json_pack("{s:s}", "cancellation_key", "early");
	assert_int_equal(eng_cancel(e, "delay", body, 3000, &cause), ENG_OK);
	json_decref(body);
	trigger("delay", 3001, "{\"recipients\": [\"u4\"],"
	    " \"cancellation_key\": \"early\", \"data\": {\"n\": 4}}");
	advance(4000);
	expect_feed("u4", "later 4");
	/* Batch: cancel the carrier, the joiner still gets its activity. */
	trigger("batch", 5000, "{\"recipients\": [\"u5\"], \"actor\": \"a\","
	    " \"cancellation_key\": \"x\", \"data\": {\"post\": \"p\"}}");
	trigger("batch", 5001, "{\"recipients\": [\"u5\"], \"actor\": \"b\","
	    " \"cancellation_key\": \"y\", \"data\": {\"post\": \"p\"}}");
	trigger("batch", 5002, "{\"recipients\": [\"u6\"], \"actor\": \"b\","
	    " \"cancellation_key\": \"x\", \"data\": {\"post\": \"p\"}}");
	assert_int_equal(eng_cancel(e, "batch", body = json_pack("{s:s}",
	    "cancellation_key", "x"), 5100, &cause), ENG_OK);
	json_decref(body);
	advance(6000);
	expect_feed("u5", "1 by 1 on p");
	expect_feed("u6", "");
	assert_int_equal(eng_cancel(e, "batch", body = json_object(), 1,
	    &cause), ENG_INVALID);
	json_decref(body);
	free(cause);
}

/*
 * Fan-out: breadth first, a diamond reaches each user once, the actor is
 * left out, and templates see the subscription's properties.
 */
static void
test_fanout(void **state)
{
	json_t *b, *reply = NULL;
	char *cause = NULL;

	(void)state;
	b = json_object();
	assert_int_equal(eng_object_put(e, "teams", "A", b, 1, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	assert_int_equal(eng_object_put(e, "teams", "B", b, 1, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	json_decref(b);
	b = json_pack("{s:[s, {s:s, s:s}], s:{s:s}}", "recipients", "u1",
	    "id", "B", "collection", "teams", "properties", "role", "lead");
	assert_int_equal(eng_subs_add(e, "teams", "A", b, 1, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	json_decref(b);
	b = json_pack("{s:[s, s, s, s], s:{s:s}}", "recipients", "u1", "u2",
	    "u3", "actor", "properties", "role", "member");
	assert_int_equal(eng_subs_add(e, "teams", "B", b, 1, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	json_decref(b);
	trigger("fan", 1000, "{\"recipients\": [{\"id\": \"A\", \"collection\":"
	    " \"teams\"}, \"u2\"], \"actor\": \"actor\"}");
	expect_feed("u1", "");
	advance(1000);
	/* u1 is reached first as A's subscriber, u2 directly, u3 via B. */
	expect_feed("u1", "to u1 as lead");
	expect_feed("u2", "to u2 as ");
	expect_feed("u3", "to u3 as member");
	expect_feed("actor", "");
	/* Subscriber filters: subscription and recipient properties. */
	user_put("u2", "{\"plan\": \"pro\"}");
	trigger("fan", 2000, "{\"recipients\": [{\"id\": \"B\", \"collection\":"
	    " \"teams\"}], \"subscriber_filter\": [{\"variable\":"
	    " \"recipient.subscription.properties.role\", \"operator\":"
	    " \"equal_to\", \"argument\": \"lead\"}]}");
	trigger("fan", 2001, "{\"recipients\": [{\"id\": \"B\", \"collection\":"
	    " \"teams\"}], \"subscriber_filter\": [{\"variable\":"
	    " \"recipient.plan\", \"operator\": \"equal_to\","
	    " \"argument\": \"pro\"}]}");
	advance(2001);
	expect_feed("u3", "to u3 as member");
	expect_feed("u2", "to u2 as member|to u2 as ");
}

/* Subscribe n users u0..u(n-1) to teams/big. */
static void
subscribe_many(int n)
{
	json_t *b, *rs, *reply = NULL;
	char *cause = NULL, id[32];
	int i, j;

	b = json_object();
	assert_int_equal(eng_object_put(e, "teams", "big", b, 1, &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	json_decref(b);
	for (i = 0; i < n; i += 100) {
		rs = json_array();
		for (j = i; j < i + 100 && j < n; j++) {
			snprintf(id, sizeof id, "m%05d", j);
			json_array_append_new(rs, json_string(id));
		}
		b = json_pack("{s:o}", "recipients", rs);
		assert_int_equal(eng_subs_add(e, "teams", "big", b, 1, &reply,
		    &cause), ENG_OK);
		json_decref(reply);
		json_decref(b);
	}
}

/*
 * A cancel racing a 10,000-subscriber fan-out: made after two of its ten
 * chunks, it stops the runs created so far and every run still to come.
 */
static void
test_cancel_races_fanout(void **state)
{
	json_t *body, *q = json_object(), *reply = NULL;
	char *cause = NULL;

	(void)state;
	subscribe_many(10000);
	trigger("delay", 1000, "{\"recipients\": [{\"id\": \"big\","
	    " \"collection\": \"teams\"}], \"cancellation_key\": \"k\","
	    " \"data\": {\"n\": 1}}");
	eng_run_due(e, 1000);   /* first chunk */
	assert_int_equal(eng_run_due(e, 1000), 1);   /* second chunk */
	body = json_pack("{s:s}", "cancellation_key", "k");
	assert_int_equal(eng_cancel(e, "delay", body, 1001, &cause), ENG_OK);
	json_decref(body);
	advance(5000);
	expect_feed("m00000", "");
	expect_feed("m01999", "");
	expect_feed("m09999", "");
	/* No run of the key is left paused, and none produced a message. */
	json_object_set_new(q, "status", json_string("paused"));
	assert_int_equal(eng_runs_list(e, q, &reply, &cause), ENG_OK);
	assert_int_equal(json_array_size(json_object_get(reply, "items")), 0);
	json_decref(reply);
	/* The same key again later is a new trigger and is not cancelled. */
	trigger("delay", 6000, "{\"recipients\": [{\"id\": \"big\","
	    " \"collection\": \"teams\"}], \"cancellation_key\": \"k\","
	    " \"data\": {\"n\": 2}}");
	advance(7000);
	expect_feed("m09999", "later 2");
	json_decref(q);
}

/*
 * A run numbers at most 2^24 recipients (the ids carry 24 bits): a
 * fan-out that reaches the limit runs the subscribers below it, counts an
 * error and leaves the rest without a run.
 */
static void
test_fanout_cap(void **state)
{
	json_t *reply = NULL;
	char *cause = NULL, id[37];
	struct eng_stats before, after;

	(void)state;
	subscribe_many(5);
	trigger("fan", 1000, "{\"recipients\": [{\"id\": \"big\","
	    " \"collection\": \"teams\"}]}");
	exec_sql("UPDATE runs SET next_idx = 16777214");
	eng_stats(e, &before);
	advance(1000);
	eng_stats(e, &after);
	expect_feed("m00000", "to m00000 as ");
	expect_feed("m00001", "to m00001 as ");
	expect_feed("m00002", "");
	expect_feed("m00004", "");
	assert_int_equal(count_rows("rruns"), 3);
	assert_int_equal(after.errors, before.errors + 1);
	eng_id_format(e, ENG_ID_RRUN, 1, 16777215, id);
	assert_int_equal(eng_run_get(e, id, &reply, &cause), ENG_OK);
	assert_string_equal(json_string_value(json_object_get(reply,
	    "recipient")), "m00001");
	json_decref(reply);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trigger_dedupe, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events_upgrade, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recipient_for_prefs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recipient_for_default_prefs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay_dynamic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_override_preferences, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_rule_dst, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_throttle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_chains, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_feed_rollback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_feed_nested_rollback,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sticky_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_optimistic_rerun, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_commit_pending, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_commit_pending_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_send_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_feed_walk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_feed_migration, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_feed_migration_5, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_schedules_migration, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rruns_migration, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_heads_written_behind,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_heads_crash, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_heads_lost_transaction,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fanout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_races_fanout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fanout_cap, setup,
		    teardown),
	};
	char *cause = NULL, path[600];
	int rc;

	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0 ||
	    mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/workflows", dir);
	mkdir(path, 0700);
	rc = cmocka_run_group_tests_name("steps", tests, NULL, NULL);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		rc = 1;
	tz_shutdown();
	return rc;
}
