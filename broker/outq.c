/* The bounded outgoing queue of a child's channel (outq.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "broker/outq.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/xalloc.h"

struct outq_msg {
	struct outq_msg *next;
	uint8_t type;
	uint32_t req;
	uint8_t *data;
	size_t len;
	int fds[ISOL8_IPC_MAX_FDS];
	unsigned nfds;
	uint64_t queued_ms;
};

static void msg_free(struct outq_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		xclose(m->fds[i]);
	free(m->data);
	free(m);
}

static bool would_block(const struct isol8_err *err)
{
	return err->errnum == EAGAIN || err->errnum == EWOULDBLOCK;
}

static int enqueue(struct outq *q, uint8_t type, uint32_t req, const void *data, size_t len, const int *fds,
		   unsigned nfds, uint64_t now_ms, struct isol8_err *err)
{
	struct outq_msg *m;

	if (q->n >= OUTQ_MAX_MSGS || q->bytes + len > OUTQ_MAX_BYTES)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "%u messages (%zu bytes) already wait to be read", q->n,
				     q->bytes);
	if (nfds > ISOL8_IPC_MAX_FDS)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "send message type %u: %u fds exceeds %u", type, nfds,
				     ISOL8_IPC_MAX_FDS);
	m = xcalloc(1, sizeof *m);
	m->type = type;
	m->req = req;
	m->queued_ms = now_ms;
	if (len) {
		m->data = xmalloc(len);
		memcpy(m->data, data, len);
		m->len = len;
	}
	for (unsigned i = 0; i < nfds; i++) {
		m->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (m->fds[i] < 0) {
			int e = errno;
			msg_free(m);
			return isol8_err_set(err, ISOL8_E_IO, e, "queue message type %u: dup fd %d", type, fds[i]);
		}
		m->nfds++;
	}
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->n++;
	q->bytes += len;
	return 0;
}

int outq_send(struct outq *q, int sock, uint8_t type, uint32_t req, const void *data, size_t len, const int *fds,
	      unsigned nfds, uint64_t now_ms, struct isol8_err *err)
{
	/* Order is kept: nothing overtakes a message that waits. */
	if (!q->n) {
		if (isol8_ipc_trysend(sock, type, req, data, len, fds, nfds, err) == 0)
			return 0;
		if (!would_block(err))
			return -1;
		*err = (struct isol8_err)ISOL8_ERR_INIT;
	}
	return enqueue(q, type, req, data, len, fds, nfds, now_ms, err);
}

int outq_flush(struct outq *q, int sock, struct isol8_err *err)
{
	while (q->head) {
		struct outq_msg *m = q->head;

		if (isol8_ipc_trysend(sock, m->type, m->req, m->data, m->len, m->fds, m->nfds, err) < 0) {
			if (!would_block(err))
				return -1;
			*err = (struct isol8_err)ISOL8_ERR_INIT;
			return 1;
		}
		q->head = m->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
		q->bytes -= m->len;
		msg_free(m);
	}
	return 0;
}

uint64_t outq_wait_ms(const struct outq *q, uint64_t now_ms)
{
	if (!q->head || now_ms < q->head->queued_ms)
		return 0;
	return now_ms - q->head->queued_ms;
}

void outq_clear(struct outq *q)
{
	while (q->head) {
		struct outq_msg *m = q->head;
		q->head = m->next;
		msg_free(m);
	}
	*q = (struct outq){0};
}
