/* The FE_RUN request text (JSON) built from validated flags and resolved input. Pure: no I/O.
 *
 * Shape (documented in man/isol8-protocol.7):
 * {"request":{"code"?,"cmd"?,"runtime","timeoutMs","env","fileExtension"?,"stdin"?,"workdir",
 *             "installPackages","args"?,"outputPaths"?,"setupScript"?,"codeInBundle"?,"stdinInBundle"?,"stdinStream"?,"hasFiles"?},
 *  "options":{"memoryLimit","cpuLimit","pidsLimit","sandboxSize","tmpSize","maxOutputSize",
 *             "network","networkFilter":{"whitelist","blacklist"},"readonlyRootFs","image"?,
 *             "persist","persistTtlMs"?,"secrets","logNetwork","debug"},
 *  "sessionId"?} */
#ifndef ISOL8_FRONTEND_RUN_REQUEST_H
#define ISOL8_FRONTEND_RUN_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "cli/run_args.h"
#include "cli/run_input.h"

/* Leaves room under the 64 KiB frame cap; larger code or stdin travel in the bundle. */
#define RUN_REQUEST_MAX (60u * 1024u)

/* Serialise the request as it stands (in->*_in_bundle decide what is inline). */
char *run_request_json(const struct run_opts *o, const struct run_input *in, size_t *len);

/* Decide what goes into the bundle and produce the request text: code and stdin stay inline
 * when the text fits in RUN_REQUEST_MAX and they are valid UTF-8 without NUL bytes (JSON
 * strings for the daemon's strict parser); otherwise they move to the bundle, stdin first.
 * ISOL8_E_LIMIT when even then the request is too large (huge setup scripts or env). */
int run_request_plan(const struct run_opts *o, struct run_input *in, char **json, size_t *len, struct isol8_err *err);

/* Valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and no NUL byte. */
bool run_text_is_json_safe(const char *s, size_t n);

#endif
