#!/bin/bash
# What an admin sees (issue 20, items 3 and 6): isol8 status, timestamped plain logs, journal
# fields under systemd (a stand-in journald socket), isol8 serve's access log, and /health
# saying 503 when isol8d is gone. Needs root and the engine.
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
daemon_setup observe
SRC=$(cd "${ISOL8_SRCDIR:-$(dirname "$0")/../..}" && pwd)
docker image inspect isol8:bash >/dev/null 2>&1 || { echo "1..0 # SKIP isol8:bash image missing"; exit 77; }
RFC3339='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

case_status() {
	local j
	daemon_start st || return
	run_cap i8 st run --session-id st1 -r bash -e 'echo s' </dev/null
	run_cap i8 st status --json </dev/null
	is "$RC" 0 "isol8 status --json: exit 0"
	j=$OUT
	is "$(json_get "$j" '[.version, .scope, (.workers | length), ([.workers[].running] | all)]')" '["0.1.0","all",2,true]' \
		"root: version, every tenant, two running workers"
	like "$(json_get "$j" '.uptimeSeconds')" '^[0-9]+$' "uptime in seconds"
	is "$(json_get "$j" '.policy | [.source, .reloads, .tenants]')" '["built-in",0,2]' "policy source, reloads, tenants"
	is "$(json_get "$j" '[.tenants[] | .name] | sort')" '["admin","local"]' "root sees every tenant"
	is "$(json_get "$j" '.tenants[] | select(.name == "admin") | .sessions')" 1 "the session counts for its tenant"
	is "$(json_get "$j" '.queue | [.runsInFlight, .waiting, .maxConcurrent]')" '[0,0,10]' "queue: nothing running or waiting"
	run_cap i8 st status </dev/null
	like "$OUT" "^isol8d 0\.1\.0, pid ${D_PID[st]}, up " "human output: version, pid, uptime"
	like "$OUT" $'\npolicy built-in: 2 tenants, loaded ' "  and the policy"
	run_cap setpriv --reuid=nobody --regid=nogroup --clear-groups env -C "$T_TMP" HOME="$T_TMP" \
		"$ISOL8" status --json --socket "${D_SOCK[st]}" </dev/null
	is "$RC|$(json_get "$OUT" '[.scope, [.tenants[].name]]')" '0|["tenant",["local"]]' "another user sees its own tenant only"
	kill -HUP "${D_PID[st]}"
	for _ in $(seq 50); do grep -q 'reloaded policy' "${D_LOG[st]}" && break; sleep 0.1; done
	run_cap i8 st status --json </dev/null
	is "$(json_get "$OUT" '.policy.reloads')" 1 "a reload is counted"
	run_cap i8 st status --bogus </dev/null
	like "$RC|$ERR" "^2\|\[ERR\] unknown argument '--bogus' \(isol8 status \[--json[^]]*\] \[--socket PATH\]\)"$'\n$' "a bad flag: usage error"
	# Plain logs are timestamped (RFC 3339, UTC).
	like "$(head -1 "${D_LOG[st]}")" "^$RFC3339 isol8d: " "isol8d's log lines start with an RFC 3339 time"
	unlike "$(grep -Ev "^$RFC3339 " "${D_LOG[st]}" | head -3)" . "  every one of them"
	daemon_stop st
}

