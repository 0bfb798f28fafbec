'use strict';

// TLS as Node's https judges it: self-signed certificates, a private CA given as `ca` or in
// NODE_EXTRA_CA_CERTS, and wrong names, dates and issuers refused in Node's words.
//
// Every case runs against a real server on 127.0.0.1 (the emulator, a fake Civic or a server
// of its own) and checks the exact message, the `code` and, for HTTP errors, `statusCode`
// and `body`.
//
// Run: node --test __test__/tls.test.js

// Loopback servers only, never through a proxy the environment may name (proxy.test.js covers those).
require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const { TLS_DIR, CA_PEM, tlsFixture } = require('./helpers/servers');
const civic = require('./helpers/civic');
const {
  fakeCivic, httpServer, records, runNode,
} = require('./helpers/support');
const {
  PREFIX, assertCivicError, rejectsWith, settle,
} = require('./helpers/assertions');
const { verifyReason } = require('./helpers/node-line');

const OPTS = { timeout: 30000 };
const { codes } = civicSip;
// A private CA (CA_PEM) and a server certificate it issued for 127.0.0.1 (valid until 2126).
const SERVER_TLS = tlsFixture('server');

describe('TLS', () => {
  const civicHandler = (fake) => (req, res) => {
    req.resume();
    req.on('end', () => fake.send(res, 200, civic.replyBody({ data: fake.token(), userId: 'over-tls' })));
  };

  test('a self-signed certificate is refused by default; rejectUnauthorized: false accepts it', OPTS, async (t) => {
    const fake = await fakeCivic(t, { tls: true });
    const client = civicSip.newClient(fake.clientConfig());
    await rejectsWith(client.exchangeCode('code'), {
      message: `${PREFIX}Error: ${verifyReason('self-signed certificate')}`, code: codes.NETWORK,
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
      message: `${PREFIX}Error: ${verifyReason('unable to verify the first certificate')}`, code: codes.NETWORK,
    });
    for (const ca of [CA_PEM, Buffer.from(CA_PEM), [CA_PEM], [fs.readFileSync(path.join(TLS_DIR, 'server.pem')), Buffer.from(CA_PEM)]]) {
      assert.deepEqual(await civicSip.newClient({ ...config, ca }).exchangeCode('code'), { data: records(DEFAULT_USER_DATA), userId: 'over-tls' });
    }
    // `ca` replaces the roots, as Node's does: another CA alone does not vouch for this server.
    const selfSigned = require('./helpers/servers').TLS_CERT;
    await rejectsWith(civicSip.newClient({ ...config, ca: selfSigned }).exchangeCode('code'), {
      message: `${PREFIX}Error: ${verifyReason('unable to verify the first certificate')}`, code: codes.NETWORK,
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
      message: `${PREFIX}Error: ${verifyReason('unable to verify the first certificate')}`, code: codes.NETWORK,
    });
    // A file that cannot be read as PEM certificates is left out, as Node leaves it out (Node
    // warns about it when it starts): the private CA is then not trusted.
    for (const file of [path.join(TLS_DIR, 'missing.pem'), path.join(TLS_DIR, 'make-localhost.sh')]) {
      const unreadable = await runNode(script, { env: { NODE_EXTRA_CA_CERTS: file } });
      assert.deepEqual(JSON.parse(unreadable.stdout), {
        message: `${PREFIX}Error: ${verifyReason('unable to verify the first certificate')}`, code: codes.NETWORK,
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
    for (const [name, server, host, ca, reason] of cases) {
      const expected = verifyReason(reason);
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
