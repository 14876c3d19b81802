/* Mapping callers to tenants and checking requests against a tenant's ceilings.
 * Identities come from the kernel (SO_PEERCRED) or the HTTP key table, never from a request. */
#include "config.h"
#include "policy/internal.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "common/xalloc.h"

static const struct isol8_tenant *default_tenant(const struct isol8_policy *p)
{
	if (p->default_tenant < 0 || (size_t)p->default_tenant >= p->n_tenants)
		return NULL;
	return &p->tenants[p->default_tenant];
}

static bool has_gid(const struct isol8_tenant *t, gid_t g)
{
	for (size_t i = 0; i < t->n_gids; i++)
		if (t->gids[i] == g)
			return true;
	return false;
}

/* Supplementary groups of uid from the group database (the peer's own process groups are not
 * available through SO_PEERCRED). Returns a malloc'd array, or NULL with *n = 0 when the uid
 * has no passwd entry. */
static gid_t *groups_of(uid_t uid, gid_t gid, int *n)
{
	struct passwd pw, *res = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t buflen = 4096;
	gid_t *groups = NULL;
	int ng = 32;

	*n = 0;
	for (;;) {
		int rc;

		buf = xrealloc(buf, buflen);
		rc = getpwuid_r(uid, &pw, buf, buflen, &res);
		if (rc == ERANGE && buflen < (1u << 20)) {
			buflen *= 2;
			continue;
		}
		if (rc != 0 || !res)
			return NULL;
		break;
	}
	for (;;) {
		int want = ng;

		groups = xrealloc(groups, (size_t)ng * sizeof *groups);
		if (getgrouplist(pw.pw_name, gid, groups, &want) >= 0) {
			*n = want;
			return groups;
		}
		if (want <= ng || want > 65536)
			break;
		ng = want;
	}
	free(groups);
	return NULL;
}

const struct isol8_tenant *isol8_policy_match_local(const struct isol8_policy *p, uid_t uid, gid_t gid)
{
	gid_t *groups;
	int ng;

	for (size_t i = 0; i < p->n_tenants; i++)
		for (size_t j = 0; j < p->tenants[i].n_uids; j++)
			if (p->tenants[i].uids[j] == uid)
				return &p->tenants[i];
	for (size_t i = 0; i < p->n_tenants; i++)
		if (has_gid(&p->tenants[i], gid))
			return &p->tenants[i];

	/* Only consult NSS when some tenant matches by group at all. */
	for (size_t i = 0; i < p->n_tenants; i++) {
		if (p->tenants[i].n_gids)
			goto supplementary;
	}
	return default_tenant(p);

supplementary:
	groups = groups_of(uid, gid, &ng);
	for (size_t i = 0; i < p->n_tenants; i++) {
		for (int k = 0; k < ng; k++) {
			if (has_gid(&p->tenants[i], groups[k])) {
				free(groups);
				return &p->tenants[i];
			}
		}
	}
	free(groups);
	return default_tenant(p);
}

const struct isol8_tenant *isol8_policy_match_key(const struct isol8_policy *p, const char *key_name)
{
	if (!key_name)
		return default_tenant(p);
	for (size_t i = 0; i < p->n_tenants; i++)
		for (size_t j = 0; j < p->tenants[i].n_keys; j++)
			if (strcmp(p->tenants[i].keys[j], key_name) == 0)
				return &p->tenants[i];
	return default_tenant(p);
}

enum fmt { F_SIZE, F_MS, F_COUNT };

static void fmt_value(enum fmt f, uint64_t v, char *out, size_t n)
{
	switch (f) {
	case F_SIZE:
		isol8_format_size(v, out, n);
		break;
	case F_MS:
		snprintf(out, n, "%" PRIu64 "ms", v);
		break;
	case F_COUNT:
		snprintf(out, n, "%" PRIu64, v);
		break;
	}
}

/* One integer limit. 0 means "not set": Docker reads 0 as unlimited, so it must never pass
 * through; it becomes the spec default, itself capped by the ceiling. */
static int limit_u64(const struct isol8_tenant *t, const char *field, enum fmt f, uint64_t *req, uint64_t def,
		     uint64_t ceil, struct isol8_err *err)
{
	char rq[32], cl[32];

	if (*req == 0) {
		*req = def < ceil ? def : ceil;
		return 0;
	}
	if (*req <= ceil)
		return 0;
	if (!t->refuse_on_exceed) {
		*req = ceil;
		return 0;
	}
	fmt_value(f, *req, rq, sizeof rq);
	fmt_value(f, ceil, cl, sizeof cl);
	return isol8_err_set(err, ISOL8_E_POLICY, 0, "%s %s exceeds tenant %s ceiling %s", field, rq, t->name, cl);
}

