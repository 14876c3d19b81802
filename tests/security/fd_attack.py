#!/usr/bin/env python3
"""Pass a hostile fd where isol8's protocol names another kind (tests/security/fd_kinds_test.sh).

Usage: fd_attack.py SOCKET SLOT FD-KIND [SESSION]
  SLOT     stdin (FE_STDIN after a run asking for it), stdout (FE_RUN's first fd),
           bundle (FE_RUN's third fd), file-put (FE_FILE_PUT's content; needs SESSION)
  FD-KIND  proc-dir, root-dir, opath, named-fifo, pipe-read, pipe-write, pipe-held, unsealed-memfd,
           sealed-memfd, host-file
Prints one line: REPLY-TYPE|MESSAGE|STDOUT (the program's output, newlines as \\n)."""
import os
import sys
import tempfile

import wire

sock_path, slot, kind = sys.argv[1], sys.argv[2], sys.argv[3]
session = sys.argv[4] if len(sys.argv) > 4 else ''
keep = []  # the other ends of pipes stay open until the reply


def hostile(k):
    if k == 'proc-dir':
        return os.open('/proc', os.O_RDONLY | os.O_DIRECTORY)
    if k == 'root-dir':
        return os.open('/', os.O_RDONLY | os.O_DIRECTORY)
    if k == 'opath':
        return os.open('/etc', os.O_PATH)
    if k == 'host-file':
        return os.open('/etc/passwd', os.O_RDONLY)
    if k == 'named-fifo':
        d = tempfile.mkdtemp()
        p = os.path.join(d, 'f')
        os.mkfifo(p)
        fd = os.open(p, os.O_RDWR)  # RDWR: no wait for a writer
        os.unlink(p)
        os.rmdir(d)
        return fd
    if k in ('pipe-read', 'pipe-write'):
        r, w = os.pipe()
        if k == 'pipe-read':
            os.write(w, b'piped stdin\n')
            os.close(w)
            return r
        keep.append(r)
        return w
    if k == 'pipe-held':  # read end whose writer never writes nor closes
        r, w = os.pipe()
        keep.append(w)
        return r
    if k == 'unsealed-memfd':
        return os.memfd_create('bundle', os.MFD_CLOEXEC)
    if k == 'sealed-memfd':
        return wire.sealed_memfd(b'put by the test\n')
    raise SystemExit('unknown fd kind ' + k)


def sealed():
    return wire.sealed_memfd()


# What the program does if the fd reached it: a directory on fd 0 is the host's tree.
PROBE = ('if [ -d /proc/self/fd/0 ]; then echo ESCAPED; ls /proc/self/fd/0 | head -3; '
         'else cat; echo ran; fi')


def show(t, payload, out):
    msg = wire.error_text(payload) if t == wire.WK_ERROR else payload.decode(errors='replace')[:200]
    print('%s|%s|%s' % (t, msg.replace('\n', ' '), out.decode(errors='replace').replace('\n', '\\n')))


if slot == 'stdin':
    t, p, out, _ = wire.run(sock_path, PROBE, runtime='bash', stdin_fd=hostile(kind), bundle_fd=sealed())
    show(t, p, out)
elif slot == 'bundle':
    t, p, out, _ = wire.run(sock_path, 'echo ran', runtime='bash', bundle_fd=hostile(kind))
    show(t, p, out)
elif slot == 'stdout':
    s = wire.connect(sock_path, wire.HELLO_RUN)
    err_r, err_w = os.pipe()
    wire.send(s, wire.FE_RUN, wire.run_request('echo ran', 'bash'), [hostile(kind), err_w, sealed()])
    reply = wire.recv(s, 60)
    show(reply[0], reply[1], b'') if reply else print('None||')
elif slot == 'file-put':
    s = wire.connect(sock_path, wire.HELLO_FILE, session)
    wire.send(s, wire.FE_FILE_PUT, wire.s(session) + wire.s('/sandbox/put.txt'), [hostile(kind)])
    reply = wire.recv(s, 60)
    show(reply[0], reply[1], b'') if reply else print('None|no reply within 60 s|')
else:
    raise SystemExit('unknown slot ' + slot)
