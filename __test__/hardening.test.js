'use strict';

// A login path is a security boundary: whatever a broken, hostile or compromised upstream sends,
// the exchange settles quickly with a clear rejection (the civic-sip-api prefix and a distinct
// `code`), lets no forged data in, keeps its memory bounded and its secrets hidden. Every case
// talks to a real misbehaving server on 127.0.0.1.
//
// Run: node --test __test__/hardening.test.js

require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const { getEventListeners } = require('node:events');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const {
  closedPort, TLS_DIR, CA_PEM, tlsFixture,
} = require('./helpers/servers');
const civic = require('./helpers/civic');
const {
  emulator, fakeCivic, httpServer, socketServer, proxyServer, records, runNode, sleep,
} = require('./helpers/support');
const {
  PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, settle,
} = require('./helpers/assertions');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;
// A private CA (CA_PEM) and a server certificate it issued for 127.0.0.1 (valid until 2126).
const SERVER_TLS = tlsFixture('server');
const b64uJson = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

// ---------------------------------------------------------------------------------------------

describe('forged and malformed response tokens are verification failures', () => {
  test('alg none, HS256 keyed with the public key, other algorithms, another key, bad shapes, no exp, expired, repeated claims', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const good = fake.token();
    const { claims } = civic.decodeJwt(good);
    const [h, p, s] = good.split('.');
    const hs256Header = b64uJson({ alg: 'HS256', typ: 'JWT' });
    const now = Date.now() / 1000;
    const attacker = civic.newKeyPair();
    const sign = (c, header) => civic.signJwt(c, fake.civicKey.privateKey, header);
    const cases = {
      'alg none, no signature': `${b64uJson({ alg: 'none', typ: 'JWT' })}.${p}.`,
      'alg none, the original signature': `${b64uJson({ alg: 'none', typ: 'JWT' })}.${p}.${s}`,
      'HS256 keyed with Civic\'s public key (hex)': `${hs256Header}.${p}.${crypto.createHmac('sha256', fake.civicKey.publicHex).update(`${hs256Header}.${p}`).digest('base64url')}`,
      'HS256 keyed with Civic\'s public key (bytes)': `${hs256Header}.${p}.${crypto.createHmac('sha256', Buffer.from(fake.civicKey.publicHex, 'hex')).update(`${hs256Header}.${p}`).digest('base64url')}`,
      'ES384 header': sign(claims, { alg: 'ES384', typ: 'JWT' }),
      'RS256 header': sign(claims, { alg: 'RS256', typ: 'JWT' }),
      'es256 in lower case': sign(claims, { alg: 'es256', typ: 'JWT' }),
      'no alg': sign(claims, { typ: 'JWT' }),
      'alg twice, ES256 then none': `${b64uJson('{"alg":"ES256","alg":"none"}')}.${p}.${s}`,
      'a valid signature by another key': civic.signJwt(claims, attacker.privateKey),
      'the payload swapped under a valid signature': `${h}.${b64uJson({ ...claims, sub: 'someone-else' })}.${s}`,
      'truncated signature': `${h}.${p}.${s.slice(0, 60)}`,
      'signature one byte short': `${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 63).toString('base64url')}`,
      'signature in DER instead of r||s': `${h}.${p}.${crypto.sign('sha256', Buffer.from(`${h}.${p}`), fake.civicKey.privateKey).toString('base64url')}`,
      'two segments': `${h}.${p}`,
      'four segments': `${good}.${s}`,
      'one segment': h,
      'non-base64url characters in the header': `${h}*.${p}.${s}`,
      'non-base64url characters in the payload': `${h}.${p.slice(0, 10)}+/${p.slice(12)}.${s}`,
      'non-base64url characters in the signature': `${h}.${p}.${s.slice(0, 40)}%${s.slice(41)}`,
      'whitespace inside': `${h}. ${p}.${s}`,
      'no exp (civic-sip-api accepted it: stricter on purpose)': sign({ ...claims, exp: undefined }),
      'exp as a string': sign({ ...claims, exp: String(claims.exp) }),
      'exp null': sign({ ...claims, exp: null }),
      'exp 1e400 (beyond a double)': `${h}.${b64uJson(JSON.stringify({ ...claims, exp: 0 }).replace('"exp":0', '"exp":1e400'))}`,
      'expired 61 s ago, beyond the 60 s grace period': sign({ ...claims, exp: now - 61 }),
      'expired a day ago': sign({ ...claims, iat: now - 86400 - 1800, exp: now - 86400 }),
      'nbf an hour ahead': sign({ ...claims, nbf: now + 3600 }),
      'exp twice, the first one expired': `${h}.${b64uJson(JSON.stringify(claims).replace('"exp":', `"exp":${now - 3600},"exp":`))}`,
      'claims that are not an object': sign([claims]),
      'a header that is not JSON': `${b64uJson('{alg:ES256}')}.${p}.${s}`,
      'a payload that is not UTF-8': `${h}.${Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64url')}.${s}`,
    };
    // The repeated-claim and 1e400 cases must carry a valid signature to prove anything.
    for (const name of ['exp twice, the first one expired', 'exp 1e400 (beyond a double)']) {
      const [hh, pp] = cases[name].split('.');
      cases[name] = `${hh}.${pp}.${crypto.sign('sha256', Buffer.from(`${hh}.${pp}`), { key: fake.civicKey.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
      assert.ok(civic.verifyJwt(cases[name], fake.civicKey.publicHex), name);
    }
    for (const [name, token] of Object.entries(cases)) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: token }));
      const outcome = await settle(client.exchangeCode('code'));
      assert.equal(outcome.ok, false, `${name}: resolved with ${JSON.stringify(outcome.value)}`);
      assertCivicError(outcome.error, { message: `${PREFIX}${NOT_VERIFIED}`, code: codes.VERIFICATION });
    }
    // The same server and client with the honest token succeed: the forgeries are what failed.
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: good, userId: 'honest' }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'honest' });
  });
});

describe('decryption failures reject, never resolve with partial data', () => {
  test('bad padding, bad IV, wrong key, non-hex IV, invalid base64, truncated ciphertext', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const clear = JSON.stringify(DEFAULT_USER_DATA);
    const data = civic.encryptData(clear, fake.app.appSecret);
    const iv = data.slice(0, 32);
    const ct = Buffer.from(data.slice(32), 'base64');
    const flipLast = Buffer.from(ct);
    flipLast[flipLast.length - 1] ^= 0x5a;
    const padding = 'bad padding (is the appSecret the one of this app?)';
    const wrongKeyReasons = new RegExp(`^${PREFIX}Could not decrypt user data: (bad padding \\(is the appSecret the one of this app\\?\\)|the clear text is not (UTF-8 \\(is the appSecret the one of this app\\?\\)|JSON))$`);
    const cases = [
      ['the last block altered (bad padding)', `${iv}${flipLast.toString('base64')}`, padding],
      ['a ciphertext that is not a whole number of blocks', `${iv}${ct.subarray(0, ct.length - 3).toString('base64')}`, padding],
      ['no ciphertext at all', iv, padding],
      ['a non-hex IV', `${'zz'.repeat(16)}${data.slice(32)}`, 'the IV is not 32 hex characters'],
      ['an IV with a multi-byte character', `é${iv.slice(2)}${data.slice(32)}`, 'the IV is not 32 hex characters'],
      ['an IV shorter than 32 hex characters', iv.slice(0, 20), 'the data claim is shorter than its 32 hex character IV'],
      ['invalid base64', `${iv}${data.slice(32, 40)}$$$$`, 'the ciphertext is not valid base64'],
      ['base64url instead of base64', `${iv}${ct.toString('base64url')}-_`, 'the ciphertext is not valid base64'],
    ];
    for (const [name, encrypted, why] of cases) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: encrypted, encrypted: false }) }));
      const outcome = await settle(client.exchangeCode('code'));
      assert.equal(outcome.ok, false, `${name}: resolved with ${JSON.stringify(outcome.value)}`);
      assertCivicError(outcome.error, { message: `${PREFIX}Could not decrypt user data: ${why}`, code: codes.DECRYPTION });
    }
    // A wrong IV turns the first block to junk (the padding, in the last block, still checks out):
    // refused, not the records that survived.
    for (let i = 0; i < 10; i += 1) {
      const wrongIv = `${crypto.randomBytes(16).toString('hex')}${data.slice(32)}`;
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ clearText: wrongIv, encrypted: false }) }));
      await rejectsWith(client.exchangeCode('code'), {
        message: new RegExp(`^${PREFIX}Could not decrypt user data: the clear text is not (UTF-8 \\(is the appSecret the one of this app\\?\\)|JSON)$`),
        code: codes.DECRYPTION,
      });
    }
    // Another app's secret: every attempt fails one way or another, none resolves.
    for (let i = 0; i < 20; i += 1) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: fake.token({ appSecret: crypto.randomBytes(16).toString('hex') }) }));
      await rejectsWith(client.exchangeCode('code'), { message: wrongKeyReasons, code: codes.DECRYPTION });
    }
  });
});

describe('stalls settle within the timeout', () => {
  const TIMEOUT = 400;
  const MARGIN = 600;
  const timedOut = { message: `${PREFIX}Error: ETIMEDOUT: no answer within ${TIMEOUT} ms`, code: codes.TIMEOUT };

  test('a server that accepts the connection and never answers', OPTS, async (t) => {
    const server = await socketServer(t, () => {});
    const client = civicSip.newClient({ ...civic.newApp(), api: server.url, timeout: TIMEOUT });
    const outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, timedOut);
    assert.ok(outcome.elapsed >= TIMEOUT - 20 && outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
  });

  test('a server that sends the headers, then dribbles the body a byte at a time', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const body = civic.replyBody({ data: fake.token() });
    const timers = new Set();
    t.after(() => timers.forEach(clearInterval));
    const dribble = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed || i >= body.length) { clearInterval(timer); return; }
        res.write(body[i]);
        i += 1;
      }, 50);
      timers.add(timer);
    };
    const client = civicSip.newClient(fake.clientConfig({ timeout: TIMEOUT }));
    fake.onExchange = dribble;
    let outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, timedOut);
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
    // The same on the processed payload URL.
    fake.processed(dribble);
    outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, timedOut);
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
  });

  test('a server that resets the connection in the middle of the body', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig({ timeout: TIMEOUT }));
    const body = civic.replyBody({ data: fake.token() });
    const resetMidBody = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.write(body.slice(0, 100), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
    };
    fake.onExchange = resetMidBody;
    let outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, { message: `${PREFIX}Error: read ECONNRESET`, code: codes.NETWORK });
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
    fake.processed(resetMidBody);
    outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, {
      message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: read ECONNRESET`, code: codes.NETWORK,
    });
  });

  test('redirect loops: the exchange POST is not followed, the payload GET stops after 10', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig({ timeout: TIMEOUT }));
    fake.onExchange = (req, res) => fake.send(res, 302, '', { Location: req.url });
    let outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, { message: `${PREFIX}302 - ""`, code: codes.HTTP_STATUS, statusCode: 302, body: '' });
    fake.processed((req, res) => fake.send(res, 302, '', { Location: req.url }));
    outcome = await settle(client.exchangeCode('code'));
    assertCivicError(outcome.error, {
      message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: Exceeded maxRedirects. Probably stuck in a redirect loop ${fake.url}payload/1`,
      code: codes.NETWORK,
    });
    assert.ok(outcome.elapsed < TIMEOUT + MARGIN, `settled after ${outcome.elapsed} ms`);
  });
});

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

describe('a pre-signed payload URL is fetched exactly as given', () => {
  // Its signature covers the path as written: dot segments, doubled slashes and escapes must
  // reach the wire byte for byte, as civic-sip-api sent them. Direct, through an HTTP proxy
  // (absolute form) and through a CONNECT tunnel (https).
  const SIGNED = 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0a1b%2Fc%3D';
  const TARGETS = [
    `/bucket/a/../b?${SIGNED}`,
    `/bucket/./a/./b?${SIGNED}`,
    `/bucket/a/..?${SIGNED}`,
    `/bucket//double//slashes/?${SIGNED}`,
    `/bucket/%2e%2E/%2F%2f%7E%7e%41?${SIGNED}`,
    `/bucket/..%2F../key?${SIGNED}`,
    `/bucket/key.json?${SIGNED}&a=..%2F&b=./`,
    "/bucket/it's;(a)*,=@:!$+~key",
  ];

  test('dot segments, doubled slashes and escapes reach the server byte for byte', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const token = fake.token();
    const client = civicSip.newClient(fake.clientConfig());
    for (const target of TARGETS) {
      const before = fake.requests.length;
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${fake.url}${target.slice(1)}`, processed: true }));
      // The fake answers 404 for paths it does not know: only the request line matters here.
      const err = await client.exchangeCode('code').catch((e) => e);
      assert.equal(err.code, codes.HTTP_STATUS, err.message);
      assert.deepEqual(fake.requests.slice(before).map((r) => `${r.method} ${r.url}`), ['POST /prod/scopeRequest/authCode', `GET ${target}`]);
    }
    // And the token at such a URL is read: the exchange succeeds.
    const url = fake.route('/bucket/a/../b', { body: token });
    assert.equal(url, `${fake.url}bucket/a/../b`);
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${url}?${SIGNED}`, processed: true }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
  });

  test('through an HTTP proxy (absolute form) and through a CONNECT tunnel to https', OPTS, async (t) => {
    const proxy = await proxyServer(t);
    const fake = await fakeCivic(t);
    const tlsFake = await fakeCivic(t, { tls: true });
    for (const target of TARGETS) {
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${fake.url}${target.slice(1)}`, processed: true }));
      await civicSip.newClient(fake.clientConfig({ proxy: { url: proxy.url } })).exchangeCode('code').catch((e) => e);
      // The proxy records the request line it got.
      assert.equal(proxy.requests.at(-1).url, `${fake.url}${target.slice(1)}`);
      tlsFake.onExchange = (req, res) => tlsFake.send(res, 200, civic.replyBody({ data: `${tlsFake.url}${target.slice(1)}`, processed: true }));
      const before = tlsFake.requests.length;
      await civicSip.newClient(tlsFake.clientConfig({ proxy: { url: proxy.url, rejectUnauthorized: false } })).exchangeCode('code').catch((e) => e);
      assert.deepEqual(tlsFake.requests.slice(before).map((r) => `${r.method} ${r.url}`), ['POST /prod/scopeRequest/authCode', `GET ${target}`]);
    }
  });

  test('what a request line cannot carry is percent-encoded; a fragment is not sent', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    for (const [written, sent] of [
      ['bucket/a b/"q"?x=<y>', '/bucket/a%20b/%22q%22?x=%3Cy%3E'],
      ['bucket/caf\u00e9', '/bucket/caf%C3%A9'],
      ['bucket/key#fragment', '/bucket/key'],
    ]) {
      const before = fake.requests.length;
      fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `${fake.url}${written}`, processed: true }));
      await client.exchangeCode('code').catch((e) => e);
      assert.deepEqual(fake.requests.slice(before).map((r) => r.url), ['/prod/scopeRequest/authCode', sent]);
    }
  });
});

describe('response size is capped while streaming', () => {
  test('maxResponseBytes: the limit is exact, for the reply and for the payload URL', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const body = civic.replyBody({ data: fake.token() });
    const size = Buffer.byteLength(body);
    fake.onExchange = (req, res) => fake.send(res, 200, body);
    assert.deepEqual(await civicSip.newClient(fake.clientConfig({ maxResponseBytes: size })).exchangeCode('code'),
      { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    const tight = civicSip.newClient(fake.clientConfig({ maxResponseBytes: size - 1 }));
    await rejectsWith(tight.exchangeCode('code'), {
      message: `${PREFIX}Error: response body larger than ${size - 1} bytes (maxResponseBytes)`, code: codes.RESPONSE_TOO_LARGE,
    });
    // Without Content-Length (chunked), refused while reading.
    fake.onExchange = (req, res) => { res.writeHead(200); res.write(body.slice(0, 100)); res.end(body.slice(100)); };
    await rejectsWith(tight.exchangeCode('code'), {
      message: `${PREFIX}Error: response body larger than ${size - 1} bytes (maxResponseBytes)`, code: codes.RESPONSE_TOO_LARGE,
    });
    const token = fake.token();
    fake.processed({ body: token });
    const payloadLimit = Buffer.byteLength(token) - 1;
    await rejectsWith(civicSip.newClient(fake.clientConfig({ maxResponseBytes: payloadLimit })).exchangeCode('code'), {
      message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: response body larger than ${payloadLimit} bytes (maxResponseBytes)`,
      code: codes.RESPONSE_TOO_LARGE,
    });
    for (const bad of [0, -1, 1.5, Number.NaN, 'lots']) {
      assert.throws(() => civicSip.newClient({ ...civic.newApp(), maxResponseBytes: bad }),
        { message: 'maxResponseBytes must be a positive integer', code: codes.CONFIG });
    }
  });

  test('a 200 MB response is refused while streaming, RSS growing by less than 64 MB', { timeout: 120000 }, async (t) => {
    // 200 MB of JSON-looking bytes, streamed without Content-Length, only as fast as it is read.
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const total = 200 * 1024 * 1024;
    const stream = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      let sent = 0;
      const pump = () => {
        while (sent < total && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(sent === chunk.length ? Buffer.concat([Buffer.from('{"data":"'), chunk]) : chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end('"}');
      };
      pump();
    };
    const fake = await fakeCivic(t);
    fake.onExchange = stream;
    const announced = await fakeCivic(t);
    announced.onExchange = (req, res) => { res.writeHead(200, { 'Content-Length': total }); res.write('{"data":"'); };
    const payload = await fakeCivic(t);
    payload.processed(stream);
    // The client runs in a child process so that its RSS is its own, sampled every 5 ms.
    const script = `
      const civicSip = require('.');
      const configs = ${JSON.stringify([fake.clientConfig(), announced.clientConfig(), payload.clientConfig()])};
      (async () => {
        const before = process.memoryUsage().rss;
        let peak = before;
        const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
        const outcomes = [];
        for (const config of configs) {
          const start = Date.now();
          try { await civicSip.newClient(config).exchangeCode('code'); outcomes.push({ resolved: true }); }
          catch (e) { outcomes.push({ message: e.message, code: e.code, ms: Date.now() - start }); }
        }
        clearInterval(timer);
        peak = Math.max(peak, process.memoryUsage().rss);
        console.log(JSON.stringify({ growthMB: (peak - before) / 1048576, outcomes }));
      })();`;
    const { code, stdout, stderr } = await runNode(script);
    assert.equal(code, 0, stderr);
    const { growthMB, outcomes } = JSON.parse(stdout);
    const limit = 'response body larger than 16777216 bytes (maxResponseBytes)';
    assert.deepEqual(outcomes.map(({ message, code: c }) => ({ message, code: c })), [
      { message: `${PREFIX}Error: ${limit}`, code: codes.RESPONSE_TOO_LARGE },
      { message: `${PREFIX}Error: ${limit}`, code: codes.RESPONSE_TOO_LARGE },
      { message: `${PREFIX}Could not return data from processed payload url: RequestError: Error: ${limit}`, code: codes.RESPONSE_TOO_LARGE },
    ]);
    assert.ok(growthMB < 64, `RSS grew by ${growthMB.toFixed(1)} MB`);
    t.diagnostic(`RSS growth ${growthMB.toFixed(1)} MB; refused after ${outcomes.map((o) => o.ms).join(', ')} ms`);
  });
});

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
    // (exp beyond a double is in the forged-token cases above.)
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

