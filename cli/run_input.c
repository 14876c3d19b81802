/* Input resolution for `isol8 run` (contract in run_input.h). Order as in the original:
 * --cmd, then -e, then the file argument, then all of stdin. */
#include "config.h"
#include "cli/run_input.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

int read_fd_all(int fd, size_t max, const char *what, char **out, size_t *len, struct isol8_err *err)
{
	struct isol8_buf b = ISOL8_BUF_INIT;

	for (;;) {
		ssize_t n;

		isol8_buf_reserve(&b, 65536);
		n = read(fd, b.data + b.len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			isol8_buf_free(&b);
			return isol8_err_set(err, ISOL8_E_IO, errno, "cannot read %s", what);
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len > max) {
			isol8_buf_free(&b);
			return isol8_err_set(err, ISOL8_E_LIMIT, 0, "%s is larger than %zu bytes", what, max);
		}
	}
	*out = isol8_buf_steal(&b, len);
	return 0;
}

static int read_file(const char *path, size_t max, const char *what, char **out, size_t *len, struct isol8_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0 && errno == ENOENT)
		return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "File not found: %s", path);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "cannot open %s", path);
	if (fstat(fd, &st) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "cannot stat %s", path);
	if (S_ISDIR(st.st_mode))
		return isol8_err_set(err, ISOL8_E_IO, EISDIR, "cannot read %s", path);
	return read_fd_all(fd, max, what, out, len, err);
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* Only a pipe or a redirected file is "piped input": a terminal would wait for the user, and a
 * socket or /dev/null inherited from a service manager is not meant as the program's stdin. */
static bool stdin_is_piped(int fd)
{
	struct stat st;

	if (isatty(fd) || fstat(fd, &st) < 0)
		return false;
	return S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode);
}

static bool stdin_is_fifo(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int load_setup(const struct run_opts *o, struct run_input *in, struct isol8_err *err)
{
	struct isol8_buf b = ISOL8_BUF_INIT;

	for (size_t i = 0; i < o->setup.n; i++) {
		const char *v = o->setup.v[i];
		struct stat st;

		if (i)
			isol8_buf_putc(&b, '\n');
		/* Like the original: a value naming an existing file means that file's contents. */
		if (stat(v, &st) == 0 && S_ISREG(st.st_mode)) {
			_cleanup_free_ char *text = NULL;
			size_t n;
			if (read_file(v, RUN_MAX_SETUP_FILE, v, &text, &n, err) < 0) {
				isol8_buf_free(&b);
				return isol8_err_wrap(err, "--setup");
			}
			isol8_buf_append(&b, text, n);
		} else {
			isol8_buf_puts(&b, v);
		}
	}
	if (o->setup.n)
		in->setup_script = isol8_buf_steal(&b, NULL);
	return 0;
}

int run_input_load(const struct run_opts *o, int stdin_fd, struct run_input *in, struct isol8_err *err)
{
	bool code_from_stdin = false;

	memset(in, 0, sizeof *in);
	if (o->cmd) {
		if (blank(o->cmd, strlen(o->cmd)))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "No code to run");
	} else if (o->code_url) {
		/* fetched by isol8d's fetcher: stdin stays the program's */
	} else if (o->eval) {
		in->code = xstrdup(o->eval);
		in->code_len = strlen(o->eval);
	} else if (o->file) {
		if (read_file(o->file, RUN_MAX_CODE, o->file, &in->code, &in->code_len, err) < 0)
			goto fail;
	} else {
		if (read_fd_all(stdin_fd, RUN_MAX_CODE, "code from stdin", &in->code, &in->code_len, err) < 0)
			goto fail;
		code_from_stdin = true;
	}
	if (in->code && blank(in->code, in->code_len)) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "No code to run");
		goto fail;
	}

	if (o->stdin_data) {
		in->stdin_data = xstrdup(o->stdin_data);
		in->stdin_len = strlen(o->stdin_data);
	} else if (!code_from_stdin && stdin_is_fifo(stdin_fd) && !o->host) {
		in->stdin_live = true;
	} else if (!code_from_stdin && stdin_is_piped(stdin_fd)) {
		if (read_fd_all(stdin_fd, RUN_MAX_STDIN, "stdin", &in->stdin_data, &in->stdin_len, err) < 0)
			goto fail;
		if (in->stdin_len == 0) {
			free(in->stdin_data);
			in->stdin_data = NULL;
		}
	}

	if (load_setup(o, in, err) < 0)
		goto fail;

	if (o->files_dir) {
		struct stat st;
		if (stat(o->files_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "--files path is not a directory: %s", o->files_dir);
			goto fail;
		}
		in->has_files = true;
	}
	return 0;
fail:
	run_input_free(in);
	return -1;
}

void run_input_free(struct run_input *in)
{
	free(in->code);
	free(in->stdin_data);
	free(in->setup_script);
	memset(in, 0, sizeof *in);
}
