'use strict';

// Proves that emulator/ speaks Civic's SIP protocol by driving it with the
// real reference client, civic-sip-api@1.2.1 (its Civic key swapped for the
// emulator's through rewire, as its own tests do), plus a small client written
// here (signing with emulator/civic-crypto.js) for the negative cases
// civic-sip-api cannot be made to produce.
//
// Run: node --test __test__/emulator.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { startEmulator, stableStringify, DEFAULT_USER_DATA, FAULTS } = require('../emulator');
const { emulator: start } = require('./helpers/support');
const {
  decodeJwt, privateKeyFromHex, decryptData, signJwt, hmacBase64, verifyJwt: verifiesWith, civicSipApi,
} = require('./helpers/civic');
const { httpRequest, tlsFixture, CA_PEM } = require('./helpers/servers');

const PREFIX = 'Error exchanging code for data: ';
const NOT_VERIFIED = `${PREFIX}JWT Token containing encrypted data could not be verified`;
const OPTS = { timeout: 15000 };

// ------------------------------------------------------------------ helpers

/** A civic-sip-api client bound to `emu` (fresh module state per call). */
function civicClient(emu, overrides = {}) {
  return civicSipApi({ ...emu.clientConfig(), ...overrides });
}

async function rejectsWith(promise, expected) {
  await assert.rejects(promise, (err) => {
    if (expected instanceof RegExp) assert.match(err.message, expected);
    else assert.equal(err.message, expected);
    return true;
  });
}

/** One request to the emulator (POST unless said otherwise): { status, headers, body }. */
const request = (url, { method = 'POST', ...options } = {}) => httpRequest(url, { method, ...options });

/**
 * An independent client: builds `Authorization: Civic <jwt>.<ext>` with
 * emulator/civic-crypto.js (through helpers/civic.js), not the package. Every piece can be overridden to produce a bad request.
 */
function signedRequest(emu, {
  claims = {}, header = { alg: 'ES256', typ: 'JWT' }, body, hmacOver, secret, prvKey, path = 'prod/scopeRequest/authCode',
} = {}) {
  const { appId, appSecret } = emu.app;
  const now = Date.now() / 1000;
  const fullClaims = {
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + 180,
    iss: appId,
    aud: emu.url,
    sub: appId,
    data: { method: 'POST', path: 'scopeRequest/authCode' },
    ...claims,
  };
  const requestJwt = signJwt(fullClaims, privateKeyFromHex(prvKey ?? emu.app.prvKey), header);
  const bodyText = body ?? JSON.stringify({ allowS3UploadedPayload: true, authToken: emu.mintAuthCode() });
  const ext = hmacBase64(hmacOver ?? bodyText, secret ?? appSecret);
  return {
    url: emu.url + path,
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: '*/*',
      Authorization: `Civic ${requestJwt}.${ext}`,
    },
    body: bodyText,
  };
}

const send = (r) => request(r.url, r);

// -------------------------------------------------------------- the tests

test('exports and self-reference', OPTS, async () => {
  assert.equal(require('civic-sip-native/emulator'), require('../emulator'));
  assert.equal(typeof startEmulator, 'function');
  assert.deepEqual([...FAULTS].sort(), [
    'badIv', 'badPadding', 'badRequest', 'connectionReset', 'delay', 'expiredResponse', 'gatewayTimeout', 'hang',
    'methodNotAllowed', 'noData', 'notJson', 'processed', 'rateLimited', 'serverError', 'tamperedResponse',
    'unauthorized', 'unencrypted', 'wrongKey',
  ]);
  assert.equal(stableStringify({ b: 1, a: [{ d: 1, c: 'é' }], c: null }), '{"a":[{"c":"é","d":1}],"b":1,"c":null}');
});

test('a fresh emulator describes a complete app and Civic key', OPTS, async (t) => {
  const emu = await start(t);
  assert.match(emu.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.equal(emu.url, `http://127.0.0.1:${emu.port}/`);
  assert.match(emu.civicPublicKey, /^04[0-9a-f]{128}$/);
  assert.match(emu.app.appId, /^[0-9A-Za-z]{9}$/);
  assert.match(emu.app.appSecret, /^[0-9a-f]{32}$/);
  assert.match(emu.app.prvKey, /^[0-9a-f]{64}$/);
  assert.match(emu.app.appPublicKey, /^04[0-9a-f]{128}$/);
  assert.deepEqual(emu.clientConfig(), {
    appId: emu.app.appId,
    appSecret: emu.app.appSecret,
    prvKey: emu.app.prvKey,
    api: emu.url,
    civicPublicKey: emu.civicPublicKey,
  });
  assert.equal(emu.clientConfig({ env: 'dev' }).env, 'dev');

  // The auth code looks like Civic's.
  const code = emu.mintAuthCode();
  const { header, claims } = decodeJwt(code);
  assert.deepEqual(header, { alg: 'ES256', typ: 'JWT' });
  assert.deepEqual(Object.keys(claims), ['jti', 'iat', 'exp', 'iss', 'aud', 'sub', 'data']);
  assert.match(claims.jti, /^[0-9a-f-]{36}$/);
  assert.equal(claims.iss, 'civic-sip-hosted-service');
  assert.equal(claims.aud, 'https://api.civic.com/sip/');
  assert.equal(claims.sub, emu.app.appId);
  assert.ok(Math.abs(claims.exp - claims.iat - 1800) < 1e-6);
  assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 5);
  assert.match(claims.data.codeToken, /^[0-9a-f-]{36}$/);
  assert.ok(verifiesWith(code, emu.civicPublicKey));
});

