/*
 * Message templates: a safe subset of Liquid (see engine/template.h).
 *
 * A template is parsed whole into flat arrays (text and expression nodes,
 * path steps, filters, arguments) before anything is rendered, so a
 * template that does not parse never produces partial output.  Keys and
 * string literals are slices of the template text.
 *
 * Bounded work: parsing is one pass over at most ENG_TEMPLATE_MAX_SIZE
 * bytes; nothing recurses (arrays and objects are encoded with an explicit
 * stack, so a deeply nested context is no danger); every write goes
 * through a buffer with a hard limit; and the bytes made by filters in one
 * render come out of a fixed budget (TEMPLATE_WORK_MAX), after which
 * filters produce empty text.
 */
#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tz/tz.h"
#include "engine/json.h"
#include "engine/workflow/template.h"

/* Bytes that values made by filters may use, in total, in one render. */
#define TEMPLATE_WORK_MAX ((size_t)32 * ENG_TEMPLATE_MAX_OUTPUT)

/* A truncate length at least this long can never cut anything. */
#define TEMPLATE_COUNT_MAX ((size_t)ENG_TEMPLATE_MAX_OUTPUT + 1)

/* What a path step does. */
enum template_seg_kind {
	TEMPLATE_SEG_KEY,    /* .key or the first key ("size" is special) */
	TEMPLATE_SEG_QUOTED, /* ["key"] */
	TEMPLATE_SEG_INDEX   /* [n], negative from the end */
};

/* One step of a path. */
struct template_seg {
	enum template_seg_kind kind;
	const char *key; /* a slice of the template */
	size_t len;
	long long index;
};

/* A path: a run of steps in the template's segs. */
struct template_path {
	size_t seg;
	size_t nseg;
};

/* What a filter argument is. */
enum template_arg_kind {
	TEMPLATE_ARG_STRING,
	TEMPLATE_ARG_NUMBER,
	TEMPLATE_ARG_PATH
};

/* A filter argument. */
struct template_arg {
	enum template_arg_kind kind;
	const char *s; /* string contents or number text, a slice */
	size_t len;
	struct template_path path;
};

/* The filters. */
enum template_filter_kind {
	TEMPLATE_DEFAULT,
	TEMPLATE_UPCASE,
	TEMPLATE_DOWNCASE,
	TEMPLATE_JSON,
	TEMPLATE_TRUNCATE,
	TEMPLATE_JOIN,
	TEMPLATE_SIZE
};

/* A filter's name, arity and the message for a wrong one. */
struct template_filter_def {
	const char *name;
	enum template_filter_kind kind;
	size_t min;
	size_t max;
	const char *usage;
};

static const struct template_filter_def template_filter_defs[] = {
	{ "default", TEMPLATE_DEFAULT, 1, 1,
	    "default takes one argument (the fallback)" },
	{ "upcase", TEMPLATE_UPCASE, 0, 0, "upcase takes no arguments" },
	{ "downcase", TEMPLATE_DOWNCASE, 0, 0, "downcase takes no arguments" },
	{ "json", TEMPLATE_JSON, 0, 0, "json takes no arguments" },
	{ "truncate", TEMPLATE_TRUNCATE, 1, 2,
	    "truncate takes a length and an optional ellipsis" },
	{ "join", TEMPLATE_JOIN, 0, 1,
	    "join takes at most one argument (the separator)" },
	{ "size", TEMPLATE_SIZE, 0, 0, "size takes no arguments" },
};

/* A filter in an expression. */
struct template_filter {
	enum template_filter_kind kind;
	size_t arg; /* first argument in the template's args */
	size_t narg;
	size_t count; /* truncate: the length in characters */
};

/* A run of literal text, or an expression. */
struct template_node {
	int expr;
	const char *text; /* literal text, a slice */
	size_t len;
	struct template_path path;
	size_t filter; /* first filter in the template's filters */
	size_t nfilter;
};

/* A parsed template; every pointer into src stays valid while src does. */
struct template {
	const char *src;
	size_t n;
	size_t pos; /* the parser's position */
	char **cause;

	struct template_node *nodes;
	size_t nnode, nodecap;
	struct template_seg *segs;
	size_t nseg, segcap;
	struct template_arg *args;
	size_t narg, argcap;
	struct template_filter *filters;
	size_t nfilter, filtercap;

	size_t nexpr;
	size_t litlen; /* bytes of literal text in all */
};

/* An output buffer with a hard limit on its length. */
struct template_buf {
	char *s;
	size_t len;
	size_t cap;
	size_t limit;
	enum eng_template_mode mode; /* how writes are escaped */
	int full; /* a write did not fit */
};

/*
 * A value during evaluation: a borrowed context value, text (a slice of
 * the template, num, or owned in buf), or missing (json and s both NULL).
 * It points into itself, so it is never copied.
 */
