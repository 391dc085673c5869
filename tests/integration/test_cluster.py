#!/usr/bin/env python3
"""Several belfryd nodes on one PostgreSQL database, on the wall clock.

    tests/integration/test_cluster.py BUILD_DIR

Needs BELFRY_TEST_PG (the base URI of a throwaway cluster, as make test
sets it; with BELFRY_TEST_PG_DIR, the cluster's directory, the server is
also restarted under load).  Without it the suite says so and checks
nothing.

Three nodes share one database.  USERS per-user schedules fire every
PERIOD seconds while one client per node triggers continuously; one node
is SIGKILLed and started again, another is restarted cleanly.  Then:
every occurrence of every schedule up to the end fired exactly once (one
run, one recipient run), and every trigger a node acknowledged kept its
recipient run.  A PostgreSQL restart under load follows: the nodes answer
503 meanwhile, come back by themselves, and lose nothing acknowledged.

Prints one line per failed check and ends with "cluster: N passed, M
failed".
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from belfrytest import Checks, UnixConnection, free_port  # noqa: E402
from belfrytest import keep_or_remove  # noqa: E402
import test_feed_api as tf  # noqa: E402

USERS = int(os.environ.get("CLUSTER_USERS", "2000"))
PERIOD = 10                 # seconds between a schedule's occurrences
RUN_SECONDS = 60            # how long schedules fire and clients trigger
NODES = 3

check = Checks()


def psql(uri, sql):
    """Run sql with psql on uri; its output (tuples only, unaligned)."""
    r = subprocess.run(["psql", "-qtAX", "-v", "ON_ERROR_STOP=1", uri,
                        "-c", sql], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise RuntimeError("psql: %s" % r.stderr.strip())
    return r.stdout.strip()


class Node:
    """One belfryd on its own socket, sharing the database uri."""

    def __init__(self, build, tmp, conf, uri, n, listen=""):
        self.argv = [os.path.join(build, "belfryd"), "-c", conf,
                     "--socket", os.path.join(tmp, "node%d.sock" % n),
                     "--database", uri, "--listen", listen]
        self.sock = self.argv[4]
        self.log = os.path.join(tmp, "node%d.log" % n)
        self.proc = None
        self.start()

    def start(self):
        """Start the node and wait for its socket to answer."""
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, stdout=logf,
                                         stderr=logf, env=env)
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            if self.get("/healthz")[0] == 200:
                return True
            time.sleep(0.05)
        return False

    def kill(self, sig):
        """Send sig and reap the node."""
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)

    def req(self, method, path, body=None, timeout=30):
        """One request on a fresh connection: (status, JSON or None)."""
        c = UnixConnection(self.sock, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body)
            c.request(method, path, data,
                      {"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            text = r.read().decode()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, None
        except (OSError, http.client.HTTPException):
            return 0, None
        finally:
            c.close()

    def get(self, path):
        """GET path."""
        return self.req("GET", path, timeout=5)


def write_config(conf):
    """One workflow into an in-app feed."""
    os.makedirs(os.path.join(conf, "workflows"))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"default_timezone": "UTC", "api_keys": [tf.SK],
                   "public_api_keys": [tf.PK],
                   "channels": {"feed": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(conf, "workflows", "tick.json"), "w") as f:
        json.dump({"key": "tick", "steps": [
            {"ref": "f", "type": "channel", "channel": "feed",
             "template": {"markdown": "tick"}}]}, f)


class Triggers(threading.Thread):
    """A client triggering through one node until stopped; acked holds
    the recipients of the triggers the node answered 200 (t, tag, the
    node, the count: a tag per phase keeps each phase's recipients its
    own)."""

    def __init__(self, nodes, i, tag=""):
        super().__init__(daemon=True)
        self.nodes, self.i, self.tag = nodes, i, tag
        self.acked, self.refused = [], 0
        self.stop = False

    def run(self):
        k = 0
        while not self.stop:
            node = self.nodes[self.i]
            rcpt = "t%s%d-%d" % (self.tag, self.i, k)
            k += 1
            st, j = node.req("POST", "/v1/workflows/tick/trigger",
                             {"recipients": [rcpt], "data": {"k": k}})
            if st == 200 and j and j.get("workflow_run_id"):
                self.acked.append(rcpt)
            else:
                self.refused += 1
                time.sleep(0.02)


def schedules(node, start):
    """USERS users with one schedule each, every PERIOD s from start."""
    rule = "FREQ=MINUTELY;BYSECOND=%s" % ",".join(
        str(s) for s in range(0, 60, PERIOD))
    made = 0
    for base in range(0, USERS, 100):
        users = ["u%05d" % i for i in range(base, min(USERS, base + 100))]
        st, j = node.req("POST", "/v1/schedules", {
            "workflow": "tick", "recipients": users, "rrule": rule,
            "scheduled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                          time.gmtime(start))}, 120)
        if st == 200 and isinstance(j, list):
            made += len(j)
    return made


def wait_healthy(nodes, seconds):
    """Whether every node answers /healthz 200 within seconds."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if all(n.get("/healthz")[0] == 200 for n in nodes):
            return True
        time.sleep(0.2)
    return False


