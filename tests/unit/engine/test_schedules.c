/*
 * engine/schedules/: creating, firing (on explicit instants), catch-up,
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
#include "tests/unit/engine/fixture.h"

static char dir[] = "/tmp/belfry-sched-XXXXXX";
static struct eng *e;
static json_t *kept;     /* bodies lent to the engine, freed at teardown */

/* Write text to dir/name (NULL text: remove it). */
static void
put(const char *name, const char *text)
{
	fixture_put(dir, name, text);
}

/* A fresh engine on a fresh database for each test (fixture "schedules"). */
static int
setup(void **state)
{
	(void)state;
	put("schedules/s.json", NULL);
	return (e = fixture_open("schedules", dir)) != NULL ? 0 : -1;
}

/* Close the engine. */
static int
teardown(void **state)
{
	(void)state;
	fixture_close(e);
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

/*
 * A per-subscriber schedule of an object fans out to its subscribers, each
 * in their own zone.
 */
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
	    " \"per_subscriber\": true,"
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
	    " \"per_subscriber\": true,"
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

/* Apply PUT body at now; the reply (fails the test on error). */
static json_t *
update(int64_t now, json_t *body)
{
	json_t *reply = NULL;
	char *cause = NULL;

	if (eng_schedules_update(e, body, now, &reply, &cause) != ENG_OK)
		fail_msg("update: %s", cause);
	json_decref(body);
	return reply;
}

/* The one schedule of recipient rcpt, as its Schedule (the caller frees). */
static json_t *
the_schedule(const char *coll, const char *id)
{
	json_t *l = list_of(coll, id), *s;

	assert_int_equal(json_array_size(json_object_get(l, "entries")), 1);
	s = json_incref(json_array_get(json_object_get(l, "entries"), 0));
	json_decref(l);
	return s;
}

/*
 * By default an object's schedule fires for the object itself, as Knock's
 * do: the trigger fans out to its subscribers, all at the object's 09:00.
 */
static void
test_object_default(void **state)
{
	json_t *r, *reply = NULL;
	char *cause = NULL;

	(void)state;
	assert_int_equal(eng_object_put(e, "teams", "t", keep(js(
	    "{\"timezone\": \"Europe/Berlin\"}")), at("2026-03-01T00:00:00Z"),
	    &reply, &cause), ENG_OK);
	json_decref(reply);
	assert_int_equal(eng_subs_add(e, "teams", "t", keep(js(
	    "{\"recipients\": [{\"id\": \"tokyo\", \"timezone\": "
	    "\"Asia/Tokyo\"}]}")), at("2026-03-01T00:00:00Z"), &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [{\"id\": \"t\", \"collection\": \"teams\"}],"
	    " \"repeats\": [{\"frequency\": \"daily\", \"hours\": 9}]}"));
	assert_string_equal(field(r, 0, "next_occurrence_at"),
	    "2026-03-01T08:00:00Z");
	assert_false(json_is_true(json_object_get(json_array_get(r, 0),
	    "per_subscriber")));
	json_decref(r);
	advance(at("2026-03-01T12:00:00Z"));
	/* The subscriber's run comes from the object's fire, in its zone. */
	expect_fires("tokyo", "2026-03-01T08:00:00Z");
	expect_fires("teams/t", "2026-03-01T08:00:00Z");
}

/* Left out, hours and minutes are 00:00 (not the creation time). */
static void
test_repeats_default_midnight(void **state)
{
	json_t *r;

	(void)state;
	r = create(at("2026-03-01T15:20:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"m\"], \"repeats\": [{\"frequency\": "
	    "\"daily\"}]}"));
	assert_string_equal(field(r, 0, "next_occurrence_at"),
	    "2026-03-02T00:00:00Z");
	json_decref(r);
	assert_int_equal(eng_next_due(e), at("2026-03-02T00:00:00Z"));
}

/* Several repeat rules fire on the union; a shared instant fires once. */
static void
test_several_repeats(void **state)
{
	json_t *r, *body;
	const char *id;

	(void)state;
	r = create(at("2026-03-02T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"w\"], \"repeats\": ["
	    "{\"frequency\": \"weekly\", \"days\": [\"mon\"], \"hours\": 9},"
	    "{\"frequency\": \"daily\", \"hours\": 9},"
	    "{\"frequency\": \"weekly\", \"days\": [\"wed\"], \"hours\": 18}"
	    "]}"));
	advance(at("2026-03-04T23:00:00Z"));
	expect_fires("w", "2026-03-04T18:00:00Z,2026-03-04T09:00:00Z,"
	    "2026-03-03T09:00:00Z,2026-03-02T09:00:00Z");
	/* PUT replaces the rules. */
	id = field(r, 0, "id");
	body = js("{\"schedule_ids\": [\"%s\"], \"repeats\": [{\"frequency\":"
	    " \"weekly\", \"days\": [\"fri\"], \"hours\": 7, \"minutes\": 5}]}",
	    id);
	json_decref(update(at("2026-03-04T23:00:00Z"), body));
	advance(at("2026-03-07T00:00:00Z"));
	expect_fires("w", "2026-03-06T07:05:00Z,2026-03-04T18:00:00Z,"
	    "2026-03-04T09:00:00Z,2026-03-03T09:00:00Z,2026-03-02T09:00:00Z");
	json_decref(r);
}

/* Responses carry repeats and page_info in Knock's shape. */
static void
test_knock_shape(void **state)
{
	json_t *r, *rep, *l;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"k\"], \"repeats\": [{\"frequency\": "
	    "\"weekly\", \"days\": \"weekdays\", \"hours\": 8}]}"));
	rep = json_array_get(json_object_get(json_array_get(r, 0), "repeats"),
	    0);
	assert_string_equal(json_string_value(json_object_get(rep,
	    "__typename")), "ScheduleRepeat");
	assert_int_equal(json_integer_value(json_object_get(rep, "interval")),
	    1);
	assert_int_equal(json_array_size(json_object_get(rep, "days")), 5);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    rep, "days"), 4)), "fri");
	assert_int_equal(json_integer_value(json_object_get(rep, "hours")), 8);
	assert_true(json_is_null(json_object_get(rep, "minutes")));
	assert_true(json_is_null(json_object_get(rep, "day_of_month")));
	json_decref(r);
	l = list_of(NULL, "k");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    l, "page_info"), "__typename")), "PageInfo");
	json_decref(l);
}

