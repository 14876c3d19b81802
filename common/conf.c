#include "config.h"
#include "common/conf.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "proxy/hostpat.h"

/* The original's DEFAULT_CONFIG (config.ts) as a document, so `isol8 config --json` prints the
 * same shape whether or not a file exists. Keys without a default (customProfilePath,
 * audit.logDir, audit.postLogScript, auth.connectionString) are absent, as in the original. */
static const char default_doc[] =
	"{"
	" \"maxConcurrent\": 10,"
	" \"defaults\": { \"timeoutMs\": 30000, \"memoryLimit\": \"512m\", \"cpuLimit\": 1.0,"
	"   \"network\": \"none\", \"sandboxSize\": \"512m\", \"tmpSize\": \"256m\","
	"   \"readonlyRootFs\": true },"
	" \"network\": { \"whitelist\": [], \"blacklist\": [] },"
	" \"cleanup\": { \"autoPrune\": true, \"maxContainerAgeMs\": 3600000 },"
	" \"dependencies\": {},"
	" \"security\": { \"seccomp\": \"strict\" },"
	" \"poolStrategy\": \"fast\","
	" \"poolSize\": { \"clean\": 1, \"dirty\": 1 },"
	" \"remoteCode\": { \"enabled\": false, \"allowedSchemes\": [\"https\"], \"allowedHosts\": [],"
	"   \"blockedHosts\": [\"^localhost$\", \"^127(?:\\\\.[0-9]{1,3}){3}$\", \"^\\\\[::1\\\\]$\","
	"     \"^::1$\", \"^10(?:\\\\.[0-9]{1,3}){3}$\","
	"     \"^172\\\\.(?:1[6-9]|2[0-9]|3[0-1])(?:\\\\.[0-9]{1,3}){2}$\","
	"     \"^192\\\\.168(?:\\\\.[0-9]{1,3}){2}$\", \"^169\\\\.254(?:\\\\.[0-9]{1,3}){2}$\","
	"     \"^metadata\\\\.google\\\\.internal$\", \"^169\\\\.254\\\\.169\\\\.254$\"],"
	"   \"maxCodeSize\": 10485760, \"fetchTimeoutMs\": 30000, \"requireHash\": false,"
	"   \"enableCache\": true, \"cacheTtl\": 3600 },"
	" \"audit\": { \"enabled\": false, \"destination\": \"filesystem\", \"trackResources\": true,"
	"   \"retentionDays\": 90, \"includeCode\": false, \"includeOutput\": false },"
	" \"auth\": { \"enabled\": false, \"defaultTtlMs\": 86400000, \"cleanupIntervalMs\": 3600000 },"
	" \"prebuiltImages\": [],"
	" \"debug\": false"
	"}";

static const char *const top_keys[] = {
	"$schema",      "maxConcurrent", "defaults",       "network",  "cleanup",
	"dependencies", "security",      "poolStrategy",   "poolSize", "remoteCode",
	"audit",        "auth",          "prebuiltImages", "debug",    NULL,
};
static const char *const defaults_keys[] = {
	"timeoutMs", "memoryLimit", "cpuLimit", "network", "sandboxSize", "tmpSize", "readonlyRootFs", NULL,
};
static const char *const network_keys[] = {"whitelist", "blacklist", "registries", NULL};
/* ISOL8_CONF_NREG runtimes, in dep_keys order; the agent runtime has no registry of its own here. */
static const char *const registry_keys[] = {"python", "node", "bun", "deno", "bash", NULL};
static const char *const cleanup_keys[] = {"autoPrune", "maxContainerAgeMs", NULL};
/* Same order as enum isol8_runtime, then agent (ISOL8_CONF_DEP_AGENT). */
static const char *const dep_keys[] = {"python", "node", "bun", "deno", "bash", "agent", NULL};
static const char *const security_keys[] = {"seccomp", "customProfilePath", NULL};
static const char *const pool_keys[] = {"clean", "dirty", NULL};
static const char *const remote_keys[] = {
	"enabled",        "allowedSchemes", "allowedHosts", "blockedHosts", "maxCodeSize",
	"fetchTimeoutMs", "requireHash",    "enableCache",  "cacheTtl",     NULL,
};
static const char *const audit_keys[] = {
	"enabled",     "destination",   "logDir", "postLogScript", "trackResources", "retentionDays",
	"includeCode", "includeOutput", NULL,
};
static const char *const auth_keys[] = {"enabled", "connectionString", "defaultTtlMs", "cleanupIntervalMs", NULL};
static const char *const prebuilt_keys[] = {"tag", "runtime", "installPackages", "setupScript", NULL};

