#!/usr/bin/env python3
"""Integration tests of retention on the virtual clock.

    tests/integration/test_retention.py BUILD_DIR

belfry.conf keeps messages 1 day and runs 2 days.  Triggers to two
recipients at three instants (A at t0, B at t0+12h, C at t0+1d+2s), then:

- at t0+1d (exactly a window old) A's messages stay; one second later
  they are gone (404) and B's stay: exactly what is older than the window
  is deleted;
- the feeds still page correctly forwards (after) and backwards (before)
  over what is left, and their counts are right;
- runs go after their window (t0+2d+1s for A), with their recipient runs,
  not before (t0+2d), and B's stay;
- belfry_retention_deleted_total{kind} counts every deleted row;
- a belfry.conf without "retention" keeps everything.

Prints failed checks and ends with "retention: N passed, M failed".
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import Checks, run_parts  # noqa: E402

check = Checks()
T0 = "2026-03-01T00:00:00Z"
DAY = 86400


def config(conf, tmp, retention):
    """test_schedules' config, with the retention section given."""
    ts.write_config(conf, tmp)
    path = os.path.join(conf, "belfry.conf")
    with open(path) as f:
        c = json.load(f)
    if retention is not None:
        c["retention"] = retention
    with open(path, "w") as f:
        json.dump(c, f)


def advance(d, seconds_from_t0):
    """Move the virtual clock to t0 + seconds."""
    st, j = d.req("POST", "/admin/clock", {"advance_to": iso(
        seconds_from_t0)})
    check("clock to +%d s" % seconds_from_t0, st == 200, j)


