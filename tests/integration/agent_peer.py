#!/usr/bin/env python3
"""Host-side peer for the in-sandbox agent (sandbox/agent.c): plays the worker's part.

Usage: agent_peer.py IMAGE NAME NODE_IMAGE [-k CASE]... | -l. Listens on a socket in a temporary
folder, starts the agent as the entrypoint (PID 1, as isol8d does) of a locked-down container named
NAME (label org.isol8.test=agent) with that folder mounted on /run/isol8-agent, and checks the
protocol of common/agent_proto.h. A second container, NAME-t, has its agent tampered with. With
NODE_IMAGE (non-empty), the node standby is checked in a third container, NAME-node. Prints TAP.

Each case is a function case_<name>, run in file order (or only those whose name contains one of
the -k CASEs; -l lists them), as run_cases in tests/lib/tap.sh does. The cases share the container
NAME, started when a case first needs it; each sets up what it needs (a program run, the stored
standby command), so that it passes alone as in the whole run.
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
PY = [b'python3', b'-c']
STANDBY_PY = [b'python3', b'/usr/local/lib/isol8/standby.py']
WARM_ENV = [b'PATH=/usr/local/bin:/usr/bin:/bin', b'PYTHONUNBUFFERED=1', b'W=warm']
# A container variable the programs inherit unless the request overrides it (merge_env).
CENV = b'ISOL8_CENV=fromcontainer'

image, name, node_image = sys.argv[1], sys.argv[2], sys.argv[3]
n_test = 0
failed = 0


def ok(cond, what, diag=None, todo=None):
    """todo: the reason a failure is known and expected (TAP TODO: reported, not counted)."""
    global n_test, failed
    n_test += 1
    if not cond and not todo:
        failed += 1
    print(('ok' if cond else 'not ok') + ' %d - %s' % (n_test, what) + (' # TODO ' + todo if todo else ''),
          flush=True)
    if not cond and diag is not None:
        print('# ' + str(diag).replace('\n', '\n# '), flush=True)


def skip(reason):
    """A test that could not run here, counted as passed (TAP's SKIP directive)."""
    global n_test
    n_test += 1
    print('ok %d # SKIP %s' % (n_test, reason), flush=True)


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


def procs_until(pid, cmds, timeout=5):
    """sandbox_procs once their command lines are cmds (a standby just forked may not have exec'd
    yet), or as they are at the timeout."""
    end = time.monotonic() + timeout
    while True:
        procs = sandbox_procs(pid)
        if [c for _, c in procs] == cmds or time.monotonic() > end:
            return procs
        time.sleep(0.05)


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
                        '--user', '100:101', '-v', tmp + ':/run/isol8-agent:ro',
                        '--entrypoint', '/usr/local/lib/isol8/isol8-agent'] + list(extra) + [img],
                       capture_output=True, text=True)
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
    """A standby job (sandbox/standby.py): NUL-separated "1", cwd, file, env count, env, code."""
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

# The container NAME shared by the cases: dict(conn, tmp, uid, ready, pid, warm) once started.
shared = None


def agent():
    """The shared agent (started with CENV on first use; its A_READY received) -> its dict."""
    global shared
    if shared is None:
        conn, uid, tmp = start_agent(image, name, ['-e', CENV.decode()])
        t, r, p = recv(conn)
        shared = dict(conn=conn, tmp=tmp, uid=uid, ready=(t, r, p), warm=False,
                      pid=struct.unpack('<II', p)[1] if t == A_READY and len(p) == 8 else 0)
    return shared


def shared_agent():
    """-> (connection, pid) of the shared agent."""
    a = agent()
    return a['conn'], a['pid']


def warm(conn):
    """Stores the python standby's command (A_WARM STANDBY_PY, WARM_ENV) unless the shared agent
    has it already; the next reset then starts the standby."""
    if agent()['warm']:
        return
    send(conn, frame(A_WARM, warm_payload(STANDBY_PY, WARM_ENV), req=58))
    t, r, p = recv(conn)
    assert (t, r) == (A_DONE, 58), ('A_WARM', t, r, p)
    agent()['warm'] = True