static const char *const net_modes[] = {"none", "host", "filtered", NULL};
static const char *const seccomp_modes[] = {"strict", "unconfined", "custom", NULL};
static const char *const pool_strategies[] = {"fast", "secure", NULL};
static const char *const audit_dests[] = {"filesystem", "file", "stdout", NULL};
static const char *const runtimes[] = {"python", "node", "bun", "deno", "bash", "agent", NULL};

#define U32_MAX_ 4294967295ULL
#define I64_MAX_ 9223372036854775807ULL

/* A "cursor" into one object of the merged document: the object and its path. */
struct at {
	json_object *obj;
	const char *path;
};

/* Look up key; *v NULL when absent. kpath receives the member's path for messages. */
static json_object *member(struct at o, const char *key, char *kpath, size_t kn)
{
	json_object *v = NULL;

	isol8_json_path_key(kpath, kn, o.path, key);
	if (isol8_json_member(o.obj, key, &v) <= 0)
		return NULL;
	return v;
}

static int get_bool(struct at o, const char *key, bool *out, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	json_object *v = member(o, key, p, sizeof p);
	return v ? isol8_json_as_bool(v, p, out, err) : 0;
}

static int get_u64(struct at o, const char *key, uint64_t min, uint64_t max, uint64_t *out, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	json_object *v = member(o, key, p, sizeof p);
	return v ? isol8_json_as_u64(v, p, min, max, out, err) : 0;
}

static int get_u32(struct at o, const char *key, uint32_t min, uint32_t max, uint32_t *out, struct isol8_err *err)
{
	uint64_t u = *out;
	if (get_u64(o, key, min, max, &u, err) < 0)
		return -1;
	*out = (uint32_t)u;
	return 0;
}

/* The string member key: 1 with *v, *s and its path in p, 0 when absent, -1 when not a string. */
static int member_str(struct at o, const char *key, char p[ISOL8_JSON_PATH_MAX], json_object **v, const char **s,
		      struct isol8_err *err)
{
	*v = member(o, key, p, ISOL8_JSON_PATH_MAX);
	if (!*v)
		return 0;
	return isol8_json_as_string(*v, p, s, err) < 0 ? -1 : 1;
}

/* Optional string: *out stays NULL when absent. With choices, the value must be one of them. */
static int get_str(struct at o, const char *key, const char *const *choices, char **out, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	json_object *v;
	const char *s;
	int r = member_str(o, key, p, &v, &s, err);

	if (r <= 0)
		return r;
	if (choices) {
		const char *const *ch;
		for (ch = choices; *ch && strcmp(*ch, s) != 0; ch++)
			;
		if (!*ch) {
			char list[128] = "";
			for (ch = choices; *ch; ch++) {
				strncat(list, ch == choices ? "" : ", ", sizeof list - strlen(list) - 1);
				strncat(list, *ch, sizeof list - strlen(list) - 1);
			}
			/* The value is quoted by json-c, which escapes control characters. */
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: invalid value %s (expected one of: %s)", p,
					     json_object_to_json_string(v), list);
		}
	}
	free(*out);
	*out = xstrdup(s);
	return 0;
}

