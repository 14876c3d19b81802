#!/bin/bash
# Issue 12 #3, its last part: the proxy ran in the host's network namespace, so the host's
# 127.0.0.1 and its interface addresses were local to it, and its address checks were the only
# thing between a filtered sandbox and the host's own services. Now it runs in a namespace of its
# own behind a veth and NAT, and the host drops what it sends to the host itself. The attack gets
# past the first layer on purpose: the admin's policy permits the host's addresses
# (allowAddresses), the caller allows the names and a hosts override points them there, so only
# the second layer stands. Attacks, each through the real proxy from a sandbox:
#   - an HTTP service on the host's 127.0.0.1 (GET and CONNECT);
#   - an HTTP service on the host's own interface addresses (its main IPv4, the Docker bridge's);
# and what must still work and be left behind:
#   - an outside host (deb.debian.org:80, a real name resolved through the host's DNS server);
#   - the proxy is in another namespace; stopping isol8d leaves no veth, namespace or chain (the
#     host's iptables-save, filter and nat, v4 and v6, is what it was before the daemon started),
#     and a daemon killed with SIGKILL has its leftovers removed by the next one.
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

daemon_setup net_host_local
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
for t in ip iptables python3; do command -v "$t" >/dev/null || bail "$t needed"; done
HOSTIP=$(ip -o -4 addr show scope global | awk '$2 != "docker0" {split($4, a, "/"); print a[1]; exit}')
BRIP=$(ip -o -4 addr show docker0 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
[ -n "$HOSTIP" ] && [ -n "$BRIP" ] || bail "cannot find the host's interface addresses"
mkdir -p "$T_TMP/www"
echo "host-secret" >"$T_TMP/www/index.txt"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	daemon_exit_trap
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for a in 127.0.0.1 "$HOSTIP" "$BRIP"; do
	python3 -m http.server "$PORT" --bind "$a" --directory "$T_TMP/www" >"$T_TMP/http-$a.log" 2>&1 &
	PIDS+=($!)
done
for _ in $(seq 50); do
	python3 -c "import socket
for a in ('127.0.0.1', '$HOSTIP', '$BRIP'): socket.create_connection((a, $PORT), 1)" 2>/dev/null && break
	sleep 0.1
done
for a in 127.0.0.1 "$HOSTIP" "$BRIP"; do
	[ "$(curl -s --max-time 3 "http://$a:$PORT/index.txt")" = host-secret ] || bail "the host service on $a did not start"
done
BASE=$(cat "$T_TMP"/http-*.log | grep -c 'GET /') # the checks above
# deb.debian.org stands for the outside; where this machine reaches it at a non-global address
# (a test network's mirror), the admin permits that address like any internal mirror.
MIRROR=$(getent ahostsv4 deb.debian.org 2>/dev/null | awk 'NR == 1 {print $1}')
printf '127.0.0.1 loop.test\n%s self.test\n%s bridge.test\n' "$HOSTIP" "$BRIP" >"$T_TMP/hosts"
# The admin's policy lets the proxy's own checks through: the host's addresses and the port.
jq --argjson port "$PORT" --arg h "$HOSTIP/32" --arg b "$BRIP/32" --arg m "$MIRROR" \
	'.tenants[].networkFilter |= (.allowAddresses = ["127.0.0.1/32", $h, $b] + (if $m == "" then [] else [$m + "/32"] end) | .ports = [80, 443, $port])' \
	"$SEC_DIR/../../policy/default-policy.json" >"$T_TMP/policy.json" || bail "cannot write the policy"
# The host's rules without counters or timestamps, to compare before and after a daemon's life.
ipt_state() {
	local t
	for t in iptables-save ip6tables-save; do
		command -v "$t" >/dev/null && "$t" 2>/dev/null | grep -v '^#' | sed 's/ \[[0-9]*:[0-9]*\]$//'
	done
}
IPT_BEFORE=$(ipt_state)
daemon_start n --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || done_testing

run_in() { run_cap "$ISOL8" run --socket "${D_SOCK[$1]}" "${@:2}" </dev/null; }
get_py() { # URL... -> one "CODE BODY" line per URL
	local u out="import urllib.request, urllib.error
def get(u):
    try:
        r = urllib.request.urlopen(u, timeout=10)
        return '%d %s' % (r.status, r.read().decode(errors='replace').strip()[:40])
    except urllib.error.HTTPError as e:
        return '%d' % e.code
    except Exception as e:
        return 'ERR %s' % type(e).__name__"
	for u in "$@"; do out+=$'\n'"print(get('$u'))"; done
	printf '%s\n' "$out"
}
connect_py() { # HOST:PORT -> the proxy's status line, then the first line of what the tunnel gives
	cat <<EOP
import socket
s = socket.create_connection(('127.0.0.1', 8118), timeout=10)
s.sendall(b'CONNECT $1 HTTP/1.1\r\nHost: $1\r\n\r\n')
d = b''
while b'\r\n\r\n' not in d:
    c = s.recv(4096)
    if not c: break
    d += c
head, _, rest = d.partition(b'\r\n\r\n')
if head.startswith(b'HTTP/1.1 200'):
    s.sendall(b'GET /index.txt HTTP/1.0\r\n\r\n')
    s.settimeout(3)
    try:
        while len(rest) < 400:
            c = s.recv(4096)
            if not c: break
            rest += c
    except OSError:
        pass
print(head.split(b'\r\n')[0].decode(), '|', b'host-secret' in rest)
EOP
}
served() { echo $(($(cat "$T_TMP"/http-*.log | grep -c 'GET /') - BASE)); }
# K of isol8px<K>, from the daemon's log
px_index() { sed -n 's/.*network proxy namespace: isol8px\([0-9]*\) on the host.*/\1/p' "${D_LOG[$1]}" | tail -1; }
leftovers() { # K -> what of index K is still on the host
	local k=$1
	ip -o link show "isol8px$k" 2>/dev/null | awk '{print "link", $2}'
	iptables -w 5 -S 2>/dev/null | grep -e "ISOL8-PX$k-"
	iptables -w 5 -t nat -S 2>/dev/null | grep -e "ISOL8-PX$k-"
	ip6tables -w 5 -S 2>/dev/null | grep -e "ISOL8-PX$k\b"
}

case_host_loopback() {
	run_in n --net filtered --allow loop.test -e "$(get_py "http://loop.test:$PORT/index.txt" "http://127.0.0.1:$PORT/index.txt")"
	unlike "$OUT" "host-secret" "GET: the host's 127.0.0.1 service is not reachable through the proxy (${OUT//$'\n'/ })"
	run_in n --net filtered --allow loop.test -e "$(connect_py "loop.test:$PORT")"
	unlike "$OUT" "200|True" "CONNECT: no tunnel to the host's 127.0.0.1 (${OUT//$'\n'/ })"
	is "$(served)" 0 "no host service saw a request"
}

case_host_interface_addresses() {
	local h
	for h in self.test bridge.test; do
		run_in n --net filtered --allow "$h" -e "$(get_py "http://$h:$PORT/index.txt")"
		unlike "$OUT" "host-secret" "GET $h (the host's own address): not reachable (${OUT//$'\n'/ })"
		run_in n --net filtered --allow "$h" -e "$(connect_py "$h:$PORT")"
		unlike "$OUT" "200|True" "CONNECT $h: no tunnel (${OUT//$'\n'/ })"
	done
	is "$(served)" 0 "no host service saw a request"
}

case_outside_host_still_works() {
	[ -n "$MIRROR" ] || { ok "# SKIP deb.debian.org does not resolve here"; return; }
	run_in n --net filtered --allow deb.debian.org -e "$(get_py "http://deb.debian.org/debian/dists/bookworm/Release.gpg")"
	like "$RC|$OUT" "^0\|200 " "an allowed outside host (deb.debian.org:80, resolved by DNS) answers through the NAT"
}

case_proxy_in_own_netns() {
	local pp
	pp=$(for c in $(cat /proc/"${D_PID[n]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-proxy ] && echo "$c"
	done | head -1)
	[ -n "$pp" ] || { not_ok "isol8-proxy runs"; return; }
	isnt "$(readlink "/proc/$pp/ns/net")" "$(readlink /proc/self/ns/net)" "the proxy is not in the host's network namespace"
	is "$(nsenter -t "$pp" -n ip -o -4 addr show | awk '{print $2}' | sort | tr '\n' ' ')" "eth0 lo " \
		"its namespace has loopback and the veth only"
}

proxy_of() { # DAEMON_ID -> its isol8-proxy's pid
	local c
	for c in $(cat /proc/"${D_PID[$1]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-proxy ] && echo "$c" && return 0
	done
}

case_proxy_respawned_in_new_netns() {
	local old new k rules
	k=$(px_index n)
	rules=$(leftovers "$k" | sort)
	old=$(proxy_of n)
	kill -KILL "$old"
	for _ in $(seq 100); do
		new=$(proxy_of n)
		[ -n "$new" ] && [ "$new" != "$old" ] && break
		sleep 0.1
	done
	isnt "${new:-$old}" "$old" "a killed proxy is respawned"
	# The old namespace died with the proxy, so the kernel may hand its inode number to the new
	# one: compare with the host's and look inside instead.
	isnt "$(readlink "/proc/$new/ns/net" 2>/dev/null)" "$(readlink /proc/self/ns/net)" \
		"in a namespace of its own again, not the host's"
	is "$(nsenter -t "$new" -n ip -o -4 addr show 2>&1 | awk '{print $2}' | sort | tr '\n' ' ')" "eth0 lo " \
		"with loopback and a new veth"
	is "$(leftovers "$k" | sort)" "$rules" "its rules were rebuilt, not added twice"
	[ -n "$MIRROR" ] || return
	run_in n --net filtered --allow deb.debian.org --allow loop.test \
		-e "$(get_py "http://deb.debian.org/debian/dists/bookworm/Release.gpg" "http://loop.test:$PORT/index.txt")"
	like "$RC|$OUT" "^0\|200 " "its veth and route work: the outside host answers"
	unlike "$OUT" "host-secret" "and the host's 127.0.0.1 stays out of reach"
}

# The host's resolver on its own loopback (systemd-resolved's stub) is out of the proxy's reach:
# the daemon shows the proxy systemd-resolved's upstream list instead. Replayed in a private mount
# namespace for the daemon: /etc/resolv.conf says 127.0.0.53, /run/systemd/resolve/resolv.conf
# lists this machine's real server.
case_local_resolver() {
	local up
	up=$(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ && $2 !~ /^127\./ {print $2; exit}' /etc/resolv.conf)
	[ -n "$up" ] && [ -n "$MIRROR" ] && [ -d /run/systemd ] || { ok "# SKIP no IPv4 name server or /run/systemd here"; return; }
	command -v unshare >/dev/null || { ok "# SKIP unshare missing"; return; }
	echo "nameserver 127.0.0.53" >"$T_TMP/stub.conf"
	echo "nameserver $up" >"$T_TMP/upstream.conf"
	cat >"$T_TMP/wrap.sh" <<EOW
#!/bin/sh
mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/resolve &&
	cp "$T_TMP/upstream.conf" /run/systemd/resolve/resolv.conf &&
	mount --bind "$T_TMP/stub.conf" /etc/resolv.conf && exec "\$@"
exit 1
EOW
	chmod +x "$T_TMP/wrap.sh"
	ISOL8_TEST_DAEMON_WRAPPER="unshare -m --propagation private $T_TMP/wrap.sh" \
		daemon_start l --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || return
	like "$(cat "${D_LOG[l]}")" "the proxy uses the servers of /run/systemd/resolve/resolv.conf" \
		"a resolver on the host's loopback: the daemon says it uses systemd-resolved's upstreams"
	is "$(nsenter -t "$(proxy_of l)" -m cat /etc/resolv.conf 2>&1)" "nameserver $up" \
		"the proxy sees systemd-resolved's upstream list as its /etc/resolv.conf"
	run_in l --net filtered --allow deb.debian.org -e "$(get_py "http://deb.debian.org/debian/dists/bookworm/Release.gpg")"
	like "$RC|$OUT" "^0\|200 " "names still resolve in the proxy's namespace"
	daemon_stop l
}

case_stop_leaves_nothing() {
	local k ns pp
	k=$(px_index n)
	[ -n "$k" ] || { not_ok "the daemon logged its proxy namespace" "$(tail -5 "${D_LOG[n]}")"; return; }
	isnt "$(leftovers "$k")" "" "while it runs: isol8px$k and the ISOL8-PX$k chains are there"
	pp=$(for c in $(cat /proc/"${D_PID[n]}"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-proxy ] && echo "$c"
	done | head -1)
	ns=$(readlink "/proc/$pp/ns/net")
	daemon_stop n
	is "$(leftovers "$k")" "" "after stop: no veth, no chain, no jump of index $k"
	is "$(diff <(echo "$IPT_BEFORE") <(ipt_state))" "" \
		"after stop: iptables-save and ip6tables-save (filter, nat) are what they were before the daemon"
	is "$(for p in /proc/[0-9]*; do readlink "$p/ns/net" 2>/dev/null; done | grep -cxF "$ns")" 0 \
		"after stop: no process is left in the proxy's namespace ($ns)"

	# A daemon that dies without cleaning up: its chains stay until the next daemon starts.
	daemon_start c --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || return
	k=$(px_index c)
	kill -KILL "${D_PID[c]}"
	for _ in $(seq 50); do proc_gone "${D_PID[c]}" && break; sleep 0.1; done
	wait "${D_PID[c]}" 2>/dev/null
	unset "D_PID[c]"
	for _ in $(seq 50); do ip -o link show "isol8px$k" >/dev/null 2>&1 || break; sleep 0.1; done
	like "$(leftovers "$k")" "ISOL8-PX$k-FWD" "SIGKILL: the chains of index $k outlive the daemon"
	unlike "$(leftovers "$k")" "^link" "SIGKILL: the veth went with the proxy's namespace"
	daemon_start r --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || return
	[ "$(px_index r)" = "$k" ] || is "$(leftovers "$k")" "" "the next daemon removed the leftovers of index $k"
	daemon_stop r
	is "$(leftovers "$k")" "" "after the next daemon's stop: nothing of index $k"
	is "$(diff <(echo "$IPT_BEFORE") <(ipt_state))" "" \
		"after a SIGKILL and the next daemon's stop: iptables-save is what it was before either"
}

run_cases "$@"
