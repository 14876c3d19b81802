# Long authenticated streams against `isol8 serve` (tests/security/http_slowloris_test.sh): they
# must outlive the header deadline. argv: sse|ws host port key seconds [source-address]
# Prints "sse|ws LINES EXIT SECONDS": how many of the program's lines arrived, its exit code.
import base64, json, os, socket, struct, sys, time

mode, host, port, key, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
src = sys.argv[6] if len(sys.argv) > 6 else None
code = "import time\nfor i in range(%d):\n    print(i, flush=True)\n    time.sleep(1)" % secs
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=60, source_address=(src, 0) if src else None)


def recv_exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


lines, exit_code = 0, None
try:
    if mode == "sse":
        body = json.dumps({"request": {"code": code, "runtime": "python", "timeoutMs": (secs + 30) * 1000}}).encode()
        s.sendall(("POST /execute/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n" % (key, len(body))).encode() + body)
        buf = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            buf += c
        for ln in buf.split(b"\n"):
            if ln.startswith(b"data: "):
                ev = json.loads(ln[6:])
                if ev["type"] == "stdout":
                    lines += ev["data"].count("\n")
                elif ev["type"] == "exit":
                    exit_code = ev["data"]
    else:
        k = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET /execute/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n" % (k, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += recv_exact(1)
        msg = json.dumps({"type": "execute", "request": {"code": code, "runtime": "python",
                                                        "timeoutMs": (secs + 30) * 1000}}).encode()
        m = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(msg)) + m +
                  bytes(c ^ m[i % 4] for i, c in enumerate(msg)))
        while exit_code is None:
            b0, b1 = recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", recv_exact(8))[0]
            p = recv_exact(n)
            if b0 & 0x0F == 8:
                break
            if b0 & 0x0F == 1:
                ev = json.loads(p)
                if ev["type"] == "stdout":
                    lines += ev["data"].count("\n")
                elif ev["type"] in ("exit", "error"):
                    exit_code = ev["data"]
except (OSError, EOFError) as e:
    print(mode, lines, "cut:%s" % type(e).__name__, "%.0f" % (time.monotonic() - t0))
    sys.exit(0)
print(mode, lines, exit_code, "%.0f" % (time.monotonic() - t0))
