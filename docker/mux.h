/* Incremental decoder for Docker's multiplexed attach/exec stream (Tty=false):
 * 8-byte header [stream u8 (0 stdin, 1 stdout, 2 stderr), 0, 0, 0, size u32 big-endian] then
 * size bytes. Frames may be split across reads at any byte. */
#ifndef ISOL8_DOCKER_MUX_H
#define ISOL8_DOCKER_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct docker_mux {
	uint8_t hdr[8];
	unsigned hdr_have;
	int stream;         /* stream of the frame being read */
	uint32_t remaining; /* payload bytes left in the current frame */
	int failed;
};

typedef int (*docker_mux_cb)(int stream, const char *data, size_t len, void *ctx);

void docker_mux_init(struct docker_mux *m);
/* Feed bytes; cb is called for each payload piece (possibly several per frame). A header with
 * an unknown stream id or non-zero padding is an error (ISOL8_E_PROTO) and the decoder stays
 * failed. A cb returning -1 stops decoding and returns -1. */
int docker_mux_feed(struct docker_mux *m, const void *data, size_t len, docker_mux_cb cb, void *ctx,
		    struct isol8_err *err);
/* True when the stream ended at a frame boundary. */
int docker_mux_at_boundary(const struct docker_mux *m);

#endif
