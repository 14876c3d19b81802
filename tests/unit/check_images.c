/* Image naming, hashing, package validation, build contexts and apt-source parsing. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "common/tar.h"
#include "images/bootstrap.h"
#include "images/images.h"
#include "policy/policy.h"

static void pkg_ok(int rt, const char *name)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_msg(isol8_pkg_validate(rt, name, &err) == 0, "%s package \"%s\" rejected: %s", isol8_runtime_name(rt),
		      name, err.msg);
}

static void pkg_bad(int rt, const char *name)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_msg(isol8_pkg_validate(rt, name, &err) == -1, "%s package \"%s\" accepted", isol8_runtime_name(rt),
		      name ? name : "(null)");
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
}

START_TEST(test_pkg_valid)
{
	pkg_ok(ISOL8_RT_PYTHON, "numpy");
	pkg_ok(ISOL8_RT_PYTHON, "requests[socks]");
	pkg_ok(ISOL8_RT_PYTHON, "Django==4.2.1");
	pkg_ok(ISOL8_RT_PYTHON, "pydantic~=2.0");
	pkg_ok(ISOL8_RT_PYTHON, "zope.interface");
	pkg_ok(ISOL8_RT_NODE, "lodash");
	pkg_ok(ISOL8_RT_NODE, "@types/node");
	pkg_ok(ISOL8_RT_NODE, "is-number@7.0.0");
	pkg_ok(ISOL8_RT_NODE, "react@^18.2.0");
	pkg_ok(ISOL8_RT_BUN, "@hono/zod-validator@latest");
	pkg_ok(ISOL8_RT_DENO, "https://deno.land/std@0.224.0/path/mod.ts");
	pkg_ok(ISOL8_RT_DENO, "npm:chalk@5");
	pkg_ok(ISOL8_RT_DENO, "jsr:@std/path");
	pkg_ok(ISOL8_RT_BASH, "jq");
	pkg_ok(ISOL8_RT_BASH, "libc6-dev");
	pkg_ok(ISOL8_RT_BASH, "g++");
	pkg_ok(ISOL8_RT_BASH, "jq=1.6-2.1");
}
END_TEST

START_TEST(test_pkg_hostile)
{
	static const char *const evil[] = {
		"",
		"-e",
		"--index-url=http://evil",
		"-rrequirements.txt",
		"a b",
		"a;rm -rf /",
		"$(id)",
		"`id`",
		"a|b",
		"a&b",
		"a>b",
		"a<b",
		"a'b",
		"a\"b",
		"a\\b",
		"a\nb",
		"a\tb",
		"*",
		"a*",
		"a?",
		"(a)",
		"~",
		"../../etc/passwd",
		"/etc/passwd",
		"a\x01",
		"\xc3\xa9t\xc3\xa9",
		NULL,
	};
	char longname[400];

	for (int rt = 0; rt < ISOL8_RT__MAX; rt++)
		for (size_t i = 0; evil[i]; i++)
			pkg_bad(rt, evil[i]);
	pkg_bad(ISOL8_RT_PYTHON, NULL);
	pkg_bad(ISOL8_RT_PYTHON, "numpy>=1.0"); /* '>' is a shell metacharacter: only == and ~= pins */
	pkg_bad(ISOL8_RT_NODE, "@scope");
	pkg_bad(ISOL8_RT_NODE, "git+ssh://x");
	pkg_bad(ISOL8_RT_DENO, "http://insecure.example/mod.ts");
	pkg_bad(ISOL8_RT_DENO, "https://x.example/mod.ts?a=1&b=2");
	pkg_bad(ISOL8_RT_DENO, "file:///etc/passwd");
	pkg_bad(ISOL8_RT_BASH, "Jq");
	pkg_bad(ISOL8_RT_BASH, "a");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	pkg_bad(ISOL8_RT_PYTHON, longname);
	pkg_bad(99, "numpy");
	pkg_bad(-1, "numpy");
}
END_TEST

START_TEST(test_strlist)
{
	struct isol8_strlist l = {0};
	char *j;

	isol8_strlist_add_csv(&l, " pandas, numpy,,numpy ,\t, requests ");
	isol8_strlist_add_csv(&l, "");
	isol8_strlist_add_csv(&l, ",,,");
	isol8_strlist_add(&l, "aaa");
	isol8_strlist_sort_unique(&l);
	ck_assert_uint_eq(l.n, 4);
	j = isol8_strlist_join(&l, ",");
	ck_assert_str_eq(j, "aaa,numpy,pandas,requests");
	ck_assert_ptr_null(l.v[l.n]);
	free(j);
	isol8_strlist_free(&l);
	ck_assert_uint_eq(l.n, 0);
	j = isol8_strlist_join(&l, ",");
	ck_assert_str_eq(j, "");
	free(j);
}
END_TEST

