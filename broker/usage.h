/* A sandbox's resource counters from its cgroup (broker/usage.c). */
#ifndef ISOL8_BROKER_USAGE_H
#define ISOL8_BROKER_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/proto.h"

struct usage_sample {
	uint8_t known;   /* USAGE_K_* */
	uint64_t cpu_us; /* user + system, since the sandbox started */
	uint64_t mem;    /* bytes in use now */
	uint64_t peak;   /* highest bytes in use since start or the last reset */
};

/* Read the counters of container id (its cgroup found on first use and remembered);
 * reset_peak: afterwards, start a new peak. -1 when the cgroup is not found. */
int usage_read(const char *id, bool reset_peak, struct usage_sample *u);
/* The container is gone. */
void usage_forget(const char *id);
/* Unit tests only: read cgroups under dir instead of /sys/fs/cgroup (kept, not copied). */
void usage_set_cgroup_root(const char *dir);

#endif
