/* Worker processes: spawned as a fresh exec of the isol8-worker binary (not a bare fork of the
 * broker), so a worker inherits none of the broker's memory, Docker handles or policy state.
 * The child only keeps its end of the channel; the worker locks itself down (uid, caps,
 * no_new_privs, seccomp) before reading anything. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"

/* supervise_ops.spawn: fresh exec, channel on fd 3; the supervisor records *pid_out. */
static int worker_start(void *ctx, unsigned idx, pid_t *pid_out, struct isol8_err *err)
{
	struct broker *b = ctx;
	struct worker_slot *w = &b->w[idx];
	char uidbuf[16], gidbuf[16], idxbuf[16], lvl[8], psize[16], pdirty[16];
	char *argv[] = {"isol8-worker",
			"--fd",
			"3",
			"--uid",
			uidbuf,
			"--gid",
			gidbuf,
			"--index",
			idxbuf,
			"--log-level",
			lvl,
			"--pool-size",
			psize,
			"--pool-dirty",
			pdirty,
			"--pool-strategy",
			b->o.pool_secure ? "secure" : "fast",
			NULL};
	int chan = -1;
	pid_t pid;

	snprintf(uidbuf, sizeof uidbuf, "%u", (unsigned)b->worker_uid);
	snprintf(gidbuf, sizeof gidbuf, "%u", (unsigned)b->worker_gid);
	snprintf(idxbuf, sizeof idxbuf, "%u", idx);
	snprintf(lvl, sizeof lvl, "%d", isol8_log_get_level());
	snprintf(psize, sizeof psize, "%u", b->o.pool_size);
	snprintf(pdirty, sizeof pdirty, "%u", b->o.pool_dirty);
	if (broker_spawn_child(b->o.worker_path, argv, &chan, &pid, err) < 0)
		return isol8_err_wrap(err, "worker %u", idx);
	pthread_mutex_lock(&w->send_lock);
	w->chan = chan;
	w->sent = false;
	w->unread_last = 0;
	w->unread_since_ms = 0;
	w->wedged = false;
	pthread_mutex_unlock(&w->send_lock);
	w->gen++;
	w->load = 0;
	log_info("worker %u started (pid %d, uid %u)", idx, (int)pid, (unsigned)b->worker_uid);
	*pid_out = pid;
	broker_prewarm_worker(b, idx);
	return 0;
}

/* supervise_ops.reaped: remove what the dead worker owned; the supervisor respawns it. */
static bool worker_reaped(void *ctx, unsigned i, pid_t pid, int status, uint64_t now)
{
	struct broker *b = ctx;
	struct worker_slot *w = &b->w[i];
	char(*ids)[65] = NULL;
	size_t n;

	(void)now;
	if (WIFSIGNALED(status))
		log_warn("worker %u (pid %d) killed by signal %d", i, (int)pid, WTERMSIG(status));
	else if (!b->stopping || WEXITSTATUS(status) != 0)
		log_warn("worker %u (pid %d) exited with status %d", i, (int)pid, WEXITSTATUS(status));
	pthread_mutex_lock(&w->send_lock);
	w->chan = xclose(w->chan);
	outq_clear(&w->out); /* closes the connections it held for the worker */
	pthread_mutex_unlock(&w->send_lock);
	n = table_container_ids(i, w->gen, false, 0, &ids);
	if (n)
		log_info("removing %zu container(s) of dead worker %u", n, i);
	broker_remove_containers_async(b, ids, n);
	table_forget_worker(i, w->gen);
	return true;
}

const struct supervise_ops broker_worker_ops = {
	.name = "worker",
	.backoff_ms = 100,
	.backoff_max_ms = 30000,
	.reset_ms = 60000,
	.respawn = true,
	.spawn = worker_start,
	.reaped = worker_reaped,
};

