'use strict';

// Optional resilience: retries of transient failures (off by default; never once the request
// may have been acted on), and an AbortSignal per call that settles at once and closes its connection.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/retries-abort.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { getEventListeners } = require('node:events');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const { closedPort } = require('./helpers/servers');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, httpServer, socketServer, records, sleep, timingDependent,
} = require('./helpers/support');
const {
  PREFIX, assertCivicError, rejectsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;

describe('optional resilience: retries (off by default)', () => {
  test('503, 429 and 504 are retried with a fresh request token; the default makes one attempt', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const answers = [];
    fake.onExchange = (req, res) => {
      const status = answers.shift();
      if (status) fake.send(res, status, `{"message":"status ${status}"}`);
      else fake.send(res, 200, civic.replyBody({ data: fake.token(), userId: 'after-retries' }));
    };
    answers.push(503);
    await rejectsWith(civicSip.newClient(fake.clientConfig()).exchangeCode('code'), {
      message: `${PREFIX}503 - "{\\"message\\":\\"status 503\\"}"`, code: codes.HTTP_STATUS, statusCode: 503, body: '{"message":"status 503"}',
    });
    assert.equal(fake.requests.length, 1);
    answers.push(503, 429, 504);
    const client = civicSip.newClient(fake.clientConfig({ retries: 3 }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'after-retries' });
    const attempts = fake.requests.slice(1);
    assert.equal(attempts.length, 4);
    const jtis = attempts.map((r) => civic.decodeJwt(r.headers.authorization.slice('Civic '.length).split('.').slice(0, 3).join('.')).claims.jti);
    assert.equal(new Set(jtis).size, 4);
    assert.ok(attempts.every((r) => r.body === attempts[0].body));
    // More failures than retries: the last failure is the error.
    answers.push(503, 503, 504);
    await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 2 })).exchangeCode('code'), {
      message: `${PREFIX}504 - "{\\"message\\":\\"status 504\\"}"`, code: codes.HTTP_STATUS, statusCode: 504, body: '{"message":"status 504"}',
    });
    assert.equal(answers.length, 0);
  });

  test('statuses that are not transient are never retried', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    for (const status of [400, 401, 403, 404, 500, 502]) {
      const before = fake.requests.length;
      fake.onExchange = (req, res) => fake.send(res, status, 'no');
      await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 5 })).exchangeCode('code'), {
        message: `${PREFIX}${status} - "no"`, code: codes.HTTP_STATUS, statusCode: status, body: 'no',
      });
      assert.equal(fake.requests.length - before, 1, `${status} was retried`);
    }
  });

  test('Retry-After is honoured (seconds and HTTP date); a wait beyond the timeout gives up at once', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    let first = true;
    let retryAfter = '1';
    fake.onExchange = (req, res) => {
      if (first) {
        first = false;
        fake.send(res, 429, 'slow down', { 'Retry-After': retryAfter });
      } else fake.send(res, 200, civic.replyBody({ data: fake.token() }));
    };
    const client = civicSip.newClient(fake.clientConfig({ retries: 1 }));
    let outcome = await settle(client.exchangeCode('code'));
    assert.equal(outcome.ok, true, outcome.error && outcome.error.message);
    assert.ok(outcome.elapsed >= 950, `retried after ${outcome.elapsed} ms, before Retry-After`);
    first = true;
    retryAfter = new Date(Date.now() + 2000).toUTCString();
    outcome = await settle(client.exchangeCode('code'));
    assert.equal(outcome.ok, true, outcome.error && outcome.error.message);
    assert.ok(outcome.elapsed >= 900, `retried after ${outcome.elapsed} ms, before the Retry-After date`);
    first = true;
    retryAfter = '3600';
    outcome = await settle(civicSip.newClient(fake.clientConfig({ retries: 1, timeout: 5000 })).exchangeCode('code'));
    assertCivicError(outcome.error, { message: `${PREFIX}429 - "slow down"`, code: codes.HTTP_STATUS, statusCode: 429, body: 'slow down' });
    assert.ok(outcome.elapsed < 1000, `gave up after ${outcome.elapsed} ms`);
    // Waits and timeouts past the clock's range: the same answer, not an overflow (ERR_CIVIC_INTERNAL).
    for (const [wait, timeout] of [['10000000000000000000', 5000], ['99999999999999999999999', 5000], ['10000000000000000000', 1e22]]) {
      first = true;
      retryAfter = wait;
      outcome = await settle(civicSip.newClient(fake.clientConfig({ retries: 1, timeout })).exchangeCode('code'));
      assertCivicError(outcome.error, { message: `${PREFIX}429 - "slow down"`, code: codes.HTTP_STATUS, statusCode: 429, body: 'slow down' });
      assert.ok(outcome.elapsed < 1000, `Retry-After ${wait}, timeout ${timeout}: gave up after ${outcome.elapsed} ms`);
    }
    // A timeout beyond Node's longest timer counts as that one, and the exchange works.
    first = false;
    assert.deepEqual(await civicSip.newClient(fake.clientConfig({ timeout: 1e22 })).exchangeCode('code'),
      { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
  });

  test('a failure after the request was sent is never retried: the server may have acted on it', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const body = civic.replyBody({ data: fake.token() });
    fake.onExchange = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.write(body.slice(0, 100), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
    };
    await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 5 })).exchangeCode('code'), {
      message: `${PREFIX}Error: read ECONNRESET`, code: codes.NETWORK,
    });
    assert.equal(fake.requests.length, 1);
    // Nor is a reset before any answer, once the request went out.
    fake.onExchange = (req) => req.socket.resetAndDestroy();
    await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 5 })).exchangeCode('code'), {
      message: `${PREFIX}Error: read ECONNRESET`, code: codes.NETWORK,
    });
    assert.equal(fake.requests.length, 2);
  });

  test('a connection refused is retried until the server is up; with retries off it fails at once', OPTS, async (t) => {
    const port = await closedPort();
    const fake = await fakeCivic(t);
    const config = fake.clientConfig({ api: `http://127.0.0.1:${port}/` });
    await rejectsWith(civicSip.newClient(config).exchangeCode('code'), {
      message: `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${port}`, code: codes.NETWORK,
    });
    // A forwarder comes up on that port 300 ms later; the first attempts were refused.
    const pending = civicSip.newClient({ ...config, retries: 6 }).exchangeCode('code');
    await sleep(300);
    await socketServer(t, (socket) => {
      const upstream = net.connect(fake.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    }, { port });
    assert.deepEqual(await pending, { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    assert.equal(fake.requests.length, 1);
  });

  test('the payload URL is retried too; retries must be an integer from 0 to 10', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    let failures = 2;
    fake.processed((req, res) => {
      if (failures > 0) {
        failures -= 1;
        fake.send(res, 503, 'busy', { 'Retry-After': '0' });
      } else fake.send(res, 200, fake.token());
    });
    assert.deepEqual(await civicSip.newClient(fake.clientConfig({ retries: 2 })).exchangeCode('code'),
      { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET', 'GET', 'GET']);
    for (const bad of [-1, 11, 1.5, Number.NaN, 'twice']) {
      assert.throws(() => civicSip.newClient({ ...civic.newApp(), retries: bad }),
        { message: 'retries must be an integer from 0 to 10', code: codes.CONFIG });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('optional resilience: AbortSignal per call', () => {
  function assertAborted(err, reason) {
    assertCivicError(err, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(err.name, 'AbortError');
    assert.equal(err.cause, reason);
  }

  // Settling within 200 ms of the abort needs the CPU on time (timingDependent: test:all).
  test('aborting a pending exchange rejects at once and closes its connection', timingDependent(OPTS), async (t) => {
    const fake = await fakeCivic(t);
    let closed;
    const socketClosed = new Promise((resolve) => { closed = resolve; });
    const server = await httpServer(t, (req) => { req.socket.on('close', closed); }, { readBody: false });
    const client = civicSip.newClient(fake.clientConfig({ api: server.url }));
    const controller = new AbortController();
    const pending = client.exchangeCode('code', { signal: controller.signal });
    await sleep(100);
    const reason = new Error('user went away');
    controller.abort(reason);
    const outcome = await settle(pending, 1000);
    assertAborted(outcome.error, reason);
    assert.ok(outcome.elapsed < 200, `settled ${outcome.elapsed} ms after the abort`);
    const closedIn = await settle(socketClosed, 2000);
    assert.equal(closedIn.ok, true);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  test('a timeout or an abort during the payload GET closes that connection too', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    let closed;
    fake.processed((req) => { req.socket.once('close', () => closed()); });
    const client = civicSip.newClient(fake.clientConfig({ timeout: 300 }));
    let socketClosed = new Promise((resolve) => { closed = resolve; });
    const timedOut = await settle(client.exchangeCode('code'));
    assertCivicError(timedOut.error, { message: `${PREFIX}Error: ETIMEDOUT: no answer within 300 ms`, code: codes.TIMEOUT });
    assert.equal((await settle(socketClosed, 1000)).ok, true);
    socketClosed = new Promise((resolve) => { closed = resolve; });
    const controller = new AbortController();
    const pending = civicSip.newClient(fake.clientConfig()).exchangeCode('code', { signal: controller.signal });
    while (fake.requests.filter((r) => r.method === 'GET').length < 2) await sleep(5);
    controller.abort();
    assertAborted((await settle(pending, 1000)).error, controller.signal.reason);
    assert.equal((await settle(socketClosed, 1000)).ok, true);
  });

  test('an already aborted signal rejects without a request; AbortSignal.timeout works', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const reason = new Error('too late');
    assertAborted(await client.exchangeCode('code', { signal: AbortSignal.abort(reason) }).catch((e) => e), reason);
    assert.equal(fake.requests.length, 0);
    fake.onExchange = () => {};
    const signal = AbortSignal.timeout(150);
    const outcome = await settle(client.exchangeCode('code', { signal }));
    assertCivicError(outcome.error, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(outcome.error.cause.name, 'TimeoutError');
    assert.ok(outcome.elapsed < 1000, `settled after ${outcome.elapsed} ms`);
  });

  test('a signal that never fires changes nothing; its listener is removed; callback form with options', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const controller = new AbortController();
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'kept' }), { signal: controller.signal }),
      { data: records(DEFAULT_USER_DATA), userId: 'kept' });
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    controller.abort();
    const viaCallback = await new Promise((resolve) => {
      assert.equal(client.exchangeCode(emu.mintAuthCode(), { signal: controller.signal }, (error, data) => resolve({ error, data })), undefined);
    });
    assertCivicError(viaCallback.error, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(viaCallback.data, undefined);
    // Options without a signal, and a signal that is not one.
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'plain' }), {}), { data: records(DEFAULT_USER_DATA), userId: 'plain' });
    for (const signal of [null, 'abort', { aborted: false }]) {
      const err = await client.exchangeCode('code', { signal }).catch((e) => e);
      assertCivicError(err, { message: `${PREFIX}the signal option must be an AbortSignal`, code: codes.INVALID_ARGUMENT });
    }
  });
});
