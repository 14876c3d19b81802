#include "config.h"

#include <stdio.h>
#include <string.h>

#include "broker/validate.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/xalloc.h"

void create_req_free(struct create_req *r)
{
	free(r->image);
	r->image = NULL;
}

static bool image_exists(struct docker *d, const char *name, bool *has_setup, bool *has_agent, struct isol8_err *err)
{
	json_object *o = NULL, *cfg, *labels, *v;
	if (docker_image_inspect(d, name, &o, err) < 0)
		return false;
	*has_setup = false;
	*has_agent = false;
	if (json_object_object_get_ex(o, "Config", &cfg) && json_object_object_get_ex(cfg, "Labels", &labels) &&
	    json_object_is_type(labels, json_type_object) && json_object_object_get_ex(labels, "org.isol8.setup", &v))
		*has_setup = strcmp(json_object_get_string(v), "1") == 0;
	if (json_object_object_get_ex(o, "Config", &cfg) && json_object_object_get_ex(cfg, "Labels", &labels) &&
	    json_object_is_type(labels, json_type_object) && json_object_object_get_ex(labels, "org.isol8.agent", &v))
		*has_agent = strcmp(json_object_get_string(v), "1") == 0;
	json_object_put(o);
	return true;
}

/* The tenant's isolation tier needs its OCI runtime in the engine (runsc: registered in
 * /etc/docker/daemon.json "runtimes"). Asked of GET /info until it is there, then remembered:
 * runtimes can be added by reloading dockerd, not removed from a running one's containers. */
static int check_engine_runtime(struct docker *d, const struct isol8_tenant *t, int isolation, bool asked,
				struct isol8_err *err)
{
	static _Atomic bool have_runsc;
	json_object *info = NULL, *rts;
	const char *name = isol8_isolation_name(isolation);
	bool found;

	if (isolation == ISOL8_ISO_RUNC || have_runsc)
		return 0;
	if (docker_info(d, &info, err) < 0)
		return isol8_err_wrap(err, "ask the engine for its runtimes");
	found = isol8_json_member(info, "Runtimes", &rts) == 1 && json_object_is_type(rts, json_type_object) &&
		json_object_object_get_ex(rts, name, NULL);
	json_object_put(info);
	if (!found)
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0,
				     "tenant %s needs the OCI runtime %s (%s), which the engine does not "
				     "have: install it and register it in /etc/docker/daemon.json \"runtimes\", then "
				     "reload dockerd (kill -HUP)",
				     t->name, name, asked ? "the run's isolation" : "policy \"isolation\"");
	have_runsc = true;
	return 0;
}

int validate_create(struct broker *b, unsigned worker, uint32_t gen, struct isol8_msg *m, struct docker *d,
		    struct create_req *r, struct isol8_err *err)
{
	uint32_t token, pids;
	uint8_t rt, net, writable, kind, iso;
	uint64_t cpu_millis;
	_cleanup_free_ char *image = NULL, *preferred = NULL, *session = NULL;
	const struct isol8_tenant *t;
	struct isol8_err ierr = ISOL8_ERR_INIT;
	char base[64];
	bool prewarm = false;

