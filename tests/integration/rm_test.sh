#!/bin/bash
# `isol8 rm` and `isol8 cleanup --container` (issue 20 item 7, issue 12 item 9): the caller
# removes one of its containers kept by `isol8 run --persist` through isol8d, and lists them
# with `isol8 rm --list`. Exact outputs, exit codes (2 for usage errors, 1 otherwise), and the
# container gone from `docker ps -a`. Real isol8d, real engine; run as root (the built-in
# admin tenant: persistTtlMs one day). tests/security/persist_test.sh has the other tenants.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"

daemon_setup rm_test
docker image inspect isol8:bash >/dev/null 2>&1 || bail "image isol8:bash missing (isol8 setup)"
command -v jq >/dev/null || bail "jq needed"
daemon_start r || done_testing
S=${D_SOCK[r]}
in_docker() { docker ps -aq --no-trunc --filter "id=$1" | grep -c .; }
keep() { # run --persist; KEPT = its container id
	run_cap "$ISOL8" run --socket "$S" --persist -r bash -e 'echo kept' </dev/null
	KEPT=$(grep -o 'Container kept: [0-9a-f]*' <<<"$ERR" | awk '{print $3}')
}

case_usage_errors() {
	run_cap "$ISOL8" rm --socket "$S"
	is "$RC|$OUT|$ERR" "2||[ERR] rm needs the id of a kept container (list yours with 'isol8 rm --list')"$'\n' "no id: exit 2"
	run_cap "$ISOL8" rm --socket "$S" xyz
	is "$RC|$OUT|$ERR" "2||[ERR] 'xyz' is not a container id: give 12 to 64 lowercase hex digits (see 'isol8 rm --list')"$'\n' \
		"not an id: exit 2"
	run_cap "$ISOL8" rm --socket "$S" 0123456789AB
	is "$RC" 2 "upper-case hex is not an id either"
	run_cap "$ISOL8" rm --socket "$S" 0123456789ab 0123456789ac
	is "$RC|$ERR" "2|[ERR] rm takes one container id (got '0123456789ac' too)"$'\n' "two ids: exit 2"
	run_cap "$ISOL8" rm --socket "$S" --force 0123456789ab
	is "$RC|$ERR" "2|[ERR] unknown option '--force' (rm takes --list, --json and --socket)"$'\n' "unknown option: exit 2"
	run_cap "$ISOL8" rm --socket "$S" --lsit
	is "$RC|$ERR" "2|[ERR] unknown option '--lsit' (did you mean --list?)"$'\n' "a mistyped option: did you mean"
	run_cap "$ISOL8" rm --socket "$S" --list 0123456789ab
	is "$RC|$ERR" "2|[ERR] rm --list takes no container id"$'\n' "--list with an id: exit 2"
	run_cap "$ISOL8" rm --socket "$S" --json xyz
	is "$RC|$(jq -c . <<<"$OUT")" '2|{"error":"'"'"'xyz'"'"' is not a container id: give 12 to 64 lowercase hex digits (see '"'"'isol8 rm --list'"'"')","code":"usage","exitCode":2}' \
		"--json: the error as one object too"
	run_cap "$ISOL8" cleanup --container 0123456789ab --force
	is "$RC|$ERR" "2|[ERR] cleanup --container takes only --json and --socket"$'\n' "cleanup --container --force: exit 2"
	run_cap "$ISOL8" help rm
	like "$RC|$OUT" '^0\|Usage: isol8 rm \[--json\] \[--socket <path>\] <id>' "isol8 help rm"
}

