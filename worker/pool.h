/* Warm pool of started sandboxes for ephemeral runs. Sandboxes without an agent (or whose agent
 * is not their PID 1) and sandboxes with a writable root are never reused: a run takes one that
 * no code has touched yet, and a replacement is created while the run executes. Sandboxes with
 * an agent are reused after the agent's reset (kill every process of the sandbox, empty
 * /sandbox, /tmp, /dev/shm and SysV IPC), which must also find nothing alive and the agent's
 * limits, nice value, affinity and scheduling as at start, at most POOL_MAX_USES times
 * and only within the same tenant and sandbox shape. Either way the container create/start cost
 * leaves the hot path. Entries are keyed by tenant and the full
 * sandbox shape (runtime, image, limits, network, isolation tier asked for), and dropped when older than POOL_MAX_AGE_MS. */
#ifndef ISOL8_WORKER_POOL_H
#define ISOL8_WORKER_POOL_H

#include <pthread.h>
#include <stdbool.h>

#include "worker/worker.h"

/* Below the broker's BROKER_POOL_IDLE_MS, so the broker never removes a pooled sandbox. */
#define POOL_MAX_AGE_MS (9u * 60u * 1000u)
extern unsigned g_pool_target; /* --pool-size (2) */
extern bool g_pool_secure;     /* --pool-strategy secure: never reuse */
extern unsigned g_pool_dirty;  /* --pool-dirty (2): resets of used sandboxes in flight at once */
#define POOL_MAX_USES 100

struct pool_key {
	char tenant[65];
	int runtime;
	char image[257];
	char preferred[257];
	struct sandbox_limits lim;
	int net_mode;
	int isolation; /* as asked (ISOL8_ISO_POLICY: the tenant's): a runsc run never takes a runc sandbox */
};

void pool_key_make(struct pool_key *k, const char *tenant, const struct run_req *r);
/* Give back a sandbox its agent has just reset (the fast strategy); false when the pool is full
 * (the caller removes it then). */
bool pool_put(const struct pool_key *k, const char *owner, const struct sandbox *sb);
/* Take a fresh sandbox for k; false when none is ready. */
/* A reset sandbox only goes back to the principal (uid or API key) it ran code for; untouched
 * ones serve anyone of the tenant. */
bool pool_take(const struct pool_key *k, const char *owner, struct sandbox *out);
/* Start topping up the pool for k in the background, using the connection's token (valid until
 * conn_main ends: it joins the filler first). */
void pool_fill_async(struct conn *c, const struct pool_key *k);
void pool_join(struct conn *c);
/* BR_PREWARM: one sandbox of the default shape for tenant (token released when done). */
void pool_prewarm_async(uint32_t token, const char *tenant, int runtime);
/* The dirty side of the pool: before resetting a used sandbox, take one of g_pool_dirty slots;
 * pool_take waits briefly for a reset of its key in flight when no clean sandbox is there;
 * false when all are taken (or there is no clean pool to return it to): the caller removes the
 * sandbox instead. Every true is followed by one pool_dirty_end once the reset is over. */
/* A reusable sandbox of k taken by a run: it counts toward k's target until pool_out_end (after
 * it went back or was removed), so taking it does not start a fill. False when not recorded. */
bool pool_out_begin(const struct pool_key *k);
void pool_out_end(const struct pool_key *k);
bool pool_dirty_begin(const struct pool_key *k);
void pool_dirty_end(const struct pool_key *k);
/* BR_POOL_DRAIN: the tenant's idle entries are removed at the next pool_expire. */
void pool_drain(const char *tenant);
/* The thread that tells the broker the pool's counts per shape (V_POOL_STATE) after changes. */
void pool_report_start(void);
/* Remove idle entries past their age (and all of them when everything is stopping). */
void pool_expire(uint64_t now, bool all);

#endif
