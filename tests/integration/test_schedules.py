#!/usr/bin/env python3
"""Integration tests of schedules: the real belfryd on a virtual clock.

    tests/integration/test_schedules.py BUILD_DIR

- A year of daily and weekly schedules for recipients in many zones (both
  hemispheres, half-hour and 45-minute zones, zones whose rules changed
  since 2022) fires at exactly the instants `belfryctl preview --schedule`
  predicted when they were created, which in turn match the offline
  `belfryctl preview --rrule/--repeats` for the same rule, DTSTART and zone.
- Catch-up: after downtime (a restart with the virtual clock further on)
  only the latest missed occurrence within catchup_window fires; the others
  are counted as skipped on the schedule and in /metrics.
- A user's time zone change moves their next fire at once.
- Config schedules are added, changed and removed by reload; API-defined
  ones stay.

Prints one line per failed check and ends with "schedules: N passed, M
failed".  The daemon's log is printed (and its directory kept) only on
failure.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from belfrytest import (  # noqa: E402
    Checks, UnixConnection, keep_or_remove)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
BELFRYD = os.path.join(BUILD, "belfryd")
BELFRYCTL = os.path.join(BUILD, "belfryctl")
START = "2026-01-01T00:00:00Z"
END = "2027-01-01T00:00:00Z"

ZONES = [
    "Asia/Kolkata", "Australia/Adelaide", "America/Mexico_City",
    "America/New_York", "Europe/London", "Europe/Berlin", "Australia/Sydney",
    "Pacific/Auckland", "America/Santiago", "America/Sao_Paulo",
    "Africa/Johannesburg", "Asia/Tokyo", "Asia/Kathmandu", "Asia/Tehran",
    "America/St_Johns", "Pacific/Chatham", "Australia/Lord_Howe",
    "Africa/Casablanca", "America/Asuncion", "Europe/Kyiv",
    "America/Ciudad_Juarez", "America/Nuuk", "Asia/Almaty", "Africa/Cairo",
    "America/Scoresbysund", "Pacific/Apia", "Antarctica/Troll",
]

check = Checks()


class Daemon:
    """belfryd on a private socket, database and config, virtual clock;
    args: more options, env: more environment."""

    def __init__(self, tmp, conf, at, args=(), env=None):
        self.sock = os.path.join(tmp, "belfryd.sock")
        self.log = os.path.join(tmp, "belfryd.log")
        self.logf = open(self.log, "ab")
        env = dict(os.environ, **(env or {}))
        env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen(
            [BELFRYD, "-c", conf, "--socket", self.sock, "--database",
             os.path.join(tmp, "belfry.db"), "--virtual-clock", at] +
            list(args), stdout=self.logf, stderr=self.logf, env=env)
        deadline = time.time() + 20
        while time.time() < deadline and self.proc.poll() is None:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                break
            except OSError:
                time.sleep(0.02)
        self.conn = None

    def req(self, method, path, body=None):
        """One request; (status, parsed JSON or text)."""
        for attempt in range(2):
            if self.conn is None:
                self.conn = UnixConnection(self.sock)
            try:
                data = None if body is None else json.dumps(body)
                hdrs = {"Content-Type": "application/json"} if data else {}
                self.conn.request(method, path, data, hdrs)
                r = self.conn.getresponse()
                text = r.read().decode()
                break
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text

    def stop(self):
        if self.conn is not None:
            self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def ctl(sock, *args):
    """Run belfryctl; (exit status, stdout, stderr)."""
    p = subprocess.run([BELFRYCTL, "-s", sock] + list(args),
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def write_config(conf, tmp):
    """A config directory with one workflow writing to an in-app feed."""
    os.makedirs(os.path.join(conf, "workflows"))
    os.makedirs(os.path.join(conf, "schedules"))
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump({"socket": os.path.join(tmp, "unused.sock"),
                   "database": os.path.join(tmp, "unused.db"),
                   "default_timezone": "UTC",
                   "channels": {"feed": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(conf, "workflows", "tick.json"), "w") as f:
        json.dump({"key": "tick", "steps": [
            {"ref": "f", "type": "channel", "channel": "feed",
             "template": {"markdown": "tick"}}]}, f)


def fired(d, rcpt):
    """The occurrences fired for rcpt by schedules, oldest first, as
    (scheduled_at, inserted_at, schedule_id) tuples."""
    out = []
    after = None
    while True:
        path = "/v1/workflow_recipient_runs?page_size=50&recipient=" + rcpt
        if after:
            path += "&after=" + after
        st, j = d.req("GET", path)
        if st != 200:
            raise RuntimeError("runs list: %s %s" % (st, j))
        for it in j["items"]:
            ts = it["trigger_source"]
            if ts.get("type") == "schedule":
                out.append((ts["scheduled_at"], it["inserted_at"],
                            ts["schedule_id"]))
        after = j["page_info"].get("after")
        if not after:
            break
    out.sort()
    return out


def preview(sock, sid, count):
    """belfryctl preview --schedule: {recipient: [instants]}."""
    rc, out, err = ctl(sock, "preview", "--schedule", sid, "--count",
                       str(count))
    res = {}
    cur = None
    for line in out.splitlines():
        if line.startswith("# "):
            cur = line[2:].split(" ")[0]
            res[cur] = []
        elif cur is not None:
            res[cur].append(line)
    return rc, res, err


def year(d, tmp):
    """A year of daily and weekly schedules in ZONES fires as predicted."""
    predicted = {}
    offline_ok = 0
    for i, zone in enumerate(ZONES):
        uid = "z%02d" % i
        st, _ = d.req("PUT", "/v1/users/" + uid, {"timezone": zone})
        check("PUT user %s" % zone, st == 200)
        daily = [{"frequency": "daily", "hours": [9], "minutes": [30]}]
        weekly = "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=2;BYMINUTE=30;BYSECOND=0"
        for kind, body in (("daily", {"repeats": daily}),
                           ("weekly", {"rrule": weekly})):
            body = dict(body, workflow="tick", recipients=[uid])
            st, j = d.req("POST", "/v1/schedules", body)
            if not check("create %s %s" % (kind, zone), st == 200 and
                         isinstance(j, list) and len(j) == 1, j):
                continue
            s = j[0]
            rc, pv, err = preview(d.sock, s["id"], 500)
            fires = [t for t in pv.get(uid, []) if t < END]
            check("preview %s %s" % (kind, zone), rc == 0 and
                  len(fires) > 90, (rc, err, len(fires)))
            predicted.setdefault(uid, []).extend(
                (t, s["id"]) for t in fires)
            # The daemon's prediction is the offline one for the same
            # rule, DTSTART and zone.
            args = ["preview", "--dtstart", s["dtstart"], "--tz", zone,
                    "--count", "500", "--after",
                    "2025-12-31T23:59:59Z"]
            args += (["--repeats", json.dumps(daily)] if kind == "daily"
                     else ["--rrule", weekly])
            rc, out, err = ctl(d.sock, *args)
            offline = [t for t in out.split() if t < END]
            if check("offline preview = daemon preview %s %s" %
                     (kind, zone), rc == 0 and offline == fires,
                     (err, offline[:3], fires[:3])):
                offline_ok += 1
    t0 = time.time()
    st, j = d.req("POST", "/admin/clock", {"advance_to": END})
    check("advance a year", st == 200 and j.get("now") == END, (st, j))
    print("(a year of %d fires in %.1f s)" %
          (sum(len(v) for v in predicted.values()), time.time() - t0))
    for i, zone in enumerate(ZONES):
        uid = "z%02d" % i
        want = sorted(predicted.get(uid, []))
        got = fired(d, uid)
        check("fires = preview for %s (%d)" % (zone, len(want)),
              [(a, s) for a, _, s in got] == want,
              first_diff(want, [(a, s) for a, _, s in got]))
        check("each fire ran on time for %s" % zone,
              all(a == b for a, b, _ in got),
              [x for x in got if x[0] != x[1]][:3])
    # Zones whose rules changed since ICU's bundled 2022e: Mexico City has
    # no DST since 2022 (15:30Z all year), Asuncion is -03 all year since
    # October 2024 (12:30Z).
    for zone, hhmm in (("America/Mexico_City", "T15:30:00Z"),
                       ("America/Asuncion", "T12:30:00Z")):
        uid = "z%02d" % ZONES.index(zone)
        daily = [a for a, _, s in fired(d, uid)
                 if a.endswith(":30:00Z") and not a.endswith(hhmm) and
                 s == predicted[uid][0][1]]
        check("current rules for %s: every daily fire at %s" %
              (zone, hhmm), daily == [], daily[:3])
    st, text = d.req("GET", "/metrics")
    check("metrics count the fires",
          "belfry_schedule_fires_total %d" %
          sum(len(v) for v in predicted.values()) in text, text[-600:])
    check("lateness histogram fed", 'belfry_fire_lateness_seconds_bucket'
          '{le="0.005"} %d' % sum(len(v) for v in predicted.values())
          in text)


def first_diff(a, b):
    """Where two lists first differ (for failure messages)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "at %d: want %s got %s" % (i, x, y)
    return "lengths %d vs %d" % (len(a), len(b))


