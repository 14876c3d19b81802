/* UTF-8 repair and base64 (contract in text.h). */
#include "config.h"
#include "http/text.h"

#include <stdint.h>
#include <string.h>

#include "common/base64.h"

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
		if (k == 1 &&
		    ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
		     (c == 0xf4 && p[1] > 0x8f)))
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

json_object *http_utf8_json(const struct isol8_buf *b)
{
	struct isol8_buf u = ISOL8_BUF_INIT;
	json_object *o;

	http_utf8_append(&u, b->data ? b->data : "", b->len, false);
	o = json_object_new_string_len(u.data ? u.data : "", (int)u.len);
	isol8_buf_free(&u);
	return o;
}

void http_base64_encode(struct isol8_buf *out, const void *src, size_t n)
{
	isol8_base64_encode(out, src, n);
}

int http_base64_decode(const char *src, size_t n, struct isol8_buf *out)
{
	return isol8_base64_decode(src, n, out);
}