def end_shared():
    """Closes the shared agent's connection (EOF ends it) -> True once its container is gone."""
    global shared
    a, shared = shared, None
    return stop_agent(a['conn'], name, a['tmp'])


def case_ready():
    a = agent()
    t, r, p = a['ready']
    ok(t == A_READY and len(p) == 8 and struct.unpack('<II', p)[0] == 1, 'A_READY version 1', (t, p))
    ok(a['uid'] == 100, 'agent runs as uid 100', a['uid'])
    ok(a['pid'] == 1, 'the agent is PID 1', a['pid'])

def case_run_exit_output_and_kill():
    conn, agent_pid = shared_agent()
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
def case_busy_while_running():
    conn, agent_pid = shared_agent()
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


def case_exec_failure_and_cwd():
    conn, agent_pid = shared_agent()
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
def case_garbage_frames():
    conn, agent_pid = shared_agent()
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
def case_reset_cleans_sandbox():
    conn, agent_pid = shared_agent()
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


# PID 1: orphans are reaped, signals and /proc/1/mem from the sandbox do not reach the agent.
def case_pid1_reaps_and_resists():
    conn, agent_pid = shared_agent()
    _, out, err, ex = run(conn, [b'sh', b'-c', b'for i in 1 2 3; do (setsid true &); (setsid sleep 0.1 &); done; '
                                 b'sleep 0.6; cat /proc/[0-9]*/stat | awk \'$3 == "Z"\' | wc -l'])
    ok(out == b'0\n', 'orphans that ended were reaped (no zombie)', (out, err))
    _, out, err, ex = run(conn, [b'sh', b'-c', b'kill -KILL 1; kill -STOP 1; kill -TERM 1; kill -INT 1; echo sent'])
    _, out2, _, ex2 = run(conn, PY + [b'print(1)'])
    ok(out == b'sent\n' and out2 == b'1\n', 'SIGKILL, SIGSTOP, SIGTERM, SIGINT from the sandbox do not stop the agent',
       (out, err, out2))
    _, out, err, ex = run(conn, PY + [b'import os\ntry:\n    os.open("/proc/1/mem", os.O_RDWR)\n    print("open")\n'
                                      b'except OSError as e:\n    print(e.errno)'])
    ok(out.strip() in (b'13', b'1'), '/proc/1/mem is refused (EACCES or EPERM)', (out, err))
    t, r, p = reset(conn)
    ok(t == A_DONE, 'and the reset still passes', (t, p))


# Environment: the container's, with the request's entries replacing same-named ones (later wins).
def case_env_merge():
    conn, agent_pid = shared_agent()
    _, out, err, ex = run(conn, [b'sh', b'-c', b'echo $X; env | grep -c "^X="'], env=[b'X=1', b'X=2'])
    ok(out == b'2\n1\n', 'env X=1 then X=2: the program sees X=2, once', (out, err))
    _, out, err, ex = run(conn, [b'sh', b'-c', b'echo $ISOL8_CENV; env | grep -c "^ISOL8_CENV="'], env=[])
    ok(out == b'fromcontainer\n1\n', 'a container env var reaches the program', (out, err))
    _, out, err, ex = run(conn, [b'sh', b'-c', b'echo $ISOL8_CENV; env | grep -c "^ISOL8_CENV="'],
                          env=[b'ISOL8_CENV=request'])
    ok(out == b'request\n1\n', 'a request env entry replaces the container one', (out, err))
    _, out, err, ex = run(conn, [b'sh', b'-c', b'echo $ISOL8_CENV; env | grep -c "^ISOL8_CENV="'],
                          env=[b'ISOL8_CENV=a', b'ISOL8_CENV=b'])
    ok(out == b'b\n1\n', 'the later of two request entries replaces the container one', (out, err))


