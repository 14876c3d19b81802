# shellcheck shell=bash
# Shared part of the attack replays in tests/security/ (sourced). Each script defines its
# cases as functions named case_<name>; `script.sh` runs them all, `script.sh -k NAME` only
# those whose name contains NAME. Each case attacks a real isol8d and asserts the attack fails.
SEC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/daemon.sh
. "$SEC_DIR/../lib/daemon.sh"
export PYTHONPATH="$SEC_DIR${PYTHONPATH:+:$PYTHONPATH}"

# as_nobody CMD...: a local tenant other than root (the built-in policy's "local"). Call after
# daemon_setup (its home lives in the test's temp dir).
as_nobody() {
	mkdir -p "$T_TMP/home-nobody" && chmod 0777 "$T_TMP/home-nobody"
	setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$T_TMP/home-nobody" "$@"
}
