#!/bin/bash
# HTTP load run (issue 8): isol8d --http on loopback, wrk against /health and POST /execute
# (python print(1)), bounded in time; prints requests/s and latency percentiles and writes
# bench/HTTP_RESULTS.md. Loopback only. Needs root, a Docker engine, the images and wrk
# (apt-get install wrk). Usage: bench/http_load.sh [BUILD_DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-${ISOL8_BUILDDIR:-$top/build}}
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 77; }
T=$(mktemp -d /tmp/isol8-httpload.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'load:secret-load-0123456789abcdef\n' >"$T/keys"
chmod 600 "$T/keys"
"$B/isol8d" --socket "$T/isol8d.sock" --foreground --pidfile "$T/pid" --prewarm python \
	--http "127.0.0.1:$port" --http-keys "$T/keys" >"$T/log" 2>&1 &
cleanup() { kill "$(cat "$T/pid" 2>/dev/null)" 2>/dev/null || true; sleep 3; rm -rf "$T"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$T/exec.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"request":{"code":"print(1)","runtime":"python"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer secret-load-0123456789abcdef"
LUA
run() { # NAME CONNS DURATION ARGS...
	local name=$1 c=$2 d=$3
	shift 3
	echo "== $name (connections $c, $d)" >&2
	wrk -t2 -c"$c" -d"$d" --latency "$@" | tee "$T/$name.txt" >&2
	awk -v n="$name" -v c="$c" '
		/Requests\/sec/ {rps=$2}
		/^ +50%/ {p50=$2} /^ +90%/ {p90=$2} /^ +99%/ {p99=$2}
		/Non-2xx/ {bad=$NF}
		END {printf "| %s | %s | %s | %s | %s | %s | %s |\n", n, c, rps, p50, p90, p99, (bad==""?0:bad)}' "$T/$name.txt"
}
{
	echo "# isol8 HTTP load (bench/http_load.sh)"
	echo
	echo "$(date -u +%FT%TZ), $(nproc) cores, $(uname -r), loopback, isol8d --http with --prewarm python."
	echo
	echo "| endpoint | connections | requests/s | p50 | p90 | p99 | non-2xx |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	run health 16 5s "http://127.0.0.1:$port/health"
	run execute-c4 4 10s -s "$T/exec.lua" "http://127.0.0.1:$port/execute"
	run execute-c16 16 10s -s "$T/exec.lua" "http://127.0.0.1:$port/execute"
} >"$top/bench/HTTP_RESULTS.md"
cat "$top/bench/HTTP_RESULTS.md"
