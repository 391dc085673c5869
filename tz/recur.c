/*
 * Recurrence: one or more RFC 5545 RRULEs (plus EXDATE/RDATE) expanded in
 * floating local wall time, each occurrence mapped to UTC through tz_.
 * libical parses the rule text; the expansion is done here, from plain
 * calendar arithmetic, because libical 3.0 gets several parts wrong
 * (WEEKLY intervals started off DTSTART, negative BYMONTHDAY with DAILY,
 * BYWEEKNO at the turn of the year, BYSETPOS over times of day) and steps
 * one period at a time through sparse rules.
 *
 * Wall times are handled as "local seconds": days since 1970-01-01 times
 * 86400 plus the second of the day, with no zone attached.
 *
 * Every rule part is a filter on days (BYMONTH, BYMONTHDAY, BYYEARDAY,
 * BYWEEKNO, BYDAY) and times of day (BYHOUR x BYMINUTE x BYSECOND); an
 * occurrence is a day that passes them all in a period the INTERVAL
 * selects (counted from DTSTART's day, week, month or year), at each time
 * of day, with BYSETPOS choosing among a month's or year's occurrences.
 * Sub-daily rules step through the allowed hours/minutes/seconds instead.
 * COUNT becomes the wall time of the COUNT-th occurrence, computed once
 * when the rule is made; a set's occurrences are the union of its rules'.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	struct icalrecurrencetype rule; /* as parsed */
	int64_t dtstart;                /* local seconds */
	int64_t until;                  /* local seconds, RECUR_NONE if none */
	int64_t until_utc;              /* instant, RECUR_NONE if none */

	/* The rule's parts, with the defaults RFC 5545 takes from DTSTART. */
	int freq;
	int64_t interval;
	int wkst;                /* 0 = Sunday */
	unsigned month_mask;     /* bit m for month m; all if no BYMONTH */
	uint32_t mday_pos;       /* bit d: BYMONTHDAY=d */
	uint32_t mday_neg;       /* bit d: BYMONTHDAY=-d */
	int has_mday;
	unsigned char yday_pos[367], yday_neg[367];
	int has_yday;
	unsigned char wno_pos[54], wno_neg[54];
	int has_wno;
	int has_byday;
	unsigned wday_mask;      /* bit w (0 = Sunday): BYDAY without ordinal */
	short ords[ICAL_BY_DAY_SIZE][2]; /* BYDAY with ordinals: (ord, wday) */
	int n_ords;
	int ords_in_year;        /* ordinals count in the year, not the month */
	short setpos[ICAL_BY_SETPOS_SIZE];
	int n_setpos;
	uint64_t hours;          /* bit h */
	uint64_t minutes;        /* bit m */
	uint64_t seconds;        /* bit s */
	unsigned char hl[24], ml[60], sl[60]; /* the same, sorted lists */
	int nh, nm, ns;
	int tod_max;             /* latest second of day of an expansion */

	/* Sub-daily periods: unit seconds, allowed periods, expansions. */
	int unit;
	int qpd;                 /* periods per day */
	unsigned char *allowed;  /* qpd entries */
	unsigned char *residue;  /* interval entries, when interval < qpd */
	int exp[3600];           /* sorted offsets within a period */
	int n_exp;

	/* Rules expanded by periods: DTSTART's period, the last one, and the
	 * one expanded last (recur_period_fill). */
	int64_t per_first, per_last;
	int64_t per_key;
	int64_t per[ICAL_BY_SETPOS_SIZE];
	int per_n;

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

/* Days in year y. */
static int
recur_ydays(int y)
{
	return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365;
}

/*
 * The first day of week 1 of year y: weeks start on wkst, and week 1 is the
 * first that has at least four days in y (RFC 5545 BYWEEKNO).
 */
static int64_t
recur_week1(int y, int wkst)
{
	int64_t jan1 = tz_days_from_civil(y, 1, 1);
	int64_t s = jan1 - recur_mod(recur_wday(jan1) - wkst, 7);

	return jan1 - s > 3 ? s + 7 : s;
}

/*
 * Whether day d (of calendar year y) lies in a week that BYWEEKNO lists:
 * its week is numbered in the year that holds four or more of its days,
 * so the last days of December may be in week 1 and the first of January
 * in week 52 or 53 of the year before.
 */
