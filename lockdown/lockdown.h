/* Turning a freshly forked child of the root broker into a locked-down worker (STYLE.md 7.3).
 *
 * Order (bubblewrap drop_privs, httpd proc_run, OpenSSH sandbox): fds, bounding set + ambient +
 * inheritable (while still root), setgroups/setresgid/setresuid, verification, no_new_privs,
 * non-dumpable, seccomp allowlist last. Every step is checked; on failure the caller (the forked
 * child) must exit: a half-locked worker must never run. */
#ifndef ISOL8_WORKER_LOCKDOWN_H
#define ISOL8_WORKER_LOCKDOWN_H

#include <sys/types.h>

#include "common/err.h"

/* Upper bound for the keep list (the broker channel plus a few passed fds). */
#define WORKER_MAX_KEEP_FDS 16

struct worker_identity {
	uid_t uid;
	gid_t gid;
	/* Non-zero: the process that started us (the broker). Lockdown then has the kernel kill
	 * us when it dies (PR_SET_PDEATHSIG, after the uid change, which clears it) and fails if
	 * it is already gone. */
	pid_t parent;
};

/* Resolve the unprivileged account: `name` if non-NULL (must exist), else "isol8-unpriv" if it exists,
 * else "nobody". Refuses any account with uid 0 or gid 0 (ISOL8_E_USAGE). Uses NSS, so call it
 * in the broker before forking, not in the child. Returns 0, or -1 with *err filled. */
int worker_identity_resolve(const char *name, struct worker_identity *id, struct isol8_err *err);

/* Lock the calling process down. Must run as root (uid 0 with CAP_SETPCAP, CAP_SETUID, CAP_SETGID)
 * in a single-threaded process (a fresh fork()).
 *
 * keep_fds[0..n_keep-1]: fds to keep. Each is moved, in order, to 3, 4, ...; the new number is
 * written back into keep_fds[i]. Exception: STDERR_FILENO (2) in the list stays fd 2 (for crash,
 * ASan and seccomp-debug messages) and does not consume a slot. Everything else is closed, and
 * 0, 1 (and 2 unless kept) point at /dev/null, opened before seccomp denies open.
 * Entries must be distinct and open; n_keep <= WORKER_MAX_KEEP_FDS.
 *
 * Afterwards: uid/gid = id (real, effective, saved), no supplementary groups, every capability
 * set (effective, permitted, inheritable, ambient, bounding) empty, setuid(0) fails,
 * PR_SET_NO_NEW_PRIVS = 1, PR_SET_DUMPABLE = 0, seccomp filter mode (see seccomp_filter.h).
 * Returns 0, or -1 with *err filled (context: the failing step). After a failure the process is
 * in an unspecified, partially dropped state: exit, don't continue. */
int worker_lockdown(const struct worker_identity *id, int *keep_fds, unsigned n_keep, struct isol8_err *err);

/* The same sequence with another process's seccomp allowlist as the last step (isol8-proxy,
 * which needs sockets the worker must never have). */
int worker_lockdown_with(const struct worker_identity *id, int *keep_fds, unsigned n_keep,
			 int (*seccomp_load)(struct isol8_err *err), struct isol8_err *err);

/* For a process locked down another way (an unprivileged `isol8 serve`): in sanitizer builds,
 * skip LeakSanitizer's exit-time check, whose ptrace the filter would kill. No-op otherwise. */
void worker_lockdown_mark_filtered(void);

#endif
