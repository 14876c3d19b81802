#!/usr/bin/python3
"""A process of one sandbox holding the host's /proc attacks another sandbox's program.

host_identity.py ATTACKER_PID VICTIM_PID: run as root on the host. Opens the host's /proc,
enters the attacker sandbox's namespaces (mount, pid, ipc, uts, net), becomes the attacker
program's uid and gid with no supplementary groups and no capabilities (what the program is,
plus a host /proc fd it got through some hole), then tries the victim through that fd. Prints
one line per attempt, "NAME ok" or "NAME ERRNO-NAME"."""
import ctypes
import errno
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
SYS_PIDFD_SEND_SIGNAL = 424  # x86_64 and aarch64 alike (the unified numbers)


def status_ids(pid, key):
    for line in open('/proc/%d/status' % pid):
        if line.startswith(key + ':'):
            return [int(x) for x in line.split()[1:]]
    raise SystemExit('no %s in /proc/%d/status' % (key, pid))


def attempt(name, fn):
    try:
        fn()
        print(name, 'ok')
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, str(e.errno)))


def main():
    attacker, victim = int(sys.argv[1]), int(sys.argv[2])
    uid, gid = status_ids(attacker, 'Uid')[0], status_ids(attacker, 'Gid')[0]
    proc = os.open('/proc', os.O_RDONLY | os.O_DIRECTORY)
    nss = [(ns, os.open('/proc/%d/ns/%s' % (attacker, ns), os.O_RDONLY)) for ns in ('mnt', 'pid', 'ipc', 'uts', 'net')]
    for ns, fd in nss:
        if libc.setns(fd, 0) != 0:
            raise SystemExit('setns %s: %s' % (ns, os.strerror(ctypes.get_errno())))
        os.close(fd)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # from root to a uid other than 0: every capability goes
    # the host's /proc, through the fd: this process is not in the pid namespace of the
    # container's own /proc mount
    with os.fdopen(os.open('self/status', os.O_RDONLY, dir_fd=proc)) as f:
        eff = [l for l in f if l.startswith('CapEff:')][0].split()[1]
    print('as', '%d:%d' % (os.getuid(), os.getgid()), 'capeff', eff)

    def read(path):
        fd = os.open(path, os.O_RDONLY, dir_fd=proc)
        try:
            os.read(fd, 4096)
        finally:
            os.close(fd)

    def pidfd_signal():
        fd = os.open('%d' % victim, os.O_RDONLY | os.O_DIRECTORY, dir_fd=proc)
        try:
            if libc.syscall(SYS_PIDFD_SEND_SIGNAL, fd, 0, None, 0) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
        finally:
            os.close(fd)

    attempt('kill', lambda: os.kill(victim, 0))
    attempt('pidfd_send_signal', pidfd_signal)
    attempt('environ', lambda: read('%d/environ' % victim))
    attempt('mem', lambda: read('%d/mem' % victim))
    attempt('root', lambda: os.listdir(os.open('%d/root/sandbox' % victim, os.O_RDONLY | os.O_DIRECTORY,
                                                  dir_fd=proc)))
    attempt('fd', lambda: os.listdir(os.open('%d/fd' % victim, os.O_RDONLY | os.O_DIRECTORY, dir_fd=proc)))


main()
