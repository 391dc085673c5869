#!/usr/bin/env python3
"""Integration tests of what an operator relies on.

    tests/integration/test_ops.py BUILD_DIR

Version flags; GET /healthz without a key on the socket and on TCP; a
metrics key reaches /metrics and /healthz only; api_keys_file refused at
start and at reload when others may read it; keys from a systemd
credentials directory; promtool check metrics on /metrics (with counters
by workflow and channel); socket_group's mode and group; log_format json
lines with -v request lines; /admin/status' store figures and last
reload; belfryctl's papercuts.  Ends with "ops: N passed, M failed".
"""

import grp
import http.client
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_schedules as ts  # noqa: E402
from belfrytest import Checks, free_port, keep_or_remove  # noqa: E402

check = Checks()
KEY = "sk_test_ops_server_key"
MKEY = "mk_test_ops_metrics_key"
CRED = "sk_test_ops_credential"


def conf_dir(tmp, name, extra):
    """A config directory with one feed workflow and belfry.conf extra."""
    conf = os.path.join(tmp, name)
    os.makedirs(os.path.join(conf, "workflows"))
    c = {"default_timezone": "UTC",
         "channels": {"feed": {"type": "in_app_feed"}}}
    c.update(extra)
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump(c, f)
    with open(os.path.join(conf, "workflows", "ping.json"), "w") as f:
        json.dump({"key": "ping", "steps": [
            {"ref": "f", "type": "channel", "channel": "feed",
             "template": {"markdown": "ping"}}]}, f)
    return conf


def tcp(port, method, path, key=None):
    """One request on the TCP listener: (status, parsed body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    hdrs = {"Authorization": "Bearer " + key} if key else {}
    c.request(method, path, None, hdrs)
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def start(tmp, conf, args=(), env=None):
    """belfryd (virtual clock) with extra args and environment."""
    return ts.Daemon(tmp, conf, "2026-01-01T00:00:00Z", args, env)


def versions():
    """--version of both programs: one string, the VERSION file's."""
    with open(os.path.join(ts.ROOT, "VERSION")) as f:
        v = f.read().strip()
    for prog, name in ((ts.BELFRYD, "belfryd"), (ts.BELFRYCTL, "belfryctl")):
        p = subprocess.run([prog, "--version"], capture_output=True,
                           text=True)
        check("%s --version" % name, p.returncode == 0 and
              p.stdout.strip() == "%s %s" % (name, v), p.stdout)
    p = subprocess.run([ts.BELFRYD, "--help"], capture_output=True, text=True)
    check("belfryd --help names every option", p.returncode == 0 and all(
        o in p.stdout for o in ("--config", "--socket", "--database",
                                "--listen", "--virtual-clock", "--verbose",
                                "--version")), p.stdout)
    p = subprocess.run([ts.BELFRYCTL, "help"], capture_output=True, text=True)
    check("belfryctl help", p.returncode == 0 and "preview" in p.stdout and
          "--json" in p.stdout, p.stdout)


