/*
 * engine/template.c: paths, filters, value rendering, JSON-mode escaping,
 * syntax errors with their byte offsets, the limits, and a seeded fuzz
 * run.  Expected strings are written out by hand.
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
#include "engine/workflow/template.h"

/* The context most cases render against. */
static const char *ctx_text =
    "{"
    "\"actor\": {\"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\"},"
    "\"recipient\": {\"id\": \"u1\","
    "  \"subscription\": {\"properties\": {\"role\": \"admin\"}}},"
    "\"activities\": [{\"data\": {\"x\": \"first\"}},"
    "  {\"data\": {\"x\": \"second\"}}],"
    "\"total_activities\": 2,"
    "\"phrase\": \"Ground control to Major Tom.\","
    "\"data\": {"
    "  \"comment_id\": \"c_123\", \"count\": 3, \"neg\": -7,"
    "  \"ratio\": 1.5, \"tenth\": 0.1, \"whole\": 2.0, \"big\": 1e20,"
    "  \"sum\": 0.30000000000000004,"
    "  \"ok\": true, \"no\": false, \"nothing\": null, \"blank\": \"\","
    "  \"items\": [\"a\", \"b\", \"c\"], \"empty\": [], \"none\": {},"
    "  \"obj\": {\"a\": 1, \"b\": [true, null], \"c\": \"q\\\"\"},"
    "  \"tags\": [\"x\", 1, 2.5, null, false],"
    "  \"nested\": [[1, 2], [3]],"
    "  \"word\": \"h\\u00e9llo\","
    "  \"sized\": {\"size\": \"custom\", \"x\": 1},"
    "  \"weird-key$\": \"w\", \"with space\": \"sp\", \"a.b\": \"dot\","
    "  \"html\": \"<b>\""
    "}}";

/* Parse the shared context. */
static int
setup(void **state)
{
	json_error_t err;
	json_t *ctx;

	if ((ctx = json_loads(ctx_text, 0, &err)) == NULL) {
		fprintf(stderr, "context: %s (line %d)\n", err.text, err.line);
		return -1;
	}
	*state = ctx;
	return 0;
}

/* Release the shared context. */
static int
teardown(void **state)
{
	json_decref(*state);
	return 0;
}

/* One rendering case: template and expected output. */
struct render_case {
	const char *tpl;
	const char *expect;
};

/*
 * Render every case in mode and compare, naming the template on failure;
 * each parsed once and rendered twice (as a workflow step's template is,
 * once per recipient) must give the same text.
 */
static void
run_cases(json_t *ctx, const struct render_case *c, size_t n,
    enum eng_template_mode mode)
{
	struct eng_template *t;
	char *cause, *out, *again;
	size_t i;
	int bad = 0, k;

	for (i = 0; i < n; i++) {
		cause = NULL;
		out = eng_template_render(c[i].tpl, ctx, mode, &cause);
		if (out == NULL) {
			print_error("%s: failed: %s\n", c[i].tpl, cause);
			bad++;
		} else if (strcmp(out, c[i].expect) != 0) {
			print_error("%s: got <%s>, want <%s>\n", c[i].tpl, out,
			    c[i].expect);
			bad++;
		}
		assert_int_equal(eng_template_check(c[i].tpl, NULL), 0);
		t = eng_template_parse(c[i].tpl, NULL);
		assert_non_null(t);
		for (k = 0; k < 2; k++) {
			again = eng_template_run(t, ctx, mode);
			if (strcmp(again, c[i].expect) != 0) {
				print_error("%s: parsed once, render %d: got "
				    "<%s>\n", c[i].tpl, k + 1, again);
				bad++;
			}
			free(again);
		}
		eng_template_free(t);
		free(out);
		free(cause);
	}
	assert_int_equal(bad, 0);
}

/* Render one template in text mode (it must parse). */
static char *
render(json_t *ctx, const char *tpl, enum eng_template_mode mode)
{
	char *cause = NULL, *out;

	out = eng_template_render(tpl, ctx, mode, &cause);
	if (out == NULL)
		print_error("%s: %s\n", tpl, cause);
	assert_non_null(out);
	return out;
}

