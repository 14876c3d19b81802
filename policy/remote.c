/* A tenant's "remoteCode" (isol8-policy(5)): off unless the admin turns it on. Host patterns
 * and address ranges are checked with the code the fetcher matches with (proxy/hostpat.h,
 * proxy/addr.h); the CA file is only named here, isol8-fetch reads it. */
#include "config.h"
#include "policy/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/remote_code.h"
#include "common/xalloc.h"

#define P ISOL8_JSON_PATH_MAX

void policy_remote_defaults(struct isol8_remote_policy *r)
{
	static const uint16_t ports[] = {443, 80};

	memset(r, 0, sizeof *r);
	r->https_ok = true;
	r->net.allow = xcalloc(2, sizeof *r->net.allow);
	r->net.allow[0] = xstrdup("*");
	r->net.n_allow = 1;
	r->net.deny = xcalloc(1, sizeof *r->net.deny);
	r->net.ports = xcalloc(2, sizeof *r->net.ports);
	memcpy(r->net.ports, ports, sizeof ports);
	r->net.n_ports = 2;
	r->net.addrs = xcalloc(1, sizeof *r->net.addrs);
	r->max_size = 10u << 20;
	r->timeout_ms = 30000;
}

void policy_remote_free(struct isol8_remote_policy *r)
{
	net_policy_free(&r->net);
	free(r->ca_file);
	memset(r, 0, sizeof *r);
}

static int parse_schemes(json_object *v, const char *kp, struct isol8_remote_policy *r, struct isol8_err *err)
{
	char ip[P];
	size_t len;

	if (isol8_json_expect_type(v, json_type_array, kp, err) < 0)
		return -1;
	r->http_ok = r->https_ok = false;
	len = json_object_array_length(v);
	for (size_t i = 0; i < len; i++) {
		const char *s;
		isol8_json_path_index(ip, sizeof ip, kp, i);
		if (isol8_json_as_string(json_object_array_get_idx(v, i), ip, &s, err) < 0)
			return -1;
		if (strcmp(s, "https") == 0)
			r->https_ok = true;
		else if (strcmp(s, "http") == 0)
			r->http_ok = true;
		else
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: unsupported scheme \"%.32s\" (https, http)",
					     ip, s);
	}
	return 0;
}

int policy_parse_remote(json_object *o, const char *path, struct isol8_tenant *t, struct isol8_err *err)
{
	static const char *const keys[] = {
		"enabled",     "allowedSchemes", "allowedHosts", "blockedHosts", "ports", "allowAddresses",
		"maxCodeSize", "fetchTimeoutMs", "requireHash",  "caFile",       NULL};
	struct isol8_remote_policy *r = &t->remote;
	char kp[P], ip[P];
	json_object *v;

	if (isol8_json_check_keys(o, path, keys, err) < 0)
		return -1;
#define MEMBER(key) (isol8_json_path_key(kp, sizeof kp, path, key), isol8_json_member(o, key, &v) > 0)
	if (MEMBER("enabled") && isol8_json_as_bool(v, kp, &r->enabled, err) < 0)
		return -1;
	if (MEMBER("allowedSchemes") && parse_schemes(v, kp, r, err) < 0)
		return -1;
	if (policy_get_list(o, path, "allowedHosts", false, &r->net.allow, &r->net.n_allow, err) < 0 ||
	    policy_get_list(o, path, "blockedHosts", false, &r->net.deny, &r->net.n_deny, err) < 0 ||
	    policy_get_list(o, path, "allowAddresses", true, &r->net.addrs, &r->net.n_addrs, err) < 0)
		return -1;
	if (MEMBER("ports")) {
		size_t len;
		if (isol8_json_expect_type(v, json_type_array, kp, err) < 0)
			return -1;
		len = json_object_array_length(v);
		if (len > NET_POLICY_MAX_LIST)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: at most %u entries", kp, NET_POLICY_MAX_LIST);
		free(r->net.ports);
		r->net.ports = xcalloc(len + 1, sizeof *r->net.ports);
		r->net.n_ports = 0;
		for (size_t i = 0; i < len; i++) {
			uint64_t u;
			isol8_json_path_index(ip, sizeof ip, kp, i);
			if (isol8_json_as_u64(json_object_array_get_idx(v, i), ip, 1, 65535, &u, err) < 0)
				return -1;
			r->net.ports[r->net.n_ports++] = (uint16_t)u;
		}
	}
	if (MEMBER("maxCodeSize") && isol8_json_as_u64(v, kp, 1, ISOL8_REMOTE_MAX_CODE, &r->max_size, err) < 0)
		return -1;
	if (MEMBER("fetchTimeoutMs") &&
	    isol8_json_as_u64(v, kp, 100, ISOL8_REMOTE_MAX_TIMEOUT_MS, &r->timeout_ms, err) < 0)
		return -1;
	if (MEMBER("requireHash") && isol8_json_as_bool(v, kp, &r->require_hash, err) < 0)
		return -1;
	if (MEMBER("caFile")) {
		const char *s;
		if (isol8_json_as_string(v, kp, &s, err) < 0)
			return -1;
		if (s[0] != '/' || strlen(s) > 4096)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: must be an absolute path", kp);
		free(r->ca_file);
		r->ca_file = xstrdup(s);
	}
#undef MEMBER
	return 0;
}