static int get_size(struct at o, const char *key, uint64_t *out, char **str, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	json_object *v;
	const char *s;
	int r = member_str(o, key, p, &v, &s, err);

	if (r <= 0)
		return r;
	if (isol8_parse_size(s, out, err) < 0)
		return isol8_err_wrap(err, "%s", p);
	if (*out == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: size must be greater than 0", p);
	if (str) {
		free(*str);
		*str = xstrdup(s);
	}
	return 0;
}

static int get_strv(struct at o, const char *key, char ***out, size_t *n, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	json_object *v = member(o, key, p, sizeof p);

	if (!v)
		return 0;
	isol8_strv_free(*out);
	*out = NULL;
	*n = 0;
	return isol8_json_as_strv(v, p, out, n, err);
}

/* Sub-object: checks its keys; *sub.obj NULL when absent. */
static int get_obj(struct at o, const char *key, const char *const *keys, struct at *sub, char *pbuf, size_t pn,
		   struct isol8_err *err)
{
	json_object *v = member(o, key, pbuf, pn);

	sub->obj = v;
	sub->path = pbuf;
	if (!v)
		return 0;
	return isol8_json_check_keys(v, pbuf, keys, err);
}

static int load_defaults(struct at o, struct isol8_config *c, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	struct at d;

	if (get_obj(o, "defaults", defaults_keys, &d, p, sizeof p, err) < 0)
		return -1;
	if (!d.obj)
		return 0;
	if (get_u64(d, "timeoutMs", 1, U32_MAX_, &c->defaults.timeout_ms, err) < 0 ||
	    get_size(d, "memoryLimit", &c->defaults.memory, &c->defaults.memory_str, err) < 0 ||
	    get_str(d, "network", net_modes, &c->defaults.network, err) < 0 ||
	    get_size(d, "sandboxSize", &c->defaults.sandbox_size, NULL, err) < 0 ||
	    get_size(d, "tmpSize", &c->defaults.tmp_size, NULL, err) < 0 ||
	    get_bool(d, "readonlyRootFs", &c->readonly_root_fs, err) < 0)
		return -1;
	{
		char cp[ISOL8_JSON_PATH_MAX];
		json_object *v = member(d, "cpuLimit", cp, sizeof cp);
		if (v) {
			if (isol8_json_as_double(v, cp, 0, 1024, &c->defaults.cpu, err) < 0)
				return -1;
			if (c->defaults.cpu <= 0)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: must be greater than 0", cp);
		}
	}
	return 0;
}

static int load_pool_size(struct at o, struct isol8_config *c, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	json_object *v = member(o, "poolSize", p, sizeof p);
	struct at ps = {v, p};

	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		uint64_t n;
		if (isol8_json_as_u64(v, p, 0, 256, &n, err) < 0)
			return -1;
		c->pool_clean = c->pool_dirty = (uint32_t)n;
		c->pool_size_single = true;
		return 0;
	}
	if (!json_object_is_type(v, json_type_object))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: expected number or object, got %s", p,
				     isol8_json_type_name(v));
	c->pool_size_single = false;
	if (isol8_json_check_keys(v, p, pool_keys, err) < 0 || get_u32(ps, "clean", 0, 256, &c->pool_clean, err) < 0 ||
	    get_u32(ps, "dirty", 0, 256, &c->pool_dirty, err) < 0)
		return -1;
	return 0;
}

static int load_prebuilt(struct at o, struct isol8_config *c, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX];
	json_object *v = member(o, "prebuiltImages", p, sizeof p);
	size_t n;

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: expected array, got %s", p, isol8_json_type_name(v));
	n = json_object_array_length(v);
	c->prebuilt = xcalloc(n ? n : 1, sizeof *c->prebuilt);
	for (size_t i = 0; i < n; i++) {
		char ip[ISOL8_JSON_PATH_MAX];
		struct isol8_prebuilt_image *img = &c->prebuilt[i];
		struct at e;
		static const char *const required[] = {"tag", "runtime", "installPackages"};

		isol8_json_path_index(ip, sizeof ip, p, i);
		e.obj = json_object_array_get_idx(v, i);
		e.path = ip;
		c->n_prebuilt = i + 1;
		if (isol8_json_check_keys(e.obj, ip, prebuilt_keys, err) < 0)
			return -1;
		for (size_t r = 0; r < sizeof required / sizeof required[0]; r++) {
			char rp[ISOL8_JSON_PATH_MAX];
			if (!member(e, required[r], rp, sizeof rp))
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: missing required key", rp);
		}
		if (get_str(e, "tag", NULL, &img->tag, err) < 0 ||
		    get_str(e, "runtime", runtimes, &img->runtime, err) < 0 ||
		    get_strv(e, "installPackages", &img->install_packages, &img->n_install_packages, err) < 0 ||
		    get_str(e, "setupScript", NULL, &img->setup_script, err) < 0)
			return -1;
		if (!img->tag[0]) {
			char tp[ISOL8_JSON_PATH_MAX];
			isol8_json_path_key(tp, sizeof tp, ip, "tag");
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: must not be empty", tp);
		}
	}
	return 0;
}

