/*
 * Outgoing deliveries: webhooks (webhook.c) and email (email.c) through
 * libcurl's multi interface on a transfer thread of their own, which
 * runs an event loop of its own (epoll: a transfer's socket changes what
 * it waits for a few times).  libcurl says which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION: one event per socket) and when to call it
 * back (CURLMOPT_TIMERFUNCTION: one timer), and curl_multi_socket_action
 * runs only when one of those fires.  The multi handle keeps connections
 * open between transfers (HTTP/1.1 keep-alive, SMTP sessions).
 *
 * Everything else stays on the daemon's loop: taking deliveries, setting
 * up a transfer's easy handle (webhook_prepare, email_prepare), judging
 * its end and recording it.  The two threads hand transfers over in two
 * lists under one mutex, each with an eventfd that wakes the other side
 * when its list stops being empty, so a burst costs one wake-up, not one
 * a transfer.  The transfer thread touches only libcurl, its own loop and
 * the transfers' buffers; it blocks every signal.
 *
 * Limits: at most SCH_MAX_INFLIGHT deliveries taken in all, and per
 * channel at most max_sessions at once and max_per_second started per
 * second (a token bucket holding one second's worth).  Deliveries are
 * taken from the store channel by channel, only as many as the channel
 * may start (and a few times as many, queued in memory to start the
 * moment a session ends rather than after the next commit), so a slow or
 * rate-limited channel never holds another's deliveries back.  A channel that ran out of tokens with work left arms
 * a wake-up for its next token; a finished transfer is an outcome, whose
 * flush takes more.
 *
 * An attempt's outcome (with its request and response for the delivery
 * log) is queued on s->outcomes and recorded by the next flush
 * (outbound_record; outcomes are gathered for a moment, OUTBOUND_BATCH), which also logs a failed attempt: one warning line
 * each, at most OUTBOUND_WARN_MAX a minute, then a count of those left
 * out.  Metrics per channel: attempts, successes, failures, duration.
 *
 * Delivery is at least once: an attempt in flight when belfryd stops is
 * due again when it starts.
 */
#include <sys/eventfd.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "scheduler/notify.h"
#include "scheduler/outbound_int.h"

/* Buckets of the duration histograms (upper bounds, seconds). */
#define OUTBOUND_BUCKETS 14
static const double outbound_bounds[OUTBOUND_BUCKETS] = { 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 1e300 };
static const char *const outbound_labels[OUTBOUND_BUCKETS] = { "0.005",
	"0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
	"30", "60", "+Inf" };

/*
 * Outcomes wait for their flush at most OUTBOUND_BATCH_US while other
 * transfers are still in flight, or until OUTBOUND_BATCH of them are
 * queued, so that one commit records many: the channels' queued
 * deliveries keep their sessions busy meanwhile.
 */
#define OUTBOUND_BATCH 64
#define OUTBOUND_BATCH_US 5000

/*
 * A channel takes up to OUTBOUND_DEPTH times its sessions, and hands up
 * to OUTBOUND_AHEAD times its sessions to the transfer thread, which
 * starts them as its sessions free up: the sessions stay busy while the
 * loop is away (recording outcomes, committing).  The rest wait in the
 * loop's queue, which holds deliveries only when a reload lowered the
 * channel's max_sessions below what it had taken.  A delivery handed
 * ahead is set up (its time, its signature's timestamp) when handed, so
 * it may start up to OUTBOUND_AHEAD of its session's transfers later.
 */
#define OUTBOUND_DEPTH 8
#define OUTBOUND_AHEAD 8

/* Failed attempts logged per minute, at most. */
#define OUTBOUND_WARN_MAX 10
#define OUTBOUND_WARN_WINDOW_US (60ULL * 1000000)

/* A delivery taken and waiting for one of its channel's sessions. */
struct outbound_ready {
	struct eng_delivery d;
	TAILQ_ENTRY(outbound_ready) entry;
};

/*
 * A channel's state, kept by name across reloads; running and waiting
 * are the transfer thread's.
 */
struct outbound_channel {
	char *name, *type;
	int active;                  /* transfers handed to the thread */
	int nready;                  /* deliveries waiting in the loop */
	TAILQ_HEAD(, outbound_ready) ready;
	int running;                 /* transfers on the multi handle */
	TAILQ_HEAD(, outbound_xfer) waiting; /* handed, for a session */
	char *url;                   /* the last URL, and its parts */
	char *parts[3];              /* (outbound_url_parts) */
	double tokens;               /* max_per_second's bucket */
	uint64_t refilled_us;
	uint64_t attempts, successes, failures;
	uint64_t dur[OUTBOUND_BUCKETS]; /* cumulative */
	double dur_sum;
};

