'use strict';

/**
 * The emulator's routes, each given the emulator's state (`ctx`, built by startEmulator):
 *
 *   handleRequest(ctx, req, res)   every request: reads and records it (at most 1 MiB of body),
 *                                  then hands it to the route its path names
 *   handleExchange(ctx, req, res, bodyText)  POST <api>[<env>/]scopeRequest/authCode: Civic's
 *                                  checks (checks.js), the current fault, then the reply
 *   handlePayload(ctx, req, res, id)  GET /payloads/<id>?X-Amz-...: a processed reply's response
 *                                  token, as S3 serves a pre-signed URL (S3's XML errors; a
 *                                  query dropped or altered is refused, as S3 refuses it)
 *   handleMint(ctx, req, res, bodyText)  POST /emulator/auth-code: an auth code for scripts
 *   (the browser pages are browser.js's browserRoutes, reached through ctx.handleBrowser)
 *
 * ctx: { app, appKey, civicKey, url, profile, profileUserId, codes (codeToken -> record),
 *        payloads (id -> { jwt, payloadStatus }), requests, entries (req -> its record),
 *        recordRequests, events ('refusal'), faults (faults.js's faultSwitch()), life
 *        (server.js's lifecycle), handleBrowser, mintAuthCode(userData, options), wrongKey }
 */

const crypto = require('node:crypto');
const {
  CIVIC_ISSUER: CIVIC_ISS, CIVIC_AUDIENCE: CIVIC_AUD, EXCHANGE_PATH, keyPair, signJwt, encryptData,
} = require('./civic-crypto');
const {
  refusal, checkAuthorization, redeemAuthCode, matchExchangePath, secondsFromMs, foreignOrigin,
} = require('./checks');
const { STATUS_FAULTS } = require('./faults');

const TOKEN_LIFETIME_MS = 30 * 60 * 1000;
/** Where a script (any language) mints an auth code without a browser. */
const MINT_PATH = '/emulator/auth-code';
const MAX_BODY_BYTES = 1024 * 1024;

// What an attacker would like a client to accept (used by the tamperedResponse fault).
const ATTACKER_USER_DATA = [
  { label: 'contact.personal.email', value: 'attacker@example.com', isValid: true, isOwner: true },
];

const MESSAGES = {
  unauthorized: { message: 'Unauthorized' },
  badRequest: { message: 'Bad Request' },
  invalidCode: { message: 'Invalid auth code' },
  notFound: { message: 'Not Found' },
  methodNotAllowed: { message: 'Method Not Allowed' },
  tooLarge: { message: 'Request Entity Too Large' },
  serverError: { message: 'Internal server error' },
};

const b64u = (buf) => Buffer.from(buf).toString('base64url');

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
function refuse(ctx, req, res, why, body, contentType) {
  send(res, why.status, body, contentType);
  const report = { ...why, method: req.method, path: req.url };
  const entry = ctx.entries.get(req);
  if (entry) entry.refusal = report;
  ctx.events.emit('refusal', report);
}

function s3Error(code, message) {
  const id = crypto.randomBytes(8).toString('hex').toUpperCase();
  return '<?xml version="1.0" encoding="UTF-8"?>\n'
    + `<Error><Code>${code}</Code><Message>${message}</Message>`
    + `<RequestId>${id}</RequestId><HostId>${crypto.randomBytes(24).toString('base64')}</HostId></Error>`;
}

// Each emulator's key for pre-signing its payload URLs (never shown, never sent).
const PAYLOAD_KEYS = new WeakMap();

/** The signature of a payload URL: an HMAC of its id under the emulator's own key. */
function payloadSignature(ctx, id) {
  if (!PAYLOAD_KEYS.has(ctx)) PAYLOAD_KEYS.set(ctx, crypto.randomBytes(32));
  return crypto.createHmac('sha256', PAYLOAD_KEYS.get(ctx)).update(id).digest('hex');
}

/**
 * A payload URL's query, shaped as S3 pre-signs one (Civic parks large replies on S3): clients
 * must fetch the URL as given, query and all, and must never log it.
 */
function presignedQuery(ctx, id) {
  return 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-SignedHeaders=host'
    + `&X-Amz-Signature=${payloadSignature(ctx, id)}`;
}

function responseJwt(ctx, record, name, opts) {
  const { appId, appSecret } = ctx.app;
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
  let signer = ctx.civicKey.privateKey;
  if (name === 'wrongKey') {
    ctx.wrongKey = ctx.wrongKey ?? keyPair();
    signer = ctx.wrongKey.privateKey;
  }
  const jwt = signJwt(claims, signer);
  if (name !== 'tamperedResponse') return jwt;
  // Swap in other (validly encrypted) user data but keep Civic's signature.
  const [h, , s] = jwt.split('.');
  const forged = { ...claims, data: encryptData(JSON.stringify(opts.userData ?? ATTACKER_USER_DATA), appSecret) };
  return `${h}.${b64u(JSON.stringify(forged))}.${s}`;
}

