'use strict';

// No credential in any message: every place a URL can surface (a message, `error.cause`,
// `error.stack`, `util.inspect` of an error, a `NODE_DEBUG=civic-sip-native` line, the context
// of the `civic-sip-native:exchangeCode` tracing channel) shows it without its user info and
// without its query (src/core/redact.rs, docs/security.md). Each case puts a marker in the user
// name, in the password and in every query value, asserts the exact message and that no marker
// appears anywhere: in this process and, with NODE_DEBUG, in a child process.
//
// Run: node --test __test__/redaction.test.js

// Loopback servers only, never through a proxy the environment may name.
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { test } = require('node:test');
const assert = require('node:assert/strict');
const diagnosticsChannel = require('node:diagnostics_channel');
const url = require('node:url');
const util = require('node:util');

const civicSip = require('..');
const { redactUrl } = require('../binding.js');
const civic = require('./helpers/civic');
const { closedPort } = require('./helpers/servers');
const {
  fakeCivic, proxyServer, runNode,
} = require('./helpers/support');

const OPTS = { timeout: 60000 };
const { codes } = civicSip;
const PREFIX = 'Error exchanging code for data: ';
const P = `${PREFIX}Could not return data from processed payload url: `;

const USER = 'usermark7x';
const PASS = 'passmark7x';
const Q1 = 'querymark1x';
const Q2 = 'querymark2x';
const MARKERS = [USER, PASS, Q1, Q2];
const CRED = `${USER}:${PASS}@`;
const QUERY = `?X-Amz-Signature=${Q1}&X-Amz-Credential=${Q2}`;

function assertHidden(text, what) {
  for (const marker of MARKERS) assert.ok(!String(text).includes(marker), `${what} shows ${marker}: ${text}`);
}

function assertRedacted(error, { message, code }, what) {
  assert.ok(error instanceof Error, `${what}: ${util.inspect(error)}`);
  assert.equal(error.message, message, what);
  assert.equal(error.code, code, what);
  assertHidden(error.stack, `${what}: stack`);
  assertHidden(util.inspect(error, { depth: Infinity, showHidden: true }), `${what}: util.inspect`);
  assertHidden(util.inspect(error.cause, { depth: Infinity, showHidden: true }), `${what}: cause`);
  assertHidden(JSON.stringify(Object.getOwnPropertyDescriptors(error)), `${what}: properties`);
}

/** A processed reply whose payload URL is `url`. */
const processedAt = (fake, url) => {
  fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: url, processed: true }));
};

/**
 * The cases: each a name, a client config (against a server of its own) and the exact message.
 * Set up once; run here and in a child process with NODE_DEBUG.
 */
