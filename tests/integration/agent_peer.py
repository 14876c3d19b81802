#!/usr/bin/env python3
"""Host-side peer for the in-sandbox agent (docker/sandbox/agent.c): plays the worker's part.

Usage: agent_peer.py IMAGE NAME [NODE_IMAGE]. Listens on a socket in a temporary folder, starts the
agent in a locked-down container named NAME (label org.isol8.test=agent) with that folder mounted on
/run/isol8-agent, and checks the protocol of common/agent_proto.h. With NODE_IMAGE (non-empty), the
node standby is checked in a second container, NAME-node. Prints TAP.
"""
import fcntl
import os
import select
import stat
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

A_READY, A_RUN, A_KILL, A_RESET, A_WARM, A_RUN_WARM = 70, 71, 72, 73, 74, 75
A_STARTED, A_EXIT, A_DONE, A_ERROR, A_HANDOFF = 80, 81, 82, 83, 84
HDR = struct.Struct('<HBBHHIII')
# A container variable the programs inherit unless the request overrides it (merge_env).
CENV = b'ISOL8_CENV=fromcontainer'

image, name = sys.argv[1], sys.argv[2]
node_image = sys.argv[3] if len(sys.argv) > 3 else ''
n_test = 0
failed = 0


def ok(cond, what, diag=None):
    global n_test, failed
    n_test += 1
    if not cond:
        failed += 1
    print(('ok' if cond else 'not ok') + ' %d - %s' % (n_test, what), flush=True)
    if not cond and diag is not None:
        print('# ' + str(diag).replace('\n', '\n# '), flush=True)


def frame(mtype, payload=b'', nfds=0, req=1, magic=0x3849, version=1, length=None, reserved=0):
    return HDR.pack(magic, version, mtype, 0, nfds, len(payload) if length is None else length,
                    req, reserved) + payload


def s(b):
    return struct.pack('<I', len(b)) + b


def send(conn, data, fds=()):
    socket.send_fds(conn, [data], list(fds)) if fds else conn.send(data)


def recv(conn, timeout=15):
    t, r, p, fds, _ = recv_fds(conn, timeout)
    for fd in fds:
        os.close(fd)
    assert not fds, 'unexpected fds with message %s' % t
    return t, r, p


def recv_fds(conn, timeout=15):
    """-> (type, request id, payload, received fds, header nfds); the caller owns the fds."""
    conn.settimeout(timeout)
    data, fds, _, _ = socket.recv_fds(conn, 70000, 4)
    if not data:
        return None, None, b'', fds, 0
    magic, ver, mtype, _flags, nfds, length, req, _res = HDR.unpack_from(data)
    assert magic == 0x3849 and ver == 1 and length == len(data) - HDR.size
    return mtype, req, data[HDR.size:], fds, nfds


def errmsg(p):
    (n,) = struct.unpack_from('<I', p)
    return p[4:4 + n].decode()


def run_payload(argv, env=(), cwd=b'/sandbox', timeout_ms=10000):
    p = struct.pack('<QI', timeout_ms, len(argv)) + b''.join(s(a) for a in argv)
    p += struct.pack('<I', len(env)) + b''.join(s(e) for e in env)
    return p + s(cwd)


def run(conn, argv, env=(b'PATH=/usr/local/bin:/usr/bin:/bin',), cwd=b'/sandbox', timeout_ms=10000,
        req=7, kill_after=None):
    """-> (list of (type, payload) replies, stdout, stderr, exit dict or None)."""
    pin, pout, perr = os.pipe(), os.pipe(), os.pipe()
    send(conn, frame(A_RUN, run_payload(argv, env, cwd, timeout_ms), nfds=3, req=req),
         [pin[0], pout[1], perr[1]])
    for fd in (pin[0], pout[1], perr[1], pin[1]):
        os.close(fd)
    replies, ex = [], None
    while True:
        t, r, p = recv(conn)
        replies.append((t, p))
        if t == A_STARTED and kill_after is not None:
            time.sleep(kill_after[0])
            send(conn, frame(A_KILL, bytes([kill_after[1]]), req=req))
        if t != A_STARTED or r != req:
            break
    if replies[-1][0] == A_EXIT:
        code, sig, to, wall, ut, st, rss = struct.unpack('<iBBQQQQ', replies[-1][1])
        ex = dict(code=code, sig=sig, timed_out=to, wall=wall, user=ut, sys=st, rss=rss)
    out = b''.join(iter(lambda: os.read(pout[0], 65536), b''))
    err = b''.join(iter(lambda: os.read(perr[0], 65536), b''))
    os.close(pout[0])
    os.close(perr[0])
    return replies, out, err, ex


