/* libFuzzer harness for the IPC frame parser and the payload cursor.
 * Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_ipc corpus/
 * The first input byte picks how many fds the frame "arrived with" (no real fds: the parser
 * only compares counts); the rest is the frame. After a successful parse, a getter script
 * derived from the payload's own bytes walks the cursor, then msg_end and the protocol table's
 * check (receiver and sender kinds from the first byte too). */
#include "config.h"
#include "common/ipc.h"
#include "common/proto.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	const struct isol8_proto_row *spec;

	if (size < 1)
		return 0;
	if (isol8_ipc_parse_frame(data + 1, size - 1, data[0] & 3u, &m, &err) < 0)
		return 0;
	for (unsigned step = 0; step < 64; step++) {
		uint8_t op, u8;
		uint16_t u16;
		uint32_t u32;
		uint64_t u64;
		char *s = NULL;
		const uint8_t *p;
		int r;

		if (isol8_get_u8(&m, &op, &err) < 0)
			break;
		switch (op % 6) {
		case 0:
			r = isol8_get_u8(&m, &u8, &err);
			break;
		case 1:
			r = isol8_get_u16(&m, &u16, &err);
			break;
		case 2:
			r = isol8_get_u32(&m, &u32, &err);
			break;
		case 3:
			r = isol8_get_u64(&m, &u64, &err);
			break;
		case 4:
			r = isol8_get_str(&m, &s, op, &err);
			free(s);
			break;
		default:
			r = isol8_get_bytes(&m, &p, &u32, 4096, &err);
			break;
		}
		if (r < 0)
			break;
	}
	(void)isol8_msg_end(&m, &err);
	(void)isol8_proto_check((uint8_t)(1u << ((data[0] >> 2) % 6u)), (uint8_t)(data[0] >> 4), &m, &spec, &err);
	isol8_msg_free(&m);
	return 0;
}
