/* Network rules of a filtered sandbox: POSIX ERE allow and deny lists applied to host names.
 * Deny wins; an empty allow list allows nothing. Shared by the broker (which validates a
 * worker's V_NET_RULES before anything else happens) and isol8-proxy (which enforces). */
#ifndef ISOL8_PROXY_RULES_H
#define ISOL8_PROXY_RULES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/ipc.h"

struct net_patterns {
	char **allow; size_t n_allow;
	char **deny; size_t n_deny;
	bool log;
};

struct net_rules {
	regex_t *allow; size_t n_allow;
	regex_t *deny; size_t n_deny;
};

/* Read "u32 n_allow, str allow[], u32 n_deny, str deny[], u8 log" at m's cursor (the part of
 * V_NET_RULES / PX_LISTEN after the container id). Checks counts and lengths (ISOL8_E_USAGE,
 * naming the list) but not the syntax. On failure *p is empty. */
int net_patterns_get(struct isol8_msg *m, struct net_patterns *p, struct isol8_err *err);
void net_patterns_put(struct isol8_buf *b, const struct net_patterns *p);
void net_patterns_free(struct net_patterns *p);

/* Compile every pattern with REG_EXTENDED|REG_NOSUB|REG_ICASE. A pattern that does not compile
 * is an ISOL8_E_USAGE error naming it and regerror()'s reason. On failure *r is empty. */
int net_rules_compile(struct net_rules *r, const struct net_patterns *p, struct isol8_err *err);
/* host: lower-case name or address literal, no port. */
bool net_rules_allow(const struct net_rules *r, const char *host);
void net_rules_free(struct net_rules *r);

#endif
