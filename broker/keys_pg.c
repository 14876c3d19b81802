/* The PostgreSQL key store (isol8d --keys-db postgresql://...): isol8d's side of
 * isol8-keystore (keystore/), the unprivileged child that holds libpq, so that the root broker
 * links no network database client.
 *
 * The child is the supervisor's (SV_KEYSTORE: started at start-up, restarted with a back-off);
 * its channel carries KS_CONFIG once, then:
 * - KS_VALIDATE from the main loop, which never waits for it: the hello is parked
 *   (peers.c) and finished when the KS_REPLY_* with its request_id arrives, or refused when
 *   KEYS_PG_HELLO_MS pass first ("key store unavailable").
 * - the admin requests (isol8 keys, POST /auth/keys) from the keys threads, each with a socket
 *   of its own for the answer, waited for at most KEYS_PG_ADMIN_MS.
 * Sends never wait (trysend): a child that stops reading fails requests instead of blocking
 * the loop, and one that leaves key checks unanswered for KEYS_PG_STUCK_MS is killed (the
 * supervisor starts a new one). Its answers are checked against the protocol table and bounded (keyrow_get). New
 * keys are made here (keystore_new_key): the child sees hashes only. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/keystore.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"

static pthread_mutex_t ks_lock = PTHREAD_MUTEX_INITIALIZER;
static int ks_chan = -1; /* written by the main loop (spawn, reap), under ks_lock */
static uint32_t ks_req;
/* The main loop's watch on key checks (keys_pg_watch): how many were sent and not answered yet,
 * and since when the child has answered none of them. */
static unsigned ks_outstanding;
static uint64_t ks_silent_since;

bool keys_pg_enabled(const struct broker *b)
{
	return b->o.keys_conninfo != NULL;
}

