#!/usr/bin/env python3
"""Integration tests of issue 4's workflow engine against the real daemon.

    tests/integration/test_workflows.py BUILD_DIR

belfryd runs on a temporary socket, database and config directory (with
this file's workflows) under --virtual-clock 2026-03-01T00:00:00Z, and is
driven with HTTP over its Unix socket.  Time only moves through
POST /admin/clock, which runs every due item in time order and answers once
it is done; nothing sleeps except while waiting for the socket to appear.
The checks follow one clock, so the sections run in time order: invalid
triggers, delay, batch, throttle, branch and channel conditions, fan-out,
preferences, cancellation (with a 10,000-subscriber fan-out), then the DST
batches of 2026-03-08 (New York) and 2026-03-29 (Berlin).  Invalid
workflow definitions are checked with `belfryctl check -c DIR` on small
config directories (and one belfryd start).

Prints one line per check and ends with "workflows: N passed, M failed";
exits 1 if a check failed.  The daemon's log (and its directory) is kept
only on failure.
"""

import datetime
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

from belfrytest import (  # noqa: E402
    Checks, UnixConnection, keep_or_remove)

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
BELFRYD = os.path.join(BUILD, "belfryd")
BELFRYCTL = os.path.join(BUILD, "belfryctl")
START = "2026-03-01T00:00:00Z"

check = Checks(verbose=True)


# ---------------------------------------------------------------- HTTP

class Reply:
    def __init__(self, status, body):
        self.status = status
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:600])


SOCK = None


def req(method, path, body=None):
    """One request on the admin socket."""
    conn = UnixConnection(SOCK, timeout=120)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read().decode(errors="replace")
        return Reply(resp.status, raw)
    except OSError as e:
        return Reply(0, "request failed: %s" % e)
    finally:
        conn.close()


def q(s):
    return urllib.parse.quote(s, safe="")


def put_user(uid, **props):
    r = req("PUT", "/v1/users/" + q(uid), props)
    if r.status != 200:
        raise RuntimeError("PUT user %s: %r" % (uid, r))


def put_object(coll, oid, **props):
    r = req("PUT", "/v1/objects/%s/%s" % (q(coll), q(oid)), props)
    if r.status != 200:
        raise RuntimeError("PUT object %s/%s: %r" % (coll, oid, r))


def subscribe(coll, oid, recipients, properties=None):
    body = {"recipients": recipients}
    if properties is not None:
        body["properties"] = properties
    r = req("POST", "/v1/objects/%s/%s/subscriptions" % (q(coll), q(oid)),
            body)
    if r.status != 200:
        raise RuntimeError("subscribe to %s/%s: %r" % (coll, oid, r))


def put_prefs(uid, set_id, body):
    r = req("PUT", "/v1/users/%s/preferences/%s" % (q(uid), q(set_id)),
            body)
    if r.status != 200:
        raise RuntimeError("PUT preferences %s/%s: %r" % (uid, set_id, r))


def trigger(wf, body):
    """Trigger; the reply (status 200 expected by the caller)."""
    return req("POST", "/v1/workflows/%s/trigger" % q(wf), body)


def must_trigger(wf, body):
    r = trigger(wf, body)
    if r.status != 200:
        raise RuntimeError("trigger %s %s: %r" % (wf, json.dumps(body)[:200],
                                                  r))
    return (r.json() or {}).get("workflow_run_id")


def cancel(wf, body):
    return req("POST", "/v1/workflows/%s/cancel" % q(wf), body)


NOW = [START]


def advance_by(n):
    r = req("POST", "/admin/clock", {"advance_by_seconds": n})
    if r.status != 200:
        raise RuntimeError("advance_by %d: %r" % (n, r))
    NOW[0] = r.json()["now"]
    return NOW[0]


def advance_to(t):
    r = req("POST", "/admin/clock", {"advance_to": t})
    if r.status != 200:
        raise RuntimeError("advance_to %s: %r" % (t, r))
    NOW[0] = r.json()["now"]
    return NOW[0]


def flush():
    """Run the work due now (fan-out chunks, batches full at once)."""
    return advance_by(0)


def feed(uid, channel="feed"):
    """The user's feed entries, newest first."""
    r = req("GET", "/v1/users/%s/feeds/%s?page_size=50" % (q(uid),
                                                           q(channel)))
    if r.status != 200:
        raise RuntimeError("feed %s: %r" % (uid, r))
    return r.json().get("entries", [])


def entry_text(e):
    blocks = e.get("blocks") or []
    return blocks[0].get("content") if blocks else None


def texts(uid, channel="feed"):
    """The rendered texts of the user's feed, oldest first."""
    return [entry_text(e) for e in reversed(feed(uid, channel))]


def runs(wf, recipient=None, status=None):
    """Recipient runs of a workflow (optionally one recipient/status),
    newest first, every page."""
    out = []
    after = None
    while True:
        path = "/v1/workflow_recipient_runs?page_size=50&workflow=" + q(wf)
        if recipient is not None:
            path += "&recipient=" + q(recipient)
        if status is not None:
            path += "&status=" + q(status)
        if after:
            path += "&after=" + q(after)
        r = req("GET", path)
        if r.status != 200:
            raise RuntimeError("runs: %r" % r)
        j = r.json()
        out += j.get("items", [])
        after = (j.get("page_info") or {}).get("after")
        if not after or len(out) > 20000:
            return out


def one_run(wf, recipient):
    rs = runs(wf, recipient)
    return rs[0] if len(rs) == 1 else None


def step_events(run, ref=None):
    if run is None:
        return []
    return [e for e in run.get("events", [])
            if ref is None or e.get("step_ref") == ref]


def metric(name):
    r = req("GET", "/metrics")
    for line in r.body.split("\n"):
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def rcpt_name(ref):
    """A run's recipient as a key: "u1" or "collection/id"."""
    if isinstance(ref, dict):
        return "%s/%s" % (ref.get("collection"), ref.get("id"))
    return ref


def iso_plus(t, secs):
    """The RFC 3339 UTC instant secs seconds after t."""
    d = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
    d += datetime.timedelta(seconds=secs)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------ configuration

def feed_step(ref, text, channel="feed", **extra):
    s = {"ref": ref, "type": "channel", "channel": channel,
         "template": {"markdown": text}}
    s.update(extra)
    return s


def cond(variable, operator, argument=None):
    c = {"variable": variable, "operator": operator}
    if argument is not None:
        c["argument"] = argument
    return c


