#!/usr/bin/env python3
"""belfry on PostgreSQL beside SQLite belfry and pg-boss, in one run.

    tests/bench/bench_pg.py BUILD_DIR [FIRES]

Starts a throwaway PostgreSQL 15 cluster (tests/pg/cluster), then measures
on it, each the median of 3 runs of BENCH_SECONDS (default 3):
  - pg-boss 12 (npm, tests/bench/pgboss): durable jobs sent per second,
    32 sends in flight (the raw baseline: a job queue on the same server);
  - belfry: API triggers per second, 1 recipient each, 32 connections
    spread over 1, 2 and 3 nodes sharing the database;
  - SQLite belfry: the same triggers, 32 connections, one node;
and then FIRES (default 100,000) per-user schedules created over the API,
due within one minute on the wall clock, fired by 1 node and by 3 nodes:
how many fired within the minute, and their lateness (the nodes'
belfry_fire_lateness_seconds histograms, summed).
"""

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
FIRES = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
SECS = os.environ.get("BENCH_SECONDS", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TRIGGER = '{"recipients":["u%d"],"actor":"bob","data":{"what":"x"}}'


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a node's Unix socket."""

    def __init__(self, path):
        super().__init__("belfry", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def req(sock, method, path, body=None):
    """One request on a fresh connection: (status, text)."""
    c = UnixConnection(sock)
    data = None if body is None else json.dumps(body)
    c.request(method, path, data,
              {"Content-Type": "application/json"} if data else {})
    r = c.getresponse()
    out = r.status, r.read().decode()
    c.close()
    return out


def psql(uri, sql):
    """Run sql on uri; its output."""
    return subprocess.run(["psql", "-qtAX", uri, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


class Nodes:
    """n belfryd nodes on one database (a URI or a file)."""

    def __init__(self, tmp, name, database, n):
        self.socks, self.procs = [], []
        conf = os.path.join(tmp, "conf")
        env = dict(os.environ, BELFRY_TZDATA_DIR=os.path.join(BUILD, "icu"))
        env.pop("NOTIFY_SOCKET", None)
        for i in range(n):
            sock = os.path.join(tmp, "%s-%d.sock" % (name, i))
            log = open(os.path.join(tmp, "%s-%d.log" % (name, i)), "ab")
            self.procs.append(subprocess.Popen(
                [os.path.join(BUILD, "belfryd"), "-c", conf, "--socket",
                 sock, "--database", database, "--listen", ""],
                stdout=log, stderr=log, env=env))
            self.socks.append(sock)
            while not os.path.exists(sock):
                if self.procs[-1].poll() is not None:
                    raise RuntimeError("belfryd exited: see %s" % log.name)
                time.sleep(0.02)

    def stop(self):
        """Stop every node."""
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()


def trigger_rate(nodes, conns):
    """Triggers per second with conns connections spread over the nodes:
    the median of three runs of the nodes' summed rates."""
    rates = []
    for _ in range(3):
        per = [conns // len(nodes.socks) + (i < conns % len(nodes.socks))
               for i in range(len(nodes.socks))]
        ps = [subprocess.Popen(
            [os.path.join(BUILD, "tests/bench/bench_api"), sock, str(c),
             SECS, "POST", "/v1/workflows/bench/trigger", TRIGGER],
            stdout=subprocess.PIPE, text=True)
            for sock, c in zip(nodes.socks, per)]
        rates.append(sum(float(p.communicate()[0].split("rate=")[1])
                         for p in ps))
    return statistics.median(rates)


def pgboss_rate(uri):
    """pg-boss jobs sent per second, 32 in flight, median of three."""
    d = os.path.join(ROOT, "tests/bench/pgboss")
    if not os.path.isdir(os.path.join(d, "node_modules", "pg-boss")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=d,
                       check=True, capture_output=True)
    out = subprocess.run(["node", "send.mjs", uri, SECS, "32"], cwd=d,
                         check=True, capture_output=True, text=True).stdout
    return statistics.median(float(x) for x in out.split())


def fires(nodes, n):
    """n per-user schedules due within one minute: (fired, lateness
    percentiles) summed over the nodes' histograms."""
    first = int(time.time()) + 150
    t0 = time.time()
    for c in range((n + 99) // 100):
        due = time.gmtime(first + c % 60)
        rule = "FREQ=DAILY;BYHOUR=%d;BYMINUTE=%d;BYSECOND=%d" % (
            due.tm_hour, due.tm_min, due.tm_sec)
        rs = ["u%d" % (c * 100 + k) for k in range(100) if c * 100 + k < n]
        st, body = req(nodes.socks[c % len(nodes.socks)], "POST",
                       "/v1/schedules", {"workflow": "tick",
                                         "recipients": rs, "rrule": rule})
        if st != 200:
            raise RuntimeError("create failed: %s %s" % (st, body[:300]))
    made = time.time() - t0
    if time.time() > first:
        return made, 0, "creation overran the first due second"
    time.sleep(max(0, first + 60 + 5 - time.time()))
    buckets, count = {}, 0
    for sock in nodes.socks:
        for line in req(sock, "GET", "/metrics")[1].splitlines():
            if line.startswith("belfry_fire_lateness_seconds_bucket"):
                le = line.split('le="')[1].split('"')[0]
                buckets[le] = buckets.get(le, 0) + int(line.split()[-1])
            elif line.startswith("belfry_fire_lateness_seconds_count"):
                count += int(line.split()[-1])
    order = sorted(buckets, key=lambda b: float("inf") if b == "+Inf"
                   else float(b))

    def pct(q):
        for le in order:
            if buckets[le] >= q * count:
                return le
        return "+Inf"
    return made, count, "p50 <= %s s, p99 <= %s s, max <= %s s" % (
        pct(0.5), pct(0.99), pct(1.0))


def write_config(conf):
    """The workflows the benchmark triggers and fires."""
    os.makedirs(os.path.join(conf, "workflows"))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"channels": {"in-app": {"type": "in_app_feed"}}}, f)
    for key, text in (("bench", "{{ actor.name }} did {{ data.what }}"),
                      ("tick", "tick")):
        with open(os.path.join(conf, "workflows", key + ".json"), "w") as f:
            json.dump({"key": key, "steps": [
                {"ref": "feed", "type": "channel", "channel": "in-app",
                 "template": {"markdown": text}}]}, f)


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-bench-pg-")
    # The cluster's own directory: the postgres user must reach it.
    pgdir = tempfile.mkdtemp(prefix="belfry-bench-pgdata-")
    write_config(os.path.join(tmp, "conf"))
    port = 56000 + os.getpid() % 1000
    base = subprocess.run([os.path.join(ROOT, "tests/pg/cluster"), "start",
                           pgdir, str(port)], check=True,
                          capture_output=True, text=True).stdout.strip()
    try:
        psql(base + "/postgres", "CREATE DATABASE boss")
        boss = pgboss_rate(base + "/boss")
        print("pg: pg-boss durable jobs/s (32 in flight): %.0f" % boss)
        sq = Nodes(tmp, "sqlite", os.path.join(tmp, "sqlite.db"), 1)
        sqlite = trigger_rate(sq, 32)
        sq.stop()
        print("pg: SQLite belfry triggers/s (32 connections): %.0f" %
              sqlite)
        for n in (1, 2, 3):
            db = "triggers%d" % n
            psql(base + "/postgres", "CREATE DATABASE " + db)
            nodes = Nodes(tmp, db, base + "/" + db, n)
            r = trigger_rate(nodes, 32)
            nodes.stop()
            print("pg: belfry on PostgreSQL, %d node%s: triggers/s %.0f "
                  "(%.2fx pg-boss, %.2fx SQLite belfry)" %
                  (n, "s" if n > 1 else "", r, r / boss, r / sqlite))
        for n in (1, 3):
            db = "fires%d" % n
            psql(base + "/postgres", "CREATE DATABASE " + db)
            nodes = Nodes(tmp, db, base + "/" + db, n)
            made, count, late = fires(nodes, FIRES)
            nodes.stop()
            print("pg: %d per-user schedules created in %.1f s (%.0f/s); "
                  "%d node%s fired %d of them in their minute; lateness %s"
                  % (FIRES, made, FIRES / made, n, "s" if n > 1 else "",
                     count, late))
    finally:
        subprocess.run([os.path.join(ROOT, "tests/pg/cluster"), "stop",
                        pgdir])
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
