#!/bin/bash
# `isol8 serve` and the remote client end to end (issue 8): a real isol8d on a private socket,
# `isol8 serve` as root on 127.0.0.1 with a free port, curl as the HTTP client, the real Docker
# engine. TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup http_test
require_http
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
daemon_start h --max-concurrent 16 --queue 64 || done_testing
S=${D_SOCK[h]}

KA=key-alpha-0123456789abcdef
KB=key-bravo-0123456789abcdef
printf '# two tenants\nalpha:%s\nbravo:%s\n' "$KA" "$KB" >"$T_TMP/keys"
chmod 0600 "$T_TMP/keys"

SRV_PID=""
SRV_LOG=$T_TMP/serve.log
server_stop() {
	[ -n "$SRV_PID" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do proc_gone "$SRV_PID" && break; sleep 0.1; done
	proc_gone "$SRV_PID" || kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_RC=$?
	SRV_PID=""
}
trap 'server_stop; daemon_exit_trap' EXIT

setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --max-body 64k --socket "$S" --grace 20 --keepalive-ms 300 --node-id n1 \
	>"$SRV_LOG" 2>&1 </dev/null &
SRV_PID=$!
PORT=""
for ((i = 0; i < 100; i++)); do
	PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$SRV_LOG")
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || bail "isol8 serve did not start: $(cat "$SRV_LOG")"
ok "isol8 serve listens on 127.0.0.1:$PORT"
U=http://127.0.0.1:$PORT

# Every answer the test receives is recorded here and checked against docs/openapi.json at the
# end (tests/lib/openapi_check.py): the description cannot drift from the server.
API_LOG=$T_TMP/api.log
export API_LOG
: >"$API_LOG"
# rec_answer METHOD PATH STATUS CTYPE FILE
rec_answer() {
	[ "$3" = 000 ] && return 0
	jq -cn --arg m "$1" --arg p "$2" --arg s "$3" --arg ct "$4" --rawfile b "$5" \
		'{kind:"http",method:$m,path:$p,status:($s|tonumber),ctype:$ct,body:$b}' >>"$API_LOG"
}
# acurl OUT URL [curl args...]: curl -s into OUT, record the answer, print its status
acurl() {
	local out=$1 url=$2 meta
	shift 2
	meta=$(curl -s -o "$out" -w '%{http_code}\t%{content_type}\t%{method}' "$@" "$url")
	rec_answer "$(cut -f3 <<<"$meta")" "/${url#*://*/}" "$(cut -f1 <<<"$meta")" "$(cut -f2 <<<"$meta")" "$out"
	cut -f1 <<<"$meta"
}
# hcurl KEY METHOD PATH [BODY [curl args...]]: sets BODY_OUT and CODE (base URL $HBASE, else $U)
hcurl() {
	local key=$1 method=$2 path=$3 auth=()
	[ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
	if [ $# -ge 4 ]; then
		CODE=$(acurl "$T_TMP/body" "${HBASE:-$U}$path" -X "$method" "${auth[@]}" \
			-H 'Content-Type: application/json' --data-binary "$4" "${@:5}")
	else
		CODE=$(acurl "$T_TMP/body" "${HBASE:-$U}$path" -X "$method" "${auth[@]}")
	fi
	BODY_OUT=$(cat "$T_TMP/body")
}
exec_body() { # CODE [RUNTIME] -> envelope JSON
	jq -cn --arg c "$1" --arg r "${2:-python}" '{request:{code:$c, runtime:$r}}'
}

# ---- health and authentication ---------------------------------------------------------------------
case_health_auth() {
hcurl "" GET /health
is "$CODE|$BODY_OUT" '200|{"status":"ok","version":"0.1.0","state":"ready","node":"n1","runs":0,"sessions":0}' "GET /health needs no key"
hcurl "" GET /openapi.json
is "$CODE|$(json_get "$BODY_OUT" '[.openapi, (.paths | keys | length)]')" '200|["3.1.0",13]' "GET /openapi.json needs no key: OpenAPI 3.1, 13 paths"
is "$(jq -S . "$T_TMP/body" | sha256sum)" "$(jq -S . "${ISOL8_SRCDIR:-$here/../..}/docs/openapi.json" | sha256sum)" \
	"GET /openapi.json serves docs/openapi.json"
hcurl "" POST /execute "$(exec_body 'print(1)')"
is "$CODE|$(json_get "$BODY_OUT" .error)" '401|"Missing Authorization header"' "no key: 401 JSON"
hcurl "wrong-key-0123456789" POST /execute "$(exec_body 'print(1)')"
is "$CODE|$(json_get "$BODY_OUT" .error)" '401|"Invalid API key"' "wrong key: 401 JSON (403 is for policy refusals)"
is "$(curl -s -o /dev/null -D - -H 'Authorization: Bearer wrong-key-0123456789' "$U/sessions" | tr -d '\r' | grep -i '^www-authenticate:')" \
	'WWW-Authenticate: Bearer realm="isol8", error="invalid_token"' "wrong key: a Bearer challenge naming invalid_token"
is "$(curl -s -o /dev/null -D - "$U/sessions" | tr -d '\r' | grep -i '^www-authenticate:')" \
	'WWW-Authenticate: Bearer realm="isol8"' "no key: a Bearer challenge"
hcurl "$KA" GET /metrics
like "$CODE" '^(200|503)$' "GET /metrics answers (checked against the description at the end)"
hcurl "$KA" GET /nowhere
is "$CODE" 404 "unknown route: 404"
hcurl "$KA" GET /execute
is "$CODE" 405 "wrong method: 405"

}

# ---- /execute ----------------------------------------------------------------------------------------
case_execute() {
hcurl "$KA" POST /execute "$(exec_body 'print("hello http")')"
is "$CODE|$(json_get "$BODY_OUT" .stdout)|$(json_get "$BODY_OUT" .exitCode)" '200|"hello http\n"|0' \
	"/execute: exact stdout and exitCode 0"
like "$(json_get "$BODY_OUT" '[.executionId, .runtime, .timestamp, .containerId, .durationMs, .truncated, .stderr] | map(type) | join(",")')" \
	'^"string,string,string,string,number,boolean,string"$' "/execute: result carries the ExecutionResult fields"
hcurl "$KA" POST /execute "$(exec_body 'import sys; print("out"); print("err", file=sys.stderr); sys.exit(7)')"
is "$CODE|$(json_get "$BODY_OUT" '[.exitCode, .stdout, .stderr]')" '200|[7,"out\n","err\n"]' "/execute: exit code passthrough, separate streams"
hcurl "$KA" POST /execute '{"request":{"code":"print(1)","runtime":"python",'
is "$CODE|$(json_get "$BODY_OUT" 'has("error")')" '400|true' "malformed JSON: 400"
hcurl "$KA" POST /execute "$(exec_body 'x' cobol)"
like "$CODE|$(json_get "$BODY_OUT" .error)" '^400\|"Unknown runtime' "unknown runtime: 400"
hcurl "$KA" POST /execute '{"request":{"code":1,"runtime":"python"}}'
like "$CODE|$(json_get "$BODY_OUT" .error)" '^400\|"request.code: expected string' "wrong field type: 400 naming the field"
hcurl "$KA" POST /execute '{"request":{"code":"1","runtime":"python","bogus":1}}'
is "$CODE" 400 "unknown request field: 400"
hcurl "$KA" POST /execute '{"request":{"code":"print(1)","runtime":"python"},"options":{"memoryLimit":"zzz"}}'
is "$CODE" 400 "bad size in options: 400"
hcurl "$KA" POST /execute '{"request":{"code":"import os; print(os.environ[\"A\"])","runtime":"python","env":{"A":"from-env"}},"options":{"memoryLimit":"256m","timeoutMs":20000}}'
is "$CODE|$(json_get "$BODY_OUT" '[.stdout, .limits.memoryBytes]')" '200|["from-env\n",268435456]' "env and a size string (256m) reach the run"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
hcurl "$KA" POST /execute "$(exec_body "s='$big'")"
is "$CODE|$(json_get "$BODY_OUT" .error)" '413|"Request body too large"' "body over --max-body (64k): 413"
CODE=$(head -c 70000 /dev/zero | tr '\0' 'a' | acurl "$T_TMP/body" "$U/execute" -X POST -H "Authorization: Bearer $KA" \
	-H 'Transfer-Encoding: chunked' --data-binary @-)
is "$CODE" 413 "chunked body over the limit (no Content-Length): 413"
# Hostile heads: each gets a 4xx (or the connection dropped), and the server keeps serving.
hostile=$(python3 - "$PORT" "$KA" <<'PY'
import socket, sys
port, key = int(sys.argv[1]), sys.argv[2]
cases = {
    "huge-header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 200000 + b"\r\n\r\n",
    "nul-in-header": b"GET /sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x00" + key.encode() + b"\r\n\r\n",
    "bad-length": b"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    "length-and-chunked": b"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two-auth": b"GET /sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nAuthorization: Bearer " + key.encode() + b"\r\n\r\n",
    "bad-version": b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
}
for name, raw in cases.items():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(raw)
        line = s.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        line = "dropped"
    code = line.split()[1] if line.startswith("HTTP/") else line
    print(name, "ok" if code == "dropped" or (code.isdigit() and 400 <= int(code) < 600 and int(code) != 500) else "BAD " + line)
PY
)
is "$hostile" $'huge-header ok\nnul-in-header ok\nbad-length ok\nlength-and-chunked ok\ntwo-auth ok\nbad-version ok' "hostile request heads: 4xx or dropped"
hcurl "" GET /health
is "$(json_get "$BODY_OUT" '[.status, .state]')" '["ok","ready"]' "the server still answers after hostile heads"
hcurl "$KA" POST /execute "$(jq -cn --arg c "$(printf 'print(len("""%s"""))' "$(head -c 50000 /dev/zero | tr '\0' 'b')")" '{request:{code:$c,runtime:"python"}}')"
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"50000\n"' "code larger than one IPC frame travels in the bundle"
hcurl "$KA" POST /execute '{"request":{"code":"print(open(\"data/in.txt\").read())","runtime":"python","files":{"data/in.txt":"file-content"}}}'
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"file-content\n"' "request.files are written under /sandbox"
hcurl "$KA" POST /execute '{"request":{"code":"import sys; print(sys.argv[1:])","runtime":"python","args":["a b","-x"]}}'
is "$CODE|$(json_get "$BODY_OUT" .stdout)" $'200|"[\'a b\', \'-x\']\\n"' "request.args are the program's arguments"
hcurl "$KA" POST /execute '{"request":{"code":"1","runtime":"python","args":"a b"}}'
is "$CODE|$(json_get "$BODY_OUT" .error)" '400|"request.args: expected array, got string"' "request.args not an array: 400"
hcurl "$KA" POST /execute '{"request":{"code":"open(\"o.txt\",\"w\").write(\"out!\")","runtime":"python","outputPaths":["o.txt","/sandbox/none"]}}'
is "$CODE|$(json_get "$BODY_OUT" .files)|$(json_get "$BODY_OUT" .fileErrors)" '200|{"o.txt":"b3V0IQ=="}|{"/sandbox/none":"not found"}' \
	"POST /execute outputPaths: files as base64, a missing one in fileErrors"
hcurl "$KA" POST /execute '{"request":{"code":"1","runtime":"python","outputPaths":["../etc/passwd"]}}'
is "$CODE|$(json_get "$BODY_OUT" .error)" '400|"request.outputPaths[0]: empty, '"'.'"' and '"'..'"' path components are not allowed"' \
	"outputPaths with ..: 400 naming the entry"
hcurl "$KA" POST /execute '{"request":{"code":"1","runtime":"python","outputPaths":["/etc/passwd"]}}'
is "$CODE|$(json_get "$BODY_OUT" .error)" '400|"request.outputPaths[0]: must be inside /sandbox"' "outputPaths outside /sandbox: 400"
}

# ---- /auth (the key store, through isol8d) ----------------------------------------------------------
case_auth_keys() {
hcurl "$KA" POST /auth/keys '{"name":"http-test","ttlMs":600000}'
is "$CODE|$(json_get "$BODY_OUT" '[.name, (.key | test("^isol8_[0-9a-f]{64}$"))]')" '201|["http-test",true]' "POST /auth/keys: 201 with the key"
DBK=$(json_get "$BODY_OUT" .key | tr -d '"')
DBID=$(json_get "$BODY_OUT" .id | tr -d '"')
hcurl "$DBK" POST /execute "$(exec_body 'print("store key")')"
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"store key\n"' "a key of the store runs code"
hcurl "$KA" GET /auth/keys
is "$CODE|$(json_get "$BODY_OUT" '[.keys[].name]')" '200|["http-test"]' "GET /auth/keys"
hcurl "$DBK" GET /auth/keys
is "$CODE" 403 "GET /auth/keys with a key of the store: 403"
hcurl "$KA" DELETE "/auth/keys/$DBID"
is "$CODE|$(json_get "$BODY_OUT" .ok)" '200|true' "DELETE /auth/keys/:id"
hcurl "$KA" POST /auth/login '{}'
is "$CODE|$(json_get "$BODY_OUT" '.token | test("^isol8_")')" '200|true' "POST /auth/login"
CODE=$(curl -sN -o "$T_TMP/sse-files" -w '%{http_code}' -X POST -H "Authorization: Bearer $KA" -H 'Content-Type: application/json' \
	--data-binary '{"request":{"code":"open(\"s.txt\",\"w\").write(\"sse\")","runtime":"python","outputPaths":["s.txt"]}}' "$U/execute/stream")
is "$CODE|$(grep -c '^data: ' "$T_TMP/sse-files")|$(sed -n 's/^data: //p' "$T_TMP/sse-files" | jq -c 'select(.type != "exit")')" \
	'200|2|{"type":"files","data":{"files":{"s.txt":"c3Nl"}},"phase":"code"}' "POST /execute/stream outputPaths: a files event before exit"
hcurl "$KA" POST /execute '{"request":{"code":"import sys; sys.stdout.buffer.write(b\"ok\\xff\\n\")","runtime":"python"}}'
is "$CODE|$(json_get "$BODY_OUT" .stdout)" $'200|"ok\xef\xbf\xbd\\n"' "invalid UTF-8 output becomes U+FFFD (valid JSON)"

}

# ---- /execute/stream -------------------------------------------------------------------------------
case_stream() {
cat >"$T_TMP/sse.py" <<'PY'
import json, os, sys, time, urllib.request
url, key, code = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, data=json.dumps({"request": {"code": code, "runtime": "python"}}).encode(),
                             headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
t0 = time.monotonic()
log = open(os.environ["API_LOG"], "a")
with urllib.request.urlopen(req) as r:
    for line in r:
        line = line.decode().rstrip("\n")
        if line.startswith("data: "):
            log.write(json.dumps({"kind": "sse", "body": line[6:]}) + "\n")
            ev = json.loads(line[6:])
            print("%.3f %s %s" % (time.monotonic() - t0, ev["type"], json.dumps(ev["data"])), flush=True)
PY
python3 "$T_TMP/sse.py" "$U/execute/stream" "$KA" $'import time\nprint("one", flush=True)\ntime.sleep(1)\nprint("two", flush=True)' >"$T_TMP/sse.out" 2>&1
stdout_all=$(awk '$2 == "stdout" {printf "%s", $3} END {print ""}' "$T_TMP/sse.out" | sed 's/""//g')
is "$stdout_all|$(awk 'END {print $2, $3}' "$T_TMP/sse.out")" '"one\ntwo\n"|exit "0"' "SSE: stdout events carry the output, then exit \"0\""
# Time of the first event holding "one" and of the first holding "two".
gap=$(awk '$2 == "stdout" && !a && /one/ {a = $1} $2 == "stdout" && !b && /two/ {b = $1} END {if (a && b) printf "%d", (b - a) * 1000; else print -1}' "$T_TMP/sse.out")
if [ "$gap" -ge 800 ]; then ok "SSE: events arrive as written (${gap} ms apart)"; else not_ok "SSE: events arrive as written" "gap ${gap} ms: $(cat "$T_TMP/sse.out")"; fi
hcurl "$KA" POST /execute/stream "$(exec_body 'import sys; sys.exit(5)')" -N
out=$BODY_OUT
like "$out" 'data: \{"type":"exit","data":"5","phase":"code","resourceUsage":\{"cpuPercent":[0-9.]+,[^}]*\}\}' "SSE: exit event carries the exit code as a string, phase code and the run's resourceUsage"
is "$(printf '%s\n' "$out" | sed -n 's/^data: //p' | jq -c 'select(.type == "exit") | .resourceUsage | [keys_unsorted, .networkBytesIn, .cpuTimeUs > 0, .peakMemoryBytes > 0]')" \
	'[["cpuPercent","memoryMB","peakMemoryMB","networkBytesIn","networkBytesOut","cpuTimeMs","cpuTimeUs","memoryBytes","peakMemoryBytes","peakMemoryScope"],0,true,true]' \
	"SSE: the exit event's resourceUsage has the buffered result's fields, measured"
hcurl "$KA" POST /execute/stream "$(exec_body 'import sys; sys.stdout.write("p\n")')" -N
out=$BODY_OUT
is "$(printf '%s\n' "$out" | sed -n 's/^data: //p' | jq -c '.resourceUsage |= (. != null)')" '{"type":"stdout","data":"p\n","phase":"code","resourceUsage":false}
{"type":"exit","data":"0","phase":"code","resourceUsage":true}' "SSE: every event of the run has phase code (the original's StreamEvent); only exit has resourceUsage"
setup_body=$(jq -cn '{request:{code:"import sys; sys.stdout.write(\"ran\\n\")",runtime:"python",
	setupScript:"echo preparing; echo warn >&2"}}')
hcurl "$KA" POST /execute/stream "$setup_body" -N
is "$(printf '%s\n' "$BODY_OUT" | sed -n 's/^data: //p' | jq -c 'if .resourceUsage then .resourceUsage = "..." else . end')" '{"type":"stdout","data":"preparing\n","phase":"setup"}
{"type":"stderr","data":"warn\n","phase":"setup"}
{"type":"exit","data":"0","phase":"setup"}
{"type":"stdout","data":"ran\n","phase":"code"}
{"type":"exit","data":"0","phase":"code","resourceUsage":"..."}' "SSE: a setup script's output has phase setup and its own exit event (no usage), then the code's"
hcurl "$KA" POST /execute/stream "$(jq -cn '{request:{code:"print(1)",runtime:"python",setupScript:"echo half; exit 3"}}')" -N
is "$(printf '%s\n' "$BODY_OUT" | sed -n 's/^data: //p' | jq -c .)" '{"type":"stdout","data":"half\n","phase":"setup"}
{"type":"error","data":"Setup script failed (exit code 3)"}' "SSE: a failing setup script: its output, then an error without phase"
hcurl "$KA" POST /execute "$setup_body"
is "$CODE|$(json_get "$BODY_OUT" '[.stdout, .stderr, .exitCode]')" '200|["preparing\nran\n","warn\n",0]' "/execute: setup output is part of stdout and stderr"
hcurl "$KA" POST /execute/stream "$(exec_body x cobol)"
is "$CODE" 400 "SSE: a bad request is a 400 before the stream starts"

}

# ---- sessions: ownership across two keys ----------------------------------------------------------
case_sessions() {
SID=http-own-$$
hcurl "$KA" POST /execute "$(jq -cn --arg s "$SID" '{request:{code:"open(\"/sandbox/note.txt\",\"w\").write(\"alpha\")\nprint(\"made\")",runtime:"python"},sessionId:$s}')"
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"made\n"' "key A creates session $SID"
hcurl "$KA" GET /sessions
is "$(json_get "$BODY_OUT" "[.sessions[].id] | index(\"$SID\") != null")" true "GET /sessions lists it for key A"
like "$(printf '%s' "$BODY_OUT" | jq -r ".sessions[] | select(.id == \"$SID\") | [.isActive, .lastAccessedAt, .runtime] | @tsv")" \
	'^false	20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z	python$' \
	"GET /sessions: the original's isActive and ISO lastAccessedAt, isol8d's fields alongside"
curl -s -o "$T_TMP/busy" -w '%{http_code}\t%{content_type}' -X POST -H "Authorization: Bearer $KA" \
	--data-binary "$(jq -cn --arg s "$SID" '{request:{code:"import time; time.sleep(2)",runtime:"python"},sessionId:$s}')" \
	"$U/execute" >"$T_TMP/busy.meta" &
busy=$!
sleep 1
hcurl "$KA" GET /sessions
is "$(json_get "$BODY_OUT" ".sessions[] | select(.id == \"$SID\") | .isActive")" true "GET /sessions: isActive while a run holds the session"
wait "$busy"
rec_answer POST /execute "$(cut -f1 "$T_TMP/busy.meta")" "$(cut -f2 "$T_TMP/busy.meta")" "$T_TMP/busy"
hcurl "$KB" GET /sessions
is "$CODE|$(json_get "$BODY_OUT" "[.sessions[].id] | index(\"$SID\") != null")" '200|false' "GET /sessions for key B does not list it"
hcurl "$KB" GET "/file?sessionId=$SID&path=note.txt"
is "$CODE" 404 "key B: GET /file of A's session is 404"
hcurl "$KB" POST /file "$(jq -cn --arg s "$SID" '{sessionId:$s,path:"x.txt",content:"aGk="}')"
is "$CODE" 404 "key B: POST /file into A's session is 404"
hcurl "$KB" DELETE "/session/$SID"
is "$CODE|$BODY_OUT" '200|{"ok":true}' "key B: DELETE /session/<A's id> is the idempotent 200 (removes nothing)"
hcurl "$KA" GET "/file?sessionId=$SID&path=note.txt"
is "$CODE|$(json_get "$BODY_OUT" .content)" '200|"YWxwaGE="' "key A: GET /file returns base64 content"
hcurl "$KA" POST /file "$(jq -cn --arg s "$SID" --arg c "$(printf 'up\nloaded' | base64)" '{sessionId:$s,path:"/sandbox/up.txt",content:$c}')"
is "$CODE|$BODY_OUT" '200|{"ok":true}' "key A: POST /file"
hcurl "$KA" POST /execute "$(jq -cn --arg s "$SID" '{request:{code:"print(open(\"up.txt\").read())",runtime:"python"},sessionId:$s}')"
is "$(json_get "$BODY_OUT" .stdout)" '"up\nloaded\n"' "uploaded file is visible to the next run"
hcurl "$KA" POST /file "$(jq -cn --arg s "$SID" '{sessionId:$s,path:"a.txt",content:"@@@"}')"
is "$CODE" 400 "POST /file with bad base64: 400"
hcurl "$KA" GET "/file?sessionId=$SID"
is "$CODE" 400 "GET /file without path: 400"
hcurl "$KA" DELETE "/session/$SID"
is "$CODE|$BODY_OUT" '200|{"ok":true}' "key A: DELETE /session/<id>"
hcurl "$KA" DELETE "/session/$SID"
is "$CODE|$BODY_OUT" '200|{"ok":true}' "deleting it again: 200 (idempotent, as the original's client expects)"
hcurl "$KA" GET "/file?sessionId=$SID&path=note.txt"
is "$CODE" 404 "and it is gone"
hcurl "$KA" DELETE "/session/bad%20id"
is "$CODE" 400 "DELETE /session/<invalid name>: still 400"
hcurl "$KB" POST /execute "$(jq -cn '{request:{code:"print(1)",runtime:"python"},sessionId:"http-b-clean"}')"
hcurl "$KB" POST /cleanup '{}'
is "$CODE|$(json_get "$BODY_OUT" .removed)" '200|1' "POST /cleanup stops the caller's sessions"

}

