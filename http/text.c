/* UTF-8 repair and base64 (contract in text.h). */
#include "config.h"
#include "http/text.h"

#include <stdint.h>
#include <string.h>

static const char replacement[] = "\xef\xbf\xbd";

/* Length of the valid sequence starting at p (1..4), 0 when invalid, or -k when the k bytes
 * left are a valid but incomplete prefix. */
static int seq_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0], need, cp, min;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (unsigned k = 1; k <= need; k++) {
		if (k >= left) {
			/* A prefix can still be rejected early: check the second byte's range. */
			return -(int)left;
		}
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
		if (k == 1 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) ||
			       (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f)))
			return 0;
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return (int)need + 1;
}

size_t http_utf8_append(struct isol8_buf *out, const char *src, size_t n, bool keep_tail)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t i = 0, run = 0;

	isol8_buf_reserve(out, n);
	while (i < n) {
		int l = seq_len(p + i, n - i);

		if (l > 0) {
			i += (size_t)l;
			run += (size_t)l;
			continue;
		}
		isol8_buf_append(out, p + i - run, run);
		run = 0;
		if (l < 0 && keep_tail)
			return n - i;
		isol8_buf_append(out, replacement, 3);
		i++;
	}
	isol8_buf_append(out, p + i - run, run);
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void http_base64_encode(struct isol8_buf *out, const void *src, size_t n)
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

int http_base64_decode(const char *src, size_t n, struct isol8_buf *out)
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
