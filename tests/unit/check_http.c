/* Unit tests for the HTTP frontend's parsers of network input: API keys and bearer headers,
 * base64, UTF-8 repair, and the ExecutionRequest translation (including hostile bodies). */
#include "config.h"

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "http/keys.h"
#include "http/text.h"
#include "http/translate.h"

/* ---- keys ---- */

START_TEST(keys_parse_ok)
{
	struct http_keys k = {0};
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *text = "# comment\n\nalpha:secret-a-123\r\nbeta.2:secret:with:colons\n";

	ck_assert_int_eq(http_keys_parse(&k, text, strlen(text), &err), 0);
	ck_assert_uint_eq(k.n, 2);
	ck_assert_str_eq(k.v[0].name, "alpha");
	ck_assert_str_eq(k.v[0].secret, "secret-a-123");
	ck_assert_str_eq(k.v[1].name, "beta.2");
	ck_assert_str_eq(k.v[1].secret, "secret:with:colons");
	ck_assert_ptr_eq(http_keys_match(&k, "secret-a-123", 12), &k.v[0]);
	ck_assert_ptr_eq(http_keys_match(&k, "secret:with:colons", 18), &k.v[1]);
	ck_assert_ptr_null(http_keys_match(&k, "secret-a-12", 11));
	ck_assert_ptr_null(http_keys_match(&k, "secret-a-1234", 13));
	ck_assert_ptr_null(http_keys_match(&k, "", 0));
	ck_assert_ptr_null(http_keys_match(&k, "secret-a-123secret-a-123", 24)); /* wraps around the secret */
	http_keys_free(&k);
}
END_TEST

