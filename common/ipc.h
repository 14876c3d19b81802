/* One IPC framing for every isol8 socket (frontends <-> broker <-> workers).
 *
 * Transport: AF_UNIX SOCK_SEQPACKET | SOCK_CLOEXEC. One sendmsg() is one message, so passed fds
 * are tied to the message that carries them and a short read is detectable.
 *
 * Header (20 bytes, little-endian), then `len` payload bytes:
 *   magic u16 (0x3849, "I8") | version u8 (1) | type u8 | flags u16 | nfds u16 |
 *   len u32 | request_id u32 | reserved u32 (must be 0)
 * Caps: payload <= ISOL8_IPC_MAX_PAYLOAD, nfds <= ISOL8_IPC_MAX_FDS. Documented in
 * man/isol8-protocol.7.
 *
 * Payload encoding (cursor, OpenSMTPD m_get_* / m_end style): u8, u16, u32, u64 little-endian;
 * str = u32 length + bytes, no NUL inside, not terminated on the wire; bytes = u32 length + bytes.
 * A reader must consume the whole payload: isol8_msg_end() fails on trailing bytes. */
#ifndef ISOL8_IPC_H
#define ISOL8_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define ISOL8_IPC_MAGIC 0x3849u
#define ISOL8_IPC_VERSION 1u
#define ISOL8_IPC_HDR_LEN 20u
#define ISOL8_IPC_MAX_PAYLOAD (64u * 1024u)
#define ISOL8_IPC_MAX_FDS 3u

struct isol8_msg {
	uint8_t type;
	uint16_t flags;
	uint32_t request_id;
	uint8_t *payload; /* owned, len bytes (+1 NUL guard byte, not part of payload) */
	uint32_t len;
	int fds[ISOL8_IPC_MAX_FDS]; /* owned; -1 when absent or taken */
	unsigned nfds;
	uint32_t pos; /* read cursor into payload */
};

/* Create a SOCK_SEQPACKET|SOCK_CLOEXEC socketpair. */
int isol8_ipc_socketpair(int sv[2], struct isol8_err *err);

/* Send one message. fds are dup()ed before sending and the duplicates closed after a
 * successful (or failed) send, so the caller keeps ownership of its own fds. Retries EINTR;
 * MSG_NOSIGNAL (a vanished peer is an error, not SIGPIPE). */
int isol8_ipc_send(int sock, uint8_t type, uint32_t request_id, const void *payload, size_t len, const int *fds,
		   unsigned nfds, struct isol8_err *err);
/* isol8_ipc_send that never waits (MSG_DONTWAIT): when the peer's queue is full nothing is
 * sent and it fails with err->errnum EAGAIN. For a sender that must not stall on a peer that
 * stops reading (the broker's main loop: broker/outq.h). */
int isol8_ipc_trysend(int sock, uint8_t type, uint32_t request_id, const void *payload, size_t len, const int *fds,
		      unsigned nfds, struct isol8_err *err);
int isol8_ipc_send_buf(int sock, uint8_t type, uint32_t request_id, const struct isol8_buf *payload, const int *fds,
		       unsigned nfds, struct isol8_err *err);

/* Receive one message into *m (initialised here). Returns 1 for a message, 0 for orderly EOF,
 * -1 on error with ISOL8_E_PROTO for any malformed frame: bad magic/version/reserved,
 * MSG_TRUNC/MSG_CTRUNC, len mismatch, nfds in header != fds received, non-SCM_RIGHTS control
 * data. On any error every received fd is closed. Uses MSG_CMSG_CLOEXEC. Retries EINTR.
 * With nonblock, returns -1 with errno-code EAGAIN (err->errnum) when nothing is queued. */
int isol8_ipc_recv(int sock, struct isol8_msg *m, struct isol8_err *err);

/* The pure part of isol8_ipc_recv (also the fuzz target): validate one received frame of n
 * bytes that arrived with nfds_received fds and fill *m (type, flags, request_id, a payload
 * copy, len). Does not touch fds: on success m->nfds == 0 and the caller stores the fds. A frame
 * refused after its header arrived whole leaves m->type and m->request_id set (nothing to free). */
