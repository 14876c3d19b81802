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

#include "proxy/proxy.h"

static const char *const allow_plain[] = {
	/* I/O on held fds */
	"read", "write", "readv", "writev", "pread64", "recvmsg", "sendmsg", "recvfrom", "sendto", "sendmmsg",
	"shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername", "poll", "ppoll", "close", "fstat",
	"lseek", "ioctl", /* the resolver asks FIONREAD */
	/* outbound connections and the handed-over listeners */
	"connect", "accept4", "bind",
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
	/* read-only file access for the resolver (opens are checked below) */
	"newfstatat", "stat", "uname",
	/* process basics */
	"futex", "exit", "exit_group", "restart_syscall", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getrandom",
	"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "fcntl",
	/* resolver threads: their answer pipe (created once, after lockdown) and what glibc's
	 * pthread_create and thread start-up call; clone itself is checked below */
	"pipe2", "set_robust_list", "rseq",
};

#ifdef ISOL8_SANITIZERS
/* Sanitizer builds only (never shipped): what the ASan/UBSan runtime calls at thread start and
 * when it reports (as in lockdown/seccomp_filter.c). */
static const char *const allow_sanitizers[] = {
	"readlink", "readlinkat", "lstat", "access", "faccessat", "prctl", "sigaltstack", "sched_getaffinity",
	"prlimit64", "getrlimit", "mincore", "sched_yield", "kill", "tgkill", "open", "getdents64", "dup", "dup2",
};
#endif

#define CMP(...) ((const struct scmp_arg_cmp[]){__VA_ARGS__})

static int rule(scmp_filter_ctx ctx, uint32_t act, int nr, unsigned n, const struct scmp_arg_cmp *cmp,
		struct isol8_err *err)
{
	int r = seccomp_rule_add_array(ctx, act, nr, n, cmp);
	return r < 0 ? isol8_err_set(err, ISOL8_E_INTERNAL, -r, "proxy seccomp rule %d", nr) : 0;
}

int proxy_seccomp_load(struct isol8_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	const scmp_datum_t wmask = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
	int r, nr;

	if (!ctx)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "seccomp_init");
	for (size_t i = 0; i < sizeof allow_plain / sizeof allow_plain[0]; i++) {
		nr = seccomp_syscall_resolve_name(allow_plain[i]);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		if (rule(ctx, SCMP_ACT_ALLOW, nr, 0, NULL, err) < 0)
			goto fail;
	}
#ifdef ISOL8_SANITIZERS
	for (size_t i = 0; i < sizeof allow_sanitizers / sizeof allow_sanitizers[0]; i++) {
		nr = seccomp_syscall_resolve_name(allow_sanitizers[i]);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		if (rule(ctx, SCMP_ACT_ALLOW, nr, 0, NULL, err) < 0)
			goto fail;
	}
#endif
	/* Internet sockets only. glibc's resolver may probe nscd (AF_UNIX) or ask netlink for
	 * interface addresses: those see an ordinary error; any other family kills. */
	if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, AF_INET)), err) < 0 ||
	    rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, AF_INET6)), err) < 0 ||
	    rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)), err) < 0 ||
	    rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1, CMP(SCMP_A0_32(SCMP_CMP_EQ, AF_NETLINK)), err) < 0)
		goto fail;
	/* Threads, never processes: clone only with CLONE_THREAD (on x86-64 and arm64 the flags are
	 * argument 0). clone3 passes its flags in memory seccomp cannot read, so it reports ENOSYS
	 * and glibc falls back to clone. */
	if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, CMP(SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)),
		 err) < 0)
		goto fail;
	nr = seccomp_syscall_resolve_name("clone3");
	if (nr != __NR_SCMP_ERROR && nr >= 0 && rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0, NULL, err) < 0)
		goto fail;
	/* Read-only opens; a writing open is a bug or an exploit and kills. */
	if (rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, CMP(SCMP_A2_32(SCMP_CMP_MASKED_EQ, wmask, O_RDONLY)),
		 err) < 0)
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
