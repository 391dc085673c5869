/*
 * Plain text from HTML, for the text part of an email whose step gives
 * only "html": tags go, block elements become line breaks (paragraphs
 * and headings a blank line, list items "* "), a link keeps its target
 * after its text, character references are decoded, <head>, <script>,
 * <style> and comments are dropped, and runs of white space collapse as
 * a browser collapses them.  One pass, no recursion, any input.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/engine_int.h"

/* The text being made: what is pending between words. */
struct htext {
	struct eng_text out;
	int space;              /* a collapsed space is pending */
	int breaks;             /* line breaks pending (0..2) */
	char *href;             /* the open link's target, or NULL */
	size_t link_at;         /* where its text starts in out */
};

/* Ask for at least n line breaks before the next text. */
static void
htext_break(struct htext *h, int n)
{
	if (h->out.len > 0 && h->breaks < n)
		h->breaks = n;
	h->space = 0;
}

/* Append text bytes, writing the pending space or breaks first. */
static void
htext_put(struct htext *h, const char *p, size_t n)
{
	if (h->breaks > 0) {
		eng_text_add(&h->out, "\n\n", (size_t)h->breaks);
		h->breaks = 0;
		h->space = 0;
	} else if (h->space && h->out.len > 0) {
		eng_text_add(&h->out, " ", 1);
	}
	h->space = 0;
	eng_text_add(&h->out, p, n);
}

/* Append code point cp as UTF-8 (an invalid one as U+FFFD). */
static void
htext_codepoint(struct htext *h, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	htext_put(h, u, n);
}

/*
 * Decode the character reference at p ('&'): append it and return its
 * length, or 0 when it is not one (the '&' is then text).
 */
static size_t
htext_entity(struct htext *h, const char *p)
{
	static const struct { const char *name; unsigned long cp; } names[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' },
		{ "quot;", '"' }, { "apos;", '\'' }, { "nbsp;", 0xa0 },
		{ "copy;", 0xa9 }, { "reg;", 0xae }, { "hellip;", 0x2026 },
		{ "mdash;", 0x2014 }, { "ndash;", 0x2013 },
		{ "rsquo;", 0x2019 }, { "lsquo;", 0x2018 },
		{ "rdquo;", 0x201d }, { "ldquo;", 0x201c }, { "euro;", 0x20ac },
	};
	unsigned long cp;
	char *end;
	size_t i, n;

	if (p[1] == '#') {
		if (p[2] == 'x' || p[2] == 'X')
			cp = strtoul(p + 3, &end, 16);
		else
			cp = strtoul(p + 2, &end, 10);
		if (*end != ';' || end == p + 2 || end - p > 12 ||
		    ((p[2] == 'x' || p[2] == 'X') && end == p + 3))
			return 0;
		htext_codepoint(h, cp);
		return (size_t)(end - p) + 1;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		n = strlen(names[i].name);
		if (strncmp(p + 1, names[i].name, n) == 0) {
			if (names[i].cp == 0xa0) {
				h->space = 1;
				return n + 1;
			}
			htext_codepoint(h, names[i].cp);
			return n + 1;
		}
	}
	return 0;
}

/* Whether tag name t (len n) is name. */
static int
htext_is(const char *t, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(t, name, n) == 0;
}

/* The value of attribute attr inside tag text [p, end), or NULL (new). */
static char *
htext_attr(const char *p, const char *end, const char *attr)
{
	size_t n = strlen(attr);
	const char *v, *q;
	char quote, *out;

	for (; p + n < end; p++) {
		if (strncasecmp(p, attr, n) != 0 || (p[-1] != ' ' &&
		    p[-1] != '\t' && p[-1] != '\n'))
			continue;
		for (v = p + n; v < end && *v == ' '; v++)
			;
		if (v >= end || *v != '=')
			continue;
		for (v++; v < end && *v == ' '; v++)
			;
		quote = v < end && (*v == '"' || *v == '\'') ? *v++ : '\0';
		for (q = v; q < end && (quote ? *q != quote : *q != ' ' &&
		    *q != '>'); q++)
			;
		out = xmalloc((size_t)(q - v) + 1);
		memcpy(out, v, (size_t)(q - v));
		out[q - v] = '\0';
		return out;
	}
	return NULL;
}

