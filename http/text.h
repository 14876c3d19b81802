/* Byte-level helpers for the HTTP frontend: program output must become valid JSON strings
 * (UTF-8), and the file API carries content as base64. Pure functions, unit-tested with
 * hostile input (tests/unit/check_http.c). */
#ifndef ISOL8_FRONTEND_HTTP_TEXT_H
#define ISOL8_FRONTEND_HTTP_TEXT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Append src[0..n) to out as valid UTF-8: every invalid byte (overlong forms, surrogates, code
 * points past U+10FFFF, stray continuation bytes) and NUL becomes U+FFFD. With keep_tail, an
 * incomplete but so far valid sequence at the very end is not converted: the number of such
 * bytes (0..3) is returned so a streaming caller can prepend them to the next chunk. Without
 * keep_tail it is converted and 0 is returned. */
size_t http_utf8_append(struct isol8_buf *out, const char *src, size_t n, bool keep_tail);
/* A new JSON string of b's bytes, repaired as by http_utf8_append (b may be empty and unallocated). */
json_object *http_utf8_json(const struct isol8_buf *b);

/* isol8_base64_encode/decode (common/base64.h), kept under these names for the HTTP code. */
void http_base64_encode(struct isol8_buf *out, const void *src, size_t n);
/* Decode standard base64 into out (reset first). Whitespace is not allowed; padding is
 * optional but must be correct when present; bits left over in the final quantum must be
 * zero. Returns 0, or -1 for anything malformed (out is then left empty). */
int http_base64_decode(const char *src, size_t n, struct isol8_buf *out);

#endif
