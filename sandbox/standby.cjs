'use strict';
// isol8 standby for node (see A_WARM in common/agent_proto.h): a node started ahead of a run. It
// does nothing until its job arrives on fd 3, then writes the code to its file and becomes the
// program as `node FILE` would have run it (ESM for .mjs, CommonJS for .cjs), in the stdio it was
// started with (pipes the agent hands to the worker). Nothing is written before that. Job: u32
// length (little-endian), then NUL-separated fields: "1", cwd, file, number of env entries, the
// "K=V" entries, and the code; version "2" has the number of program arguments and the
// arguments between the env entries and the code.
const fs = require('fs');

function readExact(n) {
  const b = Buffer.allocUnsafe(n);
  let off = 0;
  while (off < n) {
    let r;
    try {
      r = fs.readSync(3, b, off, n - off, null);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      throw e;
    }
    if (r === 0) process.reallyExit(0); // the agent dropped us before any run
    off += r;
  }
  return b;
}

function fail(msg, code) {
  fs.writeSync(2, `isol8: ${msg}\n`);
  process.reallyExit(code);
}

function main() {
  const job = readExact(readExact(4).readUInt32LE(0));
  fs.closeSync(3);
  let pos = 0;
  function field() {
    const end = job.indexOf(0, pos);
    if (end < 0) fail('malformed standby job', 70);
    const s = job.toString('utf8', pos, end);
    pos = end + 1;
    return s;
  }
  const version = field();
  if (version !== '1' && version !== '2') fail('malformed standby job', 70);
  const cwd = field();
  const file = field();
  const nenv = Number(field());
  for (let i = 0; i < nenv; i++) {
    const e = field();
    const eq = e.indexOf('=');
    process.env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const args = [];
  const nargs = version === '2' ? Number(field()) : 0;
  if (!Number.isInteger(nargs) || nargs < 0) fail('malformed standby job', 70);
  for (let i = 0; i < nargs; i++) args.push(field());
  const code = job.subarray(pos);
  const reasons = { ENOENT: 'No such file or directory', ENOTDIR: 'Not a directory', EACCES: 'Permission denied' };
  try {
    process.chdir(cwd);
  } catch (e) {
    fail(`${cwd}: ${reasons[e.code] || e.message}`, 126);
  }
  if (!file) fail('malformed standby job', 70);
  fs.writeFileSync(file, code, { mode: 0o644 });
  process.argv = [process.execPath, file, ...args];
  // As for `node FILE`: no main module until the program's own (CommonJS) one.
  delete require.cache[__filename];
  process.mainModule = undefined;
  require('module').runMain(file);
}

// Do now what every run would do first, off the run's time: create the stdout/stderr streams on
// the pipes (as node does on first use; nothing is written) and start the ESM loader. The job is
// then taken outside any promise, so the program's uncaught errors behave as at a script's top
// level.
process.stdout;
process.stderr;
import('data:text/javascript,').then(() => setImmediate(main), () => setImmediate(main));
