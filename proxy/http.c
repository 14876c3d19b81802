/* HTTP/1.x request-head parser for isol8-proxy (contract in http.h). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proxy/http.h"

static bool is_tchar(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

int http_parse_authority(const char *a, size_t n, uint16_t default_port, char host[PROXY_MAX_HOST + 1], uint16_t *port,
			 struct isol8_err *err)
{
	const char *h = a, *colon = NULL;
	size_t hn;
	unsigned long p = default_port;

	if (n == 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "empty host");
	if (memchr(a, '@', n))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "user info in the authority is not accepted");
	if (a[0] == '[') {
		const char *close = memchr(a, ']', n);
		if (!close)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "unterminated IPv6 literal");
		h = a + 1;
		hn = (size_t)(close - h);
		if (hn == 0 || hn > 45)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad IPv6 literal");
		for (size_t i = 0; i < hn; i++)
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad IPv6 literal");
		if (close + 1 < a + n) {
			if (close[1] != ':')
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "junk after IPv6 literal");
			colon = close + 1;
		}
	} else {
		colon = memchr(a, ':', n);
		hn = colon ? (size_t)(colon - a) : n;
		/* "host." is "host" to DNS: one spelling for the rules, the resolver and the logs. */
		if (hn > 1 && a[hn - 1] == '.')
			hn--;
		if (hn == 0 || hn > PROXY_MAX_HOST)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad host name length");
		for (size_t i = 0; i < hn; i++)
			if (!isalnum((unsigned char)a[i]) && a[i] != '.' && a[i] != '-' && a[i] != '_')
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad character in host name");
	}
	if (colon) {
		size_t pn = (size_t)(a + n - colon - 1);
		p = 0;
		if (pn == 0 || pn > 5)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad port");
		for (size_t i = 0; i < pn; i++) {
			if (!isdigit((unsigned char)colon[1 + i]))
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad port");
			p = p * 10 + (unsigned long)(colon[1 + i] - '0');
		}
	}
	if (p == 0 || p > 65535)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad or missing port");
	for (size_t i = 0; i < hn; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[hn] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* Hop-by-hop and proxy headers are ours to decide, never forwarded from the client. */
static bool dropped_header(const char *name, size_t n)
{
	static const char *const drop[] = {
		"host", "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
		"te",   "upgrade"};
	for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
		if (strlen(drop[i]) == n && strncasecmp(name, drop[i], n) == 0)
			return true;
	return false;
}

/* Bounded: the head ends in CRLF CRLF, so a CRLF is always found before end. */
static const char *crlf(const char *p, const char *end)
{
	return memmem(p, (size_t)(end - p), "\r\n", 2);
}

static bool header_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* A header value without the optional whitespace around it. */
static void trim_value(const char **v, const char **end)
{
	while (*v < *end && (**v == ' ' || **v == '\t'))
		(*v)++;
	while (*end > *v && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
		(*end)--;
}

static int header_value_u64(const char *v, const char *end, uint64_t *out)
{
	uint64_t x = 0;

	trim_value(&v, &end);
	if (v == end || end - v > 15)
		return -1;
	for (; v < end; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		x = x * 10 + (uint64_t)(*v - '0');
	}
	*out = x;
	return 0;
}

static bool header_value_is(const char *v, const char *end, const char *want)
{
	trim_value(&v, &end);
	return (size_t)(end - v) == strlen(want) && strncasecmp(v, want, strlen(want)) == 0;
}

/* Finds the head's CRLF CRLF in the first PROXY_MAX_HEAD bytes, refusing any bare CR or LF and
 * any control byte on the way (request smuggling lives in those). 1 with *end past the head,
 * 0 when more bytes are needed, -1 with err. */
static int find_head_end(const char *buf, size_t len, const char **end, struct isol8_err *err)
{
	size_t scan = len < PROXY_MAX_HEAD ? len : PROXY_MAX_HEAD;

	for (size_t i = 0; i < scan; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bare LF in request head");
		if (c == 0 || (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "control byte in request head");
		if (c == '\r' && i + 1 < scan && buf[i + 1] != '\n')
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bare CR in request head");
		if (i >= 3 && memcmp(buf + i - 3, "\r\n\r\n", 4) == 0) {
			*end = buf + i + 1;
			return 1;
		}
	}
	if (len >= PROXY_MAX_HEAD)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "request head larger than %u bytes", PROXY_MAX_HEAD);
	return 0;
}

/* METHOD SP target SP HTTP/1.x: the method into r, the target as *target, *tlen. */
static int parse_request_line(const char *buf, const char *end, struct http_req *r, const char **target, size_t *tlen,
			      struct isol8_err *err)
{
	const char *eol = crlf(buf, end), *sp1, *sp2, *p;

	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (!sp1 || sp1 == buf || (size_t)(sp1 - buf) >= sizeof r->method)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad request line");
	for (p = buf; p < sp1; p++)
		if (!is_tchar((unsigned char)*p))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad method");
	memcpy(r->method, buf, (size_t)(sp1 - buf));
	*target = sp1 + 1;
	sp2 = memchr(*target, ' ', (size_t)(eol - *target));
	if (!sp2 || sp2 == *target)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad request line");
	*tlen = (size_t)(sp2 - *target);
	if ((size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unsupported HTTP version");
	for (p = *target; p < sp2; p++)
		if (*p == '\t')
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad request target");
	r->is_connect = strcmp(r->method, "CONNECT") == 0;
	return 0;
}

/* The headers the proxy acts on: Host, and the body's framing (Content-Length or chunked,
 * never both, never repeated: two framings are how a request is smuggled past a proxy). */
struct head_fields {
	const char *host;
	size_t host_len;
	bool has_cl, has_te;
};

static int parse_header(const char *p, const char *colon, const char *eol, struct http_req *r, struct head_fields *h,
			struct isol8_err *err)
{
	if (header_is(p, (size_t)(colon - p), "host")) {
		if (h->host)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "repeated Host header");
		h->host = colon + 1;
		while (*h->host == ' ' || *h->host == '\t')
			h->host++;
		h->host_len = (size_t)(eol - h->host);
		while (h->host_len && (h->host[h->host_len - 1] == ' ' || h->host[h->host_len - 1] == '\t'))
			h->host_len--;
	}
	if (header_is(p, (size_t)(colon - p), "content-length")) {
		if (h->has_cl)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "repeated Content-Length");
		h->has_cl = true;
		if (header_value_u64(colon + 1, eol, &r->body_len) < 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad Content-Length");
		r->body = HTTP_BODY_LENGTH;
	}
	if (header_is(p, (size_t)(colon - p), "transfer-encoding")) {
		if (h->has_te || !header_value_is(colon + 1, eol, "chunked"))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "only \"Transfer-Encoding: chunked\" is accepted");
		h->has_te = true;
		r->body = HTTP_BODY_CHUNKED;
	}
	return 0;
}

static int parse_headers(const char *buf, const char *end, struct http_req *r, struct head_fields *h,
			 struct isol8_err *err)
{
	const char *p, *eol;

	for (p = crlf(buf, end) + 2; p < end - 2; p = eol + 2) {
		const char *colon;
		eol = crlf(p, end);
		if (*p == ' ' || *p == '\t')
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "folded header lines are not accepted");
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad header line");
		for (const char *q = p; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad header name");
		if (parse_header(p, colon, eol, r, h, err) < 0)
			return -1;
	}
	if (h->has_cl && h->has_te)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "both Content-Length and Transfer-Encoding");
	return 0;
}

/* The destination of a plain-HTTP request: from an absolute http:// target, else from the Host
 * header of an origin-form one. *path, *path_len: what follows the authority. */
static int request_destination(const char *target, size_t tlen, const struct head_fields *h, struct http_req *r,
			       const char **path, size_t *path_len, struct isol8_err *err)
{
	if (tlen > 7 && strncasecmp(target, "http://", 7) == 0) {
		const char *auth = target + 7, *slash = memchr(auth, '/', tlen - 7), *q = memchr(auth, '?', tlen - 7);
		const char *aend = slash && (!q || slash < q) ? slash : q ? q : target + tlen;
		if (http_parse_authority(auth, (size_t)(aend - auth), 80, r->host, &r->port, err) < 0)
			return -1;
		if (aend < target + tlen) {
			*path = aend;
			*path_len = (size_t)(target + tlen - aend);
		}
		return 0;
	}
	if (target[0] == '/') {
		if (!h->host)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "origin-form request without Host header");
		if (http_parse_authority(h->host, h->host_len, 80, r->host, &r->port, err) < 0)
			return -1;
		*path = target;
		*path_len = tlen;
		return 0;
	}
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "only http:// targets and CONNECT are proxied");
}