static void keys_bad(const char *text, size_t len, const char *want)
{
	struct http_keys k = {0};
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(http_keys_parse(&k, text, len, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_msg(strstr(err.msg, want) != NULL, "msg: %s (want %s)", err.msg, want);
	/* The secret never appears in a message. */
	ck_assert_ptr_null(strstr(err.msg, "s3cr3t"));
	http_keys_free(&k);
}

START_TEST(keys_parse_hostile)
{
	keys_bad("", 0, "no keys");
	keys_bad("# only\n", 7, "no keys");
	keys_bad("nocolon\n", 8, "line 1: expected name:secret");
	keys_bad("a:s3cr3t\na:s3cr3t2\n", 19, "given twice");
	keys_bad("a:s3cr3t\nb:s3cr3t\n", 18, "same secret");
	keys_bad("bad name:s3cr3t\n", 16, "invalid key name");
	keys_bad(":s3cr3t\n", 8, "invalid key name");
	keys_bad("a:\n", 3, "secret must be");
	keys_bad("a:s3cr3t with space\n", 20, "secret must be");
	keys_bad("a:s3cr\0t\n", 9, "NUL");
	keys_bad("a:s3cr3t\xff\n", 10, "secret must be");
}
END_TEST

/* Two servers both name their key "default": the id must tell different secrets apart, and
 * the same secret must give the same id in every server (sessions survive a restart). */
START_TEST(key_ids)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct http_keys a = {0}, b = {0}, c = {0};

	ck_assert_int_eq(http_keys_add(&a, "default", "secret-one-0123456789", &err), 0);
	ck_assert_int_eq(http_keys_add(&b, "default", "secret-two-0123456789", &err), 0);
	ck_assert_int_eq(http_keys_add(&c, "other", "secret-one-0123456789", &err), 0);
	ck_assert_uint_eq(strlen(a.v[0].id), ISOL8_KEY_ID_LEN);
	ck_assert_uint_eq(strspn(a.v[0].id, "0123456789abcdef"), ISOL8_KEY_ID_LEN);
	ck_assert_str_ne(a.v[0].id, b.v[0].id);
	ck_assert_str_eq(a.v[0].id, c.v[0].id);
	/* domain-separated SHA-256 of the secret: not the secret's plain hash */
	ck_assert_str_eq(a.v[0].id, "0cb3e29773fabb52"); /* printf 'isol8 key id\0secret-one-0123456789' | sha256sum */
	http_keys_free(&a);
	http_keys_free(&b);
	http_keys_free(&c);
}
END_TEST

START_TEST(bearer)
{
	const char *t;
	size_t n;

	ck_assert_int_eq(http_bearer_token("Bearer abc", &t, &n), 0);
	ck_assert_int_eq((int)n, 3);
	ck_assert(strncmp(t, "abc", 3) == 0);
	ck_assert_int_eq(http_bearer_token("bearer \t abc  ", &t, &n), 0);
	ck_assert_int_eq((int)n, 3);
	ck_assert_int_eq(http_bearer_token("abc", &t, &n), 0); /* bare token, as the original */
	ck_assert_int_eq((int)n, 3);
	ck_assert_int_eq(http_bearer_token("Bearer ", &t, &n), -1);
	ck_assert_int_eq(http_bearer_token("", &t, &n), -1);
	ck_assert_int_eq(http_bearer_token("Bearer a b", &t, &n), -1);
	ck_assert_int_eq(http_bearer_token(NULL, &t, &n), -1);
}
END_TEST

/* ---- base64 ---- */

static void b64_round(const char *plain, size_t n, const char *enc)
{
	struct isol8_buf e = ISOL8_BUF_INIT, d = ISOL8_BUF_INIT;

	http_base64_encode(&e, plain, n);
	ck_assert_uint_eq(e.len, strlen(enc));
	ck_assert(e.len == 0 || memcmp(e.data, enc, e.len) == 0);
	ck_assert_int_eq(http_base64_decode(enc, strlen(enc), &d), 0);
	ck_assert_uint_eq(d.len, n);
	ck_assert(n == 0 || memcmp(d.data, plain, n) == 0);
	isol8_buf_free(&e);
	isol8_buf_free(&d);
}

START_TEST(base64)
{
	struct isol8_buf d = ISOL8_BUF_INIT;
	static const char *const bad[] = {"a",
					  "ab=c",
					  "abc==",
					  "a===",
					  "ab\ncd",
					  "ab cd",
					  "@@@@",
					  "ab=",
					  "abcd=",
					  "YR==",
					  /* non-zero leftover bits */ "=",
					  "==",
					  NULL};

	b64_round("", 0, "");
	b64_round("f", 1, "Zg==");
	b64_round("fo", 2, "Zm8=");
	b64_round("foo", 3, "Zm9v");
	b64_round("foob", 4, "Zm9vYg==");
	b64_round("\0\xff\x10", 3, "AP8Q");
	ck_assert_int_eq(http_base64_decode("Zm8", 3, &d), 0); /* padding optional */
	ck_assert_uint_eq(d.len, 2);
	for (size_t i = 0; bad[i]; i++)
		ck_assert_msg(http_base64_decode(bad[i], strlen(bad[i]), &d) == -1, "accepted %s", bad[i]);
	ck_assert_uint_eq(d.len, 0);
	isol8_buf_free(&d);
}
END_TEST

/* ---- UTF-8 ---- */

static void utf8_is(const char *in, size_t n, bool keep, const char *want, size_t want_tail)
{
	struct isol8_buf out = ISOL8_BUF_INIT;
	size_t tail = http_utf8_append(&out, in, n, keep);

	ck_assert_uint_eq(tail, want_tail);
	ck_assert_str_eq(out.data ? out.data : "", want);
	isol8_buf_free(&out);
}

START_TEST(utf8)
{
	utf8_is("abc", 3, false, "abc", 0);
	utf8_is("h\xc3\xa9", 3, false, "h\xc3\xa9", 0);
	utf8_is("\xf0\x9f\x98\x80", 4, false, "\xf0\x9f\x98\x80", 0);
	utf8_is("a\xff"
		"b",
		3, false,
		"a\xef\xbf\xbd"
		"b",
		0);
	utf8_is("\xc0\x80", 2, false, "\xef\xbf\xbd\xef\xbf\xbd", 0);                 /* overlong NUL */
	utf8_is("\xed\xa0\x80", 3, false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 0); /* surrogate */
	utf8_is("\xf4\x90\x80\x80", 4, false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 0);
	utf8_is("a\0b", 3, false,
		"a\xef\xbf\xbd"
		"b",
		0);
	/* A split sequence at the end is held back when streaming, replaced otherwise. */
	utf8_is("ab\xf0\x9f", 4, true, "ab", 2);
	utf8_is("ab\xe2", 3, true, "ab", 1);
	utf8_is("ab\xe2", 3, false, "ab\xef\xbf\xbd", 0);
	utf8_is("ab\xe0\x80", 4, true, "ab\xef\xbf\xbd\xef\xbf\xbd", 0); /* invalid prefix is not held */
}
END_TEST

/* ---- translate ---- */

static struct http_run_spec spec;
static struct isol8_err terr;
static json_object *tj;

static int tr(const char *body)
{
	int r;

	http_spec_free(&spec);
	if (tj)
		json_object_put(tj);
	tj = NULL;
	memset(&terr, 0, sizeof terr);
	r = http_translate(body, strlen(body), &spec, &terr);
	if (r == 0) {
		struct isol8_err e = ISOL8_ERR_INIT;
		tj = isol8_json_parse(spec.json, spec.json_len, 1u << 20, &e);
		ck_assert_msg(tj != NULL, "translated JSON does not parse: %s", e.msg);
	}
	return r;
}

static const char *jpath(const char *a, const char *b)
{
	json_object *o, *v;

	if (!json_object_object_get_ex(tj, a, &o) || !json_object_object_get_ex(o, b, &v))
		return NULL;
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void tr_bad(const char *body, int code, const char *want)
{
	ck_assert_msg(tr(body) == -1, "accepted %s", body);
	ck_assert_int_eq(terr.code, code);
	ck_assert_msg(strstr(terr.msg, want) != NULL, "msg: %s (want %s)", terr.msg, want);
}

START_TEST(translate_ok)
{
	ck_assert_int_eq(tr("{\"request\":{\"code\":\"print(1)\",\"runtime\":\"python\",\"timeoutMs\":5000,"
			    "\"env\":{\"A\":\"b\"},\"installPackages\":[\"numpy\"],\"metadata\":{\"x\":1},"
			    "\"workdir\":\"sub/../w\"},"
			    "\"options\":{\"memoryLimit\":\"512m\",\"sandboxSize\":1048576,\"maxOutputSize\":\"2k\","
			    "\"cpuLimit\":0.5,\"network\":\"filtered\",\"networkFilter\":{\"whitelist\":[\"^a$\"]},"
			    "\"readonlyRootFs\":false,\"secrets\":{\"T\":\"s\"},\"mode\":\"ephemeral\",\"poolSize\":3},"
			    "\"sessionId\":\"s-1\"}"),
			 0);
	ck_assert_str_eq(jpath("request", "code"), "\"print(1)\"");
	ck_assert_str_eq(jpath("request", "runtime"), "\"python\"");
	ck_assert_str_eq(jpath("request", "timeoutMs"), "5000");
	ck_assert_str_eq(jpath("request", "workdir"), "\"/sandbox/w\"");
	ck_assert_str_eq(jpath("request", "metadata"), "{\"x\":1}"); /* for the audit record */
	ck_assert_str_eq(jpath("options", "memoryLimit"), "536870912");
	ck_assert_str_eq(jpath("options", "sandboxSize"), "1048576");
	ck_assert_str_eq(jpath("options", "maxOutputSize"), "2048");
	ck_assert_str_eq(jpath("options", "network"), "\"filtered\"");
	ck_assert_str_eq(jpath("options", "readonlyRootFs"), "false");
	ck_assert_ptr_null(jpath("options", "mode")); /* accepted, not forwarded */
	ck_assert_ptr_null(jpath("options", "poolSize"));
	ck_assert_ptr_null(jpath("options", "isolation")); /* none asked: the policy's tier */
	ck_assert_str_eq(spec.session, "s-1");
	ck_assert(!spec.code_in_bundle);

	/* options.timeoutMs is the default when the request has none */
	ck_assert_int_eq(tr("{\"request\":{\"cmd\":\"ls\",\"runtime\":\"bash\"},\"options\":{\"timeoutMs\":777}}"), 0);
	ck_assert_str_eq(jpath("request", "timeoutMs"), "777");
	ck_assert_str_eq(jpath("request", "cmd"), "\"ls\"");
	/* the program's arguments pass through as given */
	ck_assert_int_eq(tr("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"args\":[\"a b\",\"\",\"-x\"]}}"), 0);
	ck_assert_str_eq(jpath("request", "args"), "[\"a b\",\"\",\"-x\"]");
	ck_assert_int_eq(tr("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"outputPaths\":[\"o.txt\",\"/sandbox/"
			    "d/p\"]}}"),
			 0);
	ck_assert_str_eq(jpath("request", "outputPaths"), "[\"o.txt\",\"/sandbox/d/p\"]");
	/* options.isolation is forwarded as given; isol8d decides whether the tenant gets it */
	ck_assert_int_eq(
		tr("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"isolation\":\"runsc\"}}"), 0);
	ck_assert_str_eq(jpath("options", "isolation"), "\"runsc\"");
	http_spec_free(&spec);
}
END_TEST

START_TEST(translate_bundle)
{
	struct isol8_buf tar = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;
	char *big = malloc(100000), *body;

	/* NUL in code and stdin: not JSON-safe for the worker, so both go to the bundle. */
	ck_assert_int_eq(tr("{\"request\":{\"code\":\"a\\u0000b\",\"stdin\":\"x\\u0000\",\"runtime\":\"python\","
			    "\"files\":{\"d/f.txt\":\"hi\",\"/sandbox/g\":\"yo\"}}}"),
			 0);
	ck_assert(spec.code_in_bundle);
	ck_assert(spec.stdin_in_bundle);
	ck_assert_uint_eq(spec.code_len, 3);
	ck_assert_ptr_null(jpath("request", "code"));
	ck_assert_str_eq(jpath("request", "codeInBundle"), "true");
	ck_assert_str_eq(jpath("request", "hasFiles"), "true");
	ck_assert_uint_eq(spec.n_files, 2);
	ck_assert_str_eq(spec.files[0].path, "d/f.txt");
	ck_assert_str_eq(spec.files[1].path, "g");
	ck_assert_int_eq(http_spec_bundle(&spec, &tar, &err), 0);
	ck_assert(tar.len >= 4 * 512);
	isol8_buf_free(&tar);

	/* Large code: bundle, with the runtime's extension so the worker writes a file. */
	memset(big, 'a', 99999);
	big[99999] = '\0';
	body = malloc(100100);
	snprintf(body, 100100, "{\"request\":{\"code\":\"%s\",\"runtime\":\"node\"}}", big);
	ck_assert_int_eq(tr(body), 0);
	ck_assert(spec.code_in_bundle);
	ck_assert_str_eq(jpath("request", "fileExtension"), "\".mjs\"");
	ck_assert(spec.json_len < 1000);
	free(big);
	free(body);
	http_spec_free(&spec);
}
END_TEST

START_TEST(translate_hostile)
{
	char deep[200];

	tr_bad("", ISOL8_E_USAGE, "invalid JSON body");
	tr_bad("{\"request\":", ISOL8_E_USAGE, "invalid JSON body");
	tr_bad("[]", ISOL8_E_USAGE, "expected object");
	tr_bad("{}", ISOL8_E_USAGE, "request: required");
	tr_bad("{\"request\":1}", ISOL8_E_USAGE, "request: expected object");
	tr_bad("{\"request\":{\"code\":\"1\"}}", ISOL8_E_USAGE, "request.runtime: required");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"cobol\"}}", ISOL8_E_USAGE, "Unknown runtime");
	/* the agent runtime: the filtered network with a whitelist, agentFlags its own and words */
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"agent\"}}", ISOL8_E_USAGE,
	       "Agent runtime requires network access.");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"agent\"},\"options\":{\"network\":\"host\"}}", ISOL8_E_USAGE,
	       "Agent runtime requires options.network \"filtered\" (not \"host\")");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"agent\"},\"options\":{\"network\":\"filtered\","
	       "\"networkFilter\":{\"whitelist\":[]}}}",
	       ISOL8_E_USAGE, "Agent runtime requires at least one network whitelist entry.");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"agent\",\"agentFlags\":\"a\\\\\"},\"options\":{\"network\":"
	       "\"filtered\",\"networkFilter\":{\"whitelist\":[\"x.test\"]}}}",
	       ISOL8_E_USAGE, "request.agentFlags: trailing backslash");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"bash\",\"agentFlags\":\"--m\"}}", ISOL8_E_USAGE,
	       "request.agentFlags: only for runtime \"agent\" (runtime is bash)");
	ck_assert_int_eq(tr("{\"request\":{\"code\":\"fix\",\"runtime\":\"agent\",\"agentFlags\":\"--model m\"},"
			    "\"options\":{\"network\":\"filtered\",\"networkFilter\":{\"whitelist\":[\"x.test\"]}}}"),
			 0);
	ck_assert_str_eq(jpath("request", "agentFlags"), "\"--model m\"");
	tr_bad("{\"request\":{\"code\":1,\"runtime\":\"python\"}}", ISOL8_E_USAGE, "request.code: expected string");
	tr_bad("{\"request\":{\"runtime\":\"python\"}}", ISOL8_E_USAGE, "exactly one of");
	tr_bad("{\"request\":{\"code\":\"1\",\"cmd\":\"ls\",\"runtime\":\"python\"}}", ISOL8_E_USAGE,
	       "mutually exclusive");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"x\":1}}", ISOL8_E_USAGE,
	       "request.x: unknown key");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"y\":1}", ISOL8_E_USAGE, "y: unknown key");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"seccomp\":1}}", ISOL8_E_USAGE,
	       "options.seccomp: unknown key");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"timeoutMs\":-1}}", ISOL8_E_USAGE, "out of range");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"timeoutMs\":1.5}}", ISOL8_E_USAGE, "integer");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"env\":{\"1A\":\"x\"}}}", ISOL8_E_USAGE,
	       "invalid variable name");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"env\":{\"A\":1}}}", ISOL8_E_USAGE,
	       "expected string");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"env\":{\"A\":\"a\\u0000\"}}}", ISOL8_E_USAGE,
	       "NUL");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"files\":{\"../../etc/x\":\"a\"}}}", ISOL8_E_USAGE,
	       "inside /sandbox");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"files\":{\"/etc/x\":\"a\"}}}", ISOL8_E_USAGE,
	       "inside /sandbox");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"files\":{\"/sandbox\":\"a\"}}}", ISOL8_E_USAGE,
	       "must name a file");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"workdir\":\"/tmp\"}}", ISOL8_E_USAGE,
	       "inside /sandbox");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"args\":\"a b\"}}", ISOL8_E_USAGE,
	       "request.args: expected array");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"args\":[1]}}", ISOL8_E_USAGE,
	       "request.args[0]: expected string");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"args\":[\"a\\u0000\"]}}", ISOL8_E_USAGE, "NUL");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"args\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\","
	       "\"7\",\"8\","
	       "\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\",\"18\",\"19\",\"20\",\"21\",\"22\","
	       "\"23\",\"24\","
	       "\"25\",\"26\",\"27\",\"28\",\"29\",\"30\",\"31\",\"32\",\"33\"]}}",
	       ISOL8_E_USAGE, "request.args: more than 32 entries");
	/* codeUrl is passed on (the tenant's policy decides in isol8d); its companions are checked */
	ck_assert_int_eq(tr("{\"request\":{\"codeUrl\":\"https://x/y.py\",\"runtime\":\"python\",\"codeHash\":"
			    "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
			    "\"allowInsecureCodeUrl\":true},\"options\":{\"remoteCode\":{\"enabled\":true}}}"),
			 0);
	ck_assert_str_eq(jpath("request", "codeUrl"), "\"https://x/y.py\"");
	ck_assert_str_eq(jpath("request", "allowInsecureCodeUrl"), "true");
	ck_assert_ptr_null(jpath("request", "code"));
	ck_assert_ptr_null(jpath("options", "remoteCode")); /* a client never enables it */
	tr_bad("{\"request\":{\"codeUrl\":\"https://x/y.py\",\"code\":\"1\",\"runtime\":\"python\"}}", ISOL8_E_USAGE,
	       "ExecutionRequest.code, ExecutionRequest.codeUrl, and ExecutionRequest.cmd are mutually exclusive");
	tr_bad("{\"request\":{\"codeUrl\":\"https://x/y.py\",\"runtime\":\"python\",\"codeHash\":\"abc\"}}",
	       ISOL8_E_USAGE, "request.codeHash must be a SHA-256 digest: 64 hexadecimal digits");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"codeHash\":"
	       "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}}",
	       ISOL8_E_USAGE, "request.codeHash needs request.codeUrl");
	tr_bad("{\"request\":{\"codeUrl\":1,\"runtime\":\"python\"}}", ISOL8_E_USAGE,
	       "request.codeUrl: expected string");
	tr_bad("{\"request\":{\"runtime\":\"python\"}}", ISOL8_E_USAGE,
	       "ExecutionRequest must include exactly one of: code, codeUrl, or cmd.");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"outputPaths\":[\"../a\"]}}", ISOL8_E_USAGE,
	       "request.outputPaths[0]: empty, '.' and '..' path components are not allowed");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"outputPaths\":[\"a\",\"/etc/x\"]}}",
	       ISOL8_E_USAGE, "request.outputPaths[1]: must be inside /sandbox");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\",\"outputPaths\":\"a\"}}", ISOL8_E_USAGE,
	       "request.outputPaths: expected array");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"memoryLimit\":\"lots\"}}",
	       ISOL8_E_USAGE, "options.memoryLimit");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"network\":\"bridge\"}}",
	       ISOL8_E_USAGE, "options.network");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"isolation\":\"kata\"}}",
	       ISOL8_E_USAGE, "options.isolation: expected runc or runsc, got \"kata\"");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"isolation\":1}}", ISOL8_E_USAGE,
	       "options.isolation");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"cpuLimit\":\"1\"}}", ISOL8_E_USAGE,
	       "options.cpuLimit");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"cpuLimit\":0}}", ISOL8_E_USAGE,
	       "out of range");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"options\":{\"pidsLimit\":0}}", ISOL8_E_USAGE,
	       "out of range");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"sessionId\":\"../x\"}", ISOL8_E_USAGE,
	       "sessionId");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"sessionId\":\"\"}", ISOL8_E_USAGE, "sessionId");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"},\"sessionId\":5}", ISOL8_E_USAGE, "sessionId");
	tr_bad("{\"request\":{\"code\":\"1\",\"runtime\":\"python\"}} x", ISOL8_E_USAGE, "invalid JSON body");
	{
		static const char nul_body[] = "{\"request\":{\"code\":\"1\",\"runtime\":\"python\"}}\0";
		ck_assert_int_eq(http_translate(nul_body, sizeof nul_body - 1, &spec, &terr), -1);
	}
	/* Deep nesting is refused by the parser, not by a stack overflow. */
	memset(deep, '[', sizeof deep - 1);
	deep[sizeof deep - 1] = '\0';
	tr_bad(deep, ISOL8_E_USAGE, "invalid JSON body");
	tr_bad("{\"request\":{\"code\":\"\xff\",\"runtime\":\"python\"}}", ISOL8_E_USAGE, "invalid JSON body");
	http_spec_free(&spec);
	if (tj)
		json_object_put(tj);
	tj = NULL;
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *t = tcase_create("core");

	tcase_add_test(t, keys_parse_ok);
	tcase_add_test(t, keys_parse_hostile);
	tcase_add_test(t, key_ids);
	tcase_add_test(t, bearer);
	tcase_add_test(t, base64);
	tcase_add_test(t, utf8);
	tcase_add_test(t, translate_ok);
	tcase_add_test(t, translate_bundle);
	tcase_add_test(t, translate_hostile);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
