#!/usr/bin/env python3
"""Integration tests of the browser feed's protocol on the TCP listener:
public keys, user tokens, CORS, the batch and bulk status routes, the
feed's cursors and filters, the Phoenix websocket and TLS.

    tests/integration/test_feed_api.py BUILD_DIR

- Config: an sk_ key as a public key, a bad origin, a non-loopback
  listen without tls, an unreadable user_token_public_key are refused
  naming the key.
- Who may do what: a public key cannot trigger, delete or read another
  user's feed, with or without a user token; without a token it gets
  401 user_token_required; a forged, an expired and a malformed token get
  401 with Knock's error body; u1's token reads u1's feed only; batch
  updates with u1's token leave u2's messages alone; bulk for user_ids
  [u2] with u1's token is 403.
- CORS: a preflight from an allowed origin is 204 with the methods, the
  client's headers and max-age, before any key; from another origin 403
  without Access-Control lines; every reply to an allowed origin (a 401
  included) carries Access-Control-Allow-Origin and Vary: Origin.
- Statuses: batch seen/read/unread/archived/unarchived/interacted
  (interacted marks read) persist; bulk "mark all as read" honours
  archived and the user; single PUT unread; the feed's __cursor and
  before/after cursors; mode=compact; settings.
- Bulk by tenants: "mark all as read" with tenants [ta, tb] reads the
  messages of ta and tb and leaves tc's and those without a tenant
  unread; one tenant still filters; 101 tenants or one that is not a
  string is 422 naming "tenants".
- The websocket: u1's token joins feeds:feed:u1 and is refused
  feeds:feed:u2; heartbeats are answered; a message triggered while the
  socket is open arrives as new-message with each feed client's counts
  within a second; after phx_leave nothing more arrives; a public key
  without a token cannot upgrade; a client that never reads is closed
  when its unsent output passes the bound, and the daemon stays
  responsive.
- TLS: with a tls section the listener speaks https only (a
  non-loopback listen is then accepted), and the websocket works over it.

Prints one line per failed check and ends with "feed api: N passed, M
failed".
"""

import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import keep_or_remove  # noqa: E402
from test_daemon import free_port  # noqa: E402

check = ts.check
AT = "2026-03-01T00:00:00Z"
NOW = 1772323200  # AT in seconds
SK = "sk_test_feed_server"
PK = "pk_test_feed_public"
ORIGIN = "http://127.0.0.1:5173"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(key, claims, alg="RS256"):
    """An RS256 JWT of claims signed with the PEM private key file key."""
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                         input=(head + "." + body).encode(),
                         capture_output=True, check=True).stdout
    return head + "." + body + "." + b64url(sig)


def rsa_pair(tmp, name):
    key = os.path.join(tmp, name + ".key")
    pub = os.path.join(tmp, name + ".pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key],
                   capture_output=True, check=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub],
                   capture_output=True, check=True)
    return key, pub


def config(conf, tmp, port, extra):
    """A config with a server key, a public key and an in-app feed."""
    os.makedirs(os.path.join(conf, "workflows"), exist_ok=True)
    c = {"default_timezone": "UTC", "listen": "127.0.0.1:%d" % port,
         "api_keys": [SK], "public_api_keys": [PK],
         "allowed_origins": [ORIGIN],
         "channels": {"feed": {"type": "in_app_feed"},
                      "other": {"type": "log"}}}
    c.update(extra)
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump(c, f)
    with open(os.path.join(conf, "workflows", "note.json"), "w") as f:
        json.dump({"key": "note", "categories": ["notes"], "steps": [
            {"ref": "f", "type": "channel", "channel": "feed",
             "template": {"markdown": "**{{ actor.name }}**: "
                          "{{ data.text }}",
                          "action_url": "https://example.com/{{ data.text }}",
                          "buttons": [{"name": "ok", "label": "OK {{ data.text }}",
                                       "action": "https://example.com/ok"}]}}]},
                  f)