void broker_prewarm_worker(struct broker *b, unsigned idx)
{
	const struct isol8_tenant *tenants[2];
	unsigned nt = 0;

	if (!b->o.prewarm_mask)
		return;
	tenants[nt++] = isol8_policy_match_local(&b->policy, 0, 0);
	if (b->policy.default_tenant >= 0)
		tenants[nt++] = &b->policy.tenants[b->policy.default_tenant];
	for (unsigned t = 0; t < nt; t++) {
		/* A tenant's ephemeral runs go to its home worker first: its pool is the one to fill. */
		if (!tenants[t] || (t == 1 && tenants[1] == tenants[0]) || broker_home_worker(b, tenants[t]) != idx)
			continue;
		for (int rt = 0; rt < ISOL8_RT__MAX; rt++) {
			struct isol8_buf p = ISOL8_BUF_INIT;
			int ti = (int)(tenants[t] - b->policy.tenants);
			uint32_t token;
			if (!(b->o.prewarm_mask & (1u << rt)) ||
			    isol8_policy_check_runtime(tenants[t], rt, &(struct isol8_err)ISOL8_ERR_INIT) < 0)
				continue;
			token = table_token_new(idx, b->w[idx].gen, ti, (uid_t)-1, false,
						clock_mono_ms() + BROKER_PREWARM_TOKEN_MS);
			isol8_put_u32(&p, token);
			isol8_put_str(&p, tenants[t]->name);
			isol8_put_u8(&p, (uint8_t)rt);
			if (broker_send_worker(b, idx, BR_PREWARM, 0, &p, NULL, 0) < 0)
				table_token_drop(token, idx, b->w[idx].gen);
			isol8_buf_free(&p);
		}
	}
}

/* Under send_lock. A worker that does not read its channel is killed: the reaper removes what
 * it owned and respawns it. Nothing else gets it reading again, and waiting for it would
 * stall every tenant whose messages go through the main loop. */
static void wedged_locked(struct worker_slot *w, unsigned idx, const char *why)
{
	pid_t pid = supervise_pid(SV_WORKER, idx);

	if (w->wedged || pid <= 0)
		return;
	log_error("worker %u (pid %d) %s: restarting it", idx, (int)pid, why);
	supervise_kill(SV_WORKER, idx, SIGKILL);
	w->wedged = true;
}

