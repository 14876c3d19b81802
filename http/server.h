/* `isol8 serve`: the HTTP frontend (libmicrohttpd, one thread per connection). Every request is
 * forwarded to isol8d over the broker socket exactly as the CLI does; this process never
 * touches Docker. Routes and error statuses are documented in cmd_serve.c's help text and in
 * translate.h. */
#ifndef ISOL8_FRONTEND_HTTP_SERVER_H
#define ISOL8_FRONTEND_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "http/keys.h"

#define HTTP_DEFAULT_MAX_BODY (10u * 1024u * 1024u)
#define HTTP_VERSION_STRING "0.1.0"
#define HTTP_KEEPALIVE_MS 15000u
#define HTTP_HEADER_TIMEOUT_S 10u

/* GET /metrics: who may scrape (isol8 serve --metrics; auto is decided at start). */
enum http_metrics_mode { HTTP_METRICS_KEY = 0, HTTP_METRICS_OPEN, HTTP_METRICS_OFF };

struct http_server_conf {
	int listen_fd;           /* bound and listening; owned by the server once started */
	const char *socket_path; /* isol8d socket (for messages; the connector connects to it) */
	int broker_link;         /* the broker connector's link (connector.h) */
	struct http_keys keys;
	bool key_principals; /* FE_HELLO_KEY (act for "key:<name>") instead of FE_HELLO */
	size_t max_body;
	unsigned max_connections;
	unsigned per_ip_connections;
	unsigned max_inflight;     /* concurrent runs; more get 429 */
	unsigned timeout_s;        /* idle connection timeout */
	unsigned header_timeout_s; /* a request's headers must be complete this long after it began */
	unsigned grace_s;          /* shutdown: wait this long for in-flight requests */
	unsigned keepalive_ms;     /* SSE comment after this much silence */
	const char *tls_cert;      /* PEM text (not a path), or NULL for plain HTTP */
	const char *tls_key;
	const char *node_id; /* X-Isol8-Node on every answer (--node-id, else the host name) */
	const char *openapi; /* GET /openapi.json (docs/openapi.json), NULL: 404 */
	enum http_metrics_mode metrics;
	size_t openapi_len;
};

struct http_server;

/* Start the daemon on conf->listen_fd. conf must outlive the server. */
struct http_server *http_server_start(struct http_server_conf *conf, struct isol8_err *err);
/* Stop accepting, wait up to grace_s for in-flight requests, then stop. Returns the number of
 * requests still running when the grace period ran out (they are cut off). */
unsigned http_server_stop(struct http_server *s);

/* Open a broker connection for a request authenticated with key (see key_principals). */
int http_broker_open(const struct http_server_conf *conf, uint8_t op, const char *session, const struct http_key *key,
		     struct isol8_err *err);

/* Set once shutdown's grace period is over: streams end at their next wake-up. */
extern volatile int http_hard_stop;

/* seccomp.c: the server's own filter, loaded before libmicrohttpd starts a thread (EPERM by
 * default; no socket or connect; exec, ptrace, mount, namespaces and the like kill). */
int http_seccomp_load(struct isol8_err *err);
/* The broker connector's filter: AF_UNIX socket + connect, no open, no signals. */
int http_connector_seccomp_load(struct isol8_err *err);

#endif