describe('TLS', () => {
  const civicHandler = (fake) => (req, res) => {
    req.resume();
    req.on('end', () => fake.send(res, 200, civic.replyBody({ data: fake.token(), userId: 'over-tls' })));
  };

  test('a self-signed certificate is refused by default; rejectUnauthorized: false accepts it', OPTS, async (t) => {
    const fake = await fakeCivic(t, { tls: true });
    const client = civicSip.newClient(fake.clientConfig());
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Error: self-signed certificate`, code: codes.NETWORK,
    });
    assert.equal(fake.requests.length, 0);
    const lenient = civicSip.newClient(fake.clientConfig({ proxy: { rejectUnauthorized: false } }));
    assert.deepEqual(await lenient.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
  });

  test('ca: a private CA is trusted when given, as a string, a Buffer or in an array; not otherwise', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const server = await httpServer(t, civicHandler(fake), { tls: SERVER_TLS, readBody: false });
    const config = fake.clientConfig({ api: server.url });
    await rejectsWith(civicSip.newClient(config).exchangeCode('code'), {
      message: `${PREFIX}Error: unable to verify the first certificate`, code: codes.NETWORK,
    });
    for (const ca of [CA_PEM, Buffer.from(CA_PEM), [CA_PEM], [fs.readFileSync(path.join(TLS_DIR, 'server.pem')), Buffer.from(CA_PEM)]]) {
      assert.deepEqual(await civicSip.newClient({ ...config, ca }).exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'over-tls' });
    }
    // `ca` replaces the roots, as Node's does: another CA alone does not vouch for this server.
    const selfSigned = require('./helpers/servers').TLS_CERT;
    await rejectsWith(civicSip.newClient({ ...config, ca: selfSigned }).exchangeCode('code'), {
      message: `${PREFIX}Error: unable to verify the first certificate`, code: codes.NETWORK,
    });
    const notDer = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    for (const ca of ['not a certificate', '', [CA_PEM, 'junk'], notDer, [CA_PEM, notDer]]) {
      await rejectsWith(civicSip.newClient({ ...config, ca }).exchangeCode('code'), {
        message: `${PREFIX}ca must be PEM certificates (-----BEGIN CERTIFICATE-----)`, code: codes.CONFIG,
      });
    }
  });

  test('NODE_EXTRA_CA_CERTS adds a private CA to the roots (child processes)', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const server = await httpServer(t, civicHandler(fake), { tls: SERVER_TLS, readBody: false });
    const script = `require('.').newClient(${JSON.stringify(fake.clientConfig({ api: server.url }))}).exchangeCode('code')
      .then((r) => console.log(JSON.stringify(r)), (e) => console.log(JSON.stringify({ message: e.message, code: e.code })));`;
    const trusted = await runNode(script, { env: { NODE_EXTRA_CA_CERTS: path.join(TLS_DIR, 'ca.pem') } });
    assert.deepEqual(JSON.parse(trusted.stdout), { data: records(DEFAULT_USER_DATA), userId: 'over-tls' });
    const untrusted = await runNode(script);
    assert.deepEqual(JSON.parse(untrusted.stdout), {
      message: `${PREFIX}Error: unable to verify the first certificate`, code: codes.NETWORK,
    });
    // A file that cannot be read as PEM certificates is refused, not skipped.
    for (const file of [path.join(TLS_DIR, 'missing.pem'), path.join(TLS_DIR, 'make-localhost.sh')]) {
      const unreadable = await runNode(script, { env: { NODE_EXTRA_CA_CERTS: file } });
      assert.deepEqual(JSON.parse(unreadable.stdout), {
        message: `${PREFIX}NODE_EXTRA_CA_CERTS (${file}) is not a readable file of PEM certificates`, code: codes.CONFIG,
      });
    }
  });

  test('ca as Node\'s https judges it: a CA:TRUE self-signed certificate is accepted; wrong host, dates, issuer refused in Node\'s words', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const localhost = tlsFixture('localhost'); // openssl req -x509 for localhost: CA:TRUE
    const expired = tlsFixture('localhost-expired');
    const notYet = tlsFixture('localhost-not-yet-valid');
    const serverPem = fs.readFileSync(path.join(TLS_DIR, 'server.pem'), 'utf8');
    const selfSignedLeaf = require('./helpers/servers').TLS_CERT; // CA:FALSE, for 127.0.0.1
    const servers = {};
    for (const [name, tls] of Object.entries({
      localhost,
      expired,
      notYet,
      server: SERVER_TLS,
      // The server sends its CA after its own certificate.
      chain: { key: SERVER_TLS.key, cert: `${serverPem}${CA_PEM}` },
      leaf: { key: require('./helpers/servers').TLS_KEY, cert: selfSignedLeaf },
    })) {
      servers[name] = await httpServer(t, civicHandler(fake), { tls, readBody: false });
    }
    // Node's own https client, given the same `ca`: 'ok' or the message it refused with.
    const nodeVerdict = (url, ca) => new Promise((resolve) => {
      const req = https.get(url, { ca, agent: false }, (res) => { res.resume(); res.on('end', () => resolve('ok')); });
      req.on('error', (e) => resolve(e.message));
    });
    const cases = [
      ['CA:TRUE self-signed, in ca, by its name', 'localhost', 'localhost', localhost.cert, 'ok'],
      ['CA:TRUE self-signed, in ca among others', 'localhost', 'localhost', [CA_PEM, localhost.cert], 'ok'],
      ['CA:TRUE self-signed, in ca, by another name', 'localhost', '127.0.0.1', localhost.cert,
        'Hostname/IP does not match certificate\'s altnames: IP: 127.0.0.1 is not in the cert\'s list: '],
      ['CA:TRUE self-signed, not in ca', 'localhost', 'localhost', CA_PEM, 'self-signed certificate'],
      ['CA:TRUE self-signed, no ca', 'localhost', 'localhost', undefined, 'self-signed certificate'],
      ['expired, in ca', 'expired', 'localhost', expired.cert, 'certificate has expired'],
      ['expired, not in ca (the dates are judged first, as in OpenSSL)', 'expired', 'localhost', CA_PEM, 'certificate has expired'],
      ['not yet valid, in ca', 'notYet', 'localhost', notYet.cert, 'certificate is not yet valid'],
      ['issued by the ca', 'server', '127.0.0.1', CA_PEM, 'ok'],
      ['issued by another CA', 'server', '127.0.0.1', localhost.cert, 'unable to verify the first certificate'],
      ['the server certificate itself (not self-signed) as ca', 'server', '127.0.0.1', serverPem, 'unable to verify the first certificate'],
      ['a chain ending in a self-signed CA, trusted', 'chain', '127.0.0.1', CA_PEM, 'ok'],
      ['a chain ending in a self-signed CA, not trusted', 'chain', '127.0.0.1', localhost.cert, 'self-signed certificate in certificate chain'],
      ['a chain ending in a self-signed CA, no ca', 'chain', '127.0.0.1', undefined, 'self-signed certificate in certificate chain'],
      ['a self-signed CA:FALSE certificate, in ca', 'leaf', '127.0.0.1', selfSignedLeaf, 'ok'],
      ['a self-signed CA:FALSE certificate, not in ca', 'leaf', '127.0.0.1', CA_PEM, 'self-signed certificate'],
    ];
    for (const [name, server, host, ca, expected] of cases) {
      const url = `https://${host}:${servers[server].port}/`;
      assert.equal(await nodeVerdict(url, ca), expected, `Node's https: ${name}`);
      const outcome = await settle(civicSip.newClient(fake.clientConfig({ api: url, ...(ca ? { ca } : {}) })).exchangeCode('code'));
      if (expected === 'ok') {
        assert.deepEqual(outcome.value, { data: records(DEFAULT_USER_DATA), userId: 'over-tls' }, `${name}: ${outcome.error && outcome.error.message}`);
      } else {
        assertCivicError(outcome.error, { message: `${PREFIX}Error: ${expected}`, code: codes.NETWORK });
      }
    }
  });
});