/* scheduled_at and ending_at take any RFC 3339 offset; none means UTC. */
static void
test_instants(void **state)
{
	static const char *in[][2] = {
		{ "2026-03-02T10:15:00-05:00", "2026-03-02T15:15:00Z" },
		{ "2026-03-02T10:15:00.123456+05:30", "2026-03-02T04:45:00Z" },
		{ "2026-03-02T10:15:00", "2026-03-02T10:15:00Z" },
		{ "2026-03-02T10:15:00.5", "2026-03-02T10:15:00Z" },
		{ "2026-03-02t10:15:00z", "2026-03-02T10:15:00Z" },
	};
	static const char *bad[] = { "2026-03-02T10:15:00+5:00",
		"2026-03-02T10:15:00+24:00", "2026-03-02T10:15:00.Z",
		"2026-03-02T10:15", "2026-03-02T10:15:00Zjunk" };
	json_t *r, *body, *reply = NULL;
	char *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof in / sizeof in[0]; i++) {
		r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": "
		    "\"ping\", \"recipients\": [\"i%zu\"], \"scheduled_at\": "
		    "\"%s\"}", i, in[i][0]));
		assert_string_equal(field(r, 0, "next_occurrence_at"),
		    in[i][1]);
		json_decref(r);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		body = js("{\"workflow\": \"ping\", \"recipients\": [\"b\"], "
		    "\"scheduled_at\": \"%s\"}", bad[i]);
		assert_int_equal(eng_schedules_create(e, body, 0, &reply,
		    &cause), ENG_INVALID);
		assert_non_null(strstr(cause, "\"scheduled_at\""));
		free(cause);
		cause = NULL;
		json_decref(body);
	}
}

/* A one-off whose scheduled_at is after ending_at never executes. */
static void
test_one_off_after_end(void **state)
{
	json_t *r;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"late\"], \"scheduled_at\": "
	    "\"2026-03-05T00:00:00Z\", \"ending_at\": \"2026-03-04T00:00:00Z\"}"
	    ));
	assert_string_equal(field(r, 0, "next_occurrence_at"), "null");
	json_decref(r);
	advance(at("2026-04-01T00:00:00Z"));
	expect_fires("late", "");
}

/*
 * PUT turns a recurring schedule into a one-off and back, also after it
 * fired, and moves a fired one-off to a new time.
 */
