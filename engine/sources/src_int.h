/*
 * Private to engine/sources/ and its loader (engine/config/): the source
 * files' checker (file.c), the mapping of one event (map.c) and the
 * application of a request's events (receive.c).
 */
#ifndef BELFRY_SOURCES_INT_H
#define BELFRY_SOURCES_INT_H

#include "engine/workflow/workflow_int.h"

/* file.c: one sources/NAME.json file into c's sources. */
int cfg_source(struct cfg_file *f, struct eng_config *c, char **cause);

/* map.c: what a source event asks for (eng_src_map). */
enum eng_src_kind {
	ENG_SRC_UNMAPPED,        /* nothing: why says why */
	ENG_SRC_FAIL,            /* it cannot be mapped: why says why */
	ENG_SRC_DO_TRIGGER,      /* workflow, body: a trigger's */
	ENG_SRC_DO_CANCEL,       /* workflow, body: a cancel's */
	ENG_SRC_DO_IDENTIFY,     /* id, body: the user's upsert */
	ENG_SRC_DO_GROUP         /* id, body: the group's; user to subscribe */
};
struct eng_src_req {
	enum eng_src_kind kind;
	const char *workflow;    /* the mapping's (borrowed) */
	json_t *body;
	char *id, *user, *why;
};

/*
 * Map source d's event ev into *out (cleared first; free it with
 * eng_src_req_clear): 0, or -1 when it cannot be mapped (ENG_SRC_FAIL).
 * Pure: it reads neither the store nor the clock.
 */
int eng_src_map(const struct eng_srcdef *d, json_t *ev,
    struct eng_src_req *out);
void eng_src_req_clear(struct eng_src_req *r);

#endif
