/* Hostile frontend for tests/integration/privsep_test.sh: sends garbage, truncated, oversized and
 * otherwise malformed frames and unexpected fds to the broker socket, one connection per case,
 * then one valid request (session list). Prints "PASS <case>" or "FAIL <case>: <why>" per case and
 * exits 0 when every case passed.
 *
 * A malformed frame must make the broker drop the connection (an error reply before the close is
 * allowed) within a few seconds, and every fd we passed must be closed by the broker: each case
 * that passes fds sends the write end of a pipe and then watches the read end for POLLHUP, so a
 * leaked fd is seen as a missing hang-up.
 *
 * Usage: broker_fuzz SOCKET */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/proto.h"

#define WAIT_MS 5000

static const char *sock_path;
static int failures;

static void result(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(const char *name, const char *fmt, ...)
{
	va_list ap;

	if (!fmt) {
		printf("PASS %s\n", name);
		return;
	}
	failures++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int connect_broker(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header as the broker expects it (common/ipc.h), with every field under our control. */
static void header(uint8_t *h, uint16_t magic, uint8_t version, uint8_t type, uint16_t nfds, uint32_t len,
		   uint32_t reserved)
{
	memset(h, 0, ISOL8_IPC_HDR_LEN);
	put16(h, magic);
	h[2] = version;
	h[3] = type;
	put16(h + 4, 0);
	put16(h + 6, nfds);
	put32(h + 8, len);
	put32(h + 12, 1);
	put32(h + 16, reserved);
}

/* Send raw bytes with fds (SCM_RIGHTS) and, when creds is set, an SCM_CREDENTIALS block as well. */
static int send_raw(int s, const void *data, size_t n, const int *fds, unsigned nfds, int creds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16) + CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {.iov_base = (void *)data, .iov_len = n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;
	size_t clen = 0;

	memset(cbuf, 0, sizeof cbuf);
	if (nfds || creds) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		c = CMSG_FIRSTHDR(&mh);
		if (nfds) {
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
			clen += CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_NXTHDR(&mh, c);
		}
		if (creds) {
			struct ucred u = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_CREDENTIALS;
			c->cmsg_len = CMSG_LEN(sizeof u);
			memcpy(CMSG_DATA(c), &u, sizeof u);
			clen += CMSG_SPACE(sizeof u);
		}
		mh.msg_controllen = clen;
	}
	return sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Wait until the broker closes the connection; replies before the close are drained. Returns 0
 * on close, -1 when it is still open after WAIT_MS. */
static int wait_closed(int s)
{
	uint8_t buf[ISOL8_IPC_HDR_LEN + ISOL8_IPC_MAX_PAYLOAD];
	int waited = 0;

	while (waited < WAIT_MS) {
		struct pollfd pf = {.fd = s, .events = POLLIN};
		ssize_t r;
		if (poll(&pf, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		r = recv(s, buf, sizeof buf, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return 0;
	}
	return -1;
}

/* The pipe's read end hangs up once every copy of the write end (ours went with the message)
 * is closed: the broker's copy included. */
static int wait_hup(int rfd)
{
	struct pollfd pf = {.fd = rfd, .events = POLLIN};
	char c;

	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		if (poll(&pf, 1, 100) > 0 && (pf.revents & (POLLHUP | POLLIN)) && read(rfd, &c, 1) == 0)
			return 0;
	}
	return -1;
}

/* One case: a fresh connection, one frame (optionally with nfds pipe write ends), then the
 * broker must drop us and close every fd. */
static void hostile_case(const char *name, int routed, const void *frame, size_t n, unsigned nfds, int creds)
{
	int s = connect_broker(), p[16][2], wfds[16];
	unsigned i;

	if (s < 0) {
		result(name, "connect: %s", strerror(errno));
		return;
	}
	if (routed) {
		/* A valid hello first: the connection is handed to a worker, which gets the bad frame. */
		uint8_t h[ISOL8_IPC_HDR_LEN + 5];
		header(h, ISOL8_IPC_MAGIC, ISOL8_IPC_VERSION, FE_HELLO, 0, 5, 0);
		h[ISOL8_IPC_HDR_LEN] = HELLO_RUN;
		put32(h + ISOL8_IPC_HDR_LEN + 1, 0);
		if (send_raw(s, h, sizeof h, NULL, 0, 0) < 0) {
			result(name, "send hello: %s", strerror(errno));
			close(s);
			return;
		}
	}
	for (i = 0; i < nfds; i++) {
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			result(name, "pipe: %s", strerror(errno));
			close(s);
			return;
		}
		wfds[i] = p[i][1];
	}
	if (send_raw(s, frame, n, wfds, nfds, creds) < 0 && errno != EMSGSIZE && errno != ENOBUFS) {
		result(name, "send: %s", strerror(errno));
		close(s);
		return;
	}
	for (i = 0; i < nfds; i++)
		close(p[i][1]);
	if (wait_closed(s) < 0) {
		result(name, "broker did not drop the connection within %d ms", WAIT_MS);
		close(s);
		for (i = 0; i < nfds; i++)
			close(p[i][0]);
		return;
	}
	close(s);
	for (i = 0; i < nfds; i++) {
		int leaked = wait_hup(p[i][0]) < 0;
		close(p[i][0]);
		if (leaked) {
			result(name, "passed fd %u was not closed by the broker", i);
			return;
		}
	}
	result(name, NULL);
}

static void frame_case(const char *name, const void *frame, size_t n, unsigned nfds, int creds)
{
	hostile_case(name, 0, frame, n, nfds, creds);
}

static size_t hello(uint8_t *f, uint8_t type, uint8_t op, const char *session, size_t session_len, const void *extra,
		    size_t extra_len, uint16_t nfds)
{
	size_t len = 1 + 4 + session_len + extra_len;

	header(f, ISOL8_IPC_MAGIC, ISOL8_IPC_VERSION, type, nfds, (uint32_t)len, 0);
	f[ISOL8_IPC_HDR_LEN] = op;
	put32(f + ISOL8_IPC_HDR_LEN + 1, (uint32_t)session_len);
	memcpy(f + ISOL8_IPC_HDR_LEN + 5, session, session_len);
	if (extra_len)
		memcpy(f + ISOL8_IPC_HDR_LEN + 5 + session_len, extra, extra_len);
	return ISOL8_IPC_HDR_LEN + len;
}

/* A valid session-list request; with creds, an SCM_CREDENTIALS block rides along on the hello (the
 * kernel drops it unless the broker asked for SO_PASSCRED; either way it must not matter). */
static void valid_request(const char *name, int creds)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m = {0};
	int s = connect_broker(), r;
	struct timeval tv = {.tv_sec = 10};

	if (s < 0) {
		result(name, "connect: %s", strerror(errno));
		return;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	isol8_put_u8(&b, HELLO_SESSION_LIST);
	isol8_put_str(&b, "");
	if (creds) {
		uint8_t h[ISOL8_IPC_HDR_LEN + 64];
		header(h, ISOL8_IPC_MAGIC, ISOL8_IPC_VERSION, FE_HELLO, 0, (uint32_t)b.len, 0);
		memcpy(h + ISOL8_IPC_HDR_LEN, b.data, b.len);
		r = send_raw(s, h, ISOL8_IPC_HDR_LEN + b.len, NULL, 0, 1);
		if (r < 0)
			isol8_err_set(&err, ISOL8_E_IO, errno, "send hello with credentials");
	} else {
		r = isol8_ipc_send_buf(s, FE_HELLO, 0, &b, NULL, 0, &err);
	}
	isol8_buf_free(&b);
	if (r == 0)
		r = isol8_ipc_send(s, FE_SESSION_LIST, 0, NULL, 0, NULL, 0, &err);
	if (r == 0)
		r = isol8_ipc_recv(s, &m, &err) == 1 ? 0 : -1;
	if (r < 0)
		result(name, "%s", err.msg[0] ? err.msg : "connection closed");
	else if (m.type != WK_SESSIONS)
		result(name, "reply type %u, want %u", m.type, WK_SESSIONS);
	else if (m.len < 2 || m.payload[0] != '[')
		result(name, "reply is not a JSON array: %.*s", (int)m.len, m.payload);
	else
		result(name, NULL);
	isol8_msg_free(&m);
	close(s);
}

int main(int argc, char **argv)
{
	static uint8_t f[ISOL8_IPC_HDR_LEN + 3 * ISOL8_IPC_MAX_PAYLOAD];
	static uint8_t garbage[64];
	uint32_t x = 0x12345678;
	size_t n;
	int idle[32];

	if (argc != 2) {
		fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
		return 2;
	}
	sock_path = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* Connections that never say hello, held open while the rest runs. */
	for (int i = 0; i < 32; i++)
		idle[i] = connect_broker();

	for (size_t i = 0; i < 4096; i++) {
		x = x * 1103515245u + 12345u;
		f[i] = (uint8_t)(x >> 16);
	}
	memcpy(garbage, f, sizeof garbage);
	frame_case("random garbage (4096 bytes)", f, 4096, 0, 0);
	frame_case("random garbage with 2 fds", f, 64, 2, 0);
	frame_case("one byte", f, 1, 0, 0);
	frame_case("empty datagram", f, 0, 0, 0);

	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, NULL, 0, 0);
	frame_case("truncated header (10 bytes)", f, 10, 0, 0);
	frame_case("header only, payload missing", f, ISOL8_IPC_HDR_LEN, 0, 0);
	frame_case("payload one byte short", f, n - 1, 0, 0);
	header(f, 0x4242, ISOL8_IPC_VERSION, FE_HELLO, 0, 5, 0);
	frame_case("bad magic", f, n, 0, 0);
	header(f, ISOL8_IPC_MAGIC, 99, FE_HELLO, 0, 5, 0);
	frame_case("bad version", f, n, 0, 0);
	header(f, ISOL8_IPC_MAGIC, ISOL8_IPC_VERSION, FE_HELLO, 0, 5, 0xdeadbeef);
	frame_case("reserved field set", f, n, 0, 0);
	header(f, ISOL8_IPC_MAGIC, ISOL8_IPC_VERSION, FE_HELLO, 0, 0xffffffffu, 0);
	frame_case("length 4 GiB claimed", f, n, 0, 0);

	memset(f + ISOL8_IPC_HDR_LEN, 'A', ISOL8_IPC_MAX_PAYLOAD + 4096);
	header(f, ISOL8_IPC_MAGIC, ISOL8_IPC_VERSION, FE_HELLO, 0, ISOL8_IPC_MAX_PAYLOAD + 4096, 0);
	frame_case("oversized frame (68 KiB payload)", f, ISOL8_IPC_HDR_LEN + ISOL8_IPC_MAX_PAYLOAD + 4096, 0, 0);
	header(f, ISOL8_IPC_MAGIC, ISOL8_IPC_VERSION, FE_HELLO, 0, 2 * ISOL8_IPC_MAX_PAYLOAD, 0);
	frame_case("oversized frame (128 KiB payload)", f, ISOL8_IPC_HDR_LEN + 2 * ISOL8_IPC_MAX_PAYLOAD, 0, 0);

	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, NULL, 0, 1);
	frame_case("hello with an unexpected fd", f, n, 1, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, NULL, 0, 3);
	frame_case("hello with 3 unexpected fds", f, n, 3, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, NULL, 0, 0);
	frame_case("hello with 8 fds, header says 0", f, n, 8, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, NULL, 0, 2);
	frame_case("header says 2 fds, none sent", f, n, 0, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, NULL, 0, 0);
	frame_case("SCM_CREDENTIALS plus an fd", f, n, 1, 1);

	n = hello(f, 77, HELLO_SESSION_LIST, "", 0, NULL, 0, 0);
	frame_case("unknown message type 77", f, n, 0, 0);
	n = hello(f, 255, HELLO_SESSION_LIST, "", 0, NULL, 0, 3);
	frame_case("unknown type 255 with 3 fds", f, n, 3, 0);
	n = hello(f, FE_RUN, HELLO_RUN, "", 0, NULL, 0, 3);
	frame_case("FE_RUN before hello, with 3 fds", f, n, 3, 0);
	n = hello(f, V_CREATE, 0, "", 0, NULL, 0, 0);
	frame_case("worker verb V_CREATE from a frontend", f, n, 0, 0);
	n = hello(f, BR_ASSIGN, 0, "", 0, NULL, 0, 1);
	frame_case("broker message BR_ASSIGN from a frontend", f, n, 1, 0);
	n = hello(f, FE_HELLO, 0, "", 0, NULL, 0, 0);
	frame_case("hello op 0", f, n, 0, 0);
	n = hello(f, FE_HELLO, 200, "", 0, NULL, 0, 0);
	frame_case("hello op 200", f, n, 0, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, "zz", 2, 0);
	frame_case("hello with trailing bytes", f, n, 0, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_STOP, "a\0b", 3, NULL, 0, 0);
	frame_case("hello session with a NUL", f, n, 0, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_STOP, "../../etc", 9, NULL, 0, 0);
	frame_case("hello session with bad characters", f, n, 0, 0);
	{
		char longname[200];
		memset(longname, 's', sizeof longname);
		n = hello(f, FE_HELLO, HELLO_SESSION_STOP, longname, sizeof longname, NULL, 0, 0);
	}
	frame_case("hello session name of 200 bytes", f, n, 0, 0);
	n = hello(f, FE_HELLO, HELLO_SESSION_LIST, "", 0, NULL, 0, 0);
	put32(f + ISOL8_IPC_HDR_LEN + 1, 0x7fffffffu); /* string length beyond the payload */
	frame_case("hello string length beyond payload", f, n, 0, 0);

	/* The same kind of frames after routing: the worker must drop the peer and close the fds. */
	hostile_case("worker: random garbage with 3 fds", 1, garbage, 64, 3, 0);
	hostile_case("worker: oversized frame", 1, f, ISOL8_IPC_HDR_LEN + 2 * ISOL8_IPC_MAX_PAYLOAD, 0, 0);
	n = hello(f, FE_RUN, 0, "", 0, NULL, 0, 1);
	frame_case("FE_RUN with 1 fd (3 expected)", f, n, 1, 0);
	hostile_case("worker: FE_RUN with 1 fd (3 expected)", 1, f, n, 1, 0);
	n = hello(f, FE_RUN, 0, "", 0, NULL, 0, 3);
	hostile_case("worker: FE_RUN with a non-JSON body and 3 fds", 1, f, n, 3, 0);
	n = hello(f, FE_HELLO, HELLO_RUN, "", 0, NULL, 0, 0);
	hostile_case("worker: a second hello", 1, f, n, 0, 0);
	n = hello(f, 77, 0, "", 0, NULL, 0, 2);
	hostile_case("worker: unknown type 77 with 2 fds", 1, f, n, 2, 0);

	for (int i = 0; i < 32; i++)
		if (idle[i] >= 0)
			close(idle[i]);

	valid_request("hello with SCM_CREDENTIALS is served like any hello", 1);
	valid_request("valid session list afterwards", 0);
	return failures ? 1 : 0;
}
