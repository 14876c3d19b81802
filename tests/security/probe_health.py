#!/usr/bin/env python3
"""How long isol8d takes to answer (tests/security/worker_wedge_test.sh).

Usage: probe_health.py SOCKET SECONDS
Asks HELLO_HEALTH (answered by isol8d's main loop itself) every 50 ms for SECONDS and prints
"probes=N failed=F max_ms=M": M is the slowest answer, F the probes without one within 10 s."""
import socket
import sys
import time

import wire

WK_HEALTH, HELLO_HEALTH = 28, 10
path, secs = sys.argv[1], float(sys.argv[2])
n = failed = 0
worst = 0.0
end = time.monotonic() + secs
while time.monotonic() < end:
    t0 = time.monotonic()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        wire.send(s, wire.FE_HELLO, bytes([HELLO_HEALTH]) + wire.s(''))
        m = wire.recv(s, 10)
        s.close()
        if m is None or m[0] != WK_HEALTH:
            failed += 1
    except OSError:
        failed += 1
    n += 1
    worst = max(worst, time.monotonic() - t0)
    time.sleep(0.05)
print('probes=%d failed=%d max_ms=%d' % (n, failed, worst * 1000))
