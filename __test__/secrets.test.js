'use strict';

// appSecret and prvKey never show: not in a client (util.inspect, JSON, String), not in any
// error's message, stack, inspection or properties, whatever failed.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/secrets.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');

const civicSip = require('..');
const { closedPort, CA_PEM } = require('./helpers/servers');
const {
  emulator, fakeCivic,
} = require('./helpers/support');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;

describe('secrets stay hidden', () => {
  test('the client and every error never show appSecret or prvKey', OPTS, async (t) => {
    const emu = await emulator(t);
    const { appSecret, prvKey } = emu.app;
    const forms = (s) => [s, s.toUpperCase(), Buffer.from(s, 'hex').toString('base64'), Buffer.from(s, 'hex').toString('base64url')];
    const secrets = [...forms(appSecret), ...forms(prvKey), appSecret.slice(0, 12), prvKey.slice(8, 24)];
    const hides = (text, what) => {
      for (const s of secrets) assert.ok(!text.includes(s), `${what} shows a secret: ${text}`);
    };

    const clients = [civicSip.newClient(emu.clientConfig()), new civicSip.sip(emu.clientConfig({ timeout: 300 }))];
    for (const client of clients) {
      hides(util.inspect(client, { showHidden: true, depth: Infinity, getters: true }), 'util.inspect');
      hides(util.inspect(client), 'util.inspect');
      hides(JSON.stringify(client), 'JSON.stringify');
      hides(String(client), 'String');
      hides(`${client}`, 'template');
      assert.deepEqual(Object.keys(client), ['exchangeCode', 'processPayload']);
      assert.deepEqual(Reflect.ownKeys(client), ['exchangeCode', 'processPayload']);
      assert.equal(JSON.stringify(client), '{}');
      for (const key of Reflect.ownKeys(client)) hides(String(client[key]), `client.${String(key)}`);
      for (const key of Object.getOwnPropertyNames(Object.getPrototypeOf(client))) {
        hides(util.inspect(Object.getOwnPropertyDescriptor(Object.getPrototypeOf(client), key), { showHidden: true }), key);
      }
    }

    const [client, fast] = clients;
    const code = emu.mintAuthCode();
    const errors = [];
    const collect = (p) => p.then(() => assert.fail('expected a rejection'), (e) => errors.push(e));
    for (const fault of ['unauthorized', 'wrongKey', 'badPadding', 'badIv', 'notJson', 'noData', 'connectionReset']) {
      emu.fault(fault);
      await collect(client.exchangeCode(code));
    }
    emu.fault('processed', { payloadStatus: 403 });
    await collect(client.exchangeCode(code));
    emu.fault('hang');
    await collect(fast.exchangeCode(code));
    emu.fault(null);
    await collect(client.exchangeCode(7));
    const port = await closedPort();
    await collect(civicSip.newClient(emu.clientConfig({ api: `http://127.0.0.1:${port}/` })).exchangeCode(code));
    await collect(civicSip.newClient({ appId: 'a', appSecret, prvKey: `${prvKey}0` }).exchangeCode(code));
    await collect(civicSip.newClient({ appId: 'a', appSecret: `${appSecret}0`, prvKey }).exchangeCode(code));
    for (const response of [{ statusCode: 400, body: 'x' }, { statusCode: 200, body: 'x' }]) {
      try { client.processPayload(response); } catch (e) { errors.push(e); }
    }
    assert.equal(errors.length, 15);
    const seenCodes = new Set();
    for (const e of errors) {
      assert.ok(e instanceof Error);
      seenCodes.add(e.code);
      hides(e.message, 'message');
      hides(String(e.stack), 'stack');
      hides(util.inspect(e, { showHidden: true, depth: Infinity }), 'util.inspect(error)');
      hides(JSON.stringify(e), 'JSON.stringify(error)');
      hides(JSON.stringify(Object.getOwnPropertyDescriptors(e)), 'descriptors');
    }
    assert.deepEqual([...seenCodes].sort(), [
      codes.CONFIG, codes.DECRYPTION, codes.HTTP_STATUS, codes.INVALID_RESPONSE,
      codes.NETWORK, codes.TIMEOUT, codes.VERIFICATION, codes.INVALID_ARGUMENT,
    ].sort());
  });
});

// ---------------------------------------------------------------------------------------------

describe('secrets never show', () => {
  test('the new failures (too large, aborted, TLS, retries, ca) hide appSecret and prvKey everywhere', OPTS, async (t) => {
    const fake = await fakeCivic(t, { tls: true });
    const { appSecret, prvKey } = fake.app;
    const secrets = [appSecret, prvKey, appSecret.toUpperCase(), prvKey.toUpperCase(), Buffer.from(prvKey, 'hex').toString('base64')];
    const hides = (text, what) => secrets.forEach((s) => assert.ok(!String(text).includes(s), `${what} shows a secret: ${text}`));
    const client = civicSip.newClient(fake.clientConfig({ ca: CA_PEM, retries: 1, maxResponseBytes: 10 }));
    for (const shown of [util.inspect(client, { showHidden: true, depth: Infinity }), JSON.stringify(client), String(client), Object.keys(client).join()]) {
      hides(shown, 'client');
    }
    const errors = [
      await client.exchangeCode('code').catch((e) => e),
      await civicSip.newClient(fake.clientConfig({ proxy: { rejectUnauthorized: false }, maxResponseBytes: 10 })).exchangeCode('code').catch((e) => e),
      await client.exchangeCode('code', { signal: AbortSignal.abort(new Error(`reason ${'x'.repeat(4)}`)) }).catch((e) => e),
      await civicSip.newClient(fake.clientConfig({ ca: 'junk' })).exchangeCode('code').catch((e) => e),
    ];
    assert.deepEqual(errors.map((e) => e.code), [codes.NETWORK, codes.RESPONSE_TOO_LARGE, codes.ABORTED, codes.CONFIG]);
    for (const e of errors) {
      hides(e.message, 'message');
      hides(e.stack, 'stack');
      hides(util.inspect(e, { showHidden: true, depth: Infinity }), 'util.inspect(error)');
      hides(util.inspect(e.cause, { showHidden: true, depth: Infinity }), 'cause');
      hides(JSON.stringify(Object.getOwnPropertyDescriptors(e)), 'descriptors');
    }
  });
});
