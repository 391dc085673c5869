/*
 * Recurrence: an RFC 5545 RRULE (plus EXDATE/RDATE) expanded by libical in
 * floating local wall time, each occurrence mapped to UTC through tz_.
 *
 * Wall times are handled as "local seconds": days since 1970-01-01 times
 * 86400 plus the second of the day, with no zone attached.
 *
 * libical 3.0 steps one period at a time (a minute for MINUTELY) until a
 * period passes every filter, and ignores UNTIL while it searches, so a
 * sparse or empty rule can keep it busy for seconds or hours.  A sieve in
 * front of it (recur_sieve) finds, from plain calendar arithmetic, the first
 * period at or after a cursor that can hold an occurrence; libical is then
 * started at the beginning of that period (recur_origin) and never has to
 * walk far.  For sub-daily rules the sieve is exact and is the expansion.
 * COUNT and UNTIL are taken out of the rule handed to libical and
 * applied here: COUNT becomes the wall time of the COUNT-th occurrence,
 * computed once when the rule is made.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "tz/tz.h"

#define RECUR_DAY 86400
#define RECUR_MAX_YEAR 2582  /* libical's last year */
#define RECUR_MAX_COUNT 100000
#define RECUR_MAX_DATES 1000
#define RECUR_NONE INT64_MAX
#define RECUR_MEMO 4      /* answers remembered per rule */
#define RECUR_MAX_RULES 16
#define RECUR_FROM_RDATE (1u << RECUR_MAX_RULES) /* source bit of RDATEs */
#define RECUR_MAX_OFFSET (26 * 3600) /* beyond any zone's UTC offset */

struct recur_rule {
	struct icalrecurrencetype rule; /* without COUNT and UNTIL */
	int64_t dtstart;                /* local seconds */
	int64_t until;                  /* local seconds, RECUR_NONE if none */
	int64_t until_utc;              /* instant, RECUR_NONE if none */

	/* The sieve's view of the rule. */
	int freq;
	int64_t interval;
	int wkst;                /* 0 = Sunday */
	unsigned month_mask;     /* bit m for month m; all if no BYMONTH */
	uint32_t mday_pos;       /* bit d: BYMONTHDAY=d */
	uint32_t mday_neg;       /* bit d: BYMONTHDAY=-d */
	int has_mday;
	unsigned char yday_pos[367], yday_neg[367];
	int has_yday;
	unsigned wday_mask;      /* bit w (0 = Sunday): BYDAY without ordinal */
	int has_wday;
	short mday_ords[64][2];  /* MONTHLY BYDAY with ordinals: (ord, wday) */
	int n_ords;
	int has_setpos;
	uint64_t hours;          /* bit h */
	uint64_t minutes;        /* bit m */
	uint64_t seconds;        /* bit s */
	int tod_max;             /* latest second of day of an expansion */

	/* Sub-daily periods: unit seconds, allowed periods, expansions. */
	int unit;
	int qpd;                 /* periods per day */
	unsigned char *allowed;  /* qpd entries */
	unsigned char *residue;  /* interval entries, when interval < qpd */
	int exp[3600];           /* sorted offsets within a period */
	int n_exp;

	icalrecur_iterator *it;  /* kept between calls */
	int64_t it_last;         /* where it stands (local seconds) */
	int it_occ;              /* whether it_last is an occurrence */

	/* Recent answers of recur_rule_next (cursor -> occurrence): rows that
	 * share a recurrence ask the same questions in turn. */
	int64_t memo_in[RECUR_MEMO], memo_out[RECUR_MEMO];
	int n_memo, memo_pos;
};

/* A recurrence set: the union of its rules, plus RDATEs, less EXDATEs. */
struct tz_recur {
	struct recur_rule *rules[RECUR_MAX_RULES];
	int n_rules;
	int64_t *exdates, *rdates;
	size_t n_exdates, n_rdates;
};

/* Floor division for possibly negative numerators. */
static int64_t
recur_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Floor modulo for possibly negative numerators. */
static int64_t
recur_mod(int64_t a, int64_t b)
{
	int64_t m = a % b;

	return m < 0 ? m + b : m;
}

/* Local seconds of a wall time. */
static int64_t
recur_lsec(const struct tz_wall *w)
{
	return tz_days_from_civil(w->year, w->month, w->day) * RECUR_DAY +
	    w->hour * 3600 + w->minute * 60 + w->second;
}

/* Wall time of local seconds. */
static void
recur_wall(int64_t s, struct tz_wall *w)
{
	int64_t d = recur_floordiv(s, RECUR_DAY), sod = s - d * RECUR_DAY;

	tz_civil_from_days(d, &w->year, &w->month, &w->day);
	w->hour = (int)(sod / 3600);
	w->minute = (int)(sod / 60 % 60);
	w->second = (int)(sod % 60);
}

/* libical floating time of local seconds. */
static struct icaltimetype
recur_ical(int64_t s)
{
	struct icaltimetype t = icaltime_null_time();
	struct tz_wall w;

	recur_wall(s, &w);
	t.year = w.year;
	t.month = w.month;
	t.day = w.day;
	t.hour = w.hour;
	t.minute = w.minute;
	t.second = w.second;
	return t;
}

