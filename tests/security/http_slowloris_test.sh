#!/bin/bash
# Issue "tenant isolation" #12: unauthenticated slow requests starved `isol8 serve`. The limits
# were 64 connections per source address and 256 in all, and the only timeout was MHD's idle
# timeout (60 s), which every trickled byte resets: one address held 64 threads forever.
#
# Replays it: 70 connections from 127.0.0.1 each trickle a header byte every half second and
# never finish their headers. At most 32 may be admitted from one address, and every admitted
# one must be cut once the header deadline (10 s) has passed, although bytes keep coming.
# Meanwhile, from another address (127.0.0.2), an authenticated request is served and two
# authenticated streams (SSE and WebSocket) that last longer than the deadline run to the end.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-http-slowloris
require_http

KEY=slowloris-test-key-0123456789abcdef
SRV_PID=""
trap 'kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; daemon_exit_trap' EXIT

# exec_code CODE [SOURCE]: POST /execute from SOURCE; sets CODE and OUT
exec_code() {
	CODE=$(curl -s -m 60 ${2:+--interface "$2"} -o "$T_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
		-H 'Content-Type: application/json' --data-binary "$(jq -cn --arg c "$1" '{request:{code:$c,runtime:"python"}}')" \
		"http://127.0.0.1:$PORT/execute")
	OUT=$(jq -r .stdout "$T_TMP/body" 2>/dev/null)
}

case_slowloris() {
	local attack sse ws res a opened refused
	python3 "$SEC_DIR/slowloris.py" 127.0.0.1 "$PORT" 70 0.5 30 >"$T_TMP/attack.out" 2>&1 &
	attack=$!
	python3 "$SEC_DIR/http_streams.py" sse 127.0.0.1 "$PORT" "$KEY" 14 127.0.0.2 >"$T_TMP/sse.out" 2>&1 &
	sse=$!
	python3 "$SEC_DIR/http_streams.py" ws 127.0.0.1 "$PORT" "$KEY" 14 127.0.0.2 >"$T_TMP/ws.out" 2>&1 &
	ws=$!
	sleep 3
	exec_code 'print("served")' 127.0.0.2
	is "$CODE|$OUT" "200|served" "during the attack: an authenticated request from another address is served"
	wait "$attack"
	res=$(cat "$T_TMP/attack.out")
	diag "attack: $res"
	a=$(sed -n 's/.*opened=\([0-9]*\) refused=\([0-9]*\).*/\1 \2/p' <<<"$res")
	read -r opened refused <<<"$a"
	ok_if() { if eval "$1"; then ok "$2"; else not_ok "$2" "$res"; fi; }
	ok_if '[ -n "$opened" ] && [ $((opened - refused)) -le 32 ]' "at most 32 slow connections admitted from one address"
	like "$res" ' alive=0 ' "every admitted slow connection was cut although it kept sending"
	like "$res" ' last_cut=(9|1[0-4])\.' "cut at the header deadline (10 s), not at the idle timeout"
	like "$res" ' first_cut=(9|1[0-4])\.' "and none cut before it"
	wait "$sse"
	like "$(cat "$T_TMP/sse.out")" '^sse 14 0 ' "an authenticated SSE stream of 14 s runs to its end"
	wait "$ws"
	like "$(cat "$T_TMP/ws.out")" '^ws 14 0 ' "an authenticated WebSocket run of 14 s runs to its end"
	exec_code 'print("again")'
	is "$CODE|$OUT" "200|again" "after the attack the attacking address is served again"
}

daemon_start a || bail "isol8d did not start"
S=${D_SOCK[a]}
setsid "$ISOL8" serve --port 0 --key "$KEY" --socket "$S" --grace 5 >"$T_TMP/serve.log" 2>&1 </dev/null &
SRV_PID=$!
PORT=""
for ((i = 0; i < 100; i++)); do
	PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/serve.log" 2>/dev/null)
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
run_cases "$@"
