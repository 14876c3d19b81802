/* isol8-proxy's request-head parser and host rules, including hostile input. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "proxy/http.h"
#include "proxy/rules.h"
#include "proxy/tls.h"

static int parse(const char *s, struct http_req *r, struct isol8_buf *fwd, struct isol8_err *err)
{
	return http_parse_request(s, strlen(s), r, fwd, err);
}

static void bad(const char *s, const char *why)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf fwd = ISOL8_BUF_INIT;
	struct http_req r;
	ck_assert_msg(parse(s, &r, &fwd, &err) == -1, "accepted: %s", s);
	ck_assert_msg(strstr(err.msg, why), "for [%s]: message [%s] lacks [%s]", s, err.msg, why);
	isol8_buf_free(&fwd);
}

START_TEST(test_connect)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf fwd = ISOL8_BUF_INIT;
	struct http_req r;
	const char *s = "CONNECT Example.COM:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nTLSDATA";

	ck_assert_int_eq(parse(s, &r, &fwd, &err), 1);
	ck_assert(r.is_connect);
	ck_assert_str_eq(r.host, "example.com");
	ck_assert_int_eq(r.port, 443);
	ck_assert_uint_eq(r.head_len, strlen(s) - 7);
	ck_assert_uint_eq(fwd.len, 0);
	ck_assert_int_eq(parse("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", &r, &fwd, &err), 1);
	ck_assert_str_eq(r.host, "::1");
	ck_assert_int_eq(r.port, 8443);
}
END_TEST

START_TEST(test_absolute_uri)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf fwd = ISOL8_BUF_INIT;
	struct http_req r;
	const char *s = "GET http://allowed.test:8080/a/b?c=1 HTTP/1.1\r\nHost: evil.test\r\nUser-Agent: x\r\n"
			"Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\n\r\n";

	ck_assert_int_eq(parse(s, &r, &fwd, &err), 1);
	ck_assert(!r.is_connect);
	ck_assert_str_eq(r.method, "GET");
	ck_assert_str_eq(r.host, "allowed.test");
	ck_assert_int_eq(r.port, 8080);
	isol8_buf_putc(&fwd, '\0');
	/* The Host the rules saw replaces the client's; hop-by-hop headers are ours. */
	ck_assert_str_eq(fwd.data,
			 "GET /a/b?c=1 HTTP/1.1\r\nHost: allowed.test:8080\r\nUser-Agent: x\r\n"
			 "Connection: close\r\n\r\n");
	isol8_buf_free(&fwd);
	ck_assert_int_eq(parse("GET http://h.test HTTP/1.0\r\n\r\n", &r, &fwd, &err), 1);
	ck_assert_int_eq(r.port, 80);
	isol8_buf_putc(&fwd, '\0');
	ck_assert_str_eq(fwd.data, "GET / HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n");
	isol8_buf_free(&fwd);
	/* origin form: the Host header decides */
	ck_assert_int_eq(parse("POST /x HTTP/1.1\r\nHost: H.test:81\r\nContent-Length: 0\r\n\r\n", &r, &fwd, &err), 1);
	ck_assert_str_eq(r.host, "h.test");
	ck_assert_int_eq(r.port, 81);
	isol8_buf_free(&fwd);
}
END_TEST

