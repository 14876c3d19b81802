/* The isol8-proxy process: spawned like a worker (fresh exec, channel on fd 3, the workers'
 * account; it locks itself down with its own seccomp allowlist), respawned with a backoff when
 * it dies. The broker talks to it with strict request/reply pairs under one mutex; the proxy
 * never sends anything unasked, so the broker's main loop does not poll its channel. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"

#define PROXY_REPLY_MS 5000

/* supervise_ops.spawn */
static int proxy_start(void *ctx, unsigned idx, pid_t *pid_out, struct isol8_err *err)
{
	struct broker *b = ctx;
	char uidbuf[16], gidbuf[16], lvl[8];
	char *argv[] = {"isol8-proxy",
			"--fd",
			"3",
			"--uid",
			uidbuf,
			"--gid",
			gidbuf,
			"--log-level",
			lvl,
			b->o.proxy_hosts ? "--hosts" : NULL,
			(char *)b->o.proxy_hosts,
			NULL};
	int chan = -1;
	pid_t pid;

	snprintf(uidbuf, sizeof uidbuf, "%u", (unsigned)b->worker_uid);
	snprintf(gidbuf, sizeof gidbuf, "%u", (unsigned)b->worker_gid);
	snprintf(lvl, sizeof lvl, "%d", isol8_log_get_level());
	if ((proxyns_enabled(b) ? broker_spawn_child_netns(b, b->o.proxy_path, argv, proxyns_resolv_conf(b), &chan,
							   &pid, proxyns_attach, err)
				: broker_spawn_child(b->o.proxy_path, argv, &chan, &pid, err)) < 0)
		return isol8_err_wrap(err, "network proxy");
	(void)idx;
	pthread_mutex_lock(&b->proxy_lock);
	b->proxy_chan = chan;
	pthread_mutex_unlock(&b->proxy_lock);
	log_info("network proxy started (pid %d)", (int)pid);
	*pid_out = pid;
	return 0;
}

/* supervise_ops.reaped: its listeners are gone with it. */
static bool proxy_reaped(void *ctx, unsigned idx, pid_t pid, int status, uint64_t now)
{
	struct broker *b = ctx;

	(void)idx;
	(void)now;
	if (!b->stopping || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warn("network proxy (pid %d) %s %d: filtered sandboxes lose their network", (int)pid,
			 WIFSIGNALED(status) ? "killed by signal" : "exited with status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	pthread_mutex_lock(&b->proxy_lock);
	b->proxy_chan = xclose(b->proxy_chan);
	pthread_mutex_unlock(&b->proxy_lock);
	netns_proxy_lost();
	return true;
}

const struct supervise_ops broker_proxy_ops = {
	.name = "network proxy",
	.backoff_ms = 100,
	.backoff_max_ms = 30000,
	.respawn = true,
	.spawn = proxy_start,
	.reaped = proxy_reaped,
};

void broker_stop_proxy(struct broker *b)
{
	/* EOF on its channel makes the proxy exit; SIGKILL after 1 s. */
	pthread_mutex_lock(&b->proxy_lock);
	b->proxy_chan = xclose(b->proxy_chan);
	pthread_mutex_unlock(&b->proxy_lock);
	supervise_stop(SV_PROXY, 0, 1000);
}

/* Under proxy_lock. Never blocks past PROXY_REPLY_MS: a proxy that leaves its channel full
 * that long has stopped reading it, and is killed (the reaper respawns it) rather than left to
 * hold every verb thread that needs it. */
static int send_bounded(struct broker *b, uint8_t type, uint32_t req, const struct isol8_buf *p, int fd,
			struct isol8_err *err)
{
	uint64_t until = clock_mono_ms() + PROXY_REPLY_MS;

	for (;;) {
		struct pollfd pf = {.fd = b->proxy_chan, .events = POLLOUT};
		uint64_t now;

		if (isol8_ipc_trysend(b->proxy_chan, type, req, p ? p->data : NULL, p ? p->len : 0,
				      fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, err) == 0)
			return 0;
		if (err->errnum != EAGAIN && err->errnum != EWOULDBLOCK)
			return isol8_err_wrap(err, "send to network proxy");
		now = clock_mono_ms();
		if (now >= until)
			break;
		if (poll(&pf, 1, (int)(until - now)) < 0 && errno != EINTR)
			break;
	}
	log_error("network proxy (pid %d) has not read its channel for %d ms: restarting it",
		  (int)supervise_pid(SV_PROXY, 0), PROXY_REPLY_MS);
	supervise_kill(SV_PROXY, 0, SIGKILL);
	return isol8_err_set(err, ISOL8_E_UNAVAIL, EAGAIN, "the network proxy does not read its requests");
}

int broker_proxy_call(struct broker *b, uint8_t type, const struct isol8_buf *p, int fd, struct isol8_msg *reply,
		      struct isol8_err *err)
{
	uint32_t req;
	int rc = -1;

	memset(reply, 0, sizeof *reply);
	pthread_mutex_lock(&b->proxy_lock);
	if (b->proxy_chan < 0) {
		isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "the network proxy is not running");
		goto out;
	}
	req = ++b->proxy_req;
	if (send_bounded(b, type, req, p, fd, err) < 0)
		goto out;
	for (;;) {
		struct pollfd pf = {.fd = b->proxy_chan, .events = POLLIN};
		uint16_t code;
		char *msg = NULL;
		int r = poll(&pf, 1, PROXY_REPLY_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "the network proxy did not answer");
			goto out;
		}
		r = isol8_ipc_recv(b->proxy_chan, reply, err);
		if (r <= 0) {
			if (r == 0)
				isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "the network proxy closed its channel");
			goto out;
		}
		/* A reply to an earlier request that timed out: skip it. */
		if (reply->request_id != req) {
			isol8_msg_free(reply);
			continue;
		}
		if (isol8_proto_check(PEER_BROKER, PEER_PROXY, reply, NULL, err) < 0) {
			isol8_msg_free(reply);
			isol8_err_wrap(err, "reply from the network proxy");
			goto out;
		}
		if (reply->type == PX_REPLY_OK) {
			rc = 0;
			goto out;
		}
		if (reply->type == PX_REPLY_ERR && isol8_get_u16(reply, &code, err) == 0 &&
		    isol8_get_str(reply, &msg, ISOL8_MAX_ERROR_MSG, err) == 0) {
			isol8_err_set(err, code > ISOL8_E_OK && code < ISOL8_E__MAX ? code : ISOL8_E_INTERNAL, 0, "%s",
				      msg);
			free(msg);
		} else {
			isol8_err_set(err, ISOL8_E_PROTO, 0, "bad reply %u from the network proxy", reply->type);
		}
		isol8_msg_free(reply);
		goto out;
	}
out:
	pthread_mutex_unlock(&b->proxy_lock);
	return rc;
}
