#!/bin/bash
# Remote code end to end (issue 15 item 3): isol8 run --url/--github/--gist and HTTP codeUrl
# through a real isol8d, its isol8-fetch and the engine, against HTTPS servers this test runs on
# loopback with its own CA (openssl). One case per rule of original-reference.md §4.24 and per
# hole of the original (redirect targets, DNS rebinding, the streaming cap).
#
# How the test reaches servers on loopback without weakening anything: the policy written here
# gives the tenants "remoteCode" with caFile (this test's CA instead of the system's), ports (the
# test's), and allowAddresses ["127.0.0.2/32"]: the one loopback address of the "public" server.
# Every other non-global address stays refused, 127.0.0.1 and 127.0.0.3 included, where the
# "internal" server listens and logs any request it gets. Names come from isol8d's --fetch-hosts
# hook (the fetcher reads it before DNS; a name listed twice answers its first lookup with the
# first line and the next with the second: a DNS server that changes its answer), so nothing
# leaves the machine and no resolver is touched. TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup remote_code_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
command -v openssl >/dev/null || bail "openssl needed for the test CA"
SRC=${ISOL8_SRCDIR:-$here/../..}
W=$T_TMP/www
mkdir -p "$W/o/r/main" "$W/abc123/raw"

# ---- the CA and the servers' certificate -------------------------------------------------------
(
	cd "$T_TMP" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=isol8 test CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=code.test"
	printf 'subjectAltName=DNS:code.test,DNS:rebind.test,DNS:raw.githubusercontent.com,DNS:gist.githubusercontent.com,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext
) >"$T_TMP/openssl.log" 2>&1 || bail "openssl: $(cat "$T_TMP/openssl.log")"
chmod 0644 "$T_TMP/ca.pem"

# ---- content -------------------------------------------------------------------------------------
printf 'print("remote-ok")\n' >"$W/ok.py"
printf 'print("from-github")\n' >"$W/o/r/main/gh.py"
printf 'echo from-gist\n' >"$W/abc123/raw/g.sh"
printf 'print(1)\0\n' >"$W/nul.py"
printf 'import sys\nprint("stdin:", sys.stdin.read().strip())\n' >"$W/cat.py"
printf 'print("caf\xe9")\n' >"$W/latin1.py"
head -c 5000 /dev/zero | tr '\0' '#' >"$W/big.py"
OK_HASH=$(sha256sum "$W/ok.py" | cut -d' ' -f1)
{ printf '# '; head -c 3000000 /dev/zero | tr '\0' x; printf '\nprint("big-ok")\n'; } >"$W/large.py"

