#!/bin/bash
# isol8 setup and build for an operator (issue 20, items 7 and 8): --json results, the build's
# steps shown as they happen (plain lines when stdout is not a terminal), and no untagged image
# left behind by a build, also a failed one. Root and the engine with isol8:bash and
# isol8:python (exit 77 otherwise); the images built here are removed at the end. The runtime
# images themselves are never rebuilt (setup runs only where it refuses before building).
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
SRC=$(cd "${ISOL8_SRCDIR:-$(dirname "$0")/../..}" && pwd)
find_builddir
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root"; exit 77; }
timeout 20 docker version >/dev/null 2>&1 || { echo "1..0 # SKIP no Docker engine"; exit 77; }
for i in isol8:bash isol8:python; do
	docker image inspect "$i" >/dev/null 2>&1 || { echo "1..0 # SKIP $i missing (isol8 setup)"; exit 77; }
done
T_TMP=$(mktemp -d /tmp/isol8-images.XXXXXX) || bail "mktemp"
BUILT=()
trap 'for t in "${BUILT[@]}"; do docker rmi "$t" >/dev/null 2>&1; done; rm -rf "$T_TMP"' EXIT
# A setup script of this run only, so that its image is new (and removed at the end).
SETUP="echo images-test-$$"

dangling() { docker images -q --no-trunc --filter dangling=true | sort; }
# Untagged images that appeared since the list in $1 and sit on top of image $2 (other builds on
# this machine may leave theirs; only the ones on this test's base count).
new_dangling_on() { # BEFORE-FILE BASE
	local base id
	base=$(docker image inspect -f '{{.Id}}' "$2")
	dangling | comm -13 "$1" - | while read -r id; do
		docker history -q --no-trunc "$id" 2>/dev/null | grep -qx "$base" && echo "$id"
	done
}

case_build_progress_and_json() {
	local tag n
	dangling >"$T_TMP/before"
	run_cap "$ISOL8" build --json --base bash --setup "$SETUP" </dev/null
	tag=$(printf '%s' "$OUT" | jq -r '.image')
	[ -n "$tag" ] && [ "$tag" != null ] && BUILT+=("$tag")
	is "$RC|$(json_get "$OUT" '[.runtime, .alias, [.images[] | [.kind, .status, (.seconds | type)]]]')" \
		'0|["bash",null,[["custom","built","number"]]]' "build --json: one JSON object on stdout, the image built"
	like "$tag" '^isol8:bash-custom-[0-9a-f]{12}$' "  naming the image"
	is "$(printf "%s" "$OUT" | wc -l)" 1 "  and nothing else on stdout (one line: the progress went to stderr)"
	n=$(grep -cE "^\[\.\.\] $tag \(bash: setup script only\): step [0-9]+/[0-9]+: " <<<"$ERR")
	like "$(grep -E ': step [12]/' <<<"$ERR")" \
		"^\[\.\.\] $tag \(bash: setup script only\): step 1/([0-9]+): FROM isol8:bash
\[\.\.\] $tag \(bash: setup script only\): step 2/\1: COPY setup\.sh /usr/local/lib/isol8/setup\.sh$" \
		"not on a terminal: one plain line per step, step N/M and the instruction"
	unlike "$ERR" $'\r' "  no carriage return"
	like "$n" '^([3-9]|[1-9][0-9]+)$' "  every step ($n lines)"
	is "$(new_dangling_on "$T_TMP/before" isol8:bash)" "" "no new untagged image on isol8:bash"
	run_cap "$ISOL8" build --json --base bash --setup "$SETUP" </dev/null
	is "$RC|$(json_get "$OUT" '[.image, [.images[] | .status]]')" "0|[\"$tag\",[\"up-to-date\"]]" \
		"  built again: up to date, as JSON"
	run_cap "$ISOL8" build --base bash --setup "$SETUP" --force </dev/null
	is "$RC|$(new_dangling_on "$T_TMP/before" isol8:bash)" "0|" "  --force rebuilds and leaves no untagged image"
}

# On a terminal (script(1) gives the build one) the step line is rewritten in place.
case_build_progress_tty() {
	local out
	command -v script >/dev/null || { ok "# SKIP script(1) not installed"; return; }
	script -qec "stty cols 200; $(printf '%q ' "$ISOL8" build --base bash --setup "$SETUP" --force)" /dev/null \
		</dev/null >"$T_TMP/tty.out" 2>&1
	is "$?" 0 "build --force on a terminal"
	out=$(tr -d '\n' <"$T_TMP/tty.out")
	BUILT+=("$(grep -o 'isol8:bash-custom-[0-9a-f]\{12\}' <<<"$out" | head -1)")
	like "$out" $'\r\033\\[K\\[\\.\\.\\] step 1/[0-9]+: FROM isol8:bash\r\033\\[K\\[\\.\\.\\] step 2/[0-9]+: COPY setup\\.sh ' \
		"  each step overwrites the line before: carriage return, erase, step N/M and the instruction"
	like "$out" $'\r\033\\[K\\[OK\\] isol8:bash-custom-[0-9a-f]{12} \\(bash: setup script only\\): built in ' \
		"  and the result line replaces the last step"
}

