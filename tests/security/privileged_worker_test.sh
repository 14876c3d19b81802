#!/bin/bash
# Issue "tenant isolation" #10: a compromised worker inherited admin. Prewarm handed workers an
# admin token, tokens lived until the worker said it was done, and a fake worker
# (--worker-path) used one to create a host-network, writable-root sandbox. Replays it with a
# fake worker, and checks that the admin tenant's work never lands in a worker it shares
# with other tenants.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-privileged-worker

case_fake_worker_cannot_escalate() {
	local log=$T_TMP/fake.log n
	: >"$log"
	chmod 0666 "$log"
	cat >"$T_TMP/fake-worker" <<SH
#!/bin/sh
ISOL8_FAKE_LOG=$log PYTHONPATH=$SEC_DIR exec /usr/bin/python3 $SEC_DIR/fake_worker.py "\$@"
SH
	chmod 0755 "$T_TMP/fake-worker"
	# daemon_start passes --worker-path first; a later one wins.
	daemon_start f --worker-path "$T_TMP/fake-worker" --prewarm bash || return
	for ((n = 0; n < 100; n++)); do [ "$(grep -c . "$log")" -ge 2 ] && break; sleep 0.1; done
	run_cap as_nobody "$ISOL8" run --socket "${D_SOCK[f]}" -r bash -e 'true' </dev/null
	sleep 1
	diag "$(cat "$log")"
	unlike "$(cat "$log")" 'result=created' "no token given to a worker yields a host-network, writable-root sandbox"
	like "$(grep 'kind=prewarm' "$log" | head -1)" 'result=refused a prewarm token creates only default sandboxes' \
		"a prewarm token is refused anything but the default shape"
	unlike "$(grep -v '^index=0 ' "$log")" 'tenant=admin' "no worker but the privileged one ever holds an admin token"
	like "$(grep 'kind=conn' "$log")" 'index=1 tenant=local' "nobody's connection went to the unprivileged worker"
	is "$(docker ps -aq --filter "label=org.isol8.instance=${D_SOCK[f]}" --filter network=host)" "" \
		"no host-network container of this daemon exists"
	daemon_stop f
}

# V_REPLACE (a pooled sandbox died): one sandbox made exactly as the dead one, for a dead one only,
# once, and never a replacement of a replacement (a chain would keep the tenant's identity after
# its connection ended).
case_fake_worker_replace() {
	local log=$T_TMP/replace.log n
	: >"$log"
	chmod 0666 "$log"
	cat >"$T_TMP/replace-worker" <<SH
#!/bin/sh
ISOL8_FAKE_REPLACE=1 ISOL8_FAKE_LOG=$log PYTHONPATH=$SEC_DIR exec /usr/bin/python3 $SEC_DIR/fake_worker.py "\$@"
SH
	chmod 0755 "$T_TMP/replace-worker"
	daemon_start rp --worker-path "$T_TMP/replace-worker" --prewarm bash || return
	for ((n = 0; n < 200; n++)); do grep -q 'step=replace-replacement' "$log" && break; sleep 0.1; done
	diag "$(cat "$log")"
	is "$(grep -o 'step=.*' "$log" | sed -E 's/(created|ok)$/\1/; s/refused .*(still running|made as the sandbox it replaces|unknown or expired connection token|itself a replacement).*/refused \1/')" \
		"step=create result=created
step=replace-running result=refused still running
step=replace-dead result=ok
step=other-shape result=refused made as the sandbox it replaces
step=same-shape result=created
step=second-use result=refused unknown or expired connection token
step=replace-replacement result=refused itself a replacement" \
		"replacement: refused while running; one sandbox of the dead one's shape, once; no chain"
	daemon_stop rp
}

case_admin_has_its_own_worker() {
	daemon_start a || return
	local S=${D_SOCK[a]} w pids=()
	run_cap "$ISOL8" run --socket "$S" --session-id adm -r bash -e 'echo admin' </dev/null
	is "$RC|$OUT" $'0|admin\n' "root (tenant admin) runs in a session"
	run_cap as_nobody "$ISOL8" run --socket "$S" --session-id loc -r bash -e 'echo local' </dev/null
	is "$RC|$OUT" $'0|local\n' "nobody (tenant local) runs in a session"
	# Keep the unprivileged worker busy: the admin's ephemeral runs must still not spill there,
	# nor local's into the admin's worker.
	for w in 1 2 3; do
		as_nobody "$ISOL8" run --socket "$S" -r bash -e 'sleep 4' </dev/null >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 1
	run_cap "$ISOL8" run --socket "$S" -r bash -e 'echo spill?' </dev/null
	run_cap as_nobody "$ISOL8" run --socket "$S" -r bash -e 'echo spill?' </dev/null
	wait "${pids[@]}" # not a bare wait: the daemon is our child too
	is "$(docker ps -a --filter "label=org.isol8.instance=$S" --filter label=org.isol8.tenant=admin \
		--format '{{.Label "org.isol8.worker"}}' | sort -u | tr '\n' ' ')" "0 " "every admin sandbox belongs to worker 0"
	is "$(docker ps -a --filter "label=org.isol8.instance=$S" --filter label=org.isol8.tenant=local \
		--format '{{.Label "org.isol8.worker"}}' | sort -u | tr '\n' ' ')" "1 " "every local sandbox belongs to worker 1"
	like "$(cat "${D_LOG[a]}")" 'worker 0 serves privileged tenants only, workers 1-1 the others' "the split is logged"
	"$ISOL8" session stop --socket "$S" adm >/dev/null 2>&1
	as_nobody "$ISOL8" session stop --socket "$S" loc >/dev/null 2>&1
	daemon_stop a
}

run_cases "$@"
