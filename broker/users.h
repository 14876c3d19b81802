/* Start-up account lookups of the broker, answered by a short-lived child (see users.c). */
#ifndef ISOL8_BROKER_USERS_H
#define ISOL8_BROKER_USERS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"

struct broker_users {
	bool isol8_exists; /* a passwd entry "isol8" exists (the default socket group follows it) */
	bool found;        /* the worker account was found */
	uid_t uid;         /* worker account, when found */
	gid_t gid;
};

/* Look up "isol8" and the worker account (name, or NULL for "isol8", else "nobody") in the
 * passwd database. -1 only when the lookup itself could not be run; a missing account is
 * found = false. Call before any thread exists. */
int broker_lookup_users(const char *name, struct broker_users *out, struct isol8_err *err);

#endif
