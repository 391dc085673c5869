#!/usr/bin/env python3
"""docs/api.md's table of every Knock endpoint, held true against the
real daemon's routes.

    tests/integration/test_api_matrix.py BUILD_DIR

- Every endpoint of Knock's OpenAPI spec has a row (the spec's paths are
  listed in the table; a row per method and path).
- A row that says "works" or "differs" is a route of belfryd: a request
  with placeholder ids gets an answer from a handler, never 404 "no
  route" or 405.
- A row that says "out of scope" is no route of belfryd: 404 "no route".
- Every /v1 route of scheduler/api.c is a row (Knock's or "belfry only"),
  so a route added without its row fails here.

Prints one line per failed check and ends with "api matrix: N passed, M
failed".
"""

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import keep_or_remove  # noqa: E402

check = ts.check
ROOT = ts.ROOT
ROW = re.compile(r"^\| `(GET|POST|PUT|DELETE)` \| `(/[^`]*)` \| ([^|]+) \|")
ROUTE = re.compile(r"\{ (GET|POST|PUT|DELETE), \"(/v1/[^\"]*)\"")


def shape(path):
    """A path with every {parameter} as {}, for comparing patterns."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def matrix():
    """The rows of docs/api.md's endpoint table: [(method, path, status)]."""
    rows = []
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                rows.append((m.group(1), m.group(2),
                             m.group(3).strip().split(":")[0].strip()))
    return rows


def routes():
    """The /v1 routes of scheduler/api.c: {(method, shape)}."""
    text = open(os.path.join(ROOT, "scheduler", "api.c")).read()
    text = re.sub(r"\"\s*\n\s*\"", "", text)
    return {(m, shape(p)) for m, p in ROUTE.findall(text)}


def main():
    ts.BELFRYD = os.path.join(sys.argv[1], "belfryd")
    ts.BELFRYCTL = os.path.join(sys.argv[1], "belfryctl")
    rows = matrix()
    check("the table has Knock's endpoints", len(rows) >= 118, len(rows))
    check("statuses are works, differs, out of scope or belfry only",
          all(s in ("works", "differs", "out of scope", "belfry only")
              for _, _, s in rows), [r for r in rows if r[2] not in (
                  "works", "differs", "out of scope", "belfry only")])
    for m, p in sorted(routes()):
        pat = re.compile("^" + re.escape(p).replace(r"\{\}", "[^/]+") + "$")
        check("route %s %s has a row" % (m, p),
              any(rm == m and pat.match(shape(rp)) for rm, rp, _ in rows))
    tmp = tempfile.mkdtemp(prefix="belfry-matrix-")
    conf = os.path.join(tmp, "conf")
    ts.write_config(conf, tmp)
    d = ts.Daemon(tmp, conf, "2026-03-01T00:00:00Z")
    try:
        for m, p, s in rows:
            path = re.sub(r"\{[^}]*\}", "x", p)
            body = {} if m in ("POST", "PUT") else None
            st, j = d.req(m, path, body)
            msg = j.get("message", "") if isinstance(j, dict) else str(j)
            noroute = st == 405 or (st == 404 and
                                    msg.startswith("no route"))
            if s == "out of scope":
                check("%s %s is no route" % (m, p), noroute, (st, j))
            else:
                check("%s %s is served" % (m, p), not noroute, (st, j))
    finally:
        d.stop()
        keep_or_remove(tmp, check.failed, [d.log])
    print("api matrix: %d passed, %d failed" % (check.passed, check.failed))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