async function handleExchange(ctx, req, res, bodyText) {
  const active = ctx.faults.take();
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
    await ctx.life.sleep(opts.ms ?? 1000);
    if (ctx.life.closed) return;
  }

  let parsed;
  let bodyParsed = false;
  try {
    parsed = JSON.parse(bodyText);
    bodyParsed = true;
  } catch {
    bodyParsed = false;
  }

  const unauthorized = checkAuthorization(req, bodyText, parsed, bodyParsed, ctx);
  if (unauthorized) {
    refuse(ctx, req, res, unauthorized, MESSAGES.unauthorized);
    return;
  }
  if (!bodyParsed || !parsed || typeof parsed !== 'object' || typeof parsed.authToken !== 'string') {
    refuse(ctx, req, res, refusal(400, 'body', 'the body is not a JSON object with an authToken string'), MESSAGES.badRequest);
    return;
  }
  const { record, refusal: badCode } = redeemAuthCode(parsed.authToken, { appId: ctx.app.appId, civicKey: ctx.civicKey, codes: ctx.codes });
  if (badCode) {
    refuse(ctx, req, res, badCode, MESSAGES.invalidCode);
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

  const jwt = responseJwt(ctx, record, name, opts);
  if (name === 'processed') {
    const id = crypto.randomBytes(16).toString('hex');
    ctx.payloads.set(id, { jwt, payloadStatus: opts.payloadStatus });
    send(res, 200, {
      data: `${ctx.url}payloads/${id}?${presignedQuery(ctx, id)}`, userId: record.userId, encrypted: true, alg: 'aes', processed: true,
    });
    return;
  }
  send(res, 200, {
    data: jwt, userId: record.userId, encrypted: name !== 'unencrypted', alg: 'aes',
  });
}

function handlePayload(ctx, req, res, id) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, s3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.'), 'application/xml');
    return;
  }
  const entry = ctx.payloads.get(id);
  if (!entry) {
    send(res, 404, s3Error('NoSuchKey', 'The specified key does not exist.'), 'application/xml');
    return;
  }
  const query = new URL(req.url, ctx.url).searchParams;
  const given = query.get('X-Amz-Signature');
  const wanted = payloadSignature(ctx, id);
  if (given !== wanted || query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
    const why = refusal(403, 'payload-signature', given === null
      ? 'the pre-signed payload URL lost its query (X-Amz-Signature): fetch the URL exactly as the reply gave it'
      : 'the pre-signed payload URL\'s query was altered: fetch the URL exactly as the reply gave it, byte for byte', {
      received: given === null ? undefined : `X-Amz-Signature of ${given.length} characters`,
    });
    refuse(ctx, req, res, why, s3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'), 'application/xml');
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
function handleMint(ctx, req, res, bodyText) {
  const { profile } = ctx;
  const fail = (status, message) => send(res, status, { error: { message } });
  if (req.method !== 'POST') return fail(405, `POST ${MINT_PATH} mints an auth code`);
  const origin = foreignOrigin(req);
  if (origin !== null) return fail(403, `Cross-origin request from ${origin} refused`);
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
  const userId = ask.userData === undefined ? ctx.profileUserId : undefined;
  return send(res, 200, { authCode: ctx.mintAuthCode(userData, { userId, expiresIn: ask.expiresIn }) });
}

function handleRequest(ctx, req, res) {
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
    if (ctx.recordRequests) {
      const entry = { method: req.method, url: req.url, headers: { ...req.headers }, body };
      ctx.requests.push(entry);
      ctx.entries.set(req, entry);
    }
    if (ctx.life.closed) { req.socket.destroy(); return; }
    if (tooLarge) {
      refuse(ctx, req, res, refusal(413, 'body-size', `the body is over ${MAX_BODY_BYTES} bytes`), MESSAGES.tooLarge);
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
      handleMint(ctx, req, res, body);
      return;
    }
    if (ctx.handleBrowser(req, res, pathname, body)) return;
    const payloadMatch = /^\/payloads\/([^/]+)$/.exec(pathname);
    if (payloadMatch) {
      handlePayload(ctx, req, res, payloadMatch[1]);
      return;
    }
    if (!matchExchangePath(pathname)) {
      refuse(ctx, req, res, refusal(404, 'path', `no such path: the exchange is POST <api>${EXCHANGE_PATH} (is the client's api ${ctx.url}?)`), MESSAGES.notFound);
      return;
    }
    if (req.method !== 'POST') {
      refuse(ctx, req, res, refusal(405, 'method', `the exchange is a POST, not ${req.method}`), MESSAGES.methodNotAllowed);
      return;
    }
    handleExchange(ctx, req, res, body).catch(() => send(res, 500, MESSAGES.serverError));
  });
}

module.exports = {
  handleRequest, handleExchange, handlePayload, handleMint, MINT_PATH, TOKEN_LIFETIME_MS,
};
