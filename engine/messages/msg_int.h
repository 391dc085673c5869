/*
 * Private to engine/messages/: what its readers of messages, feeds and
 * recipient runs share.
 */
#ifndef BELFRY_MSG_INT_H
#define BELFRY_MSG_INT_H

#include "engine/engine_int.h"

/* feeds.c: an instant as RFC 3339 UTC, or null for STORE_NONE. */
json_t *msg_time(int64_t t);

/* feeds.c: a query's page size, and a page's info with its cursor. */
int msg_page_size(json_t *query);
json_t *msg_page_info(const char *last, int full, int size);

#endif