/* Host patterns (proxy/hostpat.h, the regex spellings of them included) at path[j]: the config
 * refuses the pattern a run with it would be refused for. Kept as written (isol8 config shows
 * the file); the broker makes them canonical. */
static int check_hostpats(const char *path, char *const *v, size_t n, struct isol8_err *err)
{
	for (size_t j = 0; j < n; j++) {
		char *canon;
		if (!v[j][0])
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s[%zu]: must not be empty", path, j);
		if (!(canon = hostpat_normalize(v[j], err)))
			return isol8_err_wrap(err, "%s[%zu]", path, j);
		free(canon);
	}
	return 0;
}

/* remoteCode.allowedHosts and blockedHosts: the original's JavaScript regular expressions,
 * read by the run (cli/remote_code.c) as POSIX ERE once "(?:" is "(", case-insensitive. The
 * config refuses one the run could not compile. */
static int check_host_regexes(const char *path, char *const *v, size_t n, struct isol8_err *err)
{
	for (size_t j = 0; j < n; j++) {
		_cleanup_free_ char *ere = xmalloc(strlen(v[j]) + 1);
		char *w = ere;
		regex_t re;

		for (const char *q = v[j]; *q;) {
			if (q[0] == '(' && q[1] == '?' && q[2] == ':') {
				*w++ = '(';
				q += 3;
			} else {
				*w++ = *q++;
			}
		}
		*w = '\0';
		if (regcomp(&re, ere, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "%s[%zu]: not a regular expression this isol8 reads (POSIX ERE, \"(?:\" "
					     "allowed): %s",
					     path, j, v[j]);
		regfree(&re);
	}
	return 0;
}

/* network.registries: { "<runtime>": ["host", "*.domain", ...] }. The patterns reach the proxy's
 * allowlist, so a broken one is reported here, naming the key, rather than at the first --install. */
static int load_registries(struct at net, struct isol8_config *c, struct isol8_err *err)
{
	char p[ISOL8_JSON_PATH_MAX], ep[ISOL8_JSON_PATH_MAX];
	struct at s;

	if (get_obj(net, "registries", registry_keys, &s, p, sizeof p, err) < 0)
		return -1;
	for (size_t i = 0; s.obj && i < ISOL8_CONF_NREG; i++) {
		if (get_strv(s, registry_keys[i], &c->registries[i], &c->n_registries[i], err) < 0)
			return -1;
		for (size_t j = 0; j < c->n_registries[i]; j++) {
			char *canon;
			isol8_json_path_key(ep, sizeof ep, s.path, registry_keys[i]);
			if (!c->registries[i][j][0])
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s[%zu]: must not be empty", ep, j);
			/* Host patterns (proxy/hostpat.h), the regex spellings of them included. */
			if (!(canon = hostpat_normalize(c->registries[i][j], err)))
				return isol8_err_wrap(err, "%s[%zu]", ep, j);
			free(c->registries[i][j]);
			c->registries[i][j] = canon;
		}
	}
	return 0;
}

/* Each read_<section> takes one object of the file (s.obj is NULL when the file has none, and
 * the defaults stay). */
static int read_network(struct at s, struct isol8_config *c, struct isol8_err *err)
{
	if (s.obj &&
	    (get_strv(s, "whitelist", &c->whitelist, &c->n_whitelist, err) < 0 ||
	     get_strv(s, "blacklist", &c->blacklist, &c->n_blacklist, err) < 0 ||
	     check_hostpats("network.whitelist", c->whitelist, c->n_whitelist, err) < 0 ||
	     check_hostpats("network.blacklist", c->blacklist, c->n_blacklist, err) < 0 ||
	     load_registries(s, c, err) < 0))
		return -1;
	return 0;
}

static int read_cleanup(struct at s, struct isol8_config *c, struct isol8_err *err)
{
	if (s.obj &&
	    (get_bool(s, "autoPrune", &c->auto_prune, err) < 0 ||
	     get_u64(s, "maxContainerAgeMs", 0, I64_MAX_, &c->max_container_age_ms, err) < 0))
		return -1;
	return 0;
}

static int read_dependencies(struct at s, struct isol8_config *c, struct isol8_err *err)
{
	for (size_t i = 0; s.obj && i < ISOL8_CONF_NDEPS; i++)
		if (get_strv(s, dep_keys[i], &c->deps[i], &c->n_deps[i], err) < 0)
			return -1;
	return 0;
}

static int read_security(struct at s, struct isol8_config *c, struct isol8_err *err)
{
	if (s.obj &&
	    (get_str(s, "seccomp", seccomp_modes, &c->seccomp, err) < 0 ||
	     get_str(s, "customProfilePath", NULL, &c->custom_profile_path, err) < 0))
		return -1;
	if (c->seccomp && strcmp(c->seccomp, "custom") == 0 && (!c->custom_profile_path || !c->custom_profile_path[0]))
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "security.customProfilePath: required when security.seccomp is \"custom\"");
	return 0;
}