/* The forwarded head: our Host (the one the rules saw), never the client's; the client's other
 * headers except the hop-by-hop ones; and Connection: close. */
static void forward_head(const char *buf, const char *end, const struct http_req *r, const char *path, size_t path_len,
			 struct isol8_buf *fwd)
{
	char hb[PROXY_MAX_HOST + 16];
	const char *p, *eol;
	int n;

	isol8_buf_append(fwd, r->method, strlen(r->method));
	isol8_buf_append(fwd, " ", 1);
	if (path[0] == '?')
		isol8_buf_append(fwd, "/", 1);
	isol8_buf_append(fwd, path, path_len);
	isol8_buf_append(fwd, " HTTP/1.1\r\nHost: ", 17);
	n = strchr(r->host, ':') ? snprintf(hb, sizeof hb, "[%s]", r->host) : snprintf(hb, sizeof hb, "%s", r->host);
	isol8_buf_append(fwd, hb, (size_t)n);
	if (r->port != 80) {
		n = snprintf(hb, sizeof hb, ":%u", r->port);
		isol8_buf_append(fwd, hb, (size_t)n);
	}
	isol8_buf_append(fwd, "\r\n", 2);
	for (p = crlf(buf, end) + 2; p < end - 2; p = eol + 2) {
		const char *colon;
		eol = crlf(p, end);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (dropped_header(p, (size_t)(colon - p)))
			continue;
		isol8_buf_append(fwd, p, (size_t)(eol - p) + 2);
	}
	isol8_buf_append(fwd, "Connection: close\r\n\r\n", 21);
}

