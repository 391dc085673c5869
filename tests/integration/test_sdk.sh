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
KEY=sk_test_belfry_sdk_$$
LABEL=sdk
. "$ROOT/tests/integration/nodedaemon.sh"

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
port=$(free_port) || abort "could not pick a free port"
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

# runs: workflows of tests/sdk/runs.test.mjs (one in-app step; a delay
# before it, so that runs pause and may be cancelled; the feed and the http
# channel runs-hook, which posts to the test's receiver on RUNS_HOOK_PORT)
RUNS_HOOK_PORT=$(free_port) || abort "could not pick a free port"
export RUNS_HOOK_PORT
node -e "const fs = require('fs'), f = process.argv[1], c = JSON.parse(fs.readFileSync(f));
c.channels['runs-hook'] = {type: 'http', url: 'http://127.0.0.1:' + process.argv[2] + '/hook'};
fs.writeFileSync(f, JSON.stringify(c))" "$tmp/conf/belfry.conf" "$RUNS_HOOK_PORT"
echo '{"key": "runs-sandbox", "name": "Runs sandbox", "steps": [{"ref": "feed", "type": "channel", "channel": "in-app", "template": {"markdown": "sandbox {{ data.n }}"}}, {"ref": "hook", "type": "channel", "channel": "runs-hook", "template": {"body": "sandbox {{ data.n }}"}}]}' \
	>"$tmp/conf/workflows/runs-sandbox.json"
echo '{"key": "runs-feed", "name": "Runs feed", "steps": [{"ref": "feed", "type": "channel", "channel": "in-app", "template": {"markdown": "runs {{ data.n }}"}}]}' \
	>"$tmp/conf/workflows/runs-feed.json"
echo '{"key": "runs-delay", "name": "Runs delay", "steps": [{"ref": "wait", "type": "delay", "duration": {"seconds": 3600}}, {"ref": "feed", "type": "channel", "channel": "in-app", "template": {"markdown": "later {{ data.n }}"}}]}' \
	>"$tmp/conf/workflows/runs-delay.json"
# messages: channels that go out (nothing listens on port 9, so their
# messages stay queued) and workflows that tell messages apart by source,
# category and channel.
python3 - "$tmp/conf/belfry.conf" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["channels"]["msgs-mail"] = {"type": "email",
    "smtp_url": "smtp://127.0.0.1:9", "from": "Belfry <alerts@example.com>"}
c["channels"]["msgs-hook"] = {"type": "http",
    "url": "http://127.0.0.1:9/hook"}
json.dump(c, open(p, "w"))
EOF
cat >"$tmp/conf/workflows/msgs-multi.json" <<'EOF'
{
  "key": "msgs-multi",
  "categories": ["msgs-cat"],
  "steps": [
    {"ref": "feed", "type": "channel", "channel": "in-app",
     "template": {"markdown": "**{{ data.n }}** for you",
                  "buttons": [{"name": "open", "label": "Open",
                               "action": "/m/{{ data.n }}"}]}},
    {"ref": "mail", "type": "channel", "channel": "msgs-mail",
     "template": {"subject": "Note {{ data.n }}",
                  "html": "<p>Note <b>{{ data.n }}</b></p>"}},
    {"ref": "hook", "type": "channel", "channel": "msgs-hook",
     "template": {"body": "{\"n\": \"{{ data.n }}\"}"}}
  ]
}
EOF
cat >"$tmp/conf/workflows/msgs-other.json" <<'EOF'
{
  "key": "msgs-other",
  "categories": ["other-cat"],
  "steps": [
    {"ref": "feed", "type": "channel", "channel": "in-app",
     "template": {"text": "other {{ data.n }}"}}
  ]
}
EOF

# recipients: a commercial workflow (commercial_subscribed false opts out)
cat >"$tmp/conf/workflows/rc-promo.json" <<'EOF'
{
  "key": "rc-promo",
  "name": "Promotion",
  "commercial": true,
  "steps": [
    {"ref": "feed", "type": "channel", "channel": "in-app",
     "template": {"markdown": "a promotion"}}
  ]
}
EOF

# audiences: workflows of tests/sdk/audiences.test.mjs (an in-app step
# conditioned on membership of the audience "sdk-vip", and one on not
# being a member)
echo '{"key": "aud-members", "name": "Audience members", "steps": [{"ref": "feed", "type": "channel", "channel": "in-app", "conditions": [{"variable": "recipient", "operator": "is_audience_member", "argument": "sdk-vip"}], "template": {"markdown": "members {{ data.n }}"}}]}' \
	>"$tmp/conf/workflows/aud-members.json"
echo '{"key": "aud-others", "name": "Audience others", "steps": [{"ref": "feed", "type": "channel", "channel": "in-app", "conditions": [{"variable": "recipient", "operator": "is_not_audience_member", "argument": "sdk-vip"}], "template": {"markdown": "others {{ data.n }}"}}]}' \
	>"$tmp/conf/workflows/aud-others.json"

daemon_start "$port"

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
daemon_stop

if [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then
	show_log
fi
echo "sdk: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
