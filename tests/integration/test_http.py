#!/usr/bin/env python3
"""belfryd's HTTP server side against hostile and odd clients: the real
daemon, raw sockets, its fd hard limit at 1024.

    tests/integration/test_http.py BUILD_DIR

- a flood of 1100 idle TCP connections: /admin/status on the Unix socket
  answers within 100 ms throughout, the CPU is not pegged, the log is not
  flooded, the cap is lowered to fit the fd limit and said so; accept
  failing (EMFILE, the soft limit lowered under the daemon) backs off;
- 20 unauthenticated connections sending 32 MiB bodies get 401 without
  their bodies being read, and RSS stays bounded; large authorized bodies
  give their memory back;
- deadlines: a header block dripped a line a second is cut off with 408
  at header_timeout, a dripped body at body_timeout, a silent connection
  and an idle kept-alive one are closed;
- framing: two different Content-Length values, malformed ones,
  oversize bodies (from Content-Length, before the body; chunked),
  transfer codings, malformed request lines and headers, each with its
  Knock-shaped error and status;
- keep-alive (HTTP/1.1, Connection: close, HTTP/1.0), pipelined requests
  answered in order, HEAD, max_connections;
- the limits in belfry.conf are checked by belfryctl check.

The deadlines are wall-clock network deadlines, so this test uses short
real ones (2-3 s).  Prints one line per failed check and ends with
"http: N passed, M failed".
"""

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from belfrytest import (SCALE, Checks, UnixConnection,  # noqa: E402
                        keep_or_remove)

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
BELFRYD = os.path.join(BUILD, "belfryd")
BELFRYCTL = os.path.join(BUILD, "belfryctl")
KEY = "sk_test_http_0123456789"
AUTH = b"Authorization: Bearer " + KEY.encode() + b"\r\n"
MIB = 1024 * 1024
LIMIT = 10 * MIB

check = Checks()
# Under AddressSanitizer freed memory sits in its quarantine: no RSS bounds.
ASAN = b"libasan" in subprocess.run(["ldd", BELFRYD],
                                    capture_output=True).stdout


def free_port():
    """A TCP port that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_conf(conf, port, extra):
    """A config dir: an API key, the TCP listener, one in-app workflow."""
    os.makedirs(os.path.join(conf, "workflows"), exist_ok=True)
    c = {"listen": "127.0.0.1:%d" % port, "api_keys": [KEY],
         "channels": {"in-app": {"type": "in_app_feed"}}}
    c.update(extra)
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump(c, f)
    with open(os.path.join(conf, "workflows", "feed.json"), "w") as f:
        json.dump({"key": "feed", "steps": [
            {"ref": "feed", "type": "channel", "channel": "in-app",
             "template": {"markdown": "hi"}}]}, f)


def limit_fds():
    """In the daemon's child before exec: at most 1024 open files."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


class Daemon:
    """belfryd on a private socket and database, fd hard limit 1024."""

    def __init__(self, tmp, name, extra):
        self.port = free_port()
        self.conf = os.path.join(tmp, name + "-conf")
        write_conf(self.conf, self.port, extra)
        self.sock = os.path.join(tmp, name + ".sock")
        self.log = os.path.join(tmp, name + ".log")
        self.logf = open(self.log, "ab")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen(
            [BELFRYD, "-c", self.conf, "--socket", self.sock, "--database",
             os.path.join(tmp, name + ".db"), "--virtual-clock",
             "2026-03-01T12:00:00Z"],
            stdout=self.logf, stderr=self.logf, env=env,
            preexec_fn=limit_fds)
        deadline = time.time() + 20
        self.up = False
        while time.time() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         0.5).close()
                self.up = True
                break
            except OSError:
                time.sleep(0.02)

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def log_lines(self):
        return len(self.log_text().splitlines())

    def cpu(self):
        """CPU seconds used so far (utime + stime)."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / \
            os.sysconf("SC_CLK_TCK")

    def rss(self):
        """Resident memory in MiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def status(self, timeout=5):
        """GET /admin/status on a new Unix connection: (status, seconds)."""
        t0 = time.time()
        c = UnixConnection(self.sock, timeout=timeout)
        try:
            c.request("GET", "/admin/status")
            r = c.getresponse()
            r.read()
            return r.status, time.time() - t0
        except OSError:
            return 0, time.time() - t0
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


