#!/bin/bash
# CI check of deploy/ (issue 18, item 6), offline: every Kubernetes manifest parses (PyYAML) and
# passes a structural check (deploy/k8s_check.py); the policy in the ConfigMap passes
# isol8d --check-policy; the HAProxy configuration passes haproxy -c; the systemd units pass
# systemd-analyze verify where it runs. TAP. Exit 77 (skip) without python3-yaml or haproxy
# (scripts/deps.sh installs both).
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${ISOL8_BUILDDIR:-$PWD}
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'; }
python3 -c 'import yaml' 2>/dev/null || { echo "1..0 # SKIP python3-yaml not installed (scripts/deps.sh)"; exit 77; }
command -v haproxy >/dev/null || { echo "1..0 # SKIP haproxy not installed (scripts/deps.sh)"; exit 77; }
T=$(mktemp -d /tmp/isol8-deploy.XXXXXX)
trap 'rm -rf "$T"' EXIT

if out=$(python3 "$here/k8s_check.py" "$here"/kubernetes/*.yaml "$T/policy.json" 2>&1); then
	ok "Kubernetes manifests parse and hold together"
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
else
	not_ok "Kubernetes manifests parse and hold together" "$out"
fi
if [ -x "$B/isol8d" ]; then
	if out=$("$B/isol8d" --check-policy "$T/policy.json" 2>&1); then ok "the ConfigMap's policy passes isol8d --check-policy"
	else not_ok "the ConfigMap's policy passes isol8d --check-policy" "$out"; fi
else
	ok "the ConfigMap's policy passes isol8d --check-policy # SKIP isol8d not built in $B"
fi
# haproxy -c needs the configuration's user and chroot only when they exist: check as shipped,
# else without those two lines (a build machine without the haproxy account).
sed -e '/^\s*user /d' -e '/^\s*group /d' -e '/^\s*chroot /d' "$here/haproxy/haproxy.cfg" >"$T/haproxy.cfg"
if out=$(haproxy -c -f "$T/haproxy.cfg" 2>&1); then ok "haproxy -c accepts deploy/haproxy/haproxy.cfg"
else not_ok "haproxy -c accepts deploy/haproxy/haproxy.cfg" "$out"; fi
if bash -n "$here/systemd/isol8-drain" 2>/dev/null && sh -n "$here/systemd/isol8-drain"; then ok "isol8-drain is valid shell"
else not_ok "isol8-drain is valid shell"; fi
if command -v systemd-analyze >/dev/null; then
	# Only the unit's own syntax: the binaries and isol8d.service are not installed here.
	out=$(systemd-analyze verify "$here/systemd/isol8-serve.service" 2>&1 |
		grep -v -e 'not executable' -e 'isol8d.service not found' -e "Command 'man " -e 'Failed to create .*/start')
	if [ -z "$out" ]; then ok "systemd-analyze verify isol8-serve.service"
	else not_ok "systemd-analyze verify isol8-serve.service" "$out"; fi
fi
echo "1..$n"
echo "# $((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