class Tcp:
    """HTTP on the TCP listener (optionally TLS), one request each."""

    def __init__(self, port, tls=False):
        self.port = port
        self.tls = tls

    def req(self, method, path, body=None, key=SK, token=None, hdrs=None):
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                            timeout=10, context=ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port,
                                           timeout=10)
        h = dict(hdrs or {})
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if token is not None:
            h["X-Knock-User-Token"] = token
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        c.request(method, path, data, h)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        try:
            j = json.loads(text)
        except ValueError:
            j = text
        return r.status, j, {k.lower(): v for k, v in r.getheaders()}


class Ws:
    """A minimal RFC 6455 client speaking Phoenix v2 JSON."""

    def __init__(self, port, query, tls=False, origin=None):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        self.s = s
        key = base64.b64encode(os.urandom(16)).decode()
        head = ("GET /ws/v1/websocket?%s&vsn=2.0.0 HTTP/1.1\r\nHost: x\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                % (query, key))
        if origin:
            head += "Origin: %s\r\n" % origin
        s.sendall((head + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = s.recv(4096)
            if not d:
                break
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else 0
        self.headers = dict(l.split(": ", 1) for l in lines[1:] if ": " in l)
        want = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
        ).digest()).decode()
        self.accept_ok = self.headers.get("Sec-WebSocket-Accept") == want
        self.ref = 0

    def send(self, msg, opcode=1):
        data = json.dumps(msg).encode() if opcode == 1 else msg
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(hdr + mask + bytes(b ^ mask[i % 4]
                                          for i, b in enumerate(data)))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.s.settimeout(max(0.01, deadline - time.time()))
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def recv(self, timeout=2.0):
        """The next text message as JSON, None on close or timeout."""
        deadline = time.time() + timeout
        try:
            self._need(2, deadline)
            op, n = self.buf[0] & 0x0f, self.buf[1] & 0x7f
            at = 2
            if n == 126:
                self._need(4, deadline)
                n, at = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                self._need(10, deadline)
                n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
            self._need(at + n, deadline)
            data, self.buf = self.buf[at:at + n], self.buf[at + n:]
        except (socket.timeout, EOFError, OSError):
            return None
        if op == 8:
            return None
        if op != 1:
            return self.recv(max(0.01, deadline - time.time()))
        return json.loads(data)

    def call(self, topic, event, payload, join_ref=None):
        self.ref += 1
        ref = str(self.ref)
        self.send([join_ref, ref, topic, event, payload])
        deadline = time.time() + 3
        while time.time() < deadline:
            m = self.recv(deadline - time.time())
            if m is None:
                return None
            if m[1] == ref:
                return m
        return None

    def close(self):
        self.s.close()


def refused_config(tmp, name, extra, what):
    """belfryctl check refuses a config with extra, naming what."""
    conf = os.path.join(tmp, "bad-" + name)
    config(conf, tmp, 1, extra)
    p = subprocess.run([ts.BELFRYCTL, "check", "-c", conf],
                       capture_output=True, text=True)
    check("config refuses " + name, p.returncode != 0 and
          what in p.stderr + p.stdout, (p.returncode, p.stderr, p.stdout))


def trigger(d, user, text, actor="a1", tenant=None):
    body = {"recipients": [user], "actor": {"id": actor, "name": "Ann"},
            "data": {"text": text}}
    if tenant is not None:
        body["tenant"] = tenant
    st, j = d.req("POST", "/v1/workflows/note/trigger", body)
    check("trigger " + text, st == 200, (st, j))


def feed(t, user, query="", key=SK, token=None):
    st, j, _ = t.req("GET", "/v1/users/%s/feeds/feed%s" % (user, query),
                     key=key, token=token)
    return st, j


def access(t, d, key, tok):
    """Who may do what with keys and tokens."""
    good = sign(key, {"sub": "u1", "iat": NOW, "exp": NOW + 3600})
    u2tok = sign(key, {"sub": "u2", "exp": NOW + 3600})
    st, j, _ = t.req("POST", "/v1/workflows/note/trigger",
                     {"recipients": ["u1"]}, key=PK, token=good)
    check("public key cannot trigger", st == 403 and
          j.get("code") == "public_key_not_allowed", (st, j))
    st, j, _ = t.req("DELETE", "/v1/users/u2", key=PK, token=u2tok)
    check("public key cannot delete a user", st == 403, (st, j))
    st, j = feed(t, "u1", key=PK)
    check("no token: 401 user_token_required", st == 401 and
          j.get("code") == "user_token_required" and
          j.get("type") == "authentication_error", (st, j))
    st, j = feed(t, "u2", key=PK, token=good)
    check("u1's token cannot read u2's feed", st == 403 and
          j.get("code") == "user_token_mismatch", (st, j))
    st, j = feed(t, "u2", key=PK)
    check("no token cannot read u2's feed", st == 401, (st, j))
    other, _ = rsa_pair(os.path.dirname(key), "forger")
    for name, bad in (
            ("forged", sign(other, {"sub": "u1", "exp": NOW + 3600})),
            ("expired", sign(key, {"sub": "u1", "exp": NOW - 3600})),
            ("no exp", sign(key, {"sub": "u1"})),
            ("HS256", sign(key, {"sub": "u1", "exp": NOW + 3600},
                           alg="HS256")),
            ("malformed", "abc.def"),
            ("tampered", good[:-8] + ("A" if good[-8] != "A" else "B") +
             good[-7:])):
        st, j = feed(t, "u1", key=PK, token=bad)
        check("%s token: 401 with Knock's body" % name, st == 401 and
              set(j) == {"code", "message", "status", "type"} and
              j["status"] == 401, (st, j))
    st, j = feed(t, "u1", key=PK, token=sign(key, {"sub": "u1",
                                                    "exp": NOW - 3600}))
    check("expired says so", j.get("code") == "user_token_expired", j)
    st, j = feed(t, "u1", key=PK, token=sign(key, {"sub": "u1",
                                                    "exp": NOW - 10}))
    check("a little skew is allowed", st == 200, (st, j))
    st, j = feed(t, "u1", key=PK, token=good)
    check("u1's token reads u1's feed", st == 200 and
          len(j["entries"]) == 3, (st, j))
    st, j, _ = t.req("GET", "/v1/users/u1", key=PK, token=good)
    check("u1's token reads u1", st == 200, (st, j))
    st, j, _ = t.req("GET", "/v1/users/u1/feeds/feed/settings", key=PK,
                     token=good)
    check("settings", st == 200 and
          j == {"features": {"branding_required": False}}, (st, j))
    st, j, _ = t.req("GET", "/v1/users/u1/feeds/other/settings", key=PK,
                     token=good)
    check("settings of a channel that is no feed: 404", st == 404, (st, j))
    # Batch updates with u1's token leave u2's messages alone.
    _, f2 = feed(t, "u2")
    ids2 = [e["id"] for e in f2["entries"]]
    st, j, _ = t.req("POST", "/v1/messages/batch/read",
                     {"message_ids": ids2}, key=PK, token=good)
    check("u1's token marks none of u2's", st == 200 and j == [], (st, j))
    _, f2 = feed(t, "u2")
    check("u2's stay unread", f2["meta"]["unread_count"] == len(ids2), f2)
    st, j, _ = t.req("PUT", "/v1/messages/%s/read" % ids2[0], {}, key=PK,
                     token=good)
    check("u1's token cannot mark u2's message", st == 404, (st, j))
    st, j, _ = t.req("POST", "/v1/channels/feed/messages/bulk/read",
                     {"user_ids": ["u2"]}, key=PK, token=good)
    check("bulk for u2 with u1's token: 403", st == 403, (st, j))
    _, f2 = feed(t, "u2")
    check("u2's still unread", f2["meta"]["unread_count"] == len(ids2), f2)
    return good


def cors(t):
    """Preflights and the Allow-Origin line."""
    st, _, h = t.req("OPTIONS", "/v1/users/u1/feeds/feed", key=None, hdrs={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers":
        "authorization,x-knock-user-token"})
    allow = h.get("access-control-allow-headers", "")
    check("preflight 204", st == 204, (st, h))
    check("preflight allows the origin",
          h.get("access-control-allow-origin") == ORIGIN and
          "Origin" in h.get("vary", ""), h)
    check("preflight allows the client's headers", all(
        x in allow for x in ("authorization", "content-type", "accept",
                             "x-knock-client", "x-knock-user-token",
                             "x-knock-branch")), allow)
    check("preflight allows the methods", all(
        m in h.get("access-control-allow-methods", "")
        for m in ("GET", "POST", "PUT", "DELETE")), h)
    check("preflight max-age", h.get("access-control-max-age") == "7200", h)
    st, _, h = t.req("OPTIONS", "/v1/users/u1/feeds/feed", key=None, hdrs={
        "Origin": "http://evil.example", "Access-Control-Request-Method":
        "GET"})
    check("preflight from another origin: 403 without CORS lines",
          st == 403 and "access-control-allow-origin" not in h, (st, h))
    st, j, h = t.req("GET", "/v1/users/u1/feeds/feed", key="wrong",
                     hdrs={"Origin": ORIGIN})
    check("a 401 carries the CORS lines", st == 401 and
          h.get("access-control-allow-origin") == ORIGIN and
          h.get("vary") == "Origin", (st, h))
    st, j, h = t.req("GET", "/v1/users/u1", hdrs={"Origin": ORIGIN})
    check("a 200 carries the CORS lines", st == 200 and
          h.get("access-control-allow-origin") == ORIGIN, (st, h))
    st, j, h = t.req("GET", "/v1/users/u1",
                     hdrs={"Origin": "http://evil.example"})
    check("no CORS lines for another origin",
          "access-control-allow-origin" not in h, h)


def statuses(t, d, good):
    """Batch, bulk and single status routes, cursors and filters."""
    _, f = feed(t, "u1", key=PK, token=good)
    ids = [e["id"] for e in f["entries"]]
    check("entries carry __cursor", all(e["__cursor"] == e["id"]
                                         for e in f["entries"]), f)
    blocks = {b["name"]: b for b in f["entries"][0]["blocks"]}
    check("action_url is a block", blocks.get("action_url", {}).get(
        "rendered") == "https://example.com/three", blocks)
    check("buttons are a button_set block", blocks.get("actions", {}).get(
        "type") == "button_set" and blocks["actions"]["buttons"] == [
        {"name": "ok", "label": "OK three",
         "action": "https://example.com/ok"}], blocks)
    check("the body is rendered markdown", "<strong>Ann</strong>" in
          blocks.get("body", {}).get("rendered", ""), blocks)
    st, j, _ = t.req("POST", "/v1/messages/batch/seen",
                     {"message_ids": ids[:2]}, key=PK, token=good)
    check("batch seen answers the messages", st == 200 and
          [m["id"] for m in j] == ids[:2] and
          all(m["seen_at"] for m in j), (st, j))
    st, j, _ = t.req("POST", "/v1/messages/batch/interacted",
                     {"message_ids": [ids[0]], "metadata": {"k": 1}},
                     key=PK, token=good)
    check("interacted marks read too", st == 200 and j[0]["read_at"] and
          j[0]["interacted_at"], (st, j))
    st, j, _ = t.req("POST", "/v1/messages/batch/unread",
                     {"message_ids": [ids[0]]}, key=PK, token=good)
    check("batch unread", st == 200 and j[0]["read_at"] is None, (st, j))
    st, j, _ = t.req("POST", "/v1/messages/batch/bogus",
                     {"message_ids": [ids[0]]}, key=PK, token=good)
    check("batch of an unknown status: 404", st == 404, (st, j))
    st, j, _ = t.req("POST", "/v1/messages/batch/read", {}, key=PK,
                     token=good)
    check("batch without message_ids: 422", st == 422, (st, j))
    _, f = feed(t, "u1", key=PK, token=good)
    check("unseen count after batch seen", f["meta"]["unseen_count"] == 1,
          f["meta"])
    st, j, _ = t.req("POST", "/v1/messages/batch/archived",
                     {"message_ids": [ids[2]]}, key=PK, token=good)
    check("batch archived", st == 200 and j[0]["archived_at"], (st, j))
    _, f = feed(t, "u1", key=PK, token=good)
    check("archived leaves the feed", [e["id"] for e in f["entries"]] ==
          ids[:2] and f["meta"]["total_count"] == 2, f)
    st, j, _ = t.req("POST", "/v1/channels/feed/messages/bulk/read",
                     {"user_ids": ["u1"], "archived": "exclude"}, key=PK,
                     token=good)
    check("bulk read: a BulkOperation of one user", st == 200 and
          j.get("__typename") == "BulkOperation" and
          j.get("estimated_total_rows") == 1, (st, j))
    _, f = feed(t, "u1", key=PK, token=good)
    check("all read persists", f["meta"]["unread_count"] == 0, f["meta"])
    st, m = d.req("GET", "/v1/messages/" + ids[2])
    check("bulk left the archived one alone", m.get("read_at") is None, m)
    st, j, _ = t.req("POST", "/v1/messages/batch/unarchived",
                     {"message_ids": [ids[2]]}, key=PK, token=good)
    check("batch unarchived", st == 200 and j[0]["archived_at"] is None,
          (st, j))
    st, j, _ = t.req("PUT", "/v1/messages/%s/unread" % ids[1], {}, key=PK,
                     token=good)
    check("single PUT unread", st == 200 and j["read_at"] is None, (st, j))
    # Cursors: before gives what is newer, after what is older.
    _, f = feed(t, "u1", "?page_size=1")
    check("page of one", len(f["entries"]) == 1 and
          f["page_info"]["after"] == ids[0], f)
    _, f = feed(t, "u1", "?before=" + ids[2])
    check("before: the newer ones", [e["id"] for e in f["entries"]] ==
          ids[:2], f)
    _, f = feed(t, "u1", "?before=%s&page_size=1" % ids[2])
    check("before with a page: the one just above",
          [e["id"] for e in f["entries"]] == [ids[1]] and
          f["page_info"]["before"] == ids[1], f)
    _, f = feed(t, "u1", "?after=" + ids[0])
    check("after: the older ones", [e["id"] for e in f["entries"]] ==
          ids[1:], f)
    st, f = feed(t, "u1", "?before=%s&after=%s" % (ids[2], ids[0]))
    check("before and after: 422", st == 422, (st, f))
    # What the browser client sends by default is honoured.
    st, f = feed(t, "u1", "?archived=exclude&mode=compact&page_size=50")
    check("compact mode", st == 200 and all(
        "activities" not in e and len(e["actors"]) <= 1
        for e in f["entries"]), (st, f))
    st, f = feed(t, "u1", "?mode=fancy")
    check("a bad mode: 422", st == 422, (st, f))
    _, f = feed(t, "u1", "?source=nothing")
    check("source filters", f["entries"] == [], f)
    _, f = feed(t, "u1", "?source=note&workflow_categories%5B%5D=notes")
    check("source and categories", len(f["entries"]) == 3, f)
    _, f = feed(t, "u1", "?workflow_categories%5B%5D=other")
    check("categories filter", f["entries"] == [], f)
    _, f = feed(t, "u1", "?trigger_data=" + urllib.parse.quote(
        json.dumps({"text": "one"})))
    check("trigger_data filters", [e["data"]["text"] for e in
                                   f["entries"]] == ["one"], f)
    _, f = feed(t, "u1", "?inserted_at.gt=2026-03-01T00:00:00.000Z")
    check("inserted_at.gt filters", f["entries"] == [], f)
    _, f = feed(t, "u1", "?inserted_at.lte=2026-03-01T00:00:00Z")
    check("inserted_at.lte keeps", len(f["entries"]) == 3, f)


def socket_tests(t, d, port, key, good):
    pushes = 0
    """The Phoenix websocket."""
    q = "api_key=%s&user_token=%s" % (PK, good)
    w = Ws(port, q, origin=ORIGIN)
    check("upgrade 101", w.status == 101 and w.accept_ok,
          (w.status, w.headers))
    m = w.call("phoenix", "heartbeat", {})
    check("heartbeat answered", m is not None and m[3] == "phx_reply" and
          m[4]["status"] == "ok", m)
    params = {"client_a": {"archived": "exclude", "mode": "compact"},
              "client_b": {"tenant": "t9", "has_tenant": True}}
    m = w.call("feeds:feed:u1", "phx_join", params, join_ref="1")
    check("join u1's feed", m is not None and m[4]["status"] == "ok", m)
    m = w.call("feeds:feed:u2", "phx_join", {}, join_ref="2")
    check("u1's token cannot join u2's feed", m is not None and
          m[4]["status"] == "error", m)
    m = w.call("feeds:other:u1", "phx_join", {}, join_ref="3")
    check("a channel that is no feed is refused", m is not None and
          m[4]["status"] == "error", m)
    _, f = feed(t, "u1")
    unread = f["meta"]["unread_count"]
    t0 = time.time()
    trigger(d, "u1", "live")
    m = w.recv(1.0)
    dt = time.time() - t0
    check("new-message within a second", m is not None and
          m[3] == "new-message" and m[2] == "feeds:feed:u1" and
          m[0] == "1", (m, dt))
    if m is not None and m[3] == "new-message":
        p = m[4]
        check("attn names the feed clients",
              sorted(p["attn"]) == ["client_a", "client_b"], p)
        check("each client's counts", p["data"]["client_a"]["metadata"][
            "unread_count"] == unread + 1 and p["data"]["client_b"][
            "metadata"]["total_count"] == 0, p)
        check("legacy metadata", p["metadata"]["unread_count"] ==
              unread + 1 and p["event"] == "new-message", p)
    # Counts kept between pushes follow tenants and engagement changes.
    trigger(d, "u1", "tenant message", tenant="t9")
    m = w.recv(1.0)
    if check("a second push", m is not None and m[3] == "new-message", m):
        p = m[4]["data"]
        check("counts move with a message of the tenant",
              p["client_a"]["metadata"]["total_count"] ==
              f["meta"]["total_count"] + 2 and
              p["client_b"]["metadata"]["total_count"] == 1 and
              p["client_b"]["metadata"]["unread_count"] == 1, p)
    st, j, _ = t.req("POST", "/v1/channels/feed/messages/bulk/read",
                     {"user_ids": ["u1"]})
    check("read all", st == 200, (st, j))
    trigger(d, "u1", "after reading")
    m = w.recv(1.0)
    if check("a third push", m is not None and m[3] == "new-message", m):
        p = m[4]["data"]
        check("counts after reading all: the new one unread",
              p["client_a"]["metadata"]["unread_count"] == 1 and
              p["client_b"]["metadata"]["unread_count"] == 0 and
              p["client_a"]["metadata"]["unseen_count"] ==
              f["meta"]["unseen_count"] + 3, p)
    trigger(d, "u2", "not for u1")
    check("nothing for another user's message", w.recv(0.5) is None)
    # A burst to one feed: a push at once, then one a gap with the counts.
    _, f2 = feed(t, "u1")
    t0 = time.time()
    for i in range(3):
        trigger(d, "u1", "burst %d" % i)
    burst = []
    while True:
        m = w.recv(1.2)
        if m is None:
            break
        burst.append((time.time() - t0, m))
    check("a burst is one or two pushes", 1 <= len(burst) <= 2, burst)
    if burst:
        last = burst[-1][1][4]["data"]["client_a"]["metadata"]
        check("the burst's last push has every message counted",
              last["unread_count"] == f2["meta"]["unread_count"] + 3 and
              burst[-1][0] < 1.0, burst)
    pushes = 3 + len(burst)
    m = w.call("feeds:feed:u1", "phx_leave", {}, join_ref="1")
    check("leave", m is not None and m[4]["status"] == "ok", m)
    trigger(d, "u1", "after leave")
    check("nothing after leave", w.recv(0.5) is None)
    w.close()

    w = Ws(port, "api_key=" + PK)
    check("no token: no upgrade (401)", w.status == 401, w.status)
    w.close()
    w = Ws(port, "api_key=" + PK + "&user_token=x.y.z")
    check("a bad token: no upgrade (401)", w.status == 401, w.status)
    w.close()
    w = Ws(port, q, origin="http://evil.example")
    check("another origin: no upgrade (403)", w.status == 403, w.status)
    w.close()
    w = Ws(port, "api_key=" + SK)
    m = w.call("feeds:feed:u2", "phx_join", {"r": {}}, join_ref="1")
    check("a server key joins any feed", m is not None and
          m[4]["status"] == "ok", m)
    w.close()

    # A client that never reads: closed past the bound, loop unharmed.
    # Its replies (about 65 bytes each) must pass the 1 MiB bound beyond
    # what the kernel buffers (loopback's send buffer grows to 4 MiB), so
    # it sends 13 MB of replies' worth.
    w = Ws(port, "api_key=" + SK)
    w.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mask = b"\0\0\0\0"
    frames = []
    for i in range(200000):
        data = json.dumps([None, str(i), "phoenix", "heartbeat",
                           {}]).encode()
        frames.append(bytes([0x81, 0x80 | len(data)]) + mask + data)
    w.s.settimeout(30)
    try:
        w.s.sendall(b"".join(frames))
    except OSError:
        pass
    gone = False
    for _ in range(100):
        st, j = d.req("GET", "/metrics")
        if "belfry_websockets 0" in j:
            gone = True
            break
        time.sleep(0.05)
    check("a client that does not read is closed", gone, j)
    st, j = d.req("GET", "/admin/status")
    check("status answers after it", st == 200, st)
    w.close()
    st, j = d.req("GET", "/metrics")
    check("metrics count pushes", "belfry_feed_pushes_total %d" % pushes
          in j, (pushes, j))
    return pushes


def tls_tests(tmp, key, pub):
    """The listener with a tls section."""
    cert = os.path.join(tmp, "cert.pem")
    ckey = os.path.join(tmp, "cert.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", ckey, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1"], capture_output=True,
                   check=True)
    port = free_port()
    conf = os.path.join(tmp, "conf-tls")
    config(conf, tmp, port, {"listen": "0.0.0.0:%d" % port,
                             "tls": {"certificate": cert, "key": ckey},
                             "user_token_public_key": pub})
    os.makedirs(os.path.join(tmp, "tls"))
    d = ts.Daemon(os.path.join(tmp, "tls"), conf, AT)
    try:
        t = Tcp(port, tls=True)
        ok = False
        for _ in range(100):
            try:
                st, j, _ = t.req("GET", "/v1/users/u1")
                ok = True
                break
            except OSError:
                time.sleep(0.05)
        check("https answers on a non-loopback listen", ok and st in
              (200, 404), j if ok else "no answer")
        try:
            st2, _, _ = Tcp(port).req("GET", "/v1/users/u1")
        except (OSError, http.client.HTTPException):
            st2 = None
        check("plain http is not answered", st2 is None, st2)
        good = sign(key, {"sub": "u1", "exp": NOW + 3600})
        w = Ws(port, "api_key=%s&user_token=%s" % (PK, good), tls=True)
        m = w.call("feeds:feed:u1", "phx_join", {}, join_ref="1")
        check("wss joins", w.status == 101 and m is not None and
              m[4]["status"] == "ok", (w.status, m))
        w.close()
    finally:
        d.stop()
    return d


def bulk_tenants(t, d):
    """Bulk "mark all" over a list of tenants."""
    for text, tenant in (("of ta", "ta"), ("of tb", "tb"), ("of tc", "tc"),
                         ("of none", None)):
        trigger(d, "u3", text, tenant=tenant)

    def unread():
        _, f = feed(t, "u3")
        return sorted(e["data"]["text"] for e in f["entries"]
                      if e["read_at"] is None)

    check("u3 starts with four unread", unread() ==
          ["of none", "of ta", "of tb", "of tc"], unread())
    st, j, _ = t.req("POST", "/v1/channels/feed/messages/bulk/read",
                     {"user_ids": ["u3"], "tenants": ["ta", "tb"]})
    check("bulk read of two tenants", st == 200 and
          j.get("estimated_total_rows") == 1, (st, j))
    check("two tenants: theirs read, tc's and the untenanted unread",
          unread() == ["of none", "of tc"], unread())
    st, j, _ = t.req("POST", "/v1/channels/feed/messages/bulk/read",
                     {"user_ids": ["u3"], "tenants": ["tc"]})
    check("one tenant: only tc's read", st == 200 and
          unread() == ["of none"], (st, j, unread()))
    for name, tenants in (("101 tenants", ["t%d" % i for i in range(101)]),
                          ("a tenant that is no string", ["ta", 7])):
        st, j, _ = t.req("POST", "/v1/channels/feed/messages/bulk/read",
                         {"user_ids": ["u3"], "tenants": tenants})
        check("bulk with %s: 422 naming tenants" % name, st == 422 and
              "tenants" in j.get("message", ""), (st, j))
    check("the refused ones changed nothing", unread() == ["of none"],
          unread())


def main():
    ts.BELFRYD = os.path.join(sys.argv[1], "belfryd")
    ts.BELFRYCTL = os.path.join(sys.argv[1], "belfryctl")
    tmp = tempfile.mkdtemp(prefix="belfry-feedapi-")
    key, pub = rsa_pair(tmp, "users")
    logs = []
    refused_config(tmp, "sk public key", {"public_api_keys": ["sk_live_12345"]},
                   "not an sk_ key")
    refused_config(tmp, "bad origin", {"allowed_origins": ["example.com"]},
                   "allowed origin must be")
    refused_config(tmp, "listen without tls", {"listen": "0.0.0.0:7640"},
                   "tls")
    refused_config(tmp, "tls without key", {"tls": {"certificate": "x"}},
                   "\"key\"")
    conf = os.path.join(tmp, "bad-buttons")
    config(conf, tmp, 1, {})
    with open(os.path.join(conf, "workflows", "b.json"), "w") as f:
        json.dump({"key": "b", "steps": [
            {"ref": "f", "type": "channel", "channel": "feed", "template": {
                "markdown": "x", "buttons": [{"name": "n", "label": "L"}]}}]},
            f)
    p = subprocess.run([ts.BELFRYCTL, "check", "-c", conf],
                       capture_output=True, text=True)
    check("config refuses a button without action", p.returncode != 0 and
          "needs \"action\"" in p.stderr, p.stderr)
    port = free_port()
    conf = os.path.join(tmp, "conf")
    config(conf, tmp, port, {"user_token_public_key": pub})
    d = ts.Daemon(tmp, conf, AT)
    logs.append(d.log)
    try:
        t = Tcp(port)
        for u in ("u1", "u2"):
            st, j = d.req("PUT", "/v1/users/" + u, {"name": u.upper()})
            check("identify " + u, st == 200, (st, j))
            for text in ("one", "two", "three"):
                trigger(d, u, text)
        good = access(t, d, key, None)
        cors(t)
        statuses(t, d, good)
        bulk_tenants(t, d)
        socket_tests(t, d, port, key, good)
    finally:
        d.stop()
    # An unreadable key file: the daemon refuses to start.
    conf2 = os.path.join(tmp, "conf-nokey")
    config(conf2, tmp, free_port(), {"user_token_public_key":
                                     os.path.join(tmp, "missing.pem")})
    p = subprocess.run([ts.BELFRYD, "-c", conf2, "--socket",
                        os.path.join(tmp, "s2"), "--database",
                        os.path.join(tmp, "db2")], capture_output=True,
                       text=True, timeout=20)
    check("a missing user_token_public_key stops the start",
          p.returncode != 0 and "user_token_public_key" in p.stderr,
          (p.returncode, p.stderr))
    dt = tls_tests(tmp, key, pub)
    logs.append(dt.log)
    rc = check.summary("feed api")
    keep_or_remove(tmp, rc != 0, logs)
    return rc


if __name__ == "__main__":
    sys.exit(main())
