/* Nodes behind a load balancer (issue 18): the node's name on every answer, the session header
 * a balancer hashes on, and GET /health's three states.
 *
 * How a node knows that a session lives on another one: every answer carries X-Isol8-Node (this
 * server's --node-id, the host name by default), and a client echoes the node that answered the
 * request creating a session on each later request of that session (cli/remote.c, the SDKs).
 * The balancer keeps a session on its node by hashing X-Isol8-Session; when that node is gone
 * or drained it sends the request elsewhere, and the node there sees a foreign X-Isol8-Node and
 * answers 421 "session lives on another node" instead of starting a fresh interpreter under the
 * old name, which would silently lose the session's state. Nothing is shared between nodes for
 * this: the client holds the one fact needed. A client that sends no X-Isol8-Node gets what a
 * single host gives (a new session where none of that name exists). */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "cli/broker_conn.h"
#include "http/connector.h"
#include "http/reply.h"

const char *http_node_id;

void http_response_node(struct MHD_Response *r)
{
	if (http_node_id)
		MHD_add_response_header(r, "X-Isol8-Node", http_node_id);
}

unsigned http_affinity_check(const char *hs, const char *hn, const char *session, char *msg, size_t size)
{
	if (session && !*session)
		session = NULL;
	/* The balancer routed by the header and the worker acts on the body: they must agree, or a
	 * request could reach one node's session through another session's route. */
	if (hs && (!session || strcmp(hs, session) != 0)) {
		if (session)
			snprintf(msg, size, "X-Isol8-Session '%.64s' does not match the request's session '%s'", hs,
				 session);
		else
			snprintf(msg, size, "X-Isol8-Session '%.64s' is set but the request names no session", hs);
		return MHD_HTTP_BAD_REQUEST;
	}
	if (session && hn && http_node_id && strcmp(hn, http_node_id) != 0) {
		snprintf(msg, size, "session lives on another node");
		return 421;
	}
	return 0;
}

int http_session_affinity(struct http_call *call, const char *session, enum MHD_Result *ret)
{
	const char *hs = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "X-Isol8-Session");
	const char *hn = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, "X-Isol8-Node");
	json_object *o;
	char msg[256];
	unsigned status = http_affinity_check(hs, hn, session, msg, sizeof msg);

	if (status == MHD_HTTP_BAD_REQUEST) {
		*ret = http_reply_error(call->conn, MHD_HTTP_BAD_REQUEST, msg);
		return 0;
	}
	if (status) {
		o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_object_add(o, "code", json_object_new_string("session_on_other_node"));
		json_object_object_add(o, "node", json_object_new_string_len(hn, (int)strnlen(hn, ISOL8_MAX_SESSION)));
		json_object_object_add(o, "thisNode", json_object_new_string(http_node_id));
		*ret = http_reply_json(call->conn, 421, o);
		return 0;
	}
	return 1;
}

static const char *state_name(uint8_t s)
{
	switch (s) {
	case NODE_READY:
		return "ready";
	case NODE_DRAINING:
		return "draining";
	default:
		return "drained";
	}
}

#define HEALTH_TIMEOUT_MS 3000

/* ready 200; draining 404, which HAProxy's `http-check disable-on-404` reads as "no new
 * traffic, but keep the sticky sessions" (deploy/haproxy/haproxy.cfg); drained and down 503.
 * The JSON says which in every case. */
enum MHD_Result http_handle_health(struct MHD_Connection *c, const struct http_server_conf *conf)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = http_connector_open(conf->broker_link, HELLO_HEALTH, "", NULL, NULL, &err);
	json_object *o = json_object_new_object();
	struct isol8_msg m;
	uint8_t state = NODE__MAX;
	uint32_t runs = 0, sessions = 0;
	unsigned status;

	struct pollfd pf = {.fd = sock, .events = POLLIN};

	/* A daemon that accepts but does not answer is down too (the broker answers itself). */
	if (sock >= 0 && poll(&pf, 1, HEALTH_TIMEOUT_MS) <= 0) {
		isol8_err_set(&err, ISOL8_E_UNAVAIL, 0, "isol8d did not answer within %d ms", HEALTH_TIMEOUT_MS);
	} else if (sock >= 0 && broker_expect(sock, WK_HEALTH, &m, &err) > 0) {
		if (isol8_get_u8(&m, &state, &err) < 0 || isol8_get_u32(&m, &runs, &err) < 0 ||
		    isol8_get_u32(&m, &sessions, &err) < 0 || isol8_msg_end(&m, &err) < 0 || state >= NODE__MAX) {
			if (!err.code)
				isol8_err_set(&err, ISOL8_E_PROTO, 0, "bad node state %u", state);
			state = NODE__MAX;
		}
		isol8_msg_free(&m);
	}
	/* "status" stays the original's "ok" when ready, for its clients, and "unavailable" with an
	 * "error" when isol8d is down; "state" is the one to read. */
	if (state < NODE__MAX) {
		json_object_object_add(o, "status",
				       json_object_new_string(state == NODE_READY ? "ok" : state_name(state)));
		json_object_object_add(o, "version", json_object_new_string(HTTP_VERSION_STRING));
		json_object_object_add(o, "state", json_object_new_string(state_name(state)));
		status = state == NODE_READY     ? MHD_HTTP_OK
			: state == NODE_DRAINING ? MHD_HTTP_NOT_FOUND
						 : MHD_HTTP_SERVICE_UNAVAILABLE;
	} else {
		json_object_object_add(o, "status", json_object_new_string("unavailable"));
		json_object_object_add(o, "version", json_object_new_string(HTTP_VERSION_STRING));
		json_object_object_add(o, "error",
				       json_object_new_string(err.msg[0] ? err.msg : "isol8d did not answer"));
		json_object_object_add(o, "state", json_object_new_string("down"));
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	json_object_object_add(o, "node", json_object_new_string(http_node_id ? http_node_id : ""));
	if (state < NODE__MAX) {
		json_object_object_add(o, "runs", json_object_new_int64(runs));
		json_object_object_add(o, "sessions", json_object_new_int64(sessions));
	}
	return http_reply_json(c, status, o);
}
