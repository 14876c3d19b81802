#!/bin/bash
# Side-by-side benchmark of isol8 against plain Docker, in one run on the real engine
# (`make bench`, or bench/run.sh from a build directory). Prints a table and rewrites
# bench/RESULTS.md next to this script; a "<!-- findings -->" section already in RESULTS.md is
# kept, since it is written by hand.
#
# Phases: baselines (docker exec CLI and Engine API in running containers, docker run --rm),
# warm sequential runs through `isol8 run` and through the socket (bench/sockclient), the
# worker's own phase timings, concurrent throughput with RSS sampling, then cold first runs
# of a freshly started daemon per runtime.
#
# Environment: ISOL8_BUILDDIR (default: the current directory), BENCH_WARM (50), BENCH_COLD (5),
# BENCH_CONC (200), BENCH_BASE (50), BENCH_RESULTS (output file; default bench/RESULTS.md in the
# source tree). Exit status 77 when there is no engine or no isol8:python image.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${ISOL8_BUILDDIR:-$PWD}
ISOL8=$build/isol8
ISOL8D=$build/isol8d
SOCKCLIENT=$build/bench/sockclient
STATS="python3 $here/stats.py"
docker_sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
docker_sock=${docker_sock#unix://}
results=${BENCH_RESULTS:-$here/RESULTS.md}
n_warm=${BENCH_WARM:-50}
n_cold=${BENCH_COLD:-5}
n_conc=${BENCH_CONC:-200}
n_base=${BENCH_BASE:-50}
runid=bench-$$-$(date +%s)
dpid=

# shellcheck source=lib.sh
. "$here/lib.sh"

need_build
command -v python3 >/dev/null || { msg "python3 is needed for timing and statistics"; exit 1; }
if ! docker info >/dev/null 2>&1; then
	msg "no Docker engine reachable: skipped"
	exit 77
fi
if ! docker image inspect isol8:python >/dev/null 2>&1; then
	msg "image isol8:python missing (run 'isol8 setup'): skipped"
	exit 77
fi

work=$(mktemp -d /tmp/isol8-bench.XXXXXX)
sock=$work/isol8d.sock
spec=$work/spec

if [[ ! -x $SOCKCLIENT ]]; then
	# Not built by automake (e.g. an older build tree): build it against the same library.
	SOCKCLIENT=$work/sockclient
	# shellcheck disable=SC2046 # pkg-config output is meant to split
	cc -std=gnu11 -O2 -I"$here/.." -I"$build" "$here/sockclient.c" -o "$SOCKCLIENT" "$build/libisol8common.a" \
		$(pkg-config --cflags --libs json-c libcurl libarchive) || { msg "cannot build sockclient"; exit 1; }
fi

cleanup() {
	rm -f "$work/sampling"
	stop_daemon
	local ids
	ids=$(docker ps -aq --filter "label=org.isol8.bench=$runid")
	[[ -n $ids ]] && docker rm -f $ids >/dev/null
	# The daemon removes its sandboxes on shutdown; anything left is ours all the same.
	ids=$(docker ps -aq --filter "label=org.isol8.instance=$sock")
	[[ -n $ids ]] && { msg "removing $(wc -w <<<"$ids") sandbox(es) isol8d left behind"; docker rm -f $ids >/dev/null; }
	[[ -n ${BENCH_KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

workers() { ps -o pid=,comm= --ppid "$dpid" | awk '$2 ~ /isol8-worker/ {print $1}'; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# One sample of the broker and of each worker (by position: worker0, worker1, ...).
sample_rss() {
	local tag=$1 i=0 w
	rss_kb "$dpid" >>"$work/rss_${tag}_isol8d"
	anon_kb "$dpid" >>"$work/rss_${tag}_isol8d.anon"
	for w in $(workers); do
		rss_kb "$w" >>"$work/rss_${tag}_worker$i"
		anon_kb "$w" >>"$work/rss_${tag}_worker$i.anon"
		i=$((i + 1))
	done
}

code_for() {
	case $1 in
	python) echo 'print(1)' ;;
	bash) echo 'echo 1' ;;
	*) echo 'console.log(1)' ;;
	esac
}

isol8_run() { "$ISOL8" run --socket "$sock" -r "$1" -e "$(code_for "$1")"; }

# run_conc LABEL P CMD...: n_conc runs of CMD, P at a time; writes "rate ok failed wall" to
# $work/LABEL.rate.
run_conc() {
	local label=$1 p=$2 t0 t1 ok
	shift 2
	: >"$work/$label.out"
	t0=$(date +%s%N)
	seq "$n_conc" | xargs -P "$p" -I{} "$@" >>"$work/$label.out" 2>>"$work/$label.err"
	t1=$(date +%s%N)
	# Each run prints one "1"; concurrent writers may interleave lines, so count characters.
	ok=$(tr -cd 1 <"$work/$label.out" | wc -c)
	python3 -c "import sys; w=($t1-$t0)/1e9; print(int(sys.argv[1])/w, sys.argv[1], $n_conc-int(sys.argv[1]), w)" \
		"$ok" >"$work/$label.rate"
}

runtimes=()
for rt in python node bun deno bash; do
	docker image inspect "isol8:$rt" >/dev/null 2>&1 && runtimes+=("$rt")
done

# --- machine ---
machine=$(
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "- CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), nproc $(nproc)"
	echo "- RAM: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "- kernel: $(uname -r)"
	echo "- docker: engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}}), CLI {{.Client.Version}}' 2>/dev/null), storage $(docker info --format '{{.Driver}}' 2>/dev/null)"
	echo "- load at start: $(cut -d' ' -f1-3 /proc/loadavg), $(docker ps -q | wc -l) containers running on the engine (others' included)"
)
msg "results in $work; runtimes: ${runtimes[*]}"

# --- 4. baselines ---
msg "baselines: docker exec (CLI, Engine API), docker run --rm"
declare -A ctr
for rt in python node bash; do
	[[ " ${runtimes[*]} " == *" $rt "* ]] || continue
	ctr[$rt]=$(docker run -d --label "org.isol8.bench=$runid" --network none --entrypoint sleep "isol8:$rt" infinity) ||
		{ msg "cannot start baseline container for $rt"; exit 1; }
done
declare -A exec_json=([python]='["python3","-c","print(1)"]' [node]='["node","-e","console.log(1)"]' [bash]='["bash","-c","echo 1"]')
for rt in "${!ctr[@]}"; do
	case $rt in
	python) argv=(python3 -c 'print(1)') ;;
	node) argv=(node -e 'console.log(1)') ;;
	bash) argv=(bash -c 'echo 1') ;;
	esac
	$STATS timeit "$work/base_exec_cli_$rt" 3 -- docker exec "${ctr[$rt]}" "${argv[@]}" # warm-up
	$STATS timeit "$work/base_exec_cli_$rt" "$n_base" --expect $'1\n' -- docker exec "${ctr[$rt]}" "${argv[@]}"
	$STATS timeit "$work/base_exec_api_$rt" "$n_base" --expect $'1\n' -- \
		"$here/api-exec.sh" "$docker_sock" "${ctr[$rt]}" "${exec_json[$rt]}"
