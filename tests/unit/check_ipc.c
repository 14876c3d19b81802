/* Unit tests for common/ipc.c over real SOCK_SEQPACKET socketpairs, including hand-crafted
 * hostile frames sent with raw sendmsg(). */
#include "config.h"
#include "common/ipc.h"
#include "common/cleanup.h"
#include "cli/broker_conn.h"
#include "common/proto.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int sv[2] = {-1, -1};

static void setup(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	ck_assert_int_eq(isol8_ipc_socketpair(sv, &err), 0);
}

static void teardown(void)
{
	sv[0] = xclose(sv[0]);
	sv[1] = xclose(sv[1]);
}

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* The fd number the kernel hands out next (lowest free). */
static int next_free_fd(void)
{
	int fd = dup(0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

static void mkhdr(uint8_t *h, uint16_t magic, uint8_t version, uint8_t type, uint16_t nfds, uint32_t len,
		  uint32_t reserved)
{
	memset(h, 0, ISOL8_IPC_HDR_LEN);
	h[0] = (uint8_t)magic;
	h[1] = (uint8_t)(magic >> 8);
	h[2] = version;
	h[3] = type;
	h[6] = (uint8_t)nfds;
	h[7] = (uint8_t)(nfds >> 8);
	for (int i = 0; i < 4; i++) {
		h[8 + i] = (uint8_t)(len >> (8 * i));
		h[12 + i] = (uint8_t)(0x11223344u >> (8 * i));
		h[16 + i] = (uint8_t)(reserved >> (8 * i));
	}
}

/* Send bytes as one datagram with the given fds, bypassing isol8_ipc_send's checks. */
static void send_raw(int sock, const void *data, size_t n, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr a;
		char buf[CMSG_SPACE(sizeof(int) * 16)];
	} cb;
	struct iovec iov = {(void *)data, n};
	struct msghdr mh = {0};

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds) {
		struct cmsghdr *c;
		memset(&cb, 0, sizeof cb);
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ck_assert_int_eq(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)n);
}

static void send_frame(int sock, uint16_t magic, uint8_t version, uint16_t hnfds, uint32_t hlen, uint32_t reserved,
		       size_t actual_payload, const int *fds, unsigned nfds)
{
	size_t n = ISOL8_IPC_HDR_LEN + actual_payload;
	uint8_t *f = calloc(1, n);

	mkhdr(f, magic, version, 7, hnfds, hlen, reserved);
	send_raw(sock, f, n, fds, nfds);
	free(f);
}

/* Expect recv to fail with PROTO, containing `needle`, without leaking any fd. */
static void expect_recv_fail(const char *needle)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	int before = count_open_fds();
	int next = next_free_fd();

	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	ck_assert_msg(strstr(err.msg, needle), "error '%s' lacks '%s'", err.msg, needle);
	ck_assert_int_eq(m.nfds, 0);
	ck_assert_ptr_null(m.payload);
	ck_assert(!fd_is_open(next));
	ck_assert_int_eq(count_open_fds(), before);
	isol8_msg_free(&m);
}

