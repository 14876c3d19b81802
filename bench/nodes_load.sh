#!/bin/bash
# Stateless throughput through HAProxy with one and with two isol8 nodes (issue 18, item 5), on
# this machine: two isol8d + isol8 serve (as tests/integration/nodes_test.sh starts them),
# HAProxy with deploy/haproxy/haproxy.cfg, and a threaded client posting python print(1) for a
# fixed time. Rows: one node without the balancer (the hop's baseline), the balancer with one
# node (the other disabled through the stats socket), the balancer with both. Appends a section
# to bench/RESULTS.md. Needs root, the engine, isol8:python and haproxy.
# Usage: bench/nodes_load.sh [SECONDS] [CONCURRENCY]
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
DUR=${1:-20}
CONC=${2:-4}
. "$src/tests/lib/daemon.sh"
command -v haproxy >/dev/null || { echo "haproxy not installed (scripts/deps.sh)" >&2; exit 77; }
daemon_setup nodes_load
KEY=secret-bench-0123456789abcdef
printf 'fleet:%s\n' "$KEY" >"$T_TMP/keys"
chmod 600 "$T_TMP/keys"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A P=() SP=()
HA=""
stop_all() { [ -n "$HA" ] && kill "$HA"; for n in a b; do [ -n "${SP[$n]:-}" ] && kill "${SP[$n]}"; done; wait 2>/dev/null; daemon_exit_trap; }
trap stop_all EXIT
for n in a b; do
	daemon_start "$n" --prewarm python >/dev/null || exit 1
	P[$n]=$(free_port)
	setsid "$ISOL8" serve --port "${P[$n]}" --keys-file "$T_TMP/keys" --socket "${D_SOCK[$n]}" --node-id "node-$n" \
		--max-concurrent 256 >"$T_TMP/serve-$n.log" 2>&1 </dev/null &
	SP[$n]=$!
done
HP=$(free_port)
sed -e "s|bind :8080|bind 127.0.0.1:$HP|" -e "s|10.0.0.11:3000|127.0.0.1:${P[a]}|" -e "s|10.0.0.12:3000|127.0.0.1:${P[b]}|" \
	-e "s|/run/haproxy/isol8.sock|$T_TMP/haproxy.sock|" -e "/^ *log /d" -e "/^ *user \|^ *group \|^ *chroot /d" \
	"$src/deploy/haproxy/haproxy.cfg" >"$T_TMP/haproxy.cfg"
haproxy -db -f "$T_TMP/haproxy.cfg" >"$T_TMP/haproxy.log" 2>&1 </dev/null &
HA=$!
sleep 3
ha_cmd() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall((sys.argv[2]+"\n").encode()); print(s.recv(65536).decode(), end="")' "$T_TMP/haproxy.sock" "$1"; }
load() { # URL -> "req/s p50 p95 errors by-node"
	python3 - "$1" "$KEY" "$DUR" "$CONC" <<'PY'
import json, sys, threading, time, urllib.request, collections
url, key, dur, conc = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
body = json.dumps({"request": {"code": "print(1)", "runtime": "python"}}).encode()
lat, errs, nodes, lock = [], [0], collections.Counter(), threading.Lock()
end = time.monotonic() + dur
def worker():
    while time.monotonic() < end:
        t = time.monotonic()
        try:
            req = urllib.request.Request(url + "/execute", data=body, headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                ok = json.loads(r.read()).get("stdout") == "1\n"
                node = r.headers.get("X-Isol8-Node")
        except Exception:
            ok, node = False, None
        with lock:
            if ok:
                lat.append(time.monotonic() - t); nodes[node] += 1
            else:
                errs[0] += 1
ths = [threading.Thread(target=worker) for _ in range(conc)]
t0 = time.monotonic()
[t.start() for t in ths]; [t.join() for t in ths]
el = time.monotonic() - t0
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0
print("%.1f|%.0f|%.0f|%d|%s" % (len(lat) / el, q(0.5), q(0.95), errs[0], " ".join("%s:%d" % kv for kv in sorted(nodes.items()))))
PY
}
row() { # NAME URL
	local r
	r=$(load "$2")
	IFS='|' read -r rps p50 p95 err by <<<"$r"
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p95" "$err" "$by"
}
load "http://127.0.0.1:${P[a]}" >/dev/null # warm both pools' images
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
out=$T_TMP/rows
{
	row "node a directly (no balancer)" "http://127.0.0.1:${P[a]}"
	ha_cmd "disable server isol8/node-b" >/dev/null
	sleep 1
	row "HAProxy, 1 node (b disabled)" "http://127.0.0.1:$HP"
	ha_cmd "enable server isol8/node-b" >/dev/null
	sleep 2
	row "HAProxy, 2 nodes" "http://127.0.0.1:$HP"
} | tee "$out"
{
	echo
	echo "## Stateless throughput through HAProxy, one and two nodes (bench/nodes_load.sh)"
	echo
	echo "$(date -u +%FT%TZ), commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null), $(nproc) cores, HAProxy $(haproxy -v | awk 'NR==1{print $3}'),"
	echo "both nodes on this machine (so they share its 2 cores and one Docker engine), isol8d --prewarm python,"
	echo "$CONC client threads posting python print(1) for $DUR s per row; latencies in ms; load average at the"
	echo "start $LOAD0 (the machine is shared: other runs' load moves these numbers more than the hop does)."
	echo
	echo "| path | requests/s | p50 | p95 | errors | answered by |"
	echo "|---|---:|---:|---:|---:|---|"
	cat "$out"
} >>"$src/bench/RESULTS.md"
