#!/bin/bash
# The audit log (issue 14): isol8d writes one chained record per execution, refusal and clamp;
# `isol8 audit verify` finds and locates an edit, a deletion and a reorder; the chain goes on
# across restarts and rotation; `isol8 audit show` gives each caller what it may read. Real
# isol8d, real engine; every daemon's log is its own (SOCKET.audit.jsonl in the test's temp dir).
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"

daemon_setup audit_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
command -v jq >/dev/null || bail "jq needed"

# The log of daemon ID, and its record N (1-based line) as compact JSON.
alog() { echo "${D_SOCK[$1]}.audit.jsonl"; }
rec() { sed -n "${2}p" "$(alog "$1")"; }
nobody() { su nobody -s /bin/sh -c "$*"; }
# Records of one type, compact, one a line, without the fields that change from run to run.
typed() { jq -c --arg t "$2" 'select(.type == $t) | del(.seq, .prev, .time, .node, .executionId, .container, .durationMs, .totalMs, .pid, .uid, .gid)' "$(alog "$1")"; }

case_execution_record() {
	local L line code='print("audited")' keys
	daemon_start x --node-id node-x || return
	L=$(alog x)
	run_cap "$ISOL8" run --socket "${D_SOCK[x]}" -e "$code"
	is "$RC|$OUT" $'0|audited\n' "a run succeeds with the audit log on"
	is "$(stat -c '%a %U %G' "$L")" "640 root $(getent group adm >/dev/null && echo adm || echo root)" \
		"the log is 0640, root and group adm"
	line=$(jq -c 'select(.type == "execution")' "$L")
	keys=$(printf '%s' "$line" | jq -r 'keys_unsorted | join(",")')
	is "$keys" "seq,prev,time,type,node,executionId,tenant,principal,uid,gid,container,image,runtime,kind,limits,network,outcome,exitCode,durationMs,totalMs,timedOut,oomKilled,stdoutBytes,stderrBytes,truncated,resourceUsage,codeHash" \
		"an execution record has the broker's and the worker's fields, in order"
	is "$(jq -r .node "$L" | sort -u)" node-x "every record names the node (--node-id): one chain per node"
	is "$(printf '%s' "$line" | jq -c '[.tenant, .principal, .uid, .gid, .image, .runtime, .kind, .network, .outcome, .exitCode, .stdoutBytes, .timedOut]')" \
		'["admin","uid:0",0,0,"isol8:python","python","ephemeral","none","ok",0,8,false]' "who, where and how it ended"
	is "$(printf '%s' "$line" | jq -c .limits)" \
		'{"memoryBytes":536870912,"cpu":1,"pids":64,"timeoutMs":30000,"sandboxSize":536870912,"tmpSize":268435456,"maxOutput":1048576,"readonlyRootFs":true}' \
		"the limits the broker applied"
	is "$(printf '%s' "$line" | jq -r .codeHash)" "$(printf '%s' "$code" | sha256sum | cut -d' ' -f1)" "codeHash is the SHA-256 of the code"
	like "$(printf '%s' "$line" | jq -r .container)" '^[0-9a-f]{64}$' "the container is named"
	is "$(rec x 1 | jq -c '[.seq, .prev, .type, .instance]')" "[1,\"$(printf '0%.0s' {1..64})\",\"start\",\"${D_SOCK[x]}\"]" \
		"the first record is the daemon's start, chained to 64 zeros"
	run_cap "$ISOL8" audit verify "$L"
	is "$RC|$(head -1 <<<"$OUT")" "0|[OK] 2 records, seq 1 to 2: the chain is intact" "verify: intact"
	daemon_stop x
	is "$(tail -1 "$L" | jq -c '[.seq, .type]')" '[3,"stop"]' "a stop record at shutdown"
	like "$(cat "${D_LOG[x]}")" "audit log $L: last record seq 3 hash $(tail -1 "$L" | tr -d '\n' | sha256sum | cut -d' ' -f1)" \
		"isol8d logs the last seq and hash when it stops"
}

