"""The SDK against a small local stand-in server (no isol8 needed): the WebSocket client's
framing (masking, fragments, control frames, the close handshake, caps, refusals), the
fallback to SSE, and the headers every call of a session carries (X-Isol8-Session and the
node pin X-Isol8-Node), which a balancer hashing on the header needs on file calls too."""
import base64
import hashlib
import json
import os
import socket
import struct
import threading
import unittest

import isol8
from isol8 import RemoteIsol8
from isol8.ws import WebSocket, WebSocketError

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(op, payload, fin=True, masked=False, length=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | op
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if masked else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if masked else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if masked else 0) | 127, n)
    if masked:
        key = b"\x01\x02\x03\x04"
        payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        head += key
    return head + payload


class Conn:
    """One accepted connection, read the way a server reads a client."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read(self, n):
        while len(self.buf) < n:
            c = self.sock.recv(65536)
            if not c:
                raise EOFError
            self.buf += c
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            c = self.sock.recv(65536)
            if not c:
                raise EOFError
            self.buf += c
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = self.read(int(headers.get("content-length", "0")))
        return method, target, headers, body

    def client_frame(self):
        """(fin, op, payload, was_masked) of the client's next frame."""
        b0, b1 = self.read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read(8))[0]
        key = self.read(4) if b1 & 0x80 else b"\0\0\0\0"
        data = self.read(n)
        return bool(b0 & 0x80), b0 & 0x0F, bytes(c ^ key[i % 4] for i, c in enumerate(data)), bool(b1 & 0x80)

    def send(self, data):
        self.sock.sendall(data)

    def answer(self, status, body=b"", headers=()):
        h = "".join("%s: %s\r\n" % kv for kv in headers)
        self.send(("HTTP/1.1 %d X\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n" % (status, h, len(body))).encode()
                  + body)

    def upgrade(self, headers, accept=None, extra=""):
        key = headers["sec-websocket-key"]
        accept = accept or base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        self.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n%s\r\n" % (accept, extra)).encode())


