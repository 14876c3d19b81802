#!/bin/bash
# Accounts and access (issue 20, item 1): the isol8 client group and the isol8-unpriv account,
# created by isol8d when missing; the socket root:isol8 0660; a member runs code, a non-member
# gets one line naming the group; an unreadable optional config file is skipped. Users made here
# (useradd) are removed at exit. Needs root and the engine (exit 77 otherwise).
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
daemon_setup accounts
command -v useradd >/dev/null && command -v setpriv >/dev/null || bail "useradd and setpriv needed"
docker image inspect isol8:bash >/dev/null 2>&1 || { echo "1..0 # SKIP isol8:bash image missing"; exit 77; }

# Users of this test: unique names, removed by the exit trap.
U_IN=i8in$$ U_OUT=i8out$$ U_LATE=i8late$$
cleanup_users() {
	local u
	for u in "$U_IN" "$U_OUT" "$U_LATE"; do userdel "$u" >/dev/null 2>&1; done
	daemon_exit_trap
}
trap cleanup_users EXIT

# as USER CMD...: a fresh login of USER (supplementary groups from the group database).
as() { local u=$1; shift; run_cap setpriv --reuid "$u" --regid users --init-groups env -C "$T_TMP" HOME="$T_TMP" "$@" </dev/null; }

# An isol8d without --socket-mode: the socket takes the defaults (group isol8, mode 0660).
start_default() { # ID
	local id=$1
	D_DIR[$id]=$T_TMP/d-$id D_SOCK[$id]=$T_TMP/d-$id/isol8d.sock D_LOG[$id]=$T_TMP/d-$id/isol8d.log
	mkdir -p "${D_DIR[$id]}" && chmod 0755 "${D_DIR[$id]}"
	ln -sf "$ISOL8D" "${D_DIR[$id]}/i8d-test"
	setsid "${D_DIR[$id]}/i8d-test" --worker-path "$BUILDDIR/isol8-worker" --socket "${D_SOCK[$id]}" --foreground \
		--grace-ms 3000 "${@:2}" >"${D_LOG[$id]}" 2>&1 </dev/null &
	D_PID[$id]=$!
	for _ in $(seq 150); do [ -S "${D_SOCK[$id]}" ] && break; proc_gone "${D_PID[$id]}" && break; sleep 0.1; done
	[ -S "${D_SOCK[$id]}" ] || { not_ok "daemon $id started" "$(cat "${D_LOG[$id]}")"; return 1; }
}

case_created_when_missing() {
	local etc=$T_TMP/etc gid uid w sums
	# A private copy of /etc without the two accounts, bind-mounted over /etc for this daemon
	# only (a mount namespace): the machine's own databases are not touched.
	sums="$(md5sum </etc/passwd)|$(md5sum </etc/group)"
	cp -a /etc "$etc"
	sed -i '/^isol8:/d; /^isol8-unpriv:/d' "$etc/group" "$etc/gshadow" "$etc/passwd" "$etc/shadow" 2>/dev/null
	D_DIR[c]=$T_TMP/d-c D_SOCK[c]=$T_TMP/d-c/isol8d.sock D_LOG[c]=$T_TMP/d-c/isol8d.log
	mkdir -p "${D_DIR[c]}" && chmod 0755 "${D_DIR[c]}"
	ln -sf "$ISOL8D" "${D_DIR[c]}/i8d-test"
	setsid unshare -m --propagation private sh -c 'mount --bind "$0" /etc && exec "$@"' "$etc" \
		"${D_DIR[c]}/i8d-test" --worker-path "$BUILDDIR/isol8-worker" --socket "${D_SOCK[c]}" --foreground \
		--grace-ms 3000 >"${D_LOG[c]}" 2>&1 </dev/null &
	D_PID[c]=$!
	for _ in $(seq 150); do [ -S "${D_SOCK[c]}" ] && break; proc_gone "${D_PID[c]}" && break; sleep 0.1; done
	like "$(cat "${D_LOG[c]}")" "created the system group isol8" "missing group: isol8d creates it (logged)"
	like "$(cat "${D_LOG[c]}")" "created the system account isol8-unpriv" "missing account: isol8d creates it (logged)"
	gid=$(awk -F: '$1 == "isol8" {print $3}' "$etc/group")
	uid=$(awk -F: '$1 == "isol8-unpriv" {print $3}' "$etc/passwd")
	like "$gid" '^[0-9]+$' "group isol8 is in the daemon's group database"
	like "$(awk -F: '$1 == "isol8-unpriv" {print $3 < 1000, $6, $7}' "$etc/passwd")" '^1 /nonexistent /usr/sbin/nologin$' \
		"isol8-unpriv: a system uid, no home, no shell"
	isnt "$(awk -F: '$1 == "isol8-unpriv" {print $4}' "$etc/passwd")" "$gid" "isol8-unpriv's group is its own, not the client group"
	is "$(stat -c '%u:%g %a' "${D_SOCK[c]}")" "0:$gid 660" "socket: root:isol8 0660"
	for w in $(daemon_workers c); do
		is "$(awk '$1 == "Uid:" {print $2}' "/proc/$w/status")" "$uid" "worker $w runs as isol8-unpriv (not nobody)"
	done
	is "$(md5sum </etc/passwd)|$(md5sum </etc/group)" "$sums" "the machine's own passwd and group are untouched"
	daemon_stop c
}

