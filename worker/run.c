/* One execution, start to finish, in its phases: acquire a sandbox (new, pooled or the
 * session's), inject the files, install packages and run setup scripts, execute the program
 * with streaming output, collect the outcome into the result. The release phase runs from
 * the caller's cleanup (worker/run.h). The deadline covers install + setup + execution, as in
 * the original, and starts when the sandbox is ready. */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "worker/run.h"

void env_build(struct env_list *e, const struct run_req *r)
{
	size_t n = 0, off = 0;
	memset(e, 0, sizeof *e);
	runtime_base_env(&e->raw);
	/* Secrets and request env live only in the exec, never in the container's config. */
	for (size_t i = 0; i < r->n_secret; i++)
		isol8_buf_append(&e->raw, r->secret_env[i], strlen(r->secret_env[i]) + 1);
	/* --- net (issue 7): the sandbox reaches out only through the proxy on its loopback --- */
	if (r->net_mode == ISOL8_NET_FILTERED) {
		static const char *const names[] = {"HTTP_PROXY",  "HTTPS_PROXY",      "http_proxy",
						    "https_proxy", "npm_config_proxy", "npm_config_https_proxy",
						    "PIP_PROXY"};
		char line[96];
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			int len = snprintf(line, sizeof line, "%s=http://127.0.0.1:%d", names[i], ISOL8_NET_PROXY_PORT);
			isol8_buf_append(&e->raw, line, (size_t)len + 1);
		}
	}
	/* --- end net --- */
	for (size_t i = 0; i < r->n_env; i++)
		isol8_buf_append(&e->raw, r->env[i], strlen(r->env[i]) + 1);
	for (size_t i = 0; i < e->raw.len; i++)
		if (e->raw.data[i] == '\0')
			n++;
	e->v = xcalloc(n + 1, sizeof *e->v);
	for (size_t i = 0; i < n; i++) {
		e->v[i] = e->raw.data + off;
		off += strlen(e->raw.data + off) + 1;
	}
}

void env_free(struct env_list *e)
{
	isol8_buf_free(&e->raw);
	free(e->v);
	e->v = NULL;
}

