# shellcheck shell=bash
# shellcheck disable=SC2034 # D_DIR, OUT, ERR, RC, ELAPSED_MS are read by the scripts that source this
# Shared helpers for the isol8d integration tests (sourced, not run).
#
#   TAP:     ok DESC | not_ok DESC [DIAG] | is GOT WANT DESC | isnt GOT UNWANTED DESC
#            like GOT ERE DESC | unlike GOT ERE DESC | check DESC CMD... (passes when CMD exits 0)
#            diag TEXT | done_testing (prints the plan and "N passed, N failed", exits 1 on failure)
#   cases:   run_cases "$@" runs the functions case_*; -k NAME runs those matching NAME, -l lists them
#   daemon:  daemon_start ID [isol8d args...]   isol8d on a unique temp socket (mode 0666, foreground,
#                                               pidfile); sets D_SOCK[ID] D_PID[ID] D_DIR[ID] D_LOG[ID]
#            daemon_stop ID       SIGTERM, wait for exit 0, then assert no container of it remains
#            daemon_containers ID ids of containers labelled org.isol8.instance=<its socket>
#            daemon_workers ID    pids of its isol8-worker children
#            i8 ID SUBCMD ARGS... the isol8 CLI against that daemon
#   ISOL8_TEST_ISOLATION=runsc: every daemon_start gets its policy (--policy FILE, else the
#   built-in one) with each tenant on gVisor and network none (tests/integration/runsc_test.sh)
#   Every daemon started here is stopped by the EXIT trap that daemon_setup installs.
#
# Build dir: $ISOL8_BUILDDIR (set by make check), else the current directory.
set -u

# TAP, the case runner and bail (tests/lib/tap.sh): shared with the tests that start no daemon.
# shellcheck source=tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

# ---- environment ----------------------------------------------------------------------------------
require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP $1 needs root (starts isol8d, which talks to Docker)"
		exit 77
	fi
}

