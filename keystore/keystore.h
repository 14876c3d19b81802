/* isol8-keystore: the PostgreSQL client of isol8d's shared key store (isol8d --keys-db
 * postgresql://...). libpq, a network client with TLS, GSSAPI and LDAP, is linked here and never
 * into the root broker. isol8d starts it (broker/keys_pg.c) as a fresh exec with its channel on
 * fd 3; it drops to the unprivileged account, loads the network client's seccomp filter
 * (seccomp.c), then reads KS_CONFIG (the connection string, never on a command line) and
 * serves the KS_* requests of common/proto.h one at a time. It only ever sees hashes: the
 * broker makes new keys and hashes bearer tokens' digests arrive from the HTTP server. */
#ifndef ISOL8_KEYSTORE_KEYSTORE_H
#define ISOL8_KEYSTORE_KEYSTORE_H

#include "common/err.h"

int keystore_seccomp_load(struct isol8_err *err);

#endif
