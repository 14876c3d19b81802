/* Remote code's pure parts: the --github/--gist URL mapping, the hash syntax, the content checks
 * (UTF-8, NUL, SHA-256), the fetcher's answer framing, the broker->fetcher job, and the URL checks
 * of original-reference.md §4.24 steps 2-5 in their order, with the private IPv4 and IPv6 ranges. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "common/remote_code.h"
#include "common/sha256.h"
#include "common/xalloc.h"
#include "fetch/fetch.h"

START_TEST(github_gist_urls)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char *u;

	u = remote_github_url("user/repo/main/src/script.py", &err);
	ck_assert_str_eq(u, "https://raw.githubusercontent.com/user/repo/main/src/script.py");
	free(u);
	u = remote_gist_url("abc123/hello.py", &err);
	ck_assert_str_eq(u, "https://gist.githubusercontent.com/abc123/raw/hello.py");
	free(u);
	u = remote_gist_url("abc123/dir/hello.py", &err);
	ck_assert_str_eq(u, "https://gist.githubusercontent.com/abc123/raw/dir/hello.py");
	free(u);
	static const char *const bad_gh[] = {
		"user/repo/main",  "user//main/x.py",   "user/repo/main/", "../repo/main/x.py", "u/r/main/x.py?a=1",
		"u/r/main/x y.py", "u/r/main/%2e%2e/x", "u/r/./x.py",      "u/r/main/x.py#f",   ""};
	for (size_t i = 0; i < sizeof bad_gh / sizeof *bad_gh; i++) {
		err = (struct isol8_err)ISOL8_ERR_INIT;
		ck_assert_msg(remote_github_url(bad_gh[i], &err) == NULL, "%s accepted", bad_gh[i]);
		ck_assert_str_eq(err.msg, "--github format must be owner/repo/ref/path/to/file");
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	}
	static const char *const bad_gist[] = {"abc123", "/hello.py", "abc123/", "abc/../x.py", "a\tb/x.py"};
	for (size_t i = 0; i < sizeof bad_gist / sizeof *bad_gist; i++) {
		err = (struct isol8_err)ISOL8_ERR_INIT;
		ck_assert_msg(remote_gist_url(bad_gist[i], &err) == NULL, "%s accepted", bad_gist[i]);
		ck_assert_str_eq(err.msg, "--gist format must be gistId/file.ext");
	}
}
END_TEST

START_TEST(hash_format)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(remote_hash_check_format("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
						  "--hash", &err),
			 0);
	ck_assert_int_eq(remote_hash_check_format("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
						  "--hash", &err),
			 0);
	ck_assert_int_eq(remote_hash_check_format("e3b0", "--hash", &err), -1);
	ck_assert_str_eq(err.msg, "--hash must be a SHA-256 digest: 64 hexadecimal digits");
	ck_assert_int_eq(remote_hash_check_format("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
						  "request.codeHash", &err),
			 -1);
	ck_assert_int_eq(remote_hash_check_format("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
						  "x", &err),
			 -1);
}
END_TEST

START_TEST(utf8)
{
	size_t bad = 99;

	ck_assert(remote_utf8_valid("print('h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80')", 25, &bad));
	ck_assert(!remote_utf8_valid("a\xc3", 2, &bad)); /* truncated */
	ck_assert_uint_eq(bad, 1);
	ck_assert(!remote_utf8_valid("\xc0\xaf", 2, &bad)); /* overlong '/' */
	ck_assert_uint_eq(bad, 0);
	ck_assert(!remote_utf8_valid("\xe0\x80\xaf", 3, &bad));     /* overlong */
	ck_assert(!remote_utf8_valid("\xed\xa0\x80", 3, &bad));     /* surrogate */
	ck_assert(!remote_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* above U+10FFFF */
	ck_assert(!remote_utf8_valid("ab\xff", 3, &bad));
	ck_assert_uint_eq(bad, 2);
	ck_assert(!remote_utf8_valid("\xe2\x28\xa1", 3, &bad)); /* bad continuation */
}
END_TEST

