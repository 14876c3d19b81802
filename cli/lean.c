/* The lean `isol8` binary: what a run needs (json-c and libc) and nothing else, so that the
 * dynamic loader does not map and bind libcurl, libarchive, libmicrohttpd and OpenSSL with all
 * their dependencies on every `isol8 run` (about 10 ms of a 25 ms warm run). Commands that need
 * those libraries — setup, build, cleanup, serve, remote runs, --files — re-execute the full
 * binary, isol8-full, with the original arguments, before anything has been read. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "cli/cli.h"
#include "images/commands_images.h"
#include "cli/remote.h"
#include "cli/run_bundle.h"

char **cli_orig_argv;

int cli_exec_full(void)
{
	char exe[4096], *path;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n > 0) {
		exe[n] = '\0';
		path = xasprintf("%s/isol8-full", dirname(exe));
		if (access(path, X_OK) != 0) {
			free(path);
			path = xstrdup(ISOL8_LIBEXECDIR "/isol8-full");
		}
	} else {
		path = xstrdup(ISOL8_LIBEXECDIR "/isol8-full");
	}
	execv(path, cli_orig_argv);
	fprintf(stderr, "[ERR] cannot run %s: %s\n", path, strerror(errno));
	free(path);
	return 1;
}

int cmd_setup(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}
int cmd_build(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}
int cmd_cleanup(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}
int cmd_list_custom(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}
int cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}
int cmd_mcp(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}
int cmd_login(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}
int cmd_logout(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_exec_full();
}

int remote_run(const struct run_opts *o, struct run_input *in, int *exit_code, struct isol8_err *err)
{
	/* cmd_run re-executes before reading input when --host is given; never reached. */
	(void)o;
	(void)in;
	(void)exit_code;
	return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "remote runs need isol8-full");
}

/* A minimal ustar writer for the two in-memory entries a lean run may bundle (code, stdin);
 * the --files tree is handled by isol8-full with libarchive. */
static int put_entry(int fd, const char *name, const char *data, size_t len, struct isol8_err *err)
{
	unsigned char h[512];
	unsigned sum = 0;
	static const char zeros[512];
	size_t pad = (512 - len % 512) % 512;

	memset(h, 0, sizeof h);
	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0644);
	snprintf((char *)h + 108, 8, "%07o", 100);
	snprintf((char *)h + 116, 8, "%07o", 101);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)len);
	snprintf((char *)h + 136, 12, "%011o", 0);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (size_t i = 0; i < sizeof h; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	if (write(fd, h, sizeof h) != (ssize_t)sizeof h)
		return isol8_err_set(err, ISOL8_E_IO, errno, "bundle: write");
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "bundle: write");
		off += (size_t)w;
	}
	if (pad && write(fd, zeros, pad) != (ssize_t)pad)
		return isol8_err_set(err, ISOL8_E_IO, errno, "bundle: write");
	return 0;
}

int run_bundle_create(const struct run_opts *o, const struct run_input *in, uint64_t max_files, int *fd_out,
		      uint64_t *size_out, struct isol8_err *err)
{
	_cleanup_close_ int fd = memfd_create("isol8-bundle", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	static const char zeros[1024];
	off_t size;

	(void)o;
	(void)max_files;
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "memfd_create");
	if (in->has_files)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "--files needs isol8-full");
	if (in->code_in_bundle || in->stdin_in_bundle) {
		if ((in->code_in_bundle && put_entry(fd, "code", in->code, in->code_len, err) < 0) ||
		    (in->stdin_in_bundle && put_entry(fd, "stdin", in->stdin_data, in->stdin_len, err) < 0))
			return -1;
		if (write(fd, zeros, sizeof zeros) != (ssize_t)sizeof zeros)
			return isol8_err_set(err, ISOL8_E_IO, errno, "bundle: write");
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "bundle: lseek");
	/* Sealed, so what the worker validates is what it later reads. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "bundle: seal");
	*size_out = (uint64_t)size;
	*fd_out = steal_fd(&fd);
	return 0;
}

/* `isol8 session|file|cp ... --host` re-executes isol8-full; these are never reached in the lean one. */
json_object *remote_session_list(const char *host, const char *key, struct isol8_err *err)
{
	(void)host;
	(void)key;
	cli_exec_full();
	isol8_err_set(err, ISOL8_E_INTERNAL, 0, "remote sessions need isol8-full");
	return NULL;
}

int remote_file_put(const char *host, const char *key, const char *id, const char *path, int fd, struct isol8_err *err)
{
	(void)host;
	(void)key;
	(void)id;
	(void)path;
	(void)fd;
	cli_exec_full();
	return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "remote files need isol8-full");
}

int remote_file_get(const char *host, const char *key, const char *id, const char *path, int *fd_out,
		    struct isol8_err *err)
{
	(void)host;
	(void)key;
	(void)id;
	(void)path;
	*fd_out = -1;
	cli_exec_full();
	return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "remote files need isol8-full");
}

int remote_session_stop(const char *host, const char *key, const char *id, struct isol8_err *err)
{
	(void)host;
	(void)key;
	(void)id;
	cli_exec_full();
	return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "remote sessions need isol8-full");
}
