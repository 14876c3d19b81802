# Slowloris against `isol8 serve` (tests/security/http_slowloris_test.sh). Opens N connections
# from one source address and keeps each alive by trickling header bytes (never finishing the
# headers) every INTERVAL seconds, for at most DURATION seconds. Prints one line:
#   opened=N refused=R cut=C alive=A first_cut=S last_cut=S
# refused: closed by the server before 2 s (over a connection limit); cut: closed later (a
# deadline); alive: still open at the end. Times are seconds since the connections were opened.
# argv: host port n interval duration [source-address]
import socket
import sys
import time

host, port, n, interval, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
src = sys.argv[6] if len(sys.argv) > 6 else None

conns = []
t0 = time.monotonic()
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(5)
    try:
        s.connect((host, port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    except OSError:
        conns.append([None, 0.0])
        continue
    s.setblocking(False)
    conns.append([s, None])

closed_at = {}


def dead(s):
    try:
        d = s.recv(4096)
        return d == b""  # EOF (data would be an answer; headers are never complete)
    except BlockingIOError:
        return False
    except OSError:
        return True


while time.monotonic() - t0 < duration:
    for i, c in enumerate(conns):
        s = c[0]
        if s is None or i in closed_at:
            continue
        gone = dead(s)
        if not gone:
            try:
                s.send(b"X")  # one more byte of a header line that never ends
            except OSError:
                gone = True
        if gone:
            closed_at[i] = time.monotonic() - t0
    if all(c[0] is None or i in closed_at for i, c in enumerate(conns)):
        break
    time.sleep(interval)

# Beyond the per-address limit a connection has a short grace to complete its request (it is
# answered 429 if it does, http/deadline.h); refused is "closed well before the deadline".
refused = sum(1 for i, c in enumerate(conns) if c[0] is None or closed_at.get(i, 99) < 2.0)
cut = [t for i, t in closed_at.items() if t >= 2.0]
alive = sum(1 for i, c in enumerate(conns) if c[0] is not None and i not in closed_at)
print("opened=%d refused=%d cut=%d alive=%d first_cut=%.1f last_cut=%.1f"
      % (n, refused, len(cut), alive, min(cut) if cut else -1, max(cut) if cut else -1))
sys.stdout.flush()
