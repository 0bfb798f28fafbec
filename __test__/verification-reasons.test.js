'use strict';

// Why a response token was refused: every refusal keeps civic-sip-api's one message and
// ERR_CIVIC_VERIFICATION, and says why in `error.reason` (with `expiredAt` or `notBefore` where
// a time is at fault), so a wrong civicPublicKey can be told from an expired token. Real tokens
// of each kind, from the emulator or a fake Civic on 127.0.0.1, through exchangeCode and
// processPayload, in the exchange reply and in the processed payload. The reasons are one list,
// Rust's, exported by the binding as VERIFICATION_REASONS: index.d.ts's VerificationReason (read
// with the TypeScript parser), its doc and the README's list of reasons are checked against it,
// both ways and in order.
//
// Run: node --test __test__/verification-reasons.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const civicSip = require('..');
const { VERIFICATION_REASONS } = require('../binding.js');
const {
  signJwt, newKeyPair, encryptData, replyBody,
} = require('./helpers/civic');
const { emulator, fakeCivic: fake } = require('./helpers/support');
const { PREFIX, NOT_VERIFIED, rejectsWith, throwsWith } = require('./helpers/assertions');
const { declaredUnion } = require('./helpers/declarations');

const OPTS = { timeout: 20000 };
const PAYLOAD = 'Could not return data from processed payload url: Error: ';

/** A verification failure with `reason`, and `expiredAt`/`notBefore` only where given. */
function assertRefused(error, { reason, expiredAt, notBefore }) {
  assert.equal(error.code, civicSip.codes.VERIFICATION);
  assert.equal(error.reason, reason, error.message);
  for (const [name, seconds] of [['expiredAt', expiredAt], ['notBefore', notBefore]]) {
    if (seconds === undefined) {
      assert.ok(!(name in error), `no ${name} for ${reason}`);
    } else {
      assert.ok(error[name] instanceof Date, name);
      assert.equal(error[name].getTime(), seconds * 1000, name);
    }
  }
}

/** A fake Civic whose exchange replies with `token` (a reply straight from Civic's endpoint). */
function replyWith(civic, token) {
  civic.onExchange = (req, res) => civic.send(res, 200, replyBody({ data: token, userId: 'u' }),
    { 'Content-Type': 'application/json' });
}

/** Claims as Civic signs them, `exp` half an hour ahead, with `data` encrypted for the app. */
function claims(civic, overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iat: now, exp: now + 1800, iss: 'civic-sip-hosted-service', data: encryptData('[]', civic.app.appSecret), ...overrides,
  };
}

test('VerificationReason in index.d.ts, its doc and the README name the reasons Rust exports, in order', () => {
  assert.ok(Array.isArray(VERIFICATION_REASONS) && VERIFICATION_REASONS.length > 0);
  const { values, doc } = declaredUnion('VerificationReason');
  assert.deepEqual(values, VERIFICATION_REASONS);
  // The doc explains each in a bullet of its own: ` * - `'signature'`: ...`.
  assert.deepEqual([...doc.matchAll(/^ \* - `'([a-z-]+)'`:/gm)].map((m) => m[1]), VERIFICATION_REASONS);
  // The README's Errors section names them in one paragraph.
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('Why a response token was refused is `error.reason`');
  assert.ok(start > 0, 'the README says why a response token was refused');
  const paragraph = readme.slice(start, readme.indexOf('\n\n', start));
  assert.deepEqual([...paragraph.matchAll(/`'([a-z-]+)'`/g)].map((m) => m[1]), VERIFICATION_REASONS);
});

test('the emulator signing with another key, a tampered token and a wrong civicPublicKey: reason "signature"', OPTS, async (t) => {
  const emu = await emulator(t);
  const client = civicSip.newClient(emu.clientConfig());
  for (const fault of ['wrongKey', 'tamperedResponse']) {
    emu.fault(fault, { times: 1 });
    const error = await rejectsWith(client.exchangeCode(emu.mintAuthCode()),
      { message: `${PREFIX}${NOT_VERIFIED}`, code: 'ERR_CIVIC_VERIFICATION' });
    assertRefused(error, { reason: 'signature' });
  }
  // The right token under a key that is not the emulator's: the forgotten civicPublicKey.
  const wrongKey = civicSip.newClient(emu.clientConfig({ civicPublicKey: newKeyPair().publicHex }));
  const error = await rejectsWith(wrongKey.exchangeCode(emu.mintAuthCode()),
    { message: `${PREFIX}${NOT_VERIFIED}`, code: 'ERR_CIVIC_VERIFICATION' });
  assertRefused(error, { reason: 'signature' });
  // And the same client resolves once the token is good: the reason is not sticky.
  const ok = await client.exchangeCode(emu.mintAuthCode());
  assert.equal(ok.data[0].label, 'contact.personal.email');
});

