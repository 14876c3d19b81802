#include "config.h"
#include "lockdown/lockdown.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "lockdown/seccomp_filter.h"

#ifdef ISOL8_SANITIZERS
/* LeakSanitizer's exit-time check stops the world by ptrace()ing the process from a cloned helper:
 * impossible in a non-dumpable, capability-less, seccomp-filtered worker (the clone or ptrace would
 * die with SIGSYS and take the exit status with it). LSan reads this hook at exit, so only locked
 * down processes skip the check; the broker and the tests keep theirs. Sanitizer build only. */
static volatile sig_atomic_t lsan_disabled_by_lockdown;
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return lsan_disabled_by_lockdown;
}
#endif

/* ---- identity -------------------------------------------------------------------------- */

/* *found = false (and 0) when the account does not exist. */
static int lookup_account(const char *name, struct worker_identity *id, bool *found, struct isol8_err *err)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = hint > 0 ? (size_t)hint : 1024;

	for (;;) {
		_cleanup_free_ char *buf = xmalloc(len);
		struct passwd pw, *res = NULL;
		int r = getpwnam_r(name, &pw, buf, len, &res);

		if (r == ERANGE && len < (1u << 20)) {
			len *= 2;
			continue;
		}
		/* Some NSS modules report "no such user" as an errno instead of res == NULL. */
		if (r == ENOENT || r == ESRCH || (r == 0 && !res)) {
			*found = false;
			return 0;
		}
		if (r != 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, r, "look up user %s", name);
		id->uid = pw.pw_uid;
		id->gid = pw.pw_gid;
		*found = true;
		return 0;
	}
}

int worker_identity_resolve(const char *name, struct worker_identity *id, struct isol8_err *err)
{
	/* isol8-unpriv: the account sysusers.d/isol8.conf (or isol8d) creates; nobody only on hosts
	 * where neither ran. */
	static const char *const fallbacks[] = {"isol8-unpriv", "nobody"};
	const char *used = NULL;
	bool found = false;

	if (!id)
		return isol8_err_set(err, ISOL8_E_INTERNAL, EINVAL, "worker identity: no output");
	/* Only uid and gid come from the account; no parent unless the caller names one. */
	memset(id, 0, sizeof *id);
	if (name) {
		if (!*name)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "worker user: empty name");
		if (lookup_account(name, id, &found, err) < 0)
			return isol8_err_wrap(err, "worker user");
		if (!found)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "worker user %s: no such user", name);
		used = name;
	} else {
		for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0] && !found; i++) {
			if (lookup_account(fallbacks[i], id, &found, err) < 0)
				return isol8_err_wrap(err, "worker user");
			used = fallbacks[i];
		}
		if (!found)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "worker user: neither \"isol8-unpriv\" nor \"nobody\" exists");
	}
	/* A root uid or gid would make every later step a no-op. */
	if (id->uid == 0 || id->gid == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "worker user %s: uid %u gid %u is root; refusing", used,
				     (unsigned)id->uid, (unsigned)id->gid);
	return 0;
}

/* ---- step 1: file descriptors ---------------------------------------------------------- */

static int close_from(int first, struct isol8_err *err)
{
	if (close_range((unsigned)first, ~0U, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "close_range(%d, ~0)", first);
	/* Kernel older than 5.9: the slow way. */
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > INT_MAX)
		max = INT_MAX;
	for (long fd = first; fd < max; fd++)
		close((int)fd);
	return 0;
}

/* Kept fds go to 3.. in order via temporaries above every kept fd and every target slot, so
 * that no dup2 target can be a kept fd not yet moved. */
