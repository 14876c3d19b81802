#!/bin/bash
# The misleading errors of issue 20 (item 10): each bad input gets one [ERR] line with the fix,
# exit 2 only for usage errors, "did you mean" for a mistyped flag or command, and cleanup
# leaves containers a user started from isol8 images with plain docker alone.
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
SRC=$(cd "${ISOL8_SRCDIR:-$(dirname "$0")/../..}" && pwd)
find_builddir
T_TMP=$(mktemp -d /tmp/isol8-errors.XXXXXX) || bail "mktemp"
chmod 0755 "$T_TMP"
TEST_LABEL=org.isol8.test=errors-$$
trap 'docker rm -f $(docker ps -aq --filter "label=$TEST_LABEL") >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT

one_line() { # DESC WANT-RC WANT-ERR CMD...
	local d=$1 rc=$2 want=$3
	shift 3
	run_cap "$@" </dev/null
	is "$RC|$OUT|$ERR" "$rc||$want"$'\n' "$d"
}

case_serve_port() {
	need_http || return 0
	run_cap timeout 5 "$ISOL8" serve --port 99999 --key-file /dev/null --socket "$T_TMP/none.sock" </dev/null
	is "$RC|$OUT" "2|" "serve --port 99999: exit 2 at once, nothing served"
	is "$ERR" '[ERR] --port: invalid number "99999": must be at most 65535'$'\n' "  one [ERR] line"
	one_line "serve: a mistyped option, did you mean" 2 "[ERR] unknown option '--prot' (did you mean --port?)" \
		timeout 5 "$ISOL8" serve --prot 3000
}

case_did_you_mean() {
	one_line "run --memroy: did you mean --memory" 2 "[ERR] unknown option '--memroy' (did you mean --memory?)" \
		"$ISOL8" run --memroy 1g -e 1
	one_line "isol8 sesion: did you mean session" 2 "[ERR] unknown command 'sesion' (did you mean 'isol8 session'?)" \
		"$ISOL8" sesion list
	one_line "isol8 --bogus: one line naming the global options" 2 \
		"[ERR] unknown option '--bogus'; isol8 takes -V, --version, -h, --help and --debug before the command" \
		"$ISOL8" --bogus run
}

# Every command's subcommands and flags: the nearest real one, or the old hint when none is near.
case_did_you_mean_everywhere() {
	local want cmd
	while IFS='|' read -r cmd want; do
		# shellcheck disable=SC2086 # the command's words
		one_line "isol8 $cmd" 2 "$want" "$ISOL8" $cmd
	done <<'EOF'
session lsit|[ERR] unknown session command 'lsit' (did you mean 'isol8 session list'?)
session stp s1|[ERR] unknown session command 'stp' (did you mean 'isol8 session stop'?)
session list --jsn|[ERR] unknown option '--jsn' (did you mean --json?)
session stop --jsn s1|[ERR] unknown option '--jsn'
file gett s1 /sandbox/x|[ERR] unknown file command 'gett' (did you mean 'isol8 file get'?)
cp --sockt=/x a s1:/sandbox/a|[ERR] unknown option '--sockt=/x' (did you mean --socket?)
config --jsno|[ERR] unknown option '--jsno' (did you mean --json?)
status --jsn|[ERR] unknown argument '--jsn' (did you mean --json?)
audit shw|[ERR] unknown audit command 'shw' (did you mean 'isol8 audit show'?)
audit show --tenat t|[ERR] unknown argument '--tenat' (did you mean --tenant?)
keys lst|[ERR] unknown keys command 'lst' (did you mean 'isol8 keys list'?)
doctor --jsn|[ERR] unknown argument '--jsn' (did you mean --json?)
list-custom --jsn|[ERR] isol8 list-custom: unknown option '--jsn' (did you mean --json?)
mcp --sockett /x|[ERR] unknown argument '--sockett' (did you mean --socket?)
status --bogus|[ERR] unknown argument '--bogus' (isol8 status [--json|--prometheus|--drain|--undrain] [--socket PATH])
EOF
}

