#!/usr/bin/env python3
"""Fire lateness of a real belfryd on the wall clock: N recipient-schedules
(default 100,000) created over the API, due within one minute that starts
about 40 s later (an even spread over its 60 seconds), then the
belfry_fire_lateness_seconds histogram read from /metrics.

    tests/bench/bench_fire_lateness.py BUILD_DIR [N]

Lateness is measured by the daemon at each fire's commit against its due
second, to the nanosecond; the histogram's buckets bound the percentiles.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 100000


class UnixConnection(http.client.HTTPConnection):
    """HTTP over the daemon's Unix socket."""

    def __init__(self, path):
        super().__init__("belfry", timeout=300)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def req(conn, method, path, body=None):
    data = None if body is None else json.dumps(body)
    conn.request(method, path, data,
                 {"Content-Type": "application/json"} if data else {})
    r = conn.getresponse()
    return r.status, r.read().decode()


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-lateness-")
    conf = os.path.join(tmp, "conf")
    os.makedirs(os.path.join(conf, "workflows"))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"channels": {"feed": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(conf, "workflows", "tick.json"), "w") as f:
        json.dump({"key": "tick", "steps": [
            {"ref": "f", "type": "channel", "channel": "feed",
             "template": {"markdown": "tick"}}]}, f)
    sock = os.path.join(tmp, "sock")
    log = open(os.path.join(tmp, "log"), "wb")
    env = dict(os.environ, BELFRY_TZDATA_DIR=os.path.join(BUILD, "icu"))
    env.pop("NOTIFY_SOCKET", None)
    p = subprocess.Popen([os.path.join(BUILD, "belfryd"), "-c", conf,
                          "--socket", sock, "--database",
                          os.path.join(tmp, "db")], stdout=log,
                         stderr=log, env=env)
    try:
        while not os.path.exists(sock):
            time.sleep(0.02)
        conn = UnixConnection(sock)
        first = int(time.time()) + 40
        t0 = time.time()
        calls = (N + 99) // 100
        for c in range(calls):
            due = time.gmtime(first + c % 60)
            rule = "FREQ=DAILY;BYHOUR=%d;BYMINUTE=%d;BYSECOND=%d" % (
                due.tm_hour, due.tm_min, due.tm_sec)
            rs = ["u%d" % (c * 100 + k) for k in range(100)
                  if c * 100 + k < N]
            st, body = req(conn, "POST", "/v1/schedules", {
                "workflow": "tick", "recipients": rs, "rrule": rule})
            if st != 200:
                print("create failed: %s %s" % (st, body[:300]))
                return 1
        made = time.time() - t0
        if time.time() > first:
            print("creation overran the first due second: lower N")
            return 1
        time.sleep(max(0, first + 60 + 5 - time.time()))
        st, text = req(conn, "GET", "/metrics")
        buckets = []
        count = 0
        for line in text.splitlines():
            if line.startswith("belfry_fire_lateness_seconds_bucket"):
                le = line.split('le="')[1].split('"')[0]
                buckets.append((le, int(line.split()[-1])))
            elif line.startswith("belfry_fire_lateness_seconds_count"):
                count = int(line.split()[-1])

        def pct(q):
            for le, n in buckets:
                if n >= q * count:
                    return le
            return "+Inf"
        print("schedules daemon: created %d over the API in %.1f s "
              "(%.0f/s); %d fired in one minute on the wall clock; "
              "lateness p50 <= %s s, p99 <= %s s, max <= %s s" %
              (N, made, N / made, count, pct(0.5), pct(0.99), pct(1.0)))
        print("schedules daemon: fires by lateness bound: " + ", ".join(
            "<= %s s: %d" % (le, n) for le, n in buckets))
        return 0 if count == N else 1
    finally:
        p.terminate()
        p.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