/* A list of transfers being handed between the threads. */
TAILQ_HEAD(outbound_xfers, outbound_xfer);

/*
 * The daemon's loop owns what is above the transfer thread's part; the
 * thread owns its part once started; mu guards the hand-over lists.
 */
struct outbound {
	struct sch *s;
	struct event *wake;          /* a channel has tokens again */
	uint64_t wake_us;            /* when wake is set for (monotonic) */
	struct event *batch;         /* the outcomes' flush is due */
	size_t pending;              /* outcomes queued since the last kick */
	struct outbound_channel **ch;
	size_t nch;
	TAILQ_HEAD(, outbound_xfer) xfers;
	CURL *idle[SCH_MAX_INFLIGHT]; /* easy handles for the next transfers */
	size_t nidle;
	struct outbound_xfer *spare[SCH_MAX_INFLIGHT]; /* records, likewise */
	size_t nspare;
	uint64_t warn_since;         /* the minute of the warning lines */
	unsigned warned;
	uint64_t unlogged;           /* failed attempts not logged in it */
	struct event *done_ev;       /* done_fd is readable */
	struct outbound_xfers handing; /* set up, not yet handed */

	/* Handed over, under mu. */
	pthread_mutex_t mu;
	struct outbound_xfers to_start; /* for the thread to add */
	struct outbound_xfers done;     /* for the loop to judge */
	int stop;                    /* the thread is to end */
	int start_fd, done_fd;       /* eventfds: to_start, done (or stop) */

	/* The transfer thread's. */
	pthread_t thread;
	struct event_base *tbase;
	struct outbound_xfers ended;   /* not yet handed back */
	int stopping;
	struct event *start_ev;      /* start_fd is readable */
	struct event *timer;         /* libcurl's timeout */
	CURLM *multi;
};

static void outbound_next(struct sch *, struct outbound_channel *);

/*
 * The members host, path and query of url (Knock's log shows them) onto
 * t, parsed once for a channel's run of deliveries to the same URL.
 */
static void
outbound_url_parts(struct outbound_xfer *x, struct eng_text *t,
    const char *url)
{
	static const struct { CURLUPart part; const char *key; } parts[] = {
		{ CURLUPART_HOST, ",\"host\":" }, { CURLUPART_PATH, ",\"path\":" },
		{ CURLUPART_QUERY, ",\"query\":" } };
	struct outbound_channel *oc = x->oc;
	CURLU *u;
	char *v;
	size_t i;

	if (oc->url == NULL || strcmp(oc->url, url) != 0) {
		free(oc->url);
		oc->url = xstrdup(url);
		u = curl_url();
		for (i = 0; i < 3; i++) {
			free(oc->parts[i]);
			oc->parts[i] = NULL;
			v = NULL;
			if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) ==
			    CURLUE_OK && curl_url_get(u, parts[i].part, &v, 0) ==
			    CURLUE_OK && v != NULL)
				oc->parts[i] = xstrdup(v);
			curl_free(v);
		}
		curl_url_cleanup(u);
	}
	for (i = 0; i < 3; i++) {
		eng_text_add(t, parts[i].key, strlen(parts[i].key));
		if (oc->parts[i] != NULL)
			eng_text_bytes(t, oc->parts[i], strlen(oc->parts[i]));
		else
			eng_text_add(t, "null", 4);
	}
}

/* See outbound_int.h. */
void
outbound_log_request(struct outbound_xfer *x, const char *method,
    const char *url, const struct eng_text *extra,
    const struct eng_text *headers)
{
	struct eng_text t = { NULL, 0, 0 };
	size_t n = x->len;

	/* The log's cut, at a character boundary, as the engine cuts. */
	if (n > ENG_LOG_BODY) {
		n = ENG_LOG_BODY;
		while (n > 0 && ((unsigned char)x->body[n] & 0xc0) == 0x80)
			n--;
	}
	eng_text_add(&t, "{\"method\":", 10);
	eng_text_bytes(&t, method, strlen(method));
	eng_text_add(&t, ",\"url\":", 7);
	eng_text_bytes(&t, url, strlen(url));
	if (extra != NULL) {
		eng_text_add(&t, ",", 1);
		eng_text_add(&t, extra->s, extra->len);
	}
	eng_text_add(&t, ",\"headers\":", 11);
	eng_text_add(&t, headers->s, headers->len);
	eng_text_add(&t, ",\"body\":", 8);
	eng_text_bytes(&t, x->body, n);
	outbound_url_parts(x, &t, url);
	if (n < x->len)
		eng_text_add(&t, ",\"body_truncated\":true", 22);
	eng_text_add(&t, "}", 2);   /* and the NUL */
	x->o->request = t.s;
}

