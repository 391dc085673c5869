/*
 * engine/schedules.c: creating, firing (on explicit instants), catch-up,
 * time zone changes, object fan-out, updates and config sync, on a real
 * SQLite file.
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

static char dir[] = "/tmp/belfry-sched-XXXXXX";
static struct eng *e;
static int dbn;
static json_t *kept;     /* bodies lent to the engine, freed at teardown */

static const char *conf =
    "{\"default_timezone\": \"UTC\", \"channels\": {"
    "\"feed\": {\"type\": \"in_app_feed\"}}}";

static const char *workflow =
    "{\"key\": \"ping\", \"steps\": [{\"ref\": \"f\", \"type\": \"channel\","
    " \"channel\": \"feed\", \"template\": {\"markdown\": \"ping\"}}]}";

/* Write text to dir/name (NULL text: remove it). */
static void
put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (text == NULL) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A fresh engine on a fresh database for each test. */
static int
setup(void **state)
{
	char *cause = NULL, path[600];
	struct eng_config *c;

	(void)state;
	put("belfry.conf", conf);
	put("workflows/ping.json", workflow);
	put("schedules/s.json", NULL);
	if ((c = eng_config_load(dir, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	snprintf(path, sizeof path, "%s/db%d", dir, dbn++);
	if ((e = eng_open(path, &cause)) == NULL)
		return -1;
	eng_set_config(e, c);
	return eng_begin(e, &cause);
}

/* Close the engine. */
static int
teardown(void **state)
{
	char *cause = NULL;

	(void)state;
	eng_commit(e, &cause);
	eng_close(e);
	json_decref(kept);
	kept = NULL;
	return 0;
}

/* Keep v until teardown (for calls that borrow their body); returns v. */
static json_t *
keep(json_t *v)
{
	if (kept == NULL)
		kept = json_array();
	json_array_append_new(kept, v);
	return v;
}

/* Parse test JSON made from a format. */
static json_t * __attribute__((format(printf, 1, 2)))
js(const char *fmt, ...)
{
	json_error_t err;
	json_t *v;
	va_list ap;
	char *text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	if ((v = json_loads(text, 0, &err)) == NULL)
		fail_msg("bad test JSON %s: %s", text, err.text);
	free(text);
	return v;
}

/* An instant from RFC 3339 text. */
static int64_t
at(const char *s)
{
	int64_t t;

	assert_int_equal(tz_instant_parse(s, &t), 0);
	return t;
}

/* Create schedules from body at now; the reply (fails the test on error). */
static json_t *
create(int64_t now, json_t *body)
{
	json_t *reply = NULL;
	char *cause = NULL;

	if (eng_schedules_create(e, body, now, &reply, &cause) != ENG_OK)
		fail_msg("create: %s", cause);
	json_decref(body);
	return reply;
}

/* A string member of the i-th element of an array. */
static const char *
field(json_t *a, size_t i, const char *name)
{
	json_t *v = json_object_get(json_array_get(a, i), name);

	return json_is_string(v) ? json_string_value(v) : "null";
}

/* Run every due item up to `to`, in time order, as the scheduler does. */
static void
advance(int64_t to)
{
	int64_t t;

	while ((t = eng_next_due(e)) <= to)
		eng_run_due(e, t);
}

/* The schedule-made runs of recipient rcpt, newest first: "fire,fire". */
static char *
fires(const char *rcpt)
{
	json_t *q = json_pack("{s:s, s:s}", "recipient", rcpt, "page_size",
	    "50"), *reply = NULL, *it;
	char *cause = NULL, *out = xstrdup(""), *t;
	size_t i;

	assert_int_equal(eng_runs_list(e, q, &reply, &cause), ENG_OK);
	json_array_foreach(json_object_get(reply, "items"), i, it) {
		it = json_object_get(it, "trigger_source");
		assert_string_equal(json_string_value(json_object_get(it,
		    "type")), "schedule");
		t = xasprintf("%s%s%s", out, i ? "," : "", json_string_value(
		    json_object_get(it, "scheduled_at")));
		free(out);
		out = t;
	}
	json_decref(reply);
	json_decref(q);
	return out;
}

/* Assert the fires of rcpt. */
static void
expect_fires(const char *rcpt, const char *want)
{
	char *got = fires(rcpt);

	if (strcmp(got, want) != 0)
		fail_msg("fires of %s:\n  %s\nwant\n  %s", rcpt, got, want);
	free(got);
}

/* The user's (or object's) schedules, as the list reply. */
static json_t *
list_of(const char *coll, const char *id)
{
	json_t *q = json_object(), *reply = NULL;
	char *cause = NULL;

	assert_int_equal(eng_schedules_of(e, coll, id, q, &reply, &cause),
	    ENG_OK);
	json_decref(q);
	return reply;
}

/* Daily in Kolkata (+05:30) fires at 09:30 local, runs marked schedule. */
static void
test_daily_half_hour_zone(void **state)
{
	json_t *r;
	json_t *reply = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(eng_user_put(e, "u1", keep(js("{\"timezone\": "
	    "\"Asia/Kolkata\"}")), at("2026-03-01T00:00:00Z"), &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"u1\"], \"repeats\": [{\"frequency\": "
	    "\"daily\", \"hours\": [9], \"minutes\": [30]}]}"));
	assert_string_equal(field(r, 0, "next_occurrence_at"),
	    "2026-03-01T04:00:00Z");
	assert_string_equal(field(r, 0, "effective_timezone"), "Asia/Kolkata");
	assert_int_equal(eng_next_due(e), at("2026-03-01T04:00:00Z"));
	advance(at("2026-03-03T12:00:00Z"));
	expect_fires("u1", "2026-03-03T04:00:00Z,2026-03-02T04:00:00Z,"
	    "2026-03-01T04:00:00Z");
	json_decref(r);
}

/* New York 02:30 daily: the spring-forward day shifts to 03:30 EDT. */
static void
test_dst_gap_shift_and_skip(void **state)
{
	json_t *r;

	(void)state;
	r = create(at("2026-03-06T12:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"a\"], \"timezone\": \"America/New_York\","
	    " \"rrule\": \"FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0\"}"));
	json_decref(r);
	r = create(at("2026-03-06T12:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"b\"], \"timezone\": \"America/New_York\","
	    " \"dst_gap\": \"skip\","
	    " \"rrule\": \"FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0\"}"));
	json_decref(r);
	advance(at("2026-03-09T12:00:00Z"));
	expect_fires("a", "2026-03-09T06:30:00Z,2026-03-08T07:30:00Z,"
	    "2026-03-07T07:30:00Z");
	expect_fires("b", "2026-03-09T06:30:00Z,2026-03-07T07:30:00Z");
}

/* After downtime only the latest missed fire within the window runs. */
static void
test_catchup(void **state)
{
	json_t *r, *l;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"in\", \"out\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}"));
	json_decref(r);
	/* Down from before the first fire until 09:30 on day 5. */
	eng_run_due(e, at("2026-03-05T09:30:00Z"));
	expect_fires("in", "2026-03-05T09:00:00Z");
	l = list_of(NULL, "in");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(l, "entries"), 0), "skipped_count")), 4);
	assert_string_equal(field(json_object_get(l, "entries"), 0,
	    "last_skipped_at"), "2026-03-04T09:00:00Z");
	assert_string_equal(field(json_object_get(l, "entries"), 0,
	    "next_occurrence_at"), "2026-03-06T09:00:00Z");
	json_decref(l);
	/* Down again, back 2 h after a fire: outside the 1 h window. */
	eng_run_due(e, at("2026-03-08T11:00:00Z"));
	expect_fires("in", "2026-03-05T09:00:00Z");
	l = list_of(NULL, "in");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(l, "entries"), 0), "skipped_count")), 7);
	json_decref(l);
	assert_int_equal(eng_next_due(e), at("2026-03-09T09:00:00Z"));
}

