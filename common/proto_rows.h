/* The protocol table: one row per message type of every isol8 channel. Every receiver checks
 * what it reads against it (isol8_proto_check, common/proto.h) before parsing a byte; payload
 * layouts are next to the types in common/proto.h and common/agent_proto.h, and
 * man/isol8-protocol.7 lists the rows (tests/unit/check_proto fails when the two disagree).
 *
 * ROW(type, name, from, to, fds, min_len, max_len, flags, broker handler)
 *   from, to  peer kinds (PEER_*) that may send it and that receive it
 *   fds       FDS0, or FDS1/FDS3 with the kind each slot must be (enum isol8_fd_kind)
 *   handler   for the broker's verbs the function in broker/verbs.c that serves it; NULL for
 *             everything else. Only broker/verbs.c expands this column.
 *
 * A macro rather than an array so that the broker can take its handlers from the same rows,
 * while the other programs (the in-sandbox agent among them) link the table without them. */
#ifndef ISOL8_PROTO_ROWS_H
#define ISOL8_PROTO_ROWS_H

#include "common/agent_proto.h"
#include "common/ipc.h"
#include "common/keyrow.h"
#include "common/proto.h"

#define FDS0 .nfds = 0
#define FDS1(a) .nfds = 1, .fd_kinds = {a}
#define FDS3(a, b, c) .nfds = 3, .fd_kinds = {a, b, c}

#define ISOL8_STR(n) (4u + (n)) /* a str field of n bytes */
#define ISOL8_ANY ISOL8_IPC_MAX_PAYLOAD
#define ISOL8_ERR_MIN (2u + ISOL8_STR(0)) /* u16 code, str message */
#define ISOL8_ERR_MAX (2u + ISOL8_STR(ISOL8_MAX_ERROR_MSG))
#define ISOL8_ID_MAX ISOL8_STR(ISOL8_MAX_ID)
#define ISOL8_KEPT_MIN ISOL8_STR(12) /* a kept container's id or its prefix: 12 to 64 hex digits */
#define ISOL8_KEPT_MAX ISOL8_STR(64)
#define ISOL8_TENANT_MAX ISOL8_STR(ISOL8_MAX_TENANT)
/* BR_ASSIGN without its strings: token, op, 3 str lengths, uid, gid, pid, max_sessions, idle,
   audit flags */
#define ISOL8_ASSIGN_FIXED (4u + 1u + 4u * 3u + 4u * 4u + 8u + 1u)
/* V_AUDIT without its strings and meta entries: token, 2 str lengths, outcome, exit code,
   err_code, err_msg length, 2 u64, flags, 7 u64, 2 u32, code_hash length, n_meta, 3 str lengths;
   the execution id has at least one byte */
#define ISOL8_AUDIT_FIXED (4u + 4u * 2u + 1u + 4u + 2u + 4u + 8u * 2u + 1u + 8u * 7u + 4u * 2u + 4u + 4u + 4u * 3u)
/* V_CREATE without its strings: token, runtime, 3 str lengths, 6 u64, pids, 3 u8, persist ttl,
 * isolation */
#define ISOL8_CREATE_FIXED (4u + 1u + 4u * 3u + 8u * 6u + 4u + 3u + 8u + 1u)