bool keys_is_pg_url(const char *s)
{
	return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

/* supervise_ops.spawn */
static int keystore_start(void *ctx, unsigned idx, pid_t *pid_out, struct isol8_err *err)
{
	struct broker *b = ctx;
	char uidbuf[16], gidbuf[16], lvl[8];
	char *argv[] = {"isol8-keystore", "--fd", "3", "--uid", uidbuf, "--gid", gidbuf, "--log-level", lvl, NULL};
	struct isol8_buf p = ISOL8_BUF_INIT;
	int chan = -1;
	pid_t pid;

	(void)idx;
	snprintf(uidbuf, sizeof uidbuf, "%u", (unsigned)b->worker_uid);
	snprintf(gidbuf, sizeof gidbuf, "%u", (unsigned)b->worker_gid);
	snprintf(lvl, sizeof lvl, "%d", isol8_log_get_level());
	if (broker_spawn_child(b->o.keystore_path, argv, &chan, &pid, err) < 0)
		return isol8_err_wrap(err, "key store client");
	/* The connection string on the channel, never on a command line; the fresh socket's
	 * buffer takes it whole. */
	isol8_put_str(&p, b->o.keys_conninfo);
	if (isol8_ipc_trysend(chan, KS_CONFIG, 0, p.data, p.len, NULL, 0, err) < 0) {
		explicit_bzero(p.data, p.len);
		isol8_buf_free(&p);
		xclose(chan);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return isol8_err_wrap(err, "key store client configuration");
	}
	explicit_bzero(p.data, p.len);
	isol8_buf_free(&p);
	pthread_mutex_lock(&ks_lock);
	ks_chan = chan;
	pthread_mutex_unlock(&ks_lock);
	log_info("key store client started (pid %d): API keys in PostgreSQL", (int)pid);
	*pid_out = pid;
	return 0;
}

/* supervise_ops.reaped: parked hellos are refused at their deadline (peers.c). */
static bool keystore_reaped(void *ctx, unsigned idx, pid_t pid, int status, uint64_t now)
{
	struct broker *b = ctx;

	(void)idx;
	(void)now;
	if (!b->stopping || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warn("key store client (pid %d) %s %d: API keys of the key store fail until it is back", (int)pid,
			 WIFSIGNALED(status) ? "killed by signal" : "exited with status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	pthread_mutex_lock(&ks_lock);
	ks_chan = xclose(ks_chan);
	pthread_mutex_unlock(&ks_lock);
	ks_outstanding = 0;
	ks_silent_since = 0;
	return true;
}

const struct supervise_ops broker_keystore_ops = {
	.name = "key store client",
	.backoff_ms = 100,
	.backoff_max_ms = 10000,
	.reset_ms = 60000,
	.respawn = true,
	.spawn = keystore_start,
	.reaped = keystore_reaped,
};

void keys_pg_stop(void)
{
	/* EOF on its channel makes it exit; SIGKILL after 1 s. */
	pthread_mutex_lock(&ks_lock);
	ks_chan = xclose(ks_chan);
	pthread_mutex_unlock(&ks_lock);
	supervise_stop(SV_KEYSTORE, 0, 1000);
}

int keys_pg_poll_fd(void)
{
	return ks_chan; /* the main loop's own variable to read */
}

/* Under ks_lock. */
static int send_locked(uint8_t type, uint32_t req, const struct isol8_buf *p, int fd, struct isol8_err *err)
{
	if (ks_chan < 0)
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "the key store client is not running");
	if (isol8_ipc_trysend(ks_chan, type, req, p->data, p->len, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, err) < 0) {
		if (err->errnum == EAGAIN || err->errnum == EWOULDBLOCK)
			return isol8_err_set(err, ISOL8_E_UNAVAIL, EAGAIN,
					     "the key store client has too many requests waiting already");
		return isol8_err_wrap(err, "send to the key store client");
	}
	return 0;
}

int keys_pg_validate_send(const char *hash_hex, uint32_t *req_out, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	int r;

	isol8_put_str(&p, hash_hex);
	pthread_mutex_lock(&ks_lock);
	if (++ks_req == 0)
		ks_req = 1;
	*req_out = ks_req;
	r = send_locked(KS_VALIDATE, *req_out, &p, -1, err);
	pthread_mutex_unlock(&ks_lock);
	isol8_buf_free(&p);
	if (r == 0 && ks_outstanding++ == 0)
		ks_silent_since = clock_mono_ms();
	return r;
}

void keys_pg_watch(uint64_t now)
{
	/* Its own deadlines (connect 3 s, statements 5 s) make a working child answer well within
	 * this; one that does not has hung (or was stopped) and is restarted rather than left to
	 * fail every key check at its deadline. */
	/* now is the loop's time from before this wake-up's events: a check sent since is newer. */
	if (!ks_outstanding || now < ks_silent_since || now - ks_silent_since < KEYS_PG_STUCK_MS)
		return;
	log_error("key store client (pid %d) has answered none of %u key checks for %d ms: restarting it",
		  (int)supervise_pid(SV_KEYSTORE, 0), ks_outstanding, KEYS_PG_STUCK_MS);
	supervise_kill(SV_KEYSTORE, 0, SIGKILL);
	ks_outstanding = 0;
	ks_silent_since = 0;
}

/* A KS_REPLY_ERR's code and text into err. */
static int reply_error(struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_free_ char *msg = NULL;
	uint16_t code;

	if (isol8_get_u16(m, &code, err) < 0 || isol8_get_str(m, &msg, ISOL8_MAX_ERROR_MSG, err) < 0)
		return isol8_err_wrap(err, "key store client's error");
	return isol8_err_set(err, code > ISOL8_E_OK && code < ISOL8_E__MAX ? code : ISOL8_E_INTERNAL, 0, "%s", msg);
}

void keys_pg_readable(struct broker *b)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = {0};
	int r = isol8_ipc_recv(ks_chan, &m, &err);

	if (r <= 0) {
		if (r < 0 && (err.errnum == EAGAIN || err.errnum == EINTR))
			return;
		/* EOF or garbage: stop polling it; the reaper restarts the child. */
		log_warn("key store client channel: %s", r == 0 ? "closed" : err.msg);
		pthread_mutex_lock(&ks_lock);
		ks_chan = xclose(ks_chan);
		pthread_mutex_unlock(&ks_lock);
		ks_outstanding = 0;
		ks_silent_since = 0;
		supervise_kill(SV_KEYSTORE, 0, SIGKILL);
		return;
	}
	if (isol8_proto_check(PEER_BROKER, PEER_KEYSTORE, &m, NULL, &err) < 0) {
		log_warn("key store client: %s", err.msg);
		isol8_msg_free(&m);
		return;
	}
	if (ks_outstanding && --ks_outstanding)
		ks_silent_since = clock_mono_ms();
	if (m.type == KS_REPLY_OK) {
		struct keystore_key k;
		if (keyrow_get(&m, &k, &err) < 0 || isol8_msg_end(&m, &err) < 0) {
			log_warn("key store client: %s", err.msg);
			broker_pending_key_result(b, m.request_id, NULL, &err);
		} else {
			broker_pending_key_result(b, m.request_id, &k, NULL);
		}
	} else {
		reply_error(&m, &err);
		broker_pending_key_result(b, m.request_id, NULL, &err);
	}
	isol8_msg_free(&m);
}

/* ---- the admin requests, from the keys threads ---- */

/* Sends type with p and a socket for the answer; the other end in *sock. */
static int admin_send(uint8_t type, const struct isol8_buf *p, int *sock, struct isol8_err *err)
{
	int sv[2] = {-1, -1};
	int r;

	if (isol8_ipc_socketpair(sv, err) < 0)
		return -1;
	pthread_mutex_lock(&ks_lock);
	r = send_locked(type, 0, p, sv[1], err);
	pthread_mutex_unlock(&ks_lock);
	xclose(sv[1]);
	if (r < 0) {
		xclose(sv[0]);
		return -1;
	}
	*sock = sv[0];
	return 0;
}

/* One answer on sock by until: 0 with KS_REPLY_OK in *m, else -1. */
static int admin_reply(int sock, uint64_t until, struct isol8_msg *m, struct isol8_err *err)
{
	for (;;) {
		struct pollfd pf = {.fd = sock, .events = POLLIN};
		uint64_t now = clock_mono_ms();
		int r;

		if (now >= until)
			return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "key store unavailable: no answer within %d ms",
					     KEYS_PG_ADMIN_MS);
		r = poll(&pf, 1, (int)(until - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		r = isol8_ipc_recv(sock, m, err);
		if (r == 0)
			return isol8_err_set(err, ISOL8_E_UNAVAIL, 0,
					     "key store unavailable: its client stopped before answering");
		if (r < 0)
			return -1;
		if (isol8_proto_check(PEER_BROKER, PEER_KEYSTORE, m, NULL, err) < 0)
			return isol8_err_wrap(err, "key store client");
		if (m->type == KS_REPLY_OK)
			return 0;
		reply_error(m, err);
		isol8_msg_free(m);
		return -1;
	}
}

/* A request whose answer is one KS_REPLY_OK, returned in *m. */
static int admin_call(uint8_t type, const struct isol8_buf *p, struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_close_ int sock = -1;

	memset(m, 0, sizeof *m);
	if (admin_send(type, p, &sock, err) < 0)
		return -1;
	return admin_reply(sock, clock_mono_ms() + KEYS_PG_ADMIN_MS, m, err);
}

/* The database's own words stay in isol8d's log; a client sees that the store is down. */
static int admin_fail(struct isol8_err *err, const char *what)
{
	if (err->code == ISOL8_E_UNAVAIL || err->code == ISOL8_E_IO || err->code == ISOL8_E_PROTO ||
	    err->code == ISOL8_E_INTERNAL) {
		log_warn("key store: %s: %s", what, err->msg);
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "key store unavailable; retry in a moment");
	}
	return -1;
}

int keys_pg_create(const char *name, const char *tenant, uint64_t ttl_ms, char *key_out, struct keystore_key *info,
		   struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m;
	char hash[65];
	int r;

	if (keystore_new_key(name, tenant, ttl_ms, key_out, info, hash, err) < 0)
		return -1;
	keyrow_put(&p, info);
	isol8_put_str(&p, hash);
	r = admin_call(KS_CREATE, &p, &m, err);
	isol8_buf_free(&p);
	isol8_msg_free(&m);
	if (r < 0) {
		explicit_bzero(key_out, KEYSTORE_KEY_LEN + 1);
		return admin_fail(err, "create");
	}
	return 0;
}

int keys_pg_list(const char *tenant, struct isol8_buf *json, struct isol8_err *err)
{
	_cleanup_close_ int sock = -1;
	struct isol8_buf p = ISOL8_BUF_INIT;
	uint64_t until = clock_mono_ms() + KEYS_PG_ADMIN_MS;
	bool first = true;
	uint8_t more = 1;

	isol8_put_str(&p, tenant);
	if (admin_send(KS_LIST, &p, &sock, err) < 0) {
		isol8_buf_free(&p);
		return admin_fail(err, "list");
	}
	isol8_buf_free(&p);
	isol8_buf_puts(json, "{\"keys\":[");
	while (more) {
		struct isol8_msg m = {0};
		uint32_t n;
		if (admin_reply(sock, until, &m, err) < 0)
			return admin_fail(err, "list");
		if (isol8_get_u8(&m, &more, err) < 0 || more > 1 || isol8_get_u32(&m, &n, err) < 0) {
			isol8_msg_free(&m);
			if (!err->code)
				isol8_err_set(err, ISOL8_E_PROTO, 0, "list: bad chunk");
			return admin_fail(err, "list");
		}
		for (uint32_t i = 0; i < n; i++) {
			struct keystore_key k;
			if (keyrow_get(&m, &k, err) < 0) {
				isol8_msg_free(&m);
				return admin_fail(err, "list");
			}
			if (!first)
				isol8_buf_putc(json, ',');
			first = false;
			keystore_key_json(&k, json);
		}
		if (isol8_msg_end(&m, err) < 0) {
			isol8_msg_free(&m);
			return admin_fail(err, "list");
		}
		isol8_msg_free(&m);
	}
	isol8_buf_puts(json, "]}");
	return 0;
}

int keys_pg_revoke(const char *id, const char *tenant, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m;
	int r;

	isol8_put_str(&p, id);
	isol8_put_str(&p, tenant);
	r = admin_call(KS_REVOKE, &p, &m, err);
	isol8_buf_free(&p);
	isol8_msg_free(&m);
	return r < 0 ? admin_fail(err, "revoke") : 0;
}

int keys_pg_purge(const char *tenant, unsigned *removed, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m;
	uint32_t n = 0;
	int r;

	isol8_put_str(&p, tenant);
	r = admin_call(KS_PURGE, &p, &m, err);
	isol8_buf_free(&p);
	if (r == 0 && (isol8_get_u32(&m, &n, err) < 0 || isol8_msg_end(&m, err) < 0))
		r = -1;
	isol8_msg_free(&m);
	if (r < 0)
		return admin_fail(err, "purge");
	*removed = n;
	return 0;
}
