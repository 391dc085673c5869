#!/usr/bin/env python3
"""Acceptance test: belfry's zone rules against Python's zoneinfo.

    python3 tests/integration/test_zones.py [TZDUMP]

Runs TZDUMP (default build/tools/tzdump; its rules come from
$BELFRY_TZDATA_DIR, default build/icu beside it) and holds every zone the
system lists (every Zone and Link of /usr/share/zoneinfo/tzdata.zi) against
Python's zoneinfo, an independent implementation reading the same TZif
files, from 1970-01-01T00:00:00Z to 2101-01-01T00:00:00Z:

- the rules tz/ loaded are the system's tzdata version;
- the offset at 1970-01-01T00:00:00Z, and the transitions (instant, offset
  before, offset after) exactly, so the offset agrees at every instant.
  Python's transitions are found on its own: utcoffset() sampled every
  STEP seconds, each change bisected to the second (a change and its undoing
  both within STEP would be missed; tzdata's closest are a week apart);
- tz_offset_at() just before and at each transition;
- tz_from_wall() for the wall times around each transition, with PEP 495
  semantics: outside gaps and overlaps every policy gives the one instant;
  in a gap "shift" gives the fold=0 instant (the wall time moved forward by
  the gap), "next_valid" the transition, "skip" nothing; in an overlap
  "first" gives fold=0 and "last" fold=1;
- America/Mexico_City 2026-07-01T09:00:00 is 2026-07-01T15:00:00Z (Mexico
  dropped DST in 2022; ICU's built-in 2022e rules still have it).

tz_zone_foreach() must list exactly the system's zones.  PYTHONTZPATH, which
zoneinfo follows, may point both sides at another build of the same tzdata
(e.g. "zic -b slim" output, with BELFRY_TZDATA_DIR at belfry-tzgen's
resource for it).  Python's side runs in a process per core beside tzdump.

Prints a summary, and on failure the first mismatches; exits 1 on any.
Standard library only.
"""

import bisect
import datetime
import hashlib
import itertools
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import zoneinfo

# The zoneinfo directory; PYTHONTZPATH (which zoneinfo itself follows) may
# point both sides at another build of the same tzdata.
ZONEINFO = os.environ.get("PYTHONTZPATH", "").split(os.pathsep)[0] or \
    "/usr/share/zoneinfo"
START = 0  # 1970-01-01T00:00:00Z
END = 4133980800  # 2101-01-01T00:00:00Z
STEP = 12 * 3600
SHOWN = 25  # mismatches printed
WALLS_SHOWN = 2  # wall time mismatches printed per zone
POLICIES = ("shift/first", "shift/last", "next_valid/first",
            "next_valid/last", "skip/first", "skip/last")
MEXICO = ("America/Mexico_City", "2026-07-01T09:00:00", 1782918000)


