#!/bin/bash
# Secrets off the command line (issue 20, item 4): --secret NAME / --env NAME from the caller's
# environment, --secret-file / --env-file, isol8 serve --key-file and ISOL8_API_KEY. While each
# runs, no process's /proc/PID/cmdline holds the value, and the output still masks it.
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
daemon_setup secrets
docker image inspect isol8:python >/dev/null 2>&1 || { echo "1..0 # SKIP isol8:python image missing"; exit 77; }
daemon_start s || bail "isol8d did not start"

# in_cmdlines VALUE: the pids whose command line contains VALUE (none expected)
in_cmdlines() {
	# The value goes to grep in a file: on grep's own command line it would find itself.
	printf '%s\n' "$1" >"$T_TMP/needle"
	grep -alF -f "$T_TMP/needle" /proc/[0-9]*/cmdline 2>/dev/null | tr -dc '0-9\n'
	return 0
}

# run_watched CMD...: run CMD in the background for its whole run; sets OUT ERR RC and SEEN
# (the pids that showed the secret $V in their command line while it ran).
run_watched() {
	"$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null &
	local pid=$! seen=""
	while ! proc_gone "$pid"; do
		seen+=$(in_cmdlines "$V")
		sleep 0.1
	done
	wait "$pid"; RC=$?
	OUT=$(cat "$T_TMP/out"); ERR=$(cat "$T_TMP/err")
	SEEN=$seen
}

PROG='import os, time; print("got", os.environ["TOKEN"]); time.sleep(2.5); print(len(os.environ["TOKEN"]))'

case_secret_from_environment() {
	V=sk-env-$RANDOM$RANDOM-value
	TOKEN=$V run_watched i8 s run --secret TOKEN -e "$PROG"
	is "$RC|$OUT|$ERR" "0|got ***"$'\n'"${#V}|" "--secret TOKEN takes the value from the environment, masked in output"
	is "$SEEN" "" "  the value is in no process's cmdline while it runs"
	run_watched i8 s run --secret "TOKEN=$V" -e "$PROG"
	is "$RC|$OUT|${SEEN:+seen}" "0|got ***"$'\n'"${#V}|seen" "  (control: --secret TOKEN=VALUE does show in a cmdline, as the watch sees)"
	V=plain-env-$RANDOM
	run_cap env GREETING="$V" "$ISOL8" run --socket "${D_SOCK[s]}" --env GREETING -e 'import os; print(os.environ["GREETING"])' </dev/null
	is "$RC|$OUT" "0|$V"$'\n' "--env NAME takes the value from the environment"
	run_cap env -u NOPE_UNSET "$ISOL8" run --socket "${D_SOCK[s]}" --secret NOPE_UNSET -e 'print(1)' </dev/null
	is "$RC|$OUT|$ERR" "2||[ERR] --secret NAME: no variable of that name is set in the environment (export it, or use --secret-file FILE)"$'\n' \
		"--secret NAME unset: a usage error (not repeating what may be a mistyped value)"
}

case_secret_file() {
	V=sk-file-$RANDOM$RANDOM-value
	printf '# tokens\n\nTOKEN=%s\nOTHER=x\n' "$V" >"$T_TMP/secrets" && chmod 0600 "$T_TMP/secrets"
	run_watched i8 s run --secret-file "$T_TMP/secrets" -e "$PROG"
	is "$RC|$OUT|$ERR" "0|got ***"$'\n'"${#V}|" "--secret-file: the value reaches the program, masked in output"
	is "$SEEN" "" "  the value is in no process's cmdline while it runs"
	printf 'A=1\nB=two words\n' >"$T_TMP/env"
	run_cap i8 s run --env-file "$T_TMP/env" -e 'import os; print(os.environ["A"], os.environ["B"])' </dev/null
	is "$RC|$OUT" $'0|1 two words\n' "--env-file: KEY=VALUE lines"
	printf 'TOKEN=%s\nnot a pair %s\n' "$V" "$V" >"$T_TMP/bad"
	run_cap i8 s run --secret-file "$T_TMP/bad" -e 'print(1)' </dev/null
	is "$RC|$ERR" "2|[ERR] --secret-file: $T_TMP/bad line 2: expected KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]*"$'\n' \
		"a bad line: usage error naming the file and the line"
	unlike "$ERR" "$V" "  without the value"
	run_cap i8 s run --secret-file "$T_TMP/missing" -e 'print(1)' </dev/null
	is "$RC|$ERR" "2|[ERR] --secret-file: cannot open $T_TMP/missing: No such file or directory"$'\n' "a missing file: usage error"
}

# serve_with ARGS...: start isol8 serve; sets SRV_PID and PORT
serve_with() {
	setsid "$@" >"$T_TMP/serve.log" 2>&1 </dev/null &
	SRV_PID=$!
	PORT=""
	for _ in $(seq 100); do
		PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/serve.log")
		[ -n "$PORT" ] && break
		sleep 0.1
	done
	[ -n "$PORT" ] || { not_ok "isol8 serve started" "$(cat "$T_TMP/serve.log")"; return 1; }
}
serve_stop() { kill -TERM "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; }

case_serve_key_file() {
	local code
	need_http || return 0
	V=k-$RANDOM$RANDOM$RANDOM-serve-key
	printf '%s\n' "$V" >"$T_TMP/key" && chmod 0600 "$T_TMP/key"
	serve_with "$ISOL8" serve --port 0 --key-file "$T_TMP/key" --socket "${D_SOCK[s]}" --grace 2 || return
	is "$(in_cmdlines "$V")" "" "serve --key-file: the key is in no process's cmdline"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $V" "http://127.0.0.1:$PORT/sessions")
	is "$code" 200 "  and the key from the file is accepted"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-$V" "http://127.0.0.1:$PORT/sessions")
	is "$code" 401 "  another key is not"
	serve_stop
	V=k-$RANDOM$RANDOM$RANDOM-env-key
	ISOL8_API_KEY=$V serve_with "$ISOL8" serve --port 0 --socket "${D_SOCK[s]}" --grace 2 || return
	is "$(in_cmdlines "$V")" "" "serve with ISOL8_API_KEY: the key is in no process's cmdline"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $V" "http://127.0.0.1:$PORT/sessions")
	is "$code" 200 "  and it is accepted"
	serve_stop
	: >"$T_TMP/empty"
	run_cap "$ISOL8" serve --port 0 --key-file "$T_TMP/empty" --socket "${D_SOCK[s]}"
	is "$RC|$ERR" "2|[ERR] --key-file: $T_TMP/empty is empty (put the key on its first line)"$'\n' "an empty key file: usage error"
}

run_cases "$@"
