/* The worker account and the default socket group come from NSS. A name missing from
 * /etc/passwd falls through to the next nsswitch.conf source (nss-systemd on Debian), and glibc
 * keeps a module it has loaded mapped for the life of the process: about 0.5-0.7 MB of the
 * broker's RSS (libnss_systemd, libm, libcap) for lookups made once at start-up. A forked child
 * makes the same getpwnam() calls and passes back only the answers, so the broker maps a module
 * only when something at run time needs it (a policy that matches tenants by group). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/users.h"
#include "common/cleanup.h"

static void lookup(const char *name, struct broker_users *u)
{
	struct passwd *pw;

	memset(u, 0, sizeof *u);
	u->isol8_exists = getpwnam("isol8") != NULL;
	if (name)
		pw = getpwnam(name);
	else if (!(pw = getpwnam("isol8")))
		pw = getpwnam("nobody");
	if (pw) {
		u->found = true;
		u->uid = pw->pw_uid;
		u->gid = pw->pw_gid;
	}
}

int broker_lookup_users(const char *name, struct broker_users *out, struct isol8_err *err)
{
	_cleanup_close_ int rd = -1;
	int p[2], st;
	size_t got = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork");
	}
	if (pid == 0) {
		struct broker_users u;
		const char *s = (const char *)&u;
		size_t off = 0;

		close(p[0]);
		lookup(name, &u);
		while (off < sizeof u) {
			ssize_t n = write(p[1], s + off, sizeof u - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				_exit(1);
			off += (size_t)n;
		}
		_exit(0);
	}
	close(p[1]);
	rd = p[0];
	while (got < sizeof *out) {
		ssize_t n = read(rd, (char *)out + got, sizeof *out - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof *out)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "user lookup child failed");
	return 0;
}
