'use strict';

// The emulator's browser half over real HTTP: civic.sip.js and its stylesheet (cross-origin),
// the consent screen's endpoints, the auth codes they mint (exchanged with civic-sip-native),
// the configurable user, and the types. The page itself runs in Chromium in e2e.test.js.
//
// Run: node --test __test__/emulator-browser.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const civicSip = require('..');
const {
  startEmulator, DEFAULT_USER_DATA, DEFAULT_USER_RECORDS, DEFAULT_SCOPES,
} = require('../emulator');
const { emulator: start } = require('./helpers/support');
const { httpRequest } = require('./helpers/servers');
const { decodeJwt } = require('./helpers/civic');

const root = path.resolve(__dirname, '..');
const OPTS = { timeout: 20000 };
const EMAIL = 'contact.personal.email';

function allow(emu, body, headers = {}) {
  return httpRequest(`${emu.url}consent/allow`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
}

async function exchange(emu, body) {
  const res = await allow(emu, body);
  assert.equal(res.status, 200, res.body);
  return civicSip.newClient(emu.clientConfig()).exchangeCode(JSON.parse(res.body).authCode);
}

test('civic.sip.js and its stylesheet: served as files, to pages of any origin', OPTS, async (t) => {
  const emu = await start(t);
  assert.equal(emu.scriptUrl, `${emu.url}js/civic.sip.js`);
  assert.equal(emu.stylesheetUrl, `${emu.url}css/civic-modal.css`);
  const cases = [
    ['js/civic.sip.js', 'civic.sip.js', 'text/javascript; charset=utf-8'],
    ['js/civic.sip-v0.1.js', 'civic.sip.js', 'text/javascript; charset=utf-8'],
    ['css/civic-modal.css', 'civic-modal.css', 'text/css; charset=utf-8'],
    // Civic's hosted names: a page written for hosted-sip.civic.com needs only another host.
    ['js/civic.sip.min.js', 'civic.sip.js', 'text/javascript; charset=utf-8'],
    ['css/civic-modal.min.css', 'civic-modal.css', 'text/css; charset=utf-8'],
  ];
  for (const [urlPath, file, type] of cases) {
    const res = await httpRequest(`${emu.url}${urlPath}`, { headers: { Origin: 'http://localhost:3000' } });
    assert.equal(res.status, 200, urlPath);
    assert.equal(res.headers['content-type'], type);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['cross-origin-resource-policy'], 'cross-origin');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.body, fs.readFileSync(path.join(root, 'emulator', 'browser', file), 'utf8'));
  }
  const head = await httpRequest(emu.scriptUrl, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(Number(head.headers['content-length']), fs.statSync(path.join(root, 'emulator', 'browser', 'civic.sip.js')).size);

  const preflight = await httpRequest(emu.scriptUrl, { method: 'OPTIONS', headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], '*');
  assert.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD');

  const post = await httpRequest(emu.scriptUrl, { method: 'POST', body: '' });
  assert.equal(post.status, 405);
  assert.deepEqual(JSON.parse(post.body), { error: { type: 'webservice', message: 'Method Not Allowed' } });
});

