#!/usr/bin/env python3
"""Integration tests of hot backups, restores and the copy before upgrades.

    tests/integration/test_backup.py BUILD_DIR

- `belfryctl backup FILE` while a client triggers continuously: the reply
  comes once the copy is complete (in several steps), triggers are
  answered meanwhile, the copy opens on its own (no -wal beside it),
  passes PRAGMA integrity_check and carries the database's id key.
- The restore procedure of docs/operations.md, as written: stop belfryd,
  put the copy in place of the database, start belfryd: it serves the same
  users, and every run and message acknowledged before the backup began,
  with the same ids.
- POST /admin/backup refuses a relative path, the database itself and a
  directory that does not exist (422 naming the problem).
- Upgrades: a database at schema version 10 (tests/integration/fixtures/
  schema-v10.sql, dumped from that belfry) gets a complete copy beside it,
  belfry.db.v10.bak, before its migration, and the log says where; the
  upgraded database serves the old user, run and message ids.

Under PostgreSQL (BELFRY_TEST_BACKEND=postgresql) these copy and open
SQLite files and skip; instead `belfryctl backup FILE` is refused naming
the server's own tools (pg_dump), leaving no file, and the daemon serves
on.

Prints failed checks and ends with "backup: N passed, M failed".
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import PG, Checks, UnixConnection, run_parts, skip  # noqa

HERE = os.path.dirname(os.path.abspath(__file__))
check = Checks()


def trigger(conn, uid, n):
    """Trigger tick for uid on conn: the run id, or None."""
    conn.request("POST", "/v1/workflows/tick/trigger", json.dumps(
        {"recipients": [uid], "data": {"n": n}}),
        {"Content-Type": "application/json"})
    r = conn.getresponse()
    body = json.loads(r.read().decode())
    return body.get("workflow_run_id") if r.status == 200 else None


class Triggerer(threading.Thread):
    """A client triggering as fast as it is answered until stopped."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.stop = threading.Event()
        self.runs = []          # (run id, when: "before"/"during"/"after")
        self.phase = "before"
        self.failed = 0

    def run(self):
        conn = UnixConnection(self.sock)
        n = 0
        while not self.stop.is_set():
            phase = self.phase
            rid = trigger(conn, "t%d" % (n % 20), n)
            if rid is None:
                self.failed += 1
            else:
                self.runs.append((rid, phase))
            n += 1
        conn.close()


def messages_of(d, uid):
    """uid's messages: {message id: run id}."""
    out, after = {}, None
    while True:
        path = "/v1/users/%s/messages?page_size=50" % uid
        if after:
            path += "&after=" + after
        st, j = d.req("GET", path)
        if st != 200:
            return out
        for m in j["items"]:
            out[m["id"]] = m["source"]["workflow_run_id"]
        after = j["page_info"]["after"]
        if not after:
            return out


def hot_backup(tmp):
    """Backup under load, then restore by the documented procedure."""
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    d = ts.Daemon(tmp, conf, "2026-01-01T00:00:00Z")
    d2 = None
    try:
        check("daemon up", d.proc.poll() is None)
        # Enough data for several 256-page steps (about 5 MB of users).
        for i in range(600):
            st, _ = d.req("PUT", "/v1/users/u%d" % i,
                          {"name": "User %d" % i, "bio": "x" * 8000})
        check("users written", st == 200)
        t = Triggerer(d.sock)
        t.start()
        while len(t.runs) < 50:
            pass
        t.phase = "during"
        before = [r for r, p in t.runs if p == "before"]
        bak = os.path.join(tmp, "copy", "belfry-backup.db")
        os.makedirs(os.path.dirname(bak))
        rc, out, err = ts.ctl(d.sock, "backup", bak)
        t.phase = "after"
        n_after = len(t.runs)
        while len(t.runs) < n_after + 20:
            pass
        t.stop.set()
        t.join()
        try:
            reply = json.loads(out)
        except ValueError:
            reply = {}
        check("belfryctl backup answers when complete", rc == 0 and
              reply.get("path") == bak and reply.get("bytes", 0) > 4000000
              and os.path.getsize(bak) == reply["bytes"], (rc, out, err))
        check("the copy took several steps", reply.get("steps", 0) > 2,
              reply)
        during = [r for r, p in t.runs if p == "during"]
        check("triggers were served during the backup", len(during) > 0
              and t.failed == 0, (len(during), t.failed))
        check("no temporary file is left", not os.path.exists(bak + ".tmp"))
        check("the copy stands alone (no log beside it)",
              not os.path.exists(bak + "-wal"))
        c = sqlite3.connect(bak)
        check("the copy passes integrity_check",
              c.execute("PRAGMA integrity_check").fetchall() == [("ok",)])
        ckey = c.execute("SELECT v FROM meta WHERE k = 'idkey'").fetchone()
        nusers = c.execute("SELECT count(*) FROM users").fetchone()[0]
        c.close()
        check("the copy has every user", nusers >= 600, nusers)
        st, j = d.req("POST", "/admin/backup", {"path": "relative.db"})
        check("a relative path is refused", st == 422 and
              "absolute" in j.get("message", ""), (st, j))
        st, j = d.req("POST", "/admin/backup",
                      {"path": os.path.join(tmp, "belfry.db")})
        check("the database itself is refused", st == 422 and
              "database itself" in j.get("message", ""), (st, j))
        st, j = d.req("POST", "/admin/backup",
                      {"path": os.path.join(tmp, "nodir", "x.db")})
        check("a missing directory is refused", st == 422 and
              "nodir" in j.get("message", ""), (st, j))
        want = {}
        for i in range(20):
            want.update(messages_of(d, "t%d" % i))
        d.stop()

        # The restore procedure (docs/operations.md, "Restore").
        db = os.path.join(tmp, "belfry.db")
        c = sqlite3.connect(db)
        okey = c.execute("SELECT v FROM meta WHERE k = 'idkey'").fetchone()
        c.close()
        check("the copy carries the id key", ckey == okey and ckey)
        for f in (db, db + "-wal", db + "-shm"):
            if os.path.exists(f):
                os.rename(f, f + ".old")
        shutil.copy(bak, db)
        os.chmod(db, 0o600)
        d2 = ts.Daemon(tmp, conf, "2026-01-01T00:00:00Z")
        check("belfryd starts on the copy", d2.proc.poll() is None)
        st, j = d2.req("GET", "/v1/users/u599")
        check("the restored daemon serves the same users", st == 200 and
              j.get("name") == "User 599", (st, j))
        got = {}
        for i in range(20):
            got.update(messages_of(d2, "t%d" % i))
        runs = set(got.values())
        check("every run acknowledged before the backup is restored",
              all(r in runs for r in before), len(before))
        same = [m for m in got if want.get(m) == got[m]]
        check("restored messages keep their ids and runs",
              len(same) == len(got) and len(got) >= len(before), (
                  len(same), len(got)))
        rid = trigger(UnixConnection(d2.sock), "t0", -1)
        check("the restored daemon takes triggers", rid is not None and
              rid not in runs)
    finally:
        d.stop()
        if d2 is not None:
            d2.stop()


