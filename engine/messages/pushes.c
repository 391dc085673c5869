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
