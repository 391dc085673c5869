/*
 * Time zones through ICU, on rules generated from the system's tzdata.
 *
 * One UCalendar per zone is opened on first use and kept for the life of
 * the process.  Every conversion clears the calendar before setting fields
 * (ICU keeps stale fields otherwise) and ICU's month is 0-based.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unicode/putil.h>
#include <unicode/ucal.h>
#include <unicode/uenum.h>
#include <unicode/ustring.h>
#include <unicode/uversion.h>

#include "tz/tz.h"

#define TZ_ID_MAX 128
#define TZ_DATA_FILE "zoneinfo64.res"
#define TZ_SYSTEM_ZI "/usr/share/zoneinfo/tzdata.zi"
#define TZ_MARGIN (2 * 86400) /* more than any offset change */

/*
 * Each zone keeps the span between two ICU transitions around the instant
 * last asked about, with the offset in force there: most questions fall in
 * it and are answered by arithmetic on ICU's figures, not by ICU's calendar
 * field computation (which is costly).
 */
struct tz_zone {
	char *name;
	UCalendar *cal;
	int64_t span_lo;         /* first instant of the span */
	int64_t span_hi;         /* first instant after it */
	int span_off;            /* total offset in the span */
	int span_ok;
	enum tz_gap gap;         /* attribute the calendar is set to now */
	enum tz_overlap overlap; /* likewise */
};

/* The process-wide zone table: every known id, sorted, with its cache. */
static struct {
	char **names;
	struct tz_zone **zones; /* parallel to names; NULL until opened */
	size_t n;
	char rules[32];
	char system[32];
	char icu[U_MAX_VERSION_STRING_LENGTH];
	char dir[PATH_MAX];
} tz;

/* Whether dir holds a generated zoneinfo64 resource. */
static int
tz_dir_usable(const char *dir)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, TZ_DATA_FILE) >=
	    sizeof path)
		return 0;
	return access(path, R_OK) == 0;
}

/* Whether dir/suffix holds generated rules; the path is left in out. */
static int
tz_try_dir(char *out, size_t len, const char *dir, const char *suffix)
{
	if ((size_t)snprintf(out, len, "%s%s", dir, suffix) >= len)
		return 0;
	return tz_dir_usable(out);
}

/* Find the rules directory: env, next to the executable, installed share. */
static int
tz_find_dir(char *out, size_t len)
{
	char exe[PATH_MAX], *slash;
	const char *env;
	ssize_t n;

	env = getenv("BELFRY_TZDATA_DIR");
	if (env != NULL && *env != '\0')
		return tz_try_dir(out, len, env, "") ? 0 : -1;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	if (tz_try_dir(out, len, exe, "/icu") ||
	    tz_try_dir(out, len, exe, "/../share/belfry/icu") ||
	    tz_try_dir(out, len, exe, "/../icu"))
		return 0;
	return -1;
}

/* Read the "# version X" header of the system's tzdata.zi into out. */
static void
tz_read_system_version(char *out, size_t len)
{
	char line[64];
	FILE *f;

	snprintf(out, len, "unknown");
	if ((f = fopen(TZ_SYSTEM_ZI, "r")) == NULL)
		return;
	if (fgets(line, sizeof line, f) != NULL &&
	    strncmp(line, "# version ", 10) == 0) {
		line[strcspn(line, "\r\n")] = '\0';
		snprintf(out, len, "%.20s", line + 10);
	}
	fclose(f);
}

/* qsort comparator for C strings. */
static int
tz_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fill the zone table from ICU's enumeration of the loaded rules. */
static int
tz_load_names(char **cause)
{
	UErrorCode st = U_ZERO_ERROR;
	UEnumeration *en;
	const char *id;
	size_t cap = 0;
	int32_t len;

	if ((en = ucal_openTimeZones(&st)) == NULL || U_FAILURE(st)) {
		*cause = xasprintf("ICU cannot list time zones: %s",
		    u_errorName(st));
		return -1;
	}
	while ((id = uenum_next(en, &len, &st)) != NULL && U_SUCCESS(st)) {
		if (strcmp(id, "Etc/Unknown") == 0 || len >= TZ_ID_MAX)
			continue;
		if (tz.n == cap) {
			cap = cap ? cap * 2 : 1024;
			tz.names = xreallocarray(tz.names, cap, sizeof *tz.names);
		}
		tz.names[tz.n++] = xstrdup(id);
	}
	uenum_close(en);
	qsort(tz.names, tz.n, sizeof *tz.names, tz_strcmp);
	tz.zones = xcalloc(tz.n, sizeof *tz.zones);
	return 0;
}

