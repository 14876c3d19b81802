/* Frontend connections: identify the peer with SO_PEERCRED at accept (never from the message),
 * map it to a tenant, read one FE_HELLO, and hand the connection to a worker. The broker keeps
 * no copy of the connection after routing. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/metrics.h"
#include "broker/broker.h"
#include "broker/keystore.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"

/* The front door is shared by every tenant, the HTTP API included: one local user holding
 * connections open without a hello must not fill it. A hello follows connect() at once, so
 * the deadline is short; each uid has a cap; and the last slots go only to a uid that holds
 * none, so another user always gets in. */
#define HELLO_TIMEOUT_MS 2000
#define PENDING_PER_UID 8 /* entries of one uid (waiting for its hello or queued) */
#define PENDING_PER_FRONTEND \
	64                 /* the same for root, the --http child and --trust-key-uid,
                                   each of which carries many clients */
#define PENDING_RESERVE 32 /* slots only a uid with no entry may take */
#define MAX_LINGER 16      /* refused connections draining at once; more are just closed */

struct pending {
	int fd;
	struct ucred cred;
	int tenant;
	uint64_t deadline;
	char principal[ISOL8_MAX_PRINCIPAL + 1]; /* "uid:N", or "key:NAME@UID#ID" after FE_HELLO_KEY */
	bool queued;                             /* hello read, waiting for a free execution slot */
	uint64_t seq;                            /* arrival order in the queue */
	uint8_t op;
	char session[ISOL8_MAX_SESSION + 1];
	bool parked;     /* hello read, its key being checked by isol8-keystore (keys_pg.c) */
	uint32_t ks_req; /* the request_id of that check */
};

static struct pending pend[BROKER_MAX_PENDING];
/* queued_count() as of the main loop's last look, for the metrics thread (pend is the main
 * loop's alone). */
static unsigned n_queued_seen;
static unsigned n_pend;
static uint64_t next_seq;

#define QUEUE_WAIT_MS 60000
#define KEYS_UNAVAIL_MSG "key store unavailable; retry in a moment"

/* Closing a UNIX socket whose receive queue still holds the peer's messages makes the peer's
 * next read fail with ECONNRESET, hiding our error reply. So a refused connection lingers in
 * a short-lived thread that half-closes, drains (closing any passed fds) until the peer hangs
 * up or 500 ms pass, and only then closes. */
static unsigned n_linger; /* atomic: linger threads alive */

static void *linger_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	uint64_t until = clock_mono_ms() + 500;

	shutdown(fd, SHUT_WR);
	while (clock_mono_ms() < until) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		struct isol8_msg m = {0};
		struct isol8_err err = ISOL8_ERR_INIT;
		int r;
		if (poll(&pf, 1, 100) <= 0)
			continue;
		r = isol8_ipc_recv(fd, &m, &err);
		isol8_msg_free(&m);
		if (r == 0 || (r < 0 && err.errnum != EAGAIN && err.code != ISOL8_E_PROTO))
			break;
	}
	close(fd);
	__atomic_sub_fetch(&n_linger, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void refuse(int fd, int code, const char *msg)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	pthread_attr_t attr;
	pthread_t th;
	int dfd;

	isol8_put_u16(&p, (uint16_t)code);
	isol8_put_str(&p, msg);
	isol8_ipc_send_buf(fd, WK_ERROR, 0, &p, NULL, 0, &err);
	isol8_buf_free(&p);
	/* A flood of refused connections must not become a flood of threads. */
	if (__atomic_add_fetch(&n_linger, 1, __ATOMIC_RELAXED) > MAX_LINGER) {
		__atomic_sub_fetch(&n_linger, 1, __ATOMIC_RELAXED);
		return;
	}
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0) {
		__atomic_sub_fetch(&n_linger, 1, __ATOMIC_RELAXED);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, linger_main, (void *)(intptr_t)dfd) != 0) {
		close(dfd);
		__atomic_sub_fetch(&n_linger, 1, __ATOMIC_RELAXED);
	}
	pthread_attr_destroy(&attr);
}

