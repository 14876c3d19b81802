/* Remote code in the worker: ask the broker for a fetch (V_FETCH; the tenant's policy decides
 * there), then read isol8-fetch's answer from the socket the broker handed over. The worker never
 * touches the network; it reads at most ISOL8_REMOTE_MAX_CODE plus the answer's first line, and
 * checks the code again (UTF-8, NUL, hash) before it becomes the run's code. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/remote_code.h"
#include "common/xalloc.h"
#include "worker/bundle.h"
#include "worker/worker.h"

_Static_assert(ISOL8_REMOTE_MAX_CODE <= BUNDLE_CODE_MAX, "fetched code fits a run");

/* The fetcher ends itself (its timeout, then an alarm); this only guards the worker's thread. */
#define REMOTE_READ_MS (ISOL8_REMOTE_MAX_TIMEOUT_MS + 60000u)

int remote_fetch_code(uint32_t token, struct run_req *r, struct isol8_err *err)
{
	_cleanup_close_ int fd = -1;
	size_t cap = 64 << 10, len = 0, max = ISOL8_REMOTE_MAX_CODE + 64;
	_cleanup_free_ char *buf = NULL;
	uint64_t deadline = clock_mono_ms() + REMOTE_READ_MS;
	char *code = NULL;
	size_t code_len = 0;

	if (sb_fetch(token, r->code_url, r->code_hash, r->code_insecure, r->code_max, r->code_timeout, &fd, err) < 0)
		return -1;
	buf = xmalloc(cap);
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		uint64_t now = clock_mono_ms();
		ssize_t n;
		int pr;

		if (now >= deadline)
			return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "remote code: the fetcher did not answer");
		pr = poll(&pf, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		if (len == cap) {
			if (cap >= max)
				return isol8_err_set(err, ISOL8_E_PROTO, 0, "code fetcher: answer too long");
			cap = cap * 2 > max ? max : cap * 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "remote code: read the fetcher's answer");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (remote_result_parse(buf, len, &code, &code_len, err) < 0)
		return -1;
	/* The fetcher checked it; a fetcher taken over by a hostile server must not get more
	 * past us than it could have fetched honestly. */
	if (r->code_max && code_len > r->code_max) {
		free(code);
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "Remote code exceeds maxCodeSize (%llu bytes)",
				     (unsigned long long)r->code_max);
	}
	if (remote_code_check(code, code_len, r->code_hash, err) < 0) {
		free(code);
		return -1;
	}
	r->code = code;
	return 0;
}
