#!/usr/bin/env bash
# Knock's browser feed (@knocklabs/react's NotificationFeed) in headless
# Chromium against the real belfryd.
#
#   tests/integration/test_feed.sh [BUILD_DIR]     (default build)
#
# 1. Installs tests/feed's locked dependencies (react, react-dom,
#    @knocklabs/react, @knocklabs/client, @knocklabs/node, esbuild,
#    puppeteer-core) with `npm ci` when tests/feed/node_modules lacks
#    @knocklabs/react, @knocklabs/node or puppeteer-core (needs the npm
#    registry); the browser is Debian's chromium (make deps installs it).
# 2. Makes an RSA key pair for user tokens (run.mjs signs the user's with
#    the private half through @knocklabs/node's signUserToken), writes a
#    private config (a server key, a public key, the user token key, the
#    page's origin in allowed_origins, the in-app channel, a workflow) and
#    starts BELFRY_DIR/belfryd on it with a TCP listener on a free loopback
#    port.
# 3. Runs tests/feed/run.mjs (see there), which saves its screenshots in
#    BUILD_DIR/test-output/feed/.
# 4. Stops the daemon with SIGTERM; it must exit 0 within 10 s.
#
# Prints the runner's lines, the daemon's log only if something failed,
# and last "feed: N passed, M failed"; exits 1 if M > 0 or N == 0.

set -u

B=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FEED=$ROOT/tests/feed
OUT=$(cd "$B" 2>/dev/null && pwd)/test-output/feed
KEY=sk_test_belfry_feed_$$
PK=pk_test_belfry_feed_$$
LABEL=feed
. "$ROOT/tests/integration/nodedaemon.sh"

command -v node >/dev/null || abort "node is not installed"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || abort "no $CHROMIUM (apt-get install chromium; make test installs it)"
[ -x "$BIN" ] || abort "no daemon $B/belfryd (run make first)"

# 1. the packages, from the lock file
if [ ! -d "$FEED/node_modules/@knocklabs/react" ] ||
	[ ! -d "$FEED/node_modules/@knocklabs/node" ] ||
	[ ! -d "$FEED/node_modules/puppeteer-core" ]; then
	echo "# npm ci in tests/feed"
	(cd "$FEED" && npm ci --no-audit --no-fund) >"$tmp/npm.log" 2>&1 ||
		abort "npm ci in tests/feed failed: $(tail -n 5 "$tmp/npm.log")"
fi
echo "# @knocklabs/react $(node -p "require('$FEED/node_modules/@knocklabs/react/package.json').version"), @knocklabs/client $(node -p "require('$FEED/node_modules/@knocklabs/client/package.json').version"), @knocklabs/node $(node -p "require('$FEED/node_modules/@knocklabs/node/package.json').version"), $("$CHROMIUM" --version 2>/dev/null)"

# 2. keys, config and daemon
port=$(free_port) || abort "could not pick a free port"
page_port=$(free_port) || abort "could not pick a free port"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$tmp/signing.pem" 2>/dev/null &&
	openssl pkey -in "$tmp/signing.pem" -pubout -out "$tmp/users.pub" ||
	abort "openssl could not make the user token keys"
mkdir -p "$tmp/conf/workflows"
cat >"$tmp/conf/belfry.conf" <<CONF
{
  "listen": "127.0.0.1:$port",
  "api_keys": ["$KEY"],
  "public_api_keys": ["$PK"],
  "user_token_public_key": "$tmp/users.pub",
  "allowed_origins": ["http://127.0.0.1:$page_port"],
  "default_timezone": "UTC",
  "channels": {"in-app": {"type": "in_app_feed"}}
}
CONF
cat >"$tmp/conf/workflows/comment.json" <<'CONF'
{
  "key": "comment",
  "steps": [
    {"ref": "feed", "type": "channel", "channel": "in-app",
     "template": {"markdown": "**{{ actor.name }}**: {{ data.text }}",
                  "action_url": "https://example.com/items/{{ data.text | size }}",
                  "buttons": [{"name": "open", "label": "Open",
                               "action": "https://example.com/open"}]}}
  ]
}
CONF

daemon_start "$port"

# 3. the browser
BELFRY_URL=http://127.0.0.1:$port BELFRY_KEY=$KEY BELFRY_PK=$PK \
	SIGNING_KEY=$tmp/signing.pem PAGE_PORT=$page_port OUT_DIR=$OUT \
	CHROMIUM=$CHROMIUM timeout 120 node "$FEED/run.mjs" \
	>"$tmp/run.out" 2>&1 </dev/null
cat "$tmp/run.out"
summary=$(grep -E '^feed: [0-9]+ passed, [0-9]+ failed$' "$tmp/run.out" | tail -n 1)
pass=$(echo "$summary" | sed -n -E 's/^feed: ([0-9]+) passed.*/\1/p')
fail=$(echo "$summary" | sed -n -E 's/.* ([0-9]+) failed$/\1/p')
pass=${pass:-0}
fail=${fail:-1}

# 4. SIGTERM: a clean exit
daemon_stop
if [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then
	show_log
fi
echo "# screenshots in $OUT"
echo "feed: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