# Standby (A_WARM / A_RUN_WARM) with sandbox/standby.py.
def case_standby_warm_run_handoff():
    conn, agent_pid = shared_agent()
    run(conn, [b'true'])  # a program ran (and killed any idle standby)
    fds_idle = agent_fds(agent_pid)
    procs_idle = sandbox_procs(agent_pid)
    # A program ran: A_WARM stores the command but starts the standby only at the next reset.
    send(conn, frame(A_WARM, warm_payload(STANDBY_PY, WARM_ENV), req=59))
    t, r, p = recv(conn)
    agent()['warm'] = t == A_DONE
    time.sleep(0.5)
    ok((t, r) == (A_DONE, 59) and sandbox_procs(agent_pid) == [],
       'A_WARM after runs: no standby before the next reset', (t, p, sandbox_procs(agent_pid)))
    reset(conn, req=60)
    procs_until(agent_pid, ['python3 /usr/local/lib/isol8/standby.py'])
    ok(len(sandbox_procs(agent_pid)) == 1, 'the reset starts it', sandbox_procs(agent_pid))
    send(conn, frame(A_WARM, warm_payload(STANDBY_PY, WARM_ENV), req=61))
    t, r, p = recv(conn)
    ok((t, r, p) == (A_DONE, 61, b'\0\0\0\0'), 'A_WARM -> A_DONE', (t, r, p))
    time.sleep(1)
    procs = sandbox_procs(agent_pid)
    stby = [pc for pc in procs if pc[1] == 'python3 /usr/local/lib/isol8/standby.py']
    ok(procs_idle == [] and len(procs) == 1 and len(stby) == 1, 'one standby process waits', (procs_idle, procs))

    AGE = (b'import os, sys\n'
           b'st = open("/proc/self/stat").read().rsplit(")", 1)[1].split()\n'
           b'up = float(open("/proc/uptime").read().split()[0])\n'
           b'print("age=%.3f" % (up - int(st[19]) / os.sysconf("SC_CLK_TCK")), file=sys.stderr)\n')
    res = run_warm(conn, AGE + b'print(sys.argv, os.getcwd(), os.environ.get("X"))', env=[b'X=1'], req=62)
    ok(res['first'][0] == A_HANDOFF and res['first'][1] == 62 and res['hdr_nfds'] == 3 and
       res['kinds'] == ['fifo-w', 'fifo-r', 'fifo-r'],
       'A_RUN_WARM -> A_HANDOFF with 3 pipes: stdin write end, stdout and stderr read ends', res)
    ok(stby and res['pid'] == stby[0][0], 'A_HANDOFF carries the standby\'s pid', (stby, res['pid']))
    warm_ok(res, b"['-c'] /sandbox 1\n", 'the standby ran the job: argv, cwd and env as for python3 -c')
    ok(res['exit'] and not res['exit']['timed_out'] and res['exit']['sig'] == 0, 'A_EXIT: not killed', res['exit'])
    age = res['err'].decode().strip() if res['err'] else ''
    print('# ' + age, flush=True)
    ok(age.startswith('age=') and float(age[4:]) > 0.5, 'the program\'s process started before the request', age)
    ok(agent_fds(agent_pid) == fds_idle, 'the agent keeps none of the standby\'s fds', (fds_idle, agent_fds(agent_pid)))
    send(conn, frame(A_RUN_WARM, struct.pack('<Q', 10000) + s(job(b'print(1)')), req=63))
    t, r, p = recv(conn)
    ok((t, r) == (A_ERROR, 63) and errmsg(p) == 'no standby', 'second A_RUN_WARM: A_ERROR "no standby"', (t, r, p))
    ok(sandbox_procs(agent_pid) == [], 'nothing ran for it', sandbox_procs(agent_pid))


