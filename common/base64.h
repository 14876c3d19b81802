/* Standard base64 (RFC 4648): the HTTP file API, the result's output files. Pure functions,
 * unit-tested with hostile input (tests/unit/check_http.c). */
#ifndef ISOL8_COMMON_BASE64_H
#define ISOL8_COMMON_BASE64_H

#include <stddef.h>

#include "common/buf.h"

/* Base64 with padding of src appended to out. */
void isol8_base64_encode(struct isol8_buf *out, const void *src, size_t n);
/* Decode into out (reset first). Whitespace is not allowed; padding is optional but must be
 * correct when present; bits left over in the final quantum must be zero. Returns 0, or -1 for
 * anything malformed (out is then left empty). */
int isol8_base64_decode(const char *src, size_t n, struct isol8_buf *out);

#endif