case_timeout_and_error() {
	daemon_start t || return
	run_cap "$ISOL8" run --socket "${D_SOCK[t]}" --timeout 1000 -e 'import time; time.sleep(5)'
	is "$RC" 124 "a run that times out"
	run_cap "$ISOL8" run --socket "${D_SOCK[t]}" --setup 'exit 3' -e 'print(1)'
	is "$RC|$ERR" $'2|[ERR] Setup script failed (exit code 3)\n' "a run whose setup script fails"
	is "$(typed t execution | jq -c '[.outcome, .exitCode, .timedOut, .stderrBytes > 0]' | head -1)" '["timeout",124,true,true]' \
		"the timeout is recorded as such"
	is "$(typed t execution | sed -n 2p | jq -c '[.outcome, .exitCode, .error, .container]')" \
		"[\"error\",-1,{\"code\":\"usage\",\"message\":\"Setup script failed (exit code 3)\"},null]" \
		"a run that failed before its program: outcome error with the worker's reason"
	daemon_stop t
}

case_refusal_and_clamp() {
	local L
	daemon_start r || return
	L=$(alog r)
	run_cap nobody "'$ISOL8' run --socket '${D_SOCK[r]}' --net host -e 'print(1)'"
	is "$RC" 1 "tenant local may not use the host network"
	is "$(typed r refusal)" \
		'{"type":"refusal","tenant":"local","principal":"uid:65534","action":"create-sandbox","reason":"policy","message":"policy built-in: network host is not allowed for tenant local"}' \
		"one refusal record, naming tenant, principal and the policy's reason"
	is "$(typed r execution | jq -c '[.outcome, .error.code]')" '["refused","policy"]' "and the run's own record says refused"
	run_cap nobody "'$ISOL8' run --socket '${D_SOCK[r]}' --memory 8g -e 'print(2)'"
	is "$RC|$OUT" $'0|2\n' "a run above the memory ceiling is clamped and runs"
	is "$(typed r clamp | jq -c '[.tenant, .principal, .requested.memoryBytes, .applied.memoryBytes]')" \
		'["local","uid:65534",8589934592,536870912]' "one clamp record: asked for 8g, got 512m"
	is "$(typed r execution | tail -1 | jq -c .limits.memoryBytes)" 536870912 "the execution record has the applied limit"
	daemon_stop r
}

case_tamper() {
	local L T
	daemon_start v || return
	L=$(alog v)
	for i in 1 2 3; do "$ISOL8" run --socket "${D_SOCK[v]}" -e "print($i)" >/dev/null; done
	daemon_stop v
	T=$T_TMP/tamper.jsonl
	run_cap "$ISOL8" audit verify "$L"
	is "$RC|$(head -1 <<<"$OUT")" "0|[OK] 5 records, seq 1 to 5: the chain is intact" "the untouched log verifies"

	sed '3s/"exitCode":0/"exitCode":1/' "$L" >"$T"
	run_cap "$ISOL8" audit verify "$T"
	is "$RC|$OUT|$ERR" "1||[ERR] $T:4 (seq 4): prev does not match the hash of the record before it: the record at $T:3 (seq 3) was changed after it was written
" "an edited field: found, and the edited line named"

	sed '3d' "$L" >"$T"
	run_cap "$ISOL8" audit verify "$T"
	is "$RC|$ERR" "1|[ERR] $T:3: seq 4 follows seq 2 at $T:2; record 3 is not in the log: it was deleted
" "a deleted line: found and located"

	awk 'NR == 3 { h = $0; next } NR == 4 { print; print h; next } { print }' "$L" >"$T"
	run_cap "$ISOL8" audit verify "$T"
	is "$RC|$ERR" "1|[ERR] $T:3: seq 4 follows seq 2 at $T:2; record 3 is at $T:4: records were reordered
" "two swapped lines: found, and both named"

	head -c -1 "$L" >"$T"
	sed -i '$s/"type":"stop"/"type":"stop","x":1/' "$T"
	run_cap "$ISOL8" audit verify "$T"
	is "$RC|$ERR" "1|[ERR] $T:5: incomplete record (no newline at the end)
" "a last record without its newline is reported"
}

