#include "config.h"
#include "lockdown/seccomp_filter.h"

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
	/* I/O on fds the worker already holds (the broker channel, passed pipes and memfds) */
	"read", "write", "readv", "writev", "pread64", "pwrite64",
	"recvmsg", "sendmsg", "recvfrom", "shutdown", "getsockopt", "getsockname", "getpeername",
	"poll", "ppoll", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	/* in-process objects: they reach nothing outside the worker */
	"pipe", "pipe2", "eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime", "signalfd4",
	"memfd_create", "ftruncate", "lseek", "fstat", "close", "dup", "dup2", "dup3",
	/* fd kinds (common/fdkind.c): which filesystem a passed pipe lives on; reads no path */
	"fstatfs",
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	/* threads (clone itself is conditional, below) */
	"futex", "set_robust_list", "rseq", "set_tid_address", "exit", "exit_group", "restart_syscall",
	/* signals (kill/tgkill are conditional, below) */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	/* time: usually the vDSO, but the kernel path must work too */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	/* self-inspection */
	"getrandom", "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getrlimit", "getrusage", "sched_yield", "sched_getaffinity", "uname",
};

/* Expected-but-denied (OpenSSH SC_DENY): library code may try these and must see an ordinary
 * error instead of dying. The worker has no path, no socket and no directory to reach. */
static const char *const deny_eacces[] = {
	"open", "openat", "openat2", "creat", "socket", "socketpair", "connect", "bind", "listen",
	"accept", "accept4", "getdents", "getdents64", "stat", "lstat", "statx", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat",
};

/* Sandbox escapes: always fatal, even in the seccomp-debug build whose default only traps. */
static const char *const always_kill[] = {
	"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2",
	"pivot_root", "chroot", "unshare", "setns", "bpf", "keyctl", "add_key", "request_key",
	"init_module", "finit_module", "kexec_load", "perf_event_open", "userfaultfd", "open_by_handle_at",
	"fsopen", "fsmount", "move_mount", "open_tree", "pidfd_open", "pidfd_getfd",
};

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
#define DEFAULT_ACTION SCMP_ACT_TRAP
#else
#define DEFAULT_ACTION SCMP_ACT_KILL_PROCESS
#endif

static void seccomp_ctx_release(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* Adds one rule; libseccomp returns -errno. `nr` comes from SCMP_SYS() or name resolution. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name, unsigned n_cmp,
		    const struct scmp_arg_cmp *cmp, struct isol8_err *err)
{
	int r = seccomp_rule_add_array(ctx, action, nr, n_cmp, cmp);

	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "seccomp rule for %s", name);
	return 0;
}

static int add_list(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n,
		    struct isol8_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		/* Unknown name, or a libseccomp pseudo-syscall (negative) for one the native
		 * architecture does not have: nothing to allow or deny. */
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		if (add_rule(ctx, action, nr, names[i], 0, NULL, err) < 0)
			return -1;
	}
	return 0;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CMP(...) ((const struct scmp_arg_cmp[]){__VA_ARGS__})

static int add_conditional(scmp_filter_ctx ctx, struct isol8_err *err)
{
	static const int fcntl_cmds[] = {
		F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_DUPFD_CLOEXEC,
		/* sealing a memfd before handing it on is in-process */
		F_ADD_SEALS, F_GET_SEALS,
	};
	/* Namespace flags are useless without capabilities and invalid with CLONE_THREAD for the
	 * user and pid ones, but refusing them costs nothing. */
	const scmp_datum_t clone_mask = CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
					CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
	const scmp_datum_t self = (scmp_datum_t)getpid();

	for (size_t i = 0; i < ARRAY_LEN(fcntl_cmds); i++)
		if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), "fcntl", 1,
			     CMP(SCMP_A1_32(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i])), err) < 0)
			return -1;

	/* Threads only: pthread_create() passes CLONE_THREAD; fork() does not. clone3 cannot be
	 * filtered on its flags (they are behind a pointer), so it reports ENOSYS and glibc
	 * falls back to clone(). clone's flags are argument 0 on x86_64 and aarch64. */
	if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone", 1,
		     CMP(SCMP_A0_64(SCMP_CMP_MASKED_EQ, clone_mask, CLONE_THREAD)), err) < 0)
		return -1;
	if (add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3", 0, NULL, err) < 0)
		return -1;

	/* fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH) in glibc >= 2.33. Note that the kernel
	 * still resolves a non-empty path given with AT_EMPTY_PATH; that leaks metadata only. */
	if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), "newfstatat", 1,
		     CMP(SCMP_A3_32(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH)), err) < 0)
		return -1;
#ifndef ISOL8_SANITIZERS
	if (add_rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(newfstatat), "newfstatat", 1,
		     CMP(SCMP_A3_32(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0)), err) < 0)
		return -1;
