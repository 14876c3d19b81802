#include "config.h"
#include "lockdown/seccomp_build.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

const char *const sc_escapes[] = {
	"execve",
	"execveat",
	"ptrace",
	"process_vm_readv",
	"process_vm_writev",
	"mount",
	"umount2",
	"pivot_root",
	"chroot",
	"unshare",
	"setns",
	"bpf",
	"keyctl",
	"add_key",
	"request_key",
	"init_module",
	"finit_module",
	"delete_module",
	"kexec_load",
	"kexec_file_load",
	"perf_event_open",
	"userfaultfd",
	"open_by_handle_at",
	"fsopen",
	"fsconfig",
	"fsmount",
	"fspick",
	"move_mount",
	"open_tree",
	"mount_setattr",
	"pidfd_open",
	"pidfd_getfd",
};
const size_t sc_n_escapes = SC_LEN(sc_escapes);

/* I/O on fds the process already holds (its channel, passed pipes and memfds, its connections) */
static const char *const fd_io[] = {
	"read",       "write",       "readv",       "writev", "pread64", "recvmsg", "sendmsg", "recvfrom", "shutdown",
	"getsockopt", "getsockname", "getpeername", "poll",   "ppoll",   "close",   "fstat",   "lseek",
};
static const char *const memory[] = {"mmap", "munmap", "mremap", "mprotect", "madvise", "brk"};
/* threads (clone itself is a rule: SC_RULES_THREADS_ONLY) and leaving */
static const char *const thread_basics[] = {"futex", "set_robust_list", "rseq",
					    "exit",  "exit_group",      "restart_syscall"};
static const char *const signals[] = {"rt_sigaction", "rt_sigprocmask", "rt_sigreturn"};
/* time: usually the vDSO, but the kernel path must work too */
static const char *const clock[] = {"clock_gettime", "clock_getres", "clock_nanosleep",
				    "nanosleep",     "gettimeofday", "time"};
/* self-inspection and randomness */
static const char *const self[] = {"getrandom", "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid"};
static const char *const net_client[] = {
	"sendto",     "sendmmsg", "setsockopt", "ioctl", /* FIONREAD (the resolver, libcurl) */
	"connect",    "bind",                            /* outbound connections; the resolver's UDP socket */
	"newfstatat", "stat",     "uname",               /* read-only file access for the resolver */
	"fcntl",      "pipe2",                           /* resolver threads' answer pipe (proxy), libcurl's (fetch) */
};

const struct sc_names sc_fd_io = SC_NAMES(SC_ALLOW, fd_io);
const struct sc_names sc_memory = SC_NAMES(SC_ALLOW, memory);
const struct sc_names sc_thread_basics = SC_NAMES(SC_ALLOW, thread_basics);
const struct sc_names sc_signals = SC_NAMES(SC_ALLOW, signals);
const struct sc_names sc_clock = SC_NAMES(SC_ALLOW, clock);
const struct sc_names sc_self = SC_NAMES(SC_ALLOW, self);

#ifdef ISOL8_SANITIZERS
/* Sanitizer builds only (never shipped): what the ASan/UBSan runtime calls at thread start and
 * when it reports. */
static const char *const net_client_sanitizers[] = {
	"readlink",  "readlinkat", "lstat",   "access",      "faccessat", "prctl",  "sigaltstack", "sched_getaffinity",
	"prlimit64", "getrlimit",  "mincore", "sched_yield", "kill",      "tgkill", "open",        "getdents64",
	"dup",       "dup2",
};
#endif

static uint32_t sc_action(enum sc_act a)
{
	switch (a) {
	case SC_ALLOW:
		return SCMP_ACT_ALLOW;
	case SC_EACCES:
		return SCMP_ACT_ERRNO(EACCES);
	case SC_EPERM:
		return SCMP_ACT_ERRNO(EPERM);
	case SC_ENOSYS:
		return SCMP_ACT_ERRNO(ENOSYS);
	case SC_ENOTTY:
		return SCMP_ACT_ERRNO(ENOTTY);
	case SC_TRAP:
		return SCMP_ACT_TRAP;
	case SC_KILL:
		break;
	}
	return SCMP_ACT_KILL_PROCESS; /* an unknown action is the strictest one, never "allow" */
}

