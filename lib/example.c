/* A program using libisol8: run a snippet, print its output and exit code; then stream one.
 * `example [SOCKET]` uses the local isol8d; `example http://HOST:PORT` an `isol8 serve` (the key
 * from $ISOL8_API_KEY). */
#include <stdio.h>
#include <string.h>

#include <isol8.h>

static int print_chunk(void *user, const char *data, size_t len)
{
	printf("%s: %.*s", (const char *)user, (int)len, data);
	return 0;
}

int main(int argc, char **argv)
{
	isol8_error err;
	const char *where = argc > 1 ? argv[1] : NULL;
	isol8_engine *e = where && (strncmp(where, "http://", 7) == 0 || strncmp(where, "https://", 8) == 0)
		? isol8_engine_new_remote(where, NULL, &err)
		: isol8_engine_new(where, &err);
	isol8_request *q = isol8_request_new("python", "import sys\nprint(6 * 7)\nsys.exit(3)");
	isol8_stream_callbacks cb = {.on_stdout = print_chunk};
	isol8_result *r;

	if (!e || isol8_engine_start(e, &err) < 0 || isol8_execute(e, q, &r, &err) < 0) {
		fprintf(stderr, "[ERR] %s\n", err.message);
		return 1;
	}
	printf("exit %d, stdout %s", isol8_result_exit_code(r), isol8_result_stdout(r, NULL));
	isol8_result_free(r);
	isol8_request_free(q);
	q = isol8_request_new("bash", "echo streamed");
	if (isol8_execute_stream(e, q, &cb, "live", NULL, &err) < 0) {
		fprintf(stderr, "[ERR] %s\n", err.message);
		return 1;
	}
	isol8_request_free(q);
	isol8_engine_free(e);
	return 0;
}
