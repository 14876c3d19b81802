/* Message types carried by the common/ipc.h framing, and who may send them.
 * The wire encoding of each payload is given next to the type (cursor encoding of ipc.h:
 * u8/u32/u64 little-endian, str = u32 length + bytes). Documented in man/isol8-protocol.7.
 *
 * Flow: a frontend connects to the broker socket and sends FE_HELLO. The broker identifies it
 * with SO_PEERCRED, maps it to a tenant, and hands the connection itself to a worker with
 * BR_ASSIGN (SCM_RIGHTS). From then on the frontend talks to that worker only. The worker asks
 * the broker for Docker operations with V_* verbs; the broker validates every one against the
 * tenant's policy and the worker's ownership before touching Docker. */
#ifndef ISOL8_PROTO_H
#define ISOL8_PROTO_H

#include <stdint.h>

#include "common/agent_proto.h"

/* Peer kinds: the kernel-identified end of a channel, never a claim in a message. Each row of
 * the protocol table (common/proto_rows.h) names the kinds that may send the type and the kinds
 * that receive it; both are bitmasks. */
#define PEER_FRONTEND 0x01u  /* isol8, isol8 serve: a local user's process, the least trusted */
#define PEER_WORKER 0x02u    /* isol8-worker: unprivileged, parses hostile input */
#define PEER_BROKER 0x04u    /* isol8d */
#define PEER_PROXY 0x08u     /* isol8-proxy */
#define PEER_AGENT 0x10u     /* isol8-agent, PID 1 of a sandbox: as untrusted as the code it runs */
#define PEER_CONNECTOR 0x20u /* isol8 serve's broker connector (frontend/http/connector.c) */
#define PEER_KEYSTORE 0x40u  /* isol8-keystore: unprivileged, the PostgreSQL key store's client */

/* Identifier limits, checked on every side. */
#define ISOL8_MAX_ID 128u     /* container / exec ids (64 hex in practice) */
#define ISOL8_MAX_SESSION 64u /* session names: [A-Za-z0-9_.-], 1..64 */
#define ISOL8_MAX_IMAGE 256u
#define ISOL8_MAX_PATH 1024u
#define ISOL8_MAX_ARGS 64u
#define ISOL8_MAX_ARG 32768u
/* A program's own arguments (request.args): they share the exec's argv with the runtime's
 * command, the timeout prefix and deno's flags, and a standby's job with the code. */
#define ISOL8_MAX_SCRIPT_ARGS 32u
#define ISOL8_MAX_SCRIPT_ARGS_BYTES 16384u
/* A run's output files (request.outputPaths): how many, and the bytes of one and of all,
 * collected after the program ended and returned base64-encoded in the result. */
#define ISOL8_MAX_OUTPUT_PATHS 32u
#define ISOL8_OUTPUT_FILE_MAX (10u << 20)
#define ISOL8_OUTPUT_TOTAL_MAX (32u << 20)
/* A remote code URL (--url, request.codeUrl; V_FETCH), on every side. */
#define ISOL8_REMOTE_MAX_URL 8192u
#define ISOL8_MAX_ENV 128u
#define ISOL8_MAX_ENV_ENTRY 32768u
#define ISOL8_MAX_TENANT 64u
#define ISOL8_MAX_KEY_NAME 64u
#define ISOL8_KEY_ID_LEN 16u     /* hex digits of an API key's id (see FE_HELLO_KEY) */
#define ISOL8_MAX_PRINCIPAL 127u /* "uid:N" | "key:NAME@FRONTEND_UID#ID" */
#define ISOL8_MAX_LOG_LINE 2048u
#define ISOL8_MAX_ERROR_MSG 4096u /* text of WK_ERROR, BR_REPLY_ERR, PX_REPLY_ERR */

enum isol8_msg_type {
	/* frontend -> broker */
	FE_HELLO = 1,     /* u8 op, str session (may be empty) | 0 fds */
	FE_HELLO_KEY = 2, /* u8 op, str session, str key name, str key id (ISOL8_KEY_ID_LEN
	                        lowercase hex, derived from the secret): only from a trusted HTTP
	                        frontend (uid 0 or --trust-key-uid), which authenticated the bearer
	                        key. The name picks the tenant; the principal (who owns sessions)
	                        is "key:NAME@FRONTEND_UID#ID", so two servers that both call their
	                        key "default" but hold different secrets never share sessions */

