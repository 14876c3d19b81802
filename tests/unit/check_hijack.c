/* docker/hijack.c: the strict HTTP head parser, the chunked decoder, and the whole exec-start
 * hijack against a fake engine on a UNIX socket (no stream byte may be lost). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "docker/client.h"
#include "docker/hijack.h"

static int parse(const char *s, struct docker_http_head *h, struct isol8_err *err)
{
	return docker_http_parse_head(s, strlen(s), h, err);
}

START_TEST(test_head_ok)
{
	struct docker_http_head h;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(parse("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
			       "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
			       &h, &err),
			 0);
	ck_assert_int_eq(h.status, 101);
	ck_assert_int_eq(h.content_length, -1);
	ck_assert(!h.chunked);
	ck_assert_int_eq(parse("HTTP/1.0 200\r\n\r\n", &h, &err), 0);
	ck_assert_int_eq(h.status, 200);
	ck_assert_int_eq(parse("HTTP/1.1 404 Not Found\r\ncontent-length:  42 \r\nX-Empty:\r\n\r\n", &h, &err), 0);
	ck_assert_int_eq(h.status, 404);
	ck_assert_int_eq(h.content_length, 42);
	ck_assert_int_eq(parse("HTTP/1.1 500 x\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", &h, &err), 0);
	ck_assert_int_eq(parse("HTTP/1.1 500 x\r\nTransfer-Encoding: Chunked\r\n\r\n", &h, &err), 0);
	ck_assert(h.chunked);
}
END_TEST

START_TEST(test_head_bad)
{
	static const char *const bad[] = {
		"",
		"\r\n\r\n",
		"HTTP/1.1 101 UPGRADED\r\n",           /* unterminated */
		"HTTP/1.1 101 UPGRADED\n\n",           /* bare LF */
		"HTTP/1.1 101 UPGRADED\r\nA: b\n\r\n", /* bare LF in header */
		"HTTP/2 101 x\r\n\r\n",
		"HTTP/1.1 10 x\r\n\r\n",
		"HTTP/1.1 1a1 x\r\n\r\n",
		"HTTP/1.1 099 x\r\n\r\n",
		"HTTP/1.1 1011 x\r\n\r\n",
		"HTTP/1.1 101x\r\n\r\n",
		"http/1.1 101 x\r\n\r\n",
		"HTTP/1.1 101 x\r\n folded: yes\r\n\r\n",
		"HTTP/1.1 101 x\r\nNo colon\r\n\r\n",
		"HTTP/1.1 101 x\r\n: empty name\r\n\r\n",
		"HTTP/1.1 101 x\r\nBad Name: v\r\n\r\n",
		"HTTP/1.1 101 x\r\nA: b\rc\r\n\r\n",   /* stray CR */
		"HTTP/1.1 101 x\r\nA: b\001c\r\n\r\n", /* control char */
		"HTTP/1.1 404 x\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 404 x\r\nContent-Length: 1 2\r\n\r\n",
		"HTTP/1.1 404 x\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 404 x\r\nContent-Length: 9999999999999999999\r\n\r\n",
		"HTTP/1.1 404 x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 404 x\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 404 x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 101 x\r\n\r\nextra", /* bytes after the head */
		NULL,
	};
	for (const char *const *p = bad; *p; p++) {
		struct docker_http_head h;
		struct isol8_err err = ISOL8_ERR_INIT;
		ck_assert_msg(parse(*p, &h, &err) == -1, "accepted: %s", *p);
		ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	}
	{
		/* an embedded NUL */
		static const char nul[] = "HTTP/1.1 101 x\r\nA: \0\r\n\r\n";
		struct docker_http_head h;
		struct isol8_err err = ISOL8_ERR_INIT;
		ck_assert_int_eq(docker_http_parse_head(nul, sizeof nul - 1, &h, &err), -1);
	}
}
END_TEST

START_TEST(test_head_end)
{
	ck_assert_uint_eq(docker_http_head_end("abc", 3), 0);
	ck_assert_uint_eq(docker_http_head_end("\r\n\r\n", 4), 4);
	ck_assert_uint_eq(docker_http_head_end("a\r\n\r\nbody", 9), 5);
	ck_assert_uint_eq(docker_http_head_end("a\r\n\r", 4), 0);
	ck_assert_uint_eq(docker_http_head_end("a\n\n\r\n", 5), 0);
}
END_TEST

