/* libFuzzer harness for the tar readers: the worker's bundle decoder (worker/bundle.c) and
 * common/tar.c's single-file extraction (archives from Docker's get-archive, which a sandbox
 * fills). Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_tar corpus/
 * Byte 0 scales the decoder's limits down (so every limit is reachable with small inputs) and
 * picks the name to extract; the rest is the tar. Checked: decoded sizes never exceed the
 * limits, a refusal keeps nothing, and the re-packed files tar is well-formed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/tar.h"
#include "worker/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"code", "files/a", "a", "./a/b", "/sandbox/out.txt", "stdin", "", "files/"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf raw = ISOL8_BUF_INIT, one = ISOL8_BUF_INIT;
	struct bundle_limits lim;
	struct bundle b;
	uint8_t knob;

	if (size < 1)
		return 0;
	knob = data[0];
	data++;
	size--;
	bundle_limits_for(&lim, (knob & 1) ? 4096 : 512ull << 20);
	if (knob & 2) {
		lim.code_max = lim.stdin_max = 1000;
		lim.max_entries = 1 + (knob >> 5);
		lim.max_files = 1 + ((knob >> 3) & 3);
		lim.name_max = 16;
		lim.total = 6000;
	}
	isol8_buf_append(&raw, data, size);
	if (bundle_decode(&raw, &lim, &b, &err) == 0) {
		if (b.code.len > lim.code_max || b.stdin_data.len > lim.stdin_max || b.n_files > lim.max_files ||
		    b.code.len + b.stdin_data.len > lim.total)
			abort();
		/* What we re-pack for /sandbox must itself be a well-formed tar. */
		err = (struct isol8_err)ISOL8_ERR_INIT;
		if (b.n_files &&
		    isol8_tar_extract_file(b.files_tar.data, b.files_tar.len, "none/such", 1, &one, &err) < 0 &&
		    err.code == ISOL8_E_IO)
			abort();
		isol8_buf_free(&one);
		bundle_free(&b);
	} else if (b.code.data || b.stdin_data.data || b.files_tar.data || raw.data) {
		abort();
	}
	isol8_buf_free(&raw);
	isol8_tar_extract_file(data, size, names[(knob >> 2) % (sizeof names / sizeof names[0])],
			       (knob & 0x80) ? 64 : 1u << 20, &one, &err);
	isol8_buf_free(&one);
	return 0;
}