START_TEST(test_hash_and_tags)
{
	struct isol8_strlist a = {0}, b = {0}, c = {0};
	char ha[ISOL8_SHA256_HEX], hb[ISOL8_SHA256_HEX], hc[ISOL8_SHA256_HEX], hs[ISOL8_SHA256_HEX],
		hn[ISOL8_SHA256_HEX];
	char *tag;

	isol8_strlist_add_csv(&a, "numpy,pandas");
	isol8_strlist_add_csv(&b, "pandas,numpy,numpy");
	isol8_strlist_add_csv(&c, "numpypandas");
	isol8_strlist_sort_unique(&a);
	isol8_strlist_sort_unique(&b);
	isol8_strlist_sort_unique(&c);
	isol8_deps_hash(ISOL8_RT_PYTHON, &a, NULL, ha);
	isol8_deps_hash(ISOL8_RT_PYTHON, &b, NULL, hb);
	isol8_deps_hash(ISOL8_RT_PYTHON, &c, NULL, hc);
	isol8_deps_hash(ISOL8_RT_PYTHON, &a, "echo hi\n", hs);
	isol8_deps_hash(ISOL8_RT_NODE, &a, NULL, hn);
	ck_assert_uint_eq(strlen(ha), 64);
	ck_assert_str_eq(ha, hb); /* order and duplicates do not matter */
	ck_assert_str_ne(ha, hc); /* item boundaries do */
	ck_assert_str_ne(ha, hs); /* the setup script does */
	ck_assert_str_ne(ha, hn); /* the runtime does */
	tag = isol8_image_custom_tag(ISOL8_RT_PYTHON, ha);
	ck_assert_uint_eq(strlen(tag), strlen("isol8:python-custom-") + 12);
	ck_assert(strncmp(tag, "isol8:python-custom-", 20) == 0);
	ck_assert(strncmp(tag + 20, ha, 12) == 0);
	free(tag);
	ck_assert_str_eq(isol8_image_base_tag(ISOL8_RT_BASH), "isol8:bash");
	ck_assert_ptr_null(isol8_image_base_tag(ISOL8_RT__MAX));
	ck_assert_ptr_null(isol8_image_base_tag(-1));
	/* Known vector: SHA-256("abc"). */
	isol8_sha256_hex("abc", 3, ha);
	ck_assert_str_eq(ha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	isol8_strlist_free(&a);
	isol8_strlist_free(&b);
	isol8_strlist_free(&c);
}
END_TEST

START_TEST(test_custom_dockerfile)
{
	struct isol8_strlist p = {0};
	char *df;

	isol8_strlist_add_csv(&p, "is-number,@scope/x@1.0");
	isol8_strlist_sort_unique(&p);
	df = isol8_custom_dockerfile(ISOL8_RT_NODE, &p, true, true);
	ck_assert_msg(strstr(df, "FROM isol8:node\n") == df, "%s", df);
	ck_assert_msg(
		strstr(df,
		       "RUN "
		       "[\"/bin/sh\",\"/usr/local/lib/isol8/install.sh\",\"node\",\"@scope/x@1.0\",\"is-number\"]\n"),
		"%s", df);
	ck_assert_msg(!strstr(df, "PIP_INDEX_URL"), "pip args only for python: %s", df);
	ck_assert_msg(strstr(df, "COPY setup.sh " ISOL8_IMAGE_SETUP_PATH "\n"), "%s", df);
	free(df);
	df = isol8_custom_dockerfile(ISOL8_RT_PYTHON, &(struct isol8_strlist){0}, true, false);
	ck_assert_msg(strstr(df, "ARG PIP_INDEX_URL\nARG PIP_TRUSTED_HOST\n"), "%s", df);
	ck_assert_msg(!strstr(df, "RUN"), "%s", df);
	ck_assert_msg(!strstr(df, "COPY"), "%s", df);
	free(df);
	isol8_strlist_free(&p);
}
END_TEST

START_TEST(test_pip_index)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char *host = NULL;
	static const char *const bad[] = {
		"",
		"ftp://x/simple",
		"http://",
		"http://a b/",
		"http://x/simple?x=1",
		"http://x/$(id)",
		"http://x;y/",
		"https://user:pw@host/simple",
		"http://[::1]/simple",
		"-http://x/",
		NULL,
	};

	ck_assert_int_eq(isol8_pip_index_host("http://172.17.0.1:8765/simple/", &host, &err), 0);
	ck_assert_str_eq(host, "172.17.0.1");
	free(host);
	ck_assert_int_eq(isol8_pip_index_host("https://pypi.example.org/simple", &host, &err), 0);
	ck_assert_str_eq(host, "pypi.example.org");
	free(host);
	for (size_t i = 0; bad[i]; i++) {
		host = NULL;
		ck_assert_msg(isol8_pip_index_host(bad[i], &host, &err) == -1, "accepted %s", bad[i]);
		ck_assert_ptr_null(host);
	}
	ck_assert_int_eq(isol8_pip_index_host(NULL, &host, &err), -1);
}
END_TEST

