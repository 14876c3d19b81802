/* The broker's listening socket, private from the start: the directory is created 0750 (0755
 * for a world-accessible socket) and the socket bound under a 0177 umask, so there is no window in which another user can connect. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

static int ensure_dir(const char *path, gid_t gid, mode_t mode, struct isol8_err *err)
{
	struct stat st;
	_cleanup_free_ char *copy = xstrdup(path);
	char *dir = dirname(copy);

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return isol8_err_set(err, ISOL8_E_IO, 0, "%s is not a directory", dir);
		return 0;
	}
	if (errno != ENOENT)
		return isol8_err_set(err, ISOL8_E_IO, errno, "stat %s", dir);
	/* chmod: the umask (UMask=0077 in the unit) must not take the group's search bit. */
	if ((mkdir(dir, mode) < 0 && errno != EEXIST) || chmod(dir, mode) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "create %s", dir);
	if (gid != (gid_t)-1 && chown(dir, 0, gid) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "chown %s", dir);
	return 0;
}

static int group_id(const char *group, gid_t *gid, struct isol8_err *err)
{
	struct group *gr;

	*gid = (gid_t)-1;
	if (!group)
		return 0;
	gr = getgrnam(group);
	if (!gr)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown group '%s' for --socket-group", group);
	*gid = gr->gr_gid;
	return 0;
}

int broker_claim_socket(const char *path, const char *group, mode_t mode, int *lock_out, struct isol8_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_free_ char *lock = NULL;
	_cleanup_close_ int lfd = -1, probe = -1;
	gid_t gid;

	if (strlen(path) >= sizeof sa.sun_path)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "socket path too long: %s", path);
	if (group_id(group, &gid, err) < 0 || ensure_dir(path, gid, (mode & 0006) ? 0755 : 0750, err) < 0)
		return -1;
	lock = xasprintf("%s.lock", path);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "open %s", lock);
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "another isol8d is already running on %s (it holds %s); stop it first or "
					     "choose another --socket",
					     path, lock);
		return isol8_err_set(err, ISOL8_E_IO, errno, "lock %s", lock);
	}
	/* A daemon that does not lock (an older one) may still answer: anything but "nobody
	 * there" means the socket is in use, a full backlog (EAGAIN) included. */
	strcpy(sa.sun_path, path);
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "socket");
	if (connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0 || (errno != ECONNREFUSED && errno != ENOENT))
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"another isol8d is already listening on %s; stop it first or choose another --socket", path);
	*lock_out = steal_fd(&lfd);
	return 0;
}

int broker_listen(const char *path, const char *group, mode_t mode, int *fd_out, struct isol8_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	gid_t gid;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof sa.sun_path)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "socket path too long: %s", path);
	if (group_id(group, &gid, err) < 0)
		return -1;
	strcpy(sa.sun_path, path);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "socket");
	/* broker_claim_socket holds the lock and found nobody answering: what is left is stale. */
	unlink(path);

	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "bind %s", path);
	if (gid != (gid_t)-1 && chown(path, 0, gid) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "chown %s", path);
	if (chmod(path, mode) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "chmod %s", path);
	if (listen(fd, 128) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "listen %s", path);
	*fd_out = steal_fd(&fd);
	return 0;
}