static void round_trip(unsigned nfds)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf b = ISOL8_BUF_INIT;
	int pipes[3][2], send_fds[3];
	struct isol8_msg m;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32, blen;
	uint64_t u64;
	char *s = NULL;
	const uint8_t *bytes;

	for (unsigned i = 0; i < nfds; i++) {
		ck_assert_int_eq(pipe2(pipes[i], O_CLOEXEC), 0);
		send_fds[i] = pipes[i][1];
	}
	isol8_put_u8(&b, 0xab);
	isol8_put_u16(&b, 0xbeef);
	isol8_put_u32(&b, 0xdeadbeef);
	isol8_put_u64(&b, 0x0102030405060708ull);
	isol8_put_str(&b, "hello");
	isol8_put_str(&b, NULL);
	isol8_put_bytes(&b, "\0\1\2", 3);
	ck_assert_int_eq(isol8_ipc_send_buf(sv[0], 42, 9001, &b, send_fds, nfds, &err), 0);
	isol8_buf_free(&b);
	/* The sender keeps its own fds. */
	for (unsigned i = 0; i < nfds; i++)
		ck_assert(fd_is_open(send_fds[i]));

	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
	ck_assert_int_eq(m.type, 42);
	ck_assert_int_eq(m.request_id, 9001);
	ck_assert_int_eq(m.flags, 0);
	ck_assert_uint_eq(m.nfds, nfds);
	ck_assert_int_eq(isol8_get_u8(&m, &u8, &err), 0);
	ck_assert_uint_eq(u8, 0xab);
	ck_assert_int_eq(isol8_get_u16(&m, &u16, &err), 0);
	ck_assert_uint_eq(u16, 0xbeef);
	ck_assert_int_eq(isol8_get_u32(&m, &u32, &err), 0);
	ck_assert_uint_eq(u32, 0xdeadbeef);
	ck_assert_int_eq(isol8_get_u64(&m, &u64, &err), 0);
	ck_assert(u64 == 0x0102030405060708ull);
	ck_assert_int_eq(isol8_get_str(&m, &s, 64, &err), 0);
	ck_assert_str_eq(s, "hello");
	free(s);
	ck_assert_int_eq(isol8_get_str(&m, &s, 64, &err), 0);
	ck_assert_str_eq(s, "");
	free(s);
	ck_assert_int_eq(isol8_get_bytes(&m, &bytes, &blen, 16, &err), 0);
	ck_assert_uint_eq(blen, 3);
	ck_assert(memcmp(bytes, "\0\1\2", 3) == 0);
	ck_assert_int_eq(isol8_msg_end(&m, &err), 0);

	for (unsigned i = 0; i < nfds; i++) {
		char c = 0;
		int fd = m.fds[i];

		ck_assert_int_ge(fd, 0);
		ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* MSG_CMSG_CLOEXEC */
		ck_assert_int_eq(write(fd, "x", 1), 1);
		ck_assert_int_eq(read(pipes[i][0], &c, 1), 1);
		ck_assert_int_eq(c, 'x');
	}
	if (nfds) {
		int fd = isol8_msg_take_fd(&m, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(isol8_msg_take_fd(&m, 0), -1);
		isol8_msg_free(&m);
		ck_assert(fd_is_open(fd)); /* taken: not closed by free */
		close(fd);
	} else {
		ck_assert_int_eq(isol8_msg_take_fd(&m, 0), -1);
		isol8_msg_free(&m);
	}
	for (unsigned i = 0; i < nfds; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
}

START_TEST(test_round_trip)
{
	int before = count_open_fds();
	round_trip((unsigned)_i);
	ck_assert_int_eq(count_open_fds(), before);
}
END_TEST

START_TEST(test_empty_payload)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	uint8_t v;

	ck_assert_int_eq(isol8_ipc_send(sv[0], 1, 0, NULL, 0, NULL, 0, &err), 0);
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_eq(isol8_msg_end(&m, &err), 0);
	ck_assert_int_eq(isol8_get_u8(&m, &v, &err), -1);
	isol8_msg_free(&m);
}
END_TEST

START_TEST(test_max_payload)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	char *p = calloc(1, ISOL8_IPC_MAX_PAYLOAD + 1);

	ck_assert_int_eq(isol8_ipc_send(sv[0], 1, 0, p, ISOL8_IPC_MAX_PAYLOAD, NULL, 0, &err), 0);
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
	ck_assert_uint_eq(m.len, ISOL8_IPC_MAX_PAYLOAD);
	isol8_msg_free(&m);

	ck_assert_int_eq(isol8_ipc_send(sv[0], 1, 0, p, ISOL8_IPC_MAX_PAYLOAD + 1, NULL, 0, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	ck_assert(strstr(err.msg, "exceeds"));
	free(p);
}
END_TEST

START_TEST(test_send_too_many_fds)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int fds[4] = {0, 0, 0, 0};
	int before = count_open_fds();

	ck_assert_int_eq(isol8_ipc_send(sv[0], 1, 0, "x", 1, fds, 4, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	ck_assert_int_eq(count_open_fds(), before);
}
END_TEST

START_TEST(test_send_bad_fd)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int fds[2] = {0, 987};
	int before = count_open_fds();

	ck_assert_int_eq(isol8_ipc_send(sv[0], 1, 0, "x", 1, fds, 2, &err), -1);
	ck_assert_int_eq(err.errnum, EBADF);
	ck_assert_int_eq(count_open_fds(), before); /* the dup of fd 0 was closed */
}
END_TEST

START_TEST(test_recv_oversized_header_len)
{
	/* A frame that fits the receive buffer but announces more than the cap. */
	int fd = dup(0);
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 1, ISOL8_IPC_MAX_PAYLOAD + 1, 0, ISOL8_IPC_MAX_PAYLOAD + 1, &fd, 1);
	close(fd);
	expect_recv_fail("exceeds");
}
END_TEST

