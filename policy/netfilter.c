/* A tenant's "networkFilter": the ceiling over what its filtered sandboxes may reach
 * (isol8-policy(5)). Host patterns are checked with the same code the proxy matches with and
 * kept in canonical form (hostpat.h: never a regular expression, the broker compiles
 * nothing); address ranges are parsed here so a typo stops isol8d at start. */
#include "config.h"
#include "policy/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "proxy/addr.h"
#include "proxy/hostpat.h"

#define P ISOL8_JSON_PATH_MAX

void policy_net_defaults(struct net_policy *n)
{
	static const uint16_t ports[] = {80, 443};

	memset(n, 0, sizeof *n);
	n->allow = xcalloc(2, sizeof *n->allow);
	n->allow[0] = xstrdup("*");
	n->n_allow = 1;
	n->deny = xcalloc(1, sizeof *n->deny);
	n->ports = xcalloc(2, sizeof *n->ports);
	memcpy(n->ports, ports, sizeof ports);
	n->n_ports = 2;
	n->addrs = xcalloc(1, sizeof *n->addrs);
}

int policy_get_list(json_object *o, const char *path, const char *key, bool cidr, char ***out, size_t *n,
		    struct isol8_err *err)
{
	char kp[P], ip[P];
	json_object *v;
	char **l = NULL;
	size_t cnt = 0;

	isol8_json_path_key(kp, sizeof kp, path, key);
	if (isol8_json_member(o, key, &v) <= 0)
		return 0;
	if (isol8_json_as_strv(v, kp, &l, &cnt, err) < 0)
		return -1;
	if (cnt > NET_POLICY_MAX_LIST) {
		isol8_strv_free(l);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: at most %u entries", kp, NET_POLICY_MAX_LIST);
	}
	for (size_t i = 0; i < cnt; i++) {
		struct net_cidr c;
		char *canon = NULL;

		isol8_json_path_index(ip, sizeof ip, kp, i);
		if (cidr ? net_cidr_parse(l[i], &c, err) < 0 : !(canon = hostpat_normalize(l[i], err))) {
			isol8_strv_free(l);
			return isol8_err_wrap(err, "%s", ip);
		}
		if (canon) {
			free(l[i]);
			l[i] = canon;
		}
	}
	for (size_t i = 0; i < *n; i++)
		free((*out)[i]);
	free(*out);
	*out = l;
	*n = cnt;
	return 0;
}

int policy_parse_netfilter(json_object *o, const char *path, struct isol8_tenant *t, struct isol8_err *err)
{
	static const char *const keys[] = {"allow", "deny", "ports", "allowAddresses", NULL};
	struct net_policy *n = &t->net;
	char kp[P], ip[P];
	json_object *v;

	if (isol8_json_check_keys(o, path, keys, err) < 0 ||
	    policy_get_list(o, path, "allow", false, &n->allow, &n->n_allow, err) < 0 ||
	    policy_get_list(o, path, "deny", false, &n->deny, &n->n_deny, err) < 0 ||
	    policy_get_list(o, path, "allowAddresses", true, &n->addrs, &n->n_addrs, err) < 0)
		return -1;
	isol8_json_path_key(kp, sizeof kp, path, "ports");
	if (isol8_json_member(o, "ports", &v) > 0) {
		size_t len;
		if (isol8_json_expect_type(v, json_type_array, kp, err) < 0)
			return -1;
		len = json_object_array_length(v);
		if (len > NET_POLICY_MAX_LIST)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: at most %u entries", kp, NET_POLICY_MAX_LIST);
		free(n->ports);
		n->ports = xcalloc(len + 1, sizeof *n->ports);
		n->n_ports = 0;
		for (size_t i = 0; i < len; i++) {
			uint64_t u;
			isol8_json_path_index(ip, sizeof ip, kp, i);
			if (isol8_json_as_u64(json_object_array_get_idx(v, i), ip, 1, 65535, &u, err) < 0)
				return -1;
			n->ports[n->n_ports++] = (uint16_t)u;
		}
	}
	return 0;
}
