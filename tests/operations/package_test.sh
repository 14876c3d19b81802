#!/bin/bash
# A daemon a distribution would ship (issue 20, item 5): what `make install` puts where, the
# unit's exposure as systemd-analyze rates it (printed here), sysusers creating the accounts,
# and a build without Check. Needs the build tree; no engine, no root for most of it.
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
SRC=$(cd "${ISOL8_SRCDIR:-$(dirname "$0")/../..}" && pwd)
find_builddir
T_TMP=$(mktemp -d /tmp/isol8-package.XXXXXX) || bail "mktemp"
trap 'rm -rf "$T_TMP"' EXIT
# --no-print-directory: under `make -C build check` MAKEFLAGS carries -w, whose "Entering directory"
# lines would mix into the values the cases read.
mk() { make -s --no-print-directory -C "$BUILDDIR" "$@"; }
var() { mk -f Makefile -f - print-var V="$1" <<<'print-var: ; @echo $($(V))'; }

case_unit_exposure() {
	local out score
	command -v systemd-analyze >/dev/null || { ok "# SKIP systemd-analyze not installed"; return; }
	mk isol8d.service || bail "make isol8d.service"
	out=$(systemd-analyze security --offline=yes "$BUILDDIR/isol8d.service" 2>&1)
	score=$(sed -n 's/.*Overall exposure level for isol8d.service: \([0-9.]*\).*/\1/p' <<<"$out")
	diag "systemd-analyze security --offline=yes isol8d.service: $score"
	like "$score" '^[0-9]+\.[0-9]$' "systemd-analyze rates the unit"
	ok_if "$(echo "$score <= 4.0" | bc)" "exposure $score is at most 4.0"
	like "$(grep -E '^(Type|ExecReload|UMask|SystemCallArchitectures)=' "$BUILDDIR/isol8d.service" | tr '\n' ' ')" \
		'^Type=notify ExecReload=/bin/kill -HUP \$MAINPID UMask=0077 SystemCallArchitectures=native $' \
		"Type=notify, ExecReload, UMask, native system calls"
	unlike "$(grep -E '^ReadWritePaths=' "$BUILDDIR/isol8d.service")" '=/run$' "not all of /run writable"
}
ok_if() { if [ "$1" = 1 ]; then ok "$2"; else not_ok "$2"; fi; }

case_install_layout() {
	local root=$T_TMP/root unitdir sysusersdir tmpfilesdir sbindir
	unitdir=$(var systemdsystemunitdir) sysusersdir=$(var sysusersdir) tmpfilesdir=$(var tmpfilesdir)
	sbindir=$(var sbindir)
	is "$unitdir|$sysusersdir|$tmpfilesdir" \
		"$(pkg-config --variable=systemdsystemunitdir systemd)|$(pkg-config --variable=sysusersdir systemd)|$(pkg-config --variable=tmpfilesdir systemd)" \
		"configure takes systemd's directories from pkg-config"
	mk install DESTDIR="$root" >/dev/null 2>&1 || { not_ok "make install DESTDIR" "$(mk install DESTDIR="$root" 2>&1 | tail)"; return; }
	ok "make install DESTDIR=... succeeds"
	check "the unit is in systemd's unit directory" test -f "$root$unitdir/isol8d.service"
	is "$(grep '^ExecStart=' "$root$unitdir/isol8d.service")" \
		"ExecStart=$sbindir/isol8d --foreground --no-create-accounts --pidfile /run/isol8/isol8d.pid" \
		"  starting the installed isol8d"
	check "the sysusers.d entry is installed" test -f "$root$sysusersdir/isol8.conf"
	check "the tmpfiles.d entry is installed" test -f "$root$tmpfilesdir/isol8.tmpfiles.conf"
	is "$(grep -v '^#' "$root$tmpfilesdir/isol8.tmpfiles.conf")" "d /run/isol8 0751 root isol8 -" "  /run/isol8 0751 root:isol8"
	if command -v systemd-sysusers >/dev/null; then
		mkdir -p "$T_TMP/sys/etc"
		systemd-sysusers --root="$T_TMP/sys" "$root$sysusersdir/isol8.conf" >/dev/null 2>&1
		like "$(cut -d: -f1 "$T_TMP/sys/etc/group" | tr '\n' ' ')" '(^| )isol8 ' "systemd-sysusers creates the group isol8"
		like "$(awk -F: '$1 == "isol8-unpriv" {print $3 < 1000, $6, $7}' "$T_TMP/sys/etc/passwd")" '^1 /nonexistent /usr/sbin/nologin$' \
			"  and the system account isol8-unpriv"
	fi
}

# A pkg-config that does not know the packages named in $1 (an ERE on the module names).
pkg_config_without() { # ERE -> path
	local pc=$T_TMP/pkg-config-$2
	cat >"$pc" <<EOF
#!/bin/sh
for a in "\$@"; do echo "\$a" | grep -Eq '^($1)' && exit 1; done
exec pkg-config "\$@"
EOF
	chmod +x "$pc"
	echo "$pc"
}