# A_RESET starts a new standby; what the previous (warm) run left, it removes.
def case_standby_renewed_clean():
    conn, agent_pid = shared_agent()
    warm(conn)
    t, r, p = reset(conn)
    ok((t, p) == (A_DONE, b'\0\0\0\0'), 'A_RESET -> A_DONE 0', (t, p))
    MESS = (b'import subprocess\n'
            b'open("/sandbox/mess", "w").close()\n'
            b'subprocess.Popen(["sleep", "1000"], start_new_session=True, stdin=subprocess.DEVNULL,\n'
            b'                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n'
            b'print("made")\n')
    res = run_warm(conn, MESS, req=64)
    warm_ok(res, b'made\n', 'after A_RESET the standby is back: a warm run leaves a file and a process')
    procs = sandbox_procs(agent_pid)
    ok([c for _, c in procs] == ['sleep 1000'], 'the detached process outlives the warm run', procs)
    t, r, p = reset(conn)
    procs = procs_until(agent_pid, ['python3 /usr/local/lib/isol8/standby.py'])
    ok((t, p) == (A_DONE, b'\0\0\0\0') and [c for _, c in procs] == ['python3 /usr/local/lib/isol8/standby.py'],
       'A_RESET: the process is gone and a new standby waits', procs)
    res = run_warm(conn, b'import os; print(os.listdir("/sandbox"), os.listdir("/tmp"))', req=65)
    warm_ok(res, b'[] []\n', 'A_RUN_WARM works again; the file is gone')


# Stdin through the handed-over pipe; the warm env and the container's env.
def case_standby_stdin_and_env():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    res = run_warm(conn, b'import os, sys\nprint(repr(sys.stdin.read()), os.environ["W"], os.environ["ISOL8_CENV"])',
                   stdin=b'hello\nworld\n', req=66)
    warm_ok(res, b"'hello\\nworld\\n' warm fromcontainer\n", 'stdin via the handed-over pipe; warm and container env')
    reset(conn)
    res = run_warm(conn, b'import os; print(os.environ["W"], os.environ["ISOL8_CENV"])',
                   env=[b'W=job', b'ISOL8_CENV=job2'], req=67)
    warm_ok(res, b'job job2\n', 'the job\'s env entries replace the standby\'s')


# The warm program has only stdio open, as with A_RUN.
def case_standby_fds_and_session():
    conn, agent_pid = shared_agent()
    warm(conn)
    FDS = b'import os; print(sorted(os.listdir("/proc/self/fd")), os.getpgid(0) == os.getpid() == os.getsid(0))'
    _, out_run, _, _ = run(conn, PY + [FDS])
    reset(conn)
    res = run_warm(conn, FDS, req=80)
    warm_ok(res, out_run, 'the warm program\'s open fds and session are those of A_RUN\'s')
    ok(out_run == b"['0', '1', '2', '3'] True\n", 'which are stdio (and listdir\'s own), in its own session', out_run)


# SIGINT (A_KILL) ends a warm python as it ends python3 -c: by the signal.
def case_standby_sigint():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    res = run_warm(conn, b'import time; time.sleep(30)', timeout_ms=0, req=81,
                   during=lambda c: send(c, frame(A_KILL, bytes([2]), req=81)))
    ok(res['exit'] and res['exit']['sig'] == 2 and res['exit']['code'] == -1, 'A_KILL SIGINT: the warm program dies of it',
       res)


# A standby that died while waiting is not used.
def case_standby_dead_or_missing():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    procs = procs_until(agent_pid, ['python3 /usr/local/lib/isol8/standby.py'])
    subprocess.run(['docker', 'exec', name, 'kill', '-9', str(procs[0][0]) if procs else '0'], capture_output=True)
    procs_until(agent_pid, [])
    send(conn, frame(A_RUN_WARM, struct.pack('<Q', 10000) + s(job(b'print(1)')), req=82))
    t, r, p = recv(conn)
    ok((t, r, errmsg(p) if t == A_ERROR else p) == (A_ERROR, 82, 'no standby'), 'a killed standby: "no standby"', (t, p))
    send(conn, frame(A_WARM, warm_payload([b'no-such-standby-x'], WARM_ENV), req=83))
    t, r, p = recv(conn)
    agent()['warm'] = False
    procs_until(agent_pid, [])
    send(conn, frame(A_RUN_WARM, struct.pack('<Q', 10000) + s(job(b'print(1)')), req=84))
    t2, r2, p2 = recv(conn)
    ok(t == A_DONE and (t2, r2, errmsg(p2) if t2 == A_ERROR else p2) == (A_ERROR, 84, 'no standby'),
       'a standby that cannot start: "no standby"', (t, p, t2, p2))
    send(conn, frame(A_WARM, warm_payload(STANDBY_PY, WARM_ENV), req=85))
    t, r, p = recv(conn)
    agent()['warm'] = t == A_DONE
    ok(t == A_DONE, 'A_WARM again', (t, p))


