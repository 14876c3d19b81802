#include "config.h"
#include "common/buf.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void isol8_buf_reserve(struct isol8_buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > ((size_t)-1) / 2 - b->len)
		abort(); /* would overflow: treat like OOM */
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void isol8_buf_append(struct isol8_buf *b, const void *data, size_t n)
{
	isol8_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void isol8_buf_puts(struct isol8_buf *b, const char *s)
{
	isol8_buf_append(b, s, strlen(s));
}

void isol8_buf_putc(struct isol8_buf *b, char c)
{
	isol8_buf_append(b, &c, 1);
}

void isol8_buf_vprintf(struct isol8_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	isol8_buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void isol8_buf_printf(struct isol8_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	isol8_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void isol8_buf_consume(struct isol8_buf *b, size_t n)
{
	if (n >= b->len) {
		isol8_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void isol8_buf_reset(struct isol8_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *isol8_buf_steal(struct isol8_buf *b, size_t *len)
{
	char *p;

	isol8_buf_reserve(b, 0);
	b->data[b->len] = '\0'; /* a never-written buffer has no terminator yet */
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void isol8_buf_free(struct isol8_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
