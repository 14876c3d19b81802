"""Hostile FE_RUN bundles for the attack replays (tests/security/bundle_test.sh,
request_leak_test.sh): tars a real frontend never writes (sparse entries, huge declared sizes,
device nodes, floods of entries), each in a sealed memfd ready to pass as the bundle fd."""
import fcntl
import io
import os
import tarfile

import wire

F_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def memfd(data):
    """A memfd holding data, positioned at 0 and sealed like the CLI's bundle."""
    fd = os.memfd_create('bundle', os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.lseek(fd, 0, os.SEEK_SET)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, F_SEALS)
    return fd


def tar_of(entries):
    """entries: (name, bytes) regular files, or (name, None) directories; ustar."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode='w', format=tarfile.USTAR_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.uid, ti.gid = 100, 101
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                t.addfile(ti, io.BytesIO(data))
    return out.getvalue()


def _num(value, width):
    """A tar number field: octal when it fits, else GNU base-256."""
    octal = b'%0*o' % (width - 1, value)
    if len(octal) < width:
        return octal + b'\0'
    return b'\x80' + value.to_bytes(width - 1, 'big')


def _header(name, size, typeflag, extra=b''):
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = _num(0o644, 8)
    h[108:116] = _num(100, 8)
    h[116:124] = _num(101, 8)
    h[124:136] = _num(size, 12)
    h[136:148] = _num(0, 12)
    h[156:157] = typeflag
    h[257:265] = b'ustar  \0'  # old GNU magic + version
    h[386:386 + len(extra)] = extra
    h[148:156] = b' ' * 8
    h[148:156] = b'%06o\0 ' % sum(h)
    return bytes(h)


def sparse_tar(name='files/big.bin', real_size=16 << 30, stored=512):
    """An old-GNU sparse entry ('S'): `stored` bytes of data at the very end of a file declared
    `real_size` bytes long. A reader that fills the holes decodes real_size bytes from a tar of
    a few KiB (the attack of issue 12, item 5)."""
    sparse = _num(real_size - stored, 12) + _num(stored, 12)     # one map entry
    extra = sparse + b'\0' * (24 * 3) + b'\0' + _num(real_size, 12)  # 3 empty entries, isextended, realsize
    body = b'A' * stored
    pad = b'\0' * (-len(body) % 512)
    return _header(name, stored, b'S', extra) + body + pad + b'\0' * 1024


def raw_entry(name, typeflag, data=b'', size=None):
    """One ustar entry of any type flag, size field possibly lying about the data."""
    h = _header(name, len(data) if size is None else size, typeflag)
    return h + data + b'\0' * (-len(data) % 512)


def end():
    return b'\0' * 1024


def refused_run(path, bundle_fd, timeout=120):
    """An FE_RUN the worker must refuse after reading the bundle (both code and cmd).
    Returns (reply type, error text)."""
    req = {'request': {'code': 'print(1)', 'cmd': 'true', 'runtime': 'python', 'timeoutMs': 10000},
           'options': {'network': 'none'}}
    return request(path, req, bundle_fd, timeout)


def request(path, req, bundle_fd, timeout=120):
    import json
    sock = wire.connect(path, wire.HELLO_RUN, req.get('sessionId', ''))
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        wire.send(sock, wire.FE_RUN, json.dumps(req).encode(), [out_w, err_w, bundle_fd])
    finally:
        os.close(out_w)
        os.close(err_w)
        os.close(bundle_fd)
    reply = wire.recv(sock, timeout)
    sock.close()
    os.close(out_r)
    os.close(err_r)
    if reply is None:
        return None, 'no reply (connection closed or timed out)'
    for fd in reply[2]:
        os.close(fd)
    if reply[0] == wire.WK_ERROR:
        return reply[0], wire.error_text(reply[1])
    return reply[0], reply[1].decode(errors='replace')