/* See outbound_int.h. */
void
outbound_log_response(struct outbound_xfer *x, long status,
    const struct eng_text *headers)
{
	struct eng_text t = { NULL, 0, 0 };

	eng_text_add(&t, "{\"status\":", 10);
	eng_text_int(&t, status);
	eng_text_add(&t, ",\"headers\":", 11);
	if (headers != NULL)
		eng_text_add(&t, headers->s, headers->len);
	else
		eng_text_add(&t, "{}", 2);
	eng_text_add(&t, ",\"body\":", 8);
	eng_text_bytes(&t, x->reply, x->reply_len);
	eng_text_add(&t, "}", 2);   /* and the NUL */
	x->o->response = t.s;
}

/* See outbound_int.h. */
void
outbound_common(struct outbound_xfer *x, const struct eng_channel *ch,
    long timeout_ms)
{
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	if (ch->ca_file != NULL)
		curl_easy_setopt(x->easy, CURLOPT_CAINFO, ch->ca_file);
}

/* The state of channel ch, made on first use. */
static struct outbound_channel *
outbound_channel(struct outbound *o, const struct eng_channel *ch)
{
	struct outbound_channel *oc;
	size_t i;

	for (i = 0; i < o->nch; i++)
		if (strcmp(o->ch[i]->name, ch->name) == 0) {
			oc = o->ch[i];
			if (strcmp(oc->type, ch->type) != 0) {
				free(oc->type);
				oc->type = xstrdup(ch->type);
			}
			return oc;
		}
	oc = xcalloc(1, sizeof *oc);
	TAILQ_INIT(&oc->ready);
	TAILQ_INIT(&oc->waiting);
	oc->name = xstrdup(ch->name);
	oc->type = xstrdup(ch->type);
	oc->tokens = ch->max_per_second > 1 ? ch->max_per_second : 1;
	oc->refilled_us = sch_notify_monotonic_usec();
	o->ch = xreallocarray(o->ch, o->nch + 1, sizeof *o->ch);
	o->ch[o->nch++] = oc;
	return oc;
}

/* The channel called name in the configuration in force, or NULL. */
static const struct eng_channel *
outbound_config(struct sch *s, const char *name)
{
	const struct eng_config *c = eng_config(s->eng);
	size_t i;

	for (i = 0; i < eng_config_channel_count(c); i++)
		if (strcmp(eng_config_channel(c, i)->name, name) == 0)
			return eng_config_channel(c, i);
	return NULL;
}

/* A cleared transfer record, a spare one when there is one. */
static struct outbound_xfer *
outbound_xfer_new(struct outbound *o)
{
	struct outbound_xfer *x = o->nspare > 0 ? o->spare[--o->nspare] :
	    xmalloc(sizeof *x);

	memset(x, 0, offsetof(struct outbound_xfer, errbuf));
	x->errbuf[0] = '\0';
	return x;
}

/* Free a finished transfer, keeping its easy handle and record. */
static void
outbound_xfer_free(struct outbound_xfer *x)
{
	struct outbound *o = x->s->outbound;

	if (x->easy != NULL && o->nidle < SCH_MAX_INFLIGHT) {
		if (!x->clean)
			curl_easy_reset(x->easy);
		o->idle[o->nidle++] = x->easy;
	} else if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->list);
	free(x->hdr);
	free(x->body);
	free(x->redirect);
	if (x->o != NULL)
		outbound_outcome_free(x->o);
	if (o->nspare < SCH_MAX_INFLIGHT)
		o->spare[o->nspare++] = x;
	else
		free(x);
}

/* Queue outcome oc for the next flush, soon (see OUTBOUND_BATCH). */
static void
outbound_outcome(struct sch *s, struct sch_outcome *oc)
{
	struct outbound *o = s->outbound;
	struct timeval tv = { 0, OUTBOUND_BATCH_US };

	TAILQ_INSERT_TAIL(&s->outcomes, oc, entry);
	if (++o->pending >= OUTBOUND_BATCH || TAILQ_EMPTY(&o->xfers)) {
		o->pending = 0;
		evtimer_del(o->batch);
		server_kick(s);
	} else if (!evtimer_pending(o->batch, NULL))
		evtimer_add(o->batch, &tv);
}

/* The outcomes waited long enough: flush them. */
static void
outbound_batch_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sch *s = arg;

	(void)fd;
	(void)events;
	s->outbound->pending = 0;
	server_kick(s);
}

