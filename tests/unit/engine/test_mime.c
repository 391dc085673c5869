/*
 * engine/messages/mime.c, htmltext.c, sign.c and engine/base64.c: email
 * messages, text from HTML, base64 and Standard Webhooks signatures,
 * with no network.
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

#define ID "0b7ac2f1-3d4e-4f5a-8b6c-7d8e9f0a1b2c"

/* A message with every header, as a template of the tests below. */
static struct eng_mail
mail(void)
{
	struct eng_mail m;

	memset(&m, 0, sizeof m);
	m.from = "Belfry <noreply@example.com>";
	m.to = "ada@example.org";
	m.to_name = "Ada Lovelace";
	m.subject = "Hello";
	m.message_id = ID;
	m.date = 1796205896; /* 2026-12-02T10:04:56Z, a Wednesday */
	return m;
}

/* Whether text has line exactly (between CRLFs or at the start). */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || (p >= text + 2 && p[-1] == '\n' &&
		    p[-2] == '\r')) && strncmp(p + n, "\r\n", 2) == 0)
			return 1;
	return 0;
}

/* The head: Date, From, To, Subject, Message-ID, MIME-Version. */
static void
test_mime_head(void **state)
{
	struct eng_mail m = mail();
	char *t;

	(void)state;
	m.text = "plain";
	m.list_unsubscribe = "<https://example.com/u?id=1>";
	t = eng_mime_build(&m);
	assert_non_null(t);
	assert_true(has_line(t, "Date: Wed, 02 Dec 2026 10:04:56 +0000"));
	assert_true(has_line(t, "From: Belfry <noreply@example.com>"));
	assert_true(has_line(t, "To: Ada Lovelace <ada@example.org>"));
	assert_true(has_line(t, "Subject: Hello"));
	assert_true(has_line(t, "Message-ID: <" ID "@example.com>"));
	assert_true(has_line(t, "List-Unsubscribe: "
	    "<https://example.com/u?id=1>"));
	assert_true(has_line(t, "MIME-Version: 1.0"));
	/* Text only: one text/plain part, no multipart. */
	assert_true(has_line(t, "Content-Type: text/plain; charset=utf-8"));
	assert_null(strstr(t, "multipart"));
	assert_non_null(strstr(t, "\r\n\r\nplain\r\n"));
	/* Every line ends in CRLF. */
	assert_null(strstr(t, "\n\n"));
	free(t);
}

/* html and text: multipart/alternative, text first, boundary closed. */
static void
test_mime_alternative(void **state)
{
	struct eng_mail m = mail();
	char *t, *a, *b;

	(void)state;
	m.text = "the text";
	m.html = "<p>the html</p>";
	t = eng_mime_build(&m);
	assert_true(has_line(t, "Content-Type: multipart/alternative; "
	    "boundary=\"=_belfry_" ID "\""));
	a = strstr(t, "Content-Type: text/plain");
	b = strstr(t, "Content-Type: text/html");
	assert_true(a != NULL && b != NULL && a < b);
	assert_true(has_line(t, "--=_belfry_" ID));
	assert_true(has_line(t, "--=_belfry_" ID "--"));
	assert_non_null(strstr(t, "the text\r\n--=_belfry_"));
	assert_non_null(strstr(t, "<p>the html</p>\r\n--=_belfry_" ID "--"));
	free(t);
}

/* html only: the text part is derived from it. */
static void
test_mime_derived_text(void **state)
{
	struct eng_mail m = mail();
	char *t, *plain;

	(void)state;
	m.html = "<h1>Hi</h1><p>See <a href=\"https://x.test/a\">this</a>."
	    "</p>";
	t = eng_mime_build(&m);
	plain = strstr(t, "Content-Type: text/plain");
	assert_non_null(plain);
	assert_non_null(strstr(plain, "Hi\r\n\r\nSee this (https://x.test/a)."));
	assert_true(strstr(plain, "Hi") < strstr(t, "Content-Type: text/html"));
	free(t);
}

