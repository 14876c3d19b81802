/* Parsers for user-supplied scalar values. All reject empty input, leading/trailing junk,
 * negatives and overflow, and return -1 with ISOL8_E_USAGE and a message quoting the input. */
#ifndef ISOL8_PARSE_H
#define ISOL8_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* "512m", "1g", "256k", "1024", "1.5g", "512mb", "2G": 1024-based, floored to bytes. */
int isol8_parse_size(const char *s, uint64_t *out, struct isol8_err *err);
/* Format bytes back as the shortest exact "512m"/"1g"/"1536k"/"123" form. */
void isol8_format_size(uint64_t bytes, char *out, size_t outlen);
/* Milliseconds: "30000", also "30s", "1.5s", "2m", "250ms". */
int isol8_parse_duration_ms(const char *s, uint64_t *out, struct isol8_err *err);
/* Unsigned decimal integer with max. */
int isol8_parse_u64(const char *s, uint64_t max, uint64_t *out, struct isol8_err *err);
/* Pool size as in the config's poolSize: "N" (clean = dirty = N) or "CLEAN,DIRTY", each an
 * unsigned decimal <= max. No spaces, no signs, exactly one comma in the pair form. */
int isol8_parse_pool_size(const char *s, uint32_t max, uint32_t *clean, uint32_t *dirty, struct isol8_err *err);
/* CPU cores: "1", "0.5", "2.0"; > 0 and <= 1024. */
int isol8_parse_cpu(const char *s, double *out, struct isol8_err *err);
/* KEY=VALUE; KEY must match [A-Za-z_][A-Za-z0-9_]* ; split at the first '='. Fresh copies. */
int isol8_parse_kv(const char *s, char **key, char **value, struct isol8_err *err);
bool isol8_valid_env_name(const char *s);
/* A path inside /sandbox named by a client ("/sandbox/out/a.txt" or "out/a.txt"): the part
 * below /sandbox ("out/a.txt") in out (n bytes). Refused, "<what>: ..." (ISOL8_E_USAGE): empty,
 * longer than ISOL8_MAX_PATH, outside /sandbox, /sandbox itself, and any "", "." or ".."
 * component (so also a trailing '/'): nothing is normalised, so what is checked is what is
 * opened. */
int isol8_sandbox_relpath(const char *p, const char *what, char *out, size_t n, struct isol8_err *err);

/* The agent runtime's extra flags ("--model m --thinking"), split into words the way a POSIX
 * shell splits them, without a shell: blanks (space, tab, newline) separate words; '...' keeps
 * everything literally; "..." keeps everything but \" and \\ (and \$ \` \newline, as in sh);
 * outside quotes a backslash keeps the next byte. Nothing is expanded: $VAR, `cmd`, ~, globs,
 * ;, |, & and redirections are plain bytes of a word. Refused, "<what>: ..." (ISOL8_E_USAGE):
 * an unterminated quote, a trailing backslash, control bytes other than blanks, more than
 * ISOL8_AGENT_FLAGS_MAX_WORDS words, input longer than ISOL8_AGENT_FLAGS_MAX bytes. On success
 * *words (NULL-terminated, fresh, free with isol8_strv_free) holds *n words; blank input is 0. */
#define ISOL8_AGENT_FLAGS_MAX 4096u
#define ISOL8_AGENT_FLAGS_MAX_WORDS 32u
int isol8_split_words(const char *s, const char *what, char ***words, size_t *n, struct isol8_err *err);

#endif