/* A one-off fires once at scheduled_at. */
static void
test_one_off(void **state)
{
	json_t *r;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"o\"], \"scheduled_at\": "
	    "\"2026-03-02T10:15:00.000Z\"}"));
	assert_string_equal(field(r, 0, "next_occurrence_at"),
	    "2026-03-02T10:15:00Z");
	json_decref(r);
	advance(at("2026-04-01T00:00:00Z"));
	expect_fires("o", "2026-03-02T10:15:00Z");
	assert_true(eng_next_due(e) == INT64_MAX);
}

/* A user's time zone change moves their pending fire at once. */
static void
test_rezone(void **state)
{
	json_t *r, *reply = NULL, *l;
	char *cause = NULL;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [{\"id\": \"z\", \"timezone\": \"Europe/Berlin\"}],"
	    " \"repeats\": [{\"frequency\": \"weekly\", \"days\": [\"mon\"],"
	    " \"hours\": [8], \"minutes\": [0]}]}"));
	assert_string_equal(field(r, 0, "next_occurrence_at"),
	    "2026-03-02T07:00:00Z");
	json_decref(r);
	assert_int_equal(eng_user_put(e, "z", keep(js("{\"timezone\": "
	    "\"Australia/Adelaide\"}")), at("2026-03-01T00:10:00Z"), &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	l = list_of(NULL, "z");
	/* Monday 08:00 ACDT (+10:30) is Sunday 21:30 UTC. */
	assert_string_equal(field(json_object_get(l, "entries"), 0,
	    "next_occurrence_at"), "2026-03-01T21:30:00Z");
	json_decref(l);
	assert_int_equal(eng_next_due(e), at("2026-03-01T21:30:00Z"));
}

/* An object's schedule fans out to subscribers, each in their own zone. */
static void
test_object_fanout(void **state)
{
	json_t *r, *reply = NULL, *l;
	char *cause = NULL;

	(void)state;
	assert_int_equal(eng_object_put(e, "teams", "t", keep(js("{}")),
	    at("2026-03-01T00:00:00Z"), &reply, &cause), ENG_OK);
	json_decref(reply);
	assert_int_equal(eng_subs_add(e, "teams", "t", keep(js(
	    "{\"recipients\": [{\"id\": \"tokyo\", \"timezone\": "
	    "\"Asia/Tokyo\"}, {\"id\": \"lima\", \"timezone\": "
	    "\"America/Lima\"}]}")),
	    at("2026-03-01T00:00:00Z"), &reply, &cause), ENG_OK);
	json_decref(reply);
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [{\"id\": \"t\", \"collection\": \"teams\"}],"
	    " \"rrule\": \"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}"));
	assert_string_equal(field(r, 0, "next_occurrence_at"), "null");
	json_decref(r);
	assert_int_equal(eng_subs_add(e, "teams", "t", keep(js(
	    "{\"recipients\": [{\"id\": \"kol\", \"timezone\": "
	    "\"Asia/Kolkata\"}]}")),
	    at("2026-03-01T00:00:00Z"), &reply, &cause), ENG_OK);
	json_decref(reply);
	assert_int_equal(eng_subs_remove(e, "teams", "t", keep(js(
	    "{\"recipients\": [\"lima\"]}")), &reply, &cause), ENG_OK);
	json_decref(reply);
	advance(at("2026-03-01T12:00:00Z"));
	expect_fires("tokyo", "2026-03-01T00:00:00Z");
	expect_fires("kol", "2026-03-01T03:30:00Z");
	expect_fires("lima", "");
	l = list_of("teams", "t");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 1);
	json_decref(l);
}

/* PUT pauses and resumes; DELETE removes. */
static void
test_update_delete(void **state)
{
	json_t *r, *body, *reply = NULL;
	char *cause = NULL;
	const char *id;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"p\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}"));
	id = field(r, 0, "id");
	body = js("{\"schedule_ids\": [\"%s\"], \"paused\": true}", id);
	assert_int_equal(eng_schedules_update(e, body, at("2026-03-01T01:00:00"
	    "Z"), &reply, &cause), ENG_OK);
	assert_string_equal(field(reply, 0, "next_occurrence_at"), "null");
	json_decref(reply);
	json_decref(body);
	advance(at("2026-03-03T00:00:00Z"));
	expect_fires("p", "");
	body = js("{\"schedule_ids\": [\"%s\"], \"paused\": false, \"rrule\":"
	    " \"FREQ=DAILY;BYHOUR=10;BYMINUTE=0;BYSECOND=0\"}", id);
	assert_int_equal(eng_schedules_update(e, body, at("2026-03-03T00:00:00"
	    "Z"), &reply, &cause), ENG_OK);
	assert_string_equal(field(reply, 0, "next_occurrence_at"),
	    "2026-03-03T10:00:00Z");
	json_decref(reply);
	json_decref(body);
	body = js("{\"schedule_ids\": [\"%s\"]}", id);
	assert_int_equal(eng_schedules_delete(e, body, &reply, &cause),
	    ENG_OK);
	assert_int_equal(json_array_size(reply), 1);
	json_decref(reply);
	json_decref(body);
	assert_true(eng_next_due(e) == INT64_MAX);
	/* A deleted schedule's id is never given to another. */
	reply = create(at("2026-03-03T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"p\"], \"rrule\": \"FREQ=DAILY\"}"));
	assert_string_not_equal(field(reply, 0, "id"), id);
	json_decref(reply);
	json_decref(r);
}

