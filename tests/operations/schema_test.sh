#!/bin/bash
# The JSON Schemas of the configuration file and the policy (issue 20, item 9), held to the C
# loaders: the built-in defaults and every JSON example of README.md and the man pages are valid
# for both the schema (python3-jsonschema) and the loader (isol8 config, isol8d --check-policy);
# every file of tests/operations/schema/ is refused by both. And every man page renders without
# a warning. No root, no engine.
# shellcheck source=../lib/daemon.sh
. "${ISOL8_SRCDIR:-$(dirname "$0")/../..}/tests/lib/daemon.sh"
SRC=$(cd "${ISOL8_SRCDIR:-$(dirname "$0")/../..}" && pwd)
find_builddir
T_TMP=$(mktemp -d /tmp/isol8-schema.XXXXXX) || bail "mktemp"
trap 'rm -rf "$T_TMP"' EXIT
CHECK=$SRC/tests/operations/schema_check.py
CONF_SCHEMA=$SRC/docs/isol8-config.schema.json
POL_SCHEMA=$SRC/docs/isol8-policy.schema.json

have_jsonschema() { python3 -c 'import jsonschema' 2>/dev/null; }

# The C loader on a configuration file: "ok", or the exit status and the [ERR] line.
conf_load() { # FILE
	local d
	d=$(mktemp -d "$T_TMP/conf.XXXXXX")
	cp "$1" "$d/isol8.config.json"
	(cd "$d" && HOME=/nonexistent "$ISOL8" config --json >/dev/null 2>"$d/err") && echo ok ||
		echo "$?: $(head -c 300 "$d/err")"
}
pol_load() { # FILE
	"$ISOL8D" --check-policy "$1" >/dev/null 2>"$T_TMP/pol.err" && echo ok || echo "$?: $(head -c 300 "$T_TMP/pol.err")"
}

case_defaults_valid() {
	have_jsonschema || { ok "# SKIP python3-jsonschema not installed"; return; }
	(cd "$T_TMP" && HOME=/nonexistent "$ISOL8" config --json >"$T_TMP/defaults.json")
	is "$(python3 "$CHECK" "$CONF_SCHEMA" "$T_TMP/defaults.json")" valid "the built-in configuration (isol8 config --json) is valid"
	is "$(python3 "$CHECK" "$POL_SCHEMA" "$SRC/policy/default-policy.json")" valid "policy/default-policy.json is valid"
	is "$(pol_load "$SRC/policy/default-policy.json")" ok "  and isol8d --check-policy takes it"
}

