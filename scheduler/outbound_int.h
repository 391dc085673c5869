/*
 * Private to scheduler/outbound.c, webhook.c and email.c: one transfer
 * on the libcurl multi handle, and what webhook.c and email.c provide.
 *
 * outbound.c owns the multi handle, the per-channel limits and the
 * transfers; webhook.c and email.c set up a transfer's easy handle from
 * its delivery and channel (*_prepare) and judge its end (*_finish).
 */
#ifndef BELFRY_SCHEDULER_OUTBOUND_INT_H
#define BELFRY_SCHEDULER_OUTBOUND_INT_H

#include <sys/queue.h>

#include <curl/curl.h>

#include "scheduler/scheduler.h"

/* The first bytes of a reply kept for the delivery log. */
#define OUTBOUND_KEEP 4096

struct outbound_channel;

/* One delivery attempt in flight. */
struct outbound_xfer {
	struct sch *s;
	struct outbound_channel *oc;
	CURL *easy;
	struct sch_outcome *o;       /* filled as the attempt goes */
	uint64_t start_us;           /* monotonic */
	char *body;                  /* the request body (its own) */
	size_t len, off;             /* its length and what was read */
	struct curl_slist *list;     /* request headers or recipients */
	json_t *resp_headers;        /* the reply's headers (http) */
	char reply[OUTBOUND_KEEP];   /* the reply's body, or SMTP's last line */
	size_t reply_len;
	size_t reply_total;          /* bytes of reply body seen */
	char errbuf[CURL_ERROR_SIZE];
	void (*finish)(struct outbound_xfer *, CURLcode);
	TAILQ_ENTRY(outbound_xfer) entry;
};

/* outbound.c: a JSON string of text that may not be valid UTF-8. */
json_t *outbound_text(const char *p, size_t n);

/* outbound.c: host, path and query of url into req (a log's request). */
void outbound_url_parts(json_t *req, const char *url);

/* outbound.c: the options every transfer shares (timeouts, CA file). */
void outbound_common(struct outbound_xfer *x, const struct eng_channel *ch,
    long timeout_ms);

/* webhook.c: an http delivery; -1 with *cause when it cannot start. */
int webhook_prepare(struct outbound_xfer *x, const struct eng_channel *ch,
    struct eng_delivery *d, char **cause);

/* email.c: an email delivery; -1 with *cause when it cannot start. */
int email_prepare(struct outbound_xfer *x, const struct eng_channel *ch,
    struct eng_delivery *d, char **cause);

#endif
