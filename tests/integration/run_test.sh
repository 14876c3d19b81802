#!/bin/bash
# `isol8 run` end to end (issue 5): a real isol8d, the real CLI, the real Docker engine and the
# isol8:<runtime> images. Exact outputs, exit codes and side effects. TAP, final
# "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup run_test
for rt in python node bun deno bash; do
	docker image inspect "isol8:$rt" >/dev/null 2>&1 || bail "image isol8:$rt missing (isol8 setup)"
done
daemon_start r || done_testing
S=${D_SOCK[r]}
run() { run_cap "$ISOL8" run --socket "$S" "$@"; }
W=$T_TMP/w
mkdir -p "$W"
# Inputs several cases read (each case can run alone: run_test.sh -k NAME).
printf 'abc\ndef\n' >"$W/stdin.txt"
printf 'print(6 * 7)\n' >"$W/code.txt"
printf 'import sys\nprint("py", sys.version_info[0])\n' >"$W/a.py"
printf 'export const x = 1;\nconsole.log("mjs", typeof require, typeof import.meta.url);\n' >"$W/a.mjs"
printf 'const fs = require("fs");\nconsole.log("cjs", typeof require, typeof fs.readFileSync);\n' >"$W/a.cjs"
printf 'const n: number = 21;\nconsole.log("ts", n * 2);\n' >"$W/a.ts"
printf 'const n: number = 20;\nconsole.log("mts", n + 1, typeof Deno);\n' >"$W/a.mts"
printf 'echo "sh ${BASH_VERSION%%%%.*}"\n' >"$W/a.sh"

# ---- runtimes: hello world ------------------------------------------------------------------------
case_runtimes() {
run -e 'print("hello from isol8")' </dev/null
is "$RC|$OUT|$ERR" $'0|hello from isol8\n|' "python: hello world (exit, stdout, empty stderr)"
run -r node -e 'console.log("hello from node")' </dev/null
is "$RC|$OUT|$ERR" $'0|hello from node\n|' "node: hello world"
run -r bun -e 'console.log("hello from bun")' </dev/null
is "$RC|$OUT|$ERR" $'0|hello from bun\n|' "bun: hello world"
run -r deno -e 'console.log("hello from deno")' </dev/null
is "$RC|$OUT|$ERR" $'0|hello from deno\n|' "deno: hello world"
run -r bash -e 'echo "hello from bash"' </dev/null
is "$RC|$OUT|$ERR" $'0|hello from bash\n|' "bash: hello world"

}

# ---- exit codes and streams ---------------------------------------------------------------------
case_exit_codes() {
run -e 'import sys; print("bye"); sys.exit(42)' </dev/null
is "$RC|$OUT" $'42|bye\n' "python sys.exit(42) -> exit 42, output kept"
run -r bash -e 'exit 7' </dev/null
is "$RC|$OUT|$ERR" "7||" "bash exit 7 -> exit 7"
run -e 'import sys; print("to-out"); print("to-err", file=sys.stderr)' </dev/null
is "$OUT" $'to-out\n' "stdout carries only stdout"
is "$ERR" $'to-err\n' "stderr carries only stderr"
run -r node -e 'console.error("e1"); console.log("o1")' </dev/null
is "$OUT|$ERR" $'o1\n|e1\n' "node: console.error goes to stderr"
run --cmd 'echo cmd-$((6 * 7)); echo cmd-err >&2' </dev/null
is "$RC|$OUT|$ERR" $'0|cmd-42\n|cmd-err\n' "--cmd runs bash -c"
run --cmd 'exit 3' </dev/null
is "$RC" 3 "--cmd exit status passed through"

}

# ---- stdin ------------------------------------------------------------------------------------------
case_stdin() {
run -e 'import sys; d = sys.stdin.read(); print(d.upper(), end=""); print(len(d))' <"$W/stdin.txt"
is "$RC|$OUT" $'0|ABC\nDEF\n8\n' "piped stdin reaches the program with -e"
run --stdin 'from-flag' -e 'import sys; print(repr(sys.stdin.read()))' </dev/null
is "$RC|$OUT" $'0|\'from-flag\'\n' "--stdin DATA reaches the program"
run -r bash -e 'read -r a; echo "got:$a"' <<<"line1"
is "$OUT" $'got:line1\n' "bash reads piped stdin"
run -e 'import sys; print(repr(sys.stdin.read()))' </dev/null
is "$RC|$OUT" $'0|\'\'\n' "no stdin: program sees EOF"
run <"$W/code.txt"
is "$RC|$OUT" $'0|42\n' "code from stdin (python by default)"

}