# Who is an admin is the policy's (issue 20 item 3): a tenant marked "admin": true sees every
# tenant, and once any tenant is marked, root unmarked sees only its own.
case_admin_mark() {
	local f=$T_TMP/admins.json
	jq '.tenants.ops = (.tenants.local | .match.uids = [65534] | .admin = true) | .tenants.admin.admin = false' \
		"$SRC/policy/default-policy.json" >"$f"
	run_cap "$ISOL8D" --check-policy "$f"
	is "$RC|$OUT" "0|$f: ok (3 tenants: admin, local, ops; default tenant local; admins: ops)"$'\n' \
		"--check-policy names the marked admins"
	daemon_start am --policy "$f" || return
	run_cap setpriv --reuid=nobody --regid=nogroup --clear-groups env -C "$T_TMP" HOME="$T_TMP" \
		"$ISOL8" status --json --socket "${D_SOCK[am]}" </dev/null
	is "$RC|$(json_get "$OUT" '[.scope, ([.tenants[].name] | sort), .policy.admins, .policy.adminRule]')" \
		'0|["all",["admin","local","ops"],["ops"],"marked"]' "a marked tenant's user (nobody) sees every tenant"
	is "$(json_get "$OUT" '[.tenants[] | select(.admin) | .name]')" '["ops"]' "  and status says which tenant is admin"
	run_cap i8 am status --json </dev/null
	is "$RC|$(json_get "$OUT" '[.scope, [.tenants[].name]]')" '0|["tenant",["admin"]]' \
		"root, its tenant unmarked: its own tenant only"
	run_cap i8 am status </dev/null
	like "$OUT" $'\nadmins: tenant ops\n' "the human output has an admins line"
	daemon_stop am
	run_cap "$ISOL8D" --check-policy "$SRC/policy/default-policy.json"
	is "$OUT" "$SRC/policy/default-policy.json: ok (2 tenants: admin, local; default tenant local; admins: admin)"$'\n' \
		"the shipped policy marks its admin tenant (uid 0)"
}

# The warm pool per shape (issue 20 item 3, issue 14 item 4): warm, resetting and in use, as
# the workers report them; in the status document, its text and the metrics.
pools_of() { # ID JQ: the pools' figures once they settle (the workers report within ~20 ms)
	local v="" last=""
	for _ in $(seq 50); do
		v=$(i8 "$1" status --json </dev/null | jq -c "$2")
		[ "$v" = "$last" ] && [ "$v" != "[]" ] && break
		last=$v
		sleep 0.2
	done
	printf '%s' "$v"
}

case_pools() {
	docker image inspect isol8:python >/dev/null 2>&1 || { ok "# SKIP isol8:python image missing"; return; }
	daemon_start pl || return
	is "$(i8 pl status --json </dev/null | jq -c '.pools')" '[]' "no run yet: no pool"
	run_cap i8 pl run -r python -e 'print(1)' </dev/null
	is "$RC|$OUT" $'0|1\n' "a python run"
	is "$(pools_of pl '[.pools[] | [.tenant, .runtime, .image, .network, .pids, .writableRoot, .warm, .resetting, .inUse]]')" \
		'[["admin","python","","none",64,false,2,0,0]]' \
		"after it: one shape, 2 warm (the filled one and the reset one), none resetting or in use"
	i8 pl run -r python -e 'import time; time.sleep(3)' </dev/null >/dev/null &
	local bg=$!
	is "$(pools_of pl '[.pools[] | [.warm, .resetting, .inUse]]')" '[[1,0,1]]' "during a run: one lent to it (inUse 1), one warm"
	wait "$bg"
	is "$(pools_of pl '[.pools[] | [.warm, .resetting, .inUse]]')" '[[2,0,0]]' "after it: back in the pool"
	run_cap i8 pl status </dev/null
	like "$OUT" $'\n  admin +2 warm, 0 resetting, 0 in use: python \\(default\\) mem=536870912 cpu=1000m pids=64 net=none isolation=runc\n' \
		"the text output lists the shape"
	run_cap i8 pl status --prometheus </dev/null
	like "$OUT" $'\nisol8_pool_sandboxes\\{tenant="admin",runtime="python",state="warm"\\} 2\n' "the metrics: warm 2"
	like "$OUT" $'\nisol8_pool_sandboxes\\{tenant="admin",runtime="python",state="in_use"\\} 0\n' "  in use 0"
	run_cap setpriv --reuid=nobody --regid=nogroup --clear-groups env -C "$T_TMP" HOME="$T_TMP" \
		"$ISOL8" status --json --socket "${D_SOCK[pl]}" </dev/null
	is "$(json_get "$OUT" '.pools')" '[]' "another tenant's caller does not see admin's pool"
	daemon_stop pl
	# The secure strategy never reuses: after a run, only the filled one is warm.
	daemon_start ps --pool-strategy secure || return
	i8 ps run -r python -e 'print(1)' </dev/null >/dev/null
	is "$(pools_of ps '[.pools[] | [.warm, .resetting, .inUse]]')" '[[1,0,0]]' "--pool-strategy secure: warm=1 after a run"
	daemon_stop ps
}

