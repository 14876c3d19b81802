#!/bin/bash
# Issue "tenant isolation" #6: one tenant's connections pinned a shared worker's threads and
# fds (700 connections: 510 threads, all 1024 fds) and the worker stayed wedged. Replays the
# routed half (the pipe half is fd_kinds_test's file_put_held_pipe): nobody opens 100
# connections that say hello and then nothing, each routed to the worker, which waits for
# the request. The broker must cap them per peer; others must be served; nothing stays.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-worker-exhaust

threads_of() { awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

case_routed_connection_flood() {
	local ready=$T_TMP/home-nobody/flood.ready res i w t0 tmax=0 t
	mkdir -p "$T_TMP/home-nobody" && chmod 0777 "$T_TMP/home-nobody"
	rm -f "$ready"
	w=$(daemon_workers a | head -1)
	t0=$(threads_of "$w")
	as_nobody /usr/bin/python3 "$SEC_DIR/flood.py" "$S" 100 15 "$ready" hello >"$T_TMP/flood.out" 2>&1 &
	local fpid=$!
	for ((i = 0; i < 200; i++)); do
		t=$(threads_of "$w"); [ -n "$t" ] && [ "$t" -gt "$tmax" ] && tmax=$t
		[ -s "$ready" ] && break
		sleep 0.05
	done
	is "$(cat "$ready" 2>/dev/null)" "32 68" "nobody's 100 routed idle connections: 32 held, 68 refused"
	[ "$tmax" -le $((t0 + 34)) ] && ok "the worker's threads stay bounded (before $t0, at most $tmax)" ||
		not_ok "the worker's threads stay bounded" "before $t0, up to $tmax"
	run_cap "$ISOL8" run --socket "$S" -r bash -e 'echo root ran' </dev/null
	is "$RC|$OUT" $'0|root ran\n' "during the flood: root's run is served"
	run_cap as_nobody "$ISOL8" session list --socket "$S"
	is "$RC" 1 "during the flood: the flooder's next request is refused"
	like "$ERR" '^\[ERR\] uid 65534 already has 32 requests in progress at isol8d \(at most 32\)' \
		"with one [ERR] line naming the cap"
	wait "$fpid"
	res=$(cat "$T_TMP/flood.out")
	like "$res" 'accepted=32 refused=68 closed_by_daemon=32 ' "the worker closes the idle ones (no request within 10 s)"
	like "$res" 'first_error=uid 65534 already has 32 requests in progress' "refused ones got the error reply"
	is "$(daemon_workers a | head -1)" "$w" "the worker survived the flood (same pid)"
	for ((i = 0; i < 50; i++)); do [ "$(threads_of "$w")" -le $((t0 + 2)) ] && break; sleep 0.1; done
	[ "$(threads_of "$w")" -le $((t0 + 2)) ] && ok "its threads are back to where they were" ||
		not_ok "its threads are back to where they were" "before $t0, now $(threads_of "$w")"
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'echo flooder ran' </dev/null
	is "$RC|$OUT" $'0|flooder ran\n' "after the flood: the flooder can run again"
}

daemon_start a --workers 1 || bail "isol8d did not start"
S=${D_SOCK[a]}
run_cases "$@"
