/* common/tar.c: building tars in memory, from a directory, and reading one file back. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "common/tar.h"

/* List "type path mode uid size" lines of a tar for easy comparison. */
static char *listing(const struct isol8_buf *t)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct isol8_buf out = ISOL8_BUF_INIT;

	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, t->data, t->len), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK)
		isol8_buf_printf(&out, "%c %s %o %ld %ld\n", archive_entry_filetype(e) == AE_IFDIR ? 'd' : 'f',
				 archive_entry_pathname(e), (unsigned)archive_entry_perm(e), (long)archive_entry_uid(e),
				 (long)archive_entry_size(e));
	archive_read_free(a);
	return isol8_buf_steal(&out, NULL);
}

START_TEST(test_build_nested)
{
	struct isol8_tar_entry ents[] = {
		{"main.py", "print(1)\n", 9, 0644, 1000, 1000},
		{"pkg/sub/mod.py", "x = 2\n", 6, 0755, 1000, 1000},
		{"pkg/other.py", "", 0, 06755, 0, 0},
	};
	struct isol8_buf t = ISOL8_BUF_INIT, f = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	char *l;

	ck_assert_int_eq(isol8_tar_build(ents, 3, &t, &err), 0);
	l = listing(&t);
	ck_assert_str_eq(l,
			 "f main.py 644 1000 9\n"
			 "d pkg/ 755 1000 0\n" /* libarchive marks directories with a '/' */
			 "d pkg/sub/ 755 1000 0\n"
			 "f pkg/sub/mod.py 755 1000 6\n"
			 "f pkg/other.py 755 0 0\n"); /* setuid/setgid stripped */
	free(l);
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, "pkg/sub/mod.py", 100, &f, &err), 0);
	ck_assert_str_eq(f.data, "x = 2\n");
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, "/main.py", 100, &f, &err), 0);
	ck_assert_str_eq(f.data, "print(1)\n");
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, "./pkg/other.py", 100, &f, &err), 0);
	ck_assert_uint_eq(f.len, 0);
	isol8_buf_free(&t);
	isol8_buf_free(&f);
}
END_TEST

START_TEST(test_build_bad_paths)
{
	static const char *const bad[] = {"",    "/etc/passwd", "../x", "a/../../x", "a//b",
					  "./a", "a/.",         "a/",   "..",        NULL};
	struct isol8_buf t = ISOL8_BUF_INIT;

	for (const char *const *p = bad; *p; p++) {
		struct isol8_tar_entry e = {*p, "x", 1, 0644, 0, 0};
		struct isol8_err err = ISOL8_ERR_INIT;
		ck_assert_msg(isol8_tar_build(&e, 1, &t, &err) == -1, "accepted %s", *p);
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	}
	{
		struct isol8_tar_entry e = {NULL, "x", 1, 0644, 0, 0};
		struct isol8_err err = ISOL8_ERR_INIT;
		ck_assert_int_eq(isol8_tar_build(&e, 1, &t, &err), -1);
	}
	isol8_buf_free(&t);
}
END_TEST

START_TEST(test_long_name_and_big)
{
	char name[300];
	size_t big = 3 * 1024 * 1024 + 17;
	char *data = xmalloc(big);
	struct isol8_tar_entry e = {name, data, big, 0600, 0, 0};
	struct isol8_buf t = ISOL8_BUF_INIT, f = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 7);
	ck_assert_int_eq(isol8_tar_build(&e, 1, &t, &err), 0);
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, name, big, &f, &err), 0);
	ck_assert_uint_eq(f.len, big);
	ck_assert(memcmp(f.data, data, big) == 0);
	/* one byte under the size: limit */
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, name, big - 1, &f, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	ck_assert_uint_eq(f.len, 0);
	free(data);
	isol8_buf_free(&t);
	isol8_buf_free(&f);
}
END_TEST

START_TEST(test_extract_missing_and_dir)
{
	struct isol8_tar_entry e = {"d/f", "1", 1, 0644, 0, 0};
	struct isol8_buf t = ISOL8_BUF_INIT, f = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(isol8_tar_build(&e, 1, &t, &err), 0);
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, "nope", 10, &f, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, "d", 10, &f, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);
	isol8_buf_free(&t);
	isol8_buf_free(&f);
}
END_TEST

/* Garbage, truncation at every 512-byte block and a lying size field never crash or overread. */
START_TEST(test_extract_hostile)
{
	struct isol8_tar_entry e = {"f", "0123456789", 10, 0644, 0, 0};
	struct isol8_buf t = ISOL8_BUF_INIT, f = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	char junk[2048];

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 131 + 7);
	ck_assert_int_eq(isol8_tar_extract_file(junk, sizeof junk, "f", 10, &f, &err), -1);
	ck_assert_int_eq(isol8_tar_extract_file("", 0, "f", 10, &f, &err), -1);

	ck_assert_int_eq(isol8_tar_build(&e, 1, &t, &err), 0);
	for (size_t cut = 0; cut < t.len; cut += 1)
		(void)isol8_tar_extract_file(t.data, cut, "f", 10, &f, &err);
	/* Header claims 0777777 (octal) bytes: data missing -> error, never more than max kept. */
	{
		char *copy = xmalloc(t.len);
		memcpy(copy, t.data, t.len);
		/* size field at offset 124, 12 bytes; fix up the checksum (offset 148, 8 bytes) */
		memcpy(copy + 124, "77777777777", 11);
		unsigned sum = 0;
		memset(copy + 148, ' ', 8);
		for (int i = 0; i < 512; i++)
			sum += (unsigned char)copy[i];
		snprintf(copy + 148, 8, "%06o", sum);
		ck_assert_int_eq(isol8_tar_extract_file(copy, t.len, "f", 1 << 20, &f, &err), -1);
		ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
		ck_assert_int_eq(isol8_tar_extract_file(copy, t.len, "f", (size_t)1 << 40, &f, &err), -1);
		ck_assert_uint_le(f.len, t.len);
		free(copy);
	}
	isol8_buf_free(&t);
	isol8_buf_free(&f);
}
END_TEST