case_restart_continues() {
	local L
	daemon_start c || return
	L=$(alog c)
	"$ISOL8" run --socket "${D_SOCK[c]}" -e 'print(1)' >/dev/null
	daemon_stop c
	daemon_start c || return
	"$ISOL8" run --socket "${D_SOCK[c]}" -e 'print(2)' >/dev/null
	daemon_stop c
	is "$(jq -c '[.seq, .type]' "$L" | tr -d '\n')" '[1,"start"][2,"execution"][3,"stop"][4,"start"][5,"execution"][6,"stop"]' \
		"a restarted daemon continues the same chain"
	run_cap "$ISOL8" audit verify "$L"
	is "$RC|$(head -1 <<<"$OUT")" "0|[OK] 6 records, seq 1 to 6: the chain is intact" "and it verifies across the restart"
}

case_rotation() {
	local P=$T_TMP/rot-policy.json L old new
	jq '.audit = {"maxSize": 4096, "retentionDays": 0}' "$SRC/policy/default-policy.json" >"$P"
	daemon_start o --policy "$P" || return
	L=$(alog o)
	for i in 1 2 3 4 5 6; do "$ISOL8" run --socket "${D_SOCK[o]}" -e "print($i)" >/dev/null; done
	daemon_stop o
	old=$(ls "$L".2* 2>/dev/null | sort)
	[ -n "$old" ] && ok "the full log was rotated aside ($(echo "$old" | wc -l) file(s))" || not_ok "the full log was rotated aside"
	new=$(head -1 "$L")
	is "$(jq -c '[.type, .previousFile]' <<<"$new")" "[\"rotate\",\"$(basename "$(echo "$old" | tail -1)")\"]" \
		"the new file starts with a rotate record naming the old file"
	is "$(jq -r .prev <<<"$new")" "$(tail -1 "$(echo "$old" | tail -1)" | tr -d '\n' | sha256sum | cut -d' ' -f1)" \
		"its prev is the old file's last hash"
	# shellcheck disable=SC2086
	run_cap "$ISOL8" audit verify $old "$L"
	like "$RC|$OUT" '^0\|\[OK\] [0-9]+ records, seq 1 to [0-9]+: the chain is intact' "old and new files verify as one chain"
	run_cap "$ISOL8" audit verify "$L"
	like "$RC|$OUT" "^0\|.*it continues an earlier \(rotated\) file: that file's last record must hash to $(jq -r .prev <<<"$new")" \
		"the new file alone verifies and names the hash it continues"
}