START_TEST(test_dechunk)
{
	static const char full[] = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
	struct isol8_buf out = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(docker_http_dechunk(full, sizeof full - 1, &out, 1000, &err), 1);
	ck_assert_str_eq(out.data, "Wikipedia in\r\n\r\nchunks.");
	/* every prefix is "need more", never an error */
	for (size_t i = 0; i < sizeof full - 1; i++)
		ck_assert_int_eq(docker_http_dechunk(full, i, &out, 1000, &err), 0);
	/* limit */
	ck_assert_int_eq(docker_http_dechunk(full, sizeof full - 1, &out, 8, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	/* trailer fields are skipped */
	ck_assert_int_eq(docker_http_dechunk("1\r\na\r\n0\r\nX: y\r\n\r\n", 17, &out, 10, &err), 1);
	ck_assert_str_eq(out.data, "a");
	{
		static const char *const bad[] = {
			"x\r\n",  "\r\n",   "1\na\r\n0\r\n\r\n", "1\r\nab\r\n0\r\n\r\n", "123456789\r\n",
			"-1\r\n", "1 \r\n", "0\r\n\r\nX",        "0\r\nX: y\n\r\n",      NULL};
		for (const char *const *p = bad; *p; p++) {
			isol8_err_clear(&err);
			ck_assert_msg(docker_http_dechunk(*p, strlen(*p), &out, 1 << 20, &err) == -1, "accepted %s",
				      *p);
		}
	}
	/* a size line that never ends */
	{
		char junk[100];
		memset(junk, '1', sizeof junk);
		ck_assert_int_eq(docker_http_dechunk(junk, sizeof junk, &out, 1 << 20, &err), -1);
	}
	isol8_buf_free(&out);
}
END_TEST

/* ---- fake engine ---- */

struct fake {
	char dir[64];
	char sock[96];
	int listen_fd;
	pid_t pid;
	int req_pipe; /* parent reads the request the child received */
};

/* Child: accept one connection, send back the request, then write `resp` in pieces of `step`
 * bytes (0 = all at once) and close. */
static void fake_start(struct fake *f, const char *resp, size_t resp_len, size_t step)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int p[2];

	snprintf(f->dir, sizeof f->dir, "/tmp/isol8-hijack-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->sock, sizeof f->sock, "%s/docker.sock", f->dir);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->sock);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(f->listen_fd, 0);
	ck_assert_int_eq(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(f->listen_fd, 1), 0);
	ck_assert_int_eq(pipe(p), 0);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		char req[4096];
		size_t have = 0;
		int c = accept(f->listen_fd, NULL, NULL);
		close(p[0]);
		if (c < 0)
			_exit(1);
		/* the request is head + 28-byte body */
		while (have < sizeof req) {
			ssize_t r = read(c, req + have, sizeof req - have);
			if (r <= 0)
				break;
			have += (size_t)r;
			const char *e = memmem(req, have, "\r\n\r\n", 4);
			if (e && have >= (size_t)(e - req) + 4 + 28)
				break;
		}
		if (write(p[1], req, have) != (ssize_t)have)
			_exit(1);
		close(p[1]);
		for (size_t off = 0; off < resp_len;) {
			size_t n = step ? (resp_len - off < step ? resp_len - off : step) : resp_len - off;
			if (write(c, resp + off, n) != (ssize_t)n)
				_exit(1);
			off += n;
			if (step)
				usleep(500);
		}
		/* let the parent read everything before EOF */
		shutdown(c, SHUT_WR);
		char drain[256];
		while (read(c, drain, sizeof drain) > 0)
			;
		_exit(0);
	}
	close(p[1]);
	f->req_pipe = p[0];
}

static void fake_stop(struct fake *f)
{
	int st;
	char cmd[128];

	close(f->listen_fd);
	close(f->req_pipe);
	/* SIGKILL: the child inherited Check's SIGTERM handler, which kills the whole group. */
	kill(f->pid, SIGKILL);
	waitpid(f->pid, &st, 0);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct docker *fake_client(struct fake *f)
{
	char host[160];
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d;

	snprintf(host, sizeof host, "unix://%s", f->sock);
	d = docker_open(host, &err);
	ck_assert_msg(d != NULL, "%s", err.msg);
	return d;
}

static const char expected_req[] = "POST /v1.41/exec/abc123/start HTTP/1.1\r\n"
				   "Host: docker\r\n"
				   "Content-Type: application/json\r\n"
				   "Connection: Upgrade\r\n"
				   "Upgrade: tcp\r\n"
				   "Content-Length: 28\r\n"
				   "\r\n"
				   "{\"Detach\":false,\"Tty\":false}";

static void run_upgrade(size_t step)
{
	static const char head[] = "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
				   "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
	/* stream bytes start with a frame header whose bytes look like nothing HTTP */
	static const char stream[] = "\x01\0\0\0\0\0\0\x03hi\n\x02\0\0\0\0\0\0\x04"
				     "err\n";
	char resp[512], req[4096], got[512];
	size_t rl = 0, gl = 0;
	struct fake f;
	struct docker *d;
	struct isol8_err err = ISOL8_ERR_INIT;
	int fd = -1;
	ssize_t n;

	memcpy(resp, head, sizeof head - 1);
	rl = sizeof head - 1;
	memcpy(resp + rl, stream, sizeof stream - 1);
	rl += sizeof stream - 1;
	fake_start(&f, resp, rl, step);
	d = fake_client(&f);
	ck_assert_msg(docker_exec_start_hijack(d, "abc123", &fd, &err) == 0, "%s", err.msg);
	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, got + gl, sizeof got - gl)) > 0)
		gl += (size_t)n;
	ck_assert_uint_eq(gl, sizeof stream - 1);
	ck_assert(memcmp(got, stream, gl) == 0);
	n = read(f.req_pipe, req, sizeof req - 1);
	ck_assert_int_gt(n, 0);
	req[n] = '\0';
	ck_assert_str_eq(req, expected_req);
	close(fd);
	docker_close(d);
	fake_stop(&f);
}

