#!/bin/bash
# Worker lockdown, asserted from outside (STYLE.md 7.3 step 6; crun test_capabilities.py,
# bubblewrap try-syscall): drives tests/probe/try_syscall, which locks itself down exactly like a
# worker. TAP output, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

PROBE=${PROBE:-./tests/probe/try_syscall}
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP worker lockdown needs root"
	exit 77
fi
if [ ! -x "$PROBE" ]; then
	echo "Bail out! probe $PROBE not built"
	exit 99
fi

n=0 passed=0 failed=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'
	return 0
}
expect_eq() { # desc got want
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got [$2], want [$3]"; fi
}
expect_match() { # desc got glob
	# shellcheck disable=SC2053
	if [[ $2 == $3 ]]; then ok "$1"; else not_ok "$1" "got [$2], want match [$3]"; fi
}

build=$("$PROBE" build)
sanitizers=$(awk '$1 == "sanitizers" {print $2}' <<<"$build")
seccomp_debug=$(awk '$1 == "seccomp_debug" {print $2}' <<<"$build")
echo "# build: sanitizers=$sanitizers seccomp_debug=$seccomp_debug"

# --- identity -----------------------------------------------------------------------------
if getent passwd isol8-unpriv >/dev/null; then
	want_default=$(getent passwd isol8-unpriv | awk -F: '{print $3, $4}')
else
	want_default=$(getent passwd nobody | awk -F: '{print $3, $4}')
fi
expect_eq "identity: default is isol8-unpriv, else nobody" "$("$PROBE" identity)" "$want_default"
expect_eq "identity: nobody" "$("$PROBE" identity nobody)" "65534 65534"
out=$("$PROBE" identity root); rc=$?
expect_eq "identity: root refused (exit)" "$rc" 1
expect_match "identity: root refused (message)" "$out" "error: *is root; refusing"
out=$("$PROBE" identity isol8-no-such-user); rc=$?
expect_eq "identity: unknown user refused (exit)" "$rc" 1
expect_eq "identity: unknown user refused (message)" "$out" "error: worker user isol8-no-such-user: no such user"

# --- fd renumbering ---------------------------------------------------------------------------
out=$("$PROBE" reorder 2>&1); rc=$?
expect_eq "keep {5, 3, 2} arrives as {3, 4, 2} (exit)" "$rc" 0
expect_eq "keep {5, 3, 2} arrives as {3, 4, 2} (message)" "$out" "reorder ok"

# --- refusals before anything is dropped ----------------------------------------------------
out=$("$PROBE" badfd); rc=$?
expect_eq "keep list with a closed fd: refused" "$rc" 0
expect_eq "keep list with a closed fd: message" "$out" "error: lockdown: fds: keep fd 99: Bad file descriptor"
out=$("$PROBE" dupfd); rc=$?
expect_eq "keep list with a duplicate: refused" "$rc" 0
expect_eq "keep list with a duplicate: message" "$out" "error: lockdown: fds: keep fd 1 listed twice: Invalid argument"
err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$PROBE" lockdown-as-is 2>&1); rc=$?
expect_eq "lockdown when not started as root: refused" "$rc" 125
expect_eq "lockdown when not started as root: message" "$err" \
	"try_syscall: lockdown: must start as root: Operation not permitted"

# --- errnos under the filter ---------------------------------------------------------------
if [ "$sanitizers" = 1 ]; then
	# the sanitizer build lets the runtime open read-only, list and stat (documented there)
	ro=EBADF
else
	ro=EACCES
fi
want_errnos="openat EACCES
openat_rdonly $ro
open EACCES
socket EACCES
socketpair EACCES
connect EACCES
getdents64 EACCES
newfstatat_path $ro
readlinkat $ro
clone3 ENOSYS
ioctl_tcgets ENOTTY
ioctl_fionread EBADF
thread ok
malloc ok
memfd ok
epoll_timerfd_eventfd ok
pipe_fcntl ok
getrandom ok
getrlimit ok
fstat ok
kill_self ok
raise ok
stdio ok
ids ok
done"
got_errnos=$("$PROBE" errnos); rc=$?
expect_eq "errnos probe exit status" "$rc" 0
while read -r name want; do
	got=$(awk -v n="$name" '$1 == n {print $2}' <<<"$got_errnos")
	expect_eq "under filter: $name -> $want" "$got" "$want"
done <<<"$want_errnos"
expect_eq "errnos probe printed nothing unexpected" "$(wc -l <<<"$got_errnos")" "$(wc -l <<<"$want_errnos")"

