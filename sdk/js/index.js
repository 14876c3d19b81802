// RemoteIsol8: the original's remote engine over isol8's HTTP API. No dependencies: the
// platform's fetch (Node 18+, browsers, Deno, Bun) and, for streaming, its WebSocket where
// there is one (Node 22+, or Node 20/21 with --experimental-websocket; Deno; Bun), else
// Server-Sent Events. Types in index.d.ts.

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

const TRANSPORTS = ["auto", "ws", "sse"];

/** A queue between the WebSocket's callbacks and an async iterator. */
class Inbox {
  #items = [];
  #wake = null;
  push(item) {
    this.#items.push(item);
    if (this.#wake) this.#wake();
    this.#wake = null;
  }
  async next() {
    while (!this.#items.length) await new Promise((resolve) => (this.#wake = resolve));
    return this.#items.shift();
  }
}

export class RemoteIsol8 {
  /** @param {import("./index.js").RemoteIsol8Options} opts */
  constructor({ host, apiKey, sessionId, options, transport = "auto" } = {}) {
    if (typeof host !== "string" || !/^https?:\/\//.test(host))
      throw new TypeError(`host must be an http:// or https:// URL, got ${JSON.stringify(host)}`);
    if (!TRANSPORTS.includes(transport))
      throw new TypeError(`transport must be one of ${TRANSPORTS.join(", ")}, got ${JSON.stringify(transport)}`);
    this.host = host.replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.sessionId = sessionId;
    this.options = options;
    /** "auto" (WebSocket where the platform has one and the server offers it, else SSE), "ws" or "sse". */
    this.transport = transport;
    /** What the last executeStream used: "ws" or "sse". */
    this.lastTransport = undefined;
    this.#wsAvailable = undefined;
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

  #wsAvailable;

  /** Runs code; yields StreamEvents as the program writes, over a WebSocket or Server-Sent
   * Events (the transport option): the same events either way. A request the server refuses
   * rejects before any event; breaking out of the loop stops the program. */
  async *executeStream(req) {
    const env = this.#envelope(req);
    const wsCtor = globalThis.WebSocket;
    if (this.transport === "ws" && typeof wsCtor !== "function")
      throw new Isol8Error("Execution failed: transport \"ws\" needs globalThis.WebSocket (Node 22+, or --experimental-websocket)");
    if (this.transport === "ws" || (this.transport === "auto" && typeof wsCtor === "function" && this.#wsAvailable !== false)) {
      const ws = await this.#wsOpen(wsCtor, this.transport === "auto");
      if (ws) {
        this.lastTransport = "ws";
        yield* this.#wsEvents(ws.socket, ws.inbox, env);
        return;
      }
    }
    const wsFailed = this.transport === "auto" && this.#wsAvailable === undefined && typeof wsCtor === "function";
    const res = await this.#call("POST", "/execute/stream", env, "Execution failed", this.sessionId);
    // The WebSocket failed before it opened but SSE works: the server (or the platform, which
    // may not send headers on a WebSocket) does not offer it; stop trying.
    if (wsFailed) this.#wsAvailable = false;
    this.lastTransport = "sse";
    yield* this.#sseEvents(res);
  }

  async *#sseEvents(res) {
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

  /** Opens GET /execute/ws; resolves with the socket and its inbox, or null (fallback only) when
   * it fails before opening. The platform's WebSocket gives no HTTP status for a refused
   * upgrade, so auto mode then asks over SSE, which answers with the server's error. */
  async #wsOpen(wsCtor, fallback) {
    const url = this.host.replace(/^http/, "ws") + "/execute/ws";
    const headers = this.#headers(this.sessionId);
    let socket;
    try {
      // Node, Deno and Bun take headers here; a browser's WebSocket takes protocols only and
      // throws on an object (it cannot send the Authorization header).
      socket = new wsCtor(url, { headers });
    } catch (e) {
      if (fallback) return null;
      throw new Isol8Error(`Execution failed: this platform's WebSocket cannot send headers: ${e.message}`);
    }
    const inbox = new Inbox();
    const opened = await new Promise((resolve) => {
      socket.onopen = () => resolve(true);
      socket.onerror = () => resolve(false);
      socket.onclose = () => resolve(false);
    });
    if (!opened) {
      if (fallback) return null;
      throw new Isol8Error(`Execution failed: the WebSocket upgrade at ${url} failed (refused, or the server is unreachable)`);
    }
    this.#wsAvailable = true;
    socket.onmessage = (m) => inbox.push({ kind: "message", data: m.data });
    socket.onerror = (e) => inbox.push({ kind: "error", message: e.message ?? "WebSocket error" });
    socket.onclose = (e) => inbox.push({ kind: "close", code: e.code, reason: e.reason });
    return { socket, inbox };
  }

  async *#wsEvents(socket, inbox, env) {
    let started = false, closed = false;
    try {
      socket.send(JSON.stringify({ type: "execute", ...env }));
      for (;;) {
        const item = await inbox.next();
        if (item.kind === "close") {
          closed = true;
          if (item.code !== 1000)
            throw new Isol8Error(`Execution failed: the server closed the WebSocket with ${item.code} ${item.reason}`.trimEnd());
          return;
        }
        if (item.kind === "error") continue; // a close follows
        if (typeof item.data !== "string") continue; // the API sends text only
        let ev;
        try {
          ev = JSON.parse(item.data);
        } catch {
          throw new Isol8Error("Execution failed: a WebSocket message is not JSON");
        }
        // An execute that could not start: the status POST /execute/stream would have answered.
        if (ev.type === "error" && "status" in ev && !started) {
          const error = String(ev.data);
          throw new Isol8Error(`Execution failed: ${error}`, { status: ev.status, error, body: { error } });
        }
        started = true;
        yield ev;
      }
    } finally {
      // An early break: close, and the server interrupts the program.
      if (!closed) {
        try {
          socket.close(1000);
        } catch {}
      }
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

  #headers(session) {
    const headers = {};
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    if (session) {
      // Where a balancer hashes without reading the body; the server checks it matches.
      headers["X-Isol8-Session"] = session;
      if (this.nodes.has(session)) headers["X-Isol8-Node"] = this.nodes.get(session);
    }
    return headers;
  }

  async #call(method, path, body, what, session) {
    const headers = { Accept: "application/json", ...this.#headers(session) };
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
