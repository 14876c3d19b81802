# The sandbox-side syscall probe (tests/security/seccomp_profile_test.sh): run inside a sandbox,
# it makes each call that policy/seccomp-strict.json decides on and prints "name ERRNO" (or
# "name ok"). The arguments are chosen so that a call the filter lets through fails harmlessly
# in the kernel with a different answer (a bad fd, a NULL pointer, an invalid flag) or does
# nothing (unshare(0)); the test runs the probe once more without a filter to show that.
# x86-64 numbers only (the test skips elsewhere). Python's ctypes is in every python image,
# so no binary has to be injected into the sandbox.
import ctypes
import errno
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
U = ctypes.c_ulong
NULL = U(0)
BAD_FD = U(0xFFFFFFFF)  # -1 as an int argument

# name, number, arguments
CALLS = [
    ("io_uring_setup", 425, [U(0), NULL]),
    ("io_uring_enter", 426, [BAD_FD, U(0), U(0), U(0), NULL, U(0)]),
    ("io_uring_register", 427, [BAD_FD, U(0), NULL, U(0)]),
    ("open_tree", 428, [BAD_FD, NULL, U(0)]),
    ("move_mount", 429, [BAD_FD, NULL, BAD_FD, NULL, U(0)]),
    ("fsopen", 430, [NULL, U(0)]),
    ("fsconfig", 431, [BAD_FD, U(0), NULL, NULL, U(0)]),
    ("fsmount", 432, [BAD_FD, U(0), U(0)]),
    ("fspick", 433, [BAD_FD, NULL, U(0)]),
    ("mount_setattr", 442, [BAD_FD, NULL, U(0), NULL, U(0)]),
    ("mount", 165, [NULL, NULL, NULL, U(0), NULL]),
    ("umount2", 166, [NULL, U(0)]),
    ("pivot_root", 155, [NULL, NULL]),
    ("unshare", 272, [U(0)]),
    ("setns", 308, [BAD_FD, U(0)]),
    ("userfaultfd", 323, [U(0xFFFFFFFF)]),
    ("bpf", 321, [U(0xFFFFFFFF), NULL, U(0)]),
    ("perf_event_open", 298, [NULL, U(0), BAD_FD, BAD_FD, U(0)]),
    ("keyctl", 250, [U(0xFFFFFFFF), U(0), U(0), U(0), U(0)]),
    ("add_key", 248, [NULL, NULL, NULL, U(0), U(0)]),
    ("request_key", 249, [NULL, NULL, NULL, U(0)]),
    ("open_by_handle_at", 304, [BAD_FD, NULL, U(0)]),
    ("name_to_handle_at", 303, [BAD_FD, NULL, NULL, NULL, U(0)]),
    ("kexec_load", 246, [U(0), U(0), NULL, U(0xFFFFFFFF)]),
    ("kexec_file_load", 320, [BAD_FD, BAD_FD, U(0), NULL, U(0xFFFFFFFF)]),
    ("init_module", 175, [NULL, U(0), NULL]),
    ("finit_module", 313, [BAD_FD, NULL, U(0xFFFFFFFF)]),
    ("delete_module", 176, [NULL, U(0)]),
    ("ptrace", 101, [U(0xFFFFFFFF), U(0), U(0), U(0)]),
    ("process_vm_readv", 310, [U(1), NULL, U(0), NULL, U(0), U(1)]),
    ("process_vm_writev", 311, [U(1), NULL, U(0), NULL, U(0), U(1)]),
    ("kcmp", 312, [U(0), U(0), U(0xFFFFFFFF), U(0), U(0)]),
    ("pidfd_getfd", 438, [BAD_FD, BAD_FD, U(0)]),
    ("personality_linux32", 135, [U(0x0008)]),
    ("personality_no_aslr", 135, [U(0x0040000)]),
    ("swapon", 167, [NULL, U(0)]),
    ("reboot", 169, [U(0), U(0), U(0), NULL]),
    ("chroot", 161, [NULL]),
    ("socket_vsock", 41, [U(40), U(1), U(0)]),
    ("clone3", 435, [NULL, U(0)]),
    ("fchmodat2", 452, [BAD_FD, NULL, U(0), U(0)]),
    ("syscall_1000", 1000, []),
]


def report(name, r):
    if r >= 0:
        print(name, "ok")
    else:
        e = ctypes.get_errno()
        print(name, errno.errorcode.get(e, "E%d" % e))


def i386_getpid():
    # getpid through the 32-bit entry (int $0x80): the profile names no 32-bit ABI, so the
    # kernel kills the process (SIGSYS) before the call; unfiltered it prints the pid.
    import mmap

    code = bytes.fromhex("b814000000" "cd80" "c3")  # mov $20,%eax; int $0x80; ret
    m = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    f = ctypes.CFUNCTYPE(ctypes.c_int)(addr)
    sys.stdout.flush()
    print("i386_getpid", "ok" if f() > 0 else "failed", flush=True)


def main():
    only = sys.argv[1:]
    if only == ["i386"]:
        i386_getpid()
        return
    for name, nr, args in CALLS:
        if only and name not in only:
            continue
        ctypes.set_errno(0)
        report(name, libc.syscall(U(nr), *args))
    if not only:
        # What a program still needs: the query personality, threads (clone through glibc's
        # clone3 fallback), a child process.
        report("personality_query", libc.syscall(U(135), U(0xFFFFFFFF)))
        import subprocess
        import threading

        box = []
        t = threading.Thread(target=lambda: box.append(1))
        t.start()
        t.join()
        print("thread", "ok" if box else "failed")
        p = subprocess.run(["/bin/true"])
        print("spawn", "ok" if p.returncode == 0 else "failed")
    print("done")


main()
