/*
 * engine/jsonpool.c and eng_json_dumps: the pool is installed first thing
 * in main, as belfryd does, so every JSON value of this process lives in
 * it.  Under AddressSanitizer the pool is not installed; the checks of
 * its blocks are skipped there and the rest still run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine_int.h"

/* jansson's allocation functions in force, skipping if they are malloc's. */
static void
pool_funcs(json_malloc_t *m, json_free_t *f)
{
	json_get_alloc_funcs(m, f);
	if (*m == malloc)
		skip();
}

/* A freed block is what the next allocation of its size class gets. */
static void
test_reuse(void **state)
{
	json_malloc_t m;
	json_free_t f;
	char *a, *b, *c, *d;

	(void)state;
	pool_funcs(&m, &f);
	a = m(40);
	memset(a, 'x', 40);
	f(a);
	b = m(33);              /* 33..48 bytes: a's class */
	assert_ptr_equal(b, a);
	c = m(40);              /* the list is empty again: a new block */
	assert_ptr_not_equal(c, b);
	f(c);
	d = m(100);             /* another class: not c's block */
	assert_ptr_not_equal(d, c);
	memset(d, 'y', 100);
	f(b);
	f(d);
}

/* Blocks larger than the classes come from malloc and go back to free. */
static void
test_large(void **state)
{
	json_malloc_t m;
	json_free_t f;
	size_t before;
	char *a;
	int i;

	(void)state;
	pool_funcs(&m, &f);
	before = eng_json_pool_bytes();
	for (i = 0; i < 1000; i++) {
		a = m(4000);
		memset(a, 'z', 4000);
		f(a);
	}
	assert_int_equal(eng_json_pool_bytes(), before);
}

/* A large object built, written, parsed and freed again and again. */
static json_t *
build(int round)
{
	json_t *o = json_object(), *a;
	char key[32], val[600];
	int i;

	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		memset(val, 'a' + i % 26, (size_t)(i % 500));
		val[i % 500] = '\0';
		a = json_pack("[i, s, {s:f}]", round, val, "r", i / 7.0);
		json_object_set_new(o, key, a);
	}
	return o;
}

/*
 * Values come back intact through the pool, and once the busiest round
 * is done the pool takes no more memory: freed blocks are reused.
 */
static void
test_round_trips(void **state)
{
	json_malloc_t m;
	json_free_t f;
	json_error_t err;
	json_t *o, *back;
	size_t after_first = 0;
	char *text;
	int round;

	(void)state;
	json_get_alloc_funcs(&m, &f);
	for (round = 0; round < 50; round++) {
		o = build(round);
		text = eng_json_dumps(o, JSON_COMPACT);
		back = json_loads(text, 0, &err);
		assert_non_null(back);
		assert_true(json_equal(o, back));
		assert_int_equal(json_integer_value(json_array_get(
		    json_object_get(back, "key-1999"), 0)), round);
		free(text);     /* eng_json_dumps' text is malloc's */
		json_decref(back);
		json_decref(o);
		if (round == 0)
			after_first = eng_json_pool_bytes();
	}
	if (m != malloc) {
		assert_true(after_first > 0);
		assert_int_equal(eng_json_pool_bytes(), after_first);
	}
}

/* eng_json_dumps gives json_dumps' text for every flag set it is given. */
static void
test_dumps(void **state)
{
	static const size_t flags[] = { JSON_COMPACT, JSON_COMPACT |
	    JSON_ENCODE_ANY, JSON_COMPACT | JSON_SORT_KEYS, 0, JSON_INDENT(2),
	    JSON_ENCODE_ANY };
	json_t *vs[4];
	json_free_t f;
	char *want, *got;
	size_t i, j;

	(void)state;
	json_get_alloc_funcs(NULL, &f);
	vs[0] = json_pack("{s:i, s:[s, n, b], s:{s:f}, s:s}", "z", 1, "a",
	    "x\"\\\n\x01", 1, "m", "k", 2.5, "é", "ü\t");
	vs[1] = json_pack("[i, s, {}]", -7, "");
	vs[2] = json_string("only a string");
	vs[3] = json_integer(42);
	for (i = 0; i < 4; i++)
		for (j = 0; j < sizeof flags / sizeof flags[0]; j++) {
			want = json_dumps(vs[i], flags[j]);
			got = eng_json_dumps(vs[i], flags[j]);
			if (want == NULL)
				assert_null(got);
			else
				assert_string_equal(got, want);
			f(want);        /* json_dumps' text is jansson's */
			free(got);
		}
	for (i = 0; i < 4; i++)
		json_decref(vs[i]);
}

/* Install the pool before any JSON value exists, then run the checks. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_dumps),
	};

	eng_json_pool();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
