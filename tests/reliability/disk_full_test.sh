#!/bin/bash
# Reliability (issue 19): full disks. A program that fills /sandbox or /tmp gets ENOSPC, its run
# ends normally, and the next run (on the same, reset sandbox when the pool gives it back) starts
# clean. TAP; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

# shellcheck source=private_engine.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/reliability/private_engine.sh"

daemon_setup disk_full_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"

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

case_sandbox_full() { daemon_start df && fill_case /sandbox && daemon_stop df; }
case_tmp_full() { daemon_start df && fill_case /tmp && daemon_stop df; }

# The engine's own disk full (a private dockerd whose data root is a small loop-mounted ext4):
# a new sandbox cannot be made and the run says why, pooled runs are still served, nothing is
# left behind, and once there is room again runs are made as before.
case_engine_disk_full() {
	local i
	if ! command -v dockerd >/dev/null || ! command -v mkfs.ext4 >/dev/null || ! command -v losetup >/dev/null; then
		ok "engine disk full: skipped (needs dockerd, mkfs.ext4 and loop devices)"
		return
	fi
	eng_small_root 800 || { ok "engine disk full: skipped (no loop mount here)"; return; }
	# What gets filled below must be that mount and nothing else.
	mountpoint -q "$ENG_MNT" || { not_ok "engine disk full: the loop mount is there"; return; }
	eng_start "$ENG_MNT/data" || { not_ok "engine disk full: private dockerd started"; return; }
	eng_load isol8:python || { not_ok "engine disk full: isol8:python copied in"; return; }
	DOCKER_HOST=unix://$ENG_SOCK daemon_start ed || return
	run_cap i8 ed run -e 'print("hello")'
	is "$RC|$OUT" $'0|hello\n' "engine disk full: a run before"
	for ((i = 0; i < 100; i++)); do
		[ "$(eng_containers ed | grep -c running)" -ge 2 ] && break
		sleep 0.1
	done
	# Every block: dd until ENOSPC, then the last partial ones.
	mountpoint -q "$ENG_MNT" && dd if=/dev/zero of="$ENG_MNT/fill" bs=1M >/dev/null 2>&1
	sync
	for i in 1 2 3 4; do mountpoint -q "$ENG_MNT" && dd if=/dev/zero of="$ENG_MNT/fill.$i" bs=4k >/dev/null 2>&1; done
	sync
	diag "engine disk: $(df -h "$ENG_MNT" | tail -1)"
	run_cap i8 ed run -e 'print("pooled")'
	is "$RC|$OUT|$ERR" $'0|pooled\n|' "engine disk full: a pooled sandbox still serves"
	run_cap i8 ed run --memory 256m -e 'print("new")'
	like "$RC|$OUT|$ERR" "^1\|\|\[ERR\] the Docker engine's disk is full \(free space where dockerd keeps its data\): .*no space left on device"$'\n$' \
		"engine disk full: a run that needs a new sandbox fails and says why"
	is "$(eng_containers ed | grep -vc ' running$')" 0 "engine disk full: the failed creation left nothing behind"
	rm -f "$ENG_MNT"/fill*
	run_cap i8 ed run --memory 256m -e 'print("room again")'
	is "$RC|$OUT|$ERR" $'0|room again\n|' "engine disk full: with room again a new sandbox is made"
	daemon_stop ed
	is "$(eng_containers ed)" "" "engine disk full: stopping isol8d leaves nothing on the engine"
}

run_cases "$@"
