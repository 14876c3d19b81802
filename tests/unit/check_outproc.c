#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/outproc.h"

/* Feed text in chunks of `step` bytes (0: all at once), flush, return the output (malloc'd). */
static char *mask_steps(const char *const *secrets, size_t ns, const char *text, size_t len, size_t step,
			size_t *outlen)
{
	struct isol8_masker *m = isol8_masker_new(secrets, ns);
	struct isol8_buf out = ISOL8_BUF_INIT;

	if (!step)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step)
		isol8_masker_feed(m, text + i, len - i < step ? len - i : step, &out);
	isol8_masker_flush(m, &out);
	ck_assert_uint_eq(isol8_masker_pending(m), 0);
	isol8_masker_free(m);
	return isol8_buf_steal(&out, outlen);
}

static void expect_all_steps(const char *const *secrets, size_t ns, const char *text, const char *want)
{
	size_t len = strlen(text);

	for (size_t step = 0; step <= len + 1; step++) {
		size_t ol;
		char *got = mask_steps(secrets, ns, text, len, step, &ol);
		ck_assert_msg(ol == strlen(want) && memcmp(got, want, ol) == 0,
			      "step %zu: text \"%s\": got \"%s\", want \"%s\"", step, text, got, want);
		free(got);
	}
}

/* Reference: leftmost-longest, non-overlapping, on the whole text at once. */
static char *mask_ref(const char *const *secrets, size_t ns, const char *text, size_t len, size_t *outlen)
{
	struct isol8_buf out = ISOL8_BUF_INIT;

	for (size_t i = 0; i < len;) {
		size_t best = 0;
		for (size_t k = 0; k < ns; k++) {
			size_t sl = strlen(secrets[k]);
			if (sl && sl <= len - i && sl > best && memcmp(text + i, secrets[k], sl) == 0)
				best = sl;
		}
		if (best) {
			isol8_buf_puts(&out, "***");
			i += best;
		} else {
			isol8_buf_append(&out, text + i, 1);
			i++;
		}
	}
	return isol8_buf_steal(&out, outlen);
}

START_TEST(test_mask_basic)
{
	const char *s[] = {"hunter2"};
	expect_all_steps(s, 1, "password is hunter2!", "password is ***!");
	expect_all_steps(s, 1, "hunter2", "***");
	expect_all_steps(s, 1, "hunter2hunter2", "******");
	expect_all_steps(s, 1, "hunter", "hunter");
	expect_all_steps(s, 1, "hunterhunter2hunte", "hunter***hunte");
	expect_all_steps(s, 1, "", "");
}
END_TEST

START_TEST(test_mask_split_feeds)
{
	const char *s[] = {"SECRET"};
	struct isol8_masker *m = isol8_masker_new(s, 1);
	struct isol8_buf out = ISOL8_BUF_INIT;

	/* split across 2 feeds */
	isol8_masker_feed(m, "a SEC", 5, &out);
	ck_assert_str_eq(out.data, "a ");
	ck_assert_uint_eq(isol8_masker_pending(m), 3);
	isol8_masker_feed(m, "RET b", 5, &out);
	ck_assert_str_eq(out.data, "a *** b");
	/* split across 3 feeds */
	isol8_masker_feed(m, "SE", 2, &out);
	isol8_masker_feed(m, "CR", 2, &out);
	isol8_masker_feed(m, "ET", 2, &out);
	ck_assert_str_eq(out.data, "a *** b***");
	/* a false start is released as soon as it cannot be a secret */
	isol8_masker_feed(m, "SECRE", 5, &out);
	ck_assert_uint_eq(isol8_masker_pending(m), 5);
	isol8_masker_feed(m, "x", 1, &out);
	ck_assert_str_eq(out.data, "a *** b***SECREx");
	ck_assert_uint_eq(isol8_masker_pending(m), 0);
	/* end of stream releases a held prefix */
	isol8_masker_feed(m, "SECR", 4, &out);
	isol8_masker_flush(m, &out);
	ck_assert_str_eq(out.data, "a *** b***SECRExSECR");
	isol8_buf_free(&out);
	isol8_masker_free(m);
}
END_TEST