/* Header values from data: no line breaks get in; UTF-8 is encoded. */
static void
test_mime_header_values(void **state)
{
	struct eng_mail m = mail();
	char *t, joined[200], word[100];
	const char *p, *end;
	unsigned char *dec;
	size_t n;

	(void)state;
	m.subject = "Hi\r\nBcc: victim@example.net";
	m.to_name = "Lovelace, Ada \"A.\"";
	m.text = "x";
	t = eng_mime_build(&m);
	/* A name with specials is quoted, its quotes escaped. */
	assert_true(has_line(t, "To: \"Lovelace, Ada \\\"A.\\\"\" "
	    "<ada@example.org>"));
	free(t);
	m.to_name = "Zo\xc3\xab \"Z\"";
	t = eng_mime_build(&m);
	assert_true(has_line(t, "Subject: Hi  Bcc: victim@example.net"));
	assert_false(has_line(t, "Bcc: victim@example.net"));
	/* "Zoë "Z"" in one encoded word. */
	assert_true(has_line(t, "To: =?UTF-8?B?Wm/DqyAiWiI=?= "
	    "<ada@example.org>"));
	free(t);
	/* 72 bytes: "été à Zürich, " four times, then "été". */
	m.subject = "\xc3\xa9t\xc3\xa9 \xc3\xa0 Z\xc3\xbcrich, "
	    "\xc3\xa9t\xc3\xa9 \xc3\xa0 Z\xc3\xbcrich, "
	    "\xc3\xa9t\xc3\xa9 \xc3\xa0 Z\xc3\xbcrich, "
	    "\xc3\xa9t\xc3\xa9 \xc3\xa0 Z\xc3\xbcrich, \xc3\xa9t\xc3\xa9";
	m.to_name = NULL;
	t = eng_mime_build(&m);
	/* Two encoded words, cut between characters, on folded lines. */
	assert_non_null(strstr(t, "Subject: =?UTF-8?B?"));
	assert_non_null(strstr(t, "?=\r\n =?UTF-8?B?"));
	/* Each word decodes to whole characters; together, the subject. */
	joined[0] = '\0';
	for (p = strstr(t, "Subject: "); (p = strstr(p, "=?UTF-8?B?")) !=
	    NULL && p < strstr(t, "\r\nMessage-ID:"); p = end + 2) {
		p += 10;
		end = strstr(p, "?=");
		snprintf(word, sizeof word, "%.*s", (int)(end - p), p);
		assert_int_equal(eng_base64_decode(word, &dec, &n), 0);
		assert_true((dec[0] & 0xc0) != 0x80);
		assert_true((dec[n - 1] & 0x80) == 0 || (dec[n - 1] & 0xc0) ==
		    0x80);
		strncat(joined, (const char *)dec, n);
		free(dec);
	}
	assert_string_equal(joined, m.subject);
	assert_true(has_line(t, "To: ada@example.org"));
	free(t);
	m.from = "not an address";
	assert_null(eng_mime_build(&m));
}

/* Quoted-printable: '=', 8-bit bytes, trailing blanks, long lines. */
static void
test_mime_quoted_printable(void **state)
{
	struct eng_mail m = mail();
	char text[400], *t, *body, *p, *eol;

	(void)state;
	memset(text, 'a', sizeof text);
	memcpy(text, "1+1=2 caf\xc3\xa9 \n", 13);
	/* A line of 121 characters whose last is a space, then "last". */
	memcpy(text + 13 + 116, " end \nlast", 11);
	m.text = text;
	t = eng_mime_build(&m);
	body = strstr(t, "\r\n\r\n") + 4;
	assert_non_null(strstr(body, "1+1=3D2 caf=C3=A9=20\r\n"));
	/* No line over 76 characters; soft breaks end in '='. */
	for (p = body; (eol = strstr(p, "\r\n")) != NULL; p = eol + 2)
		assert_true(eol - p <= 76);
	assert_non_null(strstr(body, "a=\r\n"));
	assert_non_null(strstr(body, " end=20\r\nlast\r\n"));
	free(t);
}

/* Addresses SMTP takes, and "Name <addr>" splitting. */
static void
test_mail_addresses(void **state)
{
	static const char *good[] = { "a@b.c", "first.last+tag@sub.example.org",
		"x_y-z@localhost", "o'neil@example.com" };
	static const char *bad[] = { "", "a", "@b.c", "a@", "a@b..c",
		"a b@c.d", "a@-b.c", "a..b@c.d", ".a@b.c", "a@b.c\r\nBcc: x",
		"a@b_c.d", "<a@b.c>" };
	char *name, *addr;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(eng_mail_valid(good[i]));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(eng_mail_valid(bad[i]));
	assert_int_equal(eng_mail_parse("Belfry Ops <ops@example.com>", &name,
	    &addr), 0);
	assert_string_equal(name, "Belfry Ops");
	assert_string_equal(addr, "ops@example.com");
	free(name);
	free(addr);
	assert_int_equal(eng_mail_parse("ops@example.com", &name, &addr), 0);
	assert_null(name);
	assert_string_equal(addr, "ops@example.com");
	free(addr);
	assert_int_equal(eng_mail_parse("Ops <ops@example.com> x", &name,
	    &addr), -1);
	assert_int_equal(eng_mail_parse("Ops <nope>", &name, &addr), -1);
}

