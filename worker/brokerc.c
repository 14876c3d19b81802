/* Verb calls from worker threads to the broker over the one channel. Each call gets a
 * request id; the channel reader (main thread) hands replies to the waiting thread. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "worker/worker.h"

struct waiter {
	uint32_t id;
	bool done;
	struct isol8_msg m;
	struct waiter *next;
};

/* A verb answer that has not come in this long never will (a reply dropped because its fd
 * could not be received, a broker stuck on Docker): the caller gets an error, not a thread
 * pinned forever. Docker's slowest verb here (create + start under load) takes seconds. */
#define VERB_REPLY_TIMEOUT_MS 120000

static unsigned reply_timeout_ms = VERB_REPLY_TIMEOUT_MS;
static int chan = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *waiters;
static uint32_t next_id = 1;
static bool broken;

void brokerc_set_timeout_ms(unsigned ms)
{
	reply_timeout_ms = ms;
}

int brokerc_init(int fd)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	pthread_condattr_destroy(&ca);
	chan = fd;
	return 0;
}

static void unlink_waiter(struct waiter *w)
{
	for (struct waiter **pp = &waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

static int send_locked(uint8_t type, uint32_t id, const struct isol8_buf *p, const int *fds, unsigned nfds,
		       struct isol8_err *err)
{
	int r;
	pthread_mutex_lock(&send_lock);
	r = isol8_ipc_send(chan, type, id, p ? p->data : NULL, p ? p->len : 0, fds, nfds, err);
	pthread_mutex_unlock(&send_lock);
	return r;
}

int brokerc_call(uint8_t type, const struct isol8_buf *payload, const int *fds, unsigned nfds, struct isol8_msg *reply,
		 struct isol8_err *err)
{
	struct waiter w = {0};
	struct timespec until;

	pthread_mutex_lock(&lock);
	if (broken) {
		pthread_mutex_unlock(&lock);
		return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "broker connection lost");
	}
	w.id = next_id++;
	if (next_id == 0)
		next_id = 1;
	w.next = waiters;
	waiters = &w;
	pthread_mutex_unlock(&lock);

	if (send_locked(type, w.id, payload, fds, nfds, err) < 0) {
		pthread_mutex_lock(&lock);
		unlink_waiter(&w);
		pthread_mutex_unlock(&lock);
		return isol8_err_wrap(err, "send to broker");
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += reply_timeout_ms / 1000;
	until.tv_nsec += (long)(reply_timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	while (!w.done)
		if (pthread_cond_timedwait(&cond, &lock, &until) == ETIMEDOUT && !w.done) {
			/* A late reply finds no waiter and is dropped, fds closed (brokerc_deliver). */
			unlink_waiter(&w);
			pthread_mutex_unlock(&lock);
			return isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "isol8d did not answer request %u within %u ms",
					     type, reply_timeout_ms);
		}
	pthread_mutex_unlock(&lock);

	if (w.m.type == BR_REPLY_ERR || w.m.type == 0) {
		uint16_t code = ISOL8_E_UNAVAIL;
		char *msg = NULL;
		struct isol8_err perr = ISOL8_ERR_INIT;
		if (w.m.type == BR_REPLY_ERR && isol8_get_u16(&w.m, &code, &perr) == 0 &&
		    isol8_get_str(&w.m, &msg, ISOL8_MAX_ERROR_MSG, &perr) == 0 && code < ISOL8_E__MAX)
			isol8_err_set(err, code, 0, "%s", msg);
		else
			isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "broker connection lost");
		free(msg);
		isol8_msg_free(&w.m);
		return -1;
	}
	*reply = w.m;
	return 0;
}

void brokerc_send_noreply(uint8_t type, const struct isol8_buf *payload)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	send_locked(type, 0, payload, NULL, 0, &err);
}

void brokerc_deliver(struct isol8_msg *m)
{
	struct waiter **pp;

	pthread_mutex_lock(&lock);
	for (pp = &waiters; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == m->request_id) {
			struct waiter *w = *pp;
			*pp = w->next;
			w->m = *m;
			w->done = true;
			memset(m, 0, sizeof *m);
			pthread_cond_broadcast(&cond);
			pthread_mutex_unlock(&lock);
			return;
		}
	}
	pthread_mutex_unlock(&lock);
	/* A reply nobody waits for (should not happen): drop it and its fds. */
	isol8_msg_free(m);
}

void brokerc_fail_all(void)
{
	pthread_mutex_lock(&lock);
	broken = true;
	while (waiters) {
		struct waiter *w = waiters;
		waiters = w->next;
		memset(&w->m, 0, sizeof w->m);
		w->done = true;
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}
