#!/bin/bash
# Issue 17 item 1: the isolation tier is the tenant's, from the policy ("isolation": "runc" |
# "runsc"). Asserts: a runsc tenant's sandboxes are created with HostConfig.Runtime runsc and
# run under gVisor (its kernel answers), without the agent, and --timings says so; a tenant
# without the key stays on runc with the agent; no request can lower the tier; a runsc
# tenant's network list is refused at load when it names more than none; an engine without
# runsc refuses the tenant's runs with one error that says how to fix it, and serves the other
# tenants. TAP; exit 77 unless root, 77 when the engine has no runsc runtime (tests/lib/engine.sh
# runsc registers it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../security/lib.sh
. "$here/../security/lib.sh"
SRC=${ISOL8_SRCDIR:-$(cd "$here/../.." && pwd)}

if [ "$(id -u)" = 0 ] && ! docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
	echo "1..0 # SKIP the engine has no runsc runtime (tests/lib/engine.sh runsc)"
	exit 77
fi
daemon_setup isolation_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"

FALLBACK='gVisor (runsc): the agent'"'"'s socket and fd passing do not cross the Sentry, so programs start through docker exec and sandboxes are not reused'

# policy FILE: the built-in policy with tenant local on runsc (network none)
runsc_policy() {
	jq '.tenants.local.isolation = "runsc" | .tenants.local.network = ["none"]' \
		"$SRC/policy/default-policy.json" >"$1"
}

# runtime_of ID TENANT: HostConfig.Runtime of the daemon's running sandboxes of TENANT, waiting
# up to 10 s for one (the run prints "up" and sleeps meanwhile)
runtime_of() {
	local c i
	for ((i = 0; i < 100; i++)); do
		c=$(docker ps -q --filter "label=org.isol8.instance=${D_SOCK[$1]}" --filter "label=org.isol8.tenant=$2" \
			--filter "label=org.isol8.kind=ephemeral")
		[ -n "$c" ] && break
		sleep 0.1
	done
	[ -n "$c" ] && docker inspect -f '{{.HostConfig.Runtime}} {{index .Config.Labels "org.isol8.isolation"}}' $c | sort -u
}

case_runsc_tenant() {
	local rt pid rc
	runsc_policy "$T_TMP/runsc.json"
	daemon_start g --policy "$T_TMP/runsc.json" --pool-size 0 || return
	# gVisor's kernel reports itself as 4.4.0 and boots with "Starting gVisor..."; threads
	# start (clone3's ENOSYS fallback) and a child process runs.
	as_nobody "$ISOL8" run --socket "${D_SOCK[g]}" --timings -r python -e '
import subprocess, threading, time
print(open("/proc/version").read().split()[2])
print(subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()[0].split("] ")[1])
t = threading.Thread(target=print, args=("thread",)); t.start(); t.join()
print("up", flush=True); time.sleep(3)' >"$T_TMP/g.out" 2>"$T_TMP/g.err" </dev/null &
	pid=$!
	rt=$(runtime_of g local)
	wait $pid
	rc=$?
	is "$rc" 0 "the runsc tenant's run succeeded"
	[ "$rc" = 0 ] || diag "$(cat "$T_TMP/g.err")"
	is "$rt" "runsc runsc" "its sandbox was created with HostConfig.Runtime runsc (and labelled so)"
	is "$(cat "$T_TMP/g.out")" "4.4.0
Starting gVisor...
thread
up" "the program ran on gVisor's kernel, with threads"
	is "$(grep -E '^\[Timing\] (isolation|execPath|fallback):' "$T_TMP/g.err")" "[Timing] isolation: runsc
[Timing] execPath: docker-exec
[Timing] fallback: $FALLBACK" "--timings names the tier, the exec path and why the agent was not used"
	daemon_stop g
}

