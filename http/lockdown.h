/* Locking down `isol8 serve`'s network-facing process, after fork() and before libmicrohttpd
 * starts a thread (so that every thread inherits all of it: seccomp and Landlock bind the
 * calling thread only).
 *
 * Started as root: the worker sequence (lockdown/lockdown.h: fds, bounding set and ambient,
 * setgroups/setresgid/setresuid to the `isol8-unpriv` account, else `nobody`, verification that
 * setuid(0) fails, no_new_privs, non-dumpable), then Landlock, then the server's seccomp
 * filter. Started unprivileged: no_new_privs, non-dumpable, Landlock, seccomp.
 *
 * Landlock (Linux 5.13+, where enabled) denies every filesystem access by path: the server
 * needs no file once it listens (keys and TLS files were read before the fork). Without
 * Landlock the seccomp filter still limits opens to read-only, and the dropped uid limits what
 * they can read. */
#ifndef ISOL8_FRONTEND_HTTP_LOCKDOWN_H
#define ISOL8_FRONTEND_HTTP_LOCKDOWN_H

#include <stdbool.h>

#include "common/err.h"
#include "lockdown/lockdown.h"

struct http_lockdown {
	bool as_root;              /* started as root: drop to id */
	struct worker_identity id; /* resolved before fork() (NSS) */
	bool seccomp;              /* false only for --no-seccomp (debugging) */
	int *keep;                 /* as root: fds to keep, renumbered (worker_lockdown) */
	unsigned n_keep;
};

/* Returns 0, or -1 with *err (then exit: the process is half locked down). */
int http_lockdown(struct http_lockdown *l, struct isol8_err *err);

/* Whether the last http_lockdown() applied a Landlock ruleset (for the startup line). */
bool http_landlock_active(void);

#endif
