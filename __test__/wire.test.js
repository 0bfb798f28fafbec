'use strict';

// What the exchange POST puts on the wire, side by side with civic-sip-api (its `request`) against
// one recording server on 127.0.0.1: the request line, with its request target as the URL wrote
// it (dot segments kept), and the headers both send; and the payload GET's request target. Targets
// as written are also covered in payload.test.js and proxy.test.js; the byte-exact head and body
// in tests/http.rs.
//
// Run: node --test __test__/wire.test.js

for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) {
  delete process.env[name];
}

const { test } = require('node:test');
const assert = require('node:assert/strict');
const rewire = require('rewire');

const civicSip = require('..');
const civic = require('./helpers/civic');
const { startServer } = require('./helpers/servers');
const { PREFIX, rejectsWith } = require('./helpers/assertions');

const OPTS = { timeout: 15000 };
const { codes } = civicSip;
const UNAUTHORIZED = '{"message":"Unauthorized"}';
// The headers both clients send; civic-sip-api's Node agent adds `connection`, which hyper leaves
// to HTTP/1.1's default (keep-alive), and the Authorization values differ by their token.
const COMPARED = ['content-type', 'accept', 'host', 'content-length'];

test('the POST\'s request line and headers are civic-sip-api\'s, dot segments in `api` and `env` kept as written', OPTS, async (t) => {
  const server = await startServer((req, res) => {
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end(UNAUTHORIZED);
  });
  t.after(() => server.close());
  const message = `${PREFIX}401 - ${JSON.stringify(UNAUTHORIZED)}`;
  for (const [api, env, target] of [
    [`${server.url}sip/`, '../prod', '/sip/../prod/scopeRequest/authCode'],
    [`${server.url}a/./b/..`, 'dev', '/a/./b/../dev/scopeRequest/authCode'],
    [`${server.url}x//y/`, 'prod', '/x//y/prod/scopeRequest/authCode'],
    // What `url.parse` escaped, and what it kept ([ ]), as `request` sent it.
    [`${server.url}it's [x] ^{|}/`, 'a b', '/it%27s%20[x]%20%5E%7B%7C%7D/a%20b/scopeRequest/authCode'],
    [`${server.url}q?x="[y]"`, 'prod', '/q?x=%22[y]%22/prod/scopeRequest/authCode'],
  ]) {
    const config = { ...civic.newApp(), api, env };
    const theirs = await rewire('civic-sip-api').newClient(config).exchangeCode('code').catch((e) => e);
    assert.equal(theirs.message, message, `civic-sip-api, ${api} ${env}`);
    await rejectsWith(civicSip.newClient(config).exchangeCode('code'), {
      message, code: codes.HTTP_STATUS, statusCode: 401, body: UNAUTHORIZED,
    });
    assert.equal(server.requests.length, 2);
    const [reference, ours] = server.requests.splice(0);
    assert.deepEqual([reference.method, reference.url], ['POST', target], 'civic-sip-api\'s request line');
    assert.deepEqual([ours.method, ours.url], ['POST', target], 'our request line');
    for (const name of COMPARED) assert.equal(ours.headers[name], reference.headers[name], name);
    assert.equal(ours.headers['content-type'], 'application/json');
    assert.equal(ours.headers.accept, '*/*');
    assert.equal(ours.headers.host, `127.0.0.1:${server.port}`);
    assert.match(ours.headers.authorization, /^Civic [\w-]+\.[\w-]+\.[\w-]+\.[\w+/]+=*$/);
    assert.equal(ours.body.length, reference.body.length);
    assert.deepEqual(JSON.parse(ours.body), JSON.parse(reference.body));
  }
});

test('the payload GET\'s request target is civic-sip-api\'s: dot segments kept, the same characters escaped', OPTS, async (t) => {
  const payload = 'pay/./load/../it\'s [x] ^{|}?sig="[a b]"&q=\'y\'&X-Amz-Signature=%2F';
  const server = await startServer((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ data: `${server.url}${payload}`, processed: true, encrypted: true, userId: 'u' }));
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('NoSuchKey');
    }
  });
  t.after(() => server.close());
  const config = { ...civic.newApp(), api: server.url };
  const theirs = await rewire('civic-sip-api').newClient(config).exchangeCode('code').catch((e) => e);
  const ours = await civicSip.newClient(config).exchangeCode('code').catch((e) => e);
  assert.equal(ours.message, theirs.message);
  assert.equal(ours.code, codes.HTTP_STATUS);
  const gets = server.requests.filter((r) => r.method === 'GET').map((r) => r.url);
  const target = '/pay/./load/../it%27s%20[x]%20%5E%7B%7C%7D?sig=%22[a%20b]%22&q=%27y%27&X-Amz-Signature=%2F';
  assert.deepEqual(gets, [target, target], 'civic-sip-api\'s GET, then ours');
});