# A job the standby cannot parse: exit 70 and a message (standby.py's contract).
def case_standby_malformed_job():
    conn, agent_pid = shared_agent()
    warm(conn)
    for i, bad_job in enumerate((b'2\0/sandbox\0\0' b'0\0print(1)', b'garbage', b'1\0/sandbox\0\0x\0print(1)',
                                 b'1\0/sandbox\0\0' b'5\0A=1\0print(1)')):
        reset(conn)
        send(conn, frame(A_RUN_WARM, struct.pack('<Q', 10000) + s(bad_job), req=86))
        t, r, p, fds, _ = recv_fds(conn)
        res = dict(first=(t, p))
        if t == A_HANDOFF and len(fds) == 3:
            os.close(fds[0])
            res.update(out=read_all(fds[1]), err=read_all(fds[2]), exit=recv(conn))
        else:
            for fd in fds:
                os.close(fd)
        ok(t == A_HANDOFF and res['exit'][0] == A_EXIT and struct.unpack_from('<i', res['exit'][2])[0] == 70 and
           res['err'] == b'isol8: malformed standby job\n', 'malformed job %d: exit 70, "malformed standby job"' % i,
           res)


# A file job, and a failing one.
def case_standby_file_job_and_exception():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    res = run_warm(conn, b'import sys; print(__file__, sys.argv, __name__)', file=b'/sandbox/main.py', req=68)
    warm_ok(res, b"/sandbox/main.py ['/sandbox/main.py'] __main__\n", 'file job: __file__, argv, __name__')
    reset(conn)
    res = run_warm(conn, b'raise ValueError("bad")', req=69)
    ok(res['exit'] and res['exit']['code'] == 1 and res['out'] == b'' and res['err'] and
       res['err'].startswith(b'Traceback') and res['err'].endswith(b'ValueError: bad\n') and
       b'standby.py' not in res['err'], 'an exception: exit 1, traceback without the standby\'s frames', res)


# A_RUN kills an idle standby.
def case_run_kills_idle_standby():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    before = procs_until(agent_pid, ['python3 /usr/local/lib/isol8/standby.py'])
    _, out, _, ex = run(conn, [b'sh', b'-c', b'echo run'])
    after = sandbox_procs(agent_pid)
    ok(len(before) == 1 and out == b'run\n' and after == [], 'A_RUN kills the idle standby first', (before, after))
    send(conn, frame(A_RUN_WARM, struct.pack('<Q', 10000) + s(job(b'print(1)')), req=70))
    t, r, p = recv(conn)
    ok((t, r, errmsg(p) if t == A_ERROR else p) == (A_ERROR, 70, 'no standby'), 'then A_RUN_WARM: "no standby"', (t, p))


# A second A_WARM replaces the standby rather than adding one (after a reset: A_RUN ran).
def case_warm_twice_one_standby():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn, req=69)
    send(conn, frame(A_WARM, warm_payload(STANDBY_PY, WARM_ENV), req=71))
    t1, _, _ = recv(conn)
    send(conn, frame(A_WARM, warm_payload(STANDBY_PY, WARM_ENV), req=72))
    t2, _, _ = recv(conn)
    procs = sandbox_procs(agent_pid)
    ok((t1, t2) == (A_DONE, A_DONE) and len(procs) == 1, 'A_WARM twice: one standby', procs)


# timeout_ms kills the warm program.
def case_warm_timeout():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    res = run_warm(conn, b'import time; time.sleep(30)', timeout_ms=300, req=73)
    ok(res['exit'] and res['exit']['timed_out'] == 1 and res['exit']['sig'] == 9 and res['exit']['code'] == -1,
       'A_RUN_WARM timeout: SIGKILLed, timed_out 1', res)


