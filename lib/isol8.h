/* libisol8: run code in isol8 sandboxes from C.
 *
 * An engine talks to a local isol8d over its socket (the calling process's uid is its identity
 * and picks its tenant policy), or to a remote `isol8 serve` over HTTP (its API key is the
 * identity); every call below works on both. Every type is opaque; every call that can fail returns -1 (or
 * NULL) and fills an isol8_error. Thread safety: an engine may be used from several threads at
 * once; a request or result belongs to one thread at a time.
 *
 *   isol8_engine *e = isol8_engine_new(NULL, &err);      // default socket
 *   isol8_request *q = isol8_request_new("python", "print(6 * 7)");
 *   isol8_result *r;
 *   if (isol8_execute(e, q, &r, &err) == 0)
 *           printf("%d %s", isol8_result_exit_code(r), isol8_result_stdout(r, NULL));
 *
 * Link with `pkg-config --cflags --libs isol8`. Manual: isol8_engine_new(3), isol8_execute(3). */
#ifndef ISOL8_H
#define ISOL8_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISOL8_LIB_VERSION_MAJOR 0
#define ISOL8_LIB_VERSION_MINOR 2

/* Error codes: the same classes isol8's CLI and HTTP API report. */
enum isol8_error_code {
	ISOL8_OK = 0,
	ISOL8_ERR_INTERNAL = 1,
	ISOL8_ERR_USAGE = 2,    /* bad argument or request (HTTP 400) */
	ISOL8_ERR_POLICY = 3,   /* refused by the caller's tenant policy (403) */
	ISOL8_ERR_AUTH = 4,     /* caller not allowed at all (401) */
	ISOL8_ERR_NOTFOUND = 5, /* no such session or file (404) */
	ISOL8_ERR_DOCKER = 6,   /* the engine failed (502) */
	ISOL8_ERR_UNAVAIL = 7,  /* isol8d unreachable (503) */
	ISOL8_ERR_IO = 8,
	ISOL8_ERR_PROTO = 9,
	ISOL8_ERR_LIMIT = 10, /* queue full, too large (429/413) */
	ISOL8_ERR_TIMEOUT = 11,
};

typedef struct isol8_error {
	int code;          /* enum isol8_error_code */
	int errnum;        /* errno, when a system call failed; else 0 */
	char message[512]; /* what failed and, where there is one, the fix */
} isol8_error;

typedef struct isol8_engine isol8_engine;
typedef struct isol8_request isol8_request;
typedef struct isol8_result isol8_result;

/* "0.1.0" */
const char *isol8_version(void);

/* A local engine on isol8d's socket: socket_path, else $ISOL8_SOCKET, else
 * /run/isol8/isol8d.sock. Does not connect yet. */
isol8_engine *isol8_engine_new(const char *socket_path, isol8_error *err);
/* A remote engine (since 0.2, symbol version ISOL8_0.2): an `isol8 serve` at base_url
 * ("http://HOST:PORT" or "https://..."), authenticated with api_key (NULL: $ISOL8_API_KEY;
 * none: no Authorization header). NULL with ISOL8_ERR_USAGE for a bad URL. Does not connect yet. */
isol8_engine *isol8_engine_new_remote(const char *base_url, const char *api_key, isol8_error *err);
/* Check that isol8d (GET /health for a remote engine) answers (the original's start()). 0, or
 * -1 with ISOL8_ERR_UNAVAIL. */
int isol8_engine_start(isol8_engine *e, isol8_error *err);
void isol8_engine_free(isol8_engine *e);

/* A request to run code (copied) in runtime ("python", "node", "bun", "deno", "bash", "agent"). */
isol8_request *isol8_request_new(const char *runtime, const char *code);
/* Setters copy their arguments; -1 with err on a bad value. */
int isol8_request_set_stdin(isol8_request *q, const void *data, size_t len, isol8_error *err);
int isol8_request_set_timeout_ms(isol8_request *q, uint64_t ms, isol8_error *err);
int isol8_request_add_env(isol8_request *q, const char *name, const char *value, isol8_error *err);
int isol8_request_add_arg(isol8_request *q, const char *arg, isol8_error *err);
/* Run in this persistent session (created by its first run; [A-Za-z0-9_.-]{1,64}). */
int isol8_request_set_session(isol8_request *q, const char *session, isol8_error *err);
void isol8_request_free(isol8_request *q);

/* Run and wait. 0 with *out set (free with isol8_result_free) when the program ran, whatever
 * its exit code; -1 with err when the run was refused or failed. */
int isol8_execute(isol8_engine *e, const isol8_request *q, isol8_result **out, isol8_error *err);

/* Streaming: each callback may be NULL; output is delivered as it arrives, in order per
 * stream. A callback that returns non-zero stops the run (the program is killed). */
typedef struct isol8_stream_callbacks {
	int (*on_stdout)(void *user, const char *data, size_t len);
	int (*on_stderr)(void *user, const char *data, size_t len);
	void (*on_exit)(void *user, int exit_code);
	void (*on_error)(void *user, const isol8_error *err);
} isol8_stream_callbacks;
/* As isol8_execute, with the output going to the callbacks instead of the result (its stdout
 * and stderr are then empty). on_exit or on_error is called exactly once. */
int isol8_execute_stream(isol8_engine *e, const isol8_request *q, const isol8_stream_callbacks *cb, void *user,
			 isol8_result **out, isol8_error *err);

/* The ExecutionResult. Strings are owned by the result; len may be NULL. */
const char *isol8_result_stdout(const isol8_result *r, size_t *len);
const char *isol8_result_stderr(const isol8_result *r, size_t *len);
int isol8_result_exit_code(const isol8_result *r);
int64_t isol8_result_duration_ms(const isol8_result *r);
int isol8_result_truncated(const isol8_result *r);
int isol8_result_timed_out(const isol8_result *r);
const char *isol8_result_execution_id(const isol8_result *r);
const char *isol8_result_runtime(const isol8_result *r);
const char *isol8_result_timestamp(const isol8_result *r);
const char *isol8_result_container_id(const isol8_result *r);
/* Every field of the result as JSON text (as the HTTP API's ExecutionResult, without stdout
 * and stderr), for what has no accessor. */
const char *isol8_result_json(const isol8_result *r);
void isol8_result_free(isol8_result *r);

/* Sessions of the caller: the list as a JSON array text (free() it), and stop. */
char *isol8_session_list(isol8_engine *e, isol8_error *err);
int isol8_session_stop(isol8_engine *e, const char *session, isol8_error *err);
/* Files in a session's sandbox (path relative to /sandbox, or absolute under it or /tmp). get:
 * *data (free() it) is NUL-terminated past *len. */
int isol8_file_put(isol8_engine *e, const char *session, const char *path, const void *data, size_t len,
		   isol8_error *err);
int isol8_file_get(isol8_engine *e, const char *session, const char *path, void **data, size_t *len, isol8_error *err);

#ifdef __cplusplus
}
#endif
#endif
