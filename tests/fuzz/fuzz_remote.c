/* libFuzzer harness for remote code's parsers of untrusted bytes: the fetcher's answer as the
 * worker reads it (common/remote_code.c), the broker's job as the fetcher reads it (fetch/job.c),
 * the URL checks on a hostile URL or redirect target (fetch/url.c, libcurl's parser), and the
 * --github/--gist shorthands. An accepted answer must keep its promises (length, a NUL after the
 * code); an accepted URL must name a port and a canonical host; a job that parses must encode
 * back to the same bytes.
 * Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_remote corpus/ */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/remote_code.h"
#include "common/xalloc.h"
#include "fetch/fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct fetch_job j;
	char *code = NULL, *s, *u;
	size_t len = 0, bad;

	if (remote_result_parse((const char *)data, size, &code, &len, &err) == 0) {
		if (!code || len > size || code[len] != '\0')
			abort();
		free(code);
	} else if (code) {
		abort();
	}
	if (fetch_job_get(data, size, &j, &err) == 0) {
		struct isol8_buf b = ISOL8_BUF_INIT;
		fetch_job_put(&b, &j);
		if (b.len != size || memcmp(b.data, data, size) != 0)
			abort();
		isol8_buf_free(&b);
		fetch_job_free(&j);
	}
	if (remote_utf8_valid((const char *)data, size, &bad) == false && bad >= size)
		abort();

	s = xstrndup((const char *)data, size < 9000 ? size : 9000);
	{
		struct fetch_rules r = {.http_ok = true, .https_ok = true};
		struct fetch_target t;
		static char *allow[] = {"*", NULL};
		static uint16_t ports[] = {80, 443};
		r.net.allow = allow;
		r.net.n_allow = 1;
		r.net.ports = ports;
		r.net.n_ports = 2;
		if (fetch_url_check(s, true, &r, &t, &err) == 0) {
			if (t.port == 0 || !t.host[0] || strlen(t.host) >= sizeof t.host)
				abort();
			for (const char *c = t.host; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					abort();
		}
	}
	if ((u = remote_github_url(s, &err))) {
		if (strncmp(u, "https://raw.githubusercontent.com/", 34) != 0 || strstr(u, "/../") || strchr(u, '?'))
			abort();
		free(u);
	}
	if ((u = remote_gist_url(s, &err))) {
		if (strncmp(u, "https://gist.githubusercontent.com/", 35) != 0 || strchr(u, '#'))
			abort();
		free(u);
	}
	free(s);
	return 0;
}
