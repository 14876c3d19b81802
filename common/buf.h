/* Growable byte buffer. Owns data; always NUL-terminated past len so text users can read it as
 * a string, but may hold arbitrary bytes. */
#ifndef ISOL8_BUF_H
#define ISOL8_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct isol8_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define ISOL8_BUF_INIT     \
	{                  \
		NULL, 0, 0 \
	}

void isol8_buf_reserve(struct isol8_buf *b, size_t extra);
void isol8_buf_append(struct isol8_buf *b, const void *data, size_t n);
void isol8_buf_puts(struct isol8_buf *b, const char *s);
void isol8_buf_putc(struct isol8_buf *b, char c);
void isol8_buf_printf(struct isol8_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void isol8_buf_vprintf(struct isol8_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (n <= len). */
void isol8_buf_consume(struct isol8_buf *b, size_t n);
void isol8_buf_reset(struct isol8_buf *b);
/* Give the caller the data (NUL-terminated, never NULL); the buffer becomes empty. */
char *isol8_buf_steal(struct isol8_buf *b, size_t *len);
void isol8_buf_free(struct isol8_buf *b);

#endif