	memset(r, 0, sizeof *r);
	if (isol8_get_u32(m, &token, err) < 0 || isol8_get_u8(m, &rt, err) < 0 ||
	    isol8_get_str(m, &image, ISOL8_MAX_IMAGE, err) < 0 ||
	    isol8_get_str(m, &preferred, ISOL8_MAX_IMAGE, err) < 0 || isol8_get_u64(m, &r->lim.memory, err) < 0 ||
	    isol8_get_u64(m, &cpu_millis, err) < 0 || isol8_get_u32(m, &pids, err) < 0 ||
	    isol8_get_u64(m, &r->lim.timeout_ms, err) < 0 || isol8_get_u64(m, &r->lim.sandbox_size, err) < 0 ||
	    isol8_get_u64(m, &r->lim.tmp_size, err) < 0 || isol8_get_u64(m, &r->lim.max_output, err) < 0 ||
	    isol8_get_u8(m, &net, err) < 0 || isol8_get_u8(m, &writable, err) < 0 || isol8_get_u8(m, &kind, err) < 0 ||
	    isol8_get_str(m, &session, ISOL8_MAX_SESSION, err) < 0 || isol8_get_u64(m, &r->persist_ttl_ms, err) < 0 ||
	    isol8_get_u8(m, &iso, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	if (table_token_get(token, worker, gen, &r->tenant, &prewarm) < 0)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "unknown or expired connection token %u", token);
	r->token = token;
	r->token_ok = true;
	r->prewarm = prewarm;
	r->replace = table_token_replace_shape(token, worker, gen, &r->shape) == 0;
	/* -1: the tenant left the policy at a reload while this connection was running. */
	if (r->tenant < 0 || (size_t)r->tenant >= b->policy.n_tenants)
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "your tenant is no longer in isol8d's policy (it was reloaded); ask its admin");
	t = &b->policy.tenants[r->tenant];

