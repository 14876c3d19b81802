#!/bin/bash
# `isol8 serve` and the remote client end to end (issue 8): a real isol8d on a private socket,
# `isol8 serve` as root on 127.0.0.1 with a free port, curl as the HTTP client, the real Docker
# engine. TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup http_test
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

setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --max-body 64k --socket "$S" --grace 20 \
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

# hcurl KEY METHOD PATH [BODY]: sets BODY_OUT and CODE
hcurl() {
	local key=$1 method=$2 path=$3 auth=()
	[ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
	if [ $# -ge 4 ]; then
		CODE=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -X "$method" "${auth[@]}" \
			-H 'Content-Type: application/json' --data-binary "$4" "$U$path")
	else
		CODE=$(curl -s -o "$T_TMP/body" -w '%{http_code}' -X "$method" "${auth[@]}" "$U$path")
	fi
	BODY_OUT=$(cat "$T_TMP/body")
}
exec_body() { # CODE [RUNTIME] -> envelope JSON
	jq -cn --arg c "$1" --arg r "${2:-python}" '{request:{code:$c, runtime:$r}}'
}

# ---- health and authentication ---------------------------------------------------------------------
hcurl "" GET /health
is "$CODE|$BODY_OUT" '200|{"status":"ok","version":"0.1.0"}' "GET /health needs no key"
hcurl "" POST /execute "$(exec_body 'print(1)')"
is "$CODE|$(json_get "$BODY_OUT" .error)" '401|"Missing Authorization header"' "no key: 401 JSON"
hcurl "wrong-key-0123456789" POST /execute "$(exec_body 'print(1)')"
is "$CODE|$(json_get "$BODY_OUT" .error)" '401|"Invalid API key"' "wrong key: 401 JSON"
hcurl "$KA" GET /nowhere
is "$CODE" 404 "unknown route: 404"
hcurl "$KA" GET /execute
is "$CODE" 405 "wrong method: 405"

# ---- /execute ----------------------------------------------------------------------------------------
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
CODE=$(head -c 70000 /dev/zero | tr '\0' 'a' | curl -s -o "$T_TMP/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KA" \
	-H 'Transfer-Encoding: chunked' --data-binary @- "$U/execute")
is "$CODE" 413 "chunked body over the limit (no Content-Length): 413"
hcurl "$KA" POST /execute "$(jq -cn --arg c "$(printf 'print(len("""%s"""))' "$(head -c 50000 /dev/zero | tr '\0' 'b')")" '{request:{code:$c,runtime:"python"}}')"
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"50000\n"' "code larger than one IPC frame travels in the bundle"
hcurl "$KA" POST /execute '{"request":{"code":"print(open(\"data/in.txt\").read())","runtime":"python","files":{"data/in.txt":"file-content"}}}'
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"file-content\n"' "request.files are written under /sandbox"
hcurl "$KA" POST /execute '{"request":{"code":"import sys; sys.stdout.buffer.write(b\"ok\\xff\\n\")","runtime":"python"}}'
is "$CODE|$(json_get "$BODY_OUT" .stdout)" $'200|"ok\xef\xbf\xbd\\n"' "invalid UTF-8 output becomes U+FFFD (valid JSON)"

# ---- /execute/stream -------------------------------------------------------------------------------
cat >"$T_TMP/sse.py" <<'PY'
import json, sys, time, urllib.request
url, key, code = sys.argv[1], sys.argv[2], sys.argv[3]
req = urllib.request.Request(url, data=json.dumps({"request": {"code": code, "runtime": "python"}}).encode(),
                             headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
t0 = time.monotonic()
with urllib.request.urlopen(req) as r:
    for line in r:
        line = line.decode().rstrip("\n")
        if line.startswith("data: "):
            ev = json.loads(line[6:])
            print("%.3f %s %s" % (time.monotonic() - t0, ev["type"], json.dumps(ev["data"])), flush=True)
PY
python3 "$T_TMP/sse.py" "$U/execute/stream" "$KA" $'import time\nprint("one", flush=True)\ntime.sleep(1)\nprint("two", flush=True)' >"$T_TMP/sse.out" 2>&1
stdout_all=$(awk '$2 == "stdout" {printf "%s", $3} END {print ""}' "$T_TMP/sse.out" | sed 's/""//g')
is "$stdout_all|$(awk 'END {print $2, $3}' "$T_TMP/sse.out")" '"one\ntwo\n"|exit "0"' "SSE: stdout events carry the output, then exit \"0\""
# Time of the first event holding "one" and of the first holding "two".
gap=$(awk '$2 == "stdout" && !a && /one/ {a = $1} $2 == "stdout" && !b && /two/ {b = $1} END {if (a && b) printf "%d", (b - a) * 1000; else print -1}' "$T_TMP/sse.out")
if [ "$gap" -ge 800 ]; then ok "SSE: events arrive as written (${gap} ms apart)"; else not_ok "SSE: events arrive as written" "gap ${gap} ms: $(cat "$T_TMP/sse.out")"; fi
out=$(curl -s -N -X POST -H "Authorization: Bearer $KA" --data-binary "$(exec_body 'import sys; sys.exit(5)')" "$U/execute/stream")
like "$out" 'data: \{"type":"exit","data":"5"\}' "SSE: exit event carries the exit code as a string"
hcurl "$KA" POST /execute/stream "$(exec_body x cobol)"
is "$CODE" 400 "SSE: a bad request is a 400 before the stream starts"

# ---- sessions: ownership across two keys ----------------------------------------------------------
SID=http-own-$$
hcurl "$KA" POST /execute "$(jq -cn --arg s "$SID" '{request:{code:"open(\"/sandbox/note.txt\",\"w\").write(\"alpha\")\nprint(\"made\")",runtime:"python"},sessionId:$s}')"
is "$CODE|$(json_get "$BODY_OUT" .stdout)" '200|"made\n"' "key A creates session $SID"
hcurl "$KA" GET /sessions
is "$(json_get "$BODY_OUT" "[.sessions[].id] | index(\"$SID\") != null")" true "GET /sessions lists it for key A"
hcurl "$KB" GET /sessions
is "$CODE|$(json_get "$BODY_OUT" "[.sessions[].id] | index(\"$SID\") != null")" '200|false' "GET /sessions for key B does not list it"
hcurl "$KB" GET "/file?sessionId=$SID&path=note.txt"
is "$CODE" 404 "key B: GET /file of A's session is 404"
hcurl "$KB" POST /file "$(jq -cn --arg s "$SID" '{sessionId:$s,path:"x.txt",content:"aGk="}')"
is "$CODE" 404 "key B: POST /file into A's session is 404"
hcurl "$KB" DELETE "/session/$SID"
is "$CODE" 404 "key B: DELETE /session/<A's id> is 404"
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
is "$CODE" 404 "deleting it again: 404"
hcurl "$KB" POST /execute "$(jq -cn '{request:{code:"print(1)",runtime:"python"},sessionId:"http-b-clean"}')"
hcurl "$KB" POST /cleanup '{}'
is "$CODE|$(json_get "$BODY_OUT" .removed)" '200|1' "POST /cleanup stops the caller's sessions"

# ---- concurrency -----------------------------------------------------------------------------------
pids=()
for i in $(seq 1 16); do
	curl -s -o "$T_TMP/c$i" -w '%{http_code}' -X POST -H "Authorization: Bearer $KA" \
		--data-binary "$(exec_body "print($i * 1000)")" "$U/execute" >"$T_TMP/c$i.code" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the server and the daemon are our children too
wait_ok=0
for i in $(seq 1 16); do
	[ "$(cat "$T_TMP/c$i.code")" = 200 ] && [ "$(jq -r .stdout "$T_TMP/c$i")" = "$((i * 1000))" ] && wait_ok=$((wait_ok + 1))
done
is "$wait_ok" 16 "16 concurrent /execute: all answered correctly"

# ---- remote client ---------------------------------------------------------------------------------
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

# ---- graceful shutdown: a running request still gets its result ------------------------------------
curl -s -o "$T_TMP/late" -X POST -H "Authorization: Bearer $KA" \
	--data-binary "$(exec_body $'import time\ntime.sleep(2)\nprint("late")')" "$U/execute" &
late=$!
sleep 1
server_stop
wait "$late"
is "$(jq -r .stdout "$T_TMP/late" 2>/dev/null)" late "SIGTERM while a request runs: it still completes"
is "$SRV_RC" 0 "isol8 serve exits 0 after SIGTERM"
like "$(cat "$SRV_LOG")" 'Server stopped' "isol8 serve logs its shutdown"

daemon_stop h
done_testing