# ---- file arguments and extension detection --------------------------------------------------------
case_file_args() {
declare -A want_rt=([py]=python [mjs]=node [cjs]=node [ts]=bun [mts]=deno [sh]=bash)
declare -A want_out=([py]="py 3" [mjs]="mjs undefined string" [cjs]="cjs function function" [ts]="ts 42"
	[mts]="mts 21 object" [sh]="sh 5")
for ext in py mjs cjs ts mts sh; do
	run --json "$W/a.$ext" </dev/null
	is "$RC|$(json_get "$OUT" '[.runtime, .stdout, .exitCode]')" \
		"0|[\"${want_rt[$ext]}\",\"${want_out[$ext]}\\n\",0]" ".$ext file -> ${want_rt[$ext]}, exact output"
done
run -r python "$W/a.sh" </dev/null
like "$RC|$ERR" '^1[|]' "-r overrides the extension (.sh run as python fails to parse)"
like "$ERR" 'SyntaxError' "-r python on a shell file: python's SyntaxError"

}

# ---- usage errors and isol8's own failures: one [ERR] line ----------------------------------------
case_usage_errors() {
err_case() { # DESC WANT_RC WANT_ERR ARGS...
	local d=$1 rc=$2 msg=$3
	shift 3
	run "$@" </dev/null
	is "$RC|$OUT|$ERR" "$rc||$msg"$'\n' "$d"
}
err_case "unknown runtime" 2 '[ERR] Unknown runtime: "cobol". Available: python, node, bun, deno, bash, agent' -r cobol -e 'x'
err_case "empty code" 2 '[ERR] No code to run' -e ''
err_case "--cmd with --eval" 2 '[ERR] --cmd cannot be combined with file input, --eval, --url, --github, or --gist.' \
	-e 1 --cmd ls
err_case "--cmd with a file" 2 '[ERR] --cmd cannot be combined with file input, --eval, --url, --github, or --gist.' \
	--cmd ls "$W/a.py"
err_case "--eval with a file" 2 '[ERR] --eval cannot be combined with a file argument' -e 1 "$W/a.py"
err_case "missing file" 1 "[ERR] File not found: $W/nope.py" "$W/nope.py"
mkdir -p "$W/dir.py"
err_case "file is a directory" 1 "[ERR] cannot read $W/dir.py: Is a directory" "$W/dir.py"
printf 'print(1)\n' >"$W/secret.py"
chmod 0600 "$W/secret.py"
mkdir -p "$T_TMP/home-nobody" && chmod 0777 "$T_TMP/home-nobody"
run_cap setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$T_TMP/home-nobody" \
	"$ISOL8" run --socket "$S" "$W/secret.py" </dev/null
is "$RC|$OUT|$ERR" "1||[ERR] cannot open $W/secret.py: Permission denied"$'\n' "unreadable file (as nobody)"
err_case "bad --memory" 2 '[ERR] --memory: invalid size "lots": expected a number like 512m, 1g, 1.5g or 1024' \
	--memory lots -e 1
err_case "bad --net" 2 "[ERR] Invalid --net value 'foo': expected none, host or filtered" --net foo -e 1
err_case "workdir outside /sandbox" 2 '[ERR] Working directory must be inside /sandbox' --workdir /etc -e 1
err_case "workdir escaping /sandbox with .." 2 '[ERR] Working directory must be inside /sandbox' \
	--workdir /sandbox/../etc -e 1
err_case "workdir /sandboxes is not /sandbox" 2 '[ERR] Working directory must be inside /sandbox' \
	--workdir /sandboxes -e 1
# .txt is the agent's (original-reference.md §8.3); .dat is nobody's.
cp "$W/stdin.txt" "$W/notes.dat"
err_case "undetectable extension" 2 "[ERR] Cannot detect runtime for $W/notes.dat. Use --runtime to specify." \
	"$W/notes.dat"

}

# ---- timeout ---------------------------------------------------------------------------------------
case_timeout() {
run --timeout 1500 -e 'import time
print("before the sleep", flush=True)
time.sleep(20)
print("after")' </dev/null
is "$RC" 124 "timeout: exit 124"
is "$OUT" $'before the sleep\n' "timeout: output written before the kill is kept"
like "$ERR" '--- EXECUTION TIMED OUT ---' "timeout: stderr has the marker"
if [ "$ELAPSED_MS" -ge 1400 ] && [ "$ELAPSED_MS" -le 6000 ]; then
	ok "timeout: wall time $ELAPSED_MS ms within [1400, 6000]"
else
	not_ok "timeout: wall time $ELAPSED_MS ms within [1400, 6000]"
fi
run --timeout 1500 --json -r bash -e 'echo early; sleep 20' </dev/null
is "$RC|$(json_get "$OUT" '[.timedOut, .exitCode, .stdout, .oomKilled]')" '124|[true,124,"early\n",false]' \
	"timeout --json: timedOut true, exitCode 124, output kept"

}

