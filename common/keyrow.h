/* One API key as it travels between isol8d and isol8-keystore (the PostgreSQL key store's
 * client, keystore/): the fields of a row of api_keys, never the secret and, except in
 * KS_CREATE, never its hash. The broker reads what the keystore sends with keyrow_get, which
 * bounds every field: the keystore is an unprivileged process talking to a network server. */
#ifndef ISOL8_COMMON_KEYROW_H
#define ISOL8_COMMON_KEYROW_H

#include <stdbool.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/ipc.h"

struct keystore_key {
	char id[37]; /* UUID v4 */
	char name[65];
	char tenant[65];
	char prefix[14];                              /* "isol8_abcd..." */
	char created[32], expires[32], last_used[32]; /* ISO-8601 UTC; last_used "" when never */
	bool revoked;
};

/* The encoded size bounds of one row (for the protocol table). */
#define KEYROW_MIN (7u * 4u + 1u)
#define KEYROW_MAX (7u * 4u + 36u + 64u + 64u + 13u + 31u * 3u + 1u)

/* str id, str name, str tenant, str prefix, str created, str expires, str last_used, u8 revoked */
void keyrow_put(struct isol8_buf *b, const struct keystore_key *k);
/* The same, read: each string within its field, revoked 0 or 1. */
int keyrow_get(struct isol8_msg *m, struct keystore_key *k, struct isol8_err *err);

#endif
