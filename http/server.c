/* libmicrohttpd daemon, routing, authentication and request bodies for `isol8 serve`
 * (contract in server.h).
 *
 * Security decisions live here: every route but /health needs a bearer key (compared in
 * constant time, keys.c); bodies are read by the access handler under an explicit byte cap
 * (413), never by MHD_PostProcessor; connection counts, per-IP counts, idle timeouts and the
 * per-connection memory pool are bounded by MHD options, and a request's headers must arrive
 * within a deadline however they trickle (deadline.h); the HTTP/1.1 parser is MHD's. */
#include "config.h"
#include "http/server.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "cli/broker_conn.h"
#include "http/connector.h"
#include "http/deadline.h"
#include "http/reply.h"

volatile int http_hard_stop;

struct http_server {
	struct MHD_Daemon *d;
	struct http_server_conf *conf;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned active;   /* requests between first call and completion */
	unsigned inflight; /* runs holding a slot */
	struct http_deadlines deadlines;
};

enum route {
	R_NONE,
	R_BAD_METHOD,
	R_HEALTH,
	R_OPENAPI,
	R_METRICS,
	R_EXECUTE,
	R_STREAM,
	R_FILE_PUT,
	R_FILE_GET,
	R_SESSIONS,
	R_SESSION_DELETE,
	R_CLEANUP,
	R_AUTH_CREATE,
	R_AUTH_LIST,
	R_AUTH_REVOKE,
	R_AUTH_LOGIN,
	R_WS,
};

struct req {
	enum route route;
	uint64_t t0_ms;
	unsigned status; /* of the response queued, for the access log */
	char method[16];
	char path[128];
	const char *arg;
	const struct http_key *key;
	struct http_key dbkey; /* a key-store token's stand-in (key points here then) */
	char dbhash[65];
	struct isol8_buf body;
	bool too_large;
};

/* The status of the response this thread queued last: MHD calls the request handler and the
 * completion callback of one request on the same thread. */
static __thread unsigned last_status;

enum MHD_Result http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	last_status = status;
	http_response_node(r);
	return MHD_queue_response(c, status, r);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int http_broker_open(const struct http_server_conf *conf, uint8_t op, const char *session, const struct http_key *key,
		     struct isol8_err *err)
{
	if (conf->key_principals && key->dbhash)
		return http_connector_open(conf->broker_link, op, session, HTTP_DBKEY_PREFIX, key->dbhash, err);
	if (conf->key_principals)
		return http_connector_open(conf->broker_link, op, session, key->name, key->id, err);
	return http_connector_open(conf->broker_link, op, session, NULL, NULL, err);
}

