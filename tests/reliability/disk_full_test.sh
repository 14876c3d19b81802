#!/bin/bash
# Reliability (issue 19): full disks. A program that fills /sandbox or /tmp gets ENOSPC, its run
# ends normally, and the next run (on the same, reset sandbox when the pool gives it back) starts
# clean. TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup disk_full_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
daemon_start df || done_testing

FILL='import errno, os, sys
d = sys.argv[1]
n = 0
try:
    with open(os.path.join(d, "fill"), "wb") as f:
        while True:
            f.write(b"x" * 65536)
            f.flush()
            n += 1
except OSError as e:
    print(d, errno.errorcode[e.errno], n >= 64)
print("exit normally")'
CLEAN='import os, shutil
print(os.listdir("/sandbox"), os.listdir("/tmp"), shutil.disk_usage("/sandbox").used < (1 << 20), shutil.disk_usage("/tmp").used < (1 << 20))'

fill_case() { # DIR
	local id1 id2
	run_cap i8 df run --json --sandbox-size 8m --tmp-size 8m -e "$FILL" -- "$1"
	is "$RC|$(json_get "$OUT" '[.exitCode, .stdout]')" "0|[0,\"$1 ENOSPC True\\nexit normally\\n\"]" \
		"$1 full: the program sees ENOSPC after 4+ MiB and its run ends normally (exit 0)"
	id1=$(json_get "$OUT" .containerId)
	run_cap i8 df run --json --sandbox-size 8m --tmp-size 8m -e "$CLEAN"
	is "$RC|$(json_get "$OUT" '.stdout')" '0|"[] [] True True\n"' "$1 full: the next run starts with /sandbox and /tmp empty"
	id2=$(json_get "$OUT" .containerId)
	diag "$( [ "$id1" = "$id2" ] && echo "the same sandbox, reset" || echo "another sandbox")"
}

case_sandbox_full() { fill_case /sandbox; }
case_tmp_full() { fill_case /tmp; }

run_cases "$@"