static void
test_put_lifecycle(void **state)
{
	json_t *r, *u;
	char *id;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"c\"], \"repeats\": [{\"frequency\": "
	    "\"daily\", \"hours\": 9}]}"));
	id = xstrdup(field(r, 0, "id"));
	json_decref(r);
	advance(at("2026-03-02T12:00:00Z"));
	expect_fires("c", "2026-03-02T09:00:00Z,2026-03-01T09:00:00Z");
	/* Recurring -> one-off: drop repeats, set scheduled_at. */
	u = update(at("2026-03-02T12:00:00Z"), js("{\"schedule_ids\": "
	    "[\"%s\"], \"repeats\": null, \"scheduled_at\": "
	    "\"2026-03-05T17:00:00Z\"}", id));
	assert_string_equal(field(u, 0, "next_occurrence_at"),
	    "2026-03-05T17:00:00Z");
	assert_int_equal(json_array_size(json_object_get(json_array_get(u, 0),
	    "repeats")), 0);
	json_decref(u);
	advance(at("2026-03-06T00:00:00Z"));
	expect_fires("c", "2026-03-05T17:00:00Z,2026-03-02T09:00:00Z,"
	    "2026-03-01T09:00:00Z");
	/* The fired one-off moved: it fires again at its new time. */
	u = update(at("2026-03-06T00:00:00Z"), js("{\"schedule_ids\": "
	    "[\"%s\"], \"scheduled_at\": \"2026-03-07T08:00:00+01:00\"}", id));
	assert_string_equal(field(u, 0, "next_occurrence_at"),
	    "2026-03-07T07:00:00Z");
	json_decref(u);
	advance(at("2026-03-08T00:00:00Z"));
	expect_fires("c", "2026-03-07T07:00:00Z,2026-03-05T17:00:00Z,"
	    "2026-03-02T09:00:00Z,2026-03-01T09:00:00Z");
	/* One-off -> recurring again. */
	u = update(at("2026-03-08T00:00:00Z"), js("{\"schedule_ids\": "
	    "[\"%s\"], \"repeats\": [{\"frequency\": \"daily\", \"hours\": "
	    "6}]}", id));
	assert_string_equal(field(u, 0, "next_occurrence_at"),
	    "2026-03-08T06:00:00Z");
	json_decref(u);
	free(id);
}

/* An occurrence dst_gap "skip" drops is recorded like a catch-up skip. */
static void
test_dst_skip_recorded(void **state)
{
	struct eng_stats st;
	json_t *r, *s;

	(void)state;
	r = create(at("2026-03-06T12:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"g\"], \"timezone\": \"America/New_York\","
	    " \"dst_gap\": \"skip\", \"repeats\": [{\"frequency\": \"daily\","
	    " \"hours\": 2, \"minutes\": 30}]}"));
	json_decref(r);
	eng_stats(e, &st);
	assert_int_equal(st.fires_skipped, 0);
	advance(at("2026-03-08T12:00:00Z"));
	/* Not yet recorded: it is recorded when the next fire is due. */
	s = the_schedule(NULL, "g");
	assert_int_equal(json_integer_value(json_object_get(s,
	    "skipped_count")), 0);
	json_decref(s);
	advance(at("2026-03-09T12:00:00Z"));
	expect_fires("g", "2026-03-09T06:30:00Z,2026-03-07T07:30:00Z");
	s = the_schedule(NULL, "g");
	assert_int_equal(json_integer_value(json_object_get(s,
	    "skipped_count")), 1);
	/* The gap ended at 03:00 EDT. */
	assert_string_equal(json_string_value(json_object_get(s,
	    "last_skipped_at")), "2026-03-08T07:00:00Z");
	assert_string_equal(json_string_value(json_object_get(s,
	    "last_skip_reason")), "dst_gap");
	json_decref(s);
	eng_stats(e, &st);
	assert_int_equal(st.fires_skipped, 1);
	/* A catch-up skip afterwards takes over the reason. */
	eng_run_due(e, at("2026-03-12T12:00:00Z"));
	s = the_schedule(NULL, "g");
	/* 03-10, 03-11 and 03-12 02:30, the last over an hour ago. */
	assert_int_equal(json_integer_value(json_object_get(s,
	    "skipped_count")), 4);
	assert_string_equal(json_string_value(json_object_get(s,
	    "last_skip_reason")), "catchup");
	json_decref(s);
}

