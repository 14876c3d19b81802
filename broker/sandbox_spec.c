/* The Docker create body for a sandbox, rebuilt by the broker from validated values only.
 * A worker never supplies JSON for Docker. Hardening here is not negotiable by any request:
 * CapDrop ALL, no-new-privileges, the seccomp profile, a non-root user, no privileged mode,
 * private IPC, no swap beyond the memory limit, isol8 labels. The OCI runtime is the tenant's
 * isolation tier from the policy (runc, or gVisor's runsc); a request cannot name one. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/cleanup.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"

static const char *const kind_names[SANDBOX__MAX] = {"ephemeral", "session", "persist"};

static json_object *labels(const struct broker *b, const struct sandbox_spec *s)
{
	json_object *l = json_object_new_object();
	char w[16], u[16];

	snprintf(w, sizeof w, "%u", s->worker);
	snprintf(u, sizeof u, "%u", (unsigned)s->uid);
	json_object_object_add(l, "org.isol8.managed", json_object_new_string("true"));
	json_object_object_add(l, "org.isol8.instance", json_object_new_string(b->instance));
	json_object_object_add(l, "org.isol8.tenant", json_object_new_string(s->tenant_name));
	json_object_object_add(l, "org.isol8.worker", json_object_new_string(w));
	json_object_object_add(l, "org.isol8.kind", json_object_new_string(kind_names[s->kind]));
	json_object_object_add(l, "org.isol8.runtime", json_object_new_string(isol8_runtime_name(s->runtime)));
	json_object_object_add(l, "org.isol8.isolation", json_object_new_string(isol8_isolation_name(s->isolation)));
	/* For the admin (docker ps --filter) and the tests; the broker's table is what it trusts. */
	json_object_object_add(l, "org.isol8.uid", json_object_new_string(u));
	if (s->session && *s->session)
		json_object_object_add(l, "org.isol8.session", json_object_new_string(s->session));
	return l;
}

/* The engine's pids limit counts host tasks. Under runsc those are the Sentry's and gofer's
 * (about 50 at rest) and, on the ptrace platform, about six per process the program starts;
 * the Sentry dies when the Go runtime cannot get a thread. So a runsc sandbox gets room for its
 * own tasks plus eight per allowed process: the program's process count is bounded by it, not
 * exactly at the policy's number. */
#define RUNSC_PIDS_BASE 128
#define RUNSC_PIDS_PER_PROC 8

static int64_t host_pids(const struct sandbox_spec *s)
{
	if (s->isolation != ISOL8_ISO_RUNSC)
		return s->lim.pids;
	return RUNSC_PIDS_BASE + (int64_t)RUNSC_PIDS_PER_PROC * s->lim.pids;
}

static json_object *tmpfs(const struct sandbox_spec *s)
{
	json_object *t = json_object_new_object();
	char v[160];

	/* /sandbox allows exec (native modules of installed packages live there); /tmp does not. */
	snprintf(v, sizeof v, "rw,exec,nosuid,nodev,size=%llu,uid=%u,gid=%u,mode=0755",
		 (unsigned long long)s->lim.sandbox_size, (unsigned)s->uid, (unsigned)s->gid);
	json_object_object_add(t, "/sandbox", json_object_new_string(v));
	snprintf(v, sizeof v, "rw,noexec,nosuid,nodev,size=%llu,mode=1777", (unsigned long long)s->lim.tmp_size);
	json_object_object_add(t, "/tmp", json_object_new_string(v));
	return t;
}

/* gVisor's runsc applies an OCI seccomp profile only when registered with --oci-seccomp, and
 * then (Debian 12's 0.0~20221219) ignores errnoRet: every SCMP_ACT_ERRNO rule answers EPERM.
 * The strict profile's one ENOSYS rule, clone3, must not become EPERM: glibc falls back to clone
 * only on ENOSYS, and no thread could start. The Sentry does not implement clone3 and answers
 * ENOSYS itself, so a runsc sandbox's profile lets clone3 through to it. Any other ENOSYS rule
 * cannot be kept under runsc, and the broker refuses to start with one. */
char *seccomp_profile_for_runsc(const char *profile, struct isol8_err *err)
{
	static const char *const sentry_enosys[] = {"clone3", NULL};
	json_object *o = json_tokener_parse(profile), *rules, *rule, *v, *names;
	char *out;

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		isol8_err_set(err, ISOL8_E_POLICY, 0, "not a Docker seccomp profile (not a JSON object)");
		return NULL;
	}
	if (!json_object_object_get_ex(o, "syscalls", &rules) || !json_object_is_type(rules, json_type_array)) {
		json_object_put(o);
		return xstrdup(profile);
	}
	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		rule = json_object_array_get_idx(rules, i);
		if (!json_object_object_get_ex(rule, "errnoRet", &v) || json_object_get_int(v) != ENOSYS ||
		    !json_object_object_get_ex(rule, "names", &names) || !json_object_is_type(names, json_type_array))
			continue;
		for (size_t k = 0; k < json_object_array_length(names); k++) {
			const char *n = json_object_get_string(json_object_array_get_idx(names, k));
			bool ok = false;
			for (size_t j = 0; n && sentry_enosys[j]; j++)
				ok = ok || strcmp(n, sentry_enosys[j]) == 0;
			if (!ok) {
				isol8_err_set(err, ISOL8_E_POLICY, 0,
					      "rule for %s answers ENOSYS, which runsc cannot give (it ignores "
					      "errnoRet) and the Sentry does not answer for itself",
					      n ? n : "?");
				json_object_put(o);
				return NULL;
			}
		}
		json_object_object_add(rule, "action", json_object_new_string("SCMP_ACT_ALLOW"));
		json_object_object_del(rule, "errnoRet");
	}
	out = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