WORKFLOWS = {
    # ---- delay
    "delay-fixed": {"steps": [
        {"ref": "wait", "type": "delay", "duration": {"minutes": 5}},
        feed_step("f", "delayed {{ data.n }}")]},
    "delay-dyn": {"steps": [
        {"ref": "wait", "type": "delay", "duration_key": "data.wait"},
        feed_step("f", "dyn {{ data.label }}")]},
    # ---- batch
    "batch-fixed": {"steps": [
        {"ref": "b", "type": "batch", "window": {"minutes": 10}},
        feed_step("f", "{{ total_activities }} activities by "
                  "{{ total_actors }} actors: {{ actors[0].name }}, "
                  "{{ actors[1].name }} | {{ activities[0].data.n }}"
                  "{{ activities[1].data.n }}{{ activities[2].data.n }} | "
                  "{{ activities[1].actor.name }}")]},
    "batch-sliding": {"steps": [
        {"ref": "b", "type": "batch", "window": 300,
         "window_type": "sliding", "max_window": {"minutes": 15}},
        feed_step("f", "sliding {{ total_activities }}")]},
    "batch-max": {"steps": [
        {"ref": "b", "type": "batch", "window": {"hours": 1},
         "max_activities": 3},
        feed_step("f", "max {{ total_activities }}")]},
    "batch-key": {"steps": [
        {"ref": "b", "type": "batch", "window": 600, "batch_key": "post"},
        feed_step("f", "{{ total_activities }} on {{ data.post }}")]},
    "batch-first": {"steps": [
        {"ref": "b", "type": "batch", "window": 600, "render_limit": 2,
         "order": "first"},
        feed_step("f", "{{ activities.size }} of {{ total_activities }}: "
                  "{{ activities[0].data.n }},{{ activities[1].data.n }}")]},
    "batch-last": {"steps": [
        {"ref": "b", "type": "batch", "window": 600, "render_limit": 2,
         "order": "last"},
        feed_step("f", "{{ activities.size }} of {{ total_activities }}: "
                  "{{ activities[0].data.n }},{{ activities[1].data.n }}")]},
    "batch-default": {"steps": [
        {"ref": "b", "type": "batch", "window": 600},
        feed_step("f", "{{ activities.size }} of {{ total_activities }}: "
                  "{{ activities[0].data.n }}..{{ activities[-1].data.n }}")]},
    "batch-dyn": {"steps": [
        {"ref": "b", "type": "batch", "duration_key": "data.window"},
        feed_step("f", "dyn batch {{ total_activities }}")]},
    "digest": {"steps": [
        {"ref": "b", "type": "batch",
         "window_rule": {"frequency": "daily", "hours": 9}},
        feed_step("f", "digest {{ total_activities }}")]},
    # ---- throttle
    "throttle": {"steps": [
        {"ref": "t", "type": "throttle", "window": {"hours": 1},
         "threshold": 2},
        feed_step("f", "thr {{ data.n }}")]},
    "throttle-key": {"steps": [
        {"ref": "t", "type": "throttle", "window": 3600,
         "throttle_key": "data.topic"},
        feed_step("f", "topic {{ data.topic }} {{ data.n }}")]},
    # ---- branch (the default listed before a later matching branch)
    "branch": {"steps": [
        {"ref": "br", "type": "branch", "branches": [
            {"name": "vip", "conditions": [
                cond("data.amount", "greater_than", 100)], "steps": [
                {"ref": "inner", "type": "branch", "branches": [
                    {"name": "pro", "conditions": [
                        cond("recipient.plan", "equal_to", "pro")],
                     "steps": [feed_step("f-vip-pro", "vip pro")]},
                    {"name": "not-pro", "default": True,
                     "steps": [feed_step("f-vip", "vip")]}]}]},
            {"name": "fallback", "default": True,
             "steps": [feed_step("f-small", "small")]},
            {"name": "big", "conditions": [
                cond("data.amount", "greater_than", 10)],
             "steps": [feed_step("f-big", "big")]}]},
        feed_step("f-after", "after")]},
    # ---- channel step conditions
    "cond": {"steps": [
        feed_step("f-pro", "for pros", conditions=[
            cond("recipient.plan", "equal_to", "pro")]),
        feed_step("f-all", "for all")]},
    # ---- fan-out
    "fan": {"steps": [
        feed_step("f", "to {{ recipient.id }} as "
                  "{{ recipient.subscription.properties.role }}")]},
    # ---- preferences
    "pref-news": {"categories": ["news"], "steps": [
        feed_step("f", "news")]},
    "pref-cats": {"categories": ["alerts", "promo"], "steps": [
        feed_step("f", "cats")]},
    "pref-chan": {"steps": [
        feed_step("f-one", "one"),
        feed_step("f-two", "two", channel="feed2")]},
    "pref-plain": {"steps": [feed_step("f", "plain {{ data.priority }}")]},
    # ---- cancellation
    "cx-delay": {"steps": [
        {"ref": "wait", "type": "delay", "duration": 600},
        feed_step("f", "cx {{ data.n }}")]},
    "cx-batch": {"steps": [
        {"ref": "b", "type": "batch", "window": 600},
        feed_step("f", "{{ total_activities }}: {{ activities[0].data.n }}"
                  "{{ activities[1].data.n }}{{ activities[2].data.n }}"
                  "{{ activities[3].data.n }}")]},
}


def write_config(conf, tmp):
    os.makedirs(os.path.join(conf, "workflows"))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({
            "socket": os.path.join(tmp, "unused.sock"),
            "database": os.path.join(tmp, "unused.db"),
            "default_timezone": "UTC",
            "channels": {"feed": {"type": "in_app_feed"},
                         "feed2": {"type": "in_app_feed"},
                         "audit": {"type": "log"}},
            # The environment default, the lowest preference layer.
            "preferences": {"default": {"categories": {"news": False}}},
        }, f, indent=2)
    for key, wf in WORKFLOWS.items():
        body = {"key": key, "name": key}
        body.update(wf)
        with open(os.path.join(conf, "workflows", key + ".json"), "w") as f:
            json.dump(body, f, indent=2)


# ------------------------------------------------------------------ checks

