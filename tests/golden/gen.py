#!/usr/bin/env python3
"""Reference implementation of `belfryctl preview`, used to write golden files.

This is deliberately independent of belfry's C code: the recurrence is
expanded by dateutil.rrule in floating local wall time and each local
occurrence is mapped to UTC with zoneinfo (the system tzdata), following
DESIGN.md "Time":

  * RRULE is RFC 5545, expanded from DTSTART (a wall time in --tz); DTSTART
    is an occurrence only if it matches the rule (dateutil's behaviour), and
    COUNT counts rule occurrences before EXDATE is applied.
  * EXDATE removes matching local occurrences, RDATE adds local ones.
  * Gap policy: shift (default) = PEP 495 fold=0 (the offset before the
    transition, i.e. the wall time moved forward by the gap's length);
    next_valid = the instant the gap ends; skip = no occurrence.
  * Overlap policy: first (default) = the earlier instant; last = the later.
  * The emitted instants strictly increase: an instant <= the previous one
    is dropped, so nothing fires twice.
  * Output: the first --count (default 10) instants strictly after --after
    (default: no lower bound), as RFC 3339 UTC, one per line.

Usage:
  gen.py            write tests/golden/<name>.out for every case in cases.txt
  gen.py --check    compare instead of writing; exit 1 on any difference
  gen.py --show NAME  print the reference output of one case with local times
  gen.py -- ARGS... run the reference on preview arguments given directly

Only the standard library and dateutil are used.
"""

import json
import os
import re
import shlex
import sys
import heapq
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as du

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases.txt")
UTC = timezone.utc

WALL_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$")
UTC_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$")
UNTIL_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z?$")

FREQS = {
    "YEARLY": du.YEARLY,
    "MONTHLY": du.MONTHLY,
    "WEEKLY": du.WEEKLY,
    "DAILY": du.DAILY,
    "HOURLY": du.HOURLY,
    "MINUTELY": du.MINUTELY,
    "SECONDLY": du.SECONDLY,
}
DAYS = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR,
        "SA": du.SA, "SU": du.SU}

# Knock `repeats` vocabulary.
KNOCK_FREQS = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY",
               "hourly": "HOURLY"}
KNOCK_DAYS = {"mon": ["MO"], "tue": ["TU"], "wed": ["WE"], "thu": ["TH"],
              "fri": ["FR"], "sat": ["SA"], "sun": ["SU"],
              "weekdays": ["MO", "TU", "WE", "TH", "FR"],
              "weekends": ["SA", "SU"]}


class CaseError(Exception):
    """A case the reference refuses (golden cases must all be valid)."""


def parse_wall(s, what):
    """Parse YYYY-MM-DDTHH:MM:SS into a naive datetime (floating wall time)."""
    m = WALL_RE.match(s)
    if not m:
        raise CaseError(f"bad {what}: {s!r}")
    try:
        return datetime(*map(int, m.groups()))
    except ValueError as e:
        raise CaseError(f"bad {what}: {s!r}: {e}") from None


def parse_utc(s):
    """Parse YYYY-MM-DDTHH:MM:SSZ into an aware UTC datetime."""
    m = UTC_RE.match(s)
    if not m:
        raise CaseError(f"bad --after: {s!r}")
    try:
        return datetime(*map(int, m.groups()), tzinfo=UTC)
    except ValueError as e:
        raise CaseError(f"bad --after: {s!r}: {e}") from None


def int_list(v, lo, hi, what, nonzero=False):
    """Parse a comma-separated integer list, checking each value's range."""
    out = []
    for p in v.split(","):
        if not re.fullmatch(r"[+-]?\d+", p):
            raise CaseError(f"bad {what}: {v!r}")
        n = int(p)
        if not lo <= n <= hi or (nonzero and n == 0):
            raise CaseError(f"{what} out of range: {n}")
        out.append(n)
    return out


