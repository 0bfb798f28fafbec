'use strict';

// Real-world inputs read as civic-sip-api reads them, and nothing changed silently: the spellings
// of key material, whitespace around a response token, lone surrogates in strings that cross into
// Rust, an AbortSignal shared by many exchanges, and the limits' numbers (Infinity, -0, NaN).
// Each case runs against a real server on 127.0.0.1 (the emulator, which verifies the request
// token under the app's public key and the Civic extension under its secret, or a fake Civic),
// and where civic-sip-api has an answer, through civic-sip-api too (rewired to the server's
// Civic key), asserting both outcomes.
//
// Run: node --test __test__/input.test.js

require('./helpers/support').clearProxyEnv();

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { getEventListeners } = require('node:events');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, httpServer, outcome, records,
} = require('./helpers/support');
const {
  PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, throwsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;
const PRV_MESSAGE = `${PREFIX}prvKey must be a P-256 private key as 64 hex characters`;
const SECRET_MESSAGE = `${PREFIX}appSecret must be 32, 48 or 64 hex characters (the app secret from Civic's integration portal)`;
const CIVIC_KEY_MESSAGE = `${PREFIX}civicPublicKey must be a P-256 public key in hex (SEC1, compressed or uncompressed)`;
// The order of P-256's group: a scalar must be below it.
const ORDER = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';

/** civic-sip-api with module state of its own, verifying with `civicPublicKey`. */
const referenceClient = civic.civicSipApi;

/** A P-256 key pair whose private scalar starts with a zero byte (and not two). */
function keyWithLeadingZeroByte() {
  let key;
  do key = civic.newKeyPair(); while (!key.privateHex.startsWith('00') || key.privateHex.startsWith('000'));
  return key;
}

describe('prvKey: every spelling civic-sip-api signs with as the same key', () => {
  test('works, and the emulator verifies the request token under the app key as for civic-sip-api; other keys are refused', OPTS, async (t) => {
    const key = keyWithLeadingZeroByte();
    const emu = await emulator(t, { app: { prvKey: key.privateHex } });
    const d = key.privateHex;
    const pairs = d.match(/../g);
    const spellings = {
      'a leading sign byte': `00${d}`,
      'many leading zeros': `0000000000${d}`,
      'without its leading zero byte': d.slice(2),
      'a trailing newline': `${d}\n`,
      'a trailing CRLF': `${d}\r\n`,
      'surrounding spaces and tabs': ` \t${d}\t `,
      'upper case': d.toUpperCase(),
      'OpenSSL\'s colon-separated bytes over lines': `${pairs.slice(0, 15).join(':')}:\n    ${pairs.slice(15).join(':')}`,
      'dashes between groups': `${d.slice(0, 8)}-${d.slice(8)}`,
      'a lone surrogate inside (skipped by both)': `${d.slice(0, 10)}\ud800${d.slice(10)}`,
    };
    for (const [name, prvKey] of Object.entries(spellings)) {
      const config = emu.clientConfig({ prvKey });
      const reference = await outcome(() => referenceClient(config).exchangeCode(emu.mintAuthCode(undefined, { userId: 'r' })));
      assert.ok(reference.ok, `${name}: civic-sip-api ${reference.error && reference.error.message}`);
      assert.deepEqual(reference.value, { data: records(DEFAULT_USER_DATA), userId: 'r' }, name);
      const native = await outcome(() => civicSip.newClient(config).exchangeCode(emu.mintAuthCode(undefined, { userId: 'n' })));
      assert.ok(native.ok, `${name}: civic-sip-native ${native.error && native.error.message}`);
      assert.deepEqual(native.value, { data: records(DEFAULT_USER_DATA), userId: 'n' }, name);
    }
    // What civic-sip-api reads as another key, or none, is refused before sending, naming the
    // field only.
    const refused = {
      'a 0x prefix (jsbn reads x as the digit 33)': `0x${d}`,
      'a minus sign': `-${d}`,
      'letters beyond f': `zz${d}`,
      'a word': 'c-secret',
      zero: '0'.repeat(64),
      'the group order': ORDER,
      'above the group order': 'f'.repeat(64),
      'more than 256 bits': `1${d}`,
      'no digit at all': ' :- ',
    };
    for (const [name, prvKey] of Object.entries(refused)) {
      const config = emu.clientConfig({ prvKey });
      const before = emu.requests.length;
      const err = await rejectsWith(civicSip.newClient(config).exchangeCode(emu.mintAuthCode()), { message: PRV_MESSAGE, code: codes.CONFIG });
      assert.equal(emu.requests.length, before, `${name}: nothing sent`);
      if (prvKey.trim().length > 4) assert.ok(!err.message.includes(prvKey.trim()), name);
      // civic-sip-api signs with some other number, which the server refuses, or fails to sign.
      const reference = await outcome(() => referenceClient(config).exchangeCode(emu.mintAuthCode()));
      assert.equal(reference.ok, false, `${name}: civic-sip-api resolved`);
    }
  });
});

describe('appSecret and civicPublicKey', () => {
  test('civicPublicKey: case, surrounding whitespace and the compressed form verify, other spellings are refused; appSecret as civic-sip-api reads it', OPTS, async (t) => {
    const emu = await emulator(t);
    const publicHex = emu.civicPublicKey;
    const compressed = `0${2 + (Buffer.from(publicHex, 'hex')[64] & 1)}${publicHex.slice(2, 66)}`;
    for (const civicPublicKey of [publicHex.toUpperCase(), `${publicHex}\n`, ` \t${publicHex}\r\n`, compressed, compressed.toUpperCase()]) {
      const client = civicSip.newClient(emu.clientConfig({ civicPublicKey }));
      assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'k' })), { data: records(DEFAULT_USER_DATA), userId: 'k' });
    }
    // civic-sip-api's verifier (jsrsasign) takes the same upper-case and newline-ended forms.
    for (const civicPublicKey of [publicHex.toUpperCase(), `${publicHex}\n`]) {
      const reference = referenceClient(emu.clientConfig({ civicPublicKey }));
      assert.deepEqual(await reference.exchangeCode(emu.mintAuthCode(undefined, { userId: 'k' })), { data: records(DEFAULT_USER_DATA), userId: 'k' });
    }
    for (const civicPublicKey of [`0x${publicHex}`, `${publicHex.slice(0, 20)} ${publicHex.slice(20)}`, `04${'11'.repeat(64)}`, `${publicHex}00`]) {
      const before = emu.requests.length;
      await rejectsWith(civicSip.newClient(emu.clientConfig({ civicPublicKey })).exchangeCode(emu.mintAuthCode()),
        { message: CIVIC_KEY_MESSAGE, code: codes.CONFIG });
      assert.equal(emu.requests.length, before, 'nothing sent');
    }

    // appSecret: upper case decrypts as in civic-sip-api; with whitespace civic-sip-api decrypts
    // garbage, civic-sip-native refuses it.
    const reply = await civic.signedExchange(emu, emu.mintAuthCode(undefined, { userId: 'u' }));
    assert.equal(reply.status, 200);
    const response = { statusCode: 200, body: reply.body };
    const upper = emu.clientConfig({ appSecret: emu.app.appSecret.toUpperCase() });
    assert.deepEqual(referenceClient(upper).processPayload(response), { data: records(DEFAULT_USER_DATA), userId: 'u' });
    assert.deepEqual(civicSip.newClient(upper).processPayload(response), { data: records(DEFAULT_USER_DATA), userId: 'u' });
    // The Civic extension is keyed with the secret's text, so the server refuses an upper-case
    // one from both clients alike.
    const [reference, native] = [await outcome(() => referenceClient(upper).exchangeCode(emu.mintAuthCode())),
      await outcome(() => civicSip.newClient(upper).exchangeCode(emu.mintAuthCode()))];
    assert.equal(reference.ok, false);
    assertCivicError(native.error, { message: reference.error.message, code: codes.HTTP_STATUS, statusCode: 401, body: native.error.response.body });
    // CryptoJS reads a secret with whitespace as another key: civic-sip-api fails to decrypt;
    // civic-sip-native refuses the secret, naming the field only.
    for (const appSecret of [`${emu.app.appSecret}\n`, ` ${emu.app.appSecret}`, `${emu.app.appSecret.slice(0, 16)} ${emu.app.appSecret.slice(16)}`]) {
      const config = emu.clientConfig({ appSecret });
      const reference = await outcome(() => referenceClient(config).processPayload(response));
      assert.ok(!reference.ok || reference.value.data === undefined, 'civic-sip-api decrypted with another key');
      const err = throwsWith(() => civicSip.newClient(config).processPayload(response), { message: SECRET_MESSAGE.slice(PREFIX.length), code: codes.CONFIG });
      assert.ok(!err.message.includes(emu.app.appSecret));
      const before = emu.requests.length;
      await rejectsWith(civicSip.newClient(config).exchangeCode(emu.mintAuthCode()), { message: SECRET_MESSAGE, code: codes.CONFIG });
      assert.equal(emu.requests.length, before, 'nothing sent');
    }
  });
});