case_member_runs_outsider_told() {
	start_default a || return
	is "$(stat -c '%U:%G %a' "${D_SOCK[a]}")" "root:isol8 660" "default socket: root:isol8 0660"
	useradd -M -N -g users -G isol8 "$U_IN" && useradd -M -N -g users "$U_OUT" || bail "useradd"
	as "$U_IN" "$ISOL8" run --socket "${D_SOCK[a]}" -r bash -e 'echo hello from $(id -u)'
	like "$RC|$OUT|$ERR" '^0\|hello from [0-9]+'$'\n''\|$' "a member of isol8 runs code"
	as "$U_OUT" "$ISOL8" run --socket "${D_SOCK[a]}" -r bash -e 'echo no'
	is "$RC|$OUT" "1|" "a non-member: exit 1, nothing runs"
	is "$ERR" "[ERR] permission denied on ${D_SOCK[a]}: only members of the group 'isol8' may use isol8d; ask an admin to run 'usermod -aG isol8 $U_OUT', then log in again"$'\n' \
		"a non-member: one line naming the group to join"
	# Added to the group, but this process's groups are those of an older login.
	useradd -M -N -g users -G isol8 "$U_LATE" || bail "useradd"
	run_cap setpriv --reuid "$U_LATE" --regid users --clear-groups env -C "$T_TMP" HOME="$T_TMP" \
		"$ISOL8" run --socket "${D_SOCK[a]}" -r bash -e 'echo no' </dev/null
	is "$RC|$ERR" "1|[ERR] permission denied on ${D_SOCK[a]}: you were added to the group 'isol8' after this login; log in again (or run 'newgrp isol8')"$'\n' \
		"a member whose login predates it: told to log in again"
	# HOME of another user (as under su): its config file is out of reach, and optional.
	as "$U_IN" env HOME=/root "$ISOL8" run --socket "${D_SOCK[a]}" -r bash -e 'echo home skipped'
	is "$RC|$OUT|$ERR" $'0|home skipped\n|' "HOME=/root: the unreadable optional config is skipped"
	mkdir -p "$T_TMP/cfg" && echo '{"defaults": {"timeout": 5000}}' >"$T_TMP/cfg/isol8.config.json" && chmod 0600 "$T_TMP/cfg/isol8.config.json"
	run_cap setpriv --reuid "$U_IN" --regid users --init-groups env -C "$T_TMP/cfg" HOME="$T_TMP" \
		"$ISOL8" run --socket "${D_SOCK[a]}" -r bash -e 'echo cwd skipped' </dev/null
	is "$RC|$OUT|$ERR" $'0|cwd skipped\n|' "an unreadable ./isol8.config.json is skipped too"
	daemon_stop a
}

run_cases "$@"