	/* Enums are range-checked before any use. */
	if (!isol8_runtime_name(rt))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "runtime %u out of range", rt);
	if (!isol8_net_mode_name(net))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "network mode %u out of range", net);
	if (kind >= SANDBOX__MAX)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "sandbox kind %u out of range", kind);
	if (writable > 1)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "writable flag %u out of range", writable);
	if (iso != ISOL8_ISO_POLICY && !isol8_isolation_name(iso))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "isolation %u out of range", iso);
	if ((kind == SANDBOX_SESSION) != (*session != '\0') || (*session && !isol8_valid_session_name(session)))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "bad session name for sandbox kind %u", kind);
	if (r->replace && kind != SANDBOX_EPHEMERAL)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "a replacement token creates only pool sandboxes");
	if (kind != SANDBOX_PERSIST && r->persist_ttl_ms)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "a persist ttl for sandbox kind %u", kind);
	if (cpu_millis == 0 || cpu_millis > 1024000 || pids == 0 || r->lim.memory == 0 || r->lim.timeout_ms == 0 ||
	    r->lim.sandbox_size == 0 || r->lim.tmp_size == 0 || r->lim.max_output == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "limits must be positive");
	r->lim.cpu = (double)cpu_millis / 1000.0;
	r->lim.pids = pids;
	r->runtime = rt;
	r->net_mode = net;
	r->writable = writable;
	r->kind = kind;
	snprintf(r->session, sizeof r->session, "%s", session);

	/* The broker's own prewarm tokens stand for no request: they create only what a request
	 * with no flags would get, whatever the tenant may do. */
	if (prewarm && !r->replace) {
		struct isol8_limits def;
		isol8_limits_defaults(&def);
		if (kind != SANDBOX_EPHEMERAL || net != ISOL8_NET_NONE || writable || *image || *preferred ||
		    iso != ISOL8_ISO_POLICY || r->lim.memory > def.memory || r->lim.cpu > def.cpu ||
		    r->lim.pids > def.pids || r->lim.timeout_ms > def.timeout_ms ||
		    r->lim.sandbox_size > def.sandbox_size || r->lim.tmp_size > def.tmp_size ||
		    r->lim.max_output > def.max_output)
			return isol8_err_set(err, ISOL8_E_POLICY, 0, "a prewarm token creates only default sandboxes");
	}
	if (isol8_policy_check_runtime(t, rt, err) < 0)
		return -1;
	/* Name the policy: "network host is not allowed" alone does not tell the user where the
	 * rule lives (the built-in one, or the file given with --policy). */
	if (isol8_policy_check_network(t, net, err) < 0)
		return isol8_err_wrap(err, "policy %s", b->policy.source ? b->policy.source : "built-in");
	if (writable && !t->writable_root)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "a writable root filesystem is not allowed for tenant %s",
				     t->name);
	/* The tier: the policy's, or a stronger one the run asked for (never a weaker one). */
	if (isol8_policy_check_isolation(t, iso, net, &r->isolation, err) < 0)
		return -1;
	if (check_engine_runtime(d, t, r->isolation, iso != ISOL8_ISO_POLICY, err) < 0)
		return -1;
	r->asked = r->lim;
	if (isol8_policy_apply_limits(t, &r->lim, err) < 0)
		return -1;
	r->clamped = memcmp(&r->asked, &r->lim, sizeof r->lim) != 0;
	if (kind == SANDBOX_SESSION && t->max_sessions &&
	    table_container_count_tenant_kind(r->tenant, SANDBOX_SESSION) >= t->max_sessions)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "tenant %s already has %u sessions (policy maximum)",
				     t->name, t->max_sessions);
	/* A persisted sandbox outlives its run, its timeout and maxConcurrent: the policy decides
	 * whether a tenant may have any, and how many at once. */
	if (kind == SANDBOX_PERSIST && !t->persist_ok)
		return isol8_err_set(err, ISOL8_E_POLICY, 0,
				     "persisted sandboxes (--persist) are not allowed for tenant %s", t->name);
	if (kind == SANDBOX_PERSIST && table_container_count_tenant_kind(r->tenant, SANDBOX_PERSIST) >= t->max_persist)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0,
				     "tenant %s already has %u persisted sandboxes (policy maximum maxPersist); "
				     "remove one of yours with 'isol8 rm ID' (listed by 'isol8 rm --list')",
				     t->name, t->max_persist);
	/* ... and for how long: the request may ask for less than the ceiling, never more. */
	if (kind == SANDBOX_PERSIST && isol8_policy_apply_persist_ttl(t, &r->persist_ttl_ms, err) < 0)
		return -1;

	snprintf(base, sizeof base, "isol8:%s", isol8_runtime_name(rt));
	if (*image) {
		if (isol8_policy_check_image(t, rt, image, err) < 0)
			return -1;
		if (!image_exists(d, image, &r->image_setup, &r->image_agent, &ierr))
			return isol8_err_set(err, ierr.code == ISOL8_E_NOTFOUND ? ISOL8_E_NOTFOUND : ierr.code, 0,
					     "image %s not found (run 'isol8 setup' or 'isol8 build')", image);
		r->image = steal_ptr(&image);
		return 0;
	}
	if (*preferred && isol8_policy_check_image(t, rt, preferred, &ierr) == 0 &&
	    image_exists(d, preferred, &r->image_setup, &r->image_agent, &ierr)) {
		r->image = steal_ptr(&preferred);
		return 0;
	}
	if (isol8_policy_check_image(t, rt, base, err) < 0)
		return -1;
	isol8_err_clear(&ierr);
	if (!image_exists(d, base, &r->image_setup, &r->image_agent, &ierr)) {
		if (ierr.code == ISOL8_E_NOTFOUND)
			return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "image %s not found (run 'isol8 setup')", base);
		*err = ierr;
		return -1;
	}
	r->image = xstrdup(base);
	return 0;
}

void exec_req_free(struct exec_req *e)
{
	for (size_t i = 0; i < e->argc; i++)
		free(e->argv[i]);
	for (size_t i = 0; i < e->envc; i++)
		free(e->env[i]);
	free(e->argv);
	free(e->env);
	free(e->workdir);
	memset(e, 0, sizeof *e);
}

int validate_sandbox_path(const char *p, struct isol8_err *err)
{
	const char *c;
	if (strncmp(p, "/sandbox", 8) != 0 && strncmp(p, "/tmp", 4) != 0)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "path %s is outside /sandbox and /tmp", p);
	if (!(strcmp(p, "/sandbox") == 0 || strncmp(p, "/sandbox/", 9) == 0 || strcmp(p, "/tmp") == 0 ||
	      strncmp(p, "/tmp/", 5) == 0))
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "path %s is outside /sandbox and /tmp", p);
	for (c = p; *c; c++) {
		if (c[0] == '/' && c[1] == '/')
			return isol8_err_set(err, ISOL8_E_POLICY, 0, "path %s is not normalised", p);
		if (c[0] == '/' && c[1] == '.' &&
		    (c[2] == '/' || c[2] == '\0' || (c[2] == '.' && (c[3] == '/' || c[3] == '\0'))))
			return isol8_err_set(err, ISOL8_E_POLICY, 0, "path %s is not normalised", p);
	}
	return 0;
}

