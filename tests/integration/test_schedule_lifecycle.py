#!/usr/bin/env python3
"""Integration tests of a schedule's lifecycle: the real belfryd on a
virtual clock, over its admin socket and belfryctl.

    tests/integration/test_schedule_lifecycle.py BUILD_DIR

- Idempotency-Key on POST, PUT and DELETE /v1/schedules replays the first
  answer (idempotent-replayed: true) and does the work once.
- GET /v1/schedules/{id}; GET /v1/schedules filtered by recipients[] (as
  Knock's SDK sends them, with a real query string) and by tenant.
- Config-defined schedules are the files': PUT and DELETE answer 409
  naming the file and the id; a reload keeps the rows matching the files.
- Deleting a user deletes their schedules.
- A schedule whose workflow disappears: reload and `belfryctl check` warn,
  its fires fail, count as failed in /metrics and keep last_error.
- An occurrence dropped by dst_gap "skip" is counted like a catch-up skip
  (skipped_count, last_skipped_at, last_skip_reason, the metric).
- Runs are found by schedule: ?schedule_id= and `belfryctl runs --schedule`.
- `belfryctl preview --local` adds local wall times.
- The log: one catch-up line at start, a count for each pass that fires.

Prints one line per failed check and ends with "schedule lifecycle: N
passed, M failed".
"""

import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import keep_or_remove  # noqa: E402

check = ts.check


def raw(d, method, path, body=None, headers=None):
    """One request with headers; (status, headers dict, parsed JSON)."""
    d.req("GET", "/admin/status")  # opens the connection
    data = None if body is None else json.dumps(body)
    hdrs = {"Content-Type": "application/json"} if data else {}
    hdrs.update(headers or {})
    d.conn.request(method, path, data, hdrs)
    r = d.conn.getresponse()
    text = r.read().decode()
    try:
        j = json.loads(text)
    except ValueError:
        j = text
    return r.status, {k.lower(): v for k, v in r.getheaders()}, j