START_TEST(test_mask_n_single_byte_feeds)
{
	const char *s[] = {"a-rather-long-secret-value-0123456789"};
	char text[512];
	int n = snprintf(text, sizeof text, "x%sy%s%sz", s[0], s[0], s[0]);
	struct isol8_masker *m = isol8_masker_new(s, 1);
	struct isol8_buf out = ISOL8_BUF_INIT;

	for (int i = 0; i < n; i++) {
		isol8_masker_feed(m, text + i, 1, &out);
		ck_assert_uint_le(isol8_masker_pending(m), strlen(s[0]) - 1);
	}
	isol8_masker_flush(m, &out);
	ck_assert_str_eq(out.data, "x***y******z");
	isol8_buf_free(&out);
	isol8_masker_free(m);
}
END_TEST

START_TEST(test_mask_adjacent_and_multiple)
{
	const char *s[] = {"foo", "bar"};
	expect_all_steps(s, 2, "foobar", "******");
	expect_all_steps(s, 2, "barfoo-foo_bar", "******-***_***");
	expect_all_steps(s, 2, "fobar", "fo***");
	expect_all_steps(s, 2, "ffoo", "f***");
}
END_TEST

START_TEST(test_mask_prefix_secret)
{
	/* Longest match at the earliest position wins. */
	const char *s[] = {"abc", "abcdef"};
	expect_all_steps(s, 2, "abcdef", "***");
	expect_all_steps(s, 2, "abcde", "***de");
	expect_all_steps(s, 2, "abcabcdefabc", "*********");
	expect_all_steps(s, 2, "xabcdexabcdefx", "x***dex***x");
	const char *r[] = {"abcdef", "abc"}; /* order does not matter */
	expect_all_steps(r, 2, "abcdef abc abcd", "*** *** ***d");
}
END_TEST

START_TEST(test_mask_overlapping)
{
	/* Earliest start wins even if a later one is longer. */
	const char *s[] = {"abcd", "cdefgh"};
	expect_all_steps(s, 2, "abcdefgh", "***efgh");
	expect_all_steps(s, 2, "xcdefgh", "x***");
	const char *t[] = {"aa"};
	expect_all_steps(t, 1, "aaaaa", "******a");
	const char *u[] = {"aab", "a"};
	expect_all_steps(u, 2, "aaab", "******");
	expect_all_steps(u, 2, "aaaa", "************");
	const char *v[] = {"abab"};
	expect_all_steps(v, 1, "abababab", "******");
	expect_all_steps(v, 1, "ababab", "***ab");
	/* A long partial that fails must not lose a short match found inside it. */
	const char *w[] = {"a", "abcdefgh", "c"};
	expect_all_steps(w, 3, "abcdefgX", "***b***defgX");
}
END_TEST

START_TEST(test_mask_no_secrets)
{
	const char *empty[] = {"", NULL, ""};
	struct isol8_masker *m = isol8_masker_new(empty, 3);
	struct isol8_buf out = ISOL8_BUF_INIT;

	isol8_masker_feed(m, "abc", 3, &out);
	ck_assert_str_eq(out.data, "abc");
	ck_assert_uint_eq(isol8_masker_pending(m), 0);
	isol8_masker_feed(m, "\0\0x", 3, &out);
	ck_assert_uint_eq(out.len, 6);
	isol8_masker_flush(m, &out);
	ck_assert_uint_eq(out.len, 6);
	isol8_buf_free(&out);
	isol8_masker_free(m);

	m = isol8_masker_new(NULL, 0);
	isol8_masker_feed(m, "zz", 2, &out);
	isol8_masker_flush(m, &out);
	ck_assert_str_eq(out.data, "zz");
	isol8_buf_free(&out);
	isol8_masker_free(m);
}
END_TEST

START_TEST(test_mask_binary)
{
	const char *s[] = {"k\xff\x01y"};
	const char text[] = "\0\0k\xff\x01y\0k\xff\x01\0";
	size_t len = sizeof text - 1;
	const char want[] = "\0\0***\0k\xff\x01\0";

	for (size_t step = 1; step <= len; step++) {
		size_t ol;
		char *got = mask_steps(s, 1, text, len, step, &ol);
		ck_assert_uint_eq(ol, sizeof want - 1);
		ck_assert(memcmp(got, want, ol) == 0);
		free(got);
	}
}
END_TEST

