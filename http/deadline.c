/* The header-read deadline of `isol8 serve` (contract and reasons in deadline.h). */
#include "config.h"
#include "http/deadline.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xalloc.h"

#define TICK_MS 250u
/* A connection beyond its address's limit must show a complete request head by then (a real
 * client sent it with the connection); a slow one is gone within a tick after. */
#define OVER_LIMIT_MS 500u

struct http_conn_slot {
	struct http_conn_slot *prev, *next;
	int fd;
	uint64_t deadline_ms; /* 0: none (a request is being handled, or exempt) */
	bool exempt;
	bool over; /* opened beyond the per-address limit */
	unsigned char addr[16];
	size_t addr_len; /* 0: unknown address (not counted) */
};

/* The client's address without its port: what the per-address limit counts. */
static void slot_addr(struct http_conn_slot *s, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET) {
		memcpy(s->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		s->addr_len = 4;
	} else if (sa && sa->sa_family == AF_INET6) {
		memcpy(s->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		s->addr_len = 16;
	}
}

/* Under lock. */
static unsigned count_addr(const struct http_deadlines *d, const struct http_conn_slot *s)
{
	unsigned n = 0;

	for (const struct http_conn_slot *o = d->head; o; o = o->next)
		if (o->addr_len == s->addr_len && memcmp(o->addr, s->addr, s->addr_len) == 0 && !o->over)
			n++;
	return n;
}

/* Every expired connection is shut down, once. Safe against fd reuse: MHD sends
 * MHD_CONNECTION_NOTIFY_CLOSED (which unlinks the slot under the lock) before it closes the
 * socket, so a linked slot's fd is still that connection's. */
static void *timer_main(void *arg)
{
	struct http_deadlines *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		struct timespec ts;
		uint64_t now = clock_mono_ms();

		for (struct http_conn_slot *s = d->head; s; s = s->next) {
			if (!s->deadline_ms || s->deadline_ms > now)
				continue;
			s->deadline_ms = 0;
			log_debug("http: request headers not complete after %llu ms; closing the connection",
				  (unsigned long long)d->timeout_ms);
			shutdown(s->fd, SHUT_RDWR);
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&d->wake, &d->lock, &ts);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int http_deadlines_start(struct http_deadlines *d, unsigned timeout_s, unsigned per_addr, struct isol8_err *err)
{
	pthread_condattr_t ca;
	int r;

	d->timeout_ms = (uint64_t)timeout_s * 1000u;
	d->per_addr = per_addr;
	d->head = NULL;
	d->stop = false;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&d->timer, NULL, timer_main, d);
	if (r != 0) {
		pthread_cond_destroy(&d->wake);
		pthread_mutex_destroy(&d->lock);
		return isol8_err_set(err, ISOL8_E_INTERNAL, r, "start the header deadline thread");
	}
	d->running = true;
	return 0;
}

void http_deadlines_stop(struct http_deadlines *d)
{
	if (!d->running)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->timer, NULL);
	d->running = false;
	while (d->head) {
		struct http_conn_slot *s = d->head;
		d->head = s->next;
		free(s);
	}
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
}

void http_deadlines_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			   enum MHD_ConnectionNotificationCode code)
{
	struct http_deadlines *d = cls;
	struct http_conn_slot *s = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (!ci)
			return; /* nothing to cut; the idle timeout still applies */
		s = xcalloc(1, sizeof *s);
		s->fd = ci->connect_fd;
		slot_addr(s, c);
		pthread_mutex_lock(&d->lock);
		s->over = d->per_addr && s->addr_len && count_addr(d, s) >= d->per_addr;
		s->deadline_ms = clock_mono_ms() + (s->over ? OVER_LIMIT_MS : d->timeout_ms);
		s->next = d->head;
		if (d->head)
			d->head->prev = s;
		d->head = s;
		pthread_mutex_unlock(&d->lock);
		*socket_context = s;
		return;
	}
	if (!s)
		return;
	pthread_mutex_lock(&d->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		d->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&d->lock);
	free(s);
	*socket_context = NULL;
}

static struct http_conn_slot *slot_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void http_deadline_disarm(struct http_deadlines *d, struct MHD_Connection *c)
{
	struct http_conn_slot *s = slot_of(c);

	if (!s)
		return;
	pthread_mutex_lock(&d->lock);
	s->deadline_ms = 0;
	pthread_mutex_unlock(&d->lock);
}

void http_deadline_rearm(struct http_deadlines *d, struct MHD_Connection *c)
{
	struct http_conn_slot *s = slot_of(c);

	if (!s)
		return;
	pthread_mutex_lock(&d->lock);
	if (!s->exempt)
		s->deadline_ms = clock_mono_ms() + d->timeout_ms;
	pthread_mutex_unlock(&d->lock);
}

bool http_conn_over_limit(struct http_deadlines *d, struct MHD_Connection *c)
{
	struct http_conn_slot *s = slot_of(c);
	bool over;

	if (!s)
		return false;
	pthread_mutex_lock(&d->lock);
	over = s->over;
	pthread_mutex_unlock(&d->lock);
	return over;
}

void http_deadline_exempt(struct http_deadlines *d, struct MHD_Connection *c)
{
	struct http_conn_slot *s = slot_of(c);

	if (!s)
		return;
	pthread_mutex_lock(&d->lock);
	s->exempt = true;
	s->deadline_ms = 0;
	pthread_mutex_unlock(&d->lock);
}
