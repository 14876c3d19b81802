/* The workers' warm pools as they last reported them (V_POOL_STATE), for isol8 status and the
 * metrics. The broker keeps one snapshot per worker and generation; a restarted worker's old
 * one is never shown. */
#ifndef ISOL8_BROKER_POOLS_H
#define ISOL8_BROKER_POOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/ipc.h"

struct broker;

enum { POOL_WARM, POOL_RESETTING, POOL_IN_USE, POOL__STATES };

struct pool_shape {
	char tenant[65];
	int runtime;
	char image[257];
	uint64_t memory, cpu_millis;
	uint32_t pids;
	int net_mode;
	bool writable;
	int isolation; /* enum isol8_isolation: the tier its sandboxes run under (the tenant's when none was asked) */
	uint32_t n[POOL__STATES];
};

/* V_POOL_STATE from worker idx (main loop): replaces its snapshot. */
int pools_update(const struct broker *b, unsigned idx, uint32_t gen, struct isol8_msg *m, struct isol8_err *err);
/* The shapes of every running worker, merged (same shape in two workers: summed), of tenant
 * only when tenant >= 0, and only of tenants in the policy in force (called with it stable).
 * Returns the count; *out is the caller's to free. */
size_t pools_snapshot(const struct broker *b, int tenant, struct pool_shape **out);

#endif
