#!/usr/bin/env python3
"""Benchmark of bulk operations: a real belfryd on the wall clock
identifies BENCH_BULK_USERS (100,000) users through POST
/v1/users/bulk/identify, 1000 users a call (Knock's limit), timed from
the first call until GET /v1/bulk_operations/{id} reports every operation
completed; beside it the trigger baseline measured in the same run (1
recipient, 8 connections, bench_api over the Unix socket).

    tests/bench/bench_bulk.py BUILD_DIR
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))
from belfrytest import UnixConnection  # noqa: E402

B = sys.argv[1] if len(sys.argv) > 1 else "build"
USERS = int(os.environ.get("BENCH_BULK_USERS", "100000"))
PER_CALL = 1000


def req(conn, method, path, body=None):
    """One request; (status, parsed JSON)."""
    data = None if body is None else json.dumps(body)
    conn.request(method, path, data,
                 {"Content-Type": "application/json"} if data else {})
    r = conn.getresponse()
    return r.status, json.loads(r.read().decode() or "null")


def baseline(sock):
    """1-recipient triggers per second at 8 connections for 3 s."""
    out = subprocess.run(
        [os.path.join(B, "tests/bench/bench_api"), sock, "8", "3", "POST",
         "/v1/workflows/bench/trigger",
         '{"recipients":["t%d"],"data":{"what":"x"}}'],
        capture_output=True, text=True, check=True).stdout
    return float(out.split("rate=")[1])


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-bench-bulk-")
    os.makedirs(os.path.join(tmp, "conf", "workflows"))
    with open(os.path.join(tmp, "conf", "belfry.conf"), "w") as f:
        json.dump({"channels": {"in-app": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(tmp, "conf", "workflows", "bench.json"), "w") as f:
        json.dump({"key": "bench", "steps": [
            {"ref": "feed", "type": "channel", "channel": "in-app",
             "template": {"markdown": "{{ data.what }}"}}]}, f)
    sock = os.path.join(tmp, "sock")
    log = open(os.path.join(tmp, "log"), "w")
    d = subprocess.Popen([os.path.join(B, "belfryd"), "-c",
                          os.path.join(tmp, "conf"), "--socket", sock,
                          "--database", os.path.join(tmp, "db")],
                         stdout=log, stderr=log)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        base = baseline(sock)
        conn = UnixConnection(sock)
        ids = []
        t0 = time.monotonic()
        for c in range(0, USERS, PER_CALL):
            st, j = req(conn, "POST", "/v1/users/bulk/identify", {
                "users": [{"id": "bulk-%06d" % i, "name": "User %d" % i,
                           "email": "u%d@example.com" % i}
                          for i in range(c, min(c + PER_CALL, USERS))]})
            if st != 200:
                print("bench_bulk: identify answered %d %s" % (st, j))
                return 1
            ids.append(j["id"])
        t_calls = time.monotonic() - t0
        rows = 0
        for i in ids:
            while True:
                st, j = req(conn, "GET", "/v1/bulk_operations/" + i)
                if j["status"] == "completed":
                    rows += j["success_count"]
                    break
                time.sleep(0.01)
        t_done = time.monotonic() - t0
        if rows != USERS:
            print("bench_bulk: %d of %d users identified" % (rows, USERS))
            return 1
        print("bulk identify (%d users, %d calls of %d, this machine: %d "
              "cores)" % (USERS, len(ids), PER_CALL, os.cpu_count()))
        print("  calls answered in %.2f s; all completed in %.2f s: "
              "%.0f users/s" % (t_calls, t_done, USERS / t_done))
        print("  baseline: triggers, 1 recipient, 8 conns: %.0f/s "
              "(%.1fx a trigger's rate per user)" % (
                  base, USERS / t_done / base))
        return 0
    finally:
        d.terminate()
        d.wait()
        log.close()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