# Configure as if Check were not installed (a pkg-config that does not know it): the build
# works and the unit tests skip.
case_build_without_check() {
	local b=$T_TMP/nocheck rc pc
	mkdir -p "$b"
	pc=$(pkg_config_without check nocheck)
	(cd "$b" && PKG_CONFIG="$pc" "$SRC/configure" --enable-werror >"$b/configure.log" 2>&1)
	rc=$?
	is "$rc" 0 "configure without Check succeeds"
	like "$(cat "$b/configure.log")" "check not found: unit tests will be skipped" "  and says the unit tests will skip"
	make -s -C "$b" -j2 tests/unit/check_parse >"$b/make.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then ok "a unit test builds against the stand-in header"; else
		not_ok "a unit test builds against the stand-in header" "$(tail -20 "$b/make.log")"; fi
	"$b/tests/unit/check_parse" >"$b/run.log" 2>&1
	is "$?|$(cat "$b/run.log")" "77|1..0 # SKIP built without Check (apt-get install check)" "  and skips (exit 77)"
}

# configure --disable-http with no libmicrohttpd at all: isol8 builds, links no libmicrohttpd,
# and `isol8 serve` (and isol8d --http) say in one line that it was built without HTTP.
case_build_without_http() {
	local b=$T_TMP/nohttp rc pc
	mkdir -p "$b"
	pc=$(pkg_config_without libmicrohttpd nohttp)
	(cd "$b" && PKG_CONFIG="$pc" "$SRC/configure" --enable-werror --disable-http >"$b/configure.log" 2>&1)
	rc=$?
	is "$rc" 0 "configure --disable-http without libmicrohttpd succeeds"
	(cd "$b" && PKG_CONFIG="$pc" "$SRC/configure" --enable-werror >"$b/configure2.log" 2>&1)
	like "$?|$(tail -1 "$b/configure2.log")" '^1\|configure: error: libmicrohttpd >= [0-9.]+ not found\. On Debian/Ubuntu: apt-get install libmicrohttpd-dev$' \
		"  without --disable-http it stops and names the package"
	(cd "$b" && PKG_CONFIG="$pc" "$SRC/configure" --enable-werror --disable-http >"$b/configure.log" 2>&1) || bail "configure"
	make -s -C "$b" -j2 isol8 isol8-full isol8d isol8-worker >"$b/make.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then ok "isol8, isol8-full, isol8d and isol8-worker build"; else
		not_ok "isol8, isol8-full, isol8d and isol8-worker build" "$(tail -20 "$b/make.log")"; return; fi
	unlike "$(ldd "$b/isol8-full")" 'libmicrohttpd' "  isol8-full links no libmicrohttpd"
	run_cap "$b/isol8" serve --port 3000 </dev/null
	is "$RC|$OUT|$ERR" "1||[ERR] isol8 serve: this isol8 was built without HTTP (configure --disable-http); rebuild without --disable-http (needs libmicrohttpd-dev) for the HTTP API"$'\n' \
		"isol8 serve: one [ERR] line, exit 1"
	run_cap "$b/isol8d" --http 127.0.0.1:3000 --check-policy "$SRC/policy/default-policy.json" </dev/null
	like "$RC|$ERR" '^2\|.*--http: this isol8 was built without HTTP \(configure --disable-http\)' "isol8d --http: refused, exit 2"
	run_cap "$b/isol8" mcp --bogus </dev/null
	like "$RC|$ERR" "^2\|\[ERR\] unknown argument '--bogus'" "isol8 mcp is still there"
	if [ "$(id -u)" = 0 ] && timeout 20 docker version >/dev/null 2>&1; then
		run_cap env ISOL8_BUILDDIR="$b" "$SRC/tests/integration/http_test.sh" </dev/null
		is "$RC|$OUT" "77|1..0 # SKIP built without HTTP (configure --disable-http)"$'\n' "  the HTTP tests skip there"
		# A script with socket and HTTP cases runs its socket cases and skips only the others.
		if make -s -C "$b" -j2 >"$b/make-all.log" 2>&1; then
			run_cap env ISOL8_BUILDDIR="$b" "$SRC/tests/integration/keys_test.sh" </dev/null
			is "$RC|$(grep -c '^not ok' <<<"$OUT")|$(grep -cE '^ok [0-9]+ - [a-z_]+ # SKIP built without HTTP \(configure --disable-http\)$' <<<"$OUT")" \
				"0|0|4" "  keys_test there: the socket cases pass, its 4 HTTP cases are reported skipped"
			like "$OUT" $'\nok [0-9]+ - keys create: id, the key' "  and the socket cases did run"
		else
			not_ok "the rest of the build without HTTP" "$(tail -20 "$b/make-all.log")"
		fi
	fi
}

run_cases "$@"