/* NULL when a new connection of this peer may wait in the table, else why not. */
static const char *admit(const struct broker *b, const struct ucred *cred, bool http_child, char *msg, size_t n)
{
	unsigned mine = 0, cap;

	for (unsigned i = 0; i < n_pend; i++)
		mine += pend[i].cred.uid == cred->uid;
	cap = http_child || cred->uid == 0 || (b->o.trust_key_uid != (uid_t)-1 && cred->uid == b->o.trust_key_uid)
		? PENDING_PER_FRONTEND
		: PENDING_PER_UID;
	if (mine >= cap) {
		snprintf(msg, n,
			 "uid %u already has %u connections waiting at isol8d (at most %u): finish or close them first",
			 (unsigned)cred->uid, mine, cap);
		return msg;
	}
	if (n_pend == BROKER_MAX_PENDING || (mine > 0 && n_pend >= BROKER_MAX_PENDING - PENDING_RESERVE)) {
		snprintf(msg, n, "isol8d is busy: too many connections waiting");
		return msg;
	}
	return NULL;
}

static void audit_refuse(const struct broker *b, int tenant, const struct ucred *cred, const char *principal,
			 const char *action, int code, const char *msg)
{
	struct isol8_err e = ISOL8_ERR_INIT;
	char who[32];

	if (!principal) {
		snprintf(who, sizeof who, "uid:%u", (unsigned)cred->uid);
		principal = who;
	}
	isol8_err_set(&e, code, 0, "%s", msg);
	audit_refusal(b, tenant, principal, cred->uid, cred->gid, action, &e);
}

static int tenant_index(const struct broker *b, const struct isol8_tenant *t)
{
	return t ? (int)(t - b->policy.tenants) : -1;
}

void broker_accept(struct broker *b, int listen_fd)
{
	for (;;) {
		_cleanup_close_ int fd = -1;
		struct ucred cred;
		socklen_t len = sizeof cred;
		const struct isol8_tenant *t;
		char msg[256];

		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warn("SO_PEERCRED: %s", strerror(errno));
			continue;
		}
		/* The --http child's private socket serves that child only. */
		if (listen_fd == b->http_listen_fd && !broker_is_http_child(cred.pid)) {
			log_warn("peer uid=%u pid=%d on the http frontend socket refused", (unsigned)cred.uid,
				 (int)cred.pid);
			continue;
		}
		t = isol8_policy_match_local(&b->policy, cred.uid, cred.gid);
		/* The --http child acts for API keys only: its own account need not be a tenant
		 * (with "defaultTenant": null it is none), the key in its hello names one. */
		if (!t && listen_fd != b->http_listen_fd) {
			snprintf(msg, sizeof msg,
				 "uid %u is not allowed to use isol8d: no tenant in policy %s matches it",
				 (unsigned)cred.uid, b->policy.source ? b->policy.source : "(built-in)");
			log_warn("peer uid=%u pid=%d refused: no matching tenant", (unsigned)cred.uid, (int)cred.pid);
			refuse(fd, ISOL8_E_AUTH, msg);
			audit_refuse(b, -1, &cred, NULL, "connect", ISOL8_E_AUTH, msg);
			continue;
		}
		if (b->stopping) {
			refuse(fd, ISOL8_E_UNAVAIL, "isol8d is shutting down");
			continue;
		}
		if (admit(b, &cred, listen_fd == b->http_listen_fd, msg, sizeof msg)) {
			/* debug: a flood of these must not become a flood of log lines */
			log_debug("peer uid=%u pid=%d refused: %s", (unsigned)cred.uid, (int)cred.pid, msg);
			refuse(fd, ISOL8_E_LIMIT, msg);
			continue;
		}
		pend[n_pend] = (struct pending){steal_fd(&fd), cred, tenant_index(b, t),
						clock_mono_ms() + HELLO_TIMEOUT_MS, ""};
		snprintf(pend[n_pend].principal, sizeof pend[n_pend].principal, "uid:%u", (unsigned)cred.uid);
		n_pend++;
	}
}

int broker_pending_fds(int *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < n_pend && n < max; i++)
		if (!pend[i].queued && !pend[i].parked)
			out[n++] = pend[i].fd;
	return (int)n;
}

static void drop(unsigned i)
{
	xclose(pend[i].fd);
	pend[i] = pend[--n_pend];
}

