#!/bin/bash
# Issue "tenant isolation" #15: starting a second isol8d on a socket in use ran the orphan
# cleanup before the "already listening" check, removing the live daemon's sandboxes (every
# tenant's sessions). Replays it: the second start must fail and leave everything alone.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-second-daemon

second() { # start another isol8d on the first one's socket; sets RC OUT ERR
	run_cap timeout 60 "$ISOL8D" --worker-path "$BUILDDIR/isol8-worker" --socket "$S" --foreground "$@" </dev/null
}

case_second_daemon_same_socket() {
	local before after
	run_cap "$ISOL8" run --socket "$S" --session-id keep -r bash -e 'echo kept >/sandbox/f; echo ok' </dev/null
	is "$RC|$OUT" $'0|ok\n' "a session of the first daemon"
	before=$(daemon_containers a | sort)
	isnt "$before" "" "the first daemon has containers"
	second
	is "$RC" 1 "a second isol8d on the same socket exits 1"
	like "$ERR" "another isol8d is already running on $S \\(it holds $S.lock\\)" "and says which socket is in use"
	unlike "$ERR" 'removed [0-9]+ orphaned' "it removed nothing"
	after=$(daemon_containers a | sort)
	is "$after" "$before" "the first daemon's containers are all still there"
	[ -S "$S" ] && ok "the first daemon's socket still exists" || not_ok "the first daemon's socket still exists"
	run_cap "$ISOL8" file get --socket "$S" keep /sandbox/f -
	is "$RC|$OUT" $'0|kept\n' "the session survived: its file reads back"
	run_cap "$ISOL8" session stop --socket "$S" keep
	is "$RC" 0 "the session stops normally"
}

case_stale_socket_is_replaced() {
	# A socket file nobody answers on (a crashed daemon) must not stop a start.
	local dir=$T_TMP/stale
	mkdir -p "$dir"
	/usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' "$dir/s.sock"
	timeout 30 "$ISOL8D" --worker-path "$BUILDDIR/isol8-worker" --socket "$dir/s.sock" --foreground \
		--pidfile "$dir/pid" </dev/null >"$dir/log" 2>&1 &
	local pid=$! i
	for ((i = 0; i < 100; i++)); do [ -s "$dir/pid" ] && break; sleep 0.1; done
	run_cap "$ISOL8" run --socket "$dir/s.sock" -r bash -e 'echo fresh' </dev/null
	is "$RC|$OUT" $'0|fresh\n' "a daemon starts on a stale socket and serves"
	kill -TERM "$(cat "$dir/pid" 2>/dev/null)" 2>/dev/null
	wait "$pid" 2>/dev/null
	is "$(docker ps -aq --filter "label=org.isol8.instance=$dir/s.sock")" "" "and leaves no container behind"
}

daemon_start a || bail "isol8d did not start"
S=${D_SOCK[a]}
run_cases "$@"
