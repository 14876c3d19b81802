/* Strict loader for the admin's policy file (format in policy/policy.h and isol8-policy(5)).
 *
 * Strict because a typo in a security policy must not silently fall back to a default: every
 * unknown key, wrong type, unknown enum value, bad size or bad regular expression is an error
 * naming its JSON path, and isol8d refuses to start with it. Fields left out take the values
 * of the built-in "local" tenant (the restrictive one). */
#include "config.h"
#include "policy/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/parse.h"
#include "common/xalloc.h"

#define P ISOL8_JSON_PATH_MAX

_Static_assert(__builtin_types_compatible_p(uid_t, uint32_t) && __builtin_types_compatible_p(gid_t, uint32_t),
	       "uid_t and gid_t are parsed as uint32_t");

/* Ranges accepted for ceilings: positive, and far above anything a host offers, so only
 * nonsense (0, overflow) is refused here. */
#define MAX_BYTES (1ull << 50)
#define MAX_PIDS 4194304u
#define MAX_TIMEOUT_MS (30ull * 24 * 3600 * 1000)
#define MAX_CPU 1024.0

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

int policy_compile_image(const char *pattern, regex_t *re, char *errbuf, size_t errlen)
{
	_cleanup_free_ char *anchored = xasprintf("^(%s)$", pattern);
	int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);

	if (rc != 0 && errbuf && errlen) {
		regerror(rc, re, errbuf, errlen);
		regfree(re);
	}
	return rc;
}

void policy_add_image(struct isol8_tenant *t, const char *pattern, const regex_t *re)
{
	t->images = xrealloc(t->images, (t->n_images + 1) * sizeof *t->images);
	t->image_patterns = xrealloc(t->image_patterns, (t->n_images + 1) * sizeof *t->image_patterns);
	t->images[t->n_images] = *re;
	t->image_patterns[t->n_images] = xstrdup(pattern);
	t->n_images++;
}

void policy_tenant_free(struct isol8_tenant *t)
{
	free(t->name);
	free(t->uids);
	free(t->gids);
	for (size_t i = 0; i < t->n_keys; i++)
		free(t->keys[i]);
	free(t->keys);
	for (size_t i = 0; i < t->n_images; i++) {
		regfree(&t->images[i]);
		free(t->image_patterns[i]);
	}
	free(t->images);
	free(t->image_patterns);
	net_policy_free(&t->net);
	policy_remote_free(&t->remote);
	memset(t, 0, sizeof *t);
}

void isol8_policy_free(struct isol8_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_tenants; i++)
		policy_tenant_free(&p->tenants[i]);
	free(p->tenants);
	free(p->source);
	free(p->audit.path);
	memset(p, 0, sizeof *p);
	p->default_tenant = -1;
}

/* A size: "512m" style string (isol8_parse_size) or a plain byte count. */
static int get_size(json_object *v, const char *path, uint64_t *out, struct isol8_err *err)
{
	uint64_t u;

	if (json_object_is_type(v, json_type_string)) {
		const char *s;
		if (isol8_json_as_string(v, path, &s, err) < 0)
			return -1;
		if (isol8_parse_size(s, &u, err) < 0)
			return isol8_err_wrap(err, "%s", path);
	} else if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		if (isol8_json_as_u64(v, path, 1, MAX_BYTES, &u, err) < 0)
			return -1;
	} else {
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "%s: expected size (string like \"512m\" or number of bytes), got %s", path,
				     isol8_json_type_name(v));
	}
	if (u == 0 || u > MAX_BYTES)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: size must be between 1 and %" PRIu64 " bytes", path,
				     (uint64_t)MAX_BYTES);
	*out = u;
	return 0;
}