START_TEST(test_hijack_one_write)
{
	run_upgrade(0);
}
END_TEST

START_TEST(test_hijack_byte_by_byte)
{
	run_upgrade(1);
}
END_TEST

START_TEST(test_hijack_chunks_of_3)
{
	run_upgrade(3);
}
END_TEST

static void run_error(const char *resp, size_t step, int code, const char *msg)
{
	struct fake f;
	struct docker *d;
	struct isol8_err err = ISOL8_ERR_INIT;
	int fd = 7;

	fake_start(&f, resp, strlen(resp), step);
	d = fake_client(&f);
	ck_assert_int_eq(docker_exec_start_hijack(d, "abc123", &fd, &err), -1);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(err.code, code);
	ck_assert_msg(strstr(err.msg, msg) != NULL, "got: %s", err.msg);
	docker_close(d);
	fake_stop(&f);
}

START_TEST(test_hijack_404)
{
	run_error("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 43\r\n\r\n"
		  "{\"message\":\"No such exec instance: abc123\"}",
		  0, ISOL8_E_NOTFOUND, "No such exec instance: abc123");
}
END_TEST

START_TEST(test_hijack_409_chunked)
{
	run_error("HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "10\r\n{\"message\":\"cont\r\n14\r\nainer is not running\r\n2\r\n\"}\r\n0\r\n\r\n",
		  2, ISOL8_E_DOCKER, "container is not running");
}
END_TEST

START_TEST(test_hijack_500_text)
{
	run_error("HTTP/1.1 500 Internal Server Error\r\n\r\nboom\nmore", 0, ISOL8_E_DOCKER, "boom");
}
END_TEST

START_TEST(test_hijack_garbage)
{
	run_error("SSH-2.0-OpenSSH\r\n\r\n", 0, ISOL8_E_PROTO, "bad status line");
}
END_TEST

START_TEST(test_hijack_early_close)
{
	run_error("HTTP/1.1 101 UPGR", 0, ISOL8_E_UNAVAIL, "closed the connection");
}
END_TEST

START_TEST(test_hijack_head_too_big)
{
	size_t n = DOCKER_HIJACK_MAX_HEAD + 100;
	char *resp = xmalloc(n + 1);

	memcpy(resp, "HTTP/1.1 101 x\r\nX: ", 19);
	memset(resp + 19, 'a', n - 19);
	resp[n] = '\0';
	run_error(resp, 0, ISOL8_E_PROTO, "larger than");
	free(resp);
}
END_TEST

START_TEST(test_hijack_no_socket)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d = docker_open("unix:///nonexistent/isol8/docker.sock", &err);
	int fd = 5;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(docker_exec_start_hijack(d, "abc", &fd, &err), -1);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(err.code, ISOL8_E_UNAVAIL);
	ck_assert_str_eq(err.msg,
			 "cannot reach Docker at /nonexistent/isol8/docker.sock: No such file or directory "
			 "(is dockerd running?)");
	ck_assert_int_eq(docker_exec_start_hijack(d, "..", &fd, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	docker_close(d);
}
END_TEST

static Suite *hijack_suite(void)
{
	Suite *s = suite_create("hijack");
	TCase *tc = tcase_create("parse");
	TCase *tf = tcase_create("fake-engine");

	tcase_add_test(tc, test_head_ok);
	tcase_add_test(tc, test_head_bad);
	tcase_add_test(tc, test_head_end);
	tcase_add_test(tc, test_dechunk);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tf, 20);
	tcase_add_test(tf, test_hijack_one_write);
	tcase_add_test(tf, test_hijack_byte_by_byte);
	tcase_add_test(tf, test_hijack_chunks_of_3);
	tcase_add_test(tf, test_hijack_404);
	tcase_add_test(tf, test_hijack_409_chunked);
	tcase_add_test(tf, test_hijack_500_text);
	tcase_add_test(tf, test_hijack_garbage);
	tcase_add_test(tf, test_hijack_early_close);
	tcase_add_test(tf, test_hijack_head_too_big);
	tcase_add_test(tf, test_hijack_no_socket);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hijack_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