START_TEST(test_recv_oversized_frame)
{
	/* Larger than the receive buffer: MSG_TRUNC, and the fds that came with it are closed. */
	int fds[2] = {dup(0), dup(0)};
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 2, ISOL8_IPC_MAX_PAYLOAD + 100, 0, ISOL8_IPC_MAX_PAYLOAD + 100, fds, 2);
	close(fds[0]);
	close(fds[1]);
	expect_recv_fail("truncated");
}
END_TEST

START_TEST(test_recv_truncated_payload)
{
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 0, 10, 0, 5, NULL, 0);
	expect_recv_fail("payload length 10 but 5 bytes received");
}
END_TEST

START_TEST(test_recv_trailing_payload)
{
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 0, 4, 0, 5, NULL, 0);
	expect_recv_fail("payload length 4 but 5 bytes received");
}
END_TEST

START_TEST(test_recv_short_header)
{
	int fd = dup(0);
	uint8_t h[ISOL8_IPC_HDR_LEN];

	mkhdr(h, ISOL8_IPC_MAGIC, 1, 1, 1, 0, 0);
	send_raw(sv[0], h, 10, &fd, 1);
	close(fd);
	expect_recv_fail("short frame");
}
END_TEST

START_TEST(test_recv_bad_magic)
{
	int fd = dup(0);
	send_frame(sv[0], 0x4938, 1, 1, 0, 0, 0, &fd, 1);
	close(fd);
	expect_recv_fail("bad magic");
}
END_TEST

START_TEST(test_recv_bad_version)
{
	send_frame(sv[0], ISOL8_IPC_MAGIC, 2, 0, 0, 0, 0, NULL, 0);
	expect_recv_fail("version 2");
}
END_TEST

START_TEST(test_recv_reserved)
{
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 0, 0, 1, 0, NULL, 0);
	expect_recv_fail("reserved");
}
END_TEST

START_TEST(test_recv_nfds_mismatch)
{
	int fds[2] = {dup(0), dup(0)};

	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 1, 0, 0, 0, fds, 2);
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 2, 0, 0, 0, fds, 1);
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 1, 0, 0, 0, NULL, 0);
	close(fds[0]);
	close(fds[1]);
	expect_recv_fail("header announces 1 fds, 2 received");
	expect_recv_fail("header announces 2 fds, 1 received");
	expect_recv_fail("header announces 1 fds, 0 received");
}
END_TEST

START_TEST(test_recv_too_many_fds)
{
	int fds[16];

	for (int i = 0; i < 16; i++)
		fds[i] = dup(0);
	/* Above the cap but within our control buffer, then beyond it (MSG_CTRUNC). */
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 5, 0, 0, 0, fds, 5);
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 16, 0, 0, 0, fds, 16);
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 4, 0, 0, 0, fds, 4);
	for (int i = 0; i < 16; i++)
		close(fds[i]);
	expect_recv_fail("5 fds received, max 3");
	expect_recv_fail("truncated");
	expect_recv_fail("4 fds received, max 3");
}
END_TEST

START_TEST(test_recv_credentials_refused)
{
	/* SO_PASSCRED makes the kernel attach SCM_CREDENTIALS: not a control message we accept. */
	int one = 1;

	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
	send_frame(sv[0], ISOL8_IPC_MAGIC, 1, 0, 0, 0, 0, NULL, 0);
	expect_recv_fail("control data");
}
END_TEST

START_TEST(test_recv_eof)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;

	sv[0] = xclose(sv[0]);
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 0);
	isol8_msg_free(&m);
}
END_TEST

