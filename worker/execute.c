/* The execute phase: the program itself, through the sandbox's standby interpreter, the
 * agent, docker exec, or a session's long-lived interpreter (REPL driver), with its output
 * streamed to the caller. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "worker/agent.h"
#include "worker/run.h"
#include "worker/sessions.h"
#include "worker/standby.h"

static void outcome_from_agent(struct exec_outcome *x, const struct agent_outcome *ax)
{
	memset(x, 0, sizeof *x);
	x->exit_code = ax->exit_code;
	x->timed_out = ax->timed_out;
	x->interrupted = ax->interrupted;
	x->eof = true;
	x->ms = ax->ms;
	x->started_ms = ax->started_ms;
	x->exited_ms = clock_mono_ms();
}

/* How often the docker exec path asks whether the container still runs: a broker round trip
 * each time, only on the path without an agent (gVisor), where a dead container can leave the
 * exec's stream open. */
#define EXEC_WATCH_MS 500

struct exec_watch {
	const struct sandbox *sb;
	int exit_code; /* the container's, once it is seen dead */
};

static bool container_gone(void *arg)
{
	struct exec_watch *w = arg;
	struct isol8_err e = ISOL8_ERR_INIT;
	bool running = true, oom = false;
	uint32_t kills = 0;
	int code = -1;

	if (sb_inspect(w->sb->id, &running, &oom, &code, &kills, NULL, &e) < 0) {
		log_debug("inspect %.12s while its exec ran: %s", w->sb->id, e.msg);
		return false; /* the engine's answer decides, not a failed question */
	}
	if (running)
		return false;
	/* The OOM killer took the whole sandbox: what the program sees under runc as its own
	 * SIGKILL, so the collect phase reports the memory limit the same way. */
	w->exit_code = oom ? 137 : code;
	return true;
}

/* runsc's exec answers 128 when it loses the Sentry under it ("WaitPID failed: EOF"): the
 * OOM killer took the whole sandbox and the exec's stream closed before the watch saw the
 * container stop. */
#define RUNSC_EXEC_LOST 128
#define DIED_WAIT_MS 1000

/* Whether the container stopped within DIED_WAIT_MS: the engine notices the sandbox's death a
 * moment after the exec's stream ends. A program that exits 128 itself pays the wait once. */
static bool sandbox_died(struct exec_watch *w)
{
	for (int waited = 0; waited < DIED_WAIT_MS; waited += 50) {
		if (container_gone(w))
			return true;
		usleep(50 * 1000);
	}
	return false;
}

/* argv always starts with the 4-entry `timeout -s KILL <t>` prefix: docker exec needs it, the
 * agent enforces the timeout itself and gets argv without it. */
int exec_stream(const struct sandbox *sb, const char *const *argv, const char *const *env, const char *workdir,
		const char *in, size_t in_len, int stdin_fd, bool attach, uint64_t deadline, int ctrl_fd,
		struct pump_out *o, struct exec_outcome *x, struct isol8_err *err)
{
	char exec_id[65];
	_cleanup_close_ int fd = -1;
	struct pump_result pr;
	struct exec_watch ew = {.sb = sb, .exit_code = -1};
	const struct pump_watch watch = {.gone = container_gone, .arg = &ew, .period_ms = EXEC_WATCH_MS};
	bool running = true;
	int sig = 0;
	uint64_t t = clock_mono_ms();