	FE_HELLO_DBKEY = 3, /* u8 op, str session, str SHA-256 of a bearer token (64 lowercase hex):
	                        only from a trusted HTTP frontend, for a token it does not hold
	                        itself. isol8d looks the hash up in its key store (broker/keystore.h):
	                        refused (ISOL8_E_AUTH "Invalid API key") when unknown, revoked,
	                        expired or its tenant left the policy; else the key's tenant, and
	                        the principal "dbkey:NAME@FRONTEND_UID#ID" */
	FE_KEYS = 17,       /* after a HELLO_KEYS hello (uid 0 only): u8 action (enum
	                        isol8_keys_action), str name, str tenant, u64 ttl_ms (0: default),
	                        str id -> WK_FILE with the JSON answer in a sealed memfd, or WK_ERROR */

	/* frontend -> worker (after routing) */
	FE_RUN = 10,          /* JSON request text | fds: stdout, stderr, bundle (memfd, may be empty) */
	FE_SESSION_LIST = 11, /* empty */
	FE_SESSION_STOP = 12, /* str session */
	FE_FILE_PUT = 13,     /* str session, str path | fd: content (memfd/file) */
	FE_FILE_GET = 14,     /* str session, str path */
	FE_SIGNAL = 15,       /* u8 signal (SIGINT/SIGTERM/SIGKILL): interrupt the running program */
	FE_STDIN = 16,        /* empty | fd: the program's live stdin (read end of a pipe); sent right
	                        after FE_RUN when request.stdinStream is true */
	FE_KEPT_LIST = 18,    /* empty, after a HELLO_KEPT hello -> WK_SESSIONS with the caller's
	                        persisted sandboxes: a JSON array of {"id", "expiresAt" (RFC 3339),
	                        "expiresInMs"} */
	FE_KEPT_REMOVE = 19,  /* str container (12 to 64 lowercase hex: the id or a prefix), after a
	                        HELLO_KEPT hello -> WK_OK once it is removed, or WK_ERROR */

	/* worker -> frontend */
	WK_RESULT = 20,   /* JSON result text */
	WK_ERROR = 21,    /* u16 isol8_err code, str message */
	WK_FILE = 22,     /* fd: content (memfd). Also in a run, right before WK_RESULT when
	                        request.outputPaths yielded files: the JSON object {path: base64} */
	WK_SESSIONS = 23, /* JSON array text */
	WK_OK = 24,       /* empty */
	WK_PHASE = 26,    /* u8 ISOL8_PHASE_*: the run enters that phase; sent only when the
	                        request has phaseEvents, and only around setup scripts (SETUP before
	                        the first, CODE after the last succeeded) */
	WK_OUTPUT = 27,   /* u8 stream (1 stdout, 2 stderr), bytes: output of the setup phase,
	                        which travels here instead of the pipes so that it stays in order
	                        with WK_PHASE; the pipes carry only the program's output */

	/* broker connector -> isol8 serve (the answer to a hello on its private link) */
	CN_CONNECTED = 25, /* empty | fd: a connection to isol8d on which the hello was sent */

	/* broker -> frontend: the answer to HELLO_HEALTH */
	WK_HEALTH = 28, /* u8 enum isol8_node_state, u32 runs in flight or queued, u32 sessions */

	/* broker -> worker */
	BR_ASSIGN =
		30, /* u32 token, u8 op, str tenant, str principal ("uid:N" | "key:NAME"), u32 uid, u32 gid, u32 pid,
	                        str session, u32 max_sessions, u64 session_idle_ms,
	                        u8 audit (ISOL8_AUDIT_F_*: what V_AUDIT should carry) | fd: connection */
	BR_REPLY_OK = 31,    /* verb-specific payload, request_id of the verb */
	BR_REPLY_OK_FD = 32, /* the same | fd: a connected socket (exec's stream, the agent's connection) */
	BR_REPLY_ERR = 33,   /* u16 isol8_err code, str message */
	BR_SHUTDOWN = 34,    /* empty: finish in-flight work, then exit */
	BR_PREWARM = 35,     /* u32 token, str tenant, u8 runtime: start a pool sandbox of the default
	                        shape for that tenant; the worker sends V_CONN_DONE for the token after */
	BR_POOL_DRAIN = 36,  /* str tenant: a reload changed the tenant's host identity or isolation tier;
	                        remove its idle pooled sandboxes (made with the old one) */