test('civic-sip-api exchanges a minted code for the default user data', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  const code = emu.mintAuthCode();
  const result = await client.exchangeCode(code);
  assert.deepEqual(result.data, DEFAULT_USER_DATA.map((r) => ({ ...r })));
  assert.deepEqual(result.data, [
    { label: 'contact.personal.email', value: 'user@example.com', isValid: true, isOwner: true },
    { label: 'contact.personal.phoneNumber', value: '+1 555 0100', isValid: true, isOwner: true },
  ]);
  assert.match(result.userId, /^[0-9a-f]{64}$/);

  // Codes are reusable until they expire, and the userId is stable.
  const again = await client.exchangeCode(code);
  assert.equal(again.userId, result.userId);
  const other = await client.exchangeCode(emu.mintAuthCode());
  assert.equal(other.userId, result.userId);
  const someoneElse = await client.exchangeCode(emu.mintAuthCode([{ label: 'x', value: 'y', isValid: true, isOwner: true }]));
  assert.notEqual(someoneElse.userId, result.userId);
  const chosen = await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'ab'.repeat(32) }));
  assert.equal(chosen.userId, 'ab'.repeat(32));
});

test('emu.requests records what civic-sip-api sent', OPTS, async (t) => {
  const emu = await start(t);
  const code = emu.mintAuthCode();
  await civicClient(emu).exchangeCode(code);
  assert.equal(emu.requests.length, 1);
  const [req] = emu.requests;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/prod/scopeRequest/authCode');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers.accept, '*/*');
  assert.equal(req.headers.host, `127.0.0.1:${emu.port}`);
  assert.equal(Number(req.headers['content-length']), Buffer.byteLength(req.body));
  // civic-sip-api puts the keys on the wire in insertion order...
  assert.equal(req.body, JSON.stringify({ authToken: code, allowS3UploadedPayload: true }));
  // ...but HMACs the key-sorted form.
  const m = /^Civic ([^.]+)\.([^.]+)\.([^.]+)\.([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization);
  assert.ok(m, req.headers.authorization);
  const ext = crypto.createHmac('sha256', emu.app.appSecret)
    .update(`{"allowS3UploadedPayload":true,"authToken":"${code}"}`).digest('base64');
  assert.equal(m[4], ext);
  const requestJwt = `${m[1]}.${m[2]}.${m[3]}`;
  assert.ok(verifiesWith(requestJwt, emu.app.appPublicKey));
  const { header, claims } = decodeJwt(requestJwt);
  assert.equal(header.alg, 'ES256');
  assert.equal(claims.iss, emu.app.appId);
  assert.equal(claims.sub, emu.app.appId);
  assert.equal(claims.aud, emu.url);
  assert.deepEqual(claims.data, { method: 'POST', path: 'scopeRequest/authCode' });
  assert.ok(Math.abs(claims.exp - claims.iat - 180) < 1e-6);
});

test('unicode values survive the round trip', OPTS, async (t) => {
  const userData = [
    { label: 'contact.personal.email', value: 'zoë.ñandú@exämple.com', isValid: true, isOwner: true },
    { label: 'documents.genericId.name', value: '山田 太郎 🦄 \u0000 "quoted" \\ \u2028', isValid: true, isOwner: false },
  ];
  const emu = await start(t, { userData });
  const result = await civicClient(emu).exchangeCode(emu.mintAuthCode());
  assert.deepEqual(result.data, userData);
});

test('300 records', OPTS, async (t) => {
  const emu = await start(t);
  const userData = Array.from({ length: 300 }, (_, i) => ({
    label: `custom.field.${i}`, value: `value ${i} ${'x'.repeat(i % 50)}`, isValid: i % 2 === 0, isOwner: i % 3 === 0,
  }));
  const result = await civicClient(emu).exchangeCode(emu.mintAuthCode(userData));
  assert.equal(result.data.length, 300);
  assert.deepEqual(result.data, userData);
});

test('env, includeStageInURL and an api without a trailing slash', OPTS, async (t) => {
  const emu = await start(t);
  await civicClient(emu, { env: 'dev' }).exchangeCode(emu.mintAuthCode());
  await civicClient(emu, { includeStageInURL: false }).exchangeCode(emu.mintAuthCode());
  await civicClient(emu, { api: emu.url.slice(0, -1) }).exchangeCode(emu.mintAuthCode());
  assert.deepEqual(emu.requests.map((r) => r.url), [
    '/dev/scopeRequest/authCode',
    '//scopeRequest/authCode', // civic-sip-api's own double slash when includeStageInURL is false
    '/prod/scopeRequest/authCode',
  ]);
});

test('fixed app and Civic keys, AES-256 app secret', OPTS, async (t) => {
  const civicPrivateKey = crypto.randomBytes(32).toString('hex');
  const app = {
    appId: 'HyhaWO1SG',
    appSecret: crypto.randomBytes(32).toString('hex'), // 64 hex chars: AES-256
    prvKey: 'bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721',
  };
  const emu = await start(t, { app, civicPrivateKey });
  assert.equal(emu.app.appId, app.appId);
  assert.equal(emu.app.appSecret, app.appSecret);
  assert.equal(emu.app.prvKey, app.prvKey);
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(civicPrivateKey, 'hex'));
  assert.equal(emu.civicPublicKey, ecdh.getPublicKey('hex'));
  const result = await civicClient(emu).exchangeCode(emu.mintAuthCode());
  assert.deepEqual(result.data, [...DEFAULT_USER_DATA]);

  // The reply, checked independently of civic-sip-api.
  const reply = await send(signedRequest(emu));
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['content-type'], 'application/json');
  const body = JSON.parse(reply.body);
  assert.deepEqual(Object.keys(body), ['data', 'userId', 'encrypted', 'alg']);
  assert.equal(body.encrypted, true);
  assert.equal(body.alg, 'aes');
  assert.ok(verifiesWith(body.data, emu.civicPublicKey));
  const { header, claims } = decodeJwt(body.data);
  assert.deepEqual(header, { alg: 'ES256', typ: 'JWT' });
  assert.equal(claims.iss, 'civic-sip-hosted-service');
  assert.equal(claims.aud, 'https://api.civic.com/sip/');
  assert.equal(claims.sub, app.appId);
  assert.ok(Math.abs(claims.exp - claims.iat - 1800) < 1e-6);
  assert.match(claims.data, /^[0-9a-f]{32}[A-Za-z0-9+/]+={0,2}$/);
  assert.deepEqual(JSON.parse(decryptData(claims.data, app.appSecret)), [...DEFAULT_USER_DATA]);
});

test('error status faults reject with civic-sip-api\'s exact messages', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  const code = emu.mintAuthCode();
  const cases = {
    badRequest: '400 - "{\\"message\\":\\"Bad Request\\"}"',
    unauthorized: '401 - "{\\"message\\":\\"Unauthorized\\"}"',
    methodNotAllowed: '405 - "{\\"message\\":\\"Method Not Allowed\\"}"',
    rateLimited: '429 - "{\\"message\\":\\"Too Many Requests\\"}"',
    serverError: '500 - "{\\"message\\":\\"Internal server error\\"}"',
    gatewayTimeout: '504 - "{\\"message\\":\\"Endpoint request timed out\\"}"',
  };
  for (const [fault, message] of Object.entries(cases)) {
    emu.fault(fault);
    await rejectsWith(client.exchangeCode(code), PREFIX + message);
  }
  assert.equal(`${PREFIX}${cases.unauthorized}`, 'Error exchanging code for data: 401 - "{\\"message\\":\\"Unauthorized\\"}"');

  emu.fault('serverError', { status: 502, body: 'Bad Gateway' });
  await rejectsWith(client.exchangeCode(code), `${PREFIX}502 - "Bad Gateway"`);

  emu.fault(null);
  assert.ok((await client.exchangeCode(code)).data);

  // `times` limits a fault to the next n exchanges.
  emu.fault('rateLimited', { times: 2 });
  await rejectsWith(client.exchangeCode(code), /429/);
  await rejectsWith(client.exchangeCode(code), /429/);
  assert.ok((await client.exchangeCode(code)).data);

  assert.throws(() => emu.fault('noSuchFault'), TypeError);
});

test('unknown, expired or foreign auth codes are refused', OPTS, async (t) => {
  const emu = await start(t);
  const other = await start(t);
  const client = civicClient(emu);
  const invalid = `${PREFIX}400 - "{\\"message\\":\\"Invalid auth code\\"}"`;
  await rejectsWith(client.exchangeCode(other.mintAuthCode()), invalid); // signed by another "Civic"
  await rejectsWith(client.exchangeCode(emu.mintAuthCode(undefined, { expiresIn: -5 })), invalid);
  await rejectsWith(client.exchangeCode('not-a-jwt'), invalid);
  // An auth code for another app (same Civic key, other sub).
  const civicPrivateKey = crypto.randomBytes(32).toString('hex');
  const a = await start(t, { civicPrivateKey });
  const b = await start(t, { civicPrivateKey });
  assert.equal(a.civicPublicKey, b.civicPublicKey);
  await rejectsWith(civicClient(a).exchangeCode(b.mintAuthCode()), invalid);
});

test('wrong app credentials are unauthorised', OPTS, async (t) => {
  const emu = await start(t);
  const code = emu.mintAuthCode();
  const unauthorized = `${PREFIX}401 - "{\\"message\\":\\"Unauthorized\\"}"`;
  await rejectsWith(civicClient(emu, { prvKey: crypto.randomBytes(32).toString('hex') }).exchangeCode(code), unauthorized);
  await rejectsWith(civicClient(emu, { appSecret: crypto.randomBytes(16).toString('hex') }).exchangeCode(code), unauthorized);
  await rejectsWith(civicClient(emu, { appId: 'someoneElse' }).exchangeCode(code), unauthorized);
  // aud is the base URL the client was given: another base path means another audience.
  const res = await send(signedRequest(emu, { claims: { aud: 'https://api.civic.com/sip/' } }));
  assert.equal(res.status, 401);
});

test('a tampered Authorization header is refused with 401', OPTS, async (t) => {
  const emu = await start(t);
  const code = emu.mintAuthCode();
  await civicClient(emu).exchangeCode(code);
  const captured = emu.requests[0];
  const url = emu.url + captured.url.slice(1);
  const headers = {
    'Content-Type': 'application/json', Accept: '*/*', Authorization: captured.headers.authorization,
  };
  const replay = (h, body = captured.body) => request(url, { headers: { ...headers, ...h }, body });

  // Replaying the captured request as is works (the header is valid for 3 minutes)...
  let res = await replay({});
  assert.equal(res.status, 200);
  // ...and so does the same body with its keys sorted (same HMAC input).
  res = await replay({}, `{"allowS3UploadedPayload":true,"authToken":"${code}"}`);
  assert.equal(res.status, 200);

  const auth = captured.headers.authorization;
  const lastDot = auth.lastIndexOf('.');
  const ext = Buffer.from(auth.slice(lastDot + 1), 'base64');
  ext[0] ^= 1;
  res = await replay({ Authorization: `${auth.slice(0, lastDot + 1)}${ext.toString('base64')}` });
  assert.equal(res.status, 401);
  assert.equal(res.body, '{"message":"Unauthorized"}');
  assert.equal(res.headers['content-type'], 'application/json');

  // Flip a bit of the request JWT's signature.
  const parts = auth.slice('Civic '.length).split('.');
  const sig = Buffer.from(parts[2], 'base64url');
  sig[10] ^= 0x80;
  parts[2] = sig.toString('base64url');
  res = await replay({ Authorization: `Civic ${parts.join('.')}` });
  assert.equal(res.status, 401);
  assert.equal(res.body, '{"message":"Unauthorized"}');

  // Same header, different body.
  res = await replay({}, JSON.stringify({ authToken: emu.mintAuthCode(), allowS3UploadedPayload: true }));
  assert.equal(res.status, 401);
  // base64url instead of base64 for the extension, or a missing/other scheme.
  res = await replay({ Authorization: `Civic ${parts.slice(0, 2).join('.')}.${sig.toString('base64url')}.abc` });
  assert.equal(res.status, 401);
  res = await replay({ Authorization: auth.replace('Civic ', 'Bearer ') });
  assert.equal(res.status, 401);
  res = await request(url, { headers: { 'Content-Type': 'application/json' }, body: captured.body });
  assert.equal(res.status, 401);
});

