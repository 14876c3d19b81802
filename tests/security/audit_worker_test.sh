#!/bin/bash
# Issue 14: the audit log is written by the broker, which takes from a worker only what the
# worker alone knows and checks each field. A compromised worker (tests/security/audit_worker.py,
# started with --worker-path) sends an honest report and forged ones; only the honest one is
# written, with the tenant and principal the broker knows, and the worker cannot read another
# sandbox's usage.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-audit-worker

case_forged_reports_are_refused() {
	local log=$T_TMP/fake.log L recs n
	: >"$log"
	chmod 0666 "$log"
	cat >"$T_TMP/fake-worker" <<SH
#!/bin/sh
ISOL8_FAKE_LOG=$log PYTHONPATH=$SEC_DIR exec /usr/bin/python3 $SEC_DIR/audit_worker.py "\$@"
SH
	chmod 0755 "$T_TMP/fake-worker"
	daemon_start a --worker-path "$T_TMP/fake-worker" --workers 1 || return
	L=${D_SOCK[a]}.audit.jsonl
	timeout 20 "$ISOL8" run --socket "${D_SOCK[a]}" -r python -e 'print(1)' </dev/null >/dev/null 2>&1
	for ((n = 0; n < 100; n++)); do grep -q '^usage-own' "$log" && break; sleep 0.1; done
	sleep 0.5
	is "$(cut -d' ' -f1 "$log" | tr '\n' ' ')" \
		"honest foreign-sandbox unknown-token bad-meta-key bad-meta-value trailing-bytes unasked-code bad-outcome bad-exec-id error-without-code usage-foreign usage-bad-flag usage-own " \
		"the fake worker ran every attempt"
	recs=$(jq -c 'select(.type == "execution") | [.executionId, .tenant, .principal, .uid, .image, .metadata, .codeHash]' "$L")
	is "$recs" '["0123abcd-0000-0000-0000-000000000001","admin","uid:0",0,"isol8:python",{"userId":"mallory"},"'"$(printf 'a%.0s' {1..64})"'"]' \
		"only the honest report is written, with the broker's tenant, principal and image"
	like "$(cat "${D_LOG[a]}")" 'audit: sandbox ffffffffffff is not this connection.s' "a report naming another sandbox is refused"
	like "$(cat "${D_LOG[a]}")" 'audit: unknown or expired connection token' "a report with another token is refused"
	like "$(cat "${D_LOG[a]}")" 'audit: metadata pair 0 is not valid' "bad metadata is refused"
	like "$(cat "${D_LOG[a]}")" 'audit: code or output the policy does not record' "code the policy does not record is refused"
	like "$(cat "${D_LOG[a]}")" 'audit: outcome 9 out of range' "an out-of-range outcome is refused"
	like "$(cat "${D_LOG[a]}")" 'audit: error code 0 does not fit outcome error' "an error outcome without its code is refused"
	is "$(grep '^usage-' "$log")" "usage-foreign reply=container ffffffffffff is not owned by this worker
usage-bad-flag reply=usage: reset flag 2 out of range
usage-own reply=ok 41 bytes" "usage: another sandbox's is refused, a bad flag too; its own is answered"
	run_cap "$ISOL8" audit verify "$L"
	is "$RC" 0 "the log still verifies"
	daemon_stop a
}

run_cases "$@"
