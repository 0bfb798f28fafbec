'use strict';

/**
 * A local stand-in for Civic's hosted SIP service (the server side of the
 * auth-code exchange), written from the wire protocol in PROTOCOL.md.
 *
 * Node built-ins only. Used by the test suites to drive both the reference
 * client (civic-sip-api) and civic-sip-native against the same server, and to
 * inject faults (error statuses, bad signatures, broken ciphertext, network
 * failures) that Civic's production service cannot be asked to produce.
 */

const http = require('node:http');
const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');
const {
  buildProfile, browserRoutes, DEFAULT_USER_RECORDS, DEFAULT_SCOPES,
} = require('./browser');
const {
  CIVIC_ISSUER: CIVIC_ISS, CIVIC_AUDIENCE: CIVIC_AUD, EXCHANGE_PATH,
  isHex, stableStringify, keyPair, publicKeyFromHex, signJwt, encryptData, civicExtension,
} = require('./civic-crypto');

const TOKEN_LIFETIME_MS = 30 * 60 * 1000;
/** Where a script (any language) mints an auth code without a browser. */
const MINT_PATH = '/emulator/auth-code';
const MAX_BODY_BYTES = 1024 * 1024;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const DEFAULT_USER_DATA = Object.freeze([
  Object.freeze({ label: 'contact.personal.email', value: 'user@example.com', isValid: true, isOwner: true }),
  Object.freeze({ label: 'contact.personal.phoneNumber', value: '+1 555 0100', isValid: true, isOwner: true }),
]);

// What an attacker would like a client to accept (used by the tamperedResponse fault).
const ATTACKER_USER_DATA = [
  { label: 'contact.personal.email', value: 'attacker@example.com', isValid: true, isOwner: true },
];

// Status-only faults: name -> [status, default body].
const STATUS_FAULTS = {
  badRequest: [400, { message: 'Bad Request' }],
  unauthorized: [401, { message: 'Unauthorized' }],
  methodNotAllowed: [405, { message: 'Method Not Allowed' }],
  rateLimited: [429, { message: 'Too Many Requests' }],
  serverError: [500, { message: 'Internal server error' }],
  gatewayTimeout: [504, { message: 'Endpoint request timed out' }],
};

// Faults that shape an otherwise successful (verified) exchange.
const RESPONSE_FAULTS = new Set([
  'processed', 'tamperedResponse', 'wrongKey', 'expiredResponse', 'notJson', 'noData',
  'unencrypted', 'badPadding', 'badIv',
]);

// Faults applied before the request is even looked at.
const TRANSPORT_FAULTS = new Set(['delay', 'hang', 'connectionReset']);

const FAULTS = Object.freeze([
  ...Object.keys(STATUS_FAULTS), ...RESPONSE_FAULTS, ...TRANSPORT_FAULTS,
]);

const MESSAGES = {
  unauthorized: { message: 'Unauthorized' },
  badRequest: { message: 'Bad Request' },
  invalidCode: { message: 'Invalid auth code' },
  notFound: { message: 'Not Found' },
  methodNotAllowed: { message: 'Method Not Allowed' },
  tooLarge: { message: 'Request Entity Too Large' },
  serverError: { message: 'Internal server error' },
};

// ---------------------------------------------------------------- encoding

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const B64U_RE = /^[A-Za-z0-9_-]+$/;

function randomBase62(n) {
  const bytes = crypto.randomBytes(n * 2);
  let out = '';
  for (let i = 0; out.length < n && i < bytes.length; i += 1) {
    // 248 = 62 * 4: reject the tail so every character is equally likely.
    if (bytes[i] < 248) out += BASE62[bytes[i] % 62];
  }
  return out.length === n ? out : randomBase62(n);
}

/** Seconds since the epoch, with milliseconds, as Civic writes iat/exp. */
const secondsFromMs = (ms) => Math.round(ms) / 1000;

// -------------------------------------------------------------- P-256 keys

