#!/bin/bash
# Issue 12 #3: `--net filtered` reached internal networks and the host's own services. The proxy
# runs on the host and refused only 0/8, 127/8, 169.254/16, 224/4, ::1 and fe80::/10: RFC 1918
# addresses, the Docker bridge gateway, the host's own interface addresses, ULA, CGNAT, NAT64 and
# names resolving to them all passed, on any port via CONNECT (a raw TCP service answered), and
# the caller's allow list had no ceiling. Attacks, each through the real proxy from a sandbox:
#   - names and literals of non-global addresses (private, CGNAT, ULA, v4-mapped, NAT64,
#     metadata, benchmarking, reserved), HTTP and CONNECT, on port 80 where a server answers;
#   - CONNECT to a raw TCP service on another port;
#   - the host's own *global* address (added to lo for the test);
#   - a container on a Docker network with a global subnet (created for the test);
#   - a caller allowing "*" under a policy that allows less, and ports beyond the policy's.
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

daemon_setup net_internal
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
command -v ip >/dev/null || bail "ip (iproute2) needed"
serve_on_bridge "hello-from-host" # $GW:$PORT, the bridge server of the other network tests
SELF=100.200.1.1                   # global unicast; added to this host's loopback for the test
PIDS=()
DNET=i8sec-net-$$ DCID=""
cleanup() {
	local p
	[ -n "$DCID" ] && docker rm -f "$DCID" >/dev/null 2>&1
	docker network rm "$DNET" >/dev/null 2>&1
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	kill "$HTTP_PID" 2>/dev/null
	ip addr del "$SELF/32" dev lo 2>/dev/null
	daemon_exit_trap
}
trap cleanup EXIT
ip addr add "$SELF/32" dev lo || bail "cannot add $SELF to lo"

# Servers where the old proxy let sandboxes in: HTTP on port 80 of a host on the bridge (the
# stand-in of serve_on_bridge) and of the host's own global address; a raw TCP banner service on
# the bridge host.
serve80() { # ADDR (the bridge stand-in's runs in its namespace)
	local run=()
	[ "$1" = "$GW" ] && run=(on_bridge)
	"${run[@]}" python3 -m http.server 80 --bind "$1" --directory "$T_TMP/www" >"$T_TMP/http80-$1.log" 2>&1 &
	PIDS+=($!)
}
serve80 "$GW"
serve80 "$SELF"
cat >"$T_TMP/banner.py" <<'EOP'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 0)); s.listen(8)
open(sys.argv[2], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.sendall(b"SSH-2.0-internal-service\r\n"); c.close()
EOP
on_bridge python3 "$T_TMP/banner.py" "$GW" "$T_TMP/banner.port" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
	[ -s "$T_TMP/banner.port" ] && python3 -c "import socket; socket.create_connection(('$GW', 80), 1); socket.create_connection(('$SELF', 80), 1)" 2>/dev/null && break
	sleep 0.1
done
BPORT=$(cat "$T_TMP/banner.port" 2>/dev/null)
[ -n "$BPORT" ] || bail "banner service did not start"
python3 -c "import socket; socket.create_connection(('$GW', 80), 1); socket.create_connection(('$SELF', 80), 1)" ||
	bail "port-80 servers did not start (port in use?)"

printf '%s internal.test allowed.test denied.test a.example.test blocked.example.test\n%s self.test\n' "$GW" "$SELF" >"$T_TMP/hosts"
daemon_start n --proxy-hosts "$T_TMP/hosts" || done_testing
# The admin's policy: the bridge server is an internal mirror it permits, on its port; hosts
# limited to allowed.test and *.example.test (minus one).
jq --arg gw "$GW/32" --argjson port "$PORT" '.tenants[].networkFilter = {"allow": ["allowed.test", "*.example.test"],
	"deny": ["blocked.example.test"], "ports": [80, 443, $port], "allowAddresses": [$gw]}' \
	"$SEC_DIR/../../policy/default-policy.json" >"$T_TMP/policy.json"
