#!/bin/bash
# The API key store (issue 15, item 4): `isol8 keys create|list|revoke|purge` for root over the
# daemon's socket, SQLite kept by isol8d alone (hashes only, mode 0600), and `isol8 serve`
# accepting the store's tokens, checked by isol8d on every request: a revoked or expired key is
# refused on its next request, without a restart. A real isol8d and isol8 serve, curl, the
# engine and isol8:python. TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup keys_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
command -v sqlite3 >/dev/null || bail "sqlite3 needed to look into the store"
daemon_start k || done_testing
S=${D_SOCK[k]}
DB=$S.keys.db
keys() { run_cap "$ISOL8" keys "$1" --socket "$S" "${@:2}"; }

MASTER=master-key-0123456789abcdef
printf 'master:%s\n' "$MASTER" >"$T_TMP/keys"
chmod 0600 "$T_TMP/keys"
SRV_PID="" U=""
trap '[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; daemon_exit_trap' EXIT
# isol8 serve in front of the daemon, started by the first case that uses HTTP: a build without
# HTTP (configure --disable-http) still runs the socket cases.
serve_up() {
	local i port=""
	[ -n "$U" ] && return 0
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "$S" >"$T_TMP/serve.log" 2>&1 </dev/null &
	SRV_PID=$!
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/serve.log")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	U=http://127.0.0.1:$port
}
hget() { CODE=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $1" "$U$2"); BODY=$(cat "$T_TMP/body"); }
hexec() {
	CODE=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		--data-binary '{"request":{"code":"print(6*7)","runtime":"python"}}' "$U/execute")
	BODY=$(cat "$T_TMP/body")
}

