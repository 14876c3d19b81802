#!/bin/bash
# Filtered networking end to end (issue 7): a real isol8d with its isol8-proxy, the real CLI and
# engine. The test serves HTTP itself on the docker bridge's host address; the proxy maps the
# test names there through its --proxy-hosts hook, so no traffic leaves this machine.
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup net_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
serve_on_bridge "hello-from-host"
printf '%s allowed.test denied.test\n' "$GW" >"$T_TMP/hosts"

# The test's server is on the bridge address, which is not global: like an internal mirror, it is
# reachable only because the policy permits its address and port (issue 12 #3).
jq --arg gw "$GW/32" --argjson port "$PORT" '.tenants[].networkFilter |= (.allowAddresses = [$gw] | .ports = [80, 443, $port])' \
	"${ISOL8_SRCDIR:-$here/../..}/policy/default-policy.json" >"$T_TMP/policy.json" || bail "cannot write the policy"
daemon_start n --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || done_testing
S=${D_SOCK[n]}
run() { run_cap "$ISOL8" run --socket "$S" "$@"; }
ALLOW=(--net filtered --allow '^allowed\.test$')

cat >"$T_TMP/probe.py" <<EOF
import socket, sys, urllib.request, urllib.error
def get(u):
    try:
        r = urllib.request.urlopen(u, timeout=5)
        return "%d %s" % (r.status, r.read().decode().strip())
    except urllib.error.HTTPError as e:
        return "%d %s" % (e.code, e.read().decode().strip())
    except Exception as e:
        return "ERR %s" % type(e).__name__
print("allowed:", get("http://allowed.test:$PORT/index.txt"))
print("denied:", get("http://denied.test:$PORT/index.txt"))
EOF
cat >"$T_TMP/bypass.py" <<EOF
import socket
s = socket.socket(); s.settimeout(3)
try:
    s.connect(("$GW", $PORT)); print("tcp: connected")
except OSError as e: print("tcp: refused", e.errno)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b"x", ("$GW", 53)); print("udp: sent")
except OSError as e: print("udp: refused", e.errno)
try:
    s6 = socket.socket(socket.AF_INET6); s6.settimeout(3); s6.connect(("2001:db8::1", 80)); print("tcp6: connected")
except OSError as e: print("tcp6: refused")
EOF
cat >"$T_TMP/connect.py" <<EOF
import socket
s = socket.create_connection(("127.0.0.1", 8118), timeout=5)
s.sendall(b"CONNECT allowed.test:$PORT HTTP/1.1\r\nHost: allowed.test:$PORT\r\n\r\n")
print(s.recv(39).decode().split("\r\n")[0])
s.sendall(b"GET /index.txt HTTP/1.0\r\n\r\n")
d = b""
while True:
    c = s.recv(4096)
    if not c: break
    d += c
print(d.decode().split("\r\n\r\n", 1)[1].strip())
s = socket.create_connection(("127.0.0.1", 8118), timeout=5)
s.sendall(b"CONNECT denied.test:443 HTTP/1.1\r\n\r\n")
print(s.recv(100).decode().split("\r\n")[0])
EOF

# The proxy answers for allowed names, refuses the others.
case_allowed_and_denied_names() {
	run "${ALLOW[@]}" "$T_TMP/probe.py" </dev/null
	is "$RC|$OUT" "0|allowed: 200 hello-from-host
denied: 403 host not allowed: denied.test (isol8 network policy)
" "filtered: allowed name served through the proxy, denied name gets 403 from the proxy"

	run "${ALLOW[@]}" "$T_TMP/connect.py" </dev/null
	is "$RC|$OUT" "0|HTTP/1.1 200 Connection established
hello-from-host
HTTP/1.1 403 Forbidden
" "filtered: CONNECT to an allowed name relays both ways, to a denied one is a 403"

	run "${ALLOW[@]}" -r bash -e 'curl -sS -m 5 -x "$http_proxy" http://allowed.test:'"$PORT"'/index.txt' </dev/null
	is "$RC|$OUT" "0|hello-from-host
" "filtered: curl -x with the proxy environment"

	run --net filtered --allow '^allowed\.test$' --deny 'allowed.test' "$T_TMP/probe.py" </dev/null
	like "$OUT" "allowed: 403" "filtered: deny wins over allow"

	run --net filtered "$T_TMP/probe.py" </dev/null
	like "$OUT" "allowed: 403.*denied: 403" "filtered: an empty allow list allows nothing"
}