/* Load the generated rules into ICU and build the zone table. */
int
tz_init(const char *dir, char **cause)
{
	UErrorCode st = U_ZERO_ERROR;
	UVersionInfo v;
	const char *ver;

	if (tz.names != NULL)
		return 0;
	if (dir != NULL) {
		snprintf(tz.dir, sizeof tz.dir, "%s", dir);
		if (!tz_dir_usable(tz.dir)) {
			*cause = xasprintf("no %s in %s", TZ_DATA_FILE, dir);
			return -1;
		}
	} else if (tz_find_dir(tz.dir, sizeof tz.dir) != 0) {
		*cause = xasprintf("zone rules (%s) not found: set "
		    "BELFRY_TZDATA_DIR or run 'make' to generate them from "
		    "the system tzdata", TZ_DATA_FILE);
		return -1;
	}
	u_setTimeZoneFilesDirectory(tz.dir, &st);
	if (U_FAILURE(st)) {
		*cause = xasprintf("ICU refused zone directory %s: %s", tz.dir,
		    u_errorName(st));
		return -1;
	}
	ver = ucal_getTZDataVersion(&st);
	if (U_FAILURE(st) || ver == NULL) {
		*cause = xasprintf("ICU cannot read zone rules in %s: %s",
		    tz.dir, u_errorName(st));
		return -1;
	}
	snprintf(tz.rules, sizeof tz.rules, "%s", ver);
	tz_read_system_version(tz.system, sizeof tz.system);
	u_getVersion(v);
	u_versionToString(v, tz.icu);
	return tz_load_names(cause);
}

/* Close every cached calendar and forget the table. */
void
tz_shutdown(void)
{
	size_t i;

	for (i = 0; i < tz.n; i++) {
		if (tz.zones[i] != NULL) {
			ucal_close(tz.zones[i]->cal);
			free(tz.zones[i]);
		}
		free(tz.names[i]);
	}
	free(tz.names);
	free(tz.zones);
	tz.names = NULL;
	tz.zones = NULL;
	tz.n = 0;
}

/* The version of the rules ICU loaded. */
const char *
tz_rules_version(void)
{
	return tz.rules;
}

/* The version of the system's tzdata. */
const char *
tz_system_version(void)
{
	return tz.system;
}

/* ICU's version string. */
const char *
tz_icu_version(void)
{
	return tz.icu;
}

/* The directory the rules came from. */
const char *
tz_data_dir(void)
{
	return tz.dir;
}

