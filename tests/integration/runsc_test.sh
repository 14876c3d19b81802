#!/bin/bash
# Issue 17 item 1: the run and security tests again, for tenants on gVisor. Each case runs one
# suite with ISOL8_TEST_ISOLATION=runsc (tests/lib/daemon.sh rewrites every daemon's policy:
# all tenants "isolation": "runsc", network none) and the cases that hold on both tiers.
#
# Left out, by design of the tier (isol8-policy(5), ISOLATION): the agent's fast path and what
# depends on it (run_test.sh ephemeral, standby; security/pid1_test.sh, reset_test.sh), the
# network (the net_* suites; hardening runs, asserting gVisor's documented answers for the
# seccomp filter, capabilities, read-only root, /sys/class/net and the pids limit). A
# memory-cgroup OOM kills the Sentry, the whole sandbox, and leaves dockerd's exec stream open:
# the worker watches the container while it pumps, so the run ends at once with exit 137 and
# the memory-limit line as under runc (the oom case; it ended only at its timeout before). TAP;
# exit 77 unless root with a runsc engine.
#
# Issue 17 item 4: a run may ask for a stronger tier than its tenant's (isol8 run --isolation,
# options.isolation), never a weaker one, and the warm pool keeps the tiers apart.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "$here/../lib/daemon.sh"

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (starts isol8d)"
	exit 77
fi
if ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
	echo "1..0 # SKIP the engine has no runsc runtime (tests/lib/engine.sh runsc)"
	exit 77
fi
SRC=${ISOL8_SRCDIR:-$here/../..}
daemon_setup runsc_test
command -v jq >/dev/null || bail "jq needed"

# suite SCRIPT CASE...: run SCRIPT's CASEs under runsc; one TAP line with its summary
suite() {
	local script=$1 out rc k args=()
	shift
	for k in "$@"; do args+=(-k "$k"); done
	out=$(ISOL8_TEST_ISOLATION=runsc "$here/../$script" "${args[@]}" 2>&1)
	rc=$?
	if [ "$rc" = 0 ]; then
		ok "$script under runsc ($*): $(printf '%s\n' "$out" | grep -E '^# [0-9]+ passed' | tail -1 | sed 's/^# //')"
	else
		not_ok "$script under runsc ($*): exit $rc" "$(printf '%s\n' "$out" | grep -E -A6 '^not ok|^Bail' | head -60)"
	fi
}

case_run() {
	suite integration/run_test.sh runtimes exit_codes stdin file_args usage_errors timeout output_cap \
		secrets_env files_output json sessions persist oom hardening
}

case_security() {
	suite security/fd_kinds_test.sh stdin_ bundle_ stdout_ file_put cli_put
	# persist_deadline watches the program's background process as a host pid: under gVisor the
	# sandbox's processes live in the Sentry, not on the host.
	suite security/persist_test.sh persist_quota persist_forbidden persist_ttl_ceiling persist_rm
	suite security/request_leak_test.sh refused_ worker_survives
}

# A runsc sandbox has no agent connection whose hang-up tells the pool it died: the worker asks
# the engine instead, so a removed pooled sandbox is replaced without a run coming.
case_reliability() {
	suite reliability/sandbox_death_test.sh pool_removed pool_heals cleanup_force
}

# as_nobody ARGS...: isol8 ARGS as an ordinary user (the built-in policy's tenant local)
as_nobody() {
	local q
	printf -v q '%q ' "$ISOL8" "$@"
	run_cap su nobody -s /bin/sh -c "$q"
}

# tier_run SOCK [--isolation TIER]: a run as nobody; TIER="RC|stdout|tier" (OUT: its result)
tier_run() {
	local s=$1
	shift
	as_nobody run --socket "$s" --json --timings "$@" -e 'print(7)'
	TIER="$RC|$(jq -r '[.stdout, .timings.isolation] | join("|")' <<<"$OUT" 2>/dev/null)"
}

