#!/usr/bin/env python3
"""A seeded random corpus of `belfryctl preview` cases, checked against the
independent reference in gen.py (dateutil.rrule + zoneinfo on the system
tzdata, belfry's DST policy applied to map wall times to UTC, BYWEEKNO
implemented from RFC 5545 because dateutil's is wrong; see gen.py).

The cases cover every rule part belfry accepts: FREQ from YEARLY to
SECONDLY, INTERVAL, BYDAY with and without positions, BYMONTHDAY (negative
too), BYMONTH, BYYEARDAY, BYWEEKNO, BYSETPOS, BYHOUR/BYMINUTE/BYSECOND,
WKST, COUNT and UNTIL (DATE, floating and UTC DATE-TIME), several rules at
once (Knock repeats arrays and RRULE lines), EXDATE/RDATE on wall times in
DST gaps and overlaps, DTSTARTs in gaps and overlaps, every gap and overlap
policy, and --after up to 2100 (past 2038), in more than 50 zones.

Usage:
  corpus.py              write corpus/cases.txt and corpus/expected.txt
  corpus.py --check      regenerate in memory and compare with the files
  corpus.py --run BIN    run every case with BIN (belfryctl) and compare its
                         stdout with corpus/expected.txt; prints a line per
                         failing case and "corpus: N passed, M failed"
  corpus.py --seed N --cases N   (with writing or --check) another corpus

The files are committed; `make test` runs --run (through test_preview.sh),
which needs neither dateutil nor this generator's randomness.
"""

import json
import os
import random
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(HERE, "corpus")
CASES = os.path.join(DIR, "cases.txt")
EXPECTED = os.path.join(DIR, "expected.txt")
SEED = 20261202
NCASES = 600
UTC = timezone.utc

# Zones with every kind of offset history: DST north and south, half- and
# quarter-hour offsets, 30-minute DST (Lord Howe), DST dropped or adopted,
# whole days skipped (Apia), Ramadan breaks (Casablanca), no DST at all.
ZONES = [
    "Africa/Cairo", "Africa/Casablanca", "Africa/Johannesburg",
    "Africa/Lagos", "Africa/Nairobi", "America/Anchorage",
    "America/Argentina/Buenos_Aires", "America/Asuncion", "America/Bogota",
    "America/Chicago", "America/Denver", "America/Halifax",
    "America/Havana", "America/Los_Angeles", "America/Mexico_City",
    "America/Ciudad_Juarez", "America/New_York", "America/Nuuk",
    "America/Phoenix", "America/Santiago", "America/Sao_Paulo",
    "America/St_Johns", "America/Toronto", "Antarctica/Troll",
    "Asia/Amman", "Asia/Beirut", "Asia/Dhaka", "Asia/Gaza",
    "Asia/Jerusalem", "Asia/Kathmandu", "Asia/Kolkata", "Asia/Shanghai",
    "Asia/Tehran", "Asia/Tokyo", "Asia/Yerevan", "Atlantic/Azores",
    "Australia/Adelaide", "Australia/Brisbane", "Australia/Eucla",
    "Australia/Lord_Howe", "Australia/Sydney", "Europe/Berlin",
    "Europe/Chisinau", "Europe/Dublin", "Europe/Istanbul", "Europe/Kyiv",
    "Europe/Lisbon", "Europe/London", "Europe/Moscow", "Europe/Paris",
    "Europe/Volgograd", "Pacific/Apia", "Pacific/Auckland",
    "Pacific/Chatham", "Pacific/Fiji", "Pacific/Honolulu",
    "Pacific/Kiritimati", "Pacific/Norfolk", "America/Caracas", "UTC",
]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
KNOCK_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "weekdays",
              "weekends"]


class Timeout(Exception):
    """The reference took too long on a candidate (a very sparse rule)."""