test('the consent page: same-origin only, its own scripts only', OPTS, async (t) => {
  const emu = await start(t);
  const page = await httpRequest(`${emu.url}consent?appId=${emu.app.appId}&scope=BASIC_SIGNUP&mode=signup&parent=http%3A%2F%2Flocalhost%3A3000`);
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['content-security-policy'], "default-src 'self'");
  assert.equal(page.headers['access-control-allow-origin'], undefined);
  assert.match(page.body, /<script src="\/consent\/consent\.js" defer><\/script>/);
  for (const [file, type] of [['consent.js', 'text/javascript; charset=utf-8'], ['consent.css', 'text/css; charset=utf-8']]) {
    const res = await httpRequest(`${emu.url}consent/${file}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], type);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  }
  // The exchange endpoint is not for browsers: its answers are unchanged.
  const options = await httpRequest(`${emu.url}prod/scopeRequest/authCode`, { method: 'OPTIONS' });
  assert.equal(options.status, 405);
  assert.equal((await httpRequest(`${emu.url}js/other.js`)).status, 404);
});

test('GET /consent/request: the app, the scope and the records the user is asked for', OPTS, async (t) => {
  const emu = await start(t, { app: { name: 'Shop' } });
  const ask = (query) => httpRequest(`${emu.url}consent/request?${new URLSearchParams(query)}`);

  const res = await ask({ appId: emu.app.appId, scope: 'PROOF_OF_EMAIL', mode: 'login', parent: 'http://localhost:3000' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.deepEqual(JSON.parse(res.body), {
    app: { appId: emu.app.appId, name: 'Shop' },
    scope: 'PROOF_OF_EMAIL',
    mode: 'login',
    records: [{ label: EMAIL, description: 'Email', value: 'user@example.com' }],
  });
  assert.equal(emu.app.name, 'Shop');

  const unknownApp = await ask({ appId: 'Other', scope: 'BASIC_SIGNUP' });
  assert.equal(unknownApp.status, 403);
  assert.deepEqual(JSON.parse(unknownApp.body), {
    error: { type: 'config', message: `Unknown application ID 'Other': this emulator serves the app '${emu.app.appId}'` },
  });
  const unknownScope = await ask({ appId: emu.app.appId, scope: 'NOPE' });
  assert.equal(unknownScope.status, 400);
  assert.deepEqual(JSON.parse(unknownScope.body), {
    error: { type: 'config', message: "Unknown scope request 'NOPE': expected one of BASIC_SIGNUP, ANONYMOUS_LOGIN, PROOF_OF_EMAIL, PROOF_OF_IDENTITY, PROOF_OF_RESIDENCE, PROOF_OF_AGE" },
  });
  assert.equal((await httpRequest(`${emu.url}consent/request`, { method: 'POST', body: '{}' })).status, 405);
});

test('POST /consent/allow: an auth code that exchanges for the scope\'s records, one userId per user', OPTS, async (t) => {
  const emu = await start(t);
  const res = await allow(emu, { appId: emu.app.appId, scope: 'BASIC_SIGNUP' }, { Origin: emu.url.slice(0, -1) });
  assert.equal(res.status, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
  const { authCode } = JSON.parse(res.body);
  const { header, claims } = decodeJwt(authCode);
  assert.deepEqual(header, { alg: 'ES256', typ: 'JWT' });
  assert.equal(claims.iss, 'civic-sip-hosted-service');
  assert.equal(claims.sub, emu.app.appId);
  assert.match(claims.data.codeToken, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(Math.round(claims.exp - claims.iat), 1800);

  const basic = await civicSip.newClient(emu.clientConfig()).exchangeCode(authCode);
  assert.deepEqual(basic.data, DEFAULT_USER_DATA);
  assert.deepEqual(emu.userDataFor('BASIC_SIGNUP'), DEFAULT_USER_DATA);
  assert.match(basic.userId, /^[0-9a-f]{64}$/);

  const identity = await exchange(emu, { appId: emu.app.appId, scope: 'PROOF_OF_IDENTITY' });
  assert.deepEqual(identity.data.map((r) => [r.label, r.value]), [
    [EMAIL, 'user@example.com'],
    ['contact.personal.phoneNumber', '+1 555 0100'],
    ['documents.genericId.type', 'passport'],
    ['documents.genericId.number', 'X1234567'],
    ['documents.genericId.name', 'Alex Example'],
    ['documents.genericId.dateOfBirth', '1990-01-31'],
    ['documents.genericId.dateOfIssue', '2020-06-01'],
    ['documents.genericId.dateOfExpiry', '2030-05-31'],
    ['documents.genericId.country', 'USA'],
  ]);
  assert.equal(identity.userId, basic.userId);
  const anonymous = await exchange(emu, { appId: emu.app.appId, scope: 'ANONYMOUS_LOGIN' });
  assert.deepEqual(anonymous, { data: [], userId: basic.userId });

  // Another app (another emulator) sees another userId for the same user.
  const other = await start(t);
  assert.notEqual((await exchange(other, { appId: other.app.appId, scope: 'ANONYMOUS_LOGIN' })).userId, basic.userId);
});

test('POST /consent/allow refuses other origins, other apps, unknown scopes and bad bodies', OPTS, async (t) => {
  const emu = await start(t);
  const refused = async (res, status, error) => {
    assert.equal(res.status, status);
    assert.deepEqual(JSON.parse(res.body), { error });
  };
  await refused(await allow(emu, { appId: emu.app.appId, scope: 'BASIC_SIGNUP' }, { Origin: 'http://evil.example' }), 403,
    { type: 'webservice', message: 'Cross-origin request from http://evil.example refused' });
  await refused(await allow(emu, { appId: 'Other', scope: 'BASIC_SIGNUP' }), 403,
    { type: 'config', message: `Unknown application ID 'Other': this emulator serves the app '${emu.app.appId}'` });
  await refused(await allow(emu, { appId: emu.app.appId, scope: 'toString' }), 400,
    { type: 'config', message: "Unknown scope request 'toString': expected one of BASIC_SIGNUP, ANONYMOUS_LOGIN, PROOF_OF_EMAIL, PROOF_OF_IDENTITY, PROOF_OF_RESIDENCE, PROOF_OF_AGE" });
  await refused(await httpRequest(`${emu.url}consent/allow`, { method: 'POST', body: 'not json' }), 400,
    { type: 'webservice', message: 'Expected a JSON body { appId, scope, parent }' });
  await refused(await allow(emu, { appId: emu.app.appId }), 400,
    { type: 'webservice', message: 'Expected a JSON body { appId, scope, parent }' });
  await refused(await httpRequest(`${emu.url}consent/allow`), 405, { type: 'webservice', message: 'Method Not Allowed' });
});

test('origins: only whitelisted pages may open the consent screen', OPTS, async (t) => {
  const emu = await start(t, { origins: ['http://localhost:3000'] });
  const ok = await httpRequest(`${emu.url}consent/request?${new URLSearchParams({ appId: emu.app.appId, scope: 'BASIC_SIGNUP', parent: 'http://localhost:3000' })}`);
  assert.equal(ok.status, 200);
  const off = await httpRequest(`${emu.url}consent/request?${new URLSearchParams({ appId: emu.app.appId, scope: 'BASIC_SIGNUP', parent: 'http://localhost:4000' })}`);
  assert.equal(off.status, 403);
  assert.deepEqual(JSON.parse(off.body), { error: { type: 'config', message: `The page http://localhost:4000 is not whitelisted for the app '${emu.app.appId}'` } });
  const minted = await allow(emu, { appId: emu.app.appId, scope: 'BASIC_SIGNUP', parent: 'http://localhost:4000' });
  assert.equal(minted.status, 403);
  assert.equal((await allow(emu, { appId: emu.app.appId, scope: 'BASIC_SIGNUP', parent: 'http://localhost:3000' })).status, 200);
  await assert.rejects(startEmulator({ origins: 'http://localhost:3000' }), {
    name: 'TypeError', message: 'origins must be a list of origins such as http://localhost:3000',
  });
});

test('user: the emulated user\'s values, flags, scopes and userId are configurable', OPTS, async (t) => {
  const emu = await start(t, {
    user: {
      records: {
        [EMAIL]: 'ada@example.com',
        'custom.membership': { value: 'gold', isValid: false, isOwner: false },
      },
      scopes: { MEMBERSHIP: ['custom.membership', EMAIL], PROOF_OF_EMAIL: [EMAIL] },
      userId: 'ada-1',
    },
  });
  assert.deepEqual(await exchange(emu, { appId: emu.app.appId, scope: 'MEMBERSHIP' }), {
    data: [
      { label: 'custom.membership', value: 'gold', isValid: false, isOwner: false },
      { label: EMAIL, value: 'ada@example.com', isValid: true, isOwner: true },
    ],
    userId: 'ada-1',
  });
  // The defaults still apply where nothing was said.
  assert.deepEqual(emu.userDataFor('PROOF_OF_AGE'), [{ label: 'documents.genericId.dateOfBirth', value: '1990-01-31', isValid: true, isOwner: true }]);
  assert.equal(emu.userDataFor('NOPE'), null);
  assert.equal(DEFAULT_USER_RECORDS[EMAIL], 'user@example.com');
  assert.deepEqual(Object.keys(DEFAULT_SCOPES), ['BASIC_SIGNUP', 'ANONYMOUS_LOGIN', 'PROOF_OF_EMAIL', 'PROOF_OF_IDENTITY', 'PROOF_OF_RESIDENCE', 'PROOF_OF_AGE']);
  // The records returned are copies: changing them changes nothing in the emulator.
  emu.userDataFor('PROOF_OF_EMAIL')[0].value = 'changed';
  assert.equal(emu.userDataFor('PROOF_OF_EMAIL')[0].value, 'ada@example.com');

  const invalid = [
    [{ records: { x: 1 } }, "user.records['x'] must be a string or { value: string, isValid?, isOwner? }"],
    [{ records: { x: { value: 'y', isValid: 'yes' } } }, "user.records['x'].isValid must be a boolean"],
    [{ scopes: { GOLD: ['no.such.label'] } }, "user.scopes.GOLD: no value for 'no.such.label' in user.records"],
    [{ scopes: { GOLD: 'x' } }, 'user.scopes.GOLD must be a list of labels'],
    [{ email: 'x' }, "user: unknown field 'email' (expected records, scopes, userId)"],
    [{ userId: '' }, 'user.userId must be a non-empty string'],
    [[], 'user must be an object: { records, scopes, userId }'],
  ];
  for (const [user, message] of invalid) {
    await assert.rejects(startEmulator({ user }), { name: 'TypeError', message });
  }
});

test('emulator/index.d.ts: the browser-flow API type-checks, and its misuses do not', OPTS, async () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = await new Promise((resolve) => {
    execFile(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.emulator.json')], { cwd: root },
      (error, stdout) => resolve({ code: error ? error.code : 0, stdout }));
  });
  assert.deepEqual(out, { code: 0, stdout: '' });
});
