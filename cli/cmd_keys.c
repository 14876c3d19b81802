/* `isol8 keys create|list|revoke|purge`: the API key store of isol8d (broker/keystore.h), for
 * the admin (root) over the daemon's socket. The daemon keeps the database; this command only
 * sends one FE_KEYS and prints the JSON answer. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/broker_conn.h"
#include "cli/broker_requests.h"
#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "common/xalloc.h"

static const char keys_text[] =
	"Usage: isol8 keys create --name NAME --tenant TENANT [--ttl DURATION] [--json]\n"
	"       isol8 keys list [--tenant TENANT] [--json]\n"
	"       isol8 keys revoke ID\n"
	"       isol8 keys purge\n"
	"\n"
	"API keys for isol8 serve, kept by isol8d (root only). A key is shown once, when it is\n"
	"created; isol8d stores only its SHA-256. A revoked or expired key is refused on its next\n"
	"request. The tenant must exist in the policy; its ceilings apply to the key.\n"
	"  --ttl DURATION  lifetime: 90d, 12h, 30m, 45s or milliseconds (default 30d)\n"
	"  --json          print isol8d's answer as JSON\n"
	"  --socket PATH   isol8d socket ($ISOL8_SOCKET, /run/isol8/isol8d.sock)\n";

/* "90d", "12h", "30m", "45s", "1500ms" or plain milliseconds. */
static int parse_ttl(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	if (strcmp(end, "d") == 0)
		mul = 86400000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (*end && strcmp(end, "ms") != 0)
		return -1;
	if (v == 0 || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int call(const char *socket, uint8_t action, const char *name, const char *tenant, uint64_t ttl, const char *id,
		json_object **answer, struct isol8_err *err)
{
	_cleanup_close_ int sock = broker_open(broker_socket_path(socket), HELLO_KEYS, "", err);

	if (sock < 0)
		return -1;
	return broker_keys_request(sock, action, name, tenant, ttl, id, 1u << 26, answer, err);
}

static const char *str(json_object *o, const char *k)
{
	json_object *v;

	return isol8_json_member(o, k, &v) == 1 && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
											    : "";
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int cmd_keys(int argc, char **argv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *sub, *name = NULL, *tenant = NULL, *socket = NULL, *id = NULL;
	json_object *a = NULL, *list, *v;
	uint64_t ttl = 0;
	bool json = false;
	uint8_t action;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(keys_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	if (strcmp(sub, "create") == 0)
		action = KEYS_CREATE;
	else if (strcmp(sub, "list") == 0)
		action = KEYS_LIST;
	else if (strcmp(sub, "revoke") == 0)
		action = KEYS_REVOKE;
	else if (strcmp(sub, "purge") == 0)
		action = KEYS_PURGE;
	else {
		static const char *const subs[] = {"create", "list", "revoke", "purge", NULL};
		return cli_unknown("keys command", sub, subs, "keys", " (create, list, revoke or purge)");
	}
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(o, "--json") == 0)
			json = true;
		else if (strcmp(o, "--name") == 0 && has && action == KEYS_CREATE)
			name = argv[++i];
		else if (strcmp(o, "--tenant") == 0 && has && (action == KEYS_CREATE || action == KEYS_LIST))
			tenant = argv[++i];
		else if (strcmp(o, "--socket") == 0 && has)
			socket = argv[++i];
		else if (strcmp(o, "--ttl") == 0 && has && action == KEYS_CREATE) {
			if (parse_ttl(argv[++i], &ttl) < 0)
				return cli_usage_error("--ttl '%s': use 90d, 12h, 30m, 45s or milliseconds", argv[i]);
		} else if (o[0] != '-' && action == KEYS_REVOKE && !id)
			id = o;
		else
			return cli_usage_error("keys %s: unexpected argument '%s' (see isol8 keys --help)", sub, o);
	}
	if (action == KEYS_CREATE && (!name || !tenant))
		return cli_usage_error("keys create needs --name NAME and --tenant TENANT");
	if (action == KEYS_REVOKE && !id)
		return cli_usage_error("keys revoke needs the key's ID (isol8 keys list shows them)");
	if (action == KEYS_REVOKE && strlen(id) > 36) {
		isol8_err_set(&err, ISOL8_E_NOTFOUND, 0, "Key not found");
		return cli_fail(&err);
	}
	if (call(socket, action, name, tenant, ttl, id, &a, &err) < 0)
		return cli_fail(&err);
	if (json) {
		print_json(a);
	} else if (action == KEYS_CREATE) {
		printf("[OK] API key %s created for tenant %s\n", str(a, "id"), str(a, "tenantId"));
		printf("  Key:     %s\n", str(a, "key"));
		printf("  Expires: %s\n", str(a, "expiresAt"));
		fputs("  The key is shown only now; isol8d keeps only its hash.\n", stderr);
	} else if (action == KEYS_LIST) {
		if (isol8_json_member(a, "keys", &list) != 1 || !json_object_is_type(list, json_type_array) ||
		    json_object_array_length(list) == 0) {
			puts("[INFO] No API keys.");
		} else {
			printf("%-36s  %-16s  %-12s  %-13s  %-24s  %-24s  %s\n", "ID", "NAME", "TENANT", "PREFIX",
			       "EXPIRES", "LAST USED", "STATUS");
			for (size_t i = 0; i < json_object_array_length(list); i++) {
				json_object *k = json_object_array_get_idx(list, i);
				bool revoked = isol8_json_member(k, "revoked", &v) == 1 && json_object_get_boolean(v);
				printf("%-36s  %-16s  %-12s  %-13s  %-24s  %-24s  %s\n", str(k, "id"), str(k, "name"),
				       str(k, "tenantId"), str(k, "keyPrefix"), str(k, "expiresAt"),
				       *str(k, "lastUsedAt") ? str(k, "lastUsedAt") : "never",
				       revoked ? "revoked" : "active");
			}
		}
	} else if (action == KEYS_REVOKE) {
		printf("[OK] API key %s revoked\n", str(a, "id"));
	} else {
		int64_t n = isol8_json_member(a, "removed", &v) == 1 ? json_object_get_int64(v) : 0;
		printf("[OK] %lld revoked or expired key%s removed\n", (long long)n, n == 1 ? "" : "s");
	}
	json_object_put(a);
	return 0;
}