static void write_file(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char *p = xasprintf("%s/%s", dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	chmod(p, mode);
	free(p);
}

static void make_dir(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
}

START_TEST(test_from_dir)
{
	char tmpl[] = "/tmp/isol8-tar-XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct isol8_buf t = ISOL8_BUF_INIT, f = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	char *l, *cmd;

	ck_assert_ptr_nonnull(dir);
	write_file(dir, "Dockerfile", "FROM debian:bookworm-slim\n", 0644);
	make_dir(dir, "src");
	write_file(dir, "src/app.py", "print('x')\n", 0755);
	make_dir(dir, "d\xc3\xa9j\xc3\xa0");
	write_file(dir, "d\xc3\xa9j\xc3\xa0/caf\xc3\xa9", "", 0644);
	make_dir(dir, ".git");
	write_file(dir, ".git/HEAD", "ref\n", 0644);
	make_dir(dir, "src/node_modules");
	write_file(dir, "src/node_modules/m.js", "1\n", 0644);
	make_dir(dir, "src/__pycache__");
	{
		char *link = xasprintf("%s/src/passwd", dir);
		ck_assert_int_eq(symlink("/etc/passwd", link), 0);
		free(link);
	}
	{
		char *fifo = xasprintf("%s/fifo", dir);
		ck_assert_int_eq(mkfifo(fifo, 0644), 0);
		free(fifo);
	}

	ck_assert_int_eq(isol8_tar_from_dir(dir, NULL, 1 << 20, &t, &err), 0);
	l = listing(&t);
	/* readdir order is unspecified: check membership, not order */
	ck_assert_ptr_nonnull(strstr(l, "f Dockerfile 644 0 26\n"));
	ck_assert_ptr_nonnull(strstr(l, "d src/ 755 0 0\n"));
	ck_assert_ptr_nonnull(strstr(l, "f src/app.py 755 0 11\n"));
	ck_assert_ptr_null(strstr(l, ".git"));
	ck_assert_ptr_null(strstr(l, "node_modules"));
	ck_assert_ptr_null(strstr(l, "__pycache__"));
	ck_assert_ptr_null(strstr(l, "passwd"));
	ck_assert_ptr_null(strstr(l, "fifo"));
	free(l);
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, "src/app.py", 100, &f, &err), 0);
	ck_assert_str_eq(f.data, "print('x')\n");
	ck_assert_int_eq(isol8_tar_extract_file(t.data, t.len, "d\xc3\xa9j\xc3\xa0/caf\xc3\xa9", 100, &f, &err), 0);

	/* a custom skip list replaces the default */
	{
		static const char *const skip[] = {"src", NULL};
		ck_assert_int_eq(isol8_tar_from_dir(dir, skip, 1 << 20, &t, &err), 0);
		l = listing(&t);
		ck_assert_ptr_null(strstr(l, "src"));
		ck_assert_ptr_nonnull(strstr(l, "d .git/ 755 0 0\n"));
		free(l);
	}
	/* total size cap: 26 + 11 = 37 bytes of files */
	ck_assert_int_eq(isol8_tar_from_dir(dir, NULL, 37, &t, &err), 0);
	ck_assert_int_eq(isol8_tar_from_dir(dir, NULL, 36, &t, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	ck_assert_uint_eq(t.len, 0);
	/* missing dir */
	ck_assert_int_eq(isol8_tar_from_dir("/nonexistent/isol8", NULL, 10, &t, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);

	cmd = xasprintf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	isol8_buf_free(&t);
	isol8_buf_free(&f);
}
END_TEST

/* Non-ASCII (UTF-8) names must survive under the "C" locale the daemons run with. */
START_TEST(test_utf8_names)
{
	struct isol8_tar_entry e = {"d\xc3\xa9j\xc3\xa0/n\xc3\xa4me with space.txt", "nested\n", 7, 0600, 0, 0};
	struct isol8_buf t = ISOL8_BUF_INIT, f = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_msg(isol8_tar_build(&e, 1, &t, &err) == 0, "%s", err.msg);
	ck_assert_msg(isol8_tar_extract_file(t.data, t.len, e.path, 100, &f, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(f.data, "nested\n");
	isol8_buf_free(&t);
	isol8_buf_free(&f);
}
END_TEST

static Suite *tar_suite(void)
{
	Suite *s = suite_create("tar");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_build_nested);
	tcase_add_test(tc, test_build_bad_paths);
	tcase_add_test(tc, test_long_name_and_big);
	tcase_add_test(tc, test_extract_missing_and_dir);
	tcase_add_test(tc, test_extract_hostile);
	tcase_add_test(tc, test_from_dir);
	tcase_add_test(tc, test_utf8_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tar_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
