'use strict';

// Processed replies: the user data behind a pre-signed payload URL (fetched exactly as given,
// redirects followed, failures wrapped as civic-sip-api wrapped them), and processPayload called
// directly with a reply the app fetched itself.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/payload.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const { closedPort } = require('./helpers/servers');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, proxyServer, records,
} = require('./helpers/support');
const {
  PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, throwsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;

describe('processed (S3) payloads', () => {
  test('success through the emulator: POST then GET of the payload URL', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('processed');
    const client = civicSip.newClient(emu.clientConfig());
    const result = await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'processed' }));
    assert.deepEqual(result, { data: records(DEFAULT_USER_DATA), userId: 'processed' });
    assert.deepEqual(emu.requests.map((r) => r.method), ['POST', 'GET']);
    assert.match(emu.requests[1].url, /^\/payloads\/[0-9a-f]{32}\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$/);
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
      message: `${P}RequestError: Error: Invalid URI "not%20a%20url"`, code: codes.NETWORK,
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

describe('a pre-signed payload URL is fetched exactly as given', () => {
  // Its signature covers the path as written: dot segments, doubled slashes and escapes must
  // reach the wire byte for byte, as civic-sip-api sent them. Direct, through an HTTP proxy
  // (absolute form) and through a CONNECT tunnel (https).
  const SIGNED = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0a1b%2Fc%3D';
  const TARGETS = [
    `/bucket/a/../b?${SIGNED}`,
    `/bucket/./a/./b?${SIGNED}`,
    `/bucket/a/..?${SIGNED}`,
    `/bucket//double//slashes/?${SIGNED}`,
    `/bucket/%2e%2E/%2F%2f%7E%7e%41?${SIGNED}`,
    `/bucket/..%2F../key?${SIGNED}`,
    `/bucket/key.json?${SIGNED}&a=..%2F&b=./`,
    "/bucket/its;(a)*,=@:!$+~key",
  ];

  test('dot segments, doubled slashes and escapes reach the server byte for byte', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const token = fake.token();
    const client = civicSip.newClient(fake.clientConfig());
    for (const target of TARGETS) {
      const before = fake.requests.length;
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${fake.url}${target.slice(1)}`, processed: true }));
      // The fake answers 404 for paths it does not know: only the request line matters here.
      const err = await client.exchangeCode('code').catch((e) => e);
      assert.equal(err.code, codes.HTTP_STATUS, err.message);
      assert.deepEqual(fake.requests.slice(before).map((r) => `${r.method} ${r.url}`), ['POST /prod/scopeRequest/authCode', `GET ${target}`]);
    }
    // And the token at such a URL is read: the exchange succeeds.
    const url = fake.route('/bucket/a/../b', { body: token });
    assert.equal(url, `${fake.url}bucket/a/../b`);
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${url}?${SIGNED}`, processed: true }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
  });

  test('through an HTTP proxy (absolute form) and through a CONNECT tunnel to https', OPTS, async (t) => {
    const proxy = await proxyServer(t);
    const fake = await fakeCivic(t);
    const tlsFake = await fakeCivic(t, { tls: true });
    for (const target of TARGETS) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${fake.url}${target.slice(1)}`, processed: true }));
      await civicSip.newClient(fake.clientConfig({ proxy: { url: proxy.url } })).exchangeCode('code').catch((e) => e);
      // The proxy records the request line it got.
      assert.equal(proxy.requests.at(-1).url, `${fake.url}${target.slice(1)}`);
      tlsFake.onExchange = (req, res) => tlsFake.send(res, 200, civic.replyBody({ data: `${tlsFake.url}${target.slice(1)}`, processed: true }));
      const before = tlsFake.requests.length;
      await civicSip.newClient(tlsFake.clientConfig({ proxy: { url: proxy.url, rejectUnauthorized: false } })).exchangeCode('code').catch((e) => e);
      assert.deepEqual(tlsFake.requests.slice(before).map((r) => `${r.method} ${r.url}`), ['POST /prod/scopeRequest/authCode', `GET ${target}`]);
    }
  });

  test('what a request line cannot carry is percent-encoded; a fragment is not sent', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    for (const [written, sent] of [
      ['bucket/a b/"q"?x=<y>', '/bucket/a%20b/%22q%22?x=%3Cy%3E'],
      ['bucket/caf\u00e9', '/bucket/caf%C3%A9'],
      // As civic-sip-api's `url.parse` escaped it.
      ["bucket/it's?q='x'", '/bucket/it%27s?q=%27x%27'],
      ['bucket/key#fragment', '/bucket/key'],
    ]) {
      const before = fake.requests.length;
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${fake.url}${written}`, processed: true }));
      await client.exchangeCode('code').catch((e) => e);
      assert.deepEqual(fake.requests.slice(before).map((r) => r.url), ['/prod/scopeRequest/authCode', sent]);
    }
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
