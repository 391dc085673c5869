#!/usr/bin/env bash
# make install DESTDIR=... and make uninstall, as an operator runs them.
#
#   tests/integration/test_install.sh BUILD_DIR
#
# The installed config is the production one: no listener, no API keys, no
# workflows or schedules, retention 90 days, mode 0640; the example config
# sits under the doc directory; the unit is where its header says (and
# UNITDIR/SYSCONFDIR move it); the zone rules generator and
# belfry-update-zones rebuild the rules from the installed files alone;
# belfryd starts on the installed config; make uninstall removes it all and
# keeps a belfry.conf changed since.  Ends with "install: N passed, M failed".
#
# Under PostgreSQL (BELFRY_TEST_BACKEND=postgresql) it skips: it tests the
# installed files, not the store (the SQLite pass runs it).
set -u
if [ "${BELFRY_TEST_BACKEND:-sqlite}" = postgresql ]; then
	echo "SKIP install: make install and the installed files use no" \
		"database; the SQLite pass tests them"
	echo "install: 0 passed, 0 failed"
	exit 0
fi
B=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
pass=0 fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL $*"; }
t() { local name=$1; shift; if "$@"; then ok; else no "$name"; fi; }

D=$tmp/root
make -s -C "$ROOT" B="$B" install DESTDIR="$D" >"$tmp/install.log" 2>&1
t "make install succeeds" test -x "$D/usr/local/bin/belfryd"
conf=$D/etc/belfry/belfry.conf
t "belfry.conf installed" test -f "$conf"
t "belfry.conf mode 0640" test "$(stat -c %a "$conf")" = 640
t "no listener" python3 -c "import json,sys; c=json.load(open(sys.argv[1])); sys.exit('listen' in c)" "$conf"
t "no API key" python3 -c "import json,sys; c=json.load(open(sys.argv[1])); sys.exit(any(k.endswith('api_keys') for k in c))" "$conf"
t "no key text anywhere in /etc/belfry" bash -c "! grep -rq 'sk_\|change_me' '$D/etc/belfry'"
t "retention 90 days" python3 -c "import json,sys; c=json.load(open(sys.argv[1])); sys.exit(c.get('retention') != {'messages_days': 90, 'runs_days': 90})" "$conf"
t "no demo workflows" test -z "$(ls -A "$D/etc/belfry/workflows")"
t "no demo schedules" test -z "$(ls -A "$D/etc/belfry/schedules")"
t "the example config is under the doc directory" \
	test -f "$D/usr/local/share/doc/belfry/examples/belfry.conf" -a \
	-f "$D/usr/local/share/doc/belfry/examples/schedules/daily-digest.json"
# The unit's header: "Install as" then the path at the start of line 2.
unit=$(sed -n '2s/^# *\(\/[^;]*\);.*/\1/p' "$ROOT/configs/belfry.service")
t "the unit is where its header says ($unit)" test -f "$D$unit"
t "binaries 0755, rules 0644" test "$(stat -c %a "$D/usr/local/bin/belfryd") $(stat -c %a "$D/usr/local/share/belfry/icu/zoneinfo64.res")" = "755 644"

# belfryd runs on the installed files alone (socket and database moved).
env -u NOTIFY_SOCKET "$D/usr/local/bin/belfryd" -c "$D/etc/belfry" --socket "$tmp/s.sock" \
	--database "$tmp/b.db" >"$tmp/belfryd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/s.sock" ] && break; sleep 0.05; done
st=$("$D/usr/local/bin/belfryctl" -s "$tmp/s.sock" status 2>&1)
t "belfryd serves on the installed config" python3 -c "import json,sys; s=json.loads(sys.argv[1]); sys.exit(not (s['workflows'] == 0 and s['listen'] is None))" "$st"
sch=$("$D/usr/local/bin/belfryctl" -s "$tmp/s.sock" get /v1/schedules 2>&1)
t "no schedule" python3 -c "import json,sys; sys.exit(json.loads(sys.argv[1])['entries'] != [])" "$sch"
kill "$pid"; wait "$pid" 2>/dev/null

# Zone rules rebuilt from the installed generator (no source tree).
rules=$D/usr/local/share/belfry/icu/zoneinfo64.res
sed -e "s#^TZGEN=.*#TZGEN=$D/usr/local/libexec/belfry/belfry-tzgen#" \
	-e "s#^ICU=.*#ICU=$D/usr/local/share/belfry/icu#" \
	"$D/usr/local/libexec/belfry/belfry-update-zones" >"$tmp/update-zones"
t "belfry-update-zones names the installed generator" \
	grep -q '^TZGEN=/usr/local/libexec/belfry/belfry-tzgen$' "$D/usr/local/libexec/belfry/belfry-update-zones"
cp "$rules" "$tmp/old.res"; : >"$rules"
(cd / && sh "$tmp/update-zones" >"$tmp/zones.log" 2>&1)
t "belfry-update-zones rebuilds the rules" cmp -s "$rules" "$tmp/old.res"

# UNITDIR and SYSCONFDIR move the unit and the config.
D2=$tmp/root2
make -s -C "$ROOT" B="$B" install DESTDIR="$D2" UNITDIR=/lib/systemd/system \
	SYSCONFDIR=/etc/belfry-test >/dev/null 2>&1
t "UNITDIR moves the unit" test -f "$D2/lib/systemd/system/belfry.service"
t "SYSCONFDIR moves the config" test -f "$D2/etc/belfry-test/belfry.conf"
t "the unit names SYSCONFDIR" grep -q 'belfryd -c /etc/belfry-test$' "$D2/lib/systemd/system/belfry.service"

# make uninstall leaves nothing; a changed belfry.conf stays.
make -s -C "$ROOT" B="$B" uninstall DESTDIR="$D" >"$tmp/uninstall.log" 2>&1
t "make uninstall removes everything" test -z "$(find "$D" -mindepth 1 2>/dev/null)"
echo '{}' >>"$D2/etc/belfry-test/belfry.conf"
make -s -C "$ROOT" B="$B" uninstall DESTDIR="$D2" UNITDIR=/lib/systemd/system \
	SYSCONFDIR=/etc/belfry-test >"$tmp/uninstall2.log" 2>&1
t "a changed belfry.conf is kept" test -f "$D2/etc/belfry-test/belfry.conf"
t "and said so" grep -q "kept .*belfry.conf" "$tmp/uninstall2.log"
t "nothing else is left" test "$(find "$D2" -type f)" = "$D2/etc/belfry-test/belfry.conf"

if [ "$fail" -ne 0 ]; then
	for f in "$tmp"/*.log; do echo "---- $f"; tail -20 "$f"; done
	find "$D" "$D2" 2>/dev/null | head -50
fi
rm -rf "$tmp"
echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
