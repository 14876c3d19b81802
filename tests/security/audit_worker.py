#!/usr/bin/env python3
"""A compromised isol8-worker forging audit reports (tests/security/audit_worker_test.sh).
isol8d starts it with --worker-path; for each connection it is given it creates a sandbox with
the connection's token, then sends V_AUDIT reports: one honest, then hostile ones (another
sandbox, an unknown token, bad metadata, trailing bytes, code the policy does not record, a
NUL in a string, a bad outcome), and V_USAGE for a sandbox it does not own. One line per
attempt goes to $ISOL8_FAKE_LOG: "NAME reply=..." for verbs with a reply, "NAME sent" for
V_AUDIT (which has none)."""
import os
import socket
import struct
import sys

import wire

BR_ASSIGN, BR_REPLY_OK, BR_REPLY_OK_FD, BR_REPLY_ERR, BR_SHUTDOWN = 30, 31, 32, 33, 34
V_CREATE, V_START, V_REMOVE, V_AUDIT, V_USAGE = 40, 41, 46, 55, 56
RT_PYTHON, NET_NONE = 0, 0

log = open(os.environ.get('ISOL8_FAKE_LOG', '/dev/null'), 'a', buffering=1)
chan = socket.socket(fileno=3)
req = 0


def send(mtype, payload):
    global req
    req += 1
    chan.send(wire.HDR.pack(wire.MAGIC, wire.VERSION, mtype, 0, 0, len(payload), req, 0) + payload)


def call(mtype, payload):
    send(mtype, payload)
    while True:
        m = wire.recv(chan, 60)
        if m is None:
            return None, b''
        for fd in m[2]:
            os.close(fd)
        if m[0] in (BR_REPLY_OK, BR_REPLY_OK_FD, BR_REPLY_ERR):
            return m[0], m[1]


def report(token, container, exec_id='0123abcd-0000-0000-0000-000000000001', outcome=0, err_code=0,
           meta=(), code='', code_hash='', tail=b''):
    p = struct.pack('<I', token) + wire.s(container) + wire.s(exec_id)
    p += struct.pack('<BIH', outcome, 0, err_code) + wire.s('')
    p += struct.pack('<QQB', 12, 34, 0) + struct.pack('<QQ', 5, 0)
    p += struct.pack('<QQQQQ', 1000, 2 << 20, 3 << 20, 0, 0) + struct.pack('<II', 0, 0)
    p += wire.s(code_hash) + struct.pack('<I', len(meta))
    for k, v in meta:
        p += wire.s(k) + wire.s(v)
    p += wire.s(code) + wire.s('') + wire.s('') + tail
    return p


def attack(token):
    p = (struct.pack('<IB', token, RT_PYTHON) + wire.s('') + wire.s('') +
         struct.pack('<QQIQQQQ', 512 << 20, 1000, 64, 30000, 512 << 20, 256 << 20, 1 << 20) +
         struct.pack('<BBB', NET_NONE, 0, 0) + wire.s('') + struct.pack('<Q', 0))
    t, r = call(V_CREATE, p)
    if t != BR_REPLY_OK:
        log.write('create reply=%s\n' % (wire.error_text(r) if t == BR_REPLY_ERR else 'none'))
        return
    (n,) = struct.unpack_from('<I', r, 0)
    cid = r[4:4 + n].decode()
    call(V_START, wire.s(cid))
    foreign = 'f' * 64
    cases = [
        ('honest', report(token, cid, meta=[('userId', 'mallory')], code_hash='a' * 64)),
        ('foreign-sandbox', report(token, foreign, exec_id='0123abcd-0000-0000-0000-000000000002')),
        ('unknown-token', report(token + 7777, cid, exec_id='0123abcd-0000-0000-0000-000000000003')),
        ('bad-meta-key', report(token, cid, exec_id='0123abcd-0000-0000-0000-000000000004', meta=[('tenant"x', 'v')])),
        ('bad-meta-value', report(token, cid, exec_id='0123abcd-0000-0000-0000-000000000005', meta=[('k', 'a\nb')])),
        ('trailing-bytes', report(token, cid, exec_id='0123abcd-0000-0000-0000-000000000006', tail=b'x')),
        ('unasked-code', report(token, cid, exec_id='0123abcd-0000-0000-0000-000000000007', code='rm -rf /')),
        ('bad-outcome', report(token, cid, exec_id='0123abcd-0000-0000-0000-000000000008', outcome=9)),
        ('bad-exec-id', report(token, cid, exec_id='"}{"tenant":"admin')),
        ('error-without-code', report(token, cid, exec_id='0123abcd-0000-0000-0000-000000000009', outcome=1)),
    ]
    for name, payload in cases:
        send(V_AUDIT, payload)
        log.write('%s sent\n' % name)
    t, r = call(V_USAGE, wire.s(foreign) + b'\x00')
    log.write('usage-foreign reply=%s\n' % (wire.error_text(r) if t == BR_REPLY_ERR else t))
    t, r = call(V_USAGE, wire.s(cid) + b'\x02')
    log.write('usage-bad-flag reply=%s\n' % (wire.error_text(r) if t == BR_REPLY_ERR else t))
    t, r = call(V_USAGE, wire.s(cid) + b'\x00')
    log.write('usage-own reply=%s\n' % ('ok %d bytes' % len(r) if t == BR_REPLY_OK else t))
    call(V_REMOVE, wire.s(cid))


while True:
    m = wire.recv(chan, 3600)
    if m is None:
        break
    mtype, p, fds = m
    if mtype == BR_SHUTDOWN:
        break
    if mtype == BR_ASSIGN:
        (token,) = struct.unpack_from('<I', p, 0)
        attack(token)
        send(52, struct.pack('<I', token))  # V_CONN_DONE
    for fd in fds:
        os.close(fd)
