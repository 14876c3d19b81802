#!/bin/bash
# Issue "tenant isolation" #11: `isol8 serve` started as root stayed root with every capability,
# and its seccomp filter (loaded on the main thread only, after libmicrohttpd's threads had
# started) allowed socket(AF_UNIX), connect and read-only open of any path: after a code
# execution in the server, /var/run/docker.sock and /etc/shadow. --no-act-for-keys as root made
# every API client root's (admin) tenant.
#
# Replays it against the real server on a real isol8d: the network-facing process must be
# another uid with no capability, no_new_privs and seccomp on every thread; the probe that runs
# inside it after the lockdown (hidden --lockdown-probe) must fail to open /etc/shadow, to make
# a socket and to connect to docker.sock; the API must still work end to end (key claims go
# through the connector, which keeps uid 0 but nothing else); --no-act-for-keys as root must
# be refused.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-http-lockdown
require_http

KEY=lockdown-test-key-0123456789abcdef
SRV_PID=""
SRV_URL=""
serve_start() { # LOG [runner...] -- sets SRV_PID SRV_URL
	local log=$1 i port=""
	shift
	setsid "$@" "$ISOL8" serve --port 0 --key "$KEY" --socket "$S" --grace 5 --lockdown-probe >"$log" 2>&1 </dev/null &
	SRV_PID=$!
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" 2>/dev/null)
		[ -n "$port" ] && grep -q '^\[PROBE\] done' "$log" && break
		sleep 0.1
	done
	[ -n "$port" ] || { not_ok "isol8 serve started" "$(cat "$log")"; return 1; }
	SRV_URL=http://127.0.0.1:$port
}
serve_stop() {
	[ -n "$SRV_PID" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do proc_gone "$SRV_PID" && break; sleep 0.1; done
	proc_gone "$SRV_PID" || kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=""
}
trap 'serve_stop; daemon_exit_trap' EXIT

# field PID NAME: a line of /proc/PID/status without its name
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s '[:space:]' ' ' | sed 's/ $//'; }

# The process that does the HTTP work: the started process's one child (the connector stays
# behind as the parent). Unfixed code has no child: the started process serves itself.
server_pid() {
	local c
	c=$(cat "/proc/$SRV_PID/task/$SRV_PID/children" 2>/dev/null | awk '{print $1}')
	echo "${c:-$SRV_PID}"
}

# landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) answers an ABI version
landlock_available() {
	python3 -c 'import ctypes, platform, sys
nr = {"x86_64": 444, "aarch64": 444}.get(platform.machine())
sys.exit(0 if nr and ctypes.CDLL(None, use_errno=True).syscall(nr, None, 0, 1) > 0 else 1)'
}

# probe WHAT LOG: the outcome the in-server probe printed for WHAT ("ok" or an errno name)
probe() { grep -F "[PROBE] $1: " "$T_TMP/$2" | sed 's/.*: //'; }

case_root_server_is_not_root() {
	local pid uid t bad=0 n=0
	serve_start "$T_TMP/root.log" || return
	pid=$(server_pid)
	uid=$(field "$pid" Uid)
	like "$uid" '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]* [1-9][0-9]*$' "server as root: the HTTP process runs as another uid ($uid)"
	like "$(field "$pid" Gid)" '^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]* [1-9][0-9]*$' "and another gid"
	is "$(field "$pid" Groups)" "" "with no supplementary groups"
	is "$(field "$pid" CapEff)|$(field "$pid" CapPrm)|$(field "$pid" CapInh)|$(field "$pid" CapBnd)|$(field "$pid" CapAmb)" \
		"0000000000000000|0000000000000000|0000000000000000|0000000000000000|0000000000000000" \
		"no capability in any set (effective, permitted, inheritable, bounding, ambient)"
	is "$(field "$pid" NoNewPrivs)" 1 "no_new_privs"
	# Every thread: a filter loaded on the main thread after MHD started its threads covers none
	# of the threads that serve connections.
	for t in /proc/"$pid"/task/*; do
		n=$((n + 1))
		[ "$(sed -n 's/^Seccomp:[[:space:]]*//p' "$t/status")" = 2 ] || bad=$((bad + 1))
	done
	is "$n:$bad" "$n:0" "seccomp filter mode on all $n threads"
	# The connector keeps uid 0 (isol8d trusts its key claims by it) and nothing else.
	if [ "$pid" != "$SRV_PID" ]; then
		is "$(field "$SRV_PID" CapEff)|$(field "$SRV_PID" CapPrm)|$(field "$SRV_PID" CapBnd)|$(field "$SRV_PID" NoNewPrivs)|$(field "$SRV_PID" Seccomp)" \
			"0000000000000000|0000000000000000|0000000000000000|1|2" "the connector: uid 0 without capabilities, no_new_privs, seccomp"
	else
		not_ok "the connector: uid 0 without capabilities, no_new_privs, seccomp" "no separate HTTP process"
	fi
}