/* Text from HTML: blocks, lists, entities, hidden elements, spaces. */
static void
test_html_text(void **state)
{
	static const char *cases[][2] = {
		{ "<p>one</p><p>two</p>", "one\n\ntwo\n" },
		{ "a<br>b<br/><br>c", "a\nb\n\nc\n" },
		{ "<ul><li>x</li><li>y</li></ul>", "* x\n* y\n" },
		{ "fish &amp; chips &lt;3 &#233;&#x20AC; &bogus; &",
		  "fish & chips <3 \xc3\xa9\xe2\x82\xac &bogus; &\n" },
		{ "<head><title>T</title></head><style>p{}</style>"
		  "<script>alert(1)</script><!-- c -->body", "body\n" },
		{ "  lots   of\n\n  space  ", "lots of space\n" },
		{ "<a href=\"https://x.test\">https://x.test</a>",
		  "https://x.test\n" },
		{ "<a href='#top'>top</a>", "top\n" },
		{ "<header>kept</header>", "kept\n" },
		{ "unclosed <b", "unclosed <b\n" },
	};
	char *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		t = eng_html_text(cases[i][0]);
		if (strcmp(t, cases[i][1]) != 0)
			fail_msg("%s -> [%s], expected [%s]", cases[i][0], t,
			    cases[i][1]);
		free(t);
	}
}

/* Base64 both ways, and strict decoding. */
static void
test_base64(void **state)
{
	static const char *cases[][2] = { { "", "" }, { "f", "Zg==" },
		{ "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
	static const char *bad[] = { "", "Zg=", "Zg", "Z===", "Zm9v!", "=Zm9",
		"Zg==Zg==", "Zm 9v" };
	unsigned char *out;
	size_t i, n;
	char *t;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		t = eng_base64_encode((const unsigned char *)cases[i][0],
		    strlen(cases[i][0]));
		assert_string_equal(t, cases[i][1]);
		free(t);
		if (cases[i][1][0] == '\0')
			continue;
		assert_int_equal(eng_base64_decode(cases[i][1], &out, &n), 0);
		assert_int_equal(n, strlen(cases[i][0]));
		assert_memory_equal(out, cases[i][0], n);
		free(out);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(eng_base64_decode(bad[i], &out, &n), -1);
}

/*
 * The Standard Webhooks specification's published test vector: secret,
 * id, timestamp and payload, and the signature its reference libraries
 * compute for them.
 */
static void
test_signature_vector(void **state)
{
	static const char body[] = "{\"test\": 2432232314}";
	unsigned char *key;
	char *cause = NULL, *sig;
	size_t n;

	(void)state;
	assert_int_equal(eng_webhook_secret(
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key, &n, &cause), 0);
	assert_int_equal(n, 24);
	sig = eng_webhook_signature(key, n, "msg_p5jXN8AQM9LWM0D4loKWxJek",
	    1614265330, body, strlen(body));
	assert_string_equal(sig,
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	free(sig);
	/* Another timestamp, another signature. */
	sig = eng_webhook_signature(key, n, "msg_p5jXN8AQM9LWM0D4loKWxJek",
	    1614265331, body, strlen(body));
	assert_string_not_equal(sig,
	    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	free(sig);
	free(key);
}

/* Secrets that are not "whsec_" and the base64 of 24..64 bytes. */
static void
test_signature_secrets(void **state)
{
	static const char *bad[][2] = {
		{ "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" },
		{ "whsec_not base64!", "whsec_" },
		{ "whsec_c2hvcnQ=", "24 to 64 bytes (this one has 5)" },
	};
	unsigned char *key = NULL;
	char *cause = NULL;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(eng_webhook_secret(bad[i][0], &key, &n,
		    &cause), -1);
		assert_non_null(strstr(cause, bad[i][1]));
		free(cause);
		cause = NULL;
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mime_head),
		cmocka_unit_test(test_mime_alternative),
		cmocka_unit_test(test_mime_derived_text),
		cmocka_unit_test(test_mime_header_values),
		cmocka_unit_test(test_mime_quoted_printable),
		cmocka_unit_test(test_mail_addresses),
		cmocka_unit_test(test_html_text),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_signature_vector),
		cmocka_unit_test(test_signature_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
