'use strict';

/**
 * The emulator's credentials: the app (partner) registered with it, as Civic's integration portal
 * would hand them out, and fresh ones for the CLI to keep.
 *
 *   registeredApp(appOptions = {}) -> { app, appKey }
 *     app: frozen { appId, appSecret, prvKey, appPublicKey, name } with what is not given made up
 *     (a 9-character base62 appId, a 32-hex appSecret, a fresh P-256 key, 'Demo app').
 *     appKey: the app's key pair (keyPair() of civic-crypto.js; only the public half when the
 *     options give appPublicKey without prvKey).
 *     Throws a TypeError naming the option for an empty appId, an appSecret that is not 32, 48 or
 *     64 hex characters, a key that is not P-256 hex, or an appPublicKey that is not prvKey's.
 *   newCredentials() -> { appId, appSecret, prvKey, civicPrivateKey }: all fresh.
 */

const crypto = require('node:crypto');
const { isHex, keyPair, publicKeyFromHex } = require('./civic-crypto');

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomBase62(n) {
  const bytes = crypto.randomBytes(n * 2);
  let out = '';
  for (let i = 0; out.length < n && i < bytes.length; i += 1) {
    // 248 = 62 * 4: reject the tail so every character is equally likely.
    if (bytes[i] < 248) out += BASE62[bytes[i] % 62];
  }
  return out.length === n ? out : randomBase62(n);
}

/** The app's key pair: from prvKey, or only the public half from appPublicKey, or a fresh one. */
function appKeyPair(appIn) {
  if (appIn.prvKey !== undefined) {
    const appKey = keyPair(appIn.prvKey);
    if (appIn.appPublicKey !== undefined && appIn.appPublicKey.toLowerCase() !== appKey.publicHex) {
      throw new TypeError('app.appPublicKey does not match app.prvKey');
    }
    return appKey;
  }
  if (appIn.appPublicKey !== undefined) {
    return { privateHex: undefined, publicHex: appIn.appPublicKey.toLowerCase(), publicKey: publicKeyFromHex(appIn.appPublicKey) };
  }
  return keyPair();
}

function registeredApp(appIn = {}) {
  const appId = appIn.appId ?? randomBase62(9);
  const appSecret = appIn.appSecret ?? crypto.randomBytes(16).toString('hex');
  if (typeof appId !== 'string' || appId.length === 0) throw new TypeError('app.appId must be a non-empty string');
  if (!isHex(appSecret, 32, 48, 64)) throw new TypeError('app.appSecret must be 32, 48 or 64 hex characters');
  const appKey = appKeyPair(appIn);
  const app = Object.freeze({
    appId,
    appSecret,
    prvKey: appIn.prvKey ?? appKey.privateHex,
    appPublicKey: appKey.publicHex,
    name: appIn.name ?? 'Demo app',
  });
  return { app, appKey };
}

/** Fresh credentials for an app and for the emulator's Civic key (what the CLI's --credentials keeps). */
function newCredentials() {
  return {
    appId: randomBase62(9),
    appSecret: crypto.randomBytes(16).toString('hex'),
    prvKey: keyPair().privateHex,
    civicPrivateKey: keyPair().privateHex,
  };
}

module.exports = { registeredApp, newCredentials };
