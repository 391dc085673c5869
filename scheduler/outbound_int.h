/*
 * Private to scheduler/outbound.c, webhook.c and email.c: one transfer
 * on the libcurl multi handle, and what webhook.c and email.c provide.
 *
 * outbound.c owns the multi handle, the per-channel limits and the
 * transfers; webhook.c and email.c set up a transfer's easy handle from
 * its delivery and channel (*_prepare) and judge its end (*_finish).
 *
 * The transfer itself runs on outbound.c's transfer thread: the easy
 * handle's callbacks (write, header, read, debug) run there, so they
 * touch only the transfer's own buffers below, never JSON (its
 * allocator is the engine's) nor anything else of the daemon's.
 * *_prepare and *_finish run on the event loop's thread.
 */
#ifndef BELFRY_SCHEDULER_OUTBOUND_INT_H
#define BELFRY_SCHEDULER_OUTBOUND_INT_H

#include <sys/queue.h>

#include <curl/curl.h>

#include "engine/json.h"
#include "scheduler/scheduler.h"

/* The first bytes of a reply kept for the delivery log. */
#define OUTBOUND_KEEP 4096

/* Reply headers kept for the log: how many, their names' and values' bytes. */
#define OUTBOUND_HEADERS 64
#define OUTBOUND_HEADER_NAME 128
#define OUTBOUND_HEADER_VALUE 1024

struct outbound_channel;

/*
 * One delivery attempt in flight.  The transfer thread fills rc, code
 * and redirect when it ends, and resets the easy handle (clean).
 */
struct outbound_xfer {
	struct sch *s;
	struct outbound_channel *oc;
	CURL *easy;
	int clean;                   /* easy was reset after the transfer */
	struct sch_outcome *o;       /* filled as the attempt goes */
	uint64_t start_us;           /* monotonic */
	char *body;                  /* the request body (its own) */
	size_t len, off;             /* its length and what was read */
	struct curl_slist *list;     /* request headers or recipients */
	char *hdr;                   /* the reply's headers (http): records */
	size_t hdr_len, hdr_cap;     /* of a name's and a value's length */
	int nhdr;                    /* (two bytes each), name, value */
	size_t reply_len;            /* bytes kept in reply */
	size_t reply_total;          /* bytes of reply body seen */
	CURLcode rc;                 /* how the transfer ended */
	long code;                   /* the reply's status, 0 for none */
	char *redirect;              /* where a redirect pointed, or NULL */
	int sessions;                /* its channel's max_sessions */
	void (*finish)(struct outbound_xfer *);
	TAILQ_ENTRY(outbound_xfer) entry; /* all transfers (loop's thread) */
	TAILQ_ENTRY(outbound_xfer) hand;  /* handed between the threads */
	/* Last, and not cleared when a record is used again. */
	char errbuf[CURL_ERROR_SIZE];
	char reply[OUTBOUND_KEEP];   /* the reply's body, or SMTP's last line */
};

/*
 * outbound.c: x's request as the log keeps it, JSON text into its
 * outcome: method, url, the members in extra (NULL: none), headers (an
 * object's text), x's body (cut to ENG_LOG_BODY bytes), and the url's
 * host, path and query.
 */
void outbound_log_request(struct outbound_xfer *x, const char *method,
    const char *url, const struct eng_text *extra,
    const struct eng_text *headers);

/*
 * outbound.c: the reply as the log keeps it, JSON text into x's outcome:
 * status, headers (an object's text; NULL: none) and x's reply.
 */
void outbound_log_response(struct outbound_xfer *x, long status,
    const struct eng_text *headers);

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