# An uninstalled build finds its data files (the sandbox seccomp profile, ...) only through
# ISOL8_SRCDIR (common/buildtree.h): point it at this tree unless the caller did.
ISOL8_SRCDIR=${ISOL8_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export ISOL8_SRCDIR

find_builddir() {
	local d=${ISOL8_BUILDDIR:-$PWD}
	[ -x "$d/isol8d" ] && [ -x "$d/isol8" ] && [ -x "$d/isol8-worker" ] ||
		bail "isol8d, isol8 and isol8-worker not built in $d (set ISOL8_BUILDDIR)"
	BUILDDIR=$(cd "$d" && pwd)
	ISOL8D=$BUILDDIR/isol8d
	ISOL8=$BUILDDIR/isol8
}

# A build made with configure --disable-http has no isol8 serve: a script that is all HTTP skips
# (require_http, exit 77); a case of a mixed script starts with `need_http || return 0` and is
# reported as one skipped test, so the rest of the script still runs there.
T_HTTP_BUILT=""
http_built() {
	if [ -z "$T_HTTP_BUILT" ]; then
		T_HTTP_BUILT=yes
		"$ISOL8" serve --help 2>&1 | grep -q 'built without HTTP' && T_HTTP_BUILT=no
	fi
	[ "$T_HTTP_BUILT" = yes ]
}
require_http() {
	http_built && return 0
	echo "1..0 # SKIP built without HTTP (configure --disable-http)"
	exit 77
}
need_http() {
	http_built && return 0
	skip "${FUNCNAME[1]#case_}" "built without HTTP (configure --disable-http)"
	return 1
}

# Temp files of this test; removed at exit.
T_TMP=""
declare -A D_SOCK=() D_PID=() D_DIR=() D_LOG=()

daemon_setup() { # NAME: root check, build dir, docker, temp dir, exit trap
	require_root "$1"
	find_builddir
	timeout 20 docker version >/dev/null 2>&1 || bail "docker does not answer"
	T_TMP=$(mktemp -d "/tmp/isol8-$1.XXXXXX") || bail "mktemp"
	chmod 0755 "$T_TMP" # sockets and files in here are used as nobody too
	trap daemon_exit_trap EXIT
	trap 'exit 130' INT TERM
}

daemon_exit_trap() {
	local id
	for id in "${!D_PID[@]}"; do
		daemon_stop "$id" quiet
	done
	bridge_host_remove
	[ -n "$T_TMP" ] && rm -rf "$T_TMP"
}

# proc_gone PID: no such process, or a zombie (it may be our child until waited for)
proc_gone() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# tier_policy DIR ARGS...: print ARGS with the policy rewritten for $ISOL8_TEST_ISOLATION, one a line
tier_policy() {
	local dir=$1 src=${ISOL8_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}/policy/default-policy.json
	local a prev="" out=()
	shift
	for a in "$@"; do
		if [ "$prev" = --policy ]; then src=$a; else [ "$a" = --policy ] || out+=("$a"); fi
		prev=$a
	done
	jq --arg iso "$ISOL8_TEST_ISOLATION" '.tenants |= map_values(.isolation = $iso | .network = ["none"])' \
		"$src" >"$dir/policy-$ISOL8_TEST_ISOLATION.json" || bail "cannot rewrite $src for $ISOL8_TEST_ISOLATION"
	printf '%s\n' --policy "$dir/policy-$ISOL8_TEST_ISOLATION.json" "${out[@]}"
}

daemon_start() { # ID [isol8d args...]
	local id=$1 dir pid i
	shift
	dir="$T_TMP/d-$id"
	mkdir -p "$dir" && chmod 0755 "$dir"
	if [ -n "${ISOL8_TEST_ISOLATION:-}" ]; then
		local args
		mapfile -t args < <(tier_policy "$dir" "$@")
		set -- "${args[@]}"
	fi
	D_DIR[$id]=$dir D_SOCK[$id]=$dir/isol8d.sock D_LOG[$id]=$dir/isol8d.log
	# The daemon runs under its own name (a symlink; comm comes from it) so that a developer's
	# `pkill isol8d` elsewhere on the machine cannot stop it mid-test. setsid: it must not share
	# the test's process group either; it is still our child, so $! is its pid.
	ln -sf "$ISOL8D" "$dir/i8d-test"
	# ISOL8_TEST_DAEMON_WRAPPER runs the daemon under a tool, e.g. valgrind (its workers lock
	# themselves down, so the tool follows the broker only):
	#   ISOL8_TEST_DAEMON_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
	# makes a memory error or a definite leak a failing exit status at daemon_stop.
	# shellcheck disable=SC2086 # the wrapper is a command line
	setsid ${ISOL8_TEST_DAEMON_WRAPPER:-} "$dir/i8d-test" --worker-path "$BUILDDIR/isol8-worker" --socket "${D_SOCK[$id]}" --socket-mode 0666 --foreground --pidfile "$dir/pid" \
		--grace-ms 3000 "$@" >"${D_LOG[$id]}" 2>&1 </dev/null &
	pid=$!
	D_PID[$id]=$pid
	for ((i = 0; i < 150; i++)); do
		if [ -S "${D_SOCK[$id]}" ] && [ -s "$dir/pid" ]; then break; fi
		if proc_gone "$pid"; then break; fi
		sleep 0.1
	done
	if [ ! -S "${D_SOCK[$id]}" ] || proc_gone "$pid"; then
		not_ok "daemon $id started" "$(cat "${D_LOG[$id]}")"
		unset "D_PID[$id]"
		return 1
	fi
	is "$(cat "$dir/pid")" "$pid" "daemon $id: pidfile holds its pid"
	# isol8d listens before it has exec'd its workers: wait for them, so that a test reading
	# daemon_workers right away sees them all (--workers N, default 2).
	local want=2 a prev=""
	for a in "$@"; do
		[ "$prev" = --workers ] && want=$a
		case $a in --workers=*) want=${a#--workers=} ;; esac
		prev=$a
	done
	for ((i = 0; i < 100; i++)); do
		[ "$(daemon_workers "$id" | wc -l)" -ge "$want" ] && break
		sleep 0.1
	done
	return 0
}

daemon_containers() { # ID -> ids, one a line
	docker ps -aq --no-trunc --filter "label=org.isol8.instance=${D_SOCK[$1]}"
}

# Children of the daemon named isol8-worker.
daemon_workers() {
	local pid=${D_PID[$1]} c
	for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-worker ] && echo "$c"
	done
	return 0
}

daemon_stop() { # ID [quiet]
	local id=$1 quiet=${2:-} pid=${D_PID[$1]:-} i rc left
	[ -n "$pid" ] || return 0
	unset "D_PID[$id]"
	if proc_gone "$pid"; then
		not_ok "daemon $id still running at the end" "$(tail -20 "${D_LOG[$id]}")"
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		proc_gone "$pid" && break
		sleep 0.1
	done
	if ! proc_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		[ -n "$quiet" ] || not_ok "daemon $id exits within 30 s of SIGTERM" "$(tail -20 "${D_LOG[$id]}")"
	fi
	wait "$pid" 2>/dev/null; rc=$?
	left=$(daemon_containers "$id")
	if [ -z "$quiet" ]; then
		is "$rc" 0 "daemon $id: exit status 0 after SIGTERM"
		is "$left" "" "daemon $id: no container labelled with its instance remains"
	elif [ -n "$left" ]; then
		echo "# daemon $id left containers behind: $left"
		T_FAIL=$((T_FAIL + 1))
	fi
	# Ours (the label is this test's unique socket path): never leave them behind.
	[ -n "$left" ] && docker rm -f $left >/dev/null 2>&1
	return 0
}

i8() { # ID SUBCMD ARGS...
	local id=$1 sub=$2
	shift 2
	"$ISOL8" "$sub" --socket "${D_SOCK[$id]}" "$@"
}

