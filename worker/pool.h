/* Warm pool of fresh, started sandboxes for ephemeral runs. A pooled sandbox is never reused:
 * a run takes one that no code has touched yet, and a replacement is created while the run
 * executes. So ephemeral runs cannot see a previous run's state by construction, and the
 * container create/start cost leaves the hot path. Entries are keyed by tenant and the full
 * sandbox shape (runtime, image, limits, network), and dropped when older than POOL_MAX_AGE_MS. */
#ifndef ISOL8_WORKER_POOL_H
#define ISOL8_WORKER_POOL_H

#include <pthread.h>
#include <stdbool.h>

#include "worker/worker.h"

#define POOL_MAX_AGE_MS 45000
#define POOL_TARGET 2

struct pool_key {
	char tenant[65];
	int runtime;
	char image[257];
	char preferred[257];
	struct sandbox_limits lim;
	int net_mode;
};

void pool_key_make(struct pool_key *k, const char *tenant, const struct run_req *r);
/* Take a fresh sandbox for k; false when none is ready. */
bool pool_take(const struct pool_key *k, struct sandbox *out);
/* Start topping up the pool for k in the background, using the connection's token (valid until
 * conn_main ends: it joins the filler first). */
void pool_fill_async(struct conn *c, const struct pool_key *k);
void pool_join(struct conn *c);
/* Remove idle entries past their age (and all of them when everything is stopping). */
void pool_expire(uint64_t now, bool all);

#endif
