'use strict';

/**
 * Civic's cryptography, both sides of the exchange, with node:crypto only: written from the
 * protocol (docs/protocol.md), for the emulator and for tests that play Civic or the
 * partner without the package.
 *
 *   const civicCrypto = require('./civic-crypto');   // emulator/, or '../../emulator/civic-crypto' from a test
 *
 * Keys (P-256, as Civic writes them: hex)
 *   keyPair(privateHex?) -> { privateHex (64 hex), publicHex (uncompressed SEC1: 130 hex, '04…'),
 *     compressedHex (66 hex), privateKey, publicKey (KeyObjects) }: a fresh pair, or the pair of
 *     a scalar given as up to 64 hex characters (left-padded). Throws a TypeError on other input.
 *   publicKeyFromHex(hex) -> KeyObject from an uncompressed SEC1 point (130 hex starting 04);
 *     TypeError otherwise.
 *   privateKeyFromHex(hex) -> KeyObject: keyPair(hex).privateKey.
 *
 * JWTs (ES256: SHA-256, the signature as the 64-byte r || s, base64url without padding)
 *   signJwt(claims, privateKey, header = { alg: 'ES256', typ: 'JWT' }) -> compact JWT. The header
 *     is written as given (a test may name another alg); the signature is always ES256.
 *   decodeJwt(token) -> { header, claims, signingInput, signature (Buffer) }; throws on a token
 *     that is not three parts of base64url JSON.
 *   verifyJwt(token, publicKey) -> boolean: alg ES256, a 64-byte signature, and that signature
 *     verifies under publicKey (a KeyObject or uncompressed hex). Claims (exp...) are not checked.
 *   requestToken({ appId, prvKey, aud, nowMs = Date.now() }) -> the partner's request token:
 *     claims jti (UUID v4), iat (seconds with milliseconds), exp (iat + 180 s), iss and sub
 *     (appId), aud (the API base URL with its trailing slash), data { method: 'POST',
 *     path: 'scopeRequest/authCode' }, signed with the app's private key (hex).
 *
 * User data (AES-CBC with PKCS#7 padding, the key being the hex-decoded appSecret: 32, 48 or 64
 * hex characters for AES-128, -192, -256)
 *   encryptData(clearText, appSecret, fault?) -> '<32 hex IV><base64 ciphertext>' under a random IV.
 *     fault 'badPadding' pads with zero bytes (never valid PKCS#7); 'badIv' writes the IV with
 *     its first two characters 'zz' (not hex).
 *   decryptData(data, appSecret) -> the clear text (UTF-8); throws on bad padding.
 *
 * The request's Civic extension
 *   civicExtension(bodyText, appSecret) -> base64 HMAC-SHA256 of bodyText (UTF-8) keyed with the
 *     appSecret's UTF-8 bytes (not its hex-decoded bytes).
 *   stableStringify(value) -> JSON with object keys sorted at every level (json-stable-stringify,
 *     what Civic's SDK HMACs).
 *
 * Constants: CIVIC_ISSUER ('civic-sip-hosted-service'), CIVIC_AUDIENCE
 *   ('https://api.civic.com/sip/'), EXCHANGE_PATH ('scopeRequest/authCode'),
 *   REQUEST_TOKEN_LIFETIME_S (180).
 */

const crypto = require('node:crypto');

const CIVIC_ISSUER = 'civic-sip-hosted-service';
const CIVIC_AUDIENCE = 'https://api.civic.com/sip/';
const EXCHANGE_PATH = 'scopeRequest/authCode';
const REQUEST_TOKEN_LIFETIME_S = 180;
const ES256_HEADER = Object.freeze({ alg: 'ES256', typ: 'JWT' });
const HEX_RE = /^[0-9a-fA-F]*$/;

const b64u = (buf) => Buffer.from(buf).toString('base64url');

/** Whether `s` is a hex string (of one of `lengths`, when given). */
function isHex(s, ...lengths) {
  return typeof s === 'string' && HEX_RE.test(s) && (lengths.length === 0 || lengths.includes(s.length));
}

/** JSON.stringify with object keys sorted at every level (json-stable-stringify semantics). */
function stableStringify(value) {
  if (value !== null && typeof value === 'object' && typeof value.toJSON === 'function') {
    value = value.toJSON();
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    return `[${value.map((v) => {
      const s = stableStringify(v);
      return s === undefined ? 'null' : s;
    }).join(',')}]`;
  }
  const parts = [];
  for (const key of Object.keys(value).sort()) {
    const s = stableStringify(value[key]);
    if (s !== undefined) parts.push(`${JSON.stringify(key)}:${s}`);
  }
  return `{${parts.join(',')}}`;
}

// ------------------------------------------------------------------------------------- keys

/** A JWK's x and y from an uncompressed SEC1 point (04 || X || Y). */
const jwkPoint = (point) => ({
  kty: 'EC', crv: 'P-256', x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33)),
});

