/* Allow/deny host rules and the policy's network ceiling on the wire (contract in rules.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "common/xalloc.h"
#include "proxy/addr.h"
#include "proxy/hostpat.h"
#include "proxy/rules.h"

static void free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void net_patterns_free(struct net_patterns *p)
{
	free_list(p->allow, p->n_allow);
	free_list(p->deny, p->n_deny);
	memset(p, 0, sizeof *p);
}

static int get_list(struct isol8_msg *m, const char *what, unsigned max_n, unsigned max_len, char ***out, size_t *n,
		    struct isol8_err *err)
{
	uint32_t cnt;

	if (isol8_get_u32(m, &cnt, err) < 0)
		return -1;
	if (cnt > max_n)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "too many %ss: %u (at most %u)", what, cnt, max_n);
	*out = xcalloc(cnt + 1, sizeof **out);
	for (*n = 0; *n < cnt; (*n)++) {
		char *s = NULL;
		if (isol8_get_str(m, &s, max_len, err) < 0)
			return isol8_err_wrap(err, "%s %zu (at most %u bytes)", what, *n + 1, max_len);
		if (!*s) {
			free(s);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s %zu is empty", what, *n + 1);
		}
		(*out)[*n] = s;
	}
	return 0;
}

static void put_list(struct isol8_buf *b, char *const *l, size_t n)
{
	isol8_put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		isol8_put_str(b, l[i]);
}

int net_patterns_get(struct isol8_msg *m, struct net_patterns *p, struct isol8_err *err)
{
	uint8_t log;

	memset(p, 0, sizeof *p);
	if (get_list(m, "allow pattern", ISOL8_NET_MAX_PATTERNS, ISOL8_NET_MAX_PATTERN, &p->allow, &p->n_allow, err) <
		    0 ||
	    get_list(m, "deny pattern", ISOL8_NET_MAX_PATTERNS, ISOL8_NET_MAX_PATTERN, &p->deny, &p->n_deny, err) < 0 ||
	    isol8_get_u8(m, &log, err) < 0)
		goto fail;
	if (log > 1) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "log flag %u out of range", log);
		goto fail;
	}
	p->log = log;
	return 0;
fail:
	net_patterns_free(p);
	return -1;
}

void net_patterns_put(struct isol8_buf *b, const struct net_patterns *p)
{
	put_list(b, p->allow, p->n_allow);
	put_list(b, p->deny, p->n_deny);
	isol8_put_u8(b, p->log);
}

static int check_list(char *const *l, size_t n, struct isol8_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (hostpat_check(l[i], err) < 0)
			return -1;
	return 0;
}

int net_patterns_check(const struct net_patterns *p, struct isol8_err *err)
{
	return check_list(p->allow, p->n_allow, err) < 0 || check_list(p->deny, p->n_deny, err) < 0 ? -1 : 0;
}

static bool any_match(char *const *l, size_t n, const char *host)
{
	for (size_t i = 0; i < n; i++)
		if (hostpat_match(l[i], host))
			return true;
	return false;
}

bool net_patterns_allow(const struct net_patterns *p, const char *host)
{
	return !any_match(p->deny, p->n_deny, host) && any_match(p->allow, p->n_allow, host);
}

/* ---- the policy's ceiling ------------------------------------------------------------------- */

void net_policy_free(struct net_policy *p)
{
	free_list(p->allow, p->n_allow);
	free_list(p->deny, p->n_deny);
	free(p->ports);
	free_list(p->addrs, p->n_addrs);
	memset(p, 0, sizeof *p);
}

int net_policy_get(struct isol8_msg *m, struct net_policy *p, struct isol8_err *err)
{
	uint32_t cnt;

	memset(p, 0, sizeof *p);
	if (get_list(m, "policy allow", NET_POLICY_MAX_LIST, HOSTPAT_MAX, &p->allow, &p->n_allow, err) < 0 ||
	    get_list(m, "policy deny", NET_POLICY_MAX_LIST, HOSTPAT_MAX, &p->deny, &p->n_deny, err) < 0 ||
	    check_list(p->allow, p->n_allow, err) < 0 || check_list(p->deny, p->n_deny, err) < 0 ||
	    isol8_get_u32(m, &cnt, err) < 0)
		goto fail;
	if (cnt > NET_POLICY_MAX_LIST) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "too many policy ports: %u", cnt);
		goto fail;
	}
	p->ports = xcalloc(cnt + 1, sizeof *p->ports);
	for (p->n_ports = 0; p->n_ports < cnt; p->n_ports++)
		if (isol8_get_u16(m, &p->ports[p->n_ports], err) < 0)
			goto fail;
	if (get_list(m, "policy address", NET_POLICY_MAX_LIST, 64, &p->addrs, &p->n_addrs, err) < 0)
		goto fail;
	for (size_t i = 0; i < p->n_addrs; i++) {
		struct net_cidr c;
		if (net_cidr_parse(p->addrs[i], &c, err) < 0)
			goto fail;
	}
	return 0;
fail:
	net_policy_free(p);
	return -1;
}

void net_policy_put(struct isol8_buf *b, const struct net_policy *p)
{
	put_list(b, p->allow, p->n_allow);
	put_list(b, p->deny, p->n_deny);
	isol8_put_u32(b, (uint32_t)p->n_ports);
	for (size_t i = 0; i < p->n_ports; i++)
		isol8_put_u16(b, p->ports[i]);
	put_list(b, p->addrs, p->n_addrs);
}

bool net_policy_port_ok(const struct net_policy *p, uint16_t port)
{
	for (size_t i = 0; i < p->n_ports; i++)
		if (p->ports[i] == port)
			return true;
	return false;
}