# Busy while a warm program runs; A_KILL reaches it. Each request is well formed (A_RUN with its
# three pipe ends): a malformed one is refused by the protocol table before the agent's state.
def case_busy_while_warm_runs():
    conn, agent_pid = shared_agent()
    warm(conn)
    busy = []

    def busy_then_kill(c):
        pin, pout = os.pipe(), os.pipe()
        for mt, pl, rq, fds in ((A_WARM, warm_payload(STANDBY_PY), 75, []),
                                (A_RUN_WARM, struct.pack('<Q', 0) + s(job(b'1')), 76, []),
                                (A_RUN, run_payload([b'true']), 77, [pin[0], pout[1], pout[1]])):
            send(c, frame(mt, pl, nfds=len(fds), req=rq), fds)
            t_, r_, p_ = recv(c)
            busy.append((t_, r_, errmsg(p_) if t_ == A_ERROR else p_))
        for fd in pin + pout:
            os.close(fd)
        send(c, frame(A_KILL, b'\x09', req=74))

    reset(conn)
    res = run_warm(conn, b'import time; time.sleep(30)', timeout_ms=0, req=74, during=busy_then_kill)
    ok(busy == [(A_ERROR, 75, 'busy'), (A_ERROR, 76, 'busy'), (A_ERROR, 77, 'busy')],
       'A_WARM / A_RUN_WARM / A_RUN while a warm program runs: "busy"', busy)
    ok(res['exit'] and res['exit']['sig'] == 9 and not res['exit']['timed_out'], 'A_KILL stops a warm program', res)


# A job of exactly 60000 bytes is accepted.
def case_warm_big_job():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    code = b'print("big")\n#'
    code += b'x' * (60000 - len(job(code)))
    res = run_warm(conn, code, req=78)
    warm_ok(res, b'big\n', 'a 60000-byte job runs')


# Malformed A_WARM / A_RUN_WARM: one A_ERROR each; the standby and the agent live on.
def case_malformed_warm_frames():
    conn, agent_pid = shared_agent()
    warm(conn)
    reset(conn)
    fds_before = agent_fds(agent_pid)
    rfd, wfd = os.pipe()
    good_warm = warm_payload(STANDBY_PY, WARM_ENV)
    bad = [
        (frame(A_WARM), []),
        (frame(A_WARM, struct.pack('<I', 0) + struct.pack('<I', 0)), []),
        (frame(A_WARM, struct.pack('<I', 65) + s(b'x') * 65 + struct.pack('<I', 0)), []),
        (frame(A_WARM, struct.pack('<I', 1) + struct.pack('<I', 100) + b'python3' + struct.pack('<I', 0)), []),
        (frame(A_WARM, struct.pack('<I', 1) + struct.pack('<I', 0xffffffff)), []),
        (frame(A_WARM, good_warm[:-2]), []),
        (frame(A_WARM, good_warm + b'\0'), []),
        (frame(A_WARM, warm_payload(STANDBY_PY, [b'NOEQUALS'])), []),
        (frame(A_WARM, warm_payload([b'pyth\0on3'])), []),
        (frame(A_WARM, good_warm, nfds=1), [rfd]),
        (frame(A_WARM, good_warm, nfds=3), [rfd, wfd, wfd]),
        (frame(A_RUN_WARM), []),
        (frame(A_RUN_WARM, struct.pack('<Q', 1000)), []),
        (frame(A_RUN_WARM, struct.pack('<QI', 1000, 100) + b'1\0/sandbox'), []),
        (frame(A_RUN_WARM, struct.pack('<QI', 1000, 0xffffffff)), []),
        (frame(A_RUN_WARM, struct.pack('<Q', 1000) + s(job(b'print(1)')) + b'\0'), []),
        (frame(A_RUN_WARM, struct.pack('<Q', 1000) + s(b'x' * 60001)), []),
        (frame(A_RUN_WARM, struct.pack('<Q', 1000) + s(job(b'print(1)')), nfds=3), [rfd, wfd, wfd]),
        (frame(A_RUN_WARM, struct.pack('<Q', 1000) + s(job(b'print(1)')), nfds=1), [wfd]),
        (frame(A_RUN_WARM, struct.pack('<Q', 1000) + s(job(b'print(1)')), nfds=2), [rfd]),
        (frame(A_RUN_WARM, struct.pack('<Q', 1000) + s(job(b'print(1)')), version=2), []),
    ]
    answers = []
    for i, (data, fds) in enumerate(bad):
        send(conn, data, fds)
        t, r, p = recv(conn)
        answers.append((i, t, errmsg(p) if t == A_ERROR else p))
    os.close(rfd)
    os.close(wfd)
    ok(all(a[1] == A_ERROR for a in answers), 'each of %d malformed A_WARM / A_RUN_WARM: A_ERROR' % len(bad),
       [a for a in answers if a[1] != A_ERROR])
    ok(agent_fds(agent_pid) == fds_before, 'no received fd leaked', (fds_before, agent_fds(agent_pid)))
    procs = procs_until(agent_pid, ['python3 /usr/local/lib/isol8/standby.py'])
    ok([c for _, c in procs] == ['python3 /usr/local/lib/isol8/standby.py'], 'the standby is untouched', procs)
    res = run_warm(conn, b'print("still")', req=79)
    warm_ok(res, b'still\n', 'then A_RUN_WARM works (no extra reply queued)')
    _, out, _, ex = run(conn, PY + [b'print(2)'])
    ok(out == b'2\n' and ex['code'] == 0, 'and A_RUN too', (out, ex))