describe('whitespace around a response token is not a forgery', () => {
  const AROUND = {
    'a trailing newline': ['', '\n'],
    'a trailing CRLF': ['', '\r\n'],
    'trailing spaces and tabs': ['', ' \t '],
    'a leading newline': ['\n', ''],
    'both sides': [' \r\n\t', '\t\r\n '],
    'form feed and vertical tab': ['\f', '\v'],
  };
  // Inside the token the bytes are not Civic's: refused (civic-sip-api skips whitespace in the
  // signature segment, which civic-sip-native refuses too: a documented difference).
  const inside = (token) => {
    const [header, payload, signature] = token.split('.');
    return {
      'a space in the header': `${header.slice(0, 4)} ${header.slice(4)}.${payload}.${signature}`,
      'a newline in the claims': `${header}.${payload.slice(0, 9)}\n${payload.slice(9)}.${signature}`,
      'a space after a dot': `${header}. ${payload}.${signature}`,
      'a newline in the signature': `${header}.${payload}.${signature.slice(0, 9)}\n${signature.slice(9)}`,
      'a trailing no-break space': `${token}\u00a0`,
      'a trailing NUL': `${token}\u0000`,
    };
  };

  test('in the payload body and in the reply\'s data: surrounding ASCII whitespace is ignored, inside refused', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const token = fake.token();
    const expected = { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' };
    const client = civicSip.newClient(fake.clientConfig());
    const serve = (where, text) => {
      if (where === 'payload body') {
        fake.processed({ body: text });
      } else {
        fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: text }), { 'Content-Type': 'application/json' });
      }
    };
    for (const where of ['payload body', 'reply data']) {
      for (const [name, [before, after]] of Object.entries(AROUND)) {
        serve(where, `${before}${token}${after}`);
        assert.deepEqual(await client.exchangeCode('code'), expected, `${where}: ${name}`);
        const reference = await outcome(() => referenceClient(fake.clientConfig()).exchangeCode('code'));
        // civic-sip-api: what follows the signature is skipped by its base64 decoder; what
        // precedes the header is part of the signed bytes, so it refuses a leading newline.
        assert.equal(reference.ok, before === '', `${where}: ${name}: civic-sip-api ${reference.ok ? 'resolved' : reference.error.message}`);
      }
      for (const [name, forged] of Object.entries(inside(token))) {
        serve(where, forged);
        const message = where === 'payload body'
          ? `${PREFIX}Could not return data from processed payload url: Error: ${NOT_VERIFIED}`
          : `${PREFIX}${NOT_VERIFIED}`;
        await rejectsWith(client.exchangeCode('code'), { message, code: codes.VERIFICATION });
      }
    }
  });

  test('processPayload: a reply whose data ends in a newline opens as in civic-sip-api', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const response = { statusCode: 200, body: civic.replyBody({ data: `${fake.token()}\r\n` }) };
    const expected = { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' };
    assert.deepEqual(referenceClient(fake.clientConfig()).processPayload(response), expected);
    assert.deepEqual(civicSip.newClient(fake.clientConfig()).processPayload(response), expected);
  });
});

