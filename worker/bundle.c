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

/* The files/ entries so far: grown as files arrive, never sized by a count the client declares. */
struct bundle_files {
	struct isol8_tar_entry *ents;
	struct isol8_buf *datas;
	size_t n;
};

static void bundle_files_free(struct bundle_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free((char *)f->ents[i].path);
		isol8_buf_free(&f->datas[i]);
	}
	free(f->ents);
	free(f->datas);
}

/* Where one entry's data goes, with its own cap and the running total it counts against. */
struct entry_sink {
	struct isol8_buf *dst;
	size_t max, *counter, counter_max;
	const char *counter_what;
};

/* The header checks before anything is kept: the entry count, a name, and only regular files
 * (directories are skipped: 1). */
static int check_entry(struct archive_entry *ae, size_t n_headers, const struct bundle_limits *l, const char **path,
		       struct isol8_err *err)
{
	mode_t type;

	if (n_headers > l->max_entries)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle: more than %zu entries", l->max_entries);
	*path = archive_entry_pathname(ae);
	if (!*path || !**path)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "request bundle: entry without a name");
	if (strlen(*path) > l->name_max)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle: entry name longer than %zu bytes",
				     l->name_max);
	type = archive_entry_filetype(ae);
	if (type == AE_IFDIR)
		return 1; /* directories come from the file names when re-packed */
	/* A hard link is reported as a regular file (with no data of its own). */
	if (archive_entry_hardlink(ae))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %.200s is a hard link (regular files only)",
				     *path);
	if (type != AE_IFREG)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %.200s is %s (regular files only)", *path,
				     type_name(type));
	if (archive_entry_sparse_count(ae) > 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %.200s is a sparse file (refused)", *path);
	return 0;
}

/* A files/ entry: a new slot in f, owned by the bundle's uid with only the exec bit kept. */
static int add_file(struct bundle_files *f, const char *rel, struct archive_entry *ae, const struct bundle_limits *l,
		    struct isol8_buf **dst, struct isol8_err *err)
{
	if (f->n == l->max_files)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "request bundle: more than %zu files", l->max_files);
	if (f->n % 64 == 0) {
		f->ents = xrealloc(f->ents, (f->n + 64) * sizeof *f->ents);
		f->datas = xrealloc(f->datas, (f->n + 64) * sizeof *f->datas);
	}
	f->datas[f->n] = (struct isol8_buf)ISOL8_BUF_INIT;
	f->ents[f->n] = (struct isol8_tar_entry){
		.path = xstrdup(rel),
		.mode = (archive_entry_perm(ae) & 0111) ? 0755 : 0644,
		.uid = BUNDLE_UID,
		.gid = BUNDLE_GID,
	};
	*dst = &f->datas[f->n++];
	return 0;
}

/* "code" and "stdin" at most once each, "files/<safe path>", nothing else. */
static int entry_sink_for(const char *path, struct archive_entry *ae, struct decoder *d, struct bundle_files *f,
			  struct bundle *out, struct entry_sink *k, struct isol8_err *err)
{
	const struct bundle_limits *l = d->l;

	if (strcmp(path, "code") == 0 || strcmp(path, "stdin") == 0) {
		bool is_code = path[0] == 'c';
		bool *seen = is_code ? &out->has_code : &out->has_stdin;
		if (*seen)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bundle entry %s given twice", path);
		*seen = true;
		k->dst = is_code ? &out->code : &out->stdin_data;
		k->max = is_code ? l->code_max : l->stdin_max;
		return 0;
	}
	if (strncmp(path, "files/", 6) == 0 && safe_rel_path(path + 6)) {
		if (add_file(f, path + 6, ae, l, &k->dst, err) < 0)
			return -1;
		k->max = l->file_max;
		k->counter = &d->files_total;
		k->counter_max = l->files_total;
		k->counter_what = "files";
		return 0;
	}
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "unexpected bundle entry %.200s", path);
}

static int read_entries(struct decoder *d, struct bundle_files *f, struct bundle *out, struct isol8_err *err)
{
	size_t n_headers = 0, unused = 0;

	for (;;) {
		struct archive_entry *ae;
		const char *path = NULL;
		struct entry_sink k = {.counter = &unused, .counter_max = SIZE_MAX, .counter_what = ""};
		int ar = archive_read_next_header(d->a, &ae), r;

		if (ar == ARCHIVE_EOF)
			return 0;
		if (ar != ARCHIVE_OK)
			return bad_tar(d->a, err);
		r = check_entry(ae, ++n_headers, d->l, &path, err);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (entry_sink_for(path, ae, d, f, out, &k, err) < 0)
			return -1;
		/* The declared size only allows an early, clear refusal; the copy is capped anyway. */
		if (archive_entry_size_is_set(ae) &&
		    (archive_entry_size(ae) < 0 || (uint64_t)archive_entry_size(ae) > k.max))
			return isol8_err_set(err, ISOL8_E_LIMIT, 0,
					     "bundle entry %.200s: declares %lld bytes, more than %zu", path,
					     (long long)archive_entry_size(ae), k.max);
		if (copy_data(d, path, k.dst, k.max, k.counter, k.counter_max, k.counter_what) < 0)
			return -1;
	}
}

int bundle_decode(struct isol8_buf *raw, const struct bundle_limits *l, struct bundle *out, struct isol8_err *err)
{
	struct decoder d = {.l = l, .err = err};
	struct bundle_files f = {0};
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
	if (read_entries(&d, &f, out, err) < 0)
		goto out;
	archive_read_free(d.a);
	d.a = NULL;
	isol8_buf_free(raw);
	for (size_t i = 0; i < f.n; i++) {
		f.ents[i].data = f.datas[i].data ? f.datas[i].data : "";
		f.ents[i].len = f.datas[i].len;
	}
	if (f.n && isol8_tar_build(f.ents, f.n, &out->files_tar, err) < 0)
		goto out;
	out->n_files = f.n;
	rc = 0;
out:
	if (d.a)
		archive_read_free(d.a);
	isol8_buf_free(raw);
	bundle_files_free(&f);
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