static char *mirror(const char *text, bool deb822, int want)
{
	char *out = NULL;
	int r = isol8_apt_mirror_parse(text, deb822, "bookworm", &out);

	ck_assert_msg(r == want, "parse returned %d, want %d for:\n%s", r, want, text);
	if (!want)
		ck_assert_ptr_null(out);
	return out;
}

START_TEST(test_apt_sources)
{
	char *m;

	m = mirror("# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n", false,
		   2);
	ck_assert_str_eq(m, "http://mirror.example/debian");
	free(m);
	m = mirror("deb http://security.debian.org/debian-security bookworm-security main\n"
		   "deb http://ftp.example/debian bullseye main\n"
		   "deb http://deb.example/debian bookworm main contrib\n",
		   false, 2);
	ck_assert_str_eq(m, "http://deb.example/debian");
	free(m);
	m = mirror("deb http://ftp.example/debian/ trixie main\n", false, 1);
	ck_assert_str_eq(m, "http://ftp.example/debian/");
	free(m);
	m = mirror(
		"Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
		"Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n",
		true, 2);
	ck_assert_str_eq(m, "http://deb.debian.org/debian");
	free(m);
	m = mirror("Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
		   "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\n"
		   "types: deb\nuris: http://on.example/debian http://second.example/debian\nsuites: bookworm\n"
		   "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n -----END PGP PUBLIC KEY BLOCK-----\n",
		   true, 2);
	ck_assert_str_eq(m, "http://on.example/debian");
	free(m);
	/* Hostile or useless input: nothing picked, nothing crashes. */
	mirror("", false, 0);
	mirror("deb\n", false, 0);
	mirror("deb [unterminated http://x/debian bookworm\n", false, 0);
	mirror("deb http://x/de'bian bookworm main\n", false, 0);
	mirror("deb -o/evil bookworm main\n", false, 0);
	mirror("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", false, 0);
	mirror("URIs: http://x/debian\nSuites: bookworm\n", true, 0); /* no Types */
	mirror("Types: deb\nURIs:\nSuites: bookworm\n", true, 0);
	mirror("\n\n\n\r\n", true, 0);
	ck_assert(isol8_mirror_url_ok("file:///srv/mirror/debian"));
	ck_assert(!isol8_mirror_url_ok("--foreign"));
	ck_assert(!isol8_mirror_url_ok("http://a b"));
	ck_assert(!isol8_mirror_url_ok(NULL));
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

#define PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

START_TEST(test_base_context)
{
	char dir[] = "/tmp/check_images.XXXXXX";
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_base_context c1 = {0}, c2 = {0}, c3 = {0};
	struct isol8_strlist ca = {0}, found = {0};
	struct isol8_buf out = ISOL8_BUF_INIT;
	char *p;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	p = xasprintf("%s/Dockerfile", dir), write_file(p, "FROM debian:bookworm-slim AS base\n"), free(p);
	p = xasprintf("%s/repl.py", dir), write_file(p, "print(1)\n"), free(p);
	p = xasprintf("%s/.repl.py.swp", dir), write_file(p, "junk"), free(p);
	p = xasprintf("%s/common", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/common/ipc.c", dir), write_file(p, "/* framing */\n"), free(p);
	p = xasprintf("%s/certs", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/certs/sub", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/certs/sub/my ca.crt", dir), write_file(p, PEM), free(p);
	p = xasprintf("%s/certs/other.pem", dir), write_file(p, PEM), free(p);

	p = xasprintf("%s/certs", dir);
	ck_assert_int_eq(isol8_ca_default_list(p, &found, &err), 0);
	free(p);
	ck_assert_uint_eq(found.n, 1); /* only *.crt, recursively */
	ck_assert(strstr(found.v[0], "sub/my ca.crt") != NULL);

	ck_assert_msg(isol8_base_context_make(dir, &found, "sha256:aaa", &c1, &err) == 0, "%s", err.msg);
	ck_assert_msg(isol8_base_context_make(dir, &found, "sha256:aaa", &c2, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(c1.hash, c2.hash);
	isol8_base_context_free(&c2);
	/* The source tree's Makefile.inc is not installed and not a build input: the tree and its
	 * installed copy make the same context, so images built from one are current for the other. */
	p = xasprintf("%s/Makefile.inc", dir), write_file(p, "dist_sandbox_DATA = repl.py\n"), free(p);
	ck_assert_int_eq(isol8_base_context_make(dir, &found, "sha256:aaa", &c2, &err), 0);
	ck_assert_str_eq(c1.hash, c2.hash);
	ck_assert_int_eq(isol8_tar_extract_file(c2.tar.data, c2.tar.len, "sandbox/Makefile.inc", 4096, &out, &err), -1);
	ck_assert_int_eq(isol8_tar_extract_file(c1.tar.data, c1.tar.len, "ca/000-my_ca.crt", 4096, &out, &err), 0);
	ck_assert_str_eq(out.data, PEM);
	ck_assert_int_eq(isol8_tar_extract_file(c1.tar.data, c1.tar.len, "sandbox/repl.py", 4096, &out, &err), 0);
	ck_assert_int_eq(isol8_tar_extract_file(c1.tar.data, c1.tar.len, "sandbox/.repl.py.swp", 4096, &out, &err), -1);
	/* The helpers sit beside the Dockerfile in the source tree; it goes into the context once. */
	ck_assert_int_eq(isol8_tar_extract_file(c1.tar.data, c1.tar.len, "sandbox/Dockerfile", 4096, &out, &err), -1);
	/* The agent is built from isol8's own framing sources, beside the helpers, not among them. */
	ck_assert_int_eq(isol8_tar_extract_file(c1.tar.data, c1.tar.len, "common/ipc.c", 4096, &out, &err), 0);
	ck_assert_int_eq(isol8_tar_extract_file(c1.tar.data, c1.tar.len, "sandbox/common", 4096, &out, &err), -1);
	isol8_buf_free(&out);
	isol8_base_context_free(&c2);

	/* A different FROM image, or any changed input, changes the hash. */
	ck_assert_int_eq(isol8_base_context_make(dir, &found, "sha256:bbb", &c2, &err), 0);
	ck_assert_str_ne(c1.hash, c2.hash);
	isol8_base_context_free(&c2);
	p = xasprintf("%s/repl.py", dir), write_file(p, "print(2)\n"), free(p);
	ck_assert_int_eq(isol8_base_context_make(dir, &found, "sha256:aaa", &c2, &err), 0);
	ck_assert_str_ne(c1.hash, c2.hash);
	/* No certificates: ca/ still exists. */
	ck_assert_int_eq(isol8_base_context_make(dir, &ca, "sha256:aaa", &c3, &err), 0);
	ck_assert_int_eq(isol8_tar_extract_file(c3.tar.data, c3.tar.len, "ca/.keep", 16, &out, &err), 0);
	isol8_base_context_free(&c3);

	/* A private key or a non-PEM file is refused. */
	p = xasprintf("%s/key.crt", dir);
	write_file(p, PEM "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
	isol8_strlist_add(&ca, p);
	free(p);
	ck_assert_int_eq(isol8_base_context_make(dir, &ca, NULL, &c3, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	isol8_strlist_free(&ca);
	p = xasprintf("%s/Dockerfile", dir);
	isol8_strlist_add(&ca, p);
	free(p);
	ck_assert_int_eq(isol8_base_context_make(dir, &ca, NULL, &c3, &err), -1);
	isol8_strlist_free(&ca);
	p = xasprintf("%s/nonexistent.crt", dir);
	isol8_strlist_add(&ca, p);
	free(p);
	ck_assert_int_eq(isol8_base_context_make(dir, &ca, NULL, &c3, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_IO);

	isol8_strlist_free(&ca);
	isol8_strlist_free(&found);
	isol8_base_context_free(&c1);
	isol8_base_context_free(&c2);
	isol8_buf_free(&out);
	p = xasprintf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(p), 0);
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("images");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_pkg_valid);
	tcase_add_test(tc, test_pkg_hostile);
	tcase_add_test(tc, test_strlist);
	tcase_add_test(tc, test_hash_and_tags);
	tcase_add_test(tc, test_custom_dockerfile);
	tcase_add_test(tc, test_pip_index);
	tcase_add_test(tc, test_apt_sources);
	tcase_add_test(tc, test_base_context);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
