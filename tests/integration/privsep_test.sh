#!/bin/bash
# Privilege separation (issue 3), asserted from outside on real processes: worker lockdown in
# /proc, policy ceilings (clamp and refuse) and the HostConfig Docker really got, refused callers,
# a hostile frontend (tests/integration/broker_fuzz), a worker killed mid-run, and fd/RSS growth
# over 200 runs. TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

daemon_setup privsep_test
FUZZ=$BUILDDIR/tests/integration/broker_fuzz
[ -x "$FUZZ" ] || bail "$FUZZ not built (make check builds it)"
docker image inspect isol8:bash >/dev/null 2>&1 || bail "image isol8:bash missing (isol8 setup)"
mkdir -p "$T_TMP/home-nobody" && chmod 0777 "$T_TMP/home-nobody"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$T_TMP/home-nobody" "$@"; }
as_nobody test -x "$ISOL8" || bail "nobody cannot execute $ISOL8 (build in a world-readable directory)"

status_field() { awk -v f="$2:" '$1 == f {$1 = ""; sub(/^ +/, ""); print; exit}' "/proc/$1/status"; }
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status"; }
ASAN_BUILD=$(ldd "$ISOL8D" 2>/dev/null | grep -o libasan | head -1)

daemon_start p || done_testing
S=${D_SOCK[p]}
BPID=${D_PID[p]}

