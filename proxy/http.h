/* The proxy's HTTP/1.x request-head parser: the only code that reads bytes from sandboxed
 * programs before policy is applied, so it is strict, bounded and allocation-light.
 *
 * Accepted: "CONNECT host:port HTTP/1.x" and "METHOD http://host[:port]/path HTTP/1.x" (or an
 * origin-form target with a Host header), CRLF line ends, at most PROXY_MAX_HEAD bytes of head.
 * Refused (ISOL8_E_USAGE, mapped to 400): bare LF, control bytes, obs-fold, user info in the
 * authority, schemes other than http, missing or repeated Host, Content-Length together with
 * Transfer-Encoding, a repeated or non-numeric Content-Length, a Transfer-Encoding other than
 * "chunked", bad port, host names outside [A-Za-z0-9._-] (or a bracketed IPv6 literal). */
#ifndef ISOL8_PROXY_HTTP_H
#define ISOL8_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define PROXY_MAX_HEAD (16u * 1024u)
#define PROXY_MAX_HOST 253u

enum http_body_kind { HTTP_BODY_NONE = 0, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

struct http_req {
	char method[16];
	bool is_connect;
	char host[PROXY_MAX_HOST + 1]; /* lower case; IPv6 literal without brackets */
	uint16_t port;
	size_t head_len;          /* bytes of buf the head used, final CRLF CRLF included */
	enum http_body_kind body; /* from Content-Length (one, digits only) or
	                                  "Transfer-Encoding: chunked" (nothing else accepted) */
	uint64_t body_len;        /* HTTP_BODY_LENGTH */
};

/* Parse the head at the start of buf[0..len). Returns 1 when a complete head was parsed (*r
 * filled; for a non-CONNECT request *fwd receives the head to send upstream: origin-form target,
 * Host rewritten to the checked authority, hop-by-hop and Proxy-* headers dropped,
 * "Connection: close" added), 0 when more bytes are needed (and len < PROXY_MAX_HEAD), -1 with
 * *err on malformed input or when the head exceeds PROXY_MAX_HEAD (ISOL8_E_LIMIT). */
int http_parse_request(const char *buf, size_t len, struct http_req *r, struct isol8_buf *fwd, struct isol8_err *err);

/* Where a request's body ends, so that the bytes after it (a pipelined request, which the proxy
 * never forwards: it would reach the checked host's server unchecked) are told apart. Feed the
 * client's bytes in order; http_body_feed returns how many of them belong to the body (all of
 * them until it ends), or -1 with ISOL8_E_USAGE on broken chunked framing. done is set once the
 * body (for HTTP_BODY_NONE: at once) is complete. Chunk-size lines and trailers are bounded. */
struct http_body {
	enum http_body_kind kind;
	uint64_t left; /* bytes left (LENGTH), or of the current chunk's data */
	int st;        /* chunked parser state */
	unsigned line; /* bytes of the current size or trailer line */
	unsigned trailer;
	bool done;
};
void http_body_init(struct http_body *b, const struct http_req *r);
long http_body_feed(struct http_body *b, const char *p, size_t n, struct isol8_err *err);

/* Split "host:port" / "[v6]:port" / "host" (default_port used when absent; 0 = port required). */
int http_parse_authority(const char *a, size_t n, uint16_t default_port, char host[PROXY_MAX_HOST + 1], uint16_t *port,
			 struct isol8_err *err);

#endif
