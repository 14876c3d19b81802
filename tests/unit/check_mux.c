/* docker/mux.c: incremental decoding of Docker's 8-byte-header multiplexed stream. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "docker/mux.h"

struct sink {
	struct isol8_buf out, errb;
	int calls;
	int fail_after; /* return -1 on this call number (1-based); 0 = never */
};

static int collect(int stream, const char *data, size_t len, void *ctx)
{
	struct sink *s = ctx;

	s->calls++;
	ck_assert_uint_gt(len, 0);
	if (s->fail_after && s->calls == s->fail_after)
		return -1;
	isol8_buf_append(stream == 1 ? &s->out : &s->errb, data, len);
	return 0;
}

static void sink_free(struct sink *s)
{
	isol8_buf_free(&s->out);
	isol8_buf_free(&s->errb);
}

static size_t frame(uint8_t *dst, int stream, const char *payload, uint32_t len)
{
	dst[0] = (uint8_t)stream;
	dst[1] = dst[2] = dst[3] = 0;
	dst[4] = (uint8_t)(len >> 24);
	dst[5] = (uint8_t)(len >> 16);
	dst[6] = (uint8_t)(len >> 8);
	dst[7] = (uint8_t)len;
	memcpy(dst + 8, payload, len);
	return 8 + len;
}

/* stdout "hello\n", empty stderr frame, stderr "oops", stdout "!" */
static size_t sample(uint8_t *buf)
{
	size_t n = 0;

	n += frame(buf + n, 1, "hello\n", 6);
	n += frame(buf + n, 2, "", 0);
	n += frame(buf + n, 2, "oops", 4);
	n += frame(buf + n, 1, "!", 1);
	return n;
}

START_TEST(test_whole)
{
	uint8_t buf[128];
	size_t n = sample(buf);
	struct docker_mux m;
	struct sink s = {0};
	struct isol8_err err = ISOL8_ERR_INIT;

	docker_mux_init(&m);
	ck_assert_int_eq(docker_mux_feed(&m, buf, n, collect, &s, &err), 0);
	ck_assert(docker_mux_at_boundary(&m));
	ck_assert_str_eq(s.out.data, "hello\n!");
	ck_assert_str_eq(s.errb.data, "oops");
	ck_assert_int_eq(s.calls, 3); /* the zero-length frame produces no callback */
	sink_free(&s);
}
END_TEST

/* Split the sample into two feeds at every offset, then feed byte by byte. */
START_TEST(test_split_every_offset)
{
	uint8_t buf[128];
	size_t n = sample(buf);

	for (size_t cut = 0; cut <= n; cut++) {
		struct docker_mux m;
		struct sink s = {0};
		struct isol8_err err = ISOL8_ERR_INIT;

		docker_mux_init(&m);
		ck_assert_int_eq(docker_mux_feed(&m, buf, cut, collect, &s, &err), 0);
		/* frames end at 14, 22, 34 and 43 */
		ck_assert_int_eq(docker_mux_at_boundary(&m) != 0,
				 cut == 0 || cut == 14 || cut == 22 || cut == 34 || cut == 43);
		ck_assert_int_eq(docker_mux_feed(&m, buf + cut, n - cut, collect, &s, &err), 0);
		ck_assert(docker_mux_at_boundary(&m));
		ck_assert_str_eq(s.out.data, "hello\n!");
		ck_assert_str_eq(s.errb.data, "oops");
		sink_free(&s);
	}
	{
		struct docker_mux m;
		struct sink s = {0};
		struct isol8_err err = ISOL8_ERR_INIT;

		docker_mux_init(&m);
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(docker_mux_feed(&m, buf + i, 1, collect, &s, &err), 0);
		ck_assert(docker_mux_at_boundary(&m));
		ck_assert_str_eq(s.out.data, "hello\n!");
		ck_assert_str_eq(s.errb.data, "oops");
		sink_free(&s);
	}
}
END_TEST

START_TEST(test_boundary_midframe)
{
	uint8_t buf[64];
	size_t n = frame(buf, 1, "abcdef", 6);
	struct docker_mux m;
	struct sink s = {0};
	struct isol8_err err = ISOL8_ERR_INIT;

	docker_mux_init(&m);
	ck_assert(docker_mux_at_boundary(&m));
	ck_assert_int_eq(docker_mux_feed(&m, buf, 3, collect, &s, &err), 0);
	ck_assert(!docker_mux_at_boundary(&m)); /* inside a header */
	ck_assert_int_eq(docker_mux_feed(&m, buf + 3, n - 5, collect, &s, &err), 0);
	ck_assert(!docker_mux_at_boundary(&m)); /* inside a payload */
	ck_assert_int_eq(docker_mux_feed(&m, buf + n - 2, 2, collect, &s, &err), 0);
	ck_assert(docker_mux_at_boundary(&m));
	ck_assert_str_eq(s.out.data, "abcdef");
	sink_free(&s);
}
END_TEST

