'use strict';

/**
 * The browser half of the emulator: the stand-in for Civic's civic.sip.js and its stylesheet,
 * the emulated user's consent screen, and the emulated user's data per scope request.
 * node:fs and node:path only; the assets themselves are in browser/.
 */

const fs = require('node:fs');
const path = require('node:path');
const { foreignOrigin } = require('./checks');

const ASSET_DIR = path.join(__dirname, 'browser');
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

// Public paths -> [file in browser/, content type, cross-origin]. The script and the stylesheet
// are loaded by the partner's page, which is on another origin; the consent page and its assets
// only by the emulator's own frame.
const ASSETS = {
  '/js/civic.sip.js': ['civic.sip.js', JS, true],
  '/js/civic.sip.min.js': ['civic.sip.js', JS, true], // the names on Civic's hosted service,
  '/css/civic-modal.min.css': ['civic-modal.css', CSS, true], // so only the host differs
  '/js/civic.sip-v0.1.js': ['civic.sip.js', JS, true], // the name in Civic's older docs
  '/css/civic-modal.css': ['civic-modal.css', CSS, true],
  '/consent': ['consent.html', 'text/html; charset=utf-8', false],
  '/consent/consent.js': ['consent.js', JS, false],
  '/consent/consent.css': ['consent.css', CSS, false],
};

const EMAIL = 'contact.personal.email';
const PHONE = 'contact.personal.phoneNumber';
const ID = 'documents.genericId';

/** The emulated user: a value per label, in Civic's label naming. */
const DEFAULT_USER_RECORDS = Object.freeze({
  [EMAIL]: 'user@example.com',
  [PHONE]: '+1 555 0100',
  [`${ID}.type`]: 'passport',
  [`${ID}.number`]: 'X1234567',
  [`${ID}.name`]: 'Alex Example',
  [`${ID}.dateOfBirth`]: '1990-01-31',
  [`${ID}.dateOfIssue`]: '2020-06-01',
  [`${ID}.dateOfExpiry`]: '2030-05-31',
  [`${ID}.country`]: 'USA',
  'contact.personal.address': '1 Example Street, Springfield, USA',
});

/** The labels each scope request shares. */
const DEFAULT_SCOPES = Object.freeze({
  BASIC_SIGNUP: Object.freeze([EMAIL, PHONE]),
  ANONYMOUS_LOGIN: Object.freeze([]),
  PROOF_OF_EMAIL: Object.freeze([EMAIL]),
  PROOF_OF_IDENTITY: Object.freeze([EMAIL, PHONE, ...['type', 'number', 'name', 'dateOfBirth', 'dateOfIssue', 'dateOfExpiry', 'country'].map((f) => `${ID}.${f}`)]),
  PROOF_OF_RESIDENCE: Object.freeze([EMAIL, PHONE, `${ID}.name`, 'contact.personal.address']),
  PROOF_OF_AGE: Object.freeze([`${ID}.dateOfBirth`]),
});

const DESCRIPTIONS = {
  [EMAIL]: 'Email',
  [PHONE]: 'Phone number',
  [`${ID}.type`]: 'ID document',
  [`${ID}.number`]: 'Document number',
  [`${ID}.name`]: 'Full name',
  [`${ID}.dateOfBirth`]: 'Date of birth',
  [`${ID}.dateOfIssue`]: 'Date of issue',
  [`${ID}.dateOfExpiry`]: 'Date of expiry',
  [`${ID}.country`]: 'Issuing country',
  'contact.personal.address': 'Address',
};

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The emulated user from `user` ({ records?, scopes?, userId? }, as in a --user JSON file),
 * over the defaults: records maps a label to its value (or { value, isValid, isOwner }); scopes
 * maps a scope request name to the labels it shares. Throws a TypeError naming what is wrong.
 */
function buildProfile(user = {}) {
  if (!isPlainObject(user)) throw new TypeError('user must be an object: { records, scopes, userId }');
  const unknown = Object.keys(user).filter((k) => !['records', 'scopes', 'userId'].includes(k));
  if (unknown.length) throw new TypeError(`user: unknown field '${unknown[0]}' (expected records, scopes, userId)`);
  if (user.records !== undefined && !isPlainObject(user.records)) throw new TypeError('user.records must map labels to values');
  if (user.scopes !== undefined && !isPlainObject(user.scopes)) throw new TypeError('user.scopes must map scope names to lists of labels');
  if (user.userId !== undefined && (typeof user.userId !== 'string' || user.userId === '')) throw new TypeError('user.userId must be a non-empty string');

  const records = new Map();
  for (const [label, given] of Object.entries({ ...DEFAULT_USER_RECORDS, ...user.records })) {
    const entry = typeof given === 'string' ? { value: given } : given;
    if (!isPlainObject(entry) || typeof entry.value !== 'string') {
      throw new TypeError(`user.records['${label}'] must be a string or { value: string, isValid?, isOwner? }`);
    }
    for (const flag of ['isValid', 'isOwner']) {
      if (entry[flag] !== undefined && typeof entry[flag] !== 'boolean') throw new TypeError(`user.records['${label}'].${flag} must be a boolean`);
    }
    records.set(label, { label, value: entry.value, isValid: entry.isValid ?? true, isOwner: entry.isOwner ?? true });
  }
  const scopes = { ...DEFAULT_SCOPES };
  for (const [name, labels] of Object.entries(user.scopes ?? {})) {
    if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
      throw new TypeError(`user.scopes.${name} must be a list of labels`);
    }
    const missing = labels.find((l) => !records.has(l));
    if (missing !== undefined) throw new TypeError(`user.scopes.${name}: no value for '${missing}' in user.records`);
    scopes[name] = labels;
  }
  return {
    records,
    scopes,
    userId: user.userId,
    /** The records shared for scope request `name`, or null for an unknown scope. */
    dataFor(name) {
      if (!Object.prototype.hasOwnProperty.call(scopes, name)) return null;
      return scopes[name].map((label) => ({ ...records.get(label) }));
    },
  };
}

