/* FE_RUN bundle decoding (contract and the reasons for each limit in bundle.h). */
#include "config.h"
#include "worker/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "common/tar.h"

#define BUNDLE_UID 100
#define BUNDLE_GID 101

void bundle_limits_for(struct bundle_limits *l, uint64_t sandbox_size)
{
	size_t files = sandbox_size < BUNDLE_RAW_MAX ? (size_t)sandbox_size : BUNDLE_RAW_MAX;

	*l = (struct bundle_limits){
		.code_max = BUNDLE_CODE_MAX,
		.stdin_max = BUNDLE_STDIN_MAX,
		.file_max = files,
		.files_total = files,
		.total = BUNDLE_RAW_MAX,
		.max_files = BUNDLE_MAX_FILES,
		.max_entries = BUNDLE_MAX_ENTRIES,
		.name_max = BUNDLE_NAME_MAX,
	};
}

/* Relative, no empty, "." or ".." component. */
static bool safe_rel_path(const char *p)
{
	const char *s = p;
	if (!*p || *p == '/')
		return false;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return true;
}

static int bad_tar(struct archive *a, struct isol8_err *err)
{
	const char *s = archive_error_string(a);
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad request bundle: %s", s ? s : "malformed tar");
}

static const char *type_name(mode_t t)
{
	switch (t) {
	case AE_IFLNK:
		return "a symbolic link";
	case AE_IFCHR:
		return "a character device";
	case AE_IFBLK:
		return "a block device";
	case AE_IFIFO:
		return "a FIFO";
	case AE_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

struct decoder {
	struct archive *a;
	const struct bundle_limits *l;
	size_t total, files_total;
	struct isol8_err *err;
};

/* Copy the entry's data into dst, at most max bytes for it. The data blocks must follow each
 * other without holes: a hole is sparse data, whatever the header said. */
static int copy_data(struct decoder *d, const char *path, struct isol8_buf *dst, size_t max, size_t *counter,
		     size_t counter_max, const char *counter_what)
{
	for (;;) {
		const void *blk;
		size_t n;
		la_int64_t off;
		int r = archive_read_data_block(d->a, &blk, &n, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return bad_tar(d->a, d->err);
		if (off < 0 || (uint64_t)off != dst->len)
			return isol8_err_set(d->err, ISOL8_E_USAGE, 0, "bundle entry %.200s: sparse data refused",
					     path);
		if (n > max - dst->len)
			return isol8_err_set(d->err, ISOL8_E_LIMIT, 0, "bundle entry %.200s: larger than %zu bytes",
					     path, max);
		if (n > counter_max - *counter)
			return isol8_err_set(d->err, ISOL8_E_LIMIT, 0, "request bundle: %s larger than %zu bytes",
					     counter_what, counter_max);
		if (n > d->l->total - d->total)
			return isol8_err_set(d->err, ISOL8_E_LIMIT, 0, "request bundle decodes to more than %zu bytes",
					     d->l->total);
		*counter += n;
		d->total += n;
		isol8_buf_append(dst, blk, n);
	}
}

int bundle_decode(struct isol8_buf *raw, const struct bundle_limits *l, struct bundle *out, struct isol8_err *err)
{
	struct decoder d = {.l = l, .err = err};
	struct isol8_tar_entry *ents = NULL;
	struct isol8_buf *datas = NULL;
	size_t n_ents = 0, n_headers = 0, unused = 0;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (raw->len == 0) {
		isol8_buf_free(raw);
		return 0;
	}
	d.a = archive_read_new();
	if (!d.a) {
		isol8_buf_free(raw);
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "cannot create tar reader");
	}
	/* Plain tar only: no decompression filter is enabled, so nothing expands beyond the bytes
	 * the client sent except sparse holes, refused below. */
	archive_read_support_format_tar(d.a);
	if (archive_read_open_memory(d.a, raw->data, raw->len) != ARCHIVE_OK) {
		bad_tar(d.a, err);
		goto out;
	}
	/* Grown as files arrive, never sized by a count the client declares. */
	for (;;) {
		struct archive_entry *ae;
		const char *path;
		struct isol8_buf *dst;
		size_t max, *counter = &unused, counter_max = SIZE_MAX;
		const char *counter_what = "";
		int ar = archive_read_next_header(d.a, &ae);
		mode_t type;

		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK) {
			bad_tar(d.a, err);
			goto out;
		}
		if (++n_headers > l->max_entries) {
			isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle: more than %zu entries", l->max_entries);
			goto out;
		}
		path = archive_entry_pathname(ae);
		if (!path || !*path) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "request bundle: entry without a name");
			goto out;
		}
		if (strlen(path) > l->name_max) {
			isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle: entry name longer than %zu bytes",
				      l->name_max);
			goto out;
		}
		type = archive_entry_filetype(ae);
		if (type == AE_IFDIR)
			continue; /* directories come from the file names when re-packed */
		/* A hard link is reported as a regular file (with no data of its own). */
		if (archive_entry_hardlink(ae)) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %.200s is a hard link (regular files only)",
				      path);
			goto out;
		}
		if (type != AE_IFREG) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %.200s is %s (regular files only)", path,
				      type_name(type));
			goto out;
		}
		if (archive_entry_sparse_count(ae) > 0) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %.200s is a sparse file (refused)", path);
			goto out;
		}
		if (strcmp(path, "code") == 0 || strcmp(path, "stdin") == 0) {
			bool is_code = path[0] == 'c';
			bool *seen = is_code ? &out->has_code : &out->has_stdin;
			if (*seen) {
				isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %s given twice", path);
				goto out;
			}
			*seen = true;
			dst = is_code ? &out->code : &out->stdin_data;
			max = is_code ? l->code_max : l->stdin_max;
		} else if (strncmp(path, "files/", 6) == 0 && safe_rel_path(path + 6)) {
			if (n_ents == l->max_files) {
				isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle: more than %zu files",
					      l->max_files);
				goto out;
			}
			if (n_ents % 64 == 0) {
				ents = xrealloc(ents, (n_ents + 64) * sizeof *ents);
				datas = xrealloc(datas, (n_ents + 64) * sizeof *datas);
			}
			datas[n_ents] = (struct isol8_buf)ISOL8_BUF_INIT;
			ents[n_ents] = (struct isol8_tar_entry){
				.path = xstrdup(path + 6),
				.mode = (archive_entry_perm(ae) & 0111) ? 0755 : 0644,
				.uid = BUNDLE_UID,
				.gid = BUNDLE_GID,
			};
			dst = &datas[n_ents++];
			max = l->file_max;
			counter = &d.files_total;
			counter_max = l->files_total;
			counter_what = "files";
		} else {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "unexpected bundle entry %.200s", path);
			goto out;
		}
		/* The declared size only allows an early, clear refusal; the copy is capped anyway. */
		if (archive_entry_size_is_set(ae) &&
		    (archive_entry_size(ae) < 0 || (uint64_t)archive_entry_size(ae) > max)) {
			isol8_err_set(err, ISOL8_E_LIMIT, 0, "bundle entry %.200s: declares %lld bytes, more than %zu",
				      path, (long long)archive_entry_size(ae), max);
			goto out;
		}
		if (copy_data(&d, path, dst, max, counter, counter_max, counter_what) < 0)
			goto out;
	}
	archive_read_free(d.a);
	d.a = NULL;
	isol8_buf_free(raw);
	for (size_t i = 0; i < n_ents; i++) {
		ents[i].data = datas[i].data ? datas[i].data : "";
		ents[i].len = datas[i].len;
	}
	if (n_ents && isol8_tar_build(ents, n_ents, &out->files_tar, err) < 0)
		goto out;
	out->n_files = n_ents;
	rc = 0;
out:
	if (d.a)
		archive_read_free(d.a);
	isol8_buf_free(raw);
	for (size_t i = 0; i < n_ents; i++) {
		free((char *)ents[i].path);
		isol8_buf_free(&datas[i]);
	}
	free(ents);
	free(datas);
	if (rc < 0)
		bundle_free(out);
	return rc;
}

static uint64_t budget_used;

bool bundle_budget_take(uint64_t n)
{
	uint64_t cur = __atomic_load_n(&budget_used, __ATOMIC_RELAXED);

	do {
		if (n > BUNDLE_BUDGET - cur)
			return false;
	} while (!__atomic_compare_exchange_n(&budget_used, &cur, cur + n, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
	return true;
}

void bundle_budget_give(uint64_t n)
{
	__atomic_sub_fetch(&budget_used, n, __ATOMIC_SEQ_CST);
}

void bundle_free(struct bundle *b)
{
	isol8_buf_free(&b->code);
	isol8_buf_free(&b->stdin_data);
	isol8_buf_free(&b->files_tar);
	memset(b, 0, sizeof *b);
}