test('the request JWT claims are checked', OPTS, async (t) => {
  const emu = await start(t);
  const now = Date.now() / 1000;
  // The independent client passes when nothing is wrong, with either body order.
  assert.equal((await send(signedRequest(emu))).status, 200);
  const code = emu.mintAuthCode();
  assert.equal((await send(signedRequest(emu, {
    body: JSON.stringify({ authToken: code, allowS3UploadedPayload: true }),
    hmacOver: JSON.stringify({ allowS3UploadedPayload: true, authToken: code }),
  }))).status, 200);
  // ...and via the stage-less path.
  assert.equal((await send(signedRequest(emu, { path: 'scopeRequest/authCode' }))).status, 200);

  const bad = {
    'wrong iss': { claims: { iss: 'x' } },
    'wrong sub': { claims: { sub: 'x' } },
    'wrong aud': { claims: { aud: `http://localhost:${emu.port}/sip/` } },
    'expired': { claims: { iat: now - 400, exp: now - 200 } },
    'no exp': { claims: { exp: undefined } },
    'wrong path': { claims: { data: { method: 'POST', path: 'scopeRequest/other' } } },
    'wrong method': { claims: { data: { method: 'GET', path: 'scopeRequest/authCode' } } },
    'HS256 header': { header: { alg: 'HS256', typ: 'JWT' } },
    'wrong key': { prvKey: crypto.randomBytes(32).toString('hex') },
    'hex-decoded secret as HMAC key': { secret: Buffer.from(emu.app.appSecret, 'hex').toString('latin1') },
    'HMAC over insertion order': {
      body: JSON.stringify({ authToken: code, allowS3UploadedPayload: true }),
    },
  };
  for (const [why, opts] of Object.entries(bad)) {
    const res = await send(signedRequest(emu, opts));
    assert.equal(res.status, 401, why);
    assert.equal(res.body, '{"message":"Unauthorized"}', why);
  }

  // Authorised but the body is wrong: 400.
  for (const body of ['{"allowS3UploadedPayload":true}', 'not json', '{"authToken":42}']) {
    const res = await send(signedRequest(emu, { body }));
    assert.equal(res.status, 400, body);
    assert.equal(res.body, '{"message":"Bad Request"}');
  }
  const res = await send(signedRequest(emu, { body: '{"authToken":"a.b.c"}' }));
  assert.equal(res.status, 400);
  assert.equal(res.body, '{"message":"Invalid auth code"}');
});

