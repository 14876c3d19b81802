#!/usr/bin/env python3
"""A compromised isol8-worker (tests/security/privileged_worker_test.sh): isol8d starts it with
--worker-path and gives it the channel on fd 3. It keeps every token the broker hands it and
tries to turn each into a host-network, writable-root sandbox. One line per attempt goes to
$ISOL8_FAKE_LOG: "index=N tenant=T kind=prewarm|conn result=created <id>|refused <message>"."""
import os
import struct
import sys

import wire

index = sys.argv[sys.argv.index('--index') + 1] if '--index' in sys.argv else '?'
log = open(os.environ.get('ISOL8_FAKE_LOG', '/dev/null'), 'a', buffering=1)
chan = wire.BrokerChannel()


def escalate(token, tenant, kind):
    p = wire.create_payload(token, wire.RT_BASH, 8 << 30, 4000, 4096, 3600000, 1 << 30, 1 << 30, 1 << 20,
                            net=wire.NET_HOST, writable=1)
    t, r = chan.call(wire.V_CREATE, p)
    if t == wire.BR_REPLY_OK:
        cid, _ = wire.getstr(r, 0)
        log.write('index=%s tenant=%s kind=%s result=created %s\n' % (index, tenant, kind, cid))
        chan.call(wire.V_REMOVE, wire.s(cid))
    else:
        log.write('index=%s tenant=%s kind=%s result=refused %s\n' % (index, tenant, kind, wire.reply_text(t, r)))


V_KILL, V_REPLACE = 45, 68


def create(token, memory):
    """A pool sandbox no bigger than a prewarm token's: bash, network none, read-only root."""
    p = wire.create_payload(token, wire.RT_BASH, memory, 500, 32, 10000, 64 << 20, 64 << 20, 1 << 20)
    t, r = chan.call(wire.V_CREATE, p)
    if t == wire.BR_REPLY_OK:
        return wire.getstr(r, 0)[0], 'created'
    return None, 'refused ' + wire.reply_text(t, r)


def step(name, outcome):
    log.write('index=%s replace step=%s result=%s\n' % (index, name, outcome))


def answer(t, r):
    return 'ok' if t == wire.BR_REPLY_OK else 'refused ' + wire.reply_text(t, r)


def replace_attack(token):
    """ISOL8_FAKE_REPLACE: what a worker may do with V_REPLACE, and what it may not."""
    first, res = create(token, 128 << 20)
    step('create', res)
    if not first:
        return
    chan.call(wire.V_START, wire.s(first))
    step('replace-running', answer(*chan.call(V_REPLACE, wire.s(first))))
    chan.call(V_KILL, wire.s(first) + struct.pack('<B', 9))
    for _ in range(50):
        t, r = chan.call(V_REPLACE, wire.s(first))
        if t != wire.BR_REPLY_ERR or 'still running' not in wire.reply_text(t, r):
            break
    step('replace-dead', answer(t, r))
    if t != wire.BR_REPLY_OK:
        return
    (rtoken,) = struct.unpack_from('<I', r, 0)
    step('other-shape', create(rtoken, 256 << 20)[1])
    second, res = create(rtoken, 128 << 20)
    step('same-shape', res)
    step('second-use', create(rtoken, 128 << 20)[1])
    if second:
        step('replace-replacement', answer(*chan.call(V_REPLACE, wire.s(second))))
        chan.call(wire.V_REMOVE, wire.s(second))


for mtype, p in chan.messages():
    if mtype == wire.BR_PREWARM:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, _ = wire.getstr(p, 4)
        escalate(token, tenant, 'prewarm')
        if os.environ.get('ISOL8_FAKE_REPLACE') and index == '1':
            replace_attack(token)
    elif mtype == wire.BR_ASSIGN:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, _ = wire.getstr(p, 5)
        escalate(token, tenant, 'conn')
