'use strict';

// The deployment check (`check()` and `npx civic-sip-native check`) against real servers on
// 127.0.0.1: the emulator, TLS listeners with the fixtures' certificates, a real proxy, a proxy
// that refuses, a closed port, a server that never answers, a server whose Date is off, and the
// local clock moved by faketime. Each case asserts the line, its status and the exit code; every
// output, human and JSON, is searched for the secrets it was given.
//
// Run: node --test __test__/check.test.js

require('./helpers/support').clearProxyEnv();

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFile, execFileSync } = require('node:child_process');

const civicSip = require('..');
const { format, scrub, shownUrl } = require('../check');
const { main } = require('../cli');
const { startEmulator } = require('../emulator');
const { CA_PEM, tlsFixture, closedPort } = require('./helpers/servers');
const { verifyReason } = require('./helpers/node-line');
const {
  emulator, httpServer, socketServer, proxyServer,
} = require('./helpers/support');

const ROOT = path.join(__dirname, '..');
const OPTS = { timeout: 20000 };
const SERVER_TLS = tlsFixture('server'); // issued by CA_PEM for 127.0.0.1
const EXPIRED_TLS = tlsFixture('localhost-expired'); // self-signed for localhost, expired
const LOCALHOST_TLS = tlsFixture('localhost'); // self-signed for localhost (CA:TRUE)
const MARKER = 'Mk3rZZ9q'; // in every password and query the tests give

/** The check's report, its human lines and its JSON, with no secret in any of them. */
async function checked(options, settings, secrets = []) {
  const report = await civicSip.check(options, settings);
  const text = format(report);
  const json = JSON.stringify(report);
  for (const secret of [MARKER, options.appSecret, options.prvKey, ...secrets].filter(Boolean)) {
    assert.ok(!text.includes(secret), `the human output shows a secret:\n${text}`);
    assert.ok(!json.includes(secret), `the JSON output shows a secret:\n${json}`);
  }
  return { report, text, byName: Object.fromEntries(report.checks.map((c) => [c.name, c])) };
}

function statuses(report) {
  return Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
}

