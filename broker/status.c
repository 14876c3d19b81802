/* HELLO_STATUS: what an admin asks a running daemon (isol8 status, and the HTTP server's
 * /health). Built on the main thread, which owns everything it reads, and sent as a sealed
 * memfd: the document grows with the tenants. Local root sees every tenant; any other caller
 * (an API key's too) sees its own. Pools are the workers' state: the broker reports the
 * sandboxes it created for them (warm ones are the ephemeral sandboxes not running a run). */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/pools.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/proto.h"

static json_object *rfc3339(time_t t)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(buf);
}

static json_object *tenant_status(struct broker *b, int i)
{
	json_object *t = json_object_new_object();
	unsigned eph = table_container_count_tenant_kind(i, SANDBOX_EPHEMERAL);
	unsigned runs = table_token_count_runs(i);

	json_object_object_add(t, "name", json_object_new_string(b->policy.tenants[i].name));
	json_object_object_add(t, "runsInFlight", json_object_new_int64(runs));
	json_object_object_add(t, "queued", json_object_new_int64(broker_queue_waiting(i)));
	json_object_object_add(t, "sessions",
			       json_object_new_int64(table_container_count_tenant_kind(i, SANDBOX_SESSION)));
	json_object_object_add(t, "persisted",
			       json_object_new_int64(table_container_count_tenant_kind(i, SANDBOX_PERSIST)));
	json_object_object_add(t, "ephemeralSandboxes", json_object_new_int64(eph));
	json_object_object_add(t, "maxConcurrent", json_object_new_int64(b->policy.tenants[i].max_concurrent));
	json_object_object_add(t, "admin",
			       json_object_new_boolean(b->policy.admin_marked && b->policy.tenants[i].admin));
	/* The host uids its sandboxes get (isol8-policy(5) HOST IDENTITIES): a block, one uid each,
	 * or one uid:gid for all of them. For the admin reserving them on the host. */
	{
		const struct isol8_tenant *pt = &b->policy.tenants[i];
		char u[48];
		if (pt->host_uids > 1)
			snprintf(u, sizeof u, "%u-%u", (unsigned)pt->host_uid,
				 (unsigned)(pt->host_uid + pt->host_uids - 1));
		else
			snprintf(u, sizeof u, "%u:%u", (unsigned)pt->host_uid, (unsigned)pt->host_gid);
		json_object_object_add(t, "hostUids", json_object_new_string(u));
	}
	return t;
}

/* The warm pools per shape as the workers last reported them (broker/pools.c): warm (ready),
 * resetting (a used sandbox being cleaned by its agent) and inUse (a reusable sandbox lent to a
 * run). The shape is the pool's key: tenant, runtime, image and the limits it was made with. */
static json_object *pools_status(struct broker *b, int tenant)
{
	static const char *const state_names[POOL__STATES] = {"warm", "resetting", "inUse"};
	json_object *a = json_object_new_array();
	struct pool_shape *s = NULL;
	size_t n = pools_snapshot(b, tenant, &s);

	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_new_object();
		const char *rt = isol8_runtime_name(s[i].runtime), *net = isol8_net_mode_name(s[i].net_mode);
		char shape[400];
		snprintf(shape, sizeof shape, "%s %s mem=%llu cpu=%llum pids=%u net=%s%s isolation=%s", rt,
			 s[i].image[0] ? s[i].image : "(default)", (unsigned long long)s[i].memory,
			 (unsigned long long)s[i].cpu_millis, (unsigned)s[i].pids, net,
			 s[i].writable ? " writable" : "", isol8_isolation_name(s[i].isolation));
		json_object_object_add(p, "tenant", json_object_new_string(s[i].tenant));
		json_object_object_add(p, "runtime", json_object_new_string(rt));
		json_object_object_add(p, "image", json_object_new_string(s[i].image));
		json_object_object_add(p, "memory", json_object_new_int64((int64_t)s[i].memory));
		json_object_object_add(p, "cpuMillis", json_object_new_int64((int64_t)s[i].cpu_millis));
		json_object_object_add(p, "pids", json_object_new_int64(s[i].pids));
		json_object_object_add(p, "network", json_object_new_string(net));
		json_object_object_add(p, "writableRoot", json_object_new_boolean(s[i].writable));
		json_object_object_add(p, "isolation", json_object_new_string(isol8_isolation_name(s[i].isolation)));
		json_object_object_add(p, "shape", json_object_new_string(shape));
		for (int j = 0; j < POOL__STATES; j++)
			json_object_object_add(p, state_names[j], json_object_new_int64(s[i].n[j]));
		json_object_array_add(a, p);
	}
	free(s);
	return a;
}