static unsigned queued_count(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < n_pend; i++)
		n += pend[i].queued;
	return n;
}

unsigned broker_queue_depth(void)
{
	return __atomic_load_n(&n_queued_seen, __ATOMIC_RELAXED);
}

unsigned broker_queued_runs(void)
{
	return queued_count();
}

static void route(struct broker *b, struct pending *p, uint8_t op, const char *session);

/* Route queued runs in arrival order while slots are free. A tenant at its own cap does not
 * hold back other tenants queued behind it. */
void broker_run_queue(struct broker *b)
{
	__atomic_store_n(&n_queued_seen, queued_count(), __ATOMIC_RELAXED);
	for (;;) {
		unsigned best = n_pend;
		if (table_token_count_runs(-1) >= b->o.max_concurrent)
			return;
		for (unsigned i = 0; i < n_pend; i++) {
			const struct isol8_tenant *t;
			if (!pend[i].queued || (best < n_pend && pend[best].seq < pend[i].seq))
				continue;
			t = &b->policy.tenants[pend[i].tenant];
			if (t->max_concurrent && table_token_count_runs(pend[i].tenant) >= t->max_concurrent)
				continue;
			best = i;
		}
		if (best == n_pend)
			return;
		route(b, &pend[best], pend[best].op, pend[best].session);
		drop(best);
	}
}

static void route(struct broker *b, struct pending *p, uint8_t op, const char *session)
{
	const struct isol8_tenant *t = &b->policy.tenants[p->tenant];
	struct isol8_buf pl = ISOL8_BUF_INIT;
	unsigned idx;
	uint32_t token;

	/* Session operations go to the tenant's home worker, where its sessions live. */
	idx = (op == HELLO_RUN && !*session) ? broker_pick_worker(b, t) : broker_home_worker(b, t);
	if (b->w[idx].chan < 0) {
		refuse(p->fd, ISOL8_E_UNAVAIL, "no isol8 worker is available right now; retry in a moment");
		return;
	}
	if (table_token_count_peer(p->tenant, p->cred.uid) >= BROKER_CONNS_PER_PEER) {
		char msg[200];
		snprintf(msg, sizeof msg,
			 "uid %u already has %u requests in progress at isol8d (at most %u); retry when one ends",
			 (unsigned)p->cred.uid, BROKER_CONNS_PER_PEER, BROKER_CONNS_PER_PEER);
		refuse(p->fd, ISOL8_E_LIMIT, msg);
		return;
	}
	if (b->w[idx].load >= BROKER_CONNS_PER_WORKER) {
		log_warn("worker %u is at its limit of %u connections", idx, BROKER_CONNS_PER_WORKER);
		refuse(p->fd, ISOL8_E_LIMIT,
		       "isol8d is busy: its worker is at its connection limit; retry in a moment");
		return;
	}
	token = table_token_new(idx, b->w[idx].gen, p->tenant, p->cred.uid, op == HELLO_RUN,
				clock_mono_ms() + (t->ceil.timeout_ms ? t->ceil.timeout_ms : 86400000) +
					BROKER_TOKEN_GRACE_MS);
	table_token_set_who(token, p->principal, p->cred.gid);
	isol8_put_u32(&pl, token);
	isol8_put_u8(&pl, op);
	isol8_put_str(&pl, t->name);
	isol8_put_str(&pl, p->principal);
	isol8_put_u32(&pl, (uint32_t)p->cred.uid);
	isol8_put_u32(&pl, (uint32_t)p->cred.gid);
	isol8_put_u32(&pl, (uint32_t)p->cred.pid);
	isol8_put_str(&pl, session);
	isol8_put_u32(&pl, t->max_sessions);
	isol8_put_u64(&pl, t->session_idle_ms);
	isol8_put_u8(&pl, audit_assign_flags(b));
	if (broker_send_worker(b, idx, BR_ASSIGN, 0, &pl, &p->fd, 1) < 0) {
		table_token_drop(token, idx, b->w[idx].gen);
		refuse(p->fd, ISOL8_E_UNAVAIL, "isol8 worker unavailable");
	} else {
		b->w[idx].load++;
		log_debug("peer uid=%u pid=%d tenant=%s op=%u -> worker %u", (unsigned)p->cred.uid, (int)p->cred.pid,
			  t->name, op, idx);
	}
	isol8_buf_free(&pl);
}

