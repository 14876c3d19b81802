// The SDK against a live `isol8 serve` (tests/integration/sdk_js_test.sh starts one and sets
// ISOL8_TEST_URL, ISOL8_TEST_KEY and ISOL8_TEST_KEY_BASH, a key whose tenant may only run bash).
// Skipped without ISOL8_TEST_URL.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RemoteIsol8, Isol8Error } from "../index.js";

const URL_ = process.env.ISOL8_TEST_URL;
const KEY = process.env.ISOL8_TEST_KEY;
const KEY_BASH = process.env.ISOL8_TEST_KEY_BASH;
const live = { skip: !URL_ && "ISOL8_TEST_URL not set" };
const box = (o = {}) => new RemoteIsol8({ host: URL_, apiKey: KEY, ...o });

test("start checks /health", live, async () => {
  const b = box();
  await b.start();
  assert.equal(b.version, "0.1.0");
});

test("start against nothing fails with the original's message", live, async () => {
  await assert.rejects(new RemoteIsol8({ host: "http://127.0.0.1:1" }).start(),
    (e) => e instanceof Isol8Error && e.message.startsWith("Remote server health check failed: ") && e.status === undefined);
});

test("execute returns the ExecutionResult", live, async () => {
  const r = await box().execute({ code: "print(6 * 7)", runtime: "python" });
  assert.deepEqual([r.stdout, r.stderr, r.exitCode, r.truncated, r.runtime], ["42\n", "", 0, false, "python"]);
  assert.match(r.executionId, /^[0-9a-f-]{36}$/);
  assert.match(r.timestamp, /^\d{4}-\d\d-\d\dT/);
});

test("execute: env, stdin, exit code, stderr", live, async () => {
  const r = await box().execute({ code: "echo $A; cat; echo e >&2; exit 3", runtime: "bash", env: { A: "env" }, stdin: "in\n" });
  assert.deepEqual([r.stdout, r.stderr, r.exitCode], ["env\nin\n", "e\n", 3]);
});

test("a bad request rejects with the server's error and status", live, async () => {
  await assert.rejects(box().execute({ code: "x", runtime: "cobol" }),
    (e) => e instanceof Isol8Error && e.status === 400 && e.error.startsWith('Unknown runtime: "cobol"') &&
      e.message.startsWith("Execution failed: Unknown runtime"));
});

test("a wrong key is 401, a policy refusal 403", live, async () => {
  await assert.rejects(new RemoteIsol8({ host: URL_, apiKey: "not-a-key-0123456789" }).execute({ code: "1", runtime: "python" }),
    (e) => e.status === 401 && e.error === "Invalid API key");
  const b = new RemoteIsol8({ host: URL_, apiKey: KEY_BASH });
  await assert.rejects(b.execute({ code: "print(1)", runtime: "python" }), (e) => e.status === 403 && /python/.test(e.error));
  assert.equal((await b.execute({ code: "echo ok", runtime: "bash" })).stdout, "ok\n");
});

test("executeStream yields events as an async iterator", live, async () => {
  const evs = [];
  for await (const ev of box().executeStream({ code: "echo a; echo b >&2; exit 4", runtime: "bash" })) evs.push(ev);
  assert.equal(evs.filter((e) => e.type === "stdout").map((e) => e.data).join(""), "a\n");
  assert.equal(evs.filter((e) => e.type === "stderr").map((e) => e.data).join(""), "b\n");
  const { resourceUsage, ...exit } = evs.at(-1);
  assert.deepEqual(exit, { type: "exit", data: "4", phase: "code" });
  // The exit event carries the run's usage, as the buffered result does; no other event does.
  assert.deepEqual([resourceUsage.networkBytesIn, resourceUsage.cpuTimeMs >= 0, resourceUsage.peakMemoryBytes > 0], [0, true, true]);
  assert.deepEqual(evs.filter((e) => "resourceUsage" in e).map((e) => e.type), ["exit"]);
});

test("executeStream: leaving the loop early stops the program", live, async () => {
  const t0 = Date.now();
  for await (const ev of box().executeStream({ code: "echo first; sleep 30", runtime: "bash" })) {
    assert.deepEqual(ev, { type: "stdout", data: "first\n", phase: "code" });
    break;
  }
  assert.ok(Date.now() - t0 < 20000);
});

