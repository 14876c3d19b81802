#!/bin/bash
# libisol8 (lib/): its ABI (soname, exactly isol8.h's functions exported under ISOL8_0.1 and
# ISOL8_0.2, the static library and isol8.pc; abidiff against lib/libisol8.abi), the example
# program, and the calls against a real isol8d and engine (tests/integration/lib_client.c),
# through the local engine and through the remote one on a live `isol8 serve` (remote_* cases),
# and the session headers of every remote call against a stand-in server (remote_session_pin).
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"
daemon_setup libisol8_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
SO=$BUILDDIR/libisol8.so.0.1.0
CLIENT=$BUILDDIR/tests/integration/lib_client

case_abi() {
	is "$(readelf -d "$SO" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" libisol8.so.0 "soname libisol8.so.0"
	is "$(nm -D --defined-only "$SO" | awk '$2 == "T" {sub(/@@.*/, "", $3); print $3}' | sort | tr '\n' ' ')" \
		"$(grep -o 'isol8_[a-z_]*(' "$SRC/lib/isol8.h" | tr -d '(' | sort -u | tr '\n' ' ')" \
		"exported: exactly the functions of isol8.h"
	is "$(nm -D --defined-only "$SO" | awk '$2 == "T" && $3 !~ /@@ISOL8_0\.1$/ {print $3}' | tr '\n' ' ')" \
		"isol8_engine_new_remote@@ISOL8_0.2 " "0.1's symbols stay at ISOL8_0.1; the remote engine is ISOL8_0.2"
	is "$(nm -D --defined-only "$SO" | awk '$2 != "T" && $3 != "ISOL8_0.1" && $3 != "ISOL8_0.2"' | wc -l)" 0 "no exported data or other symbols"
	is "$(nm -D --undefined-only "$SO" | grep -c ' isol8_')" 0 "nothing of isol8 left undefined"
	like "$(nm "$BUILDDIR/libisol8.a" 2>/dev/null | grep ' T isol8_execute$')" 'T isol8_execute$' "the static library has the API"
	is "$(PKG_CONFIG_PATH=$BUILDDIR/lib pkg-config --modversion isol8)|$(PKG_CONFIG_PATH=$BUILDDIR/lib pkg-config --libs isol8 | sed "s/ *$//")" \
		"0.1.0|$(sed -n "s/^libdir=//p" "$BUILDDIR/lib/isol8.pc" | sed 's/^/-L/') -lisol8" "isol8.pc: version and link flags"
	like "$(readelf -d "$BUILDDIR/lib/example" | grep NEEDED)" 'libisol8\.so\.0' "the example program links the shared library"
	like "$(readelf -d "$SO" | grep NEEDED)" 'libcurl\.so\.4' "the remote engine uses the system libcurl (shared)"
}

case_abidiff() {
	if ! command -v abidiff >/dev/null; then
		ok "abidiff # SKIP abidiff missing (scripts/deps.sh installs abigail-tools)"
		return
	fi
	run_cap make -s -C "$BUILDDIR" abi-check
	[ "$RC" = 0 ] || diag "$OUT$ERR"
	is "$RC" 0 "abidiff: the built library is ABI-compatible with lib/libisol8.abi"
}

case_example() {
	run_cap "$BUILDDIR/lib/example" "${D_SOCK[l]}"
	is "$RC|$OUT" '0|exit 3, stdout 42
live: streamed
' "the example runs python, then streams bash"
}

case_calls() {
	is "$("$CLIENT" "${D_SOCK[l]}" basic)" 'version 0.1.0 start 0
python: exit 4 stdout [env ['"'x y'"'] in
] stderr [e
] runtime python id-len 36 ts 20'"$(date -u +%y)"' trunc 0 timeout 0
cobol: error 2 Unknown runtime: "cobol". Available: python, node, bun, deno, bash, agent
timeout: exit 124 stdout [] stderr [
--- EXECUTION TIMED OUT ---
] runtime bash id-len 36 ts 20'"$(date -u +%y)"' trunc 0 timeout 1
bad-env -1 2
bad-session -1 2' "execute: env, args, stdin, exit code, stderr, result fields; refusals as values"
}