case_list_and_remove() {
	local line
	run_cap "$ISOL8" rm --socket "$S" --list
	is "$RC|$OUT|$ERR" $'0|[INFO] No kept containers.\n|' "nothing kept: rm --list says so"
	run_cap "$ISOL8" rm --socket "$S" --list --json
	is "$RC|$OUT" $'0|[\n]\n' "--json: an empty array"
	keep
	like "$KEPT" '^[0-9a-f]{64}$' "run --persist keeps a container"
	like "$ERR" "\\[Run\\] isol8d removes it at 20[0-9-]{8}T[0-9:]{8}Z; remove it sooner with 'isol8 rm ${KEPT:0:12}'" \
		"run --persist says when isol8d removes it and how to remove it sooner"
	run_cap "$ISOL8" rm --socket "$S" --list
	line=$(sed -n 2p <<<"$OUT")
	is "$RC|$(sed -n 1p <<<"$OUT")" "0|CONTAINER     REMOVED AT           IN" "rm --list: a header"
	like "$line" "^${KEPT:0:12}  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}  864[0-9]{2}s$" \
		"and the container, removed in about a day (the built-in admin's persistTtlMs)"
	run_cap "$ISOL8" rm --socket "$S" --list --json
	is "$RC|$(jq -c "[.[] | [.id == \"$KEPT\", (.expiresInMs > 86300000 and .expiresInMs <= 86430000), (.expiresAt | test(\"Z$\"))]]" <<<"$OUT")" \
		"0|[[true,true,true]]" "--json: id, expiresInMs, expiresAt"
	run_cap "$ISOL8" rm --socket "$S" "$KEPT"
	is "$RC|$OUT|$ERR" "0|[OK] Container $KEPT removed."$'\n|' "rm ID: removed, exit 0"
	is "$(in_docker "$KEPT")" 0 "the container is gone from docker ps -a"
	run_cap "$ISOL8" rm --socket "$S" "$KEPT"
	is "$RC|$OUT|$ERR" "1||[ERR] no kept container $KEPT of yours (list them with 'isol8 rm --list')"$'\n' \
		"rm of it again: not found, exit 1"
	run_cap "$ISOL8" rm --socket "$S" --list
	is "$OUT" $'[INFO] No kept containers.\n' "rm --list: nothing left"
}

case_short_id_and_json() {
	keep
	run_cap "$ISOL8" rm --socket "$S" --json "${KEPT:0:12}"
	is "$RC|$OUT|$ERR" "0|{\"removed\":\"${KEPT:0:12}\"}"$'\n|' "rm --json with the short id"
	is "$(in_docker "$KEPT")" 0 "gone from docker ps -a"
	run_cap "$ISOL8" rm --socket "$S" --json "${KEPT:0:12}"
	is "$RC|$(jq -c '[.code, .exitCode]' <<<"$OUT")" '1|["notfound",1]' "again: not found as JSON, exit 1"
}

case_cleanup_container() {
	keep
	run_cap "$ISOL8" cleanup --socket "$S" --container "$KEPT"
	is "$RC|$OUT|$ERR" "0|[OK] Container $KEPT removed."$'\n|' "cleanup --container ID removes it"
	is "$(in_docker "$KEPT")" 0 "gone from docker ps -a"
	keep
	ISOL8_SOCKET=$S run_cap "$ISOL8" cleanup --container "$KEPT" --json
	is "$RC|$OUT" "0|{\"removed\":\"$KEPT\"}"$'\n' "cleanup --container --json (socket from \$ISOL8_SOCKET)"
	is "$(in_docker "$KEPT")" 0 "gone from docker ps -a"
	run_cap "$ISOL8" cleanup --socket "$S" --container "$KEPT"
	is "$RC" 1 "cleanup --container of an id that is gone: exit 1"
}

# Only kept containers: a session's or a running ephemeral one's id is "not found".
case_not_other_kinds() {
	local cid
	run_cap "$ISOL8" run --socket "$S" --session-id rm-s1 -r bash -e 'echo s' </dev/null
	cid=$(docker ps -q --no-trunc --filter "label=org.isol8.instance=$S" --filter label=org.isol8.kind=session | head -1)
	like "$cid" '^[0-9a-f]{64}$' "a session's container"
	run_cap "$ISOL8" rm --socket "$S" "$cid"
	is "$RC|$ERR" "1|[ERR] no kept container $cid of yours (list them with 'isol8 rm --list')"$'\n' "is not a kept container"
	is "$(in_docker "$cid")" 1 "and stays"
	"$ISOL8" session stop --socket "$S" rm-s1 >/dev/null
}

run_cases "$@"
