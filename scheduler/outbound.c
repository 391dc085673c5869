/*
 * Outgoing deliveries: webhooks (webhook.c) and email (email.c) through
 * libcurl's multi interface, driven by the event loop.  libcurl says
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION: one event per socket)
 * and when to call it back (CURLMOPT_TIMERFUNCTION: one timer), and
 * curl_multi_socket_action runs only when one of those fires, so the
 * loop never waits on the network.  The multi handle keeps connections
 * open between transfers (HTTP/1.1 keep-alive, SMTP sessions).
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
#include <assert.h>
#include <stdlib.h>
#include <string.h>

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

/* A channel takes up to this many times its sessions (the rest queued). */
#define OUTBOUND_DEPTH 4

/* Failed attempts logged per minute, at most. */
#define OUTBOUND_WARN_MAX 10
#define OUTBOUND_WARN_WINDOW_US (60ULL * 1000000)

/* A delivery taken and waiting for one of its channel's sessions. */
struct outbound_ready {
	struct eng_delivery d;
	TAILQ_ENTRY(outbound_ready) entry;
};

/* A channel's state, kept by name across reloads. */
struct outbound_channel {
	char *name, *type;
	int active;                  /* transfers in flight */
	int nready;                  /* deliveries waiting for a session */
	TAILQ_HEAD(, outbound_ready) ready;
	double tokens;               /* max_per_second's bucket */
	uint64_t refilled_us;
	uint64_t attempts, successes, failures;
	uint64_t dur[OUTBOUND_BUCKETS]; /* cumulative */
	double dur_sum;
};

struct outbound {
	struct sch *s;
	CURLM *multi;
	struct event *timer;         /* libcurl's timeout */
	struct event *wake;          /* a channel has tokens again */
	struct event *batch;         /* the outcomes' flush is due */
	size_t pending;              /* outcomes queued since the last kick */
	struct outbound_channel **ch;
	size_t nch;
	TAILQ_HEAD(, outbound_xfer) xfers;
	CURL *idle[SCH_MAX_INFLIGHT]; /* easy handles for the next transfers */
	size_t nidle;
	uint64_t warn_since;         /* the minute of the warning lines */
	unsigned warned;
	uint64_t unlogged;           /* failed attempts not logged in it */
};

static void outbound_next(struct sch *, struct outbound_channel *);

/* A JSON string of n bytes at p, invalid UTF-8 replaced by '?'. */
json_t *
outbound_text(const char *p, size_t n)
{
	json_t *v = json_stringn(p, n);
	char *c;
	size_t i;

	if (v != NULL)
		return v;
	c = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		c[i] = (unsigned char)p[i] < 0x80 ? p[i] : '?';
	v = json_stringn(c, n);
	free(c);
	return v;
}

/* The parts of url Knock's log shows (host, path, query) into req. */
void
outbound_url_parts(json_t *req, const char *url)
{
	static const struct { CURLUPart part; const char *key; } parts[] = {
		{ CURLUPART_HOST, "host" }, { CURLUPART_PATH, "path" },
		{ CURLUPART_QUERY, "query" } };
	CURLU *u = curl_url();
	char *v;
	size_t i;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK)
		for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
			v = NULL;
			curl_url_get(u, parts[i].part, &v, 0);
			json_object_set_new(req, parts[i].key, v != NULL ?
			    json_string(v) : json_null());
			curl_free(v);
		}
	curl_url_cleanup(u);
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

/* Free a finished transfer, keeping its easy handle for the next. */
static void
outbound_xfer_free(struct outbound_xfer *x)
{
	struct outbound *o = x->s->outbound;

	if (x->easy != NULL && o->nidle < SCH_MAX_INFLIGHT) {
		curl_easy_reset(x->easy);
		o->idle[o->nidle++] = x->easy;
	} else if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->list);
	json_decref(x->resp_headers);
	free(x->body);
	if (x->o != NULL)
		outbound_outcome_free(x->o);
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

/* Collect the transfers libcurl has finished. */
static void
outbound_check(struct outbound *o)
{
	struct outbound_channel *oc;
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
		oc = x->oc;
		x->finish(x, m->data.result);
		outbound_finished(x);
		outbound_next(o->s, oc);
	}
}

/* A watched socket is ready. */
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

/* libcurl's timeout expired. */
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

/* CURLMOPT_SOCKETFUNCTION: watch socket fd as libcurl asks. */
static int
outbound_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct sch *s = arg;
	struct outbound *o = s->outbound;
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
		ev = event_new(s->base, fd, kind, outbound_event_cb, o);
		if (ev == NULL)
			return -1;
		curl_multi_assign(o->multi, fd, ev);
	} else {
		event_del(ev);
		event_assign(ev, s->base, fd, kind, outbound_event_cb, o);
	}
	return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: call libcurl back in ms (-1: never). */
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

