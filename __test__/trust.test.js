'use strict';

// The certificates trusted without `ca` are the ones Node's own `https` trusts in the same
// process (trust.js), on whichever Node line runs this suite: an empty system store changes
// nothing (an exchange over HTTP never reads a certificate), a private root in the system store
// alone is refused as Node refuses it, `--use-openssl-ca`, `--use-system-ca`,
// `NODE_USE_SYSTEM_CA=1` and `tls.setDefaultCACertificates()` are followed where the line has
// them. And a failure of the moment is not kept: with file descriptors exhausted an exchange
// fails in Node's words (`connect EMFILE ...`) and the next one, once they are free, works.
//
// Each case runs in a child process whose environment is set here alone (this machine sets
// SSL_CERT_FILE, SSL_CERT_DIR and NODE_EXTRA_CA_CERTS), against TLS servers on 127.0.0.1 with the
// test certificates (fixtures/tls: a private CA and a server certificate it issued). Where it
// matters the child also asks Node's own https.get (or civic-sip-api) and the outcomes are
// compared.
//
// Run: node --test __test__/trust.test.js

require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');

const { DEFAULT_USER_DATA } = require('../emulator');
const { TLS_DIR, tlsFixture } = require('./helpers/servers');
const civic = require('./helpers/civic');
const { fakeCivic, httpServer, records } = require('./helpers/support');
const { PREFIX } = require('./helpers/assertions');

const ROOT = path.join(__dirname, '..');
const OPTS = { timeout: 60000 };
const CA_FILE = path.join(TLS_DIR, 'ca.pem');
const USER = { data: records(DEFAULT_USER_DATA), userId: 'over-tls' };
// A store with nothing in it, as in the node:<version>-slim images.
const EMPTY_STORE = { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: '/nonexistent' };
// The private root in the system (OpenSSL) store only.
const ROOT_IN_STORE = { SSL_CERT_FILE: CA_FILE, SSL_CERT_DIR: '/nonexistent' };

const hasFlag = (name) => process.allowedNodeEnvironmentFlags.has(name);
const [major, minor] = process.versions.node.split('.').map(Number);
// NODE_USE_SYSTEM_CA=1: Node 22.19 and 24.6 (on 22.15 to 22.18 only the flag).
const hasUseSystemCaVariable = (major === 22 && minor >= 19) || (major === 24 && minor >= 6) || major > 24;

