#!/usr/bin/env bash
# Knock's official Node SDK against the real belfryd.
#
#   tests/integration/test_sdk.sh [BUILD_DIR]     (default build)
#
# 1. Installs tests/sdk's locked dependencies (@knocklabs/node only) with
#    `npm ci` when tests/sdk/node_modules is missing (needs the npm registry).
# 2. Writes a private config (an API key, the in-app channel `in-app`, the
#    workflow `sdk-comment`) into a temporary directory and starts
#    BUILD_DIR/belfryd on it with a temporary socket and database and a TCP
#    listener on a free loopback port, and waits for the port.
# 3. Runs `node --test tests/sdk/` with BELFRY_URL and BELFRY_KEY set (the
#    SDK is used unchanged: `new Knock({apiKey, baseURL})`).
# 4. Stops the daemon with SIGTERM; it must exit 0 within 10 s (otherwise
#    one more failure is counted).
#
# Prints node's TAP output, the daemon's log only if something failed, and
# last "sdk: N passed, M failed" (N and M from node's "# pass" / "# fail");
# exits 1 if M > 0 or N == 0.

set -u

B=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SDK=$ROOT/tests/sdk
BIN=$(cd "$B" 2>/dev/null && pwd)/belfryd
KEY=sk_test_belfry_sdk_$$
WAIT=10 # seconds to wait for the listener and for the exit on SIGTERM

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# Print the daemon's log (on failure).
show_log() {
	echo "--- belfryd log ($tmp/belfryd.log)"
	sed 's/^/    /' "$tmp/belfryd.log" 2>/dev/null
	echo "---"
}

# Give up before any test ran: one failure, with the reason.
abort() {
	echo "FAIL $1"
	[ -f "$tmp/belfryd.log" ] && show_log
	echo "sdk: 0 passed, 1 failed"
	exit 1
}

command -v node >/dev/null || abort "node is not installed"
[ -x "$BIN" ] || abort "no daemon $B/belfryd (run make first)"

# 1. the SDK, from the lock file
if [ ! -d "$SDK/node_modules/@knocklabs/node" ]; then
	echo "# npm ci in tests/sdk"
	(cd "$SDK" && npm ci --no-audit --no-fund) >"$tmp/npm.log" 2>&1 ||
		abort "npm ci in tests/sdk failed: $(tail -n 5 "$tmp/npm.log")"
fi
sdk_version=$(node -p "require('$SDK/node_modules/@knocklabs/node/package.json').version" 2>/dev/null)
echo "# @knocklabs/node $sdk_version, node $(node --version)"

# 2. config and daemon
port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})") ||
	abort "could not pick a free port"
mkdir -p "$tmp/conf/workflows"
cat >"$tmp/conf/belfry.conf" <<EOF
{
  "socket": "$tmp/s",
  "database": "$tmp/db",
  "listen": "127.0.0.1:$port",
  "api_keys": ["$KEY"],
  "default_timezone": "UTC",
  "channels": {
    "in-app": {"type": "in_app_feed"},
    "audit": {"type": "log"}
  }
}
EOF
cat >"$tmp/conf/workflows/sdk-comment.json" <<'EOF'
{
  "key": "sdk-comment",
  "name": "SDK comment",
  "categories": ["comments"],
  "data_required": ["comment_id"],
  "steps": [
    {"ref": "feed", "type": "channel", "channel": "in-app",
     "template": {"markdown": "{{ actor.name }} commented on {{ data.post_id }}: {{ data.excerpt }}"}}
  ]
}
EOF

"$BIN" -c "$tmp/conf" --socket "$tmp/s" --database "$tmp/db" \
	--listen "127.0.0.1:$port" -v >"$tmp/belfryd.log" 2>&1 </dev/null &
pid=$!

up=0
for _ in $(seq $((WAIT * 10))); do
	kill -0 "$pid" 2>/dev/null || break
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.1
done
if [ "$up" -ne 1 ]; then
	kill -0 "$pid" 2>/dev/null && abort "belfryd did not listen on 127.0.0.1:$port within ${WAIT}s"
	wait "$pid"
	abort "belfryd exited with status $? before listening"
fi

# 3. the SDK tests
BELFRY_URL=http://127.0.0.1:$port BELFRY_KEY=$KEY \
	timeout 300 node --test --test-reporter=tap "$SDK/" >"$tmp/node.out" 2>&1 </dev/null
node_rc=$?
cat "$tmp/node.out"
pass=$(sed -n -E 's/^# pass ([0-9]+)$/\1/p' "$tmp/node.out" | tail -n 1)
fail=$(sed -n -E 's/^# fail ([0-9]+)$/\1/p' "$tmp/node.out" | tail -n 1)
pass=${pass:-0}
fail=${fail:-0}
if [ "$node_rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
	echo "FAIL node --test exited with status $node_rc"
	fail=1
fi

# 4. SIGTERM: a clean exit
if kill -0 "$pid" 2>/dev/null; then
	kill -TERM "$pid"
	for _ in $(seq $((WAIT * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL belfryd did not exit within ${WAIT}s of SIGTERM"
		fail=$((fail + 1))
	else
		wait "$pid"
		rc=$?
		pid=
		if [ "$rc" -ne 0 ]; then
			echo "FAIL belfryd exited with status $rc on SIGTERM"
			fail=$((fail + 1))
		fi
	fi
else
	wait "$pid"
	echo "FAIL belfryd died during the tests (status $?)"
	pid=
	fail=$((fail + 1))
fi

if [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then
	show_log
fi
echo "sdk: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
