#!/bin/bash
# Issue "tenant isolation" #16 and the isolation tiers' item 2: every sandbox of every tenant was
# host uid 100, gid 101 (the host's messagebus here), so a process of one tenant that got hold of
# a host /proc (the fd hole of #1, or any other) passed the kernel's same-uid checks against every
# other tenant's program: it could signal it and read its environment, memory and files. Now each
# tenant has a block of host uids by default (the policy's hostUidRange, nothing written per
# tenant) and each sandbox its own uid of it. Replayed here with the built-in policy: two
# tenants, and two sandboxes of one tenant, at once; and a SIGHUP that changes a tenant's
# identity or tier drains its pooled sandboxes instead of serving runs from them.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-host-identity

# The blocks of the default range (base 1879048192, 1024 uids each) are placed by FNV-1a of the
# tenant's name modulo 16384 blocks: admin 13844, local 9992.
ADMIN_FIRST=$((1879048192 + 13844 * 1024))
LOCAL_FIRST=$((1879048192 + 9992 * 1024))

# prog_pids SOCK TENANT: host pids of the running `sleep` programs in that tenant's sandboxes
prog_pids() {
	local c
	for c in $(docker ps -q --filter "label=org.isol8.instance=$1" --filter "label=org.isol8.tenant=$2"); do
		docker top "$c" -eo pid,comm 2>/dev/null | awk '$2 == "sleep" {print $1}'
	done
}

# wait_pids SOCK TENANT N: until N programs of the tenant run (sets PIDS)
wait_pids() {
	local i
	for ((i = 0; i < 150; i++)); do
		mapfile -t PIDS < <(prog_pids "$1" "$2")
		[ "${#PIDS[@]}" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# no_programs SOCK: until no `sleep` program of an earlier case runs in the daemon's sandboxes
no_programs() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ -z "$(prog_pids "$1" admin)$(prog_pids "$1" local)" ] && return 0
		sleep 0.1
	done
}

ids() { awk -v k="$2:" '$1 == k {print $2, $3, $4, $5}' "/proc/$1/status"; }

in_block() { # UID FIRST -> 1 when FIRST <= UID < FIRST + 1024
	echo $(($1 >= $2 && $1 < $2 + 1024))
}

# attack ATTACKER VICTIM: the attacker program's identity, in its namespaces, with a host /proc fd
attack() { python3 "$SEC_DIR/host_identity.py" "$1" "$2" 2>&1 | tr '\n' ';'; }

REFUSED='kill EPERM;pidfd_send_signal EPERM;environ EACCES;mem EACCES;root EACCES;fd EACCES;'

case_two_tenants_distinct_uids() {
	local S=${D_SOCK[a]} pa pn A N ua un
	no_programs "$S"
	"$ISOL8" run --socket "$S" -r bash -e 'exec sleep 60' >/dev/null 2>&1 </dev/null &
	pa=$!
	as_nobody "$ISOL8" run --socket "$S" --secret LOOT_N=nobody-secret -r bash -e 'exec sleep 60' >/dev/null 2>&1 </dev/null &
	pn=$!
	wait_pids "$S" admin 1 && A=${PIDS[0]}
	wait_pids "$S" local 1 && N=${PIDS[0]}
	if [ -z "$A" ] || [ -z "$N" ]; then
		not_ok "both programs run" "admin: $A, local: $N"
		kill $A $N $pa $pn 2>/dev/null
		wait $pa $pn
		return
	fi
	read -r ua _ <<<"$(ids "$A" Uid)"
	read -r un _ <<<"$(ids "$N" Uid)"
	is "$(ids "$A" Uid)|$(ids "$A" Gid)" "$ua $ua $ua $ua|$ua $ua $ua $ua" "admin's program: one host uid, gid the same ($ua)"
	is "$(ids "$N" Uid)|$(ids "$N" Gid)" "$un $un $un $un|$un $un $un $un" "local's program: one host uid, gid the same ($un)"
	isnt "$ua" "$un" "the two tenants' programs, at the same time, have different host uids"
	isnt "$ua $un" "100 100" "neither is the images' shared uid 100"
	is "$(in_block "$ua" $ADMIN_FIRST) $(in_block "$un" $LOCAL_FIRST)" "1 1" \
		"each a uid of its tenant's block of the default hostUidRange (no hostUid written)"
	like "$(getent passwd "$ua" "$un" | wc -l)" '^0$' "no host account has either uid"
	is "$(attack "$N" "$A")" "as $un:$un capeff 0000000000000000;$REFUSED" \
		"local's program, given a host /proc fd, can neither signal admin's nor read its environ, memory, root or fds"
	is "$(attack "$A" "$N")" "as $ua:$ua capeff 0000000000000000;$REFUSED" \
		"nor admin's program local's (whose environment holds a --secret)"
	# The control: the same uid passes every one of these checks. That is what a shared uid 100 gave
	# every tenant against every other.
	like "$(attack "$N" "$N")" "^as $un:$un capeff 0+;kill ok;pidfd_send_signal ok;environ ok;mem EIO;root ok;fd ok;$" \
		"(the program's own uid can: the kernel's same-uid checks are all that is in the way)"
	kill "$A" "$N"
	wait $pa $pn
}