async function cases(t) {
  const list = [];
  const add = (name, config, message, code) => list.push({
    name, config, message, code,
  });
  const closed = await closedPort();

  const fake = await fakeCivic(t);
  add('api with user info and a bad host', fake.clientConfig({ api: `http://${CRED}exa mple/` }),
    `${PREFIX}Error: Invalid URI "http://exa%20mple/prod/scopeRequest/authCode"`, codes.CONFIG);
  add('api with user info, a bad host and a query', fake.clientConfig({ api: `http://${CRED}exa mple/${QUERY}` }),
    `${PREFIX}Error: Invalid URI "http://exa%20mple/"`, codes.CONFIG);

  // A raw `#` in the password ends the authority for every URL parser; still no part of it shows.
  add('api with a # in its password', fake.clientConfig({ api: `http://${USER}:x#${PASS}@127.0.0.1:${fake.port}/` }),
    `${PREFIX}Error: Invalid URI "http://127.0.0.1:${fake.port}/prod/scopeRequest/authCode"`, codes.CONFIG);

  const badHost = await fakeCivic(t);
  processedAt(badHost, `http://${CRED}exa mple/p/a b${QUERY}`);
  add('a payload URL that does not parse', badHost.clientConfig(),
    `${P}RequestError: Error: Invalid URI "http://exa%20mple/p/a%20b"`, codes.NETWORK);

  const file = await fakeCivic(t);
  processedAt(file, `file:///etc/hostname${QUERY}`);
  add('a payload URL with no host', file.clientConfig(), `${P}RequestError: Error: Invalid URI "file:///etc/hostname"`, codes.NETWORK);

  const loop = await fakeCivic(t);
  loop.route('/loop', (req, res) => loop.send(res, 302, '', { Location: `/loop${QUERY}` }));
  processedAt(loop, `http://${CRED}127.0.0.1:${loop.port}/loop${QUERY}`);
  add('a pre-signed payload URL that redirects forever', loop.clientConfig(),
    `${P}RequestError: Error: Exceeded maxRedirects. Probably stuck in a redirect loop http://127.0.0.1:${loop.port}/loop`, codes.NETWORK);

  const badLocation = await fakeCivic(t);
  badLocation.route('/moved', (req, res) => badLocation.send(res, 302, '', { Location: `http://${CRED}exa mple/x${QUERY}` }));
  processedAt(badLocation, `${badLocation.url}moved${QUERY}`);
  add('a redirect to a Location that does not parse', badLocation.clientConfig(),
    `${P}RequestError: Error: Invalid URI "http://exa%20mple/x"`, codes.NETWORK);

  const toFtp = await fakeCivic(t);
  toFtp.route('/moved', (req, res) => toFtp.send(res, 302, '', { Location: `ftp://${CRED}127.0.0.1:1/x${QUERY}` }));
  processedAt(toFtp, `${toFtp.url}moved${QUERY}`);
  add('a redirect to an ftp: Location', toFtp.clientConfig(), `${P}RequestError: Error: Invalid protocol: ftp:`, codes.NETWORK);

  const refused = await fakeCivic(t);
  processedAt(refused, `http://${CRED}127.0.0.1:${closed}/p${QUERY}`);
  add('a payload host that refuses', refused.clientConfig(), `${P}RequestError: Error: connect ECONNREFUSED 127.0.0.1:${closed}`, codes.NETWORK);

  add('proxy.url of another scheme', fake.clientConfig({ proxy: { url: `htp://${CRED}127.0.0.1:1/${QUERY}` } }),
    `${PREFIX}Error: Invalid protocol: htp:`, codes.CONFIG);
  add('proxy.url that does not parse', fake.clientConfig({ proxy: { url: `http://${CRED}exa mple:1/${QUERY}` } }),
    `${PREFIX}proxy.url is not a valid proxy URL`, codes.CONFIG);
  add('a proxy that refuses connections', fake.clientConfig({ proxy: { url: `http://${CRED}127.0.0.1:${closed}` } }),
    `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${closed}`, codes.NETWORK);
  const proxy = await proxyServer(t);
  add('a CONNECT the proxy cannot make', fake.clientConfig({
    api: `https://127.0.0.1:${closed}/${QUERY}`, proxy: { url: proxy.url.replace('//', `//${CRED}`) },
  }), `${PREFIX}Error: tunneling socket could not be established, statusCode=502`, codes.NETWORK);
  return list;
}

/** Runs `exchange()` with a subscriber on the tracing channel; the error and every context. */
async function traced(exchange) {
  const contexts = [];
  const channel = diagnosticsChannel.tracingChannel('civic-sip-native:exchangeCode');
  const record = (context) => contexts.push(context);
  const handlers = {
    start: record, end: record, asyncStart: record, asyncEnd: record, error: record,
  };
  channel.subscribe(handlers);
  try {
    const error = await exchange().then(() => assert.fail('expected a rejection'), (e) => e);
    return { error, contexts };
  } finally {
    channel.unsubscribe(handlers);
  }
}

test('every message, stack, inspection, cause and trace context shows URLs without user info or query', OPTS, async (t) => {
  for (const c of await cases(t)) {
    await t.test(c.name, async () => {
      const { error, contexts } = await traced(() => civicSip.newClient(c.config).exchangeCode('code'));
      assertRedacted(error, c, c.name);
      assert.ok(contexts.length >= 4, `${c.name}: traced`);
      assert.equal(contexts.at(-1).error, error, c.name);
      assertHidden(util.inspect(contexts, { depth: Infinity, showHidden: true }), `${c.name}: trace context`);
      // The callback form gets the same error.
      const viaCallback = await new Promise((resolve) => {
        civicSip.newClient(c.config).exchangeCode('code', (e) => resolve(e));
      });
      assertRedacted(viaCallback, c, `${c.name} (callback)`);
    });
  }
});

test('processPayload of a processed reply: its payload URL without user info or query', OPTS, async (t) => {
  const fake = await fakeCivic(t);
  const client = civicSip.newClient(fake.clientConfig());
  const body = { processed: true, encrypted: true, data: `http://${CRED}exa mple/p${QUERY}` };
  for (const response of [{ statusCode: 200, body }, { statusCode: 200, body: JSON.stringify(body) }]) {
    const error = await client.processPayload(response).then(() => assert.fail('expected a rejection'), (e) => e);
    assertRedacted(error, {
      message: 'Could not return data from processed payload url: RequestError: Error: Invalid URI "http://exa%20mple/p"',
      code: codes.NETWORK,
    }, 'processPayload');
  }
});