# ---- OOM --------------------------------------------------------------------------------------------
case_oom() {
oom_code='a = []
while True:
    a.append(bytearray(16 * 1024 * 1024))'
run --memory 64m -e "$oom_code" </dev/null
is "$RC" 137 "OOM: exit 137"
like "$ERR" '[Mm]emory limit reached|MEMORY LIMIT REACHED' "OOM: a line says the memory limit was reached"
run --memory 64m --json -e "$oom_code" </dev/null
is "$RC|$(json_get "$OUT" '[.oomKilled, .exitCode, .timedOut, .limits.memoryLimit]')" '137|[true,137,false,"64m"]' \
	"OOM --json: oomKilled true"

}

# ---- output cap ------------------------------------------------------------------------------------
case_output_cap() {
marker='--- OUTPUT TRUNCATED (10001 bytes, limit: 1000) ---'
run --max-output 1000 -e 'print("x" * 10000)' </dev/null
prog=${OUT%%--- OUTPUT TRUNCATED*}
prog=${prog%$'\n'}; prog=${prog%$'\n'}
is "$RC" 0 "truncation: exit status of the program"
if [ "${#prog}" -le 1000 ] && [[ $prog =~ ^x*$ ]]; then
	ok "truncation: ${#prog} bytes of program output before the marker (<= 1000)"
else
	not_ok "truncation: at most 1000 bytes of program output before the marker" "got ${#prog} bytes"
fi
like "$OUT" "$(printf '%s' "$marker" | sed 's/[][().]/\\&/g')"$'\n?$' "truncation: marker ends stdout"
run --max-output 1000 --json -e 'print("x" * 10000)' </dev/null
is "$(json_get "$OUT" '[.truncated, .stdoutTruncated, .stderrTruncated]')" '[true,true,false]' \
	"truncation --json: truncated, stdoutTruncated"
jstdout=$(json_get "$OUT" '.stdout' | jq -r .)
jprog=${jstdout%%--- OUTPUT TRUNCATED*}
jprog=${jprog%$'\n'}; jprog=${jprog%$'\n'}
if [ "${#jprog}" -le 1000 ]; then ok "truncation --json: ${#jprog} bytes kept"; else
	not_ok "truncation --json: at most 1000 bytes kept" "got ${#jprog}"; fi
run --max-output 1000 --no-stream -r bash -e 'head -c 10000 /dev/zero | tr "\0" y; echo' </dev/null
prog=${OUT%%--- OUTPUT TRUNCATED*}
prog=${prog%$'\n'}; prog=${prog%$'\n'}
if [ "${#prog}" -le 1000 ] && [[ $OUT == *"$marker"* ]]; then ok "truncation --no-stream: capped, marker present"; else
	not_ok "truncation --no-stream: capped, marker present" "${#prog} bytes; out=[${OUT: -200}]"; fi

}

# ---- secrets and env ----------------------------------------------------------------------------------
case_secrets_env() {
secret_code='import os, sys, time
v = os.environ["API_TOKEN"]
sys.stdout.write("a:" + v[:5]); sys.stdout.flush(); time.sleep(0.3)
sys.stdout.write(v[5:] + ":b\n"); sys.stdout.flush()
sys.stderr.write(v[:3]); sys.stderr.flush(); time.sleep(0.3)
sys.stderr.write(v[3:] + "\n"); sys.stderr.flush()
print("len", len(v))'
run --secret API_TOKEN=sk-live-0123456789abcdef -e "$secret_code" </dev/null
is "$RC|$OUT|$ERR" $'0|a:***:b\nlen 24\n|***\n' "secret split across two flushed writes is masked as *** on both streams"
unlike "$OUT$ERR" 'sk-live|0123456789' "secret value never appears"
run --secret API_TOKEN=sk-live-0123456789abcdef --json -e "$secret_code" </dev/null
unlike "$OUT" 'sk-live|0123456789abcdef' "secret value absent from --json output"
run --env GREETING=hi-there --env EMPTY= -e 'import os; print(os.environ["GREETING"], repr(os.environ["EMPTY"]))' </dev/null
is "$RC|$OUT" $'0|hi-there \'\'\n' "--env K=V visible to the program"

}

