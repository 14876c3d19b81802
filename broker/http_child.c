/* isol8d --http ADDR:PORT: the broker runs the HTTP frontend (`isol8-full serve`) as a child,
 * under the unprivileged account (never root), restarts it when it dies and stops it at
 * shutdown. The keys file is opened here, as root, and handed over as fd 4, so it can stay
 * readable by root only. The child is trusted to act for API keys by its pid (SO_PEERCRED at
 * accept): another process of the same account cannot claim keys. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/supervise.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"

/* The child gets its own socket next to the main one, owned by its account (0600): the main
 * socket's group and mode stay the admin's choice, and only the child can use this one. */
int broker_http_listen(struct broker *b, struct isol8_err *err)
{
	_cleanup_free_ char *copy = xstrdup(b->o.socket_path);
	struct stat st;
	const char *dir = dirname(copy);

	/* The child must be able to traverse the socket directory: search permission only (no
	 * listing); the main socket keeps its own mode and group. */
	if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH) && chmod(dir, (st.st_mode & 07777) | S_IXOTH) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "chmod o+x %s", dir);
	b->http_socket = xasprintf("%s/http.sock", dir);
	if (broker_listen(b->http_socket, NULL, 0600, &b->http_listen_fd, err) < 0)
		return isol8_err_wrap(err, "http frontend socket");
	if (chown(b->http_socket, b->worker_uid, b->worker_gid) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "chown %s", b->http_socket);
	return 0;
}

/* supervise_ops.spawn */
static int http_start(void *ctx, unsigned idx, pid_t *pid_out, struct isol8_err *err)
{
	struct broker *b = ctx;
	_cleanup_close_ int kfd = -1;
	char *colon, addr[128], port[16];
	pid_t pid, parent;

	if (strlen(b->o.http) >= sizeof addr || !(colon = strrchr(b->o.http, ':')) || colon == b->o.http ||
	    strlen(colon + 1) >= sizeof port || !colon[1])
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "--http wants ADDR:PORT, got '%s'", b->o.http);
	snprintf(addr, sizeof addr, "%.*s", (int)(colon - b->o.http), b->o.http);
	snprintf(port, sizeof port, "%s", colon + 1);
	kfd = open(b->o.http_keys, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (kfd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "--http-keys %s", b->o.http_keys);
	parent = getpid();
	pid = fork();
	if (pid < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork http frontend");
	if (pid == 0) {
		sigset_t none;
		char *argv[] = {"isol8-full", "serve", "--bind", addr, "--port", port, "--keys-file", "fd:4",
				"--socket", b->http_socket, "--act-for-keys",
				/* one name per node: the audit records' and X-Isol8-Node's */
				b->o.node_id ? "--node-id" : NULL, (char *)b->o.node_id, NULL};

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(kfd, 4) < 0)
			_exit(127);
		/* Drop to the unprivileged account before exec; each step is checked. */
		if (setgroups(0, NULL) < 0 || setresgid(b->worker_gid, b->worker_gid, b->worker_gid) < 0 ||
		    setresuid(b->worker_uid, b->worker_uid, b->worker_uid) < 0 || setuid(0) == 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(126);
		/* It dies with the broker (it would hold the HTTP port and refuse a restarted
		 * broker's bind). Set after the uid change, which clears it; kept across exec. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
			_exit(126);
		execv(b->o.http_path, argv);
		_exit(127);
	}
	(void)idx;
	log_info("http frontend started on %s (pid %d)", b->o.http, (int)pid);
	*pid_out = pid;
	return 0;
}

bool broker_is_http_child(pid_t pid)
{
	pid_t h = supervise_pid(SV_HTTP, 0);

	return h > 0 && pid == h;
}

/* supervise_ops.reaped */
static bool http_reaped(void *ctx, unsigned idx, pid_t pid, int status, uint64_t now)
{
	struct broker *b = ctx;

	(void)idx;
	(void)now;
	if (b->http_restart) {
		/* Stopped by a reload to read the new keys: not a crash, no back-off. */
		b->http_restart = false;
		return false;
	}
	if (!b->stopping)
		log_warn("http frontend (pid %d) ended (status %d); restarting", (int)pid,
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return true;
}

const struct supervise_ops broker_http_ops = {
	.name = "http frontend",
	.backoff_ms = 200,
	.backoff_max_ms = 30000,
	.respawn = true,
	.spawn = http_start,
	.reaped = http_reaped,
};

void broker_stop_http(struct broker *b, bool wait)
{
	if (!b->o.http)
		return;
	if (!wait)
		supervise_kill(SV_HTTP, 0, SIGTERM);
	else /* it finishes its in-flight requests first: up to 5 s */
		supervise_stop(SV_HTTP, SIGTERM, 5000);
}
