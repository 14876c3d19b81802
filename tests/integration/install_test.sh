#!/bin/bash
# `make install DESTDIR=...`: the installed programs carry no path of the tree they were built in,
# not even in their debug information, so an installed isol8d can find no seccomp profile or
# anything else there (common/buildtree.h); and what the image build needs is installed with it
# (the agent's framing sources as files, not links into the tree). Needs a build, not root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$here/../..}/tests/lib/daemon.sh"

find_builddir
DEST=$(mktemp -d /tmp/isol8-install.XXXXXX) || bail "mktemp"
trap 'rm -rf "$DEST"' EXIT
SRC=$(cd "$ISOL8_SRCDIR" && pwd)
# The tree as configure wrote it into the binaries (abs_top_srcdir may read build/..).
CONF_SRC=$(sed -n 's/^abs_top_srcdir = //p' "$BUILDDIR/Makefile")
PREFIX=$(sed -n 's/^prefix = //p' "$BUILDDIR/Makefile")
INSTALLED=0

install_once() {
	[ "$INSTALLED" = 1 ] && return 0
	if make -C "$BUILDDIR" install DESTDIR="$DEST" >"$DEST.log" 2>&1; then
		INSTALLED=1
		ok "make install DESTDIR=... succeeds"
	else
		not_ok "make install DESTDIR=... succeeds" "$(tail -20 "$DEST.log")"
	fi
	rm -f "$DEST.log"
}

case_no_build_path_in_programs() {
	local f n=0 hits
	install_once || return
	for f in "$DEST$PREFIX"/bin/* "$DEST$PREFIX"/sbin/* "$DEST$PREFIX"/libexec/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		n=$((n + 1))
		hits=$(strings -a "$f" | grep -F -e "$SRC" -e "$BUILDDIR" -e "$CONF_SRC" | sort -u | head -5)
		is "$hits" "" "installed ${f#"$DEST"}: no path of the build tree"
	done
	if [ "$n" -ge 5 ]; then
		ok "isol8, isol8-full, isol8d, isol8-worker and isol8-proxy were checked ($n programs)"
	else
		not_ok "isol8, isol8-full, isol8d, isol8-worker and isol8-proxy were checked" "found $n programs"
	fi
}

case_agent_sources_installed() {
	local d="$DEST$PREFIX/share/isol8/sandbox"
	install_once || return
	if [ -f "$d/Dockerfile" ] && [ -f "$d/common/ipc.c" ] && [ ! -L "$d/common/ipc.c" ] && [ -f "$d/common/proto_rows.h" ]; then
		ok "the agent's framing and protocol table are installed as files beside the Dockerfile"
	else
		not_ok "the agent's framing and protocol table are installed as files beside the Dockerfile" \
			"$(ls -la "$d/common" 2>&1)"
	fi
	if [ -f "$DEST$PREFIX/share/isol8/seccomp-strict.json" ]; then
		ok "the sandbox seccomp profile is installed where isol8d looks for it"
	else
		not_ok "the sandbox seccomp profile is installed where isol8d looks for it" "$(ls "$DEST$PREFIX/share/isol8")"
	fi
}

run_cases "$@"