/* Local seconds of a libical time (its zone ignored). */
static int64_t
recur_from_ical(struct icaltimetype t)
{
	struct tz_wall w = { t.year, t.month, t.day, t.hour, t.minute,
		t.second };

	if (t.is_date)
		w.hour = w.minute = w.second = 0;
	return recur_lsec(&w);
}

/* Days in month m of year y. */
static int
recur_mdays(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Weekday of a day number, 0 = Sunday. */
static int
recur_wday(int64_t d)
{
	return (int)recur_mod(d + 4, 7);
}

/* Number of entries of a libical BYxxx array. */
static int
recur_len(const short *a, int size)
{
	int n = 0;

	while (n < size && a[n] != ICAL_RECURRENCE_ARRAY_MAX)
		n++;
	return n;
}

/* Bit set of a BYHOUR/BYMINUTE/BYSECOND list, or of dflt if empty. */
static uint64_t
recur_bits(const short *a, int size, int all, int dflt)
{
	uint64_t b = 0;
	int i, n = recur_len(a, size);

	if (n == 0)
		return dflt < 0 ? (all == 64 ? ~0ULL : (1ULL << all) - 1) :
		    1ULL << dflt;
	for (i = 0; i < n; i++)
		b |= 1ULL << a[i];
	return b;
}

/* Whether day d passes BYMONTH, BYMONTHDAY, BYYEARDAY and BYDAY. */
static int
recur_day_ok(const struct recur_rule *r, int64_t d)
{
	int y, m, md, yd, wd, ord, i, nd;

	tz_civil_from_days(d, &y, &m, &md);
	if (!(r->month_mask & (1u << m)))
		return 0;
	nd = recur_mdays(y, m);
	if (r->has_mday && !(r->mday_pos & (1u << md)) &&
	    !(r->mday_neg & (1u << (nd - md + 1))))
		return 0;
	if (r->has_yday) {
		yd = (int)(d - tz_days_from_civil(y, 1, 1)) + 1;
		i = (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
		if (!r->yday_pos[yd] && !r->yday_neg[i - yd + 1])
			return 0;
	}
	wd = recur_wday(d);
	if (r->has_wday && !(r->wday_mask & (1u << wd)))
		return 0;
	if (r->n_ords > 0) {
		for (i = 0; i < r->n_ords; i++) {
			if (r->mday_ords[i][1] != wd)
				continue;
			ord = r->mday_ords[i][0];
			if (ord == 0 || (ord > 0 && (md - 1) / 7 + 1 == ord) ||
			    (ord < 0 && -((nd - md) / 7 + 1) == ord))
				return 1;
		}
		return 0;
	}
	return 1;
}

/* Whether day d's period is one the interval selects (DAILY, WEEKLY). */
static int
recur_day_aligned(const struct recur_rule *r, int64_t d)
{
	int64_t d0 = recur_floordiv(r->dtstart, RECUR_DAY), w, w0;

	if (r->freq == ICAL_DAILY_RECURRENCE)
		return recur_mod(d - d0, r->interval) == 0;
	w = d - recur_mod(recur_wday(d) - r->wkst, 7);
	w0 = d0 - recur_mod(recur_wday(d0) - r->wkst, 7);
	return recur_mod((w - w0) / 7, r->interval) == 0;
}

/*
 * The second of day d of the first sub-daily occurrence at or after second
 * c of that day, or -1.  Exact: occurrences are the periods aligned to
 * DTSTART by the interval that BYHOUR/BYMINUTE(/BYSECOND) allow, expanded.
 */
static int
recur_subdaily_in_day(const struct recur_rule *r, int64_t d, int c)
{
	int64_t q0 = recur_floordiv(r->dtstart, r->unit);
	int64_t rr = recur_mod(q0 - d * r->qpd, r->interval), q, qlo;
	int i;

	qlo = c / r->unit;
	if (c == 0 && r->residue != NULL && !r->residue[rr])
		return -1;
	q = rr;
	if (q < qlo)
		q += (qlo - q + r->interval - 1) / r->interval * r->interval;
	for (; q < r->qpd; q += r->interval) {
		if (!r->allowed[q])
			continue;
		for (i = 0; i < r->n_exp; i++) {
			if (q * r->unit + r->exp[i] >= c)
				return (int)(q * r->unit + r->exp[i]);
		}
	}
	return -1;
}

/* Whether month (y, m) can hold a MONTHLY occurrence. */
static int
recur_month_ok(const struct recur_rule *r, int y, int m)
{
	int64_t d0 = recur_floordiv(r->dtstart, RECUR_DAY), d, first;
	int y0, m0, md0, n = 0, nd = recur_mdays(y, m), ntod, i, p;
	const short *sp = r->rule.by_set_pos;

	tz_civil_from_days(d0, &y0, &m0, &md0);
	if (recur_mod((int64_t)(y - y0) * 12 + (m - m0), r->interval) != 0 ||
	    !(r->month_mask & (1u << m)))
		return 0;
	first = tz_days_from_civil(y, m, 1);
	for (d = first; d < first + nd; d++)
		n += recur_day_ok(r, d);
	if (n == 0 || !r->has_setpos)
		return n > 0;
	ntod = __builtin_popcountll(r->hours) *
	    __builtin_popcountll(r->minutes) *
	    __builtin_popcountll(r->seconds);
	for (i = 0; i < recur_len(sp, ICAL_BY_SETPOS_SIZE); i++) {
		p = sp[i] < 0 ? -sp[i] : sp[i];
		if (p >= 1 && p <= n * ntod)
			return 1;
	}
	return 0;
}

/*
 * The first local second at or after cursor from which libical finds the
 * next occurrence without a long walk, or RECUR_NONE when none remains
 * before libical's year limit.  Exact for sub-daily rules.
 */
static int64_t
recur_sieve(const struct recur_rule *r, int64_t cursor)
{
	int64_t d = recur_floordiv(cursor, RECUR_DAY), end;
	int c = (int)(cursor - d * RECUR_DAY), s, y, m, md;

	end = tz_days_from_civil(RECUR_MAX_YEAR, 12, 31);
	switch (r->freq) {
	case ICAL_SECONDLY_RECURRENCE:
	case ICAL_MINUTELY_RECURRENCE:
	case ICAL_HOURLY_RECURRENCE:
		for (; d <= end; d++, c = 0) {
			if (!recur_day_ok(r, d))
				continue;
			if ((s = recur_subdaily_in_day(r, d, c)) >= 0)
				return d * RECUR_DAY + s;
		}
		return RECUR_NONE;
	case ICAL_DAILY_RECURRENCE:
	case ICAL_WEEKLY_RECURRENCE:
		for (; d <= end; d++, c = 0) {
			if (c > r->tod_max || !recur_day_aligned(r, d) ||
			    !recur_day_ok(r, d))
				continue;
			return c == 0 ? d * RECUR_DAY : cursor;
		}
		return RECUR_NONE;
	case ICAL_MONTHLY_RECURRENCE:
		tz_civil_from_days(d, &y, &m, &md);
		for (; y <= RECUR_MAX_YEAR; m == 12 ? (y++, m = 1) : m++) {
			if (recur_month_ok(r, y, m)) {
				d = tz_days_from_civil(y, m, 1) * RECUR_DAY;
				return d > cursor ? d : cursor;
			}
		}
		return RECUR_NONE;
	default:
		return cursor;
	}
}

/* Seconds a libical step covers, to judge how far it may walk. */
static int64_t
recur_period(const struct recur_rule *r)
{
	switch (r->freq) {
	case ICAL_SECONDLY_RECURRENCE:
		return 1;
	case ICAL_MINUTELY_RECURRENCE:
		return 60;
	case ICAL_HOURLY_RECURRENCE:
		return 3600;
	case ICAL_DAILY_RECURRENCE:
		return RECUR_DAY;
	case ICAL_WEEKLY_RECURRENCE:
		return 7 * RECUR_DAY;
	case ICAL_MONTHLY_RECURRENCE:
		return 31 * RECUR_DAY;
	default:
		return 366 * RECUR_DAY;
	}
}

/*
 * Where to start libical for an occurrence at or after s: the start of the
 * period (day, week, month, year) that the interval selects at or before s,
 * or DTSTART itself in DTSTART's period.  The rule carries every default it
 * took from DTSTART explicitly (recur_explicit), so moving the start keeps
 * the occurrences; libical's own set_start walks from DTSTART instead.
 */
static int64_t
recur_origin(const struct recur_rule *r, int64_t s)
{
	int64_t d = recur_floordiv(s, RECUR_DAY);
	int64_t d0 = recur_floordiv(r->dtstart, RECUR_DAY), p, p0;
	int y, m, md, y0, m0, md0;

	tz_civil_from_days(d, &y, &m, &md);
	tz_civil_from_days(d0, &y0, &m0, &md0);
	switch (r->freq) {
	case ICAL_DAILY_RECURRENCE:
		p = d - recur_mod(d - d0, r->interval);
		p0 = d0;
		break;
	case ICAL_WEEKLY_RECURRENCE:
		p = d - recur_mod(recur_wday(d) - r->wkst, 7);
		p0 = d0 - recur_mod(recur_wday(d0) - r->wkst, 7);
		p -= recur_mod((p - p0) / 7, r->interval) * 7;
		break;
	case ICAL_MONTHLY_RECURRENCE:
		p = (int64_t)y * 12 + m - 1;
		p0 = (int64_t)y0 * 12 + m0 - 1;
		p -= recur_mod(p - p0, r->interval);
		if (p == p0)
			return r->dtstart;
		return tz_days_from_civil((int)(p / 12), (int)(p % 12) + 1, 1) *
		    RECUR_DAY;
	default:
		p = y - recur_mod(y - y0, r->interval);
		if (p == y0)
			return r->dtstart;
		return tz_days_from_civil((int)p, 1, 1) * RECUR_DAY;
	}
	return p <= p0 ? r->dtstart : p * RECUR_DAY;
}

/* Set a libical BYxxx list to the single value v. */
static void
recur_set1(short *a, short v)
{
	a[0] = v;
	a[1] = ICAL_RECURRENCE_ARRAY_MAX;
}

/*
 * Write into the rule the values RFC 5545 takes from DTSTART when a BYxxx
 * part is absent (as dateutil does), so that any period start may serve as
 * libical's DTSTART.
 */
static void
recur_explicit(struct icalrecurrencetype *ru, const struct tz_wall *ds,
    int wday)
{
	int f = ru->freq;
	int nday = recur_len(ru->by_day, ICAL_BY_DAY_SIZE) == 0 &&
	    recur_len(ru->by_month_day, ICAL_BY_MONTHDAY_SIZE) == 0 &&
	    recur_len(ru->by_year_day, ICAL_BY_YEARDAY_SIZE) == 0 &&
	    recur_len(ru->by_week_no, ICAL_BY_WEEKNO_SIZE) == 0;

	if (f >= ICAL_DAILY_RECURRENCE &&
	    recur_len(ru->by_hour, ICAL_BY_HOUR_SIZE) == 0)
		recur_set1(ru->by_hour, (short)ds->hour);
	if (f >= ICAL_HOURLY_RECURRENCE &&
	    recur_len(ru->by_minute, ICAL_BY_MINUTE_SIZE) == 0)
		recur_set1(ru->by_minute, (short)ds->minute);
	if (f >= ICAL_MINUTELY_RECURRENCE &&
	    recur_len(ru->by_second, ICAL_BY_SECOND_SIZE) == 0)
		recur_set1(ru->by_second, (short)ds->second);
	if (!nday)
		return;
	if (f == ICAL_WEEKLY_RECURRENCE)
		recur_set1(ru->by_day, (short)(wday + 1));
	else if (f == ICAL_MONTHLY_RECURRENCE)
		recur_set1(ru->by_month_day, (short)ds->day);
	else if (f == ICAL_YEARLY_RECURRENCE) {
		if (recur_len(ru->by_month, ICAL_BY_MONTH_SIZE) == 0)
			recur_set1(ru->by_month, (short)ds->month);
		recur_set1(ru->by_month_day, (short)ds->day);
	}
}

/* recur_rule_next's walk, without its memo. */
static int64_t
recur_rule_walk(struct recur_rule *r, int64_t cursor)
{
	struct icaltimetype t;
	int64_t start, occ, origin;

	if (cursor < r->dtstart)
		cursor = r->dtstart;
	if ((start = recur_sieve(r, cursor)) == RECUR_NONE)
		return RECUR_NONE;
	/*
	 * The sieve is exact for sub-daily rules, and libical 3.0's
	 * set_start misaligns them (HOURLY;INTERVAL=5;BYMINUTE=15 started
	 * inside an aligned hour yields the next, unaligned one).
	 */
	if (r->freq <= ICAL_HOURLY_RECURRENCE)
		return start;
	/* The last occurrence libical gave may be the answer itself. */
	if (r->it != NULL && r->it_occ && r->it_last == cursor)
		return cursor;
	/* Reuse the iterator when it stands a short walk before start. */
	if (r->it == NULL || r->it_last >= cursor ||
	    start - r->it_last > 4 * r->interval * recur_period(r)) {
		if (r->it != NULL)
			icalrecur_iterator_free(r->it);
		origin = recur_origin(r, start);
		r->it = icalrecur_iterator_new(r->rule, recur_ical(origin));
		if (r->it == NULL)
			return RECUR_NONE;
		r->it_last = origin - 1;
		r->it_occ = 0;
	}
	for (;;) {
		t = icalrecur_iterator_next(r->it);
		if (icaltime_is_null_time(t)) {
			r->it_last = INT64_MAX;
			r->it_occ = 0;
			return RECUR_NONE;
		}
		occ = r->it_last = recur_from_ical(t);
		r->it_occ = 1;
		if (occ >= cursor)
			return occ;
	}
}

/* The first RRULE occurrence at or after cursor (local seconds). */
static int64_t
recur_rule_next(struct recur_rule *r, int64_t cursor)
{
	int64_t occ;
	int i;

	for (i = 0; i < r->n_memo; i++)
		if (r->memo_in[i] == cursor)
			return r->memo_out[i];
	occ = recur_rule_walk(r, cursor);
	r->memo_in[r->memo_pos] = cursor;
	r->memo_out[r->memo_pos] = occ;
	r->memo_pos = (r->memo_pos + 1) % RECUR_MEMO;
	if (r->n_memo < RECUR_MEMO)
		r->n_memo++;
	return occ;
}

/* Index of the first entry >= v in a sorted array. */
static size_t
recur_lower(const int64_t *a, size_t n, int64_t v)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The first occurrence of the whole set (the rules' union + RDATE - EXDATE)
 * at or after cursor; *from gets the bits of the rules (and
 * RECUR_FROM_RDATE) that give it.
 */
static int64_t
recur_set_next(struct tz_recur *r, int64_t cursor, unsigned *from)
{
	struct recur_rule *ru;
	int64_t a, occ;
	unsigned src;
	size_t i;
	int k;

	for (;;) {
		i = recur_lower(r->rdates, r->n_rdates, cursor);
		occ = i < r->n_rdates ? r->rdates[i] : RECUR_NONE;
		src = occ != RECUR_NONE ? RECUR_FROM_RDATE : 0;
		for (k = 0; k < r->n_rules; k++) {
			ru = r->rules[k];
			a = recur_rule_next(ru, cursor);
			if (a == RECUR_NONE || (ru->until != RECUR_NONE &&
			    a > ru->until) || a > occ)
				continue;
			src = a < occ ? 0 : src;
			occ = a;
			src |= 1u << k;
		}
		if (occ == RECUR_NONE)
			return RECUR_NONE;
		i = recur_lower(r->exdates, r->n_exdates, occ);
		if (i == r->n_exdates || r->exdates[i] != occ) {
			*from = src;
			return occ;
		}
		cursor = occ + 1;
	}
}

/* Fill the sieve's fields from the parsed rule and DTSTART. */
static void
recur_prepare(struct recur_rule *r, const struct tz_wall *ds)
{
	struct icalrecurrencetype *ru = &r->rule;
	int i, n, v, h, mi, s, q, wd, sub;

	r->freq = ru->freq;
	r->interval = ru->interval > 0 ? ru->interval : 1;
	r->wkst = ru->week_start > 0 ? ru->week_start - 1 : 1;
	n = recur_len(ru->by_month, ICAL_BY_MONTH_SIZE);
	r->month_mask = n == 0 ? 0x1ffe : 0;
	for (i = 0; i < n; i++)
		r->month_mask |= 1u << ru->by_month[i];
	n = recur_len(ru->by_month_day, ICAL_BY_MONTHDAY_SIZE);
	r->has_mday = n > 0;
	for (i = 0; i < n; i++) {
		v = ru->by_month_day[i];
		if (v > 0)
			r->mday_pos |= 1u << v;
		else
			r->mday_neg |= 1u << -v;
	}
	n = recur_len(ru->by_year_day, ICAL_BY_YEARDAY_SIZE);
	r->has_yday = n > 0;
	for (i = 0; i < n; i++) {
		v = ru->by_year_day[i];
		if (v > 0)
			r->yday_pos[v] = 1;
		else
			r->yday_neg[-v] = 1;
	}
	n = recur_len(ru->by_day, ICAL_BY_DAY_SIZE);
	for (i = 0; i < n; i++) {
		wd = icalrecurrencetype_day_day_of_week(ru->by_day[i]) - 1;
		v = icalrecurrencetype_day_position(ru->by_day[i]);
		if (r->freq == ICAL_MONTHLY_RECURRENCE && r->n_ords < 64) {
			r->mday_ords[r->n_ords][0] = (short)v;
			r->mday_ords[r->n_ords++][1] = (short)wd;
		} else if (r->freq != ICAL_YEARLY_RECURRENCE) {
			r->wday_mask |= 1u << wd;
			r->has_wday = 1;
		}
	}
	/* Defaults RFC 5545 takes from DTSTART when a BYxxx is absent. */
	if (r->freq == ICAL_WEEKLY_RECURRENCE && !r->has_wday) {
		r->wday_mask = 1u << recur_wday(recur_floordiv(r->dtstart,
		    RECUR_DAY));
		r->has_wday = 1;
	}
	if (r->freq == ICAL_MONTHLY_RECURRENCE && !r->has_mday &&
	    r->n_ords == 0) {
		r->mday_pos = 1u << ds->day;
		r->has_mday = 1;
	}
	r->has_setpos = recur_len(ru->by_set_pos, ICAL_BY_SETPOS_SIZE) > 0;
	sub = r->freq <= ICAL_HOURLY_RECURRENCE;
	r->hours = recur_bits(ru->by_hour, ICAL_BY_HOUR_SIZE, 24,
	    sub ? -1 : ds->hour);
	r->minutes = recur_bits(ru->by_minute, ICAL_BY_MINUTE_SIZE, 60,
	    r->freq <= ICAL_MINUTELY_RECURRENCE ? -1 : ds->minute);
	r->seconds = recur_bits(ru->by_second, ICAL_BY_SECOND_SIZE, 60,
	    r->freq == ICAL_SECONDLY_RECURRENCE ? -1 : ds->second);
	r->tod_max = (63 - __builtin_clzll(r->hours)) * 3600 +
	    (63 - __builtin_clzll(r->minutes)) * 60 +
	    (63 - __builtin_clzll(r->seconds));

	if (!sub)
		return;
	r->unit = r->freq == ICAL_HOURLY_RECURRENCE ? 3600 :
	    r->freq == ICAL_MINUTELY_RECURRENCE ? 60 : 1;
	r->qpd = RECUR_DAY / r->unit;
	r->allowed = xcalloc(r->qpd, 1);
	for (q = 0; q < r->qpd; q++) {
		s = q * r->unit;
		h = s / 3600;
		mi = s / 60 % 60;
		if (!(r->hours & (1ULL << h)))
			continue;
		if (r->unit <= 60 && !(r->minutes & (1ULL << mi)))
			continue;
		if (r->unit == 1 && !(r->seconds & (1ULL << (s % 60))))
			continue;
		r->allowed[q] = 1;
	}
	for (s = 0; s < r->unit; s++) {
		mi = s / 60;
		if (r->unit == 3600 && !(r->minutes & (1ULL << mi)))
			continue;
		if (r->unit >= 60 && !(r->seconds & (1ULL << (s % 60))))
			continue;
		r->exp[r->n_exp++] = s;
	}
	if (r->interval < r->qpd) {
		r->residue = xcalloc(r->interval, 1);
		for (q = 0; q < r->qpd; q++)
			if (r->allowed[q])
				r->residue[q % r->interval] = 1;
	}
}

/*
 * Whether some date of a common or a leap year passes BYMONTH, BYMONTHDAY
 * and BYYEARDAY together; when none does the rule can never occur, which
 * libical would take long to find out for YEARLY rules.
 */
static int
recur_calendar_possible(const struct recur_rule *r)
{
	int y, m, d, nd, yd;

	for (y = 2025; y >= 2024; y--) {
		for (m = 1, yd = 0; m <= 12; m++) {
			nd = recur_mdays(y, m);
			for (d = 1; d <= nd; d++) {
				yd++;
				if (!(r->month_mask & (1u << m)))
					continue;
				if (r->has_mday && !(r->mday_pos & (1u << d)) &&
				    !(r->mday_neg & (1u << (nd - d + 1))))
					continue;
				if (r->has_yday && !r->yday_pos[yd] &&
				    !r->yday_neg[(y == 2024 ? 366 : 365) -
				    yd + 1])
					continue;
				return 1;
			}
		}
	}
	return 0;
}

/* Refuse what libical would accept but get wrong, or what RFC 5545 forbids. */
static int
recur_check_parts(const struct icalrecurrencetype *ru, char **cause)
{
	int f = ru->freq, i, n;

	if (ru->rscale != NULL) {
		*cause = xstrdup("RSCALE (RFC 7529) is not supported");
		return -1;
	}
	if (ru->count < 0 || ru->count > RECUR_MAX_COUNT) {
		*cause = xasprintf("COUNT must be 1..%d", RECUR_MAX_COUNT);
		return -1;
	}
	if (ru->interval < 1) {
		*cause = xstrdup("INTERVAL must be a positive integer");
		return -1;
	}
	if (recur_len(ru->by_set_pos, ICAL_BY_SETPOS_SIZE) > 0 &&
	    f != ICAL_MONTHLY_RECURRENCE && f != ICAL_YEARLY_RECURRENCE) {
		*cause = xstrdup("BYSETPOS is supported with FREQ=MONTHLY or "
		    "FREQ=YEARLY only (libical ignores it elsewhere)");
		return -1;
	}
	if (recur_len(ru->by_week_no, ICAL_BY_WEEKNO_SIZE) > 0 &&
	    f != ICAL_YEARLY_RECURRENCE) {
		*cause = xstrdup("BYWEEKNO is valid with FREQ=YEARLY only");
		return -1;
	}
	if (recur_len(ru->by_year_day, ICAL_BY_YEARDAY_SIZE) > 0 &&
	    (f == ICAL_DAILY_RECURRENCE || f == ICAL_WEEKLY_RECURRENCE ||
	    f == ICAL_MONTHLY_RECURRENCE)) {
		*cause = xstrdup("BYYEARDAY is not valid with FREQ=DAILY, "
		    "WEEKLY or MONTHLY");
		return -1;
	}
	if (recur_len(ru->by_month_day, ICAL_BY_MONTHDAY_SIZE) > 0 &&
	    f == ICAL_WEEKLY_RECURRENCE) {
		*cause = xstrdup("BYMONTHDAY is not valid with FREQ=WEEKLY");
		return -1;
	}
	n = recur_len(ru->by_day, ICAL_BY_DAY_SIZE);
	for (i = 0; i < n; i++) {
		if (icalrecurrencetype_day_position(ru->by_day[i]) != 0 &&
		    f != ICAL_MONTHLY_RECURRENCE && f != ICAL_YEARLY_RECURRENCE) {
			*cause = xstrdup("BYDAY with a position (like 2MO) is "
			    "valid with FREQ=MONTHLY or YEARLY only");
			return -1;
		}
	}
	if (recur_len(ru->by_set_pos, ICAL_BY_SETPOS_SIZE) > 0 &&
	    (recur_len(ru->by_hour, ICAL_BY_HOUR_SIZE) > 1 ||
	    recur_len(ru->by_minute, ICAL_BY_MINUTE_SIZE) > 1 ||
	    recur_len(ru->by_second, ICAL_BY_SECOND_SIZE) > 1)) {
		*cause = xstrdup("BYSETPOS with several times of day is not "
		    "supported (libical 3.0 applies BYSETPOS to days only)");
		return -1;
	}
	n = recur_len(ru->by_second, ICAL_BY_SECOND_SIZE);
	for (i = 0; i < n; i++) {
		if (ru->by_second[i] > 59) {
			*cause = xstrdup("BYSECOND=60 (a leap second) is not "
			    "supported");
			return -1;
		}
	}
	n = recur_len(ru->by_month, ICAL_BY_MONTH_SIZE);
	for (i = 0; i < n; i++) {
		if (ru->by_month[i] < 1 || ru->by_month[i] > 12) {
			*cause = xstrdup("BYMONTH must be 1..12");
			return -1;
		}
	}
	return 0;
}

/* Parse text as an RRULE value; fills *ru or sets *cause. */
static int
recur_parse(const char *text, struct icalrecurrencetype *ru, char **cause)
{
	if (strncmp(text, "RRULE:", 6) == 0)
		text += 6;
	if (*text == '\0' || strstr(text, "FREQ=") == NULL) {
		*cause = xstrdup("rule has no FREQ");
		return -1;
	}
	if (strstr(text, "COUNT=") != NULL && strstr(text, "UNTIL=") != NULL) {
		*cause = xstrdup("COUNT and UNTIL must not both be given "
		    "(RFC 5545)");
		return -1;
	}
	icalerror_clear_errno();
	*ru = icalrecurrencetype_from_string(text);
	if (ru->freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR) {
		free(ru->rscale);
		*cause = xasprintf("cannot parse rule \"%.200s\"", text);
		icalerror_clear_errno();
		return -1;
	}
	if (recur_check_parts(ru, cause) != 0) {
		free(ru->rscale);
		return -1;
	}
	return 0;
}

/* Free one rule. */
static void
recur_rule_free(struct recur_rule *r)
{
	if (r == NULL)
		return;
	if (r->it != NULL)
		icalrecur_iterator_free(r->it);
	free(r->rule.rscale);
	free(r->allowed);
	free(r->residue);
	free(r);
}

/* One rule from RRULE text (no newline) and a DTSTART wall time. */
static struct recur_rule *
recur_rule_new(const char *text, const struct tz_wall *dtstart, char **cause)
{
	struct icalrecurrencetype ru;
	struct recur_rule *r;
	int64_t occ;
	int i, count;

	if (recur_parse(text, &ru, cause) != 0)
		return NULL;
	r = xcalloc(1, sizeof *r);
	r->rule = ru;
	r->dtstart = recur_lsec(dtstart);
	r->until = r->until_utc = RECUR_NONE;
	if (!icaltime_is_null_time(ru.until)) {
		if (icaltime_is_utc(ru.until)) {
			r->until_utc = recur_from_ical(ru.until);
			/* No local time later than this maps to or before it. */
			r->until = r->until_utc + RECUR_MAX_OFFSET;
		} else
			r->until = recur_from_ical(ru.until) +
			    (ru.until.is_date ? RECUR_DAY - 1 : 0);
	}
	count = ru.count;
	r->rule.count = 0;
	r->rule.until = icaltime_null_time();
	recur_prepare(r, dtstart);
	recur_explicit(&r->rule, dtstart,
	    recur_wday(recur_floordiv(r->dtstart, RECUR_DAY)));

	/* The rule must have an occurrence; COUNT becomes an UNTIL. */
	occ = recur_calendar_possible(r) ? recur_rule_next(r, r->dtstart) :
	    RECUR_NONE;
	for (i = 1; i < count && occ != RECUR_NONE; i++)
		occ = recur_rule_next(r, occ + 1);
	if (occ == RECUR_NONE && (count == 0 || i == 1)) {
		*cause = xasprintf("rule \"%.200s\" has no occurrence from "
		    "DTSTART to the year %d", text, RECUR_MAX_YEAR);
		recur_rule_free(r);
		return NULL;
	}
	if (count > 0 && occ != RECUR_NONE)
		r->until = occ;
	return r;
}

/* Make a recurrence from RRULE lines and a DTSTART wall time. */
struct tz_recur *
tz_recur_new(const char *rrule, const struct tz_wall *dtstart, char **cause)
{
	char *copy, *line, *next, *why = NULL;
	struct recur_rule *ru;
	struct tz_recur *r;
	size_t len;
	int n;

	if (dtstart->year < 1900 || dtstart->year > RECUR_MAX_YEAR) {
		*cause = xasprintf("DTSTART year must be 1900..%d",
		    RECUR_MAX_YEAR);
		return NULL;
	}
	icalerror_set_errors_are_fatal(0);
	n = 1;
	for (line = strchr(rrule, '\n'); line != NULL;
	    line = strchr(line + 1, '\n'))
		n++;
	if (n > RECUR_MAX_RULES) {
		*cause = xasprintf("%d rules given, at most %d are supported",
		    n, RECUR_MAX_RULES);
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	copy = xstrdup(rrule);
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((len = strlen(line)) > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		if ((ru = recur_rule_new(line, dtstart, &why)) == NULL) {
			if (n > 1) {
				*cause = xasprintf("rule %d of %d: %s",
				    r->n_rules + 1, n, why);
				free(why);
			} else
				*cause = why;
			free(copy);
			tz_recur_free(r);
			return NULL;
		}
		r->rules[r->n_rules++] = ru;
	}
	free(copy);
	return r;
}

/* Free a recurrence. */
void
tz_recur_free(struct tz_recur *r)
{
	int k;

	if (r == NULL)
		return;
	for (k = 0; k < r->n_rules; k++)
		recur_rule_free(r->rules[k]);
	free(r->exdates);
	free(r->rdates);
	free(r);
}

/* Insert v into a sorted array kept without duplicates. */
static int
recur_insert(int64_t **a, size_t *n, int64_t v)
{
	size_t i = recur_lower(*a, *n, v);

	if (i < *n && (*a)[i] == v)
		return 0;
	if (*n >= RECUR_MAX_DATES)
		return -1;
	*a = xreallocarray(*a, *n + 1, sizeof **a);
	memmove(*a + i + 1, *a + i, (*n - i) * sizeof **a);
	(*a)[i] = v;
	(*n)++;
	return 0;
}

/* Add a comma-separated list of wall times as EXDATEs or RDATEs. */
int
tz_recur_add_dates(struct tz_recur *r, const char *list, int exclude,
    char **cause)
{
	char *copy = xstrdup(list), *p, *tok, *save = NULL;
	struct tz_wall w;
	int rc = 0;

	for (p = copy; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
		if (tz_wall_parse(tok, &w) != 0) {
			*cause = xasprintf("bad %s \"%.64s\" (expected "
			    "YYYY-MM-DDTHH:MM:SS)", exclude ? "exdate" :
			    "rdate", tok);
			rc = -1;
			break;
		}
		if (recur_insert(exclude ? &r->exdates : &r->rdates,
		    exclude ? &r->n_exdates : &r->n_rdates,
		    recur_lsec(&w)) != 0) {
			*cause = xasprintf("more than %d %ss",
			    RECUR_MAX_DATES, exclude ? "exdate" : "rdate");
			rc = -1;
			break;
		}
	}
	free(copy);
	return rc;
}

/* The first local occurrence at or after wall time from; 0, or 1 if none. */
int
tz_recur_next_wall(struct tz_recur *r, const struct tz_wall *from,
    struct tz_wall *out)
{
	unsigned from_bits;
	int64_t occ = recur_set_next(r, recur_lsec(from), &from_bits);

	if (occ == RECUR_NONE)
		return 1;
	recur_wall(occ, out);
	return 0;
}

/*
 * Widest swing of the zone's offset within two days of t: wall times more
 * than that before wall(t) map to instants before t.
 */
static int
recur_swing(struct tz_zone *z, int64_t t, int *swing)
{
	int lo, hi;

	if (tz_offset_range(z, t - 2 * RECUR_DAY, t + 2 * RECUR_DAY, &lo,
	    &hi) != 0)
		return -1;
	*swing = hi - lo;
	return 0;
}

/*
 * Whether instant t is past the UTC UNTIL of every source in from (an
 * RDATE has none).
 */
static int
recur_past_until(const struct tz_recur *r, unsigned from, int64_t t)
{
	int k;

	if (from & RECUR_FROM_RDATE)
		return 0;
	for (k = 0; k < r->n_rules; k++)
		if ((from & (1u << k)) && (r->rules[k]->until_utc == RECUR_NONE ||
		    t <= r->rules[k]->until_utc))
			return 0;
	return 1;
}

/*
 * The first fire instant strictly after `after`: occurrences in wall-time
 * order, mapped by the policies, skipped ones dropped (and counted into
 * *skips when it is not NULL), and any instant not later than the one
 * before it collapsed.  0, 1 when the set has ended, -1 on error.
 */
int
tz_recur_next_skips(struct tz_recur *r, struct tz_zone *z, enum tz_gap gap,
    enum tz_overlap overlap, int64_t after, int64_t *next,
    struct tz_recur_skips *skips)
{
	int64_t cursor, occ, t, prev = INT64_MIN;
	struct tz_wall w;
	unsigned from;
	int swing, rc;

	if (skips != NULL) {
		skips->count = 0;
		skips->last = 0;
	}
	if (tz_to_wall(z, after, &w) != 0 || recur_swing(z, after, &swing))
		return -1;
	cursor = recur_lsec(&w) - swing;
	for (;;) {
		if ((occ = recur_set_next(r, cursor, &from)) == RECUR_NONE)
			return 1;
		cursor = occ + 1;
		recur_wall(occ, &w);
		if ((rc = tz_from_wall(z, &w, gap, overlap, &t)) < 0)
			return -1;
		if (rc == 1) {
			/* Reported at the instant the gap ends. */
			if (skips != NULL && tz_from_wall(z, &w,
			    TZ_GAP_NEXT_VALID, overlap, &t) == 0 && t > after &&
			    !recur_past_until(r, from, t)) {
				skips->count++;
				skips->last = t;
			}
			continue;
		}
		if (t <= prev || recur_past_until(r, from, t))
			continue;
		prev = t;
		if (t > after) {
			*next = t;
			return 0;
		}
	}
}

/* tz_recur_next_skips without the count of skipped occurrences. */
int
tz_recur_next(struct tz_recur *r, struct tz_zone *z, enum tz_gap gap,
    enum tz_overlap overlap, int64_t after, int64_t *next)
{
	return tz_recur_next_skips(r, z, gap, overlap, after, next, NULL);
}