/* Index of name in the sorted table, or -1. */
static ssize_t
tz_index(const char *name)
{
	size_t lo = 0, hi = tz.n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(name, tz.names[mid]);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Whether name is a zone the loaded rules know. */
int
tz_zone_valid(const char *name)
{
	return name != NULL && tz_index(name) >= 0;
}

/* Call fn for each known zone id in sorted order. */
void
tz_zone_foreach(void (*fn)(const char *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < tz.n; i++)
		fn(tz.names[i], arg);
}

/* Apply the gap and overlap policies to the zone's calendar if they differ. */
static void
tz_set_policy(struct tz_zone *z, enum tz_gap gap, enum tz_overlap overlap)
{
	static const UCalendarWallTimeOption gapopt[] = {
		[TZ_GAP_SHIFT] = UCAL_WALLTIME_LAST,
		[TZ_GAP_NEXT_VALID] = UCAL_WALLTIME_NEXT_VALID,
		[TZ_GAP_SKIP] = UCAL_WALLTIME_LAST,
	};

	if (z->gap != gap) {
		ucal_setAttribute(z->cal, UCAL_SKIPPED_WALL_TIME, gapopt[gap]);
		z->gap = gap;
	}
	if (z->overlap != overlap) {
		ucal_setAttribute(z->cal, UCAL_REPEATED_WALL_TIME,
		    overlap == TZ_OVERLAP_LAST ? UCAL_WALLTIME_LAST :
		    UCAL_WALLTIME_FIRST);
		z->overlap = overlap;
	}
}

/* Open (once) and return the zone called name; NULL with *cause if unknown. */
struct tz_zone *
tz_zone_get(const char *name, char **cause)
{
	UErrorCode st = U_ZERO_ERROR;
	UChar uid[TZ_ID_MAX];
	struct tz_zone *z;
	ssize_t i;

	if (name == NULL || *name == '\0') {
		*cause = xstrdup("empty time zone name");
		return NULL;
	}
	if ((i = tz_index(name)) < 0) {
		*cause = xasprintf("unknown time zone \"%.*s\" (expected an "
		    "IANA id such as Europe/Berlin)", TZ_ID_MAX, name);
		return NULL;
	}
	if (tz.zones[i] != NULL)
		return tz.zones[i];
	u_uastrncpy(uid, tz.names[i], TZ_ID_MAX);
	z = xcalloc(1, sizeof *z);
	z->name = tz.names[i];
	z->cal = ucal_open(uid, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		*cause = xasprintf("ICU cannot open time zone %s: %s", name,
		    u_errorName(st));
		free(z);
		return NULL;
	}
	/* Proleptic Gregorian: no Julian calendar before 1582. */
	ucal_setGregorianChange(z->cal, -8.64e15, &st);
	z->gap = (enum tz_gap)-1;
	z->overlap = (enum tz_overlap)-1;
	tz_set_policy(z, TZ_GAP_SHIFT, TZ_OVERLAP_FIRST);
	tz.zones[i] = z;
	return z;
}

/* The zone's IANA id. */
const char *
tz_zone_name(const struct tz_zone *z)
{
	return z->name;
}

/* An ICU transition next to t, or the far past/future when there is none. */
static int64_t
tz_icu_transition(struct tz_zone *z, int64_t t, UTimeZoneTransitionType type)
{
	UErrorCode st = U_ZERO_ERROR;
	UDate d;

	ucal_setMillis(z->cal, (UDate)t * 1000.0, &st);
	if (!ucal_getTimeZoneTransitionDate(z->cal, type, &d, &st) ||
	    U_FAILURE(st))
		return type == UCAL_TZ_TRANSITION_NEXT ? INT64_MAX : INT64_MIN;
	return (int64_t)(d / 1000.0);
}

/* Make the zone's span cover instant t; 0, or -1 on an ICU error. */
static int
tz_span(struct tz_zone *z, int64_t t)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t raw, dst;

	if (z->span_ok && t >= z->span_lo && t < z->span_hi)
		return 0;
	ucal_setMillis(z->cal, (UDate)t * 1000.0, &st);
	raw = ucal_get(z->cal, UCAL_ZONE_OFFSET, &st);
	dst = ucal_get(z->cal, UCAL_DST_OFFSET, &st);
	if (U_FAILURE(st))
		return -1;
	z->span_off = (raw + dst) / 1000;
	z->span_lo = tz_icu_transition(z, t,
	    UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE);
	z->span_hi = tz_icu_transition(z, t, UCAL_TZ_TRANSITION_NEXT);
	z->span_ok = 1;
	return 0;
}

/* The total UTC offset in seconds at instant t. */
int
tz_offset_at(struct tz_zone *z, int64_t t, int *offset)
{
	if (tz_span(z, t) != 0)
		return -1;
	*offset = z->span_off;
	return 0;
}

/* The smallest and largest offsets in force during [from, to]. */
int
tz_offset_range(struct tz_zone *z, int64_t from, int64_t to, int *lo,
    int *hi)
{
	int64_t at = from;

	if (tz_span(z, from) != 0)
		return -1;
	*lo = *hi = z->span_off;
	while (z->span_hi != INT64_MAX && z->span_hi <= to) {
		at = z->span_hi;
		if (tz_span(z, at) != 0)
			return -1;
		*lo = z->span_off < *lo ? z->span_off : *lo;
		*hi = z->span_off > *hi ? z->span_off : *hi;
	}
	return 0;
}

