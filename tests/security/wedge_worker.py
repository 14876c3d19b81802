#!/usr/bin/env python3
"""A compromised isol8-worker that stops reading its broker channel
(tests/security/worker_wedge_test.sh). isol8d starts it through a wrapper (--worker-path) with
the channel on fd 3; "index=N pid=P mode=M" goes to $ISOL8_WEDGE_LOG at start.

  wedge_worker.py flood ARGS...  once $ISOL8_WEDGE_GO exists, sends 600 messages of a type no
                                 worker may send (each one an error reply from isol8d's main
                                 loop) and never reads again
  wedge_worker.py idle ARGS...   reads its channel and does nothing (closes what it is given)"""
import os
import select
import socket
import sys
import time

import wire

mode = sys.argv[1]
index = sys.argv[sys.argv.index('--index') + 1] if '--index' in sys.argv else '?'
with open(os.environ.get('ISOL8_WEDGE_LOG', '/dev/null'), 'a') as log:
    log.write('index=%s pid=%d mode=%s\n' % (index, os.getpid(), mode))
chan = socket.socket(fileno=3)
go = os.environ.get('ISOL8_WEDGE_GO', '')
while True:
    if mode == 'flood' and os.path.exists(go):
        for i in range(600):
            chan.send(wire.frame(250, b'', 0, i + 1))
        while True:
            time.sleep(3600)
    if not select.select([chan], [], [], 0.1)[0]:
        continue
    data, fds, _, _ = socket.recv_fds(chan, 70000, 3)
    for fd in fds:
        os.close(fd)
    if not data or (len(data) >= wire.HDR.size and wire.HDR.unpack_from(data)[2] == wire.BR_SHUTDOWN):
        break