/* A tag [p, end) (between '<' and '>'): its effect on the text. */
static void
htext_tag(struct htext *h, const char *p, const char *end)
{
	static const char *const blocks[] = { "div", "tr", "table", "ul",
		"ol", "blockquote", "section", "article", "header", "footer",
		"pre", "hr", "center", "dl", "dt", "dd", NULL };
	static const char *const paras[] = { "p", "h1", "h2", "h3", "h4",
		"h5", "h6", NULL };
	int closing = *p == '/';
	const char *name = p + closing, *q;
	size_t n, i, textlen;

	for (q = name; q < end && *q != ' ' && *q != '\t' && *q != '\n' &&
	    *q != '/'; q++)
		;
	n = (size_t)(q - name);
	if (htext_is(name, n, "br")) {
		if (h->out.len > 0 && h->breaks < 2)
			h->breaks++;
		h->space = 0;
		return;
	}
	if (htext_is(name, n, "li")) {
		htext_break(h, 1);
		if (!closing)
			htext_put(h, "* ", 2);
		h->space = 0;
		return;
	}
	for (i = 0; paras[i] != NULL; i++)
		if (htext_is(name, n, paras[i])) {
			htext_break(h, 2);
			return;
		}
	for (i = 0; blocks[i] != NULL; i++)
		if (htext_is(name, n, blocks[i])) {
			htext_break(h, 1);
			return;
		}
	if (!htext_is(name, n, "a"))
		return;
	if (!closing) {
		free(h->href);
		h->href = htext_attr(q, end, "href");
		h->link_at = h->out.len;
		return;
	}
	if (h->href == NULL)
		return;
	textlen = h->out.len - h->link_at;
	/* A link whose text is its target, or a fragment, keeps its text. */
	if (h->href[0] != '\0' && h->href[0] != '#' && (textlen !=
	    strlen(h->href) || memcmp(h->out.s + h->link_at, h->href,
	    textlen) != 0)) {
		htext_put(h, " (", 2);
		eng_text_add(&h->out, h->href, strlen(h->href));
		eng_text_add(&h->out, ")", 1);
	}
	free(h->href);
	h->href = NULL;
}

/* Skip past the end of the element whose content is not text. */
static const char *
htext_skip(const char *p, const char *closer)
{
	size_t n = strlen(closer);

	for (; *p != '\0'; p++)
		if (strncasecmp(p, closer, n) == 0)
			return p + n;
	return p;
}

/*
 * The closing tag of the element opened at p when its content is not
 * text (head, script, style), or NULL.
 */
static const char *
htext_hidden(const char *p)
{
	static const char *const hidden[][2] = { { "head", "</head>" },
		{ "script", "</script>" }, { "style", "</style>" } };
	size_t i, n;

	for (i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
		n = strlen(hidden[i][0]);
		if (strncasecmp(p + 1, hidden[i][0], n) == 0 &&
		    (p[n + 1] == '>' || p[n + 1] == ' ' || p[n + 1] == '\t' ||
		    p[n + 1] == '\n'))
			return hidden[i][1];
	}
	return NULL;
}

/* See engine_int.h. */
char *
eng_html_text(const char *html)
{
	struct htext h;
	const char *p = html, *end, *run, *closer;

	memset(&h, 0, sizeof h);
	while (*p != '\0') {
		if (strncmp(p, "<!--", 4) == 0) {
			p = htext_skip(p + 4, "-->");
			continue;
		}
		if (*p == '<' && (closer = htext_hidden(p)) != NULL) {
			p = htext_skip(p, closer);
			continue;
		}
		if (*p == '<' && (end = strchr(p, '>')) != NULL) {
			htext_tag(&h, p + 1, end);
			p = end + 1;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			h.space = 1;
			p++;
			continue;
		}
		if (*p == '&' && (end = p + htext_entity(&h, p)) != p) {
			p = end;
			continue;
		}
		for (run = p++; *p != '\0' && *p != '<' && *p != '&' &&
		    *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r'; p++)
			;
		htext_put(&h, run, (size_t)(p - run));
	}
	free(h.href);
	eng_text_add(&h.out, "\n", 1);
	eng_text_add(&h.out, "", 1);
	return h.out.s;
}
