/* Unit tests for the WebSocket framing (http/ws.c): the RFC 6455 handshake key,
 * masked and unmasked frames, fragmentation with control frames in between, size caps, bad
 * UTF-8, close payloads, and every message fed split at every byte. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/ws.h"

struct got {
	int n;
	enum ws_op op[16];
	char data[16][256];
	size_t len[16];
	int stop_at; /* return non-zero from the callback for message number stop_at (1-based) */
};

static int collect(void *cls, enum ws_op op, const uint8_t *data, size_t n)
{
	struct got *g = cls;

	if (g->n < 16) {
		g->op[g->n] = op;
		g->len[g->n] = n;
		memcpy(g->data[g->n], data, n < 255 ? n : 255);
		g->data[g->n][n < 255 ? n : 255] = '\0';
	}
	g->n++;
	return g->n == g->stop_at;
}

/* A client frame: masked with a fixed key unless mask is false. */
static size_t frame(uint8_t *out, int fin, uint8_t op, const void *payload, size_t n, int mask)
{
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t h = 0;

	out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
	if (n < 126) {
		out[h++] = (uint8_t)((mask ? 0x80 : 0) | n);
	} else if (n <= 0xFFFF) {
		out[h++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		out[h++] = (uint8_t)(n >> 8);
		out[h++] = (uint8_t)n;
	} else {
		out[h++] = (uint8_t)((mask ? 0x80 : 0) | 127);
		for (int i = 0; i < 8; i++)
			out[h++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	}
	if (mask) {
		memcpy(out + h, key, 4);
		h += 4;
	}
	for (size_t i = 0; i < n; i++)
		out[h + i] = (uint8_t)(((const uint8_t *)payload)[i] ^ (mask ? key[i & 3] : 0));
	return h + n;
}

static int feed_all(const uint8_t *buf, size_t n, struct got *g, uint16_t *st)
{
	struct ws_parser p;
	int r;

	ws_parser_init(&p, 1024);
	r = ws_feed(&p, buf, n, collect, g, st);
	ws_parser_free(&p);
	return r;
}

START_TEST(accept_key)
{
	char out[29];

	/* RFC 6455 section 1.3. */
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_int_eq(ws_accept_key(NULL, out), -1);
	ck_assert_int_eq(ws_accept_key("", out), -1);
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), -1);
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", out), -1);
	ck_assert_int_eq(ws_accept_key("@@@@IHNhbXBsZSBub25jZQ==", out), -1);
	/* 24 characters but 17 bytes. */
	ck_assert_int_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ.x", out), -1);
}
END_TEST

START_TEST(masked_text)
{
	uint8_t buf[512];
	struct got g = {0};
	uint16_t st = 0;
	size_t n = frame(buf, 1, WS_OP_TEXT, "hello", 5, 1);

	ck_assert_int_eq(feed_all(buf, n, &g, &st), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.op[0], WS_OP_TEXT);
	ck_assert_str_eq(g.data[0], "hello");
	/* Empty text message. */
	memset(&g, 0, sizeof g);
	n = frame(buf, 1, WS_OP_TEXT, "", 0, 1);
	ck_assert_int_eq(feed_all(buf, n, &g, &st), 0);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.len[0], 0);
}
END_TEST

START_TEST(unmasked_refused)
{
	uint8_t buf[64];
	struct got g = {0};
	uint16_t st = 0;
	size_t n = frame(buf, 1, WS_OP_TEXT, "hi", 2, 0);

	ck_assert_int_eq(feed_all(buf, n, &g, &st), -1);
	ck_assert_uint_eq(st, WS_CLOSE_PROTOCOL);
	ck_assert_int_eq(g.n, 0);
}
END_TEST

START_TEST(fragmented_with_controls)
{
	uint8_t buf[512];
	size_t n = 0;
	struct got g = {0};
	uint16_t st = 0;

	n += frame(buf + n, 0, WS_OP_TEXT, "hel", 3, 1);
	n += frame(buf + n, 1, WS_OP_PING, "p1", 2, 1);
	n += frame(buf + n, 0, WS_OP_CONT, "lo ", 3, 1);
	n += frame(buf + n, 1, WS_OP_PONG, "", 0, 1);
	n += frame(buf + n, 1, WS_OP_CONT, "world", 5, 1);
	n += frame(buf + n, 1, WS_OP_BINARY, "\x00\xff", 2, 1);
	ck_assert_int_eq(feed_all(buf, n, &g, &st), 0);
	ck_assert_int_eq(g.n, 4);
	ck_assert_int_eq(g.op[0], WS_OP_PING);
	ck_assert_str_eq(g.data[0], "p1");
	ck_assert_int_eq(g.op[1], WS_OP_PONG);
	ck_assert_int_eq(g.op[2], WS_OP_TEXT);
	ck_assert_str_eq(g.data[2], "hello world");
	ck_assert_int_eq(g.op[3], WS_OP_BINARY);
	ck_assert_uint_eq(g.len[3], 2);
}
END_TEST

