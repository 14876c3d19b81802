#!/bin/bash
# Issue 12 #3 (its TLS part): through CONNECT the proxy checked only the CONNECT host and then
# relayed blindly, so a sandbox allowed "allowed.test" could open a tunnel to allowed.test's
# address and ask the TLS server there for another site (SNI "denied.test": domain fronting on a
# shared front end), or send something that is not TLS at all. Now the ClientHello's server
# name must be the CONNECT host, and nothing reaches the server before that is checked.
# The server on the bridge's port 443 records what arrives; no TLS server is needed to see it.
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=net_lib.sh
. "$here/net_lib.sh"

net_setup net_sni
cat >"$T_TMP/sink.py" <<'EOP'
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 443)); s.listen(16)
lock = threading.Lock()
def serve(c):
    c.settimeout(3)
    d = b""
    try:
        while len(d) < 8192:
            x = c.recv(4096)
            if not x: break
            d += x
    except OSError:
        pass
    with lock, open(sys.argv[2], "a") as f:
        names = [n for n in ("allowed.test", "denied.test") if n.encode() in d]
        f.write("conn %d bytes %s\n" % (len(d), ",".join(names) or "-"))
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOP
on_bridge python3 "$T_TMP/sink.py" "$GW" "$T_TMP/sink.log" >/dev/null 2>&1 &
SINK=$!
trap 'kill $SINK $HTTP_PID 2>/dev/null; daemon_exit_trap' EXIT
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('$GW', 443), 1)" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
: >"$T_TMP/sink.log"

tunnel_py() { # CONNECT_HOST SNI|- ("-": send plain bytes instead of TLS)
	cat <<EOP
import socket, ssl
s = socket.create_connection(("127.0.0.1", 8118), timeout=5)
s.sendall(b"CONNECT $1:443 HTTP/1.1\r\nHost: $1:443\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
print(head.split(b"\r\n")[0].decode())
try:
    if "$2" == "-":
        s.sendall(b"GET / HTTP/1.1\r\nHost: denied.test\r\n\r\n")
        print("plain: answer", repr(s.recv(100)))
    else:
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
        ctx.wrap_socket(s, server_hostname="$2")
        print("tls: handshake completed")
except Exception as e:
    print("closed:", type(e).__name__)
EOP
}

sink_after() { sleep 1; cat "$T_TMP/sink.log"; : >"$T_TMP/sink.log"; }

case_sni_mismatch() {
	net_run --net filtered --allow allowed.test -e "$(tunnel_py allowed.test denied.test)"
	like "$RC|$OUT" "^0\|HTTP/1.1 200 Connection established
closed: " "CONNECT allowed.test with SNI denied.test: the tunnel is closed"
	is "$(sink_after)" "conn 0 bytes -" "the server behind allowed.test never saw the ClientHello for denied.test"
}

case_not_tls_on_443() {
	net_run --net filtered --allow allowed.test -e "$(tunnel_py allowed.test -)"
	like "$RC|$OUT" "^0\|HTTP/1.1 200 Connection established
(plain: answer b''|closed: )" "CONNECT allowed.test:443 carrying plain HTTP: closed, no answer"
	is "$(sink_after)" "conn 0 bytes -" "the server saw none of it"
}

case_sni_match_passes() {
	net_run --net filtered --allow allowed.test -e "$(tunnel_py allowed.test allowed.test)"
	like "$RC|$OUT" "^0\|HTTP/1.1 200 Connection established
closed: " "CONNECT allowed.test with SNI allowed.test (the sink speaks no TLS: the handshake fails there)"
	like "$(sink_after)" "^conn [1-9][0-9]* bytes allowed.test$" "the matching ClientHello reached the server"
}

run_cases "$@"