/** Fresh credentials for an app and for the emulator's Civic key (what the CLI's --credentials keeps). */
function newCredentials() {
  return {
    appId: randomBase62(9),
    appSecret: crypto.randomBytes(16).toString('hex'),
    prvKey: keyPair().privateHex,
    civicPrivateKey: keyPair().privateHex,
  };
}

// -------------------------------------------------------------------- JWT

/**
 * Parses and checks an ES256 JWT's signature with `publicKey` (named `keyName` in words).
 * Returns `{ claims }`, or `{ problem, badSignature }`: in a few words why the token is not
 * one that key signed, and whether it was well formed but signed by another key.
 */
function checkJwt(token, publicKey, keyName) {
  if (typeof token !== 'string') return { problem: 'is not a string' };
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64U_RE.test(p))) {
    return { problem: 'is not a compact JWT (three base64url parts joined by dots)' };
  }
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { problem: 'has a header or claims part that is not JSON' };
  }
  if (!header || typeof header !== 'object' || header.alg !== 'ES256') {
    return { problem: `is signed with alg ${JSON.stringify(header && header.alg)}, not ES256` };
  }
  if (header.typ !== undefined && header.typ !== 'JWT') return { problem: `has typ ${JSON.stringify(header.typ)}, not JWT` };
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return { problem: 'has claims that are not a JSON object' };
  const sig = Buffer.from(parts[2], 'base64url');
  if (sig.length !== 64) return { problem: `has a ${sig.length}-byte signature, not ES256's 64 (r || s)` };
  let ok = false;
  try {
    ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    ok = false;
  }
  return ok ? { claims } : { problem: `has a signature that does not verify under ${keyName}`, badSignature: true };
}

/** How long ago `exp` (seconds since the epoch) passed, for a refusal's words. */
function expiredWords(exp) {
  if (typeof exp !== 'number') return `has no numeric exp (got ${JSON.stringify(exp)})`;
  const ago = (Date.now() - exp * 1000) / 1000;
  return `expired ${ago.toFixed(1)} s ago (exp ${exp})`;
}

// ------------------------------------------------------------------- HTTP

function s3Error(code, message) {
  const id = crypto.randomBytes(8).toString('hex').toUpperCase();
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + `<Error><Code>${code}</Code><Message>${message}</Message>`
    + `<RequestId>${id}</RequestId><HostId>${crypto.randomBytes(24).toString('base64')}</HostId></Error>`;
}

function matchExchangePath(pathname) {
  // '/scopeRequest/authCode', '/<env>/scopeRequest/authCode', and the empty
  // stage '//scopeRequest/authCode' that civic-sip-api sends when
  // includeStageInURL is false (it joins '<base>/' + '/scopeRequest/authCode').
  const m = /^\/(?:([^/]*)\/)?scopeRequest\/authCode$/.exec(pathname);
  if (!m) return null;
  return { env: m[1] || null };
}

/**
 * Starts an emulator. See README-style comment at the top and index.d.ts.
 * @returns {Promise<object>}
 */