START_TEST(test_recv_reply_before_reset)
{
	/* isol8d refuses a connection (queue full) and closes it with the client's request still
	 * unread: the client must read the refusal, not ECONNRESET (burst_test saw 500s). */
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;

	ck_assert_int_eq(isol8_ipc_send(sv[1], FE_RUN, 0, "{}", 2, NULL, 0, &err), 0);
	ck_assert_int_eq(isol8_ipc_send(sv[0], WK_ERROR, 0, "\0\7busy", 7, NULL, 0, &err), 0);
	sv[0] = xclose(sv[0]);
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
	ck_assert_int_eq(m.type, WK_ERROR);
	isol8_msg_free(&m);
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 0);
	isol8_msg_free(&m);
}
END_TEST

static void send_refusal(int sock, int code, const char *text)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_err err = ISOL8_ERR_INIT;

	isol8_put_u16(&b, (uint16_t)code);
	isol8_put_str(&b, text);
	ck_assert_int_eq(isol8_ipc_send_buf(sock, WK_ERROR, 0, &b, NULL, 0, &err), 0);
	isol8_buf_free(&b);
}

START_TEST(test_broker_send_after_refusal)
{
	/* The refusal came and the connection closed before the request was written: EPIPE, and
	 * the request's error is the refusal's code and text. */
	struct isol8_err err = ISOL8_ERR_INIT;

	send_refusal(sv[0], ISOL8_E_LIMIT, "isol8d is busy: queue full; retry later");
	sv[0] = xclose(sv[0]);
	ck_assert_int_eq(broker_send(sv[1], FE_RUN, "{}", 2, NULL, 0, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	ck_assert_str_eq(err.msg, "isol8d is busy: queue full; retry later");
}
END_TEST

START_TEST(test_broker_send_closed_without_reply)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	sv[0] = xclose(sv[0]);
	ck_assert_int_eq(broker_send(sv[1], FE_RUN, "{}", 2, NULL, 0, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_IO);
	ck_assert_int_eq(err.errnum, EPIPE);
}
END_TEST

START_TEST(test_recv_nonblock_eagain)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;

	ck_assert_int_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), -1);
	ck_assert_int_eq(err.errnum, EAGAIN);
}
END_TEST

START_TEST(test_recv_then_valid)
{
	/* After garbage, the next valid frame still parses (one datagram per message). */
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;

	send_raw(sv[0], "garbage!", 8, NULL, 0);
	ck_assert_int_eq(isol8_ipc_send(sv[0], 3, 4, "ok", 2, NULL, 0, &err), 0);
	expect_recv_fail("short frame");
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
	ck_assert_int_eq(m.type, 3);
	isol8_msg_free(&m);
}
END_TEST

static struct isol8_msg make_msg(const void *p, uint32_t n)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m;
	uint8_t *f = calloc(1, ISOL8_IPC_HDR_LEN + n);

	mkhdr(f, ISOL8_IPC_MAGIC, 1, 5, 0, n, 0);
	if (n)
		memcpy(f + ISOL8_IPC_HDR_LEN, p, n);
	ck_assert_int_eq(isol8_ipc_parse_frame(f, ISOL8_IPC_HDR_LEN + n, 0, &m, &err), 0);
	free(f);
	return m;
}

START_TEST(test_get_str_nul)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = make_msg("\3\0\0\0a\0b", 7);
	char *s = NULL;

	ck_assert_int_eq(isol8_get_str(&m, &s, 16, &err), -1);
	ck_assert_ptr_null(s);
	ck_assert(strstr(err.msg, "contains NUL"));
	ck_assert_uint_eq(m.pos, 0);
	isol8_msg_free(&m);
}
END_TEST

START_TEST(test_get_str_limits)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = make_msg("\5\0\0\0abcde", 9);
	char *s = NULL;
	const uint8_t *p;
	uint32_t n;

	ck_assert_int_eq(isol8_get_str(&m, &s, 4, &err), -1);
	ck_assert(strstr(err.msg, "exceeds 4"));
	ck_assert_int_eq(isol8_get_bytes(&m, &p, &n, 4, &err), -1);
	ck_assert_int_eq(isol8_get_str(&m, &s, 5, &err), 0);
	ck_assert_str_eq(s, "abcde");
	free(s);
	isol8_msg_free(&m);

	/* Length prefix larger than what remains (including a huge one). */
	m = make_msg("\6\0\0\0abcde", 9);
	ck_assert_int_eq(isol8_get_str(&m, &s, 100, &err), -1);
	ck_assert(strstr(err.msg, "short message"));
	isol8_msg_free(&m);
	m = make_msg("\xff\xff\xff\xff"
		     "a",
		     5);
	ck_assert_int_eq(isol8_get_bytes(&m, &p, &n, UINT32_MAX, &err), -1);
	ck_assert_uint_eq(m.pos, 0);
	isol8_msg_free(&m);
}
END_TEST