START_TEST(test_mask_random_vs_reference)
{
	/* Small alphabet so secrets overlap, nest and repeat a lot. */
	unsigned seed = 12345;
	for (int round = 0; round < 400; round++) {
		char secbuf[4][8];
		const char *secrets[4];
		size_t ns = 1 + (size_t)(rand_r(&seed) % 4);
		char text[200];
		size_t len = (size_t)(rand_r(&seed) % sizeof text);

		for (size_t k = 0; k < ns; k++) {
			size_t sl = (size_t)(rand_r(&seed) % 7); /* 0 = empty, ignored */
			for (size_t j = 0; j < sl; j++)
				secbuf[k][j] = (char)('a' + rand_r(&seed) % 3);
			secbuf[k][sl] = '\0';
			secrets[k] = secbuf[k];
		}
		for (size_t j = 0; j < len; j++)
			text[j] = (char)('a' + rand_r(&seed) % 3);

		size_t rl;
		char *want = mask_ref(secrets, ns, text, len, &rl);
		/* random chunking */
		struct isol8_masker *m = isol8_masker_new(secrets, ns);
		struct isol8_buf out = ISOL8_BUF_INIT;
		for (size_t i = 0; i < len;) {
			size_t step = 1 + (size_t)(rand_r(&seed) % 9);
			if (step > len - i)
				step = len - i;
			isol8_masker_feed(m, text + i, step, &out);
			i += step;
		}
		isol8_masker_flush(m, &out);
		ck_assert_msg(out.len == rl && (rl == 0 || memcmp(out.data, want, rl) == 0),
			      "round %d: text %.*s want %s got %s", round, (int)len, text, want, out.data);
		isol8_buf_free(&out);
		isol8_masker_free(m);
		free(want);
	}
}
END_TEST

START_TEST(test_mask_linear)
{
	/* Worst case for a naive rescanning masker: a long secret whose prefix repeats in the
	 * stream, plus a one-byte secret, fed byte by byte. Must finish quickly. */
	char secret[4097];
	memset(secret, 'a', 4095);
	secret[4095] = 'b';
	secret[4096] = '\0';
	const char *s[] = {secret, "a"};
	struct isol8_masker *m = isol8_masker_new(s, 2);
	struct isol8_buf out = ISOL8_BUF_INIT;
	size_t total = 4 << 20;

	for (size_t i = 0; i < total; i++) {
		isol8_masker_feed(m, "a", 1, &out);
		if (out.len > 65536)
			isol8_buf_reset(&out);
	}
	isol8_masker_flush(m, &out);
	isol8_buf_free(&out);
	isol8_masker_free(m);
}
END_TEST

START_TEST(test_cap_basic)
{
	struct isol8_outcap c;
	char chunk[100];
	size_t written = 0;
	char marker[128];

	memset(chunk, 'x', sizeof chunk);
	isol8_outcap_init(&c, 1000);
	for (int i = 0; i < 100; i++) /* 10 KB */
		written += isol8_outcap_take_utf8(&c, chunk, sizeof chunk);
	ck_assert_uint_eq(written, 1000);
	ck_assert(c.emitted == 1000);
	ck_assert(c.total == 10000);
	ck_assert(c.truncated);
	ck_assert_int_eq(isol8_outcap_marker(&c, marker, sizeof marker),
			 (int)strlen("\n--- OUTPUT TRUNCATED (10000 bytes, limit: 1000) ---\n"));
	ck_assert_str_eq(marker, "\n--- OUTPUT TRUNCATED (10000 bytes, limit: 1000) ---\n");
}
END_TEST

START_TEST(test_cap_exact_and_odd_chunks)
{
	struct isol8_outcap c;

	isol8_outcap_init(&c, 10);
	ck_assert_uint_eq(isol8_outcap_take(&c, 10), 10);
	ck_assert(!c.truncated); /* exactly at the limit is not truncation */
	ck_assert_uint_eq(isol8_outcap_take(&c, 0), 0);
	ck_assert(!c.truncated);
	ck_assert_uint_eq(isol8_outcap_take(&c, 1), 0);
	ck_assert(c.truncated);
	ck_assert(c.total == 11);

	isol8_outcap_init(&c, 1000);
	size_t w = 0;
	for (size_t i = 1; i < 200; i++)
		w += isol8_outcap_take(&c, i * 7 % 13);
	ck_assert_uint_le(w, 1000);
	ck_assert(c.emitted == w);

	isol8_outcap_init(&c, 0);
	ck_assert_uint_eq(isol8_outcap_take(&c, 5), 0);
	ck_assert(c.truncated);
}
END_TEST

