#!/bin/bash
# Reliability (issue 19): isol8d's broker killed (SIGKILL, no cleanup of its own). Every child
# (workers, the proxy, the HTTP frontend and its server) must be gone within 1 s, the client of
# a run in flight gets one clear line, and a broker started again on the same socket removes
# the previous instance's containers and serves at once. SIGTERM with a run in flight lets the
# run finish and leaves nothing. Each kind of child killed on its own (a worker, the proxy,
# the HTTP frontend) is started again by the broker's supervisor, which still serves runs.
# TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup broker_death_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
KEYS=$T_TMP/keys
printf 'alpha:secret-alpha-0123456789\n' >"$KEYS"
chmod 600 "$KEYS"

descendants() { # PID -> every process below it, one a line
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

alive() { # PIDS... -> those still running (not zombies)
	local p
	for p in "$@"; do proc_gone "$p" || echo "$p"; done
}

wait_file() { # FILE: until it is not empty, at most 30 s
	local i
	for ((i = 0; i < 300; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

case_broker_sigkill() {
	local port pid kids left i old rc t0 ms
	need_http || return 0
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	daemon_start bk --http "127.0.0.1:$port" --http-keys "$KEYS" || return
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
		sleep 0.1
	done
	i8 bk run -e 'import time; print("before", flush=True); time.sleep(60)' >"$T_TMP/bk.out" 2>"$T_TMP/bk.err" &
	pid=$!
	wait_file "$T_TMP/bk.out" || not_ok "broker killed: the run started"
	kids=$(descendants "${D_PID[bk]}")
	like "$(for k in $kids; do cat "/proc/$k/comm"; done | sort | uniq -c | tr -s ' \n' ' ')" \
		'isol8-proxy .*isol8-worker' "broker killed: it has workers, a proxy and an HTTP frontend"
	old=$(daemon_containers bk)
	kill -KILL "${D_PID[bk]}"
	t0=$(date +%s%N)
	for ((i = 0; i < 50; i++)); do
		left=$(alive $kids)
		[ -z "$left" ] && break
		sleep 0.02
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	diag "children gone after $ms ms"
	is "$left" "" "broker killed: every child (workers, proxy, HTTP frontend) is gone within 1 s"
	[ -n "$left" ] && kill -KILL $left 2>/dev/null
	wait "$pid"; rc=$?
	is "$rc|$(cat "$T_TMP/bk.out")|$(cat "$T_TMP/bk.err")" "1|before|[ERR] isol8d closed the connection (worker died?)" \
		"broker killed: the client of the run in flight gets one clear line, output kept"
	wait "${D_PID[bk]}" 2>/dev/null
	unset "D_PID[bk]"
	# As systemd would: the same socket path (so the same instance label), a new process. The
	# pidfile is the harness's sign that the new one is up.
	rm -f "${D_DIR[bk]}/pid"
	daemon_start bk --http "127.0.0.1:$port" --http-keys "$KEYS" || return
	run_cap i8 bk run -e 'print("hello")'
	is "$RC|$OUT|$ERR" $'0|hello\n|' "broker restarted: serves at once"
	left=""
	for i in $old; do docker inspect "$i" >/dev/null 2>&1 && left="$left $i"; done
	is "$left" "" "broker restarted: the previous instance's containers were removed"
	daemon_stop bk
}

case_broker_sigterm_in_flight() {
	local pid rc
	daemon_start bt || return
	i8 bt run -e 'import time; print("before", flush=True); time.sleep(1); print("after")' \
		>"$T_TMP/bt.out" 2>"$T_TMP/bt.err" &
	pid=$!
	wait_file "$T_TMP/bt.out" || not_ok "SIGTERM: the run started"
	daemon_stop bt
	wait "$pid"; rc=$?
	is "$rc|$(cat "$T_TMP/bt.out")|$(cat "$T_TMP/bt.err")" $'0|before\nafter|' \
		"SIGTERM with a run in flight: the run completes"
}

kid_of() { # ID COMM -> the daemon's children named COMM
	local c
	for c in $(cat /proc/"${D_PID[$1]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = "$2" ] && echo "$c"
	done
	return 0
}

# A child of kind COMM of daemon ID is SIGKILLed: another takes its place, the log says why.
kill_and_respawn() { # ID COMM LOG_ERE WHAT
	local id=$1 comm=$2 before old new i
	before=$(kid_of "$id" "$comm")
	old=$(head -1 <<<"$before")
	[ -n "$old" ] || { not_ok "$4: running before the kill"; return 1; }
	kill -KILL "$old"
	for ((i = 0; i < 100; i++)); do
		# A new pid: with several workers, the others do not count.
		new=$(kid_of "$id" "$comm" | grep -vxF "$before" | head -1)
		[ -n "$new" ] && proc_gone "$old" && break
		sleep 0.1
	done
	[ -n "$new" ] && proc_gone "$old" && ok "$4 killed ($old): started again ($new)" ||
		not_ok "$4 killed ($old): started again" "$(tail -5 "${D_LOG[$id]}")"
	like "$(cat "${D_LOG[$id]}")" "${3//PID/$old}" "$4 killed: the log says so"
}

case_children_sigkill() {
	local port i code
	need_http || return 0
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	daemon_start ck --http "127.0.0.1:$port" --http-keys "$KEYS" || return
	kill_and_respawn ck isol8-worker 'worker [0-9]+ \(pid PID\) killed by signal 9' "a worker"
	run_cap timeout 60 "$ISOL8" run --socket "${D_SOCK[ck]}" -e 'print("after worker")' </dev/null
	is "$RC|$OUT" $'0|after worker\n' "worker killed: the daemon still serves a run"
	kill_and_respawn ck isol8-proxy 'network proxy \(pid PID\) killed by signal 9' "the network proxy"
	run_cap timeout 60 "$ISOL8" run --socket "${D_SOCK[ck]}" -e 'print("after proxy")' </dev/null
	is "$RC|$OUT" $'0|after proxy\n' "proxy killed: the daemon still serves a run"
	kill_and_respawn ck isol8-full 'http frontend \(pid PID\) ended \(status 137\); restarting' "the http frontend"
	for ((i = 0; i < 100; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	is "$code" 200 "http frontend killed: the new one answers /health"
	code=$(curl -s -o "$T_TMP/ck.json" -w '%{http_code}' -H 'Authorization: Bearer secret-alpha-0123456789' \
		-H 'Content-Type: application/json' -d '{"request":{"code":"print(\"after http\")","runtime":"python"}}' \
		"http://127.0.0.1:$port/execute")
	like "$code|$(cat "$T_TMP/ck.json")" '^200\|.*after http' "http frontend killed: the new one serves a run"
	daemon_stop ck
}

run_cases "$@"
