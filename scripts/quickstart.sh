#!/bin/bash
# From a fresh Debian 12 machine (as root) to a first sandboxed run:
# install what is missing, start a Docker engine if none answers, seed the base image offline,
# build and install isol8, build the runtime images, start isol8d, run a sample.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

step() { printf '\n== %s\n' "$*" >&2; }

step "dependencies";        scripts/deps.sh
step "docker engine";       tests/lib/engine.sh ensure
step "base image";          tests/lib/engine.sh seed
step "build";               scripts/build.sh --enable-werror
step "install";             make -C build install >/dev/null
step "runtime images";      /usr/local/bin/isol8 setup
step "isol8d"
if ! /usr/local/bin/isol8 session list >/dev/null 2>&1; then
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		# make install put the unit in systemd's unit directory and ran systemd-sysusers
		systemctl daemon-reload
		systemctl enable --now isol8d
	else
		/usr/local/sbin/isol8d --pidfile /run/isol8d.pid 2>>/var/log/isol8d.log
		echo "isol8d started (log: /var/log/isol8d.log; stop: kill \$(cat /run/isol8d.pid))" >&2
	fi
	for _ in $(seq 50); do [ -S /run/isol8/isol8d.sock ] && break; sleep 0.1; done
fi
step "sample run"
/usr/local/bin/isol8 run -e "print('hello from isol8')"
step "other users"
echo "Members of the group isol8 may run code: usermod -aG isol8 USER (then log in again)." >&2
