/*
 * common: what every module shares, below tz/ in the dependency chain --
 * the allocator that aborts on failure and the one log facility.
 *
 * Logging in the OpenBSD daemons' manner: one line on stderr per message,
 * prefixed with its journald priority (<3> error, <4> warning, <6> info,
 * <7> debug) so that journald files it at the right level.  The engine
 * logs through it too; fatal() and fatalx() are for start-up and broken
 * invariants only, never for a client's bad input.
 *
 * With log_json(1) (belfry.conf's log_format "json") each line is one
 * JSON object instead: {"time": RFC 3339 UTC with milliseconds, "level":
 * "err"|"warning"|"info"|"debug"|"crit", "msg": text, "fields": {...}},
 * the fields those of log_fields (else {}), without the <N> prefix.
 */
#ifndef BELFRY_COMMON_H
#define BELFRY_COMMON_H

#include <stddef.h>

/* ---- xmalloc.c: allocation that never returns NULL; free with free() */

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- log.c ---- */

/* journald priorities. */
#define LOG_PRI_CRIT 2
#define LOG_PRI_ERR 3
#define LOG_PRI_WARNING 4
#define LOG_PRI_INFO 6
#define LOG_PRI_DEBUG 7

void log_init(int debug);
void log_json(int on);
int log_debug_on(void);
void log_emit(int pri, const char *text);
/*
 * A line with fields: msg, then name and value strings in pairs, then
 * NULL; text lines read "msg name=value ...".  LOG_PRI_DEBUG lines print
 * only when debugging.
 */
void log_fields(int pri, const char *msg, ...)
    __attribute__((sentinel));
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* BELFRY_COMMON_H */
