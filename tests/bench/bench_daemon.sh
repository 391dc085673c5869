#!/usr/bin/env bash
# Benchmark of a real belfryd over its Unix socket, with the baselines
# measured in the same run:
#   - HTTP round trips of GET /admin/status (the server, no database write)
#   - raw SQLite commits per second with synchronous=FULL (one fsync each)
#   - API triggers per second, 1 recipient each, 1 / 8 / 32 connections
#   - recipient runs per second, 1000-recipient triggers into the in-app feed
#   - source events per second through POST /sources/bench/v1/batch, 100
#     track events per batch, each mapped to a 1-recipient trigger of the
#     same workflow (beside the 1-recipient trigger rate above)
# Each figure is the median of 3 runs of a few seconds.
set -u
B=${1:-build}
SECS=${BENCH_SECONDS:-3}
tmp=$(mktemp -d /tmp/belfry-bench.XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/conf/workflows" "$tmp/conf/sources"
cat > "$tmp/conf/belfry.conf" <<'EOF'
{"channels": {"in-app": {"type": "in_app_feed"}}}
EOF
cat > "$tmp/conf/workflows/bench.json" <<'EOF'
{"key": "bench", "steps": [{"ref": "feed", "type": "channel",
 "channel": "in-app", "template": {"markdown": "{{ actor.name }} did {{ data.what }}"}}]}
EOF
cat > "$tmp/conf/sources/bench.json" <<'EOF'
{"key": "bench", "type": "segment", "write_keys": ["wk_bench_key"],
 "events": [{"event": "Bench", "action": "trigger", "workflow": "bench",
  "recipients": "properties.to", "actor": "userId", "data": "properties"}]}
EOF
"$B/belfryd" -c "$tmp/conf" --socket "$tmp/sock" --database "$tmp/db" \
    > "$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/sock" ] && break; sleep 0.05; done

# median of three runs of: bench_api ARGS; prints the rate
median() {
	local r=()
	for _ in 1 2 3; do
		r+=("$("$B/tests/bench/bench_api" "$tmp/sock" "$@" | sed 's/.*rate=//')")
	done
	printf '%s\n' "${r[@]}" | sort -n | sed -n 2p
}

raw_commits=$("$B/tests/bench/bench_sqlite" "$tmp/raw.db")
status=$(median 8 "$SECS" GET /admin/status)
t1=$(median 1 "$SECS" POST /v1/workflows/bench/trigger \
    '{"recipients":["u%d"],"actor":"bob","data":{"what":"x"}}')
t8=$(median 8 "$SECS" POST /v1/workflows/bench/trigger \
    '{"recipients":["u%d"],"actor":"bob","data":{"what":"x"}}')
t32=$(median 32 "$SECS" POST /v1/workflows/bench/trigger \
    '{"recipients":["u%d"],"actor":"bob","data":{"what":"x"}}')
rcpts=$(python3 -c 'import json; print(json.dumps(["r%d" % i for i in range(1000)]))')
big=$(median 4 "$SECS" POST /v1/workflows/bench/trigger \
    "{\"recipients\":$rcpts,\"actor\":\"bob\",\"data\":{\"what\":\"%d\"}}")

# 100 track events a batch, each with its own messageId and recipient.
batch=$(python3 -c 'import json; print(json.dumps({"batch": [{"type": "track",
 "event": "Bench", "userId": "bob", "messageId": "m%%d-%d" % i,
 "timestamp": "2026-12-02T10:00:00Z",
 "properties": {"to": "s%%d-%d" % i, "what": "x"}} for i in range(100)]}))')
export BENCH_API_HEADER="Authorization: Basic $(printf 'wk_bench_key:' | base64)"
b1=$(median 1 "$SECS" POST /sources/bench/v1/batch "$batch")
b8=$(median 8 "$SECS" POST /sources/bench/v1/batch "$batch")
unset BENCH_API_HEADER

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "daemon (median of 3 x ${SECS}s, this machine: $(nproc) cores)"
printf '  baseline: GET /admin/status, 8 conns      %8d req/s\n' "$status"
printf '  baseline: raw SQLite commits (FULL)       %8d /s\n' "$raw_commits"
printf '  triggers, 1 recipient, 1 conn             %8d /s  %sx raw commits\n' "$t1" "$(ratio "$t1" "$raw_commits")"
printf '  triggers, 1 recipient, 8 conns            %8d /s  %sx raw commits\n' "$t8" "$(ratio "$t8" "$raw_commits")"
printf '  triggers, 1 recipient, 32 conns           %8d /s  %s of status rate\n' "$t32" "$(ratio "$t32" "$status")"
printf '  1000-recipient triggers, 4 conns          %8d /s  = %d recipient runs/s\n' "$big" "$((big * 1000))"
printf '  source events, 100-event batches, 1 conn  %8d /s  %sx 1-recipient triggers (1 conn)\n' "$((b1 * 100))" "$(ratio "$((b1 * 100))" "$t1")"
printf '  source events, 100-event batches, 8 conns %8d /s  %sx 1-recipient triggers (8 conns)\n' "$((b8 * 100))" "$(ratio "$((b8 * 100))" "$t8")"
