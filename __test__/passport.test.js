'use strict';

// civic-sip-native/passport with the real Passport (its authenticate middleware, no session) on a
// node:http server, exchanging auth codes with the emulator. Checks what the browser gets (the
// status, the body), what the app's verify callback got, and which failures are an
// authentication failure (401) and which an error (the error, with its code, to the app).
//
// Run: node --test __test__/passport.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const passport = require('passport');

const civicSip = require('..');
const { Strategy } = require('../passport');
const { emulator: start, httpServer } = require('./helpers/support');
const { closedPort } = require('./helpers/servers');

const OPTS = { timeout: 20000 };

/**
 * A sign-in route as an app writes it: body parsing, `passport.authenticate(name, { session:
 * false })`, then the signed-in user as JSON; an error reaches the app's error handler, which
 * answers 500 with the error's code.
 */
async function app(t, strategy) {
  const authenticator = new passport.Passport();
  authenticator.use(strategy);
  const seen = { errors: [] };
  const server = await httpServer(t, (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    req.query = Object.fromEntries(url.searchParams);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      req.body = text ? JSON.parse(text) : undefined;
      authenticator.authenticate(strategy.name, { session: false })(req, res, (error) => {
        if (error) {
          seen.errors.push(error);
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ code: error.code }));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ user: req.user, info: req.authInfo }));
      });
    });
  }, { readBody: false });
  const url = `${server.url}auth/civic`;
  const post = async (body, query = '') => {
    const res = await fetch(`${url}${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.text(), headers: res.headers };
  };
  return { post, seen };
}

test('a good auth code: verify gets the user data exchangeCode gives, and the user is signed in', OPTS, async (t) => {
  const emu = await start(t);
  const calls = [];
  const strategy = new Strategy(emu.clientConfig(), (userData, done) => {
    calls.push(userData);
    done(null, { id: userData.userId, email: civicSip.byLabel(userData)['contact.personal.email'].value }, { scope: 'basic' });
  });
  assert.equal(strategy.name, 'civic');
  const { post } = await app(t, strategy);
  const authCode = emu.mintAuthCode();
  const res = await post({ authCode });
  assert.equal(res.status, 200, res.body);
  const expected = await civicSip.newClient(emu.clientConfig()).exchangeCode(authCode);
  assert.deepEqual(calls, [expected]);
  assert.deepEqual(JSON.parse(res.body), { user: { id: expected.userId, email: 'user@example.com' }, info: { scope: 'basic' } });

  // The query when the body has none.
  const viaQuery = await post(undefined, `?authCode=${encodeURIComponent(emu.mintAuthCode())}`);
  assert.equal(viaQuery.status, 200, viaQuery.body);
  assert.equal(calls.length, 2);
});

test('authCodeField, name, passReqToCallback and an existing client', OPTS, async (t) => {
  const emu = await start(t);
  const client = civicSip.newClient(emu.clientConfig());
  const strategy = new Strategy({
    client, name: 'civic-sip', authCodeField: 'code', passReqToCallback: true,
  }, (req, userData, done) => {
    done(null, { id: userData.userId, path: req.url });
  });
  assert.equal(strategy.name, 'civic-sip');
  const { post } = await app(t, strategy);
  const res = await post({ code: emu.mintAuthCode() });
  assert.equal(res.status, 200, res.body);
  assert.equal(JSON.parse(res.body).user.path, '/auth/civic');
  // The default field is not read when another is named.
  assert.equal((await post({ authCode: emu.mintAuthCode() })).status, 400);
});

test('no auth code, or not a string: 400, nothing sent to Civic', OPTS, async (t) => {
  const emu = await start(t);
  let verified = 0;
  const { post, seen } = await app(t, new Strategy(emu.clientConfig(), (userData, done) => { verified += 1; done(null, {}); }));
  for (const [body, query] of [[undefined, ''], [{}, ''], [{ authCode: '' }, ''], [{ authCode: 42 }, ''], [{ authCode: ['a', 'b'] }, ''], [{ authCode: { $ne: 1 } }, ''], [undefined, '?other=1']]) {
    const res = await post(body, query);
    assert.equal(res.status, 400, JSON.stringify(body));
  }
  assert.equal(verified, 0);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(emu.requests, [], 'no exchange was attempted');
});

test("Civic refuses the auth code (400: bad, used, expired): an authentication failure, 401", OPTS, async (t) => {
  const emu = await start(t);
  const other = await start(t);
  let verified = 0;
  const { post, seen } = await app(t, new Strategy(emu.clientConfig(), (userData, done) => { verified += 1; done(null, {}); }));
  for (const authCode of ['not-a-jwt', emu.mintAuthCode(undefined, { expiresIn: -5 }), other.mintAuthCode()]) {
    const res = await post({ authCode });
    assert.equal(res.status, 401, authCode);
    assert.equal(res.body, 'Unauthorized');
  }
  assert.equal(verified, 0);
  assert.deepEqual(seen.errors, []);
});

test('the failure info Passport keeps: the message, the code and the error', OPTS, async (t) => {
  const emu = await start(t);
  const strategy = new Strategy(emu.clientConfig(), (userData, done) => done(null, {}));
  // Passport's own way to see a failure: authenticate with a callback.
  const authenticator = new passport.Passport();
  authenticator.use(strategy);
  const outcome = await new Promise((resolve) => {
    const req = { body: { authCode: 'not-a-jwt' }, query: {} };
    authenticator.authenticate('civic', { session: false }, (error, user, info, status) => resolve({
      error, user, info, status,
    }))(req, {}, () => {});
  });
  assert.equal(outcome.error, null);
  assert.equal(outcome.user, false);
  assert.equal(outcome.status, 401);
  assert.equal(outcome.info.message, 'Civic refused the auth code');
  assert.equal(outcome.info.code, 'ERR_CIVIC_HTTP_STATUS');
  assert.deepEqual(outcome.info.error.response, { statusCode: 400, body: '{"message":"Invalid auth code"}' });
});

test("the app's or Civic's problems are errors, with the exchange's code: 500, never a 401", OPTS, async (t) => {
  const emu = await start(t);
  const port = await closedPort();
  const cases = [
    ['wrong appSecret (Civic says 401 to the app)', emu.clientConfig({ appSecret: '11'.repeat(16) }), null, 'ERR_CIVIC_HTTP_STATUS', 401],
    ['wrong api (404)', emu.clientConfig({ api: `${emu.url}sip/` }), null, 'ERR_CIVIC_HTTP_STATUS', 404],
    ['rate limited (429)', emu.clientConfig(), 'rateLimited', 'ERR_CIVIC_HTTP_STATUS', 429],
    ['Civic down (500)', emu.clientConfig(), 'serverError', 'ERR_CIVIC_HTTP_STATUS', 500],
    ['network', emu.clientConfig({ api: `http://127.0.0.1:${port}/` }), null, 'ERR_CIVIC_NETWORK'],
    ['verification', emu.clientConfig(), 'wrongKey', 'ERR_CIVIC_VERIFICATION'],
    ['decryption', emu.clientConfig(), 'badPadding', 'ERR_CIVIC_DECRYPTION'],
    ['timeout', emu.clientConfig({ timeout: 200 }), 'hang', 'ERR_CIVIC_TIMEOUT'],
    ['configuration', emu.clientConfig({ prvKey: 'not hex' }), null, 'ERR_CIVIC_CONFIG'],
  ];
  for (const [why, config, fault, code, status] of cases) {
    let verified = 0;
    const { post, seen } = await app(t, new Strategy(config, (userData, done) => { verified += 1; done(null, {}); }));
    if (fault) emu.fault(fault, { times: 1 });
    const res = await post({ authCode: emu.mintAuthCode() });
    assert.equal(res.status, 500, why);
    assert.deepEqual(JSON.parse(res.body), { code }, why);
    assert.equal(seen.errors.length, 1, why);
    assert.equal(seen.errors[0].code, code, why);
    assert.match(seen.errors[0].message, /^Error exchanging code for data: /, why);
    if (status) assert.equal(seen.errors[0].response.statusCode, status, why);
    assert.equal(verified, 0, why);
  }
});

