#!/bin/bash
# A key store shared by several nodes (issue 18 item 3): two isol8d, each with its isol8 serve,
# pointed at one PostgreSQL (Debian's package; this test runs its own private cluster in a
# temporary directory on a loopback port, as the postgres user, with a password and TLS, and
# removes it). A key created through node A works through node B; revoked through B it is refused on
# A's next request without a restart; with the database down key requests fail with a clear
# error at once while the node keeps serving everything else, and work again once it is back.
# isol8d itself links no libpq: isol8-keystore, an unprivileged locked-down child, does.
# TAP; exit 77 (skip) unless root, or when PostgreSQL is not installed (scripts/deps.sh).
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$src/tests/lib/daemon.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] && command -v psql >/dev/null ||
	{ echo "1..0 # SKIP PostgreSQL not installed (scripts/deps.sh)"; exit 77; }
daemon_setup keys_pg_test
require_http
[ -x "$BUILDDIR/isol8-keystore" ] || { echo "1..0 # SKIP built without libpq (no isol8-keystore)"; exit 77; }
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"

# ---- the private cluster ----
PGD=$(mktemp -d /tmp/isol8-pg.XXXXXX)
chown postgres: "$PGD"
trap 'pg_down; rm -rf "$PGD" "${CAD:-}"' EXIT
PGPASS=pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port)
printf '%s\n' "$PGPASS" >"$PGD/pwfile"
chown postgres: "$PGD/pwfile"
pg() { runuser -u postgres -- "$@"; }
pg_up() { pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -t 30 \
	-o "-p $PGPORT -k $PGD -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$PGD/server.crt -c ssl_key_file=$PGD/server.key" \
	start >/dev/null; }
pg_down() { pg "$PGBIN/pg_ctl" -D "$PGD/data" -w -t 30 -m fast stop >/dev/null 2>&1; }
pg "$PGBIN/initdb" -D "$PGD/data" -U postgres --auth=scram-sha-256 --pwfile="$PGD/pwfile" >"$PGD/initdb.log" 2>&1 ||
	bail "initdb failed: $(tail -5 "$PGD/initdb.log")"
# TLS, so that libpq's OpenSSL runs under isol8-keystore's seccomp filter (sslmode=require).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout "$PGD/server.key" \
	-out "$PGD/server.crt" >/dev/null 2>&1 || bail "openssl req failed"
chown postgres: "$PGD/server.key" "$PGD/server.crt"
chmod 600 "$PGD/server.key"
pg_up || bail "the private PostgreSQL did not start: $(tail -5 "$PGD/log")"
psql_q() { PGPASSWORD=$PGPASS psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d isol8keys -tA -c "$1"; }
PGPASSWORD=$PGPASS psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -qc 'CREATE DATABASE isol8keys' ||
	bail "CREATE DATABASE failed"
URL="postgresql://postgres:$PGPASS@127.0.0.1:$PGPORT/isol8keys?sslmode=require"
# Node A verifies the server's certificate; the file must be readable by the unprivileged
# account isol8-keystore runs as.
CAD=$(mktemp -d /tmp/isol8-pgca.XXXXXX)
chmod 0755 "$CAD"
install -m 0644 "$PGD/server.crt" "$CAD/root.crt"
URL_A="postgresql://postgres:$PGPASS@127.0.0.1:$PGPORT/isol8keys?sslmode=verify-full&sslrootcert=$CAD/root.crt"

MASTER=master-key-pg-0123456789abcdef
printf 'master:%s\n' "$MASTER" >"$T_TMP/keys"
chmod 600 "$T_TMP/keys"
declare -A S_PID=() S_PORT=()
all_stop() {
	local n
	for n in "${!S_PID[@]}"; do
		kill -TERM "${S_PID[$n]}" 2>/dev/null
		wait "${S_PID[$n]}" 2>/dev/null
	done
	daemon_exit_trap
	pg_down
	rm -rf "$PGD" "${CAD:-}"
}
trap all_stop EXIT