test('an expired response token: reason "expired" with expiredAt its exp, past the 60 s grace only', OPTS, async (t) => {
  const emu = await emulator(t);
  const client = civicSip.newClient(emu.clientConfig());
  emu.fault('expiredResponse', { times: 1, secondsAgo: 120 });
  const before = Date.now();
  const error = await rejectsWith(client.exchangeCode(emu.mintAuthCode()),
    { message: `${PREFIX}${NOT_VERIFIED}`, code: 'ERR_CIVIC_VERIFICATION' });
  assert.equal(error.reason, 'expired');
  assert.ok(error.expiredAt instanceof Date);
  const ago = before - error.expiredAt.getTime();
  assert.ok(ago > 115000 && ago < 125000, `expired ${ago} ms ago`);
  assert.ok(!('notBefore' in error));
  // 30 s ago is within the grace: accepted.
  emu.fault('expiredResponse', { times: 1, secondsAgo: 30 });
  await client.exchangeCode(emu.mintAuthCode());
});

test('a token not ES256, without exp, not yet valid or malformed: each its reason, by exchangeCode', OPTS, async (t) => {
  const civic = await fake(t);
  const client = civicSip.newClient(civic.clientConfig());
  const key = civic.civicKey.privateKey;
  const now = Math.floor(Date.now() / 1000);
  const cases = [
    ['ES384 in the header', signJwt(claims(civic), key, { alg: 'ES384', typ: 'JWT' }), { reason: 'algorithm' }],
    ['alg none', signJwt(claims(civic), key, { alg: 'none' }), { reason: 'algorithm' }],
    ['no exp', signJwt(claims(civic, { exp: undefined }), key), { reason: 'missing-exp' }],
    ['nbf an hour ahead', signJwt(claims(civic, { nbf: now + 3600 }), key), { reason: 'not-yet-valid', notBefore: now + 3600 }],
    ['iat an hour ahead', signJwt(claims(civic, { iat: now + 3600 }), key), { reason: 'not-yet-valid', notBefore: now + 3600 }],
    ['expired a day ago', signJwt(claims(civic, { exp: now - 86400 }), key), { reason: 'expired', expiredAt: now - 86400 }],
    ['two segments', 'eyJhbGciOiJFUzI1NiJ9.e30', { reason: 'malformed' }],
    ['exp a string', signJwt(claims(civic, { exp: 'never' }), key), { reason: 'malformed' }],
  ];
  for (const [why, token, expected] of cases) {
    replyWith(civic, token);
    const error = await client.exchangeCode('code').then(() => assert.fail(`${why}: resolved`), (e) => e);
    assert.equal(error.message, `${PREFIX}${NOT_VERIFIED}`, why);
    assertRefused(error, expected);
  }
});

test('processPayload: a reply whose data is no token at all is "malformed"; a foreign signature "signature"', OPTS, async (t) => {
  const civic = await fake(t);
  const client = civicSip.newClient(civic.clientConfig());
  const error = throwsWith(() => client.processPayload({ statusCode: 200, body: { data: 42, encrypted: true } }),
    { message: NOT_VERIFIED, code: 'ERR_CIVIC_VERIFICATION' });
  assertRefused(error, { reason: 'malformed' });
  const foreign = signJwt(claims(civic), newKeyPair().privateKey);
  const signed = throwsWith(() => client.processPayload({ statusCode: 200, body: { data: foreign, encrypted: true } }),
    { message: NOT_VERIFIED, code: 'ERR_CIVIC_VERIFICATION' });
  assertRefused(signed, { reason: 'signature' });
});

test('a processed payload holding an expired or foreign token: the reason, for the payload too', OPTS, async (t) => {
  const civic = await fake(t);
  const client = civicSip.newClient(civic.clientConfig());
  const key = civic.civicKey.privateKey;
  const exp = Math.floor(Date.now() / 1000) - 600;
  const cases = [
    [signJwt(claims(civic, { exp }), key), { reason: 'expired', expiredAt: exp }],
    [signJwt(claims(civic), newKeyPair().privateKey), { reason: 'signature' }],
  ];
  for (const [token, expected] of cases) {
    civic.processed({ body: token });
    const error = await rejectsWith(client.exchangeCode('code'),
      { message: `${PREFIX}${PAYLOAD}${NOT_VERIFIED}`, code: 'ERR_CIVIC_VERIFICATION' });
    assertRefused(error, expected);
    // processPayload's own fetch of the same URL says the same, without the exchange prefix.
    const url = civic.processed({ body: token });
    const viaPayload = await rejectsWith(
      client.processPayload({ statusCode: 200, body: { data: url, processed: true, encrypted: true } }),
      { message: `${PAYLOAD}${NOT_VERIFIED}`, code: 'ERR_CIVIC_VERIFICATION' },
    );
    assertRefused(viaPayload, expected);
  }
});

test('errors of other kinds have no reason', OPTS, async (t) => {
  const emu = await emulator(t);
  const client = civicSip.newClient(emu.clientConfig());
  emu.fault('badPadding', { times: 1 });
  const decryption = await client.exchangeCode(emu.mintAuthCode()).then(() => assert.fail('resolved'), (e) => e);
  assert.equal(decryption.code, 'ERR_CIVIC_DECRYPTION');
  emu.fault('unauthorized', { times: 1 });
  const status = await client.exchangeCode(emu.mintAuthCode()).then(() => assert.fail('resolved'), (e) => e);
  assert.equal(status.code, 'ERR_CIVIC_HTTP_STATUS');
  for (const error of [decryption, status]) {
    for (const name of ['reason', 'expiredAt', 'notBefore']) assert.ok(!(name in error), `${name} on ${error.code}`);
  }
});
