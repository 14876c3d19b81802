/* JSON responses and the handler interface shared by the route files. */
#ifndef ISOL8_FRONTEND_HTTP_REPLY_H
#define ISOL8_FRONTEND_HTTP_REPLY_H

#include <json-c/json.h>
#include <microhttpd.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "http/server.h"
#include "http/keys.h"

/* What a handler gets: the request as read by the access handler. */
struct http_call {
	struct http_server *srv;
	const struct http_server_conf *conf;
	struct MHD_Connection *conn;
	const struct http_key *key;
	const char *arg; /* route argument (DELETE /session/<arg>) */
	const char *body;
	size_t body_len;
};

/* Queue {json} (reference taken) with status. */
enum MHD_Result http_reply_json(struct MHD_Connection *c, unsigned status, json_object *o);
/* Queue {"error": msg} with status. */
enum MHD_Result http_reply_error(struct MHD_Connection *c, unsigned status, const char *msg);
/* Queue the error for an isol8_err (status from its code via isol8_err_http_status). */
enum MHD_Result http_reply_err(struct MHD_Connection *c, const struct isol8_err *err);

/* Count a run against max_inflight; 0 when full (the caller answers 429). */
int http_inflight_enter(struct http_server *s);
void http_inflight_leave(struct http_server *s);

/* auth.c: /auth/keys (POST, GET), /auth/keys/:id (DELETE), /auth/login (POST) */
enum { HTTP_AUTH_CREATE = 1, HTTP_AUTH_LIST, HTTP_AUTH_REVOKE, HTTP_AUTH_LOGIN };
enum MHD_Result http_handle_auth(struct http_call *call, int what);

/* affinity.c: this node's id (conf->node_id), on every answer as X-Isol8-Node. */
extern const char *http_node_id;
void http_response_node(struct MHD_Response *r);
/* Check X-Isol8-Session against the session the request names (NULL or "" for none) and a
 * foreign X-Isol8-Node; 0 when refused, with the answer queued in *ret. */
int http_session_affinity(struct http_call *call, const char *session, enum MHD_Result *ret);
/* The same check on header values already read (the WebSocket's, from its handshake): 0 when
 * they agree, else the status (400 or 421) with the message in msg. */
unsigned http_affinity_check(const char *hs, const char *hn, const char *session, char *msg, size_t size);
/* GET /health: ready, draining, drained or down, asked of isol8d. */
enum MHD_Result http_handle_health(struct MHD_Connection *c, const struct http_server_conf *conf);

enum MHD_Result http_handle_execute(struct http_call *call);
enum MHD_Result http_handle_stream(struct http_call *call);
enum MHD_Result http_handle_sessions(struct http_call *call);
enum MHD_Result http_handle_session_delete(struct http_call *call);
enum MHD_Result http_handle_file_put(struct http_call *call);
enum MHD_Result http_handle_file_get(struct http_call *call);
enum MHD_Result http_handle_cleanup(struct http_call *call);
enum MHD_Result http_handle_ws(struct http_call *call);
enum MHD_Result http_handle_metrics(struct http_call *call);

/* Every response is queued through here, so that the access log knows its status. */
enum MHD_Result http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r);

#endif
