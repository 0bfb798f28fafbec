'use strict';

// The response token and its user data: forged, tampered, expired and foreign tokens are
// verification failures; Civic's key rotation (civicPublicKey as a list); user data that does not
// decrypt is refused, never half-read.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/verification.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, records,
} = require('./helpers/support');
const {
  PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;
const b64uJson = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

describe('response verification and decryption', () => {
  test('tamperedResponse, wrongKey, expiredResponse beyond the grace period', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    for (const [fault, options] of [
      ['tamperedResponse', {}],
      ['wrongKey', {}],
      ['expiredResponse', {}],
      ['expiredResponse', { secondsAgo: 65 }],
      ['expiredResponse', { secondsAgo: 3600 }],
    ]) {
      emu.fault(fault, options);
      await rejectsWith(client.exchangeCode(code), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    }
    emu.fault(null);
    assert.deepEqual((await client.exchangeCode(code)).data, records(DEFAULT_USER_DATA));
  });

  test('without civicPublicKey (Civic\'s production key) the emulator\'s replies fail verification', OPTS, async (t) => {
    const emu = await emulator(t);
    const { civicPublicKey, ...config } = emu.clientConfig();
    assert.equal(typeof civicPublicKey, 'string');
    const code = emu.mintAuthCode();
    for (const client of [civicSip.newClient(config), new civicSip.sip({ ...config, civicPublicKey: '' })]) {
      await rejectsWith(client.exchangeCode(code), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    }
    // ...and with another emulator's key as well.
    const other = await emulator(t);
    await rejectsWith(civicSip.newClient({ ...config, civicPublicKey: other.civicPublicKey }).exchangeCode(code),
      { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
  });

  test('forged tokens from a server of our own: alg none/HS256, bad segments, no exp, nbf in the future', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const good = fake.token();
    const [h, p] = good.split('.');
    const b64u = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Date.now() / 1000;
    const forged = [
      `${b64u({ alg: 'none', typ: 'JWT' })}.${p}.`,
      `${b64u({ alg: 'HS256', typ: 'JWT' })}.${p}.${crypto.createHmac('sha256', fake.civicKey.publicHex).update(`${b64u({ alg: 'HS256', typ: 'JWT' })}.${p}`).digest('base64url')}`,
      `${h}.${p}`,
      `${good}.extra`,
      'not a jwt',
      civic.signJwt({ ...civic.decodeJwt(good).claims, exp: undefined }, fake.civicKey.privateKey),
      civic.signJwt({ ...civic.decodeJwt(good).claims, nbf: now + 3600 }, fake.civicKey.privateKey),
      civic.signJwt({ ...civic.decodeJwt(good).claims, exp: 'tomorrow' }, fake.civicKey.privateKey),
      civic.signJwt(civic.decodeJwt(good).claims, fake.civicKey.privateKey, { alg: 'ES384', typ: 'JWT' }),
    ];
    for (const token of forged) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: token }));
      await rejectsWith(client.exchangeCode('code'), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    }
    // The same server with an honest token succeeds (the forgeries are what failed).
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token(), userId: 'honest' }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'honest' });
  });

  test('badPadding and badIv reject with ERR_CIVIC_DECRYPTION (stricter than civic-sip-api)', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    for (const [fault, why] of [
      ['badPadding', 'bad padding (is the appSecret the one of this app?)'],
      ['badIv', 'the IV is not 32 hex characters'],
    ]) {
      emu.fault(fault);
      const err = await rejectsWith(client.exchangeCode(code), {
        message: `${PREFIX}Could not decrypt user data: ${why}`, code: codes.DECRYPTION,
      });
      assert.ok(err.message.startsWith(`${PREFIX}Could not decrypt user data: `));
      assert.ok(!err.message.includes(emu.app.appSecret));
    }
  });

  test('clear text that is not JSON, and data under another secret, reject with ERR_CIVIC_DECRYPTION', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    for (const [options, encrypted] of [[{ clearText: 'not json', encrypted: false }, false], [{ clearText: '{"a":' }, true]]) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token(options), encrypted }));
      await rejectsWith(client.exchangeCode('code'), {
        message: `${PREFIX}Could not decrypt user data: the clear text is not JSON`, code: codes.DECRYPTION,
      });
    }
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({
      data: fake.token({ appSecret: crypto.randomBytes(16).toString('hex') }),
    }));
    const err = await rejectsWith(client.exchangeCode('code'), {
      message: new RegExp(`^${PREFIX}Could not decrypt user data: (bad padding \\(is the appSecret the one of this app\\?\\)|the clear text is not (UTF-8 \\(is the appSecret the one of this app\\?\\)|JSON))$`),
      code: codes.DECRYPTION,
    });
    assert.ok(!err.message.includes(fake.app.appSecret));
    // The data claim shorter than an IV, and not base64.
    for (const [data, why] of [
      ['abc', 'the data claim is shorter than its 32 hex character IV'],
      [`${'00'.repeat(16)}!!!not base64!!!`, 'the ciphertext is not valid base64'],
    ]) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: data, encrypted: false }) }));
      await rejectsWith(client.exchangeCode('code'), { message: `${PREFIX}Could not decrypt user data: ${why}`, code: codes.DECRYPTION });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('forged and malformed response tokens are verification failures', () => {
  test('alg none, HS256 keyed with the public key, other algorithms, another key, bad shapes, no exp, expired, repeated claims', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const good = fake.token();
    const { claims } = civic.decodeJwt(good);
    const [h, p, s] = good.split('.');
    const hs256Header = b64uJson({ alg: 'HS256', typ: 'JWT' });
    const now = Date.now() / 1000;
    const attacker = civic.newKeyPair();
    const sign = (c, header) => civic.signJwt(c, fake.civicKey.privateKey, header);
    const cases = {
      'alg none, no signature': `${b64uJson({ alg: 'none', typ: 'JWT' })}.${p}.`,
      'alg none, the original signature': `${b64uJson({ alg: 'none', typ: 'JWT' })}.${p}.${s}`,
      'HS256 keyed with Civic\'s public key (hex)': `${hs256Header}.${p}.${crypto.createHmac('sha256', fake.civicKey.publicHex).update(`${hs256Header}.${p}`).digest('base64url')}`,
      'HS256 keyed with Civic\'s public key (bytes)': `${hs256Header}.${p}.${crypto.createHmac('sha256', Buffer.from(fake.civicKey.publicHex, 'hex')).update(`${hs256Header}.${p}`).digest('base64url')}`,
      'ES384 header': sign(claims, { alg: 'ES384', typ: 'JWT' }),
      'RS256 header': sign(claims, { alg: 'RS256', typ: 'JWT' }),
      'es256 in lower case': sign(claims, { alg: 'es256', typ: 'JWT' }),
      'no alg': sign(claims, { typ: 'JWT' }),
      'alg twice, ES256 then none': `${b64uJson('{"alg":"ES256","alg":"none"}')}.${p}.${s}`,
      'a valid signature by another key': civic.signJwt(claims, attacker.privateKey),
      'the payload swapped under a valid signature': `${h}.${b64uJson({ ...claims, sub: 'someone-else' })}.${s}`,
      'truncated signature': `${h}.${p}.${s.slice(0, 60)}`,
      'signature one byte short': `${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 63).toString('base64url')}`,
      'signature in DER instead of r||s': `${h}.${p}.${crypto.sign('sha256', Buffer.from(`${h}.${p}`), fake.civicKey.privateKey).toString('base64url')}`,
      'two segments': `${h}.${p}`,
      'four segments': `${good}.${s}`,
      'one segment': h,
      'non-base64url characters in the header': `${h}*.${p}.${s}`,
      'non-base64url characters in the payload': `${h}.${p.slice(0, 10)}+/${p.slice(12)}.${s}`,
      'non-base64url characters in the signature': `${h}.${p}.${s.slice(0, 40)}%${s.slice(41)}`,
      'whitespace inside': `${h}. ${p}.${s}`,
      'no exp (civic-sip-api accepted it: stricter on purpose)': sign({ ...claims, exp: undefined }),
      'exp as a string': sign({ ...claims, exp: String(claims.exp) }),
      'exp null': sign({ ...claims, exp: null }),
      'exp 1e400 (beyond a double)': `${h}.${b64uJson(JSON.stringify({ ...claims, exp: 0 }).replace('"exp":0', '"exp":1e400'))}`,
      'expired 61 s ago, beyond the 60 s grace period': sign({ ...claims, exp: now - 61 }),
      'expired a day ago': sign({ ...claims, iat: now - 86400 - 1800, exp: now - 86400 }),
      'nbf an hour ahead': sign({ ...claims, nbf: now + 3600 }),
      'exp twice, the first one expired': `${h}.${b64uJson(JSON.stringify(claims).replace('"exp":', `"exp":${now - 3600},"exp":`))}`,
      'claims that are not an object': sign([claims]),
      'a header that is not JSON': `${b64uJson('{alg:ES256}')}.${p}.${s}`,
      'a payload that is not UTF-8': `${h}.${Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64url')}.${s}`,
    };
    // The repeated-claim and 1e400 cases must carry a valid signature to prove anything.
    for (const name of ['exp twice, the first one expired', 'exp 1e400 (beyond a double)']) {
      const [hh, pp] = cases[name].split('.');
      cases[name] = `${hh}.${pp}.${crypto.sign('sha256', Buffer.from(`${hh}.${pp}`), { key: fake.civicKey.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
      assert.ok(civic.verifyJwt(cases[name], fake.civicKey.publicHex), name);
    }
    for (const [name, token] of Object.entries(cases)) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: token }));
      const outcome = await settle(client.exchangeCode('code'));
      assert.equal(outcome.ok, false, `${name}: resolved with ${JSON.stringify(outcome.value)}`);
      assertCivicError(outcome.error, { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    }
    // The same server and client with the honest token succeed: the forgeries are what failed.
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: good, userId: 'honest' }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'honest' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('decryption failures reject, never resolve with partial data', () => {
  test('bad padding, bad IV, wrong key, non-hex IV, invalid base64, truncated ciphertext', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const clear = JSON.stringify(DEFAULT_USER_DATA);
    const data = civic.encryptData(clear, fake.app.appSecret);
    const iv = data.slice(0, 32);
    const ct = Buffer.from(data.slice(32), 'base64');
    const flipLast = Buffer.from(ct);
    flipLast[flipLast.length - 1] ^= 0x5a;
    const padding = 'bad padding (is the appSecret the one of this app?)';
    const wrongKeyReasons = new RegExp(`^${PREFIX}Could not decrypt user data: (bad padding \\(is the appSecret the one of this app\\?\\)|the clear text is not (UTF-8 \\(is the appSecret the one of this app\\?\\)|JSON))$`);
    const cases = [
      ['the last block altered (bad padding)', `${iv}${flipLast.toString('base64')}`, padding],
      ['a ciphertext that is not a whole number of blocks', `${iv}${ct.subarray(0, ct.length - 3).toString('base64')}`, padding],
      ['no ciphertext at all', iv, padding],
      ['a non-hex IV', `${'zz'.repeat(16)}${data.slice(32)}`, 'the IV is not 32 hex characters'],
      ['an IV with a multi-byte character', `é${iv.slice(2)}${data.slice(32)}`, 'the IV is not 32 hex characters'],
      ['an IV shorter than 32 hex characters', iv.slice(0, 20), 'the data claim is shorter than its 32 hex character IV'],
      ['invalid base64', `${iv}${data.slice(32, 40)}$$$$`, 'the ciphertext is not valid base64'],
      ['base64url instead of base64', `${iv}${ct.toString('base64url')}-_`, 'the ciphertext is not valid base64'],
    ];
    for (const [name, encrypted, why] of cases) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: encrypted, encrypted: false }) }));
      const outcome = await settle(client.exchangeCode('code'));
      assert.equal(outcome.ok, false, `${name}: resolved with ${JSON.stringify(outcome.value)}`);
      assertCivicError(outcome.error, { message: `${PREFIX}Could not decrypt user data: ${why}`, code: codes.DECRYPTION });
    }
    // A wrong IV turns the first block to junk (the padding, in the last block, still checks out):
    // refused, not the records that survived.
    for (let i = 0; i < 10; i += 1) {
      const wrongIv = `${crypto.randomBytes(16).toString('hex')}${data.slice(32)}`;
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: wrongIv, encrypted: false }) }));
      await rejectsWith(client.exchangeCode('code'), {
        message: new RegExp(`^${PREFIX}Could not decrypt user data: the clear text is not (UTF-8 \\(is the appSecret the one of this app\\?\\)|JSON)$`),
        code: codes.DECRYPTION,
      });
    }
    // Another app's secret: every attempt fails one way or another, none resolves.
    for (let i = 0; i < 20; i += 1) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ appSecret: crypto.randomBytes(16).toString('hex') }) }));
      await rejectsWith(client.exchangeCode('code'), { message: wrongKeyReasons, code: codes.DECRYPTION });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("civicPublicKey as a list: Civic's key rotation", () => {
  test('a response token verifies under any of the keys; one from a third key is refused', OPTS, async (t) => {
    // One app, three "Civic" keys: the old one, the new one, and one the app never trusted.
    const app = civic.newApp();
    const [before, after, stranger] = await Promise.all([1, 2, 3].map(() => emulator(t, { app })));
    const keys = [before.civicPublicKey, after.civicPublicKey];
    const nativeFor = (emu) => civicSip.newClient({ ...emu.clientConfig(), civicPublicKey: keys });
    for (const emu of [before, after]) {
      assert.deepEqual(await nativeFor(emu).exchangeCode(emu.mintAuthCode()), await civicSip.newClient(emu.clientConfig()).exchangeCode(emu.mintAuthCode()));
    }
    // The processed payload (the token fetched from its URL) too.
    after.fault('processed', { times: 1 });
    assert.equal((await nativeFor(after).exchangeCode(after.mintAuthCode())).data.length, 2);
    await rejectsWith(nativeFor(stranger).exchangeCode(stranger.mintAuthCode()), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    stranger.fault('processed', { times: 1 });
    await rejectsWith(nativeFor(stranger).exchangeCode(stranger.mintAuthCode()), {
      message: `${PREFIX}Could not return data from processed payload url: Error: ${NOT_VERIFIED}`, code: codes.VERIFICATION,
    });
    // One key in a list is that key; the order does not matter.
    assert.equal((await civicSip.newClient({ ...after.clientConfig(), civicPublicKey: [after.civicPublicKey] }).exchangeCode(after.mintAuthCode())).data.length, 2);
    assert.equal((await civicSip.newClient({ ...before.clientConfig(), civicPublicKey: [...keys].reverse() }).exchangeCode(before.mintAuthCode())).data.length, 2);
  });

  test('an empty list or a bad entry rejects every exchange naming the entry, never its value, before any request', OPTS, async (t) => {
    const emu = await emulator(t);
    const cases = [
      [[], `${PREFIX}civicPublicKey must name at least one P-256 public key (an empty list names none)`],
      [[emu.civicPublicKey, '04zz'], `${PREFIX}civicPublicKey[1] must be a P-256 public key in hex (SEC1, compressed or uncompressed)`],
      [['', emu.civicPublicKey], `${PREFIX}civicPublicKey[0] must be a P-256 public key in hex (SEC1, compressed or uncompressed)`],
      [[42], `${PREFIX}civicPublicKey must be a P-256 public key in hex (SEC1, compressed or uncompressed)`],
    ];
    for (const [civicPublicKey, message] of cases) {
      const error = await rejectsWith(civicSip.newClient({ ...emu.clientConfig(), civicPublicKey }).exchangeCode(emu.mintAuthCode()), { message, code: codes.CONFIG });
      assert.ok(!error.message.includes('04zz'));
    }
    assert.deepEqual(emu.requests, [], 'nothing was sent');
  });
});