/* Bad input is a 422 naming the field; an unknown workflow a 404. */
static void
test_invalid(void **state)
{
	static const char *bad[][2] = {
		{ "{\"workflow\": \"ping\", \"recipients\": [\"x\"], "
		    "\"rrule\": \"FREQ=DAILY\", \"timezone\": \"Mars/Olympus\"}",
		    "\"timezone\"" },
		{ "{\"workflow\": \"ping\", \"recipients\": [\"x\"], "
		    "\"rrule\": \"FREQ=SOMETIMES\"}", "\"rrule\"" },
		{ "{\"workflow\": \"ping\", \"recipients\": [\"x\"]}",
		    "\"repeats\"" },
		{ "{\"workflow\": \"ping\", \"recipients\": [], "
		    "\"rrule\": \"FREQ=DAILY\"}", "\"recipients\"" },
		{ "{\"workflow\": \"ping\", \"recipients\": [\"x\"], "
		    "\"rrule\": \"FREQ=DAILY\", \"dst_gap\": \"jump\"}",
		    "\"dst_gap\"" },
		{ "{\"workflow\": \"ping\", \"recipients\": [\"x\"], "
		    "\"scheduled_at\": \"tomorrow\"}", "\"scheduled_at\"" },
	};
	json_t *body, *reply = NULL;
	char *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		body = js("%s", bad[i][0]);
		assert_int_equal(eng_schedules_create(e, body, 0, &reply,
		    &cause), ENG_INVALID);
		if (strstr(cause, bad[i][1]) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, cause,
			    bad[i][1]);
		free(cause);
		cause = NULL;
		json_decref(body);
	}
	body = js("{\"workflow\": \"nope\", \"recipients\": [\"x\"], "
	    "\"rrule\": \"FREQ=DAILY\"}");
	assert_int_equal(eng_schedules_create(e, body, 0, &reply, &cause),
	    ENG_NO_WORKFLOW);
	free(cause);
	json_decref(body);
}

