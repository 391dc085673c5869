/*
 * engine/conditions.c and engine/preferences.c: every condition operator
 * (missing variables and mismatched types included), references, checks,
 * merging by priority and the send decision.  Expected values are written
 * by hand from the rules documented at the top of both files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tz/tz.h"
#include "engine/workflow/conditions.h"
#include "engine/workflow/preferences.h"

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The context most condition rows evaluate in. */
static const char *ctx_text =
    "{\"data\": {"
    "  \"amount\": 250, \"limit\": \"300\", \"price\": 19.5,"
    "  \"count_str\": \"42\", \"name\": \"Quarterly report\","
    "  \"file\": \"data.csv\", \"tags\": [\"urgent\", \"billing\", 7],"
    "  \"empty_s\": \"\", \"empty_a\": [], \"empty_o\": {},"
    "  \"nothing\": null, \"zero\": 0, \"no\": false, \"flag\": true,"
    "  \"big\": 9007199254740993, \"five\": 5, \"n_str\": \"5\","
    "  \"approx\": \"5.0\", \"obj\": {\"k\": 1},"
    "  \"items\": [{\"sku\": \"A1\"}, {\"sku\": \"B2\"}],"
    "  \"due_at\": \"2026-03-08T07:30:00Z\","
    "  \"lower_ts\": \"2026-03-08t07:30:00z\","
    "  \"bad_date\": \"2026-02-30T00:00:00Z\","
    "  \"date_only\": \"2026-03-08\"},"
    " \"recipient\": {\"id\": \"u1\", \"plan\": \"pro\","
    "  \"created_at\": \"2024-02-29T12:00:00.500+02:00\","
    "  \"subscription\": {\"properties\": {\"role\": \"admin\"}}},"
    " \"actor\": {\"id\": \"u1\"},"
    " \"tenant\": {\"id\": \"acme\"},"
    " \"refs\": {\"feed\": {\"status\": \"seen\"}}}";

/* One condition and whether it holds in ctx_text. */
struct cond_row {
	const char *variable;
	const char *op;
	const char *argument; /* JSON text, NULL for none */
	int want;
};

/* Parse JSON text (any value) or fail the test. */
static json_t *
J(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &err);

	if (v == NULL)
		fail_msg("bad JSON in test (%s): %s", err.text, text);
	return v;
}

/* A one-element conditions array for a row. */
static json_t *
cond_of(const struct cond_row *r)
{
	json_t *c = json_object();

	json_object_set_new(c, "variable", json_string(r->variable));
	json_object_set_new(c, "operator", json_string(r->op));
	if (r->argument != NULL)
		json_object_set_new(c, "argument", J(r->argument));
	return json_pack("[o]", c);
}

/* Check and evaluate every row against ctx_text. */
static void
cond_table(const struct cond_row *rows, size_t n)
{
	json_t *ctx = J(ctx_text), *conds;
	char *cause = NULL;
	size_t i, failed;
	int got;

	for (i = 0; i < n; i++) {
		conds = cond_of(&rows[i]);
		if (eng_cond_check(conds, &cause) != 0)
			fail_msg("row %zu: check: %s", i, cause);
		failed = 99;
		got = eng_cond_eval(conds, ctx, &failed);
		if (got != rows[i].want) {
			fail_msg("row %zu: %s %s %s: got %d, want %d", i,
			    rows[i].variable, rows[i].op,
			    rows[i].argument ? rows[i].argument : "-", got,
			    rows[i].want);
		}
		assert_int_equal(failed, got ? 99 : 0);
		json_decref(conds);
	}
	json_decref(ctx);
}

