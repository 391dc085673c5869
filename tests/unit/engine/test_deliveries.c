/*
 * engine/messages/deliveries.c and engine/config/channels.c: what http
 * and email steps queue, the attempts recorded and read back as delivery
 * logs, a message's delivery state and status, the channel checks, and
 * the schema 11 -> 12 migration, on a real SQLite file with explicit
 * instants.
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

static char dir[] = "/tmp/belfry-dlv-XXXXXX";
static struct eng *e;

static const char *conf =
    "{\"channels\": {"
    " \"hook\": {\"type\": \"http\", \"url\": \"https://h.test/in?x=1\","
    "  \"method\": \"PUT\", \"headers\": {\"Authorization\":"
    "  \"Bearer {{ data.token }}\", \"X-Who\": \"{{ recipient.id }}\"},"
    "  \"signing_secret\": \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"},"
    " \"mail\": {\"type\": \"email\", \"smtp_url\": \"smtp://127.0.0.1:2525\","
    "  \"from\": \"Belfry <noreply@example.com>\","
    "  \"list_unsubscribe\": \"<https://example.com/u/{{ recipient.id }}>\"}},"
    " \"preferences\": {\"default\": {\"channel_types\": {\"email\": true}}}}";

static const char *workflows[][2] = {
	{ "hook", "{\"key\": \"hook\", \"steps\": [{\"ref\": \"h\", \"type\":"
	    " \"channel\", \"channel\": \"hook\", \"template\": {\"body\":"
	    " \"{\\\"n\\\": \\\"{{ data.n }}\\\"}\"}}]}" },
	{ "mail", "{\"key\": \"mail\", \"steps\": [{\"ref\": \"m\", \"type\":"
	    " \"channel\", \"channel\": \"mail\", \"template\": {\"subject\":"
	    " \"Hi {{ recipient.name }}\", \"html\":"
	    " \"<p>{{ data.note }}</p>\"}}]}" },
};

/* Write text to dir/name. */
static void
put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Remove dir/name. */
static void
rm(const char *name)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

/* Load dir's configuration; NULL with *cause. */
static struct eng_config *
load(char **cause)
{
	return eng_config_load(dir, cause);
}

