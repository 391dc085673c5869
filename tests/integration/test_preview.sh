#!/usr/bin/env bash
# Tests for `belfryctl preview`: golden recurrence outputs and error answers.
#
#   tests/integration/test_preview.sh [BELFRYCTL]     (default build/belfryctl)
#
# 1. Every case of tests/golden/cases.txt is run and its stdout compared with
#    tests/golden/NAME.out (written by the reference tests/golden/gen.py,
#    never by belfryctl) with `diff -u`; the exit status must be 0.
#    Then every case of the random corpus tests/golden/corpus/ (corpus.py,
#    the same reference) is run and compared.
# 2. Bad input must be answered, fast: non-zero exit (not a crash), exactly
#    one line on stderr, nothing on stdout, within LIMIT ms wall time per call
#    (default 100; BELFRY_PREVIEW_LIMIT_MS overrides it, e.g. under ASan).
#    The time is `date +%s%N` around the call less the harness's own cost
#    (the same measurement around /bin/true, fastest of five, printed at the
#    start); a call over the limit is timed up to twice more and the fastest
#    counts (a busy machine is not a slow program; a slow path is slow every
#    time).
# 3. Edge checks: the end of libical's years (2582) and a sparse sub-daily rule.
#
# Prints one line per check ("ok ..." or "FAIL ..." followed by indented
# details) and last "preview: N passed, M failed"; exits 1 if M > 0.

set -u

BIN=${1:-build/belfryctl}
HERE=$(cd "$(dirname "$0")" && pwd)
GOLDEN=$HERE/../golden
LIMIT=${BELFRY_PREVIEW_LIMIT_MS:-100}
HANG=20 # seconds after which a call is killed (a hang must not stall CI)

pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Record a passing check.
ok() {
	pass=$((pass + 1))
	echo "ok   $1"
}

# Record a failing check; further arguments are detail lines.
notok() {
	fail=$((fail + 1))
	echo "FAIL $1"
	shift
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/     /'
	done
}

# Run `BIN preview ARGS...`; sets rc, raw (wall ms) and ms (raw less the
# harness's own cost), output in $tmp/out and $tmp/err.
run() {
	local t0 t1
	t0=$(date +%s%N)
	timeout "$HANG" "$BIN" preview "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	t1=$(date +%s%N)
	raw=$(((t1 - t0) / 1000000))
	ms=$((raw > overhead ? raw - overhead : 0))
}

# The harness's own cost per timed call (forking date and timeout), measured
# the same way around /bin/true; the fastest of five.
calibrate() {
	local i t0 t1 d
	overhead=1000000
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		timeout "$HANG" /bin/true >"$tmp/out" 2>"$tmp/err" </dev/null
		t1=$(date +%s%N)
		d=$(((t1 - t0) / 1000000))
		[ "$d" -lt "$overhead" ] && overhead=$d
	done
}

# Like run, but when a call is over the time limit try it up to twice more
# and keep the fastest. Sets times to the list of measurements.
run_timed() {
	local best i
	run "$@"
	best=$ms
	times="$ms (raw $raw)"
	for i in 2 3; do
		[ "$best" -gt "$LIMIT" ] || break
		run "$@"
		times+=", $ms (raw $raw)"
		[ "$ms" -lt "$best" ] && best=$ms
	done
	ms=$best
}

# Quote an argument vector for display.
shown() {
	local a s=""
	for a in "$@"; do
		s+=" $(printf '%q' "$a")"
	done
	printf '%s' "${s# }"
}

# Describe how a call ended (exit status, signal or timeout).
how() {
	if [ "$rc" -eq 124 ]; then
		echo "killed after ${HANG}s (hang)"
	elif [ "$rc" -ge 128 ]; then
		echo "crashed: exit $rc (signal $((rc - 128)))"
	else
		echo "exit $rc"
	fi
}

# The first lines of a file, for failure details.
head_of() {
	if [ -s "$1" ]; then
		head -n 20 "$1"
	else
		echo "(empty)"
	fi
}

overhead=0
calibrate
echo "# timing: limit $LIMIT ms per call, harness overhead $overhead ms subtracted"

if [ ! -x "$BIN" ]; then
	notok "belfryctl binary" "not executable: $BIN"
	echo "preview: $pass passed, $fail failed"
	exit 1
fi

# --- 1. golden cases --------------------------------------------------------

