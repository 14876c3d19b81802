"""A small RFC 6455 WebSocket client (standard library only) for GET /execute/ws.

What it does: the opening handshake over socket/ssl (a random Sec-WebSocket-Key, the answer's
Sec-WebSocket-Accept checked, no extension or subprotocol accepted), masked client frames,
fragmented messages reassembled, ping answered with pong, the close handshake, and size caps on
the answer's head, on each frame and on each message. Reads happen only when the caller asks for
the next message, so a slow consumer leaves the bytes in the kernel's buffers and the server
stops reading the program's output: backpressure as with a pipe.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
import urllib.parse
from typing import Dict, List, Optional, Tuple

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
HEAD_MAX = 64 * 1024
ERROR_BODY_MAX = 1024 * 1024
MESSAGE_MAX = 64 * 1024 * 1024  # as libisol8's SSE event cap: a files event can be large


class WebSocketError(Exception):
    """The WebSocket failed: a protocol violation, a closed connection or a cap exceeded."""


class HandshakeRefused(WebSocketError):
    """The server answered the upgrade with an HTTP status other than 101."""

    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        super().__init__("WebSocket upgrade refused: HTTP %d" % status)
        self.status = status
        self.headers = headers
        self.body = body


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def mask(data: bytes, key: bytes) -> bytes:
    """XOR data with the 4-byte masking key (RFC 6455 5.3), a machine word at a time."""
    n = len(data)
    if not n:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


class WebSocket:
    """One client connection. connect() does the handshake; recv() returns the next text
    message (str) or None once the server closed; close() does the close handshake."""

    def __init__(self, sock: socket.socket, max_message: int = MESSAGE_MAX) -> None:
        self.sock = sock
        self.max_message = max_message
        self.headers: Dict[str, str] = {}
        self.close_code: Optional[int] = None
        self.close_reason = ""
        self._buf = bytearray()
        self._closed_sent = False
        self._closed_recv = False

    # ---- opening handshake ---------------------------------------------------------------
    @classmethod
    def connect(cls, url: str, headers: Dict[str, str], timeout: float,
                max_message: int = MESSAGE_MAX, ssl_context: Optional[ssl.SSLContext] = None) -> "WebSocket":
        """url: http(s):// or ws(s)://. Raises HandshakeRefused for a non-101 answer,
        WebSocketError for a bad 101, OSError when the server cannot be reached."""
        u = urllib.parse.urlsplit(url)
        secure = u.scheme in ("https", "wss")
        if u.scheme not in ("http", "https", "ws", "wss") or not u.hostname:
            raise WebSocketError("not a WebSocket URL: %r" % url)
        port = u.port or (443 if secure else 80)
        raw = socket.create_connection((u.hostname, port), timeout=timeout)
        try:
            if secure:
                ctx = ssl_context or ssl.create_default_context()
                sock: socket.socket = ctx.wrap_socket(raw, server_hostname=u.hostname)
            else:
                sock = raw
            ws = cls(sock, max_message)
            ws._handshake(u, headers)
            return ws
        except BaseException:
            raw.close()
            raise

    def _handshake(self, u: urllib.parse.SplitResult, extra: Dict[str, str]) -> None:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        host = "[%s]" % u.hostname if ":" in (u.hostname or "") else (u.hostname or "")
        if u.port:
            host += ":%d" % u.port
        target = (u.path or "/") + ("?" + u.query if u.query else "")
        lines = ["GET %s HTTP/1.1" % target, "Host: %s" % host, "Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: %s" % key, "Sec-WebSocket-Version: 13"]
        for name, value in extra.items():
            if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
                raise WebSocketError("header %r has a line break" % name)
            lines.append("%s: %s" % (name, value))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status, headers = self._read_head()
        self.headers = headers
        if status != 101:
            raise HandshakeRefused(status, headers, self._read_error_body(headers))
        if headers.get("upgrade", "").lower() != "websocket" or \
                "upgrade" not in [t.strip().lower() for t in headers.get("connection", "").split(",")]:
            raise WebSocketError("the 101 answer does not upgrade to websocket")
        if headers.get("sec-websocket-accept") != accept_for(key):
            raise WebSocketError("the 101 answer's Sec-WebSocket-Accept does not match the key")
        if headers.get("sec-websocket-extensions") or headers.get("sec-websocket-protocol"):
            raise WebSocketError("the server chose an extension or subprotocol that was not offered")

    def _read_head(self) -> Tuple[int, Dict[str, str]]:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buf) > HEAD_MAX:
                raise WebSocketError("the server's answer head is over %d bytes" % HEAD_MAX)
            self._fill()
        head = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[:end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise WebSocketError("not an HTTP answer: %r" % lines[0][:80])
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                n = name.strip().lower()
                headers[n] = (headers[n] + ", " if n in headers else "") + value.strip()
        return int(parts[1]), headers

    def _read_error_body(self, headers: Dict[str, str]) -> bytes:
        try:
            want = int(headers.get("content-length", "0"))
        except ValueError:
            want = 0
        want = min(max(want, 0), ERROR_BODY_MAX)
        try:
            while len(self._buf) < want:
                self._fill()
        except (OSError, WebSocketError):
            pass
        return bytes(self._buf[:want])

    # ---- framing -------------------------------------------------------------------------
    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise WebSocketError("the server closed the connection")
        self._buf += chunk

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _read_frame(self) -> Tuple[bool, int, bytes]:
        b0, b1 = self._read(2)
        fin, rsv, op = bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F
        masked, n = bool(b1 & 0x80), b1 & 0x7F
        if rsv:
            self._fail(1002, "a frame with RSV bits set (no extension was negotiated)")
        if masked:
            self._fail(1002, "a masked frame from the server")
        if op not in (OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG):
            self._fail(1002, "a frame with the reserved opcode %d" % op)
        if op >= OP_CLOSE and (not fin or n > 125):
            self._fail(1002, "a fragmented or oversized control frame")
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
            if n >> 63:
                self._fail(1002, "a frame length with the top bit set")
        if n > self.max_message:
            self._fail(1009, "a frame of %d bytes (the cap is %d)" % (n, self.max_message))
        return fin, op, self._read(n)

    def _fail(self, code: int, why: str) -> None:
        try:
            self._send_close(code, "")
        except OSError:
            pass
        self.sock.close()
        raise WebSocketError("WebSocket protocol error: " + why)

    def send_frame(self, op: int, payload: bytes) -> None:
        key = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | op, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | op, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | op, 0x80 | 127, n)
        self.sock.sendall(head + key + mask(payload, key))

    def send_text(self, text: str) -> None:
        self.send_frame(OP_TEXT, text.encode("utf-8"))

    def _send_close(self, code: int, reason: str) -> None:
        if not self._closed_sent:
            self._closed_sent = True
            self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:123])

    def recv(self) -> Optional[str]:
        """The next text message, or None after the server's close frame (close_code has its
        status). Pings are answered, pongs dropped, binary messages refused with 1003."""
        parts: List[bytes] = []
        size = 0
        msg_op: Optional[int] = None
        while not self._closed_recv:
            fin, op, payload = self._read_frame()
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                self._on_close(payload)
                return None
            if op == OP_CONT and msg_op is None:
                self._fail(1002, "a continuation frame outside a fragmented message")
            if op != OP_CONT and msg_op is not None:
                self._fail(1002, "a new message inside a fragmented one")
            if op != OP_CONT:
                msg_op = op
            size += len(payload)
            if size > self.max_message:
                self._fail(1009, "a message over %d bytes" % self.max_message)
            parts.append(payload)
            if not fin:
                continue
            if msg_op == OP_BINARY:
                self._fail(1003, "a binary message (the API sends text)")
            try:
                return b"".join(parts).decode("utf-8")
            except UnicodeDecodeError:
                self._fail(1007, "a text message that is not UTF-8")
        return None

    def _on_close(self, payload: bytes) -> None:
        self._closed_recv = True
        if len(payload) == 1:
            self._fail(1002, "a close frame with a 1-byte body")
        self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        try:
            self.close_reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            self._fail(1007, "a close reason that is not UTF-8")
        # Echo the status (RFC 6455 5.5.1), then the server closes the TCP connection.
        try:
            self._send_close(self.close_code if self.close_code not in (1005, 1006, 1015) else 1000, "")
        except OSError:
            pass

    def close(self, code: int = 1000, reason: str = "", wait: float = 2.0) -> None:
        """Close handshake: send our close, read (and drop) until the server's close or EOF,
        then close the socket. Safe to call twice."""
        try:
            if not self._closed_recv:
                self._send_close(code, reason)
                self.sock.settimeout(wait)
                budget = self.max_message
                while not self._closed_recv and budget > 0:
                    fin, op, payload = self._read_frame()
                    budget -= len(payload)
                    if op == OP_CLOSE:
                        self._on_close(payload)
        except (OSError, WebSocketError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