/* A fresh engine on a fresh database for each test. */
static int
setup(void **state)
{
	char *cause = NULL, path[600];
	struct eng_config *c;
	static int n;
	size_t i;

	(void)state;
	put("belfry.conf", conf);
	for (i = 0; i < sizeof workflows / sizeof workflows[0]; i++) {
		snprintf(path, sizeof path, "workflows/%s.json",
		    workflows[i][0]);
		put(path, workflows[i][1]);
	}
	if ((c = load(&cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return -1;
	}
	snprintf(path, sizeof path, "%s/db%d", dir, n++);
	if ((e = eng_open(fixture_db(path), &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return -1;
	}
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
	return 0;
}

/* Trigger workflow wf at now with a JSON body; fail on error. */
static void
trigger(const char *wf, int64_t now, const char *body)
{
	json_t *b = json_loads(body, 0, NULL), *reply = NULL;
	char *cause = NULL;

	assert_non_null(b);
	if (eng_trigger(e, wf, b, now, &reply, &cause) != ENG_OK)
		fail_msg("trigger %s: %s", wf, cause);
	json_decref(reply);
	json_decref(b);
}

/* Store user id with properties props (JSON text). */
static void
user(const char *id, const char *props)
{
	json_t *b = json_loads(props, 0, NULL), *reply = NULL;
	char *cause = NULL;

	assert_int_equal(eng_user_put(e, id, b, 100, &reply, &cause), ENG_OK);
	json_decref(reply);
	json_decref(b);
}

/* Message id (Knock's Message), a new reference. */
static json_t *
message(const char *id)
{
	json_t *m = NULL;
	char *cause = NULL;

	assert_int_equal(eng_message_get(e, id, &m, &cause), ENG_OK);
	return m;
}

/* Report an attempt at d with result r and error err at now. */
static enum eng_delivery_state
attempt(struct eng_delivery *d, enum eng_attempt_result r, const char *err,
    int64_t now, int64_t *next)
{
	struct eng_attempt a;
	json_t *req = json_pack("{s:s, s:s}", "method", "SMTP", "url",
	    "smtp://127.0.0.1:2525");
	json_t *resp = json_pack("{s:i, s:{}, s:s}", "status", r ==
	    ENG_ATTEMPT_OK ? 250 : 550, "headers", "body", err ? err : "ok");
	enum eng_delivery_state st;
	char *rq, *rs;

	memset(&a, 0, sizeof a);
	a.id = d->id;
	a.channel = d->channel;
	a.result = r;
	a.error = err;
	a.at = now;
	a.duration_us = 1500;
	a.request = rq = json_dumps(req, JSON_COMPACT);
	a.response = rs = json_dumps(resp, JSON_COMPACT);
	st = eng_delivery_done(e, &a, now, next);
	free(rq);
	free(rs);
	json_decref(req);
	json_decref(resp);
	return st;
}

/* The recipient run of user rcpt's (only) run's events, as JSON text. */
static char *
events_of(const char *rcpt)
{
	json_t *q = json_pack("{s:s}", "recipient", rcpt), *reply = NULL;
	char *cause = NULL, *t;

	assert_int_equal(eng_runs_list(e, q, &reply, &cause), ENG_OK);
	t = json_dumps(json_object_get(json_array_get(json_object_get(reply,
	    "items"), 0), "events"), JSON_COMPACT);
	json_decref(reply);
	json_decref(q);
	return t;
}

/*
 * An email step: the MIME text of each recipient's message (headers,
 * escaped data, the derived text part), and a recipient without an
 * email, or with a bad one, skipped with the reason in the run.
 */
static void
test_email_step(void **state)
{
	struct eng_delivery d[4];
	char *ev;
	size_t n;

	(void)state;
	user("ada", "{\"email\": \"ada@example.org\", \"name\": \"Ada\"}");
	user("bob", "{\"name\": \"Bob\"}");
	user("cy", "{\"email\": \"cy at example.org\"}");
	trigger("mail", 1000, "{\"recipients\": [\"ada\", \"bob\", \"cy\"],"
	    " \"data\": {\"note\": \"1 < 2 & <b>x</b>\"}}");
	n = eng_delivery_take(e, "mail", 1000, d, 4);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].url, "mailto:ada@example.org");
	assert_null(d[0].headers);
	assert_non_null(strstr(d[0].body, "\r\nTo: Ada <ada@example.org>"
	    "\r\n"));
	assert_non_null(strstr(d[0].body, "\r\nSubject: Hi Ada\r\n"));
	assert_int_equal(strncmp(d[0].body, "Date: Thu, 01 Jan 1970 00:16:40"
	    " +0000\r\n", 39), 0);
	assert_non_null(strstr(d[0].body, "\r\nMessage-ID: <"));
	assert_non_null(strstr(d[0].body, "@example.com>\r\n"));
	assert_non_null(strstr(d[0].body, "\r\nList-Unsubscribe: "
	    "<https://example.com/u/ada>\r\n"));
	/* Data is escaped in the HTML part, as it is in the text part. */
	assert_non_null(strstr(d[0].body, "<p>1 &lt; 2 &amp; &lt;b&gt;x&lt;/b"
	    "&gt;</p>"));
	assert_non_null(strstr(d[0].body, "\r\n\r\n1 < 2 & <b>x</b>\r\n"));
	assert_non_null(strstr(d[0].body, d[0].message_id));
	eng_delivery_free(&d[0]);
	ev = events_of("bob");
	assert_non_null(strstr(ev, "\"event\":\"step_skipped\""));
	assert_non_null(strstr(ev, "\"reason\":\"channel_data\""));
	assert_non_null(strstr(ev, "the recipient has no email"));
	free(ev);
	ev = events_of("cy");
	assert_non_null(strstr(ev, "not a valid address"));
	free(ev);
}

/* Preferences apply by channel type "email". */
static void
test_email_preferences(void **state)
{
	struct eng_delivery d[2];
	json_t *b, *reply = NULL;
	char *cause = NULL, *ev;

	(void)state;
	user("ada", "{\"email\": \"ada@example.org\"}");
	b = json_loads("{\"channel_types\": {\"email\": false}}", 0, NULL);
	assert_int_equal(eng_prefs_put(e, "ada", "default", b, 100, &reply,
	    &cause), ENG_OK);
	json_decref(reply);
	json_decref(b);
	trigger("mail", 1000, "{\"recipients\": [\"ada\"]}");
	assert_int_equal(eng_delivery_take(e, "mail", 1000, d, 2), 0);
	ev = events_of("ada");
	assert_non_null(strstr(ev, "\"reason\":\"preferences\""));
	free(ev);
}

/*
 * An http step: its headers rendered per message; attempts and their
 * outcome on the message (status, delivery state) and in its logs.
 */
static void
test_http_attempts(void **state)
{
	struct eng_delivery d[2];
	json_t *m, *st, *q, *logs = NULL, *it;
	char *cause = NULL, id[37];
	int64_t next;

	(void)state;
	trigger("hook", 1000, "{\"recipients\": [\"u1\"], \"data\": {\"n\":"
	    " \"a\\\"b\", \"token\": \"t0k\\r\\nX-Evil: 1\"}}");
	assert_int_equal(eng_delivery_take(e, "mail", 1000, d, 2), 0);
	assert_int_equal(eng_delivery_take(e, "hook", 1000, d, 2), 1);
	assert_string_equal(d[0].url, "https://h.test/in?x=1");
	assert_string_equal(d[0].body, "{\"n\": \"a\\\"b\"}");
	assert_string_equal(json_string_value(json_object_get(d[0].headers,
	    "Authorization")), "Bearer t0k  X-Evil: 1");
	assert_string_equal(json_string_value(json_object_get(d[0].headers,
	    "X-Who")), "u1");
	assert_int_equal(d[0].attempt, 1);
	snprintf(id, sizeof id, "%s", d[0].message_id);
	m = message(id);
	assert_string_equal(json_string_value(json_object_get(m, "status")),
	    "queued");
	st = json_object_get(m, "delivery");
	assert_int_equal(json_integer_value(json_object_get(st, "attempts")),
	    0);
	assert_true(json_is_true(json_object_get(st, "in_flight")));
	json_decref(m);

	assert_int_equal(attempt(&d[0], ENG_ATTEMPT_RETRY, "HTTP 503", 1001,
	    &next), ENG_DELIVERY_RETRYING);
	assert_true(next >= 1001 + 12 && next <= 1001 + 18);
	eng_delivery_free(&d[0]);
	m = message(id);
	st = json_object_get(m, "delivery");
	assert_int_equal(json_integer_value(json_object_get(st, "attempts")),
	    1);
	assert_string_equal(json_string_value(json_object_get(st,
	    "last_error")), "HTTP 503");
	assert_non_null(json_string_value(json_object_get(st,
	    "next_attempt_at")));
	assert_false(json_is_true(json_object_get(st, "in_flight")));
	json_decref(m);

	assert_int_equal(eng_delivery_take(e, "hook", next, d, 2), 1);
	assert_int_equal(d[0].attempt, 2);
	assert_int_equal(attempt(&d[0], ENG_ATTEMPT_OK, NULL, next, NULL),
	    ENG_DELIVERY_DONE);
	eng_delivery_free(&d[0]);
	m = message(id);
	assert_string_equal(json_string_value(json_object_get(m, "status")),
	    "delivered");
	st = json_object_get(m, "delivery");
	assert_int_equal(json_integer_value(json_object_get(st, "attempts")),
	    2);
	assert_true(json_is_null(json_object_get(st, "next_attempt_at")));
	json_decref(m);

	/* The logs, newest first, one per page with a cursor. */
	q = json_pack("{s:s}", "page_size", "1");
	assert_int_equal(eng_message_delivery_logs(e, id, q, &logs, &cause),
	    ENG_OK);
	it = json_array_get(json_object_get(logs, "items"), 0);
	assert_string_equal(json_string_value(json_object_get(it,
	    "__typename")), "MessageDeliveryLog");
	assert_int_equal(json_integer_value(json_object_get(it, "attempt")),
	    2);
	assert_string_equal(json_string_value(json_object_get(it, "result")),
	    "ok");
	assert_string_equal(json_string_value(json_object_get(it,
	    "message_id")), id);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    it, "response"), "status")), 250);
	json_object_set(q, "after", json_object_get(json_object_get(logs,
	    "page_info"), "after"));
	json_decref(logs);
	assert_int_equal(eng_message_delivery_logs(e, id, q, &logs, &cause),
	    ENG_OK);
	it = json_array_get(json_object_get(logs, "items"), 0);
	assert_int_equal(json_integer_value(json_object_get(it, "attempt")),
	    1);
	assert_string_equal(json_string_value(json_object_get(it, "error")),
	    "HTTP 503");
	assert_string_equal(json_string_value(json_object_get(it,
	    "inserted_at")), "1970-01-01T00:16:41Z");
	json_decref(logs);
	json_decref(q);

	/* Every message's failed attempts. */
	q = json_pack("{s:s}", "failed", "true");
	assert_int_equal(eng_deliveries_list(e, q, &logs, &cause), ENG_OK);
	assert_int_equal(json_array_size(json_object_get(logs, "items")), 1);
	json_decref(logs);
	json_object_set_new(q, "failed", json_string("yes"));
	assert_int_equal(eng_deliveries_list(e, q, &logs, &cause),
	    ENG_INVALID);
	free(cause);
	json_decref(q);
}

