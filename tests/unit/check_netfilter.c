/* Host patterns (proxy/hostpat.c) and destination address classes (proxy/addr.c): the
 * filtered network's two decisions, with the attacks of issue 12 (#3, #4) as cases. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/proto.h"
#include "proxy/addr.h"
#include "proxy/hostpat.h"
#include "proxy/rules.h"

static void norm_is(const char *in, const char *want)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char *got = hostpat_normalize(in, &err);

	if (!want) {
		ck_assert_msg(got == NULL, "'%s' normalized to '%s'", in, got ? got : "");
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
		ck_assert_msg(strstr(err.msg, "*.domain"), "message names the syntax: %s", err.msg);
		return;
	}
	ck_assert_msg(got != NULL, "'%s': %s", in, err.msg);
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(hostpat_check(got, &err), 0);
	free(got);
}

START_TEST(canonical)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	static const char *const good[] = {"pypi.org",      "*.npmjs.org", "*",           "a",
					   "x-y_z.example", "192.0.2.7",   "2001:db8::1", "*.com"};
	static const char *const bad[] = {
		"",    "*.",  "**", "*.*.a",       "a..b",          ".a",    "a.",  "A.test",   "a b", "a*.b",
		"a.*", "^a$", "a+", "2001:DB8::1", "2001:db8:0::1", "[::1]", "a:b", "ex\\ample"};
	char label[80], longname[300];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(hostpat_check(good[i], &err) == 0, "%s: %s", good[i], err.msg);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(hostpat_check(bad[i], &err) == -1, "'%s' accepted", bad[i]);
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	}
	memset(label, 'a', 64);
	label[64] = '\0'; /* a 64-byte label */
	ck_assert_int_eq(hostpat_check(label, &err), -1);
	label[63] = '\0';
	ck_assert_int_eq(hostpat_check(label, &err), 0);
	for (size_t i = 0; i < 254; i++)
		longname[i] = i % 2 ? '.' : 'a';
	longname[254] = '\0'; /* "a.a.a...." 254 bytes ending in '.' */
	longname[253] = '\0';
	ck_assert_int_eq(hostpat_check(longname, &err), 0);
	longname[253] = 'a';
	longname[254] = '\0';
	ck_assert_int_eq(hostpat_check(longname, &err), -1); /* 255 > 253 */
}
END_TEST

START_TEST(normalize_regex_spellings)
{
	/* what users of the original wrote (spec readme: "^api\\.openai\\.com$", "pypi\\.org") */
	norm_is("^api\\.openai\\.com$", "api.openai.com");
	norm_is("pypi\\.org", "pypi.org");
	norm_is("api.anthropic.com", "api.anthropic.com");
	norm_is("API.Anthropic.COM", "api.anthropic.com");
	norm_is("^pypi\\.org$", "pypi.org");
	norm_is(".*\\.npmjs\\.org", "*.npmjs.org");
	norm_is("^.*\\.npmjs\\.org$", "*.npmjs.org");
	norm_is("^.+\\.npmjs\\.org$", "*.npmjs.org");
	norm_is(".*.npmjs.org", "*.npmjs.org");
	norm_is("\\.npmjs\\.org$", "*.npmjs.org");
	norm_is(".npmjs.org", "*.npmjs.org");
	norm_is("*.npmjs.org", "*.npmjs.org");
	norm_is("*.npmjs\\.org", "*.npmjs.org");
	norm_is(".*", "*");
	norm_is("^.*$", "*");
	norm_is("*", "*");
	norm_is("^192\\.0\\.2\\.7$", "192.0.2.7");
	norm_is("2001:DB8:0::1", "2001:db8::1");
	/* anything else with regex syntax is refused, naming the syntax */
	norm_is("a++++++++++++++++++++", NULL);
	norm_is("(a+)+$", NULL);
	norm_is("(^|\\.)example\\.com$", NULL);
	norm_is("[a-z]+\\.test", NULL);
	norm_is("a|b", NULL);
	norm_is("\\d+\\.test", NULL);
	norm_is("a{1,100}", NULL);
	norm_is("^\\.a$", NULL);
	norm_is("a..b", NULL);
	norm_is("a$b", NULL);
	norm_is("a\\$", NULL);
	norm_is("*.*", NULL);
	norm_is("^$", NULL);
}
END_TEST

