/* One table-driven seccomp builder (libseccomp) for every process isol8 locks down: the worker
 * (lockdown/seccomp_filter.c), the proxy (proxy/seccomp.c), and isol8 serve's server and
 * connector (http/seccomp.c). Each of those is a table, a default action and a comment per
 * syscall saying why it is there; this file holds what they share: how a table becomes a filter,
 * the calls that escape a sandbox, and the threads-only clone rule.
 *
 * Common to every filter: a foreign-ABI call (i386 int 0x80, x32) kills the process; the filter
 * covers every thread (TSYNC); a name the build architecture lacks is skipped; a rule whose action
 * is the default is skipped too (libseccomp refuses it, and it would change nothing). */
#ifndef ISOL8_LOCKDOWN_SECCOMP_BUILD_H
#define ISOL8_LOCKDOWN_SECCOMP_BUILD_H

#include <linux/sched.h>
#include <seccomp.h>
#include <stddef.h>

#include "common/err.h"

enum sc_act {
	SC_ALLOW,
	SC_EACCES, /* expected-but-denied: library code sees an ordinary error */
	SC_EPERM,
	SC_ENOSYS, /* "not implemented": glibc falls back (clone3 -> clone) */
	SC_ENOTTY,
	SC_TRAP, /* seccomp-debug builds: SIGSYS, reported by the process's handler */
	SC_KILL, /* the whole process */
};

/* One syscall with up to two argument comparisons, all of which must hold. */
struct sc_rule {
	const char *name;
	enum sc_act act;
	unsigned n_cmp;
	struct scmp_arg_cmp cmp[2];
};

/* Many syscalls with one action and no argument checks. */
struct sc_names {
	enum sc_act act;
	const char *const *names;
	size_t n;
};

struct sc_filter {
	const char *who; /* names the filter in errors: "worker", "proxy", ... */
	enum sc_act default_act;
	const struct sc_names *lists;
	size_t n_lists;
	const struct sc_rule *rules; /* after the lists */
	size_t n_rules;
};

#define SC_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SC_NAMES(act, arr)                \
	{                                 \
		(act), (arr), SC_LEN(arr) \
	}

/* Calls that would widen an attacker's reach from any locked-down process: exec, ptrace and
 * process memory, mounts and namespaces, BPF, keyrings, modules, kexec, perf, userfaultfd, file
 * handles, pidfds of other processes. Every filter kills on them (explicitly where its default
 * action is milder). */
extern const char *const sc_escapes[];
extern const size_t sc_n_escapes;

/* Groups every locked-down process allows (each filter lists the ones it needs, with SC_GROUP):
 * I/O on fds it already holds, memory, threads' basics, signal handling, time, and who it is. */
extern const struct sc_names sc_fd_io, sc_memory, sc_thread_basics, sc_signals, sc_clock, sc_self;
#define SC_BASE_GROUPS sc_fd_io, sc_memory, sc_thread_basics, sc_signals, sc_clock, sc_self

/* The filter of an outbound network client (isol8-proxy, isol8-fetch): SC_BASE_GROUPS, a
 * resolver's and a connection's calls on its own sockets, socket() for AF_INET/AF_INET6 only
 * (AF_UNIX and netlink probes from glibc's resolver see EACCES), read-only opens and
 * newfstatat/stat for the resolver's files, threads but never a process; anything else kills.
 * extra and extra_rules are what the caller adds. */
int sc_net_client_load(const char *who, const struct sc_names *extra, const struct sc_rule *extra_rules,
		       size_t n_extra_rules, struct isol8_err *err);

/* Threads, never processes: pthread_create passes CLONE_THREAD and no namespace flag; fork does
 * not. clone3 hides its flags behind a pointer seccomp cannot read, so it answers ENOSYS and glibc
 * falls back to clone. clone's flags are argument 0 on x86_64 and aarch64. */
#define SC_CLONE_MASK                                                                                             \
	(CLONE_THREAD | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)
#define SC_RULES_THREADS_ONLY                                                                  \
	{"clone", SC_ALLOW, 1, {SCMP_A0_64(SCMP_CMP_MASKED_EQ, SC_CLONE_MASK, CLONE_THREAD)}}, \
	{                                                                                      \
		"clone3", SC_ENOSYS, 0,                                                        \
		{                                                                              \
			{                                                                      \
				0                                                              \
			}                                                                      \
		}                                                                              \
	}

/* Opens that cannot write or create: the access mode is O_RDONLY and no creating bit is set. */
#define SC_OPEN_WRITE_BITS (O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND)
#define SC_RULE_OPENAT_READONLY                                                      \
	{                                                                            \
		"openat", SC_ALLOW, 1,                                               \
		{                                                                    \
			SCMP_A2_32(SCMP_CMP_MASKED_EQ, SC_OPEN_WRITE_BITS, O_RDONLY) \
		}                                                                    \
	}

/* Build the filter and load it on the calling process. The caller has set PR_SET_NO_NEW_PRIVS
 * (or is privileged). Returns 0, or -1 with *err naming the filter and the rule. */
int sc_filter_load(const struct sc_filter *f, struct isol8_err *err);

#endif
