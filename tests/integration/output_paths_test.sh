#!/bin/bash
# A run's output files (issue 15, item 2): request.outputPaths / `isol8 run --output-path` come
# back in the result as {path: base64}, --output-dir writes them. Confined to /sandbox (no
# traversal, no symbolic link followed), regular files only, per-file and total caps, missing
# and unsuitable paths reported per path; ephemeral runs (read before the reset) and sessions.
# A real isol8d, the CLI, the engine and the isol8:python and isol8:bash images. TAP, final
# "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup output_paths_test
for rt in python bash; do
	docker image inspect "isol8:$rt" >/dev/null 2>&1 || bail "image isol8:$rt missing (isol8 setup)"
done
daemon_start o || done_testing
S=${D_SOCK[o]}
run() { run_cap "$ISOL8" run --socket "$S" "$@"; }
b64() { printf '%s' "$1" | base64 -w0; }

case_files_and_per_path_reports() {
	run --json --output-path out.txt --output-path /sandbox/sub/two.txt --output-path /sandbox/missing \
		--output-path sub --output-path empty -r bash \
		-e 'echo -n hello > out.txt; mkdir sub; printf "2\n" > sub/two.txt; : > empty' </dev/null
	is "$RC|$(json_get "$OUT" .exitCode)" "0|0" "a run with output paths succeeds"
	is "$(json_get "$OUT" .files)" \
		"{\"out.txt\":\"$(b64 hello)\",\"/sandbox/sub/two.txt\":\"$(b64 $'2\n')\",\"empty\":\"\"}" \
		"files: {path as given: base64}, relative paths below /sandbox, an empty file too"
	is "$(json_get "$OUT" .fileErrors)" \
		'{"/sandbox/missing":"not found","sub":"is a directory, not a regular file"}' \
		"a missing path and a directory are reported per path, not a failure of the run"
}

case_symlinks_not_followed() {
	run --json --output-path link --output-path d/passwd --output-path fifo --output-path dev -r bash \
		-e 'ln -s /etc/passwd link; ln -s /etc d; mkfifo fifo; ln -s /dev/null dev; echo ran' </dev/null
	is "$RC|$(json_get "$OUT" .stdout)|$(json_get "$OUT" .files)" '0|"ran\n"|null' "no file for links or a FIFO"
	is "$(json_get "$OUT" .fileErrors)" \
		'{"link":"a symbolic link on the way, not followed","d/passwd":"a symbolic link on the way, not followed","fifo":"not a regular file","dev":"a symbolic link on the way, not followed"}' \
		"a symlink as the file or as a directory on the way is not followed; a FIFO is not read (nor waited on)"
}

case_bad_paths_refused() {
	local before p
	before=$(daemon_containers o | wc -l)
	for p in ../etc/passwd /etc/passwd /sandbox/../etc/passwd a/../../b /sandbox /tmp/x 'a//b' './a' 'a/'; do
		run --output-dir "$T_TMP/never" --output-path "$p" -e 'print(1)' </dev/null
		like "$RC|$OUT|$ERR" '^2[|][|]\[ERR\] --output-path: .*(inside /sandbox|not allowed)' "--output-path '$p': one [ERR] line, exit 2"
	done
	is "$(daemon_containers o | wc -l)" "$before" "refused paths started no sandbox"
	[ ! -e "$T_TMP/never" ] && ok "refused paths created no --output-dir" || not_ok "refused paths created no --output-dir"
	run --output-path a.txt -e 'print(1)' </dev/null
	is "$RC|$ERR" $'2|[ERR] --output-path needs --output-dir DIR (to write the files) or --json (to print them)\n' \
		"--output-path alone has nowhere to go: refused"
	local many=()
	for ((i = 0; i < 33; i++)); do many+=(--output-path "f$i"); done
	run --json "${many[@]}" -e 1 </dev/null
	is "$RC|$ERR" $'2|[ERR] --output-path: at most 32 paths\n' "33 output paths: refused"
}

