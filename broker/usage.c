/* V_USAGE: a sandbox's resource counters, read by the broker from the kernel's own accounting
 * (its cgroup) and, for filtered networking, from the proxy's byte counts. No `docker stats`:
 * that waits for a second sample. The worker makes per-run figures from the cumulative ones
 * (worker/usage.c); the broker only reads, and resets the peak when asked.
 *
 * cgroup v1 (cpuacct.usage in ns, memory.usage_in_bytes, memory.max_usage_in_bytes, which a
 * write of "0" resets) and v2 (cpu.stat usage_usec, memory.current, memory.peak). A v2 peak is
 * reset per open file (Linux 6.12 and later): the broker keeps that file open for the
 * sandbox's life and reads it through the same descriptor; on older kernels the write fails
 * and the peak stays the sandbox's lifetime peak (the reply says so). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/usage.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"

/* The cgroup file system; another root only for the unit tests (a fake tree of both layouts). */
static const char *cg_root = "/sys/fs/cgroup";

struct cg {
	char id[65];
	bool v2;
	char cpu[200], mem[200]; /* directories ("" when not found) */
	int peak_fd;             /* v2: memory.peak held open after a reset, else -1 */
	bool peak_reset_failed;
	struct cg *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cg *cgs;

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Docker's layouts: cgroupfs driver (docker/<id>) and systemd driver (docker-<id>.scope). */
static bool find_dirs(const char *id, struct cg *c)
{
	static const char *const v1cpu[] = {"cpuacct", "cpu,cpuacct", "cpuacct,cpu"};
	char p[200];

	for (size_t i = 0; i < sizeof v1cpu / sizeof v1cpu[0]; i++) {
		snprintf(p, sizeof p, "%s/%s/docker/%s", cg_root, v1cpu[i], id);
		if (!is_dir(p))
			snprintf(p, sizeof p, "%s/%s/system.slice/docker-%s.scope", cg_root, v1cpu[i], id);
		if (is_dir(p)) {
			snprintf(c->cpu, sizeof c->cpu, "%s", p);
			snprintf(p, sizeof p, "%s/memory/docker/%s", cg_root, id);
			if (!is_dir(p))
				snprintf(p, sizeof p, "%s/memory/system.slice/docker-%s.scope", cg_root, id);
			if (is_dir(p))
				snprintf(c->mem, sizeof c->mem, "%s", p);
			return true;
		}
	}
	snprintf(p, sizeof p, "%s/docker/%s", cg_root, id);
	if (!is_dir(p))
		snprintf(p, sizeof p, "%s/system.slice/docker-%s.scope", cg_root, id);
	if (is_dir(p)) {
		c->v2 = true;
		snprintf(c->cpu, sizeof c->cpu, "%s", p);
		snprintf(c->mem, sizeof c->mem, "%s", p);
		return true;
	}
	return false;
}

static int read_file(const char *dir, const char *name, char *buf, size_t n)
{
	char p[256];
	_cleanup_close_ int fd = -1;
	ssize_t r;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

static bool read_u64(const char *dir, const char *name, uint64_t *v)
{
	char buf[64], *end;
	if (!*dir || read_file(dir, name, buf, sizeof buf) < 0)
		return false;
	*v = strtoull(buf, &end, 10);
	return end != buf;
}

static bool read_key(const char *dir, const char *name, const char *key, uint64_t *v)
{
	char buf[1024], *p;
	size_t kl = strlen(key);
	if (!*dir || read_file(dir, name, buf, sizeof buf) < 0)
		return false;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			*v = strtoull(p + kl + 1, NULL, 10);
			return true;
		}
	return false;
}

static struct cg *lookup_locked(const char *id)
{
	for (struct cg *c = cgs; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

int usage_read(const char *id, bool reset_peak, struct usage_sample *u)
{
	struct cg *c;
	uint64_t v;

	memset(u, 0, sizeof *u);
	pthread_mutex_lock(&lock);
	c = lookup_locked(id);
	if (!c) {
		c = xcalloc(1, sizeof *c);
		snprintf(c->id, sizeof c->id, "%s", id);
		c->peak_fd = -1;
		if (!find_dirs(id, c)) {
			pthread_mutex_unlock(&lock);
			free(c);
			return -1;
		}
		c->next = cgs;
		cgs = c;
	}
	if (c->v2) {
		if (read_key(c->cpu, "cpu.stat", "usage_usec", &v))
			u->cpu_us = v, u->known |= USAGE_K_CPU;
		if (read_u64(c->mem, "memory.current", &v))
			u->mem = v, u->known |= USAGE_K_MEM;
		if (c->peak_fd >= 0) {
			char buf[32];
			ssize_t n = pread(c->peak_fd, buf, sizeof buf - 1, 0);
			if (n > 0) {
				buf[n] = '\0';
				u->peak = strtoull(buf, NULL, 10);
				u->known |= USAGE_K_PEAK | USAGE_K_PEAK_RESET;
			}
		} else if (read_u64(c->mem, "memory.peak", &v)) {
			u->peak = v, u->known |= USAGE_K_PEAK;
		}
		if (reset_peak && !c->peak_reset_failed && *c->mem) {
			char p[256];
			snprintf(p, sizeof p, "%s/memory.peak", c->mem);
			if (c->peak_fd < 0)
				c->peak_fd = open(p, O_RDWR | O_CLOEXEC);
			if (c->peak_fd < 0 || write(c->peak_fd, "reset\n", 6) != 6) {
				/* Before Linux 6.12: the peak is the sandbox's lifetime peak. */
				c->peak_fd = xclose(c->peak_fd);
				c->peak_reset_failed = true;
			}
		}
	} else {
		if (read_u64(c->cpu, "cpuacct.usage", &v))
			u->cpu_us = v / 1000, u->known |= USAGE_K_CPU;
		if (read_u64(c->mem, "memory.usage_in_bytes", &v))
			u->mem = v, u->known |= USAGE_K_MEM;
		if (read_u64(c->mem, "memory.max_usage_in_bytes", &v))
			u->peak = v, u->known |= USAGE_K_PEAK | USAGE_K_PEAK_RESET;
		if (reset_peak && *c->mem) {
			char p[256];
			_cleanup_close_ int fd = -1;
			snprintf(p, sizeof p, "%s/memory.max_usage_in_bytes", c->mem);
			fd = open(p, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0", 1) != 1)
				u->known &= ~USAGE_K_PEAK_RESET;
		}
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

void usage_set_cgroup_root(const char *dir)
{
	cg_root = dir;
}

void usage_forget(const char *id)
{
	struct cg **pp, *c = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &cgs; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			c = *pp;
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (c) {
		xclose(c->peak_fd);
		free(c);
	}
}