def section_delay():
    # fixed
    put_user("dl1")
    must_trigger("delay-fixed", {"recipients": ["dl1"], "data": {"n": 1}})
    run = one_run("delay-fixed", "dl1")
    paused = run is not None and run.get("status") == "paused" and any(
        e.get("event") == "delayed" for e in step_events(run, "wait"))
    advance_by(299)
    before = texts("dl1")
    advance_by(1)
    after = texts("dl1")
    run = one_run("delay-fixed", "dl1")
    check("delay: fixed 5 min holds the message until its end",
          paused and before == [] and after == ["delayed 1"] and
          run and run.get("status") == "completed",
          (paused, before, after, run))

    # skip_delay
    must_trigger("delay-fixed", {"recipients": ["dl2"], "data": {"n": 2},
                                 "settings": {"skip_delay": True}})
    got = texts("dl2")
    run = one_run("delay-fixed", "dl2")
    ev = step_events(run, "wait")
    check("delay: settings.skip_delay sends at once and records it",
          got == ["delayed 2"] and run and run["status"] == "completed" and
          any(e.get("event") == "step_skipped" and
              "skip_delay" in json.dumps(e.get("data")) for e in ev),
          (got, run))

    # dynamic: seconds, {unit: n}, ISO timestamp
    t0 = NOW[0]
    must_trigger("delay-dyn", {"recipients": ["dy-sec"],
                               "data": {"wait": 120, "label": "sec"}})
    must_trigger("delay-dyn", {"recipients": ["dy-unit"],
                               "data": {"wait": {"minutes": 3},
                                        "label": "unit"}})
    must_trigger("delay-dyn", {"recipients": ["dy-iso"],
                               "data": {"wait": iso_plus(t0, 240),
                                        "label": "iso"}})
    seen = {}
    for sec in (119, 120, 179, 180, 239, 240):
        advance_to(iso_plus(t0, sec))
        seen[sec] = (texts("dy-sec"), texts("dy-unit"), texts("dy-iso"))
    check("delay: dynamic from data, seconds (120)",
          seen[119][0] == [] and seen[120][0] == ["dyn sec"], seen)
    check("delay: dynamic from data, {\"minutes\": 3}",
          seen[179][1] == [] and seen[180][1] == ["dyn unit"], seen)
    check("delay: dynamic from data, ISO timestamp (+4 min)",
          seen[239][2] == [] and seen[240][2] == ["dyn iso"], seen)

    # an ISO timestamp with a UTC offset: +01:00, so 00:04Z is 01:04+01:00
    t0 = NOW[0]
    local = iso_plus(t0, 3600 + 240).replace("Z", "+01:00")
    must_trigger("delay-dyn", {"recipients": ["dy-off"],
                               "data": {"wait": local, "label": "off"}})
    run = one_run("delay-dyn", "dy-off")
    advance_to(iso_plus(t0, 239))
    b = texts("dy-off")
    advance_to(iso_plus(t0, 240))
    a = texts("dy-off")
    check("delay: dynamic ISO timestamp with a UTC offset (%s)" % local,
          b == [] and a == ["dyn off"],
          (b, a, step_events(run, "wait")))

    # invalid and missing values skip the step and say why
    must_trigger("delay-dyn", {"recipients": ["dy-bad"],
                               "data": {"wait": "soon", "label": "bad"}})
    must_trigger("delay-dyn", {"recipients": ["dy-none"],
                               "data": {"label": "none"}})
    must_trigger("delay-dyn", {"recipients": ["dy-neg"],
                               "data": {"wait": {"fortnights": 1},
                                        "label": "neg"}})
    must_trigger("delay-dyn", {"recipients": ["dy-long"],
                               "data": {"wait": {"days": 400},
                                        "label": "long"}})
    res = {}
    for u in ("dy-bad", "dy-none", "dy-neg", "dy-long"):
        run = one_run("delay-dyn", u)
        ev = [e for e in step_events(run, "wait")
              if e.get("event") == "step_skipped"]
        reason = (ev[0].get("data") or {}).get("reason", "") if ev else ""
        res[u] = (texts(u), run and run.get("status"), reason)
    check("delay: invalid or missing value skips the step, reason in events",
          all(v[0] == ["dyn " + u[3:]] and v[1] == "completed" and
              "invalid" in v[2] for u, v in res.items()) and
          "missing" in res["dy-none"][2], res)