#endif

	/* Only reading limits (getrlimit() is prlimit64(0, res, NULL, old) in glibc). */
	if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), "prlimit64", 2,
		     CMP(SCMP_A0_64(SCMP_CMP_EQ, 0), SCMP_A2_64(SCMP_CMP_EQ, 0)), err) < 0)
		return -1;

	/* Signals to itself only (raise(), abort(), thread wake-ups). */
	if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), "kill", 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, self)),
		     err) < 0)
		return -1;
	if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), "tgkill", 1,
		     CMP(SCMP_A0_32(SCMP_CMP_EQ, self)), err) < 0)
		return -1;

	/* sendto() without a destination is send() on an already connected socket. */
	if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), "sendto", 1, CMP(SCMP_A4_64(SCMP_CMP_EQ, 0)),
		     err) < 0)
		return -1;

	/* stdio asks isatty() (TCGETS) on char devices such as /dev/null: answer "not a tty";
	 * FIONREAD is how event loops size a read. */
	if (add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), "ioctl", 1,
		     CMP(SCMP_A1_32(SCMP_CMP_EQ, FIONREAD)), err) < 0)
		return -1;
	if (add_rule(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), "ioctl", 1,
		     CMP(SCMP_A1_32(SCMP_CMP_NE, FIONREAD)), err) < 0)
		return -1;
	return 0;
}

/* open/openat: EACCES, except read-only opens in the sanitizer build. libseccomp cannot express
 * "flags & mask != 0" in one comparison, so the complement is one rule per forbidden bit. */
static int add_open_rules(scmp_filter_ctx ctx, struct isol8_err *err)
{
#ifdef ISOL8_SANITIZERS
	static const scmp_datum_t write_bits[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE};
	scmp_datum_t mask = 0;
	struct {
		const char *name;
		int nr;
		unsigned flags_arg;
	} calls[] = {
		{"openat", SCMP_SYS(openat), 2},
		{"open", seccomp_syscall_resolve_name("open"), 1},
	};

	for (size_t b = 0; b < ARRAY_LEN(write_bits); b++)
		mask |= write_bits[b];
	for (size_t c = 0; c < ARRAY_LEN(calls); c++) {
		if (calls[c].nr < 0)
			continue;
		if (add_rule(ctx, SCMP_ACT_ALLOW, calls[c].nr, calls[c].name, 1,
			     CMP(SCMP_CMP64(calls[c].flags_arg, SCMP_CMP_MASKED_EQ, mask, 0)), err) < 0)
			return -1;
		for (size_t b = 0; b < ARRAY_LEN(write_bits); b++)
			if (add_rule(ctx, SCMP_ACT_ERRNO(EACCES), calls[c].nr, calls[c].name, 1,
				     CMP(SCMP_CMP64(calls[c].flags_arg, SCMP_CMP_MASKED_EQ, write_bits[b],
						    write_bits[b])),
				     err) < 0)
				return -1;
	}
	/* These are allowed for the runtime; keep them out of the deny list. */
	if (add_list(ctx, SCMP_ACT_ALLOW, allow_sanitizers, ARRAY_LEN(allow_sanitizers), err) < 0)
		return -1;
	/* A symbolizer would be fork+exec'd: make the fork fail cleanly (execve still kills). */
	if (add_rule(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), "clone", 1,
		     CMP(SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)), err) < 0)
		return -1;
#else
	(void)ctx;
	(void)err;
#endif
	return 0;
}

#ifdef ISOL8_SANITIZERS
static bool in_list(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}
#endif

static int add_deny_list(scmp_filter_ctx ctx, struct isol8_err *err)
{
	for (size_t i = 0; i < ARRAY_LEN(deny_eacces); i++) {
		const char *name = deny_eacces[i];

#ifdef ISOL8_SANITIZERS
		if (strcmp(name, "open") == 0 || strcmp(name, "openat") == 0 ||
		    in_list(name, allow_sanitizers, ARRAY_LEN(allow_sanitizers)))
			continue;
#endif
		if (add_list(ctx, SCMP_ACT_ERRNO(EACCES), &name, 1, err) < 0)
			return -1;
	}
	return 0;
}

/* With the default action already "kill", libseccomp refuses rules that repeat it (EACCES), and
 * they would change nothing: the list matters only when the default merely traps. */
static int add_always_kill(scmp_filter_ctx ctx, struct isol8_err *err)
{
#ifdef ISOL8_SECCOMP_DEBUG
	return add_list(ctx, SCMP_ACT_KILL_PROCESS, always_kill, ARRAY_LEN(always_kill), err);
#else
	(void)ctx;
	(void)err;
	(void)always_kill;
	return 0;
#endif
}

int worker_seccomp_load(struct isol8_err *err)
{
	__attribute__((cleanup(seccomp_ctx_release))) scmp_filter_ctx ctx = NULL;
	int r;

#ifdef ISOL8_SECCOMP_DEBUG
	if (install_sigsys_handler(err) < 0)
		return isol8_err_wrap(err, "seccomp debug");
#endif
	ctx = seccomp_init(DEFAULT_ACTION);
	if (!ctx)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "seccomp_init failed");
	/* Foreign-ABI syscalls (i386 int 0x80, x32) kill the whole process, not just the thread. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "seccomp bad-arch action");
	/* A fresh fork has one thread, but if a caller ever locks down later, every thread must be
	 * covered, or the load fails. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "seccomp tsync");

	if (add_list(ctx, SCMP_ACT_ALLOW, allow_plain, ARRAY_LEN(allow_plain), err) < 0 ||
	    add_always_kill(ctx, err) < 0 ||
	    add_conditional(ctx, err) < 0 || add_open_rules(ctx, err) < 0 || add_deny_list(ctx, err) < 0)
		return isol8_err_wrap(err, "build seccomp filter");

	r = seccomp_load(ctx);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "seccomp_load");
	return 0;
}