case_stream() {
	is "$("$CLIENT" "${D_SOCK[l]}" stream)" 'stream rc 0 bytes 960000 many-calls 1 exit 0 errors 0 result-stdout 0
stop rc 0 exit 130 fast 1' "streaming: 960 000 bytes to a slow callback (backpressure), a callback that interrupts the run"
}

case_session() {
	is "$("$CLIENT" "${D_SOCK[l]}" session)" "first: exit 0 stdout [] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0
second: exit 0 stdout [42
] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0
file put 0 get 0 len 3 same 1
missing -1 5
listed 1
stop 0
stop-again -1 5 no session 'lib-s1'" "sessions: state across runs, a binary file in and out, list, stop, stop again is NOTFOUND"
}

case_big() {
	is "$("$CLIENT" "${D_SOCK[l]}" big)" "set-stdin 0 code 204800
big: exit 0 stdout [204800 1048576 abc xyz 1048571
] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0" "local: 200 KiB of code and 1 MiB of stdin (past the 60 KiB frame, through the bundle)"
}

# ---- the remote engine, on a live `isol8 serve` in front of the same isol8d ----

KEY=key-lib-0123456789abcdef
SRV_PID=""
serve_start() {
	[ -n "$SRV_PID" ] && return 0
	printf 'lib:%s\n' "$KEY" >"$T_TMP/keys"
	chmod 0600 "$T_TMP/keys"
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "${D_SOCK[l]}" --grace 5 \
		>"$T_TMP/serve.log" 2>&1 </dev/null &
	SRV_PID=$!
	PORT=""
	for ((i = 0; i < 100; i++)); do
		PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/serve.log")
		[ -n "$PORT" ] && break
		sleep 0.1
	done
	URL=http://127.0.0.1:$PORT
	[ -n "$PORT" ]
}
serve_stop() {
	[ -n "$SRV_PID" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do proc_gone "$SRV_PID" && break; sleep 0.1; done
	proc_gone "$SRV_PID" || kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=""
}

case_remote_example() {
	need_http || return 0
	serve_start || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	run_cap env ISOL8_API_KEY=$KEY "$BUILDDIR/lib/example" "$URL"
	is "$RC|$OUT" '0|exit 3, stdout 42
live: streamed
' "remote: the example runs python, then streams bash"
}

case_remote_calls() {
	need_http || return 0
	serve_start || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	is "$(ISOL8_API_KEY=$KEY "$CLIENT" "$URL" basic)" 'version 0.1.0 start 0
python: exit 4 stdout [env ['"'x y'"'] in
] stderr [e
] runtime python id-len 36 ts 20'"$(date -u +%y)"' trunc 0 timeout 0
cobol: error 2 Unknown runtime: "cobol". Available: python, node, bun, deno, bash, agent
timeout: exit 124 stdout [] stderr [
--- EXECUTION TIMED OUT ---
] runtime bash id-len 36 ts 20'"$(date -u +%y)"' trunc 0 timeout 1
bad-env -1 2
bad-session -1 2' "remote execute: the same result fields and refusals as the local engine"
}

case_remote_stream() {
	need_http || return 0
	serve_start || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	is "$(ISOL8_API_KEY=$KEY "$CLIENT" "$URL" stream)" 'stream rc 0 bytes 960000 many-calls 1 exit 0 errors 0 result-stdout 0
stop rc 0 exit 130 fast 1' "remote streaming over SSE: a slow callback (backpressure), a callback that stops the run"
}

case_remote_session() {
	need_http || return 0
	serve_start || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	is "$(ISOL8_API_KEY=$KEY "$CLIENT" "$URL" session)" "first: exit 0 stdout [] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0
second: exit 0 stdout [42
] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0
file put 0 get 0 len 3 same 1
missing -1 5
listed 1
stop 0
stop-again 0 5 cannot read /sandbox/missing in session lib-s1: cat: /sandbox/missing: No such file or directory" \
		"remote sessions: state across runs, a binary file in and out (404 as NOTFOUND with the server's message), list, stop (idempotent over HTTP)"
}

case_remote_big() {
	need_http || return 0
	serve_start || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	is "$(ISOL8_API_KEY=$KEY "$CLIENT" "$URL" big)" "set-stdin 0 code 204800
big: exit 0 stdout [204800 1048576 abc xyz 1048571
] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0" "remote: 200 KiB of code and 1 MiB of stdin"
}

case_remote_errors() {
	need_http || return 0
	serve_start || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	is "$(ISOL8_API_KEY=wrong-key-0123456789abcdef "$CLIENT" "$URL" errors)" "start 0 code 0
run: error 4 Invalid API key
list NULL code 4 Invalid API key
bad-url NULL code 2 invalid base URL 'ftp://x': expected http://HOST[:PORT] or https://..." \
		"remote: /health needs no key; a wrong key is ISOL8_ERR_AUTH with the server's message; a bad URL is refused"
}

case_remote_cli_file() {
	local ses=lib-cli-f
	need_http || return 0
	serve_start || bail "isol8 serve did not start: $(cat "$T_TMP/serve.log")"
	printf 'a\0b\n' >"$T_TMP/in.bin"
	run_cap "$ISOL8" run --host "$URL" --key "$KEY" --session-id "$ses" -r python -e 'open("/sandbox/made.txt", "w").write("from run")'
	is "$RC" 0 "isol8 run --host --session-id (libisol8's remote engine)"
	run_cap "$ISOL8" file put "$ses" "$T_TMP/in.bin" up/in.bin --host "$URL" --key "$KEY"
	is "$RC|${ERR%$'\n'}" "0|[OK] Copied $T_TMP/in.bin to $ses:/sandbox/up/in.bin" "isol8 file put --host"
	is "$("$ISOL8" file get "$ses" up/in.bin --host "$URL" --key "$KEY" | od -An -c | tr -s ' ')" "$(od -An -c <"$T_TMP/in.bin" | tr -s ' ')" \
		"isol8 file get --host: the same bytes back"
	run_cap "$ISOL8" cp "$ses:made.txt" "$T_TMP/" --host "$URL" --key "$KEY"
	is "$RC|$(cat "$T_TMP/made.txt" 2>/dev/null)" "0|from run" "isol8 cp --host NAME:REMOTE into a directory"
	run_cap "$ISOL8" file get "$ses" nothing.txt --host "$URL" --key "$KEY"
	like "$RC|$ERR" '^1\|.*No such file' "a missing file: the server's message, exit 1"
	run_cap "$ISOL8" file get "$ses" x --host "$URL" --key wrong-key-0123456789abcdef
	like "$RC|$ERR" '^1\|.*Invalid API key' "a wrong key: the server's message, exit 1"
	run_cap "$ISOL8" session stop "$ses" --host "$URL" --key "$KEY"
	is "$RC" 0 "isol8 session stop --host"
}

# A stand-in server (python3 http.server) that logs each request's method, path,
# X-Isol8-Session and X-Isol8-Node, and answers every call as a node named node-7 would.
standin_start() {
	cat >"$T_TMP/standin.py" <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Isol8-Node", "node-7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        with open(sys.argv[1], "a") as log:
            log.write("%s %s %s %s\n" % (self.command, self.path.split("?")[0], self.headers.get("X-Isol8-Session", "-"),
                                          self.headers.get("X-Isol8-Node", "-")))
        if self.path.startswith("/execute"):
            self.answer({"stdout": "", "stderr": "", "exitCode": 0, "runtime": "python"})
        elif self.path.startswith("/file") and self.command == "GET":
            self.answer({"content": "YWJj"})
        elif self.path == "/sessions":
            self.answer({"sessions": []})
        else:
            self.answer({"ok": True})
    do_GET = do_POST = do_DELETE = handle_one
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
	python3 "$T_TMP/standin.py" "$T_TMP/standin.log" >"$T_TMP/standin.port" 2>"$T_TMP/standin.err" &
	STANDIN_PID=$!
	for ((i = 0; i < 100; i++)); do [ -s "$T_TMP/standin.port" ] && break; sleep 0.1; done
	STANDIN=http://127.0.0.1:$(cat "$T_TMP/standin.port")
	: >"$T_TMP/standin.log"
}
standin_stop() {
	kill "$STANDIN_PID" 2>/dev/null
	wait "$STANDIN_PID" 2>/dev/null
}

case_remote_session_pin() {
	standin_start
	# The library: the first answer of session lib-s1 names node-7; every later call carries it.
	ISOL8_API_KEY=$KEY "$CLIENT" "$STANDIN" session >/dev/null
	is "$(cat "$T_TMP/standin.log")" "POST /execute lib-s1 -
POST /execute lib-s1 node-7
POST /file lib-s1 node-7
GET /file lib-s1 node-7
GET /file lib-s1 node-7
GET /sessions - -
DELETE /session/lib-s1 lib-s1 node-7
DELETE /session/lib-s1 lib-s1 -" \
		"libisol8: runs, file put and get and stop of a session send X-Isol8-Session, and X-Isol8-Node once known (forgotten after the stop)"
	# The CLI: file calls pin the node an earlier command remembered for the session.
	: >"$T_TMP/standin.log"
	mkdir -p "$T_TMP/state/isol8"
	printf '%s lib-cli-p node-9\n' "$STANDIN" >"$T_TMP/state/isol8/remote-nodes"
	chmod 600 "$T_TMP/state/isol8/remote-nodes"
	printf 'x' >"$T_TMP/p.txt"
	XDG_STATE_HOME=$T_TMP/state "$ISOL8" file put lib-cli-p "$T_TMP/p.txt" p.txt --host "$STANDIN" --key "$KEY" 2>/dev/null
	XDG_STATE_HOME=$T_TMP/state "$ISOL8" file get lib-cli-p p.txt --host "$STANDIN" --key "$KEY" >/dev/null
	XDG_STATE_HOME=$T_TMP/state "$ISOL8" cp "lib-cli-p:p.txt" "$T_TMP/back.txt" --host "$STANDIN" --key "$KEY" 2>/dev/null
	XDG_STATE_HOME=$T_TMP/state "$ISOL8" cp "$T_TMP/p.txt" "lib-cli-p:q.txt" --host "$STANDIN" --key "$KEY" 2>/dev/null
	is "$(cat "$T_TMP/standin.log")" "POST /file lib-cli-p node-9
GET /file lib-cli-p node-9
GET /file lib-cli-p node-9
POST /file lib-cli-p node-9" "isol8 file put/get and cp --host send the session and its remembered node"
	standin_stop
}

case_remote_down() {
	like "$(ISOL8_API_KEY=$KEY "$CLIENT" "http://127.0.0.1:1" down)" '^start -1 code 7 unavail 1
run: error 7 cannot reach http://127.0.0.1:1/execute: ' "server down: ISOL8_ERR_UNAVAIL naming the URL"
}

case_daemon_down() {
	like "$("$CLIENT" "$T_TMP/no.sock" down)" '^start -1 code 7 unavail 1
run: error 7 cannot reach isol8d at ' "isol8d down: ISOL8_ERR_UNAVAIL naming the socket"
}

trap 'serve_stop; daemon_exit_trap' EXIT
daemon_start l || bail "isol8d did not start"
run_cases "$@"