# --json promises JSON on stdout, also when isol8 itself fails.
case_run_json_errors() {
	run_cap "$ISOL8" run --json --memroy 1g -e 1 </dev/null
	is "$RC|$OUT" '2|{"error":"unknown option '"'"'--memroy'"'"' (did you mean --memory?)","code":"usage","exitCode":2}'$'\n' \
		"run --json with a bad flag: a JSON error on stdout, exit 2"
	run_cap "$ISOL8" run --json --socket "$T_TMP/none.sock" -e 1 </dev/null
	is "$RC|$(json_get "$OUT" '[.code, .exitCode]')" '1|["unavailable",1]' "run --json with isol8d unreachable: code unavailable"
	like "$(json_get "$OUT" '.error')" '^"cannot reach isol8d at ' "  and the message"
}

case_help_and_version() {
	run_cap "$ISOL8" help help </dev/null
	is "$RC|$(head -1 <<<"$OUT")|$ERR" "0|Usage: isol8 help [command]|" "isol8 help help: the help command's usage"
	run_cap "$ISOL8" version --help </dev/null
	is "$RC|$OUT|$ERR" $'0|Usage: isol8 version | isol8 --version | isol8 -V\n|' "isol8 version --help: its usage"
	one_line "isol8 version extra: usage error" 2 "[ERR] isol8 version takes no arguments (got 'extra')" "$ISOL8" version extra
}

case_missing_file() {
	# .txt is the agent's (original-reference.md §8.3); .dat is no runtime's.
	one_line "isol8 run notes.dat (missing): says so, exit 1" 1 "[ERR] File not found: notes.dat" \
		env -C "$T_TMP" "$ISOL8" run notes.dat
	# .txt would pick the agent and its network flags; the missing file is said first.
	one_line "isol8 run notes.txt (missing): the file, not the agent's flags, exit 1" 1 \
		"[ERR] File not found: notes.txt" env -C "$T_TMP" "$ISOL8" run notes.txt
	echo 'hello' >"$T_TMP/notes.dat"
	one_line "  an existing file of no known runtime: the runtime question" 2 \
		"[ERR] Cannot detect runtime for notes.dat. Use --runtime to specify." env -C "$T_TMP" "$ISOL8" run notes.dat
}

case_image_commands() {
	one_line "cleanup --bogus: one [ERR] line, exit 2" 2 "[ERR] isol8 cleanup: unknown option '--bogus'; see 'isol8 cleanup --help'" \
		"$ISOL8" cleanup --bogus
	one_line "setup --runtims: did you mean --runtimes" 2 "[ERR] isol8 setup: unknown option '--runtims' (did you mean --runtimes?)" \
		"$ISOL8" setup --runtims python
	one_line "build --instll: did you mean --install" 2 "[ERR] isol8 build: unknown option '--instll' (did you mean --install?)" \
		"$ISOL8" build --instll numpy
	one_line "build --base: a missing value, one line" 2 "[ERR] isol8 build: option '--base' needs a value; see 'isol8 build --help'" \
		"$ISOL8" build --base
	one_line "build --setup /typo/path: refused, not run as a command" 2 \
		"[ERR] --setup /typo/path: no such file (give a script file, or a shell command)" \
		"$ISOL8" build --base python --setup /typo/path
}

case_policy_example() {
	sed -n '/^\.SH EXAMPLE/,/^\.SH SECCOMP/p' "$SRC/man/isol8-policy.5" | sed -n '/^\.nf/,/^\.fi/p' | grep -v '^\.' |
		sed 's/\\e/\\/g' >"$T_TMP/example.json"
	run_cap "$ISOL8D" --check-policy "$T_TMP/example.json"
	is "$RC|$ERR" "0|" "the EXAMPLE of isol8-policy(5) is a valid policy"
}