def acked_kept(uri, clients, label):
    """Every acknowledged trigger's recipient has exactly one run."""
    acked = [r for c in clients for r in c.acked]
    rows = psql(uri, "SELECT rcpt, count(*) FROM rruns WHERE rcpt LIKE"
                " 't%' GROUP BY rcpt")
    have = dict(line.split("|") for line in rows.splitlines() if line)
    lost = [r for r in acked if r not in have]
    twice = [r for r, n in have.items() if int(n) != 1]
    check("%s: triggers were acknowledged (%d)" % (label, len(acked)),
          len(acked) > 100, len(acked))
    check("%s: every acknowledged trigger kept its run" % label,
          not lost, lost[:10])
    check("%s: no trigger ran twice" % label, not twice, twice[:10])


def live_feed(nodes, port):
    """A websocket on node 0 hears of a message node 1 made."""
    w = tf.Ws(port, "api_key=%s" % tf.PK)
    m = w.call("feeds:feed:w1", "phx_join", {}, join_ref="1")
    check("a browser joins its feed on node 0", m is not None and
          m[4]["status"] == "ok", m)
    t0 = time.time()
    st, _ = nodes[1].req("POST", "/v1/workflows/tick/trigger",
                         {"recipients": ["w1"]})
    m = w.recv(3.0)
    check("a message node 1 made reaches node 0's websocket within 2 s",
          st == 200 and m is not None and m[3] == "new-message" and
          time.time() - t0 < 2.0, (st, m, time.time() - t0))
    w.close()


def restart_server(pgdir, nodes, uri):
    """Restart PostgreSQL under load: 503 meanwhile, nothing lost."""
    clients = [Triggers(nodes, i, "s") for i in range(NODES)]
    for c in clients:
        c.start()
    time.sleep(3)
    pgctl = "/usr/lib/postgresql/15/bin/pg_ctl"
    down = subprocess.run(["runuser", "-u", "postgres", "--", pgctl, "-D",
                           os.path.join(pgdir, "data"), "-m", "fast", "-w",
                           "stop"], capture_output=True, text=True)
    check("postgresql stopped under load", down.returncode == 0,
          down.stderr)
    time.sleep(1)
    codes = [n.get("/healthz")[0] for n in nodes]
    check("nodes answer 503 while the server is away", codes ==
          [503] * NODES, codes)
    up = subprocess.run(["runuser", "-u", "postgres", "--", pgctl, "-D",
                         os.path.join(pgdir, "data"), "-l",
                         os.path.join(pgdir, "server.log"), "-w", "start"],
                        capture_output=True, text=True)
    check("postgresql started again", up.returncode == 0, up.stderr)
    check("nodes come back by themselves", wait_healthy(nodes, 45))
    time.sleep(3)
    for c in clients:
        c.stop = True
    for c in clients:
        c.join()
    check("triggers succeed after the restart",
          all(c.acked for c in clients))
    acked_kept(uri, clients, "server restart")


