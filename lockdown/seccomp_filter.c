#include "config.h"
#include "lockdown/seccomp_filter.h"
#include "lockdown/seccomp_build.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <ucontext.h>
#include <unistd.h>

/* The worker is a pthreads event loop over fds it was handed: it needs I/O on those fds, memory,
 * threads, signals, time and randomness, and nothing that names a path, a network address, another
 * process or a kernel object outside itself. Anything not listed kills the process: an unexpected
 * syscall in the worker means a bug or an exploit, and either way the broker respawns a clean one.
 * Adding a syscall here is a security decision: say why next to it. */

/* Unconditionally allowed. Names that do not exist on the build architecture (e.g. "poll" or
 * "dup2" on aarch64) are skipped. */
static const char *const allow_plain[] = {
	/* I/O on fds the worker already holds, beyond sc_fd_io */
	"pwrite64",
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	/* in-process objects: they reach nothing outside the worker */
	"pipe",
	"pipe2",
	"eventfd2",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"signalfd4",
	"memfd_create",
	"ftruncate",
	"dup",
	"dup2",
	"dup3",
	/* fd kinds (common/fdkind.c): which filesystem a passed pipe lives on; reads no path */
	"fstatfs",
	/* threads, beyond sc_thread_basics (clone itself is conditional, below) */
	"set_tid_address",
	/* signals, beyond sc_signals (kill/tgkill are conditional, below) */
	"sigaltstack",
	/* self-inspection, beyond sc_self */
	"getppid",
	"getresuid",
	"getresgid",
	"getrlimit",
	"getrusage",
	"sched_yield",
	"sched_getaffinity",
	"uname",
};

/* Expected-but-denied (OpenSSH SC_DENY): library code may try these and must see an ordinary
 * error instead of dying. The worker has no path, no socket and no directory to reach. */
static const char *const deny_eacces[] = {
	"open",  "openat", "openat2", "creat",     "socket",     "socketpair", "connect",
	"bind",  "listen", "accept",  "accept4",   "getdents",   "getdents64", "stat",
	"lstat", "statx",  "access",  "faccessat", "faccessat2", "readlink",   "readlinkat",
};

/* Sandbox escapes (sc_escapes) are always fatal, even in the seccomp-debug build whose default
 * only traps. */

#ifdef ISOL8_SANITIZERS
/* Sanitizer build only (never shipped). Seen with strace on the ASan probe (try_syscall
 * asan-overflow): reports read /proc/self/maps (open) and, to symbolize, /proc/self/exe and debug
 * files (openat, readlink, newfstatat with a path); prctl names mappings. Looking for an external
 * symbolizer stats PATH entries. Without these a report would be cut short by SIGSYS. Read-only
 * opens are allowed in add_open_rules(); writes and creates stay EACCES. */
static const char *const allow_sanitizers[] = {
	"readlink", "readlinkat", "newfstatat", "stat", "lstat", "access", "faccessat", "prctl",
};
#endif

#ifdef ISOL8_SECCOMP_DEBUG
/* Async-signal-safe: formats by hand and uses only write(2). */
static void sigsys_report(int sig, siginfo_t *info, void *vctx)
{
	char line[64] = "isol8 seccomp: denied syscall ";
	size_t len = strlen(line);
	char digits[16];
	int n = 0;
	unsigned v = (unsigned)info->si_syscall;
	ucontext_t *uc = vctx;

	(void)sig;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof digits);
	while (n > 0 && len < sizeof line - 2)
		line[len++] = digits[--n];
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0) {
		/* nothing else can be done from here */
	}
	/* The trapped call was not executed; make it return -ENOSYS instead of garbage. */
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uc;
#endif
}

static int install_sigsys_handler(struct isol8_err *err)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = sigsys_report;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "sigaction(SIGSYS)");
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "unblock SIGSYS");
	return 0;
}
#define DEFAULT_ACTION SC_TRAP
#else
#define DEFAULT_ACTION SC_KILL
#endif

#ifdef ISOL8_SANITIZERS
static bool in_list(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}
#endif

#ifdef ISOL8_SANITIZERS
#define SAN_WRITE_BITS (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE)
#endif
#define CMP1(c)   \
	1,        \
	{         \
		c \
	}
#define CMP2(a, b)   \
	2,           \
	{            \
		a, b \
	}