static int setup_fds(int *keep, unsigned n, struct isol8_err *err)
{
	int tmp[WORKER_MAX_KEEP_FDS];
	unsigned slots = 0, t = 0;
	bool keep_stderr = false;
	int base = 3, devnull = -1;

	for (unsigned i = 0; i < n; i++) {
		if (keep[i] < 0 || fcntl(keep[i], F_GETFD) < 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, keep[i] < 0 ? EBADF : errno, "keep fd %d", keep[i]);
		for (unsigned j = 0; j < i; j++)
			if (keep[j] == keep[i])
				return isol8_err_set(err, ISOL8_E_INTERNAL, EINVAL, "keep fd %d listed twice", keep[i]);
		if (keep[i] == STDERR_FILENO)
			keep_stderr = true;
		else
			slots++;
		if (keep[i] >= base)
			base = keep[i] + 1;
	}
	if (base < 3 + (int)slots)
		base = 3 + (int)slots;

	for (unsigned i = 0; i < n; i++)
		tmp[i] = -1;
	/* /dev/null must be open before seccomp denies open, and must not sit in a target slot. */
	{
		_cleanup_close_ int fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);

		if (fd < 0) {
			isol8_err_set(err, ISOL8_E_IO, errno, "open /dev/null");
			goto out;
		}
		devnull = fcntl(fd, F_DUPFD_CLOEXEC, base);
		if (devnull < 0) {
			isol8_err_set(err, ISOL8_E_INTERNAL, errno, "dup /dev/null");
			goto out;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] == STDERR_FILENO)
			continue;
		tmp[t] = fcntl(keep[i], F_DUPFD_CLOEXEC, base);
		if (tmp[t] < 0) {
			isol8_err_set(err, ISOL8_E_INTERNAL, errno, "dup keep fd %d", keep[i]);
			goto out;
		}
		t++;
	}
	t = 0;
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] == STDERR_FILENO)
			continue;
		/* The worker never execs (execve kills it), but close-on-exec costs nothing. */
		if (dup3(tmp[t], 3 + (int)t, O_CLOEXEC) < 0) {
			isol8_err_set(err, ISOL8_E_INTERNAL, errno, "move keep fd %d to %d", keep[i], 3 + (int)t);
			goto out;
		}
		keep[i] = 3 + (int)t;
		t++;
	}
	for (int fd = 0; fd <= 2; fd++) {
		if (fd == STDERR_FILENO && keep_stderr)
			continue;
		if (dup2(devnull, fd) < 0) {
			isol8_err_set(err, ISOL8_E_INTERNAL, errno, "point fd %d at /dev/null", fd);
			goto out;
		}
	}
	/* Closes the temporaries and /dev/null too: all of them are >= base >= 3 + slots. */
	return close_from(3 + (int)slots, err);
out:
	for (unsigned i = 0; i < n; i++)
		xclose(tmp[i]);
	xclose(devnull);
	return -1;
}

/* ---- steps 2-3: capabilities and ids --------------------------------------------------- */

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

/* While still root: the bounding set can only be dropped with CAP_SETPCAP, and neither the
 * ambient nor the inheritable set is cleared by the uid change. */
static int drop_capability_sets(struct isol8_err *err)
{
	__attribute__((cleanup(cap_freep))) cap_t caps = NULL;
	int nbits = cap_max_bits();

	for (cap_value_t c = 0; c < nbits; c++)
		if (cap_drop_bound(c) < 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "drop bounding capability %d", c);
	if (cap_reset_ambient() < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "clear ambient capabilities");
	caps = cap_get_proc();
	if (!caps)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "cap_get_proc");
	if (cap_clear_flag(caps, CAP_INHERITABLE) < 0 || cap_set_proc(caps) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "clear inheritable capabilities");
	/* Keep-caps would preserve the permitted set across the uid change. */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "PR_SET_KEEPCAPS 0");
	return 0;
}

/* httpd proc_run order: groups, then gid, then uid (after setresuid there is no way back). The
 * kernel clears permitted and effective on the 0 -> non-zero uid transition. */
static int switch_ids(const struct worker_identity *id, struct isol8_err *err)
{
	if (setgroups(0, NULL) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "setgroups(0)");
	if (setresgid(id->gid, id->gid, id->gid) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "setresgid(%u)", (unsigned)id->gid);
	if (setresuid(id->uid, id->uid, id->uid) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "setresuid(%u)", (unsigned)id->uid);
	return 0;
}

