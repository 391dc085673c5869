/*
 * Outgoing HTTP deliveries: the caller takes the due ones, performs them
 * and reports each outcome; failures are retried with exponential backoff
 * and jitter, then the message is undelivered.
 */
#include <stdlib.h>

#include "engine/messages/msg_int.h"

#define MSG_MAX_ATTEMPTS 8

/* Take deliveries due at now, marking them in flight. */
size_t
eng_delivery_take(struct eng *e, int64_t now, struct eng_delivery *out,
    size_t max)
{
	struct store_delivery *d = xcalloc(max ? max : 1, sizeof *d);
	size_t n, i;
	char id[37];

	n = store_deliveries_take(e->store, now, max, d);
	for (i = 0; i < n; i++) {
		out[i].id = d[i].msg;
		out[i].url = d[i].url;
		out[i].body = d[i].body;
		out[i].attempt = d[i].attempt;
		eng_id_format(e, ENG_ID_MSG, (uint64_t)d[i].msg, 0, id);
		out[i].message_id = xstrdup(id);
	}
	free(d);
	return n;
}

/* Free a delivery's strings. */
void
eng_delivery_free(struct eng_delivery *d)
{
	free(d->url);
	free(d->body);
	free(d->message_id);
}

/* Set a message's status. */
static void
dlv_set_status(struct eng *e, int64_t seq, const char *status, int64_t now)
{
	store_message_status(e->store, seq, status, now);
}

/*
 * Record a delivery's outcome.  Failures retry after 15 s, 30 s, 1 min...
 * (doubling, +-20% jitter: about 30 minutes over 8 attempts), then the
 * message is undelivered.
 */
void
eng_delivery_done(struct eng *e, int64_t id, int ok, const char *err,
    int64_t now)
{
	int attempts = store_delivery_attempts(e->store, id);
	int64_t delay;

	if (attempts < 0)
		attempts = MSG_MAX_ATTEMPTS;
	if (ok || attempts >= MSG_MAX_ATTEMPTS) {
		store_delivery_drop(e->store, id);
		dlv_set_status(e, id, ok ? "delivered" : "undelivered", now);
		if (e->stats.queue_depth > 0)
			e->stats.queue_depth--;
		if (!ok)
			e->stats.deliveries_failed++;
		return;
	}
	delay = 15LL << (attempts - 1);
	delay += (delay * ((int64_t)(random() % 41) - 20)) / 100;
	store_delivery_retry(e->store, id, now + delay, err);
}
