'use strict';

// civic-sip-native through a real HTTP proxy (helpers/servers.js: absolute-form forwarding and
// CONNECT tunnels on 127.0.0.1): the `proxy` option, and the proxy environment variables read
// in child processes (HTTP_PROXY, http_proxy, HTTPS_PROXY, NO_PROXY, no_proxy).
//
// Run: node --test __test__/proxy.test.js

// This process reaches its servers directly unless a test configures a proxy; the environment
// variables are only ever set for child processes.
for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) {
  delete process.env[name];
}

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');
const { execFile } = require('node:child_process');

const civicSip = require('..');
const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');
const { startProxy } = require('./helpers/servers');
const { closedPort } = require('./helpers/servers');
const civic = require('./helpers/civic');
const { PREFIX, assertCivicError, rejectsWith } = require('./helpers/assertions');

const OPTS = { timeout: 15000 };
const { codes } = civicSip;
const records = () => DEFAULT_USER_DATA.map((r) => ({ ...r }));
const CERT_ERROR = /^Error exchanging code for data: Error: .*certificate/i;

async function emulator(t, options) {
  const emu = await startEmulator(options);
  t.after(() => emu.close());
  return emu;
}

async function proxyServer(t) {
  const proxy = await startProxy();
  t.after(() => proxy.close());
  return proxy;
}

async function fakeCivic(t, options) {
  const fake = await civic.startFakeCivic(options);
  t.after(() => fake.close());
  return fake;
}

const seen = (proxy) => proxy.requests.map((r) => [r.method, r.url]);

// ------------------------------------------------------------------------ child processes

const CHILD_SCRIPT = `
const civicSip = require(${JSON.stringify(path.resolve(__dirname, '..'))});
const { config, code } = JSON.parse(process.env.CIVIC_SIP_TEST_INPUT);
civicSip.newClient(config).exchangeCode(code).then(
  (result) => { process.stdout.write(JSON.stringify({ ok: true, result })); },
  (e) => {
    process.stdout.write(JSON.stringify({
      ok: false, error: { message: e.message, code: e.code, response: e.response },
    }));
  },
);
`;

/**
 * Runs one exchange in a child process whose environment is exactly `env` (plus PATH and the
 * input); resolves with what it printed: { ok: true, result } or { ok: false, error }.
 */
function exchangeInChild(env, config, code) {
  const childEnv = { PATH: process.env.PATH, CIVIC_SIP_TEST_INPUT: JSON.stringify({ config, code }), ...env };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', CHILD_SCRIPT], { env: childEnv, timeout: 10000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`child failed: ${err.message}\n${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`child printed ${JSON.stringify(stdout)}; stderr ${stderr}`));
      }
    });
  });
}

function assertChildSucceeded(outcome, userId) {
  assert.deepEqual(outcome, { ok: true, result: { data: records(), userId } });
}

// -------------------------------------------------------------------------------- tests

