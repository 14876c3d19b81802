#!/bin/bash
# Issue "tenant isolation" #8: every `isol8 serve --key X` named its key "default", so two
# servers with different secrets shared sessions (server B listed and used server A's).
# Replays it with two servers on one isol8d: B must see nothing of A's session.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-http-principals
require_http

declare -A SRV_PID=() SRV_URL=()
serve() { # NAME SECRET
	local log=$T_TMP/serve-$1.log i port=""
	setsid "$ISOL8" serve --port 0 --key "$2" --socket "$S" --grace 5 >"$log" 2>&1 </dev/null &
	SRV_PID[$1]=$!
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || bail "isol8 serve $1 did not start: $(cat "$log")"
	SRV_URL[$1]=http://127.0.0.1:$port
}
servers_stop() {
	local n
	for n in "${!SRV_PID[@]}"; do kill -TERM "${SRV_PID[$n]}" 2>/dev/null; wait "${SRV_PID[$n]}" 2>/dev/null; done
	SRV_PID=()
}
trap 'servers_stop; daemon_exit_trap' EXIT

# hc SERVER SECRET METHOD PATH [BODY]: sets CODE and BODY_OUT
hc() {
	local url=${SRV_URL[$1]} key=$2 method=$3 path=$4 extra=()
	[ $# -ge 5 ] && extra=(-H 'Content-Type: application/json' --data-binary "$5")
	CODE=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $key" "${extra[@]}" "$url$path")
	BODY_OUT=$(cat "$T_TMP/body")
}

KA=secret-of-server-a-0123456789abcdef
KB=secret-of-server-b-0123456789abcdef

case_two_default_keys() {
	local body
	body=$(jq -cn '{request:{code:"echo alpha >/sandbox/note.txt; echo made",runtime:"bash"},sessionId:"shared1"}')
	hc a "$KA" POST /execute "$body"
	is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"made\n"' "server A: a session shared1 with a file"
	hc b "$KB" GET /sessions
	is "$CODE" 200 "server B: GET /sessions answers"
	unlike "$BODY_OUT" 'shared1' "server B does not list server A's session"
	hc b "$KB" GET "/file?sessionId=shared1&path=note.txt"
	isnt "$CODE" 200 "server B cannot read server A's session file"
	unlike "$BODY_OUT" 'YWxwaGE' "and gets none of its content"
	hc b "$KB" DELETE /session/shared1
	is "$CODE|$BODY_OUT" '200|{"ok":true}' "server B's DELETE of server A's session is the idempotent 200 (it stops nothing)"
	body=$(jq -cn '{request:{code:"cat /sandbox/note.txt 2>/dev/null || echo fresh",runtime:"bash"},sessionId:"shared1"}')
	hc b "$KB" POST /execute "$body"
	is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"fresh\n"' "server B's shared1 is its own, fresh session"
	hc a "$KA" GET "/file?sessionId=shared1&path=note.txt"
	is "$CODE|$(json_get "$BODY_OUT" .content)" '200|"YWxwaGEK"' "server A's session and file are untouched"
	hc a "$KA" DELETE /session/shared1
	is "$CODE" 200 "server A stops its session"
	hc b "$KB" DELETE /session/shared1
	is "$CODE" 200 "server B stops its own"
}

case_same_key_restarted_server() {
	# The principal follows the secret, not the process: a restarted server keeps its sessions.
	local body
	body=$(jq -cn '{request:{code:"echo kept >/sandbox/k.txt; echo ok",runtime:"bash"},sessionId:"again"}')
	hc a "$KA" POST /execute "$body"
	is "$CODE" 200 "server A: session again"
	serve a2 "$KA"
	hc a2 "$KA" GET "/file?sessionId=again&path=k.txt"
	is "$CODE|$(json_get "$BODY_OUT" .content)" '200|"a2VwdAo="' "a second server with the same secret reaches the session"
	hc a2 "$KA" DELETE /session/again
	is "$CODE" 200 "and may stop it"
}

daemon_start a || bail "isol8d did not start"
S=${D_SOCK[a]}
serve a "$KA"
serve b "$KB"
run_cases "$@"
