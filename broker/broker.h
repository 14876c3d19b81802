/* isol8d internals. The broker is the only privileged process: it holds the Docker socket,
 * authenticates peers with SO_PEERCRED, routes frontend connections to workers, and executes a
 * narrow verb set for workers after validating each request against policy and ownership.
 * Nothing here parses HTTP, tar, or output produced by sandboxed code. */
#ifndef ISOL8_BROKER_H
#define ISOL8_BROKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/ipc.h"
#include "broker/outq.h"
#include "common/proto.h"
#include "policy/policy.h"

#define BROKER_MAX_WORKERS 16
#define BROKER_MAX_INFLIGHT 64            /* concurrent verb threads */
#define BROKER_MAX_INFLIGHT_PER_WORKER 32 /* one busy worker cannot starve the others */
/* How long an ephemeral sandbox may idle in a worker's pool before the broker's own hard
 * deadline removes it (workers drop pool entries earlier, see worker/pool.h). */
#define BROKER_POOL_IDLE_MS (10u * 60u * 1000u)
#define BROKER_MAX_PENDING 128 /* accepted frontends waiting for FE_HELLO or queued */
/* Routed connections each hold a worker thread and a few fds until the worker is done: a
 * worker takes at most BROKER_CONNS_PER_WORKER (well inside its 1024 fds), and one peer
 * (tenant and uid) at most BROKER_CONNS_PER_PEER in all workers, so one tenant cannot exhaust
 * a worker shared with others. */
#define BROKER_CONNS_PER_WORKER 96
#define BROKER_CONNS_PER_PEER 32
/* A worker that leaves a message on its channel unread this long has stopped reading it: it
 * is killed and restarted (workers.c). Sends to it never wait (broker/outq.h). */
#define BROKER_WORKER_SEND_TIMEOUT_MS 2000
/* Token lifetimes: a frontend's lives at most its tenant's longest run plus this (setup,
 * cleanup and the pool refill after it); the broker's own prewarm tokens this long. */
#define BROKER_TOKEN_GRACE_MS 300000
#define BROKER_PREWARM_TOKEN_MS 120000

/* --pool-size and poolSize bounds, each of clean and dirty. */
#define BROKER_POOL_SIZE_MAX 16

/* Accounts (broker/accounts.c, sysusers.d/isol8.conf): members of the client group may use the
 * socket; the unprivileged system account runs workers, the proxy and the HTTP child. */
#define BROKER_CLIENT_GROUP "isol8"
#define BROKER_UNPRIV_USER "isol8-unpriv"

struct broker_opts {
	const char *socket_path;
	const char *socket_group; /* group owning the socket, NULL = root's (or isol8 if present) */
	mode_t socket_mode;       /* 0660 by default */
	const char *policy_path;
	const char *user; /* worker account */
	const char *pidfile;
	const char *worker_path;
	const char *seccomp_path; /* sandbox seccomp profile (Docker JSON) */
	const char *docker_host;
	const char *proxy_path;   /* isol8-proxy binary (default: next to isol8d) */
	const char *proxy_hosts;  /* test hook: hosts file for the proxy's own name resolution */
	const char *proxy_subnet; /* --proxy-subnet: the proxy namespaces' /30s (10.254.254.0/24) */
	bool proxy_host_netns;    /* --proxy-in-host-netns: no namespace of its own (old placement) */
	const char *fetch_path;   /* isol8-fetch binary (default: next to isol8d) */
	const char *fetch_hosts;  /* test hook: hosts file for the fetcher's name resolution */
	unsigned workers;
	unsigned max_concurrent; /* running executions per daemon (10) */
	unsigned queue_max;      /* runs waiting for a slot (32) */
	uid_t trust_key_uid;     /* besides root, the uid allowed to act for API keys (-1: none) */
	unsigned grace_ms;
	bool foreground;
	bool log_json;
	bool no_agent;           /* --no-agent: always use docker exec */
	unsigned pool_size;      /* clean: warm sandboxes per shape and worker (2; 0 = no pool) */
	unsigned pool_dirty;     /* dirty: resets of used sandboxes in flight per worker (2) */
	const char *config_path; /* --config FILE (isol8.config.json keys) */
	bool pool_secure;        /* --pool-strategy secure: never reuse a sandbox */
	uint32_t prewarm_mask;   /* --prewarm: runtimes (bit per enum isol8_runtime) */
	const char *http;        /* --http ADDR:PORT */
	const char *http_keys;   /* --http-keys FILE (name:secret lines) */
	const char *http_path;   /* isol8-full */
	int log_level;
	const char *audit_log; /* --audit-log FILE (wins over the policy's audit.path) */
	const char *keys_db;   /* --keys-db FILE: the API key store (broker/keystore.h) */
	/* --keys-db postgresql://..., --keys-db-file or ISOL8_KEYS_DB: the PostgreSQL key store's
	 * connection string (keys_pg.c); NULL: SQLite at keys_db */
	char *keys_conninfo;
	const char *keys_db_file;  /* --keys-db-file FILE: holds --keys-db's value */
	const char *keystore_path; /* isol8-keystore binary (default: next to isol8d) */
	const char *node_id;       /* --node-id, else the host name; NULL when it has none usable */
	bool policy_explicit;      /* --policy given: a missing file is an error, not "built-in" */
	bool check_policy;         /* --check-policy: validate and exit */
	bool no_create_accounts;   /* --no-create-accounts */
	/* given on the command line, so --config does not override them */
	bool set_max_concurrent, set_pool_size, set_pool_strategy;
};

