/* One supervisor for the broker's children (supervise.h). The table is guarded by one mutex:
 * fetch children are added from verb threads, the workers' watch kills from any thread, and
 * the main loop reaps. Callbacks (spawn, reaped) run without it held: they take the per-kind
 * locks (a worker's send_lock), which are always taken before this one, never after. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/log.h"

struct sv_child {
	bool used;
	enum supervise_kind kind;
	unsigned idx;
	pid_t pid; /* 0 while waiting to restart */
	int pidfd; /* -1 without one */
	unsigned crashes;
	uint64_t respawn_at_ms;
};

static pthread_mutex_t sv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sv_child sv[SUPERVISE_MAX];
static const struct supervise_ops *sv_ops[SV__KINDS];
static void *sv_ctx;

void supervise_init(const struct supervise_ops *const ops[SV__KINDS], void *ctx)
{
	for (int k = 0; k < SV__KINDS; k++)
		sv_ops[k] = ops[k];
	sv_ctx = ctx;
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0)
		return fd;
#endif
	(void)pid;
	return -1; /* older kernel: the pid alone */
}

/* Under sv_lock. */
static struct sv_child *find(enum supervise_kind kind, unsigned idx)
{
	for (unsigned i = 0; i < SUPERVISE_MAX; i++)
		if (sv[i].used && sv[i].kind == kind && sv[i].idx == idx)
			return &sv[i];
	return NULL;
}

/* Under sv_lock. The entry of (kind, idx), made when it has none. */
static struct sv_child *slot_for(enum supervise_kind kind, unsigned idx)
{
	struct sv_child *c = find(kind, idx);

	for (unsigned i = 0; !c && i < SUPERVISE_MAX; i++)
		if (!sv[i].used) {
			c = &sv[i];
			*c = (struct sv_child){.used = true, .kind = kind, .idx = idx, .pidfd = -1};
		}
	return c;
}

static void record(enum supervise_kind kind, unsigned idx, pid_t pid)
{
	int pidfd = pidfd_of(pid);
	struct sv_child *c;

	pthread_mutex_lock(&sv_lock);
	c = slot_for(kind, idx);
	if (c) {
		xclose(c->pidfd);
		c->pid = pid;
		c->pidfd = pidfd;
		pidfd = -1;
	}
	pthread_mutex_unlock(&sv_lock);
	if (!c) /* cannot happen: the table is sized for every child the broker has */
		log_error("supervise: no room for %s %u (pid %d)", sv_ops[kind]->name, idx, (int)pid);
	xclose(pidfd);
}

void supervise_add(enum supervise_kind kind, unsigned idx, pid_t pid)
{
	record(kind, idx, pid);
}

int supervise_spawn(enum supervise_kind kind, unsigned idx, struct isol8_err *err)
{
	pid_t pid = 0;

	if (sv_ops[kind]->spawn(sv_ctx, idx, &pid, err) < 0)
		return -1;
	record(kind, idx, pid);
	return 0;
}

/* Under sv_lock. 1 with *status when c's child has ended (and is reaped), 0 while it runs. */
static int try_wait(struct sv_child *c, int *status, bool block)
{
	if (c->pidfd >= 0) {
		siginfo_t si;

		memset(&si, 0, sizeof si);
		while (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | (block ? 0 : WNOHANG)) < 0)
			if (errno != EINTR)
				goto gone;
		if (si.si_pid == 0)
			return 0;
		/* Back to the waitpid encoding the callbacks read with WIFEXITED and friends. */
		*status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
						   : (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
		return 1;
	}
	for (;;) {
		pid_t r = waitpid(c->pid, status, block ? 0 : WNOHANG);
		if (r == c->pid)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			goto gone;
	}
gone:
	/* ECHILD: not ours to wait for any more. Say it died of SIGKILL rather than keep it. */
	log_warn("supervise: wait for %s pid %d: %s", sv_ops[c->kind]->name, (int)c->pid, strerror(errno));
	*status = SIGKILL;
	return 1;
}

/* Under sv_lock: the child is gone, the entry waits to restart (or is forgotten). */
static void ended(struct sv_child *c)
{
	c->pid = 0;
	c->pidfd = xclose(c->pidfd);
	if (!sv_ops[c->kind]->respawn)
		c->used = false;
}

static void backoff(struct sv_child *c, const struct supervise_ops *ops, bool crash, uint64_t now)
{
	if (!crash) {
		c->respawn_at_ms = now;
		return;
	}
	c->crashes++;
	/* Exponential back-off keeps a crash loop from spinning the broker. */
	c->respawn_at_ms = now + (c->crashes > 6 ? ops->backoff_max_ms : (ops->backoff_ms << c->crashes));
}

/* Collect every dead child and run its reaped callback (outside the lock). */
static void collect_dead(uint64_t now)
{
	for (unsigned i = 0; i < SUPERVISE_MAX; i++) {
		const struct supervise_ops *ops;
		enum supervise_kind kind;
		unsigned idx;
		int status = 0;
		pid_t pid;
		bool crash;

		pthread_mutex_lock(&sv_lock);
		if (!sv[i].used || sv[i].pid <= 0 || !try_wait(&sv[i], &status, false)) {
			pthread_mutex_unlock(&sv_lock);
			continue;
		}
		kind = sv[i].kind;
		idx = sv[i].idx;
		pid = sv[i].pid;
		ops = sv_ops[kind];
		ended(&sv[i]);
		pthread_mutex_unlock(&sv_lock);
		crash = ops->reaped ? ops->reaped(sv_ctx, idx, pid, status, now) : true;
		pthread_mutex_lock(&sv_lock);
		if (sv[i].used && sv[i].kind == kind && sv[i].idx == idx && sv[i].pid == 0)
			backoff(&sv[i], ops, crash, now);
		pthread_mutex_unlock(&sv_lock);
	}
}