int http_parse_request(const char *buf, size_t len, struct http_req *r, struct isol8_buf *fwd, struct isol8_err *err)
{
	const char *end = NULL, *target = NULL, *path = "/";
	size_t tlen = 0, path_len = 1;
	struct head_fields h = {0};
	int found;

	memset(r, 0, sizeof *r);
	found = find_head_end(buf, len, &end, err);
	if (found <= 0)
		return found;
	r->head_len = (size_t)(end - buf);
	if (parse_request_line(buf, end, r, &target, &tlen, err) < 0 || parse_headers(buf, end, r, &h, err) < 0)
		return -1;
	if (r->is_connect)
		return http_parse_authority(target, tlen, 0, r->host, &r->port, err) < 0 ? -1 : 1;
	if (request_destination(target, tlen, &h, r, &path, &path_len, err) < 0)
		return -1;
	forward_head(buf, end, r, path, path_len, fwd);
	return 1;
}

/* ---- request bodies --------------------------------------------------------------------------- */

enum {
	CS_SIZE,
	CS_EXT,
	CS_SIZE_LF,
	CS_DATA,
	CS_DATA_CR,
	CS_DATA_LF,
	CS_TRAILER,
	CS_TRAILER_LINE,
	CS_TRAILER_LF,
	CS_END_LF
};
#define MAX_CHUNK_LINE 4096u
#define MAX_TRAILER (16u * 1024u)

void http_body_init(struct http_body *b, const struct http_req *r)
{
	memset(b, 0, sizeof *b);
	b->kind = r->is_connect ? HTTP_BODY_NONE : r->body;
	b->left = r->body_len;
	b->st = CS_SIZE;
	b->done = b->kind == HTTP_BODY_NONE || (b->kind == HTTP_BODY_LENGTH && b->left == 0);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long http_body_feed(struct http_body *b, const char *p, size_t n, struct isol8_err *err)
{
	size_t i = 0;

	if (n > (size_t)1 << 30)
		n = (size_t)1 << 30; /* the callers feed reads of at most a few KiB */
	if (b->done)
		return 0;
	if (b->kind == HTTP_BODY_LENGTH) {
		size_t k = b->left < n ? (size_t)b->left : n;
		b->left -= k;
		b->done = b->left == 0;
		return (long)k;
	}
	while (i < n && !b->done) {
		char c = p[i];
		switch (b->st) {
		case CS_SIZE:
			if (hexval(c) >= 0 && b->line < 15) {
				b->left = b->left * 16 + (uint64_t)hexval(c);
				b->line++;
				i++;
				break;
			}
			if (b->line == 0)
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad chunk size");
			b->st = CS_EXT; /* ";ext" or the CR */
			break;
		case CS_EXT:
			if (c == '\r') {
				b->st = CS_SIZE_LF;
			} else if (c == '\n' || (unsigned char)c < 0x20 || ++b->line > MAX_CHUNK_LINE ||
				   (b->line == 16 && c != ';' && c != ' ' && c != '\t')) {
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad chunk size line");
			}
			i++;
			break;
		case CS_SIZE_LF:
			if (c != '\n')
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad chunk size line");
			i++;
			b->line = 0;
			b->st = b->left ? CS_DATA : CS_TRAILER;
			break;
		case CS_DATA: {
			size_t k = b->left < n - i ? (size_t)b->left : n - i;
			b->left -= k;
			i += k;
			if (b->left == 0)
				b->st = CS_DATA_CR;
			break;
		}
		case CS_DATA_CR:
		case CS_DATA_LF:
			if (c != (b->st == CS_DATA_CR ? '\r' : '\n'))
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "chunk data not followed by CRLF");
			i++;
			b->st = b->st == CS_DATA_CR ? CS_DATA_LF : CS_SIZE;
			break;
		case CS_TRAILER:
			b->st = c == '\r' ? CS_END_LF : CS_TRAILER_LINE;
			if (c == '\r')
				i++;
			break;
		case CS_TRAILER_LINE:
			if (++b->trailer > MAX_TRAILER || c == '\n' || (c == 0))
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad chunked trailer");
			if (c == '\r')
				b->st = CS_TRAILER_LF;
			i++;
			break;
		case CS_TRAILER_LF:
		case CS_END_LF:
			if (c != '\n')
				return isol8_err_set(err, ISOL8_E_USAGE, 0, "bad chunked trailer");
			i++;
			if (b->st == CS_END_LF)
				b->done = true;
			else
				b->st = CS_TRAILER;
			break;
		}
	}
	return (long)i;
}