class Conn:
    """A raw client connection that reads HTTP replies one by one."""

    def __init__(self, d, tcp=True, timeout=10):
        if tcp:
            self.s = socket.create_connection(("127.0.0.1", d.port),
                                              timeout)
        else:
            self.s = socket.socket(socket.AF_UNIX)
            self.s.settimeout(timeout)
            self.s.connect(d.sock)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _more(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def reply(self, head_only=False):
        """The next reply: (status, {lower-case name: value}, body);
        (0, {}, reason) when none came."""
        try:
            while b"\r\n\r\n" not in self.buf:
                self._more()
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode(errors="replace").split("\r\n")
            hdrs = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            n = 0 if head_only else int(hdrs.get("content-length", "0"))
            while len(self.buf) < n:
                self._more()
            body, self.buf = self.buf[:n], self.buf[n:]
            return int(lines[0].split()[1]), hdrs, body.decode(
                errors="replace")
        except (EOFError, OSError, ValueError, IndexError) as e:
            return 0, {}, repr(e)

    def closed(self, wait=2.0):
        """Whether the daemon closes the connection within wait seconds
        (reading and dropping anything else)."""
        self.s.settimeout(wait)
        try:
            while True:
                if not self.s.recv(65536):
                    return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.s.close()


def req(method, path, body=b"", headers=b"", host=True, version=b"1.1"):
    """A raw request with Content-Length when there is a body."""
    h = b"%s %s HTTP/%s\r\n" % (method.encode(), path.encode(), version)
    if host:
        h += b"Host: belfry\r\n"
    if body:
        h += b"Content-Length: %d\r\n" % len(body)
    return h + headers + b"\r\n" + body


def is_error(r, status, code=None):
    """r is Knock's error shape with status (and code)."""
    st, hdrs, body = r
    try:
        j = json.loads(body)
    except ValueError:
        return False
    return (st == status and hdrs.get("content-type") == "application/json"
            and isinstance(j, dict) and sorted(j) == ["code", "message",
                                                      "status", "type"]
            and j["status"] == status and (code is None or j["code"] == code)
            and j["message"] != "")


def one(d, data, tcp=True):
    """Send data on a new connection: (its reply, closed afterwards)."""
    c = Conn(d, tcp)
    try:
        c.send(data)
        r = c.reply()
        return r, c.closed()
    finally:
        c.close()


# ---- a flood at the fd limit ----

def flood(tmp):
    d = Daemon(tmp, "flood", {})
    if not check("flood: daemon up", d.up, d.log_text()[-800:]):
        d.stop()
        return
    conns = []
    try:
        check("flood: max_connections lowered to fit 1024 descriptors, "
              "and said so", "max_connections 1024 lowered to 352" in
              d.log_text(), d.log_text()[-800:])
        lines0 = d.log_lines()
        for _ in range(1100):
            conns.append(socket.create_connection(("127.0.0.1", d.port),
                                                  5))
        cpu0, t0 = d.cpu(), time.time()
        worst, bad = 0.0, []
        while time.time() - t0 < 5:
            st, secs = d.status()
            worst = max(worst, secs)
            if st != 200:
                bad.append(st)
            time.sleep(0.05)
        cpu = (d.cpu() - cpu0) / (time.time() - t0)
        print("flood: worst /admin/status %.1f ms, daemon CPU %.1f%%" %
              (worst * 1000, cpu * 100))
        check("flood: /admin/status answers within 100 ms throughout",
              not bad and worst < 0.1 * SCALE, (bad[:5], worst))
        check("flood: the CPU is not pegged", cpu < 0.25 * SCALE, cpu)
        check("flood: the log is not flooded",
              d.log_lines() - lines0 <= 3, d.log_text()[-1500:])
        check("flood: the cap is logged", "352 connections open, "
              "max_connections" in d.log_text(), d.log_text()[-800:])
        for s in conns:
            s.close()
        conns = []
        time.sleep(0.3)
        r, _ = one(d, req("GET", "/admin/status", headers=AUTH))
        check("flood: TCP serves again once the flood is gone",
              r[0] == 200, r)

        # accept failing: the soft limit lowered under the running daemon
        keep = Conn(d, tcp=False)
        resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (200, 1024))
        lines0 = d.log_lines()
        for _ in range(400):
            conns.append(socket.create_connection(("127.0.0.1", d.port),
                                                  5))
        cpu0, t0 = d.cpu(), time.time()
        worst, bad = 0.0, []
        while time.time() - t0 < 3:
            t1 = time.time()
            keep.send(req("GET", "/admin/status"))
            r = keep.reply()
            worst = max(worst, time.time() - t1)
            if r[0] != 200:
                bad.append(r[0])
            time.sleep(0.05)
        cpu = (d.cpu() - cpu0) / (time.time() - t0)
        print("EMFILE: worst /admin/status %.1f ms, daemon CPU %.1f%%" %
              (worst * 1000, cpu * 100))
        check("EMFILE: a kept admin connection answers within 100 ms",
              not bad and worst < 0.1 * SCALE, (bad[:5], worst))
        check("EMFILE: accept backs off (CPU not pegged)", cpu < 0.25 * SCALE,
              cpu)
        text = d.log_text()
        check("EMFILE: said once, not per accept",
              d.log_lines() - lines0 <= 3 and
              "accept: Too many open files: not accepting for 100 ms" in
              text, text[-1500:])
        resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (1024, 1024))
        for s in conns:
            s.close()
        conns = []
        keep.close()
        time.sleep(0.5)
        st, _ = d.status()
        check("EMFILE: the admin socket accepts again", st == 200, st)
    finally:
        for s in conns:
            s.close()
        d.stop()


