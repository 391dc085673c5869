#!/usr/bin/env python3
"""Source events: Segment's and RudderStack's own Node libraries against
the real belfryd (virtual clock, TCP listener).

    tests/integration/test_sources.py BUILD_DIR

tests/sources/ holds @segment/analytics-node 3 and
@rudderstack/rudder-sdk-node, installed from its lock file with `npm ci`
when missing; tests/sources/drive.mjs runs one library, unchanged, with
its host and path pointed at a source, and reports the HTTP statuses of
its batches.  Checked:

- identify creates the user with traits and time zone (both libraries;
  RudderStack's gzips its body);
- a mapped track triggers the workflow for the recipients at the path
  (ids, recipient objects) with the actor; the run's trigger_source names
  the source, event, message id and the event's timestamp;
- the same messageId sent again makes no second run and is logged as a
  duplicate;
- a cancel event cancels the delayed runs of its key: after the virtual
  clock passes the delay they sent nothing, while an uncancelled run did;
- a track no mapping applies to is accepted and counted as unmapped, one
  without recipients at the path as failed with the reason (200 both);
- a wrong write key gets 401 from both libraries, an oversized batch or
  event 400 (Segment's limits), and neither leaves anything logged;
- /metrics counts per source and outcome, `belfryctl sources` lists them;
  a group call upserts the object and subscribes the user;
- a reload with a bad source file is refused at file:line:column and the
  running sources stay; a good one adds its source.

Ends with "sources: N passed, M failed".
"""

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import Checks, keep_or_remove  # noqa: E402
from test_daemon import free_port  # noqa: E402

ROOT = ts.ROOT
LIBS = os.path.join(ROOT, "tests", "sources")
KEY = "wk_test_belfry_segment"
RKEY = "wk_test_belfry_rudder"
START = "2026-12-02T10:00:00Z"

check = Checks()


def write_config(conf, tmp, port):
    """Two workflows and two sources (a Segment and a RudderStack one)."""
    for d in ("workflows", "sources"):
        os.makedirs(os.path.join(conf, d))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"socket": os.path.join(tmp, "unused.sock"),
                   "database": os.path.join(tmp, "unused.db"),
                   "listen": "127.0.0.1:%d" % port,
                   "default_timezone": "UTC",
                   "channels": {"feed": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(conf, "workflows", "comment.json"), "w") as f:
        json.dump({"key": "comment", "steps": [
            {"ref": "wait", "type": "delay", "duration": {"minutes": 10}},
            {"ref": "f", "type": "channel", "channel": "feed",
             "template": {"markdown": "{{ actor.name }}: {{ data.text }}"}}
        ]}, f)
    events = [
        {"event": "Comment Created", "action": "trigger",
         "workflow": "comment", "recipients": "properties.recipient_ids",
         "actor": "userId", "cancellation_key": "properties.comment_id"},
        {"event": "Comment Deleted", "action": "cancel",
         "workflow": "comment", "cancellation_key": "properties.comment_id"},
        {"event": "Mentioned", "action": "trigger", "workflow": "comment",
         "recipients": "properties.who", "actor": "properties.by",
         "data": "properties.payload",
         "conditions": [{"variable": "event.properties.muted",
                         "operator": "not_equal_to", "argument": True}]},
    ]
    with open(os.path.join(conf, "sources", "segment.json"), "w") as f:
        json.dump({"key": "segment", "type": "segment", "write_keys": [KEY],
                   "identify": True,
                   "group": {"as": "object", "collection": "accounts",
                             "subscribe": True},
                   "events": events}, f)
    with open(os.path.join(conf, "sources", "rudder.json"), "w") as f:
        json.dump({"key": "rudder", "type": "rudderstack",
                   "write_keys": [RKEY], "identify": True,
                   "events": events}, f)


