#!/usr/bin/env python3
"""http channels to an https receiver (python's http.server over ssl, a
certificate from a private CA the test makes with openssl), from the
real belfryd on a virtual clock.

    tests/integration/test_webhooks.py BUILD_DIR

- the Standard Webhooks signature verified independently (Python's hmac
  and base64 over "id.timestamp.body" with the whsec_ secret's key),
  webhook-id the message id, webhook-timestamp the attempt's time;
- the channel's method and its templated headers, the URL's path and
  query, over TLS verified against the channel's ca_file; without it
  the system's CAs refuse the certificate;
- a redirect is not followed: the attempt fails naming where it pointed;
- a 500 then a 200: delivered on the retry, both attempts in the
  delivery logs (credentials redacted from the logged headers);
- max_sessions 1 and max_per_second 4: never two requests at once, at
  most four started in any second after the first, on one kept-alive
  connection;
- a rate-limited channel whose receiver was slow gets no queued burst
  when it recovers: never more than its bucket's worth in 0.2 s;
- two rate-limited channels: the slower one's pending wake-up does not
  hold back the faster one's;
- a warning line per failed attempt, at most 10 a minute.

Prints one line per failed check and ends with "webhooks: N passed, M
failed".
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import Checks, keep_or_remove, make_ca  # noqa: E402

START = "2026-03-01T12:00:00Z"
START_EPOCH = 1772366400
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
check = Checks()


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records each request (and how many to /limited overlap);
    /redirect answers 302, /flaky 500 once, /sluggish takes 1.5 s once."""
    protocol_version = "HTTP/1.1"
    received = []
    flaky = [500]
    sluggish = [1.5]
    busy = 0
    most_busy = 0
    lock = threading.Lock()

    def handle_one(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        limited = self.path.startswith("/limited")
        with Receiver.lock:
            Receiver.busy += limited
            Receiver.most_busy = max(Receiver.most_busy, Receiver.busy)
            Receiver.received.append({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body, "at": time.monotonic(),
                "port": self.client_address[1]})
        time.sleep(0.02)  # a receiver's work: lets overlaps show
        if self.path.startswith("/sluggish"):
            with Receiver.lock:
                pause = Receiver.sluggish.pop(0) if Receiver.sluggish else 0
            time.sleep(pause)
        code, extra = 200, {}
        if self.path.startswith("/redirect"):
            code = 302
            extra = {"Location": "https://127.0.0.1:%d/elsewhere" %
                     self.server.server_address[1]}
        elif self.path.startswith("/flaky"):
            with Receiver.lock:
                code = Receiver.flaky.pop(0) if Receiver.flaky else 200
        reply = b'{"ok": true}'
        self.send_response(code)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        with Receiver.lock:
            Receiver.busy -= limited

    do_POST = do_PUT = handle_one

    def log_message(self, fmt, *args):
        pass


class TLSServer(http.server.ThreadingHTTPServer):
    """The receiver's server; a refused handshake is no test failure."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def receiver(cert, key):
    """An https receiver on a loopback port; (server, port)."""
    srv = TLSServer(("127.0.0.1", 0), Receiver)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def write_config(conf, port, ca):
    """Channels signed, moved, untrusted, flaky, limited, sluggish,
    crawl, quick; a workflow
    each (hook-NAME)."""
    base = "https://127.0.0.1:%d" % port
    chans = {
        "signed": {"type": "http", "url": base + "/hooks/in?src=belfry",
                   "method": "PUT", "ca_file": ca,
                   "headers": {"Authorization": "Bearer {{ data.token }}",
                               "X-Recipient": "{{ recipient.id }}"},
                   "signing_secret": SECRET},
        "moved": {"type": "http", "url": base + "/redirect", "ca_file": ca},
        "untrusted": {"type": "http", "url": base + "/untrusted"},
        "flaky": {"type": "http", "url": base + "/flaky", "ca_file": ca,
                  "headers": {"X-Api-Key": "k-123"}},
        "limited": {"type": "http", "url": base + "/limited", "ca_file": ca,
                    "max_sessions": 1, "max_per_second": 4},
        "sluggish": {"type": "http", "url": base + "/sluggish",
                     "ca_file": ca, "max_sessions": 1, "max_per_second": 4},
        "crawl": {"type": "http", "url": base + "/crawl", "ca_file": ca,
                  "max_per_second": 0.25},
        "quick": {"type": "http", "url": base + "/quick", "ca_file": ca,
                  "max_per_second": 2},
    }
    os.makedirs(os.path.join(conf, "workflows"))
    os.makedirs(os.path.join(conf, "schedules"))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"default_timezone": "UTC", "channels": chans}, f)
    for name in chans:
        with open(os.path.join(conf, "workflows", name + ".json"),
                  "w") as f:
            json.dump({"key": "hook-" + name, "steps": [
                {"ref": "h", "type": "channel", "channel": name,
                 "template": {"body": "{\"to\": \"{{ recipient.id }}\", "
                                      "\"n\": \"{{ data.n }}\"}"}}]}, f)


def verify(headers, body):
    """The Standard Webhooks check, independent of belfry: the v1
    signature of "id.timestamp.body" under the secret's key."""
    key = base64.b64decode(SECRET[len("whsec_"):])
    signed = ("%s.%s." % (headers.get("webhook-id"),
                          headers.get("webhook-timestamp"))).encode() + body
    want = base64.b64encode(hmac.new(key, signed,
                                     hashlib.sha256).digest()).decode()
    for sig in headers.get("webhook-signature", "").split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, want):
            return True
    return False