def agent_fds(pid):
    r = subprocess.run(['docker', 'exec', '-u', '0', name, 'ls', '/proc/%d/fd' % pid],
                       capture_output=True, text=True)
    return len(r.stdout.split()) if r.returncode == 0 else -1


# The sandbox user's live processes but tini (pid 1) and the agent, as seen from inside.
PROCS = (b'import os, sys\n'
         b'for p in os.listdir("/proc"):\n'
         b'    if not p.isdigit() or int(p) in (1, int(sys.argv[1])):\n'
         b'        continue\n'
         b'    try:\n'
         b'        st = open("/proc/%s/status" % p).read()\n'
         b'        cmd = open("/proc/%s/cmdline" % p).read().replace("\\0", " ").strip()\n'
         b'    except OSError:\n'
         b'        continue\n'
         b'    uid = [l.split()[1] for l in st.splitlines() if l.startswith("Uid:")]\n'
         b'    if uid == ["100"] and "\\nState:\\tZ" not in st:\n'
         b'        print(p, cmd)\n')


def sandbox_procs(pid):
    """-> [(pid, cmdline)] of the sandbox user's processes but the agent's and tini's."""
    r = subprocess.run(['docker', 'exec', '-u', '0', name, 'python3', '-c', PROCS, str(pid)],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    return sorted((int(l.split(b' ', 1)[0]), l.split(b' ', 1)[1].decode()) for l in r.stdout.splitlines())


def start_agent(img, cname, extra=()):
    """Starts the agent in a locked-down container -> (connection, peer uid, temporary folder)."""
    tmp = tempfile.mkdtemp(prefix='isol8-agent-test.')
    os.chmod(tmp, 0o755)
    path = os.path.join(tmp, 'sock')
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    lsock.bind(path)
    os.chmod(path, 0o666)
    lsock.listen(1)
    r = subprocess.run(['docker', 'run', '-d', '--rm', '--name', cname, '--label', 'org.isol8.test=agent',
                        '--read-only', '--tmpfs', '/sandbox:rw,exec,uid=100,gid=101', '--tmpfs', '/tmp:rw,noexec',
                        '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--network', 'none',
                        '--user', '100:101', '-v', tmp + ':/run/isol8-agent:ro'] + list(extra) +
                       [img, '/usr/local/lib/isol8/isol8-agent'], capture_output=True, text=True)
    if r.returncode != 0:
        print('Bail out! docker run: ' + r.stderr.strip())
        sys.exit(1)
    lsock.settimeout(20)
    c, _ = lsock.accept()
    lsock.close()
    cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
    return c, struct.unpack('3i', cred)[1], tmp


def stop_agent(c, cname, tmp):
    """EOF from the worker ends the agent, hence the container: True once it is gone."""
    c.close()
    gone = False
    for _ in range(100):
        if subprocess.run(['docker', 'inspect', cname], capture_output=True).returncode != 0:
            gone = True
            break
        time.sleep(0.1)
    os.unlink(os.path.join(tmp, 'sock'))
    os.rmdir(tmp)
    return gone


def job(code, cwd=b'/sandbox', file=b'', env=()):
    """A standby job (docker/sandbox/standby.py): NUL-separated "1", cwd, file, env count, env, code."""
    return b'\0'.join([b'1', cwd, file, str(len(env)).encode()] + list(env) + [code])


def warm_payload(argv, env=()):
    return (struct.pack('<I', len(argv)) + b''.join(s(a) for a in argv) +
            struct.pack('<I', len(env)) + b''.join(s(e) for e in env))


def read_all(fd, timeout=15):
    """Everything until EOF (None if none within timeout), then closes fd."""
    data, end = b'', time.monotonic() + timeout
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            b = os.read(fd, 65536)
            if not b:
                return data
            data += b
    finally:
        os.close(fd)


def fd_kind(fd):
    """'fifo-r' / 'fifo-w' for a pipe end, else a short description."""
    st = os.fstat(fd)
    acc = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
    if not stat.S_ISFIFO(st.st_mode):
        return 'mode %o' % st.st_mode
    return {os.O_RDONLY: 'fifo-r', os.O_WRONLY: 'fifo-w'}.get(acc, 'fifo-rw')


def run_warm(conn, code, timeout_ms=10000, req=60, stdin=b'', env=(), file=b'', cwd=b'/sandbox', during=None):
    """A_RUN_WARM -> dict(first=(type, payload), kinds, hdr_nfds, pid, out, err, exit) ; exit None unless
    the run reached A_EXIT. during(conn) is called after A_HANDOFF, before reading the output."""
    res = dict(first=None, kinds=[], hdr_nfds=0, pid=None, out=None, err=None, exit=None)
    send(conn, frame(A_RUN_WARM, struct.pack('<Q', timeout_ms) + s(job(code, cwd, file, env)), req=req))
    t, r, p, fds, nfds = recv_fds(conn)
    res['first'] = (t, r, p)
    res['hdr_nfds'] = nfds
    if t != A_HANDOFF or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return res
    res['kinds'] = [fd_kind(fd) for fd in fds]
    res['pid'] = struct.unpack('<I', p)[0] if len(p) == 4 else None
    if stdin:
        os.write(fds[0], stdin)
    os.close(fds[0])
    if during:
        during(conn)
    res['out'] = read_all(fds[1])
    res['err'] = read_all(fds[2])
    t, r, p = recv(conn)
    if t == A_EXIT and r == req:
        code_, sig, to, wall, ut, st, rss = struct.unpack('<iBBQQQQ', p)
        res['exit'] = dict(code=code_, sig=sig, timed_out=to, wall=wall)
    else:
        res['exit_msg'] = (t, r, p)
    return res


def warm_ok(res, out, what, code=0):
    ok(res['first'][0] == A_HANDOFF and res['exit'] is not None and res['exit']['code'] == code and
       res['out'] == out, what, res)


def reset(conn, req=43):
    send(conn, frame(A_RESET, req=req))
    return recv(conn)


conn, peer_uid, tmp = start_agent(image, name, ['-e', CENV.decode()])

t, r, p = recv(conn)
ok(t == A_READY and len(p) == 8 and struct.unpack('<II', p)[0] == 1, 'A_READY version 1', (t, p))
agent_pid = struct.unpack('<II', p)[1] if t == A_READY else 0
ok(peer_uid == 100, 'agent runs as uid 100', peer_uid)

PY = [b'python3', b'-c']
reps, out, err, ex = run(conn, PY + [b'print(1)'])
ok([x[0] for x in reps] == [A_STARTED, A_EXIT] and ex['code'] == 0 and ex['sig'] == 0 and not ex['timed_out'],
   'print(1): A_STARTED then A_EXIT code 0', (reps, ex))
ok(out == b'1\n' and err == b'', 'print(1): stdout is "1\\n"', (out, err))
ok(ex['rss'] > 1000 and ex['user'] + ex['sys'] > 0, 'rusage reported', ex)

_, _, _, ex = run(conn, PY + [b'import sys; sys.exit(3)'])
ok(ex and ex['code'] == 3, 'exit code 3 passes through', ex)

_, out, err, ex = run(conn, PY + [b'import sys; print("out"); print("err", file=sys.stderr)'])
ok(out == b'out\n' and err == b'err\n', 'stdout and stderr are separate', (out, err))

_, out, _, ex = run(conn, [b'sh', b'-c', b'pwd; echo $FOO; cat'], env=[b'FOO=bar'], cwd=b'/sandbox')
ok(out == b'/sandbox\nbar\n', 'default PATH, env and cwd; stdin at EOF', out)

_, _, _, ex = run(conn, [b'sleep', b'5'], timeout_ms=300)
ok(ex and ex['timed_out'] == 1 and ex['sig'] == 9 and ex['code'] == -1 and ex['wall'] < 2000,
   'timeout: SIGKILLed, timed_out 1, wall < 2 s', ex)

_, _, _, ex = run(conn, [b'sleep', b'30'], kill_after=(0.2, 15))
ok(ex and ex['sig'] == 15 and not ex['timed_out'] and ex['wall'] < 5000, 'A_KILL SIGTERM', ex)

# One program at a time: A_RUN and A_RESET are refused while one runs.
pin, pout = os.pipe(), os.pipe()
send(conn, frame(A_RUN, run_payload([b'sleep', b'30']), nfds=3, req=50), [pin[0], pout[1], pout[1]])
t1, _, _ = recv(conn)
send(conn, frame(A_RUN, run_payload([b'true']), nfds=3, req=51), [pin[0], pout[1], pout[1]])
t2, r2, p2 = recv(conn)
send(conn, frame(A_RESET, req=52))
t3, r3, _ = recv(conn)
send(conn, frame(A_KILL, b'\x09', req=50))
t4, r4, p4 = recv(conn)
for fd in pin + pout:
    os.close(fd)
ok(t1 == A_STARTED and (t2, r2, errmsg(p2)) == (A_ERROR, 51, 'busy') and (t3, r3) == (A_ERROR, 52) and
   t4 == A_EXIT and r4 == 50 and p4[4] == 9, 'busy while running; A_KILL SIGKILL', (t1, t2, t3, t4))

_, out, err, ex = run(conn, [b'no-such-program-x'])
ok(ex and ex['code'] == 127 and err == b'isol8: no-such-program-x: No such file or directory\n',
   'exec failure: 127 and the message on stderr', (ex, err))

reps, _, _, _ = run(conn, PY + [b'print(1)'], cwd=b'/etc')
ok(reps[0][0] == A_ERROR, 'cwd /etc refused with A_ERROR', reps)
reps, _, _, _ = run(conn, PY + [b'print(1)'], cwd=b'/sandbox/../etc')
ok(reps[0][0] == A_ERROR, 'cwd /sandbox/../etc refused with A_ERROR', reps)
_, _, err, ex = run(conn, [b'true'], cwd=b'/sandbox/missing')
ok(ex and ex['code'] == 126 and err.startswith(b'isol8: /sandbox/missing:'), 'missing cwd: 126', (ex, err))

# Garbage: every malformed frame gets one A_ERROR and leaves no received fd open.
fds_before = agent_fds(agent_pid)
rfd, wfd = os.pipe()
good_run = run_payload([b'true'])
garbage = [
    (b'\x00' * 5, []),
    (frame(A_RUN, good_run, nfds=3, magic=0x1234), [rfd, rfd, wfd]),
    (frame(A_RUN, good_run, nfds=3, version=2), [rfd, rfd, wfd]),
    (frame(A_RUN, good_run, nfds=3, reserved=1), [rfd, rfd, wfd]),
    (frame(A_RUN, good_run, nfds=3, length=5), [rfd, rfd, wfd]),
    (frame(A_RUN, good_run, nfds=0), [rfd, rfd, wfd]),
    (frame(A_RUN, good_run, nfds=4), [rfd, rfd, wfd, wfd]),
    (frame(A_RUN, b'x' * 70000, nfds=0), []),
    (frame(A_RUN, good_run, nfds=2), [rfd, wfd]),
    (frame(A_RUN, good_run[:-3], nfds=3), [rfd, rfd, wfd]),
    (frame(A_RUN, good_run + b'\x00', nfds=3), [rfd, rfd, wfd]),
    (frame(A_RUN, struct.pack('<QI', 0, 0) + struct.pack('<I', 0) + s(b'/sandbox'), nfds=3), [rfd, rfd, wfd]),
    (frame(A_RUN, struct.pack('<QI', 0, 65) + s(b'x') * 65 + struct.pack('<I', 0) + s(b'/sandbox'), nfds=3),
     [rfd, rfd, wfd]),
    (frame(A_RUN, run_payload([b'tr\x00ue']), nfds=3), [rfd, rfd, wfd]),
    (frame(A_RUN, struct.pack('<QI', 0, 1) + struct.pack('<I', 0xffffffff), nfds=3), [rfd, rfd, wfd]),
    (frame(A_RUN, run_payload([b'true'], env=[b'NOEQUALS']), nfds=3), [rfd, rfd, wfd]),
    (frame(99), []),
    (frame(A_KILL, b'\x09'), []),
    (frame(A_RESET, b'x'), []),
]
errors = 0
for data, fds in garbage:
    send(conn, data, fds)
    t, _, p = recv(conn)
    errors += t == A_ERROR
ok(errors == len(garbage), 'each of %d garbage frames answered with A_ERROR' % len(garbage), errors)
os.close(rfd)
os.close(wfd)
ok(fds_before > 0 and agent_fds(agent_pid) == fds_before, 'no received fd leaked', (fds_before, agent_fds(agent_pid)))
_, out, _, ex = run(conn, PY + [b'print(1)'])
ok(out == b'1\n' and ex['code'] == 0, 'agent still works after garbage', (out, ex))

# Reset: leave files, a locked folder, a symlink out, a detached process and SysV IPC objects.
mess = (b'set -e; touch /sandbox/f /sandbox/.h /tmp/t /dev/shm/s; mkdir -p /sandbox/d/e; touch /sandbox/d/e/g; '
        b'mkdir /sandbox/locked; touch /sandbox/locked/x; chmod 000 /sandbox/locked; ln -s /etc /sandbox/l; '
        b'ln -s /usr/bin/python3 /tmp/py; '
        b'setsid sleep 1000 </dev/null >/dev/null 2>&1 & '
        b'python3 -c "import ctypes; l = ctypes.CDLL(None); '
        b'print(l.shmget(0, 1024, 0o600), l.semget(0, 1, 0o600), l.msgget(0, 0o600))"')
_, out, err, ex = run(conn, [b'sh', b'-c', mess])
ok(ex and ex['code'] == 0 and b'-1' not in out, 'messy run left files, a process and IPC objects', (out, err, ex))
check = (b'import os\n'
         b'print(sorted(os.listdir("/sandbox")), sorted(os.listdir("/tmp")), sorted(os.listdir("/dev/shm")))\n'
         b'me = os.getpid()\n'
         b'ps = []\n'
         b'for p in os.listdir("/proc"):\n'
         b'    if p.isdigit() and int(p) not in (1, me, %d):\n'
         b'        ps.append(open("/proc/%%s/cmdline" %% p).read().replace("\\0", " ").strip())\n'
         b'print(ps)\n'
         b'print([len(open("/proc/sysvipc/" + k).readlines()) - 1 for k in ("shm", "sem", "msg")])\n' % agent_pid)
_, out, err, ex = run(conn, PY + [check])
ok(out == (b"['.h', 'd', 'f', 'l', 'locked'] ['py', 't'] ['s']\n['sleep 1000']\n[1, 1, 1]\n"),
   'the mess is there before the reset', (out, err))
send(conn, frame(A_RESET, req=42))
t, r, p = recv(conn)
ok(t == A_DONE and r == 42 and p == b'\0\0\0\0', 'A_RESET -> A_DONE 0', (t, r, p))
_, out, err, ex = run(conn, PY + [check])
ok(out == b'[] [] []\n[]\n[0, 0, 0]\n', 'after reset: empty dirs, no other process, no IPC', (out, err))
r = subprocess.run(['docker', 'exec', name, 'ls', '/etc/passwd'], capture_output=True, text=True)
ok(r.returncode == 0, 'reset did not follow the symlink to /etc', r.stderr)

# Round trip of print(1): agent vs docker exec in the same container.
ta, td = [], []
for _ in range(50):
    t0 = time.perf_counter()
    run(conn, PY + [b'print(1)'])
    ta.append((time.perf_counter() - t0) * 1000)
for _ in range(50):
    t0 = time.perf_counter()
    subprocess.run(['docker', 'exec', name, 'python3', '-c', 'print(1)'], capture_output=True)
    td.append((time.perf_counter() - t0) * 1000)
print('# print(1) round trip, median of 50: agent %.1f ms, docker exec %.1f ms' %
      (statistics.median(ta), statistics.median(td)), flush=True)

# EOF from the worker ends the agent, hence the container.
conn.close()
gone = False
for _ in range(100):
    r = subprocess.run(['docker', 'inspect', name], capture_output=True)
    if r.returncode != 0:
        gone = True
        break
    time.sleep(0.1)
ok(gone, 'worker EOF ends the agent and the container')

os.unlink(path)
os.rmdir(tmp)
print('1..%d' % n_test)
sys.exit(1 if failed else 0)