test("verify's answers: false is a failure, an error or a throw is an error", OPTS, async (t) => {
  const emu = await start(t);
  const boom = new Error('database down');
  const answers = [
    [(userData, done) => done(null, false, { message: 'no account' }), 401, 0],
    [(userData, done) => done(boom), 500, 1],
    [() => { throw boom; }, 500, 1],
  ];
  for (const [verify, status, errors] of answers) {
    const { post, seen } = await app(t, new Strategy(emu.clientConfig(), verify));
    const res = await post({ authCode: emu.mintAuthCode() });
    assert.equal(res.status, status);
    assert.equal(seen.errors.length, errors);
    if (errors) assert.equal(seen.errors[0], boom);
  }
});

test('construction: clear errors, and no secret in util.inspect', OPTS, async (t) => {
  const emu = await start(t);
  const config = emu.clientConfig();
  assert.throws(() => new Strategy(config), { name: 'TypeError', message: /needs a verify callback/ });
  assert.throws(() => new Strategy(undefined, () => {}), { name: 'TypeError', message: /needs options/ });
  assert.throws(() => new Strategy({ ...config, authCodeField: '' }, () => {}), { name: 'TypeError', message: /authCodeField must be a non-empty string/ });
  assert.throws(() => new Strategy({ client: {} }, () => {}), { name: 'TypeError', message: /client must be a client from newClient\(\)/ });
  // The client's own rules: a missing appSecret throws civic-sip-api's message.
  assert.throws(() => new Strategy({ appId: 'a', prvKey: 'b' }, () => {}), { message: 'Please supply your application secret.', code: 'ERR_CIVIC_CONFIG' });
  const strategy = new Strategy(config, () => {});
  const shown = util.inspect(strategy, { showHidden: true, depth: 5 });
  for (const secret of [config.appSecret, config.prvKey]) assert.ok(!shown.includes(secret), shown);
});
