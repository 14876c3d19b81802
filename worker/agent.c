/* Running programs through the in-sandbox agent (common/agent_proto.h) instead of docker exec:
 * the worker creates the pipes, passes their far ends to the agent with SCM_RIGHTS, and reads
 * the program's output straight from them. Everything the agent sends is untrusted input,
 * checked against the protocol table (common/proto_rows.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/agent_proto.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "worker/agent.h"

#define DRAIN_AFTER_EXIT_MS 50

/* 0 with a message, -1 with err; an A_ERROR is an error, except one whose text is benign (an
 * expected refusal such as "no standby"): 1, with nothing left to free. */
static int agent_recv(int afd, struct isol8_msg *m, const char *benign, struct isol8_err *err)
{
	int r = isol8_ipc_recv(afd, m, err);
	if (r == 0)
		return isol8_err_set(err, ISOL8_E_IO, 0, "the sandbox agent closed its connection");
	if (r < 0)
		return -1;
	if (isol8_proto_check(PEER_WORKER, PEER_AGENT, m, NULL, err) < 0) {
		isol8_msg_free(m);
		return -1;
	}
	if (m->type == A_ERROR) {
		char *msg = NULL;
		struct isol8_err e2 = ISOL8_ERR_INIT;
		int rc = -1;
		if (isol8_get_str(m, &msg, ISOL8_AGENT_MAX_ERROR, &e2) < 0)
			isol8_err_set(err, ISOL8_E_PROTO, 0, "sandbox agent sent a malformed error");
		else if (benign && strcmp(msg, benign) == 0)
			rc = 1;
		else
			isol8_err_set(err, ISOL8_E_IO, 0, "sandbox agent: %s", msg);
		free(msg);
		isol8_msg_free(m);
		return rc;
	}
	return 0;
}

static int wait_msg(int afd, uint64_t deadline, struct isol8_msg *m, const char *benign, struct isol8_err *err)
{
	for (;;) {
		struct pollfd pf = {.fd = afd, .events = POLLIN};
		uint64_t now = clock_mono_ms();
		int r;
		if (now >= deadline)
			return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "the sandbox agent did not answer in time");
		r = poll(&pf, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return isol8_err_set(err, ISOL8_E_IO, errno, "poll");
		if (r > 0)
			return agent_recv(afd, m, benign, err);
	}
}

int agent_handshake(int afd, struct isol8_err *err)
{
	struct isol8_msg m = {0};
	uint32_t version, pid;
	int fl = fcntl(afd, F_GETFL);

	if (fl >= 0)
		fcntl(afd, F_SETFL, fl | O_NONBLOCK);
	if (wait_msg(afd, clock_mono_ms() + 5000, &m, NULL, err) < 0)
		return -1;
	if (m.type != A_READY || isol8_get_u32(&m, &version, err) < 0 || isol8_get_u32(&m, &pid, err) < 0 ||
	    isol8_msg_end(&m, err) < 0 || version != ISOL8_AGENT_VERSION) {
		isol8_msg_free(&m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected hello from the sandbox agent");
	}
	isol8_msg_free(&m);
	/* The hello comes before any user code, so the pid is the agent's own word. Only an agent
	 * that is the sandbox's PID 1 can vouch for a reset: under another init (tini, dumpable and
	 * of the program's uid) a program can rewrite that init and outlive every reset. */
	if (pid != 1)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "the sandbox agent is not the sandbox's PID 1 (pid %u)",
				     pid);
	return 0;
}

static void kill_group(int afd, int sig)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	isol8_put_u8(&p, (uint8_t)sig);
	isol8_ipc_send_buf(afd, A_KILL, 0, &p, NULL, 0, &err);
	isol8_buf_free(&p);
}

static int pump_loop(int afd, int out_r, int err_r, int in_w, const char *in, size_t in_len, uint64_t t0,
		     uint64_t deadline, int ctrl_fd, struct pump_out *o, struct agent_outcome *x,
		     struct isol8_err *err);