bool broker_trusts_key_claims(const struct broker *b, const struct ucred *cred)
{
	if (cred->uid == 0 || (b->o.trust_key_uid != (uid_t)-1 && cred->uid == b->o.trust_key_uid))
		return true;
	/* The broker's own --http child, by pid: its account is shared with the workers. */
	return broker_is_http_child(cred->pid) && cred->uid == b->worker_uid;
}

/* The hello of pend[i], once its peer is known: op and session as it sent them; key: it acts for
 * an API key (no admin answers), key_hash: one of the key store. */
static void hello_continue(struct broker *b, unsigned i, uint8_t op, const char *session, bool key, bool key_hash)
{
	char drain_msg[200], opmsg[64];

	if (pend[i].tenant < 0) {
		/* Only the --http child gets here without a tenant; it must name a key. */
		refuse(pend[i].fd, ISOL8_E_AUTH,
		       "this connection has no tenant: the HTTP frontend must act for an API key");
		drop(i);
		return;
	}
	if (op == 0 || op >= HELLO__MAX) {
		log_warn("peer uid=%u pid=%d reason=unknown hello op %u", (unsigned)pend[i].cred.uid,
			 (int)pend[i].cred.pid, op);
		snprintf(opmsg, sizeof opmsg, "unknown hello op %u", op);
		refuse(pend[i].fd, ISOL8_E_PROTO, opmsg);
		drop(i);
		return;
	}
	if (*session && !isol8_valid_session_name(session)) {
		refuse(pend[i].fd, ISOL8_E_USAGE, "invalid session name: use 1-64 of [A-Za-z0-9_.-]");
		drop(i);
		return;
	}
	if (op == HELLO_STATUS) {
		/* Answered here, like the audit log: an admin (isol8-policy(5) "admin") sees every
		 * tenant, others their own. */
		broker_serve_status(b, steal_fd(&pend[i].fd), pend[i].tenant,
				    isol8_policy_is_admin(&b->policy, pend[i].tenant, pend[i].cred.uid == 0 && !key));
		drop(i);
		return;
	}
	if (op == HELLO_METRICS) {
		/* Every tenant's figures: for root and the HTTP frontends isol8d trusts only. */
		if (!broker_trusts_key_claims(b, &pend[i].cred)) {
			refuse(pend[i].fd, ISOL8_E_AUTH,
			       "metrics are for root and trusted HTTP frontends (isol8d --trust-key-uid)");
		} else {
			metrics_serve(b, steal_fd(&pend[i].fd));
		}
		drop(i);
		return;
	}
	if (op == HELLO_AUDIT) {
		/* Answered here: the log is the broker's. An admin reads every record, others their
		 * tenant's (an API key's too: the HTTP frontend asks on its behalf). */
		audit_serve_show(b, steal_fd(&pend[i].fd),
				 isol8_policy_is_admin(&b->policy, pend[i].tenant, pend[i].cred.uid == 0 && !key)
					 ? NULL
					 : b->policy.tenants[pend[i].tenant].name);
		drop(i);
		return;
	}
	if (op == HELLO_AUTH) {
		struct isol8_err e2 = ISOL8_ERR_INIT;
		isol8_ipc_send(pend[i].fd, WK_OK, 0, NULL, 0, NULL, 0, &e2);
		drop(i);
		return;
	}
	if (op == HELLO_KEYS) {
		/* The key store is root's on the socket itself, and a static key's of isol8 serve for
		 * its own tenant only (the original's master key); never a key of the store. */
		if (key_hash || (!key && pend[i].cred.uid != 0)) {
			refuse(pend[i].fd, ISOL8_E_AUTH,
			       key_hash ? "Master key required for this operation"
					: "managing API keys needs root (sudo isol8 keys ...)");
			drop(i);
			return;
		}
		keys_serve(b, steal_fd(&pend[i].fd), key ? b->policy.tenants[pend[i].tenant].name : NULL);
		drop(i);
		return;
	}
	if (op != HELLO_RUN) {
		route(b, &pend[i], op, session);
		drop(i);
		return;
	}
	if (broker_drain_refuses(b, pend[i].tenant, session, drain_msg, sizeof drain_msg)) {
		refuse(pend[i].fd, ISOL8_E_UNAVAIL, drain_msg);
		drop(i);
		return;
	}
	/* Runs wait their turn: maxConcurrent for the daemon, the tenant's share from policy. With
	 * a free slot and nobody waiting, run now (so --queue 0 means "no waiting", not "never"). */
	if (queued_count() == 0 && table_token_count_runs(-1) < b->o.max_concurrent &&
	    (!b->policy.tenants[pend[i].tenant].max_concurrent ||
	     table_token_count_runs(pend[i].tenant) < b->policy.tenants[pend[i].tenant].max_concurrent)) {
		route(b, &pend[i], op, session);
		drop(i);
		return;
	}
	if (queued_count() >= b->o.queue_max) {
		char msg[200];
		snprintf(msg, sizeof msg,
			 "isol8d is busy: %u of at most %u executions running and %u waiting (queue full); retry later",
			 table_token_count_runs(-1), b->o.max_concurrent, queued_count());
		refuse(pend[i].fd, ISOL8_E_LIMIT, msg);
		audit_refuse(b, pend[i].tenant, &pend[i].cred, pend[i].principal, "run", ISOL8_E_LIMIT, msg);
		drop(i);
		return;
	}
	pend[i].queued = true;
	pend[i].seq = next_seq++;
	pend[i].op = op;
	pend[i].deadline = clock_mono_ms() + QUEUE_WAIT_MS;
	snprintf(pend[i].session, sizeof pend[i].session, "%s", session);
	broker_run_queue(b);
	return;
}