# ---- sandbox hardening -------------------------------------------------------------------------------
case_hardening() {
# Under gVisor (ISOL8_TEST_ISOLATION=runsc) some answers are the Sentry's, documented in
# docs/isolation.md and docs/seccomp.md ("Under gVisor"): the read-only root refuses with
# EACCES, /proc/self/status has no CapAmb or NoNewPrivs line and shows Seccomp 0 (a docker
# exec'd program is not filtered; the Sentry is), /sys/class/net lists nothing.
local gv=""
[ "${ISOL8_TEST_ISOLATION:-}" = runsc ] && gv=1
run -r bash -e 'echo x > /usr/pwned; echo "rc=$?"' </dev/null
is "$OUT" $'rc=1\n' "writing to /usr fails"
if [ -n "$gv" ]; then
	like "$ERR" '/usr/pwned: Permission denied' "writing to /usr under gVisor: Permission denied (EACCES)"
else
	like "$ERR" 'Read-only file system' "writing to /usr: read-only file system"
fi
run -r bash -e 'cp /bin/true /tmp/t && chmod +x /tmp/t && /tmp/t; echo "rc=$?"' </dev/null
is "$OUT" $'rc=126\n' "/tmp is noexec: exec fails with 126"
like "$ERR" 'Permission denied' "/tmp is noexec: Permission denied"
run -r bash -e 'cp /bin/true /sandbox/t && /sandbox/t; echo "rc=$?"' </dev/null
is "$OUT" $'rc=0\n' "/sandbox allows exec"
run -r bash -e 'id -u; id -g' </dev/null
# root's tenant admin: a uid of its block of the default hostUidRange (1893224448..+1023), gid = uid
is "$RC|$(tr '\n' ' ' <<<"$OUT" | awk '{print ($1 == $2 && $1 >= 1893224448 && $1 < 1893225472)}')" '0|1' \
	"sandbox user is its own host uid:gid of the tenant's block, not root"
run -r bash -e 'grep -E "^Cap(Eff|Prm|Bnd|Amb):" /proc/self/status' </dev/null
if [ -n "$gv" ]; then
	is "$OUT" $'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n' \
		"capabilities all zero (gVisor shows no CapAmb)"
else
	is "$OUT" $'CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n' \
		"capabilities all zero"
fi
run -r bash -e 'grep -E "^NoNewPrivs|^Seccomp:" /proc/self/status' </dev/null
if [ -n "$gv" ]; then
	is "$OUT" $'Seccomp:\t0\n' "gVisor: no NoNewPrivs line, Seccomp 0 (the Sentry is filtered, not the program)"
else
	is "$OUT" $'NoNewPrivs:\t1\nSeccomp:\t2\n' "no_new_privs and a seccomp filter"
fi
net_code='import socket
s = socket.socket(); s.settimeout(3)
try:
    s.connect(("1.1.1.1", 80)); print("connected")
except OSError as e:
    print("fail")'
run --net none -e "$net_code" </dev/null
is "$RC|$OUT" $'0|fail\n' "--net none: 1.1.1.1:80 unreachable"
run -e "$net_code" </dev/null
is "$RC|$OUT" $'0|fail\n' "default network: 1.1.1.1:80 unreachable"
run -r bash -e 'ls /sys/class/net | sort | tr "\n" " "' </dev/null
if [ -n "$gv" ]; then
	is "$OUT" "" "--net none under gVisor: /sys/class/net lists nothing"
else
	is "$OUT" "lo " "--net none: only loopback"
fi

t0=$(date +%s)
run --pids-limit 32 --timeout 4000 -r bash -e 'f() { f | f & }; f; sleep 1; echo survived' </dev/null
t1=$(date +%s)
if [ $((t1 - t0)) -le 30 ]; then ok "fork bomb: the run ends ($((t1 - t0)) s, exit $RC)"; else
	not_ok "fork bomb: the run ends within 30 s" "took $((t1 - t0)) s"; fi
pids_code='import os, time
n = 0
for i in range(100):
    try:
        pid = os.fork()
    except OSError as e:
        print("stopped", e.errno)
        break
    if pid == 0:
        time.sleep(3)
        os._exit(0)
    n += 1
print(n)'
run --pids-limit 32 -e "$pids_code" </dev/null
forks=$(sed -n 2p <<<"$OUT")
if [ "${ISOL8_TEST_ISOLATION:-}" = runsc ]; then
	# gVisor's Sentry runs as host threads in the sandbox's pids cgroup: at the limit it dies
	# rather than fail the fork (google/gvisor#2490); the run says so.
	is "$RC|$(tail -n 1 <<<"${ERR%$'\n'}")" "1|[ERR] the program reached the sandbox's process limit (pids-limit 32) and gVisor stopped the sandbox (runsc cannot refuse a fork with EAGAIN, google/gvisor#2490)" \
		"pids-limit 32 under runsc: the sandbox stops and the run names the process limit"
elif [ "$RC" = 0 ] && [ "$(sed -n 1p <<<"$OUT")" = "stopped 11" ] && [ "$forks" -lt 32 ] 2>/dev/null; then
	ok "pids-limit 32: fork fails with EAGAIN after $forks children"
else
	not_ok "pids-limit 32 caps processes" "rc=$RC out=$OUT err=$ERR"
fi
check "host still forks after the fork bomb" bash -c 'for i in 1 2 3 4 5; do /bin/true & done; wait'
run -e 'print("still fine")' </dev/null
is "$RC|$OUT" $'0|still fine\n' "a run after the fork bomb works"

}