test('redactUrl escapes as Node\'s legacy url.parse + url.format (what request printed), less user info, query and fragment', () => {
  const legacy = (text) => {
    const parsed = url.parse(text);
    Object.assign(parsed, {
      auth: null, search: null, query: null, hash: null,
    });
    return url.format(parsed);
  };
  const inputs = ['not a url', 'not-a-url', 'file:///etc/hostname?X=1', 'javascript:alert(1)', '//127.0.0.1:1/x y', '/a"b c', '/a"b',
    'http://u:p@h/a b?x', "http://h/a'b|c^d`e{f}g<h>\"i", 'HTTP://U:P@H.EXAMPLE:8080', 'http://h/a\\b\\c?d\\e', 'http://h',
    'https://h:443/é/ü?x=é', 'http://h/%41%zz', '  http://h/x\t', 'file://u:p@/x', 'mailto:u@h', 'http://h/#frag', 'http://h?q',
    'ws://h', 'foo://h', 'foo://u:p@h/x', 'http://h/a\tb', 'http://h/a\nb', 'x:y z', 'a b:c', '/', '//', '///x', 'http://h//x',
    'http://[::1]:9/p q', 'HTTP://h/X', 'http://h:99999/x',
    `https://${CRED}bucket.s3.amazonaws.com/p/a b${QUERY}#${Q1}`];
  for (const text of inputs) assert.equal(redactUrl(text), legacy(text), JSON.stringify(text));
  assert.equal(redactUrl(`https://${CRED}bucket.s3.amazonaws.com/p/a b${QUERY}#${Q1}`), 'https://bucket.s3.amazonaws.com/p/a%20b');
});

/** The child's script: runs each config's exchange, prints each error's message, stack and inspection. */
const CHILD = `
const util = require('node:util');
const civicSip = require('.');
(async () => {
  for (const config of JSON.parse(process.env.CASES)) {
    const e = await civicSip.newClient(config).exchangeCode('code').then(() => new Error('resolved'), (e) => e);
    console.log(JSON.stringify({ message: e.message, code: e.code, shown: util.inspect(e, { depth: Infinity, showHidden: true }) }));
  }
})();
`;

function childResults(stdout) {
  return stdout.trim().split('\n').map((line) => JSON.parse(line));
}

test('NODE_DEBUG=civic-sip-native: no line shows a user name, a password or a query value', OPTS, async (t) => {
  const list = await cases(t);
  const child = await runNode(CHILD, { env: { NODE_DEBUG: 'civic-sip-native', CASES: JSON.stringify(list.map((c) => c.config)) } });
  assert.equal(child.code, 0, child.stderr);
  const results = childResults(child.stdout);
  assert.deepEqual(results.map((r) => [r.message, r.code]), list.map((c) => [c.message, c.code]));
  assertHidden(child.stdout, 'the child\'s output');
  assertHidden(child.stderr, 'the NODE_DEBUG lines');
  // The debug lines are there, and name the hosts they went to.
  assert.match(child.stderr, /^CIVIC-SIP-NATIVE \d+: exchangeCode \+[\d.]+ ms exchange: POST to 127\.0\.0\.1:\d+ \(attempt 1\)$/m);
  assert.match(child.stderr, /payload: GET from 127\.0\.0\.1:\d+ \(attempt 1\)$/m);
});

test('proxy variables holding user info: no message or NODE_DEBUG line shows it', OPTS, async (t) => {
  const fake = await fakeCivic(t);
  const closed = await closedPort();
  const proxy = await proxyServer(t);
  const runs = [
    [{ HTTP_PROXY: `http://${CRED}127.0.0.1:${closed}/${QUERY}` }, fake.clientConfig(),
      `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${closed}`, codes.NETWORK],
    [{ HTTPS_PROXY: `http://${CRED}exa mple:1/${QUERY}` }, fake.clientConfig({ api: `https://127.0.0.1:${closed}/` }),
      `${PREFIX}the proxy environment variable is not a valid proxy URL`, codes.CONFIG],
    [{ https_proxy: `htp://${CRED}127.0.0.1:1/${QUERY}` }, fake.clientConfig({ api: `https://127.0.0.1:${closed}/` }),
      `${PREFIX}Error: Invalid protocol: htp:`, codes.CONFIG],
    [{ HTTPS_PROXY: proxy.url.replace('//', `//${CRED}`) }, fake.clientConfig({ api: `https://127.0.0.1:${closed}/${QUERY}` }),
      `${PREFIX}Error: tunneling socket could not be established, statusCode=502`, codes.NETWORK],
  ];
  for (const [env, config, message, code] of runs) {
    const child = await runNode(CHILD, { env: { ...env, NODE_DEBUG: 'civic-sip-native', CASES: JSON.stringify([config]) } });
    assert.equal(child.code, 0, child.stderr);
    const [result] = childResults(child.stdout);
    assert.deepEqual([result.message, result.code], [message, code], JSON.stringify(env));
    assertHidden(child.stdout, `${JSON.stringify(env)}: the error`);
    assertHidden(child.stderr, `${JSON.stringify(env)}: the NODE_DEBUG lines`);
    assert.match(child.stderr, /CIVIC-SIP-NATIVE \d+: exchangeCode /);
  }
});
