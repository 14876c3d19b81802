#!/bin/bash
# Issue 12, item 5b: a refused FE_RUN leaked everything it had parsed. Replays the attack: an
# ordinary tenant sends requests with 40 MB of files in the bundle and both `code` and `cmd`
# (so the worker refuses them after reading the bundle); before the fix 8 of them took the
# shared worker from 5.4 to 334 MB RSS, for good. Asserts each is refused with a clear error,
# that the worker's VmRSS stays bounded (no growth proportional to the number of requests), and
# that the same worker process still serves runs.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup request-leak
command -v setpriv >/dev/null || bail "setpriv (util-linux) needed to attack as an ordinary uid"

ATTACKER=61001   # no passwd entry needed: tenant "local" of the built-in policy
PY=/usr/bin/python3
daemon_start L --workers 1 || bail "daemon did not start"
WORKER=$(daemon_workers L)
[ "$(wc -w <<<"$WORKER")" = 1 ] || bail "expected one worker, got [$WORKER]"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# refuse N: N refused requests of 4 x 10 MB files each, as the attacker; prints one line per reply
refuse() {
	(cd "$T_TMP" && setpriv --reuid=$ATTACKER --regid=$ATTACKER --clear-groups "$PY" - "${D_SOCK[L]}" "$1") <<'PY'
import sys
import bundles, wire
path, n = sys.argv[1], int(sys.argv[2])
tar = bundles.tar_of([('files', None)] + [('files/blob%d.bin' % i, bytes([65 + i]) * (10 << 20)) for i in range(4)])
for _ in range(n):
    kind, text = bundles.refused_run(path, bundles.memfd(tar))
    print('error' if kind == wire.WK_ERROR else 'type %s' % kind, text)
PY
}

case_refused_requests_do_not_accumulate() {
	local out before after grown
	out=$(refuse 2 2>&1)
	like "$out" "^error [^"$'\n'"]*mutually exclusive" "a request with code and cmd is refused with a clear error"
	sleep 0.5
	before=$(rss_kb "$WORKER")
	out=$(refuse 8 2>&1)
	is "$(grep -c '^error .*mutually exclusive' <<<"$out")" 8 "8 more such requests (320 MB of files) are all refused"
	sleep 0.5
	after=$(rss_kb "$WORKER")
	grown=$(((after - before) / 1024))
	diag "worker VmRSS: ${before} kB after 2 warm-up requests, ${after} kB after 8 more (+${grown} MB)"
	[ -n "$before" ] && [ -n "$after" ] || bail "cannot read the worker's VmRSS"
	# Each refused request left ~40 MB behind before the fix (+320 MB here); freeing leaves at
	# most what the allocator keeps cached from one request.
	if [ "$grown" -lt 40 ]; then ok "the worker's RSS grew by less than one request's files (+$grown MB)"; else
		not_ok "the worker's RSS grew by less than one request's files" "grew by $grown MB over 8 refused requests"; fi
}

case_worker_survives_and_serves() {
	local now
	now=$(daemon_workers L)
	is "$now" "$WORKER" "the worker is the same process (not restarted)"
	run_cap i8 L run -e 'print(6 * 7)' </dev/null
	is "$RC|$OUT" $'0|42\n' "the worker still runs programs"
}

run_cases "$@"
