'use strict';

// Load and bounds: many exchanges and clients at once, worker threads, memory that stays flat as
// clients come and go, and response sizes capped while streaming.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/load.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, records, runNode, sleep,
} = require('./helpers/support');
const {
  PREFIX, rejectsWith,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;

describe('load', () => {
  test('200 concurrent exchanges all succeed, each with its own data', { timeout: 20000 }, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const n = 200;
    const codesAndData = Array.from({ length: n }, (_, i) => {
      const data = [{ label: 'contact.personal.email', value: `user${i}@example.com`, isValid: true, isOwner: i % 2 === 0 }];
      return { data, code: emu.mintAuthCode(data, { userId: `user-${i}` }) };
    });
    const results = await Promise.all(codesAndData.map(({ code }) => client.exchangeCode(code)));
    results.forEach((r, i) => assert.deepEqual(r, { data: codesAndData[i].data, userId: `user-${i}` }));
    assert.equal(emu.requests.length, n);
    assert.equal(new Set(emu.requests.map((r) => r.headers.authorization)).size, n);
  });

  test('many clients at once, processed payloads included', { timeout: 20000 }, async (t) => {
    const emu = await emulator(t);
    emu.fault('processed');
    const clients = Array.from({ length: 20 }, () => civicSip.newClient(emu.clientConfig()));
    const results = await Promise.all(clients.flatMap((c, i) => Array.from({ length: 5 },
      (_, j) => c.exchangeCode(emu.mintAuthCode(undefined, { userId: `${i}-${j}` })))));
    assert.equal(results.length, 100);
    results.forEach((r, k) => assert.deepEqual(r, { data: records(DEFAULT_USER_DATA), userId: `${Math.floor(k / 5)}-${k % 5}` }));
    assert.equal(emu.requests.filter((r) => r.method === 'GET').length, 100);
  });
});

// ---------------------------------------------------------------------------------------------

