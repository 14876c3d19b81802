#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "worker/standby.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* What worker/run.c starts every run of python or node from (runtime_base_env), abridged. */
#define BASE "PYTHONUNBUFFERED=1", "HOME=/sandbox", "PATH=/usr/local/bin:/usr/bin:/bin", "NODE_PATH=/n"

START_TEST(test_env_identical)
{
	ck_assert(standby_env_compatible(L(BASE), L(BASE)));
	ck_assert(standby_env_compatible(L("X=1"), L("X=1")));
	/* Order does not matter, only the value each list ends up giving a name. */
	ck_assert(standby_env_compatible(L("PATH=/a", "HOME=/h"), L("HOME=/h", "PATH=/a")));
}
END_TEST

START_TEST(test_env_empty_and_null)
{
	static const char *const empty[] = {NULL};

	ck_assert(standby_env_compatible(NULL, NULL));
	ck_assert(standby_env_compatible(empty, empty));
	ck_assert(standby_env_compatible(NULL, empty));
	ck_assert(standby_env_compatible(empty, NULL));
	ck_assert(standby_env_compatible(NULL, L("X=1", "MY_VAR=2")));
	ck_assert(standby_env_compatible(L("X=1"), NULL));
	ck_assert(!standby_env_compatible(NULL, L("PATH=/bin")));
	ck_assert(!standby_env_compatible(L("PATH=/bin"), NULL));
	ck_assert(!standby_env_compatible(empty, L("TZ=UTC")));
	ck_assert(!standby_env_compatible(L("TZ=UTC"), empty));
}
END_TEST

START_TEST(test_env_extra_plain_vars)
{
	/* Variables an interpreter reads only when the program asks for them. */
	ck_assert(standby_env_compatible(L(BASE), L(BASE, "X=1", "FOO=bar", "PIP_INDEX_URL=http://x", "API_KEY=s")));
	ck_assert(standby_env_compatible(L(BASE, "X=1"), L(BASE)));
	ck_assert(standby_env_compatible(L(BASE, "X=1"), L(BASE, "X=2")));
	/* Names that only look like start-up ones. */
	ck_assert(standby_env_compatible(L(BASE),
					 L(BASE, "MYPATH=/x", "PATHEXT=.x", "HOMEDIR=/x", "LANGX=x", "XLANG=x", "TZX=1",
					   "NODEPATH=1", "MY_PYTHONPATH=/x")));
	ck_assert(standby_env_compatible(L(BASE), L(BASE, "EMPTY=")));
}
END_TEST

/* Start-up variables: a run must not change, add or remove any of them. */
static const char *const startup_vars[] = {
	"PYTHONPATH",
	"PYTHONHASHSEED",
	"PYTHONUNBUFFERED",
	"PYTHONSAFEPATH",
	"NODE_OPTIONS",
	"NODE_PATH",
	"LD_PRELOAD",
	"LD_LIBRARY_PATH",
	"PATH",
	"HOME",
	"LANG",
	"LC_ALL",
	"LC_CTYPE",
	"TZ",
};

START_TEST(test_env_startup_var)
{
	const char *name = startup_vars[_i];
	char a[64], b[64], empty[64];
	const char *warm_a[] = {"X=1", a, NULL};
	const char *env_a[] = {a, "Y=2", NULL};
	const char *env_b[] = {"Y=2", b, NULL};
	const char *env_empty[] = {empty, NULL};
	const char *none[] = {"X=1", "Y=2", NULL};

	snprintf(a, sizeof a, "%s=a", name);
	snprintf(b, sizeof b, "%s=b", name);
	snprintf(empty, sizeof empty, "%s=", name);
	ck_assert_msg(standby_env_compatible(warm_a, env_a), "%s: same value", name);
	ck_assert_msg(!standby_env_compatible(warm_a, env_b), "%s: changed", name);
	ck_assert_msg(!standby_env_compatible(none, env_a), "%s: added", name);
	ck_assert_msg(!standby_env_compatible(warm_a, none), "%s: removed", name);
	ck_assert_msg(!standby_env_compatible(warm_a, env_empty), "%s: emptied", name);
	ck_assert_msg(!standby_env_compatible(none, env_empty), "%s: added empty", name);
	ck_assert_msg(standby_env_compatible(env_empty, env_empty), "%s: both empty", name);
}
END_TEST

START_TEST(test_env_later_wins)
{
	/* The run sets PATH twice: what counts is the last one. */
	ck_assert(standby_env_compatible(L("PATH=/a"), L("PATH=/b", "PATH=/a")));
	ck_assert(!standby_env_compatible(L("PATH=/a"), L("PATH=/a", "PATH=/b")));
	/* Same on the standby's side. */
	ck_assert(standby_env_compatible(L("PATH=/b", "PATH=/a"), L("PATH=/a")));
	ck_assert(!standby_env_compatible(L("PATH=/a", "PATH=/b"), L("PATH=/a")));
	/* The base entry, then the request's override of it (worker/run.c env_build appends). */
	ck_assert(!standby_env_compatible(L(BASE), L(BASE, "PYTHONUNBUFFERED=0")));
	ck_assert(standby_env_compatible(L(BASE), L(BASE, "PYTHONUNBUFFERED=1")));
	ck_assert(!standby_env_compatible(L(BASE), L(BASE, "HOME=/tmp", "X=1")));
	ck_assert(standby_env_compatible(L(BASE), L(BASE, "HOME=/tmp", "HOME=/sandbox")));
	/* A plain variable set twice never matters. */
	ck_assert(standby_env_compatible(L(BASE), L(BASE, "X=1", "X=2")));
}
END_TEST