/** `npx civic-sip-native check ...` in a process of its own: { code, stdout, stderr }. */
function cli(args, { env = {}, prefix = [] } = {}) {
  const clean = { ...process.env };
  for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) delete clean[name];
  const [file, argv] = prefix.length ? [prefix[0], [...prefix.slice(1), process.execPath]] : [process.execPath, []];
  return new Promise((resolve) => {
    execFile(file, [...argv, path.join(ROOT, 'cli.js'), ...args], { env: { ...clean, ...env }, timeout: 20000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

function writeConfig(t, config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'check-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'app.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/** A TLS (or plain) server that answers every request 404 with a Date `skewMs` off. */
function dated(t, { tls, skewMs = 0 } = {}) {
  return httpServer(t, (req, res) => {
    res.sendDate = false;
    const body = '{"message":"Not Found"}';
    res.writeHead(404, { Date: new Date(Date.now() + skewMs).toUTCString(), 'Content-Length': body.length });
    res.end(body);
  }, { tls });
}

const fakeApp = (api, extra) => ({
  appId: 'app-check',
  appSecret: `${MARKER.toLowerCase().replace(/[^0-9a-f]/g, 'a')}44bbae32d1e02bf481074177002b`.slice(0, 32),
  prvKey: 'bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721',
  api,
  ...extra,
});

describe('check: a correct setup', () => {
  test('against the emulator with --probe every check passes, exit code 0 (human and JSON)', OPTS, async (t) => {
    const emu = await emulator(t);
    const config = emu.clientConfig();
    const { report, byName } = await checked(config, { probe: true });
    assert.deepEqual(statuses(report), {
      configuration: 'pass', route: 'pass', connection: 'pass', tls: 'pass', clock: 'pass', credentials: 'pass',
    });
    assert.equal(report.ok, true);
    assert.equal(report.exitCode, 0);
    assert.match(byName.configuration.found, /^appId, appSecret and prvKey present and well-formed; prvKey's public key 04[0-9a-f]{128} \(compressed 0[23][0-9a-f]{64}\)/);
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(config.prvKey, 'hex'));
    assert.equal(byName.configuration.details.publicKey, ecdh.getPublicKey('hex', 'uncompressed'));
    assert.equal(byName.configuration.details.publicKeyCompressed, ecdh.getPublicKey('hex', 'compressed'));
    assert.match(byName.configuration.found, new RegExp(`exchange URL ${emu.url}prod/scopeRequest/authCode$`));
    assert.equal(byName.route.found, 'direct: no proxy option, and no proxy variable applies');
    assert.match(byName.connection.found, /^127\.0\.0\.1; 127\.0\.0\.1:\d+ answered in [\d.]+ ms$/);
    assert.match(byName.clock.found, /agrees with the local clock \(within 1 s\)$/);
    assert.equal(byName.credentials.found, 'one exchange with a made-up auth code: Civic accepted the app and refused only the code (400)');

    const file = writeConfig(t, config);
    const human = await cli(['check', '--config', file, '--probe']);
    assert.equal(human.code, 0, human.stdout + human.stderr);
    assert.match(human.stdout, /^PASS  configuration  /m);
    assert.match(human.stdout, /^PASS  credentials    one exchange/m);
    assert.match(human.stdout, /every check passed\n$/);
    assert.ok(!human.stdout.includes('\u001b['), 'no colour off a TTY');
    const json = await cli(['check', '--config', file, '--json']);
    assert.equal(json.code, 0);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.ok, true);
    assert.equal(parsed.checks[5].status, 'skip');
    for (const out of [human.stdout, json.stdout]) {
      assert.ok(!out.includes(config.appSecret) && !out.includes(config.prvKey));
    }
  });

  test('the configuration from environment variables a prefix or a flag names', OPTS, async (t) => {
    const emu = await emulator(t);
    const c = emu.clientConfig();
    const run = await cli(['check', '--env-prefix', 'MYAPP_', '--app-secret-var', 'SECRET_FROM_VAULT', '--probe'], {
      env: {
        MYAPP_APP_ID: c.appId, SECRET_FROM_VAULT: c.appSecret, MYAPP_PRV_KEY: c.prvKey, MYAPP_API: c.api,
      },
    });
    assert.equal(run.code, 0, run.stdout);
    const missing = await cli(['check', '--env-prefix', 'MYAPP_'], { env: { MYAPP_APP_ID: c.appId, MYAPP_API: c.api } });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^FAIL  configuration  appSecret \(variable MYAPP_APP_SECRET is unset\) is missing; prvKey \(variable MYAPP_PRV_KEY is unset\) is missing;/m);
    const spaced = await checked({ ...c, appId: `${c.appId}\n`, env: 'prod/x' });
    assert.match(spaced.byName.configuration.found, /^appId has white space at its start or end; env is not one path segment/);
    assert.equal(spaced.report.exitCode, 1);
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: civic-sip-native check \[options\]\n/);
    const usage = await cli(['check', '--nope']);
    assert.equal(usage.code, 64);
    assert.match(usage.stderr, /^civic-sip-native: Unknown option '--nope'/);
  });

  test('TLS through a real proxy: CONNECT, the chain and the verdict; the proxy shown without its password', OPTS, async (t) => {
    const server = await dated(t, { tls: SERVER_TLS });
    const proxy = await proxyServer(t);
    const proxyUrl = proxy.url.replace('http://', `http://user:pw-${MARKER}@`);
    const { report, byName } = await checked(fakeApp(server.url, { ca: CA_PEM, proxy: { url: proxyUrl } }), {}, [`pw-${MARKER}`]);
    assert.equal(report.exitCode, 0, format(report));
    assert.equal(byName.route.found, `through the proxy ${proxy.url} (from proxy.url)`);
    assert.match(byName.connection.found, new RegExp(`^the proxy ${proxy.url}: 127\\.0\\.0\\.1; 127\\.0\\.0\\.1:${proxy.port} answered in [\\d.]+ ms; CONNECT 127\\.0\\.0\\.1:${server.port}: 200 in [\\d.]+ ms$`));
    assert.match(byName.tls.found, /^1 trusted roots from the ca option; chain: .*CN=127\.0\.0\.1 \(issued by .*\) ← .*; verdict: trusted$/);
    assert.equal(byName.clock.status, 'pass');
    assert.deepEqual(proxy.requests.map((r) => r.method), ['CONNECT']);
    assert.equal(proxy.requests[0].headers['proxy-authorization'], `Basic ${Buffer.from(`user:pw-${MARKER}`).toString('base64')}`);
  });

  test('through an https proxy: TLS to the proxy, then CONNECT and TLS to the server, as the exchange goes', OPTS, async (t) => {
    const target = await dated(t, { tls: SERVER_TLS });
    const proxy = https.createServer(SERVER_TLS);
    const tunnels = [];
    proxy.on('connect', (req, socket, head) => {
      tunnels.push(req.url);
      const [host, port] = req.url.split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await new Promise((resolve) => { proxy.listen(0, '127.0.0.1', resolve); });
    t.after(() => new Promise((resolve) => { proxy.closeAllConnections?.(); proxy.close(resolve); }));
    const proxyUrl = `https://127.0.0.1:${proxy.address().port}`;
    const config = fakeApp(target.url, { ca: CA_PEM, proxy: { url: proxyUrl } });
    const { report, byName } = await checked(config);
    assert.equal(report.exitCode, 0, format(report));
    assert.match(byName.connection.found, new RegExp(`^the proxy ${proxyUrl}: .*; CONNECT 127\\.0\\.0\\.1:${target.port}: 200 in [\\d.]+ ms$`));
    assert.match(byName.tls.found, /verdict: trusted$/);
    // The exchange takes the same way (and gets the server's 404).
    const error = await civicSip.newClient(config).exchangeCode('code').then(() => null, (e) => e);
    assert.equal(error.message, 'Error exchanging code for data: 404 - "{\\"message\\":\\"Not Found\\"}"');
    assert.deepEqual(tunnels, [`127.0.0.1:${target.port}`, `127.0.0.1:${target.port}`]);
  });

  test('plain HTTP through a real proxy: the Date and the probe go through it in absolute form', OPTS, async (t) => {
    const emu = await emulator(t);
    const proxy = await proxyServer(t);
    const { report, byName } = await checked(emu.clientConfig({ proxy: { url: proxy.url } }), { probe: true });
    assert.equal(report.exitCode, 0, format(report));
    assert.match(byName.connection.found, new RegExp(`^the proxy ${proxy.url}: 127\\.0\\.0\\.1; 127\\.0\\.0\\.1:${proxy.port} answered in [\\d.]+ ms$`));
    assert.deepEqual(proxy.requests.map((r) => `${r.method} ${r.url}`), [`GET ${emu.url}`, `POST ${emu.url}prod/scopeRequest/authCode`]);
  });

  test('the proxy variables with NO_PROXY applied, as the core decides them', OPTS, async (t) => {
    const emu = await emulator(t);
    const port = await closedPort();
    process.env.HTTP_PROXY = `http://u:${MARKER}@127.0.0.1:${port}`;
    process.env.NO_PROXY = '127.0.0.1';
    t.after(() => { delete process.env.HTTP_PROXY; delete process.env.NO_PROXY; });
    const { report, byName } = await checked(emu.clientConfig());
    assert.equal(byName.route.found, 'direct: NO_PROXY covers 127.0.0.1');
    assert.equal(report.exitCode, 0);
    delete process.env.NO_PROXY;
    const through = await checked(emu.clientConfig());
    assert.equal(through.byName.route.found, `through the proxy http://127.0.0.1:${port} (from HTTP_PROXY)`);
    assert.equal(through.byName.connection.found, `the proxy http://127.0.0.1:${port}: 127.0.0.1:${port} ECONNREFUSED`);
    assert.equal(through.report.exitCode, 3);
  });
});

describe('check: each failure, its line and its exit code', () => {
  test('a wrong appSecret and a wrong prvKey: Civic refuses the app (401) under --probe, exit code 6', OPTS, async (t) => {
    const emu = await emulator(t);
    const good = emu.clientConfig();
    const wrongSecret = { ...good, appSecret: good.appSecret.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) };
    const wrongKey = { ...good, prvKey: '1'.repeat(64) };
    for (const config of [wrongSecret, wrongKey]) {
      // eslint-disable-next-line no-await-in-loop
      const { report, byName } = await checked(config, { probe: true }, [good.appSecret, good.prvKey]);
      assert.equal(byName.credentials.status, 'fail');
      assert.equal(byName.credentials.found, 'one exchange with a made-up auth code: Civic refused the app (401)');
      assert.match(byName.credentials.fix, /appId, appSecret and prvKey must be the same app's/);
      assert.equal(report.exitCode, 6);
    }
    const file = writeConfig(t, wrongSecret);
    const run = await cli(['check', '--config', file, '--probe', '--json']);
    assert.equal(run.code, 6);
    assert.equal(JSON.parse(run.stdout).checks[5].details.status, 401);
    assert.ok(!run.stdout.includes(wrongSecret.appSecret));
  });

  test('a malformed appSecret or prvKey fails the configuration, named, never shown; exit code 1', OPTS, async (t) => {
    const emu = await emulator(t);
    const good = emu.clientConfig();
    const { report, byName } = await checked({ ...good, appSecret: `${good.appSecret} `, prvKey: `${MARKER}xyz` });
    assert.equal(report.exitCode, 1);
    assert.match(byName.configuration.found, /^appSecret: appSecret must be 32, 48 or 64 hex characters .*; prvKey: prvKey must be a P-256 private key as 64 hex characters; exchange URL /);
    assert.equal(byName.credentials.status, 'skip');
  });

  test('an untrusted certificate, an expired one and one for another name, in the words the exchange rejects with; exit code 4', OPTS, async (t) => {
    const untrusted = await dated(t, { tls: SERVER_TLS });
    const expired = await dated(t, { tls: EXPIRED_TLS });
    const otherName = await dated(t, { tls: LOCALHOST_TLS });
    const cases = [
      [fakeApp(untrusted.url), `${verifyReason('unable to verify the first certificate')} (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`, /issuer is not among the roots/],
      [fakeApp(expired.url.replace('127.0.0.1', 'localhost'), { ca: EXPIRED_TLS.cert }), 'certificate has expired (CERT_HAS_EXPIRED)', /outside its validity period/],
      // A certificate for localhost only, reached as 127.0.0.1.
      [fakeApp(otherName.url, { ca: LOCALHOST_TLS.cert }), "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list:  (ERR_TLS_CERT_ALTNAME_INVALID)", /for another name/],
    ];
    for (const [config, words, fix] of cases) {
      // eslint-disable-next-line no-await-in-loop
      const { report, byName } = await checked(config);
      assert.equal(byName.tls.status, 'fail', format(report));
      assert.ok(byName.tls.found.endsWith(`verdict: ${words}`), byName.tls.found);
      assert.match(byName.tls.fix, fix);
      assert.equal(report.exitCode, 4);
      // The exchange refuses the same server in the same words.
      // eslint-disable-next-line no-await-in-loop
      const error = await civicSip.newClient(config).exchangeCode('code').then(() => null, (e) => e);
      assert.equal(error.message, `Error exchanging code for data: Error: ${words.replace(/ \(.*\)$/, '')}`);
    }
    const run = await cli(['check', '--json'], {
      env: {
        CIVIC_APP_ID: 'a', CIVIC_APP_SECRET: fakeApp().appSecret, CIVIC_PRV_KEY: fakeApp().prvKey, CIVIC_API: untrusted.url,
      },
    });
    assert.equal(run.code, 4);
    assert.match(JSON.parse(run.stdout).checks[3].details.sources.join(), /./);
  });

  test('a server clock off by 90 s fails, by 45 s warns (the Date header); exit codes 5 and 0', OPTS, async (t) => {
    const ahead = await dated(t, { skewMs: 90000 });
    const behind = await dated(t, { skewMs: -45000 });
    const far = await checked(fakeApp(ahead.url));
    assert.equal(far.byName.clock.status, 'fail');
    assert.match(far.byName.clock.found, /is (89\.\d|9\d(\.\d)?) s ahead of the local clock: response tokens are refused beyond 60 s$/);
    assert.equal(far.report.exitCode, 5);
    const near = await checked(fakeApp(behind.url));
    assert.equal(near.byName.clock.status, 'warn');
    assert.match(near.byName.clock.found, /is 4\d(\.\d)? s behind the local clock: within the 60 s/);
    assert.equal(near.report.exitCode, 0);
  });

  const faketime = (() => {
    try {
      execFileSync('faketime', ['-f', '+0s', 'true']);
      return true;
    } catch {
      return false;
    }
  })();
  test('the local clock moved 2 minutes by faketime fails the clock check; exit code 5', { ...OPTS, skip: !faketime && !process.env.CI && 'faketime is not installed (scripts/install-test-tools.sh)' }, async (t) => {
    assert.ok(faketime, 'faketime is not installed (scripts/install-test-tools.sh installs it)');
    const emu = await emulator(t);
    const file = writeConfig(t, emu.clientConfig());
    const run = await cli(['check', '--config', file], { prefix: ['faketime', '-f', '+120s'] });
    assert.equal(run.code, 5, run.stdout + run.stderr);
    assert.match(run.stdout, /^FAIL  clock          the server's Date .* is 1[12]\d(\.\d)? s behind the local clock: response tokens are refused beyond 60 s$/m);
  });

  test('a proxy that refuses the tunnel, a closed port, a server that never answers; exit codes 3, 3, 5 and 4', OPTS, async (t) => {
    const refusing = await socketServer(t, (socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    });
    const target = await dated(t, { tls: SERVER_TLS });
    const proxyUrl = `http://user:pw-${MARKER}@127.0.0.1:${refusing.port}`;
    const refused = await checked(fakeApp(target.url, { ca: CA_PEM, proxy: { url: proxyUrl } }), {}, [`pw-${MARKER}`]);
    assert.match(refused.byName.connection.found, new RegExp(`^the proxy http://127\\.0\\.0\\.1:${refusing.port}: 127\\.0\\.0\\.1; 127\\.0\\.0\\.1:${refusing.port} answered in [\\d.]+ ms; the proxy refused the tunnel to 127\\.0\\.0\\.1:${target.port}: 403 Forbidden$`));
    assert.match(refused.byName.connection.fix, /allow CONNECT to 127\.0\.0\.1:\d+ on the proxy/);
    assert.equal(refused.report.exitCode, 3);
    assert.deepEqual(statuses(refused.report).tls, 'skip');

    const port = await closedPort();
    const closed = await checked(fakeApp(`https://127.0.0.1:${port}/`));
    assert.equal(closed.byName.connection.found, `127.0.0.1:${port} ECONNREFUSED`);
    assert.match(closed.byName.connection.fix, /^nothing listens at 127\.0\.0\.1:\d+/);
    assert.equal(closed.report.exitCode, 3);

    const silent = await socketServer(t, () => {});
    const start = Date.now();
    const plain = await checked(fakeApp(silent.url), { timeout: 300 });
    assert.equal(plain.byName.clock.found, 'the server did not answer a GET within 300 ms');
    assert.equal(plain.report.exitCode, 5);
    const overTls = await checked(fakeApp(silent.url.replace('http:', 'https:')), { timeout: 300 });
    assert.match(overTls.byName.tls.found, /; no TLS handshake within 300 ms$/);
    assert.equal(overTls.report.exitCode, 4);
    assert.ok(Date.now() - start < 5000, 'each check stops at its timeout');
  });
});

describe('check: nothing secret is shown', () => {
  test('URLs lose userinfo and query; messages lose the secrets they were given', () => {
    assert.equal(shownUrl(`https://u:${MARKER}@127.0.0.1:1/sip/?X-Amz-Signature=${MARKER}#f`), 'https://127.0.0.1:1/sip/');
    assert.equal(shownUrl(`http://u:${MARKER}@127.0.0.1:3128/x?y`, { origin: true }), 'http://127.0.0.1:3128');
    assert.equal(scrub(`at https://a:b@127.0.0.1/p?X-Amz-Signature=${MARKER} with s3cr3t!`, ['s3cr3t!']), 'at https://127.0.0.1/p with [redacted]');
  });

  test('an api with a pre-signed query and a proxy URL with a password never reach the output', OPTS, async (t) => {
    const server = await dated(t);
    const { byName } = await checked(fakeApp(`${server.url}?X-Amz-Signature=${MARKER}`, { proxy: { url: `http://u:${MARKER}@127.0.0.1:1` } }), { probe: true });
    assert.match(byName.configuration.found, /api holds a query/);
    assert.equal(byName.route.found, 'through the proxy http://127.0.0.1:1 (from proxy.url)');
  });

  test('colour only when asked (a TTY without NO_COLOR); a bad setting is refused', async () => {
    const report = { ok: true, exitCode: 0, checks: [{ name: 'route', status: 'pass', found: 'direct' }] };
    assert.match(format(report, { colour: true }), /\u001b\[32mPASS\u001b\[0m {2}route/);
    assert.equal(format(report), 'PASS  route          direct\nevery check passed');
    await assert.rejects(civicSip.check({}, { timeout: -1 }), { code: 'ERR_INVALID_ARG_VALUE', message: 'check: timeout must be a positive number of milliseconds' });
    // On a terminal the CLI colours, unless NO_COLOR is set.
    const emu = await startEmulator();
    try {
      const c = emu.clientConfig();
      const env = {
        CIVIC_APP_ID: c.appId, CIVIC_APP_SECRET: c.appSecret, CIVIC_PRV_KEY: c.prvKey, CIVIC_API: c.api,
      };
      const tty = () => ({ isTTY: true, text: '', write(chunk) { this.text += chunk; } });
      const coloured = tty();
      assert.equal(await main(['check'], { env, stdout: coloured }), 0);
      assert.match(coloured.text, /^\u001b\[32mPASS\u001b\[0m {2}configuration/);
      const plain = tty();
      assert.equal(await main(['check'], { env: { ...env, NO_COLOR: '1' }, stdout: plain }), 0);
      assert.match(plain.text, /^PASS {2}configuration/);
      assert.ok(!plain.text.includes('\u001b'));
    } finally {
      await emu.close();
    }
  });
});
