/*
 * belfry-tzgen: ICU's zoneinfo64 resource source from the system's tzdata.
 *
 *	belfry-tzgen ZONEINFO_DIR > zoneinfo64.txt
 *
 * Reads ZONEINFO_DIR/tzdata.zi (the version and every Zone and Link name),
 * zone.tab and zone1970.tab (each zone's country) and each zone's compiled
 * TZif file (its 64-bit data and POSIX TZ footer), and writes the text that
 * genrb compiles into zoneinfo64.res: the layout of ICU's own
 * icu4c/source/data/misc/zoneinfo64.txt as ICU's OlsonTimeZone reads it.
 *
 * Per zone: the instants where the (raw, dst) offset pair changes
 * (transPre32 / trans / transPost32, 64-bit ones as high, low pairs), the
 * distinct pairs (typeOffsets; pair 0 is in force before the first
 * transition), the pair each transition switches to (typeMap) and, when the
 * footer's DST rule can be written as a SimpleTimeZone rule, finalRule,
 * finalRaw and finalYear.  ICU switches to the final rule at January 1 of
 * finalYear, 00:00 UTC; every transition before that is listed, the
 * footer's own ones through the end of the year after the last TZif
 * transition, so a "slim" file that leaves part of a year to its footer is
 * covered.  A footer that is no SimpleTimeZone rule is expanded into
 * transitions up to the end of TZGEN_LAST_YEAR instead.  Links are the index
 * of their zone; a zone with links lists them all (itself included) in
 * links, as ICU's tz2icu does.  Then Names (byte order: ICU binary-searches
 * it), Rules and Regions (the country of each name, "001" for none).
 *
 * Plain libc only: this runs at build time, before anything links ICU.
 * Any unreadable or invalid input is one line on stderr and exit status 1.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZGEN_DAY 86400
#define TZGEN_MAX_FILE (16 * 1024 * 1024)
#define TZGEN_MAX_COUNT (1 << 20)
#define TZGEN_MAX_TYPES 256  /* typeMap has a byte per transition */
#define TZGEN_MAX_TRANS 0x7fff /* ICU counts transitions in int16_t */
#define TZGEN_MAX_NAME 128     /* ICU's ZID_KEY_MAX */
#define TZGEN_LAST_YEAR 2600   /* explicit transitions without a rule */
#define TZGEN_CHECK_YEAR 2000  /* from here 400 years check an encoding */

/* A Zone or Link name from tzdata.zi. */
struct tzgen_name {
	char *name;
	char *target;	/* a link's target as written; NULL for a zone */
	size_t zone;	/* index of the zone this name resolves to */
	char region[4]; /* ISO 3166 code, "" until known */
};

/* Every name, sorted in byte order. */
struct tzgen_db {
	char version[32];
	struct tzgen_name *names;
	size_t n;
	size_t cap;
};

/* One local time type of a TZif file. */
struct tzgen_ltype {
	int32_t utoff;
	int isdst;
};

/* The 64-bit data and footer of a TZif file. */
struct tzgen_tzif {
	int64_t *times;
	unsigned char *idx;
	size_t timecnt;
	struct tzgen_ltype *types;
	size_t typecnt;
	char *footer;
};

/* A POSIX TZ date ("Jn", "n" or "Mm.w.d") with its local time of day. */
struct tzgen_prule {
	int kind; /* 'J', 'N' or 'M' */
	int month;
	int week;
	int wday;
	int yday;
	int32_t secs; /* may be negative or past 24h (RFC 8536) */
};

/* A parsed POSIX TZ string; offsets are seconds east of UTC. */
struct tzgen_posix {
	int32_t std_off;
	int32_t dst_off;
	int has_dst;
	struct tzgen_prule start;
	struct tzgen_prule end;
};

/* A footer transition: POSIX daylight time begins (dst) or ends at when. */
struct tzgen_event {
	int64_t when;
	int dst;
	size_t seq;
};

/* What one zone becomes in the resource. */
struct tzgen_zone {
	int64_t *when;
	int *type;
	size_t n;
	size_t cap;
	int32_t offs[2 * TZGEN_MAX_TYPES]; /* (raw, dst) pairs, pair 0 first */
	int ntypes;
	int has_final;
	int32_t rule[11];
	int32_t final_raw;
	int final_year;
};

/* The distinct final rules, named R0, R1, ... in order of first use. */
struct tzgen_rules {
	int32_t (*v)[11];
	size_t n;
	size_t cap;
};

static const int tzgen_mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	30, 31 };

/* Abort on an allocation failure: a build tool has nothing to recover. */
static void
tzgen_nomem(void)
{
	fprintf(stderr, "belfry-tzgen: out of memory\n");
	exit(1);
}

/* realloc for an array, aborting on failure or overflow. */
static void *
tzgen_grow(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		tzgen_nomem();
	if ((p = realloc(p, nmemb * size == 0 ? 1 : nmemb * size)) == NULL)
		tzgen_nomem();
	return p;
}

/* strdup that aborts on failure. */
static char *
tzgen_strdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		tzgen_nomem();
	return p;
}

/* A formatted message for *cause; aborts on failure. */
static char *__attribute__((format(printf, 1, 2)))
tzgen_msg(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		tzgen_nomem();
	va_end(ap);
	return s;
}