# ---- files and output options -----------------------------------------------------------------------
case_files_output() {
F=$W/files
mkdir -p "$F/sub/deeper" "$F/.git/objects" "$F/node_modules/pkg"
printf 'top\n' >"$F/a.txt"
printf 'mid\n' >"$F/sub/b.txt"
printf 'deep\n' >"$F/sub/deeper/c.txt"
printf '[core]\n' >"$F/.git/config"
printf 'x\n' >"$F/.git/objects/o"
printf 'module\n' >"$F/node_modules/pkg/index.js"
run --files "$F" -r bash -e 'cd /sandbox && find . -type f ! -name "main.*" | sort; cat sub/deeper/c.txt' </dev/null
is "$RC|$OUT" $'0|./a.txt\n./sub/b.txt\n./sub/deeper/c.txt\ndeep\n' "--files: nested tree injected, .git and node_modules skipped"
run --files "$F" -e 'print(open("sub/b.txt").read(), end="")' </dev/null
is "$RC|$OUT" $'0|mid\n' "--files: python reads injected files from /sandbox"
for wd in /sandbox/sub sub /sandbox/a/../sub; do
	run --files "$F" --workdir "$wd" --cmd 'pwd; cat b.txt' </dev/null
	is "$RC|$OUT" $'0|/sandbox/sub\nmid\n' "--workdir $wd resolves to /sandbox/sub"
done
run --files "$W/a.py" -e 1 </dev/null
is "$RC|${ERR%%:*}" "1|[ERR] --files path is not a directory" "--files on a plain file is refused"

run --out "$W/out.txt" -e 'import sys; print("to-file"); print("not-in-file", file=sys.stderr)' </dev/null
is "$RC|$OUT|${ERR%"[Run] Output written to $W/out.txt"$'\n'}" $'0|to-file\n|not-in-file\n' \
	"--out: stdout still streams (stderr: the program's, then at most a notice)"
is "$(cat "$W/out.txt"; printf x)" $'to-file\nx' "--out: file holds exactly stdout"

stamp_lines() { while IFS= read -r l; do echo "$(date +%s%N) $l"; done; }
"$ISOL8" run --socket "$S" -e 'import time
print("first", flush=True)
time.sleep(2)
print("second", flush=True)' </dev/null | stamp_lines >"$W/stream.txt"
gap=$(awk 'NR == 1 {a = $1} NR == 2 {b = $1} END {print int((b - a) / 1000000)}' "$W/stream.txt")
is "$(awk '{print $2}' "$W/stream.txt" | tr '\n' ' ')" "first second " "streaming: both lines"
if [ "$gap" -ge 1500 ]; then ok "streaming: first line arrives ${gap} ms before the second"; else
	not_ok "streaming: first line arrives well before the second" "gap ${gap} ms"; fi
"$ISOL8" run --socket "$S" --no-stream -e 'import time
print("first", flush=True)
time.sleep(2)
print("second", flush=True)' </dev/null | stamp_lines >"$W/stream.txt"
gap=$(awk 'NR == 1 {a = $1} NR == 2 {b = $1} END {print int((b - a) / 1000000)}' "$W/stream.txt")
is "$(awk '{print $2}' "$W/stream.txt" | tr '\n' ' ')" "first second " "--no-stream: both lines"
if [ "$gap" -lt 500 ]; then ok "--no-stream: printed at the end (gap ${gap} ms)"; else
	not_ok "--no-stream: printed at the end" "gap ${gap} ms"; fi
run --no-stream -e 'import sys; print("o"); print("e", file=sys.stderr); sys.exit(5)' </dev/null
is "$RC|$OUT|$ERR" $'5|o\n|e\n' "--no-stream: streams separated, exit code kept"

}

# ---- --json -----------------------------------------------------------------------------------------
case_json() {
run --json -e 'import sys; print("hi"); print("warn", file=sys.stderr)' </dev/null
is "$RC" 0 "--json: exit 0"
is "$(json_get "$OUT" '[.stdout, .stderr, .exitCode, .truncated, .runtime, .timedOut, .oomKilled,
	.stdoutTruncated, .stderrTruncated]')" '["hi\n","warn\n",0,false,"python",false,false,false,false]' \
	"--json: values of stdout, stderr, exitCode, truncated, runtime, timedOut, oomKilled, *Truncated"
for k in stdout stderr exitCode durationMs truncated executionId runtime timestamp containerId timedOut oomKilled \
	stdoutTruncated stderrTruncated limits; do
	is "$(json_get "$OUT" "has(\"$k\")")" true "--json: field $k present"
done
like "$(json_get "$OUT" '.durationMs')" '^[0-9]+$' "--json: durationMs is a number"
like "$(json_get "$OUT" '.containerId')" '^"[0-9a-f]{64}"$' "--json: containerId is a full id"
like "$(json_get "$OUT" '.executionId')" '^"[0-9a-f-]{36}"$' "--json: executionId is a uuid"
like "$(json_get "$OUT" '.timestamp')" '^"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"$' "--json: timestamp is ISO 8601 UTC"
is "$(json_get "$OUT" '.limits | [.memoryLimit, .pidsLimit, .timeoutMs, .network, .readonlyRootFs]')" \
	'["512m",64,30000,"none",true]' "--json: limits are the defaults"
