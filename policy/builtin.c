/* The policy isol8d uses when no policy file is installed (kept equal to
 * policy/default-policy.json; a unit test compares the two). */
#include "config.h"
#include "policy/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/run_defaults.h"
#include "common/xalloc.h"

#define GIB (1024ull * 1024ull * 1024ull)
#define MIB (1024ull * 1024ull)

void isol8_limits_defaults(struct isol8_limits *l)
{
	l->memory = ISOL8_DEFAULT_MEMORY;
	l->cpu = ISOL8_DEFAULT_CPU_MILLIS / 1000.0;
	l->pids = ISOL8_DEFAULT_PIDS;
	l->timeout_ms = ISOL8_DEFAULT_TIMEOUT_MS;
	l->sandbox_size = ISOL8_DEFAULT_SANDBOX_SIZE;
	l->tmp_size = ISOL8_DEFAULT_TMP_SIZE;
	l->max_output = ISOL8_DEFAULT_MAX_OUTPUT;
}

double policy_all_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (double)n : 1.0;
}

void policy_tenant_defaults(struct isol8_tenant *t, const char *name)
{
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	t->refuse_on_exceed = false;
	isol8_limits_defaults(&t->ceil);
	t->max_sessions = 8;
	t->session_idle_ms = 1800000;
	t->max_concurrent = 4;
	/* A persisted sandbox outlives its run and every per-run limit: allowed, but few. */
	t->persist_ok = true;
	t->max_persist = 2;
	/* ...and not for long: removed by isol8d an hour after its run's time limit. */
	t->persist_ttl_ms = 3600000;
	t->runtimes_mask = POLICY_ALL_RUNTIMES;
	t->network_mask = (1u << ISOL8_NET_NONE) | (1u << ISOL8_NET_FILTERED);
	t->writable_root = false;
	t->custom_images = true;
	t->seccomp_unconfined_ok = false;
	t->isolation = ISOL8_ISO_RUNC;
	t->host_uid = ISOL8_SANDBOX_UID;
	t->host_gid = ISOL8_SANDBOX_GID;
	t->host_uids = 1;
	policy_net_defaults(&t->net);
	policy_remote_defaults(&t->remote);
}

void isol8_policy_builtin(struct isol8_policy *p)
{
	struct isol8_tenant *admin, *local;
	regex_t re;
	char ebuf[128];

	memset(p, 0, sizeof *p);
	isol8_audit_policy_defaults(&p->audit);
	p->tenants = xcalloc(2, sizeof *p->tenants);
	p->n_tenants = 2;
	admin = &p->tenants[0];
	local = &p->tenants[1];

	/* root can drive Docker directly anyway; the ceilings only guard against accidents. */
	policy_tenant_defaults(admin, "admin");
	admin->admin = true; /* root: every tenant in isol8 status and isol8 audit show */
	p->admin_marked = true;
	admin->uids = xcalloc(1, sizeof *admin->uids);
	admin->uids[0] = 0;
	admin->n_uids = 1;
	admin->ceil.memory = 8 * GIB;
	admin->ceil.cpu = policy_all_cpus();
	admin->ceil.pids = 4096;
	admin->ceil.timeout_ms = 3600000;
	admin->ceil.sandbox_size = 8 * GIB;
	admin->ceil.tmp_size = 8 * GIB;
	admin->ceil.max_output = 64 * MIB;
	admin->max_sessions = 64;
	admin->max_concurrent = 16;
	admin->max_persist = 16;
	admin->persist_ttl_ms = 86400000;
	admin->network_mask = (1u << ISOL8_NET_NONE) | (1u << ISOL8_NET_FILTERED) | (1u << ISOL8_NET_HOST);
	admin->writable_root = true;
	admin->seccomp_unconfined_ok = true;
	if (policy_compile_image(".*", &re, ebuf, sizeof ebuf) != 0)
		abort(); /* a constant pattern: cannot fail short of OOM */
	policy_add_image(admin, ".*", &re);

	/* Everyone else: the spec's defaults are also the ceilings. */
	policy_tenant_defaults(local, "local");

	p->default_tenant = 1;
	p->source = xstrdup("built-in");
	policy_uid_range_defaults(p);
	if (policy_assign_host_uids(p, &(struct isol8_err)ISOL8_ERR_INIT) < 0)
		abort(); /* two tenants in 16384 blocks: cannot fail */
}