case_a_create_list() {
	keys create --name ci --tenant local --ttl 90d
	like "$RC|$OUT" $'^0[|]\\[OK\\] API key [0-9a-f-]{36} created for tenant local\n  Key:     isol8_[0-9a-f]{64}\n  Expires: 20[0-9-]{8}T' \
		"keys create: id, the key (isol8_ + 64 hex) and its expiry"
	KEY1=$(printf '%s' "$OUT" | sed -n 's/^  Key:     //p')
	is "$ERR" $'  The key is shown only now; isol8d keeps only its hash.\n' "keys create: says the key is shown once"
	is "$(stat -c '%a %U' "$DB")" "600 root" "the store is root's, mode 0600"
	is "$(sqlite3 "$DB" 'PRAGMA journal_mode')" wal "the store is in WAL mode"
	is "$(sqlite3 "$DB" "select count(*) from api_keys where keyHash = '$(printf '%s' "$KEY1" | sha256sum | cut -d' ' -f1)'")" 1 \
		"the store holds the key's SHA-256"
	is "$(grep -c "${KEY1#isol8_}" "$DB" "$DB-wal" 2>/dev/null | awk -F: '{s += $2} END {print s}')" 0 "and never the key itself"
	keys list --json
	is "$(json_get "$OUT" '[.keys[] | {name, tenantId, lastUsedAt, revoked, p: (.keyPrefix == "'"${KEY1:0:10}"'...")}]')" \
		'[{"name":"ci","tenantId":"local","lastUsedAt":null,"revoked":false,"p":true}]' \
		"keys list --json: name, tenant, display prefix, never used, not revoked; no hash or key"
	unlike "$OUT" 'keyHash|isol8_[0-9a-f]{64}' "keys list shows neither hash nor key"
}

case_b_bad_input() {
	keys create --name x --tenant nosuch
	is "$RC|$ERR" $'2|[ERR] no tenant \'nosuch\' in the policy (see isol8-policy(5))\n' "a key's tenant must exist in the policy"
	keys create --name x
	is "$RC|$ERR" $'2|[ERR] keys create needs --name NAME and --tenant TENANT\n' "create without --tenant: exit 2"
	keys create --name x --tenant local --ttl soon
	is "$RC|$ERR" $'2|[ERR] --ttl \'soon\': use 90d, 12h, 30m, 45s or milliseconds\n' "bad --ttl: exit 2"
	keys revoke 00000000-0000-4000-8000-000000000000
	is "$RC|$ERR" $'1|[ERR] Key not found\n' "revoking an unknown id: Key not found, exit 1"
	run_cap setpriv --reuid=65534 --regid=65534 --clear-groups "$ISOL8" keys list --socket "$S"
	is "$RC|$ERR" $'1|[ERR] managing API keys needs root (sudo isol8 keys ...)\n' "keys as a non-root user: refused"
	is "$(sqlite3 "$DB" 'select count(*) from api_keys where name = "x"')" 0 "refused creates stored nothing"
}

case_c_http_uses_the_store() {
	local k
	need_http || return 0
	serve_up
	keys create --name web --tenant local --json
	k=$(json_get "$OUT" .key | tr -d '"')
	hexec "$k"
	is "$CODE|$(json_get "$BODY" .stdout)" '200|"42\n"' "POST /execute with a key from the store"
	keys list --json
	like "$(json_get "$OUT" '.keys[] | select(.name == "web") | .lastUsedAt')" '^"20[0-9-]{8}T' "lastUsedAt is recorded"
	hget "isol8_$(printf '%064d' 0)" /sessions
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "a well-formed token not in the store: 401"
	hget "$MASTER" /sessions
	is "$CODE" 200 "the keys file's key still works"
}

case_d_revoked_and_expired() {
	local k id
	need_http || return 0
	serve_up
	keys create --name soon-gone --tenant local --json
	k=$(json_get "$OUT" .key | tr -d '"')
	id=$(json_get "$OUT" .id | tr -d '"')
	hget "$k" /sessions
	is "$CODE" 200 "a fresh key works"
	keys revoke "$id"
	is "$RC|$OUT" "0|[OK] API key $id revoked"$'\n' "keys revoke"
	hget "$k" /sessions
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "the revoked key is refused on its next request, without a restart"
	keys create --name short --tenant local --ttl 1s --json
	k=$(json_get "$OUT" .key | tr -d '"')
	hexec "$k"
	is "$CODE" 200 "a key with a 1 s lifetime works at first"
	sleep 1.5
	hexec "$k"
	is "$CODE|$BODY" '401|{"error":"Invalid API key"}' "and is refused once expired"
	keys purge
	is "$RC|$OUT" $'0|[OK] 2 revoked or expired keys removed\n' "keys purge removes the revoked and the expired key"
	is "$(sqlite3 "$DB" "select group_concat(name) from (select name from api_keys order by name)")" "ci,web" "the live keys stay"
}

hjson() { # KEY METHOD PATH [BODY]
	local body=()
	[ $# -ge 4 ] && body=(--data-binary "$4")
	CODE=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
		"${body[@]}" "$U$3")
	BODY=$(cat "$T_TMP/body")
}

case_e_http_auth_endpoints() {
	local k id t
	need_http || return 0
	serve_up
	hjson "$MASTER" POST /auth/keys '{"name":"from-http","ttlMs":60000}'
	is "$CODE|$(json_get "$BODY" '[.name, .tenantId, (.key | test("^isol8_[0-9a-f]{64}$")), (.keyPrefix == (.key[0:10] + "..."))]')" \
		'201|["from-http","local",true,true]' "POST /auth/keys with the master key: 201, the key once, in the master key's tenant"
	k=$(json_get "$BODY" .key | tr -d '"')
	id=$(json_get "$BODY" .id | tr -d '"')
	hexec "$k"
	is "$CODE" 200 "the new key runs code"
	hjson "$MASTER" POST /auth/keys '{"name":"other","tenantId":"admin"}'
	is "$CODE|$BODY" '403|{"error":"this key manages the keys of tenant local only"}' "a master key mints keys for its own tenant only"
	hjson "$MASTER" POST /auth/keys '{}'
	is "$CODE|$BODY" '400|{"error":"name is required"}' "POST /auth/keys without a name: 400"
	hjson "$k" POST /auth/keys '{"name":"x"}'
	is "$CODE|$BODY" '403|{"error":"Master key required for this operation"}' "a key of the store cannot mint keys: 403"
	hjson "$MASTER" GET /auth/keys
	is "$CODE|$(json_get "$BODY" '[.keys[] | select(.name == "from-http") | .id]')" "200|[\"$id\"]" "GET /auth/keys lists it (no key, no hash)"
	unlike "$BODY" 'isol8_[0-9a-f]{64}|keyHash' "GET /auth/keys shows no secret"
	hjson "$MASTER" DELETE "/auth/keys/$id"
	is "$CODE|$BODY" "200|{\"ok\":true,\"id\":\"$id\"}" "DELETE /auth/keys/:id revokes"
	hjson "$MASTER" DELETE /auth/keys/00000000-0000-4000-8000-000000000000
	is "$CODE|$BODY" '404|{"error":"Key not found"}' "DELETE of an unknown id: 404"
	hexec "$k"
	is "$CODE" 401 "the revoked key is refused at once"
	hjson "$MASTER" POST /auth/login '{"name":"web-login"}'
	is "$CODE|$(json_get "$BODY" '[(.token | test("^isol8_[0-9a-f]{64}$")), (.keyId | length), (.expiresAt | test("^20"))]')" \
		'200|[true,36,true]' "POST /auth/login: token, keyId, expiresAt"
}

case_f_login_logout() {
	local home=$T_TMP/home f
	need_http || return 0
	serve_up
	mkdir -p "$home"
	f=$home/.isol8/credentials.json
	run_cap env HOME="$home" ISOL8_API_KEY= "$ISOL8" run --host "$U" -e 'print(1)'
	is "$RC|$ERR" $'1|[ERR] API key required. Use --key, ISOL8_API_KEY env var, or `isol8 login`.\n' "no key anywhere: the original's message"
	run_cap env HOME="$home" "$ISOL8" login --host "$U" --key wrong-master-key-000
	is "$RC|$ERR" $'1|[ERR] Authentication failed: Invalid API key\n' "login with a wrong master key: exit 1"
	is "$(ls -A "$home")" "" "and stores nothing"
	run_cap env HOME="$home" "$ISOL8" login --host "$U/" --key "$MASTER" --name cli-test
	like "$RC|$OUT" "^0[|]\\[OK\\] Logged in"$'\n'"  Host:    $U/"$'\n'"  Expires: 20" "login: stores a key of the store"
	is "$(stat -c '%a' "$f" "$home/.isol8" | tr '\n' ' ')" "600 700 " "credentials.json 0600 in a 0700 directory"
	is "$(jq -r '.token | test("^isol8_[0-9a-f]{64}$")' "$f")|$(jq -r .host "$f")" "true|$U/" "the file holds host, token, expiresAt, keyId"
	run_cap env HOME="$home" ISOL8_API_KEY= "$ISOL8" run --host "$U" -e 'print("stored key")'
	is "$RC|$OUT" $'0|stored key\n' "--host uses the stored key (the host's trailing / ignored)"
	run_cap env HOME="$home" ISOL8_API_KEY=wrong "$ISOL8" run --host "$U" -e 'print(1)'
	is "$RC" 1 "ISOL8_API_KEY wins over the stored key"
	jq '.expiresAt = "2000-01-01T00:00:00.000Z"' "$f" >"$f.new" && mv "$f.new" "$f"
	run_cap env HOME="$home" ISOL8_API_KEY= "$ISOL8" run --host "$U" -e 'print(1)'
	is "$RC|$ERR" $'1|[WARN] Stored credentials have expired. Run `isol8 login` to re-authenticate.\n[ERR] API key required. Use --key, ISOL8_API_KEY env var, or `isol8 login`.\n' \
		"expired stored credentials: the original's warning"
	run_cap env HOME="$home" "$ISOL8" logout
	is "$RC|$OUT" $'0|[OK] Credentials removed from ~/.isol8/credentials.json\n' "logout removes the file"
	run_cap env HOME="$home" "$ISOL8" logout
	is "$RC|$OUT" $'0|[INFO] No stored credentials found.\n' "a second logout: nothing to remove"
}

run_cases "$@"
