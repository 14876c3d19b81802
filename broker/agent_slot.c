/* Agent slots: the host side of the in-sandbox agent's connection (common/agent_proto.h).
 *
 * For a sandbox whose image carries an agent (label org.isol8.agent=1), the broker creates a
 * slot directory <socket dir>/slots/<random>/ owned by root (0755, so the sandbox cannot write
 * into it), binds a SOCK_SEQPACKET listening socket there, and bind-mounts the directory
 * read-only at /run/isol8-agent. After start it accepts exactly one connection — the agent,
 * which runs before any user code — and checks that the peer is the sandbox user inside THIS
 * container (SO_PEERCRED uid, and the peer's cgroup naming the container id) before handing the
 * connection to the worker. The listening socket is then closed and unlinked, so nothing in the
 * sandbox can connect again. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"

int agent_slot_create(const struct broker *b, char *dir_out, size_t dir_len, int *listen_fd, struct isol8_err *err)
{
	_cleanup_free_ char *copy = xstrdup(b->o.socket_path);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	unsigned char rnd[8];
	char base[200];
	_cleanup_close_ int fd = -1;
	mode_t old;
	int r;

	snprintf(base, sizeof base, "%s/slots", dirname(copy));
	/* Modes are set explicitly: the service runs with UMask=0077, and the sandbox's user
	 * (not root) must traverse both directories to reach the socket. */
	if ((mkdir(base, 0755) < 0 && errno != EEXIST) || chmod(base, 0755) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "create %s", base);
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		return isol8_err_set(err, ISOL8_E_IO, errno, "getrandom");
	snprintf(dir_out, dir_len, "%s/%02x%02x%02x%02x%02x%02x%02x%02x", base, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		 rnd[5], rnd[6], rnd[7]);
	if (mkdir(dir_out, 0755) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "create %s", dir_out);
	if (chmod(dir_out, 0755) < 0) {
		rmdir(dir_out);
		return isol8_err_set(err, ISOL8_E_IO, errno, "chmod %s", dir_out);
	}
	if (snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", dir_out) >= (int)sizeof sa.sun_path) {
		rmdir(dir_out);
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "agent socket path too long under %s", base);
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rmdir(dir_out);
		return isol8_err_set(err, ISOL8_E_IO, errno, "socket");
	}
	/* The sandbox user must be able to connect (write permission on the socket inode); the
	 * directory itself stays root-owned and mounted read-only. */
	old = umask(0);
	r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || chmod(sa.sun_path, 0666) < 0 || listen(fd, 1) < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "agent socket %s", sa.sun_path);
		unlink(sa.sun_path);
		rmdir(dir_out);
		return -1;
	}
	*listen_fd = steal_fd(&fd);
	return 0;
}

static bool peer_in_container(pid_t pid, const char *id)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, id) != NULL;
	fclose(f);
	return found;
}

int agent_slot_accept(int listen_fd, const char *container_id, uid_t uid, unsigned timeout_ms, int *conn_out,
		      struct isol8_err *err)
{
	uint64_t until = clock_mono_ms() + timeout_ms;

	/* Anyone who can reach the slot directory could connect first; such peers are refused and
	 * the broker keeps waiting for the agent until the deadline. */
	for (;;) {
		struct pollfd pf = {.fd = listen_fd, .events = POLLIN};
		struct ucred cred;
		socklen_t len = sizeof cred;
		_cleanup_close_ int c = -1;
		uint64_t now = clock_mono_ms();
		int r;

		if (now >= until)
			return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "the sandbox agent did not connect within %u ms",
					     timeout_ms);
		r = poll(&pf, 1, (int)(until - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			return isol8_err_set(err, ISOL8_E_IO, errno, "accept agent");
		}
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			continue;
		if (cred.uid != uid || !peer_in_container(cred.pid, container_id)) {
			log_warn("agent slot of %.12s: refused peer uid=%u pid=%d (not the sandbox)", container_id,
				 (unsigned)cred.uid, (int)cred.pid);
			continue;
		}
		*conn_out = steal_fd(&c);
		return 0;
	}
}

void agent_slot_remove(const char *dir)
{
	char path[256];
	if (!dir || !*dir)
		return;
	snprintf(path, sizeof path, "%s/sock", dir);
	unlink(path);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_debug("rmdir %s: %s", dir, strerror(errno));
}