daemon_start p --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json"

run_in() { run_cap "$ISOL8" run --socket "${D_SOCK[$1]}" "${@:2}" </dev/null; }
get_py() { # URL... -> one "CODE BODY" line per URL
	local u out="import urllib.request, urllib.error
def get(u):
    try:
        r = urllib.request.urlopen(u, timeout=8)
        return '%d %s' % (r.status, r.read().decode().strip())
    except urllib.error.HTTPError as e:
        return '%d %s' % (e.code, e.read().decode().strip())
    except Exception as e:
        return 'ERR %s' % type(e).__name__"
	for u in "$@"; do out+=$'\n'"print(get('$u'))"; done
	printf '%s\n' "$out"
}
connect_py() { # HOST:PORT... -> first line of the proxy's answer, then what the tunnel gives
	local t out="import socket
def tunnel(t):
    s = socket.create_connection(('127.0.0.1', 8118), timeout=8)
    s.sendall(b'CONNECT ' + t.encode() + b' HTTP/1.1\r\nHost: ' + t.encode() + b'\r\n\r\n')
    d = b''
    try:
        while b'\r\n\r\n' not in d:
            c = s.recv(4096)
            if not c: break
            d += c
        head, _, rest = d.partition(b'\r\n\r\n')
        if head.startswith(b'HTTP/1.1 200'):
            s.sendall(b'GET / HTTP/1.0\r\n\r\n')
            s.settimeout(3)
            while len(rest) < 200:
                c = s.recv(4096)
                if not c: break
                rest += c
        return head.split(b'\r\n')[0].decode() + ' | ' + (rest.decode(errors='replace').splitlines() or [''])[0][:120]
    except Exception as e:
        return 'ERR ' + type(e).__name__"
	for t in "$@"; do out+=$'\n'"print(tunnel('$t'))"; done
	printf '%s\n' "$out"
}

case_non_global_destinations() {
	local u urls=() want="" h
	# name -> bridge gateway; literals of every class the old proxy let through (or tried to)
	for h in internal.test "$GW" 10.0.0.1 100.64.0.1 192.168.0.1 198.18.0.1 240.0.0.1 192.0.2.2 \
		'[fd00::2]' '[::ffff:172.17.0.1]' "[::ffff:$GW]" '[64:ff9b::ac11:1]' '[fc00::1]' '[fec0::1]' \
		169.254.169.254 '[::ffff:127.0.0.1]'; do
		urls+=("http://$h/")
		want+="403 destination address not allowed: ${h//[\[\]]/} (isol8 network policy)"$'\n'
	done
	run_in n --net filtered --allow '*' -e "$(get_py "${urls[@]}")"
	is "$RC|$OUT" "0|$want" "HTTP to non-global addresses (by name and literal): 403, nothing connected"
	run_in n --net filtered --allow '*' -e "$(connect_py internal.test:80 "$GW:80" '[fd00::2]:443' 100.64.0.1:443)"
	is "$RC|$OUT" "0|HTTP/1.1 403 Forbidden | destination address not allowed: internal.test (isol8 network policy)
HTTP/1.1 403 Forbidden | destination address not allowed: $GW (isol8 network policy)
HTTP/1.1 403 Forbidden | destination address not allowed: fd00::2 (isol8 network policy)
HTTP/1.1 403 Forbidden | destination address not allowed: 100.64.0.1 (isol8 network policy)
" "CONNECT to non-global addresses: 403"
	is "$(grep -c 'GET /' "$T_TMP/http80-$GW.log")" 0 "the gateway's port-80 server saw no request"
}

