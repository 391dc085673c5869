#!/usr/bin/env python3
"""Outgoing deliveries per second, beside a raw libcurl multi baseline
measured in the same run against the same receivers.

    tests/bench/bench_outbound.py BUILD_DIR

- webhooks: a C receiver (bench_curl serve: evhttp, keep-alive, 200 {})
  on a loopback port, answering at once and, a second one, after
  BENCH_RECEIVER_MS (a service that does some work); baseline: bench_curl
  http, N POSTs at CONCURRENCY at once; belfry: triggers of 1000
  recipients into an http channel with max_sessions CONCURRENCY, timed
  from the first trigger until every delivery succeeded (/metrics), so
  the figure includes the engine's work (runs, messages, delivery rows,
  attempt records, their commits).
- emails: aiosmtpd (Debian's python3-aiosmtpd, its Sink handler) in a
  process of its own on a loopback port, plain SMTP; baseline: bench_curl
  smtp; belfry: an email channel with the same concurrency
  (BENCH_EMAIL_CONCURRENCY), users stored beforehand (untimed).

Each figure is the median of 3 runs, belfry's alternating with the
baseline's.  Knobs: BENCH_WEBHOOKS (5000), BENCH_EMAILS (2000),
BENCH_CONCURRENCY (16), BENCH_EMAIL_CONCURRENCY (4), BENCH_RECEIVER_MS
(5).
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from belfrytest import UnixConnection, free_port  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
CURL = os.path.join(BUILD, "tests", "bench", "bench_curl")
HOOKS = int(os.environ.get("BENCH_WEBHOOKS", "5000"))
EMAILS = int(os.environ.get("BENCH_EMAILS", "2000"))
CONC = int(os.environ.get("BENCH_CONCURRENCY", "16"))
SLOW_MS = int(os.environ.get("BENCH_RECEIVER_MS", "5"))
MAIL_CONC = int(os.environ.get("BENCH_EMAIL_CONCURRENCY", "4"))


def smtp_sink(port):
    """aiosmtpd's Sink handler in a process of its own (Debian's module
    path added for a python3 that is not Debian's)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (env.get("PYTHONPATH"), "/usr/lib/python3/dist-packages")
        if p)
    p = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l",
                          "127.0.0.1:%d" % port, "-c",
                          "aiosmtpd.handlers.Sink"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            return p
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    raise RuntimeError("aiosmtpd did not start")


def req(sock, method, path, body=None):
    """One request over the admin socket; (status, text)."""
    c = UnixConnection(sock)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, text


def successes(sock, channel):
    """belfry_delivery_successes_total of channel."""
    st, text = req(sock, "GET", "/metrics")
    key = 'belfry_delivery_successes_total{channel="%s",' % channel
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[-1])
    return 0


def belfry_rate(sock, workflow, channel, prefix, n):
    """Deliveries per second of n recipients prefix0..: from the first
    trigger until every delivery on channel succeeded."""
    base = successes(sock, channel)
    t0 = time.monotonic()
    for i in range(0, n, 1000):
        rc = ["%s%d" % (prefix, k) for k in range(i, min(n, i + 1000))]
        st, text = req(sock, "POST", "/v1/workflows/%s/trigger" % workflow,
                       {"recipients": rc})
        if st != 200:
            raise RuntimeError("trigger: %s %s" % (st, text))
    while successes(sock, channel) < base + n:
        if time.monotonic() - t0 > 300:
            raise RuntimeError("deliveries did not finish")
        time.sleep(0.005)
    return n / (time.monotonic() - t0)


