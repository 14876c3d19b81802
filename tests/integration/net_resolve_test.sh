#!/bin/bash
# The proxy resolves names off its event loop (issue 7): while one sandbox waits on a slow,
# unresolvable name, another sandbox's allowed request is served at once; the slow one ends in a
# 502/504 from the proxy. The fast name comes from the proxy's --proxy-hosts hook; the slow one
# is an "@delay" entry of the same hook: it stalls in a resolver thread (standing in for an
# unreachable DNS server), then really goes to getaddrinfo, which cannot resolve it. No traffic
# leaves this machine. TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup net_resolve_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"
serve_on_bridge "fast-answer"
SLOW=slow-name.isol8-test.invalid
# 12 s: longer than the proxy's 10 s resolve timeout.
printf '%s fast.test\n@delay=12000 %s\n' "$GW" "$SLOW" >"$T_TMP/hosts"

# The test's server is on the bridge address, which is not global: like an internal mirror, it is
# reachable only because the policy permits its address and port (issue 12 #3).
jq --arg gw "$GW/32" --argjson port "$PORT" '.tenants[].networkFilter |= (.allowAddresses = [$gw] | .ports = [80, 443, $port])' \
	"${ISOL8_SRCDIR:-$here/../..}/policy/default-policy.json" >"$T_TMP/policy.json" || bail "cannot write the policy"
daemon_start r --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/policy.json" || done_testing
S=${D_SOCK[r]}

cat >"$T_TMP/get.py" <<'EOF2'
import sys, time, urllib.request, urllib.error
t0 = time.monotonic()
try:
    r = urllib.request.urlopen("@URL@", timeout=30)
    res = "%d %s" % (r.status, r.read().decode().strip())
except urllib.error.HTTPError as e:
    res = "%d %s" % (e.code, e.read().decode().strip())
except Exception as e:
    res = "ERR %s" % type(e).__name__
print(res)
print("ms", int((time.monotonic() - t0) * 1000))
EOF2
# isol8 run passes no arguments to the program: one script per URL.
getter() { # NAME URL
	sed "s|@URL@|$2|" "$T_TMP/get.py" >"$T_TMP/$1.py"
	echo "$T_TMP/$1.py"
}
SLOW_PY=$(getter slow "http://$SLOW/")
FAST_PY=$(getter fast "http://fast.test:$PORT/index.txt")
NOWHERE_PY=$(getter nowhere "http://nowhere.isol8-test.invalid/")

# Sandbox A asks for a slow name (allowed by its rules, so the proxy must resolve it); sandbox B's
# request through the same proxy meanwhile is served at once.
case_slow_lookup_blocks_nobody() {
	local t0 t1 slow_rc slow_out sms
	# Sandbox A: the slow name (allowed by its rules, so the proxy must resolve it).
	"$ISOL8" run --socket "$S" --net filtered --allow "^${SLOW//./\\.}\$" "$SLOW_PY" \
		</dev/null >"$T_TMP/slow.out" 2>"$T_TMP/slow.err" &
	SLOW_PID=$!
	# Give A time to start and send its request, so the proxy is busy resolving it.
	for _ in $(seq 100); do
		grep -q "$SLOW" "${D_LOG[r]}" 2>/dev/null && break
		[ -n "$(daemon_containers r)" ] && sleep 2 && break
		sleep 0.1
	done

	# Sandbox B, meanwhile: its allowed request through the same proxy is served at once.
	t0=$(date +%s%N)
	run_cap "$ISOL8" run --socket "$S" --net filtered --allow '^fast\.test$' "$FAST_PY" </dev/null
	t1=$(date +%s%N)
	like "$RC|$OUT" "^0\|200 fast-answer
ms [0-9]+
$" "fast name served while another sandbox's name is still resolving"
	diag "the fast request took ${OUT##*ms } ms inside the sandbox"
	if kill -0 "$SLOW_PID" 2>/dev/null; then
		ok "the slow lookup was still pending when the fast request finished ($(((t1 - t0) / 1000000)) ms run)"
	else
		not_ok "the slow lookup was still pending when the fast request finished" "$(cat "$T_TMP/slow.out")"
	fi

	wait "$SLOW_PID"
	slow_rc=$?
	slow_out=$(cat "$T_TMP/slow.out")
	is "$slow_rc" 0 "slow sandbox: the run itself succeeds"
	like "$slow_out" "^504 cannot resolve \(timed out\): $SLOW \(isol8 network policy\)" \
		"slow name: the proxy answers 504 after its resolve timeout"
	sms=${slow_out##*ms }
	[ "$sms" -ge 9000 ] 2>/dev/null && [ "$sms" -lt 20000 ] && ok "slow name gave up after ~10 s (${sms} ms)" ||
		not_ok "slow name gave up after ~10 s" "$slow_out"
}

case_late_result_discarded() {
	# The late result (the thread finishes at 12 s) is discarded and the proxy keeps serving.
	sleep 3 # the slow case's lookup thread ends 2 s after its timeout
	run_cap "$ISOL8" run --socket "$S" --net filtered --allow '^fast\.test$' "$FAST_PY" </dev/null
	like "$OUT" "^200 fast-answer" "proxy still serves after a timed-out lookup completes late"
	# A name that fails quickly (no @delay) goes through the resolver threads under the proxy's
	# seccomp filter and is a 502.
	run_cap "$ISOL8" run --socket "$S" --net filtered --allow '\.invalid$' "$NOWHERE_PY" </dev/null
	like "$OUT" "^502 cannot resolve: nowhere\.isol8-test\.invalid" "unresolvable name without delay: 502 from the proxy"
}

case_lookups_per_sandbox_capped() {
	# One sandbox may hold at most two lookups at a time: a third concurrent slow name gets 503 at
	# once instead of taking the last resolver threads from everyone else.
	cat >"$T_TMP/many.py" <<EOF2
import threading, urllib.request, urllib.error
codes = []
def get():
    try:
        codes.append(urllib.request.urlopen("http://$SLOW/", timeout=30).status)
    except urllib.error.HTTPError as e:
        codes.append(e.code)
    except Exception:
        codes.append(0)
ts = [threading.Thread(target=get) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(str(c) for c in sorted(codes)))
EOF2
	run_cap "$ISOL8" run --socket "$S" --timeout 60000 --net filtered --allow "^${SLOW//./\\.}\$" "$T_TMP/many.py" </dev/null
	is "$OUT" $'503 504 504\n' "three concurrent slow lookups from one sandbox: two wait (504 later), the third gets 503 at once"
}

run_cases "$@"