static void wake_loop(struct broker *b)
{
	uint64_t one = 1;

	if (b->wake_fd >= 0 && write(b->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_debug("wake the main loop: %s", strerror(errno));
}

int broker_send_worker(struct broker *b, unsigned idx, uint8_t type, uint32_t req_id, const struct isol8_buf *p,
		       const int *fds, unsigned nfds)
{
	struct worker_slot *w = &b->w[idx];
	struct isol8_err err = ISOL8_ERR_INIT;
	bool waited;
	int r;

	pthread_mutex_lock(&w->send_lock);
	if (w->chan < 0 || w->wedged) {
		pthread_mutex_unlock(&w->send_lock);
		return -1;
	}
	waited = outq_pending(&w->out);
	r = outq_send(&w->out, w->chan, type, req_id, p ? p->data : NULL, p ? p->len : 0, fds, nfds, clock_mono_ms(),
		      &err);
	w->sent = true;
	if (r < 0 && err.code == ISOL8_E_LIMIT) {
		char why[sizeof err.msg + 32];
		snprintf(why, sizeof why, "has not read its channel (%s)", err.msg);
		wedged_locked(w, idx, why);
	} else if (!waited && outq_pending(&w->out)) {
		wake_loop(b); /* from a verb thread the loop may be asleep in poll() */
	}
	pthread_mutex_unlock(&w->send_lock);
	if (r < 0)
		log_warn("send to worker %u: %s", idx, err.msg);
	return r;
}

bool broker_worker_wants_out(struct broker *b, unsigned idx)
{
	struct worker_slot *w = &b->w[idx];
	bool r;

	pthread_mutex_lock(&w->send_lock);
	r = w->chan >= 0 && outq_pending(&w->out);
	pthread_mutex_unlock(&w->send_lock);
	return r;
}

void broker_worker_flush(struct broker *b, unsigned idx)
{
	struct worker_slot *w = &b->w[idx];
	struct isol8_err err = ISOL8_ERR_INIT;

	pthread_mutex_lock(&w->send_lock);
	if (w->chan >= 0 && outq_flush(&w->out, w->chan, &err) < 0)
		log_warn("send to worker %u: %s", idx, err.msg);
	pthread_mutex_unlock(&w->send_lock);
}

/* Two ways a worker shows it stopped reading: a message waits in our queue too long (the
 * kernel's was full all that time), or, with nothing sent to it since the last look, the
 * kernel still holds the same bytes for it (SIOCOUTQ: sent, not yet read) this long. A healthy
 * worker's main thread reads in microseconds. The second look is skipped while messages flow
 * (a read and a send of the same size leave the count unchanged); a worker that then never
 * reads is caught by the first once the kernel's queue is full. */
void broker_watch_workers(struct broker *b, uint64_t now)
{
	for (unsigned i = 0; i < b->o.workers; i++) {
		struct worker_slot *w = &b->w[i];
		uint64_t waited;
		int unread = 0;

		pthread_mutex_lock(&w->send_lock);
		if (w->chan < 0 || w->wedged) {
			pthread_mutex_unlock(&w->send_lock);
			continue;
		}
		waited = outq_wait_ms(&w->out, now);
		if (waited >= BROKER_WORKER_SEND_TIMEOUT_MS) {
			char why[96];
			snprintf(why, sizeof why, "has not read its channel for %llu ms", (unsigned long long)waited);
			wedged_locked(w, i, why);
		} else if (ioctl(w->chan, SIOCOUTQ, &unread) < 0 || unread == 0 || w->sent || unread < w->unread_last) {
			w->unread_since_ms = 0;
		} else if (!w->unread_since_ms) {
			w->unread_since_ms = now;
		} else if (now - w->unread_since_ms >= BROKER_WORKER_SEND_TIMEOUT_MS) {
			char why[96];
			snprintf(why, sizeof why, "has not read its channel for %llu ms",
				 (unsigned long long)(now - w->unread_since_ms));
			wedged_locked(w, i, why);
		}
		w->sent = false;
		w->unread_last = unread;
		pthread_mutex_unlock(&w->send_lock);
	}
}

/* A tenant that may leave the usual box (host network, writable root, no seccomp) is
 * privileged. A worker compromised by another tenant could use whatever tokens it holds, so
 * privileged tenants get a worker of their own: their tokens, sessions and pools never sit in
 * a process that parses other tenants' input. */
static bool tenant_privileged(const struct isol8_tenant *t)
{
	return (t->network_mask & (1u << ISOL8_NET_HOST)) || t->writable_root || t->seccomp_unconfined_ok;
}

void broker_split_workers(struct broker *b)
{
	bool priv = false, other = false;

	for (size_t i = 0; i < b->policy.n_tenants; i++) {
		if (tenant_privileged(&b->policy.tenants[i]))
			priv = true;
		else
			other = true;
	}
	b->priv_split = priv && other && b->o.workers >= 2;
	if (priv && other && b->o.workers < 2)
		log_warn("privileged and unprivileged tenants share the only worker; use --workers 2 or more to keep "
			 "them apart");
	else if (b->priv_split)
		log_info("worker 0 serves privileged tenants only, workers 1-%u the others", b->o.workers - 1);
}

/* The workers a tenant may use: [*first, *first + *n). */
static void worker_range(const struct broker *b, const struct isol8_tenant *t, unsigned *first, unsigned *n)
{
	if (!b->priv_split) {
		*first = 0;
		*n = b->o.workers;
	} else if (tenant_privileged(t)) {
		*first = 0;
		*n = 1;
	} else {
		*first = 1;
		*n = b->o.workers - 1;
	}
}

/* Ephemeral runs go to the tenant's home worker, where its warm pool is, unless that worker is
 * clearly busier than the least loaded one: then they spill over (within the tenant's
 * workers). */
unsigned broker_pick_worker(struct broker *b, const struct isol8_tenant *t)
{
	unsigned first, n, best, best_load = ~0u, home = broker_home_worker(b, t);

	worker_range(b, t, &first, &n);
	best = home;
	for (unsigned i = first; i < first + n; i++)
		if (b->w[i].chan >= 0 && b->w[i].load < best_load) {
			best = i;
			best_load = b->w[i].load;
		}
	if (b->w[home].chan >= 0 && b->w[home].load <= best_load + 2)
		return home;
	return best;
}

/* Sessions of one tenant live in one worker, so later connections naming a session find it. */
unsigned broker_home_worker(struct broker *b, const struct isol8_tenant *t)
{
	unsigned first, n;
	uint32_t h = 2166136261u;

	for (const char *p = t->name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	worker_range(b, t, &first, &n);
	return first + h % n;
}
