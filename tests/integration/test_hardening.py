#!/usr/bin/env python3
"""Hostile input against the real belfryd: each check is the regression
test of one way a request or a file could stop or damage the daemon.

    tests/integration/test_hardening.py BUILD_DIR

- a trigger whose second recipient is bad (it crashed the daemon);
- cancel with a bad recipient (422, as trigger answers);
- a FIFO named *.json in the config dir (check, reload and start refuse
  it at once instead of blocking);
- one validator: start, `belfryctl check` and reload give the same answer
  for a table of bad configs;
- another application's SQLite file, a file that is no database, and a
  damaged belfry database are refused, their bytes untouched;
  database_integrity_check "off" starts on the damaged one;
- a full disk and a read-only file system named as such (in a private
  mount namespace with a small tmpfs);
- a webhook receiver answering 200 with a body over the reply limit gets
  the message once, and it counts as delivered;
- a week's virtual-clock advance over many schedules leaves the API and
  SIGTERM responsive, and its answer still means everything due ran.

Under PostgreSQL (BELFRY_TEST_BACKEND=postgresql) the database-file and
file-system checks skip (they write, damage and mount SQLite files);
instead a PostgreSQL database holding another application's tables is
refused, its tables untouched.

Prints one line per failed check and ends with
"hardening: N passed, M failed".
"""

import hashlib
import http.server
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_daemon as td  # noqa: E402
from belfrytest import (PG, SCALE, keep_or_remove, pg_sql, pg_uri,  # noqa
                        skip)

check = td.check
START = "2026-03-01T12:00:00Z"


