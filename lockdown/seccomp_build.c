#include "config.h"
#include "lockdown/seccomp_build.h"

#include <errno.h>

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
