'use strict';

/**
 * Civic's side of the protocol for the tests: keys, tokens and replies as Civic makes them (the
 * cryptography is emulator/civic-crypto.js, written from docs/protocol.md, independently
 * of the package), plus a "fake Civic" server that answers exchanges with replies the tests build
 * (no request checking: that is the emulator's job).
 *
 *   const civic = require('./helpers/civic');
 *
 * Keys and tokens (the first eight are emulator/civic-crypto.js's, under the names tests use)
 *   newKeyPair() -> { privateHex (64 hex), publicHex (uncompressed SEC1, 130 hex),
 *                     compressedHex (66 hex), privateKey, publicKey (KeyObjects) }
 *   privateKeyFromHex(hex), publicKeyFromHex(hex) -> KeyObjects
 *   signJwt(claims, privateKey, header = { alg: 'ES256', typ: 'JWT' }) -> compact ES256 JWT
 *   decodeJwt(token) -> { header, claims, signingInput, signature (Buffer) }
 *   verifyJwt(token, publicHex) -> boolean (ES256 signature only)
 *   encryptData(clearText, secretHex) -> '<32 hex IV><base64 AES-CBC/PKCS#7 ciphertext>'
 *   decryptData(data, secretHex) -> clear text (throws on bad padding)
 *   hmacBase64(text, appSecret) -> the Civic extension: base64 HMAC-SHA256 keyed with the
 *     secret's UTF-8 bytes (civicExtension)
 *   stableStringify(value) -> JSON with sorted keys (json-stable-stringify)
 *   newApp({ appId } = {}) -> { appId, appSecret (32 hex), prvKey (64 hex), appPublicKey }
 *   responseToken({ appId, appSecret, civicKey, userData = DEFAULT_USER_DATA, clearText,
 *                   encrypted = true, expiresIn = 1800 (s; negative = expired), claims = {},
 *                   omit = [], header })
 *     -> the response JWT as Civic signs it (civicKey: a newKeyPair()); `claims` are added or
 *     replace Civic's, the claims named in `omit` are left out, `header` replaces ES256's.
 *   replyBody({ data, userId = 'fake-user-id', encrypted = true, processed }) -> JSON text of
 *     a 200 exchange reply (`processed: true` makes `data` a payload URL).
 *
 * Talking to a server without the package
 *   civicSipApi(config) -> a civic-sip-api client (the reference) with module state of its own
 *     (its `api` is module-level), verifying response tokens with config.civicPublicKey; the
 *     options civic-sip-api does not have (civicPublicKey, timeout) are left out.
 *   signedExchange(emu, authCode, { app = emu.app, api = emu.url, path = 'prod/scopeRequest/authCode' })
 *     -> Promise<{ status, headers, body }>: the exchange POST built from docs/protocol.md and sent
 *     with http.request. Use it to get a real reply body for `processPayload`.
 *
 * Fake Civic server
 *   startFakeCivic({ tls = false, userData, userId = 'fake-user-id' } = {}) -> Promise<FakeCivic>
 *     .url ('http(s)://127.0.0.1:<port>/'), .port, .requests (see helpers/servers.js)
 *     .app (newApp()), .civicKey (newKeyPair()), .userData, .userId
 *     .clientConfig(overrides) -> { appId, appSecret, prvKey, api: url, civicPublicKey, ...overrides }
 *     .token(options) -> responseToken() with this server's app and key (options override)
 *     .onExchange = (req, res, body) => void   handles every POST to a path ending in
 *         'scopeRequest/authCode'; default answers 200 replyBody({ data: token() }).
 *     .route(path, answer) -> absolute URL of `path` (e.g. '/payload/1'); answer for any method is
 *         { status = 200, body = '', headers = { 'Content-Type': 'binary/octet-stream' } },
 *         { hang: true } (never answered) or a function (req, res, body) => void.
 *     .processed(answer, { encrypted = true } = {}) -> sets onExchange to answer a processed reply
 *         whose URL serves `answer` (as for route()); returns that URL.
 *     .send(res, status, body, headers) helper; .close() as in servers.js.
 *     Anything else gets 404.
 */

const crypto = require('node:crypto');
const http = require('node:http');
const rewire = require('rewire');
const { startServer } = require('./servers');
const { DEFAULT_USER_DATA } = require('../../emulator');
const civicCrypto = require('../../emulator/civic-crypto');

const {
  keyPair, publicKeyFromHex, privateKeyFromHex, signJwt, decodeJwt, verifyJwt, encryptData, decryptData,
  civicExtension: hmacBase64, stableStringify,
} = civicCrypto;

const newKeyPair = () => keyPair();

function newApp({ appId = `app${crypto.randomBytes(4).toString('hex')}` } = {}) {
  const key = newKeyPair();
  return {
    appId,
    appSecret: crypto.randomBytes(16).toString('hex'),
    prvKey: key.privateHex,
    appPublicKey: key.publicHex,
  };
}

