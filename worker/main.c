/* isol8-worker: started by isol8d as root with its channel on fd 3; locks itself down before
 * reading anything, then serves connections the broker assigns. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "lockdown/seccomp_filter.h"
#include "lockdown/start.h"
#include "worker/pool.h"
#include "worker/sessions.h"
#include "worker/worker.h"

volatile bool g_worker_stopping;
unsigned g_worker_index;
static volatile int active_conns;

/* Sandboxed processes log through the broker, which re-checks level and length. */
static void log_to_broker(int level, const char *line, void *ctx)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	size_t n = strlen(line);
	isol8_put_u8(&p, (uint8_t)level);
	isol8_put_bytes(&p, line, n > ISOL8_MAX_LOG_LINE ? ISOL8_MAX_LOG_LINE : n);
	brokerc_send_noreply(V_LOG, &p);
	isol8_buf_free(&p);
	(void)ctx;
}

static void *conn_thread(void *arg)
{
	conn_main(arg);
	__atomic_sub_fetch(&active_conns, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* The broker caps routed connections per worker below this; the worker refuses beyond it
 * anyway, so that no bug or hostile broker state can make it run out of threads or fds. */
#define WORKER_MAX_CONNS 128

/* A connection the worker will not serve: tell the client, and the broker that the token is
 * done (or its load and the tenant's count never come down). */
static void refuse_conn(struct conn *c, const char *why)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	isol8_put_u16(&p, ISOL8_E_LIMIT);
	isol8_put_str(&p, why);
	isol8_ipc_send_buf(c->fd, WK_ERROR, 0, &p, NULL, 0, &err);
	isol8_buf_free(&p);
	c->fd = xclose(c->fd);
	isol8_put_u32(&p, c->token);
	brokerc_send_noreply(V_CONN_DONE, &p);
	isol8_buf_free(&p);
	free(c);
}

static void handle_assign(struct isol8_msg *m)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct conn *c = xcalloc(1, sizeof *c);
	_cleanup_free_ char *tenant = NULL, *session = NULL, *principal = NULL;
	pthread_attr_t attr;
	pthread_t th;

	c->fd = isol8_msg_take_fd(m, 0);
	if (isol8_get_u32(m, &c->token, &err) < 0 || isol8_get_u8(m, &c->op, &err) < 0 ||
	    isol8_get_str(m, &tenant, ISOL8_MAX_TENANT, &err) < 0 ||
	    isol8_get_str(m, &principal, sizeof c->principal - 1, &err) < 0 || isol8_get_u32(m, &c->uid, &err) < 0 ||
	    isol8_get_u32(m, &c->gid, &err) < 0 || isol8_get_u32(m, &c->pid, &err) < 0 ||
	    isol8_get_str(m, &session, ISOL8_MAX_SESSION, &err) < 0 || isol8_get_u32(m, &c->max_sessions, &err) < 0 ||
	    isol8_get_u64(m, &c->session_idle_ms, &err) < 0 || isol8_get_u8(m, &c->audit_flags, &err) < 0 ||
	    isol8_msg_end(m, &err) < 0 || c->fd < 0) {
		log_error("bad assign from broker: %s", err.msg);
		xclose(c->fd);
		free(c);
		return;
	}
	snprintf(c->tenant, sizeof c->tenant, "%s", tenant);
	snprintf(c->principal, sizeof c->principal, "%s", principal);
	snprintf(c->session, sizeof c->session, "%s", session);
	if (__atomic_load_n(&active_conns, __ATOMIC_SEQ_CST) >= WORKER_MAX_CONNS) {
		log_warn("refusing a connection: %d in progress", WORKER_MAX_CONNS);
		refuse_conn(c, "this isol8 worker is at its connection limit; retry in a moment");
		return;
	}
	__atomic_add_fetch(&active_conns, 1, __ATOMIC_SEQ_CST);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 512 * 1024);
	if (pthread_create(&th, &attr, conn_thread, c) != 0) {
		__atomic_sub_fetch(&active_conns, 1, __ATOMIC_SEQ_CST);
		log_error("cannot start connection thread");
		refuse_conn(c, "this isol8 worker cannot take more work right now; retry in a moment");
	}
	pthread_attr_destroy(&attr);
}

static void *expiry_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
		sessions_expire(clock_mono_ms());
		pool_expire(clock_mono_ms(), false);
		reaper_retry();
	}
	return NULL;
}

static int worker_opt(int c, const char *arg, void *ctx)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t v;

	(void)ctx;
	switch (c) {
	case 'i':
		g_worker_index = (unsigned)atoi(arg);
		break;
	case 'p':
		g_pool_target = (unsigned)atoi(arg) > 16 ? 16 : (unsigned)atoi(arg);
		break;
	case 's':
		g_pool_secure = strcmp(arg, "secure") == 0;
		break;
	case 'd':
		if (isol8_parse_u64(arg, 16, &v, &err) < 0)
			die("--pool-dirty: %s", err.msg);
		g_pool_dirty = (unsigned)v;
		break;
	case 'v':
		/* How long a verb call waits for isol8d's answer (brokerc.c; tests shorten it). */
		if (isol8_parse_u64(arg, 3600000, &v, &err) < 0 || v == 0)
			die("--verb-timeout-ms: %s", err.msg[0] ? err.msg : "must be at least 1");
		brokerc_set_timeout_ms((unsigned)v);
		break;
	default:
		return -1;
	}
	return 0;
}

