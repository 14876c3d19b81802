/* The /auth endpoints: the original's key management over isol8d's key store (broker/keys.c).
 *
 *   POST   /auth/keys      {"name", "tenantId"?, "ttlMs"?} -> 201 {id,key,name,keyPrefix,tenantId,expiresAt,...}
 *   GET    /auth/keys      ?tenantId= -> {"keys":[...]}
 *   DELETE /auth/keys/:id  -> {"ok":true,"id"} | 404 {"error":"Key not found"}
 *   POST   /auth/login     {"name"?, "tenantId"?, "ttlMs"?} -> {"token","expiresAt","keyId"}
 *
 * Only a static key of this server (keys file, --key: the original's master key) may call them,
 * and isol8d lets it manage its own tenant's keys only; a key of the store gets 403. The server
 * never touches the database: each call is one FE_KEYS to isol8d. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/broker_conn.h"
#include "cli/broker_requests.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "http/reply.h"

#define AUTH_BODY_MAX 4096u

static int keys_call(const struct http_call *call, uint8_t action, const char *name, const char *tenant, uint64_t ttl,
		     const char *id, json_object **answer, struct isol8_err *err)
{
	_cleanup_close_ int sock = http_broker_open(call->conf, HELLO_KEYS, "", call->key, err);

	if (sock < 0)
		return -1;
	return broker_keys_request(sock, action, name, tenant, ttl, id, 1u << 24, answer, err);
}

/* {"name","tenantId","ttlMs"} of POST bodies; an empty body is {}. */
static int body_fields(const struct http_call *call, const char **name, const char **tenant, uint64_t *ttl,
		       json_object **root, struct isol8_err *err)
{
	static const char *const keys[] = {"name", "tenantId", "ttlMs", NULL};
	json_object *v;

	*root = NULL;
	if (call->body_len == 0)
		return 0;
	if (call->body_len > AUTH_BODY_MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "body larger than %u bytes", AUTH_BODY_MAX);
	*root = isol8_json_parse(call->body, call->body_len, AUTH_BODY_MAX, err);
	if (!*root)
		return isol8_err_wrap(err, "invalid JSON body");
	if (isol8_json_expect_type(*root, json_type_object, "body", err) < 0 ||
	    isol8_json_check_keys(*root, "", keys, err) < 0)
		return -1;
	if (isol8_json_member(*root, "name", &v) == 1 && isol8_json_as_string(v, "name", name, err) < 0)
		return -1;
	if (isol8_json_member(*root, "tenantId", &v) == 1 && isol8_json_as_string(v, "tenantId", tenant, err) < 0)
		return -1;
	if (isol8_json_member(*root, "ttlMs", &v) == 1 &&
	    isol8_json_as_u64(v, "ttlMs", 1, 10ull * 365 * 24 * 3600 * 1000, ttl, err) < 0)
		return -1;
	return 0;
}

enum MHD_Result http_handle_auth(struct http_call *call, int what)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *name = NULL, *tenant = NULL;
	json_object *root = NULL, *a = NULL;
	char login_name[48];
	uint64_t ttl = 0;
	int r = -1;

	/* A key of the store may not mint more of them. */
	if (call->key->dbhash)
		return http_reply_error(call->conn, MHD_HTTP_FORBIDDEN, "Master key required for this operation");
	switch (what) {
	case HTTP_AUTH_CREATE:
		if (body_fields(call, &name, &tenant, &ttl, &root, &err) < 0)
			break;
		if (!name || !*name) {
			isol8_err_set(&err, ISOL8_E_USAGE, 0, "name is required");
			break;
		}
		r = keys_call(call, KEYS_CREATE, name, tenant, ttl, NULL, &a, &err);
		break;
	case HTTP_AUTH_LIST:
		tenant = MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, "tenantId");
		r = keys_call(call, KEYS_LIST, NULL, tenant, 0, NULL, &a, &err);
		break;
	case HTTP_AUTH_REVOKE:
		/* Ids are UUIDs: anything longer names no key (and would not fit the message). */
		if (strlen(call->arg) > 36)
			return http_reply_error(call->conn, MHD_HTTP_NOT_FOUND, "Key not found");
		r = keys_call(call, KEYS_REVOKE, NULL, NULL, 0, call->arg, &a, &err);
		break;
	case HTTP_AUTH_LOGIN:
		if (body_fields(call, &name, &tenant, &ttl, &root, &err) < 0)
			break;
		if (!name) {
			snprintf(login_name, sizeof login_name, "login-%lld", (long long)time(NULL));
			name = login_name;
		}
		r = keys_call(call, KEYS_LOGIN, name, tenant, ttl, NULL, &a, &err);
		break;
	}
	if (root)
		json_object_put(root);
	if (r < 0)
		return http_reply_err(call->conn, &err);
	return http_reply_json(call->conn, what == HTTP_AUTH_CREATE ? MHD_HTTP_CREATED : MHD_HTTP_OK, a);
}