START_TEST(normalize_bounds)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char big[ISOL8_NET_MAX_PATTERN + 2];

	memset(big, 'a', sizeof big);
	big[sizeof big - 1] = '\0';
	ck_assert_ptr_null(hostpat_normalize(big, &err));
	ck_assert_ptr_null(hostpat_normalize("", &err));
	/* a 256-byte pattern of nested repetition: refused at once, nothing compiled */
	memset(big, '+', ISOL8_NET_MAX_PATTERN);
	big[0] = 'a';
	big[ISOL8_NET_MAX_PATTERN] = '\0';
	ck_assert_ptr_null(hostpat_normalize(big, &err));
}
END_TEST

START_TEST(match_anchored)
{
	ck_assert(hostpat_match("pypi.org", "pypi.org"));
	ck_assert(hostpat_match("pypi.org", "pypi.org."));
	ck_assert(hostpat_match("pypi.org", "PYPI.org"));
	ck_assert(!hostpat_match("pypi.org", "pypi.org.evil.test"));
	ck_assert(!hostpat_match("pypi.org", "evilpypi.org"));
	ck_assert(!hostpat_match("pypi.org", "files.pypi.org"));
	ck_assert(!hostpat_match("pypi.org", "pypi.or"));
	ck_assert(!hostpat_match("pypi.org", "pypi.org.."));
	ck_assert(hostpat_match("*.npmjs.org", "registry.npmjs.org"));
	ck_assert(hostpat_match("*.npmjs.org", "a.b.npmjs.org"));
	ck_assert(hostpat_match("*.npmjs.org", "a.npmjs.org."));
	ck_assert(!hostpat_match("*.npmjs.org", "npmjs.org"));
	ck_assert(!hostpat_match("*.npmjs.org", "evilnpmjs.org"));
	ck_assert(!hostpat_match("*.npmjs.org", ".npmjs.org"));
	ck_assert(!hostpat_match("*.npmjs.org", "registry.npmjs.org.evil.test"));
	ck_assert(hostpat_match("*", "anything.test"));
	ck_assert(hostpat_match("2001:db8::1", "2001:db8:0:0::1"));
	ck_assert(!hostpat_match("2001:db8::1", "2001:db8::2"));
	ck_assert(!hostpat_match("2001:db8::1", "2001:db8::1.evil"));
	ck_assert(hostpat_match("192.0.2.7", "192.0.2.7"));
	ck_assert(!hostpat_match("192.0.2.7", "192.0.2.70"));
}
END_TEST

START_TEST(match_cost_bounded)
{
	/* The worst case the wire allows: 64 patterns x 253-byte host, per request; far below 1 ms. */
	char host[254], pat[256];
	struct timespec a, b;
	int hits = 0;

	for (size_t i = 0; i < 253; i++)
		host[i] = i % 2 ? '.' : 'a';
	host[253] = '\0';
	snprintf(pat, sizeof pat, "*.%s", host + 2);
	pat[100] = 'b';
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 100000; i++)
		hits += hostpat_match(pat, host);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_int_eq(hits, 0);
	ck_assert_msg((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 2000000000L,
		      "100000 worst-case matches took over 2 s");
}
END_TEST

static bool global(const char *s)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		ck_abort_msg("bad test address %s", s);
	return net_addr_global((struct sockaddr *)&ss);
}

START_TEST(addr_classes)
{
	static const char *const denied[] = {
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254", "127.0.0.1",
		"127.255.0.1", "169.254.169.254", "172.16.0.1", "172.17.0.1", "172.31.255.255", "192.0.0.1",
		"192.0.0.170", "192.0.2.1", "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255",
		"198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		/* IPv6 */
		"::", "::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
		"::8.8.8.8", "64:ff9b::127.0.0.1", "64:ff9b::a00:1", "64:ff9b:1::1", "100::1", "2001::1",
		"2001:0:4136:e378::1", "2001:db8::1", "2001:10::1", "2002:7f00:1::1", "2002:c0a8:101::1", "3fff::1",
		"5f00::1", "fc00::1", "fd00::1", "fdff:ffff::1", "fe80::1", "febf::1", "fec0::1", "feff::1", "ff02::1",
		"ff0e::1", "4000::1", "e000::1"};
	static const char *const allowed[] = {
		"1.1.1.1",           "8.8.8.8",          "100.63.255.255",  "100.128.0.0",
		"172.15.255.255",    "172.32.0.0",       "192.0.1.1",       "192.169.0.1",
		"198.17.255.255",    "198.20.0.0",       "223.255.255.255", "151.101.0.223",
		"::ffff:8.8.8.8",    "64:ff9b::8.8.8.8", "2002:808:808::1", "2001:4860:4860::8888",
		"2a00:1450:4001::1", "2001:200::1",      "3ffe::1"};

	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
		ck_assert_msg(!global(denied[i]), "%s counted as global", denied[i]);
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		ck_assert_msg(global(allowed[i]), "%s counted as non-global", allowed[i]);
}
END_TEST