static void handle_prewarm(struct isol8_msg *m, struct isol8_err *err)
{
	uint32_t token;
	uint8_t rt;
	char *tenant = NULL;

	if (isol8_get_u32(m, &token, err) == 0 && isol8_get_str(m, &tenant, ISOL8_MAX_TENANT, err) == 0 &&
	    isol8_get_u8(m, &rt, err) == 0 && isol8_msg_end(m, err) == 0 && isol8_runtime_name(rt))
		pool_prewarm_async(token, tenant, rt);
	free(tenant);
}

static void handle_pool_drain(struct isol8_msg *m, struct isol8_err *err)
{
	char *tenant = NULL;

	if (isol8_get_str(m, &tenant, ISOL8_MAX_TENANT, err) == 0 && isol8_msg_end(m, err) == 0)
		pool_drain(tenant);
	free(tenant);
}

/* 1 with a message the protocol table admits, 0 when the broker closed the channel, -1 when
 * there is nothing to handle. */
static int recv_broker(int chan, struct isol8_msg *m, struct isol8_err *err)
{
	int r = isol8_ipc_recv(chan, m, err);

	if (r <= 0) {
		/* The broker is trusted, but a bad frame still must not crash us. */
		if (r < 0 && err->errnum != EINTR && err->errnum != EAGAIN)
			log_error("bad frame from broker: %s", err->msg);
		return r;
	}
	if (isol8_proto_check(PEER_WORKER, PEER_BROKER, m, NULL, err) < 0) {
		log_warn("refused a message from the broker: %s", err->msg);
		/* A caller waiting for this reply gets an error now rather than at its timeout. */
		if (m->type == BR_REPLY_OK || m->type == BR_REPLY_OK_FD || m->type == BR_REPLY_ERR) {
			m->type = 0;
			brokerc_deliver(m);
		}
		isol8_msg_free(m);
		return -1;
	}
	return 1;
}

static void broker_message(struct isol8_msg *m, struct isol8_err *err)
{
	switch (m->type) {
	case BR_ASSIGN:
		if (!g_worker_stopping)
			handle_assign(m);
		break;
	case BR_REPLY_OK:
	case BR_REPLY_OK_FD:
	case BR_REPLY_ERR:
		brokerc_deliver(m);
		break;
	case BR_SHUTDOWN:
		g_worker_stopping = true;
		break;
	case BR_PREWARM:
		handle_prewarm(m, err);
		break;
	case BR_POOL_DRAIN:
		handle_pool_drain(m, err);
		break;
	default:
		log_warn("unexpected message %u from broker", m->type);
	}
}

/* After BR_SHUTDOWN the worker still serves replies for running executions; it ends when the
 * last one is done (checked each time the channel is quiet for 100 ms). */
static bool stopped(int chan)
{
	struct pollfd pf = {.fd = chan, .events = POLLIN};

	if (!g_worker_stopping)
		return false;
	while (__atomic_load_n(&active_conns, __ATOMIC_SEQ_CST) > 0 && poll(&pf, 1, 100) == 0)
		;
	return __atomic_load_n(&active_conns, __ATOMIC_SEQ_CST) == 0;
}

int main(int argc, char **argv)
{
	struct lockdown_start st = {.prog = "isol8-worker", .need_gid = false};
	struct isol8_err err = ISOL8_ERR_INIT;
	int chan;
	pthread_t th;
	static const struct option opts[] = {{"index", required_argument, 0, 'i'},
					     {"pool-size", required_argument, 0, 'p'},
					     {"pool-strategy", required_argument, 0, 's'},
					     {"pool-dirty", required_argument, 0, 'd'},
					     {"verb-timeout-ms", required_argument, 0, 'v'}};

	lockdown_start_args(&st, argc, argv, opts, sizeof opts / sizeof opts[0], worker_opt, NULL);
	lockdown_start_lock(&st, worker_seccomp_load);
	chan = st.chan;
	brokerc_init(chan);
	isol8_log_set_sink(log_to_broker, NULL);
	log_debug("worker %u ready (uid %u)", g_worker_index, (unsigned)st.id.uid);
	pthread_create(&th, NULL, expiry_thread, NULL);
	pool_report_start();
	pthread_detach(th);

	for (;;) {
		struct isol8_msg m = {0};
		int r = recv_broker(chan, &m, &err);
		if (r == 0)
			break;
		if (r < 0)
			continue;
		broker_message(&m, &err);
		isol8_msg_free(&m);
		if (stopped(chan))
			break;
	}
	/* Sessions and pooled sandboxes are not removed here: the broker removes everything it
	 * created when it shuts down, and nobody would read our verb replies any more. */
	brokerc_fail_all();
	return 0;
}
