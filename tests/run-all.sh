#!/bin/bash
# The whole test suite, on a fresh Debian 12 machine as root (CI calls exactly this):
# dependencies, Docker engine, offline base image, build with -Werror, runtime images,
# then `make check` (Check unit suites + real-engine integration tests), then `make distcheck`
# of the unit suites (the tarball is complete and builds out of a read-only tree).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
step() { printf '\n== [%ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }

step "dependencies";   scripts/deps.sh
step "docker engine";  tests/lib/engine.sh ensure
step "base image";     tests/lib/engine.sh seed
step "gVisor runtime"; tests/lib/engine.sh runsc
step "build";          scripts/build.sh --enable-werror
step "format";         make -C build format-check
# The build runs in place: its image build files are this tree's (common/buildtree.h).
step "runtime images"; ISOL8_SRCDIR=$top build/isol8 setup
step "make check"
rc=0
make -C build check -j1 || rc=$?
step "fuzz smoke"
# The committed corpora, replayed by every libFuzzer harness in an ASan+UBSan build.
mkdir -p build-fuzz
(cd build-fuzz && { [ -f Makefile ] || ../configure CC=clang --enable-fuzzing >configure.out 2>&1; } &&
	make -j"$(nproc)" >make.out 2>&1 && make fuzz-smoke) || { rc=1; tail -n 40 build-fuzz/make.out >&2; }
step "distcheck"
# The tarball builds from a read-only copy of its own files and passes the unit suites.
make -C build distcheck-unit >build/distcheck.log 2>&1 || { rc=1; tail -n 40 build/distcheck.log >&2; }
step "summary"
# Check's own summary lines, one per unit suite, and automake's totals.
grep -h -E '^[0-9]+%: Checks:' build/tests/unit/*.log 2>/dev/null || true
grep -h -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' build/test-suite.log 2>/dev/null || true
if [ $rc -ne 0 ]; then
	echo "== failing test logs" >&2
	for f in $(grep -l -E '^:test-result: (FAIL|ERROR)' build/tests/*/*.trs 2>/dev/null); do
		echo "---- ${f%.trs}.log" >&2
		tail -n 60 "${f%.trs}.log" >&2
	done
fi
leftover=$(docker ps -aq --filter label=org.isol8.managed=true --filter label=org.isol8.instance | wc -l)
echo "containers left behind by isol8d instances: $leftover" >&2
[ "$leftover" -eq 0 ] || rc=1
exit $rc