cat >"$T_TMP/srv.py" <<'PY'
import http.server, os, socketserver, ssl, sys, threading, time
www, log, cert, key, port, hport = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a): pass
    def send(self, code, body, length=True, headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        if length: self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        me = self.server.server_address[0]
        with open(log, "a") as f: f.write("%s %s\n" % (me, self.path))
        p = self.path.split("?")[0]
        if me != "127.0.0.2":
            return self.send(200, b'print("INTERNAL")\n')
        if p == "/redir-private.py":
            return self.send(302, b"", headers=[("Location", "https://127.0.0.1:%d/ok.py" % port)])
        if p == "/redir-v6.py":
            return self.send(302, b"", headers=[("Location", "https://[::1]:%d/ok.py" % port)])
        if p == "/redir-ok.py":
            return self.send(302, b"", headers=[("Location", "/ok.py")])
        if p == "/redir-http.py":
            return self.send(302, b"", headers=[("Location", "http://code.test:%d/ok.py" % hport)])
        if p == "/stream.py":  # no Content-Length: the cap must hold while streaming
            self.send_response(200); self.end_headers()
            for _ in range(50): self.wfile.write(b"#" * 100)
            return
        if p == "/slow.py":
            time.sleep(5)
            return self.send(200, b'print("late")\n')
        if p == "/empty.py":
            return self.send(200, b"")
        f = os.path.join(www, p.lstrip("/"))
        if ".." in p or not os.path.isfile(f):
            return self.send(404, b"not found\n")
        with open(f, "rb") as fh: self.send(200, fh.read())
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
servers = []
for addr in ("127.0.0.2", "127.0.0.1", "127.0.0.3"):
    s = S((addr, port), H); s.socket = ctx.wrap_socket(s.socket, server_side=True); servers.append(s)
servers.append(S(("127.0.0.2", hport), H))  # plain HTTP
try:  # the github/gist shorthands always name port 443
    s = S(("127.0.0.2", 443), H); s.socket = ctx.wrap_socket(s.socket, server_side=True); servers.append(s)
    open(log + ".443", "w").close()
except OSError:
    pass
for s in servers: threading.Thread(target=s.serve_forever, daemon=True).start()
open(log + ".ready", "w").close()
threading.Event().wait()
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
HPORT=$(free_port)
LOG=$T_TMP/requests.log
: >"$LOG"
python3 "$T_TMP/srv.py" "$W" "$LOG" "$T_TMP/srv.pem" "$T_TMP/srv.key" "$PORT" "$HPORT" >"$T_TMP/srv.out" 2>&1 &
SRV_PID=$!
trap 'kill $SRV_PID 2>/dev/null; daemon_exit_trap' EXIT
for _ in $(seq 100); do [ -e "$LOG.ready" ] && break; sleep 0.1; done
[ -e "$LOG.ready" ] || bail "test server did not start: $(cat "$T_TMP/srv.out")"

# ---- the daemons -----------------------------------------------------------------------------
printf '%s\n' "127.0.0.2 code.test raw.githubusercontent.com gist.githubusercontent.com" \
	"127.0.0.2 rebind.test" "127.0.0.3 rebind.test" >"$T_TMP/hosts"
jq --arg ca "$T_TMP/ca.pem" --argjson p "$PORT" --argjson h "$HPORT" \
	'.tenants[].remoteCode = {enabled: true, allowedSchemes: ["https", "http"], ports: [$p, $h, 443],
	  allowAddresses: ["127.0.0.2/32"], caFile: $ca, maxCodeSize: 1024, fetchTimeoutMs: 3000}' \
	"$SRC/policy/default-policy.json" >"$T_TMP/policy.json" || bail "cannot write the policy"
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
keys=$T_TMP/keys
printf 'alpha:secret-alpha-0123456789\n' >"$keys"
chmod 600 "$keys"
on_http=()
http_built && on_http=(--http "127.0.0.1:$hport" --http-keys "$keys")
daemon_start on --policy "$T_TMP/policy.json" --fetch-hosts "$T_TMP/hosts" "${on_http[@]}" || done_testing
daemon_start off --fetch-hosts "$T_TMP/hosts" || done_testing
U=http://127.0.0.1:$hport
for _ in $(seq 50); do http_built || break; curl -s "$U/health" >/dev/null 2>&1 && break; sleep 0.1; done

# The CLI reads ./isol8.config.json: one directory with remoteCode on (and the user's own host
# lists emptied, so that what is refused below is refused by isol8d's fetcher), one without any.
mkdir -p "$T_TMP/cfg-on" "$T_TMP/cfg-off" "$T_TMP/home"
echo '{"remoteCode": {"enabled": true, "allowedSchemes": ["https", "http"], "blockedHosts": []}}' >"$T_TMP/cfg-on/isol8.config.json"
run_in() { # DIR DAEMON ARGS...: isol8 run from DIR (its isol8.config.json) against DAEMON
	local d=$1 id=$2
	shift 2
	cd "$d" || bail "cd $d"
	HOME=$T_TMP/home run_cap "$ISOL8" run --socket "${D_SOCK[$id]}" "$@"
	cd - >/dev/null || bail "cd back"
}
run_on() { run_in "$T_TMP/cfg-on" on "$@"; }
http_exec() { # BODY -> HOUT (body) HCODE; false (and one skipped test) in a build without HTTP
	local r
	http_built || { skip "${FUNCNAME[1]#case_}: its HTTP request" "built without HTTP (configure --disable-http)"; return 1; }
	r=$(curl -s -w '\n%{http_code}' -H 'Authorization: Bearer secret-alpha-0123456789' -d "$1" "$U/execute")
	HCODE=$(tail -1 <<<"$r")
	HOUT=$(sed '$d' <<<"$r")
}
refused() { # DESC WANT-ERR ARGS... : exit 1, exactly one [ERR] line, nothing ran
	local d=$1 want=$2
	shift 2
	run_on "$@"
	is "$RC" 1 "$d: exit 1"
	is "$ERR" "[ERR] $want
" "$d: one [ERR] line"
	is "$OUT" "" "$d: nothing ran"
}
internal_untouched() { # DESC
	is "$(grep -v '^127\.0\.0\.2 ' "$LOG")" "" "$1: the internal server got no request"
}