# A reload follows the policy's audit block (issue 14): its choices from the next record, a
# new path with a "stop" record naming it and a "start" there naming the old file, the chain
# carried on; audit.sync makes each record fdatasync'ed.
case_reload_follows_policy() {
	local P=$T_TMP/reload-policy.json A=$T_TMP/audit-a/audit.jsonl B=$T_TMP/audit-b/audit.jsonl S
	jq --arg a "$A" '.audit = {"path": $a}' "$SRC/policy/default-policy.json" >"$P"
	daemon_start h --policy "$P" || return
	S=${D_SOCK[h]}
	"$ISOL8" run --socket "$S" -e 'print(1)' >/dev/null
	jq --arg a "$A" '.audit = {"path": $a, "includeCode": true}' "$SRC/policy/default-policy.json" >"$P"
	kill -HUP "${D_PID[h]}"
	for _ in $(seq 50); do grep -q 'reloaded policy' "${D_LOG[h]}" && break; sleep 0.1; done
	"$ISOL8" run --socket "$S" -e 'print(2)' >/dev/null
	is "$(jq -c '[.type, .includeCode, .code] | map(select(. != null))' "$A" | tr -d '\n')" \
		'["start"]["execution"]["reload",true]["execution","print(2)"]' \
		"same file: a reload record, and includeCode applies from the next run"
	jq --arg b "$B" '.audit = {"path": $b}' "$SRC/policy/default-policy.json" >"$P"
	kill -HUP "${D_PID[h]}"
	for _ in $(seq 50); do [ "$(grep -c 'reloaded policy' "${D_LOG[h]}")" = 2 ] && break; sleep 0.1; done
	"$ISOL8" run --socket "$S" -e 'print(3)' >/dev/null
	is "$(tail -1 "$A" | jq -c '[.seq, .type, .reason, .nextFile]')" "[5,\"stop\",\"policy reload: the log moves\",\"$B\"]" \
		"the old file ends with a stop record naming the new one"
	is "$(jq -c '[.seq, .type, .previousFile] | map(select(. != null))' "$B" | tr -d '\n')" "[6,\"start\",\"$A\"][7,\"execution\"]" \
		"the new file starts with a start record naming the old one, the chain's seq carried on"
	is "$(head -1 "$B" | jq -r '.prev + " " + .previousHash')" \
		"$(tail -1 "$A" | tr -d '\n' | sha256sum | cut -d' ' -f1) $(tail -1 "$A" | tr -d '\n' | sha256sum | cut -d' ' -f1)" \
		"  its prev (and previousHash) is the old file's last hash"
	run_cap "$ISOL8" audit verify "$A" "$B"
	is "$RC|$(head -1 <<<"$OUT")" "0|[OK] 7 records, seq 1 to 7: the chain is intact" "both files verify as one chain"
	like "$(cat "${D_LOG[h]}")" "audit log $A: last record seq 5 hash [0-9a-f]{64}; continuing in $B" \
		"  and isol8d logs the old file's last seq and hash"
	# sync: each record is flushed (seen with strace on the daemon)
	jq --arg b "$B" '.audit = {"path": $b, "sync": true}' "$SRC/policy/default-policy.json" >"$P"
	kill -HUP "${D_PID[h]}"
	for _ in $(seq 50); do [ "$(grep -c 'reloaded policy' "${D_LOG[h]}")" = 3 ] && break; sleep 0.1; done
	if command -v strace >/dev/null; then
		strace -f -qq -e trace=fdatasync -p "${D_PID[h]}" -o "$T_TMP/sync.trace" &
		local st=$!
		sleep 0.5
		"$ISOL8" run --socket "$S" -e 'print(4)' >/dev/null
		sleep 0.2
		kill "$st"
		wait "$st" 2>/dev/null
		like "$(cat "$T_TMP/sync.trace")" 'fdatasync\([0-9]+\) += 0' "audit.sync: records are fdatasync'ed"
	else
		ok "# SKIP strace not installed"
	fi
	# off: the file ends with a stop record and nothing more is written
	jq '.audit = {"enabled": false}' "$SRC/policy/default-policy.json" >"$P"
	kill -HUP "${D_PID[h]}"
	for _ in $(seq 50); do [ "$(grep -c 'reloaded policy' "${D_LOG[h]}")" = 4 ] && break; sleep 0.1; done
	"$ISOL8" run --socket "$S" -e 'print(5)' >/dev/null
	is "$(tail -1 "$B" | jq -c '[.type, .reason]')" '["stop","policy reload: the log is off"]' "disabled: a last stop record, then nothing"
	daemon_stop h
	is "$(tail -1 "$B" | jq -r .type)" stop "  and the daemon's own stop writes nothing more"
}

case_show() {
	local S
	daemon_start s || return
	S=${D_SOCK[s]}
	"$ISOL8" run --socket "$S" -e 'print(1)' >/dev/null
	nobody "'$ISOL8' run --socket '$S' -e 'print(2)'" >/dev/null
	run_cap "$ISOL8" audit show --socket "$S" --json
	is "$RC|$(jq -c '[.[] | [.type, .tenant]]' <<<"$OUT")" '0|[["start",null],["execution","admin"],["execution","local"]]' \
		"root sees every record"
	run_cap nobody "'$ISOL8' audit show --socket '$S' --json"
	is "$RC|$(jq -c '[.[] | [.type, .tenant, .principal]]' <<<"$OUT")" '0|[["execution","local","uid:65534"]]' \
		"another user sees its tenant's records only, through isol8d"
	run_cap nobody "'$ISOL8' audit verify '$(alog s)'"
	like "$RC|$ERR" '^1\|\[ERR\] cannot read .*: Permission denied \(the audit log is for root and group adm\)' \
		"and cannot read the file itself"
	run_cap "$ISOL8" audit show --socket "$S" --tenant local
	is "$RC|$(printf '%s' "$OUT" | wc -l)|$(printf '%s' "$OUT" | tail -1 | awk '{print $2, $3, $4, $5, $6, $7}')" "0|2|execution local uid:65534 python ok 0" \
		"--tenant filters, the table shows one line per record"
	run_cap "$ISOL8" audit show --socket "$S" --since 2099-01-01
	is "$RC|$OUT" $'0|TIME                     TYPE      TENANT     PRINCIPAL        RUNTIME OUTCOME    EXIT      MS  CONTAINER / REASON\n[INFO] No audit records match.\n' \
		"--since in the future: nothing"
	run_cap "$ISOL8" audit show --socket "$S" --since yesterday
	is "$RC|$ERR" "2|[ERR] --since 'yesterday': use a UTC date or time (2026-12-03, 2026-12-03T13:00:00Z) or an age (30m, 2h, 7d)
" "a bad --since is a usage error"
	run_cap "$ISOL8" audit show --socket "$S" --since 10m --json
	is "$(jq length <<<"$OUT")" 3 "--since 10m: all of this test's records"
	daemon_stop s
}

