/*
 * Compact JSON text of a jansson value, written straight into a caller's
 * buffer: the same bytes as json_dumpb(v, JSON_COMPACT | JSON_ENCODE_ANY)
 * (keys in insertion order, '"', '\\' and control characters escaped,
 * everything else as is), with strings copied in runs and no callback
 * per piece, so it costs less than json_dumpb.  Every stored run event,
 * message body and recipient record goes through it (the store binds
 * JSON with it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* Where the text goes: out[0..len), n written so far; n > len: too long. */
struct jsonout {
	char *out;
	size_t len, n;
};

/* Append n bytes. */
static void
jsonout_put(struct jsonout *o, const char *p, size_t n)
{
	if (o->n + n <= o->len)
		memcpy(o->out + o->n, p, n);
	o->n += n;
}

/*
 * How many of the n bytes at s need no escape in a JSON string: eight at
 * a time while no byte of the eight is below 0x20, '"' or '\\' (the
 * word tests of "Bit Twiddling Hacks", exact for these), then one at a
 * time.
 */
static size_t
jsonout_plain(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	uint64_t w, q, b;
	size_t i = 0;
	unsigned char c;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) |
		    ((b - ones) & ~b)) & highs)
			break;
	}
	for (; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == '"' || c == '\\')
			break;
	}
	return i;
}

/* Append a JSON string literal of s (n bytes, valid UTF-8). */
static void
jsonout_string(struct jsonout *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;
	unsigned char c;
	char esc[6];

	jsonout_put(o, "\"", 1);
	for (i = 0; i < n; i++) {
		i += jsonout_plain(s + i, n - i);
		if (i == n)
			break;
		c = (unsigned char)s[i];
		jsonout_put(o, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': case '\\': esc[1] = (char)c; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			jsonout_put(o, esc, 6);
			continue;
		}
		jsonout_put(o, esc, 2);
	}
	jsonout_put(o, s + run, n - run);
	jsonout_put(o, "\"", 1);
}

/* Append v; -1 for a real jansson could not write either (NaN...). */
static int
jsonout_value(struct jsonout *o, json_t *v)
{
	char num[64];
	const char *key;
	json_t *item;
	size_t i, k;
	int first = 1;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jsonout_put(o, "{", 1);
		json_object_keylen_foreach(v, key, k, item) {
			if (!first)
				jsonout_put(o, ",", 1);
			first = 0;
			jsonout_string(o, key, k);
			jsonout_put(o, ":", 1);
			if (jsonout_value(o, item) != 0)
				return -1;
		}
		jsonout_put(o, "}", 1);
		return 0;
	case JSON_ARRAY:
		jsonout_put(o, "[", 1);
		json_array_foreach(v, i, item) {
			if (i > 0)
				jsonout_put(o, ",", 1);
			if (jsonout_value(o, item) != 0)
				return -1;
		}
		jsonout_put(o, "]", 1);
		return 0;
	case JSON_STRING:
		jsonout_string(o, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_INTEGER:
		k = eng_decimal(json_integer_value(v), num);
		jsonout_put(o, num, k);
		return 0;
	case JSON_REAL:
		/* jansson's own rules for reals (precision, a ".0"). */
		k = json_dumpb(v, num, sizeof num, JSON_ENCODE_ANY);
		if (k == 0 || k > sizeof num)
			return -1;
		jsonout_put(o, num, k);
		return 0;
	case JSON_TRUE:
		jsonout_put(o, "true", 4);
		return 0;
	case JSON_FALSE:
		jsonout_put(o, "false", 5);
		return 0;
	case JSON_NULL:
		jsonout_put(o, "null", 4);
		return 0;
	}
	return -1;
}

/*
 * Write v's compact JSON text into out (len bytes, not terminated).
 * Returns its length, which may exceed len (then out holds a prefix and
 * the caller needs a larger buffer), or 0 if v cannot be written.
 */
size_t
eng_json_write(json_t *v, char *out, size_t len)
{
	struct jsonout o = { out, len, 0 };

	if (v == NULL || jsonout_value(&o, v) != 0)
		return 0;
	return o.n;
}

/* Make room for n more bytes in t. */
static void
jsonout_grow(struct eng_text *t, size_t n)
{
	if (t->len + n <= t->cap)
		return;
	t->cap = t->cap * 2 > t->len + n ? t->cap * 2 : t->len + n + 256;
	t->s = xreallocarray(t->s, t->cap, 1);
}

/* Append n bytes to t. */
void
eng_text_add(struct eng_text *t, const char *p, size_t n)
{
	jsonout_grow(t, n);
	memcpy(t->s + t->len, p, n);
	t->len += n;
}

