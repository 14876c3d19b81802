#!/bin/bash
# Issue 12 #18 (the proxy's part): on a proxied plain-HTTP connection only the first request was
# checked; whatever the client sent after it went to the same server unchecked, so a sandbox
# allowed "allowed.test" could send "Host: denied.test" (or any path, to any virtual host of that
# server) as a second, pipelined request. The proxy now forwards exactly one request per
# connection (its body framed by Content-Length or chunked) and drops what follows. Attack: one
# write holding an allowed request and then a second one, after a GET, a POST with a
# Content-Length body and a chunked POST, against a server that ignores "Connection: close"
# and keeps answering (as a hostile or merely lax server would).
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

daemon_setup net_pipelining
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
bridge_host # $GW: a stand-in host on the bridge, not the host itself
on_bridge python3 "$SEC_DIR/keepalive_server.py" "$GW" "$T_TMP/port" "$T_TMP/seen.log" >"$T_TMP/srv.out" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; daemon_exit_trap' EXIT
for _ in $(seq 50); do [ -s "$T_TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$T_TMP/port" 2>/dev/null)
[ -n "$PORT" ] || bail "keep-alive server did not start"
printf '%s allowed.test denied.test\n' "$GW" >"$T_TMP/hosts"
# The server is an internal one the admin permits (address and port), like the other tests'.
jq --arg gw "$GW/32" --argjson port "$PORT" '.tenants[].networkFilter |= (.allowAddresses = [$gw] | .ports = [80, 443, $port])' \
	"$SEC_DIR/../../policy/default-policy.json" >"$T_TMP/policy.json" || bail "cannot write the policy"
daemon_start n --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || done_testing

pipeline_py() { # NAME FIRST_REQUEST_BYTES (python bytes literal)
	cat <<EOP
import socket, time
s = socket.create_connection(("127.0.0.1", 8118), timeout=5)
s.sendall($2 + b"GET /$1-smuggled HTTP/1.1\r\nHost: denied.test:$PORT\r\n\r\n")
d = b""
t = time.monotonic() + 4
s.settimeout(1)
while time.monotonic() < t:
    try:
        c = s.recv(4096)
    except socket.timeout:
        continue
    if not c:
        break
    d += c
print(d.count(b"HTTP/1.1 200"), "answers;", "smuggled" in d.decode(errors="replace") and "smuggled answered" or "no smuggled answer")
EOP
}

attack() { # NAME FIRST_REQUEST_BYTES
	run_cap "$ISOL8" run --socket "${D_SOCK[n]}" --net filtered --allow allowed.test -e "$(pipeline_py "$1" "$2")" </dev/null
	is "$RC|$OUT" "0|1 answers; no smuggled answer
" "$1: only the first request is answered"
	unlike "$(cat "$T_TMP/seen.log" 2>/dev/null)" "/$1-smuggled" "$1: the pipelined request never reached the server"
}

case_get_then_smuggled() {
	attack get "b\"GET http://allowed.test:$PORT/get-first HTTP/1.1\\r\\nHost: allowed.test:$PORT\\r\\n\\r\\n\""
	like "$(cat "$T_TMP/seen.log")" "GET /get-first allowed.test:$PORT -" "get: the first request was served"
}

case_post_length_then_smuggled() {
	attack post "b\"POST http://allowed.test:$PORT/post-first HTTP/1.1\\r\\nHost: allowed.test:$PORT\\r\\nContent-Length: 5\\r\\n\\r\\nhello\""
	like "$(cat "$T_TMP/seen.log")" "POST /post-first allowed.test:$PORT hello" "post: the first request and its body were served"
}

case_chunked_then_smuggled() {
	attack chunked "b\"POST http://allowed.test:$PORT/chunked-first HTTP/1.1\\r\\nHost: allowed.test:$PORT\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\n6;x=y\\r\\n world\\r\\n0\\r\\nX-T: 1\\r\\n\\r\\n\""
	like "$(cat "$T_TMP/seen.log")" "POST /chunked-first allowed.test:$PORT hello world" "chunked: the first request and its body were served"
}

case_body_length_lies() {
	# A Content-Length shorter than what follows is the same smuggling; a second Content-Length
	# or a Transfer-Encoding other than chunked is refused before anything is forwarded.
	attack short "b\"POST http://allowed.test:$PORT/short-first HTTP/1.1\\r\\nHost: allowed.test:$PORT\\r\\nContent-Length: 2\\r\\n\\r\\nhi\""
	run_cap "$ISOL8" run --socket "${D_SOCK[n]}" --net filtered --allow allowed.test -e "$(pipeline_py dup \
		"b\"POST http://allowed.test:$PORT/dup-first HTTP/1.1\\r\\nHost: allowed.test:$PORT\\r\\nContent-Length: 2\\r\\nContent-Length: 40\\r\\n\\r\\nhi\"")" </dev/null
	is "$RC|$OUT" "0|0 answers; no smuggled answer
" "two Content-Length headers: refused (400), nothing forwarded"
	unlike "$(cat "$T_TMP/seen.log")" "dup-" "two Content-Length headers: the server saw nothing"
}

run_cases "$@"
