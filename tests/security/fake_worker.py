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


for mtype, p in chan.messages():
    if mtype == wire.BR_PREWARM:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, _ = wire.getstr(p, 4)
        escalate(token, tenant, 'prewarm')
    elif mtype == wire.BR_ASSIGN:
        (token,) = struct.unpack_from('<I', p, 0)
        tenant, _ = wire.getstr(p, 5)
        escalate(token, tenant, 'conn')
