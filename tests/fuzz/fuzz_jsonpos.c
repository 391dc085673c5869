/*
 * Fuzz target: engine/workflow/jsonpos.c, which finds the line and column of the
 * value at a path ("a.b[2].c") in JSON text for configuration errors.
 *
 * An input is a path line, then the JSON text.  The fuzzed path is looked
 * up in the text, whatever the text is.  When the text is JSON that
 * jansson reads (without duplicate keys or escapes, so that keys are
 * their raw bytes), the bytes of the path line also choose a path that
 * exists -- a child at each step, up to eight steps -- and that path must
 * be found at the position where that very value is written.
 *
 * Oracles besides the sanitizers: a found position lies inside the text;
 * an existing path is found; the text at its position parses to the value
 * jansson holds at that path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define FUZZ_MAX_STEPS 8

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop on a broken contract, saying which. */
static void __attribute__((noreturn))
fuzz_fail(const char *what, const char *path, const char *text)
{
	fprintf(stderr, "fuzz_jsonpos: %s: path \"%s\" in: %.300s\n", what,
	    path, text);
	abort();
}

/* The offset of line:col in text (its end included), or -1 if outside. */
static long
fuzz_offset(const char *text, int line, int col)
{
	const char *p = text;
	int l = 1, c = 1;

	if (line < 1 || col < 1)
		return -1;
	while (l < line || c < col) {
		if (*p == '\0')
			return -1;
		if (*p == '\n') {
			if (l == line)
				return -1;
			l++;
			c = 1;
		} else
			c++;
		p++;
	}
	return p - text;
}

/* Whether key can be written in a path: no ".", "[", at most 255 bytes. */
static int
fuzz_key_ok(const char *key)
{
	return *key != '\0' && strcspn(key, ".[") == strlen(key) &&
	    strlen(key) < 256;
}

/*
 * Choose a path through root with the bytes of sel: at each step a child
 * of the value reached (sel's byte modulo its size).  Fills path and
 * returns the value at it (root for the empty path).
 */
static json_t *
fuzz_walk(json_t *root, const unsigned char *sel, size_t nsel, char *path,
    size_t len)
{
	json_t *v = root, *c;
	const char *k;
	size_t i, n, j, used = 0;

	path[0] = '\0';
	for (i = 0; i < nsel && i < FUZZ_MAX_STEPS; i++) {
		if (json_is_array(v) && (n = json_array_size(v)) > 0) {
			j = sel[i] % n;
			used += (size_t)snprintf(path + used, len - used,
			    "[%zu]", j);
			v = json_array_get(v, j);
		} else if (json_is_object(v) && (n = json_object_size(v)) > 0) {
			j = sel[i] % n;
			c = NULL;
			json_object_foreach(v, k, c) {
				if (j-- == 0)
					break;
			}
			if (!fuzz_key_ok(k) || used + strlen(k) + 2 >= len)
				break;
			used += (size_t)snprintf(path + used, len - used,
			    "%s%s", used > 0 ? "." : "", k);
			v = c;
		} else
			break;
	}
	return v;
}

/* One input: the fuzzed path, then a path that exists. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nl;
	char *path, *text, chosen[2048];
	json_t *root, *want, *got;
	int line, col;
	long off;
	size_t n;

	if ((nl = memchr(p, '\n', size)) == NULL)
		return 0;
	n = (size_t)(nl - p);
	path = xmalloc(n + 1);
	memcpy(path, p, n);
	path[n] = '\0';
	text = xmalloc(size - n);
	memcpy(text, nl + 1, size - n - 1);
	text[size - n - 1] = '\0';

	if (eng_jsonpos(text, path, &line, &col) == 0 &&
	    fuzz_offset(text, line, col) == -1)
		fuzz_fail("a position outside the text", path, text);

	root = strchr(text, '\\') == NULL ? json_loads(text,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL) : NULL;
	if (root != NULL) {
		want = fuzz_walk(root, (const unsigned char *)path,
		    strlen(path), chosen, sizeof chosen);
		if (eng_jsonpos(text, chosen, &line, &col) != 0)
			fuzz_fail("an existing path not found", chosen, text);
		if ((off = fuzz_offset(text, line, col)) < 0)
			fuzz_fail("a position outside the text", chosen, text);
		got = json_loads(text + off, JSON_DISABLE_EOF_CHECK |
		    JSON_DECODE_ANY, NULL);
		if (got == NULL || !json_equal(got, want))
			fuzz_fail("the position is not the value's", chosen,
			    text);
		json_decref(got);
		json_decref(root);
	}
	free(path);
	free(text);
	return 0;
}
