/* Remote code (isol8(1) --url/--github/--gist, HTTP request.codeUrl): the pure parts shared by
 * the CLI, the worker and the fetcher (isol8-fetch, fetch/). No I/O here.
 *
 * Who does what: the CLI checks its user config's remoteCode gate and sends the URL; the worker
 * asks the broker (V_FETCH); the broker checks the tenant's policy (remoteCode.enabled) and
 * starts isol8-fetch, which locks itself down and runs the checks of original-reference.md
 * §4.24 in order with the policy's settings; its answer (framed below) reaches the worker over
 * a stream socket and becomes the run's code. */
#ifndef ISOL8_COMMON_REMOTE_CODE_H
#define ISOL8_COMMON_REMOTE_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/proto.h" /* ISOL8_REMOTE_MAX_URL */

/* The largest maxCodeSize a policy may set, and what the worker ever reads: the largest code
 * any run may have. */
#define ISOL8_REMOTE_MAX_CODE (16u << 20) /* = the CLI's RUN_MAX_CODE, the bundle's BUNDLE_CODE_MAX */
#define ISOL8_REMOTE_MAX_TIMEOUT_MS 300000u
#define ISOL8_REMOTE_MAX_REDIRECTS 5u
#define ISOL8_REMOTE_DISABLED_MSG "Remote code fetching is disabled. Set remoteCode.enabled=true to allow it."

/* --github owner/repo/ref/path... -> https://raw.githubusercontent.com/owner/repo/ref/path...
 * (at least four non-empty parts); --gist id/file... -> https://gist.githubusercontent.com/id/raw/file...
 * Heap string, or NULL with ISOL8_E_USAGE and the original's message. Parts must not be "." or
 * "..", and may not hold '?', '#', '%', '\\', control characters or spaces: the shorthand names
 * one file, it does not smuggle a query or walk out of the repository. */
char *remote_github_url(const char *spec, struct isol8_err *err);
char *remote_gist_url(const char *spec, struct isol8_err *err);

/* A codeHash: exactly 64 hex digits (either case). flag names it in the message ("--hash",
 * "request.codeHash"). */
int remote_hash_check_format(const char *hash, const char *flag, struct isol8_err *err);

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). On false *bad is the
 * offset of the first invalid byte. */
bool remote_utf8_valid(const char *s, size_t len, size_t *bad);

/* Steps 8 (empty), 9 (UTF-8, NUL) and 10 (hash, may be NULL) of §4.24 on a complete body, with
 * the original's messages. */
int remote_code_check(const char *code, size_t len, const char *hash, struct isol8_err *err);

/* The fetcher's answer on its socket: "OK <len>\n" then exactly len bytes of code, or
 * "ERR <code> <message>\n" (code: enum isol8_errcode, message printable, at most 255 bytes).
 * remote_result_err formats an ERR line (with its newline) into out. remote_result_parse decodes a
 * complete answer (the peer is a confined but network-facing process: everything is checked);
 * returns 0 with *code (heap, NUL-terminated) and *len, or -1 with *err: the fetcher's own
 * error, or ISOL8_E_PROTO for a malformed answer. */
void remote_result_err(const struct isol8_err *e, char *out, size_t n);
int remote_result_parse(const char *buf, size_t len, char **code, size_t *code_len, struct isol8_err *err);

#endif
