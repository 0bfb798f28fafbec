'use strict';

// An exchange that works: civic-sip-api's API shapes (promise and callback forms, bound
// methods, the exported codes), user data round-tripping exactly, the request as Civic sees it
// (headers, body, Civic extension, request token), and clients that each own their configuration.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/exchange.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv();

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');

const civicSip = require('..');
const { DEFAULT_USER_DATA, stableStringify } = require('../emulator');
const { closedPort } = require('./helpers/servers');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, httpServer, records, runNode, timingDependent,
} = require('./helpers/support');
const {
  PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, throwsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 15000 };
const { codes } = civicSip;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('success', () => {
  test('newClient: resolves with exactly { data, userId }, data as minted', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    assert.ok(client instanceof civicSip.sip);
    const result = await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'user-1' }));
    assert.deepEqual(Object.keys(result), ['data', 'userId']);
    assert.deepEqual(result.data, records(DEFAULT_USER_DATA));
    assert.equal(result.userId, 'user-1');
    assert.equal(emu.requests.length, 1);
    assert.deepEqual([emu.requests[0].method, emu.requests[0].url], ['POST', '/prod/scopeRequest/authCode']);

    // The default userId is Civic's hex id; the same code can be exchanged again.
    const code = emu.mintAuthCode();
    const again = await client.exchangeCode(code);
    assert.match(again.userId, /^[0-9a-f]{64}$/);
    assert.deepEqual(await client.exchangeCode(code), again);
  });

  test('new sip(config): the same client', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = new civicSip.sip(emu.clientConfig());
    const data = [{ label: 'documents.genericId.type', value: 'passport', isValid: true, isOwner: false }];
    const result = await client.exchangeCode(emu.mintAuthCode(data, { userId: 'user-2' }));
    assert.deepEqual(result, { data, userId: 'user-2' });
    assert.equal(typeof civicSip.newClient, 'function');
    // The codes themselves: codes.test.js.
  });

  test('callback form: (null, userData) on success, returns undefined', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode(undefined, { userId: 'cb-user' });
    const calls = [];
    const done = new Promise((resolve) => {
      const returned = client.exchangeCode(code, (...args) => { calls.push(args); resolve(); });
      assert.equal(returned, undefined);
    });
    await done;
    await new Promise((r) => { setImmediate(r); });
    assert.equal(calls.length, 1);
    assert.equal(calls[0].length, 2);
    assert.equal(calls[0][0], null);
    assert.deepEqual(calls[0][1], { data: records(DEFAULT_USER_DATA), userId: 'cb-user' });
  });

  test('callback form: (error) on failure, the error has its code', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    emu.fault('unauthorized');
    const args = await new Promise((resolve) => {
      assert.equal(client.exchangeCode(emu.mintAuthCode(), (...a) => resolve(a)), undefined);
    });
    assert.equal(args.length, 1);
    assertCivicError(args[0], {
      message: `${PREFIX}401 - "{\\"message\\":\\"Unauthorized\\"}"`,
      code: codes.HTTP_STATUS,
      statusCode: 401,
      body: '{"message":"Unauthorized"}',
    });
    // A wrong argument type reaches the callback too, it is not thrown.
    const typeArgs = await new Promise((resolve) => {
      assert.equal(client.exchangeCode(42, (...a) => resolve(a)), undefined);
    });
    assertCivicError(typeArgs[0], {
      message: `${PREFIX}the auth code must be a string, not a number`, code: codes.INVALID_ARGUMENT,
    });
  });

  test('exchangeCode returns a native Promise', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const p = client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'p' }));
    assert.ok(p instanceof Promise);
    assert.deepEqual(await p, { data: records(DEFAULT_USER_DATA), userId: 'p' });
  });

  test('callback form: an exception thrown by the callback is not swallowed (uncaught, exits 1)', OPTS, async () => {
    const port = await closedPort();
    const script = `
      const civicSip = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const client = civicSip.newClient(${JSON.stringify({ ...civic.newApp(), api: `http://127.0.0.1:${port}/` })});
      let calls = 0;
      client.exchangeCode('code', (err) => {
        calls += 1;
        process.stdout.write(JSON.stringify({ calls, code: err && err.code }));
        throw new Error('boom from the callback');
      });
    `;
    const { code, stdout, stderr } = await runNode(script);
    assert.equal(code, 1);
    assert.equal(stdout, JSON.stringify({ calls: 1, code: codes.NETWORK }));
    assert.match(stderr, /Error: boom from the callback/);
  });

  test('a pending exchange keeps the process alive until it settles', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('delay', { ms: 500 });
    const script = `
      const civicSip = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      civicSip.newClient(${JSON.stringify(emu.clientConfig())})
        .exchangeCode(${JSON.stringify(emu.mintAuthCode(undefined, { userId: 'alive' }))})
        .then((r) => process.stdout.write(JSON.stringify(r)), (e) => process.stdout.write(e.message));
    `;
    const { code, stdout } = await runNode(script);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { data: records(DEFAULT_USER_DATA), userId: 'alive' });
  });

  test('destructured methods work (they are bound)', OPTS, async (t) => {
    const emu = await emulator(t);
    const { exchangeCode, processPayload } = civicSip.newClient(emu.clientConfig());
    const result = await exchangeCode(emu.mintAuthCode(undefined, { userId: 'destructured' }));
    assert.deepEqual(result, { data: records(DEFAULT_USER_DATA), userId: 'destructured' });
    throwsWith(() => processPayload({ statusCode: 400, body: 'x' }), {
      message: '400 x', code: codes.HTTP_STATUS, statusCode: 400, body: 'x',
    });
    const { exchangeCode: fromSip } = new civicSip.sip(emu.clientConfig());
    assert.deepEqual((await fromSip(emu.mintAuthCode(undefined, { userId: 'u' }))).userId, 'u');
  });

  test('unicode values round-trip exactly', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const values = [
      'emoji 😀👍🏽 👨‍👩‍👧‍👦 🇳🇿',
      '中文 日本語のテキスト 한국어',
      'עברית \u202Bمرحبا بالعالم\u202C RTL',
      'e\u0301 a\u0308 n\u0303 (combining) vs \u00e9',
      'line\u2028separator\u2029paragraph',
      'quotes " \' backslash \\ slash / newline \n tab \t nul \u0000 del \u007f',
      '\uFEFFbom-led \uFFFD replacement',
      '<script>alert(1)</script> &amp;',
      '',
      ' '.repeat(5),
    ];
    const data = values.map((value, i) => ({
      label: i % 2 ? `contact.personal.名前${i}` : `label.${i}.🔑`, value, isValid: i % 3 === 0, isOwner: i % 2 === 0,
    }));
    const result = await client.exchangeCode(emu.mintAuthCode(data, { userId: 'ユーザー-😀' }));
    assert.deepEqual(result, { data, userId: 'ユーザー-😀' });
    for (let i = 0; i < values.length; i += 1) assert.equal(result.data[i].value, values[i]);
  });

  test('lone surrogates (valid JSON escapes) round-trip as JSON.parse reads them', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const data = [{ label: 'x', value: 'lone \ud800 high, lone \udc00 low', isValid: true, isOwner: true }];
    const result = await client.exchangeCode(emu.mintAuthCode(data, { userId: 'u' })).catch((e) => e);
    assert.deepEqual(result, { data, userId: 'u' });
  });

  test('300 records round-trip exactly', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const data = Array.from({ length: 300 }, (_, i) => ({
      label: `custom.record.${i}`,
      value: `${i}: ${crypto.randomBytes(24).toString('base64')} ✓ ${'é'.repeat(i % 7)}`,
      isValid: i % 2 === 0,
      isOwner: i % 3 === 0,
    }));
    const result = await client.exchangeCode(emu.mintAuthCode(data, { userId: 'many' }));
    assert.equal(result.data.length, 300);
    assert.deepEqual(result, { data, userId: 'many' });
  });

  test('a UTF-8 BOM before the reply or the payload is kept, as civic-sip-api\'s request kept it: both are refused', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const text = civic.replyBody({ data: fake.token(), userId: 'bom' });
    fake.onExchange = (req, res) => fake.send(res, 200, `\uFEFF${text}`);
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Invalid response body or body data not found: ${JSON.stringify(`\uFEFF${text}`)}`,
      code: codes.INVALID_RESPONSE,
    });
    fake.processed({ body: `\uFEFF${fake.token()}` });
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Could not return data from processed payload url: Error: ${NOT_VERIFIED}`,
      code: codes.VERIFICATION,
    });
  });

  test('megabyte-sized user data, direct and processed; over 16 MiB (the default maxResponseBytes) is refused', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const data = [{ label: 'big', value: `é${'x'.repeat(1_500_000)}😀`, isValid: true, isOwner: true }];
    fake.userData = data;
    assert.deepEqual(await client.exchangeCode('code'), { data, userId: 'fake-user-id' });
    fake.processed({ body: fake.token() });
    assert.deepEqual(await client.exchangeCode('code'), { data, userId: 'fake-user-id' });
    const huge = 'a'.repeat(16 * 1024 * 1024 + 1);
    fake.onExchange = (req, res) => fake.send(res, 200, huge);
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Error: response body larger than 16777216 bytes (maxResponseBytes)`, code: codes.RESPONSE_TOO_LARGE,
    });
  });

  test('unencrypted replies are read as clear text', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('unencrypted');
    const client = civicSip.newClient(emu.clientConfig());
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'clear' })),
      { data: records(DEFAULT_USER_DATA), userId: 'clear' });
  });

  test('a response expired within the 60 s grace period is accepted', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    for (const secondsAgo of [30, 55]) {
      emu.fault('expiredResponse', { secondsAgo });
      assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'late' })),
        { data: records(DEFAULT_USER_DATA), userId: 'late' }, `${secondsAgo} s ago`);
    }
  });

  test('delay of 100 ms with the default timeout succeeds', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('delay', { ms: 100 });
    const client = civicSip.newClient(emu.clientConfig());
    const t0 = Date.now();
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'slow' })),
      { data: records(DEFAULT_USER_DATA), userId: 'slow' });
    assert.ok(Date.now() - t0 >= 90);
  });

  test('a compressed civicPublicKey works as well as the uncompressed one', OPTS, async (t) => {
    const emu = await emulator(t);
    const point = Buffer.from(emu.civicPublicKey, 'hex');
    const compressed = `${point[64] % 2 ? '03' : '02'}${point.subarray(1, 33).toString('hex')}`;
    for (const key of [compressed, compressed.toUpperCase(), emu.civicPublicKey.toUpperCase()]) {
      const client = civicSip.newClient(emu.clientConfig({ civicPublicKey: key }));
      assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'c' })),
        { data: records(DEFAULT_USER_DATA), userId: 'c' });
    }
  });

  test('AES-256 app secrets (64 hex characters) decrypt', OPTS, async (t) => {
    const emu = await emulator(t, { app: { appSecret: crypto.randomBytes(32).toString('hex') } });
    const client = civicSip.newClient(emu.clientConfig());
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'aes256' })),
      { data: records(DEFAULT_USER_DATA), userId: 'aes256' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('the request as Civic sees it', () => {
  test('headers, body, HMAC and request token claims', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    const before = Date.now() / 1000;
    await client.exchangeCode(code);
    await client.exchangeCode(code);
    const after = Date.now() / 1000;
    assert.equal(emu.requests.length, 2);
    const jtis = [];
    for (const r of emu.requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers.accept, '*/*');
      assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
      assert.equal(r.headers['transfer-encoding'], undefined);
      assert.deepEqual(JSON.parse(r.body), { authToken: code, allowS3UploadedPayload: true });
      assert.deepEqual(Object.keys(JSON.parse(r.body)).sort(), ['allowS3UploadedPayload', 'authToken']);

      const m = /^Civic ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\.([A-Za-z0-9+/]+={0,2})$/.exec(r.headers.authorization);
      assert.ok(m, r.headers.authorization);
      const [, token, extension] = m;
      // The extension: base64 HMAC-SHA256 of the key-sorted body, keyed with the secret's UTF-8 bytes.
      assert.equal(extension, civic.hmacBase64(stableStringify(JSON.parse(r.body)), emu.app.appSecret));
      assert.equal(Buffer.from(extension, 'base64').length, 32);

      assert.ok(civic.verifyJwt(token, emu.app.appPublicKey), 'the request token verifies with the app key');
      const { header, claims, signature } = civic.decodeJwt(token);
      assert.deepEqual(header, { alg: 'ES256', typ: 'JWT' });
      assert.equal(signature.length, 64);
      assert.deepEqual(Object.keys(claims).sort(), ['aud', 'data', 'exp', 'iat', 'iss', 'jti', 'sub']);
      assert.equal(claims.iss, emu.app.appId);
      assert.equal(claims.sub, emu.app.appId);
      assert.equal(claims.aud, emu.url);
      assert.deepEqual(claims.data, { method: 'POST', path: 'scopeRequest/authCode' });
      assert.equal(typeof claims.iat, 'number');
      assert.ok(claims.iat >= Math.floor(before) - 1 && claims.iat <= after + 1, `iat ${claims.iat}`);
      assert.ok(Math.abs(claims.exp - claims.iat - 180) < 1e-6, `exp - iat = ${claims.exp - claims.iat}`);
      assert.match(claims.jti, UUID_V4);
      jtis.push(claims.jti);

      // The secrets never travel.
      const wire = JSON.stringify(r);
      for (const s of [emu.app.appSecret, emu.app.prvKey]) {
        assert.ok(!wire.includes(s) && !wire.includes(s.toUpperCase()));
        assert.ok(!wire.includes(Buffer.from(s, 'hex').toString('base64')));
        assert.ok(!wire.includes(Buffer.from(s, 'hex').toString('base64url')));
      }
    }
    assert.notEqual(jtis[0], jtis[1]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('clients own their configuration', () => {
  // The connection is back in the pool 50 ms after an answer only when the worker gets the CPU
  // in that time (timingDependent: test:all).
  test('clients without a proxy option share one connection pool: a client made per sign-in reuses connections', timingDependent(OPTS), async (t) => {
    const server = await httpServer(t, (req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ port: req.socket.remotePort }));
    });
    const ports = [];
    for (let i = 0; i < 3; i += 1) {
      // Sign-ins a moment apart, as a user's are: a connection goes back to the pool from its
      // connection task just after the answer is read, not before the promise settles.
      if (i > 0) await new Promise((resolve) => { setTimeout(resolve, 50); });
      const client = civicSip.newClient({ ...civic.newApp(), api: server.url });
      const error = await client.exchangeCode('code').then(() => assert.fail('resolved'), (e) => e);
      assert.equal(error.code, codes.HTTP_STATUS);
      assert.equal(error.response.statusCode, 400);
      ports.push(JSON.parse(error.response.body).port);
    }
    assert.equal(new Set(ports).size, 1, `client ports: ${ports}`);
  });

  test('two clients on two emulators, interleaved and concurrent', OPTS, async (t) => {
    const [emuA, emuB] = await Promise.all([emulator(t), emulator(t)]);
    const a = civicSip.newClient(emuA.clientConfig());
    const b = new civicSip.sip(emuB.clientConfig());
    const dataA = [{ label: 'a', value: 'from A', isValid: true, isOwner: true }];
    const dataB = [{ label: 'b', value: 'from B', isValid: false, isOwner: false }];
    const codeA = emuA.mintAuthCode(dataA, { userId: 'A' });
    const codeB = emuB.mintAuthCode(dataB, { userId: 'B' });
    for (let i = 0; i < 2; i += 1) {
      assert.deepEqual(await a.exchangeCode(codeA), { data: dataA, userId: 'A' });
      assert.deepEqual(await b.exchangeCode(codeB), { data: dataB, userId: 'B' });
    }
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? b.exchangeCode(codeB) : a.exchangeCode(codeA))));
    results.forEach((r, i) => assert.deepEqual(r, i % 2 ? { data: dataB, userId: 'B' } : { data: dataA, userId: 'A' }));
    assert.equal(emuA.requests.length, 7);
    assert.equal(emuB.requests.length, 7);
    // A client made after B still talks to A (civic-sip-api's module-level `api` would not).
    const a2 = civicSip.newClient(emuA.clientConfig());
    assert.deepEqual(await a2.exchangeCode(codeA), { data: dataA, userId: 'A' });
    assert.deepEqual(await b.exchangeCode(codeB), { data: dataB, userId: 'B' });
    assert.equal(emuA.requests.length, 8);
    assert.equal(emuB.requests.length, 8);
    // Each request token's aud is its own emulator's URL.
    for (const [emu, other] of [[emuA, emuB], [emuB, emuA]]) {
      for (const r of emu.requests) {
        const token = r.headers.authorization.slice('Civic '.length).split('.').slice(0, 3).join('.');
        assert.equal(civic.decodeJwt(token).claims.aud, emu.url);
        assert.notEqual(emu.url, other.url);
      }
    }
  });

  test('a fault on one emulator does not touch the other client', OPTS, async (t) => {
    const [emuA, emuB] = await Promise.all([emulator(t), emulator(t)]);
    const a = civicSip.newClient(emuA.clientConfig({ timeout: 5000 }));
    const b = civicSip.newClient(emuB.clientConfig({ timeout: 300 }));
    emuB.fault('hang');
    const [ra, rb] = await Promise.all([settle(a.exchangeCode(emuA.mintAuthCode(undefined, { userId: 'A' }))),
      settle(b.exchangeCode(emuB.mintAuthCode()))]);
    assert.deepEqual(ra.value, { data: records(DEFAULT_USER_DATA), userId: 'A' });
    assertCivicError(rb.error, { message: `${PREFIX}Error: ETIMEDOUT: no answer within 300 ms`, code: codes.TIMEOUT });
  });
});