void broker_pending_ready(struct broker *b, int fd)
{
	struct isol8_msg m = {0};
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_free_ char *session = NULL, *key = NULL, *key_id = NULL, *key_hash = NULL;
	uint8_t op = 0;
	unsigned i;
	int r;

	for (i = 0; i < n_pend; i++)
		if (pend[i].fd == fd)
			break;
	if (i == n_pend)
		return;
	r = isol8_ipc_recv(fd, &m, &err);
	if (r == 0) {
		drop(i);
		return;
	}
	if (r < 0) {
		if (err.errnum == EAGAIN)
			return;
		goto bad;
	}
	/* The table lets only the hellos (and FE_KEYS, which must not come first) through from a
	 * frontend to the broker. */
	if (isol8_proto_check(PEER_BROKER, PEER_FRONTEND, &m, NULL, &err) < 0 ||
	    (m.type == FE_KEYS && isol8_err_set(&err, ISOL8_E_PROTO, 0, "a keys request needs the keys hello first")) ||
	    isol8_get_u8(&m, &op, &err) < 0 || isol8_get_str(&m, &session, ISOL8_MAX_SESSION, &err) < 0 ||
	    (m.type == FE_HELLO_KEY &&
	     (isol8_get_str(&m, &key, ISOL8_MAX_KEY_NAME, &err) < 0 ||
	      isol8_get_str(&m, &key_id, ISOL8_KEY_ID_LEN, &err) < 0)) ||
	    (m.type == FE_HELLO_DBKEY && isol8_get_str(&m, &key_hash, 64, &err) < 0) || isol8_msg_end(&m, &err) < 0)
		goto bad;
	/* Before any key check: a balancer's health check has no key, and the answer names no
	 * tenant, only the node's state and two counts. */
	if (op == HELLO_HEALTH) {
		isol8_msg_free(&m);
		broker_serve_health(b, fd);
		drop(i);
		return;
	}
	if (op == HELLO_DRAIN || op == HELLO_UNDRAIN) {
		/* Taking a node out of service is the host's admin's: local root, never an API key. */
		if (m.type != FE_HELLO || pend[i].cred.uid != 0) {
			refuse(fd, ISOL8_E_AUTH, "only root may drain isol8d (isol8 status --drain as root)");
		} else {
			log_info("drain requested by uid 0 pid %d", (int)pend[i].cred.pid);
			broker_drain_signal(b, op == HELLO_DRAIN ? SIGUSR1 : SIGUSR2);
			broker_serve_health(b, fd);
		}
		isol8_msg_free(&m);
		drop(i);
		return;
	}
	if (key_hash) {
		/* As for FE_HELLO_KEY: only a trusted HTTP frontend speaks for bearer tokens. */
		if (!broker_trusts_key_claims(b, &pend[i].cred)) {
			log_warn("peer uid=%u pid=%d sent a key hash but is not a trusted HTTP frontend",
				 (unsigned)pend[i].cred.uid, (int)pend[i].cred.pid);
			refuse(fd, ISOL8_E_AUTH, "this peer may not act for API keys");
			isol8_msg_free(&m);
			drop(i);
			return;
		}
		if (keys_pg_enabled(b)) {
			/* Parked until isol8-keystore answers (broker_pending_key_result) or
			 * KEYS_PG_HELLO_MS pass (broker_pending_expire): the loop never waits for
			 * the database. */
			if (strlen(key_hash) != 64 || strspn(key_hash, "0123456789abcdef") != 64) {
				isol8_err_set(&err, ISOL8_E_PROTO, 0, "invalid key hash: 64 lowercase hex digits");
				goto bad;
			}
			if (keys_pg_validate_send(key_hash, &pend[i].ks_req, &err) < 0) {
				log_warn("key store: %s", err.msg);
				refuse(fd, ISOL8_E_UNAVAIL, KEYS_UNAVAIL_MSG);
				isol8_msg_free(&m);
				drop(i);
				return;
			}
			pend[i].parked = true;
			pend[i].op = op;
			snprintf(pend[i].session, sizeof pend[i].session, "%s", session);
			pend[i].deadline = clock_mono_ms() + KEYS_PG_HELLO_MS;
			isol8_msg_free(&m);
			return;
		}
		if (keys_authenticate(b, key_hash, &pend[i].tenant, pend[i].principal, sizeof pend[i].principal,
				      pend[i].cred.uid, &err) < 0) {
			refuse(fd, err.code == ISOL8_E_PROTO ? ISOL8_E_PROTO : ISOL8_E_AUTH,
			       err.code == ISOL8_E_AUTH || err.code == ISOL8_E_PROTO ? err.msg : "Invalid API key");
			if (err.code != ISOL8_E_AUTH && err.code != ISOL8_E_PROTO)
				log_warn("key store: %s", err.msg);
			audit_refuse(b, -1, &pend[i].cred, "dbkey", "connect", ISOL8_E_AUTH, "Invalid API key");
			isol8_msg_free(&m);
			drop(i);
			return;
		}
		key = xstrdup(""); /* acts for a key: no admin answers below */
	}
	if (key && !key_hash) {
		/* Only a trusted HTTP frontend may speak for an API key: it authenticated the bearer
		 * itself. Anyone else claiming a key is refused, whatever the key. */
		const struct isol8_tenant *kt;
		if (!broker_trusts_key_claims(b, &pend[i].cred)) {
			log_warn("peer uid=%u pid=%d claimed key '%s' but is not a trusted HTTP frontend",
				 (unsigned)pend[i].cred.uid, (int)pend[i].cred.pid, key);
			refuse(fd, ISOL8_E_AUTH, "this peer may not act for API keys");
			isol8_msg_free(&m);
			drop(i);
			return;
		}
		if (!isol8_valid_session_name(key)) {
			isol8_err_set(&err, ISOL8_E_PROTO, 0, "invalid key name");
			goto bad;
		}
		if (strlen(key_id) != ISOL8_KEY_ID_LEN || strspn(key_id, "0123456789abcdef") != ISOL8_KEY_ID_LEN) {
			isol8_err_set(&err, ISOL8_E_PROTO, 0, "invalid key id: %u lowercase hex digits",
				      ISOL8_KEY_ID_LEN);
			goto bad;
		}
		kt = isol8_policy_match_key(&b->policy, key);
		if (!kt) {
			char who[ISOL8_MAX_PRINCIPAL + 1];
			snprintf(who, sizeof who, "key:%s@%u#%s", key, (unsigned)pend[i].cred.uid, key_id);
			refuse(fd, ISOL8_E_AUTH, "no tenant in the policy accepts this API key");
			audit_refuse(b, -1, &pend[i].cred, who, "connect", ISOL8_E_AUTH,
				     "no tenant in the policy accepts this API key");
			isol8_msg_free(&m);
			drop(i);
			return;
		}
		pend[i].tenant = tenant_index(b, kt);
		/* Sessions belong to this key of this frontend: names repeat across servers, ids and
		 * frontend uids together do not. */
		snprintf(pend[i].principal, sizeof pend[i].principal, "key:%s@%u#%s", key, (unsigned)pend[i].cred.uid,
			 key_id);
	}
	hello_continue(b, i, op, session, key != NULL, key_hash != NULL);
	isol8_msg_free(&m);
	return;
bad:
	/* A malformed frame marks the peer bad: one error reply, then close. The broker lives on. */
	log_warn("peer uid=%u pid=%d reason=%s", (unsigned)pend[i].cred.uid, (int)pend[i].cred.pid, err.msg);
	refuse(fd, ISOL8_E_PROTO, err.msg);
	isol8_msg_free(&m);
	drop(i);
}