/** Reads a --user JSON file; the error names the file. */
function loadUserFile(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${error.code || error.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${error.message}`);
  }
}

const assetCache = new Map();
function asset(file) {
  if (!assetCache.has(file)) assetCache.set(file, fs.readFileSync(path.join(ASSET_DIR, file)));
  return assetCache.get(file);
}

/**
 * The browser routes. `handle(req, res, pathname, bodyText)` answers and returns true for the
 * paths it owns, false for any other.
 *   app: { appId, name }; profile: buildProfile(); mint(records, { userId }) -> auth code;
 *   origins: the pages allowed to open the consent screen (Civic's domain whitelist), or null
 *   for any.
 */
function browserRoutes({
  app, profile, mint, userId, origins,
}) {
  function send(res, status, body, type, headers = {}) {
    const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': type ?? 'application/json',
      'Content-Length': Buffer.byteLength(data),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    });
    res.end(res.req && res.req.method === 'HEAD' ? undefined : data);
  }
  const problem = (res, status, type, message) => send(res, status, { error: { type, message } });

  // The scope request the consent frame asks about: null and an answer sent if it is not valid.
  function scopeRequest(res, appId, scope, parent) {
    if (origins && !origins.includes(parent)) {
      problem(res, 403, 'config', `The page ${parent} is not whitelisted for the app '${app.appId}'`);
      return null;
    }
    if (appId !== app.appId) {
      problem(res, 403, 'config', `Unknown application ID '${appId}': this emulator serves the app '${app.appId}'`);
      return null;
    }
    const records = profile.dataFor(scope);
    if (!records) {
      problem(res, 400, 'config', `Unknown scope request '${scope}': expected one of ${Object.keys(profile.scopes).join(', ')}`);
      return null;
    }
    return records;
  }

  return function handle(req, res, pathname, bodyText) {
    const file = ASSETS[pathname];
    const isBrowserPath = file || pathname === '/consent/request' || pathname === '/consent/allow';
    if (!isBrowserPath) return false;
    const cors = file && file[2] ? {
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
    } : {};

    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'GET, HEAD', 'Access-Control-Max-Age': '600' });
      res.end();
      return true;
    }
    if (file) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        problem(res, 405, 'webservice', 'Method Not Allowed');
        return true;
      }
      const [name, type] = file;
      // No frame-ancestors: a page off the whitelist must still hear why it was refused (the
      // answer goes by postMessage to the named parent origin only, so other framers learn nothing).
      const frame = pathname === '/consent' ? { 'Content-Security-Policy': "default-src 'self'" } : {};
      send(res, 200, asset(name), type, { ...cors, ...frame });
      return true;
    }

    const query = new URLSearchParams(req.url.split('?')[1] ?? '');
    if (pathname === '/consent/request') {
      if (req.method !== 'GET') {
        problem(res, 405, 'webservice', 'Method Not Allowed');
        return true;
      }
      const scope = query.get('scope') ?? '';
      const records = scopeRequest(res, query.get('appId') ?? '', scope, query.get('parent') ?? '');
      if (!records) return true;
      send(res, 200, {
        app: { appId: app.appId, name: app.name },
        scope,
        mode: query.get('mode') ?? 'signup',
        records: records.map((r) => ({ label: r.label, description: DESCRIPTIONS[r.label] ?? r.label, value: r.value })),
      });
      return true;
    }

    // POST /consent/allow: the user allowed; mint the auth code the exchange will redeem.
    if (req.method !== 'POST') {
      problem(res, 405, 'webservice', 'Method Not Allowed');
      return true;
    }
    // Only the emulator's own consent page may ask (a page elsewhere cannot mint codes).
    const origin = foreignOrigin(req);
    if (origin !== null) {
      problem(res, 403, 'webservice', `Cross-origin request from ${origin} refused`);
      return true;
    }
    let body;
    try {
      body = JSON.parse(bodyText);
    } catch {
      body = null;
    }
    if (!isPlainObject(body) || typeof body.appId !== 'string' || typeof body.scope !== 'string') {
      problem(res, 400, 'webservice', 'Expected a JSON body { appId, scope, parent }');
      return true;
    }
    const records = scopeRequest(res, body.appId, body.scope, body.parent);
    if (!records) return true;
    send(res, 200, { authCode: mint(records, { userId }) });
    return true;
  };
}

module.exports = {
  buildProfile, loadUserFile, browserRoutes, DEFAULT_USER_RECORDS, DEFAULT_SCOPES,
};