struct template_val {
	json_t *json;
	const char *s;
	size_t len;
	char *buf;
	int number; /* s is a number's text: json leaves it bare */
	char num[32];
};

/* One render's state. */
struct template_render {
	const struct template *t;
	json_t *ctx;
	size_t work; /* bytes filters may still make */
};

/* A container being encoded. */
struct template_frame {
	json_t *c;
	void *iter; /* the next member of an object */
	size_t i;   /* members written so far */
};

/* Make room for one more element in a growable array; returns the array. */
static void *
template_grow(void *a, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return a;
	*cap = *cap == 0 ? 8 : *cap * 2;
	return xreallocarray(a, *cap, size);
}

/* Fail the parse with a message naming the byte offset; returns -1. */
static int __attribute__((format(printf, 3, 4)))
template_error(struct template *t, size_t off, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (t->cause == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	*t->cause = xasprintf("template: %s at byte %zu", msg, off);
	return -1;
}

/* Whether c may appear in a key. */
static int
template_iskey(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '$' ||
	    c >= 0x80;
}

/* Whether c is a decimal digit. */
static int
template_isdigit(int c)
{
	return c >= '0' && c <= '9';
}

/* The byte at the parser's position, or -1 at the end. */
static int
template_peek(const struct template *t)
{
	return t->pos < t->n ? (unsigned char)t->src[t->pos] : -1;
}

/* Skip spaces, tabs and newlines. */
static void
template_skipws(struct template *t)
{
	int c;

	while ((c = template_peek(t)) == ' ' || c == '\t' || c == '\n' ||
	    c == '\r')
		t->pos++;
}

/* Add a run of literal text. */
static void
template_add_text(struct template *t, size_t start, size_t end)
{
	struct template_node *nd;

	if (end == start)
		return;
	t->nodes = template_grow(t->nodes, t->nnode, &t->nodecap,
	    sizeof *t->nodes);
	nd = &t->nodes[t->nnode++];
	memset(nd, 0, sizeof *nd);
	nd->text = t->src + start;
	nd->len = end - start;
	t->litlen += nd->len;
}

/* Add a path step. */
static void
template_add_seg(struct template *t, enum template_seg_kind kind,
    const char *key, size_t len, long long index)
{
	struct template_seg *sg;

	t->segs = template_grow(t->segs, t->nseg, &t->segcap,
	    sizeof *t->segs);
	sg = &t->segs[t->nseg++];
	sg->kind = kind;
	sg->key = key;
	sg->len = len;
	sg->index = index;
}

/* Parse a quoted string (no escapes, as in Liquid) into a slice. */
static int
template_parse_string(struct template *t, const char **s, size_t *len)
{
	const char *end;
	size_t open = t->pos;

	end = memchr(t->src + open + 1, t->src[open], t->n - open - 1);
	if (end == NULL)
		return template_error(t, open, "unterminated string");
	*s = t->src + open + 1;
	*len = (size_t)(end - *s);
	t->pos = (size_t)(end - t->src) + 1;
	return 0;
}

/* Parse a "[...]" step: an integer index or a quoted key. */
static int
template_parse_bracket(struct template *t)
{
	const char *key;
	long long v = 0;
	size_t len;
	int c, neg = 0;

	t->pos++;
	template_skipws(t);
	c = template_peek(t);
	if (c == '"' || c == '\'') {
		if (template_parse_string(t, &key, &len) == -1)
			return -1;
		template_add_seg(t, TEMPLATE_SEG_QUOTED, key, len, 0);
	} else if (c == '-' || template_isdigit(c)) {
		if (c == '-') {
			neg = 1;
			t->pos++;
		}
		if (!template_isdigit(template_peek(t)))
			return template_error(t, t->pos, "expected an index");
		while (template_isdigit(c = template_peek(t))) {
			if (v <= (LLONG_MAX - 9) / 10)
				v = v * 10 + (c - '0');
			t->pos++;
		}
		template_add_seg(t, TEMPLATE_SEG_INDEX, NULL, 0, neg ? -v : v);
	} else
		return template_error(t, t->pos,
		    "expected an index or a quoted key after \"[\"");
	template_skipws(t);
	if (template_peek(t) != ']')
		return template_error(t, t->pos, "expected \"]\"");
	t->pos++;
	return 0;
}

/* Parse a path: a key or "[...]", then ".key" and "[...]" steps. */
static int
template_parse_path(struct template *t, struct template_path *p)
{
	size_t start;
	int c, first;

	p->seg = t->nseg;
	for (first = 1;; first = 0) {
		c = template_peek(t);
		if (c == '[') {
			if (template_parse_bracket(t) == -1)
				return -1;
			continue;
		}
		if (first && !template_iskey(c))
			return template_error(t, t->pos, "expected a variable");
		if (!first && c != '.')
			break;
		if (c == '.')
			t->pos++;
		start = t->pos;
		while (template_iskey(template_peek(t)))
			t->pos++;
		if (t->pos == start)
			return template_error(t, start,
			    "expected a key after \".\"");
		template_add_seg(t, TEMPLATE_SEG_KEY, t->src + start,
		    t->pos - start, 0);
	}
	p->nseg = t->nseg - p->seg;
	return 0;
}

/* Parse a filter argument: a quoted string, a number or a path. */
static int
template_parse_arg(struct template *t, struct template_arg *a)
{
	size_t start = t->pos;
	int c = template_peek(t);

	memset(a, 0, sizeof *a);
	if (c == '"' || c == '\'') {
		a->kind = TEMPLATE_ARG_STRING;
		return template_parse_string(t, &a->s, &a->len);
	}
	if (c == '-' || template_isdigit(c)) {
		/* A JSON number without an exponent: -?(0|[1-9]\d*)(\.\d+)? */
		a->kind = TEMPLATE_ARG_NUMBER;
		if (c == '-')
			t->pos++;
		if (!template_isdigit(template_peek(t)))
			return template_error(t, start, "bad number");
		if (template_peek(t) == '0')
			t->pos++;
		else {
			while (template_isdigit(template_peek(t)))
				t->pos++;
		}
		if (template_peek(t) == '.') {
			t->pos++;
			if (!template_isdigit(template_peek(t)))
				return template_error(t, start, "bad number");
			while (template_isdigit(template_peek(t)))
				t->pos++;
		}
		c = template_peek(t);
		if (template_iskey(c) || c == '.' || c == '[')
			return template_error(t, start, "bad number");
		a->s = t->src + start;
		a->len = t->pos - start;
		return 0;
	}
	if (template_iskey(c) || c == '[') {
		a->kind = TEMPLATE_ARG_PATH;
		return template_parse_path(t, &a->path);
	}
	return template_error(t, start, "expected an argument");
}

/* Read truncate's length: a non-negative integer literal. */
static int
template_parse_count(struct template *t, const struct template_arg *a,
    size_t off, size_t *count)
{
	size_t i, v = 0;

	if (a->kind != TEMPLATE_ARG_NUMBER || a->s[0] == '-' ||
	    memchr(a->s, '.', a->len) != NULL)
		return template_error(t, off, "truncate needs a length "
		    "(a non-negative integer)");
	for (i = 0; i < a->len; i++) {
		v = v * 10 + (size_t)(a->s[i] - '0');
		if (v >= TEMPLATE_COUNT_MAX) {
			v = TEMPLATE_COUNT_MAX;
			break;
		}
	}
	*count = v;
	return 0;
}

/* Parse a filter after "|": a name and, after ':', its arguments. */
static int
template_parse_filter(struct template *t)
{
	const struct template_filter_def *def = NULL;
	struct template_filter f;
	struct template_arg a;
	size_t i, start = t->pos, len, argoff = 0;

	while (template_iskey(template_peek(t)))
		t->pos++;
	len = t->pos - start;
	if (len == 0)
		return template_error(t, start,
		    "expected a filter name after \"|\"");
	for (i = 0; i < sizeof template_filter_defs /
	    sizeof template_filter_defs[0]; i++) {
		if (strlen(template_filter_defs[i].name) == len &&
		    memcmp(template_filter_defs[i].name, t->src + start,
		    len) == 0)
			def = &template_filter_defs[i];
	}
	if (def == NULL)
		return template_error(t, start, "unknown filter \"%.*s\"",
		    len > 40 ? 40 : (int)len, t->src + start);

	memset(&f, 0, sizeof f);
	f.kind = def->kind;
	f.arg = t->narg;
	template_skipws(t);
	if (template_peek(t) == ':') {
		t->pos++;
		for (;;) {
			template_skipws(t);
			if (f.narg == def->max)
				return template_error(t, start, "%s",
				    def->usage);
			if (f.narg == 0)
				argoff = t->pos;
			if (template_parse_arg(t, &a) == -1)
				return -1;
			t->args = template_grow(t->args, t->narg, &t->argcap,
			    sizeof *t->args);
			t->args[t->narg++] = a;
			f.narg++;
			template_skipws(t);
			if (template_peek(t) != ',')
				break;
			t->pos++;
		}
	}
	if (f.narg < def->min)
		return template_error(t, start, "%s", def->usage);
	if (f.kind == TEMPLATE_TRUNCATE && template_parse_count(t,
	    &t->args[f.arg], argoff, &f.count) == -1)
		return -1;
	t->filters = template_grow(t->filters, t->nfilter, &t->filtercap,
	    sizeof *t->filters);
	t->filters[t->nfilter++] = f;
	return 0;
}

/* Parse the expression whose "{{" is at open, up to and past its "}}". */
static int
template_parse_expr(struct template *t, size_t open)
{
	struct template_node nd;
	int c;

	if (memmem(t->src + open + 2, t->n - open - 2, "}}", 2) == NULL)
		return template_error(t, open, "unclosed \"{{\"");
	t->pos = open + 2;
	if (template_peek(t) == '-')
		return template_error(t, t->pos,
		    "whitespace control (\"{{-\") is not supported");

	memset(&nd, 0, sizeof nd);
	nd.expr = 1;
	template_skipws(t);
	if (template_parse_path(t, &nd.path) == -1)
		return -1;
	nd.filter = t->nfilter;
	template_skipws(t);
	while (template_peek(t) == '|') {
		t->pos++;
		template_skipws(t);
		if (template_parse_filter(t) == -1)
			return -1;
		template_skipws(t);
	}
	nd.nfilter = t->nfilter - nd.filter;

	c = template_peek(t);
	if (c == -1)
		return template_error(t, open, "unclosed \"{{\"");
	if (c == '-' && t->n - t->pos >= 3 &&
	    memcmp(t->src + t->pos, "-}}", 3) == 0)
		return template_error(t, t->pos,
		    "whitespace control (\"-}}\") is not supported");
	if (c != '}' || t->pos + 1 >= t->n || t->src[t->pos + 1] != '}') {
		if (c > ' ' && c < 0x7f)
			return template_error(t, t->pos, "unexpected '%c'", c);
		return template_error(t, t->pos, "unexpected byte 0x%02x", c);
	}
	t->pos += 2;
	t->nodes = template_grow(t->nodes, t->nnode, &t->nodecap,
	    sizeof *t->nodes);
	t->nodes[t->nnode++] = nd;
	return 0;
}

/* Parse src into t (always release t with template_free); 0 or -1. */
static int
template_parse(struct template *t, const char *src, char **cause)
{
	const char *p;
	size_t i, start;

	memset(t, 0, sizeof *t);
	t->cause = cause;
	if (src == NULL) {
		if (cause != NULL)
			*cause = xstrdup("template: no template");
		return -1;
	}
	t->src = src;
	t->n = strnlen(src, ENG_TEMPLATE_MAX_SIZE + 1);
	if (t->n > ENG_TEMPLATE_MAX_SIZE)
		return template_error(t, ENG_TEMPLATE_MAX_SIZE,
		    "longer than %d bytes", ENG_TEMPLATE_MAX_SIZE);
	if ((p = memmem(src, t->n, "{%", 2)) != NULL)
		return template_error(t, (size_t)(p - src),
		    "tags are not supported (\"{%%\")");

	i = start = 0;
	while ((p = memchr(src + i, '{', t->n - i)) != NULL) {
		i = (size_t)(p - src);
		if (i + 1 >= t->n)
			break;
		if (src[i + 1] != '{') {
			i++;
			continue;
		}
		template_add_text(t, start, i);
		if (t->nexpr == ENG_TEMPLATE_MAX_EXPRS)
			return template_error(t, i, "more than %d expressions",
			    ENG_TEMPLATE_MAX_EXPRS);
		t->nexpr++;
		if (template_parse_expr(t, i) == -1)
			return -1;
		i = start = t->pos;
	}
	template_add_text(t, start, t->n);
	return 0;
}

/* Release a parsed template's arrays. */
static void
template_free(struct template *t)
{
	free(t->nodes);
	free(t->segs);
	free(t->args);
	free(t->filters);
}

/* Start an empty buffer holding at most limit bytes. */
static void
template_buf_init(struct template_buf *b, size_t limit,
    enum eng_template_mode mode)
{
	memset(b, 0, sizeof *b);
	b->limit = limit;
	b->mode = mode;
}

/* Make room for n more bytes and a terminating NUL. */
static void
template_buf_reserve(struct template_buf *b, size_t n)
{
	size_t want = b->len + n + 1;

	if (want <= b->cap)
		return;
	if (want < 64)
		want = 64;
	if (want < b->cap * 2)
		want = b->cap * 2;
	b->s = xreallocarray(b->s, want, 1);
	b->cap = want;
}

/* Append n bytes unchanged if they fit under the limit; 0, or -1. */
static int
template_buf_raw(struct template_buf *b, const char *p, size_t n)
{
	if (b->full || n > b->limit - b->len) {
		b->full = 1;
		return -1;
	}
	template_buf_reserve(b, n);
	memcpy(b->s + b->len, p, n);
	b->len += n;
	return 0;
}

/* The character at s as JSON string contents into out (8 bytes). */
static size_t
template_unit(const char *s, size_t n, size_t *used, char *out)
{
	unsigned char c = (unsigned char)s[0];
	const char *esc = NULL;
	size_t k;

	*used = 1;
	switch (c) {
	case '"':
		esc = "\\\"";
		break;
	case '\\':
		esc = "\\\\";
		break;
	case '\b':
		esc = "\\b";
		break;
	case '\f':
		esc = "\\f";
		break;
	case '\n':
		esc = "\\n";
		break;
	case '\r':
		esc = "\\r";
		break;
	case '\t':
		esc = "\\t";
		break;
	}
	if (esc != NULL) {
		memcpy(out, esc, 2);
		return 2;
	}
	if (c < 0x20) {
		snprintf(out, 8, "\\u%04x", c);
		return 6;
	}
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if ((k = eng_utf8_char(s, n)) == 0) {
		memcpy(out, "\\ufffd", 6);
		return 6;
	}
	memcpy(out, s, k);
	*used = k;
	return k;
}

/* Append text, cut at a character boundary if it does not all fit. */
static void
template_put_text(struct template_buf *b, const char *p, size_t n)
{
	size_t cut, k;

	if (b->full || n == 0)
		return;
	if (n <= b->limit - b->len) {
		template_buf_raw(b, p, n);
		return;
	}
	cut = b->limit - b->len;
	for (k = 0; k < 3 && cut > 0 &&
	    ((unsigned char)p[cut] & 0xc0) == 0x80; k++)
		cut--;
	template_buf_raw(b, p, cut);
	b->full = 1;
}

/*
 * Append text with HTML's special characters as character references
 * (NUL bytes are dropped); a reference is written whole or not at all.
 */
static void
template_put_html(struct template_buf *b, const char *p, size_t n)
{
	const char *esc;
	size_t k;

	while (n > 0 && !b->full) {
		for (k = 0; k < n && p[k] != '\0' && p[k] != '&' &&
		    p[k] != '<' && p[k] != '>' && p[k] != '"' && p[k] != '\'';
		    k++)
			;
		template_put_text(b, p, k);
		if (k == n)
			return;
		esc = p[k] == '&' ? "&amp;" : p[k] == '<' ? "&lt;" :
		    p[k] == '>' ? "&gt;" : p[k] == '"' ? "&quot;" :
		    p[k] == '\'' ? "&#39;" : "";
		template_buf_raw(b, esc, strlen(esc));
		p += k + 1;
		n -= k + 1;
	}
}

/* Append text as the buffer's mode says (NUL bytes are dropped in text). */
static void
template_put(struct template_buf *b, const char *p, size_t n)
{
	const char *q;
	char tmp[8];
	size_t k, used;

	if (b->mode == ENG_TEMPLATE_HTML) {
		template_put_html(b, p, n);
		return;
	}
	if (b->mode == ENG_TEMPLATE_JSON) {
		while (n > 0 && !b->full) {
			k = template_unit(p, n, &used, tmp);
			if (template_buf_raw(b, tmp, k) == -1)
				return;
			p += used;
			n -= used;
		}
		return;
	}
	while (n > 0 && !b->full) {
		if ((q = memchr(p, '\0', n)) == NULL) {
			template_put_text(b, p, n);
			return;
		}
		template_put_text(b, p, (size_t)(q - p));
		n -= (size_t)(q - p) + 1;
		p = q + 1;
	}
}

/* Append a JSON string literal for s (through the buffer's mode). */
static void
template_quote(struct template_buf *b, const char *s, size_t n)
{
	char tmp[8];
	size_t k, used;

	template_put(b, "\"", 1);
	while (n > 0 && !b->full) {
		k = template_unit(s, n, &used, tmp);
		template_put(b, tmp, k);
		s += used;
		n -= used;
	}
	template_put(b, "\"", 1);
}

/* Format a JSON number: integers exactly, reals in the shortest exact form. */
static size_t
template_number(json_t *v, char *buf, size_t len)
{
	double d;
	int prec;

	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return strlen(buf);
	}
	d = json_real_value(v);
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(buf, len, "%.17g", d);
	if (strpbrk(buf, ".eEni") == NULL && strlen(buf) + 2 < len)
		strcat(buf, ".0");
	return strlen(buf);
}