/* Paths: keys, nesting, indexes, quoted keys, size. */
static void
test_paths(void **state)
{
	static const struct render_case c[] = {
		{ "Hello {{ actor.name }}!", "Hello Ada Lovelace!" },
		{ "{{actor.name}}", "Ada Lovelace" },
		{ "{{ \t\n actor.name \r\n }}", "Ada Lovelace" },
		{ "{{ data.comment_id }}", "c_123" },
		{ "{{ recipient.subscription.properties.role }}", "admin" },
		{ "{{ activities[0].data.x }}", "first" },
		{ "{{ activities[ 1 ].data.x }}", "second" },
		{ "{{ activities[-1].data.x }}", "second" },
		{ "{{ activities[-2].data.x }}", "first" },
		{ "{{ activities[2].data.x }}|{{ activities[-3] }}", "|" },
		{ "{{ activities[99999999999999999999999] }}", "" },
		{ "{{ data[\"with space\"] }}{{ data['a.b'] }}", "spdot" },
		{ "{{ [\"data\"].comment_id }}", "c_123" },
		{ "{{ data.weird-key$ }}", "w" },
		{ "{{ data.items.size }}", "3" },
		{ "{{ data.empty.size }}", "0" },
		{ "{{ data.obj.size }}", "3" },
		{ "{{ data.word.size }}", "5" },
		{ "{{ actor.name.size }}", "12" },
		{ "{{ data.sized.size }}", "custom" },
		{ "{{ data.sized[\"size\"] }}", "custom" },
		{ "[{{ data.obj[\"size\"] }}]", "[]" },
		{ "[{{ data.count.size }}][{{ size }}]", "[][]" },
		{ "[{{ data.items.size.x }}]", "[]" },
		{ "[{{ nope }}][{{ data.nope.deeper }}][{{ data.nothing }}]",
		    "[][][]" },
		{ "[{{ data.items.x }}][{{ data.comment_id.x }}]", "[][]" },
		{ "[{{ data[0] }}][{{ data.items[\"0\"] }}]", "[][]" },
		{ "[{{ data.items[1] }}]", "[b]" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_TEXT);
}

/* Values: strings raw, numbers as JSON, booleans, containers compact. */
static void
test_values(void **state)
{
	static const struct render_case c[] = {
		{ "{{ data.count }}", "3" },
		{ "{{ data.neg }}", "-7" },
		{ "{{ data.ratio }}", "1.5" },
		{ "{{ data.tenth }}", "0.1" },
		{ "{{ data.whole }}", "2.0" },
		{ "{{ data.big }}", "1e+20" },
		{ "{{ data.sum }}", "0.30000000000000004" },
		{ "{{ data.ok }}/{{ data.no }}", "true/false" },
		{ "[{{ data.nothing }}]", "[]" },
		{ "{{ data.items }}", "[\"a\",\"b\",\"c\"]" },
		{ "{{ data.empty }}{{ data.none }}", "[]{}" },
		{ "{{ data.obj }}", "{\"a\":1,\"b\":[true,null],\"c\":\"q\\\"\"}" },
		{ "{{ data.tags }}", "[\"x\",1,2.5,null,false]" },
		{ "{{ data.nested }}", "[[1,2],[3]]" },
		{ "{{ data.html }}", "<b>" },
		{ "{{ data.word }}", "h\xc3\xa9llo" },
		{ "", "" },
		{ "no expressions", "no expressions" },
		{ "a } b }} c { d {x} {", "a } b }} c { d {x} {" },
		{ "{{ data.count }}{{ data.count }}", "33" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_TEXT);
}

/* default: replaces missing, null, false and empty values only. */
static void
test_filter_default(void **state)
{
	static const struct render_case c[] = {
		{ "{{ data.nope | default: \"fallback\" }}", "fallback" },
		{ "{{ data.nothing | default: \"fallback\" }}", "fallback" },
		{ "{{ data.blank | default: 'single' }}", "single" },
		{ "{{ data.no | default: \"f\" }}", "f" },
		{ "{{ data.empty | default: \"e\" }}", "e" },
		{ "{{ data.none | default: \"e\" }}", "e" },
		{ "{{ data.count | default: \"f\" }}", "3" },
		{ "{{ data.ok | default: \"f\" }}", "true" },
		{ "{{ actor.name | default: \"f\" }}", "Ada Lovelace" },
		{ "{{ nope | default: 0 }}", "0" },
		{ "{{ nope | default: -2.5 }}", "-2.5" },
		{ "{{ nope | default: actor.email }}", "ada@example.com" },
		{ "{{ nope | default: data.items[1] }}", "b" },
		{ "[{{ nope | default: also.missing }}]", "[]" },
		{ "{{ nope | default: \"\" | default: \"second\" }}", "second" },
		{ "{{ nope|default:\"tight\" }}", "tight" },
		{ "{{ nope | default: \"a }} b\" }}", "a }} b" },
		{ "{{ nope | default: \"it's\" }}", "it's" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_TEXT);
}

/* upcase, downcase (ASCII letters only), json and size. */
static void
test_filter_case_json_size(void **state)
{
	static const struct render_case c[] = {
		{ "{{ actor.name | upcase }}", "ADA LOVELACE" },
		{ "{{ actor.name | downcase }}", "ada lovelace" },
		{ "{{ data.word | upcase }}", "H\xc3\xa9LLO" },
		{ "{{ data.ok | upcase }}", "TRUE" },
		{ "{{ data.items | upcase }}", "[\"A\",\"B\",\"C\"]" },
		{ "[{{ nope | upcase }}]", "[]" },
		{ "{{ actor.name | json }}", "\"Ada Lovelace\"" },
		{ "{{ data.count | json }}", "3" },
		{ "{{ data.ratio | json }}", "1.5" },
		{ "{{ data.nothing | json }}|{{ nope | json }}", "null|null" },
		{ "{{ data.ok | json }}", "true" },
		{ "{{ data.obj | json }}",
		    "{\"a\":1,\"b\":[true,null],\"c\":\"q\\\"\"}" },
		{ "{{ data.word | json }}", "\"h\xc3\xa9llo\"" },
		{ "{{ nope | default: 5 | json }}", "5" },
		{ "{{ nope | default: \"5\" | json }}", "\"5\"" },
		{ "{{ actor.name | json | json }}", "\"\\\"Ada Lovelace\\\"\"" },
		{ "{{ data.items | size }}", "3" },
		{ "{{ data.word | size }}", "5" },
		{ "{{ data.sized | size }}", "2" },
		{ "{{ nope | size }}|{{ data.count | size }}", "0|0" },
		{ "{{ data.items | size | json }}", "3" },
		{ "{{ data.items | join | size }}", "5" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_TEXT);
}

/* truncate: Liquid's rule, counting characters, ellipsis included. */
static void
test_filter_truncate(void **state)
{
	static const struct render_case c[] = {
		{ "{{ phrase | truncate: 20 }}", "Ground control to..." },
		{ "{{ phrase | truncate: 25, \"!!!\" }}",
		    "Ground control to Majo!!!" },
		{ "{{ phrase | truncate: 25, \", and so on\" }}",
		    "Ground control, and so on" },
		{ "{{ phrase | truncate: 20, \"\" }}", "Ground control to Ma" },
		{ "{{ actor.name | truncate: 12 }}", "Ada Lovelace" },
		{ "{{ actor.name | truncate: 11 }}", "Ada Love..." },
		{ "{{ actor.name | truncate: 5 }}", "Ad..." },
		{ "{{ actor.name | truncate: 2 }}", "..." },
		{ "{{ actor.name | truncate: 0 }}", "..." },
		{ "{{ actor.name | truncate: 6, \"\xe2\x80\xa6\" }}",
		    "Ada L\xe2\x80\xa6" },
		{ "{{ data.word | truncate: 4 }}", "h..." },
		{ "{{ data.word | truncate: 3, \"\" }}", "h\xc3\xa9l" },
		{ "{{ data.word | truncate: 5 }}", "h\xc3\xa9llo" },
		{ "{{ data.count | truncate: 0, \"\" }}", "" },
		{ "{{ data.items | truncate: 6 }}", "[\"a..." },
		{ "{{ actor.name | truncate: 99999999999999999999999 }}",
		    "Ada Lovelace" },
		{ "{{ actor.name | truncate: 4, actor.email }}",
		    "ada@example.com" },
		{ "[{{ nope | truncate: 3 }}]", "[]" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_TEXT);
}

/* join: array elements rendered as values, between separators. */
static void
test_filter_join(void **state)
{
	static const struct render_case c[] = {
		{ "{{ data.items | join: \", \" }}", "a, b, c" },
		{ "{{ data.items | join }}", "a b c" },
		{ "{{ data.items | join: \"\" }}", "abc" },
		{ "{{ data.tags | join: \"-\" }}", "x-1-2.5--false" },
		{ "{{ data.nested | join: \";\" }}", "[1,2];[3]" },
		{ "[{{ data.empty | join: \",\" }}]", "[]" },
		{ "{{ actor.name | join: \",\" }}", "Ada Lovelace" },
		{ "[{{ nope | join: \",\" }}]", "[]" },
		{ "{{ data.items | join: actor.name }}",
		    "aAda LovelacebAda Lovelacec" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_TEXT);
}

/* Filters chain left to right. */
static void
test_filter_chains(void **state)
{
	static const struct render_case c[] = {
		{ "{{ nope | default: \"anonymous\" | upcase | truncate: 4, "
		  "\"\" }}", "ANON" },
		{ "{{ data.items | join: \", \" | upcase }}", "A, B, C" },
		{ "{{ actor.name | upcase | json }}", "\"ADA LOVELACE\"" },
		{ "{{ actor.name | downcase | truncate: 7 | upcase }}",
		    "ADA ..." },
		{ "{{ data.obj | json | size }}", "33" },
		{ "{{ data.items|join:\"+\"|default:\"x\" }}", "a+b+c" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_TEXT);
}

/* A NULL or non-object context renders every variable empty. */
static void
test_no_context(void **state)
{
	json_t *arr = json_pack("[s]", "zero");
	char *out;

	(void)state;
	out = render(NULL, "[{{ a.b }}|{{ a | default: \"d\" }}]",
	    ENG_TEMPLATE_TEXT);
	assert_string_equal(out, "[|d]");
	free(out);
	out = render(arr, "[{{ a }}]", ENG_TEMPLATE_TEXT);
	assert_string_equal(out, "[]");
	free(out);
	json_decref(arr);
}

/* JSON mode: values escaped as string contents, literal text untouched. */
static void
test_json_mode(void **state)
{
	static const struct render_case c[] = {
		{ "{\"comment\": \"{{ data.comment_id }}\", "
		  "\"n\": {{ total_activities }}}",
		    "{\"comment\": \"c_123\", \"n\": 2}" },
		{ "{\"o\": \"{{ data.obj }}\"}",
		    "{\"o\": \"{\\\"a\\\":1,\\\"b\\\":[true,null],"
		    "\\\"c\\\":\\\"q\\\\\\\"\\\"}\"}" },
		{ "{\"j\": \"{{ actor.name | json }}\"}",
		    "{\"j\": \"\\\"Ada Lovelace\\\"\"}" },
		{ "{\"w\": \"{{ data.word }}\"}", "{\"w\": \"h\xc3\xa9llo\"}" },
		{ "{\"r\": {{ data.ratio }}, \"b\": {{ data.ok }}}",
		    "{\"r\": 1.5, \"b\": true}" },
		{ "{\"e\": \"{{ nope }}\"}", "{\"e\": \"\"}" },
		{ "[\"{{ data.items | join: '\", \"' }}\"]",
		    "[\"a\\\", \\\"b\\\", \\\"c\"]" },
	};

	run_cases(*state, c, sizeof c / sizeof c[0], ENG_TEMPLATE_JSON);
}

/* JSON mode with hostile data: the output parses and reads back exactly. */
static void
test_json_mode_hostile(void **state)
{
	static const char evil[] = "a\"}\n\\\x01</script>\", \"x\": \"";
	const char *tpl = "{\"v\": \"{{ evil }}\", \"o\": \"{{ obj }}\", "
	    "\"j\": \"{{ evil | json }}\", \"u\": \"{{ evil | upcase }}\", "
	    "\"k\": \"{{ obj | join }}\"}";
	json_t *ctx, *doc, *o;
	json_error_t err;
	char *out;

	(void)state;
	ctx = json_pack("{s:s, s:{s:s, s:[s]}}", "evil", evil, "obj", "k\"}",
	    "v\n", "arr", "\"]");
	out = render(ctx, "{{ evil }}", ENG_TEMPLATE_JSON);
	assert_string_equal(out,
	    "a\\\"}\\n\\\\\\u0001</script>\\\", \\\"x\\\": \\\"");
	free(out);
	out = render(ctx, "{{ evil }}", ENG_TEMPLATE_TEXT);
	assert_string_equal(out, evil);
	free(out);

	out = render(ctx, tpl, ENG_TEMPLATE_JSON);
	doc = json_loads(out, 0, &err);
	if (doc == NULL)
		print_error("%s: %s\n", out, err.text);
	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), 5);
	assert_string_equal(json_string_value(json_object_get(doc, "v")),
	    evil);
	assert_string_equal(json_string_value(json_object_get(doc, "u")),
	    "A\"}\n\\\x01</SCRIPT>\", \"X\": \"");
	assert_string_equal(json_string_value(json_object_get(doc, "o")),
	    "{\"k\\\"}\":\"v\\n\",\"arr\":[\"\\\"]\"]}");
	o = json_loads(json_string_value(json_object_get(doc, "o")), 0, &err);
	assert_non_null(o);
	assert_true(json_equal(o, json_object_get(ctx, "obj")));
	json_decref(o);
	o = json_loads(json_string_value(json_object_get(doc, "j")),
	    JSON_DECODE_ANY, &err);
	assert_non_null(o);
	assert_string_equal(json_string_value(o), evil);
	json_decref(o);
	json_decref(doc);
	free(out);
	json_decref(ctx);
}

/* Bytes jansson would not produce still come out as valid text or JSON. */
static void
test_bad_bytes(void **state)
{
	json_t *ctx;
	char *out;

	(void)state;
	ctx = json_object();
	json_object_set_new(ctx, "bad", json_stringn_nocheck("a\xff" "b\xc3",
	    4));
	json_object_set_new(ctx, "nul", json_stringn("a\0b", 3));
	json_object_set_new(ctx, "ctl", json_string("\x1f\x7f\t"));
	out = render(ctx, "{{ bad }}|{{ nul }}|{{ ctl }}", ENG_TEMPLATE_JSON);
	assert_string_equal(out,
	    "a\\ufffdb\\ufffd|a\\u0000b|\\u001f\x7f\\t");
	free(out);
	/* Text mode passes bytes through but drops NULs, which would cut it. */
	out = render(ctx, "{{ bad }}|{{ nul }}|{{ nul | json }}",
	    ENG_TEMPLATE_TEXT);
	assert_string_equal(out, "a\xff" "b\xc3|ab|\"a\\u0000b\"");
	free(out);
	json_decref(ctx);
}

/* One syntax error case: template, expected message part, byte offset. */
struct error_case {
	const char *tpl;
	const char *msg;
	size_t at;
};

/* Syntax errors name the problem and its byte offset, in check and render. */
static void
test_errors(void **state)
{
	static const struct error_case c[] = {
		{ "Hi {{ actor.name", "unclosed \"{{\"", 3 },
		{ "Hi {{ actor.name }", "unclosed \"{{\"", 3 },
		{ "{{", "unclosed \"{{\"", 0 },
		{ "ok {{ a }} {{ b", "unclosed \"{{\"", 11 },
		{ "{{ x | default: \"}}\"", "unclosed \"{{\"", 0 },
		{ "{% if x %}yes{% endif %}", "tags are not supported", 0 },
		{ "ok {%", "tags are not supported", 3 },
		{ "{{ x | default: \"{%\" }}", "tags are not supported", 17 },
		{ "{{ x | frobnicate }}", "unknown filter \"frobnicate\"", 7 },
		{ "{{ x | Upcase }}", "unknown filter \"Upcase\"", 7 },
		{ "{{ }}", "expected a variable", 3 },
		{ "{{ | upcase }}", "expected a variable", 3 },
		{ "{{ .x }}", "expected a variable", 3 },
		{ "{{ {{ x }}", "expected a variable", 3 },
		{ "{{ x y }}", "unexpected 'y'", 5 },
		{ "{{ x }y }}", "unexpected '}'", 5 },
		{ "{{ x\x01 }}", "unexpected byte 0x01", 4 },
		{ "{{ x. }}", "expected a key after \".\"", 5 },
		{ "{{ x..y }}", "expected a key after \".\"", 5 },
		{ "{{ x[ }}", "expected an index or a quoted key", 6 },
		{ "{{ x[1 }}", "expected \"]\"", 7 },
		{ "{{ x[-] }}", "expected an index", 6 },
		{ "{{ x[\"a ]}}", "unterminated string", 5 },
		{ "{{ x | }}", "expected a filter name", 7 },
		{ "{{ x | default }}", "default takes one argument", 7 },
		{ "{{ x | default: }}", "expected an argument", 16 },
		{ "{{ x | default: \"a\", \"b\" }}",
		    "default takes one argument", 7 },
		{ "{{ x | upcase: 1 }}", "upcase takes no arguments", 7 },
		{ "{{ x | json: 1 }}", "json takes no arguments", 7 },
		{ "{{ x | size: 1 }}", "size takes no arguments", 7 },
		{ "{{ x | join: \",\", \"y\" }}", "join takes at most one", 7 },
		{ "{{ x | truncate }}", "truncate takes a length", 7 },
		{ "{{ x | truncate: 1, \"a\", \"b\" }}",
		    "truncate takes a length", 7 },
		{ "{{ x | truncate: \"5\" }}", "truncate needs a length", 17 },
		{ "{{ x | truncate: -1 }}", "truncate needs a length", 17 },
		{ "{{ x | truncate: 1.5 }}", "truncate needs a length", 17 },
		{ "{{ x | truncate: y }}", "truncate needs a length", 17 },
		{ "{{ x | default: 05 }}", "bad number", 16 },
		{ "{{ x | default: 1. }}", "bad number", 16 },
		{ "{{ x | default: 1x }}", "bad number", 16 },
		{ "{{ x | default: - }}", "bad number", 16 },
		{ "{{ x | default: \"a\" \"b\" }}", "unexpected '\"'", 20 },
		{ "{{- x }}", "whitespace control", 2 },
		{ "{{ x -}}", "whitespace control", 5 },
		{ "{{ x - }}", "unexpected '-'", 5 },
	};
	char *cause, *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		want = xasprintf("at byte %zu", c[i].at);
		cause = NULL;
		assert_int_equal(eng_template_check(c[i].tpl, &cause), -1);
		assert_non_null(cause);
		if (strstr(cause, c[i].msg) == NULL ||
		    strstr(cause, want) == NULL)
			fail_msg("%s: got \"%s\", want \"%s\" %s", c[i].tpl,
			    cause, c[i].msg, want);
		assert_true(strncmp(cause, "template: ", 10) == 0);
		free(cause);
		cause = NULL;
		assert_null(eng_template_render(c[i].tpl, *state,
		    ENG_TEMPLATE_TEXT, &cause));
		assert_non_null(strstr(cause, c[i].msg));
		free(cause);
		/* A NULL cause is allowed. */
		assert_int_equal(eng_template_check(c[i].tpl, NULL), -1);
		assert_null(eng_template_parse(c[i].tpl, NULL));
		assert_null(eng_template_render(c[i].tpl, *state,
		    ENG_TEMPLATE_JSON, NULL));
		free(want);
	}
	cause = NULL;
	assert_int_equal(eng_template_check(NULL, &cause), -1);
	assert_non_null(cause);
	free(cause);
}

/* Valid templates pass the check. */
static void
test_check_ok(void **state)
{
	static const char *ok[] = { "", "plain text", "{ } }} {x}",
		"{{ a }}{{ b | default: 'x' | upcase }}",
		("{{ a.b[0][\"c d\"][-1].size | join: \", \" | truncate: 10, "
		"'..' | json }}"),
		"{{ x | default: -1.25 }}", "{{ x | default: 0 }}",
		"{{ $weird-key_1 }}", "{{ caf\xc3\xa9 }}", "trailing {" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(eng_template_check(ok[i], NULL), 0);
}

/* 10,000 expressions are allowed, one more is an error at its offset. */
static void
test_expression_limit(void **state)
{
	size_t i, n = ENG_TEMPLATE_MAX_EXPRS;
	char *tpl, *out, *cause = NULL;

	tpl = xmalloc(5 * (n + 1) + 1);
	for (i = 0; i < n + 1; i++)
		memcpy(tpl + 5 * i, "{{a}}", 5);
	tpl[5 * n] = '\0';
	assert_int_equal(eng_template_check(tpl, NULL), 0);
	out = render(*state, tpl, ENG_TEMPLATE_TEXT);
	assert_string_equal(out, "");
	free(out);
	tpl[5 * n] = '{';
	tpl[5 * (n + 1)] = '\0';
	assert_int_equal(eng_template_check(tpl, &cause), -1);
	assert_string_equal(cause,
	    "template: more than 10000 expressions at byte 50000");
	free(cause);
	free(tpl);
}

/* A template longer than the output limit is refused. */
static void
test_template_size_limit(void **state)
{
	size_t n = ENG_TEMPLATE_MAX_SIZE;
	char *tpl, *out, *cause = NULL;

	tpl = xmalloc(n + 2);
	memset(tpl, 'x', n + 1);
	tpl[n] = '\0';
	out = render(*state, tpl, ENG_TEMPLATE_TEXT);
	assert_int_equal(strlen(out), n);
	free(out);
	tpl[n] = 'x';
	tpl[n + 1] = '\0';
	assert_int_equal(eng_template_check(tpl, &cause), -1);
	assert_string_equal(cause,
	    "template: longer than 1048576 bytes at byte 1048576");
	free(cause);
	free(tpl);
}

/* Make a context {"big": s * n times, ...}. */
static json_t *
big_ctx(const char *s, size_t n)
{
	size_t i, len = strlen(s);
	char *buf;
	json_t *ctx;

	buf = xmalloc(len * n + 1);
	for (i = 0; i < n; i++)
		memcpy(buf + i * len, s, len);
	buf[len * n] = '\0';
	ctx = json_pack("{s:s, s:s}", "big", buf, "name", "Ada");
	free(buf);
	return ctx;
}

/* Output stops at 1 MiB; literal text is kept, values are cut cleanly. */
static void
test_output_limit(void **state)
{
	size_t max = ENG_TEMPLATE_MAX_OUTPUT, len;
	json_t *ctx, *doc;
	char *out;

	(void)state;
	ctx = big_ctx("x", 2 * max);
	out = render(ctx, "{{ big }}", ENG_TEMPLATE_TEXT);
	assert_int_equal(strlen(out), max);
	free(out);
	/* The text after the cut value survives; later values are empty. */
	out = render(ctx, "<{{ big }}{{ name }}>", ENG_TEMPLATE_TEXT);
	len = strlen(out);
	assert_int_equal(len, max);
	assert_int_equal(out[0], '<');
	assert_int_equal(out[len - 2], 'x');
	assert_int_equal(out[len - 1], '>');
	free(out);
	json_decref(ctx);

	/* A two-byte character is never split. */
	ctx = big_ctx("\xc3\xa9", max);
	out = render(ctx, "<<{{ big }}>", ENG_TEMPLATE_TEXT);
	len = strlen(out);
	assert_int_equal(len, max - 1);
	assert_memory_equal(out + len - 3, "\xc3\xa9>", 3);
	free(out);
	json_decref(ctx);

	/* JSON mode: escapes are never split, the document stays valid. */
	ctx = big_ctx("\"\n", max);
	out = render(ctx, "{\"a\": \"{{ big }}\", \"b\": \"{{ name }}\"}",
	    ENG_TEMPLATE_JSON);
	assert_true(strlen(out) <= max);
	assert_true(strlen(out) > max - 8);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	assert_true(json_string_length(json_object_get(doc, "a")) > 1000);
	assert_string_equal(json_string_value(json_object_get(doc, "b")), "");
	json_decref(doc);
	free(out);
	json_decref(ctx);
}

/* Filters share a work budget: repeated huge intermediates end up empty. */
static void
test_work_budget(void **state)
{
	json_t *ctx;
	char *tpl, *out;
	size_t i, len, n = 64;
	const char *one = "{{ big | upcase | truncate: 3, \"\" }}";

	(void)state;
	ctx = big_ctx("x", 2 * ENG_TEMPLATE_MAX_OUTPUT);
	tpl = xmalloc(strlen(one) * n + 1);
	for (i = 0; i < n; i++)
		memcpy(tpl + i * strlen(one), one, strlen(one));
	tpl[strlen(one) * n] = '\0';
	out = render(ctx, tpl, ENG_TEMPLATE_TEXT);
	len = strlen(out);
	assert_true(len >= 3 && len < 3 * n && len % 3 == 0);
	assert_memory_equal(out, "XXX", 3);
	free(out);
	free(tpl);
	json_decref(ctx);
}

/* A context nested far deeper than any stack frame budget renders. */
static void
test_deep_context(void **state)
{
	size_t i, depth = 10000;
	json_t *ctx, *v;
	char *out, *want;

	(void)state;
	v = json_array();
	for (i = 1; i < depth; i++) {
		json_t *outer = json_array();

		json_array_append_new(outer, v);
		v = outer;
	}
	ctx = json_pack("{s:o}", "deep", v);
	want = xmalloc(2 * depth + 1);
	memset(want, '[', depth);
	memset(want + depth, ']', depth);
	want[2 * depth] = '\0';
	out = render(ctx, "{{ deep }}", ENG_TEMPLATE_TEXT);
	assert_string_equal(out, want);
	free(out);
	out = render(ctx, "{{ deep | json | size }}", ENG_TEMPLATE_TEXT);
	assert_string_equal(out, "20000");
	free(out);
	free(want);
	json_decref(ctx);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t
fuzz_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Random bytes and syntax fragments: no crash, leak or hang; check agrees. */
static void
test_fuzz(void **state)
{
	static const char *frag[] = { "{{", "}}", "{", "}", " ", "|", ":",
		",", ".", "[", "]", "\"", "'", "-", "0", "1", "7", "-1", "a",
		"data", "items", "size", "obj", "default", "upcase",
		"downcase", "json", "truncate", "join", "x", "\n", "{%",
		"\xc3\xa9", "\xff", "\\", "{{ data.items", " | ", "}}}",
		"{{{", "{{-", "data.obj", "[0]", "[-1]", "\"\\\"}\"" };
	size_t nfrag = sizeof frag / sizeof frag[0];
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char tpl[256], *out, *cause;
	size_t i, j, len, k, n;
	int rc, json;

	for (i = 0; i < 30000; i++) {
		len = 0;
		n = fuzz_next(&seed) % 24;
		for (j = 0; j < n; j++) {
			if (fuzz_next(&seed) % 4 == 0) {
				tpl[len++] = (char)(fuzz_next(&seed) % 255 + 1);
				continue;
			}
			k = fuzz_next(&seed) % nfrag;
			if (len + strlen(frag[k]) >= sizeof tpl - 1)
				break;
			memcpy(tpl + len, frag[k], strlen(frag[k]));
			len += strlen(frag[k]);
		}
		tpl[len] = '\0';
		cause = NULL;
		rc = eng_template_check(tpl, &cause);
		if (rc == -1) {
			assert_non_null(cause);
			assert_non_null(strstr(cause, " at byte "));
		} else
			assert_null(cause);
		free(cause);
		for (json = 0; json < 2; json++) {
			cause = NULL;
			out = eng_template_render(tpl, *state, json ?
			    ENG_TEMPLATE_JSON : ENG_TEMPLATE_TEXT, &cause);
			assert_int_equal(out == NULL, rc == -1);
			assert_int_equal(cause != NULL, rc == -1);
			if (out != NULL)
				assert_true(strlen(out) <=
				    ENG_TEMPLATE_MAX_OUTPUT);
			free(out);
			free(cause);
		}
	}
}

/* Random data in string positions always gives JSON that reads back. */
static void
test_fuzz_json_data(void **state)
{
	uint64_t seed = 42;
	char data[64], *out;
	json_t *ctx, *doc, *s;
	size_t i, j, n;

	(void)state;
	for (i = 0; i < 5000; i++) {
		n = fuzz_next(&seed) % sizeof data;
		for (j = 0; j < n; j++)
			data[j] = (char)(fuzz_next(&seed) % 256);
		ctx = json_object();
		json_object_set_new(ctx, "s", json_stringn_nocheck(data, n));
		out = render(ctx, "{\"v\": \"{{ s }}\", \"j\": \"{{ s | json }}\","
		    " \"u\": \"{{ s | upcase | truncate: 9 }}\"}",
		    ENG_TEMPLATE_JSON);
		doc = json_loads(out, JSON_ALLOW_NUL, NULL);
		if (doc == NULL)
			fail_msg("not JSON: %s", out);
		/* Valid UTF-8 (NULs included) reads back byte for byte. */
		if ((s = json_stringn(data, n)) != NULL) {
			assert_true(json_equal(s, json_object_get(doc, "v")));
			json_decref(s);
		}
		json_decref(doc);
		free(out);
		json_decref(ctx);
	}
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_filter_default),
		cmocka_unit_test(test_filter_case_json_size),
		cmocka_unit_test(test_filter_truncate),
		cmocka_unit_test(test_filter_join),
		cmocka_unit_test(test_filter_chains),
		cmocka_unit_test(test_no_context),
		cmocka_unit_test(test_json_mode),
		cmocka_unit_test(test_json_mode_hostile),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_check_ok),
		cmocka_unit_test(test_expression_limit),
		cmocka_unit_test(test_template_size_limit),
		cmocka_unit_test(test_output_limit),
		cmocka_unit_test(test_work_budget),
		cmocka_unit_test(test_deep_context),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_fuzz_json_data),
	};

	return cmocka_run_group_tests_name("template", tests, setup, teardown);
}