case_raw_tcp_port() {
	run_in n --net filtered --allow '*' -e "$(connect_py "internal.test:$BPORT" "$GW:$BPORT")"
	is "$RC|$OUT" "0|HTTP/1.1 403 Forbidden | port not allowed: internal.test:$BPORT (isol8 network policy)
HTTP/1.1 403 Forbidden | port not allowed: $GW:$BPORT (isol8 network policy)
" "CONNECT to a raw TCP service on another port: 403 (ports 80 and 443 only by default)"
	unlike "$OUT" "SSH-2.0" "the internal service's banner never reaches the sandbox"
}

case_host_own_global_address() {
	run_in n --net filtered --allow '*' -e "$(get_py "http://self.test/" "http://$SELF/")"
	is "$RC|$OUT" "0|403 destination address not allowed: self.test (isol8 network policy)
403 destination address not allowed: $SELF (isol8 network policy)
" "HTTP to the host's own (global) address: 403"
	run_in n --net filtered --allow '*' -e "$(connect_py self.test:80 "$SELF:443")"
	is "$RC|$OUT" "0|HTTP/1.1 403 Forbidden | destination address not allowed: self.test (isol8 network policy)
HTTP/1.1 403 Forbidden | destination address not allowed: $SELF (isol8 network policy)
" "CONNECT to the host's own (global) address: 403"
	is "$(grep -c 'GET /' "$T_TMP/http80-$SELF.log")" 0 "the host's own server saw no request"
}

case_docker_network_global_subnet() {
	local ip
	docker network create --label org.isol8.test=net_internal --subnet "100.201.$((RANDOM % 250)).0/24" "$DNET" \
		>/dev/null || { not_ok "create a Docker network with a global subnet"; return; }
	DCID=$(docker run -d --label org.isol8.test=net_internal --network "$DNET" --user 0 --entrypoint python3 \
		isol8:python -m http.server 80)
	ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$DCID")
	for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('$ip', 80), 1)" 2>/dev/null && break; sleep 0.2; done
	check "the host reaches the container at $ip:80" python3 -c "import socket; socket.create_connection(('$ip', 80), 2)"
	run_in n --net filtered --allow '*' -e "$(get_py "http://$ip/")"
	is "$RC|$OUT" "0|403 destination address not allowed: $ip (isol8 network policy)
" "HTTP to a container on a Docker network with a global subnet: 403"
	docker rm -f "$DCID" >/dev/null 2>&1
	DCID=""
	docker network rm "$DNET" >/dev/null 2>&1
}

case_policy_ceiling() {
	[ -n "${D_PID[p]:-}" ] || { not_ok "daemon with a networkFilter policy runs"; return; }
	run_in p --net filtered --allow '*' -e "$(get_py "http://allowed.test:$PORT/index.txt" \
		"http://a.example.test:$PORT/index.txt" "http://denied.test:$PORT/index.txt" \
		"http://blocked.example.test:$PORT/index.txt" "http://allowed.test:8080/index.txt")"
	is "$RC|$OUT" "0|200 hello-from-host
200 hello-from-host
403 host not allowed by the policy: denied.test (isol8 network policy)
403 host not allowed by the policy: blocked.example.test (isol8 network policy)
403 port not allowed: allowed.test:8080 (isol8 network policy)
" "caller allows *: the policy's hosts, deny and ports still apply; its permitted range is reachable"
	run_in p --net filtered --allow 'a.example.test' -e "$(get_py "http://allowed.test:$PORT/index.txt" \
		"http://a.example.test:$PORT/index.txt")"
	is "$RC|$OUT" "0|403 host not allowed: allowed.test (isol8 network policy)
200 hello-from-host
" "the caller can narrow the policy"
	run_in p --net filtered --allow '*' -e "$(get_py "http://10.0.0.1/" "http://self.test/")"
	is "$RC|$OUT" "0|403 host not allowed by the policy: 10.0.0.1 (isol8 network policy)
403 host not allowed by the policy: self.test (isol8 network policy)
" "outside the policy's hosts nothing is reached"
}

run_cases "$@"