def section_batch():
    put_user("ba1", name="Ann")
    put_user("ba2", name="Bo")
    t0 = NOW[0]
    for i, (actor, at) in enumerate((("ba1", 0), ("ba2", 60), ("ba1", 120))):
        advance_to(iso_plus(t0, at))
        must_trigger("batch-fixed", {"recipients": ["bf1"], "actor": actor,
                                     "data": {"n": i + 1}})
    rs_open = runs("batch-fixed", "bf1")
    advance_to(iso_plus(t0, 599))
    before = texts("bf1")
    advance_to(iso_plus(t0, 600))
    entries = feed("bf1")
    check("batch: fixed 10 min window closes at its end, one message",
          before == [] and len(entries) == 1, (before, entries))
    want = "3 activities by 2 actors: Ann, Bo | 123 | Bo"
    got = entry_text(entries[0]) if entries else None
    check("batch: template sees activities, actors, total_activities, "
          "total_actors", got == want, (got, want))
    e = entries[0] if entries else {}
    acts = e.get("activities") or []
    actors = e.get("actors") or []
    check("batch: feed entry has the batch's activities, actors and totals",
          e.get("total_activities") == 3 and e.get("total_actors") == 2 and
          len(acts) == 3 and
          [(a.get("data") or {}).get("n") for a in acts] in ([1, 2, 3],
                                                             [3, 2, 1]) and
          sorted(a.get("id") for a in actors) == ["ba1", "ba2"],
          {k: e.get(k) for k in ("total_activities", "total_actors",
                                 "activities", "actors")})
    # messages.listActivities: the batch's activities, newest first.
    r = req("GET", "/v1/messages/%s/activities?page_size=2" % e.get("id"))
    j = r.json() or {}
    items = j.get("items") or []
    after = (j.get("page_info") or {}).get("after")
    r2 = req("GET", "/v1/messages/%s/activities?page_size=2&after=%s" %
             (e.get("id"), after))
    items += (r2.json() or {}).get("items") or []
    check("batch: the message's activities are the batch's, paged",
          r.status == 200 and [a["data"]["n"] for a in items] == [3, 2, 1]
          and [a["actor"]["id"] for a in items][1:] == ["ba2", "ba1"] and
          all(a["recipient"]["id"] == "bf1" for a in items),
          (r, r2))
    rs = runs("batch-fixed", "bf1")
    statuses = sorted(r.get("status") for r in rs)
    open_statuses = sorted(r.get("status") for r in rs_open)
    joiners = [r for r in rs if r.get("status") == "batched"]
    check("batch: joining runs end as \"batched\", the carrier completes",
          open_statuses == ["batched", "batched", "paused"] and
          statuses == ["batched", "batched", "completed"] and
          all(any(ev.get("event") == "batched" for ev in step_events(r, "b"))
              for r in joiners),
          (open_statuses, statuses))

    # sliding: each trigger moves the close by 300 s, capped at 15 min
    t0 = NOW[0]
    seen = {}
    for at in (0, 200, 450, 700):
        advance_to(iso_plus(t0, at))
        must_trigger("batch-sliding", {"recipients": ["bs1"]})
    must_trigger("batch-sliding", {"recipients": ["bs2"]})  # at +700
    advance_to(iso_plus(t0, 800))
    must_trigger("batch-sliding", {"recipients": ["bs2"]})  # close -> 1100
    for at in (899, 900, 1099, 1100):
        advance_to(iso_plus(t0, at))
        seen[at] = (texts("bs1"), texts("bs2"))
    check("batch: sliding window moves with each trigger",
          seen[1099][1] == [] and seen[1100][1] == ["sliding 2"], seen)
    check("batch: sliding window capped by max_window (15 min)",
          seen[899][0] == [] and seen[900][0] == ["sliding 4"], seen)

    # max_activities closes the batch at once
    for i in range(3):
        must_trigger("batch-max", {"recipients": ["bm1"], "data": {"n": i}})
    flush()
    first = texts("bm1")
    must_trigger("batch-max", {"recipients": ["bm1"], "data": {"n": 3}})
    flush()
    second = texts("bm1")
    advance_by(3600)
    third = texts("bm1")
    check("batch: max_activities (3) closes early; the next opens a new one",
          first == ["max 3"] and second == ["max 3"] and
          third == ["max 3", "max 1"], (first, second, third))

    # batch_key separates batches
    t0 = NOW[0]
    for post in ("p1", "p2", "p1"):
        must_trigger("batch-key", {"recipients": ["bk1"],
                                   "data": {"post": post}})
    advance_to(iso_plus(t0, 600))
    got = sorted(texts("bk1"))
    check("batch: batch_key separates batches", got == ["1 on p2",
                                                        "2 on p1"], got)

    # render_limit with order first / last
    t0 = NOW[0]
    for n in range(1, 6):
        for wf in ("batch-first", "batch-last"):
            must_trigger(wf, {"recipients": ["bl1"], "data": {"n": n}})
        advance_by(10)
    advance_to(iso_plus(t0, 700))
    got = sorted(texts("bl1"))
    check("batch: render_limit 2 with order first / last",
          got == ["2 of 5: 1,2", "2 of 5: 4,5"], got)

    t0 = NOW[0]
    for n in range(1, 13):
        must_trigger("batch-default", {"recipients": ["bd1"],
                                       "data": {"n": n}})
    advance_to(iso_plus(t0, 600))
    got = texts("bd1")
    check("batch: activities default to the first 10",
          got == ["10 of 12: 1..10"], got)

    # a dynamic window from data: the first trigger's 120 s
    t0 = NOW[0]
    must_trigger("batch-dyn", {"recipients": ["bw1"],
                               "data": {"window": 120}})
    advance_by(60)
    must_trigger("batch-dyn", {"recipients": ["bw1"],
                               "data": {"window": 120}})
    advance_to(iso_plus(t0, 119))
    b = texts("bw1")
    advance_to(iso_plus(t0, 120))
    a = texts("bw1")
    check("batch: dynamic window from data (120 s)",
          b == [] and a == ["dyn batch 2"], (b, a))


def section_throttle():
    t0 = NOW[0]
    for n in (1, 2, 3):
        must_trigger("throttle", {"recipients": ["th1"], "data": {"n": n}})
        advance_by(10)
    must_trigger("throttle", {"recipients": ["th2"], "data": {"n": 9}})
    got1, got2 = texts("th1"), texts("th2")
    third = [r for r in runs("throttle", "th1")
             if any(e.get("event") == "throttled"
                    for e in step_events(r, "t"))]
    advance_to(iso_plus(t0, 3601))
    must_trigger("throttle", {"recipients": ["th1"], "data": {"n": 4}})
    later = texts("th1")
    check("throttle: per recipient, threshold 2 per hour, throttled run "
          "recorded",
          got1 == ["thr 1", "thr 2"] and got2 == ["thr 9"] and
          len(third) == 1 and later == ["thr 1", "thr 2", "thr 4"],
          (got1, got2, len(third), later))

    for n, topic in enumerate(("a", "b", "a", "b", "c")):
        must_trigger("throttle-key", {"recipients": ["tk1"],
                                      "data": {"topic": topic, "n": n}})
    got = texts("tk1")
    check("throttle: per throttle_key",
          got == ["topic a 0", "topic b 1", "topic c 4"], got)


def section_branch():
    put_user("br1", plan="pro")
    put_user("br2", plan="free")
    for u, amount in (("br1", 500), ("br2", 500), ("br3", 50),
                      ("br4", 1)):
        must_trigger("branch", {"recipients": [u],
                                "data": {"amount": amount}})
    t = {u: texts(u) for u in ("br1", "br2", "br3", "br4")}

    def taken(u, ref):
        return [e.get("data", {}).get("branch") for e in
                step_events(one_run("branch", u), ref)
                if e.get("event") == "branch_taken"]
    check("branch: first matching branch (not a later match, not the "
          "default listed before it)",
          t["br2"] == ["vip", "after"] and t["br3"] == ["big", "after"] and
          taken("br3", "br") == ["big"], (t, taken("br3", "br")))
    check("branch: default when no branch matches",
          t["br4"] == ["small", "after"] and
          taken("br4", "br") == ["fallback"], (t["br4"],
                                               taken("br4", "br")))
    check("branch: nested branch",
          t["br1"] == ["vip pro", "after"] and t["br2"] == ["vip", "after"]
          and taken("br1", "inner") == ["pro"] and
          taken("br2", "inner") == ["not-pro"],
          (t["br1"], t["br2"], taken("br1", "inner")))

    put_user("cp1", plan="pro")
    put_user("cp2", plan="free")
    for u in ("cp1", "cp2"):
        must_trigger("cond", {"recipients": [u]})
    run = one_run("cond", "cp2")
    skipped = [e for e in step_events(run, "f-pro")
               if e.get("event") == "step_skipped"]
    check("channel step conditions: only matching recipients get the step",
          texts("cp1") == ["for pros", "for all"] and
          texts("cp2") == ["for all"] and len(skipped) == 1 and
          (skipped[0].get("data") or {}).get("reason") == "conditions",
          (texts("cp1"), texts("cp2"), skipped))


