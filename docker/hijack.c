/* POST /exec/<id>/start with "Connection: Upgrade" on our own socket, so that the caller gets a
 * plain fd carrying the raw multiplexed stream, with no byte of it swallowed by an HTTP library. */
#include "config.h"
#include "docker/hijack.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "docker/client.h"
#include "docker/http.h"

size_t docker_http_head_end(const char *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
			return i + 1;
	return 0;
}

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c && strchr("!#$%&'*+-.^_`|~", c));
}

static int bad(struct isol8_err *err, const char *what)
{
	return isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed HTTP answer from Docker: %s", what);
}

/* Parses "digits" exactly, up to 18 of them. */
static int parse_len(const char *s, size_t n, long long *out)
{
	long long v = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int header(const char *line, size_t n, struct docker_http_head *h, struct isol8_err *err)
{
	size_t name_len = 0, vs, ve;

	while (name_len < n && is_tchar((unsigned char)line[name_len]))
		name_len++;
	if (name_len == 0 || name_len >= n || line[name_len] != ':')
		return bad(err, "bad header line");
	vs = name_len + 1;
	while (vs < n && (line[vs] == ' ' || line[vs] == '\t'))
		vs++;
	ve = n;
	while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
		ve--;
	for (size_t i = vs; i < ve; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return bad(err, "control character in header value");
	}
	if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		long long v;
		if (parse_len(line + vs, ve - vs, &v) < 0)
			return bad(err, "bad Content-Length");
		if (h->content_length >= 0 && h->content_length != v)
			return bad(err, "conflicting Content-Length");
		h->content_length = v;
	} else if (name_len == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
		if (ve - vs != 7 || strncasecmp(line + vs, "chunked", 7) != 0)
			return bad(err, "unsupported Transfer-Encoding");
		h->chunked = true;
	}
	return 0;
}

int docker_http_parse_head(const char *buf, size_t len, struct docker_http_head *h, struct isol8_err *err)
{
	const char *p = buf, *end = buf + len;
	bool first = true;

	h->status = 0;
	h->content_length = -1;
	h->chunked = false;
	if (len > DOCKER_HIJACK_MAX_HEAD)
		return bad(err, "head too large");
	if (memchr(buf, '\0', len))
		return bad(err, "NUL byte");
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (!nl)
			return bad(err, "unterminated head");
		if (nl == p || nl[-1] != '\r')
			return bad(err, "bare LF");
		n = (size_t)(nl - 1 - p);
		if (memchr(p, '\r', n))
			return bad(err, "stray CR");
		if (first) {
			/* "HTTP/1.x SSS[ reason]" */
			if (n < 12 || (strncmp(p, "HTTP/1.1 ", 9) != 0 && strncmp(p, "HTTP/1.0 ", 9) != 0))
				return bad(err, "bad status line");
			for (int i = 9; i < 12; i++)
				if (p[i] < '0' || p[i] > '9')
					return bad(err, "bad status code");
			if (n > 12 && p[12] != ' ')
				return bad(err, "bad status line");
			for (size_t i = 12; i < n; i++)
				if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
					return bad(err, "control character in reason");
			h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
			if (h->status < 100)
				return bad(err, "bad status code");
			first = false;
		} else if (n == 0) {
			if (nl + 1 != end)
				return bad(err, "data after head");
			break;
		} else {
			if (p[0] == ' ' || p[0] == '\t')
				return bad(err, "folded header");
			if (header(p, n, h, err) < 0)
				return -1;
		}
		p = nl + 1;
	}
	if (h->chunked && h->content_length >= 0)
		return bad(err, "both Content-Length and chunked");
	return 0;
}

