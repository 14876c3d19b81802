#!/usr/bin/env python3
"""A compromised isol8-worker against isol8 rm's verbs (tests/security/persist_test.sh): isol8d
starts it with --worker-path. With the token of the first connection routed to it it
creates a persisted sandbox; with the tokens of the next two (another tenant, another user of
the same tenant) it tries to list and remove that sandbox and sends malformed V_KEPT_*
messages; after the third, the owner's token lists and removes it. One line per attempt to $ISOL8_FAKE_LOG: "<what> ok <payload hex>" or
"<what> refused <message>"."""
import os
import socket
import struct
import sys

import wire

BR_ASSIGN, BR_REPLY_OK, BR_REPLY_OK_FD, BR_REPLY_ERR, BR_SHUTDOWN = 30, 31, 32, 33, 34
V_CREATE, V_KEPT_LIST, V_KEPT_REMOVE = 40, 57, 58
RT_BASH, NET_NONE, KIND_PERSIST = 4, 0, 2

log = open(os.environ.get('ISOL8_FAKE_LOG', '/dev/null'), 'a', buffering=1)
chan = socket.socket(fileno=3)
req = 0
owner = None  # (token, container id)
conns = 0


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


def attempt(what, mtype, payload):
    t, r = call(mtype, payload)
    if t == BR_REPLY_OK:
        log.write('%s ok %s\n' % (what, r.hex()))
    else:
        log.write('%s refused %s\n' % (what, wire.error_text(r) if t == BR_REPLY_ERR else 'no reply'))
    return t, r


def create(token):
    p = (struct.pack('<IB', token, RT_BASH) + wire.s('') + wire.s('') +
         struct.pack('<QQIQQQQ', 256 << 20, 500, 32, 10000, 64 << 20, 64 << 20, 1 << 20) +
         struct.pack('<BBB', NET_NONE, 0, KIND_PERSIST) + wire.s('') + struct.pack('<Q', 0))
    t, r = call(V_CREATE, p)
    if t != BR_REPLY_OK:
        log.write('create refused %s\n' % (wire.error_text(r) if t == BR_REPLY_ERR else 'no reply'))
        return None
    cid, _ = getstr(r, 0)
    log.write('create ok %s\n' % cid)
    return cid


def intrude(token, tenant, principal, final):
    token_b = struct.pack('<I', token)
    tok, cid = owner
    who = '%s/%s' % (tenant, principal)
    attempt('list as %s' % who, V_KEPT_LIST, token_b)
    attempt('remove as %s' % who, V_KEPT_REMOVE, token_b + wire.s(cid))
    attempt('remove-short as %s' % who, V_KEPT_REMOVE, token_b + wire.s(cid[:12]))
    # The owner's id and the message's claims are not identity: only the token is.
    attempt('remove unknown-token', V_KEPT_REMOVE, struct.pack('<I', 0xfffffff0) + wire.s(cid))
    attempt('remove not-hex', V_KEPT_REMOVE, token_b + wire.s('ZZZZZZZZZZZZ'))
    attempt('remove trailing', V_KEPT_REMOVE, token_b + wire.s(cid[:12]) + b'x')  # within the row's bounds
    attempt('remove oversized', V_KEPT_REMOVE, token_b + wire.s(cid + '00'))
    attempt('list trailing', V_KEPT_LIST, token_b + b'x')
    if not final:
        return
    # Last, the owner's own token: listed, then removed.
    attempt('owner list', V_KEPT_LIST, struct.pack('<I', tok))
    attempt('owner remove', V_KEPT_REMOVE, struct.pack('<I', tok) + wire.s(cid[:12]))
    log.write('done\n')


while True:
    m = wire.recv(chan, 3600)
    if m is None:
        break
    mtype, p, fds = m
    if mtype == BR_SHUTDOWN:
        break
    if mtype == BR_ASSIGN:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, off = getstr(p, 5)
        principal, _ = getstr(p, off)
        conns += 1
        if owner is None:
            cid = create(token)
            if cid:
                owner = (token, cid)
        else:
            intrude(token, tenant, principal, conns == 3)
    for fd in fds:
        os.close(fd)