def section_fanout():
    put_object("projects", "apollo", name="Apollo")
    subscribe("projects", "apollo", ["fa1"], {"role": "lead"})
    subscribe("projects", "apollo", ["fa2"], {"role": "member"})
    must_trigger("fan", {"recipients": [{"id": "apollo",
                                         "collection": "projects"}]})
    flush()
    names = sorted(rcpt_name(r.get("recipient")) for r in runs("fan"))
    check("fan-out: runs for the object and each subscriber",
          names == ["fa1", "fa2", "projects/apollo"] and
          len(texts("fa1")) == 1 and len(texts("fa2")) == 1, names)
    check("fan-out: recipient.subscription.properties in templates",
          texts("fa1") == ["to fa1 as lead"] and
          texts("fa2") == ["to fa2 as member"],
          (texts("fa1"), texts("fa2")))

    # diamond: A <- fd1, B; B <- fd1, fd2
    put_object("teams", "dA")
    put_object("teams", "dB")
    subscribe("teams", "dA", ["fd1", {"id": "dB", "collection": "teams"}],
              {"role": "a"})
    subscribe("teams", "dB", ["fd1", "fd2"], {"role": "b"})
    must_trigger("fan", {"recipients": [{"id": "dA",
                                         "collection": "teams"}]})
    flush()
    rs = [rcpt_name(r.get("recipient")) for r in runs("fan")]
    counts = {k: rs.count(k) for k in ("fd1", "fd2", "teams/dA",
                                       "teams/dB")}
    check("fan-out: a diamond of subscriptions reaches each user once",
          counts == {"fd1": 1, "fd2": 1, "teams/dA": 1, "teams/dB": 1} and
          len(texts("fd1")) == 1 and texts("fd2") == ["to fd2 as b"],
          (counts, texts("fd1"), texts("fd2")))

    # a user who is a direct recipient and a subscriber: one run
    put_object("teams", "dup")
    subscribe("teams", "dup", ["fu1", "fu2"], {"role": "dup"})
    must_trigger("fan", {"recipients": [{"id": "dup", "collection": "teams"},
                                        "fu1", "fu2"]})
    flush()
    rs = [rcpt_name(r.get("recipient")) for r in runs("fan")]
    check("fan-out: a direct recipient who also subscribes gets one run",
          rs.count("fu1") == 1 and rs.count("fu2") == 1 and
          len(texts("fu1")) == 1 and len(texts("fu2")) == 1,
          (rs.count("fu1"), texts("fu1"), texts("fu2")))

    # the actor is left out of the fan-out
    put_object("teams", "act")
    subscribe("teams", "act", ["fx1", "fx2"], {"role": "x"})
    must_trigger("fan", {"recipients": [{"id": "act", "collection": "teams"}],
                         "actor": "fx2"})
    flush()
    check("fan-out: the actor is never notified through fan-out",
          texts("fx1") == ["to fx1 as x"] and texts("fx2") == [] and
          runs("fan", "fx2") == [], (texts("fx1"), texts("fx2")))

    # two levels: n0 <- n1 <- fn1
    put_object("teams", "n0")
    put_object("teams", "n1")
    subscribe("teams", "n0", [{"id": "n1", "collection": "teams"}],
              {"role": "sub-team"})
    subscribe("teams", "n1", ["fn1"], {"role": "deep"})
    must_trigger("fan", {"recipients": [{"id": "n0", "collection": "teams"}]})
    flush()
    check("fan-out: nesting two levels (object -> object -> user)",
          texts("fn1") == ["to fn1 as deep"], texts("fn1"))

    # subscriber_filter on subscription and on recipient properties
    put_object("teams", "sf")
    put_user("sf1", plan="free")
    put_user("sf2", plan="pro")
    subscribe("teams", "sf", ["sf1"], {"role": "lead"})
    subscribe("teams", "sf", ["sf2"], {"role": "member"})
    must_trigger("fan", {
        "recipients": [{"id": "sf", "collection": "teams"}],
        "subscriber_filter": [cond("recipient.subscription.properties.role",
                                   "equal_to", "lead")]})
    flush()
    a = (texts("sf1"), texts("sf2"))
    check("fan-out: subscriber_filter on subscription properties",
          a == (["to sf1 as lead"], []), a)
    must_trigger("fan", {
        "recipients": [{"id": "sf", "collection": "teams"}],
        "subscriber_filter": [cond("recipient.plan", "equal_to", "pro")]})
    flush()
    b = (texts("sf1"), texts("sf2"))
    check("fan-out: subscriber_filter on recipient properties",
          b == (["to sf1 as lead"], ["to sf2 as member"]), b)


def skip_rule(wf, user, ref="f"):
    """The rule named by the preference skip of step ref, or None."""
    rs = runs(wf, user)
    for r in rs:
        for e in step_events(r, ref):
            if e.get("event") == "step_skipped" and \
                    (e.get("data") or {}).get("reason") == "preferences":
                return (e.get("data") or {}).get("rule")
    return None


