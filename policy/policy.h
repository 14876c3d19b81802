/* The admin's policy: who may run what, with which ceilings. Loaded by the broker only.
 *
 * File format (JSON, unknown keys are errors, see man/isol8-policy.5):
 * {
 *   "defaultTenant": "local" | null,        // tenant for unmatched callers; null = refuse them
 *   "tenants": {
 *     "<name>": {
 *       "match": { "uids": [0], "gids": [], "keys": ["ci-bot"] },
 *       "onExceed": "clamp" | "refuse",     // request above a ceiling
 *       "limits": { "memory": "512m", "cpu": 1.0, "pids": 64, "timeoutMs": 30000,
 *                   "sandboxSize": "512m", "tmpSize": "256m", "maxOutput": 1048576,
 *                   "maxSessions": 8, "sessionIdleMs": 1800000, "maxConcurrent": 4,
 *                   "maxPersist": 2, "persistTtlMs": 3600000 },
 *       "runtimes": ["python","node","bun","deno","bash"],
 *       "network": ["none","filtered"],
 *       "writableRoot": false,
 *       "customImages": true,              // isol8:<runtime>-custom-* images
 *       "images": ["^myorg/.*$"],          // extra images allowed via --image (POSIX ERE)
 *       "seccomp": "strict",               // only "strict" for now; "unconfined" needs admin
 *       "isolation": "runc" | "runsc",     // OCI runtime of its sandboxes; runsc: gVisor, network none
 *       "hostUid": 20001,                  // all its sandboxes run as 20001:20001 (not from the range)
 *       "networkFilter": { "allow": ["*"], "deny": [], "ports": [80, 443], "allowAddresses": [] },
 *       "remoteCode": { "enabled": false, "allowedSchemes": ["https"], "allowedHosts": ["*"],
 *                       "blockedHosts": [], "ports": [443, 80], "allowAddresses": [],
 *                       "maxCodeSize": 10485760, "fetchTimeoutMs": 30000, "requireHash": false,
 *                       "caFile": null }
 *     }
 *   },
 *   "hostUidRange": { "base": 1879048192, "size": 16777216, "perTenant": 1024 } | null,
 *                                          // a block of perTenant uids per tenant, one uid per sandbox;
 *                                          // null: tenants without hostUid share 100:101
 *   "audit": { "enabled": true, "path": "/var/log/isol8/audit.jsonl" (or "logDir"),
 *              "retentionDays": 90, "maxSize": "64m", "includeCode": false, "includeOutput": false }
 * } */
#ifndef ISOL8_POLICY_H
#define ISOL8_POLICY_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "proxy/rules.h"

enum isol8_net_mode { ISOL8_NET_NONE = 0, ISOL8_NET_FILTERED = 1, ISOL8_NET_HOST = 2, ISOL8_NET__MAX };
/* The values travel in IPC and metrics: a new runtime goes at the end. */
enum isol8_runtime {
	ISOL8_RT_PYTHON = 0,
	ISOL8_RT_NODE,
	ISOL8_RT_BUN,
	ISOL8_RT_DENO,
	ISOL8_RT_BASH,
	ISOL8_RT_AGENT, /* the pi coding agent (isol8:agent): the code is its prompt */
	ISOL8_RT__MAX
};

const char *isol8_runtime_name(int rt);    /* NULL if out of range */
int isol8_runtime_parse(const char *name); /* -1 if unknown */
const char *isol8_net_mode_name(int mode);
int isol8_net_mode_parse(const char *name);

/* The tenant's isolation tier: the engine's OCI runtime for its sandboxes. The names are the
 * runtime names the engine is asked for (HostConfig.Runtime). */
enum isol8_isolation { ISOL8_ISO_RUNC = 0, ISOL8_ISO_RUNSC, ISOL8_ISO__MAX };
/* A request that names no tier (V_CREATE's u8 isolation): the tenant's, from the policy. */
#define ISOL8_ISO_POLICY 255
/* The sandbox user of the images (sandbox/Dockerfile): the host identity of every sandbox only
 * when the policy has "hostUidRange": null and the tenant no "hostUid". */
