#!/bin/bash
# Issue "tenant isolation" #9: --persist was unbounded. Persisted sandboxes had no quota, no
# deadline and no removal by their owner, and ran on outside maxConcurrent and maxSessions, so
# one local tenant could keep any number of containers (and their background processes) alive
# for ever. Replays it under the built-in policy (maxPersist 2 and persistTtlMs 1 h for tenant
# local), with a policy that forbids persist, one with a 2 s ttl, and one that refuses.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-persist

persisted() { docker ps -aq --filter "label=org.isol8.instance=$1" --filter label=org.isol8.kind=persist | grep -c .; }
# as_daemon CMD...: a second local user, in the same tenant (local) as nobody
as_daemon() {
	mkdir -p "$T_TMP/home-daemon" && chmod 0777 "$T_TMP/home-daemon"
	setpriv --reuid=daemon --regid=daemon --clear-groups env HOME="$T_TMP/home-daemon" "$@"
}
kept_id() { grep -o 'Container kept: [0-9a-f]*' <<<"$1" | awk '{print $3}'; }
exists() { docker ps -aq --no-trunc --filter "id=$1" | grep -c .; }
# local_policy JQ OUT: the default policy with its local tenant changed by JQ
local_policy() { jq ".tenants.local |= ($1)" "$ISOL8_SRCDIR/policy/default-policy.json" >"$2"; }

case_persist_quota() {
	local S=${D_SOCK[a]} i ids=() admin
	for i in 1 2; do
		run_cap as_nobody "$ISOL8" run --socket "$S" --persist -r bash -e 'sleep 1000 & echo kept' </dev/null
		is "$RC|$OUT" $'0|kept\n' "nobody: persisted sandbox $i of 2"
		ids+=("$(kept_id "$ERR")")
	done
	run_cap as_nobody "$ISOL8" run --socket "$S" --persist -r bash -e 'echo third' </dev/null
	is "$RC|$OUT" "1|" "nobody: a third --persist run is refused (exit 1, nothing ran)"
	is "$ERR" "[ERR] tenant local already has 2 persisted sandboxes (policy maximum maxPersist); remove one of yours with 'isol8 rm ID' (listed by 'isol8 rm --list')"$'\n' \
		"with one [ERR] line naming the policy maximum and the way out"
	is "$(persisted "$S")" 2 "exactly two persisted containers exist"
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'echo plain' </dev/null
	is "$RC|$OUT" $'0|plain\n' "ordinary runs of the tenant are not affected"
	run_cap "$ISOL8" run --socket "$S" --persist -r bash -e 'echo admin kept' </dev/null
	is "$RC|$OUT" $'0|admin kept\n' "another tenant (admin) still persists: the quota is per tenant"
	admin=$(kept_id "$ERR")
	run_cap as_nobody "$ISOL8" rm --socket "$S" "${ids[0]}"
	is "$RC" 0 "nobody removes one of its own with isol8 rm"
	run_cap as_nobody "$ISOL8" run --socket "$S" --persist -r bash -e 'echo again' </dev/null
	is "$RC|$OUT" $'0|again\n' "and may persist again"
	ids[0]=$(kept_id "$ERR")
	for i in "${ids[@]}"; do as_nobody "$ISOL8" rm --socket "$S" "$i" >/dev/null; done
	"$ISOL8" rm --socket "$S" "$admin" >/dev/null
	is "$(persisted "$S")" 0 "(all removed by their owners)"
}

case_persist_forbidden() {
	jq '.tenants.local.persist = false' "$ISOL8_SRCDIR/policy/default-policy.json" >"$T_TMP/nopersist.json"
	daemon_start p --policy "$T_TMP/nopersist.json" || return
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[p]}" --persist -r bash -e 'echo no' </dev/null
	is "$RC|$OUT" "1|" "persist false: --persist is refused"
	like "$ERR" "persisted sandboxes \\(--persist\\) are not allowed for tenant local" "naming the tenant"
	is "$(persisted "${D_SOCK[p]}")" 0 "and no persisted container exists"
	daemon_stop p
}