/* equal_to: strings, numeric coercion, booleans, paths, missing. */
static void
test_cond_equal_to(void **state)
{
	static const struct cond_row rows[] = {
		{ "recipient.plan", "equal_to", "\"pro\"", 1 },
		{ "recipient.plan", "equal_to", "\"free\"", 0 },
		{ "recipient.plan", "equal_to", "\"Pro\"", 0 },
		{ "data.five", "equal_to", "5", 1 },
		{ "data.five", "equal_to", "\"5\"", 1 },
		{ "data.five", "equal_to", "5.0", 1 },
		{ "data.five", "equal_to", "\"5.00\"", 1 },
		{ "data.n_str", "equal_to", "5", 1 },
		{ "data.approx", "equal_to", "5", 1 },
		/* Two strings compare as strings. */
		{ "data.n_str", "equal_to", "\"5.0\"", 0 },
		{ "data.flag", "equal_to", "true", 1 },
		{ "data.flag", "equal_to", "\"true\"", 1 },
		{ "data.no", "equal_to", "\"false\"", 1 },
		{ "data.no", "equal_to", "\"true\"", 0 },
		/* Type mismatches are unequal. */
		{ "data.flag", "equal_to", "1", 0 },
		{ "data.zero", "equal_to", "false", 0 },
		{ "data.name", "equal_to", "5", 0 },
		{ "data.five", "equal_to", "\"five\"", 0 },
		{ "data.five", "equal_to", "[5]", 0 },
		{ "data.tags", "equal_to", "[\"urgent\", \"billing\", 7]", 1 },
		{ "data.tags", "equal_to", "\"urgent\"", 0 },
		{ "data.obj", "equal_to", "{\"k\": 1}", 1 },
		{ "data.big", "equal_to", "9007199254740993", 1 },
		{ "data.big", "equal_to", "9007199254740992", 0 },
		{ "data.missing", "equal_to", "\"x\"", 0 },
		{ "data.nothing", "equal_to", "\"x\"", 0 },
		{ "recipient.subscription.properties.role", "equal_to",
		    "\"admin\"", 1 },
		{ "data.items.1.sku", "equal_to", "\"B2\"", 1 },
		{ "data.items.2.sku", "equal_to", "\"B2\"", 0 },
		{ "data.items.x.sku", "equal_to", "\"B2\"", 0 },
		{ "refs.feed.status", "equal_to", "\"seen\"", 1 },
		{ "tenant.id", "equal_to", "\"acme\"", 1 },
		{ "actor.id", "equal_to", "\"u1\"", 1 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* not_equal_to is the negation of equal_to: true when missing. */
static void
test_cond_not_equal_to(void **state)
{
	static const struct cond_row rows[] = {
		{ "recipient.plan", "not_equal_to", "\"free\"", 1 },
		{ "recipient.plan", "not_equal_to", "\"pro\"", 0 },
		{ "data.five", "not_equal_to", "\"5\"", 0 },
		{ "data.flag", "not_equal_to", "1", 1 },
		{ "data.missing", "not_equal_to", "\"x\"", 1 },
		{ "data.nothing", "not_equal_to", "\"x\"", 1 },
		{ "data.amount.deeper", "not_equal_to", "1", 1 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* The four ordering operators: numbers and numeric strings only. */
static void
test_cond_ordering(void **state)
{
	static const struct cond_row rows[] = {
		{ "data.amount", "greater_than", "100", 1 },
		{ "data.amount", "greater_than", "250", 0 },
		{ "data.amount", "greater_than", "250.5", 0 },
		{ "data.amount", "greater_than_or_equal_to", "250", 1 },
		{ "data.amount", "greater_than_or_equal_to", "251", 0 },
		{ "data.amount", "less_than", "250", 0 },
		{ "data.amount", "less_than", "\"300\"", 1 },
		{ "data.amount", "less_than_or_equal_to", "250", 1 },
		{ "data.amount", "less_than_or_equal_to", "249.99", 0 },
		{ "data.count_str", "greater_than", "41.5", 1 },
		{ "data.count_str", "less_than", "\"1e2\"", 1 },
		{ "data.count_str", "greater_than", "\"-3\"", 1 },
		{ "data.price", "greater_than", "19", 1 },
		{ "data.price", "less_than", "19.5", 0 },
		{ "data.price", "less_than_or_equal_to", "\"19.5\"", 1 },
		{ "data.big", "greater_than", "9007199254740992", 1 },
		{ "data.zero", "greater_than_or_equal_to", "0", 1 },
		/* Not numbers: false whatever the operator. */
		{ "data.name", "greater_than", "1", 0 },
		{ "data.name", "less_than", "1", 0 },
		{ "data.flag", "greater_than", "0", 0 },
		{ "data.tags", "greater_than", "0", 0 },
		{ "data.obj", "less_than", "10", 0 },
		{ "data.date_only", "less_than", "3000", 0 },
		{ "data.empty_s", "less_than", "1", 0 },
		{ "data.missing", "greater_than", "0", 0 },
		{ "data.missing", "less_than", "0", 0 },
		{ "data.nothing", "less_than_or_equal_to", "0", 0 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* contains and not_contains: substrings and array elements. */
static void
test_cond_contains(void **state)
{
	static const struct cond_row rows[] = {
		{ "data.name", "contains", "\"report\"", 1 },
		{ "data.name", "contains", "\"Report\"", 0 },
		{ "data.name", "contains", "\"\"", 1 },
		{ "data.tags", "contains", "\"urgent\"", 1 },
		{ "data.tags", "contains", "7", 1 },
		{ "data.tags", "contains", "\"7\"", 1 },
		{ "data.tags", "contains", "\"urg\"", 0 },
		{ "data.tags", "contains", "\"other\"", 0 },
		{ "data.empty_a", "contains", "\"x\"", 0 },
		{ "data.missing", "contains", "\"x\"", 0 },
		/* Neither a string nor an array: false. */
		{ "data.five", "contains", "\"5\"", 0 },
		{ "data.obj", "contains", "\"k\"", 0 },
		{ "data.name", "contains", "5", 0 },
		{ "data.name", "not_contains", "\"invoice\"", 1 },
		{ "data.name", "not_contains", "\"report\"", 0 },
		{ "data.tags", "not_contains", "\"urgent\"", 0 },
		{ "data.tags", "not_contains", "\"other\"", 1 },
		{ "data.missing", "not_contains", "\"x\"", 1 },
		{ "data.five", "not_contains", "\"5\"", 1 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* exists and not_exists: null is absent, falsy values are present. */
static void
test_cond_exists(void **state)
{
	static const struct cond_row rows[] = {
		{ "data.amount", "exists", NULL, 1 },
		{ "data.zero", "exists", NULL, 1 },
		{ "data.no", "exists", NULL, 1 },
		{ "data.empty_s", "exists", NULL, 1 },
		{ "data.empty_a", "exists", NULL, 1 },
		{ "data.nothing", "exists", NULL, 0 },
		{ "data.missing", "exists", NULL, 0 },
		{ "data.missing.deeper", "exists", NULL, 0 },
		{ "data.amount.deeper", "exists", NULL, 0 },
		{ "data.items.0", "exists", NULL, 1 },
		{ "data.items.5", "exists", NULL, 0 },
		{ "tenant", "exists", NULL, 1 },
		{ "recipient.subscription.properties.role", "exists", NULL, 1 },
		{ "data.missing", "not_exists", NULL, 1 },
		{ "data.nothing", "not_exists", NULL, 1 },
		{ "data.amount", "not_exists", NULL, 0 },
		{ "data.no", "not_exists", NULL, 0 },
		{ "data.amount", "exists", "null", 1 },
		{ "data.amount", "exists", "\"\"", 1 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* Timestamps compare as instants across offsets and fractions. */
static void
test_cond_timestamps(void **state)
{
	static const struct cond_row rows[] = {
		{ "data.due_at", "is_timestamp_before",
		    "\"2026-03-08T07:30:01Z\"", 1 },
		{ "data.due_at", "is_timestamp_before",
		    "\"2026-03-08T07:30:00Z\"", 0 },
		{ "data.due_at", "is_timestamp_after",
		    "\"2026-03-08T07:30:00Z\"", 0 },
		/* 02:30-05:00 is 07:30Z: the same instant. */
		{ "data.due_at", "is_timestamp_before",
		    "\"2026-03-08T02:30:00-05:00\"", 0 },
		{ "data.due_at", "is_timestamp_after",
		    "\"2026-03-08T02:30:00-05:00\"", 0 },
		/* 08:29:59+01:00 is 07:29:59Z. */
		{ "data.due_at", "is_timestamp_after",
		    "\"2026-03-08T08:29:59+01:00\"", 1 },
		{ "data.due_at", "is_timestamp_before",
		    "\"2026-03-08T07:30:00.000000001Z\"", 1 },
		{ "data.lower_ts", "is_timestamp_after",
		    "\"2026-03-08T07:29:59Z\"", 1 },
		/* 12:00:00.5+02:00 is 10:00:00.5Z on a leap day. */
		{ "recipient.created_at", "is_timestamp_after",
		    "\"2024-02-29T10:00:00Z\"", 1 },
		{ "recipient.created_at", "is_timestamp_before",
		    "\"2024-02-29T10:00:00.6Z\"", 1 },
		{ "recipient.created_at", "is_timestamp_before",
		    "\"2024-02-29T10:00:00.5Z\"", 0 },
		{ "recipient.created_at", "is_timestamp_before",
		    "\"data.due_at\"", 1 },
		{ "data.due_at", "is_timestamp_after",
		    "\"recipient.created_at\"", 1 },
		/* Not timestamps, or missing: false both ways. */
		{ "data.name", "is_timestamp_before",
		    "\"2030-01-01T00:00:00Z\"", 0 },
		{ "data.name", "is_timestamp_after",
		    "\"2000-01-01T00:00:00Z\"", 0 },
		{ "data.five", "is_timestamp_before",
		    "\"2030-01-01T00:00:00Z\"", 0 },
		{ "data.bad_date", "is_timestamp_before",
		    "\"2030-01-01T00:00:00Z\"", 0 },
		{ "data.date_only", "is_timestamp_before",
		    "\"2030-01-01T00:00:00Z\"", 0 },
		{ "data.missing", "is_timestamp_before",
		    "\"2030-01-01T00:00:00Z\"", 0 },
		{ "data.missing", "is_timestamp_after",
		    "\"2000-01-01T00:00:00Z\"", 0 },
		{ "data.due_at", "is_timestamp_before", "\"data.missing\"", 0 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* empty and not_empty: missing, null, "", [] and {} are empty. */
static void
test_cond_empty(void **state)
{
	static const struct cond_row rows[] = {
		{ "data.empty_s", "empty", NULL, 1 },
		{ "data.empty_a", "empty", NULL, 1 },
		{ "data.empty_o", "empty", NULL, 1 },
		{ "data.nothing", "empty", NULL, 1 },
		{ "data.missing", "empty", NULL, 1 },
		{ "data.zero", "empty", NULL, 0 },
		{ "data.no", "empty", NULL, 0 },
		{ "data.name", "empty", NULL, 0 },
		{ "data.tags", "empty", NULL, 0 },
		{ "data.obj", "empty", NULL, 0 },
		{ "data.name", "not_empty", NULL, 1 },
		{ "data.zero", "not_empty", NULL, 1 },
		{ "data.missing", "not_empty", NULL, 0 },
		{ "data.empty_a", "not_empty", NULL, 0 },
		{ "data.empty_o", "not_empty", NULL, 0 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* An argument under a root is a reference; a dangling one is literal. */
static void
test_cond_references(void **state)
{
	static const struct cond_row rows[] = {
		{ "recipient.id", "equal_to", "\"actor.id\"", 1 },
		{ "recipient.id", "not_equal_to", "\"actor.id\"", 0 },
		{ "data.amount", "less_than", "\"data.limit\"", 1 },
		{ "data.amount", "greater_than", "\"data.limit\"", 0 },
		{ "data.tags", "contains", "\"data.items.0.sku\"", 0 },
		{ "data.items.0.sku", "equal_to", "\"data.items.0.sku\"", 1 },
		/* data has no "csv": the argument is the file name. */
		{ "data.file", "equal_to", "\"data.csv\"", 1 },
		{ "data.name", "equal_to", "\"data.missing\"", 0 },
		{ "data.amount", "greater_than", "\"data.missing\"", 0 },
		/* A root alone, or a near miss, is a literal. */
		{ "tenant.id", "equal_to", "\"tenant\"", 0 },
		{ "data.name", "not_equal_to", "\"database.name\"", 1 },
	};

	(void)state;
	cond_table(rows, NITEMS(rows));
}

/* Conditions are ANDed; *failed names the first that fails. */
static void
test_cond_and(void **state)
{
	json_t *ctx = J(ctx_text), *conds, *empty = J("[]");
	size_t failed = 42;

	(void)state;
	conds = J("[{\"variable\": \"recipient.plan\", \"operator\": "
	    "\"equal_to\", \"argument\": \"pro\"},"
	    " {\"variable\": \"data.amount\", \"operator\": "
	    "\"greater_than\", \"argument\": 1000},"
	    " {\"variable\": \"data.nothing\", \"operator\": \"exists\"}]");
	assert_int_equal(eng_cond_eval(conds, ctx, &failed), 0);
	assert_int_equal(failed, 1);
	assert_int_equal(eng_cond_eval(conds, ctx, NULL), 0);
	json_decref(conds);

	conds = J("[{\"variable\": \"recipient.plan\", \"operator\": "
	    "\"equal_to\", \"argument\": \"pro\"},"
	    " {\"variable\": \"data.amount\", \"operator\": "
	    "\"greater_than\", \"argument\": 100}]");
	failed = 42;
	assert_int_equal(eng_cond_eval(conds, ctx, &failed), 1);
	assert_int_equal(failed, 42);
	json_decref(conds);

	assert_int_equal(eng_cond_eval(empty, ctx, &failed), 1);
	assert_int_equal(eng_cond_eval(NULL, ctx, &failed), 1);
	json_decref(empty);
	json_decref(ctx);
}

/* A NULL context has every variable missing. */
static void
test_cond_null_ctx(void **state)
{
	json_t *conds;
	size_t failed = 42;

	(void)state;
	conds = J("[{\"variable\": \"data.x\", \"operator\": \"not_exists\"},"
	    " {\"variable\": \"data.x\", \"operator\": \"not_equal_to\","
	    " \"argument\": 1}, {\"variable\": \"data.x\", \"operator\":"
	    " \"empty\"}]");
	assert_int_equal(eng_cond_eval(conds, NULL, &failed), 1);
	json_decref(conds);
	conds = J("[{\"variable\": \"data.x\", \"operator\": \"exists\"}]");
	assert_int_equal(eng_cond_eval(conds, NULL, &failed), 0);
	assert_int_equal(failed, 0);
	json_decref(conds);
}

/* Unchecked, malformed conditions do not hold and do not crash. */
static void
test_cond_malformed_eval(void **state)
{
	static const char *bad[] = {
		"{\"variable\": \"data.amount\", \"operator\": \"exists\"}",
		"[\"data.amount exists\"]",
		"[{\"variable\": 5, \"operator\": \"exists\"}]",
		"[{\"variable\": \"data.amount\", \"operator\": \"bogus\"}]",
		"[{\"variable\": \"data.amount\"}]",
		"[{\"variable\": \"data.amount\", \"operator\": \"equal_to\"}]",
		("[{\"variable\": \"data.amount\", \"operator\": "
		    "\"greater_than\", \"argument\": null}]"),
		"[{\"variable\": \"data..amount\", \"operator\": \"exists\"}]",
		"[{\"variable\": \"user.amount\", \"operator\": \"exists\"}]",
	};
	json_t *ctx = J(ctx_text), *conds;
	size_t i, failed;

	(void)state;
	for (i = 0; i < NITEMS(bad); i++) {
		conds = J(bad[i]);
		failed = 42;
		if (eng_cond_eval(conds, ctx, &failed) != 0)
			fail_msg("bad[%zu] held: %s", i, bad[i]);
		assert_int_equal(failed, 0);
		json_decref(conds);
	}
	json_decref(ctx);
}

/* An environment whose recipient is in audiences "vip" and "beta" only. */
static int
cond_member_vip(void *arg, const char *audience)
{
	int *asked = arg;

	(*asked)++;
	return strcmp(audience, "vip") == 0 || strcmp(audience, "beta") == 0;
}

/*
 * is_audience_member asks the environment (the argument a literal key or
 * a reference); without one no one is a member; is_not_audience_member
 * is its negation; both are checked like other operators.
 */
static void
test_cond_audience(void **state)
{
	static const struct {
		const char *op, *arg;
		int want;
	} rows[] = {
		{ "is_audience_member", "\"vip\"", 1 },
		{ "is_audience_member", "\"other\"", 0 },
		{ "is_not_audience_member", "\"vip\"", 0 },
		{ "is_not_audience_member", "\"other\"", 1 },
		{ "is_audience_member", "\"data.aud\"", 1 },
		{ "is_audience_member", "5", 0 },
	};
	json_t *ctx = J("{\"data\": {\"aud\": \"beta\"}, \"recipient\":"
	    " {\"id\": \"u1\"}}"), *c;
	int asked = 0;
	struct eng_cond_env env = { cond_member_vip, &asked };
	char buf[256], *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < NITEMS(rows); i++) {
		snprintf(buf, sizeof buf, "[{\"variable\": \"recipient\","
		    " \"operator\": \"%s\", \"argument\": %s}]", rows[i].op,
		    rows[i].arg);
		c = J(buf);
		if (eng_cond_eval_env(c, ctx, &env, NULL) != rows[i].want)
			fail_msg("row %zu: %s", i, buf);
		/* without an environment, no one is a member */
		assert_int_equal(eng_cond_eval(c, ctx, NULL),
		    strcmp(rows[i].op, "is_not_audience_member") == 0);
		assert_int_equal(eng_cond_check(c, &cause),
		    strcmp(rows[i].arg, "5") == 0 ? -1 : 0);
		free(cause);
		cause = NULL;
		json_decref(c);
	}
	assert_int_equal(asked, 5);
	c = J("[{\"variable\": \"recipient\", \"operator\":"
	    " \"is_audience_member\"}]");
	assert_int_equal(eng_cond_check(c, &cause), -1);
	assert_string_equal(cause, "conditions[0]: operator "
	    "\"is_audience_member\" needs an argument");
	free(cause);
	json_decref(c);
	json_decref(ctx);
}

/* A conditions array and the cause eng_cond_check gives (NULL: valid). */
struct check_row {
	const char *json;
	const char *cause;
};

/* Run fn on every row, comparing causes. */
static void
check_table(const struct check_row *rows, size_t n,
    int (*fn)(json_t *, char **))
{
	json_t *v;
	char *cause;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		v = J(rows[i].json);
		cause = NULL;
		rc = fn(v, &cause);
		if (rows[i].cause == NULL && rc != 0)
			fail_msg("row %zu: refused: %s", i, cause);
		if (rows[i].cause != NULL) {
			if (rc != -1 || cause == NULL)
				fail_msg("row %zu: accepted: %s", i,
				    rows[i].json);
			if (strcmp(cause, rows[i].cause) != 0)
				fail_msg("row %zu: cause \"%s\", want \"%s\"",
				    i, cause, rows[i].cause);
		}
		free(cause);
		json_decref(v);
	}
}

/* eng_cond_check accepts good conditions and names the bad entry. */
static void
test_cond_check(void **state)
{
	static const struct check_row rows[] = {
		{ "[]", NULL },
		{ "[{\"variable\": \"data.a\", \"operator\": \"exists\"},"
		  " {\"variable\": \"tenant\", \"operator\": \"not_exists\","
		  " \"argument\": null},"
		  " {\"variable\": \"data.a\", \"operator\": \"empty\","
		  " \"argument\": \"\"},"
		  " {\"variable\": \"data.a\", \"operator\": \"not_empty\"}]",
		    NULL },
		{ "[{\"variable\": \"data.a\", \"operator\": \"greater_than\","
		  " \"argument\": \"10\"},"
		  " {\"variable\": \"data.a\", \"operator\": \"less_than\","
		  " \"argument\": 1.5},"
		  " {\"variable\": \"data.a\", \"operator\":"
		  " \"less_than_or_equal_to\", \"argument\": \"data.limit\"},"
		  " {\"variable\": \"data.a\", \"operator\":"
		  " \"greater_than_or_equal_to\", \"argument\": -3}]", NULL },
		{ "[{\"variable\": \"refs.x.read_at\", \"operator\":"
		  " \"is_timestamp_before\", \"argument\":"
		  " \"2026-03-08T07:30:00.123456789+05:30\"},"
		  " {\"variable\": \"data.t\", \"operator\":"
		  " \"is_timestamp_after\", \"argument\":"
		  " \"recipient.created_at\"}]", NULL },
		{ "[{\"variable\": \"actor.id\", \"operator\": \"equal_to\","
		  " \"argument\": false},"
		  " {\"variable\": \"data.tags\", \"operator\": \"contains\","
		  " \"argument\": \"x\"},"
		  " {\"variable\": \"data.tags\", \"operator\": \"not_contains\","
		  " \"argument\": 3},"
		  " {\"variable\": \"data.a\", \"operator\": \"not_equal_to\","
		  " \"argument\": [1], \"comment\": \"extra keys pass\"}]",
		    NULL },
		{ "{}", "conditions: must be an array" },
		{ "null", "conditions: must be an array" },
		{ "[1]", "conditions[0]: must be an object" },
		{ "[{\"operator\": \"exists\"}]",
		    "conditions[0]: variable must be a string" },
		{ "[{\"variable\": 3, \"operator\": \"exists\"}]",
		    "conditions[0]: variable must be a string" },
		{ "[{\"variable\": \"user.plan\", \"operator\": \"exists\"}]",
		    "conditions[0]: variable \"user.plan\" is not a path under "
		    "data, recipient, actor, tenant or refs" },
		{ "[{\"variable\": \"database.x\", \"operator\": \"exists\"}]",
		    "conditions[0]: variable \"database.x\" is not a path under "
		    "data, recipient, actor, tenant or refs" },
		{ "[{\"variable\": \"data..x\", \"operator\": \"exists\"}]",
		    "conditions[0]: variable \"data..x\" is not a path under "
		    "data, recipient, actor, tenant or refs" },
		{ "[{\"variable\": \"data.\", \"operator\": \"exists\"}]",
		    "conditions[0]: variable \"data.\" is not a path under "
		    "data, recipient, actor, tenant or refs" },
		{ "[{\"variable\": \"data.a\"}]",
		    "conditions[0]: operator must be a string" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"exists\"},"
		  " {\"variable\": \"data.a\", \"operator\": \"equals\","
		  " \"argument\": 1}]",
		    "conditions[1]: unknown operator \"equals\"" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"equal_to\"}]",
		    "conditions[0]: operator \"equal_to\" needs an argument" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"contains\","
		  " \"argument\": null}]",
		    "conditions[0]: operator \"contains\" needs an argument" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"exists\","
		  " \"argument\": \"x\"}]",
		    "conditions[0]: operator \"exists\" takes no argument" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"empty\","
		  " \"argument\": 0}]",
		    "conditions[0]: operator \"empty\" takes no argument" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"greater_than\","
		  " \"argument\": \"abc\"}]",
		    "conditions[0]: argument of \"greater_than\" must be a "
		    "number or a variable" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"less_than\","
		  " \"argument\": true}]",
		    "conditions[0]: argument of \"less_than\" must be a "
		    "number or a variable" },
		{ "[{\"variable\": \"data.a\", \"operator\": \"less_than\","
		  " \"argument\": \"1.\"}]",
		    "conditions[0]: argument of \"less_than\" must be a "
		    "number or a variable" },
		{ "[{\"variable\": \"data.a\", \"operator\":"
		  " \"is_timestamp_before\", \"argument\": \"yesterday\"}]",
		    "conditions[0]: argument of \"is_timestamp_before\" must be "
		    "an RFC 3339 timestamp or a variable" },
		{ "[{\"variable\": \"data.a\", \"operator\":"
		  " \"is_timestamp_after\", \"argument\":"
		  " \"2026-13-01T00:00:00Z\"}]",
		    "conditions[0]: argument of \"is_timestamp_after\" must be "
		    "an RFC 3339 timestamp or a variable" },
		{ "[{\"variable\": \"data.a\", \"operator\":"
		  " \"is_timestamp_after\", \"argument\":"
		  " \"2026-03-08T07:30:00\"}]",
		    "conditions[0]: argument of \"is_timestamp_after\" must be "
		    "an RFC 3339 timestamp or a variable" },
		{ "[{\"variable\": \"data.a\", \"operator\":"
		  " \"is_timestamp_after\", \"argument\": 1772955000}]",
		    "conditions[0]: argument of \"is_timestamp_after\" must be "
		    "an RFC 3339 timestamp or a variable" },
	};

	(void)state;
	check_table(rows, NITEMS(rows), eng_cond_check);
}

/* eng_pref_check accepts a full set and names each bad key. */
static void
test_pref_check(void **state)
{
	static const struct check_row rows[] = {
		{ "{}", NULL },
		{ "{\"workflows\": null, \"categories\": null,"
		  " \"channel_types\": null, \"channels\": null}", NULL },
		{ "{\"workflows\": {\"new-comment\": {\"channel_types\":"
		  " {\"email\": false, \"sms\": {\"conditions\": []}},"
		  " \"conditions\": [{\"variable\": \"data.x\","
		  " \"operator\": \"exists\"}]}, \"digest\": false},"
		  " \"categories\": {\"marketing\": false, \"comments\":"
		  " {\"channel_types\": {\"push\": true}}, \"ops\": {}},"
		  " \"channel_types\": {\"email\": true, \"sms\": false,"
		  " \"push\": true, \"chat\": {\"conditions\": []},"
		  " \"in_app_feed\": true, \"http\": false},"
		  " \"channels\": {\"ops-hook\": {\"conditions\":"
		  " [{\"variable\": \"data.severity\", \"operator\":"
		  " \"equal_to\", \"argument\": \"critical\"}]},"
		  " \"in-app\": true},"
		  " \"id\": \"default\", \"__typename\": \"PreferenceSet\","
		  " \"__persistence_strategy__\": \"merge\"}", NULL },
		{ "{\"__persistence_strategy__\": \"replace\"}", NULL },
		{ "[]", "preference set: must be an object" },
		{ "{\"topics\": {}}", "topics: unknown key" },
		{ "{\"workflows\": true}", "workflows: must be an object" },
		{ "{\"channel_types\": []}", "channel_types: must be an object" },
		{ "{\"channel_types\": {\"fax\": true}}",
		    "channel_types.fax: unknown channel type" },
		{ "{\"channel_types\": {\"email\": \"no\"}}",
		    "channel_types.email: must be a boolean or an object" },
		{ "{\"channel_types\": {\"email\": {\"conditions\": [],"
		  " \"when\": 1}}}", "channel_types.email.when: unknown key" },
		{ "{\"channel_types\": {\"http\": {\"conditions\":"
		  " [{\"variable\": \"x\", \"operator\": \"exists\"}]}}}",
		    "channel_types.http.conditions[0]: variable \"x\" is not a "
		    "path under data, recipient, actor, tenant or refs" },
		{ "{\"categories\": {\"marketing\": \"off\"}}",
		    "categories.marketing: must be a boolean or an object" },
		{ "{\"categories\": {\"marketing\": null}}",
		    "categories.marketing: must be a boolean or an object" },
		{ "{\"categories\": {\"\": true}}", "categories: empty name" },
		{ "{\"categories\": {\"marketing\": {\"channel_types\":"
		  " {\"log\": false}}}}",
		    "categories.marketing.channel_types.log: unknown channel "
		    "type" },
		{ "{\"categories\": {\"marketing\": {\"channels\": {}}}}",
		    "categories.marketing.channels: unknown key" },
		{ "{\"categories\": {\"marketing\": {\"channel_types\": []}}}",
		    "categories.marketing.channel_types: must be an object" },
		{ "{\"workflows\": {\"new-comment\": {\"channel_types\":"
		  " {\"email\": 0}}}}",
		    "workflows.new-comment.channel_types.email: must be a "
		    "boolean or an object" },
		{ "{\"workflows\": {\"new-comment\": {\"conditions\":"
		  " [{\"variable\": \"data.x\", \"operator\": \"is\"}]}}}",
		    "workflows.new-comment.conditions[0]: unknown operator "
		    "\"is\"" },
		{ "{\"workflows\": {\"w\": {\"conditions\": {}}}}",
		    "workflows.w.conditions: must be an array" },
		{ "{\"workflows\": {\"w\": {\"channel_types\": {\"sms\":"
		  " {\"conditions\": [{\"variable\": \"data.n\", \"operator\":"
		  " \"exists\", \"argument\": 1}]}}}}}",
		    "workflows.w.channel_types.sms.conditions[0]: operator "
		    "\"exists\" takes no argument" },
		{ "{\"channels\": {\"ops-hook\": 1}}",
		    "channels.ops-hook: must be a boolean or an object" },
		{ "{\"channels\": {\"ops-hook\": {\"conditions\":"
		  " [{\"variable\": \"data.n\", \"operator\": \"greater_than\","
		  " \"argument\": \"many\"}]}}}",
		    "channels.ops-hook.conditions[0]: argument of "
		    "\"greater_than\" must be a number or a variable" },
		{ "{\"channels\": {\"ops-hook\": {\"channel_types\": {}}}}",
		    "channels.ops-hook.channel_types: unknown key" },
		{ "{\"__persistence_strategy__\": \"append\"}",
		    "__persistence_strategy__: must be \"merge\" or "
		    "\"replace\"" },
	};

	(void)state;
	check_table(rows, NITEMS(rows), eng_pref_check);
}

/* Merge three sets, highest first, and compare with want. */
static void
merge_expect(const char *hi, const char *mid, const char *lo,
    const char *want)
{
	json_t *sets[3], *got, *w = J(want);
	char *text;
	size_t i;

	sets[0] = hi ? J(hi) : NULL;
	sets[1] = mid ? J(mid) : NULL;
	sets[2] = lo ? J(lo) : NULL;
	got = eng_pref_merge(sets, 3);
	if (!json_equal(got, w)) {
		text = json_dumps(got, JSON_SORT_KEYS);
		fail_msg("merged %s\nwant   %s", text, want);
	}
	json_decref(got);
	json_decref(w);
	for (i = 0; i < 3; i++)
		json_decref(sets[i]);
}

/* Recipient's tenant set beats the tenant default beats the environment. */
static void
test_pref_merge_order(void **state)
{
	static const char *env =
	    "{\"channel_types\": {\"email\": false, \"sms\": false,"
	    " \"push\": false}, \"channels\": {\"ops-hook\": false},"
	    " \"workflows\": {\"digest\": false, \"alert\": false}}";
	static const char *tenant_default =
	    "{\"channel_types\": {\"email\": true, \"sms\": true},"
	    " \"channels\": {\"ops-hook\": true},"
	    " \"workflows\": {\"digest\": true}}";
	static const char *recipient =
	    "{\"channel_types\": {\"email\": false},"
	    " \"workflows\": {\"alert\": true}}";

	(void)state;
	merge_expect(recipient, tenant_default, env,
	    "{\"channel_types\": {\"email\": false, \"sms\": true,"
	    " \"push\": false}, \"channels\": {\"ops-hook\": true},"
	    " \"workflows\": {\"digest\": true, \"alert\": true}}");
	/* The same sets in the opposite priority. */
	merge_expect(env, tenant_default, recipient,
	    "{\"channel_types\": {\"email\": false, \"sms\": false,"
	    " \"push\": false}, \"channels\": {\"ops-hook\": false},"
	    " \"workflows\": {\"digest\": false, \"alert\": false}}");
	/* A missing tenant default or recipient set is skipped. */
	merge_expect(recipient, NULL, env,
	    "{\"channel_types\": {\"email\": false, \"sms\": false,"
	    " \"push\": false}, \"channels\": {\"ops-hook\": false},"
	    " \"workflows\": {\"digest\": false, \"alert\": true}}");
	merge_expect(NULL, NULL, NULL, "{}");
}

/* Category and workflow objects merge deeply; booleans replace. */
static void
test_pref_merge_deep(void **state)
{
	(void)state;
	merge_expect(
	    "{\"categories\": {\"marketing\": {\"conditions\":"
	    " [{\"variable\": \"data.b\", \"operator\": \"exists\"}]}},"
	    " \"workflows\": {\"w\": {\"channel_types\": {\"chat\": false}}}}",
	    "{\"categories\": {\"marketing\": {\"channel_types\":"
	    " {\"sms\": true}}, \"comments\": {\"channel_types\":"
	    " {\"email\": false}}, \"news\": true},"
	    " \"workflows\": {\"w\": {\"channel_types\": {\"email\": true}}}}",
	    "{\"categories\": {\"marketing\": {\"channel_types\":"
	    " {\"email\": false, \"sms\": false}, \"conditions\":"
	    " [{\"variable\": \"data.a\", \"operator\": \"exists\"},"
	    " {\"variable\": \"data.c\", \"operator\": \"exists\"}]},"
	    " \"comments\": false, \"news\": {\"channel_types\":"
	    " {\"push\": false}}},"
	    " \"workflows\": {\"w\": {\"channel_types\": {\"email\": false,"
	    " \"chat\": true}, \"conditions\": []}}}",
	    "{\"categories\": {\"marketing\": {\"channel_types\":"
	    " {\"email\": false, \"sms\": true}, \"conditions\":"
	    " [{\"variable\": \"data.b\", \"operator\": \"exists\"}]},"
	    " \"comments\": {\"channel_types\": {\"email\": false}},"
	    " \"news\": true},"
	    " \"workflows\": {\"w\": {\"channel_types\": {\"email\": true,"
	    " \"chat\": false}, \"conditions\": []}}}");
	/* A higher false replaces a lower object entirely. */
	merge_expect("{\"categories\": {\"marketing\": false}}", NULL,
	    "{\"categories\": {\"marketing\": {\"channel_types\":"
	    " {\"email\": true}}}}",
	    "{\"categories\": {\"marketing\": false}}");
}

/* Merging drops other keys and null sections and leaves inputs alone. */
static void
test_pref_merge_misc(void **state)
{
	static const char *a_text =
	    "{\"id\": \"acme\", \"__typename\": \"PreferenceSet\","
	    " \"categories\": null, \"channel_types\": {\"sms\": false},"
	    " \"workflows\": {\"w\": {\"channel_types\": {\"sms\": true}}}}";
	static const char *b_text =
	    "{\"workflows\": {\"w\": {\"channel_types\": {\"email\": false}}}}";
	json_t *sets[2], *got, *want;

	(void)state;
	sets[0] = J(a_text);
	sets[1] = J(b_text);
	got = eng_pref_merge(sets, 2);
	want = J("{\"channel_types\": {\"sms\": false}, \"workflows\":"
	    " {\"w\": {\"channel_types\": {\"email\": false, \"sms\": true}}}}");
	assert_true(json_equal(got, want));
	json_decref(want);
	/* The merge owns its values: changing it leaves the inputs as were. */
	json_object_set_new(json_object_get(json_object_get(json_object_get(
	    got, "workflows"), "w"), "channel_types"), "push",
	    json_false());
	json_decref(got);
	want = J(a_text);
	assert_true(json_equal(sets[0], want));
	json_decref(want);
	want = J(b_text);
	assert_true(json_equal(sets[1], want));
	json_decref(want);
	json_decref(sets[0]);
	json_decref(sets[1]);
	got = eng_pref_merge(sets, 0);
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);
}

/* One decision: a set, a step, a context and the expected outcome. */
struct decide_row {
	const char *set;        /* JSON, NULL for no set */
	const char *workflow;
	const char *categories; /* JSON array, NULL for none */
	const char *type;
	const char *channel;
	const char *ctx;        /* JSON, NULL for decide_ctx */
	int want;
	const char *rule;
};

static const char *decide_ctx =
    "{\"data\": {\"priority\": \"high\", \"amount\": 150,"
    " \"severity\": \"critical\"},"
    " \"recipient\": {\"id\": \"u1\", \"plan\": \"pro\"}}";

/* Run every decision row. */
static void
decide_table(const struct decide_row *rows, size_t n)
{
	const struct decide_row *r;
	json_t *set, *cats, *ctx;
	char *rule;
	size_t i;
	int got;

	for (i = 0; i < n; i++) {
		r = &rows[i];
		set = r->set ? J(r->set) : NULL;
		cats = r->categories ? J(r->categories) : NULL;
		ctx = J(r->ctx ? r->ctx : decide_ctx);
		rule = NULL;
		got = eng_pref_decide(set, r->workflow, cats, r->type,
		    r->channel, ctx, &rule);
		if (got != r->want || rule == NULL ||
		    strcmp(rule, r->rule) != 0)
			fail_msg("row %zu: got %d \"%s\", want %d \"%s\"", i,
			    got, rule ? rule : "(null)", r->want, r->rule);
		/* The same answer without a rule. */
		assert_int_equal(eng_pref_decide(set, r->workflow, cats,
		    r->type, r->channel, ctx, NULL), r->want);
		free(rule);
		json_decref(set);
		json_decref(cats);
		json_decref(ctx);
	}
}

/* Unset is opted in; the workflow's entry blocks or scopes. */
static void
test_pref_decide_workflow(void **state)
{
	static const struct decide_row rows[] = {
		{ "{}", "new-comment", "[\"comments\"]", "email", "mail",
		    NULL, 1, "opted in (default)" },
		{ NULL, "new-comment", "[\"comments\"]", "email", "mail",
		    NULL, 1, "opted in (default)" },
		{ "{\"workflows\": {\"new-comment\": false}}", "new-comment",
		    NULL, "in_app_feed", "in-app", NULL, 0,
		    "workflows.new-comment=false" },
		{ "{\"workflows\": {\"new-comment\": false}}", "new-comment",
		    NULL, "http", "ops-hook", NULL, 0,
		    "workflows.new-comment=false" },
		{ "{\"workflows\": {\"digest\": false}}", "new-comment",
		    NULL, "email", "mail", NULL, 1, "opted in (default)" },
		{ "{\"workflows\": {\"new-comment\": true}}", "new-comment",
		    NULL, "email", "mail", NULL, 1,
		    "opted in (workflows.new-comment=true)" },
		{ "{\"workflows\": {\"new-comment\": {\"channel_types\":"
		  " {\"in_app_feed\": false}}}}", "new-comment", NULL,
		    "in_app_feed", "in-app", NULL, 0,
		    "workflows.new-comment.channel_types.in_app_feed=false" },
		{ "{\"workflows\": {\"new-comment\": {\"channel_types\":"
		  " {\"in_app_feed\": false}}}}", "new-comment", NULL,
		    "email", "mail", NULL, 1, "opted in (default)" },
		{ "{\"workflows\": {\"new-comment\": {\"conditions\":"
		  " [{\"variable\": \"data.priority\", \"operator\":"
		  " \"equal_to\", \"argument\": \"high\"}]}}}", "new-comment",
		    NULL, "email", "mail", "{\"data\": {\"priority\": \"low\"}}",
		    0, "workflows.new-comment.conditions[0]" },
		{ "{\"workflows\": {\"new-comment\": {\"conditions\":"
		  " [{\"variable\": \"data.priority\", \"operator\":"
		  " \"equal_to\", \"argument\": \"high\"}]}}}", "new-comment",
		    NULL, "email", "mail", NULL, 1,
		    "opted in (workflows.new-comment.conditions)" },
		{ "{\"workflows\": {\"new-comment\": {\"channel_types\":"
		  " {\"email\": {\"conditions\": [{\"variable\":"
		  " \"recipient.plan\", \"operator\": \"equal_to\","
		  " \"argument\": \"pro\"}]}}}}}", "new-comment", NULL,
		    "email", "mail", "{\"recipient\": {\"plan\": \"free\"}}",
		    0, "workflows.new-comment.channel_types.email.conditions[0]" },
		/* The workflow is consulted before its categories. */
		{ "{\"workflows\": {\"new-comment\": false},"
		  " \"categories\": {\"comments\": false}}", "new-comment",
		    "[\"comments\"]", "email", "mail", NULL, 0,
		    "workflows.new-comment=false" },
	};

	(void)state;
	decide_table(rows, NITEMS(rows));
}

/* Any false category blocks; category objects scope by channel type. */
static void
test_pref_decide_categories(void **state)
{
	static const struct decide_row rows[] = {
		{ "{\"categories\": {\"marketing\": false}}", "promo",
		    "[\"marketing\"]", "email", "mail", NULL, 0,
		    "categories.marketing=false" },
		{ "{\"categories\": {\"marketing\": false, \"comments\":"
		  " true}}", "promo", "[\"comments\", \"marketing\"]",
		    "email", "mail", NULL, 0, "categories.marketing=false" },
		{ "{\"categories\": {\"marketing\": false}}", "new-comment",
		    "[\"comments\"]", "email", "mail", NULL, 1,
		    "opted in (default)" },
		{ "{\"categories\": {\"marketing\": false}}", "promo", NULL,
		    "email", "mail", NULL, 1, "opted in (default)" },
		{ "{\"categories\": {\"comments\": true}}", "new-comment",
		    "[\"comments\", 7]", "email", "mail", NULL, 1,
		    "opted in (categories.comments=true)" },
		{ "{\"categories\": {\"comments\": {\"channel_types\":"
		  " {\"email\": false}}}}", "new-comment", "[\"comments\"]",
		    "email", "mail", NULL, 0,
		    "categories.comments.channel_types.email=false" },
		{ "{\"categories\": {\"comments\": {\"channel_types\":"
		  " {\"email\": false}}}}", "new-comment", "[\"comments\"]",
		    "in_app_feed", "in-app", NULL, 1, "opted in (default)" },
		{ "{\"categories\": {\"comments\": {\"conditions\":"
		  " [{\"variable\": \"data.amount\", \"operator\":"
		  " \"greater_than\", \"argument\": 100}]}}}", "new-comment",
		    "[\"comments\"]", "email", "mail",
		    "{\"data\": {\"amount\": 50}}", 0,
		    "categories.comments.conditions[0]" },
		{ "{\"categories\": {\"comments\": {\"conditions\":"
		  " [{\"variable\": \"data.amount\", \"operator\":"
		  " \"greater_than\", \"argument\": 100}]}}}", "new-comment",
		    "[\"comments\"]", "email", "mail", NULL, 1,
		    "opted in (categories.comments.conditions)" },
		{ "{\"categories\": {\"comments\": {\"channel_types\":"
		  " {\"sms\": {\"conditions\": [{\"variable\": \"data.x\","
		  " \"operator\": \"exists\"}]}}}}}", "new-comment",
		    "[\"comments\"]", "sms", "texts", NULL, 0,
		    "categories.comments.channel_types.sms.conditions[0]" },
	};

	(void)state;
	decide_table(rows, NITEMS(rows));
}

/* Channel types block or require their conditions; ANDed conditions. */
static void
test_pref_decide_channel_types(void **state)
{
	static const struct decide_row rows[] = {
		{ "{\"channel_types\": {\"email\": false}}", "w", NULL,
		    "email", "mail", NULL, 0, "channel_types.email=false" },
		{ "{\"channel_types\": {\"email\": false}}", "w", NULL,
		    "sms", "texts", NULL, 1, "opted in (default)" },
		{ "{\"channel_types\": {\"email\": true}}", "w", NULL,
		    "email", "mail", NULL, 1,
		    "opted in (channel_types.email=true)" },
		{ "{\"channel_types\": {\"sms\": {\"conditions\":"
		  " [{\"variable\": \"recipient.phone_number\", \"operator\":"
		  " \"exists\"}]}}}", "w", NULL, "sms", "texts", NULL, 0,
		    "channel_types.sms.conditions[0]" },
		{ "{\"channel_types\": {\"sms\": {\"conditions\":"
		  " [{\"variable\": \"recipient.phone_number\", \"operator\":"
		  " \"exists\"}]}}}", "w", NULL, "sms", "texts",
		    "{\"recipient\": {\"phone_number\": \"+15550100\"}}", 1,
		    "opted in (channel_types.sms.conditions)" },
		{ "{\"channel_types\": {\"sms\": {\"conditions\":"
		  " [{\"variable\": \"recipient.plan\", \"operator\":"
		  " \"exists\"}, {\"variable\": \"recipient.plan\","
		  " \"operator\": \"equal_to\", \"argument\":"
		  " \"enterprise\"}]}}}", "w", NULL, "sms", "texts", NULL, 0,
		    "channel_types.sms.conditions[1]" },
		{ "{\"channel_types\": {\"chat\": {\"conditions\": []}}}", "w",
		    NULL, "chat", "slack", NULL, 1,
		    "opted in (channel_types.chat)" },
		/* Unchecked, malformed values count as unset. */
		{ "{\"channel_types\": {\"email\": \"no\"}, \"categories\":"
		  " {\"comments\": 0}, \"workflows\": {\"w\": {\"conditions\":"
		  " \"always\"}}}", "w", "[\"comments\"]", "email", "mail",
		    NULL, 1, "opted in (default)" },
		/* Absent keys: nothing applies. */
		{ "{\"workflows\": {\"w\": false}, \"channel_types\":"
		  " {\"email\": false}, \"channels\": {\"mail\": false}}",
		    NULL, NULL, NULL, NULL, NULL, 1, "opted in (default)" },
		{ "{\"channel_types\": {\"email\": false}}", "w", NULL,
		    "email", NULL, NULL, 0, "channel_types.email=false" },
	};

	(void)state;
	decide_table(rows, NITEMS(rows));
}

/* A channel entry beats its channel type, but not workflows or categories. */
static void
test_pref_decide_channels(void **state)
{
	static const struct decide_row rows[] = {
		{ "{\"channel_types\": {\"http\": false}, \"channels\":"
		  " {\"ops-hook\": true}}", "alert", NULL, "http", "ops-hook",
		    NULL, 1, "opted in (channels.ops-hook=true)" },
		{ "{\"channel_types\": {\"http\": false}, \"channels\":"
		  " {\"ops-hook\": true}}", "alert", NULL, "http",
		    "other-hook", NULL, 0, "channel_types.http=false" },
		{ "{\"channel_types\": {\"http\": true}, \"channels\":"
		  " {\"ops-hook\": false}}", "alert", NULL, "http", "ops-hook",
		    NULL, 0, "channels.ops-hook=false" },
		{ "{\"channel_types\": {\"http\": false}, \"channels\":"
		  " {\"ops-hook\": {\"conditions\": [{\"variable\":"
		  " \"data.severity\", \"operator\": \"equal_to\","
		  " \"argument\": \"critical\"}]}}}", "alert", NULL, "http",
		    "ops-hook", NULL, 1,
		    "opted in (channels.ops-hook.conditions)" },
		{ "{\"channel_types\": {\"http\": true}, \"channels\":"
		  " {\"ops-hook\": {\"conditions\": [{\"variable\":"
		  " \"data.severity\", \"operator\": \"equal_to\","
		  " \"argument\": \"critical\"}]}}}", "alert", NULL, "http",
		    "ops-hook", "{\"data\": {\"severity\": \"info\"}}", 0,
		    "channels.ops-hook.conditions[0]" },
		{ "{\"channel_types\": {\"http\": false}, \"channels\":"
		  " {\"ops-hook\": {}}}", "alert", NULL, "http", "ops-hook",
		    NULL, 1, "opted in (channels.ops-hook)" },
		{ "{\"categories\": {\"ops\": false}, \"channels\":"
		  " {\"ops-hook\": true}}", "alert", "[\"ops\"]", "http",
		    "ops-hook", NULL, 0, "categories.ops=false" },
		{ "{\"workflows\": {\"alert\": {\"channel_types\":"
		  " {\"http\": false}}}, \"channels\": {\"ops-hook\": true}}",
		    "alert", NULL, "http", "ops-hook", NULL, 0,
		    "workflows.alert.channel_types.http=false" },
		{ "{\"workflows\": {\"alert\": false}, \"channels\":"
		  " {\"ops-hook\": true}}", "alert", NULL, "http", "ops-hook",
		    NULL, 0, "workflows.alert=false" },
		/* The last rule that allowed is named. */
		{ "{\"workflows\": {\"alert\": true}, \"categories\":"
		  " {\"ops\": true}, \"channel_types\": {\"http\": true}}",
		    "alert", "[\"ops\"]", "http", "ops-hook", NULL, 1,
		    "opted in (channel_types.http=true)" },
	};

	(void)state;
	decide_table(rows, NITEMS(rows));
}

/* The decision on a merged set follows the priority of the sets. */
static void
test_pref_merge_then_decide(void **state)
{
	json_t *sets[3], *merged, *cats = J("[\"comments\"]");
	char *rule = NULL;

	(void)state;
	sets[0] = J("{\"categories\": {\"comments\": true}}");
	sets[1] = J("{\"categories\": {\"comments\": false}}");
	sets[2] = J("{\"channel_types\": {\"in_app_feed\": false}}");
	merged = eng_pref_merge(sets, 3);
	/* The recipient's true beats the tenant's false; env still blocks. */
	assert_int_equal(eng_pref_decide(merged, "new-comment", cats,
	    "in_app_feed", "in-app", NULL, &rule), 0);
	assert_string_equal(rule, "channel_types.in_app_feed=false");
	free(rule);
	assert_int_equal(eng_pref_decide(merged, "new-comment", cats,
	    "email", "mail", NULL, &rule), 1);
	assert_string_equal(rule, "opted in (categories.comments=true)");
	free(rule);
	json_decref(merged);

	/* Without the recipient's set, the tenant default blocks. */
	merged = eng_pref_merge(sets + 1, 2);
	assert_int_equal(eng_pref_decide(merged, "new-comment", cats,
	    "email", "mail", NULL, &rule), 0);
	assert_string_equal(rule, "categories.comments=false");
	free(rule);
	json_decref(merged);

	/* A recipient's channel entry beats the environment's type. */
	json_decref(sets[0]);
	sets[0] = J("{\"channels\": {\"in-app\": true}}");
	json_decref(sets[1]);
	sets[1] = NULL;
	merged = eng_pref_merge(sets, 3);
	assert_int_equal(eng_pref_decide(merged, "new-comment", cats,
	    "in_app_feed", "in-app", NULL, &rule), 1);
	assert_string_equal(rule, "opted in (channels.in-app=true)");
	free(rule);
	json_decref(merged);

	json_decref(sets[0]);
	json_decref(sets[2]);
	json_decref(cats);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cond_equal_to),
		cmocka_unit_test(test_cond_not_equal_to),
		cmocka_unit_test(test_cond_ordering),
		cmocka_unit_test(test_cond_contains),
		cmocka_unit_test(test_cond_exists),
		cmocka_unit_test(test_cond_timestamps),
		cmocka_unit_test(test_cond_empty),
		cmocka_unit_test(test_cond_references),
		cmocka_unit_test(test_cond_and),
		cmocka_unit_test(test_cond_null_ctx),
		cmocka_unit_test(test_cond_malformed_eval),
		cmocka_unit_test(test_cond_audience),
		cmocka_unit_test(test_cond_check),
		cmocka_unit_test(test_pref_check),
		cmocka_unit_test(test_pref_merge_order),
		cmocka_unit_test(test_pref_merge_deep),
		cmocka_unit_test(test_pref_merge_misc),
		cmocka_unit_test(test_pref_decide_workflow),
		cmocka_unit_test(test_pref_decide_categories),
		cmocka_unit_test(test_pref_decide_channel_types),
		cmocka_unit_test(test_pref_decide_channels),
		cmocka_unit_test(test_pref_merge_then_decide),
	};

	return cmocka_run_group_tests_name("preferences", tests, NULL, NULL);
}
