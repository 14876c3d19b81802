/* IPC framing on SOCK_SEQPACKET with SCM_RIGHTS fd passing. Contract in common/ipc.h,
 * wire format in man/isol8-protocol.7.
 *
 * The receive path trusts nothing in the frame: every check that fails closes every fd the
 * kernel installed for that message, so a hostile peer cannot make us leak descriptors by
 * sending them on a malformed or unexpected message (skalibs/imsg, not crun). */
#include "config.h"
#include "common/ipc.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Enough control space for the cap plus slack, so a peer sending a few more fds than allowed
 * is reported as "too many fds" rather than only as MSG_CTRUNC; either way all are closed. */
#define CMSG_FD_SLOTS (ISOL8_IPC_MAX_FDS + 4u)

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fds[i] = xclose(fds[i]);
}

static void msg_init(struct isol8_msg *m)
{
	memset(m, 0, sizeof *m);
	for (unsigned i = 0; i < ISOL8_IPC_MAX_FDS; i++)
		m->fds[i] = -1;
}

int isol8_ipc_socketpair(int sv[2], struct isol8_err *err)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "socketpair");
	return 0;
}

static int send_flags(int sock, int flags, uint8_t type, uint32_t request_id, const void *payload, size_t len,
		      const int *fds, unsigned nfds, struct isol8_err *err)
{
	uint8_t hdr[ISOL8_IPC_HDR_LEN];
	int dups[ISOL8_IPC_MAX_FDS] = {-1, -1, -1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * ISOL8_IPC_MAX_FDS)];
	} cbuf;
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t r;
	int ret = -1;

	if (len > ISOL8_IPC_MAX_PAYLOAD)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "send message type %u: payload %zu bytes exceeds %u", type,
				     len, ISOL8_IPC_MAX_PAYLOAD);
	if (nfds > ISOL8_IPC_MAX_FDS)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "send message type %u: %u fds exceeds %u", type, nfds,
				     ISOL8_IPC_MAX_FDS);
	if (len && !payload)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "send message type %u: NULL payload", type);

	wr16(hdr, ISOL8_IPC_MAGIC);
	hdr[2] = ISOL8_IPC_VERSION;
	hdr[3] = type;
	wr16(hdr + 4, 0);
	wr16(hdr + 6, (uint16_t)nfds);
	wr32(hdr + 8, (uint32_t)len);
	wr32(hdr + 12, request_id);
	wr32(hdr + 16, 0);

	memset(&mh, 0, sizeof mh);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	mh.msg_iov = iov;
	mh.msg_iovlen = len ? 2 : 1;

	if (nfds) {
		struct cmsghdr *c;

		/* Send duplicates (tmux client.c): the caller's fds stay valid and owned by it
		 * whatever happens here. */
		for (unsigned i = 0; i < nfds; i++) {
			dups[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (dups[i] < 0) {
				isol8_err_set(err, ISOL8_E_IO, errno, "send message type %u: dup fd %d", type, fds[i]);
				goto out;
			}
		}
		memset(&cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), dups, sizeof(int) * nfds);
	}

	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "send message type %u", type);
		goto out;
	}
	if ((size_t)r != sizeof hdr + len) {
		/* Cannot happen on SEQPACKET; guard anyway rather than desynchronise. */
		isol8_err_set(err, ISOL8_E_IO, 0, "send message type %u: short send %zd", type, r);
		goto out;
	}
	ret = 0;
out:
	close_fds(dups, ISOL8_IPC_MAX_FDS);
	return ret;
}

int isol8_ipc_send(int sock, uint8_t type, uint32_t request_id, const void *payload, size_t len, const int *fds,
		   unsigned nfds, struct isol8_err *err)
{
	return send_flags(sock, 0, type, request_id, payload, len, fds, nfds, err);
}

int isol8_ipc_trysend(int sock, uint8_t type, uint32_t request_id, const void *payload, size_t len, const int *fds,
		      unsigned nfds, struct isol8_err *err)
{
	return send_flags(sock, MSG_DONTWAIT, type, request_id, payload, len, fds, nfds, err);
}

int isol8_ipc_send_buf(int sock, uint8_t type, uint32_t request_id, const struct isol8_buf *payload, const int *fds,
		       unsigned nfds, struct isol8_err *err)
{
	if (!payload)
		return isol8_ipc_send(sock, type, request_id, NULL, 0, fds, nfds, err);
	return isol8_ipc_send(sock, type, request_id, payload->data, payload->len, fds, nfds, err);
}

int isol8_ipc_parse_frame(const uint8_t *frame, size_t n, unsigned nfds_received, struct isol8_msg *m,
			  struct isol8_err *err)
{
	uint16_t magic, hnfds;
	uint32_t len, reserved;