def sha(path):
    """The SHA-256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_conf(conf, hook_port=9, extra=None):
    """A small config dir: an in-app workflow, a webhook workflow."""
    os.makedirs(os.path.join(conf, "workflows"), exist_ok=True)
    os.makedirs(os.path.join(conf, "schedules"), exist_ok=True)
    c = {"default_timezone": "UTC",
         "channels": {"in-app": {"type": "in_app_feed"},
                      "hook": {"type": "http", "url":
                               "http://127.0.0.1:%d/h" % hook_port}}}
    c.update(extra or {})
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump(c, f)
    with open(os.path.join(conf, "workflows", "feed.json"), "w") as f:
        json.dump({"key": "feed", "steps": [
            {"ref": "feed", "type": "channel", "channel": "in-app",
             "template": {"markdown": "hello"}}]}, f)
    with open(os.path.join(conf, "workflows", "hook.json"), "w") as f:
        json.dump({"key": "hook", "steps": [
            {"ref": "hook", "type": "channel", "channel": "hook",
             "template": {"body": "{\"r\": \"{{ recipient.id }}\"}"}}]}, f)


def start(tmp, name, conf, args=()):
    """A daemon on the virtual clock; it, once READY=1 (or None)."""
    d = td.Daemon(tmp, name, conf, ["--virtual-clock", START] + list(args))
    ready = d.wait_for("READY=1", 15)
    return d, ready is not None


def drain(d):
    """Read the notify datagrams a daemon has sent (its queue is short)."""
    while d.messages(0.01) is not None:
        pass


def refused_start(tmp, name, conf, db=None, args=()):
    """Start belfryd expecting a refusal: (exit status, log text)."""
    argv = [td.BELFRYD, "-c", conf, "--socket",
            os.path.join(tmp, name + ".sock"), "--database",
            db or os.path.join(tmp, name + ".db"), "--virtual-clock",
            START] + list(args)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None, "still running after 10 s"
    return p.returncode, p.stderr


# ---- recipients ----

def recipients(tmp):
    conf = os.path.join(tmp, "rconf")
    make_conf(conf)
    d, ok = start(tmp, "rcpt", conf)
    check("recipients: daemon starts", ok, d.log_text()[-500:])
    try:
        bad = [["u1", "a/b"], ["u1", 5], ["u1", {"collection": "c"}],
               ["u1", {"id": "u2", "timezone": "Not/AZone"}],
               ["u1", "u3", {"id": "u4", "collection": 7}]]
        for rs in bad:
            r = td.curl(d.sock, "POST", "/v1/workflows/feed/trigger",
                        {"recipients": rs})
            check("trigger %s: 422" % json.dumps(rs), r.status == 422, r)
            alive = td.curl(d.sock, "GET", "/admin/status")
            check("trigger %s: daemon alive" % json.dumps(rs),
                  alive.status == 200 and d.proc.poll() is None,
                  d.log_text()[-800:])
        r = td.curl(d.sock, "POST", "/v1/workflows/feed/trigger",
                    {"recipients": ["u1", "u2"], "cancellation_key": "k"})
        check("good trigger after the bad ones: 200", r.status == 200, r)
        for rs in (["a/b"], ["u1", 5], [{"collection": "c"}],
                   [{"id": "x", "collection": 3}], "u1"):
            r = td.curl(d.sock, "POST", "/v1/workflows/feed/cancel",
                        {"cancellation_key": "k", "recipients": rs})
            t = td.curl(d.sock, "POST", "/v1/workflows/feed/trigger",
                        {"recipients": rs if isinstance(rs, list) else rs})
            check("cancel %s: 422 like trigger (%d)" % (json.dumps(rs),
                                                       t.status),
                  r.status == 422 and t.status == 422, r)
        r = td.curl(d.sock, "POST", "/v1/workflows/feed/cancel",
                    {"cancellation_key": "k", "recipients": [
                        "u1", {"id": "o1", "collection": "c"}]})
        check("cancel with good recipients: 204", r.status == 204, r)
    finally:
        d.stop()


# ---- a FIFO in the config dir ----

def fifo(tmp):
    conf = os.path.join(tmp, "fconf")
    make_conf(conf)
    d, ok = start(tmp, "fifo", conf)
    check("fifo: daemon starts", ok, d.log_text()[-500:])
    try:
        os.mkfifo(os.path.join(conf, "workflows", "evil.json"))
        t0 = time.time()
        try:
            p = subprocess.run([td.BELFRYCTL, "check", "-c", conf],
                               capture_output=True, text=True, timeout=5)
            rc, err = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            rc, err = None, "blocked for 5 s"
        check("fifo: check refuses at once, naming it",
              rc not in (0, None) and "not a regular file" in err and
              time.time() - t0 < 5, (rc, err))
        res = {}

        def reload():
            res["r"] = td.curl(d.sock, "POST", "/admin/reload")
        th = threading.Thread(target=reload, daemon=True)
        th.start()
        th.join(5)
        r = res.get("r")
        check("fifo: reload refuses at once, naming it",
              r is not None and r.status == 422 and
              "not a regular file" in r.body, r)
        s = td.curl(d.sock, "GET", "/admin/status")
        check("fifo: the API answers after it", s.status == 200, s)
        rc, err = refused_start(tmp, "fifo2", conf)
        check("fifo: start refuses it", rc not in (0, None) and
              "not a regular file" in err, (rc, err))
    finally:
        # Let a blocked reader of the old code go.
        try:
            fd = os.open(os.path.join(conf, "workflows", "evil.json"),
                         os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
        d.stop()


# ---- one validator for start, check and reload ----

BAD_CONFS = [
    ("non-loopback listen", {"listen": "10.0.0.1:7640",
                             "api_keys": ["sk_test_0123456789"]},
     None, "loopback"),
    ("non-loopback listen without keys", {"listen": "192.0.2.1:7640"},
     None, "loopback"),
    ("listen port 99999", {"listen": "127.0.0.1:99999",
                           "api_keys": ["sk_test_0123456789"]},
     None, "0..65535"),
    ("http url port 74636", "url:http://127.0.0.1:74636/h", None,
     "1..65535"),
    ("http url without host", "url:http://:80/h", None, "http://HOST"),
    ("schedule with 101 recipients", {},
     [{"id": "s101", "workflow": "feed",
       "recipients": ["u%d" % i for i in range(101)],
       "repeats": [{"frequency": "daily"}]}], "1..100"),
    ("bad database_integrity_check", {"database_integrity_check": "some"},
     None, "quick"),
]


def usage(tmp):
    """--help is a request, not an error; an unknown flag is."""
    p = subprocess.run([td.BELFRYD, "--help"], capture_output=True,
                       text=True, timeout=10)
    check("belfryd --help exits 0 with the usage on stdout",
          p.returncode == 0 and p.stdout.startswith("usage: belfryd"),
          (p.returncode, p.stdout, p.stderr))
    p = subprocess.run([td.BELFRYD, "--no-such-flag"], capture_output=True,
                       text=True, timeout=10)
    check("belfryd with an unknown flag exits 2, usage on stderr",
          p.returncode == 2 and "usage: belfryd" in p.stderr,
          (p.returncode, p.stdout, p.stderr))


def parity(tmp):
    good = os.path.join(tmp, "pgood")
    make_conf(good)
    d, ok = start(tmp, "parity", good)
    check("parity: daemon starts on the good config", ok,
          d.log_text()[-500:])
    try:
        for name, extra, scheds, word in BAD_CONFS:
            conf = os.path.join(tmp, "pbad")
            shutil.rmtree(conf, ignore_errors=True)
            if isinstance(extra, str):
                make_conf(conf)
                with open(os.path.join(conf, "belfry.conf")) as f:
                    c = json.load(f)
                c["channels"]["hook"]["url"] = extra[4:]
                with open(os.path.join(conf, "belfry.conf"), "w") as f:
                    json.dump(c, f)
            else:
                make_conf(conf, extra=extra)
            if scheds is not None:
                with open(os.path.join(conf, "schedules", "s.json"),
                          "w") as f:
                    json.dump(scheds, f)
            p = subprocess.run([td.BELFRYCTL, "check", "-c", conf],
                               capture_output=True, text=True, timeout=10)
            chk = (p.returncode != 0, word in p.stderr)
            rc, err = refused_start(tmp, "pstart", conf)
            st = (rc not in (0, None), word in err)
            # Reload the running daemon on the bad files, then restore.
            shutil.rmtree(good)
            shutil.copytree(conf, good)
            r = td.curl(d.sock, "POST", "/admin/reload")
            drain(d)
            rl = (r.status != 200, word in r.body)
            shutil.rmtree(good)
            make_conf(good)
            check("parity %s: check %s, start %s, reload %s all refuse, "
                  "naming it" % (name, chk, st, rl),
                  chk == st == rl == (True, True),
                  "check: %s | start: %s | reload: %s" % (
                      p.stderr.strip(), err.strip()[-300:], r))
        r = td.curl(d.sock, "POST", "/admin/reload")
        check("parity: the good config reloads", r.status == 200, r)
    finally:
        d.stop()


# ---- foreign, non-database and damaged files ----

def databases(tmp):
    conf = os.path.join(tmp, "dconf")
    make_conf(conf)
    # Another application's database (rollback journal, as most are).
    foreign = os.path.join(tmp, "foreign.db")
    db = sqlite3.connect(foreign)
    db.executescript("PRAGMA application_id = 1234;"
                     "CREATE TABLE users(name TEXT, pw TEXT);"
                     "INSERT INTO users VALUES('ann', 'x');")
    db.commit()
    db.close()
    unmarked = os.path.join(tmp, "unmarked.db")
    db = sqlite3.connect(unmarked)
    db.executescript("CREATE TABLE notes(t TEXT);"
                     "INSERT INTO notes VALUES('keep me');")
    db.commit()
    db.close()
    text = os.path.join(tmp, "text.db")
    with open(text, "w") as f:
        f.write("not a database, but somebody's notes\n" * 200)
    for name, path, word in (("foreign (application_id 1234)", foreign,
                              "another application"),
                             ("foreign (unmarked)", unmarked,
                              "another application"),
                             ("text file", text, "not a usable")):
        before = sha(path)
        rc, err = refused_start(tmp, "dforeign", conf, db=path)
        check("database %s: refused, naming why" % name,
              rc not in (0, None) and word in err, (rc, err[-400:]))
        check("database %s: bytes untouched" % name, sha(path) == before)
        check("database %s: no log left beside it" % name,
              not os.path.exists(path + "-wal") and
              not os.path.exists(path + "-journal"))
    db = sqlite3.connect(foreign)
    n = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    db.close()
    check("foreign database: still one table", n == 1, n)

    # A belfry database, marked, then damaged.
    path = os.path.join(tmp, "belfry.db")
    d, ok = start(tmp, "dgood", conf, ["--database", path])
    check("damaged: a fresh database starts", ok, d.log_text()[-500:])
    for i in range(300):
        td.curl(d.sock, "PUT", "/v1/users/user%03d" % i,
                {"name": "User %d " % i + "x" * 300})
    d.stop()
    db = sqlite3.connect(path)
    app = db.execute("PRAGMA application_id").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    psize = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name ="
                      " 'users'").fetchone()[0]
    db.close()
    check("belfry's database is marked (application_id BLFY)",
          app == 0x424c4659, hex(app))
    # Restarting a marked database works.
    d, ok = start(tmp, "dagain", conf, ["--database", path])
    check("damaged: the marked database restarts", ok, d.log_text()[-500:])
    d.stop()
    # Garbage over the users table's root page (an interior page).
    with open(path, "r+b") as f:
        f.seek((root - 1) * psize)
        f.write(b"\xa5" * psize)
    before = sha(path)
    rc, err = refused_start(tmp, "ddamaged", conf, db=path)
    check("damaged database: refused with a clear message (pages %d)" %
          pages, rc not in (0, None) and "is damaged" in err,
          (rc, err[-400:]))
    check("damaged database: bytes untouched", sha(path) == before)
    off = os.path.join(tmp, "offconf")
    make_conf(off, extra={"database_integrity_check": "off"})
    d, ok = start(tmp, "doff", off, ["--database", path])
    check("damaged database: starts with database_integrity_check off",
          ok, d.log_text()[-500:])
    d.stop()


def pg_foreign(tmp):
    """Another application's PostgreSQL database is refused untouched."""
    conf = os.path.join(tmp, "pconf")
    make_conf(conf)
    name = "t_foreign_%d" % os.getpid()
    pg_sql("postgres", "DROP DATABASE IF EXISTS %s" % name)
    rc, out, err = pg_sql("postgres", "CREATE DATABASE %s" % name)
    if not check("foreign database: created", rc == 0, err):
        return
    try:
        rc, out, err = pg_sql(name, "CREATE TABLE users(name text, pw text);"
                              " INSERT INTO users VALUES ('ann', 'x')")
        check("foreign database: its table written", rc == 0, err)
        rc, err = refused_start(tmp, "pforeign", conf, db=pg_uri(name))
        check("foreign database: refused, naming why",
              rc not in (0, None) and "not belfry's" in err,
              (rc, err[-400:]))
        rc, out, err = pg_sql(name, "SELECT string_agg(tablename, ',') FROM"
                              " pg_tables WHERE schemaname = 'public';"
                              " SELECT name || pw FROM users")
        check("foreign database: still its one table and row",
              rc == 0 and out.split() == ["users", "annx"], (out, err))
    finally:
        pg_sql("postgres", "DROP DATABASE IF EXISTS %s" % name)


