# shellcheck shell=bash
# `isol8 serve` for the client tests (SDKs, MCP), sourced after tests/lib/daemon.sh.
#
#   sdk_setup NAME   daemon_setup, a daemon "c" whose policy gives key "bravo" a tenant that may
#                    only run bash (and the default tenant an 8 MiB output ceiling), a keys file (alpha: $KA, bravo: $KB) and `isol8 serve` on
#                    127.0.0.1 with a free port: sets SRV_URL SRV_PID KA KB. Stopped at exit.
#   http_serve_stop  stop that server (SIGTERM, then SIGKILL after 10 s)
SRV_PID=""
SRV_URL=""
KA=key-alpha-sdk-0123456789abcdef
KB=key-bravo-sdk-0123456789abcdef

http_serve_stop() {
	local i
	[ -n "$SRV_PID" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do proc_gone "$SRV_PID" && break; sleep 0.1; done
	proc_gone "$SRV_PID" || kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=""
}

sdk_setup() { # NAME
	local i port="" src=${ISOL8_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	daemon_setup "$1"
	trap 'http_serve_stop; daemon_exit_trap' EXIT
	require_http
	docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
	# maxOutput 8m: the SDKs stream 5 MiB (with maxOutputSize "8m") to show that it arrives whole.
	jq '.tenants.local.limits.maxOutput = "8m" |
		.tenants.bashonly = (.tenants.local | .match = {uids: [], gids: [], keys: ["bravo"]} | .runtimes = ["bash"])' \
		"$src/policy/default-policy.json" >"$T_TMP/policy.json"
	daemon_start c --policy "$T_TMP/policy.json" || bail "isol8d did not start"
	printf 'alpha:%s\nbravo:%s\n' "$KA" "$KB" >"$T_TMP/keys"
	chmod 0600 "$T_TMP/keys"
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "${D_SOCK[c]}" --grace 5 \
		>"$T_TMP/serve.log" 2>&1 </dev/null &
	SRV_PID=$!
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/serve.log" 2>/dev/null)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	SRV_URL=http://127.0.0.1:$port
}