describe('proxy option', () => {
  test('a proxy that is not an object is refused at construction, never ignored (which would go past it)', OPTS, async (t) => {
    const emu = await startEmulator();
    t.after(() => emu.close());
    const proxy = await startProxy();
    t.after(() => proxy.close());
    for (const [value, what] of [[proxy.url, 'a string'], [3128, 'a number'], [true, 'a boolean']]) {
      assert.throws(() => civicSip.newClient(emu.clientConfig({ proxy: value })), (error) => {
        assert.ok(error instanceof TypeError);
        assert.equal(error.code, codes.INVALID_ARGUMENT);
        assert.equal(error.message, `proxy must be an object such as { url: 'http://proxy.example:3128' }, not ${what}`);
        return true;
      });
    }
    // Falsy is no proxy, as civic-sip-api's `if (config.proxy)` read it; the object form works.
    for (const none of [null, '', 0, false]) {
      assert.equal((await civicSip.newClient(emu.clientConfig({ proxy: none })).exchangeCode(emu.mintAuthCode())).data.length, 2);
    }
    assert.deepEqual(seen(proxy), []);
    assert.equal((await civicSip.newClient(emu.clientConfig({ proxy: { url: proxy.url } })).exchangeCode(emu.mintAuthCode())).data.length, 2);
    assert.equal(seen(proxy).length, 1);
  });

  test('proxy: { url } carries the exchange through the proxy', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const client = civicSip.newClient(emu.clientConfig({ proxy: { url: proxy.url } }));
    const result = await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'proxied' }));
    assert.deepEqual(result, { data: records(), userId: 'proxied' });
    assert.deepEqual(seen(proxy), [['POST', `${emu.url}prod/scopeRequest/authCode`]]);
    // What the proxy forwarded is what the emulator got.
    assert.equal(emu.requests.length, 1);
    assert.equal(proxy.requests[0].body, emu.requests[0].body);
    assert.equal(proxy.requests[0].headers.authorization, emu.requests[0].headers.authorization);
    assert.equal(proxy.requests[0].headers['content-type'], 'application/json');
    assert.equal(proxy.requests[0].headers.host, `127.0.0.1:${emu.port}`);

    // A proxy URL written without its scheme means plain HTTP.
    const bare = civicSip.newClient(emu.clientConfig({ proxy: { url: `127.0.0.1:${proxy.port}` } }));
    assert.deepEqual(await bare.exchangeCode(emu.mintAuthCode(undefined, { userId: 'bare' })), { data: records(), userId: 'bare' });
    assert.equal(proxy.requests.length, 2);
  });

  test('the processed flow goes through the proxy: the POST and the payload GET', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    emu.fault('processed');
    const client = civicSip.newClient(emu.clientConfig({ proxy: { url: proxy.url } }));
    const result = await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'processed' }));
    assert.deepEqual(result, { data: records(), userId: 'processed' });
    assert.equal(proxy.requests.length, 2);
    assert.deepEqual(seen(proxy)[0], ['POST', `${emu.url}prod/scopeRequest/authCode`]);
    assert.equal(proxy.requests[1].method, 'GET');
    assert.match(proxy.requests[1].url, new RegExp(`^${emu.url}payloads/[0-9a-f]{32}\\?X-Amz-Algorithm=[^&]+&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$`));
    assert.deepEqual(emu.requests.map((r) => r.method), ['POST', 'GET']);

    // A payload URL failing behind the proxy is reported as without one.
    emu.fault('processed', { payloadStatus: 403 });
    await rejectsWith(client.exchangeCode(emu.mintAuthCode()), {
      message: /^Error exchanging code for data: Could not return data from processed payload url: StatusCodeError: 403 - "<\?xml /,
      code: codes.HTTP_STATUS,
      statusCode: 403,
      body: /<Code>AccessDenied<\/Code>/,
    });
    assert.equal(proxy.requests.length, 4);
  });

  test('a proxy that refuses connections: ERR_CIVIC_NETWORK, nothing reaches the server', OPTS, async (t) => {
    const emu = await emulator(t);
    const port = await closedPort();
    const client = civicSip.newClient(emu.clientConfig({ proxy: { url: `http://127.0.0.1:${port}` } }));
    await rejectsWith(client.exchangeCode(emu.mintAuthCode()), {
      message: /^Error exchanging code for data: Error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/, code: codes.NETWORK,
    });
    assert.equal(emu.requests.length, 0);
  });

  test('a proxy that refuses connections: the message names the proxy\'s address, as Node\'s does',
    OPTS, async (t) => {
      const emu = await emulator(t);
      const port = await closedPort();
      const client = civicSip.newClient(emu.clientConfig({ proxy: { url: `http://127.0.0.1:${port}` } }));
      await rejectsWith(client.exchangeCode(emu.mintAuthCode()), {
        message: `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${port}`, code: codes.NETWORK,
      });
    });

  test('a proxy URL with credentials: sent as Proxy-Authorization, never shown in an error', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const password = 'pr0xy-S3cret';
    const client = civicSip.newClient(emu.clientConfig({ proxy: { url: `http://ada:${password}@127.0.0.1:${proxy.port}` } }));
    assert.deepEqual(await client.exchangeCode(emu.mintAuthCode(undefined, { userId: 'authed' })), { data: records(), userId: 'authed' });
    assert.equal(proxy.requests[0].headers['proxy-authorization'], `Basic ${Buffer.from(`ada:${password}`).toString('base64')}`);
    // Nor is it forwarded to the server.
    assert.equal(emu.requests[0].headers['proxy-authorization'], undefined);

    const port = await closedPort();
    const refused = civicSip.newClient(emu.clientConfig({ proxy: { url: `http://ada:${password}@127.0.0.1:${port}` } }));
    const error = await refused.exchangeCode(emu.mintAuthCode()).catch((e) => e);
    assertCivicError(error, { message: `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${port}`, code: codes.NETWORK });
    for (const shown of [error.stack, util.inspect(error, { showHidden: true, depth: Infinity }), util.inspect(refused, { showHidden: true })]) {
      assert.ok(!shown.includes(password), shown);
    }
  });

  test('the proxy\'s own error status is the exchange\'s (502 for an unreachable server)', OPTS, async (t) => {
    const proxy = await proxyServer(t);
    const port = await closedPort();
    const client = civicSip.newClient({ ...civic.newApp(), api: `http://127.0.0.1:${port}/`, proxy: { url: proxy.url } });
    const body = '{"message":"Bad Gateway","cause":"ECONNREFUSED"}';
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}502 - ${JSON.stringify(body)}`, code: codes.HTTP_STATUS, statusCode: 502, body,
    });
    assert.deepEqual(seen(proxy), [['POST', `http://127.0.0.1:${port}/prod/scopeRequest/authCode`]]);
  });

  test('a proxy URL that cannot be used rejects with ERR_CIVIC_CONFIG, civic-sip-api\'s words; nothing is sent, direct or not', OPTS, async (t) => {
    const [emu, fake, proxy] = await Promise.all([emulator(t), fakeCivic(t, { tls: true }), proxyServer(t)]);
    const rewire = require('rewire');
    const cases = [
      // [proxy.url, message after the prefix, civic-sip-api's message for an http:// api (null: it differs)]
      ['htp://127.0.0.1:1', 'Error: Invalid protocol: htp:', 'same'],
      [`ftp://127.0.0.1:${proxy.port}`, 'Error: Invalid protocol: ftp:', 'same'],
      [`socks5://127.0.0.1:${proxy.port}`, 'Error: Invalid protocol: socks5:', 'same'],
      [`socks5h://u:pw@127.0.0.1:${proxy.port}`, 'Error: Invalid protocol: socks5h:', 'same'],
      ['file:///tmp/proxy.sock', 'Error: Invalid protocol: file:', null],
      // Without a scheme only host:port is a proxy address: a lone word or number could resolve anywhere.
      ['localhost', 'Error: Invalid protocol: null', 'same'],
      ['8080', 'Error: Invalid protocol: null', null],
      [`127.0.0.1:${proxy.port}/path`, 'Error: Invalid protocol: null', null],
      ['http://', 'proxy.url is not a valid proxy URL', null],
      ['http://[', 'proxy.url is not a valid proxy URL', null],
      ['http://:1', 'proxy.url is not a valid proxy URL', null],
    ];
    for (const [url, message, reference] of cases) {
      for (const server of [emu, fake]) {
        const config = server === emu ? emu.clientConfig({ proxy: { url } }) : fake.clientConfig({ proxy: { url } });
        await rejectsWith(civicSip.newClient(config).exchangeCode(server === emu ? emu.mintAuthCode() : 'code'), {
          message: `${PREFIX}${message}`, code: codes.CONFIG,
        });
        if (reference === 'same' && server === emu) {
          const theirs = await rewire('civic-sip-api').newClient(config).exchangeCode(emu.mintAuthCode()).catch((e) => e);
          assert.equal(theirs.message, `${PREFIX}${message}`, `civic-sip-api with proxy ${url}`);
        }
      }
    }
    assert.equal(emu.requests.length, 0);
    assert.equal(fake.requests.length, 0);
    assert.equal(proxy.requests.length, 0);
    // The message never shows the URL, which may hold a password.
    const err = await civicSip.newClient(emu.clientConfig({ proxy: { url: 'htp://ada:pr0xy-S3cret@127.0.0.1:1' } })).exchangeCode('x').catch((e) => e);
    assert.ok(!util.inspect(err, { showHidden: true }).includes('pr0xy-S3cret'));
  });

  test('HTTPS through the proxy: CONNECT tunnel, rejectUnauthorized: false accepts a self-signed server', OPTS, async (t) => {
    const [fake, proxy] = await Promise.all([fakeCivic(t, { tls: true }), proxyServer(t)]);
    assert.ok(fake.url.startsWith('https://'));
    const client = civicSip.newClient(fake.clientConfig({ proxy: { url: proxy.url, rejectUnauthorized: false } }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(), userId: 'fake-user-id' });
    assert.deepEqual(seen(proxy), [['CONNECT', `127.0.0.1:${fake.port}`]]);
    assert.deepEqual(fake.requests.map((r) => [r.method, r.url]), [['POST', '/prod/scopeRequest/authCode']]);

    // The processed flow over HTTPS: every connection is a tunnel to the server.
    fake.processed({ body: fake.token() });
    assert.deepEqual(await client.exchangeCode('code'), { data: records(), userId: 'fake-user-id' });
    assert.ok(proxy.requests.every((r) => r.method === 'CONNECT' && r.url === `127.0.0.1:${fake.port}`), JSON.stringify(seen(proxy)));
    assert.deepEqual(fake.requests.slice(1).map((r) => [r.method, r.url]),
      [['POST', '/prod/scopeRequest/authCode'], ['GET', '/payload/1']]);
  });

  test('a proxy that refuses the CONNECT tunnel: request\'s words with the proxy\'s status, for the POST and the payload GET', OPTS, async (t) => {
    const [fake, proxy] = await Promise.all([fakeCivic(t), proxyServer(t)]);
    const port = await closedPort();
    const rewire = require('rewire');
    // The payload GET: civic-sip-api's message exactly.
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `https://127.0.0.1:${port}/payload`, processed: true }));
    const config = fake.clientConfig({ proxy: { url: proxy.url } });
    const message = `${PREFIX}Could not return data from processed payload url: RequestError: Error: tunneling socket could not be established, statusCode=502`;
    const { civicPublicKey, ...theirs } = config; // eslint-disable-line no-unused-vars
    assert.equal((await rewire('civic-sip-api').newClient(theirs).exchangeCode('code').catch((e) => e)).message, message);
    await rejectsWith(civicSip.newClient(config).exchangeCode('code'), { message, code: codes.NETWORK });
    // The exchange POST: civic-sip-api's message exactly, the proxy's status included.
    const postConfig = { ...civic.newApp(), api: `https://127.0.0.1:${port}/`, proxy: { url: proxy.url } };
    const postMessage = `${PREFIX}Error: tunneling socket could not be established, statusCode=502`;
    assert.equal((await rewire('civic-sip-api').newClient(postConfig).exchangeCode('code').catch((e) => e)).message, postMessage);
    await rejectsWith(civicSip.newClient(postConfig).exchangeCode('code'), { message: postMessage, code: codes.NETWORK });
    assert.deepEqual(proxy.requests.filter((r) => r.method === 'CONNECT').map((r) => r.url), Array(4).fill(`127.0.0.1:${port}`));
  });

  test('a proxy that breaks the CONNECT before a status: request\'s words with the cause, for the POST and the payload GET', OPTS, async (t) => {
    const rewire = require('rewire');
    const fake = await fakeCivic(t);
    const port = await closedPort();
    // Plain-HTTP requests are forwarded as they came (absolute form); each CONNECT gets `answer`.
    const answers = {
      'closed at once': (socket) => socket.end(),
      'reset': (socket) => socket.resetAndDestroy(),
      'not HTTP': (socket) => socket.end('garbage\r\n\r\n'),
      'a status that is not three digits': (socket) => socket.end('HTTP/1.1 20 OK\r\n\r\n'),
      'a head past 16 KiB': (socket) => socket.end(`HTTP/1.1 200 OK\r\nX: ${'x'.repeat(20000)}\r\n\r\n`),
      'HTTP/1.0 403': (socket) => socket.end('HTTP/1.0 403 Forbidden\r\n\r\n'),
    };
    let answer;
    const connects = [];
    const proxy = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (first) => {
        if (!first.toString('latin1').startsWith('CONNECT ')) {
          const upstream = net.connect(fake.port, '127.0.0.1', () => { upstream.write(first); socket.pipe(upstream).pipe(socket); });
          upstream.on('error', () => socket.destroy());
          return;
        }
        connects.push(first.toString('latin1').split('\r\n')[0]);
        answer(socket);
      });
    });
    await new Promise((resolve) => { proxy.listen(0, '127.0.0.1', resolve); });
    t.after(() => proxy.close());
    const proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
    fake.onExchange = (req, res) => fake.send(res, 200, civic.replyBody({ data: `https://127.0.0.1:${port}/payload`, processed: true }));
    const payloadConfig = fake.clientConfig({ proxy: { url: proxyUrl } });
    const { civicPublicKey, ...theirPayloadConfig } = payloadConfig; // eslint-disable-line no-unused-vars
    const postConfig = { ...civic.newApp(), api: `https://127.0.0.1:${port}/`, proxy: { url: proxyUrl } };
    for (const [name, respond] of Object.entries(answers)) {
      answer = respond;
      for (const [call, ours, theirs] of [['POST', postConfig, postConfig], ['payload GET', payloadConfig, theirPayloadConfig]]) {
        const reference = await rewire('civic-sip-api').newClient(theirs).exchangeCode('code').catch((e) => e);
        assert.match(reference.message, /tunneling socket could not be established, (cause|statusCode)=/, `${name}, ${call}`);
        await rejectsWith(civicSip.newClient(ours).exchangeCode('code'), { message: reference.message, code: codes.NETWORK });
      }
    }
    // Every call asked for its tunnel (civic-sip-api's and ours), to the server's address.
    assert.deepEqual(connects, Array(Object.keys(answers).length * 4).fill(`CONNECT 127.0.0.1:${port} HTTP/1.1`));
  });

  test('HTTPS through the proxy with certificate checks on: a self-signed server is refused', OPTS, async (t) => {
    const [fake, proxy] = await Promise.all([fakeCivic(t, { tls: true }), proxyServer(t)]);
    for (const options of [{ url: proxy.url }, { url: proxy.url, rejectUnauthorized: true }]) {
      const client = civicSip.newClient(fake.clientConfig({ proxy: options }));
      await rejectsWith(client.exchangeCode('code'), { message: CERT_ERROR, code: codes.NETWORK });
    }
    assert.deepEqual(seen(proxy), [['CONNECT', `127.0.0.1:${fake.port}`], ['CONNECT', `127.0.0.1:${fake.port}`]]);
    assert.equal(fake.requests.length, 0);
  });

  test('proxy: { rejectUnauthorized: false } without a url: direct, certificate checks off', OPTS, async (t) => {
    const [fake, proxy] = await Promise.all([fakeCivic(t, { tls: true }), proxyServer(t)]);
    const client = civicSip.newClient(fake.clientConfig({ proxy: { rejectUnauthorized: false } }));
    assert.deepEqual(await client.exchangeCode('code'), { data: records(), userId: 'fake-user-id' });
    assert.equal(proxy.requests.length, 0);
    assert.equal(fake.requests.length, 1);
    // Without the option the self-signed certificate is refused.
    await rejectsWith(civicSip.newClient(fake.clientConfig()).exchangeCode('code'), { message: CERT_ERROR, code: codes.NETWORK });
  });
});

