# TAP for the shell tests: ok/not_ok/is/like/..., done_testing, and the case runner run_cases.
# Sourced by tests/lib/daemon.sh, and directly by tests that start no daemon.
# ---- TAP ----------------------------------------------------------------------------------------
T_N=0 T_PASS=0 T_FAIL=0 T_SKIP=0
ok() { T_N=$((T_N + 1)); T_PASS=$((T_PASS + 1)); printf 'ok %d - %s\n' "$T_N" "$1"; }
not_ok() {
	T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); printf 'not ok %d - %s\n' "$T_N" "$1"
	if [ $# -gt 1 ]; then printf '%s\n' "$2" | head -c 4000 | sed 's/^/#   /'; echo; fi
	return 0
}
skip() { # DESC REASON: a test that could not run here, counted as passed (TAP's SKIP directive)
	T_N=$((T_N + 1)); T_PASS=$((T_PASS + 1)); T_SKIP=$((T_SKIP + 1))
	printf 'ok %d - %s # SKIP %s\n' "$T_N" "$1" "$2"
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
is() { # GOT WANT DESC
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3" "got:  [$1]
want: [$2]"; fi
}
isnt() {
	if [ "$1" != "$2" ]; then ok "$3"; else not_ok "$3" "got unwanted [$1]"; fi
}
like() { # GOT ERE DESC
	if [[ $1 =~ $2 ]]; then ok "$3"; else not_ok "$3" "got:  [$1]
want match: /$2/"; fi
}
unlike() {
	if [[ $1 =~ $2 ]]; then not_ok "$3" "got:  [$1]
must not match: /$2/"; else ok "$3"; fi
}
check() { # DESC CMD...
	local d=$1 out rc
	shift
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" = 0 ]; then ok "$d"; else not_ok "$d" "command failed ($rc): $* : $out"; fi
}
done_testing() {
	echo "1..$T_N"
	echo "# $T_PASS passed, $T_FAIL failed"
	[ "$T_SKIP" = 0 ] || echo "# $T_SKIP of them skipped"
	[ "$T_FAIL" = 0 ] && exit 0
	exit 1
}

# run_cases [-k NAME]... | -l: run every function named case_<name>, in the order the script
# defines them, or only those whose name contains one of the NAMEs; then the function `teardown` if the
# script has one (stop its daemons), then done_testing. A script that ends with
# `run_cases "$@"` lets one case be run alone (`script.sh -k timeout`) and lists them with -l.
# Each case sets up what it needs, so that it passes alone as in the whole run.
# The script's own path, taken now: a test that changes directory keeps its cases' order.
T_SCRIPT=$(realpath "${BASH_SOURCE[-1]}" 2>/dev/null || echo "${BASH_SOURCE[-1]}")
case_names() {
	local src=$T_SCRIPT
	{ grep -oE '^case_[A-Za-z0-9_]+' "$src" 2>/dev/null || declare -F | awk '{print $3}' | grep '^case_'; } | awk '!seen[$0]++'
}
run_cases() {
	local sel=() f n=0 k hit
	while [ $# -gt 0 ]; do
		case $1 in
		-k) [ $# -ge 2 ] || { echo "usage: $0 [-k CASE]... | -l" >&2; exit 2; }; sel+=("$2"); shift 2 ;;
		-l) case_names | sed 's/^case_//'; exit 0 ;;
		*) echo "usage: $0 [-k CASE]... | -l" >&2; exit 2 ;;
		esac
	done
	for f in $(case_names); do
		declare -F "$f" >/dev/null || continue
		hit=$((${#sel[@]} == 0))
		for k in "${sel[@]}"; do [[ $f == *"$k"* ]] && hit=1; done
		[ "$hit" = 1 ] || continue
		diag "case ${f#case_}"
		n=$((n + 1))
		"$f"
	done
	[ "$n" -gt 0 ] || bail "no case matches '${sel[*]}'"
	if declare -F teardown >/dev/null; then teardown; fi
	done_testing
}

bail() { echo "Bail out! $*"; exit 99; }