/* Append a scalar as compact JSON. */
static void
template_encode_scalar(struct template_buf *b, json_t *v)
{
	char num[32];

	switch (json_typeof(v)) {
	case JSON_STRING:
		template_quote(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		template_put(b, num, template_number(v, num, sizeof num));
		break;
	case JSON_TRUE:
		template_put(b, "true", 4);
		break;
	case JSON_FALSE:
		template_put(b, "false", 5);
		break;
	default:
		template_put(b, "null", 4);
		break;
	}
}

/* Append v as compact JSON, iteratively, until done or the buffer fills. */
static void
template_encode(struct template_buf *b, json_t *v)
{
	struct template_frame *st = NULL, *f;
	size_t n = 0, cap = 0;

	while (v != NULL && !b->full) {
		if (json_is_array(v) || json_is_object(v)) {
			st = template_grow(st, n, &cap, sizeof *st);
			f = &st[n++];
			f->c = v;
			f->i = 0;
			f->iter = json_is_object(v) ? json_object_iter(v) :
			    NULL;
			template_put(b, json_is_array(v) ? "[" : "{", 1);
		} else
			template_encode_scalar(b, v);

		/* The next value: a member of the innermost open container. */
		v = NULL;
		while (n > 0 && v == NULL && !b->full) {
			f = &st[n - 1];
			if (json_is_array(f->c)) {
				if (f->i < json_array_size(f->c)) {
					if (f->i > 0)
						template_put(b, ",", 1);
					v = json_array_get(f->c, f->i++);
				} else {
					template_put(b, "]", 1);
					n--;
				}
			} else if (f->iter != NULL) {
				if (f->i++ > 0)
					template_put(b, ",", 1);
				template_quote(b, json_object_iter_key(f->iter),
				    json_object_iter_key_len(f->iter));
				template_put(b, ":", 1);
				v = json_object_iter_value(f->iter);
				f->iter = json_object_iter_next(f->c, f->iter);
			} else {
				template_put(b, "}", 1);
				n--;
			}
		}
	}
	free(st);
}

/* Append a context value as it renders. */
static void
template_emit_json(struct template_buf *b, json_t *v)
{
	char num[32];

	switch (json_typeof(v)) {
	case JSON_STRING:
		template_put(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		template_put(b, num, template_number(v, num, sizeof num));
		break;
	case JSON_TRUE:
		template_put(b, "true", 4);
		break;
	case JSON_FALSE:
		template_put(b, "false", 5);
		break;
	case JSON_NULL:
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		template_encode(b, v);
		break;
	}
}

/* Append a value as it renders (missing: nothing). */
static void
template_emit(struct template_buf *b, const struct template_val *v)
{
	if (v->json != NULL)
		template_emit_json(b, v->json);
	else if (v->s != NULL)
		template_put(b, v->s, v->len);
}

/* Make v missing, freeing what it owns. */
static void
template_val_clear(struct template_val *v)
{
	free(v->buf);
	memset(v, 0, sizeof *v);
}

/* Make v the text in b, taking b's storage. */
static void
template_val_take(struct template_val *v, struct template_buf *b)
{
	template_val_clear(v);
	v->buf = b->s;
	v->s = b->s != NULL ? b->s : "";
	v->len = b->len;
}

/* Make v a number. */
static void
template_val_number(struct template_val *v, long long n)
{
	template_val_clear(v);
	snprintf(v->num, sizeof v->num, "%lld", n);
	v->s = v->num;
	v->len = strlen(v->num);
	v->number = 1;
}

/* Take n bytes from the work budget (what is left, if less). */
static void
template_charge(struct template_render *r, size_t n)
{
	r->work -= n < r->work ? n : r->work;
}

/* Start a buffer for a value made by a filter, within the work budget. */
static void
template_work_buf(struct template_render *r, struct template_buf *b)
{
	template_buf_init(b, r->work < ENG_TEMPLATE_MAX_OUTPUT ? r->work :
	    ENG_TEMPLATE_MAX_OUTPUT, ENG_TEMPLATE_TEXT);
}

/* Finish a filter's buffer: charge it and make it v's value. */
static void
template_work_done(struct template_render *r, struct template_buf *b,
    struct template_val *v)
{
	template_charge(r, b->len);
	template_val_take(v, b);
}

/* The number of characters (UTF-8 sequence starts) in s. */
static size_t
template_chars(const char *s, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	}
	return c;
}

/* The byte offset just after the first count characters of s (or n). */
static size_t
template_advance(const char *s, size_t n, size_t count)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && c++ == count)
			return i;
	}
	return n;
}