/* The API may not change or delete a config file's schedule (409). */
static void
test_config_owned(void **state)
{
	json_t *l, *body, *reply = NULL;
	char *cause = NULL, *id;

	(void)state;
	reload("[{\"id\": \"daily\", \"workflow\": \"ping\", \"recipients\": "
	    "[\"cf\"], \"rrule\": \"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}]",
	    at("2026-03-01T00:00:00Z"));
	l = list_of(NULL, "cf");
	id = xstrdup(field(json_object_get(l, "entries"), 0, "id"));
	json_decref(l);
	body = js("{\"schedule_ids\": [\"%s\"], \"paused\": true}", id);
	assert_int_equal(eng_schedules_update(e, body, 0, &reply, &cause),
	    ENG_CONFLICT);
	assert_non_null(strstr(cause, "schedules/s.json"));
	assert_non_null(strstr(cause, "\"daily\""));
	free(cause);
	cause = NULL;
	json_decref(body);
	body = js("{\"schedule_ids\": [\"%s\"]}", id);
	assert_int_equal(eng_schedules_delete(e, body, &reply, &cause),
	    ENG_CONFLICT);
	free(cause);
	json_decref(body);
	l = list_of(NULL, "cf");
	assert_string_equal(field(json_object_get(l, "entries"), 0,
	    "next_occurrence_at"), "2026-03-01T09:00:00Z");
	json_decref(l);
	free(id);
}

/* Deleting a user or an object deletes its (API) schedules. */
static void
test_rcpt_deleted(void **state)
{
	json_t *reply = NULL, *l;
	char *cause = NULL;

	(void)state;
	assert_int_equal(eng_user_put(e, "gone", keep(js("{}")), 0, &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	assert_int_equal(eng_object_put(e, "teams", "x", keep(js("{}")), 0,
	    &reply, &cause), ENG_OK);
	json_decref(reply);
	assert_int_equal(eng_subs_add(e, "teams", "x", keep(js(
	    "{\"recipients\": [\"m\"]}")), 0, &reply, &cause), ENG_OK);
	json_decref(reply);
	json_decref(create(at("2026-03-01T00:00:00Z"), js("{\"workflow\":"
	    " \"ping\", \"recipients\": [\"gone\", \"stay\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}")));
	json_decref(create(at("2026-03-01T00:00:00Z"), js("{\"workflow\":"
	    " \"ping\", \"recipients\": [{\"id\": \"x\", \"collection\": "
	    "\"teams\"}], \"per_subscriber\": true, \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}")));
	assert_int_equal(eng_user_delete(e, "gone", &cause), ENG_OK);
	assert_int_equal(eng_object_delete(e, "teams", "x", &cause), ENG_OK);
	l = list_of(NULL, "gone");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 0);
	json_decref(l);
	l = list_of("teams", "x");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 0);
	json_decref(l);
	/* The member's child row went with the object's schedule. */
	l = list_of(NULL, "m");
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 0);
	json_decref(l);
	advance(at("2026-03-02T00:00:00Z"));
	expect_fires("gone", "");
	expect_fires("m", "");
	expect_fires("stay", "2026-03-01T09:00:00Z");
}

/* A schedule whose workflow is gone keeps its error; fires count failed. */
static void
test_workflow_gone(void **state)
{
	struct eng_stats st;
	json_t *w, *s;
	char *text;

	(void)state;
	json_decref(create(at("2026-03-01T00:00:00Z"), js("{\"workflow\":"
	    " \"ping\", \"recipients\": [\"o\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}")));
	put("workflows/ping.json", NULL);
	put("workflows/other.json", "{\"key\": \"other\", \"steps\": [{"
	    "\"ref\": \"f\", \"type\": \"channel\", \"channel\": \"feed\","
	    " \"template\": {\"markdown\": \"x\"}}]}");
	reload("[]", at("2026-03-01T00:00:00Z"));
	w = eng_schedules_workflows(e);
	assert_int_equal(json_integer_value(json_object_get(w, "ping")), 1);
	assert_false(eng_config_has_workflow(eng_config(e), "ping"));
	json_decref(w);
	advance(at("2026-03-02T12:00:00Z"));
	eng_stats(e, &st);
	assert_int_equal(st.fires_failed, 2);
	s = the_schedule(NULL, "o");
	assert_non_null(strstr(json_string_value(json_object_get(s,
	    "last_error")), "ping"));
	assert_string_equal(json_string_value(json_object_get(s,
	    "next_occurrence_at")), "2026-03-03T09:00:00Z");
	json_decref(s);
	/* The workflow back: the next fire succeeds and clears the error. */
	text = fixture_read("schedules", "workflows/ping.json");
	put("workflows/ping.json", text);
	free(text);
	put("workflows/other.json", NULL);
	reload("[]", at("2026-03-02T12:00:00Z"));
	advance(at("2026-03-03T12:00:00Z"));
	s = the_schedule(NULL, "o");
	assert_true(json_is_null(json_object_get(s, "last_error")));
	json_decref(s);
	expect_fires("o", "2026-03-03T09:00:00Z");
}

