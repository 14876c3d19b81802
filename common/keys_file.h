/* The keys file's syntax (format in http/keys.h), without the key store: isol8d checks a keys file
 * (--check-policy, SIGHUP) with these before its HTTP child is given it, and links no crypto. */
#ifndef ISOL8_COMMON_KEYS_FILE_H
#define ISOL8_COMMON_KEYS_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define HTTP_KEY_MIN_SECRET 1u
#define HTTP_KEY_MAX_SECRET 4096u
#define HTTP_KEYS_MAX 1024u
#define HTTP_KEYS_FILE_MAX (1024u * 1024u)

bool http_key_name_valid(const char *name);
bool http_key_secret_valid(const char *secret, size_t n);
/* fn is called for each name:secret line (the secret is wiped after); errors name the line
 * ("line 3: ..."), never the secret. */
int http_keys_scan(const char *text, size_t len,
		   int (*fn)(void *ctx, const char *name, const char *secret, struct isol8_err *err), void *ctx,
		   struct isol8_err *err);
/* The whole file, or "fd:N" (an open file handed over); caller wipes and frees. */
char *http_keys_read_file(const char *path, size_t *len, struct isol8_err *err);
/* Every rule http_keys_load_file applies (names, secrets, nothing twice, at least one key);
 * *n_keys: how many. Errors start with path. */
int http_keys_check_file(const char *path, size_t *n_keys, struct isol8_err *err);

#endif