# Issue "tenant isolation" #9 (deadline): a persisted container lived until someone ran
# `isol8 cleanup` as root, and the background processes of its program with it. Now isol8d
# removes it limits.persistTtlMs after the run's timeout, whatever the worker does.
case_persist_deadline() {
	local cid pid i gone=0 t0
	local_policy '.limits.persistTtlMs = 8000' "$T_TMP/ttl.json"
	daemon_start t --policy "$T_TMP/ttl.json" || return
	t0=$(date +%s)
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[t]}" --persist --timeout 3000 -r bash \
		-e 'setsid sh -c "echo \$\$ >/tmp/bg; exec sleep 1000" >/dev/null 2>&1 </dev/null &
			while [ ! -s /tmp/bg ]; do sleep 0.05; done; echo kept' </dev/null
	is "$RC|$OUT" $'0|kept\n' "a persisted run that leaves a background process (its own session: the end of the run does not kill it)"
	cid=$(kept_id "$ERR")
	like "$cid" '^[0-9a-f]{64}$' "its container id is printed"
	like "$ERR" "\\[Run\\] isol8d removes it at 20[0-9-]{8}T[0-9:]{8}Z; remove it sooner with 'isol8 rm ${cid:0:12}'" \
		"with when isol8d removes it and how to remove it sooner"
	pid=$(docker top "$cid" -eo pid,args 2>/dev/null | awk '$2 == "sleep" && $3 == 1000 {print $1}')
	like "$pid" '^[0-9]+$' "the background process runs (host pid $pid)"
	is "$(exists "$cid")" 1 "the container is there after the run"
	# timeout 3 s + ttl 8 s from its creation (room for a loaded machine); the broker checks
	# every second
	for ((i = 0; i < 300; i++)); do
		[ "$(exists "$cid")" = 0 ] && { gone=1; break; }
		sleep 0.1
	done
	is "$gone" 1 "isol8d removes it at its deadline ($(($(date +%s) - t0)) s after the run started)"
	check "its background process is gone with it" proc_gone "$pid"
	like "$(cat "${D_LOG[t]}")" "removing 1 sandbox\\(es\\) past their hard deadline" "isol8d logs the removal"
	daemon_stop t
}

# The request may ask for less than the ceiling, never more: clamped under onExceed clamp,
# refused under refuse.
case_persist_ttl_ceiling() {
	local cid
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[a]}" --json --persist --persist-ttl 2h -r bash -e 'echo x' </dev/null
	is "$RC|$(json_get "$OUT" .persistTtlMs)" "0|3600000" "clamp: --persist-ttl 2h becomes the ceiling 1h"
	cid=$(json_get "$OUT" .containerId | tr -d '"')
	run_cap as_nobody "$ISOL8" rm --socket "${D_SOCK[a]}" "$cid"
	is "$RC" 0 "(removed)"
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[a]}" --json --persist --persist-ttl 10m -r bash -e 'echo x' </dev/null
	is "$RC|$(json_get "$OUT" .persistTtlMs)" "0|600000" "less than the ceiling: as asked"
	cid=$(json_get "$OUT" .containerId | tr -d '"')
	run_cap as_nobody "$ISOL8" rm --socket "${D_SOCK[a]}" "$cid"
	is "$RC" 0 "(removed)"
	local_policy '.onExceed = "refuse"' "$T_TMP/refuse.json"
	daemon_start r --policy "$T_TMP/refuse.json" || return
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[r]}" --persist --persist-ttl 2h -r bash -e 'echo no' </dev/null
	is "$RC|$OUT" "1|" "refuse: --persist-ttl 2h is refused, nothing ran"
	is "$ERR" $'[ERR] persist ttl 7200000ms exceeds tenant local ceiling 3600000ms\n' "one [ERR] line naming both values"
	is "$(persisted "${D_SOCK[r]}")" 0 "no persisted container exists"
	daemon_stop r
}