done
[[ -n ${ctr[python]:-} ]] && $STATS timeit "$work/base_exec_true" "$n_base" -- docker exec "${ctr[python]}" true
$STATS timeit "$work/base_run_rm" $((n_cold * 2)) --expect $'1\n' -- \
	docker run --rm --label "org.isol8.bench=$runid" --network none isol8:python python3 -c 'print(1)'
$STATS timeit "$work/cli_version" 20 -- "$ISOL8" --version

# --- 2. warm sequential ---
msg "warm sequential: $n_warm runs per runtime, CLI and socket"
start_daemon || exit 1
for rt in python bash node; do
	[[ " ${runtimes[*]} " == *" $rt "* ]] || continue
	# Fill the pools (one per worker) before measuring.
	$STATS timeit "$work/warmup_$rt" 6 -- "$ISOL8" run --socket "$sock" -r "$rt" -e "$(code_for "$rt")"
	sleep 1
	$STATS timeit "$work/warm_cli_$rt" "$n_warm" --expect $'1\n' -- \
		"$ISOL8" run --socket "$sock" -r "$rt" -e "$(code_for "$rt")"
	"$SOCKCLIENT" "$sock" "$rt" "$(code_for "$rt")" "$n_warm" $'1\n' >"$work/warm_sock_$rt" ||
		msg "sockclient failed for $rt"
	# Back to back, every run also pays for the next run's interpreter start-up on this
	# machine's two cores; 100 ms apart shows one run's own latency.
	if [[ $rt != bash ]]; then
		$STATS timeit "$work/warm_gap_$rt" "$n_warm" --gap 100 --expect $'1\n' -- \
			"$ISOL8" run --socket "$sock" -r "$rt" -e "$(code_for "$rt")"
	fi