/* A transfer ended (its outcome filled): count it and queue the outcome. */
static void
outbound_finished(struct outbound_xfer *x)
{
	struct sch *s = x->s;
	struct outbound_channel *oc = x->oc;
	struct sch_outcome *o = x->o;
	double secs;
	int b;

	o->duration_us = (int64_t)(sch_notify_monotonic_usec() - x->start_us);
	secs = (double)o->duration_us / 1e6;
	for (b = 0; b < OUTBOUND_BUCKETS; b++)
		if (secs <= outbound_bounds[b])
			oc->dur[b]++;
	oc->dur_sum += secs;
	if (o->result == ENG_ATTEMPT_OK)
		oc->successes++;
	else
		oc->failures++;
	oc->active--;
	s->inflight--;
	log_debug("%s %s on %s (attempt %d): %s", oc->type, o->message_id,
	    o->channel, o->attempt, o->error != NULL ? o->error : "ok");
	x->o = NULL;
	TAILQ_REMOVE(&s->outbound->xfers, x, entry);
	outbound_xfer_free(x);
	outbound_outcome(s, o);
}

/* Wake the other thread through eventfd fd. */
static void
outbound_signal(int fd)
{
	uint64_t one = 1;

	while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

/* Clear eventfd fd's count. */
static void
outbound_drain(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof n) < 0 && errno == EINTR)
		;
}

/*
 * Move the transfers of from to the end of the shared list to (under
 * mu), waking the other thread through eventfd fd when to was empty:
 * while it is not, the other thread has been woken and not yet taken it.
 */
static void
outbound_pass(struct outbound *o, struct outbound_xfers *to,
    struct outbound_xfers *from, int fd)
{
	int was_empty;

	if (TAILQ_EMPTY(from))
		return;
	pthread_mutex_lock(&o->mu);
	was_empty = TAILQ_EMPTY(to);
	TAILQ_CONCAT(to, from, hand);
	pthread_mutex_unlock(&o->mu);
	if (was_empty)
		outbound_signal(fd);
}

/*
 * Put transfer x on the multi handle, or hand it back ended when libcurl
 * will not take it (transfer thread).
 */
static void
outbound_add(struct outbound *o, struct outbound_xfer *x)
{
	x->oc->running++;
	x->start_us = sch_notify_monotonic_usec();
	if (curl_multi_add_handle(o->multi, x->easy) == CURLM_OK)
		return;
	x->oc->running--;
	snprintf(x->errbuf, sizeof x->errbuf, "libcurl: cannot start the "
	    "transfer");
	x->rc = CURLE_FAILED_INIT;
	TAILQ_INSERT_TAIL(&o->ended, x, hand);
}

/* Start what waits for channel oc's free sessions (transfer thread). */
static void
outbound_waiting(struct outbound *o, struct outbound_channel *oc)
{
	struct outbound_xfer *x;

	while ((x = TAILQ_FIRST(&oc->waiting)) != NULL &&
	    oc->running < x->sessions) {
		TAILQ_REMOVE(&oc->waiting, x, hand);
		outbound_add(o, x);
	}
}

/* Note the transfers libcurl has finished (transfer thread). */
static void
outbound_check(struct outbound *o)
{
	struct outbound_xfer *x;
	CURLMsg *m;
	char *p;
	int left;

	while ((m = curl_multi_info_read(o->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
		x = (struct outbound_xfer *)(void *)p;
		curl_multi_remove_handle(o->multi, m->easy_handle);
		x->rc = m->data.result;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->code);
		p = NULL;
		curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &p);
		if (p != NULL)
			x->redirect = xstrdup(p);
		/* Reset here, off the loop's thread, for the next transfer. */
		curl_easy_reset(x->easy);
		x->clean = 1;
		x->oc->running--;
		TAILQ_INSERT_TAIL(&o->ended, x, hand);
		outbound_waiting(o, x->oc);
	}
}

/*
 * The loop handed transfers over, or asks to stop: start each, or queue
 * it for its channel's next free session (transfer thread).
 */
static void
outbound_start_cb(evutil_socket_t fd, short events, void *arg)
{
	struct outbound *o = arg;
	TAILQ_HEAD(, outbound_xfer) got = TAILQ_HEAD_INITIALIZER(got);
	struct outbound_xfer *x;

	(void)events;
	outbound_drain(fd);
	pthread_mutex_lock(&o->mu);
	TAILQ_CONCAT(&got, &o->to_start, hand);
	o->stopping = o->stop;
	pthread_mutex_unlock(&o->mu);
	while ((x = TAILQ_FIRST(&got)) != NULL) {
		TAILQ_REMOVE(&got, x, hand);
		TAILQ_INSERT_TAIL(&x->oc->waiting, x, hand);
		outbound_waiting(o, x->oc);
	}
}

/*
 * The transfer thread: a pass of its loop at a time, after each the
 * ended transfers handed back at once (one wake-up of the loop for all
 * of them), until outbound_free asks it to stop.
 */
static void *
outbound_thread(void *arg)
{
	struct outbound *o = arg;

	while (!o->stopping) {
		event_base_loop(o->tbase, EVLOOP_ONCE);
		outbound_pass(o, &o->done, &o->ended, o->done_fd);
	}
	return NULL;
}