case_runc_default() {
	local rt pid
	daemon_start c --pool-size 0 || return
	as_nobody "$ISOL8" run --socket "${D_SOCK[c]}" --timings -r python -e '
import time
print(open("/proc/version").read().split()[2] != "4.4.0")
print("up", flush=True); time.sleep(3)' >"$T_TMP/c.out" 2>"$T_TMP/c.err" </dev/null &
	pid=$!
	rt=$(runtime_of c local)
	wait $pid
	is "$?" 0 "the run of a tenant without \"isolation\" succeeded"
	is "$rt" "runc runc" "its sandbox runs under runc"
	is "$(cat "$T_TMP/c.out")" "True
up" "on the host's kernel"
	is "$(grep -E '^\[Timing\] (isolation|execPath|fallback):' "$T_TMP/c.err")" "[Timing] isolation: runc
[Timing] execPath: agent" "--timings: runc through the agent, no fallback"
	daemon_stop c
}

# A run may ask for a stronger tier (--isolation runsc, runsc_test covers it) but never a
# weaker one than its tenant's: the broker refuses it, whatever the CLI sends.
case_request_cannot_lower() {
	runsc_policy "$T_TMP/runsc-low.json"
	daemon_start l --policy "$T_TMP/runsc-low.json" --pool-size 0 || return
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[l]}" --isolation runc -e 'print(1)' </dev/null
	is "$RC|$OUT|$ERR" "1||[ERR] isolation runc refused: the policy's tier for tenant local is runsc, which a run may raise but never lower (leave out --isolation or options.isolation)"$'\n' \
		"a runsc tenant asking for runc: refused with one [ERR] line, exit 1, nothing ran"
	run_cap "$ISOL8" run --socket "${D_SOCK[l]}" --isolation kata -e 'print(1)' </dev/null
	is "$RC" 2 "an unknown tier is a usage error (exit 2)"
	like "$ERR" '^\[ERR\] ' "  with an [ERR] line"
	daemon_stop l
}

case_runsc_network_refused_at_load() {
	jq '.tenants.local.isolation = "runsc"' "$SRC/policy/default-policy.json" >"$T_TMP/bad.json"
	run_cap timeout 20 "$ISOL8D" --policy "$T_TMP/bad.json" --socket "$T_TMP/bad.sock" --foreground
	is "$RC" 1 "isol8d refuses to start"
	like "$ERR" "tenants\\.local\\.network: isolation \"runsc\" allows \\[\"none\"\\] only \\(gVisor sandboxes have no network\\)" \
		"naming the tenant, the key and the rule"
	is "$([ -e "$T_TMP/bad.sock" ] && echo left || echo none)" none "and leaves no socket"
}

case_engine_without_runsc() {
	local fp i
	runsc_policy "$T_TMP/runsc.json"
	python3 "$here/fake_engine.py" "$T_TMP/engine.sock" "$T_TMP/engine.log" &
	fp=$!
	for ((i = 0; i < 50; i++)); do [ -S "$T_TMP/engine.sock" ] && break; sleep 0.1; done
	DOCKER_HOST=unix://$T_TMP/engine.sock daemon_start f --policy "$T_TMP/runsc.json" --pool-size 0 || { kill $fp; return; }
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[f]}" -r python -e 'print(1)'
	is "$RC" 1 "a run of the runsc tenant fails"
	is "$ERR" '[ERR] tenant local needs the OCI runtime runsc (policy "isolation"), which the engine does not have: install it and register it in /etc/docker/daemon.json "runtimes", then reload dockerd (kill -HUP)
' "with one [ERR] line naming the tenant, the runtime and the fix"
	# root is tenant admin (runc): it gets past the runtime check to the (fake) image lookup
	run_cap "$ISOL8" run --socket "${D_SOCK[f]}" -r python -e 'print(1)'
	is "$ERR" "[ERR] image isol8:python not found (run 'isol8 setup')
" "another tenant is not refused for the runtime"
	like "$(grep -c '^GET /info$' "$T_TMP/engine.log")" '^[1-9]' "the broker asked the engine's /info"
	daemon_stop f
	kill $fp
	wait $fp 2>/dev/null
}

