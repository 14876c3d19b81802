/* ~/.isol8/credentials.json: what `isol8 login` stored, {host, token, expiresAt, keyId}, mode
 * 0600, and the key resolution of the original (§1.3): --key, else ISOL8_API_KEY, else the
 * stored token when its host is the one asked for (one trailing '/' ignored) and it has not
 * expired. */
#ifndef ISOL8_CLI_CREDENTIALS_H
#define ISOL8_CLI_CREDENTIALS_H

#include "common/err.h"

/* The file's path (malloc'd), from $HOME. */
char *credentials_path(void);
/* The key for host: key if set, else $ISOL8_API_KEY, else the stored token for host (malloc'd
 * copy in *owned; an expired one prints the original's [WARN] and is not used). NULL when
 * none: the caller says "API key required". */
const char *credentials_resolve(const char *key, const char *host, char **owned);
/* Writes the file (its directory 0700, the file 0600, replaced atomically). */
int credentials_store(const char *host, const char *token, const char *expires, const char *key_id,
		      struct isol8_err *err);

#define CREDENTIALS_REQUIRED_MSG "API key required. Use --key, ISOL8_API_KEY env var, or `isol8 login`."

#endif