def parse_rrule(text, dtstart):
    """Translate an RRULE string into (an iterable of its local occurrences,
    its UTC UNTIL or None); strict, RFC 5545."""
    if text.startswith("RRULE:"):
        text = text[6:]
    return parse_rrule_parts(text, dtstart), until_utc_of(text)


def until_utc_of(text):
    """The UTC UNTIL of an RRULE (aware datetime), or None."""
    m = re.search(r"UNTIL=(\d{8}T\d{6})Z", text)
    return (datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            if m else None)


def parse_rrule_parts(text, dtstart):
    """The iterable of an RRULE's local occurrences (a dateutil rrule, or
    WeekNoRule)."""
    kw = {"dtstart": dtstart}
    seen = set()
    freq = None
    for part in text.split(";"):
        if "=" not in part:
            raise CaseError(f"bad rule part {part!r}")
        k, v = part.split("=", 1)
        k = k.upper()
        if k in seen:
            raise CaseError(f"duplicate {k}")
        seen.add(k)
        if k == "FREQ":
            if v not in FREQS:
                raise CaseError(f"bad FREQ {v!r}")
            freq = FREQS[v]
        elif k == "INTERVAL":
            kw["interval"] = int_list(v, 1, 10**6, k)[0]
        elif k == "COUNT":
            kw["count"] = int_list(v, 1, 10**6, k)[0]
        elif k == "UNTIL":
            # RFC 5545 forms: DATE (the whole day counts), floating
            # DATE-TIME, or UTC DATE-TIME (applied to the mapped instants).
            m = UNTIL_RE.match(v)
            if re.fullmatch(r"\d{8}", v):
                kw["until"] = datetime.strptime(v, "%Y%m%d").replace(
                    hour=23, minute=59, second=59)
            elif m and v.endswith("Z"):
                until_utc = datetime(*map(int, m.groups()), tzinfo=UTC)
                # No wall time later than this maps to or before it.
                kw["until"] = (until_utc.replace(tzinfo=None) +
                               timedelta(hours=26))
            elif m:
                kw["until"] = datetime(*map(int, m.groups()))
            else:
                raise CaseError(f"UNTIL is not an RFC 5545 DATE or "
                                f"DATE-TIME: {v!r}")
        elif k == "BYSECOND":
            kw["bysecond"] = int_list(v, 0, 59, k)
        elif k == "BYMINUTE":
            kw["byminute"] = int_list(v, 0, 59, k)
        elif k == "BYHOUR":
            kw["byhour"] = int_list(v, 0, 23, k)
        elif k == "BYMONTHDAY":
            kw["bymonthday"] = int_list(v, -31, 31, k, nonzero=True)
        elif k == "BYYEARDAY":
            kw["byyearday"] = int_list(v, -366, 366, k, nonzero=True)
        elif k == "BYWEEKNO":
            kw["byweekno"] = int_list(v, -53, 53, k, nonzero=True)
        elif k == "BYMONTH":
            kw["bymonth"] = int_list(v, 1, 12, k)
        elif k == "BYSETPOS":
            kw["bysetpos"] = int_list(v, -366, 366, k, nonzero=True)
        elif k == "BYDAY":
            days = []
            for d in v.split(","):
                m = re.fullmatch(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)", d)
                if not m:
                    raise CaseError(f"bad BYDAY {d!r}")
                if m.group(1):
                    n = int(m.group(1))
                    if n == 0 or abs(n) > 53:
                        raise CaseError(f"bad BYDAY ordinal {d!r}")
                    days.append(DAYS[m.group(2)](n))
                else:
                    days.append(DAYS[m.group(2)])
            kw["byweekday"] = days
        elif k == "WKST":
            if v not in DAYS:
                raise CaseError(f"bad WKST {v!r}")
            kw["wkst"] = DAYS[v]
        else:
            raise CaseError(f"unsupported rule part {k}")
    if freq is None:
        raise CaseError("FREQ missing")
    if "count" in kw and "until" in kw:
        raise CaseError("COUNT and UNTIL together")
    if "bysetpos" in kw:
        if freq not in (du.DAILY, du.WEEKLY, du.MONTHLY, du.YEARLY):
            raise CaseError("BYSETPOS is only accepted with DAILY to YEARLY")
        if len(seen - {"FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST",
                       "BYSETPOS"}) == 0:
            raise CaseError("BYSETPOS needs another BYxxx part")
    if "byweekno" in kw:
        if any(isinstance(d, du.weekday) and d.n for d in
               kw.get("byweekday", [])):
            raise CaseError("BYDAY with a position and BYWEEKNO")
        return WeekNoRule(freq, kw)
    if "bysetpos" in kw and freq == du.WEEKLY:
        return WeekSetPosRule(kw)
    if "byyearday" in kw and freq in (du.DAILY, du.WEEKLY, du.MONTHLY):
        raise CaseError("BYYEARDAY with DAILY/WEEKLY/MONTHLY")
    try:
        return du.rrule(freq, **kw)
    except ValueError as e:           # e.g. a BYxxx set that is always empty
        raise CaseError(f"rule refused by dateutil: {e}") from None