def drive(lib, port, source, key, calls):
    """Run drive.mjs: (statuses, errors) of the library's batches."""
    p = subprocess.run(
        ["node", os.path.join(LIBS, "drive.mjs"), lib,
         "http://127.0.0.1:%d" % port, source, key],
        input=json.dumps(calls), capture_output=True, text=True, timeout=120)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, [p.stdout[-500:], p.stderr[-1500:]]
    return out["statuses"], out["errors"]


def post(port, path, body, key, headers=None):
    """One POST over TCP with key as HTTP Basic's user: (status, JSON)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Content-Type": "application/json",
         "Authorization": "Basic " + base64.b64encode(
             (key + ":").encode()).decode()}
    h.update(headers or {})
    c.request("POST", path, body, h)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def runs(d, rcpt):
    """The recipient runs of rcpt, newest first."""
    st, j = d.req("GET", "/v1/workflow_recipient_runs?recipient=" + rcpt)
    return j["items"] if st == 200 else []


def events(d, source, outcome=None):
    """The newest page of a source's logged events."""
    q = "?outcome=" + outcome if outcome else ""
    st, j = d.req("GET", "/v1/sources/%s/events%s" % (source, q))
    return j["items"] if st == 200 else []


def identify(d, port):
    """Both libraries' identify calls create users with traits and zones."""
    st, err = drive("segment", port, "segment", KEY, [
        {"call": "identify", "args": {"userId": "ann", "traits": {
            "name": "Ann", "email": "ann@example.com", "phone": "+15550100",
            "timezone": "America/New_York", "plan": "pro"}}}])
    check("segment identify: 200", st == [200], (st, err))
    st, u = d.req("GET", "/v1/users/ann")
    check("segment identify: user with traits and time zone", st == 200 and
          u.get("name") == "Ann" and u.get("email") == "ann@example.com" and
          u.get("phone_number") == "+15550100" and
          u.get("timezone") == "America/New_York" and
          u.get("plan") == "pro", u)
    st, err = drive("rudderstack", port, "rudder", RKEY, [
        {"call": "identify", "args": {"userId": "rae", "traits": {
            "name": "Rae", "email": "rae@example.com"},
            "context": {"timezone": "Asia/Tokyo", "locale": "ja-JP"}}}])
    check("rudderstack identify (gzip): 200", st == [200], (st, err))
    st, u = d.req("GET", "/v1/users/rae")
    check("rudderstack identify: user, time zone and locale from context",
          st == 200 and u.get("name") == "Rae" and
          u.get("timezone") == "Asia/Tokyo" and u.get("locale") == "ja-JP",
          u)