# ---- large bodies and memory ----

def send_unauthorized_body(d, size, out):
    """Send a head announcing size bytes and the body until a reply
    comes; appends (status, bytes of body sent) to out."""
    s = socket.create_connection(("127.0.0.1", d.port), 20)
    sent = 0
    chunk = b"x" * (256 * 1024)
    try:
        s.sendall(b"POST /v1/workflows/feed/trigger HTTP/1.1\r\nHost: b\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % size)
        s.setblocking(False)
        buf = b""
        deadline = time.time() + 20
        while b"\r\n\r\n" not in buf and time.time() < deadline:
            try:
                got = s.recv(65536)
                if not got:
                    break
                buf += got
                continue
            except BlockingIOError:
                pass
            except OSError:
                break
            if sent < size:
                try:
                    sent += s.send(chunk[:size - sent])
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError:
                    # Reset once the daemon closed: read what it said.
                    s.setblocking(True)
                    s.settimeout(2)
                    try:
                        buf += s.recv(65536)
                    except OSError:
                        pass
                    break
            else:
                time.sleep(0.01)
        st = int(buf.split(b" ", 2)[1]) if buf.startswith(b"HTTP/") else 0
        out.append((st, sent))
    finally:
        s.close()


def memory(tmp):
    d = Daemon(tmp, "memory", {})
    if not check("memory: daemon up", d.up, d.log_text()[-800:]):
        d.stop()
        return
    try:
        one(d, req("GET", "/admin/status", headers=AUTH))
        base = d.rss()
        out, peak = [], [base]
        threads = [threading.Thread(target=send_unauthorized_body,
                                    args=(d, 32 * MIB, out))
                   for _ in range(20)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak.append(d.rss())
            time.sleep(0.02)
        for t in threads:
            t.join()
        time.sleep(0.5)
        after = d.rss()
        print("32 MiB x 20 unauthenticated: RSS %.1f -> peak %.1f -> %.1f "
              "MiB; body bytes sent per client: %d-%d" % (
                  base, max(peak), after, min(n for _, n in out),
                  max(n for _, n in out)))
        check("32 MiB unauthenticated bodies: 20 x 401",
              [st for st, _ in out] == [401] * 20, out)
        check("32 MiB unauthenticated bodies: not read (less than 16 MiB "
              "of each sent)", all(n < 16 * MIB for _, n in out),
              [n for _, n in out])
        if not ASAN:
            check("32 MiB unauthenticated bodies: RSS stays within +30 MB",
                  max(peak) - base < 30, (base, max(peak)))
            check("32 MiB unauthenticated bodies: RSS goes back",
                  after - base < 10, (base, after))

        # Authorized bodies just under the limit: read, parsed, answered,
        # and their memory handed back.
        body = json.dumps({"recipients": ["u1"],
                           "data": {"pad": "x" * (9 * MIB)}}).encode()
        res = []

        def big():
            r, _ = one(d, req("POST", "/v1/workflows/nope/trigger", body),
                       tcp=False)
            res.append(r[0])
        threads = [threading.Thread(target=big) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(0.5)
        after = d.rss()
        print("9 MiB x 8 authorized: RSS %.1f -> %.1f MiB" % (base, after))
        check("9 MiB bodies: 8 answers (404 workflow_missing)",
              res == [404] * 8, res)
        if not ASAN:
            check("9 MiB bodies: memory given back (RSS within +30 MB)",
                  after - base < 30, (base, after))
    finally:
        d.stop()


# ---- deadlines, framing, keep-alive ----

def deadlines(d):
    # A head dripped one line a second: cut off at header_timeout (2 s).
    c = Conn(d)
    t0 = time.time()
    c.send(b"GET /admin/status HTTP/1.1\r\nHost: b\r\n")
    r, i = None, 0
    c.s.settimeout(1)
    while i < 8:
        try:
            c.send(b"X-Drip-%d: y\r\n" % i)
        except OSError:
            break
        i += 1
        try:
            data = c.s.recv(65536)
            c.buf += data
            if not data or b"\r\n\r\n" in c.buf:
                break
        except socket.timeout:
            pass
    c.s.settimeout(5)
    r = c.reply()
    took = time.time() - t0
    check("dripped head: 408 request_timeout", is_error(r, 408,
                                                        "request_timeout"),
          r)
    check("dripped head: at header_timeout (2 s), not after the drip",
          1.5 < took < 4.5, took)
    check("dripped head: then closed", c.closed(), "open")
    c.close()

    # A dripped body: cut off at body_timeout (2 s).
    c = Conn(d)
    t0 = time.time()
    c.send(b"PUT /v1/users/drip HTTP/1.1\r\nHost: b\r\n" + AUTH +
           b"Content-Length: 100\r\n\r\n{\"name\"")
    c.s.settimeout(1)
    for i in range(8):
        try:
            c.send(b" ")
            data = c.s.recv(65536)
            c.buf += data
            if not data or b"\r\n\r\n" in c.buf:
                break
        except socket.timeout:
            pass
        except OSError:
            break
    c.s.settimeout(5)
    r = c.reply()
    took = time.time() - t0
    check("dripped body: 408 request_timeout",
          is_error(r, 408, "request_timeout") and "body" in r[2], r)
    check("dripped body: at body_timeout (2 s)", 1.5 < took < 4.5, took)
    c.close()

    # A connection that says nothing is closed at header_timeout, silently.
    c = Conn(d)
    t0 = time.time()
    r = c.reply()
    took = time.time() - t0
    check("silent connection: closed without a reply at header_timeout",
          r[0] == 0 and 1.5 < took < 4.5, (r, took))
    c.close()

    # An idle kept-alive connection is closed at idle_timeout (3 s).
    c = Conn(d)
    c.send(req("GET", "/admin/status", headers=AUTH))
    r = c.reply()
    t0 = time.time()
    closed = c.closed(8)
    took = time.time() - t0
    check("idle keep-alive: answered, kept, then closed at idle_timeout",
          r[0] == 200 and closed and 2.5 < took < 5.5, (r[0], took))
    c.close()


def framing(d):
    put = b"PUT /v1/users/cl HTTP/1.1\r\nHost: b\r\n" + AUTH
    body = b'{"name": "C"}'
    r, closed = one(d, put + b"Content-Length: %d\r\nContent-Length: %d"
                    b"\r\n\r\n%s" % (len(body), len(body) + 5, body))
    check("two different Content-Length: 400", is_error(r, 400) and
          "Content-Length" in r[2] and closed, (r, closed))
    r, _ = one(d, put + b"Content-Length: %d, %d\r\n\r\n%s" %
               (len(body), len(body) + 1, body))
    check("Content-Length list of two values: 400", is_error(r, 400), r)
    r, _ = one(d, put + b"Content-Length: 1x\r\n\r\n" + body)
    check("malformed Content-Length: 400", is_error(r, 400) and
          "not a number" in r[2], r)
    r, _ = one(d, put + b"Content-Length: -1\r\n\r\n")
    check("negative Content-Length: 400", is_error(r, 400), r)
    r, _ = one(d, put + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n"
               b"%s" % (len(body), len(body), body))
    check("the same Content-Length twice: accepted", r[0] == 200, r)

    # Oversize, answered from the head before any body is sent.
    for size, name in ((LIMIT + 1, "10 MiB + 1"), (40 * MIB, "40 MiB"),
                       (10 ** 30, "10^30")):
        c = Conn(d)
        c.send(b"POST /v1/workflows/feed/trigger HTTP/1.1\r\nHost: b\r\n" +
               AUTH + b"Content-Length: %d\r\n\r\n" % size)
        r = c.reply()
        check("%s body: JSON 413 from the head" % name,
              is_error(r, 413, "request_too_large") and
              r[1].get("connection") == "close", r)
        c.close()
    big = os.path.join(d.tmp, "big.json")
    with open(big, "wb") as f:
        f.write(b'{"p": "' + b"x" * (LIMIT - 8) + b'"}')
    for extra, name in ((0, "10 MiB"), (1, "10 MiB + 1")):
        with open(big, "r+b") as f:
            f.truncate(LIMIT + extra)
            f.seek(LIMIT + extra - 2)
            f.write(b'"}')
        p = subprocess.run(
            ["curl", "-s", "-o", "-", "-w", "\n%{http_code}",
             "--unix-socket", d.sock, "-H", "Content-Type: application/json",
             "--data-binary", "@" + big, "http://b/v1/workflows/nope/trigger"],
            capture_output=True, timeout=60)
        code = p.stdout.rsplit(b"\n", 1)[-1]
        want = b"404" if extra == 0 else b"413"
        check("curl upload of %s: %s" % (name, want.decode()),
              code == want and b'"status":' + want in p.stdout,
              p.stdout[-300:])
    os.unlink(big)

    # chunked
    chunked = (b"PUT /v1/users/ch HTTP/1.1\r\nHost: b\r\n" + AUTH +
               b"Transfer-Encoding: chunked\r\n\r\n")
    r, closed = one(d, chunked + b"5\r\n{\"nam\r\n6;ext=1\r\ne\": \"C\r\n"
                    b"2\r\nh\"\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n")
    check("chunked body with an extension and a trailer: 200",
          r[0] == 200 and json.loads(r[2] or "{}").get("name") == "Ch" and
          not closed, (r, closed))
    c = Conn(d)
    c.send(chunked)
    sent = 0
    while sent < LIMIT + 2 * MIB:
        try:
            c.send(b"100000\r\n" + b"x" * MIB + b"\r\n")
            sent += MIB
        except OSError:
            break
        c.s.setblocking(False)
        try:
            c.buf += c.s.recv(65536)
        except (BlockingIOError, OSError):
            pass
        c.s.setblocking(True)
        if b"\r\n\r\n" in c.buf:
            break
    c.s.settimeout(5)
    r = c.reply()
    check("chunked body over 10 MiB: JSON 413", is_error(
        r, 413, "request_too_large"), r)
    c.close()
    r, _ = one(d, chunked.replace(b"chunked", b"gzip, chunked") + b"0\r\n\r\n")
    check("Transfer-Encoding gzip: 501 naming it", is_error(r, 501) and
          "gzip" in r[2], r)
    r, _ = one(d, chunked[:-2] + b"Content-Length: 3\r\n\r\n0\r\n\r\n")
    check("Transfer-Encoding and Content-Length: 400", is_error(r, 400), r)
    r, _ = one(d, chunked + b"zz\r\n")
    check("chunk size not hexadecimal: 400", is_error(r, 400), r)
    r, _ = one(d, chunked + b"2\r\nabc\r\n0\r\n\r\n")
    check("chunk longer than its size: 400", is_error(r, 400), r)

    # Malformed heads.
    cases = [
        (b"GARBAGE\r\n\r\n", 400, "a line without spaces"),
        (b"GET /admin/status\r\n\r\n", 400, "no version (HTTP/0.9)"),
        (b"GET  /admin/status HTTP/1.1\r\nHost: b\r\n\r\n", 400,
         "two spaces"),
        (b"GET /admin/status HTTP/1.1 x\r\nHost: b\r\n\r\n", 400,
         "a fourth word"),
        (b"GET /admin/status HTTP/2.0\r\nHost: b\r\n\r\n", 505,
         "HTTP/2.0"),
        (b"GET /admin/status HTTP/0.9\r\nHost: b\r\n\r\n", 505,
         "HTTP/0.9 spelt out"),
        (b"GET /admin/status HTTX/1.1\r\nHost: b\r\n\r\n", 400,
         "not HTTP"),
        (b"get /admin/status HTTP/1.1\r\nHost: b\r\n\r\n", 501,
         "a lower-case method"),
        (b"BREW /admin/status HTTP/1.1\r\nHost: b\r\n\r\n", 501,
         "an unknown method"),
        (b"GET admin HTTP/1.1\r\nHost: b\r\n\r\n", 400, "a relative target"),
        (b"GET /a\x01b HTTP/1.1\r\nHost: b\r\n\r\n", 400,
         "a control character in the target"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: b\r\n\r\n", 414,
         "a 9000-byte request line"),
        (b"GET /admin/status HTTP/1.1\r\nHost: b\r\n" +
         b"".join(b"X-%d: %s\r\n" % (i, b"v" * 1000) for i in range(70)) +
         b"\r\n", 431, "a 70 KiB header block"),
        (b"GET /admin/status HTTP/1.1\r\nHost: b\r\n" +
         b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n", 431,
         "101 header fields"),
        (b"GET /admin/status HTTP/1.1\r\nHost: b\r\nNoColon\r\n\r\n", 400,
         "a header without a colon"),
        (b"GET /admin/status HTTP/1.1\r\nHost: b\r\nBad Name: x\r\n\r\n",
         400, "a space in a header name"),
        (b"GET /admin/status HTTP/1.1\r\nHost : b\r\n\r\n", 400,
         "a space before the colon"),
        (b"GET /admin/status HTTP/1.1\r\nHost: b\r\nX: a\r\n  b\r\n\r\n",
         400, "obsolete line folding"),
        (b"GET /admin/status HTTP/1.1\r\nHost: b\r\nX: a\x00b\r\n\r\n", 400,
         "a NUL in a value"),
        (b"GET /admin/status HTTP/1.1\r\nHost: b\r\nX: a\rb\r\n\r\n", 400,
         "a bare CR"),
        (b"GET /admin/status HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"),
        (b"GET /admin/status HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
         "two Host headers"),
        (b"PUT /v1/users/x HTTP/1.1\r\nHost: b\r\nExpect: tea\r\n"
         b"Content-Length: 2\r\n\r\n{}", 417, "Expect: tea"),
    ]
    for data, status, name in cases:
        r, closed = one(d, data, tcp=False)
        check("malformed (%s): %d, then closed" % (name, status),
              is_error(r, status) and closed, (r, closed))

    # A path parameter that is not UTF-8 text names no recipient (either
    # backend: PostgreSQL could not store it), a UTF-8 one is kept.
    r, _ = one(d, req("PUT", "/v1/users/%FF", b"{}"), tcp=False)
    check("a path parameter that is not UTF-8: 404", is_error(r, 404), r)
    r, _ = one(d, req("PUT", "/v1/users/%C3%A9", b"{}"), tcp=False)
    check("a UTF-8 path parameter: 200", r[0] == 200, r)

    # Empty lines before a request are allowed; an absolute URL too.
    r, _ = one(d, b"\r\n\r\n" + req("GET", "/admin/status"), tcp=False)
    check("empty lines before the request line: 200", r[0] == 200, r)
    r, _ = one(d, req("GET", "http://belfry/admin/status"), tcp=False)
    check("absolute-form target: 200", r[0] == 200, r)
    r, _ = one(d, req("GET", "/v1/users/u%201"), tcp=False)
    check("a percent-decoded path", r[0] == 404 and "u 1" in r[2], r)
    r, _ = one(d, req("GET", "/v1/schedules?workflow=feed&page_size=%31"),
               tcp=False)
    check("a query string", r[0] == 200 and "entries" in r[2], r)
    r, _ = one(d, req("GET", "/v1/schedules?bogus=1"), tcp=False)
    check("an unknown query parameter: 422 from the head",
          is_error(r, 422, "invalid_params") and "bogus" in r[2], r)

    # 401 from the head, connection closed even without a body.
    r, closed = one(d, req("GET", "/v1/users/x"))
    check("no key over TCP: 401, closed", is_error(
        r, 401, "authentication_required") and closed, (r, closed))
    r, closed = one(d, req("GET", "/v1/users/x", headers=AUTH.replace(
        b"Bearer ", b"Bearer x")))
    check("a wrong key: 401", is_error(r, 401), r)

    # Expect: 100-continue gets its 100 before the body.
    c = Conn(d)
    c.send(put + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" %
           len(body))
    r1 = c.reply()
    c.send(body)
    r2 = c.reply()
    check("Expect: 100-continue: 100, then the answer",
          r1[0] == 100 and r2[0] == 200, (r1, r2))
    c.close()


def keepalive(d):
    c = Conn(d, tcp=False)
    c.send(req("GET", "/admin/status"))
    r1 = c.reply()
    c.send(req("PUT", "/v1/users/ka", b'{"name": "K"}'))
    r2 = c.reply()
    check("HTTP/1.1: two requests on one connection",
          r1[0] == 200 and r2[0] == 200 and
          r1[1].get("connection") is None, (r1, r2))
    c.send(req("GET", "/v1/users/ka", headers=b"Connection: close\r\n"))
    r = c.reply()
    check("Connection: close: answered whole, then closed",
          r[0] == 200 and json.loads(r[2]).get("name") == "K" and
          r[1].get("connection") == "close" and c.closed(), r)
    c.close()

    c = Conn(d, tcp=False)
    c.send(req("GET", "/admin/status", host=False, version=b"1.0"))
    r = c.reply()
    check("HTTP/1.0: answered, then closed", r[0] == 200 and
          r[1].get("connection") == "close" and c.closed(), r)
    c.close()
    c = Conn(d, tcp=False)
    c.send(req("GET", "/admin/status", host=False, version=b"1.0",
               headers=b"Connection: keep-alive\r\n"))
    r1 = c.reply()
    c.send(req("GET", "/admin/status", host=False, version=b"1.0",
               headers=b"Connection: keep-alive\r\n"))
    r2 = c.reply()
    check("HTTP/1.0 with keep-alive: kept", r1[0] == 200 and r2[0] == 200
          and r1[1].get("connection") == "keep-alive", (r1, r2))
    c.close()

    # HEAD: the headers of GET, no body; the next request still parses.
    c = Conn(d, tcp=False)
    c.send(req("HEAD", "/admin/status") + req("GET", "/nothing"))
    r1 = c.reply(head_only=True)
    r2 = c.reply()
    check("HEAD: 200 with a length and no body, then the next request",
          r1[0] == 200 and int(r1[1].get("content-length", "0")) > 0 and
          is_error(r2, 404), (r1, r2))
    c.close()

    # Pipelined: everything in one write, answered in order, each request
    # seeing the ones before it (batched and inline ones mixed).
    data = b""
    want = []
    for i in range(10):
        data += req("PUT", "/v1/users/p%d" % i,
                    json.dumps({"name": "P%d" % i}).encode())
        data += req("GET", "/v1/users/p%d" % i)
        data += req("GET", "/admin/status")
        want += [("P%d" % i), ("P%d" % i), None]
    data += req("POST", "/v1/tenants/t", b"{}")
    c = Conn(d, tcp=False)
    c.send(data)
    got = []
    for w in want:
        r = c.reply()
        j = json.loads(r[2] or "null") if r[0] == 200 else None
        got.append(j.get("name") if w is not None and j else
                   (None if r[0] == 200 else r[0]))
    r = c.reply()
    check("30 pipelined requests answered in order", got == want, got)
    check("a pipelined 405 with Allow after them", is_error(r, 405) and
          "GET" in r[1].get("allow", ""), r)
    c.close()


def capped(tmp):
    """max_connections 5: a sixth connection waits until one closes."""
    d = Daemon(tmp, "capped", {"max_connections": 5})
    if not check("capped: daemon up", d.up, d.log_text()[-800:]):
        d.stop()
        return
    try:
        idle = [Conn(d) for _ in range(5)]
        time.sleep(0.2)
        c = Conn(d)
        c.send(req("GET", "/admin/status", headers=AUTH))
        c.s.settimeout(0.5)
        try:
            early = c.s.recv(100)
        except socket.timeout:
            early = None
        check("max_connections 5: the sixth waits", early is None, early)
        idle[0].close()
        c.s.settimeout(5)
        r = c.reply()
        check("max_connections 5: answered once one closes", r[0] == 200, r)
        check("max_connections 5: logged", "5 connections open, "
              "max_connections" in d.log_text(), d.log_text()[-500:])
        for x in idle[1:] + [c]:
            x.close()
    finally:
        d.stop()


def metrics(d):
    c = UnixConnection(d.sock)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for code in (400, 401, 408, 413, 414, 431, 501, 505):
        check("metrics count %d replies" % code,
              'belfry_http_requests_total{code="%d"}' % code in text, code)


def config_checks(tmp):
    for extra, word in (({"header_timeout": 0}, "header_timeout"),
                        ({"body_timeout": 1.5}, "body_timeout"),
                        ({"idle_timeout": "60"}, "idle_timeout"),
                        ({"max_connections": 0}, "max_connections"),
                        ({"max_connections": 2000000}, "max_connections")):
        conf = os.path.join(tmp, "bad-" + word + str(len(os.listdir(tmp))))
        write_conf(conf, 1, extra)
        p = subprocess.run([BELFRYCTL, "check", "-c", conf],
                           capture_output=True, text=True)
        check("belfryctl check refuses %s" % json.dumps(extra),
              p.returncode == 1 and "belfry.conf:1:" in p.stderr and
              '"%s" must be an integer from' % word in p.stderr,
              (p.returncode, p.stderr))


def main():
    # The flood needs more than 1100 descriptors on this side.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not check("this test may open 1600 descriptors", hard == \
                 resource.RLIM_INFINITY or hard >= 1600, hard):
        return check.summary("http")
    tmp = tempfile.mkdtemp(prefix="belfry-http-")
    logs = []
    try:
        config_checks(tmp)
        d = Daemon(tmp, "main", {"header_timeout": 2, "body_timeout": 2,
                                 "idle_timeout": 3})
        d.tmp = tmp
        logs.append(d.log)
        try:
            if check("daemon up", d.up, d.log_text()[-800:]):
                framing(d)
                keepalive(d)
                deadlines(d)
                metrics(d)
                check("still running", d.proc.poll() is None)
        finally:
            d.stop()
        capped(tmp)
        memory(tmp)
        flood(tmp)
    finally:
        logs = [os.path.join(tmp, n) for n in sorted(os.listdir(tmp))
                if n.endswith(".log")]
        keep_or_remove(tmp, check.failed, logs)
    return check.summary("http")


if __name__ == "__main__":
    sys.exit(main())