def user_schedules(d, uid):
    st, j = d.req("GET", "/v1/users/%s/schedules" % uid)
    return j.get("entries", []) if st == 200 else []


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-schedules-")
    conf = os.path.join(tmp, "conf")
    write_config(conf, tmp)
    d = Daemon(tmp, conf, START)
    ok = False
    try:
        check("daemon up", d.proc.poll() is None)
        year(d, tmp)

        # ---- a user's time zone change moves the next fire ----
        st, j = d.req("POST", "/v1/schedules", {
            "workflow": "tick", "recipients": [
                {"id": "tzc", "timezone": "Europe/London"}],
            "repeats": [{"frequency": "daily", "hours": [9],
                         "minutes": [0]}]})
        check("create tzc", st == 200 and j[0]["next_occurrence_at"] ==
              "2027-01-01T09:00:00Z", j)
        st, _ = d.req("PUT", "/v1/users/tzc", {"timezone": "Asia/Tokyo"})
        s = user_schedules(d, "tzc")
        check("tz change moves next fire at once", s and
              s[0]["next_occurrence_at"] == "2027-01-02T00:00:00Z" and
              s[0]["effective_timezone"] == "Asia/Tokyo", s)

        # ---- catch-up after downtime ----
        for uid, window in (("cu", None), ("cu2", 600)):
            body = {"workflow": "tick", "recipients": [uid],
                    "repeats": [{"frequency": "daily", "hours": [9],
                                 "minutes": [30]}]}
            if window is not None:
                body["catchup_window"] = window
            st, j = d.req("POST", "/v1/schedules", body)
            check("create %s" % uid, st == 200, j)
        rc, out, err = ctl(d.sock, "schedules")
        line = [x for x in out.splitlines() if x.endswith(" cu2")]
        check("belfryctl schedules lists next fires in local time",
              rc == 0 and out.split()[:4] == ["NEXT", "LEFT", "LAST",
                                              "SKIPPED"] and
              len(line) == 1 and
              line[0].startswith("Fri 2027-01-01 09:30:00 +00:00"),
              (out, err))
        d.stop()
        d = Daemon(tmp, conf, "2027-01-05T09:45:00Z")
        check("daemon restarted", d.proc.poll() is None)
        st, j = d.req("POST", "/admin/clock", {"advance_by_seconds": 0})
        got = fired(d, "cu")
        check("catch-up fires only the latest within the window",
              [(a, b) for a, b, _ in got] ==
              [("2027-01-05T09:30:00Z", "2027-01-05T09:45:00Z")], got)
        s = user_schedules(d, "cu")
        check("catch-up records the skipped ones", s and
              s[0]["skipped_count"] == 4 and
              s[0]["last_skipped_at"] == "2027-01-04T09:30:00Z" and
              s[0]["next_occurrence_at"] == "2027-01-06T09:30:00Z", s)
        check("outside the window nothing fires", fired(d, "cu2") == [])
        s = user_schedules(d, "cu2")
        check("outside the window all are skipped", s and
              s[0]["skipped_count"] == 5, s)
        st, text = d.req("GET", "/metrics")
        line = [x for x in text.splitlines() if
                x.startswith("belfry_schedule_fires_skipped_total ")]
        check("metrics count skipped fires", line and
              int(line[0].split()[1]) >= 9, line)
        st, j = d.req("POST", "/admin/clock",
                      {"advance_to": "2027-01-06T12:00:00Z"})
        check("tz change fire ran at the new instant",
              [a for a, _, _ in fired(d, "tzc")][-1:] ==
              ["2027-01-06T00:00:00Z"], fired(d, "tzc"))

        # ---- config schedules: add, change, remove by reload ----
        path = os.path.join(conf, "schedules", "digest.json")
        api_before = len(user_schedules(d, "cf"))
        st, j = d.req("POST", "/v1/schedules", {
            "workflow": "tick", "recipients": ["cf"],
            "rrule": "FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0"})
        with open(path, "w") as f:
            json.dump([{"id": "digest", "workflow": "tick",
                        "recipients": ["cf"], "timezone": "Asia/Kolkata",
                        "repeats": [{"frequency": "daily", "hours": [8],
                                     "minutes": [0]}]}], f)
        rc, out, err = ctl(d.sock, "reload")
        s = [x for x in user_schedules(d, "cf") if x["source"] == "config"]
        check("reload adds a config schedule", rc == 0 and len(s) == 1 and
              s[0]["config_id"] == "digest" and
              s[0]["next_occurrence_at"] == "2027-01-07T02:30:00Z",
              (err, s))
        with open(path, "w") as f:
            json.dump([{"id": "digest", "workflow": "tick",
                        "recipients": ["cf"], "timezone": "Asia/Kolkata",
                        "repeats": [{"frequency": "daily", "hours": [10],
                                     "minutes": [0]}]}], f)
        rc, out, err = ctl(d.sock, "reload")
        s = [x for x in user_schedules(d, "cf") if x["source"] == "config"]
        check("reload changes a config schedule", rc == 0 and len(s) == 1
              and s[0]["next_occurrence_at"] == "2027-01-07T04:30:00Z",
              (err, s))
        with open(path, "w") as f:
            f.write('[{"id": "digest", "workflow": "tick",\n'
                    ' "recipients": ["cf"], "rrule": "FREQ=NEVER"}]\n')
        rc, out, err = ctl(d.sock, "reload")
        check("a bad config schedule names file:line:column", rc != 0 and
              "digest.json:2:" in err, err)
        os.unlink(path)
        rc, out, err = ctl(d.sock, "reload")
        s = user_schedules(d, "cf")
        check("reload removes a config schedule, API ones stay", rc == 0
              and len(s) == api_before + 1 and
              all(x["source"] == "api" for x in s), s)

        # ---- API errors ----
        for name, body, status, code in (
                ("bad zone", {"workflow": "tick", "recipients": ["x"],
                              "rrule": "FREQ=DAILY", "timezone": "X/Y"},
                 422, "timezone"),
                ("bad rule", {"workflow": "tick", "recipients": ["x"],
                              "rrule": "FREQ=OFTEN"}, 422, "rrule"),
                ("unknown workflow", {"workflow": "nope",
                                      "recipients": ["x"],
                                      "rrule": "FREQ=DAILY"}, 404,
                 "workflow_missing"),
                ("too many recipients", {"workflow": "tick",
                                         "recipients": ["r%d" % i for i in
                                                        range(101)],
                                         "rrule": "FREQ=DAILY"}, 422,
                 "recipients")):
            st, j = d.req("POST", "/v1/schedules", body)
            check("422/404 %s" % name, st == status and
                  code in json.dumps(j), (st, j))
        st, j = d.req("GET", "/v1/schedules?workflow=tick&page_size=5")
        check("list pages", st == 200 and len(j["entries"]) == 5 and
              j["page_info"]["after"], j)
        st, j2 = d.req("GET", "/v1/schedules?workflow=tick&page_size=5"
                       "&after=" + j["page_info"]["after"])
        check("next page differs", st == 200 and j2["entries"] and
              j2["entries"][0]["id"] != j["entries"][0]["id"], j2)
        sid = j["entries"][0]["id"]
        st, j = d.req("PUT", "/v1/schedules", {"schedule_ids": [sid],
                                               "paused": True})
        check("PUT pauses", st == 200 and j[0]["paused"] is True and
              j[0]["next_occurrence_at"] is None, j)
        st, j = d.req("DELETE", "/v1/schedules", {"schedule_ids": [sid]})
        check("DELETE", st == 200 and j[0]["id"] == sid, j)
        ok = check.failed == 0
    finally:
        d.stop()
        keep_or_remove(tmp, not ok, [d.log])
    return check.summary("schedules")


if __name__ == "__main__":
    sys.exit(main())
