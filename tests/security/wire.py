"""A hostile frontend: speaks isol8's IPC framing (common/ipc.h, man/isol8-protocol.7) directly,
so a security test can send what the real CLI never would (wrong fd kinds, floods, half
hellos); and a fake isol8-worker's side of the broker channel (BrokerChannel), for the
compromised workers (*_worker.py). Used by the scripts in tests/security/; prints nothing
itself."""
import fcntl
import json
import os
import select
import socket
import struct

HDR = struct.Struct('<HBBHHIII')
MAGIC, VERSION = 0x3849, 1

FE_HELLO = 1
FE_RUN, FE_SESSION_LIST, FE_SESSION_STOP, FE_FILE_PUT, FE_FILE_GET, FE_SIGNAL, FE_STDIN = 10, 11, 12, 13, 14, 15, 16
WK_RESULT, WK_ERROR, WK_FILE, WK_SESSIONS, WK_OK = 20, 21, 22, 23, 24
HELLO_RUN, HELLO_SESSION_LIST, HELLO_SESSION_STOP, HELLO_FILE = 1, 2, 3, 4


def s(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack('<I', len(b)) + b


def frame(mtype, payload=b'', nfds=0, req=0):
    return HDR.pack(MAGIC, VERSION, mtype, 0, nfds, len(payload), req, 0) + payload


def send(sock, mtype, payload=b'', fds=()):
    data = frame(mtype, payload, len(fds))
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def recv(sock, timeout=30):
    """One message: (type, payload, fds), or None on EOF/timeout."""
    r, _, _ = select.select([sock], [], [], timeout)
    if not r:
        return None
    data, fds, _, _ = socket.recv_fds(sock, 70000, 3)
    if len(data) < HDR.size:
        for fd in fds:
            os.close(fd)
        return None
    _, _, mtype, _, _, _, _, _ = HDR.unpack_from(data)
    return mtype, data[HDR.size:], fds


def error_text(payload):
    """WK_ERROR payload: u16 code, str message."""
    (n,) = struct.unpack_from('<I', payload, 2)
    return payload[6:6 + n].decode(errors='replace')


def connect(path, op=HELLO_RUN, session=''):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.connect(path)
    send(sock, FE_HELLO, bytes([op]) + s(session))
    return sock


def run_request(code, runtime='python', session=None, stdin_stream=False, timeout_ms=20000, **opts):
    req = {'code': code, 'runtime': runtime, 'timeoutMs': timeout_ms, 'env': {}, 'workdir': '/sandbox',
           'installPackages': []}
    if stdin_stream:
        req['stdinStream'] = True
    options = {'network': 'none', 'secrets': {}}
    options.update(opts)
    root = {'request': req, 'options': options}
    if session:
        root['sessionId'] = session
    return json.dumps(root).encode()


def sealed_memfd(data=b''):
    """What the protocol wants for bundles and file content: a memfd sealed against change."""
    fd = os.memfd_create('bundle', os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE |
                fcntl.F_SEAL_SEAL)
    return fd


def run(path, code, runtime='python', stdin_fd=None, bundle_fd=None, session=None, **opts):
    """One FE_RUN with the program's stdout/stderr into pipes read here. Returns
    (reply type, reply payload, stdout bytes, stderr bytes)."""
    sock = connect(path, HELLO_RUN, session or '')
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    bundle = bundle_fd if bundle_fd is not None else sealed_memfd()
    try:
        send(sock, FE_RUN, run_request(code, runtime, session, stdin_fd is not None, **opts),
             [out_w, err_w, bundle])
        if stdin_fd is not None:
            send(sock, FE_STDIN, b'', [stdin_fd])
    finally:
        os.close(out_w)
        os.close(err_w)
    reply = recv(sock, 60)
    sock.close()
    out = _drain(out_r)
    err = _drain(err_r)
    if reply is None:
        return None, b'', out, err
    for fd in reply[2]:
        os.close(fd)
    return reply[0], reply[1], out, err


def _drain(fd):
    chunks = []
    os.set_blocking(fd, False)
    while True:
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not b:
            break
        chunks.append(b)
    os.close(fd)
    return b''.join(chunks)


# A fake isol8-worker's side of the broker channel (fake_worker.py, kept_worker.py,
# audit_worker.py): isol8d starts it with --worker-path and the channel on fd 3.
BR_ASSIGN, BR_REPLY_OK, BR_REPLY_OK_FD, BR_REPLY_ERR, BR_SHUTDOWN, BR_PREWARM = 30, 31, 32, 33, 34, 35
BR_REPLIES = (BR_REPLY_OK, BR_REPLY_OK_FD, BR_REPLY_ERR)
V_CREATE, V_START, V_REMOVE, V_CONN_DONE, V_AUDIT, V_USAGE, V_KEPT_LIST, V_KEPT_REMOVE = 40, 41, 46, 52, 55, 56, 57, 58
RT_PYTHON, RT_BASH = 0, 4
NET_NONE, NET_HOST = 0, 2
KIND_PERSIST = 2


def getstr(p, off):
    """A length-prefixed string at off: (text, offset after it)."""
    (n,) = struct.unpack_from('<I', p, off)
    return p[off + 4:off + 4 + n].decode(), off + 4 + n


def reply_text(t, r, none='no reply'):
    """A verb reply's error message, or `none` when no reply came."""
    return error_text(r) if t == BR_REPLY_ERR else none


def create_payload(token, runtime, memory, cpu_millis, pids, timeout_ms, sandbox_size, tmp_size, max_output,
                   net=NET_NONE, writable=0, kind=0, isolation=255):
    """V_CREATE (broker/validate.c): no image, no preferred image, no session, no persist ttl;
    isolation 255: the tenant's tier."""
    return (struct.pack('<IB', token, runtime) + s('') + s('') +
            struct.pack('<QQIQQQQ', memory, cpu_millis, pids, timeout_ms, sandbox_size, tmp_size, max_output) +
            struct.pack('<BBB', net, writable, kind) + s('') + struct.pack('<QB', 0, isolation))


class BrokerChannel:
    def __init__(self, fd=3):
        self.sock = socket.socket(fileno=fd)
        self.req = 0

    def send(self, mtype, payload):
        self.req += 1
        self.sock.send(frame(mtype, payload, 0, self.req))

    def call(self, mtype, payload):
        """Send a verb and wait for its reply: (reply type, payload), or (None, b'')."""
        self.send(mtype, payload)
        while True:
            m = recv(self.sock, 60)
            if m is None:
                return None, b''
            for fd in m[2]:
                os.close(fd)
            if m[0] in BR_REPLIES:
                return m[0], m[1]

    def messages(self):
        """What isol8d sends, (type, payload) until EOF or BR_SHUTDOWN; each message's fds are
        closed once the loop body has run."""
        while True:
            m = recv(self.sock, 3600)
            if m is None:
                return
            mtype, p, fds = m
            if mtype == BR_SHUTDOWN:
                return
            try:
                yield mtype, p
            finally:
                for fd in fds:
                    os.close(fd)
