#!/bin/bash
# libisol8 (lib/): its ABI (soname, exactly isol8.h's functions exported under ISOL8_0.1, the
# static library and isol8.pc), the example program, and the calls against a real isol8d and
# engine (tests/integration/lib_client.c). TAP, final "N passed, N failed"; exit 77 (skip)
# unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"
daemon_setup libisol8_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
SO=$BUILDDIR/libisol8.so.0.1.0
CLIENT=$BUILDDIR/tests/integration/lib_client

case_abi() {
	is "$(readelf -d "$SO" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" libisol8.so.0 "soname libisol8.so.0"
	is "$(nm -D --defined-only "$SO" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')" \
		"$(grep -o 'isol8_[a-z_]*(' "$SRC/lib/isol8.h" | tr -d '(' | sort -u | sed 's/$/@@ISOL8_0.1/' | tr '\n' ' ')" \
		"exported: exactly the functions of isol8.h, versioned ISOL8_0.1"
	is "$(nm -D --defined-only "$SO" | awk '$2 != "T" && $3 != "ISOL8_0.1"' | wc -l)" 0 "no exported data or other symbols"
	is "$(nm -D --undefined-only "$SO" | grep -c ' isol8_')" 0 "nothing of isol8 left undefined"
	like "$(nm "$BUILDDIR/libisol8.a" 2>/dev/null | grep ' T isol8_execute$')" 'T isol8_execute$' "the static library has the API"
	is "$(PKG_CONFIG_PATH=$BUILDDIR/lib pkg-config --modversion isol8)|$(PKG_CONFIG_PATH=$BUILDDIR/lib pkg-config --libs isol8 | sed "s/ *$//")" \
		"0.1.0|$(sed -n "s/^libdir=//p" "$BUILDDIR/lib/isol8.pc" | sed 's/^/-L/') -lisol8" "isol8.pc: version and link flags"
	like "$(readelf -d "$BUILDDIR/lib/example" | grep NEEDED)" 'libisol8\.so\.0' "the example program links the shared library"
}

case_example() {
	run_cap "$BUILDDIR/lib/example" "${D_SOCK[l]}"
	is "$RC|$OUT" '0|exit 3, stdout 42
live: streamed
' "the example runs python, then streams bash"
}

case_calls() {
	is "$("$CLIENT" "${D_SOCK[l]}" basic)" 'version 0.1.0 start 0
python: exit 4 stdout [env ['"'x y'"'] in
] stderr [e
] runtime python id-len 36 ts 20'"$(date -u +%y)"' trunc 0 timeout 0
cobol: error 2 Unknown runtime: "cobol". Available: python, node, bun, deno, bash, agent
timeout: exit 124 stdout [] stderr [
--- EXECUTION TIMED OUT ---
] runtime bash id-len 36 ts 20'"$(date -u +%y)"' trunc 0 timeout 1
bad-env -1 2
bad-session -1 2' "execute: env, args, stdin, exit code, stderr, result fields; refusals as values"
}

case_stream() {
	is "$("$CLIENT" "${D_SOCK[l]}" stream)" 'stream rc 0 bytes 960000 many-calls 1 exit 0 errors 0 result-stdout 0
stop rc 0 exit 130 fast 1' "streaming: 960 000 bytes to a slow callback (backpressure), a callback that interrupts the run"
}

case_session() {
	is "$("$CLIENT" "${D_SOCK[l]}" session)" "first: exit 0 stdout [] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0
second: exit 0 stdout [42
] stderr [] runtime python id-len 36 ts 20$(date -u +%y) trunc 0 timeout 0
file put 0 get 0 len 3 same 1
missing -1 5
listed 1
stop 0
stop-again -1 5 no session 'lib-s1'" "sessions: state across runs, a binary file in and out, list, stop, stop again is NOTFOUND"
}

case_daemon_down() {
	like "$("$CLIENT" "$T_TMP/no.sock" down)" '^start -1 code 7 unavail 1
run: error 7 cannot reach isol8d at ' "isol8d down: ISOL8_ERR_UNAVAIL naming the socket"
}

daemon_start l || bail "isol8d did not start"
run_cases "$@"