	/* worker -> broker verbs (request_id is echoed in the reply) */
	V_CREATE =
		40, /* u32 token, u8 runtime, str image (explicit, may be empty), str preferred_image (custom, used when present, may be empty), u64 memory, u64 cpu_millis, u32 pids,
	                        u64 timeout_ms, u64 sandbox_size, u64 tmp_size, u64 max_output,
	                        u8 net_mode, u8 writable, u8 kind (0 ephemeral, 1 session, 2 persist),
	                        str session, u64 persist_ttl_ms (kind persist: how long the sandbox is
	                        kept after its run's timeout, 0 for the policy's limits.persistTtlMs;
	                        0 for the other kinds), u8 isolation (the tier asked for: 0 runc,
	                        1 runsc, 255 the tenant's; stronger than the policy's or refused)
	                        -> str container_id, u64 memory, u64 cpu_millis, u32 pids, u64 timeout_ms,
	                           u64 sandbox_size, u64 tmp_size, u64 max_output, u8 writable, str image, u8 image_setup,
	                           u8 isolation (enum isol8_isolation: 0 runc, 1 runsc; no agent under runsc),
	                           u64 persist_ttl_ms (as applied; 0 for the other kinds). A persisted
	                           sandbox is removed by the broker timeout_ms + persist_ttl_ms after
	                           its creation, whatever the worker does */
	V_START = 41,       /* str container -> empty, or | fd: the agent connection (common/agent_proto.h)
	                        when the image carries the agent and it connected */
	V_EXEC = 42,        /* str container, u32 argc, str argv[argc], u32 envc, str env[envc],
	                        str workdir, u8 attach_stdin -> str exec_id | fd: hijacked stream */
	V_EXEC_STATUS = 43, /* str exec_id -> u8 running, u32 exit_code (as int32) */
	V_INSPECT = 44,     /* str container -> u8 running, u8 oom_killed, u32 exit_code, u32 oom_kills (cgroup),
	                        u32 pids_refused (runsc: forks its pids limit refused, 0 for runc) */
	V_KILL = 45,        /* str container, u8 signal -> empty */
	V_REMOVE = 46,      /* str container -> empty */
	/* 47, 48: put-archive and get-archive, removed (no sender); not to be reused */
	V_NET_RULES = 49,   /* str container, u32 n_allow, str allow[n_allow], u32 n_deny, str deny[n_deny],
	                        u8 log -> empty. Only for a running sandbox created with net mode
	                        filtered, once. Patterns: canonical host patterns (proxy/hostpat.h:
	                        name, *.domain or *; never compiled), at most ISOL8_NET_MAX_PATTERNS
	                        per list, each 1..ISOL8_NET_MAX_PATTERN bytes. */
	V_LIST_OWN = 50,    /* empty -> u32 n, str id[n] */
	V_LOG = 51,         /* u8 level, str line (no reply) */
	V_CONN_DONE = 52,   /* u32 token (no reply) */
	V_NET_LOGS = 53,    /* str container -> str json (array of request records, see proxy/proxy.c) */
	V_RENEW = 54,       /* str container, u64 timeout_ms: a reused ephemeral sandbox gets a fresh hard
	                        deadline (now + min(timeout, its applied timeout) + 60 s); timeout_ms 0:
	                        it went back to the pool (the deadline a new one gets) -> empty */
	V_REPLACE = 68,     /* str container: a pool sandbox that died while idle -> u32 token, for one
	                        V_CREATE of a sandbox made as it was (same tenant, image, limits,
	                        network); refused while the container still runs */
	V_USAGE = 56,       /* str container, u8 reset (1: start a new memory peak after reading)
	                        -> u8 known (USAGE_K_*), u64 cpu_us, u64 memory_bytes,
	                        u64 peak_memory_bytes, u64 net_bytes_in, u64 net_bytes_out: the
	                        sandbox's cumulative counters (cgroup; the proxy for filtered) */
	V_KEPT_LIST = 57,   /* u32 token -> u32 n, n x (str container_id, u64 expires_in_ms): the
	                        persisted sandboxes of the token's tenant and principal, in any
	                        worker (at most ISOL8_KEPT_LIST_MAX) */
	V_KEPT_REMOVE = 58, /* u32 token, str container (12 to 64 lowercase hex, a prefix matching
	                        exactly one) -> empty: removes a persisted sandbox of the token's
	                        tenant and principal, whichever worker created it. Any other
	                        sandbox, another tenant's or principal's included, is "not found" */
	V_FETCH = 59,       /* u32 token, str url, str hash ("" or 64 hex), u8 allow_insecure,
	                        u64 max_size, u64 timeout_ms (0: the policy's; else at most it)
	                        -> BR_REPLY_OK_FD, fd = a stream socket, read-only for the worker,
	                        on which isol8-fetch answers (common/remote_code.h). Refused unless the
	                        token's tenant has remoteCode.enabled in the policy */
	V_AUDIT = 55,       /* one finished run, for the broker's audit log (no reply). Only what the
	                        worker alone knows; the broker adds who, where and with which limits:
	                        u32 token, str container (empty: no sandbox was reached),
	                        str execution_id (ISOL8_AUDIT_MAX_EXEC_ID), u8 outcome (enum
	                        isol8_audit_outcome), u32 exit_code (as int32), u16 err_code,
	                        str err_msg (ISOL8_AUDIT_MAX_ERRMSG), u64 duration_ms, u64 total_ms,
	                        u8 flags (ISOL8_AUDIT_R_*), u64 stdout_bytes, u64 stderr_bytes,
	                        u64 cpu_time_us, u64 memory_bytes, u64 peak_memory_bytes,
	                        u64 net_bytes_in, u64 net_bytes_out, u32 net_requests, u32 net_blocked,
	                        str code_hash (empty or 64 lowercase hex), u32 n_meta (at most
	                        ISOL8_AUDIT_META_MAX), n_meta x (str key, str value) (common/audit.h),
	                        str code (ISOL8_AUDIT_MAX_CODE; empty unless ISOL8_AUDIT_F_CODE),
	                        str stdout_head, str stderr_head (ISOL8_AUDIT_MAX_OUTPUT; empty unless
	                        ISOL8_AUDIT_F_OUTPUT) */

