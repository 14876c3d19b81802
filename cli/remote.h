/* The remote client: `isol8 run --host URL` and `isol8 session list|stop --host URL` talk to an
 * `isol8 serve` over HTTP instead of to a local isol8d, through libisol8's remote engine
 * (lib/remote.c's lib_http_request: the transport, SSE parsing and session node pinning). The key comes from --key,
 * else $ISOL8_API_KEY. Failures are one isol8_err (ISOL8_E_USAGE for a bad URL, ISOL8_E_AUTH
 * for 401/403, ISOL8_E_UNAVAIL when the server cannot be reached, the HTTP status's meaning
 * otherwise); the CLI prints them as one [ERR] line and exits 1. */
#ifndef ISOL8_FRONTEND_REMOTE_H
#define ISOL8_FRONTEND_REMOTE_H

#include <json-c/json.h>

#include "common/err.h"
#include "cli/run_args.h"
#include "cli/run_input.h"

/* Streams over POST /execute/stream (stdout/stderr events to fds 1/2 as they arrive), or
 * POST /execute with --no-stream/--json, and reports like a local run. *exit_code is the
 * program's exit status. */
int remote_run(const struct run_opts *o, struct run_input *in, int *exit_code, struct isol8_err *err);

/* GET /sessions: a new reference to the array of the caller's sessions. */
json_object *remote_session_list(const char *host, const char *key, struct isol8_err *err);
/* POST /auth/login with the server's master key: a new key of its store in *answer
 * ({token, expiresAt, keyId}). */
int remote_login(const char *host, const char *master, const char *name, uint64_t ttl_ms, json_object **answer,
		 struct isol8_err *err);
/* POST /file with the content of fd (read from its start), GET /file into *fd_out (a memfd at
 * offset 0): isol8_file_put/isol8_file_get of libisol8's remote engine. */
int remote_file_put(const char *host, const char *key, const char *id, const char *path, int fd, struct isol8_err *err);
int remote_file_get(const char *host, const char *key, const char *id, const char *path, int *fd_out,
		    struct isol8_err *err);
/* DELETE /session/<id>. */
int remote_session_stop(const char *host, const char *key, const char *id, struct isol8_err *err);

#endif