START_TEST(test_incomplete_and_limits)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf fwd = ISOL8_BUF_INIT;
	struct http_req r;
	char *big = malloc(PROXY_MAX_HEAD + 1);

	ck_assert_int_eq(parse("", &r, &fwd, &err), 0);
	ck_assert_int_eq(parse("CONNECT a.test:443 HTTP/1.1\r\n", &r, &fwd, &err), 0);
	ck_assert_int_eq(parse("CONNECT a.test:443 HTTP/1.1\r\n\r", &r, &fwd, &err), 0);
	memset(big, 'a', PROXY_MAX_HEAD);
	memcpy(big, "GET http://a.test/ HTTP/1.1\r\nX: ", 32);
	ck_assert_int_eq(http_parse_request(big, PROXY_MAX_HEAD, &r, &fwd, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	free(big);
}
END_TEST

START_TEST(test_hostile)
{
	bad("GET http://a.test/ HTTP/1.1\n\n", "bare LF");
	bad("GET http://a.test/ HTTP/1.1\r\nX: a\rb\r\n\r\n", "bare CR");
	bad("GET http://a.test/\x01 HTTP/1.1\r\n\r\n", "control byte");
	bad("GET http://user@a.test/ HTTP/1.1\r\n\r\n", "user info");
	bad("GET https://a.test/ HTTP/1.1\r\n\r\n", "only http://");
	bad("GET ftp://a.test/ HTTP/1.1\r\n\r\n", "only http://");
	bad("GET /x HTTP/1.1\r\n\r\n", "without Host");
	bad("GET /x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", "repeated Host");
	bad("GET http://a.test/ HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", "folded");
	bad("GET http://a.test/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "both");
	bad("CONNECT a.test HTTP/1.1\r\n\r\n", "port");
	bad("CONNECT a.test:0 HTTP/1.1\r\n\r\n", "port");
	bad("CONNECT a.test:65536 HTTP/1.1\r\n\r\n", "port");
	bad("CONNECT a.test:44a HTTP/1.1\r\n\r\n", "port");
	bad("CONNECT a/b.test:443 HTTP/1.1\r\n\r\n", "bad character");
	bad("CONNECT [::1:443 HTTP/1.1\r\n\r\n", "IPv6");
	bad("CONNECT [zz]:443 HTTP/1.1\r\n\r\n", "IPv6");
	bad("CONNECT :443 HTTP/1.1\r\n\r\n", "length");
	bad("GET http://a.test/ HTTP/2.0\r\n\r\n", "version");
	bad("GET  http://a.test/ HTTP/1.1\r\n\r\n", "request line");
	bad("G(T http://a.test/ HTTP/1.1\r\n\r\n", "method");
	bad("GET http://a.test/ HTTP/1.1\r\nBad Name: x\r\n\r\n", "header name");
	bad("GET http://a.test/ HTTP/1.1\r\nnocolon\r\n\r\n", "header line");
	{
		/* a NUL inside the head */
		struct isol8_err err = ISOL8_ERR_INIT;
		struct isol8_buf fwd = ISOL8_BUF_INIT;
		struct http_req r;
		static const char s[] = "GET http://a.test/\0 HTTP/1.1\r\n\r\n";
		ck_assert_int_eq(http_parse_request(s, sizeof s - 1, &r, &fwd, &err), -1);
	}
}
END_TEST

/* Every prefix and every single-byte corruption of a valid head: never a crash, never a read
 * past the given length (run under ASan in CI). */
START_TEST(test_prefixes_and_flips)
{
	static const char s[] = "GET http://allowed.test:8080/p HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n";
	size_t n = sizeof s - 1;

	for (size_t i = 0; i <= n; i++) {
		char *copy = malloc(i ? i : 1);
		struct isol8_err err = ISOL8_ERR_INIT;
		struct isol8_buf fwd = ISOL8_BUF_INIT;
		struct http_req r;
		memcpy(copy, s, i);
		ck_assert_int_eq(http_parse_request(copy, i, &r, &fwd, &err), i == n ? 1 : 0);
		isol8_buf_free(&fwd);
		free(copy);
	}
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 256; c += 7) {
			char *copy = malloc(n);
			struct isol8_err err = ISOL8_ERR_INIT;
			struct isol8_buf fwd = ISOL8_BUF_INIT;
			struct http_req r;
			memcpy(copy, s, n);
			copy[i] = (char)c;
			(void)http_parse_request(copy, n, &r, &fwd, &err);
			isol8_buf_free(&fwd);
			free(copy);
		}
}
END_TEST

static void pats(struct net_patterns *p, const char *const *allow, size_t na, const char *const *deny, size_t nd)
{
	memset(p, 0, sizeof *p);
	p->allow = (char **)allow;
	p->n_allow = na;
	p->deny = (char **)deny;
	p->n_deny = nd;
}

START_TEST(test_rules)
{
	static const char *const allow[] = {"allowed.test", "*.example.org"};
	static const char *const deny[] = {"bad.example.org"};
	struct isol8_err err = ISOL8_ERR_INIT;
	struct net_patterns p;

	pats(&p, allow, 2, deny, 1);
	ck_assert_int_eq(net_patterns_check(&p, &err), 0);
	ck_assert(net_patterns_allow(&p, "allowed.test"));
	ck_assert(net_patterns_allow(&p, "allowed.test."));
	ck_assert(!net_patterns_allow(&p, "notallowed.test"));
	ck_assert(!net_patterns_allow(&p, "allowed.test.evil.test")); /* anchored */
	ck_assert(net_patterns_allow(&p, "www.example.org"));
	ck_assert(!net_patterns_allow(&p, "example.org"));
	ck_assert(!net_patterns_allow(&p, "bad.example.org")); /* deny wins */
	ck_assert(!net_patterns_allow(&p, "bad.example.org."));

	pats(&p, NULL, 0, NULL, 0); /* empty allow list: nothing */
	ck_assert_int_eq(net_patterns_check(&p, &err), 0);
	ck_assert(!net_patterns_allow(&p, "allowed.test"));
}
END_TEST

START_TEST(test_rules_invalid)
{
	/* The broker and the proxy take canonical patterns only: regex syntax is refused unparsed. */
	static const char *const allow[] = {"ok.test", "a++++++++++++++++++++"};
	struct isol8_err err = ISOL8_ERR_INIT;
	struct net_patterns p;

	pats(&p, allow, 2, NULL, 0);
	ck_assert_int_eq(net_patterns_check(&p, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_msg(strstr(err.msg, "'a+++"), "%s", err.msg);
}
END_TEST

START_TEST(test_patterns_wire)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	struct net_patterns p;
	char big[ISOL8_NET_MAX_PATTERN + 2];

	/* too many */
	isol8_put_u32(&b, ISOL8_NET_MAX_PATTERNS + 1);
	m.payload = (uint8_t *)b.data;
	m.len = (uint32_t)b.len;
	ck_assert_int_eq(net_patterns_get(&m, &p, &err), -1);
	ck_assert_msg(strstr(err.msg, "too many allow"), "%s", err.msg);
	/* too long */
	b.len = 0;
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	isol8_put_u32(&b, 1);
	isol8_put_str(&b, big);
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_patterns_get(&m, &p, &err), -1);
	/* empty pattern */
	b.len = 0;
	isol8_put_u32(&b, 1);
	isol8_put_str(&b, "");
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_patterns_get(&m, &p, &err), -1);
	/* round trip, log flag range-checked */
	b.len = 0;
	isol8_put_u32(&b, 1);
	isol8_put_str(&b, "a.test");
	isol8_put_u32(&b, 0);
	isol8_put_u8(&b, 1);
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_patterns_get(&m, &p, &err), 0);
	ck_assert_int_eq(isol8_msg_end(&m, &err), 0);
	ck_assert_uint_eq(p.n_allow, 1);
	ck_assert_str_eq(p.allow[0], "a.test");
	ck_assert(p.log);
	net_patterns_free(&p);
	b.data[b.len - 1] = 2;
	m = (struct isol8_msg){.payload = (uint8_t *)b.data, .len = (uint32_t)b.len};
	ck_assert_int_eq(net_patterns_get(&m, &p, &err), -1);
	isol8_buf_free(&b);
}
END_TEST