/* A worker's process (its pid, restarts, back-off) is the supervisor's: supervise.h. */
struct worker_slot {
	int chan;                  /* broker end of the socketpair, -1 when dead */
	uint32_t gen;              /* bumped on every respawn: stale replies and ownership die with it */
	unsigned load;             /* connections assigned and not yet done */
	volatile int inflight;     /* verb threads working for this worker */
	pthread_mutex_t send_lock; /* verb threads and the main loop both send on chan; guards out too */
	struct outq out;           /* messages the kernel has not taken yet */
	/* The main loop's watch on what the worker leaves unread in the kernel (SIOCOUTQ): */
	bool sent;                /* something was sent since the last look */
	int unread_last;          /* bytes unread at the last look */
	uint64_t unread_since_ms; /* unread and untouched since then, 0 when not */
	bool wedged;              /* killed for not reading: said once */
};

struct broker {
	struct broker_opts o;
	/* Replaced by the main thread only (reload.c), under the write lock; verb threads hold the
	 * read lock while they run, since they index tenants and read ceilings. */
	struct isol8_policy policy;
	pthread_rwlock_t policy_lock;
	uint32_t policy_gen; /* bumped by every reload that took effect */
	time_t policy_loaded_at;
	time_t started_at;
	char *seccomp_json;       /* profile text passed as seccomp=<json> */
	char *seccomp_runsc_json; /* the same for runsc tenants (seccomp_profile_for_runsc) */
	char *instance;           /* label value tying containers to this daemon */
	uid_t worker_uid;
	gid_t worker_gid;
	int listen_fd;
	int claim_fd; /* flock on <socket>.lock, held for the daemon's life */
	int wake_fd;  /* eventfd: a verb thread queued a message, the loop must poll for POLLOUT */
	struct worker_slot w[BROKER_MAX_WORKERS];
	/* Worker 0 serves only privileged tenants when the policy has both kinds and there are
	 * at least two workers (broker_split_workers). */
	bool priv_split;
	volatile int inflight;
	bool stopping;
	int node_state; /* enum isol8_node_state (drain.c); the main thread's */
	/* isol8-proxy (proxyctl.c): one per daemon, serving every filtered sandbox; its process
	 * is the supervisor's (supervise.h) */
	int proxy_chan;             /* -1 when dead */
	pthread_mutex_t proxy_lock; /* one request/reply exchange at a time */
	uint32_t proxy_req;
	struct broker_pxns {           /* the proxy's network namespace (proxyns.c) */
		bool on;               /* set up: the proxy starts in a namespace of its own */
		unsigned index, slots; /* K of isol8px<K> and ISOL8-PX<K>-*; how many the subnet has */
		int lock_fd;           /* flock on /run/isol8-proxyns/K.lock, held for the broker's life */
		uint32_t base, host_ip, ns_ip;
		char ifname[16];
		char ip[64], ipt[64], ipt_restore[64], ip6t[64]; /* tool paths ("" when missing) */
	} pxns;
	int http_listen_fd; /* private socket for the --http child (owned by its account) */
	char *http_socket;
	bool http_restart; /* stopped on purpose (reload of the keys file): respawn now */
};