/*
 * An email the server accepted is "sent"; one refused for good (an SMTP
 * 5xx) is undelivered at once, with the server's text; eight failures
 * are undelivered too.
 */
static void
test_email_outcomes(void **state)
{
	struct eng_delivery d[4];
	char id[3][37];
	json_t *m;
	int64_t next = 1000;
	int i;

	(void)state;
	user("a", "{\"email\": \"a@example.org\"}");
	user("b", "{\"email\": \"b@example.org\"}");
	user("c", "{\"email\": \"c@example.org\"}");
	trigger("mail", 1000, "{\"recipients\": [\"a\", \"b\", \"c\"]}");
	assert_int_equal(eng_delivery_take(e, "mail", 1000, d, 4), 3);
	for (i = 0; i < 3; i++)
		snprintf(id[i], sizeof id[i], "%s", d[i].message_id);
	assert_int_equal(attempt(&d[0], ENG_ATTEMPT_OK, NULL, 1000, NULL),
	    ENG_DELIVERY_DONE);
	assert_int_equal(attempt(&d[1], ENG_ATTEMPT_FAILED, "RCPT failed: 550:"
	    " 550 5.1.1 no such user", 1000, NULL), ENG_DELIVERY_UNDELIVERED);
	for (i = 0; i < 8; i++) {
		assert_int_equal(attempt(&d[2], ENG_ATTEMPT_RETRY, "451 later",
		    next, &next), i < 7 ? ENG_DELIVERY_RETRYING :
		    ENG_DELIVERY_UNDELIVERED);
		eng_delivery_free(&d[2]);
		if (i < 7)
			assert_int_equal(eng_delivery_take(e, "mail", next,
			    &d[2], 1), 1);
	}
	eng_delivery_free(&d[0]);
	eng_delivery_free(&d[1]);
	m = message(id[0]);
	assert_string_equal(json_string_value(json_object_get(m, "status")),
	    "sent");
	json_decref(m);
	m = message(id[1]);
	assert_string_equal(json_string_value(json_object_get(m, "status")),
	    "undelivered");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    m, "delivery"), "last_error")), "RCPT failed: 550: 550 5.1.1 no "
	    "such user");
	json_decref(m);
	m = message(id[2]);
	assert_string_equal(json_string_value(json_object_get(m, "status")),
	    "undelivered");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    m, "delivery"), "attempts")), 8);
	json_decref(m);
	assert_int_equal(eng_next_due(e), INT64_MAX);
}