# Round trip of print(1): agent vs docker exec in the same container.
def case_round_trip_timing():
    conn, agent_pid = shared_agent()
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
def case_worker_eof_ends_container():
    agent()
    ok(end_shared(), 'worker EOF ends the agent and the container')


# A program that changes what the agent passes on makes the next reset refuse (A_ERROR): the
# worker then discards the sandbox.
def case_tampered_sandbox_refused():
    tname = name + '-t'
    conn, _, tmp = start_agent(image, tname)
    recv(conn)
    # A process the agent cannot kill (root in the container, started by docker exec) survives the
    # kill: the reset must say so after its 200 ms instead of calling the sandbox clean.
    subprocess.run(['docker', 'exec', '-d', '-u', '0', tname, 'sleep', '100'], check=True)
    time.sleep(0.3)
    t0 = time.monotonic()
    t, r, p = reset(conn)
    ms = (time.monotonic() - t0) * 1000
    ok(t == A_ERROR and 'outlived the kill' in errmsg(p) and 'sleep' in errmsg(p) and ms >= 190,
       'a process that survives the kill: A_RESET -> A_ERROR naming it (after %.0f ms)' % ms, (t, p))
    subprocess.run(['docker', 'exec', '-u', '0', tname, 'kill', '-9', '-1'], capture_output=True)
    t, r, p = reset(conn)
    ok(t == A_DONE, 'once it is gone the reset passes again', (t, p))
    for what, cmd, want in [(b'nice', b'renice -n 5 -p 1', 'nice value'),
                            (b'nofile', b'prlimit --pid 1 --nofile=64:64', 'limit nofile')]:
        _, out, err, ex = run(conn, [b'sh', b'-c', cmd])
        t, r, p = reset(conn)
        ok(ex and ex['code'] == 0 and t == A_ERROR and want in errmsg(p),
           'tampered %s: A_RESET -> A_ERROR naming it' % what.decode(), (ex, err, t, p))
    ok(stop_agent(conn, tname, tmp), 'tampered: worker EOF ends the agent and the container')