START_TEST(code_checks)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char hex[ISOL8_SHA256_HEXLEN];
	char upper[ISOL8_SHA256_HEXLEN];

	isol8_sha256_hexdigest("print(1)\n", 9, hex);
	for (size_t i = 0; i < 65; i++)
		upper[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 32 : hex[i]);
	ck_assert_int_eq(remote_code_check("print(1)\n", 9, NULL, &err), 0);
	ck_assert_int_eq(remote_code_check("print(1)\n", 9, hex, &err), 0);
	ck_assert_int_eq(remote_code_check("print(1)\n", 9, upper, &err), 0); /* case-insensitive */
	ck_assert_int_eq(remote_code_check("print(2)\n", 9, hex, &err), -1);
	ck_assert_str_eq(err.msg, "Remote code hash mismatch");
	ck_assert_int_eq(remote_code_check("", 0, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "Remote code response body is empty");
	ck_assert_int_eq(remote_code_check("ab\0cd", 5, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "Fetched code appears to be binary content");
	ck_assert_int_eq(remote_code_check("ab\xff\0", 4, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "Fetched code is not valid UTF-8 (invalid byte 0xff at offset 2)");
}
END_TEST

START_TEST(answer_framing)
{
	struct isol8_err err = ISOL8_ERR_INIT, e = ISOL8_ERR_INIT;
	char line[320], *code;
	size_t len;

	ck_assert_int_eq(remote_result_parse("OK 3\nabc", 8, &code, &len, &err), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(code, "abc");
	free(code);
	isol8_err_set(&e, ISOL8_E_POLICY, 0, "Blocked code URL host: a\nb");
	remote_result_err(&e, line, sizeof line);
	ck_assert_str_eq(line, "ERR 3 Blocked code URL host: a b\n");
	ck_assert_int_eq(remote_result_parse(line, strlen(line), &code, &len, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_str_eq(err.msg, "Blocked code URL host: a b");
	ck_assert_ptr_null(code);
	static const char *const bad[] = {"",          "OK 3\nab",   "OK 3\nabcd", "OK x\nabc",
					  "OK \n",     "ERR 3 x",    "ERR 0 x\n",  "ERR 99 x\n",
					  "ERR x y\n", "ERR 3 a\nb", "HELLO\n",    "OK 99999999999\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err = (struct isol8_err)ISOL8_ERR_INIT;
		ck_assert_msg(remote_result_parse(bad[i], strlen(bad[i]), &code, &len, &err) == -1, "accepted %s",
			      bad[i]);
		ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	}
}
END_TEST

static void rules_default(struct fetch_rules *r)
{
	memset(r, 0, sizeof *r);
	r->https_ok = true;
	r->net.allow = xcalloc(2, sizeof *r->net.allow);
	r->net.allow[0] = xstrdup("*");
	r->net.n_allow = 1;
	r->net.ports = xcalloc(2, sizeof *r->net.ports);
	r->net.ports[0] = 443;
	r->net.ports[1] = 80;
	r->net.n_ports = 2;
	r->max_size = 1000;
	r->timeout_ms = 1000;
}

static void url_refused(const struct fetch_rules *r, const char *url, bool insecure, const char *msg)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct fetch_target t;

	ck_assert_msg(fetch_url_check(url, insecure, r, &t, &err) == -1, "%s accepted", url);
	ck_assert_str_eq(err.msg, msg);
}

START_TEST(url_checks_in_order)
{
	struct fetch_rules r;
	struct fetch_target t;
	struct isol8_err err = ISOL8_ERR_INIT;

	rules_default(&r);
	ck_assert_int_eq(fetch_url_check("https://Raw.GitHubUserContent.com./u/r/main/x.py", false, &r, &t, &err), 0);
	ck_assert_str_eq(t.host, "raw.githubusercontent.com");
	ck_assert_uint_eq(t.port, 443);
	ck_assert(!t.literal);
	/* step 2 before step 3: http is refused without the flag even if the scheme is allowed */
	url_refused(&r, "http://example.com/x.py", false,
		    "Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP.");
	url_refused(&r, "http://example.com/x.py", true, "URL scheme not allowed: http");
	r.http_ok = true;
	ck_assert_int_eq(fetch_url_check("http://example.com/x.py", true, &r, &t, &err), 0);
	ck_assert_uint_eq(t.port, 80);
	url_refused(&r, "ftp://example.com/x.py", true, "URL scheme not allowed: ftp");
	url_refused(&r, "file:///etc/passwd", true, "URL scheme not allowed: file");
	url_refused(&r, "example.com/x.py", true, "Invalid code URL: example.com/x.py");
	/* step 4: ports, then literals of every private class (step 5 on literals) */
	url_refused(&r, "https://example.com:8443/x.py", false, "Blocked code URL port: 8443");
	static const char *const priv[] = {"https://127.0.0.1/x",
					   "https://10.1.2.3/x",
					   "https://172.16.0.1/x",
					   "https://192.168.1.1/x",
					   "https://169.254.169.254/x",
					   "https://100.64.0.1/x",
					   "https://0.0.0.0/x",
					   "https://[::1]/x",
					   "https://[fd00::1]/x",
					   "https://[fe80::1]/x",
					   "https://[::ffff:127.0.0.1]/x",
					   "https://[64:ff9b::a00:1]/x",
					   "https://[2002:7f00:1::]/x",
					   "https://[::]/x",
					   "https://2130706433/x",
					   "https://0x7f.1/x",
					   "https://[fc00::1]/x"};
	for (size_t i = 0; i < sizeof priv / sizeof *priv; i++) {
		err = (struct isol8_err)ISOL8_ERR_INIT;
		ck_assert_msg(fetch_url_check(priv[i], false, &r, &t, &err) == -1, "%s accepted", priv[i]);
		ck_assert_msg(strncmp(err.msg, "Blocked code URL host: ", 23) == 0, "%s: %s", priv[i], err.msg);
		ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	}
	ck_assert_int_eq(fetch_url_check("https://[2606:4700::1]/x", false, &r, &t, &err), 0);
	ck_assert_str_eq(t.host, "2606:4700::1");
	ck_assert(t.literal);
	/* the admin's allowAddresses opens exactly that range */
	r.net.addrs = xcalloc(2, sizeof *r.net.addrs);
	r.net.addrs[0] = xstrdup("127.0.0.2/32");
	r.net.n_addrs = 1;
	ck_assert_int_eq(fetch_url_check("https://127.0.0.2/x", false, &r, &t, &err), 0);
	url_refused(&r, "https://127.0.0.1/x", false, "Blocked code URL host: 127.0.0.1");
	/* host patterns: deny first, then allow */
	r.net.deny = xcalloc(2, sizeof *r.net.deny);
	r.net.deny[0] = xstrdup("*.evil.test");
	r.net.n_deny = 1;
	url_refused(&r, "https://a.evil.test/x", false, "Blocked code URL host: a.evil.test");
	free(r.net.allow[0]);
	r.net.allow[0] = xstrdup("*.githubusercontent.com");
	url_refused(&r, "https://example.com/x", false, "Blocked code URL host: example.com");
	ck_assert_int_eq(fetch_url_check("https://gist.githubusercontent.com/a/raw/b.py", false, &r, &t, &err), 0);
	net_policy_free(&r.net);
}
END_TEST

START_TEST(job_wire)
{
	struct fetch_job j = {0}, k;
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	rules_default(&j.r);
	j.url = xstrdup("https://example.com/x.py");
	j.hash = NULL;
	j.insecure = true;
	j.r.require_hash = true;
	fetch_job_put(&b, &j);
	ck_assert_int_eq(fetch_job_get(b.data, b.len, &k, &err), 0);
	ck_assert_str_eq(k.url, "https://example.com/x.py");
	ck_assert_ptr_null(k.hash);
	ck_assert(k.insecure && k.r.https_ok && !k.r.http_ok && k.r.require_hash);
	ck_assert_uint_eq(k.r.max_size, 1000);
	ck_assert_uint_eq(k.r.net.n_ports, 2);
	fetch_job_free(&k);
	/* truncated, trailing bytes, a bad hash, out-of-range sizes */
	ck_assert_int_eq(fetch_job_get(b.data, b.len - 1, &k, &err), -1);
	isol8_put_u8(&b, 0);
	ck_assert_int_eq(fetch_job_get(b.data, b.len, &k, &err), -1);
	isol8_buf_free(&b);
	j.hash = xstrdup("abc");
	fetch_job_put(&b, &j);
	ck_assert_int_eq(fetch_job_get(b.data, b.len, &k, &err), -1);
	isol8_buf_free(&b);
	free(j.hash);
	j.hash = NULL;
	j.r.max_size = (uint64_t)ISOL8_REMOTE_MAX_CODE + 1;
	fetch_job_put(&b, &j);
	ck_assert_int_eq(fetch_job_get(b.data, b.len, &k, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	isol8_buf_free(&b);
	fetch_job_free(&j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("remote_code");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, github_gist_urls);
	tcase_add_test(tc, hash_format);
	tcase_add_test(tc, utf8);
	tcase_add_test(tc, code_checks);
	tcase_add_test(tc, answer_framing);
	tcase_add_test(tc, url_checks_in_order);
	tcase_add_test(tc, job_wire);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