case_disabled_by_default() {
	run_in "$T_TMP/cfg-off" on --url "https://code.test:$PORT/ok.py"
	is "$RC" 1 "no remoteCode in the user config: exit 1"
	is "$ERR" "[ERR] Remote code fetching is disabled. Set remoteCode.enabled=true to allow it.
" "the original's message, naming the key that turns it on"
	: >"$LOG"
	run_in "$T_TMP/cfg-on" off --url "https://code.test:$PORT/ok.py"
	is "$RC" 1 "enabled by the user, not by isol8d's (built-in) policy: exit 1"
	is "$ERR" "[ERR] Remote code fetching is disabled for tenant admin by isol8d's policy (tenants.admin.remoteCode.enabled, isol8-policy(5)); ask the administrator
" "the message names the policy key, not the user's (issue 20)"
	is "$(cat "$LOG")" "" "a refused fetch never reaches the network"
}

case_http_client_cannot_enable() {
	local hp2 r
	need_http || return 0
	hp2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	daemon_start offh --http "127.0.0.1:$hp2" --http-keys "$keys" || return
	for _ in $(seq 50); do curl -s "http://127.0.0.1:$hp2/health" >/dev/null 2>&1 && break; sleep 0.1; done
	r=$(curl -s -w '\n%{http_code}' -H 'Authorization: Bearer secret-alpha-0123456789' \
		-d "{\"request\":{\"codeUrl\":\"https://code.test:$PORT/ok.py\",\"runtime\":\"python\"},\"options\":{\"remoteCode\":{\"enabled\":true,\"allowedHosts\":[],\"blockedHosts\":[]}}}" \
		"http://127.0.0.1:$hp2/execute")
	is "$(tail -1 <<<"$r")" 403 "options.remoteCode cannot enable it over HTTP: 403"
	is "$(sed '$d' <<<"$r")" '{"error":"Remote code fetching is disabled for tenant local by isol8d'"'"'s policy (tenants.local.remoteCode.enabled, isol8-policy(5)); ask the administrator"}' \
		"the refusal names the policy"
	daemon_stop offh
}

case_fetch_and_run() {
	local t_url=0 t_eval=0 i
	run_on --url "https://code.test:$PORT/ok.py"
	is "$RC:$OUT" "0:remote-ok
" "--url: fetched through isol8-fetch and run"
	# What the fetch costs (a process, lockdown, TLS on loopback): printed, not asserted.
	for i in 1 2 3 4 5; do
		run_on --url "https://code.test:$PORT/ok.py"
		t_url=$((t_url + ELAPSED_MS))
		run_on -e 'print("remote-ok")'
		t_eval=$((t_eval + ELAPSED_MS))
	done
	diag "mean of 5: isol8 run --url $((t_url / 5)) ms, isol8 run -e $((t_eval / 5)) ms"
	run_on --url "https://code.test:$PORT/ok.py" --hash "$OK_HASH"
	is "$RC:$OUT" "0:remote-ok
" "--hash that matches: runs"
	run_on --url "https://code.test:$PORT/ok.py" --hash "$(tr a-f A-F <<<"$OK_HASH")"
	is "$RC:$OUT" "0:remote-ok
" "--hash compared case-insensitively"
	if http_exec "{\"request\":{\"codeUrl\":\"https://code.test:$PORT/ok.py\",\"codeHash\":\"$OK_HASH\",\"runtime\":\"python\"}}"; then
		is "$HCODE" 200 "HTTP codeUrl + codeHash: 200"
		is "$(jq -c '[.stdout, .exitCode]' <<<"$HOUT")" '["remote-ok\n",0]' "HTTP codeUrl: the fetched code ran"
	fi
	run_on --url "https://code.test:$PORT/redir-ok.py"
	is "$RC:$OUT" "0:remote-ok
" "a redirect to an allowed target is followed (and checked)"
}

case_host_and_stdin() {
	# --host: the same request through isol8 serve's translation (the server's policy decides).
	if need_http; then
		is "$(cd "$T_TMP/cfg-on" && HOME=$T_TMP/home "$ISOL8" run --host "$U" --key secret-alpha-0123456789 \
			--url "https://code.test:$PORT/ok.py" --hash "$OK_HASH" 2>&1)" "remote-ok" \
			"--url with --host: fetched by the server's isol8d"
	fi
	# The code comes from the URL, so standard input stays the program's.
	is "$(cd "$T_TMP/cfg-on" && printf 'hello\n' | HOME=$T_TMP/home "$ISOL8" run --socket "${D_SOCK[on]}" \
		--url "https://code.test:$PORT/cat.py" 2>&1)" "stdin: hello" "piped stdin reaches the fetched program"
}