# A runc tenant asks for gVisor: it gets a runsc sandbox, said in timings, and its runs without
# the flag stay on runc. Each key of the pool is topped up after a run, so the runs below find
# both tiers' sandboxes pooled: a run of one tier never takes the other's.
case_isolation_raised() {
	local S i want got
	daemon_start r || return
	S=${D_SOCK[r]}
	tier_run "$S" --isolation runsc
	is "$TIER" $'0|7\n|runsc' "a runc tenant asking --isolation runsc gets a sandbox whose timings say runsc"
	is "$(jq -r '.timings.execPath' <<<"$OUT")" docker-exec "  started through docker exec, as every runsc sandbox"
	got=""
	for want in runc runsc runc runsc runsc runc runc; do
		if [ "$want" = runsc ]; then tier_run "$S" --isolation runsc; else tier_run "$S"; fi
		got+="${TIER##*|} "
	done
	is "$got" "runc runsc runc runsc runsc runc runc " "runs alternating between the tiers each get the tier they asked for (the pool does not mix them)"
	tier_run "$S" --isolation runc
	is "$TIER" $'0|7\n|runc' "asking for runc, the tenant's own tier, is allowed"
	# A shape is listed once its pool has a sandbox warm, resetting or in use; a runsc one is
	# refilled by a fresh create (seconds on a busy engine), so wait up to 60 s.
	for i in $(seq 1 300); do
		got=$(as_nobody status --socket "$S" --json; jq -c '[.pools[] | select(.tenant == "local") | .isolation] | unique' <<<"$OUT")
		[ "$got" = '["runc","runsc"]' ] && break
		sleep 0.2
	done
	is "$got" '["runc","runsc"]' "isol8 status shows the tenant's pool with a runc and a runsc shape"
	[ "$got" = '["runc","runsc"]' ] || diag "pools: $(jq -c '.pools' <<<"$OUT")"
	like "$(grep -c 'created sandbox .* tenant=local .*isolation=runsc' "${D_LOG[r]}")" '^[1-9]' "isol8d's log names the tier of the sandboxes it made"
	daemon_stop r
}

# gVisor sandboxes have no network: asking for runsc with another mode is a usage error.
case_isolation_raised_needs_no_network() {
	daemon_start n || return
	as_nobody run --socket "${D_SOCK[n]}" --isolation runsc --net filtered -e 'print(1)'
	is "$RC|${ERR%$'\n'}" "2|[ERR] isolation runsc has no network (gVisor sandboxes run with network none), not network filtered: use --net none" \
		"--isolation runsc --net filtered: exit 2, one line naming the fix"
	as_nobody run --socket "${D_SOCK[n]}" --isolation kata -e 'print(1)'
	is "$RC|${ERR%$'\n'}" "2|[ERR] Invalid --isolation value 'kata': expected runc or runsc" "an unknown tier: exit 2"
	daemon_stop n
}

# A runsc tenant cannot lower its tier: --isolation runc is refused with the policy's tier named,
# and no sandbox is made.
case_isolation_lowered_refused() {
	local S
	jq '.tenants.local.isolation = "runsc" | .tenants.local.network = ["none"]' "$SRC/policy/default-policy.json" >"$T_TMP/runsc.json"
	daemon_start g --policy "$T_TMP/runsc.json" || return
	S=${D_SOCK[g]}
	as_nobody run --socket "$S" --isolation runc -e 'print(1)'
	is "$RC|${ERR%$'\n'}" "1|[ERR] isolation runc refused: the policy's tier for tenant local is runsc, which a run may raise but never lower (leave out --isolation or options.isolation)" \
		"a runsc tenant asking --isolation runc: exit 1 and one line naming the policy's tier"
	tier_run "$S" --isolation runsc
	is "$TIER" $'0|7\n|runsc' "asking for its own tier is allowed"
	tier_run "$S"
	is "$TIER" $'0|7\n|runsc' "and without the flag it is the policy's"
	daemon_stop g
}

# A session keeps the tier it was made with: a later run asking for another one is refused, not
# run in the session's sandbox of the other tier.
case_isolation_session() {
	local S
	daemon_start s || return
	S=${D_SOCK[s]}
	tier_run "$S" --session-id tiers1 --isolation runsc
	is "$TIER" $'0|7\n|runsc' "a session made with --isolation runsc runs under runsc"
	tier_run "$S" --session-id tiers1
	is "$TIER" $'0|7\n|runsc' "  a later run without the flag stays in it"
	as_nobody run --socket "$S" --session-id tiers1 --isolation runc -e 'print(1)'
	is "$RC|${ERR%$'\n'}" "2|[ERR] Cannot switch isolation: session 'tiers1' runs under runsc, this run asks for runc" \
		"  one asking for runc: exit 2, the session's tier named"
	daemon_stop s
}