/* Hand the transfers set up since the last time to the transfer thread. */
static void
outbound_hand(struct outbound *o)
{
	outbound_pass(o, &o->to_start, &o->handing, o->start_fd);
}

/* The transfer thread handed ended transfers over: judge and record them. */
static void
outbound_done_cb(evutil_socket_t fd, short events, void *arg)
{
	struct outbound *o = arg;
	TAILQ_HEAD(, outbound_xfer) got = TAILQ_HEAD_INITIALIZER(got);
	struct outbound_channel *oc;
	struct outbound_xfer *x;

	(void)events;
	outbound_drain(fd);
	pthread_mutex_lock(&o->mu);
	TAILQ_CONCAT(&got, &o->done, hand);
	pthread_mutex_unlock(&o->mu);
	while ((x = TAILQ_FIRST(&got)) != NULL) {
		TAILQ_REMOVE(&got, x, hand);
		oc = x->oc;
		x->finish(x);
		outbound_finished(x);
		outbound_next(o->s, oc);
	}
	outbound_hand(o);
}

/* A watched socket is ready (transfer thread). */
static void
outbound_event_cb(evutil_socket_t fd, short events, void *arg)
{
	struct outbound *o = arg;
	int running, flags = 0;

	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(o->multi, fd, flags, &running);
	outbound_check(o);
}

/* libcurl's timeout expired (transfer thread). */
static void
outbound_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct outbound *o = arg;
	int running;

	(void)fd;
	(void)events;
	curl_multi_socket_action(o->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	outbound_check(o);
}

/* CURLMOPT_SOCKETFUNCTION: watch socket fd as libcurl asks (thread). */
static int
outbound_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct outbound *o = arg;
	struct event *ev = sockp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(o->multi, fd, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev == NULL) {
		ev = event_new(o->tbase, fd, kind, outbound_event_cb, o);
		if (ev == NULL)
			return -1;
		curl_multi_assign(o->multi, fd, ev);
	} else {
		event_del(ev);
		event_assign(ev, o->tbase, fd, kind, outbound_event_cb, o);
	}
	return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: call libcurl back in ms, -1 never (thread). */
static int
outbound_timeout_cb(CURLM *multi, long ms, void *arg)
{
	struct outbound *o = arg;
	struct timeval tv;

	(void)multi;
	if (ms < 0)
		return evtimer_del(o->timer);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(o->timer, &tv);
}

/* A rate-limited channel has a token again: take what is due. */
static void
outbound_wake_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	clock_wake(arg);
}

/* Set up the multi handle and start the transfer thread. */
int
outbound_init(struct sch *s, char **cause)
{
	struct outbound *o;
	sigset_t all, old;
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*cause = xstrdup("libcurl: cannot initialise");
		return -1;
	}
	o = xcalloc(1, sizeof *o);
	o->s = s;
	TAILQ_INIT(&o->xfers);
	TAILQ_INIT(&o->to_start);
	TAILQ_INIT(&o->done);
	TAILQ_INIT(&o->handing);
	TAILQ_INIT(&o->ended);
	pthread_mutex_init(&o->mu, NULL);
	o->start_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	o->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	o->tbase = event_base_new();
	o->multi = curl_multi_init();
	if (o->start_fd < 0 || o->done_fd < 0 || o->tbase == NULL ||
	    o->multi == NULL) {
		*cause = xstrdup("libcurl: cannot create the multi handle");
		return -1;
	}
	o->timer = evtimer_new(o->tbase, outbound_timer_cb, o);
	o->start_ev = event_new(o->tbase, o->start_fd, EV_READ | EV_PERSIST,
	    outbound_start_cb, o);
	o->done_ev = event_new(s->base, o->done_fd, EV_READ | EV_PERSIST,
	    outbound_done_cb, o);
	o->wake = evtimer_new(s->base, outbound_wake_cb, s);
	o->batch = evtimer_new(s->base, outbound_batch_cb, s);
	if (o->timer == NULL || o->start_ev == NULL || o->done_ev == NULL ||
	    o->wake == NULL || o->batch == NULL || event_add(o->start_ev,
	    NULL) != 0 || event_add(o->done_ev, NULL) != 0) {
		*cause = xstrdup("libcurl: cannot create the multi handle");
		return -1;
	}
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION,
	    outbound_socket_cb);
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION,
	    outbound_timeout_cb);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
	curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS,
	    (long)SCH_MAX_INFLIGHT);
	/* Signals stay the loop's: the thread starts with all blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&o->thread, NULL, outbound_thread, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		*cause = xasprintf("cannot start the transfer thread: %s",
		    strerror(rc));
		return -1;
	}
	s->outbound = o;
	return 0;
}

/*
 * Stop the transfer thread, abandon the transfers in flight (due again
 * at the next start), free.
 */
