#!/bin/bash
# Issue 12, item 5: a sparse tar in the run bundle crashed a shared worker. A 10 KiB tar
# declaring a 16 GiB sparse file made the worker fill the holes until it aborted on
# out-of-memory; the broker then removed every container of that worker, so other tenants lost
# their sessions. Replays it: tenant bob keeps a session, tenant alice sends the sparse bundle
# (and other hostile ones: huge declared sizes, links, devices, FIFOs, floods of entries, long
# names, duplicate entries, files beyond the sandbox size, ten 240 MiB bundles at once) to the
# same (only) worker. Asserts each is refused with a clear error, the worker is the same live
# process with a bounded RSS, and bob's session still holds its state in the same container.
#
# The daemon under attack runs with a 4 GiB address-space limit (soft RLIMIT_AS, inherited by
# its workers): on a worker without the fix the attack then fails after a few GiB instead of
# filling the host's memory; a fixed worker never comes near it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup bundle
command -v setpriv >/dev/null || bail "setpriv (util-linux) needed to act as ordinary uids"

ALICE=61001 BOB=61002
PY=/usr/bin/python3
AS_LIMIT_GB=4
cat >"$T_TMP/policy.json" <<EOF
{
  "defaultTenant": "local",
  "tenants": {
    "alice": { "match": { "uids": [$ALICE] } },
    "bob": { "match": { "uids": [$BOB] } },
    "local": { "match": { "uids": [] } }
  }
}
EOF
# Soft limit only, and only for the daemon and its workers (restored for the test's own tools).
ulimit -S -v $((AS_LIMIT_GB << 20))
daemon_start B --workers 1 --policy "$T_TMP/policy.json" || bail "daemon did not start: $(cat "${D_LOG[B]}")"
ulimit -S -v unlimited
WORKER=$(daemon_workers B)
[ "$(wc -w <<<"$WORKER")" = 1 ] || bail "expected one worker, got [$WORKER]"
mkdir -p "$T_TMP/home-bob" && chmod 0777 "$T_TMP/home-bob"

as_bob() { run_cap setpriv --reuid=$BOB --regid=$BOB --clear-groups env -C "$T_TMP" HOME="$T_TMP/home-bob" "$@"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }
session_container() {
	docker ps -aq --no-trunc --filter "label=org.isol8.instance=${D_SOCK[B]}" --filter label=org.isol8.session=v1
}

# attack NAME...: alice sends the named bundles (bundles.py builders below); one line each:
# NAME <reply kind> <text>
attack() {
	(cd "$T_TMP" && setpriv --reuid=$ALICE --regid=$ALICE --clear-groups "$PY" - "${D_SOCK[B]}" "$@") <<'PY'
import io, sys, tarfile
import bundles, wire

def ti(name, kind, **kw):
    t = tarfile.TarInfo(name)
    t.type = kind
    for k, v in kw.items():
        setattr(t, k, v)
    return t

def special(info, fmt=tarfile.USTAR_FORMAT):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=fmt) as t:
        t.addfile(info)
    return out.getvalue()

BUILD = {
    'sparse': lambda: bundles.sparse_tar(real_size=16 << 30),
    'sparse-small': lambda: bundles.sparse_tar(real_size=1 << 20),
    'declared-huge': lambda: bundles.raw_entry('files/huge.bin', b'0', b'x' * 4096, size=16 << 30) + bundles.end(),
    'declared-code-huge': lambda: bundles.raw_entry('code', b'0', b'print(1)', size=1 << 40) + bundles.end(),
    'symlink': lambda: special(ti('files/passwd', tarfile.SYMTYPE, linkname='/etc/passwd')),
    'hardlink': lambda: special(ti('files/b', tarfile.LNKTYPE, linkname='files/a')),
    'chardev': lambda: special(ti('files/mem', tarfile.CHRTYPE, devmajor=1, devminor=1)),
    'fifo': lambda: special(ti('files/fifo', tarfile.FIFOTYPE)),
    'many-entries': lambda: bundles.tar_of([('files/d%d' % i, None) for i in range(20001)]),
    'long-name': lambda: special(ti('files/' + 'n' * 2000, tarfile.REGTYPE), tarfile.PAX_FORMAT),
    'code-twice': lambda: bundles.tar_of([('code', b'print(1)'), ('code', b'print(2)')]),
    'code-too-big': lambda: bundles.tar_of([('code', b'#' * ((16 << 20) + 1))]),
    'files-over-sandbox': lambda: bundles.tar_of([('files/a', b'a' * (1 << 20)), ('files/b', b'b' * (1 << 20))]),
}
path = sys.argv[1]
for name in sys.argv[2:]:
    req = {'request': {'runtime': 'python', 'timeoutMs': 10000} , 'options': {'network': 'none', 'sandboxSize': 1 << 20}}
    if not name.startswith(('declared-code', 'code')):
        req['request']['code'] = 'print("ran")'
    kind, text = bundles.request(path, req, bundles.memfd(BUILD[name]()))
    kind = {wire.WK_ERROR: 'error', wire.WK_RESULT: 'result', None: 'none'}.get(kind, kind)
    print(name, kind, text.replace('\n', ' ')[:300])
    sys.stdout.flush()
PY
}

