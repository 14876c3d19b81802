#!/bin/bash
# isol8d --config FILE (maxConcurrent, poolStrategy, poolSize) and --pool-size N|CLEAN,DIRTY end
# to end: a real isol8d, the CLI, the engine and the isol8:bash image. Containers are observed
# through the daemon's own instance label (its unique socket path). TAP, final
# "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup pool_config_test
docker image inspect isol8:bash >/dev/null 2>&1 || bail "image isol8:bash missing (isol8 setup)"

# hostname of the sandbox a run used: Docker's default, the container id's first 12 digits.
run_host() { # ID
	run_cap "$ISOL8" run --socket "${D_SOCK[$1]}" -r bash -e 'cat /etc/hostname' </dev/null
}
count() { daemon_containers "$1" | grep -c . ; }
exists() { docker inspect "$1" >/dev/null 2>&1; }
# wait_for SECONDS CMD...: poll until CMD succeeds
wait_for() {
	local n=$(($1 * 10))
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
worker_args() { # ID: the command line of its (single) worker, spaces between arguments
	local w
	w=$(daemon_workers "$1" | head -1)
	[ -n "$w" ] && tr '\0' ' ' <"/proc/$w/cmdline"
}

# The good file of two cases: poolSize {clean: 1, dirty: 1}, maxConcurrent 1.
CONF=$T_TMP/isol8.config.json
cat >"$CONF" <<'EOF'
{
  "maxConcurrent": 1,
  "poolStrategy": "fast",
  "poolSize": { "clean": 1, "dirty": 1 },
  "defaults": { "timeoutMs": 30000 }
}
EOF

# Bad config files: one line naming the file and the JSON path, exit 1, nothing started.
case_bad_config_files() {
	bad_config() { # JSON WANT-STDERR-SUFFIX DESC
		local f=$T_TMP/bad.json
		printf '%s\n' "$1" >"$f"
		run_cap timeout 30 "$ISOL8D" --config "$f" --worker-path "$BUILDDIR/isol8-worker" \
			--socket "$T_TMP/bad.sock" --socket-mode 0666 --foreground
		is "$RC|$OUT|$ERR" "1||isol8d: error: $f: $2
" "bad config: $3"
	}
	bad_config '{"poolSize": {"clean": 1}}' "poolSize.dirty: missing required key" \
		"poolSize object without dirty"
	bad_config '{"poolSize": {"dirty": 1}}' "poolSize.clean: missing required key" \
		"poolSize object without clean"
	bad_config '{"maxConcurrent": "ten"}' "maxConcurrent: expected number, got string" "maxConcurrent type"
	bad_config '{"maxConcurrent": 0}' "maxConcurrent: 0 is out of range [1, 1024]" "maxConcurrent 0"
	bad_config '{"poolStrategy": "slow"}' 'poolStrategy: invalid value "slow" (expected one of: fast, secure)' \
		"poolStrategy value"
	bad_config '{"poolSize": {"clean": 1, "dirty": 1, "extra": 2}}' "poolSize.extra: unknown key" \
		"unknown key under poolSize"
	bad_config '{"poolSize": {"clean": 1, "dirty": 17}}' "poolSize.dirty: 17 is more than isol8d supports (0..16)" \
		"poolSize.dirty above isol8d's bound"
	bad_config '{"poolSize": 99}' "poolSize: 99 is more than isol8d supports (0..16)" "poolSize number above the bound"
	bad_config '{"poolSize": -1}' "poolSize: -1 is out of range [0, 256]" "negative poolSize"
	bad_config '{"poolSize": [1, 1]}' "poolSize: expected number or object, got array" "poolSize array"
	bad_config '{"maxConcurrent": 3,' "line 2, column 1: unexpected end of document" "truncated JSON"
	run_cap "$ISOL8D" --config "$T_TMP/absent.json" --socket "$T_TMP/bad.sock" --foreground
	is "$RC|$ERR" "1|isol8d: error: $T_TMP/absent.json: No such file or directory
" "missing config file: one line, exit 1"
	for v in "1,x" "17" "1,2,3" "" "-1,1" "1, 1"; do
		run_cap "$ISOL8D" --pool-size "$v" --socket "$T_TMP/bad.sock" --foreground
		is "$RC|$ERR" "2|isol8d: error: --pool-size: invalid pool size \"$v\": expected N or CLEAN,DIRTY (0..16)
" "--pool-size '$v' refused in one line"
	done
	is "$(find "$T_TMP" -maxdepth 1 -name '*.sock' | wc -l)" 0 "no socket left by a refused start"
}

# A good file: poolSize {clean: 1, dirty: 1}, maxConcurrent 1.
case_good_file() {
	if daemon_start c --workers 1 --queue 0 --config "$CONF"; then
		like "$(cat "${D_LOG[c]}")" "config $CONF: maxConcurrent 1, poolStrategy fast, poolSize clean 1 dirty 1" \
			"config: the file's values are in effect (log)"
		like "$(worker_args c)" "--pool-size 1 --pool-dirty 1 --pool-strategy fast" "config: worker gets clean 1, dirty 1"
		run_host c
		h1=${OUT%$'\n'}
		is "$RC|$ERR" "0|" "config: a run works"
		like "$h1" '^[0-9a-f]{12}$' "config: the run reports its sandbox"
		# The reset happens after the result is returned; give it a moment, then the used sandbox
		# should be back in the pool (dirty 1 allows one reset at a time).
		sleep 2
		run_host c
		is "$RC|${OUT%$'\n'}" "0|$h1" "dirty 1: the used sandbox was reset and serves the next run"
		sleep 1
		is "$(count c)" 2 "clean 1 + the reset one: two sandboxes idle"

		# maxConcurrent 1 from the file: with --queue 0 a second run while one runs is refused.
		"$ISOL8" run --socket "${D_SOCK[c]}" -r bash -e 'sleep 4' </dev/null >/dev/null 2>&1 &
		bg=$!
		sleep 1.5
		run_cap "$ISOL8" run --socket "${D_SOCK[c]}" -r bash -e 'echo second' </dev/null
		like "$ERR" "isol8d is busy: 1 of at most 1 executions running" "maxConcurrent 1 from the file is enforced"
		wait "$bg"
		is "$?" 0 "the long run finished"
		daemon_stop c
	fi
}

# Flags win over the file; --pool-size 1,0: used sandboxes are removed, never reset.
case_flags_win_over_file() {
	if daemon_start o --workers 1 --queue 0 --config "$CONF" --max-concurrent 4 --pool-size 1,0; then
		like "$(cat "${D_LOG[o]}")" "config $CONF: maxConcurrent 4, poolStrategy fast, poolSize clean 1 dirty 0" \
			"flags override the file (log)"
		like "$(worker_args o)" "--pool-size 1 --pool-dirty 0 " "override: worker gets clean 1, dirty 0"
		seen=""
		for i in 1 2 3; do
			run_host o
			h=${OUT%$'\n'}
			is "$RC|$ERR" "0|" "dirty 0: run $i works"
			unlike " $seen " " $h " "dirty 0: run $i got a sandbox no run used before"
			# The used one goes away shortly after the result (removal, not a reset).
			if wait_for 20 bash -c "! docker inspect $h >/dev/null 2>&1"; then
				ok "dirty 0: run $i's sandbox was removed"
			else
				not_ok "dirty 0: run $i's sandbox was removed" "$(docker ps -a --filter "id=$h")"
			fi
			seen="$seen $h"
			# Let the replacement fill land before the next run: a run that finds the pool empty
			# starts a fill of its own, and two would then sit idle (pool_fill_async, not dirty).
			sleep 2
		done
		n=$(count o)
		if ((n <= 1)); then
			ok "dirty 0: at most the one clean sandbox remains ($n)"
		else
			not_ok "dirty 0: at most the one clean sandbox remains" "$(daemon_containers o)"
		fi
		for h in $seen; do exists "$h" && not_ok "used sandbox $h still exists"; done

		# --max-concurrent 4 beat the file's 1: a second run next to a running one is served.
		"$ISOL8" run --socket "${D_SOCK[o]}" -r bash -e 'sleep 3' </dev/null >/dev/null 2>&1 &
		bg=$!
		sleep 1.5
		run_cap "$ISOL8" run --socket "${D_SOCK[o]}" -r bash -e 'echo second' </dev/null
		is "$RC|$OUT" $'0|second\n' "--max-concurrent 4 overrides the file's maxConcurrent 1"
		wait "$bg"
		daemon_stop o
	fi
}

# No --config: the daemon's own defaults (clean 2, dirty 2).
case_daemon_defaults() {
	if daemon_start d --workers 1; then
		like "$(worker_args d)" "--pool-size 2 --pool-dirty 2 --pool-strategy fast" "no --config: clean 2, dirty 2"
		unlike "$(cat "${D_LOG[d]}")" "config .*poolSize" "no --config: no config file read"
		daemon_stop d
	fi
	if daemon_start n --workers 1 --pool-size 3; then
		like "$(worker_args n)" "--pool-size 3 --pool-dirty 3 " "--pool-size N means clean = dirty = N"
		daemon_stop n
	fi
}

run_cases "$@"
