"""Pieces shared by belfry's integration tests (python3 stdlib only).

Checks counts checks and prints the closing line that tests/run reads;
UnixConnection speaks HTTP over the daemon's admin socket; keep_or_remove
ends a test's temporary directory; make_ca makes a private CA and a
server certificate with openssl; free_port finds a loopback port;
BACKEND is the store the daemons run on (tests/run sets
BELFRY_TEST_BACKEND: "sqlite", or "postgresql" on the view of
tests/pg/view), skip says which checks it rules out, and pg_uri / pg_sql
reach the PostgreSQL cluster of the run (BELFRY_TEST_PG).
"""

import http.client
import os
import shutil
import socket
import subprocess
import sys


# How much slower than a plain build this one runs: make asan sets
# BELFRY_LATENCY_SCALE, and the tests' latency and CPU bounds stretch by it.
SCALE = float(os.environ.get("BELFRY_LATENCY_SCALE", "1"))



def backend():
    """The store belfryd runs on: BELFRY_TEST_BACKEND (tests/run), else
    the test-backend file of the build directory argv[1] names (a suite
    run by hand on the view of tests/pg/view), else "sqlite"."""
    v = os.environ.get("BELFRY_TEST_BACKEND")
    if not v and len(sys.argv) > 1:
        try:
            with open(os.path.join(sys.argv[1], "test-backend")) as f:
                v = f.read().strip()
        except OSError:
            pass
    return v or "sqlite"


BACKEND = backend()
PG = BACKEND == "postgresql"


def skip(what, why):
    """Say that the checks what are not run, and why (tests/run shows
    these lines)."""
    print("SKIP %s: %s" % (what, why))


def pg_uri(name):
    """The URI of database name on the run's PostgreSQL cluster."""
    return os.environ["BELFRY_TEST_PG"].rstrip("/") + "/" + name


def pg_sql(name, sql):
    """Run sql with psql on database name of the run's cluster:
    (exit status, output of its rows as text, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    p = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
                        "-d", pg_uri(name), "-c", sql], capture_output=True,
                       text=True, env=env, timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


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


def make_ca(tmp):
    """A private CA and a certificate it signed for 127.0.0.1 and
    localhost, made with openssl in tmp: (ca.pem, server.pem,
    server.key)."""
    ca = os.path.join(tmp, "ca.pem")
    cakey = os.path.join(tmp, "ca.key")
    cert = os.path.join(tmp, "server.pem")
    key = os.path.join(tmp, "server.key")
    csr = os.path.join(tmp, "server.csr")
    ext = os.path.join(tmp, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    for args in (
            ["req", "-x509"] + ec + ["-keyout", cakey, "-out", ca, "-days",
                                     "2", "-subj", "/CN=belfry test CA"],
            ["req"] + ec + ["-keyout", key, "-out", csr, "-subj",
                            "/CN=localhost"],
            ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile",
             ext]):
        subprocess.run(["openssl"] + args, check=True,
                       capture_output=True)
    return ca, cert, key


def free_port():
    """A loopback TCP port nothing listens on (for a server to take)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_parts(check, label, parts):
    """Run each (name, f) of parts as f(its own directory in one temporary
    directory), keeping it and printing the daemons' logs (NAME/belfryd.log)
    on failure; the exit status of check.summary(label)."""
    import tempfile
    tmp = tempfile.mkdtemp(prefix="belfry-%s-" % label)
    logs, ok = [], False
    try:
        for name, f in parts:
            sub = os.path.join(tmp, name)
            os.makedirs(sub)
            logs.append(os.path.join(sub, "belfryd.log"))
            f(sub)
        ok = check.failed == 0
    finally:
        keep_or_remove(tmp, not ok, [x for x in logs if os.path.exists(x)])
    return check.summary(label)