static int read_remote_code(struct at s, struct isol8_config *c, struct isol8_err *err)
{
	if (s.obj &&
	    (get_bool(s, "enabled", &c->remote_code.enabled, err) < 0 ||
	     get_strv(s, "allowedSchemes", &c->remote_code.allowed_schemes, &c->remote_code.n_allowed_schemes, err) <
		     0 ||
	     get_strv(s, "allowedHosts", &c->remote_code.allowed_hosts, &c->remote_code.n_allowed_hosts, err) < 0 ||
	     get_strv(s, "blockedHosts", &c->remote_code.blocked_hosts, &c->remote_code.n_blocked_hosts, err) < 0 ||
	     check_host_regexes("remoteCode.allowedHosts", c->remote_code.allowed_hosts, c->remote_code.n_allowed_hosts,
				err) < 0 ||
	     check_host_regexes("remoteCode.blockedHosts", c->remote_code.blocked_hosts, c->remote_code.n_blocked_hosts,
				err) < 0 ||
	     get_u64(s, "maxCodeSize", 1, U32_MAX_, &c->remote_code.max_code_size, err) < 0 ||
	     get_u64(s, "fetchTimeoutMs", 1, U32_MAX_, &c->remote_code.fetch_timeout_ms, err) < 0 ||
	     get_bool(s, "requireHash", &c->remote_code.require_hash, err) < 0 ||
	     get_bool(s, "enableCache", &c->remote_code.enable_cache, err) < 0 ||
	     get_u64(s, "cacheTtl", 0, U32_MAX_, &c->remote_code.cache_ttl, err) < 0))
		return -1;
	return 0;
}

static int read_audit(struct at s, struct isol8_config *c, struct isol8_err *err)
{
	if (s.obj &&
	    (get_bool(s, "enabled", &c->audit.enabled, err) < 0 ||
	     get_str(s, "destination", audit_dests, &c->audit.destination, err) < 0 ||
	     get_str(s, "logDir", NULL, &c->audit.log_dir, err) < 0 ||
	     get_str(s, "postLogScript", NULL, &c->audit.post_log_script, err) < 0 ||
	     get_bool(s, "trackResources", &c->audit.track_resources, err) < 0 ||
	     get_u64(s, "retentionDays", 0, 36500, &c->audit.retention_days, err) < 0 ||
	     get_bool(s, "includeCode", &c->audit.include_code, err) < 0 ||
	     get_bool(s, "includeOutput", &c->audit.include_output, err) < 0))
		return -1;
	return 0;
}

