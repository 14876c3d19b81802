#!/bin/bash
# Reliability (issue 19): deadlines. The broker's hard deadline and the worker's pool must agree
# on who owns an idle sandbox, and the run's timeout counts the program, not the time spent
# getting a sandbox. TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup deadline_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"

# A sandbox taken from the pool gets the run's deadline (timeout + 60 s); once reset and back
# in the pool it must not keep it, or the broker removes it under the pool's feet and the run
# that takes it next is refused as if it were an attack.
case_pool_deadline_race() {
	local i
	daemon_start dr || return
	for i in 1 2 3; do
		run_cap i8 dr run --timeout 1000 -e 'print("hello")'
		is "$RC|$OUT|$ERR" $'0|hello\n|' "deadline race: run $i succeeds"
		sleep 0.5
	done
	diag "waiting 63 s: past the hard deadline a reused sandbox had (timeout + 60 s)"
	sleep 63
	run_cap i8 dr run --timeout 1000 -e 'print("hello")'
	is "$RC|$OUT|$ERR" $'0|hello\n|' "deadline race: the run after the idle minute succeeds"
	is "$(grep -E 'past their hard deadline|refused' "${D_LOG[dr]}")" "" \
		"deadline race: no sweep of pooled sandboxes and no refusal in the daemon's log"
	daemon_stop dr
}

# Without a pool every run creates its sandbox (a few hundred ms): the program still gets its
# whole timeout.
case_timeout_counts_program() {
	local j
	daemon_start tp --pool-size 0 || return
	run_cap i8 tp run --json --timeout 1000 -e $'import time\nwhile True: time.sleep(0.05)'
	j=$(printf '%s' "$OUT" | jq -c '{exitCode, timedOut, e: (.timings.execMs >= 990), a: .timings.acquireMs}')
	diag "result: $j"
	like "$RC|$j" '^124\|\{"exitCode":124,"timedOut":true,"e":true,"a":[0-9]+\}$' \
		"timeout: killed at 1000 ms of the program's own time, acquire not counted (exit 124)"
	run_cap i8 tp run --timeout 1000 -e $'import time\ntime.sleep(0.7)\nprint("in time")'
	is "$RC|$OUT|$ERR" $'0|in time\n|' "timeout: a program within its timeout ends normally"
	daemon_stop tp
}

run_cases "$@"