	V_POOL_STATE = 67, /* the worker's warm pool, a full snapshot after changes (no reply):
	                        u32 n (at most ISOL8_POOL_STATE_MAX), n x (str tenant, u8 runtime,
	                        str image (the key's custom image, else its explicit one, may be
	                        empty: the runtime's), u64 memory, u64 cpu_millis, u32 pids,
	                        u8 net_mode, u8 writable, u8 isolation (the tier the key asked for:
	                        0 runc, 1 runsc, 255 the tenant's), u32 warm, u32 resetting, u32 in_use):
	                        one entry per sandbox shape the pool holds, resets or lent to a run */

	/* broker -> proxy (isol8-proxy, one per daemon); the proxy answers each in order with
	   PX_REPLY_OK or PX_REPLY_ERR carrying the same request_id */
	PX_LISTEN = 60,    /* str container, u32 n_allow, str allow[], u32 n_deny, str deny[], u8 log,
	                        str tenant, then the tenant's policy ceiling: u32 n, str allow[], u32 n,
	                        str deny[], u32 n, u16 port[], u32 n, str cidr[] (proxy/rules.h),
	                        then the Docker networks' subnets: u32 n, str cidr[]
	                        | fd: listening TCP socket inside the sandbox's network namespace */
	PX_DROP = 61,      /* str container: close its listener and connections, discard its log */
	PX_LOGS = 62,      /* str container -> str json */
	PX_REPLY_OK = 63,  /* request-specific payload */
	PX_REPLY_ERR = 64, /* u16 isol8_err code, str message */
	PX_COUNTS = 66,    /* empty -> u64 allowed, u64 blocked: requests the proxy decided since it
	                        started, all sandboxes (isol8d's metrics) */
	PX_STATS = 65,     /* str container -> u64 bytes_up (sent upstream for the sandbox),
	                        u64 bytes_down (received for it), closed and open connections */

