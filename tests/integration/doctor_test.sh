#!/bin/bash
# isol8 doctor (issue 14): host checks and a probe in a real sandbox for each network mode the
# caller may use, as a table of expected and seen values; exit 1 on any failed check. A daemon
# started with a seccomp profile that allows everything is caught. Without network the probe runs
# on the host (the baseline), under runc and under runsc, printed side by side as the tier matrix
# (issue 17 item 4). Real isol8d, real engine.
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
	like "$OUT" $'\n✓ sandbox \\(filtered\\) +root filesystem read-only +EROFS +EROFS\n' "a ✓ row shows expected and seen"
	run_cap "$ISOL8" doctor --socket "$S" --json
	is "$RC|$(jq -c '[.ok, .failed]' <<<"$OUT")" '0|[true,0]' "--json: ok, nothing failed"
	is "$(jq -r '[.checks[] | select(.group == "runc (none)") | .check] | join(",")' <<<"$OUT")" "${SANDBOX_CHECKS/NET/no network}" \
		"every conformance check ran in a runc sandbox without network"
	is "$(jq -r '[.checks[] | select(.group == "sandbox (filtered)") | .check] | join(",")' <<<"$OUT")" "${SANDBOX_CHECKS/NET/only the proxy}" \
		"and in a filtered one"
	is "$(jq -r '[.checks[] | select(.group == "runc (none)" or .group == "sandbox (filtered)") | .status] | unique | join(",")' <<<"$OUT")" ok "all of them ✓"
	is "$(jq -c '[.checks[] | select(.group == "policy") | .check, .status, .seen]' <<<"$OUT")" \
		'["writable root refused","skip","allowed: your tenant is an admin'"'"'s (isol8-policy(5) admin)"]' \
		"root's tenant may ask for a writable root: said, not failed (an admin's)"
	is "$(jq -r '.checks[] | select(.check == "limits as applied" and .group == "runc (none)") | .seen' <<<"$OUT")" \
		"memory 536870912, pids 64, cpu 1.00" "the sandbox's cgroup limits are the ones isol8d applied"
	is "$(jq -r '.checks[] | select(.check == "sample syscalls refused" and .group == "runc (none)") | .seen' <<<"$OUT")" \
		"unshare EPERM, keyctl EPERM, add_key EPERM, mount EPERM, kexec_load EPERM, userfaultfd EPERM" "each sample syscall refused"
	is "$(jq -r '[.checks[] | select(.group == "host") | .check] | join(",")' <<<"$OUT")" \
		"engine reachable,runc version,runtime images,runtime images current,runtime runsc,runsc seccomp,cgroup version,seccomp available,iptables available,isol8d socket,policy valid,systemd unit hardening" \
		"the host checks"
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '$S' --json"
	is "$RC|$(jq -c '[.ok, (.checks[] | select(.check == "engine reachable") | .status)]' <<<"$OUT")" '0|[true,"skip"]' \
		"another user: the engine check is skipped (only root may use Docker), the probes pass"
	is "$(jq -c '[.checks[] | select(.group == "policy") | .status, .seen]' <<<"$OUT")" '["ok","refused"]' \
		"  and its tenant is refused a writable root"
	daemon_stop d
}

# Images up to date: each image's build hash against the build context of the image files
# this isol8 reads (ISOL8_DATA_DIR points it at a changed copy), as isol8 setup compares them.
case_images_out_of_date() {
	local S dd=$T_TMP/data
	daemon_start o || return
	S=${D_SOCK[o]}
	cp -rL "$SRC/sandbox" "$dd" || bail "cannot copy the image files"
	printf '\n# a change made by doctor_test\n' >>"$dd/Dockerfile"
	local images="isol8:python, isol8:node, isol8:bun, isol8:deno, isol8:bash"
	docker image inspect isol8:agent >/dev/null 2>&1 && images+=", isol8:agent"
	run_cap env ISOL8_DATA_DIR="$dd" "$ISOL8" doctor --socket "$S" --json
	is "$RC|$(jq -c '[.ok, (.checks[] | select(.check == "runtime images current") | .status, .seen)]' <<<"$OUT")" \
		'1|[false,"fail","'"$images"' out of date: run '"'"'isol8 setup'"'"'"]' \
		"image files changed since the images were built: a failed check naming each image, exit 1"
	run_cap env ISOL8_DATA_DIR="$dd" "$ISOL8" doctor --socket "$S"
	like "$OUT" $'\n✗ host +runtime images current +built from this isol8\'s image files isol8:python, ' "  the table marks it ✗"
	run_cap "$ISOL8" doctor --socket "$S" --json
	is "$(jq -c '[.checks[] | select(.check == "runtime images current") | .status, .seen]' <<<"$OUT")" '["ok","all match"]' \
		"the image files the images were built from: all match"
	daemon_stop o
}

