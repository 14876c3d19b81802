#!/bin/bash
# Issue "tenant isolation" #6 and #18: a worker that stops reading its channel. The broker's
# sends to a worker were blocking sendmsg calls from its main loop (bounded by a 2 s send
# timeout), so a worker that did not read stalled every tenant for 2 s at a time; a stopped
# worker whose channel was not full was never noticed, and every connection routed to it hung.
# Sends never wait now (a bounded queue per worker, broker/outq.h), and a worker that leaves a
# message unread for 2 s is killed and restarted. The worker's own side: a verb answer that
# never comes ends in an error, not a thread waiting forever.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-worker-wedge

# The --worker-path of case main_loop: worker 1's first start is a compromised worker that
# floods isol8d and reads nothing once $T_TMP/go exists; its later starts, and worker 0, real.
wedge_wrapper() {
	cat >"$T_TMP/wedge-worker" <<SH
#!/bin/sh
prev= idx=
for a in "\$@"; do [ "\$prev" = --index ] && idx=\$a; prev=\$a; done
if [ "\$idx" = 1 ]; then
	mode=idle
	[ -e $T_TMP/wedged-once ] || { : >$T_TMP/wedged-once; mode=flood; }
	ISOL8_WEDGE_LOG=$T_TMP/wedge.log ISOL8_WEDGE_GO=$T_TMP/go PYTHONPATH=$SEC_DIR \
		exec /usr/bin/python3 $SEC_DIR/wedge_worker.py \$mode "\$@"
fi
exec $BUILDDIR/isol8-worker "\$@"
SH
	chmod 0755 "$T_TMP/wedge-worker"
}

# wait_for SECONDS CMD...: until CMD succeeds (polled every 0.1 s)
wait_for() {
	local n=$(($1 * 10))
	shift
	while ((n-- > 0)); do "$@" && return 0; sleep 0.1; done
	return 1
}

case_main_loop_does_not_wait_for_a_worker() {
	local S pid1 pid2 probe
	wedge_wrapper
	: >"$T_TMP/wedge.log"
	daemon_start a --worker-path "$T_TMP/wedge-worker" || return
	S=${D_SOCK[a]}
	wait_for 10 grep -q 'index=1 .*mode=flood' "$T_TMP/wedge.log"
	pid1=$(sed -n 's/^index=1 pid=\([0-9]*\) mode=flood$/\1/p' "$T_TMP/wedge.log")
	[ -n "$pid1" ] || { not_ok "the compromised worker 1 started" "$(cat "$T_TMP/wedge.log")"; return; }
	/usr/bin/python3 "$SEC_DIR/probe_health.py" "$S" 6 >"$T_TMP/probe.out" 2>&1 &
	probe=$!
	sleep 0.5
	: >"$T_TMP/go" # worker 1 sends 600 messages that each get an error reply, and reads none
	run_cap timeout 60 "$ISOL8" run --socket "$S" -r bash -e 'echo root ran' </dev/null
	is "$RC|$OUT" $'0|root ran\n' "meanwhile root's run (worker 0) is served"
	wait "$probe"
	like "$(cat "$T_TMP/probe.out")" '^probes=[0-9]+ failed=0 ' "isol8d answered every health check while worker 1 did not read"
	local worst
	worst=$(sed -n 's/.*max_ms=\([0-9]*\).*/\1/p' "$T_TMP/probe.out")
	[ -n "$worst" ] && [ "$worst" -lt 1000 ] && ok "each within 1 s (slowest ${worst} ms)" ||
		not_ok "each health check answered within 1 s" "$(cat "$T_TMP/probe.out")"
	like "$(cat "${D_LOG[a]}")" "worker 1 \\(pid $pid1\\) has not read its channel( for [0-9]+ ms| \\([0-9]+ messages \\([0-9]+ bytes\\) already wait to be read\\)): restarting it" \
		"the broker says it restarts the worker that does not read"
	wait_for 10 grep -q 'index=1 .*mode=idle' "$T_TMP/wedge.log"
	pid2=$(sed -n 's/^index=1 pid=\([0-9]*\) mode=idle$/\1/p' "$T_TMP/wedge.log" | head -1)
	[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] && proc_gone "$pid1" && ok "worker 1 was killed ($pid1) and started again ($pid2)" ||
		not_ok "worker 1 was killed and started again" "$(cat "$T_TMP/wedge.log")"
	daemon_stop a
}

case_stopped_worker_is_restarted() {
	local S w w2 fpid res
	daemon_start c --workers 1 || return
	S=${D_SOCK[c]}
	w=$(daemon_workers c)
	kill -STOP "$w"
	# nobody's 4 connections reach the stopped worker: they fit in the kernel's queue, so no
	# send ever fails, and without the watch nothing would notice.
	as_nobody /usr/bin/python3 "$SEC_DIR/flood.py" "$S" 4 10 "$T_TMP/home-nobody/c.ready" hello >"$T_TMP/flood.out" 2>&1 &
	fpid=$!
	wait_for 10 grep -q "worker 0 (pid $w) has not read its channel for [0-9]* ms: restarting it" "${D_LOG[c]}" &&
		ok "the stopped worker is noticed and restarted" ||
		not_ok "the stopped worker is noticed and restarted" "$(tail -5 "${D_LOG[c]}")"
	wait_for 10 eval '[ -n "$(daemon_workers c)" ] && [ "$(daemon_workers c)" != "$w" ]'
	w2=$(daemon_workers c)
	[ -n "$w2" ] && [ "$w2" != "$w" ] && ok "a new worker runs (pid $w2, was $w)" || not_ok "a new worker runs" "now [$w2], was $w"
	run_cap timeout 30 "$ISOL8" run --socket "$S" -r bash -e 'echo next tenant ran' </dev/null
	is "$RC|$OUT" $'0|next tenant ran\n' "the next run, of another tenant (root), succeeds"
	wait "$fpid"
	res=$(cat "$T_TMP/flood.out")
	like "$res" '^accepted=4 refused=0 closed_by_daemon=4 ' "the connections the attacker held on the wedged worker were closed"
	kill -CONT "$w" 2>/dev/null
	daemon_stop c
}

case_verb_answer_that_never_comes() {
	local res
	res=$(timeout 60 /usr/bin/python3 "$SEC_DIR/fake_broker.py" "$BUILDDIR/isol8-worker" 2000 2>"$T_TMP/fb.err")
	diag "$res"
	like "$res" $'(^|\n)verb=40(\n|$)' "the run asks for a sandbox (V_CREATE), which is never answered"
	like "$res" $' error=isol8d did not answer request 40 within 2000 ms(\n|$)' \
		"the run ends with an error naming the verb and the wait"
	local after
	after=$(sed -n 's/^error_after_ms=\([0-9]*\) .*/\1/p' <<<"$res")
	[ -n "$after" ] && [ "$after" -ge 1800 ] && [ "$after" -lt 6000 ] && ok "after the timeout (${after} ms), not forever" ||
		not_ok "the error comes after the 2 s timeout" "$res"
	like "$res" $'(^|\n)late_reply_fd_closed=yes(\n|$)' "the late answer is dropped and the connection it carried closed"
	like "$res" $'(^|\n)next=sessions(\n|$)' "the worker serves the next connection"
}

run_cases "$@"