START_TEST(test_env_value_with_equals)
{
	ck_assert(standby_env_compatible(L("NODE_OPTIONS=--a=b"), L("NODE_OPTIONS=--a=b")));
	ck_assert(!standby_env_compatible(L("NODE_OPTIONS=--a=b"), L("NODE_OPTIONS=--a=c")));
	ck_assert(!standby_env_compatible(L("NODE_OPTIONS=--a"), L("NODE_OPTIONS=--a=")));
}
END_TEST

/* An entry without '=' (never built by the worker) is a name with no value: not compatible. */
START_TEST(test_env_entry_without_value)
{
	ck_assert(!standby_env_compatible(L("PATH=/bin"), L("PATH")));
	ck_assert(!standby_env_compatible(L("PATH"), L("PATH=/bin")));
	ck_assert(standby_env_compatible(L("X"), L("Y")));
}
END_TEST

static void job_is(const struct isol8_buf *b, const char *want, size_t want_len)
{
	ck_assert_uint_eq(b->len, want_len);
	ck_assert_msg(memcmp(b->data, want, want_len) == 0, "job bytes differ");
}

START_TEST(test_job_inline)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err e = ISOL8_ERR_INIT;
	static const char want[] = "1\0/sandbox\0\0"
				   "2\0A=1\0B=x=y\0print(1)";

	ck_assert_int_eq(standby_job(&b, "/sandbox", NULL, L("A=1", "B=x=y"), NULL, "print(1)", &e), 0);
	job_is(&b, want, sizeof want - 1); /* the code is not NUL-terminated */
	isol8_buf_free(&b);
}
END_TEST

START_TEST(test_job_file_no_env)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err e = ISOL8_ERR_INIT;
	static const char want[] = "1\0/sandbox/w\0/sandbox/main.mjs\0"
				   "0\0console.log(1 + 1)\n";
	static const char *const empty[] = {NULL};

	ck_assert_int_eq(standby_job(&b, "/sandbox/w", "/sandbox/main.mjs", NULL, NULL, "console.log(1 + 1)\n", &e), 0);
	job_is(&b, want, sizeof want - 1);
	isol8_buf_reset(&b);
	ck_assert_int_eq(standby_job(&b, "/sandbox/w", "/sandbox/main.mjs", empty, NULL, "console.log(1 + 1)\n", &e),
			 0);
	job_is(&b, want, sizeof want - 1);
	isol8_buf_free(&b);
}
END_TEST

START_TEST(test_job_with_args)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err e = ISOL8_ERR_INIT;
	/* Version 2: the argument count and arguments between the env and the code; an empty
	 * argument is kept. */
	static const char want[] = "2\0/sandbox\0/sandbox/main.py\0"
				   "1\0A=1\0"
				   "3\0a b\0\0-x\0print(1)";
	static const char *const none[] = {NULL};

	ck_assert_int_eq(standby_job(&b, "/sandbox", "/sandbox/main.py", L("A=1"), L("a b", "", "-x"), "print(1)", &e),
			 0);
	job_is(&b, want, sizeof want - 1);
	/* No arguments: version 1, which a standby from an older image reads too. */
	isol8_buf_reset(&b);
	ck_assert_int_eq(standby_job(&b, "/sandbox", NULL, NULL, none, "1", &e), 0);
	job_is(&b,
	       "1\0/sandbox\0\0"
	       "0\0"
	       "1",
	       15);
	isol8_buf_free(&b);
}
END_TEST

START_TEST(test_job_empty_code_appends)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err e = ISOL8_ERR_INIT;
	static const char want[] = "hdr"
				   "1\0/sandbox\0\0"
				   "0\0";

	isol8_buf_append(&b, "hdr", 3);
	ck_assert_int_eq(standby_job(&b, "/sandbox", NULL, NULL, NULL, "", &e), 0);
	job_is(&b, want, sizeof want - 1);
	isol8_buf_free(&b);
}
END_TEST

/* Length of the job for code of n bytes with this cwd/file/env. */
static size_t job_len(size_t n)
{
	return strlen("1") + 1 + strlen("/sandbox") + 1 + strlen("/sandbox/main.py") + 1 + strlen("1") + 1 +
		strlen("X=1") + 1 + n;
}

