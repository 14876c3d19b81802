/* Network rules of a filtered sandbox: host-pattern allow and deny lists (syntax in hostpat.h),
 * always matched against the whole host name. Deny wins; an empty allow list allows nothing.
 * Shared by the broker (which validates a worker's V_NET_RULES, compiling nothing) and
 * isol8-proxy (which enforces). The admin's policy adds a second pair of lists, the allowed
 * ports and the non-global destinations it permits (struct net_policy): a request must pass
 * both pairs, so a caller can only narrow what the policy allows. */
#ifndef ISOL8_PROXY_RULES_H
#define ISOL8_PROXY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/ipc.h"

struct net_patterns {
	char **allow;
	size_t n_allow;
	char **deny;
	size_t n_deny;
	bool log;
};

/* Read "u32 n_allow, str allow[], u32 n_deny, str deny[], u8 log" at m's cursor (the part of
 * V_NET_RULES / PX_LISTEN after the container id). Checks counts and lengths (ISOL8_E_USAGE,
 * naming the list) but not the syntax. On failure *p is empty. */
int net_patterns_get(struct isol8_msg *m, struct net_patterns *p, struct isol8_err *err);
void net_patterns_put(struct isol8_buf *b, const struct net_patterns *p);
void net_patterns_free(struct net_patterns *p);

/* Every pattern canonical (hostpat_check)? ISOL8_E_USAGE naming the first that is not. */
int net_patterns_check(const struct net_patterns *p, struct isol8_err *err);
/* host: lower-case name or address literal, no port. Deny first, then allow. */
bool net_patterns_allow(const struct net_patterns *p, const char *host);

/* The tenant's ceiling from the policy (isol8-policy(5) "networkFilter"). */
#define NET_POLICY_MAX_LIST 32u
struct net_policy {
	char **allow;
	size_t n_allow; /* hosts ever allowed (policy default: "*") */
	char **deny;
	size_t n_deny; /* hosts never allowed */
	uint16_t *ports;
	size_t n_ports; /* destination ports (policy default: 80, 443) */
	char **addrs;
	size_t n_addrs; /* CIDRs of non-global destinations the admin permits */
};
/* "u32 n, str allow[], u32 n, str deny[], u32 n, u16 port[], u32 n, str cidr[]" (PX_LISTEN).
 * get checks counts, lengths, pattern syntax and CIDRs; on failure *p is empty. */
int net_policy_get(struct isol8_msg *m, struct net_policy *p, struct isol8_err *err);
void net_policy_put(struct isol8_buf *b, const struct net_policy *p);
void net_policy_free(struct net_policy *p);
bool net_policy_port_ok(const struct net_policy *p, uint16_t port);

/* PX_LISTEN ends with the Docker networks' subnets, which the proxy refuses unless the policy
 * permits them: "u32 n, str cidr[n]", n at most NET_MAX_DOCKER_NETS. */
#define NET_MAX_DOCKER_NETS 128u

#endif