/* Lists filter by several recipients and by tenant; one is found by id. */
static void
test_list_filters(void **state)
{
	json_t *q, *reply = NULL, *r;
	char *cause = NULL, *id;

	(void)state;
	json_decref(create(at("2026-03-01T00:00:00Z"), js("{\"workflow\":"
	    " \"ping\", \"recipients\": [\"a\", \"b\", \"c\", {\"id\": \"o\","
	    " \"collection\": \"teams\"}], \"rrule\": \"FREQ=DAILY\"}")));
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"a\"], \"tenant\": \"acme\", \"rrule\": "
	    "\"FREQ=DAILY\"}"));
	id = xstrdup(field(r, 0, "id"));
	json_decref(r);
	q = js("{\"workflow\": \"ping\", \"recipients[]\": [\"b\", \"c\"]}");
	assert_int_equal(eng_schedules_list(e, q, &reply, &cause), ENG_OK);
	assert_int_equal(json_array_size(json_object_get(reply, "entries")),
	    2);
	json_decref(reply);
	json_decref(q);
	/*
	 * recipients[0][id]=o&recipients[0][collection]=teams&recipients[1]=c
	 * as scheduler/route.c normalises it.
	 */
	q = js("{\"workflow\": \"ping\", \"recipients[]\": [{\"id\": \"o\","
	    " \"collection\": \"teams\"}, \"c\"]}");
	assert_int_equal(eng_schedules_list(e, q, &reply, &cause), ENG_OK);
	assert_int_equal(json_array_size(json_object_get(reply, "entries")),
	    2);
	json_decref(reply);
	json_decref(q);
	q = js("{\"workflow\": \"ping\", \"tenant\": \"acme\"}");
	assert_int_equal(eng_schedules_list(e, q, &reply, &cause), ENG_OK);
	assert_int_equal(json_array_size(json_object_get(reply, "entries")),
	    1);
	assert_string_equal(field(json_object_get(reply, "entries"), 0, "id"),
	    id);
	json_decref(reply);
	json_decref(q);
	assert_int_equal(eng_schedule_get(e, id, &reply, &cause), ENG_OK);
	assert_string_equal(json_string_value(json_object_get(reply,
	    "tenant")), "acme");
	json_decref(reply);
	assert_int_equal(eng_schedule_get(e, "nope", &reply, &cause),
	    ENG_NOT_FOUND);
	free(cause);
	free(id);
}

/* The runs of one schedule are found by its id. */
static void
test_runs_by_schedule(void **state)
{
	json_t *r, *q, *reply = NULL;
	char *cause = NULL, *id;

	(void)state;
	r = create(at("2026-03-01T00:00:00Z"), js("{\"workflow\": \"ping\","
	    " \"recipients\": [\"r1\", \"r2\"], \"rrule\": "
	    "\"FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0\"}"));
	id = xstrdup(field(r, 1, "id"));
	json_decref(r);
	advance(at("2026-03-03T12:00:00Z"));
	q = js("{\"schedule_id\": \"%s\"}", id);
	assert_int_equal(eng_runs_list(e, q, &reply, &cause), ENG_OK);
	assert_int_equal(json_array_size(json_object_get(reply, "items")), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(reply, "items"), 0), "recipient")), "r2");
	json_decref(reply);
	json_decref(q);
	q = js("{\"schedule_id\": \"junk\"}");
	assert_int_equal(eng_runs_list(e, q, &reply, &cause), ENG_INVALID);
	free(cause);
	json_decref(q);
	free(id);
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
		cmocka_unit_test_setup_teardown(test_object_default, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_repeats_default_midnight,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_repeats, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_knock_shape, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_instants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_off_after_end, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_put_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dst_skip_recorded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_owned, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rcpt_deleted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_workflow_gone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_filters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_runs_by_schedule, setup,
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
