#!/usr/bin/env python3
"""Integration tests of query parameters: every route names the
parameters its handler honours, and any other answers 422 naming it
(a 200 with unfiltered data would be the worst answer).

    tests/integration/test_query.py BUILD_DIR

- Unknown parameters on a route that takes none, and on list routes
  that take some, answer 422 invalid_params naming the parameter, the
  route and what it accepts.
- Honoured parameters (feed filters, schedule filters in the SDK's array
  encodings, runs filters, preview count) still work and still filter.
- A parameter honoured only in one form ("status") refuses the other
  ("status[]") instead of ignoring it.

Prints one line per failed check and ends with "query: N passed, M
failed".
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import keep_or_remove  # noqa: E402

check = ts.check


def refused(d, path, name):
    """Check that GET path answers 422 invalid_params naming name."""
    st, j = d.req("GET", path)
    msg = j.get("message", "") if isinstance(j, dict) else str(j)
    check("422 for %s" % path, st == 422 and
          j.get("code") == "invalid_params" and
          ('"%s"' % name) in msg, (st, j))
    return msg


def main():
    ts.BELFRYD = os.path.join(sys.argv[1], "belfryd")
    ts.BELFRYCTL = os.path.join(sys.argv[1], "belfryctl")
    tmp = tempfile.mkdtemp(prefix="belfry-query-")
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    d = ts.Daemon(tmp, conf, "2026-03-01T00:00:00Z")
    try:
        # Routes that take no parameters name the route and say "none".
        msg = refused(d, "/v1/users/u1?foo=1", "foo")
        check("names the route", "GET /v1/users/{id}" in msg and
              "none" in msg, msg)
        refused(d, "/v1/messages/x?include=all", "include")
        # List routes list what they take.
        msg = refused(d, "/v1/users/u1/feeds/feed?include=all", "include")
        check("lists what the feed takes", "page_size" in msg and
              "archived" in msg, msg)
        refused(d, "/v1/schedules?sort=asc", "sort")
        refused(d, "/v1/workflow_recipient_runs?include=events",
                "include")
        refused(d, "/v1/workflow_recipient_runs?step_ref=feed",
                "step_ref")
        refused(d, "/v1/schedules/x/preview?after=1", "after")

        # Honoured parameters still work and still filter.
        for u in ("u1", "u2"):
            st, _ = d.req("PUT", "/v1/users/" + u, {"timezone": "UTC"})
            check("identify " + u, st == 200, st)
        for u in ("u1", "u2"):
            st, j = d.req("POST", "/v1/schedules", {
                "workflow": "tick", "recipients": [u],
                "repeats": [{"frequency": "daily", "hours": 9}]})
            check("schedule " + u, st == 200, (st, j))
        st, j = d.req("GET", "/v1/schedules?workflow=tick&"
                      "recipients%5B%5D=u2&page_size=10")
        check("recipients[] filters", st == 200 and
              [e["recipient"]["id"] for e in j["entries"]] == ["u2"],
              (st, j))
        st, j = d.req("GET", "/v1/schedules?recipients%5B0%5D%5Bid%5D=u1")
        check("recipients[0][id] filters", st == 200 and
              [e["recipient"]["id"] for e in j["entries"]] == ["u1"],
              (st, j))
        st, j = d.req("POST", "/v1/workflows/tick/trigger",
                      {"recipients": ["u1"]})
        check("trigger", st == 200, (st, j))
        st, j = d.req("GET", "/v1/users/u1/feeds/feed?page_size=5&"
                      "status=unread&archived=exclude")
        check("feed filters accepted", st == 200 and
              len(j.get("entries", [])) == 1, (st, j))
        st, j = d.req("GET", "/v1/users/u1/feeds/feed?status=read")
        check("feed status filters", st == 200 and
              j.get("entries") == [], (st, j))
        st, j = d.req("GET", "/v1/workflow_recipient_runs?workflow=tick&"
                      "recipient=u2")
        check("runs recipient filters", st == 200 and
              j.get("items") == [], (st, j))
        st, j = d.req("GET", "/v1/workflow_recipient_runs?workflow=tick&"
                      "recipient=u1&page_size=5")
        check("runs list", st == 200 and len(j.get("items", [])) == 1,
              (st, j))
        st, j = d.req("GET", "/v1/users/u1/schedules?workflow=tick")
        sid = j["entries"][0]["id"] if st == 200 and j["entries"] else "x"
        st, j = d.req("GET", "/v1/schedules/%s/preview?count=3" % sid)
        fires = [f for e in j.get("entries", j.get("recipients", []))
                 for f in e.get("fires", [])] if isinstance(j, dict) else []
        check("preview count", st == 200 and len(fires) == 3, (st, j))
    finally:
        d.stop()
    keep_or_remove(tmp, check.failed, [d.log])
    return check.summary("query")


if __name__ == "__main__":
    sys.exit(main())