def main_daemon(tmp, logs):
    """Keys, health, metrics, json logs, status on one daemon."""
    keys = os.path.join(tmp, "keys")
    with open(keys, "w") as f:
        f.write("# server keys\n\n  %s  \n" % KEY)
    os.chmod(keys, 0o600)
    port = free_port()
    group = "nogroup" if os.geteuid() == 0 else \
        grp.getgrgid(os.getegid()).gr_name
    conf = conf_dir(tmp, "conf", {
        "listen": "127.0.0.1:%d" % port, "api_keys_file": keys,
        "metrics_api_keys": [MKEY], "log_format": "json",
        "socket_group": group})
    # A webhook channel nothing answers on: its attempts are retried.
    with open(os.path.join(conf, "belfry.conf")) as f:
        c = json.load(f)
    c["channels"]["hook"] = {"type": "http", "url": "http://127.0.0.1:%d/"
                             % free_port()}
    with open(os.path.join(conf, "belfry.conf"), "w") as f:
        json.dump(c, f)
    with open(os.path.join(conf, "workflows", "hooked.json"), "w") as f:
        json.dump({"key": "hooked", "steps": [
            {"ref": "h", "type": "channel", "channel": "hook",
             "template": {"body": "{\"x\": 1}"}}]}, f)
    d = start(tmp, conf, ["-v"])
    logs.append(d.log)
    try:
        if not check("daemon up", d.proc.poll() is None):
            return
        st, j = d.req("GET", "/healthz")
        check("healthz on the socket", st == 200 and j["status"] == "ok", j)
        st, j = tcp(port, "GET", "/healthz")
        check("healthz on TCP without a key", st == 200 and
              j["status"] == "ok", j)
        st, j = tcp(port, "GET", "/v1/users/u1")
        check("no key elsewhere: 401", st == 401, j)
        st, j = tcp(port, "PUT", "/v1/users/u1", KEY)
        check("api_keys_file key works", st in (200, 422), (st, j))
        for m, p in (("GET", "/v1/users/u1"), ("GET", "/admin/status"),
                     ("POST", "/v1/workflows/ping/trigger"),
                     ("GET", "/v1/nowhere")):
            st, j = tcp(port, m, p, MKEY)
            check("metrics key refused on %s %s" % (m, p), st == 403 and
                  j.get("code") == "metrics_key_not_allowed" and
                  j.get("type") == "invalid_request_error", (st, j))
        st, j = tcp(port, "GET", "/healthz", MKEY)
        check("metrics key on /healthz", st == 200, j)
        # Counters by workflow and channel: a trigger makes one message.
        st, j = d.req("POST", "/v1/workflows/ping/trigger",
                      {"recipients": ["u1", "u2"]})
        check("trigger", st == 200, j)
        st, j = d.req("POST", "/v1/workflows/hooked/trigger",
                      {"recipients": ["u3"]})
        check("trigger hooked", st == 200, j)
        retried = 'belfry_channel_deliveries_total{channel="hook",' \
            'result="retried"} 1'
        for _ in range(200):
            st, text = tcp(port, "GET", "/metrics", MKEY)
            if not isinstance(text, str) or retried in text:
                break
            subprocess.run(["sleep", "0.05"])
        check("metrics key on /metrics", st == 200 and isinstance(text, str),
              st)
        check("deliveries by channel and result", retried in text and
              'belfry_channel_deliveries_total{channel="hook",result='
              '"delivered"} 0' in text, text[-2000:])
        text = text if isinstance(text, str) else ""
        for line in ('belfry_workflow_runs_total{workflow="ping"} 2',
                     'belfry_workflow_messages_total{workflow="ping",'
                     'channel="feed"} 2',
                     'belfry_build_info{version="', "process_open_fds ",
                     "process_resident_memory_bytes ",
                     "process_cpu_seconds_total ",
                     "process_start_time_seconds ", "belfry_schedules 0",
                     "belfry_database_bytes ", "belfry_zone_rules_stale 0",
                     'belfry_reloads_total{result="ok"} 0'):
            check("metrics has %s" % line, line in text, text[-3000:])
        promtool = shutil.which("promtool")
        if check("promtool installed (make deps)", promtool is not None):
            p = subprocess.run([promtool, "check", "metrics"], input=text,
                               capture_output=True, text=True)
            check("promtool check metrics", p.returncode == 0 and
                  p.stdout.strip() == "" and p.stderr.strip() == "",
                  p.stdout + p.stderr)
        mode = os.stat(d.sock)
        check("socket mode 0660", stat.S_IMODE(mode.st_mode) == 0o660,
              oct(mode.st_mode))
        check("socket group %s" % group,
              mode.st_gid == grp.getgrnam(group).gr_gid, mode.st_gid)
        # Status: store figures; a reload's time and result.
        st, j = d.req("GET", "/admin/status")
        # PostgreSQL draws message keys in blocks per transaction: the
        # newest message's number runs ahead of the messages made.
        made = j.get("messages_created", 0) if st == 200 else 0
        pg = os.environ.get("BELFRY_TEST_BACKEND") == "postgresql"
        check("status figures", st == 200 and
              (made >= 3 if pg else made == 3) and
              j["schedules"] == 0 and j["schema_version"] > 0 and
              j["database_bytes"] > 0 and j["last_reload"] is None, j)
        os.chmod(keys, 0o644)
        st, j = d.req("POST", "/admin/reload")
        check("world-readable key file refused at reload", st == 422 and
              "mode 0644" in j.get("message", "") and keys in
              j.get("message", ""), j)
        st, j = d.req("GET", "/admin/status")
        check("status: last reload failed", st == 200 and
              j["last_reload"]["result"] == "failed" and
              "mode 0644" in j["last_reload"].get("error", ""), j)
        os.chmod(keys, 0o600)
        st, j = d.req("POST", "/admin/reload")
        check("reload after chmod 600", st == 200, j)
        st, j = d.req("GET", "/admin/status")
        check("status: last reload ok", j["last_reload"]["result"] == "ok"
              and j["reloads"] == {"ok": 1, "failed": 1}, j)
        st, text = d.req("GET", "/metrics")
        check("metrics: reloads by result", 'belfry_reloads_total{result='
              '"failed"} 1' in text and 'belfry_reloads_total{result='
              '"ok"} 1' in text, text[-2000:])
        papercuts(d)
    finally:
        d.stop()
    lines, bad = [], []
    with open(d.log) as f:
        for ln in f:
            try:
                lines.append(json.loads(ln))
            except ValueError:
                bad.append(ln)
    check("every log line is JSON", lines and not bad, bad[:3])
    check("json lines have time, level, msg, fields", all(
        set(x) == {"time", "level", "msg", "fields"} for x in lines), lines[:2])
    req = [x["fields"] for x in lines if x["msg"] == "request"]
    check("-v request lines: method, path, status, ms", any(
        f.get("method") == "GET" and f.get("path") == "/healthz" and
        f.get("status") == "200" and float(f.get("ms", "-1")) >= 0
        for f in req), req[:3])
    check("request lines never log the query", not any(
        "?" in f.get("path", "") for f in req))