static int parse_head(const char *head, struct http_req *r)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf fwd = ISOL8_BUF_INIT;
	int rc = http_parse_request(head, strlen(head), r, &fwd, &err);
	isol8_buf_free(&fwd);
	return rc;
}

/* Where a request body ends (issue 12 #18: bytes after it are a pipelined request the proxy
 * must not forward). */
START_TEST(test_body_framing)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct http_req r;
	struct http_body b;
	const char *chunked = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next HTTP/1.1\r\n";
	size_t body_len = strlen(chunked) - strlen("GET /next HTTP/1.1\r\n");

	ck_assert_int_eq(parse_head("GET http://a.test/ HTTP/1.1\r\n\r\n", &r), 1);
	ck_assert_int_eq(r.body, HTTP_BODY_NONE);
	http_body_init(&b, &r);
	ck_assert(b.done);
	ck_assert_int_eq(http_body_feed(&b, "GET /x", 6, &err), 0);

	ck_assert_int_eq(parse_head("POST http://a.test/ HTTP/1.1\r\nContent-Length:  5 \r\n\r\n", &r), 1);
	ck_assert_int_eq(r.body, HTTP_BODY_LENGTH);
	ck_assert(r.body_len == 5);
	http_body_init(&b, &r);
	ck_assert_int_eq(http_body_feed(&b, "hel", 3, &err), 3);
	ck_assert(!b.done);
	ck_assert_int_eq(http_body_feed(&b, "loGET", 5, &err), 2);
	ck_assert(b.done);

	ck_assert_int_eq(parse_head("POST http://a.test/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &r), 1);
	ck_assert_int_eq(r.body, HTTP_BODY_CHUNKED);
	http_body_init(&b, &r);
	ck_assert_int_eq(http_body_feed(&b, chunked, strlen(chunked), &err), (long)body_len);
	ck_assert(b.done);
	/* the same, a byte at a time */
	http_body_init(&b, &r);
	for (size_t i = 0; i < body_len; i++) {
		ck_assert(!b.done);
		ck_assert_int_eq(http_body_feed(&b, chunked + i, 1, &err), 1);
	}
	ck_assert(b.done);
	ck_assert_int_eq(http_body_feed(&b, "G", 1, &err), 0);

	/* broken framing */
	{
		static const char *const bad[] = {
			"zz\r\n", "5\r\nhelloXX", "1234567890abcdef0\r\n", "5\n", "5\r\nhello\r\n0\r\nbad\n", "\r\n"};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			http_body_init(&b, &r);
			ck_assert_msg(http_body_feed(&b, bad[i], strlen(bad[i]), &err) == -1, "accepted: %s", bad[i]);
		}
	}
	{
		/* an endless chunk-extension or trailer is cut off */
		char big[20000];
		memset(big, 'x', sizeof big);
		memcpy(big, "1;", 2);
		http_body_init(&b, &r);
		ck_assert_int_eq(http_body_feed(&b, big, sizeof big, &err), -1);
		memcpy(big, "0\r\n", 3);
		http_body_init(&b, &r);
		ck_assert_int_eq(http_body_feed(&b, big, sizeof big, &err), -1);
	}

	/* refused heads: what would make the framing ambiguous */
	ck_assert_int_eq(
		parse_head("POST http://a.test/ HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n", &r), -1);
	ck_assert_int_eq(
		parse_head("POST http://a.test/ HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", &r), -1);
	ck_assert_int_eq(parse_head("POST http://a.test/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r), -1);
	ck_assert_int_eq(parse_head("POST http://a.test/ HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", &r), -1);
	ck_assert_int_eq(parse_head("POST http://a.test/ HTTP/1.1\r\nContent-Length:\r\n\r\n", &r), -1);
	ck_assert_int_eq(parse_head("POST http://a.test/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r),
			 -1);
	ck_assert_int_eq(parse_head("POST http://a.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
				    "chunked\r\n\r\n",
				    &r),
			 -1);
}
END_TEST

START_TEST(test_trailing_dot)
{
	struct http_req r;

	ck_assert_int_eq(parse_head("GET http://Evil.Test./x HTTP/1.1\r\n\r\n", &r), 1);
	ck_assert_str_eq(r.host, "evil.test");
	ck_assert_int_eq(parse_head("CONNECT evil.test.:443 HTTP/1.1\r\n\r\n", &r), 1);
	ck_assert_str_eq(r.host, "evil.test");
	ck_assert_int_eq(parse_head("CONNECT .:443 HTTP/1.1\r\n\r\n", &r), 1);
	ck_assert_str_eq(r.host, ".");
}
END_TEST

/* A ClientHello record: version, random, session id, suites, compression, then the given
 * extensions block (raw, with its 2-byte length) or none when ext is NULL. */
static size_t hello(uint8_t *out, const uint8_t *ext, size_t ext_len)
{
	uint8_t body[2048];
	size_t b = 0, n = 0;

	body[b++] = 3;
	body[b++] = 3;
	memset(body + b, 0xab, 32);
	b += 32;
	body[b++] = 0;                /* session id */
	body[b++] = 0, body[b++] = 2; /* cipher suites */
	body[b++] = 0x13, body[b++] = 0x01;
	body[b++] = 1, body[b++] = 0; /* compression: null */
	if (ext) {
		memcpy(body + b, ext, ext_len);
		b += ext_len;
	}
	out[n++] = 0x16, out[n++] = 3, out[n++] = 1;
	out[n++] = (uint8_t)((b + 4) >> 8), out[n++] = (uint8_t)(b + 4);
	out[n++] = 1, out[n++] = 0, out[n++] = (uint8_t)(b >> 8), out[n++] = (uint8_t)b;
	memcpy(out + n, body, b);
	return n + b;
}

/* extensions block with one server_name extension naming name (and an unrelated one first) */
static size_t sni_ext(uint8_t *e, const char *name)
{
	size_t nl = strlen(name), n = 0, list = nl + 3, data = list + 2, total = 4 + 4 + data;
	e[n++] = (uint8_t)(total >> 8), e[n++] = (uint8_t)total;
	e[n++] = 0x00, e[n++] = 0x0b, e[n++] = 0, e[n++] = 0; /* ec_point_formats, empty */
	e[n++] = 0, e[n++] = 0, e[n++] = (uint8_t)(data >> 8), e[n++] = (uint8_t)data;
	e[n++] = (uint8_t)(list >> 8), e[n++] = (uint8_t)list;
	e[n++] = 0, e[n++] = (uint8_t)(nl >> 8), e[n++] = (uint8_t)nl;
	memcpy(e + n, name, nl);
	return n + nl;
}

START_TEST(test_tls_sni)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint8_t rec[4096], ext[512];
	char sni[254];
	size_t n = hello(rec, ext, sni_ext(ext, "Allowed.Test."));

	ck_assert_int_eq(tls_client_hello_sni(rec, n, sni, &err), 1);
	ck_assert_str_eq(sni, "allowed.test");
	/* every prefix needs more bytes; none is misread */
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(tls_client_hello_sni(rec, i, sni, &err), 0);
	/* no extensions: no name */
	n = hello(rec, NULL, 0);
	ck_assert_int_eq(tls_client_hello_sni(rec, n, sni, &err), 1);
	ck_assert_str_eq(sni, "");
	/* not TLS, or broken */
	ck_assert_int_eq(tls_client_hello_sni((const uint8_t *)"GET / HTTP/1.1\r\n", 16, sni, &err), -1);
	ck_assert_int_eq(tls_client_hello_sni((const uint8_t *)"\x16\x02", 2, sni, &err), -1);
	n = hello(rec, ext, sni_ext(ext, "a.test"));
	rec[5] = 2; /* ServerHello */
	ck_assert_int_eq(tls_client_hello_sni(rec, n, sni, &err), -1);
	n = hello(rec, ext, sni_ext(ext, "a.test"));
	rec[8]++; /* handshake longer than the record */
	ck_assert_int_eq(tls_client_hello_sni(rec, n, sni, &err), -1);
	n = hello(rec, ext, sni_ext(ext, "bad name"));
	ck_assert_int_eq(tls_client_hello_sni(rec, n, sni, &err), -1);
	rec[3] = 0x40, rec[4] = 1; /* 16385-byte record */
	ck_assert_int_eq(tls_client_hello_sni(rec, 5, sni, &err), -1);
	/* every single-byte flip of a valid hello: no crash, and never a name other than the real one
	 * unless that byte was in the name */
	n = hello(rec, ext, sni_ext(ext, "a.test"));
	for (size_t i = 0; i < n; i++)
		for (int v = 0; v < 256; v += 17) {
			uint8_t copy[4096];
			memcpy(copy, rec, n);
			copy[i] = (uint8_t)v;
			(void)tls_client_hello_sni(copy, n, sni, &err);
		}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy_http");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_connect);
	tcase_add_test(tc, test_body_framing);
	tcase_add_test(tc, test_trailing_dot);
	tcase_add_test(tc, test_tls_sni);
	tcase_add_test(tc, test_absolute_uri);
	tcase_add_test(tc, test_incomplete_and_limits);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_prefixes_and_flips);
	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_rules_invalid);
	tcase_add_test(tc, test_patterns_wire);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
