#!/bin/bash
# The program's own arguments (issue 15, item 6): `isol8 run FILE a b`, `-e CODE -- a b` and
# --cmd in every runtime, in sessions and through a pre-started interpreter. A real isol8d, the CLI, the engine and the isol8:<runtime> images. TAP, final
# "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup run_args_test
for rt in python node bun deno bash; do
	docker image inspect "isol8:$rt" >/dev/null 2>&1 || bail "image isol8:$rt missing (isol8 setup)"
done
daemon_start r || done_testing
S=${D_SOCK[r]}
run() { run_cap "$ISOL8" run --socket "$S" "$@"; }
W=$T_TMP/w
mkdir -p "$W"

PY_ARGV='import sys, json; print(json.dumps(sys.argv))'

# ---- arguments -------------------------------------------------------------------------------------
case_python_file_args() {
	printf '%s\n' "$PY_ARGV" >"$W/argv.py"
	run "$W/argv.py" x 'y z' '' '$HOME' </dev/null
	is "$RC|$OUT|$ERR" $'0|["/sandbox/main.py", "x", "y z", "", "$HOME"]\n|' \
		"python FILE a b: sys.argv is the file then the arguments, unchanged (no shell)"
	run "$W/argv.py" -- -v --json </dev/null
	is "$RC|$OUT" $'0|["/sandbox/main.py", "-v", "--json"]\n' "python FILE -- -v --json: options after -- are the program's"
	run "$W/argv.py" --json a </dev/null
	is "$RC|$(json_get "$OUT" .exitCode)|$(json_get "$OUT" .stdout)" \
		'0|0|"[\"/sandbox/main.py\", \"a\"]\n"' "python FILE --json a: --json before -- is isol8's, a is the program's"
}

case_python_eval_args() {
	run -e "$PY_ARGV" -- a b </dev/null
	is "$RC|$OUT" $'0|["/sandbox/main.py", "a", "b"]\n' "python -e CODE -- a b: sys.argv[1:] are the arguments"
	run -e "$PY_ARGV" </dev/null
	is "$RC|$OUT" $'0|["-c"]\n' "python -e without arguments: still python -c"
}

case_node_bun_deno_args() {
	run -r node -e 'console.log(JSON.stringify(process.argv.slice(2)))' -- a 'b c' </dev/null
	is "$RC|$OUT|$ERR" $'0|["a","b c"]\n|' "node -e CODE -- a 'b c': process.argv.slice(2)"
	printf 'console.log(JSON.stringify(process.argv.slice(1)))\n' >"$W/argv.cjs"
	run "$W/argv.cjs" one </dev/null
	is "$RC|$OUT|$ERR" $'0|["/sandbox/main.cjs","one"]\n|' "node FILE.cjs one: process.argv[1] is the file"
	run -r bun -e 'console.log(JSON.stringify(process.argv.slice(2)))' -- a b </dev/null
	is "$RC|$OUT|$ERR" $'0|["a","b"]\n|' "bun -e CODE -- a b: process.argv.slice(2)"
	run -r deno -e 'console.log(JSON.stringify(Deno.args))' -- a b </dev/null
	is "$RC|$OUT|$ERR" $'0|["a","b"]\n|' "deno -e CODE -- a b: Deno.args"
}

case_bash_args() {
	printf 'echo "$#:$1:$2"\n' >"$W/argv.sh"
	run "$W/argv.sh" 'a b' c </dev/null
	is "$RC|$OUT|$ERR" $'0|2:a b:c\n|' "bash FILE 'a b' c: \$# \$1 \$2"
	run -r bash -e 'echo "$#:$1:$2"' -- x y </dev/null
	is "$RC|$OUT|$ERR" $'0|2:x:y\n|' "bash -e CODE -- x y: the arguments start at \$1"
	run --cmd 'echo "$0|$1|$#"' -- first second </dev/null
	is "$RC|$OUT|$ERR" $'0|bash|first|2\n|' "--cmd CMD -- a b: \$0 is bash, the arguments start at \$1"
}

case_standby_serves_args() {
	local try warm=0
	# A pre-started interpreter is older than the request; retry like run_test's standby checks.
	for try in 1 2 3 4 5; do
		sleep 1
		run --json -e "$PY_ARGV" -- a b </dev/null
		is "$RC|$(json_get "$OUT" .stdout)" '0|"[\"/sandbox/main.py\", \"a\", \"b\"]\n"' \
			"python with arguments $try: sys.argv as without a standby"
		[ "$(json_get "$OUT" .timings.standby)" = true ] && { warm=1; break; }
	done
	is "$warm" 1 "python with arguments: a run was served by a pre-started interpreter"
	warm=0
	for try in 1 2 3 4 5; do
		sleep 1
		run --json -r node -e 'console.log(JSON.stringify(process.argv.slice(2)))' -- n1 n2 </dev/null
		is "$RC|$(json_get "$OUT" .stdout)" '0|"[\"n1\",\"n2\"]\n"' "node with arguments $try: process.argv as without a standby"
		[ "$(json_get "$OUT" .timings.standby)" = true ] && { warm=1; break; }
	done
	is "$warm" 1 "node with arguments: a run was served by a pre-started node"
}

case_session_args() {
	run --session-id argsess -e 'x = 1' </dev/null
	run --session-id argsess -e 'import sys; open("/sandbox/argv", "w").write(repr(sys.argv[1:])); print(sys.argv[1:])' -- s1 </dev/null
	is "$RC|$OUT" $'0|[\'s1\']\n' "session run with arguments: sys.argv[1:] (a program of its own, like a file)"
	run --session-id argsess -e 'print(x, open("/sandbox/argv").read())' </dev/null
	is "$RC|$OUT" $'0|1 [\'s1\']\n' "the session keeps its interpreter's state and its files around a run with arguments"
	"$ISOL8" session stop --socket "$S" argsess >/dev/null 2>&1
}

case_bad_args() {
	local many=() i
	for ((i = 0; i < 33; i++)); do many+=(x); done
	run -e 1 -- "${many[@]}" </dev/null
	is "$RC|$OUT|$ERR" $'2||[ERR] too many program arguments: 33 (at most 32)\n' "33 arguments: one [ERR] line, exit 2"
	run -e 1 -- "$(head -c 16385 /dev/zero | tr '\0' a)" </dev/null
	is "$RC|$ERR" $'2|[ERR] program arguments too long: 16386 bytes (at most 16384)\n' "arguments over 16 KiB: [ERR], exit 2"
	run -e 1 x.py -- a </dev/null
	is "$RC|$ERR" $'2|[ERR] --eval cannot be combined with a file argument\n' "-e with a bare word before --: refused as a file"
	is "$(daemon_containers r | wc -l)" 0 "refused runs created no container"
}

case_nothing_left() {
	sleep 1
	is "$(docker ps -q --filter "label=org.isol8.instance=$S" --filter label=org.isol8.kind=persist)" "" \
		"no persisted container from these runs"
}

run_cases "$@"