test("executeStream: a bad request rejects before any event", live, async () => {
  const it = box().executeStream({ code: "x", runtime: "cobol" });
  await assert.rejects(it.next(), (e) => e.status === 400);
});

// ---- streaming over both transports ----------------------------------------------------
const HAVE_WS = typeof globalThis.WebSocket === "function";
const wsOnly = { skip: (!URL_ && "ISOL8_TEST_URL not set") || (!HAVE_WS && "no globalThis.WebSocket (Node 22+, or --experimental-websocket)") };
const TRANSPORTS = HAVE_WS ? ["ws", "sse"] : ["sse"];

// Consecutive output chunks of one stream and phase joined (the chunking is the pipe's, not
// the transport's); resourceUsage reduced to its presence.
const shape = (evs) => {
  const out = [];
  for (const { type, data, phase, resourceUsage } of evs) {
    const last = out.at(-1);
    if (last && (type === "stdout" || type === "stderr") && last[0] === type && last[1] === phase) last[2] += data;
    else out.push([type, phase, data, resourceUsage !== undefined]);
  }
  return out;
};
const collect = async (b, req) => {
  const evs = [];
  for await (const ev of b.executeStream(req)) evs.push(ev);
  return evs;
};

test("auto streams over the WebSocket where the platform has one, else SSE", live, async () => {
  if (process.env.ISOL8_TEST_EXPECT_WS) assert.equal(HAVE_WS, process.env.ISOL8_TEST_EXPECT_WS === "1", "globalThis.WebSocket as the runner expects");
  const b = box();
  assert.equal(b.transport, "auto");
  const evs = await collect(b, { code: "print(1)", runtime: "python" });
  assert.deepEqual([b.lastTransport, shape(evs)], [HAVE_WS ? "ws" : "sse", [["stdout", "code", "1\n", false], ["exit", "code", "0", true]]]);
});

test("the same events over ws and sse", wsOnly, async () => {
  const req = { runtime: "python", setupScript: "echo set; echo up >&2",
    code: "import sys\nprint('a')\nsys.stdout.flush()\nsys.stderr.write('b\\n')\nsys.exit(3)" };
  const want = [["stdout", "setup", "set\n", false], ["stderr", "setup", "up\n", false], ["exit", "setup", "0", false],
    ["stdout", "code", "a\n", false], ["stderr", "code", "b\n", false], ["exit", "code", "3", true]];
  const byKey = (a, b) => (a[0] < b[0] ? -1 : 1);
  for (const t of ["ws", "sse"]) {
    const b = box({ transport: t });
    const got = shape(await collect(b, req));
    assert.equal(b.lastTransport, t);
    // stdout and stderr are two pipes: their interleaving is not the transport's either
    assert.deepEqual(got.slice(0, 2).sort(byKey), want.slice(0, 2).sort(byKey), t);
    assert.deepEqual(got.slice(2), want.slice(2), t);
  }
});

test("5 MB of stdout arrives complete over each transport", live, async () => {
  const code = "import sys\nfor i in range(80):\n    sys.stdout.write(str(i % 10) * 65536)\n";
  const want = Array.from({ length: 80 }, (_, i) => String(i % 10).repeat(65536)).join("");
  for (const t of TRANSPORTS) {
    // over the default 1 MiB cap, which a stream applies as a buffered run does
    const evs = await collect(box({ transport: t, options: { maxOutputSize: "8m" } }), { code, runtime: "python" });
    const out = evs.filter((e) => e.type === "stdout").map((e) => e.data).join("");
    assert.equal(out.length, 80 * 65536, t);
    assert.ok(out === want, `${t}: the bytes in order`);
    assert.deepEqual([evs.at(-1).type, evs.at(-1).data], ["exit", "0"], t);
  }
});