case_same_tenant_distinct_uids() {
	local S=${D_SOCK[a]} p1 p2 u1 u2
	no_programs "$S"
	as_nobody "$ISOL8" run --socket "$S" -r bash -e 'exec sleep 60' >/dev/null 2>&1 </dev/null &
	p1=$!
	as_nobody "$ISOL8" run --socket "$S" -r bash -e 'exec sleep 60' >/dev/null 2>&1 </dev/null &
	p2=$!
	if ! wait_pids "$S" local 2; then
		not_ok "two programs of tenant local run" "${PIDS[*]}"
		kill "${PIDS[@]}" $p1 $p2 2>/dev/null
		wait $p1 $p2
		return
	fi
	read -r u1 _ <<<"$(ids "${PIDS[0]}" Uid)"
	read -r u2 _ <<<"$(ids "${PIDS[1]}" Uid)"
	isnt "$u1" "$u2" "two sandboxes of one tenant at once have different host uids ($u1, $u2)"
	is "$(in_block "$u1" $LOCAL_FIRST) $(in_block "$u2" $LOCAL_FIRST)" "1 1" "both of tenant local's block"
	is "$(attack "${PIDS[0]}" "${PIDS[1]}")" "as $u1:$u1 capeff 0000000000000000;$REFUSED" \
		"one cannot signal or read the other through a host /proc fd"
	kill "${PIDS[@]}"
	wait $p1 $p2
}

# The admin sees the blocks to reserve on the host.
case_status_shows_blocks() {
	run_cap "$ISOL8" status --socket "${D_SOCK[a]}" --json
	is "$RC|$(jq -c '[.tenants[] | [.name, .hostUids]]' <<<"$OUT")" \
		"0|[[\"admin\",\"$ADMIN_FIRST-$((ADMIN_FIRST + 1023))\"],[\"local\",\"$LOCAL_FIRST-$((LOCAL_FIRST + 1023))\"]]" \
		"isol8 status --json: each tenant's block of host uids"
	run_cap "$ISOL8" status --socket "${D_SOCK[a]}"
	like "$OUT" "TENANT .* HOST UIDS"$'\n'"admin .*  $ADMIN_FIRST-$((ADMIN_FIRST + 1023))"$'\n'"local .*  $LOCAL_FIRST-" \
		"isol8 status: a HOST UIDS column"
}

# The kernel counts some resources per uid, whatever the namespaces: inotify instances (128 here),
# POSIX message queue bytes, RLIMIT_NPROC. With one shared uid, one program that took them all
# took them from every sandbox of every tenant (and from the host's account with that uid).
INOTIFY_PY='import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while libc.inotify_init1(0) >= 0:
    n += 1
print(n, ctypes.get_errno(), flush=True)
os.execvp("sleep", ["sleep", "60"])  # keeps the instances (not close-on-exec)'
ONE_PY='import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print("ok" if libc.inotify_init1(0) >= 0 else "errno %d" % ctypes.get_errno())'

case_per_uid_limits_per_sandbox() {
	local S=${D_SOCK[a]} ph i
	no_programs "$S"
	"$ISOL8" run --socket "$S" -r python -e "$INOTIFY_PY" >"$T_TMP/hog.out" 2>&1 </dev/null &
	ph=$!
	for ((i = 0; i < 150; i++)); do
		[ -s "$T_TMP/hog.out" ] && break
		sleep 0.1
	done
	like "$(cat "$T_TMP/hog.out")" '^[0-9]+ 24$' "admin's program takes every inotify instance its uid may have (then EMFILE)"
	run_cap as_nobody "$ISOL8" run --socket "$S" -r python -e "$ONE_PY" </dev/null
	is "$RC|$OUT" $'0|ok\n' "another tenant's program still gets one"
	run_cap "$ISOL8" run --socket "$S" -r python -e "$ONE_PY" </dev/null
	is "$RC|$OUT" $'0|ok\n' "and so does another sandbox of the same tenant"
	wait_pids "$S" admin 1 && kill "${PIDS[@]}"
	wait $ph
}

# tenant_ctrs SOCK TENANT: ids of that tenant's containers
tenant_ctrs() {
	docker ps -aq --no-trunc --filter "label=org.isol8.instance=$1" --filter "label=org.isol8.tenant=$2" | sort
}

# settle SOCK: until the set of the daemon's containers has not changed for 1.5 s (the pool refills)
settle() {
	local i prev="" now same=0
	for ((i = 0; i < 100 && same < 3; i++)); do
		sleep 0.5
		now=$(docker ps -aq --filter "label=org.isol8.instance=$1" | sort | tr '\n' ' ')
		if [ "$now" = "$prev" ]; then same=$((same + 1)); else same=0; fi
		prev=$now
	done
}

# gone_within IDS: 1 when none of the containers exists within 10 s, else 0
gone_within() {
	local i c left
	for ((i = 0; i < 100; i++)); do
		left=0
		for c in $1; do docker inspect "$c" >/dev/null 2>&1 && left=1; done
		[ $left = 0 ] && { echo 1; return; }
		sleep 0.1
	done
	echo 0
}