enum MHD_Result http_reply_json(struct MHD_Connection *c, unsigned status, json_object *o)
{
	size_t n;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
							     &n);
	struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	json_object_put(o);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* Every "too busy" answer says when to come back (RFC 9110 10.2.3), whichever layer said
	 * it: this server's limit, isol8d's queue, an engine that is down. */
	if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	ret = http_queue(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* 429 and the end of the connection: it holds a thread its address is not entitled to. */
static enum MHD_Result reply_busy_close(struct MHD_Connection *c, const char *msg)
{
	static const char fmt[] = "{\"error\":\"%s\"}";
	char body[256];
	int n = snprintf(body, sizeof body, fmt, msg);
	struct MHD_Response *r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = http_queue(c, MHD_HTTP_TOO_MANY_REQUESTS, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result http_reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	return http_reply_json(c, status, o);
}

enum MHD_Result http_reply_err(struct MHD_Connection *c, const struct isol8_err *err)
{
	unsigned status = (unsigned)isol8_err_http_status(err->code);

	/* A refused key claim means this server is not trusted by isol8d: a setup problem. */
	if (err->code == ISOL8_E_AUTH)
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	if (status >= 500)
		log_warn("request failed: %s", err->msg);
	return http_reply_error(c, status, err->msg[0] ? err->msg : isol8_err_code_name(err->code));
}

int http_inflight_enter(struct http_server *s)
{
	int ok;

	pthread_mutex_lock(&s->lock);
	ok = s->inflight < s->conf->max_inflight;
	if (ok)
		s->inflight++;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void http_inflight_leave(struct http_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->inflight--;
	pthread_mutex_unlock(&s->lock);
}

static enum route route(const char *method, const char *url, const char **arg)
{
	static const struct {
		const char *path;
		const char *method;
		enum route r;
	} tab[] = {
		{"/health", "GET", R_HEALTH},          {"/execute", "POST", R_EXECUTE},
		{"/execute/stream", "POST", R_STREAM}, {"/file", "POST", R_FILE_PUT},
		{"/file", "GET", R_FILE_GET},          {"/sessions", "GET", R_SESSIONS},
		{"/cleanup", "POST", R_CLEANUP},       {"/execute/ws", "GET", R_WS},
		{"/openapi.json", "GET", R_OPENAPI},   {"/metrics", "GET", R_METRICS},
		{"/auth/keys", "POST", R_AUTH_CREATE}, {"/auth/keys", "GET", R_AUTH_LIST},
		{"/auth/login", "POST", R_AUTH_LOGIN},
	};
	bool path_known = false;

	*arg = NULL;
	if (strncmp(url, "/session/", 9) == 0 && url[9] && !strchr(url + 9, '/')) {
		*arg = url + 9;
		return strcmp(method, "DELETE") == 0 ? R_SESSION_DELETE : R_BAD_METHOD;
	}
	if (strncmp(url, "/auth/keys/", 11) == 0 && url[11] && !strchr(url + 11, '/')) {
		*arg = url + 11;
		return strcmp(method, "DELETE") == 0 ? R_AUTH_REVOKE : R_BAD_METHOD;
	}
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		if (strcmp(url, tab[i].path) != 0)
			continue;
		path_known = true;
		if (strcmp(method, tab[i].method) == 0 || (tab[i].r == R_HEALTH && strcmp(method, "HEAD") == 0))
			return tab[i].r;
	}
	return path_known ? R_BAD_METHOD : R_NONE;
}

/* A missing or wrong key is 401 with a Bearer challenge (RFC 6750 3.1), where the original
 * answers a wrong key with 403: 403 is kept for a key that is valid but whose policy refuses the
 * request, so a client can tell "fix the key" from "not allowed". The original's client fails on
 * either. */
static enum MHD_Result unauthorized(struct MHD_Connection *c, const char *challenge, const char *msg)
{
	json_object *o = json_object_new_object();
	size_t n;
	const char *text;
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_object_object_add(o, "error", json_object_new_string(msg));
	text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
	r = MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_MUST_COPY);
	json_object_put(o);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
	ret = http_queue(c, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return ret;
}

/* The API's description is public, like /health: clients fetch it before they have a key. */
static enum MHD_Result openapi(struct MHD_Connection *c, const struct http_server_conf *conf)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!conf->openapi)
		return http_reply_error(c, MHD_HTTP_NOT_FOUND, "OpenAPI description not installed");
	r = MHD_create_response_from_buffer(conf->openapi_len, (void *)conf->openapi, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ret = http_queue(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* The keys file first; else a token of isol8d's key store, which isol8d checks now (HELLO_AUTH)
 * and again on every connection the request opens, so a revoked key fails at once. */
static const struct http_key *authenticate(struct http_server *s, struct MHD_Connection *c, struct req *q,
					   struct isol8_err *err)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const struct http_key *k;
	struct isol8_msg m = {0};
	const char *tok;
	size_t n;
	int fd;

	if (!h || http_bearer_token(h, &tok, &n) < 0)
		return NULL;
	k = http_keys_match(&s->conf->keys, tok, n);
	if (k || !s->conf->key_principals || !http_dbkey_token(tok, n))
		return k;
	http_dbkey_make(&q->dbkey, q->dbhash, tok, n);
	fd = http_broker_open(s->conf, HELLO_AUTH, "", &q->dbkey, err);
	if (fd < 0)
		return NULL;
	if (broker_expect(fd, WK_OK, &m, err) < 0) {
		close(fd);
		return NULL;
	}
	isol8_msg_free(&m);
	close(fd);
	return &q->dbkey;
}

/* First call: route, authenticate and check the announced length before any body is read. */
static enum MHD_Result first_call(struct http_server *s, struct MHD_Connection *c, struct req *q, const char *url,
				  const char *method)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *cl;

	q->route = route(method, url, &q->arg);
	if (q->route == R_NONE)
		return http_reply_error(c, MHD_HTTP_NOT_FOUND, "Not found");
	if (q->route == R_BAD_METHOD)
		return http_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed");
	if (q->route == R_HEALTH)
		return http_handle_health(c, s->conf);
	if (q->route == R_OPENAPI)
		return openapi(c, s->conf);
	if (q->route == R_METRICS && s->conf->metrics == HTTP_METRICS_OFF)
		return http_reply_error(c, MHD_HTTP_NOT_FOUND, "Not found");
	/* Scrapers on the same host need no key (loopback listener, or --metrics open); the
	 * figures name tenants, so anywhere else they need one. Answered once the request ends. */
	if (q->route == R_METRICS && s->conf->metrics == HTTP_METRICS_OPEN)
		return MHD_YES;
	if (!MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))
		return unauthorized(c, "Bearer realm=\"isol8\"", "Missing Authorization header");
	q->key = authenticate(s, c, q, &err);
	if (!q->key && err.code && err.code != ISOL8_E_AUTH)
		return http_reply_error(c, (unsigned)isol8_err_http_status(err.code), err.msg);
	if (!q->key)
		return unauthorized(c, "Bearer realm=\"isol8\", error=\"invalid_token\"", "Invalid API key");
	/* An authenticated WebSocket lives as long as its session; never cut it. */
	if (q->route == R_WS)
		http_deadline_exempt(&s->deadlines, c);
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		unsigned long long v;
		errno = 0;
		v = strtoull(cl, &end, 10);
		if (errno || *end || end == cl || v > s->conf->max_body)
			return http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "Request body too large");
	}
	return MHD_YES;
}