static int
recur_weekno_ok(const struct recur_rule *r, int64_t d, int y)
{
	int64_t w1 = recur_week1(y, r->wkst), w2;
	int no, nweeks;

	if (d < w1) {
		w2 = w1;
		w1 = recur_week1(y - 1, r->wkst);
	} else if (d >= (w2 = recur_week1(y + 1, r->wkst))) {
		w1 = w2;
		w2 = recur_week1(y + 2, r->wkst);
	}
	no = (int)((d - w1) / 7) + 1;
	nweeks = (int)((w2 - w1) / 7);
	return r->wno_pos[no] || r->wno_neg[nweeks - no + 1];
}

/* Whether weekday wd at 1-based position pos of a span of len days passes
 * BYDAY (plain weekdays, or ordinals counted within the span). */
static int
recur_byday_ok(const struct recur_rule *r, int wd, int pos, int len)
{
	int i, ord;

	if (r->wday_mask & (1u << wd))
		return 1;
	for (i = 0; i < r->n_ords; i++) {
		if (r->ords[i][1] != wd)
			continue;
		ord = r->ords[i][0];
		if ((ord > 0 && (pos - 1) / 7 + 1 == ord) ||
		    (ord < 0 && -((len - pos) / 7 + 1) == ord))
			return 1;
	}
	return 0;
}

/*
 * Whether day d passes every day filter: BYMONTH, BYMONTHDAY, BYYEARDAY,
 * BYWEEKNO and BYDAY (RFC 5545 limits and expansions meet in the days that
 * pass them all).
 */
static int
recur_day_ok(const struct recur_rule *r, int64_t d)
{
	int y, m, md, yd, nd, ny;

	tz_civil_from_days(d, &y, &m, &md);
	if (!(r->month_mask & (1u << m)))
		return 0;
	nd = recur_mdays(y, m);
	if (r->has_mday && !(r->mday_pos & (1u << md)) &&
	    !(r->mday_neg & (1u << (nd - md + 1))))
		return 0;
	ny = recur_ydays(y);
	yd = (int)(d - tz_days_from_civil(y, 1, 1)) + 1;
	if (r->has_yday && !r->yday_pos[yd] && !r->yday_neg[ny - yd + 1])
		return 0;
	if (r->has_wno && !recur_weekno_ok(r, d, y))
		return 0;
	if (r->has_byday && !(r->ords_in_year ?
	    recur_byday_ok(r, recur_wday(d), yd, ny) :
	    recur_byday_ok(r, recur_wday(d), md, nd)))
		return 0;
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

/* The first time of day (BYHOUR x BYMINUTE x BYSECOND) at or after second
 * c of a day, or -1. */
static int
recur_tod_next(const struct recur_rule *r, int c)
{
	int ch = c / 3600, cm = c / 60 % 60, cs = c % 60, i, j, k, h, m;

	for (i = 0; i < r->nh; i++) {
		if ((h = r->hl[i]) < ch)
			continue;
		if (h > ch)
			return h * 3600 + r->ml[0] * 60 + r->sl[0];
		for (j = 0; j < r->nm; j++) {
			if ((m = r->ml[j]) < cm)
				continue;
			if (m > cm)
				return h * 3600 + m * 60 + r->sl[0];
			for (k = 0; k < r->ns; k++)
				if (r->sl[k] >= cs)
					return h * 3600 + m * 60 + r->sl[k];
		}
	}
	return -1;
}

/* The k-th time of day (from 0) of BYHOUR x BYMINUTE x BYSECOND. */
static int
recur_tod_at(const struct recur_rule *r, int64_t k)
{
	return r->hl[k / (r->nm * r->ns)] * 3600 +
	    r->ml[(k / r->ns) % r->nm] * 60 + r->sl[k % r->ns];
}

/* Order of two int64_t, for qsort. */
static int
recur_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The weekday offset of a week's first day number (wkst's residue). */
static int64_t
recur_week_base(const struct recur_rule *r)
{
	return recur_mod(r->wkst - 4, 7);
}