describe('lone surrogates are refused, never replaced', () => {
  const notWellFormed = (what, prefix = '') => ({
    message: `${prefix}${what} must be a well-formed Unicode string: it holds a lone surrogate`, code: codes.INVALID_ARGUMENT,
  });

  test('an auth code with a lone surrogate rejects with a TypeError and nothing is sent; a surrogate pair is sent as is', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    for (const authCode of ['abc\ud800def', 'abc\udc00def', '\ud800', 'abc\ud800']) {
      const err = await rejectsWith(client.exchangeCode(authCode), notWellFormed('the auth code', PREFIX));
      assert.ok(err instanceof TypeError);
      const viaCallback = await new Promise((resolve) => { client.exchangeCode(authCode, resolve); });
      assert.equal(viaCallback.code, codes.INVALID_ARGUMENT);
    }
    assert.equal(fake.requests.length, 0);
    // civic-sip-api sent JSON.stringify's escape: the server got a code that is not the caller's.
    await outcome(() => referenceClient(fake.clientConfig()).exchangeCode('abc\ud800def'));
    assert.equal(fake.requests.length, 1);
    assert.match(fake.requests[0].body, /"authToken":"abc\\ud800def"/);
    // A well-formed pair crosses unchanged: the server reads back exactly the caller's string.
    await client.exchangeCode('abc\ud83d\ude00def');
    assert.equal(JSON.parse(fake.requests[1].body).authToken, 'abc\ud83d\ude00def');
  });

  test('appId, env, api, proxy.url and ca with a lone surrogate: the constructor throws a TypeError naming the option', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const cases = {
      appId: { appId: 'app\ud800' },
      env: { env: 'prod\udfff' },
      api: { api: `${fake.url}\ud800` },
      'proxy.url': { proxy: { url: 'http://127.0.0.1:1/\ud800' } },
      ca: { ca: ['-----BEGIN CERTIFICATE-----\n\ud800\n-----END CERTIFICATE-----\n'] },
    };
    for (const [name, overrides] of Object.entries(cases)) {
      const err = throwsWith(() => civicSip.newClient(fake.clientConfig(overrides)), notWellFormed(name));
      assert.ok(err instanceof TypeError, name);
    }
    assert.equal(fake.requests.length, 0);
    // A well-formed non-ASCII appId reaches the request token unchanged.
    const appId = 'app-ü-\ud83d\ude00';
    await civicSip.newClient(fake.clientConfig({ appId })).exchangeCode('code').catch(() => {});
    const authorization = fake.requests[0].headers.authorization;
    const { claims } = civic.decodeJwt(authorization.slice('Civic '.length).split('.').slice(0, 3).join('.'));
    assert.equal(claims.iss, appId);
    assert.equal(claims.sub, appId);
  });

  test('key options: a lone surrogate in prvKey is skipped as civic-sip-api skips it; appSecret and civicPublicKey are refused as not hex', OPTS, async (t) => {
    const emu = await emulator(t);
    const cut = (s) => `${s.slice(0, 10)}\udc00${s.slice(10)}`;
    assert.deepEqual(await civicSip.newClient(emu.clientConfig({ prvKey: cut(emu.app.prvKey) })).exchangeCode(emu.mintAuthCode(undefined, { userId: 'p' })),
      { data: records(DEFAULT_USER_DATA), userId: 'p' });
    await rejectsWith(civicSip.newClient(emu.clientConfig({ appSecret: cut(emu.app.appSecret) })).exchangeCode(emu.mintAuthCode()),
      { message: SECRET_MESSAGE, code: codes.CONFIG });
    await rejectsWith(civicSip.newClient(emu.clientConfig({ civicPublicKey: cut(emu.civicPublicKey) })).exchangeCode(emu.mintAuthCode()),
      { message: CIVIC_KEY_MESSAGE, code: codes.CONFIG });
  });

  test('processPayload: a lone surrogate in a reply string is kept, as JSON.parse keeps it, and quoted as civic-sip-api quoted it', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const body = `{"data":"${fake.token()}","userId":"u\ud800x","encrypted":true}`;
    const expected = { data: records(DEFAULT_USER_DATA), userId: 'u\ud800x' };
    assert.deepEqual(referenceClient(fake.clientConfig()).processPayload({ statusCode: 200, body }), expected);
    assert.deepEqual(civicSip.newClient(fake.clientConfig()).processPayload({ statusCode: 200, body }), expected);
    const cases = [
      [{ statusCode: 400, body: 'bad \ud800 request' }, codes.HTTP_STATUS],
      [{ statusCode: 200, body: 'not json \udc00' }, codes.INVALID_RESPONSE],
      [{ statusCode: 200, body: '{"message":"no data \ud800"}' }, codes.INVALID_RESPONSE],
    ];
    for (const [response, code] of cases) {
      const reference = await outcome(() => referenceClient(fake.clientConfig()).processPayload(response));
      const native = await outcome(() => civicSip.newClient(fake.clientConfig()).processPayload(response));
      assert.equal(reference.ok, false);
      assert.equal(native.ok, false);
      assert.equal(native.error.message, reference.error.message);
      assert.equal(native.error.code, code);
      assert.ok(native.error.stack.startsWith(`Error: ${reference.error.message}\n`), native.error.stack);
      if (code === codes.HTTP_STATUS) assert.equal(native.error.response.body, response.body);
    }
  });
});

