#!/bin/bash
# Beyond one host (issue 18): two nodes (two isol8d, two isol8 serve on their own sockets and
# ports) behind Debian's HAProxy with the configuration of deploy/haproxy/haproxy.cfg (consistent
# hashing on X-Isol8-Session, a stick table, health checks on GET /health). A session keeps its
# interpreter through the balancer; a node that goes down moves new sessions and stateless runs
# to the other while its own sessions get "session lives on another node"; a draining node lets
# its running session finish, takes nothing new, and reports drained. TAP; exit 77 (skip) unless
# root and haproxy is installed (scripts/deps.sh installs it).
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$src/tests/lib/daemon.sh"

command -v haproxy >/dev/null || { echo "1..0 # SKIP haproxy not installed (scripts/deps.sh)"; exit 77; }
daemon_setup nodes_test
require_http
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"

KEY=secret-nodes-0123456789abcdef
printf 'fleet:%s\n' "$KEY" >"$T_TMP/keys"
chmod 600 "$T_TMP/keys"
AUTH="Authorization: Bearer $KEY"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A S_PID=() S_PORT=()

serve_start() { # NODE: isol8 serve for daemon NODE, named node-NODE
	local n=$1 i
	S_PORT[$n]=${S_PORT[$n]:-$(free_port)}
	setsid "$ISOL8" serve --port "${S_PORT[$n]}" --keys-file "$T_TMP/keys" --socket "${D_SOCK[$n]}" --grace 5 \
		--node-id "node-$n" >>"$T_TMP/serve-$n.log" 2>&1 </dev/null &
	S_PID[$n]=$!
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:${S_PORT[$n]}/health" && return 0
		sleep 0.1
	done
	bail "isol8 serve for node $n did not start: $(cat "$T_TMP/serve-$n.log")"
}
serve_stop() { # NODE
	local n=$1
	[ -n "${S_PID[$n]:-}" ] || return 0
	kill -TERM "${S_PID[$n]}" 2>/dev/null
	wait "${S_PID[$n]}" 2>/dev/null
	S_PID[$n]=""
}
HA_PID=""
all_stop() {
	[ -n "$HA_PID" ] && kill "$HA_PID" 2>/dev/null && wait "$HA_PID" 2>/dev/null
	serve_stop a
	serve_stop b
	daemon_exit_trap
}
trap all_stop EXIT

daemon_start a --node-id node-a || done_testing
daemon_start b --node-id node-b || done_testing
serve_start a
serve_start b

# The shipped configuration with this test's ports: what deploy/ documents is what runs here.
HPORT=$(free_port)
sed -e "s|bind :8080|bind 127.0.0.1:$HPORT|" -e "s|10.0.0.11:3000|127.0.0.1:${S_PORT[a]}|" \
	-e "s|10.0.0.12:3000|127.0.0.1:${S_PORT[b]}|" -e "s|/run/haproxy/isol8.sock|$T_TMP/haproxy.sock|" \
	-e "/^ *log /d" -e "/^ *user \|^ *group \|^ *chroot /d" "$src/deploy/haproxy/haproxy.cfg" >"$T_TMP/haproxy.cfg"
run_cap haproxy -c -f "$T_TMP/haproxy.cfg"
is "$RC" 0 "haproxy -c accepts the configuration" || diag "$OUT$ERR"
haproxy -db -f "$T_TMP/haproxy.cfg" >"$T_TMP/haproxy.log" 2>&1 </dev/null &
HA_PID=$!
U=http://127.0.0.1:$HPORT