/* listen.c */
/* Before anything that acts on the instance's containers: take <path>.lock (flock, held for
 * the daemon's life through *lock_out) and make sure no daemon answers on path. A second
 * isol8d on a socket in use must fail here, before its orphan cleanup removes the live
 * daemon's sandboxes. */
int broker_claim_socket(const char *path, const char *group, mode_t mode, int *lock_out, struct isol8_err *err);
int broker_listen(const char *path, const char *group, mode_t mode, int *fd_out, struct isol8_err *err);

/* http_child.c: isol8d --http */
int broker_http_listen(struct broker *b, struct isol8_err *err);
/* The child's pid: the one peer the private socket serves and trusted to act for API keys. */
bool broker_is_http_child(pid_t pid);
/* SIGTERM the --http child (it finishes in-flight requests); with wait, reap it (SIGKILL after 5 s). */
void broker_stop_http(struct broker *b, bool wait);

/* spawn.c: fork + exec of a helper with its channel on fd 3 */
int broker_spawn_child(const char *path, char *const argv[], int *chan_out, pid_t *pid_out, struct isol8_err *err);
/* The same, with the child in a new network namespace: it unshares it (and a mount namespace
 * with resolv_conf bound over /etc/resolv.conf, unless NULL), then waits until attach(b, pid)
 * has set it up (the child is killed when attach fails). */
int broker_spawn_child_netns(struct broker *b, const char *path, char *const argv[], const char *resolv_conf,
			     int *chan_out, pid_t *pid_out, int (*attach)(struct broker *, pid_t, struct isol8_err *),
			     struct isol8_err *err);

/* proxyns.c: the proxy's own network namespace behind a veth and NAT */
int proxyns_init(struct broker *b, struct isol8_err *err);     /* lock an index, sweep leftovers, rules */
int proxyns_firewall(struct broker *b, struct isol8_err *err); /* rebuild the rules (after a reload) */
int proxyns_attach(struct broker *b, pid_t pid, struct isol8_err *err);
bool proxyns_enabled(const struct broker *b);
/* A resolv.conf to show the proxy instead of the host's (whose servers are on loopback), or NULL. */
const char *proxyns_resolv_conf(struct broker *b);
void proxyns_fini(struct broker *b); /* remove chains, jumps and the veth; release the index */

/* The supervisor's rows for each kind of child (supervise.h): workers.c, proxyctl.c,
 * http_child.c, fetch.c. Started with supervise_spawn(SV_WORKER, idx, err) and so on. */
struct supervise_ops;
extern const struct supervise_ops broker_worker_ops, broker_proxy_ops, broker_http_ops, broker_fetch_ops,
	broker_keystore_ops;

/* workers.c */
/* Never waits: what the worker's channel does not take at once is queued (outq.h) and sent by
 * the main loop when it is writable. 0 sent or queued; -1 when the worker is gone or its queue
 * is full (it is then killed: it has stopped reading). Any thread. */
int broker_send_worker(struct broker *b, unsigned idx, uint8_t type, uint32_t req_id, const struct isol8_buf *p,
		       const int *fds, unsigned nfds);
/* Main loop: something waits in worker idx's queue (poll for POLLOUT). */
bool broker_worker_wants_out(struct broker *b, unsigned idx);
/* Main loop: its channel is writable: send what waits. */
void broker_worker_flush(struct broker *b, unsigned idx);
/* Main loop: kill the workers that left a message unread for BROKER_WORKER_SEND_TIMEOUT_MS. */
void broker_watch_workers(struct broker *b, uint64_t now_ms);
unsigned broker_pick_worker(struct broker *b, const struct isol8_tenant *t);
/* --prewarm: ask worker idx for default-shape sandboxes of the local admin and default tenants. */
void broker_prewarm_worker(struct broker *b, unsigned idx);
unsigned broker_home_worker(struct broker *b, const struct isol8_tenant *t);
/* Decide priv_split from the policy and the number of workers (at start). */
void broker_split_workers(struct broker *b);

