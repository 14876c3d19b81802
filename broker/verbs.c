/* The broker's verb table: the only Docker operations a worker can ask for. Each message is
 * checked against the table (sender kind, fd count, length bounds) before it is parsed; each
 * verb then parses with the cursor, re-validates every field, checks ownership in the broker's
 * own table, and only then calls Docker. A malformed or unpermitted message gets an error reply
 * and a log line; the broker never exits on worker input. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/audit.h"
#include "broker/broker.h"
#include "broker/pools.h"
#include "common/remote_code.h"
#include "fetch/fetch.h"
#include "broker/usage.h"
#include "broker/validate.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/proto_rows.h"
#include "common/xalloc.h"
#include "docker/client.h"

struct job {
	struct broker *b;
	unsigned worker;
	uint32_t gen;
	struct isol8_msg m;
	const struct isol8_proto_row *spec;
};

typedef int verb_fn(struct job *j, struct docker *d, struct isol8_buf *reply, int *reply_fd, struct isol8_err *err);

static void reply_err(struct broker *b, unsigned worker, uint32_t req, const struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	isol8_put_u16(&p, (uint16_t)(err->code ? err->code : ISOL8_E_INTERNAL));
	isol8_put_str(&p, err->msg);
	broker_send_worker(b, worker, BR_REPLY_ERR, req, &p, NULL, 0);
	isol8_buf_free(&p);
}

/* ---- helpers ---- */

static int get_owned(struct job *j, char **id, struct owned_container *oc, struct isol8_err *err)
{
	if (isol8_get_str(&j->m, id, ISOL8_MAX_ID, err) < 0)
		return -1;
	if (table_container_owned(*id, j->worker, j->gen, oc) < 0) {
		char why[256];
		if (table_tombstone_get(*id, why, sizeof why))
			return isol8_err_set(err, ISOL8_E_POLICY, 0, "sandbox %.12s was %s", *id, why);
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "container %.12s is not owned by this worker", *id);
	}
	return 0;
}

/* The policy's answer for a replacement (validate_create) is the sandbox it replaces. */
static bool shape_matches(const struct create_req *r)
{
	const struct sandbox_shape *s = &r->shape;
	return r->runtime == s->runtime && strcmp(r->image, s->image) == 0 &&
		memcmp(&r->lim, &s->lim, sizeof r->lim) == 0 && r->net_mode == s->net_mode &&
		r->writable == s->writable && r->isolation == s->isolation;
}

/* ---- verbs ---- */

