/* libFuzzer harness for the HTTP request path of isol8 serve, everything it parses from a
 * client before isol8d sees a byte: the Authorization header (http_bearer_token), key matching
 * (http_keys_match), the key file parser, base64 file bodies, and the POST /execute body
 * (http_translate) with the FE_RUN bundle it builds. Build: configure --enable-fuzzing CC=clang;
 * run: tests/fuzz/fuzz_http_request corpus/
 * The first byte picks the entry point, so one corpus covers them all; the rest is the input. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "http/keys.h"
#include "http/text.h"
#include "http/translate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *in = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;
	char *z;

	if (size < 1)
		return 0;
	z = malloc(n + 1); /* the server's bodies and headers arrive NUL-terminated */
	if (!z)
		abort();
	memcpy(z, in, n);
	z[n] = '\0';
	switch (data[0] % 4) {
	case 0: {
		struct http_run_spec s;
		memset(&s, 0, sizeof s);
		if (http_translate(z, n, &s, &err) == 0) {
			struct isol8_buf tar = ISOL8_BUF_INIT;
			(void)http_spec_bundle(&s, &tar, &err);
			isol8_buf_free(&tar);
			http_spec_free(&s);
		}
		break;
	}
	case 1: {
		struct http_keys k;
		const char *tok;
		size_t tn;
		memset(&k, 0, sizeof k);
		(void)http_keys_add(&k, "ci", "0123456789abcdef0123456789abcdef", &err);
		if (http_bearer_token(z, &tok, &tn) == 0)
			(void)http_keys_match(&k, tok, tn);
		http_keys_free(&k);
		break;
	}
	case 2: {
		struct http_keys k;
		memset(&k, 0, sizeof k);
		(void)http_keys_parse(&k, z, n, &err);
		http_keys_free(&k);
		break;
	}
	default: {
		struct isol8_buf out = ISOL8_BUF_INIT;
		(void)http_base64_decode(z, n, &out);
		isol8_buf_free(&out);
		break;
	}
	}
	free(z);
	return 0;
}
