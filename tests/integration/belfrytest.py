"""Pieces shared by belfry's integration tests (python3 stdlib only).

Checks counts checks and prints the closing line that tests/run reads;
UnixConnection speaks HTTP over the daemon's admin socket; keep_or_remove
ends a test's temporary directory.
"""

import http.client
import os
import shutil
import socket
import sys


# How much slower than a plain build this one runs: make asan sets
# BELFRY_LATENCY_SCALE, and the tests' latency and CPU bounds stretch by it.
SCALE = float(os.environ.get("BELFRY_LATENCY_SCALE", "1"))


class Checks:
    """A callable check counter: check(name, ok, detail) -> ok."""

    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            if self.verbose:
                print("ok   %s" % name)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + str(detail)[:1500])
                                 if detail not in ("", None) else ""))
        return ok

    def summary(self, label):
        """Print "label: N passed, M failed"; the exit status to return."""
        print("%s: %d passed, %d failed" % (label, self.passed, self.failed))
        return 1 if self.failed else 0


class UnixConnection(http.client.HTTPConnection):
    """http.client over a Unix domain socket."""

    def __init__(self, path, timeout=600):
        super().__init__("belfry", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def keep_or_remove(tmp, failed, logs):
    """After a failed test print the end of each log and keep tmp;
    otherwise remove tmp."""
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    for path in logs:
        print("---- %s (kept in %s)" % (os.path.basename(path), tmp))
        with open(path, errors="replace") as f:
            sys.stdout.write(f.read()[-20000:])
