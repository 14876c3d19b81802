#!/usr/bin/env python3
"""Hold connections to isol8d open without sending a hello (tests/security/front_door_test.sh).

Usage: flood.py SOCKET N HOLD-SECONDS READY-FILE [hello]
Opens N connections (with "hello": each sends an FE_HELLO for a session list and then
nothing, so isol8d routes it to a worker that waits for the request), writes "accepted refused" to READY-FILE once every connection was either
refused (an error reply) or is being held, then holds the rest for HOLD-SECONDS and prints
"accepted=A refused=R closed_by_daemon=C first_error=..." (C: held ones the daemon closed)."""
import os
import select
import socket
import sys
import time

import wire

path, n, hold, ready = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
hello = len(sys.argv) > 5 and sys.argv[5] == 'hello'
socks, refused, first_error = [], 0, ''
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    if hello:
        wire.send(s, wire.FE_HELLO, bytes([wire.HELLO_SESSION_LIST]) + wire.s(''))
        time.sleep(0.02)  # let it be routed: past the front door, into a worker
    socks.append(s)
time.sleep(0.5)
held = []
for s in socks:
    r, _, _ = select.select([s], [], [], 0)
    if r:
        m = wire.recv(s, 0)
        if m and m[0] == wire.WK_ERROR:
            refused += 1
            first_error = first_error or wire.error_text(m[1])
        s.close()
    else:
        held.append(s)
with open(ready + '.tmp', 'w') as f:
    f.write('%d %d\n' % (len(held), refused))
os.rename(ready + '.tmp', ready)
deadline = time.time() + hold
closed = set()
while time.time() < deadline and len(closed) < len(held):
    r, _, _ = select.select([s for s in held if s not in closed], [], [], 0.1)
    for s in r:
        try:
            if not s.recv(70000):
                closed.add(s)
        except OSError:
            closed.add(s)
print('accepted=%d refused=%d closed_by_daemon=%d first_error=%s' % (len(held), refused, len(closed), first_error))