def trigger_dedupe_cancel(d, port):
    """Mapped tracks trigger; a resent messageId does not; cancel works."""
    ts_sent = "2026-12-02T09:58:30.000Z"
    calls = [
        {"call": "track", "args": {
            "userId": "ann", "event": "Comment Created",
            "messageId": "msg-c1", "timestamp": ts_sent,
            "properties": {"recipient_ids": ["bob", "cy"],
                           "comment_id": "c1", "text": "first"}}},
        {"call": "track", "args": {
            "userId": "ann", "event": "Comment Created",
            "messageId": "msg-c2",
            "properties": {"recipient_ids": "bob", "comment_id": "c2",
                           "text": "second"}}},
    ]
    st, err = drive("segment", port, "segment", KEY, calls)
    check("segment track: 200", st == [200], (st, err))
    bob, cy = runs(d, "bob"), runs(d, "cy")
    check("track: a run per recipient at the path",
          len(bob) == 2 and len(cy) == 1, (bob, cy))
    first = [r for r in bob if r["trigger_source"].get("message_id") ==
             "msg-c1"]
    src = first[0]["trigger_source"] if first else {}
    check("track: the workflow with the actor", len(first) == 1 and
          first[0]["workflow"] == "comment" and first[0]["actor"] == "ann",
          first)
    check("track: trigger_source names source, event, message id and the "
          "event's timestamp", src.get("type") == "source" and
          src.get("source") == "segment" and
          src.get("event") == "Comment Created" and
          src.get("timestamp") == ts_sent and
          src.get("cancellation_key") == "c1", src)

    st, err = drive("segment", port, "segment", KEY, calls[:1])
    check("resent messageId: 200", st == [200], (st, err))
    check("resent messageId: no second run",
          len(runs(d, "bob")) == 2 and len(runs(d, "cy")) == 1,
          runs(d, "bob"))
    dup = events(d, "segment", "duplicate")
    check("resent messageId: logged as a duplicate", len(dup) == 1 and
          dup[0]["message_id"] == "msg-c1", dup)

    st, err = drive("segment", port, "segment", KEY, [
        {"call": "track", "args": {"userId": "ann",
                                   "event": "Comment Deleted",
                                   "properties": {"comment_id": "c1"}}}])
    check("cancel track: 200", st == [200], (st, err))
    status = {r["trigger_source"].get("message_id"): r["status"]
              for r in runs(d, "bob")}
    check("cancel: the delayed runs of its key are cancelled, others not",
          status.get("msg-c1") == "cancelled" and
          status.get("msg-c2") != "cancelled" and
          runs(d, "cy")[0]["status"] == "cancelled", status)
    st, j = d.req("POST", "/admin/clock",
                  {"advance_to": "2026-12-02T10:30:00Z"})
    st, feed = d.req("GET", "/v1/users/bob/feeds/feed")
    texts = [e["blocks"][0]["rendered"] for e in feed.get("entries", [])] \
        if st == 200 else feed
    check("cancel: after the delay only the uncancelled run sent",
          len(texts) == 1 and "second" in texts[0], texts)
    st, feed = d.req("GET", "/v1/users/cy/feeds/feed")
    check("cancel: the cancelled recipient got nothing",
          st == 200 and feed.get("entries") == [], feed)


def rudder_track(d, port):
    """RudderStack's library: recipient objects, conditions, dedupe."""
    calls = [{"call": "track", "args": {
        "userId": "rae", "event": "Mentioned", "messageId": "r-m1",
        "properties": {"who": [{"id": "dee", "name": "Dee"}, "eve"],
                       "by": "rae", "payload": {"text": "hey"}}}},
             {"call": "track", "args": {
                 "userId": "rae", "event": "Mentioned", "messageId": "r-m2",
                 "properties": {"who": ["eve"], "by": "rae", "muted": True,
                                "payload": {"text": "muted"}}}}]
    st, err = drive("rudderstack", port, "rudder", RKEY, calls)
    check("rudderstack track: 200", st and all(s == 200 for s in st),
          (st, err))
    st, u = d.req("GET", "/v1/users/dee")
    check("recipient objects: identified inline", st == 200 and
          u.get("name") == "Dee", u)
    dee, eve = runs(d, "dee"), runs(d, "eve")
    check("recipient objects and ids: one run each, actor from the path",
          len(dee) == 1 and len(eve) == 1 and dee[0]["actor"] == "rae" and
          dee[0]["trigger_source"].get("source") == "rudder" and
          dee[0]["trigger_source"].get("timestamp") is not None, (dee, eve))
    un = events(d, "rudder", "unmapped")
    check("conditions: a muted mention is unmapped", len(un) == 1 and
          un[0]["message_id"] == "r-m2", un)
    st, err = drive("rudderstack", port, "rudder", RKEY, calls[:1])
    check("rudderstack resend: no second run",
          st and all(s == 200 for s in st) and len(runs(d, "dee")) == 1,
          (st, err, runs(d, "dee")))


