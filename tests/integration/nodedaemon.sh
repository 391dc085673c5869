# Shared by the shell suites that drive a real belfryd from Node
# (test_sdk.sh, test_feed.sh); sourced, not run.  The caller sets LABEL
# (the closing line's "LABEL: N passed, M failed") and B; this file gives
# it a temporary directory $tmp (removed on exit, with the daemon killed
# if it still runs) and:
#   show_log              print the daemon's log
#   abort MESSAGE         give up before any test ran: one failure
#   free_port             a free loopback TCP port, on stdout
#   daemon_start PORT     start $B/belfryd on $tmp/conf with its socket and
#                         database in $tmp, verbose, and wait (at most WAIT
#                         seconds) until it listens on 127.0.0.1:PORT
#   daemon_stop           SIGTERM it; adds 1 to $fail (with a FAIL line)
#                         unless it exits 0 within WAIT seconds

WAIT=10
BIN=$(cd "$B" 2>/dev/null && pwd)/belfryd
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

show_log() {
	echo "--- belfryd log ($tmp/belfryd.log)"
	sed 's/^/    /' "$tmp/belfryd.log" 2>/dev/null
	echo "---"
}

abort() {
	echo "FAIL $1"
	[ -f "$tmp/belfryd.log" ] && show_log
	echo "$LABEL: 0 passed, 1 failed"
	exit 1
}

free_port() {
	node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

daemon_start() {
	local port=$1 up=0
	"$BIN" -c "$tmp/conf" --socket "$tmp/s" --database "$tmp/db" \
		--listen "127.0.0.1:$port" -v >"$tmp/belfryd.log" 2>&1 </dev/null &
	pid=$!
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
}

daemon_stop() {
	local rc
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"
		echo "FAIL belfryd died during the tests (status $?)"
		pid=
		fail=$((fail + 1))
		return
	fi
	kill -TERM "$pid"
	for _ in $(seq $((WAIT * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL belfryd did not exit within ${WAIT}s of SIGTERM"
		fail=$((fail + 1))
		return
	fi
	wait "$pid"
	rc=$?
	pid=
	if [ "$rc" -ne 0 ]; then
		echo "FAIL belfryd exited with status $rc on SIGTERM"
		fail=$((fail + 1))
	fi
}