function publicKeyFromHex(hex) {
  if (!isHex(hex, 130) || !hex.toLowerCase().startsWith('04')) {
    throw new TypeError('expected an uncompressed SEC1 P-256 point: 130 hex characters starting with 04');
  }
  return crypto.createPublicKey({ key: jwkPoint(Buffer.from(hex, 'hex')), format: 'jwk' });
}

function keyPair(privateHex) {
  const ecdh = crypto.createECDH('prime256v1');
  if (privateHex === undefined) {
    ecdh.generateKeys();
  } else {
    if (!isHex(privateHex) || privateHex.length === 0 || privateHex.length > 64) {
      throw new TypeError('expected a P-256 private key as up to 64 hex characters');
    }
    ecdh.setPrivateKey(Buffer.from(privateHex.padStart(64, '0'), 'hex'));
  }
  const d = Buffer.from(ecdh.getPrivateKey('hex').padStart(64, '0'), 'hex');
  const point = ecdh.getPublicKey();
  const jwk = jwkPoint(point);
  return {
    privateHex: d.toString('hex'),
    publicHex: point.toString('hex'),
    compressedHex: ecdh.getPublicKey('hex', 'compressed'),
    privateKey: crypto.createPrivateKey({ key: { ...jwk, d: b64u(d) }, format: 'jwk' }),
    publicKey: crypto.createPublicKey({ key: jwk, format: 'jwk' }),
  };
}

const privateKeyFromHex = (hex) => keyPair(hex).privateKey;

// -------------------------------------------------------------------------------------- JWT

function signJwt(claims, privateKey, header = ES256_HEADER) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const signature = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64u(signature)}`;
}

function decodeJwt(token) {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    claims: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
    signingInput: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

function verifyJwt(token, publicKey) {
  const { header, signingInput, signature } = decodeJwt(token);
  if (header.alg !== 'ES256' || signature.length !== 64) return false;
  const key = typeof publicKey === 'string' ? publicKeyFromHex(publicKey) : publicKey;
  return crypto.verify('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' }, signature);
}

function requestToken({
  appId, prvKey, aud, nowMs = Date.now(),
}) {
  const iat = nowMs / 1000;
  return signJwt({
    jti: crypto.randomUUID(),
    iat,
    exp: iat + REQUEST_TOKEN_LIFETIME_S,
    iss: appId,
    aud,
    sub: appId,
    data: { method: 'POST', path: EXCHANGE_PATH },
  }, privateKeyFromHex(prvKey));
}

// -------------------------------------------------------------------------------------- AES

function aesCipherName(key) {
  switch (key.length) {
    case 16: return 'aes-128-cbc';
    case 24: return 'aes-192-cbc';
    case 32: return 'aes-256-cbc';
    default: throw new TypeError('appSecret must be 32, 48 or 64 hex characters');
  }
}

function encryptData(clearText, appSecret, fault) {
  const key = Buffer.from(appSecret, 'hex');
  const iv = crypto.randomBytes(16);
  // With 'badIv' the IV text reads 'zz…': CryptoJS parses 'zz' as the byte 0x00, so with a real
  // first byte of 0x01 a lenient client decrypts a first byte one bit off (garbage, no crash).
  if (fault === 'badIv') iv[0] = 0x01;
  const cipher = crypto.createCipheriv(aesCipherName(key), key, iv);
  let plain = Buffer.from(clearText, 'utf8');
  if (fault === 'badPadding') {
    cipher.setAutoPadding(false);
    plain = Buffer.concat([plain, Buffer.alloc(16 - (plain.length % 16), 0)]);
  }
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  const ivHex = iv.toString('hex');
  return `${fault === 'badIv' ? `zz${ivHex.slice(2)}` : ivHex}${ciphertext.toString('base64')}`;
}

function decryptData(data, appSecret) {
  const key = Buffer.from(appSecret, 'hex');
  const decipher = crypto.createDecipheriv(aesCipherName(key), key, Buffer.from(data.slice(0, 32), 'hex'));
  return Buffer.concat([decipher.update(Buffer.from(data.slice(32), 'base64')), decipher.final()]).toString('utf8');
}

// ------------------------------------------------------------------------- Civic extension

function civicExtension(bodyText, appSecret) {
  return crypto.createHmac('sha256', Buffer.from(appSecret, 'utf8')).update(bodyText, 'utf8').digest('base64');
}

module.exports = {
  CIVIC_ISSUER,
  CIVIC_AUDIENCE,
  EXCHANGE_PATH,
  REQUEST_TOKEN_LIFETIME_S,
  isHex,
  stableStringify,
  keyPair,
  publicKeyFromHex,
  privateKeyFromHex,
  signJwt,
  decodeJwt,
  verifyJwt,
  requestToken,
  encryptData,
  decryptData,
  civicExtension,
};