def refusals(d, port):
    """Wrong keys 401; oversized 400; unmapped and failed are 200."""
    before = len(events(d, "segment"))
    call = [{"call": "track", "args": {"userId": "ann",
                                       "event": "Comment Created",
                                       "properties": {"recipient_ids":
                                                      ["zed"]}}}]
    st, err = drive("segment", port, "segment", "wk_wrong_key_123", call)
    check("segment, wrong write key: 401", st == [401], (st, err))
    st, err = drive("rudderstack", port, "rudder", KEY, call)
    check("rudderstack, another source's write key: 401",
          st and all(s == 401 for s in st), (st, err))
    check("a refused key leaves no run", runs(d, "zed") == [])
    big = json.dumps({"batch": [
        {"type": "track", "event": "Comment Created", "userId": "ann",
         "messageId": "big-%d" % i,
         "properties": {"recipient_ids": ["zed"], "pad": "x" * 20000}}
        for i in range(30)]})
    st, j = post(port, "/sources/segment/v1/batch", big, KEY)
    check("a batch over 500 KB: 400 naming the limit", st == 400 and
          "500 KB" in j.get("message", ""), (st, j))
    st, j = post(port, "/sources/segment/v1/batch", json.dumps({"batch": [
        {"type": "track", "event": "Comment Created", "userId": "ann",
         "properties": {"recipient_ids": ["zed"], "pad": "x" * 40000}}]}),
        KEY)
    check("an event over 32 KB in a batch: 400", st == 400 and
          "32 KB" in j.get("message", ""), (st, j))
    st, j = post(port, "/sources/segment/v1/track", json.dumps(
        {"event": "Comment Created", "userId": "ann",
         "properties": {"recipient_ids": ["zed"], "pad": "x" * 40000}}), KEY)
    check("a track call over 32 KB: 400", st == 400, (st, j))
    check("refused requests log nothing and make no run",
          len(events(d, "segment")) == before and runs(d, "zed") == [])
    st, j = post(port, "/sources/segment/v1/track", json.dumps(
        {"event": "Page Viewed", "userId": "ann", "messageId": "u-1"}), KEY)
    check("an unmapped track: 200 success", st == 200 and
          j == {"success": True}, (st, j))
    st, j = post(port, "/sources/segment/v1/track", json.dumps(
        {"event": "Comment Created", "userId": "ann", "messageId": "f-1",
         "properties": {"comment_id": "c9"}}), KEY)
    failed = events(d, "segment", "failed")
    check("no recipients at the path: 200, failed with the reason",
          st == 200 and len(failed) == 1 and
          failed[0]["detail"] == "no recipients at properties.recipient_ids",
          (st, j, failed))
    st, j = post(port, "/sources/segment/v1/batch", "{}", KEY,
                 {"Content-Encoding": "gzip"})
    check("a body that is not gzip: 400", st == 400, (st, j))