# ---- concurrency -----------------------------------------------------------------------------------
case_concurrency() {
pids=()
for i in $(seq 1 16); do
	curl -s -o "$T_TMP/c$i" -w '%{http_code}\t%{content_type}' -X POST -H "Authorization: Bearer $KA" \
		--data-binary "$(exec_body "print($i * 1000)")" "$U/execute" >"$T_TMP/c$i.meta" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the server and the daemon are our children too
wait_ok=0
for i in $(seq 1 16); do
	rec_answer POST /execute "$(cut -f1 "$T_TMP/c$i.meta")" "$(cut -f2 "$T_TMP/c$i.meta")" "$T_TMP/c$i"
	[ "$(cut -f1 "$T_TMP/c$i.meta")" = 200 ] && [ "$(jq -r .stdout "$T_TMP/c$i")" = "$((i * 1000))" ] && wait_ok=$((wait_ok + 1))
done
is "$wait_ok" 16 "16 concurrent /execute: all answered correctly"

}

# ---- /execute/ws (WebSocket) -----------------------------------------------------------------------
case_websocket() {
cat >"$T_TMP/ws.py" <<'PY'
# Minimal RFC 6455 client (stdlib only). argv: host port key script-name
import base64, hashlib, json, os, socket, ssl, struct, sys, time
host, port, key, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
cafile = os.environ.get("WS_CAFILE")

def connect(extra=""):
    s = socket.create_connection((host, port), timeout=30)
    if cafile:
        s = ssl.create_default_context(cafile=cafile).wrap_socket(s, server_hostname="localhost")
    k = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /execute/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n%s\r\n"
               % (host, k, key, extra)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            break
        head += c
    status = head.split(b" ")[1].decode() if head else "none"
    acc = base64.b64encode(hashlib.sha1((k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    return s, status, ("Sec-WebSocket-Accept: " + acc).encode() in head

def send(s, op, payload, fin=True, mask=True):
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        hdr = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack("!Q", n)
    if mask:
        m = os.urandom(4)
        payload = bytes(c ^ m[i % 4] for i, c in enumerate(payload))
        hdr += m
    s.sendall(hdr + payload)

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b

log = open(os.environ["API_LOG"], "a") if os.environ.get("API_LOG") else None

def recv(s):
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    p = recv_exact(s, n)
    if b0 & 0x0F == 1 and log:
        log.write(json.dumps({"kind": "ws", "body": p.decode()}) + "\n")
        log.flush()
    return b0 & 0x0F, p

def show(p):
    # An event as sent, its resourceUsage (exit only) replaced by the names of its fields.
    ev = json.loads(p)
    u = ev.pop("resourceUsage", None)
    print(json.dumps(ev, separators=(",", ":")) + ("" if u is None else " usage " + ",".join(u)))

def events(s, until=("exit",)):
    out = []
    while True:
        op, p = recv(s)
        if op == 8:
            out.append(("close", struct.unpack("!H", p[:2])[0] if len(p) >= 2 else 0))
            return out
        if op == 1:
            ev = json.loads(p)
            out.append((ev["type"], ev["data"]))
            if ev["type"] in until:
                return out

def execute(s, code, **kw):
    send(s, 1, json.dumps({"type": "execute", "request": dict(code=code, runtime="python", **kw)}))

if what == "print":
    s, st, ok = connect()
    print("handshake", st, ok)
    # Ping in the middle of a fragmented execute; one execution per connection, then the
    # server closes (the original's client waits for that close).
    msg = json.dumps({"type": "execute", "request": {"code": "import sys; sys.stdout.write('ws hello\\n')", "runtime": "python"}})
    send(s, 1, msg[:10], fin=False)
    send(s, 9, "pp")
    send(s, 0, msg[10:], fin=True)
    op, p = recv(s)
    print("pong", op == 10 and p == b"pp")
    while True:
        op, p = recv(s)
        if op == 8:
            print("close", struct.unpack("!H", p[:2])[0], p[2:].decode())
            break
        show(p)
    send(s, 8, struct.pack("!H", 1000))
    try:
        print("after", s.recv(10))
    except OSError as e:
        print("after", type(e).__name__)
elif what == "setup":
    s, st, ok = connect()
    send(s, 1, json.dumps({"type": "execute", "request": {"code": "import sys; sys.stdout.write('c\\n')",
                                                          "runtime": "python", "setupScript": "echo s"}}))
    while True:
        op, p = recv(s)
        if op == 8:
            break
        show(p)
elif what == "stdin":
    s, st, ok = connect()
    execute(s, "import sys; print(sys.stdin.read().upper())")
    send(s, 1, json.dumps({"type": "stdin", "data": "abc\n"}))
    send(s, 1, json.dumps({"type": "stdin", "data": "def", "eof": True}))
    ev = events(s)
    print("stdin", json.dumps("".join(d for t, d in ev if t == "stdout")), [d for t, d in ev if t == "exit"])
elif what == "live":
    # Stdin after the program has started: it answers each line as it comes.
    s, st, ok = connect()
    execute(s, "import sys\nprint('ready', flush=True)\nfor line in sys.stdin:\n    print(line.strip().upper(), flush=True)")
    # Python in the sandbox is unbuffered: a print may arrive as two events ("ready", "\n").
    def line():
        got = ""
        while not got.endswith("\n"):
            got += events(s, until=("stdout",))[-1][1]
        return [("stdout", got)]
    first = line()
    send(s, 1, json.dumps({"type": "stdin", "data": "abc\n"}))
    second = line()
    send(s, 1, json.dumps({"type": "stdin", "data": "def\n", "eof": True}))
    rest = events(s)
    print("live", json.dumps(first[-1][1]), json.dumps(second[-1][1]),
          json.dumps("".join(d for t, d in rest if t == "stdout")), [d for t, d in rest if t == "exit"])
elif what == "files":
    s, st, ok = connect()
    execute(s, "open('w.txt', 'w').write('ws')", outputPaths=["w.txt", "nope"])
    ev = events(s)
    print("files", json.dumps([d for t, d in ev if t == "files"], sort_keys=True), [d for t, d in ev if t == "exit"])
elif what == "sigint":
    s, st, ok = connect()
    execute(s, "import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
    t0 = time.monotonic()
    ev = events(s, until=("stdout",))
    send(s, 1, json.dumps({"type": "signal", "signal": "SIGINT"}))
    ev = events(s, until=("exit", "error"))
    print("sigint", [e for e in ev if e[0] in ("exit", "error")][-1], "fast" if time.monotonic() - t0 < 30 else "slow")
elif what == "errors":
    s, st, ok = connect()
    send(s, 1, json.dumps({"type": "bogus"}))
    print("badtype", events(s, until=("error",))[-1][0])
    send(s, 1, "{nope")
    print("badjson", [e[0] for e in events(s, until=())])
    s, st, ok = connect()
    send(s, 1, json.dumps({"type": "execute", "request": {"code": "x", "runtime": "cobol"}}))
    ev = events(s, until=())
    print("badruntime", ev[0][1][:15], ev[-1])
    s, st, ok = connect()
    send(s, 1, b"\xff\xfe")
    print("badutf8", events(s))
    s, st, ok = connect()
    send(s, 1, "hi", mask=False)
    print("unmasked", events(s))
    s, st, ok = connect()
    # Announce a 2 MB text frame: refused from its header, before the payload is sent.
    s.sendall(bytes([0x81, 0xFF]) + struct.pack("!Q", 2000000) + b"\x01\x02\x03\x04")
    try:
        print("big", events(s))
    except (EOFError, ConnectionResetError, BrokenPipeError):
        print("big", "reset")
    s, st, ok = connect()
    print("nokey-status", st) if False else None
elif what == "session":
    # The session's interpreter, as over POST: no live stdin for a session run without stdin
    # messages; the handshake's X-Isol8-Session is checked against the message's sessionId.
    def run(code, hdr="X-Isol8-Session: wss1\r\n"):
        s, st, ok = connect(hdr)
        send(s, 1, json.dumps({"type": "execute", "sessionId": "wss1", "request": {"code": code, "runtime": "python"}}))
        out = []
        while True:
            op, p = recv(s)
            if op == 8:
                return out
            ev = json.loads(p)
            ev.pop("resourceUsage", None)
            if out and ev["type"] == "stdout" == out[-1]["type"]:
                out[-1]["data"] += ev["data"]  # an unbuffered print may come as two chunks
            else:
                out.append(ev)
    run("v = 5")
    print("state", json.dumps(run("print(v)")))
    print("mismatch", json.dumps(run("print(v)", "X-Isol8-Session: other\r\n")))
    print("foreign-node", json.dumps(run("print(v)", "X-Isol8-Session: wss1\r\nX-Isol8-Node: node-elsewhere\r\n")))
    s, st, ok = connect()
    send(s, 1, json.dumps({"type": "execute", "request": {"code": "x", "runtime": "cobol"}}))
    op, p = recv(s)
    ev = json.loads(p)
    print("start-error", ev["type"], ev["status"], ev["data"][:24])
PY
ws() { python3 "$T_TMP/ws.py" 127.0.0.1 "$PORT" "$KA" "$1" 2>&1; }
out=$(ws print)
is "$out" 'handshake 101 True
pong True
{"type":"stdout","data":"ws hello\n","phase":"code"}
{"type":"exit","data":"0","phase":"code"} usage cpuPercent,memoryMB,peakMemoryMB,networkBytesIn,networkBytesOut,cpuTimeMs,cpuTimeUs,memoryBytes,peakMemoryBytes,peakMemoryScope
close 1000 Execution complete
after b'"'"''"'"'' "WS: ping during fragments, events with phase code, the exit event with the result's resourceUsage, then the server closes 1000 \"Execution complete\""
is "$(ws setup)" '{"type":"stdout","data":"s\n","phase":"setup"}
{"type":"exit","data":"0","phase":"setup"}
{"type":"stdout","data":"c\n","phase":"code"}
{"type":"exit","data":"0","phase":"code"} usage cpuPercent,memoryMB,peakMemoryMB,networkBytesIn,networkBytesOut,cpuTimeMs,cpuTimeUs,memoryBytes,peakMemoryBytes,peakMemoryScope' "WS: setup output has phase setup, then the code's events; only the code's exit carries resourceUsage"
is "$(ws stdin)" "stdin \"ABC\\nDEF\\n\" ['0']" "WS: stdin messages feed the program's stdin"
is "$(ws live)" "live \"ready\\n\" \"ABC\\n\" \"DEF\\n\" ['0']" "WS: live stdin after the start is read as it arrives"
is "$(ws files)" "files [{\"fileErrors\": {\"nope\": \"not found\"}, \"files\": {\"w.txt\": \"d3M=\"}}] ['0']" \
	"WS: outputPaths come as a files event before exit"
like "$(ws sigint)" "^sigint \\(('exit', '130')|('error', .*)\\) fast$" "WS: signal SIGINT interrupts a sleeping program"
is "$(ws errors)" $'badtype error\nbadjson [\'error\', \'close\']\nbadruntime Unknown runtime (\'close\', 1000)\nbadutf8 [(\'close\', 1007)]\nunmasked [(\'close\', 1002)]\nbig [(\'close\', 1009)]' \
	"WS: unknown type is an error event; bad JSON error + close; bad request error + close 1000; bad UTF-8 1007, unmasked 1002, oversize 1009"
is "$(ws session)" 'state [{"type": "stdout", "data": "5\n", "phase": "code"}, {"type": "exit", "data": "0", "phase": "code"}]
mismatch [{"type": "error", "data": "X-Isol8-Session '"'other'"' does not match the request'"'"'s session '"'wss1'"'", "status": 400}]
foreign-node [{"type": "error", "data": "session lives on another node", "status": 421}]
start-error error 400 Unknown runtime: "cobol"' \
	"WS: a session run keeps its interpreter; the handshake's X-Isol8-Session and X-Isol8-Node are checked (400, 421); a start error carries its status"
hcurl "$KA" DELETE /session/wss1
CODE=$(acurl "$T_TMP/body" "$U/execute/ws" -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' \
	-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
is "$CODE" 401 "WS: handshake without a key is 401"
CODE=$(acurl "$T_TMP/body" "$U/execute/ws" -H "Authorization: Bearer $KA")
is "$CODE" 426 "WS: plain GET /execute/ws is 426"
CODE=$(acurl "$T_TMP/body" "$U/execute/ws" -H "Authorization: Bearer $KA" -H 'Upgrade: websocket' -H 'Connection: Upgrade' \
	-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: short')
is "$CODE" 400 "WS: malformed Sec-WebSocket-Key is 400"

}

# ---- keepalive and a slow client -----------------------------------------------------------------
case_keepalive() {
# The server runs with --keepalive-ms 300 (hidden; 15 s by default).
hcurl "$KA" POST /execute/stream "$(exec_body $'import time\ntime.sleep(1.5)\nprint("woke")')" -N
out=$BODY_OUT
like "$out" $'^: keepalive\n\n' "SSE: a ': keepalive' comment while the program is silent"
like "$out" '"type":"exit","data":"0"' "SSE: the run still ends with its exit event"
cat >"$T_TMP/slow.py" <<'PY'
import json, socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
body = json.dumps({"request": {"code": "print('slow')", "runtime": "python"}}).encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(("POST /execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
           "Content-Length: %d\r\nConnection: close\r\n\r\n" % (key, len(body))).encode())
for i in range(len(body)):
    s.sendall(body[i:i + 1])
    time.sleep(4.0 / len(body))
r = b""
while True:
    c = s.recv(4096)
    if not c:
        break
    r += c
print(r.split(b" ")[1].decode(), json.loads(r.split(b"\r\n\r\n", 1)[1])["stdout"].strip())
PY
python3 "$T_TMP/slow.py" "$PORT" "$KA" >"$T_TMP/slow.out" 2>&1 &
slow=$!
sleep 0.5
t0=$(date +%s%N)
hcurl "$KA" POST /execute "$(exec_body 'print("quick")')"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"quick\n"' "a request while a slow client dribbles its body"
if proc_gone "$slow"; then not_ok "slow client still sending while the other request finished" "$(cat "$T_TMP/slow.out")"; else ok "slow client still sending while the other request finished (${ms} ms)"; fi
wait "$slow"
is "$(cat "$T_TMP/slow.out")" "200 slow" "the slow client's request completes too"

}

# ---- TLS: a second server with --tls-cert/--tls-key -------------------------------------------------
case_tls() {
if openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	-days 1 -keyout "$T_TMP/tls.key" -out "$T_TMP/tls.crt" >/dev/null 2>&1; then
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "$S" --grace 5 \
		--tls-cert "$T_TMP/tls.crt" --tls-key "$T_TMP/tls.key" >"$T_TMP/tls.log" 2>&1 </dev/null &
	TLS_PID=$!
	TPORT=""
	for ((i = 0; i < 100; i++)); do
		TPORT=$(sed -n 's/.*listening on https:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/tls.log")
		[ -n "$TPORT" ] && break
		sleep 0.1
	done
	is "$(curl -s --cacert "$T_TMP/tls.crt" "https://localhost:$TPORT/health" --resolve "localhost:$TPORT:127.0.0.1" |
		jq -c '[.status, .version, .state]')" '["ok","0.1.0","ready"]' "TLS: GET /health over HTTPS with the self-signed CA"
	out=$(curl -s --cacert "$T_TMP/tls.crt" --resolve "localhost:$TPORT:127.0.0.1" -X POST -H "Authorization: Bearer $KA" \
		--data-binary "$(exec_body 'print("over tls")')" "https://localhost:$TPORT/execute")
	is "$(json_get "$out" .stdout)" '"over tls\n"' "TLS: POST /execute over HTTPS"
	CODE=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TPORT/health")
	isnt "$CODE" 200 "TLS: plain HTTP to the TLS port does not get an answer"
	out=$(WS_CAFILE=$T_TMP/tls.crt python3 "$T_TMP/ws.py" localhost "$TPORT" "$KA" stdin 2>&1)
	is "$out" "stdin \"ABC\\nDEF\\n\" ['0']" "TLS: WebSocket over TLS (wss)"
	kill -TERM "$TLS_PID"
	wait "$TLS_PID"
	is "$?" 0 "TLS server stops cleanly"
	run_cap "$ISOL8" serve --port 0 --key "$KA" --socket "$S" --tls-cert "$T_TMP/tls.crt" </dev/null
	like "$RC|$ERR" '^2\|\[ERR\] --tls-cert and --tls-key go together' "--tls-cert without --tls-key is refused"
	run_cap "$ISOL8" serve --port 0 --key "$KA" --socket "$S" --tls-cert "$T_TMP/keys" --tls-key "$T_TMP/tls.key" </dev/null
	like "$RC|$ERR" 'is not a PEM file' "a --tls-cert that is not PEM is refused"
else
	ok "# SKIP openssl cannot make a test certificate"
fi

}

# ---- 429 when isol8d's queue is full (a second daemon: one run, one waiting) ------------------------
case_queue_full() {
# Its policy gives key "bravo" a tenant allowed only bash, for the 403 test.
jq '.tenants.bashonly = (.tenants.local | .match = {uids: [], gids: [], keys: ["bravo"]} | .runtimes = ["bash"])' \
	"${ISOL8_SRCDIR:-$here/../..}/policy/default-policy.json" >"$T_TMP/policy.json"
if daemon_start q --max-concurrent 1 --queue 1 --policy "$T_TMP/policy.json"; then
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "${D_SOCK[q]}" --grace 5 \
		>"$T_TMP/q.log" 2>&1 </dev/null &
	Q_PID=$!
	QPORT=""
	for ((i = 0; i < 100; i++)); do
		QPORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/q.log")
		[ -n "$QPORT" ] && break
		sleep 0.1
	done
	# One run holds the slot and one waits in the queue; a third is refused. (--queue 0 refuses
	# every run: each run passes through the queue, even when a slot is free.)
	curl -s -o "$T_TMP/q1" -X POST -H "Authorization: Bearer $KA" \
		--data-binary "$(exec_body $'import time\ntime.sleep(3)\nprint("first")')" "http://127.0.0.1:$QPORT/execute" &
	q1=$!
	sleep 0.5
	curl -s -o "$T_TMP/q3" -X POST -H "Authorization: Bearer $KA" \
		--data-binary "$(exec_body 'print("queued")')" "http://127.0.0.1:$QPORT/execute" &
	q3=$!
	sleep 0.5
	CODE=$(acurl "$T_TMP/q2" "http://127.0.0.1:$QPORT/execute" -X POST -H "Authorization: Bearer $KA" \
		--data-binary "$(exec_body 'print("second")')")
	is "$CODE|$(jq -r 'has("error")' "$T_TMP/q2")" '429|true' "isol8d queue full (--max-concurrent 1 --queue 1): 429 JSON error"
	wait "$q1" "$q3"
	rec_answer POST /execute 200 application/json "$T_TMP/q1"
	rec_answer POST /execute 200 application/json "$T_TMP/q3"
	is "$(jq -r .stdout "$T_TMP/q1")|$(jq -r .stdout "$T_TMP/q3")" 'first|queued' "the running and the queued run both complete"
	CODE=$(acurl "$T_TMP/q4" "http://127.0.0.1:$QPORT/execute" -X POST -H "Authorization: Bearer $KB" \
		--data-binary "$(exec_body 'print(1)')")
	is "$CODE|$(jq -r 'has("error")' "$T_TMP/q4")" '403|true' "policy refusal (runtime python not allowed for key bravo's tenant): 403"
	CODE=$(acurl "$T_TMP/q5" "http://127.0.0.1:$QPORT/execute" -X POST -H "Authorization: Bearer $KB" \
		--data-binary "$(exec_body 'echo via-bash' bash)")
	is "$CODE|$(jq -r .stdout "$T_TMP/q5")" '200|via-bash' "the same key may run what its tenant allows"
	kill -TERM "$Q_PID"
	wait "$Q_PID"
	daemon_stop q
fi

}

# ---- remote client ---------------------------------------------------------------------------------
case_remote_client() {
run_cap "$ISOL8" run --host "$U" --key "$KA" -e 'import sys; print("remote hi"); print("e", file=sys.stderr); sys.exit(3)' </dev/null
is "$RC|$OUT|$ERR" $'3|remote hi\n|e\n' "isol8 run --host: streams stdout/stderr, exits with the program's code"
ISOL8_API_KEY=$KA run_cap "$ISOL8" run --host "$U/" --no-stream -e 'print("buffered")' </dev/null
is "$RC|$OUT" $'0|buffered\n' "isol8 run --host --no-stream with ISOL8_API_KEY"
run_cap "$ISOL8" run --host "$U" --key "$KA" --json -e 'print(2)' </dev/null
is "$RC|$(json_get "$OUT" '[.stdout, .exitCode]')" '0|["2\n",0]' "isol8 run --host --json"
run_cap "$ISOL8" run --host "$U" --key nope-nope-nope -e 'print(1)' </dev/null
like "$RC|$OUT|$ERR" '^1\|\|\[ERR\] [^'$'\n'']*401[^'$'\n'']*'$'\n''$' "remote with a wrong key: one [ERR] line, exit 1"
run_cap "$ISOL8" run --host "ftp://x" --key "$KA" -e 'print(1)' </dev/null
like "$RC|$ERR" '^1\|\[ERR\] invalid --host URL' "remote with a bad URL: [ERR], exit 1"
run_cap "$ISOL8" run --host "http://127.0.0.1:1" --key "$KA" -e 'print(1)' </dev/null
like "$RC|$ERR" '^1\|\[ERR\] cannot reach' "remote with an unreachable server: [ERR], exit 1"
"$ISOL8" run --host "$U" --key "$KA" --session-id http-remote-s -e 'print(1)' </dev/null >/dev/null 2>&1
run_cap "$ISOL8" session list --host "$U" --key "$KA" --json
is "$(json_get "$OUT" '[.[].id] | index("http-remote-s") != null')" true "isol8 session list --host"
run_cap "$ISOL8" session stop http-remote-s --host "$U" --key "$KA"
is "$RC" 0 "isol8 session stop --host"

}

# ---- graceful shutdown: a running request still gets its result ------------------------------------
case_graceful_shutdown() {
curl -s -o "$T_TMP/late" -X POST -H "Authorization: Bearer $KA" \
	--data-binary "$(exec_body $'import time\ntime.sleep(2)\nprint("late")')" "$U/execute" &
late=$!
sleep 1
server_stop
wait "$late"
rec_answer POST /execute 200 application/json "$T_TMP/late"
is "$(jq -r .stdout "$T_TMP/late" 2>/dev/null)" late "SIGTERM while a request runs: it still completes"
is "$SRV_RC" 0 "isol8 serve exits 0 after SIGTERM"
like "$(cat "$SRV_LOG")" 'Server stopped' "isol8 serve logs its shutdown"

daemon_stop h

}

# ---- every answer above against docs/openapi.json ---------------------------------------------------
case_openapi() {
py=""
for p in /usr/bin/python3 python3; do "$p" -c 'import jsonschema' 2>/dev/null && { py=$p; break; }; done
if [ -z "$py" ]; then
	not_ok "OpenAPI check" "python3-jsonschema is missing (scripts/deps.sh installs it)"
else
	out=$("$py" "${ISOL8_SRCDIR:-$here/../..}/tests/lib/openapi_check.py" "${ISOL8_SRCDIR:-$here/../..}/docs/openapi.json" "$API_LOG" 2>&1)
	like "$out" '^checked [0-9]{2,} answers and [0-9]{2,} events$' "every answer and event matches docs/openapi.json"
fi
}

run_cases "$@"
