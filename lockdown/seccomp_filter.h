/* The worker's seccomp allowlist (OpenSSH sandbox-seccomp-filter style, via libseccomp).
 *
 * Default action: kill the process. Expected-but-denied calls (open*, socket, connect, path
 * lookups, getdents) fail with EACCES so library code sees an ordinary error; clone3 fails with
 * ENOSYS so glibc falls back to clone(), which is allowed only with CLONE_THREAD. Calls that would
 * escape the sandbox (execve, ptrace, mount, unshare, setns, bpf, keyctl, ...) always kill, even
 * in the debug build.
 *
 * Build variants (config.h):
 *   ISOL8_SECCOMP_DEBUG  default action is SCMP_ACT_TRAP; a SIGSYS handler writes
 *                        "isol8 seccomp: denied syscall N" to fd 2 and the call returns ENOSYS.
 *   ISOL8_SANITIZERS     extra syscalls the ASan/UBSan runtime uses (read-only open of
 *                        /proc/self/..., readlink, stat, prctl; fork fails with EPERM instead of
 *                        killing); see the table in the .c file. LeakSanitizer's exit check is
 *                        turned off in locked-down processes (lockdown/lockdown.c). */
#ifndef ISOL8_WORKER_SECCOMP_FILTER_H
#define ISOL8_WORKER_SECCOMP_FILTER_H

#include "common/err.h"

/* Build and load the filter on the calling process (all threads, TSYNC). The caller must already
 * have set PR_SET_NO_NEW_PRIVS (or be privileged). kill/tgkill are restricted to getpid() as seen
 * now, so call this in the process that will run the worker. Returns 0 or -1 with *err. */
int worker_seccomp_load(struct isol8_err *err);

#endif
