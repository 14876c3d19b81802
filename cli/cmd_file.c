/* `isol8 file put NAME LOCAL REMOTE`, `isol8 file get NAME REMOTE [LOCAL]` and
 * `isol8 cp LOCAL NAME:REMOTE` / `isol8 cp NAME:REMOTE LOCAL`: files in a session's /sandbox,
 * through isol8d, or with --host URL through an `isol8 serve` (cli/remote.h: libisol8's remote
 * engine). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "cli/broker_conn.h"
#include "cli/cli.h"
#include "cli/run_args.h"
#include "cli/remote.h"
#include "cli/run_io.h"

struct file_args {
	const char *socket;
	const char *host, *key; /* http: remote isol8 serve */
	const char *pos[4];
	int npos;
};

static int parse(int argc, char **argv, struct file_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "--socket") == 0 && i + 1 < argc)
			a->socket = argv[++i];
		else if (strncmp(s, "--socket=", 9) == 0)
			a->socket = s + 9;
		else if (strcmp(s, "--host") == 0 && i + 1 < argc)
			a->host = argv[++i];
		else if (strncmp(s, "--host=", 7) == 0)
			a->host = s + 7;
		else if (strcmp(s, "--key") == 0 && i + 1 < argc)
			a->key = argv[++i];
		else if (strncmp(s, "--key=", 6) == 0)
			a->key = s + 6;
		else if (s[0] == '-' && s[1])
			return cli_unknown("option", s, (const char *const[]){"--socket", "--host", "--key", NULL},
					   NULL, NULL);
		else if (a->npos < 4)
			a->pos[a->npos++] = s;
		else
			return cli_usage_error("too many arguments: '%s'", s);
	}
	return 0;
}

static int check_target(const char *name, const char *remote, char **path, struct isol8_err *err)
{
	if (!isol8_valid_session_name(name))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "Invalid session id '%s'", name);
	return run_resolve_sandbox_path(remote, "Path", path, err);
}

static int send_file_req(int sock, uint8_t type, const char *name, const char *path, int fd, struct isol8_err *err)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	int r;

	isol8_put_str(&b, name);
	isol8_put_str(&b, path);
	r = broker_send_buf(sock, type, &b, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, err);
	isol8_buf_free(&b);
	return r;
}

/* The worker takes content only as a sealed memfd (its size and bytes cannot change while it
 * reads, and reading cannot block), so the local file is copied into one. */
static int sealed_copy(int from, int *out, struct isol8_err *err)
{
	_cleanup_close_ int mfd = memfd_create("isol8-put", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	char buf[65536];

	if (mfd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "memfd_create");
	for (;;) {
		ssize_t n = read(from, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "reading the local file");
		if (n == 0)
			break;
		if (write_all(mfd, buf, (size_t)n) < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "copying the local file");
	}
	if (lseek(mfd, 0, SEEK_SET) < 0 || isol8_memfd_seal(mfd, err) < 0)
		return isol8_err_wrap(err, "preparing the upload");
	*out = steal_fd(&mfd);
	return 0;
}

static int file_put(const struct file_args *a, const char *name, const char *local, const char *remote)
{
	const char *socket = a->socket;
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1, sock = -1, content = -1;
	struct isol8_msg m;
	struct stat st;

	if (check_target(name, remote, &path, &err) < 0)
		return cli_fail(&err);
	fd = open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		isol8_err_set(&err, ISOL8_E_NOTFOUND, 0, "File not found: %s", local);
		return cli_fail(&err);
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		isol8_err_set(&err, ISOL8_E_IO, errno, "cannot open %s", local);
		return cli_fail(&err);
	}
	if (!S_ISREG(st.st_mode))
		return cli_usage_error("not a regular file: %s", local);
	if (sealed_copy(fd, &content, &err) < 0)
		return cli_fail(&err);
	if (a->host) {
		if (remote_file_put(a->host, a->key, name, path, content, &err) < 0)
			return cli_fail(&err);
		fprintf(stderr, "[OK] Copied %s to %s:%s\n", local, name, path);
		return 0;
	}
	sock = broker_open(broker_socket_path(socket), HELLO_FILE, name, &err);
	if (sock < 0 || send_file_req(sock, FE_FILE_PUT, name, path, content, &err) < 0 ||
	    broker_expect(sock, WK_OK, &m, &err) < 0)
		return cli_fail(&err);
	isol8_msg_free(&m);
	fprintf(stderr, "[OK] Copied %s to %s:%s\n", local, name, path);
	return 0;
}

static int copy_fd(int from, int to, struct isol8_err *err)
{
	char buf[65536];

	lseek(from, 0, SEEK_SET); /* a memfd the worker just wrote is positioned at its end */
	for (;;) {
		ssize_t n = read(from, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "reading file from isol8d");
		if (n == 0)
			return 0;
		if (write_all(to, buf, (size_t)n) < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "writing file");
	}
}