START_TEST(test_job_limit)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err e = ISOL8_ERR_INIT;
	size_t fixed = job_len(0), n = STANDBY_JOB_MAX - fixed;
	char *code = malloc(STANDBY_JOB_MAX + 2);

	ck_assert_uint_eq(STANDBY_JOB_MAX, 60000);
	memset(code, 'x', STANDBY_JOB_MAX + 1);
	/* Exactly at the limit: accepted. */
	code[n] = '\0';
	ck_assert_int_eq(standby_job(&b, "/sandbox", "/sandbox/main.py", L("X=1"), NULL, code, &e), 0);
	ck_assert_uint_eq(b.len, STANDBY_JOB_MAX);
	ck_assert_uint_eq(b.len, job_len(n));

	/* One byte over: refused, and what the buffer held is untouched. */
	isol8_buf_reset(&b);
	isol8_buf_append(&b, "keep", 4);
	code[n] = 'x';
	code[n + 1] = '\0';
	ck_assert_int_eq(standby_job(&b, "/sandbox", "/sandbox/main.py", L("X=1"), NULL, code, &e), -1);
	ck_assert_int_eq(e.code, ISOL8_E_LIMIT);
	ck_assert_ptr_nonnull(strstr(e.msg, "60001"));
	ck_assert_uint_eq(b.len, 4);
	ck_assert_mem_eq(b.data, "keep", 4);
	ck_assert_int_eq(b.data[b.len], 0);

	/* Far over, from an empty buffer; the buffer is still usable afterwards. */
	isol8_buf_free(&b);
	memset(code, 'x', STANDBY_JOB_MAX + 1);
	code[STANDBY_JOB_MAX + 1] = '\0';
	e = (struct isol8_err)ISOL8_ERR_INIT;
	ck_assert_int_eq(standby_job(&b, "/sandbox", NULL, NULL, NULL, code, &e), -1);
	ck_assert_int_eq(e.code, ISOL8_E_LIMIT);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(standby_job(&b, "/sandbox", NULL, NULL, NULL, "1", &e), 0);
	job_is(&b,
	       "1\0/sandbox\0\0"
	       "0\0"
	       "1",
	       15);

	/* The env entries count towards the limit too. */
	isol8_buf_free(&b);
	{
		char big[40001];
		memset(big, 'v', sizeof big - 1);
		big[0] = 'B';
		big[1] = '=';
		big[sizeof big - 1] = '\0';
		ck_assert_int_eq(standby_job(&b, "/sandbox", NULL, L(big), NULL, code + STANDBY_JOB_MAX - 19999, &e),
				 -1);
		ck_assert_uint_eq(b.len, 0);
	}
	isol8_buf_free(&b);
	free(code);
}
END_TEST

START_TEST(test_base_env_then_override)
{
	/* How worker/run.c calls it: the run's env is the base env plus the request's entries. */
	ck_assert(standby_env_compatible(L("PYTHONUNBUFFERED=1", "HOME=/sandbox", "PATH=/bin"),
					 L("PYTHONUNBUFFERED=1", "HOME=/sandbox", "PATH=/bin", "X=1")));
	ck_assert(
		!standby_env_compatible(L("PYTHONUNBUFFERED=1", "HOME=/sandbox", "PATH=/bin"),
					L("PYTHONUNBUFFERED=1", "HOME=/sandbox", "PATH=/bin", "X=1", "PATH=/usr/bin")));
}
END_TEST

START_TEST(test_argv)
{
	const char *const *py = standby_argv(ISOL8_RT_PYTHON), *const *node = standby_argv(ISOL8_RT_NODE);

	ck_assert_ptr_nonnull(py);
	ck_assert_str_eq(py[0], "python3");
	ck_assert_str_eq(py[1], "/usr/local/lib/isol8/standby.py");
	ck_assert_ptr_null(py[2]);
	ck_assert_ptr_nonnull(node);
	ck_assert_str_eq(node[0], "node");
	ck_assert_str_eq(node[1], "/usr/local/lib/isol8/standby.cjs");
	ck_assert_ptr_null(node[2]);
	ck_assert_ptr_null(standby_argv(ISOL8_RT_BASH));
	ck_assert_ptr_null(standby_argv(ISOL8_RT__MAX));
	ck_assert_ptr_null(standby_argv(-1));
}
END_TEST

static Suite *standby_suite(void)
{
	Suite *s = suite_create("standby");
	TCase *t = tcase_create("env");

	tcase_add_test(t, test_env_identical);
	tcase_add_test(t, test_env_entry_without_value);
	tcase_add_test(t, test_env_empty_and_null);
	tcase_add_test(t, test_env_extra_plain_vars);
	tcase_add_loop_test(t, test_env_startup_var, 0, (int)(sizeof startup_vars / sizeof startup_vars[0]));
	tcase_add_test(t, test_env_later_wins);
	tcase_add_test(t, test_env_value_with_equals);
	suite_add_tcase(s, t);
	t = tcase_create("job");
	tcase_add_test(t, test_job_inline);
	tcase_add_test(t, test_job_file_no_env);
	tcase_add_test(t, test_job_with_args);
	tcase_add_test(t, test_job_empty_code_appends);
	tcase_add_test(t, test_job_limit);
	suite_add_tcase(s, t);
	t = tcase_create("argv");
	tcase_add_test(t, test_base_env_then_override);
	tcase_add_test(t, test_argv);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(standby_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