def iso(s):
    """t0 + s as RFC 3339."""
    import datetime
    t = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
    return (t + datetime.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def trigger_n(d, n, tag):
    """n triggers of tick to r and q: [(run id, {rcpt: message id})]."""
    out = []
    for i in range(n):
        st, j = d.req("POST", "/v1/workflows/tick/trigger",
                      {"recipients": ["r", "q"], "data": {"tag": tag,
                                                          "i": i}})
        check("trigger %s%d" % (tag, i), st == 200, j)
        out.append(j["workflow_run_id"])
    return out


def feed(d, uid, extra=""):
    """The whole feed of uid paged 2 at a time forwards: (ids, metas)."""
    ids, after, metas = [], None, []
    while True:
        path = "/v1/users/%s/feeds/feed?page_size=2%s" % (uid, extra)
        if after:
            path += "&after=" + after
        st, j = d.req("GET", path)
        if st != 200:
            return None, j
        ids += [e["id"] for e in j["entries"]]
        metas.append(j["meta"])
        after = j["page_info"]["after"]
        if not after:
            return ids, metas


def msgs_of(d, uid):
    """uid's messages, newest first: [(id, run id, rrun id, data.tag)]."""
    st, j = d.req("GET", "/v1/users/%s/messages?page_size=50" % uid)
    return [(m["id"], m["source"]["workflow_run_id"],
             m["source"]["workflow_recipient_run_id"], m["data"]["tag"])
            for m in j.get("items", [])]


def metric(d, kind):
    """belfry_retention_deleted_total{kind}."""
    st, text = d.req("GET", "/metrics")
    key = 'belfry_retention_deleted_total{kind="%s"} ' % kind
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return None


def gone(d, path):
    """Whether GET path answers 404."""
    st, _ = d.req("GET", path)
    return st == 404


def retention(tmp):
    conf = os.path.join(tmp, "conf")
    config(conf, tmp, {"messages_days": 1, "runs_days": 2})
    d = ts.Daemon(tmp, conf, T0)
    try:
        check("daemon up", d.proc.poll() is None)
        trigger_n(d, 5, "A")
        advance(d, 12 * 3600)
        trigger_n(d, 5, "B")
        a = [m for m in msgs_of(d, "r") + msgs_of(d, "q") if m[3] == "A"]
        b = [m for m in msgs_of(d, "r") + msgs_of(d, "q") if m[3] == "B"]
        check("10 A and 10 B messages", len(a) == 10 and len(b) == 10)

        advance(d, DAY)
        check("exactly a window old: A's messages stay",
              all(not gone(d, "/v1/messages/" + m[0]) for m in a))
        advance(d, DAY + 1)
        check("older than the window: A's messages are gone",
              all(gone(d, "/v1/messages/" + m[0]) for m in a))
        check("B's messages stay",
              all(not gone(d, "/v1/messages/" + m[0]) for m in b))
        check("messages deleted are counted", metric(d, "messages") == 10,
              metric(d, "messages"))

        # The feed pages over what is left, both ways, with its counts.
        ids, metas = feed(d, "r")
        rb = [m[0] for m in msgs_of(d, "r")]
        check("the feed pages forwards over B only", ids == rb and
              len(ids) == 5, (ids, rb))
        check("the feed counts what is left", metas and
              metas[0].get("total_count") == 5 and
              metas[0].get("unread_count") == 5, metas[:1])
        st, j = d.req("GET", "/v1/users/r/feeds/feed?page_size=2&after=" +
                      "%s" % d.req("GET", "/v1/users/r/feeds/feed?"
                                   "page_size=2")[1]["page_info"]["after"])
        st2, back = d.req("GET", "/v1/users/r/feeds/feed?page_size=2&"
                          "before=" + j["page_info"]["before"])
        check("the feed pages backwards (before)", st2 == 200 and
              [e["id"] for e in back["entries"]] == ids[:2], (back, ids))

        advance(d, DAY + 2)
        c = trigger_n(d, 3, "C")
        advance(d, 2 * DAY)
        check("B's messages are gone after their window",
              all(gone(d, "/v1/messages/" + m[0]) for m in b))
        cm = [m for m in msgs_of(d, "r") if m[3] == "C"]
        ids, metas = feed(d, "r")
        check("the feed holds C only", ids == [m[0] for m in cm] and
              len(ids) == 3, (ids, cm))
        check("runs a window old stay (with their recipient runs)",
              all(not gone(d, "/v1/workflow_recipient_runs/" + m[2])
                  for m in a))
        advance(d, 2 * DAY + 1)
        check("older runs are gone with their recipient runs",
              all(gone(d, "/v1/workflow_recipient_runs/" + m[2])
                  for m in a))
        check("younger runs stay",
              all(not gone(d, "/v1/workflow_recipient_runs/" + m[2])
                  for m in b))
        check("runs deleted are counted", metric(d, "runs") == 5 and
              metric(d, "recipient_runs") == 10,
              (metric(d, "runs"), metric(d, "recipient_runs")))
        st, j = d.req("GET", "/v1/workflow_recipient_runs?recipient=r")
        left = [e["workflow_run_id"] for e in j.get("entries",
                                                   j.get("items", []))]
        check("the runs list holds B and C", st == 200 and len(left) == 8 and
              set(c) <= set(left), j)
        advance(d, 2 * DAY + 12 * 3600 + 1)
        check("B's runs go at their time", metric(d, "runs") == 10,
              metric(d, "runs"))
        return True
    finally:
        d.stop()


def keep_all(tmp):
    """No retention section: nothing is deleted, however old."""
    conf = os.path.join(tmp, "conf")
    config(conf, tmp, None)
    d = ts.Daemon(tmp, conf, T0)
    try:
        trigger_n(d, 2, "K")
        advance(d, 400 * DAY)
        trigger_n(d, 1, "L")
        check("without retention everything stays",
              len(msgs_of(d, "r")) == 3 and metric(d, "messages") == 0,
              msgs_of(d, "r"))
    finally:
        d.stop()


def main():
    return run_parts(check, "retention", (("retention", retention), ("keep", keep_all)))


if __name__ == "__main__":
    sys.exit(main())
