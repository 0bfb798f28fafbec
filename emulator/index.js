'use strict';

/**
 * A local stand-in for Civic's hosted SIP service (the server side of the
 * auth-code exchange), written from the wire protocol in docs/protocol.md.
 *
 * Node built-ins only. Used by the test suites to drive both the reference
 * client (civic-sip-api) and civic-sip-native against the same server, and to
 * inject faults (error statuses, bad signatures, broken ciphertext, network
 * failures) that Civic's production service cannot be asked to produce.
 */

const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');
const {
  buildProfile, browserRoutes, DEFAULT_USER_RECORDS, DEFAULT_SCOPES,
} = require('./browser');
const {
  CIVIC_ISSUER: CIVIC_ISS, CIVIC_AUDIENCE: CIVIC_AUD, stableStringify, keyPair, signJwt,
} = require('./civic-crypto');
const { registeredApp, newCredentials } = require('./credentials');
const { secondsFromMs } = require('./checks');
const { FAULTS, faultSwitch } = require('./faults');
const { handleRequest, MINT_PATH, TOKEN_LIFETIME_MS } = require('./routes');
const { serverLifecycle } = require('./server');

// The parts, each in a module of its own: civic-crypto.js (Civic's cryptography),
// credentials.js (the app registered with this "Civic"), checks.js (the request checks and their
// refusal reports), faults.js, routes.js (exchange, payload, auth-code minting; browser.js for
// the browser pages) and server.js (the server's lifecycle). startEmulator puts them together.

const DEFAULT_USER_DATA = Object.freeze([
  Object.freeze({ label: 'contact.personal.email', value: 'user@example.com', isValid: true, isOwner: true }),
  Object.freeze({ label: 'contact.personal.phoneNumber', value: '+1 555 0100', isValid: true, isOwner: true }),
]);

/** The emulated user of the browser flow; throws a TypeError for origins that are not strings. */
function browserUser(options) {
  const profile = buildProfile(options.user);
  if (options.origins !== undefined && !(Array.isArray(options.origins) && options.origins.every((o) => typeof o === 'string'))) {
    throw new TypeError('origins must be a list of origins such as http://localhost:3000');
  }
  return profile;
}

/**
 * Starts an emulator. See index.d.ts for the options and the Emulator it resolves with.
 * @returns {Promise<object>}
 */
async function startEmulator(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const { app, appKey } = registeredApp(options.app ?? {});
  // The emulated user of the browser flow, and the pages allowed to open it (Civic's whitelist).
  const profile = browserUser(options);
  const civicKey = keyPair(options.civicPrivateKey);
  const defaultUserData = options.userData ?? DEFAULT_USER_DATA;

  const userIdFor = (userData) => crypto.createHash('sha256').update(`${app.appId}\n${stableStringify(userData)}`).digest('hex');
  const events = new EventEmitter();
  const faults = faultSwitch();
  const ctx = {
    app,
    appKey,
    civicKey,
    url: undefined, // known once listening
    profile,
    // One userId per app for the emulated user, whatever the scope, as Civic keeps it.
    profileUserId: profile.userId ?? userIdFor([...profile.records.values()]),
    codes: new Map(), // codeToken -> { userData, userId }
    payloads: new Map(), // id -> { jwt, payloadStatus }
    requests: [],
    // The recorded request of each live one, so a refusal can be noted on it.
    entries: new WeakMap(),
    // Off for long runs (benchmarks), where the log would only grow.
    recordRequests: options.recordRequests ?? true,
    events,
    faults,
    wrongKey: null,
    mintAuthCode: (userData, mintOptions) => emu.mintAuthCode(userData, mintOptions),
  };
  ctx.handleBrowser = browserRoutes({
    app,
    profile,
    origins: options.origins ?? null,
    userId: ctx.profileUserId,
    mint: ctx.mintAuthCode,
  });
  ctx.life = serverLifecycle({ keepAliveTimeout: options.keepAliveTimeout, tls: options.tls, onRequest: (req, res) => handleRequest(ctx, req, res) });
  const { port: actualPort, url } = await ctx.life.listen(port, host);
  ctx.url = url;

  const emu = {
    url,
    port: actualPort,
    host,
    civicPublicKey: civicKey.publicHex,
    app,
    scriptUrl: `${url}js/civic.sip.js`,
    stylesheetUrl: `${url}css/civic-modal.css`,
    requests: ctx.requests,
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
      ctx.codes.set(codeToken, { userData: data, userId: mintOptions.userId ?? userIdFor(data) });
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
      if (name === null || name === undefined) faults.clear();
      else faults.set(name, faultOptions);
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
      faults.clear();
      return ctx.life.close();
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