def section_preferences():
    # tenant tp's preference_set allows news; tq has none
    r = req("PUT", "/v1/tenants/tp", {"name": "TP", "settings": {
        "preference_set": {"categories": {"news": True}}}})
    check_setup = r.status == 200
    req("PUT", "/v1/tenants/tq", {"name": "TQ"})
    got = []

    def news(cases):
        for u, tenant, want in cases:
            before = len(texts(u))
            body = {"recipients": [u]}
            if tenant:
                body["tenant"] = tenant
            must_trigger("pref-news", body)
            got.append((u, tenant, len(texts(u)) > before, want))
    # before any recipient has a preference set: tenant and environment
    news((("pm0", None, False), ("pm1", "tp", True), ("pm1", "tq", False)))
    put_prefs("pm2", "default", {"categories": {"news": False}})
    put_prefs("pm3", "default", {"categories": {"news": False}})
    put_prefs("pm3", "tp", {"categories": {"news": True}})
    # pm4: only a per-tenant set for tp that blocks, over tp's allow
    put_prefs("pm4", "tp", {"categories": {"news": False}})
    news((("pm0", None, False), ("pm1", "tp", True), ("pm2", "tp", False),
          ("pm3", "tp", True), ("pm3", "tq", False), ("pm4", "tp", False),
          ("pm4", "tq", False), ("pm1", "tq", False)))
    rules = {u: skip_rule("pref-news", u) for u in ("pm0", "pm2")}
    check("preferences: merge order recipient-tenant set > recipient default"
          " > tenant preference_set > belfry.conf default",
          check_setup and all(g[2] == g[3] for g in got) and
          rules == {"pm0": "categories.news=false",
                    "pm2": "categories.news=false"},
          ([g for g in got if g[2] != g[3]], rules, r))

    put_prefs("pc1", "default", {"categories": {"alerts": True,
                                                "promo": False}})
    must_trigger("pref-cats", {"recipients": ["pc1", "pc2"]})
    rule = skip_rule("pref-cats", "pc1")
    check("preferences: one opted-out category blocks (rule named)",
          texts("pc1") == [] and texts("pc2") == ["cats"] and
          rule == "categories.promo=false", (texts("pc1"), rule))

    put_prefs("pch1", "default", {"channel_types": {"in_app_feed": False},
                                  "channels": {"feed2": True}})
    put_prefs("pch2", "default", {"channel_types": {"in_app_feed": True},
                                  "channels": {"feed": False}})
    must_trigger("pref-chan", {"recipients": ["pch1", "pch2"]})
    res = {u: (texts(u), texts(u, "feed2"), skip_rule("pref-chan", u,
                                                       "f-one"))
           for u in ("pch1", "pch2")}
    check("preferences: a channel setting beats its channel type",
          res == {"pch1": ([], ["two"], "channel_types.in_app_feed=false"),
                  "pch2": ([], ["two"], "channels.feed=false")}, res)

    put_prefs("pco1", "default", {"channel_types": {"in_app_feed": {
        "conditions": [cond("data.priority", "equal_to", "high"),
                       cond("data.region", "not_equal_to", "us")]}}})
    for prio, region in (("low", "eu"), ("high", "us"), ("high", "eu")):
        must_trigger("pref-plain", {"recipients": ["pco1"],
                                    "data": {"priority": prio,
                                             "region": region}})
    rules = []
    for r in reversed(runs("pref-plain", "pco1")):
        ev = [e for e in step_events(r, "f")
              if e.get("event") == "step_skipped"]
        rules.append((ev[0].get("data") or {}).get("rule") if ev else None)
    check("preferences: conditions are ANDed; the skipped step names the "
          "failing condition",
          texts("pco1") == ["plain high"] and
          rules == ["channel_types.in_app_feed.conditions[0]",
                    "channel_types.in_app_feed.conditions[1]", None],
          (texts("pco1"), rules))


def section_cancel():
    # synchronous
    must_trigger("cx-delay", {"recipients": ["cs1", "cs2"],
                              "cancellation_key": "k-sync",
                              "data": {"n": 1}})
    r = cancel("cx-delay", {"cancellation_key": "k-sync"})
    st = [(one_run("cx-delay", u) or {}).get("status") for u in ("cs1",
                                                                "cs2")]
    advance_by(700)
    check("cancel: synchronous (cancelled at the 204, nothing sent later)",
          r.status == 204 and st == ["cancelled", "cancelled"] and
          texts("cs1") == [] and texts("cs2") == [], (r, st, texts("cs1")))

    # only the given recipients
    must_trigger("cx-delay", {"recipients": ["cs3", "cs4"],
                              "cancellation_key": "k-sub",
                              "data": {"n": 2}})
    r = cancel("cx-delay", {"cancellation_key": "k-sub",
                            "recipients": ["cs3"]})
    advance_by(700)
    check("cancel: only the given recipients",
          r.status == 204 and texts("cs3") == [] and
          texts("cs4") == ["cx 2"] and
          (one_run("cx-delay", "cs3") or {}).get("status") == "cancelled",
          (r, texts("cs3"), texts("cs4")))

    # a cancel before its trigger does not cancel the later trigger
    r = cancel("cx-delay", {"cancellation_key": "k-early"})
    must_trigger("cx-delay", {"recipients": ["cs5"],
                              "cancellation_key": "k-early",
                              "data": {"n": 3}})
    advance_by(700)
    check("cancel: a cancel before its trigger does not cancel it",
          r.status == 204 and texts("cs5") == ["cx 3"], (r, texts("cs5")))

    # a batch loses the cancelled activities (carrier and another)
    for n, key in ((1, "ka"), (2, "kb"), (3, "kc"), (4, "kd")):
        must_trigger("cx-batch", {"recipients": ["cb1"],
                                  "cancellation_key": key,
                                  "actor": "x%d" % n, "data": {"n": n}})
        advance_by(5)
    r1 = cancel("cx-batch", {"cancellation_key": "ka"})
    r2 = cancel("cx-batch", {"cancellation_key": "kc"})
    advance_by(700)
    check("cancel: a batch loses the cancelled activities, the rest go out",
          r1.status == 204 and r2.status == 204 and
          texts("cb1") == ["2: 24"], (r1, r2, texts("cb1")))

    # a batch whose activities are all cancelled sends nothing
    for n in (1, 2):
        must_trigger("cx-batch", {"recipients": ["cb2"],
                                  "cancellation_key": "kall",
                                  "data": {"n": n}})
    r = cancel("cx-batch", {"cancellation_key": "kall"})
    advance_by(700)
    st = sorted(x.get("status") for x in runs("cx-batch", "cb2"))
    check("cancel: a batch whose activities are all cancelled sends nothing",
          r.status == 204 and texts("cb2") == [] and
          st == ["cancelled", "cancelled"], (r, texts("cb2"), st))

    # a cancel racing a 10,000-subscriber fan-out
    put_object("teams", "big")
    for i in range(0, 10000, 100):
        subscribe("teams", "big", ["rc%05d" % j for j in range(i, i + 100)])
    advance_by(3600)   # nothing else is due from here on
    m0 = metric("belfry_messages_total")
    must_trigger("cx-delay", {"recipients": [{"id": "big",
                                              "collection": "teams"}],
                              "cancellation_key": "k-race",
                              "data": {"n": 4}})
    r = cancel("cx-delay", {"cancellation_key": "k-race"})
    advance_by(700)
    m1 = metric("belfry_messages_total")
    paused = runs("cx-delay", status="paused")
    samples = {u: texts(u) for u in ("rc00000", "rc04999", "rc09999")}
    check("cancel: racing a 10,000-subscriber fan-out, no message and no "
          "paused run",
          r.status == 204 and m0 is not None and m1 == m0 and paused == []
          and all(v == [] for v in samples.values()),
          (r, m0, m1, len(paused), samples))

    # the same key again is a new trigger: all 10,000 (and the object)
    must_trigger("cx-delay", {"recipients": [{"id": "big",
                                              "collection": "teams"}],
                              "cancellation_key": "k-race",
                              "data": {"n": 5}})
    advance_by(700)
    m2 = metric("belfry_messages_total")
    samples = {u: texts(u) for u in ("rc00000", "rc04999", "rc09999")}
    check("cancel: the key triggered again after the race reaches all "
          "10,000 subscribers",
          m2 is not None and m1 is not None and m2 - m1 == 10001 and
          all(v == ["cx 5"] for v in samples.values()),
          (m1, m2, samples))

    # a cancel naming one subscriber, racing the fan-out
    must_trigger("cx-delay", {"recipients": [{"id": "big",
                                              "collection": "teams"}],
                              "cancellation_key": "k-race-one",
                              "data": {"n": 6}})
    r = cancel("cx-delay", {"cancellation_key": "k-race-one",
                            "recipients": ["rc09999", "rc00000"]})
    advance_by(700)
    m3 = metric("belfry_messages_total")
    samples = {u: texts(u) for u in ("rc00000", "rc00001", "rc09998",
                                     "rc09999")}
    check("cancel: recipients subset racing a 10,000-subscriber fan-out",
          r.status == 204 and m3 - m2 == 9999 and
          samples == {"rc00000": ["cx 5"], "rc00001": ["cx 5", "cx 6"],
                      "rc09998": ["cx 5", "cx 6"], "rc09999": ["cx 5"]},
          (r, m2, m3, samples))