describe('Node\'s conventions for signals', () => {
  test('one AbortSignal shared by 25 exchanges: no MaxListenersExceededWarning, one listener, all aborted with its reason', OPTS, async (t) => {
    const server = await httpServer(t, () => {}); // never answers
    const warnings = [];
    const onWarning = (w) => warnings.push(w);
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    const client = civicSip.newClient({ ...civic.newApp(), api: server.url });
    const controller = new AbortController();
    const pending = Array.from({ length: 25 }, () => client.exchangeCode('code', { signal: controller.signal }).catch((e) => e));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    await new Promise((resolve) => { setTimeout(resolve, 200); });
    const reason = new Error('shutting down');
    controller.abort(reason);
    const errors = await Promise.all(pending);
    for (const err of errors) {
      assertCivicError(err, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
      assert.equal(err.cause, reason);
    }
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    await new Promise(setImmediate);
    assert.deepEqual(warnings.map((w) => w.name), []);
  });

  test('a signal that is not Node\'s AbortSignal (an EventTarget with aborted and reason) gets one plain listener too', OPTS, async (t) => {
    const server = await httpServer(t, () => {});
    const signal = new EventTarget();
    signal.aborted = false;
    const client = civicSip.newClient({ ...civic.newApp(), api: server.url });
    const pending = Array.from({ length: 12 }, () => client.exchangeCode('code', { signal }).catch((e) => e));
    assert.equal(getEventListeners(signal, 'abort').length, 1);
    signal.aborted = true;
    signal.reason = new Error('stop');
    signal.dispatchEvent(new Event('abort'));
    for (const err of await Promise.all(pending)) {
      assertCivicError(err, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
      assert.equal(err.cause, signal.reason);
    }
    assert.equal(getEventListeners(signal, 'abort').length, 0);
  });

  test('the shared listener stays while any exchange is pending and goes with the last', OPTS, async (t) => {
    const emu = await emulator(t);
    const hanging = await httpServer(t, () => {});
    const controller = new AbortController();
    const { signal } = controller;
    const good = civicSip.newClient(emu.clientConfig());
    const stuck = civicSip.newClient({ ...emu.clientConfig(), api: hanging.url });
    const waiting = stuck.exchangeCode('code', { signal }).catch((e) => e);
    const inFlight = Array.from({ length: 15 }, () => good.exchangeCode(emu.mintAuthCode(undefined, { userId: 's' }), { signal }));
    assert.equal(getEventListeners(signal, 'abort').length, 1, 'one listener for 16 exchanges');
    const done = await Promise.all(inFlight);
    for (const userData of done) assert.deepEqual(userData, { data: records(DEFAULT_USER_DATA), userId: 's' });
    assert.equal(getEventListeners(signal, 'abort').length, 1);
    controller.abort();
    assertCivicError(await waiting, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(getEventListeners(signal, 'abort').length, 0);
    // An aborted signal rejects at once, adds no listener, sends nothing.
    const before = emu.requests.length;
    assertCivicError(await good.exchangeCode(emu.mintAuthCode(), { signal }).catch((e) => e),
      { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(emu.requests.length, before);
    assert.equal(getEventListeners(signal, 'abort').length, 0);
  });
});

describe('limits: Infinity, -0, NaN and fractions each have one documented rule', () => {
  test('timeout: Infinity and huge values count as the longest timer (never as 1 ms, as setTimeout takes them)', OPTS, async (t) => {
    const emu = await emulator(t);
    for (const timeout of [Infinity, 1e300, 2 ** 31, '1e400']) {
      const client = civicSip.newClient(emu.clientConfig({ timeout }));
      assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 't' })), { data: records(DEFAULT_USER_DATA), userId: 't' });
    }
    // Against a server that never answers, an infinite timeout waits (the signal ends it).
    const hanging = await httpServer(t, () => {});
    const client = civicSip.newClient({ ...emu.clientConfig(), api: hanging.url, timeout: Infinity });
    const outcome300 = await settle(client.exchangeCode('code', { signal: AbortSignal.timeout(300) }));
    assertCivicError(outcome300.error, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.ok(outcome300.elapsed >= 290, `settled after ${outcome300.elapsed} ms`);
    for (const timeout of [0, -0, -1, -Infinity, Number.NaN, 'soon', 1e-9]) {
      throwsWith(() => civicSip.newClient(emu.clientConfig({ timeout })),
        { message: 'timeout must be a positive number of milliseconds', code: codes.CONFIG });
    }
    // Fractions of a millisecond are a duration like any other.
    assert.deepEqual(await civicSip.newClient(emu.clientConfig({ timeout: 20000.5 })).exchangeCode(emu.mintAuthCode(undefined, { userId: 'f' })),
      { data: records(DEFAULT_USER_DATA), userId: 'f' });
  });

  test('maxResponseBytes: a positive whole number, or Infinity for no limit; retries: a whole number from 0 to 10, -0 being 0', OPTS, async (t) => {
    const emu = await emulator(t);
    for (const maxResponseBytes of [Infinity, 1e300, 2 ** 64, 65536]) {
      const client = civicSip.newClient(emu.clientConfig({ maxResponseBytes }));
      assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'm' })), { data: records(DEFAULT_USER_DATA), userId: 'm' });
    }
    for (const maxResponseBytes of [0, -0, -1, 1.5, -Infinity, Number.NaN, 'lots']) {
      throwsWith(() => civicSip.newClient(emu.clientConfig({ maxResponseBytes })),
        { message: 'maxResponseBytes must be a positive integer', code: codes.CONFIG });
    }
    for (const retries of [Infinity, -Infinity, 11, -1, 0.5, Number.NaN]) {
      throwsWith(() => civicSip.newClient(emu.clientConfig({ retries })),
        { message: 'retries must be an integer from 0 to 10', code: codes.CONFIG });
    }
    // -0 is 0: one attempt at a 503.
    const busy = await httpServer(t, (req, res) => { res.writeHead(503); res.end('busy'); });
    await rejectsWith(civicSip.newClient({ ...emu.clientConfig(), api: busy.url, retries: -0 }).exchangeCode('code'),
      { message: `${PREFIX}503 - "busy"`, code: codes.HTTP_STATUS, statusCode: 503, body: 'busy' });
    assert.equal(busy.requests.length, 1);
  });
});