/* The size of an array, object or string; 0, or -1 if it has none. */
static int
template_size_of(struct template_render *r, const struct template_val *v,
    long long *size)
{
	const char *s;
	size_t len;

	if (v->json == NULL) {
		if (v->s == NULL || v->number)
			return -1;
		s = v->s;
		len = v->len;
	} else if (json_is_array(v->json)) {
		*size = (long long)json_array_size(v->json);
		return 0;
	} else if (json_is_object(v->json)) {
		*size = (long long)json_object_size(v->json);
		return 0;
	} else if (json_is_string(v->json)) {
		s = json_string_value(v->json);
		len = json_string_length(v->json);
	} else
		return -1;
	/* Counting is work: a context string can be as long as it likes. */
	if (len > r->work) {
		r->work = 0;
		return -1;
	}
	template_charge(r, len);
	*size = (long long)template_chars(s, len);
	return 0;
}

/* Look a path up in the context; a miss leaves v missing. */
static void
template_lookup(struct template_render *r, const struct template_path *p,
    struct template_val *v)
{
	const struct template_seg *sg;
	struct template_val tmp;
	json_t *cur = r->ctx, *next;
	long long idx, size;
	size_t i;

	template_val_clear(v);
	for (i = 0; i < p->nseg && cur != NULL; i++) {
		sg = &r->t->segs[p->seg + i];
		next = NULL;
		switch (sg->kind) {
		case TEMPLATE_SEG_KEY:
		case TEMPLATE_SEG_QUOTED:
			if (json_is_object(cur))
				next = json_object_getn(cur, sg->key, sg->len);
			if (next != NULL || sg->kind != TEMPLATE_SEG_KEY ||
			    i == 0 || i + 1 != p->nseg || sg->len != 4 ||
			    memcmp(sg->key, "size", 4) != 0)
				break;
			memset(&tmp, 0, sizeof tmp);
			tmp.json = cur;
			if (template_size_of(r, &tmp, &size) == 0)
				template_val_number(v, size);
			return;
		case TEMPLATE_SEG_INDEX:
			if (!json_is_array(cur))
				break;
			idx = sg->index;
			size = (long long)json_array_size(cur);
			if (idx < 0)
				idx += size;
			if (idx >= 0 && idx < size)
				next = json_array_get(cur, (size_t)idx);
			break;
		}
		cur = next;
	}
	v->json = cur;
}

