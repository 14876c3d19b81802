/* What a passed fd really is (contract in common/ipc.h, enum isol8_fd_kind). Everything here
 * asks the kernel about the open file description, never a path: the fd may come from the
 * least trusted peer of the channel. */
#include "config.h"
#include "common/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

static const char *const kind_names[ISOL8_FD__MAX] = {
	[ISOL8_FD_UNSET] = "undeclared",        [ISOL8_FD_PIPE_R] = "pipe read end",
	[ISOL8_FD_PIPE_W] = "pipe write end",   [ISOL8_FD_OUTPUT] = "writable output",
	[ISOL8_FD_MEMFD] = "sealed memfd",      [ISOL8_FD_SEQPACKET] = "unix seqpacket socket",
	[ISOL8_FD_STREAM] = "stream socket",    [ISOL8_FD_LISTEN_TCP] = "listening TCP socket",
	[ISOL8_FD_SOCKET] = "connected socket",
};

const char *isol8_fd_kind_name(enum isol8_fd_kind kind)
{
	return (unsigned)kind < ISOL8_FD__MAX ? kind_names[kind] : "unknown";
}

static const char *type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISLNK(m))
		return "a symlink";
	return "an unknown file type";
}

static int sock_is(int fd, int domain_a, int domain_b, int type, int listening)
{
	int v = 0;
	socklen_t l = sizeof v;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) < 0 || (v != domain_a && v != domain_b))
		return 0;
	l = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) < 0 || v != type)
		return 0;
	l = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) < 0)
		return 0;
	return (v != 0) == (listening != 0);
}

/* A named FIFO is S_ISFIFO too, but it is a path on some host filesystem that a sandbox could
 * reopen through /proc/self/fd; only pipe(2)'s own filesystem is an anonymous pipe. */
static int anonymous_pipe(int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && sf.f_type == PIPEFS_MAGIC;
}

static int memfd_sealed(int fd)
{
	const int need = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	int seals = fcntl(fd, F_GET_SEALS); /* EINVAL for anything that is not a memfd */

	return seals >= 0 && (seals & need) == need;
}

int isol8_fd_check(int fd, enum isol8_fd_kind kind, struct isol8_err *err)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	int acc, ok = 0;

	if (fl < 0 || fstat(fd, &st) < 0)
		return isol8_err_set(err, ISOL8_E_PROTO, errno, "fd is not open");
	/* O_PATH: a handle on a path, not an open file; whatever it names, refuse it. */
	if (fl & O_PATH)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "expected a %s, got an O_PATH descriptor",
				     isol8_fd_kind_name(kind));
	acc = fl & O_ACCMODE;
	switch (kind) {
	case ISOL8_FD_PIPE_R:
		ok = S_ISFIFO(st.st_mode) && acc == O_RDONLY && anonymous_pipe(fd);
		break;
	case ISOL8_FD_PIPE_W:
		ok = S_ISFIFO(st.st_mode) && acc == O_WRONLY && anonymous_pipe(fd);
		break;
	case ISOL8_FD_OUTPUT:
		ok = (acc == O_WRONLY || acc == O_RDWR) &&
			(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode));
		break;
	case ISOL8_FD_MEMFD:
		ok = S_ISREG(st.st_mode) && acc != O_WRONLY && memfd_sealed(fd);
		break;
	case ISOL8_FD_SEQPACKET:
		ok = S_ISSOCK(st.st_mode) && sock_is(fd, AF_UNIX, AF_UNIX, SOCK_SEQPACKET, 0);
		break;
	case ISOL8_FD_STREAM:
		ok = S_ISSOCK(st.st_mode) &&
			(sock_is(fd, AF_UNIX, AF_UNIX, SOCK_STREAM, 0) ||
			 sock_is(fd, AF_INET, AF_INET6, SOCK_STREAM, 0));
		break;
	case ISOL8_FD_LISTEN_TCP:
		ok = S_ISSOCK(st.st_mode) && sock_is(fd, AF_INET, AF_INET6, SOCK_STREAM, 1);
		break;
	case ISOL8_FD_SOCKET:
		ok = S_ISSOCK(st.st_mode) &&
			(sock_is(fd, AF_UNIX, AF_UNIX, SOCK_STREAM, 0) ||
			 sock_is(fd, AF_UNIX, AF_UNIX, SOCK_SEQPACKET, 0) ||
			 sock_is(fd, AF_INET, AF_INET6, SOCK_STREAM, 0));
		break;
	case ISOL8_FD_UNSET:
	case ISOL8_FD__MAX:
	default:
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "no fd kind declared for this slot");
	}
	if (!ok)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "expected a %s, got %s (%s)", isol8_fd_kind_name(kind),
				     type_name(st.st_mode),
				     acc == O_RDONLY           ? "read-only"
					     : acc == O_WRONLY ? "write-only"
							       : "read-write");
	return 0;
}

int isol8_memfd_seal(int fd, struct isol8_err *err)
{
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "sealing memfd");
	return 0;
}
