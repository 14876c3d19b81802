/* RFC 6455 WebSocket framing for GET /execute/ws, server side. Pure: no I/O, no MHD, so the
 * unit tests (tests/unit/check_ws.c) and the fuzzer (tests/fuzz/fuzz_ws.c) drive it directly.
 *
 * The parser is fed whatever the socket returned (any split, down to one byte) and calls back
 * once per complete message: text and binary messages reassembled from their fragments, and
 * each control frame (which may arrive between fragments). It refuses, with the close status
 * to send: unmasked client frames, reserved bits or opcodes, fragmented or oversized (> 125)
 * control frames, a continuation without a start, a new data frame inside a fragmented
 * message (1002); text that is not UTF-8 and close reasons that are not UTF-8 (1007);
 * messages over max_msg (1009, checked from the frame headers before the payload arrives). */
#ifndef ISOL8_FRONTEND_HTTP_WS_H
#define ISOL8_FRONTEND_HTTP_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define WS_MAX_MSG_DEFAULT (1024u * 1024u)

enum ws_op {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

enum ws_status {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011,
};

struct ws_parser {
	size_t max_msg;
	uint8_t hdr[14];
	size_t hdr_len;
	bool in_payload;
	bool fin;
	uint8_t op;
	uint8_t mask[4];
	uint64_t len, got;
	uint8_t msg_op; /* 0, or the opcode of the fragmented message being assembled */
	struct isol8_buf msg;
	struct isol8_buf ctl;
};

/* For WS_OP_CLOSE, data is the raw payload (status + reason), already checked. Return 0 to go
 * on, non-zero to stop feeding (ws_feed then returns 1). */
typedef int (*ws_on_message)(void *cls, enum ws_op op, const uint8_t *data, size_t n);

void ws_parser_init(struct ws_parser *p, size_t max_msg);
void ws_parser_free(struct ws_parser *p);
/* 0: all consumed; 1: the callback asked to stop (the rest of data is not consumed);
 * -1: protocol error, *close_status says which (the connection must be closed). */
int ws_feed(struct ws_parser *p, const uint8_t *data, size_t n, ws_on_message cb, void *cls, uint16_t *close_status);

/* Append one unmasked, unfragmented server frame. */
void ws_frame(struct isol8_buf *out, enum ws_op op, const void *data, size_t n);
/* Append a close frame with status and a reason (truncated to fit 125 bytes). */
void ws_frame_close(struct isol8_buf *out, uint16_t status, const char *reason);

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool ws_utf8_valid(const uint8_t *s, size_t n);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (which must be base64 of 16 bytes):
 * 0 with out filled (28 chars + NUL), -1 for a malformed key. */
int ws_accept_key(const char *key, char out[29]);

#endif
