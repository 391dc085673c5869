/*
 * Knock's schedule "repeats" rules translated to RFC 5545 RRULE text.
 *
 * An entry is {frequency, interval, days, day_of_month, hours, minutes}.
 * As Knock documents, "hours" and "minutes" default to 0 and seconds are
 * always 0: "daily" alone means every day at 00:00, "daily at 9" 09:00,
 * "hourly" every hour at minute 0.  The days of a weekly rule and the day
 * of a monthly one left out follow DTSTART as RFC 5545 says.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "tz/tz.h"

/*
 * One entry's rule text.  Each value is listed once (repeats_ints drops
 * repeated ones), so the longest rule -- every day, every day of the
 * month, hour and minute -- is about 410 bytes: it always fits.
 */
struct repeats_buf {
	char s[512];
	size_t len;
};

/* Append formatted text to b. */
static void __attribute__((format(printf, 2, 3)))
repeats_add(struct repeats_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, sizeof b->s - b->len, fmt, ap);
	va_end(ap);
	assert(n >= 0 && (size_t)n < sizeof b->s - b->len);
	b->len += (size_t)n;
}

/*
 * Append ";NAME=v1,v2" for an integer or array of integers in [lo, hi]
 * (hi at most 63), each value once: a repeated one says nothing more.
 */
static int
repeats_ints(struct repeats_buf *b, const char *name, const char *key,
    json_t *v, int lo, int hi, char **cause)
{
	uint64_t seen = 0;
	json_int_t x;
	json_t *e;
	size_t i, n, k = 0;

	n = json_is_array(v) ? json_array_size(v) : 1;
	if (n == 0 || n > 60) {
		*cause = xasprintf("repeats: \"%s\" must list 1..60 values",
		    key);
		return -1;
	}
	repeats_add(b, ";%s=", name);
	for (i = 0; i < n; i++) {
		e = json_is_array(v) ? json_array_get(v, i) : v;
		if (!json_is_integer(e) || json_integer_value(e) < lo ||
		    json_integer_value(e) > hi) {
			*cause = xasprintf("repeats: \"%s\" must be an integer "
			    "%d..%d or an array of them", key, lo, hi);
			return -1;
		}
		x = json_integer_value(e);
		if (seen & (UINT64_C(1) << x))
			continue;
		seen |= UINT64_C(1) << x;
		repeats_add(b, "%s%d", k++ ? "," : "", (int)x);
	}
	return 0;
}

/* Append ";BYDAY=..." for Knock's days ("mon".."sun", weekdays, weekends). */
static int
repeats_days(struct repeats_buf *b, json_t *v, char **cause)
{
	static const char *names[] = { "mon", "tue", "wed", "thu", "fri",
		"sat", "sun" };
	static const char *ical[] = { "MO", "TU", "WE", "TH", "FR", "SA",
		"SU" };
	unsigned mask = 0;
	const char *s;
	size_t i, n;
	json_t *e;
	int k;

	n = json_is_array(v) ? json_array_size(v) : 1;
	for (i = 0; i < n; i++) {
		e = json_is_array(v) ? json_array_get(v, i) : v;
		if ((s = json_string_value(e)) == NULL)
			goto bad;
		if (strcmp(s, "weekdays") == 0)
			mask |= 0x1f;
		else if (strcmp(s, "weekends") == 0)
			mask |= 0x60;
		else {
			for (k = 0; k < 7 && strcmp(s, names[k]) != 0; k++)
				;
			if (k == 7) {
				*cause = xasprintf("repeats: unknown day "
				    "\"%.32s\" (expected mon..sun, weekdays "
				    "or weekends)", s);
				return -1;
			}
			mask |= 1u << k;
		}
	}
	if (mask == 0)
		goto bad;
	repeats_add(b, ";BYDAY=");
	for (k = 0, n = 0; k < 7; k++)
		if (mask & (1u << k))
			repeats_add(b, "%s%s", n++ ? "," : "", ical[k]);
	return 0;
bad:
	*cause = xstrdup("repeats: \"days\" must be a day name or an array of "
	    "day names");
	return -1;
}