/*
 * The period key of day d: the day (DAILY), the week starting on WKST
 * (WEEKLY), months since year 0 (MONTHLY) or the year (YEARLY).
 */
static int64_t
recur_period_of(const struct recur_rule *r, int64_t d)
{
	int y, m, md;

	if (r->freq == ICAL_DAILY_RECURRENCE)
		return d;
	if (r->freq == ICAL_WEEKLY_RECURRENCE)
		return recur_floordiv(d - recur_week_base(r), 7);
	tz_civil_from_days(d, &y, &m, &md);
	return r->freq == ICAL_MONTHLY_RECURRENCE ? (int64_t)y * 12 + m - 1 :
	    y;
}

/* Local seconds of the start of period key. */
static int64_t
recur_period_start(const struct recur_rule *r, int64_t key)
{
	if (r->freq == ICAL_DAILY_RECURRENCE)
		return key * RECUR_DAY;
	if (r->freq == ICAL_WEEKLY_RECURRENCE)
		return (key * 7 + recur_week_base(r)) * RECUR_DAY;
	if (r->freq == ICAL_MONTHLY_RECURRENCE)
		return tz_days_from_civil((int)(key / 12), (int)(key % 12) + 1,
		    1) * RECUR_DAY;
	return tz_days_from_civil((int)key, 1, 1) * RECUR_DAY;
}

/*
 * Expand period key (recur_period_of) into r->per: the days that pass the
 * day filters (as local seconds of their midnight), or, with BYSETPOS, the
 * selected occurrences of the period's day x time-of-day set (RFC 5545
 * BYSETPOS).
 */
static void
recur_period_fill(struct recur_rule *r, int64_t key)
{
	int64_t days[366], d, first, lim, n, idx, ntod;
	int i, nday = 0;

	first = recur_period_start(r, key) / RECUR_DAY;
	lim = recur_period_start(r, key + 1) / RECUR_DAY;
	for (d = first; d < lim; d++)
		if (recur_day_ok(r, d))
			days[nday++] = d;
	r->per_key = key;
	r->per_n = 0;
	if (r->n_setpos == 0) {
		for (i = 0; i < nday; i++)
			r->per[r->per_n++] = days[i] * RECUR_DAY;
		return;
	}
	ntod = (int64_t)r->nh * r->nm * r->ns;
	n = nday * ntod;
	for (i = 0; i < r->n_setpos; i++) {
		idx = r->setpos[i] > 0 ? r->setpos[i] - 1 : n + r->setpos[i];
		if (idx < 0 || idx >= n)
			continue;
		r->per[r->per_n++] = days[idx / ntod] * RECUR_DAY +
		    recur_tod_at(r, idx % ntod);
	}
	qsort(r->per, (size_t)r->per_n, sizeof r->per[0], recur_cmp);
	for (i = 1, n = r->per_n > 0; i < r->per_n; i++)
		if (r->per[i] != r->per[n - 1])
			r->per[n++] = r->per[i];
	r->per_n = (int)n;
}

/*
 * The first occurrence at or after cursor of a rule expanded by periods
 * (MONTHLY, YEARLY, and DAILY or WEEKLY with BYSETPOS).
 */
static int64_t
recur_period_next(struct recur_rule *r, int64_t cursor)
{
	int64_t key = recur_period_of(r, recur_floordiv(cursor, RECUR_DAY));
	int64_t skip, day;
	int i, c;

	if ((skip = recur_mod(r->per_first - key, r->interval)) != 0) {
		key += skip;
		cursor = recur_period_start(r, key);
	}
	for (; key <= r->per_last; key += r->interval,
	    cursor = recur_period_start(r, key)) {
		if (r->per_key != key)
			recur_period_fill(r, key);
		for (i = 0; i < r->per_n; i++) {
			if (r->n_setpos > 0) {
				if (r->per[i] >= cursor)
					return r->per[i];
				continue;
			}
			day = r->per[i];
			if (day + RECUR_DAY <= cursor)
				continue;
			c = day >= cursor ? 0 : (int)(cursor - day);
			if ((c = recur_tod_next(r, c)) >= 0)
				return day + c;
		}
	}
	return RECUR_NONE;
}