case_caps() {
	run --json --output-path big --output-path ok -r bash \
		-e 'head -c 10485761 /dev/zero > big; echo -n fine > ok' </dev/null
	is "$(json_get "$OUT" .fileErrors)" '{"big":"larger than the 10 MiB limit for one file (10485761 bytes)"}' \
		"one file over 10 MiB: reported with its size"
	is "$(json_get "$OUT" .files)" "{\"ok\":\"$(b64 fine)\"}" "the other file still comes back"
	run --json --output-path a --output-path b --output-path c --output-path d -r bash \
		-e 'for f in a b c d; do head -c 9437184 /dev/zero > $f; done' </dev/null
	is "$(json_get "$OUT" '.files | keys')" '["a","b","c"]' "three files of 9 MiB fit the 32 MiB total"
	is "$(json_get "$OUT" .fileErrors)" '{"d":"over the 32 MiB limit for all output files together (9437184 more bytes)"}' \
		"the fourth is over the total: reported"
	is "$(json_get "$OUT" '.files.a | length')" 12582912 "9 MiB arrive whole (base64)"
}

case_output_dir() {
	local d=$T_TMP/outdir
	run --output-dir "$d" --output-path bin.dat --output-path nested/deep/x.txt --output-path gone -r bash \
		-e 'head -c 300000 /dev/urandom > bin.dat; sha256sum bin.dat | cut -d" " -f1; mkdir -p nested/deep; echo x > nested/deep/x.txt' </dev/null
	is "$RC|$ERR" $'0|[WARN] output file gone: not found\n[Run] 2 output files written to '"$d"$'\n' \
		"--output-dir: files written, the missing one warned about"
	is "$(sha256sum <"$d/bin.dat" | cut -d' ' -f1)" "${OUT%$'\n'}" "binary content arrives byte for byte"
	is "$(cat "$d/nested/deep/x.txt")" x "subdirectories are created under --output-dir"
	mkdir -p "$T_TMP/elsewhere" "$T_TMP/out2"
	ln -s "$T_TMP/elsewhere" "$T_TMP/out2/a"
	run --output-dir "$T_TMP/out2" --output-path a/f -r bash -e 'mkdir a; echo f > a/f' </dev/null
	like "$RC|$ERR" '^1[|]\[ERR\] --output-dir .*out2: cannot create the directories of a/f' \
		"a symlink already in --output-dir is not followed: [ERR], exit 1"
	is "$(ls -A "$T_TMP/elsewhere")" "" "nothing was written through it"
}

case_ephemeral_collected_before_reset() {
	local i ok=1
	# A pooled sandbox is reset after each run: the next run never sees the last one's files.
	for i in 1 2 3; do
		run --json --output-path left.txt -r bash -e 'cat left.txt 2>/dev/null; echo -n "run" > left.txt' </dev/null
		[ "$(json_get "$OUT" .stdout)|$(json_get "$OUT" .files)" = "\"\"|{\"left.txt\":\"$(b64 run)\"}" ] || ok=0
	done
	is "$ok" 1 "each ephemeral run returns its own file; none sees the previous run's"
	run --json --timeout 1500 --output-path partial -r bash -e 'echo -n before > partial; sleep 10' </dev/null
	is "$(json_get "$OUT" .exitCode)|$(json_get "$OUT" .files)" "124|{\"partial\":\"$(b64 before)\"}" \
		"a run killed at its timeout still returns what it wrote"
}

case_session() {
	run --session-id op -r bash -e 'echo -n one > kept.txt' </dev/null
	run --json --session-id op --output-path kept.txt -r bash -e 'echo -n two >> kept.txt' </dev/null
	is "$(json_get "$OUT" .files)" "{\"kept.txt\":\"$(b64 onetwo)\"}" "a session's later run returns a file an earlier run wrote"
	run --json --session-id op --output-path kept.txt -e 'x = 1' -r bash </dev/null
	is "$(json_get "$OUT" .files)" "{\"kept.txt\":\"$(b64 onetwo)\"}" "and the file stays in the session"
	"$ISOL8" session stop --socket "$S" op >/dev/null 2>&1
}

run_cases "$@"