case_journal_fields() {
	local dir=$T_TMP/sd log=$T_TMP/journal.log pypid jf
	command -v python3 >/dev/null || { ok "# SKIP python3 missing"; return; }
	mkdir -p "$dir/journal"
	python3 - "$dir/journal/socket" "$log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        d = s.recv(65536)
        f.write(d.replace(b"\n", b"\t") + b"\n")
PY
	pypid=$!
	for _ in $(seq 50); do [ -S "$dir/journal/socket" ] && break; sleep 0.1; done
	D_DIR[j]=$T_TMP/d-j D_SOCK[j]=$T_TMP/d-j/isol8d.sock D_LOG[j]=$T_TMP/d-j/isol8d.log
	mkdir -p "${D_DIR[j]}" && chmod 0755 "${D_DIR[j]}" && : >"${D_LOG[j]}"
	ln -sf "$ISOL8D" "${D_DIR[j]}/i8d-test"
	# stderr is the file whose device and inode JOURNAL_STREAM names, as systemd sets it up.
	jf=$(stat -c '%d:%i' "${D_LOG[j]}")
	JOURNAL_STREAM=$jf setsid unshare -m --propagation private sh -c 'mount --bind "$0" /run/systemd && exec "$@"' "$dir" \
		"${D_DIR[j]}/i8d-test" --worker-path "$BUILDDIR/isol8-worker" --socket "${D_SOCK[j]}" --socket-mode 0666 \
		--foreground --grace-ms 3000 >>"${D_LOG[j]}" 2>&1 </dev/null &
	D_PID[j]=$!
	for _ in $(seq 150); do [ -S "${D_SOCK[j]}" ] && break; proc_gone "${D_PID[j]}" && break; sleep 0.1; done
	run_cap i8 j run -r bash -e 'echo j' </dev/null
	is "$RC|$OUT" $'0|j\n' "a run under the stand-in journal"
	daemon_stop j
	kill "$pypid" 2>/dev/null; wait "$pypid" 2>/dev/null
	is "$(grep -c . "${D_LOG[j]}")" 0 "under the journal nothing goes to stderr"
	like "$(grep -m1 'MESSAGE=listening on' "$log")" 'SYSLOG_IDENTIFIER=isol8d' "lines reach the journal with their identifier"
	like "$(grep -m1 'MESSAGE=created sandbox' "$log")" 'TENANT=admin' "  a sandbox's line carries TENANT="
	like "$(grep -m1 'MESSAGE=created sandbox' "$log")" 'CONTAINER_ID=[0-9a-f]{12}' "  and CONTAINER_ID="
	like "$(grep -m1 'MESSAGE=created sandbox' "$log")" 'PRIORITY=6' "  at priority info"
}

case_serve_health_and_access_log() {
	local key=k-$RANDOM$RANDOM-secret port body code slog=$T_TMP/serve.log pid
	need_http || return 0
	daemon_start h || return
	printf 'ops:%s\n' "$key" >"$T_TMP/keys"
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "${D_SOCK[h]}" --grace 2 >"$slog" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$slog")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { not_ok "isol8 serve started" "$(cat "$slog")"; return; }
	is "$(curl -s "http://127.0.0.1:$port/health" | jq -c '[.status, .version, .state]')" '["ok","0.1.0","ready"]' \
		"/health with isol8d up: ok"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/sessions?x=$key")
	is "$code" 200 "an authenticated request"
	daemon_stop h
	body=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/health")
	like "$body" '^\{"status":"unavailable","version":"0\.1\.0","error":"cannot reach isol8d at [^"]*","state":"down","node":"[^"]+"\} 503$' \
		"/health with isol8d gone: 503 and a JSON reason"
	kill -TERM "$pid"; wait "$pid" 2>/dev/null
	like "$(cat "$slog")" "$RFC3339 isol8 serve: access GET /health 200 [0-9]+ms key=-" "access log: time, method, path, status, duration"
	like "$(cat "$slog")" "access GET /sessions 200 [0-9]+ms key=ops" "  and the key's name"
	like "$(cat "$slog")" "access GET /health 503 " "  the 503 too"
	unlike "$(cat "$slog")" "$key" "  never the key (not even from the query string)"
}

run_cases "$@"