def system_zones():
    """The tzdata version and every Zone and Link name, from tzdata.zi."""
    version, names = None, []
    with open(os.path.join(ZONEINFO, "tzdata.zi"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == 0 and line.startswith("# version "):
                version = line[len("# version "):].strip()
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "Z":
                names.append(fields[1])
            elif len(fields) == 3 and fields[0] == "L":
                names.append(fields[2])
    return version, sorted(names)


def secs(delta):
    """A timedelta offset in whole seconds."""
    return delta.days * 86400 + delta.seconds


def py_transitions(name):
    """Python's offset at START and its transitions in (START, END)."""
    tz = zoneinfo.ZoneInfo(name)
    fts = datetime.datetime.fromtimestamp

    def off(t):
        return fts(t, tz).utcoffset()

    samples = list(range(START, END, STEP)) + [END - 1]
    offs = [d.utcoffset() for d in map(fts, samples, itertools.repeat(tz))]
    trans = []
    for i in range(1, len(samples)):
        lo, olo, hi, ohi = samples[i - 1], offs[i - 1], samples[i], offs[i]
        while olo != ohi:
            # off(a) == olo != off(b): narrow to adjacent seconds.
            a, b = lo, hi
            while b - a > 1:
                m = (a + b) // 2
                if off(m) == olo:
                    a = m
                else:
                    b = m
            ob = off(b)
            trans.append((b, secs(olo), secs(ob)))
            lo, olo = b, ob
    return name, secs(offs[0]), trans


def start_tzdump(tzdump, args, env):
    """Start tzdump with its output going to a temporary file."""
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen([tzdump] + args, stdout=out,
                            stderr=subprocess.PIPE, env=env)
    return proc, out


def finish_tzdump(proc, out, problems):
    """Wait for tzdump; its output lines, or None if it failed outright."""
    _, err = proc.communicate()
    out.seek(0)
    lines = out.read().decode("utf-8", "replace").splitlines()
    out.close()
    if err:
        sys.stderr.write(err.decode("utf-8", "replace"))
    if proc.returncode == 2 or not lines or lines[-1] != ".":
        problems.append("tzdump failed (exit status %d%s)" % (
            proc.returncode, "" if lines and lines[-1] == "."
            else ", output incomplete"))
        return None
    if proc.returncode != 0:
        problems.append("tzdump reported errors (exit status %d)"
                        % proc.returncode)
    return lines


def parse_dump(lines, problems):
    """The V fields and, per zone, its Z offset, T and W records."""
    version, zones, cur = None, {}, None
    for line in lines:
        f = line.split()
        if f[0] == "V":
            version = f[1:]
        elif f[0] == "Z":
            cur = zones[f[1]] = {"off": int(f[2]), "T": [], "W": []}
        elif f[0] == "T":
            cur["T"].append(tuple(int(x) for x in f[1:]))
        elif f[0] == "W":
            cur["W"].append((f[1], f[2:]))
        elif f[0] == "E":
            problems.append("%s: tz/ failed: %s" % (f[1], " ".join(f[2:])))
            zones.setdefault(f[1], None)
    return version, zones


def expect_wall(tz, times, wall):
    """The six results PEP 495 gives for wall time wall, as tzdump prints."""
    dt = datetime.datetime(int(wall[0:4]), int(wall[5:7]), int(wall[8:10]),
                           int(wall[11:13]), int(wall[14:16]),
                           int(wall[17:19]), tzinfo=tz)
    u0 = int(dt.timestamp())
    u1 = int(dt.replace(fold=1).timestamp())
    if u0 == u1:
        return [str(u0)] * 6
    if u0 < u1:  # overlap: fold=0 is the earlier instant
        return [str(u0), str(u1)] * 3
    # Gap: fold=0 moves forward by the gap; the transition is in (u1, u0].
    i = bisect.bisect_right(times, u1)
    t = str(times[i]) if i < len(times) and times[i] <= u0 else "?"
    return [str(u0), str(u0), t, t, "-", "-"]


def fmt(t):
    """An instant as RFC 3339 UTC, for messages."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def compare_zone(name, dump, py, problems, counts):
    """Hold tzdump's records of one zone against Python's."""
    init, trans = py
    tz = zoneinfo.ZoneInfo(name)
    if dump["off"] != init:
        problems.append("%s: offset at 1970-01-01T00:00:00Z: tz %d, "
                        "Python %d" % (name, dump["off"], init))
    got = [t[:3] for t in dump["T"]]
    counts["transitions"] += len(trans)
    if got != trans:
        i = next((i for i, (a, b) in enumerate(zip(got, trans)) if a != b),
                 min(len(got), len(trans)))
        g = "%s %+d -> %+d" % (fmt(got[i][0]), got[i][1], got[i][2]) \
            if i < len(got) else "none"
        p = "%s %+d -> %+d" % (fmt(trans[i][0]), trans[i][1], trans[i][2]) \
            if i < len(trans) else "none"
        problems.append("%s: %d transitions from tz, %d from Python; "
                        "first difference #%d: tz %s, Python %s"
                        % (name, len(got), len(trans), i, g, p))
    for when, before, after, at_prev, at in dump["T"]:
        if (at_prev, at) != (before, after):
            problems.append("%s: tz_offset_at around %s: %+d, %+d; "
                            "tz_next_transition said %+d -> %+d"
                            % (name, fmt(when), at_prev, at, before, after))
            break
    times = [t[0] for t in trans]
    wrong = 0
    for wall, results in dump["W"]:
        counts["walls"] += 1
        want = expect_wall(tz, times, wall)
        if results == want:
            continue
        wrong += 1
        if wrong <= WALLS_SHOWN:
            bad = [i for i in range(6) if results[i] != want[i]]
            problems.append("%s: wall %s: %s" % (name, wall, "; ".join(
                "%s tz %s, Python %s" % (POLICIES[i], results[i], want[i])
                for i in bad)))
    if wrong > WALLS_SHOWN:
        problems.append("%s: %d more wall times differ"
                        % (name, wrong - WALLS_SHOWN))


def main():
    t0 = time.monotonic()
    tzdump = sys.argv[1] if len(sys.argv) > 1 else \
        "build/tools/tzdump"
    if not os.access(tzdump, os.X_OK):
        print("test_zones: no tzdump at %s (make %s)" % (tzdump, tzdump))
        return 1
    env = dict(os.environ)
    env.setdefault("BELFRY_TZDATA_DIR", os.path.join(
        os.path.dirname(os.path.abspath(tzdump)), "..", "icu"))
    problems, zone_problems = [], {}
    version, names = system_zones()
    if not zoneinfo.TZPATH or zoneinfo.TZPATH[0] != ZONEINFO:
        problems.append("Python's zoneinfo reads %s, not %s"
                        % (zoneinfo.TZPATH, ZONEINFO))
    if version is None or not names:
        print("test_zones: cannot read %s/tzdata.zi" % ZONEINFO)
        return 1

    # One Python computation per distinct TZif file, beside tzdump.
    files = {}
    for name in names:
        with open(os.path.join(ZONEINFO, name), "rb") as f:
            files.setdefault(hashlib.sha1(f.read()).digest(), []).append(name)
    proc, out = start_tzdump(tzdump, [], env)
    mproc, mout = start_tzdump(tzdump, ["%s@%s" % MEXICO[:2]], env)
    workers = max(1, min(len(os.sched_getaffinity(0)), 4))
    pool = multiprocessing.Pool(workers)
    results = pool.imap_unordered(py_transitions,
                                  [group[0] for group in files.values()], 4)
    groups = {group[0]: group for group in files.values()}

    # tzdump's output is read while the workers compute Python's side.
    lines = finish_tzdump(proc, out, problems)
    mlines = finish_tzdump(mproc, mout, problems)
    counts = {"zones": 0, "transitions": 0, "walls": 0}
    rules, zones = None, {}
    if lines is not None:
        v, zones = parse_dump(lines, problems)
        rules = v[0] if v else None
        if v is None or v[0] != version or v[1] != version:
            problems.append("rules in use %s, system tzdata %s (tz/ says %s)"
                            % (v and v[0], version, v and v[1]))
        missing = sorted(set(names) - set(zones))
        for name in missing:
            problems.append("%s: not listed by tz_zone_foreach" % name)
        for name in sorted(set(zones) - set(names)):
            problems.append("%s: listed by tz_zone_foreach, not by the "
                            "system" % name)
        if missing:
            mp, mo = start_tzdump(tzdump, missing, env)
            more = finish_tzdump(mp, mo, problems)
            if more is not None:
                zones.update(parse_dump(more, problems)[1])
    for rep, init, trans in results:
        for name in groups[rep]:
            if zones.get(name) is not None:
                counts["zones"] += 1
                compare_zone(name, zones[name], (init, trans),
                             zone_problems.setdefault(name, []), counts)
    pool.close()
    pool.join()
    for name in names:
        problems.extend(zone_problems.get(name, []))
    if mlines is not None:
        _, mz = parse_dump(mlines, problems)
        z = mz.get(MEXICO[0])
        want = [str(MEXICO[2])] * 6
        if z is None or len(z["W"]) != 1 or z["W"][0][1] != want:
            problems.append("%s %s: tz %s, want %s (2026-07-01T15:00:00Z) "
                            "under every policy" % (
                                MEXICO[0], MEXICO[1],
                                z and z["W"] and z["W"][0][1], MEXICO[2]))

    print("test_zones: tzdata %s (rules in use %s): %d of %d zones "
          "(%d distinct TZif files), %d transitions and %d wall times "
          "compared with Python's zoneinfo, 1970-2100, in %.1fs"
          % (version, rules, counts["zones"], len(names), len(files),
             counts["transitions"], counts["walls"],
             time.monotonic() - t0))
    if problems:
        print("test_zones: FAILED: %d problems (%d zones); the first %d:"
              % (len(problems), len(zone_problems) - list(
                  zone_problems.values()).count([]),
                 min(SHOWN, len(problems))))
        for p in problems[:SHOWN]:
            print("  " + p)
        return 1
    print("test_zones: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
