/* Incremental parser for Docker's JSON-lines progress answers (POST /build, /images/create).
 *
 * Each line is one JSON object: {"stream":"Step 1/3 ...\n"}, {"status":...}, {"aux":...} or
 * {"errorDetail":{"message":...},"error":...}. Lines may be split across reads at any byte.
 * "stream" text is re-split into lines and handed to cb without the newline; the first
 * "error" fails the parse. Input comes from the engine (trusted) but is still capped: a JSON
 * line longer than DOCKER_PROGRESS_MAX_LINE or a line that is not a JSON object is an error. */
#ifndef ISOL8_DOCKER_PROGRESS_H
#define ISOL8_DOCKER_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "docker/client.h"

#define DOCKER_PROGRESS_MAX_LINE (1024u * 1024)
/* A "stream" text line longer than this is delivered in pieces rather than buffered. */
#define DOCKER_PROGRESS_MAX_TEXT (64u * 1024)

struct docker_progress {
	struct isol8_buf line; /* partial JSON line */
	struct isol8_buf text; /* partial "stream" text line */
	docker_log_cb cb;
	void *ctx;
	bool failed;
	struct isol8_err err; /* valid when failed */
};

void docker_progress_init(struct docker_progress *p, docker_log_cb cb, void *ctx);
/* Returns 0, or -1 once an error line or malformed input was seen (details in p->err; every
 * later feed also returns -1). */
int docker_progress_feed(struct docker_progress *p, const char *data, size_t len);
/* End of the answer: parses a last unterminated line, flushes pending text. Returns -1 with
 * *err filled when the stream carried an error or was malformed. */
int docker_progress_finish(struct docker_progress *p, struct isol8_err *err);
void docker_progress_free(struct docker_progress *p);

#endif