done
msg "phase timings (isol8 run --json --timings, python and node)"
for rt in python node; do
	[[ " ${runtimes[*]} " == *" $rt "* ]] || continue
	$STATS jsontimings "$work/tm_$rt" 20 -- "$ISOL8" run --socket "$sock" --json --timings -r "$rt" -e "$(code_for "$rt")"
done

# --- 5. memory, idle ---
sleep 2
for _ in $(seq 10); do sample_rss idle; sleep 0.1; done

# --- 3. concurrency ---
for p in 1 4 16; do
	msg "concurrency $p: $n_conc runs"
	if [[ $p == 16 ]]; then
		touch "$work/sampling"
		(while [[ -e $work/sampling ]]; do sample_rss load; sleep 0.1; done) &
		sampler=$!
	fi
	run_conc "conc_isol8_$p" "$p" "$ISOL8" run --socket "$sock" -e 'print(1)'
	if [[ $p == 16 ]]; then
		rm -f "$work/sampling"
		wait "$sampler"
	fi
	[[ -n ${ctr[python]:-} ]] && run_conc "conc_exec_$p" "$p" docker exec "${ctr[python]}" python3 -c 'print(1)'
done
stop_daemon

# --- 1. cold: a fresh daemon's first run per runtime ---
for s in $(seq "$n_cold"); do
	msg "cold sample $s/$n_cold"
	start_daemon || exit 1
	for rt in "${runtimes[@]}"; do
		$STATS timeit "$work/cold_$rt" 1 --append --expect $'1\n' -- \
			"$ISOL8" run --socket "$sock" -r "$rt" -e "$(code_for "$rt")"
		sleep 1.5 # let the pool filler this run started finish before the next cold run
	done
	stop_daemon
done

