/* API keys kept in SQLite (the original's auth store, §3.11 of the reference): `isol8 keys` for
 * the admin over the broker socket, and the HTTP server's bearer tokens, which isol8d checks
 * here on every connection (FE_HELLO_DBKEY), so a revoked or expired key is refused on its next
 * request without a restart.
 *
 * Only isol8d (root) opens the database (default /var/lib/isol8/keys.db, mode 0600, WAL); the
 * HTTP server, locked down with no filesystem access, only ever sends the SHA-256 of a token.
 * A key is "isol8_" + 64 hex digits (32 random bytes); only its SHA-256 is stored, and its first
 * 10 characters + "..." for display. Every statement is prepared with bound parameters. */
#ifndef ISOL8_BROKER_KEYSTORE_H
#define ISOL8_BROKER_KEYSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/keyrow.h"

#define KEYSTORE_DEFAULT_PATH "/var/lib/isol8/keys.db"
#define KEYSTORE_KEY_LEN 70u /* "isol8_" + 64 hex */
#define KEYSTORE_MAX_TTL_MS (10ull * 365 * 24 * 3600 * 1000)
#define KEYSTORE_DEFAULT_TTL_MS (30ull * 24 * 3600 * 1000)

struct keystore;

/* Opens (creating the file 0600 and its directory 0700 when missing) and sets up the schema. */
int keystore_open(const char *path, struct keystore **out, struct isol8_err *err);
void keystore_close(struct keystore *ks);

/* A new key for tenant (checked by the caller against the policy); its secret in key_out
 * (KEYSTORE_KEY_LEN + 1 bytes), shown once and never stored. ttl_ms 0: the default. */
int keystore_create(struct keystore *ks, const char *name, const char *tenant, uint64_t ttl_ms, char *key_out,
		    struct keystore_key *info, struct isol8_err *err);
/* The key keystore_create makes, without storing it: secret in key_out, its SHA-256 (64 hex) in
 * hash, the row's fields in info (the PostgreSQL store, keys_pg.c, inserts them). */
int keystore_new_key(const char *name, const char *tenant, uint64_t ttl_ms, char *key_out, struct keystore_key *info,
		     char hash[65], struct isol8_err *err);
/* {"keys":[{id,name,keyPrefix,tenantId,createdAt,expiresAt,lastUsedAt,revoked}]}, oldest first;
 * tenant NULL: all. Neither the hash nor the key is ever listed. */
int keystore_list(struct keystore *ks, const char *tenant, struct isol8_buf *json, struct isol8_err *err);
/* ISOL8_E_NOTFOUND "Key not found" for an unknown id (or one of another tenant than tenant,
 * when given). */
int keystore_revoke(struct keystore *ks, const char *id, const char *tenant, struct isol8_err *err);
/* Deletes revoked and expired keys (of tenant, NULL: all); *removed counts them. */
int keystore_purge(struct keystore *ks, const char *tenant, unsigned *removed, struct isol8_err *err);
/* The key whose SHA-256 is hash_hex (64 lowercase hex), if it is neither revoked nor expired
 * (ISOL8_E_AUTH "Invalid API key" otherwise, the same text for every reason); records
 * lastUsedAt. */
int keystore_validate(struct keystore *ks, const char *hash_hex, struct keystore_key *out, struct isol8_err *err);

/* The JSON object of one key (as in keystore_list) appended to out. */
void keystore_key_json(const struct keystore_key *k, struct isol8_buf *out);

#endif
