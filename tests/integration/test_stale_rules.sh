#!/usr/bin/env bash
# Zone rules older than the system's tzdata are reported: belfryctl tzinfo
# says so and belfryd warns at start-up (it still runs: the rules it has
# are ICU's most current ones until they are rebuilt).
set -u
B=${1:-build}
tmp=$(mktemp -d /tmp/belfry-stale.XXXXXX)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

# Rules identical to the build's but labelled as an older release.
mkdir -p "$tmp/icu"
sed 's/TZVersion { "[^"]*" }/TZVersion { "2020a" }/' "$B/icu/zoneinfo64.txt" \
    > "$tmp/icu/zoneinfo64.txt"
genrb -q -d "$tmp/icu" "$tmp/icu/zoneinfo64.txt"

out=$(BELFRY_TZDATA_DIR="$tmp/icu" "$B/belfryctl" tzinfo)
if grep -q '^rules: 2020a' <<<"$out" && grep -q 'differs from the rules' <<<"$out"; then
	ok "belfryctl tzinfo reports stale rules"
else
	bad "belfryctl tzinfo reports stale rules: $out"
fi

mkdir -p "$tmp/conf"
echo '{}' > "$tmp/conf/belfry.conf"
BELFRY_TZDATA_DIR="$tmp/icu" "$B/belfryd" -c "$tmp/conf" --socket "$tmp/s" \
    --database "$tmp/db" --listen "" > "$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/s" ] && break; sleep 0.05; done
if grep -q '^<4>.*zone rules 2020a .*differ from the system tzdata' "$tmp/log"; then
	ok "belfryd warns about stale rules"
else
	bad "belfryd warns about stale rules: $(cat "$tmp/log")"
fi
if [ -S "$tmp/s" ]; then ok "belfryd still starts"; else bad "belfryd still starts"; fi
echo "stale-rules: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