/* Reload a config directory with schedules/s.json set to text. */
static void
reload(const char *text, int64_t now)
{
	struct eng_config *c;
	char *cause = NULL;

	put("schedules/s.json", text);
	if ((c = eng_config_load(dir, &cause)) == NULL)
		fail_msg("config: %s", cause);
	eng_set_config(e, c);
	if (eng_schedules_sync(e, now, &cause) != 0)
		fail_msg("sync: %s", cause);
}

/* Config schedules are added, changed and removed by id; API ones stay. */
static void
test_config_sync(void **state)
{
	json_t *l;
	char *id;

	(void)state;
	json_decref(create(at("2026-03-01T00:00:00Z"), js("{\"workflow\":"
	    " \"ping\", \"recipients\": [\"c\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=7;BYMINUTE=0;BYSECOND=0\"}")));
	reload("[{\"id\": \"d\", \"workflow\": \"ping\", \"recipients\": "
	    "[\"c\"], \"rrule\": \"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}]",
	    at("2026-03-01T00:00:00Z"));
	l = list_of(NULL, "c");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 2);
	assert_string_equal(field(json_object_get(l, "entries"), 1,
	    "config_id"), "d");
	assert_string_equal(field(json_object_get(l, "entries"), 1,
	    "next_occurrence_at"), "2026-03-01T09:00:00Z");
	id = xstrdup(field(json_object_get(l, "entries"), 1, "id"));
	json_decref(l);
	reload("[{\"id\": \"d\", \"workflow\": \"ping\", \"recipients\": "
	    "[\"c\", \"c2\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=11;BYMINUTE=0;BYSECOND=0\"}]",
	    at("2026-03-01T00:00:00Z"));
	l = list_of(NULL, "c");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 2);
	assert_string_equal(field(json_object_get(l, "entries"), 1,
	    "next_occurrence_at"), "2026-03-01T11:00:00Z");
	/* Changed in place: the same id. */
	assert_string_equal(field(json_object_get(l, "entries"), 1, "id"), id);
	free(id);
	json_decref(l);
	l = list_of(NULL, "c2");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 1);
	json_decref(l);
	reload("[{\"id\": \"d\", \"workflow\": \"ping\", \"recipients\": "
	    "[\"c2\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=11;BYMINUTE=0;BYSECOND=0\"}]",
	    at("2026-03-01T00:00:00Z"));
	l = list_of(NULL, "c");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 1);
	json_decref(l);
	reload("[]", at("2026-03-01T00:00:00Z"));
	l = list_of(NULL, "c");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 1);
	assert_string_equal(field(json_object_get(l, "entries"), 0, "source"),
	    "api");
	json_decref(l);
}

