/* `isol8 session list [--json]` and `isol8 session stop NAME`. */
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
#include "cli/remote.h" /* http */

#define SESSIONS_MAX_TEXT (64u * 1024u)

struct session_args {
	const char *socket;
	const char *name;
	bool json;
	const char *host, *key; /* http: remote isol8 serve */
};

/* Flags shared by the session subcommands: --json (list only), --socket PATH; one positional. */
static int parse(int argc, char **argv, bool allow_json, struct session_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (allow_json && strcmp(s, "--json") == 0) {
			a->json = true;
		} else if (strcmp(s, "--socket") == 0 && i + 1 < argc) {
			a->socket = argv[++i];
		} else if (strncmp(s, "--socket=", 9) == 0) {
			a->socket = s + 9;
		} else if (strcmp(s, "--host") == 0 && i + 1 < argc) { /* http */
			a->host = argv[++i];
		} else if (strncmp(s, "--host=", 7) == 0) {
			a->host = s + 7;
		} else if (strcmp(s, "--key") == 0 && i + 1 < argc) {
			a->key = argv[++i];
		} else if (strncmp(s, "--key=", 6) == 0) {
			a->key = s + 6;
		} else if (s[0] == '-' && s[1]) {
			static const char *const with_json[] = {"--json", "--socket", "--host", "--key", NULL};
			return cli_unknown("option", s, allow_json ? with_json : with_json + 1, NULL, NULL);
		} else if (!a->name) {
			a->name = s;
		} else {
			return cli_usage_error("too many arguments: '%s'", s);
		}
	}
	return 0;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (isol8_json_member(o, key, &v) == 1 && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "-";
}

/* Timestamps arrive as ms since the epoch (number) or as text; shown in local time. */
static void jtime(json_object *o, const char *key, char *out, size_t n)
{
	json_object *v;

	snprintf(out, n, "-");
	if (isol8_json_member(o, key, &v) != 1)
		return;
	if (json_object_is_type(v, json_type_int)) {
		time_t t = (time_t)(json_object_get_int64(v) / 1000);
		struct tm tm;
		if (localtime_r(&t, &tm))
			strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
	} else if (json_object_is_type(v, json_type_string)) {
		snprintf(out, n, "%s", json_object_get_string(v));
	}
}

static int print_sessions(json_object *arr, bool as_json)
{
	size_t n = json_object_array_length(arr);

	if (as_json) {
		puts(json_object_to_json_string_ext(
			arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
		return 0;
	}
	if (n == 0) {
		puts("[INFO] No active sessions.");
		return 0;
	}
	printf("\n  %zu active session(s):\n\n", n);
	printf("  %-24s %-8s %-14s %-20s %s\n", "ID", "RUNTIME", "CONTAINER", "CREATED", "LAST USED");
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i);
		char created[64], used[64];
		if (!json_object_is_type(s, json_type_object))
			continue;
		jtime(s, "createdAt", created, sizeof created);
		jtime(s, "lastUsedAt", used, sizeof used);
		printf("  %-24s %-8s %-14.12s %-20s %s\n", jstr(s, "id"), jstr(s, "runtime"), jstr(s, "containerId"),
		       created, used);
	}
	return 0;
}

static int session_list(struct session_args *a)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	_cleanup_close_ int sock = -1;
	struct isol8_msg m;
	json_object *arr;
	int r;

	if (a->host) { /* http: remote isol8 serve */
		arr = remote_session_list(a->host, a->key, &err);
		if (!arr)
			return isol8_err_exit_status(err.code) == 2 ? cli_fail(&err) : (cli_fail(&err), 1);
		r = print_sessions(arr, a->json);
		json_object_put(arr);
		return r;
	}
	sock = broker_open(broker_socket_path(a->socket), HELLO_SESSION_LIST, "", &err);
	if (sock < 0)
		return cli_fail(&err);
	if (broker_send(sock, FE_SESSION_LIST, NULL, 0, NULL, 0, &err) < 0 ||
	    broker_expect(sock, WK_SESSIONS, &m, &err) < 0)
		return cli_fail(&err);
	arr = isol8_json_parse((const char *)m.payload, m.len, SESSIONS_MAX_TEXT, &err);
	isol8_msg_free(&m);
	if (!arr) {
		isol8_err_wrap(&err, "malformed session list from isol8d");
		return cli_fail(&err);
	}
	if (!json_object_is_type(arr, json_type_array)) {
		json_object_put(arr);
		isol8_err_set(&err, ISOL8_E_PROTO, 0, "malformed session list from isol8d: expected an array");
		return cli_fail(&err);
	}
	r = print_sessions(arr, a->json);
	json_object_put(arr);
	return r;
}

static int session_stop(struct session_args *a)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf b = ISOL8_BUF_INIT;
	_cleanup_close_ int sock = -1;
	struct isol8_msg m;
	int r;

	if (!a->name)
		return cli_usage_error("session stop needs a session name");
	if (!isol8_valid_session_name(a->name))
		return cli_usage_error("Invalid session id '%s'", a->name);
	if (a->host) { /* http: remote isol8 serve */
		if (remote_session_stop(a->host, a->key, a->name, &err) < 0)
			return cli_fail(&err);
		printf("[OK] Session \"%s\" destroyed.\n", a->name);
		return 0;
	}
	sock = broker_open(broker_socket_path(a->socket), HELLO_SESSION_STOP, a->name, &err);
	if (sock < 0)
		return cli_fail(&err);
	isol8_put_str(&b, a->name);
	r = broker_send_buf(sock, FE_SESSION_STOP, &b, NULL, 0, &err);
	isol8_buf_free(&b);
	if (r < 0 || broker_expect(sock, WK_OK, &m, &err) < 0)
		return cli_fail(&err);
	isol8_msg_free(&m);
	printf("[OK] Session \"%s\" destroyed.\n", a->name);
	return 0;
}

int cmd_session(int argc, char **argv)
{
	struct session_args a = {0};
	const char *sub = argc > 1 ? argv[1] : NULL;
	int r;

	if (cli_wants_help(argc, argv)) {
		usage_command("session", stdout);
		return 0;
	}
	if (!sub)
		return cli_usage_error("session needs a command: list or stop");
	if (strcmp(sub, "list") == 0) {
		if ((r = parse(argc - 1, argv + 1, true, &a)) != 0)
			return r;
		if (a.name)
			return cli_usage_error("session list takes no arguments");
		return session_list(&a);
	}
	if (strcmp(sub, "stop") == 0) {
		if ((r = parse(argc - 1, argv + 1, false, &a)) != 0)
			return r;
		return session_stop(&a);
	}
	static const char *const subs[] = {"list", "stop", NULL};
	return cli_unknown("session command", sub, subs, "session", " (expected list or stop)");
}