run --json --memory 256m --pids-limit 50 --timeout 10000 -e 'pass' </dev/null
is "$(json_get "$OUT" '.limits | [.memoryLimit, .memoryBytes, .pidsLimit, .timeoutMs]')" '["256m",268435456,50,10000]' \
	"--json: limits reflect the flags"

}

# ---- no container left after ephemeral runs --------------------------------------------------------
case_ephemeral() {
# Two paths. Without the in-sandbox agent (isol8d --no-agent) a sandbox is used once and removed.
# With the agent (default) a sandbox is reset after the run and may serve the same tenant again,
# so what must hold is: the daemon's containers stay bounded, a run never sees a previous run's
# state, and nothing is left once the daemon stops (daemon_stop asserts that).
ephemeral_batch() { # SOCKET -> ids of the containers that ran code
	local args id sock=$1
	used=""
	for args in "-r bash -e 'echo 1'" "-r python -e 'print(2)'" "--timeout 1000 -e 'import time; time.sleep(5)'" \
		"-r bash -e 'exit 9'" "--max-output 10 -r bash -e 'seq 1000'" "-r node -e 'process.exit(3)'"; do
		eval "run_cap \"\$ISOL8\" run --socket \"\$sock\" --json $args" </dev/null
		id=$(json_get "$OUT" '.containerId' | tr -d '"')
		if [[ $id =~ ^[0-9a-f]{64}$ ]]; then used="$used $id"; else not_ok "ephemeral run ($args) reports its container" "$OUT$ERR"; fi
	done
}
daemon_start noagent --no-agent || done_testing
ephemeral_batch "${D_SOCK[noagent]}"
sleep 1
left=""
for id in $used; do [ -n "$(docker ps -aq --filter "id=$id")" ] && left="$left ${id:0:12}"; done
is "$(wc -w <<<"$used")|$left" "6|" "--no-agent: no container left after ephemeral runs (ok, timed out, failed, truncated)"
daemon_stop noagent

ephemeral_batch "$S"
sleep 1
n=$(daemon_containers r | wc -l)
if [ "$n" -le 16 ]; then ok "agent: the daemon's sandboxes stay bounded after ephemeral runs ($n)"; else
	not_ok "agent: the daemon's sandboxes stay bounded" "$n containers"; fi
# A file, a background process (escaped with setsid), a modified $HOME and a POSIX message queue
# left by one run are invisible to the next run of the same shape, which reuses the sandbox when
# it can (most recently reset first).
reused=0
for pair in 1 2 3 4 5 6; do
	# Three pairs always; more only while no reuse has been seen (a loaded machine may still be
	# resetting the sandbox when the check run starts; it then gets a fresh one, which is fine).
	[ "$pair" -gt 3 ] && [ "$reused" -ge 1 ] && break
	run --json -r bash -e 'echo leak > /sandbox/f; echo leak > /tmp/f; echo leak > "$HOME/.profile"
		(setsid sleep 300 &); python3 -c "import ctypes,os; ctypes.CDLL(\"librt.so.1\").mq_open(b\"/q\", os.O_CREAT|os.O_RDWR, 0o600, None)" 2>/dev/null
		echo done' </dev/null
	first=$(json_get "$OUT" '.containerId')
	is "$(json_get "$OUT" '.stdout')" '"done\n"' "reuse $pair: the first run leaves state behind"
	sleep "$([ "$pair" -gt 3 ] && echo 2 || echo 0.5)"
	run --json -r bash -e 'ls -A /sandbox /tmp /dev/mqueue; pgrep -u 100 -x sleep || echo no-sleep' </dev/null
	second=$(json_get "$OUT" '.containerId')
	is "$(json_get "$OUT" '.stdout')" '"/dev/mqueue:\n\n/sandbox:\n\n/tmp:\nno-sleep\n"' \
		"reuse $pair: the next run sees no file, process, \$HOME change or message queue of the previous one"
	[ "$first" = "$second" ] && reused=$((reused + 1))
	sleep "$([ "$pair" -gt 3 ] && echo 2 || echo 0.5)" # let the reset finish, so the next pair can reuse too
done
if [ "$reused" -ge 1 ]; then ok "reuse: $reused follow-up run(s) reused the reset sandbox"; else
	not_ok "reuse: at least one follow-up run reused the reset sandbox" "0 of 6"; fi
is "$(docker ps -aq --filter "label=org.isol8.instance=$S" --filter label=org.isol8.kind=persist)" "" \
	"no persist container from ephemeral runs"

}

