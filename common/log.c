/*
 * The one log facility (common/common.h says how lines look).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

static int log_debugging;

/* Set whether log_debug() prints. */
void
log_init(int debug)
{
	log_debugging = debug;
}

/* Print text as one line at priority pri. */
void
log_emit(int pri, const char *text)
{
	fprintf(stderr, "<%d>%s\n", pri, text);
	fflush(stderr);
}

/* Print one line at priority pri, with ": strerror(errnum)" if errnum. */
static void __attribute__((format(printf, 3, 0)))
log_vline(int pri, int errnum, const char *fmt, va_list ap)
{
	char buf[4096];

	vsnprintf(buf, sizeof buf, fmt, ap);
	if (errnum != 0)
		fprintf(stderr, "<%d>%s: %s\n", pri, buf, strerror(errnum));
	else
		fprintf(stderr, "<%d>%s\n", pri, buf);
	fflush(stderr);
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
