#!/usr/bin/env python3
"""Crash safety of schedule fires: SIGKILL belfryd at random moments while
schedules fire (a 1000-subscriber object fan-out every hour and 50 users
every 15 minutes), restart it, and check that every due occurrence produced
exactly one run per recipient: none lost, none twice.

    tests/integration/test_schedules_crash.py BUILD_DIR [ROUNDS]

The daemon runs on a virtual clock, which is not persisted: after a kill it
restarts at the last instant an advance completed, and the interrupted
advance is issued again.  The store then holds, for every schedule, either
the fire and its advanced next_fire_at, or neither.

Prints one line per failed check and ends with "crash: N passed, M failed".
"""

import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402

from belfrytest import Checks, keep_or_remove  # noqa: E402

START = "2026-06-01T00:00:00Z"
SUBSCRIBERS = 1000
USERS = 50

check = Checks()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse(s):
    return int(time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) -
               time.timezone)


def all_runs(d):
    """Every schedule-made run: {recipient: [scheduled_at, ...]}."""
    out = {}
    after = None
    while True:
        path = "/v1/workflow_recipient_runs?page_size=50"
        if after:
            path += "&after=" + after
        st, j = d.req("GET", path)
        if st != 200:
            raise RuntimeError("runs: %s %s" % (st, j))
        for it in j["items"]:
            src = it["trigger_source"]
            if src.get("type") == "schedule":
                r = it["recipient"]
                key = r if isinstance(r, str) else "%s/%s" % (
                    r["collection"], r["id"])
                out.setdefault(key, []).append(src["scheduled_at"])
        after = j["page_info"].get("after")
        if not after:
            return out


def main():
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    rng = random.Random(int(os.environ.get("CRASH_SEED", "5")))
    tmp = tempfile.mkdtemp(prefix="belfry-crash-")
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    d = ts.Daemon(tmp, conf, START)
    ok = False
    kills = 0
    try:
        st, _ = d.req("PUT", "/v1/objects/crew/c", {"name": "crew"})
        check("object", st == 200)
        for i in range(0, SUBSCRIBERS, 100):
            st, _ = d.req("POST", "/v1/objects/crew/c/subscriptions", {
                "recipients": ["m%04d" % k for k in range(i, i + 100)]})
            check("subscribe %d" % i, st == 200)
        st, j = d.req("POST", "/v1/schedules", {
            "workflow": "tick", "recipients": [
                {"id": "c", "collection": "crew"}],
            "per_subscriber": True,
            "rrule": "FREQ=HOURLY;BYMINUTE=0;BYSECOND=0"})
        check("object schedule", st == 200, j)
        st, j = d.req("POST", "/v1/schedules", {
            "workflow": "tick", "recipients": ["p%02d" % k for k in
                                               range(USERS)],
            "rrule": "FREQ=MINUTELY;INTERVAL=15;BYSECOND=0"})
        check("user schedules", st == 200, j)
        now = parse(START)
        end = now + rounds * 3600
        while now < end:
            target = now + 3600
            box = {}

            def advance():
                try:
                    box["r"] = d.req("POST", "/admin/clock",
                                     {"advance_to": iso(target)})
                except Exception as exc:  # the kill cuts it off
                    box["r"] = exc
            th = threading.Thread(target=advance)
            th.start()
            if rng.random() < 0.8:
                time.sleep(rng.uniform(0, 0.25))
                d.proc.send_signal(signal.SIGKILL)
                d.proc.wait()
                kills += 1
                th.join()
                d.stop()
                d = ts.Daemon(tmp, conf, iso(now))
                if not check("restart after kill %d" % kills,
                             d.proc.poll() is None):
                    break
                continue  # the same advance again
            th.join()
            r = box.get("r")
            if not check("advance to %s" % iso(target),
                         isinstance(r, tuple) and r[0] == 200, r):
                break
            now = target
        print("(%d kills in %d rounds)" % (kills, rounds))
        runs = all_runs(d)
        for k in range(SUBSCRIBERS):
            want = [iso(parse(START) + h * 3600)
                    for h in range(0, rounds + 1)]
            got = sorted(runs.get("m%04d" % k, []))
            if not check("member m%04d: one run per hour" % k, got == want,
                         (got[:4], want[:4], len(got), len(want))):
                break
        for k in range(USERS):
            want = [iso(parse(START) + q * 900)
                    for q in range(0, rounds * 4 + 1)]
            got = sorted(runs.get("p%02d" % k, []))
            if not check("user p%02d: one run per 15 min" % k, got == want,
                         (len(got), len(want))):
                break
        check("no other runs", set(runs) <= {"m%04d" % k for k in
                                             range(SUBSCRIBERS)} |
              {"p%02d" % k for k in range(USERS)}, list(runs)[:5])
        ok = check.failed == 0
    finally:
        d.stop()
        keep_or_remove(tmp, not ok, [d.log])
    return check.summary("crash")


if __name__ == "__main__":
    sys.exit(main())