describe('optional resilience: retries (off by default)', () => {
  test('503, 429 and 504 are retried with a fresh request token; the default makes one attempt', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const answers = [];
    fake.onExchange = (req, res) => {
      const status = answers.shift();
      if (status) fake.send(res, status, `{"message":"status ${status}"}`);
      else fake.send(res, 200, civic.replyBody({ data: fake.token(), userId: 'after-retries' }));
    };
    answers.push(503);
    await rejectsWith(civicSip.newClient(fake.clientConfig()).exchangeCode('code'), {
      message: `${PREFIX}503 - "{\\"message\\":\\"status 503\\"}"`, code: codes.HTTP_STATUS, statusCode: 503, body: '{"message":"status 503"}',
    });
    assert.equal(fake.requests.length, 1);
    answers.push(503, 429, 504);
    const client = civicSip.newClient(fake.clientConfig({ retries: 3 }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'after-retries' });
    const attempts = fake.requests.slice(1);
    assert.equal(attempts.length, 4);
    const jtis = attempts.map((r) => civic.decodeJwt(r.headers.authorization.slice('Civic '.length).split('.').slice(0, 3).join('.')).claims.jti);
    assert.equal(new Set(jtis).size, 4);
    assert.ok(attempts.every((r) => r.body === attempts[0].body));
    // More failures than retries: the last failure is the error.
    answers.push(503, 503, 504);
    await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 2 })).exchangeCode('code'), {
      message: `${PREFIX}504 - "{\\"message\\":\\"status 504\\"}"`, code: codes.HTTP_STATUS, statusCode: 504, body: '{"message":"status 504"}',
    });
    assert.equal(answers.length, 0);
  });

  test('statuses that are not transient are never retried', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    for (const status of [400, 401, 403, 404, 500, 502]) {
      const before = fake.requests.length;
      fake.onExchange = (req, res) => fake.send(res, status, 'no');
      await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 5 })).exchangeCode('code'), {
        message: `${PREFIX}${status} - "no"`, code: codes.HTTP_STATUS, statusCode: status, body: 'no',
      });
      assert.equal(fake.requests.length - before, 1, `${status} was retried`);
    }
  });

  test('Retry-After is honoured (seconds and HTTP date); a wait beyond the timeout gives up at once', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    let first = true;
    let retryAfter = '1';
    fake.onExchange = (req, res) => {
      if (first) {
        first = false;
        fake.send(res, 429, 'slow down', { 'Retry-After': retryAfter });
      } else fake.send(res, 200, civic.replyBody({ data: fake.token() }));
    };
    const client = civicSip.newClient(fake.clientConfig({ retries: 1 }));
    let outcome = await settle(client.exchangeCode('code'));
    assert.equal(outcome.ok, true, outcome.error && outcome.error.message);
    assert.ok(outcome.elapsed >= 950, `retried after ${outcome.elapsed} ms, before Retry-After`);
    first = true;
    retryAfter = new Date(Date.now() + 2000).toUTCString();
    outcome = await settle(client.exchangeCode('code'));
    assert.equal(outcome.ok, true, outcome.error && outcome.error.message);
    assert.ok(outcome.elapsed >= 900, `retried after ${outcome.elapsed} ms, before the Retry-After date`);
    first = true;
    retryAfter = '3600';
    outcome = await settle(civicSip.newClient(fake.clientConfig({ retries: 1, timeout: 5000 })).exchangeCode('code'));
    assertCivicError(outcome.error, { message: `${PREFIX}429 - "slow down"`, code: codes.HTTP_STATUS, statusCode: 429, body: 'slow down' });
    assert.ok(outcome.elapsed < 1000, `gave up after ${outcome.elapsed} ms`);
    // Waits and timeouts past the clock's range: the same answer, not an overflow (ERR_CIVIC_INTERNAL).
    for (const [wait, timeout] of [['10000000000000000000', 5000], ['99999999999999999999999', 5000], ['10000000000000000000', 1e22]]) {
      first = true;
      retryAfter = wait;
      outcome = await settle(civicSip.newClient(fake.clientConfig({ retries: 1, timeout })).exchangeCode('code'));
      assertCivicError(outcome.error, { message: `${PREFIX}429 - "slow down"`, code: codes.HTTP_STATUS, statusCode: 429, body: 'slow down' });
      assert.ok(outcome.elapsed < 1000, `Retry-After ${wait}, timeout ${timeout}: gave up after ${outcome.elapsed} ms`);
    }
    // A timeout beyond Node's longest timer counts as that one, and the exchange works.
    first = false;
    assert.deepEqual(await civicSip.newClient(fake.clientConfig({ timeout: 1e22 })).exchangeCode('code'),
      { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
  });

  test('a failure after the request was sent is never retried: the server may have acted on it', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const body = civic.replyBody({ data: fake.token() });
    fake.onExchange = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.write(body.slice(0, 100), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
    };
    await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 5 })).exchangeCode('code'), {
      message: `${PREFIX}Error: read ECONNRESET`, code: codes.NETWORK,
    });
    assert.equal(fake.requests.length, 1);
    // Nor is a reset before any answer, once the request went out.
    fake.onExchange = (req) => req.socket.resetAndDestroy();
    await rejectsWith(civicSip.newClient(fake.clientConfig({ retries: 5 })).exchangeCode('code'), {
      message: `${PREFIX}Error: read ECONNRESET`, code: codes.NETWORK,
    });
    assert.equal(fake.requests.length, 2);
  });

  test('a connection refused is retried until the server is up; with retries off it fails at once', OPTS, async (t) => {
    const port = await closedPort();
    const fake = await fakeCivic(t);
    const config = fake.clientConfig({ api: `http://127.0.0.1:${port}/` });
    await rejectsWith(civicSip.newClient(config).exchangeCode('code'), {
      message: `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${port}`, code: codes.NETWORK,
    });
    // A forwarder comes up on that port 300 ms later; the first attempts were refused.
    const pending = civicSip.newClient({ ...config, retries: 6 }).exchangeCode('code');
    await sleep(300);
    await socketServer(t, (socket) => {
      const upstream = net.connect(fake.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    }, { port });
    assert.deepEqual(await pending, { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    assert.equal(fake.requests.length, 1);
  });

  test('the payload URL is retried too; retries must be an integer from 0 to 10', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    let failures = 2;
    fake.processed((req, res) => {
      if (failures > 0) {
        failures -= 1;
        fake.send(res, 503, 'busy', { 'Retry-After': '0' });
      } else fake.send(res, 200, fake.token());
    });
    assert.deepEqual(await civicSip.newClient(fake.clientConfig({ retries: 2 })).exchangeCode('code'),
      { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' });
    assert.deepEqual(fake.requests.map((r) => r.method), ['POST', 'GET', 'GET', 'GET']);
    for (const bad of [-1, 11, 1.5, Number.NaN, 'twice']) {
      assert.throws(() => civicSip.newClient({ ...civic.newApp(), retries: bad }),
        { message: 'retries must be an integer from 0 to 10', code: codes.CONFIG });
    }
  });
});

describe('optional resilience: AbortSignal per call', () => {
  function assertAborted(err, reason) {
    assertCivicError(err, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(err.name, 'AbortError');
    assert.equal(err.cause, reason);
  }

  test('aborting a pending exchange rejects at once and closes its connection', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    let closed;
    const socketClosed = new Promise((resolve) => { closed = resolve; });
    const server = await httpServer(t, (req) => { req.socket.on('close', closed); }, { readBody: false });
    const client = civicSip.newClient(fake.clientConfig({ api: server.url }));
    const controller = new AbortController();
    const pending = client.exchangeCode('code', { signal: controller.signal });
    await sleep(100);
    const reason = new Error('user went away');
    controller.abort(reason);
    const outcome = await settle(pending, 1000);
    assertAborted(outcome.error, reason);
    assert.ok(outcome.elapsed < 200, `settled ${outcome.elapsed} ms after the abort`);
    const closedIn = await settle(socketClosed, 2000);
    assert.equal(closedIn.ok, true);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  test('a timeout or an abort during the payload GET closes that connection too', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    let closed;
    fake.processed((req) => { req.socket.once('close', () => closed()); });
    const client = civicSip.newClient(fake.clientConfig({ timeout: 300 }));
    let socketClosed = new Promise((resolve) => { closed = resolve; });
    const timedOut = await settle(client.exchangeCode('code'));
    assertCivicError(timedOut.error, { message: `${PREFIX}Error: ETIMEDOUT: no answer within 300 ms`, code: codes.TIMEOUT });
    assert.equal((await settle(socketClosed, 1000)).ok, true);
    socketClosed = new Promise((resolve) => { closed = resolve; });
    const controller = new AbortController();
    const pending = civicSip.newClient(fake.clientConfig()).exchangeCode('code', { signal: controller.signal });
    while (fake.requests.filter((r) => r.method === 'GET').length < 2) await sleep(5);
    controller.abort();
    assertAborted((await settle(pending, 1000)).error, controller.signal.reason);
    assert.equal((await settle(socketClosed, 1000)).ok, true);
  });

  test('an already aborted signal rejects without a request; AbortSignal.timeout works', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    const client = civicSip.newClient(fake.clientConfig());
    const reason = new Error('too late');
    assertAborted(await client.exchangeCode('code', { signal: AbortSignal.abort(reason) }).catch((e) => e), reason);
    assert.equal(fake.requests.length, 0);
    fake.onExchange = () => {};
    const signal = AbortSignal.timeout(150);
    const outcome = await settle(client.exchangeCode('code', { signal }));
    assertCivicError(outcome.error, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(outcome.error.cause.name, 'TimeoutError');
    assert.ok(outcome.elapsed < 1000, `settled after ${outcome.elapsed} ms`);
  });

  test('a signal that never fires changes nothing; its listener is removed; callback form with options', OPTS, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const controller = new AbortController();
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'kept' }), { signal: controller.signal }),
      { data: records(DEFAULT_USER_DATA), userId: 'kept' });
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    controller.abort();
    const viaCallback = await new Promise((resolve) => {
      assert.equal(client.exchangeCode(emu.mintAuthCode(), { signal: controller.signal }, (error, data) => resolve({ error, data })), undefined);
    });
    assertCivicError(viaCallback.error, { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED });
    assert.equal(viaCallback.data, undefined);
    // Options without a signal, and a signal that is not one.
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'plain' }), {}), { data: records(DEFAULT_USER_DATA), userId: 'plain' });
    for (const signal of [null, 'abort', { aborted: false }]) {
      const err = await client.exchangeCode('code', { signal }).catch((e) => e);
      assertCivicError(err, { message: `${PREFIX}the signal option must be an AbortSignal`, code: codes.INVALID_ARGUMENT });
    }
  });
});

