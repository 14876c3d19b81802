#!/bin/sh
# isol8 custom-image package installer, run at image build time as root:
#   install.sh <python|node|bun|deno|bash|agent> <package>...
# isol8 validates every name (no leading '-', no shell metacharacters) and passes them as
# separate exec-form arguments; here they only ever travel as "$@", never through eval.
set -eu
eco=$1
shift
[ "$#" -gt 0 ] || exit 0
case "$eco" in
python)
	pip install --no-cache-dir --break-system-packages --disable-pip-version-check -- "$@"
	;;
node | agent)
	npm install -g --no-audit --no-fund --no-update-notifier -- "$@"
	rm -rf /root/.npm
	;;
bun)
	BUN_INSTALL_GLOBAL_DIR=/usr/local/share/bun-global BUN_INSTALL_BIN=/usr/local/bin \
		BUN_INSTALL_CACHE_DIR=/tmp/bun-cache bun add -g -- "$@"
	rm -rf /tmp/bun-cache
	chmod -R a+rX /usr/local/share/bun-global
	;;
deno)
	for m in "$@"; do
		deno cache -- "$m"
	done
	chmod -R a+rX "${DENO_DIR:?}"
	;;
bash)
	apt-get update
	apt-get install -y --no-install-recommends "$@"
	apt-get clean
	rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/dpkg.log
	;;
*)
	echo "install.sh: unknown runtime: $eco" >&2
	exit 2
	;;
esac
