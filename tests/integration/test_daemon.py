#!/usr/bin/env python3
"""Integration tests of belfryd: the real daemon on a temporary socket,
database and config directory, driven with curl --unix-socket and belfryctl.

    tests/integration/test_daemon.py BUILD_DIR

Nothing here sleeps to wait for time-dependent behaviour: the daemon runs on
a virtual clock moved by POST /admin/clock, readiness comes from the
NOTIFY_SOCKET protocol (a datagram socket bound by the test), and webhook
deliveries are awaited through POST /admin/clock, which answers only once
the deliveries due up to its target have been answered.  The only polls are
for processes to start or exit.

Under PostgreSQL (BELFRY_TEST_BACKEND=postgresql) the checks of SQLite's
log (its checkpoints), of its one-process lock (a second daemon on the
database in use is refused: PostgreSQL's nodes share theirs) and of a
commit whose fsync fails in the daemon (with the feed heads it was
writing behind) skip.

Prints one line per failed check and ends with "daemon: N passed, M failed".
The daemon's log is printed (and its directory kept) only on failure.
"""

import http.server
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

from belfrytest import PG, Checks, free_port, keep_or_remove, skip  # noqa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
BELFRYD = os.path.join(BUILD, "belfryd")
BELFRYCTL = os.path.join(BUILD, "belfryctl")
START = "2026-03-01T12:00:00Z"
# How many workflows configs/ ships (the tests run on a copy of it, plus
# their own "instant").
SHIPPED = len([f for f in os.listdir(os.path.join(ROOT, "configs",
                                                  "workflows"))
               if f.endswith(".json")])
API_KEY = "sk_test_0123456789"

check = Checks()


class Reply:
    """An HTTP answer: status, headers (lower-case names), body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:400])


class Daemon:
    """A belfryd process with its socket, database and notify socket."""

    def __init__(self, tmp, name, conf_dir, args=(), notify=True, env=None):
        self.tmp = tmp
        self.sock = os.path.join(tmp, name + ".sock")
        self.log = os.path.join(tmp, name + ".log")
        self.notify_path = os.path.join(tmp, name + ".notify")
        self.notify = None
        env = dict(os.environ, **(env or {}))
        env.pop("NOTIFY_SOCKET", None)
        if notify:
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(self.notify_path)
            env["NOTIFY_SOCKET"] = self.notify_path
        self.argv = [BELFRYD, "-c", conf_dir, "--socket", self.sock,
                     "--database", os.path.join(tmp, name + ".db")]
        self.argv += list(args)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.logf,
                                     stderr=self.logf, env=env)

    def messages(self, timeout=10.0):
        """The next notify datagram, or None after timeout seconds."""
        self.notify.settimeout(timeout)
        try:
            return self.notify.recv(4096).decode()
        except socket.timeout:
            return None

    def wait_for(self, word, timeout=10.0):
        """Read datagrams until one has the line word; it, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.messages(max(0.05, deadline - time.time()))
            if m is None:
                return None
            if word in m.split("\n"):
                return m
        return None

    def wait_socket(self, timeout=10.0):
        """Poll until the admin socket answers (for daemons without
        NOTIFY_SOCKET); True when it does."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def wait_exit(self, timeout=10.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(10) is None:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        if self.notify is not None:
            self.notify.close()


def curl(sock, method, path, body=None, headers=(), tcp_port=None,
         data_file=None, max_time=60):
    """One request with curl (on the Unix socket, or TCP when tcp_port)."""
    argv = ["curl", "-sS", "-X", method, "-D", "-", "-o", "-",
            "--max-time", str(max_time)]
    if tcp_port is None:
        argv += ["--unix-socket", sock, "http://belfry" + path]
    else:
        argv += ["http://127.0.0.1:%d%s" % (tcp_port, path)]
    for h in headers:
        argv += ["-H", h]
    inp = None
    if data_file is not None:
        argv += ["-H", "Content-Type: application/json",
                 "--data-binary", "@" + data_file]
    elif body is not None:
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        inp = body.encode() if isinstance(body, str) else body
        argv += ["-H", "Content-Type: application/json",
                 "--data-binary", "@-"]
    p = subprocess.run(argv, input=inp, capture_output=True)
    out = p.stdout
    if p.returncode != 0 and not out:
        return Reply(0, {}, p.stderr.decode(errors="replace"))
    # Skip any "100 Continue" block, then split headers from the body.
    while out.startswith(b"HTTP/1.1 100"):
        out = out.split(b"\r\n\r\n", 1)[1]
    head, _, rest = out.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return Reply(status, hdrs, rest.decode(errors="replace"))


def ctl(sock, *args, stdin=None):
    """Run belfryctl -s sock ARGS: (exit status, stdout, stderr)."""
    argv = [BELFRYCTL]
    if sock is not None:
        argv += ["-s", sock]
    p = subprocess.run(argv + list(args), capture_output=True, text=True,
                       input=stdin)
    return p.returncode, p.stdout, p.stderr


def metric(sock, name):
    """The value of an unlabelled metric in GET /metrics, or None."""
    r = curl(sock, "GET", "/metrics")
    for line in r.body.split("\n"):
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def raw_requests_async(sock, reqs, d):
    """Connect and send every request now; return a function that reads
    the answers (call it once the daemon runs again)."""
    conns = []
    for data in reqs:
        c = socket.socket(socket.AF_UNIX)
        c.connect(sock)
        c.sendall(data)
        conns.append(c)

    def read():
        codes = []
        for c in conns:
            c.settimeout(30)
            buf = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                buf += chunk
            c.close()
            codes.append(int(buf.split(b" ", 2)[1]) if buf else 0)
        return codes
    return read


def one_connection(sock, reqs):
    """Send each raw request on one connection after the previous answer;
    return the answers as (status, body) and whether the daemon then
    closed the connection (read within 5 s)."""
    c = socket.socket(socket.AF_UNIX)
    c.connect(sock)
    c.settimeout(30)
    buf, out = b"", []
    for data in reqs:
        c.sendall(data)
        while b"\r\n\r\n" not in buf:
            chunk = c.recv(65536)
            if not chunk:
                c.close()
                return out, True
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(buf) < n:
            chunk = c.recv(65536)
            if not chunk:
                break
            buf += chunk
        out.append((int(head.split(b" ", 2)[1]), buf[:n].decode()))
        buf = buf[n:]
    c.settimeout(5)
    try:
        closed = c.recv(1) == b""
    except socket.timeout:
        closed = False
    c.close()
    return out, closed


def items(r):
    """The list of a list answer: Knock's "items" or "entries"."""
    j = r.json()
    if isinstance(j, list):
        return j
    if not isinstance(j, dict):
        return []
    v = j.get("items", j.get("entries"))
    return v if isinstance(v, list) else []


def error_shape(name, r, status, code):
    """Check an error answer: status, code and exactly the four keys."""
    j = r.json()
    ok = (r.status == status and isinstance(j, dict) and
          sorted(j) == ["code", "message", "status", "type"] and
          j["code"] == code and j["status"] == status and
          isinstance(j["message"], str) and j["message"] != "")
    check(name, ok, r)
    return j


class HookServer(http.server.ThreadingHTTPServer):
    """The webhook receiver's server, with room for belfryd's 64
    concurrent deliveries in its accept queue."""
    request_queue_size = 256
    daemon_threads = True


class Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: records each request, answers the next
    programmed status (200 when none is left)."""
    received = []
    statuses = []
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with Hook.lock:
            Hook.received.append({"path": self.path,
                                  "headers": dict(self.headers),
                                  "body": body.decode(errors="replace")})
            code = Hook.statuses.pop(0) if Hook.statuses else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, fmt, *args):
        pass


def write_config(conf, sock, db, port, hook_port, keys=True):
    """Copy configs/ to conf with private paths and the test's ports."""
    shutil.copytree(os.path.join(ROOT, "configs"), conf)
    path = os.path.join(conf, "belfry.conf")
    with open(path) as f:
        c = json.load(f)
    c["socket"] = sock
    c["database"] = db
    c["listen"] = "127.0.0.1:%d" % port
    if keys:
        c["api_keys"] = ["sk_other_key", API_KEY]
    else:
        c.pop("api_keys", None)
    c["channels"]["ops-hook"]["url"] = \
        "http://127.0.0.1:%d/hooks?x=1" % hook_port
    with open(path, "w") as f:
        json.dump(c, f, indent=2)
    # "plain" sends one in-app message of data.n (the feed-head checks).
    with open(os.path.join(conf, "workflows", "plain.json"), "w") as f:
        json.dump({"key": "plain", "steps": [
            {"ref": "feed", "type": "channel", "channel": "in-app",
             "template": {"markdown": "{{ data.n }}"}}]}, f)
    # configs/workflows/new-comment.json waits 30 s and batches for 5 min;
    # "instant" sends at once, for the checks that read messages back.
    with open(os.path.join(conf, "workflows", "instant.json"), "w") as f:
        json.dump({
            "key": "instant", "name": "Instant comment",
            "categories": ["comments"], "data_required": ["comment_id"],
            "steps": [
                {"ref": "feed", "type": "channel", "channel": "in-app",
                 "template": {"markdown":
                              "{{ actor.name | default: 'Someone' }} "
                              "commented on {{ data.post_id }}: "
                              "{{ data.excerpt }}"}},
                {"ref": "hook", "type": "channel", "channel": "ops-hook",
                 "template": {"body": '{"comment": "{{ data.comment_id }}",'
                              ' "recipient": "{{ recipient.id }}"}'}}]},
            f, indent=2)


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-daemon-")
    conf = os.path.join(tmp, "conf")
    port = free_port()

    hook = HookServer(("127.0.0.1", 0), Hook)
    hook_port = hook.server_address[1]
    threading.Thread(target=hook.serve_forever, daemon=True).start()

    write_config(conf, os.path.join(tmp, "unused.sock"),
                 os.path.join(tmp, "unused.db"), port, hook_port)
    d = Daemon(tmp, "main", conf, ["--virtual-clock", START,
                                   "--listen", "127.0.0.1:%d" % port])
    others = []
    try:
        run_tests(tmp, conf, d, port, others)
    finally:
        for o in others:
            o.stop()
        d.stop()
        hook.shutdown()
    keep_or_remove(tmp, check.failed, [os.path.join(tmp, n) for n in
                                       sorted(os.listdir(tmp))
                                       if n.endswith(".log")])
    return check.summary("daemon")


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
/* fsync and fdatasync fail with EIO while the file $SHIM_FAIL exists. */
static int failing(void)
{
	const char *f = getenv("SHIM_FAIL");
	return f != NULL && access(f, F_OK) == 0;
}
int fsync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (failing()) { errno = EIO; return -1; }
	return real(fd);
}
int fdatasync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (failing()) { errno = EIO; return -1; }
	return real(fd);
}
"""


def one_batch(o, reqs):
    """Send raw requests to daemon o while it is stopped, so that they run
    in one batch; their status codes."""
    o.proc.send_signal(signal.SIGSTOP)
    try:
        read = raw_requests_async(o.sock, reqs, o)
    finally:
        o.proc.send_signal(signal.SIGCONT)
    return read()


def commit_failure(tmp, conf, others):
    """With fsync failing (an LD_PRELOAD shim), every request of the batch
    gets 500 and nothing of it is stored; then the daemon recovers."""
    src = os.path.join(tmp, "shim.c")
    lib = os.path.join(tmp, "shim.so")
    with open(src, "w") as f:
        f.write(SHIM)
    cc = subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src, "-ldl"],
                        capture_output=True, text=True)
    if not check("build the fsync shim", cc.returncode == 0, cc.stderr):
        return
    fail = os.path.join(tmp, "fsync-fails")
    o = Daemon(tmp, "shim", conf, ["--listen", ""], env={
        "LD_PRELOAD": lib, "SHIM_FAIL": fail,
        "ASAN_OPTIONS": "verify_asan_link_order=0:" +
        os.environ.get("ASAN_OPTIONS", "")})
    others.append(o)
    if not check("shim daemon ready", o.wait_for("READY=1") is not None,
                 o.log_text()):
        return
    S = o.sock
    r = curl(S, "PUT", "/v1/users/ok1", {"name": "Before"})
    check("before the failure: 200", r.status == 200, r)
    open(fail, "w").close()
    reqs = []
    for i in range(5):
        body = json.dumps({"name": "Lost %d" % i}).encode()
        reqs.append(b"PUT /v1/users/lost%d HTTP/1.1\r\nHost: belfry\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (i, len(body), body))
    codes = one_batch(o, reqs)
    check("a failed commit: every request of the batch gets 500",
          codes == [500] * 5, codes)
    check("the failed commit is logged",
          "commit:" in o.log_text(), o.log_text()[-800:])
    os.unlink(fail)
    r = curl(S, "GET", "/v1/users/lost3")
    check("nothing of the failed batch is stored", r.status == 404, r)
    r = curl(S, "PUT", "/v1/users/ok2", {"name": "After"})
    check("after the failure: 200 again", r.status == 200, r)
    check("earlier commits intact",
          curl(S, "GET", "/v1/users/ok1").status == 200)
    heads_fail_and_crash(tmp, conf, others, o, fail)


def feed_texts(sock, user):
    """The contents of user's in-app feed, newest first."""
    r = curl(sock, "GET", "/v1/users/%s/feeds/in-app?page_size=50" % user)
    return [((e.get("blocks") or [{}])[0]).get("content")
            for e in (r.json() or {}).get("entries", [])]


def trigger_body(first, n, text):
    """A trigger of "plain" to r<first>.. r<first + n - 1>."""
    return json.dumps({"recipients": ["r%d" % i for i in
                                      range(first, first + n)],
                       "data": {"n": text}}).encode()


