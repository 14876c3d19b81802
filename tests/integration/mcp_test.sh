#!/bin/bash
# `isol8 mcp` driven by the official MCP client SDK (@modelcontextprotocol/sdk, from the npm
# registry, cached under the build dir) over stdio, against a real isol8d and engine: initialize,
# tools and resources, running python, reading errors, sessions and files, and that every call
# is the caller's (the CLI as the same user sees the session). TAP, final "N passed, N failed";
# exit 77 (skip) unless root, or without node and npm.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRC=${ISOL8_SRCDIR:-$here/../..}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "1..0 # SKIP node and npm are needed (scripts/deps.sh installs them)"
	exit 77
fi
# shellcheck source=../lib/daemon.sh
. "$SRC/tests/lib/daemon.sh"
daemon_setup mcp_test
docker image inspect isol8:python >/dev/null 2>&1 || bail "image isol8:python missing (isol8 setup)"

MCP_SDK_VERSION=1.32.2
NODE_DIR=$BUILDDIR/tests/mcp-client
if [ "$(jq -r .version "$NODE_DIR/node_modules/@modelcontextprotocol/sdk/package.json" 2>/dev/null)" != "$MCP_SDK_VERSION" ]; then
	mkdir -p "$NODE_DIR"
	[ -f "$NODE_DIR/package.json" ] || printf '{"name":"isol8-mcp-test","private":true}\n' >"$NODE_DIR/package.json"
	npm_config_cache=$NODE_DIR/.npm-cache npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent \
		"@modelcontextprotocol/sdk@$MCP_SDK_VERSION" >"$T_TMP/npm.log" 2>&1 ||
		bail "npm install @modelcontextprotocol/sdk@$MCP_SDK_VERSION failed: $(tail -5 "$T_TMP/npm.log")"
fi
cp "$SRC/tests/integration/mcp_client.mjs" "$NODE_DIR/"
daemon_start m || bail "isol8d did not start"

mcpc() { (cd "$NODE_DIR" && node mcp_client.mjs "$ISOL8" "${MCP_SOCK:-${D_SOCK[m]}}" "$@" 2>"$T_TMP/mcp.err"); }

case_list() {
	is "$(mcpc list)" 'server isol8 0.1.0 resources,tools
tools execute,session_create,session_run,session_stop,file_put,file_get
schemas true
resources isol8://runtimes application/json
runtimes python,node,bun,deno,bash,agent
ping ok' "initialize, tools/list, resources/list and read, ping"
}

case_execute() {
	is "$(mcpc execute)" 'python false "42\n--- exit code 0 ---" 0 python
bash false "out\n--- stderr ---\nerr\n--- exit code 3 ---"
files "from files\n--- exit code 0 ---"' "execute: python's output, stderr and exit code, files"
}

case_errors() {
	is "$(mcpc errors)" 'raise false ValueError: boom --- exit code 1 ---
runtime true Unknown runtime: "cobol"
missing true argument code is required
unknown-arg true arguments.bogus: unknown key
no-session true no session '"'mcp-none'"' (create it with session_create)
unknown-tool -32602 MCP error -32602: Unknown tool: nope' "errors: a program's traceback, refusals as isError, an unknown tool as -32602"
}

case_session() {
	is "$(mcpc session)" 'create false Session mcp-s1 (python) is ready. {"sessionId":"mcp-s1","runtime":"python"}
state false "42\n--- exit code 0 ---"
put false Wrote 10 bytes to notes/a.txt.
seen "hello file [0, 255, 0]\n--- exit code 0 ---"
get false hello file {"path":"/sandbox/notes/a.txt","encoding":"utf8","size":10}
get-bin AP8A base64
get-missing true' "sessions: state across runs, files in and out (text and base64)"
	# The session is the caller's: the CLI as the same user lists it.
	run_cap "$ISOL8" session list --socket "${D_SOCK[m]}" --json
	is "$(json_get "$OUT" '[.[] | select(.id == "mcp-s1") | .runtime]')" '["python"]' "the CLI (same user) sees the MCP session"
	is "$(mcpc stop)" 'stop false Session mcp-s1 stopped.
again false Session mcp-s1 was not running.
after true no session '"'mcp-s1'"' (create it with session_create)' "session_stop, twice, then the session is gone"
}

# network "filtered" with allow/deny: the same host patterns and policy ceiling as the CLI's
# --allow/--deny and HTTP's networkFilter; the test's server is on the bridge (tests/lib).
case_network_allow() {
	serve_on_bridge "hello-from-bridge"
	printf '%s allowed.test\n' "$GW" >"$T_TMP/hosts"
	jq --arg gw "$GW/32" --argjson port "$PORT" '.tenants[].networkFilter |= (.allowAddresses = [$gw] | .ports = [80, 443, $port])' \
		"$SRC/policy/default-policy.json" >"$T_TMP/net-policy.json" || bail "cannot write the policy"
	daemon_start net --proxy-hosts "$T_TMP/hosts" --policy "$T_TMP/net-policy.json" || return
	is "$(MCP_SOCK=${D_SOCK[net]} mcpc network "$PORT")" 'allowed false "hello-from-bridge\n--- exit code 0 ---"
no-allow false "403 host not allowed: allowed.test (isol8 network policy)\n--- exit code 0 ---"
denied false "403 host not allowed: allowed.test (isol8 network policy)\n--- exit code 0 ---"
bad-allow true argument allow: expected an array of host patterns
session false
session-run false "hello-from-bridge\n--- exit code 0 ---"
agent-no-net true Agent runtime requires network access. The AI coding agent needs to reach its LLM provider API. Use options.network "filtered" with options.networkFilter.whitelist ["api.anthropic.com"] (or your provider'"'"'s host).
agent-no-allow true Agent runtime requires at least one network whitelist entry. The AI
agent-session true argument runtime: the agent runs once, with execute; a session takes python, node, bun, deno or bash' \
		"execute and session_create: allow reaches the host, none or deny is the proxy's 403; the agent's rules"
	daemon_stop net
}

case_raw_protocol() {
	# Hostile lines: each gets one JSON-RPC error and the server reads on.
	run_cap sh -c "printf '%s\n' 'garbage' '[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]' \
		'{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"nope\"}' '{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"execute\",\"arguments\":[1]}}' \
		'{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}' '{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}' |
		'$ISOL8' mcp --socket '${D_SOCK[m]}'"
	is "$RC|$OUT" '0|{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: not a JSON message"}}
{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: expected a JSON object (batches are not supported)"}}
{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"Method not found"}}
{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"tools/call: arguments must be an object"}}
{"jsonrpc":"2.0","id":4,"result":{}}
' "garbage, a batch, an unknown method, bad arguments: one error each; a notification gets nothing; ping answers"
	run_cap "$ISOL8" mcp --bogus </dev/null
	like "$RC|$ERR" "^2\|\[ERR\] unknown argument '--bogus'" "a bad flag: [ERR], exit 2"
}

run_cases "$@"
