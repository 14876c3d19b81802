/* The tenants' host identities: the policy's "hostUidRange" and where each tenant's block of
 * it lies.
 *
 * A tenant's block is chosen from its name (FNV-1a over the number of blocks), so it stays the
 * same across reloads and restarts whatever the order of the file; two names that land on the
 * same block are resolved in the order of their names (the later one takes the next free
 * block), so the result depends on the set of tenants only. A tenant with "hostUid" takes no
 * block, and its uid may not lie in the range. */
#include "config.h"
#include "policy/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/xalloc.h"

void policy_uid_range_defaults(struct isol8_policy *p)
{
	p->uid_base = ISOL8_UID_RANGE_BASE;
	p->uid_size = ISOL8_UID_RANGE_SIZE;
	p->uid_per_tenant = ISOL8_UID_RANGE_PER_TENANT;
}

int policy_parse_uid_range(json_object *root, struct isol8_policy *p, struct isol8_err *err)
{
	static const char *const keys[] = {"base", "size", "perTenant", NULL};
	json_object *o = NULL, *v;
	uint64_t base = ISOL8_UID_RANGE_BASE, size = ISOL8_UID_RANGE_SIZE, per = ISOL8_UID_RANGE_PER_TENANT;

	policy_uid_range_defaults(p);
	if (!json_object_object_get_ex(root, "hostUidRange", &o))
		return 0;
	if (!o) {
		/* null: no range, the images' shared user for tenants without "hostUid" */
		p->uid_base = p->uid_size = p->uid_per_tenant = 0;
		return 0;
	}
	if (isol8_json_check_keys(o, "hostUidRange", keys, err) < 0)
		return -1;
	/* Below 10000 are the host's own accounts (Debian's system and user ranges). */
	if (isol8_json_member(o, "base", &v) > 0 &&
	    isol8_json_as_u64(v, "hostUidRange.base", ISOL8_HOST_UID_MIN, ISOL8_HOST_UID_MAX, &base, err) < 0)
		return -1;
	if (isol8_json_member(o, "size", &v) > 0 &&
	    isol8_json_as_u64(v, "hostUidRange.size", 1, ISOL8_HOST_UID_MAX, &size, err) < 0)
		return -1;
	if (isol8_json_member(o, "perTenant", &v) > 0 &&
	    isol8_json_as_u64(v, "hostUidRange.perTenant", 1, ISOL8_HOST_UID_MAX, &per, err) < 0)
		return -1;
	if (base + size - 1 > ISOL8_HOST_UID_MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "hostUidRange: base %llu + size %llu ends past uid %u; lower the base or the size",
				     (unsigned long long)base, (unsigned long long)size, ISOL8_HOST_UID_MAX);
	if (per > size)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "hostUidRange.perTenant: %llu is more than the size of the range (%llu)",
				     (unsigned long long)per, (unsigned long long)size);
	p->uid_base = (uint32_t)base;
	p->uid_size = (uint32_t)size;
	p->uid_per_tenant = (uint32_t)per;
	return 0;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int by_name(const void *a, const void *b)
{
	const struct isol8_tenant *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

int policy_assign_host_uids(struct isol8_policy *p, struct isol8_err *err)
{
	_cleanup_free_ struct isol8_tenant **order = NULL;
	_cleanup_free_ uint32_t *taken = NULL;
	uint32_t blocks, end;
	size_t need = 0, n = 0;

	if (!p->uid_size)
		return 0;
	end = p->uid_base + (p->uid_size - 1);
	order = xcalloc(p->n_tenants + 1, sizeof *order);
	for (size_t i = 0; i < p->n_tenants; i++) {
		struct isol8_tenant *t = &p->tenants[i];
		if (!t->host_uid_set) {
			order[need++] = t;
			continue;
		}
		if (t->host_uid >= p->uid_base && t->host_uid <= end)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "tenants.%s.hostUid: %u is inside hostUidRange (%u-%u), whose uids go to "
					     "the other tenants; pick one outside it",
					     t->name, (unsigned)t->host_uid, (unsigned)p->uid_base, (unsigned)end);
	}
	blocks = p->uid_size / p->uid_per_tenant;
	if (need > blocks)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "hostUidRange: %u uids make %u block(s) of perTenant %u, fewer than the %zu "
				     "tenants without hostUid; make the range larger or perTenant smaller",
				     (unsigned)p->uid_size, (unsigned)blocks, (unsigned)p->uid_per_tenant, need);
	qsort(order, need, sizeof *order, by_name);
	taken = xcalloc(need + 1, sizeof *taken);
	for (size_t k = 0; k < need; k++) {
		struct isol8_tenant *t = order[k];
		uint32_t b = fnv1a(t->name) % blocks;

		for (size_t i = 0; i < n;)
			if (taken[i] == b) {
				b = (b + 1) % blocks;
				i = 0;
			} else {
				i++;
			}
		taken[n++] = b;
		t->host_uid = t->host_gid = p->uid_base + b * p->uid_per_tenant;
		t->host_uids = p->uid_per_tenant;
	}
	return 0;
}
