/*
 * engine/sources/: the mapping of source events (paths, the recipient
 * forms, data, conditions, identify traits, group calls, the calls that
 * are not mapped), the sources/ files' errors with their positions, and
 * eng_source_receive on a real SQLite file (dedupe within a batch, a
 * failing event rolled back alone, the log and the counts).
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

#include "engine/sources/src_int.h"
#include "engine/store/sqlite_int.h"
#include "tests/unit/engine/fixture.h"

static char tmpdir[] = "/tmp/belfry-sources-XXXXXX";

/* Write text to tmpdir/name. */
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
    "{\"channels\": {\"in-app\": {\"type\": \"in_app_feed\"}}}\n";

static const char *workflow =
    "{\"key\": \"wf\", \"steps\": [{\"ref\": \"f\", \"type\": \"channel\","
    " \"channel\": \"in-app\", \"template\": {\"markdown\": \"x\"}}]}\n";

static const char *workflow2 =
    "{\"key\": \"wf2\", \"steps\": [{\"ref\": \"f\", \"type\": \"channel\","
    " \"channel\": \"in-app\", \"template\": {\"markdown\": \"y\"}}]}\n";

/* A source with every kind of mapping, groups as objects. */
static const char *source =
    "{\"key\": \"seg\", \"type\": \"segment\",\n"
    " \"write_keys\": [\"wk_one_12345\", \"wk_two_12345\"],\n"
    " \"identify\": true,\n"
    " \"group\": {\"as\": \"object\", \"collection\": \"accounts\","
    " \"subscribe\": true},\n"
    " \"events\": [\n"
    "  {\"event\": \"Kind\", \"action\": \"trigger\", \"workflow\": \"wf2\","
    " \"recipients\": \"properties.to\",\n"
    "   \"conditions\": [{\"variable\": \"event.properties.kind\","
    " \"operator\": \"equal_to\", \"argument\": \"special\"}]},\n"
    "  {\"event\": \"Kind\", \"action\": \"trigger\", \"workflow\": \"wf\","
    " \"recipients\": \"properties.to\"},\n"
    "  {\"event\": \"Full\", \"action\": \"trigger\", \"workflow\": \"wf\","
    " \"recipients\": \"properties.to\", \"actor\": \"properties.items.1.by\","
    " \"data\": \"properties.payload\", \"tenant\": \"context.groupId\","
    " \"cancellation_key\": \"properties.n\"},\n"
    "  {\"event\": \"Stop\", \"action\": \"cancel\", \"workflow\": \"wf\","
    " \"cancellation_key\": \"properties.n\", \"recipients\": \"properties.to\"}\n"
    " ]}\n";

/* A source with identify off and groups as tenants. */
static const char *source2 =
    "{\"key\": \"rud\", \"type\": \"rudderstack\", \"write_keys\":"
    " [\"wk_rud_12345\"], \"group\": {\"as\": \"tenant\"}}\n";

static struct eng_config *cfg;