describe('secrets never show', () => {
  test('the new failures (too large, aborted, TLS, retries, ca) hide appSecret and prvKey everywhere', OPTS, async (t) => {
    const fake = await fakeCivic(t, { tls: true });
    const { appSecret, prvKey } = fake.app;
    const secrets = [appSecret, prvKey, appSecret.toUpperCase(), prvKey.toUpperCase(), Buffer.from(prvKey, 'hex').toString('base64')];
    const hides = (text, what) => secrets.forEach((s) => assert.ok(!String(text).includes(s), `${what} shows a secret: ${text}`));
    const client = civicSip.newClient(fake.clientConfig({ ca: CA_PEM, retries: 1, maxResponseBytes: 10 }));
    for (const shown of [util.inspect(client, { showHidden: true, depth: Infinity }), JSON.stringify(client), String(client), Object.keys(client).join()]) {
      hides(shown, 'client');
    }
    const errors = [
      await client.exchangeCode('code').catch((e) => e),
      await civicSip.newClient(fake.clientConfig({ proxy: { rejectUnauthorized: false }, maxResponseBytes: 10 })).exchangeCode('code').catch((e) => e),
      await client.exchangeCode('code', { signal: AbortSignal.abort(new Error(`reason ${'x'.repeat(4)}`)) }).catch((e) => e),
      await civicSip.newClient(fake.clientConfig({ ca: 'junk' })).exchangeCode('code').catch((e) => e),
    ];
    assert.deepEqual(errors.map((e) => e.code), [codes.NETWORK, codes.RESPONSE_TOO_LARGE, codes.ABORTED, codes.CONFIG]);
    for (const e of errors) {
      hides(e.message, 'message');
      hides(e.stack, 'stack');
      hides(util.inspect(e, { showHidden: true, depth: Infinity }), 'util.inspect(error)');
      hides(util.inspect(e.cause, { showHidden: true, depth: Infinity }), 'cause');
      hides(JSON.stringify(Object.getOwnPropertyDescriptors(e)), 'descriptors');
    }
  });
});

