#!/usr/bin/env python3
"""Email channels against a real SMTP server: aiosmtpd (Debian's
python3-aiosmtpd) started by the test on a loopback port, with STARTTLS
on a private CA made by the test with openssl and AUTH required, and the
real belfryd on a virtual clock.

    tests/integration/test_email.py BUILD_DIR

- each accepted mail: the envelope (MAIL FROM, RCPT TO), over TLS after
  STARTTLS and AUTH; its MIME structure (multipart/alternative, text part
  derived from the HTML, then the HTML with the data escaped); Date,
  From, To, Subject (UTF-8), Message-ID from the message id,
  List-Unsubscribe;
- a 4xx reply at DATA is retried with the backoff (on the virtual clock)
  and then sent; a 5xx at RCPT ends the message undelivered with the
  server's text; a recipient without an email skips the step with the
  reason in the run's events;
- every attempt in GET /v1/messages/{id}/delivery_logs and belfryctl
  deliveries [--failed]; the message's attempts, last error and next
  attempt; a warning line per failed attempt; per-channel metrics;
- STARTTLS required against a server that does not offer it fails (and
  is retried) instead of sending in the clear; smtps:// speaks TLS from
  the first byte.

Prints one line per failed check and ends with "email: N passed, M
failed".  The daemon's log is printed (and its directory kept) only on
failure.
"""

import email
import email.policy
import json
import logging
import os
import ssl
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import aiosmtpd  # noqa: F401
except ImportError:
    # Debian's python3-aiosmtpd, for a python3 that is not Debian's own.
    sys.path.append("/usr/lib/python3/dist-packages")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

# aiosmtpd 1.4 logs a warning about its own use of Session.login_data.
logging.getLogger("mail.log").setLevel(logging.ERROR)

import test_schedules as ts  # noqa: E402
from belfrytest import Checks, free_port, keep_or_remove, make_ca  # noqa

START = "2026-03-01T12:00:00Z"
USER, PASSWORD = "belfry", "s3cret pass"
check = Checks()


class Inbox:
    """The SMTP server's side: what it accepted, and its programmed
    refusals (RCPT of eve: 550; DATA of tom: 451 the first time)."""

    def __init__(self):
        self.mails = []
        self.sessions = []
        self.tom_tries = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, opts):
        if address.startswith("eve@"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if "tom@example.org" in envelope.rcpt_tos:
                self.tom_tries += 1
                if self.tom_tries == 1:
                    return "451 4.3.0 Mailbox busy, try again later"
            self.mails.append({
                "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                "data": envelope.content,
                "tls": session.ssl is not None or
                server.transport.get_extra_info("ssl_object") is not None,
                "auth": session.authenticated})
        return "250 2.0.0 Ok: queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    """AUTH PLAIN/LOGIN with the test's user and password only."""
    ok = (isinstance(auth_data, LoginPassword) and
          auth_data.login == USER.encode() and
          auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def smtp_server(handler, cert=None, key=None, implicit=False):
    """An aiosmtpd server on a free loopback port (STARTTLS and AUTH
    required when given a certificate; TLS from the first byte if
    implicit); (controller, port)."""
    port = free_port()
    kw = {}
    if implicit:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kw = dict(ssl_context=ctx)
    elif cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kw = dict(tls_context=ctx, require_starttls=True,
                  authenticator=authenticator, auth_required=True,
                  auth_require_tls=True)
    c = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    c.start()
    return c, port


def write_config(conf, tmp, port, plain_port, tls_port, ca):
    """Channels: mail (STARTTLS, AUTH, the private CA), clear (STARTTLS
    required, to a server without it), sealed (smtps://); a workflow
    each."""
    os.makedirs(os.path.join(conf, "workflows"))
    os.makedirs(os.path.join(conf, "schedules"))
    with open(os.path.join(tmp, "smtp-password"), "w") as f:
        f.write(PASSWORD + "\n")
    mail = {"type": "email", "smtp_url": "smtp://127.0.0.1:%d" % port,
            "from": "Belfry Alerts <alerts@example.com>",
            "username": USER, "password_file": os.path.join(
                tmp, "smtp-password"),
            "starttls": "required", "ca_file": ca,
            "list_unsubscribe": "<https://example.com/unsub/"
                                "{{ recipient.id }}>",
            "max_sessions": 2}
    clear = {"type": "email", "smtp_url": "smtp://127.0.0.1:%d" %
             plain_port, "from": "alerts@example.com",
             "starttls": "required"}
    sealed = {"type": "email", "smtp_url": "smtps://127.0.0.1:%d" %
              tls_port, "from": "alerts@example.com", "ca_file": ca}
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"default_timezone": "UTC",
                   "channels": {"mail": mail, "clear": clear,
                                "sealed": sealed},
                   "preferences": {"default": {"channel_types":
                                               {"email": True}}}}, f)
    with open(os.path.join(conf, "workflows", "welcome.json"), "w") as f:
        json.dump({"key": "welcome", "steps": [
            {"ref": "mail", "type": "channel", "channel": "mail",
             "template": {
                 "subject": "Bienvenue {{ recipient.name }} \u2014 "
                            "{{ data.plan }}",
                 "html": "<h1>Hello {{ recipient.name }}</h1>"
                         "<p>Your plan: <b>{{ data.plan }}</b>.</p>"}}]},
            f)
    for name in ("clear", "sealed"):
        with open(os.path.join(conf, "workflows", name + ".json"),
                  "w") as f:
            json.dump({"key": name, "steps": [
                {"ref": "mail", "type": "channel", "channel": name,
                 "template": {"subject": "s", "text": "t"}}]}, f)