def metric(d, name):
    """The value of a /metrics counter."""
    st, text = d.req("GET", "/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def log_text(d):
    """The daemon's log so far (after a request: the catch-up at start
    runs before the daemon answers any)."""
    d.req("GET", "/admin/status")
    d.logf.flush()
    with open(d.log, errors="replace") as f:
        return f.read()


def idempotency(d):
    """Idempotency-Key on the writes of /v1/schedules."""
    body = {"workflow": "tick", "recipients": ["idem"],
            "repeats": [{"frequency": "daily", "hours": 9}]}
    st1, h1, j1 = raw(d, "POST", "/v1/schedules", body,
                      {"Idempotency-Key": "create-1"})
    st2, h2, j2 = raw(d, "POST", "/v1/schedules", body,
                      {"Idempotency-Key": "create-1"})
    check("POST replayed", st1 == 200 and st2 == 200 and j1 == j2 and
          h2.get("idempotent-replayed") == "true" and
          "idempotent-replayed" not in h1, (st1, st2, h2))
    st, j = d.req("GET", "/v1/users/idem/schedules")
    check("POST made one schedule", st == 200 and len(j["entries"]) == 1, j)
    sid = j1[0]["id"]
    put = {"schedule_ids": [sid], "data": {"n": 1}}
    st1, _, j1 = raw(d, "PUT", "/v1/schedules", put,
                     {"Idempotency-Key": "put-1"})
    put["data"] = {"n": 2}
    st2, h2, j2 = raw(d, "PUT", "/v1/schedules", put,
                      {"Idempotency-Key": "put-1"})
    st, one = d.req("GET", "/v1/schedules/" + sid)
    check("PUT replayed, not applied twice", st1 == 200 and j1 == j2 and
          h2.get("idempotent-replayed") == "true" and st == 200 and
          one["data"] == {"n": 1}, (j2, one))
    dl = {"schedule_ids": [sid]}
    st1, _, j1 = raw(d, "DELETE", "/v1/schedules", dl,
                     {"Idempotency-Key": "del-1"})
    st2, h2, j2 = raw(d, "DELETE", "/v1/schedules", dl,
                      {"Idempotency-Key": "del-1"})
    check("DELETE replayed", st1 == 200 and st2 == 200 and j1 == j2 and
          len(j1) == 1 and h2.get("idempotent-replayed") == "true",
          (j1, j2))
    st, _ = d.req("GET", "/v1/schedules/" + sid)
    check("GET of a deleted schedule is 404", st == 404)
    st, _, j = raw(d, "POST", "/v1/schedules", body,
                   {"Idempotency-Key": "x" * 256})
    check("a 256-character key is refused", st == 422, j)


def filters(d):
    """recipients[] and tenant filters through a real query string."""
    st, j = d.req("POST", "/v1/schedules", {
        "workflow": "tick", "recipients": ["fa", "fb", "fc"],
        "rrule": "FREQ=DAILY"})
    check("create fa fb fc", st == 200 and len(j) == 3, j)
    st, j = d.req("POST", "/v1/schedules", {
        "workflow": "tick", "recipients": ["fa"], "tenant": "acme",
        "rrule": "FREQ=DAILY"})
    check("create fa acme", st == 200, j)
    tid = j[0]["id"]
    st, j = d.req("GET", "/v1/schedules?workflow=tick&recipients%5B%5D=fb"
                  "&recipients%5B%5D=fc")
    got = sorted(e["recipient"]["id"] for e in j.get("entries", []))
    check("recipients[] filter", st == 200 and got == ["fb", "fc"], j)
    st, j = d.req("GET", "/v1/schedules?workflow=tick&tenant=acme")
    check("tenant filter", st == 200 and [e["id"] for e in j["entries"]] ==
          [tid] and j["page_info"]["__typename"] == "PageInfo", j)
    st, j = d.req("GET", "/v1/schedules/" + tid)
    check("GET /v1/schedules/{id}", st == 200 and j["id"] == tid and
          j["tenant"] == "acme" and j["__typename"] == "Schedule", j)


def config_owned(d, conf):
    """A config file's schedule refuses the API and follows its file."""
    path = os.path.join(conf, "schedules", "team.json")
    with open(path, "w") as f:
        json.dump([{"id": "standup", "workflow": "tick",
                    "recipients": ["cfg"],
                    "repeats": [{"frequency": "daily", "hours": 9}]}], f)
    st, j = d.req("POST", "/admin/reload", {})
    check("reload with a config schedule", st == 200, j)
    st, j = d.req("GET", "/v1/users/cfg/schedules")
    check("config schedule stored", st == 200 and len(j["entries"]) == 1, j)
    sid = j["entries"][0]["id"]
    for method, body in (("PUT", {"schedule_ids": [sid], "paused": True}),
                         ("DELETE", {"schedule_ids": [sid]})):
        st, j = d.req(method, "/v1/schedules", body)
        check("%s of a config schedule is 409 naming file and id" % method,
              st == 409 and j.get("code") == "conflict" and
              "team.json" in j.get("message", "") and
              '"standup"' in j.get("message", ""), (st, j))
    st, j = d.req("GET", "/v1/schedules/" + sid)
    check("config schedule unchanged", st == 200 and not j["paused"], j)
    with open(path, "w") as f:
        json.dump([{"id": "standup", "workflow": "tick",
                    "recipients": ["cfg"],
                    "repeats": [{"frequency": "daily", "hours": 10}]}], f)
    st, _ = d.req("POST", "/admin/reload", {})
    st, j = d.req("GET", "/v1/schedules/" + sid)
    check("the file's change reaches the row", st == 200 and
          j["repeats"][0]["hours"] == 10, j)
    os.unlink(path)
    st, _ = d.req("POST", "/admin/reload", {})
    st, j = d.req("GET", "/v1/users/cfg/schedules")
    check("the file's removal removes the row", st == 200 and
          j["entries"] == [], j)


def user_deleted(d):
    """Deleting a user deletes their schedules."""
    st, _ = d.req("PUT", "/v1/users/bye", {"timezone": "Asia/Tokyo"})
    st, j = d.req("POST", "/v1/schedules", {
        "workflow": "tick", "recipients": ["bye"], "rrule": "FREQ=DAILY"})
    check("create bye", st == 200, j)
    sid = j[0]["id"]
    st, _ = d.req("DELETE", "/v1/users/bye")
    check("delete user", st in (200, 204), st)
    st, _ = d.req("GET", "/v1/schedules/" + sid)
    check("their schedule is gone", st == 404, st)


def workflow_gone(d, conf, tmp):
    """A schedule whose workflow disappears."""
    with open(os.path.join(conf, "workflows", "brief.json"), "w") as f:
        json.dump({"key": "brief", "steps": [
            {"ref": "f", "type": "channel", "channel": "feed",
             "template": {"markdown": "brief"}}]}, f)
    st, _ = d.req("POST", "/admin/reload", {})
    st, j = d.req("POST", "/v1/schedules", {
        "workflow": "brief", "recipients": ["wg"],
        "repeats": [{"frequency": "hourly"}]})
    check("create brief", st == 200, j)
    sid = j[0]["id"]
    os.unlink(os.path.join(conf, "workflows", "brief.json"))
    rc, out, err = ts.ctl(d.sock, "check", "-c", conf)
    check("belfryctl check warns of the stored schedule", rc == 0 and
          'workflow "brief"' in err and "warning" in err, (rc, out, err))
    st, _ = d.req("POST", "/admin/reload", {})
    check("reload warns", 'workflow "brief" is not configured' in
          log_text(d), log_text(d)[-500:])
    failed = metric(d, "belfry_schedule_fires_failed_total")
    st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 3600})
    st, j = d.req("GET", "/v1/schedules/" + sid)
    check("the fire failed and its error is kept", st == 200 and
          "brief" in (j.get("last_error") or ""), j)
    check("failed fires counted",
          metric(d, "belfry_schedule_fires_failed_total") == failed + 1)
    check("a pass that fires logs its count",
          re.search(r"schedules: \d+ fired, \d+ skipped, 1 failed",
                    log_text(d)) is not None, log_text(d)[-500:])
    st, _ = d.req("DELETE", "/v1/schedules", {"schedule_ids": [sid]})