/* peers.c: frontend side */
void broker_accept(struct broker *b, int listen_fd);
void broker_pending_ready(struct broker *b, int fd);
bool broker_trusts_key_claims(const struct broker *b, const struct ucred *cred);
void broker_pending_expire(struct broker *b, uint64_t now_ms);
void broker_run_queue(struct broker *b);
/* Runs waiting for a slot (as of the main loop's last pass; any thread). */
unsigned broker_queue_depth(void);
int broker_pending_fds(int *out, unsigned max);

/* Runs accepted and waiting for a slot. */
unsigned broker_queued_runs(void);

/* drain.c: SIGUSR1 drains, SIGUSR2 undrains; HELLO_HEALTH */
void broker_drain_signal(struct broker *b, int signo);
/* From the main loop: a draining node with nothing left becomes drained. */
void broker_drain_tick(struct broker *b);
/* 1 with msg when a run (session "" for a stateless one) must be refused: draining, and not a
 * session that exists. */
int broker_drain_refuses(const struct broker *b, int tenant, const char *session, char *msg, size_t len);
/* Answer HELLO_HEALTH on fd (the caller closes it). */
void broker_serve_health(struct broker *b, int fd);

/* verbs.c: worker side */
void broker_worker_msg(struct broker *b, unsigned idx);

/* table.c: ownership of containers, execs and connection tokens (mutex inside) */
/* What a sandbox was made as, after the policy: a replacement (V_REPLACE) must be made the
 * same, so a worker cannot turn a dead sandbox into a different one. */
struct sandbox_shape {
	int runtime;
	char image[ISOL8_MAX_IMAGE + 1];
	struct isol8_limits lim;
	int net_mode;
	bool writable;
	int isolation; /* enum isol8_isolation, as made (a runsc sandbox is replaced by a runsc one) */
};

struct owned_container {
	char id[65];
	unsigned worker;
	uint32_t gen;
	int tenant; /* index in policy */
	int kind;   /* enum isol8_sandbox_kind */
	char session[65];
	uint64_t deadline_ms; /* hard lifetime for ephemeral and persisted sandboxes, 0 = none */
	int net_mode;         /* enum isol8_net_mode it was created with */
	char slot[160];       /* agent slot directory, "" without an agent */
	int agent_listen;     /* listening socket until the agent connected, else -1 */
	uint64_t timeout_ms;  /* applied timeout, for deadline renewals */
	uint32_t policy_gen;  /* broker policy_gen at create: a pooled one from an older policy is not reused */
	uint32_t uid, gid;    /* its host identity, fixed at create: every exec and the agent's check use it */
	bool uid_claimed;     /* uid is one of its tenant's block, claimed until the entry goes */
	char owner[ISOL8_MAX_PRINCIPAL + 1]; /* the creating token's principal ("" for the broker's own) */
	struct sandbox_shape shape;          /* as created, for a replacement */
	bool replacement;                    /* made with a V_REPLACE token: not replaced in turn */
};
/* A token lets the worker create sandboxes for the tenant: it dies at V_CONN_DONE, with the
 * worker, or at expires_ms, whichever comes first, so a worker that never says it is done
 * does not keep another tenant's identity. */
uint32_t table_token_new(unsigned worker, uint32_t gen, int tenant, uid_t uid, bool run, uint64_t expires_ms);
/* Who a frontend token stands for (audit records): set once at routing. */
struct token_who {
	int tenant;
	uid_t uid; /* -1 for the broker's own tokens */
	gid_t gid;
	char principal[ISOL8_MAX_PRINCIPAL + 1];
};
void table_token_set_who(uint32_t token, const char *principal, gid_t gid);
int table_token_who(uint32_t token, unsigned worker, uint32_t gen, struct token_who *who);
/* True the first time bit is asked for on this token: one audit record per request, however
 * many sandboxes the pool creates with it. */