	memset(x, 0, sizeof *x);
	x->exit_code = -1;
	if (sb->agent_fd >= 0) {
		struct agent_outcome ax;
		uint64_t now = clock_mono_ms();
		if (agent_exec(sb->agent_fd, argv + 4, env, workdir, attach ? in : NULL, attach ? in_len : 0, stdin_fd,
			       deadline > now ? deadline - now : 1, deadline + HOST_GRACE_MS, ctrl_fd, o, &ax, err) < 0)
			return -1;
		outcome_from_agent(x, &ax);
		return 0;
	}
	if (sb_exec(sb->id, argv, env, workdir, attach, exec_id, &fd, err) < 0)
		return -1;
	x->started_ms = clock_mono_ms();
	if (pump_run(fd, in, in_len, stdin_fd, true, o, deadline + HOST_GRACE_MS, NULL, ctrl_fd, &watch, &sig, &pr,
		     err) < 0)
		return -1;
	x->ms = clock_mono_ms() - t;
	x->timed_out = pr.timed_out;
	x->interrupted = pr.interrupted;
	x->eof = pr.eof || pr.gone;
	if (pr.timed_out || pr.interrupted)
		return 0;
	if (pr.gone && ew.exit_code != 137)
		return isol8_err_set(err, ISOL8_E_DOCKER, 0,
				     "container %.12s stopped (status %d) while the program ran", sb->id, ew.exit_code);
	if (pr.gone) {
		x->exit_code = 137;
		x->exited_ms = clock_mono_ms();
		return 0;
	}
	for (int i = 0; i < 500 && running; i++) {
		if (sb_exec_status(exec_id, &running, &x->exit_code, err) < 0)
			return -1;
		if (running)
			usleep(i < 50 ? 1000 : 10000);
	}
	x->exited_ms = clock_mono_ms();
	if (x->exit_code == RUNSC_EXEC_LOST && sandbox_died(&ew)) {
		if (ew.exit_code != 137)
			return isol8_err_set(err, ISOL8_E_DOCKER, 0,
					     "container %.12s stopped (status %d) while the program ran", sb->id,
					     ew.exit_code);
		x->exit_code = 137;
	}
	return 0;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline, struct isol8_err *err)
{
	while (n) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		ssize_t w;
		uint64_t now = clock_mono_ms();
		if (now >= deadline)
			return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "interpreter did not accept the code in time");
		poll(&pf, 1, (int)(deadline - now));
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "write to interpreter");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Kill everything the session's driver started, then the driver (its own session via setsid). */
void repl_kill(struct session *s, const char *const *env)
{
	static const char *const argv[] = {"sh", "-c",
					   "for p in $(pgrep -f /usr/local/lib/isol8/repl); do pkill -KILL -s \"$p\"; "
					   "kill -KILL \"$p\"; done; true",
					   NULL};
	struct isol8_buf o = ISOL8_BUF_INIT, e = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	if (run_helper(s->sb.id, argv, env, NULL, 0, clock_mono_ms() + 5000, &o, &e, &err) < 0)
		log_warn("session %s: stopping its interpreter: %s", s->name, err.msg);
	isol8_buf_free(&o);
	isol8_buf_free(&e);
	s->repl_fd = xclose(s->repl_fd);
}

static int repl_run(struct run *run, struct isol8_err *err)
{
	struct session *s = run->s;
	const struct run_req *r = run->r;
	const char *const *env = run->env.v;
	struct exec_outcome *x = &run->x;
	char token[33], hdr[96];
	struct pump_result pr;
	int sig = 0;
	uint64_t t = clock_mono_ms();

	memset(x, 0, sizeof *x);
	x->exit_code = -1;
	if (s->repl_fd >= 0) {
		/* A driver that ended after the last snippet (bash `exit`, a crash between runs)
		 * shows up as a readable stream before we send anything: start a new one. */
		struct pollfd pf = {.fd = s->repl_fd, .events = POLLIN};
		if (poll(&pf, 1, 0) > 0)
			repl_kill(s, env);
	}
	if (s->repl_fd < 0) {
		const char *argv[8];
		size_t n = 0;
		argv[n++] = "setsid";
		argv[n++] = "-w"; /* wait: the exec must end with the interpreter, carrying its status */
		switch (r->runtime) {
		case ISOL8_RT_PYTHON:
			argv[n++] = "python3";
			argv[n++] = "-u";
			argv[n++] = "/usr/local/lib/isol8/repl.py";
			break;
		case ISOL8_RT_NODE:
			argv[n++] = "node";
			argv[n++] = "/usr/local/lib/isol8/repl.mjs";
			break;
		default:
			argv[n++] = "bash";
			argv[n++] = "/usr/local/lib/isol8/repl.sh";
			break;
		}
		argv[n] = NULL;
		if (sb_exec(s->sb.id, argv, env, "/sandbox", true, s->repl_exec, &s->repl_fd, err) < 0)
			return isol8_err_wrap(err, "start interpreter");
	}
	random_token(token);
	snprintf(hdr, sizeof hdr, "ISOL8 %s %zu\n", token, strlen(r->code));
	if (send_all(s->repl_fd, hdr, strlen(hdr), run->deadline, err) < 0 ||
	    send_all(s->repl_fd, r->code, strlen(r->code), run->deadline, err) < 0) {
		repl_kill(s, env);
		return -1;
	}
	if (pump_run(s->repl_fd, NULL, 0, -1, false, &run->o, run->deadline, token, run->c->fd, NULL, &sig, &pr, err) <
	    0) {
		repl_kill(s, env);
		return -1;
	}
	x->ms = clock_mono_ms() - t;
	if (pr.marker_code >= 0) {
		x->exit_code = pr.marker_code;
		return 0;
	}
	x->timed_out = pr.timed_out;
	x->interrupted = pr.interrupted;
	if (pr.eof) {
		bool running = true;
		struct isol8_err e2 = ISOL8_ERR_INIT;
		for (int i = 0; i < 100 && running; i++) {
			if (sb_exec_status(s->repl_exec, &running, &x->exit_code, &e2) < 0) {
				log_debug("session %s: interpreter status: %s", s->name, e2.msg);
				break;
			}
			if (running)
				usleep(2000);
		}
		run->notice =
			"the interpreter exited; session state was reset and a new interpreter starts on the next run";
	} else {
		run->notice = "the interpreter was stopped; session state was reset";
	}
	repl_kill(s, env);
	return 0;
}