/* Translate one repeats entry into b. */
static int
repeats_entry(struct repeats_buf *b, json_t *o, char **cause)
{
	static const char *keys[] = { "frequency", "interval", "days",
		"day_of_month", "hours", "minutes", "__typename", NULL };
	json_t *freq, *v, *hours, *minutes;
	const char *key, *f;
	int i;

	if (!json_is_object(o)) {
		*cause = xstrdup("repeats: each entry must be an object");
		return -1;
	}
	json_object_foreach(o, key, v) {
		for (i = 0; keys[i] != NULL && strcmp(keys[i], key) != 0; i++)
			;
		if (keys[i] == NULL) {
			*cause = xasprintf("repeats: unknown field \"%.64s\"",
			    key);
			return -1;
		}
	}
	freq = json_object_get(o, "frequency");
	f = json_string_value(freq);
	if (f == NULL || (strcmp(f, "daily") != 0 && strcmp(f, "weekly") != 0 &&
	    strcmp(f, "monthly") != 0 && strcmp(f, "hourly") != 0)) {
		*cause = xstrdup("repeats: \"frequency\" must be daily, weekly, "
		    "monthly or hourly");
		return -1;
	}
	repeats_add(b, "FREQ=");
	for (; *f != '\0'; f++)
		repeats_add(b, "%c", *f - 'a' + 'A');
	if ((v = json_object_get(o, "interval")) != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000) {
			*cause = xstrdup("repeats: \"interval\" must be an "
			    "integer 1..1000");
			return -1;
		}
		repeats_add(b, ";INTERVAL=%d", (int)json_integer_value(v));
	}
	if ((v = json_object_get(o, "days")) != NULL && !json_is_null(v) &&
	    repeats_days(b, v, cause) != 0)
		return -1;
	if ((v = json_object_get(o, "day_of_month")) != NULL &&
	    !json_is_null(v) &&
	    repeats_ints(b, "BYMONTHDAY", "day_of_month", v, 1, 31, cause) != 0)
		return -1;
	hours = json_object_get(o, "hours");
	minutes = json_object_get(o, "minutes");
	if (hours != NULL && !json_is_null(hours)) {
		if (repeats_ints(b, "BYHOUR", "hours", hours, 0, 23, cause) !=
		    0)
			return -1;
	} else if (strcmp(json_string_value(freq), "hourly") != 0)
		repeats_add(b, ";BYHOUR=0");
	if (minutes != NULL && !json_is_null(minutes)) {
		if (repeats_ints(b, "BYMINUTE", "minutes", minutes, 0, 59,
		    cause) != 0)
			return -1;
	} else
		repeats_add(b, ";BYMINUTE=0");
	repeats_add(b, ";BYSECOND=0");
	return 0;
}

/*
 * Knock repeats JSON (an array of entries, or one entry) as RRULE text, one
 * rule per entry joined by newlines.
 */
char *
tz_repeats_to_rrule(const char *json, char **cause)
{
	struct repeats_buf b;
	json_error_t err;
	json_t *root, *o;
	char *out = NULL, *why = NULL, *s;
	size_t i, n;

	if ((root = json_loads(json, JSON_REJECT_DUPLICATES, &err)) == NULL) {
		*cause = xasprintf("repeats: invalid JSON at line %d column "
		    "%d: %s", err.line, err.column, err.text);
		return NULL;
	}
	n = json_is_array(root) ? json_array_size(root) : 1;
	if (n == 0 || n > 16) {
		*cause = xstrdup("repeats: give 1..16 rules");
		json_decref(root);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		o = json_is_array(root) ? json_array_get(root, i) : root;
		b.len = 0;
		b.s[0] = '\0';
		if (repeats_entry(&b, o, &why) != 0) {
			if (n > 1 && strncmp(why, "repeats: ", 9) == 0) {
				*cause = xasprintf("repeats[%zu]: %s", i,
				    why + 9);
				free(why);
			} else
				*cause = why;
			free(out);
			json_decref(root);
			return NULL;
		}
		s = out == NULL ? xstrdup(b.s) : xasprintf("%s\n%s", out, b.s);
		free(out);
		out = s;
	}
	json_decref(root);
	return out;
}
