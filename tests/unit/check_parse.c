#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/parse.h"
#include "common/proto.h"

static uint64_t size_ok(const char *s)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t v = 12345;

	ck_assert_msg(isol8_parse_size(s, &v, &err) == 0, "size \"%s\" rejected: %s", s, err.msg);
	return v;
}

static void size_bad(const char *s)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t v = 12345;

	ck_assert_msg(isol8_parse_size(s, &v, &err) == -1, "size \"%s\" accepted", s);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_msg(strstr(err.msg, "invalid size") != NULL, "msg: %s", err.msg);
	ck_assert(v == 12345);
}

START_TEST(test_size_valid)
{
	ck_assert(size_ok("0") == 0);
	ck_assert(size_ok("1024") == 1024);
	ck_assert(size_ok("512m") == 512ULL << 20);
	ck_assert(size_ok("512M") == 512ULL << 20);
	ck_assert(size_ok("512mb") == 512ULL << 20);
	ck_assert(size_ok("512MB") == 512ULL << 20);
	ck_assert(size_ok("1g") == 1ULL << 30);
	ck_assert(size_ok("2G") == 2ULL << 30);
	ck_assert(size_ok("256k") == 256ULL << 10);
	ck_assert(size_ok("256Kb") == 256ULL << 10);
	ck_assert(size_ok("1t") == 1ULL << 40);
	ck_assert(size_ok("1.5g") == 3ULL << 29);
	ck_assert(size_ok("0.5k") == 512);
	ck_assert(size_ok("1.0001k") == 1024); /* 1024.1024 floored */
	ck_assert(size_ok("1.5") == 1);
	ck_assert(size_ok("100b") == 100);
	ck_assert(size_ok("100B") == 100);
	ck_assert(size_ok("007m") == 7ULL << 20);
	ck_assert(size_ok("18446744073709551615") == UINT64_MAX);
	ck_assert(size_ok("16777215.999t") == 16777215ULL * (1ULL << 40) + 1098412116148ULL);
}
END_TEST

START_TEST(test_size_hostile)
{
	static const char *const bad[] = {
		"",          "12x",
		"-1",        " 1",
		"1 ",        "1 m",
		"+1",        "1e9",
		"0x10",      "nan",
		"inf",       "NaN",
		"Infinity",  ".5g",
		"1.",        "1.g",
		"1..5",      "1mm",
		"1bb",       "1bk",
		"m",         "b",
		"1kib",      "1,5g",
		"1.5.5",     "18446744073709551616",
		"16777216t", "99999999999999999999999999g",
		"1\n",       "1\t",
		"\xc3\xa9",  "1\xc3\xa9",
		"１",        "1k\xff",
		"--1",       "0b101",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		size_bad(bad[i]);
	{
		struct isol8_err err = ISOL8_ERR_INIT;
		uint64_t v;
		ck_assert_int_eq(isol8_parse_size(NULL, &v, &err), -1);
	}
}
END_TEST

START_TEST(test_size_long_input)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	size_t n = 100000;
	char *s = malloc(n + 2);
	uint64_t v;

	/* Many leading zeros are still the number 1. */
	memset(s, '0', n);
	s[n - 1] = '1';
	s[n] = 'k';
	s[n + 1] = '\0';
	ck_assert_int_eq(isol8_parse_size(s, &v, &err), 0);
	ck_assert(v == 1024);
	/* A long run of nines overflows; the message stays bounded and printable. */
	memset(s, '9', n);
	ck_assert_int_eq(isol8_parse_size(s, &v, &err), -1);
	ck_assert(strlen(err.msg) < 200);
	/* Long fraction: extra digits are ignored, not an error. */
	s[0] = '1';
	s[1] = '.';
	memset(s + 2, '5', n - 2);
	s[n] = 'k';
	ck_assert_int_eq(isol8_parse_size(s, &v, &err), 0);
	ck_assert(v == 1592); /* 1.5555...k = 1592.88 floored */
	free(s);
}
END_TEST

START_TEST(test_size_message_escapes)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t v;

	ck_assert_int_eq(isol8_parse_size("12\x1b[31mx", &v, &err), -1);
	ck_assert_ptr_null(strchr(err.msg, '\x1b'));
	ck_assert_ptr_nonnull(strstr(err.msg, "\\x1b"));
}
END_TEST

