/* The broker connector of `isol8 serve` (contract and reasons in connector.h). */
#include "config.h"
#include "http/connector.h"
#include "http/keys.h"

#include <errno.h>
#include <grp.h>
#include <linux/securebits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/proto.h"
#include "cli/broker_conn.h"
#include "http/server.h"
#include "lockdown/lockdown.h"

/* ---- connector side -------------------------------------------------------------------- */

static void reply_error(int link, const struct isol8_err *e)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err ignored = ISOL8_ERR_INIT;
	char msg[ISOL8_MAX_ERROR_MSG];

	snprintf(msg, sizeof msg, "%s", e->msg[0] ? e->msg : isol8_err_code_name(e->code));
	isol8_put_u16(&b, (uint16_t)e->code);
	isol8_put_str(&b, msg);
	isol8_ipc_send_buf(link, WK_ERROR, 0, &b, NULL, 0, &ignored);
	isol8_buf_free(&b);
}

/* One request: check it, connect, send the hello ourselves, hand the socket over. */
static void serve_one(int link, const char *socket_path, uint8_t hello_type, struct isol8_msg *m)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int fd = -1;

	/* What the server may ask: exactly the broker's hello bounds (the same rows). */
	if (isol8_proto_check(PEER_CONNECTOR, PEER_FRONTEND, m, NULL, &err) < 0)
		goto fail;
	/* A root connector never sends a plain FE_HELLO: from uid 0 it would be the admin tenant.
	 * The exceptions ask for the daemon's metrics or its health, which run nothing as anyone. */
	if (m->type != hello_type && !(hello_type == FE_HELLO_KEY && m->type == FE_HELLO_DBKEY) &&
	    !(m->type == FE_HELLO && m->len >= 1 &&
	      (m->payload[0] == HELLO_METRICS || m->payload[0] == HELLO_HEALTH))) {
		isol8_err_set(&err, ISOL8_E_AUTH, 0, "this server may only send %s hellos",
			      hello_type == FE_HELLO_KEY ? "API key" : "plain");
		goto fail;
	}
	fd = broker_connect(socket_path, &err);
	if (fd < 0)
		goto fail;
	if (isol8_ipc_send(fd, m->type, 0, m->payload, m->len, NULL, 0, &err) < 0) {
		isol8_err_wrap(&err, "send hello to isol8d");
		goto fail;
	}
	if (isol8_ipc_send(link, CN_CONNECTED, 0, NULL, 0, &fd, 1, &err) < 0)
		fprintf(stderr, "[WARN] isol8 serve connector: %s\n", err.msg);
	return;
fail:
	reply_error(link, &err);
}

/* uid 0 stays (isol8d trusts its key claims by it); everything else that root means goes. */
static int drop_privileges(struct isol8_err *err)
{
	cap_t none = NULL;
	int r;

	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "setgroups(0)");
		/* uid 0 must never regain capabilities, even through an exec (which the filter kills). */
		if (prctl(PR_SET_SECUREBITS,
			  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
				  SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED,
			  0, 0, 0) < 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "securebits");
		for (cap_value_t c = 0; c < cap_max_bits(); c++)
			if (cap_drop_bound(c) < 0)
				return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "drop bounding capability %d", c);
		if (cap_reset_ambient() < 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "clear ambient capabilities");
		none = cap_init();
		if (!none)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "cap_init");
		r = cap_set_proc(none);
		cap_free(none);
		if (r < 0)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "clear capabilities");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "PR_SET_NO_NEW_PRIVS");
	/* Not dumpable: the server (same uid when not run as root) cannot read or write our memory. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "PR_SET_DUMPABLE 0");
	return 0;
}

static int child_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* One byte, the signal's number: the server reads it as if it had been signalled. */
static void tell_stop(int stop_fd, int sig)
{
	unsigned char b = (unsigned char)sig;

	while (write(stop_fd, &b, 1) < 0 && errno == EINTR)
		;
}

int http_connector_run(int link, int stop_fd, pid_t child, const char *socket_path, uint8_t hello_type,
		       bool with_seccomp)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int sfd = -1;
	sigset_t set;
	bool link_open = true;
	int st = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		isol8_err_set(&err, ISOL8_E_INTERNAL, errno, "signalfd");
	else if (drop_privileges(&err) < 0 || (with_seccomp && http_connector_seccomp_load(&err) < 0))
		isol8_err_wrap(&err, "lock down");
	worker_lockdown_mark_filtered(); /* sanitizer builds: LSan's exit ptrace would be killed */
	if (err.code) {
		fprintf(stderr, "[ERR] isol8 serve connector: %s\n", err.msg);
		tell_stop(stop_fd, SIGTERM);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return 1;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = link_open ? link : -1, .events = POLLIN}};
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			tell_stop(stop_fd, SIGTERM);
			break;
		}
		if (p[0].revents & POLLIN && read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo != SIGCHLD)
				tell_stop(stop_fd, (int)si.ssi_signo == SIGHUP ? SIGTERM : (int)si.ssi_signo);
			else if (waitpid(child, &st, WNOHANG) == child)
				return child_status(st);
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			struct isol8_msg m = {0};
			int r = isol8_ipc_recv(link, &m, &err);

			if (r == 0 || (r < 0 && err.errnum != EAGAIN && err.code != ISOL8_E_PROTO)) {
				link_open = false; /* the server is ending; wait for it */
				isol8_err_clear(&err);
				continue;
			}
			if (r < 0)
				reply_error(link, &err);
			else
				serve_one(link, socket_path, hello_type, &m);
			isol8_msg_free(&m);
			isol8_err_clear(&err);
		}
	}
	waitpid(child, &st, 0);
	return child_status(st);
}

/* ---- server side ----------------------------------------------------------------------- */

static pthread_mutex_t link_lock = PTHREAD_MUTEX_INITIALIZER;

int http_connector_open(int link, uint8_t op, const char *session, const char *key_name, const char *key_id,
			struct isol8_err *err)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	int r, fd = -1;

	uint8_t type = key_name ? FE_HELLO_KEY : FE_HELLO;

	if (key_name && strncmp(key_name, HTTP_DBKEY_PREFIX, strlen(HTTP_DBKEY_PREFIX)) == 0) {
		/* A token of the key store: isol8d checks it, the server only has its hash. */
		type = FE_HELLO_DBKEY;
		isol8_put_u8(&b, op);
		isol8_put_str(&b, session ? session : "");
		isol8_put_str(&b, key_id);
	} else {
		broker_hello_payload(&b, op, session, key_name, key_id);
	}
	pthread_mutex_lock(&link_lock);
	r = isol8_ipc_send_buf(link, type, 0, &b, NULL, 0, err);
	if (r == 0) {
		r = isol8_ipc_recv(link, &m, err);
		if (r == 0)
			r = isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "the broker connector has gone");
	}
	pthread_mutex_unlock(&link_lock);
	isol8_buf_free(&b);
	if (r < 0)
		return isol8_err_wrap(err, "broker connector");
	if (isol8_proto_check(PEER_FRONTEND, PEER_CONNECTOR, &m, NULL, err) < 0) {
		isol8_msg_free(&m);
		return isol8_err_wrap(err, "broker connector");
	}
	if (m.type == WK_ERROR)
		r = broker_error_from_msg(&m, err);
	else
		fd = isol8_msg_take_fd(&m, 0);
	isol8_msg_free(&m);
	return r < 0 ? -1 : fd;
}