static void iso_now(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void new_execution_id(char out[40])
{
	char tok[33];
	random_token(tok);
	snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", tok, tok + 8, tok + 12, tok + 16, tok + 20);
}

/* Where the code goes: inline, or a file /sandbox/main<ext>. A fresh ephemeral run of plain
 * code may take the sandbox's standby interpreter, which writes its code file itself
 * (worker/standby.h). */
static int plan_code(struct run *run, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	const struct sandbox *sb = run->sb;

	/* The agent's prompt is an argument of pi, never a file among the project's. */
	run->need_file = r->code && r->runtime != ISOL8_RT_AGENT && !(run->s && repl_capable(r)) &&
		(r->runtime == ISOL8_RT_DENO || r->file_ext || strlen(r->code) > INLINE_MAX || r->has_files ||
		 r->n_args);
	run->warm = sb->warm && sb->agent_fd >= 0 && run->kind == SANDBOX_EPHEMERAL && !r->cmd && r->code &&
		!r->has_files && !r->n_install && !r->setup_script && !sb->image_setup && r->stdin_fd < 0 &&
		!r->stdin_stream;
	if (run->need_file || run->warm) {
		const char *ext = r->file_ext ? r->file_ext : runtime_default_ext(r->runtime);
		if (strlen(ext) > 15 || ext[0] != '.' || strchr(ext, '/'))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid file extension '%.16s'", ext);
		snprintf(run->codefile, sizeof run->codefile, "main%s", ext);
	}
	return 0;
}

/* A run whose sandbox died before the program got anything is retried on another one; more
 * than a few deaths in a row are not a stale pool but a broken engine. */
#define RUN_ATTEMPTS 3

/* After a failed phase: did the sandbox itself go away (container removed or killed, engine
 * restarted) rather than refuse what the run asked? pids_refused (may be NULL): forks its pids
 * limit refused, as the broker read them (runsc only). */
static bool sandbox_gone(const struct sandbox *sb, uint32_t *pids_refused)
{
	struct pollfd pf = {.fd = sb->agent_fd, .events = POLLRDHUP};
	struct isol8_err e = ISOL8_ERR_INIT;
	bool running = false, oom;
	uint32_t kills;
	int code;

	if (sb->agent_fd >= 0 && poll(&pf, 1, 0) > 0 && (pf.revents & (POLLHUP | POLLRDHUP | POLLERR)))
		return true;
	if (sb_inspect(sb->id, &running, &oom, &code, &kills, pids_refused, &e) < 0) {
		log_debug("inspect %.12s: %s", sb->id, e.msg);
		return true;
	}
	return !running;
}

/* Nothing of the program or its setup has reached the caller, and nothing was taken from its
 * live stdin: the same run may start over elsewhere. */
static bool untouched(const struct run *run)
{
	return run->kind == SANDBOX_EPHEMERAL && run->r->stdin_fd < 0 && !run->x.started_ms &&
		(!run->o_init || (!run->o.first_byte_ms && !run->o.cap[1].total && !run->o.cap[2].total));
}

/* From acquire to the program's end. 1: a setup script timed out or was interrupted. */
static int attempt(struct run *run, int out_fd, int err_fd, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	struct timings *tm = &run->tm;
	uint64_t t;
	int rc;

	if (run_acquire(run, err) < 0)
		return -1;
	/* The applied timeout comes from the broker (after policy clamping), not the request. A
	 * session keeps the limits it was created with; a later run may only lower its timeout.
	 * It starts once the sandbox is there: waiting for one or creating it (timings.acquireMs)
	 * is isol8's time, not the program's. */
	tm->acquire = clock_mono_ms() - tm->t0;
	run->deadline = tm->t0 + tm->acquire +
		(r->timeout_ms < run->sb->lim.timeout_ms ? r->timeout_ms : run->sb->lim.timeout_ms);
	pump_out_init(&run->o, out_fd, err_fd, (const char *const *)r->secret_vals, run->sb->lim.max_output);
	run->o_init = true;
	if (run->c->audit_flags & ISOL8_AUDIT_F_OUTPUT)
		run->o.head_max = ISOL8_AUDIT_MAX_OUTPUT;
	if (plan_code(run, err) < 0)
		return -1;

	t = clock_mono_ms();
	if (((run->need_file && !run->warm) || r->has_files) &&
	    run_inject(run, run->need_file ? run->codefile : NULL, err) < 0)
		return -1;
	tm->inject = clock_mono_ms() - t;

	t = clock_mono_ms();
	if (run_install(run, err) < 0)
		return -1;
	tm->install = clock_mono_ms() - t;

	t = clock_mono_ms();
	rc = run_setup(run, err);
	if (rc != 0)
		return rc;
	tm->setup = clock_mono_ms() - t;
	t = clock_mono_ms();
	if (run_program(run, err) < 0)
		return -1;
	tm->exec = clock_mono_ms() - t;
	return 0;
}

int run_execute(struct run *run, struct conn *c, const struct run_req *r, int out_fd, int err_fd, struct isol8_err *err)
{
	uint32_t refused = 0;
	int rc;

	run->c = c;
	run->r = r;
	run->tm.t0 = clock_mono_ms();
	run->sb = &run->sb_local;
	run->sb_local.agent_fd = -1;
	run->kind = r->session ? SANDBOX_SESSION : r->persist ? SANDBOX_PERSIST : SANDBOX_EPHEMERAL;
	env_build(&run->env, r);
	iso_now(run->ts, sizeof run->ts);
	new_execution_id(run->exec_id);

	for (int n = 1;; n++) {
		rc = attempt(run, out_fd, err_fd, err);
		if (rc >= 0 || run->hold == HOLD_NONE || n == RUN_ATTEMPTS || !untouched(run) ||
		    !sandbox_gone(run->sb, NULL))
			break;
		log_info("sandbox %.12s went away before the program started (%s): retrying on another", run->sb->id,
			 err->msg);
		isol8_err_clear(err);
		run_drop_sandbox(run);
	}
	/* What the caller needs to know is that the sandbox went away, not which read failed;
	 * output written before stays with the caller. */
	if (rc < 0 && run->sb->id[0] && !untouched(run) && sandbox_gone(run->sb, &refused)) {
		log_info("sandbox %.12s went away while the program ran: %s", run->sb->id, err->msg);
		/* gVisor's Sentry is host threads in the sandbox's pids cgroup: at the limit it
		 * cannot get one and dies instead of failing the program's fork. */
		if (run->sb->isolation == ISOL8_ISO_RUNSC && refused > 0)
			isol8_err_set(err, ISOL8_E_DOCKER, 0, SANDBOX_PIDS_MSG, run->sb->lim.pids);
		else
			isol8_err_set(err, ISOL8_E_DOCKER, 0, SANDBOX_KILLED_MSG);
	}
	if (rc < 0)
		return -1;
	run_collect(run);
	return 0;
}