/* Make v a filter argument's value. */
static void
template_arg(struct template_render *r, const struct template_arg *a,
    struct template_val *v)
{
	template_val_clear(v);
	switch (a->kind) {
	case TEMPLATE_ARG_STRING:
	case TEMPLATE_ARG_NUMBER:
		v->s = a->s;
		v->len = a->len;
		v->number = a->kind == TEMPLATE_ARG_NUMBER;
		break;
	case TEMPLATE_ARG_PATH:
		template_lookup(r, &a->path, v);
		break;
	}
}

/* Turn v into text it owns, as it would render. */
static void
template_text(struct template_render *r, struct template_val *v)
{
	struct template_buf b;

	if (v->buf != NULL)
		return;
	template_work_buf(r, &b);
	template_emit(&b, v);
	template_work_done(r, &b, v);
}

/* Whether default replaces v: missing, null, false or empty. */
static int
template_blank(const struct template_val *v)
{
	if (v->json == NULL)
		return v->s == NULL || (v->len == 0 && !v->number);
	switch (json_typeof(v->json)) {
	case JSON_NULL:
	case JSON_FALSE:
		return 1;
	case JSON_STRING:
		return json_string_length(v->json) == 0;
	case JSON_ARRAY:
		return json_array_size(v->json) == 0;
	case JSON_OBJECT:
		return json_object_size(v->json) == 0;
	default:
		return 0;
	}
}