def message_of(d, uid):
    """The (only) message of user uid, or None."""
    st, j = d.req("GET", "/v1/users/%s/messages" % uid)
    items = j.get("items", []) if st == 200 else []
    return items[0] if items else None


def events_of(d, uid):
    """The events of user uid's (newest) recipient run."""
    st, j = d.req("GET", "/v1/workflow_recipient_runs?recipient=" + uid)
    items = j.get("items", []) if st == 200 else []
    return items[0]["events"] if items else []


def metric(d, name):
    """A metric line's value from /metrics (line starting with name)."""
    st, text = d.req("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def check_mail(m, msg_id):
    """Ada's mail: envelope, TLS and AUTH, headers, MIME structure."""
    check("envelope MAIL FROM", m["from"] == "alerts@example.com", m)
    check("envelope RCPT TO", m["to"] == ["ada@example.org"], m)
    check("sent after STARTTLS", m["tls"], m)
    check("sent after AUTH", m["auth"], m)
    e = email.message_from_bytes(m["data"], policy=email.policy.default)
    check("Date", e["Date"] == "Sun, 01 Mar 2026 12:00:00 +0000",
          e["Date"])
    check("From", b"\r\nFrom: Belfry Alerts <alerts@example.com>\r\n" in
          m["data"], e["From"])
    check("To", b"\r\nTo: Ada Lovelace <ada@example.org>\r\n" in
          m["data"], e["To"])
    check("Subject in UTF-8", e["Subject"] ==
          "Bienvenue Ada Lovelace \u2014 <pro & co>", e["Subject"])
    check("Message-ID from the message id", e["Message-ID"] ==
          "<%s@example.com>" % msg_id, (e["Message-ID"], msg_id))
    check("List-Unsubscribe", e["List-Unsubscribe"] ==
          "<https://example.com/unsub/ada>", e["List-Unsubscribe"])
    check("MIME-Version", e["MIME-Version"] == "1.0")
    check("multipart/alternative", e.get_content_type() ==
          "multipart/alternative", e.get_content_type())
    parts = list(e.iter_parts())
    check("two parts, text then html", [p.get_content_type()
                                        for p in parts] ==
          ["text/plain", "text/html"], [p.get_content_type()
                                        for p in parts])
    if len(parts) == 2:
        text = parts[0].get_content().replace("\r\n", "\n")
        html = parts[1].get_content()
        check("text part derived from the HTML", text ==
              "Hello Ada Lovelace\n\nYour plan: <pro & co>.", repr(text))
        check("HTML part with the data escaped", html ==
              "<h1>Hello Ada Lovelace</h1><p>Your plan: <b>&lt;pro &amp; "
              "co&gt;</b>.</p>", repr(html))
        check("parts in UTF-8 quoted-printable", all(
            p["Content-Transfer-Encoding"] == "quoted-printable" and
            p.get_content_charset() == "utf-8" for p in parts))
    check("CRLF line ends", b"\r\n" in m["data"] and
          b"\n" not in m["data"].replace(b"\r\n", b""))


def run(tmp):
    ca, cert, key = make_ca(tmp)
    inbox = Inbox()
    server, port = smtp_server(inbox, cert, key)
    plain = Inbox()
    plain_server, plain_port = smtp_server(plain)
    sealed = Inbox()
    tls_server, tls_port = smtp_server(sealed, cert, key, implicit=True)
    conf = os.path.join(tmp, "conf")
    write_config(conf, tmp, port, plain_port, tls_port, ca)
    d = ts.Daemon(tmp, conf, START)
    try:
        body(d, inbox, plain, sealed)
    finally:
        d.stop()
        server.stop()
        plain_server.stop()
        tls_server.stop()
    return d


def body(d, inbox, plain, sealed):
    for uid, props in (("ada", {"email": "ada@example.org",
                                "name": "Ada Lovelace"}),
                       ("bob", {"name": "Bob"}),
                       ("eve", {"email": "eve@example.org", "name": "Eve"}),
                       ("tom", {"email": "tom@example.org", "name": "Tom"})):
        st, _ = d.req("PUT", "/v1/users/" + uid, props)
        check("PUT user " + uid, st == 200, st)
    st, j = d.req("POST", "/v1/workflows/welcome/trigger",
                  {"recipients": ["ada", "bob", "eve", "tom"],
                   "data": {"plan": "<pro & co>"}})
    check("trigger welcome", st == 200, j)
    st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 0})
    check("clock +0 waits for the sessions", st == 200, j)

    # ---- the first attempts ----
    check("one mail accepted (ada's)", len(inbox.mails) == 1,
          [m["to"] for m in inbox.mails])
    ada, eve, tom = (message_of(d, u) for u in ("ada", "eve", "tom"))
    check("no message for bob", message_of(d, "bob") is None)
    if inbox.mails and ada:
        check_mail(inbox.mails[0], ada["id"])
    check("ada's message is sent", ada and ada["status"] == "sent", ada)
    check("ada's delivery: 1 attempt, nothing next", ada and
          ada.get("delivery") == {"attempts": 1, "last_error": None,
                                  "next_attempt_at": None,
                                  "in_flight": False}, ada)
    check("eve's message is undelivered (5xx at RCPT)", eve and
          eve["status"] == "undelivered", eve)
    err = ((eve or {}).get("delivery") or {}).get("last_error") or ""
    check("with the server's text", "550 5.1.1 <eve@example.org>: "
          "Recipient address rejected" in err, err)
    dl = (tom or {}).get("delivery") or {}
    check("tom's message is queued after a 451", tom and
          tom["status"] == "queued", tom)
    check("tom's delivery: 1 attempt, the 451, a next attempt",
          dl.get("attempts") == 1 and "451 4.3.0 Mailbox busy" in
          (dl.get("last_error") or "") and
          (dl.get("next_attempt_at") or "") > START, dl)
    ev = events_of(d, "bob")
    skipped = [e for e in ev if e.get("event") == "step_skipped"]
    check("bob's step skipped for want of an email", skipped and
          skipped[0]["status"] == "ok" and
          skipped[0]["data"].get("reason") == "channel_data" and
          "no email" in skipped[0]["data"].get("message", ""), ev)

    # ---- the retry, on the virtual clock ----
    st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 10})
    check("no retry 10 s later", inbox.tom_tries == 1, inbox.tom_tries)
    st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 50})
    check("clock +60 s", st == 200, j)
    check("tom's mail sent on the retry", inbox.tom_tries == 2 and
          [m["to"] for m in inbox.mails] == [["ada@example.org"],
                                             ["tom@example.org"]],
          [m["to"] for m in inbox.mails])
    tom = message_of(d, "tom")
    check("tom's message is sent", tom and tom["status"] == "sent", tom)
    if len(inbox.mails) == 2:
        e = email.message_from_bytes(inbox.mails[1]["data"],
                                     policy=email.policy.default)
        check("the retry carries the same Message-ID", tom and
              e["Message-ID"] == "<%s@example.com>" % tom["id"],
              e["Message-ID"])
        check("and the step's Date", e["Date"] ==
              "Sun, 01 Mar 2026 12:00:00 +0000", e["Date"])

    # ---- delivery logs ----
    st, j = d.req("GET", "/v1/messages/%s/delivery_logs" % tom["id"]
                  if tom else "/v1/messages/x/delivery_logs")
    items = j.get("items", []) if st == 200 else []
    check("tom: two delivery logs", len(items) == 2, j)
    if len(items) == 2:
        new, old = items
        check("Knock's shape", all(
            it["__typename"] == "MessageDeliveryLog" and
            it["service_name"] == "smtp" and it["channel_id"] == "mail" and
            it["message_id"] == tom["id"] and
            set(("id", "environment_id", "inserted_at", "request",
                 "response")) <= set(it) for it in items), items)
        check("newest first: the success", new["result"] == "ok" and
              new["attempt"] == 2 and new["error"] is None and
              new["response"]["status"] == 250, new)
        check("then the 451", old["result"] == "retry" and
              old["attempt"] == 1 and old["response"]["status"] == 451 and
              "451 4.3.0" in old["error"], old)
        rq = old["request"]
        check("the request: SMTP to the server, envelope, headers",
              rq["method"] == "SMTP" and rq["host"] == "127.0.0.1" and
              rq["envelope"] == {"from": "alerts@example.com",
                                 "to": ["tom@example.org"]} and
              rq["headers"].get("To") == 'Tom <tom@example.org>' and
              "Content-Type: multipart/alternative" in rq["body"], rq)
        check("inserted_at is the attempt's (virtual) time",
              old["inserted_at"] == START and new["inserted_at"] >
              "2026-03-01T12:00:10Z", (old["inserted_at"],
                                       new["inserted_at"]))
    st, j = d.req("GET", "/v1/messages/%s/delivery_logs?page_size=1" %
                  (tom or {}).get("id"))
    after = j.get("page_info", {}).get("after") if st == 200 else None
    st, j2 = d.req("GET", "/v1/messages/%s/delivery_logs?page_size=1&"
                   "after=%s" % ((tom or {}).get("id"), after))
    check("delivery logs page by page", st == 200 and
          [i["attempt"] for i in j.get("items", []) +
           j2.get("items", [])] == [2, 1], (j, j2))
    st, j = d.req("GET", "/v1/messages/%s/delivery_logs?status=x" %
                  (tom or {}).get("id"))
    check("an unknown query parameter is refused", st == 422, (st, j))
    rc, out, err = ts.ctl(d.sock, "deliveries", "--failed")
    lines = out.splitlines()[1:]
    check("belfryctl deliveries --failed: eve's and tom's failures",
          rc == 0 and len(lines) == 2 and
          any(eve and eve["id"] in ln and "550" in ln for ln in lines) and
          any(tom and tom["id"] in ln and "451" in ln for ln in lines),
          (rc, out, err))
    rc, out, err = ts.ctl(d.sock, "deliveries")
    check("belfryctl deliveries: all four attempts", rc == 0 and
          len(out.splitlines()) == 5, (rc, out, err))
    rc, out, err = ts.ctl(d.sock, "deliveries", "--message",
                          (tom or {}).get("id", "x"))
    check("belfryctl deliveries --message", rc == 0 and
          len(out.splitlines()) == 3, (rc, out, err))

    # ---- logs and metrics ----
    log = open(d.log, errors="replace").read()
    warned = [ln for ln in log.splitlines()
              if "delivery of message" in ln and "failed" in ln]
    check("a warning line per failed attempt", len(warned) == 2 and
          any("undelivered" in ln for ln in warned) and
          any("next attempt at" in ln for ln in warned), warned)
    lab = '{channel="mail",type="email"}'
    check("metrics: attempts", metric(d, "belfry_delivery_attempts_total" +
                                      lab) == 4)
    check("metrics: successes",
          metric(d, "belfry_delivery_successes_total" + lab) == 2)
    check("metrics: failures",
          metric(d, "belfry_delivery_failures_total" + lab) == 2)
    check("metrics: duration histogram",
          metric(d, 'belfry_delivery_duration_seconds_count'
                    '{channel="mail"}') == 4)

    # ---- STARTTLS required, not offered ----
    st, j = d.req("POST", "/v1/workflows/clear/trigger",
                  {"recipients": ["ada"]})
    d.req("POST", "/admin/clock", {"advance_by_seconds": 0})
    check("nothing sent in the clear", plain.mails == [], plain.mails)
    st, j = d.req("GET", "/v1/users/ada/messages?channel_id=clear")
    m = (j.get("items") or [{}])[0] if st == 200 else {}
    dl = m.get("delivery") or {}
    check("STARTTLS refused: queued for a retry", m.get("status") ==
          "queued" and dl.get("attempts") == 1 and
          "STARTTLS" in (dl.get("last_error") or ""), m)

    # ---- smtps: TLS from the first byte ----
    st, j = d.req("POST", "/v1/workflows/sealed/trigger",
                  {"recipients": ["ada"]})
    d.req("POST", "/admin/clock", {"advance_by_seconds": 0})
    check("smtps: the mail arrived over TLS", len(sealed.mails) == 1 and
          sealed.mails[0]["tls"] and sealed.mails[0]["to"] ==
          ["ada@example.org"], sealed.mails)
    st, j = d.req("GET", "/v1/users/ada/messages?channel_id=sealed")
    m = (j.get("items") or [{}])[0] if st == 200 else {}
    check("smtps: sent", m.get("status") == "sent", m)


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-email-")
    d = None
    try:
        d = run(tmp)
    except Exception as e:  # a crash of the test is a failure, with why
        import traceback
        traceback.print_exc()
        check("test ran to the end", False, e)
    keep_or_remove(tmp, check.failed, [d.log] if d else [])
    return check.summary("email")


if __name__ == "__main__":
    sys.exit(main())