int docker_http_dechunk(const char *in, size_t len, struct isol8_buf *out, size_t max, struct isol8_err *err)
{
	size_t pos = 0;

	isol8_buf_reset(out);
	for (;;) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t line_end, hex_end, size = 0, digits = 0;

		if (!nl)
			return len - pos > 64 ? bad(err, "chunk size line too long") : 0;
		line_end = (size_t)(nl - in);
		if (line_end == pos || in[line_end - 1] != '\r')
			return bad(err, "bad chunk size line");
		hex_end = pos;
		while (hex_end < line_end - 1) {
			char c = in[hex_end];
			int v = (c >= '0' && c <= '9')   ? c - '0'
				: (c >= 'a' && c <= 'f') ? c - 'a' + 10
				: (c >= 'A' && c <= 'F') ? c - 'A' + 10
							 : -1;
			if (v < 0)
				break;
			if (++digits > 8)
				return bad(err, "chunk too large");
			size = size * 16 + (size_t)v;
			hex_end++;
		}
		/* Only chunk extensions (";...") may follow the size. */
		if (digits == 0 || (hex_end != line_end - 1 && in[hex_end] != ';'))
			return bad(err, "bad chunk size");
		pos = line_end + 1;
		if (size == 0) {
			/* Trailer fields until an empty line; Docker sends none, accept and ignore them. */
			for (;;) {
				const char *t = memchr(in + pos, '\n', len - pos);
				if (!t)
					return 0;
				size_t te = (size_t)(t - in);
				if (te == pos || in[te - 1] != '\r')
					return bad(err, "bad trailer");
				if (te == pos + 1)
					return pos + 2 == len ? 1 : bad(err, "data after last chunk");
				pos = te + 1;
			}
		}
		if (size > max - out->len)
			return isol8_err_set(err, ISOL8_E_LIMIT, 0, "Docker error answer larger than %zu bytes", max);
		if (len - pos < size + 2)
			return 0;
		if (in[pos + size] != '\r' || in[pos + size + 1] != '\n')
			return bad(err, "chunk not followed by CRLF");
		isol8_buf_append(out, in + pos, size);
		pos += size + 2;
	}
}

/* Wait for input until the deadline. */
static int wait_in(int fd, long long deadline, struct isol8_err *err)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - (long long)clock_mono_ms();
		int r;

		if (left <= 0)
			return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "Docker did not answer exec start in time");
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return isol8_err_set(err, ISOL8_E_IO, errno, "poll on Docker connection");
	}
}

static ssize_t recv_some(int fd, void *buf, size_t n, int flags, long long deadline, struct isol8_err *err)
{
	for (;;) {
		ssize_t r;

		if (wait_in(fd, deadline, err) < 0)
			return -1;
		r = recv(fd, buf, n, flags | MSG_DONTWAIT);
		if (r >= 0)
			return r;
		if (errno != EINTR && errno != EAGAIN)
			return isol8_err_set(err, ISOL8_E_UNAVAIL, errno, "read from Docker");
	}
}

/* Read the head without consuming a single byte past the blank line: peek at what is there,
 * consume only the bytes known to belong to the head. */
static int read_head(int fd, char *head, size_t *head_len, long long deadline, struct isol8_err *err)
{
	size_t have = 0;

	for (;;) {
		char peek[DOCKER_HIJACK_MAX_HEAD];
		size_t room = DOCKER_HIJACK_MAX_HEAD - have, take, end;
		ssize_t n;

		if (room == 0)
			return isol8_err_set(err, ISOL8_E_PROTO, 0, "HTTP head from Docker larger than %d bytes",
					     DOCKER_HIJACK_MAX_HEAD);
		n = recv_some(fd, peek, room, MSG_PEEK, deadline, err);
		if (n < 0)
			return -1;
		if (n == 0)
			return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "Docker closed the connection during exec start");
		/* Search the old tail (up to 3 bytes) plus the new bytes, so a split "\r\n\r\n" is found. */
		memcpy(head + have, peek, (size_t)n);
		{
			size_t from = have > 3 ? have - 3 : 0;
			end = docker_http_head_end(head + from, have + (size_t)n - from);
			take = end ? from + end - have : (size_t)n;
		}
		/* Consume exactly `take` bytes, which are all already available. */
		{
			size_t got = 0;
			while (got < take) {
				ssize_t r = recv(fd, head + have + got, take - got, MSG_DONTWAIT);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					return isol8_err_set(err, ISOL8_E_UNAVAIL, r < 0 ? errno : 0,
							     "read from Docker");
				got += (size_t)r;
			}
		}
		have += take;
		if (end) {
			*head_len = have;
			return 0;
		}
	}
}

