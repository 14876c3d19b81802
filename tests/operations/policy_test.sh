#!/bin/bash
# The policy's life cycle (issue 20, item 2): isol8d --check-policy, and SIGHUP reloading the
# policy and the keys file while runs and sessions keep going. Needs root and the engine.
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
daemon_setup policy
docker image inspect isol8:bash >/dev/null 2>&1 || { echo "1..0 # SKIP isol8:bash image missing"; exit 77; }

# policy FILE MEMORY [EXTRA-TENANT-JSON]: root is tenant "ops" with a memory ceiling
policy() {
	printf '{"defaultTenant": null, "tenants": {"ops": {"match": {"uids": [0]}, "limits": {"memory": "%s", "maxSessions": 4}}%s}}\n' \
		"$2" "${3:-}" >"$1"
}

# wait_log ID ERE: until the daemon's log matches (10 s)
wait_log() {
	for _ in $(seq 100); do grep -Eq "$2" "${D_LOG[$1]}" && return 0; sleep 0.1; done
	return 1
}

memory_of_run() { # ID: the applied memory limit of a run asking for 1g
	run_cap i8 "$1" run --memory 1g --json -r bash -e 'echo x' </dev/null
	json_get "$OUT" '.limits.memoryBytes'
}

case_check_policy() {
	local f=$T_TMP/p.json k=$T_TMP/keys
	policy "$f" 256m
	run_cap "$ISOL8D" --check-policy "$f"
	is "$RC|$OUT|$ERR" "0|$f: ok (1 tenant: ops; default tenant none; admins: local root (no tenant marked \"admin\"))"$'\n'"|" "a valid policy: exit 0, one line"
	cat >"$f" <<'EOF'
{"tenants": {
  "a": {"limits": {"memory": "12x", "pids": 0, "colour": 1}, "network": ["none", "wifi"]},
  "b": {"match": {"uids": [0]}, "onExceed": "maybe"}
}, "defaultTenant": "c"}
EOF
	run_cap "$ISOL8D" --check-policy "$f"
	is "$RC|$OUT" "1|" "an invalid policy: exit 1, nothing on stdout"
	is "$ERR" "$f: tenants.a.limits.colour: unknown key
$f: tenants.a.limits.memory: invalid size \"12x\": unknown unit (use k, m, g or t, optionally followed by b)
$f: tenants.a.limits.pids: 0 is out of range [1, 4194304]
$f: tenants.a.network[1]: unknown network mode \"wifi\" (expected none, filtered, host)
$f: tenants.b.onExceed: unknown value \"maybe\" (expected clamp, refuse)
$f: defaultTenant: unknown tenant \"c\"
" "every error on its own line, with the file and the JSON path"
	printf '{"tenants": {' >"$f"
	run_cap "$ISOL8D" --check-policy "$f"
	is "$RC|$(printf '%s' "$ERR" | wc -l)" "1|1" "a JSON syntax error: exit 1, one line"
	like "$ERR" "^$f: " "  naming the file"
	run_cap "$ISOL8D" --check-policy "$T_TMP/missing.json"
	is "$RC|$ERR" "1|$T_TMP/missing.json: No such file or directory"$'\n' "a missing file given by name: exit 1"
	policy "$f" 256m
	printf 'ci:%s\nci:%s\nbad name:x\n' "s3cret-value-1234" "other-value-5678" >"$k"
	run_cap "$ISOL8D" --check-policy "$f" --http-keys "$k"
	is "$RC" 1 "a bad keys file: exit 1"
	is "$ERR" "$k: line 2: key name 'ci' given twice"$'\n' "  the keys file's error names the file and the line"
	unlike "$OUT$ERR" "s3cret|other-value" "  and never a secret"
	printf 'ci:%s\n' "s3cret-value-1234" >"$k"
	run_cap "$ISOL8D" --check-policy "$f" --http-keys "$k"
	is "$RC|$OUT" "0|$f: ok (1 tenant: ops; default tenant none; admins: local root (no tenant marked \"admin\"))"$'\n'"$k: ok"$'\n' "policy and keys both valid: exit 0"
	run_cap "$ISOL8D" --check-pol "$f"
	is "$RC|$ERR" "2|isol8d: error: unknown option '--check-pol' (did you mean --check-policy?); see isol8d --help"$'\n' \
		"isol8d refuses an abbreviated option and names the full one"
}