# Worker lockdown.
case_worker_lockdown() {
	workers=$(daemon_workers p)
	is "$(wc -w <<<"$workers")" 2 "two isol8-worker children of this isol8d"
	is "$(pgrep -x -P "$BPID" isol8-worker | sort | tr '\n' ' ')" "$(sort <<<"$workers" | tr '\n' ' ')" \
		"pgrep -x isol8-worker -P <broker> agrees"
	# unix socket inode -> bound path, for every socket on the host (the accepted end of a
	# connection to docker.sock carries docker.sock as its local address)
	sockmap=$(ss -xapn 2>/dev/null | awk 'NR > 1 {print $6, $5}')
	for w in $workers; do
		for f in CapInh CapPrm CapEff CapBnd CapAmb; do
			is "$(status_field "$w" "$f")" 0000000000000000 "worker $w: $f 0"
		done
		is "$(status_field "$w" NoNewPrivs)" 1 "worker $w: NoNewPrivs 1"
		is "$(status_field "$w" Seccomp)" 2 "worker $w: Seccomp 2 (filter)"
		uids=$(status_field "$w" Uid)
		like "$uids" '^[1-9][0-9]*[[:space:]]+[1-9][0-9]*[[:space:]]+[1-9][0-9]*[[:space:]]+[1-9][0-9]*$' \
			"worker $w: real, effective, saved and fs uid non-zero ($uids)"
		gids=$(status_field "$w" Gid)
		unlike "$gids" '(^|[[:space:]])0([[:space:]]|$)' "worker $w: no gid 0 ($gids)"
		is "$(status_field "$w" Groups)" "" "worker $w: no supplementary groups"
		targets=$(for fd in /proc/"$w"/fd/*; do readlink "$fd"; done)
		unlike "$targets" 'docker\.sock|containerd' "worker $w: no fd opened on docker.sock"
		peers=""
		for ino in $(ss -xapn 2>/dev/null | awk -v p="pid=$w," 'index($0, p) {print $8}'); do
			peers="$peers $(awk -v i="$ino" '$1 == i {print $2}' <<<"$sockmap")"
		done
		unlike "$peers" 'docker\.sock' "worker $w: no unix socket connected to docker.sock (peers:${peers:- none})"
		is "$(readlink "/proc/$w/exe")" "$BUILDDIR/isol8-worker" "worker $w: runs isol8-worker"
	done
}

# Ceilings as nobody (built-in policy: tenant local).
case_ceilings_as_nobody() {
	run_cap as_nobody "$ISOL8" run --socket "$S" --memory 2g --pids-limit 5000 --timeout 600000 --json \
		-r bash -e 'echo clamped' </dev/null
	is "$RC|$(json_get "$OUT" '.stdout')" '0|"clamped\n"' "nobody: run above the ceilings succeeds (clamp)"
	is "$(json_get "$OUT" '.limits | [.memoryLimit, .memoryBytes, .pidsLimit, .timeoutMs, .network, .readonlyRootFs]')" \
		'["512m",536870912,64,30000,"none",true]' "nobody: --memory 2g clamped to 512m, pids to 64, timeout to 30000"

	run_cap as_nobody "$ISOL8" run --socket "$S" --persist --memory 2g -r bash -e 'echo kept' </dev/null
	is "$RC|$OUT" $'0|kept\n' "nobody: --persist run"
	cid=$(grep -o 'Container kept: [0-9a-f]*' <<<"$ERR" | awk '{print $3}')
	like "$cid" '^[0-9a-f]{12,64}$' "nobody: --persist prints the container id"
	if [ -n "$cid" ]; then
		insp=$(docker inspect "$cid" | jq -c '.[0]')
		is "$(json_get "$insp" '.HostConfig.Memory')" 536870912 "inspect: HostConfig.Memory is the clamped 512m"
		is "$(json_get "$insp" '.HostConfig.MemorySwap')" 536870912 "inspect: no swap beyond the memory limit"
		is "$(json_get "$insp" '.HostConfig.PidsLimit')" 64 "inspect: PidsLimit 64"
		is "$(json_get "$insp" '.HostConfig.CapDrop')" '["ALL"]' "inspect: CapDrop [\"ALL\"]"
		is "$(json_get "$insp" '.HostConfig.CapAdd // [] | length')" 0 "inspect: no CapAdd"
		is "$(json_get "$insp" '.HostConfig.ReadonlyRootfs')" true "inspect: ReadonlyRootfs true"
		is "$(json_get "$insp" '.HostConfig.Privileged')" false "inspect: Privileged false"
		is "$(json_get "$insp" '.HostConfig.NetworkMode')" '"none"' "inspect: NetworkMode none"
		is "$(json_get "$insp" '[.HostConfig.SecurityOpt[] | select(test("^no-new-privileges(:true)?$"))] | length')" 1 \
			"inspect: SecurityOpt has no-new-privileges"
		is "$(json_get "$insp" '[.HostConfig.SecurityOpt[] | select(startswith("seccomp=") and . != "seccomp=unconfined")] | length')" \
			1 "inspect: SecurityOpt has a seccomp profile (not unconfined)"
		# local's block of the default hostUidRange (FNV-1a("local") % 16384 = 9992): 1889280000..+1023
		u=$(json_get "$insp" '.Config.Labels["org.isol8.uid"] | tonumber')
		is "$(json_get "$insp" '.Config.User')" "\"$u:$u\"" "inspect: User is the sandbox's own uid:gid ($u)"
		is "$(((u - 1889280000) >> 10))" 0 "inspect: a uid of tenant local's block"
		is "$(json_get "$insp" '.Config.Labels["org.isol8.tenant"]')" '"local"' "inspect: tenant label local"
		is "$(json_get "$insp" '.Config.Labels["org.isol8.instance"]')" "\"$S\"" "inspect: instance label is this daemon"
		docker rm -f "$cid" >/dev/null 2>&1
	fi

	run_cap as_nobody "$ISOL8" run --socket "$S" --net host -r bash -e 'echo no' </dev/null
	is "$RC|$OUT" "1|" "nobody: --net host refused (exit 1, nothing ran)"
	like "$ERR" $'^\\[ERR\\] [^\n]*host[^\n]*not allowed[^\n]*\n$' "nobody: --net host: one [ERR] line naming host"
	run_cap as_nobody "$ISOL8" run --socket "$S" --writable -r bash -e 'echo no' </dev/null
	is "$RC|$OUT" "1|" "nobody: --writable refused (exit 1)"
	run_cap "$ISOL8" run --socket "$S" --json --memory 2g -r bash -e 'echo admin' </dev/null
	is "$RC|$(json_get "$OUT" '.limits.memoryLimit')" '0|"2g"' "root (admin tenant): --memory 2g is kept"
}

# Hostile frontend.
case_hostile_frontend() {
	sleep 3 # let background work (pool top-ups) settle: it holds Docker connections while it runs
	fds_before=$(fd_count "$BPID")
	workers_before=$(daemon_workers p | sort -n | tr '\n' ' ')
	run_cap "$FUZZ" "$S" </dev/null
	while read -r verdict rest; do
		case $verdict in
		PASS) ok "fuzz: $rest" ;;
		FAIL) not_ok "fuzz: ${rest%%: *}" "${rest#*: }" ;;
		esac
	done <<<"$OUT"
	is "$RC" 0 "broker_fuzz: every case passed"
	[ -n "$ERR" ] && diag "broker_fuzz stderr: $ERR"
	if proc_gone "$BPID"; then not_ok "broker alive after the fuzzer" "$(tail -20 "${D_LOG[p]}")"; else
		ok "broker alive after the fuzzer"; fi
	is "$(cat "${D_DIR[p]}/pid")" "$BPID" "broker pid unchanged after the fuzzer"
	is "$(daemon_workers p | sort -n | tr '\n' ' ')" "$workers_before" "workers survived the fuzzer (same pids)"
	run_cap "$ISOL8" run --socket "$S" -r bash -e 'echo after-fuzz' </dev/null
	is "$RC|$OUT|$ERR" $'0|after-fuzz\n|' "a valid run after the fuzzer"
	sleep 3
	fds_after=$(fd_count "$BPID")
	if [ "$fds_after" -le "$fds_before" ]; then ok "broker fd count not grown by the fuzzer ($fds_before -> $fds_after)"; else
		not_ok "broker fd count not grown by the fuzzer" "$fds_before -> $fds_after: $(ls -l "/proc/$BPID/fd")"; fi
	like "$(cat "${D_LOG[p]}")" 'peer uid=0 pid=[0-9]+ reason=' "broker logs bad peers with uid, pid and reason"
}

# Policy file: onExceed refuse, and refused callers.
case_policy_refuse_and_refused_callers() {
	cat >"$T_TMP/refuse.json" <<'EOF'
{
  "defaultTenant": "local",
  "tenants": {
    "admin": {
      "match": { "uids": [0], "gids": [], "keys": [] },
      "onExceed": "clamp",
      "limits": { "memory": "8g", "cpu": "all", "pids": 4096, "timeoutMs": 3600000, "sandboxSize": "8g",
                  "tmpSize": "8g", "maxOutput": "64m", "maxSessions": 64, "sessionIdleMs": 1800000,
                  "maxConcurrent": 16 },
      "runtimes": ["python", "node", "bun", "deno", "bash"],
      "network": ["none", "filtered", "host"],
      "writableRoot": true, "customImages": true, "images": [".*"], "seccomp": "strict"
    },
    "local": {
      "match": { "uids": [], "gids": [], "keys": [] },
      "onExceed": "refuse",
      "limits": { "memory": "512m", "cpu": 1.0, "pids": 64, "timeoutMs": 30000, "sandboxSize": "512m",
                  "tmpSize": "256m", "maxOutput": 1048576, "maxSessions": 8, "sessionIdleMs": 1800000,
                  "maxConcurrent": 4 },
      "runtimes": ["python", "bash"],
      "network": ["none"],
      "writableRoot": false, "customImages": false, "images": [], "seccomp": "strict"
    }
  }
}
EOF
	jq '.defaultTenant = null | del(.tenants.local)' "$T_TMP/refuse.json" >"$T_TMP/rootonly.json"
	chmod 0644 "$T_TMP"/*.json
	if daemon_start q --policy "$T_TMP/refuse.json"; then
		Q=${D_SOCK[q]}
		like "$(cat "${D_LOG[q]}")" "policy: $T_TMP/refuse.json" "daemon q loaded the policy file"
		run_cap as_nobody "$ISOL8" run --socket "$Q" --memory 2g -r bash -e 'echo no' </dev/null
		is "$RC|$OUT" "1|" "refuse policy: --memory 2g refused (exit 1, nothing ran)"
		like "$ERR" $'^\\[ERR\\] [^\n]*memory[^\n]*2g[^\n]*512m[^\n]*\n$' "refuse policy: one [ERR] line naming memory, 2g and 512m"
		run_cap as_nobody "$ISOL8" run --socket "$Q" --pids-limit 100 -r bash -e 'echo no' </dev/null
		is "$RC|$OUT" "1|" "refuse policy: --pids-limit 100 refused"
		like "$ERR" $'^\\[ERR\\] [^\n]*pids[^\n]*\n$' "refuse policy: message names pids"
		run_cap as_nobody "$ISOL8" run --socket "$Q" -r node -e 'console.log(1)' </dev/null
		is "$RC|$OUT" "1|" "refuse policy: runtime node not allowed for local"
		like "$ERR" $'^\\[ERR\\] [^\n]*node[^\n]*\n$' "refuse policy: message names the runtime"
		is "$(docker ps -aq --filter "label=org.isol8.instance=$Q" --filter label=org.isol8.tenant=local)" "" \
			"refuse policy: no container was created for the refused runs"
		run_cap as_nobody "$ISOL8" run --socket "$Q" --memory 256m --json -r bash -e 'echo fits' </dev/null
		is "$RC|$(json_get "$OUT" '[.stdout, .limits.memoryLimit]')" '0|["fits\n","256m"]' "refuse policy: a request within the ceilings runs"
		run_cap "$ISOL8" run --socket "$Q" --memory 2g --json -r bash -e 'echo admin' </dev/null
		is "$RC|$(json_get "$OUT" '.limits.memoryLimit')" '0|"2g"' "refuse policy: root is admin and may use 2g"
		daemon_stop q
	fi
	if daemon_start n --policy "$T_TMP/rootonly.json"; then
		N=${D_SOCK[n]}
		run_cap as_nobody "$ISOL8" run --socket "$N" -r bash -e 'echo no' </dev/null
		is "$RC|$OUT" "1|" "defaultTenant null: nobody refused (exit 1)"
		like "$ERR" $'^\\[ERR\\] [^\n]*not allowed[^\n]*\n$' "defaultTenant null: one clear [ERR] ... not allowed ... line"
		run_cap as_nobody "$ISOL8" session list --socket "$N" </dev/null
		is "$RC" 1 "defaultTenant null: nobody's session list refused too"
		run_cap "$ISOL8" run --socket "$N" -r bash -e 'echo root-ok' </dev/null
		is "$RC|$OUT" $'0|root-ok\n' "defaultTenant null: uid 0 still served"
		if proc_gone "${D_PID[n]}"; then not_ok "daemon n alive after refusing callers"; else
			ok "daemon n alive after refusing callers"; fi
		daemon_stop n
	fi
}

# A worker killed mid-execution.
case_worker_killed_mid_run() {
	if daemon_start k --workers 1; then
		K=${D_SOCK[k]}
		old=$(daemon_workers k)
		is "$(wc -w <<<"$old")" 1 "daemon k has one worker"
		"$ISOL8" run --socket "$K" -r bash -e 'echo started; sleep 30; echo finished' \
			>"$T_TMP/k.out" 2>"$T_TMP/k.err" </dev/null &
		cli=$!
		for ((i = 0; i < 150; i++)); do
			grep -q started "$T_TMP/k.out" 2>/dev/null && break
			sleep 0.1
		done
		cont=$(daemon_containers k) # all owned by the one worker (the victim's and any warm ones)
		victim=""
		for c in $cont; do docker top "$c" 2>/dev/null | grep -q 'sleep 30' && victim=$c; done
		is "$(grep -c started "$T_TMP/k.out")" 1 "victim run started"
		like "$victim" '^[0-9a-f]{64}$' "victim container found (runs sleep 30)"
		t0=$(date +%s%N)
		kill -9 $old
		for ((i = 0; i < 100; i++)); do
			proc_gone "$cli" && break
			sleep 0.1
		done
		t1=$(date +%s%N)
		if proc_gone "$cli"; then
			wait "$cli"; crc=$?
			ok "client ends $(((t1 - t0) / 1000000)) ms after the worker was killed"
		else
			kill "$cli"; wait "$cli"; crc=killed
			not_ok "client ends within 10 s after the worker was killed"
		fi
		if [ "$crc" != 0 ] && [ "$crc" != killed ]; then ok "client exits non-zero ($crc)"; else
			not_ok "client exits non-zero" "exit $crc"; fi
		like "$(cat "$T_TMP/k.err")" '^\[ERR\] ' "client prints an [ERR] line"
		unlike "$(cat "$T_TMP/k.out")" finished "the program did not run to the end"
		still() { local c; for c in $cont; do docker ps -aq --filter "id=$c"; done; }
		for ((i = 0; i < 100; i++)); do
			[ -z "$(still)" ] && break
			sleep 0.1
		done
		is "$(still)" "" "every container of the dead worker is removed (within $((i / 10)) s)"
		new=""
		for ((i = 0; i < 100; i++)); do
			new=$(daemon_workers k)
			[ -n "$new" ] && [ "$new" != "$old" ] && break
			sleep 0.1
		done
		like "$new" '^[0-9]+$' "a new worker is spawned"
		isnt "$new" "$old" "the new worker is a new process"
		if [ -n "$new" ]; then
			# it is listed as soon as it has exec'd; lockdown follows within milliseconds
			for ((i = 0; i < 50; i++)); do
				[ "$(status_field "$new" Seccomp)" = 2 ] && break
				sleep 0.1
			done
			is "$(status_field "$new" Seccomp)|$(status_field "$new" CapEff)|$(status_field "$new" NoNewPrivs)" \
				"2|0000000000000000|1" "the new worker is locked down"
		fi
		run_cap "$ISOL8" run --socket "$K" -r bash -e 'echo next' </dev/null
		is "$RC|$OUT" $'0|next\n' "the new worker serves the next request"
		daemon_stop k
	fi
}

# 200 sequential runs: no fd or RSS growth.
case_no_growth_over_200_runs() {
	snapshot() { # -> "pid fds rss" per process (broker first)
		local p
		for p in "$BPID" $(daemon_workers p | sort -n); do echo "$p $(fd_count "$p") $(rss_kb "$p")"; done
	}
	bad_runs=0
	snap20=""
	for ((i = 1; i <= 200; i++)); do
		out=$("$ISOL8" run --socket "$S" -r bash -e 'echo 1' </dev/null 2>&1)
		[ "$out" = 1 ] || { bad_runs=$((bad_runs + 1)); [ "$bad_runs" -le 3 ] && diag "run $i: $out"; }
		if [ "$i" = 20 ]; then sleep 1; snap20=$(snapshot); fi
	done
	sleep 1
	snap200=$(snapshot)
	is "$bad_runs" 0 "200 sequential runs all print 1"
	diag "after run 20 (pid fds VmRSS_kB, broker first):"
	diag "$snap20"
	diag "after run 200:"
	diag "$snap200"
	is "$(awk '{print $1}' <<<"$snap200" | tr '\n' ' ')" "$(awk '{print $1}' <<<"$snap20" | tr '\n' ' ')" \
		"same broker and worker pids at run 20 and run 200"
	while read -r pid f20 r20 && read -r _ f200 r200 <&3; do
		name=worker
		[ "$pid" = "$BPID" ] && name=broker
		if [ "$f200" -le $((f20 + 2)) ]; then ok "$name $pid: fds $f20 -> $f200 (tolerance 2)"; else
			not_ok "$name $pid: fds $f20 -> $f200 (tolerance 2)"; fi
		if [ -n "$ASAN_BUILD" ]; then
			# ASan keeps freed memory in quarantine: RSS grows by design there; leaks are its own job.
			ok "# SKIP $name $pid: VmRSS $r20 -> $r200 kB not compared in a sanitizer build"
		elif [ "$r200" -le $((r20 + 2048)) ]; then ok "$name $pid: VmRSS $r20 -> $r200 kB (tolerance 2048)"; else
			not_ok "$name $pid: VmRSS $r20 -> $r200 kB (tolerance 2048)"; fi
	done <<<"$snap20" 3<<<"$snap200"
}

run_cases "$@"