START_TEST(test_msg_end_trailing)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = make_msg("\1\0\0\0\2", 5);
	uint32_t v;

	ck_assert_int_eq(isol8_get_u32(&m, &v, &err), 0);
	ck_assert_int_eq(isol8_msg_end(&m, &err), -1);
	ck_assert(strstr(err.msg, "1 trailing bytes"));
	isol8_msg_free(&m);
}
END_TEST

START_TEST(test_getters_past_end)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = make_msg("\1\2\3", 3);
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	ck_assert_int_eq(isol8_get_u32(&m, &u32, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);
	ck_assert_int_eq(isol8_get_u64(&m, &u64, &err), -1);
	ck_assert_int_eq(isol8_get_u16(&m, &u16, &err), 0);
	ck_assert_int_eq(isol8_get_u16(&m, &u16, &err), -1);
	ck_assert_int_eq(isol8_get_u8(&m, &u8, &err), 0);
	ck_assert_uint_eq(u8, 3);
	ck_assert_int_eq(isol8_get_u8(&m, &u8, &err), -1);
	ck_assert(strstr(err.msg, "need 1, have 0"));
	ck_assert_int_eq(isol8_msg_end(&m, &err), 0);
	isol8_msg_free(&m);
}
END_TEST

/* Each kind against the fd it names and against what an attacker would pass instead. */
static int kind_ok(int fd, enum isol8_fd_kind k)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	return isol8_fd_check(fd, k, &err) == 0;
}

START_TEST(test_fd_kinds)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char fifo[] = "/tmp/check_ipc_fifoXXXXXX";
	int pp[2], sp[2], st[2], dir, opath, proc, mfd, sealed, nfifo, file, lst;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	opath = open("/", O_PATH | O_CLOEXEC);
	proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mfd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	sealed = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_eq(write(sealed, "x", 1), 1);
	ck_assert_int_eq(isol8_memfd_seal(sealed, &err), 0);
	file = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	ck_assert(mkdtemp(fifo) != NULL);
	ck_assert_int_eq(rmdir(fifo), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	nfifo = open(fifo, O_RDWR | O_CLOEXEC); /* RDWR: does not wait for a writer */
	unlink(fifo);
	lst = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(lst, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lst, 1), 0);
	ck_assert(dir >= 0 && opath >= 0 && proc >= 0 && mfd >= 0 && file >= 0 && nfifo >= 0);

	ck_assert(kind_ok(pp[0], ISOL8_FD_PIPE_R));
	ck_assert(!kind_ok(pp[1], ISOL8_FD_PIPE_R));
	ck_assert(!kind_ok(dir, ISOL8_FD_PIPE_R));
	ck_assert(!kind_ok(opath, ISOL8_FD_PIPE_R));
	ck_assert(!kind_ok(proc, ISOL8_FD_PIPE_R));
	ck_assert(!kind_ok(nfifo, ISOL8_FD_PIPE_R)); /* a named FIFO is a host path */
	ck_assert(!kind_ok(sp[0], ISOL8_FD_PIPE_R));
	ck_assert(!kind_ok(file, ISOL8_FD_PIPE_R));
	ck_assert(kind_ok(pp[1], ISOL8_FD_PIPE_W));
	ck_assert(!kind_ok(pp[0], ISOL8_FD_PIPE_W));

	ck_assert(kind_ok(pp[1], ISOL8_FD_OUTPUT));
	ck_assert(kind_ok(sp[0], ISOL8_FD_OUTPUT));
	ck_assert(!kind_ok(pp[0], ISOL8_FD_OUTPUT));
	ck_assert(!kind_ok(dir, ISOL8_FD_OUTPUT));
	ck_assert(!kind_ok(opath, ISOL8_FD_OUTPUT));
	ck_assert(!kind_ok(file, ISOL8_FD_OUTPUT));

	ck_assert(kind_ok(sealed, ISOL8_FD_MEMFD));
	ck_assert(!kind_ok(mfd, ISOL8_FD_MEMFD)); /* unsealed: could change or grow under the reader */
	ck_assert(!kind_ok(file, ISOL8_FD_MEMFD));
	ck_assert(!kind_ok(pp[0], ISOL8_FD_MEMFD));
	ck_assert(!kind_ok(dir, ISOL8_FD_MEMFD));

	ck_assert(kind_ok(sp[0], ISOL8_FD_SEQPACKET));
	ck_assert(!kind_ok(st[0], ISOL8_FD_SEQPACKET));
	ck_assert(!kind_ok(pp[0], ISOL8_FD_SEQPACKET));
	ck_assert(kind_ok(st[0], ISOL8_FD_STREAM));
	ck_assert(!kind_ok(sp[0], ISOL8_FD_STREAM));
	ck_assert(!kind_ok(lst, ISOL8_FD_STREAM));
	ck_assert(kind_ok(lst, ISOL8_FD_LISTEN_TCP));
	ck_assert(!kind_ok(st[0], ISOL8_FD_LISTEN_TCP));

	ck_assert(!kind_ok(pp[0], ISOL8_FD_UNSET));
	ck_assert(!kind_ok(pp[0], (enum isol8_fd_kind)200));
	ck_assert_int_eq(isol8_fd_check(opath, ISOL8_FD_PIPE_R, &err), -1);
	ck_assert_str_eq(err.msg, "expected a pipe read end, got an O_PATH descriptor");
	ck_assert_int_eq(isol8_fd_check(proc, ISOL8_FD_PIPE_R, &err), -1);
	ck_assert_str_eq(err.msg, "expected a pipe read end, got a directory (read-only)");

	{
		const int all[] = {pp[0], pp[1], sp[0], sp[1],  st[0], st[1], dir,
				   opath, proc,  mfd,   sealed, file,  nfifo, lst};
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			close(all[i]);
	}
}
END_TEST

