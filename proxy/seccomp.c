/* isol8-proxy's seccomp allowlist (libseccomp). Unlike a worker, the proxy must make outbound
 * TCP connections and resolve names, so it may create AF_INET/AF_INET6 sockets, connect, accept
 * on the listeners it was handed, and open files read-only (glibc's resolver rereads
 * /etc/resolv.conf and /etc/hosts and may dlopen an NSS module). It never writes a file, never
 * creates another kind of socket, never forks or execs. It does start threads (the resolver pool
 * in resolve.c, after this filter is loaded, so they inherit it): clone is allowed only with
 * CLONE_THREAD set, which a fork cannot have. Anything unlisted kills the process;
 * the broker respawns it. Adding a syscall here is a security decision: say why next to it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

#include "lockdown/seccomp_build.h"
#include "proxy/proxy.h"

static const char *const allow_plain[] = {
	/* I/O on held fds */
	"read",
	"write",
	"readv",
	"writev",
	"pread64",
	"recvmsg",
	"sendmsg",
	"recvfrom",
	"sendto",
	"sendmmsg",
	"shutdown",
	"getsockopt",
	"setsockopt",
	"getsockname",
	"getpeername",
	"poll",
	"ppoll",
	"close",
	"fstat",
	"lseek",
	"ioctl", /* the resolver asks FIONREAD */
	/* outbound connections and the handed-over listeners */
	"connect",
	"accept4",
	"bind",
	/* memory */
	"mmap",
	"munmap",
	"mremap",
	"mprotect",
	"madvise",
	"brk",
	/* read-only file access for the resolver (opens are checked below) */
	"newfstatat",
	"stat",
	"uname",
	/* process basics */
	"futex",
	"exit",
	"exit_group",
	"restart_syscall",
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"clock_gettime",
	"clock_getres",
	"clock_nanosleep",
	"nanosleep",
	"gettimeofday",
	"time",
	"getrandom",
	"getpid",
	"gettid",
	"getuid",
	"geteuid",
	"getgid",
	"getegid",
	"fcntl",
	/* resolver threads: their answer pipe (created once, after lockdown) and what glibc's
	 * pthread_create and thread start-up call; clone itself is checked below */
	"pipe2",
	"set_robust_list",
	"rseq",
};

#ifdef ISOL8_SANITIZERS
/* Sanitizer builds only (never shipped): what the ASan/UBSan runtime calls at thread start and
 * when it reports (as in lockdown/seccomp_filter.c). */
static const char *const allow_sanitizers[] = {
	"readlink",  "readlinkat", "lstat",   "access",      "faccessat", "prctl",  "sigaltstack", "sched_getaffinity",
	"prlimit64", "getrlimit",  "mincore", "sched_yield", "kill",      "tgkill", "open",        "getdents64",
	"dup",       "dup2",
};
#endif

int proxy_seccomp_load(struct isol8_err *err)
{
	const struct sc_rule rules[] = {
		/* Internet sockets only. glibc's resolver may probe nscd (AF_UNIX) or ask netlink for
		 * interface addresses: those see an ordinary error; any other family kills. */
		{"socket", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_INET)}},
		{"socket", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_INET6)}},
		{"socket", SC_EACCES, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}},
		{"socket", SC_EACCES, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_NETLINK)}},
		/* the resolver pool's threads; never a process */
		SC_RULES_THREADS_ONLY,
		/* Read-only opens; a writing open is a bug or an exploit and kills. */
		SC_RULE_OPENAT_READONLY,
	};
	const struct sc_names lists[] = {
		SC_NAMES(SC_ALLOW, allow_plain),
#ifdef ISOL8_SANITIZERS
		SC_NAMES(SC_ALLOW, allow_sanitizers),
#endif
	};
	const struct sc_filter f = {"proxy", SC_KILL, lists, SC_LEN(lists), rules, SC_LEN(rules)};

	return sc_filter_load(&f, err);
}
