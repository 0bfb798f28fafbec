'use strict';

// The network failing under an exchange: refused and reset connections, servers that never
// answer or stall mid-body; each settles within its timeout with its own `code`.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/network.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const { closedPort } = require('./helpers/servers');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, socketServer, records, timingDependent,
} = require('./helpers/support');
const {
  PREFIX, assertCivicError, rejectsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;

describe('network failures and timeouts', () => {
  test('connection refused (a port opened and closed)', OPTS, async () => {
    const port = await closedPort();
    const client = civicSip.newClient({ ...civic.newApp(), api: `http://127.0.0.1:${port}/` });
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${port}`, code: codes.NETWORK,
    });
  });

  test('connection reset, and the server closing on a pending request (socket hang up)', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    emu.fault('connectionReset');
    await rejectsWith(client.exchangeCode(emu.mintAuthCode()), {
      message: `${PREFIX}Error: read ECONNRESET`, code: codes.NETWORK,
    });
    emu.fault('hang');
    const pending = client.exchangeCode(emu.mintAuthCode());
    while (emu.requests.length < 2) await new Promise((r) => { setTimeout(r, 10); });
    await emu.close();
    const outcome = await settle(pending);
    assert.equal(outcome.ok, false);
    assertCivicError(outcome.error, { message: `${PREFIX}Error: socket hang up`, code: codes.NETWORK });
  });

  test('timeout: 300 against a server that never answers', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('hang');
    const client = civicSip.newClient(emu.clientConfig({ timeout: 300 }));
    const outcome = await settle(client.exchangeCode(emu.mintAuthCode()), 5000);
    assert.equal(outcome.ok, false);
    assertCivicError(outcome.error, { message: `${PREFIX}Error: ETIMEDOUT: no answer within 300 ms`, code: codes.TIMEOUT });
    assert.ok(outcome.elapsed >= 250, `settled after ${outcome.elapsed} ms`);
    // A delay longer than the timeout is refused too.
    emu.fault('delay', { ms: 1500 });
    const late = await settle(client.exchangeCode(emu.mintAuthCode()), 5000);
    assertCivicError(late.error, { message: `${PREFIX}Error: ETIMEDOUT: no answer within 300 ms`, code: codes.TIMEOUT });
  });

  // 200 ms of slack for the rest of the exchange: it needs the CPU on time (timingDependent: test:all).
  test('timeout: 300 and a server that answers after 100 ms: the exchange succeeds', timingDependent(OPTS), async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig({ timeout: 300 }));
    emu.fault('delay', { ms: 100 });
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'x' })),
      { data: records(DEFAULT_USER_DATA), userId: 'x' });
  });

  test('the timeout covers the processed payload fetch', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    fake.processed({ hang: true });
    const client = civicSip.newClient(fake.clientConfig({ timeout: 300 }));
    const outcome = await settle(client.exchangeCode('code'), 5000);
    assert.equal(outcome.ok, false);
    assertCivicError(outcome.error, { message: `${PREFIX}Error: ETIMEDOUT: no answer within 300 ms`, code: codes.TIMEOUT });
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('stalls settle within the timeout', () => {
  const TIMEOUT = 400;
  const MARGIN = 600;
  const timedOut = { message: `${PREFIX}Error: ETIMEDOUT: no answer within ${TIMEOUT} ms`, code: codes.TIMEOUT };

  test('a server that accepts the connection and never answers', OPTS, async (t) => {
    const server = await socketServer(t, () => {});
    const client = civicSip.newClient({ ...civic.newApp(), api: server.url, timeout: TIMEOUT });
    const outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, timedOut);
    assert.ok(outcome.elapsed >= TIMEOUT - 20 && outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
  });

  test('a server that sends the headers, then dribbles the body a byte at a time', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const body = civic.replyBody({ data: fake.token() });
    const timers = new Set();
    t.after(() => timers.forEach(clearInterval));
    const dribble = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed || i >= body.length) { clearInterval(timer); return; }
        res.write(body[i]);
        i += 1;
      }, 50);
      timers.add(timer);
    };
    const client = civicSip.newClient(fake.clientConfig({ timeout: TIMEOUT }));
    fake.onExchange = dribble;
    let outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, timedOut);
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
    // The same on the processed payload URL.
    fake.processed(dribble);
    outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, timedOut);
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
  });

  test('a server that resets the connection in the middle of the body', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig({ timeout: TIMEOUT }));
    const body = civic.replyBody({ data: fake.token() });
    const resetMidBody = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.write(body.slice(0, 100), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
    };
    fake.onExchange = resetMidBody;
    let outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, { message: `${PREFIX}Error: read ECONNRESET`, code: codes.NETWORK });
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
    fake.processed(resetMidBody);
    outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, {
      message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: read ECONNRESET`, code: codes.NETWORK,
    });
  });

  test('redirect loops: the exchange POST is not followed, the payload GET stops after 10', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig({ timeout: TIMEOUT }));
    fake.onExchange = (req, res) => fake.send(res, 302, '', { Location: req.url });
    let outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, { message: `${PREFIX}302 - ""`, code: codes.HTTP_STATUS, statusCode: 302, body: '' });
    fake.processed((req, res) => fake.send(res, 302, '', { Location: req.url }));
    outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, {
      message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: Exceeded maxRedirects. Probably stuck in a redirect loop ${fake.url}payload/1`,
      code: codes.NETWORK,
    });
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
  });
});