int isol8_ipc_parse_frame(const uint8_t *frame, size_t n, unsigned nfds_received, struct isol8_msg *m,
			  struct isol8_err *err);

/* Close any fds still held and free the payload. Safe on a zeroed or freed message. */
void isol8_msg_free(struct isol8_msg *m);
/* Take ownership of fd i (returns -1 if absent). */
int isol8_msg_take_fd(struct isol8_msg *m, unsigned i);

/* Payload builder (appends to a buf). */
void isol8_put_u8(struct isol8_buf *b, uint8_t v);
void isol8_put_u16(struct isol8_buf *b, uint16_t v);
void isol8_put_u32(struct isol8_buf *b, uint32_t v);
void isol8_put_u64(struct isol8_buf *b, uint64_t v);
void isol8_put_str(struct isol8_buf *b, const char *s); /* NULL is sent as "" */
void isol8_put_bytes(struct isol8_buf *b, const void *p, size_t n);

/* Cursor readers. All return 0 or -1 with ISOL8_E_PROTO naming what was short or bad. */
int isol8_get_u8(struct isol8_msg *m, uint8_t *v, struct isol8_err *err);
int isol8_get_u16(struct isol8_msg *m, uint16_t *v, struct isol8_err *err);
int isol8_get_u32(struct isol8_msg *m, uint32_t *v, struct isol8_err *err);
int isol8_get_u64(struct isol8_msg *m, uint64_t *v, struct isol8_err *err);
/* String of at most maxlen bytes, no NUL inside; *out is a fresh NUL-terminated copy (caller
 * frees). */
int isol8_get_str(struct isol8_msg *m, char **out, size_t maxlen, struct isol8_err *err);
/* Bytes of at most maxlen; *out points INTO the payload (valid while m lives). */
int isol8_get_bytes(struct isol8_msg *m, const uint8_t **out, uint32_t *len, uint32_t maxlen, struct isol8_err *err);
/* Fails when unread bytes remain. */
int isol8_msg_end(struct isol8_msg *m, struct isol8_err *err);

/* What a passed fd must be. A receiver that hands an fd on (into a sandbox, to Docker) must
 * know exactly what it is: a client's O_PATH or directory fd passed off as "stdin" gave a
 * sandbox the host's procfs. Every fd slot of every message type names its kind;
 * ISOL8_FD_UNSET is refused, so a table row that forgets one fails closed. */
enum isol8_fd_kind {
	ISOL8_FD_UNSET = 0,
	ISOL8_FD_PIPE_R,     /* anonymous pipe (pipefs), read end only */
	ISOL8_FD_PIPE_W,     /* anonymous pipe (pipefs), write end only */
	ISOL8_FD_OUTPUT,     /* written to, never handed on: pipe, file, character device or
	                        socket opened for writing (a client's own stdout/stderr) */
	ISOL8_FD_MEMFD,      /* memfd sealed against write, grow and shrink: its size and bytes
	                        are fixed, so reading it cannot block or change under the reader */
	ISOL8_FD_SEQPACKET,  /* AF_UNIX SOCK_SEQPACKET socket (an isol8 connection) */
	ISOL8_FD_STREAM,     /* connected AF_UNIX or TCP stream socket */
	ISOL8_FD_LISTEN_TCP, /* listening TCP socket */
	ISOL8_FD_SOCKET,     /* connected socket: AF_UNIX stream or seqpacket, or TCP */
	ISOL8_FD__MAX
};

/* 0 when fd is of that kind, else -1 with ISOL8_E_PROTO saying what it is instead. */
int isol8_fd_check(int fd, enum isol8_fd_kind kind, struct isol8_err *err);
const char *isol8_fd_kind_name(enum isol8_fd_kind kind);

/* Seal a memfd so that it passes ISOL8_FD_MEMFD (the sender's side). */
int isol8_memfd_seal(int fd, struct isol8_err *err);

#endif
