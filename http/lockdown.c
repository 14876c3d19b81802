/* Locking down `isol8 serve`'s network-facing process (contract in lockdown.h). */
#include "config.h"
#include "http/lockdown.h"

#include <errno.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "http/server.h"

static bool landlock_on;
static bool seccomp_wanted;

bool http_landlock_active(void)
{
	return landlock_on;
}

/* A ruleset that handles every filesystem right this kernel knows and grants none: no path can
 * be opened, listed, created, removed, linked or executed. No rule is added on purpose. */
static int landlock_deny_all(struct isol8_err *err)
{
	struct landlock_ruleset_attr attr = {0};
	_cleanup_close_ int fd = -1;
	long abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		/* Not built in, or disabled at boot (lsm=): seccomp and the uid drop remain. */
		if (errno == ENOSYS || errno == EOPNOTSUPP)
			return 0;
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "landlock ABI version");
	}
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
		LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "landlock_create_ruleset");
	if (syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "landlock_restrict_self");
	landlock_on = true;
	return 0;
}

/* The last steps, after the ids (when root) and no_new_privs (which Landlock requires). */
static int confine(struct isol8_err *err)
{
	if (landlock_deny_all(err) < 0)
		return isol8_err_wrap(err, "lockdown");
	if (seccomp_wanted && http_seccomp_load(err) < 0)
		return isol8_err_wrap(err, "lockdown");
	return 0;
}

int http_lockdown(struct http_lockdown *l, struct isol8_err *err)
{
	seccomp_wanted = l->seccomp;
	/* Sanitizer builds: LeakSanitizer's exit-time ptrace would be killed by the filter. */
	worker_lockdown_mark_filtered();
	if (l->as_root)
		return worker_lockdown_with(&l->id, l->keep, l->n_keep, confine, err);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "lockdown: PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "lockdown: PR_SET_DUMPABLE 0");
	return confine(err);
}