# The tier matrix (issue 17 item 4): without network the probe runs on the host as the caller
# (the baseline), under runc and under runsc, one row per check with the three side by side.
# An ordinary runc tenant may use both tiers, so both count; the baseline never fails.
case_tier_matrix() {
	local S
	docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' || { ok "# SKIP the engine has no runsc"; return; }
	daemon_start m || return
	S=${D_SOCK[m]}
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '$S'"
	is "$RC|$(tail -1 <<<"${OUT%$'\n'}")" "0|[OK] all checks passed" "doctor passes with the matrix"
	like "$OUT" $'\n\n  CHECK \\(network none\\) +HOST-NATIVE \\(baseline\\) +RUNC +RUNSC +EXPECTED\n' "the matrix's header names the three columns"
	like "$OUT" $'\n  seccomp filter on +≠ 0 +✓ 2 +- 0 \\(gVisor\'s kernel: not the +2\n +host\'s check\\)\n' \
		"seccomp filter on: not on the host, ✓ under runc, explained under runsc (the cell wraps)"
	like "$OUT" $'\n  capabilities empty +≠ CapEff 0, CapBnd 1fffeffffff +✓ CapEff 0, CapBnd 0 +✓ CapEff 0, CapBnd 0 +CapEff 0, CapBnd 0\n' \
		"capabilities empty: the host's bounding set is full, both sandboxes' empty"
	like "$OUT" $'\n  isolation tier +- n/a: the host\'s kernel +✓ runc, agent +✓ runsc, docker-exec +the tier asked for\n' \
		"each sandbox ran under the tier it asked for"
	unlike "$OUT" $'\n✓ sandbox \\(none\\)' "no separate table for the probe without network"
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '$S' --json"
	is "$RC|$(jq -c '[.ok, .failed, (.matrix | keys), .matrix.network, .matrix.tiers]' <<<"$OUT")" \
		'0|[true,0,["network","rows","tiers"],"none",["native","runc","runsc"]]' "--json: the matrix with its network and tiers"
	is "$(jq -r '[.matrix.rows[].check] | join(",")' <<<"$OUT")" "${SANDBOX_CHECKS/NET/no network}" "one row per conformance check"
	is "$(jq -c '[.matrix.rows[] | keys | join(",")] | unique' <<<"$OUT")" '["check,expected,native,runc,runsc"]' \
		"each row: the check, the expected value and one cell per tier"
	is "$(jq -c '[.matrix.rows[] | .native, .runc, .runsc | keys | join(",")] | unique' <<<"$OUT")" '["seen,status"]' "each cell: status and seen"
	is "$(jq -c '[.matrix.rows[] | select(.check == "seccomp filter on" or .check == "capabilities empty" or .check == "runs as its own uid") | [.check, .native.status, .runc.status, .runsc.status]]' <<<"$OUT")" \
		'[["capabilities empty","differs","ok","ok"],["seccomp filter on","differs","ok","n/a"],["runs as its own uid","n/a","ok","ok"]]' \
		"statuses: the baseline differs or is n/a, runc ok, runsc ok or n/a"
	is "$(jq -r '[.matrix.rows[].runc.status] | unique | join(",")' <<<"$OUT")" ok "every runc cell ✓"
	is "$(jq -r '[.matrix.rows[].runsc.status] | unique | join(",")' <<<"$OUT")" "n/a,ok" "every runsc cell ✓ or n/a"
	is "$(jq -r '.matrix.rows[] | select(.check == "sample syscalls refused") | .runsc.seen' <<<"$OUT")" \
		"unshare ALLOWED, keyctl EACCES, add_key EACCES, mount EPERM, kexec_load ENOSYS, userfaultfd ENOSYS (gVisor's kernel: not the host's check)" \
		"gVisor's own answers to the sample, explained"
	is "$(jq -r '[.checks[] | select(.group == "runsc (none)") | .check] | join(",")' <<<"$OUT")" "${SANDBOX_CHECKS/NET/no network}" \
		"the cells are in checks too, by tier"
	is "$(jq -r '.checks[] | select(.group == "host-native" and .check == "probe ran") | .status + " " + .seen' <<<"$OUT")" \
		"ok exit 0 as uid 65534 ($(su nobody -s /bin/sh -c 'command -v python3'))" "the baseline ran as the caller, with the host's python3"
	daemon_stop m
}

