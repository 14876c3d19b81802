#!/bin/bash
# Issue 12 #13: the proxy capped connections at 256 in all and 32 per sandbox, so one tenant's
# eight sandboxes could hold every slot and cut every other tenant's filtered sandboxes off.
# Attack: tenant "admin" (uid 0) runs eight filtered sandboxes that each open 32 idle
# connections to the proxy and hold them; meanwhile tenant "local" (uid nobody) makes one
# request through the same proxy. Asserts the other tenant is served at once and that the
# proxy accepted at most its per-tenant cap (64) from the first.
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=net_lib.sh
. "$here/net_lib.sh"

command -v setpriv >/dev/null || { echo "1..0 # SKIP setpriv (util-linux) needed"; exit 77; }
net_setup net_tenant_cap

HOLD="import socket, time
ss = []
for i in range(32):
    try:
        ss.append(socket.create_connection(('127.0.0.1', 8118), timeout=2))
    except Exception:
        pass
print('opened', len(ss), flush=True)
time.sleep(35)"
GET="import urllib.request, urllib.error, time
t = time.monotonic()
try:
    r = urllib.request.urlopen('http://allowed.test:$PORT/index.txt', timeout=8)
    print(r.status, r.read().decode().strip())
except Exception as e:
    print('ERR', type(e).__name__)
print('ms', int((time.monotonic() - t) * 1000))"

conns_of_proxy() { # established TCP connections the proxy holds (its fds minus the fixed ones)
	local pp
	pp=$(proxy_pid)
	find "/proc/$pp/fd" -lname 'socket:*' 2>/dev/null | wc -l
}

case_one_tenant_cannot_take_every_slot() {
	local i base pids=() held
	base=$(conns_of_proxy)
	for i in $(seq 8); do
		"$ISOL8" run --socket "$S" --timeout 60000 --net filtered --allow allowed.test -e "$HOLD" \
			</dev/null >"$T_TMP/hold$i.out" 2>&1 &
		pids+=($!)
	done
	# Wait until the eight sandboxes have opened their connections (or 60 s).
	for _ in $(seq 120); do
		[ "$(grep -l '^opened' "$T_TMP"/hold*.out 2>/dev/null | wc -l)" -ge 8 ] && break
		sleep 0.5
	done
	sleep 1
	held=$(($(conns_of_proxy) - base))
	diag "tenant admin's eight sandboxes: $(cat "$T_TMP"/hold*.out | tr '\n' ' '); proxy holds $held more sockets"
	is "$(grep -l '^opened' "$T_TMP"/hold*.out | wc -l | tr -d ' ')" 8 "eight sandboxes of one tenant hold connections"
	# listeners count too: 8 of the held sockets are the sandboxes' listeners
	[ "$held" -le $((64 + 8)) ] && ok "the proxy accepted at most 64 of them (per-tenant cap): $held sockets" ||
		not_ok "the proxy accepted at most 64 of them (per-tenant cap)" "$held sockets"
	run_cap setpriv --reuid=nobody --regid=nogroup --clear-groups env -C "$T_TMP" HOME=/tmp \
		"$ISOL8" run --socket "$S" --net filtered --allow allowed.test -e "$GET" </dev/null
	like "$RC|$OUT" "^0\|200 hello-from-host
ms [0-9]+" "another tenant is served meanwhile"
	for i in "${pids[@]}"; do kill "$i" 2>/dev/null; done
	for i in "${pids[@]}"; do wait "$i" 2>/dev/null; done
}

run_cases "$@"
