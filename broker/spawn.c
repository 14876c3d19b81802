/* Starting a helper process (worker, proxy) as a fresh exec with its broker channel on fd 3.
 * A fresh exec, not a bare fork: the child inherits none of the broker's memory, Docker handles
 * or policy state. Everything else the broker holds is CLOEXEC; the child drops to its
 * unprivileged account and locks itself down before reading anything. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/cleanup.h"

/* In the forked child, first: the default signal mask and SIGPIPE. Only async-signal-safe calls
 * from here to exec. */
static void child_reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
}

/* In the forked child, last: the channel onto fd 3, kept across exec, then exec; 127 when either
 * fails. */
static _Noreturn void child_exec(int chan, const char *path, char *const argv[])
{
	if (chan != 3) {
		if (dup2(chan, 3) < 0)
			_exit(127);
		close(chan);
	} else {
		fcntl(3, F_SETFD, 0);
	}
	execv(path, argv);
	_exit(127);
}

int broker_spawn_child(const char *path, char *const argv[], int *chan_out, pid_t *pid_out, struct isol8_err *err)
{
	int sv[2] = {-1, -1};
	pid_t pid;

	if (isol8_ipc_socketpair(sv, err) < 0)
		return isol8_err_wrap(err, "%s channel", argv[0]);
	pid = fork();
	if (pid < 0) {
		xclose(sv[0]);
		xclose(sv[1]);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork %s", argv[0]);
	}
	if (pid == 0) {
		child_reset_signals();
		close(sv[0]);
		child_exec(sv[1], path, argv);
	}
	close(sv[1]);
	*chan_out = sv[0];
	*pid_out = pid;
	return 0;
}

int broker_spawn_child_netns(struct broker *b, const char *path, char *const argv[], const char *resolv_conf,
			     int *chan_out, pid_t *pid_out, int (*attach)(struct broker *, pid_t, struct isol8_err *),
			     struct isol8_err *err)
{
	int sv[2] = {-1, -1}, sync[2] = {-1, -1};
	struct pollfd pf;
	char c = 0;
	pid_t pid;

	if (isol8_ipc_socketpair(sv, err) < 0)
		return isol8_err_wrap(err, "%s channel", argv[0]);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0) {
		xclose(sv[0]);
		xclose(sv[1]);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "socketpair");
	}
	pid = fork();
	if (pid < 0) {
		xclose(sv[0]);
		xclose(sv[1]);
		xclose(sync[0]);
		xclose(sync[1]);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork %s", argv[0]);
	}
	if (pid == 0) {
		char ok = 1;

		child_reset_signals();
		close(sv[0]);
		close(sync[0]);
		if (unshare(CLONE_NEWNET | (resolv_conf ? CLONE_NEWNS : 0)) < 0)
			_exit(126);
		/* Its own view of /etc/resolv.conf: servers its namespace can reach. */
		if (resolv_conf &&
		    (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		     mount(resolv_conf, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0))
			_exit(126);
		/* Namespace made; exec only once the broker has wired it up. */
		if (write(sync[1], &ok, 1) != 1 || read(sync[1], &ok, 1) != 1 || ok != 1)
			_exit(126);
		close(sync[1]);
		child_exec(sv[1], path, argv);
	}
	close(sv[1]);
	close(sync[1]);
	pf = (struct pollfd){.fd = sync[0], .events = POLLIN};
	while (poll(&pf, 1, 5000) < 0 && errno == EINTR)
		;
	if (!(pf.revents & POLLIN) || read(sync[0], &c, 1) != 1 || c != 1) {
		isol8_err_set(err, ISOL8_E_INTERNAL, 0, "%s: could not make its network namespace", argv[0]);
		goto fail;
	}
	if (attach(b, pid, err) < 0)
		goto fail;
	if (write(sync[0], &c, 1) != 1) {
		isol8_err_set(err, ISOL8_E_INTERNAL, errno, "%s: start after its network setup", argv[0]);
		goto fail;
	}
	close(sync[0]);
	*chan_out = sv[0];
	*pid_out = pid;
	return 0;
fail:
	close(sync[0]);
	close(sv[0]);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return -1;
}
