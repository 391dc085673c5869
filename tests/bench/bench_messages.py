"""Paging through every message, beside the trigger rate that made them,
both measured in the same run on a real belfryd over its Unix socket.

    tests/bench/bench_messages.py BUILD_DIR

- baseline: BENCH_MESSAGES (100,000) messages made by 1000-recipient
  triggers into the in-app feed (one connection), timed until the last
  message can be read back: messages made per second.
- GET /v1/messages: every page of 50 from the newest, each "after" cursor
  taken from the page before, on one keep-alive connection: messages
  read per second, and the median time of a page among the first 100 and
  the last 100 (equal when the cursor seeks by key instead of counting
  past what came before).
- the same with a filter that keeps one message in ten (channel_id),
  and one user's messages (GET /v1/users/{id}/messages) to the end.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from belfrytest import UnixConnection  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
TOTAL = int(os.environ.get("BENCH_MESSAGES", "100000"))
FANOUT = 1000


def get(c, path):
    """One GET on keep-alive connection c; the parsed body."""
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError("%s: %d %s" % (path, r.status, body[:200]))
    return json.loads(body)


def made_so_far(c):
    """belfry_messages_total of /metrics."""
    c.request("GET", "/metrics")
    r = c.getresponse()
    for line in r.read().decode().splitlines():
        if line.startswith("belfry_messages_total "):
            return int(float(line.split()[1]))
    return 0


def page_all(c, path, sep="?"):
    """Page through path to its end: (messages, seconds, page times)."""
    n, after, times = 0, None, []
    t0 = time.monotonic()
    while True:
        t = time.monotonic()
        j = get(c, path + sep + "page_size=50" +
                ("&after=" + after if after else ""))
        times.append(time.monotonic() - t)
        n += len(j["items"])
        after = j["page_info"]["after"]
        if not after:
            return n, time.monotonic() - t0, times


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-bench-msgs.")
    os.makedirs(os.path.join(tmp, "conf", "workflows"))
    with open(os.path.join(tmp, "conf", "belfry.conf"), "w") as f:
        json.dump({"channels": {"in-app": {"type": "in_app_feed"},
                                "other": {"type": "in_app_feed"}}}, f)
    with open(os.path.join(tmp, "conf", "workflows", "bench.json"),
              "w") as f:
        json.dump({"key": "bench", "steps": [
            {"ref": "feed", "type": "channel", "channel": "in-app",
             "template": {"markdown": "{{ data.what }} for you"}}]}, f)
    with open(os.path.join(tmp, "conf", "workflows", "other.json"),
              "w") as f:
        json.dump({"key": "other", "steps": [
            {"ref": "feed", "type": "channel", "channel": "other",
             "template": {"text": "{{ data.what }}"}}]}, f)
    sock = os.path.join(tmp, "sock")
    d = subprocess.Popen([os.path.join(BUILD, "belfryd"), "-c",
                          os.path.join(tmp, "conf"), "--socket", sock,
                          "--database", os.path.join(tmp, "db")],
                         stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        c = UnixConnection(sock)
        rcpts = ["u%d" % i for i in range(FANOUT)]
        t0 = time.monotonic()
        for i in range(TOTAL // FANOUT):
            # One trigger in ten goes to the other channel.
            wf = "other" if i % 10 == 9 else "bench"
            c.request("POST", "/v1/workflows/%s/trigger" % wf,
                      json.dumps({"recipients": rcpts,
                                  "data": {"what": "m%d" % i}}),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("trigger: %d" % r.status)
        while made_so_far(c) < TOTAL:
            time.sleep(0.01)
        made = time.monotonic() - t0
        n, secs, times = page_all(c, "/v1/messages")
        first = statistics.median(times[:100]) * 1000
        last = statistics.median(times[-100:]) * 1000
        fn, fsecs, _ = page_all(c, "/v1/messages?channel_id=other", "&")
        un, usecs, _ = page_all(c, "/v1/users/u7/messages")
        print("messages: %d made by %d-recipient triggers at %.0f /s "
              "(baseline)" % (TOTAL, FANOUT, TOTAL / made))
        print("messages: GET /v1/messages, every page of 50: %d read at "
              "%.0f /s (%.0f%% of the trigger rate), %.0f pages/s; median "
              "page %.2f ms in the first 100, %.2f ms in the last 100"
              % (n, n / secs, 100 * (n / secs) / (TOTAL / made),
                 len(times) / secs, first, last))
        print("messages: channel_id=other (1 in 10): %d read at %.0f /s "
              "of messages passed over" % (fn, TOTAL / fsecs))
        print("messages: GET /v1/users/u7/messages to the end: %d read at "
              "%.0f /s" % (un, un / usecs))
        c.close()
    finally:
        d.terminate()
        d.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
