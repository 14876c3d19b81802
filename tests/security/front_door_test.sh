#!/bin/bash
# Issue "tenant isolation" #7: one local user holding connections without a hello filled the
# broker's shared pending table and isol8d refused everyone, the HTTP API included. Replays
# it: nobody opens 140 hello-less connections; root and another local user must still run,
# nobody's excess is refused with a clear message, and its idle ones are closed quickly.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-front-door

as_daemon_user() { setpriv --reuid=daemon --regid=daemon --clear-groups env HOME="$T_TMP/home-nobody" "$@"; }

case_hello_less_flood() {
	local ready=$T_TMP/home-nobody/flood.ready res i
	mkdir -p "$T_TMP/home-nobody" && chmod 0777 "$T_TMP/home-nobody"
	rm -f "$ready"
	as_nobody /usr/bin/python3 "$SEC_DIR/flood.py" "$S" 140 6 "$ready" >"$T_TMP/flood.out" 2>&1 &
	local fpid=$!
	for ((i = 0; i < 100; i++)); do [ -s "$ready" ] && break; sleep 0.1; done
	is "$(cat "$ready" 2>/dev/null)" "8 132" "nobody's 140 hello-less connections: 8 held, 132 refused at once"
	# The flooder's own ninth connection first: its eight held ones live only until the hello
	# deadline (2 s), which two runs on a loaded machine can outlast.
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'echo flooder ran' </dev/null
	is "$RC|$OUT" "1|" "during the flood: the flooder's own ninth connection is refused"
	like "$ERR" '^\[ERR\] uid 65534 already has 8 connections waiting at isol8d \(at most 8\): finish or close them first' \
		"the refusal is one [ERR] line saying what to do"
	run_cap "$ISOL8" run --socket "$S" -r bash -e 'echo root ran' </dev/null
	is "$RC|$OUT" $'0|root ran\n' "during the flood: root's run is served"
	run_cap as_daemon_user "$ISOL8" run --socket "$S" -r bash -e 'echo other ran' </dev/null
	is "$RC|$OUT" $'0|other ran\n' "during the flood: another local user's run is served"
	wait "$fpid"
	res=$(cat "$T_TMP/flood.out")
	like "$res" 'accepted=8 refused=132 closed_by_daemon=8 ' "the held connections are closed by the daemon (hello deadline)"
	like "$res" 'first_error=uid 65534 already has 8 connections waiting' "a refused flood connection gets the error reply"
	kill -0 "${D_PID[a]}" 2>/dev/null && ok "isol8d is alive after the flood" || not_ok "isol8d is alive after the flood"
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'echo flooder ran' </dev/null
	is "$RC|$OUT" $'0|flooder ran\n' "after the flood: the flooder can run again (nothing stays wedged)"
}

daemon_start a || bail "isol8d did not start"
S=${D_SOCK[a]}
run_cases "$@"
