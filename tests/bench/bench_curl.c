/*
 * The raw baseline of outgoing deliveries, and a receiver for them.
 *
 *	bench_curl serve PORT [DELAY_MS]
 *	bench_curl http URL N CONCURRENCY
 *	bench_curl smtp URL N CONCURRENCY
 *
 * serve: an HTTP/1.1 receiver (libevent's evhttp, keep-alive) on
 * 127.0.0.1:PORT answering every request 200 {}, DELAY_MS after it came
 * (a service doing some work; default 0), until killed.
 * http, smtp: N POSTs of a small JSON body, or N emails of about the
 * size belfry sends, through libcurl's multi interface driven by a
 * libevent loop exactly as belfryd drives it (a socket callback, one
 * timer), CONCURRENCY transfers at once; prints "N in S s: R/s".  No
 * database, no templates, no records: what belfry's figures are set
 * against.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

/* The run: how many transfers to make, started and done. */
struct bench {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	const char *url;
	int smtp;
	long n, started, done, failed;
	struct curl_slist *headers, *rcpt;
	char *mail;
	size_t mail_len;
};

/* One email's reading position. */
struct bench_read {
	const struct bench *b;
	size_t off;
};

/* Monotonic seconds. */
static double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Drop a reply's body. */
static size_t
bench_write(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Read the email. */
static size_t
bench_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct bench_read *r = arg;
	size_t len = size * n;

	if (len > r->b->mail_len - r->off)
		len = r->b->mail_len - r->off;
	memcpy(buf, r->b->mail + r->off, len);
	r->off += len;
	return len;
}

/* Start one more transfer. */
static void
bench_start(struct bench *b)
{
	static const char body[] = "{\"event\": \"deploy\", \"service\": "
	    "\"api\", \"version\": \"1.2.3\"}";
	CURL *e = curl_easy_init();
	struct bench_read *r;

	curl_easy_setopt(e, CURLOPT_URL, b->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
	if (b->smtp) {
		r = calloc(1, sizeof *r);
		r->b = b;
		curl_easy_setopt(e, CURLOPT_PRIVATE, r);
		curl_easy_setopt(e, CURLOPT_MAIL_FROM, "<bench@example.com>");
		curl_easy_setopt(e, CURLOPT_MAIL_RCPT, b->rcpt);
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, bench_read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, r);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)b->mail_len);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, b->headers);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bench_write);
	}
	curl_multi_add_handle(b->multi, e);
	b->started++;
}

