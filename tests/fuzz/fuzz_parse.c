/* libFuzzer harness for the scalar parsers (size, duration, u64, cpu, KEY=VALUE) and the
 * secret masker. Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_parse corpus/
 * The input is used as a C string for the parsers; for the masker, the first byte chooses
 * the split between "secrets" (NUL-separated) and the stream, which is fed in chunks whose
 * sizes come from the stream bytes themselves. */
#include "config.h"
#include "worker/outproc.h"
#include "common/parse.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_mask(const uint8_t *data, size_t size)
{
	const char *secrets[8];
	size_t ns = 0, cut, i;
	char *sec;
	struct isol8_masker *m;
	struct isol8_buf out = ISOL8_BUF_INIT;

	if (size < 2)
		return;
	cut = 1 + data[0] % (size - 1);
	sec = malloc(cut);
	memcpy(sec, data + 1, cut - 1);
	sec[cut - 1] = '\0';
	for (i = 0; i < cut - 1 && ns < 8;) {
		secrets[ns++] = sec + i;
		i += strlen(sec + i) + 1;
	}
	m = isol8_masker_new(secrets, ns);
	for (i = cut; i < size;) {
		size_t step = 1 + data[i] % 17;
		if (step > size - i)
			step = size - i;
		isol8_masker_feed(m, (const char *)data + i, step, &out);
		i += step;
	}
	isol8_masker_flush(m, &out);
	if (isol8_masker_pending(m) != 0)
		abort();
	isol8_masker_free(m);
	isol8_buf_free(&out);
	free(sec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char *s = malloc(size + 1), *k = NULL, *v = NULL, fmt[32];
	uint64_t u;
	double d;

	memcpy(s, data, size);
	s[size] = '\0';
	if (isol8_parse_size(s, &u, &err) == 0) {
		uint64_t back;
		isol8_format_size(u, fmt, sizeof fmt);
		if (isol8_parse_size(fmt, &back, &err) < 0 || back != u)
			abort(); /* format must round-trip */
	}
	isol8_parse_duration_ms(s, &u, &err);
	isol8_parse_u64(s, UINT64_MAX, &u, &err);
	{
		uint32_t pc, pd;
		if (isol8_parse_pool_size(s, 16, &pc, &pd, &err) == 0 && (pc > 16 || pd > 16))
			abort();
	}
	if (isol8_parse_cpu(s, &d, &err) == 0 && !(d > 0 && d <= 1024))
		abort();
	if (isol8_parse_kv(s, &k, &v, &err) == 0) {
		if (!isol8_valid_env_name(k))
			abort();
		free(k);
		free(v);
	}
	free(s);
	fuzz_mask(data, size);
	return 0;
}