/* Milliseconds: a number, or a duration string ("30s", "1h"). */
static int get_ms(json_object *v, const char *path, uint64_t min, uint64_t *out, struct isol8_err *err)
{
	uint64_t u;

	if (json_object_is_type(v, json_type_string)) {
		const char *s;
		if (isol8_json_as_string(v, path, &s, err) < 0)
			return -1;
		if (isol8_parse_duration_ms(s, &u, err) < 0)
			return isol8_err_wrap(err, "%s", path);
		if (u < min || u > MAX_TIMEOUT_MS)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "%s: %s is out of range [%" PRIu64 ", %" PRIu64 "] ms", path, s, min,
					     (uint64_t)MAX_TIMEOUT_MS);
	} else if (isol8_json_as_u64(v, path, min, MAX_TIMEOUT_MS, &u, err) < 0) {
		return -1;
	}
	*out = u;
	return 0;
}

static int get_u32(json_object *v, const char *path, uint32_t min, uint32_t max, uint32_t *out, struct isol8_err *err)
{
	uint64_t u;

	if (isol8_json_as_u64(v, path, min, max, &u, err) < 0)
		return -1;
	*out = (uint32_t)u;
	return 0;
}

/* --check-policy wants every error, not the first: while a collector is set (this thread
 * only, isol8_policy_check_file), an error at a tenant's member is reported and parsing goes
 * on with the next member. Loading for use still stops at the first. */
static __thread struct policy_collect {
	void (*report)(void *ctx, const char *msg);
	void *ctx;
	unsigned n;
} * g_collect;

static int note(struct isol8_err *err)
{
	if (!g_collect)
		return -1;
	g_collect->report(g_collect->ctx, err->msg);
	g_collect->n++;
	*err = (struct isol8_err)ISOL8_ERR_INIT;
	return 0;
}