START_TEST(split_every_byte)
{
	uint8_t buf[1024], big[300];
	size_t n = 0;

	memset(big, 'x', sizeof big);
	n += frame(buf + n, 0, WS_OP_TEXT, "ab", 2, 1);
	n += frame(buf + n, 1, WS_OP_CLOSE, "\x03\xe8ok", 4, 1);
	n += frame(buf + n, 1, WS_OP_CONT, "\xc3\xa9", 2, 1);     /* é */
	n += frame(buf + n, 1, WS_OP_BINARY, big, sizeof big, 1); /* 16-bit length */
	for (size_t cut = 0; cut <= n; cut++) {
		struct ws_parser p;
		struct got g = {0};
		uint16_t st = 0;
		ws_parser_init(&p, 1024);
		/* Two pieces at every cut, then one byte at a time. */
		ck_assert_int_eq(ws_feed(&p, buf, cut, collect, &g, &st), 0);
		ck_assert_int_eq(ws_feed(&p, buf + cut, n - cut, collect, &g, &st), 0);
		ck_assert_int_eq(g.n, 3);
		ck_assert_int_eq(g.op[0], WS_OP_CLOSE);
		ck_assert_int_eq(g.op[1], WS_OP_TEXT);
		ck_assert_str_eq(g.data[1], "ab\xc3\xa9");
		ck_assert_uint_eq(g.len[2], sizeof big);
		ws_parser_free(&p);
	}
	{
		struct ws_parser p;
		struct got g = {0};
		uint16_t st = 0;
		ws_parser_init(&p, 1024);
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(ws_feed(&p, buf + i, 1, collect, &g, &st), 0);
		ck_assert_int_eq(g.n, 3);
		ws_parser_free(&p);
	}
}
END_TEST

START_TEST(oversize)
{
	uint8_t *buf = malloc(4096);
	uint8_t big[1100];
	size_t n;
	struct got g = {0};
	uint16_t st = 0;

	memset(big, 'a', sizeof big);
	/* One frame over the 1024-byte cap: refused from the header alone. */
	n = frame(buf, 1, WS_OP_TEXT, big, sizeof big, 1);
	ck_assert_int_eq(feed_all(buf, 8, &g, &st), -1);
	ck_assert_uint_eq(st, WS_CLOSE_TOO_BIG);
	/* Fragments that only together exceed it. */
	n = frame(buf, 0, WS_OP_TEXT, big, 600, 1);
	n += frame(buf + n, 1, WS_OP_CONT, big, 600, 1);
	st = 0;
	ck_assert_int_eq(feed_all(buf, n, &g, &st), -1);
	ck_assert_uint_eq(st, WS_CLOSE_TOO_BIG);
	/* A 64-bit length with the top bit set. */
	memcpy(buf, "\x81\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04", 14);
	st = 0;
	ck_assert_int_eq(feed_all(buf, 14, &g, &st), -1);
	ck_assert_uint_eq(st, WS_CLOSE_PROTOCOL);
	/* A huge but valid 64-bit length. */
	memcpy(buf, "\x81\xff\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02\x03\x04", 14);
	st = 0;
	ck_assert_int_eq(feed_all(buf, 14, &g, &st), -1);
	ck_assert_uint_eq(st, WS_CLOSE_TOO_BIG);
	ck_assert_int_eq(g.n, 0);
	free(buf);
}
END_TEST

START_TEST(bad_utf8)
{
	static const char *bad[] = {"\xff",  "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
				    "a\xc3", "\x80"};
	uint8_t buf[64];
	size_t n;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct got g = {0};
		uint16_t st = 0;
		n = frame(buf, 1, WS_OP_TEXT, bad[i], strlen(bad[i]), 1);
		ck_assert_int_eq(feed_all(buf, n, &g, &st), -1);
		ck_assert_uint_eq(st, WS_CLOSE_BAD_DATA);
		ck_assert_int_eq(g.n, 0);
	}
	ck_assert(ws_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80 \xe2\x82\xac", 8));
	/* Binary messages are not checked. */
	{
		struct got g = {0};
		uint16_t st = 0;
		n = frame(buf, 1, WS_OP_BINARY, "\xff", 1, 1);
		ck_assert_int_eq(feed_all(buf, n, &g, &st), 0);
		ck_assert_int_eq(g.n, 1);
	}
}
END_TEST

