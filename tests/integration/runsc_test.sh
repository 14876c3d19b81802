#!/bin/bash
# Issue 17 item 1: the run and security tests again, for tenants on gVisor. Each case runs one
# suite with ISOL8_TEST_ISOLATION=runsc (tests/lib/daemon.sh rewrites every daemon's policy:
# all tenants "isolation": "runsc", network none) and the cases that hold on both tiers.
#
# Left out, by design of the tier (isol8-policy(5), ISOLATION): the agent's fast path and what
# depends on it (run_test.sh ephemeral, standby; security/pid1_test.sh, reset_test.sh), the
# seccomp profile and the network (hardening; the net_* suites). A memory-cgroup OOM kills the
# Sentry, the whole sandbox, and leaves dockerd's exec stream open: the worker watches the
# container while it pumps, so the run ends at once with exit 137 and the memory-limit line as
# under runc (the oom case; it ended only at its timeout before). TAP; exit 77 unless root with
# a runsc engine.
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
		secrets_env files_output json sessions persist oom
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

run_cases "$@"