# Issue "tenant isolation" #9 (owner-visible removal): isol8 rm acts on the caller's own kept
# containers only. Another tenant (root, admin) and another user of the same tenant (daemon,
# local like nobody) neither see nobody's container nor remove it, and learn nothing from the
# answer: it is the one an id that never existed gets.
case_persist_rm_foreign() {
	local S=${D_SOCK[a]} cid mine
	run_cap as_nobody "$ISOL8" run --socket "$S" --persist -r bash -e 'echo a' </dev/null
	cid=$(kept_id "$ERR")
	like "$cid" '^[0-9a-f]{64}$' "nobody keeps a container"
	for who in "" as_daemon; do
		run_cap $who "$ISOL8" rm --socket "$S" "$cid"
		is "$RC|$OUT" "1|" "${who:-root}: rm of nobody's container fails (exit 1)"
		is "$ERR" "[ERR] no kept container $cid of yours (list them with 'isol8 rm --list')"$'\n' \
			"${who:-root}: answered as for an unknown id"
		run_cap $who "$ISOL8" rm --socket "$S" "${cid:0:12}"
		is "$RC" 1 "${who:-root}: nor by its short id"
		run_cap $who "$ISOL8" rm --socket "$S" --list --json
		is "$RC|$(json_get "$OUT" 'map(.id)')" "0|[]" "${who:-root}: rm --list does not show it"
		run_cap $who "$ISOL8" cleanup --socket "$S" --container "$cid"
		is "$RC" 1 "${who:-root}: nor does cleanup --container remove it"
	done
	run_cap "$ISOL8" rm --socket "$S" 0123456789abcdef0123
	is "$RC|$ERR" "1|[ERR] no kept container 0123456789abcdef0123 of yours (list them with 'isol8 rm --list')"$'\n' \
		"an id that never existed: the same answer"
	is "$(exists "$cid")" 1 "nobody's container is still there"
	run_cap as_nobody "$ISOL8" rm --socket "$S" --list --json
	mine=$(json_get "$OUT" "map(select(.id == \"$cid\")) | length")
	is "$RC|$mine" "0|1" "nobody sees it in rm --list"
	run_cap as_nobody "$ISOL8" rm --socket "$S" "$cid"
	is "$RC|$OUT" "0|[OK] Container $cid removed."$'\n' "and removes it"
	is "$(exists "$cid")" 0 "then it is gone"
}

# The same through the verbs, from a compromised worker (--worker-path) holding every token
# the broker routed to it: the token decides whose kept containers a verb sees, whatever the
# message names; malformed verbs are refused.
case_persist_rm_verbs() {
	local log=$T_TMP/kept.log n cid
	: >"$log"
	chmod 0666 "$log"
	cat >"$T_TMP/kept-worker" <<SH
#!/bin/sh
ISOL8_FAKE_LOG=$log PYTHONPATH=$SEC_DIR exec /usr/bin/python3 $SEC_DIR/kept_worker.py "\$@"
SH
	chmod 0755 "$T_TMP/kept-worker"
	daemon_start k --workers 1 --worker-path "$T_TMP/kept-worker" || return
	as_nobody "$ISOL8" session list --socket "${D_SOCK[k]}" >/dev/null 2>&1
	for ((n = 0; n < 100; n++)); do grep -q '^create' "$log" && break; sleep 0.1; done
	"$ISOL8" session list --socket "${D_SOCK[k]}" >/dev/null 2>&1
	as_daemon "$ISOL8" session list --socket "${D_SOCK[k]}" >/dev/null 2>&1
	for ((n = 0; n < 100; n++)); do grep -q '^done' "$log" && break; sleep 0.1; done
	diag "$(cat "$log")"
	cid=$(awk '$1 == "create" && $2 == "ok" {print $3}' "$log")
	like "$cid" '^[0-9a-f]{64}$' "the worker made a persisted sandbox with nobody's token"
	for who in admin/uid:0 local/uid:1; do
		is "$(grep -F "list as $who " "$log")" "list as $who ok 00000000" "$who's token lists none of it"
		is "$(grep -F "remove as $who " "$log")" \
			"remove as $who refused no kept container $cid of yours (list them with 'isol8 rm --list')" \
			"$who's token cannot remove it"
		like "$(grep -F "remove-short as $who " "$log")" "refused no kept container" "nor by its short id"
	done
	is "$(grep -c '^remove unknown-token refused unknown or expired connection token' "$log")" 2 "an unknown token is refused"
	is "$(grep -c '^remove not-hex refused a container id is 12 to 64 lowercase hex digits' "$log")" 2 "not an id: refused"
	is "$(grep -c '^remove trailing refused not at message end' "$log")" 2 "trailing bytes: refused by the cursor"
	is "$(grep -c '^remove oversized refused' "$log")" 2 "an oversized id: refused"
	is "$(grep -c '^list trailing refused' "$log")" 2 "list with trailing bytes: refused"
	like "$(grep '^owner list ' "$log")" "^owner list ok 01000000" "nobody's own token lists it"
	is "$(grep '^owner remove ' "$log")" "owner remove ok " "and removes it"
	is "$(exists "$cid")" 0 "gone from docker ps -a"
	daemon_stop k
}

daemon_start a || bail "isol8d did not start"
run_cases "$@"