bool table_token_once(uint32_t token, unsigned worker, uint32_t gen, unsigned bit);
/* Connections currently running code, for one tenant or all (tenant < 0). */
unsigned table_token_count_runs(int tenant);
/* Frontend connections of one peer (tenant and uid) routed and not yet done. */
unsigned table_token_count_peer(int tenant, uid_t uid);
/* *prewarm: the token is the broker's own (BR_PREWARM), not a frontend's. */
int table_token_get(uint32_t token, unsigned worker, uint32_t gen, int *tenant, bool *prewarm);
/* Drop expired tokens; counts the frontend ones per worker (their load comes down). */
unsigned table_token_expire(uint64_t now, unsigned *frontend_per_worker, unsigned n_workers);
/* Returns 1 when the token belonged to a frontend connection (not an internal one, uid -1). */
int table_token_drop(uint32_t token, unsigned worker, uint32_t gen);
/* A replacement token (V_REPLACE): the broker's own, for one sandbox of exactly this shape,
 * of the tenant whose pooled sandbox died. */
uint32_t table_token_new_replace(unsigned worker, uint32_t gen, int tenant, const struct sandbox_shape *shape,
				 uint64_t expires_ms);
/* 0 and *shape when token is a replacement token of this worker, -1 otherwise. */
int table_token_replace_shape(uint32_t token, unsigned worker, uint32_t gen, struct sandbox_shape *shape);
void table_container_add(const struct owned_container *c);
int table_container_owned(const char *id, unsigned worker, uint32_t gen, struct owned_container *out);
void table_container_del(const char *id);
/* Take the agent listening fd out of the entry (-1 if none or not owned). */
int table_container_take_listen(const char *id, unsigned worker, uint32_t gen);
int table_container_renew(const char *id, unsigned worker, uint32_t gen, uint64_t deadline_ms);
/* Containers of one tenant (every tenant when tenant < 0) of one enum isol8_sandbox_kind. */
unsigned table_container_count_tenant_kind(int tenant, int kind);
/* Persisted sandboxes of one tenant and principal whose id starts with prefix ("" for all):
 * up to max ids and the ms left before their deadline; returns how many matched (at most max). */
size_t table_kept_find(int tenant, const char *principal, const char *prefix, char (*ids)[65], uint64_t *left_ms,
		       size_t max, uint64_t now_ms);
/* A session sandbox of this tenant with this name exists. */
bool table_session_exists(int tenant, const char *name);
/* Copy out ids of containers matching (worker, gen) or all when worker == UINT32_MAX. Caller frees. */
size_t table_container_ids(unsigned worker, uint32_t gen, bool expired_only, uint64_t now_ms, char (**ids)[65]);
/* Ids of every container whose owning worker slot's generation is no longer current. */
/* A uid of [first, first + n) that no sandbox holds, claimed for a new one (released with its
 * entry by table_container_del, or by table_uid_release when the create failed); -1 when all
 * are held. Claims cover every tenant, so a block moved by a reload never hands out a uid a
 * running sandbox of another tenant still has. */
int table_uid_claim(uint32_t first, uint32_t n, uint32_t *out);
void table_uid_release(uint32_t uid);
void table_exec_add(const char *exec_id, const char *container_id, unsigned worker, uint32_t gen);
int table_exec_owned(const char *exec_id, unsigned worker, uint32_t gen);
void table_exec_del(const char *exec_id);
void table_forget_worker(unsigned worker, uint32_t gen);

/* cleanup.c: removal of containers with the broker's own Docker handle */
void broker_remove_containers(struct broker *b, char (*ids)[65], size_t n);
void broker_remove_containers_async(struct broker *b, char (*ids)[65], size_t n);
int broker_remove_orphans(struct broker *b, struct isol8_err *err);