def papercuts(d):
    """belfryctl: trimmed recipients, paths, messages, preview defaults."""
    rc, out, err = ts.ctl(d.sock, "trigger", "ping", "--recipients",
                          "pa, pb ,pc")
    check("trigger --recipients 'a, b' trims", rc == 0, err)
    st, j = d.req("GET", "/v1/users/pb/feeds/feed")
    check("trimmed recipient got the message", st == 200 and
          len(j.get("entries", [])) == 1, j)
    rc, out, err = ts.ctl(d.sock, "get", "admin/status")
    check("get PATH without a slash", rc == 0 and '"version"' in out, err)
    rc, out, err = ts.ctl(d.sock, "get", "/v1/users/nobody")
    check("errors print the message", rc == 1 and out == "" and
          err.startswith("belfryctl: ") and "not found" in err and
          not err.lstrip().startswith("{"), err)
    rc, out, err = ts.ctl(d.sock, "--json", "get", "/v1/users/nobody")
    check("--json prints the body", rc == 1 and
          json.loads(err)["code"] == "resource_missing", err)
    gone = os.path.join(os.path.dirname(d.sock), "none.sock")
    for args in (["runs"], ["deliveries"], ["schedules"], ["status"]):
        rc, out, err = ts.ctl(gone, *args)
        check("nothing on stdout before a connection error: %s" % args[0],
              rc == 1 and out == "" and err != "", (out, err))
    env = dict(os.environ, TZ="Asia/Tokyo")
    p = subprocess.run([ts.BELFRYCTL, "preview", "--rrule",
                        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
                        "--count", "2", "--local"], capture_output=True,
                       text=True, env=env)
    check("preview without --tz and --dtstart", p.returncode == 0 and
          len(p.stdout.splitlines()) == 2 and
          all(" 09:00:00 +09:00" in ln for ln in p.stdout.splitlines()),
          p.stdout + p.stderr)


def refused_and_credentials(tmp, logs):
    """A world-readable key file is refused at start; credentials work."""
    sub = os.path.join(tmp, "start")
    os.makedirs(sub)
    keys = os.path.join(sub, "keys")
    with open(keys, "w") as f:
        f.write(KEY + "\n")
    os.chmod(keys, 0o644)
    conf = conf_dir(sub, "conf", {"api_keys_file": keys})
    p = subprocess.run([ts.BELFRYD, "-c", conf, "--socket",
                        os.path.join(sub, "s"), "--database",
                        os.path.join(sub, "db")], capture_output=True,
                       text=True, timeout=20)
    check("world-readable key file refused at start", p.returncode != 0 and
          keys in p.stderr and "mode 0644" in p.stderr and
          "belfry.conf" in p.stderr, p.stderr)
    check("nothing left behind", not os.path.exists(os.path.join(sub, "s")))

    sub = os.path.join(tmp, "cred")
    os.makedirs(os.path.join(sub, "creds"))
    for name, key in (("api_keys", CRED), ("metrics_api_keys", MKEY)):
        with open(os.path.join(sub, "creds", name), "w") as f:
            f.write("# from LoadCredential=\n%s\n" % key)
    port = free_port()
    conf = conf_dir(sub, "conf", {"listen": "127.0.0.1:%d" % port})
    d = start(sub, conf, env={"CREDENTIALS_DIRECTORY":
                              os.path.join(sub, "creds")})
    logs.append(d.log)
    try:
        check("daemon with credentials up", d.proc.poll() is None)
        st, j = tcp(port, "GET", "/v1/users/nobody", CRED)
        check("credential api key works", st == 404, (st, j))
        st, j = tcp(port, "GET", "/v1/users/nobody", MKEY)
        check("credential metrics key is a metrics key", st == 403, (st, j))
        st, _ = tcp(port, "GET", "/metrics", MKEY)
        check("credential metrics key on /metrics", st == 200, st)
    finally:
        d.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="belfry-ops-")
    logs = []
    try:
        versions()
        main_daemon(tmp, logs)
        refused_and_credentials(tmp, logs)
    finally:
        keep_or_remove(tmp, check.failed, logs)
    return check.summary("ops")


if __name__ == "__main__":
    sys.exit(main())