class WeekSetPosRule:
    """A WEEKLY rule with BYSETPOS. dateutil is wrong here: in DTSTART's
    week it applies BYSETPOS to the days from DTSTART on only, where RFC
    5545 (and dateutil itself for MONTHLY and YEARLY) counts the whole
    period. So dateutil expands from the first day of DTSTART's week (WKST)
    with DTSTART's weekday made explicit, and this class drops what
    precedes DTSTART and applies COUNT/UNTIL."""

    def __init__(self, kw):
        kw = dict(kw)
        self.dtstart = kw["dtstart"]
        self.count = kw.pop("count", None)
        self.until = kw.pop("until", None)
        wkst = kw["wkst"].weekday if "wkst" in kw else 0
        kw.setdefault("byweekday", [DAYS[list(DAYS)[self.dtstart.weekday()]]])
        kw["dtstart"] = self.dtstart - timedelta(
            days=(self.dtstart.weekday() - wkst) % 7)
        try:
            self.base = du.rrule(du.WEEKLY, **kw)
        except ValueError as e:
            raise CaseError(f"rule refused by dateutil: {e}") from None

    def __iter__(self):
        n = 0
        for d in self.base:
            if d < self.dtstart:
                continue
            if (self.until is not None and d > self.until) or d.year > 9000:
                return
            yield d
            n += 1
            if self.count is not None and n >= self.count:
                return


def week1(year, wkst):
    """The first day of week 1 of year (RFC 5545: weeks start on wkst, week
    1 is the first with at least four days in the year)."""
    jan1 = date(year, 1, 1)
    start = jan1 - timedelta(days=(jan1.weekday() - wkst) % 7)
    return start + timedelta(days=7) if (jan1 - start).days > 3 else start


def week_number(day, wkst):
    """(week number, weeks in its year) of a date, RFC 5545 numbering: a
    week belongs to the year holding four or more of its days."""
    y = day.year
    if day < week1(y, wkst):
        y -= 1
    elif day >= week1(y + 1, wkst):
        y += 1
    w1, w2 = week1(y, wkst), week1(y + 1, wkst)
    return (day - w1).days // 7 + 1, (w2 - w1).days // 7