# The node standby (sandbox/standby.cjs), in a second container.
def case_node_standby():
    if node_image:
        nname = name + '-node'
        conn, _, tmp = start_agent(node_image, nname)
        t, r, p = recv(conn)
        ok(t == A_READY, 'node: A_READY', (t, p))
        STANDBY_NODE = [b'node', b'/usr/local/lib/isol8/standby.cjs']
        send(conn, frame(A_WARM, warm_payload(STANDBY_NODE, [b'PATH=/usr/local/bin:/usr/bin:/bin']), req=90))
        t, r, p = recv(conn)
        ok((t, r, p) == (A_DONE, 90, b'\0\0\0\0'), 'node: A_WARM -> A_DONE', (t, r, p))
        res = run_warm(conn, b'console.log(1 + 1)', file=b'/sandbox/main.mjs', req=91)
        ok(res['kinds'] == ['fifo-w', 'fifo-r', 'fifo-r'], 'node: A_HANDOFF with the 3 pipes', res)
        warm_ok(res, b'2\n', 'node: ESM file job prints "2"')
        reset(conn)
        res = run_warm(conn, b'console.log(require.main === module)', file=b'/sandbox/main.cjs', req=92)
        warm_ok(res, b'true\n', 'node: .cjs job is the main module')
        reset(conn)
        res = run_warm(conn, b'console.log(process.argv.slice(1), process.cwd(), process.env.X)', cwd=b'/sandbox/w',
                       file=b'/sandbox/w/main.mjs', env=[b'X=1'], req=93)
        ok(res['first'][0] == A_HANDOFF and res['exit'] and res['exit']['code'] == 126 and
           res['err'] == b'isol8: /sandbox/w: No such file or directory\n', 'node: missing cwd: 126', res)
        reset(conn)
        res = run_warm(conn, b'import fs from "node:fs"; fs.mkdirSync("/sandbox/w");\n'
                       b'console.log(JSON.stringify(process.argv.slice(1)), process.cwd(), process.env.X)',
                       file=b'/sandbox/main.mjs', env=[b'X=1'], req=94)
        warm_ok(res, b'["/sandbox/main.mjs"] /sandbox 1\n', 'node: argv, cwd and env')
        reset(conn)
        res = run_warm(conn, b'throw new Error("boom")', file=b'/sandbox/main.mjs', req=95)
        ok(res['exit'] and res['exit']['code'] == 1 and res['out'] == b'' and res['err'] and b'Error: boom' in res['err'],
           'node: a throwing ESM program exits 1 with "Error: boom" on stderr', res)
        reset(conn)
        res = run_warm(conn, b'let s = ""; process.stdin.on("data", d => s += d);\n'
                       b'process.stdin.on("end", () => console.log(JSON.stringify(s)));', stdin=b'in\n',
                       file=b'/sandbox/main.mjs', req=96)
        warm_ok(res, b'"in\\n"\n', 'node: stdin via the handed-over pipe')
        ok(stop_agent(conn, nname, tmp), 'node: worker EOF ends the agent and the container')
    else:
        skip('no node image with the agent')


def main(args):
    usage = 'usage: agent_test.sh [-k CASE]... | -l'
    names = [n for n, f in globals().items() if n.startswith('case_') and callable(f)]
    sel = []
    while args:
        if args[0] == '-k' and len(args) >= 2:
            sel.append(args[1])
            args = args[2:]
        elif args[0] == '-l':
            print('\n'.join(n[len('case_'):] for n in names))
            return 0
        else:
            print(usage, file=sys.stderr)
            return 2
    run = [n for n in names if not sel or any(k in n for k in sel)]
    if not run:
        print("Bail out! no case matches '%s'" % ' '.join(sel))
        return 99
    global n_test, failed
    for n in run:
        print('# case ' + n[len('case_'):], flush=True)
        try:
            globals()[n]()
        except Exception as e:  # a broken case fails and leaves the next a new shared agent
            n_test += 1
            failed += 1
            print('not ok %d - case %s raised %r' % (n_test, n[len('case_'):], e), flush=True)
            if shared is not None:
                end_shared()
    if shared is not None:
        end_shared()
    print('1..%d' % n_test)
    print('# %d passed, %d failed' % (n_test - failed, failed), flush=True)
    return 1 if failed else 0


sys.exit(main(sys.argv[4:]))