static void put_cmd(struct isol8_buf *p, const char *const *argv, const char *const *env)
{
	size_t n;

	for (n = 0; argv[n]; n++)
		;
	isol8_put_u32(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		isol8_put_str(p, argv[i]);
	for (n = 0; env && env[n]; n++)
		;
	isol8_put_u32(p, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		isol8_put_str(p, env[i]);
}

int agent_exec(int afd, const char *const *argv, const char *const *env, const char *cwd, const char *in, size_t in_len,
	       int stdin_fd, uint64_t timeout_ms, uint64_t deadline, int ctrl_fd, struct pump_out *o,
	       struct agent_outcome *x, struct isol8_err *err)
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
	struct isol8_buf p = ISOL8_BUF_INIT;
	uint64_t t0 = clock_mono_ms();
	int rc = -1;

	memset(x, 0, sizeof *x);
	x->exit_code = -1;
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "pipe");
		goto out;
	}
	isol8_put_u64(&p, timeout_ms);
	put_cmd(&p, argv, env);
	isol8_put_str(&p, cwd);
	{
		int fds[3] = {stdin_fd >= 0 ? stdin_fd : pin[0], pout[1], perr[1]};
		if (isol8_ipc_send_buf(afd, A_RUN, 0, &p, fds, 3, err) < 0)
			goto out;
	}
	/* Only the agent's copies of the far ends may stay open, or EOF never comes. */
	pin[0] = xclose(pin[0]);
	pout[1] = xclose(pout[1]);
	perr[1] = xclose(perr[1]);
	if (stdin_fd >= 0)
		pin[1] = xclose(pin[1]);
	rc = pump_loop(afd, pout[0], perr[0], pin[1], in, in_len, t0, deadline, ctrl_fd, o, x, err);
	pout[0] = pin[1] = perr[0] = -1; /* pump_loop owns them */
out:
	isol8_buf_free(&p);
	xclose(pin[0]);
	xclose(pin[1]);
	xclose(pout[0]);
	xclose(pout[1]);
	xclose(perr[0]);
	xclose(perr[1]);
	return rc;
}

int agent_warm(int afd, const char *const *argv, const char *const *env, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	uint32_t zero;
	int rc;

	put_cmd(&p, argv, env);
	rc = isol8_ipc_send_buf(afd, A_WARM, 0, &p, NULL, 0, err);
	isol8_buf_free(&p);
	if (rc < 0 || wait_msg(afd, clock_mono_ms() + 5000, &m, NULL, err) < 0)
		return -1;
	if (m.type != A_DONE || isol8_get_u32(&m, &zero, err) < 0 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected answer to A_WARM from the sandbox agent");
	}
	isol8_msg_free(&m);
	return 0;
}

int agent_exec_warm(int afd, const void *job, size_t job_len, const char *in, size_t in_len, uint64_t timeout_ms,
		    uint64_t deadline, int ctrl_fd, struct pump_out *o, struct agent_outcome *x, struct isol8_err *err)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	uint64_t t0 = clock_mono_ms();
	uint32_t pid;
	int r;

	memset(x, 0, sizeof *x);
	x->exit_code = -1;
	isol8_put_u64(&p, timeout_ms);
	isol8_put_u32(&p, (uint32_t)job_len);
	isol8_buf_append(&p, job, job_len);
	r = isol8_ipc_send_buf(afd, A_RUN_WARM, 0, &p, NULL, 0, err);
	isol8_buf_free(&p);
	if (r < 0)
		return -1;
	/* The answer comes at once: the agent only writes into a pipe and passes fds. */
	r = wait_msg(afd, deadline, &m, "no standby", err);
	if (r != 0)
		return r;
	/* The pipe kinds of the three fds were checked against the protocol table on receipt. */
	if (m.type != A_HANDOFF || isol8_get_u32(&m, &pid, err) < 0 || isol8_msg_end(&m, err) < 0) {
		if (!err->code)
			isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected answer to A_RUN_WARM from the sandbox agent");
		isol8_msg_free(&m);
		return -1;
	}
	{
		int in_w = m.fds[0], out_r = m.fds[1], err_r = m.fds[2];
		m.nfds = 0; /* pump_loop owns them now */
		x->started_ms = clock_mono_ms();
		isol8_msg_free(&m);
		return pump_loop(afd, out_r, err_r, in_w, in, in_len, t0, deadline, ctrl_fd, o, x, err);
	}
}

/* What one run's pump holds between polls; only our ends of the pipes are in it. */
struct pump_stream {
	int fd;
	bool open;
};

struct pump_stdin {
	int fd; /* -1 once all of data went in, or the program stopped reading */
	const char *data;
	size_t len, sent;
};