def heads_fail_and_crash(tmp, conf, others, o, fail):
    """Feed heads held in memory (written behind) survive a failed commit
    that was writing them and a SIGKILL: the next start recovers them from
    the messages."""
    S = o.sock
    for text in ("a", "a2"):    # 5000 chains: heads written, then held
        for i in range(5):
            curl(S, "POST", "/v1/workflows/plain/trigger",
                 trigger_body(i * 1000, 1000, text))
    for i in range(4):          # 4000 of them move on in memory
        curl(S, "POST", "/v1/workflows/plain/trigger",
             trigger_body(i * 1000, 1000, "b"))
    open(fail, "w").close()
    reqs = []
    for i in range(5):          # 5000 held: this commit writes them, fails
        body = trigger_body(i * 1000, 1000, "lost")
        reqs.append(b"POST /v1/workflows/plain/trigger HTTP/1.1\r\n"
                    b"Host: belfry\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n%s" % (len(body), body))
    codes = one_batch(o, reqs)
    os.unlink(fail)
    check("a failed commit of 5000 messages: all 500", codes == [500] * 5,
          codes)
    check("feeds after the failed commit", feed_texts(S, "r0") ==
          ["b", "a2", "a"] and feed_texts(S, "r4999") == ["a2", "a"],
          (feed_texts(S, "r0"), feed_texts(S, "r4999")))
    curl(S, "POST", "/v1/workflows/plain/trigger", trigger_body(0, 1, "c"))
    check("a message after it chains on", feed_texts(S, "r0") ==
          ["c", "b", "a2", "a"], feed_texts(S, "r0"))
    o.proc.kill()
    o.proc.wait()
    d = Daemon(tmp, "shim", conf, ["--listen", ""], notify=False)
    others.append(d)
    if not check("restart after SIGKILL", d.wait_socket(), d.log_text()):
        return
    got = [feed_texts(S, u) for u in ("r0", "r1", "r3999", "r4000")]
    check("feeds whose heads were held survive SIGKILL", got ==
          [["c", "b", "a2", "a"], ["b", "a2", "a"], ["b", "a2", "a"],
           ["a2", "a"]], got)
    curl(S, "POST", "/v1/workflows/plain/trigger", trigger_body(3999, 2, "d"))
    got = [feed_texts(S, u) for u in ("r3999", "r4000")]
    check("and chain on after the restart", got ==
          [["d", "b", "a2", "a"], ["d", "a2", "a"]], got)
    d.proc.send_signal(signal.SIGTERM)
    check("restarted daemon exits 0", d.wait_exit() == 0, d.log_text())


