/* OOM kills of a sandbox, read from its memory cgroup. Docker's State.OOMKilled only covers
 * the container's main process; programs run as execs, so the kernel's own counter is the
 * reliable source (cgroup v1 memory.oom_control, v2 memory.events: "oom_kill N"). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"

static long read_key(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long broker_cgroup_oom_kills(int pid)
{
	char path[128], line[512], file[700];
	FILE *f;
	long v = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *p = strchr(line, ':'), *q;
		if (!p || !(q = strchr(p + 1, ':')))
			continue;
		q[strcspn(q, "\n")] = '\0';
		/* Paths come from the kernel; refuse anything odd anyway. */
		if (strstr(q + 1, ".."))
			continue;
		if (strncmp(p + 1, "memory:", 7) == 0 || strstr(p + 1, ",memory:")) {
			snprintf(file, sizeof file, "/sys/fs/cgroup/memory%s/memory.oom_control", q + 1);
			v = read_key(file, "oom_kill");
			break;
		}
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(file, sizeof file, "/sys/fs/cgroup%s/memory.events", q + 1);
			v = read_key(file, "oom_kill");
		}
	}
	fclose(f);
	return v;
}