describe('load and leaks', () => {
  test('1,000 exchanges in flight at once all succeed, each with its own data', { timeout: 120000 }, async (t) => {
    const emu = await emulator(t);
    const client = civicSip.newClient(emu.clientConfig());
    const n = 1000;
    const minted = Array.from({ length: n }, (_, i) => {
      const data = [{ label: 'contact.personal.email', value: `user${i}@example.com`, isValid: true, isOwner: true }];
      return { data, code: emu.mintAuthCode(data, { userId: `u${i}` }) };
    });
    const results = await Promise.all(minted.map(({ code }) => client.exchangeCode(code)));
    results.forEach((r, i) => assert.deepEqual(r, { data: minted[i].data, userId: `u${i}` }));
    assert.equal(emu.requests.length, n);
  });

  test('exchanges from worker_threads, several at once, and a worker terminated mid-exchange', { timeout: 60000 }, async (t) => {
    const emu = await emulator(t);
    const { Worker } = require('node:worker_threads');
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      const civicSip = require(workerData.root);
      const client = civicSip.newClient(workerData.config);
      Promise.all(workerData.codes.map((c) => client.exchangeCode(c)))
        .then((results) => parentPort.postMessage({ results }), (e) => parentPort.postMessage({ error: e.message, code: e.code }));`;
    const root = path.join(__dirname, '..');
    const runWorker = (codesForWorker) => new Promise((resolve, reject) => {
      const worker = new Worker(source, { eval: true, workerData: { root, config: emu.clientConfig(), codes: codesForWorker } });
      worker.once('message', (m) => { resolve(m); worker.terminate(); });
      worker.once('error', reject);
    });
    const outcomes = await Promise.all([0, 1, 2, 3].map((w) => runWorker(
      Array.from({ length: 25 }, (_, i) => emu.mintAuthCode(undefined, { userId: `w${w}-${i}` })),
    )));
    outcomes.forEach((o, w) => {
      assert.equal(o.error, undefined, o.error);
      assert.deepEqual(o.results.map((r) => r.userId), Array.from({ length: 25 }, (_, i) => `w${w}-${i}`));
      o.results.forEach((r) => assert.deepEqual(r.data, records(DEFAULT_USER_DATA)));
    });
    // Terminated while its exchange is pending on a hanging server: no crash, the main thread carries on.
    emu.fault('hang');
    const before = emu.requests.length;
    const worker = new Worker(source, { eval: true, workerData: { root, config: emu.clientConfig(), codes: [emu.mintAuthCode()] } });
    while (emu.requests.length === before) await sleep(10);
    assert.equal(await worker.terminate(), 1);
    emu.fault(null);
    const client = civicSip.newClient(emu.clientConfig());
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'after' })), { data: records(DEFAULT_USER_DATA), userId: 'after' });
  });

  test('thousands of clients created and dropped: RSS flat after warm-up (child process with --expose-gc)', { timeout: 120000 }, async (t) => {
    const emu = await emulator(t);
    const script = `
      const civicSip = require('.');
      const config = ${JSON.stringify(emu.clientConfig())};
      const code = ${JSON.stringify(emu.mintAuthCode())};
      // Clients with a proxy option have a connection pool of their own (built at their first
      // exchange); the others share one. A quarter of them exchange a code, then all are dropped.
      const round = async (n) => {
        for (let i = 0; i < n; i += 1) {
          const client = civicSip.newClient(i % 2 ? { ...config, proxy: { rejectUnauthorized: true } } : config);
          if (i % 4 < 2) await client.exchangeCode(code);
        }
        for (let i = 0; i < 5; i += 1) { global.gc(); await new Promise((r) => setTimeout(r, 20)); }
        return process.memoryUsage().rss / 1048576;
      };
      (async () => {
        const warm = await round(2000);
        const after1k = await round(1000);
        const after4k = await round(3000);
        console.log(JSON.stringify({ warm, after1k, after4k }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const { code, stdout, stderr } = await runNode(script, { args: ['--expose-gc'], timeout: 110000 });
    assert.equal(code, 0, stderr);
    const { warm, after1k, after4k } = JSON.parse(stdout);
    t.diagnostic(`RSS: ${warm.toFixed(1)} MB after 2,000 warm-up clients, ${after1k.toFixed(1)} after 1,000 more, ${after4k.toFixed(1)} after 3,000 more`);
    assert.ok(after4k < after1k * 1.1, `RSS grew from ${after1k.toFixed(1)} to ${after4k.toFixed(1)} MB`);
  });
});