ncases=0
while IFS= read -r line || [ -n "$line" ]; do
	case $line in '' | '#'*) continue ;; esac
	# cases.txt is ours and uses single quotes only: let the shell split it.
	eval "words=($line)"
	name=${words[0]}
	args=("${words[@]:1}")
	ncases=$((ncases + 1))
	want=$GOLDEN/$name.out
	if [ ! -f "$want" ]; then
		notok "golden $name" "missing $want (run tests/golden/gen.py)"
		continue
	fi
	run "${args[@]}"
	if [ "$rc" -ne 0 ]; then
		notok "golden $name" "$(how)" "args: $(shown "${args[@]}")" \
			"stderr: $(head_of "$tmp/err")"
	elif ! diff -u --label "expected/$name.out" --label "belfryctl" \
		"$want" "$tmp/out" >"$tmp/diff"; then
		notok "golden $name" "args: $(shown "${args[@]}")" "$(cat "$tmp/diff")"
	else
		ok "golden $name"
	fi
done <"$GOLDEN/cases.txt"
if [ "$ncases" -lt 40 ]; then
	notok "golden case table" "only $ncases cases in $GOLDEN/cases.txt"
fi

# --- 1b. the random corpus --------------------------------------------------

# tests/golden/corpus/ holds a seeded random corpus (written by corpus.py from
# the same reference); each case that agrees counts as a passed check.
python3 "$GOLDEN/corpus.py" --run "$BIN" >"$tmp/corpus" 2>&1
summary=$(tail -n 1 "$tmp/corpus")
if [[ $summary =~ ^corpus:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	pass=$((pass + BASH_REMATCH[1]))
	fail=$((fail + BASH_REMATCH[2]))
	grep -v '^corpus: ' "$tmp/corpus"
	echo "# corpus: ${BASH_REMATCH[1]} cases agree, ${BASH_REMATCH[2]} differ"
	if [ "${BASH_REMATCH[1]}" -lt 500 ]; then
		notok "corpus size" "only ${BASH_REMATCH[1]} agreeing cases"
	fi
else
	notok "corpus" "corpus.py --run did not finish: $(head_of "$tmp/corpus")"
fi

# --- 2. errors -----------------------------------------------------------------

# expect_error DESC ARGS...: the call must fail cleanly and quickly.
expect_error() {
	local desc=$1 nl first
	shift
	run_timed "$@"
	nl=$(awk 'END { print NR }' "$tmp/err")
	first=$(head -n 1 "$tmp/err")
	local why=()
	if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ]; then
		why+=("$(how), want a non-zero exit status")
	fi
	if [ -s "$tmp/out" ]; then
		why+=("stdout not empty: $(head_of "$tmp/out")")
	fi
	if [ "$nl" -ne 1 ] || [ -z "$first" ]; then
		why+=("want exactly one stderr line, got $nl: $(head_of "$tmp/err")")
	fi
	if [ "$ms" -gt "$LIMIT" ]; then
		why+=("took $times ms, limit $LIMIT ms")
	fi
	if [ ${#why[@]} -eq 0 ]; then
		ok "error: $desc ($ms ms): $first"
	else
		notok "error: $desc ($ms ms)" "args: $(shown "$@")" "${why[@]}"
	fi
}

D=(--dtstart 2026-03-01T09:00:00)
Z=(--tz Europe/Berlin)
R=(--rrule 'FREQ=DAILY')
K='[{"frequency":"weekly","days":["mon"],"hours":9}]'

expect_error "unknown zone Mars/Olympus" "${R[@]}" "${D[@]}" --tz Mars/Olympus
expect_error "unknown zone GMT+5 (not an IANA name)" "${R[@]}" "${D[@]}" --tz GMT+5
expect_error "empty zone" "${R[@]}" "${D[@]}" --tz ''

expect_error "unparsable rule: garbage" --rrule 'garbage' "${D[@]}" "${Z[@]}"
expect_error "unparsable rule: empty" --rrule '' "${D[@]}" "${Z[@]}"
expect_error "unparsable rule: no FREQ" --rrule 'BYDAY=MO' "${D[@]}" "${Z[@]}"
expect_error "unparsable rule: FREQ=FORTNIGHTLY" --rrule 'FREQ=FORTNIGHTLY' "${D[@]}" "${Z[@]}"
expect_error "unparsable rule: BYHOUR=24" --rrule 'FREQ=DAILY;BYHOUR=24' "${D[@]}" "${Z[@]}"
expect_error "unparsable rule: INTERVAL=0" --rrule 'FREQ=DAILY;INTERVAL=0' "${D[@]}" "${Z[@]}"
expect_error "unparsable rule: BYMONTHDAY=0" --rrule 'FREQ=MONTHLY;BYMONTHDAY=0' "${D[@]}" "${Z[@]}"

expect_error "BYSETPOS with HOURLY" --rrule 'FREQ=HOURLY;BYSETPOS=1;BYMINUTE=5' "${D[@]}" "${Z[@]}"
expect_error "BYSETPOS without another BYxxx" --rrule 'FREQ=MONTHLY;BYSETPOS=1' "${D[@]}" "${Z[@]}"
expect_error "BYYEARDAY=367" --rrule 'FREQ=YEARLY;BYYEARDAY=367' "${D[@]}" "${Z[@]}"
expect_error "BYYEARDAY=-367" --rrule 'FREQ=YEARLY;BYYEARDAY=-367' "${D[@]}" "${Z[@]}"
expect_error "BYWEEKNO=54" --rrule 'FREQ=YEARLY;BYWEEKNO=54' "${D[@]}" "${Z[@]}"
expect_error "BYWEEKNO=-54" --rrule 'FREQ=YEARLY;BYWEEKNO=-54' "${D[@]}" "${Z[@]}"
expect_error "BYDAY=6MO in a month" --rrule 'FREQ=MONTHLY;BYDAY=6MO' "${D[@]}" "${Z[@]}"
expect_error "UNTIL=2027-01-01 (not an RFC 5545 form)" --rrule 'FREQ=DAILY;UNTIL=2027-01-01' "${D[@]}" "${Z[@]}"
expect_error "several rules: the second is bad" --rrule $'FREQ=DAILY\nFREQ=WEEKLY;BYWEEKNO=60' "${D[@]}" "${Z[@]}"
expect_error "repeats: the second entry is bad" --repeats '[{"frequency":"daily"},{"frequency":"daily","hours":24}]' "${D[@]}" "${Z[@]}"
expect_error "COUNT and UNTIL together" --rrule 'FREQ=DAILY;COUNT=3;UNTIL=20270101T000000' "${D[@]}" "${Z[@]}"

expect_error "no occurrence: MINUTELY Feb 30" --rrule 'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30' "${D[@]}" "${Z[@]}"
expect_error "no occurrence: HOURLY Apr 31" --rrule 'FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31' "${D[@]}" "${Z[@]}"
expect_error "no occurrence: MONTHLY Feb 30" --rrule 'FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30' "${D[@]}" "${Z[@]}"
expect_error "no occurrence: YEARLY Nov 31" --rrule 'FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=31' "${D[@]}" "${Z[@]}"
expect_error "no occurrence: SECONDLY Sep 31" --rrule 'FREQ=SECONDLY;BYMONTH=9;BYMONTHDAY=31' "${D[@]}" "${Z[@]}"
expect_error "no occurrence: HOURLY INTERVAL=24 BYHOUR=5 from 04:00" \
	--rrule 'FREQ=HOURLY;INTERVAL=24;BYHOUR=5' --dtstart 2026-03-01T04:00:00 "${Z[@]}"
expect_error "no occurrence: SECONDLY INTERVAL=2 BYSECOND=1 from :00" \
	--rrule 'FREQ=SECONDLY;INTERVAL=2;BYSECOND=1' --dtstart 2026-03-01T04:00:00 "${Z[@]}"
expect_error "no occurrence: MINUTELY INTERVAL=120 BYMINUTE=30 from :00" \
	--rrule 'FREQ=MINUTELY;INTERVAL=120;BYMINUTE=30' --dtstart 2026-03-01T04:00:00 "${Z[@]}"
expect_error "no occurrence: DAILY INTERVAL=7 BYDAY=TU from a Monday" \
	--rrule 'FREQ=DAILY;INTERVAL=7;BYDAY=TU' --dtstart 2026-03-02T09:00:00 "${Z[@]}"

expect_error "bad --dtstart 2026-02-30T09:00:00" "${R[@]}" --dtstart 2026-02-30T09:00:00 "${Z[@]}"
expect_error "bad --dtstart 2026-02-29T09:00:00 (not a leap year)" "${R[@]}" --dtstart 2026-02-29T09:00:00 "${Z[@]}"
expect_error "bad --dtstart '2026-03-08 09:00'" "${R[@]}" --dtstart '2026-03-08 09:00' "${Z[@]}"
expect_error "bad --dtstart 2026-03-08T24:00:00" "${R[@]}" --dtstart 2026-03-08T24:00:00 "${Z[@]}"

expect_error "bad --count 0" "${R[@]}" "${D[@]}" "${Z[@]}" --count 0
expect_error "bad --count -1" "${R[@]}" "${D[@]}" "${Z[@]}" --count -1
expect_error "bad --count abc" "${R[@]}" "${D[@]}" "${Z[@]}" --count abc
expect_error "bad --count 5x" "${R[@]}" "${D[@]}" "${Z[@]}" --count 5x

expect_error "bad --after yesterday" "${R[@]}" "${D[@]}" "${Z[@]}" --after yesterday
expect_error "bad --after 2026-13-01T00:00:00Z" "${R[@]}" "${D[@]}" "${Z[@]}" --after 2026-13-01T00:00:00Z
expect_error "bad --after without Z" "${R[@]}" "${D[@]}" "${Z[@]}" --after 2026-03-08T09:00:00

expect_error "bad --dst-gap forward" "${R[@]}" "${D[@]}" "${Z[@]}" --dst-gap forward
expect_error "bad --dst-gap ''" "${R[@]}" "${D[@]}" "${Z[@]}" --dst-gap ''
expect_error "bad --dst-overlap later" "${R[@]}" "${D[@]}" "${Z[@]}" --dst-overlap later
expect_error "bad --dst-overlap shift" "${R[@]}" "${D[@]}" "${Z[@]}" --dst-overlap shift

expect_error "bad --exdate 2026-03-09" "${R[@]}" "${D[@]}" "${Z[@]}" --exdate 2026-03-09
expect_error "bad --rdate 2026-02-30T09:00:00" "${R[@]}" "${D[@]}" "${Z[@]}" --rdate 2026-02-30T09:00:00
expect_error "unknown option --bogus" "${R[@]}" "${D[@]}" "${Z[@]}" --bogus 1
expect_error "both --rrule and --repeats" "${R[@]}" --repeats "$K" "${D[@]}" "${Z[@]}"

expect_error "repeats: not JSON" --repeats 'not json' "${D[@]}" "${Z[@]}"
expect_error "repeats: unknown frequency" --repeats '[{"frequency":"fortnightly","hours":9}]' "${D[@]}" "${Z[@]}"
expect_error "repeats: days [\"funday\"]" --repeats '[{"frequency":"weekly","days":["funday"],"hours":9}]' "${D[@]}" "${Z[@]}"
expect_error "repeats: hours 25" --repeats '[{"frequency":"daily","hours":25}]' "${D[@]}" "${Z[@]}"

# --- 3. edges ------------------------------------------------------------------

# expect_output DESC EXPECTED TIMED ARGS...: exit 0 and exactly EXPECTED on
# stdout; if TIMED is 1, within the time limit too.
expect_output() {
	local desc=$1 expected=$2 timed=$3
	shift 3
	printf '%s' "$expected" >"$tmp/want"
	if [ "$timed" = 1 ]; then
		run_timed "$@"
	else
		run "$@"
	fi
	local why=()
	if [ "$rc" -ne 0 ]; then
		why+=("$(how), want 0" "stderr: $(head_of "$tmp/err")")
	fi
	if ! diff -u --label expected --label belfryctl "$tmp/want" "$tmp/out" >"$tmp/diff"; then
		why+=("$(cat "$tmp/diff")")
	fi
	if [ "$timed" = 1 ] && [ "$ms" -gt "$LIMIT" ]; then
		why+=("took $times ms, limit $LIMIT ms")
	fi
	if [ ${#why[@]} -eq 0 ]; then
		ok "$desc ($ms ms)"
	else
		notok "$desc ($ms ms)" "args: $(shown "$@")" "${why[@]}"
	fi
}

expect_output "year limit: FREQ=YEARLY from 2578 ends after 2582 (UTC)" \
	"$(printf '%s-01-01T00:00:00Z\n' 2578 2579 2580 2581 2582)
" 0 --rrule 'FREQ=YEARLY' --dtstart 2578-01-01T00:00:00 --tz UTC
expect_output "year limit: FREQ=YEARLY from 2578 ends after 2582 (New York, EDT)" \
	"$(printf '%s-07-04T16:00:00Z\n' 2578 2579 2580 2581 2582)
" 0 --rrule 'FREQ=YEARLY' --dtstart 2578-07-04T12:00:00 --tz America/New_York
expect_output "year limit: FREQ=DAILY ends on 2582-12-31 (Berlin)" \
	"$(printf '2582-12-%sT07:00:00Z\n' 29 30 31)
" 0 --rrule 'FREQ=DAILY' --dtstart 2582-12-29T08:00:00 --tz Europe/Berlin
expect_output "sparse MINUTELY leap-day noon, --count 3, fast" \
	"$(printf '%s-02-29T06:30:00Z\n' 2028 2032 2036)
" 1 --rrule 'FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29;BYHOUR=12;BYMINUTE=0' \
	--dtstart 2026-01-01T00:00:00 --tz Asia/Kolkata --count 3

echo "preview: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
