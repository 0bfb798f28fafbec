'use strict';

// Replies that are not user data: every HTTP status as civic-sip-api words it (with `statusCode` and
// `body` under `response`), 200s that are not a reply (not JSON, no data, hostile JSON), and
// redirects, which never carry the auth code anywhere.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/http-errors.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, httpServer, proxyServer, records,
} = require('./helpers/support');
const {
  PREFIX, NOT_VERIFIED, rejectsWith,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;
const b64uJson = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

describe('HTTP status errors', () => {
  const { STATUS_FAULTS } = civic;

  test('every emulator status fault: `<status> - <JSON of the body text>`', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    for (const [fault, status, body] of STATUS_FAULTS) {
      emu.fault(fault);
      await rejectsWith(client.exchangeCode(code), {
        message: `${PREFIX}${status} - ${JSON.stringify(body)}`, code: codes.HTTP_STATUS, statusCode: status, body,
      });
    }
    assert.equal(emu.requests.length, STATUS_FAULTS.length);
  });

  test('docs/protocol.md example: 401 with Civic\'s body', OPTS, async (t) => {
    const emu = await emulator(t);
    emu.fault('unauthorized');
    await rejectsWith(civicSip.newClient(emu.clientConfig()).exchangeCode(emu.mintAuthCode()), {
      message: 'Error exchanging code for data: 401 - "{\\"message\\":\\"Unauthorized\\"}"',
      code: 'ERR_CIVIC_HTTP_STATUS',
      statusCode: 401,
      body: '{"message":"Unauthorized"}',
    });
  });

  test('genuine 401s: wrong prvKey, wrong appSecret, wrong appId', OPTS, async (t) => {
    const emu = await emulator(t);
    const code = emu.mintAuthCode();
    const expected = {
      message: `${PREFIX}401 - "{\\"message\\":\\"Unauthorized\\"}"`,
      code: codes.HTTP_STATUS,
      statusCode: 401,
      body: '{"message":"Unauthorized"}',
    };
    for (const override of [
      { prvKey: civic.newKeyPair().privateHex },
      { appSecret: crypto.randomBytes(16).toString('hex') },
      { appId: 'someoneElse' },
    ]) {
      await rejectsWith(civicSip.newClient(emu.clientConfig(override)).exchangeCode(code), expected);
    }
  });

  test('an auth code the server refuses: 400 Invalid auth code (the request itself was authorised)', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    // Odd characters must be serialised as JSON.stringify does, or Civic's HMAC check (over its
    // own key-sorted serialisation of the body) fails with 401.
    const odd = 'ü 😀 中 \u2028\u2029 \u0001\u001f\u007f " \\ / <script>&</script> \b\f\n\r\t é';
    for (const authCode of ['not-a-jwt', '', emu.mintAuthCode(undefined, { expiresIn: -10 }), odd, 'x'.repeat(100000)]) {
      await rejectsWith(client.exchangeCode(authCode), {
        message: `${PREFIX}400 - "{\\"message\\":\\"Invalid auth code\\"}"`,
        code: codes.HTTP_STATUS,
        statusCode: 400,
        body: '{"message":"Invalid auth code"}',
      });
    }
  });

  test('custom bodies and statuses: text, empty, escapes, 404, 302, 2xx other than 200', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    const cases = [
      [{ body: 'Service "down"\n\tfor now', contentType: 'text/plain' }, 500],
      [{ body: '' }, 503, 'serverError'],
      [{ body: 'ünïcödé 😀 \u2028' }, 502, 'serverError'],
      [{ body: '<html><body>Bad gateway</body></html>', contentType: 'text/html' }, 502, 'serverError'],
      [{ body: 'moved' }, 302, 'badRequest'],
    ];
    for (const [options, status, fault = 'serverError'] of cases) {
      emu.fault(fault, { ...options, status });
      await rejectsWith(client.exchangeCode(code), {
        message: `${PREFIX}${status} - ${JSON.stringify(options.body)}`, code: codes.HTTP_STATUS, statusCode: status, body: options.body,
      });
    }
    emu.fault(null);
    // An unknown path: the emulator's 404.
    await rejectsWith(civicSip.newClient(emu.clientConfig({ env: 'a/b' })).exchangeCode(code), {
      message: `${PREFIX}404 - "{\\"message\\":\\"Not Found\\"}"`, code: codes.HTTP_STATUS, statusCode: 404, body: '{"message":"Not Found"}',
    });
    // 2xx other than 200 goes through processPayload, which says `<status> <body>`.
    emu.fault('badRequest', { status: 201, body: 'created' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}201 created`, code: codes.HTTP_STATUS, statusCode: 201, body: 'created',
    });
    emu.fault('badRequest', { status: 204, body: '' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}204 `, code: codes.HTTP_STATUS, statusCode: 204, body: '',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('invalid replies', () => {
  test('200 that is not JSON', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const code = emu.mintAuthCode();
    emu.fault('notJson');
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}Invalid response body or body data not found: "Service unavailable"`, code: codes.INVALID_RESPONSE,
    });
    emu.fault('notJson', { body: '<html>"oops"</html>\n' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}Invalid response body or body data not found: "<html>\\"oops\\"</html>\\n"`, code: codes.INVALID_RESPONSE,
    });
    emu.fault('notJson', { body: '' });
    await rejectsWith(client.exchangeCode(code), {
      message: `${PREFIX}Invalid response body or body data not found: ""`, code: codes.INVALID_RESPONSE,
    });
  });

  test('200 without data: the body as JSON.stringify(JSON.parse(body)) gives it', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    emu.fault('noData');
    await rejectsWith(client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'nodata' })), {
      message: `${PREFIX}Invalid response body or body data not found: {"userId":"nodata","encrypted":true,"alg":"aes"}`,
      code: codes.INVALID_RESPONSE,
    });
    const code = emu.mintAuthCode();
    for (const [body, shown] of [
      ['{"data":""}', '{"data":""}'],
      ['{"data":null,"userId":"u"}', '{"data":null,"userId":"u"}'],
      ['{"data":0}', '{"data":0}'],
      ['{"data":false}', '{"data":false}'],
      ['{ "a" : 1.50, "b": [ 1e2 ], "data": "" }', '{"a":1.5,"b":[100],"data":""}'],
      ['{"2":"b","1":"a","data":""}', '{"1":"a","2":"b","data":""}'],
      ['[1,2]', '[1,2]'],
      ['null', 'null'],
      ['"just a string"', '"just a string"'],
      ['42', '42'],
      ['{}', '{}'],
    ]) {
      emu.fault('notJson', { body, contentType: 'application/json' });
      await rejectsWith(client.exchangeCode(code), {
        message: `${PREFIX}Invalid response body or body data not found: ${shown}`, code: codes.INVALID_RESPONSE,
      });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('a redirect never carries the auth code anywhere', () => {
  // The exchange POST is never followed, whatever its URL looks like: the policy belongs to the
  // request, not to the shape of its URL. Every 3xx, with and without Location, with a query or
  // fragment in `api` or `env`, direct and through a proxy; the second server must see nothing.
  test('every 3xx to the exchange POST is its answer; nothing reaches the Location host', OPTS, async (t) => {
    const elsewhere = await httpServer(t, (req, res) => { res.writeHead(200); res.end('{"data":"stolen"}'); });
    let answer;
    const civicLike = await httpServer(t, (req, res) => answer(req, res));
    const proxy = await proxyServer(t);
    const routes = [
      ['api with a query', { api: `${civicLike.url}sip?gw=1` }],
      ['api with a fragment', { api: `${civicLike.url}sip#frag` }],
      ['env with ?', { api: civicLike.url, env: 'prod?x=scopeRequest/authCode' }],
      ['env with #', { api: civicLike.url, env: 'prod#' }],
      ['plain api', { api: civicLike.url }],
      ['no stage, query in api', { api: `${civicLike.url}?a=1`, includeStageInURL: false }],
      ['through a proxy, api with a query', { api: `${civicLike.url}sip?gw=1`, proxy: { url: proxy.url } }],
    ];
    const targets = [
      `${elsewhere.url}elsewhere`,
      `${elsewhere.url}sip?gw=1/prod/scopeRequest/authCode`,
      '//localhost:1/scheme-relative',
      '/same-host-other-path',
      null,
    ];
    let cases = 0;
    for (const status of [300, 301, 302, 303, 307, 308]) {
      for (const target of targets) {
        answer = (req, res) => {
          res.writeHead(status, target === null ? {} : { Location: target.replace('localhost:1', `localhost:${elsewhere.port}`) });
          res.end();
        };
        for (const [name, options] of routes) {
          const before = civicLike.requests.length;
          const client = civicSip.newClient({ ...civic.newApp(), ...options });
          await rejectsWith(client.exchangeCode('the-auth-code'), {
            message: `${PREFIX}${status} - ""`, code: codes.HTTP_STATUS, statusCode: status, body: '',
          });
          // One POST, with the auth code, to the server it was addressed to, and nothing else.
          const sent = civicLike.requests.slice(before);
          assert.deepEqual(sent.map((r) => r.method), ['POST'], `${status} ${target} ${name}`);
          assert.match(sent[0].body, /"authToken":"the-auth-code"/);
          cases += 1;
        }
      }
    }
    assert.equal(elsewhere.requests.length, 0, JSON.stringify(elsewhere.requests.map((r) => [r.method, r.url])));
    assert.ok(proxy.requests.every((r) => r.method === 'POST' && r.url.startsWith(civicLike.url)), JSON.stringify(proxy.requests.map((r) => r.url)));
    assert.equal(proxy.requests.length, 6 * targets.length);
    t.diagnostic(`${cases} redirects refused`);
  });

  test('the payload GET still follows redirects (any 3xx with a Location), relative or not', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const other = await httpServer(t, (req, res) => { res.writeHead(200); res.end(fake.token()); });
    for (const status of [301, 302, 303, 307, 308]) {
      fake.route('/moved', { status, headers: { Location: `${other.url}token?x=1` } });
      fake.processed({ status, headers: { Location: '/moved' } });
      assert.deepEqual(await civicSip.newClient(fake.clientConfig()).exchangeCode('code'),
        { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    }
    assert.deepEqual(other.requests.map((r) => `${r.method} ${r.url}`), Array(5).fill('GET /token?x=1'));
    // A redirect without Location is the answer, as in civic-sip-api.
    fake.processed({ status: 302 });
    await rejectsWith(civicSip.newClient(fake.clientConfig()).exchangeCode('code'), {
      message: `${PREFIX}Could not return data from processed payload url: StatusCodeError: 302 - ""`, code: codes.HTTP_STATUS, statusCode: 302, body: '',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('hostile JSON gets a clear error', () => {
  test('100,000-deep nesting in the reply, in the token\'s claims and in the user data', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const deep = `${'['.repeat(100000)}${']'.repeat(100000)}`;
    const deepObject = `${'{"a":'.repeat(100000)}1${'}'.repeat(100000)}`;
    // Where the token should be: not a token (civic-sip-api, whose JSON.parse reads deep nesting, says the same).
    for (const body of [`{"data":${deep}}`, `{"userId":${deepObject},"data":"x"}`]) {
      fake.onExchange = (req, res) => fake.send(res, 200, body);
      await rejectsWith(client.exchangeCode('code'), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    }
    // As the whole reply: not an object, so an invalid response, the body shown as text.
    fake.onExchange = (req, res) => fake.send(res, 200, deep);
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Invalid response body or body data not found: ${JSON.stringify(deep)}`, code: codes.INVALID_RESPONSE,
    });
    const { claims } = civic.decodeJwt(fake.token());
    const token = civic.signJwt({ ...claims, extra: 0 }, fake.civicKey.privateKey);
    const [h] = token.split('.');
    const deepClaims = b64uJson(JSON.stringify({ ...claims, extra: 0 }).replace('"extra":0', `"extra":${deep}`));
    const deepSigned = `${h}.${deepClaims}.${crypto.sign('sha256', Buffer.from(`${h}.${deepClaims}`), { key: fake.civicKey.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: deepSigned }));
    await rejectsWith(client.exchangeCode('code'), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: deep }) }));
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Could not decrypt user data: the clear text is nested too deeply`, code: codes.DECRYPTION,
    });
  });

  test('invalid UTF-8 in the reply and in the user data', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const token = fake.token();
    // Invalid bytes inside the token string: decoded as U+FFFD (as request did), so the token no longer verifies.
    fake.onExchange = (req, res) => {
      const body = Buffer.from(civic.replyBody({ data: `${token}XX` }));
      body[body.indexOf('XX')] = 0xff;
      body[body.indexOf('X')] = 0xfe;
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    };
    await rejectsWith(client.exchangeCode('code'), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    // Invalid bytes outside any string: not JSON.
    fake.onExchange = (req, res) => {
      const body = Buffer.concat([Buffer.from('{"data":'), Buffer.from([0xc3, 0x28]), Buffer.from('}')]);
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    };
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Invalid response body or body data not found: "{\\"data\\":\ufffd(}"`, code: codes.INVALID_RESPONSE,
    });
    // User data that decrypts to bytes that are not UTF-8.
    const key = Buffer.from(fake.app.appSecret, 'hex');
    const iv = crypto.randomBytes(16);
    const cipher = crypto.createCipheriv('aes-128-cbc', key, iv);
    const encrypted = `${iv.toString('hex')}${Buffer.concat([cipher.update(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d])), cipher.final()]).toString('base64')}`;
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: encrypted, encrypted: false }) }));
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Could not decrypt user data: the clear text is not UTF-8 (is the appSecret the one of this app?)`, code: codes.DECRYPTION,
    });
  });

  test('huge numbers: where the token should be, refused; in the user data, read as JSON.parse reads them', OPTS, async (t) => {
    // (exp beyond a double is in the forged-token cases, verification.test.js.)
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: '[{"label":"n","value":1e400}]' }) }));
    assert.deepEqual(await client.exchangeCode('code'), { data: [{ label: 'n', value: Infinity }], userId: 'fake-user-id' });
    fake.onExchange = (req, res) => fake.send(res, 200, `{"data":1e400,"userId":"u"}`);
    await rejectsWith(client.exchangeCode('code'), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    // A number of a thousand digits where the token should be: not a token.
    fake.onExchange = (req, res) => fake.send(res, 200, `{"data":${'9'.repeat(1000)},"userId":"u"}`);
    await rejectsWith(client.exchangeCode('code'), { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
  });

  test('duplicate keys: a reply or a token that names a member twice is refused', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const token = fake.token();
    const other = civic.signJwt(civic.decodeJwt(token).claims, civic.newKeyPair().privateKey);
    for (const body of [
      `{"data":${JSON.stringify(token)},"data":${JSON.stringify(other)},"userId":"u","encrypted":true}`,
      `{"data":${JSON.stringify(token)},"userId":"u","encrypted":true,"encrypted":false}`,
    ]) {
      fake.onExchange = (req, res) => fake.send(res, 200, body);
      const err = await rejectsWith(client.exchangeCode('code'), {
        message: new RegExp(`^${PREFIX}Invalid response body or body data not found: `), code: codes.INVALID_RESPONSE,
      });
      assert.ok(err.message.endsWith('}'), err.message);
    }
    // Nested duplicates inside the user data are the user data's business: kept as JSON.parse keeps them.
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: '[{"label":"a","label":"b"}]' }) }));
    assert.deepEqual(await client.exchangeCode('code'), { data: [{ label: 'b' }], userId: 'fake-user-id' });
  });
});