def dst_skip(d):
    """dst_gap skip records the skipped occurrence."""
    st, j = d.req("POST", "/v1/schedules", {
        "workflow": "tick", "recipients": ["gap"],
        "timezone": "America/New_York", "dst_gap": "skip",
        "repeats": [{"frequency": "daily", "hours": 2, "minutes": 30}]})
    check("create gap", st == 200, j)
    sid = j[0]["id"]
    skipped = metric(d, "belfry_schedule_fires_skipped_total")
    st, _ = d.req("POST", "/admin/clock",
                  {"advance_to": "2027-03-15T12:00:00Z"})
    st, j = d.req("GET", "/v1/schedules/" + sid)
    check("the spring-forward day is recorded as skipped", st == 200 and
          j["skipped_count"] == 1 and
          j["last_skipped_at"] == "2027-03-14T07:00:00Z" and
          j["last_skip_reason"] == "dst_gap", j)
    check("and counted in the metric",
          metric(d, "belfry_schedule_fires_skipped_total") == skipped + 1)
    return sid


def runs_of(d, sid):
    """Runs by schedule over the API and belfryctl."""
    items, after = [], ""
    while True:
        st, j = d.req("GET", "/v1/workflow_recipient_runs?schedule_id=" +
                      sid + after)
        if st != 200:
            break
        items += j["items"]
        if not j["page_info"].get("after"):
            break
        after = "&after=" + j["page_info"]["after"]
    # Daily from 01-01 to 03-15, but for the spring-forward day.
    check("runs by schedule_id", st == 200 and len(items) == 73 and
          all(i["trigger_source"]["schedule_id"] == sid for i in items),
          (st, len(items)))
    rc, out, err = ts.ctl(d.sock, "runs", "--schedule", sid)
    lines = out.splitlines()
    check("belfryctl runs --schedule", rc == 0 and
          lines[0].split()[:4] == ["ID", "WORKFLOW", "RECIPIENT", "STATUS"]
          and len(lines) == len(items) + 1 and
          all(" gap " in x for x in lines[1:]), (out, err))
    st, j = d.req("GET", "/v1/workflow_recipient_runs?schedule_id=nope")
    check("a bad schedule_id is 422", st == 422, j)


def preview_local():
    """preview --local adds the local wall time with weekday and offset."""
    rc, out, err = ts.ctl("/nonexistent", "preview", "--rrule",
                          "FREQ=DAILY;BYHOUR=9", "--dtstart",
                          "2026-03-28T09:00:00", "--tz", "Europe/Berlin",
                          "--count", "2", "--local")
    check("preview --local", rc == 0 and out.splitlines() == [
        "2026-03-28T08:00:00Z  Sat 2026-03-28 09:00:00 +01:00",
        "2026-03-29T07:00:00Z  Sun 2026-03-29 09:00:00 +02:00"], (out, err))
    rc, out, err = ts.ctl("/nonexistent", "preview", "--rrule",
                          "FREQ=DAILY;BYHOUR=9", "--dtstart",
                          "2026-03-28T09:00:00", "--tz", "Europe/Berlin",
                          "--count", "1")
    check("plain preview stays UTC lines", out == "2026-03-28T08:00:00Z\n",
          out)


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-lifecycle-")
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    d = ts.Daemon(tmp, conf, "2027-01-01T00:00:00Z")
    ok = False
    try:
        check("daemon up", d.proc.poll() is None)
        check("one catch-up line at start", log_text(d).count(
            "catch-up at start: 0 schedule fires late, 0 occurrences "
            "skipped, 0 failed") == 1, log_text(d)[-500:])
        idempotency(d)
        filters(d)
        config_owned(d, conf)
        user_deleted(d)
        workflow_gone(d, conf, tmp)
        sid = dst_skip(d)
        runs_of(d, sid)
        preview_local()
        # Down for two days: the restart sums up its catch-up.
        d.stop()
        d = ts.Daemon(tmp, conf, "2027-03-17T12:00:00Z")
        check("restart catch-up summarised", re.search(
            r"catch-up at start: \d+ schedule fires late, [1-9]\d* "
            r"occurrences skipped", log_text(d)) is not None,
            log_text(d)[-800:])
        ok = check.failed == 0
    finally:
        d.stop()
        keep_or_remove(tmp, not ok, [d.log])
    print("schedule lifecycle: %d passed, %d failed" % (check.passed,
                                                         check.failed))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
