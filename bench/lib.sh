# shellcheck shell=bash
# Sourced by bench/run.sh and bench/tiers.sh: the messages and the isol8d under test. The
# caller sets ISOL8, ISOL8D, build, sock and work; start_daemon sets dpid.

msg() { printf 'bench: %s\n' "$*" >&2; }

# Every program a run needs, built in $build.
need_build() {
	local f
	for f in "$ISOL8" "$ISOL8D" "$build/isol8-worker"; do
		[[ -x $f ]] || { msg "$f not built (run from the build directory or set ISOL8_BUILDDIR)"; exit 1; }
	done
}

# isol8d on $sock with these extra arguments, in the background; back once its socket and
# pidfile exist, or 1 with the end of its log.
start_daemon() { # [isol8d args...]
	rm -f "$sock" "$work/pid"
	"$ISOL8D" --socket "$sock" --socket-mode 0666 --foreground --pidfile "$work/pid" "$@" \
		>>"$work/isol8d.log" 2>&1 &
	dpid=$!
	for _ in $(seq 150); do
		[[ -S $sock && -s $work/pid ]] && return 0
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.1
	done
	msg "isol8d did not come up:"
	tail -5 "$work/isol8d.log" >&2
	return 1
}

stop_daemon() {
	[[ -n $dpid ]] || return 0
	kill -TERM "$(cat "$work/pid" 2>/dev/null || echo "$dpid")" 2>/dev/null
	wait "$dpid" 2>/dev/null
	dpid=
}
