#!/usr/bin/env python3
"""Benchmark of the real-time feed: a real belfryd with 1,000 open
websockets, each joined to its own user's feed, beside the trigger
baseline measured in the same run.

    tests/bench/bench_feed.py BUILD_DIR

BENCH_ROUNDS (5) alternating rounds, medians:
  - baseline: 1-recipient triggers per second at 8 connections
    (bench_api over the Unix socket) with no socket open; the recipients
    cycle over u0..u999 (BENCH_API_MOD);
  - the same with 1,000 websockets open and joined (feeds:in-app:uN,
    Phoenix v2, as @knocklabs/client joins), every trigger giving one of
    them a push: triggers per second, its ratio to the baseline, and the
    new-message pushes received per second meanwhile;
  - a burst: one trigger to all 1,000 users; the time until every socket
    has its new-message, as pushes per second.

Beside each trigger rate, the daemon's CPU time per trigger (from
/proc), which the disk's fsync rate moves less than the rate.

Knobs: BENCH_SECONDS (3), BENCH_SOCKETS (1000), BENCH_ROUNDS (5).
"""

import asyncio
import base64
import json
import os
import resource
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))
from test_daemon import free_port  # noqa: E402

B = sys.argv[1] if len(sys.argv) > 1 else "build"
SECS = float(os.environ.get("BENCH_SECONDS", "3"))
N = int(os.environ.get("BENCH_SOCKETS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PK = "pk_bench_feed_public"
SK = "sk_bench_feed_server"


class Sock:
    """One websocket client joined to uN's feed, counting pushes."""

    def __init__(self, user):
        self.user = user
        self.pushes = 0
        self.last = 0.0
        self.joined = asyncio.Event()

    async def open(self, port):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.w.write(("GET /ws/v1/websocket?api_key=%s&vsn=2.0.0 HTTP/1.1\r\n"
                      "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade"
                      "\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: "
                      "13\r\n\r\n" % (PK, key)).encode())
        head = await self.r.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("no upgrade: %r" % head[:80])
        self.task = asyncio.ensure_future(self.read())
        self.send(["1", "1", "feeds:in-app:" + self.user, "phx_join",
                   {"client_1": {"archived": "exclude"}}])
        await self.joined.wait()

    def send(self, msg):
        data = json.dumps(msg).encode()
        hdr = bytes([0x81, 0x80 | len(data)]) if len(data) < 126 else \
            bytes([0x81, 0x80 | 126]) + struct.pack(">H", len(data))
        self.w.write(hdr + b"\0\0\0\0" + data)

    async def read(self):
        try:
            while True:
                h = await self.r.readexactly(2)
                n = h[1] & 0x7f
                if n == 126:
                    n = struct.unpack(">H", await self.r.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", await self.r.readexactly(8))[0]
                data = await self.r.readexactly(n)
                if h[0] & 0x0f != 1:
                    continue
                m = json.loads(data)
                if m[3] == "phx_reply" and m[1] == "1":
                    self.joined.set()
                elif m[3] == "new-message":
                    self.pushes += 1
                    self.last = time.monotonic()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    def close(self):
        self.task.cancel()
        self.w.close()


def cpu(pid):
    """The daemon's CPU seconds so far (user + system)."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def bench_api(sock, secs, pid):
    """Triggers per second at 8 connections, recipients u0..uN-1, and
    the daemon's CPU microseconds per trigger."""
    env = dict(os.environ, BENCH_API_MOD=str(N))
    c0 = cpu(pid)
    out = subprocess.run(
        [os.path.join(B, "tests/bench/bench_api"), sock, "8", str(secs),
         "POST", "/v1/workflows/bench/trigger",
         '{"recipients":["u%d"],"actor":"bob","data":{"what":"x"}}'],
        capture_output=True, text=True, env=env, check=True).stdout
    ok = int(out.split("ok=")[1].split()[0])
    return float(out.split("rate=")[1]), (cpu(pid) - c0) * 1e6 / max(ok, 1)


def trigger_all(port):
    """One trigger to u0..uN-1 over TCP with the server key."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/workflows/bench/trigger", json.dumps({
        "recipients": ["u%d" % i for i in range(N)], "actor": "bob",
        "data": {"what": "burst"}}), {"Authorization": "Bearer " + SK,
                                      "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


async def round_with_sockets(port, sock, pid):
    socks = [Sock("u%d" % i) for i in range(N)]
    t0 = time.monotonic()
    for i in range(0, N, 100):
        await asyncio.gather(*(s.open(port) for s in socks[i:i + 100]))
    opened = time.monotonic() - t0
    loop = asyncio.get_running_loop()
    rate, us = await loop.run_in_executor(None, bench_api, sock, SECS, pid)
    # Past the pushes' 500 ms gap, so that the burst is sent at once.
    await asyncio.sleep(1.0)
    got = sum(s.pushes for s in socks)
    before = [s.pushes for s in socks]
    t0 = time.monotonic()
    st = await loop.run_in_executor(None, trigger_all, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(
            s.pushes == b for s, b in zip(socks, before)):
        await asyncio.sleep(0.005)
    burst = max(s.last for s in socks) - t0
    missing = sum(1 for s, b in zip(socks, before) if s.pushes == b)
    for s in socks:
        s.close()
    await asyncio.sleep(0.3)
    return rate, us, got / SECS, burst, missing, opened, st


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="belfry-bench-feed-")
    port = free_port()
    os.makedirs(os.path.join(tmp, "conf", "workflows"))
    with open(os.path.join(tmp, "conf", "belfry.conf"), "w") as f:
        json.dump({"listen": "127.0.0.1:%d" % port, "api_keys": [SK],
                   "public_api_keys": [PK], "max_connections": N + 200,
                   "channels": {"in-app": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(tmp, "conf", "workflows", "bench.json"), "w") as f:
        json.dump({"key": "bench", "steps": [
            {"ref": "feed", "type": "channel", "channel": "in-app",
             "template": {"markdown": "{{ actor.name }} did "
                          "{{ data.what }}"}}]}, f)
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
        base, live, pushes, bursts, opens = [], [], [], [], []
        bcpu, lcpu = [], []
        for _ in range(ROUNDS):
            rate, us = bench_api(sock, SECS, d.pid)
            base.append(rate)
            bcpu.append(us)
            rate, us, pps, burst, missing, opened, st = asyncio.run(
                round_with_sockets(port, sock, d.pid))
            lcpu.append(us)
            if missing or st != 200:
                print("bench_feed: %d sockets missed the burst (trigger "
                      "%d)" % (missing, st))
                return 1
            live.append(rate)
            pushes.append(pps)
            bursts.append(burst)
            opens.append(opened)
        b, l = statistics.median(base), statistics.median(live)
        bc, lc = statistics.median(bcpu), statistics.median(lcpu)
        burst = statistics.median(bursts)
        print("feed sockets (median of %d alternating rounds x %gs, %d "
              "sockets, this machine: %d cores)" % (ROUNDS, SECS, N,
                                                    os.cpu_count()))
        print("  baseline: triggers, 1 recipient, 8 conns, no socket "
              "%8.0f /s  %6.1f us CPU each" % (b, bc))
        print("  the same with %d sockets joined          %8.0f /s  "
              "%6.1f us CPU each  %.2fx baseline rate, %.2fx its CPU" %
              (N, l, lc, l / b if b else 0, lc / bc if bc else 0))
        print("  rounds: baseline %s, with sockets %s" % (
            " ".join("%.0f" % x for x in base),
            " ".join("%.0f" % x for x in live)))
        print("  new-message pushes received meanwhile   %8.0f /s" %
              statistics.median(pushes))
        print("  one trigger to all %d: every push in   %8.1f ms  = %.0f "
              "pushes/s" % (N, burst * 1000, N / burst if burst else 0))
        print("  opening and joining %d sockets          %8.1f ms" %
              (N, statistics.median(opens) * 1000))
        return 0
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(20)
        log.close()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
