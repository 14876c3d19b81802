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

static const char *const allow_plain[] = {
	/* I/O on held fds, the listener and broker connections */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "recvmsg", "sendmsg", "recvfrom", "sendto",
	"accept", "accept4", "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
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
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "uname", "prlimit64",
};

static const char *const kill_list[] = {
	"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "unshare",
	"setns", "pivot_root", "chroot", "bpf", "keyctl", "add_key", "request_key", "init_module",
	"finit_module", "delete_module", "kexec_load", "perf_event_open", "userfaultfd",
};


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
	/* No new sockets and no connect: the connector hands over connected ones. An AF_UNIX
	 * socketpair reaches nothing outside the process (MHD relays an upgraded TLS connection,
	 * wss, through one). */
	if (add(ctx, SCMP_ACT_ERRNO(EACCES), "socket", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_ALLOW, "socketpair", 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)), err) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(EACCES), "connect", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(EACCES), "bind", 0, NULL, err) < 0 ||
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
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

static const char *const connector_allow[] = {
	"read", "write", "recvmsg", "sendmsg", "close", "poll", "ppoll", "fcntl", "fstat", "newfstatat",
	"mmap", "munmap", "mremap", "madvise", "brk", "futex", "rt_sigprocmask", "rt_sigreturn",
	"restart_syscall", "wait4", "waitid", "getpid", "getuid", "geteuid", "clock_gettime", "exit",
	"exit_group",
};

int http_connector_seccomp_load(struct isol8_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r;

	if (!ctx)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "seccomp_init");
	for (size_t i = 0; i < sizeof connector_allow / sizeof connector_allow[0]; i++)
		if (add(ctx, SCMP_ACT_ALLOW, connector_allow[i], 0, NULL, err) < 0)
			goto fail;
	for (size_t i = 0; i < sizeof kill_list / sizeof kill_list[0]; i++)
		if (add(ctx, SCMP_ACT_KILL_PROCESS, kill_list[i], 0, NULL, err) < 0)
			goto fail;
	/* AF_UNIX only (the path is ours, fixed at start). No kill, tgkill or tkill: as uid 0
	 * without capabilities this process could still signal every root process; it tells its
	 * child to stop through a pipe instead. */
	if (add(ctx, SCMP_ACT_ALLOW, "socket", 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)), err) < 0 ||
	    add(ctx, SCMP_ACT_ALLOW, "connect", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(EACCES), "open", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(EACCES), "openat", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_ERRNO(EACCES), "openat2", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_KILL_PROCESS, "clone", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_KILL_PROCESS, "clone3", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_KILL_PROCESS, "fork", 0, NULL, err) < 0 ||
	    add(ctx, SCMP_ACT_KILL_PROCESS, "vfork", 0, NULL, err) < 0)
		goto fail;
	r = seccomp_load(ctx);
	if (r < 0) {
		isol8_err_set(err, ISOL8_E_INTERNAL, -r, "seccomp_load");
		goto fail;
	}
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}