static void expect_bad_header(const uint8_t hdr[8], const char *needle)
{
	struct docker_mux m;
	struct sink s = {0};
	struct isol8_err err = ISOL8_ERR_INIT;

	docker_mux_init(&m);
	ck_assert_int_eq(docker_mux_feed(&m, hdr, 8, collect, &s, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, needle));
	ck_assert(!docker_mux_at_boundary(&m));
	ck_assert_int_eq(s.calls, 0);
	/* The decoder stays failed, even for valid input. */
	{
		uint8_t ok[16];
		size_t n = frame(ok, 1, "x", 1);
		isol8_err_clear(&err);
		ck_assert_int_eq(docker_mux_feed(&m, ok, n, collect, &s, &err), -1);
		ck_assert_int_eq(err.code, ISOL8_E_PROTO);
		ck_assert_int_eq(s.calls, 0);
	}
	sink_free(&s);
}

START_TEST(test_bad_stream_ids)
{
	const uint8_t stdin_id[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	const uint8_t systemerr[8] = {3, 0, 0, 0, 0, 0, 0, 1};
	const uint8_t high[8] = {0xff, 0, 0, 0, 0, 0, 0, 0};

	expect_bad_header(stdin_id, "unknown stream id 0");
	expect_bad_header(systemerr, "unknown stream id 3");
	expect_bad_header(high, "unknown stream id 255");
}
END_TEST

START_TEST(test_bad_padding)
{
	const uint8_t p1[8] = {1, 1, 0, 0, 0, 0, 0, 1};
	const uint8_t p2[8] = {2, 0, 0x80, 0, 0, 0, 0, 1};
	const uint8_t p3[8] = {1, 0, 0, 0xff, 0, 0, 0, 1};

	expect_bad_header(p1, "padding");
	expect_bad_header(p2, "padding");
	expect_bad_header(p3, "padding");
}
END_TEST

/* A 4 GiB-1 size field must not allocate or fail: the bytes are passed through as they come. */
START_TEST(test_huge_size)
{
	const uint8_t hdr[8] = {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
	char chunk[4096];
	struct docker_mux m;
	struct sink s = {0};
	struct isol8_err err = ISOL8_ERR_INIT;

	memset(chunk, 'z', sizeof chunk);
	docker_mux_init(&m);
	ck_assert_int_eq(docker_mux_feed(&m, hdr, 8, collect, &s, &err), 0);
	ck_assert_uint_eq(m.remaining, 0xffffffffu);
	ck_assert_int_eq(docker_mux_feed(&m, chunk, sizeof chunk, collect, &s, &err), 0);
	ck_assert_uint_eq(s.out.len, sizeof chunk);
	ck_assert_uint_eq(m.remaining, 0xffffffffu - sizeof chunk);
	ck_assert(!docker_mux_at_boundary(&m));
	sink_free(&s);
}
END_TEST

START_TEST(test_callback_fails)
{
	uint8_t buf[128];
	size_t n = sample(buf);
	struct docker_mux m;
	struct sink s = {.fail_after = 2};
	struct isol8_err err = ISOL8_ERR_INIT;

	docker_mux_init(&m);
	ck_assert_int_eq(docker_mux_feed(&m, buf, n, collect, &s, &err), -1);
	ck_assert_int_eq(s.calls, 2);
	ck_assert_str_eq(s.out.data, "hello\n");
	ck_assert_uint_eq(s.errb.len, 0);
	ck_assert(!docker_mux_at_boundary(&m));
	ck_assert_int_eq(docker_mux_feed(&m, buf, n, collect, &s, &err), -1);
	ck_assert_int_eq(s.calls, 2);
	sink_free(&s);
}
END_TEST

START_TEST(test_empty_feed)
{
	struct docker_mux m;
	struct sink s = {0};
	struct isol8_err err = ISOL8_ERR_INIT;

	docker_mux_init(&m);
	ck_assert_int_eq(docker_mux_feed(&m, "", 0, collect, &s, &err), 0);
	ck_assert(docker_mux_at_boundary(&m));
	ck_assert_int_eq(s.calls, 0);
}
END_TEST

static Suite *mux_suite(void)
{
	Suite *s = suite_create("mux");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_whole);
	tcase_add_test(tc, test_split_every_offset);
	tcase_add_test(tc, test_boundary_midframe);
	tcase_add_test(tc, test_bad_stream_ids);
	tcase_add_test(tc, test_bad_padding);
	tcase_add_test(tc, test_huge_size);
	tcase_add_test(tc, test_callback_fails);
	tcase_add_test(tc, test_empty_feed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mux_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
