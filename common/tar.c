/* libarchive helpers: in-memory tar building and single-file extraction. */
#include "config.h"
#include "common/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/* A build context deeper than this is either a mistake or a trap (a bind-mount loop). */
#define TAR_MAX_DEPTH 64
#define TAR_MAX_PATH 4096

const char *const isol8_tar_default_skip[] = {".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", NULL};

static la_ssize_t buf_write(struct archive *a, void *ctx, const void *data, size_t n)
{
	isol8_buf_append(ctx, data, n);
	return (la_ssize_t)n;
}

static struct archive *writer_new(struct isol8_buf *out, bool binary_names)
{
	struct archive *a = archive_write_new();

	if (!a)
		return NULL;
	isol8_buf_reset(out);
	/* No 10 KiB block padding: Docker reads the stream, not tape blocks. */
	/* hdrcharset=BINARY: store names as the bytes we were given (UTF-8 from JSON requests or
	 * the file system) instead of converting through the process locale, which fails for any
	 * non-ASCII name under "C" (and libarchive 3.6.2 then crashes on directories). Docker's Go
	 * tar reader takes names as raw bytes anyway. It costs a pax header per entry, so only
	 * when a name needs it. */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    (binary_names && archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK) ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, out, NULL, buf_write, NULL, NULL) != ARCHIVE_OK) {
		archive_write_free(a);
		return NULL;
	}
	return a;
}

static int arch_err(struct archive *a, const char *what, struct isol8_err *err)
{
	return isol8_err_set(err, ISOL8_E_IO, 0, "%s: %s", what,
			     archive_error_string(a) ? archive_error_string(a) : "tar error");
}

/* Relative, no empty/"."/".." components, no trailing '/'. */
static bool path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > TAR_MAX_PATH || p[0] == '/')
		return false;
	for (const char *c = p; *c;) {
		const char *slash = strchr(c, '/');
		size_t len = slash ? (size_t)(slash - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!slash)
			break;
		c = slash + 1;
		if (!*c)
			return false;
	}
	return true;
}

static int write_header(struct archive *a, const char *path, mode_t type, unsigned perm, unsigned uid, unsigned gid,
			size_t size, time_t mtime, struct isol8_err *err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	/* Names are copied as raw bytes (see writer_new). */
	archive_entry_copy_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm & 0777); /* never setuid/setgid/sticky */
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)size : 0);
	archive_entry_set_mtime(e, mtime, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return arch_err(a, path, err);
	return 0;
}

static int write_data(struct archive *a, const char *path, const void *data, size_t len, struct isol8_err *err)
{
	const char *p = data;

	while (len) {
		la_ssize_t w = archive_write_data(a, p, len);
		if (w <= 0)
			return arch_err(a, path, err);
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Directory already emitted? Linear scan: entry lists are small (a handful of user files). */
static bool seen(char **dirs, size_t n, const char *d)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(dirs[i], d) == 0)
			return true;
	return false;
}

int isol8_tar_build(const struct isol8_tar_entry *entries, size_t n, struct isol8_buf *out, struct isol8_err *err)
{
	struct archive *a;
	char **dirs = NULL;
	size_t ndirs = 0;
	time_t now = time(NULL);
	bool binary = false;
	int ret = -1;

	for (size_t i = 0; i < n; i++)
		if (!entries[i].path || !path_ok(entries[i].path))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid file name in archive: \"%s\"",
					     entries[i].path ? entries[i].path : "");
	for (size_t i = 0; i < n; i++)
		for (const char *c = entries[i].path; *c; c++)
			binary |= (unsigned char)*c >= 0x80;
	a = writer_new(out, binary);
	if (!a)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "cannot create tar writer");
	for (size_t i = 0; i < n; i++) {
		const struct isol8_tar_entry *en = &entries[i];

		for (const char *s = strchr(en->path, '/'); s; s = strchr(s + 1, '/')) {
			char *d = xstrndup(en->path, (size_t)(s - en->path));
			if (seen(dirs, ndirs, d)) {
				free(d);
				continue;
			}
			dirs = xrealloc(dirs, (ndirs + 1) * sizeof *dirs);
			dirs[ndirs++] = d;
			if (write_header(a, d, AE_IFDIR, 0755, en->uid, en->gid, 0, now, err) < 0)
				goto out;
		}
		if (write_header(a, en->path, AE_IFREG, en->mode, en->uid, en->gid, en->len, now, err) < 0 ||
		    write_data(a, en->path, en->data, en->len, err) < 0)
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		arch_err(a, "finish tar", err);
		goto out;
	}
	ret = 0;
out:
	archive_write_free(a);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	return ret;
}

struct walk {
	struct archive *a;
	const char *const *skip;
	size_t total, max;
	struct isol8_err *err;
};

static bool skipped(const struct walk *w, const char *name)
{
	for (const char *const *s = w->skip; *s; s++)
		if (strcmp(*s, name) == 0)
			return true;
	return false;
}