static int file_get(const struct file_args *a, const char *name, const char *remote, const char *local)
{
	const char *socket = a->socket;
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int sock = -1, in = -1, out = -1;
	struct isol8_msg m;

	if (check_target(name, remote, &path, &err) < 0)
		return cli_fail(&err);
	if (a->host) {
		if (remote_file_get(a->host, a->key, name, path, &in, &err) < 0)
			return cli_fail(&err);
	} else {
		sock = broker_open(broker_socket_path(socket), HELLO_FILE, name, &err);
		if (sock < 0 || send_file_req(sock, FE_FILE_GET, name, path, -1, &err) < 0 ||
		    broker_expect(sock, WK_FILE, &m, &err) < 0)
			return cli_fail(&err);
		in = isol8_msg_take_fd(&m, 0);
		isol8_msg_free(&m);
	}
	if (in < 0) {
		isol8_err_set(&err, ISOL8_E_PROTO, 0, "isol8d sent no file");
		return cli_fail(&err);
	}
	if (local && strcmp(local, "-") != 0) {
		struct stat st;
		_cleanup_free_ char *into = NULL;
		/* "isol8 cp s1:/sandbox/out.txt ." copies into the directory, as cp(1) does. */
		if (stat(local, &st) == 0 && S_ISDIR(st.st_mode)) {
			const char *base = strrchr(path, '/');
			into = xasprintf("%s/%s", local, base ? base + 1 : path);
			local = into;
		}
		out = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (out < 0) {
			isol8_err_set(&err, ISOL8_E_IO, errno, "cannot create %s", local);
			return cli_fail(&err);
		}
	}
	if (copy_fd(in, out >= 0 ? out : STDOUT_FILENO, &err) < 0)
		return cli_fail(&err);
	if (out >= 0 && close(steal_fd(&out)) < 0) {
		isol8_err_set(&err, ISOL8_E_IO, errno, "writing %s", local);
		return cli_fail(&err);
	}
	return 0;
}

int cmd_file(int argc, char **argv)
{
	struct file_args a = {0};
	const char *sub = argc > 1 ? argv[1] : NULL;
	int r;

	if (cli_wants_help(argc, argv)) {
		usage_command("file", stdout);
		return 0;
	}
	if (!sub)
		return cli_usage_error("file needs a command: put or get");
	if ((r = parse(argc - 1, argv + 1, &a)) != 0)
		return r;
	if (strcmp(sub, "put") == 0) {
		if (a.npos != 3)
			return cli_usage_error("usage: isol8 file put NAME LOCAL REMOTE");
		return file_put(&a, a.pos[0], a.pos[1], a.pos[2]);
	}
	if (strcmp(sub, "get") == 0) {
		if (a.npos != 2 && a.npos != 3)
			return cli_usage_error("usage: isol8 file get NAME REMOTE [LOCAL]");
		return file_get(&a, a.pos[0], a.pos[1], a.npos == 3 ? a.pos[2] : NULL);
	}
	static const char *const subs[] = {"put", "get", NULL};
	return cli_unknown("file command", sub, subs, "file", " (expected put or get)");
}

/* "NAME:REMOTE" when the part before the first ':' is a valid session name; local paths that
 * contain ':' can be written as ./name:x. */
static bool split_remote(const char *arg, char **name, const char **remote)
{
	const char *colon = strchr(arg, ':');
	_cleanup_free_ char *n = NULL;

	if (!colon)
		return false;
	n = xstrndup(arg, (size_t)(colon - arg));
	if (!isol8_valid_session_name(n))
		return false;
	*name = steal_ptr(&n);
	*remote = colon + 1;
	return true;
}

int cmd_cp(int argc, char **argv)
{
	struct file_args a = {0};
	_cleanup_free_ char *name = NULL;
	const char *remote;
	int r;

	if (cli_wants_help(argc, argv)) {
		usage_command("cp", stdout);
		return 0;
	}
	if ((r = parse(argc, argv, &a)) != 0)
		return r;
	if (a.npos != 2)
		return cli_usage_error("usage: isol8 cp LOCAL NAME:REMOTE | isol8 cp NAME:REMOTE LOCAL");
	if (split_remote(a.pos[0], &name, &remote)) {
		char *other;
		const char *o2;
		if (split_remote(a.pos[1], &other, &o2)) {
			free(other);
			return cli_usage_error("cp copies between the local machine and one session, not two sessions");
		}
		return file_get(&a, name, remote, a.pos[1]);
	}
	if (split_remote(a.pos[1], &name, &remote))
		return file_put(&a, name, a.pos[0], remote);
	return cli_usage_error("cp needs one side as NAME:REMOTE (a session and a path in its /sandbox)");
}
