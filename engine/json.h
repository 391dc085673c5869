/*
 * engine/json.h: the engine's JSON text helpers (engine/jsonout.c), shared
 * by the engine's sub-modules, the store's backends and the daemon's
 * delivery log records (scheduler/outbound.c).
 */
#ifndef BELFRY_ENGINE_JSON_H
#define BELFRY_ENGINE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Whether any string, key or value, inside v has s. */
int eng_json_mentions(json_t *v, const char *s);

/* Compact JSON text of v into out (see jsonout.c). */
size_t eng_json_write(json_t *v, char *out, size_t len);

/* JSON text of v with json_dumps' flags, from malloc (see engine.h). */
char *eng_json_dumps(json_t *v, size_t flags);

/*
 * UTF-8 as jansson takes it: the length (1 to 4) of the character at s
 * (n > 0 bytes there), 0 when it is not one (a stray or cut sequence, a
 * longer form than needed, a surrogate, past U+10FFFF); whether all n
 * bytes at s are such characters.
 */
size_t eng_utf8_char(const char *s, size_t n);
int eng_utf8_valid(const char *s, size_t n);

/* JSON text built piece by piece, s[0..len) (no NUL). */
struct eng_text {
	char *s;
	size_t len, cap;
};
void eng_text_add(struct eng_text *t, const char *p, size_t n);
void eng_text_string(struct eng_text *t, const char *s);
void eng_text_stringn(struct eng_text *t, const char *s, size_t n);
void eng_text_bytes(struct eng_text *t, const char *s, size_t n);
void eng_text_value(struct eng_text *t, json_t *v);
void eng_text_int(struct eng_text *t, int64_t v);
size_t eng_decimal(int64_t v, char *out);

#endif