int validate_exec(struct isol8_msg *m, struct exec_req *e, struct isol8_err *err)
{
	uint32_t n;
	uint8_t attach;

	memset(e, 0, sizeof *e);
	if (isol8_get_u32(m, &n, err) < 0)
		return -1;
	if (n == 0 || n > ISOL8_MAX_ARGS)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "exec: argc %u out of range", n);
	e->argv = xcalloc(n, sizeof *e->argv);
	for (; e->argc < n; e->argc++)
		if (isol8_get_str(m, &e->argv[e->argc], ISOL8_MAX_ARG, err) < 0)
			goto fail;
	if (isol8_get_u32(m, &n, err) < 0)
		goto fail;
	if (n > ISOL8_MAX_ENV) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "exec: envc %u out of range", n);
		goto fail;
	}
	e->env = xcalloc(n + 1, sizeof *e->env);
	for (; e->envc < n; e->envc++) {
		char *eq;
		if (isol8_get_str(m, &e->env[e->envc], ISOL8_MAX_ENV_ENTRY, err) < 0)
			goto fail;
		eq = strchr(e->env[e->envc], '=');
		if (!eq) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "exec: env entry without '='");
			e->envc++;
			goto fail;
		}
		*eq = '\0';
		if (!isol8_valid_env_name(e->env[e->envc])) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "exec: invalid env name '%.64s'", e->env[e->envc]);
			*eq = '=';
			e->envc++;
			goto fail;
		}
		*eq = '=';
	}
	if (isol8_get_str(m, &e->workdir, ISOL8_MAX_PATH, err) < 0 || isol8_get_u8(m, &attach, err) < 0 ||
	    isol8_msg_end(m, err) < 0)
		goto fail;
	if (attach > 1) {
		isol8_err_set(err, ISOL8_E_PROTO, 0, "exec: attach flag out of range");
		goto fail;
	}
	if (strcmp(e->workdir, "/sandbox") != 0 && strncmp(e->workdir, "/sandbox/", 9) != 0) {
		isol8_err_set(err, ISOL8_E_POLICY, 0, "Working directory must be inside /sandbox");
		goto fail;
	}
	if (validate_sandbox_path(e->workdir, err) < 0)
		goto fail;
	e->attach_stdin = attach;
	return 0;
fail:
	exec_req_free(e);
	return -1;
}

json_object *exec_create_body(const struct exec_req *e)
{
	json_object *b = json_object_new_object(), *cmd = json_object_new_array(), *env = json_object_new_array();

	for (size_t i = 0; i < e->argc; i++)
		json_object_array_add(cmd, json_object_new_string(e->argv[i]));
	for (size_t i = 0; i < e->envc; i++)
		json_object_array_add(env, json_object_new_string(e->env[i]));
	json_object_object_add(b, "Cmd", cmd);
	json_object_object_add(b, "Env", env);
	json_object_object_add(b, "WorkingDir", json_object_new_string(e->workdir));
	{
		char user[32];
		snprintf(user, sizeof user, "%u:%u", (unsigned)e->uid, (unsigned)e->gid);
		json_object_object_add(b, "User", json_object_new_string(user));
	}
	json_object_object_add(b, "Privileged", json_object_new_boolean(0));
	json_object_object_add(b, "Tty", json_object_new_boolean(0));
	json_object_object_add(b, "AttachStdin", json_object_new_boolean(e->attach_stdin));
	json_object_object_add(b, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(b, "AttachStderr", json_object_new_boolean(1));
	return b;
}
