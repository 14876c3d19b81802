#!/bin/bash
# Reliability (issue 19): the Docker engine stops and starts again under a running isol8d. On a
# PRIVATE dockerd (tests/reliability/private_engine.sh), never the machine's. isol8d must stay
# up, fail requests fast and clearly while the engine is down, serve the first run after it
# answers again, and leave no container of the old engine's life behind. TAP; exit 77 (skip)
# unless root; needs dockerd.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"
# shellcheck source=private_engine.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/reliability/private_engine.sh"

daemon_setup engine_restart_test
command -v dockerd >/dev/null || { echo "1..0 # SKIP no dockerd"; exit 77; }
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
eng_start || bail "cannot start a private dockerd"
eng_load isol8:python || bail "cannot copy isol8:python into the private engine"

HELLO='print("hello")'

case_engine_restart() {
	local i t0 ms left
	DOCKER_HOST=unix://$ENG_SOCK daemon_start er || return
	run_cap i8 er run -e "$HELLO"
	is "$RC|$OUT|$ERR" $'0|hello\n|' "engine up: a run succeeds"
	for ((i = 0; i < 100; i++)); do
		[ "$(eng_containers er | grep -c running)" -ge 2 ] && break
		sleep 0.1
	done
	eng_stop
	run_cap i8 er run -e "$HELLO"
	is "$RC|$OUT|$ERR" "1||[ERR] cannot reach Docker at $ENG_SOCK: No such file or directory (is dockerd running?)"$'\n' \
		"engine down: a run fails with one clear line"
	ok_fast=$([ "$ELAPSED_MS" -lt 3000 ] && echo yes || echo "no ($ELAPSED_MS ms)")
	is "$ok_fast" yes "engine down: and fails fast, not a hang"
	proc_gone "${D_PID[er]}" && not_ok "engine down: isol8d stays up" || ok "engine down: isol8d stays up"
	eng_start || { not_ok "private dockerd restarted"; return; }
	t0=$(date +%s%N)
	run_cap i8 er run -e "$HELLO"
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$RC|$OUT|$ERR" $'0|hello\n|' "engine back: the first run succeeds ($ms ms)"
	GOOD=0
	for ((i = 0; i < 5; i++)); do
		run_cap i8 er run -e "$HELLO"
		[ "$RC|$OUT" = $'0|hello\n' ] && GOOD=$((GOOD + 1))
	done
	is "$GOOD" 5 "engine back: and the 5 after it"
	# The pool's sandboxes of before the restart (stopped with the engine) are removed once it
	# answers; only running ones remain.
	for ((i = 0; i < 250; i++)); do
		left=$(eng_containers er | grep -v ' running$')
		[ -z "$left" ] && break
		sleep 0.1
	done
	is "$left" "" "engine back: no container of before the restart is left (within 25 s)"
	daemon_stop er
	is "$(eng_containers er)" "" "engine back: stopping isol8d leaves nothing on the engine"
}

run_cases "$@"