/* Set up the multi handle on the loop. */
int
outbound_init(struct sch *s, char **cause)
{
	struct outbound *o;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*cause = xstrdup("libcurl: cannot initialise");
		return -1;
	}
	o = xcalloc(1, sizeof *o);
	o->s = s;
	TAILQ_INIT(&o->xfers);
	o->multi = curl_multi_init();
	o->timer = evtimer_new(s->base, outbound_timer_cb, o);
	o->wake = evtimer_new(s->base, outbound_wake_cb, s);
	o->batch = evtimer_new(s->base, outbound_batch_cb, s);
	if (o->multi == NULL || o->timer == NULL || o->wake == NULL ||
	    o->batch == NULL) {
		*cause = xstrdup("libcurl: cannot create the multi handle");
		return -1;
	}
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION,
	    outbound_socket_cb);
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION,
	    outbound_timeout_cb);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
	curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS,
	    (long)SCH_MAX_INFLIGHT);
	s->outbound = o;
	return 0;
}

/* Abandon the transfers in flight (due again at the next start), free. */
void
outbound_free(struct sch *s)
{
	struct outbound *o = s->outbound;
	struct outbound_xfer *x;
	struct outbound_ready *r;
	size_t i;

	if (o == NULL)
		return;
	while ((x = TAILQ_FIRST(&o->xfers)) != NULL) {
		TAILQ_REMOVE(&o->xfers, x, entry);
		curl_multi_remove_handle(o->multi, x->easy);
		outbound_xfer_free(x);
	}
	while (o->nidle > 0)
		curl_easy_cleanup(o->idle[--o->nidle]);
	curl_multi_cleanup(o->multi);
	event_free(o->timer);
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
 * token bucket; *limited when the bucket decided.
 */
static size_t
outbound_room(const struct eng_channel *ch, struct outbound_channel *oc,
    size_t want, int *limited)
{
	uint64_t now = sch_notify_monotonic_usec();
	double cap = ch->max_per_second > 1 ? ch->max_per_second : 1;
	size_t room = want;

	*limited = 0;
	if (OUTBOUND_DEPTH * ch->max_sessions - oc->active - oc->nready <
	    (int)room)
		room = OUTBOUND_DEPTH * ch->max_sessions > oc->active +
		    oc->nready ? (size_t)(OUTBOUND_DEPTH * ch->max_sessions -
		    oc->active - oc->nready) : 0;
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

/* Wake up when channel ch's bucket next holds a token. */
static void
outbound_wake_at_token(struct outbound *o, const struct eng_channel *ch,
    struct outbound_channel *oc)
{
	double secs = (oc->tokens < 1 ? 1 - oc->tokens : 0) /
	    ch->max_per_second;
	struct timeval tv;

	if (evtimer_pending(o->wake, NULL))
		return;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6) + 1;
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

	x = xcalloc(1, sizeof *x);
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
	if (rc == 0 && curl_multi_add_handle(o->multi, x->easy) == CURLM_OK)
		return;
	x->o->result = ENG_ATTEMPT_FAILED;
	x->o->error = cause != NULL ? cause : xstrdup("libcurl: cannot "
	    "start the transfer");
	outbound_finished(x);
}

/*
 * Start channel oc's waiting deliveries while it has free sessions; a
 * channel the configuration no longer has gives them up.
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
		    oc->active >= ch->max_sessions)
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
 * Start delivering d (the caller frees d), at once or when a session of
 * its channel ends.  Its channel is one this pass took it for
 * (outbound_take), so it is in the configuration in force.
 */
void
outbound_start(struct sch *s, struct eng_delivery *d)
{
	const struct eng_channel *ch = outbound_config(s, d->channel);
	struct outbound_channel *oc;
	struct outbound_ready *r;

	assert(ch != NULL && eng_channel_outgoing(ch->type));
	oc = outbound_channel(s->outbound, ch);
	s->inflight++;
	if (oc->active < ch->max_sessions) {
		outbound_launch(s, ch, oc, d);
		return;
	}
	/* The delivery's strings move to the queue; d is left empty. */
	r = xcalloc(1, sizeof *r);
	r->d = *d;
	memset(d, 0, sizeof *d);
	TAILQ_INSERT_TAIL(&oc->ready, r, entry);
	oc->nready++;
}

/* Free an outcome. */
void
outbound_outcome_free(struct sch_outcome *o)
{
	free(o->channel);
	free(o->message_id);
	free(o->error);
	json_decref(o->request);
	json_decref(o->response);
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