void broker_pending_key_result(struct broker *b, uint32_t req, const struct keystore_key *k,
			       const struct isol8_err *why)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char session[ISOL8_MAX_SESSION + 1];
	unsigned i;

	for (i = 0; i < n_pend; i++)
		if (pend[i].parked && pend[i].ks_req == req)
			break;
	if (i == n_pend)
		return; /* refused at its deadline already */
	pend[i].parked = false;
	if (!k ||
	    keys_principal(b, k, &pend[i].tenant, pend[i].principal, sizeof pend[i].principal, pend[i].cred.uid, &err) <
		    0) {
		const struct isol8_err *e = k ? &err : why;
		if (e->code == ISOL8_E_AUTH) {
			refuse(pend[i].fd, ISOL8_E_AUTH, "Invalid API key");
			audit_refuse(b, -1, &pend[i].cred, "dbkey", "connect", ISOL8_E_AUTH, "Invalid API key");
		} else {
			/* The database's words (its host, its errors) stay in isol8d's log. */
			log_warn("key store: %s", e->msg);
			refuse(pend[i].fd, ISOL8_E_UNAVAIL, KEYS_UNAVAIL_MSG);
		}
		drop(i);
		return;
	}
	snprintf(session, sizeof session, "%s", pend[i].session);
	hello_continue(b, i, pend[i].op, session, true, true);
}