# ---- a full disk, a read-only file system ----

def filesystems(tmp):
    probe = subprocess.run(["unshare", "-m", "sh", "-c",
                            "mount -t tmpfs -o size=1m tmpfs %s" % tmp],
                           capture_output=True)
    if probe.returncode != 0:
        print("hardening: no private mounts here (%s); full-disk and "
              "read-only checks not run" % probe.stderr.decode().strip())
        return
    conf = os.path.join(tmp, "fsconf")
    make_conf(conf)
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt)
    # A full disk: triggers with large data until the 2 MiB tmpfs is full.
    script = ("mount -t tmpfs -o size=2m tmpfs %s && exec %s -c %s "
              "--socket %s --database %s/b.db --virtual-clock %s" % (
                  mnt, td.BELFRYD, conf, os.path.join(tmp, "full.sock"),
                  mnt, START))
    log = open(os.path.join(tmp, "full.log"), "wb")
    p = subprocess.Popen(["unshare", "-m", "sh", "-c", script], stdout=log,
                         stderr=log)
    sock = os.path.join(tmp, "full.sock")
    deadline = time.time() + 10
    while not os.path.exists(sock) and time.time() < deadline:
        time.sleep(0.02)
    statuses, refusal = [], None
    big = "y" * 100000
    for i in range(60):
        r = td.curl(sock, "POST", "/v1/workflows/feed/trigger",
                    {"recipients": ["u%d" % i], "data": {"big": big}})
        statuses.append(r.status)
        if r.status == 500:
            refusal = r
            break
    alive = td.curl(sock, "GET", "/admin/status")
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    log.close()
    with open(os.path.join(tmp, "full.log"), errors="replace") as f:
        text = f.read()
    check("full disk: a trigger is refused with 500", 500 in statuses,
          statuses)
    check("full disk: the 500 says \"disk full\"", refusal is not None and
          "disk full" in refusal.body, refusal)
    check("full disk: the daemon stays up", alive.status == 200, alive)
    check("full disk: the log says \"disk full\"", "disk full" in text,
          text[-600:])
    # A read-only file system holding a belfry database.
    db = os.path.join(tmp, "ro.db")
    d, ok = start(tmp, "ro-make", conf, ["--database", db])
    d.stop()
    script = ("mount -t tmpfs -o size=4m tmpfs %s && cp %s %s/b.db && "
              "mount -o remount,ro %s && exec %s -c %s --socket %s "
              "--database %s/b.db --virtual-clock %s" % (
                  mnt, db, mnt, mnt, td.BELFRYD, conf,
                  os.path.join(tmp, "ro.sock"), mnt, START))
    try:
        r = subprocess.run(["unshare", "-m", "sh", "-c", script],
                           capture_output=True, text=True, timeout=10)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, "still running"
    check("read-only file system: start refused, saying \"read-only\"",
          rc not in (0, None) and "read-only" in err, (rc, err[-400:]))


