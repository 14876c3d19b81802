// isol8 persistent-session driver for Node.js (protocol: see README in this folder).
//
// Snippets run as classic scripts in this process's main context (vm.Script.runInThisContext):
// top-level let/const/function/var persist across snippets exactly as in the Node REPL, and
// values keep the usual prototypes (a second vm context would make `[] instanceof Array` lie
// for objects coming from require()d modules). Driver state stays in this module's scope.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

const MAX_SNIPPET = 64 << 20;
const HEADER = /^ISOL8 ([0-9a-f]{32}) ([0-9]{1,10})$/;

const proto = process.stdin;
// Snippets get an empty stdin; the protocol stream stays private to the driver.
Object.defineProperty(process, 'stdin', {
  configurable: true, enumerable: true, writable: true, value: fs.createReadStream('/dev/null'),
});

const cwd = process.cwd();
const userRequire = createRequire(path.join(cwd, '[isol8]'));
globalThis.require = userRequire;
globalThis.__filename = path.join(cwd, '[isol8]');
globalThis.__dirname = cwd;

class Isol8Exit {
  constructor(code) { this.code = code; }
}
const realExit = process.exit.bind(process);
process.exit = (code) => { throw new Isol8Exit(code ?? process.exitCode ?? 0); };

// Late errors (timers, unawaited promises) must not kill the session.
const report = (e) => {
  if (e instanceof Isol8Exit) return;
  process.stderr.write(formatError(e));
};
process.on('uncaughtException', report);
process.on('unhandledRejection', report);

function formatError(e) {
  if (!(e instanceof Error) && !(e && typeof e.stack === 'string')) return `Uncaught ${String(e)}\n`;
  const lines = String(e.stack).split('\n').filter((l) => !/repl\.mjs|node:internal|node:vm/.test(l));
  return lines.join('\n') + '\n';
}

function importer(spec) {
  try {
    return import(pathToFileURL(userRequire.resolve(spec)).href);
  } catch {
    return import(spec);
  }
}

async function runSnippet(code) {
  process.exitCode = undefined;
  try {
    const script = new vm.Script(code, {
      filename: '<isol8>',
      // Node >= 21 can hand import() to the main loader; Node 18 needs --experimental-vm-modules
      // for the callback and otherwise reports that clearly.
      importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER ?? importer,
    });
    const result = script.runInThisContext({ displayErrors: true });
    if (result && typeof result.then === 'function') await result;
    const rc = process.exitCode ?? 0;
    process.exitCode = undefined;
    return Number(rc) & 0xff;
  } catch (e) {
    process.exitCode = undefined;
    if (e instanceof Isol8Exit) return Number(e.code) & 0xff;
    process.stderr.write(formatError(e));
    return 1;
  }
}

const write = (stream, data) => new Promise((resolve) => stream.write(data, () => resolve()));

function malformed() {
  process.stderr.write('isol8 repl: malformed request header\n');
  realExit(2);
}

let chunks = [];
let have = 0;
let need = 0; // bytes required before it is worth joining the chunks again
const joined = () => {
  if (chunks.length > 1) chunks = [Buffer.concat(chunks, have)];
  return chunks[0] ?? Buffer.alloc(0);
};

for await (const chunk of proto) {
  chunks.push(chunk);
  have += chunk.length;
  if (have < need) continue;
  for (;;) {
    const buf = joined();
    const nl = buf.indexOf(10);
    if (nl < 0) {
      if (have > 128) malformed();
      break;
    }
    const m = HEADER.exec(buf.subarray(0, nl).toString('latin1'));
    if (!m || Number(m[2]) > MAX_SNIPPET) malformed();
    const n = Number(m[2]);
    if (have < nl + 1 + n) {
      need = nl + 1 + n;
      break;
    }
    need = 0;
    const code = buf.subarray(nl + 1, nl + 1 + n).toString('utf8');
    chunks = [buf.subarray(nl + 1 + n)];
    have -= nl + 1 + n;
    const rc = await runSnippet(code);
    const marker = `\x1e${m[1]} ${rc}\n`;
    await write(process.stderr, marker);
    await write(process.stdout, marker);
  }
}
realExit(0);
