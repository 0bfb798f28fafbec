'use strict';

/**
 * The checks Civic makes of an exchange request, in its order, each answering with a refusal
 * report: the status the emulator answers, which check failed, and in words what it expected and
 * what it got (never a secret: not the appSecret, the private key or an HMAC).
 *
 *   refusal(status, check, message, details = {}) -> { status, check, message, ...details }
 *   checkAuthorization(req, bodyText, parsedBody, bodyParsed, { app, appKey, url })
 *     -> null, or the refusal of steps 1-3 (the Authorization header: the request token under the
 *        app's key, its claims, and the Civic extension over the body)
 *   redeemAuthCode(authToken, { appId, civicKey, codes }) -> { record } or { refusal }: step 4,
 *     the auth code (signed by this emulator's Civic key, not expired, minted for this app by
 *     this run: `codes` maps its codeToken to the record)
 *   checkJwt(token, publicKey, keyName) -> { claims } or { problem, badSignature }
 *   matchExchangePath(pathname) -> { env } or null
 *   secondsFromMs(ms) -> seconds since the epoch with milliseconds, as Civic writes iat and exp
 *   foreignOrigin(req) -> the request's Origin header when it names a page other than the
 *     emulator's own (its scheme, http or https as it is served, and its Host), else null
 */

const crypto = require('node:crypto');
const {
  CIVIC_ISSUER: CIVIC_ISS, EXCHANGE_PATH, stableStringify, civicExtension,
} = require('./civic-crypto');

const B64U_RE = /^[A-Za-z0-9_-]+$/;

/** Seconds since the epoch, with milliseconds, as Civic writes iat/exp. */
const secondsFromMs = (ms) => Math.round(ms) / 1000;

/** The Origin of a request from a page the emulator did not serve, or null (none, or its own). */
function foreignOrigin(req) {
  const { origin } = req.headers;
  if (origin === undefined) return null;
  const own = `${req.socket.encrypted ? 'https' : 'http'}://${req.headers.host}`;
  return origin === own ? null : origin;
}

const refusal = (status, check, message, details = {}) => ({ status, check, message, ...details });

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

function matchExchangePath(pathname) {
  // '/scopeRequest/authCode', '/<env>/scopeRequest/authCode', and the empty
  // stage '//scopeRequest/authCode' that civic-sip-api sends when
  // includeStageInURL is false (it joins '<base>/' + '/scopeRequest/authCode').
  const m = /^\/(?:([^/]*)\/)?scopeRequest\/authCode$/.exec(pathname);
  if (!m) return null;
  return { env: m[1] || null };
}

/** Steps 1-3: the Authorization header (request token and Civic extension). */
function checkAuthorization(req, bodyText, parsedBody, bodyParsed, { app, appKey, url }) {
  const { appId, appSecret } = app;
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
  const scheme = req.socket.encrypted ? 'https' : 'http';
  const auds = [url, `${scheme}://${req.headers.host}/`].filter((a, i, all) => all.indexOf(a) === i);
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
function redeemAuthCode(authToken, { appId, civicKey, codes }) {
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

module.exports = {
  refusal, checkAuthorization, redeemAuthCode, checkJwt, matchExchangePath, secondsFromMs, foreignOrigin,
};