/* Error answer: read the body (bounded) and turn Docker's message into the error. */
static int error_answer(int fd, const struct docker_http_head *h, long long deadline, struct isol8_err *err)
{
	struct isol8_buf raw = ISOL8_BUF_INIT, body = ISOL8_BUF_INIT;
	const size_t cap = DOCKER_HIJACK_MAX_ERROR_BODY;
	size_t want = h->content_length >= 0
		? (size_t)(h->content_length < (long long)cap ? h->content_length : (long long)cap)
		: cap;
	int done = 0, r;

	while (!done && raw.len < (h->chunked ? cap + 4096 : want)) {
		char tmp[4096];
		ssize_t n = recv_some(fd, tmp, sizeof tmp, 0, deadline, err);
		if (n <= 0)
			break; /* EOF, timeout or error: report what we have */
		isol8_buf_append(&raw, tmp, (size_t)n);
		if (h->chunked) {
			struct isol8_err e2 = ISOL8_ERR_INIT;
			r = docker_http_dechunk(raw.data, raw.len, &body, cap, &e2);
			if (r != 0)
				done = 1;
		}
	}
	if (!h->chunked) {
		isol8_buf_free(&body);
		body = raw;
		raw = (struct isol8_buf)ISOL8_BUF_INIT;
		if (body.len > want)
			body.len = want;
	}
	if (h->status >= 400)
		r = docker_status_error(h->status, body.data, body.len, err);
	else
		r = isol8_err_set(err, ISOL8_E_DOCKER, 0, "unexpected HTTP %d from Docker on exec start", h->status);
	isol8_buf_free(&raw);
	isol8_buf_free(&body);
	return r;
}

static int send_all(int fd, const char *p, size_t n, struct isol8_err *err)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return isol8_err_set(err, ISOL8_E_UNAVAIL, errno, "write to Docker");
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int docker_exec_start_hijack(struct docker *d, const char *exec_id, int *fd_out, struct isol8_err *err)
{
	static const char body[] = "{\"Detach\":false,\"Tty\":false}";
	_cleanup_free_ char *n = docker_path_arg("exec", exec_id, err);
	_cleanup_free_ char *req = NULL;
	_cleanup_close_ int fd = -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = docker_socket_path(d);
	char head[DOCKER_HIJACK_MAX_HEAD];
	size_t head_len = 0;
	struct docker_http_head h;
	long long deadline = (long long)clock_mono_ms() + DOCKER_HIJACK_TIMEOUT_MS;

	*fd_out = -1;
	if (!n)
		return -1;
	if (strlen(path) >= sizeof sa.sun_path)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "Docker socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return docker_unreachable(path, errno, err);

	req = xasprintf("POST " DOCKER_API_PREFIX "/exec/%s/start HTTP/1.1\r\n"
			"Host: docker\r\n"
			"Content-Type: application/json\r\n"
			"Connection: Upgrade\r\n"
			"Upgrade: tcp\r\n"
			"Content-Length: %zu\r\n"
			"\r\n%s",
			n, sizeof body - 1, body);
	if (send_all(fd, req, strlen(req), err) < 0)
		return isol8_err_wrap(err, "exec start");
	if (read_head(fd, head, &head_len, deadline, err) < 0)
		return isol8_err_wrap(err, "exec start");
	if (docker_http_parse_head(head, head_len, &h, err) < 0)
		return isol8_err_wrap(err, "exec start");
	/* 101 is the upgrade; engines before API 1.22 answered 200 and then streamed. */
	if (h.status != 101 && h.status != 200)
		return error_answer(fd, &h, deadline, err);
	*fd_out = steal_fd(&fd);
	return 0;
}