void
outbound_free(struct sch *s)
{
	struct outbound *o = s->outbound;
	struct outbound_xfer *x;
	struct outbound_ready *r;
	size_t i, k;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	o->stop = 1;
	pthread_mutex_unlock(&o->mu);
	outbound_signal(o->start_fd);
	pthread_join(o->thread, NULL);
	while ((x = TAILQ_FIRST(&o->xfers)) != NULL) {
		TAILQ_REMOVE(&o->xfers, x, entry);
		curl_multi_remove_handle(o->multi, x->easy);
		outbound_xfer_free(x);
	}
	while (o->nidle > 0)
		curl_easy_cleanup(o->idle[--o->nidle]);
	while (o->nspare > 0)
		free(o->spare[--o->nspare]);
	curl_multi_cleanup(o->multi);
	event_free(o->timer);
	event_free(o->start_ev);
	event_free(o->done_ev);
	event_base_free(o->tbase);
	close(o->start_fd);
	close(o->done_fd);
	pthread_mutex_destroy(&o->mu);
	event_free(o->wake);
	event_free(o->batch);
	for (i = 0; i < o->nch; i++) {
		while ((r = TAILQ_FIRST(&o->ch[i]->ready)) != NULL) {
			TAILQ_REMOVE(&o->ch[i]->ready, r, entry);
			eng_delivery_free(&r->d);
			free(r);
		}
		free(o->ch[i]->name);
		free(o->ch[i]->type);
		free(o->ch[i]->url);
		for (k = 0; k < 3; k++)
			free(o->ch[i]->parts[k]);
		free(o->ch[i]);
	}
	free(o->ch);
	free(o);
	s->outbound = NULL;
	curl_global_cleanup();
}

/*
 * How many deliveries channel ch may take now (at most want): enough to
 * fill its sessions and OUTBOUND_DEPTH - 1 times as many to start the
 * moment one ends (without waiting for the outcome's commit), within its
 * token bucket; *limited when the bucket decided.  A rate-limited
 * channel takes no more than its free sessions, so that what it takes
 * starts at once: deliveries queued ahead while a receiver was slow
 * would otherwise all start together when it recovers, past the rate.
 */
static size_t
outbound_room(const struct eng_channel *ch, struct outbound_channel *oc,
    size_t want, int *limited)
{
	uint64_t now = sch_notify_monotonic_usec();
	double cap = ch->max_per_second > 1 ? ch->max_per_second : 1;
	int depth = ch->max_per_second > 0 ? 1 : OUTBOUND_DEPTH;
	int busy = oc->active + oc->nready;
	size_t room = want;

	*limited = 0;
	if (depth * ch->max_sessions - busy < (int)room)
		room = depth * ch->max_sessions > busy ?
		    (size_t)(depth * ch->max_sessions - busy) : 0;
	if (ch->max_per_second <= 0)
		return room;
	oc->tokens += (double)(now - oc->refilled_us) / 1e6 *
	    ch->max_per_second;
	if (oc->tokens > cap)
		oc->tokens = cap;
	oc->refilled_us = now;
	if ((double)room > oc->tokens) {
		room = (size_t)oc->tokens;
		*limited = 1;
	}
	return room;
}

/*
 * Wake up when channel ch's bucket next holds a token, or earlier when
 * another channel's bucket does (one timer serves them all).
 */
static void
outbound_wake_at_token(struct outbound *o, const struct eng_channel *ch,
    struct outbound_channel *oc)
{
	double secs = (oc->tokens < 1 ? 1 - oc->tokens : 0) /
	    ch->max_per_second;
	uint64_t now = sch_notify_monotonic_usec(), at;
	struct timeval tv;

	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6) + 1;
	at = now + (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
	if (evtimer_pending(o->wake, NULL) && o->wake_us <= at)
		return;
	o->wake_us = at;
	evtimer_add(o->wake, &tv);
}

/*
 * Take up to max deliveries due at now (inside the caller's transaction),
 * channel by channel as their limits allow, leaving room for no more
 * than SCH_MAX_INFLIGHT in flight.
 */
