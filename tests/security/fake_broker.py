#!/usr/bin/env python3
"""isol8d's side of a worker's channel, without isol8d (tests/security/worker_wedge_test.sh): a
verb answer that never comes. Starts the real isol8-worker (as root: it locks itself down to
nobody) with its channel on fd 3, routes it one run, and never answers the verb the run asks
for; then answers it late, with an fd, and routes a session list.

Usage: fake_broker.py WORKER TIMEOUT_MS
Prints one line each: "verb=T", "error_after_ms=N error=TEXT" (the run's WK_ERROR, N counted
from the verb's arrival), "late_reply_fd_closed=yes|no", "next=sessions|<what came instead>"."""
import os
import select
import socket
import struct
import subprocess
import sys
import time

import wire

BR_ASSIGN, BR_REPLY_OK_FD = 30, 32
NOREPLY = {51, 52, 55}  # V_LOG, V_CONN_DONE, V_AUDIT
worker, timeout_ms = sys.argv[1], sys.argv[2]

chan, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
fd = child_end.fileno()
proc = subprocess.Popen(['/bin/sh', '-c', 'exec "$0" "$@" 3<&%d %d<&-' % (fd, fd), worker, '--fd', '3', '--uid', '65534',
                         '--gid', '65534', '--index', '0', '--pool-size', '0', '--verb-timeout-ms', timeout_ms],
                        pass_fds=[fd])
child_end.close()


def assign(op, token):
    """Route a connection to the worker; returns the frontend's end."""
    front, back = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    p = (struct.pack('<IB', token, op) + wire.s('local') + wire.s('uid:65534') +
         struct.pack('<III', 65534, 65534, os.getpid()) + wire.s('') + struct.pack('<IQB', 4, 600000, 0))
    socket.send_fds(chan, [wire.frame(BR_ASSIGN, p, 1)], [back.fileno()])
    back.close()
    return front


def recv(sock, timeout=30):
    """wire.recv with the request id: (type, payload, fds, request id) or None."""
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    data, fds, _, _ = socket.recv_fds(sock, 70000, 3)
    if len(data) < wire.HDR.size:
        return None
    _, _, mtype, _, _, _, req, _ = wire.HDR.unpack_from(data)
    return mtype, data[wire.HDR.size:], fds, req


def next_verb(timeout):
    """The next message from the worker that wants an answer: (type, request id) or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = recv(chan, max(0.0, end - time.monotonic()))
        if m is None:
            return None
        for fd in m[2]:
            os.close(fd)
        if m[0] not in NOREPLY:
            return m[0], m[3]
    return None


front = assign(wire.HELLO_RUN, 7)
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
wire.send(front, wire.FE_RUN, wire.run_request('echo hi', 'bash'), [out_w, err_w, wire.sealed_memfd()])
os.close(out_w)
os.close(err_w)
v = next_verb(20)
print('verb=%s' % (v[0] if v else 'none'), flush=True)
t0 = time.monotonic()
m = recv(front, 20)
if m and m[0] == wire.WK_ERROR:
    print('error_after_ms=%d error=%s' % ((time.monotonic() - t0) * 1000, wire.error_text(m[1])), flush=True)
else:
    print('error_after_ms=none error=%s' % (m[0] if m else 'no answer within 20 s'), flush=True)
# The answer comes after all, with a connection: the worker must drop it and close the fd.
if v:
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    socket.send_fds(chan, [wire.frame(BR_REPLY_OK_FD, b'', 1, v[1])], [theirs.fileno()])
    theirs.close()
    mine.settimeout(5)
    try:
        closed = mine.recv(1) == b''
    except OSError:
        closed = False
    print('late_reply_fd_closed=%s' % ('yes' if closed else 'no'), flush=True)
front.close()
# ... and the worker still serves.
front = assign(wire.HELLO_SESSION_LIST, 8)
wire.send(front, wire.FE_SESSION_LIST)
m = recv(front, 10)
print('next=%s' % ('sessions' if m and m[0] == wire.WK_SESSIONS else (m[0] if m else 'no answer')), flush=True)
chan.close()
try:
    proc.wait(10)
except subprocess.TimeoutExpired:
    proc.kill()
    proc.wait()