# The victim: bob's session, on the same (only) worker as alice.
as_bob "$ISOL8" run --socket "${D_SOCK[B]}" --session-id v1 -e 'x = 41' </dev/null
is "$RC|$ERR" "0|" "bob starts a session holding x = 41"
BOB_CID=$(session_container)
[ -n "$BOB_CID" ] || bail "bob's session has no container"

case_sparse_bundle_spares_the_worker_and_other_tenants() {
	local vsz out rss0 rss1
	vsz=$(status_kb "$WORKER" VmSize)
	diag "worker VmSize ${vsz} kB, address-space limit $AS_LIMIT_GB GiB"
	rss0=$(status_kb "$WORKER" VmRSS)
	out=$(attack sparse 2>&1)
	like "$out" "^sparse error [^"$'\n'"]*sparse" "alice's 16 GiB sparse bundle is refused, naming the sparse entry"
	rss1=$(status_kb "$WORKER" VmRSS)
	diag "worker VmRSS ${rss0} kB before the sparse bundle, ${rss1:-gone} kB after"
	is "$(daemon_workers B)" "$WORKER" "the worker is the same process (it did not die)"
	if [ -n "$rss1" ] && [ $((rss1 - rss0)) -lt 65536 ]; then ok "its RSS grew by less than 64 MB"; else
		not_ok "its RSS grew by less than 64 MB" "before ${rss0} kB, after ${rss1:-(gone)} kB"; fi
	as_bob "$ISOL8" run --socket "${D_SOCK[B]}" --session-id v1 -e 'print(x + 1)' </dev/null
	is "$RC|$OUT|$ERR" $'0|42\n|' "bob's session still holds its state (prints 42)"
	is "$(session_container)" "$BOB_CID" "bob's session is still in the same container"
}

case_hostile_bundles_are_refused() {
	local out name want line
	out=$(attack sparse-small declared-huge declared-code-huge symlink hardlink chardev fifo many-entries long-name \
		code-twice code-too-big files-over-sandbox 2>&1)
	while read -r name want; do
		line=$(grep "^$name " <<<"$out")
		like "$line" "^$name error .*$want" "$name: refused ($want)"
	done <<'EOF'
sparse-small sparse
declared-huge declares 17179869184 bytes
declared-code-huge declares 1099511627776 bytes
symlink symbolic link
hardlink hard link
chardev character device
fifo FIFO
many-entries more than 20000 entries
long-name longer than 1024 bytes
code-twice given twice
code-too-big more than 16777216
files-over-sandbox files larger than 1048576 bytes
EOF
	is "$(daemon_workers B)" "$WORKER" "the worker survived all of them"
	is "$(session_container)" "$BOB_CID" "bob's session container is still there"
}

case_ordinary_bundles_still_work() {
	mkdir -p "$T_TMP/tree/sub" && echo hello >"$T_TMP/tree/sub/a.txt" && chmod -R a+rX "$T_TMP/tree"
	as_bob "$ISOL8" run --socket "${D_SOCK[B]}" --files "$T_TMP/tree" -e 'print(open("/sandbox/sub/a.txt").read().strip())' </dev/null
	is "$RC|$OUT|$ERR" $'0|hello\n|' "a --files bundle still reaches /sandbox"
}

# Many large bundles at once: each is within every limit, but a worker holding the raw tar and
# its decoded copies for a dozen of them at once would exceed its memory (here a 2 GiB
# address-space limit stands for it). The worker-wide budget refuses the excess, to be retried.
case_concurrent_large_bundles_are_budgeted() {
	local w out
	ulimit -S -v $((2 << 20))
	daemon_start C --workers 1 --policy "$T_TMP/policy.json" || bail "daemon C did not start"
	ulimit -S -v unlimited
	w=$(daemon_workers C)
	out=$( (cd "$T_TMP" && setpriv --reuid=$ALICE --regid=$ALICE --clear-groups "$PY" - "${D_SOCK[C]}") 2>&1 <<'PY'
import sys, threading
import bundles, wire
path, n = sys.argv[1], 8  # the front door lets one uid have 8 pending connections
tar = bundles.tar_of([('files/big.bin', b'B' * (240 << 20))])
fds = [bundles.memfd(tar) for _ in range(n)]
del tar
req = {'request': {'code': 'print(1)', 'cmd': 'true', 'runtime': 'python', 'timeoutMs': 10000},
       'options': {'network': 'none', 'sandboxSize': 256 << 20}}
go = threading.Barrier(n)
res = [None] * n
def one(i):
    go.wait()
    res[i] = bundles.request(path, req, fds[i])
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
for kind, text in res:
    print('error' if kind == wire.WK_ERROR else 'type %s' % kind, text)
PY
)
	diag "$(sort <<<"$out" | uniq -c)"
	is "$(grep -cvE '^error .*(mutually exclusive|too many large bundles)' <<<"$out")" 0 \
		"8 concurrent 240 MiB bundles: each gets an answer (decoded and refused, or over the budget)"
	like "$out" "too many large bundles at once [^"$'\n'"]*retry" "the excess is refused as retryable"
	is "$(daemon_workers C)" "$w" "the worker is the same process (it did not run out of memory)"
	daemon_stop C
}

run_cases "$@"
