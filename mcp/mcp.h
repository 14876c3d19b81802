/* `isol8 mcp`: a Model Context Protocol server on stdin/stdout (newline-delimited JSON-RPC
 * 2.0, MCP's stdio transport). It runs as the calling user and reaches isol8d over its socket
 * like the CLI does, so every tool call is made under the caller's identity (SO_PEERCRED) and
 * tenant policy; it never talks to Docker. server.c: the protocol; tools.c: the tools and the
 * runtimes resource. */
#ifndef ISOL8_MCP_MCP_H
#define ISOL8_MCP_MCP_H

#include <json-c/json.h>

#include "common/err.h"

struct mcp {
	const char *socket; /* isol8d's socket path */
};

/* The tools/list answer's array (a new reference). */
json_object *mcp_tools_list(void);
/* tools/call: a CallToolResult ({content, isError, structuredContent?}), or NULL with err for
 * a protocol error (unknown tool, arguments not an object: JSON-RPC -32602). Failures of the
 * call itself (refused by policy, bad code path, no such session) are results with isError. */
json_object *mcp_tools_call(const struct mcp *m, const char *name, json_object *args, struct isol8_err *err);
/* resources/list and resources/read (NULL with err for an unknown uri). */
json_object *mcp_resources_list(void);
json_object *mcp_resource_read(const char *uri, struct isol8_err *err);

#endif
