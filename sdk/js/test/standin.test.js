// The SDK against a local stand-in server (node:http, no isol8 needed): every call of a session
// names it (X-Isol8-Session) and, once a node answered, pins it (X-Isol8-Node), file calls
// included, so a balancer hashing on the header keeps them on the session's node; and auto
// falls back to SSE when the upgrade fails, once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { RemoteIsol8 } from "../index.js";

const HAVE_WS = typeof globalThis.WebSocket === "function";
const SSE = 'data: {"type":"stdout","data":"over sse\\n","phase":"code"}\n\ndata: {"type":"exit","data":"0","phase":"code"}\n\n';

const textFrame = (s) => {
  const p = Buffer.from(s);
  return Buffer.concat([Buffer.from([0x81, p.length]), p]); // short frames only
};

/** A stand-in: onRequest(req, body, res) and onUpgrade(req, socket); records every request. */
async function standIn({ onRequest, onUpgrade }) {
  const seen = [];
  const srv = createServer(async (req, res) => {
    let body = "";
    for await (const c of req) body += c;
    seen.push([req.method, req.url.split("?")[0], req.headers]);
    onRequest(req, body, res);
  });
  srv.on("upgrade", (req, socket) => {
    seen.push([req.method, req.url, req.headers]);
    onUpgrade(req, socket);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}`, seen, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }) };
}

const json = (res, obj, headers = {}) => {
  res.writeHead(200, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(obj));
};

// A WebSocket answer: 101, then on the execute message one exit event and a close 1000.
function wsExit(req, socket, extra = "") {
  const accept = createHash("sha1").update(req.headers["sec-websocket-key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`);
  let sent = false;
  socket.on("data", () => {
    if (sent) return socket.end();
    sent = true;
    socket.write(Buffer.concat([textFrame('{"type":"exit","data":"0","phase":"code"}'), Buffer.from([0x88, 2, 0x03, 0xe8])]));
  });
  socket.on("error", () => {});
}

test("every call of a session carries X-Isol8-Session and the node pin, file calls included", async () => {
  const node = { "X-Isol8-Node": "node-7" };
  const s = await standIn({
    onRequest(req, body, res) {
      if (req.url === "/execute") return json(res, { stdout: "", stderr: "", exitCode: 0 }, node);
      if (req.url === "/execute/stream") {
        res.writeHead(200, { "Content-Type": "text/event-stream", ...node });
        return res.end(SSE);
      }
      if (req.method === "GET" && req.url.startsWith("/file")) return json(res, { content: Buffer.from("data").toString("base64") }, node);
      json(res, { ok: true }, node);
    },
    onUpgrade: (req, socket) => wsExit(req, socket, "X-Isol8-Node: node-7\r\n"),
  });
  try {
    const b = new RemoteIsol8({ host: s.url, apiKey: "k", sessionId: "pinned" });
    await b.execute({ code: "1", runtime: "python" });
    for await (const _ of b.executeStream({ code: "1", runtime: "python" }));
    await b.putFile("a.txt", "data");
    assert.equal(new TextDecoder().decode(await b.getFile("a.txt")), "data");
    await b.stop();
    const got = s.seen.map(([m, p, h]) => [m, p, h["x-isol8-session"], h["x-isol8-node"], h.authorization]);
    assert.deepEqual(got, [
      ["POST", "/execute", "pinned", undefined, "Bearer k"],
      HAVE_WS ? ["GET", "/execute/ws", "pinned", "node-7", "Bearer k"] : ["POST", "/execute/stream", "pinned", "node-7", "Bearer k"],
      ["POST", "/file", "pinned", "node-7", "Bearer k"],
      ["GET", "/file", "pinned", "node-7", "Bearer k"],
      ["DELETE", "/session/pinned", "pinned", "node-7", "Bearer k"],
    ]);
    assert.equal(b.nodes.size, 0);
  } finally {
    await s.close();
  }
});

test("a forced WebSocket stream runs against a plain RFC 6455 server", { skip: !HAVE_WS && "no globalThis.WebSocket" }, async () => {
  const s = await standIn({ onRequest: (req, body, res) => json(res, {}), onUpgrade: (req, socket) => wsExit(req, socket) });
  try {
    const b = new RemoteIsol8({ host: s.url, apiKey: "k", sessionId: "s9", transport: "ws" });
    const evs = [];
    for await (const ev of b.executeStream({ code: "1", runtime: "python" })) evs.push(ev);
    assert.deepEqual(evs, [{ type: "exit", data: "0", phase: "code" }]);
    assert.equal(b.lastTransport, "ws");
  } finally {
    await s.close();
  }
});

test("auto falls back to SSE when the upgrade fails, and stops trying", { skip: !HAVE_WS && "no globalThis.WebSocket" }, async () => {
  const s = await standIn({
    onRequest(req, body, res) {
      res.writeHead(200, { "Content-Type": "text/event-stream" });
      res.end(SSE);
    },
    onUpgrade(req, socket) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{"error":"Not found"}');
    },
  });
  try {
    const b = new RemoteIsol8({ host: s.url, apiKey: "k" });
    for (let i = 0; i < 2; i++) {
      const evs = [];
      for await (const ev of b.executeStream({ code: "1", runtime: "python" })) evs.push(ev);
      assert.deepEqual(evs.map((e) => [e.type, e.data]), [["stdout", "over sse\n"], ["exit", "0"]]);
      assert.equal(b.lastTransport, "sse");
    }
    assert.deepEqual(s.seen.map(([m, p]) => [m, p]), [["GET", "/execute/ws"], ["POST", "/execute/stream"], ["POST", "/execute/stream"]]);
  } finally {
    await s.close();
  }
});
