/*
 * Email messages (RFC 5322 with MIME, RFC 2045-2047) built from a
 * channel step's rendered parts, with no network: the text a delivery
 * hands to the SMTP server after DATA, lines ending in CRLF.
 *
 * A message with an HTML part is multipart/alternative, the text part
 * first (derived from the HTML when the step has none) and the HTML part
 * second; a message with text only is a single text/plain part.  Parts
 * are UTF-8 in quoted-printable, whose output never holds "=_", so the
 * boundary "=_belfry_ID" cannot occur inside a part.  Header values that
 * come from templates have their control characters replaced with spaces
 * (no header can be injected) and non-ASCII text in RFC 2047 encoded
 * words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine_int.h"

/* A quoted-printable line holds at most this many characters (RFC 2045). */
#define MIME_QP_LINE 76

/* Bytes of text per RFC 2047 encoded word (base64: 60 characters). */
#define MIME_WORD_BYTES 45

/* Whether c may appear in the local part of an address (RFC 5322 atext). */
static int
mime_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* See engine_int.h. */
int
eng_mail_valid(const char *addr)
{
	const char *at = strrchr(addr, '@'), *p, *label;
	size_t n = strlen(addr);

	if (at == NULL || at == addr || at - addr > 64 || n > 254 ||
	    addr[0] == '.' || at[-1] == '.')
		return 0;
	for (p = addr; p < at; p++)
		if (!mime_atext((unsigned char)*p) || (p[0] == '.' &&
		    p[1] == '.'))
			return 0;
	/* The domain: dot-separated labels of letters, digits and '-'. */
	for (label = p = at + 1;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || label[0] == '-' || p[-1] == '-' ||
			    p - label > 63)
				return 0;
			if (*p == '\0')
				return 1;
			label = p + 1;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
		    *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	}
}

/* See engine_int.h. */
int
eng_mail_parse(const char *spec, char **name, char **addr)
{
	const char *lt = strrchr(spec, '<'), *end;
	size_t n;

	*name = *addr = NULL;
	if (lt == NULL) {
		if (!eng_mail_valid(spec))
			return -1;
		*addr = xstrdup(spec);
		return 0;
	}
	if ((end = strchr(lt, '>')) == NULL || end[1] != '\0')
		return -1;
	*addr = xmalloc((size_t)(end - lt));
	memcpy(*addr, lt + 1, (size_t)(end - lt - 1));
	(*addr)[end - lt - 1] = '\0';
	if (!eng_mail_valid(*addr)) {
		free(*addr);
		*addr = NULL;
		return -1;
	}
	for (n = (size_t)(lt - spec); n > 0 && spec[n - 1] == ' '; n--)
		;
	if (n > 0) {
		*name = xmalloc(n + 1);
		memcpy(*name, spec, n);
		(*name)[n] = '\0';
	}
	return 0;
}

/* Append a NUL-terminated string. */
static void
mime_put(struct eng_text *t, const char *s)
{
	eng_text_add(t, s, strlen(s));
}