/* floor(a / b) for b > 0. */
static int64_t
tzgen_fdiv(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* a mod b in 0..b-1 for b > 0. */
static int64_t
tzgen_fmod(int64_t a, int64_t b)
{
	return a - tzgen_fdiv(a, b) * b;
}

/* Whether y is a Gregorian leap year. */
static int
tzgen_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Days in month m (1-12) of year y. */
static int
tzgen_mlen(int64_t y, int m)
{
	return m == 2 && tzgen_leap(y) ? 29 : tzgen_mdays[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
tzgen_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = tzgen_fdiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* The proleptic Gregorian date of a day count since 1970-01-01. */
static void
tzgen_civil(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468, era, doe, yoe, doy, mp;

	era = tzgen_fdiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Day of the week of a day count, 0 = Sunday. */
static int
tzgen_wday(int64_t days)
{
	return (int)tzgen_fmod(days + 4, 7);
}

/* The UTC year of instant t. */
static int64_t
tzgen_year(int64_t t)
{
	int64_t y;
	int m, d;

	tzgen_civil(tzgen_fdiv(t, TZGEN_DAY), &y, &m, &d);
	return y;
}

/* Read a whole file into a NUL-terminated buffer. */
static int
tzgen_slurp(const char *path, char **out, size_t *outlen, char **cause)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, got;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		*cause = tzgen_msg("%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = tzgen_grow(buf, cap + 1, 1);
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
		if (len > TZGEN_MAX_FILE) {
			*cause = tzgen_msg("%s: file too large", path);
			goto fail;
		}
	}
	if (ferror(f)) {
		*cause = tzgen_msg("%s: read error", path);
		goto fail;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

/* Whether s is a zone name safe to open and to print in the resource. */
static int
tzgen_name_ok(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '/' || strlen(s) >= TZGEN_MAX_NAME)
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL)
			return 0;
		if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
			return 0;
	}
	return 1;
}

/* Add a name to the database (unsorted). */
static void
tzgen_db_add(struct tzgen_db *db, const char *name, const char *target)
{
	struct tzgen_name *n;

	if (db->n == db->cap) {
		db->cap = db->cap == 0 ? 1024 : db->cap * 2;
		db->names = tzgen_grow(db->names, db->cap, sizeof *db->names);
	}
	n = &db->names[db->n++];
	memset(n, 0, sizeof *n);
	n->name = tzgen_strdup(name);
	n->target = target == NULL ? NULL : tzgen_strdup(target);
}

/* qsort comparator: names in byte order. */
static int
tzgen_name_cmp(const void *a, const void *b)
{
	const struct tzgen_name *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Index of name in the sorted database, or -1. */
static int64_t
tzgen_db_find(const struct tzgen_db *db, const char *name)
{
	size_t lo = 0, hi = db->n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(name, db->names[mid].name)) == 0)
			return (int64_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Read the version and the Zone and Link names of tzdata.zi. */
static int
tzgen_read_zi(const char *dir, struct tzgen_db *db, char **cause)
{
	char *path, *buf, *line, *next, *tok[4], *save;
	size_t len, lineno = 0;
	int ntok;

	path = tzgen_msg("%s/tzdata.zi", dir);
	if (tzgen_slurp(path, &buf, &len, cause) != 0) {
		free(path);
		return -1;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (lineno == 1) {
			if (strncmp(line, "# version ", 10) != 0 ||
			    line[10] == '\0' ||
			    strlen(line + 10) >= sizeof db->version ||
			    strpbrk(line + 10, "\"\\ \t\r") != NULL) {
				*cause = tzgen_msg("%s: first line is not "
				    "\"# version VERSION\"", path);
				goto fail;
			}
			strcpy(db->version, line + 10);
			continue;
		}
		if ((line[0] != 'Z' && line[0] != 'L') || line[1] != ' ')
			continue;
		for (ntok = 0, save = NULL; ntok < 4; ntok++) {
			tok[ntok] = strtok_r(ntok == 0 ? line : NULL, " \t\r",
			    &save);
			if (tok[ntok] == NULL)
				break;
		}
		if (ntok < 2 || (line[0] == 'L' && ntok != 3)) {
			*cause = tzgen_msg("%s:%zu: malformed %s line", path,
			    lineno, line[0] == 'Z' ? "Zone" : "Link");
			goto fail;
		}
		if (!tzgen_name_ok(tok[1]) ||
		    (line[0] == 'L' && !tzgen_name_ok(tok[2]))) {
			*cause = tzgen_msg("%s:%zu: bad zone name", path,
			    lineno);
			goto fail;
		}
		if (line[0] == 'Z')
			tzgen_db_add(db, tok[1], NULL);
		else
			tzgen_db_add(db, tok[2], tok[1]);
	}
	if (db->version[0] == '\0' || db->n == 0) {
		*cause = tzgen_msg("%s: no version or no zones", path);
		goto fail;
	}
	free(buf);
	free(path);
	return 0;
fail:
	free(buf);
	free(path);
	return -1;
}

/* Sort the names and point every link at the zone it ends in. */
static int
tzgen_db_resolve(struct tzgen_db *db, char **cause)
{
	struct tzgen_name *n;
	const char *target;
	int64_t j;
	size_t i;
	int hops;

	qsort(db->names, db->n, sizeof *db->names, tzgen_name_cmp);
	for (i = 0; i < db->n; i++) {
		if (i > 0 && strcmp(db->names[i - 1].name,
		    db->names[i].name) == 0) {
			*cause = tzgen_msg("tzdata.zi: %s is defined twice",
			    db->names[i].name);
			return -1;
		}
		db->names[i].zone = i;
	}
	for (i = 0; i < db->n; i++) {
		n = &db->names[i];
		for (target = n->target, hops = 0; target != NULL; hops++) {
			j = tzgen_db_find(db, target);
			if (j < 0 || hops > 32) {
				*cause = tzgen_msg("tzdata.zi: link %s -> %s: "
				    "%s", n->name, n->target, j < 0 ?
				    "no such zone" : "link loop");
				return -1;
			}
			n->zone = (size_t)j;
			target = db->names[j].target;
		}
	}
	return 0;
}

/* Take each listed zone's (first) country from zone.tab or zone1970.tab. */
static int
tzgen_read_tab(const char *dir, const char *file, struct tzgen_db *db,
    char **cause)
{
	char *path, *buf, *line, *next, *code, *tzname, *save;
	size_t len, lineno = 0;
	int64_t j;

	path = tzgen_msg("%s/%s", dir, file);
	if (tzgen_slurp(path, &buf, &len, cause) != 0) {
		free(path);
		return -1;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0')
			continue;
		save = NULL;
		code = strtok_r(line, "\t", &save);
		if (code == NULL || strtok_r(NULL, "\t", &save) == NULL ||
		    (tzname = strtok_r(NULL, "\t\r", &save)) == NULL ||
		    !isupper((unsigned char)code[0]) ||
		    !isupper((unsigned char)code[1]) ||
		    (code[2] != '\0' && code[2] != ',')) {
			*cause = tzgen_msg("%s:%zu: malformed line", path,
			    lineno);
			free(buf);
			free(path);
			return -1;
		}
		/* A zone the tzdata.zi build left out has nothing to label. */
		if ((j = tzgen_db_find(db, tzname)) >= 0 &&
		    db->names[j].region[0] == '\0') {
			memcpy(db->names[j].region, code, 2);
			db->names[j].region[2] = '\0';
		}
	}
	free(buf);
	free(path);
	return 0;
}

/* Give links their zone's country and everything else "001". */
static void
tzgen_db_regions(struct tzgen_db *db)
{
	struct tzgen_name *n;
	size_t i;

	for (i = 0; i < db->n; i++) {
		n = &db->names[i];
		if (n->region[0] == '\0' && n->target != NULL)
			memcpy(n->region, db->names[n->zone].region, 4);
	}
	for (i = 0; i < db->n; i++) {
		if (db->names[i].region[0] == '\0')
			strcpy(db->names[i].region, "001");
	}
}

/* A big-endian 32-bit value. */
static uint32_t
tzgen_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* A big-endian 64-bit two's complement value. */
static int64_t
tzgen_be64(const unsigned char *p)
{
	uint64_t u = (uint64_t)tzgen_be32(p) << 32 | tzgen_be32(p + 4);

	return u <= INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

/* Free what tzgen_tzif_parse allocated. */
static void
tzgen_tzif_free(struct tzgen_tzif *f)
{
	free(f->times);
	free(f->idx);
	free(f->types);
	free(f->footer);
	memset(f, 0, sizeof *f);
}

/*
 * Parse the version 2+ part of a TZif file (RFC 8536): the 64-bit
 * transitions, the local time types and the footer.
 */
static int
tzgen_tzif_parse(const char *path, const unsigned char *buf, size_t len,
    struct tzgen_tzif *f, char **cause)
{
	uint32_t cnt[6]; /* isut, isstd, leap, time, type, char */
	const unsigned char *p, *end = buf + len, *nl;
	size_t i, need, block;
	int pass;

	memset(f, 0, sizeof *f);
	p = buf;
	for (pass = 0; pass < 2; pass++) {
		if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0) {
			*cause = tzgen_msg("%s: not a TZif file", path);
			return -1;
		}
		if (p[4] < '2') {
			*cause = tzgen_msg("%s: TZif version 1 has no 64-bit "
			    "data", path);
			return -1;
		}
		for (i = 0; i < 6; i++) {
			cnt[i] = tzgen_be32(p + 20 + 4 * i);
			if (cnt[i] > TZGEN_MAX_COUNT) {
				*cause = tzgen_msg("%s: bad TZif header", path);
				return -1;
			}
		}
		block = pass == 0 ? (size_t)cnt[3] * 5 + (size_t)cnt[4] * 6 +
		    cnt[5] + (size_t)cnt[2] * 8 + cnt[1] + cnt[0] :
		    (size_t)cnt[3] * 9 + (size_t)cnt[4] * 6 + cnt[5] +
		    (size_t)cnt[2] * 12 + cnt[1] + cnt[0];
		if ((size_t)(end - p) - 44 < block) {
			*cause = tzgen_msg("%s: truncated TZif file", path);
			return -1;
		}
		if (pass == 0)
			p += 44 + block;
	}
	if (cnt[4] == 0 || cnt[5] == 0 || (cnt[1] != 0 && cnt[1] != cnt[4]) ||
	    (cnt[0] != 0 && cnt[0] != cnt[4])) {
		*cause = tzgen_msg("%s: bad TZif counts", path);
		return -1;
	}
	if (cnt[2] != 0) {
		*cause = tzgen_msg("%s: has leap seconds (a right/ file?)",
		    path);
		return -1;
	}
	p += 44;
	f->timecnt = cnt[3];
	f->typecnt = cnt[4];
	f->times = tzgen_grow(NULL, f->timecnt, sizeof *f->times);
	f->idx = tzgen_grow(NULL, f->timecnt, 1);
	f->types = tzgen_grow(NULL, f->typecnt, sizeof *f->types);
	for (i = 0; i < f->timecnt; i++) {
		f->times[i] = tzgen_be64(p + 8 * i);
		f->idx[i] = p[8 * f->timecnt + i];
		if ((i > 0 && f->times[i] <= f->times[i - 1]) ||
		    f->idx[i] >= f->typecnt) {
			*cause = tzgen_msg("%s: bad TZif transitions", path);
			goto fail;
		}
	}
	p += 9 * f->timecnt;
	for (i = 0; i < f->typecnt; i++, p += 6) {
		f->types[i].utoff = (int32_t)tzgen_be32(p);
		f->types[i].isdst = p[4];
		if (p[4] > 1 || p[5] >= cnt[5] || f->types[i].utoff <=
		    -TZGEN_DAY || f->types[i].utoff >= TZGEN_DAY) {
			*cause = tzgen_msg("%s: bad TZif local time type",
			    path);
			goto fail;
		}
	}
	p += cnt[5] + cnt[1] + cnt[0];
	need = (size_t)(end - p);
	if (need < 2 || p[0] != '\n' ||
	    (nl = memchr(p + 1, '\n', need - 1)) == NULL || nl + 1 != end ||
	    memchr(p + 1, '\0', (size_t)(nl - p - 1)) != NULL) {
		*cause = tzgen_msg("%s: bad or missing TZ string footer", path);
		goto fail;
	}
	f->footer = tzgen_grow(NULL, (size_t)(nl - p), 1);
	memcpy(f->footer, p + 1, (size_t)(nl - p - 1));
	f->footer[nl - p - 1] = '\0';
	return 0;
fail:
	tzgen_tzif_free(f);
	return -1;
}

/* Parse an unsigned decimal number of at most max into *v. */
static int
tzgen_num(const char **sp, long max, long *v)
{
	const char *s = *sp;
	long n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		n = n * 10 + (*s++ - '0');
		if (n > max)
			return -1;
	}
	*v = n;
	*sp = s;
	return 0;
}

/* Skip a TZ string abbreviation: "<...>" or three or more letters. */
static int
tzgen_posix_abbr(const char **sp)
{
	const char *s = *sp;
	size_t n = 0;

	if (*s == '<') {
		for (s++; *s != '>'; s++, n++) {
			if (!isalnum((unsigned char)*s) && *s != '+' &&
			    *s != '-')
				return -1;
		}
		s++;
	} else {
		for (; isalpha((unsigned char)*s); s++)
			n++;
	}
	if (n < 3)
		return -1;
	*sp = s;
	return 0;
}

/* Parse "[+-]h[:mm[:ss]]" with at most maxh hours into seconds. */
static int
tzgen_posix_hms(const char **sp, long maxh, int32_t *secs)
{
	const char *s = *sp;
	long h, m = 0, sec = 0;
	int sign = 1;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (tzgen_num(&s, maxh, &h) != 0)
		return -1;
	if (*s == ':') {
		s++;
		if (tzgen_num(&s, 59, &m) != 0)
			return -1;
		if (*s == ':') {
			s++;
			if (tzgen_num(&s, 59, &sec) != 0)
				return -1;
		}
	}
	*secs = (int32_t)(sign * (h * 3600 + m * 60 + sec));
	*sp = s;
	return 0;
}

/* Parse a TZ string date rule with its optional "/time" (default 2:00). */
static int
tzgen_posix_rule(const char **sp, struct tzgen_prule *r)
{
	const char *s = *sp;
	long a, b, c;

	memset(r, 0, sizeof *r);
	if (*s == 'J') {
		s++;
		if (tzgen_num(&s, 365, &a) != 0 || a < 1)
			return -1;
		r->kind = 'J';
		r->yday = (int)a;
	} else if (*s == 'M') {
		s++;
		if (tzgen_num(&s, 12, &a) != 0 || a < 1 || *s++ != '.' ||
		    tzgen_num(&s, 5, &b) != 0 || b < 1 || *s++ != '.' ||
		    tzgen_num(&s, 6, &c) != 0)
			return -1;
		r->kind = 'M';
		r->month = (int)a;
		r->week = (int)b;
		r->wday = (int)c;
	} else {
		if (tzgen_num(&s, 365, &a) != 0)
			return -1;
		r->kind = 'N';
		r->yday = (int)a;
	}
	r->secs = 7200;
	if (*s == '/') {
		s++;
		if (tzgen_posix_hms(&s, 167, &r->secs) != 0)
			return -1;
	}
	*sp = s;
	return 0;
}

/* Parse a POSIX TZ string with the RFC 8536 extensions. */
static int
tzgen_posix_parse(const char *s, struct tzgen_posix *px)
{
	int32_t off;

	memset(px, 0, sizeof *px);
	if (tzgen_posix_abbr(&s) != 0 || tzgen_posix_hms(&s, 24, &off) != 0)
		return -1;
	px->std_off = -off;
	if (*s == '\0')
		return 0;
	if (tzgen_posix_abbr(&s) != 0)
		return -1;
	px->has_dst = 1;
	px->dst_off = px->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (tzgen_posix_hms(&s, 24, &off) != 0)
			return -1;
		px->dst_off = -off;
	}
	if (*s == '\0') {
		/* POSIX leaves the default rule open; use the US one. */
		s = ",M3.2.0,M11.1.0";
	}
	if (*s++ != ',' || tzgen_posix_rule(&s, &px->start) != 0 ||
	    *s++ != ',' || tzgen_posix_rule(&s, &px->end) != 0)
		return -1;
	return *s == '\0' ? 0 : -1;
}

/* The local date (days since 1970) a TZ string rule picks in year y. */
static int64_t
tzgen_posix_day(const struct tzgen_prule *r, int64_t y)
{
	int64_t first, day;

	switch (r->kind) {
	case 'J':
		return tzgen_days(y, 1, 1) + r->yday - 1 +
		    (tzgen_leap(y) && r->yday >= 60);
	case 'N':
		return tzgen_days(y, 1, 1) + r->yday;
	default:
		first = tzgen_days(y, r->month, 1);
		day = first + tzgen_fmod(r->wday - tzgen_wday(first), 7) +
		    7 * (r->week - 1);
		while (day >= first + tzgen_mlen(y, r->month))
			day -= 7;
		return day;
	}
}

/*
 * The local date a SimpleTimeZone rule part {month, day, dayOfWeek} picks
 * in year y, or INT64_MIN when the day it computes leaves the month (ICU's
 * compareToRule and its AnnualTimeZoneRule disagree there, so such a rule
 * is never used).
 */
static int64_t
tzgen_icu_day(const int32_t enc[3], int64_t y)
{
	int m = enc[0] + 1, len = tzgen_mlen(y, m), day = enc[1], rd;
	int64_t base;

	if (enc[2] == 0) /* DOM */
		return day <= len ? tzgen_days(y, m, day) : INT64_MIN;
	if (enc[2] > 0) { /* DOW_IN_MONTH: day is the week, -1 the last */
		if (day > 0) {
			base = tzgen_days(y, m, 1);
			return base + tzgen_fmod(enc[2] - 1 - tzgen_wday(base),
			    7) + 7 * (day - 1);
		}
		base = tzgen_days(y, m, len);
		return base - tzgen_fmod(tzgen_wday(base) - (enc[2] - 1), 7);
	}
	if (day > 0) { /* DOW_GE_DOM */
		base = tzgen_days(y, m, day);
		rd = day + (int)tzgen_fmod(-enc[2] - 1 - tzgen_wday(base), 7);
		return rd <= len ? base + rd - day : INT64_MIN;
	}
	base = tzgen_days(y, m, -day); /* DOW_LE_DOM */
	rd = -day - (int)tzgen_fmod(tzgen_wday(base) - (-enc[2] - 1), 7);
	return rd >= 1 ? base + rd + day : INT64_MIN;
}

/*
 * Write TZ string rule r as a SimpleTimeZone rule part {month (0-11), day,
 * dayOfWeek, time (seconds)}.  A time outside 0..24h, which SimpleTimeZone
 * refuses, moves the rule by whole days (America/Nuuk's "M3.5.0/-1" is the
 * Saturday on or before March 30 at 23:00, Asia/Jerusalem's "M3.4.4/26" the
 * Friday on or after March 23 at 2:00).  Each candidate must pick the same
 * day as the TZ string in every year of a 400-year Gregorian cycle.
 */
static int
tzgen_rule_encode(const struct tzgen_prule *r, int32_t enc[4])
{
	int32_t c[3];
	int64_t k = 0, y0, y, shift;
	int32_t secs = r->secs;
	int m0, d0, wd, kind, day, ok;

	if (secs < 0 || secs > TZGEN_DAY) {
		k = tzgen_fdiv(secs, TZGEN_DAY);
		secs -= (int32_t)(k * TZGEN_DAY);
	}
	tzgen_civil(tzgen_posix_day(r, TZGEN_CHECK_YEAR) + k, &y0, &m0, &d0);
	shift = y0 - TZGEN_CHECK_YEAR;
	wd = tzgen_wday(tzgen_days(y0, m0, d0)) + 1;
	/* DOW_IN_MONTH, DOM, DOW_GE_DOM, DOW_LE_DOM; days within February. */
	for (kind = 0; kind < 4; kind++) {
		for (day = 1; day <= (kind == 0 ? 5 : 28); day++) {
			c[0] = m0 - 1;
			switch (kind) {
			case 0:
				c[1] = day == 5 ? -1 : day;
				c[2] = wd;
				break;
			case 1:
				c[1] = d0;
				c[2] = 0;
				break;
			case 2:
				c[1] = day;
				c[2] = -wd;
				break;
			default:
				c[1] = -day;
				c[2] = -wd;
				break;
			}
			for (ok = 1, y = TZGEN_CHECK_YEAR; ok &&
			    y < TZGEN_CHECK_YEAR + 400; y++)
				ok = tzgen_icu_day(c, y + shift) ==
				    tzgen_posix_day(r, y) + k;
			if (ok) {
				memcpy(enc, c, sizeof c);
				enc[3] = secs;
				return 0;
			}
			if (kind == 1)
				break;
		}
	}
	return -1;
}

/*
 * The SimpleTimeZone rule vector for a TZ string with DST: start month,
 * day, dayOfWeek, time, time mode (0: wall), the same for the end, and the
 * savings.  Negative DST (Europe/Dublin's "IST-1GMT0,M10.5.0,M3.5.0/1")
 * swaps standard and daylight time so the savings are positive.  -1 when
 * SimpleTimeZone cannot say it.
 */
static int
tzgen_final_rule(const struct tzgen_posix *px, int32_t rule[11])
{
	const struct tzgen_prule *on, *off;
	int32_t s[4], e[4];

	on = px->dst_off > px->std_off ? &px->start : &px->end;
	off = px->dst_off > px->std_off ? &px->end : &px->start;
	if (tzgen_rule_encode(on, s) != 0 || tzgen_rule_encode(off, e) != 0)
		return -1;
	/* SimpleTimeZone tells hemispheres apart by month order. */
	if (s[0] == e[0])
		return -1;
	rule[0] = s[0];
	rule[1] = s[1];
	rule[2] = s[2];
	rule[3] = s[3];
	rule[4] = 0;
	rule[5] = e[0];
	rule[6] = e[1];
	rule[7] = e[2];
	rule[8] = e[3];
	rule[9] = 0;
	rule[10] = px->dst_off > px->std_off ? px->dst_off - px->std_off :
	    px->std_off - px->dst_off;
	return 0;
}

/* qsort comparator: events by instant, then in the order made. */
static int
tzgen_event_cmp(const void *a, const void *b)
{
	const struct tzgen_event *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The TZ string's transitions for years y0 to y1, sorted. */
static struct tzgen_event *
tzgen_events(const struct tzgen_posix *px, int64_t y0, int64_t y1, size_t *n)
{
	struct tzgen_event *ev;
	size_t i = 0;
	int64_t y;

	ev = tzgen_grow(NULL, (size_t)(y1 - y0 + 1) * 2, sizeof *ev);
	for (y = y0; y <= y1; y++) {
		ev[i].when = tzgen_posix_day(&px->start, y) * TZGEN_DAY +
		    px->start.secs - px->std_off;
		ev[i].dst = 1;
		ev[i].seq = i;
		i++;
		ev[i].when = tzgen_posix_day(&px->end, y) * TZGEN_DAY +
		    px->end.secs - px->dst_off;
		ev[i].dst = 0;
		ev[i].seq = i;
		if (ev[i].when < ev[i - 1].when) {
			ev[i].seq--;
			ev[i - 1].seq++;
		}
		i++;
	}
	qsort(ev, i, sizeof *ev, tzgen_event_cmp);
	*n = i;
	return ev;
}

/* Index of the (raw, dst) pair in the zone's types, added if new. */
static int
tzgen_zone_type(struct tzgen_zone *z, int32_t raw, int32_t dst)
{
	int i;

	for (i = 0; i < z->ntypes; i++) {
		if (z->offs[2 * i] == raw && z->offs[2 * i + 1] == dst)
			return i;
	}
	if (z->ntypes == TZGEN_MAX_TYPES)
		return -1;
	z->offs[2 * z->ntypes] = raw;
	z->offs[2 * z->ntypes + 1] = dst;
	return z->ntypes++;
}

/* Append a transition to type at when, unless the type is already current. */
static int
tzgen_zone_add(struct tzgen_zone *z, int64_t when, int type)
{
	int cur = z->n == 0 ? 0 : z->type[z->n - 1];

	if (type == cur)
		return 0;
	if (z->n == TZGEN_MAX_TRANS)
		return -1;
	if (z->n == z->cap) {
		z->cap = z->cap == 0 ? 256 : z->cap * 2;
		z->when = tzgen_grow(z->when, z->cap, sizeof *z->when);
		z->type = tzgen_grow(z->type, z->cap, sizeof *z->type);
	}
	z->when[z->n] = when;
	z->type[z->n] = type;
	z->n++;
	return 0;
}

/* The TZif local time type in force in period p (0: before transition 0). */
static const struct tzgen_ltype *
tzgen_period(const struct tzgen_tzif *f, size_t p)
{
	return &f->types[p == 0 ? 0 : f->idx[p - 1]];
}

/*
 * Split the UTC offset of period p into ICU's (raw, dst).  Daylight time's
 * raw offset is that of the nearest standard time period, before or after
 * it (the earlier on a tie); if that leaves no positive savings (negative
 * DST, or a "DST" with a new standard offset) the whole offset is raw.
 */
static void
tzgen_split(const struct tzgen_tzif *f, size_t p, int32_t fallback,
    int32_t *raw, int32_t *dst)
{
	const struct tzgen_ltype *t = tzgen_period(f, p);
	int64_t dprev = INT64_MAX, dnext = INT64_MAX;
	int32_t std = fallback;
	size_t q, qprev = 0, qnext = 0;

	*raw = t->utoff;
	*dst = 0;
	if (!t->isdst)
		return;
	for (q = p; q-- > 0;) {
		if (!tzgen_period(f, q)->isdst) {
			qprev = q;
			dprev = p == 0 ? 0 : f->times[p - 1] - f->times[q];
			break;
		}
	}
	for (q = p + 1; q <= f->timecnt; q++) {
		if (!tzgen_period(f, q)->isdst) {
			qnext = q;
			dnext = f->times[q - 1] - f->times[p];
			break;
		}
	}
	if (dprev != INT64_MAX && dprev <= dnext)
		std = tzgen_period(f, qprev)->utoff;
	else if (dnext != INT64_MAX)
		std = tzgen_period(f, qnext)->utoff;
	if (t->utoff - std > 0) {
		*raw = std;
		*dst = t->utoff - std;
	}
}

/*
 * Put the TZ string's (raw, dst) in force from the last TZif transition on,
 * or from the start when there is none.  RFC 8536 readers (Python's
 * zoneinfo, glibc) follow the TZ string there even where it disagrees with
 * the type of that transition, as older "zic -b slim" output for
 * America/Ojinaga does; so does ICU then.
 */
static int
tzgen_zone_from_last(const char *name, const struct tzgen_tzif *f,
    struct tzgen_zone *z, int32_t raw, int32_t dst)
{
	int64_t last;
	int type;

	if (raw + dst == tzgen_period(f, f->timecnt)->utoff)
		return 0;
	if (f->timecnt == 0) {
		/* Only the initial type exists yet. */
		z->offs[0] = raw;
		z->offs[1] = dst;
		return 0;
	}
	fprintf(stderr, "belfry-tzgen: note: %s: TZ string \"%s\" disagrees "
	    "with the last transition; following the TZ string\n", name,
	    f->footer);
	last = f->times[f->timecnt - 1];
	if (z->n > 0 && z->when[z->n - 1] == last)
		z->n--;
	if ((type = tzgen_zone_type(z, raw, dst)) < 0)
		return -1;
	return tzgen_zone_add(z, last, type);
}

/*
 * Add the TZ string's transitions after the last TZif one and, when it is a
 * SimpleTimeZone rule, the final rule; otherwise list them to
 * TZGEN_LAST_YEAR.
 */
static int
tzgen_zone_footer(const char *name, const struct tzgen_tzif *f,
    const struct tzgen_posix *px, struct tzgen_zone *z, char **cause)
{
	struct tzgen_event *ev;
	int64_t last, last_year, limit, limit_year;
	int32_t raw, total, cur;
	int type_std, type_dst, type, encodable, st;
	size_t n, i;

	if (!px->has_dst || px->dst_off == px->std_off) {
		if (tzgen_zone_from_last(name, f, z, px->std_off, 0) != 0)
			goto toomany;
		return 0;
	}
	/* ICU's standard time is the lower offset; savings are positive. */
	raw = px->dst_off > px->std_off ? px->std_off : px->dst_off;
	if (f->timecnt > 0)
		last = f->times[f->timecnt - 1];
	else
		last = tzgen_days(1900, 1, 1) * TZGEN_DAY;
	last_year = tzgen_year(last);
	z->final_year = (int)last_year + 2;
	limit = tzgen_days(z->final_year, 1, 1) * TZGEN_DAY;
	limit_year = z->final_year - 1;
	encodable = tzgen_final_rule(px, z->rule) == 0;
	if (encodable) {
		/*
		 * ICU switches to the rule at January 1 UTC but starts the
		 * rule's own transitions in its local year: keep transitions
		 * away from that boundary.
		 */
		ev = tzgen_events(px, limit_year, limit_year + 1, &n);
		for (i = 0; i < n; i++) {
			if (ev[i].when > limit - 2 * TZGEN_DAY &&
			    ev[i].when < limit + 2 * TZGEN_DAY)
				encodable = 0;
		}
		free(ev);
	}
	if (!encodable) {
		fprintf(stderr, "belfry-tzgen: note: %s: TZ string \"%s\" is "
		    "no SimpleTimeZone rule; listing its transitions to %d\n",
		    name, f->footer, TZGEN_LAST_YEAR);
		limit_year = last_year < TZGEN_LAST_YEAR ? TZGEN_LAST_YEAR :
		    last_year + 1;
		limit = tzgen_days(limit_year + 1, 1, 1) * TZGEN_DAY;
	}
	ev = tzgen_events(px, last_year - 2, limit_year + 1, &n);
	for (st = !ev[0].dst, i = 0; i < n && ev[i].when <= last; i++)
		st = ev[i].dst;
	cur = st ? px->dst_off : px->std_off;
	if (tzgen_zone_from_last(name, f, z, raw, cur - raw) != 0)
		goto toomany_ev;
	type_std = tzgen_zone_type(z, raw, px->std_off - raw);
	type_dst = tzgen_zone_type(z, raw, px->dst_off - raw);
	for (i = 0; i < n; i++) {
		/* Of transitions at one instant only the last one counts. */
		if (ev[i].when <= last || ev[i].when >= limit ||
		    (i + 1 < n && ev[i + 1].when == ev[i].when))
			continue;
		total = ev[i].dst ? px->dst_off : px->std_off;
		if (total == cur)
			continue;
		type = ev[i].dst ? type_dst : type_std;
		if (type < 0 || tzgen_zone_add(z, ev[i].when, type) != 0)
			goto toomany_ev;
		cur = total;
	}
	free(ev);
	if (encodable) {
		z->has_final = 1;
		z->final_raw = raw;
	}
	return 0;
toomany_ev:
	free(ev);
toomany:
	*cause = tzgen_msg("%s: too many transitions or offsets for ICU",
	    name);
	return -1;
}

/* Free a zone's resource data. */
static void
tzgen_zone_free(struct tzgen_zone *z)
{
	free(z->when);
	free(z->type);
	memset(z, 0, sizeof *z);
}

/* Build a zone's resource data from its TZif file. */
static int
tzgen_zone_build(const char *dir, const char *name, struct tzgen_zone *z,
    char **cause)
{
	struct tzgen_tzif f;
	struct tzgen_posix px;
	char *path, *buf;
	size_t len, p;
	int32_t raw, dst, fallback;
	int type, rc = -1;

	memset(z, 0, sizeof *z);
	path = tzgen_msg("%s/%s", dir, name);
	if (tzgen_slurp(path, &buf, &len, cause) != 0) {
		free(path);
		return -1;
	}
	if (tzgen_tzif_parse(path, (const unsigned char *)buf, len, &f,
	    cause) != 0)
		goto out;
	memset(&px, 0, sizeof px);
	if (f.footer[0] != '\0' && tzgen_posix_parse(f.footer, &px) != 0) {
		*cause = tzgen_msg("%s: bad TZ string \"%s\"", path,
		    f.footer);
		goto out;
	}
	/* With no standard time in the file, the footer's is the guess. */
	fallback = px.has_dst && px.dst_off < px.std_off ? px.dst_off :
	    px.std_off;
	for (p = 0; p <= f.timecnt; p++) {
		tzgen_split(&f, p, f.footer[0] != '\0' ? fallback :
		    tzgen_period(&f, p)->utoff, &raw, &dst);
		if ((type = tzgen_zone_type(z, raw, dst)) < 0 ||
		    (p > 0 && tzgen_zone_add(z, f.times[p - 1], type) != 0)) {
			*cause = tzgen_msg("%s: too many transitions or "
			    "offsets for ICU", path);
			goto out;
		}
	}
	if (f.footer[0] != '\0' &&
	    tzgen_zone_footer(name, &f, &px, z, cause) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		tzgen_zone_free(z);
	tzgen_tzif_free(&f);
	free(buf);
	free(path);
	return rc;
}

/* The name of rule (R<n>), added to the rule list if new. */
static size_t
tzgen_rule_id(struct tzgen_rules *rules, const int32_t rule[11])
{
	size_t i;

	for (i = 0; i < rules->n; i++) {
		if (memcmp(rules->v[i], rule, sizeof rules->v[i]) == 0)
			return i;
	}
	if (rules->n == rules->cap) {
		rules->cap = rules->cap == 0 ? 32 : rules->cap * 2;
		rules->v = tzgen_grow(rules->v, rules->cap, sizeof *rules->v);
	}
	memcpy(rules->v[rules->n], rule, sizeof rules->v[0]);
	return rules->n++;
}

/* Print one transition section: 32-bit values or high, low pairs. */
static void
tzgen_print_trans(FILE *out, const char *key, const struct tzgen_zone *z,
    int64_t lo, int64_t hi)
{
	uint64_t u;
	size_t i;
	int first = 1;

	for (i = 0; i < z->n; i++) {
		if (z->when[i] < lo || z->when[i] > hi)
			continue;
		fprintf(out, "%s", first ? "    " : ", ");
		if (first)
			fprintf(out, "%s:intvector { ", key);
		first = 0;
		if (strcmp(key, "trans") == 0) {
			fprintf(out, "%" PRId64, z->when[i]);
			continue;
		}
		u = (uint64_t)z->when[i];
		fprintf(out, "%" PRId32 ", %" PRId32,
		    (int32_t)(uint32_t)(u >> 32),
		    (int32_t)(uint32_t)(u & 0xffffffff));
	}
	if (!first)
		fprintf(out, " }\n");
}

/* Print a zone's table. */
static void
tzgen_print_zone(FILE *out, const struct tzgen_db *db, size_t idx,
    const struct tzgen_zone *z, struct tzgen_rules *rules)
{
	size_t i;
	int j, nlinks = 0;

	fprintf(out, "  /* %s */ :table {\n", db->names[idx].name);
	tzgen_print_trans(out, "transPre32", z, INT64_MIN,
	    (int64_t)INT32_MIN - 1);
	tzgen_print_trans(out, "trans", z, INT32_MIN, INT32_MAX);
	tzgen_print_trans(out, "transPost32", z, (int64_t)INT32_MAX + 1,
	    INT64_MAX);
	fprintf(out, "    typeOffsets:intvector { ");
	for (j = 0; j < 2 * z->ntypes; j++)
		fprintf(out, "%s%" PRId32, j ? ", " : "", z->offs[j]);
	fprintf(out, " }\n");
	if (z->n > 0) {
		fprintf(out, "    typeMap:bin { \"");
		for (i = 0; i < z->n; i++)
			fprintf(out, "%02x", z->type[i]);
		fprintf(out, "\" }\n");
	}
	if (z->has_final) {
		fprintf(out, "    finalRule { \"R%zu\" }\n",
		    tzgen_rule_id(rules, z->rule));
		fprintf(out, "    finalRaw:int { %" PRId32 " }\n",
		    z->final_raw);
		fprintf(out, "    finalYear:int { %d }\n", z->final_year);
	}
	for (i = 0; i < db->n; i++)
		nlinks += db->names[i].zone == idx && i != idx;
	if (nlinks > 0) {
		fprintf(out, "    links:intvector { ");
		for (i = 0, j = 0; i < db->n; i++) {
			if (db->names[i].zone == idx)
				fprintf(out, "%s%zu", j++ ? ", " : "", i);
		}
		fprintf(out, " }\n");
	}
	fprintf(out, "  } //Z#%zu\n", idx);
}

/* Print the resource's trailing Names, Rules and Regions. */
static void
tzgen_print_tail(FILE *out, const struct tzgen_db *db,
    const struct tzgen_rules *rules)
{
	size_t i;
	int j;

	fprintf(out, " Names {\n");
	for (i = 0; i < db->n; i++)
		fprintf(out, "    \"%s\"%s // %zu\n", db->names[i].name,
		    i + 1 < db->n ? "," : "", i);
	fprintf(out, " }\n Rules {\n");
	for (i = 0; i < rules->n; i++) {
		fprintf(out, "  R%zu:intvector {\n    ", i);
		for (j = 0; j < 11; j++)
			fprintf(out, "%s%" PRId32, j ? ", " : "",
			    rules->v[i][j]);
		fprintf(out, "\n  } //_#%zu\n", i);
	}
	fprintf(out, " }\n Regions:array {\n");
	for (i = 0; i < db->n; i++)
		fprintf(out, "  \"%s\"%s //Z#%zu %s\n", db->names[i].region,
		    i + 1 < db->n ? "," : "", i, db->names[i].name);
	fprintf(out, " }\n}\n");
}

/* Generate the resource for the tzdata in dir on out. */
static int
tzgen_run(const char *dir, FILE *out, char **cause)
{
	struct tzgen_db db;
	struct tzgen_rules rules;
	struct tzgen_zone z;
	size_t i;
	int rc = -1;

	memset(&db, 0, sizeof db);
	memset(&rules, 0, sizeof rules);
	if (tzgen_read_zi(dir, &db, cause) != 0 ||
	    tzgen_db_resolve(&db, cause) != 0 ||
	    tzgen_read_tab(dir, "zone.tab", &db, cause) != 0 ||
	    tzgen_read_tab(dir, "zone1970.tab", &db, cause) != 0)
		goto out;
	tzgen_db_regions(&db);
	fprintf(out, "//------------------------------------------------------"
	    "---\n// Build tool:  belfry-tzgen (from the system's TZif files)\n"
	    "// tz version:  %s\n"
	    "//---------------------------------------------------------\n"
	    "// >> !!! >>   THIS IS A MACHINE-GENERATED FILE   << !!! <<\n"
	    "// >> !!! >>>            DO NOT EDIT             <<< !!! <<\n"
	    "//---------------------------------------------------------\n\n"
	    "zoneinfo64:table(nofallback) {\n TZVersion { \"%s\" }\n"
	    " Zones:array {\n", db.version, db.version);
	for (i = 0; i < db.n; i++) {
		if (db.names[i].target != NULL) {
			fprintf(out, "  /* %s */ :int { %zu } //Z#%zu\n",
			    db.names[i].name, db.names[i].zone, i);
			continue;
		}
		if (tzgen_zone_build(dir, db.names[i].name, &z, cause) != 0)
			goto out;
		tzgen_print_zone(out, &db, i, &z, &rules);
		tzgen_zone_free(&z);
	}
	fprintf(out, " }\n");
	tzgen_print_tail(out, &db, &rules);
	if (fflush(out) != 0 || ferror(out)) {
		*cause = tzgen_msg("write error: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < db.n; i++) {
		free(db.names[i].name);
		free(db.names[i].target);
	}
	free(db.names);
	free(rules.v);
	return rc;
}

/* Write zoneinfo64.txt for the zoneinfo directory named on the command line. */
int
main(int argc, char **argv)
{
	char *cause = NULL;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: belfry-tzgen ZONEINFO_DIR "
		    "> zoneinfo64.txt\n");
		return 2;
	}
	if (tzgen_run(argv[1], stdout, &cause) != 0) {
		fprintf(stderr, "belfry-tzgen: %s\n", cause);
		free(cause);
		return 1;
	}
	return 0;
}
