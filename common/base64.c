/* Base64 (contract in base64.h). */
#include "config.h"
#include "common/base64.h"

#include <stdint.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void isol8_base64_encode(struct isol8_buf *out, const void *src, size_t n)
{
	const unsigned char *p = src;
	size_t i = 0;

	isol8_buf_reserve(out, (n + 2) / 3 * 4);
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
		isol8_buf_append(out, q, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], '=', '='};
		isol8_buf_append(out, q, 4);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], '='};
		isol8_buf_append(out, q, 4);
	}
}

static int b64_val(unsigned char c)
{
	const char *q = c ? memchr(b64, c, 64) : NULL;

	return q ? (int)(q - b64) : -1;
}

int isol8_base64_decode(const char *src, size_t n, struct isol8_buf *out)
{
	const unsigned char *p = (const unsigned char *)src;
	uint32_t acc = 0;
	size_t bits = 0, pad = 0, data = 0;

	isol8_buf_reset(out);
	/* Padding: only at the end, at most two, and only to complete a quantum. */
	while (pad < n && pad < 2 && p[n - 1 - pad] == '=')
		pad++;
	data = n - pad;
	if (pad && n % 4 != 0)
		goto bad;
	if (data % 4 == 1)
		goto bad;
	for (size_t i = 0; i < data; i++) {
		int v = b64_val(p[i]);
		if (v < 0)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			isol8_buf_putc(out, (char)((acc >> bits) & 0xff));
		}
	}
	if (acc & ((1u << bits) - 1))
		goto bad;
	return 0;
bad:
	isol8_buf_reset(out);
	return -1;
}