case_examples_valid() {
	local kind where json n=0 f
	have_jsonschema || { ok "# SKIP python3-jsonschema not installed"; return; }
	python3 "$CHECK" --examples "$SRC/README.md" "$SRC"/man/*.[1-8] >"$T_TMP/examples" || bail "examples"
	while read -r kind where json; do
		where=${where#"$SRC/"}
		case $kind in
		broken) not_ok "$where: the example is valid JSON" "$json" ;;
		config | policy)
			n=$((n + 1))
			f=$T_TMP/example-$n.json
			printf '%s\n' "$json" >"$f"
			if [ "$kind" = config ]; then
				is "$(python3 "$CHECK" "$CONF_SCHEMA" "$f")|$(conf_load "$f")" "valid|ok" "$where: a valid configuration (schema and isol8 config)"
			else
				is "$(python3 "$CHECK" "$POL_SCHEMA" "$f")|$(pol_load "$f")" "valid|ok" "$where: a valid policy (schema and isol8d --check-policy)"
			fi
			;;
		*) diag "$where: not a configuration or a policy, not checked" ;;
		esac
	done <"$T_TMP/examples"
	like "$(grep -c '^config ' "$T_TMP/examples")|$(grep -c '^policy ' "$T_TMP/examples")" '^[2-9][0-9]*\|[2-9][0-9]*$' \
		"the examples were found (at least two of each)"
	like "$(grep '^config ' "$T_TMP/examples" | cut -d' ' -f2)" 'README\.md:' "  README.md's among them"
}

case_invalid_refused() {
	local f base schema load
	have_jsonschema || { ok "# SKIP python3-jsonschema not installed"; return; }
	for f in "$SRC"/tests/operations/schema/*.json; do
		base=$(basename "$f")
		case $base in
		config-*) schema=$CONF_SCHEMA load=$(conf_load "$f") ;;
		policy-*) schema=$POL_SCHEMA load=$(pol_load "$f") ;;
		*) bail "$base: name it config-* or policy-*" ;;
		esac
		like "$(python3 "$CHECK" "$schema" "$f")" '^invalid: ' "$base: the schema refuses it"
		case $base in
		config-*) like "$load" '^2: \[ERR\] .*isol8\.config\.json: ' "  and so does isol8 config (exit 2, one [ERR] line)" ;;
		*) like "$load" '^1: ' "  and so does isol8d --check-policy (exit 1)" ;;
		esac
	done
}

# isol8 config refuses what isol8 run would: a filter pattern the proxy would not take.
case_config_refuses_like_run() {
	printf '{"network": {"whitelist": ["(pypi|npm)\\\\.org"]}}\n' >"$T_TMP/isol8.config.json"
	run_cap env -C "$T_TMP" HOME=/nonexistent "$ISOL8" config </dev/null
	is "$RC|$OUT|$ERR" "2||[ERR] $T_TMP/isol8.config.json: network.whitelist[0]: invalid network pattern '(pypi|npm)\\.org': regular expressions are not accepted; use a host name (pypi.org), *.domain (any name below domain) or *"$'\n' \
		"isol8 config: a whitelist regex is refused, naming the key"
	run_cap env -C "$T_TMP" HOME=/nonexistent "$ISOL8" run --socket "$T_TMP/none.sock" -r bash -e true </dev/null
	is "$RC|$ERR" "2|[ERR] $T_TMP/isol8.config.json: network.whitelist[0]: invalid network pattern '(pypi|npm)\\.org': regular expressions are not accepted; use a host name (pypi.org), *.domain (any name below domain) or *"$'\n' \
		"  isol8 run refuses it the same way, before it calls isol8d"
	printf '{"network": {"whitelist": ["^pypi\\\\.org$", "*.npmjs.org"]}}\n' >"$T_TMP/isol8.config.json"
	run_cap env -C "$T_TMP" HOME=/nonexistent "$ISOL8" config --json </dev/null
	is "$RC|$(json_get "$OUT" '.network.whitelist')" '0|["^pypi\\.org$","*.npmjs.org"]' \
		"  the regex spelling of a host name is taken, and shown as written"
	# remoteCode's host lists are the original's regular expressions (POSIX ERE, "(?:" read as "(").
	printf '{"remoteCode": {"enabled": true, "blockedHosts": ["(unclosed"]}}\n' >"$T_TMP/isol8.config.json"
	run_cap env -C "$T_TMP" HOME=/nonexistent "$ISOL8" config </dev/null
	is "$RC|$OUT|$ERR" "2||[ERR] $T_TMP/isol8.config.json: remoteCode.blockedHosts[0]: not a regular expression this isol8 reads (POSIX ERE, \"(?:\" allowed): (unclosed"$'\n' \
		"isol8 config refuses a remoteCode host expression the run could not compile"
	run_cap env -C "$T_TMP" HOME=/nonexistent "$ISOL8" run --socket "$T_TMP/none.sock" --url https://example.com/x.py </dev/null
	like "$RC|$ERR" '^2\|\[ERR\] .*remoteCode\.blockedHosts\[0\]: not a regular expression this isol8 reads' "  as isol8 run does"
	rm -f "$T_TMP/isol8.config.json"
}

case_man_pages_render() {
	local f e
	command -v groff >/dev/null || { ok "# SKIP groff not installed"; return; }
	for f in "$SRC"/man/*.[1-8]; do
		e=$(groff -ww -man -Tutf8 "$f" 2>&1 >/dev/null)
		is "$e" "" "$(basename "$f") renders without warnings (groff -ww -man)"
	done
	check "isol8-config(5) is among them" test -f "$SRC/man/isol8-config.5"
}

case_schemas_installed() {
	local root=$T_TMP/root
	make -s --no-print-directory -C "$BUILDDIR" install DESTDIR="$root" >/dev/null 2>&1 || { not_ok "make install"; return; }
	is "$(cd "$root" && find . -name 'isol8-*.schema.json' | sed 's|.*/||' | sort | tr '\n' ' ')" \
		"isol8-config.schema.json isol8-policy.schema.json " "make install puts both schemas in the data directory"
	check "  next to default-policy.json" test -n "$(find "$root" -name default-policy.json -path '*/share/isol8/*')"
	check "  and isol8-config(5) among the man pages" test -n "$(find "$root" -name 'isol8-config.5*')"
}

run_cases "$@"