static int add_file(struct walk *w, int dirfd, const char *name, const char *rel, const struct stat *st)
{
	_cleanup_close_ int fd = -1;
	size_t left = (size_t)st->st_size;
	char chunk[65536];

	if ((size_t)st->st_size > w->max - w->total)
		return isol8_err_set(w->err, ISOL8_E_LIMIT, 0, "directory larger than %zu bytes (at %s)", w->max, rel);
	w->total += (size_t)st->st_size;
	/* O_NOFOLLOW: the name was a regular file at fstatat time; refuse if swapped for a link. */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return isol8_err_set(w->err, ISOL8_E_IO, errno, "open %s", rel);
	if (write_header(w->a, rel, AE_IFREG, st->st_mode & 0777, 0, 0, left, st->st_mtime, w->err) < 0)
		return -1;
	while (left) {
		ssize_t r = read(fd, chunk, left < sizeof chunk ? left : sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return isol8_err_set(w->err, ISOL8_E_IO, errno, "read %s", rel);
		if (r == 0)
			return isol8_err_set(w->err, ISOL8_E_IO, 0, "%s shrank while being archived", rel);
		if (write_data(w->a, rel, chunk, (size_t)r, w->err) < 0)
			return -1;
		left -= (size_t)r;
	}
	return 0;
}

static int walk_dir(struct walk *w, int dirfd, const char *prefix, int depth)
{
	DIR *dir;
	struct dirent *de;
	int ret = 0;

	if (depth > TAR_MAX_DEPTH)
		return isol8_err_set(w->err, ISOL8_E_LIMIT, 0, "directory nesting deeper than %d at %s", TAR_MAX_DEPTH,
				     prefix);
	dir = fdopendir(dirfd);
	if (!dir) {
		close(dirfd);
		return isol8_err_set(w->err, ISOL8_E_IO, errno, "read directory %s", *prefix ? prefix : ".");
	}
	while (ret == 0) {
		struct stat st;
		_cleanup_free_ char *rel = NULL;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno)
				ret = isol8_err_set(w->err, ISOL8_E_IO, errno, "read directory %s",
						    *prefix ? prefix : ".");
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = isol8_err_set(w->err, ISOL8_E_IO, errno, "stat %s%s", prefix, de->d_name);
			break;
		}
		rel = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		if (strlen(rel) > TAR_MAX_PATH) {
			ret = isol8_err_set(w->err, ISOL8_E_LIMIT, 0, "path too long in %s", prefix);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;
			if (skipped(w, de->d_name))
				continue;
			ret = write_header(w->a, rel, AE_IFDIR, st.st_mode & 0777, 0, 0, 0, st.st_mtime, w->err);
			if (ret < 0)
				break;
			sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub < 0) {
				ret = isol8_err_set(w->err, ISOL8_E_IO, errno, "open %s", rel);
				break;
			}
			ret = walk_dir(w, sub, rel, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			ret = add_file(w, dirfd, de->d_name, rel, &st);
		}
	}
	closedir(dir);
	return ret;
}

int isol8_tar_from_dir(const char *dirpath, const char *const *skip, size_t max_total, struct isol8_buf *out,
		       struct isol8_err *err)
{
	struct walk w = {.skip = skip ? skip : isol8_tar_default_skip, .max = max_total, .err = err};
	int fd, r;

	fd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return isol8_err_set(err, errno == ENOENT ? ISOL8_E_NOTFOUND : ISOL8_E_IO, errno, "open %s", dirpath);
	/* File names are unknown until the walk: always raw bytes. */
	w.a = writer_new(out, true);
	if (!w.a) {
		close(fd);
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "cannot create tar writer");
	}
	r = walk_dir(&w, fd, "", 0);
	if (r == 0 && archive_write_close(w.a) != ARCHIVE_OK)
		r = arch_err(w.a, "finish tar", err);
	archive_write_free(w.a);
	if (r < 0) {
		isol8_buf_reset(out);
		return isol8_err_wrap(err, "archive %s", dirpath);
	}
	return 0;
}

/* "./a/b" and "/a/b" both name "a/b". */
static const char *strip_lead(const char *p)
{
	for (;;) {
		if (p[0] == '/')
			p++;
		else if (p[0] == '.' && p[1] == '/')
			p += 2;
		else
			return p;
	}
}

int isol8_tar_extract_file(const void *tar, size_t len, const char *path, size_t max, struct isol8_buf *out,
			   struct isol8_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	const char *want = strip_lead(path);
	int ret = -1, r;

	if (!a)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "cannot create tar reader");
	isol8_buf_reset(out);
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, tar, len) != ARCHIVE_OK) {
		arch_err(a, "read tar", err);
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname_utf8(e);
		if (!name)
			name = archive_entry_pathname(e);
		if (!name || strcmp(strip_lead(name), want) != 0)
			continue;
		if (archive_entry_filetype(e) != AE_IFREG) {
			isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "%s is not a regular file", path);
			goto out;
		}
		if (archive_entry_size_is_set(e) && archive_entry_size(e) > (la_int64_t)max) {
			isol8_err_set(err, ISOL8_E_LIMIT, 0, "%s is larger than %zu bytes", path, max);
			goto out;
		}
		/* The header's size is not trusted: the copy is capped as it goes. */
		for (;;) {
			char chunk[65536];
			la_ssize_t n = archive_read_data(a, chunk, sizeof chunk);
			if (n < 0) {
				arch_err(a, path, err);
				goto out;
			}
			if (n == 0)
				break;
			if ((size_t)n > max - out->len) {
				isol8_err_set(err, ISOL8_E_LIMIT, 0, "%s is larger than %zu bytes", path, max);
				goto out;
			}
			isol8_buf_append(out, chunk, (size_t)n);
		}
		ret = 0;
		goto out;
	}
	if (r == ARCHIVE_EOF)
		isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "%s not found in archive", path);
	else
		arch_err(a, "read tar", err);
out:
	if (ret < 0)
		isol8_buf_reset(out);
	archive_read_free(a);
	return ret;
}