case_metadata() {
	local out
	daemon_start m || return
	out=$(cd "$SRC/tests/security" && python3 - "${D_SOCK[m]}" <<'EOF'
import json, os, sys, wire
req = json.loads(wire.run_request('print(3)'))
req['request']['metadata'] = {'userId': 'alice', 'ticket': 42}
sock = wire.connect(sys.argv[1])
r_out, w_out = os.pipe(); r_err, w_err = os.pipe()
wire.send(sock, wire.FE_RUN, json.dumps(req).encode(), [w_out, w_err, wire.sealed_memfd()])
os.close(w_out); os.close(w_err)
reply = wire.recv(sock)
print(reply[0], os.read(r_out, 100).decode().strip())
bad = json.loads(wire.run_request('print(4)'))
bad['request']['metadata'] = {'x': 'line\nbreak'}
sock = wire.connect(sys.argv[1])
wire.send(sock, wire.FE_RUN, json.dumps(bad).encode(), [w_out2 := os.pipe()[1], os.pipe()[1], wire.sealed_memfd()])
reply = wire.recv(sock)
print(reply[0], wire.error_text(reply[1]))
EOF
)
	is "$out" "20 3
21 request.metadata.x: expected a string (or number) of at most 256 bytes without control characters" \
		"metadata pairs are taken; a value with a control character is refused"
	is "$(typed m execution | jq -c .metadata)" '{"userId":"alice","ticket":"42"}' "the execution record carries the metadata"
	daemon_stop m
}

case_include_code_and_output() {
	local P=$T_TMP/incl-policy.json rec code='import sys; print("out:" + "hunter2"); print("err!", file=sys.stderr)'
	jq '.audit = {"includeCode": true, "includeOutput": true}' "$SRC/policy/default-policy.json" >"$P"
	daemon_start i --policy "$P" || return
	run_cap "$ISOL8" run --socket "${D_SOCK[i]}" --secret PW=hunter2 -e "$code"
	is "$RC|$OUT" $'0|out:***\n' "the run's output, with the secret masked"
	rec=$(typed i execution)
	is "$(jq -c '[.code, .stdoutHead, .stderrHead]' <<<"$rec")" "$(jq -cn --arg c "$code" '[$c, "out:***\n", "err!\n"]')" \
		"includeCode and includeOutput: the code, and the output heads as the caller saw them"
	daemon_stop i
	daemon_start n || return
	"$ISOL8" run --socket "${D_SOCK[n]}" -e 'print(1)' >/dev/null
	is "$(typed n execution | jq -c '[has("code"), has("stdoutHead")]')" '[false,false]' "by default neither is recorded"
	daemon_stop n
}

case_one_log_per_daemon() {
	daemon_start a || return
	run_cap "$ISOL8D" --worker-path "$BUILDDIR/isol8-worker" --socket "$T_TMP/other.sock" --foreground \
		--audit-log "$(alog a)"
	is "$RC" 1 "a second daemon on the same audit log does not start"
	like "$ERR" "audit log $(alog a) is in use by another isol8d: give each daemon its own \(isol8d --audit-log FILE, or audit.path in the policy\)" \
		"and says why"
	is "$(docker ps -aq --filter "label=org.isol8.instance=$T_TMP/other.sock")" "" "it created no container"
	daemon_stop a
}

run_cases "$@"