/* Split local seconds into a wall time. */
static void
tz_wall_from_lsec(int64_t s, struct tz_wall *w)
{
	int64_t d = s / 86400, sod = s % 86400;

	if (sod < 0) {
		sod += 86400;
		d--;
	}
	tz_civil_from_days(d, &w->year, &w->month, &w->day);
	w->hour = (int)(sod / 3600);
	w->minute = (int)(sod / 60 % 60);
	w->second = (int)(sod % 60);
}

/* The local wall time at instant t. */
int
tz_to_wall(struct tz_zone *z, int64_t t, struct tz_wall *w)
{
	if (tz_span(z, t) != 0)
		return -1;
	tz_wall_from_lsec(t + z->span_off, w);
	return 0;
}

/* Days in month m (1-12) of year y. */
static int
tz_month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return days[m - 1];
}

/* Whether w is a real calendar date and time of day. */
static int
tz_wall_ok(const struct tz_wall *w)
{
	return w->year >= 1 && w->year <= 9999 && w->month >= 1 &&
	    w->month <= 12 && w->day >= 1 &&
	    w->day <= tz_month_days(w->year, w->month) && w->hour >= 0 &&
	    w->hour <= 23 && w->minute >= 0 && w->minute <= 59 &&
	    w->second >= 0 && w->second <= 59;
}

/* Whether two wall times are equal. */
static int
tz_wall_eq(const struct tz_wall *a, const struct tz_wall *b)
{
	return a->year == b->year && a->month == b->month &&
	    a->day == b->day && a->hour == b->hour && a->minute == b->minute &&
	    a->second == b->second;
}

/* The instant of wall time w under the gap and overlap policies. */
int
tz_from_wall(struct tz_zone *z, const struct tz_wall *w, enum tz_gap gap,
    enum tz_overlap overlap, int64_t *t)
{
	UErrorCode st = U_ZERO_ERROR;
	struct tz_wall back;
	int64_t lsec;
	UDate ms;
	int i;

	if (!tz_wall_ok(w))
		return -1;
	/*
	 * Fast path: the instant lies two days or more inside a span, so no
	 * other offset (they differ by at most a day) could also claim w.
	 */
	lsec = tz_days_from_civil(w->year, w->month, w->day) * 86400 +
	    w->hour * 3600 + w->minute * 60 + w->second;
	for (i = 0; i < 2; i++) {
		if (!z->span_ok || (i == 1 && tz_span(z, lsec - z->span_off)))
			break;
		*t = lsec - z->span_off;
		if ((z->span_lo == INT64_MIN || *t >= z->span_lo + TZ_MARGIN) &&
		    (z->span_hi == INT64_MAX || *t < z->span_hi - TZ_MARGIN))
			return 0;
	}
	/* The calendar stays lenient: a gap time is resolved, not refused. */
	tz_set_policy(z, gap, overlap);
	ucal_clear(z->cal);
	ucal_setDateTime(z->cal, w->year, w->month - 1, w->day, w->hour,
	    w->minute, w->second, &st);
	ms = ucal_getMillis(z->cal, &st);
	if (U_FAILURE(st))
		return -1;
	*t = (int64_t)(ms / 1000.0);
	if (gap == TZ_GAP_SKIP) {
		if (tz_to_wall(z, *t, &back) != 0)
			return -1;
		if (!tz_wall_eq(&back, w))
			return 1;
	}
	return 0;
}

