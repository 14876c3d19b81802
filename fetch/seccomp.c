/* isol8-fetch's seccomp allowlist (libseccomp). Like isol8-proxy's: outbound TCP over
 * AF_INET/AF_INET6, read-only opens for glibc's resolver, threads but never a process. One
 * addition: socketpair(AF_UNIX), which libcurl's multi handle makes for its wake-up channel
 * (an unconnected pair of its own; no address is reachable through it). Anything unlisted
 * kills the process: the worker then reads a truncated answer and fails the run. Adding a
 * syscall here is a security decision: say why next to it. */
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

#include "fetch/fetch.h"
#include "lockdown/seccomp_build.h"

static const char *const allow_plain[] = {
	/* I/O on held fds: the job and answer socket, the connection */
	"read", "write", "readv", "writev", "pread64", "recvmsg", "sendmsg", "recvfrom", "sendto", "sendmmsg",
	"shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername", "poll", "ppoll", "close", "fstat",
	"lseek", "ioctl",  /* FIONREAD (resolver, libcurl) */
	"connect", "bind", /* the resolver's UDP socket */
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	/* read-only file access for the resolver (opens are checked below) */
	"newfstatat", "stat", "uname",
	/* process basics */
	"futex", "exit", "exit_group", "restart_syscall", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getrandom", "getpid",
	"gettid", "getuid", "geteuid", "getgid", "getegid", "fcntl", "pipe2", "eventfd2", "set_robust_list", "rseq",
	"sysinfo", "alarm", /* main.c narrows its own backstop to the job's timeout */
};

#ifdef ISOL8_SANITIZERS
/* Sanitizer builds only (never shipped), as in lockdown/seccomp_filter.c. */
static const char *const allow_sanitizers[] = {
	"readlink",  "readlinkat", "lstat",   "access",      "faccessat", "prctl",  "sigaltstack", "sched_getaffinity",
	"prlimit64", "getrlimit",  "mincore", "sched_yield", "kill",      "tgkill", "open",        "getdents64",
	"dup",       "dup2",
};
#endif

int fetch_seccomp_load(struct isol8_err *err)
{
	const struct sc_rule rules[] = {
		{"socket", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_INET)}},
		{"socket", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_INET6)}},
		/* nscd probes and netlink interface queries see an ordinary error */
		{"socket", SC_EACCES, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}},
		{"socket", SC_EACCES, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_NETLINK)}},
		{"socketpair", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}},
		SC_RULES_THREADS_ONLY,
		SC_RULE_OPENAT_READONLY,
	};
	const struct sc_names lists[] = {
		SC_NAMES(SC_ALLOW, allow_plain),
#ifdef ISOL8_SANITIZERS
		SC_NAMES(SC_ALLOW, allow_sanitizers),
#endif
	};
	const struct sc_filter f = {"fetch", SC_KILL, lists, SC_LEN(lists), rules, SC_LEN(rules)};

	return sc_filter_load(&f, err);
}
