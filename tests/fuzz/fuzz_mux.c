/* libFuzzer harness for the Docker multiplexed-stream decoder (docker/mux.c), which the worker
 * runs over every exec's output (a sandbox controls the payload and, through a confused engine,
 * possibly the framing). Build: configure --enable-fuzzing CC=clang; run: tests/fuzz/fuzz_mux
 * Byte 0 seeds the chunking; the rest is the stream. The same stream is decoded once whole and
 * once in chunks of 1..64 bytes: both must agree byte for byte on what reached each stream,
 * where they stopped and whether they ended at a frame boundary; and no payload byte may be
 * invented (delivered <= input). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "docker/mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	struct isol8_buf s[3];
	size_t calls, stop_after; /* the consumer gives up after stop_after calls (0: never) */
};

static int collect(int stream, const char *d, size_t n, void *ctx)
{
	struct sink *k = ctx;
	if (stream != 1 && stream != 2)
		abort();
	if (k->stop_after && ++k->calls > k->stop_after)
		return -1;
	isol8_buf_append(&k->s[stream], d, n);
	return 0;
}

static void sink_free(struct sink *k)
{
	for (int i = 0; i < 3; i++)
		isol8_buf_free(&k->s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isol8_err e1 = ISOL8_ERR_INIT, e2 = ISOL8_ERR_INIT;
	struct docker_mux whole, parts;
	struct sink a = {0}, b = {0};
	unsigned seed;
	int r1, r2 = 0;

	if (size < 1)
		return 0;
	seed = data[0];
	data++;
	size--;
	docker_mux_init(&whole);
	docker_mux_init(&parts);
	r1 = docker_mux_feed(&whole, data, size, collect, &a, &e1);
	for (size_t off = 0; off < size && r2 == 0;) {
		size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 64;
		if (n > size - off)
			n = size - off;
		r2 = docker_mux_feed(&parts, data + off, n, collect, &b, &e2);
		off += n;
	}
	if (r1 != r2 || e1.code != e2.code || docker_mux_at_boundary(&whole) != docker_mux_at_boundary(&parts))
		abort();
	for (int i = 1; i < 3; i++)
		if (a.s[i].len != b.s[i].len || (a.s[i].len && memcmp(a.s[i].data, b.s[i].data, a.s[i].len)))
			abort();
	if (a.s[1].len + a.s[2].len > size)
		abort();
	/* A failed decoder stays failed. */
	if (r1 < 0 && docker_mux_feed(&whole, "x", 1, collect, &a, &e1) == 0)
		abort();
	sink_free(&a);
	sink_free(&b);
	/* A consumer that stops: decoding stops with it and says so. */
	{
		struct sink c = {.stop_after = 1 + (seed % 3)};
		struct docker_mux m;
		struct isol8_err e3 = ISOL8_ERR_INIT;
		docker_mux_init(&m);
		if (docker_mux_feed(&m, data, size, collect, &c, &e3) < 0 && c.calls > c.stop_after &&
		    e3.code != ISOL8_E_IO)
			abort();
		sink_free(&c);
	}
	return 0;
}