/* Whether any string inside v, object keys included, contains s. */
int
eng_json_mentions(json_t *v, const char *s)
{
	const char *k;
	json_t *item;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		json_object_foreach(v, k, item)
			if (strstr(k, s) != NULL || eng_json_mentions(item, s))
				return 1;
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
			if (eng_json_mentions(item, s))
				return 1;
		return 0;
	case JSON_STRING:
		return strstr(json_string_value(v), s) != NULL;
	default:
		return 0;
	}
}

/* The decimal digits of v (with a '-' if negative) into out; their count. */
size_t
eng_decimal(int64_t v, char *out)
{
	char tmp[24];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t n = 0, k = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		out[k++] = '-';
	while (n > 0)
		out[k++] = tmp[--n];
	return k;
}

/* Append the decimal text of v to t. */
void
eng_text_int(struct eng_text *t, int64_t v)
{
	jsonout_grow(t, 24);
	t->len += eng_decimal(v, t->s + t->len);
}

/* Append s (valid UTF-8) to t as a JSON string literal. */
void
eng_text_string(struct eng_text *t, const char *s)
{
	eng_text_stringn(t, s, strlen(s));
}

/* Append s (n bytes of valid UTF-8) to t as a JSON string literal. */
void
eng_text_stringn(struct eng_text *t, const char *s, size_t n)
{
	struct jsonout o;

	jsonout_grow(t, 6 * n + 2);
	o.out = t->s + t->len;
	o.len = t->cap - t->len;
	o.n = 0;
	jsonout_string(&o, s, n);
	t->len += o.n;
}

/* See json.h: shortest forms only, no surrogates, nothing past U+10FFFF. */
size_t
eng_utf8_char(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t i, k;

	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		k = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		k = 3;
		if (u[0] == 0xe0)
			lo = 0xa0;
		else if (u[0] == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		k = 4;
		if (u[0] == 0xf0)
			lo = 0x90;
		else if (u[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < k || u[1] < lo || u[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return k;
}

/* See json.h. */
int
eng_utf8_valid(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((k = eng_utf8_char(s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/*
 * Append the n bytes at s to t as a JSON string literal; bytes that are
 * not valid UTF-8 make every byte above 0x7f a '?'.
 */
void
eng_text_bytes(struct eng_text *t, const char *s, size_t n)
{
	char *c;
	size_t i;

	if (eng_utf8_valid(s, n)) {
		eng_text_stringn(t, s, n);
		return;
	}
	c = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	eng_text_stringn(t, c, n);
	free(c);
}

/* Append v's compact JSON text to t ("null" if v cannot be written). */
void
eng_text_value(struct eng_text *t, json_t *v)
{
	size_t n;

	jsonout_grow(t, 64);
	if ((n = eng_json_write(v, t->s + t->len, t->cap - t->len)) == 0) {
		eng_text_add(t, "null", 4);
		return;
	}
	if (n > t->cap - t->len) {
		jsonout_grow(t, n);
		eng_json_write(v, t->s + t->len, n);
	}
	t->len += n;
}

/*
 * JSON text of v with json_dumps' flags, NUL-terminated, from malloc: the
 * compact writer when the flags allow, else jansson into a sized buffer.
 * NULL where json_dumps gives NULL (a scalar without JSON_ENCODE_ANY).
 */
char *
eng_json_dumps(json_t *v, size_t flags)
{
	char buf[4096], *s;
	size_t n = 0;

	if ((flags & ~(size_t)(JSON_COMPACT | JSON_ENCODE_ANY)) == 0 &&
	    (flags & JSON_COMPACT) && (flags & JSON_ENCODE_ANY ||
	    json_is_object(v) || json_is_array(v)))
		n = eng_json_write(v, buf, sizeof buf);
	if (n != 0) {
		/* One pass when the text fits the stack buffer (most replies). */
		s = xmalloc(n + 1);
		if (n <= sizeof buf)
			memcpy(s, buf, n);
		else
			eng_json_write(v, s, n);
	} else {
		if ((n = json_dumpb(v, NULL, 0, flags)) == 0)
			return NULL;
		s = xmalloc(n + 1);
		json_dumpb(v, s, n, flags);
	}
	s[n] = '\0';
	return s;
}

/* RFC 3339 UTC text of an instant. */
void
eng_iso(int64_t t, char *buf, size_t len)
{
	tz_instant_format(t, buf, len);
}

/* An instant as a JSON string, or JSON null for STORE_NONE. */
json_t *
eng_iso_json(int64_t t)
{
	char buf[32];

	if (t == STORE_NONE)
		return json_null();
	eng_iso(t, buf, sizeof buf);
	return json_string(buf);
}
