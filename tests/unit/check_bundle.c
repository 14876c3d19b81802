/* worker/bundle.c: decoding the FE_RUN bundle within its limits (issue 12, item 5). Every
 * hostile tar here is one a client of a shared worker can send. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/tar.h"
#include "worker/bundle.h"

/* ---- tar writers ---------------------------------------------------------------------------- */

struct ent {
	const char *path;
	mode_t type;      /* AE_IFREG when 0 */
	const char *data; /* NULL: size bytes of 'x' */
	size_t size;
	const char *link; /* symlink target or hard link name */
	bool hardlink;
};

static la_ssize_t to_buf(struct archive *a, void *ctx, const void *d, size_t n)
{
	(void)a;
	isol8_buf_append(ctx, d, n);
	return (la_ssize_t)n;
}

/* A pax tar of ents, as a frontend (or an attacker with libarchive) writes it. */
static void tar_of(struct isol8_buf *out, const struct ent *ents, size_t n)
{
	struct archive *a = archive_write_new();

	ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open2(a, out, NULL, to_buf, NULL, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		mode_t type = ents[i].type ? ents[i].type : AE_IFREG;
		archive_entry_set_pathname(e, ents[i].path);
		archive_entry_set_filetype(e, type);
		archive_entry_set_perm(e, 0644);
		if (ents[i].hardlink)
			archive_entry_set_hardlink(e, ents[i].link);
		else if (ents[i].link)
			archive_entry_set_symlink(e, ents[i].link);
		archive_entry_set_size(e, type == AE_IFREG && !ents[i].hardlink ? (la_int64_t)ents[i].size : 0);
		ck_assert_int_ge(archive_write_header(a, e), ARCHIVE_WARN);
		if (type == AE_IFREG && !ents[i].hardlink) {
			for (size_t done = 0; done < ents[i].size;) {
				char chunk[4096];
				size_t k = ents[i].size - done < sizeof chunk ? ents[i].size - done : sizeof chunk;
				if (ents[i].data)
					memcpy(chunk, ents[i].data + done, k);
				else
					memset(chunk, 'x', k);
				ck_assert_int_eq(archive_write_data(a, chunk, k), (la_ssize_t)k);
				done += k;
			}
		}
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* The pax writer's own sparse format (GNU.sparse 1.0): a hole of real - stored bytes, then data. */
static void pax_sparse(struct isol8_buf *out, int64_t real, size_t stored)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	char data[512];

	memset(data, 'A', sizeof data);
	ck_assert_int_eq(archive_write_set_format_pax(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open2(a, out, NULL, to_buf, NULL, NULL), ARCHIVE_OK);
	archive_entry_set_pathname(e, "files/big.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, real);
	archive_entry_sparse_add_entry(e, real - (int64_t)stored, (int64_t)stored);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_data(a, data, stored), (la_ssize_t)stored);
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
}

static void put_num(unsigned char *f, size_t w, uint64_t v)
{
	if (v < (1ull << (3 * (w - 1)))) {
		char tmp[32];
		snprintf(tmp, sizeof tmp, "%0*llo", (int)(w - 1), (unsigned long long)v);
		memcpy(f, tmp, w - 1);
		f[w - 1] = 0;
		return;
	}
	memset(f, 0, w);
	f[0] = 0x80;
	for (size_t i = w - 1; i > 0 && v; i--, v >>= 8)
		f[i] = (unsigned char)(v & 0xff);
}

/* The old GNU sparse entry of the attack: 'S', one map entry at the very end of `real` bytes. */
static void gnu_sparse(struct isol8_buf *out, uint64_t real)
{
	unsigned char h[512] = {0}, data[512];
	unsigned sum = 0;

	memcpy(h, "files/big.bin", 13);
	put_num(h + 100, 8, 0644);
	put_num(h + 108, 8, 100);
	put_num(h + 116, 8, 101);
	put_num(h + 124, 12, 512);
	put_num(h + 136, 12, 0);
	h[156] = 'S';
	memcpy(h + 257, "ustar  ", 8);
	put_num(h + 386, 12, real - 512);
	put_num(h + 398, 12, 512);
	put_num(h + 483, 12, real);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < sizeof h; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	memset(data, 'A', sizeof data);
	isol8_buf_append(out, h, sizeof h);
	isol8_buf_append(out, data, sizeof data);
	memset(data, 0, sizeof data);
	isol8_buf_append(out, data, sizeof data);
	isol8_buf_append(out, data, sizeof data);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static struct bundle_limits lim;
static struct isol8_err err;

static void setup(void)
{
	bundle_limits_for(&lim, 512ull << 20);
	err = (struct isol8_err)ISOL8_ERR_INIT;
}

/* Decode raw (consumed); on failure assert the code, the message part and that nothing is kept. */
static int decode(struct isol8_buf *raw, struct bundle *b)
{
	int r = bundle_decode(raw, &lim, b, &err);
	ck_assert_ptr_null(raw->data);
	if (r < 0) {
		ck_assert_ptr_null(b->code.data);
		ck_assert_ptr_null(b->stdin_data.data);
		ck_assert_ptr_null(b->files_tar.data);
		ck_assert(!b->has_code && !b->has_stdin && b->n_files == 0);
	}
	return r;
}

static void refused(const struct ent *ents, size_t n, int code, const char *msg)
{
	struct isol8_buf raw = ISOL8_BUF_INIT;
	struct bundle b;

	tar_of(&raw, ents, n);
	ck_assert_int_eq(decode(&raw, &b), -1);
	ck_assert_int_eq(err.code, code);
	ck_assert_msg(strstr(err.msg, msg), "error '%s' lacks '%s'", err.msg, msg);
}

/* ---- tests --------------------------------------------------------------------------------- */

START_TEST(test_limits_for)
{
	bundle_limits_for(&lim, 1u << 20);
	ck_assert_uint_eq(lim.file_max, 1u << 20);
	ck_assert_uint_eq(lim.files_total, 1u << 20);
	bundle_limits_for(&lim, 1ull << 50);
	ck_assert_uint_eq(lim.files_total, BUNDLE_RAW_MAX);
	ck_assert_uint_eq(lim.total, BUNDLE_RAW_MAX);
	ck_assert_uint_eq(lim.code_max, BUNDLE_CODE_MAX);
	ck_assert_uint_eq(lim.stdin_max, BUNDLE_STDIN_MAX);
	ck_assert_uint_eq(lim.max_entries, BUNDLE_MAX_ENTRIES);
	ck_assert_uint_eq(lim.name_max, BUNDLE_NAME_MAX);
}
END_TEST

START_TEST(test_empty_and_ordinary)
{
	struct isol8_buf raw = ISOL8_BUF_INIT, got = ISOL8_BUF_INIT;
	struct bundle b;
	const struct ent ents[] = {
		{"code", 0, "print(1)", 8, NULL, false},         {"stdin", 0, "", 0, NULL, false},
		{"files", AE_IFDIR, NULL, 0, NULL, false},       {"files/sub", AE_IFDIR, NULL, 0, NULL, false},
		{"files/sub/a.txt", 0, "hello", 5, NULL, false}, {"files/b.bin", 0, NULL, 70000, NULL, false},
	};

	ck_assert_int_eq(decode(&raw, &b), 0);
	ck_assert(!b.has_code && !b.has_stdin && b.n_files == 0);
	tar_of(&raw, ents, 6);
	ck_assert_int_eq(decode(&raw, &b), 0);
	ck_assert(b.has_code && b.has_stdin);
	ck_assert_uint_eq(b.code.len, 8);
	ck_assert_mem_eq(b.code.data, "print(1)", 8);
	ck_assert_uint_eq(b.stdin_data.len, 0);
	ck_assert_uint_eq(b.n_files, 2);
	ck_assert_int_eq(isol8_tar_extract_file(b.files_tar.data, b.files_tar.len, "sub/a.txt", 100, &got, &err), 0);
	ck_assert_uint_eq(got.len, 5);
	ck_assert_int_eq(isol8_tar_extract_file(b.files_tar.data, b.files_tar.len, "b.bin", 1u << 20, &got, &err), 0);
	ck_assert_uint_eq(got.len, 70000);
	isol8_buf_free(&got);
	bundle_free(&b);
	ck_assert_ptr_null(b.files_tar.data);
}
END_TEST

START_TEST(test_sparse_refused)
{
	struct isol8_buf raw = ISOL8_BUF_INIT;
	struct bundle b;

	/* The attack: 16 GiB declared, 2 KiB sent. Refused before a byte is decoded. */
	gnu_sparse(&raw, 16ull << 30);
	ck_assert_uint_le(raw.len, 4096);
	ck_assert_int_eq(decode(&raw, &b), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_msg(strstr(err.msg, "sparse"), "%s", err.msg);
	/* Even when it fits every size limit. */
	gnu_sparse(&raw, 8192);
	ck_assert_int_eq(decode(&raw, &b), -1);
	ck_assert_msg(strstr(err.msg, "sparse"), "%s", err.msg);
	pax_sparse(&raw, 1 << 20, 512);
	ck_assert_int_eq(decode(&raw, &b), -1);
	ck_assert_msg(strstr(err.msg, "sparse"), "%s", err.msg);
}
END_TEST

START_TEST(test_types_refused)
{
	const struct ent sym[] = {{"files/p", AE_IFLNK, NULL, 0, "/etc/passwd", false}};
	const struct ent hard[] = {{"files/a", 0, "a", 1, NULL, false}, {"files/b", 0, NULL, 0, "files/a", true}};
	const struct ent chr[] = {{"files/mem", AE_IFCHR, NULL, 0, NULL, false}};
	const struct ent blk[] = {{"files/sda", AE_IFBLK, NULL, 0, NULL, false}};
	const struct ent fifo[] = {{"files/f", AE_IFIFO, NULL, 0, NULL, false}};
	const struct ent sym_code[] = {{"code", AE_IFLNK, NULL, 0, "/proc/self/environ", false}};

	refused(sym, 1, ISOL8_E_USAGE, "symbolic link");
	refused(hard, 2, ISOL8_E_USAGE, "hard link");
	refused(chr, 1, ISOL8_E_USAGE, "character device");
	refused(blk, 1, ISOL8_E_USAGE, "block device");
	refused(fifo, 1, ISOL8_E_USAGE, "FIFO");
	refused(sym_code, 1, ISOL8_E_USAGE, "symbolic link");
}
END_TEST

START_TEST(test_names_refused)
{
	char longname[1100];
	const struct ent dotdot[] = {{"files/../etc/x", 0, "a", 1, NULL, false}};
	const struct ent abs[] = {{"/etc/x", 0, "a", 1, NULL, false}};
	const struct ent other[] = {{"evil", 0, "a", 1, NULL, false}};
	struct ent lng[] = {{longname, 0, "a", 1, NULL, false}};

	refused(dotdot, 1, ISOL8_E_USAGE, "unexpected bundle entry");
	refused(abs, 1, ISOL8_E_USAGE, "unexpected bundle entry");
	refused(other, 1, ISOL8_E_USAGE, "unexpected bundle entry");
	memcpy(longname, "files/", 6);
	memset(longname + 6, 'n', sizeof longname - 7);
	longname[sizeof longname - 1] = 0;
	refused(lng, 1, ISOL8_E_LIMIT, "longer than 1024 bytes");
}
END_TEST

START_TEST(test_sizes_refused)
{
	struct isol8_buf raw = ISOL8_BUF_INIT;
	struct bundle b;
	const struct ent one_big[] = {{"files/a", 0, NULL, 3000, NULL, false}};
	const struct ent two[] = {{"files/a", 0, NULL, 1500, NULL, false}, {"files/b", 0, NULL, 1500, NULL, false}};
	const struct ent all[] = {{"code", 0, NULL, 1000, NULL, false},
				  {"stdin", 0, NULL, 1000, NULL, false},
				  {"files/a", 0, NULL, 1000, NULL, false}};
	const struct ent code[] = {{"code", 0, NULL, 101, NULL, false}};
	const struct ent in[] = {{"stdin", 0, NULL, 101, NULL, false}};

	lim.file_max = 2000;
	lim.files_total = 2500;
	lim.total = 2500;
	lim.code_max = 100;
	lim.stdin_max = 100;
	refused(one_big, 1, ISOL8_E_LIMIT, "declares 3000 bytes, more than 2000");
	refused(two, 2, ISOL8_E_LIMIT, "files larger than 2500 bytes");
	refused(code, 1, ISOL8_E_LIMIT, "more than 100");
	refused(in, 1, ISOL8_E_LIMIT, "more than 100");
	lim.code_max = lim.stdin_max = 2000;
	refused(all, 3, ISOL8_E_LIMIT, "decodes to more than 2500 bytes");
	/* A header that claims 16 GiB of data that is not there. */
	{
		unsigned char h[512] = {0};
		unsigned sum = 0;
		memcpy(h, "files/huge", 10);
		put_num(h + 100, 8, 0644);
		put_num(h + 124, 12, 16ull << 30);
		h[156] = '0';
		memcpy(h + 257, "ustar", 6);
		memcpy(h + 263, "00", 2);
		memset(h + 148, ' ', 8);
		for (size_t i = 0; i < sizeof h; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum);
		isol8_buf_append(&raw, h, sizeof h);
		memset(h, 'x', sizeof h);
		isol8_buf_append(&raw, h, sizeof h);
		ck_assert_int_eq(decode(&raw, &b), -1);
		ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
		ck_assert_msg(strstr(err.msg, "declares 17179869184 bytes"), "%s", err.msg);
	}
}
END_TEST

START_TEST(test_counts_refused)
{
	struct ent many[8];
	char names[8][16];
	const struct ent twice[] = {{"code", 0, "a", 1, NULL, false}, {"code", 0, "b", 1, NULL, false}};
	const struct ent stdin_twice[] = {{"stdin", 0, "a", 1, NULL, false}, {"stdin", 0, "b", 1, NULL, false}};

	for (int i = 0; i < 8; i++) {
		snprintf(names[i], sizeof names[i], "files/f%d", i);
		many[i] = (struct ent){names[i], i % 2 ? AE_IFDIR : 0, "z", i % 2 ? 0 : 1, NULL, false};
	}
	lim.max_entries = 7;
	refused(many, 8, ISOL8_E_LIMIT, "more than 7 entries");
	lim.max_entries = 100;
	lim.max_files = 3;
	refused(many, 8, ISOL8_E_LIMIT, "more than 3 files");
	refused(twice, 2, ISOL8_E_USAGE, "code given twice");
	refused(stdin_twice, 2, ISOL8_E_USAGE, "stdin given twice");
}
END_TEST

START_TEST(test_malformed)
{
	struct isol8_buf raw = ISOL8_BUF_INIT;
	struct bundle b;
	const struct ent one[] = {{"files/a", 0, NULL, 5000, NULL, false}};

	/* Truncated in the middle of the data. */
	tar_of(&raw, one, 1);
	raw.len = 2048;
	ck_assert_int_eq(decode(&raw, &b), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_msg(strstr(err.msg, "bad request bundle"), "%s", err.msg);
	/* Not a tar at all (and no decompression: a gzip stream is not unpacked). */
	isol8_buf_append(&raw, "\x1f\x8b\x08\x00garbage-garbage-garbage", 27);
	for (int i = 0; i < 40; i++)
		isol8_buf_append(&raw, "0123456789abcdef", 16);
	ck_assert_int_eq(decode(&raw, &b), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
}
END_TEST

START_TEST(test_budget)
{
	ck_assert(bundle_budget_take(BUNDLE_BUDGET - 10));
	ck_assert(!bundle_budget_take(11));
	ck_assert(bundle_budget_take(10));
	ck_assert(!bundle_budget_take(1));
	bundle_budget_give(BUNDLE_BUDGET - 10);
	ck_assert(!bundle_budget_take(BUNDLE_BUDGET));
	ck_assert(bundle_budget_take(BUNDLE_BUDGET - 10));
	bundle_budget_give(BUNDLE_BUDGET);
	ck_assert(bundle_budget_take(BUNDLE_BUDGET));
	bundle_budget_give(BUNDLE_BUDGET);
}
END_TEST

static Suite *bundle_suite(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_limits_for);
	tcase_add_test(tc, test_empty_and_ordinary);
	tcase_add_test(tc, test_sparse_refused);
	tcase_add_test(tc, test_types_refused);
	tcase_add_test(tc, test_names_refused);
	tcase_add_test(tc, test_sizes_refused);
	tcase_add_test(tc, test_counts_refused);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_budget);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bundle_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