# Containers from isol8 images inherit org.isol8.managed=true; only the broker sets
# org.isol8.instance. cleanup selects by the latter (--filter keeps this test to its own).
case_cleanup_label() {
	local mine ours
	[ "$(id -u)" = 0 ] && timeout 20 docker version >/dev/null 2>&1 || { ok "# SKIP needs root and the engine"; return; }
	docker image inspect isol8:bash >/dev/null 2>&1 || { ok "# SKIP isol8:bash missing"; return; }
	mine=$(docker create --label "$TEST_LABEL" isol8:bash true)
	ours=$(docker create --label "$TEST_LABEL" --label org.isol8.instance=/errors-test.sock isol8:bash true)
	run_cap "$ISOL8" cleanup --dry-run --filter "$TEST_LABEL" </dev/null
	is "$RC|$(printf "%s" "$OUT" | tail -1)" "0|Dry run: nothing removed (1 container(s), 0 image(s) would be)" \
		"cleanup --dry-run lists and removes nothing"
	is "$(docker ps -aq --no-trunc --filter "id=$ours" | wc -l)" 1 "  the container is still there"
	run_cap "$ISOL8" cleanup --json --dry-run --filter "$TEST_LABEL" </dev/null
	is "$RC|$(json_get "$OUT" '[.dryRun, [.containers[].id], .removedContainers]')" "0|[true,[\"$ours\"],0]" \
		"cleanup --json --dry-run: what would go, as JSON"
	run_cap "$ISOL8" cleanup --json --filter "$TEST_LABEL" </dev/null
	is "$RC|$ERR" "2|[ERR] cleanup --json needs --force or --dry-run (it cannot ask)"$'\n' "  --json without --force or --dry-run: usage error"
	run_cap "$ISOL8" cleanup --force --filter "$TEST_LABEL" </dev/null
	is "$RC" 0 "cleanup --force"
	is "$(docker inspect -f '{{index .Config.Labels "org.isol8.managed"}}' "$mine" 2>&1)" true \
		"a plain docker create from isol8:bash inherits org.isol8.managed and is left alone"
	is "$(docker ps -aq --no-trunc --filter "id=$ours")" "" "the container with isol8d's instance label is removed"
}

# With a daemon: cp into a directory, and a failed package install is not a usage error.
case_with_daemon() {
	[ "$(id -u)" = 0 ] && timeout 20 docker version >/dev/null 2>&1 || { ok "# SKIP needs root and the engine"; return; }
	docker image inspect isol8:python >/dev/null 2>&1 || { ok "# SKIP isol8:python missing"; return; }
	daemon_start e || return
	run_cap i8 e run --session-id cp1 -r bash -e 'echo copied >/sandbox/out.txt' </dev/null
	mkdir -p "$T_TMP/dest"
	run_cap env -C "$T_TMP/dest" "$ISOL8" cp --socket "${D_SOCK[e]}" cp1:/sandbox/out.txt . </dev/null
	is "$RC|$ERR|$(cat "$T_TMP/dest/out.txt" 2>&1)" "0||copied" "isol8 cp s1:/sandbox/out.txt . copies into the directory"
	run_cap i8 e run -r python --install no-such-package-isol8-test -e 'print(1)' </dev/null
	is "$RC" 1 "a failed package install: exit 1, not 2 (it is not a usage error)"
	like "$ERR" $'\\[ERR\\] Package install failed \\(exit code [0-9]+\\)' "  with its [ERR] line"
	# --log-network prints the proxy's log without --json too.
	run_cap i8 e run --net filtered --deny blocked.example --log-network -r python -e '
import urllib.request
try:
    urllib.request.urlopen("http://blocked.example/x", timeout=5)
except Exception as e:
    print("refused:", type(e).__name__)' </dev/null
	is "$RC|$OUT" $'0|refused: HTTPError\n' "a filtered run whose request is blocked"
	like "$ERR" '\[Network\] BLOCK GET blocked\.example:80/x [0-9]+ ms' "--log-network without --json prints the request"
	run_cap i8 e run --log-network -r bash -e 'echo hi' </dev/null
	is "$RC|$ERR" "0|[Network] no request log: --log-network records the requests of --net filtered sandboxes"$'\n' \
		"  and says why there is none for a sandbox without the proxy"
	run_cap i8 e session stop cp1 </dev/null
	daemon_stop e
}

run_cases "$@"