def section_dst():
    put_user("dst-ny", timezone="America/New_York")
    # Saturday 2026-03-07 20:00 EST; DST starts Sunday 02:00 local.
    advance_to("2026-03-08T01:00:00Z")
    must_trigger("digest", {"recipients": ["dst-ny"]})
    advance_to("2026-03-08T11:00:00Z")        # Sunday 07:00 EDT
    must_trigger("digest", {"recipients": ["dst-ny"]})
    advance_to("2026-03-08T12:59:59Z")
    before = texts("dst-ny")
    advance_to("2026-03-08T13:00:00Z")        # Sunday 09:00 EDT
    at = feed("dst-ny")
    check("batch: window_rule daily 09:00 across the spring-forward night "
          "(New York) closes at 09:00 EDT (13:00Z)",
          before == [] and [entry_text(e) for e in at] == ["digest 2"] and
          at[0].get("inserted_at") == "2026-03-08T13:00:00Z",
          (before, [(entry_text(e), e.get("inserted_at")) for e in at]))

    put_user("dst-be", timezone="Europe/Berlin")
    # Saturday 2026-03-28 23:00 CET; DST starts Sunday 02:00 local.
    advance_to("2026-03-28T22:00:00Z")
    must_trigger("digest", {"recipients": ["dst-be"]})
    advance_to("2026-03-29T06:59:59Z")
    before = texts("dst-be")
    advance_to("2026-03-29T07:00:00Z")        # Sunday 09:00 CEST
    at = feed("dst-be")
    check("batch: window_rule daily 09:00 across the spring-forward night "
          "(Berlin) closes at 09:00 CEST (07:00Z)",
          before == [] and [entry_text(e) for e in at] == ["digest 1"] and
          at[0].get("inserted_at") == "2026-03-29T07:00:00Z",
          (before, [(entry_text(e), e.get("inserted_at")) for e in at]))


def section_bad_triggers():
    refused = []

    def bad(wf, body, field):
        r = trigger(wf, body)
        if r.status != 200:
            refused.append(body)
        j = r.json() or {}
        return (r.status == 422 and j.get("code") == "invalid_params" and
                field in j.get("message", ""), r)

    groups = {
        "recipients": [
            {"data": {}},
            {"recipients": "u1"},
            {"recipients": []},
            {"recipients": [42]},
            {"recipients": [{"name": "no id"}]},
            {"recipients": ["x%d" % i for i in range(1001)]},
        ],
        "data": [
            {"recipients": ["bt1"], "data": "text"},
            {"recipients": ["bt2"], "data": [1, 2]},
        ],
        "cancellation_key": [
            {"recipients": ["bt3"], "cancellation_key": 5},
            {"recipients": ["bt4"], "cancellation_key": ""},
            {"recipients": ["bt5"], "cancellation_key": "k" * 256},
        ],
        "subscriber_filter": [
            {"recipients": ["bt6"], "subscriber_filter": "plan=pro"},
            {"recipients": ["bt7"], "subscriber_filter": [
                cond("recipient.plan", "roughly", "pro")]},
        ],
        "settings": [
            {"recipients": ["bt8"], "settings": "fast"},
            {"recipients": ["bt9"], "settings": {"skip_delay": "yes"}},
        ],
    }
    for field, bodies in groups.items():
        res = [bad("delay-fixed", b, field if field != "recipients"
                   else "recipient") for b in bodies]
        check("bad trigger: 422 naming \"%s\" (%d cases)" % (field,
                                                            len(bodies)),
              all(x[0] for x in res),
              [(json.dumps(b)[:80], x[1]) for b, x in zip(bodies, res)
               if not x[0]])
    made = []
    for b in refused:
        for u in b.get("recipients") or []:
            if isinstance(u, str) and u.startswith("bt"):
                made += runs("delay-fixed", u)
    check("bad trigger: a refused trigger creates no run", made == [],
          made[:2])


def nested_branch(depth):
    """A branch step nested depth deep (depth 1: one branch step)."""
    inner = [{"ref": "leaf", "type": "channel", "channel": "feed",
              "template": {"markdown": "x"}}]
    for i in range(depth):
        inner = [{"ref": "br%d" % i, "type": "branch", "branches": [
            {"name": "only", "default": True, "steps": inner}]}]
    return json.dumps(inner[0])


