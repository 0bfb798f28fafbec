'use strict';

// civic-sip-native's client against real servers on 127.0.0.1: the local Civic emulator
// (emulator/), and small servers of our own (helpers/) for replies the emulator cannot make.
// Every failure is checked for its exact message, its `code`, and for HTTP errors `statusCode`
// and `body`.
//
// Run: node --test __test__/client.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv();

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const crypto = require('node:crypto');
const path = require('node:path');

const civicSip = require('..');
const { DEFAULT_USER_DATA, stableStringify } = require('../emulator');
const { closedPort } = require('./helpers/servers');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, httpServer, records, runNode,
} = require('./helpers/support');
const {
  PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, throwsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 15000 };
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const { codes } = civicSip;

// ---------------------------------------------------------------------------------------------

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
    assert.deepEqual(civicSip.codes, {
      CONFIG: 'ERR_CIVIC_CONFIG',
      HTTP_STATUS: 'ERR_CIVIC_HTTP_STATUS',
      NETWORK: 'ERR_CIVIC_NETWORK',
      TIMEOUT: 'ERR_CIVIC_TIMEOUT',
      INVALID_RESPONSE: 'ERR_CIVIC_INVALID_RESPONSE',
      VERIFICATION: 'ERR_CIVIC_VERIFICATION',
      DECRYPTION: 'ERR_CIVIC_DECRYPTION',
      INVALID_ARGUMENT: 'ERR_INVALID_ARG_TYPE',
      INTERNAL: 'ERR_CIVIC_INTERNAL',
      RESPONSE_TOO_LARGE: 'ERR_CIVIC_RESPONSE_TOO_LARGE',
      ABORTED: 'ABORT_ERR',
    });
    assert.ok(Object.isFrozen(civicSip.codes));
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

