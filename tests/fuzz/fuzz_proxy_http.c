/* libFuzzer harness for the proxy's request-head parser (proxy/http.c), the only code that reads
 * sandbox bytes before policy: every prefix of the input is parsed too, as the proxy does while
 * a head arrives, and a parsed host must pass the parser's own charset promise. The bytes after
 * a parsed head go through the body tracker (which may never claim more than it was given), and
 * the whole input through the ClientHello reader (proxy/tls.c) and the host-pattern translator
 * (proxy/hostpat.c), whose output must be canonical.
 * Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_proxy_http corpus/ */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "proxy/hostpat.h"
#include "proxy/http.h"
#include "proxy/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[3] = {size / 3, size / 2, size};

	for (unsigned k = 0; k < 3; k++) {
		struct isol8_err err = ISOL8_ERR_INIT;
		struct isol8_buf fwd = ISOL8_BUF_INIT;
		struct http_req r;
		int rc = http_parse_request((const char *)data, cuts[k], &r, &fwd, &err);

		if (rc == 1) {
			if (r.head_len > cuts[k] || !r.host[0] || strlen(r.host) > PROXY_MAX_HOST)
				abort();
			for (const char *c = r.host; *c; c++)
				if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' ||
				      *c == '_' || *c == ':' || (*c >= 'A' && *c <= 'F')))
					abort();
			struct http_body b;
			http_body_init(&b, &r);
			long got = http_body_feed(&b, (const char *)data + r.head_len, cuts[k] - r.head_len, &err);
			if (got > (long)(cuts[k] - r.head_len))
				abort();
		}
		isol8_buf_free(&fwd);
	}
	{
		struct isol8_err err = ISOL8_ERR_INIT;
		char sni[254], pat[300];
		if (tls_client_hello_sni(data, size, sni, &err) == 1 && strlen(sni) > 253)
			abort();
		if (size < sizeof pat) {
			memcpy(pat, data, size);
			pat[size] = '\0';
			char *canon = strlen(pat) == size ? hostpat_normalize(pat, &err) : NULL;
			if (canon && hostpat_check(canon, &err) < 0)
				abort();
			free(canon);
		}
	}
	return 0;
}