BAD_DEFS = [
    # (name, ref, the bad step as one line of JSON)
    ("unknown step type", "s-unknown",
     '{"ref": "s-unknown", "type": "carrier-pigeon"}'),
    ("channel step without a channel", "s-nochan",
     '{"ref": "s-nochan", "type": "channel", "template": {"markdown": "x"}}'),
    ("channel not in belfry.conf", "s-badchan",
     '{"ref": "s-badchan", "type": "channel", "channel": "pager", '
     '"template": {"markdown": "x"}}'),
    ("bad delay duration", "s-baddur",
     '{"ref": "s-baddur", "type": "delay", "duration": {"fortnights": 2}}'),
    ("delay over 365 days", "s-longdur",
     '{"ref": "s-longdur", "type": "delay", "duration": {"days": 400}}'),
    ("sliding batch without max_window", "s-slide",
     '{"ref": "s-slide", "type": "batch", "window": 60, '
     '"window_type": "sliding"}'),
    ("branch without a default", "s-br",
     '{"ref": "s-br", "type": "branch", "branches": [{"name": "a", '
     '"conditions": [{"variable": "data.x", "operator": "exists"}], '
     '"steps": [{"ref": "in-a", "type": "channel", "channel": "feed", '
     '"template": {"markdown": "a"}}]}]}'),
    ("branches nested 6 deep", "br0", nested_branch(6)),
    ("bad condition operator", "s-cond",
     '{"ref": "s-cond", "type": "channel", "channel": "feed", '
     '"template": {"markdown": "x"}, "conditions": [{"variable": '
     '"data.x", "operator": "roughly", "argument": 1}]}'),
]


def section_bad_definitions(tmp):
    for i, (name, ref, step) in enumerate(BAD_DEFS):
        d = os.path.join(tmp, "bad%d" % i)
        os.makedirs(os.path.join(d, "workflows"))
        with open(os.path.join(d, "belfry.conf"), "w") as f:
            json.dump({"channels": {"feed": {"type": "in_app_feed"}}}, f)
        path = os.path.join(d, "workflows", "bad.json")
        # line 6 holds the bad step, after two good ones
        text = ('{\n'
                '  "key": "bad",\n'
                '  "steps": [\n'
                '    {"ref": "ok-first", "type": "delay", "duration": 10},\n'
                '    {"ref": "ok-second", "type": "channel", "channel": '
                '"feed", "template": {"markdown": "ok"}},\n'
                '    %s\n'
                '  ]\n'
                '}\n' % step)
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([BELFRYCTL, "check", "-c", d],
                           capture_output=True, text=True)
        err = p.stderr.strip()
        prefix = path + ":6:"
        col_ok = False
        if err.startswith(prefix):
            col = err[len(prefix):].split(":", 1)[0]
            col_ok = col.isdigit() and int(col) >= 5
        check("bad definition refused at load with file:line:column and the "
              "step's ref: %s" % name,
              p.returncode != 0 and p.stdout.strip() == "" and col_ok and
              ('"%s"' % ref) in err and "\n" not in err,
              (p.returncode, p.stdout, err))
    # the daemon refuses to start on a bad definition, naming it
    d = os.path.join(tmp, "bad0")
    logp = os.path.join(tmp, "bad0.log")
    with open(logp, "wb") as lf:
        p = subprocess.Popen([BELFRYD, "-c", d, "--socket",
                              os.path.join(tmp, "bad0.sock"), "--database",
                              os.path.join(tmp, "bad0.db"),
                              "--virtual-clock", START],
                             stdout=lf, stderr=lf)
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
            rc = "still running"
    with open(logp, errors="replace") as f:
        log = f.read()
    check("belfryd refuses to start on a bad definition (file:line:column, "
          "ref)", rc not in (0, "still running") and
          os.path.join(d, "workflows", "bad.json") + ":6:" in log and
          '"s-unknown"' in log, (rc, log[-600:]))
    # five levels of branches are allowed
    d = os.path.join(tmp, "deep5")
    os.makedirs(os.path.join(d, "workflows"))
    with open(os.path.join(d, "belfry.conf"), "w") as f:
        json.dump({"channels": {"feed": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(d, "workflows", "deep.json"), "w") as f:
        f.write('{"key": "deep", "steps": [%s]}' % nested_branch(5))
    p = subprocess.run([BELFRYCTL, "check", "-c", d], capture_output=True,
                       text=True)
    check("branches nested 5 deep are accepted", p.returncode == 0,
          (p.returncode, p.stderr))
    # and the good directory passes
    p = subprocess.run([BELFRYCTL, "check", "-c", CONF[0]],
                       capture_output=True, text=True)
    check("the test's own workflows pass belfryctl check",
          p.returncode == 0, (p.returncode, p.stdout, p.stderr))


CONF = [None]


def main():
    global SOCK
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="belfry-workflows-")
    conf = os.path.join(tmp, "conf")
    CONF[0] = conf
    write_config(conf, tmp)
    SOCK = os.path.join(tmp, "belfryd.sock")
    log_path = os.path.join(tmp, "belfryd.log")
    logf = open(log_path, "wb")
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen([BELFRYD, "-c", conf, "--socket", SOCK,
                             "--database", os.path.join(tmp, "belfry.db"),
                             "--virtual-clock", START],
                            stdout=logf, stderr=logf, env=env)
    try:
        deadline = time.time() + 15
        ready = False
        while time.time() < deadline and proc.poll() is None:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(SOCK)
                s.close()
                ready = True
                break
            except OSError:
                time.sleep(0.02)
        if check("belfryd starts with the test's workflows", ready,
                 "exit %s" % proc.poll()):
            for section in (section_bad_triggers, section_delay,
                            section_batch, section_throttle, section_branch,
                            section_fanout, section_preferences,
                            section_cancel, section_dst):
                try:
                    section()
                except Exception as e:   # a broken setup step
                    check("%s ran to the end" % section.__name__, False,
                          "%s: %s" % (type(e).__name__, e))
        section_bad_definitions(tmp)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        logf.close()
    keep_or_remove(tmp, check.failed, [log_path])
    print("(%.1f s)" % (time.time() - t_start))
    return check.summary("workflows")


if __name__ == "__main__":
    sys.exit(main())