def only(d, uid, channel):
    """User uid's message on channel, or {}."""
    st, j = d.req("GET", "/v1/users/%s/messages?channel_id=%s" %
                  (uid, channel))
    items = j.get("items", []) if st == 200 else []
    return items[0] if items else {}


def at(path):
    """The requests the receiver had on path (a prefix)."""
    return [r for r in Receiver.received if r["path"].startswith(path)]


def body(d, port):
    def trigger(name, rcpts, data=None):
        st, j = d.req("POST", "/v1/workflows/hook-%s/trigger" % name,
                      {"recipients": rcpts, "data": data or {}})
        check("trigger hook-" + name, st == 200, j)

    trigger("signed", ["u1"], {"token": "t0k3n", "n": "1"})
    trigger("moved", ["u1"])
    trigger("untrusted", ["u1"])
    trigger("flaky", ["u1"])
    st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 0})
    check("clock +0 waits for the requests", st == 200, j)

    # ---- signed ----
    got = at("/hooks/")
    check("signed: received once", len(got) == 1, Receiver.received)
    m = only(d, "u1", "signed")
    if got:
        r = got[0]
        h = r["headers"]
        check("signed: the channel's method", r["method"] == "PUT", r)
        check("signed: path and query", r["path"] == "/hooks/in?src=belfry",
              r["path"])
        check("signed: templated headers", h.get("authorization") ==
              "Bearer t0k3n" and h.get("x-recipient") == "u1", h)
        check("signed: JSON body", json.loads(r["body"]) ==
              {"to": "u1", "n": "1"}, r["body"])
        check("signed: content type and idempotency key",
              h.get("content-type") == "application/json" and
              h.get("idempotency-key") == m.get("id"), (h, m.get("id")))
        check("signed: webhook-id is the message id",
              h.get("webhook-id") == m.get("id"), h)
        check("signed: webhook-timestamp is the attempt's time",
              h.get("webhook-timestamp") == str(START_EPOCH), h)
        check("signed: the Standard Webhooks signature verifies",
              verify(h, r["body"]), h)
        check("signed: a wrong body does not verify",
              not verify(h, r["body"] + b" "))
    check("signed: delivered", m.get("status") == "delivered", m)

    # ---- a redirect is not followed ----
    check("moved: one request, the redirect not followed",
          len(at("/redirect")) == 1 and at("/elsewhere") == [],
          [r["path"] for r in Receiver.received])
    m = only(d, "u1", "moved")
    err = (m.get("delivery") or {}).get("last_error") or ""
    check("moved: a failure naming where it pointed",
          m.get("status") == "queued" and err ==
          "HTTP 302: redirect to https://127.0.0.1:%d/elsewhere not "
          "followed" % port, m)

    # ---- TLS is verified ----
    check("untrusted: no request got through", at("/untrusted") == [])
    m = only(d, "u1", "untrusted")
    err = (m.get("delivery") or {}).get("last_error") or ""
    check("untrusted: the certificate refused",
          "certificate" in err.lower(), m)

    # ---- a 500, then delivered on the retry ----
    check("flaky: the 500", len(at("/flaky")) == 1)
    st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 60})
    check("flaky: retried within a minute", len(at("/flaky")) == 2,
          len(at("/flaky")))
    m = only(d, "u1", "flaky")
    check("flaky: delivered on the retry", m.get("status") ==
          "delivered" and (m.get("delivery") or {}).get("attempts") == 2, m)
    st, j = d.req("GET", "/v1/messages/%s/delivery_logs" % m.get("id"))
    items = j.get("items", []) if st == 200 else []
    check("flaky: two delivery logs", [i.get("result") for i in items] ==
          ["ok", "retry"] and items[1].get("error") == "HTTP 500" and
          items[1]["response"]["status"] == 500 and
          items[0]["response"]["status"] == 200, items)
    if items:
        rq = items[0]["request"]
        check("flaky: the logged request", rq.get("method") == "POST" and
              rq.get("url") == "https://127.0.0.1:%d/flaky" % port and
              rq.get("host") == "127.0.0.1" and rq.get("path") == "/flaky"
              and json.loads(rq.get("body", "{}")).get("to") == "u1", rq)
        check("flaky: credentials redacted in the log",
              rq.get("headers", {}).get("X-Api-Key") == "[redacted]", rq)
        check("flaky: the reply's body in the log", items[0]["response"]
              .get("body") == '{"ok": true}', items[0]["response"])
        check("webhook service", items[0].get("service_name") == "webhook")
        check("flaky: the reply's headers in the log", items[0]["response"]
              .get("headers", {}).get("Content-Length") == "12",
              items[0]["response"])
        check("flaky: no query in the log", "query" in rq and
              rq["query"] is None, rq)

    # ---- the log keeps a request body's first 16 KiB ----
    big = "\u00e9" * 9000  # 18,000 bytes of UTF-8
    trigger("flaky", ["u2"], {"n": big})
    st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 0})
    sent = [r for r in at("/flaky") if b'"u2"' in r["body"]]
    check("big: the whole body sent", len(sent) == 1 and
          json.loads(sent[0]["body"]).get("n") == big,
          len(sent[0]["body"]) if sent else sent)
    m = only(d, "u2", "flaky")
    st, j = d.req("GET", "/v1/messages/%s/delivery_logs" % m.get("id"))
    items = j.get("items", []) if st == 200 else []
    rq = items[0]["request"] if items else {}
    logged = rq.get("body", "").encode()
    check("big: the logged body cut to 16 KiB at a character boundary",
          rq.get("body_truncated") is True and 16382 < len(logged) <= 16384
          and sent and sent[0]["body"].startswith(logged), len(logged))
    st, j = d.req("GET", "/v1/messages/%s/delivery_logs" % (
        only(d, "u1", "signed").get("id")))
    items = j.get("items", []) if st == 200 else []
    check("signed: the query in the log", items and items[0]["request"]
          .get("query") == "src=belfry", items)

    # ---- limits ----
    trigger("limited", ["a%d" % i for i in range(12)], {"n": "x"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(at("/limited")) < 12:
        time.sleep(0.05)
    while time.monotonic() < deadline and not all(
            only(d, "a%d" % i, "limited").get("status") == "delivered"
            for i in range(12)):
        time.sleep(0.05)
    got = at("/limited")
    check("limited: all twelve arrive", len(got) == 12, len(got))
    check("limited: max_sessions 1, never two at once",
          Receiver.most_busy == 1, Receiver.most_busy)
    times = sorted(r["at"] for r in got)
    # A bucket of one second's worth: 4 at once, then 4 a second.
    check("limited: at most max_per_second started each second after "
          "the first", len(times) == 12 and times[-1] - times[0] >= 1.9,
          [round(t - times[0], 3) for t in times])
    check("limited: one kept-alive connection", len(
        set(r["port"] for r in got)) == 1, set(r["port"] for r in got))
    # ---- a slow spell, then no burst past the rate ----
    trigger("sluggish", ["b%d" % i for i in range(8)], {"n": "x"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(at("/sluggish")) < 8:
        time.sleep(0.05)
    times = sorted(r["at"] for r in at("/sluggish"))
    # A bucket of 4 a second: k starts within d seconds only when k <= 4
    # + 4 d (half a token spared for the receiver's timing).
    over = [(j - i + 1, round(times[j] - times[i], 3))
            for i in range(len(times)) for j in range(i + 1, len(times))
            if j - i + 1 > 4.5 + 4 * (times[j] - times[i])]
    check("sluggish: all eight arrive", len(times) == 8, len(times))
    check("sluggish: after a slow reply, no burst past the bucket",
          not over, (over, [round(t - times[0], 3) for t in times]))
    # ---- one channel's wake-up does not wait for another's ----
    trigger("crawl", ["c%d" % i for i in range(2)], {"n": "x"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not at("/crawl"):
        time.sleep(0.01)
    trigger("quick", ["q%d" % i for i in range(4)], {"n": "x"})
    while time.monotonic() < deadline and len(at("/quick")) < 4:
        time.sleep(0.01)
    first = min(r["at"] for r in at("/crawl")) if at("/crawl") else 0
    last = max(r["at"] for r in at("/quick")) if at("/quick") else 0
    # 2 at once, 2 more at 2 a second: about 1 s; crawl's next token
    # comes 4 s after its first.
    check("quick: its 4 arrive well before crawl's next token",
          len(at("/quick")) == 4 and last - first < 2.5,
          (len(at("/quick")), round(last - first, 3)))
    # ---- at most 10 warning lines a minute ----
    trigger("untrusted", ["w%d" % i for i in range(12)])
    d.req("POST", "/admin/clock", {"advance_by_seconds": 0})
    st, text = d.req("GET", "/metrics")
    failures = [ln for ln in text.splitlines() if ln.startswith(
        'belfry_delivery_failures_total')]
    warned = [ln for ln in open(d.log, errors="replace").read().splitlines()
              if "delivery of message" in ln]
    check("warnings: one a failed attempt, at most 10 a minute",
          len(warned) == 10 and sum(int(ln.split()[-1])
                                    for ln in failures) > 12,
          (len(warned), failures))

    st, text = d.req("GET", "/metrics")
    lab = '{channel="limited",type="http"}'
    check("limited: metrics per channel",
          "belfry_delivery_attempts_total%s 12" % lab in text and
          "belfry_delivery_successes_total%s 12" % lab in text,
          [ln for ln in text.splitlines() if "limited" in ln])


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-hooks-")
    d = srv = None
    try:
        ca, cert, key = make_ca(tmp)
        srv, port = receiver(cert, key)
        conf = os.path.join(tmp, "conf")
        write_config(conf, port, ca)
        d = ts.Daemon(tmp, conf, START)
        body(d, port)
    except Exception as e:  # a crash of the test is a failure, with why
        import traceback
        traceback.print_exc()
        check("test ran to the end", False, e)
    finally:
        if d is not None:
            d.stop()
        if srv is not None:
            srv.shutdown()
    keep_or_remove(tmp, check.failed, [d.log] if d else [])
    return check.summary("webhooks")


if __name__ == "__main__":
    sys.exit(main())