static int parse_limits(json_object *o, const char *path, struct isol8_tenant *t, struct isol8_err *err)
{
	static const char *const keys[] = {
		"memory",      "cpu",           "pids",          "timeoutMs",  "sandboxSize",  "tmpSize", "maxOutput",
		"maxSessions", "sessionIdleMs", "maxConcurrent", "maxPersist", "persistTtlMs", NULL};
	char kp[P];
	json_object *v;

	if (isol8_json_check_keys(o, path, keys, err) < 0 && note(err) < 0)
		return -1;
#define MEMBER(key) (isol8_json_path_key(kp, sizeof kp, path, key), isol8_json_member(o, key, &v) > 0)
	if (MEMBER("memory") && get_size(v, kp, &t->ceil.memory, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("cpu")) {
		const char *s;
		if (json_object_is_type(v, json_type_string)) {
			/* "all": every CPU of the host at load time; a number would go stale when the
			 * policy file moves to another machine. */
			if (isol8_json_as_string(v, kp, &s, err) < 0)
				return -1;
			if (strcmp(s, "all") != 0)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: expected a number of CPUs or \"all\"",
						     kp);
			t->ceil.cpu = policy_all_cpus();
		} else if (isol8_json_as_double(v, kp, 0.01, MAX_CPU, &t->ceil.cpu, err) < 0) {
			return -1;
		}
	}
	if (MEMBER("pids") && get_u32(v, kp, 1, MAX_PIDS, &t->ceil.pids, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("timeoutMs") && get_ms(v, kp, 1, &t->ceil.timeout_ms, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("sandboxSize") && get_size(v, kp, &t->ceil.sandbox_size, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("tmpSize") && get_size(v, kp, &t->ceil.tmp_size, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("maxOutput") && get_size(v, kp, &t->ceil.max_output, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("maxSessions") && get_u32(v, kp, 0, 100000, &t->max_sessions, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("sessionIdleMs") && get_ms(v, kp, 1000, &t->session_idle_ms, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("maxConcurrent") && get_u32(v, kp, 1, 100000, &t->max_concurrent, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("maxPersist") && get_u32(v, kp, 0, 1000, &t->max_persist, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("persistTtlMs") && get_ms(v, kp, 1000, &t->persist_ttl_ms, err) < 0 && note(err) < 0)
		return -1;
#undef MEMBER
	return 0;
}

/* v must be an array at path: its length in *len. */
static int array_len(json_object *v, const char *path, size_t *len, struct isol8_err *err)
{
	if (isol8_json_expect_type(v, json_type_array, path, err) < 0)
		return -1;
	*len = json_object_array_length(v);
	return 0;
}

/* Item i of the array v at path must be a string: its path in ip, the string in *s. */
static int array_str(json_object *v, const char *path, size_t i, char ip[P], const char **s, struct isol8_err *err)
{
	isol8_json_path_index(ip, P, path, i);
	return isol8_json_as_string(json_object_array_get_idx(v, i), ip, s, err);
}

/* ids: array of integers that are valid uid_t/gid_t values ((uid_t)-1 means "no change" to
 * the kernel, so it can never identify a caller). */
static int parse_ids(json_object *v, const char *path, uint32_t **out, size_t *n, struct isol8_err *err)
{
	size_t len;

	if (array_len(v, path, &len, err) < 0)
		return -1;
	*out = xcalloc(len ? len : 1, sizeof **out);
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		char ip[P];
		uint64_t u;

		isol8_json_path_index(ip, sizeof ip, path, i);
		if (isol8_json_as_u64(json_object_array_get_idx(v, i), ip, 0, UINT32_MAX - 1, &u, err) < 0)
			return -1;
		(*out)[(*n)++] = (uint32_t)u;
	}
	return 0;
}

static int parse_match(json_object *o, const char *path, struct isol8_tenant *t, struct isol8_err *err)
{
	static const char *const keys[] = {"uids", "gids", "keys", NULL};
	char kp[P];
	json_object *v;

	if (isol8_json_check_keys(o, path, keys, err) < 0)
		return -1;
	isol8_json_path_key(kp, sizeof kp, path, "uids");
	if (isol8_json_member(o, "uids", &v) > 0 && parse_ids(v, kp, &t->uids, &t->n_uids, err) < 0)
		return -1;
	isol8_json_path_key(kp, sizeof kp, path, "gids");
	if (isol8_json_member(o, "gids", &v) > 0 && parse_ids(v, kp, &t->gids, &t->n_gids, err) < 0)
		return -1;
	isol8_json_path_key(kp, sizeof kp, path, "keys");
	if (isol8_json_member(o, "keys", &v) > 0) {
		char **keyv = NULL;
		size_t n = 0;

		if (isol8_json_as_strv(v, kp, &keyv, &n, err) < 0)
			return -1;
		t->keys = keyv;
		t->n_keys = n;
		for (size_t i = 0; i < n; i++) {
			if (!valid_name(keyv[i])) {
				char ip[P];
				isol8_json_path_index(ip, sizeof ip, kp, i);
				return isol8_err_set(err, ISOL8_E_USAGE, 0,
						     "%s: key names are 1-64 characters of [A-Za-z0-9_.-]", ip);
			}
		}
	}
	return 0;
}

/* Array of enum names -> bitmask; the name table is given by parse(). */
static int parse_enum_mask(json_object *v, const char *path, int (*parse)(const char *), const char *what,
			   const char *expected, uint32_t *mask, struct isol8_err *err)
{
	size_t len;

	if (array_len(v, path, &len, err) < 0)
		return -1;
	*mask = 0;
	for (size_t i = 0; i < len; i++) {
		char ip[P];
		const char *s;
		int e;

		if (array_str(v, path, i, ip, &s, err) < 0)
			return -1;
		e = parse(s);
		if (e < 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: unknown %s \"%.64s\" (expected %s)", ip, what,
					     s, expected);
		*mask |= 1u << e;
	}
	return 0;
}

static int parse_images(json_object *v, const char *path, struct isol8_tenant *t, struct isol8_err *err)
{
	size_t len;

	if (array_len(v, path, &len, err) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char ip[P], ebuf[160];
		const char *s;
		regex_t re;

		if (array_str(v, path, i, ip, &s, err) < 0)
			return -1;
		if (!*s || strlen(s) > 512)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: pattern must be 1-512 characters", ip);
		if (policy_compile_image(s, &re, ebuf, sizeof ebuf) != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: invalid regular expression \"%s\": %s", ip, s,
					     ebuf);
		policy_add_image(t, s, &re);
	}
	return 0;
}

/* A two-valued string enum: *second is set when the value is `second`. */
static int parse_choice(json_object *v, const char *kp, const char *first, const char *second, bool *is_second,
			struct isol8_err *err)
{
	const char *s;

	if (isol8_json_as_string(v, kp, &s, err) < 0)
		return -1;
	if (strcmp(s, first) == 0)
		*is_second = false;
	else if (strcmp(s, second) == 0)
		*is_second = true;
	else
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: unknown value \"%.64s\" (expected %s, %s)", kp, s,
				     first, second);
	return 0;
}

static int parse_tenant(json_object *o, const char *path, struct isol8_tenant *t, struct isol8_err *err)
{
	static const char *const keys[] = {
		"match",   "onExceed",      "limits",  "runtimes",  "network", "writableRoot", "customImages", "images",
		"seccomp", "networkFilter", "persist", "isolation", "hostUid", "remoteCode",   "admin",        NULL};
	char kp[P];
	json_object *v;

	if (isol8_json_check_keys(o, path, keys, err) < 0 && note(err) < 0 && note(err) < 0)
		return -1;
#define MEMBER(key) (isol8_json_path_key(kp, sizeof kp, path, key), isol8_json_member(o, key, &v) > 0)
	if (MEMBER("match") && parse_match(v, kp, t, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("onExceed") && parse_choice(v, kp, "clamp", "refuse", &t->refuse_on_exceed, err) < 0 &&
	    note(err) < 0)
		return -1;
	if (MEMBER("limits") && parse_limits(v, kp, t, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("runtimes") &&
	    parse_enum_mask(v, kp, isol8_runtime_parse, "runtime", "python, node, bun, deno, bash, agent",
			    &t->runtimes_mask, err) < 0 &&
	    note(err) < 0)
		return -1;
	if (MEMBER("network") &&
	    parse_enum_mask(v, kp, isol8_net_mode_parse, "network mode", "none, filtered, host", &t->network_mask,
			    err) < 0 &&
	    note(err) < 0)
		return -1;
	if (MEMBER("writableRoot") && isol8_json_as_bool(v, kp, &t->writable_root, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("persist") && isol8_json_as_bool(v, kp, &t->persist_ok, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("admin") && isol8_json_as_bool(v, kp, &t->admin, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("customImages") && isol8_json_as_bool(v, kp, &t->custom_images, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("images") && parse_images(v, kp, t, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("seccomp") && parse_choice(v, kp, "strict", "unconfined", &t->seccomp_unconfined_ok, err) < 0 &&
	    note(err) < 0)
		return -1;
	if (MEMBER("networkFilter") && policy_parse_netfilter(v, kp, t, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("remoteCode") && policy_parse_remote(v, kp, t, err) < 0 && note(err) < 0)
		return -1;
	if (MEMBER("hostUid")) {
		uint64_t u;
		/* Below 10000 are the host's own accounts (Debian's system and user ranges). */
		if (isol8_json_as_u64(v, kp, ISOL8_HOST_UID_MIN, ISOL8_HOST_UID_MAX, &u, err) < 0)
			return -1;
		t->host_uid = t->host_gid = (uint32_t)u;
		t->host_uids = 1;
		t->host_uid_set = true;
	}
	if (MEMBER("isolation")) {
		bool runsc = false;
		if (parse_choice(v, kp, "runc", "runsc", &runsc, err) < 0)
			return -1;
		t->isolation = runsc ? ISOL8_ISO_RUNSC : ISOL8_ISO_RUNC;
	}
#undef MEMBER
	/* gVisor's runtime is registered with --network=none (its netstack would copy the
	 * container's interfaces at start, before the broker wires a filtered sandbox, and "host"
	 * would be the host's stack): a runsc tenant gets no network, and the file must say so. */
	if (t->isolation == ISOL8_ISO_RUNSC && (t->network_mask & ~(1u << ISOL8_NET_NONE))) {
		isol8_json_path_key(kp, sizeof kp, path, "network");
		if (isol8_json_member(o, "network", &v) <= 0) {
			t->network_mask = 1u << ISOL8_NET_NONE; /* the default list, narrowed */
			return 0;
		}
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"%s: isolation \"runsc\" allows [\"none\"] only (gVisor sandboxes have no network)", kp);
	}
	return 0;
}

/* A uid, gid or key listed by two tenants would make the match depend on file order; refuse
 * it so the file says exactly one thing. */
static int check_unique(const struct isol8_policy *p, struct isol8_err *err)
{
	for (size_t a = 0; a < p->n_tenants; a++) {
		const struct isol8_tenant *ta = &p->tenants[a];
		for (size_t b = a; b < p->n_tenants; b++) {
			const struct isol8_tenant *tb = &p->tenants[b];
			/* A host uid is what keeps two tenants' sandboxes apart on the host. */
			if (b != a && ta->host_uid_set && tb->host_uid_set && ta->host_uid == tb->host_uid)
				return isol8_err_set(err, ISOL8_E_USAGE, 0,
						     "tenants.%s.hostUid: %u is also the hostUid of tenant %s",
						     tb->name, (unsigned)tb->host_uid, ta->name);
			for (size_t i = 0; i < ta->n_uids; i++)
				for (size_t j = (a == b ? i + 1 : 0); j < tb->n_uids; j++)
					if (ta->uids[i] == tb->uids[j])
						return isol8_err_set(
							err, ISOL8_E_USAGE, 0,
							"tenants.%s.match.uids: uid %u is also matched by tenant %s",
							tb->name, (unsigned)tb->uids[j], ta->name);
			for (size_t i = 0; i < ta->n_gids; i++)
				for (size_t j = (a == b ? i + 1 : 0); j < tb->n_gids; j++)
					if (ta->gids[i] == tb->gids[j])
						return isol8_err_set(
							err, ISOL8_E_USAGE, 0,
							"tenants.%s.match.gids: gid %u is also matched by tenant %s",
							tb->name, (unsigned)tb->gids[j], ta->name);
			for (size_t i = 0; i < ta->n_keys; i++)
				for (size_t j = (a == b ? i + 1 : 0); j < tb->n_keys; j++)
					if (strcmp(ta->keys[i], tb->keys[j]) == 0)
						return isol8_err_set(err, ISOL8_E_USAGE, 0,
								     "tenants.%s.match.keys: key \"%s\" is also "
								     "matched by tenant %s",
								     tb->name, tb->keys[j], ta->name);
		}
	}
	return 0;
}

static int from_json(json_object *root, struct isol8_policy *p, struct isol8_err *err)
{
	static const char *const keys[] = {"defaultTenant", "tenants", "audit", "hostUidRange", NULL};
	json_object *tenants, *def, *au;
	size_t n, i = 0;

	if (isol8_json_check_keys(root, "", keys, err) < 0)
		return -1;
	isol8_audit_policy_defaults(&p->audit);
	if (isol8_json_member(root, "audit", &au) > 0 && policy_parse_audit(au, "audit", &p->audit, err) < 0)
		return -1;
	if (policy_parse_uid_range(root, p, err) < 0 && note(err) < 0)
		return -1;
	if (isol8_json_member(root, "tenants", &tenants) <= 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "tenants: required key missing");
	if (isol8_json_expect_type(tenants, json_type_object, "tenants", err) < 0)
		return -1;
	n = (size_t)json_object_object_length(tenants);
	if (n == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "tenants: at least one tenant is required");

	p->tenants = xcalloc(n, sizeof *p->tenants);
	/* json-c keeps members in file order, which is also the order of group matching. */
	json_object_object_foreach(tenants, name, tv)
	{
		char tp[P];

		isol8_json_path_key(tp, sizeof tp, "tenants", name);
		if (!valid_name(name))
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "%s: tenant names are 1-64 characters of [A-Za-z0-9_.-]", tp);
		policy_tenant_defaults(&p->tenants[i], name);
		p->n_tenants = ++i;
		if (!tv)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: expected object, got null", tp);
		if (parse_tenant(tv, tp, &p->tenants[i - 1], err) < 0)
			return -1;
		{
			json_object *av;
			if (json_object_is_type(tv, json_type_object) && json_object_object_get_ex(tv, "admin", &av) &&
			    av)
				p->admin_marked = true; /* "admin": null is the default, no mark */
		}
	}
	if (check_unique(p, err) < 0 && note(err) < 0)
		return -1;
	if (policy_assign_host_uids(p, err) < 0 && note(err) < 0)
		return -1;

	p->default_tenant = -1;
	if (isol8_json_member(root, "defaultTenant", &def) > 0) {
		const char *s;
		if (isol8_json_as_string(def, "defaultTenant", &s, err) < 0)
			return -1;
		for (size_t k = 0; k < p->n_tenants; k++)
			if (strcmp(p->tenants[k].name, s) == 0)
				p->default_tenant = (int)k;
		if (p->default_tenant < 0 &&
		    (isol8_err_set(err, ISOL8_E_USAGE, 0, "defaultTenant: unknown tenant \"%.64s\"", s), note(err) < 0))
			return -1;
	}
	if (g_collect && g_collect->n)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%u error(s)", g_collect->n);
	return 0;
}

static int parse_doc(json_object *root, const char *source, struct isol8_policy *p, struct isol8_err *err)
{
	memset(p, 0, sizeof *p);
	p->default_tenant = -1;
	if (from_json(root, p, err) < 0) {
		isol8_policy_free(p);
		return isol8_err_wrap(err, "%s", source);
	}
	p->source = xstrdup(source);
	return 0;
}

int isol8_policy_parse(const char *json_text, const char *source, struct isol8_policy *p, struct isol8_err *err)
{
	json_object *root;
	int r;

	memset(p, 0, sizeof *p);
	p->default_tenant = -1;
	if (!source)
		source = "policy";
	root = isol8_json_parse(json_text ? json_text : "", json_text ? strlen(json_text) : 0, POLICY_MAX_FILE, err);
	if (!root)
		return isol8_err_wrap(err, "%s", source);
	r = parse_doc(root, source, p, err);
	json_object_put(root);
	return r;
}

int isol8_policy_load_file(const char *path, struct isol8_policy *p, struct isol8_err *err)
{
	json_object *root;
	int r;

	memset(p, 0, sizeof *p);
	p->default_tenant = -1;
	root = isol8_json_parse_file(path, POLICY_MAX_FILE, err); /* errors already name path */
	if (!root)
		return -1;
	r = parse_doc(root, path, p, err);
	json_object_put(root);
	return r;
}

int isol8_policy_check_file(const char *path, void (*report)(void *ctx, const char *msg), void *ctx,
			    struct isol8_policy *p, struct isol8_err *err)
{
	struct policy_collect c = {report, ctx, 0};
	int r;

	g_collect = &c;
	r = isol8_policy_load_file(path, p, err);
	g_collect = NULL;
	/* A syntax error or a broken top level is one error, reported as the loader words it. */
	if (r < 0 && !c.n)
		report(ctx, err->msg);
	return r;
}
