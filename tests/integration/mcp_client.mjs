// Drives `isol8 mcp` with the official MCP client SDK (@modelcontextprotocol/sdk) over stdio
// and prints what each step got, one line each, for tests/integration/mcp_test.sh to compare.
// argv: ISOL8 SOCKET SCENARIO [PORT] (network: the port of the test's server on the bridge)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [isol8, socket, scenario, port] = process.argv.slice(2);
const transport = new StdioClientTransport({ command: isol8, args: ["mcp", "--socket", socket], stderr: "inherit" });
const client = new Client({ name: "isol8-test", version: "1.0.0" });
const say = (...a) => console.log(...a);
const call = async (name, args) => {
  const r = await client.callTool({ name, arguments: args });
  return { error: r.isError === true, text: r.content.map((c) => c.text).join(""), data: r.structuredContent };
};

await client.connect(transport); // initialize + notifications/initialized
try {
  switch (scenario) {
    case "list": {
      const v = client.getServerVersion();
      say("server", v.name, v.version, Object.keys(client.getServerCapabilities()).sort().join(","));
      const { tools } = await client.listTools();
      say("tools", tools.map((t) => t.name).join(","));
      say("schemas", tools.every((t) => t.inputSchema.type === "object" && Array.isArray(t.inputSchema.required)));
      const { resources } = await client.listResources();
      say("resources", resources.map((r) => `${r.uri} ${r.mimeType}`).join(","));
      const rd = await client.readResource({ uri: "isol8://runtimes" });
      say("runtimes", JSON.parse(rd.contents[0].text).map((r) => r.name).join(","));
      await client.ping();
      say("ping ok");
      break;
    }
    case "execute": {
      let r = await call("execute", { runtime: "python", code: "print(6 * 7)" });
      say("python", r.error, JSON.stringify(r.text), r.data.exitCode, r.data.runtime);
      r = await call("execute", { runtime: "bash", code: "echo out; echo err >&2; exit 3", env: { A: "1" } });
      say("bash", r.error, JSON.stringify(r.text));
      r = await call("execute", { runtime: "python", code: "print(open('d/in.txt').read())", files: { "d/in.txt": "from files" } });
      say("files", JSON.stringify(r.text));
      break;
    }
    case "errors": {
      let r = await call("execute", { runtime: "python", code: "raise ValueError('boom')" });
      const last = r.text.trim().split("\n");
      say("raise", r.error, last.at(-2), last.at(-1));
      r = await call("execute", { runtime: "cobol", code: "x" });
      say("runtime", r.error, r.text.slice(0, 24));
      r = await call("execute", { runtime: "python" });
      say("missing", r.error, r.text);
      r = await call("execute", { runtime: "python", code: "1", bogus: 1 });
      say("unknown-arg", r.error, r.text);
      r = await call("session_run", { sessionId: "mcp-none", code: "1" });
      say("no-session", r.error, r.text);
      try {
        await client.callTool({ name: "nope", arguments: {} });
        say("unknown-tool no error");
      } catch (e) {
        say("unknown-tool", e.code, e.message);
      }
      break;
    }
    case "session": {
      let r = await call("session_create", { runtime: "python", sessionId: "mcp-s1" });
      say("create", r.error, r.text, JSON.stringify(r.data));
      r = await call("session_run", { sessionId: "mcp-s1", code: "x = 40" });
      r = await call("session_run", { sessionId: "mcp-s1", code: "print(x + 2)" });
      say("state", r.error, JSON.stringify(r.text));
      r = await call("file_put", { sessionId: "mcp-s1", path: "notes/a.txt", content: "hello file" });
      say("put", r.error, r.text);
      r = await call("file_put", { sessionId: "mcp-s1", path: "b.bin", content: "AP8A", encoding: "base64" });
      r = await call("session_run", { sessionId: "mcp-s1", code: "print(open('notes/a.txt').read(), list(open('b.bin','rb').read()))" });
      say("seen", JSON.stringify(r.text));
      r = await call("file_get", { sessionId: "mcp-s1", path: "/sandbox/notes/a.txt" });
      say("get", r.error, r.text, JSON.stringify(r.data));
      r = await call("file_get", { sessionId: "mcp-s1", path: "b.bin" });
      say("get-bin", r.text, r.data.encoding);
      r = await call("file_get", { sessionId: "mcp-s1", path: "missing.txt" });
      say("get-missing", r.error);
      break;
    }
    case "network": {
      const get = `import urllib.request, urllib.error
try:
    print(urllib.request.urlopen("http://allowed.test:${port}/index.txt", timeout=10).read().decode().strip())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().strip())`;
      let r = await call("execute", { runtime: "python", code: get, network: "filtered", allow: ["allowed.test"] });
      say("allowed", r.error, JSON.stringify(r.text));
      r = await call("execute", { runtime: "python", code: get, network: "filtered" });
      say("no-allow", r.error, JSON.stringify(r.text));
      r = await call("execute", { runtime: "python", code: get, network: "filtered", allow: ["*.test"], deny: ["allowed.test"] });
      say("denied", r.error, JSON.stringify(r.text));
      r = await call("execute", { runtime: "python", code: "1", network: "filtered", allow: "allowed.test" });
      say("bad-allow", r.error, r.text);
      r = await call("session_create", { runtime: "python", sessionId: "mcp-net", network: "filtered", allow: ["allowed.test"] });
      say("session", r.error);
      r = await call("session_run", { sessionId: "mcp-net", code: get });
      say("session-run", r.error, JSON.stringify(r.text));
      await call("session_stop", { sessionId: "mcp-net" });
      r = await call("execute", { runtime: "agent", code: "fix the bug" });
      say("agent-no-net", r.error, r.text);
      r = await call("execute", { runtime: "agent", code: "fix the bug", network: "filtered" });
      say("agent-no-allow", r.error, r.text.slice(0, 67));
      r = await call("session_create", { runtime: "agent" });
      say("agent-session", r.error, r.text);
      break;
    }
    case "stop": {
      let r = await call("session_stop", { sessionId: "mcp-s1" });
      say("stop", r.error, r.text);
      r = await call("session_stop", { sessionId: "mcp-s1" });
      say("again", r.error, r.text);
      r = await call("session_run", { sessionId: "mcp-s1", code: "print(1)" });
      say("after", r.error, r.text);
      break;
    }
  }
} finally {
  await client.close();
}
