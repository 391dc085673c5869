#!/usr/bin/env python3
"""A group transaction on PostgreSQL in which one request fails in the
database: the others keep their work and their answers.

    tests/integration/test_pg_rerun.py BUILD_DIR

Needs BELFRY_TEST_PG (the base URI of a throwaway cluster, as make test
sets it); without it the suite says so and checks nothing.

belfryd runs its group transactions optimistically on PostgreSQL (no
savepoint and no wait at a request's end), so a statement that fails is
learnt only at the commit, which then fails as a whole; the daemon runs
the same requests again, each in its savepoint, so only the failing one
is lost.  Here a trigger of the database refuses one user's insert; the
daemon is stopped (SIGSTOP) while three requests are sent, so that one
transaction holds them all, and continued.

Prints one line per failed check and ends with "pg rerun: N passed, M
failed".
"""

import json
import os
import signal
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from belfrytest import Checks, UnixConnection, keep_or_remove  # noqa: E402
from test_cluster import Node, new_database, psql, write_config  # noqa: E402

check = Checks()


def metric(node, name):
    """The value of metric name on node's /metrics, or None."""
    conn = UnixConnection(node.sock, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def together(node, calls):
    """Make the calls (method, path, body) while node is stopped, so that
    they arrive in one loop pass: their (status, JSON).  Each is sent
    whole before the node continues (a Unix socket's connection and
    request wait in the kernel), then the answers are read."""
    conns = []
    node.proc.send_signal(signal.SIGSTOP)
    try:
        for method, path, body in calls:
            c = UnixConnection(node.sock, timeout=60)
            c.request(method, path, json.dumps(body),
                      {"Content-Type": "application/json"})
            conns.append(c)
    finally:
        node.proc.send_signal(signal.SIGCONT)
    out = []
    for c in conns:
        r = c.getresponse()
        out.append((r.status, json.loads(r.read().decode() or "null")))
        c.close()
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    got = new_database("pg rerun", "rerun")
    if got is None:
        return 0
    base, db, uri = got
    tmp = tempfile.mkdtemp(prefix="belfry-pg-rerun-")
    conf = os.path.join(tmp, "conf")
    write_config(conf)
    node = Node(build, tmp, conf, uri, 0)
    try:
        check("belfryd starts on PostgreSQL", node.proc.poll() is None)
        psql(uri, "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE"
             " plpgsql AS $$BEGIN IF NEW.id = 'bad' THEN RAISE EXCEPTION"
             " 'refused by the test'; END IF; RETURN NEW; END$$;"
             " CREATE TRIGGER refuse_bad BEFORE INSERT ON users FOR EACH"
             " ROW EXECUTE FUNCTION refuse_bad()")
        before = metric(node, "belfry_postgresql_transactions_rerun")
        check("the rerun counter is exported", before == 0, before)
        commits = metric(node, "belfry_commits_total")
        got = together(node, [
            ("PUT", "/v1/users/good1", {"name": "One"}),
            ("PUT", "/v1/users/bad", {"name": "Bad"}),
            ("PUT", "/v1/users/good2", {"name": "Two"})])
        check("the requests before and after the failing one succeed",
              got[0][0] == 200 and got[2][0] == 200, got)
        check("the failing one gets a 500", got[1][0] == 500, got)
        rows = psql(uri, "SELECT string_agg(id, ',' ORDER BY id) FROM"
                    " users")
        check("their users are stored, the refused one is not",
              rows == "good1,good2", rows)
        after = metric(node, "belfry_postgresql_transactions_rerun")
        check("the transaction ran again once", after == 1, after)
        n = metric(node, "belfry_commits_total") - commits
        check("the three shared one transaction", n == 1, n)
        # Triggers in one transaction with a failing one: the same.
        got = together(node, [
            ("POST", "/v1/workflows/tick/trigger",
             {"recipients": ["good1"]}),
            ("POST", "/v1/workflows/tick/trigger",
             {"recipients": [{"id": "bad", "name": "Bad"}]}),
            ("POST", "/v1/workflows/tick/trigger",
             {"recipients": ["good2"]})])
        check("triggers beside a failing one are answered",
              got[0][0] == 200 and got[2][0] == 200 and got[1][0] == 500,
              got)
        runs = psql(uri, "SELECT string_agg(rcpt, ',' ORDER BY rcpt) FROM"
                    " rruns")
        check("their recipient runs are kept, the failing one's not",
              runs == "good1,good2", runs)
        check("a second rerun",
              metric(node, "belfry_postgresql_transactions_rerun") == 2)
        # Without failures, nothing runs again.
        got = together(node, [("PUT", "/v1/users/u%d" % i, {"name": "U"})
                              for i in range(8)])
        check("eight good requests in one transaction",
              all(g[0] == 200 for g in got), got)
        check("no rerun without a failure",
              metric(node, "belfry_postgresql_transactions_rerun") == 2)
    finally:
        node.kill(signal.SIGTERM)
        failed = check.failed > 0
        keep_or_remove(tmp, failed, [node.log])
        try:
            psql(base + "/postgres", "DROP DATABASE " + db)
        except RuntimeError:
            pass
    return check.summary("pg rerun")


if __name__ == "__main__":
    sys.exit(main())