# --- table ---
{
	echo "note|Baselines (Docker alone)||"
	for rt in python node bash; do
		[[ -n ${ctr[$rt]:-} ]] || continue
		echo "lat|docker exec CLI $rt|$work/base_exec_cli_$rt|"
		echo "lat|docker exec Engine API (curl) $rt|$work/base_exec_api_$rt|"
	done
	echo "lat|docker exec CLI true (exec overhead alone)|$work/base_exec_true|"
	echo "lat|docker run --rm python|$work/base_run_rm|"
	echo "note|Cold: first run of a fresh isol8d per runtime (pool empty)||"
	for rt in "${runtimes[@]}"; do echo "lat|cold isol8 run $rt|$work/cold_$rt|docker run --rm python"; done
	echo "note|Warm sequential ($n_warm runs each)|CLI: isol8 run process start to exit. Socket: bench/sockclient, connect to result in one process.|"
	for rt in python bash node; do
		[[ -e $work/warm_cli_$rt ]] || continue
		base="docker exec CLI $rt"
		[[ -n ${ctr[$rt]:-} ]] || base="docker exec CLI python"
		echo "lat|warm isol8 run CLI $rt|$work/warm_cli_$rt|$base"
		echo "lat|warm socket $rt|$work/warm_sock_$rt|docker exec Engine API (curl) ${base##* }"
		[[ -e $work/warm_gap_$rt ]] && echo "lat|warm isol8 run CLI $rt, runs 100 ms apart|$work/warm_gap_$rt|$base"
	done
	echo "lat|isol8 --version (CLI start-up alone)|$work/cli_version|"
	for rt in python node; do
		[[ -e $work/tm_$rt.wall.ms ]] || continue
		share=$(awk '{n++; s+=$1} END {if (n) printf "%d of %d", s, n}' "$work/tm_$rt.standby.ms" 2>/dev/null)
		echo "note|Where a warm $rt run goes (isol8 run --json --timings, 20 runs)|Worker phases from the request's arrival; startedAt/firstByteAt/exitedAt: when the program started, wrote its first byte and its exit status was known. cli*: the CLI's side. Served by a pre-started interpreter: ${share:-n/a}.|"
		for k in acquireMs injectMs execMs startedAtMs firstByteAtMs exitedAtMs totalMs cliConnectMs cliRoundTripMs cliTotalMs wall; do
			[[ -e $work/tm_$rt.$k.ms ]] && echo "lat|$rt $k|$work/tm_$rt.$k.ms|"
		done
	done
	echo "note|Concurrent throughput (python print(1), $n_conc runs, xargs -P)|Ratio: against docker exec CLI in one running container at the same concurrency.|"
	for p in 1 4 16; do
		echo "rate|isol8 run -P $p|$work/conc_isol8_$p.rate|docker exec CLI -P $p"
		echo "rate|docker exec CLI -P $p|$work/conc_exec_$p.rate|"
	done
	echo "note|Memory (VmRSS)|Idle: 10 samples after the warm runs. Load: every 100 ms during the concurrency-16 run. RssAnon: the process's own memory; the rest of VmRSS is shared library pages.|"
	for f in "$work"/rss_idle_* "$work"/rss_load_*; do
		[[ -e $f && $f != *.anon ]] || continue
		t=${f##*/rss_}
		echo "rss|${t#*_} (${t%%_*})|$f|"
	done
	echo "note|Goals (issue 6)||"
	echo "goal|warm python CLI <= 0.2x docker exec CLI|warm isol8 run CLI python|ratio<=0.2"
	echo "goal|warm bash echo 1 CLI < 10 ms|warm isol8 run CLI bash|median<=10"
	echo "goal|warm node CLI <= 0.2x its docker exec CLI|warm isol8 run CLI node|ratio<=0.2"
	echo "goal|throughput at -P 4 >= 60 runs/s|isol8 run -P 4|rate>=60"
	echo "goal|broker RSS < 10 MB|isol8d (load)|maxmb<10"
} >"$spec"

table=$($STATS table "$spec")
printf '\n%s\n\n' "$table"
fails=$(cat "$work"/*.fail "$work"/conc_*.err 2>/dev/null | grep -v '^$' | head -5)
[[ -n $fails ]] && printf 'Some runs failed (first lines):\n%s\n' "$fails" >&2

findings=
[[ -f $results ]] && findings=$(sed -n '/^<!-- findings -->/,$p' "$results")
{
	echo "# isol8 benchmark results"
	echo
	echo "Written by \`make bench\` (bench/run.sh); numbers from one run on the real engine. min/median/p95/max"
	echo "in ms (p95 is nearest-rank: with 5 samples it is the maximum). Ratios compare medians"
	echo "(throughput: runs/s) with the Docker baseline named in the row, measured in the same run."
	echo
	echo "## Machine"
	echo
	echo "$machine"
	echo "- load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "## Results"
	echo
	echo "$table"
	if [[ -n $findings ]]; then
		echo
		echo "$findings"
	fi
} >"$results"
msg "wrote $results"