def new_database(label, prefix):
    """A new database on the run's cluster (BELFRY_TEST_PG): (base, db,
    uri); None, having said the suite label checks nothing, without one."""
    base = os.environ.get("BELFRY_TEST_PG")
    if not base:
        print("%s: skipped, no PostgreSQL (BELFRY_TEST_PG unset)" % label)
        print("%s: 0 passed, 0 failed" % label)
        return None
    db = "%s_%d" % (prefix, os.getpid())
    psql(base + "/postgres", "CREATE DATABASE " + db)
    return base, db, base + "/" + db


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    got = new_database("cluster", "cluster")
    if got is None:
        return 0
    base, db, uri = got
    tmp = tempfile.mkdtemp(prefix="belfry-cluster-")
    conf = os.path.join(tmp, "conf")
    write_config(conf)
    nodes = []
    try:
        port = free_port()
        for n in range(NODES):
            nodes.append(Node(build, tmp, conf, uri, n,
                              "127.0.0.1:%d" % port if n == 0 else ""))
        check("three nodes start on one database",
              all(n.proc.poll() is None for n in nodes))
        st, j = nodes[0].get("/admin/status")
        check("status names the backend and the node",
              st == 200 and j.get("backend") == "postgresql" and
              j.get("node"), j)
        live_feed(nodes, port)
        start = (int(time.time()) // PERIOD + 2) * PERIOD
        made = schedules(nodes[0], start)
        check("%d schedules made" % USERS, made == USERS, made)
        clients = [Triggers(nodes, i) for i in range(NODES)]
        for c in clients:
            c.start()
        end = start + RUN_SECONDS
        time.sleep(max(0, start + 15 - time.time()))
        nodes[1].kill(signal.SIGKILL)
        time.sleep(5)
        nodes[2].kill(signal.SIGTERM)
        check("a restarted node starts", nodes[2].start())
        time.sleep(5)
        check("a killed node starts again", nodes[1].start())
        time.sleep(max(0, end - time.time()))
        for c in clients:
            c.stop = True
        for c in clients:
            c.join()
        # Every occurrence up to end had time to fire.
        time.sleep(PERIOD)
        expect = (end - start) // PERIOD + 1
        rows = psql(uri, "SELECT count(*), count(DISTINCT (schedule_seq,"
                    " fire_at)), min(n), max(n) FROM (SELECT schedule_seq,"
                    " fire_at, count(*) AS n FROM runs WHERE schedule_seq"
                    " IS NOT NULL AND fire_at BETWEEN %d AND %d GROUP BY"
                    " schedule_seq, fire_at) f" % (start, end))
        total, distinct, lo, hi = (int(x or 0) for x in rows.split("|"))
        check("every occurrence fired (%d schedules x %d)" %
              (USERS, expect), distinct == USERS * expect,
              (distinct, USERS * expect))
        check("no occurrence fired twice", lo == 1 and hi == 1,
              (lo, hi, total))
        per = psql(uri, "SELECT count(*) FROM rruns r JOIN runs u ON"
                   " u.seq = r.id >> 24 WHERE u.schedule_seq IS NOT NULL"
                   " AND u.fire_at BETWEEN %d AND %d" % (start, end))
        check("each fire made its one recipient run",
              int(per) == USERS * expect, (per, USERS * expect))
        late = psql(uri, "SELECT coalesce(max(r.inserted_at - u.fire_at),"
                    " 0) FROM rruns r JOIN runs u ON u.seq = r.id >> 24"
                    " WHERE u.schedule_seq IS NOT NULL AND u.fire_at"
                    " BETWEEN %d AND %d" % (start, end))
        check("fires at most 20 s late through the kill", int(late) <= 20,
              late)
        acked_kept(uri, clients, "node kill and restart")
        pgdir = os.environ.get("BELFRY_TEST_PG_DIR")
        if pgdir:
            restart_server(pgdir, nodes, uri)
    finally:
        for n in nodes:
            if n.proc and n.proc.poll() is None:
                n.kill(signal.SIGTERM)
        try:
            psql(base + "/postgres", "DROP DATABASE IF EXISTS " + db)
        except RuntimeError as e:
            print("drop database: %s" % e)
        keep_or_remove(tmp, check.failed, [n.log for n in nodes])
    return check.summary("cluster")


if __name__ == "__main__":
    sys.exit(main())
