/* libFuzzer harness for the WebSocket frame parser (http/ws.c). Build: configure
 * --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_ws corpus/
 * The first byte chooses the read size the input is fed in (1..256), so splits inside headers,
 * masks and payloads are all explored; a small message cap reaches the 1009 path. */
#include "config.h"
#include "http/ws.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_msg(void *cls, enum ws_op op, const uint8_t *d, size_t n)
{
	size_t *sum = cls;

	(void)op;
	for (size_t i = 0; i < n; i++)
		*sum += d[i];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_parser p;
	uint16_t st = 0;
	size_t step, sum = 0;
	struct isol8_buf out = ISOL8_BUF_INIT;

	if (size < 1)
		return 0;
	step = (size_t)data[0] + 1;
	ws_parser_init(&p, 4096);
	for (size_t i = 1; i < size; i += step) {
		size_t n = size - i < step ? size - i : step;
		if (ws_feed(&p, data + i, n, on_msg, &sum, &st) != 0)
			break;
	}
	ws_parser_free(&p);
	ws_frame(&out, WS_OP_TEXT, data, size);
	ws_frame_close(&out, 1000, "bye");
	isol8_buf_free(&out);
	(void)ws_utf8_valid(data, size);
	return 0;
}
