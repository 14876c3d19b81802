/* libFuzzer harness for the policy loader: arbitrary text through isol8_policy_parse, then,
 * for documents that load, every check function with values derived from the input.
 * Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_policy -dict=... corpus/ */
#include "config.h"
#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_policy p;
	char *text;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (isol8_policy_parse(text, "fuzz.json", &p, &err) == 0) {
		const struct isol8_tenant *t = isol8_policy_match_local(&p, size, size & 0xff);

		if (!t)
			t = isol8_policy_match_key(&p, "ci-bot");
		if (t) {
			struct isol8_limits l = {size, (double)size / 7, (uint32_t)size, size, 0, size * 1024, 1};

			(void)isol8_policy_apply_limits(t, &l, &err);
			(void)isol8_policy_check_runtime(t, (int)(size % 7) - 1, &err);
			(void)isol8_policy_check_network(t, (int)(size % 5) - 1, &err);
			(void)isol8_policy_check_image(t, (int)(size % 5), "isol8:python", &err);
			(void)isol8_policy_check_image(t, ISOL8_RT_NODE, "myorg/tool:1", &err);
		}
		isol8_policy_free(&p);
	}
	free(text);
	return 0;
}