# A tenant on gVisor (issue 17): its runs cannot be lowered to runc, so that column says why;
# the checks of the host kernel's confinement that the Sentry answers for itself are n/a, not
# failed; the rest pass.
case_runsc_tenant() {
	local S
	docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' || { ok "# SKIP the engine has no runsc"; return; }
	jq '.tenants.local.isolation = "runsc" | .tenants.local.network = ["none"]' "$SRC/policy/default-policy.json" >"$T_TMP/runsc.json"
	daemon_start g --policy "$T_TMP/runsc.json" || return
	S=${D_SOCK[g]}
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '$S'"
	is "$RC|$(tail -1 <<<"${OUT%$'\n'}")" "0|[OK] all checks passed" "doctor passes for a runsc tenant"
	like "$OUT" $'\n  probe ran +✓ exit 0 as uid 65534 +- not allowed: policy tier runsc +✓ exit 0 in [0-9a-f]{12} +exit 0\n' \
		"the runc column: not allowed, the policy's tier is runsc"
	like "$OUT" $'\n  /tmp noexec +≠ executed +- not run +✓ EACCES +EACCES\n' "  and its other cells are not run"
	run_cap su nobody -s /bin/sh -c "'$ISOL8' doctor --socket '$S' --json"
	is "$RC|$(jq -c '.ok' <<<"$OUT")" '0|true' "--json: ok"
	is "$(jq -r '.checks[] | select(.check == "isolation tier" and .group == "runsc (none)") | .seen' <<<"$OUT")" "runsc, docker-exec" \
		"the tier and the exec path are shown"
	is "$(jq -r '.matrix.rows[0].runc | .status + " " + .seen' <<<"$OUT")" "skip not allowed: policy tier runsc" "--json: the runc cell is skipped, with the reason"
	is "$(jq -r '[.checks[] | select(.group == "runsc (none)" and .status == "n/a") | .check] | join(",")' <<<"$OUT")" \
		"no_new_privs,seccomp filter on,sample syscalls refused,root filesystem read-only,limits as applied" \
		"the host-kernel checks gVisor answers for itself are n/a"
	is "$(jq -r '.checks[] | select(.group == "sandbox (filtered)") | .status' <<<"$OUT")" skip "the filtered probe: skipped (no network under runsc)"
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
	is "$(jq -r '[.checks[] | select(.check == "runs as its own uid" and .group != "host-native") | .status + " " + .seen] | unique | join(",")' <<<"$OUT")" \
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
	like "$OUT" $'\n✗ sandbox \\(filtered\\) +sample syscalls refused +each EPERM or ENOSYS +[^\n]*keyctl (ALLOWED|E[A-Z]+)' \
		"and names the check: keyctl is no longer refused"
	like "$OUT" $'\n  sample syscalls refused +- n/a: not called with +✗ unshare ALLOWED, keyctl ' \
		"  and the matrix shows it under runc (and does not call them on the host as root)"
	run_cap "$ISOL8" doctor --socket "$S" --json
	is "$(jq -r '[.checks[] | select(.status == "fail") | .group + ": " + .check] | join("; ")' <<<"$OUT")" \
		"runc (none): sample syscalls refused; sandbox (filtered): sample syscalls refused" "only that check fails, in both modes"
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
