#!/bin/bash
# isol8 doctor (issue 14): host checks and a probe in a real sandbox for each network mode the
# caller may use, as a table of expected and seen values; exit 1 on any failed check. A daemon
# started with a seccomp profile that allows everything is caught. Real isol8d, real engine.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"

daemon_setup doctor_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
command -v jq >/dev/null || bail "jq needed"

SANDBOX_CHECKS='probe ran,isolation tier,capabilities empty,no_new_privs,seccomp filter on,sample syscalls refused,root filesystem read-only,/tmp noexec,runs as its own uid,NET,no Docker socket,host processes invisible,limits as applied'

case_all_pass() {
	local S
	daemon_start d || return
	S=${D_SOCK[d]}
	run_cap "$ISOL8" doctor --socket "$S"
	is "$RC|$(tail -1 <<<"${OUT%$'\n'}")" "0|[OK] all checks passed" "doctor passes on a sound host and daemon"
	like "$(head -1 <<<"$OUT")" '^  GROUP +CHECK +EXPECTED +SEEN$' "a table with expected and seen columns"
	like "$OUT" $'\n✓ sandbox \\(none\\) +root filesystem read-only +EROFS +EROFS\n' "a ✓ row shows expected and seen"
	run_cap "$ISOL8" doctor --socket "$S" --json
	is "$RC|$(jq -c '[.ok, .failed]' <<<"$OUT")" '0|[true,0]' "--json: ok, nothing failed"
	is "$(jq -r '[.checks[] | select(.group == "sandbox (none)") | .check] | join(",")' <<<"$OUT")" "${SANDBOX_CHECKS/NET/no network}" \
		"every conformance check ran in a sandbox without network"
	is "$(jq -r '[.checks[] | select(.group == "sandbox (filtered)") | .check] | join(",")' <<<"$OUT")" "${SANDBOX_CHECKS/NET/only the proxy}" \
		"and in a filtered one"
	is "$(jq -r '[.checks[] | select(.group | startswith("sandbox")) | .status] | unique | join(",")' <<<"$OUT")" ok "all of them ✓"
	is "$(jq -c '[.checks[] | select(.group == "policy") | .check, .status, .seen]' <<<"$OUT")" \
		'["writable root refused","skip","allowed: your tenant is an admin'"'"'s (isol8-policy(5) admin)"]' \
		"root's tenant may ask for a writable root: said, not failed (an admin's)"
	is "$(jq -r '.checks[] | select(.check == "limits as applied" and .group == "sandbox (none)") | .seen' <<<"$OUT")" \
		"memory 536870912, pids 64, cpu 1.00" "the sandbox's cgroup limits are the ones isol8d applied"
	is "$(jq -r '.checks[] | select(.check == "sample syscalls refused" and .group == "sandbox (none)") | .seen' <<<"$OUT")" \
		"unshare EPERM, keyctl EPERM, add_key EPERM, mount EPERM, kexec_load EPERM, userfaultfd EPERM" "each sample syscall refused"
	is "$(jq -r '[.checks[] | select(.group == "host") | .check] | join(",")' <<<"$OUT")" \
		"engine reachable,runc version,runtime images,runtime runsc,runsc seccomp,cgroup version,seccomp available,iptables available,isol8d socket,policy valid,systemd unit hardening" \
		"the host checks"
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '$S' --json"
	is "$RC|$(jq -c '[.ok, (.checks[] | select(.check == "engine reachable") | .status)]' <<<"$OUT")" '0|[true,"skip"]' \
		"another user: the engine check is skipped (only root may use Docker), the probes pass"
	is "$(jq -c '[.checks[] | select(.group == "policy") | .status, .seen]' <<<"$OUT")" '["ok","refused"]' \
		"  and its tenant is refused a writable root"
	daemon_stop d
}

