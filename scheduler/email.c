/*
 * Email deliveries: an email channel's SMTP transaction on the libcurl
 * multi handle (outbound.c).  MAIL FROM the channel's address, RCPT TO
 * the message's recipient, DATA the MIME text the step built (the
 * engine's eng_mime_build), to the channel's smtp:// or smtps:// server,
 * with STARTTLS as the channel's starttls says, AUTH when it has a
 * username, and TLS verified with the system's CAs or its ca_file.  The
 * multi handle keeps sessions open between messages.
 *
 * Replies: a transfer that ends well was accepted ("sent").  A 5xx reply
 * (a refused sender or recipient, a rejected message) refuses it for
 * good with the server's text; a 4xx, a failed login, a TLS or network
 * failure is retried.
 */
#include <stdlib.h>
#include <string.h>

#include "scheduler/outbound_int.h"

#define EMAIL_TIMEOUT_MS 60000

/* CURLOPT_READFUNCTION: the message, piece by piece. */
static size_t
email_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct outbound_xfer *x = arg;
	size_t len = size * n;

	if (len > x->len - x->off)
		len = x->len - x->off;
	memcpy(buf, x->body + x->off, len);
	x->off += len;
	return len;
}

/* The reply code at the start of a reply line, or 0. */
static int
email_code(const char *p, size_t n)
{
	if (n < 3 || p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
		return 0;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/*
 * CURLOPT_DEBUGFUNCTION: keep the server's last reply line, but never
 * let a later acceptance (of RSET or QUIT) hide a refusal (4xx or 5xx):
 * the last refusal stays, unless a later one replaces it.
 */
static int
email_debug_cb(CURL *easy, curl_infotype type, char *p, size_t n, void *arg)
{
	struct outbound_xfer *x = arg;
	size_t start;

	(void)easy;
	if (type != CURLINFO_HEADER_IN)
		return 0;
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	for (start = n; start > 0 && p[start - 1] != '\n'; start--)
		;
	if (n == start || (email_code(x->reply, x->reply_len) >= 400 &&
	    email_code(p + start, n - start) < 400))
		return 0;
	n -= start;
	if (n > sizeof x->reply)
		n = sizeof x->reply;
	memcpy(x->reply, p + start, n);
	x->reply_len = n;
	return 0;
}

/* Judge the end of an SMTP transaction into its outcome. */
static void
email_finish(struct outbound_xfer *x)
{
	struct sch_outcome *o = x->o;
	int refusal = email_code(x->reply, x->reply_len);
	CURLcode rc = x->rc;
	long code = x->code;

	/* The refusal decides, unless the transaction got past it. */
	if (refusal >= 400 && rc != CURLE_OK)
		code = refusal;
	if (code != 0)
		outbound_log_response(x, code, NULL);
	if (rc == CURLE_OK) {
		o->result = ENG_ATTEMPT_OK;
		return;
	}
	o->result = code >= 500 && code < 600 && rc != CURLE_LOGIN_DENIED ?
	    ENG_ATTEMPT_FAILED : ENG_ATTEMPT_RETRY;
	if (refusal < 400)
		o->error = xstrdup(x->errbuf[0] != '\0' ? x->errbuf :
		    curl_easy_strerror(rc));
	else if (x->errbuf[0] != '\0' && rc != CURLE_WEIRD_SERVER_REPLY)
		o->error = xasprintf("%s: %.*s", x->errbuf, (int)x->reply_len,
		    x->reply);
	else
		o->error = xasprintf("the server replied %.*s",
		    (int)x->reply_len, x->reply);
}

/* The head of MIME text as {name: value} (folded lines joined). */
static json_t *
email_head(const char *mime)
{
	json_t *h = json_object(), *prev = NULL;
	const char *p = mime, *eol, *colon, *v;
	char *joined;

	while (strncmp(p, "\r\n", 2) != 0 && (eol = strstr(p, "\r\n")) !=
	    NULL) {
		if ((*p == ' ' || *p == '\t') && prev != NULL) {
			joined = xasprintf("%s%.*s", json_string_value(prev),
			    (int)(eol - p), p);
			json_string_set(prev, joined);
			free(joined);
		} else if ((colon = memchr(p, ':', (size_t)(eol - p))) !=
		    NULL) {
			for (v = colon + 1; v < eol && *v == ' '; v++)
				;
			prev = json_stringn(v, (size_t)(eol - v));
			json_object_setn_new(h, p, (size_t)(colon - p), prev);
		}
		p = eol + 2;
	}
	return h;
}

/* See outbound_int.h. */
int
email_prepare(struct outbound_xfer *x, const struct eng_channel *ch,
    struct eng_delivery *d, char **cause)
{
	static const long tls[] = { [ENG_STARTTLS_REQUIRED] = CURLUSESSL_ALL,
		[ENG_STARTTLS_OPTIONAL] = CURLUSESSL_TRY,
		[ENG_STARTTLS_NEVER] = CURLUSESSL_NONE };
	struct eng_text env = { NULL, 0, 0 }, head = { NULL, 0, 0 };
	char *rcpt, *from;
	json_t *h;

	if (strncmp(d->url, "mailto:", 7) != 0) {
		*cause = xasprintf("channel \"%s\" is an email channel now; "
		    "this delivery is to %s", ch->name, d->url);
		return -1;
	}
	x->body = d->body != NULL ? d->body : xstrdup("");
	d->body = NULL;
	x->len = strlen(x->body);
	rcpt = xasprintf("<%s>", d->url + 7);
	x->list = curl_slist_append(NULL, rcpt);
	free(rcpt);
	eng_text_add(&env, "\"envelope\":{\"from\":", 19);
	eng_text_bytes(&env, ch->from_addr, strlen(ch->from_addr));
	eng_text_add(&env, ",\"to\":[", 7);
	eng_text_bytes(&env, d->url + 7, strlen(d->url + 7));
	eng_text_add(&env, "]}", 2);
	h = email_head(x->body);
	eng_text_value(&head, h);
	json_decref(h);
	outbound_log_request(x, "SMTP", ch->url, &env, &head);
	free(env.s);
	free(head.s);
	x->finish = email_finish;

	outbound_common(x, ch, EMAIL_TIMEOUT_MS);
	curl_easy_setopt(x->easy, CURLOPT_URL, ch->url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(x->easy, CURLOPT_USE_SSL, tls[ch->starttls]);
	from = xasprintf("<%s>", ch->from_addr);
	curl_easy_setopt(x->easy, CURLOPT_MAIL_FROM, from);
	free(from);
	curl_easy_setopt(x->easy, CURLOPT_MAIL_RCPT, x->list);
	if (ch->username != NULL) {
		curl_easy_setopt(x->easy, CURLOPT_USERNAME, ch->username);
		curl_easy_setopt(x->easy, CURLOPT_PASSWORD, ch->password);
	}
	curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, email_read_cb);
	curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)x->len);
	/* The server's reply lines reach email_debug_cb only when verbose. */
	curl_easy_setopt(x->easy, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(x->easy, CURLOPT_DEBUGFUNCTION, email_debug_cb);
	curl_easy_setopt(x->easy, CURLOPT_DEBUGDATA, x);
	return 0;
}
