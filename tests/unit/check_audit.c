#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit.h"
#include "common/sha256.h"

static void hex_of(const char *s, size_t n, char out[65])
{
	isol8_sha256_hexdigest(s, n, out);
}

START_TEST(sha256_vectors)
{
	char h[65];
	struct isol8_sha256 c;
	uint8_t d[32];
	static const char *const abc56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	hex_of("", 0, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of(abc56, strlen(abc56), h);
	ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a', fed in uneven pieces: the block buffer's edges. */
	{
		char chunk[1024];
		size_t left = 1000000;
		memset(chunk, 'a', sizeof chunk);
		isol8_sha256_init(&c);
		for (size_t step = 1; left; step = step % 997 + 7) {
			size_t n = step < left ? step : left;
			isol8_sha256_update(&c, chunk, n);
			left -= n;
		}
		isol8_sha256_final(&c, d);
		for (int i = 0; i < 32; i++)
			sprintf(h + 2 * i, "%02x", d[i]);
		ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	}
}
END_TEST

/* A log of n records as the broker writes them. */
static char **make_log(size_t n)
{
	char **lines = calloc(n + 1, sizeof *lines);
	char prev[65] = ISOL8_AUDIT_GENESIS;

	for (size_t i = 0; i < n; i++) {
		struct isol8_buf b = ISOL8_BUF_INIT;
		isol8_audit_put_head(&b, i + 1, prev);
		isol8_buf_printf(&b, "\"type\":\"execution\",\"tenant\":\"t%zu\",\"exitCode\":0}", i);
		lines[i] = isol8_buf_steal(&b, NULL);
		isol8_audit_line_hash(lines[i], strlen(lines[i]), prev);
	}
	return lines;
}

static void free_log(char **l)
{
	for (size_t i = 0; l[i]; i++)
		free(l[i]);
	free(l);
}

/* Verify lines[0..n) (NULL entries skipped); returns the verdict or NULL when intact. */
static const char *run_verify(struct isol8_audit_verify *v, char **lines, size_t n)
{
	char label[32];
	size_t ln = 0;
	int bad = 0;

	isol8_audit_verify_init(v);
	for (size_t i = 0; i < n; i++) {
		if (!lines[i])
			continue;
		snprintf(label, sizeof label, "log:%zu", ++ln);
		if (isol8_audit_verify_line(v, label, lines[i], strlen(lines[i])) < 0)
			bad = 1;
	}
	return bad ? isol8_audit_verify_verdict(v) : NULL;
}

START_TEST(chain_intact)
{
	struct isol8_audit_verify v;
	char **l = make_log(5);
	ck_assert_ptr_null(run_verify(&v, l, 5));
	ck_assert_uint_eq(v.records, 5);
	ck_assert_uint_eq(v.seq, 5);
	ck_assert_uint_eq(v.first_seq, 1);
	free_log(l);
}
END_TEST

START_TEST(chain_edit)
{
	struct isol8_audit_verify v;
	char **l = make_log(5);
	char *p = strstr(l[2], "\"exitCode\":0");
	p[11] = '1'; /* exitCode 0 -> 1 in record 3 */
	ck_assert_str_eq(run_verify(&v, l, 5),
			 "log:4 (seq 4): prev does not match the hash of the record before it: the record at log:3 "
			 "(seq 3) was changed after it was written");
	ck_assert_uint_eq(v.broken_line, 4);
	free_log(l);
}
END_TEST

START_TEST(chain_delete)
{
	struct isol8_audit_verify v;
	char **l = make_log(5);
	char *gone = l[2];
	l[2] = NULL;
	ck_assert_str_eq(run_verify(&v, l, 5),
			 "log:3: seq 4 follows seq 2 at log:2; record 3 is not in the log: it was deleted");
	l[2] = gone;
	free_log(l);
}
END_TEST

START_TEST(chain_swap)
{
	struct isol8_audit_verify v;
	char **l = make_log(5), *t;
	t = l[1], l[1] = l[2], l[2] = t;
	ck_assert_str_eq(run_verify(&v, l, 5),
			 "log:2: seq 3 follows seq 1 at log:1; record 2 is at log:3: records were reordered");
	free_log(l);
}
END_TEST

START_TEST(chain_continues_rotated)
{
	struct isol8_audit_verify v;
	char **l = make_log(6);
	/* A file that starts at record 4 (the first three are in a rotated file). */
	ck_assert_ptr_null(run_verify(&v, l + 3, 3));
	ck_assert_uint_eq(v.first_seq, 4);
	{
		char h[65];
		isol8_audit_line_hash(l[2], strlen(l[2]), h);
		ck_assert_str_eq(v.first_prev, h);
	}
	free_log(l);
}
END_TEST

START_TEST(chain_bad_genesis_and_heads)
{
	struct isol8_audit_verify v;
	char *bad[] = {
		"{\"seq\":1,\"prev\":\"1000000000000000000000000000000000000000000000000000000000000000\",\"x\":1}"};
	static const char *const heads[] = {
		"",
		"{",
		"{\"seq\":",
		"{\"seq\":0,\"prev\":\"" ISOL8_AUDIT_GENESIS "\",\"x\":1}",
		"{\"seq\":01,\"prev\":\"" ISOL8_AUDIT_GENESIS "\",\"x\":1}",
		"{\"seq\":-1,\"prev\":\"" ISOL8_AUDIT_GENESIS "\",\"x\":1}",
		"{\"seq\":99999999999999999999,\"prev\":\"" ISOL8_AUDIT_GENESIS "\",\"x\":1}",
		"{\"seq\":1,\"prev\":\"" ISOL8_AUDIT_GENESIS "\"}",
		"{\"seq\":1,\"prev\":\"000000000000000000000000000000000000000000000000000000000000000A\",\"x\":1}",
		"{\"seq\":1,\"prev\":\"00000000000000000000000000000000000000000000000000000000000000\",\"x\":1}",
		"{ \"seq\":1,\"prev\":\"" ISOL8_AUDIT_GENESIS "\",\"x\":1}",
	};
	uint64_t seq;
	char prev[65];

	ck_assert_str_eq(run_verify(&v, bad, 1), "log:1: seq 1 must have prev 000000000000..., has 100000000000...");
	for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
		ck_assert_msg(isol8_audit_parse_head(heads[i], strlen(heads[i]), &seq, prev) < 0, "head %zu accepted",
			      i);
	{
		const char *ok = "{\"seq\":18446744073709551615,\"prev\":\"" ISOL8_AUDIT_GENESIS "\",\"x\":1}";
		ck_assert_int_eq(isol8_audit_parse_head(ok, strlen(ok), &seq, prev), 0);
		ck_assert_uint_eq(seq, UINT64_MAX);
	}
	{
		char *garbage[] = {"{\"seq\":1,\"prev\":\"" ISOL8_AUDIT_GENESIS "\",\"x\":1}", "not json"};
		ck_assert_str_eq(run_verify(&v, garbage, 2),
				 "log:2: not an audit record (a record starts with {\"seq\":N,\"prev\":\"<sha256>\",); "
				 "record 2 is not in the log: it was deleted");
	}
}
END_TEST

START_TEST(meta_and_utf8)
{
	static const char *const bad_utf8[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
					       "\xff",     "\xc3",         "\xe2\x82"};
	char big[ISOL8_AUDIT_META_VALUE + 2];

	ck_assert(isol8_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++)
		ck_assert_msg(!isol8_utf8_valid(bad_utf8[i], strlen(bad_utf8[i])), "utf8 %zu accepted", i);
	ck_assert(isol8_audit_meta_key_ok("userId"));
	ck_assert(isol8_audit_meta_key_ok("a.b-c_d9"));
	ck_assert(!isol8_audit_meta_key_ok(""));
	ck_assert(!isol8_audit_meta_key_ok(".x"));
	ck_assert(!isol8_audit_meta_key_ok("a b"));
	ck_assert(!isol8_audit_meta_key_ok("a\"b"));
	ck_assert(isol8_audit_meta_value_ok("ticket #42, caf\xc3\xa9"));
	ck_assert(!isol8_audit_meta_value_ok("line\nbreak"));
	ck_assert(!isol8_audit_meta_value_ok("esc\x1b[0m"));
	ck_assert(!isol8_audit_meta_value_ok("\xc3"));
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert(!isol8_audit_meta_value_ok(big));
	big[ISOL8_AUDIT_META_VALUE] = '\0';
	ck_assert(isol8_audit_meta_value_ok(big));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, sha256_vectors);
	tcase_add_test(tc, chain_intact);
	tcase_add_test(tc, chain_edit);
	tcase_add_test(tc, chain_delete);
	tcase_add_test(tc, chain_swap);
	tcase_add_test(tc, chain_continues_rotated);
	tcase_add_test(tc, chain_bad_genesis_and_heads);
	tcase_add_test(tc, meta_and_utf8);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