class WeekNoRule:
    """A YEARLY rule with BYWEEKNO, expanded here from RFC 5545 instead of
    by dateutil, whose BYWEEKNO is wrong: it drops late-December days of a
    year's last week, numbers weeks from WKST inconsistently (week 1 must be
    the first week with four days in the year, counted with WKST), and never
    matches a negative week number against the neighbouring year.

    BYWEEKNO is a day filter on the year's days like BYMONTH/BYMONTHDAY/
    BYYEARDAY: dateutil expands the other parts (with every day of the year
    when no other day part is given), this class keeps the days whose week
    number is listed, then applies BYSETPOS per year (over the whole year,
    as RFC 5545 and dateutil's own BYSETPOS do), then drops what precedes
    DTSTART, then COUNT/UNTIL."""

    def __init__(self, freq, kw):
        if freq != du.YEARLY:
            raise CaseError("BYWEEKNO is valid with YEARLY only")
        kw = dict(kw)
        self.weeks = kw.pop("byweekno")
        self.setpos = kw.pop("bysetpos", None)
        self.count = kw.pop("count", None)
        self.until = kw.pop("until", None)
        self.wkst = kw["wkst"].weekday if "wkst" in kw else 0
        if not any(k in kw for k in ("byweekday", "bymonthday",
                                     "byyearday")):
            kw["byyearday"] = list(range(1, 367))
        # BYSETPOS counts in the whole year, days before DTSTART too.
        self.dtstart = kw["dtstart"]
        kw["dtstart"] = self.dtstart.replace(month=1, day=1)
        try:
            self.base = du.rrule(freq, **kw)
        except ValueError as e:
            raise CaseError(f"rule refused by dateutil: {e}") from None

    def _wanted(self, d):
        no, n = week_number(d.date(), self.wkst)
        return no in self.weeks or (no - n - 1) in self.weeks

    def _years(self):
        """Yield each year's selected occurrences (a sorted list)."""
        year, items = None, []
        for d in self.base:
            if d.year > 9000:
                break
            if d.year != year:
                if items:
                    yield items
                year, items = d.year, []
            if self._wanted(d):
                items.append(d)
        if items:
            yield items

    def __iter__(self):
        n = 0
        for items in self._years():
            if self.setpos:
                sel = set()
                for p in self.setpos:
                    i = p - 1 if p > 0 else len(items) + p
                    if 0 <= i < len(items):
                        sel.add(items[i])
                items = sorted(sel)
            for d in items:
                if d < self.dtstart:
                    continue
                if self.until is not None and d > self.until:
                    return
                yield d
                n += 1
                if self.count is not None and n >= self.count:
                    return


def repeats_to_rrule(text):
    """Translate Knock's repeats JSON (an array of rules) into RRULE strings."""
    try:
        arr = json.loads(text)
    except ValueError as e:
        raise CaseError(f"repeats is not JSON: {e}") from None
    if isinstance(arr, dict):
        arr = [arr]
    if not isinstance(arr, list) or not arr:
        raise CaseError("repeats must be a non-empty array")
    return [repeat_to_rrule(r) for r in arr]


def repeat_to_rrule(r):
    """Translate one Knock repeats entry into an RRULE string."""
    if not isinstance(r, dict):
        raise CaseError("a repeats entry must be an object")
    extra = set(r) - {"frequency", "interval", "days", "day_of_month",
                      "hours", "minutes", "__typename"}
    if extra:
        raise CaseError(f"unknown repeats keys {sorted(extra)}")
    if r.get("frequency") not in KNOCK_FREQS:
        raise CaseError(f"bad frequency {r.get('frequency')!r}")
    parts = ["FREQ=" + KNOCK_FREQS[r["frequency"]]]
    interval = r.get("interval", 1)
    if not isinstance(interval, int) or interval < 1:
        raise CaseError("bad interval")
    if interval != 1:
        parts.append(f"INTERVAL={interval}")
    if r.get("days") is not None:
        byday = []
        for d in r["days"]:
            if d not in KNOCK_DAYS:
                raise CaseError(f"bad day {d!r}")
            byday += [x for x in KNOCK_DAYS[d] if x not in byday]
        parts.append("BYDAY=" + ",".join(byday))
    if r.get("day_of_month") is not None:
        parts.append(f"BYMONTHDAY={int(r['day_of_month'])}")
    hours, minutes = r.get("hours"), r.get("minutes")
    # Knock: hours and minutes default to 0 (hourly: every hour, minute 0).
    if hours is not None:
        parts.append(f"BYHOUR={int(hours)}")
    elif r["frequency"] != "hourly":
        parts.append("BYHOUR=0")
    parts.append(f"BYMINUTE={int(minutes) if minutes is not None else 0}")
    parts.append("BYSECOND=0")
    return ";".join(parts)


