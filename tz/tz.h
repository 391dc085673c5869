/*
 * tz: time for belfry -- IANA time zones through ICU, and recurrence rules
 * (RFC 5545 RRULE through libical, Knock "repeats") expanded in a zone's
 * local wall time.
 *
 * Clock model: nothing here reads the clock.  Every instant is an int64_t
 * count of seconds since 1970-01-01T00:00:00Z (UTC, no leap seconds), passed
 * in by the caller.  A wall time is a broken-down local date and time with
 * no zone attached.
 *
 * Zone rules: ICU computes every offset, but from zone resources generated
 * at build time from the system's tzdata (/usr/share/zoneinfo), loaded with
 * u_setTimeZoneFilesDirectory().  tz_init() must run before any other tz_
 * function and before anything else in the process touches ICU time zones.
 *
 * Not thread-safe: one thread uses tz/ (the daemon is single-threaded).
 */
#ifndef BELFRY_TZ_H
#define BELFRY_TZ_H

#include <stddef.h>

#include "common/common.h"
#include <stdint.h>

/* A local wall time (no zone).  month is 1-12 (not ICU's 0-11). */
struct tz_wall {
	int year;
	int month;
	int day;
	int hour;
	int minute;
	int second;
};

/* What to do with a wall time that a zone skips (a DST gap). */
enum tz_gap {
	TZ_GAP_SHIFT,      /* move forward by the gap's length: 02:30 -> 03:30 */
	TZ_GAP_NEXT_VALID, /* the first valid instant after the gap: 03:00 */
	TZ_GAP_SKIP        /* the occurrence does not happen */
};

/* Which instant a wall time that a zone repeats (an overlap) maps to. */
enum tz_overlap {
	TZ_OVERLAP_FIRST, /* the earlier instant (PEP 495 fold=0) */
	TZ_OVERLAP_LAST   /* the later instant (fold=1) */
};

struct tz_zone;

/*
 * Load the zone rules from dir (NULL: $BELFRY_TZDATA_DIR, else the data
 * directory next to the executable, else the installed one).  Fails, with
 * *cause set, when no generated rules are found: belfry never computes with
 * ICU's stale built-in rules.
 */
int tz_init(const char *dir, char **cause);

/* Release every cached zone. */
void tz_shutdown(void);

/* The version of the zone rules in use, e.g. "2025b". */
const char *tz_rules_version(void);

/* The version of the system's tzdata (tzdata.zi), or "unknown". */
const char *tz_system_version(void);

/* ICU's version, e.g. "72.1". */
const char *tz_icu_version(void);

/* The directory the rules were loaded from. */
const char *tz_data_dir(void);

/*
 * The zone named name (an IANA id such as "Europe/Berlin"), opened once and
 * cached for the life of the process.  An unknown name is an error with
 * *cause naming it: never a silent fall-back to GMT.
 */
struct tz_zone *tz_zone_get(const char *name, char **cause);

/* The zone's id as given to tz_zone_get(). */
const char *tz_zone_name(const struct tz_zone *z);

/* Whether name is a known zone id. */
int tz_zone_valid(const char *name);

/* Call fn for every known zone id, in sorted order. */
void tz_zone_foreach(void (*fn)(const char *name, void *arg), void *arg);

/* The UTC offset in seconds in force at instant t (-1 on ICU error). */
int tz_offset_at(struct tz_zone *z, int64_t t, int *offset);

/* The smallest and largest offsets in force during [from, to]. */
int tz_offset_range(struct tz_zone *z, int64_t from, int64_t to, int *lo,
    int *hi);

/* The wall time at instant t in zone z. */
int tz_to_wall(struct tz_zone *z, int64_t t, struct tz_wall *w);

/*
 * The instant of wall time w in zone z, resolved by the gap and overlap
 * policies.  Returns 0 and sets *t; returns 1 when the policy is
 * TZ_GAP_SKIP and w falls in a gap (*t untouched); -1 on bad input.
 */
int tz_from_wall(struct tz_zone *z, const struct tz_wall *w, enum tz_gap gap,
    enum tz_overlap overlap, int64_t *t);

/*
 * The first offset transition strictly after instant t: sets *when and the
 * offsets before and after.  Returns 0, or 1 when there is none.
 */
int tz_next_transition(struct tz_zone *z, int64_t t, int64_t *when,
    int *offset_before, int *offset_after);

/* Parse "YYYY-MM-DDTHH:MM:SS" (a wall time); 0 or -1. */
int tz_wall_parse(const char *s, struct tz_wall *w);