test('wrong method is 405 and unknown paths are 404', OPTS, async (t) => {
  const emu = await start(t);
  for (const method of ['GET', 'PUT', 'DELETE']) {
    for (const path of ['prod/scopeRequest/authCode', 'scopeRequest/authCode']) {
      const res = await request(emu.url + path, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.body, '{"message":"Method Not Allowed"}');
    }
  }
  for (const path of ['', 'prod/scopeRequest', 'a/b/scopeRequest/authCode', 'prod/scopeRequest/authCode/x']) {
    const res = await request(emu.url + path, { body: '{}' });
    assert.equal(res.status, 404, path);
    assert.equal(res.body, '{"message":"Not Found"}');
  }
  assert.deepEqual(emu.requests.slice(0, 2).map((r) => [r.method, r.url]), [
    ['GET', '/prod/scopeRequest/authCode'], ['GET', '/scopeRequest/authCode'],
  ]);
});

test('processed (S3) payloads', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  emu.fault('processed');
  const result = await client.exchangeCode(emu.mintAuthCode());
  assert.deepEqual(result.data, [...DEFAULT_USER_DATA]);
  assert.match(result.userId, /^[0-9a-f]{64}$/);
  assert.deepEqual(emu.requests.map((r) => r.method), ['POST', 'GET']);
  assert.match(emu.requests[1].url, /^\/payloads\/[0-9a-f]+\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$/);

  const reply = await send(signedRequest(emu));
  assert.equal(reply.status, 200);
  const body = JSON.parse(reply.body);
  assert.equal(body.processed, true);
  assert.equal(body.encrypted, true);
  assert.equal(body.alg, 'aes');
  assert.ok(body.data.startsWith(`${emu.url}payloads/`));
  const payload = await request(body.data, { method: 'GET' });
  assert.equal(payload.status, 200);
  assert.equal(payload.headers['content-type'], 'binary/octet-stream');
  assert.ok(verifiesWith(payload.body, emu.civicPublicKey));

  assert.equal((await request(`${emu.url}payloads/unknown`, { method: 'GET' })).status, 404);

  // Fetched as S3 pre-signs it, or refused as S3 refuses it: without the query, or altered.
  const refusals = [];
  emu.on('refusal', (r) => refusals.push(r));
  const url = new URL(body.data);
  const withoutQuery = `${url.origin}${url.pathname}`;
  const altered = body.data.replace(/X-Amz-Signature=([0-9a-f])/, (m, c) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`);
  assert.notEqual(altered, body.data);
  for (const [target, message] of [
    [withoutQuery, 'the pre-signed payload URL lost its query (X-Amz-Signature): fetch the URL exactly as the reply gave it'],
    [altered, 'the pre-signed payload URL\'s query was altered: fetch the URL exactly as the reply gave it, byte for byte'],
  ]) {
    const refused = await request(target, { method: 'GET' });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers['content-type'], 'application/xml');
    assert.match(refused.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.equal(refusals.at(-1).check, 'payload-signature');
    assert.equal(refusals.at(-1).message, message);
    assert.equal(refusals.at(-1).status, 403);
    // The report never holds the signature the emulator wanted.
    assert.ok(!JSON.stringify(refusals.at(-1)).includes(url.searchParams.get('X-Amz-Signature')));
  }
  assert.equal(refusals.length, 2);
  assert.equal((await request(body.data, { method: 'GET' })).status, 200, 'the URL as given still works');

  emu.fault('processed', { payloadStatus: 403 });
  await rejectsWith(client.exchangeCode(emu.mintAuthCode()), new RegExp(
    '^Error exchanging code for data: Could not return data from processed payload url: '
    + 'StatusCodeError: 403 - "<\\?xml .*<Code>AccessDenied</Code>.*</Error>"$',
  ));

});

test('processed flow wraps response verification failures', OPTS, async (t) => {
  const emu = await start(t);
  // Reply with a processed URL whose payload is signed by the wrong key: only
  // reachable by combining faults by hand, so drive it through a second emulator.
  const client = civicClient(emu);
  emu.fault('processed');
  const reply = JSON.parse((await send(signedRequest(emu))).body);
  assert.equal(reply.processed, true);
  const imposter = await start(t, { app: emu.app });
  const wrong = civicSipApi({ ...emu.clientConfig(), civicPublicKey: imposter.civicPublicKey });
  await rejectsWith(wrong.exchangeCode(emu.mintAuthCode()),
    `${PREFIX}Could not return data from processed payload url: Error: JWT Token containing encrypted data could not be verified`);
  assert.ok((await client.exchangeCode(emu.mintAuthCode())).data);
});

test('response JWTs that fail verification', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  const code = emu.mintAuthCode();
  for (const fault of ['tamperedResponse', 'wrongKey', 'expiredResponse']) {
    emu.fault(fault);
    await rejectsWith(client.exchangeCode(code), NOT_VERIFIED);
  }
  emu.fault('expiredResponse', { secondsAgo: 30 }); // inside civic-sip-api's 60 s grace
  assert.deepEqual((await client.exchangeCode(code)).data, [...DEFAULT_USER_DATA]);

  // What the faults did, checked independently.
  emu.fault('tamperedResponse');
  let jwt = JSON.parse((await send(signedRequest(emu))).body).data;
  assert.equal(verifiesWith(jwt, emu.civicPublicKey), false);
  assert.equal(JSON.parse(decryptData(decodeJwt(jwt).claims.data, emu.app.appSecret))[0].value, 'attacker@example.com');

  emu.fault('wrongKey');
  jwt = JSON.parse((await send(signedRequest(emu))).body).data;
  assert.equal(verifiesWith(jwt, emu.civicPublicKey), false);

  emu.fault('expiredResponse');
  jwt = JSON.parse((await send(signedRequest(emu))).body).data;
  assert.ok(verifiesWith(jwt, emu.civicPublicKey));
  const { claims } = decodeJwt(jwt);
  assert.ok(Math.abs(claims.exp - (Date.now() / 1000 - 120)) < 5);
  assert.ok(Math.abs(claims.exp - claims.iat - 1800) < 1e-6);
});

test('unencrypted replies', OPTS, async (t) => {
  const emu = await start(t);
  emu.fault('unencrypted');
  const result = await civicClient(emu).exchangeCode(emu.mintAuthCode());
  assert.deepEqual(result.data, [...DEFAULT_USER_DATA]);
  const body = JSON.parse((await send(signedRequest(emu))).body);
  assert.equal(body.encrypted, false);
  assert.equal(decodeJwt(body.data).claims.data, JSON.stringify(DEFAULT_USER_DATA));
});

test('notJson and noData replies', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  const code = emu.mintAuthCode();
  emu.fault('notJson');
  await rejectsWith(client.exchangeCode(code),
    `${PREFIX}Invalid response body or body data not found: "Service unavailable"`);
  const raw = await send(signedRequest(emu));
  assert.equal(raw.status, 200);
  assert.match(raw.headers['content-type'], /^text\/plain/);
  assert.equal(raw.body, 'Service unavailable');

  emu.fault('notJson', { body: '<html>oops</html>' });
  await rejectsWith(client.exchangeCode(code),
    `${PREFIX}Invalid response body or body data not found: "<html>oops</html>"`);

  emu.fault('noData');
  const { userId } = await civicClient(emu).exchangeCode(emu.mintAuthCode()).catch(() => ({}));
  assert.equal(userId, undefined);
  const body = JSON.parse((await send(signedRequest(emu))).body);
  assert.deepEqual(Object.keys(body), ['userId', 'encrypted', 'alg']);
  await rejectsWith(client.exchangeCode(code),
    `${PREFIX}Invalid response body or body data not found: ${JSON.stringify(body)}`);
});

test('badPadding and badIv: civic-sip-api silently resolves with data undefined', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  const code = emu.mintAuthCode();
  for (const fault of ['badPadding', 'badIv']) {
    emu.fault(fault);
    const result = await client.exchangeCode(code);
    assert.equal(result.data, undefined, fault);
    assert.match(result.userId, /^[0-9a-f]{64}$/);
  }

  emu.fault('badPadding');
  let jwt = JSON.parse((await send(signedRequest(emu))).body).data;
  assert.ok(verifiesWith(jwt, emu.civicPublicKey));
  let data = decodeJwt(jwt).claims.data;
  assert.match(data, /^[0-9a-f]{32}[A-Za-z0-9+/]+={0,2}$/);
  assert.throws(() => decryptData(data, emu.app.appSecret)); // not PKCS#7

  emu.fault('badIv');
  jwt = JSON.parse((await send(signedRequest(emu))).body).data;
  assert.ok(verifiesWith(jwt, emu.civicPublicKey));
  data = decodeJwt(jwt).claims.data;
  assert.match(data, /^zz[0-9a-f]{30}[A-Za-z0-9+/]+={0,2}$/);
});

test('delay, hang and connectionReset', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  const code = emu.mintAuthCode();

  emu.fault('delay', { ms: 300 });
  const t0 = Date.now();
  assert.ok((await client.exchangeCode(code)).data);
  assert.ok(Date.now() - t0 >= 290);

  emu.fault('connectionReset');
  await rejectsWith(client.exchangeCode(code), `${PREFIX}Error: read ECONNRESET`);

  emu.fault('hang');
  let settled = false;
  const pending = client.exchangeCode(code).finally(() => { settled = true; });
  await new Promise((r) => { setTimeout(r, 300); });
  assert.equal(settled, false);
  assert.equal(emu.requests.at(-1).method, 'POST');
  await emu.close();
  await rejectsWith(pending, `${PREFIX}Error: socket hang up`);
  await emu.close(); // idempotent
});

test('tls: the emulator serves HTTPS with the key and certificate given (bytes or text), for a client that trusts their issuer', OPTS, async (t) => {
  const { key, cert } = tlsFixture('server'); // issued by CA_PEM for 127.0.0.1
  const emu = await start(t, { tls: { key, cert } });
  assert.equal(emu.url, `https://127.0.0.1:${emu.port}/`);
  assert.equal(emu.mintUrl, `${emu.url}emulator/auth-code`);
  const client = require('..').newClient(emu.clientConfig({ ca: CA_PEM }));
  assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'over-tls' })),
    { data: DEFAULT_USER_DATA.map((r) => ({ ...r })), userId: 'over-tls' });
  assert.equal(emu.requests.at(-1).method, 'POST');
  // Plain HTTP to that port gets no exchange.
  const plain = await require('..').newClient(emu.clientConfig({ api: emu.url.replace('https:', 'http:') }))
    .exchangeCode(emu.mintAuthCode()).then(() => assert.fail('resolved over plain HTTP'), (e) => e);
  assert.equal(plain.message, `${PREFIX}Error: socket hang up`);
  assert.equal(plain.code, 'ERR_CIVIC_NETWORK');
  assert.equal(emu.requests.length, 1);
  // Its own pages are https: pages now; an http: page of the same host is another origin.
  const own = `https://127.0.0.1:${emu.port}`;
  const post = (pathname, body, origin) => httpRequest(`${emu.url}${pathname}`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Origin: origin }, body,
  });
  let res = await post('emulator/auth-code', '{}', own);
  assert.equal(res.status, 200, res.body);
  assert.deepEqual((await client.exchangeCode(JSON.parse(res.body).authCode)).data, DEFAULT_USER_DATA.map((r) => ({ ...r })));
  const consent = JSON.stringify({ appId: emu.app.appId, scope: 'BASIC_SIGNUP', parent: own });
  res = await post('consent/allow', consent, own);
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(Object.keys(JSON.parse(res.body)), ['authCode']);
  const other = own.replace('https:', 'http:');
  for (const [pathname, body] of [['emulator/auth-code', '{}'], ['consent/allow', consent]]) {
    res = await post(pathname, body, other);
    assert.equal(res.status, 403, res.body);
    assert.equal(JSON.parse(res.body).error.message, `Cross-origin request from ${other} refused`);
  }
});