int worker_seccomp_load(struct isol8_err *err)
{
	/* Signals to itself only (raise(), abort(), thread wake-ups): the pid as seen now. */
	const scmp_datum_t self = (scmp_datum_t)getpid();
	const struct sc_rule rules[] = {
		/* fcntl: flags and close-on-exec; sealing a memfd before handing it on is in-process */
		{"fcntl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, F_GETFL))},
		{"fcntl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, F_SETFL))},
		{"fcntl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, F_GETFD))},
		{"fcntl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, F_SETFD))},
		{"fcntl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, F_DUPFD_CLOEXEC))},
		{"fcntl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, F_ADD_SEALS))},
		{"fcntl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, F_GET_SEALS))},
		SC_RULES_THREADS_ONLY,
		/* fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH) in glibc >= 2.33. The kernel still
		 * resolves a non-empty path given with AT_EMPTY_PATH; that leaks metadata only. */
		{"newfstatat", SC_ALLOW, CMP1(SCMP_A3_32(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH))},
#ifndef ISOL8_SANITIZERS
		{"newfstatat", SC_EACCES, CMP1(SCMP_A3_32(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0))},
#endif
		/* Only reading limits (getrlimit() is prlimit64(0, res, NULL, old) in glibc). */
		{"prlimit64", SC_ALLOW, CMP2(SCMP_A0_64(SCMP_CMP_EQ, 0), SCMP_A2_64(SCMP_CMP_EQ, 0))},
		{"kill", SC_ALLOW, CMP1(SCMP_A0_32(SCMP_CMP_EQ, self))},
		{"tgkill", SC_ALLOW, CMP1(SCMP_A0_32(SCMP_CMP_EQ, self))},
		/* sendto() without a destination is send() on an already connected socket. */
		{"sendto", SC_ALLOW, CMP1(SCMP_A4_64(SCMP_CMP_EQ, 0))},
		/* stdio asks isatty() (TCGETS) on char devices such as /dev/null: "not a tty";
		 * FIONREAD is how event loops size a read. */
		{"ioctl", SC_ALLOW, CMP1(SCMP_A1_32(SCMP_CMP_EQ, FIONREAD))},
		{"ioctl", SC_ENOTTY, CMP1(SCMP_A1_32(SCMP_CMP_NE, FIONREAD))},
#ifdef ISOL8_SANITIZERS
		/* Read-only opens for the runtime's reports; each writing bit is refused on its own,
		 * since libseccomp cannot say "flags & mask != 0" in one comparison. */
		{"openat", SC_ALLOW, CMP1(SCMP_A2_64(SCMP_CMP_MASKED_EQ, SAN_WRITE_BITS, 0))},
		{"open", SC_ALLOW, CMP1(SCMP_A1_64(SCMP_CMP_MASKED_EQ, SAN_WRITE_BITS, 0))},
#define SAN_DENY_BIT(bit)                                                      \
	{"openat", SC_EACCES, CMP1(SCMP_A2_64(SCMP_CMP_MASKED_EQ, bit, bit))}, \
		{"open", SC_EACCES, CMP1(SCMP_A1_64(SCMP_CMP_MASKED_EQ, bit, bit))}
		SAN_DENY_BIT(O_WRONLY),
		SAN_DENY_BIT(O_RDWR),
		SAN_DENY_BIT(O_CREAT),
		SAN_DENY_BIT(O_TRUNC),
		SAN_DENY_BIT(O_APPEND),
		SAN_DENY_BIT(__O_TMPFILE),
		/* A symbolizer would be fork+exec'd: the fork fails cleanly (execve still kills). */
		{"clone", SC_EPERM, CMP1(SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0))},
#endif
	};
#ifdef ISOL8_SANITIZERS
	/* The runtime needs some of the denied calls (and open/openat have rules above). */
	const char *deny[SC_LEN(deny_eacces)];
	size_t n_deny = 0;
	for (size_t i = 0; i < SC_LEN(deny_eacces); i++)
		if (strcmp(deny_eacces[i], "open") != 0 && strcmp(deny_eacces[i], "openat") != 0 &&
		    !in_list(deny_eacces[i], allow_sanitizers, SC_LEN(allow_sanitizers)))
			deny[n_deny++] = deny_eacces[i];
#else
	const char *const *deny = deny_eacces;
	size_t n_deny = SC_LEN(deny_eacces);
#endif
	const struct sc_names lists[] = {
		SC_BASE_GROUPS,
		SC_NAMES(SC_ALLOW, allow_plain),
		{SC_KILL, sc_escapes, sc_n_escapes},
#ifdef ISOL8_SANITIZERS
		SC_NAMES(SC_ALLOW, allow_sanitizers),
#endif
		{SC_EACCES, deny, n_deny},
	};
	const struct sc_filter f = {"worker", DEFAULT_ACTION, lists, SC_LEN(lists), rules, SC_LEN(rules)};

#ifdef ISOL8_SECCOMP_DEBUG
	if (install_sigsys_handler(err) < 0)
		return isol8_err_wrap(err, "seccomp debug");
#endif
	if (sc_filter_load(&f, err) < 0)
		return isol8_err_wrap(err, "build seccomp filter");
	return 0;
}