/* Runs the code in the sandbox's standby, from file (which it writes) or inline when file is
 * NULL. 1: the sandbox had none (or the run cannot use it), nothing ran. */
static int run_standby(struct run *run, const char *file, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	struct isol8_buf job = ISOL8_BUF_INIT;
	struct isol8_err e2 = ISOL8_ERR_INIT;
	struct agent_outcome ax;
	uint64_t now = clock_mono_ms(), deadline = run->deadline;
	int rc = 1;

	if (!standby_env_compatible(runtime_base_env_list(), run->env.v))
		return 1;
	if (standby_job(&job, r->workdir, file, run->env.v, (const char *const *)r->args, r->code, &e2) < 0) {
		log_debug("no standby job: %s", e2.msg);
		return 1;
	}
	rc = agent_exec_warm(run->sb->agent_fd, job.data, job.len, r->has_stdin ? r->stdin_data : NULL,
			     r->has_stdin ? r->stdin_len : 0, deadline > now ? deadline - now : 1,
			     deadline + HOST_GRACE_MS, run->c->fd, &run->o, &ax, err);
	if (rc == 0) {
		outcome_from_agent(&run->x, &ax);
		run->x.standby = true;
	}
	isol8_buf_free(&job);
	return rc;
}

int run_program(struct run *run, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	const char *argv[ISOL8_MAX_ARGS];
	char *rtv[ISOL8_MAX_ARGS];
	char tmo[32], path[80];
	size_t n = 0;
	int wr = 1;

	if (run->s && repl_capable(r))
		return repl_run(run, err);
	timeout_arg(tmo, sizeof tmo, run->deadline > clock_mono_ms() ? run->deadline - clock_mono_ms() : 1);
	argv[n++] = "timeout";
	argv[n++] = "-s";
	argv[n++] = "KILL";
	argv[n++] = tmo;
	if (r->cmd) {
		argv[n++] = "bash";
		argv[n++] = "-c";
		argv[n++] = r->cmd;
		/* bash -c takes its first operand as $0: arguments start at $1, as for a file. */
		if (r->n_args)
			argv[n++] = "bash";
	} else {
		snprintf(path, sizeof path, "/sandbox/%s", run->codefile);
		if (runtime_argv(r, run->need_file ? path : NULL, rtv, ISOL8_MAX_ARGS - n, err) < 0)
			return -1;
		for (size_t i = 0; rtv[i]; i++)
			argv[n++] = rtv[i];
	}
	for (size_t i = 0; i < r->n_args && n + 1 < ISOL8_MAX_ARGS; i++)
		argv[n++] = r->args[i];
	argv[n] = NULL;
	/* python runs short code inline (-c) as without a standby; node always from its file, as
	 * ESM unless .cjs. */
	if (run->warm)
		wr = run_standby(run, run->need_file || r->runtime != ISOL8_RT_PYTHON ? path : NULL, err);
	if (wr < 0)
		return -1;
	if (wr == 0)
		return 0;
	/* Without a standby the code file was not written yet. */
	if (run->warm && run->need_file && run_inject(run, run->codefile, err) < 0)
		return -1;
	return exec_stream(run->sb, argv, run->env.v, r->workdir, r->stdin_data, r->stdin_len, r->stdin_fd,
			   r->has_stdin || r->stdin_fd >= 0, run->deadline, run->c->fd, &run->o, &run->x, err);
}