json_object *sandbox_create_body(const struct broker *b, const struct sandbox_spec *s)
{
	json_object *body = json_object_new_object();
	json_object *hc = json_object_new_object();
	json_object *cmd = json_object_new_array();
	json_object *capdrop = json_object_new_array();
	json_object *secopt = json_object_new_array();
	json_object *logcfg = json_object_new_object();
	_cleanup_free_ char *seccomp = NULL;
	char user[32];

	json_object_object_add(body, "Image", json_object_new_string(s->image));
	/* The container's main process only keeps the sandbox alive; programs run as execs. */
	if (s->agent_slot) {
		/* The agent runs programs on the worker's behalf; it starts before any user code. It
		 * is the entrypoint, so PID 1: the image's init (tini) would run as the sandbox user
		 * and be dumpable, and a program that rewrote it through /proc/1/mem would outlive
		 * every reset (kill(-1) spares PID 1). The agent is not dumpable and reaps orphans. */
		json_object *ep = json_object_new_array();
		json_object_array_add(ep, json_object_new_string("/usr/local/lib/isol8/isol8-agent"));
		json_object_object_add(body, "Entrypoint", ep);
		json_object_array_add(cmd, json_object_new_string("/run/isol8-agent/sock"));
	} else {
		json_object_array_add(cmd, json_object_new_string("sleep"));
		json_object_array_add(cmd, json_object_new_string("infinity"));
	}
	json_object_object_add(body, "Cmd", cmd);
	snprintf(user, sizeof user, "%u:%u", (unsigned)s->uid, (unsigned)s->gid);
	json_object_object_add(body, "User", json_object_new_string(user));
	json_object_object_add(body, "WorkingDir", json_object_new_string("/sandbox"));
	json_object_object_add(body, "Env", json_object_new_array());
	json_object_object_add(body, "Labels", labels(b, s));
	json_object_object_add(body, "StopTimeout", json_object_new_int(1));
	json_object_object_add(body, "NetworkDisabled", json_object_new_boolean(s->net_mode != ISOL8_NET_HOST));
	json_object_object_add(body, "AttachStdin", json_object_new_boolean(0));
	json_object_object_add(body, "Tty", json_object_new_boolean(0));

	json_object_object_add(hc, "Memory", json_object_new_int64((int64_t)s->lim.memory));
	json_object_object_add(hc, "MemorySwap", json_object_new_int64((int64_t)s->lim.memory));
	json_object_object_add(hc, "NanoCpus", json_object_new_int64((int64_t)(s->lim.cpu * 1e9)));
	json_object_object_add(hc, "PidsLimit", json_object_new_int64(host_pids(s)));
	json_object_object_add(hc, "ReadonlyRootfs", json_object_new_boolean(!s->writable));
	json_object_object_add(hc, "Tmpfs", tmpfs(s));
	json_object_array_add(capdrop, json_object_new_string("ALL"));
	json_object_object_add(hc, "CapDrop", capdrop);
	json_object_object_add(hc, "CapAdd", json_object_new_array());
	json_object_array_add(secopt, json_object_new_string("no-new-privileges"));
	/* Never a sandbox without the profile: isol8d does not start without one, and out of memory
	 * here aborts (xasprintf) instead of leaving it out. */
	if (!b->seccomp_json || !b->seccomp_runsc_json) {
		log_error("no sandbox seccomp profile loaded; refusing to create a sandbox without it");
		abort();
	}
	seccomp = xasprintf("seccomp=%s", s->isolation == ISOL8_ISO_RUNSC ? b->seccomp_runsc_json : b->seccomp_json);
	json_object_array_add(secopt, json_object_new_string(seccomp));
	json_object_object_add(hc, "SecurityOpt", secopt);
	json_object_object_add(hc, "Privileged", json_object_new_boolean(0));
	json_object_object_add(hc, "Runtime", json_object_new_string(isol8_isolation_name(s->isolation)));
	json_object_object_add(hc, "IpcMode", json_object_new_string("private"));
	json_object_object_add(hc, "NetworkMode",
			       json_object_new_string(s->net_mode == ISOL8_NET_HOST ? "host" : "none"));
	json_object_object_add(hc, "AutoRemove", json_object_new_boolean(0));
	/* Output travels over exec streams; the engine must not keep its own copy on disk. */
	json_object_object_add(logcfg, "Type", json_object_new_string("none"));
	json_object_object_add(hc, "LogConfig", logcfg);
	if (s->agent_slot) {
		json_object *binds = json_object_new_array();
		char bind[256];
		snprintf(bind, sizeof bind, "%s:/run/isol8-agent:ro", s->agent_slot);
		json_object_array_add(binds, json_object_new_string(bind));
		json_object_object_add(hc, "Binds", binds);
	}
	json_object_object_add(body, "HostConfig", hc);
	return body;
}
