/* libisol8 against a live isol8d (tests/integration/libisol8_test.sh): one scenario per argv[2],
 * printing one line per step for the script to compare. argv[1] is isol8d's socket, or an
 * http:// URL for the remote engine (an `isol8 serve`, key in $ISOL8_API_KEY). Linked with the
 * shared library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <isol8.h>

static isol8_engine *e;

static void run_print(isol8_request *q, const char *label)
{
	isol8_error err = {0};
	isol8_result *r;
	size_t n;

	if (isol8_execute(e, q, &r, &err) < 0) {
		printf("%s: error %d %s\n", label, err.code, err.message);
		return;
	}
	const char *out = isol8_result_stdout(r, &n);
	printf("%s: exit %d stdout [%.*s] stderr [%s] runtime %s id-len %zu ts %.4s trunc %d timeout %d\n", label,
	       isol8_result_exit_code(r), (int)n, out, isol8_result_stderr(r, NULL), isol8_result_runtime(r),
	       strlen(isol8_result_execution_id(r)), isol8_result_timestamp(r), isol8_result_truncated(r),
	       isol8_result_timed_out(r));
	isol8_result_free(r);
}

struct slow {
	size_t bytes, calls;
	int stop_after;
	int exit_code;
	int errors;
};

static int on_out(void *user, const char *data, size_t len)
{
	struct slow *s = user;
	struct timespec ts = {0, 2000000};

	(void)data;
	s->bytes += len;
	s->calls++;
	nanosleep(&ts, NULL); /* a slow consumer: the program must wait, not the memory grow */
	return s->stop_after && s->bytes >= (size_t)s->stop_after;
}

static void on_exit_cb(void *user, int code)
{
	((struct slow *)user)->exit_code = code;
}
static void on_error_cb(void *user, const isol8_error *err)
{
	(void)err;
	((struct slow *)user)->errors++;
}

