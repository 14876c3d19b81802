/* The tiny HTTP/1.1 response parser behind docker_exec_start_hijack (docker/client.h).
 *
 * libcurl cannot hand over a connection after "101 Switching Protocols" without risking that it
 * already buffered stream bytes, so the hijack speaks HTTP itself on its own socket. The peer is
 * the local engine (trusted), but the parser is strict anyway: CRLF line ends only, no folding,
 * no NUL, token header names, one consistent Content-Length, Transfer-Encoding only "chunked". */
#ifndef ISOL8_DOCKER_HIJACK_H
#define ISOL8_DOCKER_HIJACK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define DOCKER_HIJACK_MAX_HEAD 8192
#define DOCKER_HIJACK_MAX_ERROR_BODY 65536
#define DOCKER_HIJACK_TIMEOUT_MS 30000

struct docker_http_head {
	int status;
	long long content_length; /* -1 when absent */
	bool chunked;
};

/* Offset just past the first "\r\n\r\n" in buf, or 0 when there is none yet. */
size_t docker_http_head_end(const char *buf, size_t len);
/* Parse a response head; buf holds exactly the head, ending with the blank line. Errors are
 * ISOL8_E_PROTO. */
int docker_http_parse_head(const char *buf, size_t len, struct docker_http_head *h, struct isol8_err *err);
/* Decode a chunked body held in in[0..len). Returns 1 when the last chunk (and trailer) is
 * complete, 0 when more input is needed, -1 on malformed input or when the decoded body would
 * pass max (err filled). out receives the decoded bytes (reset first). */
int docker_http_dechunk(const char *in, size_t len, struct isol8_buf *out, size_t max, struct isol8_err *err);

#endif
