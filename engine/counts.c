/*
 * Counters by workflow and channel for /metrics: recipient runs by
 * workflow, messages by workflow and channel, delivery outcomes by
 * channel.  Like the engine's other counters they count since the
 * process started, and what a rolled-back request counted stays counted.
 * Workflows and channels come from the configuration, so the table stays
 * small; past ENG_COUNTS_MAX entries new labels are counted under
 * "other".
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define ENG_COUNTS_MAX 4096

struct eng_count {
	char *workflow;          /* "" for a delivery */
	char *channel;           /* "" for a run */
	uint64_t n[ENG_COUNT_KINDS];
};

/* The entry of (workflow, channel), made when new. */
static struct eng_count *
eng_count_entry(struct eng *e, const char *workflow, const char *channel)
{
	struct eng_count *c;
	size_t i;

	for (i = 0; i < e->ncounts; i++) {
		c = &e->counts[i];
		if (strcmp(c->workflow, workflow) == 0 &&
		    strcmp(c->channel, channel) == 0)
			return c;
	}
	if (e->ncounts >= ENG_COUNTS_MAX) {
		if (strcmp(workflow, "other") == 0 || strcmp(channel,
		    "other") == 0)
			return &e->counts[e->ncounts - 1];
		return eng_count_entry(e, *workflow ? "other" : "",
		    *channel ? "other" : "");
	}
	e->counts = xreallocarray(e->counts, e->ncounts + 1,
	    sizeof *e->counts);
	c = &e->counts[e->ncounts++];
	memset(c, 0, sizeof *c);
	c->workflow = xstrdup(workflow);
	c->channel = xstrdup(channel);
	return c;
}

/* See engine_int.h: add n to kind's count of (workflow, channel). */
void
eng_count(struct eng *e, enum eng_count_kind kind, const char *workflow,
    const char *channel, uint64_t n)
{
	eng_count_entry(e, workflow != NULL ? workflow : "",
	    channel != NULL ? channel : "")->n[kind] += n;
}

/* See engine.h. */
void
eng_counts(struct eng *e, void (*f)(void *, const char *, const char *,
    const uint64_t *), void *arg)
{
	size_t i;

	for (i = 0; i < e->ncounts; i++)
		f(arg, e->counts[i].workflow, e->counts[i].channel,
		    e->counts[i].n);
}

/* Free the table (at close). */
void
eng_counts_free(struct eng *e)
{
	size_t i;

	for (i = 0; i < e->ncounts; i++) {
		free(e->counts[i].workflow);
		free(e->counts[i].channel);
	}
	free(e->counts);
	e->counts = NULL;
	e->ncounts = 0;
}
