/* Internal commands of a run inside its sandbox (tar for injection, package installs, the
 * REPL's kill): output collected, not streamed to the caller. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "worker/run.h"

/* Returns the helper's exit code, or -1 with err. */
int run_helper(const char *id, const char *const *argv, const char *const *env, const void *in, size_t in_len,
	       uint64_t deadline, struct isol8_buf *out, struct isol8_buf *errb, struct isol8_err *err)
{
	char exec_id[65];
	_cleanup_close_ int fd = -1;
	bool running = true;
	int code = -1;

	if (sb_exec(id, argv, env, "/sandbox", in_len > 0, exec_id, &fd, err) < 0)
		return -1;
	if (pump_collect(fd, in, in_len, out, errb, 64 << 10, deadline, err) < 0)
		return -1;
	for (int i = 0; i < 200 && running; i++) {
		if (sb_exec_status(exec_id, &running, &code, err) < 0)
			return -1;
		if (running)
			usleep(2000);
	}
	return code;
}

void timeout_arg(char *buf, size_t n, uint64_t ms)
{
	snprintf(buf, n, "%llu.%03llus", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

void random_token(char out[33])
{
	unsigned char r[16];
	static const char hex[] = "0123456789abcdef";
	if (getrandom(r, sizeof r, 0) != sizeof r)
		memset(r, 0x5a, sizeof r); /* never happens with a 16-byte read; still deterministic-safe */
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[32] = '\0';
}

/* Sessions of these runtimes keep a long-lived interpreter (the REPL drivers). */
bool repl_capable(const struct run_req *r)
{
	return r->code && !r->has_stdin && !r->stdin_stream && !r->file_ext && !r->n_args &&
		(r->runtime == ISOL8_RT_PYTHON || r->runtime == ISOL8_RT_NODE || r->runtime == ISOL8_RT_BASH);
}