const BOTH_SCRIPT = `
const civicSip = require(${JSON.stringify(path.resolve(__dirname, '..'))});
const rewire = require('rewire');
const { config, code } = JSON.parse(process.env.CIVIC_SIP_TEST_INPUT);
const run = (client) => client.exchangeCode(code).then(
  (result) => ({ ok: true, result }),
  (e) => ({ ok: false, error: { message: e.message, code: e.code } }),
);
(async () => {
  const native = await run(civicSip.newClient(config));
  const { civicPublicKey, ...theirs } = config;
  const reference = await run(rewire('civic-sip-api').newClient(theirs));
  process.stdout.write(JSON.stringify({ native, reference }));
})();
`;

/** Both clients, civic-sip-native then civic-sip-api, in one child process with exactly `env`. */
function bothInChild(env, config, code) {
  const childEnv = { PATH: process.env.PATH, CIVIC_SIP_TEST_INPUT: JSON.stringify({ config, code }), ...env };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', BOTH_SCRIPT], { env: childEnv, timeout: 10000, cwd: path.resolve(__dirname, '..') }, (err, stdout, stderr) => {
      if (err) reject(new Error(`child failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

describe('proxy environment variables (child processes)', () => {
  test('HTTP_PROXY routes the exchange through the proxy', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const outcome = await exchangeInChild({ HTTP_PROXY: proxy.url }, emu.clientConfig(), emu.mintAuthCode(undefined, { userId: 'env' }));
    assertChildSucceeded(outcome, 'env');
    assert.deepEqual(seen(proxy), [['POST', `${emu.url}prod/scopeRequest/authCode`]]);
    assert.equal(emu.requests.length, 1);
  });

  test('NO_PROXY=127.0.0.1 with HTTP_PROXY: direct', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const outcome = await exchangeInChild({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }, emu.clientConfig(),
      emu.mintAuthCode(undefined, { userId: 'direct' }));
    assertChildSucceeded(outcome, 'direct');
    assert.equal(proxy.requests.length, 0);
    assert.equal(emu.requests.length, 1);
  });

  test('lower-case http_proxy routes through the proxy', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const outcome = await exchangeInChild({ http_proxy: proxy.url }, emu.clientConfig(), emu.mintAuthCode(undefined, { userId: 'lower' }));
    assertChildSucceeded(outcome, 'lower');
    assert.deepEqual(seen(proxy), [['POST', `${emu.url}prod/scopeRequest/authCode`]]);
  });

  test('HTTP_PROXY wins over http_proxy', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const dead = await closedPort();
    const outcome = await exchangeInChild({ HTTP_PROXY: proxy.url, http_proxy: `http://127.0.0.1:${dead}` }, emu.clientConfig(),
      emu.mintAuthCode(undefined, { userId: 'upper' }));
    assertChildSucceeded(outcome, 'upper');
    assert.equal(proxy.requests.length, 1);
  });

  test('NO_PROXY forms: *, host:port of the server, lower-case no_proxy; another port still proxies', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const direct = [
      { NO_PROXY: '*' },
      { NO_PROXY: `127.0.0.1:${emu.port}` },
      { NO_PROXY: `example.com, 127.0.0.1:${emu.port}` },
      { no_proxy: '127.0.0.1' },
    ];
    for (const env of direct) {
      assertChildSucceeded(await exchangeInChild({ HTTP_PROXY: proxy.url, ...env }, emu.clientConfig(),
        emu.mintAuthCode(undefined, { userId: 'd' })), 'd');
      assert.equal(proxy.requests.length, 0, JSON.stringify(env));
    }
    assertChildSucceeded(await exchangeInChild({ HTTP_PROXY: proxy.url, NO_PROXY: `127.0.0.1:${emu.port + 1 > 65535 ? 1 : emu.port + 1},example.com` },
      emu.clientConfig(), emu.mintAuthCode(undefined, { userId: 'p' })), 'p');
    assert.equal(proxy.requests.length, 1);
    assert.equal(emu.requests.length, direct.length + 1);
  });

  test('HTTPS_PROXY alone does not apply to an http:// server', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    assertChildSucceeded(await exchangeInChild({ HTTPS_PROXY: proxy.url, https_proxy: proxy.url }, emu.clientConfig(),
      emu.mintAuthCode(undefined, { userId: 'https-only' })), 'https-only');
    assert.equal(proxy.requests.length, 0);
  });

  test('HTTP_PROXY naming a dead proxy: the exchange fails (the variable is read)', OPTS, async (t) => {
    const emu = await emulator(t);
    const dead = await closedPort();
    const outcome = await exchangeInChild({ HTTP_PROXY: `http://127.0.0.1:${dead}` }, emu.clientConfig(), emu.mintAuthCode());
    assert.equal(outcome.ok, false);
    assert.equal(outcome.error.code, codes.NETWORK);
    assert.match(outcome.error.message, /^Error exchanging code for data: Error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    assert.equal(emu.requests.length, 0);
  });

  test('a proxy variable that applies but cannot be used rejects as civic-sip-api does, before any request', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const cases = [
      [{ HTTP_PROXY: 'htp://127.0.0.1:1' }, 'Error: Invalid protocol: htp:'],
      [{ http_proxy: 'htp://127.0.0.1:1' }, 'Error: Invalid protocol: htp:'],
      [{ HTTP_PROXY: `ftp://127.0.0.1:${proxy.port}` }, 'Error: Invalid protocol: ftp:'],
      [{ HTTP_PROXY: `socks5://127.0.0.1:${proxy.port}` }, 'Error: Invalid protocol: socks5:'],
      [{ HTTP_PROXY: 'localhost' }, 'Error: Invalid protocol: null'],
      [{ HTTP_PROXY: 'htp://127.0.0.1:1', NO_PROXY: 'example.com' }, 'Error: Invalid protocol: htp:'],
      [{ http_proxy: 'htp://127.0.0.1:1', HTTP_PROXY: '' }, 'Error: Invalid protocol: htp:'],
    ];
    for (const [env, message] of cases) {
      const { native, reference } = await bothInChild(env, emu.clientConfig(), emu.mintAuthCode());
      assert.deepEqual(native, { ok: false, error: { message: `${PREFIX}${message}`, code: codes.CONFIG } }, JSON.stringify(env));
      assert.deepEqual(reference, { ok: false, error: { message: `${PREFIX}${message}` } }, `civic-sip-api with ${JSON.stringify(env)}`);
    }
    assert.equal(emu.requests.length, 0);
    assert.equal(proxy.requests.length, 0);
    // An unusable variable for an https:// server: refused too (civic-sip-api tunnelled through
    // it as if it said http://, whatever it said).
    const fake = await fakeCivic(t, { tls: true });
    for (const env of [{ HTTPS_PROXY: 'htp://127.0.0.1:1' }, { https_proxy: `socks5://127.0.0.1:${proxy.port}` }, { HTTP_PROXY: 'htp://127.0.0.1:1' }]) {
      const outcome = await exchangeInChild(env, fake.clientConfig(), 'code');
      assert.equal(outcome.ok, false);
      assert.equal(outcome.error.code, codes.CONFIG, JSON.stringify(outcome));
      assert.match(outcome.error.message, /^Error exchanging code for data: Error: Invalid protocol: (htp|socks5):$/);
    }
    assert.equal(fake.requests.length, 0);
    assert.equal(proxy.requests.length, 0);
  });

  test('variables that do not apply change nothing, as in civic-sip-api: NO_PROXY, HTTPS_PROXY for http://, ALL_PROXY', OPTS, async (t) => {
    const emu = await emulator(t);
    const cases = [
      { HTTP_PROXY: 'htp://127.0.0.1:1', NO_PROXY: '127.0.0.1' },
      { HTTP_PROXY: 'htp://127.0.0.1:1', no_proxy: '*' },
      { HTTPS_PROXY: 'htp://127.0.0.1:1' },
      // Read neither by request nor here.
      { ALL_PROXY: 'htp://127.0.0.1:1', all_proxy: 'htp://127.0.0.1:1' },
    ];
    for (const env of cases) {
      const { native, reference } = await bothInChild(env, emu.clientConfig(), emu.mintAuthCode(undefined, { userId: 'direct' }));
      assert.deepEqual(native, { ok: true, result: { data: records(), userId: 'direct' } }, JSON.stringify(env));
      // civic-sip-api went direct too: the emulator answered it (its Civic key is not the emulator's).
      assert.ok(!reference.ok && /could not be verified/.test(reference.error.message), JSON.stringify(reference));
    }
    assert.equal(emu.requests.length, cases.length * 2);
  });

  test('the proxy option wins over the environment; proxy without url ignores it', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    const dead = await closedPort();
    assertChildSucceeded(await exchangeInChild({ HTTP_PROXY: `http://127.0.0.1:${dead}` },
      emu.clientConfig({ proxy: { url: proxy.url } }), emu.mintAuthCode(undefined, { userId: 'option' })), 'option');
    assert.equal(proxy.requests.length, 1);
    // civic-sip-api passed `proxy: undefined` to request, which then ignored the environment.
    assertChildSucceeded(await exchangeInChild({ HTTP_PROXY: `http://127.0.0.1:${dead}` },
      emu.clientConfig({ proxy: { rejectUnauthorized: true } }), emu.mintAuthCode(undefined, { userId: 'none' })), 'none');
    assert.equal(proxy.requests.length, 1);
    assert.equal(emu.requests.length, 2);
  });

  test('the processed flow follows HTTP_PROXY for the payload GET too', OPTS, async (t) => {
    const [emu, proxy] = await Promise.all([emulator(t), proxyServer(t)]);
    emu.fault('processed');
    assertChildSucceeded(await exchangeInChild({ HTTP_PROXY: proxy.url }, emu.clientConfig(),
      emu.mintAuthCode(undefined, { userId: 'env-processed' })), 'env-processed');
    assert.deepEqual(proxy.requests.map((r) => r.method), ['POST', 'GET']);
    assert.match(proxy.requests[1].url, new RegExp(`^${emu.url}payloads/[0-9a-f]{32}\\?X-Amz-Algorithm=[^&]+&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$`));
  });

  test('an https:// server with only HTTP_PROXY set is tunnelled through it (CONNECT)', OPTS, async (t) => {
    const [fake, proxy] = await Promise.all([fakeCivic(t, { tls: true }), proxyServer(t)]);
    const outcome = await exchangeInChild({ HTTP_PROXY: proxy.url }, fake.clientConfig(), 'code');
    // The test server's certificate is self-signed, and the environment cannot turn checks off.
    assert.equal(outcome.ok, false);
    assertCivicError(Object.assign(new Error(outcome.error.message), outcome.error), { message: CERT_ERROR, code: codes.NETWORK });
    assert.deepEqual(seen(proxy), [['CONNECT', `127.0.0.1:${fake.port}`]]);
    assert.equal(fake.requests.length, 0);
  });
});