int main(int argc, char **argv)
{
	isol8_error err = {0};
	isol8_request *q;
	const char *what = argc > 2 ? argv[2] : "";

	if (strncmp(argv[1], "http://", 7) == 0)
		e = isol8_engine_new_remote(argv[1], NULL, &err);
	else
		e = isol8_engine_new(argv[1], &err);
	if (!e) {
		printf("new: error %d %s\n", err.code, err.message);
		return 0;
	}
	if (strcmp(what, "basic") == 0) {
		printf("version %s start %d\n", isol8_version(), isol8_engine_start(e, &err));
		q = isol8_request_new("python",
				      "import os, sys\nprint(os.environ['A'], sys.argv[1:], sys.stdin.read())\n"
				      "print('e', file=sys.stderr)\nsys.exit(4)");
		isol8_request_add_env(q, "A", "env", &err);
		isol8_request_add_arg(q, "x y", &err);
		isol8_request_set_stdin(q, "in", 2, &err);
		run_print(q, "python");
		isol8_request_free(q);
		q = isol8_request_new("cobol", "x");
		run_print(q, "cobol");
		isol8_request_free(q);
		q = isol8_request_new("bash", "sleep 5");
		isol8_request_set_timeout_ms(q, 1000, &err);
		run_print(q, "timeout");
		isol8_request_free(q);
		q = isol8_request_new("bash", ":");
		int rc = isol8_request_add_env(q, "1X", "v", &err);
		printf("bad-env %d %d\n", rc, err.code);
		rc = isol8_request_set_session(q, "a b", &err);
		printf("bad-session %d %d\n", rc, err.code);
		isol8_request_free(q);
	} else if (strcmp(what, "stream") == 0) {
		struct slow s = {0};
		isol8_stream_callbacks cb = {.on_stdout = on_out, .on_exit = on_exit_cb, .on_error = on_error_cb};
		isol8_result *r;
		/* 960 000 bytes (under the 1 MiB output cap) through a 64 KiB pipe, read slowly. */
		q = isol8_request_new("python", "import sys\nfor i in range(16):\n    sys.stdout.write('x' * 60000)\n");
		isol8_request_set_timeout_ms(q, 60000, &err);
		int rc = isol8_execute_stream(e, q, &cb, &s, &r, &err);
		printf("stream rc %d bytes %zu many-calls %d exit %d errors %d result-stdout %zu\n", rc, s.bytes,
		       s.calls > 10, s.exit_code, s.errors, strlen(isol8_result_stdout(r, NULL)));
		isol8_result_free(r);
		isol8_request_free(q);
		struct slow t = {.stop_after = 1};
		q = isol8_request_new("bash", "echo first; sleep 30; echo never");
		time_t t0 = time(NULL);
		rc = isol8_execute_stream(e, q, &cb, &t, NULL, &err);
		printf("stop rc %d exit %d fast %d\n", rc, t.exit_code, time(NULL) - t0 < 20);
		isol8_request_free(q);
	} else if (strcmp(what, "session") == 0) {
		char *list;
		q = isol8_request_new("python", "x = 40");
		isol8_request_set_session(q, "lib-s1", &err);
		run_print(q, "first");
		isol8_request_free(q);
		q = isol8_request_new("python", "print(x + 2)");
		isol8_request_set_session(q, "lib-s1", &err);
		run_print(q, "second");
		isol8_request_free(q);
		{
			void *got = NULL;
			size_t glen = 0;
			int prc = isol8_file_put(e, "lib-s1", "d/f.bin", "a\0b", 3, &err);
			int grc = isol8_file_get(e, "lib-s1", "/sandbox/d/f.bin", &got, &glen, &err);
			printf("file put %d get %d len %zu same %d\n", prc, grc, glen,
			       glen == 3 && memcmp(got, "a\0b", 3) == 0);
			free(got);
			grc = isol8_file_get(e, "lib-s1", "missing", &got, &glen, &err);
			printf("missing %d %d\n", grc, err.code);
		}
		list = isol8_session_list(e, &err);
		printf("listed %d\n", list && strstr(list, "\"id\":\"lib-s1\"") != NULL);
		free(list);
		printf("stop %d\n", isol8_session_stop(e, "lib-s1", &err));
		int rc = isol8_session_stop(e, "lib-s1", &err);
		printf("stop-again %d %d %s\n", rc, err.code, err.message);
	} else if (strcmp(what, "big") == 0) {
		/* Past the 60 KiB request frame: 200 KiB of code, 1 MiB of stdin. */
		size_t clen = 200 * 1024, ilen = 1024 * 1024;
		static const char tail[] = "\nimport sys\nd = sys.stdin.read()\n"
					   "print(len(open(__file__).read()) if '__file__' in dir() else -1, len(d), "
					   "d[:3], d[-3:], d.count('y'))\n";
		char *code = malloc(clen + 1), *in = malloc(ilen);
		memset(code, '#', clen - sizeof tail + 1);
		memcpy(code + clen - sizeof tail + 1, tail, sizeof tail);
		memset(in, 'y', ilen);
		memcpy(in, "abc", 3);
		memcpy(in + ilen - 3, "xyz", 3);
		q = isol8_request_new("python", code);
		int rc = isol8_request_set_stdin(q, in, ilen, &err);
		printf("set-stdin %d code %zu\n", rc, strlen(code));
		isol8_request_set_timeout_ms(q, 60000, &err);
		run_print(q, "big");
		isol8_request_free(q);
		free(code);
		free(in);
	} else if (strcmp(what, "errors") == 0) {
		int rc = isol8_engine_start(e, &err);
		printf("start %d code %d\n", rc, err.code);
		q = isol8_request_new("python", "1");
		run_print(q, "run");
		isol8_request_free(q);
		char *list = isol8_session_list(e, &err);
		printf("list %s code %d %s\n", list ? "ok" : "NULL", err.code, err.message);
		free(list);
		isol8_engine_free(e);
		e = isol8_engine_new_remote("ftp://x", NULL, &err);
		printf("bad-url %s code %d %s\n", e ? "engine" : "NULL", err.code, err.message);
		return 0;
	} else if (strcmp(what, "down") == 0) {
		int rc = isol8_engine_start(e, &err);
		printf("start %d code %d unavail %d\n", rc, err.code, err.code == ISOL8_ERR_UNAVAIL);
		q = isol8_request_new("python", "1");
		run_print(q, "run");
		isol8_request_free(q);
	}
	isol8_engine_free(e);
	return 0;
}
