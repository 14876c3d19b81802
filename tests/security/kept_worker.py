#!/usr/bin/env python3
"""A compromised isol8-worker against isol8 rm's verbs (tests/security/persist_test.sh): isol8d
starts it with --worker-path. With the token of the first connection routed to it it
creates a persisted sandbox; with the tokens of the next two (another tenant, another user of
the same tenant) it tries to list and remove that sandbox and sends malformed V_KEPT_*
messages; after the third, the owner's token lists and removes it. One line per attempt to $ISOL8_FAKE_LOG: "<what> ok <payload hex>" or
"<what> refused <message>"."""
import os
import struct

import wire

log = open(os.environ.get('ISOL8_FAKE_LOG', '/dev/null'), 'a', buffering=1)
chan = wire.BrokerChannel()
owner = None  # (token, container id)
conns = 0


def attempt(what, mtype, payload):
    t, r = chan.call(mtype, payload)
    if t == wire.BR_REPLY_OK:
        log.write('%s ok %s\n' % (what, r.hex()))
    else:
        log.write('%s refused %s\n' % (what, wire.reply_text(t, r)))
    return t, r


def create(token):
    p = wire.create_payload(token, wire.RT_BASH, 256 << 20, 500, 32, 10000, 64 << 20, 64 << 20, 1 << 20,
                            kind=wire.KIND_PERSIST)
    t, r = chan.call(wire.V_CREATE, p)
    if t != wire.BR_REPLY_OK:
        log.write('create refused %s\n' % wire.reply_text(t, r))
        return None
    cid, _ = wire.getstr(r, 0)
    log.write('create ok %s\n' % cid)
    return cid


def intrude(token, tenant, principal, final):
    token_b = struct.pack('<I', token)
    tok, cid = owner
    who = '%s/%s' % (tenant, principal)
    attempt('list as %s' % who, wire.V_KEPT_LIST, token_b)
    attempt('remove as %s' % who, wire.V_KEPT_REMOVE, token_b + wire.s(cid))
    attempt('remove-short as %s' % who, wire.V_KEPT_REMOVE, token_b + wire.s(cid[:12]))
    # The owner's id and the message's claims are not identity: only the token is.
    attempt('remove unknown-token', wire.V_KEPT_REMOVE, struct.pack('<I', 0xfffffff0) + wire.s(cid))
    attempt('remove not-hex', wire.V_KEPT_REMOVE, token_b + wire.s('ZZZZZZZZZZZZ'))
    attempt('remove trailing', wire.V_KEPT_REMOVE, token_b + wire.s(cid[:12]) + b'x')  # within the row's bounds
    attempt('remove oversized', wire.V_KEPT_REMOVE, token_b + wire.s(cid + '00'))
    attempt('list trailing', wire.V_KEPT_LIST, token_b + b'x')
    if not final:
        return
    # Last, the owner's own token: listed, then removed.
    attempt('owner list', wire.V_KEPT_LIST, struct.pack('<I', tok))
    attempt('owner remove', wire.V_KEPT_REMOVE, struct.pack('<I', tok) + wire.s(cid[:12]))
    log.write('done\n')


for mtype, p in chan.messages():
    if mtype == wire.BR_ASSIGN:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, off = wire.getstr(p, 5)
        principal, _ = wire.getstr(p, off)
        conns += 1
        if owner is None:
            cid = create(token)
            if cid:
                owner = (token, cid)
        else:
            intrude(token, tenant, principal, conns == 3)