def parse_args(argv):
    """Parse belfryctl preview arguments into a dict of options."""
    opts = {"count": 10, "after": None, "gap": "shift", "overlap": "first",
            "exdate": [], "rdate": [], "rrule": None, "repeats": None}
    names = {"--rrule": "rrule", "--repeats": "repeats", "--dtstart": "dtstart",
             "--tz": "tz", "--count": "count", "--after": "after",
             "--dst-gap": "gap", "--dst-overlap": "overlap",
             "--exdate": "exdate", "--rdate": "rdate"}
    if not argv or argv[0] != "preview":
        raise CaseError("arguments must start with 'preview'")
    it = iter(argv[1:])
    raw = {}
    for a in it:
        if a not in names:
            raise CaseError(f"unknown option {a!r}")
        try:
            raw[names[a]] = next(it)
        except StopIteration:
            raise CaseError(f"{a} needs a value") from None
    for k in ("dtstart", "tz"):
        if k not in raw:
            raise CaseError(f"--{k} missing")
    if ("rrule" in raw) == ("repeats" in raw):
        raise CaseError("exactly one of --rrule/--repeats")
    opts["dtstart"] = parse_wall(raw["dtstart"], "--dtstart")
    try:
        opts["zone"] = ZoneInfo(raw["tz"])
    except (ZoneInfoNotFoundError, ValueError):
        raise CaseError(f"unknown zone {raw['tz']!r}") from None
    if "count" in raw:
        if not re.fullmatch(r"\d+", raw["count"]) or int(raw["count"]) < 1:
            raise CaseError("bad --count")
        opts["count"] = int(raw["count"])
    if "after" in raw:
        opts["after"] = parse_utc(raw["after"])
    if raw.get("gap", "shift") not in ("shift", "next_valid", "skip"):
        raise CaseError("bad --dst-gap")
    opts["gap"] = raw.get("gap", "shift")
    if raw.get("overlap", "first") not in ("first", "last"):
        raise CaseError("bad --dst-overlap")
    opts["overlap"] = raw.get("overlap", "first")
    for k in ("exdate", "rdate"):
        if k in raw:
            opts[k] = [parse_wall(s, "--" + k) for s in raw[k].split(",")]
    if "repeats" in raw:
        opts["rule_texts"] = repeats_to_rrule(raw["repeats"])
    else:
        opts["rule_texts"] = raw["rrule"].split("\n")
    opts["rule_text"] = " + ".join(opts["rule_texts"])
    opts["rules"] = [parse_rrule(t, opts["dtstart"])
                     for t in opts["rule_texts"]]
    return opts


def wall_of(u, zone):
    """The naive wall time of the aware instant u in zone."""
    return u.astimezone(zone).replace(tzinfo=None)


def gap_end(local, zone):
    """The earliest instant whose wall time is later than `local` (in a gap)."""
    # fold=1 reads the gap with the offset after the transition, which gives
    # an instant before the transition; fold=0 gives one at or after it.
    lo = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    assert lo < hi and wall_of(lo, zone) < local < wall_of(hi, zone)
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
        if wall_of(mid, zone) > local:
            hi = mid
        else:
            lo = mid
    return hi


def to_utc(local, zone, gap, overlap):
    """Map a local wall time to a UTC instant under the DST policy (or None)."""
    u0 = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    u1 = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if wall_of(u0, zone) != local:          # the wall time does not exist
        if gap == "skip":
            return None
        if gap == "next_valid":
            return gap_end(local, zone)
        return u0                           # shift: PEP 495 fold=0
    if u0 != u1 and wall_of(u1, zone) == local:   # the wall time repeats
        return min(u0, u1) if overlap == "first" else max(u0, u1)
    return u0