#define ISOL8_SANDBOX_UID 100u
#define ISOL8_SANDBOX_GID 101u
#define ISOL8_HOST_UID_MIN 10000u
#define ISOL8_HOST_UID_MAX 2147483646u
/* "hostUidRange" by default: 0x70000000, above systemd's container ranges (524288-1879048191)
 * and Debian's subordinate ids, below its foreign range (0x7FFE0000); 16384 blocks of 1024. */
#define ISOL8_UID_RANGE_BASE 1879048192u
#define ISOL8_UID_RANGE_SIZE 16777216u
#define ISOL8_UID_RANGE_PER_TENANT 1024u
const char *isol8_isolation_name(int iso); /* NULL if out of range */

struct isol8_limits {
	uint64_t memory; /* bytes */
	double cpu;      /* cores */
	uint32_t pids;
	uint64_t timeout_ms;
	uint64_t sandbox_size; /* bytes */
	uint64_t tmp_size;     /* bytes */
	uint64_t max_output;   /* bytes per stream */
};

/* A tenant's "remoteCode": whether and what its runs may fetch as code (isol8-policy(5)). Only
 * the policy sets it; a request can narrow maxCodeSize and fetchTimeoutMs, never widen anything. */
struct isol8_remote_policy {
	bool enabled;           /* false */
	bool http_ok, https_ok; /* allowedSchemes ["https"] */
	struct net_policy net;  /* allowedHosts ["*"], blockedHosts [], ports [443, 80], allowAddresses [] */
	uint64_t max_size;      /* maxCodeSize 10 MiB */
	uint64_t timeout_ms;    /* fetchTimeoutMs 30000 */
	bool require_hash;      /* requireHash false */
	char *ca_file;          /* caFile: PEM bundle trusted instead of the system's; NULL: the system's */
};

struct isol8_tenant {
	char *name;
	uid_t *uids;
	size_t n_uids;
	gid_t *gids;
	size_t n_gids;
	char **keys;
	size_t n_keys;
	bool refuse_on_exceed; /* "onExceed": "refuse" */
	struct isol8_limits ceil;
	uint32_t max_sessions;
	uint64_t session_idle_ms;
	uint32_t max_concurrent;
	bool persist_ok;         /* "persist": may keep sandboxes after the run (--persist) */
	uint32_t max_persist;    /* limits.maxPersist: persisted sandboxes at once */
	uint64_t persist_ttl_ms; /* limits.persistTtlMs: a persisted sandbox's lifetime after its run's timeout */
	uint32_t runtimes_mask;  /* bit per enum isol8_runtime */
	uint32_t network_mask;   /* bit per enum isol8_net_mode */
	bool writable_root;
	bool custom_images;
	regex_t *images;
	size_t n_images;
	char **image_patterns;
	bool seccomp_unconfined_ok;
	int isolation; /* enum isol8_isolation; set by the policy only, never by a request */
	/* The sandboxes' host identity. host_uids 1: every sandbox is host_uid:host_gid ("hostUid"
	 * N:N, or 100:101 without a range); more: the tenant's block of the policy's hostUidRange,
	 * each sandbox one uid of [host_uid, host_uid + host_uids) with gid = uid (the broker picks
	 * a free one at create, broker/table.c). */
	uint32_t host_uid, host_gid, host_uids;
	bool host_uid_set;                 /* "hostUid" given */
	struct net_policy net;             /* "networkFilter": ceiling for filtered sandboxes */
	struct isol8_remote_policy remote; /* "remoteCode" */
	bool admin;                        /* "admin": its callers see every tenant (status, audit show) */
};

/* isol8d's audit log (broker/audit.c). */
struct isol8_audit_policy {
	bool enabled;            /* default true */
	char *path;              /* NULL: the daemon's default (isol8d --audit-log, else its own) */
	uint32_t retention_days; /* rotated files older than this are removed at rotation; 0 = kept */
	uint64_t max_size;       /* rotate when the file reaches this many bytes; 0 = never */
	bool include_code;       /* records carry the code (capped), not only its hash */
	bool include_output;     /* records carry the head of stdout and stderr */
	bool sync;               /* fdatasync(2) after each record: none lost in a crash, slower */
};
void isol8_audit_policy_defaults(struct isol8_audit_policy *a);

