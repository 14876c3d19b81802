/* The header-read deadline of `isol8 serve`: a request whose headers are not complete within
 * timeout_s of the moment it could begin (connection accepted, or the previous request on the
 * connection finished) is cut off, however steadily it trickles bytes.
 *
 * libmicrohttpd's MHD_OPTION_CONNECTION_TIMEOUT is an idle timeout: one byte every 59 s keeps a
 * connection, and its thread, forever (slowloris). MHD has no per-request deadline, so this
 * tracks every connection (MHD_OPTION_NOTIFY_CONNECTION) and a timer thread shuts the socket
 * down when its deadline passes; MHD's connection thread then sees the end of the stream and
 * closes it. The deadline is disarmed when the access handler first sees a request (its
 * headers are complete) and armed again when the request completes. An authenticated
 * WebSocket upgrade is exempt for the connection's life, and a running SSE stream is a request
 * in progress: long-running authenticated streams are never cut.
 *
 * It also holds the per-address connection limit (per_addr), in place of MHD's, which closes
 * the extra connections unanswered (a burst of clients saw resets). A connection beyond the
 * limit gets OVER_LIMIT_MS (500) to complete its headers; if it does, the server answers 429 with
 * Retry-After and closes it (http_conn_over_limit); if not, it is cut like a slow one. One
 * address thus still holds at most per_addr connections past that short grace. */
#ifndef ISOL8_FRONTEND_HTTP_DEADLINE_H
#define ISOL8_FRONTEND_HTTP_DEADLINE_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct http_conn_slot;

struct http_deadlines {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t timer;
	bool running, stop;
	uint64_t timeout_ms;
	unsigned per_addr; /* connections one client address may hold (0: no limit) */
	struct http_conn_slot *head;
};

/* Start the timer thread. Returns 0, or -1 with *err. */
int http_deadlines_start(struct http_deadlines *d, unsigned timeout_s, unsigned per_addr, struct isol8_err *err);
/* Stop the timer thread (after MHD_stop_daemon: no connection is left). */
void http_deadlines_stop(struct http_deadlines *d);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the struct http_deadlines. */
void http_deadlines_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			   enum MHD_ConnectionNotificationCode code);

/* The access handler saw a new request on c: its headers are complete. */
void http_deadline_disarm(struct http_deadlines *d, struct MHD_Connection *c);
/* A request on c completed: the next one's headers must come in time. */
void http_deadline_rearm(struct http_deadlines *d, struct MHD_Connection *c);
/* c was opened beyond its address's limit: answer it 429 and close it. */
bool http_conn_over_limit(struct http_deadlines *d, struct MHD_Connection *c);
/* c carries an authenticated WebSocket from now on: never cut it. */
void http_deadline_exempt(struct http_deadlines *d, struct MHD_Connection *c);

#endif
