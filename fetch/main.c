/* isol8-fetch: started by isol8d as root, one process per fetch (see fetch.h). Reads what it
 * needs from files first (the CA bundle, the test hook's hosts file), locks itself down, then
 * reads the job from fd 3 and writes its one answer there. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/remote_code.h"
#include "common/xalloc.h"
#include "fetch/fetch.h"
#include "lockdown/start.h"

/* Debian's bundle (ca-certificates), what libcurl would open itself. */
#define FETCH_DEFAULT_CA "/etc/ssl/certs/ca-certificates.crt"
#define FETCH_MAX_CA (8u << 20)

static char *read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t n = 0;

	*len = 0;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void answer(int fd, const char *head, const char *body, size_t len)
{
	size_t hl = strlen(head), off = 0;

	while (off < hl + len) {
		const char *p = off < hl ? head + off : body + (off - hl);
		size_t n = off < hl ? hl - off : len - (off - hl);
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void answer_err(int fd, const struct isol8_err *e)
{
	char line[320];

	remote_result_err(e, line, sizeof line);
	answer(fd, line, "", 0);
}

struct fetch_opts {
	const char *hosts, *ca_path;
};

static int fetch_opt(int c, const char *arg, void *ctx)
{
	struct fetch_opts *o = ctx;

	if (c == 'h')
		o->hosts = arg;
	else if (c == 'c')
		o->ca_path = arg;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct lockdown_start st = {.prog = "isol8-fetch", .need_gid = true};
	struct fetch_opts o = {NULL, FETCH_DEFAULT_CA};
	struct isol8_err err = ISOL8_ERR_INIT;
	struct fetch_job job;
	char *ca, *jobtext, *code = NULL;
	size_t ca_len, jl = 0, code_len = 0;
	int chan;
	static const struct option opts[] = {{"hosts", required_argument, 0, 'h'},
					     {"ca-file", required_argument, 0, 'c'}};

	lockdown_start_args(&st, argc, argv, opts, sizeof opts / sizeof opts[0], fetch_opt, &o);
	chan = st.chan;
	/* A backstop for a transfer libcurl fails to end: the policy's timeout is at most 300 s. */
	alarm(ISOL8_REMOTE_MAX_TIMEOUT_MS / 1000 + 30);
	if (!(ca = read_file(o.ca_path, FETCH_MAX_CA, &ca_len))) {
		isol8_err_set(&err, ISOL8_E_IO, errno, "Failed to fetch remote code: cannot read the CA bundle %s",
			      o.ca_path);
		answer_err(chan, &err);
		return 1;
	}
	if (o.hosts && fetch_hosts_load(o.hosts, &err) < 0) {
		answer_err(chan, &err);
		return 1;
	}
	/* OpenSSL reads its configuration here, before the filter denies writes. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init failed");
	lockdown_start_lock(&st, fetch_seccomp_load);
	chan = st.chan;

	jobtext = xmalloc(FETCH_MAX_JOB + 1);
	for (;;) {
		ssize_t r = read(chan, jobtext + jl, FETCH_MAX_JOB + 1 - jl);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		jl += (size_t)r;
		if (jl > FETCH_MAX_JOB)
			break;
	}
	if (fetch_job_get(jobtext, jl, &job, &err) < 0) {
		answer_err(chan, &err);
		return 1;
	}
	free(jobtext);
	alarm((unsigned)(job.r.timeout_ms / 1000) + 5);
	if (fetch_run(&job, ca, ca_len, &code, &code_len, &err) < 0) {
		log_info("fetch %.200s: %s", job.url, err.msg);
		answer_err(chan, &err);
		return 0;
	}
	{
		char head[32];
		snprintf(head, sizeof head, "OK %zu\n", code_len);
		answer(chan, head, code, code_len);
	}
	free(code);
	fetch_job_free(&job);
	free(ca);
	return 0;
}