static int read_auth(struct at s, struct isol8_config *c, struct isol8_err *err)
{
	if (s.obj &&
	    (get_bool(s, "enabled", &c->auth.enabled, err) < 0 ||
	     get_str(s, "connectionString", NULL, &c->auth.connection_string, err) < 0 ||
	     get_u64(s, "defaultTtlMs", 1, I64_MAX_, &c->auth.default_ttl_ms, err) < 0 ||
	     get_u64(s, "cleanupIntervalMs", 1, I64_MAX_, &c->auth.cleanup_interval_ms, err) < 0))
		return -1;
	return 0;
}

static const struct {
	const char *name;
	const char *const *keys;
	int (*read)(struct at s, struct isol8_config *c, struct isol8_err *err);
} sections[] = {
	{"network", network_keys, read_network},
	{"cleanup", cleanup_keys, read_cleanup},
	{"dependencies", dep_keys, read_dependencies},
	{"security", security_keys, read_security},
	{"remoteCode", remote_keys, read_remote_code},
	{"audit", audit_keys, read_audit},
	{"auth", auth_keys, read_auth},
};

static int load_sections(struct at root, struct isol8_config *c, struct isol8_err *err)
{
	_cleanup_free_ char *schema = NULL;

	if (isol8_json_check_keys(root.obj, root.path, top_keys, err) < 0)
		return -1;
	/* "$schema" is an editor hint: accepted, type-checked, otherwise ignored. */
	if (get_str(root, "$schema", NULL, &schema, err) < 0)
		return -1;
	if (get_u32(root, "maxConcurrent", 1, 1024, &c->max_concurrent, err) < 0 ||
	    get_bool(root, "debug", &c->debug, err) < 0 ||
	    get_str(root, "poolStrategy", pool_strategies, &c->pool_strategy, err) < 0 ||
	    load_defaults(root, c, err) < 0 || load_pool_size(root, c, err) < 0 || load_prebuilt(root, c, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
		char p[ISOL8_JSON_PATH_MAX];
		struct at s;
		if (get_obj(root, sections[i].name, sections[i].keys, &s, p, sizeof p, err) < 0 ||
		    sections[i].read(s, c, err) < 0)
			return -1;
	}
	return 0;
}

/* poolSize as an object replaces the default whole in the original (no merge), and its schema
 * requires both members: a file giving only one of them is an error, not a half default. */
static int check_pool_size_members(json_object *user, struct isol8_err *err)
{
	json_object *ps = NULL, *v = NULL;
	static const char *const need[] = {"clean", "dirty"};

	if (!user || isol8_json_member(user, "poolSize", &ps) <= 0 || !json_object_is_type(ps, json_type_object))
		return 0;
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
		if (isol8_json_member(ps, need[i], &v) <= 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "poolSize.%s: missing required key", need[i]);
	return 0;
}

/* user: the parsed file (borrowed) or NULL for defaults only. */
static int config_from_json(json_object *user, const char *source, struct isol8_config *c, struct isol8_err *err)
{
	json_object *defaults;
	struct at root;

	memset(c, 0, sizeof *c);
	if (user && !json_object_is_type(user, json_type_object)) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "expected a JSON object at the top level, got %s",
			      isol8_json_type_name(user));
		goto fail;
	}
	defaults = json_tokener_parse(default_doc);
	if (!defaults)
		abort(); /* the built-in document is constant: a parse failure is a build bug */
	/* null in the file means "not set" (the original's `??`): keep the default. */
	c->root = isol8_json_merge(defaults, user, true);
	json_object_put(defaults);
	root.obj = c->root;
	root.path = "";
	if (load_sections(root, c, err) < 0 || check_pool_size_members(user, err) < 0)
		goto fail;
	if (user) {
		json_object *v;
		c->max_concurrent_set = isol8_json_member(user, "maxConcurrent", &v) > 0;
		c->pool_strategy_set = isol8_json_member(user, "poolStrategy", &v) > 0;
		c->pool_size_set = isol8_json_member(user, "poolSize", &v) > 0;
	}
	json_object_object_del(c->root, "$schema");
	c->source = source ? xstrdup(source) : NULL;
	return 0;
fail:
	if (source)
		isol8_err_wrap(err, "%s", source);
	isol8_config_free(c);
	return -1;
}

