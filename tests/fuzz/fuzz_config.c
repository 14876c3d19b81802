/* libFuzzer harness for the user config loader (json helpers, merge, typed getters).
 * Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_config corpus/ */
#include "config.h"
#include "common/conf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_config c;
	char *s = malloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	if (isol8_config_parse(s, "fuzz.json", &c, &err) == 0)
		isol8_config_free(&c);
	free(s);
	return 0;
}
