'use strict';

// The hand-off of finished exchanges to their JS thread (src/binding: a queue, and one
// threadsafe function per JS thread) while that thread's environment
// goes away: the process exiting, or a worker thread terminated, with replies arriving. Nothing
// may crash, abort on an open handle, or keep the loop alive once nothing is in flight.
//
// Every case runs against the emulator on 127.0.0.1, in child processes or worker threads.
//
// Run: node --test __test__/teardown.test.js

require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const { emulator, records, runNode } = require('./helpers/support');

const ROOT = path.resolve(__dirname, '..');

describe('teardown with exchanges in flight', () => {
  test('process.exit() while replies are still arriving: the exit code, nothing on stderr, every time', { timeout: 120000 }, async (t) => {
    const emu = await emulator(t);
    const runs = 12;
    for (let run = 0; run < runs; run += 1) {
      const codes = Array.from({ length: 48 }, (_, i) => emu.mintAuthCode(undefined, { userId: `r${run}-${i}` }));
      const before = emu.requests.length;
      // Exits as the first exchange settles, while the worker is finishing the others.
      const script = `
        const client = require(${JSON.stringify(ROOT)}).newClient(${JSON.stringify(emu.clientConfig())});
        for (const c of ${JSON.stringify(codes)}) {
          client.exchangeCode(c).then((r) => { process.stdout.write(r.userId); process.exit(7); }, (e) => { process.stdout.write(e.code); process.exit(8); });
        }`;
      const { code, stdout, stderr } = await runNode(script);
      assert.equal(code, 7, `run ${run}: ${stderr}`);
      assert.match(stdout, new RegExp(`^r${run}-\\d+$`));
      assert.equal(stderr, '');
      assert.ok(emu.requests.length > before, 'the exchanges reached the emulator');
    }
  });

  test('worker threads terminated as their replies arrive: no crash, and the main thread carries on', { timeout: 120000 }, async (t) => {
    const emu = await emulator(t);
    const { Worker } = require('node:worker_threads');
    // Reports the first settled exchange and keeps the rest in flight for terminate() to cut off
    // (the interval keeps the worker running should they all finish first).
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      setInterval(() => {}, 1000);
      const client = require(workerData.root).newClient(workerData.config);
      for (const c of workerData.codes) {
        client.exchangeCode(c).then((r) => parentPort.postMessage(r.userId), (e) => parentPort.postMessage(e.code));
      }`;
    const round = (w) => new Promise((resolve, reject) => {
      const codes = Array.from({ length: 128 }, (_, i) => emu.mintAuthCode(undefined, { userId: `w${w}-${i}` }));
      const worker = new Worker(source, { eval: true, workerData: { root: ROOT, config: emu.clientConfig(), codes } });
      worker.once('message', (first) => worker.terminate().then((exitCode) => resolve({ first, exitCode }), reject));
      worker.once('error', reject);
    });
    for (let batch = 0; batch < 4; batch += 1) {
      const outcomes = await Promise.all([0, 1, 2, 3].map((w) => round(`${batch}-${w}`)));
      outcomes.forEach(({ first, exitCode }, w) => {
        assert.match(first, new RegExp(`^w${batch}-${w}-\\d+$`));
        assert.equal(exitCode, 1);
      });
    }
    const client = civicSip.newClient(emu.clientConfig());
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => client.exchangeCode(emu.mintAuthCode(undefined, { userId: `after-${i}` }))));
    assert.deepEqual(after, Array.from({ length: 8 }, (_, i) => ({ data: records(DEFAULT_USER_DATA), userId: `after-${i}` })));
  });

  test('once everything has settled the loop is free: the process ends by itself, its results in order', { timeout: 60000 }, async (t) => {
    const emu = await emulator(t);
    const codes = Array.from({ length: 64 }, (_, i) => emu.mintAuthCode(undefined, { userId: `u${i}` }));
    const script = `
      const client = require(${JSON.stringify(ROOT)}).newClient(${JSON.stringify(emu.clientConfig())});
      Promise.all(${JSON.stringify(codes)}.map((c) => client.exchangeCode(c)))
        .then((rs) => process.stdout.write(JSON.stringify(rs.map((r) => r.userId))), (e) => process.stdout.write(e.message));`;
    const { code, stdout, stderr } = await runNode(script, { timeout: 30000 });
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), codes.map((_, i) => `u${i}`));
  });
});