/* The json filter: v encoded as JSON (missing is null). */
static void
template_filter_json(struct template_render *r, struct template_val *v)
{
	struct template_buf b;

	template_work_buf(r, &b);
	if (v->json != NULL)
		template_encode(&b, v->json);
	else if (v->s == NULL)
		template_put(&b, "null", 4);
	else if (v->number)
		template_put(&b, v->s, v->len);
	else
		template_quote(&b, v->s, v->len);
	template_work_done(r, &b, v);
}

/* The truncate filter: at most count characters, ellipsis included. */
static void
template_filter_truncate(struct template_render *r,
    const struct template_filter *f, struct template_val *v)
{
	struct template_val e;
	struct template_buf b;
	size_t keep, ec;

	template_text(r, v);
	if (template_advance(v->s, v->len, f->count) >= v->len)
		return;
	memset(&e, 0, sizeof e);
	if (f->narg == 2) {
		template_arg(r, &r->t->args[f->arg + 1], &e);
		template_text(r, &e);
	} else {
		e.s = "...";
		e.len = 3;
	}
	ec = template_chars(e.s, e.len);
	keep = f->count > ec ? f->count - ec : 0;
	template_work_buf(r, &b);
	template_put(&b, v->s, template_advance(v->s, v->len, keep));
	template_put(&b, e.s, e.len);
	template_work_done(r, &b, v);
	template_val_clear(&e);
}