/* sandbox_spec.c: the Docker create body, rebuilt from validated values only */
struct sandbox_spec {
	const char *image;
	int runtime;
	int tenant;
	const char *tenant_name;
	unsigned worker;
	int kind;
	const char *session;
	const char *agent_slot; /* bind-mounted at /run/isol8-agent when non-NULL */
	struct isol8_limits lim;
	int net_mode;
	bool writable;
	int isolation;     /* enum isol8_isolation: HostConfig.Runtime */
	uint32_t uid, gid; /* the sandbox's host user (its tenant's: hostUid, a uid of its block, or 100:101) */
};
struct json_object;
struct json_object *sandbox_create_body(const struct broker *b, const struct sandbox_spec *s);
/* The profile as runsc must be given it (sandbox_spec.c); NULL with *err when it cannot be. */
char *seccomp_profile_for_runsc(const char *profile, struct isol8_err *err);

/* proxyctl.c: the isol8-proxy process and its channel. When it dies its listeners are gone
 * (netns_proxy_lost()). */
/* fetch.c: remote code (V_FETCH). Start isol8-fetch for one job (the tenant's policy applied
 * by the caller); *sock is the broker's end of its socket, shut for writing after the job went
 * in: the worker reads the answer from it. ISOL8_E_LIMIT past BROKER_MAX_FETCHES at once. */
#define BROKER_MAX_FETCHES 16
struct fetch_job;
int broker_fetch_start(struct broker *b, const struct fetch_job *job, const char *ca_file, int *sock,
		       struct isol8_err *err);
/* Close its channel (it exits on EOF); SIGKILL after 1 s. */
void broker_stop_proxy(struct broker *b);
/* Send one request (with at most one fd) and wait for its PX_REPLY_*; on PX_REPLY_OK *reply
 * holds the message (caller frees). */
int broker_proxy_call(struct broker *b, uint8_t type, const struct isol8_buf *p, int fd, struct isol8_msg *reply,
		      struct isol8_err *err);

/* netns.c: filtered networking from outside the sandbox */
struct docker;
/* V_NET_RULES after the container id: validate the rules, create the proxy's listener inside
 * the sandbox's network namespace, install drop-all-but-loopback rules there, hand both to
 * the proxy. */
int netns_apply_rules(struct broker *b, struct docker *d, const char *id, const struct owned_container *oc,
		      struct isol8_msg *m, struct isol8_err *err);
int netns_logs(struct broker *b, const char *id, struct isol8_buf *reply, struct isol8_err *err);
/* Bytes the proxy relayed for a filtered sandbox (0 for others). */
int netns_stats(struct broker *b, const char *id, uint64_t *up, uint64_t *down, struct isol8_err *err);
/* The sandbox is gone: tell the proxy to close its listener (no-op for other sandboxes). */
void netns_forget(struct broker *b, const char *id);
void netns_proxy_lost(void);

/* cgroup.c: OOM kills counted by the sandbox's memory cgroup, -1 if unknown */
long broker_cgroup_oom_kills(int pid);
/* Forks refused by container id's pids limit (pids.events "max"); for a stopped container,
 * whose cgroup is gone, 1 if the kernel's log names its cgroup. -1 if unknown. */
long broker_cgroup_pids_refused(const char *id, bool running);

/* agent_slot.c: the host end of the in-sandbox agent's connection */
int agent_slot_create(const struct broker *b, char *dir_out, size_t dir_len, int *listen_fd, struct isol8_err *err);
int agent_slot_accept(int listen_fd, const char *container_id, uid_t uid, unsigned timeout_ms, int *conn_out,
		      struct isol8_err *err);
void agent_slot_remove(const char *dir);

/* table.c, for reload.c: tenant indices after a reload (map[old] = new index or -1) */
void table_remap_tenants(const int *map, size_t n_old);
size_t table_container_ids_tenant(int tenant, char (**ids)[65]);
/* Why the broker removed a container on its own, told to its owner's next verb on it. */
void table_tombstone_add(const char *id, const char *why);
bool table_tombstone_get(const char *id, char *why, size_t len);

/* reload.c: the policy's life cycle */
void broker_policy_lock_init(struct broker *b);
/* At start: the policy file, or the built-in policy when the default file does not exist. */
int broker_policy_load(struct broker *b, struct isol8_err *err);
/* --check-policy: every error on its own line on stderr, "FILE: json.path: reason"; returns the
 * exit status (0 valid, 1 not). */