struct isol8_policy {
	struct isol8_tenant *tenants;
	size_t n_tenants;
	int default_tenant; /* index or -1 */
	char *source;       /* path or "built-in" */
	/* "hostUidRange": [uid_base, uid_base + uid_size) in blocks of uid_per_tenant; uid_size 0
	 * when null (tenants without hostUid share 100:101). */
	uint32_t uid_base, uid_size, uid_per_tenant;
	struct isol8_audit_policy audit;
	/* Some tenant says "admin" (true or false): the marks decide who is an admin. Without any,
	 * the rule before the mark existed: local root (uid 0, not through an API key). */
	bool admin_marked;
};

/* Whether a caller of tenant (an index, -1 when none) sees every tenant's figures and records;
 * local_root: uid 0 on the socket, not acting for an API key. */
bool isol8_policy_is_admin(const struct isol8_policy *p, int tenant, bool local_root);

/* Defaults of a request with no flags (spec defaults): 512m, 1.0, 64, 30000, 512m, 256m, 1 MiB. */
void isol8_limits_defaults(struct isol8_limits *l);

/* Parse JSON text. Errors name the JSON path: "policy.json: tenants.ci.limits.memory: invalid size \"12x\"". */
int isol8_policy_parse(const char *json_text, const char *source, struct isol8_policy *p, struct isol8_err *err);
int isol8_policy_load_file(const char *path, struct isol8_policy *p, struct isol8_err *err);
/* isol8d --check-policy: like isol8_policy_load_file, but every error found is passed to report
 * (one message each, "tenants.ci.limits.memory: ...", without the file name) instead of only
 * the first; -1 when there was any. */
int isol8_policy_check_file(const char *path, void (*report)(void *ctx, const char *msg), void *ctx,
			    struct isol8_policy *p, struct isol8_err *err);
/* Built-in default: uid 0 -> "admin" (generous ceilings, host network and writable root
 * allowed); everyone else -> "local" (spec defaults as ceilings, none/filtered network,
 * seccomp always on); HTTP keys map to "local" unless listed. */
void isol8_policy_builtin(struct isol8_policy *p);
void isol8_policy_free(struct isol8_policy *p);

/* Tenant for a local peer (uid first, then gids incl. supplementary of the uid), or the
 * default; NULL when refused. */
const struct isol8_tenant *isol8_policy_match_local(const struct isol8_policy *p, uid_t uid, gid_t gid);
const struct isol8_tenant *isol8_policy_match_key(const struct isol8_policy *p, const char *key_name);

/* Apply ceilings to a requested set of limits in place. Clamp or refuse per tenant setting;
 * a refusal names the field and both values ("memory 2g exceeds tenant local ceiling 512m"). */
int isol8_policy_apply_limits(const struct isol8_tenant *t, struct isol8_limits *req, struct isol8_err *err);
/* A persisted sandbox's lifetime after its run's timeout: 0 (not asked) becomes the ceiling
 * limits.persistTtlMs; more than the ceiling is clamped or refused as onExceed says. */
int isol8_policy_apply_persist_ttl(const struct isol8_tenant *t, uint64_t *ttl_ms, struct isol8_err *err);
int isol8_policy_check_runtime(const struct isol8_tenant *t, int rt, struct isol8_err *err);
int isol8_policy_check_network(const struct isol8_tenant *t, int mode, struct isol8_err *err);
/* The tier of a run: requested is ISOL8_ISO_POLICY (the tenant's) or a tier a run asked for
 * (--isolation, options.isolation), which may be stronger than the tenant's, never weaker
 * (runc asked by a runsc tenant: ISOL8_E_POLICY); runsc has no network (net_mode none only).
 * 0 and *out, or -1 with err set. */
int isol8_policy_check_isolation(const struct isol8_tenant *t, int requested, int net_mode, int *out,
				 struct isol8_err *err);
/* image: the final image name; rt: runtime it is used for. Allowed: isol8:<rt>, custom
 * isol8:<rt>-custom-<hex12> when custom_images, or a match of the tenant's images patterns. */
int isol8_policy_check_image(const struct isol8_tenant *t, int rt, const char *image, struct isol8_err *err);

#endif