int isol8_config_defaults(struct isol8_config *c, struct isol8_err *err)
{
	return config_from_json(NULL, NULL, c, err);
}

int isol8_config_parse(const char *json_text, const char *source, struct isol8_config *c, struct isol8_err *err)
{
	json_object *user;
	int r;

	memset(c, 0, sizeof *c);
	if (!json_text)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "no config text");
	user = isol8_json_parse(json_text, strlen(json_text), ISOL8_CONF_MAX_BYTES, err);
	if (!user) {
		if (source)
			isol8_err_wrap(err, "%s", source);
		return -1;
	}
	r = config_from_json(user, source ? source : "config", c, err);
	json_object_put(user);
	return r;
}

static int load_file(const char *path, struct isol8_config *c, struct isol8_err *err)
{
	json_object *user = isol8_json_parse_file(path, ISOL8_CONF_MAX_BYTES, err);
	int r;

	if (!user)
		return -1; /* already "path: ..." */
	r = config_from_json(user, path, c, err);
	json_object_put(user);
	return r;
}

/* 1 when path exists and can be read (whatever it is: a directory there is an error later, not
 * a skip), 0 when absent or out of reach, -1 when it cannot be checked. The search path is
 * optional: under `su` HOME is often another user's (/root), whose files are not ours to read,
 * and a config nobody asked for must not stop a run. */
static int exists(const char *path, struct isol8_err *err)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return S_ISREG(st.st_mode) && access(path, R_OK) < 0 && errno == EACCES ? 0 : 1;
	if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
		return 0;
	return isol8_err_set(err, ISOL8_E_IO, errno, "%s", path);
}

static char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return xstrdup(h);
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? xstrdup(pw->pw_dir) : NULL;
}

int isol8_config_load(const char *path, struct isol8_config *c, struct isol8_err *err)
{
	_cleanup_free_ char *cwd = NULL, *home = NULL, *cand = NULL;
	int r;

	memset(c, 0, sizeof *c);
	if (path)
		return load_file(path, c, err);
	/* First existing file wins; files are not layered (original §2.1). */
	cwd = getcwd(NULL, 0);
	if (cwd) {
		cand = xasprintf("%s/isol8.config.json", strcmp(cwd, "/") == 0 ? "" : cwd);
		r = exists(cand, err);
		if (r < 0)
			return -1;
		if (r > 0)
			return load_file(cand, c, err);
		free(steal_ptr(&cand));
	}
	home = home_dir();
	if (home) {
		cand = xasprintf("%s/.isol8/config.json", home);
		r = exists(cand, err);
		if (r < 0)
			return -1;
		if (r > 0)
			return load_file(cand, c, err);
	}
	return isol8_config_defaults(c, err);
}

void isol8_config_free(struct isol8_config *c)
{
	if (!c)
		return;
	free(c->source);
	json_object_put(c->root);
	free(c->defaults.memory_str);
	free(c->defaults.network);
	isol8_strv_free(c->whitelist);
	isol8_strv_free(c->blacklist);
	for (size_t i = 0; i < ISOL8_CONF_NREG; i++)
		isol8_strv_free(c->registries[i]);
	for (size_t i = 0; i < ISOL8_CONF_NDEPS; i++)
		isol8_strv_free(c->deps[i]);
	free(c->seccomp);
	free(c->custom_profile_path);
	free(c->pool_strategy);
	isol8_strv_free(c->remote_code.allowed_schemes);
	isol8_strv_free(c->remote_code.allowed_hosts);
	isol8_strv_free(c->remote_code.blocked_hosts);
	free(c->audit.destination);
	free(c->audit.log_dir);
	free(c->audit.post_log_script);
	free(c->auth.connection_string);
	for (size_t i = 0; i < c->n_prebuilt; i++) {
		free(c->prebuilt[i].tag);
		free(c->prebuilt[i].runtime);
		isol8_strv_free(c->prebuilt[i].install_packages);
		free(c->prebuilt[i].setup_script);
	}
	free(c->prebuilt);
	memset(c, 0, sizeof *c);
}