static json_object *status_doc(struct broker *b, int tenant, bool all)
{
	json_object *o = json_object_new_object(), *ws = json_object_new_array(), *ts = json_object_new_array(),
		    *pol = json_object_new_object(), *q = json_object_new_object();
	time_t now = time(NULL);

	json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "startedAt", rfc3339(b->started_at));
	json_object_object_add(o, "uptimeSeconds", json_object_new_int64(now - b->started_at));
	json_object_object_add(o, "socket", json_object_new_string(b->o.socket_path));
	json_object_object_add(o, "node", b->o.node_id ? json_object_new_string(b->o.node_id) : NULL);
	json_object_object_add(o, "nodeState",
			       json_object_new_string(b->node_state == NODE_READY              ? "ready"
							      : b->node_state == NODE_DRAINING ? "draining"
											       : "drained"));
	json_object_object_add(o, "scope", json_object_new_string(all ? "all" : "tenant"));
	for (unsigned i = 0; i < b->o.workers; i++) {
		json_object *w = json_object_new_object();
		json_object_object_add(w, "index", json_object_new_int64(i));
		json_object_object_add(w, "pid", json_object_new_int64(supervise_pid(SV_WORKER, i)));
		json_object_object_add(w, "running",
				       json_object_new_boolean(supervise_pid(SV_WORKER, i) > 0 && b->w[i].chan >= 0));
		json_object_object_add(w, "connections", json_object_new_int64(b->w[i].load));
		json_object_object_add(w, "restarts", json_object_new_int64(b->w[i].gen ? b->w[i].gen - 1 : 0));
		if (all) {
			char(*ids)[65] = NULL;
			size_t n = table_container_ids(i, b->w[i].gen, false, 0, &ids);
			json_object_object_add(w, "sandboxes", json_object_new_int64((int64_t)n));
			free(ids);
		}
		json_object_array_add(ws, w);
	}
	json_object_object_add(o, "workers", ws);
	json_object_object_add(q, "runsInFlight", json_object_new_int64(table_token_count_runs(all ? -1 : tenant)));
	json_object_object_add(q, "maxConcurrent", json_object_new_int64(b->o.max_concurrent));
	json_object_object_add(q, "waiting", json_object_new_int64(broker_queue_waiting(all ? -1 : tenant)));
	json_object_object_add(q, "maxWaiting", json_object_new_int64(b->o.queue_max));
	json_object_object_add(o, "queue", q);
	json_object_object_add(o, "pool", json_object_new_string(b->o.pool_secure ? "secure" : "fast"));
	json_object_object_add(o, "poolSize", json_object_new_int64(b->o.pool_size));
	json_object_object_add(o, "poolDirty", json_object_new_int64(b->o.pool_dirty));
	json_object_object_add(o, "pools", pools_status(b, all ? -1 : tenant));
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		if (all || (int)i == tenant)
			json_object_array_add(ts, tenant_status(b, (int)i));
	json_object_object_add(o, "tenants", ts);
	json_object_object_add(pol, "source", json_object_new_string(b->policy.source ? b->policy.source : "built-in"));
	json_object_object_add(pol, "loadedAt", rfc3339(b->policy_loaded_at));
	json_object_object_add(pol, "reloads", json_object_new_int64(b->policy_gen));
	json_object_object_add(pol, "tenants", json_object_new_int64((int64_t)b->policy.n_tenants));
	/* Who sees every tenant: the tenants marked "admin": true, or local root in a policy
	 * that marks none (isol8-policy(5) ADMINS). */
	{
		json_object *adm = json_object_new_array();
		for (size_t i = 0; b->policy.admin_marked && i < b->policy.n_tenants; i++)
			if (b->policy.tenants[i].admin)
				json_object_array_add(adm, json_object_new_string(b->policy.tenants[i].name));
		json_object_object_add(pol, "admins", adm);
		json_object_object_add(pol, "adminRule",
				       json_object_new_string(b->policy.admin_marked ? "marked" : "local root"));
	}
	json_object_object_add(o, "policy", pol);
	return o;
}

void broker_serve_status(struct broker *b, int fd, int tenant, bool all)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int mfd = memfd_create("isol8-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	json_object *doc = status_doc(b, tenant, all);
	size_t len;
	const char *text = json_object_to_json_string_length(doc, JSON_C_TO_STRING_PLAIN, &len);

	if (mfd < 0 || write(mfd, text, len) != (ssize_t)len || lseek(mfd, 0, SEEK_SET) != 0 ||
	    isol8_memfd_seal(mfd, &err) < 0 || isol8_ipc_send(fd, WK_FILE, 0, NULL, 0, &mfd, 1, &err) < 0)
		log_warn("status reply: %s", err.msg[0] ? err.msg : strerror(errno));
	json_object_put(doc);
	close(fd);
}
