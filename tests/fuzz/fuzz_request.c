/* libFuzzer harness for the worker's FE_RUN request parser (worker/request.c) with its bundle
 * (worker/bundle.c), as a hostile frontend sends them. Build: configure --enable-fuzzing
 * CC=clang; run: tests/fuzz/fuzz_request -dict=tests/fuzz/request.dict tests/fuzz/corpus/request
 * Input: the request JSON up to the first NUL byte, then the bundle bytes, which reach the
 * parser through a memfd as they do in the worker. A parse that succeeds is freed with
 * request_free(); one that fails must leave nothing behind (LeakSanitizer checks both). */
#include "config.h"
#include "common/clock.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "worker/worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t json_len = nul ? (size_t)(nul - data) : size;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct run_req r;
	int fd = -1;

	if (nul) {
		size_t left = size - json_len - 1;
		const uint8_t *p = nul + 1;
		fd = memfd_create("fuzz-bundle", MFD_CLOEXEC);
		if (fd < 0)
			return 0;
		while (left) {
			ssize_t w = write(fd, p, left);
			if (w <= 0)
				break;
			p += w;
			left -= (size_t)w;
		}
		lseek(fd, 0, SEEK_SET);
	}
	if (request_parse((const char *)data, json_len, fd, &r, &err) == 0)
		request_free(&r);
	if (fd >= 0)
		close(fd);
	return 0;
}