/** `script` in a child Node with `env` alone (and PATH), the flags in `args`; its stdout as JSON. */
function child(script, { env = {}, args = [], ulimit } = {}) {
  const command = ulimit === undefined ? process.execPath : '/bin/sh';
  const argv = ulimit === undefined ? [...args, '-e', script]
    : ['-c', `ulimit -n ${ulimit} && exec "$0" "$@"`, process.execPath, ...args, '-e', script];
  return new Promise((resolve, reject) => {
    execFile(command, argv, {
      cwd: ROOT, env: { PATH: process.env.PATH, ...env }, timeout: 50000, maxBuffer: 1 << 24,
    }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`the child printed no JSON (${error && error.message}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** A script that prints `{ ours, node }`: our exchange's outcome and Node's own https.get's. */
function exchangeAndNode(config, url, { before = '' } = {}) {
  return `
    const https = require('node:https');
    const tls = require('node:tls');
    const civicSip = require('.');
    const ours = () => civicSip.newClient(${JSON.stringify(config)}).exchangeCode('code')
      .then((value) => ({ value }), (e) => ({ message: e.message, code: e.code }));
    const node = () => new Promise((resolve) => {
      https.get(${JSON.stringify(url)}, { agent: false }, (res) => { res.resume(); res.on('end', () => resolve('ok')); })
        .on('error', (e) => resolve(e.message));
    });
    (async () => {
      ${before}
      console.log(JSON.stringify({ ours: await ours(), node: await node() }));
    })();`;
}

describe('The trust store in effect is Node\'s', () => {
  const civicHandler = (fake) => (req, res) => {
    req.resume();
    req.on('end', () => fake.send(res, 200, civic.replyBody({ data: fake.token(), userId: 'over-tls' })));
  };

  async function servers(t) {
    const fake = await fakeCivic(t);
    const server = await httpServer(t, civicHandler(fake), { tls: tlsFixture('server'), readBody: false });
    return { fake, server, config: fake.clientConfig({ api: server.url }) };
  }

  /** Our outcome is Node's: the user data where Node connects, its words where it refuses. */
  function sameAsNode(outcome, what) {
    if (outcome.node === 'ok') {
      assert.deepEqual(outcome.ours, { value: USER }, what);
    } else {
      assert.deepEqual(outcome.ours, { message: `${PREFIX}Error: ${outcome.node}`, code: 'ERR_CIVIC_NETWORK' }, what);
    }
  }

  test('an empty system store: the exchange works over HTTP, and over HTTPS with the root in NODE_EXTRA_CA_CERTS', OPTS, async (t) => {
    const { fake, server, config } = await servers(t);
    const overHttp = await child(exchangeAndNode(fake.clientConfig(), server.url), { env: EMPTY_STORE });
    assert.deepEqual(overHttp.ours, { value: { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' } });
    const extra = await child(exchangeAndNode(config, server.url), { env: { ...EMPTY_STORE, NODE_EXTRA_CA_CERTS: CA_FILE } });
    assert.equal(extra.node, 'ok');
    assert.deepEqual(extra.ours, { value: USER });
    // Node read the variable when it started: an app deleting it later still trusts the file.
    const deleted = await child(exchangeAndNode(config, server.url, { before: 'delete process.env.NODE_EXTRA_CA_CERTS;' }), {
      env: { ...EMPTY_STORE, NODE_EXTRA_CA_CERTS: CA_FILE },
    });
    assert.equal(deleted.node, 'ok');
    assert.deepEqual(deleted.ours, { value: USER });
    const without = await child(exchangeAndNode(config, server.url), { env: EMPTY_STORE });
    assert.notEqual(without.node, 'ok');
    sameAsNode(without, 'no root for the server');
  });

  test('a private root in the system store only is refused, in the words of Node\'s own https', OPTS, async (t) => {
    const { server, config } = await servers(t);
    const outcome = await child(exchangeAndNode(config, server.url), { env: ROOT_IN_STORE });
    assert.match(outcome.node, /^unable to verify the first certificate/);
    sameAsNode(outcome, 'root in the system store only');
  });

  test('--use-openssl-ca, on the command line or in NODE_OPTIONS, with the root in SSL_CERT_FILE or SSL_CERT_DIR', OPTS, async (t) => {
    const { server, config } = await servers(t);
    const openssl = await child(exchangeAndNode(config, server.url), { env: ROOT_IN_STORE, args: ['--use-openssl-ca'] });
    assert.equal(openssl.node, 'ok');
    sameAsNode(openssl, '--use-openssl-ca');
    const viaOptions = await child(exchangeAndNode(config, server.url), { env: { ...ROOT_IN_STORE, NODE_OPTIONS: '--use-openssl-ca' } });
    assert.equal(viaOptions.node, 'ok');
    sameAsNode(viaOptions, 'NODE_OPTIONS=--use-openssl-ca');
    // In SSL_CERT_DIR, under its subject hash (`openssl x509 -hash` of fixtures/tls/ca.pem), as
    // c_rehash names the files OpenSSL looks up.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-certs-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.copyFileSync(CA_FILE, path.join(dir, '3f0273db.0'));
    const inDir = await child(exchangeAndNode(config, server.url), { env: { SSL_CERT_FILE: '/dev/null', SSL_CERT_DIR: dir }, args: ['--use-openssl-ca'] });
    assert.equal(inDir.node, 'ok');
    sameAsNode(inDir, 'the root in SSL_CERT_DIR');
    // The OpenSSL store is all there is: the bundled roots are not trusted with it.
    const trust = await child("console.log(JSON.stringify(require('./trust.js').defaultTrust()))", { env: ROOT_IN_STORE, args: ['--use-openssl-ca'] });
    assert.deepEqual(trust.sources, ['openssl']);
    assert.equal(trust.certificates.length >= 1, true);
    assert.equal(trust.certificates.some((c) => tls.rootCertificates.includes(c)), false);
  });

  test('--use-system-ca and NODE_USE_SYSTEM_CA=1 on the lines that have them; ignored as Node ignores them elsewhere', OPTS, async (t) => {
    const { server, config } = await servers(t);
    if (hasFlag('--use-system-ca')) {
      const flagged = await child(exchangeAndNode(config, server.url), { env: ROOT_IN_STORE, args: ['--use-system-ca'] });
      assert.equal(flagged.node, 'ok');
      sameAsNode(flagged, '--use-system-ca');
    }
    const variable = await child(exchangeAndNode(config, server.url), { env: { ...ROOT_IN_STORE, NODE_USE_SYSTEM_CA: '1' } });
    assert.equal(variable.node === 'ok', hasUseSystemCaVariable, `NODE_USE_SYSTEM_CA=1 on ${process.version}`);
    sameAsNode(variable, 'NODE_USE_SYSTEM_CA=1');
  });

  test('tls.setDefaultCACertificates() where it exists: what it sets is what the next exchange trusts', OPTS, async (t) => {
    if (typeof tls.setDefaultCACertificates !== 'function') {
      t.skip(`no tls.setDefaultCACertificates on ${process.version}`);
      return;
    }
    const { server, config } = await servers(t);
    const before = "tls.setDefaultCACertificates([require('node:fs').readFileSync(" + JSON.stringify(CA_FILE) + ", 'utf8')]);";
    const set = await child(exchangeAndNode(config, server.url, { before }), { env: EMPTY_STORE });
    assert.equal(set.node, 'ok');
    sameAsNode(set, 'set to the private root');
    // Set back to the bundled roots alone, after an exchange that trusted the private root.
    const back = await child(exchangeAndNode(config, server.url, {
      before: `${before} await ours(); tls.setDefaultCACertificates(tls.getCACertificates('bundled'));`,
    }), { env: EMPTY_STORE });
    assert.notEqual(back.node, 'ok');
    sameAsNode(back, 'set back to the bundled roots');
    const sources = await child(`${before} console.log(JSON.stringify(require('./trust.js').defaultTrust().sources))`, { env: EMPTY_STORE });
    assert.deepEqual(sources, ['setDefaultCACertificates']);
  });

  test('the roots are parsed once per distinct set, at the first TLS handshake, shared by every client', OPTS, async (t) => {
    const { fake, config } = await servers(t);
    const script = `
      const { trustSetsParsed } = require('./binding.js');
      const civicSip = require('.');
      const tls = require('node:tls');
      const exchange = (c) => civicSip.newClient(c).exchangeCode('code').then(() => 'ok', (e) => e.message);
      (async () => {
        const counts = {};
        counts.atLoad = trustSetsParsed();
        counts.http = await exchange(${JSON.stringify(fake.clientConfig())});
        counts.afterHttp = trustSetsParsed();
        counts.https = await Promise.all([1, 2, 3].map(() => exchange(${JSON.stringify(config)})));
        counts.afterThree = trustSetsParsed();
        await exchange(${JSON.stringify(config)});
        counts.afterFour = trustSetsParsed();
        // A worker thread with the same certificates shares the parsed roots.
        const { Worker } = require('node:worker_threads');
        counts.worker = await new Promise((resolve) => {
          const worker = new Worker(\`require(process.cwd()).newClient(\${JSON.stringify(${JSON.stringify(config)})}).exchangeCode('code')
            .then(() => 'ok', (e) => e.message).then((r) => require('node:worker_threads').parentPort.postMessage(r))\`, { eval: true });
          worker.once('message', resolve);
        });
        counts.afterWorker = trustSetsParsed();
        if (typeof tls.setDefaultCACertificates === 'function') {
          tls.setDefaultCACertificates(tls.getCACertificates('bundled'));
          await exchange(${JSON.stringify(config)});
          counts.afterSet = trustSetsParsed();
        }
        console.log(JSON.stringify(counts));
      })();`;
    const counts = await child(script, { env: { ...EMPTY_STORE, NODE_EXTRA_CA_CERTS: CA_FILE } });
    assert.equal(counts.atLoad, 0);
    assert.equal(counts.http, 'ok');
    assert.equal(counts.afterHttp, 0, 'an exchange over HTTP parses no certificate');
    assert.deepEqual(counts.https, ['ok', 'ok', 'ok']);
    assert.equal(counts.afterThree, 1, 'three clients, one set, parsed once');
    assert.equal(counts.afterFour, 1);
    assert.equal(counts.worker, 'ok');
    assert.equal(counts.afterWorker, 1, 'a worker thread with the same set parses nothing');
    if (typeof tls.setDefaultCACertificates === 'function') assert.equal(counts.afterSet, 2, 'a new set, parsed once more');
  });
});

describe('A failure of the moment is not kept', () => {
  test('file descriptors exhausted at the first exchange: Node\'s EMFILE words, as civic-sip-api gives them; the next exchange works once they are free', OPTS, async (t) => {
    const fake = await fakeCivic(t);
    // Over HTTPS with the private root in NODE_EXTRA_CA_CERTS, which cannot be read while the
    // descriptors are exhausted: the roots read then must not be the ones kept.
    const tlsFake = await fakeCivic(t);
    const tlsServer = await httpServer(t, (req, res) => {
      req.resume();
      req.on('end', () => tlsFake.send(res, 200, civic.replyBody({ data: tlsFake.token(), userId: 'fake-user-id' })));
    }, { tls: tlsFixture('server'), readBody: false });
    const script = `
      const fs = require('node:fs');
      const civicSip = require('.');
      const { civicSipApi } = require('./__test__/helpers/civic');
      const config = ${JSON.stringify(fake.clientConfig())};
      const tlsConfig = ${JSON.stringify(tlsFake.clientConfig({ api: tlsServer.url }))};
      const outcome = (p) => p.then((value) => ({ value }), (e) => ({ message: e.message, code: e.code }));
      (async () => {
        const ours = civicSip.newClient(config);
        const oursTls = civicSip.newClient(tlsConfig);
        const reference = civicSipApi(config);
        const byName = { ...config, api: config.api.replace('127.0.0.1', 'localhost') };
        const oursByName = civicSip.newClient(byName);
        const referenceByName = civicSipApi(byName);
        const held = [];
        for (;;) {
          try { held.push(fs.openSync('/dev/null', 'r')); } catch { break; }
        }
        const exhausted = {
          ours: await outcome(ours.exchangeCode('code')),
          oursTls: await outcome(oursTls.exchangeCode('code')),
          reference: await outcome(reference.exchangeCode('code')),
          // The name cannot be looked up either (/etc/hosts cannot be opened).
          byName: await outcome(oursByName.exchangeCode('code')),
          referenceByName: await outcome(referenceByName.exchangeCode('code')),
        };
        for (const fd of held) fs.closeSync(fd);
        const freed = {
          ours: await outcome(ours.exchangeCode('code')),
          oursTls: await outcome(oursTls.exchangeCode('code')),
          fresh: await outcome(civicSip.newClient(config).exchangeCode('code')),
        };
        console.log(JSON.stringify({ exhausted, freed, held: held.length }));
      })();`;
    const result = await child(script, { ulimit: 64, env: { ...EMPTY_STORE, NODE_EXTRA_CA_CERTS: CA_FILE } });
    assert.ok(result.held > 0, 'descriptors were opened until none was left');
    const words = (port) => `${PREFIX}Error: connect EMFILE 127.0.0.1:${port} - Local (undefined:undefined)`;
    assert.equal(result.exhausted.reference.message, words(fake.port), 'civic-sip-api');
    assert.deepEqual(result.exhausted.ours, { message: words(fake.port), code: 'ERR_CIVIC_NETWORK' });
    assert.equal(result.exhausted.referenceByName.message, `${PREFIX}Error: getaddrinfo ENOTFOUND localhost`);
    assert.deepEqual(result.exhausted.byName, { message: result.exhausted.referenceByName.message, code: 'ERR_CIVIC_NETWORK' });
    assert.deepEqual(result.exhausted.oursTls, { message: words(tlsServer.port), code: 'ERR_CIVIC_NETWORK' });
    const user = { value: { data: records(DEFAULT_USER_DATA), userId: 'fake-user-id' } };
    assert.deepEqual(result.freed, { ours: user, oursTls: user, fresh: user });
  });
});
