/* docker/http.c and docker/progress.c: host parsing, error mapping, escaping, and the build
 * progress (JSON lines) parser. No engine needed. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "docker/client.h"
#include "docker/http.h"
#include "docker/progress.h"

START_TEST(test_open_hosts)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d;

	d = docker_open("unix:///run/x.sock", &err);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(docker_socket_path(d), "/run/x.sock");
	docker_close(d);

	unsetenv("DOCKER_HOST");
	d = docker_open(NULL, &err);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(docker_socket_path(d), "/var/run/docker.sock");
	docker_close(d);

	setenv("DOCKER_HOST", "unix:///tmp/other.sock", 1);
	d = docker_open(NULL, &err);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(docker_socket_path(d), "/tmp/other.sock");
	docker_close(d);

	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	ck_assert_ptr_null(docker_open(NULL, &err));
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "not supported yet"));
	unsetenv("DOCKER_HOST");

	ck_assert_ptr_null(docker_open("unix://relative.sock", &err));
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_ptr_null(docker_open("/var/run/docker.sock", &err));
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
}
END_TEST

START_TEST(test_unreachable)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d = docker_open("unix:///nonexistent/isol8/docker.sock", &err);
	json_object *o = (json_object *)1;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(docker_ping(d, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_UNAVAIL);
	ck_assert_str_eq(err.msg,
			 "cannot reach Docker at /nonexistent/isol8/docker.sock: No such file or directory "
			 "(is dockerd running?)");
	ck_assert_int_eq(docker_container_list(d, "a=b", true, &o, &err), -1);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(err.code, ISOL8_E_UNAVAIL);
	/* invalid names are refused before any I/O */
	ck_assert_int_eq(docker_container_start(d, "..", &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_int_eq(docker_container_inspect(d, "", &o, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_int_eq(docker_container_put_archive(d, "abc", "relative", "", 0, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	docker_close(d);
}
END_TEST

START_TEST(test_status_error)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *b = "{\"message\":\"No such image: nope:latest\"}";

	docker_status_error(404, b, strlen(b), &err);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);
	ck_assert_str_eq(err.msg, "No such image: nope:latest");
	b = "{\"message\":\"conflict\\nwith\\u001b[31m escape\"}";
	docker_status_error(409, b, strlen(b), &err);
	ck_assert_int_eq(err.code, ISOL8_E_DOCKER);
	ck_assert_str_eq(err.msg, "conflict with [31m escape");
	docker_status_error(500, "plain text\nsecond", 18, &err);
	ck_assert_str_eq(err.msg, "plain text");
	docker_status_error(502, "", 0, &err);
	ck_assert_str_eq(err.msg, "Docker answered HTTP 502");
	docker_status_error(400, "{\"message\":42}", 14, &err);
	ck_assert_str_eq(err.msg, "{\"message\":42}");
	{
		/* very long message is truncated, not overflowed */
		struct isol8_buf big = ISOL8_BUF_INIT;
		isol8_buf_puts(&big, "{\"message\":\"");
		for (int i = 0; i < 5000; i++)
			isol8_buf_putc(&big, 'm');
		isol8_buf_puts(&big, "\"}");
		docker_status_error(500, big.data, big.len, &err);
		ck_assert_uint_lt(strlen(err.msg), sizeof err.msg);
		isol8_buf_free(&big);
	}
}
END_TEST

START_TEST(test_escape)
{
	char *s = docker_escape("a b/c:d?e&f=g%h.i_j~k-l\xff");

	ck_assert_str_eq(s, "a%20b%2Fc%3Ad%3Fe%26f%3Dg%25h.i_j~k-l%FF");
	free(s);
	s = docker_label_filter("org.isol8.test=a&b");
	ck_assert_str_eq(s, "&filters=%7B%22label%22%3A%5B%22org.isol8.test%3Da%26b%22%5D%7D");
	free(s);
	s = docker_label_filter(NULL);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(test_copy_id)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char id[65];
	json_object *o = json_tokener_parse(
		"{\"Id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"Warnings\":[]}");

	ck_assert_int_eq(docker_copy_id(o, id, &err), 0);
	ck_assert_str_eq(id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	json_object_put(o);
	o = json_tokener_parse("{\"Id\":\"../../etc\"}");
	ck_assert_int_eq(docker_copy_id(o, id, &err), -1);
	json_object_put(o);
	o = json_tokener_parse("{\"Id\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}");
	ck_assert_int_eq(docker_copy_id(o, id, &err), -1);
	json_object_put(o);
	o = json_tokener_parse("[1]");
	ck_assert_int_eq(docker_copy_id(o, id, &err), -1);
	json_object_put(o);
	ck_assert_int_eq(docker_copy_id(NULL, id, &err), -1);
}
END_TEST

/* ---- progress ---- */

struct lines {
	struct isol8_buf all;
	int n;
};

static void on_line(const char *line, void *ctx)
{
	struct lines *l = ctx;

	l->n++;
	isol8_buf_printf(&l->all, "[%s]", line);
}

static const char build_ok[] = "{\"stream\":\"Step 1/2 : FROM debian:bookworm-slim\\n\"}\r\n"
			       "{\"stream\":\" ---\\u003e 89ac147a8b5e\\n\"}\r\n"
			       "{\"aux\":{\"ID\":\"sha256:abc\"}}\r\n"
			       "{\"stream\":\"partial \"}\n"
			       "{\"stream\":\"line\\nand two\\nlines\\n\"}\n"
			       "{\"status\":\"ignored\"}\n"
			       "{\"stream\":\"no newline at end\"}";

START_TEST(test_progress_split_everywhere)
{
	size_t n = sizeof build_ok - 1;

	for (size_t cut = 0; cut <= n; cut++) {
		struct docker_progress p;
		struct lines l = {ISOL8_BUF_INIT, 0};
		struct isol8_err err = ISOL8_ERR_INIT;

		docker_progress_init(&p, on_line, &l);
		ck_assert_int_eq(docker_progress_feed(&p, build_ok, cut), 0);
		ck_assert_int_eq(docker_progress_feed(&p, build_ok + cut, n - cut), 0);
		ck_assert_int_eq(docker_progress_finish(&p, &err), 0);
		ck_assert_str_eq(l.all.data,
				 "[Step 1/2 : FROM debian:bookworm-slim][ ---> 89ac147a8b5e][partial line]"
				 "[and two][lines][no newline at end]");
		docker_progress_free(&p);
		isol8_buf_free(&l.all);
	}
}
END_TEST

START_TEST(test_progress_error)
{
	static const char s[] = "{\"stream\":\"Step 2/2 : RUN false\\n\"}\n"
				"{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c false' returned a "
				"non-zero code: 1\"},\"error\":\"other text\"}\n"
				"{\"stream\":\"after\\n\"}\n";
	struct docker_progress p;
	struct lines l = {ISOL8_BUF_INIT, 0};
	struct isol8_err err = ISOL8_ERR_INIT;

	docker_progress_init(&p, on_line, &l);
	ck_assert_int_eq(docker_progress_feed(&p, s, sizeof s - 1), -1);
	ck_assert_int_eq(docker_progress_feed(&p, "{}\n", 3), -1);
	ck_assert_int_eq(docker_progress_finish(&p, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_DOCKER);
	ck_assert_str_eq(err.msg, "The command '/bin/sh -c false' returned a non-zero code: 1");
	ck_assert_str_eq(l.all.data, "[Step 2/2 : RUN false]");
	docker_progress_free(&p);
	isol8_buf_free(&l.all);

	/* only "error" */
	docker_progress_init(&p, NULL, NULL);
	ck_assert_int_eq(docker_progress_feed(&p, "{\"error\":\"boom\"}", 16), 0);
	ck_assert_int_eq(docker_progress_finish(&p, &err), -1);
	ck_assert_str_eq(err.msg, "boom");
	docker_progress_free(&p);
}
END_TEST

START_TEST(test_progress_hostile)
{
	static const char *const bad[] = {"not json\n", "[1,2]\n",   "{\"stream\":\"x\"} trailing\n",
					  "{\"a\":\n",  "\"str\"\n", NULL};
	for (const char *const *b = bad; *b; b++) {
		struct docker_progress p;
		struct isol8_err err = ISOL8_ERR_INIT;

		docker_progress_init(&p, NULL, NULL);
		ck_assert_msg(docker_progress_feed(&p, *b, strlen(*b)) == -1, "accepted %s", *b);
		ck_assert_int_eq(docker_progress_finish(&p, &err), -1);
		ck_assert_int_eq(err.code, ISOL8_E_DOCKER);
		docker_progress_free(&p);
	}
	{
		/* NUL inside a line */
		struct docker_progress p;
		struct isol8_err err = ISOL8_ERR_INIT;
		docker_progress_init(&p, NULL, NULL);
		ck_assert_int_eq(docker_progress_feed(&p, "{\"stream\":\"a\0\"}\n", 16), -1);
		docker_progress_free(&p);
		(void)err;
	}
	{
		/* a line that never ends: refused once past the cap, without buffering it all */
		struct docker_progress p;
		struct isol8_err err = ISOL8_ERR_INIT;
		char *chunk = xmalloc(65536);
		int r = 0;

		memset(chunk, ' ', 65536);
		docker_progress_init(&p, NULL, NULL);
		for (int i = 0; i < 100 && r == 0; i++)
			r = docker_progress_feed(&p, chunk, 65536);
		ck_assert_int_eq(r, -1);
		ck_assert_uint_le(p.line.len, DOCKER_PROGRESS_MAX_LINE);
		ck_assert_int_eq(docker_progress_finish(&p, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "too long"));
		docker_progress_free(&p);
		free(chunk);
	}
	{
		/* endless "stream" text without newline is delivered in pieces */
		struct docker_progress p;
		struct lines l = {ISOL8_BUF_INIT, 0};
		struct isol8_err err = ISOL8_ERR_INIT;
		struct isol8_buf line = ISOL8_BUF_INIT;

		isol8_buf_puts(&line, "{\"stream\":\"");
		for (int i = 0; i < 70000; i++)
			isol8_buf_putc(&line, 'x');
		isol8_buf_puts(&line, "\"}\n");
		docker_progress_init(&p, on_line, &l);
		ck_assert_int_eq(docker_progress_feed(&p, line.data, line.len), 0);
		ck_assert_int_eq(l.n, 1);
		ck_assert_int_eq(docker_progress_finish(&p, &err), 0);
		ck_assert_int_eq(l.n, 1);
		ck_assert_uint_eq(l.all.len, 70000 + 2);
		docker_progress_free(&p);
		isol8_buf_free(&l.all);
		isol8_buf_free(&line);
	}
	{
		/* blank lines are fine */
		struct docker_progress p;
		struct isol8_err err = ISOL8_ERR_INIT;
		docker_progress_init(&p, NULL, NULL);
		ck_assert_int_eq(docker_progress_feed(&p, "\n\r\n  \n{}\n", 9), 0);
		ck_assert_int_eq(docker_progress_finish(&p, &err), 0);
		docker_progress_free(&p);
	}
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("docker_http");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_open_hosts);
	tcase_add_test(tc, test_unreachable);
	tcase_add_test(tc, test_status_error);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_copy_id);
	tcase_add_test(tc, test_progress_split_everywhere);
	tcase_add_test(tc, test_progress_error);
	tcase_add_test(tc, test_progress_hostile);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
