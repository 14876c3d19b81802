/* libisol8's private types, shared by the local engine (lib/engine.c) and the remote one
 * (lib/remote.c). Nothing here is exported: the .so's symbols are limited by lib/libisol8.map. */
#ifndef ISOL8_LIB_INTERNAL_H
#define ISOL8_LIB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "lib/isol8.h"

struct isol8_engine {
	char *socket; /* local: isol8d's socket */
	char *url;    /* remote: base URL without trailing '/', or NULL for a local engine */
	char *key;    /* remote: the API key (Bearer) */
	/* remote: session -> the node (X-Isol8-Node) that answered its first request, sent back on
	 * every later call of the session (runs, files, stop) so that a balancer's other node
	 * refuses it (421) instead of starting it afresh */
	json_object *nodes;
};

struct isol8_request {
	char *runtime, *code, *session;
	char *stdin_data;
	size_t stdin_len;
	bool has_stdin;
	uint64_t timeout_ms;
	json_object *env;  /* {NAME: value} */
	json_object *args; /* [arg] */
};

struct isol8_result {
	json_object *json; /* the result's fields, without stdout/stderr */
	struct isol8_buf out, err;
};

/* Where a run's output goes: the callbacks (cb set), else the result's buffers. */
struct lib_sink {
	const isol8_stream_callbacks *cb;
	void *user;
	isol8_result *res;
	bool stop; /* a callback asked to stop */
};

void lib_set_err(isol8_error *e, int code, int errnum, const char *msg);
/* stream 1 = stdout, 2 = stderr. */
void lib_deliver(struct lib_sink *s, int stream, const char *data, size_t n);
/* {"request": {...}, "sessionId"?}: the request as isol8d and the HTTP API read it; code and
 * stdin are left out where omit_code / omit_stdin (they travel in the bundle). */
json_object *lib_request_obj(const isol8_request *q, bool omit_code, bool omit_stdin);

/* One HTTP exchange of the remote engine, also what the isol8 CLI's remote client (cli/remote.c,
 * which compiles lib/ in) is made of. */
struct lib_http {
	/* in */
	const char *session;   /* X-Isol8-Session, for a balancer that hashes without the body */
	const char *node_sent; /* X-Isol8-Node to send (the node holding the session), or NULL */
	struct lib_sink *sink; /* a 200 answer is parsed as SSE into it; NULL: kept in body */
	void (*on_error_event)(void *user, const char *message); /* each SSE error event */
	void *user;
	/* out */
	long status;
	struct isol8_buf body; /* the answer, or the SSE bytes not yet parsed: isol8_buf_free it */
	char node[65];         /* X-Isol8-Node of the answer, or "" */
	bool got_exit, timed_out, too_big;
	int exit_code;
	json_object *usage; /* resourceUsage of the exit event (json_object_put it) */
	char error[512];    /* the last SSE error event other than the timeout */
	void *curl;
};
/* 0 when an answer arrived (any status: h->status, h->body), -1 with err when the server could
 * not be reached or the transfer failed ("cannot reach URL: why"). */
int lib_http_request(isol8_engine *e, const char *method, const char *path, const char *body, size_t len,
		     struct lib_http *h, isol8_error *err);
/* The last SSE event, when the stream ended without its blank line. */
void lib_http_finish(struct lib_http *h);

/* Pin session to node on a remote engine (node NULL: forget it). The CLI seeds it with what an
 * earlier command remembered (cli/remote_nodes.h). */
void lib_remote_pin(isol8_engine *e, const char *session, const char *node);

/* The remote engine (lib/remote.c): same contracts as the public calls. */
int lib_remote_start(isol8_engine *e, isol8_error *err);
int lib_remote_run(isol8_engine *e, const isol8_request *q, struct lib_sink *s, isol8_error *err);
char *lib_remote_session_list(isol8_engine *e, isol8_error *err);
int lib_remote_session_stop(isol8_engine *e, const char *session, isol8_error *err);
int lib_remote_file_put(isol8_engine *e, const char *session, const char *path, const void *data, size_t len,
			isol8_error *err);
int lib_remote_file_get(isol8_engine *e, const char *session, const char *path, void **data, size_t *len,
			isol8_error *err);

#endif
