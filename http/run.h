/* One run through isol8d for the HTTP frontend: FE_RUN with pipe write ends as the program's
 * stdout/stderr and a memfd bundle, then a pump that delivers output as it arrives and the
 * final WK_RESULT or WK_ERROR. Used by POST /execute (collect) and /execute/stream (SSE). */
#ifndef ISOL8_FRONTEND_HTTP_RUN_H
#define ISOL8_FRONTEND_HTTP_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "common/err.h"
#include "http/server.h"
#include "http/translate.h"

/* HTTP_EV_PHASE: data is "setup" or "code", the phase the run enters (only around setup
 * scripts; a run without them stays in "code"). Output events belong to the current phase. */
enum http_ev { HTTP_EV_STDOUT = 1, HTTP_EV_STDERR, HTTP_EV_RESULT, HTTP_EV_ERROR, HTTP_EV_PHASE };

struct http_run {
	int sock;
	int out; /* read ends, -1 once at EOF */
	int err;
	bool done;
	bool in_setup;         /* between WK_PHASE setup and code: output comes on the socket only */
	struct isol8_err fail; /* for HTTP_EV_ERROR: the worker's code and message */
};

/* kind HTTP_EV_STDOUT/STDERR: raw bytes; HTTP_EV_RESULT: the worker's JSON text;
 * HTTP_EV_ERROR: r->fail.msg. */
typedef void (*http_run_emit)(void *cls, enum http_ev kind, const char *data, size_t n);

/* Connect, send the request. On failure (daemon down, refused hello) returns -1 with err and
 * *r holds nothing. */
int http_run_start(const struct http_server_conf *conf, const struct http_key *key, const struct http_run_spec *spec,
		   struct http_run *r, struct isol8_err *err);
/* Same, with the program's live stdin: stdin_fd (a pipe's read end; the caller keeps and closes
 * its copy) goes to isol8d with FE_STDIN after the request. */
int http_run_start_stdin(const struct http_server_conf *conf, const struct http_key *key,
			 const struct http_run_spec *spec, int stdin_fd, struct http_run *r, struct isol8_err *err);
/* Same on a broker connection the caller opened with HELLO_RUN for spec->session (isol8 mcp
 * opens it as its own user); sock is the callee's from here on, also on failure. */
int http_run_start_on(int sock, const struct http_run_spec *spec, int stdin_fd, struct http_run *r,
		      struct isol8_err *err);
/* Wait up to timeout_ms (-1: forever) and emit what arrived. Output written before the result
 * is always emitted before it. Returns 1 once the result or error has been emitted, else 0. */
int http_run_pump(struct http_run *r, int timeout_ms, http_run_emit emit, void *cls);
/* For the streaming endpoints: the data of a "files" event, {"files":{path: base64},
 * "fileErrors":{path: message}} with the members the result has (request.outputPaths), or NULL
 * when it has neither. Sent before "exit". */
json_object *http_files_event(json_object *result);
/* A stream event, docs/openapi.json's StreamEvent: {"type", "data"[, "phase"]}. phase NULL for
 * an event outside the run. */
json_object *http_event(const char *type, json_object *data, const char *phase);
/* The run's exit event: data is the exit code as a decimal string (the original's), and
 * resourceUsage is the result's own object (as in the buffered ExecutionResult) when it has one. */
json_object *http_exit_event(const char *code, json_object *result, const char *phase);
/* Interrupt the program if it is still running (client went away) and close everything. */
void http_run_close(struct http_run *r);

#endif