/* Parse "YYYY-MM-DDTHH:MM:SSZ" (an instant in UTC); 0 or -1. */
int tz_instant_parse(const char *s, int64_t *t);

/*
 * Parse an RFC 3339 date-time: "YYYY-MM-DDTHH:MM:SS" ("t" or a space for
 * the "T" as RFC 3339 allows), an optional fraction
 * of a second (dropped), then "Z" or an offset "+HH:MM"/"-HH:MM", or
 * nothing, which reads as UTC (what clients send for a naive time).
 */
int tz_rfc3339_parse(const char *s, int64_t *t);

/* Format instant t as RFC 3339 UTC ("2026-03-08T07:30:00Z") into buf. */
void tz_instant_format(int64_t t, char *buf, size_t len);

/* Parse a gap policy name ("shift", "next_valid", "skip"); 0 or -1. */
int tz_gap_parse(const char *s, enum tz_gap *gap);

/* Parse an overlap policy name ("first", "last"); 0 or -1. */
int tz_overlap_parse(const char *s, enum tz_overlap *overlap);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t tz_days_from_civil(int year, int month, int day);

/* The proleptic Gregorian date of a day count since 1970-01-01. */
void tz_civil_from_days(int64_t days, int *year, int *month, int *day);

/*
 * Recurrence: one or more RFC 5545 RRULEs with EXDATE/RDATE lists, expanded
 * in local wall time from DTSTART (which counts only if it matches a rule)
 * with libical, up to libical's last year (2582).
 */
struct tz_recur;

/*
 * A recurrence for RRULE text starting at wall time dtstart.  The text is
 * one rule or several separated by '\n' (a trailing '\r' is ignored), each
 * with an optional "RRULE:" prefix, at most 16.  The occurrences are the
 * union of the rules' (RFC 5545: a wall time two rules share occurs once);
 * each rule's COUNT and UNTIL limit that rule only.  NULL with *cause naming
 * the problem (prefixed "rule N of M: " when there are several) for
 * unparsable text, out-of-range parts, parts libical would silently get
 * wrong (BYSETPOS outside MONTHLY/YEARLY, ...), COUNT with UNTIL, and rules
 * with no occurrence.  Answers within milliseconds for any rule.
 */
struct tz_recur *tz_recur_new(const char *rrule, const struct tz_wall *dtstart,
    char **cause);

/* Free a recurrence. */
void tz_recur_free(struct tz_recur *r);

/* Add a comma-separated list of wall times as EXDATEs (exclude) or RDATEs. */
int tz_recur_add_dates(struct tz_recur *r, const char *list, int exclude,
    char **cause);

/* The first local occurrence at or after wall time from; 0, or 1 if none. */
int tz_recur_next_wall(struct tz_recur *r, const struct tz_wall *from,
    struct tz_wall *out);

/*
 * The first fire instant strictly after `after` in zone z: occurrences in
 * wall-time order, mapped to UTC by the policies, skipped ones dropped, and
 * any instant not later than the previous one collapsed, so the sequence
 * strictly increases.  0 and *next set; 1 when the recurrence has ended;
 * -1 on error.
 */
int tz_recur_next(struct tz_recur *r, struct tz_zone *z, enum tz_gap gap,
    enum tz_overlap overlap, int64_t after, int64_t *next);

/* Occurrences that the gap policy TZ_GAP_SKIP dropped. */
struct tz_recur_skips {
	int count;    /* how many */
	int64_t last; /* the last one's instant: when its gap ended */
};

/*
 * tz_recur_next, also counting into *skips (when not NULL) the occurrences
 * dropped by TZ_GAP_SKIP between `after` and *next: those whose wall time
 * lies in a gap and whose gap ends (the instant TZ_GAP_NEXT_VALID would
 * give) later than `after` and, when 0 is returned, not later than *next.
 * Calling it again with `after` = *next never counts one twice.  When 1 is
 * returned, *skips counts those after `after` up to the end.
 */
int tz_recur_next_skips(struct tz_recur *r, struct tz_zone *z, enum tz_gap gap,
    enum tz_overlap overlap, int64_t after, int64_t *next,
    struct tz_recur_skips *skips);

/*
 * Knock's "repeats" (a JSON array of one or more {frequency, interval, days,
 * day_of_month, hours, minutes} entries, or one entry alone) as RRULE text:
 * one rule per entry, joined by '\n' for tz_recur_new().  NULL with *cause
 * naming the field (and, for several entries, "repeats[N]" its index from
 * 0).
 */
char *tz_repeats_to_rrule(const char *json, char **cause);

#endif
