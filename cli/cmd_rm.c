/* `isol8 rm [--json] ID` and `isol8 rm --list [--json]`: the caller's persisted sandboxes
 * (isol8 run --persist). isol8d answers from its own table for the caller it identified
 * (SO_PEERCRED): another user's container is "not found" like one that does not exist.
 * `isol8 cleanup --container ID` comes here too (kept_remove). */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/proto.h"
#include "cli/broker_conn.h"
#include "cli/cli.h"

#define KEPT_MAX_TEXT (64u * 1024u)

/* One JSON object on stdout for --json, also on failure: {"error", "code", "exitCode"}. */
static int fail(bool json, const struct isol8_err *err)
{
	int status = cli_fail(err);

	if (json) {
		json_object *o = cli_json_error(err, status);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	return status;
}

static int usage_fail(bool json, const char *msg)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	isol8_err_set(&err, ISOL8_E_USAGE, 0, "%s", msg);
	return fail(json, &err);
}

bool kept_valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 12 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int kept_remove(const char *socket, const char *id, bool json)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf b = ISOL8_BUF_INIT;
	_cleanup_close_ int sock = -1;
	struct isol8_msg m;
	int r;

	if (!kept_valid_id(id)) {
		char msg[200];
		snprintf(msg, sizeof msg,
			 "'%.64s' is not a container id: give 12 to 64 lowercase hex digits (see 'isol8 rm --list')",
			 id);
		return usage_fail(json, msg);
	}
	sock = broker_open(broker_socket_path(socket), HELLO_KEPT, "", &err);
	if (sock < 0)
		return fail(json, &err);
	isol8_put_str(&b, id);
	r = broker_send_buf(sock, FE_KEPT_REMOVE, &b, NULL, 0, &err);
	isol8_buf_free(&b);
	if (r < 0 || broker_expect(sock, WK_OK, &m, &err) < 0)
		return fail(json, &err);
	isol8_msg_free(&m);
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "removed", json_object_new_string(id));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("[OK] Container %s removed.\n", id);
	}
	return 0;
}

static int print_kept(json_object *arr)
{
	size_t n = json_object_array_length(arr);

	if (n == 0) {
		puts("[INFO] No kept containers.");
		return 0;
	}
	printf("%-12s  %-19s  %s\n", "CONTAINER", "REMOVED AT", "IN");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i), *v;
		const char *id = "-";
		long long left = 0;
		char when[32] = "-";
		time_t t;
		struct tm tm;

		if (isol8_json_member(e, "id", &v) == 1 && json_object_is_type(v, json_type_string))
			id = json_object_get_string(v);
		if (isol8_json_member(e, "expiresInMs", &v) == 1 && json_object_is_type(v, json_type_int))
			left = (long long)json_object_get_int64(v);
		t = time(NULL) + (time_t)(left / 1000);
		if (localtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-12.12s  %-19s  %llds\n", id, when, left / 1000);
	}
	return 0;
}

static int kept_list(const char *socket, bool json)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = -1;
	struct isol8_msg m;
	json_object *arr;

	sock = broker_open(broker_socket_path(socket), HELLO_KEPT, "", &err);
	if (sock < 0)
		return fail(json, &err);
	if (broker_send(sock, FE_KEPT_LIST, NULL, 0, NULL, 0, &err) < 0 ||
	    broker_expect(sock, WK_SESSIONS, &m, &err) < 0)
		return fail(json, &err);
	arr = isol8_json_parse((const char *)m.payload, m.len, KEPT_MAX_TEXT, &err);
	isol8_msg_free(&m);
	if (arr && !json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		arr = NULL;
		isol8_err_set(&err, ISOL8_E_PROTO, 0, "expected an array");
	}
	if (!arr) {
		isol8_err_wrap(&err, "malformed list of kept containers from isol8d");
		return fail(json, &err);
	}
	if (json)
		puts(json_object_to_json_string_ext(
			arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_kept(arr);
	json_object_put(arr);
	return 0;
}

int cmd_rm(int argc, char **argv)
{
	const char *socket = NULL, *id = NULL;
	bool json = false, list = false;
	char msg[200];

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = true;
	if (cli_wants_help(argc, argv)) {
		usage_command("rm", stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "--json") == 0) {
			continue;
		} else if (strcmp(s, "--list") == 0 || strcmp(s, "-l") == 0) {
			list = true;
		} else if (strcmp(s, "--socket") == 0) {
			if (i + 1 >= argc)
				return usage_fail(json, "option '--socket' requires a value");
			socket = argv[++i];
		} else if (strncmp(s, "--socket=", 9) == 0) {
			socket = s + 9;
		} else if (s[0] == '-' && s[1]) {
			static const char *const names[] = {"--list", "--json", "--socket", NULL};
			if (!json)
				return cli_unknown("option", s, names, NULL, " (rm takes --list, --json and --socket)");
			snprintf(msg, sizeof msg, "unknown option '%.64s' (rm takes --list, --json and --socket)", s);
			return usage_fail(json, msg);
		} else if (!id) {
			id = s;
		} else {
			snprintf(msg, sizeof msg, "rm takes one container id (got '%.64s' too)", s);
			return usage_fail(json, msg);
		}
	}
	if (list && id)
		return usage_fail(json, "rm --list takes no container id");
	if (list)
		return kept_list(socket, json);
	if (!id)
		return usage_fail(json, "rm needs the id of a kept container (list yours with 'isol8 rm --list')");
	return kept_remove(socket, id, json);
}
