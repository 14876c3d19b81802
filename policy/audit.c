/* The policy's "audit" block: the admin's choices for isol8d's audit log. A client can neither
 * see nor change them; includeCode and includeOutput in a client's request or config are not
 * read anywhere. */
#include "config.h"

#include <string.h>

#include "common/json.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "policy/internal.h"

void isol8_audit_policy_defaults(struct isol8_audit_policy *a)
{
	memset(a, 0, sizeof *a);
	a->enabled = true;
	a->retention_days = 90;
	a->max_size = 64ull << 20;
}

static int get_path(json_object *v, const char *kp, bool dir, char **out, struct isol8_err *err)
{
	const char *s;
	size_t n;

	if (isol8_json_as_string(v, kp, &s, err) < 0)
		return -1;
	n = strlen(s);
	if (s[0] != '/' || n > 1000 || strstr(s, "/../") || (n >= 3 && strcmp(s + n - 3, "/..") == 0))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: an absolute path without \"..\" is required", kp);
	if (!dir && s[n - 1] == '/')
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: names a directory; give the file (or use logDir)", kp);
	free(*out);
	*out = dir ? xasprintf("%s%saudit.jsonl", s, s[n - 1] == '/' ? "" : "/") : xstrdup(s);
	return 0;
}

int policy_parse_audit(json_object *o, const char *path, struct isol8_audit_policy *a, struct isol8_err *err)
{
	static const char *const keys[] = {"enabled",       "path",           "logDir",        "retentionDays",
					   "maxSize",       "includeCode",    "includeOutput", "destination",
					   "postLogScript", "trackResources", "sync",          NULL};
	char kp[ISOL8_JSON_PATH_MAX];
	json_object *v;
	uint64_t u;

	if (isol8_json_expect_type(o, json_type_object, path, err) < 0 || isol8_json_check_keys(o, path, keys, err) < 0)
		return -1;
#define MEMBER(k) (isol8_json_path_key(kp, sizeof kp, path, k), isol8_json_member(o, k, &v) > 0)
	if (MEMBER("enabled") && isol8_json_as_bool(v, kp, &a->enabled, err) < 0)
		return -1;
	if (MEMBER("path") && MEMBER("logDir"))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: give path or logDir, not both", path);
	if (MEMBER("path") && get_path(v, kp, false, &a->path, err) < 0)
		return -1;
	if (MEMBER("logDir") && get_path(v, kp, true, &a->path, err) < 0)
		return -1;
	if (MEMBER("retentionDays")) {
		if (isol8_json_as_u64(v, kp, 0, 36500, &u, err) < 0)
			return -1;
		a->retention_days = (uint32_t)u;
	}
	if (MEMBER("maxSize")) {
		if (json_object_is_type(v, json_type_string)) {
			const char *s;
			if (isol8_json_as_string(v, kp, &s, err) < 0 || isol8_parse_size(s, &u, err) < 0)
				return isol8_err_wrap(err, "%s", kp);
		} else if (isol8_json_as_u64(v, kp, 0, 1ull << 40, &u, err) < 0) {
			return -1;
		}
		if (u && u < 4096)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: at least 4k (or 0: never rotate)", kp);
		a->max_size = u;
	}
	if (MEMBER("includeCode") && isol8_json_as_bool(v, kp, &a->include_code, err) < 0)
		return -1;
	if (MEMBER("includeOutput") && isol8_json_as_bool(v, kp, &a->include_output, err) < 0)
		return -1;
	if (MEMBER("sync") && isol8_json_as_bool(v, kp, &a->sync, err) < 0)
		return -1;
	/* The original's other keys, refused with the reason rather than silently ignored. */
	if (MEMBER("destination")) {
		const char *s;
		if (isol8_json_as_string(v, kp, &s, err) < 0)
			return -1;
		if (strcmp(s, "filesystem") != 0 && strcmp(s, "file") != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "%s: only \"filesystem\": isol8d writes its audit log to a file (path)",
					     kp);
	}
	if (MEMBER("postLogScript"))
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "%s: not supported: isol8d runs no script as root per record; follow the file "
				     "(e.g. tail -F) instead",
				     kp);
	if (MEMBER("trackResources")) {
		bool b;
		if (isol8_json_as_bool(v, kp, &b, err) < 0)
			return -1;
		if (!b)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "%s: resource usage is always recorded (it costs no extra work)", kp);
	}
#undef MEMBER
	return 0;
}