START_TEST(protocol_errors)
{
	struct {
		const char *bytes;
		size_t n;
		uint16_t st;
	} cases[] = {
		{"\xc1\x80", 2, WS_CLOSE_PROTOCOL},                     /* RSV1 */
		{"\x83\x80", 2, WS_CLOSE_PROTOCOL},                     /* reserved opcode */
		{"\x8b\x80", 2, WS_CLOSE_PROTOCOL},                     /* reserved control opcode */
		{"\x80\x80", 2, WS_CLOSE_PROTOCOL},                     /* continuation with nothing to continue */
		{"\x09\x80", 2, WS_CLOSE_PROTOCOL},                     /* fragmented ping */
		{"\x89\xfe", 2, WS_CLOSE_PROTOCOL},                     /* ping over 125 bytes */
		{"\x01\x80\0\0\0\0\x81\x80", 8, WS_CLOSE_PROTOCOL},     /* text inside a fragmented text */
		{"\x88\x81\0\0\0\0\x03", 7, WS_CLOSE_PROTOCOL},         /* close with a 1-byte payload */
		{"\x88\x82\0\0\0\0\x03\xed", 8, WS_CLOSE_PROTOCOL},     /* close 1005 is not sendable */
		{"\x88\x82\0\0\0\0\x00\x00", 8, WS_CLOSE_PROTOCOL},     /* close status 0 */
		{"\x88\x83\0\0\0\0\x03\xe8\xff", 9, WS_CLOSE_BAD_DATA}, /* close reason not UTF-8 */
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct got g = {0};
		uint16_t st = 0;
		ck_assert_msg(feed_all((const uint8_t *)cases[i].bytes, cases[i].n, &g, &st) == -1, "case %zu", i);
		ck_assert_msg(st == cases[i].st, "case %zu: status %u", i, st);
	}
	/* An empty close and a close 4000 are fine. */
	{
		struct got g = {0};
		uint16_t st = 0;
		ck_assert_int_eq(feed_all((const uint8_t *)"\x88\x80\0\0\0\0", 6, &g, &st), 0);
		ck_assert_int_eq(feed_all((const uint8_t *)"\x88\x82\0\0\0\0\x0f\xa0", 8, &g, &st), 0);
		ck_assert_int_eq(g.n, 2);
	}
}
END_TEST

START_TEST(callback_stop)
{
	uint8_t buf[128];
	size_t n = 0;
	struct got g = {.stop_at = 1};
	uint16_t st = 0;

	n += frame(buf + n, 1, WS_OP_CLOSE, "", 0, 1);
	n += frame(buf + n, 1, WS_OP_TEXT, "after", 5, 1);
	ck_assert_int_eq(feed_all(buf, n, &g, &st), 1);
	ck_assert_int_eq(g.n, 1);
}
END_TEST

START_TEST(server_frames)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	char big[70000];
	char reason[200];

	ws_frame(&b, WS_OP_TEXT, "hi", 2);
	ck_assert_uint_eq(b.len, 4);
	ck_assert_int_eq(memcmp(b.data, "\x81\x02hi", 4), 0);
	isol8_buf_reset(&b);
	memset(big, 'z', sizeof big);
	ws_frame(&b, WS_OP_BINARY, big, 200);
	ck_assert_int_eq(memcmp(b.data, "\x82\x7e\x00\xc8", 4), 0);
	isol8_buf_reset(&b);
	ws_frame(&b, WS_OP_BINARY, big, sizeof big);
	ck_assert_uint_eq(b.len, 10 + sizeof big);
	ck_assert_int_eq(memcmp(b.data, "\x82\x7f\0\0\0\0\0\x01\x11\x70", 10), 0);
	isol8_buf_reset(&b);
	/* A long reason is cut to fit 125 bytes without splitting a UTF-8 sequence. */
	for (size_t i = 0; i + 2 < sizeof reason; i += 2)
		memcpy(reason + i, "\xc3\xa9", 2);
	reason[sizeof reason - 2] = '\0';
	ws_frame_close(&b, 1009, reason);
	ck_assert_uint_le(b.len, 127);
	ck_assert_uint_eq((uint8_t)b.data[0], 0x88);
	ck_assert_int_eq(memcmp(b.data + 2, "\x03\xf1", 2), 0);
	ck_assert(ws_utf8_valid((const uint8_t *)b.data + 4, b.len - 4));
	isol8_buf_free(&b);
}
END_TEST

static Suite *ws_suite(void)
{
	Suite *s = suite_create("ws");
	TCase *t = tcase_create("core");

	tcase_add_test(t, accept_key);
	tcase_add_test(t, masked_text);
	tcase_add_test(t, unmasked_refused);
	tcase_add_test(t, fragmented_with_controls);
	tcase_add_test(t, split_every_byte);
	tcase_add_test(t, oversize);
	tcase_add_test(t, bad_utf8);
	tcase_add_test(t, protocol_errors);
	tcase_add_test(t, callback_stop);
	tcase_add_test(t, server_frames);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ws_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