case_hash_mismatch() {
	refused "hash mismatch" "Remote code hash mismatch" --url "https://code.test:$PORT/ok.py" \
		--hash 0000000000000000000000000000000000000000000000000000000000000000
	run_on --url "https://code.test:$PORT/ok.py" --hash abc
	is "$RC" 2 "a --hash that is not SHA-256: usage error, exit 2"
	is "$ERR" "[ERR] --hash must be a SHA-256 digest: 64 hexadecimal digits
" "it says what a hash looks like"
	if http_exec "{\"request\":{\"codeUrl\":\"https://code.test:$PORT/ok.py\",\"codeHash\":\"$(printf '%064d' 1)\",\"runtime\":\"python\"}}"; then
		is "$HCODE:$HOUT" '403:{"error":"Remote code hash mismatch"}' "HTTP: hash mismatch is a 403"
	fi
}

case_insecure_http() {
	refused "http:// without --allow-insecure-code-url" \
		"Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP." --url "http://code.test:$HPORT/ok.py"
	if http_exec "{\"request\":{\"codeUrl\":\"http://code.test:$HPORT/ok.py\",\"runtime\":\"python\"}}"; then
		is "$HCODE:$HOUT" '403:{"error":"Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP."}' \
			"HTTP: checked by the fetcher too (no client-side check on this path)"
	fi
	run_on --url "http://code.test:$HPORT/ok.py" --allow-insecure-code-url
	is "$RC:$OUT" "0:remote-ok
" "with the flag and \"http\" in the policy's allowedSchemes: fetched"
	refused "an https URL redirecting to http" "Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP." \
		--url "https://code.test:$PORT/redir-http.py"
}

case_private_addresses() {
	: >"$LOG"
	refused "a private IPv4 literal" "Blocked code URL host: 127.0.0.1" --url "https://127.0.0.1:$PORT/ok.py"
	refused "an IPv6 loopback literal" "Blocked code URL host: ::1" --url "https://[::1]:$PORT/ok.py"
	refused "a v4-mapped IPv6 literal" "Blocked code URL host: ::ffff:127.0.0.3" --url "https://[::ffff:127.0.0.3]:$PORT/ok.py"
	refused "a name of a private address" "Blocked code URL host: localhost" --url "https://localhost:$PORT/ok.py"
	refused "a port the policy does not list" "Blocked code URL port: 1" --url "https://code.test:1/ok.py"
	if http_exec "{\"request\":{\"codeUrl\":\"https://127.0.0.3:$PORT/ok.py\",\"runtime\":\"python\"}}"; then
		is "$HCODE:$HOUT" '403:{"error":"Blocked code URL host: 127.0.0.3"}' "HTTP: a private literal is a 403"
	fi
	internal_untouched "private literals"
}

case_redirect_to_private() {
	: >"$LOG"
	refused "a redirect to 127.0.0.1" "Blocked code URL host: 127.0.0.1" --url "https://code.test:$PORT/redir-private.py"
	refused "a redirect to [::1]" "Blocked code URL host: ::1" --url "https://code.test:$PORT/redir-v6.py"
	is "$(grep -c redir "$LOG")" 2 "the public server was asked (twice)"
	internal_untouched "redirects"
}

case_dns_rebinding() {
	: >"$LOG"
	# rebind.test answers 127.0.0.2 (allowed) to the first lookup and 127.0.0.3 (private) to the
	# next: the fetcher looks up once and connects to the address it checked.
	run_on --url "https://rebind.test:$PORT/ok.py"
	is "$RC:$OUT" "0:remote-ok
" "a name that resolves first public then private: the checked address is the one used"
	internal_untouched "DNS rebinding"
}

case_size_cap() {
	refused "Content-Length above maxCodeSize" "Remote code exceeds maxCodeSize (1024 bytes): 5000 bytes" \
		--url "https://code.test:$PORT/big.py"
	refused "a body without Content-Length, past the cap while streaming" "Remote code exceeds maxCodeSize (1024 bytes)" \
		--url "https://code.test:$PORT/stream.py"
	refused "an empty body" "Remote code response body is empty" --url "https://code.test:$PORT/empty.py"
	refused "HTTP 404" "Failed to fetch remote code: HTTP 404" --url "https://code.test:$PORT/nope.py"
}

case_content_checks() {
	refused "a NUL byte" "Fetched code appears to be binary content" --url "https://code.test:$PORT/nul.py"
	refused "invalid UTF-8" "Fetched code is not valid UTF-8 (invalid byte 0xe9 at offset 10)" \
		--url "https://code.test:$PORT/latin1.py"
}