serve_start() { # NODE
	local n=$1 i
	S_PORT[$n]=$(free_port)
	setsid "$ISOL8" serve --port "${S_PORT[$n]}" --keys-file "$T_TMP/keys" --socket "${D_SOCK[$n]}" \
		>>"$T_TMP/serve-$n.log" 2>&1 </dev/null &
	S_PID[$n]=$!
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:${S_PORT[$n]}/health" && return 0
		sleep 0.1
	done
	bail "isol8 serve for node $n did not start: $(cat "$T_TMP/serve-$n.log")"
}

# Node A reads the URL from a file, node B from the environment: neither on a command line.
printf '%s\n' "$URL_A" >"$T_TMP/keys-db"
chmod 600 "$T_TMP/keys-db"
daemon_start a --keys-db-file "$T_TMP/keys-db" || done_testing
ISOL8_KEYS_DB=$URL daemon_start b || done_testing
serve_start a
serve_start b

keys() { # NODE SUBCMD ARGS...
	run_cap "$ISOL8" keys "$2" --socket "${D_SOCK[$1]}" "${@:3}"
}
# hx NODE KEY METHOD PATH [BODY]: CODE, BODY (curl gives up after 20 s: a hang fails)
hx() {
	local body=()
	[ $# -ge 5 ] && body=(--data-binary "$5")
	CODE=$(curl -s -m 20 -o "$T_TMP/body" -w '%{http_code}' -X "$3" -H "Authorization: Bearer $2" \
		-H 'Content-Type: application/json' "${body[@]}" "http://127.0.0.1:${S_PORT[$1]}$4")
	BODY=$(cat "$T_TMP/body")
}
hexec() {
	hx "$1" "$2" POST /execute '{"request":{"code":"print(6*7)","runtime":"python"}}'
	# The daemon's side of an unexpected "key store unavailable", for the TAP log.
	[ "$CODE" = 503 ] && diag "node $1 log: $(grep 'key store' "${D_LOG[$1]}" | tail -3)"

	return 0
}
keystore_pid() { # NODE -> pid of its isol8-keystore
	local c
	for c in $(cat /proc/"${D_PID[$1]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-keystore ] && echo "$c"
	done
	return 0
}
wait_keystore() { # NODE: until its key store client runs again
	local i
	for ((i = 0; i < 100; i++)); do
		[ -n "$(keystore_pid "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_keystore a && wait_keystore b || bail "no isol8-keystore child: $(tail -5 "${D_LOG[a]}")"

case_a_no_libpq_in_the_broker() {
	is "$(ldd "$ISOL8D" | grep -c 'libpq\.')" 0 "ldd isol8d: no libpq in the root broker"
	is "$(ldd "$BUILDDIR/isol8-keystore" | grep -c 'libpq\.so')" 1 "ldd isol8-keystore: libpq is there"
	local p
	p=$(keystore_pid a)
	is "$(awk '/^Uid:/ {print ($2 != 0 && $3 != 0 && $4 != 0) ? "unprivileged" : "root"} /^Seccomp:/ {print $2} /^NoNewPrivs:/ {print $2} /^CapEff:/ {print $2}' "/proc/$p/status" | tr '\n' ' ')" \
		"unprivileged 0000000000000000 1 2 " "isol8-keystore: an unprivileged account, no capabilities, no_new_privs, a seccomp filter"
	# The pattern from a file: grep's own command line must not hold it.
	printf '%s\n' "$PGPASS" >"$T_TMP/pat"
	is "$(grep -l -a -F -f "$T_TMP/pat" /proc/[0-9]*/cmdline 2>/dev/null | wc -l)" 0 "the password is in no /proc/*/cmdline"
	is "$(grep -c -a -F -f "$T_TMP/pat" "/proc/${D_PID[b]}/environ" "/proc/$(keystore_pid b)/environ" | awk -F: '{s += $2} END {print s}')" 0 \
		"nor in the environment of isol8d (ISOL8_KEYS_DB is wiped) or its key store client"
	keys a list --json
	is "$RC" 0 "a request through the key store client" || diag "$(tail -3 "${D_LOG[a]}")"
	is "$(psql_q "select count(*) from pg_stat_ssl join pg_stat_activity using (pid) where application_name = 'isol8-keystore' and ssl")" 2 \
		"both nodes' clients hold a TLS connection (libpq's OpenSSL under the keystore's seccomp filter; A verify-full)"
}

case_b_create_on_a_use_on_b() {
	local k id
	keys a create --name shared --tenant local --json
	is "$RC" 0 "isol8 keys create on node A" || diag "$ERR"
	k=$(json_get "$OUT" .key | tr -d '"')
	id=$(json_get "$OUT" .id | tr -d '"')
	like "$k" '^isol8_[0-9a-f]{64}$' "the key is shown once"
	is "$(psql_q "select count(*) from api_keys where \"keyHash\" = '$(printf '%s' "$k" | sha256sum | cut -d' ' -f1)' and id = '$id'")" 1 \
		"PostgreSQL holds its SHA-256"
	is "$(PGPASSWORD=$PGPASS pg_dump -h 127.0.0.1 -p "$PGPORT" -U postgres isol8keys | grep -c "${k#isol8_}")" 0 \
		"and never the key itself"
	hexec b "$k"
	is "$CODE|$(json_get "$BODY" .stdout)" '200|"42\n"' "POST /execute through node B with the key made on node A"
	keys b list --json
	is "$(json_get "$OUT" "[.keys[] | select(.id == \"$id\") | {name, tenantId, revoked, used: (.lastUsedAt != null)}]")" \
		'[{"name":"shared","tenantId":"local","revoked":false,"used":true}]' \
		"isol8 keys list on node B shows it, lastUsedAt recorded"
	unlike "$OUT" 'keyHash|isol8_[0-9a-f]{64}' "keys list shows neither hash nor key"
}

case_c_revoke_on_b_refused_on_a() {
	local k id
	keys a create --name roaming --tenant local --json
	k=$(json_get "$OUT" .key | tr -d '"')
	id=$(json_get "$OUT" .id | tr -d '"')
	hexec a "$k"
	is "$CODE" 200 "the key works on node A"
	keys b revoke "$id"
	is "$RC|$OUT" "0|[OK] API key $id revoked"$'\n' "isol8 keys revoke on node B"
	hexec a "$k"
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "node A refuses it at its next request, without a restart"
	hexec b "$k"
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "and so does node B"
	is "$(psql_q "select revoked from api_keys where id = '$id'")" t "revoked in the shared table"
}

case_d_http_endpoints_across_nodes() {
	local k id
	hx a "$MASTER" POST /auth/keys '{"name":"from-http","ttlMs":60000}'
	is "$CODE|$(json_get "$BODY" '[.name, .tenantId, (.key | test("^isol8_[0-9a-f]{64}$"))]')" '201|["from-http","local",true]' \
		"POST /auth/keys on node A: 201"
	k=$(json_get "$BODY" .key | tr -d '"')
	id=$(json_get "$BODY" .id | tr -d '"')
	hexec b "$k"
	is "$CODE" 200 "the key works through node B"
	hx b "$MASTER" GET /auth/keys
	is "$CODE|$(json_get "$BODY" "[.keys[] | select(.name == \"from-http\") | .id]")" "200|[\"$id\"]" "GET /auth/keys on node B lists it"
	hx b "$MASTER" DELETE "/auth/keys/$id"
	is "$CODE|$BODY" "200|{\"ok\":true,\"id\":\"$id\"}" "DELETE /auth/keys/:id on node B"
	hexec a "$k"
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "node A refuses it next"
	hx a "$MASTER" DELETE /auth/keys/00000000-0000-4000-8000-000000000000
	is "$CODE|$BODY" '404|{"error":"Key not found"}' "DELETE of an unknown id: 404"
	hx a "isol8_$(printf '%064d' 0)" GET /sessions
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "a well-formed token not in the store: 401"
}

case_e_same_rules_as_sqlite() {
	keys a create --name x --tenant nosuch
	is "$RC|$ERR" $'2|[ERR] no tenant \'nosuch\' in the policy (see isol8-policy(5))\n' "a key's tenant must exist in the policy"
	keys b revoke 00000000-0000-4000-8000-000000000000
	is "$RC|$ERR" $'1|[ERR] Key not found\n' "revoking an unknown id: Key not found"
	keys a create --name short --tenant local --ttl 1s --json
	k=$(json_get "$OUT" .key | tr -d '"')
	hexec b "$k"
	is "$CODE" 200 "a key with a 1 s lifetime works at first"
	sleep 1.5
	hexec b "$k"
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "and is refused once expired"
	keys b purge
	is "$RC|$OUT" $'0|[OK] 3 revoked or expired keys removed\n' "keys purge on node B: the revoked and the expired keys"
	is "$(psql_q "select string_agg(name, ',' order by name) from api_keys")" "shared" "the live key stays"
}

case_f_database_down() {
	local k
	keys a create --name survivor --tenant local --json
	k=$(json_get "$OUT" .key | tr -d '"')
	pg_down
	hexec a "$k"
	is "$CODE|$BODY" '503|{"error":"key store unavailable; retry in a moment"}' \
		"database down: a key of the store gets 503 and a clear error, no hang"
	keys a list
	is "$RC|$ERR" $'1|[ERR] key store unavailable; retry in a moment\n' "isol8 keys list: the same error"
	hexec a "$MASTER"
	is "$CODE|$(json_get "$BODY" .stdout)" '200|"42\n"' "the node keeps serving the keys file's key"
	run_cap "$ISOL8" run --socket "${D_SOCK[a]}" -e 'print("local")'
	is "$RC|$OUT" $'0|local\n' "and local users"
	grep -q 'key store: .*PostgreSQL' "${D_LOG[a]}"
	is "$?" 0 "the database's own error is in isol8d's log"
	pg_up || bail "PostgreSQL did not come back"
	hexec a "$k"
	is "$CODE|$(json_get "$BODY" .stdout)" '200|"42\n"' "database back: the key works again, without a restart"
}

case_g_keystore_restarted() {
	local k p
	keys b create --name after-crash --tenant local --json
	k=$(json_get "$OUT" .key | tr -d '"')
	p=$(keystore_pid b)
	kill -KILL "$p"
	for ((i = 0; i < 100; i++)); do
		[ -n "$(keystore_pid b)" ] && [ "$(keystore_pid b)" != "$p" ] && break
		sleep 0.1
	done
	isnt "$(keystore_pid b)" "$p" "the supervisor restarts a killed isol8-keystore"
	hexec b "$k"
	is "$CODE|$(json_get "$BODY" .stdout)" '200|"42\n"' "and keys work through it"
	like "$(cat "${D_LOG[b]}")" "key store client \\(pid $p\\) killed by signal 9" "its death is logged"
}

case_h_keystore_hung() {
	local k p bg i
	keys a create --name patient --tenant local --json
	k=$(json_get "$OUT" .key | tr -d '"')
	p=$(keystore_pid a)
	kill -STOP "$p"
	# A key check waits aside: the node answers others meanwhile.
	curl -s -m 20 -o "$T_TMP/bg" -w '%{http_code}' -H "Authorization: Bearer $k" \
		"http://127.0.0.1:${S_PORT[a]}/sessions" >"$T_TMP/bg.code" &
	bg=$!
	sleep 0.3
	hx a "$MASTER" GET /sessions
	is "$CODE|$(kill -0 "$bg" 2>/dev/null && echo waiting)" '200|waiting' \
		"while a key check waits for a stopped isol8-keystore, the node serves other requests"
	wait "$bg"
	is "$(cat "$T_TMP/bg.code")|$(cat "$T_TMP/bg")" '503|{"error":"key store unavailable; retry in a moment"}' \
		"the waiting request is refused with the clear error, not left hanging"
	keys a list
	is "$RC|$ERR" $'1|[ERR] key store unavailable; retry in a moment\n' "isol8 keys gives up too"
	# Unanswered key checks for 15 s: the broker kills it and the supervisor starts another.
	for ((i = 0; i < 25; i++)); do
		hexec a "$k"
		[ -n "$(keystore_pid a)" ] && [ "$(keystore_pid a)" != "$p" ] && break
	done
	kill -CONT "$p" 2>/dev/null
	isnt "$(keystore_pid a)" "$p" "a key store client that stopped answering is replaced"
	like "$(cat "${D_LOG[a]}")" "key store client \\(pid $p\\) has answered none of [0-9]+ key checks for 15000 ms: restarting it" \
		"and the broker says why"
	wait_keystore a
	hexec a "$k"
	is "$CODE|$(json_get "$BODY" .stdout)" '200|"42\n"' "keys work again through the new one"
}

run_cases "$@"