# --- calls that must kill the worker ---------------------------------------------------------
always_kill="execve execveat ptrace unshare setns mount umount2 pivot_root bpf keyctl"
default_kill="fork prlimit_set kill_other fcntl_setown sendto_addr setuid chdir"
# other ABIs on x86_64 (x32 numbers, int 0x80): bad-arch action kills in every build
other_abi=""
[ "$(uname -m)" = x86_64 ] && other_abi="x32_getpid i386_getpid"
always_kill="$always_kill $other_abi"
got_kills=$("$PROBE" kills $always_kill $default_kill 2>/dev/null); rc=$?
expect_eq "kills probe exit status" "$rc" 0
for name in $always_kill $default_kill; do
	want=SIGSYS
	if [ "$seccomp_debug" = 1 ] && [[ " $default_kill " == *" $name "* ]]; then
		want="exit ENOSYS" # debug build traps and reports instead of killing
	elif [ "$sanitizers" = 1 ] && [ "$name" = fork ]; then
		want="exit EPERM" # a symbolizer spawn must fail cleanly, not kill the report
	fi
	got=$(awk -v n="$name" '$1 == n {$1 = ""; sub(/^ /, ""); print}' <<<"$got_kills")
	expect_eq "killed by the filter: $name -> $want" "$got" "$want"
done

# --- sanitizer build: the runtime still works under the filter --------------------------------
if [ "$sanitizers" = 1 ]; then
	err=$("$PROBE" asan-overflow 2>&1); rc=$?
	expect_eq "sanitizers: ASan report exits 1 (not SIGSYS)" "$rc" 1
	expect_match "sanitizers: report printed" "$err" "*ERROR: AddressSanitizer: heap-buffer-overflow*"
	expect_match "sanitizers: report symbolized" "$err" "*in overflow *try_syscall.c:*"
	expect_match "sanitizers: report complete" "$err" "*SUMMARY: AddressSanitizer: heap-buffer-overflow*"
	# errnos above exited 0: LeakSanitizer's exit check is off in locked-down processes
fi

# --- /proc/PID of a locked-down process ---------------------------------------------------------
# check_proc PID WANT_FD2 : status fields, owner (non-dumpable), exact fd table
check_proc() {
	local pid=$1 want_fd2=$2 status f fds
	status=$(cat "/proc/$pid/status")
	for f in CapInh CapPrm CapEff CapBnd CapAmb; do
		expect_eq "$3: $f" "$(awk -v f="$f:" '$1 == f {print $2}' <<<"$status")" 0000000000000000
	done
	expect_eq "$3: NoNewPrivs" "$(awk '$1 == "NoNewPrivs:" {print $2}' <<<"$status")" 1
	expect_eq "$3: Seccomp" "$(awk '$1 == "Seccomp:" {print $2}' <<<"$status")" 2
	expect_eq "$3: Uid" "$(awk '$1 == "Uid:" {print $2, $3, $4, $5}' <<<"$status")" "65534 65534 65534 65534"
	expect_eq "$3: Gid" "$(awk '$1 == "Gid:" {print $2, $3, $4, $5}' <<<"$status")" "65534 65534 65534 65534"
	expect_eq "$3: Groups" "$(awk '$1 == "Groups:" {$1 = ""; sub(/^ +/, ""); print}' <<<"$status")" ""
	# a non-dumpable process's /proc/PID files belong to root (the directory itself keeps the euid)
	expect_eq "$3: not dumpable (/proc/PID/status owned by root)" "$(stat -c %u "/proc/$pid/status")" 0
	fds=$(cd "/proc/$pid/fd" && ls | sort -n | tr '\n' ' ')
	expect_eq "$3: fd table" "$fds" "0 1 2 3 4 "
	expect_eq "$3: fd 0" "$(readlink "/proc/$pid/fd/0")" /dev/null
	expect_eq "$3: fd 1" "$(readlink "/proc/$pid/fd/1")" /dev/null
	expect_eq "$3: fd 2" "$(readlink "/proc/$pid/fd/2")" "$want_fd2"
	expect_match "$3: fd 3 is the kept stdin pipe" "$(readlink "/proc/$pid/fd/3")" "pipe:*"
	expect_match "$3: fd 4 is the kept stdout pipe" "$(readlink "/proc/$pid/fd/4")" "pipe:*"
}

# run_sleeper MODE WANT_FD2 : extra fds 7 and 8 are open in the probe before lockdown
run_sleeper() {
	local mode=$1 want_fd2=$2 line="" pid rc
	exec 7</dev/null 8>/dev/null
	coproc SLEEPER { exec "$PROBE" "$mode"; }
	exec 7<&- 8>&-
	pid=$SLEEPER_PID
	read -r -t 20 line <&"${SLEEPER[0]}"
	expect_eq "$mode: probe locked down and ready" "$line" ready
	if [ "$line" = ready ]; then
		check_proc "$pid" "$want_fd2" "$mode"
	fi
	[ -n "${SLEEPER[1]-}" ] && eval "exec ${SLEEPER[1]}>&-"
	wait "$pid"; rc=$?
	expect_eq "$mode: probe exits 0 at EOF" "$rc" 0
}

run_sleeper sleep "$(readlink /proc/$$/fd/2)"
run_sleeper sleep-nostderr /dev/null

echo "1..$n"
echo "# $passed passed, $failed failed"
[ "$failed" = 0 ]