	/* broker -> keystore (isol8-keystore, with --keys-db postgresql://...). KS_CONFIG comes first
	   and once; KS_VALIDATE is answered on the channel with the same request_id (the main loop
	   parks the hello meanwhile); the admin requests carry a socket of their own, on which the
	   keystore sends its answer(s) and then closes it. No secret ever crosses: only hashes */
	KS_CONFIG = 90,   /* str connection string (a postgresql:// URL) */
	KS_VALIDATE = 91, /* str SHA-256 of a bearer token (64 lowercase hex) -> KS_REPLY_OK with
	                        the key's row (common/keyrow.h), its lastUsedAt just recorded, or
	                        KS_REPLY_ERR: ISOL8_E_AUTH "Invalid API key" (unknown, revoked,
	                        expired), ISOL8_E_UNAVAIL when the database cannot answer */
	KS_CREATE = 92,   /* key row, str SHA-256 of the new key | fd: the answer's socket -> OK, empty */
	KS_LIST = 93,     /* str tenant ("" all) | fd -> OK: u8 more, u32 n, n rows; more 1: another
	                        KS_REPLY_OK follows */
	KS_REVOKE = 94,   /* str id, str tenant ("" any) | fd -> OK empty, or ISOL8_E_NOTFOUND */
	KS_PURGE = 95,    /* str tenant ("" all) | fd -> OK: u32 removed (revoked and expired keys) */
	KS_REPLY_OK = 96, /* request-specific payload */
	KS_REPLY_ERR = 97 /* u16 isol8_err code, str message */
};

/* V_POOL_STATE: shapes in one snapshot, and the size of one entry at most */
#define ISOL8_POOL_STATE_MAX 128u
#define ISOL8_POOL_STATE_ENTRY (4u + ISOL8_MAX_TENANT + 1u + 4u + 256u + 8u + 8u + 4u + 1u + 1u + 1u + 4u * 3u)

/* V_KEPT_LIST: entries in one reply (each at most 4 + 64 + 8 bytes) */
#define ISOL8_KEPT_LIST_MAX 512u

/* V_USAGE */
#define USAGE_K_CPU 0x01u
#define USAGE_K_MEM 0x02u
#define USAGE_K_PEAK 0x04u
#define USAGE_K_PEAK_RESET 0x08u /* the peak counts from the last reset, not the sandbox's start */
#define USAGE_K_NET 0x10u        /* network counts are the sandbox's own (none, filtered) */

/* V_AUDIT */
enum isol8_audit_outcome {
	AUDIT_OK = 0,    /* the program ran to its end (any exit code) */
	AUDIT_ERROR = 1, /* the run failed before or around the program (err_code says why) */
	AUDIT_TIMEOUT = 2,
	AUDIT_OOM = 3,
	AUDIT_REFUSED = 4, /* the policy refused it (the broker also wrote a refusal record) */
	AUDIT__MAX
};
#define ISOL8_AUDIT_F_ON 0x01u     /* BR_ASSIGN: the daemon keeps an audit log: send V_AUDIT */
#define ISOL8_AUDIT_F_CODE 0x02u   /* policy audit.includeCode */
#define ISOL8_AUDIT_F_OUTPUT 0x04u /* policy audit.includeOutput */
#define ISOL8_AUDIT_R_STDOUT_TRUNC 0x01u
#define ISOL8_AUDIT_R_STDERR_TRUNC 0x02u
#define ISOL8_AUDIT_R_USAGE 0x04u /* the usage fields are measured (else unknown) */
#define ISOL8_AUDIT_R_NET 0x08u   /* the network fields are measured (filtered sandboxes) */
#define ISOL8_AUDIT_R__ALL 0x0fu
#define ISOL8_AUDIT_MAX_EXEC_ID 40u
#define ISOL8_AUDIT_MAX_ERRMSG 512u
#define ISOL8_AUDIT_MAX_CODE 8192u
#define ISOL8_AUDIT_MAX_OUTPUT 4096u

/* Filtered networking: the proxy's address inside every filtered sandbox, and rule limits. */
#define ISOL8_NET_PROXY_PORT 8118
#define ISOL8_NET_MAX_PATTERNS 64u
#define ISOL8_NET_MAX_PATTERN 256u

/* FE_KEYS actions. create: name, tenant, ttl -> the key object with "key" (shown once); list:
 * tenant ("" all) -> {"keys":[...]}; revoke: id -> {"ok":true,"id"}; purge -> {"ok":true,
 * "removed":N}; login: as create -> {"token","expiresAt","keyId"} (POST /auth/login). */
enum isol8_keys_action { KEYS_CREATE = 1, KEYS_LIST, KEYS_REVOKE, KEYS_PURGE, KEYS_LOGIN, KEYS__MAX };