test("a refused stream rejects with the server's error over each transport", live, async () => {
  for (const t of TRANSPORTS) {
    await assert.rejects(collect(box({ transport: t }), { code: "x", runtime: "cobol" }),
      (e) => e instanceof Isol8Error && e.status === 400 && e.error.startsWith('Unknown runtime: "cobol"') &&
        e.message.startsWith('Execution failed: Unknown runtime: "cobol"'), t);
    // isol8d's refusal comes once the stream is open: an error event, on both alike
    assert.deepEqual(await collect(new RemoteIsol8({ host: URL_, apiKey: KEY_BASH, transport: t }), { code: "print(1)", runtime: "python" }),
      [{ type: "error", data: "runtime python is not allowed for tenant bashonly" }], t);
  }
  // A wrong key fails the upgrade, which the platform's WebSocket does not explain: auto asks
  // over SSE and gets the server's answer.
  const b = new RemoteIsol8({ host: URL_, apiKey: "not-a-key-0123456789" });
  await assert.rejects(collect(b, { code: "1", runtime: "python" }), (e) => e.status === 401 && e.error === "Invalid API key");
  assert.equal(b.lastTransport, undefined);
});

test("forced ws: a failed upgrade is an error, not a fallback", wsOnly, async () => {
  await assert.rejects(collect(new RemoteIsol8({ host: URL_, apiKey: "not-a-key-0123456789", transport: "ws" }), { code: "1", runtime: "python" }),
    (e) => e instanceof Isol8Error && e.message === `Execution failed: the WebSocket upgrade at ${URL_.replace(/^http/, "ws")}/execute/ws failed (refused, or the server is unreachable)`);
});

test("forced ws without a WebSocket is an error", { skip: HAVE_WS && "this platform has a WebSocket" }, async () => {
  await assert.rejects(collect(new RemoteIsol8({ host: "http://127.0.0.1:1", transport: "ws" }), { code: "1", runtime: "python" }),
    (e) => e instanceof Isol8Error && /needs globalThis.WebSocket/.test(e.message));
});

test("a session streams over ws; a foreign node pin is refused on both transports", wsOnly, async () => {
  const sid = "js-ws-" + Math.random().toString(16).slice(2, 10);
  const b = box({ sessionId: sid, transport: "ws" });
  await b.execute({ code: "x = 40", runtime: "python" });
  assert.deepEqual(shape(await collect(b, { code: "print(x + 2)", runtime: "python" })).map((e) => e.slice(0, 3)), [["stdout", "code", "42\n"], ["exit", "code", "0"]]);
  b.nodes.set(sid, "node-elsewhere");
  for (const t of ["ws", "sse"]) {
    b.transport = t;
    await assert.rejects(collect(b, { code: "print(1)", runtime: "python" }),
      (e) => e.status === 421 && e.error === "session lives on another node", t);
  }
  b.nodes.delete(sid);
  await b.stop();
});

test("the transport must be auto, ws or sse", () => {
  assert.throws(() => new RemoteIsol8({ host: "http://x", transport: "pigeon" }), TypeError);
});

test("sessions: state, files, list, stop", live, async () => {
  const sid = "js-sdk-" + Math.random().toString(16).slice(2, 10);
  const b = box({ sessionId: sid });
  await b.start();
  assert.equal((await b.execute({ code: "x = 40", runtime: "python" })).exitCode, 0);
  assert.equal((await b.execute({ code: "print(x + 2)", runtime: "python" })).stdout, "42\n");
  const blob = Uint8Array.from({ length: 256 }, (_, i) => i);
  await b.putFile("data/blob.bin", blob);
  assert.deepEqual(await b.getFile("/sandbox/data/blob.bin"), blob);
  await b.putFile("t.txt", "text");
  assert.equal(new TextDecoder().decode(await b.getFile("t.txt")), "text");
  await assert.rejects(b.getFile("no-such-file"), (e) => e.status === 404);
  const mine = (await b.listSessions()).filter((s) => s.id === sid);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].isActive, false);
  assert.match(mine[0].lastAccessedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  await b.stop();
  assert.equal((await box().listSessions()).filter((s) => s.id === sid).length, 0);
  await box().deleteSession(sid); // idempotent
});

test("file methods need a sessionId", live, async () => {
  await assert.rejects(box().getFile("x"), (e) => e.message === "File operations require a sessionId (persistent mode)");
});

test("the host must be a URL", () => {
  assert.throws(() => new RemoteIsol8({ host: "ftp://x" }), TypeError);
});