# ---- standby interpreters (issue 6): pre-started python and node --------------------------------------
case_standby() {
# A warm run is served by an interpreter the agent started after the previous run's reset: its
# process is older than the request. Each check retries a few times, since a loaded machine may
# hand a run a sandbox whose standby is still starting or a fresh one (then it is simply not warm).
# The interpreter's start in wall-clock seconds (uptime minus its age, 10 ms ticks) against T0,
# the moment the test asked: "old" when it started more than 0.1 s before the request (a
# standby), "new" when it started for the request. Ages, not durations: a loaded machine that
# starts interpreters slowly cannot turn a fresh one into an "old" one.
AGE_PY='import os,time; up=float(open("/proc/uptime").read().split()[0]); st=int(open("/proc/self/stat").read().rsplit(")",1)[1].split()[19])/os.sysconf("SC_CLK_TCK"); print("old" if time.time()-(up-st) < float(os.environ["T0"])-0.1 else "new")'
AGE_JS='console.log(Date.now()/1000 - process.uptime() < Number(process.env.T0) - 0.1 ? "old" : "new"'
warm_py=0
for try in 1 2 3 4 5; do
	run -e 'import os; open("/sandbox/f","w").write("x"); open("/tmp/f","w").write("x"); open(os.environ["HOME"]+"/.profile","w").write("x"); os.system("setsid sleep 300 &"); print("left")' </dev/null
	is "$RC|$OUT" $'0|left\n' "standby python $try: a run leaves a file, a background process and \$HOME behind"
	sleep 1
	run --env "T0=$(date +%s.%N)" -e "$AGE_PY"$'\nimport os,sys\nprint(sorted(os.listdir("/sandbox")), sorted(os.listdir("/tmp")), [p for p in os.listdir("/proc") if p.isdigit() and open("/proc/"+p+"/comm").read().strip()=="sleep"])\nprint(sys.argv, os.getcwd(), __name__)' </dev/null
	like "$RC|$OUT|$ERR" $'^0[|](old|new)\n\\[\\] \\[\\] \\[\\]\n\\[.-c.\\] /sandbox __main__\n[|]$' \
		"standby python $try: the next run sees none of it; python -c semantics"
	[[ $OUT == old* ]] && { warm_py=1; break; }
done
is "$warm_py" 1 "standby python: a run was served by a pre-started interpreter"
run -e 'raise ValueError("boom")' </dev/null
is "$RC|$OUT|$ERR" $'1||Traceback (most recent call last):\n  File "<string>", line 1, in <module>\nValueError: boom\n' \
	"standby python: an uncaught exception prints as python -c does, exit 1"
run -e 'print(' </dev/null
like "$RC|$ERR" $'^1[|]  File "<string>", line 1\n.*SyntaxError' "standby python: syntax error as python -c reports it"
run -e 'import sys; print(sys.stdin.read().upper(), end="")' <<<"piped input"
is "$RC|$OUT" $'0|PIPED INPUT\n' "standby python: stdin reaches the program"
run --env GREETING=hi --env HOME=/sandbox -e 'import os; print(os.environ["GREETING"], os.environ["HOME"], os.environ["LANG"])' </dev/null
is "$RC|$OUT" $'0|hi /sandbox C.UTF-8\n' "standby python: request env over the image's env"
sleep 0.5 # any standby is older than the request by then
run --env "T0=$(date +%s.%N)" --env PYTHONPATH=/sandbox/lib -e "$AGE_PY"$'\nimport sys; print(sys.path[1])' </dev/null
is "$RC|$OUT" $'0|new\n/sandbox/lib\n' "a start-up variable (PYTHONPATH) makes the run start its own interpreter"
run --timeout 700 -e 'import time; print("start", flush=True); time.sleep(5)' </dev/null
like "$RC|$OUT" $'^124[|]start\n' "standby python: the timeout kills it (exit 124, output kept)"
warm_node=0
for try in 1 2 3 4 5; do
	sleep 1
	run -r node --env "T0=$(date +%s.%N)" -e "$AGE_JS"', process.argv.length, process.cwd()); process.exitCode = 3' </dev/null
	like "$RC|$OUT|$ERR" $'^3[|](old|new) 2 /sandbox\n[|]$' "standby node $try: exit code and output as node FILE"
	[[ $OUT == old* ]] && { warm_node=1; break; }
done
is "$warm_node" 1 "standby node: a run was served by a pre-started node"
run -r node -e 'const { readFileSync } = await import("node:fs"); throw new Error("boom " + typeof readFileSync)' </dev/null
like "$RC|$ERR" $'^1[|].*Error: boom function' "standby node: ESM with top-level await; uncaught error exits 1"
sleep 0.5
run -r node --env "T0=$(date +%s.%N)" --env NODE_OPTIONS=--no-deprecation -e "$AGE_JS)" </dev/null
is "$RC|$OUT" $'0|new\n' "NODE_OPTIONS makes the node run start its own interpreter"

}

