#!/bin/bash
# Reliability (issue 19): sandboxes that die behind isol8d's back. Each case removes containers
# of a private daemon (selected by its instance label) and asserts what the next runs see:
# exit status, exact output and message, containers left, and that the run after succeeds.
# TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup sandbox_death_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"

HELLO='print("hello")'
# The pool a first run leaves: 2 (the fill and the reset sandbox). Under runsc (runsc_test.sh)
# a used sandbox has no agent to reset it and is removed, so only the fill stays.
POOL_N=2
[ "${ISOL8_TEST_ISOLATION:-}" = runsc ] && POOL_N=1

# wait_pool ID N: until the daemon holds at least N containers (the pool filled), at most 20 s
wait_pool() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(daemon_containers "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

remove_all() { # ID: what an admin's `docker rm -f`, an OOM kill or an engine restart does
	local ids
	ids=$(daemon_containers "$1")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	return 0
}

# n_ok ID N: runs N hello runs one after the other; sets GOOD (how many gave exit 0 and exactly
# "hello") and BAD (the first failure's output)
n_ok() {
	local i
	GOOD=0 BAD=""
	for ((i = 0; i < $2; i++)); do
		run_cap i8 "$1" run -e "$HELLO"
		if [ "$RC|$OUT|$ERR" = $'0|hello\n|' ]; then GOOD=$((GOOD + 1)); else [ -n "$BAD" ] || BAD="$RC|$OUT|$ERR"; fi
	done
}

no_refusals() { # ID DESC: the daemon's own parts never refused each other
	local bad
	bad=$(grep -E 'refused|past their hard deadline|Broken pipe' "${D_LOG[$1]}")
	is "$bad" "" "$2"
}

case_pool_removed() {
	daemon_start pr || return
	run_cap i8 pr run -e "$HELLO"
	is "$RC|$OUT" $'0|hello\n' "pool removed: a first run fills the pool"
	wait_pool pr $POOL_N || not_ok "pool removed: the pool fills to $POOL_N" "$(daemon_containers pr)"
	remove_all pr
	n_ok pr 20
	is "$GOOD/20 $BAD" "20/20 " "pool removed: after docker rm -f of every pooled sandbox, 20 of 20 runs succeed"
	# Found in the background (pooled sandbox ... is gone) or by the first run to take it.
	like "$(cat "${D_LOG[pr]}")" "pooled sandbox [0-9a-f]{12} is gone|sandbox [0-9a-f]{12} went away before the program started" \
		"pool removed: the dead slots are logged as such"
	no_refusals pr "pool removed: no refusal and no broken pipe in the daemon's log"
	daemon_stop pr
}

# The pool heals by itself: no run has to come and find the dead slots.
case_pool_heals() {
	local before after i common
	daemon_start ph || return
	run_cap i8 ph run -e "$HELLO"
	is "$RC|$OUT" $'0|hello\n' "pool heals: a first run fills the pool"
	wait_pool ph $POOL_N || not_ok "pool heals: the pool fills to $POOL_N" "$(daemon_containers ph)"
	sleep 1 # the fill's last container settles into the pool
	before=$(daemon_containers ph | sort)
	remove_all ph
	for ((i = 0; i < 150; i++)); do
		after=$(daemon_containers ph | sort)
		[ "$(grep -c . <<<"$after")" -ge $POOL_N ] && break
		sleep 0.1
	done
	common=$(comm -12 <(printf '%s\n' "$before") <(printf '%s\n' "$after"))
	is "$(grep -c . <<<"$after")|$common" "$POOL_N|" "pool heals: $POOL_N new pooled sandboxes within 15 s, without a run"
	is "$(grep -cE 'pooled sandbox [0-9a-f]{12} is gone .*: replacing it' "${D_LOG[ph]}")" $POOL_N \
		"pool heals: each dead slot is logged as being replaced"
	run_cap i8 ph run -e "$HELLO"
	is "$RC|$OUT|$ERR" $'0|hello\n|' "pool heals: the next run succeeds"
	after=$(daemon_containers ph | sort)
	common=$(comm -12 <(printf '%s\n' "$before") <(printf '%s\n' "$after"))
	is "$common" "" "pool heals: none of the removed sandboxes came back"
	no_refusals ph "pool heals: no refusal and no broken pipe in the daemon's log"
	daemon_stop ph
}

case_cleanup_force() {
	daemon_start cf || return
	run_cap i8 cf run -e "$HELLO"
	wait_pool cf $POOL_N || not_ok "cleanup: the pool fills to $POOL_N" "$(daemon_containers cf)"
	local before left
	before=$(daemon_containers cf)
	run_cap "$ISOL8" cleanup --force --filter "org.isol8.instance=${D_SOCK[cf]}"
	is "$RC" 0 "cleanup --force (only this daemon's containers) exits 0"
	# The pool may already be refilling with new ones: the old ones are what must be gone.
	left=$(comm -12 <(sort <<<"$before") <(daemon_containers cf | sort))
	is "$left" "" "cleanup --force removed every container the daemon had"
	run_cap i8 cf run -e "$HELLO"
	is "$RC|$OUT|$ERR" $'0|hello\n|' "cleanup --force: the very next run succeeds"
	n_ok cf 5
	is "$GOOD/5 $BAD" "5/5 " "cleanup --force: and the 5 after it"
	no_refusals cf "cleanup --force: no refusal in the daemon's log"
	daemon_stop cf
}

# The container goes away in the middle of a run: one clear line, exit 1, output kept.
case_killed_mid_run() {
	local pid i rc
	daemon_start km || return
	i8 km run -e 'import time; print("before", flush=True); time.sleep(60)' >"$T_TMP/km.out" 2>"$T_TMP/km.err" &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[ -s "$T_TMP/km.out" ] && break
		sleep 0.1
	done
	remove_all km
	wait "$pid"; rc=$?
	is "$rc|$(cat "$T_TMP/km.out")|$(cat "$T_TMP/km.err")" \
		"1|before|[ERR] the sandbox was killed while the program ran (container removed or engine restarted)" \
		"killed mid-run: exit 1, the output before kept, one line saying what happened"
	run_cap i8 km run -e "$HELLO"
	is "$RC|$OUT|$ERR" $'0|hello\n|' "killed mid-run: the next run succeeds"
	daemon_stop km
}

# The same over HTTP: POST /execute answers a JSON error, POST /execute/stream an error event
# after the output that came before.
case_killed_mid_run_http() {
	local port i pid code
	need_http || return 0
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf 'alpha:secret-alpha-0123456789\n' >"$T_TMP/keys"
	chmod 600 "$T_TMP/keys"
	daemon_start kh --http "127.0.0.1:$port" --http-keys "$T_TMP/keys" || return
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
		sleep 0.1
	done
	hpost() { # PATH OUTFILE: a sleeping program that prints first
		curl -s -N -o "$2" -w '%{http_code}' -X POST -H 'Authorization: Bearer secret-alpha-0123456789' \
			-H 'Content-Type: application/json' \
			--data-binary '{"request":{"code":"import time\nprint(\"before\", flush=True)\ntime.sleep(20)","runtime":"python"}}' \
			"http://127.0.0.1:$port$1" >"$2.code"
	}
	hpost /execute/stream "$T_TMP/kh.sse" &
	pid=$!
	# How the program's writes fall into chunks is not part of the contract ("before" and "\n"
	# may come as one event or two), so consecutive output events of a stream are joined.
	sse_events() {
		grep '^data:' "$1" | sed 's/^data: *//' |
			jq -cs 'reduce .[] as $e ([]; if length > 0 and .[-1][0] == $e.type and ($e.type == "stdout" or $e.type == "stderr")
				then .[-1][1] += $e.data else . + [[$e.type, $e.data]] end) | .[]' | tr '\n' ' '
	}
	for ((i = 0; i < 300; i++)); do
		[[ "$(sse_events "$T_TMP/kh.sse" 2>/dev/null)" == '["stdout","before\n"] ' ]] && break
		sleep 0.1
	done
	remove_all kh
	wait "$pid"
	is "$(cat "$T_TMP/kh.sse.code")|$(sse_events "$T_TMP/kh.sse")" \
		'200|["stdout","before\n"] ["error","the sandbox was killed while the program ran (container removed or engine restarted)"] ' \
		"HTTP stream: the output before, then an error event saying what happened"
	hpost /execute "$T_TMP/kh.json" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(eng_running kh)" -ge 1 ] && break
		sleep 0.1
	done
	sleep 1.5
	remove_all kh
	wait "$pid"
	code=$(cat "$T_TMP/kh.json.code")
	is "$code|$(jq -c . "$T_TMP/kh.json" 2>/dev/null)" \
		'502|{"error":"the sandbox was killed while the program ran (container removed or engine restarted)"}' \
		"HTTP: POST /execute answers a JSON error (502) saying what happened"
	run_cap i8 kh run -e "$HELLO"
	is "$RC|$OUT|$ERR" $'0|hello\n|' "HTTP: the next run succeeds"
	daemon_stop kh
}