struct agent_pump {
	int afd, ctrl_fd;
	struct pump_stream out, err;
	struct pump_stdin in;
	uint64_t deadline, exit_at;
	bool exited, killed;
	struct pump_out *o;
	struct agent_outcome *x;
};

enum pump_src { SRC_OUT = 1, SRC_ERR = 2, SRC_AGENT = 3, SRC_STDIN = 4, SRC_CTRL = 5 };

/* The agent enforces the timeout itself; past the deadline the worker kills the group as a
 * backstop and gives the agent two more seconds before it gives up on it. */
static int check_deadline(struct agent_pump *p, uint64_t now, struct isol8_err *err)
{
	if (now < p->deadline)
		return 0;
	if (p->killed)
		return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "the sandbox agent does not answer");
	kill_group(p->afd, SIGKILL);
	p->killed = true;
	p->x->timed_out = true;
	p->deadline = now + 2000;
	return 0;
}

static void poll_add(struct pollfd *pf, int *idx, int *np, int fd, short events, enum pump_src src)
{
	pf[*np] = (struct pollfd){.fd = fd, .events = events};
	idx[(*np)++] = src;
}

/* Once the program has exited, neither the agent nor the control channel is waited on. */
static int poll_set(const struct agent_pump *p, struct pollfd *pf, int *idx)
{
	int np = 0;

	if (p->out.open)
		poll_add(pf, idx, &np, p->out.fd, POLLIN, SRC_OUT);
	if (p->err.open)
		poll_add(pf, idx, &np, p->err.fd, POLLIN, SRC_ERR);
	if (!p->exited)
		poll_add(pf, idx, &np, p->afd, POLLIN, SRC_AGENT);
	if (p->in.fd >= 0)
		poll_add(pf, idx, &np, p->in.fd, POLLOUT, SRC_STDIN);
	if (p->ctrl_fd >= 0 && !p->exited)
		poll_add(pf, idx, &np, p->ctrl_fd, POLLIN, SRC_CTRL);
	return np;
}

static void read_output(struct agent_pump *p, int stream)
{
	struct pump_stream *st = stream == SRC_OUT ? &p->out : &p->err;
	char buf[65536];
	ssize_t got = read(st->fd, buf, sizeof buf);

	if (got > 0)
		pump_out_write(p->o, stream, buf, (size_t)got);
	else if (got == 0 || errno != EINTR)
		st->open = false;
}

