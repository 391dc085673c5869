/*
 * The one log facility (common/common.h says how lines look).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"

static int log_debugging;
static int log_as_json;

/* Set whether log_debug() prints. */
void
log_init(int debug)
{
	log_debugging = debug;
}

/* Set whether lines are JSON objects (log_format "json") or text. */
void
log_json(int on)
{
	log_as_json = on;
}

/* Whether debug lines print (callers skip preparing them otherwise). */
int
log_debug_on(void)
{
	return log_debugging;
}

/* Write s to f as the inside of a JSON string. */
static void
log_json_string(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
}

/* The name of priority pri in JSON lines. */
static const char *
log_level(int pri)
{
	switch (pri) {
	case LOG_PRI_CRIT: return "crit";
	case LOG_PRI_ERR: return "err";
	case LOG_PRI_WARNING: return "warning";
	case LOG_PRI_INFO: return "info";
	default: return "debug";
	}
}

/*
 * Print one line at pri: text, then the nf name/value pairs of fields
 * (text: " name=value"; JSON: the "fields" object).
 */
static void
log_write(int pri, const char *text, const char *const *fields, size_t nf)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	size_t i;

	if (!log_as_json) {
		fprintf(stderr, "<%d>%s", pri, text);
		for (i = 0; i + 1 < 2 * nf; i += 2)
			fprintf(stderr, " %s=%s", fields[i], fields[i + 1]);
		fputc('\n', stderr);
		fflush(stderr);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\","
	    "\"msg\":\"", when, ts.tv_nsec / 1000000, log_level(pri));
	log_json_string(stderr, text);
	fputs("\",\"fields\":{", stderr);
	for (i = 0; i + 1 < 2 * nf; i += 2) {
		fputs(i > 0 ? ",\"" : "\"", stderr);
		log_json_string(stderr, fields[i]);
		fputs("\":\"", stderr);
		log_json_string(stderr, fields[i + 1]);
		fputc('"', stderr);
	}
	fputs("}}\n", stderr);
	fflush(stderr);
}

/* Print text as one line at priority pri. */
void
log_emit(int pri, const char *text)
{
	log_write(pri, text, NULL, 0);
}

/* See common.h: a line with name=value fields. */
void
log_fields(int pri, const char *msg, ...)
{
	const char *fields[32];
	size_t n = 0;
	va_list ap;

	if (pri == LOG_PRI_DEBUG && !log_debugging)
		return;
	va_start(ap, msg);
	while (n < 32 && (fields[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	log_write(pri, msg, fields, n / 2);
}

/* Print one line at priority pri, with ": strerror(errnum)" if errnum. */
static void __attribute__((format(printf, 3, 0)))
log_vline(int pri, int errnum, const char *fmt, va_list ap)
{
	char buf[4096];
	size_t n;

	vsnprintf(buf, sizeof buf, fmt, ap);
	if (errnum != 0 && (n = strlen(buf)) < sizeof buf - 1)
		snprintf(buf + n, sizeof buf - n, ": %s", strerror(errnum));
	log_write(pri, buf, NULL, 0);
}

/* A warning naming errno's error. */
void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRI_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* A warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRI_WARNING, 0, fmt, ap);
	va_end(ap);
}

/* An informational message. */
void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRI_INFO, 0, fmt, ap);
	va_end(ap);
}

/* A debug message, printed only when debugging. */
void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	log_vline(LOG_PRI_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/* An error naming errno's error; exits 1. */
void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRI_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

/* An error; exits 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRI_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
