#!/bin/bash
# The program's invocation (issue 15, items 6 and 7): its own arguments (`isol8 run FILE a b`,
# `-e CODE -- a b`, --cmd, HTTP-free) in every runtime and through a pre-started interpreter,
# and live stdin: piped input reaches the program as it arrives and its EOF ends the program's
# stdin. A real isol8d, the CLI, the engine and the isol8:<runtime> images. TAP, final
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
	local many=() i q
	# A daemon of its own without a pool, so that no container comes or goes unless a run
	# makes one (the shared daemon refills its pool whenever it likes).
	daemon_start quiet --pool-size 0 || return
	q=${D_SOCK[quiet]}
	for ((i = 0; i < 33; i++)); do many+=(x); done
	run_cap "$ISOL8" run --socket "$q" -e 1 -- "${many[@]}" </dev/null
	is "$RC|$OUT|$ERR" $'2||[ERR] too many program arguments: 33 (at most 32)\n' "33 arguments: one [ERR] line, exit 2"
	run_cap "$ISOL8" run --socket "$q" -e 1 -- "$(head -c 16385 /dev/zero | tr '\0' a)" </dev/null
	is "$RC|$ERR" $'2|[ERR] program arguments too long: 16386 bytes (at most 16384)\n' "arguments over 16 KiB: [ERR], exit 2"
	run_cap "$ISOL8" run --socket "$q" -e 1 x.py -- a </dev/null
	is "$RC|$ERR" $'2|[ERR] --eval cannot be combined with a file argument\n' "-e with a bare word before --: refused as a file"
	is "$(daemon_containers quiet | wc -l)" 0 "refused runs created no container"
	daemon_stop quiet
}

# ---- live stdin -------------------------------------------------------------------------------------
# The writer sends "a", then waits until the reader of isol8's output has seen "a" before it
# sends "b"; everyone appends to one log. With live stdin the log reads out:a, wrote b, out:b.
# With stdin read whole before the start, "a" could only come out after EOF: the writer gives up
# waiting after 20 s and the log starts with "wrote b".
case_stdin_flows_as_it_arrives() {
	local log=$T_TMP/order.log seen=$T_TMP/seen-a
	: >"$log"
	rm -f "$seen"
	(
		echo a
		for _ in $(seq 200); do [ -e "$seen" ] && break; sleep 0.1; done
		echo "wrote b" >>"$log"
		echo b
	) | "$ISOL8" run --socket "$S" -e 'import sys; [print(l, end="", flush=True) for l in sys.stdin]' 2>"$T_TMP/err" |
		while IFS= read -r l; do
			echo "out:$l" >>"$log"
			[ "$l" = a ] && touch "$seen"
		done
	is "$(cat "$log")" $'out:a\nwrote b\nout:b' "piped stdin: a reaches the program and comes out before b is written"
	is "$(cat "$T_TMP/err")" "" "piped stdin: nothing on stderr"
}

case_stdin_eof() {
	run_cap bash -c "printf 'abc\\nlast' | '$ISOL8' run --socket '$S' -e 'import sys; d = sys.stdin.read(); print(repr(d))'"
	is "$RC|$OUT|$ERR" $'0|\'abc\\nlast\'\n|' "EOF of piped stdin ends the program's stdin (read() returns all of it)"
	run_cap bash -c "printf 'x' | '$ISOL8' run --socket '$S' -r bash -e 'cat; echo; read -r y || echo eof'"
	is "$RC|$OUT" $'0|x\neof\n' "bash: cat sees EOF, a later read too"
	run_cap bash -c "true | '$ISOL8' run --socket '$S' -r node -e 'let n = 0; process.stdin.on(\"data\", d => n += d.length).on(\"end\", () => console.log(\"end\", n))'"
	is "$RC|$OUT" $'0|end 0\n' "node: an empty pipe is an immediate end"
}

case_stdin_program_does_not_read() {
	local t0 t1
	t0=$(date +%s%N)
	run_cap bash -c "yes | head -c 50000000 | '$ISOL8' run --socket '$S' -e 'print(\"done\")'"
	t1=$(date +%s%N)
	is "$RC|$OUT|$ERR" $'0|done\n|' "a program that ignores a large piped stdin ends normally"
	run_cap bash -c "yes | '$ISOL8' run --socket '$S' -e 'import sys; print(sys.stdin.readline(), end=\"\")'"
	is "$RC|$OUT|$ERR" $'0|y\n|' "an endless writer: the program reads one line and exits; isol8 returns its status"
	diag "ignored 50 MB stdin: $(((t1 - t0) / 1000000)) ms"
}

case_stdin_other_sources() {
	run --stdin 'from flag' -e 'import sys; print(sys.stdin.read())' </dev/null
	is "$RC|$OUT" $'0|from flag\n' "--stdin DATA still works"
	run_cap bash -c "echo piped | '$ISOL8' run --socket '$S' --stdin 'flag wins' -e 'import sys; print(sys.stdin.read())'"
	is "$RC|$OUT" $'0|flag wins\n' "--stdin DATA wins over piped stdin"
	printf 'from a file\n' >"$W/in.txt"
	run -e 'import sys; print(sys.stdin.read(), end="")' <"$W/in.txt"
	is "$RC|$OUT" $'0|from a file\n' "a redirected regular file is the program's stdin"
	run_cap bash -c "echo 'print(\"code from stdin\")' | '$ISOL8' run --socket '$S'"
	is "$RC|$OUT" $'0|code from stdin\n' "without code arguments, piped stdin is still the code"
	run_cap bash -c "printf 'l1\\nl2\\n' | '$ISOL8' run --socket '$S' --session-id stdsess -e 'import sys; print(len(sys.stdin.readlines()))'"
	is "$RC|$OUT" $'0|2\n' "a session run reads live stdin"
	"$ISOL8" session stop --socket "$S" stdsess >/dev/null 2>&1
	run_cap bash -c "printf 'j' | '$ISOL8' run --socket '$S' --json -e 'import sys; print(sys.stdin.read())'"
	is "$RC|$(json_get "$OUT" .stdout)" '0|"j\n"' "live stdin with --json"
}

case_nothing_left() {
	sleep 1
	is "$(docker ps -q --filter "label=org.isol8.instance=$S" --filter label=org.isol8.kind=persist)" "" \
		"no persisted container from these runs"
}

run_cases "$@"