# ---- persistent sessions ---------------------------------------------------------------------------
case_sessions() {
run --session-id s1 -e 'x = 40' </dev/null
is "$RC|$OUT|$ERR" "0||" "python session: x = 40"
run --session-id s1 -e 'print(x + 2)' </dev/null
is "$RC|$OUT|$ERR" $'0|42\n|' "python session: print(x + 2) prints 42"
run --session-id s1 -e 'open("/sandbox/keep.txt", "w").write("kept")' </dev/null
run --session-id s1 -e 'import os; print(open("/sandbox/keep.txt").read(), os.getpid() > 0)' </dev/null
is "$RC|$OUT" $'0|kept True\n' "python session: files survive between runs"
run --session-id s1 -r node -e 'console.log(1)' </dev/null
is "$RC|$OUT" "2|" "session bound to python: switching to node is refused (exit 2)"
like "$ERR" $'^\\[ERR\\] [^\n]*session[^\n]*python[^\n]*node[^\n]*\n$' "switching runtime: one clear [ERR] line"
run --session-id n1 -r node -e 'globalThis.x = 40; let y = 1' </dev/null
is "$RC|$ERR" "0|" "node session: globalThis.x = 40; let y = 1"
run --session-id n1 -r node -e 'console.log(x + 2, y)' </dev/null
is "$RC|$OUT|$ERR" $'0|42 1\n|' "node session: console.log(x + 2, y) prints 42 1"
run --session-id b1 -r bash -e 'mkdir -p /sandbox/work && cd /sandbox/work; export FOO=bar; echo data > f.txt' </dev/null
run --session-id b1 -r bash -e 'pwd; echo "$FOO"; cat f.txt' </dev/null
is "$RC|$OUT" $'0|/sandbox/work\nbar\ndata\n' "bash session: cwd, exported variables and files kept"
run_cap "$ISOL8" session list --socket "$S" --json </dev/null
is "$RC|$(json_get "$OUT" '[.[] | .id // .name // .sessionId] | sort')" '0|["b1","n1","s1"]' "session list --json shows s1, n1, b1"
is "$(json_get "$OUT" '[.[] | select((.id // .name // .sessionId) == "s1") | .runtime][0]')" '"python"' \
	"session list: s1 is python"
run_cap "$ISOL8" session list --socket "$S" </dev/null
like "$OUT" $'\n  s1 +python ' "session list (text) shows s1 and its runtime"
s1_ids=$(docker ps -aq --filter "label=org.isol8.instance=$S" --filter label=org.isol8.session=s1)
is "$(wc -w <<<"$s1_ids")" 1 "session s1 has exactly one container"
run_cap "$ISOL8" session stop --socket "$S" s1 </dev/null
is "$RC|$OUT$ERR" $'0|[OK] Session "s1" destroyed.\n' "session stop s1"
is "$(docker ps -aq --filter "label=org.isol8.instance=$S" --filter label=org.isol8.session=s1)" "" \
	"session stop s1 removes its container"
run_cap "$ISOL8" session list --socket "$S" --json </dev/null
is "$(json_get "$OUT" '[.[] | .id // .name // .sessionId] | sort')" '["b1","n1"]' "s1 gone from session list"
run --session-id s1 -e 'print(x)' </dev/null
like "$RC|$ERR" "^1[|].*NameError" "a new s1 starts with fresh state"
for s in s1 n1 b1; do "$ISOL8" session stop --socket "$S" "$s" >/dev/null 2>&1; done
run_cap "$ISOL8" session stop --socket "$S" no-such-session </dev/null
is "$RC" 1 "session stop of an unknown session fails"
like "$ERR" '^\[ERR\] ' "session stop unknown: [ERR] line"
is "$(docker ps -aq --filter "label=org.isol8.instance=$S" --filter label=org.isol8.kind=session)" "" \
	"no session container left after stopping all sessions"

}

# ---- --persist ----------------------------------------------------------------------------------------
case_persist() {
run --persist -e 'open("/sandbox/p.txt", "w").write("p"); print("persisted")' </dev/null
is "$RC|$OUT" $'0|persisted\n' "--persist: run output"
pid_line=$(grep -o 'Container kept: [0-9a-f]*' <<<"$ERR")
cid=${pid_line#Container kept: }
like "$cid" '^[0-9a-f]{12,64}$' "--persist prints the container id"
if [ -n "$cid" ]; then
	is "$(docker ps -q --no-trunc --filter "id=$cid" | wc -l)" 1 "--persist: docker ps shows the container running"
	is "$(docker exec "$cid" cat /sandbox/p.txt 2>&1)" p "--persist: container keeps the run's files"
	is "$(docker inspect -f '{{index .Config.Labels "org.isol8.instance"}}' "$cid")" "$S" \
		"--persist: container carries the daemon's instance label"
	docker rm -f "$cid" >/dev/null 2>&1
fi

}

teardown() { daemon_stop r; }
run_cases "$@"
