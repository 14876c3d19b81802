/* OOM kills of a sandbox, read from its memory cgroup. Docker's State.OOMKilled only covers
 * the container's main process; programs run as execs, so the kernel's own counter is the
 * reliable source (cgroup v1 memory.oom_control, v2 memory.events: "oom_kill N").
 * Forks the pids limit refused, for a gVisor sandbox whose Sentry died of it: pids.events. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"

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

/* "max N" of a pids.events file: forks the limit refused. -1 when the file is not there. */
static long pids_events_max(const char *id)
{
	/* cgroupfs driver (docker/<id>) and systemd driver (system.slice/docker-<id>.scope), v1 and v2 */
	static const char *const dir[][2] = {{"/sys/fs/cgroup/pids/docker/", ""},
					     {"/sys/fs/cgroup/pids/system.slice/docker-", ".scope"},
					     {"/sys/fs/cgroup/docker/", ""},
					     {"/sys/fs/cgroup/system.slice/docker-", ".scope"}};
	char path[200];

	for (size_t i = 0; i < sizeof dir / sizeof dir[0]; i++) {
		long v;
		snprintf(path, sizeof path, "%s%s%s/pids.events", dir[i][0], id, dir[i][1]);
		if ((v = read_key(path, "max")) >= 0)
			return v;
	}
	return -1;
}

/* The kernel logs the first fork a cgroup's pids limit refuses ("cgroup: fork rejected by pids
 * controller in /docker/<id>"); the record outlives the cgroup, which the runtime removes with
 * the container. Reading /dev/kmsg needs CAP_SYSLOG (or, deprecated, CAP_SYS_ADMIN). */
static bool kmsg_pids_rejected(const char *id)
{
	static const char tag[] = "cgroup: fork rejected by pids controller in ";
	char rec[2048];
	bool found = false, cont = false;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return false;
	while (!found) {
		ssize_t n = read(fd, rec, sizeof rec - 1);
		char *p;
		size_t il = strlen(id);
		if (n < 0 && errno == EPIPE)
			continue; /* overwritten while we read: go on with the next record */
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (!(p = strchr(rec, ';')))
			continue;
		p++;
		p[strcspn(p, "\n")] = '\0';
		/* The path may come in a continuation record of its own. */
		if (strncmp(p, tag, sizeof tag - 1) == 0)
			p += sizeof tag - 1;
		else if (!cont)
			continue;
		cont = *p == '\0';
		/* /docker/<id> (cgroupfs driver) or /system.slice/docker-<id>.scope (systemd) */
		if ((p = strstr(p, id)) && (p[il] == '\0' || strcmp(p + il, ".scope") == 0))
			found = true;
	}
	close(fd);
	return found;
}

long broker_cgroup_pids_refused(const char *id, bool running)
{
	long v = pids_events_max(id);

	if (v > 0 || running)
		return v;
	if (!kmsg_pids_rejected(id))
		return v;
	log_info("sandbox %.12s stopped after its pids limit refused a fork (kernel log)", id);
	return 1;
}
