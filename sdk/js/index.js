// RemoteIsol8: the original's remote engine over isol8's HTTP API. No dependencies: the
// platform's fetch (Node 18+, browsers, Deno, Bun). Types in index.d.ts.

export class Isol8Error extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, error?: string, body?: unknown}} [info]
   */
  constructor(message, info = {}) {
    super(message);
    this.name = "Isol8Error";
    /** HTTP status, undefined when the server was not reached. */
    this.status = info.status;
    /** The server's {"error": ...} text. */
    this.error = info.error;
    this.body = info.body;
  }
}

const toBase64 = (bytes) => {
  if (typeof Buffer !== "undefined") return Buffer.from(bytes).toString("base64");
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};
const fromBase64 = (text) => {
  if (typeof Buffer !== "undefined") return new Uint8Array(Buffer.from(text, "base64"));
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
};

export class RemoteIsol8 {
  /** @param {import("./index.js").RemoteIsol8Options} opts */
  constructor({ host, apiKey, sessionId, options } = {}) {
    if (typeof host !== "string" || !/^https?:\/\//.test(host))
      throw new TypeError(`host must be an http:// or https:// URL, got ${JSON.stringify(host)}`);
    this.host = host.replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.sessionId = sessionId;
    this.options = options;
    this.version = undefined;
    /** Behind a balancer: the node that answered each session's first request, echoed as
     * X-Isol8-Node so that another node refuses the session instead of starting it afresh. */
    this.nodes = new Map();
  }

  /** GET /health: throws "Remote server health check failed: <status>". */
  async start() {
    let res;
    try {
      res = await fetch(this.host + "/health");
    } catch (e) {
      throw new Isol8Error(`Remote server health check failed: ${e.cause?.code ?? e.message}`);
    }
    if (!res.ok) throw new Isol8Error(`Remote server health check failed: ${res.status}`, { status: res.status });
    this.version = (await res.json()).version;
  }

  /** Deletes the session when there is one (idempotent on the server). */
  async stop() {
    if (this.sessionId) await this.deleteSession(this.sessionId);
  }

  /** Runs code and resolves with the whole ExecutionResult. */
  async execute(req) {
    return (await this.#call("POST", "/execute", this.#envelope(req), "Execution failed", this.sessionId)).json();
  }

  /** Runs code; yields StreamEvents (Server-Sent Events) as the program writes. Breaking out
   * of the loop stops the program. */
  async *executeStream(req) {
    const res = await this.#call("POST", "/execute/stream", this.#envelope(req), "Execution failed", this.sessionId);
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, "");
          buf = buf.slice(nl + 1);
          if (line.startsWith("data: ")) yield JSON.parse(line.slice(6));
        }
      }
    } finally {
      // An early break: drop the connection, and the server interrupts the program.
      await res.body.cancel().catch(() => {});
    }
  }

  /** Writes a file into the session's sandbox (relative paths are under /sandbox). */
  async putFile(path, content) {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    await this.#call("POST", "/file", { sessionId: this.#needSession(), path, content: toBase64(bytes) },
      "File upload failed", this.sessionId);
  }

  /** Reads a file from the session's sandbox. */
  async getFile(path) {
    const q = new URLSearchParams({ sessionId: this.#needSession(), path });
    const body = await (await this.#call("GET", "/file?" + q, undefined, "File download failed", this.sessionId)).json();
    return fromBase64(body.content);
  }

  /** This key's persistent sessions. */
  async listSessions() {
    return (await (await this.#call("GET", "/sessions", undefined, "Listing sessions failed")).json()).sessions;
  }

  /** Stops a session; one that does not exist is not an error. */
  async deleteSession(id) {
    await this.#call("DELETE", "/session/" + encodeURIComponent(id), undefined, "Deleting session failed", id);
    this.nodes.delete(id);
  }

  #needSession() {
    if (!this.sessionId) throw new Isol8Error("File operations require a sessionId (persistent mode)");
    return this.sessionId;
  }

  #envelope(req) {
    const env = { request: req };
    if (this.options) env.options = this.options;
    if (this.sessionId) env.sessionId = this.sessionId;
    return env;
  }

  async #call(method, path, body, what, session) {
    const headers = { Accept: "application/json" };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    if (session) {
      // Where a balancer hashes without reading the body; the server checks it matches.
      headers["X-Isol8-Session"] = session;
      if (this.nodes.has(session)) headers["X-Isol8-Node"] = this.nodes.get(session);
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(this.host + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new Isol8Error(`${what}: cannot reach ${this.host}: ${e.cause?.code ?? e.message}`);
    }
    if (res.ok) {
      const node = res.headers.get("x-isol8-node");
      if (session && node && !this.nodes.has(session)) this.nodes.set(session, node);
      return res;
    }
    const text = await res.text();
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const error = parsed && typeof parsed.error === "string" ? parsed.error : text || res.statusText;
    throw new Isol8Error(`${what}: ${error}`, { status: res.status, error, body: parsed });
  }
}

export default RemoteIsol8;
