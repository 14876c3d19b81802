#!/bin/bash
# Prometheus metrics (issue 14): GET /metrics on isol8 serve, in the text exposition format,
# checked by promtool and scraped by a real Prometheus started here, which then answers a
# query. Runs by tenant/runtime/outcome, refusals by reason, gauges from isol8d's tables;
# open on loopback, key-protected or off with --metrics. Real isol8d, real engine.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"

daemon_setup metrics_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
for c in promtool prometheus curl jq; do
	command -v "$c" >/dev/null || bail "$c needed (scripts/deps.sh installs Debian's prometheus)"
done

KEY=key-metrics-0123456789abcdef
printf 'ops:%s\n' "$KEY" >"$T_TMP/keys"
chmod 0600 "$T_TMP/keys"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	daemon_exit_trap
}
trap cleanup EXIT

# serve_start NAME ARGS...: isol8 serve on 127.0.0.1 and a free port; sets PORT
serve_start() {
	local name=$1 i
	shift
	setsid "$ISOL8" serve --port 0 --keys-file "$T_TMP/keys" --socket "${D_SOCK[m]}" --grace 2 "$@" \
		>"$T_TMP/$name.log" 2>&1 </dev/null &
	PIDS+=($!)
	PORT=""
	for ((i = 0; i < 100; i++)); do
		PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T_TMP/$name.log")
		[ -n "$PORT" ] && break
		sleep 0.1
	done
	[ -n "$PORT" ] || bail "isol8 serve did not start: $(cat "$T_TMP/$name.log")"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

daemon_start m || done_testing
S=${D_SOCK[m]}
"$ISOL8" run --socket "$S" -e 'print(1)' >/dev/null
"$ISOL8" run --socket "$S" -e 'print(2)' >/dev/null
"$ISOL8" run --socket "$S" --timeout 500 -e 'import time; time.sleep(3)' >/dev/null 2>&1
su nobody -s /bin/sh -c "'$ISOL8' run --socket '$S' --net host -e 'print(3)'" >/dev/null 2>&1
# The pools settle in the background (fills, resets): until both python shapes have 2 warm
# (up to 30 s: a loaded machine resets slowly).
for _ in $(seq 150); do
	[ "$("$ISOL8" status --socket "$S" --json | jq '[.pools[].warm] | add')" = 4 ] && break
	sleep 0.2
done

case_exposition() {
	local M
	need_http || return 0
	serve_start auto
	M=$(curl -s -w '\n%{http_code} %{content_type}' "http://127.0.0.1:$PORT/metrics")
	is "$(tail -1 <<<"$M")" "200 text/plain; version=0.0.4; charset=utf-8" "GET /metrics on loopback, no key: the text format"
	M=$(sed '$d' <<<"$M")
	printf '%s\n' "$M" >"$T_TMP/metrics.txt"
	run_cap promtool check metrics <"$T_TMP/metrics.txt"
	is "$RC|$OUT$ERR" "0|" "promtool check metrics: no problem"
	is "$(grep '^isol8_runs_total' "$T_TMP/metrics.txt")" 'isol8_runs_total{tenant="admin",runtime="python",outcome="ok"} 2
isol8_runs_total{tenant="admin",runtime="python",outcome="timeout"} 1
isol8_runs_total{tenant="local",runtime="none",outcome="refused"} 1' "runs by tenant, runtime and outcome"
	is "$(grep '^isol8_refusals_total' "$T_TMP/metrics.txt")" 'isol8_refusals_total{tenant="local",reason="policy"} 1' \
		"refusals by tenant and reason"
	is "$(grep -c '^isol8_run_duration_seconds_bucket{tenant="admin",runtime="python",' "$T_TMP/metrics.txt")" 14 \
		"a duration histogram: 13 buckets and +Inf"
	is "$(grep '^isol8_run_duration_seconds_count' "$T_TMP/metrics.txt")" \
		'isol8_run_duration_seconds_count{tenant="admin",runtime="python"} 3' "refused runs have no duration"
	like "$(cat "$T_TMP/metrics.txt")" $'\nisol8_queue_depth 0\n.*\nisol8_sessions\\{tenant="local"\\} 0\n.*\nisol8_workers_up 2\n.*\nisol8_proxy_requests_total\\{action="blocked"\\} 0' \
		"gauges: queue, sessions, workers, and the proxy's counts"
	is "$(grep '^isol8_pool_sandboxes{tenant="admin",runtime="python"' "$T_TMP/metrics.txt")" \
		'isol8_pool_sandboxes{tenant="admin",runtime="python",state="warm"} 4
isol8_pool_sandboxes{tenant="admin",runtime="python",state="resetting"} 0
isol8_pool_sandboxes{tenant="admin",runtime="python",state="in_use"} 0' \
		"the warm pool by tenant, runtime and state: 2 warm for each of python's two shapes (the timeout run's is its own)"
	is "$(grep -c '^isol8_pool_sandboxes{' "$T_TMP/metrics.txt")" 36 "  every tenant, runtime and state, bounded: 2 x 6 x 3"
	is "$(grep -v '^#' "$T_TMP/metrics.txt" | sed 's/[{ ].*//' | sort -u | tr '\n' ' ')" \
		"isol8_pool_sandboxes isol8_proxy_requests_total isol8_queue_depth isol8_refusals_total isol8_run_duration_seconds_bucket isol8_run_duration_seconds_count isol8_run_duration_seconds_sum isol8_runs_in_progress isol8_runs_total isol8_sandboxes isol8_sessions isol8_workers_up " \
		"the metric names"
	is "$(grep -o '[a-z]*="[^"]*"' "$T_TMP/metrics.txt" | sort -u | tr '\n' ' ')" \
		'action="allowed" action="blocked" kind="ephemeral" kind="persist" kind="session" le="+Inf" le="0.005" le="0.01" le="0.025" le="0.05" le="0.1" le="0.25" le="0.5" le="1" le="10" le="2.5" le="30" le="5" le="60" outcome="ok" outcome="refused" outcome="timeout" reason="policy" runtime="agent" runtime="bash" runtime="bun" runtime="deno" runtime="node" runtime="none" runtime="python" state="in_use" state="resetting" state="warm" tenant="admin" tenant="local" ' \
		"label values only from the policy and enums"
}

case_auth_modes() {
	need_http || return 0
	serve_start key --metrics key
	is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" 401 "--metrics key: no key, 401"
	is "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/metrics")" 200 \
		"--metrics key: with an API key, 200"
	serve_start off --metrics off
	is "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" 404 "--metrics off: 404"
	run_cap "$ISOL8" serve --metrics sometimes
	is "$RC|$ERR" "2|[ERR] --metrics 'sometimes': use auto (open on loopback, key otherwise), open, key or off
" "a bad --metrics is a usage error"
	run_cap su nobody -s /bin/sh -c "cd '$SRC/tests/security' && python3 -c \"
import wire
s = wire.connect('$S', 9)
m = wire.recv(s)
print(m[0], wire.error_text(m[1]))\""
	is "$OUT" "21 metrics are for root and trusted HTTP frontends (isol8d --trust-key-uid)
" "isol8d gives its metrics to root and trusted frontends only"
}

case_status_prometheus() {
	run_cap "$ISOL8" status --socket "$S" --prometheus
	printf '%s' "$OUT" >"$T_TMP/status.txt"
	run_cap promtool check metrics <"$T_TMP/status.txt"
	is "$RC|$OUT$ERR" "0|" "isol8 status --prometheus: the same exposition, promtool finds no problem"
	is "$(grep '^isol8_runs_total{tenant="admin",runtime="python",outcome="ok"}' "$T_TMP/status.txt")" \
		'isol8_runs_total{tenant="admin",runtime="python",outcome="ok"} 2' "with the same figures"
	run_cap su nobody -s /bin/sh -c "'$ISOL8' status --socket '$S' --prometheus"
	is "$RC|$ERR" "1|[ERR] metrics are for root and trusted HTTP frontends (isol8d --trust-key-uid)
" "another user is refused"
}

case_prometheus_scrapes() {
	local PP cfg v=""
	need_http || return 0
	serve_start prom
	PP=$(free_port)
	cfg=$T_TMP/prometheus.yml
	cat >"$cfg" <<EOC
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: isol8
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOC
	run_cap promtool check config "$cfg"
	is "$RC" 0 "promtool check config"
	setsid prometheus --config.file="$cfg" --storage.tsdb.path="$T_TMP/prom" --web.listen-address="127.0.0.1:$PP" \
		>"$T_TMP/prometheus.log" 2>&1 </dev/null &
	PIDS+=($!)
	for ((i = 0; i < 300; i++)); do
		v=$(curl -s "http://127.0.0.1:$PP/api/v1/query" --data-urlencode 'query=sum(isol8_runs_total{outcome="ok"})' |
			jq -r '.data.result[0].value[1] // empty' 2>/dev/null)
		[ -n "$v" ] && break
		sleep 0.1
	done
	is "$v" 2 "a Prometheus started here scraped isol8 serve and answers sum(isol8_runs_total{outcome=\"ok\"})"
	is "$(curl -s "http://127.0.0.1:$PP/api/v1/query" --data-urlencode 'query=up{job="isol8"}' | jq -r '.data.result[0].value[1]')" 1 \
		"its target is up"
}

run_cases "$@"