/* The first instant after t where the total UTC offset changes. */
int
tz_next_transition(struct tz_zone *z, int64_t t, int64_t *when,
    int *offset_before, int *offset_after)
{
	int before;

	if (tz_span(z, t) != 0)
		return -1;
	before = z->span_off;
	/* Skip transitions that only move offset between raw and dst. */
	do {
		if (z->span_hi == INT64_MAX)
			return 1;
		t = z->span_hi;
		if (tz_span(z, t) != 0)
			return -1;
	} while (z->span_off == before);
	*when = t;
	*offset_before = before;
	*offset_after = z->span_off;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
int64_t
tz_days_from_civil(int year, int month, int day)
{
	int64_t y = year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* The proleptic Gregorian date of a day count (H. Hinnant). */
void
tz_civil_from_days(int64_t days, int *year, int *month, int *day)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*day = (int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (int)(mp < 10 ? mp + 3 : mp - 9);
	*year = (int)(yoe + era * 400 + (*month <= 2));
}

/* Parse exactly "YYYY-MM-DDTHH:MM:SS" followed by the string rest. */
static int
tz_parse_fields(const char *s, const char *rest, struct tz_wall *w)
{
	int n = 0;

	if (strlen(s) != 19 + strlen(rest))
		return -1;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &w->year, &w->month,
	    &w->day, &w->hour, &w->minute, &w->second, &n) != 6 || n != 19)
		return -1;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':' || strcmp(s + 19, rest) != 0)
		return -1;
	return tz_wall_ok(w) ? 0 : -1;
}

/* Parse a local wall time "YYYY-MM-DDTHH:MM:SS". */
int
tz_wall_parse(const char *s, struct tz_wall *w)
{
	return tz_parse_fields(s, "", w);
}

/* Parse a UTC instant "YYYY-MM-DDTHH:MM:SSZ". */
int
tz_instant_parse(const char *s, int64_t *t)
{
	struct tz_wall w;

	if (tz_parse_fields(s, "Z", &w) != 0)
		return -1;
	*t = tz_days_from_civil(w.year, w.month, w.day) * 86400 +
	    w.hour * 3600 + w.minute * 60 + w.second;
	return 0;
}

/* Parse an RFC 3339 date-time, a missing offset read as UTC (see tz.h). */
int
tz_rfc3339_parse(const char *s, int64_t *t)
{
	struct tz_wall w;
	const char *p;
	char head[20];
	int off = 0;

	if (strlen(s) < 19)
		return -1;
	memcpy(head, s, 19);
	head[19] = '\0';
	if (head[10] == 't' || head[10] == ' ')
		head[10] = 'T';
	if (tz_parse_fields(head, "", &w) != 0)
		return -1;
	p = s + 19;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		off = 0;
	else if (*p == '+' || *p == '-') {
		if (strlen(p) != 6 || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char)p[4]) ||
		    !isdigit((unsigned char)p[5]))
			return -1;
		off = ((p[1] - '0') * 10 + p[2] - '0') * 3600 +
		    ((p[4] - '0') * 10 + p[5] - '0') * 60;
		if (off >= 24 * 3600 || (p[4] - '0') * 10 + p[5] - '0' > 59)
			return -1;
		if (*p == '-')
			off = -off;
	} else if (*p != '\0')
		return -1;
	*t = tz_days_from_civil(w.year, w.month, w.day) * 86400 +
	    w.hour * 3600 + w.minute * 60 + w.second - off;
	return 0;
}

/* Format instant t as "YYYY-MM-DDTHH:MM:SSZ". */
void
tz_instant_format(int64_t t, char *buf, size_t len)
{
	int64_t days = t / 86400, secs = t % 86400;
	int y, m, d;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	tz_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* Parse a gap policy name. */
int
tz_gap_parse(const char *s, enum tz_gap *gap)
{
	if (strcmp(s, "shift") == 0)
		*gap = TZ_GAP_SHIFT;
	else if (strcmp(s, "next_valid") == 0)
		*gap = TZ_GAP_NEXT_VALID;
	else if (strcmp(s, "skip") == 0)
		*gap = TZ_GAP_SKIP;
	else
		return -1;
	return 0;
}

/* Parse an overlap policy name. */
int
tz_overlap_parse(const char *s, enum tz_overlap *overlap)
{
	if (strcmp(s, "first") == 0)
		*overlap = TZ_OVERLAP_FIRST;
	else if (strcmp(s, "last") == 0)
		*overlap = TZ_OVERLAP_LAST;
	else
		return -1;
	return 0;
}
