/* The HTTP server's seccomp filter (libseccomp), loaded once libmicrohttpd listens: the
 * network-facing process keeps only what serving needs. It accepts on its listener, connects to
 * isol8d over AF_UNIX (no other socket family), passes fds, makes pipes and memfds, starts
 * threads, and opens files read-only (glibc's /etc/localtime, OpenSSL's config). Anything else
 * fails with EPERM, and the calls that would widen an attacker's reach — exec, ptrace, mount,
 * namespaces, BPF, keyrings, module loading — kill the process. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/socket.h>

#include "frontend/http/server.h"

static const char *const allow_plain[] = {
	/* I/O on held fds, the listener and broker connections */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "recvmsg", "sendmsg", "recvfrom", "sendto",
	"accept", "accept4", "connect", "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"close", "fstat", "newfstatat", "lseek", "fcntl", "dup", "dup3", "ioctl", "pipe2", "eventfd2",
	"memfd_create", "ftruncate", "statx",
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	/* threads and signals */
	"futex", "set_robust_list", "rseq", "sched_yield", "sched_getaffinity", "prctl", "sigaltstack",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "restart_syscall", "tgkill",
	"exit", "exit_group",
	/* time, randomness, identity */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getrandom",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "uname", "prlimit64",
};

static const char *const kill_list[] = {
	"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "unshare",
	"setns", "pivot_root", "chroot", "bpf", "keyctl", "add_key", "request_key", "init_module",
	"finit_module", "delete_module", "kexec_load", "perf_event_open", "userfaultfd",
};

#ifdef ISOL8_SANITIZERS
#include <signal.h>
/* Sanitizer builds only: LeakSanitizer's exit-time check stops the world with a ptrace'd clone,
 * which this filter kills; a filtered server skips that check (as locked-down workers do). */
static volatile sig_atomic_t lsan_off;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return lsan_off;
}
#endif

#define CMP(...) ((const struct scmp_arg_cmp[]){__VA_ARGS__})

static int add(scmp_filter_ctx ctx, uint32_t act, const char *name, unsigned n, const struct scmp_arg_cmp *cmp,
	       struct isol8_err *err)
{
	int nr = seccomp_syscall_resolve_name(name), r;
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0; /* not on this architecture */
	r = seccomp_rule_add_array(ctx, act, nr, n, cmp);
	return r < 0 ? isol8_err_set(err, ISOL8_E_INTERNAL, -r, "http seccomp rule %s", name) : 0;
}

int http_seccomp_load(struct isol8_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	const scmp_datum_t wmask = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
	int r;

	if (!ctx)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "seccomp_init");
	for (size_t i = 0; i < sizeof allow_plain / sizeof allow_plain[0]; i++)
		if (add(ctx, SCMP_ACT_ALLOW, allow_plain[i], 0, NULL, err) < 0)
			goto fail;
	for (size_t i = 0; i < sizeof kill_list / sizeof kill_list[0]; i++)
		if (add(ctx, SCMP_ACT_KILL_PROCESS, kill_list[i], 0, NULL, err) < 0)
			goto fail;
	/* Only AF_UNIX sockets (connections to isol8d): no outbound network from here. */
	if (add(ctx, SCMP_ACT_ALLOW, "socket", 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)), err) < 0 ||
	    /* Threads, never processes; clone3 hides its flags from seccomp, so glibc must fall back. */
	    add(ctx, SCMP_ACT_ALLOW, "clone", 1, CMP(SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)), err) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_KILL_PROCESS, "clone", 1, CMP(SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)), err) < 0 ||
	    /* Read-only opens. */
	    add(ctx, SCMP_ACT_ALLOW, "openat", 1, CMP(SCMP_A2_32(SCMP_CMP_MASKED_EQ, wmask, O_RDONLY)), err) < 0)
		goto fail;
	r = seccomp_load(ctx);
	if (r < 0) {
		isol8_err_set(err, ISOL8_E_INTERNAL, -r, "seccomp_load");
		goto fail;
	}
	seccomp_release(ctx);
#ifdef ISOL8_SANITIZERS
	lsan_off = 1;
#endif
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}
