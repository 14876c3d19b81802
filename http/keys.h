/* API keys of `isol8 serve`: each bearer secret maps to a key name, and the key name is what
 * isol8d sees (FE_HELLO_KEY) and maps to a tenant. Pure: no I/O except http_keys_load_file.
 *
 * Keys file: one `name:secret` per line; blank lines and lines starting with '#' are skipped.
 * Names are 1..64 of [A-Za-z0-9_.-]; secrets are 1..4096 printable non-space bytes. A name or
 * a secret may appear only once. */
#ifndef ISOL8_FRONTEND_HTTP_KEYS_H
#define ISOL8_FRONTEND_HTTP_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "common/keys_file.h" /* the limits: HTTP_KEY_MAX_SECRET, ... */
#include "common/proto.h"

struct http_key {
	char *name;
	char *secret;
	size_t secret_len;
	/* Who the key is to isol8d besides its name (FE_HELLO_KEY): the first hex digits of
	 * SHA-256("isol8 key id", NUL, secret). Names repeat across servers ("default"); secrets
	 * do not. */
	char id[ISOL8_KEY_ID_LEN + 1];
	const char *dbhash; /* a key-store token: its SHA-256 (64 hex), else NULL */
};

struct http_keys {
	struct http_key *v;
	size_t n;
};

void http_keys_free(struct http_keys *k);
/* Add one key after validating name and secret (ISOL8_E_USAGE on failure). */
int http_keys_add(struct http_keys *k, const char *name, const char *secret, struct isol8_err *err);
/* Parse keys-file text; errors name the line ("line 3: ..."), never the secret. */
int http_keys_parse(struct http_keys *k, const char *text, size_t len, struct isol8_err *err);
int http_keys_load_file(struct http_keys *k, const char *path, struct isol8_err *err);

/* Find the key whose secret equals tok[0..n). Every configured secret is compared, each in
 * time that depends only on n, so the timing says nothing about which key or how much of it
 * matched. Returns the key or NULL. */
const struct http_key *http_keys_match(const struct http_keys *k, const char *tok, size_t n);

/* Tokens of isol8d's key store ("isol8_" + 64 lowercase hex, `isol8 keys create`): a token not
 * in the keys file that has this form is looked up by isol8d (FE_HELLO_DBKEY), which only ever
 * gets its SHA-256. The key stands for it with name HTTP_DBKEY_PREFIX and the hash in dbhash. */
#define HTTP_DBKEY_PREFIX "@db"
bool http_dbkey_token(const char *tok, size_t n);
/* A key for the token (caller-owned storage; name and secret point to static text). */
void http_dbkey_make(struct http_key *k, char dbhash[65], const char *tok, size_t n);

/* From an Authorization header value: the token after "Bearer " (scheme case-insensitive,
 * spaces around the token ignored), or the whole value when it has no scheme (the original
 * server accepts a bare token). A token containing spaces is refused. Returns 0 with tok and
 * n pointing into hdr, -1 otherwise. */
int http_bearer_token(const char *hdr, const char **tok, size_t *n);

#endif
