/* Allow/deny host rules (contract in rules.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "common/xalloc.h"
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

static int get_list(struct isol8_msg *m, const char *what, char ***out, size_t *n, struct isol8_err *err)
{
	uint32_t cnt;

	if (isol8_get_u32(m, &cnt, err) < 0)
		return -1;
	if (cnt > ISOL8_NET_MAX_PATTERNS)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "too many %s patterns: %u (at most %u)", what, cnt,
				     ISOL8_NET_MAX_PATTERNS);
	*out = xcalloc(cnt + 1, sizeof **out);
	for (*n = 0; *n < cnt; (*n)++) {
		char *s = NULL;
		if (isol8_get_str(m, &s, ISOL8_NET_MAX_PATTERN, err) < 0)
			return isol8_err_wrap(err, "%s pattern %zu (at most %u bytes)", what, *n + 1,
					      ISOL8_NET_MAX_PATTERN);
		if (!*s) {
			free(s);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s pattern %zu is empty", what, *n + 1);
		}
		(*out)[*n] = s;
	}
	return 0;
}

int net_patterns_get(struct isol8_msg *m, struct net_patterns *p, struct isol8_err *err)
{
	uint8_t log;

	memset(p, 0, sizeof *p);
	if (get_list(m, "allow", &p->allow, &p->n_allow, err) < 0 ||
	    get_list(m, "deny", &p->deny, &p->n_deny, err) < 0 || isol8_get_u8(m, &log, err) < 0)
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
	isol8_put_u32(b, (uint32_t)p->n_allow);
	for (size_t i = 0; i < p->n_allow; i++)
		isol8_put_str(b, p->allow[i]);
	isol8_put_u32(b, (uint32_t)p->n_deny);
	for (size_t i = 0; i < p->n_deny; i++)
		isol8_put_str(b, p->deny[i]);
	isol8_put_u8(b, p->log);
}

static void free_regs(regex_t *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		regfree(&r[i]);
	free(r);
}

void net_rules_free(struct net_rules *r)
{
	free_regs(r->allow, r->n_allow);
	free_regs(r->deny, r->n_deny);
	memset(r, 0, sizeof *r);
}

static int compile_list(char *const *pats, size_t n, regex_t **out, size_t *nout, struct isol8_err *err)
{
	*out = xcalloc(n + 1, sizeof **out);
	for (*nout = 0; *nout < n; (*nout)++) {
		/* Host names are case-insensitive (RFC 4343): so are the rules. */
		int rc = regcomp(&(*out)[*nout], pats[*nout], REG_EXTENDED | REG_NOSUB | REG_ICASE);
		if (rc != 0) {
			char why[128];
			regerror(rc, &(*out)[*nout], why, sizeof why);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid network pattern '%.256s': %s", pats[*nout],
					     why);
		}
	}
	return 0;
}

int net_rules_compile(struct net_rules *r, const struct net_patterns *p, struct isol8_err *err)
{
	memset(r, 0, sizeof *r);
	if (compile_list(p->allow, p->n_allow, &r->allow, &r->n_allow, err) < 0 ||
	    compile_list(p->deny, p->n_deny, &r->deny, &r->n_deny, err) < 0) {
		net_rules_free(r);
		return -1;
	}
	return 0;
}

bool net_rules_allow(const struct net_rules *r, const char *host)
{
	for (size_t i = 0; i < r->n_deny; i++)
		if (regexec(&r->deny[i], host, 0, NULL, 0) == 0)
			return false;
	for (size_t i = 0; i < r->n_allow; i++)
		if (regexec(&r->allow[i], host, 0, NULL, 0) == 0)
			return true;
	return false;
}
