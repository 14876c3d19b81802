/* Starting a helper process (worker, proxy) as a fresh exec with its broker channel on fd 3.
 * A fresh exec, not a bare fork: the child inherits none of the broker's memory, Docker handles
 * or policy state. Everything else the broker holds is CLOEXEC; the child drops to its
 * unprivileged account and locks itself down before reading anything. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/cleanup.h"

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
		sigset_t none;

		/* Only async-signal-safe calls from here to exec. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		close(sv[0]);
		if (sv[1] != 3) {
			if (dup2(sv[1], 3) < 0)
				_exit(127);
			close(sv[1]);
		} else {
			fcntl(3, F_SETFD, 0);
		}
		execv(path, argv);
		_exit(127);
	}
	close(sv[1]);
	*chan_out = sv[0];
	*pid_out = pid;
	return 0;
}
