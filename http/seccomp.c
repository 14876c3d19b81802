/* The seccomp filters of `isol8 serve`'s two processes (libseccomp).
 *
 * The server (network-facing) loads its filter before libmicrohttpd starts a thread, so every
 * thread has it. It accepts on its listener, talks to the broker connector and to isol8d over
 * the sockets the connector passes, passes fds, makes pipes and memfds, starts threads. It has
 * no socket() and no connect(): isol8d is reached only through the connector (connector.h), so
 * a compromised server reaches neither /var/run/docker.sock nor any other socket. Opens are
 * read-only here and, where Landlock exists, refused for every path (lockdown.c). Anything else
 * fails with EPERM, and the calls that would widen an attacker's reach (exec, ptrace, mount,
 * namespaces, BPF, keyrings, module loading) kill the process.
 *
 * The connector needs less still: receive a hello, socket() + connect() to isol8d, send, pass
 * the fd back, tell its one child to stop (a pipe) and reap it. No open, no signals. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

#include "http/server.h"
#include "lockdown/seccomp_build.h"

static const char *const allow_plain[] = {
	/* I/O on held fds (beyond sc_fd_io), the listener and broker connections */
	"pwrite64",
	"sendto",
	"accept",
	"accept4",
	"setsockopt",
	"select",
	"pselect6",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"newfstatat",
	"fcntl",
	"dup",
	"dup3",
	"ioctl",
	"pipe2",
	"eventfd2",
	"memfd_create",
	"ftruncate",
	"statx",
	/* threads and signals */
	"sched_yield",
	"sched_getaffinity",
	"prctl",
	"sigaltstack",
	"rt_sigtimedwait",
	"tgkill",
	/* identity, limits (beyond sc_self) */
	"getppid",
	"uname",
	"prlimit64",
};

int http_seccomp_load(struct isol8_err *err)
{
	const struct sc_rule rules[] = {
		/* No new sockets and no connect: the connector hands over connected ones. An AF_UNIX
		 * socketpair reaches nothing outside the process (MHD relays an upgraded TLS
		 * connection, wss, through one). */
		{"socket", SC_EACCES, 0, {{0}}},
		{"socketpair", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}},
		{"connect", SC_EACCES, 0, {{0}}},
		{"bind", SC_EACCES, 0, {{0}}},
		/* libmicrohttpd's threads; a fork kills rather than failing with the default EPERM */
		SC_RULES_THREADS_ONLY,
		{"clone", SC_KILL, 1, {SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)}},
		SC_RULE_OPENAT_READONLY,
	};
	const struct sc_names lists[] = {
		SC_BASE_GROUPS,
		SC_NAMES(SC_ALLOW, allow_plain),
		{SC_KILL, sc_escapes, sc_n_escapes},
	};
	const struct sc_filter f = {"http server", SC_EPERM, lists, SC_LEN(lists), rules, SC_LEN(rules)};

	return sc_filter_load(&f, err);
}

static const char *const connector_allow[] = {
	"read",   "write",          "recvmsg",      "sendmsg",         "close",
	"poll",   "ppoll",          "fcntl",        "fstat",           "newfstatat",
	"mmap",   "munmap",         "mremap",       "madvise",         "brk",
	"futex",  "rt_sigprocmask", "rt_sigreturn", "restart_syscall", "wait4",
	"waitid", "getpid",         "getuid",       "geteuid",         "clock_gettime",
	"exit",   "exit_group",
};

int http_connector_seccomp_load(struct isol8_err *err)
{
	const struct sc_rule rules[] = {
		/* AF_UNIX only (the path is ours, fixed at start). No kill, tgkill or tkill: as uid 0
		 * without capabilities this process could still signal every root process; it tells
		 * its child to stop through a pipe instead. */
		{"socket", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}},
		{"connect", SC_ALLOW, 0, {{0}}},
		{"open", SC_EACCES, 0, {{0}}},
		{"openat", SC_EACCES, 0, {{0}}},
		{"openat2", SC_EACCES, 0, {{0}}},
		{"clone", SC_KILL, 0, {{0}}},
		{"clone3", SC_KILL, 0, {{0}}},
		{"fork", SC_KILL, 0, {{0}}},
		{"vfork", SC_KILL, 0, {{0}}},
	};
	const struct sc_names lists[] = {
		SC_NAMES(SC_ALLOW, connector_allow),
		{SC_KILL, sc_escapes, sc_n_escapes},
	};
	const struct sc_filter f = {"http connector", SC_EPERM, lists, SC_LEN(lists), rules, SC_LEN(rules)};

	return sc_filter_load(&f, err);
}