static int verb_create(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	struct create_req r;
	struct sandbox_spec s;
	struct owned_container oc = {0};
	json_object *body = NULL;
	char id[65];
	int rc;

	if (validate_create(j->b, j->worker, j->gen, &j->m, d, &r, err) < 0) {
		if (r.token_ok && (err->code == ISOL8_E_POLICY || err->code == ISOL8_E_LIMIT))
			audit_refusal_token(j->b, j->worker, j->gen, r.token, "create-sandbox", err);
		create_req_free(&r);
		return -1;
	}
	if (r.replace && !shape_matches(&r)) {
		create_req_free(&r);
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "a replacement must be made as the sandbox it replaces");
	}
	/* The sandbox's host identity: its tenant's one uid, or a uid of its block that no other
	 * sandbox holds (so not even two sandboxes of one tenant share a host uid). */
	{
		const struct isol8_tenant *t = &j->b->policy.tenants[r.tenant];
		oc.uid = t->host_uid;
		oc.gid = t->host_gid;
		if (t->host_uids > 1) {
			if (table_uid_claim(t->host_uid, t->host_uids, &oc.uid) < 0) {
				isol8_err_set(err, ISOL8_E_LIMIT, 0,
					      "tenant %s has a sandbox on each of its %u host uids (policy "
					      "hostUidRange.perTenant); retry when one has ended, or ask its admin for "
					      "a larger perTenant",
					      t->name, (unsigned)t->host_uids);
				create_req_free(&r);
				return -1;
			}
			oc.gid = oc.uid;
			oc.uid_claimed = true;
		}
	}
	s = (struct sandbox_spec){.image = r.image,
				  .runtime = r.runtime,
				  .tenant = r.tenant,
				  .tenant_name = j->b->policy.tenants[r.tenant].name,
				  .worker = j->worker,
				  .kind = r.kind,
				  .session = r.session,
				  .lim = r.lim,
				  .net_mode = r.net_mode,
				  .writable = r.writable,
				  .isolation = r.isolation,
				  .uid = oc.uid,
				  .gid = oc.gid};
	oc.agent_listen = -1;
	/* Under gVisor the agent's connection would end in the Sentry's own socket table, not on
	 * the host's listener, and no host fd could cross it: runsc sandboxes use docker exec. */
	if (r.image_agent && !j->b->o.no_agent && r.isolation == ISOL8_ISO_RUNC) {
		struct isol8_err aerr = ISOL8_ERR_INIT;
		if (agent_slot_create(j->b, oc.slot, sizeof oc.slot, &oc.agent_listen, &aerr) < 0) {
			/* Without a slot the sandbox still works through docker exec. */
			log_warn("agent slot: %s", aerr.msg);
			oc.slot[0] = '\0';
		} else {
			s.agent_slot = oc.slot;
		}
	}
	body = sandbox_create_body(j->b, &s);
	rc = docker_container_create(d, NULL, body, id, err);
	json_object_put(body);
	if (rc < 0) {
		xclose(oc.agent_listen);
		agent_slot_remove(oc.slot);
		if (oc.uid_claimed)
			table_uid_release(oc.uid);
		create_req_free(&r);
		return isol8_err_wrap(err, "create sandbox");
	}
	memcpy(oc.id, id, sizeof oc.id);
	oc.worker = j->worker;
	oc.gen = j->gen;
	oc.tenant = r.tenant;
	oc.kind = r.kind;
	oc.net_mode = r.net_mode;
	snprintf(oc.session, sizeof oc.session, "%s", r.session);
	/* A hard lifetime the broker enforces itself, whatever the worker does with its timer. */
	/* Room for a stay in a worker's warm pool (BROKER_POOL_IDLE_MS); taking it from the pool
	 * renews the deadline to the run's own timeout (verb_renew). */
	oc.deadline_ms = r.kind == SANDBOX_EPHEMERAL ? clock_mono_ms() + BROKER_POOL_IDLE_MS + r.lim.timeout_ms + 60000
						     : 0;
	/* A persisted one outlives its run by the ttl the policy allows, and no more: then it goes,
	 * and every process the program left running in it goes with it. */
	if (r.kind == SANDBOX_PERSIST)
		oc.deadline_ms = clock_mono_ms() + r.lim.timeout_ms + r.persist_ttl_ms;
	oc.timeout_ms = r.lim.timeout_ms;
	oc.policy_gen = j->b->policy_gen;
	{
		/* Its owner, for isol8 rm: the principal the broker routed the token for. */
		struct token_who who;
		if (!r.prewarm && table_token_who(r.token, j->worker, j->gen, &who) == 0)
			memcpy(oc.owner, who.principal, sizeof oc.owner);
	}
	oc.shape.runtime = r.runtime;
	snprintf(oc.shape.image, sizeof oc.shape.image, "%s", r.image);
	oc.shape.lim = r.lim;
	oc.shape.net_mode = r.net_mode;
	oc.shape.writable = r.writable;
	oc.shape.isolation = r.isolation;
	oc.replacement = r.replace;
	table_container_add(&oc);
	/* One replacement per dead sandbox. */
	if (r.replace)
		table_token_drop(r.token, j->worker, j->gen);
	audit_note_sandbox(id, &r);
	if (r.clamped && !r.prewarm)
		audit_clamp(j->b, j->worker, j->gen, r.token, id, &r.asked, &r.lim);
	log_info("created sandbox %.12s tenant=%s runtime=%s isolation=%s image=%s kind=%d mem=%llu cpu=%.2f pids=%u",
		 id, s.tenant_name, isol8_runtime_name(r.runtime), isol8_isolation_name(r.isolation), r.image, r.kind,
		 (unsigned long long)r.lim.memory, r.lim.cpu, r.lim.pids);
	isol8_put_str(reply, id);
	isol8_put_u64(reply, r.lim.memory);
	isol8_put_u64(reply, (uint64_t)(r.lim.cpu * 1000.0 + 0.5));
	isol8_put_u32(reply, r.lim.pids);
	isol8_put_u64(reply, r.lim.timeout_ms);
	isol8_put_u64(reply, r.lim.sandbox_size);
	isol8_put_u64(reply, r.lim.tmp_size);
	isol8_put_u64(reply, r.lim.max_output);
	isol8_put_u8(reply, r.writable);
	isol8_put_str(reply, r.image);
	isol8_put_u8(reply, r.image_setup);
	isol8_put_u8(reply, (uint8_t)r.isolation);
	isol8_put_u64(reply, r.kind == SANDBOX_PERSIST ? r.persist_ttl_ms : 0);
	create_req_free(&r);
	(void)rfd;
	return 0;
}