eng_running() { docker ps -q --filter "label=org.isol8.instance=${D_SOCK[$1]}" | wc -l; }

case_session_lost() {
	local id
	daemon_start sl || return
	run_cap i8 sl run --session-id lost1 -e 'x = 41; print("set")'
	is "$RC|$OUT" $'0|set\n' "session: first run sets state"
	id=$(i8 sl session list 2>/dev/null | jq -r '.[0].containerId' 2>/dev/null)
	[ -n "$id" ] && [ "$id" != null ] || id=$(daemon_containers sl | head -1)
	docker rm -f "$id" >/dev/null 2>&1
	run_cap i8 sl run --session-id lost1 -e 'print(x + 1)'
	is "$RC|$OUT|$ERR" "1||[ERR] session 'lost1' was lost: its container is gone"$'\n' \
		"session: the next use says the session was lost (exit 1)"
	run_cap i8 sl run --session-id lost1 -e 'print("fresh", "x" in dir())'
	is "$RC|$OUT|$ERR" $'0|fresh False\n|' "session: it was removed; the name starts a fresh session"
	run_cap i8 sl run -e "$HELLO"
	is "$RC|$OUT|$ERR" $'0|hello\n|' "session: other runs are not affected"
	daemon_stop sl
}

run_cases "$@"