START_TEST(test_format_size)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{0, "0"},
		{1, "1"},
		{1023, "1023"},
		{1024, "1k"},
		{1536, "1536"},
		{1536ULL << 10, "1536k"},
		{512ULL << 20, "512m"},
		{1ULL << 30, "1g"},
		{3ULL << 29, "1536m"},
		{1ULL << 40, "1t"},
		{UINT64_MAX, "18446744073709551615"},
	};
	char buf[32];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t back;
		struct isol8_err err = ISOL8_ERR_INIT;
		isol8_format_size(cases[i].v, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].s);
		ck_assert_int_eq(isol8_parse_size(buf, &back, &err), 0);
		ck_assert(back == cases[i].v);
	}
	isol8_format_size(512ULL << 20, buf, 3);
	ck_assert_str_eq(buf, "51");
}
END_TEST

START_TEST(test_duration)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
		{"30000", 30000}, {"0", 0},     {"30s", 30000},    {"1.5s", 1500}, {"2m", 120000}, {"250ms", 250},
		{"1h", 3600000},  {"0.5ms", 0}, {"1.0009s", 1000}, {"30S", 30000}, {"250MS", 250},
	};
	static const char *const bad[] = {
		"",
		"-1",
		" 1",
		"1 ",
		"1 s",
		"1e3",
		"0x10",
		"nan",
		"inf",
		"1x",
		"1sec",
		"1.s",
		"s",
		"1mss",
		"1msx",
		"18446744073709551616",
		"18446744073709551615s",
		"\xe2\x82\xac",
	};
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t v;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_msg(isol8_parse_duration_ms(ok[i].s, &v, &err) == 0, "%s: %s", ok[i].s, err.msg);
		ck_assert_msg(v == ok[i].ms, "%s -> %llu", ok[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(isol8_parse_duration_ms(bad[i], &v, &err) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	}
}
END_TEST

START_TEST(test_u64)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t v;

	ck_assert_int_eq(isol8_parse_u64("0", 10, &v, &err), 0);
	ck_assert(v == 0);
	ck_assert_int_eq(isol8_parse_u64("10", 10, &v, &err), 0);
	ck_assert(v == 10);
	ck_assert_int_eq(isol8_parse_u64("18446744073709551615", UINT64_MAX, &v, &err), 0);
	ck_assert(v == UINT64_MAX);
	ck_assert_int_eq(isol8_parse_u64("11", 10, &v, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "at most 10"));
	static const char *const bad[] = {
		"",
		"-1",
		"+1",
		" 1",
		"1 ",
		"1.0",
		"1e9",
		"0x10",
		"nan",
		"inf",
		"1k",
		"18446744073709551616",
		"99999999999999999999999",
		"\xef\xbc\x91",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(isol8_parse_u64(bad[i], UINT64_MAX, &v, &err) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_cpu)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	double v;

	ck_assert_int_eq(isol8_parse_cpu("1", &v, &err), 0);
	ck_assert(v == 1.0);
	ck_assert_int_eq(isol8_parse_cpu("0.5", &v, &err), 0);
	ck_assert(v == 0.5);
	ck_assert_int_eq(isol8_parse_cpu("2.0", &v, &err), 0);
	ck_assert(v == 2.0);
	ck_assert_int_eq(isol8_parse_cpu("1024", &v, &err), 0);
	ck_assert_int_eq(isol8_parse_cpu("0.001", &v, &err), 0);
	static const char *const bad[] = {
		"",    "0",    "0.0",  "-1",  "-0.5", "1024.5",   "1025", "99999999999999999999999",
		"1e9", "1e-3", "0x10", "nan", "NAN",  "inf",      "-inf", " 1",
		"1 ",  "1,5",  ".5",   "5.",  "1c",   "\xc2\xbd",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(isol8_parse_cpu(bad[i], &v, &err) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	}
}
END_TEST

START_TEST(test_env_name)
{
	ck_assert(isol8_valid_env_name("A"));
	ck_assert(isol8_valid_env_name("_"));
	ck_assert(isol8_valid_env_name("API_KEY_2"));
	ck_assert(isol8_valid_env_name("lower_case"));
	ck_assert(!isol8_valid_env_name(""));
	ck_assert(!isol8_valid_env_name(NULL));
	ck_assert(!isol8_valid_env_name("2A"));
	ck_assert(!isol8_valid_env_name("A-B"));
	ck_assert(!isol8_valid_env_name("A B"));
	ck_assert(!isol8_valid_env_name("A="));
	ck_assert(!isol8_valid_env_name("A\n"));
	ck_assert(!isol8_valid_env_name("\xc3\xa9"));
	ck_assert(!isol8_valid_env_name("A\xc3\xa9"));
}
END_TEST

START_TEST(test_kv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char *k = NULL, *v = NULL;

	ck_assert_int_eq(isol8_parse_kv("KEY=VALUE", &k, &v, &err), 0);
	ck_assert_str_eq(k, "KEY");
	ck_assert_str_eq(v, "VALUE");
	free(k), free(v);
	ck_assert_int_eq(isol8_parse_kv("A=b=c", &k, &v, &err), 0);
	ck_assert_str_eq(k, "A");
	ck_assert_str_eq(v, "b=c");
	free(k), free(v);
	/* An empty value is legitimate (unsets nothing, sets ""). */
	ck_assert_int_eq(isol8_parse_kv("K=", &k, &v, &err), 0);
	ck_assert_str_eq(k, "K");
	ck_assert_str_eq(v, "");
	free(k), free(v);
	ck_assert_int_eq(isol8_parse_kv("K= spaced value \xc3\xa9", &k, &v, &err), 0);
	ck_assert_str_eq(v, " spaced value \xc3\xa9");
	free(k), free(v);
	k = v = NULL;
	static const char *const bad[] = {
		"", "=v", "=", "K", "1K=v", "K K=v", " K=v", "K =v", "K-1=v", "\xc3\xa9=v", "K\n=v",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(isol8_parse_kv(bad[i], &k, &v, &err) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_ptr_null(k);
		ck_assert_ptr_null(v);
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	}
}
END_TEST

START_TEST(test_kv_long)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	size_t n = 1 << 20;
	char *s = malloc(n + 1), *k = NULL, *v = NULL;

	memset(s, 'A', n);
	s[n] = '\0';
	s[n / 2] = '=';
	ck_assert_int_eq(isol8_parse_kv(s, &k, &v, &err), 0);
	ck_assert_uint_eq(strlen(k), n / 2);
	ck_assert_uint_eq(strlen(v), n - n / 2 - 1);
	free(k), free(v);
	s[n / 2] = 'A';
	ck_assert_int_eq(isol8_parse_kv(s, &k, &v, &err), -1);
	ck_assert(strlen(err.msg) < 200);
	free(s);
}
END_TEST

START_TEST(test_pool_size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint32_t c = 99, d = 99;
	static const char *const bad[] = {
		"",
		",",
		"1,",
		",1",
		"1,,1",
		"1,2,3",
		" 1",
		"1 ",
		"1, 2",
		"-1",
		"+1",
		"1,-0",
		"17",
		"1,17",
		"17,1",
		"0x2",
		"1.5",
		"2,1.0",
		"99999999999999999999",
		"1,99999999999999999999999999999999",
		"1\n",
		"1\t,1",
		"a,b",
		"1;1",
		"1:1",
		"1\xff",
		"1,\x80",
		"00000000000000000000000000000000001,1",
	};

	ck_assert_int_eq(isol8_parse_pool_size("3", 16, &c, &d, &err), 0);
	ck_assert_uint_eq(c, 3);
	ck_assert_uint_eq(d, 3);
	ck_assert_int_eq(isol8_parse_pool_size("2,0", 16, &c, &d, &err), 0);
	ck_assert_uint_eq(c, 2);
	ck_assert_uint_eq(d, 0);
	ck_assert_int_eq(isol8_parse_pool_size("0,16", 16, &c, &d, &err), 0);
	ck_assert_uint_eq(c, 0);
	ck_assert_uint_eq(d, 16);
	ck_assert_int_eq(isol8_parse_pool_size("0", 16, &c, &d, &err), 0);
	ck_assert_uint_eq(c, 0);
	ck_assert_uint_eq(d, 0);
	ck_assert_int_eq(isol8_parse_pool_size("007,01", 16, &c, &d, &err), 0);
	ck_assert_uint_eq(c, 7);
	ck_assert_uint_eq(d, 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = d = 99;
		ck_assert_msg(isol8_parse_pool_size(bad[i], 16, &c, &d, &err) == -1, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
		ck_assert_msg(strstr(err.msg, "invalid pool size") != NULL, "msg: %s", err.msg);
		ck_assert_msg(strchr(err.msg, '\n') == NULL && strchr(err.msg, '\t') == NULL, "raw control byte: %s",
			      err.msg);
		ck_assert_uint_eq(c, 99);
		ck_assert_uint_eq(d, 99);
	}
	ck_assert_int_eq(isol8_parse_pool_size(NULL, 16, &c, &d, &err), -1);
}
END_TEST

START_TEST(test_pool_size_long)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	size_t n = 1 << 20;
	char *s = malloc(n + 1);
	uint32_t c = 99, d = 99;

	memset(s, '1', n);
	s[n] = '\0';
	s[n / 2] = ',';
	ck_assert_int_eq(isol8_parse_pool_size(s, 16, &c, &d, &err), -1);
	ck_assert(strlen(err.msg) < 200);
	memset(s, '0', n);
	s[n - 1] = '1';
	s[n - 3] = ',';
	ck_assert_int_eq(isol8_parse_pool_size(s + n - 3, 16, &c, &d, &err), -1); /* ",01" */
	ck_assert_int_eq(isol8_parse_pool_size(s + n - 4, 16, &c, &d, &err), 0);  /* "0,01" */
	ck_assert_uint_eq(c, 0);
	ck_assert_uint_eq(d, 1);
	free(s);
}
END_TEST

/* Split "agentFlags" words without a shell (common/parse.h). */
static char **split_ok(const char *s, size_t want_n)
{
	struct isol8_err e = ISOL8_ERR_INIT;
	char **w = NULL;
	size_t n = 99;
	ck_assert_msg(isol8_split_words(s, "f", &w, &n, &e) == 0, "%s: %s", s, e.msg);
	ck_assert_uint_eq(n, want_n);
	ck_assert_ptr_null(w[n]);
	return w;
}

static void split_bad(const char *s, const char *msg)
{
	struct isol8_err e = ISOL8_ERR_INIT;
	char **w = (char **)1;
	size_t n = 99;
	ck_assert_int_eq(isol8_split_words(s, "f", &w, &n, &e), -1);
	ck_assert_int_eq(e.code, ISOL8_E_USAGE);
	ck_assert_str_eq(e.msg, msg);
	ck_assert_ptr_null(w);
	ck_assert_uint_eq(n, 0);
}

START_TEST(test_split_words)
{
	char **w, big[ISOL8_AGENT_FLAGS_MAX + 2], many[200] = "";

	w = split_ok("", 0);
	isol8_strv_free(w);
	w = split_ok(" \t\n ", 0);
	isol8_strv_free(w);
	w = split_ok("  --model   claude-sonnet-4-20250514\t--thinking\n", 3);
	ck_assert_str_eq(w[0], "--model");
	ck_assert_str_eq(w[1], "claude-sonnet-4-20250514");
	ck_assert_str_eq(w[2], "--thinking");
	isol8_strv_free(w);
	/* quotes group, nothing expands: no shell ever sees these */
	w = split_ok("--system-prompt 'be brief; $HOME `id` *' --x \"a \\\"b\\\" \\$c\" d\\ e '' \"\"", 7);
	ck_assert_str_eq(w[0], "--system-prompt");
	ck_assert_str_eq(w[1], "be brief; $HOME `id` *");
	ck_assert_str_eq(w[2], "--x");
	ck_assert_str_eq(w[3], "a \"b\" $c");
	ck_assert_str_eq(w[4], "d e");
	ck_assert_str_eq(w[5], "");
	ck_assert_str_eq(w[6], "");
	isol8_strv_free(w);
	w = split_ok("a'b'\"c\"\\d $(rm -rf /) >x |y &z", 7);
	ck_assert_str_eq(w[0], "abcd");
	ck_assert_str_eq(w[1], "$(rm");
	ck_assert_str_eq(w[3], "/)");
	ck_assert_str_eq(w[6], "&z");
	isol8_strv_free(w);
	w = split_ok("\"a\\zb\"", 1); /* in "...", \ before other bytes stays, as in sh */
	ck_assert_str_eq(w[0], "a\\zb");
	isol8_strv_free(w);

	split_bad("--model 'x", "f: unterminated ' quote at byte 8");
	split_bad("\"abc", "f: unterminated \" quote at byte 0");
	split_bad("a\\", "f: trailing backslash");
	split_bad("a\rb", "f: control character 0x0d at byte 1");
	split_bad("'a\x01'", "f: control character 0x01 at byte 2");
	split_bad("a\x7f", "f: control character 0x7f at byte 1");
	for (int i = 0; i < 33; i++)
		strcat(many, "w ");
	split_bad(many, "f: more than 32 words");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	split_bad(big, "f: longer than 4096 bytes");
	big[ISOL8_AGENT_FLAGS_MAX] = '\0';
	w = split_ok(big, 1);
	isol8_strv_free(w);
}
END_TEST

START_TEST(test_sandbox_relpath)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"a", "a"},
		{"/sandbox/a", "a"},
		{"a/b/c.txt", "a/b/c.txt"},
		{"/sandbox/a/b", "a/b"},
		{"..a/b..", "..a/b.."},
		{".hidden", ".hidden"},
		{"/sandbox/sandbox", "sandbox"},
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{"", "w: empty path"},
		{"/sandbox", "w: must name a file inside /sandbox"},
		{"/sandbox/", "w: must name a file inside /sandbox"},
		{"/etc/passwd", "w: must be inside /sandbox"},
		{"/sandboxx/a", "w: must be inside /sandbox"},
		{"/tmp/x", "w: must be inside /sandbox"},
		{"..", "w: empty, '.' and '..' path components are not allowed"},
		{"../etc/passwd", "w: empty, '.' and '..' path components are not allowed"},
		{"/sandbox/../etc", "w: empty, '.' and '..' path components are not allowed"},
		{"a/../../b", "w: empty, '.' and '..' path components are not allowed"},
		{"a//b", "w: empty, '.' and '..' path components are not allowed"},
		{"./a", "w: empty, '.' and '..' path components are not allowed"},
		{"a/.", "w: empty, '.' and '..' path components are not allowed"},
		{"a/", "w: empty, '.' and '..' path components are not allowed"},
		{"/sandbox//a", "w: empty, '.' and '..' path components are not allowed"},
	};
	char out[ISOL8_MAX_PATH + 1], small[4];
	struct isol8_err e;
	char *longp = malloc(ISOL8_MAX_PATH + 2);

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		memset(&e, 0, sizeof e);
		ck_assert_int_eq(isol8_sandbox_relpath(ok[i].in, "w", out, sizeof out, &e), 0);
		ck_assert_str_eq(out, ok[i].out);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		ck_assert_msg(isol8_sandbox_relpath(bad[i].in, "w", out, sizeof out, &e) == -1, "accepted '%s'",
			      bad[i].in);
		ck_assert_int_eq(e.code, ISOL8_E_USAGE);
		ck_assert_str_eq(e.msg, bad[i].msg);
	}
	memset(longp, 'a', ISOL8_MAX_PATH + 1);
	longp[ISOL8_MAX_PATH + 1] = '\0';
	ck_assert_int_eq(isol8_sandbox_relpath(longp, "w", out, sizeof out, &e), -1);
	ck_assert_str_eq(e.msg, "w: longer than 1024 bytes");
	ck_assert_int_eq(isol8_sandbox_relpath("abcd", "w", small, sizeof small, &e), -1);
	ck_assert_str_eq(e.msg, "w: path too long");
	free(longp);
}
END_TEST

static Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_size_valid);
	tcase_add_test(tc, test_size_hostile);
	tcase_add_test(tc, test_size_long_input);
	tcase_add_test(tc, test_size_message_escapes);
	tcase_add_test(tc, test_format_size);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_u64);
	tcase_add_test(tc, test_cpu);
	tcase_add_test(tc, test_env_name);
	tcase_add_test(tc, test_kv);
	tcase_add_test(tc, test_kv_long);
	tcase_add_test(tc, test_pool_size);
	tcase_add_test(tc, test_pool_size_long);
	tcase_add_test(tc, test_sandbox_relpath);
	tcase_add_test(tc, test_split_words);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
