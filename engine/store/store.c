/*
 * The store's entry: store_open picks the backend by the form of the
 * database's name (a postgresql:// URI or a file path), and the functions
 * that free what operations return, which every backend shares.
 */
#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

#include "engine/store/backends.h"
#include "engine/store/store.h"

/* A new random id key, and its 64 hex digits in hex; 0, or -1 with *cause. */
int
store_idkey_make(uint64_t key[4], char hex[80], char **cause)
{
	int i;

	if (getrandom(key, 4 * sizeof *key, 0) != (ssize_t)(4 * sizeof *key)) {
		*cause = xstrdup("getrandom failed");
		return -1;
	}
	for (i = 0; i < 4; i++)
		snprintf(hex + i * 16, 80 - (size_t)i * 16, "%016llx",
		    (unsigned long long)key[i]);
	return 0;
}

/* The id key whose 64 hex digits hex holds. */
void
store_idkey_parse(const char *hex, uint64_t key[4])
{
	char part[17];
	int i;

	for (i = 0; i < 4; i++) {
		memcpy(part, hex + i * 16, 16);
		part[16] = '\0';
		key[i] = strtoull(part, NULL, 16);
	}
}

/* Open the store at path with the backend its form names (store.h). */
struct store *
store_open(const char *path, const char *check, char **cause)
{
	if (strncmp(path, "postgresql://", 13) == 0 ||
	    strncmp(path, "postgres://", 11) == 0)
		return pg_store_open(path, check, cause);
	return sqlite_store_open(path, check, cause);
}

/* Free what an attempt holds. */
void
store_attempt_clear(struct store_attempt *a)
{
	free(a->channel);
	free(a->error);
	json_decref(a->request);
	json_decref(a->response);
	memset(a, 0, sizeof *a);
}

/* Free what a member holds. */
void
store_member_clear(struct store_member *m)
{
	free(m->user);
	free(m->tenant);
	memset(m, 0, sizeof *m);
}

/* Free what an operation's row holds. */
void
store_bulk_clear(struct store_bulk *b)
{
	free(b->name);
	free(b->arg);
	free(b->status);
	json_decref(b->error_items);
	memset(b, 0, sizeof *b);
}

/* Free what a taken delivery holds. */
void
store_delivery_clear(struct store_delivery *d)
{
	free(d->url);
	free(d->body);
	json_decref(d->headers);
	d->url = d->body = NULL;
	d->headers = NULL;
}

/* Free what a message read holds. */
void
store_message_clear(struct store_message *m)
{
	free(m->owned);
	json_decref(m->body);
	json_decref(m->data);
	json_decref(m->metadata);
	memset(m, 0, sizeof *m);
}

/* Free n events read by store_message_events. */
void
store_message_events_free(struct store_message_event *ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ev[i].type);
		json_decref(ev[i].data);
	}
	free(ev);
}

/* Free what a subscription holds. */
void
store_sub_clear(struct store_sub *sub)
{
	free(sub->rcpt);
	json_decref(sub->props);
	memset(sub, 0, sizeof *sub);
}

/* Free what a listed recipient holds. */
void
store_rcpt_row_clear(struct store_rcpt_row *row)
{
	free(row->id);
	json_decref(row->props);
	memset(row, 0, sizeof *row);
}

/* Free what a run read holds. */
void
store_run_clear(struct store_run *r)
{
	free(r->owned);
	json_decref(r->data);
	json_decref(r->settings);
	memset(r, 0, sizeof *r);
}

/* Free what a recipient run read holds. */
void
store_rrun_clear(struct store_rrun *rr)
{
	free(rr->owned);
	json_decref(rr->events);
	json_decref(rr->tdata);
	json_decref(rr->sub);
	memset(rr, 0, sizeof *rr);
}

/* Free n pending entries and their array. */
void
store_pending_free(struct store_pending *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(p[i].rcpt);
	free(p);
}

/* Free what a fan-out job holds. */
void
store_fanout_clear(struct store_fanout *f)
{
	free(f->obj);
	free(f->after);
	json_decref(f->tdata);
	memset(f, 0, sizeof *f);
}

/* Free a schedule's strings. */
void
store_sched_clear(struct store_sched *sc)
{
	free(sc->workflow);
	free(sc->rcpt);
	free(sc->actor);
	free(sc->tenant);
	free(sc->data);
	free(sc->repeats);
	free(sc->rule);
	free(sc->exdates);
	free(sc->dtstart);
	free(sc->timezone);
	free(sc->gap);
	free(sc->overlap);
	free(sc->source);
	free(sc->config_id);
	free(sc->def);
	free(sc->skip_reason);
	free(sc->last_error);
	memset(sc, 0, sizeof *sc);
}

/* Free what a read event holds. */
void
store_source_event_clear(struct store_source_event *ev)
{
	free(ev->owned);
	memset(ev, 0, sizeof *ev);
}

/* Free what an activity read holds. */
void
store_item_clear(struct store_item *it)
{
	free(it->owned);
	json_decref(it->data);
	memset(it, 0, sizeof *it);
}