# No way around the proxy.
case_no_bypass() {
	run "${ALLOW[@]}" "$T_TMP/bypass.py" </dev/null
	is "$RC|$OUT" "0|tcp: refused 101
udp: refused 101
tcp6: refused
" "filtered: raw TCP, UDP and IPv6 from the sandbox bypassing the proxy fail (no route)"

	run --net none "$T_TMP/probe.py" </dev/null
	is "$OUT" "allowed: ERR URLError
denied: ERR URLError
" "none: names do not even resolve"
	run --net none "$T_TMP/bypass.py" </dev/null
	like "$OUT" "^tcp: refused 101
udp: refused 101" "none: raw TCP and UDP fail"
	run --net none -e 'import socket; socket.create_connection(("127.0.0.1", 8118), 2)' </dev/null
	isnt "$RC" 0 "none: there is no proxy on the sandbox's loopback"
}

# Rules are checked at request time, with the pattern named.
case_bad_pattern() {
	run --net filtered --allow '^ok$' --allow '(unclosed' -e 'print(1)' </dev/null
	is "$RC" 2 "invalid regex: usage error (exit 2)"
	like "$ERR" "invalid network pattern '\(unclosed'" "invalid regex: the message names the pattern"
}

# Logs list exactly the requests made.
case_network_logs() {
	local before
	before=$(grep -c 'GET /index.txt' "$T_TMP/http.log")
	run "${ALLOW[@]}" --log-network --json "$T_TMP/probe.py" </dev/null
	is "$RC" 0 "--log-network --json: run succeeds"
	is "$(json_get "$OUT" '[.networkLogs[] | [.method, .host, .port, .path, .action]]')" \
		"[[\"GET\",\"allowed.test\",$PORT,\"/index.txt\",\"ALLOW\"],[\"GET\",\"denied.test\",$PORT,\"/index.txt\",\"BLOCK\"]]" \
		"networkLogs: one record per request, in order, with the decision"
	is "$(json_get "$OUT" '.networkLogs[0].bytesDown > 0 and .networkLogs[1].bytesUp == 0')" "true" \
		"networkLogs: bytes counted for the allowed request only"
	run "${ALLOW[@]}" --json "$T_TMP/probe.py" </dev/null
	is "$(json_get "$OUT" '.networkLogs')" "null" "no --log-network: no networkLogs"
	is "$(($(grep -c 'GET /index.txt' "$T_TMP/http.log") - before))" 2 "the test server saw exactly the allowed requests"
}

# Listeners go away with their sandboxes.
case_listeners_and_proxy_lockdown() {
	local proxy_pid="" c st
	run "${ALLOW[@]}" "$T_TMP/probe.py" </dev/null # the proxy starts with the first filtered run
	for c in $(cat /proc/"${D_PID[n]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-proxy ] && proxy_pid=$c
	done
	if [ -n "$proxy_pid" ]; then
		# The worker removes an ephemeral sandbox just after answering: give it a moment.
		# 0-3 (stdin, stdout, stderr, the broker channel) and the resolver threads' answer pipe.
		for _ in $(seq 50); do
			[ "$(ls /proc/"$proxy_pid"/fd | wc -l)" -le 6 ] && break
			sleep 0.1
		done
		is "$(ls /proc/"$proxy_pid"/fd | wc -l | tr -d ' ')" 6 "proxy holds no listener after the sandboxes are gone"
		st=$(grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' /proc/"$proxy_pid"/status | awk '{print $2}' | tr '\n' ' ')
		unlike "$st" "^0 " "proxy does not run as root"
		like "$st" "0000000000000000 1 2 $" "proxy: no capabilities, no_new_privs, seccomp filter"
	else
		not_ok "isol8-proxy runs as a child of isol8d"
	fi
}

run_cases "$@"