# The ARG steps of a Python build with --pip-index-url commit images before the install fails:
# a failed build must not leave them behind.
case_failed_build_leaves_nothing() {
	dangling >"$T_TMP/before"
	run_cap "$ISOL8" build --base python --pip-index-url http://127.0.0.1:9/simple \
		--install no-such-package-isol8-images-test </dev/null
	is "$RC" 1 "a failed build: exit 1"
	like "$ERR" "\[ERR\] isol8:python-custom-[0-9a-f]{12} \(python: no-such-package-isol8-images-test\): build isol8:python-custom-[0-9a-f]{12}: The command '/bin/sh /usr/local/lib/isol8/install.sh python no-such-package-isol8-images-test' returned a non-zero code: 1" \
		"  its [ERR] line"
	unlike "$ERR" $'\033' "  the build log's colour escapes do not reach the terminal"
	is "$(new_dangling_on "$T_TMP/before" isol8:python)" "" "no untagged image of the failed build is left"
	# A failure of the engine with --json: the error as JSON.
	run_cap env DOCKER_HOST=unix://"$T_TMP"/no-engine.sock "$ISOL8" build --json --base bash --setup "$SETUP" </dev/null
	is "$RC|$(json_get "$OUT" '[.code, .exitCode, .images]')" '1|["unavailable",1,[]]' \
		"build --json without an engine: a JSON error, exit 1"
}

case_json_usage_errors() {
	run_cap "$ISOL8" setup --json --runtims python </dev/null
	is "$RC|$OUT" '2|{"error":"isol8 setup: unknown option '"'"'--runtims'"'"' (did you mean --runtimes?)","code":"usage","exitCode":2,"images":[]}'$'\n' \
		"setup --json with a mistyped flag: a JSON error on stdout, exit 2"
	is "$ERR" "[ERR] isol8 setup: unknown option '--runtims' (did you mean --runtimes?)"$'\n' "  and one [ERR] line"
	run_cap "$ISOL8" build --json --base bash </dev/null
	is "$RC|$(json_get "$OUT" '[.code, .error]')" \
		'2|["usage","No packages or setup script specified. Use --install <package> or --setup <command>."]' \
		"build --json without packages: a JSON usage error"
	run_cap "$ISOL8" setup --json --runtimes python,cobol </dev/null
	is "$RC|$(json_get "$OUT" '.error')" '2|"Invalid runtime: cobol. Expected one of: python, node, bun, deno, bash, agent"' \
		"setup --json --runtimes with an unknown runtime"
}

# A successful setup with --json: one object on stdout naming each image and what happened to
# it (up to date here: the images were built by the suite's setup), the progress on stderr.
case_setup_json_success() {
	docker image inspect isol8:bash >/dev/null 2>&1 || { ok "# SKIP isol8:bash missing"; return; }
	run_cap env ISOL8_SRCDIR="$SRC" "$ISOL8" setup --json --runtimes bash </dev/null
	is "$RC|$OUT" '0|{"images":[{"image":"isol8:bash","runtime":"bash","kind":"base","status":"up-to-date"}]}'$'\n' \
		"setup --json: exit 0, one JSON object, the image up to date"
	like "$ERR" $'\\[OK\\] bash: up to date\n' "  the progress on stderr"
	unlike "$OUT" '\[OK\]' "  and none of it on stdout"
}

# One isol8 setup or build at a time on a host: a build removes the untagged stage images it
# made, which a concurrent build may be using from the cache ("No such image" in the middle of
# its build). A second one waits for the lock and says so.
case_concurrent_builds_wait() {
	local holder
	docker image inspect isol8:bash >/dev/null 2>&1 || { ok "# SKIP isol8:bash missing"; return; }
	flock /run/lock/isol8-image-build.lock sleep 3 &
	holder=$!
	sleep 0.5
	run_cap env ISOL8_SRCDIR="$SRC" "$ISOL8" setup --runtimes bash </dev/null
	like "$RC|$OUT" $'^0\\|\\[OK\\] Docker is running\n\\[\\.\\.\\] another isol8 setup or build is running on this host; waiting for it to finish\n' \
		"a second setup waits for the one holding the lock and says so"
	proc_gone "$holder" && ok "  and went on only after it ended" || not_ok "  and went on only after it ended"
	wait "$holder" 2>/dev/null
	is "$(stat -c '%a %U' /run/lock/isol8-image-build.lock)" "666 root" "  the lock file is root's, usable by the engine's other users"
}

run_cases "$@"
