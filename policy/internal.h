/* Shared between the policy loader, the built-in policy and the checks; not a public API. */
#ifndef ISOL8_POLICY_INTERNAL_H
#define ISOL8_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "policy/policy.h"

#define POLICY_ALL_RUNTIMES ((1u << ISOL8_RT__MAX) - 1u)
#define POLICY_MAX_FILE (1024u * 1024u)

/* Defaults for a tenant field the file leaves out: the built-in "local" tenant, i.e. the
 * least a policy author can have meant. name is copied. */
void policy_tenant_defaults(struct isol8_tenant *t, const char *name);
/* Compile an image pattern anchored at both ends ("^(pat)$"), so "myorg/.*" cannot match
 * "evil/myorg/x". Returns 0, or a regcomp error code with the message in errbuf. */
int policy_compile_image(const char *pattern, regex_t *re, char *errbuf, size_t errlen);
/* Append a compiled pattern to t (takes ownership of re, copies pattern). */
void policy_add_image(struct isol8_tenant *t, const char *pattern, const regex_t *re);
/* Number of online CPUs ("cpu": "all"), at least 1. */
double policy_all_cpus(void);
void policy_tenant_free(struct isol8_tenant *t);
/* netfilter.c: the defaults (allow "*", no deny, ports 80 and 443, no non-global addresses)
 * and the "networkFilter" member of a tenant. */
void policy_net_defaults(struct net_policy *n);
int policy_parse_netfilter(json_object *o, const char *path, struct isol8_tenant *t, struct isol8_err *err);
/* o[key]: host patterns (made canonical) or, with cidr, address ranges; at most
 * NET_POLICY_MAX_LIST. Absent: *out unchanged. */
int policy_get_list(json_object *o, const char *path, const char *key, bool cidr, char ***out, size_t *n,
		    struct isol8_err *err);
/* remote.c: the defaults (disabled) and the "remoteCode" member of a tenant. */
void policy_remote_defaults(struct isol8_remote_policy *r);
int policy_parse_remote(json_object *o, const char *path, struct isol8_tenant *t, struct isol8_err *err);
void policy_remote_free(struct isol8_remote_policy *r);
/* audit.c: the top-level "audit" member. */
int policy_parse_audit(json_object *o, const char *path, struct isol8_audit_policy *a, struct isol8_err *err);
/* hostuid.c: the top-level "hostUidRange" (defaults when absent, none when null), and the
 * tenants' blocks of it, after the tenants are parsed. */
void policy_uid_range_defaults(struct isol8_policy *p);
int policy_parse_uid_range(json_object *root, struct isol8_policy *p, struct isol8_err *err);
int policy_assign_host_uids(struct isol8_policy *p, struct isol8_err *err);

#endif
