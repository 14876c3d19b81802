#!/bin/bash
# Issue "tenant isolation" #9: --persist was unbounded. Persisted sandboxes had no quota and
# ran on outside maxConcurrent and maxSessions, so one local tenant could keep any number of
# containers (and their background processes) alive. Replays it under the built-in policy
# (maxPersist 2 for tenant local) and with a policy that forbids persist.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-persist

persisted() { docker ps -aq --filter "label=org.isol8.instance=$1" --filter label=org.isol8.kind=persist | grep -c .; }

case_persist_quota() {
	local S=${D_SOCK[a]} i
	for i in 1 2; do
		run_cap as_nobody "$ISOL8" run --socket "$S" --persist -r bash -e 'sleep 1000 & echo kept' </dev/null
		is "$RC|$OUT" $'0|kept\n' "nobody: persisted sandbox $i of 2"
	done
	run_cap as_nobody "$ISOL8" run --socket "$S" --persist -r bash -e 'echo third' </dev/null
	is "$RC|$OUT" "1|" "nobody: a third --persist run is refused (exit 1, nothing ran)"
	like "$ERR" "^\\[ERR\\] [^\n]*tenant local already has 2 persisted sandboxes \\(policy maximum maxPersist\\)" \
		"with one [ERR] line naming the policy maximum"
	is "$(persisted "$S")" 2 "exactly two persisted containers exist"
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'echo plain' </dev/null
	is "$RC|$OUT" $'0|plain\n' "ordinary runs of the tenant are not affected"
	run_cap "$ISOL8" run --socket "$S" --persist -r bash -e 'echo admin kept' </dev/null
	is "$RC|$OUT" $'0|admin kept\n' "another tenant (admin) still persists: the quota is per tenant"
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

daemon_start a || bail "isol8d did not start"
run_cases "$@"