static int verb_start(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;

	int lfd;

	if (get_owned(j, &id, &oc, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (docker_container_start(d, id, err) < 0)
		return -1;
	lfd = table_container_take_listen(id, j->worker, j->gen);
	if (lfd >= 0) {
		struct isol8_err aerr = ISOL8_ERR_INIT;
		int conn = -1;
		if (agent_slot_accept(lfd, id, oc.uid, 5000, &conn, &aerr) < 0)
			log_warn("sandbox %.12s: %s; falling back to docker exec", id, aerr.msg);
		else
			*rfd = conn;
		close(lfd);
		/* Nobody may connect again: the path goes now, the directory with the container. */
		{
			char p[200];
			snprintf(p, sizeof p, "%s/sock", oc.slot);
			unlink(p);
		}
	}
	return 0;
}

static int verb_renew(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;
	uint64_t ms;

	if (get_owned(j, &id, &oc, err) < 0 || isol8_get_u64(&j->m, &ms, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (oc.kind != SANDBOX_EPHEMERAL)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "renew: %.12s is not an ephemeral sandbox", id);
	/* Made under ceilings that a reload has replaced: the worker creates a fresh one instead
	 * (and does not put this one back in its pool). */
	if (oc.policy_gen != j->b->policy_gen)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "renew: %.12s predates the policy reload", id);
	/* 0: back in the worker's pool after a reset, which gets the stay a new sandbox gets at
	 * create (verb_create); the worker drops pooled sandboxes before it (worker/pool.h). */
	if (ms == 0)
		return table_container_renew(id, j->worker, j->gen,
					     clock_mono_ms() + BROKER_POOL_IDLE_MS + oc.timeout_ms + 60000);
	if (ms > oc.timeout_ms)
		ms = oc.timeout_ms;
	return table_container_renew(id, j->worker, j->gen, clock_mono_ms() + ms + 60000);
}

static int verb_exec(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;
	struct exec_req e;
	json_object *body;
	char exec_id[65];
	int fd = -1, rc;

	if (get_owned(j, &id, &oc, err) < 0)
		return -1;
	if (validate_exec(&j->m, &e, err) < 0)
		return -1;
	/* The identity it was created with, even if a reload has moved its tenant's since. */
	e.uid = oc.uid;
	e.gid = oc.gid;
	body = exec_create_body(&e);
	rc = docker_exec_create(d, id, body, exec_id, err);
	json_object_put(body);
	exec_req_free(&e);
	if (rc < 0)
		return isol8_err_wrap(err, "exec in %.12s", id);
	if (docker_exec_start_hijack(d, exec_id, &fd, err) < 0)
		return isol8_err_wrap(err, "start exec in %.12s", id);
	table_exec_add(exec_id, id, j->worker, j->gen);
	isol8_put_str(reply, exec_id);
	*rfd = fd;
	return 0;
}

static int verb_exec_status(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	bool running = false;
	int code = -1, pid = 0;

	if (isol8_get_str(&j->m, &id, ISOL8_MAX_ID, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (table_exec_owned(id, j->worker, j->gen) < 0)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "exec %.12s is not owned by this worker", id);
	if (docker_exec_inspect(d, id, &running, &code, &pid, err) < 0)
		return -1;
	if (!running)
		table_exec_del(id);
	isol8_put_u8(reply, running);
	isol8_put_u32(reply, (uint32_t)code);
	return 0;
}

static int verb_inspect(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;
	json_object *o = NULL, *state, *v;
	bool running = false, oom = false, runsc = false;
	int code = 0, pid = 0;
	long kills, refused = 0;

	if (get_owned(j, &id, &oc, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (docker_container_inspect(d, id, &o, err) < 0)
		return -1;
	if (json_object_object_get_ex(o, "HostConfig", &state) && json_object_object_get_ex(state, "Runtime", &v))
		runsc = json_object_get_string(v) && strcmp(json_object_get_string(v), "runsc") == 0;
	if (json_object_object_get_ex(o, "State", &state)) {
		if (json_object_object_get_ex(state, "Running", &v))
			running = json_object_get_boolean(v);
		if (json_object_object_get_ex(state, "OOMKilled", &v))
			oom = json_object_get_boolean(v);
		if (json_object_object_get_ex(state, "ExitCode", &v))
			code = json_object_get_int(v);
		if (json_object_object_get_ex(state, "Pid", &v))
			pid = json_object_get_int(v);
	}
	json_object_put(o);
	kills = broker_cgroup_oom_kills(pid);
	/* The Sentry dies when the pids limit refuses it a thread (google/gvisor#2490). */
	if (runsc)
		refused = broker_cgroup_pids_refused(oc.id, running);
	isol8_put_u8(reply, running);
	isol8_put_u8(reply, oom);
	isol8_put_u32(reply, (uint32_t)code);
	isol8_put_u32(reply, kills < 0 ? 0 : (uint32_t)kills);
	isol8_put_u32(reply, refused < 0 ? 0 : (uint32_t)refused);
	return 0;
}

static int verb_kill(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;
	uint8_t sig;
	const char *name;

	if (get_owned(j, &id, &oc, err) < 0 || isol8_get_u8(&j->m, &sig, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	switch (sig) {
	case SIGKILL:
		name = "SIGKILL";
		break;
	case SIGTERM:
		name = "SIGTERM";
		break;
	case SIGINT:
		name = "SIGINT";
		break;
	default:
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "kill: signal %u not allowed", sig);
	}
	return docker_container_kill(d, id, name, err);
}

static int verb_remove(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;

	if (get_owned(j, &id, &oc, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (docker_container_remove(d, id, true, true, err) < 0)
		return -1;
	netns_forget(j->b, id);
	table_container_del(id);
	log_info("removed sandbox %.12s", id);
	return 0;
}

/* A pooled sandbox died while idle (removed out of band, killed, the engine restarted): the
 * worker may make one like it, for the same tenant, without a caller's connection. Only for a
 * sandbox that is really gone, once: the record goes with the answer. */
static int verb_replace(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;
	json_object *o = NULL, *state, *v;
	bool running = false;
	uint32_t token;
	struct isol8_err ierr = ISOL8_ERR_INIT;

	(void)rfd;
	if (get_owned(j, &id, &oc, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (oc.kind != SANDBOX_EPHEMERAL)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "replace: %.12s is not a pool sandbox", id);
	if (oc.policy_gen != j->b->policy_gen)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "replace: %.12s predates the policy reload", id);
	/* A token outlives the connection that made the sandbox; chained, create-kill-replace
	 * would keep a tenant's identity in the worker's hands for as long as it liked. One
	 * generation, then the next run's own token. */
	if (oc.replacement)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "replace: %.12s is itself a replacement", id);
	if (docker_container_inspect(d, id, &o, &ierr) == 0) {
		if (json_object_object_get_ex(o, "State", &state) && json_object_object_get_ex(state, "Running", &v))
			running = json_object_get_boolean(v);
		json_object_put(o);
		if (running)
			return isol8_err_set(err, ISOL8_E_PROTO, 0, "replace: %.12s is still running", id);
	} else if (ierr.code != ISOL8_E_NOTFOUND) {
		/* The engine does not answer: nothing to replace it on yet. */
		*err = ierr;
		return -1;
	}
	if (docker_container_remove(d, id, true, true, err) < 0 && err->code != ISOL8_E_NOTFOUND)
		return -1;
	isol8_err_clear(err);
	netns_forget(j->b, id);
	table_container_del(id);
	token = table_token_new_replace(j->worker, j->gen, oc.tenant, &oc.shape,
					clock_mono_ms() + BROKER_PREWARM_TOKEN_MS);
	log_info("sandbox %.12s is gone while pooled: its worker may replace it", id);
	isol8_put_u32(reply, token);
	return 0;
}

static int verb_net_rules(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;

	if (get_owned(j, &id, &oc, err) < 0)
		return -1;
	return netns_apply_rules(j->b, d, id, &oc, &j->m, err);
}

static int verb_net_logs(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;

	if (get_owned(j, &id, &oc, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	return netns_logs(j->b, id, reply, err);
}

static int verb_list_own(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	char(*ids)[65] = NULL;
	size_t n;

	if (isol8_msg_end(&j->m, err) < 0)
		return -1;
	n = table_container_ids(j->worker, j->gen, false, 0, &ids);
	isol8_put_u32(reply, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		isol8_put_str(reply, ids[i]);
	free(ids);
	return 0;
}

/* isol8 rm: the caller's own persisted sandboxes, whichever worker made them. Who the caller
 * is comes from the token (the tenant and principal the broker routed it for, from SO_PEERCRED
 * or a trusted frontend's key), never from the message; another tenant's or principal's
 * sandbox is "not found" like one that does not exist, so its existence does not leak. */
static int kept_owner(struct job *j, struct token_who *who, struct isol8_err *err)
{
	uint32_t token;

	if (isol8_get_u32(&j->m, &token, err) < 0)
		return -1;
	if (table_token_who(token, j->worker, j->gen, who) < 0 || who->uid == (uid_t)-1 || who->tenant < 0 ||
	    !who->principal[0])
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "unknown or expired connection token %u", token);
	return 0;
}

static int verb_kept_list(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char(*ids)[65] = NULL;
	_cleanup_free_ uint64_t *left = NULL;
	struct token_who who;
	size_t n;

	if (kept_owner(j, &who, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	ids = xcalloc(ISOL8_KEPT_LIST_MAX, sizeof *ids);
	left = xcalloc(ISOL8_KEPT_LIST_MAX, sizeof *left);
	n = table_kept_find(who.tenant, who.principal, "", ids, left, ISOL8_KEPT_LIST_MAX, clock_mono_ms());
	isol8_put_u32(reply, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		isol8_put_str(reply, ids[i]);
		isol8_put_u64(reply, left[i]);
	}
	(void)d;
	(void)rfd;
	return 0;
}

static bool valid_id_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n < 12 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static int verb_kept_remove(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *prefix = NULL;
	struct token_who who;
	char ids[2][65];
	uint64_t left[2];
	size_t n;

	if (kept_owner(j, &who, err) < 0 || isol8_get_str(&j->m, &prefix, 64, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (!valid_id_prefix(prefix))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "a container id is 12 to 64 lowercase hex digits");
	n = table_kept_find(who.tenant, who.principal, prefix, ids, left, 2, clock_mono_ms());
	if (n == 0)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0,
				     "no kept container %s of yours (list them with 'isol8 rm --list')", prefix);
	if (n > 1)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "%s names more than one of your kept containers: give more of the id", prefix);
	/* Gone already (its deadline, a concurrent rm) is what the caller asked for. */
	if (docker_container_remove(d, ids[0], true, true, err) < 0)
		return isol8_err_wrap(err, "remove %.12s", ids[0]);
	netns_forget(j->b, ids[0]);
	table_tombstone_add(ids[0], "removed by its owner (isol8 rm)");
	table_container_del(ids[0]);
	log_info("removed kept sandbox %.12s for %s", ids[0], who.principal);
	(void)reply;
	(void)rfd;
	return 0;
}

/* Messages without a reply, served at once in the main loop: no Docker, no thread. */
static int verb_log(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *line = NULL;
	char origin[32];
	uint8_t level;

	if (isol8_get_u8(&j->m, &level, err) < 0 || !isol8_log_level_name(level) ||
	    isol8_get_str(&j->m, &line, ISOL8_MAX_LOG_LINE, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	snprintf(origin, sizeof origin, "isol8-worker[%u]", j->worker);
	isol8_log_relay(level, origin, line);
	return 0;
}

static int verb_conn_done(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	struct worker_slot *w = &j->b->w[j->worker];
	uint32_t token;

	if (isol8_get_u32(&j->m, &token, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (table_token_drop(token, j->worker, w->gen) && w->load)
		w->load--;
	return 0;
}

/* In the main loop, not a verb thread: V_CONN_DONE behind it on the channel drops the token it
 * names. An audit record that cannot be written is the operator's concern, not the worker's. */
static int verb_audit(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	if (audit_execution(j->b, j->worker, j->gen, &j->m, err) < 0)
		log_warn("worker %u: %s", j->worker, err->msg);
	return 0;
}

/* In the main loop: the worker's pool snapshot, for isol8 status and the metrics only. */
static int verb_pool_state(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	(void)d;
	(void)reply;
	(void)rfd;
	return pools_update(j->b, j->worker, j->gen, &j->m, err);
}

static int verb_usage(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;
	struct usage_sample u;
	uint64_t up = 0, down = 0;
	uint8_t reset, known;

	if (get_owned(j, &id, &oc, err) < 0 || isol8_get_u8(&j->m, &reset, err) < 0 || isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (reset > 1)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "usage: reset flag %u out of range", reset);
	if (usage_read(id, reset, &u) < 0)
		memset(&u, 0, sizeof u);
	known = u.known;
	/* Without a network the counts are zero; through the proxy they are its byte counts; on
	 * the host's network they are not the sandbox's own, so unknown. */
	if (oc.net_mode == ISOL8_NET_NONE)
		known |= USAGE_K_NET;
	else if (oc.net_mode == ISOL8_NET_FILTERED && netns_stats(j->b, id, &up, &down, err) == 0)
		known |= USAGE_K_NET;
	isol8_put_u8(reply, known);
	isol8_put_u64(reply, u.cpu_us);
	isol8_put_u64(reply, u.mem);
	isol8_put_u64(reply, u.peak);
	isol8_put_u64(reply, down);
	isol8_put_u64(reply, up);
	(void)d;
	(void)rfd;
	return 0;
}

/* ---- dispatch ---- */

/* Remote code: the tenant's policy decides (a frontend's or worker's wish never enables it);
 * the fetch itself runs in isol8-fetch (broker/fetch.c). The request can only narrow the
 * policy's size cap and timeout. */
static int verb_fetch(struct job *j, struct docker *d, struct isol8_buf *reply, int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *url = NULL, *hash = NULL;
	const struct isol8_tenant *t;
	const struct isol8_remote_policy *rp;
	struct fetch_job job = {0};
	uint64_t max_size, timeout_ms;
	uint32_t token;
	uint8_t insecure;
	bool prewarm = false;
	int tenant, sock = -1;

	(void)d;
	(void)reply;
	if (isol8_get_u32(&j->m, &token, err) < 0 || isol8_get_str(&j->m, &url, ISOL8_REMOTE_MAX_URL, err) < 0 ||
	    isol8_get_str(&j->m, &hash, 64, err) < 0 || isol8_get_u8(&j->m, &insecure, err) < 0 ||
	    isol8_get_u64(&j->m, &max_size, err) < 0 || isol8_get_u64(&j->m, &timeout_ms, err) < 0 ||
	    isol8_msg_end(&j->m, err) < 0)
		return -1;
	if (table_token_get(token, j->worker, j->gen, &tenant, &prewarm) < 0 || prewarm)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "unknown or expired connection token %u", token);
	if (!url[0] || insecure > 1 || (hash[0] && remote_hash_check_format(hash, "codeHash", err) < 0))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "fetch: malformed request");
	t = &j->b->policy.tenants[tenant];
	rp = &t->remote;
	if (!rp->enabled) {
		isol8_err_set(err, ISOL8_E_POLICY, 0,
			      "Remote code fetching is disabled for tenant %s by isol8d's policy "
			      "(tenants.%s.remoteCode.enabled, isol8-policy(5)); ask the administrator",
			      t->name, t->name);
		audit_refusal_token(j->b, j->worker, j->gen, token, "fetch", err);
		return -1;
	}
	job.url = url;
	job.hash = hash[0] ? hash : NULL;
	job.insecure = insecure;
	job.r.http_ok = rp->http_ok;
	job.r.https_ok = rp->https_ok;
	job.r.net = rp->net; /* borrowed: not freed here */
	job.r.require_hash = rp->require_hash;
	job.r.max_size = max_size && max_size < rp->max_size ? max_size : rp->max_size;
	job.r.timeout_ms = timeout_ms && timeout_ms < rp->timeout_ms ? timeout_ms : rp->timeout_ms;
	if (broker_fetch_start(j->b, &job, rp->ca_file, &sock, err) < 0)
		return -1;
	log_info("tenant %s: fetching remote code (%.200s)", t->name, url);
	*rfd = sock;
	return 0;
}

/* The handler column of the protocol table; every other row's is NULL. */
#define ROW(t, nm, fr, dst, fds, lo, hi, fl, handler) [t] = handler,
static verb_fn *const handlers[256] = {ISOL8_PROTO_ROWS(ROW)};
#undef ROW

/* Run a verb and answer it. Without need_docker the verb gets no Docker handle (V_USAGE
 * answered in the main loop). */
static void job_run(struct job *j, bool need_docker)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf reply = ISOL8_BUF_INIT;
	struct docker *d = NULL;
	int rfd = -1, rc = -1;
	verb_fn *fn = handlers[j->m.type];

	if (need_docker)
		d = docker_open(j->b->o.docker_host, &err);
	if (d || !need_docker) {
		pthread_rwlock_rdlock(&j->b->policy_lock);
		rc = fn(j, d, &reply, &rfd, &err);
		pthread_rwlock_unlock(&j->b->policy_lock);
	}
	if (rc < 0) {
		/* "refused" is for what the worker may not do; the engine failing is not its fault. */
		bool refusal = err.code != ISOL8_E_DOCKER && err.code != ISOL8_E_UNAVAIL &&
			err.code != ISOL8_E_NOTFOUND && err.code != ISOL8_E_TIMEOUT && err.code != ISOL8_E_IO;
		log_warn("worker %u verb %s %s: %s", j->worker, j->spec->name, refusal ? "refused" : "failed", err.msg);
		reply_err(j->b, j->worker, j->m.request_id, &err);
	} else if (j->b->w[j->worker].gen == j->gen) {
		broker_send_worker(j->b, j->worker, rfd >= 0 ? BR_REPLY_OK_FD : BR_REPLY_OK, j->m.request_id, &reply,
				   rfd >= 0 ? &rfd : NULL, rfd >= 0 ? 1 : 0);
	}
	xclose(rfd);
	isol8_buf_free(&reply);
	docker_close(d);
	isol8_msg_free(&j->m);
}

static void *job_main(void *arg)
{
	struct job *j = arg;

	job_run(j, true);
	__atomic_sub_fetch(&j->b->w[j->worker].inflight, 1, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&j->b->inflight, 1, __ATOMIC_SEQ_CST);
	free(j);
	return NULL;
}

/* V_USAGE for an owned sandbox that is not filtered (the cursor is left at the start). */
static bool usage_is_local(struct isol8_msg *m, unsigned idx, uint32_t gen)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_free_ char *id = NULL;
	struct owned_container oc;
	bool local;

	local = isol8_get_str(m, &id, ISOL8_MAX_ID, &err) == 0 && table_container_owned(id, idx, gen, &oc) == 0 &&
		oc.net_mode != ISOL8_NET_FILTERED;
	m->pos = 0;
	return local;
}

void broker_worker_msg(struct broker *b, unsigned idx)
{
	struct worker_slot *w = &b->w[idx];
	struct isol8_err err = ISOL8_ERR_INIT;
	const struct isol8_proto_row *spec = NULL;
	struct isol8_msg m = {0};
	pthread_attr_t attr;
	pthread_t th;
	struct job *j;
	int r;

	r = isol8_ipc_recv(w->chan, &m, &err);
	if (r == 0) {
		/* The reaper notices the exit; stop polling this channel meanwhile. */
		pthread_mutex_lock(&w->send_lock);
		w->chan = xclose(w->chan);
		outq_clear(&w->out);
		pthread_mutex_unlock(&w->send_lock);
		return;
	}
	if (r < 0) {
		if (err.errnum == EAGAIN || err.errnum == EINTR)
			return;
		log_warn("worker %u sent a malformed frame: %s", idx, err.msg);
		return;
	}
	if (isol8_proto_check(PEER_BROKER, PEER_WORKER, &m, &spec, &err) < 0 || !handlers[m.type]) {
		if (!err.msg[0])
			isol8_err_set(&err, ISOL8_E_PROTO, 0, "message %s has no handler in the broker", spec->name);
		log_warn("worker %u: %s", idx, err.msg);
		reply_err(b, idx, m.request_id, &err);
		isol8_msg_free(&m);
		return;
	}
	if (spec->flags & ISOL8_MSG_NOREPLY) {
		struct job inline_job = {.b = b, .worker = idx, .gen = w->gen, .m = m, .spec = spec};
		if (handlers[m.type](&inline_job, NULL, NULL, NULL, &err) < 0)
			log_debug("worker %u %s ignored: %s", idx, spec->name, err.msg);
		isol8_msg_free(&inline_job.m);
		return;
	}
	/* A run's usage is read on its way to the caller: a few cgroup files, no Docker and no
	 * thread, so it costs the run next to nothing. Filtered sandboxes also ask the proxy:
	 * those go to a verb thread like any other verb. */
	if (m.type == V_USAGE && usage_is_local(&m, idx, w->gen)) {
		struct job jl = {.b = b, .worker = idx, .gen = w->gen, .m = m, .spec = spec};
		job_run(&jl, false);
		return;
	}
	__atomic_add_fetch(&b->inflight, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&w->inflight, 1, __ATOMIC_SEQ_CST);
	if (b->inflight > BROKER_MAX_INFLIGHT || w->inflight > BROKER_MAX_INFLIGHT_PER_WORKER) {
		__atomic_sub_fetch(&b->inflight, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&w->inflight, 1, __ATOMIC_SEQ_CST);
		isol8_err_set(&err, ISOL8_E_LIMIT, 0, "broker busy: too many requests in flight");
		reply_err(b, idx, m.request_id, &err);
		isol8_msg_free(&m);
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->b = b;
	j->worker = idx;
	j->gen = w->gen;
	j->m = m;
	j->spec = spec;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, job_main, j) != 0) {
		isol8_err_set(&err, ISOL8_E_INTERNAL, 0, "cannot start verb thread");
		reply_err(b, idx, m.request_id, &err);
		isol8_msg_free(&j->m);
		free(j);
		__atomic_sub_fetch(&w->inflight, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&b->inflight, 1, __ATOMIC_SEQ_CST);
	}
	pthread_attr_destroy(&attr);
}
