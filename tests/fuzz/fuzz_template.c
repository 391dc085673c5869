/*
 * Fuzz target: message templates (engine/workflow/template.c) -- fuzzed template
 * text rendered against fuzzed data, in text and in JSON mode.
 *
 * An input is one mode byte (its low bit set: ENG_TEMPLATE_JSON), the
 * template text, a NUL, and the context as JSON text.  A context that does
 * not parse as a JSON object is replaced by a fixed one shaped like a
 * workflow step's (recipient, actor, data, activities), so that paths
 * still meet values.
 *
 * Oracles besides the sanitizers:
 *   - eng_template_render fails exactly when eng_template_check does, and
 *     the failure has a cause naming a byte offset inside the template;
 *   - eng_template_parse + eng_template_run render the same text;
 *   - the output is at most ENG_TEMPLATE_MAX_OUTPUT bytes, and valid
 *     UTF-8 when the template is;
 *   - in JSON mode, a template that is valid JSON with every expression
 *     inside a JSON string (it parses both with the expressions removed
 *     and with each replaced by a letter) renders valid JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/workflow/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The context used when the input's does not parse. */
static const char fuzz_ctx[] = "{\"recipient\": {\"id\": \"u1\", \"name\": "
    "\"Ada \\\"A\\\" L\\u00e9\", \"plan\": \"pro\", \"subscription\": "
    "{\"properties\": {\"role\": \"owner\"}}}, \"actor\": {\"id\": \"u2\", "
    "\"name\": \"Bob\\n\\u0001\", \"email\": \"b@x\"}, \"tenant\": {\"id\": "
    "\"t1\"}, \"data\": {\"n\": 3, \"x\": -2.5, \"big\": 1e300, \"ok\": "
    "true, \"none\": null, \"s\": \"h\\u00e9llo <b>\", \"items\": [\"a\", "
    "1, [2], {\"k\": \"v\"}], \"size\": \"custom\", \"obj\": {\"a\": "
    "{\"b\": [1, 2, 3]}}}, \"activities\": [{\"data\": {\"n\": 1}, "
    "\"actor\": {\"name\": \"A\"}}, {\"data\": {\"n\": 2}}], "
    "\"total_activities\": 2, \"total_actors\": 1}";

/* Stop on a broken contract, saying which. */
static void __attribute__((noreturn))
fuzz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_template: %s: %.400s\n", what,
	    detail ? detail : "");
	abort();
}

/* Whether s[0..n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int
fuzz_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	unsigned long c;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			len = 2, c = s[i] & 0x1f;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			len = 3, c = s[i] & 0x0f;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			len = 4, c = s[i] & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
		    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
			return 0;
		i += len;
	}
	return 1;
}

/*
 * The template with each "{{ ... }}" expression replaced by with (quoted
 * filter arguments may hold "}}"); NULL when an expression is not closed.
 */
static char *
fuzz_blank(const char *tpl, const char *with)
{
	size_t n = strlen(tpl), w = strlen(with), i = 0, o = 0;
	char *out = xmalloc(n * (w + 1) + 1), q;

	while (i < n) {
		if (tpl[i] != '{' || tpl[i + 1] != '{') {
			out[o++] = tpl[i++];
			continue;
		}
		for (i += 2; i < n && !(tpl[i] == '}' && tpl[i + 1] == '}');
		    i++) {
			if (tpl[i] != '"' && tpl[i] != '\'')
				continue;
			for (q = tpl[i++]; i < n && tpl[i] != q; i++)
				;
			if (i == n)
				break;
		}
		if (i >= n) {
			free(out);
			return NULL;
		}
		i += 2;
		memcpy(out + o, with, w);
		o += w;
	}
	out[o] = '\0';
	return out;
}

/* Whether text parses as JSON (any value). */
static int
fuzz_is_json(const char *text)
{
	json_t *v;

	if (text == NULL || (v = json_loads(text, JSON_DECODE_ANY, NULL)) ==
	    NULL)
		return 0;
	json_decref(v);
	return 1;
}

/* Check a refusal: a cause with an offset inside the template. */
static void
fuzz_check_cause(const char *tpl, const char *cause)
{
	const char *at;
	long off;

	if (cause == NULL)
		fuzz_fail("a refusal without a cause", tpl);
	if ((at = strstr(cause, " at byte ")) == NULL)
		fuzz_fail("a cause without an offset", cause);
	off = strtol(at + 9, NULL, 10);
	if (off < 0 || (size_t)off > strlen(tpl))
		fuzz_fail("an offset outside the template", cause);
}

/* One input: the template checked, rendered both ways and compared. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1, *nul;
	enum eng_template_mode mode;
	struct eng_template *t;
	char *tpl, *out, *out2, *cause = NULL, *a, *b;
	json_t *ctx = NULL;
	size_t n;
	int ok;

	if (size == 0)
		return 0;
	mode = data[0] & 1 ? ENG_TEMPLATE_JSON : ENG_TEMPLATE_TEXT;
	size--;
	nul = memchr(p, '\0', size);
	n = nul != NULL ? (size_t)(nul - p) : size;
	tpl = xmalloc(n + 1);
	memcpy(tpl, p, n);
	tpl[n] = '\0';
	if (nul != NULL)
		ctx = json_loadb(nul + 1, size - n - 1, 0, NULL);
	if (!json_is_object(ctx)) {
		json_decref(ctx);
		ctx = json_loads(fuzz_ctx, 0, NULL);
	}

	ok = eng_template_check(tpl, &cause) == 0;
	if (!ok)
		fuzz_check_cause(tpl, cause);
	free(cause);
	cause = NULL;
	out = eng_template_render(tpl, ctx, mode, &cause);
	if ((out != NULL) != ok)
		fuzz_fail(ok ? "render refused a template that checks" :
		    "render accepted a template that does not check", tpl);
	free(cause);
	cause = NULL;
	if (out == NULL)
		goto done;
	if ((t = eng_template_parse(tpl, &cause)) == NULL)
		fuzz_fail("parse refused a template that checks", cause);
	out2 = eng_template_run(t, ctx, mode);
	if (strcmp(out, out2) != 0)
		fuzz_fail("run and render differ", tpl);
	free(out2);
	eng_template_free(t);
	if (strlen(out) > ENG_TEMPLATE_MAX_OUTPUT)
		fuzz_fail("output over the limit", tpl);
	if (fuzz_utf8((const unsigned char *)tpl, strlen(tpl)) &&
	    !fuzz_utf8((const unsigned char *)out, strlen(out)))
		fuzz_fail("invalid UTF-8 from a UTF-8 template", out);
	if (mode == ENG_TEMPLATE_JSON) {
		a = fuzz_blank(tpl, "");
		b = fuzz_blank(tpl, "x");
		if (fuzz_is_json(a) && fuzz_is_json(b) && !fuzz_is_json(out))
			fuzz_fail("JSON template rendered invalid JSON", out);
		free(a);
		free(b);
	}
	free(out);
done:
	json_decref(ctx);
	free(tpl);
	return 0;
}
