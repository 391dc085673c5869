/*
 * Private to engine/workflow/ and its loader (engine/config/): config
 * files being checked (file.c) and the workflow compiler (compile.c).
 */
#ifndef BELFRY_WORKFLOW_INT_H
#define BELFRY_WORKFLOW_INT_H

#include "engine/engine_int.h"

/* A file being checked: its name and text, for positions. */
struct cfg_file {
	const char *path;
	char *text;
};

/* file.c: reading, parsing, and errors at a value's path. */
void cfg_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cfg_error(const struct cfg_file *f, const char *path, char **cause,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
char *cfg_read(const char *path, char **cause);
json_t *cfg_load(const struct cfg_file *f, char **cause);
json_t *cfg_parse(struct cfg_file *f, char **cause);
int cfg_keys(const struct cfg_file *f, const char *path, json_t *o,
    const char *const *allowed, char **cause);
int cfg_string(const struct cfg_file *f, json_t *o, const char *key,
    char **out, char **cause);
int cfg_key_ok(const char *s);
json_t *cfg_keyed(struct cfg_file *f, const char *const *allowed,
    const char *what, const char **key, char **cause);
int cfg_strings(const struct cfg_file *f, json_t *v, const char *key,
    char **cause);

/* engine/config/channels.c: belfry.conf's channels into c; one's end. */
int cfg_channels(const struct cfg_file *f, json_t *o, struct eng_config *c,
    char **cause);
void cfg_channel_clear(struct eng_channel *ch);

/*
 * engine/config/keys.c: the keys of api_keys_file and of the systemd
 * credentials into c (after belfry.conf's lists are read); 0 or -1.
 */
int cfg_key_sources(const struct cfg_file *f, json_t *root,
    struct eng_config *c, char **cause);

/* compile.c: one workflows/NAME.json file into c's workflows. */
int cfg_workflow(struct cfg_file *f, struct eng_config *c, char **cause);

#endif
