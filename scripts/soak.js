'use strict';

// Soak: many exchanges against the emulator (in its own process), RSS sampled as they go, to show
// that memory stays flat once warm. Exits 1 if RSS at the end is more than 10% above RSS at the
// first checkpoint, or if any exchange fails.
//
//   node --expose-gc scripts/soak.js [--from 10000] [--to 100000] [--every 10000] [--in-flight 64] [--json]
//
// RSS is read after a full GC when --expose-gc is given (so the JS heap's own breathing does not
// count), and the emulator's memory is not in it.

const { fork } = require('node:child_process');
const path = require('node:path');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const from = option('from', 10_000);
const to = option('to', 100_000);
const every = option('every', Math.max(1, Math.round(from)));
const inFlight = option('in-flight', 64);
const asJson = process.argv.includes('--json');
const TOLERANCE = 0.1;

function startEmulator() {
  const child = fork(path.join(__dirname, '..', 'benchmark', 'emulator-process.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, ...message }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the emulator exited with ${code}`)));
  });
}

async function settledRssMB() {
  if (typeof global.gc === 'function') {
    for (let i = 0; i < 3; i += 1) {
      global.gc();
      await new Promise((resolve) => { setImmediate(resolve); });
    }
  }
  return process.memoryUsage().rss / 1048576;
}

async function main() {
  const emulator = await startEmulator();
  const client = require('..').newClient(emulator.config);
  let done = 0;
  let failed = 0;
  let firstError;
  const checkpoints = [];
  const t0 = performance.now();
  for (let target = from; target <= to; target = target === from ? Math.ceil((from + 1) / every) * every : target + every) {
    let next = done;
    const worker = async () => {
      while (next < target) {
        next += 1;
        try {
          await client.exchangeCode(emulator.authCode);
          done += 1;
        } catch (error) {
          failed += 1;
          done += 1;
          firstError ??= `${error.code}: ${error.message}`;
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    checkpoints.push({ exchanges: done, rssMB: Number((await settledRssMB()).toFixed(1)), seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) });
    if (!asJson) console.log(`${String(done).padStart(8)} exchanges  RSS ${checkpoints.at(-1).rssMB.toFixed(1).padStart(6)} MB  ${checkpoints.at(-1).seconds} s`);
  }
  emulator.child.disconnect();
  const first = checkpoints[0].rssMB;
  const last = checkpoints.at(-1).rssMB;
  const growth = (last - first) / first;
  const flat = growth <= TOLERANCE;
  const result = {
    from, to, inFlight, gc: typeof global.gc === 'function', failed, firstError, checkpoints, growth: Number(growth.toFixed(4)), flat,
  };
  if (asJson) console.log(JSON.stringify(result));
  else {
    console.log(`RSS ${first} MB after ${checkpoints[0].exchanges} exchanges, ${last} MB after ${checkpoints.at(-1).exchanges}: `
      + `${(growth * 100).toFixed(1)}% (${flat ? 'flat' : 'NOT flat'}, limit ${TOLERANCE * 100}%); ${failed} failed`);
  }
  process.exitCode = flat && failed === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