static struct sockaddr_storage sa_of(const char *s)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return ss;
}

START_TEST(cidr)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct net_cidr c;
	struct sockaddr_storage a;
	static const char *const bad[] = {
		"",    "10.0.0.0/33", "10.0.0.1/24", "10.0.0.0/",    "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8x",
		"x/8", "fd00::/129",  "fd00::1/8",   "10.0.0.0/8/8", "/8"};

	ck_assert_int_eq(net_cidr_parse("10.1.2.0/24", &c, &err), 0);
	a = sa_of("10.1.2.200");
	ck_assert(net_cidr_contains(&c, (struct sockaddr *)&a));
	a = sa_of("10.1.3.1");
	ck_assert(!net_cidr_contains(&c, (struct sockaddr *)&a));
	a = sa_of("::ffff:10.1.2.3");
	ck_assert(net_cidr_contains(&c, (struct sockaddr *)&a));
	ck_assert_int_eq(net_cidr_parse("172.17.0.1", &c, &err), 0);
	ck_assert_uint_eq(c.prefix, 32);
	a = sa_of("172.17.0.1");
	ck_assert(net_cidr_contains(&c, (struct sockaddr *)&a));
	a = sa_of("172.17.0.2");
	ck_assert(!net_cidr_contains(&c, (struct sockaddr *)&a));
	ck_assert_int_eq(net_cidr_parse("fd00::/8", &c, &err), 0);
	a = sa_of("fdab::1");
	ck_assert(net_cidr_contains(&c, (struct sockaddr *)&a));
	a = sa_of("fe00::1");
	ck_assert(!net_cidr_contains(&c, (struct sockaddr *)&a));
	a = sa_of("10.0.0.1");
	ck_assert(!net_cidr_contains(&c, (struct sockaddr *)&a)); /* family differs */
	ck_assert_int_eq(net_cidr_parse("0.0.0.0/0", &c, &err), 0);
	ck_assert(net_cidr_contains(&c, (struct sockaddr *)&a));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(net_cidr_parse(bad[i], &c, &err) == -1, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(policy_wire)
{
	/* PX_LISTEN's policy part: counts, pattern syntax and CIDRs are checked by the receiver. */
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m;
	struct net_policy p, q;
	char *allow[] = {"*.example.org"}, *addrs[] = {"10.0.0.0/8"};
	uint16_t ports[] = {80, 443};
	char *bad_allow[] = {"a++"};

	memset(&p, 0, sizeof p);
	p.allow = allow;
	p.n_allow = 1;
	p.ports = ports;
	p.n_ports = 2;
	p.addrs = addrs;
	p.n_addrs = 1;
	net_policy_put(&b, &p);
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_policy_get(&m, &q, &err), 0);
	ck_assert_int_eq(isol8_msg_end(&m, &err), 0);
	ck_assert_str_eq(q.allow[0], "*.example.org");
	ck_assert(net_policy_port_ok(&q, 443));
	ck_assert(!net_policy_port_ok(&q, 8080));
	net_policy_free(&q);

	b.len = 0;
	p.allow = bad_allow;
	net_policy_put(&b, &p);
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_policy_get(&m, &q, &err), -1);
	ck_assert_uint_eq(q.n_allow, 0);

	b.len = 0;
	p.allow = allow;
	addrs[0] = "10.0.0.1/8";
	net_policy_put(&b, &p);
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_policy_get(&m, &q, &err), -1);

	b.len = 0;
	isol8_put_u32(&b, NET_POLICY_MAX_LIST + 1);
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_policy_get(&m, &q, &err), -1);
	isol8_buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netfilter");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, canonical);
	tcase_add_test(tc, normalize_regex_spellings);
	tcase_add_test(tc, normalize_bounds);
	tcase_add_test(tc, match_anchored);
	tcase_add_test(tc, match_cost_bounded);
	tcase_add_test(tc, addr_classes);
	tcase_add_test(tc, cidr);
	tcase_add_test(tc, policy_wire);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