# ---- a 2xx reply with a long body ----

class BigReply(http.server.BaseHTTPRequestHandler):
    """Answers 200 with a body of 3 MiB (over belfry's reply limit)."""
    count = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        BigReply.count += 1
        body = b"x" * (3 * 1024 * 1024)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        pass


def webhook(tmp):
    srv = td.HookServer(("127.0.0.1", 0), BigReply)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    conf = os.path.join(tmp, "wconf")
    make_conf(conf, hook_port=srv.server_address[1])
    d, ok = start(tmp, "hook", conf)
    check("webhook: daemon starts", ok, d.log_text()[-500:])
    try:
        r = td.curl(d.sock, "POST", "/v1/workflows/hook/trigger",
                    {"recipients": ["u1"]})
        check("webhook: trigger", r.status == 200, r)
        # Every retry of a failed delivery would be due within a day.
        for _ in range(6):
            td.curl(d.sock, "POST", "/admin/clock",
                    {"advance_by_seconds": 4 * 3600})
        check("webhook: a 200 with a 3 MiB body is delivered once (%d)" %
              BigReply.count, BigReply.count == 1)
        m = td.curl(d.sock, "GET", "/v1/users/u1/messages")
        st = [e.get("status") for e in td.items(m)]
        check("webhook: the message is delivered", st == ["delivered"],
              m)
    finally:
        d.stop()
        srv.shutdown()


