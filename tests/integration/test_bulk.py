#!/usr/bin/env python3
"""Crash safety of bulk operations: three bulk identifies of 1000 users
each start on a frozen virtual clock with bulk_rows_per_second 1000, so
that only part of them has run; belfryd is SIGKILLed mid-way and started
again at the same instant; after the clock moves on every operation
completes with exactly its counts (a redone item would count twice) and
every user exists with the properties its item gave.

    tests/integration/test_bulk.py BUILD_DIR

Prints one line per failed check and ends with "bulk: N passed, M failed".
"""

import json
import os
import signal
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402

from belfrytest import Checks, keep_or_remove  # noqa: E402

START = "2026-03-01T00:00:00Z"
OPS = 3
PER_OP = 1000
RATE = 1000

check = Checks()


def config(tmp):
    """test_schedules' config with bulk pacing."""
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    path = os.path.join(conf, "belfry.conf")
    with open(path) as f:
        c = json.load(f)
    c["bulk_rows_per_second"] = RATE
    with open(path, "w") as f:
        json.dump(c, f)
    return conf


def ops_state(d, ids):
    """The BulkOperations of ids, by id."""
    out = {}
    for i in ids:
        st, j = d.req("GET", "/v1/bulk_operations/" + i)
        check("get %s" % i, st == 200, j)
        out[i] = j
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-bulk-")
    conf = config(tmp)
    d = ts.Daemon(tmp, conf, START)
    ok = False
    try:
        ids = []
        for k in range(OPS):
            users = [{"id": "b%d-%04d" % (k, i), "name": "n%d" % i,
                      "batch": k} for i in range(PER_OP)]
            st, j = d.req("POST", "/v1/users/bulk/identify",
                          {"users": users})
            check("identify %d" % k, st == 200 and
                  j.get("status") == "queued" and
                  j.get("estimated_total_rows") == PER_OP, j)
            ids.append(j["id"])
        st, j = d.req("POST", "/v1/users/bulk/identify", {"users": [
            {"id": "x%d" % i} for i in range(1001)]})
        check("1001 users: 422", st == 422, j)
        state = ops_state(d, ids)
        done = sum(o["processed_rows"] for o in state.values())
        check("mid-way before the kill", 0 < done < OPS * PER_OP,
              {i: (o["status"], o["processed_rows"])
               for i, o in state.items()})
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.stop()
        d = ts.Daemon(tmp, conf, START)
        check("restart", d.proc.poll() is None)
        state = ops_state(d, ids)
        after = sum(o["processed_rows"] for o in state.values())
        check("progress kept across the kill", after >= done,
              (done, after))
        st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 10})
        check("advance", st == 200, j)
        for i, o in ops_state(d, ids).items():
            check("op %s completed with exact counts" % i,
                  o["status"] == "completed" and
                  o["processed_rows"] == PER_OP and
                  o["success_count"] == PER_OP and
                  o["error_count"] == 0 and o["error_items"] == [] and
                  o["completed_at"] is not None, o)
        bad = []
        for k in range(OPS):
            for i in range(PER_OP):
                uid = "b%d-%04d" % (k, i)
                st, j = d.req("GET", "/v1/users/" + uid)
                if st != 200 or j.get("name") != "n%d" % i or \
                        j.get("batch") != k:
                    bad.append((uid, st, j))
        check("every user exists with its properties", not bad, bad[:3])
        ok = check.failed == 0
    finally:
        d.stop()
        keep_or_remove(tmp, not ok, [d.log])
    return check.summary("bulk")


if __name__ == "__main__":
    sys.exit(main())