def transitions(zone, year):
    """The offset changes of zone in year: (UTC instant, before, after)."""
    out = []
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=12)
    off = t.astimezone(zone).utcoffset()
    while t < end:
        n = t + step
        o = n.astimezone(zone).utcoffset()
        if o != off:
            lo, hi = t, n
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == off:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, off, o))
            off = o
        t = n
    return out


def wall(dt):
    """YYYY-MM-DDTHH:MM:SS of a naive datetime."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def rand_wall(rng, y0, y1):
    """A random naive wall time in years y0..y1 (minutes mostly round)."""
    d = datetime(rng.randint(y0, y1), rng.randint(1, 12), rng.randint(1, 28),
                 rng.randint(0, 23), rng.choice([0, 0, 0, 15, 30, 45,
                                                 rng.randint(0, 59)]),
                 rng.choice([0] * 6 + [rng.randint(0, 59)]))
    return d + timedelta(days=rng.choice([0, 0, 0, 1, 2, 3]))


def dst_walls(rng, zone, year):
    """Wall times in a gap or an overlap of zone in year (maybe none)."""
    out = []
    for when, before, after in transitions(zone, year):
        local_before = (when + before).replace(tzinfo=None)
        local_after = (when + after).replace(tzinfo=None)
        lo, hi = sorted([local_before, local_after])
        span = int((hi - lo).total_seconds())
        if span <= 0:
            continue
        secs = rng.choice([0, span // 2, span - 60 if span > 60 else 0])
        secs -= secs % 60
        out.append(lo + timedelta(seconds=secs))
    return out


def some(rng, values, k_max):
    """A comma-joined random non-empty subset of values (at most k_max)."""
    k = rng.randint(1, min(k_max, len(values)))
    picked = rng.sample(values, k)
    return ",".join(str(v) for v in sorted(picked, key=lambda v: (
        values.index(v) if v in values else 0)))


def signed(rng, lo, hi, k_max):
    """A comma list of nonzero integers in -hi..-lo, lo..hi."""
    k = rng.randint(1, k_max)
    vals = set()
    while len(vals) < k:
        v = rng.randint(lo, hi)
        vals.add(v if rng.random() < 0.7 else -v)
    return ",".join(str(v) for v in sorted(vals))


def ordinals(rng, k_max):
    """A comma list of one to k_max BYDAY entries with positions -5..5."""
    ords = {f"{rng.choice(['', '-'])}{rng.randint(1, 5)}{rng.choice(DAYS)}"
            for _ in range(rng.randint(1, k_max))}
    return ",".join(sorted(ords))


def times(rng, parts, freq):
    """Maybe add BYHOUR/BYMINUTE/BYSECOND suited to freq."""
    if freq in ("YEARLY", "MONTHLY", "WEEKLY", "DAILY"):
        if rng.random() < 0.6:
            parts.append("BYHOUR=" + some(rng, list(range(24)), 3))
        if rng.random() < 0.5:
            parts.append("BYMINUTE=" + some(rng, [0, 15, 30, 45,
                                                  rng.randint(0, 59)], 2))
        if rng.random() < 0.1:
            parts.append("BYSECOND=" + some(rng, [0, 30, 59], 2))
    elif freq == "HOURLY":
        if rng.random() < 0.6:
            parts.append("BYMINUTE=" + some(rng, [0, 10, 20, 30, 40, 50], 3))
        if rng.random() < 0.3:
            parts.append("BYHOUR=" + some(rng, list(range(24)), 8))
    else:
        if rng.random() < 0.5:
            parts.append("BYHOUR=" + some(rng, list(range(24)), 4))
        if rng.random() < 0.3:
            parts.append("BYMINUTE=" + some(rng, list(range(60)), 6))
        if rng.random() < 0.2:
            parts.append("BYSECOND=" + some(rng, [0, 15, 30, 45], 2))


def rand_rule(rng, dtstart):
    """A random RRULE valid for belfry (every part it accepts)."""
    freq = rng.choice(["YEARLY"] * 7 + ["MONTHLY"] * 5 + ["WEEKLY"] * 5 +
                      ["DAILY"] * 4 + ["HOURLY"] * 2 + ["MINUTELY"] * 2 +
                      ["SECONDLY"])
    parts = ["FREQ=" + freq]
    if rng.random() < 0.5:
        top = {"YEARLY": 3, "MONTHLY": 4, "WEEKLY": 4, "DAILY": 5,
               "HOURLY": 7, "MINUTELY": 90, "SECONDLY": 5000}[freq]
        parts.append(f"INTERVAL={rng.randint(1, top)}")
    day_part = False
    if freq == "YEARLY":
        kind = rng.choice(["month", "monthday", "yearday", "yearday",
                           "weekno", "weekno", "weekno", "ordday",
                           "plainday", "none"])
        if kind in ("month", "monthday", "ordday") or rng.random() < 0.3:
            parts.append("BYMONTH=" + some(rng, list(range(1, 13)), 3))
        if kind == "monthday":
            parts.append("BYMONTHDAY=" + signed(rng, 1, 31, 3))
            day_part = True
        if kind == "yearday":
            parts.append("BYYEARDAY=" + signed(rng, 1, 366, 3))
            day_part = True
        if kind == "weekno":
            parts.append("BYWEEKNO=" + signed(rng, 1, 53, 2))
            if rng.random() < 0.7:
                parts.append("BYDAY=" + some(rng, DAYS, 3))
            day_part = True
        if kind == "ordday":
            parts.append("BYDAY=" + ordinals(rng, 2))
            day_part = True
        if kind == "plainday":
            if rng.random() < 0.5 and "BYMONTH" not in ";".join(parts):
                parts.append(f"BYDAY={rng.choice(['', '-'])}"
                             f"{rng.randint(1, 53)}{rng.choice(DAYS)}")
            else:
                parts.append("BYDAY=" + some(rng, DAYS, 2))
            day_part = True
    elif freq == "MONTHLY":
        kind = rng.choice(["monthday", "ordday", "plainday", "both", "none"])
        if rng.random() < 0.3:
            parts.append("BYMONTH=" + some(rng, list(range(1, 13)), 4))
        if kind in ("monthday", "both"):
            parts.append("BYMONTHDAY=" + signed(rng, 1, 31, 3))
            day_part = True
        if kind == "ordday":
            parts.append("BYDAY=" + ordinals(rng, 3))
            day_part = True
        if kind in ("plainday", "both"):
            parts.append("BYDAY=" + some(rng, DAYS, 5))
            day_part = True
    elif freq == "WEEKLY":
        if rng.random() < 0.7:
            parts.append("BYDAY=" + some(rng, DAYS, 3))
        if rng.random() < 0.25:
            parts.append("BYMONTH=" + some(rng, list(range(1, 13)), 4))
    elif freq == "DAILY":
        if rng.random() < 0.4:
            parts.append("BYDAY=" + some(rng, DAYS, 4))
        if rng.random() < 0.3:
            parts.append("BYMONTHDAY=" + signed(rng, 1, 31, 3))
        if rng.random() < 0.25:
            parts.append("BYMONTH=" + some(rng, list(range(1, 13)), 4))
    else:
        if rng.random() < 0.2:
            parts.append("BYDAY=" + some(rng, DAYS, 3))
        if rng.random() < 0.1:
            parts.append("BYMONTHDAY=" + signed(rng, 1, 31, 2))
    times(rng, parts, freq)
    if freq in ("YEARLY", "MONTHLY") and day_part and rng.random() < 0.35:
        parts.append("BYSETPOS=" + signed(rng, 1, 4, 2))
    elif freq in ("WEEKLY", "DAILY") and len(parts) > 1 and \
            rng.random() < 0.25:
        parts.append("BYSETPOS=" + signed(rng, 1, 3, 2))
    if rng.random() < 0.3:
        parts.append("WKST=" + rng.choice(DAYS))
    r = rng.random()
    if r < 0.3:
        parts.append(f"COUNT={rng.randint(1, 15)}")
    elif r < 0.5:
        span = {"YEARLY": 3000, "MONTHLY": 900, "WEEKLY": 200,
                "DAILY": 40}.get(freq, 3)
        until = dtstart + timedelta(days=rng.randint(0, span),
                                    seconds=rng.randint(0, 86399))
        form = rng.choice(["date", "floating", "utc"])
        if form == "date":
            parts.append("UNTIL=" + until.strftime("%Y%m%d"))
        elif form == "floating":
            parts.append("UNTIL=" + until.strftime("%Y%m%dT%H%M%S"))
        else:
            parts.append("UNTIL=" + until.strftime("%Y%m%dT%H%M%SZ"))
    head, rest = parts[0], parts[1:]
    rng.shuffle(rest)
    return ";".join([head] + rest)


def rand_repeats(rng):
    """A random Knock repeats array of one to three entries."""
    out = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        e = {"frequency": rng.choice(["daily", "weekly", "monthly",
                                      "hourly"])}
        if rng.random() < 0.5:
            e["interval"] = rng.randint(1, 3)
        if e["frequency"] in ("daily", "weekly") and rng.random() < 0.7:
            e["days"] = rng.sample(KNOCK_DAYS, rng.randint(1, 2))
        if e["frequency"] == "monthly" and rng.random() < 0.7:
            e["day_of_month"] = rng.randint(1, 31)
        if e["frequency"] != "hourly" and rng.random() < 0.8:
            e["hours"] = rng.randint(0, 23)
        if rng.random() < 0.6:
            e["minutes"] = rng.choice([0, 15, 30, 45])
        out.append(e)
    return json.dumps(out, separators=(",", ":"))


def rand_case(rng):
    """One random preview argument list."""
    zname = rng.choice(ZONES)
    zone = ZoneInfo(zname)
    future = rng.random() < 0.2
    dtstart = rand_wall(rng, 2035, 2095) if future else rand_wall(rng, 1995,
                                                                  2032)
    dst = rng.random() < 0.35
    walls = dst_walls(rng, zone, dtstart.year) if dst else []
    if walls and rng.random() < 0.5:
        w = rng.choice(walls)
        dtstart = w - timedelta(days=rng.choice([0, 0, 1, 7, 14]))
    args = ["preview"]
    if rng.random() < 0.15:
        args += ["--repeats", rand_repeats(rng)]
    else:
        rules = [rand_rule(rng, dtstart)]
        if rng.random() < 0.12:
            rules.append(rand_rule(rng, dtstart))
        args += ["--rrule", "\n".join(rules)]
    args += ["--dtstart", wall(dtstart), "--tz", zname]
    args += ["--count", str(rng.choice([3, 5, 8, 10, 12]))]
    if rng.random() < 0.4:
        if future or rng.random() < 0.4:
            base = dtstart + timedelta(days=rng.randint(0, 400))
        else:
            base = dtstart + timedelta(days=rng.randint(0, 60))
        if "FREQ=MINUTELY" in " ".join(args) or "HOURLY" in " ".join(args) \
                or "hourly" in " ".join(args):
            base = dtstart + timedelta(hours=rng.randint(0, 72))
        if "SECONDLY" in " ".join(args):
            base = dtstart + timedelta(minutes=rng.randint(0, 60))
        after = base.replace(tzinfo=zone).astimezone(UTC)
        args += ["--after", after.strftime("%Y-%m-%dT%H:%M:%SZ")]
    if dst or rng.random() < 0.2:
        args += ["--dst-gap", rng.choice(["shift", "next_valid", "skip"])]
        args += ["--dst-overlap", rng.choice(["first", "last"])]
    if walls:
        for opt in ("--exdate", "--rdate"):
            if rng.random() < 0.4:
                picks = rng.sample(walls, min(len(walls), rng.randint(1, 2)))
                args += [opt, ",".join(wall(p) for p in sorted(picks))]
    return args


def reference(args, gen):
    """The reference output lines for args, or None for an unfit case."""
    def alarm(signum, frame):
        raise Timeout()
    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        return gen.preview(gen.parse_args(args))
    except (gen.CaseError, Timeout, ValueError):  # ValueError: dateutil
        # refuses an empty interval x BYHOUR combination lazily
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def generate(seed, n):
    """The corpus: a list of (name, args, expected lines)."""
    sys.path.insert(0, HERE)
    import gen
    rng = random.Random(seed)
    out = []
    zones = set()
    while len(out) < n:
        args = rand_case(rng)
        lines = reference(args, gen)
        if not lines:        # refused, too sparse, or no occurrence
            continue
        if "--rrule" in args and not all(
                reference(["preview", "--rrule", rule, "--dtstart",
                           args[args.index("--dtstart") + 1], "--tz", "UTC",
                           "--count", "1"], gen)
                for rule in args[args.index("--rrule") + 1].split("\n")):
            continue         # belfry refuses a rule that never occurs
        out.append((f"c{len(out):04d}", args[1:], lines))
        zones.add(args[args.index("--tz") + 1])
    if len(zones) < 50:
        raise SystemExit(f"corpus covers only {len(zones)} zones")
    return out


def render(corpus):
    """The text of cases.txt and expected.txt for a corpus."""
    cases = ["# belfryctl preview cases: NAME<TAB>JSON argument list. Written "
             "by tests/golden/corpus.py; do not edit.\n"]
    expected = []
    for name, args, lines in corpus:
        cases.append(f"{name}\t{json.dumps(args)}\n")
        expected.append(f"== {name}\n" + "".join(x + "\n" for x in lines))
    return "".join(cases), "".join(expected)


def read_corpus():
    """The committed corpus: a list of (name, args, expected text)."""
    want = {}
    name = None
    with open(EXPECTED, encoding="utf-8") as f:
        for line in f:
            if line.startswith("== "):
                name = line[3:].strip()
                want[name] = ""
            else:
                want[name] += line
    out = []
    with open(CASES, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, js = line.rstrip("\n").split("\t", 1)
            out.append((name, json.loads(js), want.get(name)))
    return out


def run(binary):
    """Run every committed case with binary; 0 if all agree."""
    passed = failed = 0
    for name, args, want in read_corpus():
        p = subprocess.run([binary, "preview"] + args, capture_output=True,
                           text=True, timeout=20)
        if p.returncode == 0 and p.stdout == want:
            passed += 1
            continue
        failed += 1
        print(f"FAIL corpus {name}: belfryctl preview " +
              " ".join(repr(a) for a in args))
        print(f"     exit {p.returncode}, stderr: {p.stderr.strip()}")
        print("     expected: " + " ".join((want or "(none)").split()))
        print("     got:      " + " ".join(p.stdout.split()))
    print(f"corpus: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    """See the module docstring."""
    seed, n = SEED, NCASES
    if "--run" in argv:
        return run(argv[argv.index("--run") + 1])
    if "--seed" in argv:
        seed = int(argv[argv.index("--seed") + 1])
    if "--cases" in argv:
        n = int(argv[argv.index("--cases") + 1])
    cases, expected = render(generate(seed, n))
    if "--check" in argv:
        with open(CASES, encoding="utf-8") as f1, \
                open(EXPECTED, encoding="utf-8") as f2:
            same = f1.read() == cases and f2.read() == expected
        print("corpus " + ("matches" if same else "DIFFERS from") +
              " the reference")
        return 0 if same else 1
    os.makedirs(DIR, exist_ok=True)
    with open(CASES, "w", encoding="utf-8") as f:
        f.write(cases)
    with open(EXPECTED, "w", encoding="utf-8") as f:
        f.write(expected)
    print(f"corpus: {n} cases written (seed {seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