/* A_EXIT: the status, whether the agent's own timer fired, and the program's resource use. */
static int take_exit(struct agent_pump *p, struct isol8_msg *m, struct isol8_err *err)
{
	struct agent_outcome *x = p->x;
	uint32_t code;
	uint8_t sig, to;
	uint64_t wall, uu, su, rss;

	if (isol8_get_u32(m, &code, err) < 0 || isol8_get_u8(m, &sig, err) < 0 || isol8_get_u8(m, &to, err) < 0 ||
	    isol8_get_u64(m, &wall, err) < 0 || isol8_get_u64(m, &uu, err) < 0 || isol8_get_u64(m, &su, err) < 0 ||
	    isol8_get_u64(m, &rss, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	x->exit_code = (int32_t)code >= 0 ? (int)code : 128 + sig;
	x->signal = sig;
	x->timed_out = x->timed_out || to;
	x->user_us = uu;
	x->sys_us = su;
	x->maxrss_kb = rss;
	p->exited = true;
	p->exit_at = clock_mono_ms();
	return 0;
}

static int read_agent(struct agent_pump *p, struct isol8_err *err)
{
	struct isol8_msg m = {0};
	int rc = 0;

	if (agent_recv(p->afd, &m, NULL, err) < 0)
		return -1;
	if (m.type == A_EXIT)
		rc = take_exit(p, &m, err);
	else if (m.type == A_STARTED)
		p->x->started_ms = clock_mono_ms();
	else
		rc = isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected message %u from the sandbox agent", m.type);
	isol8_msg_free(&m);
	return rc;
}

static void write_stdin(struct pump_stdin *in)
{
	ssize_t got = write(in->fd, in->data + in->sent, in->len - in->sent);

	if (got > 0)
		in->sent += (size_t)got;
	if ((got < 0 && errno != EAGAIN && errno != EINTR) || in->sent == in->len)
		in->fd = xclose(in->fd);
}

/* The frontend's FE_SIGNAL is passed on to the program's group; a frontend that went away
 * (or sent garbage that broke the channel) kills it. Anything else on the channel is ignored. */
static void read_ctrl(struct agent_pump *p)
{
	struct isol8_msg m = {0};
	struct isol8_err e2 = ISOL8_ERR_INIT;
	uint8_t sig = 0;
	int rr = isol8_ipc_recv(p->ctrl_fd, &m, &e2);

	if (rr == 0 || (rr < 0 && e2.errnum != EAGAIN)) {
		sig = SIGKILL;
	} else if (rr > 0 && isol8_proto_check(PEER_WORKER, PEER_FRONTEND, &m, NULL, &e2) == 0 && m.type == FE_SIGNAL &&
		   isol8_get_u8(&m, &sig, &e2) == 0 && (sig == SIGINT || sig == SIGTERM || sig == SIGKILL)) {
	} else {
		sig = 0;
	}
	isol8_msg_free(&m);
	if (sig) {
		kill_group(p->afd, sig);
		p->x->interrupted = true;
		if (rr == 0)
			p->ctrl_fd = -1;
	}
}

static int pump_ready(struct agent_pump *p, int src, struct isol8_err *err)
{
	switch (src) {
	case SRC_OUT:
	case SRC_ERR:
		read_output(p, src);
		return 0;
	case SRC_AGENT:
		return read_agent(p, err);
	case SRC_STDIN:
		write_stdin(&p->in);
		return 0;
	case SRC_CTRL:
		read_ctrl(p);
		return 0;
	}
	return 0;
}

/* Pumps the program's output to o and in to its stdin until it has exited and its output ended.
 * Takes ownership of out_r, err_r and in_w (-1 when there is none). */
static int pump_loop(int afd, int out_r, int err_r, int in_w, const char *in, size_t in_len, uint64_t t0,
		     uint64_t deadline, int ctrl_fd, struct pump_out *o, struct agent_outcome *x, struct isol8_err *err)
{
	struct agent_pump p = {.afd = afd, .ctrl_fd = ctrl_fd, .deadline = deadline, .o = o, .x = x};
	int rc = -1;

	p.out = (struct pump_stream){.fd = out_r, .open = true};
	p.err = (struct pump_stream){.fd = err_r, .open = true};
	p.in = (struct pump_stdin){.fd = in_w, .data = in, .len = in_len};
	if (p.in.fd >= 0)
		fcntl(p.in.fd, F_SETFL, O_NONBLOCK);
	if (!in_len)
		p.in.fd = xclose(p.in.fd);

	for (;;) {
		struct pollfd pf[5];
		int idx[5], np, r, tmo;
		uint64_t now = clock_mono_ms();

		if (p.exited && ((!p.out.open && !p.err.open) || now >= p.exit_at + DRAIN_AFTER_EXIT_MS))
			break;
		if (check_deadline(&p, now, err) < 0)
			goto out;
		tmo = (int)(p.deadline - now);
		if (p.exited && tmo > DRAIN_AFTER_EXIT_MS)
			tmo = DRAIN_AFTER_EXIT_MS;
		np = poll_set(&p, pf, idx);
		r = poll(pf, (nfds_t)np, tmo);
		if (r < 0 && errno != EINTR) {
			isol8_err_set(err, ISOL8_E_IO, errno, "poll");
			goto out;
		}
		for (int k = 0; r > 0 && k < np; k++)
			if (pf[k].revents && pump_ready(&p, idx[k], err) < 0)
				goto out;
	}
	x->ms = clock_mono_ms() - t0;
	rc = 0;
out:
	/* Only our ends are ever open here. */
	xclose(p.in.fd);
	xclose(p.out.fd);
	xclose(p.err.fd);
	return rc;
}

int agent_reset(int afd, struct isol8_err *err)
{
	struct isol8_msg m = {0};
	uint32_t failures;

	if (isol8_ipc_send(afd, A_RESET, 0, NULL, 0, NULL, 0, err) < 0)
		return -1;
	if (wait_msg(afd, clock_mono_ms() + 5000, &m, NULL, err) < 0)
		return -1;
	if (m.type != A_DONE || isol8_get_u32(&m, &failures, err) < 0 || isol8_msg_end(&m, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected reset answer from the sandbox agent");
	}
	isol8_msg_free(&m);
	if (failures)
		return isol8_err_set(err, ISOL8_E_IO, 0, "sandbox reset left %u entries behind", failures);
	return 0;
}