def run_tests(tmp, conf, d, port, others):
    S = d.sock

    def req(method, path, body=None, headers=()):
        return curl(S, method, path, body, headers)

    # ---- start-up and systemd notification ----
    ready = d.wait_for("READY=1")
    if not check("READY=1 on NOTIFY_SOCKET", ready is not None,
                 d.log_text()[-2000:]):
        return
    check("READY=1 comes with STATUS=", "STATUS=" in ready, ready)
    st = os.stat(S)
    check("socket is a socket", stat.S_ISSOCK(st.st_mode))
    check("socket mode 0660", stat.S_IMODE(st.st_mode) == 0o660,
          oct(stat.S_IMODE(st.st_mode)))

    # The daemon re-checks the peer: with the file mode opened up, another
    # user still gets 403 (the socket's directory must let it through).
    os.chmod(S, 0o666)
    os.chmod(os.path.dirname(S), 0o755)
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", "curl", "-s",
                        "-o", "/dev/null", "-o", "/dev/null",
                        "-w", "%{http_code}", "--unix-socket", S,
                        "http://belfry/admin/status",
                        "http://belfry/v1/users/u1"],
                       capture_output=True, text=True, timeout=20)
    # Two requests on one connection: the verdict is kept per connection.
    check("a stranger on the socket gets 403, twice", p.stdout == "403403",
          p.stdout + p.stderr)
    # A user who has the daemon's group only as a supplementary group
    # (as a member of a socket group usually has) is let in.
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--groups=%d" % os.getegid(), "curl", "-s",
                        "-o", "/dev/null", "-w", "%{http_code}",
                        "--unix-socket", S, "http://belfry/admin/status"],
                       capture_output=True, text=True, timeout=20)
    check("a supplementary member of the daemon's group gets 200",
          p.stdout == "200", p.stdout + p.stderr)
    os.chmod(S, 0o660)

    # Answers written at once (server.c, server_write_through): many
    # batched requests on one kept-alive connection each get their own
    # answer in order; one that asks to close gets it whole, then EOF.
    reqs = []
    for i in range(30):
        body = json.dumps({"recipients": ["ka%d" % i], "data": {"i": i}})
        reqs.append(("POST /v1/workflows/daily-digest/trigger HTTP/1.1\r\n"
                     "Host: belfry\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n%s" %
                     (len(body), body)).encode())
    reqs.append(b"GET /v1/users/ka0/feeds/in-app HTTP/1.1\r\nHost: belfry"
                b"\r\nConnection: close\r\n\r\n")
    out, closed = one_connection(S, reqs)
    ids = [json.loads(b).get("workflow_run_id") for st, b in out[:30]
           if st == 200]
    check("30 triggers on one connection, 30 answers, 30 runs",
          len(ids) == 30 and len(set(ids)) == 30, out[:3])
    check("the closing request's answer is whole, then the daemon closes",
          len(out) == 31 and out[30][0] == 200 and
          json.loads(out[30][1]).get("meta", {}).get("total_count") == 1
          and closed, (out[30:], closed))


    r = req("GET", "/admin/status")
    j = r.json() or {}
    check("status 200", r.status == 200, r)
    check("status fields", all(k in j for k in (
        "version", "uptime_seconds", "rules_version", "config_dir", "now",
        "workflows")), j)
    check("status now is the virtual clock", j.get("now") == START, j)
    check("status workflows", j.get("workflows") == SHIPPED + 2, j)
    check("status config dir", j.get("config_dir") == conf, j)
    # the shipped example schedule: 09:00 in each recipient's zone (UTC)
    r = req("GET", "/v1/users/u2/schedules")
    sc = [x for x in (r.json() or {}).get("entries", [])
          if x.get("config_id") == "daily-digest"]
    check("example schedule loaded from configs/schedules", len(sc) == 1 and
          sc[0].get("next_occurrence_at") == "2026-03-02T09:00:00Z", r)
    check("status rules version", isinstance(j.get("rules_version"), str)
          and len(j.get("rules_version", "")) >= 5, j)

    # ---- every error class ----
    r = req("PUT", "/v1/users/u1", '{"name": "Ada",\n "email": }')
    j = error_shape("400 invalid_json", r, 400, "invalid_json")
    check("invalid_json names line and column",
          j is not None and "line 2" in j["message"] and
          "column" in j["message"], r)
    check("400 type", j is not None and
          j["type"] == "invalid_request_error", j)
    r = req("PUT", "/v1/users/u1", "[1, 2]")
    error_shape("non-object body 422", r, 422, "invalid_params")

    r = curl(S, "GET", "/v1/users/u1", tcp_port=port)
    j = error_shape("401 without a key", r, 401, "authentication_required")
    check("401 type", j is not None and
          j["type"] == "authentication_error", j)
    r = curl(S, "GET", "/v1/users/u1", tcp_port=port,
             headers=["Authorization: Bearer sk_wrong_key_0000"])
    error_shape("401 with a wrong key", r, 401, "authentication_required")
    r = curl(S, "GET", "/v1/users/u1", tcp_port=port,
             headers=["Authorization: Bearer " + API_KEY[:-1]])
    error_shape("401 with a key's prefix", r, 401,
                "authentication_required")
    r = curl(S, "GET", "/v1/users/u1", tcp_port=port,
             headers=["Authorization: Basic " + API_KEY])
    error_shape("401 with another scheme", r, 401,
                "authentication_required")
    r = curl(S, "PUT", "/v1/users/tcp1", {"name": "Tee"}, tcp_port=port,
             headers=["Authorization: Bearer " + API_KEY])
    check("TCP with the key: 200", r.status == 200 and
          (r.json() or {}).get("name") == "Tee", r)
    r = curl(S, "GET", "/v1/users/tcp1", tcp_port=port,
             headers=["Authorization: bearer sk_other_key"])
    check("TCP with another key, lower-case scheme: 200",
          r.status == 200, r)
    r = curl(S, "GET", "/admin/status", tcp_port=port,
             headers=["Authorization: Bearer " + API_KEY])
    check("TCP status with the key", r.status == 200, r)
    r = curl(S, "POST", "/admin/reload", tcp_port=port,
             headers=["Authorization: Bearer " + API_KEY])
    error_shape("admin reload is socket-only", r, 404, "not_found")

    r = req("GET", "/v1/nothing/here")
    error_shape("404 unknown route", r, 404, "not_found")
    r = req("GET", "/v1/users/u1/")
    error_shape("404 trailing slash", r, 404, "not_found")
    r = req("POST", "/v1/tenants/t1", {})
    error_shape("405 known path, other method", r, 405,
                "method_not_allowed")
    check("405 Allow header", "GET" in r.headers.get("allow", "") and
          "PUT" in r.headers.get("allow", ""), r.headers)
    r = req("POST", "/v1/workflows/no-such-flow/trigger",
            {"recipients": ["u1"]})
    error_shape("404 workflow_missing", r, 404, "workflow_missing")
    r = req("GET", "/v1/users/nobody")
    error_shape("404 resource_missing", r, 404, "resource_missing")

    big = os.path.join(tmp, "big.json")
    with open(big, "w") as f:
        json.dump({"recipients": ["u1"], "data": {
            "comment_id": "c", "pad": "x" * (10 * 1024 * 1024)}}, f)
    r = curl(S, "POST", "/v1/workflows/instant/trigger", data_file=big)
    error_shape("413 over 10 MiB", r, 413, "request_too_large")
    os.unlink(big)

    r = req("POST", "/v1/workflows/instant/trigger",
            {"recipients": ["u1"], "data": {"post_id": "p1"}})
    j = error_shape("422 missing required data", r, 422, "invalid_params")
    check("422 names the missing key", j is not None and
          "comment_id" in j["message"], j)
    for name, rcpts in (("not an array", "u1"), ("empty", []),
                        ("a number", [42]), ("no id", [{"name": "x"}])):
        r = req("POST", "/v1/workflows/instant/trigger",
                {"recipients": rcpts, "data": {"comment_id": "c"}})
        error_shape("422 bad recipients (%s)" % name, r, 422,
                    "invalid_params")
    r = req("POST", "/v1/workflows/instant/trigger",
            {"recipients": ["x%d" % i for i in range(1001)],
             "data": {"comment_id": "c"}})
    error_shape("422 over 1000 recipients", r, 422, "invalid_params")
    r = req("POST", "/v1/workflows/instant/trigger",
            {"recipients": ["u1"], "data": {"comment_id": "c"}},
            headers=["Idempotency-Key: " + "k" * 256])
    error_shape("422 Idempotency-Key over 255", r, 422, "invalid_params")
    r = req("POST", "/admin/clock", {"advance_by_seconds": -1})
    error_shape("422 clock backwards", r, 422, "invalid_params")
    r = req("POST", "/admin/clock", {"advance_to": "2026-02-01T00:00:00Z"})
    error_shape("422 clock advance_to in the past", r, 422,
                "invalid_params")
    r = req("POST", "/admin/clock", {})
    error_shape("422 clock neither", r, 422, "invalid_params")
    r = req("POST", "/admin/clock", {"advance_to": START,
                                     "advance_by_seconds": 1})
    error_shape("422 clock both", r, 422, "invalid_params")

    # ---- users ----
    r = req("PUT", "/v1/users/u1", {"name": "Ada", "email": "ada@example.com",
                                    "timezone": "Europe/London"})
    check("PUT user 200", r.status == 200, r)
    j = r.json() or {}
    check("PUT user echoes it", j.get("id") == "u1" and
          j.get("name") == "Ada", j)
    r = req("PUT", "/v1/users/u1", {"plan": "pro", "prefs": {"a": 1}})
    r = req("GET", "/v1/users/u1")
    j = r.json() or {}
    check("GET user deep-merged", r.status == 200 and j.get("name") == "Ada"
          and j.get("plan") == "pro" and j.get("email") == "ada@example.com",
          r)
    for u, name in (("u2", "Bob"), ("u3", "Cy"), ("actor", "Dee")):
        r = req("PUT", "/v1/users/" + u, {"name": name})
        check("PUT user %s" % u, r.status == 200, r)
    r = req("PUT", "/v1/users/doomed", {"name": "Doomed"})
    r = req("DELETE", "/v1/users/doomed")
    check("DELETE user 204", r.status == 204 and r.body == "", r)
    r = req("GET", "/v1/users/doomed")
    check("deleted user is gone", r.status == 404, r)
    r = req("GET", "/v1/users/a%20b")
    j = r.json() or {}
    check("path parameters are percent-decoded",
          r.status == 404 and "a b" in j.get("message", ""), r)

    # ---- objects, tenants, subscriptions ----
    r = req("PUT", "/v1/objects/projects/p1", {"name": "Apollo"})
    j = r.json() or {}
    check("PUT object", r.status == 200 and j.get("id") == "p1" and
          j.get("collection") == "projects", r)
    r = req("GET", "/v1/objects/projects/p1")
    j = r.json() or {}
    check("GET object", r.status == 200 and
          (j.get("properties", {}).get("name") == "Apollo" or
           j.get("name") == "Apollo"), r)
    req("PUT", "/v1/objects/projects/p2", {"name": "Gemini"})
    r = req("DELETE", "/v1/objects/projects/p2")
    check("DELETE object", r.status in (200, 204), r)
    r = req("GET", "/v1/objects/projects/p2")
    check("deleted object is gone", r.status == 404, r)

    r = req("PUT", "/v1/tenants/t1", {"name": "Acme"})
    check("PUT tenant", r.status == 200 and
          (r.json() or {}).get("id") == "t1", r)
    r = req("GET", "/v1/tenants/t1")
    check("GET tenant", r.status == 200 and
          (r.json() or {}).get("name") == "Acme", r)
    r = req("GET", "/v1/tenants/t404")
    check("GET missing tenant 404", r.status == 404, r)

    r = req("POST", "/v1/objects/projects/p1/subscriptions",
            {"recipients": ["u2", "u3"], "properties": {"role": "watcher"}})
    check("POST subscriptions", r.status == 200, r)
    r = req("GET", "/v1/objects/projects/p1/subscriptions")
    check("GET subscriptions lists 2", r.status == 200 and
          len(items(r)) == 2, r)
    r = req("DELETE", "/v1/objects/projects/p1/subscriptions",
            {"recipients": ["u3"]})
    check("DELETE subscription", r.status in (200, 204), r)
    r = req("GET", "/v1/objects/projects/p1/subscriptions")
    check("one subscription left", len(items(r)) == 1 and
          "u2" in json.dumps(items(r)), r)

    # ---- preferences ----
    r = req("PUT", "/v1/users/u3/preferences/default",
            {"workflows": {"instant": False}})
    check("PUT preferences", r.status == 200, r)
    r = req("GET", "/v1/users/u3/preferences/default")
    j = r.json() or {}
    check("GET preferences", r.status == 200 and
          j.get("workflows", {}).get("instant") is False, r)

    # ---- triggers, feeds, messages ----
    r = req("POST", "/v1/workflows/instant/trigger",
            {"recipients": ["u1", "u3"], "actor": "actor", "tenant": "t1",
             "data": {"comment_id": "c1", "post_id": "p1",
                      "excerpt": "hello"}})
    check("trigger 200", r.status == 200, r)
    run_id = (r.json() or {}).get("workflow_run_id", "")
    check("trigger returns a UUID v4", len(run_id) == 36 and
          run_id[14] == "4", run_id)
    r = req("GET", "/v1/users/u1/feeds/in-app")
    j = r.json() or {}
    check("feed has the message", r.status == 200 and
          len(j.get("entries", [])) == 1, r)
    entry = (j.get("entries") or [{}])[0]
    msg_id = entry.get("id", "")
    check("feed entry rendered", "Dee commented on p1: hello" in
          json.dumps(entry), entry)
    check("feed meta counts", j.get("meta", {}).get("total_count") == 1 and
          j.get("meta", {}).get("unread_count") == 1 and
          j.get("meta", {}).get("unseen_count") == 1, j.get("meta"))
    r = req("GET", "/v1/users/u3/feeds/in-app")
    check("opted-out user gets no message", r.status == 200 and
          len((r.json() or {}).get("entries", [1])) == 0, r)

    # tenants: untenanted message for u1, then the filters
    req("POST", "/v1/workflows/instant/trigger",
        {"recipients": ["u1"], "data": {"comment_id": "c2",
                                         "post_id": "p2"}})
    r = req("GET", "/v1/users/u1/feeds/in-app")
    check("two feed entries", len((r.json() or {}).get("entries", [])) == 2,
          r)
    r = req("GET", "/v1/users/u1/feeds/in-app?tenant=t1")
    check("tenant filter: that tenant's only",
          len((r.json() or {}).get("entries", [])) == 1, r)
    r = req("GET", "/v1/users/u1/feeds/in-app?tenant=t1&has_tenant=true")
    check("has_tenant=true", len((r.json() or {}).get("entries", [])) == 1,
          r)
    r = req("GET", "/v1/users/u1/feeds/in-app?tenant=t-other")
    check("another tenant sees none of them",
          len((r.json() or {}).get("entries", [])) == 0, r)
    r = req("GET", "/v1/users/u1/feeds/in-app?has_tenant=true")
    check("has_tenant=true alone: the tenant's",
          len((r.json() or {}).get("entries", [])) == 1, r)

    # engagement
    r = req("PUT", "/v1/messages/%s/read" % msg_id)
    check("PUT read", r.status == 200 and
          (r.json() or {}).get("read_at") is not None, r)
    r = req("GET", "/v1/users/u1/feeds/in-app")
    meta = (r.json() or {}).get("meta", {})
    check("unread_count drops", meta.get("unread_count") == 1 and
          meta.get("total_count") == 2, meta)
    r = req("GET", "/v1/users/u1/feeds/in-app?status=read")
    check("status=read", [e["id"] for e in
                          (r.json() or {}).get("entries", [])] == [msg_id], r)
    r = req("GET", "/v1/users/u1/feeds/in-app?status=unread")
    check("status=unread", msg_id not in r.body and
          len((r.json() or {}).get("entries", [])) == 1, r)
    r = req("PUT", "/v1/messages/%s/seen" % msg_id)
    check("PUT seen", r.status == 200 and
          (r.json() or {}).get("seen_at") is not None, r)
    r = req("GET", "/v1/users/u1/feeds/in-app?status=unseen")
    check("status=unseen", msg_id not in r.body, r)
    r = req("PUT", "/v1/messages/%s/archived" % msg_id)
    check("PUT archived", r.status == 200, r)
    r = req("GET", "/v1/users/u1/feeds/in-app")
    check("archived excluded by default", msg_id not in r.body and
          len((r.json() or {}).get("entries", [])) == 1, r)
    r = req("GET", "/v1/users/u1/feeds/in-app?archived=only")
    check("archived=only", [e["id"] for e in
                            (r.json() or {}).get("entries", [])] == [msg_id],
          r)
    r = req("GET", "/v1/users/u1/feeds/in-app?archived=include")
    check("archived=include", len((r.json() or {}).get("entries", [])) == 2,
          r)
    r = req("DELETE", "/v1/messages/%s/archived" % msg_id)
    check("DELETE archived", r.status == 200 and
          (r.json() or {}).get("archived_at") is None, r)
    r = req("DELETE", "/v1/messages/%s/read" % msg_id)
    check("DELETE read (mark unread)", r.status == 200 and
          (r.json() or {}).get("read_at") is None, r)
    r = req("GET", "/v1/messages/%s" % msg_id)
    check("GET message", r.status == 200 and
          (r.json() or {}).get("id") == msg_id, r)
    r = req("PUT", "/v1/messages/no-such-message/read")
    check("mark a missing message 404", r.status == 404, r)
    r = req("GET", "/v1/users/u1/messages")
    check("user messages (feed and hook)", r.status == 200 and
          len(items(r)) >= 3, r)
    r = req("GET", "/v1/users/u1/feeds/in-app?page_size=1")
    check("page_size=1", len((r.json() or {}).get("entries", [])) == 1, r)

    # runs
    r = req("GET", "/v1/workflow_recipient_runs?workflow=instant")
    runs = items(r)
    check("runs list", r.status == 200 and len(runs) >= 3, r)
    mine = [x for x in runs if x.get("workflow_run_id") == run_id]
    check("two recipient runs for the trigger", len(mine) == 2, runs[:3])
    if mine:
        r = req("GET", "/v1/workflow_recipient_runs/%s" % mine[0]["id"])
        j = r.json() or {}
        check("GET run", r.status == 200 and j.get("id") == mine[0]["id"] and
              isinstance(j.get("events"), list) and j.get("status"), r)
    u3run = [x for x in mine if "u3" in json.dumps(x.get("recipient"))]
    if u3run:
        r = req("GET", "/v1/workflow_recipient_runs/%s" % u3run[0]["id"])
        check("opt-out recorded in the run's events",
              "prefer" in r.body or "opt" in r.body, r)
    r = req("GET", "/v1/workflow_recipient_runs/nope")
    check("GET missing run 404", r.status == 404, r)

    # 1000 recipients
    rc = ["r%d" % i for i in range(1000)]
    r = req("POST", "/v1/workflows/instant/trigger",
            {"recipients": rc, "actor": "actor",
             "data": {"comment_id": "c-big", "post_id": "p-big"}})
    check("trigger with 1000 recipients", r.status == 200, r)
    big_run = (r.json() or {}).get("workflow_run_id")
    r = req("GET", "/v1/users/r737/feeds/in-app")
    j = r.json() or {}
    check("recipient 737's feed", len(j.get("entries", [])) == 1 and
          "c-big" in r.body, r)
    r = req("GET", "/v1/users/r999/messages")
    check("recipient 999's messages", r.status == 200 and
          len(items(r)) == 2, r)
    r = req("GET", "/v1/workflow_recipient_runs?workflow=instant&"
            "page_size=50")
    check("runs of the big trigger", r.status == 200 and
          len(items(r)) == 50 and all(x.get("workflow_run_id") == big_run
                                      for x in items(r)), r)

    if PG:
        skip("log checkpoints", "SQLite's write-ahead log; PostgreSQL "
             "checkpoints its own")
    else:
        # The log is checkpointed between bursts, not by a commit: write
        # until it holds 1000 pages; a clock advance ends at a quiet moment
        # (nothing due, nothing waiting), where it is copied into the
        # database.
        ck0 = metric(S, "belfry_checkpoints_total")
        for i in range(20):
            if metric(S, "belfry_wal_pages") >= 1000:
                break
            req("POST", "/v1/workflows/new-comment/trigger",
                {"recipients": rc, "data": {"comment_id": "wal-%d" % i}})
        check("log grew past 1000 pages",
              metric(S, "belfry_wal_pages") >= 1000 or
              metric(S, "belfry_checkpoints_total") > ck0)
        req("POST", "/admin/clock", {"advance_by_seconds": 0})
        check("log checkpointed when quiet",
              metric(S, "belfry_checkpoints_total") > ck0 and
              metric(S, "belfry_wal_pages") < 1000,
              (ck0, metric(S, "belfry_checkpoints_total"),
               metric(S, "belfry_wal_pages")))

    # idempotency
    body = {"recipients": ["u2"], "data": {"comment_id": "c-idem"}}
    r1 = req("POST", "/v1/workflows/instant/trigger", body,
             headers=["Idempotency-Key: idem-1"])
    r2 = req("POST", "/v1/workflows/instant/trigger", body,
             headers=["Idempotency-Key: idem-1"])
    check("first trigger with a key", r1.status == 200 and
          "idempotent-replayed" not in r1.headers, r1)
    check("replay: same run id", r2.status == 200 and
          r1.json() == r2.json(), (r1, r2))
    check("replay: idempotent-replayed: true",
          r2.headers.get("idempotent-replayed") == "true", r2.headers)
    r3 = req("POST", "/v1/workflows/instant/trigger", body,
             headers=["Idempotency-Key: idem-2"])
    check("another key, another run", r3.status == 200 and
          r3.json() != r1.json(), r3)
    r = req("GET", "/v1/users/u2/feeds/in-app")
    check("the replay made no message", len(
        [e for e in (r.json() or {}).get("entries", [])
         if e.get("data", {}).get("comment_id") == "c-idem"]) == 2, r)

    # group commit: concurrent requests all answered and all committed
    results = []

    def one(i):
        results.append(req("POST", "/v1/workflows/instant/trigger",
                           {"recipients": ["g%d" % i],
                            "data": {"comment_id": "g"}}))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("20 concurrent triggers", len(results) == 20 and
          all(x.status == 200 for x in results), results[:3])
    r = req("GET", "/v1/users/g13/feeds/in-app")
    check("a concurrent trigger's message",
          len((r.json() or {}).get("entries", [])) == 1, r)

    # ---- webhooks on the virtual clock ----
    # instant has a webhook step too: let the deliveries of the
    # triggers above finish first (+0 s returns once none is in flight).
    r = req("POST", "/admin/clock", {"advance_by_seconds": 0})
    check("clock +0 drains earlier deliveries", r.status == 200, r)
    check("earlier deliveries all arrived", len(Hook.received) >= 1000,
          len(Hook.received))
    r = req("GET", "/admin/status")
    check("nothing in flight", (r.json() or {}).get(
        "deliveries_in_flight") == 0, r)

    # group commit: requests that arrive together share one transaction.
    # Stopping the daemon while 20 requests are sent makes them arrive
    # together, deterministically.
    c0 = metric(S, "belfry_commits_total")
    b0 = metric(S, "belfry_batched_requests_total")
    reqs = []
    for i in range(20):
        body = json.dumps({"name": "Group %d" % i}).encode()
        reqs.append(b"PUT /v1/users/grp%d HTTP/1.1\r\nHost: belfry\r\n"
                    b"Content-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (i, len(body), body))
    codes = one_batch(d, reqs)
    c1 = metric(S, "belfry_commits_total")
    b1 = metric(S, "belfry_batched_requests_total")
    check("20 requests sent together all 200", codes == [200] * 20, codes)
    check("20 requests counted in batches", b1 - b0 == 20, (b0, b1))
    check("20 requests that arrive together share a commit",
          c1 - c0 <= 2, (c0, c1))
    check("the batched writes committed",
          req("GET", "/v1/users/grp17").status == 200)
    Hook.received.clear()
    Hook.statuses[:] = [500]
    r = req("POST", "/v1/workflows/deploy-finished/trigger",
            {"recipients": ["u1"], "actor": "actor", "tenant": "t1",
             "data": {"service": "api", "version": "1.2.3"}})
    check("trigger deploy-finished", r.status == 200, r)
    r = req("POST", "/admin/clock", {"advance_by_seconds": 0})
    check("clock +0 waits for the delivery", r.status == 200 and
          (r.json() or {}).get("now") == START, r)
    deploys = [h for h in Hook.received if '"deploy"' in h["body"]]
    check("webhook received once", len(deploys) == 1, Hook.received)
    hook_msg = None
    if deploys:
        h = deploys[0]
        hdr = {k.lower(): v for k, v in h["headers"].items()}
        check("webhook path and query", h["path"] == "/hooks?x=1", h)
        check("webhook content type",
              hdr.get("content-type") == "application/json", hdr)
        try:
            b = json.loads(h["body"])
        except ValueError:
            b = None
        check("webhook body rendered", b == {
            "event": "deploy", "service": "api", "version": "1.2.3",
            "by": "actor", "tenant": "t1", "recipient": "u1"}, h["body"])
        hook_msg = hdr.get("idempotency-key")
        r = req("GET", "/v1/messages/%s" % hook_msg)
        j = r.json() or {}
        check("Idempotency-Key is the message id", r.status == 200 and
              j.get("channel_id") == "ops-hook", (hook_msg, r))
        check("after a 500 the message is not delivered",
              j.get("status") != "delivered", j.get("status"))
    r = req("POST", "/admin/clock", {"advance_by_seconds": 3600})
    check("clock +1h", r.status == 200 and (r.json() or {}).get("now") ==
          "2026-03-01T13:00:00Z", r)
    # (only the deploy's deliveries count: a retry of an earlier delivery
    # that failed under load may arrive in the same hour)
    deploys = [h for h in Hook.received if '"deploy"' in h["body"]]
    check("retried once after the 500", len(deploys) == 2, len(deploys))
    if len(deploys) == 2:
        k2 = {k.lower(): v for k, v in
              deploys[1]["headers"].items()}.get("idempotency-key")
        check("retry has the same Idempotency-Key", k2 == hook_msg,
              (k2, hook_msg))
        check("retry has the same body",
              deploys[1]["body"] == deploys[0]["body"])
    if hook_msg:
        r = req("GET", "/v1/messages/%s" % hook_msg)
        check("delivered after the retry",
              (r.json() or {}).get("status") == "delivered", r)
    check("log channel line in the log", "deploy of api 1.2.3 by actor"
          in d.log_text(), d.log_text()[-1000:])
    r = req("GET", "/admin/status")
    check("status now moved", (r.json() or {}).get("now") ==
          "2026-03-01T13:00:00Z", r)
    r = req("POST", "/admin/clock", {"advance_to": "2026-03-02T00:00:00Z"})
    check("clock advance_to", r.status == 200 and
          (r.json() or {}).get("now") == "2026-03-02T00:00:00Z", r)
    r = req("PUT", "/v1/users/u9", {"name": "Late"})
    check("virtual now stamps writes",
          (r.json() or {}).get("created_at") == "2026-03-02T00:00:00Z", r)

    # ---- the example workflow: delay 30 s, batch 5 min, on the clock ----
    Hook.received.clear()
    for i, (actor, post) in enumerate((("actor", "p-batch"),
                                       ("u2", "p-batch"),
                                       ("actor", "p-batch"),
                                       ("u2", "p-other"))):
        r = req("POST", "/v1/workflows/new-comment/trigger",
                {"recipients": ["b1"], "actor": actor,
                 "data": {"comment_id": "cb%d" % i, "post_id": post}})
        check("trigger new-comment %d" % i, r.status == 200, r)
    r = req("GET", "/admin/status")
    check("next due is the end of the delay", (r.json() or {}).get(
        "next_due") == "2026-03-02T00:00:30Z", r)
    r = req("POST", "/admin/clock", {"advance_by_seconds": 29})
    r = req("GET", "/v1/users/b1/feeds/in-app")
    check("nothing during the delay",
          (r.json() or {}).get("entries") == [], r)
    r = req("POST", "/admin/clock", {"advance_by_seconds": 1})
    r = req("GET", "/v1/users/b1/feeds/in-app")
    check("nothing while the batch is open",
          (r.json() or {}).get("entries") == [], r)
    r = req("POST", "/admin/clock", {"advance_to": "2026-03-02T00:05:30Z"})
    check("clock to the end of the batch window", r.status == 200, r)
    r = req("GET", "/v1/users/b1/feeds/in-app")
    entries = (r.json() or {}).get("entries", [])
    check("one message per batch key", len(entries) == 2, r)
    check("the batch rendered its activity count",
          "left 3 comments" in r.body and "left 1 comments" in r.body,
          r)
    batch_hooks = [h for h in Hook.received if '"cb' in h["body"]]
    check("the batch's webhooks were delivered by the advance",
          len(batch_hooks) == 2, Hook.received)

    # cancellation: synchronous, so nothing is sent after the 204
    r = req("POST", "/v1/workflows/new-comment/trigger",
            {"recipients": ["b2", "b3"], "cancellation_key": "ck-1",
             "data": {"comment_id": "cx", "post_id": "px"}})
    check("trigger with a cancellation key", r.status == 200, r)
    r = req("POST", "/v1/workflows/new-comment/cancel",
            {"cancellation_key": "ck-1", "recipients": ["b2"]})
    check("cancel one recipient: 204", r.status == 204, r)
    r = req("POST", "/v1/workflows/new-comment/cancel", {})
    error_shape("cancel without a key: 422", r, 422, "invalid_params")
    r = req("POST", "/v1/workflows/nope/cancel", {"cancellation_key": "k"})
    error_shape("cancel of an unknown workflow: 404", r, 404,
                "workflow_missing")
    r = req("POST", "/admin/clock", {"advance_by_seconds": 400})
    r = req("GET", "/v1/users/b2/feeds/in-app")
    check("the cancelled recipient got nothing",
          (r.json() or {}).get("entries") == [], r)
    r = req("GET", "/v1/users/b3/feeds/in-app")
    check("the other recipient got the message",
          len((r.json() or {}).get("entries", [])) == 1, r)

    # ---- metrics ----
    r = req("GET", "/metrics")
    check("metrics 200 text", r.status == 200 and
          r.headers.get("content-type", "").startswith("text/plain"), r)
    for name in ("belfry_triggers_total", "belfry_runs_total",
                 "belfry_messages_total", "belfry_errors_total",
                 "belfry_queue_depth", "belfry_deliveries_failed_total",
                 "belfry_json_pool_bytes",
                 'belfry_http_requests_total{code="200"}',
                 'belfry_http_requests_total{code="422"}',
                 'belfry_fire_lateness_seconds_bucket{le="+Inf"} 0',
                 "belfry_fire_lateness_seconds_count 0",
                 "# TYPE belfry_fire_lateness_seconds histogram"):
        check("metric " + name, name in r.body, name)
    trig = [l for l in r.body.split("\n")
            if l.startswith("belfry_triggers_total ")]
    check("triggers counted", trig and int(trig[0].split()[1]) >= 25, trig)

    # ---- belfryctl ----
    rc, out, err = ctl(S, "status")
    check("belfryctl status", rc == 0 and json.loads(out or "{}").get(
        "version"), (rc, out, err))
    rc, out, err = ctl(S, "get", "/v1/users/u1")
    check("belfryctl get", rc == 0 and '"Ada"' in out, (rc, out, err))
    rc, out, err = ctl(S, "put", "/v1/users/ctl1", '{"name": "Ctl"}')
    check("belfryctl put", rc == 0 and '"Ctl"' in out, (rc, out, err))
    rc, out, err = ctl(S, "put", "/v1/users/ctl2", "-",
                       stdin='{"name": "Stdin"}')
    check("belfryctl put from stdin", rc == 0 and "Stdin" in out,
          (rc, out, err))
    rc, out, err = ctl(S, "get", "/v1/users/nobody")
    check("belfryctl get 404: exit 1, error on stderr",
          rc == 1 and out == "" and "resource_missing" in err,
          (rc, out, err))
    rc, out, err = ctl(S, "trigger", "instant", "--recipients",
                       "ctl1,u2", "--actor", "u1", "--tenant", "t1",
                       "--data", '{"comment_id": "c-ctl"}',
                       "--cancellation-key", "ck1")
    check("belfryctl trigger", rc == 0 and "workflow_run_id" in out,
          (rc, out, err))
    r = req("GET", "/v1/users/ctl1/feeds/in-app")
    check("belfryctl trigger's message", "c-ctl" in r.body, r)
    rc, out, err = ctl(S, "trigger", "instant", "--recipients", "u1")
    check("belfryctl trigger 422", rc == 1 and "invalid_params" in err,
          (rc, out, err))
    rc, out, err = ctl(S, "trigger", "instant", "--recipients", "u1",
                       "--data", "{bad")
    check("belfryctl trigger bad --data", rc == 1 and "--data" in err,
          (rc, out, err))
    rc, out, err = ctl(S, "delete", "/v1/users/ctl2")
    check("belfryctl delete", rc == 0 and out == "", (rc, out, err))
    rc, out, err = ctl(os.path.join(tmp, "none.sock"), "status")
    check("belfryctl without a daemon", rc == 1 and
          "cannot connect" in err, (rc, out, err))
    rc, out, err = ctl(None, "check", "-c", conf)
    check("belfryctl check ok", rc == 0 and out.strip() == "ok",
          (rc, out, err))
    rc, out, err = ctl(S, "get")
    check("belfryctl get without a path exits 2", rc == 2, (rc, out, err))
    rc, out, err = ctl(S, "trigger", "instant", "--bogus", "x")
    check("belfryctl trigger --bogus exits 2", rc == 2, (rc, out, err))
    rc, out, err = ctl(None, "bogus")
    check("belfryctl unknown command exits 2", rc == 2, (rc, out, err))
    env_rc = subprocess.run([BELFRYCTL, "status"], capture_output=True,
                            text=True, env=dict(os.environ,
                                                BELFRY_SOCKET=S))
    check("belfryctl uses $BELFRY_SOCKET", env_rc.returncode == 0,
          env_rc.stderr)

    # ---- reload: SIGHUP and POST /admin/reload ----
    bad = os.path.join(conf, "workflows", "broken.json")
    with open(bad, "w") as f:
        f.write('{\n  "key": "broken",\n  "steps": [\n    {"ref": }\n  ]\n}\n')
    rc, out, err = ctl(None, "check", "-c", conf)
    check("belfryctl check names file:line:column",
          rc == 1 and err.startswith(bad + ":4:") and out == "",
          (rc, out, err))
    d.proc.send_signal(signal.SIGHUP)
    m = d.wait_for("RELOADING=1")
    check("SIGHUP: RELOADING=1 with MONOTONIC_USEC",
          m is not None and "MONOTONIC_USEC=" in m, m)
    m = d.wait_for("READY=1")
    check("SIGHUP: READY=1 after a refused reload", m is not None, m)
    check("bad reload logged with file:line:column",
          "broken.json:4:" in d.log_text(), d.log_text()[-1500:])
    r = req("GET", "/admin/status")
    check("old config stays",
          (r.json() or {}).get("workflows") == SHIPPED + 2, r)
    r = req("POST", "/v1/workflows/instant/trigger",
            {"recipients": ["u1"], "data": {"comment_id": "after-bad"}})
    check("old config still triggers", r.status == 200, r)
    r = req("POST", "/admin/reload")
    j = error_shape("POST /admin/reload refused: 422", r, 422,
                    "invalid_config")
    check("reload error names the file", j is not None and
          "broken.json:4:" in j["message"], j)
    d.wait_for("READY=1", 5)
    rc, out, err = ctl(S, "reload")
    check("belfryctl reload refused: exit 1, file:line:column",
          rc == 1 and err.startswith(bad) and "broken.json:4:" in err,
          (rc, out, err))
    d.wait_for("READY=1", 5)

    with open(bad, "w") as f:
        json.dump({"key": "broken", "steps": [
            {"ref": "feed", "type": "channel", "channel": "in-app",
             "template": {"markdown": "fixed {{ data.n }}"}}]}, f)
    d.proc.send_signal(signal.SIGHUP)
    check("SIGHUP (good): RELOADING=1", d.wait_for("RELOADING=1") is not None)
    check("SIGHUP (good): READY=1", d.wait_for("READY=1") is not None)
    r = req("GET", "/admin/status")
    check("new config in force",
          (r.json() or {}).get("workflows") == SHIPPED + 3, r)
    r = req("POST", "/v1/workflows/broken/trigger",
            {"recipients": ["u1"], "data": {"n": 7}})
    check("new workflow triggers", r.status == 200, r)
    r = req("GET", "/v1/users/u1/feeds/in-app")
    check("new workflow's message", "fixed 7" in r.body, r)
    r = req("POST", "/admin/reload")
    check("POST /admin/reload ok", r.status == 200 and
          (r.json() or {}).get("workflows") == SHIPPED + 3, r)
    d.wait_for("READY=1", 5)
    rc, out, err = ctl(S, "reload")
    check("belfryctl reload", rc == 0, (rc, out, err))
    d.wait_for("READY=1", 5)
    check("database survived the reloads",
          req("GET", "/v1/users/u1").status == 200)

    # ---- the socket: refusals and a stale socket ----
    regular = os.path.join(tmp, "regular.sock")
    with open(regular, "w") as f:
        f.write("not a socket\n")
    o = Daemon(tmp, "regular", conf, ["--socket", regular], notify=False)
    others.append(o)
    code = o.wait_exit()
    check("a regular file at the socket path is refused",
          code not in (None, 0) and "not a socket" in o.log_text(),
          (code, o.log_text()))
    with open(regular) as f:
        check("the regular file is untouched", f.read() == "not a socket\n")

    o = Daemon(tmp, "twin", conf, ["--socket", S], notify=False)
    others.append(o)
    code = o.wait_exit()
    check("a live socket is refused (another belfryd)",
          code not in (None, 0) and "another belfryd" in o.log_text(),
          (code, o.log_text()))
    check("the live daemon still answers",
          req("GET", "/admin/status").status == 200)

    if PG:
        skip("a database in use is refused", "PostgreSQL's nodes share "
             "their database by design")
    else:
        o = Daemon(tmp, "samedb", conf, ["--database", d.argv[d.argv.index(
            "--database") + 1], "--listen", ""], notify=False)
        others.append(o)
        code = o.wait_exit()
        check("a database in use is refused (another belfryd)",
              code not in (None, 0) and "is in use by another process" in
              o.log_text(), (code, o.log_text()))
    check("the live daemon still writes",
          req("PUT", "/v1/users/after-twin", {"name": "A"}).status == 200)

    stale = os.path.join(tmp, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    o = Daemon(tmp, "stale", conf, ["--socket", stale, "--listen", ""],
               notify=False)
    others.append(o)
    check("a stale socket is replaced", o.wait_socket(),
          o.log_text())
    r = curl(stale, "GET", "/admin/status")
    check("the replacement daemon answers", r.status == 200 and
          (r.json() or {}).get("virtual_clock") is False, r)
    r = curl(stale, "POST", "/admin/clock", {"advance_by_seconds": 1})
    error_shape("POST /admin/clock on the wall clock: 404", r, 404,
                "not_found")
    o.proc.send_signal(signal.SIGTERM)
    check("second daemon exits 0", o.wait_exit() == 0, o.log_text())
    check("its socket is removed", not os.path.exists(stale))

    o = Daemon(tmp, "watchdog", conf, ["--listen", ""],
               env={"WATCHDOG_USEC": "200000"})
    others.append(o)
    check("watchdog daemon ready", o.wait_for("READY=1") is not None,
          o.log_text())
    check("WATCHDOG=1 with WATCHDOG_USEC set",
          o.wait_for("WATCHDOG=1", 5) is not None, o.log_text())
    o.proc.send_signal(signal.SIGTERM)
    check("watchdog daemon: STOPPING=1", o.wait_for("STOPPING=1")
          is not None)
    check("watchdog daemon exits 0", o.wait_exit() == 0, o.log_text())

    o = Daemon(tmp, "public", conf, ["--listen", "0.0.0.0:%d" % free_port()],
               notify=False)
    others.append(o)
    code = o.wait_exit()
    check("a non-loopback listen address is refused",
          code not in (None, 0) and "only loopback" in o.log_text(),
          (code, o.log_text()))
    check("the refused start left no socket", not os.path.exists(o.sock))
    o = Daemon(tmp, "busy", conf, ["--listen", "127.0.0.1:%d" % port],
               notify=False)
    others.append(o)
    code = o.wait_exit()
    check("a TCP port in use is fatal",
          code not in (None, 0) and "listen on" in o.log_text(),
          (code, o.log_text()))
    check("the failed start removed its socket", not os.path.exists(o.sock))

    badconf = os.path.join(tmp, "badconf")
    shutil.copytree(conf, badconf)
    with open(os.path.join(badconf, "belfry.conf"), "w") as f:
        f.write('{\n  "socket": "/x",\n  "bogus": 1\n}\n')
    o = Daemon(tmp, "badconf", badconf, notify=False)
    others.append(o)
    code = o.wait_exit()
    check("a bad config is fatal with file:line:column",
          code not in (None, 0) and "belfry.conf:3:" in o.log_text() and
          "<3>" in o.log_text(), (code, o.log_text()))

    if PG:
        skip("a failed commit (fsync failing in the daemon) and the feed "
             "heads it held", "SQLite's file is synced by the daemon and its "
             "feed heads are written behind; PostgreSQL syncs on the server "
             "and keeps no heads (test_cluster.py restarts the server)")
    else:
        commit_failure(tmp, conf, others)

    # ---- SIGTERM ----
    d.proc.send_signal(signal.SIGTERM)
    m = d.wait_for("STOPPING=1")
    check("STOPPING=1 on SIGTERM", m is not None, m)
    code = d.wait_exit()
    check("SIGTERM: exit 0", code == 0, code)
    check("socket removed at exit", not os.path.exists(S))
    check("log lines carry priorities", all(
        l[:3] in ("<3>", "<4>", "<6>", "<7>")
        for l in d.log_text().splitlines() if l), d.log_text()[-500:])


if __name__ == "__main__":
    sys.exit(main())