# HAProxy's view of a server: its operational state (2 up, 0 down) and admin state (8 drain by
# a check's 404 is NOLB: srv_op_state 2 with weight 0 in "show servers state").
ha_state() { # NODE -> UP | NOLB | DOWN
	python3 - "$T_TMP/haproxy.sock" "node-$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"show stat\n")
out = b""
while True:
    c = s.recv(65536)
    if not c: break
    out += c
for line in out.decode().splitlines():
    f = line.split(",")
    if len(f) > 17 and f[0] == "isol8" and f[1] == sys.argv[2]:
        print(f[17].split(" ")[0])
PY
}
wait_state() { # NODE STATE [tenths]: until HAProxy sees it
	local i
	for ((i = 0; i < ${3:-60}; i++)); do
		[ "$(ha_state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_state a UP && wait_state b UP || bail "HAProxy does not see both nodes up: a=$(ha_state a) b=$(ha_state b)"

# hx [HEADER...] METHOD PATH [BODY]: sets CODE, BODY_OUT, NODE (X-Isol8-Node of the answer).
hx() {
	local hdr=() base=$U
	while [ "${1:-}" != "${1#-H}" ] || [ "${1:-}" = "--to" ]; do
		if [ "$1" = "--to" ]; then base=http://127.0.0.1:${S_PORT[$2]}; shift 2; continue; fi
		hdr+=(-H "${1#-H}"); shift
	done
	local m=$1 p=$2 b=${3:-}
	CODE=$(curl -s -o "$T_TMP/body" -D "$T_TMP/head" -w '%{http_code}' -X "$m" -H "$AUTH" "${hdr[@]}" \
		${b:+--data-binary "$b"} "$base$p")
	BODY_OUT=$(cat "$T_TMP/body")
	NODE=$(tr -d '\r' <"$T_TMP/head" | sed -n 's/^[Xx]-[Ii]sol8-[Nn]ode: //p')
}
py_body() { jq -cn --arg c "$1" --arg s "${2:-}" '{request:{code:$c,runtime:"python"}} + (if $s == "" then {} else {sessionId:$s} end)'; }
other() { [ "$1" = node-a ] && echo b || echo a; }

case_health_states() {
	hx --to a GET /health
	is "$CODE|$(json_get "$BODY_OUT" '[.status, .state, .node]')" '200|["ok","ready","node-a"]' "health: ready is 200"
	is "$NODE" node-a "every answer names its node in X-Isol8-Node"
	hx --to a -H"X-Isol8-Session: hs0" POST /execute "$(py_body 'q = 5' hs0)"
	is "$CODE|$NODE" "200|node-a" "a session on node a" || diag "$BODY_OUT"
	kill -USR1 "${D_PID[a]}"
	sleep 0.3
	hx --to a GET /health
	is "$CODE|$(json_get "$BODY_OUT" '[.status, .state, .runs, .sessions]')" '404|["draining","draining",0,1]' \
		"health: draining is 404 (HAProxy's disable-on-404: no new traffic, sticky sessions kept)"
	hx --to a POST /execute "$(py_body 'print(1)')"
	is "$CODE|$(json_get "$BODY_OUT" .error)" '503|"isol8d is draining: it takes no new runs; send them to another node"' \
		"a draining node refuses a new stateless run: 503"
	hx --to a -H"X-Isol8-Session: hs9" POST /execute "$(py_body 'print(1)' hs9)"
	is "$CODE|$(json_get "$BODY_OUT" .error)" "503|\"isol8d is draining: it takes no new sessions; create 'hs9' on another node\"" \
		"and a new session: 503"
	hx --to a -H"X-Isol8-Session: hs0" POST /execute "$(py_body 'print(q)' hs0)"
	is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"5\n"' "its existing session is still served"
	hx --to a -H"X-Isol8-Session: hs0" DELETE /session/hs0
	sleep 1.5
	hx --to a GET /health
	is "$CODE|$(json_get "$BODY_OUT" '[.status, .state, .runs, .sessions]')" '503|["drained","drained",0,0]' \
		"health: drained once the session is gone, 503"
	kill -USR2 "${D_PID[a]}"
	sleep 0.3
	hx --to a GET /health
	is "$CODE|$(json_get "$BODY_OUT" .state)" '200|"ready"' "SIGUSR2 takes the node back into service"
	grep -q 'drain: cancelled' "${D_LOG[a]}" && ok "isol8d logs the cancelled drain" || not_ok "isol8d logs the cancelled drain"
	wait_state a UP 50 || bail "node a not back up in HAProxy"
}

case_session_headers() {
	hx --to a -H"X-Isol8-Session: other" POST /execute "$(py_body 'print(1)' hs1)"
	is "$CODE|$(json_get "$BODY_OUT" .error)" "400|\"X-Isol8-Session 'other' does not match the request's session 'hs1'\"" \
		"X-Isol8-Session that disagrees with the body: 400"
	hx --to a -H"X-Isol8-Session: hs1" POST /execute "$(py_body 'print(1)')"
	is "$CODE|$(json_get "$BODY_OUT" .error)" "400|\"X-Isol8-Session 'hs1' is set but the request names no session\"" \
		"X-Isol8-Session on a stateless run: 400"
	hx --to a -H"X-Isol8-Session: hs1" GET "/file?sessionId=hs2&path=x"
	is "$CODE" 400 "GET /file: the header is checked against the query too"
	hx --to a -H"X-Isol8-Session: hs1" -H"X-Isol8-Node: node-b" POST /execute "$(py_body 'print(1)' hs1)"
	is "$CODE|$BODY_OUT" '421|{"error":"session lives on another node","code":"session_on_other_node","node":"node-b","thisNode":"node-a"}' \
		"a session named with another node: 421, never a fresh interpreter"
	is "$(docker ps -q --filter "label=org.isol8.instance=${D_SOCK[a]}" | wc -l)" 0 "and no sandbox was created for it"
	hx --to a -H"X-Isol8-Session: hs1" -H"X-Isol8-Node: node-b" DELETE /session/hs1
	is "$CODE" 421 "DELETE of a session of another node: 421"
}

case_sticky_session() {
	local i fails=0 nodes out
	# The CLI's remote client sends X-Isol8-Session and remembers the node that created it.
	export XDG_STATE_HOME=$T_TMP/state
	run_cap "$ISOL8" run --host "$U" --key "$KEY" --session-id sticky -r python -e 'n = 0'
	is "$RC" 0 "the CLI creates session 'sticky' through the balancer" || diag "$ERR"
	like "$(cat "$T_TMP/state/isol8/remote-nodes" 2>/dev/null)" "^$U sticky node-[ab]\$" "and remembers which node holds it"
	for ((i = 1; i <= 50; i++)); do
		hx -H"X-Isol8-Session: sticky" POST /execute "$(py_body 'n += 1; print(n)' sticky)"
		[ "$CODE|$(json_get "$BODY_OUT" .stdout)" = "200|\"$i\\n\"" ] || fails=$((fails + 1))
		nodes+="$NODE "
	done
	is "$fails" 0 "50 requests of one session through HAProxy keep its interpreter state"
	is "$(tr ' ' '\n' <<<"$nodes" | sort -u | grep -c .)" 1 "all 50 answered by one node"
	run_cap "$ISOL8" run --host "$U" --key "$KEY" --session-id sticky -r python -e 'print(n)'
	is "$RC|$OUT" $'0|50\n' "the CLI reaches the same interpreter"
	run_cap "$ISOL8" session stop sticky --host "$U" --key "$KEY"
	is "$RC" 0 "the CLI stops it" || diag "$ERR"
	is "$(cat "$T_TMP/state/isol8/remote-nodes")" "" "and forgets its node"
	unset XDG_STATE_HOME
}

case_node_down() {
	local holder lost t0 t1 ms bg node body ok_runs=0 i nodes=""
	hx -H"X-Isol8-Session: keep" POST /execute "$(py_body 'v = 7' keep)"
	is "$CODE" 200 "session 'keep' created through the balancer"
	holder=$NODE lost=${NODE#node-}
	diag "session keep lives on $holder; stopping its isol8d"
	daemon_stop "$lost" quiet
	t0=$(date +%s%N)
	# Stateless runs go on meanwhile: a 503 from the node without isol8d is retried on the other.
	for ((i = 0; i < 10; i++)); do
		curl -s -D - -H "$AUTH" --data-binary "$(py_body 'print(2)')" "$U/execute" |
			tr -d '\r' | sed -n -e 's/^[Xx]-[Ii]sol8-[Nn]ode: //p' -e '$p' | tr '\n' ' '
		echo
	done >"$T_TMP/runs.out" &
	bg=$!
	# How fast is HAProxy's business and the load's, not isol8's: the time is shown, not judged.
	if wait_state "$lost" DOWN 200; then
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		ok "HAProxy marks node $lost down (in $ms ms; checks every 500 ms, down after 2)"
	else
		not_ok "HAProxy marks node $lost down within 20 s" "state: $(ha_state "$lost")"
	fi
	wait "$bg"
	while read -r node body; do
		[ "$(json_get "$body" .stdout)" = '"2\n"' ] && ok_runs=$((ok_runs + 1))
		nodes+="$node "
	done <"$T_TMP/runs.out"
	is "$ok_runs" 10 "10 stateless runs started as node $lost went down all succeed" || diag "$(cat "$T_TMP/runs.out")"
	is "$(tr ' ' '\n' <<<"$nodes" | sort -u | grep -c .)|$(tr ' ' '\n' <<<"$nodes" | sort -u | grep .)" "1|node-$(other "node-$lost")" \
		"on the other node"
	hx --to "$lost" GET /health
	is "$CODE|$(json_get "$BODY_OUT" '[.state, .node]')" "503|[\"down\",\"node-$lost\"]" "its /health says down: 503"
	hx -H"X-Isol8-Session: keep" -H"X-Isol8-Node: $holder" POST /execute "$(py_body 'print(v)' keep)"
	is "$CODE|$(json_get "$BODY_OUT" .error)" '421|"session lives on another node"' \
		"the lost node's session, through the balancer: session lives on another node"
	hx -H"X-Isol8-Session: fresh" POST /execute "$(py_body 'w = 1' fresh)"
	is "$CODE|$NODE" "200|node-$(other "node-$lost")" "a new session goes to the other node"
	hx -H"X-Isol8-Session: fresh" DELETE /session/fresh
	daemon_start "$lost" --node-id "node-$lost" || return
	wait_state "$lost" UP 50 && ok "node $lost back up in HAProxy" || not_ok "node $lost back up in HAProxy"
}

case_drain() {
	local holder n bg i
	# A session name that hashes onto node a, so that draining a is the interesting case.
	for i in $(seq 1 40); do
		hx -H"X-Isol8-Session: dr$i" POST /execute "$(py_body 'k = 1' "dr$i")"
		if [ "$NODE" = node-a ]; then holder=dr$i; break; fi
		hx -H"X-Isol8-Session: dr$i" DELETE "/session/dr$i"
	done
	[ -n "${holder:-}" ] || { not_ok "a session lands on node a"; return; }
	diag "session $holder lives on node-a; draining it while a run is in the session"
	curl -s -H "$AUTH" -H "X-Isol8-Session: $holder" --data-binary "$(py_body 'import time; time.sleep(3); print("finished", k)' "$holder")" \
		"$U/execute" >"$T_TMP/long.out" &
	bg=$!
	sleep 1
	kill -USR1 "${D_PID[a]}"
	wait_state a NOLB 30 && ok "HAProxy takes the draining node out of balancing (NOLB)" ||
		not_ok "HAProxy takes the draining node out of balancing" "state: $(ha_state a)"
	for ((i = 0; i < 4; i++)); do
		hx POST /execute "$(py_body 'print(3)')"
		n+="$CODE:$NODE "
	done
	is "$n" "200:node-b 200:node-b 200:node-b 200:node-b " "stateless runs go to node b while a drains"
	hx -H"X-Isol8-Session: newone" POST /execute "$(py_body 'print(4)' newone)"
	is "$CODE|$NODE" "200|node-b" "a new session goes to node b"
	hx -H"X-Isol8-Session: newone" DELETE /session/newone
	wait "$bg"
	is "$(json_get "$(cat "$T_TMP/long.out")" .stdout)" '"finished 1\n"' "the run in the draining node's session finishes"
	hx -H"X-Isol8-Session: $holder" POST /execute "$(py_body 'k += 1; print(k)' "$holder")"
	is "$CODE|$NODE|$(json_get "$BODY_OUT" .stdout)" '200|node-a|"2\n"' "its session is still served there (the stick table)"
	hx --to a GET /health
	is "$(json_get "$BODY_OUT" '[.state, .sessions]')" '["draining",1]' "still draining while the session lives"
	hx -H"X-Isol8-Session: $holder" DELETE "/session/$holder"
	sleep 1.5
	hx --to a GET /health
	is "$CODE|$(json_get "$BODY_OUT" '[.state, .runs, .sessions]')" '503|["drained",0,0]' "then drained: 503"
	grep -q 'drain: drained, no run or session left' "${D_LOG[a]}" && ok "isol8d logs that it is drained" ||
		not_ok "isol8d logs that it is drained"
	kill -USR2 "${D_PID[a]}"
	wait_state a UP 50 && ok "undrained node a is back in HAProxy" || not_ok "undrained node a is back in HAProxy"
}

case_status_drain() {
	run_cap "$ISOL8" status --drain --socket "${D_SOCK[b]}"
	is "$RC|$OUT" $'0|isol8d: drained, no run or session left; safe to stop\n' \
		"isol8 status --drain as root: nothing running, drained at once"
	run_cap "$ISOL8" status --socket "${D_SOCK[b]}"
	like "$OUT" $'\nnode node-b: drained\n' "isol8 status shows the node and its state"
	hx --to b GET /health
	is "$CODE|$(json_get "$BODY_OUT" .state)" '503|"drained"' "and so does /health"
	run_cap su nobody -s /bin/sh -c "'$ISOL8' status --undrain --socket '${D_SOCK[b]}'"
	is "$RC|$ERR" $'1|[ERR] only root may drain isol8d (isol8 status --drain as root)\n' "another user may not (un)drain"
	run_cap "$ISOL8" status --undrain --socket "${D_SOCK[b]}"
	is "$RC|$OUT" $'0|isol8d: ready, taking new runs and sessions\n' "isol8 status --undrain: ready again"
	wait_state b UP 50 && ok "node b back in HAProxy" || not_ok "node b back in HAProxy"
}

# Stop the balancer and the servers, then each daemon, checking that it leaves no container.
teardown() {
	[ -n "$HA_PID" ] && kill "$HA_PID" 2>/dev/null && wait "$HA_PID" 2>/dev/null
	HA_PID=""
	serve_stop a
	serve_stop b
	daemon_stop a
	daemon_stop b
}

run_cases "$@"