static enum MHD_Result dispatch(struct http_server *s, struct MHD_Connection *c, struct req *q)
{
	struct http_call call = {.srv = s,
				 .conf = s->conf,
				 .conn = c,
				 .key = q->key,
				 .arg = q->arg,
				 .body = q->body.data ? q->body.data : "",
				 .body_len = q->body.len};

	if (q->too_large)
		return http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "Request body too large");
	switch (q->route) {
	case R_EXECUTE:
		return http_handle_execute(&call);
	case R_STREAM:
		return http_handle_stream(&call);
	case R_FILE_PUT:
		return http_handle_file_put(&call);
	case R_FILE_GET:
		return http_handle_file_get(&call);
	case R_SESSIONS:
		return http_handle_sessions(&call);
	case R_SESSION_DELETE:
		return http_handle_session_delete(&call);
	case R_CLEANUP:
		return http_handle_cleanup(&call);
	case R_AUTH_CREATE:
		return http_handle_auth(&call, HTTP_AUTH_CREATE);
	case R_AUTH_LIST:
		return http_handle_auth(&call, HTTP_AUTH_LIST);
	case R_AUTH_REVOKE:
		return http_handle_auth(&call, HTTP_AUTH_REVOKE);
	case R_AUTH_LOGIN:
		return http_handle_auth(&call, HTTP_AUTH_LOGIN);
	case R_WS:
		return http_handle_ws(&call);
	case R_METRICS:
		return http_handle_metrics(&call);
	default:
		return http_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal routing error");
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct req *q = *con_cls;

	(void)version;
	if (!q) {
		/* Beyond its address's limit: an answer (not a reset) that says when to come back. */
		if (http_conn_over_limit(&s->deadlines, c)) {
			http_deadline_disarm(&s->deadlines, c);
			return reply_busy_close(c, "Too many connections from your address; retry later");
		}
		/* Headers complete: the header deadline is met for this request. */
		http_deadline_disarm(&s->deadlines, c);
		enum MHD_Result r;

		q = xcalloc(1, sizeof *q);
		*con_cls = q;
		q->t0_ms = mono_ms();
		snprintf(q->method, sizeof q->method, "%s", method);
		/* MHD passes the path without the query string: nothing secret, nothing long. */
		snprintf(q->path, sizeof q->path, "%s", url);
		pthread_mutex_lock(&s->lock);
		s->active++;
		pthread_mutex_unlock(&s->lock);
		last_status = 0;
		r = first_call(s, c, q, url, method);
		if (last_status)
			q->status = last_status;
		return r;
	}
	if (*upload_size) {
		/* Past the cap the rest is discarded and the answer is 413 once it has been read. */
		if (!q->too_large && q->body.len + *upload_size > s->conf->max_body) {
			q->too_large = true;
			isol8_buf_free(&q->body);
		}
		if (!q->too_large)
			isol8_buf_append(&q->body, upload_data, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	{
		enum MHD_Result r;

		last_status = 0;
		r = dispatch(s, c, q);
		if (last_status)
			q->status = last_status;
		return r;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct req *q = *con_cls;

	/* The next request on this connection must have its headers in time too. */
	http_deadline_rearm(&s->deadlines, c);
	if (!q)
		return;
	/* One line per request: never the key, only its name; the path only, without a query. */
	{
		char ts[32];
		isol8_log_rfc3339_now(ts, sizeof ts);
		/* stderr is the server's log (the journal under isol8d --http); one write per line */
		fprintf(stderr, "%s isol8 serve: access %s %s %u %llums key=%s%s\n", ts, q->method, q->path, q->status,
			(unsigned long long)(mono_ms() - q->t0_ms), q->key ? q->key->name : "-",
			toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (ended early)");
	}
	isol8_buf_free(&q->body);
	free(q);
	*con_cls = NULL;
	pthread_mutex_lock(&s->lock);
	s->active--;
	if (s->active == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("microhttpd: %s", line);
}

struct http_server *http_server_start(struct http_server_conf *conf, struct isol8_err *err)
{
	struct http_server *s = xcalloc(1, sizeof *s);
	unsigned flags;

	s->conf = conf;
	http_node_id = conf->node_id;
	if (http_deadlines_start(&s->deadlines, conf->header_timeout_s ? conf->header_timeout_s : HTTP_HEADER_TIMEOUT_S,
				 conf->per_ip_connections, err) < 0) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
		MHD_ALLOW_UPGRADE;
	if (conf->tls_cert)
		flags |= MHD_USE_TLS;
	/* The TLS options come first in the list: MHD_OPTION_END ends it early without TLS. */
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, conf->listen_fd,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
				http_deadlines_notify, &s->deadlines, MHD_OPTION_CONNECTION_LIMIT,
				conf->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, conf->timeout_s,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_STRICT_FOR_CLIENT,
				1, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				conf->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, conf->tls_cert,
				MHD_OPTION_HTTPS_MEM_KEY, conf->tls_key, MHD_OPTION_END);
	if (!s->d) {
		http_deadlines_stop(&s->deadlines);
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->idle);
		free(s);
		return isol8_err_set(err, ISOL8_E_IO, 0, "cannot start the HTTP server (libmicrohttpd)"), NULL;
	}
	return s;
}

unsigned http_server_stop(struct http_server *s)
{
	struct timespec deadline;
	unsigned left;
	MHD_socket lfd;

	/* Stop accepting: new connections are refused by the kernel once the socket is closed. */
	lfd = MHD_quiesce_daemon(s->d);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += s->conf->grace_s;
	pthread_mutex_lock(&s->lock);
	while (s->active > 0)
		if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == ETIMEDOUT)
			break;
	left = s->active;
	pthread_mutex_unlock(&s->lock);
	/* Streams still running end at their next wake-up (at most a second). */
	http_hard_stop = 1;
	MHD_stop_daemon(s->d);
	http_deadlines_stop(&s->deadlines);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
	return left;
}
