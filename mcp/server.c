/* `isol8 mcp`: JSON-RPC over stdio, initialize/ping/tools/resources (contract in mcp.h).
 *
 * One request at a time, in order: a long run delays the next answer, which MCP allows. Input
 * lines are capped (MCP_LINE_MAX); a line that is not JSON gets a -32700 error and the server
 * reads on. Nothing but protocol messages goes to stdout; diagnostics go to stderr. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/broker_conn.h"
#include "cli/cli.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "mcp/mcp.h"

#define MCP_LINE_MAX (32u * 1024u * 1024u)
#define MCP_LATEST "2025-06-18"

/* Versions this server speaks (the tools, resources and result shapes are the same in each). */
static const char *const versions[] = {MCP_LATEST, "2025-03-26", "2024-11-05"};

static void send_msg(json_object *msg)
{
	size_t n;
	const char *t = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
							  &n);

	fwrite(t, 1, n, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	json_object_put(msg);
}

static void reply(json_object *id, json_object *result)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(m, "id", id ? json_object_get(id) : NULL);
	json_object_object_add(m, "result", result);
	send_msg(m);
}

static void reply_error(json_object *id, int code, const char *msg)
{
	json_object *m = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(m, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(m, "id", id ? json_object_get(id) : NULL);
	json_object_object_add(m, "error", e);
	send_msg(m);
}

static json_object *initialize(json_object *params)
{
	json_object *r = json_object_new_object(), *caps = json_object_new_object(), *info = json_object_new_object(),
		    *v;
	const char *want = NULL, *use = MCP_LATEST;

	if (params && isol8_json_member(params, "protocolVersion", &v) == 1 && json_object_is_type(v, json_type_string))
		want = json_object_get_string(v);
	for (size_t i = 0; want && i < sizeof versions / sizeof versions[0]; i++)
		if (strcmp(want, versions[i]) == 0)
			use = versions[i];
	json_object_object_add(r, "protocolVersion", json_object_new_string(use));
	json_object_object_add(caps, "tools", json_object_new_object());
	json_object_object_add(caps, "resources", json_object_new_object());
	json_object_object_add(r, "capabilities", caps);
	json_object_object_add(info, "name", json_object_new_string("isol8"));
	json_object_object_add(info, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(r, "serverInfo", info);
	json_object_object_add(
		r, "instructions",
		json_object_new_string("Runs code in isol8 sandboxes under your account's policy. Use execute "
				       "for one-off runs; session_create/session_run/session_stop to keep "
				       "state between runs; file_put/file_get to move files in a session."));
	return r;
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v;

	if (o && isol8_json_member(o, key, &v) == 1 && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static void handle(const struct mcp *m, json_object *msg)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *id = NULL, *params = NULL, *r;
	const char *method = str_member(msg, "method");
	bool has_id = isol8_json_member(msg, "id", &id) == 1;

	if (isol8_json_member(msg, "params", &params) != 1)
		params = NULL;
	if (!method) {
		/* A response to us (we send no requests) or garbage without a method. */
		if (has_id && isol8_json_member(msg, "result", &r) != 1 && isol8_json_member(msg, "error", &r) != 1)
			reply_error(id, -32600, "Invalid Request: no method");
		return;
	}
	if (!has_id)
		return; /* notifications: initialized, cancelled, ... need no answer */
	if (strcmp(method, "initialize") == 0) {
		reply(id, initialize(params));
	} else if (strcmp(method, "ping") == 0) {
		reply(id, json_object_new_object());
	} else if (strcmp(method, "tools/list") == 0) {
		r = json_object_new_object();
		json_object_object_add(r, "tools", mcp_tools_list());
		reply(id, r);
	} else if (strcmp(method, "tools/call") == 0) {
		const char *name = str_member(params, "name");
		json_object *args = NULL;
		if (!name)
			return reply_error(id, -32602, "tools/call: params.name must be a string");
		if (isol8_json_member(params, "arguments", &args) != 1)
			args = NULL;
		r = mcp_tools_call(m, name, args, &err);
		if (!r)
			return reply_error(id, -32602, err.msg);
		reply(id, r);
	} else if (strcmp(method, "resources/list") == 0) {
		r = json_object_new_object();
		json_object_object_add(r, "resources", mcp_resources_list());
		reply(id, r);
	} else if (strcmp(method, "resources/templates/list") == 0) {
		r = json_object_new_object();
		json_object_object_add(r, "resourceTemplates", json_object_new_array());
		reply(id, r);
	} else if (strcmp(method, "resources/read") == 0) {
		const char *uri = str_member(params, "uri");
		r = uri ? mcp_resource_read(uri, &err) : NULL;
		if (!r)
			return reply_error(id, -32602, uri ? err.msg : "resources/read: params.uri must be a string");
		reply(id, r);
	} else {
		reply_error(id, -32601, "Method not found");
	}
}

int cmd_mcp(int argc, char **argv)
{
	struct mcp m = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			m.socket = argv[++i];
		else if (strncmp(argv[i], "--socket=", 9) == 0)
			m.socket = argv[i] + 9;
		else
			return cli_unknown("argument", argv[i], (const char *const[]){"--socket", NULL}, NULL,
					   " (isol8 mcp [--socket PATH]; it speaks MCP on stdin/stdout)");
	}
	m.socket = broker_socket_path(m.socket);
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		struct isol8_err err = ISOL8_ERR_INIT;
		json_object *msg;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		msg = isol8_json_parse(line, (size_t)n, MCP_LINE_MAX, &err);
		if (!msg) {
			reply_error(NULL, -32700, "Parse error: not a JSON message");
			continue;
		}
		if (!json_object_is_type(msg, json_type_object))
			reply_error(NULL, -32600,
				    "Invalid Request: expected a JSON object (batches are not supported)");
		else
			handle(&m, msg);
		json_object_put(msg);
	}
	free(line);
	return 0;
}