async function startEmulator(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;

  // ---- the app (partner) registered with this "Civic"
  const appIn = options.app ?? {};
  const appId = appIn.appId ?? randomBase62(9);
  const appSecret = appIn.appSecret ?? crypto.randomBytes(16).toString('hex');
  if (typeof appId !== 'string' || appId.length === 0) throw new TypeError('app.appId must be a non-empty string');
  if (!isHex(appSecret, 32, 48, 64)) throw new TypeError('app.appSecret must be 32, 48 or 64 hex characters');
  let appKey;
  if (appIn.prvKey !== undefined) {
    appKey = keyPair(appIn.prvKey);
    if (appIn.appPublicKey !== undefined && appIn.appPublicKey.toLowerCase() !== appKey.publicHex) {
      throw new TypeError('app.appPublicKey does not match app.prvKey');
    }
  } else if (appIn.appPublicKey !== undefined) {
    appKey = { privateHex: undefined, publicHex: appIn.appPublicKey.toLowerCase(), publicKey: publicKeyFromHex(appIn.appPublicKey) };
  } else {
    appKey = keyPair();
  }
  const app = Object.freeze({
    appId,
    appSecret,
    prvKey: appIn.prvKey ?? appKey.privateHex,
    appPublicKey: appKey.publicHex,
    name: appIn.name ?? 'Demo app',
  });
  // The emulated user of the browser flow, and the pages allowed to open it (Civic's whitelist).
  const profile = buildProfile(options.user);
  if (options.origins !== undefined && !(Array.isArray(options.origins) && options.origins.every((o) => typeof o === 'string'))) {
    throw new TypeError('origins must be a list of origins such as http://localhost:3000');
  }

  // ---- "Civic's" signing key
  const civicKey = keyPair(options.civicPrivateKey);
  const defaultUserData = options.userData ?? DEFAULT_USER_DATA;

  // ---- state
  const codes = new Map(); // codeToken -> { userData, userId }
  const payloads = new Map(); // id -> { jwt, payloadStatus }
  const requests = [];
  // The recorded request of each live one, so a refusal can be noted on it.
  const entries = new WeakMap();
  const events = new EventEmitter();
  // Off for long runs (benchmarks), where the log would only grow.
  const recordRequests = options.recordRequests ?? true;
  const sockets = new Set();
  const timers = new Set();
  let fault = null; // { name, options, remaining }
  let closed = false;
  let closePromise = null;
  let wrongKey = null;

  const server = http.createServer();
  // Node's default (5 s) drops idle keep-alive connections; a client whose event loop is stalled
  // for longer then writes into a closed socket. Long runs (benchmarks) raise it.
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (closed) socket.destroy();
  });

  function send(res, status, body, contentType = 'application/json') {
    if (res.writableEnded || res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(text),
      'x-amzn-RequestId': crypto.randomUUID(),
    });
    res.end(text);
  }

  /** Answers with Civic's own body (Civic never says why) and reports why to the listeners. */
  function refuse(req, res, why, body) {
    send(res, why.status, body);
    const report = { ...why, method: req.method, path: req.url };
    const entry = entries.get(req);
    if (entry) entry.refusal = report;
    events.emit('refusal', report);
  }

  function sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => { timers.delete(t); resolve(); }, ms);
      timers.add(t);
    });
  }

  function takeFault() {
    if (!fault) return null;
    const current = fault;
    if (current.remaining !== Infinity) {
      current.remaining -= 1;
      if (current.remaining <= 0) fault = null;
    }
    return current;
  }

  function userIdFor(userData) {
    return crypto.createHash('sha256').update(`${appId}\n${stableStringify(userData)}`).digest('hex');
  }

  // One userId per app for the emulated user, whatever the scope, as Civic keeps it.
  const profileUserId = profile.userId ?? userIdFor([...profile.records.values()]);
  const handleBrowser = browserRoutes({
    app,
    profile,
    origins: options.origins ?? null,
    userId: profileUserId,
    mint: (records, mintOptions) => emu.mintAuthCode(records, mintOptions),
  });

  // ---- the checks Civic makes of an exchange request, in its order. Each returns null when it
  // passes, or a refusal: the status the emulator answers, which check failed, and in words what
  // it expected and what it got (never a secret: not the appSecret, the private key or an HMAC).
  const refusal = (status, check, message, details = {}) => ({ status, check, message, ...details });

  /** Steps 1-3: the Authorization header (request token and Civic extension). */
  function checkAuthorization(req, bodyText, parsedBody, bodyParsed) {
    const header = req.headers.authorization;
    if (typeof header !== 'string') {
      return refusal(401, 'authorization-header', 'no Authorization header (expected "Civic <request token>.<Civic extension>")');
    }
    const m = /^Civic ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\.([A-Za-z0-9+/=]+)$/.exec(header);
    if (!m) {
      return refusal(401, 'authorization-header', 'the Authorization header is not "Civic <request token>.<Civic extension>"');
    }
    const [, requestJwt, extension] = m;

    const checked = checkJwt(requestJwt, appKey.publicKey, `the app's public key ${appKey.publicHex}`);
    if (checked.problem) {
      return refusal(401, checked.badSignature ? 'request-token-signature' : 'request-token',
        `the request token ${checked.problem} (is prvKey the app's private key?)`);
    }
    const { claims } = checked;
    if (claims.iss !== appId || claims.sub !== appId) {
      return refusal(401, 'app-id',
        `unknown app: the request token's iss is ${JSON.stringify(claims.iss)} and sub ${JSON.stringify(claims.sub)}; this emulator serves the app ${JSON.stringify(appId)} (is appId the emulator's?)`,
        { expected: appId, received: claims.iss === appId ? claims.sub : claims.iss });
    }
    const auds = [url, `http://${req.headers.host}/`].filter((a, i, all) => all.indexOf(a) === i);
    if (typeof claims.aud !== 'string' || !auds.includes(claims.aud)) {
      return refusal(401, 'aud',
        `the request token's aud is ${JSON.stringify(claims.aud)}; expected ${auds.map((a) => JSON.stringify(a)).join(' or ')} (is the client's api the emulator's URL?)`,
        { expected: auds, received: claims.aud });
    }
    if (typeof claims.exp !== 'number' || !(claims.exp * 1000 > Date.now())) {
      return refusal(401, 'exp', `the request token ${expiredWords(claims.exp)} (is this machine's clock right?)`,
        { expected: `exp after ${secondsFromMs(Date.now())}`, received: claims.exp });
    }
    const data = claims.data;
    if (!data || typeof data !== 'object' || data.method !== 'POST' || data.path !== EXCHANGE_PATH) {
      const said = data && typeof data === 'object' ? `${JSON.stringify(data.method)} ${JSON.stringify(data.path)}` : JSON.stringify(data);
      return refusal(401, 'method-and-path',
        `the request token's data names ${said}; expected "POST" "${EXCHANGE_PATH}"`,
        { expected: { method: 'POST', path: EXCHANGE_PATH }, received: data });
    }

    // HMAC over the key-sorted serialisation of the parsed body (the raw text if it is not JSON).
    const signed = bodyParsed ? stableStringify(parsedBody) : bodyText;
    const expected = Buffer.from(civicExtension(signed, appSecret));
    const given = Buffer.from(extension);
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      return refusal(401, 'civic-extension',
        "the Civic extension is not the HMAC-SHA256 of the body keyed with the app's appSecret (is appSecret the emulator's, and the body sent as signed?)");
    }
    return null;
  }

  /** Step 4: the auth code. Returns `{ record }` or `{ refusal }`. */
  function redeem(authToken) {
    const checked = checkJwt(authToken, civicKey.publicKey, "this emulator's Civic key (was it minted by another emulator, or by Civic?)");
    if (checked.problem) {
      return { refusal: refusal(400, checked.badSignature ? 'auth-code-signature' : 'auth-code', `the auth code ${checked.problem}`) };
    }
    const { claims } = checked;
    if (typeof claims.exp !== 'number' || !(claims.exp * 1000 > Date.now())) {
      return { refusal: refusal(400, 'auth-code-expired', `the auth code ${expiredWords(claims.exp)}`, { received: claims.exp }) };
    }
    if (claims.sub !== appId || claims.iss !== CIVIC_ISS) {
      return {
        refusal: refusal(400, 'auth-code-app',
          `the auth code was minted for the app ${JSON.stringify(claims.sub)}, not ${JSON.stringify(appId)}`,
          { expected: appId, received: claims.sub }),
      };
    }
    const codeToken = claims.data && claims.data.codeToken;
    const record = typeof codeToken === 'string' ? codes.get(codeToken) : undefined;
    if (!record) {
      return {
        refusal: refusal(400, 'auth-code-unknown',
          'the auth code is signed by this emulator\'s Civic key but was not minted by this run of it (codes live in memory until the emulator stops)'),
      };
    }
    return { record };
  }

  function responseJwt(record, name, opts) {
    const nowMs = Date.now();
    let iatMs = nowMs;
    let expMs = nowMs + TOKEN_LIFETIME_MS;
    if (name === 'expiredResponse') {
      const secondsAgo = opts.secondsAgo ?? 120;
      expMs = nowMs - secondsAgo * 1000;
      iatMs = expMs - TOKEN_LIFETIME_MS;
    }
    const clearText = JSON.stringify(record.userData);
    let data;
    if (name === 'unencrypted') data = clearText;
    else if (name === 'badPadding' || name === 'badIv') data = encryptData(clearText, appSecret, name);
    else data = encryptData(clearText, appSecret);

    const claims = {
      jti: crypto.randomUUID(),
      iat: secondsFromMs(iatMs),
      exp: secondsFromMs(expMs),
      iss: CIVIC_ISS,
      aud: CIVIC_AUD,
      sub: appId,
      data,
    };
    let signer = civicKey.privateKey;
    if (name === 'wrongKey') {
      wrongKey = wrongKey ?? keyPair();
      signer = wrongKey.privateKey;
    }
    const jwt = signJwt(claims, signer);
    if (name !== 'tamperedResponse') return jwt;
    // Swap in other (validly encrypted) user data but keep Civic's signature.
    const [h, , s] = jwt.split('.');
    const forged = { ...claims, data: encryptData(JSON.stringify(opts.userData ?? ATTACKER_USER_DATA), appSecret) };
    return `${h}.${b64u(JSON.stringify(forged))}.${s}`;
  }

  async function handleExchange(req, res, bodyText) {
    const active = takeFault();
    const name = active ? active.name : null;
    const opts = active ? active.options : {};

    if (name && STATUS_FAULTS[name]) {
      const [status, body] = STATUS_FAULTS[name];
      send(res, opts.status ?? status, opts.body ?? body, opts.contentType ?? 'application/json');
      return;
    }
    if (name === 'connectionReset') {
      const socket = req.socket;
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket.destroy();
      return;
    }
    if (name === 'hang') return; // never answered; close() destroys the socket
    if (name === 'delay') {
      await sleep(opts.ms ?? 1000);
      if (closed) return;
    }

    let parsed;
    let bodyParsed = false;
    try {
      parsed = JSON.parse(bodyText);
      bodyParsed = true;
    } catch {
      bodyParsed = false;
    }

    const unauthorized = checkAuthorization(req, bodyText, parsed, bodyParsed);
    if (unauthorized) {
      refuse(req, res, unauthorized, MESSAGES.unauthorized);
      return;
    }
    if (!bodyParsed || !parsed || typeof parsed !== 'object' || typeof parsed.authToken !== 'string') {
      refuse(req, res, refusal(400, 'body', 'the body is not a JSON object with an authToken string'), MESSAGES.badRequest);
      return;
    }
    const { record, refusal: badCode } = redeem(parsed.authToken);
    if (badCode) {
      refuse(req, res, badCode, MESSAGES.invalidCode);
      return;
    }

    if (name === 'notJson') {
      send(res, opts.status ?? 200, opts.body ?? 'Service unavailable', opts.contentType ?? 'text/plain');
      return;
    }
    if (name === 'noData') {
      send(res, 200, { userId: record.userId, encrypted: true, alg: 'aes' });
      return;
    }

    const jwt = responseJwt(record, name, opts);
    if (name === 'processed') {
      const id = crypto.randomBytes(16).toString('hex');
      payloads.set(id, { jwt, payloadStatus: opts.payloadStatus });
      send(res, 200, {
        data: `${url}payloads/${id}`, userId: record.userId, encrypted: true, alg: 'aes', processed: true,
      });
      return;
    }
    send(res, 200, {
      data: jwt, userId: record.userId, encrypted: name !== 'unencrypted', alg: 'aes',
    });
  }

  function handlePayload(req, res, id) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.'), 'application/xml');
      return;
    }
    const entry = payloads.get(id);
    if (!entry) {
      send(res, 404, s3Error('NoSuchKey', 'The specified key does not exist.'), 'application/xml');
      return;
    }
    if (entry.payloadStatus !== undefined && entry.payloadStatus !== 200) {
      send(res, entry.payloadStatus, s3Error('AccessDenied', 'Request has expired'), 'application/xml');
      return;
    }
    send(res, 200, entry.jwt, 'binary/octet-stream');
  }

  // POST /emulator/auth-code {scope?, userData?, expiresIn?}: an auth code as if the emulated user
  // had allowed, for scripts and other languages' tests. Not for pages on other origins.
  function handleMint(req, res, bodyText) {
    const fail = (status, message) => send(res, status, { error: { message } });
    if (req.method !== 'POST') return fail(405, `POST ${MINT_PATH} mints an auth code`);
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) return fail(403, `Cross-origin request from ${origin} refused`);
    let ask = {};
    if (bodyText.trim() !== '') {
      try {
        ask = JSON.parse(bodyText);
      } catch {
        ask = null;
      }
    }
    if (!ask || typeof ask !== 'object' || Array.isArray(ask)) {
      return fail(400, 'Expected no body or a JSON object { scope, userData, expiresIn }');
    }
    const unknown = Object.keys(ask).filter((k) => !['scope', 'userData', 'expiresIn'].includes(k));
    if (unknown.length) return fail(400, `Unknown field '${unknown[0]}' (expected scope, userData, expiresIn)`);
    if (ask.expiresIn !== undefined && !Number.isFinite(ask.expiresIn)) return fail(400, 'expiresIn must be a number of seconds');
    if (ask.userData !== undefined && ask.scope !== undefined) return fail(400, 'Give scope or userData, not both');
    const scope = ask.scope ?? 'BASIC_SIGNUP';
    const userData = ask.userData ?? profile.dataFor(scope);
    if (!userData) return fail(400, `Unknown scope request '${scope}': expected one of ${Object.keys(profile.scopes).join(', ')}`);
    const userId = ask.userData === undefined ? profileUserId : undefined;
    return send(res, 200, { authCode: emu.mintAuthCode(userData, { userId, expiresIn: ask.expiresIn }) });
  }

  server.on('request', (req, res) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (recordRequests) {
        const entry = { method: req.method, url: req.url, headers: { ...req.headers }, body };
        requests.push(entry);
        entries.set(req, entry);
      }
      if (closed) { req.socket.destroy(); return; }
      if (tooLarge) {
        refuse(req, res, refusal(413, 'body-size', `the body is over ${MAX_BODY_BYTES} bytes`), MESSAGES.tooLarge);
        return;
      }

      // Not `new URL(req.url, base)`: civic-sip-api with includeStageInURL false
      // requests '//scopeRequest/authCode', which URL would read as a host.
      let pathname = req.url.split('?')[0];
      if (/^https?:\/\//i.test(pathname)) {
        try {
          pathname = new URL(pathname).pathname; // absolute-form (a proxy-style request line)
        } catch {
          send(res, 404, MESSAGES.notFound);
          return;
        }
      }
      if (pathname === MINT_PATH) {
        handleMint(req, res, body);
        return;
      }
      if (handleBrowser(req, res, pathname, body)) return;
      const payloadMatch = /^\/payloads\/([^/]+)$/.exec(pathname);
      if (payloadMatch) {
        handlePayload(req, res, payloadMatch[1]);
        return;
      }
      if (!matchExchangePath(pathname)) {
        refuse(req, res, refusal(404, 'path', `no such path: the exchange is POST <api>${EXCHANGE_PATH} (is the client's api ${url}?)`), MESSAGES.notFound);
        return;
      }
      if (req.method !== 'POST') {
        refuse(req, res, refusal(405, 'method', `the exchange is a POST, not ${req.method}`), MESSAGES.methodNotAllowed);
        return;
      }
      handleExchange(req, res, body).catch(() => send(res, 500, MESSAGES.serverError));
    });
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${actualPort}/`;

  const emu = {
    url,
    port: actualPort,
    host,
    civicPublicKey: civicKey.publicHex,
    app,
    scriptUrl: `${url}js/civic.sip.js`,
    stylesheetUrl: `${url}css/civic-modal.css`,
    requests,
    faults: FAULTS,
    mintUrl: `${url}${MINT_PATH.slice(1)}`,

    clientConfig(overrides = {}) {
      return {
        appId: app.appId,
        appSecret: app.appSecret,
        prvKey: app.prvKey,
        api: url,
        civicPublicKey: civicKey.publicHex,
        ...overrides,
      };
    },

    /** The records the emulated user shares for a scope request (null for an unknown scope). */
    userDataFor(scope) {
      return profile.dataFor(scope);
    },

    /**
     * Mints an auth code as Civic's browser flow would hand it to the partner.
     * mintOptions (extension): { userId, expiresIn (seconds, default 1800; negative = already expired) }
     */
    mintAuthCode(userData, mintOptions = {}) {
      const data = userData ?? defaultUserData;
      const codeToken = crypto.randomUUID();
      codes.set(codeToken, { userData: data, userId: mintOptions.userId ?? userIdFor(data) });
      const nowMs = Date.now();
      const lifetimeMs = mintOptions.expiresIn !== undefined ? mintOptions.expiresIn * 1000 : TOKEN_LIFETIME_MS;
      return signJwt({
        jti: crypto.randomUUID(),
        iat: secondsFromMs(nowMs),
        exp: secondsFromMs(nowMs + lifetimeMs),
        iss: CIVIC_ISS,
        aud: CIVIC_AUD,
        sub: app.appId,
        data: { codeToken },
      }, civicKey.privateKey);
    },

    /**
     * Switches a fault on for every following exchange (or the next
     * `faultOptions.times` exchanges); fault(null) clears it.
     */
    fault(name, faultOptions = {}) {
      if (name === null || name === undefined) {
        fault = null;
        return emu;
      }
      if (!FAULTS.includes(name)) {
        throw new TypeError(`unknown fault '${name}'; expected one of ${FAULTS.join(', ')}`);
      }
      const times = faultOptions.times ?? Infinity;
      fault = { name, options: { ...faultOptions }, remaining: times };
      return emu;
    },

    /**
     * Listens for 'refusal': `{ status, check, message, expected?, received?, method, path }`
     * for each request the emulator refuses, saying which of Civic's checks failed.
     */
    on(event, listener) {
      events.on(event, listener);
      return emu;
    },

    off(event, listener) {
      events.off(event, listener);
      return emu;
    },

    close() {
      if (closePromise) return closePromise;
      closed = true;
      fault = null;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      closePromise = new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closePromise;
    },
  };
  return emu;
}

module.exports = {
  startEmulator,
  DEFAULT_USER_DATA,
  DEFAULT_USER_RECORDS,
  DEFAULT_SCOPES,
  FAULTS,
  newCredentials,
  // small helpers other tests may want (independent of civic-sip-api)
  stableStringify,
};

// `node emulator/index.js [port]`: run one standalone, print a client config and an auth code.
if (require.main === module) {
  startEmulator({ port: Number(process.argv[2] ?? process.env.PORT ?? 0) }).then((emu) => {
    process.stdout.write(`${JSON.stringify({ config: emu.clientConfig(), authCode: emu.mintAuthCode() }, null, 2)}\n`);
    const stop = () => { emu.close().then(() => process.exit(0)); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