/* The join filter: an array's elements as text between separators. */
static void
template_filter_join(struct template_render *r,
    const struct template_filter *f, struct template_val *v)
{
	struct template_val sep;
	struct template_buf b;
	size_t i;

	if (v->json == NULL || !json_is_array(v->json)) {
		template_text(r, v);
		return;
	}
	memset(&sep, 0, sizeof sep);
	if (f->narg == 1) {
		template_arg(r, &r->t->args[f->arg], &sep);
		template_text(r, &sep);
	} else {
		sep.s = " ";
		sep.len = 1;
	}
	template_work_buf(r, &b);
	for (i = 0; i < json_array_size(v->json) && !b.full; i++) {
		if (i > 0)
			template_put(&b, sep.s, sep.len);
		template_emit_json(&b, json_array_get(v->json, i));
	}
	template_work_done(r, &b, v);
	template_val_clear(&sep);
}

/* Evaluate an expression: its path, then its filters in order. */
static void
template_eval(struct template_render *r, const struct template_node *nd,
    struct template_val *v)
{
	const struct template_filter *f;
	long long size;
	size_t i, j;

	template_lookup(r, &nd->path, v);
	for (i = 0; i < nd->nfilter; i++) {
		f = &r->t->filters[nd->filter + i];
		switch (f->kind) {
		case TEMPLATE_DEFAULT:
			if (template_blank(v))
				template_arg(r, &r->t->args[f->arg], v);
			break;
		case TEMPLATE_UPCASE:
		case TEMPLATE_DOWNCASE:
			template_text(r, v);
			for (j = 0; j < v->len; j++) {
				if (f->kind == TEMPLATE_UPCASE &&
				    v->buf[j] >= 'a' && v->buf[j] <= 'z')
					v->buf[j] -= 'a' - 'A';
				else if (f->kind == TEMPLATE_DOWNCASE &&
				    v->buf[j] >= 'A' && v->buf[j] <= 'Z')
					v->buf[j] += 'a' - 'A';
			}
			break;
		case TEMPLATE_JSON:
			template_filter_json(r, v);
			break;
		case TEMPLATE_TRUNCATE:
			template_filter_truncate(r, f, v);
			break;
		case TEMPLATE_JOIN:
			template_filter_join(r, f, v);
			break;
		case TEMPLATE_SIZE:
			if (template_size_of(r, v, &size) == -1)
				size = 0;
			template_val_number(v, size);
			break;
		}
	}
}