describe('HTTP status errors', () => {
  const STATUS_FAULTS = [
    ['badRequest', 400, '{"message":"Bad Request"}'],
    ['unauthorized', 401, '{"message":"Unauthorized"}'],
    ['methodNotAllowed', 405, '{"message":"Method Not Allowed"}'],
    ['rateLimited', 429, '{"message":"Too Many Requests"}'],
    ['serverError', 500, '{"message":"Internal server error"}'],
    ['gatewayTimeout', 504, '{"message":"Endpoint request timed out"}'],
  ];

  test('every emulator status fault: `<status> - <JSON of the body text>`', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    for (const [fault, status, body] of STATUS_FAULTS) {
      emu.fault(fault);
      await rejectsWith(client.exchangeCode(code), {
        message: `${PREFIX}${status} - ${JSON.stringify(body)}`, code: codes.HTTP_STATUS, statusCode: status, body,
      });
    }
    assert.equal(emu.requests.length, STATUS_FAULTS.length);
  });

  test('PROTOCOL.md example: 401 with Civic\'s body', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('unauthorized');
    await rejectsWith(civicSip.newClient(emu.clientConfig()).exchangeCode(emu.mintAuthCode()), {
      message: 'Error exchanging code for data: 401 - "{\\"message\\":\\"Unauthorized\\"}"',
      code: 'ERR_CIVIC_HTTP_STATUS',
      statusCode: 401,
      body: '{"message":"Unauthorized"}',
    });
  });

  test('genuine 401s: wrong prvKey, wrong appSecret, wrong appId', OPTS, async (t) => {
    const emu = await emulator(t);
    const code = emu.mintAuthCode();
    const expected = {
      message: `${PREFIX}401 - "{\\"message\\":\\"Unauthorized\\"}"`,
      code: codes.HTTP_STATUS,
      statusCode: 401,
      body: '{"message":"Unauthorized"}',
    };
    for (const override of [
      { prvKey: civic.newKeyPair().privateHex },
      { appSecret: crypto.randomBytes(16).toString('hex') },
      { appId: 'someoneElse' },
    ]) {
      await rejectsWith(civicSip.newClient(emu.clientConfig(override)).exchangeCode(code), expected);
    }
  });

  test('an auth code the server refuses: 400 Invalid auth code (the request itself was authorised)', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    // Odd characters must be serialised as JSON.stringify does, or Civic's HMAC check (over its
    // own key-sorted serialisation of the body) fails with 401.
    const odd = 'ü 😀 中 \u2028\u2029 \u0001\u001f\u007f " \\ / <script>&</script> \b\f\n\r\t é';
    for (const authCode of ['not-a-jwt', '', emu.mintAuthCode(undefined, { expiresIn: -10 }), odd, 'x'.repeat(100000)]) {
      await rejectsWith(client.exchangeCode(authCode), {
        message: `${PREFIX}400 - "{\\"message\\":\\"Invalid auth code\\"}"`,
        code: codes.HTTP_STATUS,
        statusCode: 400,
        body: '{"message":"Invalid auth code"}',
      });
    }
  });

  test('custom bodies and statuses: text, empty, escapes, 404, 302, 2xx other than 200', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    const cases = [
      [{ body: 'Service "down"\n\tfor now', contentType: 'text/plain' }, 500],
      [{ body: '' }, 503, 'serverError'],
      [{ body: 'ünïcödé 😀 \u2028' }, 502, 'serverError'],
      [{ body: '<html><body>Bad gateway</body></html>', contentType: 'text/html' }, 502, 'serverError'],
      [{ body: 'moved' }, 302, 'badRequest'],
    ];
    for (const [options, status, fault = 'serverError'] of cases) {
      emu.fault(fault, { ...options, status });
      await rejectsWith(client.exchangeCode(code), {
        message: `${PREFIX}${status} - ${JSON.stringify(options.body)}`, code: codes.HTTP_STATUS, statusCode: status, body: options.body,
      });
    }
    emu.fault(null);
    // An unknown path: the emulator's 404.
    await rejectsWith(civicSip.newClient(emu.clientConfig({ env: 'a/b' })).exchangeCode(code), {
      message: `${PREFIX}404 - "{\\"message\\":\\"Not Found\\"}"`, code: codes.HTTP_STATUS, statusCode: 404, body: '{"message":"Not Found"}',
    });
    // 2xx other than 200 goes through processPayload, which says `<status> <body>`.
    emu.fault('badRequest', { status: 201, body: 'created' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}201 created`, code: codes.HTTP_STATUS, statusCode: 201, body: 'created',
    });
    emu.fault('badRequest', { status: 204, body: '' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}204 `, code: codes.HTTP_STATUS, statusCode: 204, body: '',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('invalid replies', () => {
  test('200 that is not JSON', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    emu.fault('notJson');
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}Invalid response body or body data not found: "Service unavailable"`, code: codes.INVALID_RESPONSE,
    });
    emu.fault('notJson', { body: '<html>"oops"</html>\n' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}Invalid response body or body data not found: "<html>\\"oops\\"</html>\\n"`, code: codes.INVALID_RESPONSE,
    });
    emu.fault('notJson', { body: '' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}Invalid response body or body data not found: ""`, code: codes.INVALID_RESPONSE,
    });
  });

  test('200 without data: the body as JSON.stringify(JSON.parse(body)) gives it', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    emu.fault('noData');
    await rejectsWith(client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'nodata' })), {
      message: `${PREFIX}Invalid response body or body data not found: {"userId":"nodata","encrypted":true,"alg":"aes"}`,
      code: codes.INVALID_RESPONSE,
    });
    const code = emu.mintAuthCode();
    for (const [body, shown] of [
      ['{"data":""}', '{"data":""}'],
      ['{"data":null,"userId":"u"}', '{"data":null,"userId":"u"}'],
      ['{"data":0}', '{"data":0}'],
      ['{"data":false}', '{"data":false}'],
      ['{ "a" : 1.50, "b": [ 1e2 ], "data": "" }', '{"a":1.5,"b":[100],"data":""}'],
      ['{"2":"b","1":"a","data":""}', '{"1":"a","2":"b","data":""}'],
      ['[1,2]', '[1,2]'],
      ['null', 'null'],
      ['"just a string"', '"just a string"'],
      ['42', '42'],
      ['{}', '{}'],
    ]) {
      emu.fault('notJson', { body, contentType: 'application/json' });
      await rejectsWith(client.exchangeCode(code), {
        message: `${PREFIX}Invalid response body or body data not found: ${shown}`, code: codes.INVALID_RESPONSE,
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------

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
    // A delay shorter than the timeout is fine.
    emu.fault('delay', { ms: 100 });
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'x' })),
      { data: records(DEFAULT_USER_DATA), userId: 'x' });
    // A delay longer than the timeout is not.
    emu.fault('delay', { ms: 1500 });
    const late = await settle(client.exchangeCode(emu.mintAuthCode()), 5000);
    assertCivicError(late.error, { message: `${PREFIX}Error: ETIMEDOUT: no answer within 300 ms`, code: codes.TIMEOUT });
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

// ---------------------------------------------------------------------------------------------

describe('processed (S3) payloads', () => {
  test('success through the emulator: POST then GET of the payload URL', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('processed');
    const client = civicSip.newClient(emu.clientConfig());
    const result = await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'processed' }));
    assert.deepEqual(result, { data: records(DEFAULT_USER_DATA), userId: 'processed' });
    assert.deepEqual(emu.requests.map((r) => r.method), ['POST', 'GET']);
    assert.match(emu.requests[1].url, /^\/payloads\/[0-9a-f]{32}$/);
  });

  test('payload URL answering 403: StatusCodeError', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('processed', { payloadStatus: 403 });
    const client = civicSip.newClient(emu.clientConfig());
    const err = await rejectsWith(client.exchangeCode(emu.mintAuthCode()), {
      message: /^Error exchanging code for data: Could not return data from processed payload url: StatusCodeError: 403 - "/,
      code: codes.HTTP_STATUS,
      statusCode: 403,
      body: /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code>.*<\/Error>$/,
    });
    assert.equal(err.message,
      `${PREFIX}Could not return data from processed payload url: StatusCodeError: 403 - ${JSON.stringify(err.response.body)}`);
  });

  test('payload from our own server: 404, redirects, refused, invalid URL', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const P = `${PREFIX}Could not return data from processed payload url: `;

    fake.processed({ status: 404, body: 'no such key', headers: { 'Content-Type': 'text/plain' } });
    await rejectsWith(client.exchangeCode('code'), {
      message: `${P}StatusCodeError: 404 - "no such key"`, code: codes.HTTP_STATUS, statusCode: 404, body: 'no such key',
    });

    // GET redirects are followed, as request followed them.
    const target = fake.route('/real-payload', { body: fake.token() });
    fake.processed((req, res) => fake.send(res, 302, '', { Location: target }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    assert.deepEqual(fake.requests.slice(-3).map((r) => [r.method, r.url]),
      [['POST', '/prod/scopeRequest/authCode'], ['GET', '/payload/2'], ['GET', '/real-payload']]);

    const port = await closedPort();
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `http://127.0.0.1:${port}/p`, processed: true }));
    await rejectsWith(client.exchangeCode('code'), {
      message: `${P}RequestError: Error: connect ECONNREFUSED 127.0.0.1:${port}`, code: codes.NETWORK,
    });

    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: 'not a url', processed: true }));
    await rejectsWith(client.exchangeCode('code'), {
      message: `${P}RequestError: Error: Invalid URI "not a url"`, code: codes.NETWORK,
    });
  });

  test('processed + a verification failure: wrapped, ERR_CIVIC_VERIFICATION', OPTS, async (t) => {
    // Through the emulator, with a client that trusts another key...
    const emu = await emulator(t);
    emu.fault('processed');
    const wrongKey = civic.newKeyPair().publicHex;
    const expected = {
      message: `${PREFIX}Could not return data from processed payload url: Error: ${NOT_VERIFIED}`, code: codes.VERIFICATION,
    };
    await rejectsWith(civicSip.newClient(emu.clientConfig({ civicPublicKey: wrongKey })).exchangeCode(emu.mintAuthCode()), expected);
    assert.deepEqual(emu.requests.map((r) => r.method), ['POST', 'GET']);

    // ...and from our own server: payloads signed by another key, expired, or tampered with.
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const good = fake.token();
    const [h, , s] = good.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...civic.decodeJwt(good).claims, sub: 'other' })).toString('base64url')}.${s}`;
    for (const payload of [fake.token({ civicKey: civic.newKeyPair() }), fake.token({ expiresIn: -120 }), tampered]) {
      fake.processed({ body: payload });
      await rejectsWith(client.exchangeCode('code'), expected);
    }
    fake.processed({ body: good });
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    // A decryption failure in the payload is wrapped the same way.
    fake.processed({ body: fake.token({ clearText: 'not json', encrypted: false }) }, { encrypted: false });
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Could not return data from processed payload url: Error: Could not decrypt user data: the clear text is not JSON`,
      code: codes.DECRYPTION,
    });
  });

  test('a redirect loop on the payload URL stops after 10 redirects', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    fake.processed((req, res) => fake.send(res, 302, '', { Location: '/payload/1?again' }));
    await rejectsWith(client.exchangeCode('code'), {
      message: /^Error exchanging code for data: Could not return data from processed payload url: RequestError: Error: .*Exceeded maxRedirects\. Probably stuck in a redirect loop/,
      code: codes.NETWORK,
    });
    // The POST, the first GET and 10 redirects followed.
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', ...Array(11).fill('GET')]);
  });

  test('an unencrypted processed payload', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    fake.processed({ body: fake.token({ encrypted: false }) }, { encrypted: false });
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('processPayload called directly', () => {
  test('non-200: `<status> <body>`, thrown synchronously', OPTS, () => {
    const client = civicSip.newClient(civic.newApp());
    throwsWith(() => client.processPayload({ statusCode: 400, body: 'x' }), {
      message: '400 x', code: codes.HTTP_STATUS, statusCode: 400, body: 'x',
    });
    throwsWith(() => client.processPayload({ statusCode: 500, body: '{"message":"Internal server error"}' }), {
      message: '500 {"message":"Internal server error"}', code: codes.HTTP_STATUS, statusCode: 500, body: '{"message":"Internal server error"}',
    });
    throwsWith(() => client.processPayload({ statusCode: 201, body: 'created' }), {
      message: '201 created', code: codes.HTTP_STATUS, statusCode: 201, body: 'created',
    });
  });

  test('200 without data: `Invalid response body ...`, no exchange prefix', OPTS, () => {
    const client = civicSip.newClient(civic.newApp());
    const invalid = (shown) => ({ message: `Invalid response body or body data not found: ${shown}`, code: codes.INVALID_RESPONSE });
    throwsWith(() => client.processPayload({ statusCode: 200, body: { processed: true, data: '' } }),
      invalid('{"processed":true,"data":""}'));
    throwsWith(() => client.processPayload({ statusCode: 200, body: '{"processed":true,"data":""}' }),
      invalid('{"processed":true,"data":""}'));
    throwsWith(() => client.processPayload({ statusCode: 200, body: 'oops' }), invalid('"oops"'));
    throwsWith(() => client.processPayload({ statusCode: 200 }), invalid('undefined'));
    throwsWith(() => client.processPayload({ statusCode: 200, body: {} }), invalid('{}'));
  });

  test('200 with a real reply from the emulator: the user data, synchronously', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const reply = await civic.signedExchange(emu, emu.mintAuthCode(undefined, { userId: 'direct' }));
    assert.equal(reply.status, 200);
    const expected = { data: records(DEFAULT_USER_DATA), userId: 'direct' };
    for (const body of [reply.body, JSON.parse(reply.body)]) {
      const result = client.processPayload({ statusCode: 200, body });
      assert.equal(typeof result.then, 'undefined');
      assert.deepEqual(Object.keys(result), ['data', 'userId']);
      assert.deepEqual(result, expected);
    }
    // A failing token throws synchronously too, without the exchange prefix.
    emu.fault('wrongKey');
    const forged = await civic.signedExchange(emu, emu.mintAuthCode());
    throwsWith(() => client.processPayload({ statusCode: 200, body: forged.body }), { message: NOT_VERIFIED, code: codes.VERIFICATION });
    emu.fault('badPadding');
    const broken = await civic.signedExchange(emu, emu.mintAuthCode());
    throwsWith(() => client.processPayload({ statusCode: 200, body: broken.body }), {
      message: 'Could not decrypt user data: bad padding (is the appSecret the one of this app?)', code: codes.DECRYPTION,
    });
  });

  test('a statusCode that is not the number 200: `${statusCode} ${body}` as civic-sip-api wrote it',
    OPTS, () => {
      const client = civicSip.newClient(civic.newApp());
      for (const [response, message] of [
        [{ statusCode: '200', body: 'x' }, '200 x'],
        [{ body: 'x' }, 'undefined x'],
        [{}, 'undefined undefined'],
        [{ status: 200, body: 'x' }, 'undefined x'], // a fetch-style response
      ]) {
        let error;
        try { client.processPayload(response); } catch (e) { error = e; }
        assert.ok(error instanceof Error, JSON.stringify(response));
        assert.equal(error.message, message);
        assert.equal(error.code, codes.HTTP_STATUS);
        assert.notEqual(error.response.statusCode, 0, 'no status was given; 0 is not one');
      }
    });

  test('a Buffer body is read as its text, as JSON.parse read it in civic-sip-api',
    OPTS, async (t) => {
      const emu = await emulator(t);
      const client = civicSip.newClient(emu.clientConfig());
      const reply = await civic.signedExchange(emu, emu.mintAuthCode(undefined, { userId: 'buffer' }));
      assert.deepEqual(client.processPayload({ statusCode: 200, body: Buffer.from(reply.body) }),
        { data: records(DEFAULT_USER_DATA), userId: 'buffer' });
    });

  test('a built reply without userId resolves with userId undefined (key present)', OPTS, () => {
    const app = civic.newApp();
    const civicKey = civic.newKeyPair();
    const client = civicSip.newClient({ ...app, civicPublicKey: civicKey.publicHex });
    const token = civic.responseToken({ ...app, civicKey });
    const result = client.processPayload({ statusCode: 200, body: { data: token, encrypted: true } });
    assert.deepEqual(Object.keys(result), ['data', 'userId']);
    assert.equal(result.userId, undefined);
    assert.deepEqual(result.data, records(DEFAULT_USER_DATA));
  });

  test('a processed reply: a Promise of the user data', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('processed');
    const client = civicSip.newClient(emu.clientConfig());
    const reply = await civic.signedExchange(emu, emu.mintAuthCode(undefined, { userId: 'later' }));
    const result = client.processPayload({ statusCode: 200, body: reply.body });
    assert.ok(result instanceof Promise);
    assert.deepEqual(await result, { data: records(DEFAULT_USER_DATA), userId: 'later' });

    emu.fault('processed', { payloadStatus: 403 });
    const denied = await civic.signedExchange(emu, emu.mintAuthCode());
    const err = await rejectsWith(client.processPayload({ statusCode: 200, body: denied.body }), {
      message: /^Could not return data from processed payload url: StatusCodeError: 403 - "<\?xml /,
      code: codes.HTTP_STATUS,
      statusCode: 403,
      body: /<Code>AccessDenied<\/Code>/,
    });
    assert.equal(err.message, `Could not return data from processed payload url: StatusCodeError: 403 - ${JSON.stringify(err.response.body)}`);
  });

  test('a processed reply whose payload never comes: rejects on the timeout', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const url = fake.route('/hang', { hang: true });
    const client = civicSip.newClient(fake.clientConfig({ timeout: 300 }));
    const outcome = await settle(client.processPayload({ statusCode: 200, body: { data: url, processed: true, userId: 'u' } }));
    assert.equal(outcome.ok, false);
    assertCivicError(outcome.error, { message: 'Error: ETIMEDOUT: no answer within 300 ms', code: codes.TIMEOUT });
  });
});

// ---------------------------------------------------------------------------------------------

describe('clients own their configuration', () => {
  test('clients without a proxy option share one connection pool: a client made per sign-in reuses connections', OPTS, async (t) => {
    const server = await httpServer(t, (req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ port: req.socket.remotePort }));
    });
    const ports = [];
    for (let i = 0; i < 3; i += 1) {
      // Sign-ins a moment apart, as a user's are: a connection goes back to the pool on its
      // server's own thread (src/core/origin.rs) just after the answer is read.
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