/* A channel taken out of the configuration gives its deliveries up. */
static void
test_deliveries_sync(void **state)
{
	struct eng_delivery d[2];
	char *cause = NULL, id[37];
	json_t *m;

	(void)state;
	trigger("hook", 1000, "{\"recipients\": [\"u1\"]}");
	assert_int_equal(eng_delivery_take(e, "hook", 1000, d, 2), 1);
	snprintf(id, sizeof id, "%s", d[0].message_id);
	assert_int_equal(attempt(&d[0], ENG_ATTEMPT_RETRY, "HTTP 500", 1000,
	    NULL), ENG_DELIVERY_RETRYING);
	eng_delivery_free(&d[0]);
	eng_deliveries_sync(e, 1001);
	m = message(id);
	assert_string_equal(json_string_value(json_object_get(m, "status")),
	    "queued");
	json_decref(m);
	rm("workflows/hook.json");
	put("belfry.conf", "{\"channels\": {\"mail\": {\"type\": \"log\"}}}");
	rm("workflows/mail.json");
	eng_set_config(e, load(&cause));
	eng_deliveries_sync(e, 1002);
	m = message(id);
	assert_string_equal(json_string_value(json_object_get(m, "status")),
	    "undelivered");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    m, "delivery"), "last_error")), "channel \"hook\" is not in the "
	    "configuration");
	json_decref(m);
	assert_int_equal(eng_next_due(e), INT64_MAX);
}