def group_and_views(d, port):
    """group upserts the object and subscription; metrics; belfryctl."""
    st, err = drive("segment", port, "segment", KEY, [
        {"call": "group", "args": {"userId": "ann", "groupId": "acme",
                                   "traits": {"name": "Acme", "seats": 5}}}])
    check("segment group: 200", st == [200], (st, err))
    st, o = d.req("GET", "/v1/objects/accounts/acme")
    check("group: the object with its traits", st == 200 and
          o.get("properties", {}).get("name") == "Acme", o)
    st, subs = d.req("GET", "/v1/objects/accounts/acme/subscriptions")
    check("group: the user subscribed", st == 200 and
          [s["recipient"]["id"] for s in subs.get("entries", [])] == ["ann"],
          subs)
    st, text = d.req("GET", "/metrics")
    want = ['belfry_source_events_total{source="segment",outcome="%s"}'
            ' %d' % kv for kv in (("triggered", 2), ("cancelled", 1),
                                  ("duplicate", 1), ("identified", 1),
                                  ("grouped", 1), ("unmapped", 1),
                                  ("failed", 1))]
    check("metrics per source and outcome",
          all(w in text for w in want),
          [w for w in want if w not in text])
    rc, out, err = ts.ctl(d.sock, "sources")
    line = [x for x in out.splitlines() if x.startswith("segment ")]
    check("belfryctl sources: counts per outcome", rc == 0 and line and
          line[0].split()[2:] == ["2", "1", "1", "1", "1", "1", "1"],
          (rc, out, err))
    rc, out, err = ts.ctl(d.sock, "sources", "segment", "--outcome",
                          "failed")
    check("belfryctl sources KEY --outcome: the reason", rc == 0 and
          "no recipients at properties.recipient_ids" in out, (rc, out, err))
    st, j = d.req("GET", "/v1/sources/segment/events?page_size=2")
    nxt = j.get("page_info", {}).get("after") if st == 200 else None
    st2, j2 = d.req("GET", "/v1/sources/segment/events?page_size=2&after=" +
                    str(nxt))
    check("events are paged newest first", st == 200 and st2 == 200 and
          len(j["items"]) == 2 and len(j2["items"]) == 2 and
          j["items"][1]["id"] != j2["items"][0]["id"], (j, j2))
    prv = j2.get("page_info", {}).get("before") if st2 == 200 else None
    st3, j3 = d.req("GET", "/v1/sources/segment/events?page_size=2&before=" +
                    str(prv))
    check("before pages back to the newest events", st3 == 200 and
          [x["id"] for x in j3["items"]] == [x["id"] for x in j["items"]] and
          j3["page_info"]["before"] is None and
          j["page_info"]["before"] is None, (j, j3))
    st, j = d.req("GET", "/v1/sources/nosuch/events")
    check("events of an unknown source: 404", st == 404, (st, j))


def reload_atomic(d, port, conf):
    """A bad source file on reload: 422 at file:line:column, the running
    sources stay; a good one adds its source."""
    bad = os.path.join(conf, "sources", "zz.json")
    with open(bad, "w") as f:
        f.write('{"key": "zz", "type": "segment",\n "write_keys": ["short"]}')
    st, j = d.req("POST", "/admin/reload", {})
    check("reload with a bad source: 422 naming file:line:column",
          st == 422 and "zz.json:2:17: a write key must be" in
          j.get("message", ""), (st, j))
    st, _ = post(port, "/sources/segment/v1/track", json.dumps(
        {"event": "Page Viewed", "userId": "ann"}), KEY)
    check("after the refused reload the source still answers", st == 200)
    with open(bad, "w") as f:
        json.dump({"key": "zz", "type": "segment",
                   "write_keys": ["wk_zz_12345678"]}, f)
    st, j = d.req("POST", "/admin/reload", {})
    st2, _ = post(port, "/sources/zz/v1/track", json.dumps(
        {"event": "Page Viewed", "userId": "ann"}), "wk_zz_12345678")
    check("a reload adds a source", st == 200 and st2 == 200, (st, j, st2))


def wait_port(port):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def main():
    if subprocess.run(["node", "--version"], capture_output=True).returncode:
        check("node is installed", False)
        return check.summary("sources")
    if not os.path.isdir(os.path.join(LIBS, "node_modules", "@segment")):
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"],
                           cwd=LIBS, capture_output=True, text=True,
                           timeout=600)
        if not check("npm ci in tests/sources", p.returncode == 0,
                     p.stderr[-1500:]):
            return check.summary("sources")
    tmp = tempfile.mkdtemp(prefix="belfry-sources.")
    conf = os.path.join(tmp, "conf")
    port = free_port()
    write_config(conf, tmp, port)
    d = ts.Daemon(tmp, conf, START)
    try:
        if check("the TCP listener opens for sources", wait_port(port)):
            identify(d, port)
            trigger_dedupe_cancel(d, port)
            rudder_track(d, port)
            refusals(d, port)
            group_and_views(d, port)
            reload_atomic(d, port, conf)
    finally:
        d.stop()
        keep_or_remove(tmp, check.failed, [d.log])
    return check.summary("sources")


if __name__ == "__main__":
    sys.exit(main())
