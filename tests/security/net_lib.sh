# shellcheck shell=bash
# Shared part of the filtered-network attack replays (sourced after lib.sh): one daemon with
# its proxy, the test's own HTTP server on the docker bridge (serve_on_bridge), and the proxy's
# --proxy-hosts hook mapping test names to it, so nothing leaves the machine.
#
#   net_setup NAME [JQ_FILTER]     daemon "n" (socket $S), $GW $PORT served; hosts file names
#                                  in $NET_NAMES map to $GW; policy: bridge_policy JQ_FILTER
#   net_run ARGS...                isol8 run against it (run_cap: OUT ERR RC)
#   hwm_kb PID / proxy_pid [ID]    a process's peak RSS (VmHWM); a daemon's proxy's pid
NET_NAMES=${NET_NAMES:-allowed.test denied.test}

net_setup() { # NAME [JQ_FILTER_ON_networkFilter]
	daemon_setup "$1"
	docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
	serve_on_bridge "hello-from-host"
	printf '%s %s\n' "$GW" "$NET_NAMES" >"$T_TMP/hosts"
	bridge_policy "${2:-.}" >"$T_TMP/policy.json" || bail "cannot write the policy"
	# NET_SETUP_SOFT: go on without it (cases that start their own daemon still run).
	daemon_start n --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || [ -n "${NET_SETUP_SOFT:-}" ] ||
		done_testing
	S=${D_SOCK[n]}
}

net_run() { run_cap "$ISOL8" run --socket "$S" "$@" </dev/null; }

proxy_pid() { # [DAEMON_ID, default n]
	local c
	for c in $(cat /proc/"${D_PID[${1:-n}]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-proxy ] && echo "$c" && return 0
	done
}

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# The built-in policy plus what an admin writes to let filtered sandboxes reach an internal
# mirror: the test's own server on the bridge address (non-global, so refused by default) and
# its port (only 80 and 443 by default). $1: a jq filter applied to each networkFilter.
bridge_policy() { # [JQ_FILTER]
	jq --arg gw "$GW/32" --argjson port "$PORT" \
		'.tenants[].networkFilter |= ((.allowAddresses = [$gw] | .ports = [80, 443, $port]) | '"${1:-.}"')' \
		"$SEC_DIR/../../policy/default-policy.json"
}
