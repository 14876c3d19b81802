/* The worker account and the default socket group come from NSS. A name missing from
 * /etc/passwd falls through to the next nsswitch.conf source (nss-systemd on Debian), and glibc
 * keeps a module it has loaded mapped for the life of the process: about 0.5-0.7 MB of the
 * broker's RSS (libnss_systemd, libm, libcap) for lookups made once at start-up. A forked child
 * makes the same getpwnam() calls and passes back only the answers, so the broker maps a module
 * only when something at run time needs it (a policy that matches tenants by group). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/users.h"
#include "common/cleanup.h"
#include "common/log.h"

static void lookup(const char *name, struct broker_users *u)
{
	struct passwd *pw;
	struct group *gr;

	memset(u, 0, sizeof *u);
	gr = getgrnam(BROKER_CLIENT_GROUP);
	if (gr) {
		u->group_exists = true;
		u->group_gid = gr->gr_gid;
	}
	pw = getpwnam(name ? name : BROKER_UNPRIV_USER);
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

/* One of groupadd/useradd (passwd, priority required on Debian) with a fixed argv and an empty
 * environment; its own messages go to our stderr. */
static int run_tool(char *const argv[], struct isol8_err *err)
{
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "fork");
	if (pid == 0) {
		execve(argv[0], argv, envp);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return isol8_err_set(err, ISOL8_E_INTERNAL, errno, "wait for %s", argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "%s failed (status %d)", argv[0],
				     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}

static const char *tool(const char *name)
{
	static char path[64];
	static const char *const dirs[] = {"/usr/sbin", "/sbin", "/usr/bin"};

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return path;
	}
	return NULL;
}

int broker_create_accounts(const struct broker_users *u, struct isol8_err *err)
{
	char gpath[64], upath[64];
	const char *t;

	if (!u->group_exists) {
		if (!(t = tool("groupadd")))
			goto no_tool;
		snprintf(gpath, sizeof gpath, "%s", t);
		char *const argv[] = {gpath, "--system", BROKER_CLIENT_GROUP, NULL};
		if (run_tool(argv, err) < 0)
			return isol8_err_wrap(err, "create group %s", BROKER_CLIENT_GROUP);
		log_info("created the system group %s (members may use isol8d)", BROKER_CLIENT_GROUP);
	}
	if (!u->found) {
		if (!(t = tool("useradd")))
			goto no_tool;
		snprintf(upath, sizeof upath, "%s", t);
		/* Its own group (--user-group), not the client group: a worker must not be able to
		 * connect to the socket as a client. */
		char *const argv[] = {upath,
				      "--system",
				      "--user-group",
				      "--no-create-home",
				      "--home-dir",
				      "/nonexistent",
				      "--shell",
				      "/usr/sbin/nologin",
				      "--comment",
				      "isol8 workers, proxy and HTTP server",
				      BROKER_UNPRIV_USER,
				      NULL};
		if (run_tool(argv, err) < 0)
			return isol8_err_wrap(err, "create user %s", BROKER_UNPRIV_USER);
		log_info("created the system account %s (workers, proxy, HTTP server)", BROKER_UNPRIV_USER);
	}
	return 0;
no_tool:
	return isol8_err_set(err, ISOL8_E_USAGE, 0,
			     "the group %s and the account %s are missing and neither groupadd nor useradd is "
			     "installed: run 'systemd-sysusers isol8.conf' or create them by hand",
			     BROKER_CLIENT_GROUP, BROKER_UNPRIV_USER);
}
