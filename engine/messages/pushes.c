/*
 * What changed in feeds, for the daemon's live push to open sockets:
 * every in-app message noted as its step makes it (with its tenant), and
 * every engagement change (a "mark": the feed's counts moved), the notes of
 * a request that rolls back dropped with it, and all of them dropped when
 * the transaction rolls back; the daemon takes them after each commit.
 * At most ENG_PUSHES_MAX are listed between takes; past that the take
 * says "every feed" instead.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/*
 * Note that rcpt's feed on channel got a message (of tenant, may be
 * NULL), or (mark) that one of its messages changed engagement.
 */
void
eng_push_note(struct eng *e, const char *rcpt, const char *channel,
    const char *tenant, int mark)
{
	struct eng_push *p;

	if (e->npushes >= ENG_PUSHES_MAX) {
		e->pushes_all = 1;
		return;
	}
	if (e->npushes == e->pushes_cap) {
		e->pushes_cap = e->pushes_cap ? e->pushes_cap * 2 : 64;
		e->pushes = xreallocarray(e->pushes, e->pushes_cap,
		    sizeof *e->pushes);
	}
	p = &e->pushes[e->npushes++];
	p->rcpt = xstrdup(rcpt);
	p->channel = xstrdup(channel);
	p->tenant = tenant != NULL ? xstrdup(tenant) : NULL;
	p->mark = mark;
}

/* Drop the notes made after the first keep of them. */
void
eng_pushes_truncate(struct eng *e, size_t keep)
{
	while (e->npushes > keep) {
		e->npushes--;
		free(e->pushes[e->npushes].rcpt);
		free(e->pushes[e->npushes].channel);
		free(e->pushes[e->npushes].tenant);
	}
	if (keep == 0)
		e->pushes_all = 0;
}

/* See engine.h: take the notes of committed work. */
size_t
eng_pushes_take(struct eng *e, struct eng_push **out, int *all)
{
	size_t n = e->npushes;

	*out = e->pushes;
	*all = e->pushes_all;
	e->pushes = NULL;
	e->npushes = e->pushes_cap = 0;
	e->pushes_all = 0;
	return n;
}

/* See engine.h: free what eng_pushes_take handed out. */
void
eng_pushes_free(struct eng_push *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].rcpt);
		free(p[i].channel);
		free(p[i].tenant);
	}
	free(p);
}

/*
 * Tell the other nodes sharing the store of the changes noted so far,
 * when the open transaction commits (store_announce); 0 or -1.
 */
int
eng_pushes_announce(struct eng *e)
{
	struct store_note *n = NULL;
	size_t i;
	int rc;

	if (!store_shared(e->store))
		return 0;
	if (e->npushes > 0)
		n = xcalloc(e->npushes, sizeof *n);
	for (i = 0; i < e->npushes; i++) {
		n[i].rcpt = e->pushes[i].rcpt;
		n[i].channel = e->pushes[i].channel;
		n[i].tenant = e->pushes[i].tenant;
		n[i].mark = e->pushes[i].mark;
	}
	rc = store_announce(e->store, n, e->npushes, e->pushes_all);
	free(n);
	return rc;
}

/* The changes heard from other nodes, gathered by eng_heard_note. */
struct eng_heard {
	struct eng_push *p;
	size_t n, cap;
	int all;
};

/* Gather one change another node announced (NULL: every feed). */
static void
eng_heard_note(void *arg, const struct store_note *note)
{
	struct eng_heard *h = arg;
	struct eng_push *p;

	if (note == NULL || h->n >= ENG_PUSHES_MAX) {
		h->all = 1;
		return;
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->p = xreallocarray(h->p, h->cap, sizeof *h->p);
	}
	p = &h->p[h->n++];
	p->rcpt = xstrdup(note->rcpt);
	p->channel = xstrdup(note->channel);
	p->tenant = note->tenant != NULL ? xstrdup(note->tenant) : NULL;
	p->mark = note->mark;
}

/* See engine.h: what other nodes announced since the last call. */
size_t
eng_heard(struct eng *e, struct eng_push **out, int *all, int64_t *due)
{
	struct eng_heard h = { NULL, 0, 0, 0 };

	store_heard(e->store, eng_heard_note, &h, due);
	*out = h.p;
	*all = h.all;
	return h.n;
}

/* See engine.h: the descriptor other nodes' announcements arrive on. */
int
eng_listen_fd(struct eng *e)
{
	return store_listen_fd(e->store);
}
