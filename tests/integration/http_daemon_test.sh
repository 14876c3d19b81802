#!/bin/bash
# isol8d --http (issue 8): the broker runs the HTTP frontend as an unprivileged child, trusted to
# act for API keys by its pid; sessions belong to the key that created them; the child goes away
# with the daemon. TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup http_daemon_test
require_http
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
keys=$T_TMP/keys
printf 'alpha:secret-alpha-0123456789\nbravo:secret-bravo-0123456789\n' >"$keys"
chmod 600 "$keys"
daemon_start h --http "127.0.0.1:$port" --http-keys "$keys" || done_testing
U=http://127.0.0.1:$port
for _ in $(seq 50); do curl -s "$U/health" >/dev/null 2>&1 && break; sleep 0.1; done

A='Authorization: Bearer secret-alpha-0123456789'
B='Authorization: Bearer secret-bravo-0123456789'
# The frontend isol8d started for --http: a child of the daemon, found by its command line.
frontend_pid() { pgrep -f "isol8-full serve --bind 127.0.0.1 --port $port" | head -1; }

case_frontend_locked_down() {
	local serve
	is "$(curl -s "$U/health")" "{\"status\":\"ok\",\"version\":\"0.1.0\",\"state\":\"ready\",\"node\":\"$(hostname | cut -d. -f1)\",\"runs\":0,\"sessions\":0}" \
		"health answers: ready, named by the host name"
	serve=$(frontend_pid)
	like "$serve" '^[0-9]+$' "the HTTP frontend runs as a child of isol8d"
	is "$(ps -o uid= -p "$serve" 2>/dev/null | tr -d ' ')" "$(id -u isol8-unpriv)" "it runs as the unprivileged account (isol8-unpriv)"
	is "$(awk '/^CapEff/ {print $2}' "/proc/$serve/status")" 0000000000000000 "with no capabilities"
	is "$(awk '/^NoNewPrivs/ {print $2}' "/proc/$serve/status")" 1 "and no_new_privs"
	is "$(awk '/^Seccomp:/ {print $2}' "/proc/$serve/status")" 2 "and its seccomp filter"
	ls -l "/proc/$serve/fd" 2>/dev/null | grep -q docker.sock && not_ok "no Docker socket in the frontend" || ok "no Docker socket in the frontend"
}

case_execute_and_refusals() {
	local out
	out=$(curl -s -H "$A" -d '{"request":{"code":"print(6*7)","runtime":"python"}}' "$U/execute")
	is "$(json_get "$out" '[.stdout, .exitCode]')" '["42\n",0]' "/execute through the daemon's frontend"
	out=$(curl -s -w '\n%{http_code}' -H "$A" -d '{"request":{"code":"print(1)","runtime":"python"},"options":{"network":"host"}}' "$U/execute")
	is "$(tail -1 <<<"$out")" 403 "host network over HTTP under the built-in policy: 403"
	like "$(head -1 <<<"$out")" 'network host is not allowed' "the refusal names the reason"
	is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' -d '{"request":{"code":"1","runtime":"python"}}' "$U/execute")" 401 "wrong key: 401"
}

case_sessions_per_key() {
	local out
	out=$(curl -s -H "$A" -d '{"request":{"code":"x = 40","runtime":"python"},"sessionId":"hs1"}' "$U/execute")
	is "$(json_get "$out" '.exitCode')" 0 "key alpha creates session hs1"
	out=$(curl -s -H "$A" -d '{"request":{"code":"print(x + 2)","runtime":"python"},"sessionId":"hs1"}' "$U/execute")
	is "$(json_get "$out" '.stdout')" '"42\n"' "key alpha keeps its session state"
	is "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "$B" "$U/session/hs1")" 200 "key bravo's DELETE of alpha's session: idempotent 200, stops nothing"
	is "$(curl -s -H "$B" "$U/sessions" | jq -c '[.sessions[].id]')" '[]' "key bravo does not see it"
	out=$(curl -s -H "$A" -d '{"request":{"code":"print(x + 1)","runtime":"python"},"sessionId":"hs1"}' "$U/execute")
	is "$(json_get "$out" '.stdout')" '"41\n"' "alpha's session survives bravo's DELETE"
	is "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "$A" "$U/session/hs1")" 200 "key alpha stops it"
}

case_local_process_cannot_claim_keys() {
	# A local process of the same account is not trusted to claim keys (only the child's pid is).
	run_cap setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "${D_SOCK[h]}" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
sess, key, kid = b"", b"alpha", b"0123456789abcdef"
payload = (bytes([1]) + struct.pack("<I", len(sess)) + sess + struct.pack("<I", len(key)) + key +
           struct.pack("<I", len(kid)) + kid)
s.send(struct.pack("<HBBHHIII", 0x3849, 1, 2, 0, 0, len(payload), 0, 0) + payload)
reply = s.recv(65536)
print("refused" if reply[3] == 21 and b"may not act for API keys" in reply else "accepted")
PY
	is "$OUT" $'refused\n' "a nobody process claiming key alpha is refused"
}

# Last: it stops the daemon.
case_frontend_stops_with_daemon() {
	local serve
	serve=$(frontend_pid)
	daemon_stop h
	sleep 0.5
	if kill -0 "$serve" 2>/dev/null; then not_ok "the HTTP frontend stops with the daemon"; else ok "the HTTP frontend stops with the daemon"; fi
}

run_cases "$@"