# A tenant on gVisor (issue 17): the tier is shown, the checks of the host kernel's
# confinement that the Sentry answers for itself are skipped, not failed; the rest pass.
case_runsc_tenant() {
	local S
	docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' || { ok "# SKIP the engine has no runsc"; return; }
	jq '.tenants.local.isolation = "runsc" | .tenants.local.network = ["none"]' "$SRC/policy/default-policy.json" >"$T_TMP/runsc.json"
	daemon_start g --policy "$T_TMP/runsc.json" || return
	S=${D_SOCK[g]}
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '$S' --json"
	is "$RC|$(jq -c '.ok' <<<"$OUT")" '0|true' "doctor passes for a runsc tenant"
	is "$(jq -r '.checks[] | select(.check == "isolation tier") | .seen' <<<"$OUT")" "runsc, docker-exec" \
		"the tier and the exec path are shown"
	is "$(jq -r '[.checks[] | select(.group == "sandbox (none)" and .status == "skip") | .check] | join(",")' <<<"$OUT")" \
		"no_new_privs,seccomp filter on,sample syscalls refused,root filesystem read-only,limits as applied" \
		"the host-kernel checks gVisor answers for itself are skipped"
	run_cap "$ISOL8" doctor --socket "$S" --json
	is "$(jq -r '.checks[] | select(.check == "runsc seccomp") | .status + " " + .seen' <<<"$OUT")" \
		"ok profile on the sandbox's init; docker exec'd programs unfiltered (gVisor)" \
		"the engine's runsc has --oci-seccomp, and doctor says what it covers"
	daemon_stop g
}

# A tenant with its own host uid (issue 17 item 2) passes the uid check as that uid.
case_host_uid_tenant() {
	jq '.tenants.local.hostUid = 20001' "$SRC/policy/default-policy.json" >"$T_TMP/uid.json"
	daemon_start h --policy "$T_TMP/uid.json" || return
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '${D_SOCK[h]}' --json"
	is "$RC|$(jq -c '.ok' <<<"$OUT")" '0|true' "doctor passes for a hostUid tenant"
	is "$(jq -r '[.checks[] | select(.check == "runs as its own uid") | .status + " " + .seen] | unique | join(",")' <<<"$OUT")" \
		"ok 20001:20001" "its sandboxes run as 20001:20001"
	daemon_stop h
}

case_unconfined_seccomp_fails() {
	local S P=$T_TMP/allow-all.json
	echo '{"defaultAction": "SCMP_ACT_ALLOW"}' >"$P"
	daemon_start w --seccomp-profile "$P" || return
	S=${D_SOCK[w]}
	run_cap "$ISOL8" doctor --socket "$S"
	is "$RC|$(tail -1 <<<"${OUT%$'\n'}")" "1|[ERR] some checks failed (✗)" "doctor fails when sandboxes get a seccomp profile that allows all"
	like "$OUT" $'\n✗ sandbox \\(none\\) +sample syscalls refused +each EPERM or ENOSYS +[^\n]*keyctl (ALLOWED|E[A-Z]+)' \
		"and names the check: keyctl is no longer refused"
	run_cap "$ISOL8" doctor --socket "$S" --json
	is "$(jq -r '[.checks[] | select(.status == "fail") | .group + ": " + .check] | join("; ")' <<<"$OUT")" \
		"sandbox (none): sample syscalls refused; sandbox (filtered): sample syscalls refused" "only that check fails, in both modes"
	daemon_stop w
}

# A policy that lets an ordinary tenant change its sandbox's image (writableRoot): doctor
# fails, naming the check (issue 14 item 5).
case_writable_root_fails() {
	jq '.tenants.local.writableRoot = true' "$SRC/policy/default-policy.json" >"$T_TMP/wr.json"
	daemon_start r --policy "$T_TMP/wr.json" || return
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '${D_SOCK[r]}'"
	is "$RC|$(tail -1 <<<"${OUT%$'\n'}")" "1|[ERR] some checks failed (✗)" "doctor fails for a tenant allowed a writable root"
	like "$OUT" $'\n✗ policy +writable root refused +refused \\(writableRoot false\\) +allowed: the policy gives your tenant writableRoot true\n' \
		"  and says which check and why"
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '${D_SOCK[r]}' --json"
	is "$(jq -r '[.checks[] | select(.status == "fail") | .group + ": " + .check] | join("; ")' <<<"$OUT")" \
		"policy: writable root refused" "  only that check"
	daemon_stop r
}

run_cases "$@"
