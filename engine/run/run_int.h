/*
 * Private to engine/run/: recipient runs as the step machine (steps.c),
 * batches (batch.c), cancellation (cancel.c), triggers (trigger.c) and
 * the fan-out (fanout.c) share them.
 */
#ifndef BELFRY_RUN_INT_H
#define BELFRY_RUN_INT_H

#include "engine/engine_int.h"

#define WAIT_RESUME ENG_WAIT_RESUME
#define WAIT_BATCH ENG_WAIT_BATCH

/* A recipient run being advanced. */
struct rrun {
	int64_t idx;
	char *rcpt;
	json_t *recipient;       /* entity for templates (owned) */
	json_t *tdata;           /* $trigger_data or NULL (owned) */
	json_t *sub;             /* subscription properties or NULL (owned) */
	struct eng_text events;  /* the JSON array of its events (owned) */
	json_t *prefs;           /* merged preferences, lazily (owned) */
	json_t *batch;           /* batch variables or NULL (owned) */
	size_t pc;
	int64_t wait_at;         /* 0 when not waiting on a delay */
	int64_t batch_id;
	const char *status;
};

/* steps.c: events, durations, waits, and a run's load, advance and save. */
void run_event(struct eng_text *events, const char *event,
    const char *status, const struct eng_step *s, json_t *data, int64_t now);
json_t *run_data_path(json_t *data, const char *path);
int64_t run_duration(struct eng_run *r, json_t *ctx,
    const struct eng_step *s);
int run_unwait(struct eng *e, int64_t due, int kind, int64_t a, int64_t b);
int run_save(struct eng *e, struct eng_run *r, struct rrun *rr, int insert);
int run_advance(struct eng *e, struct eng_run *r, struct rrun *rr,
    int insert);
void run_rrun_free(struct rrun *rr);
int run_rrun_load(struct eng *e, int64_t seq, int64_t idx, struct rrun *rr);

/* batch.c: the batch step, its variables, and a cancelled activity. */
int run_batch(struct eng *e, struct eng_run *r, struct rrun *rr,
    const struct eng_step *s, json_t *ctx);
json_t *run_batch_vars(struct eng *e, const struct eng_step *s, int64_t id);
int64_t run_batch_state(struct eng *e, int64_t id, int *open);
int64_t run_batch_pc(struct eng *e, int64_t id);
void run_cancel_batched(struct eng *e, int64_t seq, struct rrun *rr,
    int carrier);

/* fanout.c: start a recipient run for rcpt unless the run reached it. */
int fanout_reach(struct eng *e, struct eng_run *r, const char *rcpt,
    json_t *tdata, json_t *sub, int level, int track, int64_t *idx);

#endif
