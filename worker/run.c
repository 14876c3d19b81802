/* One execution, start to finish: sandbox (new or the session's), file injection, package
 * install, setup scripts, the program itself with streaming output, timeout/OOM detection,
 * and the result. The deadline covers install + setup + execution, as in the original. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "common/tar.h"
#include "worker/agent.h"
#include "worker/pool.h"
#include "worker/sessions.h"
#include "worker/standby.h"
#include "worker/worker.h"

#define TIMEOUT_MARKER "\n--- EXECUTION TIMED OUT ---\n"
#define HOST_GRACE_MS 1500
/* Inline code travels as one exec argument: stay well under the broker's ISOL8_MAX_ARG and the
 * 64 KiB frame that also carries env; larger code goes to a file. */
#define INLINE_MAX (16u << 10)

struct timings {
	uint64_t t0, acquire, inject, install, setup, exec, total;
};

struct env_list {
	struct isol8_buf raw; /* NUL-separated */
	const char **v;
};

static void env_build(struct env_list *e, const struct run_req *r)
{
	size_t n = 0, off = 0;
	memset(e, 0, sizeof *e);
	runtime_base_env(&e->raw);
	/* Secrets and request env live only in the exec, never in the container's config. */
	for (size_t i = 0; i < r->n_secret; i++)
		isol8_buf_append(&e->raw, r->secret_env[i], strlen(r->secret_env[i]) + 1);
	/* --- net (issue 7): the sandbox reaches out only through the proxy on its loopback --- */
	if (r->net_mode == ISOL8_NET_FILTERED) {
		static const char *const names[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
						    "npm_config_proxy", "npm_config_https_proxy", "PIP_PROXY"};
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

static void env_free(struct env_list *e)
{
	isol8_buf_free(&e->raw);
	free(e->v);
}

static void timeout_arg(char *buf, size_t n, uint64_t ms)
{
	snprintf(buf, n, "%llu.%03llus", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

/* Run a helper command (tar, install, setup) and collect its output; returns the exit code. */
static int run_helper(const char *id, const char *const *argv, const char *const *env, const void *in, size_t in_len,
		      uint64_t deadline, struct isol8_buf *out, struct isol8_buf *errb, struct isol8_err *err)
{
	char exec_id[65];
	_cleanup_close_ int fd = -1;
	bool running = true;
	int code = -1;

	if (sb_exec(id, argv, env, "/sandbox", in_len > 0, exec_id, &fd, err) < 0)
		return -1;
	if (pump_collect(fd, in, in_len, out, errb, 64 << 10, deadline, err) < 0)
		return -1;
	for (int i = 0; i < 200 && running; i++) {
		if (sb_exec_status(exec_id, &running, &code, err) < 0)
			return -1;
		if (running)
			usleep(2000);
	}
	return code;
}

static bool valid_pkg(int rt, const char *p)
{
	if (!*p || *p == '-' || strlen(p) > 214)
		return false;
	for (const char *c = p; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			  strchr("._-@/", *c) || (rt == ISOL8_RT_PYTHON && strchr("=<>!~[],", *c)) ||
			  (rt == ISOL8_RT_DENO && strchr(":?=&%+", *c));
		if (!ok)
			return false;
	}
	return true;
}

static int install_packages(const struct run_req *r, const char *id, const char *const *env, uint64_t deadline,
			    struct pump_out *o, struct isol8_err *err)
{
	const char *argv[ISOL8_MAX_ARGS + 1];
	struct isol8_buf out = ISOL8_BUF_INIT, errb = ISOL8_BUF_INIT;
	char tmo[32];
	size_t n = 0;
	int code;

	if (!r->n_install)
		return 0;
	if (r->runtime == ISOL8_RT_BASH)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--install is not available for bash: the root filesystem is read-only, so apt "
				     "cannot install; bake packages in with 'isol8 build --base bash --install PKG'");
	if (r->n_install > ISOL8_MAX_ARGS - 12)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "too many packages");
	for (size_t i = 0; i < r->n_install; i++)
		if (!valid_pkg(r->runtime, r->install[i]))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid package name '%.64s'", r->install[i]);
	timeout_arg(tmo, sizeof tmo, deadline > mono_ms() ? deadline - mono_ms() : 1);
	argv[n++] = "timeout"; argv[n++] = "-s"; argv[n++] = "KILL"; argv[n++] = tmo;
	switch (r->runtime) {
	case ISOL8_RT_PYTHON:
		argv[n++] = "pip"; argv[n++] = "install"; argv[n++] = "--user"; argv[n++] = "--no-cache-dir";
		argv[n++] = "--quiet";
		break;
	case ISOL8_RT_NODE:
		/* Into /sandbox/node_modules, not -g: ESM imports resolve bare names from the importing
		 * file's directory upwards and ignore NODE_PATH. */
		argv[n++] = "npm"; argv[n++] = "install"; argv[n++] = "--prefix"; argv[n++] = "/sandbox";
		argv[n++] = "--no-audit";
		argv[n++] = "--no-fund"; argv[n++] = "--loglevel=error";
		break;
	case ISOL8_RT_BUN:
		argv[n++] = "bun"; argv[n++] = "add"; argv[n++] = "-g";
		break;
	case ISOL8_RT_DENO:
		argv[n++] = "deno"; argv[n++] = "cache";
		break;
	}
	for (size_t i = 0; i < r->n_install; i++)
		argv[n++] = r->install[i];
	argv[n] = NULL;
	code = run_helper(id, argv, env, NULL, 0, deadline, &out, &errb, err);
	if (code < 0) {
		isol8_buf_free(&out);
		isol8_buf_free(&errb);
		return isol8_err_wrap(err, "package install");
	}
	if (code != 0) {
		/* Install output can echo secrets (URLs with tokens): mask it like program output. */
		pump_out_write(o, 2, errb.data ? errb.data : "", errb.len);
		isol8_err_set(err, ISOL8_E_USAGE, 0, "Package install failed (exit code %d)%s", code,
			      r->net_mode == ISOL8_NET_NONE ? " (network is 'none': the registry is unreachable)" : "");
	}
	isol8_buf_free(&out);
	isol8_buf_free(&errb);
	return code ? -1 : 0;
}

/* Stream one program exec to the frontend; returns 0 and fills code/timed_out/etc. */
struct exec_outcome {
	int exit_code;
	bool timed_out, interrupted, eof, standby;
	uint64_t ms;
	uint64_t started_ms, exited_ms; /* mono_ms() at program start and when its status was known */
};

static void outcome_from_agent(struct exec_outcome *x, const struct agent_outcome *ax)
{
	memset(x, 0, sizeof *x);
	x->exit_code = ax->exit_code;
	x->timed_out = ax->timed_out;
	x->interrupted = ax->interrupted;
	x->eof = true;
	x->ms = ax->ms;
	x->started_ms = ax->started_ms;
	x->exited_ms = mono_ms();
}

/* argv always starts with the 4-entry `timeout -s KILL <t>` prefix: docker exec needs it, the
 * agent enforces the timeout itself and gets argv without it. */
static int exec_stream(const struct sandbox *sb, const char *const *argv, const char *const *env, const char *workdir,
		       const char *in, size_t in_len, int stdin_fd, bool attach, uint64_t deadline, int ctrl_fd,
		       struct pump_out *o, struct exec_outcome *x, struct isol8_err *err)
{
	char exec_id[65];
	_cleanup_close_ int fd = -1;
	struct pump_result pr;
	bool running = true;
	int sig = 0;
	uint64_t t = mono_ms();

	memset(x, 0, sizeof *x);
	x->exit_code = -1;
	if (sb->agent_fd >= 0) {
		struct agent_outcome ax;
		uint64_t now = mono_ms();
		if (agent_exec(sb->agent_fd, argv + 4, env, workdir, attach ? in : NULL, attach ? in_len : 0, stdin_fd,
			       deadline > now ? deadline - now : 1, deadline + HOST_GRACE_MS, ctrl_fd, o, &ax, err) < 0)
			return -1;
		outcome_from_agent(x, &ax);
		return 0;
	}
	if (sb_exec(sb->id, argv, env, workdir, attach, exec_id, &fd, err) < 0)
		return -1;
	x->started_ms = mono_ms();
	if (pump_run(fd, in, in_len, stdin_fd, true, o, deadline + HOST_GRACE_MS, NULL, ctrl_fd, &sig, &pr, err) < 0)
		return -1;
	x->ms = mono_ms() - t;
	x->timed_out = pr.timed_out;
	x->interrupted = pr.interrupted;
	x->eof = pr.eof;
	if (pr.timed_out || pr.interrupted)
		return 0;
	for (int i = 0; i < 500 && running; i++) {
		if (sb_exec_status(exec_id, &running, &x->exit_code, err) < 0)
			return -1;
		if (running)
			usleep(i < 50 ? 1000 : 10000);
	}
	x->exited_ms = mono_ms();
	return 0;
}

static void random_token(char out[33])
{
	unsigned char r[16];
	static const char hex[] = "0123456789abcdef";
	if (getrandom(r, sizeof r, 0) != sizeof r)
		memset(r, 0x5a, sizeof r); /* never happens with a 16-byte read; still deterministic-safe */
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[32] = '\0';
}

static bool repl_capable(const struct run_req *r)
{
	return r->code && !r->has_stdin && !r->stdin_stream && !r->file_ext && !r->n_args &&
	       (r->runtime == ISOL8_RT_PYTHON || r->runtime == ISOL8_RT_NODE || r->runtime == ISOL8_RT_BASH);
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline, struct isol8_err *err)
{
	while (n) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		ssize_t w;
		uint64_t now = mono_ms();
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
static void repl_kill(struct session *s, const char *const *env)
{
	static const char *const argv[] = {
		"sh", "-c", "for p in $(pgrep -f /usr/local/lib/isol8/repl); do pkill -KILL -s \"$p\"; kill -KILL \"$p\"; done; true",
		NULL};
	struct isol8_buf o = ISOL8_BUF_INIT, e = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	run_helper(s->sb.id, argv, env, NULL, 0, mono_ms() + 5000, &o, &e, &err);
	isol8_buf_free(&o);
	isol8_buf_free(&e);
	s->repl_fd = xclose(s->repl_fd);
}

static int repl_run(struct session *s, const struct run_req *r, const char *const *env, uint64_t deadline, int ctrl_fd,
		    struct pump_out *o, struct exec_outcome *x, const char **notice, struct isol8_err *err)
{
	char token[33], hdr[96];
	struct pump_result pr;
	int sig = 0;
	uint64_t t = mono_ms();

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
		case ISOL8_RT_PYTHON: argv[n++] = "python3"; argv[n++] = "-u"; argv[n++] = "/usr/local/lib/isol8/repl.py"; break;
		case ISOL8_RT_NODE: argv[n++] = "node"; argv[n++] = "/usr/local/lib/isol8/repl.mjs"; break;
		default: argv[n++] = "bash"; argv[n++] = "/usr/local/lib/isol8/repl.sh"; break;
		}
		argv[n] = NULL;
		if (sb_exec(s->sb.id, argv, env, "/sandbox", true, s->repl_exec, &s->repl_fd, err) < 0)
			return isol8_err_wrap(err, "start interpreter");
	}
	random_token(token);
	snprintf(hdr, sizeof hdr, "ISOL8 %s %zu\n", token, strlen(r->code));
	if (send_all(s->repl_fd, hdr, strlen(hdr), deadline, err) < 0 ||
	    send_all(s->repl_fd, r->code, strlen(r->code), deadline, err) < 0) {
		repl_kill(s, env);
		return -1;
	}
	if (pump_run(s->repl_fd, NULL, 0, -1, false, o, deadline, token, ctrl_fd, &sig, &pr, err) < 0) {
		repl_kill(s, env);
		return -1;
	}
	x->ms = mono_ms() - t;
	if (pr.marker_code >= 0) {
		x->exit_code = pr.marker_code;
		return 0;
	}
	x->timed_out = pr.timed_out;
	x->interrupted = pr.interrupted;
	if (pr.eof) {
		bool running = true;
		for (int i = 0; i < 100 && running; i++)
			if (sb_exec_status(s->repl_exec, &running, &x->exit_code, err) < 0 || (running && usleep(2000)))
				break;
		*notice = "the interpreter exited; session state was reset and a new interpreter starts on the next run";
	} else {
		*notice = "the interpreter was stopped; session state was reset";
	}
	repl_kill(s, env);
	return 0;
}

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

static void iso_now(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* Files of the request and, when codefile is set, the code as /sandbox/<codefile>: one tar
 * extracted by tar(1) in the sandbox. */
static int inject_files(const struct sandbox *sb, const struct run_req *r, const char *codefile,
			const char *const *env, uint64_t deadline, struct isol8_err *err)
{
	struct isol8_buf tar = ISOL8_BUF_INIT, so = ISOL8_BUF_INIT, se = ISOL8_BUF_INIT;
	static const char *const targv[] = {"tar", "-x", "-f", "-", "-C", "/sandbox", "--no-same-owner", NULL};
	int code, rc = -1;

	if (r->has_files)
		isol8_buf_append(&tar, r->files_tar.data, r->files_tar.len);
	if (codefile) {
		struct isol8_tar_entry ent = {codefile, r->code, strlen(r->code), 0644, 100, 101};
		/* Code goes in its own archive appended after the files: tar(1) reads both. */
		struct isol8_buf t2 = ISOL8_BUF_INIT;
		if (isol8_tar_build(&ent, 1, &t2, err) < 0) {
			isol8_buf_free(&t2);
			goto out;
		}
		if (tar.len >= 1024)
			tar.len -= 1024; /* drop the files archive's end-of-archive blocks */
		isol8_buf_append(&tar, t2.data, t2.len);
		isol8_buf_free(&t2);
	}
	if (!tar.len)
		return 0;
	code = run_helper(sb->id, targv, env, tar.data, tar.len, deadline, &so, &se, err);
	if (code > 0)
		isol8_err_set(err, ISOL8_E_IO, 0, "writing files into the sandbox failed: %.200s", se.data ? se.data : "");
	else if (code == 0)
		rc = 0;
out:
	isol8_buf_free(&tar);
	isol8_buf_free(&so);
	isol8_buf_free(&se);
	return rc;
}

/* Runs the code in the sandbox's standby, from file (which it writes) or inline when file is
 * NULL. 1: the sandbox had none (or the run cannot use it), nothing ran. */
static int run_standby(const struct sandbox *sb, const struct run_req *r, const char *const *env,
		       const char *file, uint64_t deadline, int ctrl_fd, struct pump_out *o,
		       struct exec_outcome *x, struct isol8_err *err)
{
	struct isol8_buf job = ISOL8_BUF_INIT;
	struct isol8_err e2 = ISOL8_ERR_INIT;
	struct agent_outcome ax;
	uint64_t now = mono_ms();
	int rc = 1;

	if (standby_env_compatible(runtime_base_env_list(), env) &&
	    standby_job(&job, r->workdir, file, env, (const char *const *)r->args, r->code, &e2) == 0) {
		rc = agent_exec_warm(sb->agent_fd, job.data, job.len, r->has_stdin ? r->stdin_data : NULL,
				     r->has_stdin ? r->stdin_len : 0, deadline > now ? deadline - now : 1,
				     deadline + HOST_GRACE_MS, ctrl_fd, o, &ax, err);
		if (rc == 0) {
			outcome_from_agent(x, &ax);
			x->standby = true;
		}
	}
	isol8_buf_free(&job);
	return rc;
}

int run_execute(struct conn *c, struct run_req *r, int *out_fdp, int *err_fdp, struct isol8_err *err)
{
	int out_fd = *out_fdp, err_fd = *err_fdp;
	struct timings tm = {.t0 = mono_ms()};
	struct session *s = NULL;
	struct sandbox sb_local, *sb = &sb_local;
	struct env_list env;
	struct pump_out o;
	struct exec_outcome x = {0};
	const char *notice = NULL;
	char exec_id_str[40], ts[96], tmo[32];
	uint64_t deadline;
	bool ephemeral = !r->session, oom = false, created = false, have_pk = false, out_reg = false;
	struct pool_key pk;
	int kind = r->session ? SANDBOX_SESSION : r->persist ? SANDBOX_PERSIST : SANDBOX_EPHEMERAL;
	int rc = -1;
	json_object *res, *tj;

	env_build(&env, r);
	iso_now(ts, sizeof ts);
	{
		char tok[33];
		random_token(tok);
		snprintf(exec_id_str, sizeof exec_id_str, "%.8s-%.4s-%.4s-%.4s-%.12s", tok, tok + 8, tok + 12, tok + 16,
			 tok + 20);
	}

	if (r->session) {
		s = session_acquire(c->principal, r->session);
		if (s && s->runtime != r->runtime) {
			isol8_err_set(err, ISOL8_E_USAGE, 0,
				      "Cannot switch runtime: session '%s' is bound to %s, this run asks for %s", r->session,
				      isol8_runtime_name(s->runtime), isol8_runtime_name(r->runtime));
			session_release(s);
			env_free(&env);
			return -1;
		}
	}
	if (s) {
		sb = &s->sb;
	} else {
		if (r->session && c->max_sessions && session_count(c->tenant) >= c->max_sessions) {
			env_free(&env);
			return isol8_err_set(err, ISOL8_E_LIMIT, 0, "too many sessions for tenant %s (maximum %u)", c->tenant,
					     c->max_sessions);
		}
		bool pooled = false;

		/* net (issue 7): filtered sandboxes are not pooled (their proxy listener is per sandbox) */
		if (kind == SANDBOX_EPHEMERAL && r->net_mode != ISOL8_NET_FILTERED) {
			pool_key_make(&pk, c->tenant, r);
			have_pk = true;
			pooled = pool_take(&pk, c->principal, sb);
			/* A reused sandbox gets a fresh hard deadline from the broker first. */
			if (pooled && sb_renew(sb->id, r->timeout_ms, &(struct isol8_err)ISOL8_ERR_INIT) < 0) {
				xclose(sb->agent_fd);
				sb_remove(sb->id, &(struct isol8_err)ISOL8_ERR_INIT);
				pooled = false;
			}
			/* Counted as the key's until released: taking it must not make the pool build
			 * another that the reset will make redundant. */
			if (pooled && !g_pool_secure)
				out_reg = pool_out_begin(&pk);
			pool_fill_async(c, &pk);
		}
		if (pooled) {
			created = true;
		} else if (sb_create(c->token, r->runtime, r->image ? r->image : "",
				     r->preferred_image ? r->preferred_image : "", &r->lim, r->net_mode, kind,
				     r->session ? r->session : "", sb, err) < 0 ||
			   (created = true, sb_start(sb, err) < 0)) {
			if (created)
				sb_remove(sb->id, &(struct isol8_err)ISOL8_ERR_INIT);
			sb->agent_fd = xclose(sb->agent_fd);
			env_free(&env);
			return -1;
		}
		/* A sandbox made for this run keeps a standby too once it is back in the pool. */
		if (!pooled && have_pk)
			sb_warm(sb, r->runtime);
		/* --- net (issue 7): rules and proxy listener before any code runs --- */
		if (r->net_mode == ISOL8_NET_FILTERED &&
		    sb_net_rules(sb->id, r->net_allow, r->n_net_allow, r->net_deny, r->n_net_deny, r->log_network, err) < 0) {
			sb->agent_fd = xclose(sb->agent_fd);
			sb_remove(sb->id, &(struct isol8_err)ISOL8_ERR_INIT);
			env_free(&env);
			return -1;
		}
		/* --- end net --- */
		if (r->session) {
			s = session_add(c->principal, c->tenant, r->session, r->runtime, sb, c->session_idle_ms);
			if (!s) {
				sb->agent_fd = xclose(sb->agent_fd);
				sb_remove(sb->id, &(struct isol8_err)ISOL8_ERR_INIT);
				env_free(&env);
				return isol8_err_set(err, ISOL8_E_LIMIT, 0, "this worker holds too many sessions");
			}
			sb = &s->sb;
		}
	}
	/* The applied timeout comes from the broker (after policy clamping), not the request. */
	/* A session keeps the limits it was created with; a later run may only lower its timeout. */
	deadline = tm.t0 + (r->timeout_ms < sb->lim.timeout_ms ? r->timeout_ms : sb->lim.timeout_ms);
	tm.acquire = mono_ms() - tm.t0;
	pump_out_init(&o, out_fd, err_fd, (const char *const *)r->secret_vals, sb->lim.max_output);

	{
		char codefile[64] = "";
		bool need_file = r->code && !(s && repl_capable(r)) &&
				 (r->runtime == ISOL8_RT_DENO || r->file_ext || strlen(r->code) > INLINE_MAX ||
				  r->has_files || r->n_args);
		/* A fresh ephemeral run of plain code may take the sandbox's standby interpreter, which
		 * writes its code file itself (worker/standby.h). */
		bool warm = sb->warm && sb->agent_fd >= 0 && kind == SANDBOX_EPHEMERAL && !r->cmd && r->code &&
			    !r->has_files && !r->n_install && !r->setup_script && !sb->image_setup && r->stdin_fd < 0 &&
			    !r->stdin_stream;
		uint64_t t = mono_ms();

		if (need_file || warm) {
			const char *ext = r->file_ext ? r->file_ext : runtime_default_ext(r->runtime);
			if (strlen(ext) > 15 || ext[0] != '.' || strchr(ext, '/')) {
				isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid file extension '%.16s'", ext);
				goto out;
			}
			snprintf(codefile, sizeof codefile, "main%s", ext);
		}
		if (((need_file && !warm) || r->has_files) &&
		    inject_files(sb, r, need_file ? codefile : NULL, env.v, deadline, err) < 0)
			goto out;
		tm.inject = mono_ms() - t;
		t = mono_ms();
		if (install_packages(r, sb->id, env.v, deadline, &o, err) < 0)
			goto out;
		tm.install = mono_ms() - t;
		t = mono_ms();
		if (sb->image_setup || r->setup_script) {
			const char *img_argv[] = {"timeout", "-s", "KILL", tmo, "bash", "/usr/local/lib/isol8/setup.sh", NULL};
			const char *req_argv[] = {"timeout", "-s", "KILL", tmo, "bash", "-c", r->setup_script, NULL};
			for (int k = 0; k < 2; k++) {
				if ((k == 0 && !sb->image_setup) || (k == 1 && !r->setup_script))
					continue;
				timeout_arg(tmo, sizeof tmo, deadline > mono_ms() ? deadline - mono_ms() : 1);
				if (exec_stream(sb, k ? req_argv : img_argv, env.v, "/sandbox", NULL, 0, -1, false, deadline,
						c->fd, &o, &x, err) < 0)
					goto out;
				if (x.timed_out || x.interrupted || x.exit_code != 0) {
					if (!x.timed_out && !x.interrupted) {
						isol8_err_set(err, ISOL8_E_USAGE, 0, "Setup script failed (exit code %d)",
							      x.exit_code);
						goto out;
					}
					goto finish;
				}
			}
		}
		tm.setup = mono_ms() - t;
		t = mono_ms();

		if (s && repl_capable(r)) {
			if (repl_run(s, r, env.v, deadline, c->fd, &o, &x, &notice, err) < 0)
				goto out;
		} else {
			const char *argv[ISOL8_MAX_ARGS];
			char *rtv[24];
			size_t n = 0;
			char path[80];

			timeout_arg(tmo, sizeof tmo, deadline > mono_ms() ? deadline - mono_ms() : 1);
			argv[n++] = "timeout"; argv[n++] = "-s"; argv[n++] = "KILL"; argv[n++] = tmo;
			if (r->cmd) {
				argv[n++] = "bash"; argv[n++] = "-c"; argv[n++] = r->cmd;
				/* bash -c takes its first operand as $0: arguments start at $1, as for a file. */
				if (r->n_args)
					argv[n++] = "bash";
			} else {
				snprintf(path, sizeof path, "/sandbox/%s", codefile);
				if (runtime_argv(r->runtime, r->code, need_file ? path : NULL, rtv, 24, err) < 0)
					goto out;
				for (size_t i = 0; rtv[i]; i++)
					argv[n++] = rtv[i];
			}
			for (size_t i = 0; i < r->n_args && n + 1 < ISOL8_MAX_ARGS; i++)
				argv[n++] = r->args[i];
			argv[n] = NULL;
			/* python runs short code inline (-c) as without a standby; node always from its
			 * file, as ESM unless .cjs. */
			int wr = warm ? run_standby(sb, r, env.v, need_file || r->runtime != ISOL8_RT_PYTHON ? path : NULL,
						    deadline, c->fd, &o, &x, err)
				      : 1;
			if (wr < 0)
				goto out;
			/* Without a standby the code file was not written yet. */
			if (wr == 1 && warm && need_file && inject_files(sb, r, codefile, env.v, deadline, err) < 0)
				goto out;
			if (wr == 1 && exec_stream(sb, argv, env.v, r->workdir, r->stdin_data, r->stdin_len, r->stdin_fd,
						   r->has_stdin || r->stdin_fd >= 0, deadline, c->fd, &o, &x, err) < 0)
				goto out;
		}
		tm.exec = mono_ms() - t;
	}
finish:
	/* timeout(1) kills at the exact millisecond with SIGKILL (137); our own host timer is the
	 * backstop. Either way the run counts as timed out only once the deadline has passed. */
	if (!x.timed_out && x.exit_code == 137 && mono_ms() + 5 >= deadline)
		x.timed_out = true;
	if (x.timed_out || x.interrupted) {
		/* With an agent the program's group is already dead and the reset cleans the rest. */
		if ((ephemeral || kind == SANDBOX_PERSIST) && sb->agent_fd < 0)
			sb_kill(sb->id, SIGKILL, &(struct isol8_err)ISOL8_ERR_INIT);
		else if (s && s->repl_fd >= 0)
			repl_kill(s, env.v);
	}
	if (!x.timed_out && !x.interrupted && x.exit_code == 137) {
		bool running, o2 = false;
		int ec;
		uint32_t kills = 0;
		if (sb_inspect(sb->id, &running, &o2, &ec, &kills, &(struct isol8_err)ISOL8_ERR_INIT) == 0) {
			/* A session's counter keeps earlier runs' kills: compare with what we saw last. */
			oom = o2 || kills > (s ? s->oom_kills : 0);
			if (s)
				s->oom_kills = kills;
		}
	}
	pump_out_finish(&o);
	if (x.timed_out) {
		pump_out_write(&o, 2, TIMEOUT_MARKER, strlen(TIMEOUT_MARKER));
		x.exit_code = 124;
	} else if (x.interrupted) {
		x.exit_code = 130;
	} else if (oom) {
		char sz[32], line[160];
		isol8_format_size(sb->lim.memory, sz, sizeof sz);
		snprintf(line, sizeof line, "\n--- MEMORY LIMIT REACHED (%s): killed by the OOM killer ---\n", sz);
		pump_out_write(&o, 2, line, strlen(line));
		x.exit_code = 137;
	}
	if (x.exit_code < 0)
		x.exit_code = 1;
	tm.total = mono_ms() - tm.t0;

	res = json_object_new_object();
	json_object_object_add(res, "exitCode", json_object_new_int(x.exit_code));
	json_object_object_add(res, "durationMs", json_object_new_int64((int64_t)(x.ms ? x.ms : tm.exec)));
	json_object_object_add(res, "truncated", json_object_new_boolean(o.cap[1].truncated || o.cap[2].truncated));
	json_object_object_add(res, "stdoutTruncated", json_object_new_boolean(o.cap[1].truncated));
	json_object_object_add(res, "stderrTruncated", json_object_new_boolean(o.cap[2].truncated));
	json_object_object_add(res, "stdoutBytes", json_object_new_int64((int64_t)o.cap[1].total));
	json_object_object_add(res, "stderrBytes", json_object_new_int64((int64_t)o.cap[2].total));
	json_object_object_add(res, "timedOut", json_object_new_boolean(x.timed_out));
	json_object_object_add(res, "oomKilled", json_object_new_boolean(oom));
	json_object_object_add(res, "executionId", json_object_new_string(exec_id_str));
	json_object_object_add(res, "runtime", json_object_new_string(isol8_runtime_name(r->runtime)));
	json_object_object_add(res, "timestamp", json_object_new_string(ts));
	json_object_object_add(res, "containerId", json_object_new_string(sb->id));
	json_object_object_add(res, "image", json_object_new_string(sb->image));
	if (r->session)
		json_object_object_add(res, "sessionId", json_object_new_string(r->session));
	if (kind == SANDBOX_PERSIST)
		json_object_object_add(res, "persisted", json_object_new_boolean(1));
	if (notice)
		json_object_object_add(res, "notice", json_object_new_string(notice));
	json_object_object_add(res, "limits", limits_json(sb, r->net_mode));
	/* --- net (issue 7): the proxy's request log --- */
	if (r->log_network && r->net_mode == ISOL8_NET_FILTERED) {
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
	tj = json_object_new_object();
	json_object_object_add(tj, "acquireMs", json_object_new_int64((int64_t)tm.acquire));
	json_object_object_add(tj, "injectMs", json_object_new_int64((int64_t)tm.inject));
	json_object_object_add(tj, "installMs", json_object_new_int64((int64_t)tm.install));
	json_object_object_add(tj, "setupMs", json_object_new_int64((int64_t)tm.setup));
	json_object_object_add(tj, "execMs", json_object_new_int64((int64_t)tm.exec));
	/* Within the exec phase, from the start of the request (t0): program started, its first
	 * output byte, its exit status known. */
	if (x.started_ms >= tm.t0)
		json_object_object_add(tj, "startedAtMs", json_object_new_int64((int64_t)(x.started_ms - tm.t0)));
	if (o.first_byte_ms >= tm.t0)
		json_object_object_add(tj, "firstByteAtMs", json_object_new_int64((int64_t)(o.first_byte_ms - tm.t0)));
	if (x.exited_ms >= tm.t0)
		json_object_object_add(tj, "exitedAtMs", json_object_new_int64((int64_t)(x.exited_ms - tm.t0)));
	json_object_object_add(tj, "totalMs", json_object_new_int64((int64_t)tm.total));
	json_object_object_add(tj, "standby", json_object_new_boolean(x.standby));
	json_object_object_add(res, "timings", tj);
	/* Answer first, clean up after: the caller does not wait for the sandbox's removal. The
	 * output fds are closed before the result so a frontend reading pipes sees EOF first. */
	*out_fdp = xclose(*out_fdp);
	*err_fdp = xclose(*err_fdp);
	o.fd[1] = o.fd[2] = -1;
	conn_send_result(c, res);
	json_object_put(res);
	rc = 0;
	goto out;
out:
	pump_out_free(&o);
	if (ephemeral && kind != SANDBOX_PERSIST) {
		/* Fast strategy: an agent sandbox is reset and goes back to its tenant's pool. The
		 * caller already has its result; this is off its path. */
		struct isol8_err rerr = ISOL8_ERR_INIT;
		bool reused = false;
		if (have_pk && rc == 0 && !g_pool_secure && sb->agent_fd >= 0 && ++sb->uses < POOL_MAX_USES &&
		    mono_ms() - sb->born_ms < 10 * 60 * 1000 && pool_dirty_begin(&pk)) {
			uint64_t t = mono_ms();
			if (agent_reset(sb->agent_fd, &rerr) == 0) {
				reused = pool_put(&pk, c->principal, sb);
				log_debug("release %.12s: reset in %llu ms, %s", sb->id, (unsigned long long)(mono_ms() - t),
					  reused ? "back in the pool" : "removed (pool full)");
			} else
				log_warn("sandbox %.12s not reused: %s", sb->id, rerr.msg);
			pool_dirty_end(&pk);
		}
		if (!reused) {
			sb->agent_fd = xclose(sb->agent_fd);
			sb_remove(sb->id, &(struct isol8_err)ISOL8_ERR_INIT);
		}
		if (out_reg)
			pool_out_end(&pk);
	}
	if (s)
		session_release(s);
	env_free(&env);
	return rc;
}
