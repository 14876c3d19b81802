#!/usr/bin/env python3
"""A compromised isol8-worker forging audit reports (tests/security/audit_worker_test.sh).
isol8d starts it with --worker-path; for each connection it is given it creates a sandbox with
the connection's token, then sends V_AUDIT reports: one honest, then hostile ones (another
sandbox, an unknown token, bad metadata, trailing bytes, code the policy does not record, a
NUL in a string, a bad outcome), and V_USAGE for a sandbox it does not own. One line per
attempt goes to $ISOL8_FAKE_LOG: "NAME reply=..." for verbs with a reply, "NAME sent" for
V_AUDIT (which has none)."""
import os
import struct

import wire

log = open(os.environ.get('ISOL8_FAKE_LOG', '/dev/null'), 'a', buffering=1)
chan = wire.BrokerChannel()


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
    p = wire.create_payload(token, wire.RT_PYTHON, 512 << 20, 1000, 64, 30000, 512 << 20, 256 << 20, 1 << 20)
    t, r = chan.call(wire.V_CREATE, p)
    if t != wire.BR_REPLY_OK:
        log.write('create reply=%s\n' % wire.reply_text(t, r, 'none'))
        return
    cid, _ = wire.getstr(r, 0)
    chan.call(wire.V_START, wire.s(cid))
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
        chan.send(wire.V_AUDIT, payload)
        log.write('%s sent\n' % name)
    t, r = chan.call(wire.V_USAGE, wire.s(foreign) + b'\x00')
    log.write('usage-foreign reply=%s\n' % wire.reply_text(t, r, t))
    t, r = chan.call(wire.V_USAGE, wire.s(cid) + b'\x02')
    log.write('usage-bad-flag reply=%s\n' % wire.reply_text(t, r, t))
    t, r = chan.call(wire.V_USAGE, wire.s(cid) + b'\x00')
    log.write('usage-own reply=%s\n' % ('ok %d bytes' % len(r) if t == wire.BR_REPLY_OK else t))
    chan.call(wire.V_REMOVE, wire.s(cid))


for mtype, p in chan.messages():
    if mtype == wire.BR_ASSIGN:
        (token,) = struct.unpack_from('<I', p, 0)
        attack(token)
        chan.send(wire.V_CONN_DONE, struct.pack('<I', token))