def curl_rate(kind, url, n, conc):
    """The raw libcurl multi baseline: bench_curl's rate."""
    out = subprocess.run([CURL, kind, url, str(n), str(conc)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.split(": ")[1].split("/s")[0])


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-bench-out-")
    hport, slowport = free_port(), free_port()
    recv = subprocess.Popen([CURL, "serve", str(hport)],
                            stdout=subprocess.PIPE, text=True)
    recv.stdout.readline()
    slow = subprocess.Popen([CURL, "serve", str(slowport), str(SLOW_MS)],
                            stdout=subprocess.PIPE, text=True)
    slow.stdout.readline()
    sport = free_port()
    smtp = smtp_sink(sport)
    conf = os.path.join(tmp, "conf")
    os.makedirs(os.path.join(conf, "workflows"))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"channels": {
            "hook": {"type": "http", "url": "http://127.0.0.1:%d/in" % hport,
                     "max_sessions": CONC},
            "slow": {"type": "http", "url": "http://127.0.0.1:%d/in" %
                     slowport, "max_sessions": CONC},
            "mail": {"type": "email", "smtp_url": "smtp://127.0.0.1:%d" %
                     sport, "from": "Bench <bench@example.com>",
                     "starttls": "never", "max_sessions": MAIL_CONC}}}, f)
    with open(os.path.join(conf, "workflows", "hook.json"), "w") as f:
        json.dump({"key": "hook", "steps": [
            {"ref": "h", "type": "channel", "channel": "hook", "template":
             {"body": "{\"event\": \"deploy\", \"service\": \"api\", "
                      "\"to\": \"{{ recipient.id }}\"}"}}]}, f)
    with open(os.path.join(conf, "workflows", "slow.json"), "w") as f:
        json.dump({"key": "slow", "steps": [
            {"ref": "h", "type": "channel", "channel": "slow", "template":
             {"body": "{\"event\": \"deploy\", \"service\": \"api\", "
                      "\"to\": \"{{ recipient.id }}\"}"}}]}, f)
    with open(os.path.join(conf, "workflows", "mail.json"), "w") as f:
        json.dump({"key": "mail", "steps": [
            {"ref": "m", "type": "channel", "channel": "mail", "template":
             {"subject": "Your weekly digest",
              "html": "<h1>Hello {{ recipient.name }}</h1><p>You have "
                      "<b>3</b> new comments on your post.</p>"}}]}, f)
    sock = os.path.join(tmp, "sock")
    daemon = subprocess.Popen(
        [os.path.join(BUILD, "belfryd"), "-c", conf, "--socket", sock,
         "--database", os.path.join(tmp, "db")],
        stdout=open(os.path.join(tmp, "log"), "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        for run in range(3):
            for k in range(EMAILS):
                req(sock, "PUT", "/v1/users/m%d-%d" % (run, k),
                    {"email": "m%d-%d@example.org" % (run, k),
                     "name": "Ada"})
        raw_h, bel_h, raw_s, bel_s, raw_m, bel_m = [], [], [], [], [], []
        for run in range(3):
            raw_h.append(curl_rate("http", "http://127.0.0.1:%d/in" % hport,
                                   HOOKS, CONC))
            bel_h.append(belfry_rate(sock, "hook", "hook", "h%d-" % run,
                                     HOOKS))
            raw_s.append(curl_rate("http", "http://127.0.0.1:%d/in" %
                                   slowport, HOOKS, CONC))
            bel_s.append(belfry_rate(sock, "slow", "slow", "s%d-" % run,
                                     HOOKS))
            raw_m.append(curl_rate("smtp", "smtp://127.0.0.1:%d" % sport,
                                   EMAILS, MAIL_CONC))
            bel_m.append(belfry_rate(sock, "mail", "mail", "m%d-" % run,
                                     EMAILS))
        rh, bh = statistics.median(raw_h), statistics.median(bel_h)
        rs, bs = statistics.median(raw_s), statistics.median(bel_s)
        rm, bm = statistics.median(raw_m), statistics.median(bel_m)
        print("outgoing deliveries (median of 3; concurrency %d webhooks, "
              "%d emails; this machine: %d cores)" % (CONC, MAIL_CONC,
                                                     os.cpu_count()))
        print("  baseline: raw libcurl multi, %d webhooks   %8.0f /s"
              % (HOOKS, rh))
        print("  belfry webhooks, trigger to delivered      %8.0f /s  "
              "%.2fx raw" % (bh, bh / rh))
        print("  baseline: the same, receiver answering in %d ms %6.0f /s"
              % (SLOW_MS, rs))
        print("  belfry webhooks, that receiver             %8.0f /s  "
              "%.2fx raw" % (bs, bs / rs))
        print("  baseline: raw libcurl multi, %d emails     %8.0f /s"
              % (EMAILS, rm))
        print("  belfry emails, trigger to sent             %8.0f /s  "
              "%.2fx raw" % (bm, bm / rm))
        for name, a, b in (("webhooks", raw_h, bel_h),
                           ("webhooks %d ms" % SLOW_MS, raw_s, bel_s),
                           ("emails", raw_m, bel_m)):
            print("  (%s runs: raw %s, belfry %s)" % (
                name, [round(x) for x in a], [round(x) for x in b]))
    finally:
        daemon.terminate()
        daemon.wait()
        for p in (recv, slow):
            p.terminate()
            p.wait()
        smtp.terminate()
        smtp.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