case_root_server_probe() {
	# serve_start ran in the previous case when run in order; start one if alone (-k probe).
	[ -n "$SRV_PID" ] || serve_start "$T_TMP/root.log" || return
	like "$(probe "open /etc/shadow" root.log)" '^E[A-Z]+$' "inside the server: open /etc/shadow fails ($(probe "open /etc/shadow" root.log))"
	like "$(probe "socket AF_UNIX" root.log)" '^E[A-Z]+$' "inside the server: socket(AF_UNIX) fails ($(probe "socket AF_UNIX" root.log))"
	is "$(probe "connect /var/run/docker.sock" root.log)" "EACCES" "inside the server: connect() is refused by the filter (not EBADF)"
	like "$(probe "socket AF_INET" root.log)" '^E[A-Z]+$' "inside the server: socket(AF_INET) fails"
	is "$(probe "setuid 0" root.log)" "EPERM" "inside the server: setuid(0) fails"
	if landlock_available; then
		like "$(probe "open /etc/passwd" root.log)" '^E[A-Z]+$' "inside the server: even world-readable files cannot be opened (Landlock)"
	else
		ok "# SKIP Landlock not available: /etc/passwd stays readable by the server's uid"
	fi
}

case_root_server_still_serves() {
	local code out
	[ -n "$SRV_PID" ] || serve_start "$T_TMP/root.log" || return
	code=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
		-H 'Content-Type: application/json' --data-binary '{"request":{"code":"print(6*7)","runtime":"python"},"sessionId":"ld1"}' \
		"$SRV_URL/execute")
	out=$(jq -r .stdout "$T_TMP/body" 2>/dev/null)
	is "$code|$out" "200|42" "the dropped server still runs code through isol8d (its key claims are trusted)"
	code=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$SRV_URL/sessions")
	like "$code|$(cat "$T_TMP/body")" '^200\|.*ld1' "and lists the key's session"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $KEY" "$SRV_URL/session/ld1")
	is "$code" 200 "and stops it"
	serve_stop
}

case_no_act_for_keys_as_root() {
	local rc out
	out=$(timeout 20 "$ISOL8" serve --port 0 --key "$KEY" --socket "$S" --no-act-for-keys 2>&1 </dev/null)
	rc=$?
	is "$rc" 2 "--no-act-for-keys as root exits 2"
	is "$(grep -c '^\[ERR\]' <<<"$out")" 1 "with one [ERR] line"
	unlike "$out" 'listening' "and never listens"
}

case_unprivileged_server() {
	# Run by an ordinary user: same filter, no socket, and (Landlock) no file either.
	local pid code
	chmod 0755 "$T_TMP"
	serve_start "$T_TMP/user.log" setpriv --reuid=nobody --regid=nogroup --clear-groups || return
	pid=$(server_pid)
	is "$(field "$pid" NoNewPrivs)|$(field "$pid" Seccomp)" "1|2" "server as nobody: no_new_privs, seccomp"
	like "$(probe "socket AF_UNIX" user.log)" '^E[A-Z]+$' "server as nobody: socket(AF_UNIX) fails"
	if landlock_available; then
		like "$(probe "open /etc/passwd" user.log)" '^E[A-Z]+$' "server as nobody: no file can be opened (Landlock)"
	else
		ok "# SKIP Landlock not available"
	fi
	is "$(probe "connect /var/run/docker.sock" user.log)" "EACCES" "server as nobody: connect() is refused by the filter"
	code=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
		-H 'Content-Type: application/json' --data-binary '{"request":{"code":"print(7*6)","runtime":"python"}}' \
		"$SRV_URL/execute")
	is "$code|$(jq -r .stdout "$T_TMP/body" 2>/dev/null)" "200|42" "and runs code as nobody's tenant"
	serve_stop
}

daemon_start a || bail "isol8d did not start"
S=${D_SOCK[a]}
run_cases "$@"
