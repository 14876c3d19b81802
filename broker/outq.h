/* A bounded queue of messages for one child's channel, so that the broker's main loop never
 * waits on a child that stops reading (OpenBSD's msgbuf idea). A message the kernel does not
 * take at once (MSG_DONTWAIT) waits here, with duplicates of its fds that the queue owns and
 * closes once the message is sent or dropped; the loop polls the channel for POLLOUT while
 * something waits. A child whose oldest message waits too long, or whose queue fills, is
 * wedged: the caller kills it (workers.c). Not locked: the caller serialises. */
#ifndef ISOL8_BROKER_OUTQ_H
#define ISOL8_BROKER_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* A worker that reads its channel drains it in microseconds: the kernel's own queue (10
 * messages, net.unix.max_dgram_qlen) plus this many more means it has stopped. */
#define OUTQ_MAX_MSGS 64u
#define OUTQ_MAX_BYTES (2u << 20)

struct outq_msg;

struct outq {
	struct outq_msg *head, *tail;
	unsigned n;
	size_t bytes;
};

/* Send now when nothing waits and the kernel takes it; else queue a copy (payload copied, fds
 * duplicated: the caller keeps its own either way). Returns 0 (sent or queued), or -1 with
 * ISOL8_E_LIMIT when the queue is full (nothing queued) or the channel's error. */
int outq_send(struct outq *q, int sock, uint8_t type, uint32_t req, const void *data, size_t len, const int *fds,
	      unsigned nfds, uint64_t now_ms, struct isol8_err *err);
/* Send what waits, oldest first, until the kernel refuses one. Returns 1 when something still
 * waits, 0 when the queue is empty, -1 on a channel error (what waits stays queued). */
int outq_flush(struct outq *q, int sock, struct isol8_err *err);
static inline bool outq_pending(const struct outq *q)
{
	return q->n > 0;
}
/* How long the oldest waiting message has waited; 0 when nothing waits. */
uint64_t outq_wait_ms(const struct outq *q, uint64_t now_ms);
/* Drop everything, closing the fds the queue holds. */
void outq_clear(struct outq *q);

#endif