# The same rule over HTTP (options.isolation): key alpha's tenant is runc and may ask for runsc;
# key bravo's is runsc and is refused runc with 403 and the policy's tier named. A runsc run
# stopped by its pids limit gets the error naming it (as case pids_limit_reached on the CLI).
case_isolation_http() {
	local port="" i ka=key-alpha-tiers-0123456789abcdef kb=key-bravo-tiers-0123456789abcdef pid code
	command -v curl >/dev/null || { ok "# SKIP curl needed"; return; }
	jq '.tenants.hostile = (.tenants.local | .match = {uids: [], gids: [], keys: ["bravo"]} | .isolation = "runsc" | .network = ["none"])' \
		"$SRC/policy/default-policy.json" >"$T_TMP/http-policy.json"
	daemon_start h --policy "$T_TMP/http-policy.json" || return
	printf 'alpha:%s\nbravo:%s\n' "$ka" "$kb" >"$T_TMP/keys"
	chmod 0600 "$T_TMP/keys"
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "${D_SOCK[h]}" --grace 5 >"$T_TMP/serve.log" 2>&1 </dev/null &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/serve.log" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		not_ok "isol8 serve started" "$(cat "$T_TMP/serve.log")"
	else
		code=$(curl -s -o "$T_TMP/b1" -w '%{http_code}' -H "Authorization: Bearer $ka" -H 'Content-Type: application/json' \
			--data-binary '{"request":{"code":"print(7)","runtime":"python"},"options":{"isolation":"runsc"}}' "http://127.0.0.1:$port/execute")
		is "$code|$(jq -c '[.stdout, .timings.isolation]' "$T_TMP/b1")" '200|["7\n","runsc"]' \
			"HTTP: a runc tenant's options.isolation runsc runs under gVisor"
		code=$(curl -s -o "$T_TMP/b2" -w '%{http_code}' -H "Authorization: Bearer $kb" -H 'Content-Type: application/json' \
			--data-binary '{"request":{"code":"print(7)","runtime":"python"},"options":{"isolation":"runc"}}' "http://127.0.0.1:$port/execute")
		is "$code|$(jq -r .error "$T_TMP/b2")" "403|isolation runc refused: the policy's tier for tenant hostile is runsc, which a run may raise but never lower (leave out --isolation or options.isolation)" \
			"HTTP: a runsc tenant's options.isolation runc: 403 naming the policy's tier"
		code=$(curl -s -o "$T_TMP/b3" -w '%{http_code}' -H "Authorization: Bearer $ka" -H 'Content-Type: application/json' \
			--data-binary '{"request":{"code":"print(7)","runtime":"python"},"options":{"isolation":"kata"}}' "http://127.0.0.1:$port/execute")
		is "$code|$(jq -r .error "$T_TMP/b3")" '400|options.isolation: expected runc or runsc, got "kata"' "HTTP: an unknown tier: 400"
		code=$(curl -s -o "$T_TMP/b4" -w '%{http_code}' -H "Authorization: Bearer $ka" -H 'Content-Type: application/json' \
			--data-binary '{"request":{"code":"for i in $(seq 100); do sleep 5 & done; wait","runtime":"bash"},"options":{"isolation":"runsc","pidsLimit":32}}' "http://127.0.0.1:$port/execute")
		is "$code|$(jq -r .error "$T_TMP/b4")" "502|the program reached the sandbox's process limit (pids-limit 32) and gVisor stopped the sandbox (runsc cannot refuse a fork with EAGAIN, google/gvisor#2490)" \
			"HTTP: forking past pidsLimit 32 under runsc: the error names the process limit"
	fi
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	daemon_stop h
}

# The Sentry is host threads in the sandbox's pids cgroup: a program that forks up to the limit
# takes its threads, and gVisor dies instead of refusing the fork with EAGAIN (google/gvisor#2490).
# The broker reads the cause (pids.events, or the kernel's record of the refusal once the cgroup
# is gone) and the run ends with one line naming the limit; the next run gets a fresh sandbox.
case_pids_limit_reached() {
	local S
	daemon_start p || return
	S=${D_SOCK[p]}
	as_nobody run --socket "$S" --isolation runsc --pids-limit 32 -r bash -e 'for i in $(seq 100); do sleep 5 & done; wait'
	is "$RC|$(tail -n 1 <<<"${ERR%$'\n'}")" "1|[ERR] the program reached the sandbox's process limit (pids-limit 32) and gVisor stopped the sandbox (runsc cannot refuse a fork with EAGAIN, google/gvisor#2490)" \
		"forking past --pids-limit 32 under runsc: exit 1 and the last stderr line names the process limit"
	unlike "$ERR" 'the sandbox was killed while' "  not reported as a sandbox killed from outside"
	tier_run "$S" --isolation runsc
	is "$TIER" $'0|7\n|runsc' "  the next run works"
	daemon_stop p
}

run_cases "$@"
