#!/bin/bash
# Reliability (issue 19): a burst of 200 simultaneous POST /execute on loopback against isol8d
# --http. Every request gets an HTTP answer (no reset): a 200 with the program's output, or a
# 429/503 that carries Retry-After. Once from one address (the per-address connection limit
# answers), once spread over 50 (the in-flight limit and isol8d's queue answer). No container
# is left and the next run succeeds. TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup burst_test
require_http
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
KEY=secret-burst-0123456789abcdef
printf 'burst:%s\n' "$KEY" >"$T_TMP/keys"
chmod 600 "$T_TMP/keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BURST=$ISOL8_SRCDIR/bench/burst.py

start() {
	local i
	daemon_start b --http "127.0.0.1:$PORT" --http-keys "$T_TMP/keys" || return 1
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && return 0
		sleep 0.1
	done
	return 1
}

burst_case() { # SOURCES DESC
	local res other
	res=$(python3 "$BURST" 127.0.0.1 "$PORT" "$KEY" 200 "$1")
	diag "$res"
	is "$(json_get "$res" '.transport_errors')" '{}' "$2: every request got an HTTP answer (no reset, no timeout)"
	is "$(json_get "$res" '.busy_without_retry_after')" 0 "$2: every 429/503 carries Retry-After"
	other=$(json_get "$res" '[.status | keys[] | select(. != "200" and . != "429" and . != "503")]')
	is "$other" '[]' "$2: the answers are 200, 429 or 503 only"
	[ "$other" = '[]' ] || diag "$(grep -i -e 'fail' -e 'err' -e 'warn' "${D_LOG[b]}" | sort | uniq -c | head -20)"
	is "$(json_get "$res" '[.outputs_200 | keys[] | select(. != "0|1\n")]')" '[]' "$2: every 200 carries the program's output"
	like "$(json_get "$res" '.status["200"]')" '^[1-9][0-9]*$' "$2: some runs were served"
	run_cap i8 b run -e 'print("after")'
	is "$RC|$OUT" $'0|after\n' "$2: the next run succeeds"
}

case_burst_one_address() {
	start || { not_ok "isol8d --http started"; return; }
	burst_case 1 "burst from one address"
	daemon_stop b
}

case_burst_many_addresses() {
	start || { not_ok "isol8d --http started"; return; }
	burst_case 50 "burst from 50 addresses"
	daemon_stop b
}

run_cases "$@"