START_TEST(test_free_zeroed)
{
	struct isol8_msg m;
	bool open0 = fd_is_open(0);

	memset(&m, 0, sizeof m);
	isol8_msg_free(&m);
	isol8_msg_free(&m);
	ck_assert(fd_is_open(0) == open0); /* fds[] of a zeroed message are 0, not owned */
	ck_assert_int_eq(isol8_msg_take_fd(&m, 0), -1);
}
END_TEST

static Suite *ipc_suite(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_round_trip, 0, 4);
	tcase_add_test(tc, test_empty_payload);
	tcase_add_test(tc, test_max_payload);
	tcase_add_test(tc, test_send_too_many_fds);
	tcase_add_test(tc, test_send_bad_fd);
	tcase_add_test(tc, test_recv_oversized_header_len);
	tcase_add_test(tc, test_recv_oversized_frame);
	tcase_add_test(tc, test_recv_truncated_payload);
	tcase_add_test(tc, test_recv_trailing_payload);
	tcase_add_test(tc, test_recv_short_header);
	tcase_add_test(tc, test_recv_bad_magic);
	tcase_add_test(tc, test_recv_bad_version);
	tcase_add_test(tc, test_recv_reserved);
	tcase_add_test(tc, test_recv_nfds_mismatch);
	tcase_add_test(tc, test_recv_too_many_fds);
	tcase_add_test(tc, test_recv_credentials_refused);
	tcase_add_test(tc, test_recv_eof);
	tcase_add_test(tc, test_recv_reply_before_reset);
	tcase_add_test(tc, test_broker_send_after_refusal);
	tcase_add_test(tc, test_broker_send_closed_without_reply);
	tcase_add_test(tc, test_recv_nonblock_eagain);
	tcase_add_test(tc, test_recv_then_valid);
	tcase_add_test(tc, test_get_str_nul);
	tcase_add_test(tc, test_get_str_limits);
	tcase_add_test(tc, test_msg_end_trailing);
	tcase_add_test(tc, test_getters_past_end);
	tcase_add_test(tc, test_fd_kinds);
	tcase_add_test(tc, test_free_zeroed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ipc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
