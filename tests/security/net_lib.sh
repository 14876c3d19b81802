# shellcheck shell=bash
# Shared part of the filtered-network attack replays (sourced after lib.sh): one daemon with
# its proxy, the test's own HTTP server on the docker bridge (serve_on_bridge), and the proxy's
# --proxy-hosts hook mapping test names to it, so nothing leaves the machine.
#
#   net_setup NAME [POLICY_JSON]   daemon "n" (socket $S), $GW $PORT served; hosts file names
#                                  in $NET_NAMES map to $GW. POLICY_JSON, when given, is written
#                                  to a file and passed with --policy.
#   net_run ARGS...                isol8 run against it (run_cap: OUT ERR RC)
#   broker_hwm_kb / proxy_pid      the daemon's peak RSS (VmHWM) and its proxy's pid
NET_NAMES=${NET_NAMES:-allowed.test denied.test}

net_setup() { # NAME [POLICY_JSON]
	daemon_setup "$1"
	docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
	serve_on_bridge "hello-from-host"
	printf '%s %s\n' "$GW" "$NET_NAMES" >"$T_TMP/hosts"
	local extra=()
	if [ $# -gt 1 ]; then
		printf '%s\n' "$2" >"$T_TMP/policy.json"
		extra=(--policy "$T_TMP/policy.json")
	fi
	daemon_start n --proxy-hosts "$T_TMP/hosts" "${extra[@]}" || done_testing
	S=${D_SOCK[n]}
}

net_run() { run_cap "$ISOL8" run --socket "$S" "$@" </dev/null; }

proxy_pid() {
	local c
	for c in $(cat /proc/"${D_PID[n]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-proxy ] && echo "$c" && return 0
	done
}

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
broker_hwm_kb() { hwm_kb "${D_PID[n]}"; }

# A policy for the built-in tenants that lets filtered sandboxes reach the test's own server on
# the bridge address (non-global, so refused by default) on its port: what an admin writes to
# allow an internal mirror. Extra JSON members for networkFilter come as $1.
bridge_policy() { # [EXTRA_NETWORKFILTER_MEMBERS]
	local nf="\"allowAddresses\": [\"$GW/32\"], \"ports\": [80, 443, $PORT]${1:+, $1}"
	cat <<EOP
{ "defaultTenant": "local",
  "tenants": {
    "admin": { "match": { "uids": [0] }, "network": ["none", "filtered", "host"], "networkFilter": { $nf } },
    "local": { "network": ["none", "filtered"], "networkFilter": { $nf } } } }
EOP
}