class StandIn:
    """A server on 127.0.0.1 calling handler(conn, method, target, headers, body) per request
    (one request per connection); records every request's (method, target, headers)."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.errors = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.threads = []
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def _accept(self):
        while True:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._one, args=(s,), daemon=True)
            self.threads.append(t)
            t.start()

    def _one(self, s):
        s.settimeout(10)  # a client that stops talking fails its test instead of hanging it
        c = Conn(s)
        try:
            method, target, headers, body = c.head()
            self.requests.append((method, target, headers))
            self.handler(c, method, target, headers, body)
        except Exception as e:  # shown by the test that looks at .errors
            self.errors.append(repr(e))
        finally:
            s.close()

    def close(self):
        self.lsock.close()
        for t in self.threads:
            t.join(5)


SSE_BODY = (b'data: {"type":"stdout","data":"over sse\\n","phase":"code"}\n\n'
            b'data: {"type":"exit","data":"0","phase":"code"}\n\n')


def sse(c):
    c.answer(200, SSE_BODY, [("Content-Type", "text/event-stream")])


def ev(**kw):
    return json.dumps(kw).encode()


class WebSocketFraming(unittest.TestCase):
    def serve(self, handler):
        srv = StandIn(handler)
        self.addCleanup(srv.close)
        return srv

    def test_handshake_masking_fragments_ping_and_close(self):
        seen = {}

        def handler(c, method, target, headers, body):
            seen["head"] = (method, target, headers.get("upgrade"), headers.get("connection"),
                            headers.get("sec-websocket-version"), len(base64.b64decode(headers["sec-websocket-key"])))
            c.upgrade(headers)
            seen["execute"] = c.client_frame()
            # one message in three frames, a ping between two of them
            c.send(frame(1, b'{"type":"stdout","da', fin=False) + frame(0, b'ta":"hel', fin=False) +
                   frame(9, b"are you there") + frame(0, b'lo\\n","phase":"code"}'))
            seen["pong"] = c.client_frame()
            c.send(frame(1, ev(type="exit", data="0", phase="code")) + frame(8, struct.pack("!H", 1000) +
                                                                              b"Execution complete"))
            seen["close"] = c.client_frame()

        srv = self.serve(handler)
        box = RemoteIsol8(srv.url, "k", session_id="s1", transport="ws")
        evs = list(box.execute_stream(code="print(1)", runtime="python"))
        srv.close()
        self.assertEqual(srv.errors, [])
        self.assertEqual([(e.type, e.data, e.phase) for e in evs], [("stdout", "hello\n", "code"), ("exit", "0", "code")])
        self.assertEqual(seen["head"], ("GET", "/execute/ws", "websocket", "Upgrade", "13", 16))
        fin, op, payload, masked = seen["execute"]
        self.assertEqual((fin, op, masked), (True, 1, True))
        self.assertEqual(json.loads(payload), {"type": "execute", "sessionId": "s1",
                                               "request": {"code": "print(1)", "runtime": "python"}})
        self.assertEqual(seen["pong"], (True, 10, b"are you there", True))
        self.assertEqual(seen["close"], (True, 8, struct.pack("!H", 1000), True))

    def test_large_frames_use_the_long_lengths(self):
        big = "z" * 70000

        def handler(c, method, target, headers, body):
            c.upgrade(headers)
            c.client_frame()
            c.send(frame(1, ev(type="stdout", data=big[:200], phase="code")) +
                   frame(1, ev(type="stdout", data=big, phase="code")) + frame(8, struct.pack("!H", 1000)))
            c.client_frame()

        srv = self.serve(handler)
        evs = list(RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="x" * 70000))
        self.assertEqual([len(e.data) for e in evs], [200, 70000])

    def refused(self, send, want_close, cap=None):
        seen = {}

        def handler(c, method, target, headers, body):
            c.upgrade(headers)
            c.send(send)
            seen["close"] = c.client_frame()

        srv = self.serve(handler)
        ws = WebSocket.connect(srv.url + "/x", {}, 5, **({"max_message": cap} if cap else {}))
        with self.assertRaises(WebSocketError) as cm:
            ws.recv()
        srv.close()
        fin, op, payload, masked = seen["close"]
        self.assertEqual((op, struct.unpack("!H", payload[:2])[0], masked), (8, want_close, True))
        return str(cm.exception)

    def test_masked_server_frame(self):
        self.assertEqual(self.refused(frame(1, b"{}", masked=True), 1002),
                         "WebSocket protocol error: a masked frame from the server")

    def test_reserved_bits_and_opcodes(self):
        self.assertIn("RSV bits", self.refused(b"\xc1\x02{}", 1002))
        self.assertIn("reserved opcode 3", self.refused(frame(3, b""), 1002))

    def test_control_frames_must_be_small_and_whole(self):
        self.assertIn("control frame", self.refused(frame(9, b"p", fin=False), 1002))
        self.assertIn("control frame", self.refused(frame(9, b"p" * 126), 1002))

    def test_fragmentation_errors(self):
        self.assertIn("continuation frame outside", self.refused(frame(0, b"x"), 1002))
        self.assertIn("new message inside", self.refused(frame(1, b"x", fin=False) + frame(1, b"y"), 1002))

    def test_caps(self):
        # the announced length alone is refused: the body is never read
        self.assertEqual(self.refused(frame(1, b"", length=5000), 1009, cap=1000),
                         "WebSocket protocol error: a frame of 5000 bytes (the cap is 1000)")
        self.assertIn("a message over 1000 bytes",
                      self.refused(frame(1, b"a" * 600, fin=False) + frame(0, b"b" * 600), 1009, cap=1000))

    def test_binary_and_bad_utf8(self):
        self.assertIn("binary message", self.refused(frame(2, b"\x00\x01"), 1003))
        self.assertIn("not UTF-8", self.refused(frame(1, b"\xff\xfe"), 1007))

    def test_bad_accept_key(self):
        srv = self.serve(lambda c, m, t, h, b: c.upgrade(h, accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA="))
        with self.assertRaises(isol8.Isol8Error) as cm:
            list(RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="1"))
        self.assertEqual(str(cm.exception),
                         "Execution failed: the 101 answer's Sec-WebSocket-Accept does not match the key")

    def test_unasked_extension(self):
        srv = self.serve(lambda c, m, t, h, b: c.upgrade(h, extra="Sec-WebSocket-Extensions: permessage-deflate\r\n"))
        with self.assertRaises(isol8.Isol8Error) as cm:
            list(RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="1"))
        self.assertIn("extension or subprotocol that was not offered", str(cm.exception))

    def test_head_cap(self):
        srv = self.serve(lambda c, m, t, h, b: c.send(b"HTTP/1.1 101 X\r\nX: " + b"a" * 70000))
        with self.assertRaises(isol8.Isol8Error) as cm:
            list(RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="1"))
        self.assertEqual(str(cm.exception), "Execution failed: the server's answer head is over 65536 bytes")

    def test_early_break_closes(self):
        seen = {}

        def handler(c, method, target, headers, body):
            c.upgrade(headers)
            c.client_frame()
            c.send(frame(1, ev(type="stdout", data="first\n", phase="code")))
            seen["close"] = c.client_frame()
            c.send(frame(8, seen["close"][2]))

        srv = self.serve(handler)
        for e in RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="1"):
            self.assertEqual(e.data, "first\n")
            break
        srv.close()
        self.assertEqual(seen["close"][:3], (True, 8, struct.pack("!H", 1000)))

    def test_abnormal_close_without_exit(self):
        def handler(c, method, target, headers, body):
            c.upgrade(headers)
            c.client_frame()
            c.send(frame(1, ev(type="stdout", data="x", phase="code")) + frame(8, struct.pack("!H", 1001) + b"server shutting down"))
            c.client_frame()

        srv = self.serve(handler)
        with self.assertRaises(isol8.Isol8Error) as cm:
            list(RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="1"))
        self.assertEqual(str(cm.exception), "Execution failed: the server closed the WebSocket with 1001 server shutting down")

    def test_start_error_with_status_raises(self):
        def handler(c, method, target, headers, body):
            c.upgrade(headers)
            c.client_frame()
            c.send(frame(1, ev(type="error", data="Too many concurrent executions; retry later", status=429)) +
                   frame(8, struct.pack("!H", 1000)))
            c.client_frame()

        srv = self.serve(handler)
        with self.assertRaises(isol8.RateLimited) as cm:
            list(RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="1"))
        self.assertEqual((cm.exception.status, cm.exception.error), (429, "Too many concurrent executions; retry later"))


class Fallback(unittest.TestCase):
    def test_auto_falls_back_to_sse_and_remembers(self):
        def handler(c, method, target, headers, body):
            if target == "/execute/ws":
                c.answer(404, b'{"error":"Not found"}')
            else:
                sse(c)

        srv = StandIn(handler)
        self.addCleanup(srv.close)
        box = RemoteIsol8(srv.url, "k")
        for _ in range(2):
            evs = list(box.execute_stream(code="1"))
            self.assertEqual([(e.type, e.data) for e in evs], [("stdout", "over sse\n"), ("exit", "0")])
            self.assertEqual(box.last_transport, "sse")
        self.assertEqual([r[:2] for r in srv.requests],
                         [("GET", "/execute/ws"), ("POST", "/execute/stream"), ("POST", "/execute/stream")])
        # forced, the refusal is the error
        with self.assertRaises(isol8.NotFound) as cm:
            list(RemoteIsol8(srv.url, "k", transport="ws").execute_stream(code="1"))
        self.assertEqual((cm.exception.status, cm.exception.error), (404, "Not found"))

    def test_sse_forced_never_upgrades(self):
        srv = StandIn(lambda c, m, t, h, b: sse(c))
        self.addCleanup(srv.close)
        list(RemoteIsol8(srv.url, "k", transport="sse").execute_stream(code="1"))
        self.assertEqual([r[:2] for r in srv.requests], [("POST", "/execute/stream")])


class SessionHeaders(unittest.TestCase):
    """Every call of a session names it (X-Isol8-Session) and, once a node answered, pins it
    (X-Isol8-Node): execute, the stream's upgrade, put_file, get_file, delete_session."""

    def test_every_session_call_carries_the_pin(self):
        def handler(c, method, target, headers, body):
            node = [("X-Isol8-Node", "node-7")]
            if target == "/execute/ws":
                c.upgrade(headers, extra="X-Isol8-Node: node-7\r\n")
                c.client_frame()
                c.send(frame(1, ev(type="exit", data="0", phase="code")) + frame(8, struct.pack("!H", 1000)))
                c.client_frame()
            elif target == "/execute":
                c.answer(200, json.dumps({"stdout": "", "stderr": "", "exitCode": 0}).encode(), node)
            elif target.startswith("/file") and method == "GET":
                c.answer(200, json.dumps({"content": base64.b64encode(b"data").decode()}).encode(), node)
            else:
                c.answer(200, b'{"ok":true}', node)

        srv = StandIn(handler)
        self.addCleanup(srv.close)
        box = RemoteIsol8(srv.url, "k", session_id="pinned")
        box.execute(code="1")
        list(box.execute_stream(code="1"))
        box.put_file("a.txt", b"data")
        self.assertEqual(box.get_file("a.txt"), b"data")
        box.stop()
        got = [(m, t.split("?")[0], h.get("x-isol8-session"), h.get("x-isol8-node"), h.get("authorization"))
               for m, t, h in srv.requests]
        self.assertEqual(got, [
            ("POST", "/execute", "pinned", None, "Bearer k"),
            ("GET", "/execute/ws", "pinned", "node-7", "Bearer k"),
            ("POST", "/file", "pinned", "node-7", "Bearer k"),
            ("GET", "/file", "pinned", "node-7", "Bearer k"),
            ("DELETE", "/session/pinned", "pinned", "node-7", "Bearer k"),
        ])
        self.assertEqual(box.nodes, {})

    def test_the_first_stream_of_a_session_learns_the_node(self):
        def handler(c, method, target, headers, body):
            c.upgrade(headers, extra="X-Isol8-Node: node-3\r\n")
            c.client_frame()
            c.send(frame(1, ev(type="exit", data="0", phase="code")) + frame(8, struct.pack("!H", 1000)))
            c.client_frame()

        srv = StandIn(handler)
        self.addCleanup(srv.close)
        box = RemoteIsol8(srv.url, "k", session_id="s9", transport="ws")
        list(box.execute_stream(code="1"))
        self.assertEqual(box.nodes, {"s9": "node-3"})
        self.assertEqual(RemoteIsol8(srv.url, "k", transport="ws").nodes, {})


if __name__ == "__main__":
    os.environ.pop("ISOL8_API_KEY", None)
    unittest.main()