static void ctx_release(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static int add(scmp_filter_ctx ctx, const struct sc_filter *f, const char *name, enum sc_act act, unsigned n_cmp,
	       const struct scmp_arg_cmp *cmp, struct isol8_err *err)
{
	int nr, r;

	if (act == f->default_act)
		return 0;
	nr = seccomp_syscall_resolve_name(name);
	/* Unknown name, or a pseudo-syscall (negative) for one the architecture does not have. */
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	r = seccomp_rule_add_array(ctx, sc_action(act), nr, n_cmp, n_cmp ? cmp : NULL);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "%s seccomp rule for %s", f->who, name);
	return 0;
}

int sc_filter_load(const struct sc_filter *f, struct isol8_err *err)
{
	__attribute__((cleanup(ctx_release))) scmp_filter_ctx ctx = seccomp_init(sc_action(f->default_act));
	int r;

	if (!ctx)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "%s seccomp_init failed", f->who);
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "%s seccomp bad-arch action", f->who);
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "%s seccomp tsync", f->who);
	for (size_t l = 0; l < f->n_lists; l++)
		for (size_t i = 0; i < f->lists[l].n; i++)
			if (add(ctx, f, f->lists[l].names[i], f->lists[l].act, 0, NULL, err) < 0)
				return -1;
	for (size_t i = 0; i < f->n_rules; i++) {
		const struct sc_rule *ru = &f->rules[i];
		if (ru->n_cmp > SC_LEN(ru->cmp))
			return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "%s seccomp rule for %s: %u comparisons", f->who,
					     ru->name, ru->n_cmp);
		if (add(ctx, f, ru->name, ru->act, ru->n_cmp, ru->cmp, err) < 0)
			return -1;
	}
	r = seccomp_load(ctx);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, -r, "%s seccomp_load", f->who);
	return 0;
}

static const struct sc_rule net_client_rules[] = {
	/* Internet sockets only; any other family kills. */
	{"socket", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_INET)}},
	{"socket", SC_ALLOW, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_INET6)}},
	/* nscd probes and netlink interface queries see an ordinary error */
	{"socket", SC_EACCES, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}},
	{"socket", SC_EACCES, 1, {SCMP_A0_32(SCMP_CMP_EQ, AF_NETLINK)}},
	/* the resolver pool's threads (proxy), libcurl's (fetch); never a process */
	SC_RULES_THREADS_ONLY,
	/* Read-only opens; a writing open is a bug or an exploit and kills. */
	SC_RULE_OPENAT_READONLY,
};

int sc_net_client_load(const char *who, const struct sc_names *extra, const struct sc_rule *extra_rules,
		       size_t n_extra_rules, struct isol8_err *err)
{
	struct sc_rule rules[SC_LEN(net_client_rules) + 4];
	const size_t n_base = SC_LEN(net_client_rules);
	const struct sc_names lists[] = {
		SC_BASE_GROUPS,
		SC_NAMES(SC_ALLOW, net_client),
		*extra,
#ifdef ISOL8_SANITIZERS
		SC_NAMES(SC_ALLOW, net_client_sanitizers),
#endif
	};
	const struct sc_filter f = {who, SC_KILL, lists, SC_LEN(lists), rules, n_base + n_extra_rules};

	if (n_extra_rules > SC_LEN(rules) - n_base)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "%s seccomp: %zu extra rules", who, n_extra_rules);
	memcpy(rules, net_client_rules, sizeof net_client_rules);
	if (n_extra_rules)
		memcpy(rules + n_base, extra_rules, n_extra_rules * sizeof *extra_rules);
	return sc_filter_load(&f, err);
}