test('close() ends a delayed exchange and refuses new connections', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicClient(emu);
  emu.fault('delay', { ms: 60000 });
  const pending = client.exchangeCode(emu.mintAuthCode());
  await new Promise((r) => { setTimeout(r, 200); });
  await emu.close();
  await rejectsWith(pending, `${PREFIX}Error: socket hang up`);
  await rejectsWith(civicClient(emu).exchangeCode(emu.mintAuthCode()), /^Error exchanging code for data: Error: connect ECONNREFUSED/);
});

// ------------------------------------------------- why a request was refused

/** Sends `req` and returns the answer with the refusal the emulator reported for it (or null). */
async function sendAndHear(emu, req) {
  const heard = [];
  const listener = (r) => heard.push(r);
  emu.on('refusal', listener);
  try {
    const res = await (req.url ? send(req) : req());
    assert.ok(heard.length <= 1, 'one refusal per request');
    return { res, refusal: heard[0] ?? null };
  } finally {
    emu.off('refusal', listener);
  }
}

test('each refusal names the check that failed and what it expected, never a secret', OPTS, async (t) => {
  const civicPrivateKey = crypto.randomBytes(32).toString('hex');
  const emu = await start(t, { civicPrivateKey });
  const foreign = await start(t, { civicPrivateKey });
  const stranger = await start(t);
  const now = Date.now() / 1000;
  const code = emu.mintAuthCode();
  const signed = (opts) => signedRequest(emu, opts);
  const authHeaderOnly = (authorization) => () => request(`${emu.url}prod/scopeRequest/authCode`, {
    headers: { 'Content-Type': 'application/json', ...(authorization ? { Authorization: authorization } : {}) },
    body: '{}',
  });
  const cases = [
    ['no Authorization header', authHeaderOnly(null), 401, 'authorization-header', /^no Authorization header/],
    ['another scheme', authHeaderOnly('Bearer abc'), 401, 'authorization-header', /is not "Civic <request token>\.<Civic extension>"$/],
    ['HS256 request token', signed({ header: { alg: 'HS256', typ: 'JWT' } }), 401, 'request-token', /^the request token is signed with alg "HS256", not ES256 /],
    ['request token under another key', signed({ prvKey: crypto.randomBytes(32).toString('hex') }), 401, 'request-token-signature',
      new RegExp(`^the request token has a signature that does not verify under the app's public key ${emu.app.appPublicKey} \\(is prvKey`)],
    ['unknown app', signed({ claims: { iss: 'someoneElse', sub: 'someoneElse' } }), 401, 'app-id',
      /^unknown app: the request token's iss is "someoneElse" and sub "someoneElse"; this emulator serves the app "/, { expected: emu.app.appId, received: 'someoneElse' }],
    ['wrong aud', signed({ claims: { aud: 'https://api.civic.com/sip/' } }), 401, 'aud',
      /^the request token's aud is "https:\/\/api\.civic\.com\/sip\/"; expected "http:\/\/127\.0\.0\.1:\d+\/" \(is the client's api the emulator's URL\?\)$/,
      { expected: [emu.url], received: 'https://api.civic.com/sip/' }],
    ['expired request token', signed({ claims: { iat: now - 400, exp: now - 200 } }), 401, 'exp', /^the request token expired 2\d\d\.\d s ago \(exp /],
    ['no exp', signed({ claims: { exp: undefined } }), 401, 'exp', /^the request token has no numeric exp \(got undefined\)/],
    ['wrong path', signed({ claims: { data: { method: 'POST', path: 'scopeRequest/other' } } }), 401, 'method-and-path',
      /^the request token's data names "POST" "scopeRequest\/other"; expected "POST" "scopeRequest\/authCode"$/],
    ['HMAC with another secret', signed({ secret: crypto.randomBytes(16).toString('hex') }), 401, 'civic-extension',
      /^the Civic extension is not the HMAC-SHA256 of the body keyed with the app's appSecret/],
    ['no authToken', signed({ body: '{"allowS3UploadedPayload":true}' }), 400, 'body', /^the body is not a JSON object with an authToken string$/],
    ['malformed auth code', signed({ body: '{"authToken":"a.b.c"}' }), 400, 'auth-code', /^the auth code has a header or claims part that is not JSON$/],
    ['auth code from another Civic key', signed({ body: JSON.stringify({ authToken: stranger.mintAuthCode() }) }), 400, 'auth-code-signature',
      /^the auth code has a signature that does not verify under this emulator's Civic key \(was it minted by another emulator, or by Civic\?\)$/],
    ['expired auth code', signed({ body: JSON.stringify({ authToken: emu.mintAuthCode(undefined, { expiresIn: -5 }) }) }), 400, 'auth-code-expired',
      /^the auth code expired [5-9]\.\d s ago \(exp /],
    ['auth code for another app', signed({ body: JSON.stringify({ authToken: foreign.mintAuthCode() }) }), 400, 'auth-code-app',
      /^the auth code was minted for the app "[^"]+", not "/, { expected: emu.app.appId, received: foreign.app.appId }],
    ['auth code from an earlier run', async () => {
      // Same keys, another process lifetime: the signature holds, the code was never minted here.
      const again = await start(t, { civicPrivateKey, app: { ...emu.app } });
      const req = signedRequest(again, { body: JSON.stringify({ authToken: code }) });
      const heard = [];
      again.on('refusal', (r) => heard.push(r));
      const res = await send(req);
      return Object.assign(res, { heard });
    }, 400, 'auth-code-unknown', /^the auth code is signed by this emulator's Civic key but was not minted by this run of it/],
    ['GET', () => request(`${emu.url}prod/scopeRequest/authCode`, { method: 'GET' }), 405, 'method', /^the exchange is a POST, not GET$/],
    ['unknown path', () => request(`${emu.url}sip/prod/scopeRequest/authCode`, { body: '{}' }), 404, 'path',
      new RegExp(`^no such path: the exchange is POST <api>scopeRequest/authCode \\(is the client's api ${emu.url}\\?\\)$`)],
  ];
  const civicBodies = { 401: '{"message":"Unauthorized"}', 400: null, 404: '{"message":"Not Found"}', 405: '{"message":"Method Not Allowed"}' };
  const secrets = [emu.app.appSecret, emu.app.prvKey, civicPrivateKey];
  for (const [why, req, status, check, message, data] of cases) {
    let { res, refusal } = await sendAndHear(emu, req);
    if (res.heard) refusal = res.heard[0];
    assert.equal(res.status, status, why);
    // What goes over the wire stays Civic's: the body says nothing of the reason.
    if (civicBodies[status]) assert.equal(res.body, civicBodies[status], why);
    else assert.match(res.body, /^\{"message":"(Bad Request|Invalid auth code)"\}$/, why);
    assert.ok(refusal, `${why}: reported`);
    assert.equal(refusal.status, status, why);
    assert.equal(refusal.check, check, why);
    assert.match(refusal.message, message, why);
    assert.equal(refusal.method, why === 'GET' ? 'GET' : 'POST', why);
    assert.match(refusal.path, /scopeRequest\/authCode$/, why);
    for (const [k, v] of Object.entries(data ?? {})) assert.deepEqual(refusal[k], v, `${why}: ${k}`);
    const text = JSON.stringify(refusal);
    for (const secret of secrets) assert.ok(!text.includes(secret), `${why}: no secret`);
  }
  // The request log carries the refusal too; an accepted request has none.
  const last = emu.requests.at(-1);
  assert.equal(last.refusal.check, 'path');
  assert.equal((await send(signedRequest(emu))).status, 200);
  assert.equal(emu.requests.at(-1).refusal, undefined);
});

test('POST /emulator/auth-code mints an auth code without a browser', OPTS, async (t) => {
  const emu = await start(t);
  const client = require('..').newClient(emu.clientConfig());
  const mint = (body, headers = {}) => request(emu.mintUrl, {
    headers: { 'Content-Type': 'application/json', ...headers }, body,
  });
  assert.equal(emu.mintUrl, `${emu.url}emulator/auth-code`);

  // No body: the emulated user's BASIC_SIGNUP records, as the consent screen would share them.
  let res = await mint();
  assert.equal(res.status, 200);
  assert.deepEqual(Object.keys(JSON.parse(res.body)), ['authCode']);
  let result = await client.exchangeCode(JSON.parse(res.body).authCode);
  assert.deepEqual(result.data, emu.userDataFor('BASIC_SIGNUP'));

  res = await mint(JSON.stringify({ scope: 'PROOF_OF_EMAIL' }));
  result = await client.exchangeCode(JSON.parse(res.body).authCode);
  assert.deepEqual(result.data, emu.userDataFor('PROOF_OF_EMAIL'));

  const records = [{ label: 'contact.personal.email', value: 'script@example.com', isValid: true, isOwner: true }];
  res = await mint(JSON.stringify({ userData: records }));
  result = await client.exchangeCode(JSON.parse(res.body).authCode);
  assert.deepEqual(result.data, records);

  res = await mint(JSON.stringify({ expiresIn: -5 }));
  await assert.rejects(client.exchangeCode(JSON.parse(res.body).authCode), {
    message: 'Error exchanging code for data: 400 - "{\\"message\\":\\"Invalid auth code\\"}"', code: 'ERR_CIVIC_HTTP_STATUS',
  });

  const refused = [
    [() => request(emu.mintUrl, { method: 'GET' }), 405, 'POST /emulator/auth-code mints an auth code'],
    [() => mint('not json'), 400, 'Expected no body or a JSON object { scope, userData, expiresIn }'],
    [() => mint('{"scopes":"BASIC_SIGNUP"}'), 400, "Unknown field 'scopes' (expected scope, userData, expiresIn)"],
    [() => mint('{"scope":"NOPE"}'), 400, /^Unknown scope request 'NOPE': expected one of BASIC_SIGNUP, /],
    [() => mint('{"expiresIn":"soon"}'), 400, 'expiresIn must be a number of seconds'],
    [() => mint('{"scope":"BASIC_SIGNUP","userData":[]}'), 400, 'Give scope or userData, not both'],
    // A page on another origin cannot mint codes (a browser always sends Origin cross-origin).
    [() => mint('{}', { Origin: 'http://evil.example' }), 403, 'Cross-origin request from http://evil.example refused'],
  ];
  for (const [call, status, message] of refused) {
    res = await call();
    assert.equal(res.status, status, res.body);
    const said = JSON.parse(res.body).error.message;
    if (message instanceof RegExp) assert.match(said, message);
    else assert.equal(said, message);
  }
});