/*
 * The first occurrence of one rule at or after cursor (local seconds), or
 * RECUR_NONE before libical's year limit.  DAILY and WEEKLY walk the days
 * that pass the filters and the interval, MONTHLY and YEARLY (and DAILY
 * and WEEKLY with BYSETPOS) expand one period at a time, sub-daily rules
 * step through the allowed periods.
 */
static int64_t
recur_rule_walk(struct recur_rule *r, int64_t cursor)
{
	int64_t d, end = tz_days_from_civil(RECUR_MAX_YEAR, 12, 31);
	int c, s;

	if (cursor < r->dtstart)
		cursor = r->dtstart;
	if (r->freq == ICAL_MONTHLY_RECURRENCE ||
	    r->freq == ICAL_YEARLY_RECURRENCE || r->n_setpos > 0)
		return recur_period_next(r, cursor);
	d = recur_floordiv(cursor, RECUR_DAY);
	c = (int)(cursor - d * RECUR_DAY);
	for (; d <= end; d++, c = 0) {
		if (r->freq <= ICAL_HOURLY_RECURRENCE) {
			if (recur_day_ok(r, d) &&
			    (s = recur_subdaily_in_day(r, d, c)) >= 0)
				return d * RECUR_DAY + s;
			continue;
		}
		if (c <= r->tod_max && recur_day_aligned(r, d) &&
		    recur_day_ok(r, d))
			return d * RECUR_DAY + recur_tod_next(r, c);
	}
	return RECUR_NONE;
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

/*
 * Mark a BYYEARDAY or BYWEEKNO list's values: pos[v] for v, neg[v] for -v.
 * Whether the list is given.
 */
static int
recur_signed(const short *a, int size, unsigned char *pos,
    unsigned char *neg)
{
	int i, n = recur_len(a, size);

	for (i = 0; i < n; i++) {
		if (a[i] > 0)
			pos[a[i]] = 1;
		else
			neg[-a[i]] = 1;
	}
	return n > 0;
}

/* Fill the rule's fields from the parsed rule and DTSTART. */
static void
recur_prepare(struct recur_rule *r, const struct tz_wall *ds)
{
	struct icalrecurrencetype *ru = &r->rule;
	int i, n, v, h, mi, s, q, wd, sub, nday;

	r->freq = ru->freq;
	r->interval = ru->interval > 0 ? ru->interval : 1;
	r->wkst = ru->week_start > 0 ? ru->week_start - 1 : 1;
	r->per_key = INT64_MIN;
	n = recur_len(ru->by_month, ICAL_BY_MONTH_SIZE);
	r->month_mask = n == 0 ? 0x1ffe : 0;
	for (i = 0; i < n; i++)
		r->month_mask |= 1u << ru->by_month[i];
	r->ords_in_year = r->freq == ICAL_YEARLY_RECURRENCE && n == 0;
	n = recur_len(ru->by_month_day, ICAL_BY_MONTHDAY_SIZE);
	r->has_mday = n > 0;
	for (i = 0; i < n; i++) {
		v = ru->by_month_day[i];
		if (v > 0)
			r->mday_pos |= 1u << v;
		else
			r->mday_neg |= 1u << -v;
	}
	r->has_yday = recur_signed(ru->by_year_day, ICAL_BY_YEARDAY_SIZE,
	    r->yday_pos, r->yday_neg);
	r->has_wno = recur_signed(ru->by_week_no, ICAL_BY_WEEKNO_SIZE,
	    r->wno_pos, r->wno_neg);
	n = recur_len(ru->by_day, ICAL_BY_DAY_SIZE);
	r->has_byday = n > 0;
	for (i = 0; i < n; i++) {
		wd = icalrecurrencetype_day_day_of_week(ru->by_day[i]) - 1;
		v = icalrecurrencetype_day_position(ru->by_day[i]);
		if (v == 0)
			r->wday_mask |= 1u << wd;
		else {
			r->ords[r->n_ords][0] = (short)v;
			r->ords[r->n_ords++][1] = (short)wd;
		}
	}
	/* Defaults RFC 5545 takes from DTSTART when no day part is given. */
	nday = !r->has_mday && !r->has_yday && !r->has_wno && !r->has_byday;
	if (r->freq == ICAL_WEEKLY_RECURRENCE && nday) {
		r->wday_mask = 1u << recur_wday(recur_floordiv(r->dtstart,
		    RECUR_DAY));
		r->has_byday = 1;
	}
	if ((r->freq == ICAL_MONTHLY_RECURRENCE ||
	    r->freq == ICAL_YEARLY_RECURRENCE) && nday) {
		r->mday_pos = 1u << ds->day;
		r->has_mday = 1;
		if (r->freq == ICAL_YEARLY_RECURRENCE &&
		    recur_len(ru->by_month, ICAL_BY_MONTH_SIZE) == 0)
			r->month_mask = 1u << ds->month;
	}
	r->n_setpos = recur_len(ru->by_set_pos, ICAL_BY_SETPOS_SIZE);
	memcpy(r->setpos, ru->by_set_pos, sizeof r->setpos);
	r->per_first = recur_period_of(r, recur_floordiv(r->dtstart,
	    RECUR_DAY));
	r->per_last = recur_period_of(r, tz_days_from_civil(RECUR_MAX_YEAR,
	    12, 31));
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
	for (i = 0; i < 60; i++) {
		if (i < 24 && (r->hours & (1ULL << i)))
			r->hl[r->nh++] = (unsigned char)i;
		if (r->minutes & (1ULL << i))
			r->ml[r->nm++] = (unsigned char)i;
		if (r->seconds & (1ULL << i))
			r->sl[r->ns++] = (unsigned char)i;
	}

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
 * the expansion would take long to find out for YEARLY rules.
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

/* The numeric BYxxx parts and their ranges (neg: -hi..-lo too). */
static const struct recur_part {
	const char *name;
	int lo, hi, neg;
} recur_parts[] = {
	{ "BYSECOND", 0, 59, 0 },  /* 60, a leap second, is not supported */
	{ "BYMINUTE", 0, 59, 0 },
	{ "BYHOUR", 0, 23, 0 },
	{ "BYMONTH", 1, 12, 0 },
	{ "BYMONTHDAY", 1, 31, 1 },
	{ "BYYEARDAY", 1, 366, 1 },
	{ "BYWEEKNO", 1, 53, 1 },
	{ "BYSETPOS", 1, 366, 1 },
};

/*
 * Whether every value of the numeric BYxxx parts in rule text is an
 * integer in its part's range; else *cause names the part and the value
 * (libical would refuse some without saying which, and accept others it
 * then mishandles, like BYYEARDAY=367).
 */
static int
recur_check_values(const char *text, char **cause)
{
	const struct recur_part *p;
	const char *q, *v, *end;
	size_t i, n;
	long x;
	char *e;
	int ok;

	for (q = text; *q != '\0'; q += *q == ';') {
		n = strcspn(q, "=;");
		for (i = 0, p = NULL; i < sizeof recur_parts /
		    sizeof recur_parts[0]; i++)
			if (strlen(recur_parts[i].name) == n &&
			    strncasecmp(q, recur_parts[i].name, n) == 0)
				p = &recur_parts[i];
		v = q + n + (q[n] == '=');
		end = v + strcspn(v, ";");
		if (p != NULL && v == end) {
			*cause = xasprintf("%s has no value", p->name);
			return -1;
		}
		for (; p != NULL && v < end; v = e + (*e == ',')) {
			x = strtol(v, &e, 10);
			if (e == v || (e != end && *e != ',')) {
				*cause = xasprintf("%s=%.*s: not a list of "
				    "integers", p->name, (int)(end - q - n - 1),
				    q + n + 1);
				return -1;
			}
			/* No negation: x may be LONG_MIN (an overflow). */
			if (p->neg && x < 0)
				ok = x >= -(long)p->hi && x <= -(long)p->lo;
			else
				ok = x >= p->lo && x <= p->hi;
			if (!ok) {
				/* The value as written: strtol clamps. */
				if (p->neg)
					*cause = xasprintf("%s=%.*s is out of "
					    "range (-%d..-%d or %d..%d)",
					    p->name, (int)(e - v), v, p->hi,
					    p->lo, p->lo, p->hi);
				else
					*cause = xasprintf("%s=%.*s is out of "
					    "range (%d..%d)", p->name,
					    (int)(e - v), v, p->lo, p->hi);
				return -1;
			}
		}
		q = end;
	}
	return 0;
}

/* Refuse what RFC 5545 forbids or leaves undefined, naming the part. */
static int
recur_check_parts(const struct icalrecurrencetype *ru, char **cause)
{
	int f = ru->freq, i, n, pos, max;

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
	    f < ICAL_DAILY_RECURRENCE) {
		*cause = xstrdup("BYSETPOS is supported with FREQ=DAILY, "
		    "WEEKLY, MONTHLY or YEARLY only");
		return -1;
	}
	if (recur_len(ru->by_set_pos, ICAL_BY_SETPOS_SIZE) > 0 &&
	    recur_len(ru->by_second, ICAL_BY_SECOND_SIZE) == 0 &&
	    recur_len(ru->by_minute, ICAL_BY_MINUTE_SIZE) == 0 &&
	    recur_len(ru->by_hour, ICAL_BY_HOUR_SIZE) == 0 &&
	    recur_len(ru->by_day, ICAL_BY_DAY_SIZE) == 0 &&
	    recur_len(ru->by_month_day, ICAL_BY_MONTHDAY_SIZE) == 0 &&
	    recur_len(ru->by_year_day, ICAL_BY_YEARDAY_SIZE) == 0 &&
	    recur_len(ru->by_week_no, ICAL_BY_WEEKNO_SIZE) == 0 &&
	    recur_len(ru->by_month, ICAL_BY_MONTH_SIZE) == 0) {
		*cause = xstrdup("BYSETPOS must be used with another BYxxx "
		    "part (RFC 5545)");
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
		if ((pos = icalrecurrencetype_day_position(ru->by_day[i])) == 0)
			continue;
		if (f != ICAL_MONTHLY_RECURRENCE && f != ICAL_YEARLY_RECURRENCE) {
			*cause = xstrdup("BYDAY with a position (like 2MO) is "
			    "valid with FREQ=MONTHLY or YEARLY only");
			return -1;
		}
		if (f == ICAL_YEARLY_RECURRENCE &&
		    recur_len(ru->by_week_no, ICAL_BY_WEEKNO_SIZE) > 0) {
			*cause = xstrdup("BYDAY with a position (like 2MO) and "
			    "BYWEEKNO together are not defined by RFC 5545");
			return -1;
		}
		max = f == ICAL_MONTHLY_RECURRENCE ||
		    recur_len(ru->by_month, ICAL_BY_MONTH_SIZE) > 0 ? 5 : 53;
		if (pos < -max || pos > max) {
			*cause = xasprintf("BYDAY position %d is out of range "
			    "(-%d..-1 or 1..%d %s)", pos, max, max,
			    max == 5 ? "in a month" : "in a year");
			return -1;
		}
	}
	return 0;
}

/*
 * Whether an UNTIL value (up to ';' or the end) has an RFC 5545 form: a
 * DATE (20270101) or a DATE-TIME (20270101T000000, with Z for UTC).
 */
static int
recur_until_ok(const char *v)
{
	size_t n = strcspn(v, ";"), i;

	if (n != 8 && n != 15 && n != 16)
		return 0;
	for (i = 0; i < n; i++) {
		if (i == 8 ? v[i] != 'T' : i == 15 ? v[i] != 'Z' :
		    (v[i] < '0' || v[i] > '9'))
			return 0;
	}
	return 1;
}

/* Parse text as an RRULE value; fills *ru or sets *cause. */
static int
recur_parse(const char *text, struct icalrecurrencetype *ru, char **cause)
{
	const char *until;

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
	if ((until = strstr(text, "UNTIL=")) != NULL &&
	    !recur_until_ok(until + 6)) {
		*cause = xasprintf("UNTIL=%.*s is not an RFC 5545 DATE "
		    "(20270101) or DATE-TIME (20270101T000000, or with Z for "
		    "UTC)", (int)strcspn(until + 6, ";"), until + 6);
		return -1;
	}
	if (recur_check_values(text, cause) != 0)
		return -1;
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
	recur_prepare(r, dtstart);

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