# ---- a long virtual-clock advance ----

def advance(tmp):
    conf = os.path.join(tmp, "aconf")
    make_conf(conf)
    d, ok = start(tmp, "adv", conf)
    check("advance: daemon starts", ok, d.log_text()[-500:])
    nsched = 0
    try:
        for k in range(10):
            r = td.curl(d.sock, "POST", "/v1/schedules", {
                "workflow": "feed",
                "recipients": ["a%d-%d" % (k, i) for i in range(100)],
                "repeats": [{"frequency": "hourly"}]})
            nsched += len(r.json() or []) if r.status == 200 else 0
        check("advance: 1000 hourly schedules", nsched == 1000, nsched)
        # Their first occurrences (now) fire by themselves, in batches of
        # the store's transaction size: let them end before counting.
        deadline = time.time() + 30
        while time.time() < deadline and (td.metric(
                d.sock, "belfry_schedule_fires_total") or 0) < nsched:
            time.sleep(0.05)
        before = td.metric(d.sock, "belfry_schedule_fires_total") or 0
        res = {}

        def week():
            t = time.time()
            # 168,000 fires: minutes on PostgreSQL under a loaded CI.
            res["r"] = td.curl(d.sock, "POST", "/admin/clock",
                               {"advance_by_seconds": 7 * 86400},
                               max_time=400)
            res["t"] = time.time() - t
        th = threading.Thread(target=week, daemon=True)
        th.start()
        worst, polls = 0.0, 0
        while th.is_alive() and polls < 2000:
            t = time.time()
            s = td.curl(d.sock, "GET", "/admin/status")
            worst = max(worst, time.time() - t)
            polls += 1
            if s.status != 200:
                break
            time.sleep(0.05)
        th.join(600)
        r = res.get("r")
        check("advance: a week answers 200", r is not None and
              r.status == 200, r)
        fires = (td.metric(d.sock, "belfry_schedule_fires_total") or 0) - \
            before
        check("advance: its answer means every fire ran (%d)" % fires,
              fires == 1000 * 24 * 7, fires)
        check("advance: /admin/status answered within 0.5 s throughout "
              "(worst %.3f s over %d polls, advance %.1f s)" % (
                  worst, polls, res.get("t", 0)),
              polls >= 3 and worst < 0.5 * SCALE)
        # SIGTERM during another week's advance.
        th = threading.Thread(target=week, daemon=True)
        th.start()
        time.sleep(0.5)
        t = time.time()
        d.proc.send_signal(signal.SIGTERM)
        rc = d.wait_exit(60)
        took = time.time() - t
        th.join(10)
        r = res.get("r")
        check("advance: SIGTERM during an advance exits 0 within 5 s "
              "(%.1f s)" % took, rc == 0 and took < 5, rc)
        check("advance: the interrupted advance is answered "
              "\"unavailable\"", r is not None and r.json() is not None and
              r.json().get("code") == "unavailable", r)
    finally:
        d.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-harden-")
    parts = [usage, recipients, fifo, parity, databases, filesystems,
             webhook, advance]
    if PG:
        skip("foreign, non-database and damaged database files; full disk "
             "and read-only file system", "they write, damage and mount "
             "SQLite files; PostgreSQL keeps its data on the server")
        parts[4:6] = [pg_foreign]
    try:
        for part in parts:
            part(tmp)
    finally:
        pass
    keep_or_remove(tmp, check.failed, [os.path.join(tmp, n) for n in
                                       sorted(os.listdir(tmp))
                                       if n.endswith(".log")])
    return check.summary("hardening")


if __name__ == "__main__":
    sys.exit(main())
