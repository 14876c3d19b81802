#!/bin/bash
# Issue 12 #4 (and the anchoring of #3): network filter patterns chosen by the caller were POSIX
# EREs compiled with glibc regcomp in the root broker and again in the proxy; "a" followed by 20
# "+" took the broker from 2.6 MB to 720 MB, and an unanchored "pypi\.org" allowed
# "pypi.org.evil.test". Now patterns are host names, "*.domain" or "*", checked without
# compiling anything; the common regex spellings are translated, others refused naming the
# syntax. Attacks: the nested-repetition pattern through the CLI (as the HTTP API sends it:
# options.networkFilter), then names that extend an allowed one.
# TAP, final "N passed, N failed"; exit 77 (skip) unless root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=net_lib.sh
. "$here/net_lib.sh"

NET_NAMES="pypi.org pypi.org.evil.test evilpypi.org files.pypi.org allowed.test"
NET_SETUP_SOFT=1 net_setup net_patterns

get_py() { # URL... -> one "CODE BODY" line per URL
	local u out="import urllib.request, urllib.error
def get(u):
    try:
        r = urllib.request.urlopen(u, timeout=5)
        return '%d %s' % (r.status, r.read().decode().strip())
    except urllib.error.HTTPError as e:
        return '%d %s' % (e.code, e.read().decode().strip())
    except Exception as e:
        return 'ERR %s' % type(e).__name__"
	for u in "$@"; do out+=$'\n'"print(get('$u'))"; done
	printf '%s\n' "$out"
}

case_regex_bomb() {
	# Its own daemon under the built-in policy: the attack needs nothing from the admin.
	local before after pbefore pafter pp bomb
	daemon_start b || return
	bomb="a$(printf '+%.0s' $(seq 20))"
	pp=$(proxy_pid b)
	before=$(hwm_kb "${D_PID[b]}")
	pbefore=$(hwm_kb "$pp")
	run_cap "$ISOL8" run --socket "${D_SOCK[b]}" --net filtered --allow "$bomb" -e 'print("ran")' </dev/null
	after=$(hwm_kb "${D_PID[b]}")
	pafter=$(hwm_kb "$pp")
	diag "broker VmHWM ${before} kB -> ${after} kB; proxy ${pbefore} kB -> ${pafter} kB"
	is "$RC" 2 "nested-repetition pattern: usage error (exit 2)"
	like "$ERR" "\[ERR\].*invalid network pattern 'a\+\+\+" "the error names the pattern"
	like "$ERR" "host name \(pypi.org\), \*\.domain .* or \*" "the error names the host-pattern syntax"
	unlike "$OUT" "ran" "nothing ran"
	[ -n "$after" ] && [ "$((after - before))" -lt 20480 ] &&
		ok "broker peak RSS grew by less than 20 MB ($((after - before)) kB)" ||
		not_ok "broker peak RSS grew by less than 20 MB" "before ${before} kB, after ${after} kB"
	[ -n "$pafter" ] && [ "$((pafter - pbefore))" -lt 20480 ] &&
		ok "proxy peak RSS grew by less than 20 MB ($((pafter - pbefore)) kB)" ||
		not_ok "proxy peak RSS grew by less than 20 MB" "before ${pbefore} kB, after ${pafter} kB"
	# the daemon is still there and serves
	run_cap "$ISOL8" run --socket "${D_SOCK[b]}" --net none -e 'print("still serving")' </dev/null
	is "$RC|$OUT" "0|still serving
" "the daemon still serves afterwards"
	daemon_stop b
}

case_other_regex_refused() {
	local p
	for p in '(a|b)+\.test' '[a-z]+\.test' '(^|\.)pypi\.org$'; do
		net_run --net filtered --allow "$p" -e 'print("ran")'
		is "$RC" 2 "regex '$p' is refused (exit 2)"
	done
	net_run --net filtered --allow 'ok.test' --deny '(x+)+' -e 'print("ran")'
	is "$RC" 2 "a regex in the deny list is refused too"
}

case_anchored() {
	# The spellings users of the original wrote all mean exactly pypi.org now.
	local p
	for p in 'pypi\.org' '^pypi\.org$' 'pypi.org'; do
		net_run --net filtered --allow "$p" -e "$(get_py "http://pypi.org:$PORT/index.txt" \
			"http://pypi.org.evil.test:$PORT/index.txt" "http://evilpypi.org:$PORT/index.txt" \
			"http://files.pypi.org:$PORT/index.txt" "http://pypi.org.:$PORT/index.txt")"
		is "$RC|$OUT" "0|200 hello-from-host
403 host not allowed: pypi.org.evil.test (isol8 network policy)
403 host not allowed: evilpypi.org (isol8 network policy)
403 host not allowed: files.pypi.org (isol8 network policy)
200 hello-from-host
" "--allow '$p': pypi.org only, anchored at both ends"
	done
	net_run --net filtered --allow '.*\.pypi\.org' -e "$(get_py "http://files.pypi.org:$PORT/index.txt" \
		"http://pypi.org:$PORT/index.txt" "http://files.pypi.org.evil.test:$PORT/index.txt")"
	is "$RC|$OUT" "0|200 hello-from-host
403 host not allowed: pypi.org (isol8 network policy)
403 host not allowed: files.pypi.org.evil.test (isol8 network policy)
" "--allow '.*\.pypi\.org' is *.pypi.org: names below it only"
	net_run --net filtered --allow '*' --deny 'pypi.org' -e "$(get_py "http://pypi.org.:$PORT/index.txt" \
		"http://allowed.test:$PORT/index.txt")"
	is "$RC|$OUT" "0|403 host not allowed: pypi.org (isol8 network policy)
200 hello-from-host
" "--deny pypi.org also denies the trailing-dot spelling"
}

run_cases "$@"
