'use strict';

// The options a client is made with: civic-sip-api's sentences for missing credentials, malformed
// keys named but never shown, the auth code's type, and the URL that env, includeStageInURL and
// api pick.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/configuration.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv();

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const civic = require('./helpers/civic');
const {
  emulator, records,
} = require('./helpers/support');
const {
  PREFIX, assertCivicError, rejectsWith, throwsWith,
} = require('./helpers/assertions');

const OPTS = { timeout: 15000 };
const { codes } = civicSip;

describe('configuration', () => {
  const app = civic.newApp();
  const ID = 'Please supply your application ID.';
  const SECRET = 'Please supply your application secret.';
  const KEY = 'Please supply your application private key.';
  const make = [
    ['newClient', (c) => civicSip.newClient(c)],
    ['new sip', (c) => new civicSip.sip(c)],
  ];

  test('missing appId, appSecret or prvKey throw civic-sip-api\'s sentences synchronously', OPTS, () => {
    const cases = [
      [undefined, ID], [null, ID], [{}, ID],
      [{ appId: '', appSecret: app.appSecret, prvKey: app.prvKey }, ID],
      [{ appSecret: app.appSecret, prvKey: app.prvKey }, ID],
      [{ appId: app.appId }, SECRET],
      [{ appId: app.appId, appSecret: '', prvKey: app.prvKey }, SECRET],
      [{ appId: app.appId, appSecret: null, prvKey: '' }, SECRET],
      [{ appId: app.appId, appSecret: app.appSecret }, KEY],
      [{ appId: app.appId, appSecret: app.appSecret, prvKey: '' }, KEY],
      [{ appId: app.appId, appSecret: app.appSecret, prvKey: undefined, api: 'http://x/' }, KEY],
    ];
    for (const [name, ctor] of make) {
      for (const [config, message] of cases) {
        const err = throwsWith(() => ctor(config), { message, code: codes.CONFIG });
        assert.ok(!err.message.startsWith(PREFIX), name);
      }
    }
    throwsWith(() => civicSip.newClient(), { message: ID, code: codes.CONFIG });
    throwsWith(() => new civicSip.sip(), { message: ID, code: codes.CONFIG });
  });

  test('malformed keys construct, then the exchange rejects naming the field, never the value', OPTS, async (t) => {
    const emu = await emulator(t);
    const prvMessage = `${PREFIX}prvKey must be a P-256 private key as 64 hex characters`;
    const secretMessage = `${PREFIX}appSecret must be 32, 48 or 64 hex characters (the app secret from Civic's integration portal)`;
    const civicKeyMessage = `${PREFIX}civicPublicKey must be a P-256 public key in hex (SEC1, compressed or uncompressed)`;
    const cases = [
      [{ appId: 'a', appSecret: 'b', prvKey: 'x' }, prvMessage, []],
      [{ appId: 'a', appSecret: 'b', prvKey: 'SENTINEL-prv-key-not-hex-SENTINEL-prv-key-not-hex-SENTINEL-prv1' }, prvMessage, ['SENTINEL-prv']],
      [{ ...emu.clientConfig(), prvKey: 'zz'.repeat(32) }, prvMessage, ['zz'.repeat(32)]],
      [{ ...emu.clientConfig(), prvKey: '0'.repeat(64) }, prvMessage, []],
      [{ ...emu.clientConfig(), prvKey: 'f'.repeat(64) }, prvMessage, ['f'.repeat(64)]],
      [{ ...emu.clientConfig(), appSecret: 'SENTINEL-secret-not-hex' }, secretMessage, ['SENTINEL-secret']],
      [{ ...emu.clientConfig(), appSecret: 'abcdef' }, secretMessage, ['abcdef']],
      [{ ...emu.clientConfig(), appSecret: `${emu.app.appSecret}00` }, secretMessage, [`${emu.app.appSecret}00`]],
      [{ ...emu.clientConfig(), civicPublicKey: '04SENTINELzz' }, civicKeyMessage, ['SENTINEL']],
      [{ ...emu.clientConfig(), civicPublicKey: `04${'11'.repeat(64)}` }, civicKeyMessage, ['11'.repeat(64)]],
    ];
    for (const [name, ctor] of make) {
      for (const [config, message, secrets] of cases) {
        const client = ctor(config); // does not throw
        const err = await rejectsWith(client.exchangeCode(emu.mintAuthCode()), { message, code: codes.CONFIG });
        const shown = `${err.message}\n${util.inspect(err, { showHidden: true, depth: Infinity })}`;
        for (const s of secrets) assert.ok(!shown.includes(s), `${name}: ${shown} includes ${s}`);
      }
    }
    // Refused before any request was sent.
    assert.equal(emu.requests.length, 0);
    // The callback form gets the same error.
    const err = await new Promise((resolve) => {
      civicSip.newClient({ appId: 'a', appSecret: 'b', prvKey: 'x' }).exchangeCode('x', resolve);
    });
    assertCivicError(err, { message: prvMessage, code: codes.CONFIG });
  });

  test('a prvKey printed without leading zeros (60-63 hex digits) is padded', OPTS, async (t) => {
    // An app whose key starts with a zero byte, written without it.
    let key;
    do key = civic.newKeyPair(); while (!key.privateHex.startsWith('00') || key.privateHex.startsWith('000'));
    const emu = await emulator(t, { app: { prvKey: key.privateHex } });
    const client = civicSip.newClient(emu.clientConfig({ prvKey: key.privateHex.slice(2) }));
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'z' })),
      { data: records(DEFAULT_USER_DATA), userId: 'z' });
  });

  test('non-string auth codes reject with ERR_INVALID_ARG_TYPE (never throw)', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    for (const [value, kind] of [
      [undefined, 'undefined'], [null, 'null'], [42, 'a number'], [true, 'a boolean'], [{}, 'an object'],
      [['code'], 'an object'], [Symbol('s'), 'a symbol'], [10n, 'a bigint'], [() => 'code', 'a function'],
      [new String('code'), 'an object'], // eslint-disable-line no-new-wrappers
    ]) {
      let promise;
      assert.doesNotThrow(() => { promise = client.exchangeCode(value); });
      await rejectsWith(promise, { message: `${PREFIX}the auth code must be a string, not ${kind}`, code: codes.INVALID_ARGUMENT });
    }
    await rejectsWith(client.exchangeCode(), { message: `${PREFIX}the auth code must be a string, not undefined`, code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(emu.requests.length, 0);
  });

  test('env, includeStageInURL and api without a trailing slash pick the URL', OPTS, async (t) => {
    const emu = await emulator(t);
    const code = emu.mintAuthCode(undefined, { userId: 'url' });
    const expected = { data: records(DEFAULT_USER_DATA), userId: 'url' };
    const cases = [
      [{}, '/prod/scopeRequest/authCode'],
      [{ env: 'dev' }, '/dev/scopeRequest/authCode'],
      [{ env: '' }, '/prod/scopeRequest/authCode'],
      [{ includeStageInURL: true, env: 'test' }, '/test/scopeRequest/authCode'],
      [{ includeStageInURL: false }, '//scopeRequest/authCode'],
      [{ includeStageInURL: false, env: 'dev' }, '//scopeRequest/authCode'],
      [{ api: emu.url.slice(0, -1) }, '/prod/scopeRequest/authCode'],
      [{ api: emu.url.slice(0, -1), env: 'dev' }, '/dev/scopeRequest/authCode'],
      [{ api: emu.url.slice(0, -1), includeStageInURL: false }, '//scopeRequest/authCode'],
      // Truthiness, as civic-sip-api tested it (only `undefined` means the default).
      [{ includeStageInURL: null }, '//scopeRequest/authCode'],
      [{ includeStageInURL: 0 }, '//scopeRequest/authCode'],
      [{ includeStageInURL: 'false' }, '/prod/scopeRequest/authCode'],
      [{ includeStageInURL: undefined, env: 'dev' }, '/dev/scopeRequest/authCode'],
    ];
    for (const [i, [overrides, path]] of cases.entries()) {
      const client = civicSip.newClient(emu.clientConfig(overrides));
      assert.deepEqual(await client.exchangeCode(code), expected, JSON.stringify(overrides));
      assert.equal(emu.requests.length, i + 1);
      assert.equal(emu.requests[i].url, path, JSON.stringify(overrides));
      // aud is the base URL with its trailing slash in every case.
      const token = emu.requests[i].headers.authorization.slice('Civic '.length).split('.').slice(0, 3).join('.');
      assert.equal(civic.decodeJwt(token).claims.aud, emu.url);
    }
  });

  test('invalid timeouts throw at construction', OPTS, () => {
    const app = civic.newApp();
    // Infinity counts as the longest timer (input.test.js); -Infinity is not positive.
    for (const timeout of [0, -1, Number.NaN, -Infinity, 'soon']) {
      throwsWith(() => civicSip.newClient({ ...app, timeout }), {
        message: 'timeout must be a positive number of milliseconds', code: codes.CONFIG,
      });
    }
    // null/undefined mean the default.
    assert.ok(civicSip.newClient({ ...app, timeout: null }) instanceof civicSip.sip);
    assert.ok(civicSip.newClient({ ...app, timeout: undefined }) instanceof civicSip.sip);
  });
});
