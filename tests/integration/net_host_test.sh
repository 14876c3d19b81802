#!/bin/bash
# --net host and bad --net values end to end (issue 7): under the built-in policy, host networking
# is for uid 0 (who can reach Docker anyway) and refused, naming the policy, for anyone else; an
# unknown mode is a usage error. The TCP peer is the test's own server on the host's 127.0.0.1,
# reachable only when the sandbox really shares the host's network namespace.
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup net_host_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
command -v python3 >/dev/null || bail "python3 needed for the TCP peer"
command -v setpriv >/dev/null || bail "setpriv (util-linux) needed to run the CLI as nobody"

# A one-line TCP server on the host's loopback only.
cat >"$T_TMP/serve.py" <<'EOF2'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept()
    c.sendall(b"hello-from-host-loopback\n")
    c.close()
EOF2
python3 "$T_TMP/serve.py" "$T_TMP/port.tmp" >/dev/null 2>&1 &
SRV_PID=$!
trap 'kill $SRV_PID 2>/dev/null; daemon_exit_trap' EXIT
for _ in $(seq 50); do [ -s "$T_TMP/port.tmp" ] && break; sleep 0.1; done
PORT=$(cat "$T_TMP/port.tmp" 2>/dev/null)
[ -n "$PORT" ] || bail "TCP peer did not start"

daemon_start h || done_testing
S=${D_SOCK[h]}
PROBE="import socket
s = socket.create_connection(('127.0.0.1', $PORT), timeout=5)
print(s.recv(100).decode().strip())"

# Root: the admin tenant may use the host's network.
case_root_host_network() {
	run_cap "$ISOL8" run --socket "$S" --net host -e "$PROBE" </dev/null
	is "$RC|$OUT" "0|hello-from-host-loopback
" "host (uid 0): the sandbox reaches a server on the host's 127.0.0.1"
	run_cap "$ISOL8" run --socket "$S" --net=host -e "$PROBE" </dev/null
	is "$RC|$OUT" "0|hello-from-host-loopback
" "host (uid 0): --net=host form"
	run_cap "$ISOL8" run --socket "$S" --net none -e "$PROBE" </dev/null
	isnt "$RC" 0 "none (uid 0): the same server is out of reach"
}

# Another uid: refused by the built-in policy.
case_other_uid_refused() {
	# No subshell: run_cap's RC/OUT/ERR must reach this shell. -C: a directory nobody can read.
	as_nobody() { run_cap setpriv --reuid=nobody --regid=nogroup --clear-groups env -C "$T_TMP" HOME=/tmp "$@"; }
	as_nobody "$ISOL8" run --socket "$S" --net none -e 'print("ok")' </dev/null
	is "$RC|$OUT" "0|ok
" "nobody: an ordinary run works (the refusal below is about the network mode)"
	as_nobody "$ISOL8" run --socket "$S" --net host -e "$PROBE" </dev/null
	is "$RC|$OUT" "1|" "nobody: --net host is refused (exit 1, nothing runs)"
	like "$ERR" "network host is not allowed for tenant local" "nobody: the error names the mode and the tenant"
	like "$ERR" "policy built-in: network host" "nobody: the error names the policy"
	as_nobody "$ISOL8" run --socket "$S" --net=host -e "$PROBE" </dev/null
	is "$RC" 1 "nobody: --net=host is refused too"
}

# An unknown mode is a usage error, before anything reaches the daemon.
case_unknown_mode() {
	run_cap "$ISOL8" run --socket "$S" --net foo -e 'print(1)' </dev/null
	is "$RC" 2 "--net foo: usage error (exit 2)"
	like "$ERR" "Invalid --net value 'foo': expected none, host or filtered" "--net foo: the message lists the modes"
	run_cap "$ISOL8" run --socket "$S" --net= -e 'print(1)' </dev/null
	is "$RC" 2 "--net= (empty): usage error (exit 2)"
}

run_cases "$@"
