/*
 * A small Markdown subset rendered to HTML for in-app feed blocks (Knock's
 * "rendered"): paragraphs, **strong**, *em* / _em_, `code` and
 * [links](url).  Everything else is text, and all text is HTML-escaped, so
 * data in a message can never inject markup.  Link targets other than
 * http(s), mailto and relative paths are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/* An output buffer. */
struct md_buf {
	char *s;
	size_t len, cap;
};

/* Append n bytes. */
static void
md_put(struct md_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xreallocarray(b->s, b->cap, 1);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Append a C string. */
static void
md_puts(struct md_buf *b, const char *s)
{
	md_put(b, s, strlen(s));
}

/* Append n bytes HTML-escaped. */
static void
md_esc(struct md_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': md_puts(b, "&amp;"); break;
		case '<': md_puts(b, "&lt;"); break;
		case '>': md_puts(b, "&gt;"); break;
		case '"': md_puts(b, "&quot;"); break;
		case '\'': md_puts(b, "&#39;"); break;
		default: md_put(b, s + i, 1);
		}
	}
}

/* Whether a link target is safe to emit. */
static int
md_safe_url(const char *u, size_t n)
{
	size_t i;

	if ((n >= 7 && strncmp(u, "http://", 7) == 0) ||
	    (n >= 8 && strncmp(u, "https://", 8) == 0) ||
	    (n >= 7 && strncmp(u, "mailto:", 7) == 0))
		return 1;
	/* Relative: no scheme before the first '/', '?' or '#'. */
	for (i = 0; i < n && u[i] != '/' && u[i] != '?' && u[i] != '#'; i++)
		if (u[i] == ':')
			return 0;
	return 1;
}

/* Render the inline markup of [s, s + n), nesting at most 8 deep. */
static void
md_inline(struct md_buf *b, const char *s, size_t n, int depth)
{
	const char *end = s + n, *close, *mid;
	size_t i = 0;

	if (depth > 8) {
		md_esc(b, s, n);
		return;
	}
	while (s + i < end) {
		const char *p = s + i;

		if (p + 1 < end && p[0] == '*' && p[1] == '*' &&
		    (close = memmem(p + 2, (size_t)(end - p - 2), "**", 2)) !=
		    NULL && close > p + 2) {
			md_puts(b, "<strong>");
			md_inline(b, p + 2, (size_t)(close - p - 2), depth + 1);
			md_puts(b, "</strong>");
			i = (size_t)(close + 2 - s);
		} else if ((p[0] == '*' || p[0] == '_') && p + 1 < end &&
		    (close = memchr(p + 1, p[0], (size_t)(end - p - 1))) !=
		    NULL && close > p + 1) {
			md_puts(b, "<em>");
			md_inline(b, p + 1, (size_t)(close - p - 1), depth + 1);
			md_puts(b, "</em>");
			i = (size_t)(close + 1 - s);
		} else if (p[0] == '`' && (close = memchr(p + 1, '`',
		    (size_t)(end - p - 1))) != NULL) {
			md_puts(b, "<code>");
			md_esc(b, p + 1, (size_t)(close - p - 1));
			md_puts(b, "</code>");
			i = (size_t)(close + 1 - s);
		} else if (p[0] == '[' && (mid = memmem(p, (size_t)(end - p),
		    "](", 2)) != NULL && (close = memchr(mid + 2, ')',
		    (size_t)(end - mid - 2))) != NULL) {
			if (md_safe_url(mid + 2, (size_t)(close - mid - 2))) {
				md_puts(b, "<a href=\"");
				md_esc(b, mid + 2, (size_t)(close - mid - 2));
				md_puts(b, "\">");
			}
			md_inline(b, p + 1, (size_t)(mid - p - 1), depth + 1);
			if (md_safe_url(mid + 2, (size_t)(close - mid - 2)))
				md_puts(b, "</a>");
			i = (size_t)(close + 1 - s);
		} else {
			md_esc(b, p, 1);
			i++;
		}
	}
}

/* Markdown text as HTML (caller frees). */
char *
eng_markdown_html(const char *md)
{
	struct md_buf b = { NULL, 0, 0 };
	const char *p = md, *brk;
	size_t n;

	md_puts(&b, "");
	while (*p != '\0') {
		while (*p == '\n')
			p++;
		if (*p == '\0')
			break;
		brk = strstr(p, "\n\n");
		n = brk ? (size_t)(brk - p) : strlen(p);
		while (n > 0 && p[n - 1] == '\n')
			n--;
		md_puts(&b, "<p>");
		md_inline(&b, p, n, 0);
		md_puts(&b, "</p>\n");
		p += brk ? (size_t)(brk - p) : strlen(p);
	}
	return b.s;
}
