/* The key store's two doors in isol8d (the store itself: keystore.c).
 *
 * - HELLO_KEYS: `isol8 keys` of an admin (uid 0 only) sends one FE_KEYS after the hello and
 *   gets the answer as JSON in a sealed memfd (WK_FILE), or WK_ERROR. Served on a thread, like
 *   `isol8 audit show`, so the main loop never waits for the client.
 * - FE_HELLO_DBKEY: a trusted HTTP frontend asks for a connection on behalf of a bearer token it
 *   does not know; it sends only the token's SHA-256, checked here on every connection, so a
 *   revoked or expired key fails on its next request. The key's tenant must still exist in the
 *   policy (a reload may have removed it). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/keystore.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/xalloc.h"

#define KEYS_MSG_TIMEOUT_MS 5000

static pthread_mutex_t ks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct keystore *ks;

const char *keys_db_path(const struct broker *b)
{
	static char *own;

	if (b->o.keys_db)
		return b->o.keys_db;
	if (strcmp(b->o.socket_path, "/run/isol8/isol8d.sock") == 0)
		return KEYSTORE_DEFAULT_PATH;
	if (!own)
		own = xasprintf("%s.keys.db", b->o.socket_path);
	return own;
}

/* Opened on first use: a daemon whose keys nobody manages never creates the file. */
static struct keystore *store(const struct broker *b, struct isol8_err *err)
{
	struct keystore *s;

	pthread_mutex_lock(&ks_lock);
	if (!ks && keystore_open(keys_db_path(b), &ks, err) < 0)
		ks = NULL;
	s = ks;
	pthread_mutex_unlock(&ks_lock);
	return s;
}

static bool tenant_exists(struct broker *b, const char *name)
{
	bool found = false;

	pthread_rwlock_rdlock(&b->policy_lock);
	for (size_t i = 0; i < b->policy.n_tenants; i++)
		if (strcmp(b->policy.tenants[i].name, name) == 0)
			found = true;
	pthread_rwlock_unlock(&b->policy_lock);
	return found;
}

int keys_principal(struct broker *b, const struct keystore_key *k, int *tenant, char *principal, size_t plen,
		   uid_t frontend_uid, struct isol8_err *err)
{
	/* Called from the main loop, which alone replaces the policy: no lock needed to read it. */
	for (size_t i = 0; i < b->policy.n_tenants; i++) {
		if (strcmp(b->policy.tenants[i].name, k->tenant) == 0) {
			*tenant = (int)i;
			/* Sessions belong to this key: its id is unique, its name need not be. */
			snprintf(principal, plen, "dbkey:%.40s@%u#%s", k->name, (unsigned)frontend_uid, k->id);
			return 0;
		}
	}
	log_warn("API key %s (%s): its tenant '%s' is not in the policy", k->id, k->name, k->tenant);
	return isol8_err_set(err, ISOL8_E_AUTH, 0, "Invalid API key");
}

int keys_authenticate(struct broker *b, const char *hash_hex, int *tenant, char *principal, size_t plen,
		      uid_t frontend_uid, struct isol8_err *err)
{
	struct keystore_key k;
	struct keystore *s;

	if (strlen(hash_hex) != 64 || strspn(hash_hex, "0123456789abcdef") != 64)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "invalid key hash: 64 lowercase hex digits");
	s = store(b, err);
	if (!s || keystore_validate(s, hash_hex, &k, err) < 0)
		return -1;
	return keys_principal(b, &k, tenant, principal, plen, frontend_uid, err);
}

struct keys_job {
	struct broker *b;
	int fd;
	char *only_tenant; /* NULL: root, every tenant */
};

static void reply_error(int fd, const struct isol8_err *e)
{
	struct isol8_buf p = ISOL8_BUF_INIT;
	struct isol8_err e2 = ISOL8_ERR_INIT;

	isol8_put_u16(&p, (uint16_t)(e->code ? e->code : ISOL8_E_INTERNAL));
	isol8_put_str(&p, e->msg);
	isol8_ipc_send_buf(fd, WK_ERROR, 0, &p, NULL, 0, &e2);
	isol8_buf_free(&p);
}