	msg_init(m);
	if (n < ISOL8_IPC_HDR_LEN)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "short frame: %zu bytes, header is %u", n,
				     ISOL8_IPC_HDR_LEN);
	/* Set before the checks, so that an error reply can name the request it refuses. */
	m->type = frame[3];
	m->request_id = rd32(frame + 12);
	magic = rd16(frame);
	if (magic != ISOL8_IPC_MAGIC)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "bad magic 0x%04x", magic);
	if (frame[2] != ISOL8_IPC_VERSION)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unsupported protocol version %u (want %u)", frame[2],
				     ISOL8_IPC_VERSION);
	hnfds = rd16(frame + 6);
	len = rd32(frame + 8);
	reserved = rd32(frame + 16);
	if (reserved != 0)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "reserved header field is 0x%08x, must be 0", reserved);
	if (len > ISOL8_IPC_MAX_PAYLOAD)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "payload length %u exceeds %u", len, ISOL8_IPC_MAX_PAYLOAD);
	if ((size_t)len != n - ISOL8_IPC_HDR_LEN)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "payload length %u but %zu bytes received", len,
				     n - ISOL8_IPC_HDR_LEN);
	if (hnfds > ISOL8_IPC_MAX_FDS)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "header announces %u fds, max %u", hnfds,
				     ISOL8_IPC_MAX_FDS);
	if (hnfds != nfds_received)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "header announces %u fds, %u received", hnfds,
				     nfds_received);

	m->type = frame[3];
	m->flags = rd16(frame + 4);
	m->request_id = rd32(frame + 12);
	m->len = len;
	/* The guard byte lets text-minded readers never run off the end; it is not payload. */
	m->payload = xmalloc((size_t)len + 1);
	if (len)
		memcpy(m->payload, frame + ISOL8_IPC_HDR_LEN, len);
	m->payload[len] = '\0';
	return 0;
}

/* Collect SCM_RIGHTS fds from every control message. Returns the number of fds stored in
 * fds[] (all installed fds, so the caller can close them), and sets *bad when control data of
 * another kind was present. */
static unsigned collect_fds(struct msghdr *mh, int *fds, unsigned max, bool *bad)
{
	unsigned n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t bytes, cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			*bad = true;
			continue;
		}
		if (c->cmsg_len < CMSG_LEN(0)) {
			*bad = true;
			continue;
		}
		bytes = c->cmsg_len - CMSG_LEN(0);
		cnt = bytes / sizeof(int);
		if (bytes % sizeof(int))
			*bad = true;
		for (size_t i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (n < max)
				fds[n++] = fd;
			else {
				/* More than our control buffer could hold cannot be stored; the kernel
				 * truncates first (MSG_CTRUNC) but close defensively. */
				xclose(fd);
				*bad = true;
			}
		}
	}
	return n;
}

int isol8_ipc_recv(int sock, struct isol8_msg *m, struct isol8_err *err)
{
	_cleanup_free_ uint8_t *frame = NULL;
	int fds[CMSG_FD_SLOTS];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * CMSG_FD_SLOTS)];
	} cbuf;
	struct iovec iov;
	struct msghdr mh;
	unsigned nfds;
	bool bad = false;
	ssize_t r;

	msg_init(m);
	/* One byte more than the largest valid frame: the kernel flags anything bigger with
	 * MSG_TRUNC, and the size checks below catch the rest. */
	frame = xmalloc(ISOL8_IPC_HDR_LEN + ISOL8_IPC_MAX_PAYLOAD + 1);
	memset(&mh, 0, sizeof mh);
	memset(&cbuf, 0, sizeof cbuf);
	iov.iov_base = frame;
	iov.iov_len = ISOL8_IPC_HDR_LEN + ISOL8_IPC_MAX_PAYLOAD + 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof cbuf.buf;

	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	/* A SEQPACKET peer that closes with our messages unread leaves ECONNRESET pending, and
	 * the kernel reports that before the messages it sent us first (a broker's refusal, say);
	 * reporting it clears it, so one more read gets what was queued, or EOF. */
	if (r < 0 && errno == ECONNRESET) {
		mh.msg_controllen = sizeof cbuf.buf;
		mh.msg_flags = 0;
		do
			r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		while (r < 0 && errno == EINTR);
	}
	if (r < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "receive message");

	nfds = collect_fds(&mh, fds, CMSG_FD_SLOTS, &bad);
	if (r == 0 && nfds == 0 && !bad && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return 0; /* orderly EOF (an empty datagram is never a valid frame either) */

	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		close_fds(fds, nfds);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "truncated message (%s)",
				     (mh.msg_flags & MSG_TRUNC) ? "frame larger than maximum"
								: "too many fds or control data");
	}
	if (bad) {
		close_fds(fds, nfds);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unexpected control data (only SCM_RIGHTS accepted)");
	}
	if (nfds > ISOL8_IPC_MAX_FDS) {
		close_fds(fds, nfds);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "%u fds received, max %u", nfds, ISOL8_IPC_MAX_FDS);
	}
	if (isol8_ipc_parse_frame(frame, (size_t)r, nfds, m, err) < 0) {
		close_fds(fds, nfds);
		return -1;
	}
	for (unsigned i = 0; i < nfds; i++)
		m->fds[i] = fds[i];
	m->nfds = nfds;
	return 1;
}

