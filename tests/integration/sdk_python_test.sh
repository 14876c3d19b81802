#!/bin/bash
# The Python SDK (sdk/python) against a live `isol8 serve` and isol8d on the real engine: its
# unit tests (the live ones over both transports, WebSocket and SSE; the WebSocket client's
# framing and the session headers of every call against a local stand-in), and a wheel built
# offline and installed into a scratch directory running a short program. TAP, final
# "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"
# shellcheck source=../lib/serve.sh
. "$SRC/tests/lib/serve.sh"
sdk_setup sdk_python_test
# Debian's interpreter: the one whose setuptools and wheel scripts/deps.sh installs.
PY=/usr/bin/python3

case_unittests() {
	run_cap env PYTHONPATH="$SRC/sdk/python" ISOL8_TEST_URL="$SRV_URL" ISOL8_TEST_KEY="$KA" ISOL8_TEST_KEY_BASH="$KB" \
		PYTHONDONTWRITEBYTECODE=1 "$PY" -m unittest discover -s "$SRC/sdk/python/tests" -v
	is "$RC" 0 "python -m unittest: the SDK against the live server"
	like "$ERR" $'\nRan 38 tests in [0-9.]+s\n\nOK' "all 38 ran (20 live, 18 against a stand-in), none skipped or failed" || true
	[ "$RC" = 0 ] || diag "$ERR"
}

case_wheel() {
	local whl
	cp -r "$SRC/sdk/python" "$T_TMP/pysrc" # the build writes into its source tree
	run_cap "$PY" -m pip wheel --no-deps --no-build-isolation --no-index -w "$T_TMP/wheels" "$T_TMP/pysrc"
	whl=$(ls "$T_TMP"/wheels/isol8-0.1.0-py3-none-any.whl 2>/dev/null)
	is "$RC|$whl" "0|$T_TMP/wheels/isol8-0.1.0-py3-none-any.whl" "pip wheel offline (Debian's setuptools and wheel)"
	[ -n "$whl" ] || { diag "$ERR"; return; }
	is "$("$PY" -m zipfile -l "$whl" | awk 'NR > 1 {print $1}' | grep -v dist-info | sort | tr '\n' ' ')" \
		'isol8/__init__.py isol8/client.py isol8/errors.py isol8/py.typed isol8/types.py isol8/ws.py ' "the wheel holds the package and py.typed"
	run_cap "$PY" -m pip install --no-deps --no-index --target "$T_TMP/site" "$whl"
	is "$RC" 0 "the wheel installs"
	cat >"$T_TMP/prog.py" <<'PY'
import sys
from isol8 import RemoteIsol8

with RemoteIsol8(sys.argv[1], sys.argv[2], session_id="py-wheel-demo") as box:
    box.execute(code="answer = 6 * 7", runtime="python")  # the first run creates the session
    box.put_file("in.txt", "six times seven")
    r = box.execute(code="print(open('in.txt').read(), '=', answer)", runtime="python")
    print(r.exit_code, r.stdout, end="")
    evs = list(box.execute_stream(code="print('streamed')", runtime="python"))
    # an unbuffered print may come as two chunks: the stdout events joined
    print("stdout", repr("".join(e.data for e in evs if e.type == "stdout")), {e.phase for e in evs})
    print(evs[-1].type, repr(evs[-1].data), evs[-1].phase)
    print("over", box.last_transport)
PY
	run_cap env -i PATH=/usr/bin:/bin PYTHONPATH="$T_TMP/site" "$PY" "$T_TMP/prog.py" "$SRV_URL" "$KA"
	is "$RC|$OUT" "0|0 six times seven = 42
stdout 'streamed\n' {'code'}
exit '0' code
over ws
" "a program using the installed wheel runs code, a file and a stream (over the WebSocket)"
	[ "$RC" = 0 ] || diag "$ERR"
}

run_cases "$@"