/* Collect finished transfers and start the next ones. */
static void
bench_check(struct bench *b)
{
	CURLMsg *m;
	char *p;
	long code;
	int left;

	while ((m = curl_multi_info_read(b->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		code = 0;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (m->data.result != CURLE_OK || (!b->smtp && code != 200))
			b->failed++;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		free(p);
		curl_multi_remove_handle(b->multi, m->easy_handle);
		curl_easy_cleanup(m->easy_handle);
		b->done++;
		if (b->started < b->n)
			bench_start(b);
	}
	if (b->done == b->n)
		event_base_loopbreak(b->base);
}

/* A watched socket is ready. */
static void
bench_event(evutil_socket_t fd, short events, void *arg)
{
	struct bench *b = arg;
	int running;

	curl_multi_socket_action(b->multi, fd, ((events & EV_READ) ?
	    CURL_CSELECT_IN : 0) | ((events & EV_WRITE) ? CURL_CSELECT_OUT :
	    0), &running);
	bench_check(b);
}

/* libcurl's timeout. */
static void
bench_timer(evutil_socket_t fd, short events, void *arg)
{
	struct bench *b = arg;
	int running;

	(void)fd;
	(void)events;
	curl_multi_socket_action(b->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	bench_check(b);
}

/* CURLMOPT_SOCKETFUNCTION. */
static int
bench_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct bench *b = arg;
	struct event *ev = sockp;
	short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(b->multi, fd, NULL);
		return 0;
	}
	if (ev == NULL) {
		ev = event_new(b->base, fd, kind, bench_event, b);
		curl_multi_assign(b->multi, fd, ev);
	} else {
		event_del(ev);
		event_assign(ev, b->base, fd, kind, bench_event, b);
	}
	return event_add(ev, NULL);
}

/* CURLMOPT_TIMERFUNCTION. */
static int
bench_timeout(CURLM *m, long ms, void *arg)
{
	struct bench *b = arg;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	(void)m;
	return ms < 0 ? evtimer_del(b->timer) : evtimer_add(b->timer, &tv);
}

/* An email of about the size belfry sends (a text and an HTML part). */
static char *
bench_mail(size_t *len)
{
	static const char mail[] =
	    "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
	    "From: Bench <bench@example.com>\r\n"
	    "To: Ada <ada@example.org>\r\n"
	    "Subject: Your weekly digest\r\n"
	    "Message-ID: <0b7ac2f1-3d4e-4f5a-8b6c-7d8e9f0a1b2c@example.com>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"=_b\"\r\n\r\n"
	    "--=_b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Hello Ada\r\n\r\nYou have 3 new comments on your post.\r\n"
	    "--=_b\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "<h1>Hello Ada</h1><p>You have <b>3</b> new comments on your "
	    "post.</p>\r\n--=_b--\r\n";

	*len = sizeof mail - 1;
	return strdup(mail);
}

/* The receiver's delay before each reply (serve's DELAY_MS). */
static struct timeval bench_delay;
static struct event_base *bench_serve_base;

/* Answer a request 200 {}. */
static void
bench_answer(evutil_socket_t fd, short events, void *arg)
{
	struct evhttp_request *req = arg;

	(void)fd;
	(void)events;
	evbuffer_add(evhttp_request_get_output_buffer(req), "{}", 2);
	evhttp_send_reply(req, 200, "OK", NULL);
}

/* The receiver: every request gets 200 {}, after the delay if any. */
static void
bench_reply(struct evhttp_request *req, void *arg)
{
	(void)arg;
	if (bench_delay.tv_sec == 0 && bench_delay.tv_usec == 0)
		bench_answer(-1, 0, req);
	else
		event_base_once(bench_serve_base, -1, EV_TIMEOUT, bench_answer,
		    req, &bench_delay);
}

/* bench_curl serve PORT [DELAY_MS]. */
static int
bench_serve(int port, int delay_ms)
{
	struct event_base *base = event_base_new();
	struct evhttp *h = evhttp_new(base);

	bench_serve_base = base;
	bench_delay.tv_sec = delay_ms / 1000;
	bench_delay.tv_usec = (delay_ms % 1000) * 1000;
	if (evhttp_bind_socket(h, "127.0.0.1", (unsigned short)port) != 0) {
		fprintf(stderr, "bench_curl: cannot listen on %d\n", port);
		return 1;
	}
	evhttp_set_gencb(h, bench_reply, NULL);
	printf("listening\n");
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench b;
	double t0, secs;
	long conc, i;

	if ((argc == 3 || argc == 4) && strcmp(argv[1], "serve") == 0)
		return bench_serve(atoi(argv[2]), argc == 4 ? atoi(argv[3]) : 0);
	if (argc != 5 || (strcmp(argv[1], "http") != 0 &&
	    strcmp(argv[1], "smtp") != 0)) {
		fprintf(stderr, "usage: bench_curl serve PORT [DELAY_MS] | "
		    "bench_curl http|smtp URL N CONCURRENCY\n");
		return 2;
	}
	memset(&b, 0, sizeof b);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	b.smtp = strcmp(argv[1], "smtp") == 0;
	b.url = argv[2];
	b.n = atol(argv[3]);
	conc = atol(argv[4]);
	b.base = event_base_new();
	b.multi = curl_multi_init();
	b.timer = evtimer_new(b.base, bench_timer, &b);
	curl_multi_setopt(b.multi, CURLMOPT_SOCKETFUNCTION, bench_socket);
	curl_multi_setopt(b.multi, CURLMOPT_SOCKETDATA, &b);
	curl_multi_setopt(b.multi, CURLMOPT_TIMERFUNCTION, bench_timeout);
	curl_multi_setopt(b.multi, CURLMOPT_TIMERDATA, &b);
	b.headers = curl_slist_append(NULL, "Content-Type: application/json");
	b.headers = curl_slist_append(b.headers, "Expect:");
	b.rcpt = curl_slist_append(NULL, "<ada@example.org>");
	b.mail = bench_mail(&b.mail_len);
	t0 = bench_now();
	for (i = 0; i < conc && i < b.n; i++)
		bench_start(&b);
	event_base_dispatch(b.base);
	secs = bench_now() - t0;
	printf("%ld in %.3f s: %.0f/s (%ld failed)\n", b.done, secs,
	    (double)b.done / secs, b.failed);
	curl_multi_cleanup(b.multi);
	curl_slist_free_all(b.headers);
	curl_slist_free_all(b.rcpt);
	free(b.mail);
	event_free(b.timer);
	event_base_free(b.base);
	curl_global_cleanup();
	return b.failed != 0;
}