/*
 * Schema 11 to 12: a delivery queued before takes its channel from its
 * message, and is taken by that channel.
 */
static void
test_deliveries_migration(void **state)
{
	struct eng_delivery d[2];
	char *cause = NULL, *path;
	sqlite3 *db;

	(void)state;
	/* SQLite only: edits the file back to schema 11 and reopens it. */
	if (fixture_pg())
		skip();
	trigger("hook", 1000, "{\"recipients\": [\"u1\"]}");
	assert_int_equal(eng_commit(e, &cause), 0);
	path = xstrdup(sqlite3_db_filename(e->store->db, "main"));
	eng_close(e);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TABLE channel_data;"
	    " DROP INDEX subscriptions_by_rcpt;"
	    " DROP TABLE bulk_items; DROP TABLE bulk_ops;"
	    " DROP INDEX deliveries_by_channel;"
	    " ALTER TABLE deliveries DROP COLUMN channel;"
	    " ALTER TABLE deliveries DROP COLUMN headers;"
	    " DROP TABLE delivery_attempts; DROP TABLE audience_members;"
	    " ALTER TABLE messages DROP COLUMN metadata;"
	    " DROP INDEX messages_by_run; DROP TABLE message_events;"
	    " UPDATE meta SET v = '11' WHERE k = 'version'", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	e = eng_open(path, &cause);
	free(path);
	assert_non_null(e);
	eng_set_config(e, load(&cause));
	assert_int_equal(eng_begin(e, &cause), 0);
	assert_int_equal(eng_delivery_take(e, "hook", 1000, d, 2), 1);
	assert_null(d[0].headers);
	assert_int_equal(attempt(&d[0], ENG_ATTEMPT_OK, NULL, 1000, NULL),
	    ENG_DELIVERY_DONE);
	eng_delivery_free(&d[0]);
}

/* Channel keys that are wrong: each error names file:line:column. */
static void
test_channel_errors(void **state)
{
	static const char *cases[][2] = {
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"from\":"
		  " \"a@b.c\"}}}", "belfry.conf:1:20: channel \"m\": "
		  "\"smtp_url\": expected smtp://" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"http://x\", \"from\": \"a@b.c\"}}}",
		  "belfry.conf:1:50: channel \"m\": \"smtp_url\": expected" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"smtp://x\", \"from\": \"nobody\"}}}",
		  "belfry.conf:1:70: channel \"m\": \"from\" must be an address" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"smtp://x\", \"from\": \"a@b.c\", \"starttls\": \"yes\"}}}",
		  "\"starttls\" must be \"required\", \"optional\" or \"never\"" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"smtp://x\", \"from\": \"a@b.c\", \"username\": \"u\"}}}",
		  "\"username\" and \"password_file\" are strings given "
		  "together" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"smtp://x\", \"from\": \"a@b.c\", \"username\": \"u\","
		  " \"password_file\": \"nope\"}}}", "nope: No such file" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"smtp://x\", \"from\": \"a@b.c\", \"max_sessions\": 0}}}",
		  "\"max_sessions\" must be an integer 1..64" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"smtp://x\", \"from\": \"a@b.c\", \"max_per_second\":"
		  " -1}}}", "\"max_per_second\" must be a number above 0" },
		{ "{\"channels\": {\"m\": {\"type\": \"email\", \"smtp_url\":"
		  " \"smtp://x\", \"from\": \"a@b.c\", \"url\": \"x\"}}}",
		  "unknown key \"url\"" },
		{ "{\"channels\": {\"h\": {\"type\": \"http\", \"url\":"
		  " \"ftp://x\"}}}", "an http channel needs \"url\": expected "
		  "http://HOST[:PORT]/PATH or https://" },
		{ "{\"channels\": {\"h\": {\"type\": \"http\", \"url\":"
		  " \"https://x\", \"method\": \"GET\"}}}",
		  "\"method\" must be POST, PUT, PATCH or DELETE" },
		{ "{\"channels\": {\"h\": {\"type\": \"http\", \"url\":"
		  " \"https://x\", \"headers\": {\"Content-Length\": \"1\"}}}}",
		  "belfry sets the Content-Length header itself" },
		{ "{\"channels\": {\"h\": {\"type\": \"http\", \"url\":"
		  " \"https://x\", \"headers\": {\"a b\": \"1\"}}}}",
		  "\"a b\" is not a header name" },
		{ "{\"channels\": {\"h\": {\"type\": \"http\", \"url\":"
		  " \"https://x\", \"headers\": {\"X\": \"{{ a | nope }}\"}}}}",
		  "header \"X\": template: unknown filter \"nope\"" },
		{ "{\"channels\": {\"h\": {\"type\": \"http\", \"url\":"
		  " \"https://x\", \"signing_secret\": \"s3cret\"}}}",
		  "belfry.conf:1:75: channel \"h\": a signing secret is "
		  "\"whsec_\"" },
		{ "{\"channels\": {\"h\": {\"type\": \"http\", \"url\":"
		  " \"https://x\", \"ca_file\": \"/nonexistent/ca.pem\"}}}",
		  "\"ca_file\" /nonexistent/ca.pem: No such file" },
		{ "{\"channels\": {\"f\": {\"type\": \"in_app_feed\","
		  " \"url\": \"http://x\"}}}", "unknown key \"url\"" },
	};
	char *cause = NULL;
	size_t i;

	(void)state;
	rm("workflows/hook.json");
	rm("workflows/mail.json");
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		put("belfry.conf", cases[i][0]);
		assert_null(load(&cause));
		if (strstr(cause, cases[i][1]) == NULL)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, cause,
			    cases[i][1]);
		free(cause);
		cause = NULL;
	}
}