#define ISOL8_PROTO_ROWS(ROW)                                                                                          \
	/* frontend -> broker (the front door), or -> the connector of isol8 serve */                                  \
	ROW(FE_HELLO, "hello", PEER_FRONTEND, PEER_BROKER | PEER_CONNECTOR, FDS0, 1 + ISOL8_STR(0),                    \
	    1 + ISOL8_STR(ISOL8_MAX_SESSION), 0, NULL)                                                                 \
	ROW(FE_HELLO_KEY, "hello-key", PEER_FRONTEND, PEER_BROKER | PEER_CONNECTOR, FDS0,                              \
	    1 + ISOL8_STR(0) + ISOL8_STR(1) + ISOL8_STR(ISOL8_KEY_ID_LEN),                                             \
	    1 + ISOL8_STR(ISOL8_MAX_SESSION) + ISOL8_STR(ISOL8_MAX_KEY_NAME) + ISOL8_STR(ISOL8_KEY_ID_LEN), 0, NULL)   \
	ROW(FE_HELLO_DBKEY, "hello-dbkey", PEER_FRONTEND, PEER_BROKER | PEER_CONNECTOR, FDS0,                          \
	    1 + ISOL8_STR(0) + ISOL8_STR(64), 1 + ISOL8_STR(ISOL8_MAX_SESSION) + ISOL8_STR(64), 0, NULL)               \
	ROW(FE_KEYS, "keys", PEER_FRONTEND, PEER_BROKER, FDS0, 1 + ISOL8_STR(0) * 3 + 8,                               \
	    1 + ISOL8_STR(ISOL8_MAX_KEY_NAME) + ISOL8_STR(ISOL8_MAX_TENANT) + 8 + ISOL8_STR(36), 0, NULL)              \
	/* frontend -> worker. The client's stdout/stderr are only written to; the bundle is read with a    \
	   cap; the live stdin becomes the program's fd 0, so nothing but an anonymous pipe's read end */          \
	ROW(FE_RUN, "run", PEER_FRONTEND, PEER_WORKER, FDS3(ISOL8_FD_OUTPUT, ISOL8_FD_OUTPUT, ISOL8_FD_MEMFD), 2,      \
	    ISOL8_ANY, 0, NULL)                                                                                        \
	ROW(FE_SESSION_LIST, "session-list", PEER_FRONTEND, PEER_WORKER, FDS0, 0, 0, 0, NULL)                          \
	ROW(FE_SESSION_STOP, "session-stop", PEER_FRONTEND, PEER_WORKER, FDS0, ISOL8_STR(1),                           \
	    ISOL8_STR(ISOL8_MAX_SESSION), 0, NULL)                                                                     \
	ROW(FE_FILE_PUT, "file-put", PEER_FRONTEND, PEER_WORKER, FDS1(ISOL8_FD_MEMFD), ISOL8_STR(1) + ISOL8_STR(1),    \
	    ISOL8_STR(ISOL8_MAX_SESSION) + ISOL8_STR(ISOL8_MAX_PATH), 0, NULL)                                         \
	ROW(FE_FILE_GET, "file-get", PEER_FRONTEND, PEER_WORKER, FDS0, ISOL8_STR(1) + ISOL8_STR(1),                    \
	    ISOL8_STR(ISOL8_MAX_SESSION) + ISOL8_STR(ISOL8_MAX_PATH), 0, NULL)                                         \
	ROW(FE_SIGNAL, "signal", PEER_FRONTEND, PEER_WORKER, FDS0, 1, 1, ISOL8_MSG_NOREPLY, NULL)                      \
	ROW(FE_STDIN, "stdin", PEER_FRONTEND, PEER_WORKER, FDS1(ISOL8_FD_PIPE_R), 0, 0, ISOL8_MSG_NOREPLY, NULL)       \
	ROW(FE_KEPT_LIST, "kept-list", PEER_FRONTEND, PEER_WORKER, FDS0, 0, 0, 0, NULL)                                \
	ROW(FE_KEPT_REMOVE, "kept-remove", PEER_FRONTEND, PEER_WORKER, FDS0, ISOL8_KEPT_MIN, ISOL8_KEPT_MAX, 0, NULL)  \
	/* worker -> frontend; WK_ERROR also from the broker (a refused hello) and the connector,         \
	   WK_FILE from the broker (isol8 audit show), WK_HEALTH only from it. The worker may be another   \
	   tenant's compromised process: its fds are read only as sealed memfds */            \
	ROW(WK_RESULT, "result", PEER_WORKER, PEER_FRONTEND, FDS0, 0, ISOL8_ANY, 0, NULL)                              \
	ROW(WK_ERROR, "error", PEER_WORKER | PEER_BROKER | PEER_CONNECTOR, PEER_FRONTEND, FDS0, ISOL8_ERR_MIN,         \
	    ISOL8_ERR_MAX, 0, NULL)                                                                                    \
	ROW(WK_FILE, "file", PEER_WORKER | PEER_BROKER, PEER_FRONTEND, FDS1(ISOL8_FD_MEMFD), 0, 0, 0, NULL)            \
	ROW(WK_SESSIONS, "sessions", PEER_WORKER, PEER_FRONTEND, FDS0, 0, ISOL8_ANY, 0, NULL)                          \
	ROW(WK_OK, "ok", PEER_WORKER | PEER_BROKER, PEER_FRONTEND, FDS0, 0, 0, 0, NULL)                                \
	ROW(WK_PHASE, "phase", PEER_WORKER, PEER_FRONTEND, FDS0, 1, 1, 0, NULL)                                        \
	ROW(WK_OUTPUT, "output", PEER_WORKER, PEER_FRONTEND, FDS0, 2, ISOL8_ANY, 0, NULL)                              \
	ROW(CN_CONNECTED, "connected", PEER_CONNECTOR, PEER_FRONTEND, FDS1(ISOL8_FD_SEQPACKET), 0, 0, 0, NULL)         \
	ROW(WK_HEALTH, "health", PEER_BROKER, PEER_FRONTEND, FDS0, 1 + 4 + 4, 1 + 4 + 4, 0, NULL)                      \
	/* broker -> worker */                                                                                         \
	ROW(BR_ASSIGN, "assign", PEER_BROKER, PEER_WORKER, FDS1(ISOL8_FD_SEQPACKET), ISOL8_ASSIGN_FIXED,               \
	    ISOL8_ASSIGN_FIXED + ISOL8_MAX_TENANT + ISOL8_MAX_PRINCIPAL + ISOL8_MAX_SESSION, 0, NULL)                  \
	ROW(BR_REPLY_OK, "reply-ok", PEER_BROKER, PEER_WORKER, FDS0, 0, ISOL8_ANY, 0, NULL)                            \
	ROW(BR_REPLY_OK_FD, "reply-ok-fd", PEER_BROKER, PEER_WORKER, FDS1(ISOL8_FD_SOCKET), 0, ISOL8_ANY, 0, NULL)     \
	ROW(BR_REPLY_ERR, "reply-error", PEER_BROKER, PEER_WORKER, FDS0, ISOL8_ERR_MIN, ISOL8_ERR_MAX, 0, NULL)        \
	ROW(BR_SHUTDOWN, "shutdown", PEER_BROKER, PEER_WORKER, FDS0, 0, 0, 0, NULL)                                    \
	ROW(BR_PREWARM, "prewarm", PEER_BROKER, PEER_WORKER, FDS0, 4 + ISOL8_STR(0) + 1,                               \
	    4 + ISOL8_STR(ISOL8_MAX_TENANT) + 1, 0, NULL)                                                              \
	ROW(BR_POOL_DRAIN, "pool-drain", PEER_BROKER, PEER_WORKER, FDS0, ISOL8_STR(1), ISOL8_TENANT_MAX, 0, NULL)      \
	/* worker -> broker: the verbs, the only Docker operations a worker can ask for */                             \
	ROW(V_CREATE, "create-sandbox", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_CREATE_FIXED,                            \
	    ISOL8_CREATE_FIXED + 2 * ISOL8_MAX_IMAGE + ISOL8_MAX_SESSION, 0, verb_create)                              \
	ROW(V_START, "start", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, verb_start)               \
	ROW(V_EXEC, "exec", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1) + 4 + ISOL8_STR(1) + 4 + ISOL8_STR(1) + 1,    \
	    ISOL8_ANY, 0, verb_exec)                                                                                   \
	ROW(V_EXEC_STATUS, "exec-status", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0,               \
	    verb_exec_status)                                                                                          \
	ROW(V_INSPECT, "inspect", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, verb_inspect)         \
	ROW(V_KILL, "kill", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1) + 1, ISOL8_ID_MAX + 1, 0, verb_kill)          \
	ROW(V_REMOVE, "remove", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, verb_remove)            \
	ROW(V_NET_RULES, "apply-network-rules", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1) + 4 + 4 + 1, ISOL8_ANY,   \
	    0, verb_net_rules)                                                                                         \
	ROW(V_LIST_OWN, "list-own", PEER_WORKER, PEER_BROKER, FDS0, 0, 0, 0, verb_list_own)                            \
	ROW(V_LOG, "log", PEER_WORKER, PEER_BROKER, FDS0, 1 + ISOL8_STR(0), 1 + ISOL8_STR(ISOL8_MAX_LOG_LINE),         \
	    ISOL8_MSG_NOREPLY, verb_log)                                                                               \
	ROW(V_CONN_DONE, "conn-done", PEER_WORKER, PEER_BROKER, FDS0, 4, 4, ISOL8_MSG_NOREPLY, verb_conn_done)         \
	ROW(V_NET_LOGS, "network-logs", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, verb_net_logs)  \
	ROW(V_RENEW, "renew", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1) + 8, ISOL8_ID_MAX + 8, 0, verb_renew)       \
	ROW(V_REPLACE, "replace", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, verb_replace)         \
	ROW(V_USAGE, "usage", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_STR(1) + 1, ISOL8_ID_MAX + 1, 0, verb_usage)       \
	ROW(V_KEPT_LIST, "kept-list-own", PEER_WORKER, PEER_BROKER, FDS0, 4, 4, 0, verb_kept_list)                     \
	ROW(V_KEPT_REMOVE, "kept-remove-own", PEER_WORKER, PEER_BROKER, FDS0, 4 + ISOL8_KEPT_MIN, 4 + ISOL8_KEPT_MAX,  \
	    0, verb_kept_remove)                                                                                       \
	ROW(V_FETCH, "fetch-code", PEER_WORKER, PEER_BROKER, FDS0, 4 + ISOL8_STR(1) + ISOL8_STR(0) + 1 + 8 + 8,        \
	    4 + ISOL8_STR(ISOL8_REMOTE_MAX_URL) + ISOL8_STR(64) + 1 + 8 + 8, 0, verb_fetch)                            \
	ROW(V_AUDIT, "audit", PEER_WORKER, PEER_BROKER, FDS0, ISOL8_AUDIT_FIXED + 1, ISOL8_ANY, ISOL8_MSG_NOREPLY,     \
	    verb_audit)                                                                                                \
	ROW(V_POOL_STATE, "pool-state", PEER_WORKER, PEER_BROKER, FDS0, 4,                                             \
	    4 + ISOL8_POOL_STATE_MAX * ISOL8_POOL_STATE_ENTRY, ISOL8_MSG_NOREPLY, verb_pool_state)                     \
	/* broker -> proxy, and its answers */                                                                         \
	ROW(PX_LISTEN, "proxy-listen", PEER_BROKER, PEER_PROXY, FDS1(ISOL8_FD_LISTEN_TCP),                             \
	    ISOL8_STR(1) + 4 + 4 + 1 + ISOL8_STR(0) + 4 * 4 + 4, ISOL8_ANY, 0, NULL)                                   \
	ROW(PX_DROP, "proxy-drop", PEER_BROKER, PEER_PROXY, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, NULL)                 \
	ROW(PX_LOGS, "proxy-logs", PEER_BROKER, PEER_PROXY, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, NULL)                 \
	ROW(PX_COUNTS, "proxy-counts", PEER_BROKER, PEER_PROXY, FDS0, 0, 0, 0, NULL)                                   \
	ROW(PX_STATS, "proxy-stats", PEER_BROKER, PEER_PROXY, FDS0, ISOL8_STR(1), ISOL8_ID_MAX, 0, NULL)               \
	ROW(PX_REPLY_OK, "proxy-reply-ok", PEER_PROXY, PEER_BROKER, FDS0, 0, ISOL8_ANY, 0, NULL)                       \
	ROW(PX_REPLY_ERR, "proxy-reply-error", PEER_PROXY, PEER_BROKER, FDS0, ISOL8_ERR_MIN, ISOL8_ERR_MAX, 0, NULL)   \
	/* broker -> keystore, and its answers */                                                                      \
	ROW(KS_CONFIG, "keystore-config", PEER_BROKER, PEER_KEYSTORE, FDS0, ISOL8_STR(1), ISOL8_STR(4096), 0, NULL)    \
	ROW(KS_VALIDATE, "keystore-validate", PEER_BROKER, PEER_KEYSTORE, FDS0, ISOL8_STR(64), ISOL8_STR(64), 0, NULL) \
	ROW(KS_CREATE, "keystore-create", PEER_BROKER, PEER_KEYSTORE, FDS1(ISOL8_FD_SEQPACKET),                        \
	    KEYROW_MIN + ISOL8_STR(64), KEYROW_MAX + ISOL8_STR(64), 0, NULL)                                           \
	ROW(KS_LIST, "keystore-list", PEER_BROKER, PEER_KEYSTORE, FDS1(ISOL8_FD_SEQPACKET), ISOL8_STR(0),              \
	    ISOL8_TENANT_MAX, 0, NULL)                                                                                 \
	ROW(KS_REVOKE, "keystore-revoke", PEER_BROKER, PEER_KEYSTORE, FDS1(ISOL8_FD_SEQPACKET),                        \
	    ISOL8_STR(0) + ISOL8_STR(0), ISOL8_STR(36) + ISOL8_TENANT_MAX, 0, NULL)                                    \
	ROW(KS_PURGE, "keystore-purge", PEER_BROKER, PEER_KEYSTORE, FDS1(ISOL8_FD_SEQPACKET), ISOL8_STR(0),            \
	    ISOL8_TENANT_MAX, 0, NULL)                                                                                 \
	ROW(KS_REPLY_OK, "keystore-reply-ok", PEER_KEYSTORE, PEER_BROKER, FDS0, 0, ISOL8_ANY, 0, NULL)                 \
	ROW(KS_REPLY_ERR, "keystore-reply-error", PEER_KEYSTORE, PEER_BROKER, FDS0, ISOL8_ERR_MIN, ISOL8_ERR_MAX, 0,   \
	    NULL)                                                                                                      \
	/* worker -> in-sandbox agent: the program's stdin (read end), stdout and stderr (write ends) */               \
	ROW(A_RUN, "agent-run", PEER_WORKER, PEER_AGENT, FDS3(ISOL8_FD_PIPE_R, ISOL8_FD_PIPE_W, ISOL8_FD_PIPE_W),      \
	    8 + 4 + 4 + ISOL8_STR(0), ISOL8_ANY, 0, NULL)                                                              \
	ROW(A_KILL, "agent-kill", PEER_WORKER, PEER_AGENT, FDS0, 1, 1, 0, NULL)                                        \
	ROW(A_RESET, "agent-reset", PEER_WORKER, PEER_AGENT, FDS0, 0, 0, 0, NULL)                                      \
	ROW(A_WARM, "agent-warm", PEER_WORKER, PEER_AGENT, FDS0, 4 + 4, ISOL8_ANY, 0, NULL)                            \
	ROW(A_RUN_WARM, "agent-run-warm", PEER_WORKER, PEER_AGENT, FDS0, 8 + ISOL8_STR(0),                             \
	    8 + ISOL8_STR(ISOL8_AGENT_MAX_JOB), 0, NULL)                                                               \
	/* agent -> worker: as untrusted as the code the agent runs. The standby's stdin (we write),       \
	   stdout and stderr (we read) */           \
	ROW(A_READY, "agent-ready", PEER_AGENT, PEER_WORKER, FDS0, 8, 8, 0, NULL)                                      \
	ROW(A_STARTED, "agent-started", PEER_AGENT, PEER_WORKER, FDS0, 4, 4, 0, NULL)                                  \
	ROW(A_EXIT, "agent-exit", PEER_AGENT, PEER_WORKER, FDS0, 4 + 2 + 8 * 4, 4 + 2 + 8 * 4, 0, NULL)                \
	ROW(A_DONE, "agent-done", PEER_AGENT, PEER_WORKER, FDS0, 4, 4, 0, NULL)                                        \
	ROW(A_ERROR, "agent-error", PEER_AGENT, PEER_WORKER, FDS0, ISOL8_STR(0), ISOL8_STR(ISOL8_AGENT_MAX_ERROR), 0,  \
	    NULL)                                                                                                      \
	ROW(A_HANDOFF, "agent-handoff", PEER_AGENT, PEER_WORKER,                                                       \
	    FDS3(ISOL8_FD_PIPE_W, ISOL8_FD_PIPE_R, ISOL8_FD_PIPE_R), 4, 4, 0, NULL)

#endif