size_t
outbound_take(struct sch *s, int64_t now, struct eng_delivery *out,
    size_t max)
{
	const struct eng_config *c = eng_config(s->eng);
	const struct eng_channel *ch;
	struct outbound_channel *oc;
	size_t n = 0, i, room, got;
	int limited;

	if (s->inflight >= SCH_MAX_INFLIGHT)
		return 0;
	if (max > SCH_MAX_INFLIGHT - s->inflight)
		max = SCH_MAX_INFLIGHT - s->inflight;
	for (i = 0; i < eng_config_channel_count(c) && n < max; i++) {
		ch = eng_config_channel(c, i);
		if (!eng_channel_outgoing(ch->type))
			continue;
		oc = outbound_channel(s->outbound, ch);
		room = outbound_room(ch, oc, max - n, &limited);
		got = room > 0 ? eng_delivery_take(s->eng, ch->name, now,
		    out + n, room) : 0;
		if (ch->max_per_second > 0)
			oc->tokens -= (double)got;
		/* Its bucket ran dry with work perhaps left: come back. */
		if (limited && got == room)
			outbound_wake_at_token(s->outbound, ch, oc);
		n += got;
	}
	return n;
}

/* Start delivering d on channel ch now (the caller frees d). */
static void
outbound_launch(struct sch *s, const struct eng_channel *ch,
    struct outbound_channel *oc, struct eng_delivery *d)
{
	struct outbound *o = s->outbound;
	struct outbound_xfer *x;
	char *cause = NULL;
	int rc = -1;

	x = outbound_xfer_new(o);
	x->s = s;
	x->start_us = sch_notify_monotonic_usec();
	x->o = xcalloc(1, sizeof *x->o);
	x->o->id = d->id;
	x->o->channel = xstrdup(d->channel);
	x->o->message_id = xstrdup(d->message_id);
	x->o->attempt = d->attempt;
	x->o->at = sch_now(s);
	x->oc = oc;
	oc->active++;
	oc->attempts++;
	TAILQ_INSERT_TAIL(&o->xfers, x, entry);
	x->easy = o->nidle > 0 ? o->idle[--o->nidle] : curl_easy_init();
	if (x->easy == NULL)
		cause = xstrdup("libcurl: cannot create a transfer");
	else if (strcmp(ch->type, "email") == 0)
		rc = email_prepare(x, ch, d, &cause);
	else
		rc = webhook_prepare(x, ch, d, &cause);
	if (rc == 0) {
		x->sessions = ch->max_sessions;
		TAILQ_INSERT_TAIL(&o->handing, x, hand);
		return;
	}
	x->o->result = ENG_ATTEMPT_FAILED;
	x->o->error = cause != NULL ? cause : xstrdup("libcurl: cannot "
	    "start the transfer");
	outbound_finished(x);
}

/*
 * Set up channel oc's waiting deliveries while the transfer thread may
 * take more of them (OUTBOUND_AHEAD); a channel the configuration no
 * longer has gives them up.
 */
static void
outbound_next(struct sch *s, struct outbound_channel *oc)
{
	const struct eng_channel *ch;
	struct outbound_ready *r;
	struct sch_outcome *o;

	while ((r = TAILQ_FIRST(&oc->ready)) != NULL) {
		ch = outbound_config(s, oc->name);
		if (ch != NULL && eng_channel_outgoing(ch->type) &&
		    oc->active >= OUTBOUND_AHEAD * ch->max_sessions)
			return;
		TAILQ_REMOVE(&oc->ready, r, entry);
		oc->nready--;
		if (ch != NULL && eng_channel_outgoing(ch->type))
			outbound_launch(s, ch, oc, &r->d);
		else {
			o = xcalloc(1, sizeof *o);
			o->id = r->d.id;
			o->channel = xstrdup(r->d.channel);
			o->message_id = xstrdup(r->d.message_id);
			o->attempt = r->d.attempt;
			o->at = sch_now(s);
			o->result = ENG_ATTEMPT_FAILED;
			o->error = xasprintf("channel \"%s\" is not configured",
			    oc->name);
			s->inflight--;
			outbound_outcome(s, o);
		}
		eng_delivery_free(&r->d);
		free(r);
	}
}

/*
 * Start delivering the n deliveries d (the caller frees them): each
 * handed to the transfer thread now or queued until its channel may
 * hand more.  Their channels are ones this pass took them for
 * (outbound_take), so they are in the configuration in force.
 */
void
outbound_start(struct sch *s, struct eng_delivery *d, size_t n)
{
	const struct eng_channel *ch;
	struct outbound_channel *oc;
	struct outbound_ready *r;
	size_t i;

	for (i = 0; i < n; i++) {
		ch = outbound_config(s, d[i].channel);
		assert(ch != NULL && eng_channel_outgoing(ch->type));
		oc = outbound_channel(s->outbound, ch);
		s->inflight++;
		if (oc->active < OUTBOUND_AHEAD * ch->max_sessions) {
			outbound_launch(s, ch, oc, &d[i]);
			continue;
		}
		/* The delivery's strings move to the queue; d[i] is left empty. */
		r = xcalloc(1, sizeof *r);
		r->d = d[i];
		memset(&d[i], 0, sizeof d[i]);
		TAILQ_INSERT_TAIL(&oc->ready, r, entry);
		oc->nready++;
	}
	outbound_hand(s->outbound);
}

