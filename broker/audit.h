/* isol8d's audit log: one JSON line per execution, per refusal and per clamp, chained with
 * SHA-256 (common/audit.h). Written by the broker only; the worker contributes what only it
 * knows through V_AUDIT, validated here field by field. */
#ifndef ISOL8_BROKER_AUDIT_H
#define ISOL8_BROKER_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/ipc.h"
#include "policy/policy.h"

struct broker;
struct create_req;
struct net_patterns;

#define AUDIT_DEFAULT_PATH "/var/log/isol8/audit.jsonl"

/* Which file: --audit-log, else the policy's audit.path, else AUDIT_DEFAULT_PATH for the
 * system socket and SOCKET.audit.jsonl for any other (a test daemon keeps its own, like its
 * SOCKET.lock). NULL when the policy disables the log and no --audit-log is given. */
const char *audit_path(const struct broker *b);
/* Open or create the log (mode 0640, group adm), lock it for this daemon's life, continue the
 * chain from its last record and write a "start" record. path NULL: disabled. */
int audit_open(struct broker *b, const char *path, struct isol8_err *err);
/* After a policy reload: take its audit choices, and follow a change of file (see audit.c). */
void audit_reload(struct broker *b);
/* Write a "stop" record and log the last seq and hash. */
void audit_close(void);
/* BR_ASSIGN's audit byte (ISOL8_AUDIT_F_*). */
uint8_t audit_assign_flags(const struct broker *b);

/* What the broker itself knows of a sandbox, kept until it is removed. */
void audit_note_sandbox(const char *id, const struct create_req *r);
void audit_note_net(const char *id, const struct net_patterns *p);
void audit_forget(const char *id);

/* A request refused by the policy. tenant: index, or -1 when no tenant matched. action names
 * what was refused ("connect", "create-sandbox"). */
void audit_refusal(const struct broker *b, int tenant, const char *principal, uid_t uid, gid_t gid, const char *action,
		   const struct isol8_err *why);
/* The same for a verb carrying a connection token. */
void audit_refusal_token(const struct broker *b, unsigned worker, uint32_t gen, uint32_t token, const char *action,
			 const struct isol8_err *why);
/* A request whose limits the policy lowered (onExceed "clamp"). */
void audit_clamp(const struct broker *b, unsigned worker, uint32_t gen, uint32_t token, const char *container,
		 const struct isol8_limits *asked, const struct isol8_limits *applied);
/* V_AUDIT from a worker (already checked against the verb table). */
int audit_execution(struct broker *b, unsigned worker, uint32_t gen, struct isol8_msg *m, struct isol8_err *err);
/* HELLO_AUDIT: send the records the peer may read as WK_FILE on fd (then the caller closes
 * it). tenant: its tenant's name (copied), NULL for all. Runs in its own thread; takes
 * ownership of fd. */
void audit_serve_show(struct broker *b, int fd, const char *tenant);

#endif