/* Restart what waited long enough; forget the crash count of what has run long enough. */
static void restart_due(uint64_t now)
{
	for (unsigned i = 0; i < SUPERVISE_MAX; i++) {
		struct isol8_err err = ISOL8_ERR_INIT;
		const struct supervise_ops *ops;
		enum supervise_kind kind;
		unsigned idx;
		bool due;

		pthread_mutex_lock(&sv_lock);
		ops = sv[i].used ? sv_ops[sv[i].kind] : NULL;
		if (ops && sv[i].pid && sv[i].crashes && ops->reset_ms && now > sv[i].respawn_at_ms + ops->reset_ms)
			sv[i].crashes = 0;
		due = ops && ops->respawn && !sv[i].pid && now >= sv[i].respawn_at_ms;
		kind = sv[i].kind;
		idx = sv[i].idx;
		pthread_mutex_unlock(&sv_lock);
		if (due && supervise_spawn(kind, idx, &err) < 0)
			log_error("%s", err.msg);
	}
}

void supervise_reap(uint64_t now_ms, bool stopping)
{
	collect_dead(now_ms);
	if (!stopping)
		restart_due(now_ms);
}

pid_t supervise_pid(enum supervise_kind kind, unsigned idx)
{
	struct sv_child *c;
	pid_t pid;

	pthread_mutex_lock(&sv_lock);
	c = find(kind, idx);
	pid = c ? c->pid : 0;
	pthread_mutex_unlock(&sv_lock);
	return pid;
}

/* Under sv_lock. */
static int signal_child(struct sv_child *c, int sig)
{
	if (c->pid <= 0)
		return -1;
#ifdef SYS_pidfd_send_signal
	if (c->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0);
#endif
	return kill(c->pid, sig);
}

int supervise_kill(enum supervise_kind kind, unsigned idx, int sig)
{
	struct sv_child *c;
	int r;

	pthread_mutex_lock(&sv_lock);
	c = find(kind, idx);
	r = c ? signal_child(c, sig) : -1;
	pthread_mutex_unlock(&sv_lock);
	return r;
}

/* Under sv_lock: reap the live children of kind (all kinds when kind is SV__KINDS) that have
 * ended; with block, wait for each. Returns how many still run. */
static unsigned reap_quietly(enum supervise_kind kind, bool block)
{
	unsigned left = 0;

	for (unsigned i = 0; i < SUPERVISE_MAX; i++) {
		int status;

		if (!sv[i].used || sv[i].pid <= 0 || (kind != SV__KINDS && sv[i].kind != kind))
			continue;
		if (try_wait(&sv[i], &status, block)) {
			sv[i].pid = 0;
			sv[i].pidfd = xclose(sv[i].pidfd);
			sv[i].used = false; /* shutting down: nothing restarts */
		} else {
			left++;
		}
	}
	return left;
}

static void stop_matching(enum supervise_kind kind, int sig, unsigned wait_ms)
{
	uint64_t until = clock_mono_ms() + wait_ms;

	pthread_mutex_lock(&sv_lock);
	for (unsigned i = 0; sig && i < SUPERVISE_MAX; i++)
		if (sv[i].used && (kind == SV__KINDS || sv[i].kind == kind))
			signal_child(&sv[i], sig);
	while (reap_quietly(kind, false) && clock_mono_ms() < until) {
		pthread_mutex_unlock(&sv_lock);
		usleep(10000);
		pthread_mutex_lock(&sv_lock);
	}
	for (unsigned i = 0; i < SUPERVISE_MAX; i++)
		if (sv[i].used && (kind == SV__KINDS || sv[i].kind == kind) && sv[i].pid > 0) {
			log_debug("%s (pid %d) did not stop: killing it", sv_ops[sv[i].kind]->name, (int)sv[i].pid);
			signal_child(&sv[i], SIGKILL);
		}
	reap_quietly(kind, true);
	/* Entries waiting to restart go too. */
	for (unsigned i = 0; i < SUPERVISE_MAX; i++)
		if (sv[i].used && (kind == SV__KINDS || sv[i].kind == kind))
			sv[i].used = false;
	pthread_mutex_unlock(&sv_lock);
}

void supervise_stop(enum supervise_kind kind, int sig, unsigned wait_ms)
{
	stop_matching(kind, sig, wait_ms);
}

void supervise_stop_all(unsigned term_ms)
{
	stop_matching(SV__KINDS, SIGTERM, term_ms);
}

unsigned supervise_count(enum supervise_kind kind)
{
	unsigned n = 0;

	pthread_mutex_lock(&sv_lock);
	for (unsigned i = 0; i < SUPERVISE_MAX; i++)
		n += sv[i].used && sv[i].kind == kind;
	pthread_mutex_unlock(&sv_lock);
	return n;
}

void supervise_reset(void)
{
	pthread_mutex_lock(&sv_lock);
	for (unsigned i = 0; i < SUPERVISE_MAX; i++) {
		if (sv[i].used)
			xclose(sv[i].pidfd);
		sv[i] = (struct sv_child){.pidfd = -1};
	}
	pthread_mutex_unlock(&sv_lock);
}