/*
 * Render a parsed template.  The literal text always fits (a template is
 * no longer than the output limit), so a value may use only what the
 * literal text still to come leaves: out.len + left <= the limit, always.
 */
static char *
template_render(const struct template *t, json_t *ctx,
    enum eng_template_mode mode)
{
	const struct template_node *nd;
	struct template_render r;
	struct template_buf out;
	struct template_val v;
	size_t i, left = t->litlen;
	int stop = 0;

	r.t = t;
	r.ctx = ctx;
	r.work = TEMPLATE_WORK_MAX;
	template_buf_init(&out, ENG_TEMPLATE_MAX_OUTPUT, mode);
	template_buf_reserve(&out, 0);
	memset(&v, 0, sizeof v);
	for (i = 0; i < t->nnode; i++) {
		nd = &t->nodes[i];
		if (!nd->expr) {
			assert(out.len + left <= ENG_TEMPLATE_MAX_OUTPUT);
			template_buf_reserve(&out, nd->len);
			memcpy(out.s + out.len, nd->text, nd->len);
			out.len += nd->len;
			left -= nd->len;
			continue;
		}
		if (stop)
			continue;
		template_eval(&r, nd, &v);
		out.limit = ENG_TEMPLATE_MAX_OUTPUT - left;
		template_emit(&out, &v);
		template_val_clear(&v);
		if (out.full)
			stop = 1;
	}
	out.s[out.len] = '\0';
	return out.s;
}

/* Render tpl against ctx; a new string, or NULL with *cause. */
char *
eng_template_render(const char *tpl, json_t *ctx, enum eng_template_mode mode,
    char **cause)
{
	struct template t;
	char *s = NULL;

	if (template_parse(&t, tpl, cause) == 0)
		s = template_render(&t, ctx, mode);
	template_free(&t);
	return s;
}

/* A parsed template for eng_template_run. */
struct eng_template {
	struct template t;
};

/* Parse tpl for many renders; NULL with *cause if it does not check. */
struct eng_template *
eng_template_parse(const char *tpl, char **cause)
{
	struct eng_template *p = xmalloc(sizeof *p);

	if (template_parse(&p->t, tpl, cause) != 0) {
		eng_template_free(p);
		return NULL;
	}
	p->t.cause = NULL;
	return p;
}

/* Render a parsed template against ctx (a new string). */
char *
eng_template_run(const struct eng_template *p, json_t *ctx,
    enum eng_template_mode mode)
{
	return template_render(&p->t, ctx, mode);
}

/* Release a parsed template. */
void
eng_template_free(struct eng_template *p)
{
	if (p == NULL)
		return;
	template_free(&p->t);
	free(p);
}

/* Check a template's syntax; 0, or -1 with *cause. */
int
eng_template_check(const char *tpl, char **cause)
{
	struct template t;
	int rc;

	rc = template_parse(&t, tpl, cause);
	template_free(&t);
	return rc;
}