# Issue 17 item 2: "hostUid" gives a tenant's sandboxes a host identity of their own. Two
# tenants run at once: each program is its tenant's uid on the host (and inside), and a
# process with one tenant's uid can neither signal nor read the other's program through the
# host's /proc, while the same uid can signal it (what all tenants shared with 100:101).
case_host_uid_per_tenant() {
	local pa pb ca cb A B i
	jq '.tenants.a = (.tenants.local + {match: {uids: [65534], gids: [], keys: []}, hostUid: 20001})
	  | .tenants.b = (.tenants.local + {match: {uids: [1], gids: [], keys: []}, hostUid: 20002})' \
		"$SRC/policy/default-policy.json" >"$T_TMP/uids.json"
	daemon_start u --policy "$T_TMP/uids.json" --pool-size 0 || return
	mkdir -p "$T_TMP/home-daemon" && chmod 0777 "$T_TMP/home-daemon"
	as_nobody "$ISOL8" run --socket "${D_SOCK[u]}" -r bash -e 'id -u; id -g; touch /sandbox/f; stat -c %u /sandbox/f; exec sleep 6' \
		>"$T_TMP/a.out" 2>&1 </dev/null &
	pa=$!
	setpriv --reuid=daemon --regid=daemon --clear-groups env HOME="$T_TMP/home-daemon" \
		"$ISOL8" run --socket "${D_SOCK[u]}" -r bash -e 'id -u; exec sleep 6' >"$T_TMP/b.out" 2>&1 </dev/null &
	pb=$!
	for ((i = 0; i < 100; i++)); do
		ca=$(docker ps -q --filter "label=org.isol8.instance=${D_SOCK[u]}" --filter label=org.isol8.tenant=a)
		cb=$(docker ps -q --filter "label=org.isol8.instance=${D_SOCK[u]}" --filter label=org.isol8.tenant=b)
		A=$(docker top "$ca" -eo pid,comm 2>/dev/null | awk '$2 == "sleep" {print $1}')
		B=$(docker top "$cb" -eo pid,comm 2>/dev/null | awk '$2 == "sleep" {print $1}')
		[ -n "$A" ] && [ -n "$B" ] && break
		sleep 0.1
	done
	is "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$A/status")" "20001 20001 20001 20001" \
		"tenant a's program is host uid 20001"
	is "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$B/status")" "20002 20002 20002 20002" \
		"tenant b's program, at the same time, is host uid 20002"
	is "$(awk '/^Gid:/ {print $2}' "/proc/$A/status") $(awk '/^Gid:/ {print $2}' "/proc/$B/status")" "20001 20002" \
		"and gid"
	run_cap setpriv --reuid=20001 --regid=20001 --clear-groups kill -0 "$B"
	like "$RC $ERR" '^1 .*Operation not permitted' "tenant a's uid cannot signal tenant b's program"
	run_cap setpriv --reuid=20001 --regid=20001 --clear-groups cat "/proc/$B/environ"
	like "$RC $ERR" '^1 .*Permission denied' "nor read its environment through the host's /proc"
	run_cap setpriv --reuid=20002 --regid=20002 --clear-groups kill -0 "$B"
	is "$RC" 0 "(its own uid can: a shared uid was all that stood between tenants)"
	wait $pa
	is "$?|$(cat "$T_TMP/a.out")" "0|20001
20001
20001" "inside, tenant a's program is 20001:20001 and owns what it creates in /sandbox"
	wait $pb
	is "$?|$(cat "$T_TMP/b.out")" "0|20002" "tenant b's run succeeded as 20002"
	daemon_stop u
}

case_host_uid_refused() {
	jq '.tenants.local.hostUid = 100' "$SRC/policy/default-policy.json" >"$T_TMP/low.json"
	run_cap timeout 20 "$ISOL8D" --policy "$T_TMP/low.json" --socket "$T_TMP/low.sock" --foreground
	like "$RC|$ERR" '^1\|.*tenants\.local\.hostUid: .*10000' "a hostUid among the host's own accounts is refused"
	jq '.tenants.admin.hostUid = 30000 | .tenants.local.hostUid = 30000' "$SRC/policy/default-policy.json" >"$T_TMP/dup.json"
	run_cap timeout 20 "$ISOL8D" --policy "$T_TMP/dup.json" --socket "$T_TMP/dup.sock" --foreground
	like "$RC|$ERR" '^1\|.*tenants\.local\.hostUid: 30000 is also the hostUid of tenant admin' \
		"two tenants cannot share a hostUid"
}

run_cases "$@"
