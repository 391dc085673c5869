#!/usr/bin/env bash
# Start time and resident memory of a real belfryd on the database that
# bench_schedules left (1,000,000 recipient-schedules by default), with the
# virtual clock just after the minute bench_schedules replayed (nothing is
# overdue): time from exec until the admin
# socket answers, then VmRSS, and the time of one GET /v1/schedules page.
#
#   tests/bench/bench_schedules_daemon.sh BUILD_DIR BENCH_DIR [COUNT]
set -u
B=${1:-build}
D=${2:-$B/bench-schedules}
n=${3:-1000000}
sock=$D/bench.sock
rm -f "$sock"
start=$(date +%s.%N)
BELFRY_TZDATA_DIR=$B/icu "$B/belfryd" -c "$D" --socket "$sock" \
    --database "$D/bench.db" --virtual-clock 2026-03-02T09:01:00Z \
    > "$D/daemon.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
until curl -s --unix-socket "$sock" http://b/admin/status >/dev/null 2>&1; do
	kill -0 $pid 2>/dev/null || { cat "$D/daemon.log"; exit 1; }
	sleep 0.005
done
ready=$(date +%s.%N)
rss=$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)
t0=$(date +%s.%N)
curl -s --unix-socket "$sock" 'http://b/v1/schedules?page_size=1000' >/dev/null
t1=$(date +%s.%N)
awk -v s="$start" -v r="$ready" -v k="$rss" -v n="$n" -v a="$t0" -v b="$t1" \
    'BEGIN { printf "schedules daemon: start %.3f s with %d schedules; " \
    "resident memory %.1f MiB (%.1f bytes/schedule); " \
    "GET /v1/schedules (1000) %.3f s\n", r - s, n, k / 1024, k * 1024 / n, b - a }'
