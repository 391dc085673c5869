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

/* feeds.c: whether data value have is want (a query's string or JSON). */
int msg_data_match(json_t *want, json_t *have);

/* content.c: the channel called name in the configuration in force. */
const struct eng_channel *msg_channel(struct eng *e, const char *name);

/* content.c: read message id into *m (to clear); ENG_NOT_FOUND, *cause. */
enum eng_status msg_load(struct eng *e, const char *id,
    struct store_message *m, char **cause);

/* content.c: message id in the shape shape makes of it (m to clear). */
enum eng_status msg_reply(struct eng *e, const char *id,
    json_t *(*shape)(struct eng *, struct store_message *), json_t **reply,
    char **cause);

/*
 * content.c: a page of items (each with an "id", newest first; taken)
 * for q's after, before and page_size, as {items, page_info};
 * ENG_INVALID with *cause for a cursor that is none of theirs.
 */
enum eng_status msg_items_page(json_t *items, json_t *q, json_t **reply,
    char **cause);

/* content.c: record event type (data: NULL or borrowed) of seq; 0 or -1. */
int msg_event(struct eng *e, int64_t seq, const char *type, json_t *data,
    int64_t now);

/* content.c: a message body's parts as Knock's feed content blocks. */
json_t *msg_blocks(json_t *content);

#endif
