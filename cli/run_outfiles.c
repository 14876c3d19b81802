/* --output-dir: writing a run's output files (contract in run_outfiles.h).
 *
 * The names come from the result, i.e. from a worker: each is checked again to lie below
 * /sandbox without "", "." or ".." components, and every directory on the way and the file
 * itself are opened relative to the one before with O_NOFOLLOW, so neither a name nor a
 * symbolic link already in DIR can put a file outside DIR. */
#include "config.h"
#include "cli/run_outfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/parse.h"
#include "common/proto.h"
#include "cli/run_io.h"

/* Opens (creating) each directory of rel's parent below dirfd; returns the last one. */
static int open_parent(int dirfd, char *rel, char **base)
{
	int fd = dup(dirfd);
	char *p = rel, *slash;

	while (fd >= 0 && (slash = strchr(p, '/'))) {
		int next;
		*slash = '\0';
		if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
			close(fd);
			return -1;
		}
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		*slash = '/';
		p = slash + 1;
	}
	*base = p;
	return fd;
}

static int write_one(int dirfd, const char *key, const char *b64, size_t b64len, struct isol8_err *err)
{
	char rel[ISOL8_MAX_PATH + 1], *base = NULL;
	struct isol8_buf data = ISOL8_BUF_INIT;
	_cleanup_close_ int pfd = -1, fd = -1;
	int rc = -1;

	if (isol8_sandbox_relpath(key, "output file name from isol8d", rel, sizeof rel, err) < 0)
		return -1;
	if (isol8_base64_decode(b64, b64len, &data) < 0)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "output file %s: malformed base64 from isol8d", key);
	pfd = open_parent(dirfd, rel, &base);
	if (pfd < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "cannot create the directories of %s", rel);
		goto out;
	}
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "cannot write %s", rel);
		goto out;
	}
	if (write_all(fd, data.data ? data.data : "", data.len) < 0 || close(fd) < 0) {
		fd = -1;
		isol8_err_set(err, ISOL8_E_IO, errno, "cannot write %s", rel);
		goto out;
	}
	fd = -1;
	rc = 0;
out:
	isol8_buf_free(&data);
	return rc;
}

int run_outfiles_write(const char *dir, json_object *result, size_t *written, struct isol8_err *err)
{
	_cleanup_close_ int dirfd = -1;
	json_object *files;

	*written = 0;
	if (isol8_json_member(result, "files", &files) != 1)
		return 0;
	if (!json_object_is_type(files, json_type_object))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed output files from isol8d");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return isol8_err_set(err, ISOL8_E_IO, errno, "cannot create --output-dir %s", dir);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "cannot open --output-dir %s", dir);
	json_object_object_foreach(files, key, val)
	{
		if (!json_object_is_type(val, json_type_string))
			return isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed output files from isol8d");
		if (write_one(dirfd, key, json_object_get_string(val), (size_t)json_object_get_string_len(val), err) <
		    0)
			return isol8_err_wrap(err, "--output-dir %s", dir);
		(*written)++;
	}
	return 0;
}

void run_outfiles_warn(json_object *result)
{
	json_object *errors;

	if (isol8_json_member(result, "fileErrors", &errors) != 1 || !json_object_is_type(errors, json_type_object))
		return;
	json_object_object_foreach(errors, key, val)
	{
		if (!json_object_is_type(val, json_type_string))
			continue;
		/* Both came from a worker: no control bytes onto the user's terminal. */
		fputs("[WARN] output file ", stderr);
		for (const char *s = key; *s; s++)
			fputc((unsigned char)*s < 0x20 ? '?' : *s, stderr);
		fputs(": ", stderr);
		for (const char *s = json_object_get_string(val); *s; s++)
			fputc((unsigned char)*s < 0x20 ? '?' : *s, stderr);
		fputc('\n', stderr);
	}
}