def tagged(occurrences, until):
    """Yield (occurrence, until) pairs."""
    for d in occurrences:
        yield d, until


def local_occurrences(opts):
    """Yield (local, until) for the sorted, de-duplicated local occurrences
    of the union of the rules plus RDATE less EXDATE: until is the latest
    UTC instant the occurrence may map to (None: no limit), the most lenient
    of the rules (and RDATEs) giving it."""
    far = datetime(9999, 1, 1, tzinfo=UTC)
    streams = [tagged(sorted(opts["rdate"]), far)]
    for rule, until in opts["rules"]:
        streams.append(tagged(rule, until or far))
    exdates = set(opts["exdate"])
    cur, lim = None, None
    for d, u in heapq.merge(*streams, key=lambda p: p[0]):
        if d == cur:
            lim = max(lim, u)
            continue
        if cur is not None and cur not in exdates:
            yield cur, lim
        cur, lim = d, u
    if cur is not None and cur not in exdates:
        yield cur, lim


def preview(opts, explain=False):
    """Return the output lines of `belfryctl preview` for parsed options."""
    out = []
    last = None
    zone = opts["zone"]
    for local, until in local_occurrences(opts):
        u = to_utc(local, zone, opts["gap"], opts["overlap"])
        if u is None:
            note = "skipped (gap)"
        elif u > until:
            note = "after UNTIL (UTC)"
        elif last is not None and u <= last:
            note = "dropped (not after previous)"
        else:
            last = u
            if opts["after"] is None or u > opts["after"]:
                out.append(u.strftime("%Y-%m-%dT%H:%M:%SZ"))
                note = "EMIT"
            else:
                note = "before --after"
        if explain:
            print(f"  local {local.isoformat()} -> "
                  f"{u.isoformat() if u else '-'} {note}")
        if len(out) >= opts["count"]:
            break
        if local.year > 9000:
            break
    return out


def read_cases(path=CASES):
    """Parse cases.txt into (name, argv) pairs; '#' lines are comments."""
    cases = []
    names = set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            words = shlex.split(s)
            name, argv = words[0], words[1:]
            if not re.fullmatch(r"[a-z0-9_]+", name):
                raise SystemExit(f"{path}:{n}: bad case name {name!r}")
            if name in names:
                raise SystemExit(f"{path}:{n}: duplicate case {name!r}")
            names.add(name)
            cases.append((name, ["preview"] + argv))
    return cases


def main(argv):
    """Write (or --check) every golden file; see the module docstring."""
    if argv[:1] == ["--"]:
        for line in preview(parse_args(["preview"] + argv[1:]), explain=True):
            print(line)
        return 0
    cases = read_cases()
    if argv[:1] == ["--show"]:
        for name, args in cases:
            if name in argv[1:]:
                opts = parse_args(args)
                print(f"{name}: {opts['rule_text']} from {opts['dtstart']} "
                      f"in {opts['zone'].key}")
                preview(opts, explain=True)
        return 0
    check = argv[:1] == ["--check"]
    bad = 0
    wanted = set()
    for name, args in cases:
        try:
            text = "".join(line + "\n" for line in preview(parse_args(args)))
        except CaseError as e:
            print(f"{name}: invalid case: {e}", file=sys.stderr)
            bad += 1
            continue
        path = os.path.join(HERE, name + ".out")
        wanted.add(name + ".out")
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        print(f"{name}: golden file differs", file=sys.stderr)
                        bad += 1
            except FileNotFoundError:
                print(f"{name}: golden file missing", file=sys.stderr)
                bad += 1
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    for fn in sorted(os.listdir(HERE)):
        if fn.endswith(".out") and fn not in wanted:
            if check:
                print(f"{fn}: stale golden file", file=sys.stderr)
                bad += 1
            else:
                os.remove(os.path.join(HERE, fn))
    print(f"{len(cases)} cases, {bad} problems"
          + (" (checked)" if check else " (written)"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
