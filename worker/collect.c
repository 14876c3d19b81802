/* The collect phase: how the program ended (timeout, interrupt, OOM kill), the markers the
 * caller sees, and the result JSON. The connection code sends it. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/parse.h"
#include "common/proto.h"
#include "worker/run.h"
#include "worker/sessions.h"

static json_object *limits_json(const struct sandbox *sb, int net)
{
	json_object *l = json_object_new_object();
	char sz[32];
	isol8_format_size(sb->lim.memory, sz, sizeof sz);
	json_object_object_add(l, "memoryLimit", json_object_new_string(sz));
	json_object_object_add(l, "memoryBytes", json_object_new_int64((int64_t)sb->lim.memory));
	json_object_object_add(l, "cpuLimit", json_object_new_double((double)sb->lim.cpu_millis / 1000.0));
	json_object_object_add(l, "pidsLimit", json_object_new_int64(sb->lim.pids));
	json_object_object_add(l, "timeoutMs", json_object_new_int64((int64_t)sb->lim.timeout_ms));
	isol8_format_size(sb->lim.sandbox_size, sz, sizeof sz);
	json_object_object_add(l, "sandboxSize", json_object_new_string(sz));
	isol8_format_size(sb->lim.tmp_size, sz, sizeof sz);
	json_object_object_add(l, "tmpSize", json_object_new_string(sz));
	json_object_object_add(l, "maxOutputSize", json_object_new_int64((int64_t)sb->lim.max_output));
	json_object_object_add(l, "network", json_object_new_string(isol8_net_mode_name(net)));
	json_object_object_add(l, "readonlyRootFs", json_object_new_boolean(!sb->lim.writable));
	return l;
}

/* Within the exec phase, from the start of the request (t0): program started, its first
 * output byte, its exit status known. */
static json_object *timings_json(const struct run *run)
{
	const struct timings *tm = &run->tm;
	json_object *tj = json_object_new_object();

	json_object_object_add(tj, "acquireMs", json_object_new_int64((int64_t)tm->acquire));
	json_object_object_add(tj, "injectMs", json_object_new_int64((int64_t)tm->inject));
	json_object_object_add(tj, "installMs", json_object_new_int64((int64_t)tm->install));
	json_object_object_add(tj, "setupMs", json_object_new_int64((int64_t)tm->setup));
	json_object_object_add(tj, "execMs", json_object_new_int64((int64_t)tm->exec));
	if (run->x.started_ms >= tm->t0)
		json_object_object_add(tj, "startedAtMs", json_object_new_int64((int64_t)(run->x.started_ms - tm->t0)));
	if (run->o.first_byte_ms >= tm->t0)
		json_object_object_add(tj, "firstByteAtMs",
				       json_object_new_int64((int64_t)(run->o.first_byte_ms - tm->t0)));
	if (run->x.exited_ms >= tm->t0)
		json_object_object_add(tj, "exitedAtMs", json_object_new_int64((int64_t)(run->x.exited_ms - tm->t0)));
	json_object_object_add(tj, "totalMs", json_object_new_int64((int64_t)tm->total));
	json_object_object_add(tj, "standby", json_object_new_boolean(run->x.standby));
	if (run->sb) {
		/* The fast path is the agent's socket (fds passed, no engine round trip per program);
		 * say when the run went without it, and why. */
		bool agent = run->sb->agent_fd >= 0;
		json_object_object_add(tj, "isolation",
				       json_object_new_string(isol8_isolation_name(run->sb->isolation)));
		json_object_object_add(tj, "execPath", json_object_new_string(agent ? "agent" : "docker-exec"));
		if (!agent)
			json_object_object_add(
				tj, "fallback",
				json_object_new_string(
					run->sb->isolation == ISOL8_ISO_RUNSC
						? "gVisor (runsc): the agent's socket and fd passing do not "
						  "cross the Sentry, so programs start through docker exec and "
						  "sandboxes are not reused"
						: "no agent in this sandbox: programs start through docker exec"));
	}
	return tj;
}

/* --- net (issue 7): the proxy's request log --- */
static void add_network_logs(json_object *res, const struct sandbox *sb)
{
	struct isol8_err lerr = ISOL8_ERR_INIT;
	char *logs = NULL;
	json_object *a = NULL;

	if (sb_net_logs(sb->id, &logs, &lerr) == 0 && (a = json_tokener_parse(logs)) &&
	    json_object_is_type(a, json_type_array))
		json_object_object_add(res, "networkLogs", a);
	else if (a)
		json_object_put(a);
	if (lerr.code)
		log_warn("network logs of %.12s: %s", sb->id, lerr.msg);
	free(logs);
}
/* --- end net --- */

/* timeout(1) kills at the exact millisecond with SIGKILL (137); our own host timer is the
 * backstop. Either way the run counts as timed out only once the deadline has passed. */