def upgrade(tmp):
    """A schema-10 database gets its copy before the migration."""
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    db = os.path.join(tmp, "belfry.db")
    with open(os.path.join(HERE, "fixtures", "schema-v10.sql")) as f:
        sql = f.read()
    c = sqlite3.connect(db)
    c.executescript(sql)
    c.execute("PRAGMA journal_mode=WAL")
    c.close()
    d = ts.Daemon(tmp, conf, "2026-01-02T00:00:00Z")
    bak = db + ".v10.bak"
    try:
        check("belfryd starts on the old database", d.proc.poll() is None)
        check("the copy before the migration is written",
              os.path.exists(bak))
        with open(d.log) as f:
            log = f.read()
        check("the log says where the copy is", bak in log and
              "schema version 10" in log, log[-2000:])
        st, j = d.req("GET", "/v1/users/old1/messages")
        check("the upgraded database serves the old ids", st == 200 and
              j["items"] and j["items"][0]["id"] ==
              "4da9e162-6ab6-4d49-bf9e-999441a09698" and
              j["items"][0]["source"]["workflow_run_id"] ==
              "138562a7-c239-4acf-868c-9b703cd3b6f4", j)
    finally:
        d.stop()
    c = sqlite3.connect(bak)
    check("the copy is whole and at version 10",
          c.execute("PRAGMA integrity_check").fetchall() == [("ok",)] and
          c.execute("SELECT v FROM meta WHERE k = 'version'").fetchone() ==
          ("10",) and c.execute("SELECT count(*) FROM messages").fetchone()
          == (1,))
    c.close()
    os.unlink(bak)
    d = ts.Daemon(tmp, conf, "2026-01-03T00:00:00Z")
    try:
        check("a current database is not copied again",
              d.proc.poll() is None and not os.path.exists(bak))
    finally:
        d.stop()


def pg_backup(tmp):
    """A PostgreSQL store is not copied by belfryctl backup."""
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    d = ts.Daemon(tmp, conf, "2026-01-01T00:00:00Z")
    try:
        check("daemon up", d.proc.poll() is None)
        st, _ = d.req("PUT", "/v1/users/u1", {"name": "User 1"})
        check("a user written", st == 200, st)
        bak = os.path.join(tmp, "belfry-backup.db")
        rc, out, err = ts.ctl(d.sock, "backup", bak)
        check("belfryctl backup is refused, naming pg_dump",
              rc != 0 and "pg_dump" in err, (rc, out, err))
        check("no file is written", not os.path.exists(bak) and
              not os.path.exists(bak + ".tmp"))
        st, j = d.req("POST", "/admin/backup", {"path": "relative.db"})
        check("a relative path is refused", st == 422 and
              "absolute" in j.get("message", ""), (st, j))
        st, j = d.req("GET", "/v1/users/u1")
        check("the daemon serves on", st == 200 and
              j.get("name") == "User 1", (st, j))
    finally:
        d.stop()


def main():
    if PG:
        skip("hot backup and restore, upgrade copy", "they copy and open "
             "SQLite files; a PostgreSQL store is backed up with the "
             "server's tools")
        return run_parts(check, "backup", (("pg", pg_backup),))
    return run_parts(check, "backup", (("hot", hot_backup), ("upgrade", upgrade)))


if __name__ == "__main__":
    sys.exit(main())