case_reload() {
	local f=$T_TMP/r.json cid
	policy "$f" 256m
	daemon_start r --policy "$f" || return
	is "$(memory_of_run r)" 268435456 "before the reload: --memory 1g is clamped to the 256m ceiling"
	run_cap i8 r run --session-id s1 -r bash -e 'echo kept >/sandbox/state' </dev/null
	is "$RC" 0 "a session is started"
	cid=$(daemon_containers r | head -1)
	# A run in flight across the reload: it must finish normally.
	i8 r run -r bash -e 'sleep 3; echo survived' >"$T_TMP/inflight.out" 2>&1 </dev/null &
	local bg=$!
	sleep 1
	policy "$f" 384m
	kill -HUP "${D_PID[r]}"
	wait_log r 'reloaded policy' || not_ok "reload logged" "$(tail "${D_LOG[r]}")"
	like "$(cat "${D_LOG[r]}")" "reloaded policy $f: 1 tenants \(0 new, 0 gone\)" "SIGHUP: the new policy is logged"
	is "$(memory_of_run r)" 402653184 "after the reload: the next run gets the new 384m ceiling"
	wait "$bg"
	is "$?|$(cat "$T_TMP/inflight.out")" $'0|survived' "a run in flight during the reload finishes"
	run_cap i8 r run --session-id s1 -r bash -e 'cat /sandbox/state' </dev/null
	is "$RC|$OUT" $'0|kept\n' "the session survives the reload (same sandbox, its files kept)"
	# A file that does not load: logged, the running policy stays.
	echo '{"tenants": {"ops": {"limits": {"memory": "lots"}}}}' >"$f"
	kill -HUP "${D_PID[r]}"
	wait_log r 'reload refused' || not_ok "refusal logged" "$(tail "${D_LOG[r]}")"
	like "$(grep 'reload refused' "${D_LOG[r]}")" "reload refused, policy $f stays in force: $f: tenants.ops.limits.memory: invalid size \"lots\"" \
		"a broken file: the log says why and that the old policy stays"
	is "$(memory_of_run r)" 402653184 "after a refused reload: the previous ceiling still applies"
	run_cap i8 r run --session-id s1 -r bash -e 'cat /sandbox/state' </dev/null
	is "$RC|$OUT" $'0|kept\n' "and the session is still there"
	daemon_stop r
}

case_tenant_removed() {
	local f=$T_TMP/t.json u=i8gone$$ uid
	useradd -M -N -g users "$u" || bail "useradd"
	trap 'userdel '"$u"' >/dev/null 2>&1; daemon_exit_trap' EXIT
	uid=$(id -u "$u")
	policy "$f" 256m ', "temp": {"match": {"uids": ['"$uid"']}}'
	daemon_start t --policy "$f" || return
	as_u() { run_cap setpriv --reuid "$u" --regid users --clear-groups env -C "$T_TMP" HOME="$T_TMP" "$ISOL8" run --socket "${D_SOCK[t]}" "$@" </dev/null; }
	as_u --session-id tmp1 -r bash -e 'echo in'
	is "$RC|$OUT" $'0|in\n' "tenant temp: a session"
	is "$(docker ps -q --filter "label=org.isol8.instance=${D_SOCK[t]}" --filter label=org.isol8.tenant=temp | wc -l)" 1 \
		"  its sandbox runs"
	policy "$f" 256m
	kill -HUP "${D_PID[t]}"
	wait_log t 'reloaded policy' || not_ok "reload logged" "$(tail "${D_LOG[t]}")"
	like "$(cat "${D_LOG[t]}")" "tenant temp is no longer in the policy; removing its 1 sandbox" "the gone tenant's sandboxes are removed (logged)"
	for _ in $(seq 50); do
		[ "$(docker ps -aq --filter "label=org.isol8.instance=${D_SOCK[t]}" --filter label=org.isol8.tenant=temp | wc -l)" = 0 ] && break
		sleep 0.2
	done
	is "$(docker ps -aq --filter "label=org.isol8.instance=${D_SOCK[t]}" --filter label=org.isol8.tenant=temp | wc -l)" 0 \
		"  and gone from Docker"
	as_u --session-id tmp1 -r bash -e 'echo again'
	is "$RC|$OUT" "1|" "the owner's next use fails"
	like "$ERR" "no tenant in policy $f matches it" "  and says the policy no longer has a tenant for it"
	run_cap i8 t run -r bash -e 'echo still' </dev/null
	is "$RC|$OUT" $'0|still\n' "the remaining tenant keeps running code"
	daemon_stop t
}

# SIGHUP re-reads --http-keys too: the HTTP child restarts with the new file; a broken file
# keeps the running keys.
case_reload_keys() {
	local f=$T_TMP/k.json keys=$T_TMP/http.keys port u code
	need_http || return 0
	policy "$f" 256m ', "bots": {"match": {"keys": ["alpha", "bravo"]}}'
	printf 'alpha:secret-alpha-0123456789\n' >"$keys" && chmod 600 "$keys"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	u=http://127.0.0.1:$port
	daemon_start k --policy "$f" --http "127.0.0.1:$port" --http-keys "$keys" || return
	for _ in $(seq 50); do curl -s "$u/health" >/dev/null 2>&1 && break; sleep 0.1; done
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer secret-alpha-0123456789' "$u/sessions")
	is "$code" 200 "before the reload: key alpha is accepted"
	printf 'bravo:secret-bravo-0123456789\n' >"$keys"
	kill -HUP "${D_PID[k]}"
	wait_log k 'restarting the HTTP frontend' || not_ok "HTTP child restart logged" "$(tail "${D_LOG[k]}")"
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer secret-bravo-0123456789' "$u/sessions")
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	is "$code" 200 "after the reload: the new key bravo is accepted"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer secret-alpha-0123456789' "$u/sessions")
	is "$code" 401 "  and the removed key alpha is not"
	printf 'bravo:secret-bravo-0123456789\nbravo:again-0123456789\n' >"$keys"
	kill -HUP "${D_PID[k]}"
	wait_log k 'reload refused, policy and keys stay' || not_ok "bad keys file refused" "$(tail "${D_LOG[k]}")"
	like "$(grep 'reload refused, policy and keys stay' "${D_LOG[k]}")" "$keys: line 2: key name 'bravo' given twice" \
		"a broken keys file: refused, the log names the file and the line"
	unlike "$(cat "${D_LOG[k]}")" "secret-bravo|again-0123" "  no secret in the log"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer secret-bravo-0123456789' "$u/sessions")
	is "$code" 200 "  and the running keys still work"
	daemon_stop k
}

run_cases "$@"
