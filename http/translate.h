/* POST /execute bodies -> the FE_RUN request that isol8d's worker expects (shape in
 * cli/run_request.h). Pure: no I/O. Every field is type-checked here so that a bad body
 * is a 400 with a path-named message; the worker and the broker check again (policy ceilings
 * are the broker's job, not ours).
 *
 * Body: {"request": ExecutionRequest, "options"?: {...}, "sessionId"?: "..."}.
 * ExecutionRequest: code | cmd | codeUrl (exactly one), runtime (required: python node bun deno bash agent),
 * timeoutMs, env {NAME: string}, fileExtension, stdin, files {path: string} (written under
 * /sandbox before the run), installPackages [string], metadata {key: string} (for the audit record), workdir,
 * setupScript (isol8 extension), codeUrl with codeHash and allowInsecureCodeUrl (passed on:
 * whether it may be fetched is the tenant's policy, decided by isol8d, never by the request).
 * options: network, networkFilter {whitelist, blacklist}, cpuLimit, memoryLimit, sandboxSize,
 * tmpSize, maxOutputSize (sizes as bytes or "512m"), pidsLimit, readonlyRootFs, secrets,
 * timeoutMs (default for the request), image, persist, persistTtlMs, debug, logNetwork; mode, security,
 * audit, poolStrategy, poolSize, remoteCode are accepted and ignored (the server's settings
 * win). Unknown keys anywhere are a 400. */
#ifndef ISOL8_FRONTEND_HTTP_TRANSLATE_H
#define ISOL8_FRONTEND_HTTP_TRANSLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define HTTP_MAX_FILES 1000u

struct http_file {
	char *path; /* relative to /sandbox, normalised */
	char *data;
	size_t len;
};

struct http_run_spec {
	char *json; /* FE_RUN request text */
	size_t json_len;
	char *session; /* validated session name, or NULL */
	char *runtime;
	char *code; /* moved to the bundle when it does not fit inline */
	size_t code_len;
	bool code_in_bundle;
	char *stdin_data;
	size_t stdin_len;
	bool stdin_in_bundle;
	struct http_file *files;
	size_t n_files;
};

/* Returns 0 with *s filled, or -1 with ISOL8_E_USAGE (400) / ISOL8_E_POLICY (403). */
int http_translate(const char *body, size_t len, struct http_run_spec *s, struct isol8_err *err);
/* The FE_RUN bundle tar (entries code, stdin, files/...), empty when nothing needs it. */
int http_spec_bundle(const struct http_run_spec *s, struct isol8_buf *tar, struct isol8_err *err);
void http_spec_free(struct http_run_spec *s);

#endif