static void classify(struct run *run)
{
	struct exec_outcome *x = &run->x;
	struct sandbox *sb = run->sb;
	struct session *s = run->s;
	struct isol8_err e = ISOL8_ERR_INIT;

	if (!x->timed_out && x->exit_code == 137 && clock_mono_ms() + 5 >= run->deadline)
		x->timed_out = true;
	if (x->timed_out || x->interrupted) {
		/* With an agent the program's group is already dead and the reset cleans the rest. */
		if (!s && sb->agent_fd < 0) {
			if (sb_kill(sb->id, SIGKILL, &e) < 0)
				log_warn("kill %.12s: %s", sb->id, e.msg);
		} else if (s && s->repl_fd >= 0) {
			repl_kill(s, run->env.v);
		}
	}
	if (!x->timed_out && !x->interrupted && x->exit_code == 137) {
		bool running, oom = false;
		int ec;
		uint32_t kills = 0;
		if (sb_inspect(sb->id, &running, &oom, &ec, &kills, NULL, &e) == 0) {
			/* A session's counter keeps earlier runs' kills: compare with what we saw last. */
			run->oom = oom || kills > (s ? s->oom_kills : 0);
			if (s)
				s->oom_kills = kills;
		} else {
			log_warn("inspect %.12s after exit 137: %s", sb->id, e.msg);
		}
	}
}

void run_collect(struct run *run)
{
	const struct run_req *r = run->r;
	struct exec_outcome *x = &run->x;
	struct pump_out *o = &run->o;
	const struct sandbox *sb;
	json_object *res;

	classify(run);
	sb = run->sb;
	pump_out_finish(o);
	if (x->timed_out) {
		pump_out_write(o, 2, TIMEOUT_MARKER, strlen(TIMEOUT_MARKER));
		x->exit_code = 124;
	} else if (x->interrupted) {
		x->exit_code = 130;
	} else if (run->oom) {
		char sz[32], line[160];
		isol8_format_size(sb->lim.memory, sz, sizeof sz);
		snprintf(line, sizeof line, "\n--- MEMORY LIMIT REACHED (%s): killed by the OOM killer ---\n", sz);
		pump_out_write(o, 2, line, strlen(line));
		x->exit_code = 137;
	}
	if (x->exit_code < 0)
		x->exit_code = 1;
	run->tm.total = clock_mono_ms() - run->tm.t0;

	res = json_object_new_object();
	json_object_object_add(res, "exitCode", json_object_new_int(x->exit_code));
	json_object_object_add(res, "durationMs", json_object_new_int64((int64_t)(x->ms ? x->ms : run->tm.exec)));
	json_object_object_add(res, "truncated", json_object_new_boolean(o->cap[1].truncated || o->cap[2].truncated));
	json_object_object_add(res, "stdoutTruncated", json_object_new_boolean(o->cap[1].truncated));
	json_object_object_add(res, "stderrTruncated", json_object_new_boolean(o->cap[2].truncated));
	json_object_object_add(res, "stdoutBytes", json_object_new_int64((int64_t)o->cap[1].total));
	json_object_object_add(res, "stderrBytes", json_object_new_int64((int64_t)o->cap[2].total));
	json_object_object_add(res, "timedOut", json_object_new_boolean(x->timed_out));
	json_object_object_add(res, "oomKilled", json_object_new_boolean(run->oom));
	json_object_object_add(res, "executionId", json_object_new_string(run->exec_id));
	json_object_object_add(res, "runtime", json_object_new_string(isol8_runtime_name(r->runtime)));
	json_object_object_add(res, "timestamp", json_object_new_string(run->ts));
	json_object_object_add(res, "containerId", json_object_new_string(sb->id));
	json_object_object_add(res, "image", json_object_new_string(sb->image));
	if (r->session)
		json_object_object_add(res, "sessionId", json_object_new_string(r->session));
	if (run->kind == SANDBOX_PERSIST) {
		char when[32];
		time_t t = (time_t)(sb->expires_at_ms / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_object_add(res, "persisted", json_object_new_boolean(1));
		json_object_object_add(res, "persistTtlMs", json_object_new_int64((int64_t)sb->lim.persist_ttl_ms));
		json_object_object_add(res, "expiresAt", json_object_new_string(when));
	}
	if (run->notice)
		json_object_object_add(res, "notice", json_object_new_string(run->notice));
	json_object_object_add(res, "limits", limits_json(sb, r->net_mode));
	{
		json_object *u = usage_result(run->sb, (uint64_t)(x->ms ? x->ms : run->tm.exec));
		if (u)
			json_object_object_add(res, "resourceUsage", u);
	}
	if (r->log_network && r->net_mode == ISOL8_NET_FILTERED)
		add_network_logs(res, sb);
	json_object_object_add(res, "timings", timings_json(run));
	/* The caller closes the output fds before sending the result: a frontend reading pipes
	 * sees EOF first. Nothing is written to them after this. */
	o->fd[1] = o->fd[2] = -1;
	run->result = res;
}