static int reply_json(int fd, const struct isol8_buf *json, struct isol8_err *err)
{
	_cleanup_close_ int mfd = memfd_create("isol8-keys", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (mfd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "memfd_create");
	while (off < json->len) {
		ssize_t w = write(mfd, json->data + off, json->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "write memfd");
		off += (size_t)w;
	}
	if (lseek(mfd, 0, SEEK_SET) < 0 || isol8_memfd_seal(mfd, err) < 0)
		return -1;
	return isol8_ipc_send(fd, WK_FILE, 0, NULL, 0, &mfd, 1, err);
}

static int serve_one(struct broker *b, const char *only, struct isol8_msg *m, struct isol8_buf *out,
		     struct isol8_err *err)
{
	_cleanup_free_ char *name = NULL, *tenant = NULL, *id = NULL;
	uint8_t action;
	uint64_t ttl;
	struct keystore *s = NULL;
	bool pg;

	if (isol8_get_u8(m, &action, err) < 0 || isol8_get_str(m, &name, ISOL8_MAX_KEY_NAME, err) < 0 ||
	    isol8_get_str(m, &tenant, ISOL8_MAX_TENANT, err) < 0 || isol8_get_u64(m, &ttl, err) < 0 ||
	    isol8_get_str(m, &id, 36, err) < 0 || isol8_msg_end(m, err) < 0)
		return -1;
	if (action == 0 || action >= KEYS__MAX)
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "unknown keys action %u", action);
	if (only && *tenant && strcmp(tenant, only) != 0)
		return isol8_err_set(err, ISOL8_E_POLICY, 0, "this key manages the keys of tenant %s only", only);
	if (only && !*tenant) {
		free(tenant);
		tenant = xstrdup(only);
	}
	pg = keys_pg_enabled(b);
	if (!pg && !(s = store(b, err)))
		return -1;
	switch (action) {
	case KEYS_CREATE:
	case KEYS_LOGIN: {
		char key[KEYSTORE_KEY_LEN + 1];
		struct keystore_key k;
		if (!*name || !isol8_valid_session_name(name))
			return isol8_err_set(
				err, ISOL8_E_USAGE, 0,
				"name is required: 1-%u characters from A-Z a-z 0-9 _ . - (not starting with . or -)",
				ISOL8_MAX_KEY_NAME);
		if (!*tenant)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "tenant is required");
		if (!tenant_exists(b, tenant))
			return isol8_err_set(err, ISOL8_E_USAGE, 0,
					     "no tenant '%s' in the policy (see isol8-policy(5))", tenant);
		if ((pg ? keys_pg_create(name, tenant, ttl, key, &k, err)
			: keystore_create(s, name, tenant, ttl, key, &k, err)) < 0)
			return -1;
		if (action == KEYS_LOGIN) {
			isol8_buf_printf(out, "{\"token\":\"%s\",\"expiresAt\":\"%s\",\"keyId\":\"%s\"}", key,
					 k.expires, k.id);
		} else {
			keystore_key_json(&k, out);
			/* The secret is shown this once: the object gains "key" before its end. */
			out->len--;
			isol8_buf_printf(out, ",\"key\":\"%s\"}", key);
		}
		explicit_bzero(key, sizeof key);
		log_info("API key %s (%s) created for tenant %s", k.id, k.name, k.tenant);
		return 0;
	}
	case KEYS_LIST:
		return pg ? keys_pg_list(tenant, out, err) : keystore_list(s, *tenant ? tenant : NULL, out, err);
	case KEYS_REVOKE:
		if ((pg ? keys_pg_revoke(id, only ? only : "", err) : keystore_revoke(s, id, only, err)) < 0)
			return -1;
		log_info("API key %s revoked", id);
		isol8_buf_printf(out, "{\"ok\":true,\"id\":\"%s\"}", id);
		return 0;
	case KEYS_PURGE: {
		unsigned n = 0;
		if ((pg ? keys_pg_purge(only ? only : "", &n, err) : keystore_purge(s, only, &n, err)) < 0)
			return -1;
		isol8_buf_printf(out, "{\"ok\":true,\"removed\":%u}", n);
		return 0;
	}
	}
	return isol8_err_set(err, ISOL8_E_PROTO, 0, "unknown keys action %u", action);
}

static void *keys_main(void *arg)
{
	struct keys_job *j = arg;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_msg m = {0};
	struct isol8_buf out = ISOL8_BUF_INIT;
	struct pollfd pf = {.fd = j->fd, .events = POLLIN};
	int r = -1;

	if (poll(&pf, 1, KEYS_MSG_TIMEOUT_MS) <= 0)
		isol8_err_set(&err, ISOL8_E_TIMEOUT, 0, "no keys request within %d ms", KEYS_MSG_TIMEOUT_MS);
	else if (isol8_ipc_recv(j->fd, &m, &err) > 0 &&
		 isol8_proto_check(PEER_BROKER, PEER_FRONTEND, &m, NULL, &err) == 0 && m.type == FE_KEYS)
		r = serve_one(j->b, j->only_tenant, &m, &out, &err);
	else if (!err.code)
		isol8_err_set(&err, ISOL8_E_PROTO, 0, "expected a keys request");
	if (r == 0 && reply_json(j->fd, &out, &err) < 0)
		r = -1;
	if (r < 0)
		reply_error(j->fd, &err);
	/* Created keys were in this buffer. */
	if (out.data)
		explicit_bzero(out.data, out.len);
	isol8_buf_free(&out);
	isol8_msg_free(&m);
	close(j->fd);
	free(j->only_tenant);
	free(j);
	return NULL;
}

void keys_serve(struct broker *b, int fd, const char *tenant)
{
	struct keys_job *j = xcalloc(1, sizeof *j);
	pthread_attr_t attr;
	pthread_t th;

	j->b = b;
	j->fd = fd;
	j->only_tenant = tenant ? xstrdup(tenant) : NULL;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, keys_main, j) != 0) {
		close(fd);
		free(j->only_tenant);
		free(j);
	}
	pthread_attr_destroy(&attr);
}