function responseToken({
  appId, appSecret, civicKey, userData = DEFAULT_USER_DATA, clearText, encrypted = true, expiresIn = 1800, claims = {},
  omit = [], header,
}) {
  const now = Date.now() / 1000;
  const clear = clearText !== undefined ? clearText : JSON.stringify(userData);
  const all = {
    jti: crypto.randomUUID(),
    iat: now,
    exp: now + expiresIn,
    iss: civicCrypto.CIVIC_ISSUER,
    aud: civicCrypto.CIVIC_AUDIENCE,
    sub: appId,
    data: encrypted ? encryptData(clear, appSecret) : clear,
    ...claims,
  };
  for (const name of omit) delete all[name];
  return signJwt(all, civicKey.privateKey, header);
}

function replyBody({ data, userId = 'fake-user-id', encrypted = true, processed }) {
  const body = { data, userId, encrypted, alg: 'aes' };
  if (processed !== undefined) body.processed = processed;
  return JSON.stringify(body);
}

function civicSipApi(config) {
  const reference = rewire('civic-sip-api');
  reference.__get__('hostedServices').SIPHostedService.hexpub = config.civicPublicKey;
  const { civicPublicKey, timeout, ...options } = config; // eslint-disable-line no-unused-vars
  return reference.newClient(options);
}

function signedExchange(emu, authCode, { app = emu.app, api = emu.url, path = 'prod/scopeRequest/authCode' } = {}) {
  const token = civicCrypto.requestToken({ appId: app.appId, prvKey: app.prvKey, aud: api });
  const body = stableStringify({ authToken: authCode, allowS3UploadedPayload: true });
  const headers = {
    'Content-Type': 'application/json',
    Accept: '*/*',
    'Content-Length': Buffer.byteLength(body),
    Authorization: `Civic ${token}.${hmacBase64(body, app.appSecret)}`,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(`${api}${path}`, { method: 'POST', headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'),
      }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function send(res, status, body = '', headers = {}) {
  if (res.writableEnded || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function startFakeCivic({ tls = false, userData = DEFAULT_USER_DATA, userId = 'fake-user-id' } = {}) {
  const routes = new Map();
  let fake;
  const server = await startServer((req, res, body) => {
    const path = req.url.split('?')[0];
    if (req.method === 'POST' && path.endsWith('scopeRequest/authCode')) {
      fake.onExchange(req, res, body);
      return;
    }
    const answer = routes.get(path);
    if (answer === undefined) {
      send(res, 404, '{"message":"Not Found"}', { 'Content-Type': 'application/json' });
    } else if (typeof answer === 'function') {
      answer(req, res, body);
    } else if (!answer.hang) {
      send(res, answer.status ?? 200, answer.body ?? '', answer.headers ?? { 'Content-Type': 'binary/octet-stream' });
    }
  }, { tls });
  const app = newApp();
  const civicKey = newKeyPair();
  let counter = 0;
  fake = {
    ...server,
    close: server.close,
    app,
    civicKey,
    userData,
    userId,
    send,
    clientConfig(overrides = {}) {
      return {
        appId: app.appId, appSecret: app.appSecret, prvKey: app.prvKey, api: server.url, civicPublicKey: civicKey.publicHex, ...overrides,
      };
    },
    token(options = {}) {
      return responseToken({
        appId: app.appId, appSecret: app.appSecret, civicKey, userData: fake.userData, ...options,
      });
    },
    onExchange(req, res) {
      send(res, 200, replyBody({ data: fake.token(), userId: fake.userId }), { 'Content-Type': 'application/json' });
    },
    route(path, answer) {
      routes.set(path, answer);
      return `${server.url}${path.replace(/^\//, '')}`;
    },
    processed(answer, { encrypted = true } = {}) {
      counter += 1;
      const url = fake.route(`/payload/${counter}`, answer);
      fake.onExchange = (req, res) => {
        send(res, 200, replyBody({ data: url, userId: fake.userId, encrypted, processed: true }), { 'Content-Type': 'application/json' });
      };
      return url;
    },
  };
  return fake;
}

/** The emulator's status faults as Civic answers them: [fault, status, body text]. */
const STATUS_FAULTS = [
  ['badRequest', 400, '{"message":"Bad Request"}'],
  ['unauthorized', 401, '{"message":"Unauthorized"}'],
  ['methodNotAllowed', 405, '{"message":"Method Not Allowed"}'],
  ['rateLimited', 429, '{"message":"Too Many Requests"}'],
  ['serverError', 500, '{"message":"Internal server error"}'],
  ['gatewayTimeout', 504, '{"message":"Endpoint request timed out"}'],
];

module.exports = {
  STATUS_FAULTS,
  newKeyPair,
  privateKeyFromHex,
  publicKeyFromHex,
  newApp,
  signJwt,
  decodeJwt,
  verifyJwt,
  encryptData,
  decryptData,
  hmacBase64,
  stableStringify,
  responseToken,
  replyBody,
  civicSipApi,
  signedExchange,
  startFakeCivic,
  DEFAULT_USER_DATA,
};
