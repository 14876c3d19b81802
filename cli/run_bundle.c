/* FE_RUN bundle writer (contract in run_bundle.h). */
#include "config.h"
#include "cli/run_bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "common/tar.h"

#define BUNDLE_UID 100
#define BUNDLE_GID 101
#define BUNDLE_MAX_DEPTH 64

struct walk {
	struct archive *a;
	uint64_t total, max;
	struct isol8_err *err;
};

static int ar_fail(struct archive *a, struct isol8_err *err, const char *what)
{
	return isol8_err_set(err, ISOL8_E_IO, 0, "bundle: %s: %s", what, archive_error_string(a));
}

static int add_header(struct archive *a, const char *path, mode_t type, unsigned perm, uint64_t size,
		      struct isol8_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)size : 0);
	archive_entry_set_uid(e, BUNDLE_UID);
	archive_entry_set_gid(e, BUNDLE_GID);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return ar_fail(a, err, path);
	return 0;
}

static int add_mem(struct archive *a, const char *path, const char *data, size_t len, struct isol8_err *err)
{
	if (add_header(a, path, AE_IFREG, 0644, len, err) < 0)
		return -1;
	if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
		return ar_fail(a, err, path);
	return 0;
}

static bool skipped(const char *name)
{
	for (size_t i = 0; isol8_tar_default_skip[i]; i++)
		if (strcmp(name, isol8_tar_default_skip[i]) == 0)
			return true;
	return false;
}

static int add_file(struct walk *w, int dirfd, const char *name, const char *path, const struct stat *st)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	char buf[65536];
	uint64_t left = (uint64_t)st->st_size;

	if (fd < 0)
		return isol8_err_set(w->err, ISOL8_E_IO, errno, "--files: cannot open %s", path);
	w->total += left;
	if (w->total > w->max)
		return isol8_err_set(w->err, ISOL8_E_LIMIT, 0, "--files: the directory holds more than %llu bytes",
				     (unsigned long long)w->max);
	/* Setuid/setgid/sticky bits have no business in the sandbox. */
	if (add_header(w->a, path, AE_IFREG, st->st_mode & 0755, left, w->err) < 0)
		return -1;
	while (left > 0) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isol8_err_set(w->err, ISOL8_E_IO, errno, "--files: cannot read %s", path);
		if (n == 0)
			break; /* shrank while reading: libarchive pads the entry */
		if ((uint64_t)n > left)
			n = (ssize_t)left;
		if (archive_write_data(w->a, buf, (size_t)n) != n)
			return ar_fail(w->a, w->err, path);
		left -= (uint64_t)n;
	}
	return 0;
}

/* dirfd is consumed. prefix is the archive path of this directory ("files", "files/sub"). */
static int walk_dir(struct walk *w, int dirfd, const char *prefix, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > BUNDLE_MAX_DEPTH) {
		close(dirfd);
		return isol8_err_set(w->err, ISOL8_E_LIMIT, 0, "--files: directories nested deeper than %d",
				     BUNDLE_MAX_DEPTH);
	}
	d = fdopendir(dirfd);
	if (!d) {
		int e = errno;
		close(dirfd);
		return isol8_err_set(w->err, ISOL8_E_IO, e, "--files: cannot list %s", prefix);
	}
	while (r == 0 && (errno = 0, de = readdir(d))) {
		struct stat st;
		_cleanup_free_ char *path = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = isol8_err_set(w->err, ISOL8_E_IO, errno, "--files: cannot stat %s/%s", prefix, de->d_name);
			break;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue; /* symlinks could point outside the tree; devices make no sense */
		if (S_ISDIR(st.st_mode) && skipped(de->d_name))
			continue;
		path = xasprintf("%s/%s", prefix, de->d_name);
		if (strlen(path) > ISOL8_MAX_PATH) {
			r = isol8_err_set(w->err, ISOL8_E_LIMIT, 0, "--files: path too long: %s", path);
			break;
		}
		if (S_ISREG(st.st_mode)) {
			r = add_file(w, dirfd, de->d_name, path, &st);
		} else {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub < 0) {
				r = isol8_err_set(w->err, ISOL8_E_IO, errno, "--files: cannot open %s", path);
				break;
			}
			r = add_header(w->a, path, AE_IFDIR, 0755, 0, w->err);
			if (r == 0)
				r = walk_dir(w, sub, path, depth + 1);
			else
				close(sub);
		}
	}
	if (r == 0 && errno != 0)
		r = isol8_err_set(w->err, ISOL8_E_IO, errno, "--files: cannot list %s", prefix);
	closedir(d);
	return r;
}

static int write_entries(struct archive *a, const struct run_opts *o, const struct run_input *in, uint64_t max_files,
			 struct isol8_err *err)
{
	if (in->code_in_bundle && add_mem(a, "code", in->code, in->code_len, err) < 0)
		return -1;
	if (in->stdin_in_bundle && add_mem(a, "stdin", in->stdin_data, in->stdin_len, err) < 0)
		return -1;
	if (in->has_files) {
		struct walk w = {.a = a, .max = max_files, .err = err};
		int dfd = open(o->files_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "--files: cannot open %s", o->files_dir);
		if (add_header(a, "files", AE_IFDIR, 0755, 0, err) < 0) {
			close(dfd);
			return -1;
		}
		if (walk_dir(&w, dfd, "files", 0) < 0)
			return -1;
	}
	return 0;
}

int run_bundle_create(const struct run_opts *o, const struct run_input *in, uint64_t max_files, int *fd_out,
		      uint64_t *size_out, struct isol8_err *err)
{
	_cleanup_close_ int fd = memfd_create("isol8-bundle", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct archive *a;
	off_t size;

	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "memfd_create");
	if (in->code_in_bundle || in->stdin_in_bundle || in->has_files) {
		int r;

		a = archive_write_new();
		if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
		    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
		    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
			ar_fail(a, err, "open");
			archive_write_free(a);
			return -1;
		}
		r = write_entries(a, o, in, max_files, err);
		if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
			r = ar_fail(a, err, "close");
		archive_write_free(a);
		if (r < 0)
			return -1;
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