describe('load and leaks', () => {
  test('1,000 exchanges in flight at once all succeed, each with its own data', { timeout: 120000 }, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const n = 1000;
    const minted = Array.from({ length: n }, (_, i) => {
      const data = [{ label: 'contact.personal.email', value: `user${i}@example.com`, isValid: true, isOwner: true }];
      return { data, code: emu.mintAuthCode(data, { userId: `u${i}` }) };
    });
    const results = await Promise.all(minted.map(({ code }) => client.exchangeCode(code)));
    results.forEach((r, i) => assert.deepEqual(r, { data: minted[i].data, userId: `u${i}` }));
    assert.equal(emu.requests.length, n);
  });

  test('exchanges from worker_threads, several at once, and a worker terminated mid-exchange', { timeout: 60000 }, async (t) => {
    const emu = await emulator(t);
    const { Worker } = require('node:worker_threads');
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const civicSip = require(workerData.root);
      const client = civicSip.newClient(workerData.config);
      Promise.all(workerData.codes.map((c) => client.exchangeCode(c)))
        .then((results) => parentPort.postMessage({ results }), (e) => parentPort.postMessage({ error: e.message, code: e.code }));`;
    const root = path.join(__dirname, '..');
    const runWorker = (codesForWorker) => new Promise((resolve, reject) => {
      const worker = new Worker(source, { eval: true, workerData: { root, config: emu.clientConfig(), codes: codesForWorker } });
      worker.once('message', (m) => { resolve(m); worker.terminate(); });
      worker.once('error', reject);
    });
    const outcomes = await Promise.all([0, 1, 2, 3].map((w) => runWorker(
      Array.from({ length: 25 }, (_, i) => emu.mintAuthCode(undefined, { userId: `w${w}-${i}` })),
    )));
    outcomes.forEach((o, w) => {
      assert.equal(o.error, undefined, o.error);
      assert.deepEqual(o.results.map((r) => r.userId), Array.from({ length: 25 }, (_, i) => `w${w}-${i}`));
      o.results.forEach((r) => assert.deepEqual(r.data, records(DEFAULT_USER_DATA)));
    });
    // Terminated while its exchange is pending on a hanging server: no crash, the main thread carries on.
    emu.fault('hang');
    const before = emu.requests.length;
    const worker = new Worker(source, { eval: true, workerData: { root, config: emu.clientConfig(), codes: [emu.mintAuthCode()] } });
    while (emu.requests.length === before) await sleep(10);
    assert.equal(await worker.terminate(), 1);
    emu.fault(null);
    const client = civicSip.newClient(emu.clientConfig());
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'after' })), { data: records(DEFAULT_USER_DATA), userId: 'after' });
  });

  test('thousands of clients created and dropped: RSS flat after warm-up (child process with --expose-gc)', { timeout: 120000 }, async (t) => {
    const emu = await emulator(t);
    const script = `
      const civicSip = require('.');
      const config = ${JSON.stringify(emu.clientConfig())};
      const code = ${JSON.stringify(emu.mintAuthCode())};
      // Clients with a proxy option have a connection pool of their own (built at their first
      // exchange); the others share one. A quarter of them exchange a code, then all are dropped.
      const round = async (n) => {
        for (let i = 0; i < n; i += 1) {
          const client = civicSip.newClient(i % 2 ? { ...config, proxy: { rejectUnauthorized: true } } : config);
          if (i % 4 < 2) await client.exchangeCode(code);
        }
        for (let i = 0; i < 5; i += 1) { global.gc(); await new Promise((r) => setTimeout(r, 20)); }
        return process.memoryUsage().rss / 1048576;
      };
      (async () => {
        const warm = await round(2000);
        const after1k = await round(1000);
        const after4k = await round(3000);
        console.log(JSON.stringify({ warm, after1k, after4k }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const { code, stdout, stderr } = await runNode(script, { args: ['--expose-gc'], timeout: 110000 });
    assert.equal(code, 0, stderr);
    const { warm, after1k, after4k } = JSON.parse(stdout);
    t.diagnostic(`RSS: ${warm.toFixed(1)} MB after 2,000 warm-up clients, ${after1k.toFixed(1)} after 1,000 more, ${after4k.toFixed(1)} after 3,000 more`);
    // A client that leaked would keep its connection pool and, for half of them, TLS roots of
    // their own (hundreds of KB): 3,000 of them would add hundreds of MB. The allocator's own
    // drift over 3,000 clients measured up to 11 MB on a busy machine (68 -> 79 MB), so the bound
    // is 20 MB: about 7 KB per client.
    assert.ok(after4k < after1k + 20, `RSS grew from ${after1k.toFixed(1)} to ${after4k.toFixed(1)} MB`);
  });
});

// ---------------------------------------------------------------------------------------------

describe('response size is capped while streaming', () => {
  test('maxResponseBytes: the limit is exact, for the reply and for the payload URL', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const body = civic.replyBody({ data: fake.token() });
    const size = Buffer.byteLength(body);
    fake.onExchange = (req, res) => fake.send(res, 200, body);
    assert.deepEqual(await civicSip.newClient(fake.clientConfig({ maxResponseBytes: size })).exchangeCode('code'),
      { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    const tight = civicSip.newClient(fake.clientConfig({ maxResponseBytes: size - 1 }));
    await rejectsWith(tight.exchangeCode('code'), {
      message: `${PREFIX}Error: response body larger than ${size - 1} bytes (maxResponseBytes)`, code: codes.RESPONSE_TOO_LARGE,
    });
    // Without Content-Length (chunked), refused while reading.
    fake.onExchange = (req, res) => { res.writeHead(200); res.write(body.slice(0, 100)); res.end(body.slice(100)); };
    await rejectsWith(tight.exchangeCode('code'), {
      message: `${PREFIX}Error: response body larger than ${size - 1} bytes (maxResponseBytes)`, code: codes.RESPONSE_TOO_LARGE,
    });
    const token = fake.token();
    fake.processed({ body: token });
    const payloadLimit = Buffer.byteLength(token) - 1;
    await rejectsWith(civicSip.newClient(fake.clientConfig({ maxResponseBytes: payloadLimit })).exchangeCode('code'), {
      message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: response body larger than ${payloadLimit} bytes (maxResponseBytes)`,
      code: codes.RESPONSE_TOO_LARGE,
    });
    for (const bad of [0, -1, 1.5, Number.NaN, 'lots']) {
      assert.throws(() => civicSip.newClient({ ...civic.newApp(), maxResponseBytes: bad }),
        { message: 'maxResponseBytes must be a positive integer', code: codes.CONFIG });
    }
  });

  test('a 200 MB response is refused while streaming, RSS growing by less than 64 MB', { timeout: 120000 }, async (t) => {
    // 200 MB of JSON-looking bytes, streamed without Content-Length, only as fast as it is read.
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const total = 200 * 1024 * 1024;
    const stream = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      let sent = 0;
      const pump = () => {
        while (sent < total && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(sent === chunk.length ? Buffer.concat([Buffer.from('{"data":"'), chunk]) : chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('"}');
      };
      pump();
    };
    const fake = await fakeCivic(t);
    fake.onExchange = stream;
    const announced = await fakeCivic(t);
    announced.onExchange = (req, res) => { res.writeHead(200, { 'Content-Length': total }); res.write('{"data":"'); };
    const payload = await fakeCivic(t);
    payload.processed(stream);
    // The client runs in a child process so that its RSS is its own, sampled every 5 ms.
    const script = `
      const civicSip = require('.');
      const configs = ${JSON.stringify([fake.clientConfig(), announced.clientConfig(), payload.clientConfig()])};
      (async () => {
        const before = process.memoryUsage().rss;
        let peak = before;
        const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
        const outcomes = [];
        for (const config of configs) {
          const start = Date.now();
          try { await civicSip.newClient(config).exchangeCode('code'); outcomes.push({ resolved: true }); }
          catch (e) { outcomes.push({ message: e.message, code: e.code, ms: Date.now() - start }); }
        }
        clearInterval(timer);
        peak = Math.max(peak, process.memoryUsage().rss);
        console.log(JSON.stringify({ growthMB: (peak - before) / 1048576, outcomes }));
      })();`;
    const { code, stdout, stderr } = await runNode(script);
    assert.equal(code, 0, stderr);
    const { growthMB, outcomes } = JSON.parse(stdout);
    const limit = 'response body larger than 16777216 bytes (maxResponseBytes)';
    assert.deepEqual(outcomes.map(({ message, code: c }) => ({ message, code: c })), [
      { message: `${PREFIX}Error: ${limit}`, code: codes.RESPONSE_TOO_LARGE },
      { message: `${PREFIX}Error: ${limit}`, code: codes.RESPONSE_TOO_LARGE },
      { message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: ${limit}`, code: codes.RESPONSE_TOO_LARGE },
    ]);
    assert.ok(growthMB < 64, `RSS grew by ${growthMB.toFixed(1)} MB`);
    t.diagnostic(`RSS growth ${growthMB.toFixed(1)} MB; refused after ${outcomes.map((o) => o.ms).join(', ')} ms`);
  });
});
