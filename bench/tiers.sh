#!/bin/bash
# The isolation tiers side by side (issue 17): the same runs for a tenant on runc and one on
# gVisor (runsc), warm (the default pool) and cold (--pool-size 0: every run creates and
# starts its sandbox), python and bash. Prints the table and writes it into bench/RESULTS.md
# between "<!-- tiers -->" and "<!-- /tiers -->" inside the hand-written findings section,
# which bench/run.sh keeps when it regenerates the rest.
#
# Environment: ISOL8_BUILDDIR (default: the current directory), BENCH_WARM (20), BENCH_COLD
# (8), BENCH_RESULTS (default bench/RESULTS.md). Exit 77 without an engine, the isol8:python
# and isol8:bash images, or the engine's runsc runtime (tests/lib/engine.sh runsc).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${ISOL8_BUILDDIR:-$PWD}
ISOL8=$build/isol8
ISOL8D=$build/isol8d
STATS="python3 $here/stats.py"
# A build tree's isol8d finds the seccomp profile through the source tree.
export ISOL8_SRCDIR=${ISOL8_SRCDIR:-$(cd "$here/.." && pwd)}
results=${BENCH_RESULTS:-$here/RESULTS.md}
n_warm=${BENCH_WARM:-20}
n_cold=${BENCH_COLD:-8}
dpid=

# shellcheck source=lib.sh
. "$here/lib.sh"

need_build
docker info >/dev/null 2>&1 || { msg "no Docker engine reachable: skipped"; exit 77; }
for i in python bash; do
	docker image inspect "isol8:$i" >/dev/null 2>&1 || { msg "image isol8:$i missing: skipped"; exit 77; }
done
docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' ||
	{ msg "the engine has no runsc runtime (tests/lib/engine.sh runsc): skipped"; exit 77; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
work=$(mktemp -d /tmp/isol8-tiers.XXXXXX)
sock=$work/isol8d.sock
spec=$work/spec
trap 'stop_daemon; rm -rf "$work"' EXIT

# Root is tenant admin; both of its tiers get network none (runsc allows nothing else).
for t in runc runsc; do
	jq --arg t "$t" '.tenants |= map_values(.isolation = $t | .network = ["none"])' \
		"$here/../policy/default-policy.json" >"$work/policy-$t.json"
done

# isol8d with the policy of tier TIER.
tier_daemon() { # TIER [isol8d args...]
	local t=$1
	shift
	start_daemon --policy "$work/policy-$t.json" "$@"
}

py=(-r python -e 'print(1)')
sh=(-r bash -e 'echo 1')

for t in runc runsc; do
	msg "$t: warm"
	tier_daemon "$t" || exit 1
	# The first runs fill the pool.
	"$ISOL8" run --socket "$sock" "${py[@]}" >/dev/null 2>&1
	"$ISOL8" run --socket "$sock" "${sh[@]}" >/dev/null 2>&1
	sleep 3
	$STATS timeit "$work/warm_${t}_python" "$n_warm" --gap 1500 --expect $'1\n' -- "$ISOL8" run --socket "$sock" "${py[@]}"
	$STATS timeit "$work/warm_${t}_bash" "$n_warm" --gap 1500 --expect $'1\n' -- "$ISOL8" run --socket "$sock" "${sh[@]}"
	stop_daemon
	if [[ $t == runc ]]; then
		# runc without the agent: the docker exec path runsc has to take, on the host's kernel
		msg "$t: warm, --no-agent"
		tier_daemon "$t" --no-agent || exit 1
		"$ISOL8" run --socket "$sock" "${py[@]}" >/dev/null 2>&1
		sleep 3
		$STATS timeit "$work/warm_noagent_python" "$n_warm" --gap 1500 --expect $'1\n' -- "$ISOL8" run --socket "$sock" "${py[@]}"
		stop_daemon
	fi
	msg "$t: cold"
	tier_daemon "$t" --pool-size 0 || exit 1
	$STATS timeit "$work/cold_${t}_python" "$n_cold" --gap 300 --expect $'1\n' -- "$ISOL8" run --socket "$sock" "${py[@]}"
	$STATS timeit "$work/cold_${t}_bash" "$n_cold" --gap 300 --expect $'1\n' -- "$ISOL8" run --socket "$sock" "${sh[@]}"
	stop_daemon
done

{
	for k in warm cold; do
		for rt in python bash; do
			echo "lat|$k runc $rt|$work/${k}_runc_$rt|"
			echo "lat|$k runsc $rt|$work/${k}_runsc_$rt|$k runc $rt"
		done
	done
	echo "lat|warm runc --no-agent python (docker exec path)|$work/warm_noagent_python|warm runc python"
	echo "lat|warm runsc python, against runc --no-agent|$work/warm_runsc_python|warm runc --no-agent python (docker exec path)"
} >"$spec"
table=$($STATS table "$spec")
printf '\n%s\n\n' "$table"

runsc_v=$(runsc --version 2>/dev/null | head -1)
args=$(docker info --format '{{json .Runtimes}}' 2>/dev/null | jq -c '.runsc.runtimeArgs' 2>/dev/null)
block=$(
	echo "<!-- tiers -->"
	echo
	echo "## Isolation tiers (bench/tiers.sh)"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo ?), nproc $(nproc),"
	echo "load at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg) (the engine is shared); $runsc_v,"
	echo "runtimeArgs $args. \`isol8 run\` wall time for a tenant on runc and one on runsc."
	echo "Warm: the default pool, runs 1.5 s apart so that the pool has refilled (runc reuses"
	echo "a reset sandbox through the agent; runsc takes a pre-started sandbox and runs the program with"
	echo "docker exec, then removes it). Cold: \`--pool-size 0\`, runs 300 ms apart, each creating and starting its sandbox."
	echo "The ratio is runsc's median over runc's; the last two rows separate the cost of losing the agent"
	echo "(runc with \`--no-agent\` takes the same docker exec path) from the cost of gVisor itself."
	echo
	echo "$table"
	echo
	echo "<!-- /tiers -->"
)
if [[ -f $results ]] && grep -q '^<!-- tiers -->' "$results"; then
	python3 - "$results" "$block" <<'PY'
import sys
p, block = sys.argv[1], sys.argv[2]
s = open(p).read()
a = s.index("<!-- tiers -->")
b = s.index("<!-- /tiers -->") + len("<!-- /tiers -->")
open(p, "w").write(s[:a] + block + s[b:])
PY
elif [[ -f $results ]] && grep -q '^<!-- findings -->' "$results"; then
	printf '\n%s\n' "$block" >>"$results"
else
	printf '\n<!-- findings -->\n\n%s\n' "$block" >>"$results"
fi
msg "wrote the tiers section of $results"