all_exist() {
	local c
	for c in $1; do docker inspect "$c" >/dev/null 2>&1 || { echo 0; return; }; done
	echo 1
}

case_reload_drains_pool() {
	local P=$T_TMP/reload.json S lold aold u
	# The defaults of hostUidRange apply when the file does not name it.
	jq 'del(.hostUidRange)' "$ISOL8_SRCDIR/policy/default-policy.json" >"$P"
	daemon_start r --policy "$P" --pool-size 1 --workers 1 || return
	S=${D_SOCK[r]}
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'id -u' </dev/null
	is "$RC|$(in_block "${OUT%$'\n'}" $LOCAL_FIRST)" "0|1" "tenant local runs as a uid of its block"
	run_cap "$ISOL8" run --socket "$S" -r bash -e 'id -u' </dev/null
	is "$RC|$(in_block "${OUT%$'\n'}" $ADMIN_FIRST)" "0|1" "tenant admin as one of its own"
	settle "$S"
	lold=$(tenant_ctrs "$S" local)
	aold=$(tenant_ctrs "$S" admin)
	like "$(wc -w <<<"$lold") $(wc -w <<<"$aold")" '^[1-9][0-9]* [1-9][0-9]*$' "both tenants have pooled sandboxes"

	# local gets a host uid of its own: its pooled sandboxes (made as a uid of its block) go
	jq '.tenants.local.hostUid = 20077' "$P" >"$P.new" && mv "$P.new" "$P"
	kill -HUP "${D_PID[r]}"
	is "$(gone_within "$lold")" 1 "SIGHUP with local's hostUid changed: its pooled sandboxes are removed"
	is "$(all_exist "$aold")" 1 "admin's, whose identity did not change, are not drained"
	like "$(cat "${D_LOG[r]}")" "reload: tenant local now has host uid 20077:20077 and isolation runc; draining its pooled sandboxes" \
		"the broker logs the drain with the new identity"
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'id -u; id -g' </dev/null
	is "$RC|$OUT" $'0|20077\n20077\n' "local's next run has the new identity"

	# local's tier changes: its pooled (runc, 20077) sandboxes go too
	settle "$S"
	lold=$(tenant_ctrs "$S" local)
	like "$(wc -w <<<"$lold")" '^[1-9]' "local has pooled sandboxes again"
	jq '.tenants.local.isolation = "runsc" | .tenants.local.network = ["none"]' "$P" >"$P.new" && mv "$P.new" "$P"
	kill -HUP "${D_PID[r]}"
	is "$(gone_within "$lold")" 1 "SIGHUP with local's isolation changed to runsc: its pooled sandboxes are removed"

	# the range moves: admin's block with it (local's explicit hostUid stays)
	aold=$(tenant_ctrs "$S" admin)
	jq '.hostUidRange.base = 1895825408' "$P" >"$P.new" && mv "$P.new" "$P"
	kill -HUP "${D_PID[r]}"
	is "$(gone_within "$aold")" 1 "SIGHUP with hostUidRange moved: admin's pooled sandboxes are removed"
	run_cap "$ISOL8" run --socket "$S" -r bash -e 'id -u' </dev/null
	is "$RC|$(in_block "${OUT%$'\n'}" $((1895825408 + 13844 * 1024)))" "0|1" "admin's next run is a uid of its new block"
	daemon_stop r
}

# A session made before a reload that moves its tenant keeps its sandbox's identity: every
# exec in it is the uid the sandbox was made with (before, docker exec took the tenant's new
# uid and could not write the session's /sandbox). --no-agent: every run is a docker exec.
case_session_keeps_identity_across_reload() {
	local P=$T_TMP/session.json S u0
	jq 'del(.hostUidRange)' "$ISOL8_SRCDIR/policy/default-policy.json" >"$P"
	daemon_start s --policy "$P" --no-agent --pool-size 0 || return
	S=${D_SOCK[s]}
	run_cap as_nobody "$ISOL8" run --socket "$S" --session-id keep -r bash -e 'id -u; echo one >/sandbox/f' </dev/null
	u0=${OUT%$'\n'}
	is "$RC|$(in_block "$u0" $LOCAL_FIRST)" "0|1" "a session of tenant local, as a uid of its block"
	jq '.tenants.local.hostUid = 20078' "$P" >"$P.new" && mv "$P.new" "$P"
	kill -HUP "${D_PID[s]}"
	for _ in $(seq 50); do grep -q 'reloaded policy' "${D_LOG[s]}" && break; sleep 0.1; done
	run_cap as_nobody "$ISOL8" run --socket "$S" --session-id keep -r bash -e 'id -u; echo two >>/sandbox/f && cat /sandbox/f' </dev/null
	is "$RC|$OUT" "0|$u0"$'\none\ntwo\n' "after the reload its next run is the same uid and still writes its /sandbox"
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'id -u' </dev/null
	is "$RC|$OUT" $'0|20078\n' "a new sandbox of the tenant has the new identity"
	daemon_stop s
}

daemon_start a || bail "isol8d did not start"
run_cases "$@"