/* Email steps need a subject and html or text; the password is read. */
static void
test_channel_email_keys(void **state)
{
	struct eng_config *c;
	const struct eng_channel *ch;
	char *cause = NULL;

	(void)state;
	put("belfry.conf", "{\"channels\": {\"m\": {\"type\": \"email\","
	    " \"smtp_url\": \"smtps://mail.example.com\", \"from\": \"a@b.c\","
	    " \"username\": \"u\", \"password_file\": \"pw\"}}}");
	put("pw", "s3cret\n");
	put("workflows/mail.json", "{\"key\": \"mail\", \"steps\": [{\"ref\":"
	    " \"m\", \"type\": \"channel\", \"channel\": \"m\", \"template\":"
	    " {\"text\": \"no subject\"}}]}");
	rm("workflows/hook.json");
	assert_null(load(&cause));
	assert_non_null(strstr(cause, "an email channel step needs "
	    "\"template\": {\"subject\""));
	free(cause);
	cause = NULL;
	put("workflows/mail.json", "{\"key\": \"mail\", \"steps\": [{\"ref\":"
	    " \"m\", \"type\": \"channel\", \"channel\": \"m\", \"template\":"
	    " {\"subject\": \"s\", \"text\": \"t\"}}]}");
	c = load(&cause);
	assert_non_null(c);
	ch = eng_config_channel(c, 0);
	assert_string_equal(ch->password, "s3cret");
	assert_string_equal(ch->from_addr, "a@b.c");
	/* Not a loopback host: STARTTLS is required unless said otherwise. */
	assert_int_equal(ch->starttls, ENG_STARTTLS_REQUIRED);
	assert_int_equal(ch->max_sessions, 4);
	eng_config_free(c);
	put("belfry.conf", "{\"channels\": {\"m\": {\"type\": \"email\","
	    " \"smtp_url\": \"smtp://127.0.0.1:25\", \"from\": \"a@b.c\"}}}");
	c = load(&cause);
	assert_int_equal(eng_config_channel(c, 0)->starttls,
	    ENG_STARTTLS_OPTIONAL);
	eng_config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_email_step, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_email_preferences, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_http_attempts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_email_outcomes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliveries_sync, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deliveries_migration, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_channel_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_channel_email_keys, setup,
		    teardown),
	};
	char path[600], *cause = NULL;
	int rc;

	if (tz_init(getenv("BELFRY_TZDATA_DIR"), &cause) != 0 ||
	    mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/workflows", dir);
	mkdir(path, 0700);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		rc = 1;
	tz_shutdown();
	return rc;
}