case_timeout() {
	# The user's config narrows the policy's 3000 ms to 1500.
	mkdir -p "$T_TMP/cfg-slow"
	echo '{"remoteCode": {"enabled": true, "blockedHosts": [], "fetchTimeoutMs": 1500}}' >"$T_TMP/cfg-slow/isol8.config.json"
	run_in "$T_TMP/cfg-slow" on --url "https://code.test:$PORT/slow.py"
	is "$RC" 1 "a server slower than fetchTimeoutMs: exit 1"
	is "$ERR" "[ERR] Remote code fetch timed out after 1500ms
" "the original's message, with the user's narrower timeout"
}

case_github_gist() {
	: >"$LOG"
	if [ ! -e "$LOG.443" ]; then
		ok "# SKIP 127.0.0.2:443 is taken: the shorthands' URLs are checked by check_remote_code only"
		return
	fi
	run_on --github o/r/main/gh.py
	is "$RC:$OUT" "0:from-github
" "--github o/r/main/gh.py fetches raw.githubusercontent.com/o/r/main/gh.py"
	run_on --gist abc123/g.sh
	is "$RC:$OUT" "0:from-gist
" "--gist abc123/g.sh fetches gist.githubusercontent.com/abc123/raw/g.sh (runtime bash from .sh)"
	is "$(cat "$LOG")" "127.0.0.2 /o/r/main/gh.py
127.0.0.2 /abc123/raw/g.sh" "the paths the shorthands map to"
	run_on --github o/r/main
	is "$RC:$ERR" "2:[ERR] --github format must be owner/repo/ref/path/to/file
" "--github with three parts: usage error"
}

case_untrusted_certificate() {
	# The same policy without caFile: the system's bundle does not know this test's CA.
	jq 'del(.tenants[].remoteCode.caFile)' "$T_TMP/policy.json" >"$T_TMP/policy-noca.json"
	daemon_start noca --policy "$T_TMP/policy-noca.json" --fetch-hosts "$T_TMP/hosts" || return
	run_in "$T_TMP/cfg-on" noca --url "https://code.test:$PORT/ok.py"
	is "$RC" 1 "a certificate the trusted CAs did not sign: exit 1"
	like "$ERR" '^\[ERR\] Failed to fetch remote code: .*(certificate|SSL)' "the TLS failure is named"
	daemon_stop noca
}

case_large_code() {
	# Far above the 1 MiB a request carries inline: the fetched code reaches the sandbox whole.
	jq '.tenants[].remoteCode.maxCodeSize = 4194304' "$T_TMP/policy.json" >"$T_TMP/policy-big.json"
	daemon_start big --policy "$T_TMP/policy-big.json" --fetch-hosts "$T_TMP/hosts" || return
	run_in "$T_TMP/cfg-on" big --url "https://code.test:$PORT/large.py" --hash "$(sha256sum "$W/large.py" | cut -d' ' -f1)"
	is "$RC:$OUT:$ERR" "0:big-ok
:" "a 3 MB program fetched and run"
	daemon_stop big
}

case_fetcher_confined() {
	# A fetch that stalls (slow.py) leaves its isol8-fetch running long enough to look at it.
	(cd "$T_TMP/cfg-on" && HOME=$T_TMP/home "$ISOL8" run --socket "${D_SOCK[on]}" --url "https://code.test:$PORT/slow.py" >/dev/null 2>&1) &
	local bg=$! f="" i c
	for ((i = 0; i < 50; i++)); do
		for c in $(cat /proc/"${D_PID[on]}"/task/*/children 2>/dev/null); do
			[ "$(cat "/proc/$c/comm" 2>/dev/null)" = isol8-fetch ] && f=$c
		done
		[ -n "$f" ] && grep -q '^Seccomp:[[:space:]]2' "/proc/$f/status" 2>/dev/null && break
		sleep 0.1
	done
	like "$f" '^[0-9]+$' "the fetch runs in its own isol8-fetch process"
	is "$(ps -o uid= -p "$f" 2>/dev/null | tr -d ' ')" "$(id -u isol8-unpriv)" "as the unprivileged account"
	is "$(awk '/^CapEff/ {print $2}' "/proc/$f/status")" 0000000000000000 "with no capabilities"
	is "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$f/status")" 1 "no_new_privs"
	is "$(awk '/^Seccomp:/ {print $2}' "/proc/$f/status")" 2 "under its seccomp filter"
	is "$(tr '\0' '\n' <"/proc/$f/environ" 2>/dev/null | grep -c .)" 0 "with an empty environment"
	if ls -l "/proc/$f/fd" 2>/dev/null | grep -q docker.sock; then not_ok "no Docker socket in the fetcher"; else ok "no Docker socket in the fetcher"; fi
	wait "$bg"
}

teardown() {
	daemon_stop on
	daemon_stop off
}

run_cases "$@"
