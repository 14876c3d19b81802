/* Per-run resource usage. The broker returns a sandbox's cumulative counters (broker/usage.c);
 * a run's figures are the difference from the counters its sandbox had when the run began,
 * taken when the sandbox became ready (after its start, or after the reset that put it back
 * in the pool), so a reused sandbox reports this run's CPU time and network bytes, not its
 * lifetime's. The memory peak is reset at the same points where the kernel allows it
 * (cgroup v1, and v2 from Linux 6.12); the result says "peakMemoryScope": "run" then, else
 * "sandbox" (the highest use since the sandbox started). */
#include "config.h"

#include "common/log.h"
#include "common/proto.h"
#include "worker/worker.h"

void usage_rebase(struct sandbox *sb)
{
	struct isol8_err e = ISOL8_ERR_INIT;
	struct sb_usage u;

	if (sb_usage(sb->id, true, &u, &e) < 0) {
		log_debug("usage of %.12s: %s", sb->id, e.msg);
		return;
	}
	sb->base = u;
}

static uint64_t since(uint64_t now, uint64_t base)
{
	return now > base ? now - base : 0;
}

json_object *usage_result(struct sandbox *sb, uint64_t duration_ms)
{
	struct isol8_err e = ISOL8_ERR_INIT;
	struct sb_usage u;
	json_object *o;
	uint64_t cpu;

	if (sb_usage(sb->id, true, &u, &e) < 0) {
		log_debug("usage of %.12s: %s", sb->id, e.msg);
		return NULL;
	}
	if (!(u.known & (USAGE_K_CPU | USAGE_K_MEM)))
		return NULL;
	cpu = since(u.cpu_us, sb->base.cpu_us);
	o = json_object_new_object();
	/* The original's fields first: cpuPercent of one CPU over the run's wall time. */
	json_object_object_add(
		o, "cpuPercent",
		json_object_new_double(
			duration_ms ? (double)(int64_t)((double)cpu / (double)duration_ms / 10.0 * 100.0 + 0.5) / 100.0
				    : 0.0));
	json_object_object_add(o, "memoryMB", json_object_new_int64((int64_t)((u.mem + (1u << 19)) >> 20)));
	json_object_object_add(o, "peakMemoryMB", json_object_new_int64((int64_t)((u.peak + (1u << 19)) >> 20)));
	if (u.known & USAGE_K_NET) {
		json_object_object_add(o, "networkBytesIn",
				       json_object_new_int64((int64_t)since(u.net_in, sb->base.net_in)));
		json_object_object_add(o, "networkBytesOut",
				       json_object_new_int64((int64_t)since(u.net_out, sb->base.net_out)));
	} else {
		/* The host's network: its counters are not the sandbox's. */
		json_object_object_add(o, "networkBytesIn", NULL);
		json_object_object_add(o, "networkBytesOut", NULL);
	}
	json_object_object_add(o, "cpuTimeMs", json_object_new_int64((int64_t)(cpu / 1000)));
	json_object_object_add(o, "cpuTimeUs", json_object_new_int64((int64_t)cpu));
	json_object_object_add(o, "memoryBytes", json_object_new_int64((int64_t)u.mem));
	json_object_object_add(o, "peakMemoryBytes", json_object_new_int64((int64_t)u.peak));
	json_object_object_add(o, "peakMemoryScope",
			       json_object_new_string(sb->base.known & USAGE_K_PEAK_RESET ? "run" : "sandbox"));
	sb->base = u;
	return o;
}