START_TEST(test_cap_utf8_boundary)
{
	struct isol8_outcap c;
	/* "aé€😀": 1 + 2 + 3 + 4 bytes */
	const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	static const struct {
		uint64_t limit;
		size_t want;
	} cases[] = {
		{0, 0}, {1, 1}, {2, 1}, {3, 3}, {4, 3}, {5, 3}, {6, 6}, {7, 6}, {8, 6}, {9, 6}, {10, 10},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		isol8_outcap_init(&c, cases[i].limit);
		size_t n = isol8_outcap_take_utf8(&c, s, sizeof s - 1);
		ck_assert_msg(n == cases[i].want, "limit %llu: got %zu want %zu", (unsigned long long)cases[i].limit, n,
			      cases[i].want);
		ck_assert(c.emitted == n);
		ck_assert(c.emitted <= c.limit);
		ck_assert(c.total == sizeof s - 1);
		/* once cut, nothing more passes even if back-off left room */
		ck_assert_uint_eq(isol8_outcap_take_utf8(&c, "z", 1), 0);
		ck_assert(c.truncated);
	}
	/* Invalid sequences are not "repaired": stray continuation bytes are cut like ASCII. */
	isol8_outcap_init(&c, 3);
	ck_assert_uint_eq(isol8_outcap_take_utf8(&c, "\xc3\xa9\x80\x80", 4), 3);
	isol8_outcap_init(&c, 2);
	ck_assert_uint_eq(isol8_outcap_take_utf8(&c, "ab\x80\x80", 4), 2);
	isol8_outcap_init(&c, 4);
	ck_assert_uint_eq(isol8_outcap_take_utf8(&c, "\x80\x80\x80\x80\x80", 5), 4);
}
END_TEST

START_TEST(test_mask_then_cap_pipeline)
{
	/* The worker's order: mask, then cap the masked bytes. */
	const char *s[] = {"tok3n"};
	struct isol8_masker *m = isol8_masker_new(s, 1);
	struct isol8_outcap c;
	struct isol8_buf masked = ISOL8_BUF_INIT, sink = ISOL8_BUF_INIT;
	const char *in = "tok3n tok3n tok3n tok3n";

	isol8_outcap_init(&c, 8);
	for (size_t i = 0; in[i]; i++) {
		isol8_masker_feed(m, in + i, 1, &masked);
		size_t n = isol8_outcap_take_utf8(&c, masked.data, masked.len);
		isol8_buf_append(&sink, masked.data, n);
		isol8_buf_reset(&masked);
	}
	isol8_masker_flush(m, &masked);
	isol8_buf_append(&sink, masked.data, isol8_outcap_take(&c, masked.len));
	ck_assert_str_eq(sink.data, "*** *** ");
	ck_assert(c.truncated);
	ck_assert(c.total == strlen("*** *** *** ***"));
	isol8_buf_free(&masked);
	isol8_buf_free(&sink);
	isol8_masker_free(m);
}
END_TEST

static Suite *outproc_suite(void)
{
	Suite *s = suite_create("outproc");
	TCase *tm = tcase_create("mask");
	TCase *tc = tcase_create("cap");

	tcase_set_timeout(tm, 20);
	tcase_add_test(tm, test_mask_basic);
	tcase_add_test(tm, test_mask_split_feeds);
	tcase_add_test(tm, test_mask_n_single_byte_feeds);
	tcase_add_test(tm, test_mask_adjacent_and_multiple);
	tcase_add_test(tm, test_mask_prefix_secret);
	tcase_add_test(tm, test_mask_overlapping);
	tcase_add_test(tm, test_mask_no_secrets);
	tcase_add_test(tm, test_mask_binary);
	tcase_add_test(tm, test_mask_random_vs_reference);
	tcase_add_test(tm, test_mask_linear);
	suite_add_tcase(s, tm);
	tcase_add_test(tc, test_cap_basic);
	tcase_add_test(tc, test_cap_exact_and_odd_chunks);
	tcase_add_test(tc, test_cap_utf8_boundary);
	tcase_add_test(tc, test_mask_then_cap_pipeline);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(outproc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