/* s with every control character (CR and LF among them) as a space. */
static char *
mime_clean(const char *s)
{
	char *c = xstrdup(s), *p;

	for (p = c; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

/* Whether s is printable ASCII (no encoded word needed). */
static int
mime_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/*
 * Append clean text s (no control characters) as RFC 2047 encoded words
 * of at most MIME_WORD_BYTES bytes each, cut between UTF-8 characters,
 * folded onto continuation lines.
 */
static void
mime_words(struct eng_text *t, const char *s)
{
	size_t n = strlen(s), k;
	char *b64;
	int first = 1;

	while (n > 0) {
		k = n < MIME_WORD_BYTES ? n : MIME_WORD_BYTES;
		while (k < n && k > 1 && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--;
		b64 = eng_base64_encode((const unsigned char *)s, k);
		if (!first)
			mime_put(t, "\r\n ");
		mime_put(t, "=?UTF-8?B?");
		mime_put(t, b64);
		mime_put(t, "?=");
		free(b64);
		first = 0;
		s += k;
		n -= k;
	}
}

/* Append header name: value, value being free text from a template. */
static void
mime_header_text(struct eng_text *t, const char *name, const char *value)
{
	char *c = mime_clean(value);

	mime_put(t, name);
	mime_put(t, ": ");
	if (mime_ascii(c))
		mime_put(t, c);
	else
		mime_words(t, c);
	mime_put(t, "\r\n");
	free(c);
}

/* Whether s is a phrase as it stands: atext words and spaces. */
static int
mime_phrase(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s != ' ' && (!mime_atext((unsigned char)*s) || *s == '.'))
			return 0;
	return 1;
}

/* Append header name: an address with its display name (may be NULL). */
static void
mime_header_address(struct eng_text *t, const char *name,
    const char *display, const char *addr)
{
	char *c = display != NULL ? mime_clean(display) : NULL, *p;

	mime_put(t, name);
	mime_put(t, ": ");
	if (c != NULL && *c != '\0') {
		if (!mime_ascii(c))
			mime_words(t, c);
		else if (mime_phrase(c))
			mime_put(t, c);
		else {
			/* A quoted string: only '"' and '\\' need escaping. */
			eng_text_add(t, "\"", 1);
			for (p = c; *p != '\0'; p++) {
				if (*p == '"' || *p == '\\')
					eng_text_add(t, "\\", 1);
				eng_text_add(t, p, 1);
			}
			eng_text_add(t, "\"", 1);
		}
		mime_put(t, " <");
		mime_put(t, addr);
		mime_put(t, ">");
	} else
		mime_put(t, addr);
	mime_put(t, "\r\n");
	free(c);
}

/*
 * Append s as quoted-printable: lines end in CRLF whatever ended them,
 * '=', bytes outside printable ASCII and a line's trailing space or tab
 * are encoded, and lines longer than MIME_QP_LINE are broken with soft
 * line breaks.
 */
static void
mime_qp(struct eng_text *t, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0, w;
	unsigned char c;
	char enc[3];
	int last;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '\r' && s[1] == '\n')
			continue;
		if (c == '\n' || c == '\r') {
			mime_put(t, "\r\n");
			col = 0;
			continue;
		}
		last = s[1] == '\0' || s[1] == '\n' || s[1] == '\r';
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' ||
		    c == '\t') && !last)) {
			enc[0] = (char)c;
			w = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[c >> 4];
			enc[2] = hex[c & 15];
			w = 3;
		}
		/* Room for the soft break's '=' unless this ends the line. */
		if (col + w > MIME_QP_LINE - (last ? 0 : 1)) {
			mime_put(t, "=\r\n");
			col = 0;
		}
		eng_text_add(t, enc, w);
		col += w;
	}
	if (col > 0)
		mime_put(t, "\r\n");
}

/* Append one part's head and quoted-printable body. */
static void
mime_part(struct eng_text *t, const char *type, const char *body)
{
	mime_put(t, "Content-Type: ");
	mime_put(t, type);
	mime_put(t, "; charset=utf-8\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\n");
	mime_qp(t, body);
}

/* See engine_int.h. */
char *
eng_mime_build(const struct eng_mail *m)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct eng_text t = { NULL, 0, 0 };
	char buf[128], *from_name, *from_addr, *derived = NULL, *lu;
	const char *domain, *text = m->text;
	time_t when = (time_t)m->date;
	struct tm tm;

	if (eng_mail_parse(m->from, &from_name, &from_addr) != 0)
		return NULL;
	gmtime_r(&when, &tm);
	snprintf(buf, sizeof buf, "Date: %s, %02d %s %04d %02d:%02d:%02d "
	    "+0000\r\n", days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	mime_put(&t, buf);
	mime_header_address(&t, "From", from_name, from_addr);
	mime_header_address(&t, "To", m->to_name, m->to);
	mime_header_text(&t, "Subject", m->subject != NULL ? m->subject : "");
	domain = strrchr(from_addr, '@') + 1;
	mime_put(&t, "Message-ID: <");
	mime_put(&t, m->message_id);
	mime_put(&t, "@");
	mime_put(&t, domain);
	mime_put(&t, ">\r\n");
	if (m->list_unsubscribe != NULL) {
		lu = mime_clean(m->list_unsubscribe);
		if (*lu != '\0' && mime_ascii(lu)) {
			mime_put(&t, "List-Unsubscribe: ");
			mime_put(&t, lu);
			mime_put(&t, "\r\n");
		}
		free(lu);
	}
	mime_put(&t, "MIME-Version: 1.0\r\n");
	if (m->html == NULL) {
		mime_part(&t, "text/plain", text != NULL ? text : "");
	} else {
		if (text == NULL)
			text = derived = eng_html_text(m->html);
		mime_put(&t, "Content-Type: multipart/alternative; "
		    "boundary=\"=_belfry_");
		mime_put(&t, m->message_id);
		mime_put(&t, "\"\r\n\r\n--=_belfry_");
		mime_put(&t, m->message_id);
		mime_put(&t, "\r\n");
		mime_part(&t, "text/plain", text);
		mime_put(&t, "--=_belfry_");
		mime_put(&t, m->message_id);
		mime_put(&t, "\r\n");
		mime_part(&t, "text/html", m->html);
		mime_put(&t, "--=_belfry_");
		mime_put(&t, m->message_id);
		mime_put(&t, "--\r\n");
	}
	eng_text_add(&t, "", 1);
	free(derived);
	free(from_name);
	free(from_addr);
	return t.s;
}