int broker_check_policy(const struct broker_opts *o);
/* SIGHUP: re-read the policy and the --http-keys file. A file that does not load changes
 * nothing (logged); otherwise new requests get the new rules, running ones keep going, and the
 * sandboxes of tenants no longer in the policy are removed. */
void broker_reload(struct broker *b);

/* status.c: HELLO_STATUS, answered on fd (closed after); all: every tenant, else tenant's */
void broker_serve_status(struct broker *b, int fd, int tenant, bool all);
/* peers.c: runs waiting in the queue, of one tenant or all (tenant < 0) */
unsigned broker_queue_waiting(int tenant);
/* peers.c: connections waiting for a worker follow a reload (tenant gone: refused) */
void broker_pending_remap(struct broker *b, const int *map, size_t n_old);

/* loop.c: until SIGTERM/SIGINT (0) or a poll failure (-1) */
int broker_loop(struct broker *b, int sfd);

/* notify.c: sd_notify(3) when started by systemd (NOTIFY_SOCKET); no-ops otherwise */
void broker_notify_ready(const struct broker *b);
void broker_notify_reloading(void);
void broker_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void broker_notify_stopping(void);
/* Under systemd (stderr is the journal): log lines go to the journal with TENANT=, PRINCIPAL=,
 * EXECUTION_ID= and CONTAINER_ID= fields. false otherwise (plain lines, timestamped). */
bool broker_log_to_journal(void);

extern struct broker *g_broker;

/* keys.c: the API key store's doors (HELLO_KEYS, FE_HELLO_DBKEY) */
struct keystore_key;
const char *keys_db_path(const struct broker *b);
/* Serves one FE_KEYS on fd (owned) on a thread of its own. */
/* tenant: the only tenant the caller may manage (an isol8 serve key), NULL for root. */
void keys_serve(struct broker *b, int fd, const char *tenant);
/* Main loop only: the key whose token hashes to hash_hex -> its tenant index and principal. */
int keys_authenticate(struct broker *b, const char *hash_hex, int *tenant, char *principal, size_t plen,
		      uid_t frontend_uid, struct isol8_err *err);
/* The key's tenant index and principal, as keys_authenticate (which calls it) sets them. */
int keys_principal(struct broker *b, const struct keystore_key *k, int *tenant, char *principal, size_t plen,
		   uid_t frontend_uid, struct isol8_err *err);

/* keys_pg.c: the PostgreSQL key store through isol8-keystore */
#define KEYS_PG_HELLO_MS 3000  /* a parked hello waits this long for its key check */
#define KEYS_PG_ADMIN_MS 5000  /* an isol8 keys request, for its answer */
#define KEYS_PG_STUCK_MS 15000 /* key checks unanswered this long: the child is restarted */
bool keys_pg_enabled(const struct broker *b);
bool keys_is_pg_url(const char *s);
void keys_pg_stop(void);
/* Main loop: the channel to poll (-1: none), and what to do when it is readable. */
int keys_pg_poll_fd(void);
void keys_pg_readable(struct broker *b);
/* Main loop, every wake-up: restart a child that stopped answering key checks. */
void keys_pg_watch(uint64_t now);
/* Main loop: ask for the key whose token hashes to hash_hex; the answer comes to
 * broker_pending_key_result with *req_out. Never waits. */
int keys_pg_validate_send(const char *hash_hex, uint32_t *req_out, struct isol8_err *err);
/* Keys threads: the store's operations (keystore.h's, on PostgreSQL); tenant "" for all. */
int keys_pg_create(const char *name, const char *tenant, uint64_t ttl_ms, char *key_out, struct keystore_key *info,
		   struct isol8_err *err);
int keys_pg_list(const char *tenant, struct isol8_buf *json, struct isol8_err *err);
int keys_pg_revoke(const char *id, const char *tenant, struct isol8_err *err);
int keys_pg_purge(const char *tenant, unsigned *removed, struct isol8_err *err);
/* peers.c: the answer for a parked hello (k NULL: refused, why in err). */
void broker_pending_key_result(struct broker *b, uint32_t req, const struct keystore_key *k,
			       const struct isol8_err *err);

#endif
