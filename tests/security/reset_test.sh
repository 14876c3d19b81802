#!/bin/bash
# Issue 12 item 14 (and the limits part of item 2): what one run changes must not reach the next
# run of the same principal on a reused sandbox.
#
# The attacks (reproduced on the unfixed code):
# - the program lowered the agent's limits (prlimit on its parent, the agent: same uid), its nice
#   value (renice), its CPU affinity (taskset), its scheduling policy (chrt -i) and its I/O
#   priority (ionice -c 3); the reset kept the sandbox, so every later program (forked by the
#   agent) inherited them;
# - with a writable root, files in /var/tmp and /run/lock survived the reset.
# The pool is forced to reuse: one worker, one clean and one dirty slot, runs of one principal
# and one shape, each after the previous reset has finished.
#
# Asserts, for each of the five: the run after the attack sees what a fresh sandbox gives (the
# tampered one is discarded, and the worker's log says why); a writable-root run finds nothing an earlier run left
# in /var/tmp or /run/lock. TAP; exit 77 unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

daemon_setup reset_test
docker image inspect isol8:bash >/dev/null 2>&1 || bail "image isol8:bash missing (isol8 setup)"

# What a program inherits from the agent, on one line after the sandbox's hostname.
PROBE='cat /etc/hostname; echo "nofile=$(ulimit -Sn):$(ulimit -Hn) nice=$(nice) cpus=$(taskset -p $$ | sed "s/.*: //") sched=$(chrt -p $$ | head -1 | sed "s/.*: //") io=$(ionice -p $$)"'

run_on() { # ID ARGS...: one bash run; OUT ERR RC as run_cap, HOST = the sandbox it ran in
	local id=$1
	shift
	run_cap "$ISOL8" run --socket "${D_SOCK[$id]}" -r bash "$@" </dev/null
	HOST=${OUT%%$'\n'*}
}

# tamper ID WHAT CMD WANT-LOG: on a reused sandbox, run CMD against the agent ($a), then check
# that the next run inherits nothing of it and that the worker said why it discarded the sandbox.
tamper() {
	local id=$1 what=$2 cmd=$3 want=$4 base h0
	run_on "$id" -e "$PROBE"
	h0=$HOST
	base=$(printf '%s\n' "$OUT" | sed -n 2p)
	sleep 2 # the reset runs after the result; let the sandbox go back into the pool
	run_on "$id" -e "cat /etc/hostname; a=\$PPID; $cmd && echo tampered"
	is "$RC|$HOST|$(printf '%s' "$OUT" | tail -1)" "0|$h0|tampered" "$what: run 1 on the reused sandbox changed the agent"
	sleep 2
	run_on "$id" -e "$PROBE"
	is "$RC|$(printf '%s\n' "$OUT" | sed -n 2p)" "0|$base" "$what: the next run inherits none of it"
	like "$(cat "${D_LOG[$id]}")" "sandbox ${h0:0:12} not reused: .*$want" "$what: the tampered sandbox was discarded"
	sleep 2
}

case_agent_limits() {
	local h0
	daemon_start l --workers 1 --pool-size 1,1 --debug || return
	# The agent is the program's parent (bash's $PPID).
	tamper l "prlimit" 'prlimit --pid "$a" --nofile=64:64' "limit nofile"
	tamper l "renice" 'renice -n 15 -p "$a" >/dev/null' "nice value"
	if [ "$(nproc)" -gt 1 ]; then
		tamper l "taskset" 'taskset -p 1 "$a" >/dev/null' "CPU affinity"
	else
		diag "one CPU: no affinity to narrow"
	fi
	tamper l "chrt" 'chrt -i -p 0 "$a"' "scheduling"
	tamper l "ionice" 'ionice -c 3 -p "$a"' "I/O priority"
	# A clean run still lets the next one reuse its sandbox.
	run_on l -e "$PROBE"
	h0=$HOST
	sleep 2
	run_on l -e "$PROBE"
	is "$HOST" "$h0" "an untampered sandbox is still reused"
	daemon_stop l
}

case_writable_root() {
	local h1
	daemon_start w --workers 1 --pool-size 1,1 --debug || return
	run_on w --writable -e 'cat /etc/hostname; echo left >/var/tmp/mark && echo left >/run/lock/mark && echo wrote'
	h1=$HOST
	is "$RC|$(printf '%s' "$OUT" | tail -1)" "0|wrote" "run 1 (writable root) wrote into /var/tmp and /run/lock"
	sleep 2
	run_on w --writable -e 'cat /etc/hostname; cat /var/tmp/mark /run/lock/mark 2>/dev/null; ls -A /var/tmp /run/lock | tr "\n" " "'
	is "$RC" 0 "run 2 (writable root) finished"
	unlike "$OUT" "left|mark" "run 2 finds nothing run 1 left in /var/tmp or /run/lock"
	isnt "$HOST" "$h1" "a writable-root sandbox is not reused"
	daemon_stop w
}

run_cases "$@"