/* Free an outcome. */
void
outbound_outcome_free(struct sch_outcome *o)
{
	free(o->channel);
	free(o->message_id);
	free(o->error);
	free(o->request);
	free(o->response);
	free(o);
}

/*
 * Log failed attempt o, which left its delivery in state st (next due at
 * next): at most OUTBOUND_WARN_MAX lines a minute, then how many were
 * left out.
 */
static void
outbound_warn(struct outbound *o, const struct sch_outcome *oc,
    enum eng_delivery_state st, int64_t next)
{
	uint64_t now = sch_notify_monotonic_usec();
	char when[32];

	if (now - o->warn_since >= OUTBOUND_WARN_WINDOW_US) {
		if (o->unlogged > 0)
			log_warnx("deliveries: %llu more failed attempts in "
			    "the last minute were not logged",
			    (unsigned long long)o->unlogged);
		o->warn_since = now;
		o->warned = 0;
		o->unlogged = 0;
	}
	if (o->warned >= OUTBOUND_WARN_MAX) {
		o->unlogged++;
		return;
	}
	o->warned++;
	if (st == ENG_DELIVERY_RETRYING)
		tz_instant_format(next, when, sizeof when);
	log_warnx("delivery of message %s on %s failed (attempt %d): %s; %s%s",
	    oc->message_id, oc->channel, oc->attempt, oc->error != NULL ?
	    oc->error : "failed", st == ENG_DELIVERY_RETRYING ?
	    "next attempt at " : "undelivered", st == ENG_DELIVERY_RETRYING ?
	    when : "");
}

/* Record outcome o in the flush's transaction (and log a failure). */
void
outbound_record(struct sch *s, struct sch_outcome *o, int64_t now)
{
	struct eng_attempt a;
	enum eng_delivery_state st;
	int64_t next;

	memset(&a, 0, sizeof a);
	a.id = o->id;
	a.channel = o->channel;
	a.result = o->result;
	a.error = o->error;
	a.at = o->at;
	a.duration_us = o->duration_us;
	a.request = o->request;
	a.response = o->response;
	st = eng_delivery_done(s->eng, &a, now, &next);
	if (o->result != ENG_ATTEMPT_OK)
		outbound_warn(s->outbound, o, st, next);
}

/* Write s as a Prometheus label value (quotes, backslashes escaped). */
static void
outbound_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* Append counter which (0 attempts, 1 successes, 2 failures) by channel. */
static void
outbound_counter(FILE *f, struct outbound *o, int which, const char *name,
    const char *help)
{
	const struct outbound_channel *oc;
	size_t i;

	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (i = 0; i < o->nch; i++) {
		oc = o->ch[i];
		fprintf(f, "%s{channel=\"", name);
		outbound_label(f, oc->name);
		fprintf(f, "\",type=\"%s\"} %llu\n", oc->type,
		    (unsigned long long)(which == 0 ? oc->attempts : which == 1 ?
		    oc->successes : oc->failures));
	}
}

/* The per-channel metrics, in Prometheus text format. */
void
outbound_metrics(struct sch *s, FILE *f)
{
	struct outbound *o = s->outbound;
	struct outbound_channel *oc;
	size_t i;
	int b;

	outbound_counter(f, o, 0, "belfry_delivery_attempts_total",
	    "Delivery attempts started by this process, by channel.");
	outbound_counter(f, o, 1, "belfry_delivery_successes_total",
	    "Delivery attempts that succeeded, by channel.");
	outbound_counter(f, o, 2, "belfry_delivery_failures_total",
	    "Delivery attempts that failed, by channel.");
	fprintf(f, "# HELP belfry_delivery_duration_seconds How long delivery "
	    "attempts took, by channel.\n# TYPE "
	    "belfry_delivery_duration_seconds histogram\n");
	for (i = 0; i < o->nch; i++) {
		oc = o->ch[i];
		for (b = 0; b < OUTBOUND_BUCKETS; b++) {
			fprintf(f, "belfry_delivery_duration_seconds_bucket"
			    "{channel=\"");
			outbound_label(f, oc->name);
			fprintf(f, "\",le=\"%s\"} %llu\n", outbound_labels[b],
			    (unsigned long long)oc->dur[b]);
		}
		fprintf(f, "belfry_delivery_duration_seconds_sum{channel=\"");
		outbound_label(f, oc->name);
		fprintf(f, "\"} %.6f\n", oc->dur_sum);
		fprintf(f, "belfry_delivery_duration_seconds_count{channel=\"");
		outbound_label(f, oc->name);
		fprintf(f, "\"} %llu\n", (unsigned long long)
		    oc->dur[OUTBOUND_BUCKETS - 1]);
	}
}