/* FE_HELLO ops */
enum isol8_hello_op {
	HELLO_RUN = 1,
	HELLO_SESSION_LIST = 2,
	HELLO_SESSION_STOP = 3,
	HELLO_FILE = 4,
	HELLO_AUDIT = 5,    /* answered by the broker itself: WK_FILE with the audit records the
	                      caller may read (root: all; others: their tenant's), then close */
	HELLO_STATUS = 6,   /* answered by the broker itself: WK_FILE with a JSON document (version,
	                      uptime, workers, queue, runs and sandboxes per tenant, policy; root:
	                      every tenant, others their own), then close */
	HELLO_KEYS = 7,     /* answered by the broker itself, for uid 0 only: one FE_KEYS */
	HELLO_AUTH = 8,     /* answered by the broker itself: WK_OK when the hello's identity (a key
	                      store token, FE_HELLO_DBKEY) was accepted; isol8 serve checks a token
	                      with it before answering a request */
	HELLO_METRICS = 9,  /* answered by the broker itself, to root and trusted HTTP frontends only:
	                      WK_FILE with the Prometheus text exposition, then close */
	HELLO_HEALTH = 10,  /* answered by the broker itself, to any peer and before any key check
	                      (a balancer's health check carries no key): WK_HEALTH, then close */
	HELLO_DRAIN = 11,   /* answered by the broker itself, for local root only (isol8 status
	                      --drain): start draining as SIGUSR1 does, then WK_HEALTH */
	HELLO_UNDRAIN = 12, /* the same, cancelling a drain as SIGUSR2 does */
	HELLO_KEPT = 13,    /* routed to the tenant's home worker: one FE_KEPT_LIST or FE_KEPT_REMOVE
	                      (isol8 rm) */
	HELLO__MAX
};

/* WK_HEALTH states: draining (SIGUSR1) refuses new runs and new sessions while the running
 * ones finish; drained is draining with nothing left (isol8d(8), "Drain"). */
enum isol8_node_state { NODE_READY = 0, NODE_DRAINING = 1, NODE_DRAINED = 2, NODE__MAX };

/* V_CREATE kinds */
enum isol8_sandbox_kind { SANDBOX_EPHEMERAL = 0, SANDBOX_SESSION = 1, SANDBOX_PERSIST = 2, SANDBOX__MAX };

/* Session names are used in labels and logs: a strict charset keeps them boring. */
int isol8_valid_session_name(const char *s);

/* ---- the protocol table (rows in common/proto_rows.h, one per message type) ---- */

/* Row flags */
#define ISOL8_MSG_NOREPLY 0x01u /* the receiver answers nothing (the broker handles it inline) */

struct isol8_msg;
struct isol8_err;

struct isol8_proto_row {
	uint8_t type;
	const char *symbol;  /* "FE_HELLO" */
	const char *name;    /* "hello", as errors and logs call it */
	uint8_t from;        /* peer kinds that may send it */
	uint8_t to;          /* peer kinds that receive it */
	uint8_t nfds;        /* exact number of fds it carries */
	uint8_t fd_kinds[3]; /* enum isol8_fd_kind of each of the nfds fds (common/ipc.h) */
	uint32_t min_len;    /* payload bounds, bytes */
	uint32_t max_len;
	uint8_t flags;
};

extern const struct isol8_proto_row isol8_proto[];
extern const unsigned isol8_proto_rows;

/* The row of a type, NULL when no channel carries it. */
const struct isol8_proto_row *isol8_proto_find(uint8_t type);

/* Check m as received by a `receiver` (one peer kind) from a `sender` (the kinds the channel's
 * far end may be): known type, meant for this receiver, permitted from that sender, exact fd
 * count, each fd of its slot's kind, length within bounds. On refusal closes all of m's fds and
 * returns -1 with ISOL8_E_PROTO ("unknown message type 77", "message exec: expected 0 fds, got
 * 1", ...). Which of the accepted types fits the receiver's state is the caller's check. */
int isol8_proto_check(uint8_t receiver, uint8_t sender, struct isol8_msg *m, const struct isol8_proto_row **spec_out,
		      struct isol8_err *err);

/* WK_PHASE: the StreamEvent phases of the original's HTTP API. */
enum { ISOL8_PHASE_SETUP = 1, ISOL8_PHASE_CODE = 2 };

#endif
