/*
 * engine/jsonpos.c: the line and column of the value at a path in JSON
 * text, which configuration errors point at.
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

/* Paths into objects and arrays are found where their values start. */
static void
test_paths(void **state)
{
	static const struct {
		const char *path;
		int line, col;
	} cases[] = {
		{ "", 1, 1 },
		{ "a", 2, 8 },
		{ "a[0]", 2, 9 },
		{ "a[1].b", 2, 18 },
		{ "a[1].c[1]", 3, 14 },
		{ "d", 4, 8 },
	};
	static const char text[] = "{\n"
	    "  \"a\": [1, {\"b\": \"x\\\"y\",\n"
	    "   \"c\": [[], {}]}],\n"
	    "  \"d\": null\n"
	    "}\n";
	int line, col;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (eng_jsonpos(text, cases[i].path, &line, &col) != 0)
			fail_msg("\"%s\" not found", cases[i].path);
		if (line != cases[i].line || col != cases[i].col)
			fail_msg("\"%s\" at %d:%d, not %d:%d", cases[i].path,
			    line, col, cases[i].line, cases[i].col);
	}
	assert_int_equal(eng_jsonpos(text, "e", &line, &col), -1);
	assert_int_equal(eng_jsonpos(text, "a[5]", &line, &col), -1);
	assert_int_equal(eng_jsonpos(text, "d.x", &line, &col), -1);
}

/*
 * A key longer than the copy jsonpos keeps of it is not taken for a
 * shorter key it starts with: the later key's value is found.
 */
static void
test_long_key_prefix(void **state)
{
	char key[256], *text;
	int line, col;

	(void)state;
	memset(key, 'k', 255);
	key[255] = '\0';
	text = xasprintf("{\"%sx\": 1,\n\"%s\": 2}", key, key);
	assert_int_equal(eng_jsonpos(text, key, &line, &col), 0);
	assert_int_equal(line, 2);
	assert_int_equal(col, (int)strlen(key) + 5);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_long_key_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