void broker_pending_expire(struct broker *b, uint64_t now)
{
	for (unsigned i = 0; i < n_pend;) {
		if (now >= pend[i].deadline || b->stopping) {
			if (pend[i].parked) {
				log_warn("key store: no answer from isol8-keystore within %d ms", KEYS_PG_HELLO_MS);
				refuse(pend[i].fd, ISOL8_E_UNAVAIL,
				       b->stopping ? "isol8d is shutting down" : KEYS_UNAVAIL_MSG);
			} else if (pend[i].queued)
				refuse(pend[i].fd, b->stopping ? ISOL8_E_UNAVAIL : ISOL8_E_LIMIT,
				       b->stopping ? "isol8d is shutting down"
						   : "timed out waiting for a free execution slot");
			else
				log_debug("peer pid=%d dropped: no hello within %d ms", (int)pend[i].cred.pid,
					  HELLO_TIMEOUT_MS);
			drop(i);
		} else {
			i++;
		}
	}
}

void broker_pending_remap(struct broker *b, const int *map, size_t n_old)
{
	(void)b;
	for (unsigned i = 0; i < n_pend;) {
		int t = pend[i].tenant;

		if (t < 0) { /* an HTTP connection before its key named a tenant */
			i++;
			continue;
		}
		t = (size_t)t < n_old ? map[t] : -1;
		if (t < 0) {
			refuse(pend[i].fd, ISOL8_E_AUTH,
			       "isol8d reloaded its policy and your tenant is no longer in it; ask its admin");
			drop(i); /* refuse() sent its own copy; ours closes here */
			continue;
		}
		pend[i].tenant = t;
		i++;
	}
}

unsigned broker_queue_waiting(int tenant)
{
	unsigned n = 0;
	for (unsigned i = 0; i < n_pend; i++)
		n += pend[i].queued && (tenant < 0 || pend[i].tenant == tenant);
	return n;
}