# run_cap CMD... : run with stdin from /dev/null unless redirected by the caller; sets
# OUT ERR (exact bytes, trailing newlines kept) RC and ELAPSED_MS.
run_cap() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >"$T_TMP/out" 2>"$T_TMP/err"
	RC=$?
	t1=$(date +%s%N)
	ELAPSED_MS=$(((t1 - t0) / 1000000))
	OUT=$(cat "$T_TMP/out"; printf x); OUT=${OUT%x}
	ERR=$(cat "$T_TMP/err"; printf x); ERR=${ERR%x}
}

# json_get JSON JQ-FILTER : compact value (strings keep their quotes)
json_get() { printf '%s' "$1" | jq -c "$2" 2>/dev/null; }

# bridge_host: a stand-in internal server's host: a network namespace on the docker bridge with
# an address of its own near the top of the bridge's subnet. Not the host's own address: the
# proxy runs in a namespace of its own and the host drops what it sends to the host itself, so
# test servers listen here (run them with on_bridge CMD...). Sets GW (the stand-in's address)
# and BRIDGE_NS; removed by the EXIT trap (bridge_host_remove). A flock on
# /run/lock/isol8-test-bridge.K keeps concurrent tests on distinct K.
bridge_host() {
	[ -n "${BRIDGE_NS:-}" ] && return 0
	local sub brgw k=0
	command -v ip >/dev/null || bail "ip (iproute2) needed for the bridge stand-in host"
	sub=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null)
	brgw=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)
	# An engine may leave the gateway out of IPAM (seen on a freshly installed dockerd 20.10):
	# it is docker0's own address then.
	[ -n "$brgw" ] || brgw=$(ip -4 -o addr show docker0 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}')
	[ -n "$sub" ] && [ -n "$brgw" ] || bail "cannot find the docker bridge's subnet and gateway"
	for k in $(seq 1 40); do
		exec {BRIDGE_LOCK}>"/run/lock/isol8-test-bridge.$k"
		flock -n "$BRIDGE_LOCK" && break
		exec {BRIDGE_LOCK}>&-
		k=0
	done
	[ "$k" -gt 0 ] || bail "no free bridge stand-in slot"
	GW=$(python3 -c 'import ipaddress, sys; n = ipaddress.ip_network(sys.argv[1]); print(n.broadcast_address - int(sys.argv[2]))' "$sub" "$k")
	BRIDGE_NS=isol8t$k BRIDGE_IF=isol8tb$k
	ip netns del "$BRIDGE_NS" 2>/dev/null
	ip link del "$BRIDGE_IF" 2>/dev/null
	ip netns add "$BRIDGE_NS" &&
		ip link add "$BRIDGE_IF" type veth peer name eth0 netns "$BRIDGE_NS" &&
		ip link set "$BRIDGE_IF" master docker0 up &&
		ip -n "$BRIDGE_NS" link set lo up &&
		ip -n "$BRIDGE_NS" addr add "$GW/${sub#*/}" dev eth0 &&
		ip -n "$BRIDGE_NS" link set eth0 up &&
		ip -n "$BRIDGE_NS" route add default via "$brgw" || bail "cannot make the bridge stand-in host $GW"
	for _ in $(seq 50); do
		ping -c1 -W1 "$GW" >/dev/null 2>&1 && break
		python3 -c "import socket; s = socket.socket(); s.settimeout(0.2); s.connect_ex(('$GW', 9))" 2>/dev/null
		sleep 0.1
	done
}

on_bridge() { ip netns exec "$BRIDGE_NS" "$@"; }

bridge_host_remove() {
	[ -n "${BRIDGE_NS:-}" ] || return 0
	ip netns pids "$BRIDGE_NS" 2>/dev/null | xargs -r kill 2>/dev/null
	ip link del "$BRIDGE_IF" 2>/dev/null
	ip netns del "$BRIDGE_NS" 2>/dev/null
	BRIDGE_NS=
}

# free_port ADDR: a free TCP port on ADDR (in the bridge stand-in when ADDR is $GW)
free_port() {
	local run=()
	[ "$1" = "${GW:-}" ] && [ -n "${BRIDGE_NS:-}" ] && run=(on_bridge)
	"${run[@]}" python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

# serve_on_bridge TEXT: serve $T_TMP/www/index.txt (= TEXT) over HTTP from the bridge stand-in
# host (bridge_host), where the proxy can reach it; sets GW, PORT and HTTP_PID and stops the
# server with the daemons at exit. Nothing leaves the machine.
serve_on_bridge() {
	command -v python3 >/dev/null || bail "python3 needed to serve HTTP"
	bridge_host
	PORT=$(free_port "$GW")
	mkdir -p "$T_TMP/www"
	echo "$1" >"$T_TMP/www/index.txt"
	on_bridge python3 -m http.server "$PORT" --bind "$GW" --directory "$T_TMP/www" >"$T_TMP/http.log" 2>&1 &
	HTTP_PID=$!
	trap 'kill $HTTP_PID 2>/dev/null; daemon_exit_trap' EXIT
	for _ in $(seq 50); do
		python3 -c "import socket; socket.create_connection(('$GW', $PORT), 1)" 2>/dev/null && break
		sleep 0.1
	done
}
