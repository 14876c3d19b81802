/* V_POOL_STATE: each worker reports its pool (worker/pool.c) as a full snapshot after changes.
 * Nothing in it is trusted for a decision: it is shown (isol8 status) and counted (metrics)
 * only, and a tenant name the policy does not have is dropped, so that label values still
 * come from the policy alone. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/pools.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"

struct worker_pools {
	uint32_t gen;
	size_t n;
	struct pool_shape *s;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct worker_pools wp[BROKER_MAX_WORKERS];

static int policy_tenant(const struct broker *b, const char *name)
{
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		if (strcmp(b->policy.tenants[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int get_shape(struct isol8_msg *m, struct pool_shape *s, struct isol8_err *err)
{
	_cleanup_free_ char *tenant = NULL, *image = NULL;
	uint8_t rt, net, wr, iso;

	if (isol8_get_str(m, &tenant, ISOL8_MAX_TENANT, err) < 0 || isol8_get_u8(m, &rt, err) < 0 ||
	    isol8_get_str(m, &image, 256, err) < 0 || isol8_get_u64(m, &s->memory, err) < 0 ||
	    isol8_get_u64(m, &s->cpu_millis, err) < 0 || isol8_get_u32(m, &s->pids, err) < 0 ||
	    isol8_get_u8(m, &net, err) < 0 || isol8_get_u8(m, &wr, err) < 0 || isol8_get_u8(m, &iso, err) < 0)
		return -1;
	for (int j = 0; j < POOL__STATES; j++)
		if (isol8_get_u32(m, &s->n[j], err) < 0)
			return -1;
	if (rt >= ISOL8_RT__MAX || net >= ISOL8_NET__MAX || wr > 1 ||
	    (iso >= ISOL8_ISO__MAX && iso != ISOL8_ISO_POLICY))
		return isol8_err_set(err, ISOL8_E_PROTO, 0,
				     "pool state: runtime %u, network %u, writable %u or isolation %u out of range", rt,
				     net, wr, iso);
	for (const char *c = image; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
			return isol8_err_set(err, ISOL8_E_PROTO, 0,
					     "pool state: an image name with a control character");
	snprintf(s->tenant, sizeof s->tenant, "%s", tenant);
	snprintf(s->image, sizeof s->image, "%s", image);
	s->runtime = rt;
	s->net_mode = net;
	s->writable = wr;
	s->isolation = iso;
	return 0;
}

int pools_update(const struct broker *b, unsigned idx, uint32_t gen, struct isol8_msg *m, struct isol8_err *err)
{
	struct pool_shape *s = NULL;
	uint32_t n;
	size_t kept = 0;

	if (idx >= BROKER_MAX_WORKERS || isol8_get_u32(m, &n, err) < 0)
		return -1;
	if (n > ISOL8_POOL_STATE_MAX)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "pool state: %u shapes, at most %u", n,
				     ISOL8_POOL_STATE_MAX);
	s = xcalloc(n ? n : 1, sizeof *s);
	for (uint32_t i = 0; i < n; i++) {
		if (get_shape(m, &s[kept], err) < 0) {
			free(s);
			return -1;
		}
		int t = policy_tenant(b, s[kept].tenant);
		/* The tenant's tier for a key that asked for none: what its sandboxes were made with. */
		if (t >= 0 && s[kept].isolation == ISOL8_ISO_POLICY)
			s[kept].isolation = b->policy.tenants[t].isolation;
		if (t >= 0)
			kept++;
	}
	if (isol8_msg_end(m, err) < 0) {
		free(s);
		return -1;
	}
	pthread_mutex_lock(&lock);
	free(wp[idx].s);
	wp[idx].s = s;
	wp[idx].n = kept;
	wp[idx].gen = gen;
	pthread_mutex_unlock(&lock);
	return 0;
}

static bool same_shape(const struct pool_shape *a, const struct pool_shape *c)
{
	return strcmp(a->tenant, c->tenant) == 0 && a->runtime == c->runtime && strcmp(a->image, c->image) == 0 &&
		a->memory == c->memory && a->cpu_millis == c->cpu_millis && a->pids == c->pids &&
		a->net_mode == c->net_mode && a->writable == c->writable && a->isolation == c->isolation;
}

size_t pools_snapshot(const struct broker *b, int tenant, struct pool_shape **out)
{
	struct pool_shape *r = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&lock);
	for (unsigned w = 0; w < b->o.workers && w < BROKER_MAX_WORKERS; w++) {
		if (supervise_pid(SV_WORKER, w) <= 0 || wp[w].gen != b->w[w].gen)
			continue;
		for (size_t i = 0; i < wp[w].n; i++) {
			const struct pool_shape *s = &wp[w].s[i];
			int t = policy_tenant(b, s->tenant);
			size_t k;
			if (t < 0 || (tenant >= 0 && t != tenant))
				continue;
			for (k = 0; k < n && !same_shape(&r[k], s); k++)
				;
			if (k == n) {
				if (n == cap) {
					cap = cap ? cap * 2 : 8;
					r = xrealloc(r, cap * sizeof *r);
				}
				r[n] = *s;
				memset(r[n].n, 0, sizeof r[n].n);
				n++;
			}
			for (int j = 0; j < POOL__STATES; j++)
				r[k].n[j] += s->n[j];
		}
	}
	pthread_mutex_unlock(&lock);
	*out = r;
	return n;
}
