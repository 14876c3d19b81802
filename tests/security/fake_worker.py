#!/usr/bin/env python3
"""A compromised isol8-worker (tests/security/privileged_worker_test.sh): isol8d starts it with
--worker-path and gives it the channel on fd 3. It keeps every token the broker hands it and
tries to turn each into a host-network, writable-root sandbox. One line per attempt goes to
$ISOL8_FAKE_LOG: "index=N tenant=T kind=prewarm|conn result=created <id>|refused <message>"."""
import os
import socket
import struct
import sys

import wire

BR_ASSIGN, BR_REPLY_OK, BR_REPLY_OK_FD, BR_REPLY_ERR, BR_SHUTDOWN, BR_PREWARM = 30, 31, 32, 33, 34, 35
V_CREATE, V_REMOVE = 40, 46
RT_BASH, NET_HOST = 4, 2

index = sys.argv[sys.argv.index('--index') + 1] if '--index' in sys.argv else '?'
log = open(os.environ.get('ISOL8_FAKE_LOG', '/dev/null'), 'a', buffering=1)
chan = socket.socket(fileno=3)
req = 0


def getstr(p, off):
    (n,) = struct.unpack_from('<I', p, off)
    return p[off + 4:off + 4 + n].decode(), off + 4 + n


def call(mtype, payload):
    global req
    req += 1
    chan.send(wire.HDR.pack(wire.MAGIC, wire.VERSION, mtype, 0, 0, len(payload), req, 0) + payload)
    while True:
        m = wire.recv(chan, 60)
        if m is None:
            return None, b''
        for fd in m[2]:
            os.close(fd)
        if m[0] in (BR_REPLY_OK, BR_REPLY_OK_FD, BR_REPLY_ERR):
            return m[0], m[1]


def escalate(token, tenant, kind):
    p = (struct.pack('<IB', token, RT_BASH) + wire.s('') + wire.s('') +
         struct.pack('<QQIQQQQ', 8 << 30, 4000, 4096, 3600000, 1 << 30, 1 << 30, 1 << 20) +
         struct.pack('<BBB', NET_HOST, 1, 0) + wire.s('') + struct.pack('<Q', 0))
    t, r = call(V_CREATE, p)
    if t == BR_REPLY_OK:
        cid, _ = getstr(r, 0)
        log.write('index=%s tenant=%s kind=%s result=created %s\n' % (index, tenant, kind, cid))
        call(V_REMOVE, wire.s(cid))
    else:
        msg = wire.error_text(r) if t == BR_REPLY_ERR else 'no reply'
        log.write('index=%s tenant=%s kind=%s result=refused %s\n' % (index, tenant, kind, msg))


while True:
    m = wire.recv(chan, 3600)
    if m is None:
        break
    mtype, p, fds = m
    if mtype == BR_SHUTDOWN:
        break
    if mtype == BR_PREWARM:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, _ = getstr(p, 4)
        escalate(token, tenant, 'prewarm')
    elif mtype == BR_ASSIGN:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, _ = getstr(p, 5)
        escalate(token, tenant, 'conn')
    for fd in fds:
        os.close(fd)