/* An unchanged config schedule to an object survives a reload as it is. */
static void
test_config_object_stable(void **state)
{
	static const char *def = "[{\"id\": \"o\", \"workflow\": \"ping\","
	    " \"recipients\": [{\"id\": \"t\", \"collection\": \"teams\"}],"
	    " \"rrule\": \"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}]";
	json_t *reply = NULL, *l;
	char *cause = NULL, *id;

	(void)state;
	assert_int_equal(eng_object_put(e, "teams", "t", keep(js("{}")), 0,
	    &reply, &cause), ENG_OK);
	json_decref(reply);
	assert_int_equal(eng_subs_add(e, "teams", "t", keep(js(
	    "{\"recipients\": [\"m1\", \"m2\"]}")), 0, &reply, &cause),
	    ENG_OK);
	json_decref(reply);
	reload(def, at("2026-03-01T00:00:00Z"));
	l = list_of(NULL, "m1");
	id = xstrdup(field(json_object_get(l, "entries"), 0, "id"));
	json_decref(l);
	reload(def, at("2026-03-01T01:00:00Z"));
	l = list_of(NULL, "m1");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 1);
	assert_string_equal(field(json_object_get(l, "entries"), 0, "id"), id);
	json_decref(l);
	free(id);
}

/* A bad config schedule is an error at file:line:column. */
static void
test_config_error(void **state)
{
	char *cause = NULL, *want;

	(void)state;
	put("schedules/s.json", "[\n  {\"id\": \"x\", \"workflow\": \"ping\","
	    "\n   \"recipients\": [\"a\"], \"rrule\": \"FREQ=DAILY\",\n"
	    "   \"timezone\": \"Nowhere/Land\"}\n]\n");
	assert_null(eng_config_load(dir, &cause));
	want = xasprintf("%s/schedules/s.json:4:16:", dir);
	if (strncmp(cause, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want a prefix \"%s\"", cause, want);
	free(want);
	free(cause);
	put("schedules/s.json", NULL);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_daily_half_hour_zone,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_dst_gap_shift_and_skip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rezone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_object_fanout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_update_delete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_sync, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_object_stable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_error, setup,
		    teardown),
	};
	char *cause = NULL, path[600];
	int rc;

	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0 ||
	    mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/workflows", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/schedules", dir);
	mkdir(path, 0700);
	rc = cmocka_run_group_tests_name("schedules", tests, NULL, NULL);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		rc = 1;
	tz_shutdown();
	return rc;
}
