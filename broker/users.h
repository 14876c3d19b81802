/* Start-up account lookups of the broker, answered by a short-lived child (see users.c). */
#ifndef ISOL8_BROKER_USERS_H
#define ISOL8_BROKER_USERS_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"

struct broker_users {
	bool group_exists; /* the client group (BROKER_CLIENT_GROUP) exists */
	gid_t group_gid;
	bool found; /* the worker account was found */
	uid_t uid;  /* worker account, when found */
	gid_t gid;
};

/* Look up the client group and the worker account (name, or NULL for BROKER_UNPRIV_USER). -1 only when the lookup itself could not be run; a missing account is
 * found = false. Call before any thread exists. */
int broker_lookup_users(const char *name, struct broker_users *out, struct isol8_err *err);
/* Create what u says is missing (the client group, the default worker account) with
 * groupadd/useradd, as systemd-sysusers would from sysusers.d/isol8.conf. */
int broker_create_accounts(const struct broker_users *u, struct isol8_err *err);

#endif