/* Load the configuration above. */
static int
setup(void **state)
{
	char *cause = NULL, path[512];

	(void)state;
	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0 ||
	    mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/workflows", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/sources", tmpdir);
	mkdir(path, 0700);
	put_file("belfry.conf", conf);
	put_file("workflows/wf.json", workflow);
	put_file("workflows/wf2.json", workflow2);
	put_file("sources/seg.json", source);
	put_file("sources/rud.json", source2);
	if ((cfg = eng_config_load(tmpdir, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	return 0;
}

/* Remove the temporary directory. */
static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	eng_config_free(cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	tz_shutdown();
	return system(cmd) == 0 ? 0 : -1;
}

/* One mapping case: an event and what it must map to. */
struct map_case {
	const char *source, *event;
	enum eng_src_kind kind;
	const char *workflow;    /* NULL: none */
	const char *body;        /* expected body JSON, or NULL */
	const char *id, *user;   /* identify and group */
	const char *why;         /* a substring of the reason, or NULL */
};

/* Run one mapping case. */
static void
map_one(const struct map_case *mc)
{
	const struct eng_srcdef *d = eng_srcdef_find(cfg, mc->source);
	struct eng_src_req q;
	json_t *ev = json_loads(mc->event, 0, NULL), *want;
	int rc;

	assert_non_null(d);
	if (ev == NULL)
		fail_msg("bad test JSON %s", mc->event);
	rc = eng_src_map(d, ev, &q);
	if (q.kind != mc->kind)
		fail_msg("%s: kind %d, want %d (%s)", mc->event, q.kind,
		    mc->kind, q.why ? q.why : "");
	assert_int_equal(rc, mc->kind == ENG_SRC_FAIL ? -1 : 0);
	if (mc->workflow != NULL)
		assert_string_equal(q.workflow, mc->workflow);
	if (mc->body != NULL) {
		want = json_loads(mc->body, 0, NULL);
		assert_non_null(want);
		if (!json_equal(want, q.body)) {
			char *got = json_dumps(q.body, JSON_COMPACT |
			    JSON_SORT_KEYS);

			fail_msg("%s: body %s, want %s", mc->event, got,
			    mc->body);
		}
		json_decref(want);
	}
	if (mc->id != NULL)
		assert_string_equal(q.id, mc->id);
	if (mc->user != NULL)
		assert_string_equal(q.user, mc->user);
	else
		assert_null(q.user);
	if (mc->why != NULL) {
		assert_non_null(q.why);
		if (strstr(q.why, mc->why) == NULL)
			fail_msg("%s: reason \"%s\", want \"%s\"", mc->event,
			    q.why, mc->why);
	}
	eng_src_req_clear(&q);
	json_decref(ev);
}

/* Track events: the recipient forms, paths, data and conditions. */
static void
test_map_track(void **state)
{
	static const struct map_case cases[] = {
		{ "seg", "{\"type\": \"track\", \"event\": \"Kind\","
		    " \"properties\": {\"to\": \"u1\"}}", ENG_SRC_DO_TRIGGER,
		    "wf", "{\"recipients\": [\"u1\"], \"data\": {\"to\":"
		    " \"u1\"}}", NULL, NULL, NULL },
		{ "seg", "{\"type\": \"track\", \"event\": \"Kind\","
		    " \"properties\": {\"to\": [\"a\", 7, {\"id\": \"b\","
		    " \"name\": \"B\"}], \"kind\": \"special\"}}",
		    ENG_SRC_DO_TRIGGER, "wf2", "{\"recipients\": [\"a\", \"7\","
		    " {\"id\": \"b\", \"name\": \"B\"}], \"data\": {\"to\":"
		    " [\"a\", 7, {\"id\": \"b\", \"name\": \"B\"}], \"kind\":"
		    " \"special\"}}", NULL, NULL, NULL },
		{ "seg", "{\"type\": \"track\", \"event\": \"Kind\","
		    " \"properties\": {\"to\": {\"id\": \"o1\", \"collection\":"
		    " \"proj\"}, \"kind\": \"plain\"}}", ENG_SRC_DO_TRIGGER,
		    "wf", NULL, NULL, NULL, NULL },
		{ "seg", "{\"type\": \"track\", \"event\": \"Full\","
		    " \"context\": {\"groupId\": \"t1\"}, \"properties\":"
		    " {\"to\": [\"u2\"], \"n\": 42, \"items\": [{\"by\": \"x\"},"
		    " {\"by\": \"ann\"}], \"payload\": {\"k\": 1}}}",
		    ENG_SRC_DO_TRIGGER, "wf", "{\"recipients\": [\"u2\"],"
		    " \"actor\": \"ann\", \"tenant\": \"t1\", \"cancellation_key\":"
		    " \"42\", \"data\": {\"k\": 1}}", NULL, NULL, NULL },
		{ "seg", "{\"type\": \"track\", \"event\": \"Full\","
		    " \"properties\": {\"to\": [\"u2\"], \"payload\": [1]}}",
		    ENG_SRC_FAIL, NULL, NULL, NULL, NULL,
		    "the data at properties.payload must be an object" },
		{ "seg", "{\"type\": \"track\", \"event\": \"Full\","
		    " \"properties\": {\"to\": [\"u2\"], \"n\": [1]}}",
		    ENG_SRC_FAIL, NULL, NULL, NULL, NULL,
		    "the cancellation_key at properties.n must be" },
		{ "seg", "{\"type\": \"track\", \"event\": \"Kind\","
		    " \"properties\": {}}", ENG_SRC_FAIL, NULL, NULL, NULL,
		    NULL, "no recipients at properties.to" },
		{ "seg", "{\"type\": \"track\", \"event\": \"Kind\","
		    " \"properties\": {\"to\": []}}", ENG_SRC_FAIL, NULL, NULL,
		    NULL, NULL, "no recipients at properties.to" },
		{ "seg", "{\"type\": \"track\", \"event\": \"Kind\","
		    " \"properties\": {\"to\": [\"a\", true]}}", ENG_SRC_FAIL,
		    NULL, NULL, NULL, NULL, "the recipient properties.to.1" },
		{ "seg", "{\"type\": \"track\", \"event\": \"Kind\","
		    " \"properties\": {\"to\": 2.5}}", ENG_SRC_FAIL, NULL, NULL,
		    NULL, NULL, "must be an id, a list of ids" },
		{ "seg", "{\"type\": \"track\", \"event\": \"Stop\","
		    " \"properties\": {\"n\": \"k1\"}}", ENG_SRC_DO_CANCEL, "wf",
		    "{\"cancellation_key\": \"k1\"}", NULL, NULL, NULL },
		{ "seg", "{\"type\": \"track\", \"event\": \"Stop\","
		    " \"properties\": {\"n\": \"k1\", \"to\": [\"u3\"]}}",
		    ENG_SRC_DO_CANCEL, "wf", "{\"cancellation_key\": \"k1\","
		    " \"recipients\": [\"u3\"]}", NULL, NULL, NULL },
		{ "seg", "{\"type\": \"track\", \"event\": \"Stop\","
		    " \"properties\": {}}", ENG_SRC_FAIL, NULL, NULL, NULL,
		    NULL, "no cancellation key at properties.n" },
		{ "seg", "{\"type\": \"track\", \"event\": \"Other\"}",
		    ENG_SRC_UNMAPPED, NULL, NULL, NULL, NULL,
		    "no mapping applies to \"Other\"" },
		{ "seg", "{\"type\": \"track\"}", ENG_SRC_FAIL, NULL, NULL,
		    NULL, NULL, "needs \"event\"" },
		{ "seg", "{\"event\": \"Kind\"}", ENG_SRC_FAIL, NULL, NULL,
		    NULL, NULL, "needs \"type\"" },
		{ "seg", "{\"type\": \"purchase\"}", ENG_SRC_FAIL, NULL, NULL,
		    NULL, NULL, "unknown event type" },
		{ "seg", "[1]", ENG_SRC_FAIL, NULL, NULL, NULL, NULL,
		    "must be a JSON object" },
		{ "seg", "{\"type\": \"page\", \"name\": \"Home\"}",
		    ENG_SRC_UNMAPPED, NULL, NULL, NULL, NULL,
		    "page calls are not mapped" },
		{ "seg", "{\"type\": \"alias\", \"previousId\": \"a\"}",
		    ENG_SRC_UNMAPPED, NULL, NULL, NULL, NULL, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		map_one(&cases[i]);
}

/* Identify and group calls, as each source's file says. */
static void
test_map_identify_group(void **state)
{
	static const struct map_case cases[] = {
		{ "seg", "{\"type\": \"identify\", \"userId\": \"ann\","
		    " \"traits\": {\"name\": \"Ann\", \"phone\": \"+1555\","
		    " \"plan\": \"pro\", \"id\": \"x\", \"preferences\": {}},"
		    " \"context\": {\"timezone\": \"Europe/Berlin\", \"locale\":"
		    " \"de-DE\"}}", ENG_SRC_DO_IDENTIFY, NULL, "{\"name\":"
		    " \"Ann\", \"phone_number\": \"+1555\", \"plan\": \"pro\","
		    " \"timezone\": \"Europe/Berlin\", \"locale\": \"de-DE\"}",
		    "ann", NULL, NULL },
		{ "seg", "{\"type\": \"identify\", \"userId\": 12, \"traits\":"
		    " {\"timezone\": \"Asia/Tokyo\"}, \"context\": {\"timezone\":"
		    " \"Europe/Berlin\"}}", ENG_SRC_DO_IDENTIFY, NULL,
		    "{\"timezone\": \"Asia/Tokyo\"}", "12", NULL, NULL },
		{ "seg", "{\"type\": \"identify\", \"anonymousId\": \"a1\"}",
		    ENG_SRC_UNMAPPED, NULL, NULL, NULL, NULL, "no userId" },
		{ "seg", "{\"type\": \"identify\", \"userId\": \"u\","
		    " \"traits\": 5}", ENG_SRC_FAIL, NULL, NULL, NULL, NULL,
		    "\"traits\" must be an object" },
		{ "rud", "{\"type\": \"identify\", \"userId\": \"u\"}",
		    ENG_SRC_UNMAPPED, NULL, NULL, NULL, NULL,
		    "\"identify\" is off" },
		{ "seg", "{\"type\": \"group\", \"groupId\": \"acme\","
		    " \"userId\": \"ann\", \"traits\": {\"name\": \"Acme\"}}",
		    ENG_SRC_DO_GROUP, NULL, "{\"name\": \"Acme\"}", "acme",
		    "ann", NULL },
		{ "rud", "{\"type\": \"group\", \"groupId\": \"acme\","
		    " \"userId\": \"ann\", \"traits\": {\"settings\": 1}}",
		    ENG_SRC_DO_GROUP, NULL, "{}", "acme", NULL, NULL },
		{ "seg", "{\"type\": \"group\", \"userId\": \"ann\"}",
		    ENG_SRC_FAIL, NULL, NULL, NULL, NULL, "needs \"groupId\"" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		map_one(&cases[i]);
}

/* Write keys: each of a source's, only its own, never a prefix. */
static void
test_write_keys(void **state)
{
	(void)state;
	assert_true(eng_source_authorized(cfg, "seg", "wk_one_12345"));
	assert_true(eng_source_authorized(cfg, "seg", "wk_two_12345"));
	assert_false(eng_source_authorized(cfg, "seg", "wk_rud_12345"));
	assert_false(eng_source_authorized(cfg, "seg", "wk_one_1234"));
	assert_false(eng_source_authorized(cfg, "seg", "wk_one_123456"));
	assert_false(eng_source_authorized(cfg, "seg", ""));
	assert_false(eng_source_authorized(cfg, "nosuch", "wk_one_12345"));
}

/* A bad sources/ file: the first error, at its file:line:column. */
static void
test_config_errors(void **state)
{
	static const char *const cases[][2] = {
		{ "{\"key\": \"s\", \"type\": \"mixpanel\", \"write_keys\":"
		    " [\"wk_12345678\"]}", ":1:22: source \"s\": \"type\" must "
		    "be \"segment\" or \"rudderstack\"" },
		{ "{\"key\": \"s\", \"type\": \"segment\"}",
		    ":1:1: source \"s\": \"write_keys\" must be a non-empty" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"short\"]}", ":1:48: a write key must be a string of 8" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"events\": [{\"event\": \"E\","
		    " \"action\": \"trigger\", \"workflow\": \"nope\","
		    " \"recipients\": \"userId\"}]}",
		    ":2:61: event \"E\": no workflow \"nope\" is loaded" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"events\": [{\"event\": \"E\","
		    " \"action\": \"trigger\", \"workflow\": \"wf\"}]}",
		    ":2:13: event \"E\": a trigger needs \"recipients\"" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"events\": [{\"event\": \"E\","
		    " \"action\": \"cancel\", \"workflow\": \"wf\"}]}",
		    ":2:13: event \"E\": a cancel needs \"cancellation_key\"" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"events\": [{\"event\": \"E\","
		    " \"action\": \"cancel\", \"workflow\": \"wf\", \"data\":"
		    " \"x\"}]}", ":2:74: unknown key \"data\"" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"events\": [{\"event\": \"E\","
		    " \"action\": \"notify\"}]}", ":2:38: \"action\" must be" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"events\": [{\"event\": \"E\","
		    " \"action\": \"trigger\", \"workflow\": \"wf\","
		    " \"recipients\": \"properties..to\"}]}",
		    ":2:81: \"recipients\" must be a dotted path" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"events\": [{\"event\": \"E\","
		    " \"action\": \"trigger\", \"workflow\": \"wf\","
		    " \"recipients\": \"userId\", \"conditions\": [{\"variable\":"
		    " \"data.x\", \"operator\": \"exists\"}]}]}",
		    ":2:105: event \"E\": conditions[0]: variable \"data.x\" is "
		    "not a path under event" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"group\": {\"as\": \"object\"}}",
		    ":2:11: a group as an object needs \"collection\"" },
		{ "{\"key\": \"s\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"],\n \"group\": {\"as\": \"tenant\","
		    " \"subscribe\": true}}", ":2:41: a group as a tenant takes "
		    "no" },
		{ "{\"key\": \"seg\", \"type\": \"segment\", \"write_keys\":"
		    " [\"wk_12345678\"]}", ":1:9: source \"seg\" is defined "
		    "twice" },
	};
	struct eng_config *c;
	char *cause = NULL, path[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		put_file("sources/zz.json", cases[i][0]);
		c = eng_config_load(tmpdir, &cause);
		if (c != NULL)
			fail_msg("case %zu loaded", i);
		if (strstr(cause, cases[i][1]) == NULL ||
		    strstr(cause, "sources/zz.json:") == NULL)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, cause,
			    cases[i][1]);
		free(cause);
		cause = NULL;
	}
	put_file("sources/zz.json", "{\"key\": \"zz\", \"type\": \"segment\","
	    " \"write_keys\": [\"wk_12345678\"]}");
	assert_non_null(c = eng_config_load(tmpdir, &cause));
	assert_int_equal(eng_config_source_count(c), 3);
	eng_config_free(c);
	snprintf(path, sizeof path, "%s/sources/zz.json", tmpdir);
	unlink(path);
}

/* Count the rows a query finds. */
static int64_t
count(struct eng *e, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (fixture_pg())
		return fixture_pg_int(e, sql);
	assert_int_equal(sqlite3_prepare_v2(e->store->db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/*
 * A batch on a real store: the second copy of a messageId in the same
 * batch is a duplicate; an event whose trigger fails after identifying an
 * inline recipient rolls back alone (no user left) and is logged failed
 * with the reason; the counts add up; a resent batch is all duplicates.
 */
static void
test_receive(void **state)
{
	const char *batch = "{\"batch\": ["
	    "{\"type\": \"track\", \"event\": \"Kind\", \"messageId\": \"m1\","
	    " \"properties\": {\"to\": [\"u1\"]}},"
	    "{\"type\": \"track\", \"event\": \"Kind\", \"messageId\": \"m1\","
	    " \"properties\": {\"to\": [\"u1\"]}},"
	    "{\"type\": \"track\", \"event\": \"Kind\", \"messageId\": \"m2\","
	    " \"properties\": {\"to\": [{\"id\": \"fresh\", \"name\": \"F\"},"
	    " {\"id\": \"bad\", \"timezone\": \"No/Zone\"}]}},"
	    "{\"type\": \"identify\", \"messageId\": \"m3\", \"userId\": \"ann\","
	    " \"traits\": {\"name\": \"Ann\"}},"
	    "{\"type\": \"screen\", \"messageId\": \"m4\", \"userId\": \"ann\"}"
	    "], \"context\": {\"library\": {\"name\": \"t\"}}}";
	struct store_source_event evs[10];
	char *cause = NULL, path[512];
	json_t *body = json_loads(batch, 0, NULL), *reply = NULL;
	struct eng *e;
	size_t n;

	(void)state;
	assert_non_null(body);
	snprintf(path, sizeof path, "%s/receive.db", tmpdir);
	assert_non_null(e = eng_open(fixture_db(path), &cause));
	eng_set_config(e, eng_config_load(tmpdir, &cause));
	assert_non_null(e->cfg);
	assert_int_equal(eng_begin(e, &cause), 0);
	eng_request_begin(e);
	assert_int_equal(eng_source_receive(e, "seg", "batch", body, 5000,
	    &reply, &cause), ENG_OK);
	assert_int_equal(eng_request_end(e, 1), 1);
	assert_true(json_is_true(json_object_get(reply, "success")));
	json_decref(reply);
	assert_int_equal(eng_commit(e, &cause), 0);

	assert_int_equal(count(e, "SELECT count(*) FROM runs"), 1);
	assert_int_equal(count(e, "SELECT count(*) FROM users WHERE id ="
	    " 'fresh'"), 0);
	assert_int_equal(count(e, "SELECT count(*) FROM users WHERE id ="
	    " 'ann'"), 1);
	n = store_source_events_page(e->store, "seg", INT64_MAX, 0, NULL, 10,
	    evs);
	assert_int_equal(n, 5);
	assert_string_equal(evs[0].outcome, "unmapped");
	assert_string_equal(evs[1].outcome, "identified");
	assert_string_equal(evs[2].outcome, "failed");
	assert_non_null(strstr(evs[2].detail, "unknown time zone"));
	assert_int_equal(evs[2].run, STORE_NONE);
	assert_string_equal(evs[3].outcome, "duplicate");
	assert_string_equal(evs[4].outcome, "triggered");
	assert_true(evs[4].run != STORE_NONE);
	while (n > 0)
		store_source_event_clear(&evs[--n]);
	assert_int_equal(count(e, "SELECT sum(n) FROM source_counts WHERE"
	    " source = 'seg'"), 5);

	/* Sent again a day later but within 24 h: all duplicates. */
	assert_int_equal(eng_begin(e, &cause), 0);
	eng_request_begin(e);
	assert_int_equal(eng_source_receive(e, "seg", "batch", body,
	    5000 + 86399, &reply, &cause), ENG_OK);
	eng_request_end(e, 1);
	json_decref(reply);
	assert_int_equal(eng_commit(e, &cause), 0);
	assert_int_equal(count(e, "SELECT n FROM source_counts WHERE"
	    " source = 'seg' AND outcome = 'duplicate'"), 6);
	assert_int_equal(count(e, "SELECT count(*) FROM runs"), 1);

	/* After 24 h the messageId counts as new. */
	assert_int_equal(eng_begin(e, &cause), 0);
	eng_request_begin(e);
	assert_int_equal(eng_source_receive(e, "seg", "batch", body,
	    5000 + 86400 * 2, &reply, &cause), ENG_OK);
	eng_request_end(e, 1);
	json_decref(reply);
	assert_int_equal(eng_commit(e, &cause), 0);
	assert_int_equal(count(e, "SELECT count(*) FROM runs"), 2);

	/* A batch without events is the request's error; unknown sources too. */
	json_decref(body);
	body = json_pack("{s:i}", "batch", 3);
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(eng_source_receive(e, "seg", "batch", body, 9000,
	    &reply, &cause), ENG_INVALID);
	free(cause);
	cause = NULL;
	assert_int_equal(eng_source_receive(e, "nope", "track", body, 9000,
	    &reply, &cause), ENG_NOT_FOUND);
	free(cause);
	eng_rollback(e);
	json_decref(body);
	eng_close(e);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_track),
		cmocka_unit_test(test_map_identify_group),
		cmocka_unit_test(test_write_keys),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_receive),
	};

	return cmocka_run_group_tests_name("sources", tests, setup, teardown);
}