int isol8_policy_apply_limits(const struct isol8_tenant *t, struct isol8_limits *req, struct isol8_err *err)
{
	struct isol8_limits def;
	uint64_t pids = req->pids;

	isol8_limits_defaults(&def);
	if (limit_u64(t, "memory", F_SIZE, &req->memory, def.memory, t->ceil.memory, err) < 0)
		return -1;
	/* NaN or negative cpu is as meaningless as 0: treat it as not set. */
	if (!(req->cpu > 0))
		req->cpu = def.cpu < t->ceil.cpu ? def.cpu : t->ceil.cpu;
	else if (req->cpu > t->ceil.cpu) {
		if (t->refuse_on_exceed)
			return isol8_err_set(err, ISOL8_E_POLICY, 0, "cpu %g exceeds tenant %s ceiling %g", req->cpu,
					     t->name, t->ceil.cpu);
		req->cpu = t->ceil.cpu;
	}
	if (limit_u64(t, "pids", F_COUNT, &pids, def.pids, t->ceil.pids, err) < 0)
		return -1;
	req->pids = (uint32_t)pids;
	if (limit_u64(t, "timeout", F_MS, &req->timeout_ms, def.timeout_ms, t->ceil.timeout_ms, err) < 0)
		return -1;
	if (limit_u64(t, "sandbox size", F_SIZE, &req->sandbox_size, def.sandbox_size, t->ceil.sandbox_size, err) < 0)
		return -1;
	if (limit_u64(t, "tmp size", F_SIZE, &req->tmp_size, def.tmp_size, t->ceil.tmp_size, err) < 0)
		return -1;
	if (limit_u64(t, "max output", F_SIZE, &req->max_output, def.max_output, t->ceil.max_output, err) < 0)
		return -1;
	return 0;
}

int isol8_policy_apply_persist_ttl(const struct isol8_tenant *t, uint64_t *ttl_ms, struct isol8_err *err)
{
	return limit_u64(t, "persist ttl", F_MS, ttl_ms, t->persist_ttl_ms, t->persist_ttl_ms, err);
}

int isol8_policy_check_runtime(const struct isol8_tenant *t, int rt, struct isol8_err *err)
{
	const char *name = isol8_runtime_name(rt);

	if (!name)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	if (!(t->runtimes_mask & (1u << rt)))
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "runtime %s is not allowed for tenant %s", name, t->name);
	return 0;
}

int isol8_policy_check_network(const struct isol8_tenant *t, int mode, struct isol8_err *err)
{
	const char *name = isol8_net_mode_name(mode);

	if (!name)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown network mode %d", mode);
	if (!(t->network_mask & (1u << mode)))
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "network %s is not allowed for tenant %s", name, t->name);
	return 0;
}

int isol8_policy_check_isolation(const struct isol8_tenant *t, int requested, int net_mode, int *out,
				 struct isol8_err *err)
{
	if (requested == ISOL8_ISO_POLICY) {
		*out = t->isolation;
		return 0;
	}
	if (!isol8_isolation_name(requested))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown isolation tier %d", requested);
	/* The tiers are ordered: runsc puts a second kernel (gVisor's Sentry) under runc's
	 * confinement. A tenant the policy puts behind it never gets a sandbox without it. */
	if (requested < t->isolation)
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "isolation %s refused: the policy's tier for tenant %s is %s, which a run may "
				     "raise but never lower (leave out --isolation or options.isolation)",
				     isol8_isolation_name(requested), t->name, isol8_isolation_name(t->isolation));
	if (requested == ISOL8_ISO_RUNSC && net_mode != ISOL8_NET_NONE)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "isolation runsc has no network (gVisor sandboxes run with network none), not "
				     "network %s: use --net none",
				     isol8_net_mode_name(net_mode) ? isol8_net_mode_name(net_mode) : "?");
	*out = requested;
	return 0;
}

static bool is_hex12(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 12;
}

int isol8_policy_check_image(const struct isol8_tenant *t, int rt, const char *image, struct isol8_err *err)
{
	const char *name = isol8_runtime_name(rt), *rest;
	size_t nl;

	if (!name)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	if (!image || !*image)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "empty image name");
	if (strlen(image) > 256)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "image name longer than 256 characters");
	for (const char *c = image; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "image name contains spaces or non-printable characters");

	/* The isol8 images of this runtime: base, and the custom images `isol8 setup` builds
	 * (hashed isol8:<rt>-custom-<hex12>, and the older unhashed isol8:<rt>-custom). */
	nl = strlen(name);
	if (strncmp(image, "isol8:", 6) == 0 && strncmp(image + 6, name, nl) == 0) {
		rest = image + 6 + nl;
		if (!*rest)
			return 0;
		if (t->custom_images && strncmp(rest, "-custom", 7) == 0 &&
		    (rest[7] == '\0' || (rest[7] == '-' && is_hex12(rest + 8))))
			return 0;
	}
	for (size_t i = 0; i < t->n_images; i++)
		if (regexec(&t->images[i], image, 0, NULL, 0) == 0)
			return 0;
	return isol8_err_set(err, ISOL8_E_POLICY, 0, "image %s is not allowed for tenant %s (runtime %s)", image,
			     t->name, name);
}

bool isol8_policy_is_admin(const struct isol8_policy *p, int tenant, bool local_root)
{
	if (!p->admin_marked)
		return local_root;
	return tenant >= 0 && (size_t)tenant < p->n_tenants && p->tenants[tenant].admin;
}