void isol8_msg_free(struct isol8_msg *m)
{
	if (!m)
		return;
	/* Bounded by nfds so a zeroed message (fds all 0) never closes stdin. */
	for (unsigned i = 0; i < m->nfds && i < ISOL8_IPC_MAX_FDS; i++)
		m->fds[i] = xclose(m->fds[i]);
	m->nfds = 0;
	free(m->payload);
	m->payload = NULL;
	m->len = 0;
	m->pos = 0;
}

int isol8_msg_take_fd(struct isol8_msg *m, unsigned i)
{
	if (i >= m->nfds || i >= ISOL8_IPC_MAX_FDS)
		return -1;
	return steal_fd(&m->fds[i]);
}

/* ---- payload builder ---- */

void isol8_put_u8(struct isol8_buf *b, uint8_t v)
{
	isol8_buf_append(b, &v, 1);
}

void isol8_put_u16(struct isol8_buf *b, uint16_t v)
{
	uint8_t p[2];
	wr16(p, v);
	isol8_buf_append(b, p, sizeof p);
}

void isol8_put_u32(struct isol8_buf *b, uint32_t v)
{
	uint8_t p[4];
	wr32(p, v);
	isol8_buf_append(b, p, sizeof p);
}

void isol8_put_u64(struct isol8_buf *b, uint64_t v)
{
	uint8_t p[8];
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
	isol8_buf_append(b, p, sizeof p);
}

void isol8_put_str(struct isol8_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	/* Strings longer than a frame can hold are a caller bug; the send cap will refuse the
	 * message, so truncating the length here would only hide it. */
	isol8_put_u32(b, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
	if (n)
		isol8_buf_append(b, s, n);
}

void isol8_put_bytes(struct isol8_buf *b, const void *p, size_t n)
{
	isol8_put_u32(b, n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
	if (n)
		isol8_buf_append(b, p, n);
}

/* ---- cursor readers ---- */

static uint32_t remaining(const struct isol8_msg *m)
{
	return m->pos <= m->len ? m->len - m->pos : 0;
}

static int need(struct isol8_msg *m, uint32_t n, const char *what, struct isol8_err *err)
{
	if (!m->payload && m->len)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "message has no payload");
	if (remaining(m) < n)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "short message reading %s at offset %u: need %u, have %u",
				     what, m->pos, n, remaining(m));
	return 0;
}

int isol8_get_u8(struct isol8_msg *m, uint8_t *v, struct isol8_err *err)
{
	if (need(m, 1, "u8", err) < 0)
		return -1;
	*v = m->payload[m->pos];
	m->pos += 1;
	return 0;
}

int isol8_get_u16(struct isol8_msg *m, uint16_t *v, struct isol8_err *err)
{
	if (need(m, 2, "u16", err) < 0)
		return -1;
	*v = rd16(m->payload + m->pos);
	m->pos += 2;
	return 0;
}

int isol8_get_u32(struct isol8_msg *m, uint32_t *v, struct isol8_err *err)
{
	if (need(m, 4, "u32", err) < 0)
		return -1;
	*v = rd32(m->payload + m->pos);
	m->pos += 4;
	return 0;
}

int isol8_get_u64(struct isol8_msg *m, uint64_t *v, struct isol8_err *err)
{
	if (need(m, 8, "u64", err) < 0)
		return -1;
	*v = rd64(m->payload + m->pos);
	m->pos += 8;
	return 0;
}

int isol8_get_bytes(struct isol8_msg *m, const uint8_t **out, uint32_t *len, uint32_t maxlen, struct isol8_err *err)
{
	uint32_t start = m->pos, n;

	if (isol8_get_u32(m, &n, err) < 0)
		return -1;
	if (n > maxlen) {
		m->pos = start;
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "bytes field at offset %u: length %u exceeds %u", start, n,
				     maxlen);
	}
	if (need(m, n, "bytes", err) < 0) {
		m->pos = start;
		return -1;
	}
	*out = m->payload + m->pos;
	*len = n;
	m->pos += n;
	return 0;
}

int isol8_get_str(struct isol8_msg *m, char **out, size_t maxlen, struct isol8_err *err)
{
	uint32_t start = m->pos, n;

	if (isol8_get_u32(m, &n, err) < 0)
		return -1;
	if (n > maxlen) {
		m->pos = start;
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "string at offset %u: length %u exceeds %zu", start, n,
				     maxlen);
	}
	if (need(m, n, "string", err) < 0) {
		m->pos = start;
		return -1;
	}
	/* sshbuf_get_cstring: a NUL inside would let "a\0b" pass checks done on "a". */
	if (n && memchr(m->payload + m->pos, '\0', n)) {
		m->pos = start;
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "string at offset %u contains NUL", start);
	}
	*out = xstrndup((const char *)m->payload + m->pos, n);
	m->pos += n;
	return 0;
}

int isol8_msg_end(struct isol8_msg *m, struct isol8_err *err)
{
	if (remaining(m))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "not at message end: %u trailing bytes", remaining(m));
	return 0;
}