/* Trust nothing: a securebits setting inherited from the parent (SECBIT_NO_SETUID_FIXUP), a
 * kernel quirk or a libcap change could each leave something behind. */
static int verify_dropped(const struct worker_identity *id, struct isol8_err *err)
{
	static const cap_flag_t flags[] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
	static const char *const flag_names[] = {"effective", "permitted", "inheritable"};
	__attribute__((cleanup(cap_freep))) cap_t caps = NULL;
	int nbits = cap_max_bits();
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "getresuid/getresgid");
	if (ru != id->uid || eu != id->uid || su != id->uid || rg != id->gid || eg != id->gid || sg != id->gid)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "ids not switched: uid %u/%u/%u gid %u/%u/%u",
				     (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg,
				     (unsigned)sg);
	if (getgroups(0, NULL) != 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "supplementary groups remain");

	caps = cap_get_proc();
	if (!caps)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "cap_get_proc");
	for (cap_value_t c = 0; c < nbits; c++) {
		for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
			cap_flag_value_t v = CAP_CLEAR;

			if (cap_get_flag(caps, c, flags[f], &v) < 0)
				return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "cap_get_flag(%d)", c);
			if (v != CAP_CLEAR)
				return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "capability %d still %s", c,
						     flag_names[f]);
		}
		if (cap_get_bound(c) != 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "capability %d still in bounding set", c);
		if (cap_get_ambient(c) > 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "capability %d still ambient", c);
	}
	/* The decisive check: there must be no way back to root. */
	if (setuid(0) != -1)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "setuid(0) succeeded after dropping privileges");
	if (setgid(0) != -1)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "setgid(0) succeeded after dropping privileges");
	return 0;
}

void worker_lockdown_mark_filtered(void)
{
#ifdef ISOL8_SANITIZERS
	lsan_disabled_by_lockdown = 1;
#endif
}

/* ---- the whole sequence ---------------------------------------------------------------- */

int worker_lockdown(const struct worker_identity *id, int *keep_fds, unsigned n_keep, struct isol8_err *err)
{
	return worker_lockdown_with(id, keep_fds, n_keep, worker_seccomp_load, err);
}

int worker_lockdown_with(const struct worker_identity *id, int *keep_fds, unsigned n_keep,
			 int (*seccomp_load)(struct isol8_err *err), struct isol8_err *err)
{
	if (!id || (n_keep && !keep_fds) || n_keep > WORKER_MAX_KEEP_FDS)
		return isol8_err_set(err, ISOL8_E_INTERNAL, EINVAL, "lockdown: bad arguments");
	if (id->uid == 0 || id->gid == 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, EINVAL, "lockdown: target uid/gid is root");
	/* Started unprivileged, the drops below would fail half-way or prove nothing. */
	if (getuid() != 0 || geteuid() != 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, EPERM, "lockdown: must start as root");

	if (setup_fds(keep_fds, n_keep, err) < 0)
		return isol8_err_wrap(err, "lockdown: fds");
	if (drop_capability_sets(err) < 0)
		return isol8_err_wrap(err, "lockdown: capabilities");
	if (switch_ids(id, err) < 0)
		return isol8_err_wrap(err, "lockdown: ids");
	if (verify_dropped(id, err) < 0)
		return isol8_err_wrap(err, "lockdown: verify");
	/* EOF on the broker channel is the usual way out; this one also ends a child that is stuck
	 * elsewhere, within the kernel's own delivery time. */
	if (id->parent && (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != id->parent))
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "lockdown: the parent (pid %d) is gone",
				     (int)id->parent);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "lockdown: PR_SET_NO_NEW_PRIVS");
	/* No core dumps of tenant data, and no ptrace/proc access from other nobody processes. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "lockdown: PR_SET_DUMPABLE 0");
#ifdef ISOL8_SANITIZERS
	lsan_disabled_by_lockdown = 1;
#endif
	if (seccomp_load(err) < 0)
		return isol8_err_wrap(err, "lockdown");
	return 0;
}
