/* Internal to docker/: the request core shared by images.c, containers.c and exec.c.
 * Not for use outside docker/ (callers use docker/client.h). */
#ifndef ISOL8_DOCKER_HTTP_H
#define ISOL8_DOCKER_HTTP_H

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "docker/client.h"

/* Largest response body we keep in memory for an ordinary call (JSON answers). Larger answers
 * mean something is wrong with the engine or the request; refuse rather than grow forever. */
#define DOCKER_MAX_RESPONSE (16u * 1024 * 1024)

struct docker {
	CURL *curl;
	char *sock_path;
	char curl_err[CURL_ERROR_SIZE];
};

struct docker_call {
	const char *method;       /* "GET", "POST", "PUT", "DELETE" */
	const char *path;         /* after the API prefix, already escaped: "/containers/json?all=1" */
	const char *content_type; /* for a body; NULL = application/json */
	const void *body;         /* in-memory request body or NULL */
	size_t body_len;
	int body_fd;         /* >= 0: stream the body from this fd (chunked) instead */
	size_t max_response; /* 0 = DOCKER_MAX_RESPONSE */
	int limit_code;      /* error code when max_response is passed; 0 = ISOL8_E_LIMIT */
	long timeout_ms;     /* whole call; 0 = none (builds and imports take what they take) */
	/* JSON-lines progress answers (build, import): parsed as they arrive instead of buffered. */
	bool progress;
	docker_log_cb log_cb;
	void *log_ctx;
	/* results */
	long status;
	struct isol8_buf resp; /* response body (not filled in progress mode on success) */
};

/* Perform the call. Returns 0 for any status < 400 (call->status tells which); maps transport
 * failures and >= 400 answers to an error (UNAVAIL / NOTFOUND / DOCKER / LIMIT / TIMEOUT).
 * call->resp must be freed by the caller either way (docker_call_free). */
int docker_call_run(struct docker *d, struct docker_call *call, struct isol8_err *err);
void docker_call_free(struct docker_call *call);

/* Upper bound for ordinary JSON calls: a wedged engine must not hang a worker forever, while a
 * forced remove of a busy container can legitimately take a while. */
#define DOCKER_JSON_TIMEOUT_MS 300000L

/* Convenience: run and parse the JSON answer into *out (may be NULL to ignore the body).
 * Uses DOCKER_JSON_TIMEOUT_MS. */
int docker_call_json(struct docker *d, const char *method, const char *path, json_object *body, json_object **out,
		     struct isol8_err *err);

/* Escape a path component or query value (every byte outside [A-Za-z0-9._~-]). Returns a
 * malloc'ed string. Path components "", "." and ".." are refused by docker_path_arg. */
char *docker_escape(const char *s);
/* Validate an id/name that goes into a URL path segment; returns the escaped copy or NULL. */
char *docker_path_arg(const char *what, const char *s, struct isol8_err *err);

/* filters={"label":["<label>"]} escaped for a query string, or "" when label is NULL.
 * Returns a malloc'ed string starting with "&filters=" (or empty). */
char *docker_label_filter(const char *label);

/* Extract a 64-hex "Id" from a create answer. */
int docker_copy_id(json_object *obj, char id_out[65], struct isol8_err *err);

/* Map an HTTP error status + body to an isol8 error (Docker's "message" when present). */
int docker_status_error(int status, const char *body, size_t len, struct isol8_err *err);

/* Message used when the engine's socket cannot be reached (connect errno). */
int docker_unreachable(const char *sock_path, int errnum, struct isol8_err *err);

#endif
