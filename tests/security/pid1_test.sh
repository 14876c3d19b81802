#!/bin/bash
# Issue 12 item 2: a run must not survive the pool reset through PID 1 or the agent.
#
# The attack (reproduced on the unfixed code): PID 1 of a sandbox (tini) ran as the sandbox user
# and was dumpable, so run 1 opened /proc/1/mem for writing and wrote an execve of a shell loop at
# PID 1's program counter. The reset's kill(-1) spares PID 1, so the loop lived on in the reused
# sandbox, copied the environment (the --secret) of run 2 and left it for run 3 of the same
# principal. The pool is forced to reuse: one worker, one clean and one dirty slot, runs of one
# principal and one shape, each after the previous reset has finished.
#
# Asserts: run 1 cannot open PID 1's or the agent's memory for writing (EACCES or EPERM); the
# next runs on the same (reset) sandbox see the agent as PID 1 and no process of run 1; run 3
# cannot read run 2's secret. TAP; exit 77 unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

daemon_setup pid1_test
docker image inspect isol8:bash >/dev/null 2>&1 || bail "image isol8:bash missing (isol8 setup)"

# execve("/bin/sh", ["/bin/sh", "-c", CMD], NULL) for x86-64, CMD appended NUL-terminated.
SHELLCODE=488d3d1e000000488d051f000000488d1d1b00000031d2525350574889e6b83b0000000f052f62696e2f7368002d6300
# What the implant runs as PID 1: keep the environment of any process that has LOOT_ in it and
# rewrite it to /tmp/loot (emptied by each reset) every 50 ms.
IMPLANT='while :; do for f in /proc/[0-9]*/environ; do s=$(tr "\0" "\n" <$f 2>/dev/null | grep ^LOOT_); [ -n "$s" ] && L=$s; done; [ -n "$L" ] && echo "$L" >/tmp/loot; sleep 0.05; done'

# Run 1: try to open the memory of PID 1 and of the agent (bash's parent) for writing; where
# PID 1's opens, write the implant at its program counter (x86-64). Prints "pid1=<result>
# agent=<result>", each result "open" or the errno name; then leaves a background process.
read -r -d '' ATTACK <<'EOF'
cat /etc/hostname
perl -e '
use Errno;
sub try_open { my ($p, $m) = @_; open($m, "+<", "/proc/$p/mem") and return ("open", $m);
	return ((grep { $!{$_} } keys %!)[0] // "errno" . ($! + 0), undef) }
my ($r1, $m1) = try_open(1);
my ($ra) = try_open($ARGV[0]);
print "pid1=$r1 agent=$ra\n";
if ($m1 && `uname -m` =~ /x86_64/) {
	open(my $s, "<", "/proc/1/syscall") or die "syscall: $!\n";
	my @f = split " ", scalar <$s>;
	my $code = pack("H*", $ARGV[1]) . $ARGV[2] . "\0";
	sysseek($m1, hex($f[-1]), 0) or die "seek: $!\n";
	print syswrite($m1, $code) == length($code) ? "implanted\n" : "short write\n";
}' "$PPID" "$SHELLCODE" "$IMPLANT"
setsid sh -c 'while :; do sleep 1; done' </dev/null >/dev/null 2>&1 &
EOF

# run_on ID ARGS... : one bash run; OUT, ERR, RC as run_cap; HOST = the sandbox it ran in
run_on() {
	local id=$1
	shift
	run_cap "$ISOL8" run --socket "${D_SOCK[$id]}" -r bash "$@" </dev/null
	HOST=${OUT%%$'\n'*}
}

case_pid1_implant() {
	local secret h1 ps
	daemon_start p --workers 1 --pool-size 1,1 --debug || return
	run_on p --env "SHELLCODE=$SHELLCODE" --env "IMPLANT=$IMPLANT" -e "$ATTACK"
	h1=$HOST
	is "$RC" 0 "run 1 finished"
	like "$OUT" 'pid1=(EACCES|EPERM) ' "run 1 cannot open /proc/1/mem for writing"
	like "$OUT" ' agent=(EACCES|EPERM)' "run 1 cannot open the agent's /proc/<pid>/mem for writing"
	unlike "$OUT" implanted "run 1 wrote nothing into PID 1"
	sleep 2 # the reset runs after the result; let the sandbox go back into the pool

	secret=LOOT_TOKEN=s2-$RANDOM$RANDOM
	run_on p --secret "$secret" -e 'cat /etc/hostname; sleep 1; echo "pid1=$(cat /proc/1/comm)"; ps -eo pid=,comm= | sed "s/^/ps /"'
	is "$RC" 0 "run 2 (with a secret) finished"
	is "$HOST" "$h1" "run 2 reused run 1's sandbox (the pool reset it)"
	like "$OUT" $'\npid1=isol8-agent\n' "run 2: PID 1 is the agent"
	ps=$(printf '%s\n' "$OUT" | awk '$1 == "ps" && $2 != 1 && $3 != "isol8-agent" && $3 != "bash" && $3 != "ps" && $3 != "sed"')
	is "$ps" "" "run 2: no process of run 1 is alive (only PID 1 and its own)"
	sleep 2

	run_on p -e 'cat /etc/hostname; sleep 0.5; cat /tmp/loot 2>/dev/null; echo "pid1=$(cat /proc/1/comm)"'
	is "$RC" 0 "run 3 finished"
	is "$HOST" "$h1" "run 3 reused the same sandbox"
	unlike "$OUT" "${secret#LOOT_TOKEN=}" "run 3 cannot read run 2's --secret"
	daemon_stop p
}

# The same with a pre-started python interpreter as the program: it must not reach PID 1 or the
# agent either, and the standby that serves the next run is one no earlier code could touch.
case_python_standby() {
	local h1 code
	daemon_start y --workers 1 --pool-size 1,1 || return
	code='
import errno, os
def t(p):
    try:
        os.close(os.open("/proc/%d/mem" % p, os.O_RDWR))
        return "open"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
print(open("/etc/hostname").read().strip())
print("pid1=%s agent=%s" % (t(1), t(os.getppid())))
'
	sleep 1 # the prewarmed sandbox and its standby
	run_cap "$ISOL8" run --socket "${D_SOCK[y]}" -r python -e "$code" </dev/null
	h1=${OUT%%$'\n'*}
	is "$RC" 0 "python run 1 finished"
	like "$OUT" 'pid1=(EACCES|EPERM) agent=(EACCES|EPERM)' "python: /proc/1/mem and the agent's mem are refused"
	sleep 2
	run_cap "$ISOL8" run --socket "${D_SOCK[y]}" -r python -e 'import os; print(open("/etc/hostname").read().strip()); print("pid1=" + open("/proc/1/comm").read().strip(), sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())))' </dev/null
	is "$RC" 0 "python run 2 finished"
	is "${OUT%%$'\n'*}" "$h1" "python run 2 reused the sandbox"
	like "$OUT" $'\npid1=isol8-agent \\[\\]' "python run 2: PID 1 is the agent, no other process"
	daemon_stop y
}

run_cases "$@"
